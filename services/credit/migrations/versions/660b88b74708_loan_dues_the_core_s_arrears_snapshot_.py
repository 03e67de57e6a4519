"""loan_dues: the core's arrears snapshot per loan

Revision ID: 660b88b74708
Revises: 7aeca07be297
Create Date: 2026-12-07 10:26:13.325346
"""

import sqlalchemy as sa
from alembic import op

import services.common.db


revision = "660b88b74708"
down_revision = "7aeca07be297"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "loan_dues",
        sa.Column("loan_number", sa.String(length=20), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("days_overdue", sa.Integer(), nullable=False),
        sa.Column("overdue_installments", sa.String(length=400), nullable=False),
        sa.Column("oldest_overdue_due_date", sa.Date(), nullable=True),
        sa.Column("overdue_principal", services.common.db.Cents(), nullable=False),
        sa.Column("overdue_interest", services.common.db.Cents(), nullable=False),
        sa.Column("late_interest", services.common.db.Cents(), nullable=False),
        sa.Column("other_charges", services.common.db.Cents(), nullable=False),
        sa.Column("total_due", services.common.db.Cents(), nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_number"],
            ["loans.loan_number"],
        ),
        sa.PrimaryKeyConstraint("loan_number"),
    )


def downgrade():
    op.drop_table("loan_dues")
