"""The ``glossary`` command line: a thin click layer over the package.

Exit statuses are :class:`glossary_spider.outcome.ExitStatus`.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import functools
import glob
import importlib
import json
import math
import os
import re
import shlex
import signal
import sqlite3
import stat
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import click

from glossary_spider import settings as defaults
from glossary_spider import startup
from glossary_spider.outcome import (EMPTY_REASON, INTERRUPTED_REASON, UNREADABLE_REASON, ExitStatus, changes,
                                    exit_status, explain, held_back, is_complete, outcome, stopped_by,
                                    unreachable_hosts)
from glossary_spider.params import ARGUMENTS, OPTION_SETTINGS, BadArgument
from glossary_spider.storage import (Archive, ArchiveError, ArchiveUnwritable, cannot_read, cannot_write, damaged,
                                     existing_archive, is_damaged, is_locked, read_gate_report)
from glossary_spider.terminal import LossyStream, ShownOnTerminal, can_style, quoted, safe_json, safe_text, typed
from glossary_spider.urls import PAGE_TYPES

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_LOCKED = ExitStatus.FAILED, ExitStatus.BAD_INPUT, ExitStatus.LOCKED
# Options of crawl and refresh that say how a run fetches (recorded with the run, taken over by a resume).
RUN_OPTIONS = (*OPTION_SETTINGS, "gate")
# The run arguments' names as the command line spells them, for its messages.
OPTION_NAMES = {"max_age_days": "--max-age", "max_pages": "--max-pages",
                **{name: "--" + name.replace("_", "-") for name in RUN_OPTIONS}}


class UserError(click.ClickException):
    """A one-line message for the user, exit status 2: one line whatever the paths and values it names hold
    (a newline, a terminal's escape sequence), their control characters shown as ``\\xNN``."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {safe_text(self.format_message(), one_line=True)}", err=True)


class OutputFailed(UserError):
    """Output that could not be written whole (a full disk, a file size limit): the work stopped early,
    exit status 1, not a mistake of the user's."""

    exit_code = EXIT_FAILED


def output_failed(where: str, exc: OSError, left: str) -> UserError:
    """The error for an output that failed: a write that met a full disk (or the like) stopped the work;
    a file that could not be made at all (no such directory, no permission) is the user's to mend."""
    error = OutputFailed if exc.errno in OUTPUT_ERRORS else UserError
    return error(f"cannot write {where}: {exc.strerror or exc}; {left}")


def stops_interrupt() -> None:
    """SIGTERM (a scheduler's timeout, a service manager's stop) and SIGHUP (the terminal gone) stop the
    command as Ctrl-C does, so that what it was writing is taken back and it exits 1; unless they are
    ignored (``nohup``)."""
    startup.started()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, signal.default_int_handler)


def db_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db",
        "db",
        default=defaults.GLOSSARY_DB,
        envvar="GLOSSARY_DB",
        show_default=True,
        metavar="PATH",
        help="The archive's path (or set GLOSSARY_DB).",
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
    if not os.path.isabs(value):
        try:
            os.getcwd()
        except FileNotFoundError:
            raise click.BadParameter(f"{value} is relative to the working directory, which no longer exists: "
                                     "run the command from one that does, or give the archive's absolute path"
                                     ) from None
    return value


def _output_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--out -`` is standard output, as it is to every Unix tool (a file of that name is ``./-``); a path
    given as "" (an unset variable in a script) is refused, not taken for ".": the directory."""
    if value is not None and not value.strip():
        raise click.BadParameter("is empty: give a file's path, or - for standard output")
    return None if value == "-" else value


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
        if re.match(r"no such (table|column)", str(exc)):  # another application's SQLite file
            return UserError(f"{db} is not a glossary archive: {exc}")
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
    1  stopped early: the output could not be written whole (a full disk), or Ctrl-C
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
        glossary crawl --start-url http://127.0.0.1:8000/ --delay 0 --db data/demo.db
    """
    if click.get_current_context().invoked_subcommand not in TAKE_STOPS_OVER:
        startup.started()


# The commands that take Ctrl-C and SIGTERM over themselves, once they have something to take back (a run
# opened, an output begun): until then a stop ends them at once (startup). Any other, as its work begins.
TAKE_STOPS_OVER = {"crawl", "refresh", "reparse", "export", "report", "browse"}


