"""loan payments: the loan and the quote the member confirmed on each order

Revision ID: 5b1c0a7e9d21
Revises: 3da0fca8662e
Create Date: 2026-12-07 13:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

import services.common.db

revision = "5b1c0a7e9d21"
down_revision = "3da0fca8662e"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=10), type_=sa.String(length=20)
        )
        batch_op.add_column(sa.Column("loan_number", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("installment_numbers", sa.String(length=200), nullable=True)
        )
        batch_op.add_column(sa.Column("quote_as_of", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("installments_amount", services.common.db.Cents(), nullable=True)
        )
        batch_op.add_column(sa.Column("late_interest", services.common.db.Cents(), nullable=True))
        batch_op.add_column(sa.Column("other_charges", services.common.db.Cents(), nullable=True))
        batch_op.create_index("ix_orders_loan", ["loan_number", "status"], unique=False)


def downgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_loan")
        for column in (
            "other_charges",
            "late_interest",
            "installments_amount",
            "quote_as_of",
            "installment_numbers",
            "loan_number",
        ):
            batch_op.drop_column(column)
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=20), type_=sa.String(length=10)
        )
