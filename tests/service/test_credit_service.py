"""credit on the real broker, with accounts beside it and the demo cooperative loaded."""

from datetime import timedelta
from decimal import Decimal

import pytest
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import func, select

from services.accounts.service import AccountsService
from services.common.db import session_scope
from services.common.errors import Conflict, NotFound, ValidationError
from services.credit import catalog, domain
from services.credit.models import Application, ApplicationGuarantor, ProductRow, outbox
from services.credit.service import CreditService
from tests.conftest import load_demo

# also run on PostgreSQL (-m pg --db-backend postgres):
# loans, schedules and concurrent applications are SQL
pytestmark = pytest.mark.pg

D = Decimal
MARIA, JOSE, LUIS = "100234", "100517", "101002"


@pytest.fixture
def credit(service_config, container_factory, today):
    load_demo(service_config, today, services=["accounts", "credit"], count=20)
    for cls in (AccountsService, CreditService):
        container_factory(cls, service_config).start()
    return service_config


@pytest.fixture
def rpc(credit, rpc_proxy):
    return rpc_proxy("credit")


@pytest.fixture
def credit_url(credit):
    return credit["CREDIT_DATABASE_URL"]


def count_applications(url):
    with session_scope(url) as session:
        return session.scalar(select(func.count(Application.id)))


def application(today, **changes):
    data = {
        "product_code": "CONSUMO",
        "amount": "5000.00",
        "term_months": 24,
        "system": "french",
        "frequency": "monthly",
        "start_date": today.isoformat(),
        "purpose": "Compra de equipos para el negocio",
        "monthly_income": "1800.00",
        "monthly_expenses": "600.00",
        "guarantors": [{"identification": "1709876542", "name": "Luis Alberto Cárdenas Ruiz"}],
    }
    data.update(changes)
    return data


# --- products -------------------------------------------------------------------------------


def test_products_are_the_seeded_catalogue_within_their_caps(rpc, credit_url, today):
    products = rpc.list_products()["products"]
    assert [p["code"] for p in products] == ["CONSUMO", "MICRO", "VIVIENDA", "EMERGENTE"]
    consumo = products[0]
    assert consumo == {
        "code": "CONSUMO",
        "name": "Crédito de consumo",
        "segment": "Consumo ordinario",
        "annual_rate": "15.60",
        "effective_annual_rate": "16.77",
        "min_amount": "500.00",
        "max_amount": "40000.00",
        "max_term_months": 72,
        "systems": ["french", "german"],
        "frequencies": ["monthly", "bimonthly", "quarterly", "semiannual"],
        "insurance_rate": "0.0500",
    }
    with session_scope(credit_url) as session:
        caps = catalog.caps(session)
        for row in catalog.active_products(session):
            domain.check_rate_cap(catalog.to_domain(row), caps, today)


def test_a_product_over_its_segment_cap_is_refused_at_load(credit_url, today, rpc):
    expensive = domain.Product(
        "CARO", "Consumo caro", "Consumo ordinario", D("18.00"), D("100"), D("1000"), 12
    )
    with pytest.raises(domain.RateCapExceeded), session_scope(credit_url) as session:
        catalog.load_product(session, expensive, today)
    with session_scope(credit_url) as session:
        assert session.get(ProductRow, "CARO") is None
    assert "CARO" not in [p["code"] for p in rpc.list_products()["products"]]


def test_simulation_at_16_77_gives_domain_md_numbers(rpc, credit_url, today):
    with session_scope(credit_url) as session:
        catalog.load_product(
            session,
            domain.Product(
                "PRUEBA",
                "Producto de prueba 16,77 %",
                "Microcrédito",
                D("16.77"),
                D("100"),
                D("20000"),
                48,
                insurance_rate=D("0"),
            ),
            today,
        )
    body = {
        "product_code": "PRUEBA",
        "amount": "10000.00",
        "term_months": 12,
        "frequency": "monthly",
        "start_date": today.isoformat(),
    }
    french = rpc.simulate({**body, "system": "french"})
    assert french["installment"] == "910.96"
    assert french["rows"][-1]["installment"] == "910.90"
    assert french["total_interest"] == "931.46"
    assert french["total_payment"] == "10931.46"
    assert french["rows"][-1]["balance"] == "0.00"
    assert french["period_rate"] == "1.3975"
    assert french["effective_annual_rate"] == "18.12"
    german = rpc.simulate({**body, "system": "german"})
    first = german["rows"][0]
    assert (first["principal"], first["interest"], first["installment"]) == (
        "833.33",
        "139.75",
        "973.08",
    )
    assert german["rows"][-1]["installment"] == "845.02"
    assert german["total_interest"] == "908.38"


