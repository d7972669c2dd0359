"""What can go wrong with an archive file, said once for every command."""

from __future__ import annotations

import errno
import os
import re
import sqlite3
import stat
import tempfile
from pathlib import Path

from glossary_spider.terminal import shell_word


class ArchiveError(Exception):
    """The archive cannot be used: the message says why, for the user."""


class ArchiveUnwritable(ArchiveError):
    """The archive refuses to be written: a full disk, most often, or a file made read-only."""


class ArchiveDamaged(ArchiveError):
    """The archive's file is damaged (a disk fault, a copy cut short): SQLite met the damage, or a check found it."""


class ForeignLogFile(ArchiveError):
    """A file where SQLite keeps the archive's log (``-wal``, ``-shm``, ``-journal``) that is no plain file,
    or that someone other than the archive's owner (or this process's user) wrote."""


def archive_path(path: str | Path) -> Path:
    """``path``, unless something other than a file is there: a directory, or a device, FIFO or socket
    (``/dev/null``), which SQLite would wait on, or write its journal beside; or unless a log file beside
    it is not the archive's own (:func:`check_logs`)."""
    path = Path(path)
    try:
        info: os.stat_result | None = os.stat(path)
    except FileNotFoundError:  # none yet
        info = None
    except NotADirectoryError:  # a file on its way: a.db/x.db, where a.db is the archive
        on_its_way = next((p for p in path.parents if p.is_file()), path.parent)
        raise ArchiveError(f"{on_its_way} is a file, not a directory, so {path} cannot be in it: give the "
                           "archive's path") from None
    except OSError as exc:  # where pathlib's is_dir() and exists() would raise it
        raise ArchiveError(cannot_look_up(path, exc)) from None
    if info and stat.S_ISDIR(info.st_mode):
        raise ArchiveError(f"{path} is a directory, not an archive file: give a file's path "
                           f"({path / 'glossary.db'}, say)")
    if info and not stat.S_ISREG(info.st_mode):
        raise ArchiveError(f"{path} is not a regular file (a device, a FIFO or a socket): give the path of an "
                           "archive file")
    check_logs(path)
    return path


def cannot_look_up(path: Path, exc: OSError, meant: str = "the archive's file") -> str:
    """A one-line message for a path the system will not look up, with what to do; ``meant``: what the path
    should lead to (the archive's file, an output file)."""
    if exc.errno == errno.ENAMETOOLONG:
        return (f"cannot use {path}: {exc.strerror}: give a shorter path (on most systems a name in it is at most "
                "255 bytes, the whole path at most 4,095)")
    if exc.errno == errno.ELOOP:
        return (f"{path} is a symlink loop ({exc.strerror}: it, or a directory on its way, leads back to itself): "
                f"point the symlink at {meant}, or give another path")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (f"cannot reach {path}: {exc.strerror}: a directory on its way does not let this user in (search "
                "permission, x): give another path, or ask the directory's owner for access")
    return f"cannot look up {path}: {exc.strerror or exc}: give another path"


LOG_SUFFIXES = ("-wal", "-shm", "-journal")


def by_a_writer(info: os.stat_result, archive: os.stat_result | None) -> bool:
    """Whether a file beside the archive (``info``) was written by someone who may write the archive
    itself (``archive``; None where there is none yet): its owner, this user, or, for an archive its group
    or anyone may write, a member of that group or anyone. Another user who can only read the archive
    could forge what such a file says."""
    if info.st_uid == os.geteuid():
        return True
    if archive is None:
        return False
    return (info.st_uid == archive.st_uid or bool(archive.st_mode & stat.S_IWOTH)
            or bool(archive.st_mode & stat.S_IWGRP) and info.st_gid == archive.st_gid)


def check_logs(path: Path) -> None:
    """Refuse the log files beside the archive that are not its own. SQLite replays whatever valid log it
    finds there as the archive's last writes, and a reader folds it into the file: in a directory others
    can write (``/tmp``), another user who can only read the archive could forge a log of it, and so
    rewrite it. A log is the archive's own when it is a plain file, and either empty or written by
    someone who may write the archive (:func:`by_a_writer`). The ``-shm`` beside it only indexes the log
    (SQLite rebuilds it where it does not fit), and whoever read the archive first made it: it needs only
    to be a plain file."""
    try:
        archive: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        archive = None
    except OSError:
        return
    for base in dict.fromkeys([path, Path(os.path.realpath(path))]):
        for suffix in LOG_SUFFIXES:
            log = base.with_name(base.name + suffix)
            try:
                info = os.lstat(log)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                raise ForeignLogFile(f"{log} is not a plain file (a symlink, a directory or a device) where SQLite "
                                     f"keeps the archive's log: remove it")
            if suffix != "-shm" and info.st_size and not by_a_writer(info, archive):
                raise ForeignLogFile(f"{log} was written by uid {info.st_uid}, who may not write the archive: SQLite "
                                     "would take it for the archive's last writes; if no writer of the archive made "
                                     "it, remove it")


