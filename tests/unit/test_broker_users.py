"""The broker users of the embedded default (scripts/broker_users.py), the TLS options of an
`amqps://` AMQP_URI, and who the core consumers believe (docs/operations.md, "Broker users and
permissions")."""

import io
import re
import ssl
import stat

import yaml
from kombu import Connection
from kombu.message import Message

from scripts import broker_users
from services.common import config
from services.common.amqp import ssl_options, vhost_of, with_credentials
from services.common.inbound import sender_is_core
from services.common.ordering import RELAY_HEADER


def allowed(pattern, name):
    return re.fullmatch(pattern, name) is not None


def test_no_portal_process_may_write_to_core_events_and_the_core_only_there():
    for name in broker_users.PROCESSES:
        configure, write, read = broker_users.service_permissions(name)
        assert not allowed(write, "core.events")
        assert allowed(read, "core.events") and allowed(configure, "core.events")  # binds its queue
        assert allowed(write, f"{name}.events") and allowed(write, "nameko-rpc")
        assert allowed(write, f"core.{name}.retry") and allowed(read, f"core.{name}")
        other = "audit" if name != "audit" else "auth"
        assert not allowed(write, f"{other}.events") and not allowed(read, f"core.{other}")
        assert not allowed(read, broker_users.CORE_REQUESTS_QUEUE)
    configure, write, read = broker_users.core_permissions()
    assert allowed(write, "core.events")
    for name in (
        "nameko-rpc",
        "accounts.events",
        "amq.default",
        "portal.requests",
        "core.accounts",
    ):
        assert not allowed(write, name)
    assert allowed(read, "portal.requests.core") and not allowed(read, "core.accounts")


def test_only_payments_may_send_requests_to_the_core():
    senders = [
        name
        for name in broker_users.PROCESSES
        if allowed(broker_users.service_permissions(name)[1], "portal.requests")
    ]
    assert senders == ["payments"]


