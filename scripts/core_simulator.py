"""`python -m scripts.core_simulator`: the demo cooperative's core for one business day.

It reads where things stand through the services' RPC (`import_state`: each account's last
sequence and balance, each active loan's next installment, the applications waiting for a
decision), then publishes on `core.events`, as the core would (docs/integration.md):

- payroll deposits and withdrawals (`movement_posted`, the next `sequence`, the balance after);
- installment payments (`installment_paid`, the next `loan_sequence`, the installment's figures);
- a term deposit opened at the counter (`deposit_opened`, at the rate the chart gives);
- decisions on the applications the portal sent (`application_status_changed`);
- `day_closed`: every account's balance and last sequence, in chunks of at most 1 000.

Deterministic for a date (fixed seed), bounded (it stops by itself), paced so a demo shows the
portal moving (`--pace`, seconds between events). The services must be running (`make run`).
"""

import argparse
import json
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kombu import Connection, Exchange, Producer

from services.common import config
from services.common.clock import CLOCK

EXCHANGE = Exchange("core.events", type="topic", durable=True)
CHUNK = 1000


def envelope(event_type, data):
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "source": "core",
        "occurred_at": now,
        "version": 1,
        "data": data,
    }


class Core:
    """What the simulated core knows and sends."""

    def __init__(self, rpc, today, seed=None):
        self.rpc = rpc
        self.today = today
        self.rng = random.Random(f"core-simulator:{seed or today.isoformat()}")
        self.accounts = {}  # number → {"member_number", "last_seq", "balance"}
        self.events = []

    def read_state(self, member_numbers, account_numbers):
        state = self.rpc.accounts.import_state({"accounts": account_numbers})
        for number, row in sorted(state["accounts"].items()):
            self.accounts[number] = {
                "member_number": row["member_number"],
                "last_seq": row["last_seq"],
                "balance": Decimal(row["balance"]),
            }
        credit = self.rpc.credit.import_state(
            {"active_loans_of": member_numbers, "pending_applications": 50}
        )
        self.loans = credit.get("active_loans", [])
        self.applications = credit.get("pending_applications", [])

    def _instant(self, hour):
        moment = datetime.combine(self.today, datetime.min.time()) + timedelta(
            hours=hour + 5, minutes=self.rng.randint(0, 59)
        )  # Ecuador is UTC−5: a teller's 09:00 is 14:00Z
        return moment.isoformat() + "Z"

    def movement(self, number, description, debit, credit, hour):
        account = self.accounts[number]
        account["last_seq"] += 1
        account["balance"] = account["balance"] + credit - debit
        self.events.append(
            envelope(
                "movement_posted",
                {
                    "account_number": number,
                    "sequence": account["last_seq"],
                    "date": self.today.isoformat(),
                    "posted_at": self._instant(hour),
                    "description": description,
                    "reference": f"SIM-{self.today:%Y%m%d}-{number}-{account['last_seq']}",
                    "debit": f"{debit:.2f}",
                    "credit": f"{credit:.2f}",
                    "balance": f"{account['balance']:.2f}",
                },
            )
        )

    def play(self, payrolls, withdrawals, payments, decisions, deposit):
        savings = [n for n in self.accounts if n.endswith("001")]
        for number in self.rng.sample(savings, min(payrolls, len(savings))):
            amount = Decimal(self.rng.randint(45000, 180000)) / 100
            self.movement(number, "Depósito de nómina", Decimal("0.00"), amount, 9)
        for number in self.rng.sample(savings, min(withdrawals, len(savings))):
            balance = self.accounts[number]["balance"]
            amount = min(balance, Decimal(self.rng.randint(20, 200)))
            if amount > 0:
                self.movement(number, "Retiro cajero automático", amount, Decimal("0.00"), 12)
        due = [loan for loan in self.loans if loan["next"]]
        for loan in due[:payments]:
            nxt = loan["next"]
            self.events.append(
                envelope(
                    "installment_paid",
                    {
                        "loan_number": loan["loan_number"],
                        "loan_sequence": loan["last_sequence"] + 1,
                        "number": nxt["number"],
                        "paid_on": self.today.isoformat(),
                        "reference": f"SIM-PAGO-{loan['loan_number']}-{nxt['number']}",
                        "principal": nxt["principal"],
                        "interest": nxt["interest"],
                        "insurance": nxt["insurance"],
                        "late_interest": "0.00",
                    },
                )
            )
        for app in self.applications[:decisions]:
            if app["status"] == "ingresada":
                status, reason = "en_analisis", None
            elif self.rng.random() < 0.7:
                status, reason = "aprobada", "Cumple la capacidad de pago."
            else:
                status, reason = "negada", "La cuota supera la capacidad de pago declarada."
            self.events.append(
                envelope(
                    "application_status_changed",
                    {
                        "application_number": app["application_number"],
                        "status": status,
                        "reason": reason,
                        "changed_at": self._instant(15),
                    },
                )
            )
        if deposit:
            self.events.append(deposit)

    def day_closed(self):
        numbers = sorted(self.accounts)
        chunks = max(1, -(-len(numbers) // CHUNK))
        for index in range(chunks):
            part = numbers[index * CHUNK : (index + 1) * CHUNK]
            self.events.append(
                envelope(
                    "day_closed",
                    {
                        "business_date": self.today.isoformat(),
                        "chunk": index + 1,
                        "chunks": chunks,
                        "accounts": [
                            {
                                "account_number": n,
                                "balance": f"{self.accounts[n]['balance']:.2f}",
                                "last_sequence": self.accounts[n]["last_seq"],
                            }
                            for n in part
                        ],
                    },
                )
            )


def deposit_event(rpc, member_number, today, existing):
    """A deposit opened at the counter, at the rate the portal's chart gives for it."""
    number = next(
        f"DPF-{member_number}-{i:02d}"
        for i in range(1, 100)
        if f"DPF-{member_number}-{i:02d}" not in existing
    )
    quote = rpc.deposit.simulate("5000.00", 180, "maturity", today.isoformat())
    return envelope(
        "deposit_opened",
        {
            "deposit_number": number,
            "member_number": member_number,
            "amount": "5000.00",
            "annual_rate": quote["annual_rate"],
            "term_days": 180,
            "opened_on": today.isoformat(),
            "maturity_date": quote["maturity_date"],
            "interest_payment": "maturity",
        },
    )


def census_numbers(today, count):
    """The demo census's member and account numbers (services/common/demo.py)."""
    from services.accounts.demo import accounts_for
    from services.common.demo import census

    members = census(today, count)
    accounts = [a[0] for m in members for a in accounts_for(m, today)]
    return [m.member_number for m in members], accounts


def publish(amqp_uri, events, pace, out=sys.stdout):
    """On `core.events` as the core does: connected as its own broker user (CORE_AMQP_URI, or
    AMQP_URI with CORE_AMQP_USER and its password) and naming it in `user_id`, the one sender the
    portal believes (docs/integration.md, "Who is the core")."""
    with Connection(
        config.core_amqp_uri(amqp_uri), transport_options={"confirm_publish": True}
    ) as conn:
        channel = conn.channel()
        EXCHANGE(channel).declare()
        producer = Producer(channel, exchange=EXCHANGE)
        for event in events:
            producer.publish(
                json.dumps(event, ensure_ascii=False).encode("utf-8"),
                routing_key=event["event_type"],
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                user_id=conn.userid,
            )
            data = event["data"]
            what = (
                data.get("account_number")
                or data.get("loan_number")
                or data.get("application_number")
                or data.get("deposit_number")
                or f"parte {data.get('chunk')}/{data.get('chunks')}"
            )
            print(f"  {event['event_type']:<28} {what}", file=out, flush=True)
            if pace:
                time.sleep(pace)  # a demo's rhythm, not a wait for anything


def simulate(
    amqp_uri,
    today,
    count=None,
    pace=0.0,
    payrolls=12,
    withdrawals=8,
    payments=4,
    decisions=5,
    open_deposit=True,
    out=sys.stdout,
):
    """Play the day; returns the events published (the expected state is in them)."""
    from nameko.standalone.rpc import ClusterRpcProxy

    members, accounts = census_numbers(today, count)
    with ClusterRpcProxy({"AMQP_URI": amqp_uri, "serializer": "json"}, timeout=30) as rpc:
        core = Core(rpc, today)
        core.read_state(members, accounts)
        deposit = None
        if open_deposit and members:
            existing = rpc.deposit.import_state(
                {"deposits": [f"DPF-{members[0]}-{i:02d}" for i in range(1, 100)]}
            )["deposits"]
            deposit = deposit_event(rpc, members[0], today, set(existing))
    core.play(payrolls, withdrawals, payments, decisions, deposit)
    publish(amqp_uri, core.events, pace, out)
    # the core closes its day after the day's work: give the portal a bounded moment to apply
    # the movements first, so the reconciliation compares the day, not messages in flight
    wait_applied(amqp_uri, core.accounts, timeout=30)
    day = len(core.events)
    core.day_closed()
    publish(amqp_uri, core.events[day:], pace, out)
    return core


def wait_applied(amqp_uri, accounts, timeout):
    from nameko.standalone.rpc import ClusterRpcProxy

    deadline = time.monotonic() + timeout
    with ClusterRpcProxy({"AMQP_URI": amqp_uri, "serializer": "json"}, timeout=30) as rpc:
        while time.monotonic() < deadline:
            state = rpc.accounts.import_state({"accounts": sorted(accounts)})["accounts"]
            if all(state[n]["last_seq"] >= a["last_seq"] for n, a in accounts.items()):
                return True
            time.sleep(0.2)
    return False


def main(argv=None):
    parser = argparse.ArgumentParser(prog="core_simulator", description=__doc__.split("\n")[0])
    parser.add_argument("--date", help="business date (default: today in Ecuador)")
    parser.add_argument("--pace", type=float, default=0.3, help="seconds between events")
    parser.add_argument("--members", type=int, default=None, help="census size (DEMO_MEMBERS)")
    args = parser.parse_args(argv)
    today = datetime.strptime(args.date, "%Y-%m-%d").date() if args.date else CLOCK.today()
    print(f"Core de la cooperativa: día {today:%Y-%m-%d}", flush=True)
    core = simulate(config.amqp_uri(), today, args.members, args.pace)
    print(f"{len(core.events)} eventos publicados en core.events.", flush=True)


if __name__ == "__main__":
    main()
