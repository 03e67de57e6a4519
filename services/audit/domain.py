"""The audit log's rules: canonical JSON, the keyed hash chain, anchors, and verification.

Each entry carries the hash of the previous one, so changing, removing or reordering any entry
breaks every later link. The hash of an entry is

    HMAC-SHA256( key, canonical_json([prev_hash, event_id, source, event_type, occurred_at, data]) )

where canonical JSON has sorted keys, no insignificant whitespace and UTF-8 text, and
`occurred_at` is the UTC instant written as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`. The key lives
outside the audit database (docs/operations.md, "Audit trail"): whoever can write the database
but not read the key cannot recompute a link after editing a row. Entries recorded before the
key existed (seq <= the head's `legacy_seq`) keep their plain `sha256(...)` of the same material;
the first keyed entry after them covers them through its `prev_hash`.

The head (last seq and hash, and `legacy_seq`) is sealed with the same key, and now and then
written as an *anchor* outside the database; an anchor is a signed line naming the head at that
moment, so rolling the log back, truncating it or re-sealing old entries as legacy contradicts it.

Pure: no nameko, no SQLAlchemy.
"""

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
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


def _material(
    prev_hash: str,
    event_id: str,
    source: str,
    event_type: str,
    occurred_at: datetime,
    data: EventData,
) -> bytes:
    return canonical_json(
        [prev_hash, event_id, source, event_type, instant_text(occurred_at), data]
    ).encode("utf-8")


def entry_hash(
    prev_hash: str,
    event_id: str,
    source: str,
    event_type: str,
    occurred_at: datetime,
    data: EventData,
) -> str:
    """The legacy (unkeyed) link: sha256 hex of the canonical JSON of the entry and the
    previous hash. Only entries up to the head's `legacy_seq` are checked with it."""
    material = _material(prev_hash, event_id, source, event_type, occurred_at, data)
    return hashlib.sha256(material).hexdigest()


def keyed_hash(
    key: bytes,
    prev_hash: str,
    event_id: str,
    source: str,
    event_type: str,
    occurred_at: datetime,
    data: EventData,
) -> str:
    """The link: HMAC-SHA256 hex, under the audit key, of the same material as `entry_hash`."""
    material = _material(prev_hash, event_id, source, event_type, occurred_at, data)
    return hmac.new(key, material, hashlib.sha256).hexdigest()


def head_seal(key: bytes, seq: int, hash: str, legacy_seq: int) -> str:
    """The head row's seal: nobody without the key can move the head or the legacy boundary."""
    material = canonical_json(["head", seq, hash, legacy_seq]).encode("utf-8")
    return hmac.new(key, material, hashlib.sha256).hexdigest()


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