def crawl_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by the commands that crawl (crawl and refresh). Their numbers are read as the run's
    arguments are (:class:`~glossary_spider.params.RunArgs`), not by click: a wrong one is then a refused
    run like any other, recorded, with its ``--json`` line."""
    for option in reversed([
        click.option("--concurrency", metavar="N",
                     help=f"Requests in flight at once, 1 to 64 (default {defaults.CONCURRENT_REQUESTS_PER_DOMAIN} per host, "
                          f"{defaults.CONCURRENT_REQUESTS} in all); with a delay, one at a time per host."),
        click.option("--delay", metavar="SECONDS",
                     help=f"Seconds from the end of one request to a host to the start of the next, 0 to 86400 (default "
                          f"{defaults.DOWNLOAD_DELAY:g}, adjusted by AutoThrottle; 0 turns AutoThrottle off)."),
        click.option("--ignore-robots", is_flag=True, help="Do not obey robots.txt."),
        click.option("--timeout", metavar="SECONDS",
                     help="Give up a request that has not completed in this long, 0.1 to 86400 (default 30)."),
        click.option("--trap-budget", metavar="N",
                     help="Request N (at least 1) URLs of one family (a URL template) before its pages must show "
                          "text of their own, or be cut as a link trap (default 20)."),
        click.option("--max-requests", metavar="N",
                     help="Stop after N (at least 1) responses (robots.txt, sitemaps, redirects and retries count); "
                          "--resume continues."),
        click.option("--max-duration", metavar="DURATION",
                     help="Stop after this long (90s, 20m, 2h; a bare number is seconds; default 6h); "
                          "--resume continues."),
        click.option("--give-up-after", metavar="DURATION",
                     help="End the run as unreachable (exit 6; --resume continues) once the site has answered "
                          "no fetch for this long (default 10m), so that a site that is down does not hold "
                          "the archive for hours."),
        click.option("--gate", "gate", multiple=True, metavar="NAME=VALUE|off",
                     help="Set a threshold of the quality gate for this run (repeatable), or turn it off; "
                          "see the README's 'Unattended runs'."),
        click.option("--workers", metavar="N",
                     help="Processes extracting pages beside Scrapy's, 0 to 64, from the first page (0: Scrapy's own process "
                          "extracts). Default: none with a delay; without one, one per core less one, started after "
                          f"the {defaults.GLOSSARY_EXTRACT_WORKERS_AFTER} pages Scrapy's process extracts first."),
        click.option("--max-delay", metavar="SECONDS",
                     help="Wait at most this long (0 to 86400 seconds) between requests whatever robots.txt's Crawl-delay asks; "
                          "a longer one is capped and recorded (default 60)."),
        click.option("--resume", is_flag=True, help="Continue the last run that was stopped, with its arguments."),
        click.option("--progress/--no-progress", default=None,
                     help="Live progress line (default: on when stderr is a terminal)."),
        click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
        click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log."),
    ]):
        command = option(command)
    return command


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
        except ArchiveUnwritable as exc:  # read-only, a full disk: noted beside it, as a crawl's refusal is
            if run:
                refusal.record(UNWRITABLE, exc)
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


def unreachable(reader: sqlite3.Connection, run: dict[str, Any]) -> str:
    """Why the run ended unreachable: the hosts whose fetches failed; or, where it gave up on a site that had
    stopped answering (its attempts then still being retried, few or none failed for good), for how long
    nothing answered."""
    from glossary_spider.storage import fetch_outcomes

    outcomes = fetch_outcomes(reader, run["id"])
    hosts = unreachable_hosts(outcomes)
    failed = sum(outcomes[host].unanswered for host in hosts)
    fetched = failed + sum(outcomes[host].answered for host in hosts)
    if gave_up := json.loads(run["stats"] or "{}").get("glossary/gave_up"):
        whom = ", ".join(gave_up["hosts"][:3]) or "the site"
        counted = f"; {failed} of {fetched} fetches failed for good (see 'glossary report')" if fetched else ""
        return (f"{whom} gave no answer for {gave_up['seconds']:.0f} s ({gave_up['attempts']} attempts in a row): "
                f"given up{counted}")
    whom = "the site" if len(outcomes) == 1 else ", ".join(hosts[:3]) + (" …" if len(hosts) > 3 else "")
    return f"{whom} did not answer, or refused us: {failed} of {fetched} fetches failed (see 'glossary report')"


def found_no_page(reader: sqlite3.Connection, run: dict[str, Any]) -> str:
    """Why the run left the archive with no page: what the URLs it asked about answered, each URL counted
    once by its last capture and error, and the sitemaps it could not read."""
    answers: dict[str, int] = {}
    for (answer, count) in reader.execute(
            """WITH e AS (SELECT url, stage, error, http_status FROM crawl_errors
                          WHERE id IN (SELECT max(id) FROM crawl_errors WHERE run_id = :run GROUP BY url)),
                    c AS (SELECT url, outcome, http_status FROM captures
                          WHERE id IN (SELECT max(id) FROM captures WHERE run_id = :run GROUP BY url)),
                    u AS (SELECT url FROM e UNION SELECT url FROM c)
               SELECT CASE WHEN e.stage = 'sitemap' THEN 'sitemap'
                           WHEN e.error = 'Forbidden by robots.txt' THEN 'were forbidden by robots.txt'
                           WHEN e.error LIKE 'soft 404%' OR (c.outcome IN ('gone', 'still_gone')
                                                             AND c.http_status = 200) THEN 'answered a "not found" page'
                           WHEN coalesce(e.http_status, c.http_status) IN (404, 410) THEN 'answered 404 or 410'
                           WHEN coalesce(e.http_status, c.http_status) BETWEEN 300 AND 399 THEN 'were redirected away'
                           ELSE 'answered what is no page' END, count(*)
               FROM u LEFT JOIN e ON e.url = u.url LEFT JOIN c ON c.url = u.url
               GROUP BY 1 ORDER BY count(*) DESC, 1""", {"run": run["id"]}):
        answers[answer.replace("were ", "was ") if count == 1 else answer] = count
    sitemaps = answers.pop("sitemap", 0)
    what = [f"{count} {'URL' if count == 1 else 'URLs'} {answer}" if i == 0 else f"{count} {answer}"
            for i, (answer, count) in enumerate(answers.items())]
    if sitemaps:
        what.append(f"{sitemaps} {'sitemap' if sitemaps == 1 else 'sitemaps'} could not be read")
    return (f"{run['command']} #{run['id']} left the archive with no page: {', '.join(what) or 'it found no page'} "
            "(see 'glossary report'): check the start URLs and sitemaps it was given (has the site moved?)")


def again(command: str, db: str, *options: str) -> str:
    """The command line that runs ``command`` on this archive again, for a one-line message: a control
    character in the archive's path (a newline) shown as ``\\xNN``, as every message shows it."""
    where = [] if db == defaults.GLOSSARY_DB else ["--db", shlex.quote(db)]
    return safe_text(" ".join(["glossary", command, *options, *where]), one_line=True)


def write_refused(db: str, exc: sqlite3.DatabaseError, carry_on: str) -> UserError:
    """The error for a run that a write SQLite refused stopped partway, with how to ``carry_on`` once what
    refused it is mended (a damaged archive is not carried on: it is restored or recovered first)."""
    message = cannot_write(db, exc, then=carry_on)
    if not (is_damaged(exc) or is_locked(exc)):  # a full disk most often, or a file made read-only meanwhile
        message += f"; once that is mended (room on the disk, most often), {carry_on}"
    return UserError(message)


def new_archive_directory(db: str) -> None:
    """Create the default archive's directory, saying so; an explicit --db in a directory that does
    not exist is most likely mistyped, and is refused."""
    directory = Path(db).parent
    if directory.exists():
        return
    source = click.get_current_context().get_parameter_source("db")
    if source != click.core.ParameterSource.DEFAULT:
        raise UserError(f"no directory {directory} for the archive {db}: check --db, or create it first "
                        f"(mkdir -p {directory})")
    try:
        directory.mkdir(parents=True)
    except OSError as exc:
        raise UserError(f"cannot create the directory {directory} for the archive: {exc.strerror or exc}") from None
    click.echo(f"Created {directory}/ for the archive {db}", err=True)


def locked_out(exc: Exception) -> None:
    click.echo(f"Error: {safe_text(exc, one_line=True)}: wait for it to end, or run this again later", err=True)
    sys.exit(EXIT_LOCKED)


def _concurrency(given: str | None) -> int:
    """The requests in flight at once that ``--concurrency`` asks for; the default for a value the run's
    arguments refuse (they say so, as a refused run), so that no file limit is raised for it first."""
    try:
        return ARGUMENTS["concurrency"](given, "concurrency") if given is not None else defaults.CONCURRENT_REQUESTS
    except BadArgument:
        return defaults.CONCURRENT_REQUESTS


