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
import sys
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

import requests
from kombu import Exchange

from scripts import rabbit_api
from services.common.amqp import open_connection, vhost_of, with_credentials
from services.common.config import (
    SERVICES,
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
# the one portal process that writes to it (through its outbox)
REQUESTS_SENDER = "payments"
# the portal's requests to the core (transfers, loan payments): declared at start, so the core
# can bind its queue before the portal's first request
REQUESTS = Exchange(REQUESTS_EXCHANGE, type="topic", durable=True, auto_delete=False)


def service_user(service: str) -> str:
    return f"portal-{service}"


def service_permissions(service: str) -> tuple[str, str, str]:
    """(configure, write, read) of `portal-<service>`.

    Its own: `rpc-S` (RPC requests), `rpc.reply-S-…` (replies to its calls), `evt-…--S.…`
    (its event handlers' queues, with `.retry`/`.dead`), `core.S` (the core's events, with
    `.retry`/`.dead`, and a lane such as `core.accounts.members`), `S.events` (what it
    publishes). Shared: `nameko-rpc` (every call and reply), `amq.default` (the default
    exchange its retries and parked messages go through).
    It declares and binds from the other services' `*.events` exchanges (configure, read) and
    from `core.events`, and declares `portal.requests` (the exchange exists from the start),
    but writes to none of them — except `payments`, which sends the requests to the core.
    """
    s = re.escape(service)
    core = rf"core\.{s}(\.[a-z]+)?(\.retry|\.dead)?"  # its queues of the core's events, lanes too
    own = rf"rpc-{s}|rpc\.reply-{s}-.*|evt-.*--{s}\..*|{core}|{s}\.events"
    exchanges = r"[a-z_]+\.events|portal\.requests"
    # payments alone sends the portal's requests to the core
    requests = r"|portal\.requests" if service == REQUESTS_SENDER else ""
    return (
        rf"^({own}|nameko-rpc|{exchanges})$",
        rf"^({own}|nameko-rpc|amq\.default{requests})$",
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


def password_variable(user: str) -> str:
    """CORE_AMQP_PASSWORD for the core, `<NAME>_AMQP_PASSWORD` for `portal-<name>`."""
    if user == core_amqp_user():
        return "CORE_AMQP_PASSWORD"
    return f"{user.removeprefix('portal-').upper()}_AMQP_PASSWORD"


def password(user: str) -> str:
    """The user's password: from its variable (`password_variable`) when set, else its file
    under var/, made once (mode 0600)."""
    given = env(password_variable(user))
    if given:
        return given
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


def deploy(amqp_uri: str, out: TextIO = sys.stdout) -> int:
    """`python -m scripts.portal broker-users` (docker-compose, the Kubernetes migrate Job):
    every portal process's user with the password of its variable (`<NAME>_AMQP_PASSWORD`,
    none is made up), and the core's permissions. The core's user is created only when
    CORE_AMQP_PASSWORD is given: in production its password belongs to the core's connector
    alone, and the operators create it (docs/operations.md). Returns an exit code."""
    vhost = vhost_of(amqp_uri)
    missing = [password_variable(u) for u, _p in table()[1:] if not env(password_variable(u))]
    if missing:
        print(f"broker users: missing {', '.join(missing)}", file=out)
        return 2
    done = 0
    for user, permissions in table():
        if user == core_amqp_user() and not env("CORE_AMQP_PASSWORD"):
            try:
                rabbit_api.call("GET", f"/api/users/{quote(user, safe='')}")
            except requests.HTTPError:
                print(f"broker users: '{user}' does not exist yet; create it", file=out)
                continue
            configure, write, read = permissions
            rabbit_api.call(
                "PUT",
                f"/api/permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
                json={"configure": configure, "write": write, "read": read},
            )
            done += 1
            continue
        ensure_user(user, password(user), vhost, permissions)
        done += 1
    declare_requests(amqp_uri)
    print(f"broker users: {done} set on vhost {vhost}", file=out)
    return 0


def declare_requests(amqp_uri: str) -> None:
    """The `portal.requests` exchange, so the core can bind its queue before the first request."""
    with open_connection(amqp_uri) as connection:
        REQUESTS(connection.default_channel).declare()


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
    parser.add_argument("command", choices=["rabbitmqctl", "table", "lines"])
    parser.add_argument("vhost", nargs="?", default="/")
    args = parser.parse_args(argv)
    if args.command == "rabbitmqctl":
        print("\n".join(rabbitmqctl_commands(args.vhost)))
    elif args.command == "lines":
        # for scripts/rabbit_cluster.sh: user, password (made once under var/), permissions
        for user, permissions in table():
            print("\t".join((user, password(user), *permissions)))
    else:
        for user, (configure, write, read) in table():
            print(f"{user}\n  configure {configure}\n  write     {write}\n  read      {read}")


if __name__ == "__main__":
    main()
