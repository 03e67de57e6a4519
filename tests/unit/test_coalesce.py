"""Members' concurrent asks of a position section go together (gateway/coalesce.py): each member
gets their own answer, from a call that started after they asked."""

import eventlet
import pytest
from eventlet.event import Event

from gateway.coalesce import Coalescer
from services.common.errors import NotFound, ServiceUnavailable


class Section:
    """A service's batch operation: answers each member under their number, records the
    calls, and holds its first call until `release()` (so that others arrive meanwhile)."""

    def __init__(self, fail_first=None, leave_out=()):
        self.calls = []
        self.gate = Event()
        self.fail_first = fail_first
        self.leave_out = leave_out

    def release(self):
        self.gate.send()

    def __call__(self, keys):
        self.calls.append(list(keys))
        if len(self.calls) == 1:
            self.gate.wait()
            if self.fail_first:
                raise self.fail_first
        return {key: f"cuentas de {key}" for key in keys if key not in self.leave_out}


def coalescer(limit=32):
    return Coalescer("accounts", limit, eventlet.spawn_n)


def test_asks_made_during_a_call_go_together_in_the_next_each_with_its_own_answer():
    section, asks = Section(), coalescer()
    maria = asks.ask("100234", section, 5)
    eventlet.sleep(0)  # maria's call is under way, alone
    jose, ana = asks.ask("100517", section, 5), asks.ask("100777", section, 5)
    maria_again = asks.ask("100234", section, 5)  # a later ask: a later read
    section.release()
    assert [a.result() for a in (maria, jose, ana, maria_again)] == [
        "cuentas de 100234",
        "cuentas de 100517",
        "cuentas de 100777",
        "cuentas de 100234",
    ]
    assert section.calls == [["100234"], ["100517", "100777", "100234"]]


def test_a_failed_call_fails_each_of_its_asks_and_the_next_call_goes_on():
    down = ServiceUnavailable("El servicio accounts no está disponible.", service="accounts")
    section, asks = Section(fail_first=down), coalescer()
    maria = asks.ask("100234", section, 5)
    eventlet.sleep(0)
    jose = asks.ask("100517", section, 5)
    section.release()
    with pytest.raises(ServiceUnavailable):
        maria.result()
    assert jose.result() == "cuentas de 100517"


def test_a_member_the_answer_leaves_out_is_not_found_and_the_others_are_answered():
    section, asks = Section(leave_out=("999999",)), coalescer()
    section.release()
    unknown, maria = asks.ask("999999", section, 5), asks.ask("100234", section, 5)
    with pytest.raises(NotFound):
        unknown.result()
    assert maria.result() == "cuentas de 100234"
    assert section.calls == [["999999", "100234"]]


def test_a_call_names_at_most_the_limit_of_members():
    section, asks = Section(), coalescer(limit=2)
    first = asks.ask("1", section, 5)
    eventlet.sleep(0)
    others = [asks.ask(str(n), section, 5) for n in range(2, 7)]
    section.release()
    assert [a.result() for a in (first, *others)] == [f"cuentas de {n}" for n in range(1, 7)]
    assert section.calls == [["1"], ["2", "3"], ["4", "5"], ["6"]]


def test_an_ask_past_its_deadline_gives_up_and_is_never_sent():
    section, asks = Section(), coalescer()
    maria = asks.ask("100234", section, 5)
    eventlet.sleep(0)
    late = asks.ask("100517", section, 0.05)
    with pytest.raises(ServiceUnavailable, match="no respondió a tiempo"):
        late.result()
    section.release()
    assert maria.result() == "cuentas de 100234"
    eventlet.sleep(0)
    assert section.calls == [["100234"]]


class OwnCall:
    """A member's own one-member call, started by the asking request (a Pending)."""

    def __init__(self, answer):
        self.answer, self.gate = answer, Event()

    def result(self):
        self.gate.wait()
        return self.answer


def test_a_member_alone_is_asked_through_the_own_call_and_those_meanwhile_go_together_next():
    section, asks = Section(), coalescer()
    section.release()
    own = {}

    def alone(key):
        own[key] = OwnCall(f"solo {key}")
        return own[key]

    maria = asks.ask("100234", section, 5, alone=alone)
    assert list(own) == ["100234"] and section.calls == []  # sent at once, by the asker
    jose = asks.ask("100517", section, 5, alone=alone)
    ana = asks.ask("100777", section, 5, alone=alone)
    assert list(own) == ["100234"]  # a call is under way: these wait for the next
    own["100234"].gate.send()
    assert maria.result() == "solo 100234"
    assert (jose.result(), ana.result()) == ("cuentas de 100517", "cuentas de 100777")
    assert section.calls == [["100517", "100777"]]


def test_a_member_alone_whose_own_call_fails_gets_its_error_and_the_others_go_on():
    section, asks = Section(), coalescer()
    section.release()

    class Down(OwnCall):
        def result(self):
            self.gate.wait()
            raise ServiceUnavailable("El servicio accounts no está disponible.", service="x")

    down = Down(None)
    maria = asks.ask("100234", section, 5, alone=lambda key: down)
    jose = asks.ask("100517", section, 5, alone=lambda key: OwnCall("solo"))
    down.gate.send()
    with pytest.raises(ServiceUnavailable):
        maria.result()
    assert jose.result() == "cuentas de 100517"
    own = OwnCall("solo de nuevo")
    later = asks.ask("100234", section, 5, alone=lambda key: own)
    own.gate.send()
    assert later.result() == "solo de nuevo"  # idle again: alone, at once


def test_while_members_keep_coming_an_ask_that_finds_no_call_starts_a_shared_one():
    section, asks = Section(), coalescer()
    solo = OwnCall("solo")
    first = asks.ask("1", section, 5, alone=lambda key: solo)
    rush = [asks.ask(str(n), section, 5, alone=lambda key: OwnCall("x")) for n in (2, 3)]
    section.release()
    solo.gate.send()
    assert [a.result() for a in (first, *rush)] == ["solo", "cuentas de 2", "cuentas de 3"]
    eventlet.sleep(0)
    nobody_waits = asks.ask("4", section, 5, alone=lambda key: OwnCall("x"))
    assert nobody_waits.result() == "cuentas de 4"  # the last call named two: shared
    quiet = OwnCall("solo otra vez")
    again = asks.ask("5", section, 5, alone=lambda key: quiet)
    quiet.gate.send()
    assert again.result() == "solo otra vez"  # the last call named one: alone again
    assert section.calls == [["2", "3"], ["4"]]
