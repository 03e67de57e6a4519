"""/api/v1/openapi.json is a valid OpenAPI 3.0 document that says what every field looks like."""

import jsonschema_rs
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_30

import gateway.service  # noqa: F401  registers every documented operation
from gateway.openapi import build_spec


@pytest.fixture(scope="module")
def spec():
    return build_spec()


def test_the_document_is_valid_openapi_3_0(spec):
    errors = [
        f"{'/'.join(map(str, e.instance_path))}: {e.message[:200]}"
        for e in jsonschema_rs.validator_for(OPENAPI_30).iter_errors(spec)
    ]
    assert errors == []


def test_every_field_has_a_type(spec):
    """A custom marshmallow field without `openapi_property` would be documented as "any"."""
    untyped = [
        f"{name}.{prop}"
        for name, schema in spec["components"]["schemas"].items()
        for prop, definition in schema.get("properties", {}).items()
        if not {"type", "$ref", "allOf", "anyOf", "oneOf"} & set(definition)
    ]
    assert untyped == []


def test_money_is_a_string_with_two_decimals(spec):
    amount = spec["components"]["schemas"]["Deposit"]["properties"]["amount"]
    assert amount["type"] == "string"
    assert amount["pattern"] == r"^-?[0-9]+\.[0-9]{2}$"


def test_every_operation_documents_its_errors(spec):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            where = f"{method.upper()} {path}"
            if operation.get("security"):
                assert {"401", "503"} <= codes, where
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= codes, where
            if "{" in path:
                assert "404" in codes, where
            for code, response in operation["responses"].items():
                if code >= "400":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, where
