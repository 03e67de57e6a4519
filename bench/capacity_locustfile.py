"""The month-start morning as locust plays it (run by `make capacity`, bench/capacity.py).

Each simulated user is a member's browser on the web pages (docs/pages.md): log in, the
consolidated position, last month's statement, the loans and one loan's table, the statement as a
PDF one journey in five, a credit simulation one journey in ten, *Salir*; think times between
pages; then the next member. Forms carry the page's CSRF token (bound to the session cookie, as
tests/helpers.py `csrf_of` reads it).

Input (environment): CAPACITY_MEMBERS, a JSON file of [username, password, device token]
triples (each member's remembered device, replaced at each login as a browser's cookie is: the
tokens the portal set are written back with the figures, for the next step); CAPACITY_USERS, the
step's users (user k plays members k, k + users, …: no member is on two browsers at once, whose
rotating device tokens would then cross); CAPACITY_HOSTS, the gateways' base URLs,
comma-separated (each member goes to one of them in turn, and stays there: a balancer with
session affinity); CAPACITY_OUT, where the step's figures are written as JSON when locust
quits; CAPACITY_THINK, "min,max" seconds between pages.

Every member has an address of their own (X-Forwarded-For, read by gateways started with
TRUSTED_PROXY=127.0.0.1, as behind the cooperative's balancer): lockout and throttling count per
member address (docs/identity.md), not per load generator.
"""

import itertools
import json
import os
import random
import re
import time
from datetime import date, timedelta

from locust import HttpUser, between, events, task

MEMBERS = json.loads(open(os.environ["CAPACITY_MEMBERS"], encoding="utf-8").read())  # noqa: SIM115
HOSTS = [h.strip().rstrip("/") for h in os.environ["CAPACITY_HOSTS"].split(",") if h.strip()]
THINK = tuple(float(x) for x in os.environ.get("CAPACITY_THINK", "1,3").split(","))
OUT = os.environ.get("CAPACITY_OUT")
USERS = int(os.environ.get("CAPACITY_USERS", "1"))

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ACCOUNT = re.compile(r'<option value="(\d+)"')
LOAN = re.compile(r'href="/creditos/(CR-[0-9-]+)"')
PRODUCT = re.compile(r'<option value="([A-Z]+)" data-amount-hint')

DEVICE_COOKIE = "portal_device"
DEVICES: dict[int, str] = {}  # member -> the device token the portal set at the last login
_journeys = itertools.count()
_users = itertools.count()


