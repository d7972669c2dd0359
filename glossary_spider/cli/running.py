"""The commands that run: ``crawl`` and ``refresh`` (Scrapy, over the resume plan) and ``reparse``."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from glossary_spider import settings as defaults
from glossary_spider import startup
from glossary_spider.cli.common import (EXIT_STATUSES, REPARSE_EXIT_STATUSES, UserError, again, cli, db_option,
                                        locked_out, open_reader, stops_interrupt, user_errors, writer)
from glossary_spider.cli.output import Interrupted, echo_summary
from glossary_spider.cli.runs import summary
from glossary_spider.outcome import (EMPTY_REASON, INTERRUPTED_REASON, UNREADABLE_REASON, ExitStatus, changes,
                                     exit_status, explain, is_complete, outcome, stopped_by, unreachable_hosts)
from glossary_spider.params import ARGUMENTS, OPTION_SETTINGS, BadArgument, RunArgs
from glossary_spider.storage import (ArchiveUnwritable, archive_path, cannot_write, existing_archive, is_damaged,
                                     is_locked, read_gate_report, unexpanded)
from glossary_spider.storage.errors import is_index_damaged
from glossary_spider.terminal import mkdir_command, shown_path

# Options of crawl and refresh that say how a run fetches (recorded with the run, taken over by a resume).
RUN_OPTIONS = (*OPTION_SETTINGS, "gate")


# The run arguments' names as the command line spells them, for its messages.
OPTION_NAMES = {"max_age_days": "--max-age", "max_pages": "--max-pages", "start_urls": "--start-url",
                "sitemap_urls": "--sitemap", "urls_file": "--urls-file",
                **{name: "--" + name.replace("_", "-") for name in RUN_OPTIONS}}


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
    """Why the run left the archive with no page: what the URLs it asked about answered, and the sitemaps it
    could not read."""
    from glossary_spider.query import what_answered

    answers = {answer.replace("were ", "was ") if count == 1 else answer: count
               for answer, count in what_answered(reader, run["id"]).items()}
    sitemaps = answers.pop("sitemap", 0)
    what = [f"{count} {'URL' if count == 1 else 'URLs'} {answer}" if i == 0 else f"{count} {answer}"
            for i, (answer, count) in enumerate(answers.items())]
    if sitemaps:
        what.append(f"{sitemaps} {'sitemap' if sitemaps == 1 else 'sitemaps'} could not be read")
    return (f"{run['command']} #{run['id']} left the archive with no page: {', '.join(what) or 'it found no page'} "
            "(see 'glossary report'): check the start URLs and sitemaps it was given (has the site moved?)")


def write_refused(db: str, exc: sqlite3.DatabaseError, carry_on: str) -> UserError:
    """The error for a run that a write SQLite refused stopped partway, with how to ``carry_on`` once what
    refused it is mended (a damaged archive is not carried on: it is restored or recovered first)."""
    message = cannot_write(db, exc, then=carry_on)
    if not (is_damaged(exc) or is_locked(exc) or is_index_damaged(exc)):  # each says what to do already
        message += f"; {once_mended(str(exc))}{carry_on}"
    return UserError(message)


def once_mended(refusal: str) -> str:
    """When to carry on a run that a write SQLite refused (``refusal``: its words, or a message holding them):
    once the disk has room (a full disk, or a file-size limit, reads as either of SQLite's two disk errors),
    once the archive may be written again, or, for anything else (a constraint or a trigger another program
    added), once that is mended."""
    if "TMPDIR" in refusal:  # the temporary directory's disk, full (cannot_write)
        return "once there is room there, "
    if "disk is full" in refusal or "disk I/O error" in refusal:
        return "once there is room on the disk (or its fault is mended), "
    if "readonly" in refusal:
        return "once the archive may be written again (this user, its directory, the filesystem), "
    return "once that is mended, "


def new_archive_directory(db: str) -> None:
    """Create the default archive's directory, saying so; an explicit --db in a directory that does
    not exist is most likely mistyped, and is refused."""
    archive_path(db)  # a path that cannot be looked up (too long, a directory we may not enter), said as such
    directory = Path(db).parent
    if directory.exists():
        return
    source = click.get_current_context().get_parameter_source("db")
    if source != click.core.ParameterSource.DEFAULT:
        given = "GLOSSARY_DB" if source == click.core.ParameterSource.ENVIRONMENT else "--db"
        if unexpanded(directory):
            raise UserError(f"no directory {directory} for the archive {db}: ~ and $VARIABLES are not expanded in "
                            f"{given} (the shell expands them only where they are not quoted): give the path "
                            "they stand for")
        raise UserError(f"no directory {directory} for the archive {db}: check {given}, or create it first "
                        f"({mkdir_command(directory)})")
    try:
        directory.mkdir(parents=True)
    except OSError as exc:
        raise UserError(f"cannot create the directory {directory} for the archive: {exc.strerror or exc}") from None
    click.echo(f"Created {directory}/ for the archive {db}", err=True)


def _concurrency(given: str | None) -> int:
    """The requests in flight at once that ``--concurrency`` asks for; the default for a value the run's
    arguments refuse (they say so, as a refused run), so that no file limit is raised for it first."""
    try:
        return ARGUMENTS["concurrency"](given, "concurrency") if given is not None else defaults.CONCURRENT_REQUESTS
    except BadArgument:
        return defaults.CONCURRENT_REQUESTS


def _run_arguments(arguments: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """A run's arguments: its command's own (``arguments``), and the options every run takes (None: not given)."""
    flags = {"resume": options["resume"] or None, "ignore_robots": options["ignore_robots"] or None,
             "gate": options["gate"] or None}
    return {**arguments, **{name: options[name] for name in RUN_OPTIONS}, **flags}


def _run_crawl(db: str, arguments: dict[str, Any], options: dict[str, Any], parsed: RunArgs | None = None) -> None:
    """Plan the run ``arguments`` ask for (a resume among them; ``parsed``: read already), crawl, and print the
    summary."""
    from glossary_spider.crawl import CannotCrawlHere, check_environment, crawl_settings, run_spider
    from glossary_spider.lock import ArchiveLocked
    from glossary_spider.plan import REFUSALS, open_run, refused_reason
    from glossary_spider.workers import hold_stops

    try:
        check_environment(_concurrency(options["concurrency"]))
    except CannotCrawlHere as exc:
        raise UserError(str(exc)) from None
    hold_stops()  # until the crawl runs: the run opened now is then stopped as a run, not killed
    startup.started()
    try:
        plan = open_run(db, arguments, spelled=OPTION_NAMES, parsed=parsed)
    except REFUSALS as exc:
        if options["as_json"]:  # the refused run's line too, so that `>> refresh.log` has one for every run
            reason = refused_reason(exc)
            status = exit_status(reason)
            echo_summary(json.dumps({
                "id": None, "command": arguments["mode"], "finish_reason": reason, "outcome": outcome(status),
                "exit_status": int(status), "error": shown_path(exc), "archive": shown_path(os.path.abspath(db)),
                "changes": 0}))
        if isinstance(exc, ArchiveLocked):
            locked_out(exc)
        if isinstance(exc, ArchiveUnwritable) and isinstance(exc.__cause__, sqlite3.OperationalError):
            # A write refused as the run opened (a disk still full): with the remedy a refusal midway gives
            resume = f"run '{again(arguments['mode'], db, '--resume')}'" if arguments["resume"] else "run this again"
            raise write_refused(db, exc.__cause__, resume) from None
        raise
    command = plan.command
    if plan.earlier_extractions:
        click.echo(f"Note: {plan.earlier_extractions:,} archived pages were read by an earlier extractor: "
                   f"'{again('reparse', db)}' reads them anew; pages this {command} fetches are read anew, and "
                   "a change of their words recorded as the site's", err=True)
    if plan.restaged:
        click.echo(f"Note: {command} #{plan.run_id} had staged {plan.restaged:,} pages as an earlier extractor read "
                   "them: extracted anew from their captures", err=True)
    if stopped := plan.superseded:
        click.echo(f"Note: {command} #{stopped['id']} stopped before it was done "
                   f"({stopped['finish_reason'] or 'killed'}); this starts a new {command}: "
                   f"'{again(command, db, '--resume')}' would have continued it", err=True)
    if crawl := plan.unfinished_crawl:
        click.echo(f"Note: crawl #{crawl['id']} stopped before it was done ({crawl['finish_reason'] or 'killed'}); "
                   "this refresh asks about the pages archived and the sitemaps' only: "
                   f"'{again('crawl', db, '--resume')}' carries the crawl on", err=True)
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
        when = "" if stats.get("glossary/archive_writer_died") else once_mended(error)
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
        echo_summary(json.dumps({**{k: v for k, v in run.items() if k != "stats"},
                                 "archive": shown_path(os.path.abspath(db)), "args": json.loads(run["args"] or "{}"),
                                 "changes": changes(run), **extras,
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
@click.option("--urls-file", type=click.Path(), help="A file of start URLs, one per line (- for standard input).")
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
    arguments = _run_arguments({"mode": "crawl", "start_urls": start_urls or None, "urls_file": urls_file,
                                "sitemap_urls": sitemaps or None, "follow": False if no_follow else None,
                                "max_pages": max_pages}, options)
    parsed = None
    if not options["resume"]:
        try:
            parsed = RunArgs.parse(arguments, OPTION_NAMES)
        except BadArgument:
            pass  # the run is refused as it opens, and nothing is made for it
        else:
            new_archive_directory(db)
    _run_crawl(db, arguments, options, parsed)


@cli.command(epilog=EXIT_STATUSES)
@db_option
@click.option("--sitemap", "sitemaps", multiple=True, metavar="URL",
              help="Sitemaps to read for new and changed pages (default: those of earlier crawls).")
@click.option("--max-age", metavar="DAYS",
              help="Re-fetch in full the pages not fetched for this many days: a number, 0 to 1000000 (30, not 30d).")
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
    _run_crawl(db, _run_arguments({"mode": "refresh", "sitemap_urls": sitemaps or None, "max_age_days": max_age,
                                   "follow": False if no_follow else None}, options), options)


# Files a reparse holds open: Python's own and the archive's (with its -wal, -shm and locks); and each worker's
# pipes. Measured: 16 with 2 workers, 36 with 8.
REPARSE_FILES = 16
FILES_PER_WORKER = 4


@cli.command(epilog=REPARSE_EXIT_STATUSES)
@db_option
@click.option("--progress/--no-progress", default=None, help="Show progress (default: on a terminal).")
@click.option("--workers", type=click.IntRange(min=0, max=max(8, 4 * (os.cpu_count() or 1))), default=None,
              metavar="N", help="Processes extracting pages (default: one per core; at most four per core; 0 or 1: "
                                "this process alone, as crawl's --workers 0).")
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
    from glossary_spider.workers import default_workers, raise_open_files

    existing_archive(db)
    workers = default_workers() if workers is None else workers
    if (hard := raise_open_files(need := REPARSE_FILES + FILES_PER_WORKER * workers)) is not None:
        raise UserError(f"this process may open only {hard} files at once (ulimit -n), and a reparse with {workers} "
                        f"workers needs {need}: raise the limit, or lower --workers")
    show = sys.stderr.isatty() if progress is None else progress
    stops_interrupt()  # the run recorded as stopped
    # The workers first: forked before the archive is opened, they inherit neither its lock nor its connection.
    try:
        with PageExtractor(workers) as extractor, \
                writer(db, "reparse") as archive:
            run = reparse_archive(archive, extractor, progress=show)
    except sqlite3.DatabaseError as exc:  # a write refused partway: the run ended as archive_error
        raise write_refused(db, exc, f"run '{again('reparse', db)}' to carry on") from None
    except KeyboardInterrupt:  # a stop outside the run's own work: as its workers started, or the archive opened
        raise Interrupted(f"run '{again('reparse', db)}' to carry on; the pages done are not read again") from None
    echo_summary(summary(run, db))
    if not is_complete(run["finish_reason"]):
        click.echo(f"Stopped before the end: run '{again('reparse', db)}' to carry on; the pages done are not "
                   "read again", err=True)
    elif run["finish_reason"] == UNREADABLE_REASON:
        click.echo(f"Error: {explain(UNREADABLE_REASON)}", err=True)
    sys.exit(exit_status(run["finish_reason"]))
