"""What every ``glossary`` command shares: the command group, the options, one-line errors, the exit
statuses each help lists, and the archive opened to read or to write."""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import re
import signal
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from glossary_spider import settings as defaults
from glossary_spider import startup
from glossary_spider.outcome import ExitStatus
from glossary_spider.params import BadArgument
from glossary_spider.storage import Archive, ArchiveError, cannot_read, cannot_write, damaged
from glossary_spider.storage.errors import cannot_look_up, lost
from glossary_spider.storage.schema import HOLDING, added_since, made_again
from glossary_spider.terminal import safe_text, shell_word
from glossary_spider.urls import PAGE_TYPES

if TYPE_CHECKING:
    from glossary_spider.lock import ArchiveLocked

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_LOCKED = ExitStatus.FAILED, ExitStatus.BAD_INPUT, ExitStatus.LOCKED


class UserError(click.ClickException):
    """A one-line message for the user, exit status 2: one line whatever the paths and values it names hold
    (a newline, a terminal's escape sequence), their control characters shown as ``\\xNN``."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {safe_text(self.format_message(), one_line=True)}", err=True)


def stops_interrupt() -> None:
    """SIGTERM (a scheduler's timeout, a service manager's stop) and SIGHUP (the terminal gone) stop the
    command as Ctrl-C does, so that what it was writing is taken back and it exits 1; unless they are
    ignored (``nohup``). The first stop interrupts; those after it, while the command takes back what it was
    writing and ends, are ignored: a second Ctrl-C, or a service manager's SIGTERM sent twice, broke into that
    ending with a traceback, or killed the process by its signal (status 130 or 143, no line said).

    Taken over before the start-up's handlers are let go: between the two, SIGTERM's default killed it."""
    for signum in startup.STOPS:
        if signum not in startup.ignored():
            signal.signal(signum, _interrupt_once)
    startup.started()


def _interrupt_once(signum: int, frame: Any) -> None:
    for stop in startup.STOPS:
        if signal.getsignal(stop) is _interrupt_once:
            signal.signal(stop, signal.SIG_IGN)
    raise KeyboardInterrupt


# The longest suffix of a file kept beside the archive (lock.beside, SQLite's "-journal", "-wal", "-shm"): the archive's
# own name may be no longer than leaves it room within the 255 bytes a file name may have. With 252 bytes, every
# reader failed with a traceback (SQLite's "-wal" could not be made, nor its "-journal" looked for).
COMPANION_SUFFIX = len(".refused-runs")
MAX_ARCHIVE_NAME = 255 - COMPANION_SUFFIX


def db_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db",
        "db",
        default=defaults.GLOSSARY_DB,
        envvar="GLOSSARY_DB",
        show_default=True,
        metavar="PATH",
        help="The archive's path (GLOSSARY_DB, where set, in place of the default).",
        callback=_archive_path,
    )(command)


def _archive_path(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """--db, refused when empty (an unset variable in a script, on the command line or in GLOSSARY_DB: click
    takes an empty variable for none, and the default archive would be written instead), and when relative
    to a working directory that was removed."""
    source = ctx.get_parameter_source("db")
    if source is click.core.ParameterSource.DEFAULT and os.environ.get("GLOSSARY_DB") == "":
        raise click.BadParameter("GLOSSARY_DB is set but empty: set it to the archive's path, or unset it")
    if source is click.core.ParameterSource.ENVIRONMENT and not value.strip():
        raise click.BadParameter("GLOSSARY_DB is set but blank: set it to the archive's path, or unset it")
    if not value.strip():
        raise click.BadParameter("is empty: give the archive's path")
    if value == "-":
        raise click.BadParameter("an archive is a SQLite file, not standard input or output: give its path "
                                 "(a file named - is ./-)")
    if value == ":memory:":
        raise click.BadParameter("names SQLite's in-memory database, gone when the command ends: give the "
                                 "archive's path (a file named :memory: is ./:memory:)")
    if MAX_ARCHIVE_NAME < len(name := os.fsencode(os.path.basename(value))) <= 255:  # past 255: the system's words
        raise click.BadParameter(
            f"the archive's file name is {len(name)} bytes: the files kept beside it (its name and '-journal', "
            f"'.refused-runs') need up to {COMPANION_SUFFIX} more, past the 255 a name may have: give a name of at "
            f"most {MAX_ARCHIVE_NAME} bytes")
    if not os.path.isabs(value):
        try:
            os.getcwd()
        except FileNotFoundError:
            raise click.BadParameter(f"{value} is relative to the working directory, which no longer exists: "
                                     "run the command from one that does, or give the archive's absolute path"
                                     ) from None
    return value


def output_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--out -`` is standard output, as it is to every Unix tool (a file of that name is ``./-``); a path
    given as "" (an unset variable in a script) is refused, not taken for ".": the directory."""
    if value is not None and not value.strip():
        raise click.BadParameter("is empty: give a file's path, or - for standard output")
    if value is None or value == "-":
        return None
    try:
        os.stat(value)
    except (FileNotFoundError, NotADirectoryError):  # none yet, or no such directory: the output says which
        pass
    except OSError as exc:  # a name too long, a symlink loop, a directory this user may not enter
        raise click.BadParameter(cannot_look_up(Path(value), exc, meant="the file to write")) from None
    return value


