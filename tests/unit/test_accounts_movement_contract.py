"""The data of `accounts.movement_posted`, built by hand for speed by one function of the
contract, is what its schema would publish."""

from datetime import date
from decimal import Decimal

from services.accounts.contracts import MovementPostedEventSchema, movement_posted


def test_movement_posted_is_its_schemas_dump():
    movement = {
        "date": date(2026, 3, 2),
        "description": "Depósito en ventanilla",
        "reference": "VT-1",
        "debit": Decimal("0.00"),
        "credit": Decimal("1234.5"),
        "balance": Decimal("2500"),
        "request_id": "r-1",
    }
    built = movement_posted("4100517001", "100517", movement)
    dumped = MovementPostedEventSchema().dump(
        {"account_number": "4100517001", "member_number": "100517", **movement}
    )
    assert built == dumped
    assert built["credit"] == "1234.50" and built["balance"] == "2500.00"
    without = movement_posted("4100517001", "100517", {**movement, "request_id": None})
    assert without["request_id"] is None
