"""What deposit does with the core's events (docs/integration.md): the use cases behind the thin
handler in service.py, inside the handler's transaction (change, inbox claim and the portal's own
outgoing events commit together).

`Refused`: the event can never apply; it is parked at once with the reason. `NotYet`: it names a
deposit or a member the portal may not know yet (its event is still on its way): tried again a
few times, then parked with the reason.
"""

from typing import cast

from sqlalchemy import Table, select

from services.accounts.contracts import AccountsRpc
from services.common.errors import NotFound
from services.common.inbound import KIND_CONFLICT, NotYet, Refused, load_data, lock_owner
from services.deposit import store
from services.deposit.contracts import DepositClosedEventSchema, DepositOpenedEventSchema
from services.deposit.models import RateChart, TermDeposit
from services.deposit.schemas import DepositClosedSchema, DepositOpenedSchema

CLOSED = "cerrado"
CORE_EVENT_TYPES = ("deposit_opened", "deposit_closed")


def _locked(session, deposit_number):
    """The deposit, locked until commit (two instances apply its events one after the other)."""
    if (
        lock_owner(session, cast(Table, TermDeposit.__table__).c.deposit_number, deposit_number)
        is None
    ):
        return None
    return session.get(TermDeposit, deposit_number)


def _chart_for(session, opened_on):
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


def check_member(accounts: AccountsRpc, event):
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


def deposit_opened(session, events, data):
    """The deposit appears in "Plazo fijo" and the position with the core's rate and dates."""
    data = load_data(DepositOpenedSchema(), data, "deposit_opened")
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
    events.emit("deposit_opened", DepositOpenedEventSchema().dump(data))


def deposit_closed(session, events, data):
    """The deposit leaves the active ones (vencimiento, renovación or precancelación)."""
    data = load_data(DepositClosedSchema(), data, "deposit_closed")
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
    events.emit(
        "deposit_closed",
        DepositClosedEventSchema().dump({**data, "member_number": deposit.member_number}),
    )


def handle(session, events, event):
    """Apply one core event (already claimed in the inbox and checked by `check_member`)."""
    if event["event_type"] == "deposit_opened":
        deposit_opened(session, events, event["data"])
    else:
        deposit_closed(session, events, event["data"])