# The commands that only read the archive: SQLite's refusal is of a read there.
READERS = {"search", "show", "export", "report", "runs", "browse"}


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the package's errors about user input into one-line messages."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (BadArgument, ArchiveError, sqlite3.DatabaseError, json.JSONDecodeError) as exc:
            raise as_user_error(exc, kwargs.get("db", "archive")) from None

    return wrapper


def as_user_error(exc: BadArgument | ArchiveError | sqlite3.DatabaseError | json.JSONDecodeError, db: str) -> UserError:
    """The one-line error for ``exc``, met on the archive ``db``."""
    if isinstance(exc, sqlite3.DatabaseError):  # a full disk, most often (the transaction rolled back); a damaged file
        if missing := re.match(r"no such (?:table|column): (?:main\.)?(\S+)", str(exc)):
            if made_again(missing[1]):  # a view or the full-text index, dropped: damage, or a hand's edit
                return UserError(f"{db} lacks its {missing[1]} (damaged, or changed by hand): any writing command "
                                 f"makes it again from the archive's tables: {again('reparse', db)}")
            if any(missing[1] in tables for tables in HOLDING.values()):  # what the other commands still read
                return UserError(lost(db, [missing[1]], writing=False))
            if added_since(missing[1].rpartition(".")[2]):  # made by an earlier release, no writer run since
                return UserError(f"{db} was written by an earlier glossary_spider, and lacks a column added since "
                                 f"({missing[1]}): any writing command brings it up to date: {again('reparse', db)}")
            return UserError(f"{db} is not a glossary archive: {exc}")  # another application's SQLite file
        reads = click.get_current_context().info_name in READERS
        return UserError((cannot_read if reads else cannot_write)(db, exc))
    if isinstance(exc, json.JSONDecodeError):  # a stored JSON value that damage to the file reached
        return UserError(damaged(db, exc))
    return UserError(str(exc))


EXIT_STATUSES = """\b
Exit status:
    0  done (failed pages are recorded in crawl_errors)
    1  stopped early: Ctrl-C, SIGTERM, SIGHUP, an error (--resume continues a crawl or refresh);
       or it left the archive with no page (finish_reason empty: every URL a 404 or 410, a "not
       found" page, no page, or forbidden by robots.txt): check the start URLs and sitemaps
    2  bad arguments or input, or an archive that cannot be written
    3  another run holds the archive's lock
    4  a budget (--max-pages, --max-requests, --max-duration) stopped it: --resume continues
    5  the quality gate held the run's versions back: see 'glossary held'
    6  the site (or one of a run's sites) did not answer, or refused us: (nearly) every fetch
       to it failed, or every one once it stopped answering (--resume tries again)"""


READER_EXIT_STATUSES = """\b
Exit status:
    0  done
    1  stopped early: the output could not be written whole (a full disk); or Ctrl-C, SIGTERM,
       SIGHUP (one line says what was kept)
    2  bad arguments, or no usable archive at --db"""


REPARSE_EXIT_STATUSES = """\b
Exit status:
    0  done (pages that could not be extracted are recorded in crawl_errors)
    1  stopped early: Ctrl-C, SIGTERM, an error (run it again: it carries on where it stopped); or (nearly)
       every page failed to be read again (finish_reason unreadable: damaged bodies)
    2  bad arguments or input, or an archive that cannot be written
    3  another run holds the archive's lock"""


HELD_EXIT_STATUSES = """\b
Exit status:
    0  done
    2  bad arguments (no such run; a run that was not held, was decided already, or was stopped before
       its end and waits for --resume), or no usable archive at --db
    3  with --accept or --discard: another run holds the archive's lock"""


BROWSE_EXIT_STATUSES = """\b
Exit status:
    0  stopped by Ctrl-C or SIGTERM, as it serves until then
    1  Datasette ended on its own, with an error
    2  bad arguments, no usable archive at --db, or the port in use"""


RUNS_EXIT_STATUSES = """\b
Exit status:
    0  done (with --check: the last run that ended was done)
    1  stopped early: Ctrl-C, SIGTERM, SIGHUP (one line says so)
    2  bad arguments, or no usable archive at --db
  1-6  with --check: the last run's own exit status (see 'glossary crawl --help'),
       or 1 when it ended longer ago than --max-age, or there is none (0 while the first runs)"""


