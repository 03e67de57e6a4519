"""Pure rules of the credit service: amortization tables, product limits, application rules.

No nameko, no SQLAlchemy: plain Decimal arithmetic that a reader can check by hand against
docs/domain.md ("Loans"). Amounts are rounded to cents ROUND_HALF_UP at each row, exactly as the
cooperative's core system does, and the last row absorbs the rounding.
"""

import calendar
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol, TypedDict

from services.common import ecuador_locale
from services.common.clock import start_date_error
from services.credit.codes import (  # codes and names (published by contracts.py)
    APPROVED,
    DENIED,
    DISBURSED,
    FREQUENCIES,
    FREQUENCY_NAMES,
    IN_ANALYSIS,
    IN_PROCESS,
    MAX_GUARANTORS,
    STATUS_LABELS,
    SUBMITTED,
    SYSTEMS,
    WITHDRAWN,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)

DEFAULT_INSURANCE_RATE = Decimal("0.0500")  # desgravamen, % of the balance per month
PAYMENT_CAPACITY = Decimal("0.40")  # the installment may take at most 40 % of income − expenses

# Installment statuses of an active loan
PAID, OVERDUE, PENDING = "pagada", "vencida", "pendiente"
NO_ACTIVE_LOANS = "No posee créditos vigentes"

# an amount or a rate as a Decimal or its exact text (never a float)
DecimalLike = Decimal | int | str


def cents(value: DecimalLike) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def add_months(start: date, months: int) -> date:
    """`start` moved `months` months later, the day clamped to the month's last day.

    Always counted from `start` (not from the previous due date), so 31 Jan → 28/29 Feb →
    31 Mar keeps the original day whenever the month has it.
    """
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def months_per_period(frequency: str) -> int:
    return FREQUENCIES[frequency]


def period_rate(annual_rate: DecimalLike, frequency: str) -> Decimal:
    """i = annual_rate / 100 × months_per_period / 12 (30/360), kept unrounded."""
    return Decimal(annual_rate) / HUNDRED * months_per_period(frequency) / 12


def effective_annual_rate(annual_rate: DecimalLike, frequency: str) -> Decimal:
    """(1 + i)^(12 / months_per_period) − 1, as a percent with two decimals."""
    i = period_rate(annual_rate, frequency)
    periods_per_year = 12 // months_per_period(frequency)
    return cents(((1 + i) ** periods_per_year - 1) * HUNDRED)


def french_installment(amount: DecimalLike, i: Decimal, n: int) -> Decimal:
    """round(P·i / (1 − (1+i)^−n)); with a zero rate, the amount split evenly."""
    if i == 0:
        return cents(Decimal(amount) / n)
    return cents(Decimal(amount) * i / (1 - (1 + i) ** -n))


@dataclass(frozen=True)
class Row:
    number: int
    due_date: date
    principal: Decimal
    interest: Decimal
    insurance: Decimal
    balance: Decimal

    @property
    def installment(self) -> Decimal:
        """What the member pays that period: principal + interest + insurance."""
        return self.principal + self.interest + self.insurance


@dataclass(frozen=True)
class Schedule:
    system: str
    frequency: str
    amount: Decimal
    annual_rate: Decimal
    term_months: int
    start_date: date
    insurance_rate: Decimal
    rows: list[Row] = field(default_factory=list)

    @property
    def period_rate(self) -> Decimal:
        return period_rate(self.annual_rate, self.frequency)

    @property
    def installments_count(self) -> int:
        return len(self.rows)

    @property
    def effective_annual_rate(self) -> Decimal:
        return effective_annual_rate(self.annual_rate, self.frequency)

    @property
    def installment(self) -> Decimal:
        return self.rows[0].installment

    @property
    def max_installment(self) -> Decimal:
        return max(r.installment for r in self.rows)

    @property
    def total_principal(self) -> Decimal:
        return sum((r.principal for r in self.rows), ZERO)

    @property
    def total_interest(self) -> Decimal:
        return sum((r.interest for r in self.rows), ZERO)

    @property
    def total_insurance(self) -> Decimal:
        return sum((r.insurance for r in self.rows), ZERO)

    @property
    def total_payment(self) -> Decimal:
        return self.total_principal + self.total_interest + self.total_insurance


