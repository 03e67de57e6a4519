"""RabbitMQ's management API for the operators' commands (dead letters, queue migration).

`RABBIT_API_URI` (default `http://guest:guest@localhost:15672`) may name several nodes of a
cluster separated by `;`: each is asked in turn until one answers (any node answers for the
whole cluster). The virtual host is AMQP_URI's.
"""

from urllib.parse import quote, urlparse

import requests

from services.common.amqp import vhost_of
from services.common.config import amqp_uri, env

DEFAULT_API = "http://guest:guest@localhost:15672"


def api_bases():
    """[(base URL, (user, password))] of RABBIT_API_URI's nodes, in order."""
    out = []
    for part in env("RABBIT_API_URI", DEFAULT_API).split(";"):
        if not part.strip():
            continue
        api = urlparse(part.strip())
        out.append(
            (
                f"{api.scheme}://{api.hostname}:{api.port or 15672}",
                (api.username or "guest", api.password or "guest"),
            )
        )
    return out


def vhost():
    return vhost_of(amqp_uri())


def queue_path(name=None):
    """`/api/queues/<vhost>[/<name>]`, quoted."""
    path = f"/api/queues/{quote(vhost(), safe='')}"
    return path if name is None else f"{path}/{quote(name, safe='')}"


def call(method, path, **kwargs):
    """The answer of the first node that answers; its HTTP errors are raised."""
    failure = None
    for base, auth in api_bases():
        try:
            answer = requests.request(method, base + path, auth=auth, timeout=10, **kwargs)
        except requests.RequestException as exc:  # that node is away: the next one
            failure = exc
            continue
        answer.raise_for_status()
        return answer
    raise failure or requests.ConnectionError("RABBIT_API_URI names no node")


def get(path, **kwargs):
    return call("GET", path, **kwargs).json()