def writable_logs(path: Path) -> None:
    """Give the log files beside a writable archive its permissions again where they are ours and cannot be
    written. SQLite gives a log file it makes the archive's mode: one made by a reader while the archive was
    read-only (chmod 444) stays so once the archive is writable, and every write then fails as if the archive
    itself were read-only. One that is another user's is named, with what to do."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    # SQLite keeps them beside the file itself: where the archive is a symlink, beside its target.
    for base in dict.fromkeys([path, Path(os.path.realpath(path))]):
        for suffix in ("-wal", "-shm"):
            log = base.with_name(base.name + suffix)
            if not os.path.lexists(log) or os.access(log, os.W_OK):
                continue
            try:
                fd = os.open(log, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue  # gone meanwhile, or a symlink (check_logs refuses that)
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    continue  # check_logs refuses that
                if info.st_uid == os.geteuid():
                    os.fchmod(fd, mode)
                    continue
            finally:
                os.close(fd)
            raise ArchiveUnwritable(f"{log}, beside the archive, is uid {info.st_uid}'s and you cannot write it, so "
                                    "SQLite cannot write the archive: its owner may make it writable, or remove it "
                                    "once no process has the archive open")


def existing_archive(path: str | Path) -> Path:
    """``path``, if an archive file is there; else the error that says what is (an empty file is none yet)."""
    path = archive_path(path)
    if not path.is_file() and unexpanded(path):
        raise ArchiveError(f"no archive at {path}: ~ and $VARIABLES are not expanded in --db or GLOSSARY_DB (the shell "
                           "expands them only where they are not quoted): give the path they stand for")
    if not path.is_file() or path.stat().st_size == 0:
        raise ArchiveError(f"no archive at {path}{' (an empty file)' * path.is_file()}: run 'glossary crawl' first")
    return path


def unexpanded(path: str | Path) -> bool:
    """Whether ``path`` holds what a shell would have expanded had it not been quoted: a leading ``~``, a
    ``$VARIABLE``."""
    return str(path).startswith("~") or re.search(r"\$\{?[A-Za-z_]", str(path)) is not None


def cannot_write(path: str | Path, exc: sqlite3.Error, then: str = "run this again") -> str:
    """A one-line message for a write that SQLite refused (full disk, read-only file ...), or for an
    archive it found damaged on the way (:func:`damaged`). Where another program held the archive's write
    lock past the busy timeout (:func:`busy_timeout_ms`, :func:`is_locked`), it says to close that program,
    ``then`` what to do."""
    if is_index_damaged(exc):
        return index_damaged(path, exc)
    if is_damaged(exc):
        return damaged(path, exc)
    if is_locked(exc):  # no glossary run: the archive's lock file keeps those out, and names them
        return (f"cannot write the archive {path}: {exc}: another program holds its write lock (a sqlite3 or "
                "sqlite-utils session, a script: not a glossary run, which the archive's lock file would have "
                f"named); nothing of the failed write was kept; close that program, then {then}")
    if "disk is full" in str(exc) and (temporary := full_temporary_directory(path)):
        return (f"cannot write the archive {path}: {exc}: the temporary directory {temporary}, where SQLite keeps a "
                "large write's temporary files, is full, not the archive's disk; nothing of the failed write was "
                "kept; free some space there, or set TMPDIR to a directory with room")
    return f"cannot write the archive {path}: {exc}; nothing of the failed write was kept"


def disk_full(directory: str | Path) -> bool:
    """Whether the file system holding ``directory`` has (next to) no room left for this user."""
    try:
        disk = os.statvfs(directory)
    except OSError:
        return False
    return disk.f_bavail * disk.f_frsize < 2**20


def full_temporary_directory(path: str | Path) -> str | None:
    """The directory SQLite keeps its temporary files in (``SQLITE_TMPDIR``, ``TMPDIR``, ...) where that is full
    and the disk holding the archive at ``path`` is not; else None."""
    temporary = os.environ.get("SQLITE_TMPDIR") or os.environ.get("TMPDIR") or tempfile.gettempdir()
    if disk_full(temporary) and not disk_full(Path(path).absolute().parent):
        return temporary
    return None


# How long a connection waits for another program's write lock (or, reading, for a recovery) before SQLite
# refuses, in seconds; the environment's GLOSSARY_BUSY_TIMEOUT, where set, says otherwise.
BUSY_TIMEOUT = 10.0
MAX_BUSY_TIMEOUT = 86400.0


def busy_timeout_ms() -> int:
    """SQLite's ``busy_timeout`` for every connection to an archive: :data:`BUSY_TIMEOUT` seconds, or the
    ``GLOSSARY_BUSY_TIMEOUT`` environment variable's (a scheduler whose refresh meets an analyst's long
    transaction may wait longer); a value that is no such number is refused (:class:`ArchiveError`)."""
    given = os.environ.get("GLOSSARY_BUSY_TIMEOUT", "").strip()
    if not given:
        return int(BUSY_TIMEOUT * 1000)
    try:
        seconds = float(given)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_BUSY_TIMEOUT:  # NaN too
        raise ArchiveError(f"GLOSSARY_BUSY_TIMEOUT={given[:40]!r} is not a number of seconds from 0 to "
                           f"{MAX_BUSY_TIMEOUT:.0f}: set it to one, or unset it (the default is {BUSY_TIMEOUT:.0f})")
    return int(seconds * 1000)


# SQLite's result code for a lock another connection holds (sqlite3.SQLITE_BUSY, from Python 3.11).
SQLITE_BUSY = 5


def is_locked(exc: sqlite3.Error) -> bool:
    """Whether SQLite's error says another connection held the archive's write lock (SQLITE_BUSY) for
    longer than this one waited."""
    code = getattr(exc, "sqlite_errorcode", None) or 0  # Python 3.11 on; extended (SQLITE_BUSY_SNAPSHOT ...)
    return code & 0xFF == SQLITE_BUSY or "database is locked" in str(exc)


def cannot_read(path: str | Path, exc: sqlite3.Error) -> str:
    """A one-line message for a read that SQLite refused (a file this user may not open: the archive, or its
    -wal or -shm beside it), or for an archive it found damaged on the way (:func:`damaged`)."""
    if is_index_damaged(exc):
        return index_damaged(path, exc)
    if is_damaged(exc):
        return damaged(path, exc)
    if is_locked(exc):  # a program that took the file for itself (locking_mode EXCLUSIVE), or one writing a
        # copy that is not in WAL mode
        return (f"cannot read the archive {path}: {exc}: another program holds it locked (a sqlite3 or "
                "sqlite-utils session, a script); close that program, then run this again")
    return (f"cannot read the archive {path}: {exc}; check that this user may read it, and its -wal and -shm "
            "files beside it")


def not_an_archive(path: str | Path, exc: sqlite3.DatabaseError, writing: bool = False) -> str:
    """A one-line message for a file that SQLite cannot read as the archive (``writing``: to write it): damaged,
    or no archive at all; a file that is no SQLite database (a text file, random bytes) with what to do."""
    if is_index_damaged(exc):
        return index_damaged(path, exc)
    if is_damaged(exc):
        return damaged(path, exc)
    what = "a usable SQLite archive" if writing else "a glossary archive"
    if is_not_sqlite(exc):  # a text file, random bytes: the path is mistaken, or the file is in the way
        aside = ", or move that file aside (a crawl then makes a new archive there)" if writing else ""
        return f"{path} is not {what}: {exc}: give another --db{aside}"
    return f"{path} is not {what}: {exc}"


# SQLite's result code for a file whose first bytes are not a SQLite database's (sqlite3.SQLITE_NOTADB).
SQLITE_NOTADB = 26


def is_not_sqlite(exc: sqlite3.Error) -> bool:
    """Whether SQLite's error says the file is no SQLite database at all."""
    code = getattr(exc, "sqlite_errorcode", None) or 0
    return code & 0xFF == SQLITE_NOTADB or "file is not a database" in str(exc)


