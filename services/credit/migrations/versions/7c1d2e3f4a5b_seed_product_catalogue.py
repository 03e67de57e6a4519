"""seed product catalogue and rate caps

The catalogue of docs/domain.md and the regulator's caps in force, so every fresh install has them.
Frozen here as data (a later change of the catalogue is a new revision or `catalog.load_product`);
tests/service/test_credit_service.py checks the seeded products against their caps.

Revision ID: 7c1d2e3f4a5b
Revises: 3410b43908df
Create Date: 2026-11-25 17:45:00
"""

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "7c1d2e3f4a5b"
down_revision = "3410b43908df"
branch_labels = None
depends_on = None

SYSTEMS = "french,german"
FREQUENCIES = "monthly,bimonthly,quarterly,semiannual"

rate_caps = sa.table(
    "rate_caps",
    sa.column("segment", sa.String),
    sa.column("max_effective_rate", sa.String),
    sa.column("valid_from", sa.Date),
    sa.column("source", sa.String),
)
products = sa.table(
    "products",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("segment", sa.String),
    sa.column("annual_rate", sa.String),
    sa.column("min_amount", sa.BigInteger),
    sa.column("max_amount", sa.BigInteger),
    sa.column("max_term_months", sa.Integer),
    sa.column("systems", sa.String),
    sa.column("frequencies", sa.String),
    sa.column("insurance_rate", sa.String),
    sa.column("active", sa.Boolean),
    sa.column("sort_order", sa.Integer),
)
SOURCE = "Tasas máximas efectivas anuales por segmento (BCE)"


def upgrade():
    op.bulk_insert(
        rate_caps,
        [
            {"segment": "Consumo ordinario", "max_effective_rate": "16.77", "valid_from": date(2025, 1, 1), "source": SOURCE},
            {"segment": "Microcrédito", "max_effective_rate": "28.50", "valid_from": date(2025, 1, 1), "source": SOURCE},
            {"segment": "Inmobiliario", "max_effective_rate": "11.33", "valid_from": date(2025, 1, 1), "source": SOURCE},
        ],
    )
    # amounts in cents (the Cents column type)
    rows = [
        ("CONSUMO", "Crédito de consumo", "Consumo ordinario", "15.60", 50000, 4000000, 72),
        ("MICRO", "Microcrédito minorista", "Microcrédito", "24.50", 30000, 2000000, 48),
        ("VIVIENDA", "Crédito de vivienda", "Inmobiliario", "9.95", 1000000, 15000000, 240),
        ("EMERGENTE", "Crédito emergente", "Consumo ordinario", "13.00", 10000, 300000, 12),
    ]
    op.bulk_insert(
        products,
        [
            {
                "code": code,
                "name": name,
                "segment": segment,
                "annual_rate": rate,
                "min_amount": low,
                "max_amount": high,
                "max_term_months": term,
                "systems": SYSTEMS,
                "frequencies": FREQUENCIES,
                "insurance_rate": "0.0500",
                "active": True,
                "sort_order": position,
            }
            for position, (code, name, segment, rate, low, high, term) in enumerate(rows)
        ],
    )


def downgrade():
    op.execute(products.delete().where(products.c.code.in_(["CONSUMO", "MICRO", "VIVIENDA", "EMERGENTE"])))
    op.execute(rate_caps.delete())
