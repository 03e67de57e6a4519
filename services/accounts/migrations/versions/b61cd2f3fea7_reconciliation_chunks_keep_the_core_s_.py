"""reconciliation chunks keep the core's figures

Revision ID: b61cd2f3fea7
Revises: 1fe98bef8531
Create Date: 2026-12-07 09:58:23.463039
"""

import sqlalchemy as sa
from alembic import op


revision = "b61cd2f3fea7"
down_revision = "1fe98bef8531"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("reconciliation_chunks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("accounts", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("reconciliation_chunks", schema=None) as batch_op:
        batch_op.drop_column("accounts")
