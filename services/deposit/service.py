"""deposit: the term-deposit rate chart, the members' term deposits and the simulation."""

from datetime import date

from marshmallow import ValidationError as MarshmallowValidationError

from services.accounts.contracts import AccountsRpc
from services.common import inbound
from services.common.clock_provider import ClockProvider
from services.common.correlation import CorrelationContext
from services.common.db import Database
from services.common.entrypoints import rpc
from services.common.errors import ValidationError
from services.common.events import EventOutbox
from services.common.inbound import core_events
from services.common.operator import CoreOperations
from services.common.rpc import ServiceRpc
from services.common.schemas import flatten, load_or_raise
from services.deposit import bulk, domain, from_core, store
from services.deposit.contracts import (
    ConfigureRatesSchema,
    DepositPositionSchema,
    DepositSchema,
    DepositSimulationRequestSchema,
    ProjectionSchema,
    RatesConfiguredEventSchema,
    RatesSchema,
)
from services.deposit.models import held_events, outbox, processed_events

NO_CHART = "No hay una tabla de tasas vigente."
DEPOSIT_LINES = DepositPositionSchema(many=True)  # built once: asked on every position view


def projection_dict(projection):
    data = vars(projection).copy()
    data["interest_payment_name"] = projection.interest_payment_name
    return ProjectionSchema().dump(data)


def rates_dict(chart):
    return RatesSchema().dump(vars(chart))


def deposit_dict(pos):
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
    return DepositSchema().dump(data)


# the claims of the core events (the name the Inbox gave them: earlier claims still count)
CORE_CONSUMER = "deposit.on_core_event"


class DepositService(CoreOperations):
    name = "deposit"

    db = Database("deposit")
    events = EventOutbox("deposit", outbox)
    accounts = ServiceRpc[AccountsRpc]("accounts")
    correlation = CorrelationContext()
    clock = ClockProvider()

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def import_state(self, request):
        """What of a bulk load is already here (numbers only), for the importer's checks."""
        return bulk.state(self.db, request)

    @rpc
    def import_rows(self, kind, rows):
        """Load one chunk of a bulk load (docs/integration.md); idempotent, returns counts."""
        return bulk.import_rows(self.db, kind, rows)

    @rpc
    def rates(self, as_of=None):
        """The rate chart in force today, Ecuador's (or on the date `as_of`, a question about
        another day's chart: never a stand-in for the clock)."""
        day = date.fromisoformat(as_of) if as_of else self.clock.today()
        chart = store.chart_in_force(self.db, day)
        if chart is None:
            raise ValidationError(NO_CHART, fields={"as_of": [NO_CHART]})
        return rates_dict(chart)

    @rpc
    def simulate(self, amount=None, term_days=None, interest_payment=None, start_date=None):
        """A presumptive deposit at the chart in force on its start date; nothing is stored."""
        given = {
            "amount": amount,
            "term_days": term_days,
            "interest_payment": interest_payment,
            # a blank form field means "today"; any other value is read (and {} or 0 refused)
            "start_date": None if start_date == "" else start_date,
        }
        payload = {k: v for k, v in given.items() if v is not None}
        today = self.clock.today()
        try:
            data = DepositSimulationRequestSchema().load(payload)
            refused = {}
        except MarshmallowValidationError as exc:
            # report the limits of the fields that did read, beside the unreadable ones
            data, refused = exc.valid_data or {}, flatten(exc.messages)
        start = data.get("start_date") or today
        chart = store.chart_in_force(self.db, max(start, today))
        errors = domain.simulation_errors(
            data.get("amount"), data.get("term_days"), start, today, chart
        )
        if refused or errors:
            raise ValidationError(fields={**errors, **refused})
        rate = chart.rate_for(data["term_days"], data["amount"])
        projection = domain.project(
            data["amount"],
            rate,
            data["term_days"],
            start,
            data["interest_payment"],
            chart.withholding_rate,
        )
        return projection_dict(projection)

    @rpc
    def list_deposits(self, member_number):
        """The member's active deposits, each with its position on Ecuador's today."""
        day = self.clock.today()
        rows = store.active_deposits(self.db, member_number, day)
        return [deposit_dict(domain.position(store.terms_of(row), day)) for row in rows]

    @rpc
    def deposits_summary(self, member_number):
        """The lines of the consolidated position: [{deposit_number, amount, annual_rate, …}]."""
        day = self.clock.today()
        out = []
        for row in store.active_deposits(self.db, member_number, day):
            out.append(
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
            )
        return DEPOSIT_LINES.dump(out)

    @rpc
    def inbound_status(self):
        """Refusals of core events by kind, and how many wait for a predecessor."""
        return {
            "service": "deposit",
            "refusals": inbound.refusal_counts(self.db, "deposit"),
            "held": inbound.held_count(self.db, held_events),
        }

    @core_events("deposit", from_core.CORE_EVENT_TYPES)
    def on_core_event(self, event):
        """deposit_opened, deposit_closed (docs/integration.md)."""
        from_core.check_member(self.accounts, event)  # before any write
        # by event_id, with its content: an id reused for other content is refused
        if not inbound.claim(self.db, processed_events, event, CORE_CONSUMER):
            return
        from_core.handle(self.db, self.events, event)

    @rpc
    def configure_rates(self, chart):
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
        chart_id = store.add_chart(self.db, new_chart)
        stored = {**vars(new_chart), "chart_id": chart_id}
        event = RatesConfiguredEventSchema().dump(stored)
        self.events.emit("rates_configured", event)
        return event
