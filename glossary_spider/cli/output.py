"""Where commands write: the standard streams (one a scheduler closed is /dev/null, one that fails goes
quiet), and ``--out`` files, written whole or not at all; an export or report stopped midway says what it kept."""

from __future__ import annotations

import contextlib
import errno
import functools
import glob
import os
import signal
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click

from glossary_spider import startup
from glossary_spider.cli.common import EXIT_FAILED, UserError
from glossary_spider.storage.errors import is_sqlite_database
from glossary_spider.terminal import LossyStream, mkdir_command, safe_text, to_devnull


@contextlib.contextmanager
def output_file(out: str, mode: str, **options: Any) -> Iterator[IO[Any]]:
    """``--out`` written whole or not at all: a file is written beside it under a name of its own and put in
    its place once complete, so that an export that fails (a full disk, a damaged archive) leaves an
    earlier file as it was and no part of a new one. A symbolic link is written through: the file it leads
    to is replaced, with its mode, and the link stays. What is not a file (a FIFO), and a device or a
    process's own file (/dev/stdout, /proc/self/fd/1: a link to whatever the shell redirected), is written
    as it is."""
    if out.endswith(("/", os.sep)):
        raise UserError(f"--out {out} ends with a slash, as a directory does: give the name of a file")
    directory = Path(out).parent
    if not directory.is_dir():  # a mistyped path most likely, as a --db's directory is: not made for it
        if directory.exists():
            raise UserError(f"--out {out}: {directory} is not a directory: check --out")
        raise UserError(f"no directory {directory} for --out {out}: check --out, or create it first "
                        f"({mkdir_command(directory)})")
    if _written_as_it_is(out):
        with open(out, mode, **options) as stream:
            try:
                yield stream
            except KeyboardInterrupt:  # a FIFO's reader that stopped reading would hold the stop up: not flushed
                to_devnull(stream.fileno())
                raise
        return
    target = Path(os.path.realpath(out))
    part = target.with_name(f".{target.name}.{os.getpid()}.part")  # this process's own name: no one else's file
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask's mode, as open() gives
        with contextlib.suppress(FileNotFoundError):
            os.fchmod(fd, stat.S_IMODE(os.stat(target).st_mode))  # a file made private stays private
        with open(fd, mode, **options) as stream:
            yield stream
        with last_step():
            os.replace(part, target)
    except BaseException:  # a Ctrl-C (or SIGTERM) the moment the part was made included
        with contextlib.suppress(OSError):
            os.unlink(part)
        raise
    remove_abandoned_parts(target)


def _written_as_it_is(out: str) -> bool:
    """Whether ``--out`` is written as it is, not replaced: what is not a file, a device, a process's own file."""
    try:
        given = Path(out).absolute()
    except OSError:  # relative to a working directory that was removed: a file, that cannot be made there
        return False
    return _a_stream(given) or (given.exists() and not given.is_file())


def left_at(out: str | None, what: str) -> str:
    """What an output that failed leaves: the file as it was, or none; or, written as it is (standard output,
    a FIFO), part of ``what``."""
    if out is None or _written_as_it_is(out):
        return f"the {what} is incomplete"
    return "it is left as it was" if os.path.exists(out) else "no file made"


STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(click.ClickException):
    """A stop (Ctrl-C, SIGTERM, SIGHUP) ended the command before its output was complete: exit status 1, and
    one line saying what was kept."""

    exit_code = EXIT_FAILED

    def show(self, file: Any = None) -> None:
        click.echo(f"Interrupted: {safe_text(self.format_message(), one_line=True)}", err=True)


def stops_take_back(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A command whose work is its output (``what``: an export, a report), to ``--out`` or standard output.
    Ctrl-C, SIGTERM and SIGHUP (unless ignored when it started: ``nohup``) stop it once, taking back what
    it wrote, with exit status 1 and one line saying what was kept (``Interrupted: nothing written to
    x.jsonl (it is left as it was)``). A stop that comes after that, or once the output is complete
    (:func:`last_step`), changes nothing: a second Ctrl-C cannot break the line or the file's removal, and
    one that comes as a complete command exits does not turn its exit status 0 into Python's 130."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            out = kwargs.get("out")
            try:
                try:
                    startup.started()
                    for signum in STOPS:
                        if signal.getsignal(signum) in (signal.SIG_DFL, signal.default_int_handler):
                            signal.signal(signum, _stopped)
                    return command(*args, **kwargs)
                finally:  # the command's outcome (its output complete, an error) is decided: no stop changes it
                    stops_past()
            except KeyboardInterrupt:
                if out is None or _written_as_it_is(out):
                    raise Interrupted(f"the {what} to {out or 'standard output'} is incomplete") from None
                raise Interrupted(f"nothing written to {out} ({left_at(out, what)})") from None

        return wrapper

    return decorate


def _stopped(signum: int, frame: Any) -> None:
    stops_past()
    silence_stdout()  # the rest of its buffer goes nowhere: a reader that stopped reading would hold the stop up
    # An object the stop cut short as it was made (warcio's spooled file) fails as it goes: not worth a traceback.
    sys.unraisablehook = lambda unraisable: None
    raise KeyboardInterrupt


def stops_past() -> None:
    """Ctrl-C, SIGTERM and SIGHUP are ignored from now on: the command's outcome is decided. Ignored, not
    handled: Python would give them back their default as it exits, and a late Ctrl-C kill it (130)."""
    for signum in STOPS:
        signal.signal(signum, signal.SIG_IGN)


@contextlib.contextmanager
def last_step() -> Iterator[None]:
    """What completes the output (a file put in its place): a stop that came before it stops the command
    before it begins, and one that comes during it or after changes nothing."""
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)  # and runs the handler of a stop that came before
        yield
        stops_past()  # a stop that came meanwhile, held back, is dropped
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)