def amortize(
    amount: DecimalLike,
    annual_rate: DecimalLike,
    term_months: int,
    system: str,
    frequency: str,
    start_date: date,  # the caller's: the domain reads no clock
    insurance_rate: DecimalLike = DEFAULT_INSURANCE_RATE,
) -> Schedule:
    """The amortization table of docs/domain.md.

    `annual_rate` is the nominal annual rate in percent, `insurance_rate` the desgravamen monthly
    rate in percent of the balance at the start of each period (scaled by the months in it).
    """
    amount = Decimal(amount)
    annual_rate = Decimal(annual_rate)
    insurance_rate = Decimal(insurance_rate)
    if system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}")
    months = months_per_period(frequency)
    if term_months <= 0 or term_months % months:
        raise ValueError("term_months must be a positive multiple of the period")
    if amount <= 0 or amount != cents(amount):
        raise ValueError("amount must be positive, in cents")
    n = term_months // months
    i = period_rate(annual_rate, frequency)
    insurance_per_period = insurance_rate / HUNDRED * months
    # each is used by its own system only
    fixed_installment = french_installment(amount, i, n) if system == "french" else ZERO
    fixed_principal = cents(amount / n) if system == "german" else ZERO

    rows = []
    balance = amount
    for k in range(1, n + 1):
        interest = cents(balance * i)
        insurance = cents(balance * insurance_per_period)
        if k == n:
            principal = balance
        elif system == "french":
            principal = fixed_installment - interest
        else:
            principal = fixed_principal
        # a rounding can never take more principal than what is owed
        principal = min(principal, balance)
        balance = balance - principal
        rows.append(
            Row(k, add_months(start_date, k * months), principal, interest, insurance, balance)
        )
    return Schedule(
        system, frequency, amount, annual_rate, term_months, start_date, insurance_rate, rows
    )


# --- installments of an active loan -------------------------------------------------------


def installment_status(due_date: date, paid_on: date | None, today: date) -> str:
    if paid_on is not None:
        return PAID
    if due_date < today:
        return OVERDUE
    return PENDING


@dataclass(frozen=True)
class LoanPosition:
    outstanding_principal: Decimal
    next_due_date: date | None
    next_installment: Decimal | None
    overdue_installments: int
    paid_installments: int
    overdue_amount: Decimal = ZERO  # what the overdue installments add up to (due now)
    oldest_overdue_due_date: date | None = None  # the due date of the oldest unpaid one, if late


class StoredInstallment(Protocol):
    """An installment of a stored schedule (a row of the loan's table)."""

    @property
    def number(self) -> int: ...
    @property
    def due_date(self) -> date: ...
    @property
    def principal(self) -> Decimal: ...
    @property
    def installment(self) -> Decimal: ...
    @property
    def paid_on(self) -> date | None: ...


def loan_position(
    amount: DecimalLike, rows: Iterable[StoredInstallment], today: date
) -> LoanPosition:
    """Outstanding principal, next installment and the overdue ones of a stored schedule.

    `rows` are objects with number, due_date, principal, installment and paid_on. The next
    installment is the first unpaid one due today or later — never a past date; the overdue
    ones (unpaid, due before today) are counted and summed apart.
    """
    rows = sorted(rows, key=lambda r: r.number)
    paid = [r for r in rows if r.paid_on is not None]
    unpaid = [r for r in rows if r.paid_on is None]
    outstanding = Decimal(amount) - sum((r.principal for r in paid), ZERO)
    late = [r for r in unpaid if installment_status(r.due_date, None, today) == OVERDUE]
    upcoming = [r for r in unpaid if r.due_date >= today]
    nxt = upcoming[0] if upcoming else None
    return LoanPosition(
        outstanding_principal=outstanding,
        next_due_date=nxt.due_date if nxt else None,
        next_installment=nxt.installment if nxt else None,
        overdue_installments=len(late),
        paid_installments=len(paid),
        overdue_amount=sum((r.installment for r in late), ZERO),
        oldest_overdue_due_date=late[0].due_date if late else None,
    )


