"""The broker users of the embedded default and what each may do (docs/operations.md, "Broker
users and permissions"; docs/integration.md, "Who is the core").

Every portal process connects as a user of its own (`portal-<service>`) that may declare, write
and read only its own queues and exchanges; none may write to `core.events`. The core connects as
`CORE_AMQP_USER` (default `core`): it may write only to `core.events` and read only its own queue
bound to `portal.requests`. The permissions are regular expressions RabbitMQ matches against
exchange and queue names, per virtual host (configure = declare/delete, write = publish or bind
to a queue, read = consume or bind from an exchange).

`make run` (`python -m scripts.portal run`) creates the users through the management API
(`RABBIT_API_URI`, an administrator) with passwords generated once under var/ (mode 0600):
`var/core_amqp_password` for the core (`CORE_AMQP_PASSWORD` overrides it) and
`var/amqp/<user>.password` for the services. `guest` is left as RabbitMQ ships it (localhost only).
The cluster script and the deployment files set the same table (`python -m scripts.broker_users
rabbitmqctl VHOST` prints it as rabbitmqctl commands).
"""

import argparse
import os
import re
import secrets
import shlex
from pathlib import Path
from urllib.parse import quote

from kombu import Exchange

from scripts import rabbit_api
from services.common.amqp import vhost_of, with_credentials
from services.common.config import (
    SERVICES,
    core_amqp_password,
    core_amqp_user,
    env,
    env_bool,
    var_dir,
)

# every process of the Procfile (the gateway is a nameko service too)
PROCESSES = SERVICES + ("gateway",)
# the queue the core's connector binds to `portal.requests` and consumes (docs/integration.md)
CORE_REQUESTS_QUEUE = "portal.requests.core"
REQUESTS_EXCHANGE = "portal.requests"
# the portal's requests to the core (transfers, loan payments): declared at start, so the core
# can bind its queue before the portal's first request
REQUESTS = Exchange(REQUESTS_EXCHANGE, type="topic", durable=True, auto_delete=False)


def service_user(service: str) -> str:
    return f"portal-{service}"


def service_permissions(service: str) -> tuple[str, str, str]:
    """(configure, write, read) of `portal-<service>`.

    Its own: `rpc-S` (RPC requests), `rpc.reply-S-…` (replies to its calls), `evt-…--S.…`
    (its event handlers' queues, with `.retry`/`.dead`), `core.S` (the core's events, with
    `.retry`/`.dead`), `S.events` (what it publishes). Shared: `nameko-rpc` (every call and
    reply), `amq.default` (the default exchange its retries and parked messages go through).
    It declares and binds from the other services' `*.events` exchanges (configure, read) and
    from `core.events`, and declares `portal.requests` (the exchange exists from the start),
    but writes to none of them.
    """
    s = re.escape(service)
    own = rf"rpc-{s}|rpc\.reply-{s}-.*|evt-.*--{s}\..*|core\.{s}(\.retry|\.dead)?|{s}\.events"
    exchanges = r"[a-z_]+\.events|portal\.requests"
    return (
        rf"^({own}|nameko-rpc|{exchanges})$",
        rf"^({own}|nameko-rpc|amq\.default)$",
        rf"^({own}|nameko-rpc|[a-z_]+\.events)$",
    )


def core_permissions() -> tuple[str, str, str]:
    """(configure, write, read) of the core: it declares `core.events` and its own queue, writes
    to `core.events` (and to its queue: RabbitMQ asks write on a queue to bind it; nothing can be
    published into it but through `portal.requests`), and reads its queue and the requests
    exchange it binds it to."""
    queue = re.escape(CORE_REQUESTS_QUEUE)
    return (
        rf"^(core\.events|{queue})$",
        rf"^(core\.events|{queue})$",
        rf"^(portal\.requests|{queue})$",
    )


def table() -> list[tuple[str, tuple[str, str, str]]]:
    """[(user, (configure, write, read))]: the core first, then every portal process."""
    return [(core_amqp_user(), core_permissions())] + [
        (service_user(name), service_permissions(name)) for name in PROCESSES
    ]


