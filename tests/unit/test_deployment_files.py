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
