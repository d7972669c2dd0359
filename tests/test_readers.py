"""Readers while a crawl writes: search, show and Datasette in other processes never fail
with "database is locked" and never see a page half written."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import time

import launcher
from conftest import GLOSSARY, ROOT, archive_problems, run_glossary


def _datasette_reads(db) -> list[tuple[int, str]]:
    from datasette.app import Datasette

    async def read():
        datasette = Datasette([str(db)])
        answers = []
        for path in (f"/{db.stem}/pages.json?_size=5", f"/{db.stem}/links.json?_size=5",
                     f"/{db.stem}.json?sql=select+count(*)+from+pages"):
            response = await datasette.client.get(path)
            answers.append((response.status_code, response.text))
        return answers

    return asyncio.run(read())


def test_readers_are_never_locked_out_and_never_see_half_a_page(make_replica, tmp_path):
    server = make_replica(200)
    db = tmp_path / "busy.db"
    writer = launcher.popen(
        [*GLOSSARY, "crawl", "--db", str(db), "--start-url", f"{server.url}/", "--sitemap",
         f"{server.url}/sitemap_index.xml", "--delay", "0", "--concurrency", "2", "--no-progress"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    reads = 0
    failures = []
    try:
        while not db.exists() and writer.poll() is None:
            time.sleep(0.05)
        while writer.poll() is None:
            search = run_glossary("search", "--db", str(db), "risk", "--format", "json", "--limit", "3")
            if search.returncode != 0:
                failures.append(search.stderr)
            elif found := json.loads(search.stdout):
                show = run_glossary("show", "--db", str(db), found[0]["url"])
                if show.returncode != 0:
                    failures.append(show.stderr)
            for status, text in _datasette_reads(db):
                if status != 200:
                    failures.append(text[:300])
            # One snapshot: every page visible has its version, sections, links and JSON-LD whole.
            failures += archive_problems(db)
            reads += 1
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0, writer.stderr.read()
    assert reads >= 3, "the crawl ended before the readers had a go"
    assert failures == []


def test_a_commands_reads_are_one_snapshot_whatever_a_writer_commits_meanwhile(make_replica, tmp_path):
    """show read a page's row, then its sections, links and history, each in a snapshot of its own: a run
    committing its close between two of them gave a page part before and part after, and versions
    without text."""
    from glossary_spider.query import connect, history, page

    server = make_replica(40)
    db = tmp_path / "snapshot.db"
    result = run_glossary("crawl", "--db", str(db), "--start-url", f"{server.url}/", "--delay", "0", "--no-progress")
    assert result.returncode == 0, result.stderr
    reader = connect(db)
    url = reader.execute("SELECT url FROM pages WHERE page_type = 'definition' ORDER BY url LIMIT 1").fetchone()[0]
    before = page(reader, url)
    writer = sqlite3.connect(db)
    with writer:  # what a reparse or a refresh commits: the page rewritten, its sections gone
        writer.execute("UPDATE pages SET title = 'rewritten', body_text = '' WHERE url = ?", (url,))
        writer.execute("DELETE FROM section_spans WHERE url_id = (SELECT id FROM urls WHERE url = ?)", (url,))
    writer.close()
    assert page(reader, url) == before
    assert [v["title"] for v in history(reader, url)] == [before["title"]]
    reader.close()
    assert page(connect(db), url)["title"] == "rewritten"


def test_a_run_that_ends_while_a_reader_is_open_leaves_no_write_ahead_log(make_replica, tmp_path):
    """SQLite folds its log into the file only as the last connection closes: a refresh that ended while a
    reader (Datasette, a report) had the archive open left the log whole, a gigabyte after a long refresh.
    Every later reader scanned it at its start, ten times slower, and a copy of the file alone lacked the
    run. The writer now empties the log as it closes."""
    server = make_replica(40)
    db = tmp_path / "logged.db"
    assert run_glossary("crawl", "--db", str(db), "--start-url", f"{server.url}/", "--delay", "0",
                        "--no-progress").returncode == 0
    reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)  # as Datasette keeps one: open, between reads
    assert reader.execute("SELECT count(*) FROM pages").fetchone()[0] > 40
    server.set_generation(2)
    refreshed = json.loads(run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress", "--json").stdout)
    assert refreshed["changes"] > 0
    assert db.with_name(db.name + "-wal").stat().st_size == 0
    alone = tmp_path / "copy.db"  # the file without its log: the refresh is in it
    alone.write_bytes(db.read_bytes())
    with sqlite3.connect(alone) as copy:
        assert copy.execute("SELECT finish_reason FROM crawl_runs WHERE id = ?", (refreshed["id"],)).fetchall() == [
            ("finished",)]
    reader.close()
