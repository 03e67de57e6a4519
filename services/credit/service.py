"""credit: products, active loans with their stored schedules, guarantees, simulations and loan
applications. Thin entrypoints: the rules are in domain.py, the queries in store.py."""

import hashlib
import json

from sqlalchemy.exc import IntegrityError
from stdnum.ec import ci

from services.accounts.contracts import AccountsRpc
from services.common import inbound
from services.common.clock_provider import ClockProvider
from services.common.correlation import CorrelationContext
from services.common.db import Database
from services.common.entrypoints import rpc
from services.common.errors import Conflict, NotFound, ValidationError
from services.common.events import EventOutbox
from services.common.inbound import core_events
from services.common.operator import CoreOperations
from services.common.rpc import ServiceRpc
from services.common.schemas import load_or_raise
from services.credit import bulk, catalog, domain, from_core, store
from services.credit.contracts import (
    SUBMITTED,
    WITHDRAWN,
    ApplicationCreatedSchema,
    ApplicationListSchema,
    ApplicationRequestSchema,
    ApplicationSchema,
    ApplicationSubmittedEventSchema,
    ApplicationWithdrawnEventSchema,
    CreditSimulationRequestSchema,
    GuaranteesSchema,
    LoanListSchema,
    LoanPositionSchema,
    LoanSchema,
    ProductListSchema,
    ScheduleSchema,
)
from services.credit.models import (
    Application,
    ApplicationGuarantor,
    ApplicationStatusChange,
    held_events,
    outbox,
    processed_events,
)

LOAN_NOT_FOUND = "El crédito no existe."
LOAN_POSITIONS = LoanPositionSchema(many=True)  # built once: the position asks on every view
KEY_REUSED = "La clave de idempotencia ya se usó con otra solicitud distinta."


def _fingerprint(data):
    canonical = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# the claims of the core events (the name the Inbox gave them: earlier claims still count)
CORE_CONSUMER = "credit.on_core_event"