def test_simulation_stores_nothing(rpc, credit_url, today):
    schedule = rpc.simulate(
        {
            "product_code": "CONSUMO",
            "amount": "3000.00",
            "term_months": 12,
            "system": "german",
            "frequency": "quarterly",
        }
    )
    assert schedule["installments_count"] == 4
    assert schedule["start_date"] == today.isoformat()
    assert schedule["rows"][0]["insurance"] == "4.50"  # 3 000 × 0.05 % × 3 months
    assert count_applications(credit_url) == 0


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"amount": "100.00"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "mil"}, "amount"),
        ({"amount": "1000.001"}, "amount"),
        ({"term_months": 10, "frequency": "quarterly"}, "term_months"),
        ({"term_months": 84}, "term_months"),
        ({"term_months": "doce"}, "term_months"),
        ({"product_code": "NOEXISTE"}, "product_code"),
        ({"system": "americano"}, "system"),
        ({"frequency": "weekly"}, "frequency"),
        ({"start_date": "2020-01-01"}, "start_date"),
        ({"start_date": "01/01/2030"}, "start_date"),
        ({"color": "rojo"}, "color"),
    ],
)
def test_bad_simulation_input_is_422_with_spanish_fields(rpc, changes, field):
    body = {
        "product_code": "CONSUMO",
        "amount": "1000.00",
        "term_months": 12,
        "system": "french",
        "frequency": "monthly",
        **changes,
    }
    with pytest.raises(ValidationError) as err:
        rpc.simulate(body)
    assert field in err.value.fields
    assert all(isinstance(m, str) and m for m in err.value.fields[field])


# --- loans ----------------------------------------------------------------------------------


def test_maria_has_two_active_loans_and_jose_none(rpc):
    maria = rpc.list_loans(MARIA)
    assert [loan["loan_number"] for loan in maria["loans"]] == ["CR-100234-01", "CR-100234-02"]
    assert maria["message"] is None
    micro = maria["loans"][1]
    assert micro["overdue_installments"] == 1
    assert micro["paid_installments"] == 5
    assert micro["amount"] == "4000.00"
    assert rpc.list_loans(JOSE) == {"loans": [], "message": "No posee créditos vigentes"}


def test_the_loan_table_is_the_stored_schedule_with_statuses(rpc, today):
    loan = rpc.get_loan(MARIA, "CR-100234-02")
    rows = loan["rows"]
    assert len(rows) == 24 and loan["system"] == "german"
    assert [r["status"] for r in rows[:7]] == ["pagada"] * 5 + ["vencida", "pendiente"]
    assert all(r["paid_on"] for r in rows[:5]) and rows[5]["paid_on"] is None
    assert rows[5]["due_date"] < today.isoformat()
    # the next installment is never a past date (API.md, additions): the 7th; the 6th is overdue
    assert loan["next_due_date"] == rows[6]["due_date"] >= today.isoformat()
    assert loan["next_installment"] == rows[6]["installment"]
    assert loan["oldest_overdue_due_date"] == rows[5]["due_date"]
    assert D(loan["outstanding_principal"]) == D(rows[4]["balance"])
    assert sum(D(r["principal"]) for r in rows) == D("4000.00")
    assert rows[-1]["balance"] == "0.00"
    assert D(loan["total_payment"]) == sum(D(r["installment"]) for r in rows)
    assert loan["guarantors"][0]["name"] == "Ana Lucía Torres Vega"
    assert loan["guarantors"][0]["identification_masked"] == "01******96"
    cancelled = rpc.get_loan(MARIA, "CR-100234-00")
    assert cancelled["status"] == "cancelado"
    assert {r["status"] for r in cancelled["rows"]} == {"pagada"}


def test_another_members_loan_is_not_found(rpc):
    with pytest.raises(NotFound):
        rpc.get_loan(JOSE, "CR-100234-01")
    with pytest.raises(NotFound):
        rpc.get_loan(MARIA, "CR-999999-01")


