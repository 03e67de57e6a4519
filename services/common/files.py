"""Files the portal keeps under its var directory are its own: folders 0700, files 0600.

What lives there (SQLite databases, e-mails of the embedded mailer, members' PDF statements,
secret keys, the audit anchors) is readable by the portal's account only (docs/operations.md,
"Files under var/"). Every process also starts with umask 077 (`private_umask`), so a file some
library creates there is private too; the helpers below say so explicitly where the portal
writes.
"""

import os
import secrets
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def private_umask() -> None:
    """At process start: whatever the process creates is readable by its own account only."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """`path` (and missing parents) created 0700; an existing one open to others is closed."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    tighten(path, DIR_MODE)
    return path


def tighten(path: Path, mode: int) -> None:
    """Drop the group's and others' bits of a file or folder of ours (installs made before
    this rule); a path owned by another account is left as its owner set it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_mode & 0o077 and info.st_uid == os.getuid():
        path.chmod(stat.S_IMODE(info.st_mode) & mode)


def write_private(path: Path, content: bytes) -> None:
    """Write `content` to `path` atomically (a temporary beside it, then a rename), mode 0600."""
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def private_secret(path: Path, length: int = 48) -> bytes:
    """The secret kept in `path`, made once (random, mode 0600) when there is none yet."""
    private_dir(path.parent)
    if not path.exists():
        # written whole beside it, then linked in place: a process starting at the same moment
        # never reads a half-written key, and the first link wins
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_urlsafe(length).encode())
        try:
            os.link(partial, path)
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    tighten(path, FILE_MODE)
    return path.read_bytes().strip()


def private_file(path: Path) -> Path:
    """An (empty if new) file at `path`, mode 0600: SQLite keeps the database file's mode for
    its journal and WAL files, so creating the file first makes all of them private. (Its
    folder is the caller's: the var directory is made private where it is made.)"""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        tighten(path, FILE_MODE)
    return path
