"""Unattended runs: budgets that stop a run cleanly, and the quality gate that keeps a misbehaving
site's pages out of history (``glossary replica --mode``), with held runs accepted or discarded."""

from __future__ import annotations

import json
import re
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import launcher
import pytest
from conftest import GLOSSARY, ROOT, archive_problems, crawl, rows, run_glossary

from glossary_spider.outcome import ExitStatus
from glossary_spider.replica.site import ReplicaSite

PAGES = 100
RUN = ("--delay", "0", "--concurrency", "8", "--no-progress")


def set_mode(server, mode: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{server.url}/_replica/mode", data=mode.encode())).read()


def refresh(db, *args):
    return run_glossary("refresh", "--db", str(db), *RUN, *args)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from conftest import Replica

    server = Replica(tmp_path_factory.mktemp("unattended"), PAGES)
    yield server
    server.stop()


@pytest.fixture
def archived(site, tmp_path_factory):
    """A fresh copy of an archive of the whole replica (generation 1, normal mode)."""
    db = tmp_path_factory.getbasetemp() / "unattended-reference.db"
    if not db.exists():
        result = crawl(db, "--start-url", f"{site.url}/", "--sitemap", f"{site.url}/sitemap_index.xml")
        assert result.returncode == 0, result.stderr
    copy = tmp_path_factory.mktemp("archive") / "glossary.db"
    shutil.copy(db, copy)
    site.set_generation(1)
    set_mode(site, "normal")
    yield copy
    site.set_generation(1)
    set_mode(site, "normal")


def history(db):
    return rows(db, "SELECT url, version, content_hash, body_text FROM page_versions ORDER BY url, version")


def current(db):
    return rows(db, "SELECT url, content_hash, version, status, last_fetched FROM pages ORDER BY url")


# -- budgets ------------------------------------------------------------------------------------


def test_max_requests_stops_the_run_early_and_resume_finishes_it(site, tmp_path):
    db = tmp_path / "budget.db"
    start = ("--start-url", f"{site.url}/", "--sitemap", f"{site.url}/sitemap_index.xml")
    first = crawl(db, *start, "--max-requests", "60")
    assert first.returncode == ExitStatus.STOPPED_EARLY, first.stderr
    # Said once, in the first line (a raw 'closespider_pagecount' there, and a second line, were noise).
    assert first.stdout.startswith("Crawl #1 stopped by --max-requests after ")
    assert first.stdout.count("stopped by") == 1 and "closespider" not in first.stdout
    (run,) = rows(db, "SELECT finish_reason, requests FROM crawl_runs")
    assert run["finish_reason"] == "closespider_pagecount"
    assert run["requests"] < 60 + 8 * 2  # the budget, and what was already in flight
    kept = rows(db, "SELECT count(*) AS n FROM pages")[0]["n"]
    assert kept > 0, "what the stopped run fetched is kept"
    assert archive_problems(db) == []
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == ExitStatus.STOPPED_EARLY
    assert "stopped by --max-requests" in check.stderr and "--resume continues it" in check.stderr
    # The resumed run takes the budget over: it may take a few more runs to finish.
    for _ in range(5):
        resumed = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress")
        if resumed.returncode != ExitStatus.STOPPED_EARLY:
            break
    assert resumed.returncode == 0, resumed.stderr
    # Its counts are over all its parts, its time its last part's: the first line says which.
    assert re.match(r"Crawl #1 finished in [\d.]+s \(this part\): ", resumed.stdout), resumed.stdout
    archived = {r["url"] for r in rows(db, "SELECT url FROM pages WHERE page_type != 'other'")}
    assert archived == {site.url + p for p in ReplicaSite(PAGES).glossary_paths()}


@pytest.mark.parametrize("mode", ["moved", "rate-limited"])
def test_max_requests_counts_every_response_redirects_and_retries_included(site, archived, mode):
    """--max-requests counted the responses that reached the spider: a site sending every page elsewhere, or
    answering 429s to be retried, had 109 requests sent under --max-requests 40, and the run finished."""
    set_mode(site, mode)
    result = refresh(archived, "--max-age", "0", "--max-requests", "30", "--json")
    assert result.returncode == ExitStatus.STOPPED_EARLY, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["finish_reason"] == "closespider_pagecount"
    assert summary["requests"] < 30 + 8 * 2  # the budget, and what was already in flight


def test_max_duration_stops_the_run_early(site, tmp_path):
    db = tmp_path / "duration.db"
    result = run_glossary("crawl", "--db", str(db), "--start-url", f"{site.url}/", "--delay", "0.2",
                          "--no-progress", "--max-duration", "1s")
    assert result.returncode == ExitStatus.STOPPED_EARLY, result.stderr
    assert "stopped by --max-duration" in result.stdout
    assert rows(db, "SELECT finish_reason FROM crawl_runs")[0]["finish_reason"] == "closespider_timeout"


# Counted from the run's first request, not its start-up (which a loaded machine stretches to seconds): the
# budget is spent within 2 s of it, and the run ends a moment later; the requests that waited their turn, sent
# one a delay apart (8 here, at 1 s), would take 8 s more.
@pytest.mark.parametrize("budget", [("--max-duration", "2s"), ("--max-requests", "4"), ("--max-pages", "2")])
def test_a_budget_drops_the_requests_waiting_for_their_turn(site, tmp_path, budget, most_seconds=8):
    """With a delay, the requests waiting for their turn at the host were sent one a delay after the budget
    was spent: --max-duration 5s ran 27 s. They are dropped at once, left for --resume, and what the run
    counts as sent is what the server received."""
    import time

    db = tmp_path / "budget.db"
    site.clear_log()
    result = run_glossary("crawl", "--db", str(db), "--start-url", f"{site.url}/", "--delay", "1", "--concurrency", "8",
                          "--no-progress", *budget)
    ended = time.time()
    assert result.returncode == ExitStatus.STOPPED_EARLY, result.stdout + result.stderr
    assert ended - min(r["time"] for r in site.requests()) < most_seconds
    (run,) = rows(db, "SELECT requests FROM crawl_runs")
    assert run["requests"] == len(site.requests())
    if budget[0] == "--max-requests":
        assert run["requests"] == 4


@pytest.mark.parametrize("value", ["soon", "-5m", "0", "3 weeks", "400d", "99999999999999999999d", "9" * 400])
def test_a_bad_duration_is_one_line(tmp_path, value):
    result = run_glossary("crawl", "--db", str(tmp_path / "x.db"), "--start-url", "http://127.0.0.1:9/",
                          "--max-duration", value)
    assert result.returncode == ExitStatus.BAD_INPUT
    assert len(result.stderr.strip().splitlines()) == 1 and "--max-duration" in result.stderr, result.stderr


# -- the quality gate --------------------------------------------------------------------------


def test_an_ordinary_refresh_passes_the_gate_without_a_word(site, archived):
    site.set_generation(2)
    result = refresh(archived)
    assert result.returncode == 0, result.stderr
    assert "HELD" not in result.stdout and "gate" not in result.stdout.lower()
    (same_page,) = [c for c in json.loads(rows(archived, "SELECT report FROM gate_reports")[0]["report"])["checks"]
                    if c["name"] == "same_page"]
    # Edited pages each have their own text: not '1 of N ... have the very same text', with an example.
    assert same_page["numbers"]["same_text"] == 0 and same_page["examples"] == []
    changed = rows(archived, "SELECT count(*) AS n FROM page_versions WHERE version > 1")[0]["n"]
    assert 0 < changed < PAGES * 0.2
    assert rows(archived, "SELECT count(*) AS n FROM staged")[0]["n"] == 0


def test_a_maintenance_page_everywhere_is_held_and_nothing_reaches_history(site, archived):
    before_history, before_pages = history(archived), current(archived)
    set_mode(site, "maintenance")
    result = refresh(archived, "--max-age", "0", "--json")
    assert result.returncode == ExitStatus.HELD, result.stderr
    summary = json.loads(result.stdout)
    assert summary["finish_reason"] == "held"
    (same_page,) = [c for c in summary["gate"]["checks"] if c["name"] == "same_page"]
    assert same_page["tripped"] and same_page["numbers"]["same_text"] >= PAGES * 0.9
    assert same_page["examples"] and all(u.startswith(site.url) for u in same_page["examples"])
    assert history(archived) == before_history
    assert current(archived) == before_pages
    held = rows(archived, "SELECT count(*) AS n FROM captures WHERE outcome = 'held' AND body_sha256 IN "
                          "(SELECT sha256 FROM bodies)")[0]["n"]
    assert held >= PAGES * 0.9, "the raw captures are kept"

    from glossary_spider.lock import ArchiveLock

    lock = ArchiveLock(archived, "crawl").acquire()  # listing held runs is reading: a running crawl is no obstacle
    try:
        text = run_glossary("held", "--db", str(archived))
    finally:
        lock.release()
    assert text.returncode == 0, text.stderr
    assert "same_page" in text.stdout
    # The archive's own (copied as printed, a look at the default archive read another run 2, or accepted it).
    run_id = summary["id"]
    assert (f"look: glossary held --run {run_id} --db {archived}; then 'glossary held --accept {run_id} --db "
            f"{archived}' or 'glossary held --discard {run_id} --db {archived}'") in text.stdout, text.stdout
    check = run_glossary("runs", "--db", str(archived), "--check")
    assert check.returncode == ExitStatus.HELD and f"see 'glossary held --db {archived}'" in check.stderr
    report = run_glossary("report", "--db", str(archived), "--format", "html")
    assert "Held runs" in report.stdout and "same_page" in report.stdout

    # The site comes back: the held run is discarded, the next refresh writes only real changes.
    discarded = run_glossary("held", "--db", str(archived), "--discard", str(summary["id"]))
    assert discarded.returncode == 0, discarded.stderr
    # Seen to: the check no longer alarms, and `held` offers nothing more to do.
    check = run_glossary("runs", "--db", str(archived), "--check")
    assert check.returncode == 0 and f"refresh #{summary['id']} held at " in check.stdout + check.stderr
    assert "then discarded" in check.stdout + check.stderr
    shown = run_glossary("held", "--db", str(archived), "--run", str(summary["id"])).stdout
    assert "then discarded at" in shown and "--accept" not in shown and "--discard" not in shown
    # Held captures stand for nothing archived: reparse reads the pages' own, and finds no change.
    assert run_glossary("reparse", "--db", str(archived), "--no-progress").returncode == 0
    assert history(archived) == before_history
    set_mode(site, "normal")
    again = refresh(archived)
    assert again.returncode == 0, again.stderr
    assert history(archived) == before_history
    assert archive_problems(archived) == []


def test_a_scrapyd_job_the_gate_held_says_so_in_its_log_with_what_to_do(site, archived):
    """A job's log said only "Quality gate: …; the run's versions are held", at INFO: no run, no next step,
    where a job stopped early gets a warning saying how to carry it on."""
    import subprocess
    import sys

    set_mode(site, "maintenance")
    job = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "glossary", "-a", "mode=refresh", "-a", "max_age=0",
                          "-s", f"GLOSSARY_DB={archived}", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    (run,) = rows(archived, "SELECT id, finish_reason FROM crawl_runs WHERE command = 'refresh'")
    assert run["finish_reason"] == "held", job.stderr[-2000:]
    assert (f"WARNING: refresh #{run['id']} was held by the quality gate: no version written, no page changed; "
            f"look with 'glossary held --run {run['id']} --db {archived}', then accept or discard it ('glossary held "
            f"--accept {run['id']} --db {archived}' or '--discard {run['id']}')") in job.stderr


def test_pages_back_after_a_held_run_are_counted_back(site, archived):
    """Pages went; the next night they answered again but the run was held (the site in maintenance);
    the night after, they answer again and the run passes: they are back, and the summary says so (it
    read the held run's captures as their last word, and said nothing new)."""
    site.set_generation(2)
    went = refresh(archived, "--json")
    assert went.returncode == 0, went.stderr
    gone = json.loads(went.stdout)["pages_gone"]
    assert gone > 0
    site.set_generation(1)
    set_mode(site, "maintenance")
    assert refresh(archived, "--max-age", "0").returncode == ExitStatus.HELD
    set_mode(site, "normal")
    result = refresh(archived, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["pages_back"] == gone and summary["changes"] >= gone
    table = run_glossary("runs", "--db", str(archived)).stdout.splitlines()
    assert "nothing new" not in table[-1]
    # runs says so too, in its table and its JSON (a monitor adds pages_back to the changes).
    row = dict(zip(table[0].split(), next(line.split() for line in table if line.startswith(f"{summary['id']} "))))
    assert row["back"] == str(gone)
    (listed,) = [r for r in json.loads(run_glossary("runs", "--db", str(archived), "--json").stdout)
                 if r["id"] == summary["id"]]
    assert (listed["pages_back"], listed["pages_still_gone"]) == (gone, 0)


def test_a_held_run_that_a_later_refresh_passed_can_only_be_discarded(site, archived):
    """The site is back the next night and the refresh passes: the held run's versions are now older
    than the archive's. `held` says only --discard remains, --accept refuses with the run that stands
    in the way and changes nothing, and --discard forgets the held pages."""
    set_mode(site, "maintenance")
    held = json.loads(refresh(archived, "--max-age", "0", "--json").stdout)
    assert held["finish_reason"] == "held"
    set_mode(site, "normal")
    passed = json.loads(refresh(archived, "--max-age", "0", "--json").stdout)
    assert passed["finish_reason"] == "finished"
    before = current(archived), history(archived)

    listed = run_glossary("held", "--db", str(archived))
    assert (f"Run #{held['id']} (refresh, {held['started_at']}): held; run #{passed['id']} has archived pages "
            "since, so only --discard remains") in listed.stdout
    (report,) = json.loads(run_glossary("held", "--db", str(archived), "--json").stdout)
    assert report["superseded_by"] == passed["id"]
    refused = run_glossary("held", "--db", str(archived), "--accept", str(held["id"]))
    assert refused.returncode == 2
    assert (f"run #{passed['id']} has archived pages since run #{held['id']} was held: its versions would be "
            "older than the archive's; discard it") in refused.stderr
    assert (current(archived), history(archived)) == before
    assert run_glossary("held", "--db", str(archived), "--discard", str(held["id"])).returncode == 0
    assert rows(archived, "SELECT count(*) AS n FROM staged")[0]["n"] == 0
    assert (current(archived), history(archived)) == before
    assert archive_problems(archived) == []


def test_a_refresh_locked_out_after_a_held_run_does_not_stand_in_the_way_of_its_acceptance(site, archived):
    """A cron refresh that met another writer's lock (exit 3) archived nothing: the held run before it can
    still be accepted. It was taken for a run that had archived pages, and only --discard remained."""
    from glossary_spider.lock import ArchiveLock

    set_mode(site, "maintenance")
    held = json.loads(refresh(archived, "--max-age", "0", "--json").stdout)
    assert held["finish_reason"] == "held"
    set_mode(site, "normal")
    with ArchiveLock(archived, "reparse"):
        assert refresh(archived, "--max-age", "0").returncode == ExitStatus.LOCKED
    accepted = run_glossary("held", "--db", str(archived), "--accept", str(held["id"]))
    assert accepted.returncode == 0, accepted.stderr
    refused = rows(archived, "SELECT id, finish_reason FROM crawl_runs WHERE id > ?", (held["id"],))
    assert refused == [{"id": held["id"] + 1, "finish_reason": "locked"}]


def test_a_stop_during_an_accept_says_truly_whether_the_run_was_accepted(site, archived, tmp_path):
    """Ctrl-C while `held --accept` ran said click's "Aborted." whether or not the run had been accepted (now
    and then it had been), one that came as the command ended made its status Python's 130, and SIGTERM
    killed it without a word; a second stop broke into the first's ending with a traceback, or killed it. Stopped
    twice at moments through an accept, each says what became of the run, and exits 0 only where it was accepted."""
    set_mode(site, "maintenance")
    held = json.loads(refresh(archived, "--max-age", "0", "--json").stdout)["id"]
    set_mode(site, "normal")
    command = [*GLOSSARY, "held", "--accept", str(held), "--no-progress", "--db"]
    for share, db, status, out, err in _stopped_twice(command, archived, tmp_path, (0.5, 0.7, 0.8, 0.9, 0.95, 1.0)):
        (decision,) = rows(db, "SELECT decision FROM gate_reports WHERE run_id = ?", (held,))
        if decision["decision"] is None:
            assert status == 1, (share, out, err)
            assert err in (f"Interrupted: run {held} is held still: nothing of it was archived or forgotten\n",
                           "Interrupted while starting up: nothing was written\n"), (share, err)
        else:
            assert decision["decision"] == "accepted" and status == 0, (share, out, err)
            assert err == "" and out.startswith(f"Run #{held} accepted"), (share, out, err)
        assert archive_problems(db) == []


def _stopped_twice(command: list[str], archived: Path, tmp_path: Path, shares: tuple[float, ...]) -> Iterator[tuple]:
    """``command`` (its --db last) run once on a copy of ``archived`` to time it, then on a copy for each of
    ``shares`` of that time, stopped there twice, 20 ms apart (Ctrl-C pressed again, SIGTERM sent twice; Ctrl-C
    and SIGTERM in turn): for each, the share, the copy, and the command's exit status, output and error."""
    started = time.monotonic()
    timed = launcher.run([*command, str(shutil.copy(archived, tmp_path / "timed.db"))], capture_output=True)
    assert timed.returncode == 0, timed.stderr
    duration = time.monotonic() - started
    for n, share in enumerate(shares):
        db = shutil.copy(archived, tmp_path / f"stopped-{n}.db")
        process = launcher.popen([*command, str(db)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        time.sleep(share * duration)
        stop = (signal.SIGINT, signal.SIGTERM)[n % 2]
        process.send_signal(stop)
        time.sleep(0.02)
        process.send_signal(stop)
        out, err = process.communicate(timeout=60)
        yield share, db, process.returncode, out, err


def test_a_reparse_stopped_twice_at_any_moment_ends_with_one_line_and_status_1(archived, tmp_path):
    """A reparse stopped by SIGTERM or Ctrl-C was killed by the signal (status 143 or 130, no line) where it came
    as the command took the stops over or as Python exited, and ran on to the end as never stopped where it came
    as its workers were forked; a second stop broke into the first's ending. Stopped twice at moments through a
    reparse, each ends with its one line and status 1, or is done (status 0) where the stop came after its end."""
    command = [*GLOSSARY, "reparse", "--no-progress", "--workers", "2", "--db"]
    carry_on = "to carry on; the pages done are not read again\n"
    for share, db, status, out, err in _stopped_twice(command, archived, tmp_path, (0.2, 0.35, 0.5, 0.65, 0.8, 0.95)):
        (last,) = rows(db, "SELECT finish_reason FROM crawl_runs ORDER BY id DESC LIMIT 1")
        if status == 0:
            assert last["finish_reason"] == "finished" and err == "", (share, out, err)
        else:
            assert status == 1, (share, status, out, err)
            assert err.endswith(carry_on) or err == "Interrupted while starting up: nothing was written\n", (share, err)
            assert "Traceback" not in err
        assert archive_problems(db) == []


def test_a_sitemap_whose_lastmod_never_moves_on_hides_no_change(site, archived):
    """A CMS that never updates its sitemap: every lastmod is older than the pages' last fetch, while the
    pages change. A lastmod older than the Last-Modified the page itself was served with lags behind it:
    the refresh asks the page again (conditionally), and records exactly the pages that changed; it skipped
    them for a week on the sitemap's word. Where a site sends no Last-Modified, the lastmod is taken for a
    week; past it, the page is asked again."""
    import sqlite3
    from datetime import datetime, timedelta, timezone

    def edited(generation):
        old, new = ReplicaSite(PAGES, generation - 1), ReplicaSite(PAGES, generation)
        return {site.url + p for p in set(old.glossary_paths()) & set(new.glossary_paths())
                if old.document(p, "")["blocks"] != new.document(p, "")["blocks"]}

    site.set_generation(2)
    set_mode(site, "stale-lastmod")
    result = json.loads(refresh(archived, "--json").stdout)
    assert result["finish_reason"] == "finished"
    assert {r["url"] for r in rows(archived, "SELECT v.url FROM page_versions v JOIN pages p ON p.url = v.url "
                                             "WHERE v.version = 2 AND p.page_type != 'other'")} == edited(2)

    # A site that sends no Last-Modified: its sitemap's lastmod is all there is, taken for a week.
    with sqlite3.connect(archived) as conn:
        conn.execute("UPDATE captures SET last_modified = NULL")
    conn.close()
    site.set_generation(3)
    before = {r["url"]: r["version"] for r in rows(archived, "SELECT url, version FROM pages")}
    hidden = json.loads(refresh(archived, "--json").stdout)
    assert hidden["finish_reason"] == "finished"
    moved_on = {r["url"] for r in rows(archived, "SELECT url, version FROM pages WHERE page_type != 'other'")
                if r["url"] in before and r["version"] != before[r["url"]]}
    assert len(edited(3) - moved_on) >= len(edited(3)) / 2, "within the week, the sitemap's lastmod hides the edits"
    assert hidden["pages_not_asked"] >= len(edited(3) - moved_on)  # and the summary counts the pages it spared
    a_week_and_a_day_ago = (datetime.now(timezone.utc) - timedelta(days=8)).isoformat(timespec="seconds")
    with sqlite3.connect(archived) as conn:
        conn.execute("UPDATE pages SET last_fetched = ?", [a_week_and_a_day_ago])
    conn.close()
    assert json.loads(refresh(archived, "--json").stdout)["finish_reason"] == "finished"
    moved_on = {r["url"] for r in rows(archived, "SELECT url, version FROM pages WHERE page_type != 'other'")
                if r["url"] in before and r["version"] != before[r["url"]]}
    assert moved_on == edited(3)
    assert archive_problems(archived) == []


def test_an_edit_on_the_day_of_the_last_fetch_is_not_hidden_by_a_lastmod_without_a_time(site, archived):
    """Sitemaps whose lastmod is a date alone, as the W3C format allows: a page edited today, after the
    archive fetched it, says today, which read as midnight was older than that fetch; the refresh
    skipped the edit, for a week. A lastmod must be a day older than the last fetch to skip a page."""
    old, new = ReplicaSite(PAGES, 1), ReplicaSite(PAGES, 2)
    edited = {site.url + p for p in set(old.glossary_paths()) & set(new.glossary_paths())
              if old.document(p, "")["blocks"] != new.document(p, "")["blocks"]}
    site.set_generation(2)
    set_mode(site, "date-lastmod")
    result = refresh(archived, "--json")
    assert result.returncode == 0, result.stderr
    changed = {r["url"] for r in rows(archived, "SELECT v.url FROM page_versions v JOIN pages p USING (url) "
                                                "WHERE v.version > 1 AND p.page_type != 'other'")}
    assert edited and changed == edited
    assert json.loads(result.stdout)["requests"] < PAGES / 2, "pages with an older lastmod are still skipped"


def test_soft_404s_mark_pages_gone_and_never_become_versions(site, archived):
    site.set_generation(2)
    set_mode(site, "soft404")
    deleted = {site.url + p for p in ReplicaSite(PAGES, 1).glossary_paths()
               if not ReplicaSite(PAGES, 2).is_live(p)}
    assert deleted
    result = refresh(archived, "--max-age", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    gone = {r["url"] for r in rows(archived, "SELECT url FROM pages WHERE status = 'gone'")}
    assert gone == deleted
    assert f"({len(deleted)} archived, marked gone" in result.stdout, result.stdout
    assert rows(archived, "SELECT url FROM page_versions WHERE body_text LIKE '%find what you%' "
                          "OR title LIKE 'Nothing found%'") == []
    # History holds the real changes, and only them: the pages generation 2 edited.
    before, after = ReplicaSite(PAGES, 1), ReplicaSite(PAGES, 2)
    edited = {site.url + p for p in set(before.glossary_paths()) & set(after.glossary_paths())
              if before.document(p, "")["blocks"] != after.document(p, "")["blocks"]}
    versions = rows(archived, "SELECT v.url FROM page_versions v JOIN pages p ON p.url = v.url "
                              "WHERE v.version > 1 AND p.page_type != 'other'")  # the home page lists new posts
    assert {r["url"] for r in versions} == edited
    # The next night, the pages gone answer the "not found" page again: still gone, not news.
    again = json.loads(refresh(archived, "--json").stdout)
    assert (again["pages_gone"], again["pages_still_gone"]) == (0, len(deleted))
    # A reparse reads each page's archived body: for a page gone, what the site said before it went. It read the
    # "not found" page the still-gone captures hold, and made it a version of every page gone.
    assert run_glossary("reparse", "--db", str(archived), "--no-progress").returncode == 0
    assert rows(archived, "SELECT url FROM page_versions WHERE title LIKE 'Nothing found%'") == []
    assert archive_problems(archived) == []


def test_refreshes_a_budget_stops_take_turns_not_the_same_pages_every_night(site, archived):
    """A refresh stopped by its budget, followed by a new one (a nightly `refresh --max-duration 2h`), asked
    for the same pages first every night: those past the budget were never asked again. The least lately
    fetched go first."""
    known = rows(archived, "SELECT count(*) AS n FROM pages")[0]["n"]
    asked: list[set[str]] = []
    for _ in range(3):
        site.clear_log()
        night = refresh(archived, "--max-age", "0", "--max-requests", "30", "--no-follow", "--sitemap",
                        f"{site.url}/no-sitemap.xml")
        assert night.returncode == ExitStatus.STOPPED_EARLY, night.stdout + night.stderr
        asked.append({r["path"] for r in site.requests() if r["path"].endswith("/")})
    assert all(len(night) >= 20 for night in asked), [len(night) for night in asked]
    assert not asked[0] & asked[1] and not asked[1] & asked[2] and known > 60


def test_a_run_stopped_by_its_budget_is_judged_whole_not_part_by_part(site, archived):
    """A maintenance page at every URL, fetched a few pages a part (--max-requests, then --resume): each
    part was judged alone, too few pages to trip same_page, so part after part reached history. The
    gate counts what the run's earlier parts archived: the second part trips it."""
    set_mode(site, "maintenance")
    maintenance = "SELECT count(*) AS n FROM pages WHERE title LIKE 'We%ll be back soon'"
    first = refresh(archived, "--max-age", "0", "--max-requests", "5", "--concurrency", "1")
    assert first.returncode == ExitStatus.STOPPED_EARLY, first.stdout + first.stderr
    reached = rows(archived, maintenance)[0]["n"]
    assert 0 < reached < 5  # too few alone for same_page (5 by default): archived
    for _ in range(3):
        part = run_glossary("refresh", "--db", str(archived), "--resume", "--no-progress")
        assert part.returncode == ExitStatus.STOPPED_EARLY, part.stdout + part.stderr
    assert rows(archived, maintenance)[0]["n"] == reached
    assert rows(archived, "SELECT held FROM gate_reports WHERE run_id = (SELECT max(id) FROM crawl_runs)") == [
        {"held": 1}]


def test_an_accepted_run_keeps_its_soft_404s_gone_and_the_next_night_they_are_no_news(site, archived):
    """Accepting a held run made the "not found" page a version of every soft 404 and brought its
    pages back to life; and soft 404s already gone were counted again, night after night, as if the
    site had lost those pages anew (held, exit 5), and in the health of their page type."""
    site.set_generation(6)
    set_mode(site, "soft404")
    deleted = {site.url + p for p in ReplicaSite(PAGES, 1).glossary_paths() if not ReplicaSite(PAGES, 6).is_live(p)}
    assert len(deleted) >= 5
    held = json.loads(refresh(archived, "--json", "--gate", "soft-404-share=0.01").stdout)
    assert held["finish_reason"] == "held"
    accepted = run_glossary("held", "--db", str(archived), "--accept", str(held["id"]))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert f"{len(deleted)} gone" in accepted.stdout  # as the run's row counts them
    assert {r["url"] for r in rows(archived, "SELECT url FROM pages WHERE status = 'gone'")} == deleted
    (shown,) = json.loads(run_glossary("held", "--db", str(archived), "--run", str(held["id"]), "--json").stdout)
    assert shown["decision"] == "accepted" and isinstance(shown["run"]["args"], dict)
    report = run_glossary("report", "--db", str(archived)).stdout
    assert re.search(rf"^  {held['id']} +refresh +\S+ +held \(accepted\) ", report, re.M), report
    assert rows(archived, "SELECT url FROM page_versions WHERE title LIKE 'Nothing found%'") == []
    assert rows(archived, "SELECT count(*) AS n FROM captures WHERE run_id = ? AND outcome = 'gone'",
                (held["id"],)) == [{"n": len(deleted)}]
    # The next nights they answer the "not found" page again: still gone, and the run passes.
    for _ in range(2):
        again = refresh(archived, "--json")
        assert again.returncode == 0, again.stdout + again.stderr
        assert json.loads(again.stdout)["pages_still_gone"] == len(deleted)
    assert rows(archived, "SELECT url FROM page_versions WHERE title LIKE 'Nothing found%'") == []
    assert archive_problems(archived) == []
    # 'glossary show' says why a page answering 200 is gone, where it said "gone (HTTP 200)" alone.
    shown = run_glossary("show", sorted(deleted)[0], "--db", str(archived))
    assert 'gone (HTTP 200: the site\'s "not found" page) · version' in shown.stdout, shown.stdout + shown.stderr
    # The report's broken related links to them said "(200)", as if they worked.
    broken = run_glossary("report", "--db", str(archived)).stdout.split("Broken related links: ")[1].split("\n\n")[0]
    to_deleted = [line for line in broken.splitlines()[1:] if line.split(" -> ")[-1].split(" (")[0] in deleted]
    assert to_deleted and all(line.endswith(' (soft 404: the site\'s "not found" page, HTTP 200)')
                              for line in to_deleted), broken


def refreshed_in_mode(site, db, mode: str) -> tuple[subprocess.CompletedProcess, dict, dict]:
    """A refresh of ``db`` with the replica in ``mode`` (normal again after): the process, its JSON summary and
    the quality gate's ``gone`` check."""
    set_mode(site, mode)
    try:
        result = refresh(db, "--json")
    finally:
        set_mode(site, "normal")
    summary = json.loads(result.stdout)
    (gone,) = [c for c in summary["gate"]["checks"] if c["name"] == "gone"]
    return result, summary, gone


def test_pages_deleted_on_purpose_go_on_a_quiet_night_without_holding_the_run(site, tmp_path):
    """The site deleted a few pages (404, and its sitemaps no longer list them) and changed nothing else:
    the refresh skips every other page by its sitemap lastmod, so the deleted pages were all the archived
    pages it asked about, and the gate held the run, every night, as a site that had lost its pages. The
    sitemaps and the server agree: the pages went on purpose."""
    from glossary_spider.replica.modes import pruned

    archived = tmp_path / "sitemapped.db"
    assert crawl(archived, "--sitemap", f"{site.url}/sitemap_index.xml", "--no-follow").returncode == 0
    deleted = {site.url + p for p in ReplicaSite(PAGES).glossary_paths() if pruned(p)}
    assert len(deleted) >= 5
    result, summary, gone = refreshed_in_mode(site, archived, "pruned")
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary["pages_gone"] == len(deleted) and summary["requests"] < PAGES / 2
    assert not gone["tripped"] and gone["numbers"] == {"gone": 0, "asked": len(deleted),
                                                        "dropped_from_sitemaps": len(deleted)}
    assert {r["url"] for r in rows(archived, "SELECT url FROM pages WHERE status = 'gone'")} == deleted


def test_most_pages_deleted_is_held_however_the_sitemaps_agree(site, tmp_path):
    """A database restored from the wrong night: most posts answer 404 and the sitemaps, made from the database,
    list the rest. Every deletion was taken for one on purpose, and two thirds of the archive went unasked."""
    from glossary_spider.replica.modes import gutted

    archived = tmp_path / "sitemapped.db"
    assert crawl(archived, "--sitemap", f"{site.url}/sitemap_index.xml", "--no-follow").returncode == 0
    deleted = {site.url + p for p in ReplicaSite(PAGES).sitemap_paths() if gutted(p)}
    assert len(deleted) >= rows(archived, "SELECT count(*) AS n FROM pages")[0]["n"] / 2
    result, _, gone = refreshed_in_mode(site, archived, "gutted")
    assert result.returncode == ExitStatus.HELD, result.stdout + result.stderr
    assert gone["tripped"] and gone["numbers"]["gone"] == len(deleted)
    assert "dropped_from_sitemaps" not in gone["numbers"]
    assert "the site's sitemaps dropped them too, but they are 67% of the archive's live pages" in gone["summary"]
    assert rows(archived, "SELECT count(*) AS n FROM pages WHERE status = 'gone'") == [{"n": 0}]


def test_most_pages_deleted_is_held_in_a_refresh_run_in_parts_under_a_budget(site, tmp_path):
    """The same wrong night's database, met by a refresh that runs in parts under --max-requests: each part asked
    about too few pages for its 404s to be most of the archive, and the sitemaps agreed, so each part passed and
    marked its pages gone; the site went part by part. What the sitemaps no longer list is read from them whole."""
    from glossary_spider.replica.modes import gutted

    archived = tmp_path / "sitemapped.db"
    assert crawl(archived, "--sitemap", f"{site.url}/sitemap_index.xml", "--no-follow").returncode == 0
    assert sum(gutted(p) for p in ReplicaSite(PAGES).sitemap_paths()) >= PAGES / 2
    set_mode(site, "gutted")
    try:
        part = refresh(archived, "--max-requests", "20", "--json")
        assert part.returncode == ExitStatus.STOPPED_EARLY, part.stdout + part.stderr
        gate = json.loads(part.stdout)["gate"]
        (gone,) = [c for c in gate["checks"] if c["name"] == "gone"]
        assert gate["held"]
        assert gone["tripped"] and "no longer list 67% of the archive's live pages" in gone["summary"], gone
    finally:
        set_mode(site, "normal")
    assert rows(archived, "SELECT count(*) AS n FROM pages WHERE status = 'gone'") == [{"n": 0}]


def test_a_crawl_of_a_gutted_site_resumed_part_by_part_is_held_as_the_crawl_whole(site, archived):
    """A crawl over the archive of a site that lost most of its pages, stopped by its budget while held so far, and
    resumed: the answers it set aside to ask again had taught the trap guard that their families add nothing, so
    most were never asked again; and counted asked while their 404s were not, they let each resumed part pass and
    mark its pages gone, the run ending done. Resumed to its end, it is held as the crawl whole is, nothing gone."""
    args = ("--start-url", f"{site.url}/", "--delay", "0", "--concurrency", "8", "--max-requests", "40")
    set_mode(site, "gutted")
    try:
        result = crawl(archived, *args)
        for _ in range(10):
            if result.returncode != ExitStatus.STOPPED_EARLY:
                break
            assert rows(archived, "SELECT count(*) AS n FROM pages WHERE status = 'gone'") == [{"n": 0}]
            result = crawl(archived, *args, "--resume")
        assert result.returncode == ExitStatus.HELD, result.stdout + result.stderr
        run = rows(archived, "SELECT max(id) AS id FROM crawl_runs")[0]["id"]
        # Every page whose answer was set aside was asked again: none is left with that answer alone.
        assert rows(archived, "SELECT count(DISTINCT url) AS n FROM captures WHERE run_id = ? AND outcome = "
                              "'discarded' AND url NOT IN (SELECT url FROM captures WHERE run_id = ? AND outcome != "
                              "'discarded')", (run, run)) == [{"n": 0}]
        assert not rows(archived, "SELECT url FROM crawl_errors WHERE run_id = ? AND stage = 'trap'", (run,))
    finally:
        set_mode(site, "normal")
    assert rows(archived, "SELECT count(*) AS n FROM pages WHERE status = 'gone'") == [{"n": 0}]


def test_a_page_of_a_type_the_sitemaps_never_listed_is_not_one_they_dropped(site, tmp_path):
    """Read alone, an area sitemap lists no definition: definitions that went were counted as ones 'the site's
    sitemaps no longer list', deletions on purpose, though no sitemap had ever listed them."""
    from glossary_spider.replica.modes import pruned

    archived = tmp_path / "areas.db"
    assert crawl(archived, "--start-url", f"{site.url}/", "--sitemap", f"{site.url}/area-sitemap.xml").returncode == 0
    deleted = {site.url + p for p in ReplicaSite(PAGES).glossary_paths() if pruned(p)}
    result, _, gone = refreshed_in_mode(site, archived, "pruned")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not gone["tripped"] and gone["numbers"]["gone"] == len(deleted) >= 5, gone
    assert "dropped_from_sitemaps" not in gone["numbers"] and "no longer list" not in gone["summary"]


def test_a_site_answering_404_everywhere_is_held_and_no_page_goes_until_accepted(site, archived):
    """A deploy that lost the site answers 404 at every URL: that is not the pages' deletion. The refresh
    is held (exit 5) and every page stays live; discarded, nothing went; accepted, every page is gone."""
    before_pages = current(archived)
    live = {r["url"] for r in before_pages if r["status"] == "live"}
    set_mode(site, "not-found")
    result = refresh(archived, "--max-age", "0", "--json")
    assert result.returncode == ExitStatus.HELD, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    (gone,) = [c for c in summary["gate"]["checks"] if c["name"] == "gone"]
    assert gone["tripped"] and gone["numbers"] == {"gone": len(live), "asked": len(live)}
    assert set(gone["examples"]) <= live and len(gone["examples"]) == 5
    assert (summary["pages_gone"], summary["changes"]) == (0, 0)
    assert current(archived) == before_pages
    text = run_glossary("held", "--db", str(archived))
    assert (f"{len(live)} of the {len(live)} archived pages the run asked about went "
            "(404, 410 or a redirect elsewhere)") in text.stdout

    accepted = archived.with_name("accepted.db")
    shutil.copy(archived, accepted)
    discarded = run_glossary("held", "--db", str(archived), "--discard", str(summary["id"]))
    assert discarded.returncode == 0, discarded.stderr
    assert current(archived) == before_pages
    set_mode(site, "normal")
    again = json.loads(refresh(archived, "--json").stdout)
    assert (again["finish_reason"], again["pages_gone"], again["pages_back"]) == ("finished", 0, 0)
    assert {r["url"] for r in current(archived) if r["status"] == "live"} == live

    result = run_glossary("held", "--db", str(accepted), "--accept", str(summary["id"]))
    assert result.returncode == 0, result.stderr
    assert rows(accepted, "SELECT DISTINCT status, http_status FROM pages") == [{"status": "gone", "http_status": 404}]
    (run,) = rows(accepted, "SELECT pages_gone FROM crawl_runs WHERE id = ?", (summary["id"],))
    assert run["pages_gone"] == len(live)
    assert archive_problems(accepted) == [] and archive_problems(archived) == []


def test_a_refresh_that_marks_every_page_gone_is_done_and_the_next_that_finds_none_ends_empty(site, archived):
    """A refresh, its gate turned off, that marks every archived page gone did its work (mass deletions are
    the gate's to judge): exit 0. The next, every URL still 404 and the archive holding no live page,
    archived nothing at all, yet said "finished", exit 0, night after night: it ends empty, exit 1."""
    live = [r for r in current(archived) if r["status"] == "live"]
    set_mode(site, "not-found")
    result = refresh(archived, "--gate", "off", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert (summary["finish_reason"], summary["pages_gone"]) == ("finished", len(live))

    result = refresh(archived, "--json")
    assert result.returncode == ExitStatus.FAILED, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert (summary["finish_reason"], summary["outcome"], summary["exit_status"], summary["pages_still_gone"]) == (
        "empty", "failed", 1, len(live))
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: refresh #{summary['id']} left the archive with no page: {len(live)} URLs "
                           "answered 404 or 410"), line
    assert line.endswith("check the start URLs and sitemaps it was given (has the site moved?)"), line
    check = run_glossary("runs", "--db", str(archived), "--check")
    assert check.returncode == ExitStatus.FAILED and "left the archive with no page" in check.stderr, check.stderr


def test_a_site_sending_every_page_to_its_home_page_is_held_and_accepted_pages_have_moved(site, archived):
    """Every URL but the home page redirects there: the pages went, not changed. Held; accepted, each
    is gone with the redirect's status and Location in its capture, and the home page stays live."""
    home = f"{site.url}/"
    before_pages = current(archived)
    set_mode(site, "moved")
    result = refresh(archived, "--max-age", "0", "--json")
    assert result.returncode == ExitStatus.HELD, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    (gone,) = [c for c in summary["gate"]["checks"] if c["name"] == "gone"]
    assert gone["tripped"] and gone["numbers"] == {"gone": len(before_pages) - 1, "asked": len(before_pages)}
    assert current(archived) == before_pages

    assert run_glossary("held", "--db", str(archived), "--accept", str(summary["id"])).returncode == 0
    pages = {r["url"]: r for r in rows(archived, "SELECT url, status, http_status FROM pages")}
    assert pages.pop(home) == {"url": home, "status": "live", "http_status": 200}
    assert {(p["status"], p["http_status"]) for p in pages.values()} == {("gone", 301)}
    captures = rows(archived, "SELECT url, outcome, http_status, headers FROM captures WHERE run_id = ? AND url != ?",
                    (summary["id"], home))
    # The URLs that were never pages (the about page, the category listings) moved: no page to mark gone.
    moved = {c["url"] for c in captures if c["outcome"] == "moved"}
    assert moved and not moved & set(pages)
    captures = [c for c in captures if c["outcome"] != "moved"]
    assert {c["url"] for c in captures} == set(pages)
    assert {(c["outcome"], c["http_status"], c["headers"]) for c in captures} == {("gone", 301, f"Location: {home}")}
    assert archive_problems(archived) == []


def test_a_site_answering_with_what_is_not_a_page_is_held_and_its_pages_count_as_failed(site, archived):
    """200 with a JSON error at every URL: nothing to archive, nothing gone. Not a night with nothing new:
    every page failed (the summary counts them), and the gate holds the run."""
    before_history, before_pages = history(archived), current(archived)
    set_mode(site, "json-error")
    result = refresh(archived, "--max-age", "0", "--json")
    assert result.returncode == ExitStatus.HELD, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    (check,) = [c for c in summary["gate"]["checks"] if c["tripped"]]
    assert check["name"] == "not_pages" and check["numbers"] == {"not_pages": len(before_pages),
                                                                 "asked": len(before_pages)}
    assert (summary["pages_failed"], summary["changes"]) == (len(before_pages), 0)
    assert history(archived) == before_history and current(archived) == before_pages
    errors = rows(archived, "SELECT DISTINCT stage, error FROM crawl_errors WHERE run_id = ? ORDER BY stage",
                  (summary["id"],))
    assert errors == [{"stage": "parse", "error": "not an HTML page (application/json)"},
                      {"stage": "sitemap", "error": "not a sitemap: neither XML nor a list of URLs, one a line"}]


def test_a_first_crawl_of_a_soft_404_site_archives_no_not_found_page(site, tmp_path):
    set_mode(site, "soft404")
    try:
        db = tmp_path / "soft.db"
        result = crawl(db, "--start-url", f"{site.url}/", "--sitemap", f"{site.url}/sitemap_index.xml")
    finally:
        set_mode(site, "normal")
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT url FROM pages WHERE title LIKE 'Nothing found%'") == []
    missing = rows(db, "SELECT url, http_status FROM crawl_errors WHERE error LIKE 'soft 404%'")
    assert missing and {r["http_status"] for r in missing} == {200}, missing
    # The summary says what became of them: none was archived, so none was marked gone.
    assert f"\"not found\" page ({len(missing)} never archived, failed; e.g. " in result.stdout, result.stdout
    assert "marked gone" not in result.stdout


@pytest.mark.parametrize("mode, status", [("rate-limited", 429), ("forbidden", 403)])
def test_a_rate_limited_or_closed_site_is_a_site_that_did_not_answer_and_resume_fetches_its_pages(
        site, tmp_path, mode, status):
    """429 Too Many Requests at every URL, after Scrapy's retries, or 403 Forbidden: no page was refused
    for its own sake, the site said "not now" or "not you". The run ends as an outage (exit 6), not as
    done with pages failed, and --resume fetches them once the site answers."""
    paths = ReplicaSite(PAGES).glossary_paths()[:3]
    db = tmp_path / "limited.db"
    start = [a for path in paths for a in ("--start-url", f"{site.url}{path}")]
    set_mode(site, mode)
    try:
        result = crawl(db, *start, "--no-follow")
    finally:
        set_mode(site, "normal")
    assert result.returncode == ExitStatus.UNREACHABLE, result.stderr
    assert result.stderr.startswith("Error: the site did not answer, or refused us: 3 of 3 fetches failed"), \
        result.stderr
    assert {r["http_status"] for r in rows(db, "SELECT http_status FROM captures")} == {status}
    assert rows(db, "SELECT count(*) AS n FROM pages")[0]["n"] == 0

    result = crawl(db, "--resume")
    assert result.returncode == 0, result.stderr
    assert sorted(r["url"] for r in rows(db, "SELECT url FROM pages")) == sorted(f"{site.url}{p}" for p in paths)


def test_a_refresh_gives_up_on_a_site_that_stopped_answering_and_resume_finishes_it(site, archived):
    """The site answers nothing but 429s: rather than trying every archived page with its retries, the
    refresh gives up once no attempt has been answered for --give-up-after (exit 6), and --resume, once
    the site answers, fetches again every page that got no answer."""
    known = len(current(archived))
    set_mode(site, "rate-limited")
    try:
        result = refresh(archived, "--give-up-after", "1s", "--concurrency", "2", "--json")
    finally:
        set_mode(site, "normal")
    assert result.returncode == ExitStatus.UNREACHABLE, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["finish_reason"] == "unreachable"
    assert 10 <= summary["requests"] < known / 2, "given up after 10 attempts in a row, not after every page"
    # Its attempts were still being retried: none failed for good, and the line says what happened.
    host = site.url.removeprefix("http://")
    assert re.fullmatch(rf"Error: {re.escape(host)} gave no answer for \d+ s \(\d+ attempts in a row\): given up"
                        r"(; \d+ of \d+ fetches failed for good \(see 'glossary report'\))?; "
                        r"when it is back, 'glossary refresh --resume .*' tries them again\n",
                        result.stderr), result.stderr

    result = run_glossary("refresh", "--db", str(archived), "--resume", "--json", "--no-progress")
    assert result.returncode == 0, result.stderr
    resumed = json.loads(result.stdout)
    assert resumed["id"] == summary["id"] and resumed["finish_reason"] == "finished"
    left = rows(archived, "SELECT url FROM captures WHERE run_id = ? AND url NOT LIKE '%.xml' GROUP BY url "
                          "HAVING max(http_status != 429) = 0",
                (summary["id"],))
    assert left == [], "every page refused with a 429 was fetched again"


def test_a_redesign_the_extraction_misses_is_held_then_accepted(site, archived):
    set_mode(site, "redesign")
    versions = len(history(archived))
    result = refresh(archived, "--max-age", "0")
    assert result.returncode == ExitStatus.HELD, result.stdout + result.stderr
    assert "health:" in result.stdout and "JSON-LD" in result.stdout
    assert len(history(archived)) == versions
    run_id = rows(archived, "SELECT max(id) AS id FROM crawl_runs")[0]["id"]
    accepted = run_glossary("held", "--db", str(archived), "--accept", str(run_id), "--progress")
    assert accepted.returncode == 0, accepted.stderr
    changed = rows(archived, "SELECT count(*) AS n FROM page_versions WHERE run_id = ?", (run_id,))[0]["n"]
    assert changed >= PAGES * 0.5, "the held run's versions were written from its captures"
    # Its progress, a page at a time (not a terminal: a line at the first hundred, then every 30 s, and the last).
    done = re.findall(rf"^accepting run #{run_id}: (\d+) of (\d+) pages extracted again and archived$",
                      accepted.stderr, re.M)
    assert len(accepted.stderr.splitlines()) == len(done) >= 2, accepted.stderr
    assert done[0][0] == "100" and done[-1][0] == done[-1][1] and int(done[-1][0]) >= changed, accepted.stderr
    assert rows(archived, "SELECT count(*) AS n FROM staged")[0]["n"] == 0
    assert archive_problems(archived) == []
    again = run_glossary("held", "--db", str(archived), "--accept", str(run_id))
    assert again.returncode == ExitStatus.BAD_INPUT and "accepted" in again.stderr


def test_gate_thresholds_are_set_per_run(site, archived):
    set_mode(site, "maintenance")
    result = refresh(archived, "--max-age", "0", "--gate", "off")
    assert result.returncode == 0, result.stderr  # what a user who turned the gate off asked for
    bad = refresh(archived, "--gate", "same-page=3")
    assert bad.returncode == ExitStatus.BAD_INPUT and "same-page-min" in bad.stderr


def test_staged_pages_beyond_one_write_chunk_are_all_archived(tmp_path):
    """Applying a run reads its staged pages a chunk at a time while it writes the archive."""
    import copy

    from glossary_spider.extraction import extract_page
    from glossary_spider.storage import Archive, Fetch

    site = ReplicaSite(40)
    batch = []
    for path in site.glossary_paths():
        reply = site.render(path, "http://x")
        extraction = extract_page(reply.body, "http://x" + path, reply.content_type)
        for n in range(30):
            clone = copy.deepcopy(extraction)
            clone.record["url"] = f"http://x{path}?copy={n}"
            batch.append((Fetch(clone.record["url"], 200, reply.body, reply.content_type), clone))
    with Archive(tmp_path / "big.db") as archive:
        run_id = archive.start_run("crawl", {})
        archive.stage_pages(run_id, batch)
        assert archive.apply_staged(run_id) == {"new": len(batch)}
    assert len(batch) > 1000
    assert rows(tmp_path / "big.db", "SELECT count(*) AS n FROM pages")[0]["n"] == len(batch)


def test_a_run_stopped_by_its_budget_is_held_so_far_not_offered_for_a_decision(site, archived):
    """A budget stop keeps the run resumable: its held pages are asked about again, and the run judged, when
    it is resumed, so the summary must not also ask for --accept or --discard."""
    set_mode(site, "redesign")
    result = refresh(archived, "--max-age", "0", "--max-requests", "40", "--gate", "min-pages=3")
    assert result.returncode == ExitStatus.STOPPED_EARLY, result.stdout + result.stderr
    assert "HELD so far by the quality gate" in result.stdout
    assert "asks about them again when it is resumed" in result.stdout
    assert "--accept" not in result.stdout and "--resume" in result.stderr
    # Its first line does not say "nothing new": its pages wait, uncounted until the gate passes them.
    assert re.match(r"Refresh #\d+ stopped by .* \d+ pages fetched, held so far by the quality gate\n", result.stdout)
    listed = run_glossary("held", "--db", str(archived))
    assert "asked again and judged when resumed" in listed.stdout and "waiting for --accept" not in listed.stdout
    # 'runs --check', which a monitor reads, and 'runs' said only that the budget stopped it.
    check = run_glossary("runs", "--check", "--db", str(archived))
    assert check.returncode == ExitStatus.STOPPED_EARLY, check.stdout + check.stderr
    assert "the quality gate holds what it fetched so far, which its resume asks about again" in check.stderr
    assert "stopped_early (held so far)" in run_glossary("runs", "--db", str(archived)).stdout
    # Nor may it be accepted or discarded: accepted, its pages became the archive's while the resumed run went on
    # holding them, and the run ended "held" with exit status 0.
    run_id = rows(archived, "SELECT max(id) AS id FROM crawl_runs")[0]["id"]
    versions = rows(archived, "SELECT count(*) AS n FROM versions")[0]["n"]
    for decision in ("--accept", "--discard"):
        refused = run_glossary("held", "--db", str(archived), decision, str(run_id))
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
        assert f"run {run_id} was stopped before its end by --max-requests" in refused.stderr
        assert f"'glossary refresh --resume --db {archived}'" in refused.stderr
    assert rows(archived, "SELECT count(*) AS n FROM versions")[0]["n"] == versions
    assert rows(archived, "SELECT decision FROM gate_reports WHERE run_id = ?", (run_id,)) == [{"decision": None}]
    # The report said it was held, as of a run that ended; and once a new run had taken its place (its held
    # pages set aside), 'glossary held' still said it would be asked again when resumed.
    assert re.search(rf"^  #{run_id} refresh \S+  held so far$", run_glossary("report", "--db", str(archived)).stdout,
                     re.M)
    set_mode(site, "normal")
    assert refresh(archived, "--max-requests", "5").returncode == ExitStatus.STOPPED_EARLY
    listed = run_glossary("held", "--db", str(archived), "--run", str(run_id)).stdout
    assert "held, then discarded at" in listed and "asks about them again" not in listed, listed


@pytest.mark.parametrize("mode", ["not-found", "maintenance", "moved", "redesign"])
def test_a_resumed_run_asks_again_what_its_held_part_was_answered(site, archived, mode):
    """A refresh a budget stopped during an outage is held so far; resumed the next night, when the site is
    back, it did not ask again about the pages the outage had answered: the whole run, mostly good answers,
    passed the gate, and the pages the outage had answered 404 (or "Nothing found", or sent away) went from
    the archive. Resumed, the run asks again about every page its held part was answered, and the latest
    answer stands."""
    before = current(archived)
    set_mode(site, mode)
    first = refresh(archived, "--max-age", "0", "--max-requests", "40")
    assert first.returncode == ExitStatus.STOPPED_EARLY, first.stdout + first.stderr
    assert "HELD so far by the quality gate" in first.stdout
    set_mode(site, "normal")
    for _ in range(5):  # the budget is the run's: each part takes it again
        resumed = run_glossary("refresh", "--db", str(archived), "--resume", "--no-progress", "--json")
        if resumed.returncode != ExitStatus.STOPPED_EARLY:
            break
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    summary = json.loads(resumed.stdout)
    assert (summary["finish_reason"], summary["pages_gone"], summary["changes"]) == ("finished", 0, 0)
    after = current(archived)
    assert [(r["url"], r["status"], r["version"]) for r in after] == [
        (r["url"], r["status"], r["version"]) for r in before]
    assert rows(archived, "SELECT count(*) AS n FROM staged")[0]["n"] == 0
    assert archive_problems(archived) == []


def test_an_outage_over_several_parts_of_a_run_marks_no_page_gone(site, archived):
    """A page is asked again after each held part, not once only: an outage over three nights of a refresh
    taken 40 requests a night answered some pages 404 when first asked and again when asked again; judged
    with the good answers of the nights after, too few to trip the gate, those pages went."""
    before = current(archived)
    set_mode(site, "not-found")
    parts = [refresh(archived, "--max-age", "0", "--max-requests", "40")]
    for _ in range(2):
        parts.append(run_glossary("refresh", "--db", str(archived), "--resume", "--no-progress"))
    assert all(p.returncode == ExitStatus.STOPPED_EARLY and "HELD so far" in p.stdout for p in parts), parts
    set_mode(site, "normal")
    for _ in range(8):
        resumed = run_glossary("refresh", "--db", str(archived), "--resume", "--no-progress", "--json")
        if resumed.returncode != ExitStatus.STOPPED_EARLY:
            break
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert json.loads(resumed.stdout)["pages_gone"] == 0
    assert [(r["url"], r["status"], r["version"]) for r in current(archived)] == [
        (r["url"], r["status"], r["version"]) for r in before]


def stop_a_refresh_once_it_found_pages_gone(db, signum: int, gone: int = 10) -> int:
    """Start a refresh, and stop it with ``signum`` once it has found ``gone`` archived pages gone: its run's id."""
    process = launcher.popen([*GLOSSARY, "refresh", "--db", str(db), "--delay", "0.05", "--concurrency", "1",
                                "--max-age", "0", "--no-progress"],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    found = ("SELECT count(*) AS n FROM captures WHERE outcome = 'gone' AND run_id = "
             "(SELECT max(id) FROM crawl_runs WHERE command = 'refresh')")
    deadline = time.monotonic() + 60
    while (seen := rows(db, found)[0]["n"]) < gone and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signum)
    process.wait(timeout=60)
    assert seen >= gone
    return rows(db, "SELECT max(id) AS id FROM crawl_runs WHERE command = 'refresh'")[0]["id"]


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
@pytest.mark.parametrize("next_run", ["--resume", "afresh"])
def test_a_refresh_killed_during_an_outage_marks_no_page_gone(site, archived, signum, next_run):
    """A refresh killed (kill -9) during an outage, its part never judged by the quality gate, was resumed once
    the site was back: the outage's 404s, judged with the good answers of the resumed part, were too few to trip
    the gate, and those pages went (exit 0, 'runs --check' ok). Stopped by SIGTERM instead, the part was held so
    far and its resume asked again. Resumed, a part the gate never judged is judged on its own first, as a stop by
    SIGTERM has it judged; a new refresh in its place sets the killed run's 404s aside."""
    before = current(archived)
    set_mode(site, "not-found")
    stopped = stop_a_refresh_once_it_found_pages_gone(archived, signum)
    set_mode(site, "normal")
    if next_run == "--resume":
        result = run_glossary("refresh", "--db", str(archived), "--resume", "--no-progress", "--json")
    else:
        result = refresh(archived, "--max-age", "0", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["id"] == stopped if next_run == "--resume" else summary["id"] > stopped
    assert (summary["finish_reason"], summary["pages_gone"], summary["changes"]) == ("finished", 0, 0), summary
    assert summary["pages_unchanged"] == len(before), summary
    assert [(r["url"], r["status"], r["version"]) for r in current(archived)] == [
        (r["url"], r["status"], r["version"]) for r in before]
    assert rows(archived, "SELECT count(*) AS n FROM captures WHERE run_id = ? AND outcome = 'gone'",
                (stopped,))[0]["n"] == 0
    check = run_glossary("runs", "--check", "--db", str(archived))
    assert check.returncode == 0 and "0 gone" in check.stdout, check.stdout + check.stderr
    assert archive_problems(archived) == []


def test_a_first_crawl_of_a_site_sending_every_url_to_its_home_page_is_held(site, tmp_path):
    """A first crawl while the site sent every URL to its home page (301) archived that one page, took every
    other URL for an alias of it, and finished: exit 0, and no later run asked about those URLs again."""
    set_mode(site, "moved")
    try:
        result = crawl(tmp_path / "a.db", "--start-url", f"{site.url}/definition/",
                       "--sitemap", f"{site.url}/sitemap_index.xml")
    finally:
        set_mode(site, "normal")
    assert result.returncode == ExitStatus.HELD, result.stdout + result.stderr
    assert re.search(rf"moved: \d+ of the \d+ URLs the run asked about redirected to {site.url}/: ", result.stdout)
    assert rows(tmp_path / "a.db", "SELECT count(*) AS n FROM pages")[0]["n"] == 0
    # Nothing to resume: the held run waits for a decision, and the refusal says which.
    resumed = run_glossary("crawl", "--db", str(tmp_path / "a.db"), "--resume")
    assert resumed.returncode == ExitStatus.BAD_INPUT and resumed.stderr.count("\n") == 1, resumed.stderr
    assert "crawl #1 ended held by the quality gate" in resumed.stderr and "--discard 1" in resumed.stderr
    # The commands it gives act on this archive: the one to accept named none, so it acted on the default.
    assert f"'glossary held --accept 1 --db {tmp_path / 'a.db'}'" in resumed.stderr, resumed.stderr


def test_a_resumed_crawl_asks_again_the_urls_its_held_part_saw_sent_to_the_home_page(site, tmp_path):
    """A first crawl under a budget, stopped while the site sent every URL to its home page and resumed once
    it was back, never asked those URLs again: a redirect from a URL the archive did not have left no
    capture for the resume to set aside, and the crawl finished with a fifth of the site."""
    db = tmp_path / "a.db"
    # The run is judged whole: how many pages the first part archived moves the share the held part's redirects
    # are of it (from 40% to 55% as the parts fell): a lower moved-share makes the outage part trip the gate.
    first = crawl(db, "--start-url", f"{site.url}/", "--sitemap", f"{site.url}/sitemap_index.xml",
                  "--max-requests", "20", "--gate", "moved-share=0.25")
    assert first.returncode == ExitStatus.STOPPED_EARLY, first.stdout + first.stderr
    set_mode(site, "moved")
    try:
        held = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress")
    finally:
        set_mode(site, "normal")
    assert held.returncode == ExitStatus.STOPPED_EARLY and "HELD so far" in held.stdout, held.stdout + held.stderr
    assert "moved: " in held.stdout
    for _ in range(12):
        resumed = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress")
        if resumed.returncode != ExitStatus.STOPPED_EARLY:
            break
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    archived = {r["url"] for r in rows(db, "SELECT url FROM pages")}
    assert {site.url + path for path in ReplicaSite(PAGES).glossary_paths()} <= archived
    assert archive_problems(db) == []


def test_a_redesign_in_a_later_part_of_a_run_is_judged_with_the_pages_of_its_earlier_parts(site, archived):
    """A refresh's first part (a budget) archived half the site as it was; the site then went to a theme the
    extraction does not know, and the resumed part, a few pages of each type, each fewer than min-pages, was
    judged on its own: no health check, and the redesigned pages reached history. Judged whole, with the
    pages its earlier part archived, as the same refresh without a budget is, it is held."""
    first = refresh(archived, "--max-age", "0", "--max-requests", "92")
    assert first.returncode == ExitStatus.STOPPED_EARLY, first.stdout + first.stderr
    versions = history(archived)
    set_mode(site, "redesign")
    resumed = run_glossary("refresh", "--db", str(archived), "--resume", "--no-progress")
    assert resumed.returncode == ExitStatus.HELD, resumed.stdout + resumed.stderr
    assert "health:" in resumed.stdout and history(archived) == versions


def test_a_run_held_after_its_earlier_parts_were_archived_does_not_say_nothing_was_written(site, archived):
    """A refresh whose first part passed the gate and wrote its changes, then resumed into a maintenance page
    and held, said "no version written, no page changed": the first part's versions stand."""
    site.set_generation(2)
    first = json.loads(refresh(archived, "--max-age", "0", "--max-requests", "60", "--json").stdout)
    assert first["finish_reason"] == "closespider_pagecount" and first["changes"] > 0, first
    set_mode(site, "maintenance")
    resumed = run_glossary("refresh", "--db", str(archived), "--resume", "--no-progress")
    assert resumed.returncode in (ExitStatus.HELD, ExitStatus.STOPPED_EARLY), resumed.stdout + resumed.stderr
    held = next(line for line in resumed.stdout.splitlines() if line.startswith("HELD"))
    assert "no version written" not in held and "no page changed" not in held
    assert f"the {first['changes']} changes its earlier parts archived stand" in held


def test_pages_an_earlier_part_marked_gone_stay_its_news_when_a_new_run_takes_its_place(site, archived):
    """A new refresh in place of a stopped one set aside the stopped run's unfinished work, and with it the
    pages its passed part had already marked gone: their captures said "discarded", the run no longer
    counted them, and a page coming back was not counted back."""
    set_mode(site, "pruned")  # one definition in ten deleted
    first = json.loads(refresh(archived, "--max-age", "0", "--max-requests", "95", "--json").stdout)
    gone = "SELECT url FROM captures WHERE run_id = ? AND outcome = 'gone' ORDER BY url"
    went = rows(archived, gone, (first["id"],))
    assert first["finish_reason"] == "closespider_pagecount" and went, first
    assert refresh(archived, "--max-requests", "5").returncode == ExitStatus.STOPPED_EARLY
    assert rows(archived, gone, (first["id"],)) == went


def test_looking_at_held_runs_is_never_locked_out_nor_recorded_as_a_run(site, archived):
    from glossary_spider.lock import ArchiveLock

    lock = ArchiveLock(archived, "refresh").acquire()  # a crawl holds the archive
    try:
        listed = run_glossary("held", "--db", str(archived))
        assert listed.returncode == 0, listed.stderr
        decided = run_glossary("held", "--db", str(archived), "--discard", "1")
        assert decided.returncode == ExitStatus.LOCKED, decided.stderr
    finally:
        lock.release()
    check = run_glossary("runs", "--db", str(archived), "--check")
    assert check.returncode == 0, check.stdout + check.stderr  # not "held locked": that was no run
    assert "held" not in run_glossary("runs", "--db", str(archived)).stdout


def as_extractor_5(db):
    """The archive as extractor 5 and schema 2 left it: every content hash, of its pages, their current
    versions and the pages staged, taken over the page's JSON-LD whole, its dateModified included."""
    import sqlite3

    from glossary_spider.extraction import extract_page
    from glossary_spider.extraction.page import content_hash
    from glossary_spider.storage import Archive
    from glossary_spider.storage.history import page_history
    from glossary_spider.storage.staging import kept_rows, staged_rows

    with Archive(db) as archive:
        staged = [(rowid, staged_rows(kept), content_hash(extract_page(archive.body(sha), url).record, churning=True))
                  for rowid, url, sha, kept in archive.db.execute("SELECT rowid, url, body_sha256, rows FROM staged")]
    conn = sqlite3.connect(db)
    with conn:
        for rowid, kept, old in staged:
            kept["page"]["content_hash"] = old
            conn.execute("UPDATE staged SET content_hash = ?, rows = ? WHERE rowid = ?", (old, kept_rows(kept), rowid))
        for url, version in conn.execute("SELECT url, version FROM pages").fetchall():
            latest = page_history(conn, url)[-1]
            old = content_hash({**latest["record"], **{k: latest[k] for k in ("title", "summary", "body_text")}},
                               churning=True)
            conn.execute("UPDATE pages SET content_hash = ? WHERE url = ?", (old, url))
            conn.execute("UPDATE versions SET content_hash = ? WHERE version = ? AND url_id = "
                         "(SELECT id FROM urls WHERE url = ?)", (old, version, url))
        conn.execute("PRAGMA user_version = 2")
    conn.close()


def without_validators(db):
    """The archive's captures without ETag and Last-Modified: a refresh fetches every page whole."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE captures SET etag = NULL, last_modified = NULL")
    conn.close()


def test_an_archive_that_hashed_json_ld_dates_is_hashed_again_and_finds_nothing_new(site, archived):
    """Extractor 6 hashes a page without its JSON-LD's dateModified. An archive of the release before
    (schema 2), with a held run's pages staged, keeps its hashes: accepting the run, and every refresh
    after, took each glossary page for changed, a new version of the same words. Opening it hashes its
    pages, their current versions and the staged pages again."""
    without_validators(archived)
    held = json.loads(refresh(archived, "--max-age", "0", "--gate", "words-ratio=100", "--json").stdout)
    assert held["finish_reason"] == "held"
    assert rows(archived, "SELECT count(*) AS n FROM staged")[0]["n"] > PAGES / 2
    before = current(archived), history(archived)
    as_extractor_5(archived)
    old = current(archived)
    assert old != before[0]
    # Read as it is: a reader upgrades no archive whose tables are today's (a run of that release may be writing it).
    found = run_glossary("search", "--db", str(archived), "the")
    assert found.returncode == 0 and found.stdout, found.stderr
    assert current(archived) == old and rows(archived, "PRAGMA user_version") == [{"user_version": 2}]

    accepted = run_glossary("held", "--db", str(archived), "--accept", str(held["id"]))
    assert accepted.returncode == 0, accepted.stderr
    (run,) = rows(archived, "SELECT pages_changed FROM crawl_runs WHERE id = ?", (held["id"],))
    assert run["pages_changed"] == 0
    assert [{k: p[k] for k in ("url", "content_hash", "version")} for p in current(archived)] == \
        [{k: p[k] for k in ("url", "content_hash", "version")} for p in before[0]]
    assert history(archived) == before[1]
    without_validators(archived)
    summary = json.loads(refresh(archived, "--max-age", "0", "--json").stdout)
    assert (summary["changes"], summary["pages_unchanged"]) == (0, len(before[0]))
    assert history(archived) == before[1]
    assert archive_problems(archived) == []


def test_pages_fetched_by_a_clock_that_ran_ahead_are_asked_again(site, archived):
    """The machine's clock ran ahead during the crawl, then was put right: every page's last fetch was dated
    2099, newer than any sitemap lastmod and younger than any --max-age, so a refresh skipped the pages for
    good and the site's edits were never seen. A last fetch in the future has no age to trust."""
    import sqlite3

    with sqlite3.connect(archived) as conn:
        conn.execute("UPDATE pages SET last_fetched = '2099' || substr(last_fetched, 5)")
        conn.execute("UPDATE captures SET fetched_at = '2099' || substr(fetched_at, 5)")
    conn.close()
    live = rows(archived, "SELECT count(*) AS n FROM pages WHERE status = 'live'")[0]["n"]
    site.set_generation(2)
    summary = json.loads(refresh(archived, "--max-age", "1", "--json").stdout)
    assert summary["pages_changed"] > 0 and summary["pages_not_modified"] == 0
    fetched = rows(archived, "SELECT count(DISTINCT url) AS n FROM captures WHERE run_id = ? AND http_status = 200",
                   (summary["id"],))[0]["n"]
    assert fetched >= live - summary["pages_gone"], (fetched, live, summary)


def test_the_examples_of_a_fall_in_words_are_the_pages_whose_words_fell(site, archived):
    """A fall in the median words was shown by the run's shortest pages, whose words may not have moved (a new
    extractor that reads some pages shorter, the others as they were): the examples are now the pages whose
    words fell furthest against their own archived versions."""
    without_validators(archived)
    fell = [r["url"] for r in rows(archived, "SELECT url FROM pages WHERE page_type = 'definition' "
                                             "ORDER BY word_count DESC LIMIT 3")]
    with sqlite3.connect(archived) as conn:  # as an earlier extractor read them: ten times the words
        conn.executemany("UPDATE pages SET word_count = word_count * 10 WHERE url = ?", [(url,) for url in fell])
    conn.close()
    held = json.loads(refresh(archived, "--max-age", "0", "--gate", "words-ratio=100", "--json").stdout)
    (check,) = [c for c in held["gate"]["checks"] if c["name"] == "health:definition"]
    assert set(check["examples"][:3]) == set(fell), check


def test_each_part_of_a_held_run_under_a_budget_asks_first_what_no_part_has_asked(site, archived):
    """A refresh held so far asked again, first thing in each part, every page its held parts had been answered:
    where they were as many as its budget, each part asked them and nothing else, was held again, and the run never
    went further. Those pages are now asked after every page not asked yet."""
    set_mode(site, "redesign")
    first = refresh(archived, "--max-age", "0", "--max-requests", "40")
    assert first.returncode == ExitStatus.STOPPED_EARLY and "HELD so far" in first.stdout, first.stdout + first.stderr
    run_id = rows(archived, "SELECT max(id) AS id FROM crawl_runs")[0]["id"]
    (asked,) = rows(archived, "SELECT max(id) AS last, count(*) AS n FROM captures WHERE run_id = ?", (run_id,))
    second = run_glossary("refresh", "--db", str(archived), "--resume", "--no-progress")
    assert second.returncode == ExitStatus.STOPPED_EARLY and "HELD so far" in second.stdout, second.stdout
    before = {r["url"] for r in rows(archived, "SELECT url FROM captures WHERE run_id = ? AND id <= ?",
                                     (run_id, asked["last"]))}
    then = [r["url"] for r in rows(archived, "SELECT url FROM captures WHERE run_id = ? AND id > ?",
                                   (run_id, asked["last"]))]
    assert then and not before & set(then), (len(before), len(then))
