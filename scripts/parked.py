"""`python -m scripts.portal parked …`: the core's events a service refused, parked in
`core.<service>.dead` (docs/operations.md, "The core's parked and held events").

    parked [--service S] [--kind K] [--type T] [--stream STREAM] [--page N] [--page-size N]
    parked requeue (ID | --all) [--service S] [filters]
    parked discard ID --reason "…" [--service S]

Each parked event has an `id`: the first 12 hex digits of the SHA-256 of its body (unique per
content, also for a body that is not JSON); its `event_id` selects it as well. The listing reads
the queue without taking anything (messages taken unacknowledged and given back when the channel
closes). Requeue moves the chosen events back to `core.<service>`; discard asks the owning service
to record it (`<service>.core_event_discarded`, audited) and only then removes it. Parked
messages live in the broker's queues, so this tool works on them directly; held events live in a
service's database and are reached through its RPCs (scripts/held.py).
"""

import argparse
import getpass
import hashlib
import json
import sys

from amqp.exceptions import ChannelError, InternalError
from kombu import Exchange, Producer

from scripts import broker_users
from services.common.amqp import open_connection
from services.common.config import amqp_uri, rpc_timeout
from services.common.ordering import RELAY_HEADER

SERVICES = ("accounts", "credit", "deposit")
PARKED_AT_HEADER = "x-portal-parked-at"
PAGE_SIZE = 20


def queue_of(service):
    return f"core.{service}.dead"


def message_id(body):
    raw = body if isinstance(body, bytes) else str(body).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()[:12]


def stream_of(event):
    """("account:N" | "loan:N" | …, sequence or None) of an event, as far as it can be read."""
    data = event.get("data") if isinstance(event, dict) else None
    if not isinstance(data, dict):
        return None, None
    for key, prefix, seq_key in (
        ("account_number", "account", "sequence"),
        ("loan_number", "loan", "loan_sequence"),
        ("deposit_number", "deposit", None),
        ("application_number", "application", None),
        ("member_number", "member", None),
        ("business_date", "day", "chunk"),
    ):
        if data.get(key) not in (None, ""):
            sequence = data.get(seq_key) if seq_key else None
            return f"{prefix}:{data[key]}"[:60], sequence if isinstance(sequence, int) else None
    return None, None


def describe(service, message):
    """What an operator needs to know of one parked message."""
    headers = dict(message.headers or {})
    body = message.body
    try:
        event = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    except (UnicodeDecodeError, ValueError):
        event = None
    event = event if isinstance(event, dict) else {}
    stream, sequence = stream_of(event)
    event_id, occurred = event.get("event_id"), event.get("occurred_at")
    return {
        "service": service,
        "id": message_id(body),
        "event_id": event_id if isinstance(event_id, str) else None,
        "event_type": headers.get("x-portal-event-type") or event.get("event_type"),
        "kind": headers.get("x-portal-refusal-kind"),
        "reason": headers.get("x-portal-refusal") or headers.get("x-portal-last-error") or "",
        "parked_at": headers.get(PARKED_AT_HEADER),
        "occurred_at": occurred if isinstance(occurred, str) else None,
        "stream": stream,
        "sequence": sequence,
    }


