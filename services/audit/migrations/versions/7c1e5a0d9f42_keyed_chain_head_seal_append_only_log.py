"""keyed chain: head seal and legacy boundary; append-only log on PostgreSQL

Revision ID: 7c1e5a0d9f42
Revises: b4463955e069
Create Date: 2026-12-07 10:20:00

Existing logs keep verifying: the head gets no seal here (the migration need not know the key);
the audit service seals it the first time it runs, keeping every entry recorded so far as plain
sha256 (`legacy_seq`) and anchoring that head at once (docs/operations.md, "Audit trail").

On PostgreSQL, rows of audit_log can only be inserted and read: a trigger refuses UPDATE, DELETE
and TRUNCATE for every role, the owner the service connects as included (a REVOKE would not
bind the owner, who may grant itself the privilege back).
"""

import sqlalchemy as sa
from alembic import op

revision = '7c1e5a0d9f42'
down_revision = 'b4463955e069'
branch_labels = None
depends_on = None

REFUSE = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def upgrade():
    with op.batch_alter_table('chain_head', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('legacy_seq', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.add_column(sa.Column('seal', sa.String(length=64), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(REFUSE)
        op.execute(
            "CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
        # roles other than the owner (a read-only reporting role, say) never get them either
        op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER audit_log_no_update_or_delete ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    with op.batch_alter_table('chain_head', schema=None) as batch_op:
        batch_op.drop_column('seal')
        batch_op.drop_column('legacy_seq')
