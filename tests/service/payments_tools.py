"""What the payments tests need around the service: a stand-in `auth` that implements the order
challenge of docs/payments-auth-contract.md (the real one lives on another branch), and a queue
bound to `portal.requests` where the tests read what the core would receive."""

import json
import uuid

from kombu import Connection, Exchange, Queue

from services.common.entrypoints import rpc
from services.common.errors import ValidationError

GOOD_CODE = "246810"
PORTAL_REQUESTS = Exchange("portal.requests", type="topic", durable=True, auto_delete=False)


class OrderChallengeAuth:
    """`auth` as far as payments uses it: a challenge per order, bound to its digest."""

    name = "auth"
    challenges: dict[str, str] = {}  # challenge_id -> digest

    @rpc
    def start_order_challenge(self, member_number, order_id, digest, summary):
        challenge_id = str(uuid.uuid4())
        OrderChallengeAuth.challenges[challenge_id] = digest
        return {
            "challenge_id": challenge_id,
            "methods": ["totp"],
            "challenge_expires_at": "2099-01-01T00:00:00Z",
        }

    @rpc
    def verify_order_code(self, challenge_id, digest, method, code):
        if OrderChallengeAuth.challenges.get(challenge_id) != digest or code != GOOD_CODE:
            raise ValidationError(fields={"code": ["Código incorrecto."]})
        return {"valid": True, "method": method}


class AuthWithoutOrders:
    """An `auth` that offers no order challenge (older than docs/payments-auth-contract.md)."""

    name = "auth"

    @rpc
    def ping(self):
        return "pong"


def core_queue(amqp_uri, name="test.core.requests"):
    """A durable queue bound to every request type, as the core's connector binds its own."""
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        Queue(name, exchange=PORTAL_REQUESTS, routing_key="#", durable=True)(channel).declare()
    return name


def requests_received(amqp_uri, name="test.core.requests"):
    """[(routing_key, envelope)] of what reached the core's queue since the last call."""
    out = []
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        while True:
            message = channel.basic_get(name, no_ack=True)
            if message is None:
                return out
            out.append((message.delivery_info["routing_key"], json.loads(message.body)))
