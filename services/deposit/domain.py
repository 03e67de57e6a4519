"""Pure rules of term deposits (plazo fijo): rate chart, interest, withholding, payment plan.

Everything is `Decimal`, rounded to cents half-up (docs/domain.md "Term deposits"):

- the rate comes from the chart band that holds the term (and the amount, where a band narrows it);
- interest on a 360-day base: `round(amount × rate/100 × days / 360)`;
- withholding (retención en la fuente) on each interest amount: `round(interest × rate/100)`;
- `maturity_date = start_date + term_days`;
- monthly payment: one payment every 30 days from the start, the last one on the maturity date
  taking the remaining days (a 361-day deposit pays 12 × 30 days, then 1 day at maturity);
- accrued interest to a date: `round(amount × rate/100 × days elapsed / 360)`, days elapsed
  counted from the opening date and never beyond the term.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from services.common import ecuador_locale
from services.common.clock import start_date_error
from services.deposit.codes import MATURITY, MONTHLY, PAYMENT_MODE_NAMES

DAY_BASE = 360
PAYMENT_PERIOD_DAYS = 30
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
# an amount or a rate as a Decimal or its exact text (never a float)
DecimalLike = Decimal | int | str


def to_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def interest_for(amount: DecimalLike, annual_rate: DecimalLike, days: int) -> Decimal:
    """Simple interest on a 360-day base, rounded to cents: amount × rate/100 × days / 360."""
    if days <= 0:
        return ZERO
    with localcontext() as ctx:
        ctx.prec = 60  # exact before the single rounding to cents
        return to_cents(Decimal(amount) * Decimal(annual_rate) * days / (HUNDRED * DAY_BASE))


def withholding_for(interest: DecimalLike, withholding_rate: DecimalLike) -> Decimal:
    """Retención en la fuente on one interest amount."""
    with localcontext() as ctx:
        ctx.prec = 60
        return to_cents(Decimal(interest) * Decimal(withholding_rate) / HUNDRED)


@dataclass(frozen=True)
class RateBand:
    """Rate of the terms min_days..max_days (None: no upper limit), optionally by amount."""

    min_days: int
    max_days: int | None
    annual_rate: Decimal
    min_amount: Decimal = ZERO
    max_amount: Decimal | None = None

    def holds_term(self, term_days: int) -> bool:
        return self.min_days <= term_days and (self.max_days is None or term_days <= self.max_days)

    def holds(self, term_days: int, amount: Decimal) -> bool:
        return (
            self.holds_term(term_days)
            and self.min_amount <= amount
            and (self.max_amount is None or amount <= self.max_amount)
        )


@dataclass(frozen=True)
class RateChart:
    """The rate chart in force from `valid_from`, with the product's limits and withholding."""

    valid_from: date
    bands: tuple[RateBand, ...]
    withholding_rate: Decimal = Decimal("2.00")
    min_amount: Decimal = Decimal("100.00")
    min_term_days: int = 30
    max_term_days: int = 1080
    chart_id: int | None = None

    def rate_for(self, term_days: int, amount: Decimal) -> Decimal | None:
        """The annual rate of a term and amount, or None when no band holds them.

        When bands overlap, the one with the highest minimum amount wins (the most specific
        amount band), then the one with the highest minimum term.
        """
        matching = [b for b in self.bands if b.holds(term_days, amount)]
        if not matching:
            return None
        best = max(matching, key=lambda b: (b.min_amount, b.min_days))
        return best.annual_rate


DEFAULT_BANDS = (
    RateBand(30, 60, Decimal("5.25"), Decimal("100.00")),
    RateBand(61, 90, Decimal("5.75"), Decimal("100.00")),
    RateBand(91, 120, Decimal("6.25"), Decimal("100.00")),
    RateBand(121, 180, Decimal("7.00"), Decimal("100.00")),
    RateBand(181, 270, Decimal("7.50"), Decimal("100.00")),
    RateBand(271, 360, Decimal("8.00"), Decimal("100.00")),
    RateBand(361, None, Decimal("8.50"), Decimal("100.00")),
)
# docs/domain.md's default chart (the migration seeds the same values as data).
DEFAULT_CHART = RateChart(valid_from=date(2000, 1, 1), bands=DEFAULT_BANDS)


