"""One writer at a time: an advisory lock beside the archive (``<archive>.lock``).

The lock is an ``flock`` on the lock file (beside the file the archive's path leads to, whatever path
reaches it: :func:`beside`), which the kernel releases when its
holder dies, even by ``kill -9``; the file's content names the holder, so a
second writer can say who has it, and a lock left by a dead process is simply
taken over (replaced by one of the writer's own, where it is another user's or may
not be written). The holder removes the file when it is done. Both files are made as
the umask says, so that a group sharing the archive shares them too.

A run refused while another holds the lock cannot write to the archive: it is
noted beside it (``<archive>.refused-runs``, one JSON line each) until the next
writer moves it into ``crawl_runs``. Readers treat that file as hostile.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import stat
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from glossary_spider.outcome import REFUSED_REASONS
from glossary_spider.storage import now
from glossary_spider.storage.errors import by_a_writer
from glossary_spider.terminal import safe_text

logger = logging.getLogger(__name__)


class ArchiveLocked(Exception):
    """Another process holds the archive's lock; ``stopped``: it is stopped (Ctrl-Z, SIGSTOP), and will not end
    until it is continued."""

    def __init__(self, path: Path, holder: dict[str, Any], how: str = ""):
        """``how``: how the holder holds it, where that is not as it should (its lock file removed)."""
        self.holder = holder
        self.stopped = is_stopped(holder.get("pid"))
        super().__init__(f"{path} is locked by another writer ({who(holder)}"
                         f"{', stopped: Ctrl-Z or SIGSTOP' if self.stopped else ''}{f', {how}' if how else ''})")

    def remedy(self) -> str:
        """What to do: wait, or, for a holder that is stopped, continue or end it."""
        if self.stopped:
            return continue_or_end(self.holder["pid"])
        return "wait for it to end, or run this again later"


def continue_or_end(pid: int) -> str:
    """What to do with a run whose process ``pid`` is stopped (:func:`is_stopped`). A run handles SIGTERM (it
    stops as a run, saying so), and a stopped process takes a handled signal only once it is continued."""
    return (f"continue it ('fg' in its shell, or 'kill -CONT {pid}'), or end it ('kill {pid}; kill -CONT {pid}': "
            "stopped, it takes the kill only once continued)")


def is_stopped(pid: Any) -> bool:
    """Whether the process ``pid`` on this machine is stopped (state T in /proc: Ctrl-Z, SIGSTOP); False where
    that cannot be read."""
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, TypeError, ValueError):
        return False
    return stat[stat.rfind(")") + 1:].split()[:1] == ["T"]


def who(holder: dict[str, Any]) -> str:
    """A lock's holder, in words: its pid, command and start, as far as they are known."""
    said = f"pid {holder.get('pid', '?')}"
    if "command" in holder or "started_at" in holder:
        said += f", {holder.get('command', '?')} since {holder.get('started_at', '?')}"
    return said


class UnsafeLockFile(OSError):
    """The lock file's path cannot serve as our lock: a symlink, a directory, a file we may not open, one left
    by an ended run that we may neither write nor replace, or none and a directory we may not write in."""


class ArchiveHardLinked(OSError):
    """The archive file has more than one name: each would have a lock and a write-ahead log of its own."""


def beside(db_path: str | Path, suffix: str) -> Path:
    """The file named ``<archive><suffix>`` that the lock keeps beside the archive: beside the file its path
    leads to, symlinks followed, so that every path to one archive (a symlink to it, a symlinked
    directory, a relative path) finds the same lock and the same notes."""
    real = Path(os.path.realpath(db_path))
    return real.with_name(real.name + suffix)


def _creations_of(db_path: Path) -> list[Path]:
    """The names the archive file has beside it from a creation of it killed midway, which the writer taking
    the lock removes (:func:`~glossary_spider.storage.archive.abandoned_creations`): no hard link of a user's."""
    from glossary_spider.storage.archive import abandoned_creations

    archive = os.stat(db_path)
    return [left for left in abandoned_creations(Path(db_path))
            if os.path.samestat(os.stat(left), archive)]


