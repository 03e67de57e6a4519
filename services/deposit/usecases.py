"""deposit's use cases: the rate chart, the simulation, the members' deposits, and the core's
deposit events (docs/integration.md).

The application layer between the nameko entrypoints (`service.py`) and the pure rules
(`domain.py`): each use case takes the unit of work (the worker's session), the outbox and the
clock it needs as arguments, reads and writes through `store.py` and answers its contract. The
core's events are applied through `HANDLERS`, the table that also binds the queue.

A core event's handler runs inside the consumer's transaction (change, inbox claim and the
portal's own outgoing events commit together). `Refused`: the event can never apply; it is parked
at once with the reason. `NotYet`: it names a deposit or a member the portal may not know yet
(its event is still on its way): tried again a few times, then parked with the reason.
"""

from collections.abc import Sequence
from datetime import date
from typing import Any, cast

from marshmallow import ValidationError as MarshmallowValidationError
from sqlalchemy import Column, select
from sqlalchemy.orm import Session

from services.common import inbound
from services.common.clock import Clock
from services.common.errors import NotFound, ValidationError
from services.common.handlers import HandlerTable
from services.common.inbound import KIND_CONFLICT, CoreEvent, NotYet, Refused, load_data, lock_owner
from services.common.ports import Outbox
from services.common.schemas import flatten, load_or_raise, member_batch
from services.deposit import domain, store
from services.deposit.contracts import (
    ConfigureRatesSchema,
    DepositClosedEventSchema,
    DepositOpenedEventSchema,
    DepositPositionSchema,
    DepositSchema,
    DepositSimulationRequestSchema,
    ProjectionSchema,
    RatesConfiguredEventSchema,
    RatesSchema,
)
from services.deposit.models import RateChart, TermDeposit, held_events, processed_events
from services.deposit.schemas import DepositClosedSchema, DepositOpenedSchema

NO_CHART = "No hay una tabla de tasas vigente."
CLOSED = "cerrado"
DEPOSIT_LINES = DepositPositionSchema(many=True)  # built once: asked on every position view
# the claims of the core events (the name the Inbox gave them: earlier claims still count)
CORE_CONSUMER = "deposit.on_core_event"

Answer = dict[str, Any]


# --- the rate chart and the simulation ----------------------------------------------------


def projection_dict(projection: domain.Projection) -> Answer:
    data = vars(projection).copy()
    data["interest_payment_name"] = projection.interest_payment_name
    result: Answer = ProjectionSchema().dump(data)
    return result


def rates(session: Session, clock: Clock, as_of: str | None = None) -> Answer:
    """The rate chart in force today, Ecuador's (or on the date `as_of`, a question about
    another day's chart: never a stand-in for the clock)."""
    day = date.fromisoformat(as_of) if as_of else clock.today()
    chart = store.chart_in_force(session, day)
    if chart is None:
        raise ValidationError(NO_CHART, fields={"as_of": [NO_CHART]})
    result: Answer = RatesSchema().dump(vars(chart))
    return result


def simulate(
    session: Session,
    clock: Clock,
    amount: object = None,
    term_days: object = None,
    interest_payment: object = None,
    start_date: object = None,
) -> Answer:
    """A presumptive deposit at the chart in force on its start date; nothing is stored."""
    given = {
        "amount": amount,
        "term_days": term_days,
        "interest_payment": interest_payment,
        # a blank form field means "today"; any other value is read (and {} or 0 refused)
        "start_date": None if start_date == "" else start_date,
    }
    payload = {k: v for k, v in given.items() if v is not None}
    today = clock.today()
    try:
        data = DepositSimulationRequestSchema().load(payload)
        refused = {}
    except MarshmallowValidationError as exc:
        # report the limits of the fields that did read, beside the unreadable ones
        data, refused = exc.valid_data or {}, flatten(exc.messages)
    start = data.get("start_date") or today
    chart = store.chart_in_force(session, max(start, today))
    errors = domain.simulation_errors(
        data.get("amount"), data.get("term_days"), start, today, chart
    )
    if refused or errors:
        raise ValidationError(fields={**errors, **refused})
    # simulation_errors refuses a request without a chart or a band for it
    assert chart is not None
    rate = chart.rate_for(data["term_days"], data["amount"])
    assert rate is not None
    projection = domain.project(
        data["amount"],
        rate,
        data["term_days"],
        start,
        data["interest_payment"],
        chart.withholding_rate,
    )
    return projection_dict(projection)


