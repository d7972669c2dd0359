"""Refreshes, versions, reparse, resume and the lock, against real replica servers."""

import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import launcher
import pytest
from conftest import GLOSSARY, ROOT, Replica, archive_content, archive_problems, crawl, lasting_port, rows, run_glossary

from glossary_spider.lock import ArchiveLock, is_stopped
from glossary_spider.replica import ReplicaSite
from glossary_spider.storage import Archive

# A uid no test runs as: the other user whose lock file the tests meet.
NOBODY = 65534


def path_of(url):
    return "/" + url.split("/", 3)[3]


def refresh(db, *args):
    return run_glossary("refresh", "--db", str(db), "--delay", "0", "--concurrency", "8", "--no-progress", *args)


def generation_change(before: ReplicaSite, after: ReplicaSite):
    """What moved between two generations, from the replica's model alone."""
    old, new = set(before.glossary_paths()), set(after.glossary_paths())
    changed = {p for p in old & new if before.document(p, "")["blocks"] != after.document(p, "")["blocks"]}
    return new - old, old - new, changed


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """An archive of a replica crawled once, and the port that replica listened on (one nothing else
    takes meanwhile: each test serves the replica on it again)."""
    tmp = tmp_path_factory.mktemp("template")
    server = Replica(tmp, port=lasting_port())
    db = tmp / "history.db"
    result = crawl(db, "--start-url", f"{server.url}/", "--sitemap", f"{server.url}/sitemap_index.xml")
    server.stop()
    assert result.returncode == 0, result.stderr
    return db, server.port


@pytest.fixture
def archived(template, tmp_path):
    """A fresh replica on the port of the template's, and a copy of the template archive:
    the same as crawling it anew, in a fraction of the time."""
    db, port = template
    server = Replica(tmp_path, port=port)
    copy = tmp_path / "history.db"
    shutil.copy(db, copy)
    yield server, copy
    server.stop()


def test_a_refresh_records_what_changed_and_nothing_else(archived):
    server, db = archived
    hashes_before = {r["url"]: r["content_hash"] for r in rows(db, "SELECT url, content_hash FROM pages")}
    server.set_generation(2)
    result = refresh(db, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)

    new, gone, changed = generation_change(ReplicaSite(200, 1), ReplicaSite(200, 2))
    assert new and gone and changed  # the generation really moved
    changed |= {"/"}  # the home page lists the newest posts
    outcome = {}
    for capture in rows(db, "SELECT url, outcome FROM captures WHERE run_id = ?", (summary["id"],)):
        outcome[path_of(capture["url"])] = capture["outcome"]
    assert {p for p, o in outcome.items() if o == "new"} == new
    assert {p for p, o in outcome.items() if o == "gone"} == gone
    assert {p for p, o in outcome.items() if o == "changed"} == changed
    assert (summary["pages_new"], summary["pages_gone"], summary["pages_changed"]) == (len(new), len(gone), len(changed))

    pages = {path_of(r["url"]): r for r in rows(db, "SELECT * FROM pages")}
    for path in gone:
        assert pages[path]["status"] == "gone" and pages[path]["http_status"] in (404, 410)
    for path, page in pages.items():
        expected_version = 2 if path in changed else 1
        assert page["version"] == expected_version, path
        if path not in changed | new:
            assert page["content_hash"] == hashes_before[page["url"]]
    versions = rows(db, "SELECT url, version FROM page_versions WHERE version = 2")
    assert {path_of(v["url"]) for v in versions} == changed
    edited = next(p for p in changed if p.startswith("/definition/"))
    (old, latest) = rows(db, "SELECT body_text FROM page_versions WHERE url LIKE ? ORDER BY version", (f"%{edited}",))
    assert "Revised in edition 2" in latest["body_text"] and "Revised" not in old["body_text"]


def test_a_site_moved_on_two_generations_at_once_dates_both_edits_after_the_crawl(archived):
    """The replica dated the edits of a generation it jumped over (1 to 3) to a fixed day long before the
    crawl: their sitemap lastmod told the refresh they were older than its last fetch, and it did not ask."""
    server, db = archived
    server.set_generation(3)
    result = refresh(db, "--json")
    assert result.returncode == 0, result.stderr
    _, _, changed = generation_change(ReplicaSite(200, 1), ReplicaSite(200, 3))
    changed_between = generation_change(ReplicaSite(200, 1), ReplicaSite(200, 2))[2] & changed
    assert changed_between  # some pages were edited in generation 2 only
    outcome = {path_of(c["url"]): c["outcome"]
               for c in rows(db, "SELECT url, outcome FROM captures WHERE run_id = ?",
                             (json.loads(result.stdout)["id"],))}
    assert {p for p, o in outcome.items() if o == "changed"} == changed | {"/"}


def test_an_archive_a_newer_extractor_read_is_not_written_by_an_older_release(archived):
    """An older release left in a scheduler's environment refreshed an archive a newer one had reparsed: every
    page it fetched was a "change" (what the two extractors read differently), and a reparse took the whole
    archive back to the older reading."""
    from glossary_spider.extraction import EXTRACTOR_VERSION

    _, db = archived
    newer = EXTRACTOR_VERSION + 1
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE pages SET extractor_version = ? WHERE url = (SELECT min(url) FROM pages)", [newer])
    before = rows(db, "SELECT count(*) AS n FROM versions")[0]["n"]
    for command in (("refresh",), ("crawl", "--resume"), ("reparse",)):
        result = run_glossary(*command, "--db", str(db), "--no-progress")
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert result.stderr.count("\n") == 1 and f"read by extractor version {newer}, newer than this release's " \
            f"{EXTRACTOR_VERSION}" in result.stderr and "upgrade glossary_spider" in result.stderr, result.stderr
        check = run_glossary("runs", "--check", "--db", str(db))
        assert check.returncode == 2 and f"extractor version {newer}" in check.stdout + check.stderr, command
    assert rows(db, "SELECT count(*) AS n FROM versions")[0]["n"] == before
    assert rows(db, "SELECT count(*) AS n FROM pages WHERE extractor_version = ?", (newer,))[0]["n"] == 1


def test_template_only_changes_make_no_version(archived):
    server, db = archived
    before, after = ReplicaSite(200, 1), ReplicaSite(200, 2)
    _, _, changed = generation_change(before, after)
    touched = [p for p in before.glossary_paths()
               if p not in changed and after.is_live(p) and before.render(p, "x").body != after.render(p, "x").body]
    assert len(touched) > 20
    server.set_generation(2)
    assert refresh(db).returncode == 0
    for path in touched:
        (page,) = rows(db, "SELECT version FROM pages WHERE url = ?", (server.url + path,))
        assert page["version"] == 1, path


def test_an_unchanged_site_gets_only_conditional_requests(archived):
    server, db = archived
    versions = rows(db, "SELECT count(*) AS n FROM page_versions")[0]["n"]
    server.clear_log()
    result = refresh(db)
    assert result.returncode == 0, result.stderr
    pages = [r for r in server.requests() if r["path"] not in ("/robots.txt",) and not r["path"].endswith(".xml")]
    assert pages, "the refresh asked for nothing"
    assert all(r["if_none_match"] and r["if_modified_since"] for r in pages)
    assert {r["status"] for r in pages} == {304}
    archived_pages = rows(db, "SELECT count(*) AS n FROM pages")[0]["n"]
    (run,) = rows(db, "SELECT * FROM crawl_runs WHERE command = 'refresh'")
    stats = json.loads(run["stats"])
    # Every page is either skipped on its sitemap lastmod or answered 304.
    assert run["pages_not_modified"] + stats["glossary/skipped_by_lastmod"] == archived_pages
    assert rows(db, "SELECT count(*) AS n FROM page_versions")[0]["n"] == versions


def test_the_refresh_progress_line_shows_its_total(archived):
    """Issue 14 item 13: the refresh progress line showed no total, though the archive knows it."""
    _, db = archived
    known = rows(db, "SELECT count(*) AS n FROM pages")[0]["n"]
    result = run_glossary("refresh", "--db", str(db), "--delay", "0", "--concurrency", "8", "--progress")
    assert result.returncode == 0, result.stderr
    assert re.search(rf"\d+ of {known} known pages · ", result.stderr), result.stderr[-300:]


def test_max_age_forces_a_full_fetch(archived):
    server, db = archived
    server.clear_log()
    assert refresh(db, "--max-age", "0").returncode == 0
    known = {path_of(r["url"]) for r in rows(db, "SELECT url FROM pages")}
    pages = [r for r in server.requests() if r["path"] in known]
    assert len(pages) == len(known)
    assert all(r["if_none_match"] is None and r["status"] == 200 for r in pages)