class ArchiveLock:
    def __init__(self, db_path: str | Path, command: str):
        self.db_path = Path(db_path)
        self.path = beside(db_path, ".lock")
        self.command = command
        self.fd: int | None = None
        self.archive_fd: int | None = None  # the archive file itself, flocked too (_hold_archive)
        self.stale: dict[str, Any] | None = None

    def acquire(self) -> ArchiveLock:
        """Lock the archive for this process; :class:`ArchiveLocked` if another holds it. An archive file
        with a second name (a hard link) is refused (:class:`ArchiveHardLinked`): a writer through each name
        would hold a lock of its own, and SQLite keeps a write-ahead log for each name, so that two writers
        corrupt the file and one name's log loses what the other wrote."""
        with contextlib.suppress(FileNotFoundError):
            if (links := os.stat(self.db_path).st_nlink) > 1 and links - 1 > len(_creations_of(self.db_path)):
                raise ArchiveHardLinked(errno.EMLINK, f"{self.db_path} is one file with {links} names (hard links), "
                                        "which two writers would corrupt: remove the other names, or copy it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd, denied = self._open()
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                os.close(fd)
                raise UnsafeLockFile(f"{self.path} is not a plain file, not a lock file: remove it")
            # Whether it is held comes first, whoever's file it is: a live run's lock is never to be removed.
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder_of(fd)
                # Removed by its holder, or by a writer that replaced it, as we read who holds it: read the next.
                same = _same_file(fd, self.path)
                os.close(fd)
                if not same:
                    continue
                raise ArchiveLocked(self.db_path, holder) from None
            if not _same_file(fd, self.path):
                os.close(fd)  # its holder removed it as we opened it: lock the file now there
                continue
            if denied or info.st_uid != os.geteuid():
                self.stale = self._replace(fd, info, denied)
                continue
            break
        self.stale = _read(fd) or self.stale
        if self.stale:
            logger.warning("Taking over the archive lock left by pid %s (%s)", self.stale.get("pid"),
                           self.stale.get("command"))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "command": self.command, "started_at": now()}).encode(), 0)
        self.fd = fd
        _held.add(fd)
        self._hold_archive()
        return self

    def _hold_archive(self) -> None:
        """Lock the archive file itself too (an flock, which SQLite's own locks never meet): a lock file removed
        under its run (``rm *.lock``, a cleaner of old files) let a second writer make one anew and take it, and
        write beside the first. The first holds this lock still: the second is refused here. (An archive not
        made yet is made under the lock file alone.)"""
        try:
            fd = os.open(self.db_path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:  # none yet, or not to be read: opening it says why
            return
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:  # a FIFO, a device: opening it refuses it
                os.close(fd)
                return
        except BlockingIOError:
            holders = _flock_holders(os.fstat(fd))
            os.close(fd)
            self.release()
            holder = {"pid": holders[0]} if holders and holders[0] else {}
            raise ArchiveLocked(self.db_path, holder, "its lock file was removed under it") from None
        self.archive_fd = fd
        _held.add(fd)

    def _open(self) -> tuple[int, int]:
        """The lock file, opened to be written, or where we may not write it, to be read (enough to learn by
        flock whether it is held), and why it may not be written (EACCES or EPERM; 0 if it may)."""
        denied, vanished = 0, 0
        while True:
            # O_NOFOLLOW: a symlink planted at the lock's path must not make us truncate its target.
            access = os.O_RDONLY if denied else os.O_RDWR | os.O_CREAT
            try:
                # 0o666: the umask decides, so that a group sharing the archive shares its lock too.
                return os.open(self.path, access | os.O_NOFOLLOW | os.O_NONBLOCK, 0o666), denied
            except FileNotFoundError:
                if not denied:
                    raise
                denied = 0  # removed as we looked, by its holder done with it: made anew
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.EISDIR):
                    raise UnsafeLockFile(f"{self.path} is a symlink or a directory, not a lock file: "
                                         "remove it") from None
                if exc.errno not in (errno.EACCES, errno.EPERM):
                    raise
                if not denied and not self.path.exists():
                    # Removed as we looked, by a writer replacing it (then making it is ours to try again),
                    # or nothing may be made there: so it is still, a few tries on.
                    vanished += 1
                    if vanished < _MAKE_TRIES:
                        continue
                    raise UnsafeLockFile(exc.errno, _denied(self.path, exc.errno)) from None
                if denied:
                    break
                denied = exc.errno
        # Not to be read either: the kernel's table of locks still says whether a run holds it, and which.
        with contextlib.suppress(OSError):
            if holders := _flock_holders(os.lstat(self.path)):
                raise ArchiveLocked(self.db_path, {"pid": holders[0]} if holders[0] else {})
        raise UnsafeLockFile(_denied(self.path, denied))

    def _replace(self, fd: int, info: os.stat_result, denied: int) -> dict[str, Any] | None:
        """Remove the lock file ``fd``, left by an ended run (we hold its flock), that we may not write or that
        is another user's (who could remove it under us), so that a lock of our own is made in its place; what
        its run wrote of itself. Removed while locked, so that a writer racing us to it locks it after we are
        done, finds it gone, and meets ours."""
        left = _read(fd)
        try:
            self.path.unlink()
        except OSError as exc:  # a sticky directory (/tmp), one we may not write, an immutable file
            os.close(fd)
            if denied == errno.EPERM:
                raise UnsafeLockFile(_denied(self.path, denied)) from None
            ended = f"an ended run of uid {info.st_uid}" + (f" ({who(left)})" if left else "")
            message = (f"the lock file {self.path} was left by {ended}, and you may not replace it in "
                       f"{self.path.parent} ({exc.strerror}): no run holds it, so it may be removed (by uid "
                       f"{info.st_uid} or root); then run this again")
            # Where the directory may be written (only its sticky bit stopped us), the refusal is noted there.
            if os.access(self.path.parent, os.W_OK | os.X_OK):
                raise UnsafeLockFile(message) from None
            raise UnsafeLockFile(exc.errno, message) from None
        os.close(fd)
        return left or None

    def release(self) -> None:
        """Remove the lock file, then unlock: no ``.lock`` is left beside the archive. Where it cannot be
        removed (its directory made read-only meanwhile), it is emptied: the next writer takes it over."""
        if self.archive_fd is not None:  # first: the next writer, once it has the lock file, finds it free
            _held.discard(self.archive_fd)
            os.close(self.archive_fd)
            self.archive_fd = None
        if self.fd is not None:
            try:
                self.path.unlink()  # while still locked, so no one else holds the file being removed
            except FileNotFoundError:
                pass
            except OSError as exc:
                logger.warning("Cannot remove the lock file %s (%s): the next run takes it over", self.path,
                               exc.strerror or exc)
                with contextlib.suppress(OSError):
                    os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            _held.discard(self.fd)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> ArchiveLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


