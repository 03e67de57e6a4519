"""One clear line instead of a traceback when the broker or a database is not there."""

from services.common.amqp import open_connection, safe
from services.common.config import DEFAULT_AMQP_URI


def broker_problem(amqp_uri):
    """None when a node of AMQP_URI answers (with several addresses, any one of them)."""
    try:
        with open_connection(amqp_uri, connect_timeout=3):
            pass
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
            f"RabbitMQ does not answer at {safe(amqp_uri)} ({where}): {type(exc).__name__}; {hint}."
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