def test_max_age_counts_from_the_body_archived_not_from_the_304s_since(archived):
    """--max-age counted from the page's last fetch, which every 304 moves on: refreshed more often than
    that age, a page a server wrongly answers 304 for was never fetched in full again, its change never
    seen."""
    server, db = archived
    with sqlite3.connect(db) as conn:  # the bodies were fetched 40 days ago; the 304s since, yesterday
        conn.execute("UPDATE captures SET fetched_at = '2000-01-01T00:00:00+00:00' WHERE url LIKE '%/term/%'")
        conn.execute("UPDATE pages SET last_fetched = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now', '-1 day')")
    server.clear_log()
    assert refresh(db, "--max-age", "30").returncode == 0
    terms = {path_of(r["url"]) for r in rows(db, "SELECT url FROM pages WHERE page_type = 'term'")}
    asked = [r for r in server.requests() if r["path"] in terms or r["path"].startswith("/definition/")]
    assert terms and {r["path"] for r in asked} >= terms
    assert all((r["if_none_match"] is None) == (r["path"] in terms) for r in asked), asked


def test_a_page_gone_is_news_once_and_its_return_is_news(archived):
    """Issue 14 item 5: the old refresh counted every gone page as gone again on every run."""
    server, db = archived
    server.set_generation(2)
    first = json.loads(refresh(db, "--json").stdout)
    gone = rows(db, "SELECT url FROM pages WHERE status = 'gone'")
    assert gone and first["pages_gone"] == len(gone) and first["changes"] > 0

    result = refresh(db, "--json")
    assert result.returncode == 0, result.stderr
    second = json.loads(result.stdout)
    assert (second["pages_gone"], second["pages_still_gone"], second["changes"]) == (0, len(gone), 0)
    outcomes = rows(db, "SELECT outcome, count(*) AS n FROM captures WHERE run_id = ? AND outcome LIKE '%gone' "
                        "GROUP BY outcome", (second["id"],))
    assert outcomes == [{"outcome": "still_gone", "n": len(gone)}]
    result = refresh(db)
    assert "nothing new" in result.stdout.splitlines()[0]
    assert re.search(rf"still gone +{len(gone)}$", result.stdout, re.M)

    server.set_generation(1)
    back = json.loads(refresh(db, "--json").stdout)
    assert back["pages_back"] == len(gone) and back["changes"] >= len(gone)
    # A page back is counted back, not again as changed, unchanged or not modified: the counts part the pages.
    answered = rows(db, "SELECT count(DISTINCT url) AS n FROM captures WHERE run_id = ? AND outcome IN "
                        "('changed', 'unchanged', 'not_modified')", (back["id"],))[0]["n"]
    assert back["pages_changed"] + back["pages_unchanged"] + back["pages_not_modified"] + len(gone) == answered
    for page in gone:
        (row,) = rows(db, "SELECT status, http_status FROM pages WHERE url = ?", (page["url"],))
        assert row == {"status": "live", "http_status": 200}

    # Its history says when it went and when it came back, between its versions: it read as if always there.
    url = gone[0]["url"]
    history = run_glossary("show", url, "--db", str(db), "--history")
    assert history.returncode == 0, history.stderr
    lines = history.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [url, "v1", "gone", "back"], lines
    assert lines[2].endswith(f"run {first['id']} (refresh)  HTTP 410") and f"run {back['id']} (refresh)" in lines[3]
    shown = json.loads(run_glossary("show", url, "--db", str(db), "--history", "--format", "json").stdout)
    assert [(e["event"], e["run_id"], e["http_status"]) for e in shown["gone_and_back"]] == [
        ("gone", first["id"], 410), ("back", back["id"], 200)]


def test_reparse_reproduces_every_content_hash(archived):
    _, db = archived
    before = rows(db, "SELECT url, content_hash, version, body_text FROM pages ORDER BY url")
    links = rows(db, "SELECT * FROM links ORDER BY from_url, kind, position")
    with sqlite3.connect(db) as conn:  # an extraction of an older extractor, say: the page and its last version
        conn.execute("UPDATE pages SET content_hash = 'stale' WHERE url LIKE '%/area/funding/'")
        conn.execute("UPDATE versions SET content_hash = 'stale' WHERE url_id = (SELECT id FROM urls WHERE url LIKE "
                     "'%/area/funding/') AND version = (SELECT max(version) FROM versions v WHERE v.url_id = "
                     "versions.url_id)")
    result = run_glossary("reparse", "--db", str(db), "--no-progress")
    assert result.returncode == 0, result.stderr
    after = rows(db, "SELECT url, content_hash, version, body_text FROM pages ORDER BY url")
    changed = [(a["url"], a["version"]) for a, b in zip(after, before) if a != b]
    assert len(changed) == 1 and changed[0][0].endswith("/area/funding/") and changed[0][1] == 2
    assert [a["content_hash"] for a in after] == [b["content_hash"] for b in before]
    assert rows(db, "SELECT * FROM links ORDER BY from_url, kind, position") == links
    (run,) = rows(db, "SELECT * FROM crawl_runs WHERE command = 'reparse'")
    assert (run["pages_changed"], run["pages_unchanged"]) == (1, len(before) - 1)
    # The version says when what it says was fetched, not when it was read again.
    (version,) = rows(db, "SELECT v.captured_at, p.last_changed, (SELECT max(fetched_at) FROM captures c WHERE "
                          "c.url = p.url AND c.body_sha256 IS NOT NULL) AS fetched FROM page_versions v JOIN pages p "
                          "ON p.url = v.url AND p.version = v.version WHERE v.run_id = ?", (run["id"],))
    assert version["captured_at"] == version["last_changed"] == version["fetched"] < run["started_at"]


