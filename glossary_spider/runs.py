"""Every run an archive knows of, and the check a monitor calls (``glossary runs [--check]``).

The runs are ``crawl_runs``'s rows, the runs refused while the archive was locked
(noted beside it until the next writer records them), and, for a run with no end
recorded, whether it is still running (its process holds the archive's lock) or
was stopped without a word (``kill -9``, a crash, a power cut).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from glossary_spider.lock import continue_or_end, holder, is_stopped, refused_runs
from glossary_spider.outcome import (LOCKED_OUT, REFUSED_REASONS, ExitStatus, exit_status, explain, is_complete,
                                     outcome, was_refused)
from glossary_spider.params import MAX_AGE_DAYS
from glossary_spider.storage.readers import held_decisions, held_so_far, run_counts
from glossary_spider.storage.records import CLOCK_SLACK
from glossary_spider.terminal import safe_text, shell_word

MAX_AGE_HOURS = MAX_AGE_DAYS * 24  # of --check --max-age: as far back as a refresh's --max-age reaches

RUNNING = "running"
COLUMNS = ("id", "command", "started_at", "finished_at", "finish_reason", "outcome", "exit_status", "job_id",
           "error", "pid", "resumed_at", "args", "pages_new", "pages_changed", "pages_unchanged", "pages_not_modified",
           "pages_gone", "pages_still_gone", "pages_back", "pages_failed", "requests", "bytes", "earlier_job_ids")


def list_runs(conn: sqlite3.Connection, db: str | Path) -> list[dict[str, Any]]:
    """Every run, in the order they last started (a resumed run at its resumption), each with its
    ``outcome`` and ``exit_status`` (a running run's are ``running`` and None; ``process_stopped``: its
    process is stopped, by Ctrl-Z or SIGSTOP, and will not end until continued); runs noted beside the
    archive have no ``id`` and ``noted`` true."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(crawl_runs)")}
    columns = ", ".join(c if c in present else f"NULL AS {c}" for c in COLUMNS)
    runs = [dict(zip(COLUMNS, row)) for row in conn.execute(f"SELECT {columns} FROM crawl_runs ORDER BY id")]
    runs += [{**dict.fromkeys(COLUMNS), **run, "noted": True} for run in refused_runs(db)]
    held = holder(db)
    decided, waiting = held_decisions(conn), held_so_far(conn)
    for run in runs:
        run["decision"] = decided.get(run["id"])
        run["process_stopped"] = False
        # Stopped (a budget, Ctrl-C, a kill) with its pages held: its resume asks about them again.
        run["held_so_far"] = run["id"] in waiting and not is_complete(run["finish_reason"])
        for key in ("args", "earlier_job_ids"):
            if isinstance(run[key], str):
                try:  # NaN or Infinity, as an earlier release recorded a refused run's "--delay nan": text
                    run[key] = json.loads(run[key], parse_constant=str)
                except ValueError:
                    pass
        # Counted from its rows, as it left them; a run refused before it started has none, and counts 0.
        if run["id"] is not None and (run["finished_at"] is None or was_refused(run["finish_reason"])):
            run.update(run_counts(conn, run["id"]))
        if run["finish_reason"] is not None:
            status = exit_status(run["finish_reason"])  # older archives recorded only the reason
            run["outcome"], run["exit_status"] = outcome(status), int(status)
        elif held and held.get("pid") == run["pid"] and run is _last_of(runs, run["command"]):
            run["outcome"], run["exit_status"] = RUNNING, None
            run["process_stopped"] = is_stopped(run["pid"])
            if run["process_stopped"]:
                run["error"] = f"its process (pid {run['pid']}) is stopped: {continue_or_end(run['pid'])}"
        else:
            run["outcome"], run["exit_status"] = outcome(ExitStatus.FAILED), int(ExitStatus.FAILED)
            run["error"] = "stopped before it finished (killed, or the machine went down): " + _carry_on(run, runs)
    # In the order they started (or resumed); of two in the same second, the one that ended later is later.
    # As moments: times with different offsets do not sort as text.
    return sorted(runs, key=lambda r: (_moment(r["resumed_at"] or r["started_at"]) or EARLIEST,
                                       _moment(r["finished_at"]) or LATEST, r["id"] or 0))


