"""The commands that look after runs (``runs``, ``held``), and the summary a run prints as it ends."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
from datetime import datetime
from typing import Any

import click

from glossary_spider.cli.common import (HELD_EXIT_STATUSES, RUNS_EXIT_STATUSES, UserError, again, as_user_error, cli,
                                        db_option, open_reader, stops_interrupt, user_errors, writer)
from glossary_spider.cli.output import Interrupted, output_to, stops_take_back
from glossary_spider.outcome import INTERRUPTED_REASON, changes, held_back, is_complete, stopped_by
from glossary_spider.params import BadArgument
from glossary_spider.storage import ArchiveError, existing_archive, read_gate_report
from glossary_spider.terminal import safe_json, safe_text, shown_path


@cli.command(epilog=RUNS_EXIT_STATUSES)
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the runs (or, with --check, the verdict) as JSON.")
@click.option("--check", is_flag=True,
              help="Exit non-zero, with one line saying why, unless the last run that ended was done.")
@click.option("--max-age", metavar="HOURS",
              help="With --check: also fail when the last run ended longer ago than this many hours: a number, "
                   "at most 24000000 (26, not 26h).")
@stops_take_back("list of runs")
@user_errors
def runs(db: str, as_json: bool, check: bool, max_age: str | None) -> None:
    """Every crawl, refresh and reparse of the archive: outcome, exit status, pages, Scrapyd job id.

    Runs refused before they started are listed too: a bad argument (exit status
    2), the archive locked by another run (3) or refusing its first write (a full
    disk: 2), the last two noted beside the archive until the next run records
    them. With --check, the one line and the exit status
    are for cron mail, systemd OnFailure= or a monitoring system: the last run's
    own exit status when it was not done, 1 when it is older than --max-age (or
    there is none, but for the first run while it is going). A run still going
    does not count; the line mentions it, and where its process is stopped
    (Ctrl-Z), how to continue or end it. A reparse that went well fetches
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
    if not check:  # a check's verdict is its exit status too
        output_to(None, option=False)
    hours = None if max_age is None else _hours(max_age)
    try:
        listed = r.list_runs(open_reader(db), db)
    except (BadArgument, ArchiveError, sqlite3.DatabaseError, json.JSONDecodeError) as exc:
        error = as_user_error(exc, db)  # no archive there, or none that can be read: a monitor reading JSON is told
        if check and as_json:
            click.echo(safe_json(json.dumps({"exit_status": error.exit_code,
                                             "message": shown_path(error.format_message()), "run": None,
                                             "archive": shown_path(os.path.abspath(db))})))
        raise error from None
    if not check:
        click.echo(safe_json(json.dumps(listed, indent=2)) if as_json else safe_text(r.table(listed)))
        return
    verdict = r.check(listed, hours, db=db)
    if as_json:
        click.echo(safe_json(json.dumps({"exit_status": verdict.status, "message": shown_path(verdict.message),
                                         "run": verdict.run, "archive": shown_path(os.path.abspath(db))})))
    else:
        click.echo(safe_text(verdict.message, one_line=True), err=verdict.status != 0)
    sys.exit(verdict.status)


def _hours(given: str) -> float:
    """``--max-age``'s hours: a number alone, as a refresh's --max-age is one of days."""
    from glossary_spider.runs import MAX_AGE_HOURS

    try:
        hours = float(given) if given.isascii() and "_" not in given else float("?")  # as params reads a number
    except ValueError:
        raise UserError(f"--max-age is in hours: give a number, e.g. 26, not {given!r}") from None
    if math.isnan(hours):
        raise UserError(f"--max-age is a finite number of hours, not {given}")
    if hours < 0:
        raise UserError(f"--max-age is in hours: give 0 or more, e.g. 26, not {given!r}")
    if hours > MAX_AGE_HOURS:  # 1e400 as much as inf: Python reads both as inf
        raise UserError(f"--max-age is out of range: give at most {MAX_AGE_HOURS:,} hours")
    return hours


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
    if left := stats.get("glossary/left_staged"):
        lines.append(f"  {'staged':<13}{left:>8}   (fetched, not yet archived: the stop left them to --resume)")
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
@click.option("--progress/--no-progress", default=None,
              help="With --accept: show how many pages are done (default: on a terminal).")
@user_errors
def held(db: str, run_id: int | None, accept: int | None, discard: int | None, as_json: bool,
         progress: bool | None) -> None:
    """Runs the quality gate held back, with what tripped it; accept or discard one.

    A held run fetched everything but wrote no version and changed no page (exit
    status 5). Look at what tripped the gate; if the site really changed (a
    redesign that the extraction handles, pages really deleted or moved),
    --accept writes the run's versions from its kept captures and marks its
    gone pages gone; if the site misbehaved (a maintenance page, a broken theme,
    a lost deploy answering 404), --discard forgets them. Either way the raw
    captures stay. The decision is one transaction: stopped (Ctrl-C, SIGTERM)
    before it is made, the run is held still, and the command says so.

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
        output_to(None, option=False)
        _show_held(open_reader(db), db, run_id, as_json)
        return
    existing_archive(db)
    target = accept if accept is not None else discard
    stops_interrupt()
    try:
        _decide(db, target, accept is not None, progress)
    except KeyboardInterrupt:  # the decision is one transaction: made, or not at all
        decision = (read_gate_report(open_reader(db), target) or {}).get("decision")
        if decision is None:
            raise Interrupted(f"run {target} is held still: nothing of it was archived or forgotten") from None
        click.echo(f"Run #{target} {decision} before the stop came (see 'glossary runs').")


def _decide(db: str, target: int, accept: bool, progress: bool | None) -> None:
    """Accept (``accept``) or discard the held run ``target``."""
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
        if not accept:
            count = archive.discard_staged(target)
            click.echo(f"Run #{target} discarded: {count} held pages forgotten; its raw captures stay.")
            return
        from glossary_spider.query import superseded_by
        from glossary_spider.reparse import accept_held

        if later := superseded_by(archive.db.conn, target):
            raise UserError(f"run #{later} has archived pages since run #{target} was held: "
                            f"its versions would be older than the archive's; discard it")

        show = sys.stderr.isatty() if progress is None else progress
        counts = accept_held(archive, target, show)  # the run counted again, as it would have been had it passed
        kinds = ("new", "changed", "unchanged", "gone", "back")
        archived = ", ".join(f"{counts[f'pages_{kind}']} {kind}" for kind in kinds if counts[f"pages_{kind}"]) or "no"
        click.echo(f"Run #{target} accepted: {archived} pages archived from its kept captures.")


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
        click.echo(safe_json(json.dumps([{**r, "run": {**{k: v for k, v in r["run"].items() if k != "stats"},
                                                        "args": json.loads(r["run"]["args"] or "{}")}}
                                         for r in reports], indent=2, ensure_ascii=False)))
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