class DueSnapshot(Protocol):
    """The core's latest `loan_due_updated` of a loan, as stored."""

    @property
    def as_of(self) -> date: ...
    @property
    def days_overdue(self) -> int: ...
    @property
    def oldest_overdue_due_date(self) -> date | None: ...
    @property
    def late_interest(self) -> Decimal: ...
    @property
    def total_due(self) -> Decimal: ...


class Arrears(TypedDict):
    days_overdue: int | None
    oldest_overdue_due_date: date | None
    late_interest: Decimal | None
    total_due: Decimal | None
    due_as_of: date | None


def arrears(snapshot: DueSnapshot | None, local_oldest: date | None) -> Arrears:
    """How late a loan is as the member is told: the core's figures of its latest snapshot
    (days late, late interest, the total to pay, on its date); none when the core sent none or
    says the loan is up to date. The portal never computes late interest itself. Without a
    snapshot the oldest overdue due date is still the stored table's (`local_oldest`)."""
    if snapshot is None or snapshot.days_overdue == 0:
        return Arrears(
            days_overdue=None,
            oldest_overdue_due_date=local_oldest,
            late_interest=None,
            total_due=None,
            due_as_of=None,
        )
    return Arrears(
        days_overdue=snapshot.days_overdue,
        oldest_overdue_due_date=snapshot.oldest_overdue_due_date or local_oldest,
        late_interest=snapshot.late_interest,
        total_due=snapshot.total_due,
        due_as_of=snapshot.as_of,
    )


# --- paying installments online (docs/credit.md, "Paying installments") ----------------------

NOTHING_DUE = "El crédito no tiene cuotas por pagar."
LOAN_CLOSED = "El crédito ya está cancelado."
NO_DUE_FIGURES = (
    "Su crédito tiene cuotas vencidas y la cooperativa aún no informa el interés de mora de hoy: "
    "por ahora no puede pagarlo en línea. Intente más tarde o acérquese a una agencia."
)


class QuoteSnapshot(Protocol):
    """What a payment's quote reads of the core's latest `loan_due_updated`."""

    @property
    def as_of(self) -> date: ...
    @property
    def days_overdue(self) -> int: ...
    @property
    def late_interest(self) -> Decimal: ...
    @property
    def other_charges(self) -> Decimal: ...


@dataclass(frozen=True)
class PaymentQuote:
    """What paying a loan online costs today: the overdue installments and the next one."""

    installment_numbers: tuple[int, ...]
    installments_amount: Decimal
    late_interest: Decimal
    other_charges: Decimal
    amount: Decimal
    as_of: date | None  # the core's snapshot the late interest comes from (None: not late)
    days_overdue: int
    due_date: date  # the due date of the oldest installment paid


def payment_quote(
    status: str, rows: Iterable[StoredInstallment], snapshot: QuoteSnapshot | None, today: date
) -> PaymentQuote:
    """The quote a member sees and confirms: every unpaid installment due before `today` plus
    the next one, oldest first, each for its `installment` (insurance included, as in the
    table), plus the late interest and other charges of the core's latest snapshot. The portal
    never computes late interest: a loan in arrears without a snapshot saying so is refused
    (`Refusal`), and so is one with nothing left to pay."""
    if status != "activo":
        raise Refusal(LOAN_CLOSED)
    unpaid = sorted((r for r in rows if r.paid_on is None), key=lambda r: r.number)
    late = [r for r in unpaid if r.due_date < today]
    upcoming = [r for r in unpaid if r.due_date >= today]
    chosen = late + upcoming[:1]
    if not chosen:
        raise Refusal(NOTHING_DUE)
    installments = sum((r.installment for r in chosen), ZERO)
    if not late:
        late_interest = other = ZERO
        as_of, days = None, 0
    elif snapshot is None or snapshot.days_overdue == 0:
        raise Refusal(NO_DUE_FIGURES)
    else:
        late_interest, other = snapshot.late_interest, snapshot.other_charges
        as_of, days = snapshot.as_of, snapshot.days_overdue
    return PaymentQuote(
        installment_numbers=tuple(r.number for r in chosen),
        installments_amount=installments,
        late_interest=late_interest,
        other_charges=other,
        amount=installments + late_interest + other,
        as_of=as_of,
        days_overdue=days,
        due_date=chosen[0].due_date,
    )


