"""What a form's POST produced, kept for the GET it redirects to (post/redirect/get).

No page of the portal is the answer of a POST: the browser's Back or a reload after *Proyectar*,
*Simular* or *Grabar* asks for a plain GET, never "resend the form?". A result that fits in the
address (a simulation's figures, a statement's account and dates) goes there; one holding what a
member should not see in the address bar or the logs (income, guarantors' cédulas, a recovery
result) is kept here, under a random id in the redirect's `?resultado=`, for its owner only (a
member number, or the browser's CSRF binding before login), for an hour. Files under
var/form-results, so every gateway instance of the host reads them (like report jobs).
"""

from __future__ import annotations

import json
import secrets
import time

from services.common.config import var_dir
from services.common.files import private_dir, write_private

RESULT_TTL_SECONDS = 3600
RESULT_PARAM = "resultado"


def _root():
    return var_dir() / "form-results"


def _valid_id(result_id):
    return (
        bool(result_id)
        and len(result_id) <= 64
        and all(c.isalnum() or c in "-_" for c in result_id)
    )


def keep(owner, data):
    """Store `data` (JSON-able) for `owner`; the id to put in the redirect."""
    root = private_dir(_root())
    _forget_old(root)
    result_id = secrets.token_urlsafe(18)
    state = {"owner": owner, "data": data}
    write_private(root / f"{result_id}.json", json.dumps(state, ensure_ascii=False).encode())
    return result_id


def take(owner, result_id):
    """The data kept under `result_id` for `owner`, or None (unknown, expired, another's).
    It stays until it expires: a reload shows the same result."""
    if not owner or not _valid_id(result_id):
        return None
    path = _root() / f"{result_id}.json"
    try:
        if path.stat().st_mtime < time.time() - RESULT_TTL_SECONDS:
            return None
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state.get("data") if state.get("owner") == owner else None


def _forget_old(root):
    limit = time.time() - RESULT_TTL_SECONDS
    for path in root.glob("*.json"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            continue