def _run_crawl(db: str, arguments: dict[str, Any], options: dict[str, Any]) -> None:
    """Plan the run ``arguments`` ask for (a resume among them), crawl, and print the summary."""
    from glossary_spider.crawl import CannotCrawlHere, check_environment, crawl_settings, run_spider
    from glossary_spider.workers import hold_stops
    from glossary_spider.lock import ArchiveLocked
    from glossary_spider.plan import REFUSALS, open_run, refused_reason

    flags = {"resume": options["resume"] or None, "ignore_robots": options["ignore_robots"] or None,  # unset: not given
             "gate": options["gate"] or None}
    arguments = {**arguments, **{name: options[name] for name in RUN_OPTIONS}, **flags}
    try:
        check_environment(_concurrency(options["concurrency"]))
    except CannotCrawlHere as exc:
        raise UserError(str(exc)) from None
    hold_stops()  # until the crawl runs: the run opened now is then stopped as a run, not killed
    startup.started()
    try:
        plan = open_run(db, arguments, spelled=OPTION_NAMES)
    except REFUSALS as exc:
        if options["as_json"]:  # the refused run's line too, so that `>> refresh.log` has one for every run
            reason = refused_reason(exc)
            status = exit_status(reason)
            echo_summary(json.dumps({
                "id": None, "command": arguments["mode"], "finish_reason": reason, "outcome": outcome(status),
                "exit_status": int(status), "error": str(exc), "archive": os.path.abspath(db), "changes": 0}))
        if isinstance(exc, ArchiveLocked):
            locked_out(exc)
        raise
    command = plan.command
    if plan.earlier_extractions:
        click.echo(f"Note: {plan.earlier_extractions:,} archived pages were read by an earlier extractor: "
                   f"'{again('reparse', db)}' reads them anew; pages this {command} fetches are read anew, and "
                   "a change of their words recorded as the site's", err=True)
    if stopped := plan.superseded:
        click.echo(f"Note: {command} #{stopped['id']} stopped before it was done "
                   f"({stopped['finish_reason'] or 'killed'}); this starts a new {command}: "
                   f"'{again(command, db, '--resume')}' would have continued it", err=True)
    settings = crawl_settings(
        db, plan, progress=sys.stderr.isatty() if options["progress"] is None else options["progress"],
        log_level="INFO" if options["verbose"] else "WARNING", scrapy_log=options["verbose"],
    )
    stats = run_spider(settings, plan)
    if error := stats.get("glossary/archive_error"):
        if stats.get("glossary/archive_damaged"):
            raise UserError(error)
        if stats.get("glossary/archive_locked"):  # it says to close the program that holds it, then resume
            raise UserError(f"{error}: '{again(command, db, '--resume')}'")
        # A write SQLite refused: a full disk most often, but also a file made read-only, or a trigger
        # someone added that refuses it.
        when = ("" if stats.get("glossary/archive_writer_died")
                else "once that is mended (room on the disk, most often), ")
        raise UserError(f"{error}; {when}run '{again(command, db, '--resume')}'")
    run_id = stats.get("glossary/run_id")
    if run_id is None:
        raise click.ClickException("the crawl did not start: run with -v to see Scrapy's log")
    reader = open_reader(db)
    run = dict(reader.execute("SELECT * FROM crawl_runs WHERE id = ?", [run_id]).fetchone())
    traps = reader.execute("SELECT url, error, detail FROM crawl_errors WHERE run_id = ? AND stage = 'trap' "
                           "ORDER BY id", [run_id]).fetchall()
    extras = {"traps": [{"url": u, "error": e, "detail": d} for u, e, d in traps],
              "gate": read_gate_report(reader, run_id), "stopped_by": stopped_by(run["finish_reason"])}
    if options["as_json"]:  # one line, so that `>> refresh.log` is JSON Lines
        stats = json.loads(run["stats"] or "{}")
        echo_summary(json.dumps({**{k: v for k, v in run.items() if k != "stats"}, "archive": os.path.abspath(db),
                                 "args": json.loads(run["args"] or "{}"), "changes": changes(run), **extras,
                                 "limits": stats.get("glossary/limits", []),
                                 "sitemaps_unreadable": stats.get("glossary/sitemaps_unreadable", 0),
                                 "pages_not_asked": stats.get("glossary/skipped_by_lastmod", 0)}))
    else:
        echo_summary(summary(run, db, **extras))
    status = exit_status(run["finish_reason"])
    if status == ExitStatus.UNREACHABLE:
        click.echo(f"Error: {unreachable(reader, run)}; when it is back, '{again(command, db, '--resume')}' "
                   "tries them again", err=True)
    elif run["finish_reason"] == EMPTY_REASON:
        click.echo(f"Error: {found_no_page(reader, run)}", err=True)
    elif not is_complete(run["finish_reason"]):
        reason = run["finish_reason"]
        why = extras["stopped_by"] or ("interrupted" if reason == INTERRUPTED_REASON else reason)
        click.echo(f"Stopped before the end ({why or 'killed'}): run "
                   f"'{again(command, db, '--resume')}' to continue; nothing archived is fetched again", err=True)
    sys.exit(status)


@cli.command(epilog=EXIT_STATUSES)
@db_option
@click.option("--start-url", "start_urls", multiple=True, metavar="URL", help="A page to start from (repeatable).")
@click.option("--urls-file", type=click.Path(), help="A file of start URLs, one per line.")
@click.option("--sitemap", "sitemaps", multiple=True, metavar="URL", help="A sitemap or sitemap index (repeatable).")
@click.option("--no-follow", is_flag=True, help="Archive only the given pages and sitemap entries.")
@click.option("--max-pages", metavar="N",
              help="Stop after archiving N (at least 1) pages; --resume continues, N more each time.")
@crawl_options
@user_errors
def crawl(db: str, start_urls: tuple[str, ...], urls_file: str | None, sitemaps: tuple[str, ...], no_follow: bool,
          max_pages: str | None, **options: Any) -> None:
    """Crawl the glossary into the archive.

    With no --start-url, --urls-file or --sitemap it starts from the live site's
    home page and sitemap index. Only the hosts of the start URLs and sitemaps are
    ever requested. A crawl stopped by Ctrl-C, SIGTERM, kill -9 or a budget
    (--max-pages, --max-requests, --max-duration: exit 4) continues with --resume:
    nothing archived is fetched again (after kill -9, pages fetched but not yet
    written, the last 2 s at most, may be). --resume takes the stopped crawl's own arguments;
    the same ones given again are accepted (a scheduler's command line need not
    change), different ones are refused with what differs. Link traps are cut
    (one 'trap' error each); pages reach history only past the quality gate,
    which holds the whole run (exit 5, see 'glossary held') when they look like
    a maintenance page, soft 404s or broken extraction, or when most pages
    go at once (404, 410, a redirect elsewhere).

    \b
    Examples:
        glossary crawl --sitemap https://term.greeks.live/sitemap_index.xml
        glossary crawl --start-url http://127.0.0.1:8000/ --delay 0 --concurrency 8
        glossary crawl --max-duration 2h --max-requests 20000
        glossary crawl --resume
    """
    if not options["resume"]:
        new_archive_directory(db)
    _run_crawl(db, {"mode": "crawl", "start_urls": start_urls or None, "urls_file": urls_file,
                    "sitemap_urls": sitemaps or None, "follow": False if no_follow else None,
                    "max_pages": max_pages}, options)


@cli.command(epilog=EXIT_STATUSES)
@db_option
@click.option("--sitemap", "sitemaps", multiple=True, metavar="URL",
              help="Sitemaps to read for new and changed pages (default: those of earlier crawls).")
@click.option("--max-age", metavar="DAYS",
              help="Re-fetch in full the pages not fetched for this many days (0 to 1000000).")
@click.option("--no-follow", is_flag=True,
              help="Follow no links: the archived pages and the sitemaps only (default: as the archive's last "
                   "crawl did).")
@crawl_options
@user_errors
def refresh(db: str, sitemaps: tuple[str, ...], max_age: str | None, no_follow: bool, **options: Any) -> None:
    """Re-crawl the archive cheaply: only what changed is downloaded again.

    Known pages are requested conditionally (If-None-Match / If-Modified-Since)
    unless their sitemap lastmod says they have not changed since their last
    fetch; new pages come from the sitemaps and from links (none where the archive's
    last crawl was given --no-follow, or with --no-follow); pages that now answer
    404 or 410 are marked gone (nothing is deleted), and come back when they do.
    The quality gate holds the run (exit 5) rather than let a maintenance page,
    soft 404s or broken extraction into history; see 'glossary held'.

    \b
    Examples:
        glossary refresh
        glossary refresh --max-duration 30m --gate same-page-share=0.2
        glossary refresh --max-age 30 --json
        glossary refresh --sitemap http://127.0.0.1:8000/sitemap_index.xml --delay 0
    """
    _run_crawl(db, {"mode": "refresh", "sitemap_urls": sitemaps or None, "max_age_days": max_age,
                    "follow": False if no_follow else None}, options)


@cli.command(epilog=REPARSE_EXIT_STATUSES)
@db_option
@click.option("--progress/--no-progress", default=None, help="Show progress (default: on a terminal).")
@click.option("--workers", type=click.IntRange(min=1, max=max(8, 4 * (os.cpu_count() or 1))), default=None,
              metavar="N", help="Processes extracting pages (default: one per core; at most four per core).")
