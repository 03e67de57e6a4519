"""The audit log's rules: canonical JSON, the hash chain, and its verification.

Each entry carries the hash of the previous one, so changing, removing or reordering any entry
breaks every later link. The hash of an entry is

    sha256( canonical_json([prev_hash, event_id, source, event_type, occurred_at, data]) )

where canonical JSON has sorted keys, no insignificant whitespace and UTF-8 text, and
`occurred_at` is the UTC instant written as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`. Anyone holding an
export of the log can recompute the chain with these few lines.

Pure: no nameko, no SQLAlchemy.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict, overload

GENESIS_HASH = "0" * 64

# Events never carry secrets; should a producer slip, the audit log does not keep them forever.
SECRET_KEYS = frozenset(
    {"password", "password_hash", "new_password", "token", "session_token", "code", "secret"}
)
REDACTED = "[redactado]"


class InvalidEnvelope(ValueError):
    """An event that cannot be recorded (no id, no source, unreadable date...)."""


# what an event's `data` may hold: whatever JSON does (the log keeps it as it came)
EventData = dict[str, Any]


class Record(TypedDict):
    """The fields of an entry taken from an envelope, before it is linked into the chain."""

    event_id: str
    source: str
    event_type: str
    member_number: str | None
    occurred_at: datetime  # naive UTC
    data: EventData


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse_instant(value: object) -> datetime:
    """An ISO-8601 instant ('2026-11-25T16:47:33Z', with offset or naive UTC) → naive UTC."""
    if isinstance(value, datetime):
        moment = value
    else:
        if not isinstance(value, str) or not value:
            raise InvalidEnvelope("occurred_at is not an ISO-8601 instant")
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidEnvelope("occurred_at is not an ISO-8601 instant") from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def instant_text(moment: datetime) -> str:
    """The canonical text of a naive-UTC instant (microseconds only when there are some)."""
    return moment.isoformat() + "Z"


@overload
def scrub(data: EventData) -> EventData: ...
@overload
def scrub(data: object) -> object: ...
def scrub(data: object) -> object:
    """The event data with any secret-looking key redacted (recursively)."""
    if isinstance(data, dict):
        return {
            key: REDACTED if str(key).lower() in SECRET_KEYS else scrub(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [scrub(item) for item in data]
    return data


def member_of(data: object) -> str | None:
    """The member an event is about, when its data names one (kept in a column for queries)."""
    value = data.get("member_number") if isinstance(data, dict) else None
    return str(value)[:12] if value not in (None, "") else None


def entry_hash(
    prev_hash: str,
    event_id: str,
    source: str,
    event_type: str,
    occurred_at: datetime,
    data: EventData,
) -> str:
    """The link: sha256 hex of the canonical JSON of the entry and the previous hash."""
    material = canonical_json(
        [prev_hash, event_id, source, event_type, instant_text(occurred_at), data]
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entry:
    seq: int
    event_id: str
    source: str
    event_type: str
    occurred_at: datetime  # naive UTC
    data: EventData
    prev_hash: str
    hash: str
    member_number: str | None = None


def record_from_envelope(envelope: object) -> Record:
    """The fields of an entry taken from an event envelope (raises InvalidEnvelope)."""
    if not isinstance(envelope, dict):
        raise InvalidEnvelope("the event is not an envelope")
    texts = {}
    for key, limit in (("event_id", 36), ("source", 40), ("event_type", 80)):
        value = envelope.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise InvalidEnvelope(f"{key} is missing or too long")
        texts[key] = value.strip()
    data = envelope.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidEnvelope("data is not an object")
    clean = scrub(data)
    return {
        "event_id": texts["event_id"],
        "source": texts["source"],
        "event_type": texts["event_type"],
        "member_number": member_of(clean),
        "occurred_at": parse_instant(envelope.get("occurred_at")),
        "data": clean,
    }


def link(prev_seq: int, prev_hash: str, record: Record) -> Entry:
    """The next entry of the chain whose head is (prev_seq, prev_hash)."""
    return Entry(
        seq=prev_seq + 1,
        event_id=record["event_id"],
        source=record["source"],
        event_type=record["event_type"],
        occurred_at=record["occurred_at"],
        data=record["data"],
        prev_hash=prev_hash,
        hash=entry_hash(
            prev_hash,
            record["event_id"],
            record["source"],
            record["event_type"],
            record["occurred_at"],
            record["data"],
        ),
        member_number=record.get("member_number"),
    )


@dataclass(frozen=True)
class Verification:
    valid: bool
    entries: int
    first_broken_seq: int | None

    def as_dict(self) -> dict[str, bool | int | None]:
        return {
            "valid": self.valid,
            "entries": self.entries,
            "first_broken_seq": self.first_broken_seq,
        }


def verify(
    entries: Iterable[Entry], head_seq: int | None = None, head_hash: str | None = None
) -> Verification:
    """Walk the entries in seq order; the first one whose link does not hold breaks the chain.

    An entry is broken when its seq is not the next number, its prev_hash is not the hash of
    the entry before it, its hash is not the hash of its own content, or its member_number
    column does not match its data. `head_seq`/`head_hash`
    (the chain head kept beside the log) also reveal entries removed from the end.
    """
    expected_seq, expected_prev, count = 1, GENESIS_HASH, 0
    for entry in entries:
        count += 1
        recomputed = entry_hash(
            entry.prev_hash,
            entry.event_id,
            entry.source,
            entry.event_type,
            entry.occurred_at,
            entry.data,
        )
        if (
            entry.seq != expected_seq
            or entry.prev_hash != expected_prev
            or entry.hash != recomputed
            or entry.member_number != member_of(entry.data)
        ):
            return Verification(False, count, min(entry.seq, expected_seq))
        expected_seq, expected_prev = entry.seq + 1, entry.hash
    if head_seq is not None and (head_seq != expected_seq - 1 or head_hash != expected_prev):
        return Verification(False, count, expected_seq)
    return Verification(True, count, None)
