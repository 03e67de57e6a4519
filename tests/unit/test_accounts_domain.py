from datetime import date
from decimal import Decimal

import pytest

from services.accounts import domain

MARIA = domain.MemberRecord(
    "100234", "1712345675", "María Fernanda", "Pérez Gómez", "maria.perez@example.com"
)


@pytest.mark.parametrize(
    "first,last",
    [
        ("maria", "perez"),
        ("MARÍA", "Gómez"),
        ("Fernanda", "gomez"),
        (" fernanda ", "PÉREZ"),
        ("María Fernanda", "Pérez Gómez"),
    ],
)
def test_one_given_name_and_one_surname_without_case_or_accents_match(first, last):
    assert domain.registration_matches(
        MARIA, "100234", "1712345675", first, last, "Maria.Perez@Example.com"
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"member_number": "100235"},
        {"identification": "1712345676"},
        {"identification": "1709876542"},
        {"first_name": "Mar"},
        {"last_name": "Torres"},
        {"email": "otra@example.com"},
        {"first_name": ""},
    ],
)
def test_any_wrong_field_is_a_plain_no(changes):
    data = dict(
        member_number="100234",
        identification="1712345675",
        first_name="maria",
        last_name="perez",
        email="maria.perez@example.com",
    )
    data.update(changes)
    assert domain.registration_matches(MARIA, **data) is False


def test_no_record_is_no():
    assert not domain.registration_matches(None, "1", "1712345675", "a", "b", "c@d.e")


def test_masks():
    assert domain.mask_identification("1712345675") == "17******75"
    assert domain.mask_email("maria.perez@example.com") == "m*********z@example.com"
    assert domain.display_name("María Fernanda", "Pérez Gómez") == "María Pérez"


def test_statement_range_rules_in_spanish():
    today = date(2026, 11, 25)
    assert domain.statement_range_errors(date(2026, 11, 1), today, today) == {}
    errors = domain.statement_range_errors(date(2026, 11, 20), date(2026, 11, 10), today)
    assert "anterior" in errors["from"][0]
    # ten years (3 660 days) is the longest range
    assert domain.statement_range_errors(date(2016, 11, 1), date(2026, 11, 9), today) == {}
    errors = domain.statement_range_errors(date(2016, 11, 1), date(2026, 11, 10), today)
    assert errors["to"] == ["El rango no puede superar diez años (3.660 días)."]
    errors = domain.statement_range_errors(date(2026, 11, 1), date(2026, 11, 26), today)
    assert "futura" in errors["to"][0]


def test_default_range_is_the_current_month():
    assert domain.default_statement_range(date(2026, 11, 25)) == (
        date(2026, 11, 1),
        date(2026, 11, 25),
    )


def test_balance_never_below_zero():
    assert domain.apply_movement(Decimal("10.00"), Decimal("10.00"), None) == Decimal("0.00")
    with pytest.raises(ValueError):
        domain.apply_movement(Decimal("10.00"), Decimal("10.01"), None)


def test_only_a_different_address_of_a_known_member_is_a_change_of_e_mail():
    from types import SimpleNamespace

    known = SimpleNamespace(email="maria.perez@example.com")
    assert domain.email_changed(known, {"email": "maria.nueva@example.com"})
    assert not domain.email_changed(known, {"email": "Maria.Perez@Example.com"})
    assert not domain.email_changed(known, {"status": "inactivo"})
    assert not domain.email_changed(None, {"email": "maria.nueva@example.com"})
    data = domain.email_change_data(
        "100234",
        "María Fernanda",
        "Pérez Gómez",
        "maria.perez@example.com",
        "maria.nueva@example.com",
        "2026-11-25T16:40:00Z",
    )
    assert data["display_name"] == "María Pérez"
    assert data["new_email_masked"] == "m*********a@example.com"
    assert "maria.nueva" not in str(data)
