"""credit's loan applications: project one (every rule checked, nothing stored), submit it
(idempotent), list them, withdraw one. Submitting asks accounts for the member and whether each
guarantor is a member; the member is told of each step by the events through the outbox."""

import hashlib
import json
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stdnum.ec import ci

from services.common.clock import Clock
from services.common.errors import Conflict, NotFound, ValidationError
from services.common.ports import Outbox
from services.common.schemas import load_or_raise
from services.credit import catalog, domain, store
from services.credit.contracts import (
    SUBMITTED,
    WITHDRAWN,
    ApplicationCreatedSchema,
    ApplicationListSchema,
    ApplicationRequestSchema,
    ApplicationSchema,
    ApplicationSubmittedEventSchema,
    ApplicationWithdrawnEventSchema,
    ScheduleSchema,
)
from services.credit.models import Application, ApplicationGuarantor, ApplicationStatusChange
from services.credit.usecases.products import checked_schedule

KEY_REUSED = "La clave de idempotencia ya se usó con otra solicitud distinta."

Answer = dict[str, Any]


def _fingerprint(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _validate(
    session: Session, accounts: Any, member_number: str, request: dict[str, Any], today: date
) -> tuple[domain.Product, domain.Schedule, list[dict[str, str]]]:
    product, schedule = checked_schedule(session, request, today)
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
            ident: accounts.is_member_identification.call_async(member_number, ident)
            for ident in sorted(candidates)
        }
        answers = {ident: bool(call.result()) for ident, call in calls.items()}
    errors.update(
        domain.guarantor_errors(guarantors, ci.is_valid, lambda ident: answers.get(ident, False))
    )
    if errors:
        raise ValidationError(fields=errors)
    return product, schedule, guarantors


def project_application(
    session: Session, clock: Clock, accounts: Any, member_number: str, data: dict[str, Any]
) -> Answer:
    """Every rule of an application checked, and its table; nothing is stored (Proyectar)."""
    request = load_or_raise(ApplicationRequestSchema(), data)
    product, schedule, _ = _validate(session, accounts, member_number, request, clock.today())
    answer: Answer = ScheduleSchema().dump(store.schedule_dict(schedule, product))
    return answer


def submit_application(
    session: Session,
    outbox: Outbox,
    clock: Clock,
    accounts: Any,
    member_number: str,
    data: dict[str, Any],
    idempotency_key: str | None = None,
) -> Answer:
    """Save an application as `ingresada` and emit `application_submitted` (Grabar).

    The same idempotency key (per member) answers the same application; reused with a
    different request it is a conflict.
    """
    request = load_or_raise(ApplicationRequestSchema(), data)
    fingerprint = _fingerprint(request)
    today = clock.today()
    key = (idempotency_key or "").strip()[:100] or None
    # without a key the request's own content is its key for a day: a retry never doubles
    for candidate in [key] if key else domain.derived_idempotency_keys(fingerprint, today):
        existing = store.application_by_key(session, member_number, candidate)
        if existing is not None:
            return _replay(session, existing, fingerprint)
    key = key or domain.derived_idempotency_keys(fingerprint, today)[0]
    # another key, same product, amount and term as one still in process: a second click
    # a minute later, not a second loan the member wants (they can withdraw the first)
    duplicate = domain.duplicate_refusal(
        store.applications(session, member_number),
        request["product_code"],
        request["amount"],
        request["term_months"],
    )
    if duplicate:
        raise Conflict(duplicate)
    product, schedule, guarantors = _validate(session, accounts, member_number, request, today)
    member = accounts.get_member(member_number)
    submitted_at = clock.utcnow().replace(microsecond=0)
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
    session.add(application)
    try:
        session.flush()
    except IntegrityError:
        # the same key committed meanwhile by a concurrent request (double click): nothing
        # else was written in this transaction, so roll it back and answer that application
        session.rollback()
        existing = store.application_by_key(session, member_number, key)
        if existing is None:
            raise
        return _replay(session, existing, fingerprint)
    application.application_number = f"SC-{submitted_at:%Y}-{application.id:06d}"
    for position, guarantor in enumerate(guarantors):
        session.add(
            ApplicationGuarantor(
                application_id=application.id,
                position=position,
                identification=guarantor["identification"],
                name=guarantor["name"],
            )
        )
    session.flush()
    outbox.emit(
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
    return _created(application, schedule, product)


def _replay(session: Session, application: Application, fingerprint: str) -> Answer:
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
    product = catalog.get_product(session, application.product_code)
    return _created(application, schedule, catalog.to_domain(product) if product else None)


def _created(
    application: Application, schedule: domain.Schedule, product: domain.Product | None
) -> Answer:
    answer: Answer = ApplicationCreatedSchema().dump(
        {
            "application_number": application.application_number,
            "status": application.status,
            "submitted_at": application.submitted_at,
            "schedule": store.schedule_dict(schedule, product),
        }
    )
    return answer


def list_applications(session: Session, member_number: str) -> Answer:
    apps = store.applications(session, member_number)
    answer: Answer = ApplicationListSchema().dump(
        {"applications": [store.application_dict(a) for a in apps]}
    )
    return answer


def withdraw_application(
    session: Session, outbox: Outbox, clock: Clock, member_number: str, application_number: str
) -> Answer:
    """The member gives up an application still `ingresada` or `en_analisis` (desistida);
    `application_withdrawn` tells the core. Another member's application is not found."""
    application = store.member_application(session, member_number, application_number)
    if application is None:
        raise NotFound(f"La solicitud {application_number} no existe.")
    refusal = domain.withdrawal_refusal(application_number, application.status)
    if refusal:
        raise Conflict(refusal)
    at = clock.utcnow().replace(microsecond=0)
    application.status = WITHDRAWN
    application.status_reason = None
    application.changes.append(ApplicationStatusChange(status=WITHDRAWN, at=at))
    session.flush()
    outbox.emit(
        "application_withdrawn",
        ApplicationWithdrawnEventSchema().dump(
            {
                "application_number": application.application_number,
                "member_number": member_number,
                "withdrawn_at": at,
            }
        ),
    )
    answer: Answer = ApplicationSchema().dump(store.application_dict(application))
    return answer