def test_loans_summary_for_the_consolidated_position(rpc):
    summary = rpc.loans_summary(MARIA)
    assert [set(item) for item in summary] == [
        {
            "loan_number",
            "product_name",
            "amount",
            "outstanding_principal",
            "next_due_date",
            "next_installment",
            "overdue_installments",
            "overdue_amount",
            "days_overdue",
            "oldest_overdue_due_date",
            "late_interest",
            "total_due",
            "due_as_of",
        }
    ] * 2
    assert summary[1]["overdue_installments"] == 1
    # what is due now: the overdue installment itself (the position's "vencida desde")
    loan = rpc.get_loan(MARIA, summary[1]["loan_number"])
    late = [row["installment"] for row in loan["rows"] if row["status"] == "vencida"]
    assert summary[1]["overdue_amount"] == late[0] and summary[0]["overdue_amount"] == "0.00"
    assert rpc.loans_summary(JOSE) == []
    luis = rpc.loans_summary(LUIS)
    assert luis[0]["loan_number"] == "CR-101002-01" and luis[0]["amount"] == "45000.00"
    # several members in one call (the gateway's coalesced position), each under their number
    assert rpc.loans_summaries([LUIS, JOSE, MARIA]) == {LUIS: luis, JOSE: [], MARIA: summary}


def test_guarantees_in_both_directions_with_masked_identifications(rpc):
    maria = rpc.guarantees(MARIA)
    by_loan = {g["loan_number"]: g for g in maria["guarantors"]}
    assert set(by_loan) == {"CR-100234-01", "CR-100234-02", "CR-100234-00"}
    assert by_loan["CR-100234-01"]["name"] == "Luis Alberto Cárdenas Ruiz"
    assert by_loan["CR-100234-01"]["identification_masked"] == "17******42"
    assert by_loan["CR-100234-01"]["status"] == "vigente"
    assert by_loan["CR-100234-00"]["status"] == "liberada" and by_loan["CR-100234-00"]["until"]
    assert [g["loan_number"] for g in maria["guaranteed_by_me"]] == ["CR-101002-01"]
    jose = rpc.guarantees(JOSE)
    assert jose["guarantors"] == []
    assert jose["guaranteed_by_me"][0]["loan_number"] == "CR-100234-00"
    assert jose["guaranteed_by_me"][0]["identification_masked"] == "17******75"
    assert "1712345675" not in str(jose)


# --- applications ---------------------------------------------------------------------------


def test_submit_application_saves_ingresada_and_emits_the_event(
    credit, rpc, container_factory, today, credit_url
):
    from services.common.entrypoints import event_handler

    received = []

    class Listener:
        name = "credit_listener"

        @event_handler("credit", "application_submitted")
        def on_submitted(self, payload):
            received.append(payload)

    listener = container_factory(Listener, credit)
    listener.start()
    with entrypoint_waiter(listener, "on_submitted", timeout=10):
        created = rpc.submit_application(MARIA, application(today), "clave-1")
    assert created["status"] == "ingresada"
    assert created["application_number"].startswith("SC-")
    assert created["schedule"]["installments_count"] == 24
    event = received[0]
    assert event["source"] == "credit" and event["event_type"] == "application_submitted"
    assert event["data"] == {
        "application_number": created["application_number"],
        "member_number": MARIA,
        "email": "maria.perez@example.com",
        "display_name": "María Pérez",
        "product_code": "CONSUMO",
        "product_name": "Crédito de consumo",
        "amount": "5000.00",
        "term_months": 24,
        "submitted_at": created["submitted_at"],
    }
    listed = rpc.list_applications(MARIA)["applications"]
    assert [a["application_number"] for a in listed] == [created["application_number"]]
    assert listed[0]["guarantors"] == [
        {"identification_masked": "17******42", "name": "Luis Alberto Cárdenas Ruiz"}
    ]
    assert rpc.list_applications(JOSE) == {"applications": []}


def test_same_idempotency_key_gives_the_same_application(rpc, today, credit_url):
    first = rpc.submit_application(MARIA, application(today), "doble-clic")
    again = rpc.submit_application(MARIA, application(today), "doble-clic")
    assert again == first
    assert count_applications(credit_url) == 1
    with pytest.raises(Conflict):
        rpc.submit_application(MARIA, application(today, amount="6000.00"), "doble-clic")
    # another member may use the same key for their own application
    other = rpc.submit_application(LUIS, application(today, guarantors=[]), "doble-clic")
    assert other["application_number"] != first["application_number"]
    with session_scope(credit_url) as session:
        assert session.scalar(select(func.count(outbox.c.id))) == 2


