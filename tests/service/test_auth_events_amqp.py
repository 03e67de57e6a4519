"""An outside system reads auth.events with a plain AMQP client (kombu, no nameko) and finds no
secret in what it receives."""

import json
import re

from kombu import Connection, Exchange, Queue

from tests.helpers import RememberingAuth, emailed_recovery_code, start_auth_stack


def test_plain_kombu_consumer_gets_password_reset_requested_without_secrets(
    service_config, container_factory, rpc_proxy, today
):
    # the code read from the member's inbox, so the test can look for it in the event
    start_auth_stack(container_factory, service_config, today, catch_codes=True)
    auth = RememberingAuth(rpc_proxy("auth"))
    exchange = Exchange("auth.events", type="topic", durable=True)
    queue = Queue(
        "outside-system.auth-resets",
        exchange=exchange,
        routing_key="password_reset_requested",
        durable=False,
        auto_delete=True,
    )
    bodies = []
    with Connection(service_config["AMQP_URI"]) as conn:
        channel = conn.channel()
        queue(channel).declare()  # declares the exchange too, and binds
        token = auth.login("maria", "Socia-2026!", "192.0.2.1")["token"]
        auth.request_recovery("maria", "maria.perez@example.com", "100234", "192.0.2.1")
        code = emailed_recovery_code("maria.perez@example.com")
        assert re.fullmatch(r"[A-Za-z0-9]{8}", code)

        def on_message(body, message):
            bodies.append((message.body, message.delivery_info["routing_key"]))
            message.ack()

        with conn.Consumer(queue(channel), callbacks=[on_message], accept=["json"]):
            conn.drain_events(timeout=15)
    raw, routing_key = bodies[0]
    assert routing_key == "password_reset_requested"
    text = raw.decode() if isinstance(raw, bytes) else raw
    event = json.loads(text)
    assert event["event_type"] == "password_reset_requested"
    assert event["source"] == "auth"
    data = event["data"]
    assert data["username"] == "maria" and data["member_number"] == "100234"
    assert data["email"] == "maria.perez@example.com"
    assert data["outcome"] == "code_issued"
    for secret in (code, "Socia-2026!", token, "$argon2"):
        assert secret not in text
