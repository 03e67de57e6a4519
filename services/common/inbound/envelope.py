"""What a core message must be before any handler sees it (docs/integration.md, "Envelope"):
published by the core's broker user, JSON of at most 64 KiB, an envelope of a type this queue
takes, under the routing key of its `event_type`; and its `data` loaded with the type's schema."""

import json
from collections.abc import Sequence
from typing import Any

from kombu import Exchange
from kombu.message import Message
from marshmallow import Schema
from marshmallow import ValidationError as MarshmallowValidationError

from services.common.ordering import RELAY_HEADER, Refused
from services.common.schemas import flatten

CORE_EXCHANGE = Exchange("core.events", type="topic", durable=True, auto_delete=False)
ENVELOPE_FIELDS = ("event_id", "event_type", "data")
# a core event is small (the largest, a loan with a 600-row table, is well under this): a larger
# message is a connector's mistake, and would otherwise be stored whole (held events, dead queue)
MAX_MESSAGE_BYTES = 64 * 1024
JSON_CONTENT_TYPE = "application/json"
# the broker user the core publishes as (config key and environment variable CORE_AMQP_USER)
CORE_USER_KEY = "CORE_AMQP_USER"
DEFAULT_CORE_USER = "core"

# an event of the core as it arrived (JSON): the envelope (ENVELOPE_FIELDS) around its `data`
CoreEvent = dict[str, Any]


def sender_is_core(message: Message, core_user: str, own_user: str | None = None) -> bool:
    """The core published `message`: its `user_id` is the core's broker user. RabbitMQ refuses
    a publish whose `user_id` is not the publishing connection's user, so only the core's
    connection can set it; the portal's own users cannot write on `core.events` at all
    (docs/operations.md). A copy the consuming service itself made of a core event (a retry,
    an operator's requeue from its dead queue) carries the service's own user, which the broker
    vouches for just the same, and the relay header naming the core."""
    sender = (message.properties or {}).get("user_id")
    if sender == core_user:
        return True
    relayed = (message.headers or {}).get(RELAY_HEADER) == core_user
    return relayed and own_user is not None and sender == own_user


def transport_problem(message: Message) -> str | None:
    """The reason a message is refused for its properties alone, or None: `content_type` must be
    `application/json` (none at all is read as JSON) and the body at most 64 KiB."""
    content_type = (message.content_type or "").strip()
    if content_type and content_type.split(";")[0].strip().lower() != JSON_CONTENT_TYPE:
        return (
            f"Tipo de contenido no admitido: {content_type[:80]} (se espera {JSON_CONTENT_TYPE})."
        )
    size = len(message.body or b"")
    if size > MAX_MESSAGE_BYTES:
        return f"El mensaje mide {size} bytes; el máximo es {MAX_MESSAGE_BYTES} (64 KiB)."
    return None


def decode(body: object) -> Any:
    """The message's JSON value (any: `envelope_problem` says whether it is an envelope)."""
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8")
    if isinstance(body, str):
        body = json.loads(body)
    return body


def envelope_problem(event: object, event_types: Sequence[str] | None = None) -> str | None:
    """The reason an envelope is refused before reaching the handler, or None."""
    if not isinstance(event, dict):
        return "El mensaje no es un objeto JSON."
    missing = [f for f in ENVELOPE_FIELDS if event.get(f) in (None, "")]
    if missing:
        return "Faltan campos del sobre: " + ", ".join(missing) + "."
    if not isinstance(event["data"], dict):
        return "El campo data debe ser un objeto."
    if not isinstance(event["event_id"], str) or len(event["event_id"]) > 36:
        return "event_id debe ser un texto de hasta 36 caracteres."
    if event_types is not None and event["event_type"] not in event_types:
        return f"Tipo de evento no esperado: {str(event['event_type'])[:80]}."
    return None


def routing_problem(event: CoreEvent, message: Message) -> str | None:
    """The reason an envelope is refused when it came on `core.events` under a routing key that
    is not its `event_type` (queues are bound by routing key: a mislabelled event would reach a
    service that does not own it, or be applied as what it says it is). A retry or an operator's
    requeue comes back from the default exchange: it was checked when it first arrived."""
    delivery = message.delivery_info or {}
    if delivery.get("exchange") != CORE_EXCHANGE.name:
        return None
    key = delivery.get("routing_key")
    if key != event["event_type"]:
        return (
            f"La clave de ruteo {str(key)[:80]} no es el event_type "
            f"{str(event['event_type'])[:80]}."
        )
    return None


def load_data(schema: Schema, data: object, event_type: str) -> Any:
    """An event's `data` loaded with its schema (the contract of docs/integration.md); anything
    wrong is Refused, naming every wrong field for the person who reads the dead letter."""
    if not isinstance(data, dict):
        raise Refused(f"{event_type}: 'data' debe ser un objeto.")
    try:
        return schema.load(data)
    except MarshmallowValidationError as exc:
        problems = "; ".join(
            f"{name}: {' '.join(messages)}" for name, messages in flatten(exc.messages).items()
        )
        raise Refused(f"{event_type} rechazado: {problems}") from None