class CreditService(CoreOperations):
    name = "credit"

    db = Database("credit")
    events = EventOutbox("credit", outbox)
    accounts = ServiceRpc[AccountsRpc]("accounts")
    clock = ClockProvider()
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

    # --- products and simulations ---------------------------------------------------------

    @rpc
    def list_products(self):
        products = []
        for row in catalog.active_products(self.db):
            product = catalog.to_domain(row)
            products.append(
                {
                    "code": product.code,
                    "name": product.name,
                    "segment": product.segment,
                    "annual_rate": product.annual_rate,
                    "effective_annual_rate": domain.product_effective_rate(product),
                    "min_amount": product.min_amount,
                    "max_amount": product.max_amount,
                    "max_term_months": product.max_term_months,
                    "systems": list(product.systems),
                    "frequencies": list(product.frequencies),
                    "insurance_rate": product.insurance_rate,
                }
            )
        return ProductListSchema().dump({"products": products})

    def _schedule(self, request, today):
        """Validate a simulation request against its product; (product, domain Schedule)."""
        row = catalog.get_product(self.db, request["product_code"])
        product = catalog.to_domain(row) if row is not None else None
        start = request["start_date"] or today
        errors = domain.request_errors(
            product,
            request["amount"],
            request["term_months"],
            request["system"],
            request["frequency"],
            start,
            today,
        )
        if errors:
            raise ValidationError(fields=errors)
        assert product is not None  # request_errors refuses an unknown product
        schedule = domain.amortize(
            request["amount"],
            product.annual_rate,
            request["term_months"],
            request["system"],
            request["frequency"],
            start,
            product.insurance_rate,
        )
        return product, schedule

    @rpc
    def simulate(self, data):
        """The presumptive table of a request (docs/api.md's Schedule). Nothing is stored."""
        request = load_or_raise(CreditSimulationRequestSchema(), data)
        product, schedule = self._schedule(request, self.clock.today())
        return ScheduleSchema().dump(store.schedule_dict(schedule, product))

    # --- applications ---------------------------------------------------------------------

    def _validate_application(self, member_number, request, today):
        product, schedule = self._schedule(request, today)
        errors = domain.payment_capacity_errors(
            schedule, request["monthly_income"], request["monthly_expenses"]
        )
        guarantors = [
            {"identification": g["identification"].strip(), "name": " ".join(g["name"].split())}
            for g in request["guarantors"]
        ]
        answers = {}
        candidates = {g["identification"] for g in guarantors if ci.is_valid(g["identification"])}
        if len(guarantors) <= domain.MAX_GUARANTORS:
            calls = {
                ident: self.accounts.is_member_identification.call_async(member_number, ident)
                for ident in sorted(candidates)
            }
            answers = {ident: bool(call.result()) for ident, call in calls.items()}
        errors.update(
            domain.guarantor_errors(
                guarantors, ci.is_valid, lambda ident: answers.get(ident, False)
            )
        )
        if errors:
            raise ValidationError(fields=errors)
        return product, schedule, guarantors

    @rpc
    def project_application(self, member_number, data):
        """Every rule of an application checked, and its table; nothing is stored (Proyectar)."""
        request = load_or_raise(ApplicationRequestSchema(), data)
        product, schedule, _ = self._validate_application(
            member_number, request, self.clock.today()
        )
        return ScheduleSchema().dump(store.schedule_dict(schedule, product))

    @rpc
    def submit_application(self, member_number, data, idempotency_key=None):
        """Save an application as `ingresada` and emit `application_submitted` (Grabar).

        The same idempotency key (per member) answers the same application; reused with a
        different request it is a conflict.
        """
        request = load_or_raise(ApplicationRequestSchema(), data)
        fingerprint = _fingerprint(request)
        today = self.clock.today()
        key = (idempotency_key or "").strip()[:100] or None
        # without a key the request's own content is its key for a day: a retry never doubles
        for candidate in [key] if key else domain.derived_idempotency_keys(fingerprint, today):
            existing = store.application_by_key(self.db, member_number, candidate)
            if existing is not None:
                return self._replay(existing, fingerprint)
        key = key or domain.derived_idempotency_keys(fingerprint, today)[0]
        # another key, same product, amount and term as one still in process: a second click
        # a minute later, not a second loan the member wants (they can withdraw the first)
        duplicate = domain.duplicate_refusal(
            store.applications(self.db, member_number),
            request["product_code"],
            request["amount"],
            request["term_months"],
        )
        if duplicate:
            raise Conflict(duplicate)
        product, schedule, guarantors = self._validate_application(member_number, request, today)
        member = self.accounts.get_member(member_number)
        submitted_at = self.clock.utcnow().replace(microsecond=0)
        application = Application(
            member_number=member_number,
            idempotency_key=key,
            request_fingerprint=fingerprint,
            product_code=product.code,
            product_name=product.name,
            amount=schedule.amount,
            annual_rate=schedule.annual_rate,
            insurance_rate=schedule.insurance_rate,
            term_months=schedule.term_months,
            system=schedule.system,
            frequency=schedule.frequency,
            start_date=schedule.start_date,
            purpose=request["purpose"].strip(),
            monthly_income=request["monthly_income"],
            monthly_expenses=request["monthly_expenses"],
            installment=schedule.installment,
            status=SUBMITTED,
            submitted_at=submitted_at,
        )
        self.db.add(application)
        try:
            self.db.flush()
        except IntegrityError:
            # the same key committed meanwhile by a concurrent request (double click): nothing
            # else was written in this transaction, so roll it back and answer that application
            self.db.rollback()
            existing = store.application_by_key(self.db, member_number, key)
            if existing is None:
                raise
            return self._replay(existing, fingerprint)
        application.application_number = f"SC-{submitted_at:%Y}-{application.id:06d}"
        for position, guarantor in enumerate(guarantors):
            self.db.add(
                ApplicationGuarantor(
                    application_id=application.id,
                    position=position,
                    identification=guarantor["identification"],
                    name=guarantor["name"],
                )
            )
        self.db.flush()
        self.events.emit(
            "application_submitted",
            ApplicationSubmittedEventSchema().dump(
                {
                    "application_number": application.application_number,
                    "member_number": member_number,
                    "email": member["email"],
                    "display_name": member["display_name"],
                    "product_code": product.code,
                    "product_name": product.name,
                    "amount": schedule.amount,
                    "term_months": schedule.term_months,
                    "submitted_at": submitted_at,
                }
            ),
        )
        return self._created(application, schedule, product)

    def _replay(self, application, fingerprint):
        if application.request_fingerprint != fingerprint:
            raise Conflict(KEY_REUSED)
        schedule = domain.amortize(
            application.amount,
            application.annual_rate,
            application.term_months,
            application.system,
            application.frequency,
            application.start_date,
            application.insurance_rate,
        )
        product = catalog.get_product(self.db, application.product_code)
        return self._created(application, schedule, product and catalog.to_domain(product))

    def _created(self, application, schedule, product):
        return ApplicationCreatedSchema().dump(
            {
                "application_number": application.application_number,
                "status": application.status,
                "submitted_at": application.submitted_at,
                "schedule": store.schedule_dict(schedule, product),
            }
        )

    @rpc
    def list_applications(self, member_number):
        apps = store.applications(self.db, member_number)
        return ApplicationListSchema().dump(
            {"applications": [store.application_dict(a) for a in apps]}
        )

    @rpc
    def withdraw_application(self, member_number, application_number):
        """The member gives up an application still `ingresada` or `en_analisis` (desistida);
        `application_withdrawn` tells the core. Another member's application is not found."""
        application = store.member_application(self.db, member_number, application_number)
        if application is None:
            raise NotFound(f"La solicitud {application_number} no existe.")
        refusal = domain.withdrawal_refusal(application.application_number, application.status)
        if refusal:
            raise Conflict(refusal)
        at = self.clock.utcnow().replace(microsecond=0)
        application.status = WITHDRAWN
        application.status_reason = None
        application.changes.append(ApplicationStatusChange(status=WITHDRAWN, at=at))
        self.db.flush()
        self.events.emit(
            "application_withdrawn",
            ApplicationWithdrawnEventSchema().dump(
                {
                    "application_number": application.application_number,
                    "member_number": member_number,
                    "withdrawn_at": at,
                }
            ),
        )
        return ApplicationSchema().dump(store.application_dict(application))

    # --- the core's events (docs/integration.md) -------------------------------------------

    held_table = held_events

    def stream_last(self, stream):
        return store.last_loan_sequence(self.db, stream.partition(":")[2])

    @rpc
    def inbound_status(self):
        """Refusals of core events by kind, and how many wait for a predecessor."""
        return {
            "service": "credit",
            "refusals": inbound.refusal_counts(self.db, "credit"),
            "held": inbound.held_count(self.db, held_events),
        }

    @core_events("credit", from_core.CORE_EVENT_TYPES)
    def on_core_event(self, event):
        """loan_disbursed, installment_paid, loan_settled, application_status_changed."""
        members = from_core.members_of(self.accounts, event)  # before any write
        # by event_id, with its content: an id reused for other content is refused
        if not inbound.claim(self.db, processed_events, event, CORE_CONSUMER):
            return
        from_core.handle(self.db, self.events, members, event, self.clock.utcnow())

    # --- loans ----------------------------------------------------------------------------

    @rpc
    def list_loans(self, member_number):
        """The member's active loans; none: `loans: []` and "No posee créditos vigentes"."""
        today = self.clock.today()
        loans = [
            store.loan_summary(loan, today) for loan in store.active_loans(self.db, member_number)
        ]
        return LoanListSchema().dump(
            {"loans": loans, "message": None if loans else domain.NO_ACTIVE_LOANS}
        )

    @rpc
    def get_loan(self, member_number, loan_number):
        loan = store.member_loan(self.db, member_number, loan_number)
        if loan is None:
            raise NotFound(LOAN_NOT_FOUND)
        detail = store.loan_detail(
            loan, self.clock.today(), store.guarantors_of_loan(self.db, loan)
        )
        return LoanSchema().dump(detail)

    @rpc
    def loans_summary(self, member_number):
        """The loans section of the consolidated position."""
        return LOAN_POSITIONS.dump(store.loan_positions(self.db, member_number, self.clock.today()))

    @rpc
    def guarantees(self, member_number):
        return GuaranteesSchema().dump(store.guarantees(self.db, member_number))
