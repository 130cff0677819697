"""Uploaded workbooks waiting to be imported, and who may have one being read right now.

An upload is kept under a random token in ``instance/imports/`` (folder 700, file 600) with a
small ``.owner`` file naming its uploader: only that user can confirm it, and a user's waiting
uploads count against ``IMPORT_USER_QUOTA_BYTES``. A file that fails is removed at once; the
rest expire after a day. Reading a workbook costs a worker process, so a user may have one read
in progress and the server at most ``IMPORT_MAX_WORKERS`` at once: more is refused with a
message instead of queued, so no request thread waits on someone else's file.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask_babel import lazy_gettext as _l

from audit.xlsx.reader import ImportFileError

TOKEN = re.compile(r"^[0-9a-f]{32}$")
KEEP_SECONDS = 24 * 3600
CHUNK = 1024 * 1024


class ImportBusy(ImportFileError):
    """Another import is being read: this user's own, or too many at once on this server."""


@dataclass(frozen=True)
class Upload:
    token: str
    path: Path


def folder(instance_path: str | Path) -> Path:
    path = Path(instance_path) / "imports"
    path.mkdir(mode=0o700, exist_ok=True)
    path.chmod(0o700)  # also when an older version made it with the default mode
    return path


def _owner_file(path: Path) -> Path:
    return path.with_suffix(".owner")


def _owner(path: Path) -> int | None:
    try:
        return int(_owner_file(path).read_text())
    except (OSError, ValueError):
        return None


def waiting_bytes(where: Path, user_id: int) -> int:
    """What the user's uploads that wait for confirmation take on disk."""
    total = 0
    for path in where.glob("*.xlsx"):
        if _owner(path) == user_id:
            with contextlib.suppress(OSError):
                total += path.stat().st_size
    return total


@contextlib.contextmanager
def receive(where: Path, stream: BinaryIO, user_id: int, quota: int) -> Iterator[Upload]:
    """Store an upload for ``user_id`` within their quota. The file stays only if the block
    ends without an error: whatever goes wrong while it is checked, nothing is left behind."""
    allowed = quota - waiting_bytes(where, user_id)
    token = secrets.token_hex(16)
    path = where / f"{token}.xlsx"
    try:
        _owner_file(path).write_text(str(user_id))
        _owner_file(path).chmod(0o600)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            written = 0
            while chunk := stream.read(CHUNK):
                written += len(chunk)
                if written > allowed:
                    raise ImportFileError(
                        _l(
                            "Your uploads that wait to be imported would take more than %(n)s"
                            " MB. Import them first, or upload again tomorrow when they have"
                            " expired.",
                            n=max(1, quota // (1024 * 1024)),
                        )
                    )
                handle.write(chunk)
        yield Upload(token, path)
    except BaseException:
        discard(where, token)
        raise


@contextlib.contextmanager
def removed_if_unreadable(where: Path, token: str) -> Iterator[None]:
    """A kept upload that turns out unreadable (or no longer fits the limits) is removed at
    once; one that only had to wait for a free reader (``ImportBusy``) stays, so confirming it
    again later works."""
    try:
        yield
    except ImportBusy:
        raise
    except ImportFileError:
        discard(where, token)
        raise


def find(where: Path, token: str, user_id: int) -> Path | None:
    """The upload behind ``token`` if it exists and is this user's; the token is checked
    first, so nothing the user typed reaches the file system."""
    if not TOKEN.match(token or ""):
        return None
    path = where / f"{token}.xlsx"
    if not path.is_file() or _owner(path) != user_id:
        return None
    return path


def discard(where: Path, token: str) -> None:
    if TOKEN.match(token or ""):
        (where / f"{token}.xlsx").unlink(missing_ok=True)
        (where / f"{token}.owner").unlink(missing_ok=True)


def forget_old(where: Path, keep_seconds: int = KEEP_SECONDS) -> None:
    cutoff = time.time() - keep_seconds
    for path in [*where.glob("*.xlsx"), *where.glob("*.owner")]:
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


class Readers:
    """The users whose workbook is being read now, in this server process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users: set[int] = set()

    @contextlib.contextmanager
    def reading(self, user_id: int, most: int) -> Iterator[None]:
        with self.lock:
            if user_id in self.users:
                raise ImportBusy(
                    _l(
                        "You are already importing a file. Wait until that one is checked,"
                        " then try again."
                    )
                )
            if len(self.users) >= most:
                raise ImportBusy(
                    _l("The server is checking other imports right now. Try again in a minute.")
                )
            self.users.add(user_id)
        try:
            yield
        finally:
            with self.lock:
                self.users.discard(user_id)
