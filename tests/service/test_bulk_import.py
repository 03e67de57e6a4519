"""The bulk load (`python -m scripts.portal import DIR`), the core publisher example and the core
simulator, against the real broker and the running accounts, credit and deposit services."""

import csv
import io
import os
import re
import subprocess
import sys
from decimal import Decimal

import pytest

from scripts import bulk_import, core_simulator, demo_files
from services.accounts.service import AccountsService
from services.common.config import PROJECT_ROOT
from services.credit.service import CreditService
from services.deposit.service import DepositService
from tests.service.event_tools import wait_until


@pytest.fixture
def core_services(service_config, container_factory, core_uri):
    # core_uri: the core's broker user exists on this vhost (the simulator publishes as it)
    for cls in (AccountsService, CreditService, DepositService):
        container_factory(cls, service_config).start()
    return service_config


@pytest.fixture
def target(core_services):
    rpc = bulk_import.RpcTarget(core_services["AMQP_URI"], timeout=60)
    yield rpc
    rpc.close()


def urls(cfg):
    return {s: cfg[f"{s.upper()}_DATABASE_URL"] for s in ("accounts", "credit", "deposit")}


def run_import(directory, target):
    out, err = io.StringIO(), io.StringIO()
    code, result = bulk_import.run(directory, target, show_progress=False, out=out, err=err)
    return code, result, out.getvalue(), err.getvalue()