class Commands(click.Group):
    """The commands, ``replica`` among them loaded only when it is asked for: it serves the site's test
    double (:mod:`glossary_spider.replica`), which may depend on the product, never the other way."""

    LAZY = {"replica": "glossary_spider.replica.command"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.LAZY])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.LAZY:
            return getattr(importlib.import_module(self.LAZY[name]), name)
        return super().get_command(ctx, name)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_STATUSES)
@click.version_option(package_name="glossary_spider")
def cli() -> None:
    """Crawl the term.greeks.live glossary into a SQLite archive, and query it.

    \b
    Example:
        glossary replica --port 8000 &
        glossary crawl --start-url http://127.0.0.1:8000/ --delay 0 --db demo.db

    \b
    Environment:
        GLOSSARY_DB            the archive, where --db is not given
        GLOSSARY_BUSY_TIMEOUT  seconds a command waits for another program's write lock on the
                               archive (a sqlite3 session's transaction) before it gives up (default 10)
        GLOSSARY_MIN_FREE_MIB  MiB a crawl or refresh leaves free on the archive's disk: below it, it
                               stops as a full disk stops it, --resume continues (default 200; 0: none)
    """
    if click.get_current_context().invoked_subcommand not in TAKE_STOPS_OVER:
        startup.started()


HELP_EXIT_STATUSES = """\b
Exit status:
    0  done
    2  bad arguments: no such command"""


@cli.command("help", epilog=HELP_EXIT_STATUSES)
@click.argument("command", required=False)
@click.pass_context
def help_(ctx: click.Context, command: str | None) -> None:
    """Show the help of glossary, or of COMMAND (as --help does).

    \b
    Example:
        glossary help crawl
    """
    group = ctx.parent
    if command is None:
        click.echo(group.get_help())
        return
    found = cli.get_command(group, command)
    if found is None:
        raise click.UsageError(f"no such command {command!r}: the commands are "
                               f"{', '.join(cli.list_commands(group))}")
    with click.Context(found, info_name=command, parent=group) as context:
        click.echo(found.get_help(context))


# The commands that take Ctrl-C and SIGTERM over themselves, once they have something to take back (a run
# opened, an output begun): until then a stop ends them at once (startup). Any other, as its work begins.
TAKE_STOPS_OVER = {"crawl", "refresh", "reparse", "search", "show", "export", "report", "runs", "browse"}


@contextlib.contextmanager
def writer(db: str, command: str, *, run: bool = True) -> Iterator[Archive]:
    """The archive, opened for writing under its lock (exit 3 if another writer has it).

    ``run``: the command is a run of its own (reparse), recorded as refused when locked out;
    ``glossary held --accept`` is not, and a monitor must not take its refusal for the last run's.
    """
    from glossary_spider.lock import ArchiveLock, ArchiveLocked
    from glossary_spider.outcome import BAD_ARGUMENT, LOCKED_OUT, UNWRITABLE
    from glossary_spider.plan import NOT_BESIDE, NewerExtractor, Refusal, cannot_lock, check_extractor, record_noted

    refusal = Refusal(db, command, {})
    try:
        lock = ArchiveLock(db, command).acquire()
    except ArchiveLocked as exc:
        if run:
            refusal.record(LOCKED_OUT, exc)
        locked_out(exc)
    except OSError as exc:
        unusable = cannot_lock(db, exc)
        if run and exc.errno not in NOT_BESIDE:
            refusal.record(UNWRITABLE, unusable)
        raise UserError(str(unusable)) from None
    try:
        try:
            opened = Archive(db)
        except ArchiveError as exc:  # read-only, a full disk, damaged: noted beside it, as a crawl's refusal is
            if run:
                refusal.opening_failed(exc)
            raise
        with opened as archive:
            record_noted(archive)
            if run:
                try:
                    check_extractor(archive)
                except NewerExtractor as exc:
                    refusal.record(BAD_ARGUMENT, exc, archive)
                    raise
            yield archive
    finally:
        lock.release()


def again(command: str, db: str, *options: str) -> str:
    """The command line that runs ``command`` on this archive again, for a one-line message that a shell takes
    back when pasted: a path with a control character (a newline) or a byte that is not UTF-8 as ``$'…'``."""
    where = [] if db == defaults.GLOSSARY_DB else ["--db", shell_word(db)]
    return safe_text(" ".join(["glossary", command, *options, *where]), one_line=True)


def locked_out(exc: ArchiveLocked) -> None:
    click.echo(f"Error: {safe_text(exc, one_line=True)}: {exc.remedy()}", err=True)
    sys.exit(EXIT_LOCKED)


def format_option(*choices: str, default: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--format", "fmt", type=click.Choice(choices), default=default or choices[0],
                        show_default=True, help="Output format.")


def type_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--type", "page_type", type=click.Choice(PAGE_TYPES), help="Only pages of this type.")(command)


def open_reader(db: str) -> Any:
    from glossary_spider.query import connect

    return connect(db)
