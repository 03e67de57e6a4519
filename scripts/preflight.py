"""One clear line instead of a traceback when the broker or a database is not there."""

from urllib.parse import urlparse

from kombu import Connection

from services.common.config import DEFAULT_AMQP_URI


def _safe(uri):
    parts = urlparse(uri)
    host = parts.hostname or "localhost"
    return f"{parts.scheme}://{host}:{parts.port or 5672}{parts.path or '/'}"


def broker_problem(amqp_uri):
    try:
        with Connection(amqp_uri, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
        return None
    except Exception as exc:  # noqa: BLE001  any failure is reported the same way
        hint = (
            "start one with `rabbitmq-server -detached` (local) or `docker compose up -d rabbitmq`"
        )
        if amqp_uri == DEFAULT_AMQP_URI:
            where = "the default AMQP_URI"
        else:
            where = "AMQP_URI"
        return (
            f"RabbitMQ does not answer at {_safe(amqp_uri)} ({where}): "
            f"{type(exc).__name__}; {hint}."
        )


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
