"""Amounts typed in the pages as a member in Ecuador writes them (docs/domain.md, "Money and
rounding"): each form in each money field, through the gateway's pages to the real credit and
deposit services, checking the amount the page projects."""

import re
from html import unescape

import pytest

from services.credit.service import CreditService
from services.deposit.service import DepositService
from tests.conftest import load_demo
from tests.helpers import api_login, csrf_of, start_auth_stack, start_gateway

# typed → the amount the member meant, as the page shows it
MEANT = {
    "2.500": "$ 2.500,00",
    "2.500,00": "$ 2.500,00",
    "2500": "$ 2.500,00",
    "2500,5": "$ 2.500,50",
    "$ 2.500,00": "$ 2.500,00",
    "2500.50": "$ 2.500,50",
    "1.200": "$ 1.200,00",
}
AMBIGUOUS = ("2.50.0", "2,500.00", "1.2345", "10,000.00")
EXPECTED = "Escriba el monto en dólares, por ejemplo 2.500,00 o 2500."


@pytest.fixture
def member(service_config, container_factory, today, http_session):
    start_auth_stack(container_factory, service_config, today)
    load_demo(service_config, today, services=["credit", "deposit"], count=2)
    for cls in (CreditService, DepositService):
        container_factory(cls, service_config).start()
    start_gateway(container_factory, service_config)
    token = api_login(http_session, "maria", "Socia-2026!")
    http_session.cookies.set("portal_session", token)
    http_session.get("/creditos/simulacion")
    return http_session


