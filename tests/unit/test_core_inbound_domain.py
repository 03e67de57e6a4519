"""The rules of the core's accounts events (services/accounts/domain.py), to the cent, and the
schemas that refuse a malformed event."""

from collections import namedtuple
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from kombu.message import Message
from marshmallow import ValidationError

from services.accounts import domain
from services.accounts.schemas import CoreMovementSchema, DayClosedSchema, MemberUpsertedSchema
from services.common.inbound import envelope_problem, routing_problem, transport_problem

D = Decimal


def test_balance_that_adds_up_to_the_cent_is_accepted():
    assert domain.balance_problem(D("100.00"), D("0.00"), D("10.01"), D("110.01")) is None
    assert domain.balance_problem(D("100.00"), D("99.99"), D("0.00"), D("0.01")) is None


def test_balance_off_by_one_cent_is_refused_with_the_figures():
    assert domain.balance_problem(D("100.00"), D("0.00"), D("10.00"), D("110.01")) == (
        "El saldo no cuadra: saldo anterior 100.00 + crédito 10.00 − débito 0.00 ≠ 110.01"
    )


@pytest.mark.parametrize(
    ("last", "sequence", "decision"),
    [
        (0, 1, "apply"),
        (4, 5, "apply"),
        (4, 7, "hold"),
        (4, 6, "hold"),
        (4, 4, "past"),
        (4, 1, "past"),
    ],
)
def test_order_decision(last, sequence, decision):
    assert domain.order_decision(last, sequence) == decision


@pytest.mark.parametrize(
    ("day", "previous", "problem"),
    [
        (date(2026, 12, 7), date(2026, 12, 7), None),  # today, the same day as the previous
        (date(2026, 12, 7), None, None),  # an account's first movement
        (date(2026, 12, 8), date(2026, 12, 1), "es posterior a la fecha de negocio del core"),
        (date(2026, 11, 30), date(2026, 12, 1), "es anterior a la del movimiento anterior"),
    ],
)
def test_a_movement_date_is_between_its_predecessors_and_the_business_date(day, previous, problem):
    found = domain.movement_date_problem(day, previous, business_date=date(2026, 12, 7))
    assert found == problem or (problem is not None and found is not None and problem in found)


Stored = namedtuple("Stored", "reference date debit credit balance")


def test_same_movement_compares_what_the_member_sees():
    data = {
        "reference": "R1",
        "date": date(2026, 3, 2),
        "debit": D("0.00"),
        "credit": D("5.00"),
        "balance": D("5.00"),
    }
    assert domain.same_movement(
        Stored("R1", date(2026, 3, 2), D("0.00"), D("5.00"), D("5.00")), data
    )
    assert not domain.same_movement(
        Stored("R1", date(2026, 3, 2), D("0.00"), D("5.01"), D("5.01")), data
    )


Record = namedtuple("Record", "identification given_names surnames email phone status")


def test_member_changes_only_what_differs():
    current = Record("1710034065", "Lucía", "Andrade", "l@example.com", None, "activo")
    data = {
        "identification": "1710034065",
        "first_names": "Lucía",
        "last_names": "Andrade",
        "email": "nueva@example.com",
        "phone": None,
        "status": "inactivo",
    }
    assert domain.member_changes(current, data) == {
        "email": "nueva@example.com",
        "status": "inactivo",
    }
    assert len(domain.member_changes(None, data)) == 6  # a new member: everything


Account = namedtuple("Account", "last_seq day_seq day_balance")


def test_reconciliation_compares_the_account_at_the_close_of_the_cores_day():
    core = {"account_number": "4200501001", "balance": D("20.50"), "last_sequence": 3}
    assert domain.reconciliation_differences(Account(3, 3, D("20.50")), core) == []
    # movements of the next day that arrived already are no difference
    assert domain.reconciliation_differences(Account(5, 3, D("20.50")), core) == []
    assert domain.reconciliation_differences(Account(4, 4, D("20.49")), core) == [
        ("balance", "20.49", "20.50"),
        ("sequence_ahead", "4", "3"),
    ]
    assert domain.reconciliation_differences(Account(0, 0, None), core) == [
        ("balance", "0.00", "20.50"),
        ("sequence_behind", "0", "3"),
    ]
    assert domain.reconciliation_differences(None, core) == [("unknown_account", None, "20.50")]


