"""Bulk load of the accounts side (docs/integration.md, "Bulk load"): members, savings accounts,
movements. Called by the `import_rows` / `import_state` RPCs, and in-process on the service's own
database by `scripts.portal setup` (the services are not running yet then).

Idempotent: a member, account or movement already loaded is counted `unchanged`, never inserted
twice. Rows arrive already checked by the importer; they are checked again here (a service never
trusts its input) with the same rules (services/common/core_data.py). Core inserts in one
executemany per chunk, no ORM object per row.
"""

from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, tuple_, update

from services.accounts import rows as row_rules
from services.accounts.domain import PRODUCT_NAMES, email_change_data, email_changed
from services.accounts.models import Member, Movement, SavingsAccount
from services.common import core_data
from services.common.clock import CLOCK
from services.common.errors import ValidationError
from services.common.events import iso_utc

_ACCOUNTS = cast(Table, SavingsAccount.__table__)

IN_CHUNK = 500  # keys per IN (…) list: SQLite's variable limit stays far away


def _chunks(items, size=IN_CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def state(session, request):
    """What is already loaded, for the importer's checks (only numbers, no member data beyond
    what the importer needs to name a borrower or guarantor)."""
    out: dict[str, Any] = {"members": {}, "identifications": {}, "accounts": {}, "references": []}
    for keys in _chunks(request.get("members", ())):
        for m in session.execute(
            select(
                Member.member_number, Member.identification, Member.given_names, Member.surnames
            ).where(Member.member_number.in_(keys))
        ):
            out["members"][m.member_number] = {
                "identification": m.identification,
                "name": f"{m.given_names} {m.surnames}",
            }
    for keys in _chunks(request.get("identifications", ())):
        for number, ident in session.execute(
            select(Member.member_number, Member.identification).where(
                Member.identification.in_(keys)
            )
        ):
            out["identifications"][ident] = number
    for keys in _chunks(request.get("accounts", ())):
        for a in session.execute(
            select(
                SavingsAccount.account_number,
                SavingsAccount.member_number,
                SavingsAccount.last_seq,
                SavingsAccount.balance,
            ).where(SavingsAccount.account_number.in_(keys))
        ):
            out["accounts"][a.account_number] = {
                "member_number": a.member_number,
                "last_seq": a.last_seq,
                "balance": str(a.balance),
            }
    for keys in _chunks(request.get("references", ())):
        found = session.execute(
            select(Movement.account_number, Movement.reference).where(
                tuple_(Movement.account_number, Movement.reference).in_([tuple(k) for k in keys])
            )
        )
        out["references"].extend([a, r] for a, r in found)
    return out


def import_rows(session, kind, rows, emit=None):
    """Load one chunk of `kind` (members, accounts, movements); returns the counts. `emit`
    (the service's outbox) tells the others about a member whose data changed, as
    `member_upserted` does: auth and notifications follow the new e-mail and status."""
    if kind == "members":
        return _members(session, rows, emit)
    if kind == "accounts":
        return _accounts(session, rows)
    if kind == "movements":
        return _movements(session, rows)
    raise ValidationError(f"Tipo de carga desconocido: {kind}.")


def _check(parser, rows):
    try:
        return [core_data.checked(parser, row) for row in rows]
    except ValueError as exc:
        raise ValidationError(f"Fila inválida: {exc}") from None


def _members(session, rows, emit=None):
    rows = _check(row_rules.parse_member, rows)
    existing = {}
    for keys in _chunks(r["member_number"] for r in rows):
        for m in session.scalars(select(Member).where(Member.member_number.in_(keys))):
            existing[m.member_number] = m
    new, counts = [], {"created": 0, "unchanged": 0, "updated": 0}
    for r in rows:
        values = {
            "identification": r["identification"],
            "given_names": r["first_names"],
            "surnames": r["last_names"],
            "email": r["email"],
            "phone": r["phone"],
            "status": r["status"],
        }
        member = existing.get(r["member_number"])
        if member is None:
            joined = r["joined_on"] or CLOCK.today()
            new.append({"member_number": r["member_number"], "joined_on": joined, **values})
            counts["created"] += 1
        elif any(getattr(member, k) != v for k, v in values.items()):
            # the core's record wins (as member_upserted does)
            old_email = member.email if email_changed(member, values) else None
            for key, value in values.items():
                setattr(member, key, value)
            counts["updated"] += 1
            if emit is not None:
                emit(
                    "member_updated",
                    {
                        "member_number": member.member_number,
                        "email": member.email,
                        "status": member.status,
                        "given_names": member.given_names,
                        "surnames": member.surnames,
                    },
                )
                if old_email is not None:
                    emit(
                        "member_email_changed",
                        email_change_data(
                            member.member_number,
                            member.given_names,
                            member.surnames,
                            old_email,
                            member.email,
                            iso_utc(CLOCK.utcnow()),
                        ),
                    )
        else:
            counts["unchanged"] += 1
    if new:
        session.execute(insert(cast(Table, Member.__table__)), new)
    session.flush()
    return counts


def _accounts(session, rows):
    rows = _check(row_rules.parse_account, rows)
    existing = set()
    for keys in _chunks(r["account_number"] for r in rows):
        existing.update(
            session.scalars(
                select(SavingsAccount.account_number).where(SavingsAccount.account_number.in_(keys))
            )
        )
    new = [
        {
            "account_number": r["account_number"],
            "member_number": r["member_number"],
            "product": r["product"],
            "product_name": PRODUCT_NAMES[r["product"]],
            "balance": core_data.ZERO,
            "available_balance": core_data.ZERO,
            "status": "activa",
            "opened_on": r["opened_on"],
            "last_seq": 0,
        }
        for r in rows
        if r["account_number"] not in existing
    ]
    if new:
        session.execute(insert(_ACCOUNTS), new)
    return {"created": len(new), "unchanged": len(rows) - len(new)}


WIRE_COLUMNS = core_data.FILES["movements.csv"][0]


def _movements(session, rows):
    """Rows are dicts, or lists in movements.csv's column order (a million of them travel
    lighter). Rows already loaded are only compared (sequence and reference), new ones checked
    in full and chained to the account's balance."""
    if (
        session.get_bind().dialect.name == "postgresql"
        and rows
        and all(isinstance(r, list) and len(r) == len(WIRE_COLUMNS) for r in rows)
    ):
        return _movements_fast(session, rows)
    rows = [dict(zip(WIRE_COLUMNS, r, strict=False)) if isinstance(r, list) else r for r in rows]
    accounts = {}
    for keys in _chunks({r.get("account_number") for r in rows}):
        for a in session.execute(
            select(
                SavingsAccount.account_number, SavingsAccount.last_seq, SavingsAccount.balance
            ).where(SavingsAccount.account_number.in_(keys))
        ):
            accounts[a.account_number] = [a.last_seq, a.balance]
    old, fresh = [], []
    for r in rows:
        account = accounts.get(r.get("account_number"))
        if account is None:
            raise ValidationError(f"La cuenta {r.get('account_number')} no existe.")
        sequence = str(r.get("sequence", ""))
        if sequence.isdigit() and int(sequence) <= account[0]:
            old.append(
                {
                    "account_number": r["account_number"],
                    "sequence": int(sequence),
                    "reference": r.get("reference"),
                }
            )
        else:
            fresh.append(r)
    _same_as_loaded(session, old)
    rows = _check(row_rules.parse_movement, fresh)
    rows.sort(key=lambda r: (r["account_number"], r["sequence"]))
    new = []
    for r in rows:
        last = accounts[r["account_number"]]
        if r["sequence"] != last[0] + 1:
            raise ValidationError(
                f"Cuenta {r['account_number']}: falta la secuencia {last[0] + 1} "
                f"antes de la {r['sequence']}."
            )
        problem = core_data.balance_error(last[1], r)
        if problem:
            raise ValidationError(
                f"Cuenta {r['account_number']} secuencia {r['sequence']}: {problem}."
            )
        last[0], last[1] = r["sequence"], r["balance"]
        new.append(
            {
                "account_number": r["account_number"],
                "seq": r["sequence"],
                "date": r["date"],
                "posted_at": r["posted_at"],
                "description": r["description"],
                "reference": r["reference"],
                "debit": r["debit"],
                "credit": r["credit"],
                "balance": r["balance"],
            }
        )
    if new:
        _insert_movements(session, new)
        changed = {r["account_number"] for r in new}
        session.execute(
            update(_ACCOUNTS)
            .where(_ACCOUNTS.c.account_number == bindparam("number"))
            .values(
                balance=bindparam("new_balance"),
                # the open holds stay reserved: available moves with the balance
                available_balance=_ACCOUNTS.c.available_balance
                + bindparam("new_balance", type_=_ACCOUNTS.c.balance.type)
                - _ACCOUNTS.c.balance,
                last_seq=bindparam("new_seq"),
            ),
            [
                {"number": n, "new_balance": accounts[n][1], "new_seq": accounts[n][0]}
                for n in changed
            ],
        )
    return {"created": len(new), "unchanged": len(old)}


def _cents(text):
    """Whole cents of a money string the fast path accepted (`MONEY2_RE`): exact, no Decimal."""
    return int(text.replace(".", ""))


def _fast_row(cells):
    """A movement row (movements.csv's column order) as (account, sequence, date, posted_at,
    description, reference, debit, credit, balance in cents), when it passes the same fast
    checks as rows.parse_movement; None sends it through the full parser."""
    account, sequence, day, posted, description, reference, debit, credit, balance = cells
    try:
        if not (
            0 < len(account) <= 16
            and 0 < len(reference) <= 40
            and 0 < len(description) <= 120
            and sequence.isdigit()
            and len(sequence) < 10
            and sequence[0] != "0"
            and core_data.MONEY2_RE.fullmatch(debit)
            and core_data.MONEY2_RE.fullmatch(credit)
            and core_data.MONEY2_RE.fullmatch(balance)
            and (debit == "0.00") != (credit == "0.00")
            and len(day) == 10
            and posted[-1:] == "Z"
        ):
            return None
        instant = datetime.fromisoformat(posted[:-1])
        if instant.tzinfo is not None:
            return None
        return (
            account,
            int(sequence),
            date.fromisoformat(day),
            instant,
            description,
            reference,
            _cents(debit),
            _cents(credit),
            _cents(balance),
        )
    except (TypeError, ValueError, AttributeError):
        return None


def _full_row(cells):
    """The same tuple through the full parser (its reasons name what is wrong)."""
    r = core_data.checked(row_rules.parse_movement, dict(zip(WIRE_COLUMNS, cells, strict=True)))
    return (
        r["account_number"],
        r["sequence"],
        r["date"],
        r["posted_at"],
        r["description"],
        r["reference"],
        *(int(r[k] * 100) for k in ("debit", "credit", "balance")),
    )


def _movements_fast(session, rows):
    """`_movements` for PostgreSQL and rows as lists (the importer's way): the same checks on
    plain tuples, money in whole cents (exact), and the arrays of one INSERT … unnest built
    straight from them."""
    accounts = {}
    for keys in _chunks({r[0] for r in rows}):
        for a in session.execute(
            select(
                SavingsAccount.account_number, SavingsAccount.last_seq, SavingsAccount.balance
            ).where(SavingsAccount.account_number.in_(keys))
        ):
            accounts[a.account_number] = [a.last_seq, int(a.balance * 100)]
    old, fresh = [], []
    for r in rows:
        account = accounts.get(r[0])
        if account is None:
            raise ValidationError(f"La cuenta {r[0]} no existe.")
        sequence = str(r[1])
        if sequence.isdigit() and int(sequence) <= account[0]:
            old.append({"account_number": r[0], "sequence": int(sequence), "reference": r[5]})
        else:
            fresh.append(r)
    _same_as_loaded(session, old)
    try:
        new = [_fast_row(r) or _full_row(r) for r in fresh]
    except ValueError as exc:
        raise ValidationError(f"Fila inválida: {exc}") from None
    new.sort(key=itemgetter(0, 1))
    for r in new:
        last = accounts[r[0]]
        if r[1] != last[0] + 1:
            raise ValidationError(
                f"Cuenta {r[0]}: falta la secuencia {last[0] + 1} antes de la {r[1]}."
            )
        if last[1] + r[7] - r[6] != r[8]:
            problem = core_data.balance_error(
                Decimal(last[1]) / 100,
                {k: Decimal(r[i]) / 100 for k, i in (("debit", 6), ("credit", 7), ("balance", 8))},
            )
            raise ValidationError(f"Cuenta {r[0]} secuencia {r[1]}: {problem}.")
        last[0], last[1] = r[1], r[8]
    if new:
        columns = (
            _array(_quoted(r[0]) for r in new),
            _array(str(r[1]) for r in new),
            _array(r[2].isoformat() for r in new),
            _array(f'"{r[3].isoformat(sep=" ")}"' for r in new),
            _array(_quoted(r[4]) for r in new),
            _array(_quoted(r[5]) for r in new),
            *(_array(str(r[i]) for r in new) for i in (6, 7, 8)),
        )
        session.connection().exec_driver_sql(UNNEST_INSERT, columns)
        changed = {r[0] for r in new}
        session.execute(
            update(_ACCOUNTS)
            .where(_ACCOUNTS.c.account_number == bindparam("number"))
            .values(
                balance=bindparam("new_balance"),
                available_balance=bindparam("new_balance"),
                last_seq=bindparam("new_seq"),
            ),
            [
                {
                    "number": n,
                    "new_balance": Decimal(accounts[n][1]) / 100,
                    "new_seq": accounts[n][0],
                }
                for n in changed
            ],
        )
    return {"created": len(new), "unchanged": len(old)}


MOVEMENT_COLUMNS = (
    "account_number",
    "seq",
    "date",
    "posted_at",
    "description",
    "reference",
    "debit",
    "credit",
    "balance",
)


UNNEST_INSERT = (
    f"INSERT INTO movements ({', '.join(MOVEMENT_COLUMNS)}) SELECT * FROM unnest("
    "%s::varchar[], %s::integer[], %s::date[], %s::timestamp[], %s::varchar[], %s::varchar[], "
    "%s::bigint[], %s::bigint[], %s::bigint[])"
)


def _insert_movements(session, rows):
    """On PostgreSQL one INSERT … SELECT unnest(arrays) per chunk, each column one array literal
    (four times an executemany's speed; COPY is not available to a green psycopg2); one
    executemany elsewhere."""
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(cast(Table, Movement.__table__)), rows)
        return
    columns = (
        _array(_quoted(r["account_number"]) for r in rows),
        _array(str(r["seq"]) for r in rows),
        _array(r["date"].isoformat() for r in rows),
        _array(f'"{r["posted_at"].isoformat(sep=" ")}"' for r in rows),
        _array(_quoted(r["description"]) for r in rows),
        _array(_quoted(r["reference"]) for r in rows),
        # Cents columns hold whole cents
        *(_array(str(int(r[k] * 100)) for r in rows) for k in ("debit", "credit", "balance")),
    )
    session.connection().exec_driver_sql(UNNEST_INSERT, columns)


def _array(items):
    return "{" + ",".join(items) + "}"


def _quoted(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _same_as_loaded(session, rows):
    """A movement already loaded must be the same one (same reference at that sequence)."""
    wanted = {(r["account_number"], r["sequence"]): r["reference"] for r in rows}
    for keys in _chunks({r["account_number"] for r in rows}):
        for account, seq, reference in session.execute(
            select(Movement.account_number, Movement.seq, Movement.reference).where(
                Movement.account_number.in_(keys)
            )
        ):
            expected = wanted.pop((account, seq), None)
            if expected is not None and expected != reference:
                wanted[(account, seq)] = expected  # reported below
                break
    if wanted:
        account, seq = next(iter(wanted))
        raise ValidationError(
            f"Cuenta {account} secuencia {seq}: ya se cargó un movimiento distinto con esa "
            "secuencia."
        )
