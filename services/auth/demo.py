"""The auth part of the demo cooperative: the portal users of the reference members.

Only the fixture's `portal_user`s (maria, jose, luis) are created; Ana and Carmen have none (they
register), and generated members have none either. Idempotent: an existing user is left as it is.
"""

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import select

from services.auth import domain
from services.auth import factor_rules as rules
from services.auth.models import Device, User
from services.auth.passwords import hash_now
from services.common.db import session_scope
from services.common.demo import load_reference


def load(url, today, count=None):
    """Create the reference members' portal users; returns how many were added."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    added = 0
    with session_scope(url) as session:
        existing = set(session.scalars(select(User.username)))
        taken_members = set(session.scalars(select(User.member_number)))
        for ref in load_reference():
            portal_user = ref.get("portal_user")
            if not portal_user:
                continue
            username = domain.normalize_username(portal_user["username"])
            if username in existing or ref["member_number"] in taken_members:
                continue
            session.add(
                User(
                    username=username,
                    member_number=ref["member_number"],
                    display_name=domain.display_name(ref["given_names"], ref["surnames"]),
                    email=ref["email"],
                    password_hash=hash_now(portal_user["password"]),
                    must_change_password=False,
                    created_at=now,
                    password_changed_at=now,
                )
            )
            added += 1
    return added


def remember_devices(url, usernames=None, label="Dispositivo de pruebas"):
    """A remembered device for each given user (default: every user): {username: device token}.

    For the tools that log many members in (capacity, benchmarks, the test suite): their logins
    then skip the second factor as a member's own phone would. The tokens exist only in the
    answer (the table keeps their SHA-256)."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    tokens = {}
    with session_scope(url) as session:
        query = select(User)
        if usernames is not None:
            query = query.where(User.username.in_(list(usernames)))
        for user in session.scalars(query):
            token = rules.new_device_token()
            session.add(
                Device(
                    id=secrets.token_hex(16),
                    user_id=user.id,
                    token_hash=hashlib.sha256(token.encode()).hexdigest(),
                    label=label,
                    created_at=now,
                    expires_at=rules.device_expiry(now),
                    last_used_at=now,
                )
            )
            tokens[user.username] = token
    return tokens


def remember_devices_of_portal(env, usernames):
    """`remember_devices` on the auth database of a portal run with environment `env` (its
    `AUTH_DATABASE_URL`, else the SQLite file under its `PORTAL_VAR_DIR`)."""
    url = env.get("AUTH_DATABASE_URL") or f"sqlite:///{env['PORTAL_VAR_DIR']}/auth.db"
    return remember_devices(url, usernames, label="Herramienta de carga")