def test_a_reparse_that_extracts_what_the_crawl_did_rewrites_no_page(archived):
    _, db = archived
    with sqlite3.connect(db) as conn:  # every rewrite of a page's content or of its links, counted
        conn.executescript("""
            CREATE TABLE rewrites (what TEXT);
            CREATE TRIGGER page_rewritten AFTER UPDATE OF title, body_text ON pages
                BEGIN INSERT INTO rewrites VALUES ('page'); END;
            CREATE TRIGGER links_rewritten AFTER INSERT ON link_rows BEGIN INSERT INTO rewrites VALUES ('link'); END;
        """)
    digests = rows(db, "SELECT url, record_digest FROM pages ORDER BY url")
    assert digests and all(len(r["record_digest"] or "") == 64 for r in digests)
    pages = rows(db, "SELECT * FROM pages ORDER BY url")
    result = run_glossary("reparse", "--db", str(db), "--workers", "2", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT count(*) AS n FROM rewrites")[0]["n"] == 0
    (run,) = rows(db, "SELECT * FROM crawl_runs WHERE command = 'reparse'")
    assert (run["pages_changed"], run["pages_unchanged"]) == (0, len(digests))
    # Not a column of a page is written: each keeps the run that wrote it, the crawl.
    assert rows(db, "SELECT * FROM pages ORDER BY url") == pages


def test_stored_pages_are_read_a_chunk_at_a_time_each_once_while_the_reader_writes(archived, tmp_path):
    _, db = archived
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    with Archive(copy) as archive:
        whole = [(state["url"], sha256) for state, _, sha256 in archive.stored_states(chunk=100_000)]
        assert len(whole) > 6 and [url for url, _ in whole] == sorted(url for url, _ in whole)
        run_id = archive.start_run("reparse", {})
        seen = []
        for state, _, sha256 in archive.stored_states(chunk=3):
            seen.append((state["url"], sha256))
            # Each page written as a reparse writes a changed one, between (and within) the chunks.
            archive.db.execute("UPDATE pages SET run_id = ?, version = version + 1 WHERE url = ?",
                               [run_id, state["url"]])
        assert seen == whole
        assert [state["url"] for state, _, _ in archive.stored_states(whole[2][0], chunk=3)] == [
            url for url, _ in whole[3:]]


def test_reparse_on_two_workers_writes_what_one_writes_and_carries_on_a_stopped_run(archived, tmp_path):
    _, db = archived
    one, two, zero = tmp_path / "one.db", tmp_path / "two.db", tmp_path / "zero.db"
    for copy in (one, two, zero):
        shutil.copy(db, copy)
    assert run_glossary("reparse", "--db", str(one), "--workers", "1", "--no-progress").returncode == 0
    # 0 is crawl's word for this process alone; it was refused ("0 is not in the range 1<=x<=8").
    result = run_glossary("reparse", "--db", str(zero), "--workers", "0", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert archive_content(zero) == archive_content(one)
    result = run_glossary("reparse", "--db", str(two), "--workers", "2", "--no-progress")
    assert result.returncode == 0, result.stderr
    # The workers read the archive too, and are gone before it closes: all of it is in the file, no
    # write-ahead log is left beside it (a copy of the file alone is the whole archive).
    assert not two.with_name(two.name + "-wal").exists()
    assert archive_content(two) == archive_content(one)
    # What a reparse killed half way leaves: its run not finished, done up to the middle page.
    (run_id,) = [r["id"] for r in rows(two, "SELECT id FROM crawl_runs WHERE command = 'reparse'")][-1:]
    pages = [r["url"] for r in rows(two, "SELECT url FROM pages ORDER BY url")]
    with sqlite3.connect(two) as conn:
        # Stopped after the middle page, with the counts its batches wrote so far.
        conn.execute("UPDATE crawl_runs SET finished_at = NULL, finish_reason = NULL, reparsed_through = ?, "
                     "pages_unchanged = ? WHERE id = ?", [pages[len(pages) // 2 - 1], len(pages) // 2, run_id])
    result = run_glossary("reparse", "--db", str(two), "--workers", "2", "--no-progress")
    assert result.returncode == 0, result.stderr
    runs = rows(two, "SELECT id, finish_reason, pages_unchanged, reparsed_through FROM crawl_runs "
                     "WHERE command = 'reparse'")
    assert runs[-1]["id"] == run_id and runs[-1]["finish_reason"] == "finished"
    assert runs[-1]["pages_unchanged"] == len(pages)  # the pages up to the middle one, and those after it
    assert runs[-1]["reparsed_through"] == pages[-1]
    assert archive_content(two) == archive_content(one)


def test_a_reparse_that_changes_nothing_adds_no_error_rows(archived):
    """Each reparse wrote the extraction errors of pages it left as they were (a JSON-LD block that is
    not JSON) again: a nightly reparse grew crawl_errors without end."""
    _, db = archived
    errors = rows(db, "SELECT count(*) AS n FROM crawl_errors WHERE stage = 'json-ld'")[0]["n"]
    assert errors > 0
    for _ in range(2):
        assert run_glossary("reparse", "--db", str(db), "--no-progress").returncode == 0
        assert rows(db, "SELECT count(*) AS n FROM crawl_errors WHERE stage = 'json-ld'")[0]["n"] == errors


def test_a_reparse_that_meets_a_full_disk_says_so_and_the_next_carries_it_on(archived):
    """The run was left open, which runs then told as a reparse killed; and a reparse failed at once while
    another connection held the write lock for a moment, the busy timeout unused. Its line did not say how
    to carry on, as a crawl's says how to resume."""
    import resource
    import threading

    _, db = archived
    with sqlite3.connect(db) as conn:  # every page to rewrite
        conn.execute("UPDATE pages SET record_digest = NULL, content_hash = 'before'")
    conn.close()

    def small_disk():  # no file past 400 kB: the write-ahead log fills it with the first batches
        resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))

    full = run_glossary("reparse", "--db", str(db), "--no-progress", preexec_fn=small_disk)
    assert full.returncode == 2 and "Traceback" not in full.stderr, full.stderr
    assert full.stderr.count("\n") == 1 and full.stderr.startswith("Error: cannot write the archive"), full.stderr
    assert full.stderr.endswith(f"once there is room on the disk (or its fault is mended), run 'glossary reparse --db {db}' "
                                "to carry on\n"), full.stderr
    (run,) = rows(db, "SELECT finish_reason FROM crawl_runs WHERE command = 'reparse'")
    assert run["finish_reason"] == "archive_error"
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(2.0, holder.rollback).start()
    again = run_glossary("reparse", "--db", str(db), "--no-progress")
    assert again.returncode == 0, again.stderr
    assert rows(db, "SELECT id, finish_reason FROM crawl_runs WHERE command = 'reparse'") == [
        {"id": 2, "finish_reason": "finished"}]  # carried on, not started anew
    assert rows(db, "SELECT count(*) AS n FROM pages WHERE content_hash = 'before'") == [{"n": 0}]
    holder.close()


def test_a_reparse_refused_by_another_programs_trigger_says_to_mend_that_not_the_disk(archived):
    """Any write SQLite refused that was neither damage nor a lock was "once that is mended (room on the disk,
    most often)": here a trigger another program added refuses every rewritten page."""
    _, db = archived
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE pages SET record_digest = NULL, content_hash = 'before'")
        conn.execute("CREATE TRIGGER frozen BEFORE UPDATE ON pages BEGIN SELECT RAISE(ABORT, 'pages are frozen'); END")
    conn.close()
    refused = run_glossary("reparse", "--db", str(db), "--no-progress")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "pages are frozen" in refused.stderr and "disk" not in refused.stderr, refused.stderr
    assert refused.stderr.endswith(f"once that is mended, run 'glossary reparse --db {db}' to carry on\n")


def test_a_process_forked_from_the_locks_holder_does_not_keep_the_archive_locked(tmp_path):
    """A reparse forks a new extraction worker when one dies, after it took the archive's lock: the
    worker's copy of the lock kept the archive locked after the reparse itself was killed (exit 3, naming
    a dead process), for as long as the worker lived."""
    db = tmp_path / "forked.db"
    holder = ("import os, sys, time\nfrom glossary_spider.lock import ArchiveLock\n"
              f"lock = ArchiveLock({str(db)!r}, 'reparse').acquire()\n"
              "if os.fork() == 0:\n    print(os.getpid(), flush=True)\n    time.sleep(60)\n    os._exit(0)\n"
              "time.sleep(60)\n")
    process = subprocess.Popen([sys.executable, "-c", holder], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    child = int(process.stdout.readline())  # the child runs: it has been through the fork's hooks
    try:
        process.kill()
        process.wait()
        ArchiveLock(db, "crawl").acquire().release()  # taken over: the forked child holds no copy
    finally:
        os.kill(child, signal.SIGKILL)


def test_a_lock_file_that_cannot_be_removed_is_left_empty_for_the_next_writer(tmp_path, caplog):
    """The archive's directory made read-only while a crawl ran: removing the lock at its end raised, a
    finished run became a traceback and exit 1. The lock is emptied instead, and the next writer takes it
    over without a word of a dead holder."""
    directory = tmp_path / "archive"
    directory.mkdir()
    db = directory / "a.db"
    lock = ArchiveLock(db, "crawl").acquire()
    frozen = _freeze(directory)
    try:
        lock.release()
    finally:
        _thaw(directory, frozen)
    assert "Cannot remove the lock file" in caplog.text
    assert (directory / "a.db.lock").read_bytes() == b""
    again = ArchiveLock(db, "crawl").acquire()
    assert again.stale is None
    again.release()
    assert not (directory / "a.db.lock").exists()


def _freeze(directory):
    """Make ``directory`` refuse to remove its files: read-only for a user, immutable for root."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(directory)], check=True)
    else:
        directory.chmod(0o555)
    try:
        (directory / "probe").touch()
    except OSError:
        return os.geteuid() == 0
    raise AssertionError(f"{directory} could not be made read-only")


def _thaw(directory, immutable):
    if immutable:
        subprocess.run(["chattr", "-i", str(directory)], check=True)
    else:
        directory.chmod(0o755)


def test_a_reparse_whose_worker_dies_loses_no_page_and_ends(archived, tmp_path):
    """A worker killed (out of memory, kill -9): the process pool waited for its batch for ever, and
    SIGTERM did not end the wait. Its batches are extracted again, and the reparse ends as one that lost
    no worker."""
    _, db = archived
    with sqlite3.connect(db) as conn:  # every page to rewrite, so the workers have work when one is killed
        conn.execute("UPDATE pages SET record_digest = NULL, content_hash = 'before'")
    conn.close()
    reference, killed = tmp_path / "reference.db", tmp_path / "killed.db"
    shutil.copy(db, reference)
    shutil.copy(db, killed)
    assert run_glossary("reparse", "--db", str(reference), "--workers", "2", "--no-progress").returncode == 0
    process = launcher.popen([*GLOSSARY, "reparse", "--db", str(killed), "--workers", "2", "--no-progress"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    children = f"/proc/{process.pid}/task/{process.pid}/children"
    deadline = time.monotonic() + 60
    while len(workers := open(children).read().split()) < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    for pid in workers:  # both hold a batch now: stopped, one killed, the other let go on
        os.kill(int(pid), signal.SIGSTOP)
    time.sleep(0.2)
    os.kill(int(workers[0]), signal.SIGKILL)
    os.kill(int(workers[1]), signal.SIGCONT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert archive_content(killed) == archive_content(reference)
    (run,) = rows(killed, "SELECT finish_reason, pages_changed, pages_failed FROM crawl_runs WHERE command = 'reparse'")
    # What `runs --check` tells of a reparse that was killed: to run it again (it has no --resume).
    with sqlite3.connect(killed) as conn:
        conn.execute("UPDATE crawl_runs SET finished_at = NULL, finish_reason = NULL, outcome = NULL, "
                     "exit_status = NULL WHERE command = 'reparse'")
    conn.close()
    check = run_glossary("runs", "--db", str(killed), "--check")
    assert check.returncode == 1 and "'glossary reparse' again carries it on" in check.stderr, check.stderr
    assert run == rows(reference, "SELECT finish_reason, pages_changed, pages_failed FROM crawl_runs "
                                  "WHERE command = 'reparse'")[0]


def test_a_reparse_writes_no_version_for_a_page_whose_stored_hash_was_lost(archived):
    """A page row whose content hash is missing or wrong (damage, a hand edit) got a second version of
    the very content its first holds: the reparse now corrects the row, and history stays as it was."""
    _, db = archived
    versions = rows(db, "SELECT url, version, content_hash FROM page_versions ORDER BY url, version")
    latest = {r["url"]: r["content_hash"] for r in versions}
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE pages SET content_hash = NULL WHERE url IN (SELECT url FROM pages ORDER BY url LIMIT 3)")
        conn.execute("UPDATE pages SET content_hash = 'x' WHERE url IN (SELECT url FROM pages ORDER BY url DESC "
                     "LIMIT 2)")
    conn.close()
    result = run_glossary("reparse", "--db", str(db), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT url, version, content_hash FROM page_versions ORDER BY url, version") == versions
    assert {r["url"]: r["content_hash"] for r in rows(db, "SELECT url, content_hash FROM pages")} == latest
    assert rows(db, "SELECT pages_changed FROM crawl_runs WHERE command = 'reparse'") == [{"pages_changed": 0}]


def test_a_reparse_that_can_read_no_page_again_says_so_and_fails(archived):
    """Every stored body damaged (a compression dictionary written over, say): the reparse failed every page
    and said "finished: nothing new", exit 0, and `runs --check` passed."""
    _, db = archived
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE bodies SET data = randomblob(length(data))")
    conn.close()
    for _ in range(2):  # the next reparse reads every page again, and fails again: it carries on nothing
        result = run_glossary("reparse", "--db", str(db), "--no-progress")
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stdout.startswith("Reparse #") and " unreadable in " in result.stdout.splitlines()[0]
        assert result.stderr == ("Error: (nearly) every archived page failed to be read again (crawl_errors says "
                                 "why): its stored bodies may be damaged; restore the archive from a backup\n")
    runs = rows(db, "SELECT finish_reason, pages_failed FROM crawl_runs WHERE command = 'reparse'")
    pages = rows(db, "SELECT count(*) AS n FROM pages")[0]["n"]
    assert runs == [{"finish_reason": "unreadable", "pages_failed": pages}] * 2
    check = run_glossary("runs", "--check", "--db", str(db))
    assert check.returncode == 1 and "bodies may be damaged" in check.stderr, check.stdout + check.stderr


def test_a_reparse_counts_a_page_whose_body_is_gone_as_failed(archived):
    """A page whose stored body is missing (a damaged or hand-edited archive) was passed over in silence:
    neither extracted, nor failed, nor in crawl_errors."""
    _, db = archived
    with sqlite3.connect(db) as conn:
        # The bodies a reparse reads (each page's last capture with one), of three definitions.
        lost = [r[0] for r in conn.execute(
            "SELECT c.body_sha256 FROM pages p JOIN captures c ON c.id = (SELECT max(id) FROM captures WHERE url = "
            "p.url AND http_status = 200 AND body_sha256 IS NOT NULL) WHERE p.page_type = 'definition' "
            "GROUP BY c.body_sha256 HAVING count(*) = 1 ORDER BY p.url LIMIT 3")]
        conn.executemany("DELETE FROM bodies WHERE sha256 = ?", [(sha,) for sha in lost])
    conn.close()
    result = run_glossary("reparse", "--db", str(db), "--no-progress")
    assert result.returncode == 0, result.stderr
    (run,) = rows(db, "SELECT id, pages_failed FROM crawl_runs WHERE command = 'reparse'")
    errors = rows(db, "SELECT detail FROM crawl_errors WHERE run_id = ? AND stage = 'parse'", (run["id"],))
    assert run["pages_failed"] == len(lost) == 3
    assert sorted(e["detail"].rpartition(" ")[2] for e in errors) == sorted(lost)


def test_bodies_are_stored_once_compressed_and_readable(archived):
    _, db = archived
    stored = rows(db, "SELECT sum(size) AS raw, sum(length(data)) AS kept, count(*) AS n FROM bodies")[0]
    assert stored["kept"] / stored["raw"] <= 0.15
    with Archive(db) as archive:
        for row in rows(db, "SELECT sha256 FROM bodies"):
            assert hashlib.sha256(archive.body(row["sha256"])).hexdigest() == row["sha256"]
    captures = rows(db, "SELECT count(*) AS n FROM captures")[0]["n"]
    assert captures >= stored["n"]


def _archived_count(db):
    """Pages fetched so far: their captures are written as they come, their versions when the run closes."""
    try:
        return rows(db, "SELECT count(*) AS n FROM captures")[0]["n"]
    except sqlite3.Error:
        return 0


def _original_args(server):
    return ("--start-url", f"{server.url}/", "--sitemap", f"{server.url}/sitemap_index.xml", "--delay", "0",
            "--concurrency", "2")


def _stop_midway(db, server, sig, at_least=40, command=None):
    process = subprocess.Popen(
        command or [*GLOSSARY, "crawl", "--db", str(db), *_original_args(server), "--no-progress"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while _archived_count(db) < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(sig)
    process.wait(timeout=30)
    return process


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])  # kill -9: tests/test_crash.py
def test_a_stopped_crawl_resumes_to_the_same_archive(archived, tmp_path, sig):
    server, reference = archived  # the replica, and its uninterrupted crawl
    db = tmp_path / "stopped.db"
    process = _stop_midway(db, server, sig)
    assert process.returncode == 1
    # Issue 14 item 10: the old crawl said "Crawl #1 shutdown in 17.4s" and no more (nothing at all on SIGTERM).
    assert f"run 'glossary crawl --resume --db {db}' to continue" in process.stderr.read()
    archived_before = {r["url"] for r in rows(db, "SELECT url FROM pages")}
    assert 0 < len(archived_before) < 200
    server.clear_log()

    result = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress")
    assert result.returncode == 0, result.stderr
    refetched = {server.url + r["path"] for r in server.requests()} & archived_before
    assert refetched == set()

    assert archive_content(db) == archive_content(reference)
    runs = rows(db, "SELECT command, finish_reason FROM crawl_runs")
    assert runs == [{"command": "crawl", "finish_reason": "finished"}]
    assert rows(db, "SELECT count(*) AS n FROM frontier")[0]["n"] == 0


def test_resume_with_nothing_to_resume(archived):
    _, db = archived
    result = run_glossary("crawl", "--db", str(db), "--resume")
    assert result.returncode == 2 and "nothing to resume" in result.stderr
    assert "run 'glossary crawl' without --resume" in result.stderr  # the way on, for a scheduler's log
    assert not db.with_name(db.name + ".lock").exists()  # a refused run leaves no lock file
    directory = run_glossary("crawl", "--db", str(db.parent), "--no-progress")
    assert directory.returncode == 2 and f"give a file's path ({db.parent / 'glossary.db'}, say)" in directory.stderr


def test_a_resume_of_the_wrong_command_names_the_run_that_waits(archived):
    """A Scrapyd job of resume=1 alone resumes a crawl: with a refresh stopped, it said only "nothing to resume:
    the last crawl finished", and the refresh waiting to be resumed went unsaid."""
    _, db = archived
    with sqlite3.connect(db) as conn:
        (run_id,) = conn.execute("INSERT INTO crawl_runs (command, started_at, args, pid) VALUES ('refresh', ?, "
                                 "'{}', 999999999) RETURNING id", [datetime.now(timezone.utc).isoformat()]).fetchone()
    conn.close()
    result = run_glossary("crawl", "--db", str(db), "--resume")
    assert result.returncode == 2
    assert (f"the last crawl finished (or there was none), but refresh #{run_id} was stopped: resume it with "
            "'glossary refresh --resume' (a Scrapyd job: mode=refresh resume=1)") in result.stderr


def test_a_second_writer_is_refused_with_the_holders_name(archived):
    _, db = archived
    with ArchiveLock(db, "crawl"):
        started = time.monotonic()
        result = run_glossary("refresh", "--db", str(db), "--no-progress")
        assert time.monotonic() - started < 15
        assert result.returncode == 3
        assert f"pid {os.getpid()}" in result.stderr and "crawl" in result.stderr
        assert "Traceback" not in result.stderr
        # Readers are not blocked by the writer's lock.
        assert rows(db, "SELECT count(*) AS n FROM pages")[0]["n"] > 0


def test_a_lock_left_by_a_dead_process_is_taken_over(archived):
    _, db = archived
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock_file = db.with_name(db.name + ".lock")
    lock_file.write_text(json.dumps({"pid": dead.pid, "command": "crawl", "started_at": "2026-01-01T00:00:00+00:00"}))
    result = run_glossary("reparse", "--db", str(db), "--no-progress")
    assert result.returncode == 0, result.stderr

def _bound_by_permissions(*command):
    """``command`` as root stripped of what lets it pass by file permissions (CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH, CAP_FOWNER): it meets a lock file of another uid as another user of the machine would."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("another user's lock file needs root to make (chown), and setpriv to meet as a user")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--", *command]


def _left_by(lock_file, uid, mode, pid):
    """A lock file as another user's run leaves it: its name in it, its owner and mode."""
    lock_file.write_text(json.dumps({"pid": pid, "command": "crawl", "started_at": "2026-01-01T00:00:00+00:00"}))
    os.chown(lock_file, uid, -1)
    lock_file.chmod(mode)


@pytest.mark.parametrize("mode", [0o644, 0o664, 0o600], ids=oct)
def test_a_lock_another_user_holds_is_named_to_a_second_writer(archived, mode):
    """A crawl's lock of another user's was called unsafe, exit 2: "not writable for you: make it so, or remove
    it" (0644, 0600), "not a plain file of your own: remove it" (0664). Removing it as told let two writers into
    the archive, and one's pages went missing. A lock that is held is exit 3, naming its holder, whoever's (by
    its pid alone, from the kernel's table of locks, where the file may not be read)."""
    _, db = archived
    with ArchiveLock(db, "crawl"):
        lock_file = db.with_name(db.name + ".lock")
        os.chown(lock_file, NOBODY, -1)
        lock_file.chmod(mode)
        result = subprocess.run(_bound_by_permissions(*GLOSSARY, "reparse", "--db", str(db), "--no-progress"),
                                capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert result.returncode == 3, result.stderr
        named = f"(pid {os.getpid()}, crawl since" if mode & 0o004 else f"(pid {os.getpid()})"
        assert f"is locked by another writer {named}" in result.stderr
        assert "remove it" not in result.stderr


def test_a_group_shared_archives_lock_and_refused_runs_take_the_umask(archived):
    """The lock and the note of refused runs were made 0644 whatever the umask: in an archive a group shares
    (umask 002), a member's lock left by a kill -9 could not be written by the others, who were each told
    to remove it."""
    _, db = archived
    previous = os.umask(0o002)
    try:
        with ArchiveLock(db, "crawl"):
            assert stat.S_IMODE(db.with_name(db.name + ".lock").stat().st_mode) == 0o664
            assert run_glossary("reparse", "--db", str(db), "--no-progress").returncode == 3
    finally:
        os.umask(previous)
    assert stat.S_IMODE(db.with_name(db.name + ".refused-runs").stat().st_mode) == 0o664


@pytest.mark.parametrize("mode", [0o644, 0o664], ids=oct)
def test_a_lock_left_by_another_users_dead_run_is_taken_over(archived, mode):
    """A lock of another user's left by a run killed with -9 was "not writable for you: make it so, or remove
    it" (0644) or "not a plain file of your own: remove it" (0664), exit 2, to every other member of the group
    sharing the archive, for every run after. No run holds it: it is replaced by a lock of the writer's own."""
    _, db = archived
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock_file = db.with_name(db.name + ".lock")
    _left_by(lock_file, NOBODY, mode, dead.pid)
    result = subprocess.run(_bound_by_permissions(*GLOSSARY, "reparse", "--db", str(db), "--no-progress"),
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"Taking over the archive lock left by pid {dead.pid} (crawl)" in result.stderr
    assert rows(db, "SELECT command, finish_reason FROM crawl_runs ORDER BY id DESC LIMIT 1") == [
        {"command": "reparse", "finish_reason": "finished"}]
    assert not lock_file.exists()


def test_a_dead_lock_that_may_not_be_replaced_is_named_as_an_ended_runs(archived, tmp_path):
    """In a sticky directory another user's lock, left by an ended run, cannot be replaced: it was "not
    writable for you: make it so, or remove it", which did not say that no run held it. It is named as an
    ended run's, and the refusal noted for 'runs --check'."""
    _, db = archived
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    os.chown(shared, NOBODY, -1)  # a user's files in it are theirs to remove, and its owner's: not ours
    db = Path(shutil.copy(db, shared / "a.db"))
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock_file = shared / "a.db.lock"
    _left_by(lock_file, NOBODY, 0o644, dead.pid)
    reparse = _bound_by_permissions(*GLOSSARY, "reparse", "--db", str(db), "--no-progress")
    result = subprocess.run(reparse, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert (f"the lock file {lock_file} was left by an ended run of uid {NOBODY} (pid {dead.pid}, crawl since "
            f"2026-01-01T00:00:00+00:00), and you may not replace it in {shared}") in result.stderr
    assert f"no run holds it, so it may be removed (by uid {NOBODY} or root)" in result.stderr
    check = run_glossary("runs", "--check", "--db", str(db))
    assert check.returncode == 2 and "was left by an ended run" in check.stdout + check.stderr
    lock_file.unlink()
    assert subprocess.run(reparse, capture_output=True, text=True, cwd=ROOT, timeout=120).returncode == 0


TAKER = """import sys, time
from glossary_spider.lock import ArchiveLock, ArchiveLocked
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
try:
    lock = ArchiveLock(sys.argv[1], "crawl").acquire()
except ArchiveLocked as exc:
    sys.exit(str(exc))
time.sleep(1.5)
lock.release()
"""


def test_writers_racing_to_take_over_a_dead_lock_are_one_writer(tmp_path):
    """Writers that meet another user's lock left by an ended run at one moment each replace it: only one of
    them holds the archive, the others are locked out by it, and name it (not the ended run)."""
    db = tmp_path / "raced.db"
    lock_file = tmp_path / "raced.db.lock"
    for _ in range(3):
        _left_by(lock_file, NOBODY, 0o644, 999_999)
        start = str(time.time() + 1.0)
        takers = [subprocess.Popen(_bound_by_permissions(sys.executable, "-c", TAKER, str(db), start), cwd=ROOT,
                                   stderr=subprocess.PIPE, text=True) for _ in range(4)]
        ended = [(taker.wait(timeout=60), taker.stderr.read()) for taker in takers]
        assert sorted(code for code, _ in ended) == [0, 1, 1, 1], ended
        winner = next(taker.pid for taker, (code, _) in zip(takers, ended) if code == 0)
        assert all(f"locked by another writer (pid {winner}, crawl" in said for code, said in ended if code), ended


def test_a_writer_whose_lock_file_was_removed_under_it_still_holds_the_archive(archived):
    """A lock file removed under its run (rm *.lock, a cleaner of old files) let the next writer make one anew,
    take it, and write beside the run: a reparse and a refresh both ran to their end during a crawl. The holder
    locks the archive file itself too: the next writer is refused (exit 3), and told so."""
    _, db = archived
    with ArchiveLock(db, "crawl"):
        db.with_name(db.name + ".lock").unlink()
        result = run_glossary("reparse", "--db", str(db), "--no-progress")
        assert result.returncode == 3, result.stdout + result.stderr
        assert f"is locked by another writer (pid {os.getpid()}, its lock file was removed under it)" in result.stderr
        assert not db.with_name(db.name + ".lock").exists()
    assert run_glossary("reparse", "--db", str(db), "--no-progress").returncode == 0


def test_every_path_to_the_archive_meets_the_same_lock(archived, tmp_path):
    """A symlink to the archive, or a path through a symlinked directory, reached a lock of its own: two
    writers ran at once, one forgetting the other's staged pages as a killed run's. Each now meets the
    holder's lock (exit 3), and sees who holds it."""
    from glossary_spider.lock import holder

    _, db = archived
    (tmp_path / "link.db").symlink_to(db)
    (tmp_path / "dir").symlink_to(db.parent)
    with ArchiveLock(db, "refresh"):
        for path in (tmp_path / "link.db", tmp_path / "dir" / db.name):
            result = run_glossary("reparse", "--db", str(path), "--no-progress")
            assert result.returncode == 3, result.stderr
            assert "is locked by another writer" in result.stderr and "wait for it to end" in result.stderr
            assert holder(path)["pid"] == os.getpid()
            check, direct = (run_glossary("runs", "--check", "--db", str(p)) for p in (path, db))
            assert (check.returncode, check.stdout) == (direct.returncode, direct.stdout.replace(str(db), str(path)))
            assert "killed" not in check.stdout + check.stderr
    assert not (tmp_path / "link.db.lock").exists()


def test_a_writer_held_back_by_a_stopped_run_is_told_to_continue_or_end_it(archived):
    """A crawl stopped with Ctrl-Z and forgotten holds the lock for ever: every nightly refresh was told to
    "wait for it to end", which it never would."""
    _, db = archived
    code = ("import sys\nfrom glossary_spider.lock import ArchiveLock\nwith ArchiveLock(sys.argv[1], 'crawl'):\n"
            "    print('held', flush=True)\n    sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code, str(db)], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        running = run_glossary("reparse", "--db", str(db), "--no-progress")
        assert running.returncode == 3 and "wait for it to end" in running.stderr
        holder.send_signal(signal.SIGSTOP)
        stopped = run_glossary("reparse", "--db", str(db), "--no-progress")
        assert stopped.returncode == 3, stopped.stderr
        assert stopped.stderr == (f"Error: {db} is locked by another writer (pid {holder.pid}, crawl since "
                                  f"{stopped.stderr.split(' since ')[1].split(',')[0]}, stopped: Ctrl-Z or SIGSTOP): "
                                  f"continue it ('fg' in its shell, or 'kill -CONT {holder.pid}'), "
                                  f"or end it ('kill {holder.pid}; kill -CONT {holder.pid}': stopped, it takes the "
                                  "kill only once continued)\n")
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.communicate("", timeout=30)


def test_runs_says_a_running_run_whose_process_is_stopped_is_so_and_how_to_continue_or_end_it(make_replica, tmp_path):
    """A crawl stopped with Ctrl-Z and forgotten was listed as running, and 'runs --check' said "ok: crawl #1 running"
    for as long as it stayed stopped: nothing told its scheduler that it would never end."""
    server = make_replica(40)
    db = tmp_path / "a.db"
    process = launcher.popen([*GLOSSARY, "crawl", "--db", str(db), "--start-url", f"{server.url}/", "--delay", "2",
                              "--no-progress"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (db.exists() and '"outcome": "running"' in run_glossary("runs", "--json", "--db", str(db)).stdout):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
        process.send_signal(signal.SIGSTOP)
        while not is_stopped(process.pid):
            time.sleep(0.01)
        (run,) = json.loads(run_glossary("runs", "--json", "--db", str(db)).stdout)
        assert (run["outcome"], run["process_stopped"]) == ("running", True)
        what = (f"its process (pid {process.pid}) is stopped: continue it ('fg' in its shell, or 'kill -CONT "
                f"{process.pid}'), or end it ('kill {process.pid}; kill -CONT {process.pid}': stopped, it takes the "
                "kill only once continued)")
        listed = run_glossary("runs", "--db", str(db)).stdout.splitlines()
        assert " running (stopped) " in listed[1] and listed[2:] == [f"  crawl #1: {what}"]
        checked = run_glossary("runs", "--check", "--db", str(db))
        assert (checked.returncode, checked.stdout) == (0, f"ok: crawl #1 running since {run['started_at']}, "
                                                           f"but {what}\n")
        process.send_signal(signal.SIGCONT)
        (run,) = json.loads(run_glossary("runs", "--json", "--db", str(db)).stdout)
        assert (run["outcome"], run["process_stopped"], run["error"]) == ("running", False, None)
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(timeout=60)


def test_an_archive_with_a_second_name_is_refused_to_writers(archived, tmp_path):
    """SQLite keeps a write-ahead log by name: writers through two hard links to one archive each had a lock
    and a log of their own, and left it malformed. A writer refuses such an archive, touching nothing."""
    _, db = archived
    os.link(db, tmp_path / "other.db")
    before = archive_content(db)
    for command in (["reparse"], ["refresh"], ["crawl", "--start-url", "http://127.0.0.1:9/"]):
        result = run_glossary(*command, "--db", str(db), "--no-progress")
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "2 names (hard links)" in result.stderr, result.stderr
    assert archive_content(db) == before
    os.unlink(tmp_path / "other.db")
    assert run_glossary("reparse", "--db", str(db), "--no-progress").returncode == 0
    # The second name a creation of the archive killed between its link and its removal leaves (kill -9): no
    # user's hard link, but the creation's to remove. Every writer refused the archive for good.
    left = db.with_name(f".{db.name}.k1ll3d_x.new")
    os.link(db, left)
    result = run_glossary("reparse", "--db", str(db), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert not left.exists() and os.stat(db).st_nlink == 1


def test_a_killed_refresh_resumes_without_refetching(archived):
    server, db = archived
    server.set_generation(2)
    process = launcher.popen(
        [*GLOSSARY, "refresh", "--db", str(db), "--max-age", "0", "--delay", "0.02", "--concurrency", "1",
         "--no-progress"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    run_id = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = rows(db, "SELECT id FROM crawl_runs WHERE command = 'refresh'")
        if found and rows(db, "SELECT count(*) AS n FROM captures WHERE run_id = ?", (found[0]["id"],))[0]["n"] >= 60:
            run_id = found[0]["id"]
            break
        time.sleep(0.05)
    process.kill()
    process.wait()
    assert run_id is not None
    fetched_before = {r["url"] for r in rows(db, "SELECT url FROM captures WHERE run_id = ?", (run_id,))}
    server.clear_log()
    result = run_glossary("refresh", "--db", str(db), "--resume", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert {server.url + r["path"] for r in server.requests()} & fetched_before == set()
    new, gone, changed = generation_change(ReplicaSite(200, 1), ReplicaSite(200, 2))
    (run,) = rows(db, "SELECT * FROM crawl_runs WHERE command = 'refresh'")
    assert (run["finish_reason"], run["pages_new"], run["pages_gone"]) == ("finished", len(new), len(gone))
    assert run["pages_changed"] == len(changed | {"/"})
    every_known = rows(db, "SELECT count(*) AS n FROM pages WHERE status = 'live'")[0]["n"]
    refetched = rows(db, "SELECT count(DISTINCT url) AS n FROM captures WHERE run_id = ? AND outcome IN "
                         "('new', 'changed', 'unchanged')", (run_id,))[0]["n"]
    assert refetched == every_known  # --max-age 0 carried over: every live page fetched in full, once


def test_a_killed_refresh_that_is_not_resumed_leaves_nothing_staged_once_a_new_one_starts(archived):
    """cron starts the next refresh, not --resume: the killed one's staged pages, gone pages and frontier
    would lie there for good. The new refresh forgets them (their captures say so) and archives afresh."""
    server, db = archived
    server.set_generation(2)
    process = launcher.popen(
        [*GLOSSARY, "refresh", "--db", str(db), "--max-age", "0", "--delay", "0.02", "--concurrency", "1",
         "--no-progress"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and rows(db, "SELECT count(*) AS n FROM staged")[0]["n"] < 60:
        time.sleep(0.05)
    process.kill()
    process.wait()
    (killed,) = rows(db, "SELECT id FROM crawl_runs WHERE command = 'refresh'")
    assert rows(db, "SELECT count(*) AS n FROM staged WHERE run_id = ?", (killed["id"],))[0]["n"] >= 60
    result = run_glossary("refresh", "--db", str(db), "--max-age", "0", "--delay", "0", "--no-progress")
    assert result.returncode == 0, result.stderr
    for table in ("staged", "frontier"):
        assert rows(db, f"SELECT count(*) AS n FROM {table}")[0]["n"] == 0, table
    outcomes = {r["outcome"] for r in rows(db, "SELECT DISTINCT outcome FROM captures WHERE run_id = ?",
                                            (killed["id"],))}
    assert outcomes <= {"discarded", "not_modified", "failed", "still_gone", "moved"}  # moved: no page to forget
    new, gone, changed = generation_change(ReplicaSite(200, 1), ReplicaSite(200, 2))
    (run,) = rows(db, "SELECT * FROM crawl_runs WHERE id > ?", (killed["id"],))
    assert (run["pages_new"], run["pages_gone"]) == (len(new), len(gone))
    assert archive_problems(db) == []


def kill_a_refresh_once_it_staged_edits(db, edits: int = 1) -> int:
    """Start a refresh, and kill -9 it once it has staged ``edits`` edited pages: its run's id. A run stages
    its pages a batch at a time, at least every 2 s (GLOSSARY_BATCH_SECONDS): this one's delay keeps it
    fetching for about 7 s, so its first batches are staged well before its close archives them all."""
    process = launcher.popen(
        [*GLOSSARY, "refresh", "--db", str(db), "--delay", "0.1", "--concurrency", "1", "--no-progress"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    staged = "SELECT count(*) AS n FROM staged s JOIN captures c USING (run_id, url) WHERE c.outcome = 'changed'"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None and rows(db, staged)[0]["n"] < edits:
        time.sleep(0.05)
    process.kill()
    out, err = process.communicate()
    assert rows(db, staged)[0]["n"] >= edits, (process.returncode, out, err)
    return rows(db, "SELECT max(id) AS id FROM crawl_runs WHERE command = 'refresh'")[0]["id"]


def test_a_refresh_after_a_killed_one_fetches_the_changes_the_killed_one_had_fetched(archived):
    """The killed refresh's staged captures hold the edited pages' new validators. The next refresh (cron's,
    not --resume) sent them, got 304 Not Modified for the very edits the archive lacked, and kept the old
    versions for good."""
    server, db = archived
    server.set_generation(2)
    killed = kill_a_refresh_once_it_staged_edits(db)
    result = refresh(db)
    assert result.returncode == 0, result.stderr
    new, gone, changed = generation_change(ReplicaSite(200, 1), ReplicaSite(200, 2))
    (run,) = rows(db, "SELECT * FROM crawl_runs WHERE id > ?", (killed,))
    assert (run["pages_new"], run["pages_gone"], run["pages_changed"]) == (len(new), len(gone), len(changed | {"/"}))
    edited = {server.url + p for p in changed}
    assert {r["url"] for r in rows(db, "SELECT url FROM pages WHERE version = 2")} >= edited
    assert archive_problems(db) == []


def test_a_reparse_after_a_killed_refresh_archives_nothing_the_refresh_had_staged(archived):
    """A reparse re-extracts each page from its archived body: not from a body a killed run staged, which no
    quality gate has passed (and which a --resume of that run still archives, or not, after its gate)."""
    server, db = archived
    before = rows(db, "SELECT url, content_hash, version FROM pages ORDER BY url")
    server.set_generation(2)
    killed = kill_a_refresh_once_it_staged_edits(db)
    result = run_glossary("reparse", "--db", str(db), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT url, content_hash, version FROM pages ORDER BY url") == before
    result = run_glossary("refresh", "--db", str(db), "--resume", "--no-progress")
    assert result.returncode == 0, result.stderr
    (run,) = rows(db, "SELECT pages_changed FROM crawl_runs WHERE id = ?", (killed,))
    assert run["pages_changed"] > 0


def test_a_resumed_crawl_does_not_refetch_a_redirect_target_it_had_fetched(archived):
    """The stopped run had fetched /definition/x/ and still had to fetch /definitions/x/,
    which redirects there: the redirect is followed to nothing, as in an uninterrupted run."""
    server, db = archived
    target = rows(db, "SELECT url FROM pages WHERE page_type = 'definition' ORDER BY url LIMIT 1")[0]["url"]
    old_scheme = target.replace("/definition/", "/definitions/")
    with Archive(db) as archive:
        first = archive.run(1)
        run_id = archive.start_run("crawl", json.loads(first["args"]))
        done = [r["url"] for r in rows(db, "SELECT url FROM pages")]
        with archive.db.atomic():
            archive.mark_frontier(run_id, done=done, pending=[old_scheme])
    server.clear_log()
    result = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress")
    assert result.returncode == 0, result.stderr
    pages_requested = [r["path"] for r in server.requests() if not r["path"].endswith(".xml")]
    assert pages_requested == ["/robots.txt", path_of(old_scheme)]


def _scrapy(*args):
    return [sys.executable, "-m", "scrapy", "crawl", "glossary", *args]


def test_a_run_started_with_scrapy_crawl_resumes_with_its_own_arguments(archived, tmp_path):
    """Started Scrapy's way, stopped, resumed with `glossary crawl --resume`: its own URLs and options, never
    the live site's defaults, and the frontier kept (issue 14, item 2)."""
    server, reference = archived
    db = tmp_path / "scrapy.db"
    process = _stop_midway(db, server, signal.SIGINT, command=_scrapy(
        "-a", f"start_urls={server.url}/", "-a", f"sitemap_urls={server.url}/sitemap_index.xml",
        "-s", f"GLOSSARY_DB={db}", "-s", "DOWNLOAD_DELAY=0", "-s", "CONCURRENT_REQUESTS=2"))
    assert process.returncode == 0  # Scrapy's own exit status; the archive says what happened
    # Its log says how to continue it, as glossary crawl says it on stopping (a Scrapyd job's said nothing).
    assert ("crawl #1 stopped before its end (shutdown): a job with -a resume=1 and the same GLOSSARY_DB setting "
            "continues it") in process.stderr.read()
    (run,) = rows(db, "SELECT args, outcome FROM crawl_runs")
    args = json.loads(run["args"])
    assert (args["start_urls"], args["delay"], args["concurrency"], run["outcome"]) == (
        [f"{server.url}/"], 0.0, 2, "failed")
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 1 and "crawl #1 failed" in check.stderr and "shutdown" in check.stderr
    archived_before = {r["url"] for r in rows(db, "SELECT url FROM pages")}
    server.clear_log()

    result = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert {server.url + r["path"] for r in server.requests()} & archived_before == set()
    assert archive_content(db) == archive_content(reference)
    assert rows(db, "SELECT command, outcome FROM crawl_runs") == [{"command": "crawl", "outcome": "done"}]
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "1")
    assert check.returncode == 0 and check.stdout.startswith("ok: crawl #1 done"), check


def test_resume_takes_the_original_arguments_repeated_and_names_any_that_differ(archived, tmp_path):
    """A scheduler's command line does not change between the run that was stopped and the one that
    resumes it (issue 10, item 4); here the resume goes through scrapy crawl -a resume=1."""
    server, reference = archived
    db = tmp_path / "repeat.db"
    assert _stop_midway(db, server, signal.SIGTERM).returncode == 1
    other = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress", *_original_args(server)[:-1], "3")
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert other.stderr.strip() == ("Error: crawl #1 was started with concurrency 2, not 3: "
                                    "to resume it, give its arguments as they were, or none")
    result = subprocess.run(_scrapy(
        "-a", "resume=1", "-a", f"start_urls={server.url}/", "-a", f"sitemap_urls={server.url}/sitemap_index.xml",
        "-a", "delay=0", "-a", "concurrency=2", "-s", f"GLOSSARY_DB={db}"), cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert archive_content(db) == archive_content(reference)
    runs = rows(db, "SELECT id, outcome, finish_reason FROM crawl_runs ORDER BY id")
    assert runs == [{"id": 1, "outcome": "done", "finish_reason": "finished"},
                    {"id": 2, "outcome": "bad_input", "finish_reason": "bad_argument"}]
    check = run_glossary("runs", "--db", str(db), "--check")  # the run resumed after the refusal: all is well
    assert check.returncode == 0 and check.stdout.startswith("ok: crawl #1 done"), check


def test_a_run_an_earlier_release_stopped_resumes_with_what_this_one_takes_of_its_arguments(archived, tmp_path):
    """An earlier release recorded no 'workers', and took gate thresholds this one refuses: the resume of its
    stopped run was refused for the scheduler's unchanged '-s GLOSSARY_EXTRACT_WORKERS=1' ('started with
    workers default, not 1'), and for the stored threshold whatever was given."""
    server, reference = archived
    db = tmp_path / "earlier.db"
    assert _stop_midway(db, server, signal.SIGTERM).returncode == 1
    with sqlite3.connect(db) as conn:  # the stopped run's arguments as the earlier release recorded them
        (args,) = conn.execute("SELECT args FROM crawl_runs WHERE id = 1").fetchone()
        args = {**{k: v for k, v in json.loads(args).items() if k != "workers"}, "gate": ["same-page-share=1.5"]}
        conn.execute("UPDATE crawl_runs SET args = ? WHERE id = 1", [json.dumps(args)])
    conn.close()
    result = subprocess.run(_scrapy(
        "-a", "resume=1", "-a", f"start_urls={server.url}/", "-a", f"sitemap_urls={server.url}/sitemap_index.xml",
        "-a", "delay=0", "-a", "concurrency=2", "-s", "GLOSSARY_EXTRACT_WORKERS=1", "-s", f"GLOSSARY_DB={db}"),
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "gate threshold this version refuses (--gate 'same-page-share=1.5'" in result.stderr
    assert rows(db, "SELECT id, finish_reason FROM crawl_runs") == [{"id": 1, "finish_reason": "finished"}]
    assert archive_content(db) == archive_content(reference)


def test_a_killed_reparse_that_a_later_one_did_not_carry_on_names_the_one_that_took_its_place(archived, tmp_path):
    """A reparse killed under an earlier extractor version is not carried on by this version's, which starts a
    run of its own over every page: 'glossary runs' went on saying 'glossary reparse' again carried it on."""
    _, reference = archived
    db = tmp_path / "reparsed.db"
    shutil.copy(reference, db)
    with sqlite3.connect(db) as conn:  # a reparse of version 3, killed: no end, as it left its row
        conn.execute("INSERT INTO crawl_runs (command, started_at, args, pid, reparsed_through) "
                     "VALUES ('reparse', '2026-01-01T00:00:00+00:00', '{\"extractor_version\": 3}', 1, 'x')")
    conn.close()
    assert run_glossary("reparse", "--db", str(db), "--no-progress").returncode == 0
    runs = json.loads(run_glossary("runs", "--db", str(db), "--json").stdout)
    killed, later = [run for run in runs if run["command"] == "reparse"]
    assert killed["error"].endswith(f"reparse #{later['id']} took its place"), killed["error"]


def test_a_killed_run_whose_pid_another_process_now_has_is_not_running(archived):
    """kill -9 leaves the lock file naming the run's pid; once another process had that pid (after a reboot,
    pids come round again), `runs --check` said "ok … crawl #2 running" for as long as it lived. Running is
    holding the lock, which the kernel says, not a live pid."""
    _, db = archived
    other = subprocess.Popen(["sleep", "60"])
    try:
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")  # the archive's last run
        with sqlite3.connect(db) as conn:
            conn.execute("INSERT INTO crawl_runs (command, started_at, args, pid) VALUES ('crawl', ?, '{}', ?)",
                         [started, other.pid])
        conn.close()
        lock_file = db.with_name(db.name + ".lock")
        lock_file.write_text(json.dumps({"pid": other.pid, "command": "crawl", "started_at": started}))
        check = run_glossary("runs", "--db", str(db), "--check")
        assert check.returncode == 1 and "stopped before it finished" in check.stderr, check
        with ArchiveLock(db, "crawl"):  # a run that holds the lock, as a live crawl does
            lock_file_pid = json.loads(lock_file.read_text())["pid"]
            with sqlite3.connect(db) as conn:
                conn.execute("UPDATE crawl_runs SET pid = ? WHERE finished_at IS NULL", [lock_file_pid])
            conn.close()
            check = run_glossary("runs", "--db", str(db), "--check")
            assert check.returncode == 0 and "running" in check.stdout, check
    finally:
        other.kill()
        other.wait()


def test_an_empty_glossary_db_setting_is_named_to_a_job():
    """setting=GLOSSARY_DB= (an unset variable) said '. is a directory, not an archive file'; then, after the
    ERROR line, Scrapy's 'WARNING: Disabled glossary_spider.pipelines.ArchivePipeline: ArchivePipeline needs the
    GLOSSARY_DB setting' said it again."""
    result = subprocess.run(_scrapy("-a", "start_urls=http://127.0.0.1:9/", "-s", "GLOSSARY_DB="), cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    (said,) = [line for line in result.stderr.splitlines() if re.search(r"\b(ERROR|WARNING):", line)]
    assert said.endswith("ERROR: the GLOSSARY_DB setting is empty: set it to the archive's path (-s GLOSSARY_DB=PATH; "
                         "setting=GLOSSARY_DB=PATH for a Scrapyd job)"), result.stderr
    assert "is a directory" not in result.stderr


def test_a_run_over_pages_an_earlier_extractor_read_says_so(archived):
    """A refresh over an archive an upgrade had not reparsed took each page's new reading for a change of the
    site's, and said nothing of it."""
    _, db = archived
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE pages SET extractor_version = extractor_version - 1, record_digest = 'earlier' "
                     "WHERE url LIKE '%/term/%'")  # as an earlier release wrote them
        (earlier,) = conn.execute("SELECT count(*) FROM pages WHERE url LIKE '%/term/%' AND status = 'live'"
                                  ).fetchone()
    conn.close()
    result = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert (f"Note: {earlier:,} archived pages were read by an earlier extractor: 'glossary reparse --db {db}' "
            "reads them anew") in result.stderr
    result = run_glossary("reparse", "--db", str(db), "--no-progress")
    assert result.returncode == 0, result.stderr
    result = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress")
    assert result.returncode == 0 and "earlier extractor" not in result.stderr, result.stderr


def test_a_stop_with_no_time_left_to_archive_leaves_the_pages_staged_for_resume(replica, tmp_path):
    """A stop (SIGTERM, Ctrl-C) judged and archived every page the run had staged before it exited: 40,000 took
    half a minute, past the 10 s a stop promises and a service manager's time-out before it kills. What cannot be
    archived by GLOSSARY_STOP_ARCHIVE_WITHIN seconds after the stop (here 0) is rolled back and left staged, and
    --resume archives it."""
    db, reference = tmp_path / "a.db", tmp_path / "reference.db"
    home, sitemap = f"{replica.url}/", f"{replica.url}/sitemap_index.xml"
    err = _stopped_with_pages_staged(replica, db)
    (run,) = rows(db, "SELECT id, finish_reason, stats FROM crawl_runs")
    assert run["finish_reason"] == "shutdown", err
    staged = rows(db, "SELECT count(*) AS n FROM staged WHERE run_id = ?", (run["id"],))[0]["n"]
    assert staged >= 20 and json.loads(run["stats"])["glossary/left_staged"] == staged
    assert rows(db, "SELECT count(*) AS n FROM pages") == [{"n": 0}]
    assert "left " in err and "staged pages for --resume" in err

    resumed = run_glossary("crawl", "--resume", "--db", str(db), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert crawl(reference, "--start-url", home, "--sitemap", sitemap).returncode == 0
    assert archive_content(db) == archive_content(reference)
    assert rows(db, "SELECT count(*) AS n FROM staged") == [{"n": 0}]


def test_a_resume_after_an_upgrade_extracts_anew_what_the_stopped_part_staged(replica, tmp_path):
    """A crawl stopped with pages staged, resumed by a release with a newer extractor, archived those pages as
    the earlier extractor read them (a stale reading, and its version), where 'held --accept' reads a held run's
    pages anew. The resume extracts them again from their captures: it gives the archive an uninterrupted crawl
    gives."""
    from glossary_spider.extraction import EXTRACTOR_VERSION
    from glossary_spider.storage.staging import kept_rows, staged_rows

    db, reference = tmp_path / "a.db", tmp_path / "reference.db"
    _stopped_with_pages_staged(replica, db)
    with sqlite3.connect(db) as conn:  # as an earlier release staged them: its version, and its reading of titles
        for url, stored in conn.execute("SELECT url, rows FROM staged").fetchall():
            page_rows = staged_rows(stored)
            page_rows["page"].update(extractor_version=EXTRACTOR_VERSION - 1, title="Read as it once was")
            conn.execute("UPDATE staged SET rows = ?, title = 'Read as it once was' WHERE url = ?",
                         [kept_rows(page_rows), url])
    conn.close()
    (staged,) = rows(db, "SELECT count(*) AS n FROM staged")
    resumed = run_glossary("crawl", "--resume", "--db", str(db), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert (f"Note: crawl #1 had staged {staged['n']} pages as an earlier extractor read them: extracted anew from "
            "their captures\n") in resumed.stderr, resumed.stderr
    assert rows(db, "SELECT count(*) AS n FROM pages WHERE extractor_version < ? OR title = 'Read as it once was'",
                (EXTRACTOR_VERSION,)) == [{"n": 0}]
    assert crawl(reference, "--start-url", f"{replica.url}/", "--sitemap",
                 f"{replica.url}/sitemap_index.xml").returncode == 0
    assert archive_content(db) == archive_content(reference)


def test_a_resume_after_an_upgrade_says_an_earlier_extractor_read_the_pages_archived(replica, tmp_path):
    """A new run says first how many archived pages an earlier extractor read (a reparse reads them anew); a
    resumed one said nothing of it, for all the pages its stopped part had archived."""
    db = tmp_path / "a.db"
    stopped = crawl(db, "--start-url", f"{replica.url}/", "--max-pages", "20")
    assert stopped.returncode == 4, stopped.stderr
    with sqlite3.connect(db) as conn:  # as an earlier release archived them
        earlier = conn.execute("UPDATE pages SET extractor_version = extractor_version - 1").rowcount
    conn.close()
    assert earlier >= 20
    resumed = run_glossary("crawl", "--resume", "--db", str(db), "--no-progress")
    assert resumed.returncode == 4, resumed.stderr  # its budget again
    assert f"Note: {earlier} archived pages were read by an earlier extractor: " in resumed.stderr, resumed.stderr


def _stopped_with_pages_staged(replica, db) -> str:
    """Crawl ``replica`` into ``db`` and stop (SIGTERM) once 20 pages are staged, leaving them staged (no time to
    archive them); returns what the crawl wrote on standard error."""
    home, sitemap = f"{replica.url}/", f"{replica.url}/sitemap_index.xml"
    process = launcher.popen(
        [*GLOSSARY[:2], "scrapy", "crawl", "glossary", "-a", f"start_urls={home}", "-a", f"sitemap_urls={sitemap}",
         "-a", "delay=0.01", "-a", "concurrency=1", "-s", f"GLOSSARY_DB={db}", "-s", "GLOSSARY_STOP_ARCHIVE_WITHIN=0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (db.exists() and rows(db, "SELECT count(*) AS n FROM staged")[0]["n"]
                                               >= 20):
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    return process.communicate(timeout=30)[1]


def test_a_version_a_reparse_reads_from_before_the_page_went_comes_before_its_going():
    """A reparse (a new extractor) reads a gone page's last capture again: its version, dated at that capture, was
    listed after the page's going, as if the page had changed once gone. A page back with new words: back, then
    its version."""
    from glossary_spider.cli.reading import _history_lines

    def version(number, at, run, command):
        return {"version": number, "captured_at": at, "run_id": run, "command": command, "content_hash": "0" * 64,
                "words": 10, "title": "Vega"}

    def event(name, at, run):
        return {"event": name, "at": at, "run_id": run, "command": "refresh", "http_status": 404 if name == "gone"
                else 200, "to": None}

    lines = _history_lines([version(1, "2026-01-01T00:00:00+00:00", 1, "crawl"),
                            version(2, "2026-01-01T00:00:00+00:00", 3, "reparse"),
                            version(3, "2026-01-05T00:00:00+00:00", 4, "refresh")],
                           [event("gone", "2026-01-02T00:00:00+00:00", 2),
                            event("back", "2026-01-05T00:00:00+00:00", 4)])
    assert [line.split()[0] for line in lines] == ["v1", "v2", "gone", "back", "v3"]
