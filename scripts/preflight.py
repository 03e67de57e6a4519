"""One clear line instead of a traceback when the broker or a database is not there."""

from services.common.amqp import QUORUM, open_connection, safe
from services.common.config import DEFAULT_AMQP_URI, env


def broker_problem(amqp_uri):
    """None when a node of AMQP_URI answers (with several addresses, any one of them)."""
    try:
        with open_connection(amqp_uri, connect_timeout=3) as conn:
            version = conn.connection.server_properties.get("version") or ""
    except Exception as exc:  # noqa: BLE001  any failure is reported the same way
        hint = (
            "start one with `rabbitmq-server -detached` (local) or `docker compose up -d rabbitmq`"
        )
        if amqp_uri == DEFAULT_AMQP_URI:
            where = "the default AMQP_URI"
        else:
            where = "AMQP_URI"
        return (
            f"RabbitMQ does not answer at {safe(amqp_uri)} ({where}): {type(exc).__name__}; {hint}."
        )
    return quorum_problem(version)


def quorum_problem(version, queue_type=None):
    """Quorum queues (the default AMQP_QUEUE_TYPE) need RabbitMQ 3.8 or later."""
    queue_type = queue_type or env("AMQP_QUEUE_TYPE", QUORUM)
    if isinstance(version, bytes):
        version = version.decode("utf-8", "replace")
    try:
        major_minor = tuple(int(part) for part in str(version).split(".")[:2])
    except ValueError:  # another broker, or a build that names itself otherwise: let it try
        return None
    if queue_type == QUORUM and len(major_minor) == 2 and major_minor < (3, 8):
        return (
            f"RabbitMQ {version} has no quorum queues: set AMQP_QUEUE_TYPE=classic "
            '(docs/operations.md, "A RabbitMQ cluster").'
        )
    return None


def database_problem(service, url):
    from services.common.migrate import check_database

    try:
        check_database(url)
        return None
    except Exception as exc:  # noqa: BLE001
        safe = url.split("@")[-1]
        return (
            f"The {service} database does not answer ({safe}): {type(exc).__name__}; "
            f"check {service.upper()}_DATABASE_URL or start PostgreSQL."
        )