def test_passwords_are_made_once_readable_only_by_their_owner(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("CORE_AMQP_PASSWORD")
    monkeypatch.setenv("CORE_AMQP_USER", "core")
    core = broker_users.password("core")
    accounts = broker_users.password("portal-accounts")
    assert core != accounts and len(core) >= 24
    for path in (tmp_path / "core_amqp_password", tmp_path / "amqp" / "portal-accounts.password"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert broker_users.password("core") == core  # the same at every make run
    assert config.core_amqp_uri("amqp://guest:guest@localhost:5672/") == (
        f"amqp://core:{core}@localhost:5672/"
    )
    monkeypatch.setenv("CORE_AMQP_PASSWORD", "dada-por-el-operador")
    assert broker_users.password("core") == "dada-por-el-operador"


def test_each_process_gets_its_own_uri_once_its_password_exists(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_VAR_DIR", str(tmp_path))
    base = "amqp://guest:guest@mq1:5672/portal;amqp://guest:guest@mq2:5672/portal"
    assert broker_users.process_uri("accounts", base) == base  # before make run made users
    secret = broker_users.password("portal-accounts")
    uri = broker_users.process_uri("accounts", base)
    assert uri.split(";")[1] == f"amqp://portal-accounts:{secret}@mq2:5672/portal"
    assert vhost_of(uri) == "portal"
    monkeypatch.setenv("AMQP_SERVICE_USERS", "off")
    assert broker_users.process_uri("accounts", base) == base


def test_the_rabbitmqctl_commands_set_the_same_table(monkeypatch):
    monkeypatch.setenv("CORE_AMQP_USER", "core")
    lines = broker_users.rabbitmqctl_commands("portal")
    assert 'rabbitmqctl add_user core "$CORE_PASSWORD"' in lines
    core = [
        line for line in lines if line.startswith("rabbitmqctl set_permissions -p portal core ")
    ]
    assert core and all(part in core[0] for part in ("core\\.events", "portal\\.requests\\.core"))
    # the gateway and the eight services (payments since issue 23)
    assert sum(line.startswith("rabbitmqctl add_user portal-") for line in lines) == 9
    assert not any("guest" in line for line in lines)


def test_an_amqps_uri_checks_the_brokers_certificate_with_the_given_files(monkeypatch):
    assert ssl_options("amqp://guest:guest@localhost:5672/") is None
    monkeypatch.setenv("AMQP_CA_CERTS", "/etc/portal/ca.pem")
    monkeypatch.setenv("AMQP_CERTFILE", "/etc/portal/accounts.pem")
    monkeypatch.setenv("AMQP_KEYFILE", "/etc/portal/accounts.key")
    uri = "amqps://portal-accounts:s3cr3t@mq1:5671/portal;amqps://portal-accounts:s3cr3t@mq2:5671/portal"
    monkeypatch.setenv("AMQP_URI", uri)
    options = config.nameko_config("accounts")["AMQP_SSL"]
    assert options == {
        "cert_reqs": ssl.CERT_REQUIRED,
        "ca_certs": "/etc/portal/ca.pem",
        "certfile": "/etc/portal/accounts.pem",
        "keyfile": "/etc/portal/accounts.key",
    }
    connection = Connection(uri, ssl=options)
    assert connection.transport.__class__.__name__ == "SSLTransport"
    assert connection.ssl == options and connection.port == 5671
    assert with_credentials(uri, "core", "x").startswith("amqps://core:x@mq1:5671/portal;")


def message(user_id=None, headers=None):
    properties = {"user_id": user_id} if user_id else {}
    return Message(body=b"{}", properties=properties, headers=headers or {})


def test_only_the_cores_user_or_the_services_own_copy_of_a_core_event_is_believed():
    assert sender_is_core(message("core"), "core", "portal-accounts")
    assert not sender_is_core(message(), "core", "portal-accounts")
    assert not sender_is_core(message("guest"), "core", "portal-accounts")
    relayed = {RELAY_HEADER: "core"}
    assert sender_is_core(message("portal-accounts", relayed), "core", "portal-accounts")
    # the header alone proves nothing: the broker vouches only for user_id
    assert not sender_is_core(message("guest", relayed), "core", "portal-accounts")
    assert not sender_is_core(message(None, relayed), "core", "portal-accounts")


def test_every_process_connects_as_its_own_user_when_its_password_is_given(monkeypatch):
    monkeypatch.setenv(
        "AMQP_URI", "amqp://guest:guest@rabbit1:5672//;amqp://guest:guest@rabbit2:5672//"
    )
    assert config.nameko_config("accounts")["AMQP_URI"] == config.amqp_uri()
    monkeypatch.setenv("ACCOUNTS_AMQP_PASSWORD", "s3cr3t/+")
    uri = config.nameko_config("accounts")["AMQP_URI"]
    assert uri.split(";") == [
        "amqp://portal-accounts:s3cr3t%2F%2B@rabbit1:5672//",
        "amqp://portal-accounts:s3cr3t%2F%2B@rabbit2:5672//",
    ]
    assert Connection(uri).userid == "portal-accounts" and Connection(uri).password == "s3cr3t/+"
    assert config.nameko_config("credit")["AMQP_URI"] == config.amqp_uri()  # not its password


def test_deploying_names_every_missing_password_and_makes_none_up(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTAL_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("ACCOUNTS_AMQP_PASSWORD", "x")
    out = io.StringIO()
    assert broker_users.deploy("amqp://guest:guest@rabbit1:5672/portal", out) == 2
    said = out.getvalue()
    assert "GATEWAY_AMQP_PASSWORD" in said and "ACCOUNTS_AMQP_PASSWORD" not in said
    assert not (tmp_path / "amqp").exists()


def test_docker_compose_and_kubernetes_set_the_same_users():
    compose = yaml.safe_load((config.PROJECT_ROOT / "docker-compose.yml").read_text())["services"]
    assert compose["broker-users"]["command"] == ["scripts.portal", "broker-users"]
    assert compose["broker-users"]["environment"]["CORE_AMQP_PASSWORD"]
    for name in broker_users.PROCESSES:
        assert compose[name]["environment"][f"{name.upper()}_AMQP_PASSWORD"], name
        assert compose[name]["depends_on"]["broker-users"] == {
            "condition": "service_completed_successfully"
        }
        assert "CORE_AMQP_PASSWORD" not in compose[name]["environment"], name
    kubernetes = config.PROJECT_ROOT / "deploy" / "kubernetes"
    job = yaml.safe_load((kubernetes / "base" / "migrate-job.yaml").read_text())
    (first,) = job["spec"]["template"]["spec"]["initContainers"]
    assert first["args"] == ["scripts.portal", "broker-users"]
    example = (kubernetes / "overlays" / "production" / "credentials.env.example").read_text()
    variables = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line}
    assert {f"{name.upper()}_AMQP_PASSWORD" for name in broker_users.PROCESSES} <= variables
    assert "RABBIT_API_URI" in variables and "CORE_AMQP_PASSWORD" not in variables


def test_a_queue_migration_keeps_who_sent_a_core_event_in_the_relay_header():
    from amqp.basic_message import Message as AmqpMessage

    from scripts.queues import _keep_sender

    moved = AmqpMessage(b"{}", user_id="core", application_headers={"x-portal-attempts": 1})
    _keep_sender(moved, "portal-accounts")
    assert moved.properties["user_id"] == "portal-accounts"  # the broker accepts only its own
    assert moved.properties["application_headers"][RELAY_HEADER] == "core"
    untouched = AmqpMessage(b"{}", user_id="portal-accounts")
    _keep_sender(untouched, "portal-accounts")
    assert RELAY_HEADER not in untouched.properties.get("application_headers", {})
