"""`python -m scripts.portal requests --pending`, `requests resolve ID completed|rejected` and
`requests evidence ID`: the portal's requests to the core that have no answer yet, an operator's
resolution of one with the core's word, and the evidence of any order (docs/payments.md,
docs/operations.md), asked of the payments service."""

import argparse
import getpass
import sys

from nameko.standalone.rpc import ClusterRpcProxy

from services.common import config

STATUS = {"enviada": "enviada", "en_verificacion": "en verificación"}


def _rpc():
    cfg = {"AMQP_URI": config.amqp_uri(), "serializer": "json"}
    return ClusterRpcProxy(cfg, timeout=config.rpc_timeout())


def render(pending):
    rows = pending["requests"]
    if not rows:
        return ["No hay solicitudes al núcleo sin respuesta."]
    lines = [f"{len(rows)} solicitud(es) sin respuesta del núcleo:"]
    lines.append(
        f"  {'orden':<36} {'solicitud (request_id)':<36} {'tipo':<12} {'socio':<12} "
        f"{'monto':>10} {'estado':<16} {'enviada':<20} vigente hasta"
    )
    for r in rows:
        status = STATUS.get(r["status"], r["status"])
        lines.append(
            f"  {r['order_id']:<36} {r['request_id']:<36} {r['request_type']:<12} "
            f"{r['member_number']:<12} {r['amount']:>10} {status:<16} "
            f"{r['sent_at'] or '-':<20} {r['valid_until'] or '-'}"
        )
    return lines


STEP = {
    "por_confirmar": "ingresada",
    "confirmando": "confirmada",
    "enviada": "enviada al núcleo",
    "en_verificacion": "en verificación",
    "completada": "completada",
    "rechazada": "rechazada",
    "anulada": "anulada",
}


def render_evidence(evidence):
    """An order's evidence in Spanish, one fact a line (times in UTC, as stored)."""
    lines = [
        f"Orden {evidence['order_id']} (solicitud {evidence['request_id']}), socio "
        f"{evidence['member_number']}: {evidence['status']}"
        + (f" — {evidence['reason']}" if evidence.get("reason") else "")
        + (f" — referencia {evidence['core_reference']}" if evidence.get("core_reference") else "")
    ]
    shown = evidence.get("shown") or {}
    if shown:
        lines.append(
            f"  confirmó: {shown['kind']} de {shown['amount']} desde {shown['from_account']} "
            f"hacia {shown['to_account_masked']} «{shown.get('description') or ''}» "
            f"(digest {shown['digest']})"
        )
    for title, where in (
        ("ingresó", evidence.get("created")),
        ("confirmó", evidence.get("confirmed")),
    ):
        if where:
            lines.append(
                f"  {title}: {where['at']} sesión {where.get('session_id') or '-'} "
                f"dirección {where.get('client_ip') or '-'} canal {where.get('channel') or '-'}"
                + (f" método {where['method']}" if where.get("method") else "")
                + f" dispositivo {where.get('device') or '-'}"
            )
    if evidence.get("resolved_by"):
        lines.append(f"  resuelta por: {evidence['resolved_by']}")
    for step in evidence.get("timeline") or ():
        lines.append(f"  {step['at']}  {STEP.get(step['status'], step['status'])}")
    return lines


def main(argv=None):
    """Returns the exit status: 0 done (or nothing pending), 1 pending requests listed,
    2 payments unavailable or the resolution refused."""
    parser = argparse.ArgumentParser(prog="portal requests")
    parser.add_argument("--pending", action="store_true", help="the requests without answer")
    parser.add_argument("action", nargs="?", choices=["resolve", "evidence"])
    parser.add_argument("order_id", nargs="?", help="the order (or its request_id)")
    parser.add_argument("outcome", nargs="?", choices=["completed", "rejected"])
    parser.add_argument("--operator", default=None, help="who resolves (default: this user)")
    args = parser.parse_args(argv)
    if args.action == "evidence":
        if not args.order_id:
            parser.error("evidence: indique la orden")
        try:
            with _rpc() as rpc:
                evidence = rpc.payments.order_evidence(args.order_id)
        except Exception as exc:  # noqa: BLE001  unknown order or payments away: say so
            print(f"No se pudo leer la evidencia: {exc}", file=sys.stderr)
            return 2
        for line in render_evidence(evidence):
            print(line)
        return 0
    if args.action == "resolve":
        if not args.order_id or not args.outcome:
            parser.error("resolve: indique la orden y completed o rejected")
        operator = args.operator or getpass.getuser()
        try:
            with _rpc() as rpc:
                order = rpc.payments.resolve_request(args.order_id, args.outcome, operator)
        except Exception as exc:  # noqa: BLE001  refused or payments away: say so, plainly
            print(f"No se resolvió la solicitud: {exc}", file=sys.stderr)
            return 2
        print(f"Orden {order['transfer_id']}: {order['status']} (registrado por {operator}).")
        return 0
    if not args.pending:
        parser.error("use --pending, resolve ID completed|rejected o evidence ID")
    try:
        with _rpc() as rpc:
            pending = rpc.payments.pending_requests()
    except Exception as exc:  # noqa: BLE001
        print(f"No se pudo consultar al servicio payments: {exc}", file=sys.stderr)
        return 2
    for line in render(pending):
        print(line)
    return 1 if pending["requests"] else 0