# The descriptors of the locks this process holds: a process forked from it (a reparse's extraction
# worker) closes its copies, which would otherwise keep the archive locked after this one died. Only
# closed, never unlocked: an flock belongs to the open file both processes share.
_held: set[int] = set()


def _close_held_in_child() -> None:
    for fd in _held:
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_close_held_in_child)


def _denied(path: Path, error: int) -> str:
    """Why the lock file at ``path`` may not be opened or made (``error``: EACCES or EPERM), and what to do."""
    try:
        info = os.stat(path)
    except OSError:
        return (f"cannot create the lock file {path}: you may not write in {path.parent}: make it writable for "
                "you, or keep the archive in a directory you can write")
    whose = "yours" if info.st_uid == os.geteuid() else f"uid {info.st_uid}'s"
    if error == errno.EPERM:  # not its mode: an immutable or append-only file
        return (f"the lock file {path} ({whose}) may not be written, though its mode allows it (immutable or "
                "append-only? lsattr shows it): clear that (chattr -i -a), or move the archive")
    return (f"the lock file {path} ({whose}, mode {stat.S_IMODE(info.st_mode):03o}) is not writable for you: "
            "make it so, or remove it")


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


# How many times a writer tries to make the lock file that it was refused to open and that is not there.
_MAKE_TRIES = 5

