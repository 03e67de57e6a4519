"""The broker's addresses and how the portal declares its queues (docs/operations.md, "RabbitMQ
cluster"; docs/decisions.md, "Quorum queues").

`AMQP_URI` may name several nodes of one cluster, separated by `;`, as kombu takes them:
`amqp://u:p@h1:5672/vhost;amqp://u:p@h2:5672/vhost;…`. Every connection starts at the first and
moves on to the next when one refuses or drops (kombu's round-robin failover), so the order is
a preference.

`AMQP_QUEUE_TYPE` (`quorum`, the default, or `classic`) chooses the declarations:

- durable queues (event handlers', `core.<service>`, their `.retry` and `.dead`, subscribers')
  are quorum queues: replicated on a majority of the cluster's nodes, they survive the loss of
  one. Dead-lettering out of them (`.retry` back to its queue after the wait; a message past a
  delivery limit to `.dead`) is at-least-once, so a message is not dropped when its target has
  no leader for a moment;
- RPC request and reply queues stay classic but transient: a request lives a deadline long, and
  a transient queue whose node dies is deleted and declared again on a surviving node by the
  consumer's reconnection (a durable classic queue would refuse every declaration until its node
  returns);
- `classic` declares everything as the portal did before clusters (one broker node).
"""

import os
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from kombu import Connection

QUORUM = "quorum"
CLASSIC = "classic"
QUEUE_TYPES = (QUORUM, CLASSIC)
QUEUE_TYPE_KEY = "AMQP_QUEUE_TYPE"

# dead-lettering that waits for the target queue to confirm (quorum queues only)
AT_LEAST_ONCE = {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}


def broker_urls(uri: str) -> list[str]:
    """The node addresses of `uri`, in order."""
    return [part.strip() for part in uri.split(";") if part.strip()]


def first_url(uri: str) -> str:
    return broker_urls(uri)[0]


def vhost_of(uri: str) -> str:
    """The virtual host named by `uri` (the same on every node of a cluster)."""
    path = urlsplit(first_url(uri)).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def with_vhost(uri: str, vhost: str) -> str:
    """`uri` (one node or several) with every address pointing at `vhost`."""
    parts = []
    for url in broker_urls(uri):
        scheme, netloc, _path, _query, _fragment = urlsplit(url)
        parts.append(f"{scheme}://{netloc}/{quote(vhost, safe='')}")
    return ";".join(parts)


def with_credentials(uri: str, user: str, secret: str) -> str:
    """`uri` (one node or several) with `user`:`secret` on every address (docs/operations.md,
    "Broker users and permissions")."""
    parts = []
    for url in broker_urls(uri):
        split = urlsplit(url)
        host = (split.hostname or "localhost") + (f":{split.port}" if split.port else "")
        query = f"?{split.query}" if split.query else ""
        credentials = f"{quote(user, safe='')}:{quote(secret, safe='')}"
        parts.append(f"{split.scheme}://{credentials}@{host}{split.path}{query}")
    return ";".join(parts)


def safe(uri: str) -> str:
    """`uri` without credentials, for messages: `amqp://h1:5672/vhost, amqp://h2:5672/vhost`."""
    shown = []
    for url in broker_urls(uri):
        parts = urlsplit(url)
        host = f"{parts.hostname or 'localhost'}:{parts.port or 5672}"
        shown.append(f"{parts.scheme}://{host}{parts.path or '/'}")
    return ", ".join(shown)


def ssl_options(uri: str) -> dict[str, Any] | None:
    """TLS of an `amqps://` AMQP_URI (docs/operations.md, "Broker users and permissions"): the
    server's certificate checked against AMQP_CA_CERTS (else the system's authorities) and the
    host name; AMQP_CERTFILE/AMQP_KEYFILE when the broker asks for a client certificate. None
    for `amqp://`. nameko gets it as AMQP_SSL; the portal's own connections pass it as `ssl`."""
    if not first_url(uri).lower().startswith("amqps://"):
        return None
    options: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED}
    for key, name in (
        ("ca_certs", "AMQP_CA_CERTS"),
        ("certfile", "AMQP_CERTFILE"),
        ("keyfile", "AMQP_KEYFILE"),
    ):
        # the environment itself: this module stands below services.common.config, which
        # builds the services' AMQP settings from it
        value = os.environ.get(name)
        if value:
            options[key] = value
    return options


def open_connection(uri: str, rounds: int = 1, **kwargs: Any) -> Connection:
    """A kombu Connection to `uri`, opened: each address is tried `rounds` times, in order
    (kombu's own `connect()` tries two at most, and a fresh Connection starts again at the
    first), with kombu's growing pause between tries."""
    kwargs.setdefault("ssl", ssl_options(uri) or False)
    connection = Connection(uri, **kwargs)
    try:
        connection.ensure_connection(max_retries=len(broker_urls(uri)) * max(rounds, 1) - 1)
    except BaseException:
        connection.release()
        raise
    return connection


def queue_type(config: Mapping[str, Any]) -> str:
    """AMQP_QUEUE_TYPE of a nameko config (quorum when absent, e.g. in tests)."""
    value = str(config.get(QUEUE_TYPE_KEY) or QUORUM).strip().lower()
    if value not in QUEUE_TYPES:
        raise ValueError(f"AMQP_QUEUE_TYPE must be quorum or classic, not {value!r}")
    return value


def work_queue_arguments(name: str, kind: str) -> dict[str, str]:
    """Arguments of a durable queue that handlers consume (`name`): its overflow goes to
    `<name>.dead`. Quorum queues count deliveries; RabbitMQ 3.10 sets no limit, later versions
    park a message redelivered 20 times: in `.dead`, with the others, not dropped."""
    if kind != QUORUM:
        return {}
    return {
        "x-queue-type": QUORUM,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": f"{name}.dead",
        **AT_LEAST_ONCE,
    }


def retry_queue_arguments(name: str, kind: str) -> dict[str, str]:
    """`<name>.retry`: a message waits its `expiration`, then goes back to `name`."""
    arguments = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": name}
    if kind == QUORUM:
        arguments.update({"x-queue-type": QUORUM, **AT_LEAST_ONCE})
    return arguments


def parked_queue_arguments(kind: str) -> dict[str, str]:
    """`<name>.dead`: parked messages wait for an operator."""
    return {"x-queue-type": QUORUM} if kind == QUORUM else {}


def rpc_queues_durable(kind: str) -> bool:
    """RPC request and reply queues: durable only in classic mode (see the module)."""
    return kind == CLASSIC


__all__ = [
    "CLASSIC",
    "QUORUM",
    "QUEUE_TYPES",
    "broker_urls",
    "open_connection",
    "first_url",
    "parked_queue_arguments",
    "queue_type",
    "retry_queue_arguments",
    "rpc_queues_durable",
    "safe",
    "ssl_options",
    "vhost_of",
    "with_credentials",
    "with_vhost",
    "work_queue_arguments",
]
