from tests.e2e.conftest import amqp_base  # noqa: F401  (session fixture shared with e2e)
