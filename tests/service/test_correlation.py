"""One correlation id follows an HTTP request through every RPC and event it causes."""

import logging

import eventlet

from services.audit.service import AuditService
from tests.helpers import login_post, start_auth_stack, start_gateway


def test_request_id_follows_the_login_through_auth_and_its_event_to_audit(
    service_config, container_factory, http_session, today, caplog
):
    caplog.set_level(logging.DEBUG, logger="portal.calls")
    start_auth_stack(container_factory, service_config, today)
    container_factory(AuditService, service_config).start()
    start_gateway(container_factory, service_config)

    answer = login_post(
        http_session,
        headers={"X-Request-ID": "req-7f3a9c"},
        json={"username": "maria", "password": "Socia-2026!"},
    )
    assert answer.status_code == 200
    assert answer.headers["X-Request-ID"] == "req-7f3a9c"

    def handled(service, method):
        return [
            r
            for r in caplog.records
            if getattr(r, "service", None) == service and getattr(r, "method", None) == method
        ]

    with eventlet.Timeout(15):
        while not handled("audit", "on_auth_login_succeeded"):
            eventlet.sleep(0.1)
    login = handled("auth", "login")
    accounts_calls = [r for r in caplog.records if getattr(r, "service", None) == "accounts"]
    audit = handled("audit", "on_auth_login_succeeded")
    assert [r.cid for r in login] == ["req-7f3a9c"]  # the RPC the gateway made
    assert audit[0].cid == "req-7f3a9c"  # the event auth emitted, through the outbox relay
    assert all(r.cid == "req-7f3a9c" for r in accounts_calls)  # any RPC auth made on the way


def test_a_request_without_id_gets_one(service_config, container_factory, http_session):
    start_gateway(container_factory, service_config)
    first = http_session.get("/api/v1/none").headers["X-Request-ID"]
    second = http_session.get("/api/v1/none").headers["X-Request-ID"]
    assert first and second and first != second
