"""The product catalogue and the regulator's rate caps, as configuration in the credit database.

Every fresh install holds the catalogue of docs/domain.md and the caps in force: the data migration
`seed product catalogue and rate caps` inserts them. Operators add caps with `add_cap` (dated:
a new cap applies from its `valid_from`) and change or add products with `load_product`, which
refuses a product whose effective annual rate is over its segment's cap in force on the day it
is loaded.
"""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.clock import CLOCK
from services.credit import domain
from services.credit.models import ProductRow, RateCapRow

CAP_SOURCE = "Tasas máximas efectivas anuales por segmento (BCE)"


def to_domain(row: ProductRow) -> domain.Product:
    return domain.Product(
        code=row.code,
        name=row.name,
        segment=row.segment,
        annual_rate=row.annual_rate,
        min_amount=row.min_amount,
        max_amount=row.max_amount,
        max_term_months=row.max_term_months,
        systems=tuple(row.systems.split(",")),
        frequencies=tuple(row.frequencies.split(",")),
        insurance_rate=row.insurance_rate,
    )


def caps(session: Session) -> list[domain.RateCap]:
    return [
        domain.RateCap(r.segment, r.max_effective_rate, r.valid_from)
        for r in session.scalars(select(RateCapRow))
    ]


def add_cap(
    session: Session,
    segment: str,
    max_effective_rate: Decimal | str,
    valid_from: date,
    source: str = CAP_SOURCE,
) -> None:
    existing = session.scalars(
        select(RateCapRow).where(RateCapRow.segment == segment, RateCapRow.valid_from == valid_from)
    ).first()
    if existing is None:
        session.add(
            RateCapRow(
                segment=segment,
                max_effective_rate=Decimal(max_effective_rate),
                valid_from=valid_from,
                source=source,
            )
        )
        session.flush()


def load_product(
    session: Session, product: domain.Product, on: date | None = None, sort_order: int = 0
) -> ProductRow:
    """Insert or update a product; refused (RateCapExceeded) over its segment's cap in force."""
    on = on or CLOCK.today()
    domain.check_rate_cap(product, caps(session), on)
    unknown = set(product.systems) - set(domain.SYSTEMS) or set(product.frequencies) - set(
        domain.FREQUENCIES
    )
    if unknown:
        raise ValueError(f"unknown systems or frequencies: {sorted(unknown)}")
    row = session.get(ProductRow, product.code) or ProductRow(code=product.code)
    row.name = product.name
    row.segment = product.segment
    row.annual_rate = product.annual_rate
    row.min_amount = product.min_amount
    row.max_amount = product.max_amount
    row.max_term_months = product.max_term_months
    row.systems = ",".join(product.systems)
    row.frequencies = ",".join(product.frequencies)
    row.insurance_rate = product.insurance_rate
    row.active = True
    row.sort_order = sort_order
    session.add(row)
    session.flush()
    return row


def active_products(session: Session) -> Sequence[ProductRow]:
    return session.scalars(
        select(ProductRow)
        .where(ProductRow.active.is_(True))
        .order_by(ProductRow.sort_order, ProductRow.code)
    ).all()


def get_product(session: Session, code: str | None) -> ProductRow | None:
    row = session.get(ProductRow, code) if code else None
    return row if row is not None and row.active else None