@user_errors
def reparse(db: str, progress: bool | None, workers: int | None) -> None:
    """Re-extract every archived page from its stored raw HTML, with no network access.

    A page's rows (page, sections, links, structured data) are rewritten only where
    the extraction's output differs from what the archive holds, and a new version
    is recorded only where its content changed. Extraction runs on every core
    (--workers); this process alone writes. A reparse stopped early (even by
    kill -9) is carried on by the next: the pages it already did are skipped.

    \b
    Example:
        glossary reparse --db data/glossary.db --workers 2
    """
    from glossary_spider.reparse import PageExtractor, reparse_archive
    from glossary_spider.workers import default_workers

    existing_archive(db)
    show = sys.stderr.isatty() if progress is None else progress
    stops_interrupt()  # the run recorded as stopped
    # The workers first: forked before the archive is opened, they inherit neither its lock nor its connection.
    try:
        with PageExtractor(workers or default_workers()) as extractor, writer(db, "reparse") as archive:
            run = reparse_archive(archive, extractor, progress=show)
    except sqlite3.DatabaseError as exc:  # a write refused partway: the run ended as archive_error
        raise write_refused(db, exc, f"run '{again('reparse', db)}' to carry on") from None
    echo_summary(summary(run, db))
    if not is_complete(run["finish_reason"]):
        click.echo(f"Stopped before the end: run '{again('reparse', db)}' to carry on; the pages done are not "
                   "read again", err=True)
    elif run["finish_reason"] == UNREADABLE_REASON:
        click.echo(f"Error: {explain(UNREADABLE_REASON)}", err=True)
    sys.exit(exit_status(run["finish_reason"]))


@cli.command(epilog=RUNS_EXIT_STATUSES)
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the runs (or, with --check, the verdict) as JSON.")
@click.option("--check", is_flag=True,
              help="Exit non-zero, with one line saying why, unless the last run that ended was done.")
@click.option("--max-age", type=click.FloatRange(min=0), metavar="HOURS",
              help="With --check: also fail when the last run ended longer ago than this (at most 24000000).")
@user_errors
def runs(db: str, as_json: bool, check: bool, max_age: float | None) -> None:
    """Every crawl, refresh and reparse of the archive: outcome, exit status, pages, Scrapyd job id.

    Runs refused before they started are listed too: a bad argument (exit status
    2), the archive locked by another run (3) or refusing its first write (a full
    disk: 2), the last two noted beside the archive until the next run records
    them. With --check, the one line and the exit status
    are for cron mail, systemd OnFailure= or a monitoring system: the last run's
    own exit status when it was not done, 1 when it is older than --max-age (or
    there is none, but for the first run while it is going). A run still going
    does not count; the line mentions it. A reparse that went well fetches
    nothing: the crawl or refresh before it is judged, and dates --max-age. A
    line that needs a look starts with the archive's path, for a loop over many.

    \b
    Examples:
        glossary runs --db data/glossary.db
        glossary runs --check --max-age 26 > /dev/null
        glossary runs --json | jq '.[-1].outcome'
    """
    from glossary_spider import runs as r

    if max_age is not None and not check:
        raise UserError("--max-age goes with --check: glossary runs --check --max-age HOURS")
    if max_age is not None and math.isnan(max_age):  # nan passes click's range
        raise UserError(f"--max-age is a finite number of hours, not {max_age}")
    if max_age is not None and max_age > r.MAX_AGE_HOURS:  # 1e400 as much as inf: Python reads both as inf
        raise UserError(f"--max-age is out of range: give at most {r.MAX_AGE_HOURS:,} hours")
    try:
        listed = r.list_runs(open_reader(db), db)
    except (BadArgument, ArchiveError, sqlite3.DatabaseError, json.JSONDecodeError) as exc:
        error = as_user_error(exc, db)  # no archive there, or none that can be read: a monitor reading JSON is told
        if check and as_json:
            click.echo(safe_json(json.dumps({"exit_status": error.exit_code, "message": error.format_message(),
                                             "run": None, "archive": os.path.abspath(db)})))
        raise error from None
    if not check:
        click.echo(safe_json(json.dumps(listed, indent=2)) if as_json else safe_text(r.table(listed)))
        return
    verdict = r.check(listed, max_age, db=db)
    if as_json:
        click.echo(safe_json(json.dumps({"exit_status": verdict.status, "message": verdict.message,
                                         "run": verdict.run, "archive": os.path.abspath(db)})))
    else:
        click.echo(safe_text(verdict.message, one_line=True), err=verdict.status != 0)
    sys.exit(verdict.status)


def summary(run: dict[str, Any], db: str, traps: list[dict[str, Any]] = (), gate: dict[str, Any] | None = None,
            stopped_by: str | None = None) -> str:
    """The one-screen summary at the end of a crawl, refresh or reparse."""
    stats = json.loads(run["stats"] or "{}")
    elapsed = stats.get("elapsed_time_seconds")
    if elapsed is None and run["finished_at"]:
        elapsed = (datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["started_at"])).total_seconds()
    rows = [
        ("new", run["pages_new"]),
        ("changed", run["pages_changed"]),
        ("unchanged", run["pages_unchanged"]),
        ("not modified", run["pages_not_modified"]),
        ("gone", run["pages_gone"]),
        ("still gone", run["pages_still_gone"]),
        ("back", run["pages_back"]),
        ("failed", run["pages_failed"]),
    ]
    news = changes(run)
    reason = run["finish_reason"]
    if stopped_by:
        ended = f"stopped by {stopped_by} after"
    elif reason == INTERRUPTED_REASON:
        ended = "interrupted after"
    else:
        ended = f"{reason} in" if reason else "stopped after"
    if gate and gate["held"]:  # its pages are not counted until it is accepted
        fetched = sum(gate.get(key) or 0 for key in ("pages", "gone", "not_pages"))  # as the HELD line counts them
        so_far = "" if is_complete(reason) else " so far"
        found = f"{fetched} {'page' if fetched == 1 else 'pages'} fetched, held{so_far} by the quality gate"
    else:
        found = f"{news} page{'' if news == 1 else 's'} new, changed, gone or back" if news else "nothing new"
    if unreadable := stats.get("glossary/sitemaps_unreadable"):
        found += f"; {unreadable} sitemap{'s' if unreadable > 1 else ''} unreadable"
    # A resumed run's counts are over all its parts; its time is its last part's.
    part = " (this part)" if run.get("resumed_at") else ""
    lines = [f"{run['command'].capitalize()} #{run['id']} {ended} {elapsed or 0:.1f}s{part}: {found}", "pages:"]
    lines += [f"  {name:<13}{value or 0:>8}" for name, value in rows]
    if skipped := stats.get("glossary/skipped_by_lastmod"):
        lines.append(f"  {'not asked':<13}{skipped:>8}   (their sitemap's lastmod is older than their last fetch)")
    lines.append(f"requests:      {run['requests'] or 0:>8}   ({(run['bytes'] or 0) / 1e6:.1f} MB received)")
    if stats.get("glossary/limits_hit"):
        lines.append(f"limits hit:    {stats['glossary/limits_hit']:>8}   "
                     "(crawl_errors rows of this run say what was cut)")
        lines += [f"  {safe_text(limit)}" for limit in stats.get("glossary/limits", [])]
    if unreadable:
        lines.append(f"sitemaps:      {unreadable:>8}   unreadable (crawl_errors rows of stage 'sitemap' say why)")
    lines.append(f"archive:       {safe_text(os.path.abspath(db), one_line=True)}")
    for trap in traps:
        lines.append(f"{trap['error']}: {trap['url']}")
    lines += gate_lines(run, gate, db)
    return "\n".join(lines)


