"""A hashing worker of auth (services/auth/passwords.py): Argon2id in its own process, at a
lower priority, answering the service's requests on its pipes (services/common/procpool.py)."""

from services.common.known_warnings import acknowledge

acknowledge()  # before eventlet is imported (through procpool)

from services.auth import passwords  # noqa: E402
from services.common.config import env_int  # noqa: E402
from services.common.procpool import serve  # noqa: E402


def handle(request):
    if request["op"] == "hash":
        return passwords.hash_now(request["secret"])
    if request["op"] == "check":
        ok, fresh = passwords.check_now(
            request.get("stored"), request["secret"], request.get("rehash", True)
        )
        return [ok, fresh]
    raise ValueError(f"unknown operation {request['op']!r}")


if __name__ == "__main__":
    serve(handle, nice=env_int("AUTH_HASH_NICE", 10))
