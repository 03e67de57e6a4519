"""`python -m scripts.portal requests --pending` and `requests resolve ID completed|rejected`:
the portal's requests to the core that have no answer yet, and an operator's resolution of one
with the core's word (docs/payments.md), asked of the payments service."""

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


def main(argv=None):
    """Returns the exit status: 0 done (or nothing pending), 1 pending requests listed,
    2 payments unavailable or the resolution refused."""
    parser = argparse.ArgumentParser(prog="portal requests")
    parser.add_argument("--pending", action="store_true", help="the requests without answer")
    parser.add_argument("action", nargs="?", choices=["resolve"])
    parser.add_argument("order_id", nargs="?", help="resolve: the order (or its request_id)")
    parser.add_argument("outcome", nargs="?", choices=["completed", "rejected"])
    parser.add_argument("--operator", default=None, help="who resolves (default: this user)")
    args = parser.parse_args(argv)
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
        parser.error("use --pending o resolve ID completed|rejected")
    try:
        with _rpc() as rpc:
            pending = rpc.payments.pending_requests()
    except Exception as exc:  # noqa: BLE001
        print(f"No se pudo consultar al servicio payments: {exc}", file=sys.stderr)
        return 2
    for line in render(pending):
        print(line)
    return 1 if pending["requests"] else 0
