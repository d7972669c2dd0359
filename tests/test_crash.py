"""kill -9 at seeded random moments of a crawl, a refresh and a reparse.

After each kill the archive must pass SQLite's integrity check and agree with
itself (every page's rows match its content_hash and versions), and continuing
(``--resume``, or running reparse again) must give the archive an uninterrupted
run gives. ``make test`` tries CRASH_POINTS=2 moments per command; ``make crash``
tries 10.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import launcher
import pytest
from conftest import GLOSSARY, ROOT, Replica, archive_content, archive_problems, rows, run_glossary

POINTS = int(os.environ.get("CRASH_POINTS", "2"))
SEED = 20261123
# Extraction workers from the first page, as a crawl of a site of thousands of pages has them.
CRAWL_ARGS = ("--delay", "0", "--concurrency", "4", "--workers", "1", "--no-progress")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    replica = Replica(tmp_path_factory.mktemp("crash"), 100)
    yield replica
    replica.stop()


@pytest.fixture(scope="module")
def crawled(server, tmp_path_factory):
    """An uninterrupted crawl, and how long it took."""
    db = tmp_path_factory.mktemp("crash-reference") / "crawled.db"
    return db, _timed("crawl", "--db", str(db), *_start(server), *CRAWL_ARGS)


def _start(server):
    return "--start-url", f"{server.url}/", "--sitemap", f"{server.url}/sitemap_index.xml"


def _timed(*args):
    started = time.monotonic()
    result = run_glossary(*args)
    assert result.returncode == 0, result.stderr
    return time.monotonic() - started


def _killed(seconds, *args):
    """Run glossary and kill -9 it after ``seconds``; True if it was still running then. The processes it
    leaves (extraction workers) must go quietly: its standard error is read to its end, when the last of
    them has closed it, and must hold no traceback."""
    process = launcher.popen([*GLOSSARY, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, errors = process.communicate(timeout=seconds)
        killed = False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        _, errors = process.communicate(timeout=30)
        killed = True
    assert b"Traceback" not in errors, errors.decode(errors="replace")
    return killed


def _moments(duration, salt):
    """Moments to kill at, in seconds from the start; a run may finish sooner, and then is not killed."""
    rng = random.Random(f"{SEED}-{salt}")
    return [round(rng.uniform(0.05, 0.9) * duration, 3) for _ in range(POINTS)]


def _finished(db, command):
    """Whether the archive holds a ``command`` run that finished."""
    return db.exists() and rows(db, "SELECT count(*) AS n FROM crawl_runs WHERE command = ? AND finish_reason = "
                                    "'finished'", (command,))[0]["n"] > 0


def _report(command, killed):
    print(f"\n{command}: killed {killed} times of {POINTS}, each archive whole and resumed to the reference")
    assert killed >= max(1, int(POINTS * 0.7)), "most runs finished before their moment came: the moments are too late"


def _check_after_kill(db, moment):
    if db.exists():
        assert archive_problems(db) == [], f"killed at {moment} s"


def test_killed_crawls_resume_to_the_uninterrupted_archive(server, crawled, tmp_path):
    reference, duration = crawled
    start = _start(server)
    killed = 0
    for n, moment in enumerate(_moments(duration, "crawl")):
        db = tmp_path / f"crawl-{n}.db"
        if not _killed(moment, "crawl", "--db", str(db), *start, *CRAWL_ARGS):
            continue  # it finished first: nothing to resume
        killed += 1
        _check_after_kill(db, moment)
        archived = {r["url"] for r in rows(db, "SELECT url FROM pages")} if db.exists() else set()
        server.clear_log()
        resumed = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress")
        if resumed.returncode == 2 and "nothing to resume" in resumed.stderr:
            if _finished(db, "crawl"):  # killed as it exited, its run done: nothing is left to do
                resumed = subprocess.CompletedProcess(resumed.args, 0)
            else:  # killed before its run began
                resumed = run_glossary("crawl", "--db", str(db), *start, *CRAWL_ARGS)
        assert resumed.returncode == 0, (moment, resumed.stderr)
        assert {server.url + r["path"] for r in server.requests()} & archived == set(), "archived pages refetched"
        assert archive_content(db) == archive_content(reference), f"killed at {moment} s"
        assert archive_problems(db) == []
    _report("crawl", killed)


def test_killed_refreshes_resume_to_the_uninterrupted_archive(server, crawled, tmp_path):
    crawled, _ = crawled
    server.set_generation(2)
    reference = tmp_path / "reference.db"
    shutil.copy(crawled, reference)
    duration = _timed("refresh", "--db", str(reference), *CRAWL_ARGS)
    assert rows(reference, "SELECT count(*) AS n FROM page_versions WHERE version > 1")[0]["n"] > 0
    killed = 0
    for n, moment in enumerate(_moments(duration, "refresh")):
        db = tmp_path / f"refresh-{n}.db"
        shutil.copy(crawled, db)
        if not _killed(moment, "refresh", "--db", str(db), *CRAWL_ARGS):
            continue
        killed += 1
        _check_after_kill(db, moment)
        resumed = run_glossary("refresh", "--db", str(db), "--resume", "--no-progress")
        if resumed.returncode == 2 and "nothing to resume" in resumed.stderr:
            resumed = run_glossary("refresh", "--db", str(db), *CRAWL_ARGS)
        assert resumed.returncode == 0, (moment, resumed.stderr)
        assert archive_content(db) == archive_content(reference), f"killed at {moment} s"
        assert archive_problems(db) == []
    server.set_generation(1)
    _report("refresh", killed)


def test_a_service_manager_stopping_a_crawl_loses_no_page_in_flight(server, crawled, tmp_path):
    """systemd stops a service with SIGTERM to each of its processes at once (KillMode=control-group): the
    extraction workers get it too. The crawl stops as for Ctrl-C (exit 1) with the pages in flight
    extracted, not recorded as failed, and --resume gives the uninterrupted archive."""
    reference, _ = crawled
    db = tmp_path / "stopped.db"
    process = launcher.popen([*GLOSSARY, "crawl", "--db", str(db), *_start(server), *CRAWL_ARGS], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while not _staged(db) and time.monotonic() < deadline:  # pages are going through the workers
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGTERM)
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 1, errors.decode()
    assert b"Traceback" not in errors, errors.decode()
    failed = rows(db, "SELECT url, detail FROM crawl_errors WHERE error = 'extraction failed'")
    assert failed == [], "pages in the workers' hands were recorded as failed"
    resumed = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert archive_content(db) == archive_content(reference)
    assert archive_problems(db) == []


def _with_writer(db, server):
    """A crawl as CRAWL_ARGS says, started Scrapy's way, with its batches written by an archive writer
    process (on two cores a crawl writes in Scrapy's process: GLOSSARY_WRITER_PROCESS)."""
    return [sys.executable, "-m", "scrapy", "crawl", "glossary", "-s", f"GLOSSARY_DB={db}",
            "-s", "GLOSSARY_WRITER_PROCESS=1", "-a", f"start_urls={server.url}/",
            "-a", f"sitemap_urls={server.url}/sitemap_index.xml", "-a", "delay=0", "-a", "concurrency=4"]


def test_a_stop_that_comes_while_the_crawl_closes_ends_it_and_resume_finishes_it(server, crawled, tmp_path):
    """Scrapy stops its reactor without waiting for a close in progress when a stop comes then: the pipeline,
    waiting for its writer process, never finished the run, and the process hung at its exit on a worker
    that ignores SIGTERM."""
    reference, _ = crawled
    db = tmp_path / "closing.db"
    process = subprocess.Popen(_with_writer(db, server), cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    log = []
    for line in process.stderr:
        log.append(line)
        if "Closing spider (finished)" in line:
            os.killpg(process.pid, signal.SIGTERM)
            break
    sent = time.monotonic()
    _, errors = process.communicate(timeout=60)
    assert time.monotonic() - sent < 10
    assert process.returncode == 0, errors  # Scrapy's own exit status; the archive says what happened
    assert "Traceback" not in "".join(log) + errors
    assert "'glossary/archive_writer': True" in errors
    resumed = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress")
    assert resumed.returncode == 0 or "nothing to resume" in resumed.stderr, resumed.stderr
    assert archive_content(db) == archive_content(reference)
    assert archive_problems(db) == []


def test_a_crawl_whose_archive_writer_dies_stops_as_an_archive_error_and_resumes(server, crawled, tmp_path):
    """A crawl at full speed writes its archive from a process of its own: killed (the OOM killer), the
    crawl stops, says why, and --resume gives the uninterrupted archive."""
    reference, _ = crawled
    db = tmp_path / "writer.db"
    process = subprocess.Popen(_with_writer(db, server), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 60
    while not (_staged(db) and (writer := _writer_of(process.pid, db))) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(writer, signal.SIGKILL)
    out, errors = process.communicate(timeout=60)
    assert "Traceback" not in errors, errors
    assert "The archive writer died (killed, or out of memory): no new one is started" in errors
    (run,) = rows(db, "SELECT finish_reason, stats FROM crawl_runs")
    assert run["finish_reason"] == "archive_error"
    assert "the archive writer died" in json.loads(run["stats"])["glossary/archive_error"]
    resumed = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert archive_content(db) == archive_content(reference)
    assert archive_problems(db) == []


def _writer_of(pid, db):
    """The child of ``pid`` that has the archive ``db`` open: its writer process (extraction workers do not)."""
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            try:
                if any(os.readlink(fd) == str(db) for fd in Path(f"/proc/{child}/fd").iterdir()):
                    return int(child)
            except OSError:  # gone meanwhile
                continue
    return None


def _staged(db):
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT count(*) FROM staged").fetchone()[0] > 0
    except sqlite3.Error:  # no archive yet, or no table
        return False


# What a reparse of _stale's copy rewrites in each page's row, beside what archive_content compares.
REWRITTEN = "SELECT url, author, record_digest, run_id FROM pages ORDER BY url"
REPARSE_RUNS = ("SELECT id, finish_reason, pages_changed, pages_unchanged, pages_failed, json_extract(stats, '$.pages') "
                "AS pages FROM crawl_runs WHERE command = 'reparse'")


def _stale(crawled, db):
    """A copy of the crawl whose page rows no longer say what extraction finds (as an older extractor left
    them), so that a reparse rewrites every page: half of them known by their digest, half by their rows."""
    shutil.copy(crawled, db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE pages SET author = 'an older extractor', "
                     "record_digest = CASE WHEN rowid % 2 THEN NULL ELSE printf('%064d', 0) END")
    conn.close()


@pytest.fixture(scope="module")
def crawled_for_reparse(tmp_path_factory):
    """A crawl of several hundred pages: a reparse of it writes several batches, so that most moments to
    kill it fall between the first and the last."""
    directory = tmp_path_factory.mktemp("crash-reparse")
    replica = Replica(directory, 700)
    try:
        _timed("crawl", "--db", str(directory / "crawled.db"), *_start(replica), "--delay", "0", "--concurrency", "16",
               "--no-progress")
    finally:
        replica.stop()
    return directory / "crawled.db"


def test_killed_reparses_leave_a_whole_archive_and_run_again_to_the_same(crawled_for_reparse, tmp_path):
    crawled = crawled_for_reparse
    reference = tmp_path / "reference.db"
    _stale(crawled, reference)
    duration = _timed("reparse", "--db", str(reference), "--no-progress")
    assert rows(reference, "SELECT count(*) AS n FROM pages WHERE author = 'an older extractor'")[0]["n"] == 0
    killed = 0
    for n, moment in enumerate(_moments(duration, "reparse")):
        db = tmp_path / f"reparse-{n}.db"
        _stale(crawled, db)
        if not _killed(moment, "reparse", "--db", str(db), "--no-progress"):
            continue
        killed += 1
        _check_after_kill(db, moment)
        again = run_glossary("reparse", "--db", str(db), "--no-progress")
        assert again.returncode == 0, (moment, again.stderr)
        assert archive_content(db) == archive_content(reference), f"killed at {moment} s"
        # Every page rewritten, each once by the run: none left as the older extractor had it.
        assert rows(db, REWRITTEN) == rows(reference, REWRITTEN), f"killed at {moment} s"
        # One run, whose counts are over its parts: the killed one's pages too.
        assert rows(db, REPARSE_RUNS) == rows(reference, REPARSE_RUNS), f"killed at {moment} s"
    _report("reparse", killed)