def _json_ld_kind(item: Any) -> str:
    """A JSON-LD block in a word: its ``@type`` (types joined by ``/``), or what JSON value it is instead."""
    if isinstance(item, dict):
        kind = item.get("@type")
        if kind in (None, "", []):  # none, or an empty one
            return "@graph" if "@graph" in item else "no @type"
        return "/".join(map(str, kind)) if isinstance(kind, list) else str(kind)
    return {str: "a string", int: "a number", float: "a number", bool: "true or false", list: "a list",
            type(None): "null"}.get(type(item), "?")


def gate_lines(run: dict[str, Any], gate: dict[str, Any] | None, db: str) -> list[str]:
    """What the quality gate said about a run of the archive ``db``: nothing when it passed silently."""
    if not gate:
        return []
    lines = []
    soft = gate.get("soft_404", {})
    if soft.get("count") and not gate["held"]:
        not_archived = soft.get("not_archived", 0)  # reports before it was counted: every one archived
        fates = [f"{n} {what}" for n, what in ((soft["count"] - not_archived, "archived, marked gone"),
                                               (not_archived, "never archived, failed")) if n]
        pages = f"{soft['count']} {'page' if soft['count'] == 1 else 'pages'}"
        lines.append(f"soft 404: {pages} answered the site's \"not found\" page ({', '.join(fates)}; "
                     f"e.g. {soft['examples'][0]})")
    if gate["held"]:
        # A run stopped before the end asks about its held pages again when it is resumed, and is judged
        # then, so there is nothing to accept or discard yet.
        unfinished = not is_complete(run["finish_reason"])
        counted = (("pages", "pages fetched"), ("gone", "archived pages gone (404, 410, moved)"),
                   ("not_pages", "archived pages answering with what is not a page"))
        met = " and ".join(f"{gate[key]} {what.replace('pages', 'page', 1) if gate[key] == 1 else what}"
                           for key, what in counted if gate.get(key)) or "0 pages fetched"
        lines.append(f"HELD {'so far ' if unfinished else ''}by the quality gate: {met}, {held_back(run)} "
                     f"(run #{run['id']})")
        for check in gate["checks"]:
            if check["tripped"]:
                lines.append(f"  {check['name']}: {check['summary']}")
                lines += [f"    e.g. {url}" for url in check["examples"][:3]]
        look = again("held", db, "--run", str(run["id"]))
        if gate.get("decision"):  # seen to (glossary held): nothing to look at or decide
            pass
        elif unfinished:
            lines.append(f"  the run asks about them again when it is resumed, and is judged then; look: {look}")
        else:
            lines.append(f"  look: {look}; then '{again('held', db, '--accept', str(run['id']))}' "
                         f"or '{again('held', db, '--discard', str(run['id']))}'")
    return lines


RUN_ID = click.IntRange(1, 2**63 - 1)  # a crawl_runs id: SQLite's integers


@cli.command(epilog=HELD_EXIT_STATUSES)
@db_option
@click.option("--run", "run_id", type=RUN_ID, metavar="ID", help="Show this run only.")
@click.option("--accept", "accept", type=RUN_ID, metavar="ID",
              help="Write the held run's versions, re-extracted from its kept captures.")
@click.option("--discard", "discard", type=RUN_ID, metavar="ID", help="Forget the held run's versions; captures stay.")
@click.option("--json", "as_json", is_flag=True, help="Print the gate's reports as JSON.")
@user_errors
def held(db: str, run_id: int | None, accept: int | None, discard: int | None, as_json: bool) -> None:
    """Runs the quality gate held back, with what tripped it; accept or discard one.

    A held run fetched everything but wrote no version and changed no page (exit
    status 5). Look at what tripped the gate; if the site really changed (a
    redesign that the extraction handles, pages really deleted or moved),
    --accept writes the run's versions from its kept captures and marks its
    gone pages gone; if the site misbehaved (a maintenance page, a broken theme,
    a lost deploy answering 404), --discard forgets them. Either way the raw
    captures stay.

    \b
    Examples:
        glossary held
        glossary held --run 12 --json
        glossary held --accept 12
        glossary held --discard 12
    """
    if accept is not None and discard is not None:
        raise UserError("give --accept or --discard, not both")
    if accept is None and discard is None:  # only looking: a reader, never blocked by a crawl
        _show_held(open_reader(db), db, run_id, as_json)
        return
    existing_archive(db)
    target = accept if accept is not None else discard
    with writer(db, "held", run=False) as archive:
        report = archive.gate_report(target)
        if report is None or not report["held"]:
            raise UserError(_not_held(archive.db.conn, target))
        if report["decision"]:
            raise UserError(f"run {target} was {report['decision']} at {report['decided_at']} already")
        if not is_complete((run := archive.run(target))["finish_reason"]):
            # Its held pages are asked about again, and the run judged, when it is resumed.
            why = f"by {option}" if (option := stopped_by(run["finish_reason"])) else f"({run['finish_reason']})"
            raise UserError(f"run {target} was stopped before its end {why}: held so far, its pages are asked "
                            f"again and it is judged when resumed ('{again(run['command'], db, '--resume')}'); there "
                            "is nothing to accept or discard until it ends")
        if discard is not None:
            count = archive.discard_staged(discard)
            click.echo(f"Run #{discard} discarded: {count} held pages forgotten; its raw captures stay.")
            return
        from glossary_spider.query import superseded_by
        from glossary_spider.reparse import accept_held

        if later := superseded_by(archive.db.conn, accept):
            raise UserError(f"run #{later} has archived pages since run #{accept} was held: "
                            f"its versions would be older than the archive's; discard it")

        counts = accept_held(archive, accept)  # the run counted again, as it would have been had it passed
        kinds = ("new", "changed", "unchanged", "gone", "back")
        archived = ", ".join(f"{counts[f'pages_{kind}']} {kind}" for kind in kinds if counts[f"pages_{kind}"]) or "no"
        click.echo(f"Run #{accept} accepted: {archived} pages archived from its kept captures.")


def _not_held(conn: sqlite3.Connection, run_id: int) -> str:
    """Why run ``run_id`` has nothing for `glossary held`: there is no such run, or the gate did not hold it."""
    if conn.execute("SELECT 1 FROM crawl_runs WHERE id = ?", [run_id]).fetchone() is None:
        return f"there is no run {run_id} (see 'glossary runs')"
    return f"run {run_id} was not held by the quality gate (see 'glossary held')"


def _show_held(conn: sqlite3.Connection, db: str, run_id: int | None, as_json: bool) -> None:
    """List the held runs (or one), with what tripped the gate and what became of each."""
    from glossary_spider.query import held_reports

    reports = held_reports(conn, run_id)
    if not reports and run_id is not None:
        raise UserError(_not_held(conn, run_id))
    if as_json:
        click.echo(json.dumps([{**r, "run": {**{k: v for k, v in r["run"].items() if k != "stats"},
                                             "args": json.loads(r["run"]["args"] or "{}")}} for r in reports],
                              indent=2, ensure_ascii=False))
        return
    if not reports:
        click.echo("No run has been held by the quality gate.")
    for report in reports:
        run = report["run"]
        lines = gate_lines(run, {**report, "held": True}, db)[1:]
        if report["decision"]:
            state = f"held, then {report['decision']} at {report['decided_at']}"
        elif report["superseded_by"]:
            state = f"held; run #{report['superseded_by']} has archived pages since, so only --discard remains"
            lines = [f"  then: glossary held --discard {run['id']}" if line.lstrip().startswith("look:") else line
                     for line in lines]
        elif is_complete(run["finish_reason"]):
            state = "held, waiting for --accept or --discard"
        else:
            state = "stopped before the end: held so far, asked again and judged when resumed"
        click.echo(f"Run #{run['id']} ({run['command']}, {run['started_at']}): {state}")
        for line in lines:
            click.echo(line)
        for check in report["checks"]:
            if not check["tripped"]:
                click.echo(f"  passed {check['name']}: {check['summary']}")


