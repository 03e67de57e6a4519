"""Each contract's Protocol names exactly its service's `@rpc` operations, with the same
parameters (names, order, defaults): mypy checks callers against the Protocol
(tests/unit/test_rpc_contracts.py), this keeps the Protocol true to the service."""

import inspect

import pytest
from nameko.rpc import Rpc

from services.accounts.contracts import AccountsRpc
from services.accounts.service import AccountsService
from services.audit.contracts import AuditRpc
from services.audit.service import AuditService
from services.auth.contracts import AuthRpc
from services.auth.service import AuthService
from services.credit.contracts import CreditRpc
from services.credit.service import CreditService
from services.deposit.contracts import DepositRpc
from services.deposit.service import DepositService
from services.notifications.contracts import NotificationsRpc
from services.notifications.service import NotificationsService
from services.payments.contracts import PaymentsRpc
from services.payments.service import PaymentsService
from services.reports.contracts import ReportsRpc
from services.reports.service import ReportsService

PAIRS = [
    (AccountsService, AccountsRpc),
    (AuditService, AuditRpc),
    (AuthService, AuthRpc),
    (CreditService, CreditRpc),
    (DepositService, DepositRpc),
    (NotificationsService, NotificationsRpc),
    (PaymentsService, PaymentsRpc),
    (ReportsService, ReportsRpc),
]
NOT_OPERATIONS = {"with_timeout"}  # what the proxy itself does


def rpc_operations(service):
    return {
        name: fn
        for name, fn in inspect.getmembers(service, inspect.isfunction)
        if any(isinstance(e, Rpc) for e in getattr(fn, "nameko_entrypoints", ()))
    }


def protocol_operations(protocol):
    found = {}
    for cls in reversed(protocol.__mro__):
        for name, value in vars(cls).items():
            if inspect.isfunction(value) and not name.startswith("_"):
                found[name] = value
    return {name: fn for name, fn in found.items() if name not in NOT_OPERATIONS}


def shape(fn):
    """(name, kind, default) of each parameter but `self`."""
    params = list(inspect.signature(fn).parameters.values())[1:]
    return [(p.name, p.kind, p.default) for p in params]


@pytest.mark.parametrize(("service", "protocol"), PAIRS, ids=[p.__name__ for _, p in PAIRS])
def test_the_protocol_names_the_operations_of_its_service(service, protocol):
    assert sorted(protocol_operations(protocol)) == sorted(rpc_operations(service))


@pytest.mark.parametrize(("service", "protocol"), PAIRS, ids=[p.__name__ for _, p in PAIRS])
def test_each_operation_takes_what_the_service_takes(service, protocol):
    declared = protocol_operations(protocol)
    for name, fn in rpc_operations(service).items():
        if name in declared:
            assert shape(declared[name]) == shape(fn), f"{protocol.__name__}.{name}"
