"""`python -m scripts.portal import DIR`: the bulk load of docs/integration.md.

1. Read every CSV file of DIR (members, accounts, movements, loans, installments, guarantors,
   deposits; UTF-8, header row, the inbound events' columns) and check everything: each row with
   the rules of services/common/core_data.py, then across files and against what the services
   already hold (asked through their `import_state` RPC). Every problem is printed as
   `file:line: reason` and nothing is loaded when there is any.
2. Load through each owning service's `import_rows` RPC (accounts: members, accounts, movements;
   credit: loans with their schedules and guarantors; deposit: deposits), in chunks, with a
   progress bar, then print the counts per file. Every service is idempotent, so a second run
   with the same files says "0 created".

`scripts.portal setup` runs before the services start, so it uses `LocalTarget`: the very same
per-service functions (`services/<service>/bulk.py`) in-process, each on its own database.
"""

import csv
import itertools
import sys
from collections import defaultdict
from pathlib import Path

from services.accounts import rows as accounts_rows
from services.common import core_data
from services.credit import rows as credit_rows
from services.credit.domain import schedule_errors
from services.deposit import rows as deposit_rows

# each file's row rules, from the service that owns it (the inbound events' own schemas)
PARSERS = {**accounts_rows.PARSERS, **credit_rows.PARSERS, **deposit_rows.PARSERS}

CHUNKS = {"members": 2000, "accounts": 2000, "movements": 5000, "loans": 200, "deposits": 2000}
CHUNKS["loan_dues"] = 1000
OWNER = {"members": "accounts", "accounts": "accounts", "movements": "accounts"}
OWNER.update({"loans": "credit", "deposits": "deposit", "loan_dues": "credit"})
STATE_CHUNK = 20000


class ImportErrors(Exception):
    def __init__(self, problems):
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


# --- where the rows go -------------------------------------------------------------------------


class LocalTarget:
    """Each service's bulk functions in-process on its own database (setup, tests)."""

    def __init__(self, urls):
        self.urls = urls

    def _module(self, service):
        import importlib

        return importlib.import_module(f"services.{service}.bulk")

    def state(self, service, request):
        from services.common.db import session_scope

        with session_scope(self.urls[service]) as session:
            return self._module(service).state(session, request)

    def submit(self, service, kind, rows):
        from services.common.db import session_scope

        with session_scope(self.urls[service]) as session:
            result = self._module(service).import_rows(session, kind, rows)
        return lambda: result

    def close(self):
        pass


class RpcTarget:
    """The running services, through their `import_state` / `import_rows` RPCs."""

    def __init__(self, amqp_uri, timeout=300):
        from nameko.standalone.rpc import ClusterRpcProxy

        self.config = {"AMQP_URI": amqp_uri, "serializer": "json"}
        self.cluster = ClusterRpcProxy(self.config, timeout=timeout)
        self.proxy = self.cluster.start()

    def check(self, services, timeout=10):
        """The services answer, or one clear line naming the one that does not."""
        from nameko.standalone.rpc import ClusterRpcProxy

        with ClusterRpcProxy(self.config, timeout=timeout) as rpc:
            for name in services:
                try:
                    getattr(rpc, name).ping()
                except Exception:  # noqa: BLE001  a timeout or any failure: not available
                    raise SystemExit(f"El servicio {name} no responde: ¿está en marcha?") from None

    def state(self, service, request):
        return getattr(self.proxy, service).import_state(request)

    def submit(self, service, kind, rows):
        return getattr(self.proxy, service).import_rows.call_async(kind, rows).result

    def close(self):
        self.cluster.stop()


# --- reading and checking ----------------------------------------------------------------------


class Problems(list):
    def add(self, file, line, reason):
        self.append((file, line, reason))

    def lines(self):
        order = list(core_data.FILES)
        return [
            f"{f}:{n}: {r}"
            for f, n, r in sorted(
                self, key=lambda p: (order.index(p[0]) if p[0] in order else -1, p[1])
            )
        ]


# the column that names each file's record: what a refused row's dependants point to
KEYS = {
    "members.csv": "member_number",
    "accounts.csv": "account_number",
    "movements.csv": "account_number",
    "loans.csv": "loan_number",
    "installments.csv": "loan_number",
    "guarantors.csv": "loan_number",
    "deposits.csv": "deposit_number",
    "loan_dues.csv": "loan_number",
}


BROKEN_QUOTE = (
    "comillas sin cerrar (o mal puestas) en el registro que empieza en esta línea; "
    "las líneas siguientes se leen como registros propios"
)