def configure_rates(session: Session, outbox: Outbox, chart: object) -> Answer:
    """Add a version of the rate chart (administration; not exposed by the gateway).

    It applies to simulations and deposits opened from its `valid_from` on; deposits already
    opened keep the rate they were opened at. Emits `deposit.rates_configured`.
    """
    data = load_or_raise(ConfigureRatesSchema(), chart if isinstance(chart, dict) else {})
    new_chart = domain.RateChart(
        valid_from=data["valid_from"],
        bands=tuple(domain.RateBand(**band) for band in data["bands"]),
        withholding_rate=data["withholding_rate"],
        min_amount=data["min_amount"],
        min_term_days=data["min_term_days"],
        max_term_days=data["max_term_days"],
    )
    errors = domain.chart_errors(new_chart)
    if errors:
        raise ValidationError(fields=errors)
    chart_id = store.add_chart(session, new_chart)
    stored = {**vars(new_chart), "chart_id": chart_id}
    event: Answer = RatesConfiguredEventSchema().dump(stored)
    outbox.emit("rates_configured", event)
    return event


# --- the members' deposits ----------------------------------------------------------------


def deposit_dict(pos: domain.DepositPosition) -> Answer:
    terms, projection = pos.terms, pos.projection
    data = {
        "deposit_number": terms.deposit_number,
        "amount": terms.amount,
        "term_days": terms.term_days,
        "annual_rate": terms.annual_rate,
        "withholding_rate": terms.withholding_rate,
        "interest_payment": terms.interest_payment,
        "interest_payment_name": projection.interest_payment_name,
        "opened_on": terms.opened_on,
        "maturity_date": projection.maturity_date,
        "days_left": pos.days_left,
        "days_elapsed": pos.days_elapsed,
        "accrued_interest": pos.accrued_interest,
        "interest": projection.interest,
        "withholding": projection.withholding,
        "net_interest": projection.net_interest,
        "total_at_maturity": projection.total_at_maturity,
        "payments": [vars(p) for p in projection.payments],
        "payments_made": [vars(p) for p in pos.payments_made],
        "interest_paid": sum((p.net for p in pos.payments_made), domain.ZERO),
        "next_payment": vars(pos.next_payment) if pos.next_payment else None,
        "status": "activo",
    }
    result: Answer = DepositSchema().dump(data)
    return result


def list_deposits(session: Session, clock: Clock, member_number: str) -> list[Answer]:
    """The member's active deposits, each with its position on Ecuador's today."""
    day = clock.today()
    rows = store.active_deposits(session, member_number, day)
    return [deposit_dict(domain.position(store.terms_of(row), day)) for row in rows]


def deposits_summaries(session: Session, clock: Clock, member_numbers: object) -> dict[str, Any]:
    """`deposits_summary` of several members in one call (the gateway's coalesced position)."""
    day = clock.today()
    found = store.members_active_deposits(session, member_batch(member_numbers), day)
    return {number: _deposit_lines(rows, day) for number, rows in found.items()}


def deposits_summary(session: Session, clock: Clock, member_number: str) -> list[Answer]:
    """The lines of the consolidated position: [{deposit_number, amount, annual_rate, …}]."""
    day = clock.today()
    return _deposit_lines(store.active_deposits(session, member_number, day), day)


def _deposit_lines(rows: Sequence[Any], day: date) -> list[Answer]:
    out = [
        {
            "deposit_number": row.deposit_number,
            "amount": row.amount,
            "annual_rate": row.annual_rate,
            "opened_on": row.opened_on,
            "maturity_date": row.maturity_date,
            "accrued_interest": domain.accrued_interest(
                row.amount, row.annual_rate, row.opened_on, row.term_days, day
            ),
        }
        for row in rows
    ]
    result: list[Answer] = DEPOSIT_LINES.dump(out)
    return result


# --- the core's events --------------------------------------------------------------------


def inbound_status(session: Session) -> Answer:
    """Refusals of core events by kind, and how many wait for a predecessor."""
    return {
        "service": "deposit",
        "refusals": inbound.refusal_counts(session, "deposit"),
        "held": inbound.held_count(session, held_events),
    }


DEPOSIT_NUMBER = cast("Column[Any]", TermDeposit.__table__.c.deposit_number)


