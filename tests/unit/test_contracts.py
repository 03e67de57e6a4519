"""What a service publishes is its contracts module: the position's rows, the report documents."""

import gateway.service  # noqa: F401  registers every documented operation
from gateway.consolidation import build_position
from gateway.openapi import build_spec
from services.accounts.contracts import AccountSchema, SavingsPositionSchema, SharePositionSchema
from services.credit.contracts import LoanPositionSchema, LoanSummarySchema
from services.deposit.contracts import DepositPositionSchema, DepositSchema
from services.reports.contracts import DOCUMENTS
from services.reports.paths import TEMPLATES

ROWS = {
    "savings": (SavingsPositionSchema, AccountSchema),
    "deposits": (DepositPositionSchema, DepositSchema),
    "loans": (LoanPositionSchema, LoanSummarySchema),
}


def test_the_position_shows_the_fields_of_each_service_position_row():
    """A richer row (what list_accounts answers) is cut to the row the owning service publishes."""
    full = {
        section: [dict.fromkeys(richer().fields, "1.00")] for section, (_, richer) in ROWS.items()
    }
    position = build_position(
        {"member_number": "1"}, full["savings"], full["deposits"], full["loans"], [], "t"
    )
    for section, (row, richer) in ROWS.items():
        assert set(row().fields) < set(richer().fields), section
        assert list(position[section][0]) == list(row().fields), section


def test_the_api_documents_the_position_rows_the_services_publish():
    schemas = build_spec()["components"]["schemas"]
    position = schemas["Position"]["properties"]
    for section, (row, _) in ROWS.items():
        name = row.__name__.removesuffix("Schema")
        assert position[section]["items"] == {"$ref": f"#/components/schemas/{name}"}
        assert list(schemas[name]["properties"]) == list(row().fields)


def test_the_api_documents_the_shares_of_the_position():
    schemas = build_spec()["components"]["schemas"]
    position = schemas["Position"]["properties"]
    assert position["shares"]["items"] == {"$ref": "#/components/schemas/SharePosition"}
    assert list(schemas["SharePosition"]["properties"]) == list(SharePositionSchema().fields)
    assert "shares" in schemas["PositionTotals"]["properties"]


def test_every_report_document_has_its_template():
    assert [doc for doc in DOCUMENTS if not (TEMPLATES / f"{doc}.html").is_file()] == []