def format_option(*choices: str, default: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--format", "fmt", type=click.Choice(choices), default=default or choices[0],
                        show_default=True, help="Output format.")


def type_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--type", "page_type", type=click.Choice(PAGE_TYPES), help="Only pages of this type.")(command)


def open_reader(db: str) -> Any:
    from glossary_spider.query import connect

    return connect(db)


@cli.command(epilog=READER_EXIT_STATUSES)
@click.argument("words", nargs=-1, required=True, metavar="QUERY")
@db_option
@type_option
@click.option("--limit", type=click.IntRange(min=1, max=1_000_000), default=20, show_default=True,
              help="Most results to show.")
@format_option("table", "json", "csv")
@user_errors
def search(words: tuple[str, ...], db: str, page_type: str | None, limit: int, fmt: str) -> None:
    """Full-text search over titles, summaries and body text.

    A QUERY of several words need not be quoted: glossary search funding rate
    is glossary search "funding rate".
    Results are ranked by bm25, title matches first, with the matching words
    highlighted. FTS5 syntax works (AND, OR, NOT, "phrases", prefix*,
    title:word); a query that is not valid syntax is searched as plain words,
    every one of them required, and a note on stderr says so.

    \b
    Examples:
        glossary search "funding rate"
        glossary search 'vega OR gamma' --type definition --limit 5 --format json
    """
    from glossary_spider import query as q
    from glossary_spider.export import spreadsheet_cell

    def as_words(reason: str, searched: str) -> None:
        click.echo(f"Note: {quoted(query)} is not FTS5 query syntax ({safe_text(reason, one_line=True)}): searched "
                   f"for the pages holding every one of its words, {safe_text(searched, one_line=True)} (leave a word "
                   "out with NOT, search a phrase in double quotes)", err=True)

    query = typed(" ".join(words))
    # Read as they are written: memory stays flat.
    results = q.search(open_reader(db), query, page_type, limit, as_words)
    if fmt == "json":  # json.dumps(results, indent=2), written a result at a time
        opening = "[\n"
        for r in results:
            item = json.dumps({**r, "snippet": q.highlight(r["snippet"], shown=False)}, indent=2, ensure_ascii=False)
            # Its lines are json's own: a U+2028 in a title is no line of it (textwrap.indent would take it for one).
            click.echo(opening + safe_json("  " + item.replace("\n", "\n  ")), nl=False)
            opening = ",\n"
        click.echo("[]" if opening == "[\n" else "\n]")
    elif fmt == "csv":  # UTF-8 whatever the locale's encoding, as an export's: the cells exactly as archived
        with open(sys.stdout.fileno(), "w", encoding="utf-8", newline="", closefd=False) as stream:
            # On a terminal, a site's escape sequences are shown, not acted on; to a file or a pipe, exact.
            writer = csv.writer(ShownOnTerminal(stream) if sys.stdout.isatty() else stream)
            writer.writerow(["url", "page_type", "title", "summary", "snippet", "status"])
            for r in results:
                cells = (r["url"], r["page_type"], r["title"], r["summary"], q.highlight(r["snippet"], shown=False))
                writer.writerow([*map(spreadsheet_cell, cells), r["status"]])
    else:
        bold, shown = can_style(sys.stdout), False
        for r in results:
            marks = ("\033[1m", "\033[0m") if bold else ("[", "]")
            title = safe_text(r["title"] or "(untitled)", one_line=True)
            kind = f"{r['page_type']}, gone" if r.get("status") == "gone" else r["page_type"]
            click.echo(f"{click.style(title, bold=True) if bold else title}  ({kind})  "
                       f"{safe_text(r['url'], one_line=True)}")
            click.echo(f"    {q.highlight(r['snippet'], *marks)}")
            shown = True
        if not shown:
            click.echo(f"No page matches {quoted(query)}.", err=True)


@cli.command(epilog=READER_EXIT_STATUSES)
@click.argument("url_or_slug")
@db_option
@type_option
@click.option("--history", is_flag=True,
              help="List the page's versions (with --format json, each one's text and record too).")
@click.option("--diff", "diff_spec", is_flag=False, flag_value="", default=None, metavar="[A..B]",
              help="Word-level diff between the last two versions, or versions A and B; then the links and "
                   "structured data values that changed, a line each.")
@format_option("text", "json")
@user_errors
def show(url_or_slug: str, db: str, page_type: str | None, history: bool, diff_spec: str | None, fmt: str) -> None:
    """One page: its record, sections, links (out, and in: directly or through a URL that redirects here) and JSON-LD.

    \b
    Examples:
        glossary show international-legal-cooperation
        glossary show https://term.greeks.live/term/greeks/ --format json
        glossary show vega --type area --history
        glossary show funding-ladder --diff 1..2
    """
    from glossary_spider import query as q

    if history and diff_spec is not None:
        raise UserError("give --history or --diff, not both")
    conn = open_reader(db)
    url = q.resolve(conn, typed(url_or_slug), page_type)
    if diff_spec is not None:
        a, b, changes = q.diff(conn, url, diff_spec or None)
        if fmt == "json":
            click.echo(safe_json(json.dumps({"url": url, "from": a, "to": b, "changes": [
                {"field": c.field, "tokens": [{"op": op, "text": t} for op, t in c.tokens]} for c in changes]},
                indent=2, ensure_ascii=False)))
            return
        click.echo(f"{safe_text(url, one_line=True)}: version {a} → {b}")
        if not changes:
            click.echo("  no change in title, summary, text, links or structured data")
        color = can_style(sys.stdout)
        for change in changes:
            click.echo(f"\n{change.field}:")
            if change.field in q.LINE_FIELDS:  # a line each: removed, added, moved
                click.echo("\n".join("  " + _diff_token(op, text, color) for op, text in change.tokens))
            else:
                click.echo("  " + " ".join(_diff_token(op, text, color) for op, text in change.tokens))
        return
    if history:
        versions = q.history(conn, url)
        if fmt == "json":
            click.echo(safe_json(json.dumps({"url": url, "versions": versions}, indent=2, ensure_ascii=False)))
            return
        click.echo(safe_text(url, one_line=True))
        for v in versions:
            click.echo(safe_text(f"  v{v['version']}  {v['captured_at']}  run {v['run_id']} ({v['command']})  "
                                 f"{v['content_hash'][:12]}  {q.counted(v['words'] or 0, 'word')}  {v['title']}",
                                 one_line=True))
        return
    page = q.page(conn, url)
    if fmt == "json":
        click.echo(safe_json(json.dumps(page, indent=2, ensure_ascii=False)))
    else:
        click.echo(safe_text(_page_text(page)))


def _diff_token(op: str, text: str, color: bool) -> str:
    text = safe_text(text, one_line=True)
    if op == "=":
        return text
    if color:
        return click.style(text, fg={"-": "red", "+": "green"}.get(op, "yellow"), strikethrough=op == "-")
    return {"-": f"[-{text}-]", "+": f"{{+{text}+}}"}.get(op, f"{{~{text}~}}")  # ~: a line moved