# --- passwords ------------------------------------------------------------------------------


def password_file(user: str) -> Path:
    if user == core_amqp_user():
        return var_dir() / "core_amqp_password"
    return var_dir() / "amqp" / f"{user}.password"


def password(user: str) -> str:
    """The user's password: the core's from CORE_AMQP_PASSWORD when set, else its file under
    var/, made once (mode 0600)."""
    if user == core_amqp_user() and env("CORE_AMQP_PASSWORD"):
        return core_amqp_password() or ""
    path = password_file(user)
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(24)
    # created with 0600 from the start: never readable by others, even for a moment
    with open(path, "x", opener=lambda p, flags: os.open(p, flags, 0o600)) as fh:
        fh.write(secret + "\n")
    return secret


# --- the broker -----------------------------------------------------------------------------


def ensure_user(user: str, secret: str, vhost: str, permissions: tuple[str, str, str]) -> None:
    """Create (or update) `user` with `secret` and set its permissions on `vhost`, through the
    management API. Never touches another user."""
    if user == "guest":
        raise ValueError("guest stays as RabbitMQ ships it")
    configure, write, read = permissions
    who = quote(user, safe="")
    rabbit_api.call("PUT", f"/api/users/{who}", json={"password": secret, "tags": ""})
    rabbit_api.call(
        "PUT",
        f"/api/permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
        json={"configure": configure, "write": write, "read": read},
    )


def ensure_all(amqp_uri: str) -> dict[str, str]:
    """Every user of the table on AMQP_URI's vhost; returns {process or "core": its URI}."""
    vhost = vhost_of(amqp_uri)
    uris = {}
    for user, permissions in table():
        secret = password(user)
        ensure_user(user, secret, vhost, permissions)
        name = "core" if user == core_amqp_user() else user.removeprefix("portal-")
        uris[name] = with_credentials(amqp_uri, user, secret)
    return uris


def ensure_core(amqp_uri: str) -> str:
    """AMQP_URI's vhost as the core's user, which is made to exist with the core's permissions
    there (its password as `password` gives it); for tools that play the core on a vhost of
    their own (benchmarks, tests)."""
    user = core_amqp_user()
    secret = password(user)
    ensure_user(user, secret, vhost_of(amqp_uri), core_permissions())
    return with_credentials(amqp_uri, user, secret)


def enabled() -> bool:
    """AMQP_SERVICE_USERS (default on): `make run` gives every process its own broker user.
    `off`: every process connects with AMQP_URI as given (e.g. a broker whose users an
    operator manages)."""
    return env_bool("AMQP_SERVICE_USERS", True)


def process_uri(name: str, amqp_uri: str) -> str:
    """The URI `make run` starts process `name` with: its own user once `make run` made its
    password, else `amqp_uri` as given."""
    path = password_file(service_user(name))
    if not enabled() or not path.exists():
        return amqp_uri
    return with_credentials(amqp_uri, service_user(name), path.read_text().strip())


def rabbitmqctl_commands(vhost: str) -> list[str]:
    """The table as rabbitmqctl commands (passwords left for the operator to fill in)."""
    lines = []
    for user, (configure, write, read) in table():
        secret = "CORE_PASSWORD" if user == core_amqp_user() else "PASSWORD"
        lines.append(f'rabbitmqctl add_user {shlex.quote(user)} "${secret}"')
        lines.append(
            f"rabbitmqctl set_permissions -p {shlex.quote(vhost)} {shlex.quote(user)} "
            f"{shlex.quote(configure)} {shlex.quote(write)} {shlex.quote(read)}"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="broker_users", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["rabbitmqctl", "table"])
    parser.add_argument("vhost", nargs="?", default="/")
    args = parser.parse_args(argv)
    if args.command == "rabbitmqctl":
        print("\n".join(rabbitmqctl_commands(args.vhost)))
    else:
        for user, (configure, write, read) in table():
            print(f"{user}\n  configure {configure}\n  write     {write}\n  read      {read}")


if __name__ == "__main__":
    main()