# --- products and the regulator's caps ------------------------------------------------------


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    segment: str
    annual_rate: Decimal
    min_amount: Decimal
    max_amount: Decimal
    max_term_months: int
    systems: tuple[str, ...] = SYSTEMS
    frequencies: tuple[str, ...] = tuple(FREQUENCIES)
    insurance_rate: Decimal = DEFAULT_INSURANCE_RATE


@dataclass(frozen=True)
class RateCap:
    segment: str
    max_effective_rate: Decimal
    valid_from: date


class RateCapExceeded(ValueError):
    pass


def cap_in_force(caps: Iterable[RateCap], segment: str, on: date) -> RateCap | None:
    """The cap of `segment` in force on `on`: the latest one whose valid_from is not after it."""
    candidates = [c for c in caps if c.segment == segment and c.valid_from <= on]
    return max(candidates, key=lambda c: c.valid_from) if candidates else None


def product_effective_rate(product: Product) -> Decimal:
    """The highest effective annual rate the product can charge (its most frequent period)."""
    return max(effective_annual_rate(product.annual_rate, f) for f in product.frequencies)


def check_rate_cap(product: Product, caps: Iterable[RateCap], on: date) -> Decimal:
    """Raise RateCapExceeded when the product's effective rate is over its segment's cap."""
    cap = cap_in_force(caps, product.segment, on)
    if cap is None:
        raise RateCapExceeded(f"no rate cap in force for segment {product.segment!r} on {on}")
    rate = product_effective_rate(product)
    if rate > cap.max_effective_rate:
        raise RateCapExceeded(
            f"{product.code}: effective annual rate {rate} % exceeds the cap "
            f"{cap.max_effective_rate} % of {product.segment} (valid from {cap.valid_from})"
        )
    return rate


# --- validation of a simulation or an application ------------------------------------------


def request_errors(
    product: Product | None,
    amount: Decimal | None,
    term_months: int | None,
    system: str | None,
    frequency: str | None,
    start_date: date | None,
    today: date,
) -> dict[str, list[str]]:
    """Spanish messages per field for a loan request against its product; empty when valid."""
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if product is None:
        add("product_code", "El producto de crédito no existe.")
        return errors
    if amount is not None and not product.min_amount <= amount <= product.max_amount:
        add(
            "amount",
            f"El monto debe estar entre {fmt_money(product.min_amount)} y "
            f"{fmt_money(product.max_amount)} para {product.name}.",
        )
    if system is not None and system not in product.systems:
        add("system", "El sistema de amortización no está disponible para este producto.")
    if frequency is not None and frequency not in product.frequencies:
        add("frequency", "La frecuencia de pago no está disponible para este producto.")
    if term_months is not None:
        if term_months > product.max_term_months:
            add(
                "term_months",
                f"El plazo máximo de {product.name} es {product.max_term_months} meses.",
            )
        if frequency in FREQUENCIES and term_months % FREQUENCIES[frequency]:
            add(
                "term_months",
                f"El plazo debe ser múltiplo de {FREQUENCIES[frequency]} meses "
                f"para la frecuencia {FREQUENCY_NAMES[frequency].lower()}.",
            )
    start_error = start_date_error(start_date, today)
    if start_error:
        add("start_date", start_error)
    return errors


def monthly_equivalent(installment: DecimalLike, frequency: str) -> Decimal:
    """An installment of a longer period expressed per month, to compare with monthly income."""
    return cents(Decimal(installment) / months_per_period(frequency))


