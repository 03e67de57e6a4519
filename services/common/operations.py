"""How a contract names its RPC operations, so that mypy checks every call between services.

Each `services/<service>/contracts.py` publishes a `typing.Protocol` of its operations, one
method per `@rpc` of its service, with the arguments it takes and the answer it gives
(`Annotated[JSON, SomeSchema]`: the JSON that schema dumps; mypy sees the dict, a reader the
schema):

    class AccountsRpc(ServiceOperations, Protocol):
        @operation
        def get_member(self, member_number: str) -> Annotated[JSON, MemberSchema]: ...

and a caller declares its proxy with it: `accounts = ServiceRpc[AccountsRpc]("accounts")`
(services/common/rpc.py). A call to an operation the contract does not name, or with arguments
it does not take, is then a `make lint` error, not a failure in production
(tests/unit/test_rpc_contracts.py proves it); tests/unit/test_rpc_protocols.py keeps each Protocol
equal to its service's `@rpc` methods.

Only types: importing this loads no transport.
"""

from collections.abc import Callable
from typing import (
    Any,
    Concatenate,
    ParamSpec,
    Protocol,
    Self,
    TypeVar,
    cast,
)

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

# a JSON object as it travels: what an operation takes as a body and answers
JSON = dict[str, Any]


class Pending(Protocol[R_co]):
    """A call started and not yet awaited (services.common.rpc's PendingCall at run time)."""

    def result(self) -> R_co:
        """The answer, or its error raised here, within the call's deadline."""
        ...


class Operation(Protocol[P, R_co]):
    """One RPC operation of a proxy: `proxy.op(...)` waits for the answer (under the deadline),
    `proxy.op.call_async(...)` starts it and returns it Pending. At run time it is
    services.common.rpc's `_Method`; this protocol only tells the type checker so."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    def call_async(self, *args: P.args, **kwargs: P.kwargs) -> Pending[R_co]: ...

    def start(self, *args: P.args, **kwargs: P.kwargs) -> Pending[R_co]: ...


def operation(method: Callable[Concatenate[Any, P], R]) -> Operation[P, R]:
    """Declares a method of a contract's Protocol as an RPC operation (its signature without
    `self` is what a caller may pass)."""
    return cast(Operation[P, R], method)


class ServiceOperations(Protocol):
    """What every service answers, and what every proxy can do."""

    def with_timeout(self, timeout: float, count_errors: bool = True) -> Self:
        """The same proxy with another deadline (services/common/rpc.py)."""
        ...

    @operation
    def ping(self) -> str: ...


class InboundOperations(ServiceOperations, Protocol):
    """A service that applies the core's answers or events: how its inbound queue is doing."""

    @operation
    def inbound_status(self) -> JSON: ...


class CoreInboundOperations(InboundOperations, Protocol):
    """A service that applies the core's events in order (services/common/operator.py's
    operations on held and parked events)."""

    @operation
    def held_streams(self) -> list[JSON]: ...

    @operation
    def discard_held(
        self, stream: str, sequence: int, reason: str, operator: str | None = None
    ) -> JSON: ...

    @operation
    def record_parked_discard(
        self, parked: JSON, reason: str, operator: str | None = None
    ) -> JSON: ...


class BulkLoadOperations(Protocol):
    """A service that takes its part of the bulk load (docs/bulk-load.md)."""

    @operation
    def import_state(self, request: JSON) -> JSON: ...

    @operation
    def import_rows(self, kind: str, rows: list[dict[str, str]]) -> JSON: ...
