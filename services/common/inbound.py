"""Consumption of the cooperative core's events (exchange `core.events`, docs/integration.md)."""

from sqlalchemy import Column, DateTime, Integer, String, Table, Text, UniqueConstraint


def held_events_table(metadata):
    """Events that arrived before their predecessor: held (acked, not applied) until it comes."""
    return Table(
        "held_events",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("stream", String(60), nullable=False),  # e.g. "account:1234", "loan:56"
        Column("sequence", Integer, nullable=False),
        Column("event", Text, nullable=False),
        Column("received_at", DateTime, nullable=False),
        UniqueConstraint("stream", "sequence", name="uq_held_events_stream_sequence"),
    )


def refusals_table(metadata):
    """How many core events this service refused, per kind of reason (survives restarts)."""
    return Table(
        "inbound_refusals",
        metadata,
        Column("service", String(40), primary_key=True),
        Column("kind", String(40), primary_key=True),
        Column("count", Integer, nullable=False),
        Column("last_reason", String(500), nullable=False),
        Column("last_at", DateTime, nullable=False),
    )