SQLITE_HEADER = b"SQLite format 3\x00"


def is_sqlite_database(path: str | Path) -> bool:
    """Whether ``path`` is a file that begins as every SQLite database does."""
    path = Path(path)
    try:
        if not path.is_file():  # a FIFO is not read: that would wait for a writer
            return False
        with path.open("rb") as file:
            return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:  # one that cannot be read is refused as it is written
        return False


def is_damaged(exc: sqlite3.Error) -> bool:
    """Whether SQLite's error says the archive's contents are damaged (a disk fault, a copy cut short, a
    file written over in part), rather than that a write was refused or the file is no database at all."""
    return any(sign in str(exc) for sign in ("malformed", "corrupt", "Could not decode"))


def is_index_damaged(exc: sqlite3.Error) -> bool:
    """Whether SQLite's error says the archive's full-text index (``pages_fts``) cannot be read: its structure
    gone, written in a format SQLite does not know, or out of step with the pages it indexes; not that a query
    is no FTS5 syntax, nor that the index is missing (a writer makes a missing one again)."""
    return any(sign in str(exc) for sign in _INDEX_DAMAGE)


_INDEX_DAMAGE = ("vtable constructor failed: pages_fts", "invalid fts5 file format", "fts5: missing row")


def index_damaged(path: str | Path, exc: Exception) -> str:
    """A one-line message for an archive whose full-text index SQLite cannot read (:func:`is_index_damaged`):
    the archive's own tables are whole, and any writing command makes the index again from them."""
    what = " ".join(str(exc).split())[:120]
    return (f"the full-text index of the archive {path} is damaged ({what!r}); its pages are whole: any writing "
            f"command makes the index again from them: glossary reparse --db {shell_word(str(path))}")


