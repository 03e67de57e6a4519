"""`python -m scripts.portal reconciliation [--date YYYY-MM-DD] [--redo]`: what the core's
`day_closed` found for a business day (the last one by default), asked of the accounts service,
and the streams held behind a missing sequence (scripts/held.py). `--redo` has accounts compare
the day again: the core's figures as it sent them against the portal's accounts now (after an
operator settled a held or parked movement); the new differences replace the day's."""

import sys
from datetime import date

from nameko.standalone.rpc import ClusterRpcProxy

from services.common import config

KINDS = {
    "balance": "saldo distinto",
    "sequence_behind": "secuencia atrasada",
    "sequence_ahead": "secuencia adelantada",
    "unknown_account": "cuenta desconocida en el portal",
}


def fetch(business_date=None, redo=False):
    cfg = {"AMQP_URI": config.amqp_uri(), "serializer": "json"}
    with ClusterRpcProxy(cfg, timeout=config.rpc_timeout()) as rpc:
        if redo:
            return rpc.accounts.redo_reconciliation(business_date)
        return rpc.accounts.reconciliation(business_date)


def held_lines():
    """The accounts held behind a missing sequence (docs/integration.md, "Order"): a sequence
    behind in the day's differences is often one of them. Loans: `portal held`."""
    from scripts import held

    try:
        return held.render(held.streams(("accounts",)))
    except Exception as exc:  # noqa: BLE001  a service away: the differences still stand
        return [f"No se pudo consultar los flujos detenidos: {exc}"]


def render(day):
    if not day["found"]:
        when = day["business_date"] or "ningún día"
        return [f"No hay cierre del core para {when}."]
    lines = [
        f"Cierre del {day['business_date']}: {day['received']} de {day['chunks']} partes"
        + ("" if day["complete"] else " (incompleto)")
    ]
    if not day["differences"]:
        lines.append("Sin diferencias: el portal coincide con el core.")
        return lines
    lines.append(f"{len(day['differences'])} diferencia(s):")
    lines.append(f"  {'cuenta':<16} {'tipo':<32} {'portal':>14} {'core':>14}")
    for d in day["differences"]:
        lines.append(
            f"  {d['account_number']:<16} {KINDS.get(d['kind'], d['kind']):<32} "
            f"{d['portal'] or '-':>14} {d['core'] or '-':>14}"
        )
    return lines


def main(business_date=None, redo=False):
    """Prints the day and the held streams; returns the exit status (0 no difference, 1
    differences, 2 unavailable or a wrong date)."""
    if business_date:
        try:
            date.fromisoformat(business_date)
        except ValueError:
            print("Fecha inválida: use el formato AAAA-MM-DD.", file=sys.stderr)
            return 2
    if redo and not business_date:
        print("--redo necesita la fecha del cierre: --date AAAA-MM-DD.", file=sys.stderr)
        return 2
    try:
        day = fetch(business_date, redo)
    except Exception as exc:  # noqa: BLE001  broker or accounts away: say so, plainly
        message = getattr(exc, "value", None) or exc
        print(f"No se pudo consultar al servicio accounts: {message}", file=sys.stderr)
        return 2
    if redo:
        print(f"Cierre del {business_date} comparado de nuevo con las cuentas del portal.")
    for line in render(day):
        print(line)
    for line in held_lines():
        print(line)
    return 1 if day.get("differences") else 0
