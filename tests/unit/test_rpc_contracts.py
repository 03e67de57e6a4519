"""`make lint` catches a misnamed RPC: the proxies are typed by their service's contract
(services/common/operations.py), so mypy refuses a call to an operation the contract does not
name, with arguments it does not take, or a proxy declared without a contract."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CALLER = """
from services.accounts.contracts import AccountsRpc
from services.common.rpc import ServiceRpc, batch


class Caller:
    accounts = ServiceRpc[AccountsRpc]("accounts")
    untyped = ServiceRpc("accounts")

    def right(self) -> None:
        self.accounts.get_member("0001")
        self.accounts.get_member.call_async(member_number="0001").result()
        self.accounts.with_timeout(2).overview("0001")
        with batch() as b:
            b.call(self.accounts.list_accounts, "0001")

    def wrong(self) -> None:
        self.accounts.get_membr("0001")  # line 18
        self.accounts.get_member(1)  # line 19
        self.accounts.get_member.call_async("0001", full=True)  # line 20
        with batch() as b:
            b.call(self.accounts.list_accounts)  # line 22
"""


def test_mypy_refuses_calls_the_contract_does_not_name(tmp_path):
    caller = tmp_path / "caller.py"
    caller.write_text(CALLER)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--config-file",
            str(ROOT / "pyproject.toml"),
            str(caller),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    errors = sorted(
        int(line.split(":")[1]) for line in result.stdout.splitlines() if ": error:" in line
    )
    assert errors == [8, 18, 19, 20, 22], result.stdout
    assert '"AccountsRpc" has no attribute "get_membr"' in result.stdout