def payment_capacity_errors(
    schedule: Schedule, monthly_income: Decimal, monthly_expenses: Decimal
) -> dict[str, list[str]]:
    """The 40 % rule: the (monthly equivalent) installment ≤ 40 % of income − expenses."""
    errors: dict[str, list[str]] = {}
    if monthly_income <= 0:
        errors["monthly_income"] = ["Los ingresos mensuales deben ser mayores que 0."]
        return errors
    available = monthly_income - monthly_expenses
    if available <= 0:
        errors["monthly_expenses"] = ["Los gastos mensuales deben ser menores que los ingresos."]
        return errors
    capacity = cents(available * PAYMENT_CAPACITY)
    needed = monthly_equivalent(schedule.max_installment, schedule.frequency)
    if needed > capacity:
        errors["monthly_income"] = [
            f"La cuota mensual de {fmt_money(needed)} supera su capacidad de pago de "
            f"{fmt_money(capacity)} (40 % de ingresos menos gastos). "
            "Reduzca el monto o amplíe el plazo."
        ]
    return errors


def guarantor_errors(
    guarantors: Sequence[Mapping[str, str]],
    is_valid_cedula: Callable[[str], bool],
    is_applicant: Callable[[str], bool],
) -> dict[str, list[str]]:
    """Up to 3 guarantors, valid cédula, no repeats, none the applicant.

    `is_valid_cedula(identification)` and `is_applicant(identification)` are given by the caller
    (the check digit comes from python-stdnum, the applicant's cédula is only known to accounts).
    """
    errors: dict[str, list[str]] = {}
    if len(guarantors) > MAX_GUARANTORS:
        errors["guarantors"] = [f"Puede registrar como máximo {MAX_GUARANTORS} garantes."]
        return errors
    seen = set()
    for index, guarantor in enumerate(guarantors):
        ident = guarantor["identification"]
        key = f"guarantors.{index}.identification"
        if not is_valid_cedula(ident):
            errors.setdefault(key, []).append("La cédula no es válida.")
        elif ident in seen:
            errors.setdefault(key, []).append("El garante está repetido.")
        elif is_applicant(ident):
            errors.setdefault(key, []).append("El solicitante no puede ser su propio garante.")
        seen.add(ident)
    return errors


def mask_identification(identification: str | None) -> str:
    """'1712345675' -> '17******75'."""
    ident = identification or ""
    if len(ident) <= 4:
        return "*" * len(ident)
    return ident[:2] + "*" * (len(ident) - 4) + ident[-2:]


def fmt_money(value: DecimalLike) -> str:
    """$ 1.234,50 (es-EC) for messages."""
    return ecuador_locale.money(cents(value))


# --- what the core tells the portal (docs/integration.md) -----------------------------------


class Refusal(ValueError):
    """An event of the core that cannot be applied; the text says why, for a person."""


class CoreInstallment(TypedDict):
    """A row of the core's amortization table (`loan_disbursed`'s `schedule`, loaded)."""

    number: int
    principal: Decimal
    interest: Decimal
    insurance: Decimal
    installment: Decimal
    balance: Decimal


def schedule_errors(amount: Decimal, rows: Sequence[CoreInstallment]) -> list[str]:
    """Why the core's table of a loan of `amount` does not add up ([] when it does).

    Rows are dicts (number, principal, interest, insurance, installment, balance), numbered
    1..n in order; each installment is principal + interest + insurance, each balance what
    remains after that row's principal, and Σ principal is the amount.
    """
    errors = []
    numbers = [row["number"] for row in rows]
    if numbers != list(range(1, len(rows) + 1)):
        errors.append("Las cuotas deben numerarse 1, 2, 3… en orden.")
    total = sum((row["principal"] for row in rows), ZERO)
    if total != Decimal(amount):
        errors.append(
            f"La suma del capital de la tabla ({total:.2f}) no es igual al monto ({amount:.2f})."
        )
        return errors
    balance = Decimal(amount)
    for row in rows:
        if row["installment"] != row["principal"] + row["interest"] + row["insurance"]:
            errors.append(
                f"Cuota {row['number']}: el valor de la cuota no es capital + interés + seguro."
            )
            break
        balance -= row["principal"]
        if row["balance"] != balance:
            errors.append(
                f"Cuota {row['number']}: el saldo ({row['balance']:.2f}) no corresponde "
                f"({balance:.2f})."
            )
            break
    return errors


