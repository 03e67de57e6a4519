"""The audit log's hash chain: canonical JSON, linking, verification, tamper detection."""

import hashlib
import hmac
from dataclasses import replace
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.audit import domain

KEY = b"k" * 48


def envelope(n, **data):
    return {
        "event_id": f"00000000-0000-4000-8000-{n:012d}",
        "event_type": "login_succeeded",
        "source": "auth",
        "occurred_at": f"2026-11-25T16:47:{n % 60:02d}Z",
        "version": 1,
        "data": {"username": "maria", "member_number": "100234", **data},
    }


def chain(count):
    entries, seq, prev = [], 0, domain.GENESIS_HASH
    for n in range(count):
        entry = domain.link(seq, prev, domain.record_from_envelope(envelope(n)), KEY)
        entries.append(entry)
        seq, prev = entry.seq, entry.hash
    return entries


def test_canonical_json_sorts_keys_has_no_spaces_and_keeps_accents():
    assert domain.canonical_json({"b": 1, "a": ["ñ", {"z": None, "y": True}]}) == (
        '{"a":["ñ",{"y":true,"z":null}],"b":1}'
    )


def head_of(entries, legacy_seq=0, key=KEY):
    seq, last = (entries[-1].seq, entries[-1].hash) if entries else (0, domain.GENESIS_HASH)
    return domain.Head(seq, last, legacy_seq, domain.head_seal(key, seq, last, legacy_seq))


def test_hash_is_sha256_of_the_documented_material():
    occurred = datetime(2026, 11, 25, 16, 47, 33)
    material = (
        '["' + "0" * 64 + '","e-1","auth","password_reset_requested",'
        '"2026-11-25T16:47:33Z",{"code_shown":true,"username":"maría"}]'
    )
    expected = hashlib.sha256(material.encode("utf-8")).hexdigest()
    assert (
        domain.entry_hash(
            domain.GENESIS_HASH,
            "e-1",
            "auth",
            "password_reset_requested",
            occurred,
            {"username": "maría", "code_shown": True},
        )
        == expected
    )


def test_occurred_at_in_any_offset_is_the_same_instant():
    assert domain.parse_instant("2026-11-25T11:47:33-05:00") == datetime(2026, 11, 25, 16, 47, 33)
    assert domain.parse_instant("2026-11-25T16:47:33Z") == datetime(2026, 11, 25, 16, 47, 33)
    assert domain.instant_text(datetime(2026, 11, 25, 16, 47, 33)) == "2026-11-25T16:47:33Z"
    with pytest.raises(domain.InvalidEnvelope):
        domain.parse_instant("ayer")


def test_each_entry_points_at_the_previous_one():
    entries = chain(4)
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[0].prev_hash == domain.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    result = domain.verify(entries, KEY, head=head_of(entries))
    assert result.as_dict() == {
        "valid": True,
        "entries": 4,
        "first_broken_seq": None,
        "anchor": None,
    }


def test_empty_log_is_valid():
    assert domain.verify([], KEY, head=head_of([])).valid


@pytest.mark.parametrize(
    "change",
    [
        {"data": {"username": "maria", "member_number": "100234", "client_ip": "10.0.0.9"}},
        {"event_type": "login_failed"},
        {"source": "accounts"},
        {"event_id": "00000000-0000-4000-8000-999999999999"},
        {"occurred_at": datetime(2020, 1, 1)},
        {"member_number": "100517"},
        {"prev_hash": "f" * 64},
    ],
)
def test_changing_any_field_of_an_entry_is_detected_at_that_entry(change):
    entries = chain(5)
    head = head_of(entries)
    entries[2] = replace(entries[2], **change)
    result = domain.verify(entries, KEY, head=head)
    assert not result.valid
    assert result.first_broken_seq == 3


def test_a_keyed_link_is_the_hmac_of_the_documented_material():
    occurred = datetime(2026, 11, 25, 16, 47, 33)
    material = (
        '["' + "0" * 64 + '","e-1","auth","login_failed","2026-11-25T16:47:33Z",{"username":"ñ"}]'
    )
    expected = hmac.new(KEY, material.encode("utf-8"), hashlib.sha256).hexdigest()
    keyed = domain.keyed_hash(
        KEY, domain.GENESIS_HASH, "e-1", "auth", "login_failed", occurred, {"username": "ñ"}
    )
    assert keyed == expected


def forge(entries, at, key=None, **change):
    """What an insider does: edit entry `at` (1-based) and recompute every later link and the
    head with the published formula; without the key (None) only the unkeyed sha256 is at hand."""
    forged, prev = list(entries[: at - 1]), entries[at - 2].hash if at > 1 else domain.GENESIS_HASH
    for n, entry in enumerate(entries[at - 1 :], start=at):
        entry = replace(entry, prev_hash=prev, **(change if n == at else {}))
        fields = (prev, entry.event_id, entry.source, entry.event_type, entry.occurred_at)
        digest = (
            domain.keyed_hash(key, *fields, entry.data)
            if key
            else domain.entry_hash(*fields, entry.data)
        )
        entry = replace(entry, hash=digest)
        forged.append(entry)
        prev = entry.hash
    return forged


