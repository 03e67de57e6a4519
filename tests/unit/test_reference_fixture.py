import json

from services.common.config import PROJECT_ROOT
from services.common.demo import census, load_reference

SHARED = PROJECT_ROOT.parent / "shared" / "fixtures" / "reference_members.json"


def test_project_copy_of_the_reference_members_is_the_shared_one():
    # the project ships its own copy so it runs anywhere; it must not drift from the design's
    if SHARED.exists():
        assert json.loads(SHARED.read_text()) == json.loads(
            (PROJECT_ROOT / "fixtures" / "reference_members.json").read_text()
        )
    assert [m["member_number"] for m in load_reference()] == [
        "100234",
        "100517",
        "100781",
        "101002",
        "101245",
    ]


def test_census_is_deterministic_with_valid_unique_cedulas():
    from datetime import date

    from stdnum.ec import ci

    first = census(date(2026, 11, 25), count=200)
    second = census(date(2026, 11, 25), count=200)
    assert first == second
    ids = [m.identification for m in first]
    assert len(set(ids)) == len(ids)
    assert all(ci.is_valid(i) for i in ids)
