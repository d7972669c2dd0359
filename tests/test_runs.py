"""The record of each run: `runs`, `runs --check` and `held`, the times they weigh and the refusals noted
beside the archive."""

import json
import os
import re
import shutil
import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone

import launcher
import pytest
from conftest import GLOSSARY, ROOT, assert_one_line_error, crawl, just_now, rows, run_glossary

from glossary_spider.outcome import ExitStatus


@pytest.mark.parametrize("run_id, words", [("1", "run 1 was not held by the quality gate"),
                                           ("99", "there is no run 99")])
def test_held_json_with_a_run_that_was_not_held_is_refused_too(crawled, run_id, words):
    """It printed [] and exit 0; a run that does not exist was said to be one not held."""
    result = run_glossary("held", "--db", str(crawled), "--json", "--run", run_id)
    assert result.returncode == 2 and words in result.stderr
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("options, message", [
    (("--check", "--max-age", "nan"), "--max-age is a finite number of hours, not nan"),
    (("--check", "--max-age", "inf"), "--max-age is out of range: give at most 24,000,000 hours"),
    (("--max-age", "5"), "--max-age goes with --check"),
])
def test_runs_max_age_is_a_finite_number_that_goes_with_check(crawled, options, message):
    """--max-age nan or inf passed every check; without --check it was silently ignored."""
    result = run_glossary("runs", "--db", str(crawled), *options)
    assert_one_line_error(result, message)


@pytest.mark.parametrize(("command", "says"), [
    (("refresh", "--max-age", "1e400"), "--max-age must be 0 to 1000000, not '1e400'"),
    (("runs", "--check", "--max-age", "1e400"), "--max-age is out of range: give at most 24,000,000 hours"),
])
def test_a_max_age_too_large_for_a_float_is_refused_as_out_of_range(crawled, tmp_path, command, says):
    """1e400 reads as inf: --max-age 1e400 was refused as 'not inf' (runs) or as not a finite number (refresh),
    neither of which the user wrote, rather than as past the largest it may be."""
    db = shutil.copy(crawled, tmp_path / "age.db")
    assert_one_line_error(run_glossary(command[0], "--db", str(db), *command[1:]), says)


@pytest.mark.parametrize(("command", "says"), [
    (("refresh", "--max-age", "30d"), "Error: --max-age is in days: give a number, e.g. 30, not '30d'"),
    (("runs", "--check", "--max-age", "26h"), "Error: --max-age is in hours: give a number, e.g. 26, not '26h'"),
    (("runs", "--check", "--max-age", "-3"), "Error: --max-age is in hours: give 0 or more, e.g. 26, not '-3'"),
])
def test_a_max_age_given_with_a_unit_is_told_its_unit(crawled, tmp_path, command, says):
    """--max-age 26h was "'26h' is not a valid float range" (runs --check), and 30d "must be a number, not '30d'"
    (refresh), while --max-duration takes 2h: neither said that one is in hours and the other in days."""
    db = shutil.copy(crawled, tmp_path / "age.db")
    result = run_glossary(command[0], "--db", str(db), *command[1:])
    assert_one_line_error(result)
    assert result.stderr == says + "\n"


def test_one_page_and_a_run_minutes_old_read_as_words(replica, tmp_path):
    """A run of one new page was summed up as '1 pages new, changed, gone or back', and runs --check said a
    run that ended minutes ago was 'done 0.0 hours ago'."""
    from glossary_spider.replica import ReplicaSite

    db = tmp_path / "one.db"
    result = crawl(db, "--start-url", replica.url + ReplicaSite(replica.pages).glossary_paths()[0], "--no-follow")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].endswith(": 1 page new, changed, gone or back")
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "1")
    assert check.returncode == 0 and re.fullmatch(r"ok: crawl #1 done \d+ seconds? ago \(.*\)\n", check.stdout)
    ended = (datetime.now(timezone.utc) - timedelta(minutes=5, seconds=10)).isoformat(timespec="seconds")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET finished_at = ?", [ended])
    conn.close()
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "0.0001")
    assert check.returncode == 1
    assert check.stderr.startswith(f"{db}: crawl #1 done 5 minutes ago, more than --max-age 0.0001: "), check.stderr