def payment_refusal(
    loan_status: str,
    installment_number: int,
    numbers_paid: Container[int],
    installment_numbers: Container[int],
) -> str | None:
    """Why a payment of installment `installment_number` cannot apply (None when it can)."""
    if loan_status != "activo":
        return "El crédito ya fue cancelado: no admite pagos."
    if installment_number not in installment_numbers:
        return f"La cuota {installment_number} no existe en la tabla del crédito."
    if installment_number in numbers_paid:
        return f"La cuota {installment_number} ya está pagada con otra referencia."
    return None


# --- the application lifecycle --------------------------------------------------------------
# ingresada → en_analisis → aprobada | negada → desembolsada; a status never goes back.

STATUS_RANK = {SUBMITTED: 0, IN_ANALYSIS: 1, APPROVED: 2, DENIED: 2, DISBURSED: 3}


def status_change(current: str, new: str) -> bool:
    """True when `current → new` moves the application forward, False when it is already
    there (nothing to do); raises Refusal when it would go back or sideways."""
    if new == current:
        return False
    if current == WITHDRAWN:
        # the member withdrew it: a later decision of the core changes nothing for the member
        raise Refusal(
            f"El socio desistió de la solicitud: no puede pasar a {STATUS_LABELS[new].lower()}."
        )
    if current == DENIED and new == DISBURSED:
        raise Refusal("La solicitud fue negada: no puede pasar a desembolsada.")
    if STATUS_RANK[new] <= STATUS_RANK[current]:
        raise Refusal(
            f"La solicitud está {STATUS_LABELS[current].lower()}: "
            f"no puede volver a {STATUS_LABELS[new].lower()}."
        )
    return True


class StatusStep(TypedDict):
    status: str
    at: datetime


class StatusChange(Protocol):
    """A stored change of an application's status."""

    @property
    def status(self) -> str: ...
    @property
    def at(self) -> datetime: ...


def status_history(submitted_at: datetime, changes: Iterable[StatusChange]) -> list[StatusStep]:
    """[{status, at}] from `ingresada` (when it was saved) through every later change."""
    return [StatusStep(status=SUBMITTED, at=submitted_at)] + [
        StatusStep(status=c.status, at=c.at) for c in changes
    ]


DERIVED_KEY_PREFIX = "auto:"


def derived_idempotency_keys(fingerprint: str, today: date) -> list[str]:
    """The keys of an application sent without `Idempotency-Key` (docs/api.md): the request's
    fingerprint on today's and yesterday's date (Ecuador). The same application sent again
    within a day (a client retry, a request that answered 503 and was processed later) finds
    the first; the first key is the one a new application is saved under, so the unique key
    per member also settles two retries arriving together."""
    days = (today, date.fromordinal(today.toordinal() - 1))
    return [f"{DERIVED_KEY_PREFIX}{day:%Y%m%d}:{fingerprint[:64]}" for day in days]


class InProcess(Protocol):
    """A stored application, as far as the rule against a duplicate needs it."""

    @property
    def application_number(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def product_code(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def term_months(self) -> int: ...


def duplicate_refusal(
    existing: Iterable[InProcess], product_code: str, amount: DecimalLike, term_months: int
) -> str | None:
    """The Spanish refusal of an application equal (product, amount, term) to one of the
    member's still in process, naming that one; None when there is none."""
    for app in existing:
        if (
            app.status in IN_PROCESS
            and app.product_code == product_code
            and cents(app.amount) == cents(amount)
            and app.term_months == term_months
        ):
            return (
                f"Ya tiene la solicitud {app.application_number} del mismo producto, monto y "
                f"plazo, {STATUS_LABELS[app.status].lower()}. Espere su respuesta, o desista de "
                "ella en Mis solicitudes antes de ingresar otra igual."
            )
    return None


def withdrawal_refusal(application_number: str, status: str) -> str | None:
    """Why the member can no longer withdraw an application (None: it can be withdrawn)."""
    if status in IN_PROCESS:
        return None
    if status == WITHDRAWN:
        return f"Ya desistió de la solicitud {application_number}."
    return (
        f"La solicitud {application_number} está {STATUS_LABELS[status].lower()}: "
        "ya no puede desistir de ella."
    )