def _last_of(runs: list[dict[str, Any]], command: str) -> dict[str, Any] | None:
    return next((r for r in reversed(runs) if r["command"] == command and not r.get("noted")), None)


@dataclass
class Check:
    """What ``glossary runs --check`` says: an exit status and one line."""

    status: int
    message: str
    run: dict[str, Any] | None = None


def check(runs: list[dict[str, Any]], max_age_hours: float | None = None, now: datetime | None = None,
          db: str | None = None) -> Check:
    """Judge the last run that ended (a reparse that went well: the last crawl or refresh before it): its own exit
    status, or FAILED when it is older than ``max_age_hours``. ``db``: the archive's path, which the line of a
    run that needs a look starts with (a monitor checks many archives in a loop)."""
    verdict = _check(runs, max_age_hours, now or datetime.now(timezone.utc), db)
    if verdict.status != ExitStatus.DONE and db is not None:
        verdict.message = f"{db}: {verdict.message}"
    return verdict


def _check(runs: list[dict[str, Any]], max_age_hours: float | None, now: datetime, db: str | None) -> Check:
    ended = [r for r in runs if r["outcome"] != RUNNING]
    running = [r for r in runs if r["outcome"] == RUNNING]
    also = f"; {_going(running[-1])}" if running else ""
    if not ended:
        if running:
            return Check(ExitStatus.DONE, f"ok: {_going(running[-1])}")
        return Check(ExitStatus.FAILED, "no run recorded yet")
    # The run that ended last (a run refused while another ran ends before it): by its end, or for a run
    # killed, its start or resumption. Within the same second (the times' grain): a run refused for the lock
    # first (it was refused while the run holding the lock went on); then the runs and refusals the archive
    # recorded, in the order it recorded them; last, a refusal noted beside the archive, which could not be
    # written (it took no lock, so no run was going: it came after).
    # A run dated after now was timed by a clock that ran ahead: it is passed over, or it would stand as
    # the last run until that date, whatever failed since. One dated before a run it followed was timed by a
    # clock that was behind: it ended after that run, or it would never stand as the last run.
    def ended_at(run: dict[str, Any]) -> str:
        return run["finished_at"] or run["resumed_at"] or run["started_at"] or ""

    def ended_by(run: dict[str, Any]) -> datetime:
        return behind[run["id"]][1] if run["id"] in behind else _moment(ended_at(run)) or EARLIEST

    behind: dict[int, tuple[dict[str, Any], datetime]] = {}
    ahead = [r for r in ended if ended_by(r) > now + CLOCK_SLACK]
    if ahead:
        also += (f"; {_name(ahead[-1])} is dated {ended_at(ahead[-1])}, in the future: a clock was wrong "
                 "when it ran")
        if not (ended := [r for r in ended if r not in ahead]):
            return Check(ExitStatus.FAILED, f"no run that ended before now{also}", ahead[-1])
    behind = _behind([r for r in runs if r not in ahead])
    def latest(among: list[dict[str, Any]]) -> dict[str, Any]:
        def rank(run: dict[str, Any]) -> int:
            return 0 if run["finish_reason"] == LOCKED_OUT else 1 if run["id"] is not None else 2

        return max(among, key=lambda r: (ended_by(r), rank(r), r["id"] or 0))

    last = latest(ended)
    if last["finish_reason"] == LOCKED_OUT:
        # Refused for the lock of a run killed since (which holds it no more): the killed run is what needs a look.
        killed = [r for r in ended
                  if r["finish_reason"] is None and r["id"] is not None and ended_by(r) <= ended_by(last)]
        if killed:
            also = f"; {_name(last)} found the archive locked at {ended_at(last)}{also}"
            last = latest(killed)
    fetching = [r for r in ended if r["command"] != "reparse"]
    if last["command"] == "reparse" and last["exit_status"] == ExitStatus.DONE and fetching:
        # A reparse fetches nothing: it neither mends the crawl or refresh that failed before it, nor makes the
        # archive any fresher. That run is judged.
        also = f"; {_name(last)} done since{also}"
        last = latest(fetching)
    when = last["finished_at"] or last["started_at"]
    if last["id"] in behind:  # its age is unknown, but for the runs it followed: it is no older than they are
        also = (f"; {_name(last)} is dated {ended_at(last)}, before {_name(behind[last['id']][0])} that it followed: "
                f"a clock was wrong when it ran{also}")
    age = max((now - (ended_by(last) if last["id"] in behind else _moment(when) or EARLIEST)).total_seconds() / 3600,
              0.0)
    too_old = max_age_hours is not None and age > max_age_hours
    since = f"{_ago(age)}, more than --max-age {max_age_hours:g}: no run has finished since{also}" if too_old else ""
    if last["exit_status"] == ExitStatus.HELD and last.get("decision"):  # someone has seen to it
        held = f"{_name(last)} held at {when}, then {last['decision']}"
        if too_old:
            return Check(ExitStatus.FAILED, f"{held}, {since}", last)
        return Check(ExitStatus.DONE, f"ok: {held}{also}", last)
    if last["exit_status"] != ExitStatus.DONE:
        return Check(last["exit_status"], f"{not_done(last, db)}{also}", last)
    if too_old:
        return Check(ExitStatus.FAILED, f"{_name(last)} done {since}", last)
    return Check(ExitStatus.DONE, f"ok: {_name(last)} done {_ago(age)} ({_pages(last)}){also}", last)