def test_runs_check_passes_over_a_run_dated_in_the_future(crawled, tmp_path):
    """A machine's clock ran ahead (a dead battery, NTP not synced at boot) during a crawl, then was put
    right: --check took that run, dated 2099, for the last one, said "ok: done -631927.4 hours ago" and
    exited 0 whatever failed after it, until 2099."""
    db = tmp_path / "ahead.db"
    shutil.copy(crawled, db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET started_at = '2099-01-01T00:00:00+00:00', "
                     "finished_at = '2099-01-01T00:00:05+00:00'")
    conn.close()
    alone = run_glossary("runs", "--db", str(db), "--check", "--max-age", "26")
    assert alone.returncode == 1 and "no run that ended before now" in alone.stderr
    assert "is dated 2099-01-01T00:00:05+00:00, in the future: a clock was wrong" in alone.stderr
    refused = run_glossary("crawl", "--db", str(db), "--start-url", "http://127.0.0.1:9/", "--delay", "-1")
    assert refused.returncode == 2, refused.stderr
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "26")
    assert check.returncode == 2 and check.stderr.startswith(f"{db}: crawl #2 bad_input"), check.stderr
    assert "in the future" in check.stderr


def test_runs_weighs_times_with_another_offset_as_moments(crawled, tmp_path):
    """Times were compared as text: a crawl an hour ago, its times written at +14:00 (its text a day ahead of
    UTC's), was "in the future: a clock was wrong", and listed after a run refused since."""
    db = shutil.copy(crawled, tmp_path / "offset.db")
    kiribati = timezone(timedelta(hours=14))
    started, ended = (datetime.now(kiribati) - timedelta(hours=h) for h in (2, 1))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET started_at = ?, finished_at = ?",
                     [started.isoformat(timespec="seconds"), ended.isoformat(timespec="seconds")])
    conn.close()
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "26")
    assert check.returncode == 0 and re.fullmatch(r"ok: crawl #1 done 1\.0 hours ago \(.*\)\n", check.stdout)
    refused = run_glossary("crawl", "--db", str(db), "--start-url", "http://127.0.0.1:9/", "--delay", "-1")
    assert refused.returncode == 2, refused.stderr
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "26")
    assert check.returncode == 2 and check.stderr.startswith(f"{db}: crawl #2 bad_input"), check.stderr
    assert "future" not in check.stderr
    listed = json.loads(run_glossary("runs", "--db", str(db), "--json").stdout)
    assert [r["id"] for r in listed] == [1, 2]


def test_runs_check_judges_a_run_dated_before_the_run_it_followed_as_the_later_one(crawled, tmp_path):
    """A board without a battery clock boots at 1970, and cron's refresh ran before NTP, with the site down:
    refresh #2, dated 1970, was taken for the earlier run, and --check said "ok: crawl #1 done", exit 0."""
    db = shutil.copy(crawled, tmp_path / "behind.db")
    refreshed = run_glossary("refresh", "--db", str(db), "--delay", "0", "--concurrency", "8", "--no-progress")
    assert refreshed.returncode == 0, refreshed.stderr
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET started_at = '1970-01-01T00:00:00+00:00', finished_at = "
                     "'1970-01-01T00:10:00+00:00', finish_reason = 'unreachable', outcome = 'unreachable', "
                     "exit_status = 6 WHERE id = 2")
    conn.close()
    wrong = ("; refresh #2 is dated 1970-01-01T00:10:00+00:00, before crawl #1 that it followed: a clock was wrong "
             "when it ran")
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "26")
    assert check.returncode == 6, check.stdout
    assert check.stderr.startswith(f"{db}: refresh #2 unreachable at 1970-01-01T00:10:00+00:00: ")
    assert check.stderr.endswith(f"{wrong}\n"), check.stderr
    with sqlite3.connect(db) as conn:  # done: as fresh as the crawl it followed, not 57 years old
        conn.execute("UPDATE crawl_runs SET finish_reason = 'finished', outcome = 'done', exit_status = 0 WHERE id = 2")
    conn.close()
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "26")
    assert check.returncode == 0 and check.stdout.startswith("ok: refresh #2 done "), check.stderr
    assert check.stdout.endswith(f"{wrong}\n")


