"""`python -m scripts.portal reconciliation [--date YYYY-MM-DD]`: what the core's `day_closed`
found for a business day (the last one by default), asked of the accounts service."""

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


def fetch(business_date=None):
    cfg = {"AMQP_URI": config.amqp_uri(), "serializer": "json"}
    with ClusterRpcProxy(cfg, timeout=config.rpc_timeout()) as rpc:
        return rpc.accounts.reconciliation(business_date)


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


def main(business_date=None):
    """Prints the day; returns the exit status (0 no difference, 1 differences, 2 unavailable
    or a wrong date)."""
    if business_date:
        try:
            date.fromisoformat(business_date)
        except ValueError:
            print("Fecha inválida: use el formato AAAA-MM-DD.", file=sys.stderr)
            return 2
    try:
        day = fetch(business_date)
    except Exception as exc:  # noqa: BLE001  broker or accounts away: say so, plainly
        print(f"No se pudo consultar al servicio accounts: {exc}", file=sys.stderr)
        return 2
    for line in render(day):
        print(line)
    return 1 if day.get("differences") else 0