def records(lines, width):
    """(first line, cells, problem) of each record after the header, `problem` None for a good
    one. A quote left open swallows the lines after it into one record (csv reads on until the
    next quote): such a record is reported at the line where it starts, and reading starts
    again on the line after, so the records it swallowed are read as themselves."""
    index = 1  # line 1 is the header
    while index < len(lines):
        reader = csv.reader(itertools.islice(lines, index, None), strict=True)
        begin = 0  # lines of this reader consumed before the current record
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error:
                pass
            else:
                # one line, or several (a quoted newline) that still make a whole record
                if reader.line_num - begin == 1 or len(cells) == width:
                    yield index + begin + 1, cells, None
                    begin = reader.line_num
                    continue
            first = index + begin
            # the cells before the open quote are the record's own (its key among them)
            start = next(csv.reader([lines[first]]), [])[:-1]
            yield first + 1, start, BROKEN_QUOTE
            index = first + 1
            break


def _refuse(refused, name, raw):
    """Remember a refused row's key (and a movement's sequence), as far as it could be read."""
    if KEYS[name] in raw:
        refused[name].add(raw[KEYS[name]])
    if name == "movements.csv" and "sequence" in raw and "account_number" in raw:
        refused["movements.csv#seq"].add((raw["account_number"], raw["sequence"].strip()))


def read(directory, problems, refused=None):
    """{file: [(line, raw, clean)]} of the good rows; every bad one recorded in problems, and
    the key of each refused row in `refused[file]` (its dependants are not reported again)."""
    refused = refused if refused is not None else defaultdict(set)
    directory = Path(directory)
    if not directory.is_dir():
        problems.add(str(directory), 0, "no es un directorio")
        return {}
    found = {}
    for path in sorted(directory.glob("*.csv")):
        if path.name not in core_data.FILES:
            problems.add(
                path.name,
                1,
                "archivo desconocido (se espera uno de: " + ", ".join(core_data.FILES) + ")",
            )
            continue
        required, optional = core_data.FILES[path.name]
        parser = PARSERS[path.name]
        rows = []
        try:
            with open(path, encoding="utf-8-sig", newline="") as fh:
                lines = fh.readlines()  # split on \n, \r\n or \r, kept as written
        except UnicodeDecodeError:
            problems.add(path.name, 0, "el archivo no está en UTF-8")
            continue
        header = [c.strip() for c in next(csv.reader(lines[:1]), [])]
        missing = [c for c in required if c not in header]
        if missing:
            problems.add(path.name, 1, "faltan columnas: " + ", ".join(missing))
            continue
        width = len(header)
        keep = [(c, header.index(c)) for c in (*required, *optional) if c in header]
        # the usual file: exactly the wanted columns, in order (a row is then one zip away)
        names = [c for c, _i in keep] if [i for _c, i in keep] == list(range(width)) else None
        for line, cells, problem in records(lines, width):
            if not cells and problem is None:
                continue  # a blank line
            if problem is None and len(cells) != width:
                problem = f"la fila tiene {len(cells)} columnas y el encabezado {width}"
            if problem is not None:
                problems.add(path.name, line, problem)
                _refuse(refused, path.name, {c: cells[i] for c, i in keep if i < len(cells)})
                continue
            # cells are taken as written: the core's values, no trimming
            raw = dict(zip(names, cells, strict=True)) if names else {c: cells[i] for c, i in keep}
            clean, errors = parser(raw)
            for reason in errors:
                problems.add(path.name, line, reason)
            if errors:
                _refuse(refused, path.name, raw)
            else:
                rows.append((line, raw, clean))
        found[path.name] = rows
    if not found and not problems:
        problems.add(str(directory), 0, "no hay archivos CSV que cargar")
    return found