class Figures:
    """What the step measured, from the end of the ramp-up to the end: every request's time by
    kind (page or PDF), the failures, and the journeys completed."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.started = time.monotonic()
        self.times = {"page": [], "pdf": []}
        self.by_name = {}
        self.failures = {}
        self.journeys = 0

    def record(self, kind, name, seconds, failed):
        self.times[kind].append(seconds)
        self.by_name.setdefault(name, []).append(seconds)
        if failed:  # by request and answer ("POST /login 503"): what refused it
            key = f"{name} {failed}"
            self.failures[key] = self.failures.get(key, 0) + 1

    def fail(self, name, why):
        """A failure seen in an answer locust counted as a success (no time: it was timed)."""
        key = f"{name} {why}"
        self.failures[key] = self.failures.get(key, 0) + 1

    def summary(self):
        elapsed = time.monotonic() - self.started

        def pct(values, q):
            if not values:
                return None
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

        return {
            "seconds": elapsed,
            "journeys": self.journeys,
            "members_per_minute": self.journeys * 60 / elapsed if elapsed else 0,
            **{
                f"{kind}_{name}": value
                for kind, values in self.times.items()
                for name, value in (
                    ("count", len(values)),
                    ("p50_s", pct(values, 0.50)),
                    ("p95_s", pct(values, 0.95)),
                    ("max_s", max(values) if values else None),
                )
            },
            "failures": self.failures,
            # every request by its p95, slowest first: where members wait
            "requests": sorted(
                ([name, pct(values, 0.95), len(values)] for name, values in self.by_name.items()),
                key=lambda row: -row[1],
            ),
        }


FIGURES = Figures()


@events.spawning_complete.add_listener
def _ramped_up(user_count, **kwargs):
    FIGURES.reset()  # the ramp-up is not the steady morning


@events.request.add_listener
def _request(name, response_time, exception, context, **kwargs):
    failed = None if exception is None else str(exception)[:40] or type(exception).__name__
    FIGURES.record(context.get("kind", "page"), name, response_time / 1000, failed)


@events.quitting.add_listener
def _write(environment, **kwargs):
    if OUT:
        with open(OUT, "w", encoding="utf-8") as fh:
            json.dump({**FIGURES.summary(), "devices": DEVICES}, fh)


def previous_month(today):
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


class Member(HttpUser):
    wait_time = between(*THINK)  # before the next member's journey
    host = HOSTS[0]

    def on_start(self):
        number = next(_users)
        self.base = HOSTS[number % len(HOSTS)]
        n = number + 1  # 10.0.0.1, 10.0.0.2, …: one address per simulated member
        self.address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        # this browser's own members (each member on one browser at a time)
        self.members = itertools.cycle(range(number % USERS, len(MEMBERS), USERS) or [0])

    def think(self):
        time.sleep(random.uniform(*THINK))  # gevent's sleep under locust: other users go on

    def get(self, path, name=None, kind="page", **kwargs):
        return self._call("GET", path, name, kind, **kwargs)

    def post(self, path, data, name=None, **kwargs):
        return self._call("POST", path, name, "page", data=data, **kwargs)

    def _call(self, method, path, name, kind, **kwargs):
        with self.client.request(
            method,
            self.base + path,
            name=f"{method} {name or path}",
            headers={"X-Forwarded-For": self.address},
            context={"kind": kind},
            catch_response=True,
            **kwargs,
        ) as response:
            if response.status_code >= 400:
                response.failure(f"{response.status_code}")
            elif kind == "pdf" and "pdf" not in response.headers.get("Content-Type", ""):
                response.failure("not a PDF")  # e.g. the page of a long statement's job
            return response

    @task
    def month_start_morning(self):
        journey = next(_journeys)
        member = next(self.members)
        username, password, device = MEMBERS[member]
        # a different fifth of the members downloads on each round through them: a closed
        # month's PDF is cached once rendered (docs/statements.md), and a member downloads it once
        downloads = (member + journey // len(MEMBERS)) % 5 == 0
        self.client.cookies.clear()
        # the member's own browser: its remembered device spares the e-mailed code
        self.client.cookies.set(DEVICE_COOKIE, DEVICES.get(member, device))
        page = self.get("/login")
        token = CSRF.search(page.text).group(1)
        answer = self.post(
            "/login",
            {"username": username, "password": password, "csrf_token": token},
            allow_redirects=False,
        )
        renewed = answer.cookies.get(DEVICE_COOKIE)
        if renewed:
            DEVICES[member] = renewed
        if answer.headers.get("Location") == "/login/codigo":
            # a remembered device is never asked for a code: a lost device token, to be seen
            FIGURES.fail("POST /login", "code asked")
            return
        if answer.status_code not in (302, 303):
            return  # counted as failed (or a 200 with an error): no journey
        position = self.get("/")
        token = CSRF.search(position.text).group(1)
        self.think()
        statement = self.get("/estado-de-cuenta")
        accounts = ACCOUNT.findall(statement.text)
        if accounts:
            first, last = previous_month(date.today())
            form = {"cuenta": accounts[0], "desde": first.isoformat(), "hasta": last.isoformat()}
            self.post("/estado-de-cuenta", {**form, "csrf_token": token})
            if downloads:  # one member in five downloads the statement
                self.think()
                self.get(
                    "/estado-de-cuenta/reporte",
                    name="/estado-de-cuenta/reporte (PDF)",
                    kind="pdf",
                    params=form,
                )
        self.think()
        loans = LOAN.findall(self.get("/creditos").text)
        if loans:
            self.think()
            self.get(f"/creditos/{loans[0]}", name="/creditos/[loan]")
        if journey % 10 == 3:  # one member in ten simulates a loan
            self.think()
            page = self.get("/creditos/simulacion")
            products = PRODUCT.findall(page.text) or ["CONSUMO"]
            self.think()
            self.post(
                "/creditos/simulacion",
                {
                    "product_code": products[0],
                    "amount": "5.000,00",
                    "term_months": "24",
                    "system": "french",
                    "frequency": "monthly",
                    "start_date": "",
                    "csrf_token": CSRF.search(page.text).group(1),
                },
            )
        self.think()
        self.post("/logout", {"csrf_token": token}, allow_redirects=False)
        FIGURES.journeys += 1
