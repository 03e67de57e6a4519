"""Where the audit log's trust lives outside its database: the key and the anchor file.

- The key (`AUDIT_HMAC_KEY`, at least 32 characters; else `audit_hmac_key` made once in the var
  directory, mode 0600) keys every link and seals the head. Whoever can write the database but
  not read the key cannot forge a link.
- The anchor file (`AUDIT_ANCHOR_FILE`, else `audit-anchors.jsonl` in the var directory) is only
  ever appended to (opened O_APPEND, mode 0600): one signed line per anchor. An operator makes it
  append-only (`chattr +a`) or puts it on storage the database's account cannot write; every
  anchor is also logged, so the log collector keeps a second copy (docs/operations.md,
  "Audit trail").
"""

import logging
import os
from pathlib import Path

from services.audit import domain
from services.common.config import env, env_int, var_dir
from services.common.files import FILE_MODE, private_dir, private_secret, tighten

log = logging.getLogger(__name__)

MIN_KEY_LENGTH = 32
DEFAULT_ANCHOR_SECONDS = 300


class KeyProblem(RuntimeError):
    """AUDIT_HMAC_KEY is set but too short to key anything."""


def audit_key() -> bytes:
    given = env("AUDIT_HMAC_KEY")
    if given:
        if len(given) < MIN_KEY_LENGTH:
            raise KeyProblem(f"AUDIT_HMAC_KEY must have at least {MIN_KEY_LENGTH} characters")
        return given.encode("utf-8")
    return private_secret(var_dir() / "audit_hmac_key")


def anchor_path() -> Path:
    return Path(env("AUDIT_ANCHOR_FILE") or var_dir() / "audit-anchors.jsonl")


def anchor_seconds() -> int:
    """How often the audit service anchors a head that moved (AUDIT_ANCHOR_SECONDS)."""
    return env_int("AUDIT_ANCHOR_SECONDS", DEFAULT_ANCHOR_SECONDS)


def read_anchors(path: Path, key: bytes) -> tuple[list[domain.Anchor], int]:
    """The anchors whose signature holds, and how many lines did not (forged or damaged)."""
    anchors, rejected = [], 0
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    continue
                anchor = domain.read_anchor(key, line)
                if anchor is None:
                    rejected += 1
                else:
                    anchors.append(anchor)
    except FileNotFoundError:
        pass
    return anchors, rejected


def append_anchor(path: Path, key: bytes, anchor: domain.Anchor) -> str:
    """Append one signed line (written and synced before returning); the line."""
    line = domain.anchor_line(key, anchor)
    if path.parent == var_dir():
        private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    tighten(path, FILE_MODE)
    # the whole signed line in the message: the log collector keeps a second copy
    log.info("audit chain anchored in %s: %s", path, line)
    return line
