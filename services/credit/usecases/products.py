"""credit's products and simulations: the catalog as members see it, and a presumptive table
checked against its product's rules (nothing is stored)."""

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from services.common.clock import Clock
from services.common.errors import ValidationError
from services.common.schemas import load_or_raise
from services.credit import catalog, domain, store
from services.credit.contracts import (
    CreditSimulationRequestSchema,
    ProductListSchema,
    ScheduleSchema,
)


def list_products(session: Session) -> dict[str, Any]:
    products = []
    for row in catalog.active_products(session):
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
    answer: dict[str, Any] = ProductListSchema().dump({"products": products})
    return answer


def checked_schedule(
    session: Session, request: dict[str, Any], today: date
) -> tuple[domain.Product, domain.Schedule]:
    """Validate a simulation request against its product; (product, domain Schedule)."""
    row = catalog.get_product(session, request["product_code"])
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


def simulate(session: Session, clock: Clock, data: dict[str, Any]) -> dict[str, Any]:
    """The presumptive table of a request (docs/api.md's Schedule). Nothing is stored."""
    request = load_or_raise(CreditSimulationRequestSchema(), data)
    product, schedule = checked_schedule(session, request, clock.today())
    answer: dict[str, Any] = ScheduleSchema().dump(store.schedule_dict(schedule, product))
    return answer
