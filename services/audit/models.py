"""Tables owned by the audit service: the append-only, hash-chained log and its head."""

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class AuditEntry(Base):
    """One event as received. Rows are only ever inserted, never updated or deleted (on
    PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE: migration 7c1e5a0d9f42)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_member_seq", "member_number", "seq"),
        Index("ix_audit_log_type_seq", "source", "event_type", "seq"),
        Index("ix_audit_log_occurred_at", "occurred_at"),
    )

    # seq is assigned by the appender (head + 1): its uniqueness is what forbids a fork
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    source: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(80))
    occurred_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    recorded_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    member_number: Mapped[str | None] = mapped_column(String(12))
    data: Mapped[str] = mapped_column(Text)  # canonical JSON of the event's data
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class ChainHead(Base):
    """One row (id 1): the last entry's seq and hash. Appenders lock it to take turns.

    `seal` is the HMAC of (seq, hash, legacy_seq) under the audit key (NULL until the service
    first sealed it); entries up to `legacy_seq` were recorded before the key, with plain sha256.
    """

    __tablename__ = "chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    legacy_seq: Mapped[int] = mapped_column(Integer, server_default="0")
    seal: Mapped[str | None] = mapped_column(String(64))
