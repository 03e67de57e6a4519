"""A handler that claims an event and then fails must see the event again: the claim is rolled
back with the handler's transaction (on SQLite too, where pysqlite's SAVEPOINT handling used to
commit the claim on its own)."""

import eventlet
import pytest
from nameko.standalone.events import event_dispatcher

from services.common.db import Database
from services.common.entrypoints import event_handler
from services.common.events import Inbox
from services.notifications.models import processed_events

# also run on PostgreSQL (-m pg --db-backend postgres):
# savepoints behave differently on SQLite and PostgreSQL
pytestmark = pytest.mark.pg


def test_a_claim_is_undone_when_the_handler_fails(service_config, container_factory):
    cfg = dict(service_config)
    calls, done = [], []

    class Flaky:
        name = "flaky"
        db = Database("notifications")
        inbox = Inbox("notifications", processed_events)

        @event_handler("bank", "thing_happened", retry_delays=(0.2,))
        def on_thing(self, payload):
            if not self.inbox.claim(payload):
                return
            calls.append(payload["event_id"])
            if len(calls) == 1:
                raise RuntimeError("first try fails after claiming")
            done.append(payload["event_id"])

    container_factory(Flaky, cfg).start()
    event_dispatcher(cfg)("bank", "thing_happened", {"event_id": "e-1", "data": {}})
    with eventlet.Timeout(10):
        while not done:
            eventlet.sleep(0.05)
    assert calls == ["e-1", "e-1"] and done == ["e-1"]
