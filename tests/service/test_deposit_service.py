"""deposit on the real broker, on SQLite and on PostgreSQL."""

from datetime import timedelta

import pytest
from nameko.testing.services import entrypoint_waiter

from services.common.entrypoints import event_handler
from services.common.errors import ValidationError
from services.deposit.service import DepositService
from tests.conftest import load_demo

# also run on PostgreSQL (-m pg --db-backend postgres): its store's queries and numeric columns
pytestmark = pytest.mark.pg


@pytest.fixture
def deposit(service_config, container_factory, today):
    service_config = dict(service_config)
    load_demo(service_config, today, services=["deposit"], count=20)
    container = container_factory(DepositService, service_config)
    container.start()
    return service_config


@pytest.fixture
def rpc(deposit, rpc_proxy):
    return rpc_proxy("deposit")


def chart_743(valid_from):
    """The chart of the "done when" check: 121–180 days at 7.43 %."""
    return {
        "valid_from": valid_from.isoformat(),
        "bands": [
            {"min_days": 30, "max_days": 120, "min_amount": "100.00", "annual_rate": "6.00"},
            {"min_days": 121, "max_days": 180, "min_amount": "100.00", "annual_rate": "7.43"},
            {"min_days": 181, "max_days": None, "min_amount": "100.00", "annual_rate": "8.00"},
        ],
        "withholding_rate": "2.00",
    }


def test_ping(rpc):
    assert rpc.ping() == "pong"


def test_fresh_install_has_the_default_chart_of_domain_md(rpc):
    rates = rpc.rates()
    assert [(b["min_days"], b["max_days"], b["annual_rate"]) for b in rates["bands"]] == [
        (30, 60, "5.25"),
        (61, 90, "5.75"),
        (91, 120, "6.25"),
        (121, 180, "7.00"),
        (181, 270, "7.50"),
        (271, 360, "8.00"),
        (361, None, "8.50"),
    ]
    assert rates["withholding_rate"] == "2.00"
    assert (rates["min_amount"], rates["min_term_days"], rates["max_term_days"]) == (
        "100.00",
        30,
        1080,
    )


def test_simulation_of_the_worked_example_at_743(rpc, today):
    rpc.configure_rates(chart_743(today))
    sim = rpc.simulate("5000.00", 180, "maturity", today.isoformat())
    assert sim["annual_rate"] == "7.43"
    assert (sim["interest"], sim["withholding"], sim["net_interest"]) == (
        "185.75",
        "3.72",
        "182.03",
    )
    assert sim["withholding_rate"] == "2.00"
    assert sim["total_at_maturity"] == "5182.03"
    assert sim["maturity_date"] == (today + timedelta(days=180)).isoformat()
    assert sim["payments"] == [
        {
            "number": 1,
            "date": (today + timedelta(days=180)).isoformat(),
            "days": 180,
            "interest": "185.75",
            "withholding": "3.72",
            "net": "182.03",
        }
    ]


def test_simulation_with_monthly_payments_defaults_to_today(rpc, today):
    sim = rpc.simulate("10000.00", 361, "monthly")
    assert sim["start_date"] == today.isoformat()
    assert sim["annual_rate"] == "8.50"
    assert len(sim["payments"]) == 13
    assert sim["payments"][0]["interest"] == "70.83"
    assert sim["payments"][0]["date"] == (today + timedelta(days=30)).isoformat()
    assert sim["payments"][-1]["days"] == 1
    assert sim["interest"] == "852.32"


def test_maria_has_her_deposit_of_the_fixture(rpc, today):
    [dep] = rpc.list_deposits("100234")
    assert dep["deposit_number"] == "DPF-100234-01"
    assert dep["amount"] == "5000.00"
    assert dep["annual_rate"] == "7.00"  # the 121–180 band of the default chart
    assert dep["opened_on"] == (today - timedelta(days=60)).isoformat()
    assert dep["maturity_date"] == (today + timedelta(days=120)).isoformat()
    assert dep["days_left"] == 120
    assert dep["accrued_interest"] == "58.33"  # 5000 × 7 % × 60 / 360
    assert (dep["interest"], dep["withholding"], dep["net_interest"]) == (
        "175.00",
        "3.50",
        "171.50",
    )
    assert dep["interest_payment"] == "maturity"
    assert dep["interest_payment_name"] == "Al vencimiento"
    assert dep["payments_made"] == []


def test_ana_has_monthly_payments_and_one_already_made(rpc, today):
    [dep] = rpc.list_deposits("100781")
    assert dep["deposit_number"] == "DPF-100781-01"
    assert dep["amount"] == "10000.00" and dep["term_days"] == 361
    assert dep["annual_rate"] == "8.50"
    assert dep["interest_payment"] == "monthly"
    assert dep["days_left"] == 331
    assert dep["accrued_interest"] == "70.83"
    assert [(p["number"], p["date"], p["net"]) for p in dep["payments_made"]] == [
        (1, today.isoformat(), "69.41")
    ]
    assert dep["interest_paid"] == "69.41"
    assert dep["next_payment"]["number"] == 2
    assert len(dep["payments"]) == 13


def test_jose_has_no_deposit(rpc):
    assert rpc.list_deposits("100517") == []
    assert rpc.deposits_summary("100517") == []


