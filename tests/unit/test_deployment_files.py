"""docker-compose.yml cannot be started here (no Docker engine): keep it consistent by test."""

import importlib

import yaml

from scripts.run_service import SERVICE_CLASSES
from services.common.config import DB_SERVICES, PROJECT_ROOT


def compose():
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())


def test_every_service_and_the_gateway_is_a_container_of_the_one_image():
    services = compose()["services"]
    for name in SERVICE_CLASSES:
        assert services[name]["command"] == ["scripts.run_service", name]
        assert services[name]["image"] == "portal-en-linea:latest"
        assert "healthcheck" in services[name]


def test_postgresql_is_every_containers_database():
    # no container falls back to the SQLite files of the embedded default
    services = compose()["services"]
    for name in [*SERVICE_CLASSES, "migrate"]:
        env = services[name]["environment"]
        for service in DB_SERVICES:
            assert env[f"{service.upper()}_DATABASE_URL"].startswith("postgresql://"), name
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_the_broker_is_a_three_node_cluster_every_process_can_fail_over_in():
    services = compose()["services"]
    nodes = ["rabbit1", "rabbit2", "rabbit3"]
    assert "rabbitmq" not in services  # no single broker left beside the cluster
    cookies = set()
    for node in nodes:
        rabbit = services[node]
        assert rabbit["image"].startswith("rabbitmq:") and rabbit["image"].endswith("-management")
        assert rabbit["hostname"] == node  # the node is rabbit@<hostname>
        assert "rabbitmq-diagnostics" in " ".join(rabbit["healthcheck"]["test"])
        assert any(v.startswith("./docker/rabbitmq.conf:") for v in rabbit["volumes"])
        cookies.add(rabbit["environment"]["RABBITMQ_ERLANG_COOKIE"])
    assert len(cookies) == 1  # one Erlang cookie: the nodes may talk to each other
    conf = (PROJECT_ROOT / "docker" / "rabbitmq.conf").read_text()
    assert "cluster_formation.peer_discovery_backend = classic_config" in conf
    for i, node in enumerate(nodes, 1):
        assert f"cluster_formation.classic_config.nodes.{i} = rabbit@{node}" in conf
    expected = ";".join(f"amqp://guest:guest@{node}:5672//" for node in nodes)
    for name in SERVICE_CLASSES:
        assert services[name]["environment"]["AMQP_URI"] == expected, name
        assert set(nodes) <= set(services[name]["depends_on"]), name


def test_every_database_service_has_its_own_postgres_database():
    env = compose()["services"]["accounts"]["environment"]
    init = (PROJECT_ROOT / "docker" / "postgres-init.sql").read_text()
    for name in DB_SERVICES:
        url = env[f"{name.upper()}_DATABASE_URL"]
        assert url.endswith(f"/portal_{name}")
        assert f"CREATE DATABASE portal_{name} " in init


def test_service_classes_import_and_are_named_as_their_queues():
    for name, target in SERVICE_CLASSES.items():
        module, cls = target.split(":")
        assert getattr(importlib.import_module(module), cls).name == name


def test_procfile_runs_every_process():
    lines = (PROJECT_ROOT / "Procfile").read_text().split("\n")
    names = {line.split(":")[0] for line in lines if line.strip()}
    assert names == set(SERVICE_CLASSES)