def test_concurrent_submissions_with_one_key_create_one_application(rpc, today, credit_url):
    calls = [
        rpc.submit_application.call_async(MARIA, application(today), "carrera") for _ in range(4)
    ]
    numbers = {call.result()["application_number"] for call in calls}
    assert len(numbers) == 1
    assert count_applications(credit_url) == 1


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"amount": "50000.00"}, "amount"),
        ({"amount": "-100"}, "amount"),
        ({"start_date": "2020-02-02"}, "start_date"),
        ({"term_months": 25, "frequency": "bimonthly"}, "term_months"),
        ({"product_code": "NOEXISTE"}, "product_code"),
        ({"monthly_income": "0"}, "monthly_income"),
        ({"monthly_income": "abc"}, "monthly_income"),
        ({"monthly_expenses": "-1"}, "monthly_expenses"),
        ({"monthly_income": "700.00", "monthly_expenses": "300.00"}, "monthly_income"),
        (
            {
                "guarantors": [
                    {"identification": i, "name": "Garante Uno"}
                    for i in ("1709876542", "0104567896", "0918765439", "1803456787")
                ]
            },
            "guarantors",
        ),
        (
            {"guarantors": [{"identification": "1712345670", "name": "Cédula Errada"}]},
            "guarantors.0.identification",
        ),
        (
            {"guarantors": [{"identification": "1712345675", "name": "María Pérez"}]},
            "guarantors.0.identification",
        ),
        ({"purpose": ""}, "purpose"),
    ],
)
def test_bad_application_is_422_and_stores_nothing(rpc, today, credit_url, changes, field):
    with pytest.raises(ValidationError) as err:
        rpc.submit_application(MARIA, application(today, **changes), "mala")
    assert field in err.value.fields
    assert count_applications(credit_url) == 0
    with session_scope(credit_url) as session:
        assert session.scalar(select(func.count(ApplicationGuarantor.id))) == 0
        assert session.scalar(select(func.count(outbox.c.id))) == 0


def test_past_start_date_and_capacity_messages_are_clear(rpc, today):
    yesterday = (today - timedelta(days=1)).isoformat()
    with pytest.raises(ValidationError) as err:
        rpc.project_application(MARIA, application(today, start_date=yesterday))
    assert err.value.fields["start_date"] == ["La fecha de inicio no puede estar en el pasado."]
    with pytest.raises(ValidationError) as err:
        rpc.project_application(
            MARIA, application(today, monthly_income="700.00", monthly_expenses="300.00")
        )
    assert "supera su capacidad de pago" in err.value.fields["monthly_income"][0]
    with pytest.raises(ValidationError) as err:
        rpc.project_application(
            MARIA,
            application(
                today, guarantors=[{"identification": "1712345675", "name": "María Pérez"}]
            ),
        )
    assert err.value.fields["guarantors.0.identification"] == [
        "El solicitante no puede ser su propio garante."
    ]


def test_project_application_shows_the_table_and_stores_nothing(rpc, today, credit_url):
    schedule = rpc.project_application(MARIA, application(today))
    assert schedule["installments_count"] == 24
    assert schedule["rows"][0]["due_date"] > today.isoformat()
    assert count_applications(credit_url) == 0


def test_accounts_says_yes_or_no_for_the_applicant_identification(credit, rpc_proxy):
    accounts = rpc_proxy("accounts")
    assert accounts.is_member_identification(MARIA, "1712345675") is True
    assert accounts.is_member_identification(MARIA, "1709876542") is False
    assert accounts.is_member_identification("999999", "1712345675") is False


def test_position_sums_in_the_database_agree_with_the_domain_rule(credit_url, today):
    """store.loan_positions (SQL aggregates, used by the position) against domain.loan_position
    over every stored schedule of the demo, on a day when some installments are overdue."""
    from services.credit import store
    from services.credit.models import Loan

    with session_scope(credit_url) as session:
        members = session.scalars(select(Loan.member_number).distinct()).all()
        assert len(members) >= 3
        for day in (today, today + timedelta(days=45)):
            for member in members:
                expected = [
                    store.loan_summary(loan, day) for loan in store.active_loans(session, member)
                ]
                got = store.loan_positions(session, member, day)
                assert [g["loan_number"] for g in got] == [e["loan_number"] for e in expected]
                for g, e in zip(got, expected, strict=True):
                    for key in g:
                        assert g[key] == e[key], (member, day, key)
