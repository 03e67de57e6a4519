"""`python -m scripts.portal held …`: streams (an account, a loan) stuck behind a missing
sequence, asked of the services that own them (docs/operations.md, "The core's parked and held
events").

    held [--service S]
    held discard STREAM SEQUENCE --reason "…"

The held events live in each service's own `held_events` table, so this tool only calls the
services' RPCs (`held_streams`, `discard_held`); a discard is recorded in the audit log
(`<service>.core_event_discarded`).
"""

import argparse
import getpass
import sys

from nameko.standalone.rpc import ClusterRpcProxy

from services.common import config

# the services whose core events are ordered per stream
SERVICES = ("accounts", "credit")
OWNER = {"account": "accounts", "loan": "credit"}


def _proxy():
    cfg = {"AMQP_URI": config.amqp_uri(), "serializer": "json"}
    return ClusterRpcProxy(cfg, timeout=config.rpc_timeout())


def streams(services=SERVICES):
    """{service: [stream, …] or the error that service answered} (held_streams,
    services/common/operator.py); one service away does not hide the others."""
    answer = {}
    with _proxy() as rpc:
        for service in services:
            try:
                answer[service] = getattr(rpc, service).held_streams()
            except Exception as exc:  # noqa: BLE001  away or failing: said in the listing
                answer[service] = exc
    return answer


def render(answer):
    lines, away = [], []
    for service, rows in answer.items():
        if isinstance(rows, Exception):
            away.append(f"  {service} no respondió ({type(rows).__name__}): sus flujos no se ven")
            continue
        for row in rows:
            sequences = [h["sequence"] for h in row["held"]]
            shown = ", ".join(str(s) for s in sequences[:8]) + (" …" if len(sequences) > 8 else "")
            waits = (
                f"espera la secuencia {row['waiting_for']}"
                if row["waiting_for"] is not None
                else "espera que exista (desconocido en el portal)"
            )
            lines.append(
                f"  {row['stream']:<28} {waits}; retenidos {len(sequences)} ({shown}) "
                f"desde {row['since'].replace('T', ' ')[:19]} UTC  [{service}]"
            )
    if not lines:
        return ["Ningún flujo detenido: no hay eventos retenidos.", *away]
    return [f"{len(lines)} flujo(s) detenido(s) por una secuencia que falta:", *lines, *away]


def discard(stream, sequence, reason, operator=None):
    service = OWNER.get(stream.partition(":")[0])
    if service is None:
        raise ValueError("El flujo se escribe account:NÚMERO o loan:NÚMERO.")
    with _proxy() as rpc:
        return getattr(rpc, service).discard_held(
            stream, sequence, reason, operator or getpass.getuser()
        )


def main(argv=None):
    parser = argparse.ArgumentParser(prog="portal held")
    parser.add_argument("action", nargs="?", choices=["list", "discard"], default="list")
    parser.add_argument("stream", nargs="?", help="discard: account:N or loan:N")
    parser.add_argument("sequence", nargs="?", type=int, help="discard: the held sequence")
    parser.add_argument("--service", choices=SERVICES)
    parser.add_argument("--reason", help="discard: why (recorded in the audit log)")
    args = parser.parse_args(argv)
    try:
        if args.action == "list":
            for line in render(streams((args.service,) if args.service else SERVICES)):
                print(line)
            return 0
        if not args.stream or args.sequence is None:
            parser.error("discard: indique el flujo y la secuencia (p. ej. account:4100234001 58)")
        if not (args.reason or "").strip():
            parser.error("discard: indique el motivo (--reason)")
        record = discard(args.stream, args.sequence, args.reason)
    except Exception as exc:  # noqa: BLE001  a service away or a refusal: one clear line
        print(f"No se pudo: {getattr(exc, 'value', None) or exc}", file=sys.stderr)
        return 2
    print(
        f"Descartado el evento retenido {record['stream']} secuencia {record['sequence']} "
        f"({record['event_type']}); queda en la auditoría."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
