"""The portal's queues declared as AMQP_QUEUE_TYPE says: `python -m scripts.portal migrate-queues`.

A queue keeps the type it was declared with; declaring it again with another type (or another
durability) fails with PRECONDITION_FAILED. A broker that ran the portal before quorum queues
(or with the other AMQP_QUEUE_TYPE) holds such queues. `migrate()` redeclares each of them, and
`make run` calls it before starting the processes:

- only while no consumer uses the queue (the portal's processes are stopped): otherwise it says
  so in one line and changes nothing;
- an RPC request queue is deleted (what it holds are requests whose callers gave up);
- any other queue keeps its messages and bindings: a temporary quorum queue `<name>.migrating`
  gets the same bindings first (nothing published meanwhile is lost; an event may arrive twice,
  which the consumers' inbox absorbs), takes the messages, and gives them back to the queue
  declared anew.

The queues are listed with the management API (scripts/rabbit_api.py).
"""

import sys

from kombu import Queue

from scripts import rabbit_api
from services.common.amqp import (
    CLASSIC,
    QUORUM,
    open_connection,
    parked_queue_arguments,
    retry_queue_arguments,
    rpc_queues_durable,
    work_queue_arguments,
)
from services.common.config import amqp_uri, env
from services.common.ordering import RELAY_HEADER

MIGRATING = ".migrating"


def wanted(queue, kind):
    """(type, durable, arguments) the portal declares `queue` (a management API row) with, or
    None for a queue that is not the portal's (a subscriber's, a reply queue, a transient one)."""
    name = queue["name"]
    if queue.get("auto_delete") or queue.get("exclusive") or name.endswith(MIGRATING):
        return None
    if name.startswith("rpc-"):
        return CLASSIC, rpc_queues_durable(kind), {}
    if not name.startswith(("evt-", "core.")):
        return None
    if name.endswith(".retry"):
        return kind, True, retry_queue_arguments(name[: -len(".retry")], kind)
    if name.endswith(".dead"):
        return kind, True, parked_queue_arguments(kind)
    return kind, True, work_queue_arguments(name, kind)


def queues():
    columns = "name,type,durable,auto_delete,exclusive,messages,consumers"
    return rabbit_api.get(rabbit_api.queue_path(), params={"columns": columns})


def mismatched(kind, rows):
    """[(queue row, wanted)] of the portal's queues declared otherwise than `kind` wants."""
    out = []
    for row in rows:
        want = wanted(row, kind)
        if want and (row.get("type", CLASSIC), bool(row.get("durable"))) != want[:2]:
            out.append((row, want))
    return out


def _move(channel, source, target, user):
    """Every message of `source` into `target` (properties and headers kept)."""
    moved = 0
    while True:
        message = channel.basic_get(source, no_ack=False)
        if message is None:
            return moved
        _keep_sender(message, user)
        channel.basic_publish(message, exchange="", routing_key=target)
        channel.basic_ack(message.delivery_tag)
        moved += 1


def _keep_sender(message, user):
    """RabbitMQ refuses to republish a `user_id` other than this connection's: a core event keeps
    who sent it in the relay header (services/common/inbound.py believes that header only from
    the consuming service's own user: run this as that user, or the core sends it again)."""
    sender = message.properties.get("user_id")
    if sender and sender != user:
        message.properties.setdefault("application_headers", {}).setdefault(RELAY_HEADER, sender)
        message.properties["user_id"] = user


def _bindings(name):
    rows = rabbit_api.get(rabbit_api.queue_path(name) + "/bindings")
    return [(b["source"], b["routing_key"], b.get("arguments") or {}) for b in rows if b["source"]]


def _migrate_one(conn, row, want):
    name = row["name"]
    _kind, durable, arguments = want
    if name.startswith("rpc-"):
        conn.default_channel.queue_delete(name)
        return 0
    bindings = _bindings(name)
    parking = name + MIGRATING
    with conn.channel() as channel:
        channel.queue_declare(parking, durable=True, auto_delete=False)
        for exchange, key, args in bindings:
            channel.queue_bind(parking, exchange, key, arguments=args)
        moved = _move(channel, name, parking, conn.userid or "guest")
        channel.queue_delete(name)
    # a channel of its own: RabbitMQ 3.10's channel that used the old queue fails (541) when it
    # publishes to the new one of the same name
    with conn.channel() as channel:
        queue = Queue(name, durable=durable, auto_delete=False, queue_arguments=arguments)
        queue.maybe_bind(channel)
        queue.declare()
        for exchange, key, args in bindings:
            channel.queue_bind(name, exchange, key, arguments=args)
        _move(channel, parking, name, conn.userid or "guest")
        channel.queue_delete(parking)
    return moved


def _finish_interrupted(conn, rows, kind):
    """`<name>.migrating` of a migration that was interrupted: its messages go to `<name>`, once
    `<name>` is declared as wanted; returns how many."""
    names = {row["name"]: row for row in rows}
    moved = 0
    for name, row in names.items():
        target = names.get(name[: -len(MIGRATING)]) if name.endswith(MIGRATING) else None
        want = wanted(target, kind) if target else None
        if row.get("consumers") or not want or (target.get("type"), target["durable"]) != want[:2]:
            continue
        with conn.channel() as channel:
            moved += _move(channel, name, target["name"], conn.userid or "guest")
            channel.queue_delete(name)
    return moved


def migrate(kind=None, out=sys.stdout):
    """Redeclare the mismatched queues; returns a one-line problem, or None when done."""
    kind = kind or env("AMQP_QUEUE_TYPE", QUORUM)
    try:
        rows = queues()
    except Exception as exc:  # noqa: BLE001  no management API: nothing to compare with
        print(
            f"  queues not checked: the management API does not answer ({type(exc).__name__}; "
            "RABBIT_API_URI); a service that stops with PRECONDITION_FAILED needs "
            "`python -m scripts.portal migrate-queues`",
            file=out,
            flush=True,
        )
        return None
    todo = mismatched(kind, rows)
    busy = [row["name"] for row, _want in todo if row.get("consumers")]
    if busy:
        return (
            f"{len(busy)} queue(s) ({busy[0]}…) were declared otherwise than "
            f"AMQP_QUEUE_TYPE={kind} and are in use: stop the portal's processes, then run "
            "`python -m scripts.portal migrate-queues`"
        )
    leftovers = [row for row in rows if row["name"].endswith(MIGRATING)]
    if not todo and not leftovers:
        return None
    with open_connection(amqp_uri(), transport_options={"confirm_publish": True}) as conn:
        moved = sum(_migrate_one(conn, row, want) for row, want in todo)
        if leftovers:
            moved += _finish_interrupted(conn, queues(), kind)
    print(
        f"  queues: {len(todo)} redeclared as AMQP_QUEUE_TYPE={kind} ({moved} message(s) kept)",
        file=out,
        flush=True,
    )
    return None


def main():
    problem = migrate(out=sys.stdout)
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(2)