# How long a writer refused the lock waits for its holder to write its name: it does so just after it locks.
_NAMING_SECONDS = 0.5


def _holder_of(fd: int) -> dict[str, Any]:
    """What the holder of the locked file ``fd`` wrote of itself, waited for a moment if not yet written, or if
    it names another process than the kernel's table of locks does (the file of an ended run, which a writer
    taking it over holds a moment before it puts its own in place): then, its pid as that table gives it."""
    deadline = time.monotonic() + _NAMING_SECONDS
    while True:
        found, holders = _read(fd), _flock_holders(os.fstat(fd))
        if found and (not holders or found.get("pid") in holders):
            return found
        if time.monotonic() >= deadline:
            return {"pid": holders[0]} if holders and holders[0] else found
        time.sleep(0.01)


def _read(fd: int) -> dict[str, Any]:
    try:
        data = os.pread(fd, 4096, 0)
        holder = json.loads(data) if data.strip() else {}
    except (OSError, ValueError, RecursionError):  # anyone may have written it: nested past json's depth too
        return {}
    if not isinstance(holder, dict):
        return {}
    # The file is read back into a message for a terminal: keep only what a holder writes.
    return {k: v for k, v in holder.items() if isinstance(v, (int, str)) and str(v).isprintable()}


def holder(db_path: str | Path) -> dict[str, Any] | None:
    """Who holds the archive's lock now (pid, command, since when); None if nobody does.

    Read from the lock file without locking it, so that a reader never makes a writer
    that starts at the same moment think the archive is taken.
    """
    try:
        fd = os.open(beside(db_path, ".lock"), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        found = _read(fd)
        held = _flock_held(fd)
    finally:
        os.close(fd)
    pid = found.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or held is False:
        return None  # the lock file of a holder killed with -9, its pid perhaps another process's since
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # a holder killed with -9 left its name behind
    except PermissionError:
        pass  # alive, another user's
    return found


# The kernel's table of the locks held (Linux): read to learn whether the lock file is locked, not locking it.
PROC_LOCKS = Path("/proc/locks")
MAX_PROC_LOCKS = 16 << 20


def _flock_held(fd: int) -> bool | None:
    """Whether a process holds an flock on the file ``fd`` reads; None where there is no table of locks to read."""
    holders = _flock_holders(os.fstat(fd))
    return None if holders is None else bool(holders)


def _flock_holders(info: os.stat_result) -> list[int] | None:
    """The pids that hold an flock on the file ``info`` describes, as /proc/locks says (a line ``1: FLOCK
    ADVISORY WRITE <pid> <major>:<minor>:<inode> 0 EOF``; one of a process waiting for it begins ``1: ->``);
    None where there is no such table to read."""
    key = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with PROC_LOCKS.open("rb") as table:
            lines = table.read(MAX_PROC_LOCKS).decode("ascii", "replace").splitlines()
    except OSError:
        return None
    return [int(parts[4]) if parts[4].isdigit() else 0 for parts in map(str.split, lines)
            if len(parts) > 5 and parts[1] == "FLOCK" and parts[5] == key]


# What a refused run may note beside the archive, and the types its values must have.
REFUSED_FIELDS = {"command": str, "started_at": str, "finish_reason": str, "error": str, "job_id": str, "pid": int,
                  "args": dict}
MAX_REFUSED_BYTES = 1 << 20


def refused_path(db_path: str | Path) -> Path:
    return beside(db_path, ".refused-runs")


def note_refused(db_path: str | Path, run: dict[str, Any]) -> None:
    """Note beside the archive a run refused while it was locked, or could not be written (one JSON line,
    appended under flock)."""
    line = (json.dumps({k: run.get(k) for k in REFUSED_FIELDS}, default=str) + "\n").encode()
    try:
        fd = os.open(refused_path(db_path), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK,
                     0o666)  # as the lock: the umask decides
        try:
            if not _note_of_ours(os.fstat(fd), db_path):  # its arguments are not for another user to read
                raise OSError(f"{refused_path(db_path)} is not a plain file of the archive's owner")
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:  # no room for it either, or no right to write there
        logger.warning("Cannot note the refused run beside the archive: %s", exc.strerror or exc)


def _note_of_ours(info: os.stat_result, db_path: str | Path) -> bool:
    """Whether the refused-runs note is a plain file written by someone who may write the archive: one
    another user planted (in a directory anyone can write) would put runs of theirs in the archive's
    history, and read the arguments of ours."""
    try:
        archive: os.stat_result | None = os.stat(db_path)
    except OSError:
        archive = None
    return stat.S_ISREG(info.st_mode) and by_a_writer(info, archive)


def refused_runs(db_path: str | Path, take: bool = False) -> list[dict[str, Any]]:
    """The refused runs noted beside the archive, oldest first, the newest :data:`MAX_REFUSED_BYTES` of
    them; with ``take`` (the lock's holder only) the note is emptied, its runs being the caller's to record.
    Lines that are not such a run (the file may have been written by anyone) are skipped."""
    try:
        fd = os.open(refused_path(db_path), (os.O_RDWR if take else os.O_RDONLY) | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return []
    try:
        if not _note_of_ours(os.fstat(fd), db_path):
            return []
        fcntl.flock(fd, fcntl.LOCK_EX if take else fcntl.LOCK_SH)
        data, cut = _newest_lines(fd)
        if take and cut:
            logger.warning("The runs refused while the archive was locked, noted beside it, pass %d MiB: the older "
                           "ones are not recorded", MAX_REFUSED_BYTES >> 20)
        if take:
            os.ftruncate(fd, 0)
    except OSError:
        return []
    finally:
        os.close(fd)
    runs = []
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):  # not JSON, or nested past the depth json reads
            continue
        if not isinstance(entry, dict):
            continue
        run = {k: v for k, v in entry.items() if k in REFUSED_FIELDS and isinstance(v, REFUSED_FIELDS[k])
               and not isinstance(v, bool)}
        if not _nested_within(run.get("args"), MAX_ARGS_DEPTH):
            del run["args"]  # written again to crawl_runs, and read back, by code that recurses
        if run.get("finish_reason") in REFUSED_REASONS and _is_time(run.get("started_at")):
            # Read back into lines for a terminal: only what a refused run writes, and nothing that controls it.
            run["command"] = run.get("command") if run.get("command") in COMMANDS else "crawl"
            run["error"] = safe_text(run.get("error", ""), one_line=True)[:500]
            if "job_id" in run:
                run["job_id"] = safe_text(run["job_id"], one_line=True)[:100]
            runs.append(run)
    return runs


def _newest_lines(fd: int) -> tuple[bytes, bool]:
    """The whole lines of the last :data:`MAX_REFUSED_BYTES` of the file ``fd``, and whether there were more
    before them. The first megabyte was read: a minutely cron job locked out for days noted more, and the
    newest refusals, those ``runs --check`` judges, were the ones lost ("ok" said over them)."""
    start = max(0, os.fstat(fd).st_size - MAX_REFUSED_BYTES)
    if not start:
        return os.pread(fd, MAX_REFUSED_BYTES, 0), False
    data = os.pread(fd, MAX_REFUSED_BYTES + 1, start - 1)  # and the byte before: does a line begin at start?
    return data.partition(b"\n")[2], True


COMMANDS = ("crawl", "refresh", "reparse")
# A run's arguments are options and lists of them (two levels); a noted run's nested deeper are not kept.
MAX_ARGS_DEPTH = 8


def _nested_within(value: Any, levels: int) -> bool:
    """Whether the JSON value ``value`` is nested at most ``levels`` lists and objects deep (read level by
    level, not by recursion)."""
    level, depth = [value], 0
    while containers := [v for v in level if isinstance(v, (dict, list))]:
        depth += 1
        if depth > levels:
            return False
        level = [item for v in containers for item in (v.values() if isinstance(v, dict) else v)]
    return True


def _is_time(value: Any) -> bool:
    """A date and time with its offset, as runs record them: a time without one (or a bare date) is no
    moment, and cannot be weighed against the times the archive's runs record."""
    try:
        return datetime.fromisoformat(value).utcoffset() is not None
    except (TypeError, ValueError):
        return False