def _page_text(page: dict[str, Any]) -> str:
    from glossary_spider.query import counted

    lines = [f"{page['title']}  ({page['page_type']})", page["url"]]
    if page["summary"]:
        lines.append(f"Summary: {page['summary']}")
    facts = [page["published"] and f"published {page['published']}", page["author"],
             page["categories"] and ", ".join(page["categories"]), page["language"]]
    lines.append(" · ".join(f for f in facts if f))
    moved = f" to {page['moved_to']}" if page["moved_to"] else ""  # a page gone by a redirect: where it went
    if page["status"] == "gone" and not moved and 200 <= (page["http_status"] or 0) < 300:
        moved = ': the site\'s "not found" page'  # a soft 404, which the quality gate marked gone
    lines.append(f"{page['status']} (HTTP {page['http_status']}{moved}) · version {page['version']} · first seen "
                 f"{page['first_seen']} · last fetched {page['last_fetched']} · last changed {page['last_changed']}")
    for section in page["sections"]:
        lines += ["", f"## {section['heading'] or ''}", section["text"] or ""]  # a text edited away elsewhere: none
    if not page["sections"] and page["body_text"]:
        lines += ["", page["body_text"]]
    for kind, links in page["links"].items():
        lines += ["", f"{kind} links ({len(links)}):"]
        lines += [f"  {link['anchor_text'] or ''}  → {link['to_url']}" for link in links]
    lines += ["", f"Linked from {counted(len({l['from_url'] for l in page['linked_from']}), 'page')}:"]
    lines += [f"  {l['title'] or ''} ({l['kind']}{', gone' if l['status'] == 'gone' else ''}"
              f"{', via ' + l['via'] if l['via'] else ''})  {l['from_url']}"
              for l in page["linked_from"]]  # a gone page's links: what the site said before it went
    lines += ["", f"JSON-LD: {', '.join(_json_ld_kind(item) for item in page['json_ld']) or 'none'}"]
    if page.get("microdata"):  # extruct's items: their type is a URL, or several
        kinds = ["/".join(map(str, t)) if isinstance(t := item.get("type"), list) else str(t)
                 for item in page["microdata"] if isinstance(item, dict)]
        lines.append(f"Microdata: {', '.join(kinds)}")
    return "\n".join(lines)


@cli.command(epilog=READER_EXIT_STATUSES)
@db_option
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "warc"]), required=True, help="Export format.")
@type_option
@click.option("--out", type=click.Path(dir_okay=False, writable=True), callback=_output_path,
              help="Write here instead of standard output (-): whole or not at all (a failed write leaves an "
                   "earlier file as it was).")
@click.option("--raw", is_flag=True,
              help="With --format csv: every cell exactly as archived, a formula's apostrophe left out.")
@user_errors
def export(db: str, fmt: str, page_type: str | None, out: str | None, raw: bool) -> None:
    """Export the archive: JSON lines or CSV (one record per page), or the raw captures as WARC.

    JSON lines nest each page's sections, links, JSON-LD and microdata; CSV has one flat row
    per page; WARC has one response record per capture, with its original status
    line, headers and raw body (standard WARC 1.0, read back by warcio), each
    record gzipped unless --out ends in .warc. Output
    streams, in constant memory. A CSV text cell that a spreadsheet would run as a
    formula (it starts with =, +, -, @, a tab or a carriage return: a site's
    '=HYPERLINK(...)' title) gets a leading apostrophe, which spreadsheets hide;
    --raw leaves it out, and JSON lines are always exact.

    \b
    Examples:
        glossary export --format jsonl --out pages.jsonl
        glossary export --format csv --type definition > definitions.csv
        glossary export --format warc --out glossary.warc.gz
    """
    from glossary_spider import export as ex

    if raw and fmt != "csv":
        raise UserError(f"--raw goes with --format csv: --format {fmt} is always exact")
    stops_interrupt()
    output_to(out)
    conn = open_reader(db)
    binary = fmt == "warc"
    if out:
        not_the_archive(out, db)
    elif binary and sys.stdout.isatty():
        raise UserError("a WARC is gzip-compressed bytes, not for a terminal: give --out FILE, or redirect the output")
    # A file named .warc holds plain records; any other name (.warc.gz), and standard output, gzipped ones.
    warc = functools.partial(ex.write_warc, gzip=not (out or "").lower().endswith(".warc"))
    writer = {"jsonl": ex.write_jsonl, "csv": functools.partial(ex.write_csv, raw=raw), "warc": warc}[fmt]
    # The records exactly as archived, in UTF-8 whatever the locale's encoding, to a file or standard output.
    text = {} if binary else {"encoding": "utf-8", "newline": "" if fmt == "csv" else None}
    try:
        with (output_file(out, "wb" if binary else "w", **text) if out else
              open(sys.stdout.fileno(), "wb" if binary else "w", closefd=False, **text)) as stream:
            # On a terminal, a site's escape sequences are shown, not acted on.
            count = writer(conn, ShownOnTerminal(stream) if not (out or binary) and sys.stdout.isatty() else stream,
                           page_type)
    except BrokenPipeError:  # the reader had enough (| head): not an error to tell it
        silence_stdout()
        sys.exit(EXIT_FAILED)
    except OSError as exc:
        raise output_failed(out or "standard output", exc,
                            "it is left as it was" if out else "the export is incomplete") from None
    if out:
        click.echo(f"{count} {'captures' if binary else 'pages'} written to {safe_text(out, one_line=True)}", err=True)


@cli.command(epilog=READER_EXIT_STATUSES)
@db_option
@format_option("text", "json", "html")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), callback=_output_path,
              help="Write here instead of standard output (-): whole or not at all (a failed write leaves an "
                   "earlier file as it was).")
@user_errors
def report(db: str, fmt: str, out: str | None) -> None:
    """Archive health: pages by type and status, broken related links, orphans,
    one-way related links, and what changed in the last runs.

    The html form is one self-contained file with charts.

    \b
    Examples:
        glossary report
        glossary report --format html --out report.html
    """
    from glossary_spider import query as q
    from glossary_spider import report as r
    from glossary_spider.runs import list_runs

    stops_interrupt()
    output_to(out)
    reader = open_reader(db)
    data = q.report(reader, judged={run["id"]: run for run in list_runs(reader, db) if run["id"] is not None})
    text = {"text": lambda d: safe_text(r.as_text(d)), "html": lambda d: safe_text(r.as_html(d)),
            "json": lambda d: safe_json(json.dumps(d, indent=2, ensure_ascii=False))}[fmt](data)
    if out:
        not_the_archive(out, db)
        try:
            with output_file(out, "w", encoding="utf-8") as stream:
                stream.write(text)
        except OSError as exc:
            raise output_failed(out, exc, "it is left as it was") from None
        click.echo(f"report written to {safe_text(out, one_line=True)}", err=True)
    else:
        click.echo(text, nl=False)


@cli.command(epilog=BROWSE_EXIT_STATUSES)
@db_option
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True,
              help="Port for Datasette (0 picks a free one).")
@click.option("--open/--no-open", "open_browser", default=True, show_default=True,
              help="Open a web browser on the archive.")
