"""End-to-end: the real processes (every service and the gateway), over HTTP."""

import uuid

import pytest
import requests

from scripts.processes import PROCESSES, Portal
from services.common.amqp import with_vhost


def make_vhost(rabbit_manager, amqp_base):
    vhost = f"portal_e2e_{uuid.uuid4().hex[:8]}"
    rabbit_manager.create_vhost(vhost)
    rabbit_manager.set_vhost_permissions(vhost, "guest", ".*", ".*", ".*")
    return vhost, with_vhost(amqp_base, vhost)


@pytest.fixture(scope="session")
def amqp_base(request):
    """The broker's address(es) (`;`-separated for a cluster); `make_vhost` adds the vhost."""
    return request.config.getoption("RABBIT_AMQP_URI")


@pytest.fixture(scope="session")
def portal(tmp_path_factory, rabbit_manager, amqp_base):
    """One running portal shared by the end-to-end tests of the session."""
    vhost, uri = make_vhost(rabbit_manager, amqp_base)
    # every process as its own broker user with its least permissions, as `make run` starts them
    instance = Portal(tmp_path_factory.mktemp("portal"), uri, broker_users="portal-test-")
    instance.setup()
    instance.start_all()
    yield instance
    instance.stop_all()
    rabbit_manager.delete_vhost(vhost)


@pytest.fixture(scope="module")
def private_portal(tmp_path_factory, rabbit_manager, amqp_base):
    """A portal of the test module's own, for stories that change shared users (passwords)."""
    vhost, uri = make_vhost(rabbit_manager, amqp_base)
    instance = Portal(tmp_path_factory.mktemp("private-portal"), uri)
    instance.setup()
    instance.start_all()
    yield instance
    instance.stop_all()
    rabbit_manager.delete_vhost(vhost)


@pytest.fixture
def api(portal):
    """requests.Session whose relative URLs go to the running portal."""

    class PortalSession(requests.Session):
        base_url = portal.base_url

        def request(self, method, url, *args, **kwargs):
            kwargs.setdefault("timeout", 30)
            return super().request(method, portal.url(url), *args, **kwargs)

    with PortalSession() as session:
        yield session


__all__ = ["PROCESSES", "Portal", "make_vhost"]
