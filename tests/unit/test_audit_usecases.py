"""audit's use cases without a broker: the log in an in-memory database, an anchor file, a key."""

import threading
import uuid
from datetime import datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import StaticPool

from services.audit import store, usecases
from services.audit.models import Base, ChainHead
from tests.unit.fakes import clock_at

KEY = b"k" * 32
CLOCK = clock_at(datetime(2026, 7, 10, 12, 0))


@pytest.fixture
def chain(tmp_path):
    engine = create_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:  # the head row the first migration writes, not yet sealed
        conn.execute(ChainHead.__table__.insert().values(id=1, seq=0, hash="0" * 64))
    yield usecases.Chain(engine, KEY, tmp_path / "anchors.txt", threading.Lock())
    engine.dispose()


def envelope(member="100234"):
    return {
        "event_id": str(uuid.uuid4()),
        "source": "auth",
        "event_type": "login_succeeded",
        "occurred_at": "2026-07-10T17:00:00Z",
        "data": {"username": "maria", "member_number": member},
    }


def recorded(chain):
    with chain.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM audit_log")).scalar()


def anchor_lines(chain):
    return chain.anchor_file.read_text(encoding="utf-8").splitlines()


def test_a_new_log_is_sealed_and_anchored_at_its_first_event(chain):
    entry = usecases.record(chain, CLOCK, envelope())
    assert (entry.seq, entry.member_number) == (1, "100234")
    assert len(anchor_lines(chain)) == 1  # the head it sealed (seq 0) is outside the database


def test_a_head_moved_without_the_key_stops_the_log_and_anchors_nothing(chain):
    usecases.record(chain, CLOCK, envelope())
    with chain.engine.begin() as conn:
        conn.execute(text("UPDATE chain_head SET seq = 7, seal = :forged"), {"forged": "0" * 64})
    with pytest.raises(store.SealBroken):
        usecases.record(chain, CLOCK, envelope())  # back to its retry queue, not appended
    usecases.anchor_quietly(chain, CLOCK, "on its timer")
    assert recorded(chain) == 1
    assert len(anchor_lines(chain)) == 1


def test_a_head_that_lost_its_seal_after_an_anchor_is_a_forgery_not_an_old_log(chain):
    usecases.record(chain, CLOCK, envelope())
    with chain.engine.begin() as conn:
        conn.execute(text("UPDATE chain_head SET seal = NULL"))
    with pytest.raises(store.SealBroken):
        usecases.record(chain, CLOCK, envelope())
    assert recorded(chain) == 1