def text_of(html, element_id):
    match = re.search(rf'<(\w+)[^>]*id="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"#{element_id} not on the page"
    return " ".join(unescape(re.sub(r"<[^>]+>", "", match.group(2))).split())


def field_value(html, name):
    return unescape(re.search(rf'<input id="{name}" name="{name}"[^>]*value="([^"]*)"', html)[1])


def loan(session, url, **fields):
    form = {
        "csrf_token": csrf_of(session.get(url).text),
        "action": "proyectar",
        "product_code": "CONSUMO",
        "amount": "2500",
        "term_months": "12",
        "system": "french",
        "frequency": "monthly",
        "start_date": "",
        "purpose": "Mejoras del hogar",
        "monthly_income": "1.200",
        "monthly_expenses": "400",
        "guarantor_id_1": "0104567896",
        "guarantor_name_1": "Ana Lucía Torres Vega",
    }
    return session.post(url, data={**form, **fields})


def deposit(session, amount):
    form = {
        "csrf_token": csrf_of(session.get("/plazo-fijo/simulacion").text),
        "amount": amount,
        "term_days": "180",
        "interest_payment": "maturity",
        "start_date": "",
    }
    return session.post("/plazo-fijo/simulacion", data=form)


def test_every_money_field_reads_each_form_as_an_ecuadorian_means_it(member):
    for typed, meant in MEANT.items():
        simulated = loan(member, "/creditos/simulacion", amount=typed)
        assert simulated.status_code == 200, (typed, simulated.text[-2000:])
        assert meant in text_of(simulated.text, "schedule-summary"), typed

        applied = loan(member, "/creditos/solicitud", amount=typed)
        assert applied.status_code == 200, typed
        assert meant in text_of(applied.text, "schedule-summary"), typed

        deposited = deposit(member, typed)
        assert deposited.status_code == 200, typed
        assert text_of(deposited.text, "projected-amount") == meant, typed

    # income and expenses: 1.200 is one thousand two hundred (read as 1,20 the 40 % capacity
    # would refuse the loan); the field shows back the amount it was read as
    for income, expenses in (("1.200", "400"), ("$ 1.200,00", "400,00"), ("1200", "2.5")):
        applied = loan(
            member, "/creditos/solicitud", monthly_income=income, monthly_expenses=expenses
        )
        assert applied.status_code == 200, (income, expenses, applied.text[-2000:])
        assert field_value(applied.text, "monthly_income") == "1.200,00"


def test_an_ambiguous_amount_is_refused_with_the_expected_format_never_guessed(member):
    for typed in AMBIGUOUS:
        for field in ("amount", "monthly_income", "monthly_expenses"):
            answer = loan(member, "/creditos/solicitud", **{field: typed})
            assert answer.status_code == 422, (field, typed)
            assert text_of(answer.text, f"{field}-error") == EXPECTED
            assert field_value(answer.text, field) == typed  # kept as typed, to correct it
            assert 'id="grabar"' not in answer.text
        simulated = loan(member, "/creditos/simulacion", amount=typed)
        assert simulated.status_code == 422
        assert text_of(simulated.text, "amount-error") == EXPECTED
        deposited = deposit(member, typed)
        assert deposited.status_code == 422
        assert text_of(deposited.text, "amount-error") == EXPECTED


def test_an_empty_field_asks_for_it_in_spanish(member):
    answer = loan(
        member,
        "/creditos/solicitud",
        amount="",
        monthly_income="",
        monthly_expenses="",
        term_months="",
    )
    assert answer.status_code == 422
    assert text_of(answer.text, "amount-error") == "Ingrese el monto."
    assert text_of(answer.text, "monthly_income-error") == "Ingrese sus ingresos mensuales."
    assert text_of(answer.text, "monthly_expenses-error") == "Ingrese sus gastos mensuales."
    assert text_of(answer.text, "term_months-error") == "Ingrese el plazo en meses."
    assert "valor numérico" not in answer.text
    assert text_of(deposit(member, "").text, "amount-error") == "Ingrese el monto."


def test_solicitar_este_credito_carries_the_simulation_into_the_application(member):
    simulated = loan(member, "/creditos/simulacion", amount="2.500", term_months="24")
    link = unescape(re.search(r'id="apply-this" href="([^"]+)"', simulated.text)[1])
    form = member.get(link)
    assert form.status_code == 200
    assert field_value(form.text, "amount") == "2.500,00"
    assert field_value(form.text, "term_months") == "24"
    assert '<option value="CONSUMO"' in form.text
    assert re.search(r'<option value="CONSUMO"[^>]*selected', form.text)


def test_every_page_form_answers_with_a_redirect_to_a_get(member):
    """Post/redirect/get: Back or a reload after a form asks for a GET, never "resend?"."""
    statement_page = member.get("/estado-de-cuenta").text
    csrf = csrf_of(statement_page)
    account = re.search(r'<option value="([^"]+)"', statement_page)[1]
    loan = {
        "csrf_token": csrf,
        "product_code": "EMERGENTE",
        "amount": "1.500,00",
        "term_months": "12",
        "system": "french",
        "frequency": "monthly",
        "start_date": "",
    }
    application = {
        **loan,
        "action": "proyectar",
        "purpose": "Gastos médicos",
        "monthly_income": "1.234",
        "monthly_expenses": "400",
        "guarantor_id_1": "0104567896",
        "guarantor_name_1": "Ana Lucía Torres Vega",
    }
    deposit = {"csrf_token": csrf, "amount": "2.500", "term_days": "180"}
    deposit.update(interest_payment="maturity", start_date="")
    statement = {"csrf_token": csrf, "cuenta": account, "desde": "", "hasta": ""}
    for path, form, shows in (
        ("/creditos/simulacion", loan, "schedule-summary"),
        ("/creditos/solicitud", application, 'id="grabar"'),
        ("/plazo-fijo/simulacion", deposit, "projected-amount"),
        ("/estado-de-cuenta", statement, 'id="statement"'),
    ):
        posted = member.post(path, data=form, allow_redirects=False)
        assert posted.status_code == 303, (path, posted.text[-500:])
        result = posted.headers["Location"]
        assert result.startswith(path + "?"), result
        # the address keeps no income and no guarantor's cédula (it lands in history and logs)
        assert "0104567896" not in result and "1234" not in result and "1.234" not in result
        again = member.get(result)  # what Back or a reload asks for
        assert again.status_code == 200 and shows in again.text, path
