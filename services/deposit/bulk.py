"""Bulk load of the deposit side (docs/integration.md, "Bulk load"): term deposits as the core
opened them (its rate, its maturity date). The withholding rate is the chart's in force on the
opening date. Called by the `import_rows` / `import_state` RPCs, and in-process on the service's
own database by `scripts.portal setup`. A deposit already loaded is `unchanged`.
"""

from sqlalchemy import insert, select

from services.common import core_data
from services.common.errors import ValidationError
from services.deposit import rows as row_rules
from services.deposit import store
from services.deposit.models import TermDeposit

IN_CHUNK = 500


def state(session, request):
    numbers = list(request.get("deposits", ()))
    existing = []
    for start in range(0, len(numbers), IN_CHUNK):
        keys = numbers[start : start + IN_CHUNK]
        existing.extend(
            session.scalars(
                select(TermDeposit.deposit_number).where(TermDeposit.deposit_number.in_(keys))
            )
        )
    return {"deposits": existing}


def import_rows(session, kind, rows):
    if kind != "deposits":
        raise ValidationError(f"Tipo de carga desconocido: {kind}.")
    try:
        rows = [core_data.checked(row_rules.parse_deposit, r) for r in rows]
    except ValueError as exc:
        raise ValidationError(f"Fila inválida: {exc}") from None
    existing = set(state(session, {"deposits": [r["deposit_number"] for r in rows]})["deposits"])
    charts, new = {}, []
    for r in rows:
        if r["deposit_number"] in existing:
            continue
        opened = r["opened_on"]
        if opened not in charts:
            charts[opened] = store.chart_in_force(session, opened)
        chart = charts[opened]
        if chart is None:
            raise ValidationError(f"No hay tabla de tasas vigente el {opened}.")
        new.append(
            {
                "deposit_number": r["deposit_number"],
                "member_number": r["member_number"],
                "amount": r["amount"],
                "term_days": r["term_days"],
                "annual_rate": r["annual_rate"],
                "withholding_rate": chart.withholding_rate,
                "interest_payment": r["interest_payment"],
                "opened_on": opened,
                "maturity_date": r["maturity_date"],
                "status": store.ACTIVE,
                "rate_chart_id": chart.chart_id,
            }
        )
    if new:
        session.execute(insert(TermDeposit), new)
    return {"created": len(new), "unchanged": len(rows) - len(new)}
