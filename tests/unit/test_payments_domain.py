"""payments' pure rules (docs/payments.md) with a fixed clock: limits and Ecuador's day, amounts,
states, the digest a code is bound to, the request envelope, resend and timeout, the answers."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.payments import domain
from services.payments.domain import DayOrder, Limits

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # 10:00 in Ecuador
D = Decimal


@pytest.mark.parametrize(
    ("amount", "ok"),
    [(D("1.00"), True), (D("0.99"), False), (D("10.005"), False), (D("1000.00"), True)],
)
def test_an_order_is_at_least_one_dollar_with_two_decimals(amount, ok):
    assert (domain.amount_errors(amount) == []) is ok


def test_the_day_of_a_confirmation_is_ecuadors():
    # 03:30 UTC on the 8th is still the 7th in Ecuador (UTC−5)
    assert domain.ecuador_day(datetime(2026, 12, 8, 3, 30, tzinfo=UTC)) == date(2026, 12, 7)
    assert domain.ecuador_day(datetime(2026, 12, 8, 5, 0, tzinfo=UTC)) == date(2026, 12, 8)


def test_used_today_sums_that_days_orders_to_others_that_use_the_limit():
    today = date(2026, 12, 7)
    orders = [
        DayOrder("socio", "completada", D("300.00"), today),
        DayOrder("socio", "enviada", D("200.00"), today),
        DayOrder("socio", "en_verificacion", D("50.00"), today),
        DayOrder("socio", "confirmando", D("25.00"), today),
        DayOrder("socio", "rechazada", D("900.00"), today),  # given back
        DayOrder("socio", "anulada", D("900.00"), today),
        DayOrder("propia", "completada", D("900.00"), today),  # own accounts: no limit
        DayOrder("socio", "completada", D("900.00"), date(2026, 12, 6)),  # yesterday
    ]
    assert domain.used_today(orders, today) == D("575.00")


def test_limits_per_transfer_and_what_is_left_of_the_day():
    limits = Limits(D("1000.00"), D("2000.00"))
    assert domain.limit_refusal("socio", D("1000.00"), limits, D("0.00")) is None
    assert "por transferencia" in domain.limit_refusal("socio", D("1000.01"), limits, D("0.00"))
    refusal = domain.limit_refusal("socio", D("600.00"), limits, D("1500.00"))
    assert "$ 500,00" in refusal
    assert domain.limit_refusal("socio", D("500.00"), limits, D("1500.00")) is None
    assert domain.limit_refusal("propia", D("5000.00"), limits, D("2000.00")) is None


def test_a_member_chooses_within_the_cooperatives_maximum():
    cooperative = Limits(D("1000.00"), D("2000.00"))
    assert domain.limits_errors(Limits(D("1000.01"), D("100.00")), cooperative)
    assert domain.limits_errors(Limits(D("500.00"), D("800.00")), cooperative) == []
    lowered_max = Limits(D("400.00"), D("2000.00"))
    assert domain.effective_limits(Limits(D("500.00"), D("800.00")), lowered_max) == Limits(
        D("400.00"), D("800.00")
    )


def test_states_move_only_forward_and_money_moved_wins_over_a_rejection():
    assert domain.can_move("por_confirmar", "confirmando")
    assert domain.can_move("confirmando", "enviada")
    assert domain.can_move("enviada", "en_verificacion")
    assert domain.can_move("rechazada", "completada")
    assert not domain.can_move("completada", "rechazada")
    assert not domain.can_move("anulada", "confirmando")
    assert not domain.can_move("enviada", "por_confirmar")
    with pytest.raises(domain.TransitionError):
        domain.move("por_confirmar", "enviada")


def test_the_digest_changes_with_the_amount_or_either_account():
    base = domain.order_digest("socio", D("10.00"), "4100001", "4200002")
    assert base == domain.order_digest("socio", D("10.0"), "4100001", "4200002")
    assert base != domain.order_digest("socio", D("10.01"), "4100001", "4200002")
    assert base != domain.order_digest("socio", D("10.00"), "4100009", "4200002")
    assert base != domain.order_digest("socio", D("10.00"), "4100001", "4200009")


def test_the_request_envelope_is_valid_24_hours():
    data = domain.transfer_data(
        "100", "socio", "4100001", "4200002", "200", D("12.50"), "Arriendo", "totp"
    )
    envelope = domain.request_envelope("rid-1", "transfer", data, NOW)
    assert envelope == {
        "request_id": "rid-1",
        "request_type": "transfer",
        "source": "portal",
        "requested_at": "2026-12-07T15:00:00Z",
        "valid_until": "2026-12-08T15:00:00Z",
        "version": 1,
        "data": {
            "member_number": "100",
            "kind": "socio",
            "from_account": "4100001",
            "to_account": "4200002",
            "to_member_number": "200",
            "amount": "12.50",
            "description": "Arriendo",
            "confirmed_with": "totp",
        },
    }


def test_resend_after_a_minute_unanswered_until_valid_until():
    sent = NOW
    until = domain.valid_until(sent)
    assert not domain.resend_due(sent, sent + timedelta(seconds=59), until)
    assert domain.resend_due(sent, sent + timedelta(seconds=60), until)
    assert not domain.resend_due(sent, until, until)


def test_late_after_thirty_minutes_and_anulada_after_five_unconfirmed():
    assert not domain.late(NOW, NOW + timedelta(minutes=29, seconds=59))
    assert domain.late(NOW, NOW + timedelta(minutes=30))
    assert not domain.confirmation_expired(NOW, NOW + timedelta(minutes=4, seconds=59))
    assert domain.confirmation_expired(NOW, NOW + timedelta(minutes=5))


def test_answers_apply_once_and_a_contradiction_is_parked():
    completed = domain.on_completed("enviada", D("10.00"), D("10.00"))
    assert (completed.action, completed.status) == ("apply", "completada")
    assert domain.on_completed("completada", D("10.00"), D("10.00")).action == "same"
    differs = domain.on_completed("enviada", D("10.00"), D("9.00"))
    assert (differs.action, differs.alert) == ("park", True)
    wins = domain.on_completed("rechazada", D("10.00"), D("10.00"))
    assert (wins.action, wins.status, wins.alert) == ("apply", "completada", True)
    assert domain.on_rejected("en_verificacion").status == "rechazada"
    assert domain.on_rejected("rechazada").action == "same"
    assert domain.on_rejected("completada").action == "park"


def test_a_third_partys_account_shows_its_last_four_digits():
    assert domain.mask_account("4200777001") == "****7001"


def test_an_idempotency_key_replays_for_a_day_and_frees_a_first_call_that_never_answered():
    now = datetime(2026, 12, 7, 15, 0)
    same = domain.request_fingerprint("transfer", {"amount": "12.34", "to_account": "1"})
    assert same == domain.request_fingerprint(
        "transfer", {"to_account": "1", "amount": "12.34", "description": None}
    )
    assert same != domain.request_fingerprint("beneficiary", {"amount": "12.34", "to_account": "1"})
    expires = domain.key_expires_at(now)

    def decide(fingerprint, answered, at):
        return domain.key_decision(same, answered, now, expires, fingerprint, at)

    assert decide(same, True, now + timedelta(hours=23)) == domain.REPLAY
    assert decide("other", True, now) == domain.REUSED
    assert decide(same, True, now + timedelta(hours=24)) == domain.FREE
    assert decide(same, False, now + timedelta(seconds=5)) == domain.IN_PROGRESS
    assert decide(same, False, now + timedelta(seconds=60)) == domain.FREE
    assert domain.idempotency_key_errors("app 1") and domain.idempotency_key_errors("ñ")
    assert domain.idempotency_key_errors("app-1") == []