def test_runs_shows_the_date_a_run_ended_on_another_day_than_it_started(crawled, tmp_path):
    """The ended column showed the time of day alone: a crawl from 23:50 to 00:10 the next day read as
    ended before it started."""
    db = shutil.copy(crawled, tmp_path / "midnight.db")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET started_at = '2026-11-30T23:50:00+00:00', "
                     "finished_at = '2026-12-01T00:10:00+00:00'")
    conn.close()
    listed = run_glossary("runs", "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split()[:4] == ["1", "crawl", "2026-11-30T23:50:00+00:00",
                                                         "2026-12-01T00:10:00+00:00"]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET finished_at = '2026-11-30T23:55:00+00:00'")
    conn.close()
    assert run_glossary("runs", "--db", str(db)).stdout.splitlines()[1].split()[:4] == [
        "1", "crawl", "2026-11-30T23:50:00+00:00", "23:55:00"]


@pytest.mark.parametrize(("args", "said"), [
    (("refresh", "--max-pages", "5"), "No such option '--max-pages'"),
    (("crawl", "--delay"), "Option '--delay' requires an argument"),
])
def test_a_run_click_refuses_is_recorded_for_runs_check(crawled, tmp_path, args, said):
    """A scheduler's line with an option its command does not take (refresh --max-pages), or an option without
    its value, was refused in one line, exit 2, and recorded nowhere: 'runs --check' went on saying the last
    refresh was fine until --max-age ran out."""
    db = tmp_path / "typo.db"
    shutil.copy(crawled, db)
    result = run_glossary(args[0], "--db", str(db), *args[1:])
    assert result.returncode == 2 and said in result.stderr and result.stderr.count("\n") == 1, result.stderr
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 2, check.stdout + check.stderr
    assert f"{args[0]} #2 bad_input at " in check.stderr and said in check.stderr, check.stderr
    (run,) = rows(db, "SELECT command, finish_reason, args FROM crawl_runs WHERE id = 2")
    assert (run["command"], run["finish_reason"]) == (args[0], "bad_argument")
    assert json.loads(run["args"]) == {"command_line": ["--db", str(db), *args[1:]]}
    missing = tmp_path / "none.db"
    assert run_glossary(args[0], "--db", str(missing), *args[1:]).returncode == 2
    assert not missing.exists()  # no archive is made only to record a refusal


def test_runs_check_names_the_archive_that_needs_a_look_and_the_command_that_looks(crawled, tmp_path):
    """Cron mail from a loop over many archives ('for db in …; do glossary runs --db "$db" --check') said
    "refresh #2 held at …: see 'glossary held'", naming neither the archive nor, in the command, its --db; and
    a Scrapyd job's stopped run was to be carried on by '--resume', which a job has not."""
    db = tmp_path / "site one.db"
    shutil.copy(crawled, db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET finish_reason = 'held', outcome = 'held', exit_status = 5")
    conn.close()
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == ExitStatus.HELD and check.stderr.count("\n") == 1, check.stderr
    assert check.stderr.startswith(f"{db}: crawl #1 held at "), check.stderr
    assert check.stderr.rstrip().endswith(f"see 'glossary held --db '{db}''"), check.stderr
    as_json = json.loads(run_glossary("runs", "--db", str(db), "--check", "--json").stdout)
    assert as_json["archive"] == str(db.resolve()) and as_json["exit_status"] == ExitStatus.HELD
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET finish_reason = 'closespider_pagecount', outcome = 'stopped_early', "
                     "exit_status = 4, job_id = 'abc123', command = 'refresh'")
    conn.close()
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == ExitStatus.STOPPED_EARLY, check.stderr
    assert check.stderr.rstrip().endswith("a job with resume=1 mode=refresh continues it"), check.stderr
    assert run_glossary("runs", "--db", str(db), "--check").stdout == ""