@dataclass(frozen=True)
class Payment:
    number: int
    date: date
    days: int
    interest: Decimal
    withholding: Decimal
    net: Decimal


@dataclass(frozen=True)
class Projection:
    amount: Decimal
    term_days: int
    annual_rate: Decimal
    interest_payment: str
    start_date: date
    maturity_date: date
    withholding_rate: Decimal
    interest: Decimal
    withholding: Decimal
    net_interest: Decimal
    total_at_maturity: Decimal
    total_received: Decimal
    payments: tuple[Payment, ...] = field(default=())

    @property
    def interest_payment_name(self) -> str:
        return PAYMENT_MODE_NAMES[self.interest_payment]


def maturity_date(start_date: date, term_days: int) -> date:
    return start_date + timedelta(days=term_days)


def payment_periods(term_days: int, interest_payment: str) -> list[int]:
    """Days of each payment period: [term] at maturity; 30, 30, …, remainder when monthly."""
    if interest_payment == MATURITY:
        return [term_days]
    full, rest = divmod(term_days, PAYMENT_PERIOD_DAYS)
    return [PAYMENT_PERIOD_DAYS] * full + ([rest] if rest else [])


def payment_plan(
    amount: DecimalLike,
    annual_rate: DecimalLike,
    term_days: int,
    start_date: date,
    interest_payment: str,
    withholding_rate: DecimalLike,
) -> tuple[Payment, ...]:
    """Every interest payment of the deposit, each with its own withholding."""
    payments = []
    elapsed = 0
    for number, days in enumerate(payment_periods(term_days, interest_payment), start=1):
        elapsed += days
        interest = interest_for(amount, annual_rate, days)
        withholding = withholding_for(interest, withholding_rate)
        payments.append(
            Payment(
                number=number,
                date=start_date + timedelta(days=elapsed),
                days=days,
                interest=interest,
                withholding=withholding,
                net=interest - withholding,
            )
        )
    return tuple(payments)


def project(
    amount: DecimalLike,
    annual_rate: DecimalLike,
    term_days: int,
    start_date: date,
    interest_payment: str,
    withholding_rate: DecimalLike,
) -> Projection:
    """The projection of a deposit at a known rate.

    `interest`, `withholding` and `net_interest` are what the deposit pays over its life (with
    monthly payments, the sums of the payments). `total_at_maturity` is what the member receives
    on the maturity date (capital plus the last net payment); `total_received` is capital plus
    every net payment (the same as `total_at_maturity` when interest is paid at maturity).
    """
    amount = to_cents(Decimal(amount))
    payments = payment_plan(
        amount, annual_rate, term_days, start_date, interest_payment, withholding_rate
    )
    interest = sum((p.interest for p in payments), ZERO)
    withholding = sum((p.withholding for p in payments), ZERO)
    net = interest - withholding
    return Projection(
        amount=amount,
        term_days=term_days,
        annual_rate=Decimal(annual_rate),
        interest_payment=interest_payment,
        start_date=start_date,
        maturity_date=maturity_date(start_date, term_days),
        withholding_rate=Decimal(withholding_rate),
        interest=interest,
        withholding=withholding,
        net_interest=net,
        total_at_maturity=amount + payments[-1].net,
        total_received=amount + net,
        payments=payments,
    )


def accrued_interest(
    amount: DecimalLike, annual_rate: DecimalLike, opened_on: date, term_days: int, as_of: date
) -> Decimal:
    """Interest earned from opening to `as_of` (0 before opening, capped at the term)."""
    days = min(max((as_of - opened_on).days, 0), term_days)
    return interest_for(amount, annual_rate, days)


def _es_money(value: Decimal) -> str:
    return ecuador_locale.money(value)


def _es_int(value: int) -> str:
    return ecuador_locale.number(value, places=0)