EARLIEST, LATEST = datetime.min.replace(tzinfo=timezone.utc), datetime.max.replace(tzinfo=timezone.utc)


def _moment(text: str | None) -> datetime | None:
    """A recorded time as a moment; one without an offset (a refused run an earlier release let in from the
    note beside the archive) taken as UTC, as runs record their times. None for no time or none readable."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=timezone.utc)


def _behind(runs: list[dict[str, Any]]) -> dict[int, tuple[dict[str, Any], datetime]]:
    """The runs timed by a clock that was behind, by id, each with the run it followed and the moment it ended
    by at the earliest (when the runs before it had). A run's row is inserted as it starts, under the archive's
    lock, so a run that started before a run with a lower id did ran on a clock that was behind (a board with
    no battery clock boots at 1970, and cron may start a refresh before NTP puts it right). Refused runs are
    noted later (their ids say nothing of order), and a resumed run's last part may come after runs of higher
    ids: its start alone is known to come before them."""
    behind = {}
    followed, latest_start, done_by = None, EARLIEST, EARLIEST
    for run in sorted((r for r in runs if r["id"] is not None and r["finish_reason"] not in REFUSED_REASONS),
                      key=lambda r: r["id"]):
        started = _moment(run["started_at"]) or EARLIEST
        ended = _moment(run["finished_at"] or run["resumed_at"] or run["started_at"]) or EARLIEST
        if followed is not None and not run["resumed_at"] and started < latest_start:
            ended = max(ended, done_by)
            behind[run["id"]] = followed, ended
        elif started >= latest_start:
            followed, latest_start = run, started
        done_by = max(done_by, started if run["resumed_at"] else ended)
    return behind


def _ago(hours: float) -> str:
    """How long ago: in seconds or minutes under an hour, where hours to a tenth would show 0.0."""
    seconds = round(hours * 3600)
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'} ago"
    if seconds < 3600:
        minutes = seconds // 60
        return f"{minutes} minute{'' if minutes == 1 else 's'} ago"
    return f"{hours:.1f} hours ago"


def not_done(run: dict[str, Any], db: str | None = None) -> str:
    """A run that did not end well, in one line: its name, outcome and end, and why (``crawl #2 bad_input at
    2026-05-03T02:00:00+00:00: --delay must be a finite number, not 'nan'``); ``db``, the archive's path, for
    the command that looks at a held run."""
    why = run["error"] or explain(run["finish_reason"]).replace("--resume continues it", _carry_on(run))
    if run.get("held_so_far"):
        why += "; the quality gate holds what it fetched so far, which its resume asks about again"
    if db is not None:
        why = why.replace("see 'glossary held'", f"see 'glossary held --db {shell_word(db)}'")
    return f"{_name(run)} {run['outcome']} at {run['finished_at'] or run['started_at']}: {why}"


def _carry_on(run: dict[str, Any], runs: list[dict[str, Any]] | None = None) -> str:
    """How a stopped run is carried on: a crawl or refresh with --resume, a reparse by running it again;
    or, given the ``runs``, the later run of its command that took its place (it is no longer carried on)."""
    later = [r for r in runs or [] if r["command"] == run["command"] and (r["id"] or 0) > run["id"]
             and r["finish_reason"] not in REFUSED_REASONS]
    if later:
        return f"{_name(later[0])} took its place"
    if run["command"] == "reparse":
        return "'glossary reparse' again carries it on"
    if run.get("job_id"):  # a Scrapyd job's: carried on by another job
        return f"a job with resume=1{' mode=refresh' if run['command'] == 'refresh' else ''} continues it"
    return "--resume continues it"


def _going(run: dict[str, Any]) -> str:
    """A running run, in words: and what to do where its process is stopped."""
    going = f"{_name(run)} running since {run['started_at']}"
    return f"{going}, but {run['error']}" if run.get("process_stopped") else going


def _name(run: dict[str, Any]) -> str:
    job = f" (job {run['job_id']})" if run.get("job_id") else ""
    return f"{run['command']} #{run['id']}{job}" if run.get("id") else f"{run['command']}{job}"


def _pages(run: dict[str, Any]) -> str:
    counts = [(run.get(f"pages_{k}") or 0, k.replace("_", " ")) for k in ("new", "changed", "gone", "back", "failed")]
    return ", ".join(f"{n} {k}" for n, k in counts)


def _ended(run: dict[str, Any]) -> str:
    """When a run ended: its time of day, or all of it when that was another day (UTC) than it started, or a
    run ended at 00:10:00 would read as ended before it started."""
    times = (_moment(run["started_at"]), _moment(run["finished_at"]))
    days = {moment.astimezone(timezone.utc).date() for moment in times if moment is not None}
    return run["finished_at"] if len(days) > 1 else (run["finished_at"] or "")[11:19]


def table(runs: list[dict[str, Any]]) -> str:
    """The runs as a text table, newest last."""
    header = ("id", "command", "started", "ended", "outcome", "exit", "new", "changed", "gone", "back", "failed",
              "requests", "job")
    rows = [header]
    for r in runs:
        rows.append((
            str(r["id"] or "-"), r["command"], r["started_at"] or "", _ended(r),
            r["outcome"] + (f" ({r['decision']})" if r.get("decision") else "")
            + (" (held so far)" if r.get("held_so_far") else "") + (" (stopped)" if r.get("process_stopped") else ""),
            "" if r["exit_status"] is None else str(r["exit_status"]),
            *(str(r.get(f"pages_{k}") or 0) for k in ("new", "changed", "gone", "back", "failed")),
            str(r["requests"] or 0), r["job_id"] or "",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    for r in runs:
        if r["error"] and r["outcome"] != "done":
            lines.append(f"  {_name(r)}: {safe_text(r['error'], one_line=True)}")  # a path's newline: one line
    return "\n".join(lines)
