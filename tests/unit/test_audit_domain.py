"""The audit log's hash chain: canonical JSON, linking, verification, tamper detection."""

import hashlib
from dataclasses import replace
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.audit import domain


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
        entry = domain.link(seq, prev, domain.record_from_envelope(envelope(n)))
        entries.append(entry)
        seq, prev = entry.seq, entry.hash
    return entries


def test_canonical_json_sorts_keys_has_no_spaces_and_keeps_accents():
    assert domain.canonical_json({"b": 1, "a": ["ñ", {"z": None, "y": True}]}) == (
        '{"a":["ñ",{"y":true,"z":null}],"b":1}'
    )


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
    result = domain.verify(entries, head_seq=4, head_hash=entries[-1].hash)
    assert result.as_dict() == {"valid": True, "entries": 4, "first_broken_seq": None}


def test_empty_log_is_valid():
    assert domain.verify([], head_seq=0, head_hash=domain.GENESIS_HASH).valid


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
    entries[2] = replace(entries[2], **change)
    result = domain.verify(entries, head_seq=5, head_hash=entries[-1].hash)
    assert not result.valid
    assert result.first_broken_seq == 3


def test_rehashing_a_changed_entry_breaks_the_next_link():
    entries = chain(5)
    forged = replace(entries[1], data={"username": "mallory", "member_number": "100234"})
    forged = replace(
        forged,
        hash=domain.entry_hash(
            forged.prev_hash,
            forged.event_id,
            forged.source,
            forged.event_type,
            forged.occurred_at,
            forged.data,
        ),
    )
    entries[1] = forged
    assert domain.verify(entries).first_broken_seq == 3


def test_a_removed_entry_is_detected():
    entries = chain(5)
    del entries[2]
    assert domain.verify(entries).first_broken_seq == 3


def test_removing_the_last_entries_is_detected_by_the_head():
    entries = chain(5)
    head = entries[-1]
    result = domain.verify(entries[:3], head_seq=head.seq, head_hash=head.hash)
    assert not result.valid and result.first_broken_seq == 4


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
    first = domain.entry_hash(domain.GENESIS_HASH, "e", "auth", "t", occurred, data)
    second = domain.entry_hash(domain.GENESIS_HASH, "e", "auth", "t", occurred, other)
    assert (first == second) == (domain.canonical_json(data) == domain.canonical_json(other))
