"""The probe the container platforms run (docker compose healthcheck, Kubernetes readiness)."""

import pytest

from scripts import healthcheck
from services.accounts.service import AccountsService


@pytest.fixture
def probe_env(service_config, monkeypatch):
    monkeypatch.setenv("AMQP_URI", service_config["AMQP_URI"])
    monkeypatch.setenv("ACCOUNTS_DATABASE_URL", service_config["ACCOUNTS_DATABASE_URL"])
    monkeypatch.setenv("SERVICE_NAME", "accounts")


def exit_code(argv):
    with pytest.raises(SystemExit) as ended:
        healthcheck.main(argv)
    return ended.value.code


def test_ready_when_the_service_answers_and_its_database_opens(
    probe_env, service_config, container_factory
):
    container_factory(AccountsService, service_config).start()
    assert exit_code(["--database"]) == 0


def test_not_ready_without_its_database_and_says_why(
    probe_env, service_config, container_factory, monkeypatch, tmp_path, capsys
):
    container_factory(AccountsService, service_config).start()
    monkeypatch.setenv("ACCOUNTS_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert exit_code(["--database"]) == 1
    assert "accounts: OperationalError" in capsys.readouterr().err
    assert exit_code([]) == 0  # the broker check alone still passes: liveness is not readiness


def test_not_ready_when_no_instance_of_the_service_answers(probe_env, capsys):
    assert exit_code([]) == 1
    assert "accounts:" in capsys.readouterr().err
