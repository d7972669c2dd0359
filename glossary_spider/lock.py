"""One writer at a time: an advisory lock beside the archive (``<archive>.lock``).

The lock is an ``flock`` on the lock file, which the kernel releases when its
holder dies, even by ``kill -9``; the file's content names the holder, so a
second writer can say who has it, and a lock left by a dead process is simply
taken over. The holder removes the file when it is done.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from pathlib import Path
from typing import Any

from glossary_spider.storage import now

logger = logging.getLogger(__name__)


class ArchiveLocked(Exception):
    """Another process holds the archive's lock."""

    def __init__(self, path: Path, holder: dict[str, Any]):
        self.holder = holder
        who = f"pid {holder.get('pid', '?')}, {holder.get('command', '?')} since {holder.get('started_at', '?')}"
        super().__init__(f"{path} is locked by another writer ({who})")


class ArchiveLock:
    def __init__(self, db_path: str | Path, command: str):
        self.db_path = Path(db_path)
        self.path = self.db_path.with_name(self.db_path.name + ".lock")
        self.command = command
        self.fd: int | None = None
        self.stale: dict[str, Any] | None = None

    def acquire(self) -> ArchiveLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                raise ArchiveLocked(self.db_path, holder) from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # its holder removed it as we opened it: lock the file now there
        self.stale = _read(fd) or None
        if self.stale:
            logger.warning("Taking over the archive lock left by pid %s (%s)", self.stale.get("pid"),
                           self.stale.get("command"))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "command": self.command, "started_at": now()}).encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file, then unlock: no ``.lock`` is left beside the archive."""
        if self.fd is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # while still locked, so no one else holds the file being removed
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> ArchiveLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _read(fd: int) -> dict[str, Any]:
    try:
        data = os.pread(fd, 4096, 0)
        holder = json.loads(data) if data.strip() else {}
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}