def _each(service, visit, as_user=False):
    """Take every message of the service's dead queue unacknowledged, once each, and call
    `visit(message, item)`; it returns True when it settled the message (acked), otherwise the
    message goes back when the channel closes. Returns the number of messages seen."""
    seen = 0
    # as the service's own user: the service believes a copy of a core event only from itself
    # (services/common/inbound.py, `sender_is_core`), so a requeue must be published as it
    uri = broker_users.process_uri(service, amqp_uri())
    with open_connection(uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        try:
            _name, count, _consumers = channel.queue_declare(queue_of(service), passive=True)
        except (ChannelError, InternalError):  # never declared (the service never ran)
            return 0
        while seen < count:
            message = channel.basic_get(queue_of(service), no_ack=False)
            if message is None:
                break
            seen += 1
            item = describe(service, message)
            if as_user:  # the publisher's name, for `user_id` of what it publishes again
                visit(channel, message, item, conn.userid or "guest")
            else:
                visit(channel, message, item)
        channel.close()  # every message not settled goes back to the queue
    return seen


def matches(item, kind=None, event_type=None, stream=None):
    if kind and item["kind"] != kind:
        return False
    if event_type and item["event_type"] != event_type:
        return False
    if stream:
        own = item["stream"] or ""
        # "account:4100234001", or the number alone
        if stream not in (own, own.partition(":")[2]):
            return False
    return True


def parked(services=SERVICES, **filters):
    """Every parked event of `services` that passes the filters, oldest parked first."""
    out = []
    for service in services:
        _each(service, lambda _ch, _m, item: out.append(item) if matches(item, **filters) else None)
    return sorted(out, key=lambda i: (i["parked_at"] or "", i["service"]))


def requeue(services=SERVICES, selector=None, **filters):
    """Move the chosen parked events (by id or event_id, else every one passing the filters)
    back to `core.<service>`; returns how many."""
    moved = 0
    for service in services:

        def visit(channel, message, item, me, service=service):
            nonlocal moved
            if not matches(item, **filters) or (selector and selector not in _ids(item)):
                return
            headers = dict(message.headers or {})
            for key in ("x-portal-attempts", "x-portal-last-error"):
                headers.pop(key, None)
            if message.properties.get("user_id") != me:  # not parked by the service itself
                headers.pop(RELAY_HEADER, None)
            Producer(channel, exchange=Exchange("", type="direct")).publish(
                message.body,
                routing_key=f"core.{service}",
                headers=headers,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=2,
                user_id=me,
            )
            channel.basic_ack(message.delivery_tag)  # after the confirmed publish
            moved += 1

        _each(service, visit, as_user=True)
    return moved


def _ids(item):
    return {item["id"], item["event_id"]} - {None}


def discard(selector, reason, services=SERVICES, operator=None, rpc=None):
    """Remove one parked event (by id or event_id) after its owner recorded the discard with
    the operator's `reason`; returns what was discarded, or None when nothing matched."""
    if not (reason or "").strip():
        raise ValueError("Indique el motivo del descarte (--reason).")
    done = []
    for service in services:

        def visit(channel, message, item, service=service):
            if done or selector not in _ids(item):
                return
            (rpc or _owner)(service).record_parked_discard(
                item, reason, operator or getpass.getuser()
            )
            channel.basic_ack(message.delivery_tag)
            done.append(item)

        _each(service, visit)
        if done:
            return done[0]
    return None


def _owner(service):
    from nameko.standalone.rpc import ClusterRpcProxy

    class _Call:
        def record_parked_discard(self, *args):
            config = {"AMQP_URI": amqp_uri(), "serializer": "json"}
            with ClusterRpcProxy(config, timeout=rpc_timeout()) as proxy:
                return getattr(proxy, service).record_parked_discard(*args)

    return _Call()


def _local(instant):
    return instant.replace("T", " ")[:19] if instant else "-"


def render(items, page=1, page_size=PAGE_SIZE):
    """The lines of one page of `items`."""
    if not items:
        return ["No hay eventos del core apartados."]
    pages = (len(items) + page_size - 1) // page_size
    page = min(max(page, 1), pages)
    shown = items[(page - 1) * page_size : page * page_size]
    lines = [
        f"{len(items)} evento(s) apartado(s); página {page} de {pages}",
        f"  {'id':<12}  {'apartado (UTC)':<19}  {'servicio':<8}  {'tipo':<24}  "
        f"{'flujo':<28}  {'sec':>6}  {'clase':<14}  event_id",
    ]
    for i in shown:
        sequence = "-" if i["sequence"] is None else str(i["sequence"])
        lines.append(
            f"  {i['id']:<12}  {_local(i['parked_at'] or i['occurred_at']):<19}  "
            f"{i['service']:<8}  {(i['event_type'] or '?')[:24]:<24}  "
            f"{(i['stream'] or '-')[:28]:<28}  {sequence:>6}  {(i['kind'] or '-'):<14}  "
            f"{i['event_id'] or '-'}"
        )
        lines.append(f"      motivo: {i['reason'] or '-'}")
    if page < pages:
        lines.append(f"… {len(items) - page * page_size} más: --page {page + 1}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(prog="portal parked")
    parser.add_argument("action", nargs="?", choices=["list", "requeue", "discard"], default="list")
    parser.add_argument("selector", nargs="?", help="requeue/discard: the id or event_id")
    parser.add_argument("--service", choices=SERVICES)
    parser.add_argument("--kind", help="refusal kind (dato_invalido, conflicto, desconocido, …)")
    parser.add_argument("--type", dest="event_type", help="event type (movement_posted, …)")
    parser.add_argument("--stream", help="account:N, loan:N, … or the number alone")
    parser.add_argument("--page", type=int, default=1)
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE)
    parser.add_argument("--all", action="store_true", help="requeue: every one the filters pass")
    parser.add_argument("--reason", help="discard: why (recorded in the audit log)")
    args = parser.parse_args(argv)
    services = (args.service,) if args.service else SERVICES
    filters = {"kind": args.kind, "event_type": args.event_type, "stream": args.stream}
    if args.action == "list":
        for line in render(parked(services, **filters), args.page, max(1, args.page_size)):
            print(line)
        return 0
    if args.action == "requeue":
        if not args.selector and not args.all:
            parser.error("requeue: indique el id del evento, o --all")
        try:
            moved = requeue(services, None if args.all else args.selector, **filters)
        except Exception as exc:  # noqa: BLE001  the broker away: one clear line
            print(f"No se pudo devolver: {exc}", file=sys.stderr)
            return 2
        print(f"{moved} evento(s) devuelto(s) a su cola.")
        return 0 if moved else 1
    if not args.selector:
        parser.error("discard: indique el id del evento")
    if not (args.reason or "").strip():
        parser.error("discard: indique el motivo (--reason)")
    try:
        item = discard(args.selector, args.reason, services)
    except Exception as exc:  # noqa: BLE001  the broker or the owning service away: kept parked
        message = getattr(exc, "value", None) or exc
        print(f"No se pudo descartar (sigue apartado): {message}", file=sys.stderr)
        return 2
    if item is None:
        print(f"No hay un evento apartado con id {args.selector}.", file=sys.stderr)
        return 1
    print(f"Descartado {item['id']} ({item['event_type']}); queda en la auditoría.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