def test_a_close_waits_only_for_accounts_behind_it_and_only_while_it_is_recent():
    core = [
        {"account_number": "A", "balance": D("1.00"), "last_sequence": 3},
        {"account_number": "B", "balance": D("1.00"), "last_sequence": 3},
    ]
    portal = {"A": Account(3, 3, D("1.00")), "B": Account(2, 2, D("0.50"))}
    assert domain.movements_in_flight(portal, core) == ["B"]
    now = datetime(2026, 12, 1, 2, 0, 10, tzinfo=UTC)
    assert domain.recently("2026-12-01T02:00:05Z", now, 10)
    assert not domain.recently("2026-12-01T01:59:59Z", now, 10)
    assert not domain.recently("not a date", now, 10)


MOVEMENT = {
    "account_number": "4200501001",
    "sequence": 1,
    "date": "2026-03-02",
    "posted_at": "2026-03-02T15:00:00Z",
    "description": "Depósito",
    "reference": "R1",
    "debit": "0.00",
    "credit": "10.00",
    "balance": "10.00",
}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"credit": "10.001"}, "credit", "Use como máximo dos decimales."),
        ({"credit": "-10.00"}, "credit", "El monto no puede ser negativo."),
        ({"debit": "1.00"}, "debit", "Exactamente uno de débito o crédito"),
        ({"sequence": "1"}, "sequence", "Debe ser un número entero."),
        ({"sequence": 0}, "sequence", "mayor o igual a 1"),
        ({"reference": None}, "reference", "no puede estar vacío"),
    ],
)
def test_malformed_movement_is_refused_by_its_schema(change, field, message):
    with pytest.raises(ValidationError) as refused:
        CoreMovementSchema().load({**MOVEMENT, **change})
    assert message in " ".join(refused.value.messages[field])


def test_extra_fields_of_the_core_are_welcome():
    loaded = CoreMovementSchema().load({**MOVEMENT, "branch": "Matriz"})
    assert loaded["credit"] == D("10.00") and "branch" not in loaded


def test_member_status_must_be_known():
    with pytest.raises(ValidationError) as refused:
        MemberUpsertedSchema().load(
            {
                "member_number": "1",
                "identification": "1710034065",
                "first_names": "A",
                "last_names": "B",
                "email": "a@example.com",
                "status": "suspendido",
            }
        )
    assert "status" in refused.value.messages


def test_day_closed_chunks_of_at_most_1000_accounts():
    account = {"account_number": "1", "balance": "1.00", "last_sequence": 1}
    base = {"business_date": "2026-03-02", "chunk": 1, "chunks": 1}
    assert len(DayClosedSchema().load({**base, "accounts": [account] * 1000})["accounts"]) == 1000
    with pytest.raises(ValidationError):
        DayClosedSchema().load({**base, "accounts": [account] * 1001})
    with pytest.raises(ValidationError):
        DayClosedSchema().load({**base, "chunk": 2, "accounts": []})


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "no es un objeto"),
        ({"event_type": "x", "data": {}}, "Faltan campos del sobre: event_id"),
        ({"event_id": "e", "event_type": "movement_posted", "data": []}, "data debe ser un objeto"),
        ({"event_id": "e", "event_type": "otro", "data": {}}, "no esperado"),
    ],
)
def test_envelope_problems(body, problem):
    assert problem in envelope_problem(body, ("movement_posted",))


def delivered(body=b"{}", content_type=None, exchange="core.events", key="movement_posted"):
    """A message as kombu hands it to the consumer."""
    return Message(
        body=body,
        content_type=content_type,
        delivery_info={"exchange": exchange, "routing_key": key},
    )


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (delivered(content_type=None), None),  # no content type: read as JSON
        (delivered(content_type="application/json"), None),
        (delivered(content_type="application/json; charset=utf-8"), None),
        (delivered(content_type="text/plain"), "Tipo de contenido no admitido: text/plain"),
        (delivered(content_type="application/data"), "Tipo de contenido no admitido"),
        (delivered(b"x" * 65536, content_type="application/json"), None),
        (delivered(b"x" * 65537, content_type="application/json"), "El mensaje mide 65537 bytes"),
    ],
)
def test_only_json_of_at_most_64_kib_is_read(message, problem):
    found = transport_problem(message)
    assert found is problem is None or (problem is not None and problem in found)


@pytest.mark.parametrize(
    ("exchange", "key", "refused"),
    [
        ("core.events", "movement_posted", False),
        ("core.events", "account_closed", True),
        ("", "core.accounts", False),  # back from its retry queue: checked when it arrived
    ],
)
def test_the_routing_key_is_the_event_type(exchange, key, refused):
    event = {"event_id": "e", "event_type": "movement_posted", "data": {}}
    problem = routing_problem(event, delivered(exchange=exchange, key=key))
    assert (problem is not None) is refused
