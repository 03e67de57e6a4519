"""The demo cooperative as `make run` loads it: every service's part, the full census, twice."""

import importlib

from services.common.config import DB_SERVICES


def test_full_demo_loads_in_every_service_and_a_second_run_adds_nothing(make_db, today):
    urls = {service: make_db(service, backend="sqlite") for service in DB_SERVICES}
    loaded = {}
    for service, url in urls.items():
        try:
            module = importlib.import_module(f"services.{service}.demo")
        except ModuleNotFoundError:
            continue
        loaded[service] = module.load(url, today)  # the default ~2 000 generated members
        assert module.load(url, today) == 0, f"{service}: the second load added data"
    assert loaded["accounts"] > 2000
    assert loaded["auth"] == 3  # maria, jose, luis
    assert loaded["credit"] > 100 and loaded["deposit"] > 100