def test_summary_for_the_consolidated_position(rpc, today):
    # several members in one call (the gateway's coalesced position), each under their number
    together = rpc.deposits_summaries(["100517", "100234"])
    assert together == {"100517": [], "100234": rpc.deposits_summary("100234")}
    assert rpc.deposits_summary("100234") == [
        {
            "deposit_number": "DPF-100234-01",
            "amount": "5000.00",
            "annual_rate": "7.00",
            "opened_on": (today - timedelta(days=60)).isoformat(),
            "maturity_date": (today + timedelta(days=120)).isoformat(),
            "accrued_interest": "58.33",
        }
    ]


def test_about_fifteen_percent_of_generated_members_have_deposits(deposit, rpc, today):
    from services.common.demo import census

    with_deposits = [
        m.member_number for m in census(today, 20)[5:] if rpc.list_deposits(m.member_number)
    ]
    assert 1 <= len(with_deposits) <= 8
    for number in with_deposits:
        for dep in rpc.list_deposits(number):
            assert dep["days_left"] >= 0
            assert dep["deposit_number"].startswith(f"DPF-{number}-")


def test_changing_the_chart_changes_new_simulations_never_existing_deposits(rpc, today):
    before = rpc.simulate("5000.00", 180, "maturity")
    assert before["annual_rate"] == "7.00"
    rpc.configure_rates(chart_743(today))
    after = rpc.simulate("5000.00", 180, "maturity")
    assert after["annual_rate"] == "7.43" and after["interest"] == "185.75"
    assert rpc.rates()["bands"][1]["annual_rate"] == "7.43"
    [maria] = rpc.list_deposits("100234")
    assert maria["annual_rate"] == "7.00" and maria["interest"] == "175.00"
    assert rpc.deposits_summary("100781")[0]["annual_rate"] == "8.50"


def test_a_future_chart_applies_from_its_date(rpc, today):
    rpc.configure_rates(chart_743(today + timedelta(days=10)))
    assert rpc.simulate("5000.00", 180, "maturity")["annual_rate"] == "7.00"
    later = (today + timedelta(days=10)).isoformat()
    assert rpc.simulate("5000.00", 180, "maturity", later)["annual_rate"] == "7.43"


def test_configuring_the_chart_emits_an_event(deposit, rpc, container_factory, today):
    received = []

    class Listener:
        name = "deposit_listener"

        @event_handler("deposit", "rates_configured")
        def on_rates(self, payload):
            received.append(payload)

    listener = container_factory(Listener, deposit)
    listener.start()
    with entrypoint_waiter(listener, "on_rates", timeout=10):
        rpc.configure_rates(chart_743(today))
    assert received[0]["data"]["bands"][1]["annual_rate"] == "7.43"
    assert received[0]["source"] == "deposit"


@pytest.mark.parametrize(
    "args, field, message",
    [
        (("99.99", 180, "maturity"), "amount", "El monto mínimo es $ 100,00."),
        (("0.00", 180, "maturity"), "amount", "El monto mínimo es $ 100,00."),
        (("5000.00", 29, "maturity"), "term_days", "El plazo mínimo es de 30 días."),
        (("5000.00", 1081, "maturity"), "term_days", "El plazo máximo es de 1.080 días."),
        (("abc", 180, "maturity"), "amount", "Debe ser un valor numérico."),
        (("1e999999", 180, "maturity"), "amount", "Debe ser un valor numérico."),
        (("5000.005", 180, "maturity"), "amount", "Use como máximo dos decimales."),
        (("5000.00", "ciento", "maturity"), "term_days", "Debe ser un número entero."),
        (
            ("5000", 180, "weekly"),
            "interest_payment",
            "Seleccione el pago de interés: al vencimiento (maturity) o mensual (monthly).",
        ),
        ((None, 180, "maturity"), "amount", "Este campo es obligatorio."),
    ],
)
def test_bad_input_is_refused_with_spanish_fields(rpc, args, field, message):
    with pytest.raises(ValidationError) as err:
        rpc.simulate(*args)
    assert err.value.fields[field] == [message]


def test_past_start_date_and_bad_dates_are_refused(rpc, today):
    with pytest.raises(ValidationError) as err:
        rpc.simulate("5000.00", 180, "maturity", (today - timedelta(days=1)).isoformat())
    assert err.value.fields == {"start_date": ["La fecha de inicio no puede estar en el pasado."]}
    with pytest.raises(ValidationError) as err:
        rpc.simulate("5000.00", 180, "maturity", "31/12/2030")
    assert err.value.fields == {"start_date": ["Fecha inválida: use el formato AAAA-MM-DD."]}


def test_bad_chart_is_refused_and_changes_nothing(rpc, today):
    bad = chart_743(today)
    bad["bands"][0]["annual_rate"] = "-1"
    with pytest.raises(ValidationError) as err:
        rpc.configure_rates(bad)
    assert "bands.0" in err.value.fields
    assert rpc.rates()["bands"][3]["annual_rate"] == "7.00"


def test_every_field_in_error_is_reported_at_once(rpc, today):
    with pytest.raises(ValidationError) as err:
        rpc.simulate("50.00", 10, "weekly", (today - timedelta(days=3)).isoformat())
    assert set(err.value.fields) == {"amount", "term_days", "interest_payment", "start_date"}
    with pytest.raises(ValidationError) as err:
        rpc.simulate("abc", 2000, "maturity")
    assert err.value.fields == {
        "amount": ["Debe ser un valor numérico."],
        "term_days": ["El plazo máximo es de 1.080 días."],
    }
