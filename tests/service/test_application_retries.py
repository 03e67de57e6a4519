"""A client that retries a loan application never gets two (docs/api.md, "Idempotency"): without
an `Idempotency-Key` the request's own content is its key for a day, so a plain retry, and a retry
of a request that answered 503 while credit was down and was processed when credit came back
(the request waited in credit's queue), both find the first application."""

import eventlet
import pytest

from services.credit.service import CreditService
from services.reports.service import ReportsService
from tests.conftest import load_demo
from tests.helpers import DEMO_USERS, api_login, bearer, start_auth_stack, start_gateway
from tests.service.test_credit_gateway import application_body, count_applications


@pytest.fixture
def portal(service_config, container_factory, today):
    start_auth_stack(container_factory, service_config, today)
    load_demo(service_config, today, services=["credit"], count=2)
    credit = container_factory(CreditService, service_config)
    credit.start()
    container_factory(ReportsService, service_config).start()
    start_gateway(container_factory, service_config)
    return service_config, credit


@pytest.fixture
def maria(portal, http_session):
    return bearer(api_login(http_session, "maria", DEMO_USERS["maria"][0]))


def test_a_retried_application_without_key_is_saved_once(portal, maria, http_session, today):
    config, _ = portal
    body = application_body(today)
    first = http_session.post("/api/v1/credit/applications", json=body, headers=maria)
    again = http_session.post("/api/v1/credit/applications", json=body, headers=maria)
    assert first.status_code == again.status_code == 201, again.text[:300]
    assert again.json()["application_number"] == first.json()["application_number"]
    assert count_applications(config) == 1
    # a different application is a new one
    other = application_body(today, amount="6000.00")
    third = http_session.post("/api/v1/credit/applications", json=other, headers=maria)
    assert third.status_code == 201
    assert third.json()["application_number"] != first.json()["application_number"]
    assert count_applications(config) == 2


def test_an_application_that_answered_503_and_was_saved_later_is_not_doubled_by_a_retry(
    portal, maria, http_session, container_factory, today
):
    config, credit = portal
    credit.stop()  # credit is down; its queue stays and keeps what arrives
    body = application_body(today)
    refused = http_session.post("/api/v1/credit/applications", json=body, headers=maria)
    assert refused.status_code == 503
    assert count_applications(config) == 0

    container_factory(CreditService, config).start()  # back: the queued request is processed
    with eventlet.Timeout(60):
        while count_applications(config) == 0:
            eventlet.sleep(0.1)

    retry = http_session.post("/api/v1/credit/applications", json=body, headers=maria)
    assert retry.status_code == 201, retry.text[:300]
    assert count_applications(config) == 1
    listed = http_session.get("/api/v1/credit/applications", headers=maria).json()
    assert [a["application_number"] for a in listed["applications"]] == [
        retry.json()["application_number"]
    ]
