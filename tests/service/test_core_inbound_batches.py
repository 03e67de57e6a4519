"""The batching core_events entrypoint itself (services/common/inbound.py), on the real broker:
a batch that fails as a whole is applied again one event at a time, none lost or doubled."""

import logging

import pytest

from services.common.inbound import CoreBatch, Refused, core_events
from tests.service.core_tools import core_event, parked, publish_core
from tests.service.event_tools import wait_until

APPLIED = []


class Probe:
    """Applies events one at a time; a batch holding a "boom" event fails unexpectedly."""

    name = "probe"

    @core_events("probe", ["thing"], batch=50)
    def on_core_event(self, event):
        if isinstance(event, CoreBatch):
            if any(e["data"].get("boom") for e in event.events):
                raise RuntimeError("the batch path failed")
            APPLIED.extend(e["data"]["n"] for e in event.events)
            return
        if event["data"].get("wrong"):
            raise Refused("El dato n es incorrecto.")
        APPLIED.append(event["data"]["n"])


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_a_batch_that_fails_as_a_whole_is_applied_one_by_one(
    service_config, container_factory, caplog
):
    uri = service_config["AMQP_URI"]
    first = container_factory(Probe, service_config)
    first.start()  # declares core.probe and its bindings
    first.stop()
    APPLIED.clear()
    wrong = core_event("thing", {"n": 3, "wrong": True})
    publish_core(
        uri,
        core_event("thing", {"n": 1}),
        core_event("thing", {"n": 2, "boom": True}),
        wrong,
        core_event("thing", {"n": 4}),
    )
    caplog.set_level(logging.WARNING, logger="services.common.inbound")
    container_factory(Probe, service_config).start()
    dead = wait_until(lambda: parked(uri, "probe"), message="the wrong one parked")
    wait_until(lambda: len(APPLIED) == 3, message="the others applied one by one")
    assert APPLIED == [1, 2, 4]
    assert len(dead) == 1 and wrong["event_id"] in dead[0][1]
    assert dead[0][0]["x-portal-refusal"] == "El dato n es incorrecto."
    assert [r for r in caplog.records if "one by one" in r.getMessage()]