def _chunked(items, size=STATE_CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _state(target, service, key, values):
    """Merge the answers of import_state asked in chunks (a million references fit nowhere)."""
    merged = None
    for part in _chunked(values):
        answer = target.state(service, {key: part})
        if merged is None:
            merged = answer
        else:
            for k, v in answer.items():
                if isinstance(v, dict):
                    merged[k].update(v)
                elif isinstance(v, list) and k != "products":
                    merged[k].extend(v)
    return merged or target.state(service, {key: []})


def check(files, target, problems, refused=None):
    """Cross-file checks and checks against what is loaded; returns the load plan. A row that
    points to a refused one (`refused[file]`, from read()) is not reported again: the refused
    row is the root cause."""
    refused = refused if refused is not None else defaultdict(set)
    members = files.get("members.csv", [])
    accounts = files.get("accounts.csv", [])
    movements = files.get("movements.csv", [])
    loans = files.get("loans.csv", [])
    installments = files.get("installments.csv", [])
    guarantors = files.get("guarantors.csv", [])
    deposits = files.get("deposits.csv", [])
    dues = files.get("loan_dues.csv", [])

    def unique(name, rows, key, what):
        seen = {}
        for line, _raw, clean in rows:
            value = clean[key]
            if value in seen:
                problems.add(name, line, f"{what} {value} repetido (ya en la línea {seen[value]})")
            else:
                seen[value] = line
        return seen

    file_members = unique("members.csv", members, "member_number", "socio")
    file_idents = unique("members.csv", members, "identification", "cédula")
    file_accounts = unique("accounts.csv", accounts, "account_number", "cuenta")
    unique("loans.csv", loans, "loan_number", "crédito")
    unique("deposits.csv", deposits, "deposit_number", "depósito")

    # --- what the services already hold
    named = set(file_members)
    for rows in (accounts, loans, deposits, guarantors):
        named.update(clean["member_number"] for _l, _r, clean in rows)
    account_numbers = set(file_accounts) | {c["account_number"] for _l, _r, c in movements}
    needs_accounts = members or accounts or movements or loans or deposits or guarantors
    loaded_members, loaded_idents, loaded_accounts = {}, {}, {}
    if needs_accounts:
        loaded_members = _state(target, "accounts", "members", sorted(named))["members"]
        loaded_idents = _state(target, "accounts", "identifications", sorted(file_idents))[
            "identifications"
        ]
        loaded_accounts = _state(target, "accounts", "accounts", sorted(account_numbers))[
            "accounts"
        ]
    known_members = set(file_members) | set(loaded_members)

    for line, _raw, clean in members:
        owner = loaded_idents.get(clean["identification"])
        if owner is not None and owner != clean["member_number"]:
            problems.add(
                "members.csv", line, f"la cédula {clean['identification']} ya es del socio {owner}"
            )

    def member_known(name, line, number):
        if number in refused["members.csv"]:
            return False
        if number not in known_members:
            problems.add(name, line, f"el socio {number} no está en members.csv ni cargado")
            return False
        return True

    for line, _raw, clean in accounts:
        if member_known("accounts.csv", line, clean["member_number"]):
            loaded = loaded_accounts.get(clean["account_number"])
            if loaded and loaded["member_number"] != clean["member_number"]:
                problems.add(
                    "accounts.csv",
                    line,
                    f"la cuenta ya está cargada a nombre del socio {loaded['member_number']}",
                )

    _check_movements(movements, file_accounts, loaded_accounts, target, problems, refused)

    # --- loans, their schedules and guarantors
    products = set()
    if loans:
        products = set(target.state("credit", {"loans": []})["products"])
    by_loan = {clean["loan_number"]: (line, raw, clean) for line, raw, clean in loans}
    for line, _raw, clean in loans:
        member_known("loans.csv", line, clean["member_number"])
        if clean["product_code"] not in products:
            problems.add(
                "loans.csv", line, f"producto de crédito desconocido: {clean['product_code']}"
            )
    schedules = defaultdict(list)
    for line, raw, clean in installments:
        if clean["loan_number"] in refused["loans.csv"]:
            continue
        if clean["loan_number"] not in by_loan:
            problems.add(
                "installments.csv", line, f"el crédito {clean['loan_number']} no está en loans.csv"
            )
            continue
        schedules[clean["loan_number"]].append((line, raw, clean))
    for number, (line, _raw, loan) in by_loan.items():
        rows = sorted(schedules.get(number, []), key=lambda r: r[2]["number"])
        if number in refused["installments.csv"]:
            continue  # an installment of it was refused: its table cannot be complete
        if not rows:
            problems.add(
                "loans.csv", line, f"el crédito {number} no tiene cuotas en installments.csv"
            )
            continue
        for reason in schedule_errors(loan["amount"], [r[2] for r in rows]):
            problems.add("loans.csv", line, f"tabla del crédito {number}: {reason}")
    loan_guarantors = defaultdict(list)
    for line, _raw, clean in guarantors:
        loan = by_loan.get(clean["loan_number"])
        if clean["loan_number"] in refused["loans.csv"]:
            continue
        if loan is None:
            # a loan's guarantors travel with it (as in loan_disbursed)
            problems.add(
                "guarantors.csv",
                line,
                f"el crédito {clean['loan_number']} no está en loans.csv",
            )
            continue
        if not member_known("guarantors.csv", line, clean["member_number"]):
            continue
        if loan[2]["member_number"] == clean["member_number"]:
            problems.add("guarantors.csv", line, "el deudor no puede ser su propio garante")
            continue
        if clean["member_number"] in loan_guarantors[clean["loan_number"]]:
            problems.add("guarantors.csv", line, "garante repetido en el crédito")
            continue
        loan_guarantors[clean["loan_number"]].append(clean["member_number"])

    for line, _raw, clean in deposits:
        member_known("deposits.csv", line, clean["member_number"])

    # --- the plan: wire rows per kind, in loading order
    people = {
        c["member_number"]: {
            "identification": c["identification"],
            "name": f"{c['first_names']} {c['last_names']}",
        }
        for _l, _r, c in members
    }
    people.update({n: p for n, p in loaded_members.items() if n not in people})

    def loan_row(number, raw):
        return {
            **raw,
            "borrower": people.get(raw["member_number"]),
            "schedule": [
                r for _l, r, _c in sorted(schedules.get(number, []), key=lambda i: i[2]["number"])
            ],
            "guarantors": [
                {"member_number": m, **people[m]}
                for m in loan_guarantors.get(number, [])
                if m in people
            ],
        }

    # arrears snapshots: of a loan of loans.csv or one already loaded, one per loan
    unique("loan_dues.csv", dues, "loan_number", "crédito")
    due_numbers = [clean["loan_number"] for _l, _r, clean in dues]
    outside = [n for n in due_numbers if n not in by_loan]
    loaded_loans = set(_state(target, "credit", "loans", outside)["loans"]) if outside else set()
    for line, _raw, clean in dues:
        number = clean["loan_number"]
        if number not in by_loan and number not in loaded_loans:
            problems.add(
                "loan_dues.csv", line, f"el crédito {number} no está en loans.csv ni cargado"
            )

    movements_sorted = sorted(movements, key=lambda r: (r[2]["account_number"], r[2]["sequence"]))
    return [
        ("members", "members.csv", [raw for _l, raw, _c in members]),
        ("accounts", "accounts.csv", [raw for _l, raw, _c in accounts]),
        # movements as lists in the file's column order: a million of them travel lighter
        (
            "movements",
            "movements.csv",
            # (read() builds each row's dict in the required columns' order)
            [list(raw.values()) for _l, raw, _c in movements_sorted],
        ),
        ("loans", "loans.csv", [loan_row(n, raw) for n, (_l, raw, _c) in by_loan.items()]),
        ("deposits", "deposits.csv", [raw for _l, raw, _c in deposits]),
        # after the loans they describe
        ("loan_dues", "loan_dues.csv", [core_data.to_wire(clean) for _l, _r, clean in dues]),
    ]


def _check_movements(movements, file_accounts, loaded_accounts, target, problems, refused):
    per_account = defaultdict(list)
    for row in movements:
        per_account[row[2]["account_number"]].append(row)
    new_references = []
    for number, rows in per_account.items():
        loaded = loaded_accounts.get(number)
        if loaded is None and number not in file_accounts:
            if number in refused["accounts.csv"]:
                continue
            for line, _raw, _clean in rows:
                problems.add(
                    "movements.csv", line, f"la cuenta {number} no está en accounts.csv ni cargada"
                )
            continue
        last_seq = loaded["last_seq"] if loaded else 0
        last_balance = core_data.Decimal(loaded["balance"]) if loaded else core_data.ZERO
        rows.sort(key=lambda r: r[2]["sequence"])
        references = {}
        previous = None  # (sequence, balance) of the row before
        for line, _raw, m in rows:
            seq = m["sequence"]
            if previous is not None and seq == previous[0]:
                problems.add("movements.csv", line, f"cuenta {number}: secuencia {seq} repetida")
                continue
            expected = previous[0] + 1 if previous is not None else min(seq, last_seq + 1)
            gap = range(expected, seq)
            if seq > expected and all(
                (number, str(s)) in refused["movements.csv#seq"] for s in gap
            ):
                # the movements between were refused (reported): this one is not a second gap
                previous, expected = None, seq
            if seq != expected:
                problems.add(
                    "movements.csv",
                    line,
                    f"cuenta {number}: falta la secuencia {expected} antes de la {seq}",
                )
            elif previous is not None or seq == last_seq + 1:
                before = previous[1] if previous is not None else last_balance
                reason = core_data.balance_error(before, m)
                if reason:
                    problems.add(
                        "movements.csv", line, f"cuenta {number} secuencia {seq}: {reason}"
                    )
            if seq == last_seq and loaded and m["balance"] != last_balance:
                problems.add(
                    "movements.csv",
                    line,
                    f"cuenta {number} secuencia {seq}: el saldo no es el ya cargado "
                    f"({last_balance})",
                )
            if m["reference"] in references:
                problems.add(
                    "movements.csv",
                    line,
                    f"cuenta {number}: referencia {m['reference']} repetida "
                    f"(ya en la línea {references[m['reference']]})",
                )
            references[m["reference"]] = line
            if loaded and seq > last_seq:
                new_references.append((number, m["reference"], line))
            previous = (seq, m["balance"])
    if new_references:
        pairs = [[a, r] for a, r, _l in new_references]
        taken = {tuple(p) for p in _state(target, "accounts", "references", pairs)["references"]}
        for number, reference, line in new_references:
            if (number, reference) in taken:
                problems.add(
                    "movements.csv",
                    line,
                    f"cuenta {number}: la referencia {reference} ya está cargada",
                )


# --- loading ------------------------------------------------------------------------------------


def _movement_chunks(rows, size):
    """Chunks that end at an account's end when they can, so chunks can load side by side;
    `continues` says a chunk carries on the account the previous chunk ended with."""
    chunk, start = [], 0
    for index, row in enumerate(rows):
        chunk.append(row)
        next_row = rows[index + 1] if index + 1 < len(rows) else None
        boundary = next_row is None or next_row[0] != row[0]
        if (boundary and len(chunk) >= size) or len(chunk) >= 4 * size or next_row is None:
            continues = start > 0 and rows[start - 1][0] == chunk[0][0]
            yield chunk, continues
            start, chunk = index + 1, []


def load(plan, target, show_progress=True, out=sys.stdout, window=2):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    totals = {}
    total_rows = sum(len(rows) for _k, _f, rows in plan)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not show_progress,
        transient=False,
    ) as progress:
        task = progress.add_task("Cargando", total=total_rows)
        for kind, name, rows in plan:
            if not rows:
                continue
            service = OWNER[kind]
            counts = defaultdict(int)
            pending = []

            def collect(limit, counts=counts, pending=pending):
                while len(pending) > limit:
                    size, result = pending.pop(0)
                    for key, value in result().items():
                        counts[key] += value
                    progress.advance(task, size)

            progress.update(task, description=f"Cargando {name}")
            size = CHUNKS[kind]
            if kind == "movements":
                chunks = _movement_chunks(rows, size)
            else:
                chunks = ((rows[i : i + size], False) for i in range(0, len(rows), size))
            for chunk, continues in chunks:
                # an account split over two chunks: the second waits for the first
                collect(0 if continues else window - 1)
                pending.append((len(chunk), target.submit(service, kind, chunk)))
            collect(0)
            totals[name] = dict(counts)
            if kind == "loans":
                totals["installments.csv"] = {"created": counts.pop("installments", 0)}
                totals["guarantors.csv"] = {"created": counts.pop("guarantors", 0)}
                totals[name] = dict(counts)
    for name, counts in totals.items():
        created = counts.get("created", 0)
        extra = "".join(f", {counts[k]} {k}" for k in ("unchanged", "updated") if k in counts)
        print(f"  {name}: {created} created{extra}", file=out, flush=True)
    return totals


def run(directory, target, show_progress=True, out=sys.stdout, err=sys.stderr):
    """Check, then load; returns (exit code, counts). Nothing is loaded when any check fails."""
    problems = Problems()
    refused = defaultdict(set)
    files = read(directory, problems, refused)
    plan = check(files, target, problems, refused) if files else []
    if problems:
        for line in problems.lines():
            print(line, file=err)
        print(f"{len(problems)} problema(s): no se cargó nada.", file=err, flush=True)
        return 1, problems
    return 0, load(plan, target, show_progress=show_progress, out=out)


def main(directory, local=False):
    import logging

    from services.common import config

    # py-amqp warns about a reply that crosses a channel's closing: harmless, not the operator's
    logging.getLogger("amqp").setLevel(logging.ERROR)

    if local:
        target = LocalTarget({s: config.database_url(s) for s in ("accounts", "credit", "deposit")})
    else:
        target = RpcTarget(config.amqp_uri())
    try:
        if not local:
            target.check(("accounts", "credit", "deposit"))
        code, _ = run(directory, target, show_progress=sys.stderr.isatty())
    finally:
        target.close()
    sys.exit(code)
