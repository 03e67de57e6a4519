"""Money fields of the pages: what a member types (es-EC) read once, before any service sees it.

The JSON API stays strict (docs/api.md); only pages read `2.500,00`, `2.500`, `$ 2.500,00` (the
rule is services/common/ecuador_locale.py, docs/domain.md "Money and rounding"). An empty or
unreadable field is answered here in Spanish, with the expected format, and never sent on as a
guess.
"""

from services.common.ecuador_locale import AmountInputError, parse_amount_input
from services.common.money import fmt

# what an empty money field says, per field name
EMPTY_MESSAGES = {
    "amount": "Ingrese el monto.",
    "monthly_income": "Ingrese sus ingresos mensuales.",
    "monthly_expenses": "Ingrese sus gastos mensuales.",
}
# other fields a member may leave empty, with what the page asks for
EMPTY_OTHER = {
    "term_months": "Ingrese el plazo en meses.",
    "term_days": "Ingrese el plazo en días.",
    "product_code": "Elija el producto.",
    "purpose": "Ingrese el destino del crédito.",
}


def read_amounts(values, names):
    """(amounts, errors): each money field of `values` as the JSON string the services take
    ("2500.00"), or a Spanish error for the field (empty, or readable more than one way)."""
    amounts, errors = {}, {}
    for name in names:
        if name not in values:
            continue
        try:
            amount = parse_amount_input(values[name])
        except AmountInputError as exc:
            errors[name] = [exc.message]
            continue
        if amount is None:
            errors[name] = [EMPTY_MESSAGES.get(name, "Ingrese el monto.")]
        else:
            amounts[name] = fmt(amount)
    return amounts, errors


def empty_errors(values, names):
    """'Ingrese …' for each of `names` left empty (instead of the service's generic message)."""
    return {
        name: [EMPTY_OTHER[name]]
        for name in names
        if name in values and name in EMPTY_OTHER and not (values[name] or "").strip()
    }


def merged_errors(service_errors, page_errors):
    """The page's own reading of a field wins over what the service said about its stand-in."""
    errors = {k: v for k, v in (service_errors or {}).items() if k not in page_errors}
    errors.update(page_errors)
    return errors