def link(prev_seq: int, prev_hash: str, record: Record, key: bytes) -> Entry:
    """The next entry of the chain whose head is (prev_seq, prev_hash), keyed."""
    return Entry(
        seq=prev_seq + 1,
        event_id=record["event_id"],
        source=record["source"],
        event_type=record["event_type"],
        occurred_at=record["occurred_at"],
        data=record["data"],
        prev_hash=prev_hash,
        hash=keyed_hash(
            key,
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
class Head:
    """The chain head row: last seq and hash, the last unkeyed entry, and the seal over them."""

    seq: int
    hash: str
    legacy_seq: int
    seal: str | None


@dataclass(frozen=True)
class Anchor:
    """The head as it was at `at`, written outside the database and signed with the key."""

    seq: int
    hash: str
    legacy_seq: int
    at: str  # UTC instant text

    def fields(self) -> list[object]:
        return ["anchor", self.seq, self.hash, self.legacy_seq, self.at]


def anchor_line(key: bytes, anchor: Anchor) -> str:
    """One line of the anchor file: the anchor and its HMAC, as canonical JSON."""
    mac = hmac.new(key, canonical_json(anchor.fields()).encode("utf-8"), hashlib.sha256)
    return canonical_json(
        {
            "seq": anchor.seq,
            "hash": anchor.hash,
            "legacy_seq": anchor.legacy_seq,
            "at": anchor.at,
            "mac": mac.hexdigest(),
        }
    )


def read_anchor(key: bytes, line: str) -> Anchor | None:
    """The anchor of one line, or None when it is unreadable or its signature does not hold."""
    try:
        value = json.loads(line)
        anchor = Anchor(
            seq=int(value["seq"]),
            hash=str(value["hash"]),
            legacy_seq=int(value["legacy_seq"]),
            at=str(value["at"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    # the line must be exactly the one the key would write (its mac included)
    expected = anchor_line(key, anchor).encode("utf-8")
    return anchor if hmac.compare_digest(expected, line.strip().encode("utf-8")) else None


@dataclass(frozen=True)
class Verification:
    valid: bool
    entries: int
    first_broken_seq: int | None
    # the anchor the log was checked against ({source, seq, hash, at, checked, rejected})
    anchor: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "entries": self.entries,
            "first_broken_seq": self.first_broken_seq,
            "anchor": self.anchor,
        }


def _holds(entry: Entry, key: bytes, legacy_seq: int) -> bool:
    fields = (
        entry.prev_hash,
        entry.event_id,
        entry.source,
        entry.event_type,
        entry.occurred_at,
        entry.data,
    )
    expected = entry_hash(*fields) if entry.seq <= legacy_seq else keyed_hash(key, *fields)
    return hmac.compare_digest(entry.hash, expected)


def verify(
    entries: Iterable[Entry],
    key: bytes,
    head: Head | None = None,
    anchors: Sequence[Anchor] = (),
    anchor_source: str | None = None,
    rejected_anchors: int = 0,
) -> Verification:
    """Walk the entries in seq order; the first one whose link does not hold breaks the chain.

    An entry is broken when its seq is not the next number, its prev_hash is not the hash of
    the entry before it, its hash is not the keyed hash of its own content (the plain sha256
    for legacy entries), or its member_number column does not match its data. The head row
    (seal included) also reveals entries removed from the end; each anchor must name an entry
    that is still there with the same hash and the same legacy boundary. The answer names the
    latest anchor checked.
    """
    sealed = (
        head is not None
        and head.seal is not None
        and hmac.compare_digest(head.seal, head_seal(key, head.seq, head.hash, head.legacy_seq))
    )
    latest = max(anchors, key=lambda a: a.seq, default=None)
    if head is not None and sealed:
        legacy_seq = head.legacy_seq
    else:
        # a head whose seal fails cannot say where the legacy entries end: trust the anchors
        legacy_seq = latest.legacy_seq if latest is not None else 0
    anchored = {a.seq for a in anchors}
    seen = {0: GENESIS_HASH}
    expected_seq, expected_prev, count = 1, GENESIS_HASH, 0
    broken: int | None = None
    for entry in entries:
        count += 1
        if (
            entry.seq != expected_seq
            or entry.prev_hash != expected_prev
            or not _holds(entry, key, legacy_seq)
            or entry.member_number != member_of(entry.data)
        ):
            broken = min(entry.seq, expected_seq)
            break
        if entry.seq in anchored:
            seen[entry.seq] = entry.hash
        expected_seq, expected_prev = entry.seq + 1, entry.hash
    last_good = expected_seq - 1
    if broken is None and head is not None:
        if head.seq != last_good or head.hash != expected_prev or not sealed:
            broken = last_good + 1
    for anchor in anchors:
        if anchor.legacy_seq != legacy_seq:
            at = min(anchor.legacy_seq, legacy_seq) + 1
        elif anchor.seq > last_good:
            at = last_good + 1
        elif seen.get(anchor.seq) != anchor.hash:
            at = anchor.seq
        else:
            continue
        broken = at if broken is None else min(broken, at)
    described = None
    if anchor_source is not None:
        described = {
            "source": anchor_source,
            "seq": latest.seq if latest else None,
            "hash": latest.hash if latest else None,
            "at": latest.at if latest else None,
            "checked": len(anchors),
            "rejected": rejected_anchors,
        }
    return Verification(broken is None, count, broken, described)