def read_csv(path):
    with open(path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_good_files_load_through_the_services_and_a_second_run_changes_nothing(
    core_services, target, rpc_proxy, tmp_path, today
):
    directory = tmp_path / "core"
    written = demo_files.write(directory, today, urls(core_services), count=3)

    code, counts, out, err = run_import(directory, target)

    assert code == 0, err
    for name, rows in written.items():
        assert counts[name]["created"] == rows, name
    assert "movements.csv: %d created, 0 unchanged" % written["movements.csv"] in out
    # maria sees her balances to the cent: the balance of each account's last movement
    movements = read_csv(directory / "movements.csv")
    last = {}
    for row in movements:
        last[row["account_number"]] = row
    accounts = rpc_proxy("accounts").list_accounts("100234")
    assert {a["account_number"]: a["balance"] for a in accounts} == {
        n: last[n]["balance"] for n in ("4100234001", "4100234002", "4100234003")
    }
    # and her loan's table exactly as the core sent it, paid installments included
    loan = rpc_proxy("credit").get_loan("100234", "CR-100234-02")
    table = [
        r for r in read_csv(directory / "installments.csv") if r["loan_number"] == "CR-100234-02"
    ]
    assert [(r["number"], r["principal"], r["interest"], r["balance"]) for r in loan["rows"]] == [
        (int(r["number"]), r["principal"], r["interest"], r["balance"]) for r in table
    ]
    assert [r["paid_on"] for r in loan["rows"]] == [r["paid_on"] or None for r in table]
    deposits = rpc_proxy("deposit").list_deposits("100234")
    assert [d["deposit_number"] for d in deposits] == ["DPF-100234-01"]

    code, counts, out, err = run_import(directory, target)

    assert code == 0, err
    assert all(c.get("created", 0) == 0 for c in counts.values()), counts
    assert f"movements.csv: 0 created, {written['movements.csv']} unchanged" in out
    assert rpc_proxy("accounts").list_accounts("100234") == accounts


BROKEN = {
    "members.csv": [
        "member_number,identification,first_names,last_names,email,phone,status",
        "300001,1710034065,Rosa,Lema,rosa.lema@example.com,0991112233,activo",
        "300002,1710034066,Juan,Mora,no-es-correo,,activo",
        "300001,1710034067,Otra,Vez,otra@example.com,,activo",
        "300003,1710034068,Pedro,Paz,pedro@example.com,,jubilado",
    ],
    "accounts.csv": [
        "account_number,member_number,product,opened_on",
        "4300001001,300001,AHORRO_VISTA,2026-01-05",
        "4399999001,399999,AHORRO_VISTA,2026-01-05",
        "4300001002,300001,AHORRO_VISTA,2026-13-01",
    ],
    "movements.csv": [
        "account_number,sequence,date,posted_at,description,reference,debit,credit,balance",
        "4300001001,1,2026-01-05,2026-01-05T15:00:00Z,Apertura,R1,0.00,100.00,100.00",
        "4300001001,2,2026-01-06,2026-01-06T15:00:00Z,Retiro,R2,30.00,0.00,75.00",
        "4300001001,4,2026-01-07,2026-01-07T15:00:00Z,Depósito,R4,0.00,10.00,80.00",
        "4300001001,5,2026-01-08,2026-01-08T15:00:00Z,Depósito,R5,0.00,10.005,90.00",
        "4300001001,6,2026-01-09,2026-01-09T15:00:00Z,Retiro,R6,-5.00,0.00,85.00",
        "4300001001,7,2026-01-09,2026-01-09T15:00:00Z,Retiro,R2,5.00,0.00,80.00",
    ],
    "loans.csv": [
        "loan_number,member_number,product_code,amount,annual_rate,system,frequency,"
        "term_months,disbursed_on,application_number",
        "CR-300001-01,300001,CONSUMO,1000.00,15.60,french,monthly,2,2026-01-05,",
    ],
    "installments.csv": [
        "loan_number,number,due_date,principal,interest,insurance,installment,balance,paid_on",
        "CR-300001-01,1,2026-02-05,500.00,13.00,0.00,513.00,500.00,",
        "CR-300001-01,2,2026-03-05,400.00,6.50,0.00,406.50,100.00,",
        "CR-999999-01,1,2026-02-05,500.00,13.00,0.00,513.00,500.00,",
    ],
    "guarantors.csv": ["loan_number,member_number", "CR-300001-01,300001"],
    "deposits.csv": [
        "deposit_number,member_number,amount,annual_rate,term_days,opened_on,maturity_date,"
        "interest_payment",
        "DPF-399999-01,399999,1000.00,6.50,90,2026-01-05,2026-04-05,maturity",
    ],
}


def test_broken_files_report_every_problem_with_file_and_line_and_load_nothing(
    core_services, target, rpc_proxy, tmp_path
):
    directory = tmp_path / "broken"
    directory.mkdir()
    for name, lines in BROKEN.items():
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, problems, _out, err = run_import(directory, target)

    assert code == 1
    expected = [
        "members.csv:3: email",  # not an e-mail address
        "members.csv:4: socio 300001 repetido",
        "members.csv:5: status",  # not activo/inactivo
        "accounts.csv:3: el socio 399999 no está",
        "accounts.csv:4: opened_on",  # not a date
        "movements.csv:3: cuenta 4300001001 secuencia 2: el saldo no cuadra",
        "movements.csv:4: cuenta 4300001001: falta la secuencia 3",
        "movements.csv:5: credit",  # three decimals
        "movements.csv:6: debit",  # negative
        "movements.csv:7: cuenta 4300001001: referencia R2 repetida",
        "loans.csv:2: tabla del crédito CR-300001-01",  # Σ principal ≠ amount
        "installments.csv:4: el crédito CR-999999-01 no está en loans.csv",
        "guarantors.csv:2: el deudor no puede ser su propio garante",
        "deposits.csv:2: el socio 399999 no está",
    ]
    lines = err.splitlines()
    for prefix in expected:
        assert any(line.startswith(prefix) for line in lines), (prefix, err)
    assert "no se cargó nada" in err
    # nothing anywhere
    assert rpc_proxy("accounts").import_state({"members": ["300001", "300002"]})["members"] == {}
    assert rpc_proxy("credit").import_state({"loans": ["CR-300001-01"]})["loans"] == []
    assert rpc_proxy("deposit").import_state({"deposits": ["DPF-399999-01"]})["deposits"] == []


def test_an_unclosed_quote_is_reported_where_its_record_starts_and_nothing_else(
    core_services, target, rpc_proxy, tmp_path, today
):
    directory = tmp_path / "quote"
    demo_files.write(directory, today, urls(core_services), count=20)
    loans = (directory / "loans.csv").read_text(encoding="utf-8").splitlines()
    assert len(loans) > 6  # the broken loan is followed by good ones
    broken = loans[3].split(",")
    broken[2] = '"' + broken[2]  # an opening quote the core never closed
    loans[3] = ",".join(broken)
    (directory / "loans.csv").write_text("\n".join(loans) + "\n", encoding="utf-8")
    installments = read_csv(directory / "installments.csv")
    assert any(r["loan_number"] == broken[0] for r in installments)

    code, _problems, _out, err = run_import(directory, target)

    assert code == 1
    # only the root cause: the line where the broken record starts; the loans after it are read
    # as themselves, and the broken loan's installments and guarantors are not reported again
    assert err.splitlines() == [
        f"loans.csv:4: {bulk_import.BROKEN_QUOTE}",
        "1 problema(s): no se cargó nada.",
    ]
    assert rpc_proxy("credit").import_state({"loans": [broken[0]]})["loans"] == []


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_movements_continue_what_is_loaded_and_conflicts_with_it_are_refused(
    core_services, target, rpc_proxy, tmp_path
):
    first = tmp_path / "day1"
    first.mkdir()
    (first / "members.csv").write_text("\n".join(BROKEN["members.csv"][:2]) + "\n")
    (first / "accounts.csv").write_text("\n".join(BROKEN["accounts.csv"][:2]) + "\n")
    (first / "movements.csv").write_text("\n".join(BROKEN["movements.csv"][:2]) + "\n")
    assert run_import(first, target)[0] == 0
    header = BROKEN["movements.csv"][0]
    later = tmp_path / "day2"
    later.mkdir()
    (later / "movements.csv").write_text(
        "\n".join(
            [
                header,
                "4300001001,2,2026-01-06,2026-01-06T15:00:00Z,Retiro,R2,30.00,0.00,70.00",
                "4300001001,3,2026-01-07,2026-01-07T15:00:00Z,Depósito,R1,0.00,5.00,75.00",
            ]
        )
        + "\n"
    )

    code, _problems, _out, err = run_import(later, target)

    assert code == 1
    assert "movements.csv:3: cuenta 4300001001: la referencia R1 ya está cargada" in err
    odd = 'Retiro "cajero", sucursal {norte} \\ 2'  # quoted in the CSV, stored as written
    (later / "movements.csv").write_text(
        header + '\n4300001001,2,2026-01-06,2026-01-06T15:00:00Z,"Retiro ""cajero"", sucursal '
        '{norte} \\ 2",R2,30.00,0.00,70.00\n'
    )
    assert run_import(later, target)[0] == 0
    accounts = rpc_proxy("accounts")
    assert Decimal(accounts.list_accounts("300001")[0]["balance"]) == Decimal("70.00")
    statement = accounts.get_statement("300001", "4300001001", "2026-01-01", "2026-01-31")
    assert [m["description"] for m in statement["movements"]] == ["Apertura", odd]


def test_core_publisher_example_gets_back_what_no_portal_queue_takes(rabbit_config):
    """A broker (vhost) where the portal never started: the event is returned to the publisher
    (mandatory), not lost silently; the event_id derived from the core's change id is stable."""
    script = str(PROJECT_ROOT / "examples" / "core_publisher.py")
    env = {**os.environ, "AMQP_URI": rabbit_config["AMQP_URI"]}
    args = ["account_closed", "account_number=4300009001", "closed_on=2026-03-02"]

    runs = [
        subprocess.run(
            [sys.executable, script, *args, "--change-id", "CORE-CHG-881"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        for _ in range(2)
    ]

    for result in runs:
        assert result.returncode == 3, result.stderr
        assert "not delivered" in result.stderr and "NO_ROUTE" in result.stderr
        assert "published" not in result.stdout
    ids = {re.search(r"account_closed ([0-9a-f-]{36})", r.stderr).group(1) for r in runs}
    assert len(ids) == 1  # the same change, the same event_id


def test_core_publisher_example_reaches_the_portal(core_services, core_uri, rpc_proxy):
    script = str(PROJECT_ROOT / "examples" / "core_publisher.py")
    env = {**os.environ, "CORE_AMQP_URI": core_uri}  # the core's own user, as make run prints

    def publish(*args):
        result = subprocess.run(
            [sys.executable, script, *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    publish(
        "member_upserted",
        "member_number=300009",
        "identification=1710034065",
        "first_names=Rosa Elena",
        "last_names=Lema Chimbo",
        "email=rosa.lema@example.com",
        "phone:=null",
        "status=activo",
    )
    publish(
        "account_opened",
        "account_number=4300009001",
        "member_number=300009",
        "product=AHORRO_VISTA",
        "opened_on=2026-11-30",
    )
    out = publish(
        "movement_posted",
        "account_number=4300009001",
        "sequence:=1",
        "date=2026-12-01",
        "posted_at=2026-12-01T15:04:00Z",
        "description=Depósito de nómina",
        "reference=NOM-1",
        "debit=0.00",
        "credit=850.00",
        "balance=850.00",
    )
    assert out.startswith("published movement_posted ")
    accounts = rpc_proxy("accounts")

    def balance():
        found = accounts.list_accounts("300009")
        return found and found[0]["balance"]

    wait_until(lambda: balance() == "850.00", message="the movement to reach the account")
    assert accounts.get_member("300009")["display_name"].startswith("Rosa")


def test_core_simulator_plays_a_day_and_the_portal_agrees_at_day_close(
    core_services, target, rpc_proxy, tmp_path, today
):
    directory = tmp_path / "core"
    demo_files.write(directory, today, urls(core_services), count=2)
    assert run_import(directory, target)[0] == 0
    out = io.StringIO()

    core = core_simulator.simulate(
        core_services["AMQP_URI"], today, count=2, payrolls=4, withdrawals=3, payments=2, out=out
    )

    kinds = [e["event_type"] for e in core.events]
    assert kinds.count("movement_posted") >= 4 and "installment_paid" in kinds
    assert "deposit_opened" in kinds and kinds[-1] == "day_closed"
    accounts = rpc_proxy("accounts")
    member_of = {n: a["member_number"] for n, a in core.accounts.items()}

    def portal_balances():
        out = {}
        for member in set(member_of.values()):
            out.update({a["account_number"]: a["balance"] for a in accounts.list_accounts(member)})
        return out

    expected = {n: f"{a['balance']:.2f}" for n, a in core.accounts.items()}
    wait_until(lambda: portal_balances() == expected, message="the day's movements to apply")
    wait_until(
        lambda: accounts.reconciliation(today.isoformat()).get("complete"),
        message="the day to close",
    )
    assert accounts.reconciliation(today.isoformat())["differences"] == []
    paid = next(e["data"] for e in core.events if e["event_type"] == "installment_paid")
    credit = rpc_proxy("credit")
    member = next(
        loan["member_number"] for loan in core.loans if loan["loan_number"] == paid["loan_number"]
    )

    def paid_on():
        rows = credit.get_loan(member, paid["loan_number"])["rows"]
        return rows[paid["number"] - 1]["paid_on"]

    wait_until(lambda: paid_on() == today.isoformat(), message="the payment to apply")
    opened = next(e["data"] for e in core.events if e["event_type"] == "deposit_opened")
    wait_until(
        lambda: (
            opened["deposit_number"]
            in [
                d["deposit_number"]
                for d in rpc_proxy("deposit").list_deposits(opened["member_number"])
            ]
        ),
        message="the deposit to appear",
    )


def test_a_member_changed_in_the_core_is_updated_by_a_later_load(
    core_services, target, rpc_proxy, tmp_path
):
    directory = tmp_path / "members"
    directory.mkdir()
    header, rosa = BROKEN["members.csv"][:2]
    (directory / "members.csv").write_text(f"{header}\n{rosa}\n")
    assert run_import(directory, target)[0] == 0
    (directory / "members.csv").write_text(
        f"{header}\n{rosa.replace('rosa.lema@', 'rosa.nueva@').replace('activo', 'inactivo')}\n"
    )

    code, counts, _out, err = run_import(directory, target)

    assert code == 0, err
    assert counts["members.csv"] == {"created": 0, "unchanged": 0, "updated": 1}
    member = rpc_proxy("accounts").get_member("300001")
    assert (member["email"], member["status"]) == ("rosa.nueva@example.com", "inactivo")


def test_a_loan_carries_on_the_cores_loan_sequence_and_its_table_as_sent(
    core_services, target, rpc_proxy, tmp_path
):
    directory = tmp_path / "loan"
    directory.mkdir()
    files = {
        "members.csv": BROKEN["members.csv"][:2],
        "loans.csv": [
            BROKEN["loans.csv"][0] + ",loan_sequence",
            "CR-300001-01,300001,CONSUMO,1000.00,15.60,french,monthly,2,2026-01-05,,3",
        ],
        "installments.csv": [
            BROKEN["installments.csv"][0],
            # listed out of order: the table is stored by installment number
            "CR-300001-01,2,2026-03-05,500.00,6.50,0.00,506.50,0.00,",
            "CR-300001-01,1,2026-02-05,500.00,13.00,0.00,513.00,500.00,2026-02-04",
        ],
    }
    for name, lines in files.items():
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, counts, _out, err = run_import(directory, target)

    assert code == 0, err
    assert counts["loans.csv"]["created"] == 1 and counts["installments.csv"]["created"] == 2
    state = rpc_proxy("credit").import_state({"active_loans_of": ["300001"]})
    (loan,) = state["active_loans"]
    assert loan["last_sequence"] == 3
    assert loan["next"] == {
        "number": 2,
        "due_date": "2026-03-05",
        "principal": "500.00",
        "interest": "6.50",
        "insurance": "0.00",
    }


def test_the_accounts_service_checks_movement_rows_again_itself(core_services, rpc_proxy):
    """import_rows is an RPC: a service never trusts its input, whatever sent it."""
    accounts = rpc_proxy("accounts")
    member, account = (
        dict(zip(BROKEN[name][0].split(","), BROKEN[name][1].split(","), strict=True))
        for name in ("members.csv", "accounts.csv")
    )
    accounts.import_rows("members", [member])
    accounts.import_rows("accounts", [account])
    good = [
        ["4300001001", "1", "2026-01-05", "2026-01-05T15:00:00Z", "Apertura", "R1", "0.00",
         "100.00", "100.00"],
        ["4300001001", "2", "2026-01-06", "2026-01-06T15:00:00Z", "Retiro", "R2", "30.05",
         "0.00", "69.95"],
    ]  # fmt: skip
    wrong_sum = [good[0], [*good[1][:8], "70.00"]]
    three_decimals = [good[0], [*good[1][:6], "30.005", "0.00", "69.995"]]

    for rows, reason in ((wrong_sum, "el saldo no cuadra"), (three_decimals, "debit")):
        with pytest.raises(Exception, match=reason):
            accounts.import_rows("movements", rows)
    assert accounts.import_rows("movements", good) == {"created": 2, "unchanged": 0}
    assert accounts.import_rows("movements", good) == {"created": 0, "unchanged": 2}
    assert accounts.list_accounts("300001")[0]["balance"] == "69.95"
