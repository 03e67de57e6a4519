"""Services raise errors with a code; the gateway alone says which HTTP status answers each."""

import re
from pathlib import Path

import pytest
from nameko.exceptions import deserialize, serialize

from gateway.http import HTTP_STATUS, http_status
from services.common import errors

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def error_classes():
    found, todo = [], [errors.PortalError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_code_has_its_status_in_the_gateway():
    assert {cls.code for cls in error_classes()} <= set(HTTP_STATUS)


def test_no_error_class_knows_an_http_status():
    assert [cls.__name__ for cls in error_classes() if hasattr(cls, "status")] == []


def test_the_statuses_are_those_of_docs_api():
    table = re.findall(r"^\s*\| (\d{3}) \| `([a-z_]+)` \|", API_MD.read_text(), re.MULTILINE)
    assert len(table) >= 10
    assert {code: HTTP_STATUS[code] for _, code in table} == {code: int(s) for s, code in table}


def test_an_error_answers_with_the_status_of_its_code():
    assert http_status(errors.ValidationError(fields={"amount": ["Requerido."]})) == 422
    assert http_status(errors.RateLimited(retry_after=30)) == 429
    assert http_status(errors.ServiceUnavailable()) == 503
    assert http_status(ValueError("not ours")) == 500


# the errors that cross services (a caller's own, such as rpc.RpcDeadlineExceeded, never do); the
# bare PortalError is not registered: it would arrive as nameko's RemoteError, a 500
WIRE_ERRORS = [cls for cls in error_classes()[1:] if cls.__module__ == errors.__name__]


@pytest.mark.parametrize("cls", WIRE_ERRORS, ids=lambda cls: cls.__name__)
def test_a_remote_error_arrives_as_the_same_error(cls):
    """What nameko does with an error raised in another service: same type, code and details."""
    sent = cls("Mensaje en español.", fields={"amount": ["Debe ser mayor que 0."]}, retry_after=30)
    received = deserialize(serialize(sent))
    assert type(received) is cls
    assert received.to_dict() == sent.to_dict()
    assert http_status(received) == HTTP_STATUS[cls.code]