def test_an_edited_entry_rehashed_without_the_key_fails_at_that_entry():
    entries = chain(14)
    mallory = {"data": {"username": "mallory", "member_number": "100234"}}
    forged = forge(entries, 3, **mallory)
    # head moved to the recomputed last hash; its seal cannot be recomputed either
    head = domain.Head(14, forged[-1].hash, 0, "f" * 64)
    result = domain.verify(forged, KEY, head=head)
    assert not result.valid and result.first_broken_seq == 3
    # the same forgery with the key itself would hold: the key is what protects the log
    keyed = forge(entries, 3, key=KEY, **mallory)
    assert domain.verify(keyed, KEY, head=head_of(keyed)).valid


def test_legacy_entries_verify_with_sha256_and_are_covered_by_the_first_keyed_one():
    legacy = forge(chain(3), 1)  # recorded before the key: plain sha256
    following = domain.link(3, legacy[-1].hash, domain.record_from_envelope(envelope(9)), KEY)
    entries = [*legacy, following]
    assert domain.verify(entries, KEY, head=head_of(entries, legacy_seq=3)).valid
    # rewriting a legacy entry (sha256 recomputed) breaks the keyed link after them
    mallory = {"username": "mallory", "member_number": "100234"}
    rewritten = forge(legacy, 2, data=mallory) + [following]
    assert domain.verify(rewritten, KEY, head=head_of(entries, legacy_seq=3)).first_broken_seq == 4


def test_moving_the_legacy_boundary_breaks_the_head_seal():
    entries = chain(4)
    forged = forge(entries, 1)  # everything recomputed as if it were legacy
    head = domain.Head(4, forged[-1].hash, 4, "0" * 64)  # the seal cannot be recomputed
    result = domain.verify(forged, KEY, head=head)
    assert not result.valid and result.first_broken_seq == 1


def test_a_removed_entry_is_detected():
    entries = chain(5)
    del entries[2]
    assert domain.verify(entries, KEY).first_broken_seq == 3


def test_removing_the_last_entries_is_detected_by_the_head():
    entries = chain(5)
    result = domain.verify(entries[:3], KEY, head=head_of(entries))
    assert not result.valid and result.first_broken_seq == 4


def anchor_of(entries, at, legacy_seq=0):
    return domain.Anchor(at, entries[at - 1].hash, legacy_seq, "2026-12-07T15:00:00Z")


def test_an_old_head_put_back_is_caught_by_a_later_anchor():
    entries = chain(6)
    anchors = [anchor_of(entries, 2), anchor_of(entries, 5)]
    # entries 4.. removed and the head row of seq 3 (seal and all) put back
    result = domain.verify(
        entries[:3], KEY, head=head_of(entries[:3]), anchors=anchors, anchor_source="anchors"
    )
    assert not result.valid and result.first_broken_seq == 4
    assert result.anchor == {
        "source": "anchors",
        "seq": 5,
        "hash": entries[4].hash,
        "at": "2026-12-07T15:00:00Z",
        "checked": 2,
        "rejected": 0,
    }
    whole = domain.verify(entries, KEY, head=head_of(entries), anchors=anchors)
    assert whole.valid


def test_an_anchor_line_holds_only_with_its_key_and_unchanged():
    entries = chain(2)
    line = domain.anchor_line(KEY, anchor_of(entries, 2))
    assert domain.read_anchor(KEY, line) == anchor_of(entries, 2)
    assert domain.read_anchor(b"x" * 48, line) is None
    assert domain.read_anchor(KEY, line.replace('"seq":2', '"seq":1')) is None
    assert domain.read_anchor(KEY, "no es json") is None


def test_record_from_envelope_takes_member_and_redacts_secrets():
    record = domain.record_from_envelope(envelope(1, code="5uqZ7zkp", code_shown=True))
    assert record["member_number"] == "100234"
    assert record["data"]["code"] == domain.REDACTED
    assert record["data"]["code_shown"] is True
    no_member = domain.record_from_envelope(
        {**envelope(2), "data": {"username": "nadie", "reason": "bad_password"}}
    )
    assert no_member["member_number"] is None


@pytest.mark.parametrize(
    "broken",
    [
        {"event_id": None},
        {"event_id": "x" * 37},
        {"source": ""},
        {"occurred_at": "25/11/2026"},
        {"data": ["not", "an", "object"]},
    ],
)
def test_unusable_envelopes_are_refused(broken):
    with pytest.raises(domain.InvalidEnvelope):
        domain.record_from_envelope({**envelope(1), **broken})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(
    data=st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=5),
    other=st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=5),
)
def test_any_change_of_data_changes_the_hash(data, other):
    occurred = datetime(2026, 1, 1)
    first = domain.keyed_hash(KEY, domain.GENESIS_HASH, "e", "auth", "t", occurred, data)
    second = domain.keyed_hash(KEY, domain.GENESIS_HASH, "e", "auth", "t", occurred, other)
    assert (first == second) == (domain.canonical_json(data) == domain.canonical_json(other))