def not_its_own_log(path: str | Path) -> str:
    """What to say of the write-ahead log beside the archive where what was read of it is not what an archive
    holds: SQLite reads any log there as the file's own, and one copied with another database, or left by one,
    makes the archive read as that database. "" where there is no such log."""
    wal = Path(f"{path}-wal")
    try:
        written = wal.stat().st_size > 0  # a reader makes an empty one as it opens the file: it holds nothing
    except OSError:
        return ""
    return (f"read with the write-ahead log beside it: if {wal} is not its own, copied with another database or "
            "left by one, move it aside and try again") if written else ""


def damaged(path: str | Path, exc: Exception) -> str:
    """A one-line message for an archive whose file SQLite found damaged, with what to do; or whose text
    another program wrote as bytes that are not UTF-8, which no recovery of the file mends."""
    if column := re.search(r"Could not decode to UTF-8 column '([^']{1,80})'", str(exc)):
        return (f"the archive {path} holds text that is not UTF-8 in a column {column.group(1)!r}, written there "
                f"by another program: correct or clear that value with sqlite3 (the file itself is whole)")
    what = " ".join(str(exc).split())[:120]
    wal = Path(f"{path}-wal")
    # SQLite reads any log beside the file as the file's own; an empty one (a reader makes one as it opens the
    # file) holds nothing it read.
    if wal.exists() and wal.stat().st_size > 0:
        return (f"the archive {path} is damaged ({what!r}), as read with the write-ahead log beside it: if "
                f"{path}-wal is not its own (copied with another database, or left by one), move it aside and try "
                f"again; else restore the archive from a backup, or recover what can be read with: sqlite3 {path} "
                ".recover | sqlite3 recovered.db")
    return (f"the archive {path} is damaged ({what!r}): restore it from a backup, or recover what can be read "
            f"with: sqlite3 {path} .recover | sqlite3 recovered.db")


def lost(path: str | Path, tables: list[str], writing: bool = True) -> str:
    """A one-line message for an archive that has lost tables holding what it captured
    (:func:`~glossary_spider.storage.schema.lost_tables`); ``writing``: refused by a command that writes. Readers
    are not refused: what a command reads from the other tables (search, export) is still there to be saved."""
    named = " and ".join(tables) + (" tables" if len(tables) > 1 else " table")
    return (f"the archive {path} has lost its {named} (dropped, or left out of a copy), which hold what it archived: "
            "restore it from a backup" + ("; nothing was written to it" if writing else ""))


def may_write(path: str | Path) -> bool:
    """Whether this process may write the file at ``path`` as its owner means it to be: root may write any file,
    but not one whose mode lets no one write it (``chmod a-w``), which was made read-only on purpose."""
    return os.access(path, os.W_OK) and (os.geteuid() != 0 or bool(os.stat(path).st_mode & 0o222))
