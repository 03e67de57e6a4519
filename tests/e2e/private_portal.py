"""A portal of a test module's own (real processes, own vhost, demo loaded).

For tests that must not share the session's `portal`: fuzzing that trips throttles and locks
users, or tests that need the demo users' passwords as the demo sets them (other end-to-end
stories change maria's and jose's).
"""

import contextlib

from scripts.processes import Portal
from tests.e2e.conftest import make_vhost


@contextlib.contextmanager
def private_portal(workdir, rabbit_manager, amqp_base, extra_env=None):
    vhost, uri = make_vhost(rabbit_manager, amqp_base)
    instance = Portal(workdir, uri, extra_env=extra_env)
    try:
        instance.setup()
        instance.start_all()
        yield instance
    finally:
        instance.stop_all()  # every process told at once, then waited for
        rabbit_manager.delete_vhost(vhost)