def simulation_errors(
    amount: Decimal | None,
    term_days: int | None,
    start_date: date | None,
    today: date,
    chart: RateChart | None,
) -> dict[str, list[str]]:
    """Spanish messages per field for a simulation outside the chart's limits; empty when valid.

    A value given as None (one that was already refused as unreadable) is not checked.
    """
    errors: dict[str, list[str]] = {}
    if chart is None:
        errors["term_days"] = ["No hay una tabla de tasas vigente para la fecha de inicio."]
        return errors
    if amount is not None and amount < chart.min_amount:
        errors["amount"] = [f"El monto mínimo es {_es_money(chart.min_amount)}."]
    if term_days is not None and term_days < chart.min_term_days:
        errors["term_days"] = [f"El plazo mínimo es de {_es_int(chart.min_term_days)} días."]
    elif term_days is not None and term_days > chart.max_term_days:
        errors["term_days"] = [f"El plazo máximo es de {_es_int(chart.max_term_days)} días."]
    start_error = start_date_error(start_date, today)
    if start_error:
        errors["start_date"] = [start_error]
    if (
        amount is not None
        and term_days is not None
        and start_date is not None
        and not errors
        and chart.rate_for(term_days, amount) is None
    ):
        errors["term_days"] = ["No hay una tasa vigente para este plazo y monto."]
    return errors


def chart_errors(chart: RateChart) -> dict[str, list[str]]:
    """What is wrong with a rate chart before it is stored (Spanish, per field)."""
    errors: dict[str, list[str]] = {}
    if not chart.bands:
        errors["bands"] = ["Configure al menos una banda de tasas."]
    for index, band in enumerate(chart.bands):
        key = f"bands.{index}"
        if band.max_days is not None and band.max_days < band.min_days:
            errors.setdefault(key, []).append("El plazo máximo es menor que el mínimo.")
        if band.max_amount is not None and band.max_amount < band.min_amount:
            errors.setdefault(key, []).append("El monto máximo es menor que el mínimo.")
        if band.annual_rate <= 0:
            errors.setdefault(key, []).append("La tasa debe ser mayor que 0.")
    if not (ZERO <= chart.withholding_rate < HUNDRED):
        errors["withholding_rate"] = ["La retención debe estar entre 0 y 100 %."]
    if chart.min_term_days < 1 or chart.max_term_days < chart.min_term_days:
        errors["max_term_days"] = ["El plazo máximo debe ser mayor o igual al mínimo."]
    if chart.min_amount <= 0:
        errors["min_amount"] = ["El monto mínimo debe ser mayor que 0."]
    return errors


@dataclass(frozen=True)
class DepositTerms:
    """What a deposit stored when it was opened (its own rate, never the chart's later ones)."""

    deposit_number: str
    amount: Decimal
    term_days: int
    annual_rate: Decimal
    withholding_rate: Decimal
    interest_payment: str
    opened_on: date


@dataclass(frozen=True)
class DepositPosition:
    terms: DepositTerms
    projection: Projection
    days_left: int
    days_elapsed: int
    accrued_interest: Decimal
    payments_made: tuple[Payment, ...]
    next_payment: Payment | None


def position(terms: DepositTerms, as_of: date) -> DepositPosition:
    """An active deposit as the member sees it on `as_of`."""
    projection = project(
        terms.amount,
        terms.annual_rate,
        terms.term_days,
        terms.opened_on,
        terms.interest_payment,
        terms.withholding_rate,
    )
    made = tuple(p for p in projection.payments if p.date <= as_of)
    upcoming = [p for p in projection.payments if p.date > as_of]
    return DepositPosition(
        terms=terms,
        projection=projection,
        days_left=max((projection.maturity_date - as_of).days, 0),
        days_elapsed=min(max((as_of - terms.opened_on).days, 0), terms.term_days),
        accrued_interest=accrued_interest(
            terms.amount, terms.annual_rate, terms.opened_on, terms.term_days, as_of
        ),
        payments_made=made if terms.interest_payment == MONTHLY else (),
        next_payment=upcoming[0] if upcoming else None,
    )