def _a_stream(path: Path) -> bool:
    """Whether ``path``, or a symbolic link on its way, is a device or a process's own file (under /dev or
    /proc): written as it is, not replaced."""
    for _ in range(40):  # as many links as the kernel follows
        if path.parts[1:2] in (("dev",), ("proc",)):
            return True
        if not path.is_symlink():
            return False
        path = path.parent / os.readlink(path)
    return False


def remove_abandoned_parts(target: Path) -> None:
    """Remove what an earlier write of ``target`` left when it was killed (``kill -9``, the OOM killer): its
    part files whose process is gone. A live one's, or one whose name is not ours, is left alone."""
    for part in target.parent.glob(f".{glob.escape(target.name)}.*.part"):
        pid = part.name[len(target.name) + 2:-len(".part")]
        if not (pid.isascii() and pid.isdigit()) or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                part.unlink()
        except (OSError, OverflowError):  # another user's process (alive), or no process's number
            pass


def not_the_archive(out: str, db: str) -> None:
    """Refuse an output path that is the archive, or a file SQLite or the lock keeps beside it: writing
    there would destroy what is being read; and one that is another SQLite database."""
    from glossary_spider.lock import beside

    # As the path given names them, and as the file it leads to does: SQLite, as the lock, names them after that.
    kept = [path for suffix in ("", "-wal", "-shm", "-journal", ".lock", ".refused-runs")
            for path in (Path(f"{db}{suffix}"), beside(db, suffix))]
    target = Path(out)
    try:
        os.getcwd()
    except FileNotFoundError:
        if not target.is_absolute():
            raise UserError(f"cannot write {out}: the working directory no longer exists; give --out as an "
                            "absolute path") from None
    for path in kept:
        try:
            same = target.exists() and path.exists() and os.path.samefile(target, path)
        except OSError:
            same = False
        if same or target.resolve() == path.resolve():
            raise UserError(f"--out {out} is the archive {db}, or a file kept beside it: give another file")
    if is_sqlite_database(target):  # another archive, or any application's: no export is worth losing it for
        raise UserError(f"--out {out} is a SQLite database: choose another path, or remove it first")


def standard_streams() -> None:
    """Standard streams a scheduler closed (``2>&-``, ``>&-``) are /dev/null: Python leaves them None, which
    fails the first write, and the next file opened would take the closed descriptor, so that what is
    written there (by a worker, by SQLite's neighbours) would land in it. A command whose work is its
    output refuses a closed standard output (:func:`output_to`)."""
    global STDOUT_CLOSED
    startup.closed_streams()  # done already where the command started from __main__, before its imports
    STDOUT_CLOSED = 1 in startup.CLOSED
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, mode, closefd=False))
    for stream in (sys.stdout, sys.stderr):  # text the locale's encoding lacks (PYTHONIOENCODING=ascii) as \u escapes
        if (stream.encoding or "").lower().replace("-", "") != "utf8":
            stream.reconfigure(errors="backslashreplace")
    sys.stderr = LossyStream(sys.stderr)


STDOUT_CLOSED = False  # standard output was closed when the command started (standard_streams)


def echo_document(text: str, nl: bool = True) -> None:
    """A document (JSON, HTML) on standard output in UTF-8 whatever the locale's encoding, as an export is
    written: through a Latin-1 text stream, what Latin-1 lacks would be Python's escapes (``\\U0001f680``),
    which are neither JSON nor what the HTML's charset says. A lone surrogate, which UTF-8 cannot hold, is
    written as its ``\\uNNNN`` escape: in JSON, the same string."""
    click.echo((text + "\n" if nl else text).encode("utf-8", "backslashreplace"), nl=False)


def output_to(out: str | None, option: bool = True) -> None:
    """Refuse to write a command's output (an export, a report, a search's results) to a standard output
    that was closed: it would be lost, with exit status 0. ``option``: whether the command has ``--out``."""
    if out is None and STDOUT_CLOSED:
        raise UserError(f"standard output is closed: {'give --out FILE, or ' if option else ''}redirect the output")


def echo_summary(text: str) -> None:
    """A finished run's summary on standard output. The run is done whether or not it can be written
    there (a full disk, a reader gone): it is then dropped, and one line on standard error says so."""
    try:
        click.echo(text)
        sys.stdout.flush()
    except OSError as exc:
        silence_stdout()
        click.echo(f"Note: the run's summary could not be written to standard output ({exc.strerror or exc})",
                   err=True)


# What writing to standard output meets: a full disk or quota, a file size limit, a device that failed,
# a pipe whose reader left. (Files a command writes itself, --out, are refused in a line of their own.)
OUTPUT_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EPIPE}


def silence_stdout() -> None:
    """Standard output that failed becomes /dev/null: what is left in its buffer goes nowhere, at exit too
    (where Python would otherwise fail to flush it, with a traceback and status 120)."""
    to_devnull(1)


def stdout_failed() -> bool:
    """Whether standard output can no longer be written (what it holds cannot be flushed)."""
    try:
        sys.stdout.flush()
    except OSError:
        return True
    return False


class OutputFailed(UserError):
    """Output that could not be written whole (a full disk, a file size limit): the work stopped early,
    exit status 1, not a mistake of the user's."""

    exit_code = EXIT_FAILED


def output_failed(where: str, exc: OSError, left: str) -> UserError:
    """The error for an output that failed: a write that met a full disk (or the like) stopped the work;
    a file that could not be made at all (no such directory, no permission) is the user's to mend."""
    error = OutputFailed if exc.errno in OUTPUT_ERRORS else UserError
    return error(f"cannot write {where}: {exc.strerror or exc}; {left}")