@user_errors
def browse(db: str, port: int, open_browser: bool) -> None:
    """Open the archive in Datasette, with column descriptions, facets and canned queries.

    Tables show long text cut short; a row's page shows it whole, and a page's row
    lists its sections, links, versions and captures. Serves until Ctrl-C or
    SIGTERM, then exits 0. An archive on a read-only filesystem is served
    immutable. A port in use exits 2. Needs the optional 'browse' extra:
    pip install 'glossary_spider[browse]'.

    Datasette's own options (--host, --setting, ...) are not passed on: for them,
    run Datasette itself. This package's plugin loads in any Datasette installed
    beside it; the README's 'glossary browse' section shows how to give it the
    descriptions and canned queries (glossary_spider.metadata.datasette_metadata).

    \b
    Examples:
        glossary browse --db data/demo.db
        glossary browse --port 8002 --no-open
    """
    import importlib.util
    import socket
    import subprocess

    from glossary_spider.metadata import SETTINGS, datasette_metadata
    from glossary_spider.query import open_mode
    from glossary_spider.workers import die_with_parent

    open_reader(db).close()
    if importlib.util.find_spec("datasette") is None:
        raise UserError("Datasette is not installed: pip install 'glossary_spider[browse]'")
    # Datasette opens the archive as a URI (file:PATH?mode=ro) without escaping it: a '#', '?' or '%' in
    # the path would open another file, or make one. And an absolute path never reads as an option.
    path = os.path.abspath(db)
    if odd := sorted(set("#?%") & set(path)):
        raise UserError(f"Datasette cannot open an archive whose path holds {' or '.join(map(repr, odd))}: "
                        f"give it another name, or a link to it under one")
    if port:
        with socket.socket() as probe:
            # As the server binds: a port whose last connections wait out TIME_WAIT is free to it.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise UserError(f"port {port} is in use: choose another with --port") from None
    archive = ["-i", path] if open_mode(db) == "immutable=1" else [path]
    # The metadata goes through Datasette's standard input (it reads it once, at start): no
    # temporary file to leave behind however this command ends, kill -9 included.
    command = [sys.executable, "-m", "datasette", "serve", *archive, "--metadata", "-", "--port", str(port)]
    for name, value in SETTINGS.items():
        command += ["--setting", name, str(value)]
    if open_browser:
        command.append("--open")
    # The kernel stops Datasette when this command dies, even by kill -9 (Linux).
    server = subprocess.Popen(command, stdin=subprocess.PIPE, text=True,
                              preexec_fn=functools.partial(die_with_parent, signal.SIGTERM))
    server.stdin.write(json.dumps(datasette_metadata(Path(db).stem)))
    server.stdin.close()

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)  # SIGTERM and SIGHUP stop Datasette too (finally, below), and exit 0

    startup.started()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    code = 0
    try:
        code = server.wait()
    except KeyboardInterrupt:  # Datasette had the same Ctrl-C
        code = 0
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()
    sys.exit(0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else EXIT_FAILED)


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
    given = Path(out).absolute()
    if _a_stream(given) or (given.exists() and not given.is_file()):
        with open(out, mode, **options) as stream:
            yield stream
        return
    target = Path(os.path.realpath(given))
    part = target.with_name(f".{target.name}.{os.getpid()}.part")  # this process's own name: no one else's file
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask's mode, as open() gives
        with contextlib.suppress(FileNotFoundError):
            os.fchmod(fd, stat.S_IMODE(os.stat(target).st_mode))  # a file made private stays private
        with open(fd, mode, **options) as stream:
            yield stream
        os.replace(part, target)
    except BaseException:  # a Ctrl-C (or SIGTERM) the moment the part was made included
        with contextlib.suppress(OSError):
            os.unlink(part)
        raise
    remove_abandoned_parts(target)


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
        if not pid.isdigit() or int(pid) == os.getpid():
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
    there would destroy what is being read."""
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


def standard_streams() -> None:
    """Standard streams a scheduler closed (``2>&-``, ``>&-``) are /dev/null: Python leaves them None, which
    fails the first write, and the next file opened would take the closed descriptor, so that what is
    written there (by a worker, by SQLite's neighbours) would land in it. A command whose work is its
    output refuses a closed standard output (:func:`output_to`)."""
    global STDOUT_CLOSED
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            STDOUT_CLOSED = STDOUT_CLOSED or fd == 1
            devnull = os.open(os.devnull, os.O_RDWR)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, mode, closefd=False))
    for stream in (sys.stdout, sys.stderr):  # text the locale's encoding lacks (PYTHONIOENCODING=ascii) as \u escapes
        if (stream.encoding or "").lower().replace("-", "") != "utf8":
            stream.reconfigure(errors="backslashreplace")
    sys.stderr = LossyStream(sys.stderr)


STDOUT_CLOSED = False  # standard output was closed when the command started (standard_streams)


def output_to(out: str | None) -> None:
    """Refuse to write a command's output (an export, a report) to a standard output that was closed:
    it would be lost, with exit status 0."""
    if out is None and STDOUT_CLOSED:
        raise UserError("standard output is closed: give --out FILE, or redirect the output")


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
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def stdout_failed() -> bool:
    """Whether standard output can no longer be written (what it holds cannot be flushed)."""
    try:
        sys.stdout.flush()
    except OSError:
        return True
    return False


def record_refused_command_line(command: str, said: str) -> None:
    """Record a crawl or refresh whose command line click refused (an option the command does not take, a value
    of the wrong kind) as refused for a bad argument, as :func:`~glossary_spider.plan.open_run` records those it
    refuses: a scheduler's typo is then what ``glossary runs --check`` sees. The archive is the one ``--db`` or
    ``GLOSSARY_DB`` names, read from the words given; none is made only to say so."""
    from glossary_spider.outcome import BAD_ARGUMENT
    from glossary_spider.plan import Refusal

    words = sys.argv[sys.argv.index(command) + 1:] if command in sys.argv else []
    db = next((value for word, value in zip(words, words[1:]) if word == "--db"), None)
    db = next((word[5:] for word in words if word.startswith("--db=")), db)
    db = db or os.environ.get("GLOSSARY_DB") or defaults.GLOSSARY_DB
    with contextlib.suppress(OSError, ArchiveError, sqlite3.Error):
        Refusal(db, command, {"command_line": words}).record(BAD_ARGUMENT, BadArgument(said))


def main() -> None:
    """The ``glossary`` command: click, with usage errors said in one line like every other."""
    standard_streams()
    try:
        code = cli.main(prog_name="glossary", standalone_mode=False)
    except click.UsageError as exc:
        # Click knows the command of some of its errors only: else it is the first of the words that names one.
        command = exc.ctx.command.name if exc.ctx else next((w for w in sys.argv[1:] if w in cli.commands), None)
        where = exc.ctx.command_path if exc.ctx else f"glossary {command}" if command else "glossary"
        also = ""
        if isinstance(exc, click.NoSuchOption) and exc.ctx and exc.ctx.command.name in ("search", "show"):
            given = next((a for a in sys.argv[1:] if a.startswith(exc.option_name)), exc.option_name)
            also = f"; for words that start with '-', put -- before them: {where} -- {safe_text(given, one_line=True)}"
        said = " ".join(exc.format_message().split())  # Click lists a choice's values a line each
        click.echo(f"Error: {said} (see '{where} --help'{also})", err=True)
        if command in ("crawl", "refresh"):
            record_refused_command_line(command, f"{said} (see '{where} --help')")
        sys.exit(EXIT_BAD_INPUT)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_FAILED)
    except OSError as exc:  # standard output on a full disk, or a pipe whose reader left (| head)
        if exc.errno not in OUTPUT_ERRORS and not stdout_failed():
            raise
        silence_stdout()
        if not isinstance(exc, BrokenPipeError):
            click.echo(f"Error: cannot write to standard output: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