def _locked(session: Session, deposit_number: str) -> TermDeposit | None:
    """The deposit, locked until commit (two instances apply its events one after the other)."""
    if lock_owner(session, DEPOSIT_NUMBER, deposit_number) is None:
        return None
    return session.get(TermDeposit, deposit_number)


def _chart_for(session: Session, opened_on: date) -> domain.RateChart | None:
    """The rate chart in force when the deposit was opened (its withholding rate applies);
    the oldest one for a deposit opened before the portal knew any chart."""
    chart = store.chart_in_force(session, opened_on)
    if chart is not None:
        return chart
    first = session.scalars(select(RateChart).order_by(RateChart.valid_from, RateChart.id)).first()
    return store.to_domain_chart(first) if first is not None else None


FIELDS = (
    "member_number",
    "amount",
    "annual_rate",
    "term_days",
    "opened_on",
    "maturity_date",
    "interest_payment",
)


def check_member(accounts: Any, event: CoreEvent) -> None:
    """A `deposit_opened` names a member the portal knows: asked of accounts *before* the
    handler writes anything (on SQLite a worker must not hold the write lock while it waits
    for another service)."""
    if event["event_type"] != "deposit_opened":
        return
    data = load_data(DepositOpenedSchema(), event["data"], "deposit_opened")
    try:
        accounts.get_member(data["member_number"])
    except NotFound:
        raise NotYet(f"El socio {data['member_number']} no existe en el portal.") from None


def deposit_opened(session: Session, outbox: Outbox, raw: object) -> None:
    """The deposit appears in "Plazo fijo" and the position with the core's rate and dates."""
    data = load_data(DepositOpenedSchema(), raw, "deposit_opened")
    number = data["deposit_number"]
    existing = _locked(session, number)
    if existing is not None:
        if all(getattr(existing, name) == data[name] for name in FIELDS):
            return  # the same deposit told twice
        raise Refused(f"El depósito {number} ya existe con otros datos.", KIND_CONFLICT)
    chart = _chart_for(session, data["opened_on"])
    if chart is None:
        raise NotYet("No hay una tabla de tasas para conocer la retención.")
    session.add(
        TermDeposit(
            deposit_number=number,
            withholding_rate=chart.withholding_rate,
            rate_chart_id=chart.chart_id,
            status=store.ACTIVE,
            **{name: data[name] for name in FIELDS},
        )
    )
    session.flush()
    outbox.emit("deposit_opened", DepositOpenedEventSchema().dump(data))


def deposit_closed(session: Session, outbox: Outbox, raw: object) -> None:
    """The deposit leaves the active ones (vencimiento, renovación or precancelación)."""
    data = load_data(DepositClosedSchema(), raw, "deposit_closed")
    number = data["deposit_number"]
    deposit = _locked(session, number)
    if deposit is None:
        raise NotYet(f"El depósito {number} no existe en el portal.")
    closing = (data["closed_on"], data["reason"], data["renewed_as"])
    if deposit.status == CLOSED:
        if (deposit.closed_on, deposit.close_reason, deposit.renewed_as) == closing:
            return
        raise Refused(f"El depósito {number} ya fue cerrado con otros datos.", KIND_CONFLICT)
    if data["closed_on"] < deposit.opened_on:
        raise Refused(f"El depósito {number} no puede cerrarse antes de su apertura.")
    if data["renewed_as"] == number:
        raise Refused(f"El depósito {number} no puede renovarse como sí mismo.")
    deposit.status = CLOSED
    deposit.closed_on, deposit.close_reason, deposit.renewed_as = closing
    session.flush()
    outbox.emit(
        "deposit_closed",
        DepositClosedEventSchema().dump({**data, "member_number": deposit.member_number}),
    )


# every core event deposit consumes: the queue's bindings and the dispatch (one table)
HANDLERS = HandlerTable({"deposit_opened": deposit_opened, "deposit_closed": deposit_closed})


def core_event(session: Session, outbox: Outbox, accounts: Any, event: CoreEvent) -> None:
    """Apply one core event: its member checked first (before any write), claimed by event_id
    with its content (an id reused for other content is refused), then its handler."""
    check_member(accounts, event)
    if not inbound.claim(session, processed_events, event, CORE_CONSUMER):
        return
    HANDLERS.dispatch(event["event_type"], session, outbox, event["data"])