def test_a_running_reparse_is_running_not_failed(crawled, tmp_path):
    """A reparse did not record its process: `runs --check` took the running reparse for a killed one."""
    import signal
    import time

    db = shutil.copy(crawled, tmp_path / "reparsing.db")
    process = launcher.popen([*GLOSSARY, "reparse", "--db", str(db), "--workers", "1", "--no-progress"],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not rows(db, "SELECT id FROM crawl_runs WHERE command = 'reparse'") and time.monotonic() < deadline:
            time.sleep(0.002)
        process.send_signal(signal.SIGSTOP)
        (run,) = rows(db, "SELECT finish_reason, pid FROM crawl_runs WHERE command = 'reparse'")
        assert run == {"finish_reason": None, "pid": process.pid}
        check = run_glossary("runs", "--db", str(db), "--check")
        assert check.returncode == 0 and "reparse #2 running since" in check.stdout + check.stderr, check
    finally:
        process.send_signal(signal.SIGCONT)
        assert process.wait(timeout=60) == 0


def test_a_stopped_reparse_says_how_to_carry_on(crawled, tmp_path):
    """Crawl and refresh print their --resume line when stopped; an interrupted reparse said nothing."""
    import signal
    import time

    db = shutil.copy(crawled, tmp_path / "reparsing.db")
    process = launcher.popen([*GLOSSARY, "reparse", "--db", str(db), "--workers", "1", "--no-progress"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not rows(db, "SELECT id FROM crawl_runs WHERE command = 'reparse'") and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signal.SIGSTOP)
    process.send_signal(signal.SIGTERM)  # taken when it goes on
    process.send_signal(signal.SIGCONT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stdout + stderr
    assert stderr.splitlines()[-1] == (f"Stopped before the end: run 'glossary reparse --db {db}' to carry on; "
                                       "the pages done are not read again")


def test_runs_reads_an_archive_from_before_the_outcome_columns_and_a_writer_adds_them(crawled, tmp_path):
    db = tmp_path / "old.db"
    shutil.copy(crawled, db)
    with sqlite3.connect(db) as conn:
        for column in ("outcome", "exit_status", "job_id", "error", "resumed_at"):
            conn.execute(f"ALTER TABLE crawl_runs DROP COLUMN {column}")
    conn.close()
    listed = run_glossary("runs", "--db", str(db), "--json")
    assert listed.returncode == 0, listed.stderr
    (run,) = json.loads(listed.stdout)
    assert (run["command"], run["outcome"], run["exit_status"], run["job_id"]) == ("crawl", "done", 0, None)
    assert run_glossary("reparse", "--db", str(db), "--no-progress").returncode == 0
    assert [(r["command"], r["outcome"], r["exit_status"]) for r in rows(db, "SELECT * FROM crawl_runs")] == [
        ("crawl", None, None), ("reparse", "done", 0)]
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "0")
    assert check.returncode == 1 and "more than --max-age 0" in check.stderr and check.stdout == ""


def test_runs_counts_a_killed_run_as_the_report_does_and_names_the_run_that_took_its_place(make_replica, tmp_path):
    """runs showed a killed run with no pages where the report counted those it fetched, and went on
    offering --resume for it after a new crawl had taken its place ('nothing to resume')."""
    import time

    server = make_replica(200)
    db = tmp_path / "killed.db"
    process = launcher.popen([*GLOSSARY, "crawl", "--db", str(db), "--start-url", f"{server.url}/", "--delay", "0.05",
                                "--no-progress"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not rows_or_none(db, "SELECT 1 FROM captures WHERE outcome = 'new'"):
        time.sleep(0.05)
    process.kill()
    process.wait()
    (killed,) = json.loads(run_glossary("runs", "--db", str(db), "--json").stdout)
    (reported,) = json.loads(run_glossary("report", "--db", str(db), "--format", "json").stdout)["runs"]
    assert killed["pages_new"] == reported["pages_new"] > 0
    assert killed["error"].endswith("--resume continues it")
    assert crawl(db, "--start-url", f"{server.url}/", "--max-pages", "2").returncode == 4
    killed = json.loads(run_glossary("runs", "--db", str(db), "--json").stdout)[0]
    assert killed["error"].endswith("crawl #2 took its place"), killed["error"]
    assert "crawl #1: stopped before it finished (killed, or the machine went down): crawl #2 took its place" in \
        run_glossary("runs", "--db", str(db)).stdout


def test_runs_check_judges_the_run_that_ended_last_and_shows_no_control_character(make_replica, crawled, tmp_path):
    """A run refused as locked while a crawl ran started after the crawl but ended before it: --check
    judged it (exit 3) once the crawl was done, until another run started. And a job id (Scrapyd's, any
    text) reached the terminal with its escape sequences."""
    import time

    server = make_replica(40)
    db = tmp_path / "check.db"
    shutil.copy(crawled, db)
    running = launcher.popen([*GLOSSARY, "crawl", "--db", str(db), "--start-url", f"{server.url}/", "--delay", "1",
                                "--max-pages", "6", "--no-progress"], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(server.requests()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    locked = run_glossary("crawl", "--db", str(db), "--start-url", f"{server.url}/", "--no-progress")
    assert locked.returncode == 3, locked.stderr
    assert running.wait(timeout=60) == 4
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 4 and "stopped" in check.stderr, check.stderr
    # Refused as Scrapyd would run it: a job id, here with escape sequences and a carriage return in it.
    subprocess.run([GLOSSARY[0], "-m", "scrapy", "crawl", "glossary", "-a", "max_pages=ten", "-s", f"GLOSSARY_DB={db}"],
                   cwd=ROOT, capture_output=True, timeout=120,
                   env={**os.environ, "SCRAPY_JOB": "job\x1b]0;pwned\x07\x1b[31m\r"})
    import pty

    terminal, end = pty.openpty()  # on a pipe, click strips escape sequences itself, not on a terminal
    launcher.run([*GLOSSARY, "runs", "--db", str(db)], cwd=ROOT, stdout=end, timeout=60)
    os.close(end)
    shown = b""
    while chunk := _read_some(terminal):
        shown += chunk
    os.close(terminal)
    assert b"job\\x1b]0;pwned" in shown and b"\x1b" not in shown and b"\r\r" not in shown, shown


def test_runs_check_within_one_second_judges_the_run_a_refused_one_waited_on():
    """A run refused as locked ends while the run holding the lock goes on: when both end within the same
    second (the times' grain), --check judged the refused one, by its larger id (a flaky exit 3)."""
    from glossary_spider.runs import check

    stopped = {"id": 2, "command": "crawl", "started_at": "2026-11-29T10:42:28+00:00", "resumed_at": None,
               "finished_at": "2026-11-29T10:42:30+00:00", "finish_reason": "max_pages", "outcome": "stopped",
               "exit_status": 4, "error": None, "job_id": None}
    locked = {**stopped, "id": 3, "started_at": "2026-11-29T10:42:30+00:00", "finish_reason": "locked",
              "outcome": "locked", "exit_status": 3, "error": "locked by another writer"}
    assert check([stopped, locked]).status == 4


def test_runs_check_max_age_holds_for_a_held_run_someone_decided():
    """A held run discarded (or accepted) passed --check whatever its age: a scheduler that died after the
    decision left the hourly check green for good."""
    from glossary_spider.runs import check

    held = {"id": 5, "command": "refresh", "started_at": "2026-11-27T06:00:00+00:00", "resumed_at": None,
            "finished_at": "2026-11-27T06:02:01+00:00", "finish_reason": "held", "outcome": "held",
            "exit_status": 5, "error": None, "job_id": None, "decision": "discarded"}
    now = datetime(2026, 11, 30, 6, 0, tzinfo=timezone.utc)
    assert check([held], now=now).status == 0
    verdict = check([held], max_age_hours=26, now=now)
    assert verdict.status == 1
    assert verdict.message.startswith("refresh #5 held at 2026-11-27T06:02:01+00:00, then discarded, 72.0 hours ago, "
                                      "more than --max-age 26: no run has finished since"), verdict.message


def test_runs_check_judges_a_run_killed_after_another_found_it_holding_the_lock():
    """A refresh refused for the lock of a refresh killed since was the last run to end: --check blamed the
    lock (exit 3, naming a pid long dead), where the killed run wants its --resume."""
    from glossary_spider.runs import check

    killed = {"id": 5, "command": "refresh", "started_at": "2026-11-30T06:00:00+00:00", "resumed_at": None,
              "finished_at": None, "finish_reason": None, "outcome": "failed", "exit_status": 1, "job_id": None,
              "error": "stopped before it finished (killed, or the machine went down): --resume continues it"}
    locked = {**killed, "id": 6, "started_at": "2026-11-30T06:01:00+00:00", "finished_at": "2026-11-30T06:01:00+00:00",
              "finish_reason": "locked", "outcome": "locked", "exit_status": 3,
              "error": "the archive is locked by another writer (pid 26968)"}
    verdict = check([killed, locked], now=datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc))
    assert verdict.status == 1 and verdict.message.startswith("refresh #5 failed at 2026-11-30T06:00:00+00:00: stopped "
                                                              "before it finished"), verdict.message
    assert "--resume continues it; refresh #6 found the archive locked at 2026-11-30T06:01:00+00:00" in verdict.message
    holder_alive = {**killed, "pid": 26968}  # not killed: still running, as 'glossary runs' finds it
    assert check([{**holder_alive, "outcome": "running", "exit_status": None}, locked],
                 now=datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc)).status == 3


def test_runs_check_says_when_a_refusal_noted_beside_the_archive_found_it_locked():
    """A refusal for the lock noted beside the archive (no run row: it holds no lock to write one) has no end of
    its own, only its start: the line said the killed run's refresh 'found the archive locked at None'."""
    from glossary_spider.runs import check

    killed = {"id": 5, "command": "refresh", "started_at": "2026-11-30T06:00:00+00:00", "resumed_at": None,
              "finished_at": None, "finish_reason": None, "outcome": "failed", "exit_status": 1, "job_id": None,
              "error": "stopped before it finished (killed, or the machine went down): --resume continues it"}
    noted = {**killed, "id": None, "started_at": "2026-11-30T06:01:00+00:00", "finish_reason": "locked",
             "outcome": "locked", "exit_status": 3, "error": "the archive is locked by another writer (pid 26968)"}
    verdict = check([killed, noted], now=datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc))
    assert verdict.status == 1, verdict.message
    assert "found the archive locked at 2026-11-30T06:01:00+00:00" in verdict.message, verdict.message


def test_a_scrapyd_job_that_ended_unreachable_is_carried_on_by_a_job():
    """A job has no --resume: the line of a job that ended unreachable said '--resume tries them again', where a
    job killed or stopped says which job carries it on."""
    from glossary_spider.runs import not_done

    job = {"id": 1, "command": "crawl", "job_id": "job123", "finish_reason": "unreachable", "outcome": "unreachable",
           "error": None, "started_at": "2026-11-30T06:00:00+00:00", "finished_at": "2026-11-30T06:01:00+00:00"}
    assert not_done(job).endswith("every one once it stopped answering; a job with resume=1 continues it, asking "
                                  "again what failed")
    assert not_done({**job, "job_id": None}).endswith("; --resume continues it, asking again what failed")


def test_runs_check_orders_a_run_and_a_refusal_of_the_same_second_by_what_refused_it():
    """Times are to the second. A refresh refused for its lock file a moment after a crawl ended, in that second,
    was taken for the earlier of the two: --check judged the crawl, and said ok. A refusal for the lock is the
    earlier (it was refused while the run holding the lock went on); one the archive recorded is ordered by its
    id among the runs; one noted beside the archive (which could not be written: no run was going) is the later."""
    from glossary_spider.runs import check

    at = "2026-11-30T06:00:00+00:00"
    done = {"id": 2, "command": "crawl", "started_at": "2026-11-30T05:00:00+00:00", "resumed_at": None,
            "finished_at": at, "finish_reason": "finished", "outcome": "done", "exit_status": 0, "job_id": None,
            "error": None, "pages_new": 10}
    now = datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc)
    for reason, recorded, status, judged in (("archive_unwritable", None, 2, "refresh"),
                                             ("locked", None, 0, "crawl #2"), ("locked", 3, 0, "crawl #2"),
                                             ("bad_argument", 1, 0, "crawl #2"), ("bad_argument", 3, 2, "refresh #3")):
        refused = {**done, "id": recorded, "command": "refresh", "started_at": at, "finish_reason": reason,
                   "outcome": "refused", "exit_status": status, "error": "refused", "noted": recorded is None}
        for runs in ([done, refused], [refused, done]):
            verdict = check(runs, now=now)
            assert verdict.status == status and judged in verdict.message, (reason, recorded, verdict.message)


def test_runs_check_is_not_made_green_by_a_reparse_after_a_failed_refresh():
    """A refresh found the site down (exit 6); the reparse the upgrade asks for ran after it, and --check said
    "ok: reparse done", its --max-age satisfied, though nothing had been fetched since."""
    from glossary_spider.runs import check

    crawl_run = {"id": 1, "command": "crawl", "started_at": "2026-11-29T08:00:00+00:00", "resumed_at": None,
                 "finished_at": "2026-11-29T08:10:00+00:00", "finish_reason": "finished", "outcome": "done",
                 "exit_status": 0, "error": None, "job_id": None}
    down = {**crawl_run, "id": 2, "command": "refresh", "started_at": "2026-11-29T09:00:00+00:00",
            "finished_at": "2026-11-29T09:01:00+00:00", "finish_reason": "unreachable", "outcome": "unreachable",
            "exit_status": 6}
    reparse = {**crawl_run, "id": 3, "command": "reparse", "started_at": "2026-11-29T09:05:00+00:00",
               "finished_at": "2026-11-29T09:06:00+00:00"}
    now = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
    verdict = check([crawl_run, down, reparse], now=now)
    assert verdict.status == 6 and verdict.message.startswith("refresh #2 unreachable at 2026-11-29T09:01:00+00:00")
    assert "reparse #3 done since" in verdict.message
    assert check([crawl_run, reparse], max_age_hours=2, now=now).status == 1  # the crawl is 3.8 hours old
    failed_reparse = {**reparse, "finish_reason": "archive_error", "outcome": "bad_input", "exit_status": 2}
    assert check([crawl_run, failed_reparse], now=now).status == 2  # a reparse that failed says so


def _read_some(fd):
    try:
        return os.read(fd, 65536)
    except OSError:  # the terminal's other end closed: all read
        return b""


def rows_or_none(db, sql):
    try:
        return rows(db, sql)
    except sqlite3.Error:  # not created yet, or locked for a moment
        return None


def test_runs_check_without_runs_or_archive(tmp_path):
    result = run_glossary("runs", "--db", str(tmp_path / "none.db"), "--check")
    assert_one_line_error(result, "no archive")
    # With --json, a monitor that reads standard output gets the verdict too (it got an empty document).
    result = run_glossary("runs", "--db", str(tmp_path / "none.db"), "--check", "--json")
    assert result.returncode == 2 and json.loads(result.stdout) == {
        "exit_status": 2, "message": f"no archive at {tmp_path / 'none.db'}: run 'glossary crawl' first", "run": None,
        "archive": str(tmp_path / "none.db")}


def test_a_hostile_refused_runs_file_is_neither_a_traceback_nor_a_terminal_escape(crawled, tmp_path):
    """Anyone who can write beside the archive can write its .refused-runs: a directory or a FIFO there
    ended every `runs` in a traceback, and escape sequences in a noted run reached the terminal as they
    were (recolouring it, retitling it, clearing it)."""
    db = shutil.copy(crawled, tmp_path / "hostile.db")
    noted = tmp_path / "hostile.db.refused-runs"
    noted.mkdir()
    for args in (("runs",), ("runs", "--check"), ("runs", "--json")):
        result = run_glossary(*args, "--db", str(db))
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    noted.rmdir()
    os.mkfifo(noted)
    result = run_glossary("runs", "--db", str(db), timeout=20)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    noted.unlink()
    started = just_now()
    noted.write_text(json.dumps({"command": "crawl\x1b[31m", "started_at": started,
                                 "finish_reason": "locked", "error": "E\x1b[2J\x1b]0;x\x07", "job_id": "j\x1b[1m"}))
    result = run_glossary("runs", "--db", str(db), "--check")
    assert result.returncode == 3 and "\x1b" not in result.stderr + result.stdout and "\x07" not in result.stderr
    assert result.stderr.startswith(f"{db}: crawl (job j\\x1b[1m) locked at {started}: "
                                    "E\\x1b[2J\\x1b]0;x\\x07")


def test_runs_refused_beside_a_locked_archive_are_read_warily_and_recorded_by_the_next_writer(crawled, tmp_path):
    db = tmp_path / "noted.db"
    shutil.copy(crawled, db)
    refused = {"command": "refresh", "started_at": just_now(), "finish_reason": "locked",
               "error": "locked by another writer", "job_id": "j1", "pid": 1, "args": {"mode": "refresh"}}
    noted = db.with_name(db.name + ".refused-runs")
    noted.write_text("\n".join([
        "not json", "[1, 2]", json.dumps({**refused, "finish_reason": "finished"}),  # not a refusal: skipped
        json.dumps({**refused, "pid": "1; DROP TABLE pages"}), json.dumps(refused)]) + "\n")
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 3 and check.stderr.strip() == (
        f"{db}: refresh (job j1) locked at {refused['started_at']}: locked by another writer")
    listed = json.loads(run_glossary("runs", "--db", str(db), "--json").stdout)
    assert [(r["command"], r["outcome"], r.get("noted")) for r in listed][-2:] == [
        ("refresh", "locked", True), ("refresh", "locked", True)]
    assert run_glossary("reparse", "--db", str(db), "--no-progress").returncode == 0
    assert noted.read_text() == ""
    recorded = rows(db, "SELECT command, outcome, exit_status, job_id, pid FROM crawl_runs WHERE job_id = 'j1'")
    assert recorded == [{"command": "refresh", "outcome": "locked", "exit_status": 3, "job_id": "j1", "pid": None},
                        {"command": "refresh", "outcome": "locked", "exit_status": 3, "job_id": "j1", "pid": 1}]


def test_runs_refused_past_a_megabyte_of_notes_are_read_from_the_newest(crawled, tmp_path):
    """A minutely job locked out for days notes over a megabyte of refusals beside the archive: its first megabyte
    was read, so runs --check said "ok" over the newest refusal, and the next writer recorded the oldest and
    emptied the note: the newest were lost."""
    db = shutil.copy(crawled, tmp_path / "busy.db")
    line = {"command": "refresh", "finish_reason": "locked", "error": "locked by another writer", "job_id": None,
            "args": {"mode": "refresh"}}
    old = [json.dumps({**line, "started_at": "2026-01-01T00:00:00+00:00", "pid": n}) for n in range(6000)]
    (tmp_path / "busy.db.refused-runs").write_text("\n".join([*old, json.dumps({**line, "started_at": just_now(),
                                                                                "pid": 7})]) + "\n")
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 3 and "refresh locked at" in check.stderr, check.stdout + check.stderr
    assert run_glossary("reparse", "--db", str(db), "--no-progress").returncode == 0
    (newest,) = rows(db, "SELECT max(id) AS id FROM crawl_runs WHERE outcome = 'locked'")
    assert rows(db, "SELECT pid FROM crawl_runs WHERE id = ?", (newest["id"],)) == [{"pid": 7}]


def test_a_noted_run_dated_without_an_offset_is_skipped_and_one_recorded_is_no_traceback(crawled, tmp_path):
    """A line of the note beside the archive dated without an offset (or with a date alone) passed for a refused
    run: runs --check ended in a traceback (naive and aware times subtracted), and the next writer copied the run
    into crawl_runs, where it brought the traceback back at every later --check."""
    db = shutil.copy(crawled, tmp_path / "naive.db")
    noted = tmp_path / "naive.db.refused-runs"
    naive = just_now()[:19]
    noted.write_text("".join(json.dumps({"command": "refresh", "started_at": when, "finish_reason": "locked",
                                         "error": "locked by another writer"}) + "\n"
                             for when in (naive, naive[:10])))
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 0 and check.stdout.startswith("ok: crawl #1 done"), check.stderr
    assert [r.get("noted") for r in json.loads(run_glossary("runs", "--db", str(db), "--json").stdout)] == [None]
    assert run_glossary("reparse", "--db", str(db), "--no-progress").returncode == 0
    assert noted.read_text() == "" and rows(db, "SELECT count(*) AS n FROM crawl_runs")[0]["n"] == 2
    # An archive an earlier release copied such a run into: it is read as UTC, as runs record their times.
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO crawl_runs (command, started_at, finished_at, finish_reason, outcome, exit_status, "
                     "error) VALUES ('refresh', ?, ?, 'locked', 'locked', 3, 'locked by another writer')",
                     [naive, naive])
    conn.close()
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "26")
    assert check.returncode == 3 and check.stderr == f"{db}: refresh #3 locked at {naive}: locked by another writer\n"
