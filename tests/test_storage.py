"""The compact archive: history kept as what changed and read back whole, with plain SQL too; page
bodies kept as changes; and an archive of schema 1 upgraded in place, killed or not."""

import gzip
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time

import launcher
import pytest
from conftest import GLOSSARY, ROOT, Replica, archive_problems, crawl, rows, run_glossary

from glossary_spider.extraction.page import content_hash
from glossary_spider.storage import SCHEMA_VERSION, Archive
from glossary_spider.storage.history import page_history

# An archive written by glossary_spider at schema 1 (commit 84e8fe2): a crawl of a 40-page replica,
# then refreshes against generations 2 to 6, so some pages have up to six versions.
SCHEMA_1 = ROOT / "tests" / "samples" / "schema1-archive.db.gz"


def page_rows(db, url):
    """A page's text, sections, links and structured data, as the contract's tables and views give them."""
    return {
        "page": rows(db, "SELECT title, summary, body_text, content_hash FROM pages WHERE url = ?", (url,))[0],
        "sections": rows(db, "SELECT position, heading, text FROM sections WHERE url = ? ORDER BY position", (url,)),
        "links": rows(db, "SELECT kind, position, to_url, anchor_text, summary, facet FROM links WHERE from_url = ? "
                          "ORDER BY kind, position", (url,)),
        "structured_data": rows(db, "SELECT syntax, position, type, data FROM structured_data WHERE url = ? "
                                    "ORDER BY syntax, position", (url,)),
    }


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    """A replica crawled, then refreshed against its next generation; what its definitions held before."""
    tmp = tmp_path_factory.mktemp("compact")
    server = Replica(tmp)
    db = tmp / "compact.db"
    try:
        assert crawl(db, "--start-url", f"{server.url}/", "--sitemap", f"{server.url}/sitemap_index.xml").returncode == 0
        before = {r["url"]: page_rows(db, r["url"]) for r in rows(db, "SELECT url FROM pages WHERE page_type = 'definition'")}
        server.set_generation(2)
        result = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress")
        assert result.returncode == 0, result.stderr
    finally:
        server.stop()
    return db, before


def test_an_earlier_version_is_kept_as_what_changed_and_read_back_whole(refreshed):
    db, before = refreshed
    edited = [r["url"] for r in rows(db, "SELECT url FROM pages WHERE version = 2 AND page_type = 'definition'")]
    assert len(edited) >= 3
    conn = sqlite3.connect(db)
    for url in edited:
        old = before[url]
        # Plain SQL, through the page_versions view: the first version's text as the first crawl archived it.
        (first,) = rows(db, "SELECT title, summary, body_text, content_hash FROM page_versions "
                            "WHERE url = ? AND version = 1", (url,))
        assert first == old["page"]
        # Stored as a change: a small part of the text it stands for.
        (stored,) = rows(db, "SELECT length(coalesce(v.text_middle, '')) AS middle, length(v.record_delta) AS delta "
                             "FROM versions v JOIN urls u ON u.id = v.url_id WHERE u.url = ? AND v.version = 1", (url,))
        assert stored["middle"] < len(old["page"]["body_text"]) / 4 and stored["delta"] < 300
        # Its whole record, rebuilt, is the one the first crawl archived: it hashes to its content hash.
        version = page_history(conn, url)[0]
        record = version["record"]
        assert record["sections"] == old["sections"]
        assert sorted(record["links"], key=lambda link: (link["kind"], link["position"])) == old["links"]
        assert [{**item, "data": json.dumps(item["data"], ensure_ascii=False)} for item in record["structured_data"]] \
            == old["structured_data"]
        whole = {**record, "title": version["title"], "summary": version["summary"], "body_text": version["body_text"]}
        assert content_hash(whole) == version["content_hash"] == old["page"]["content_hash"]


def test_a_page_fetched_again_is_kept_as_what_changed_in_its_body(refreshed):
    db, _ = refreshed
    deltas = rows(db, "SELECT b.sha256, length(b.data) AS kept, b.size FROM captures c "
                      "JOIN bodies b ON b.sha256 = c.body_sha256 WHERE c.run_id = 2 AND b.compression LIKE 'zstd-delta:%'")
    assert len(deltas) >= 3
    with Archive(db) as archive:
        for row in deltas:
            assert hashlib.sha256(archive.body(row["sha256"])).hexdigest() == row["sha256"]
            assert row["kept"] < row["size"] / 20
    assert archive_problems(db) == []


# -- migration from schema 1 ----------------------------------------------------------------------

def schema_1_archive(path):
    path.write_bytes(gzip.decompress(SCHEMA_1.read_bytes()))
    return path


CONTENT = {
    "pages": "SELECT * FROM pages ORDER BY url",
    "links": "SELECT from_url, kind, position, to_url, anchor_text, summary, facet FROM links "
             "ORDER BY from_url, kind, position",
    "sections": "SELECT url, position, heading, text FROM sections ORDER BY url, position",
    "structured_data": "SELECT url, syntax, position, type, data FROM structured_data ORDER BY url, syntax, position",
    "page_versions": "SELECT url, version, content_hash, run_id, captured_at, title, summary, body_text, "
                     "extractor_version FROM page_versions ORDER BY url, version",
    "captures": "SELECT id, run_id, url, fetched_at, http_status, etag, body_sha256, outcome FROM captures ORDER BY id",
    "bodies": "SELECT sha256, size FROM bodies ORDER BY sha256",
}


def content(db):
    found = {name: rows(db, sql) for name, sql in CONTENT.items()}
    for page in found["pages"]:  # a column added since schema 1, filled as pages are next written
        page.pop("record_digest", None)
    return found


def old_records(db):
    """Each version's sections and links, from a schema-1 archive's own JSON."""
    return {(r["url"], r["version"]): json.loads(r["record"])
            for r in rows(db, "SELECT url, version, record FROM page_versions")}


def test_an_archive_of_schema_1_is_upgraded_in_place_and_keeps_every_row_and_version(tmp_path):
    db = schema_1_archive(tmp_path / "old.db")
    before, records, size = content(db), old_records(db), db.stat().st_size
    assert max(v["version"] for v in before["page_versions"]) >= 5
    hashes = [page["content_hash"] for page in before["pages"]]

    result = run_glossary("report", "--db", str(db))  # any command upgrades it, a reading one too
    assert result.returncode == 0, result.stderr
    assert rows(db, "PRAGMA user_version")[0]["user_version"] == SCHEMA_VERSION
    # Each page, and its latest version, hashed again without its JSON-LD's dateModified: the hash of
    # the record the old archive kept, as extraction now hashes it.
    latest = {(v["url"], v["version"]): v for v in before["page_versions"]}
    for page in before["pages"]:
        whole = {**records[(page["url"], page["version"])], **{k: page[k] for k in ("title", "summary", "body_text")}}
        assert content_hash(whole, churning=True) == page["content_hash"]
        page["content_hash"] = latest[(page["url"], page["version"])]["content_hash"] = content_hash(whole)
    assert content(db) == before
    assert sum(page["content_hash"] != old for page, old in zip(before["pages"], hashes)) >= 5
    assert archive_problems(db) == []
    assert db.stat().st_size < size

    conn = sqlite3.connect(db)
    for url in {url for url, _ in records}:
        for version in page_history(conn, url):
            old = records[(url, version["version"])]
            assert [(s["heading"], s["text"]) for s in version["record"]["sections"]] == \
                [(s["heading"], s["text"]) for s in old["sections"]]
            assert [(link["kind"], link["to_url"], link["anchor_text"]) for link in version["record"]["links"]] == \
                [(link["kind"], link["to_url"], link["anchor_text"]) for link in old["links"]]
    (latest,) = rows(db, "SELECT url, version FROM pages ORDER BY version DESC LIMIT 1")
    result = run_glossary("show", latest["url"], "--history", "--format", "json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert [v["version"] for v in json.loads(result.stdout)["versions"]] == list(range(1, latest["version"] + 1))


def test_a_reader_never_upgrades_an_archive_beside_the_run_writing_it(tmp_path):
    """A reader upgraded an archive of an earlier release under the feet of that release's run, which holds
    the archive's lock: the run then wrote rows of a schema it does not know. The upgrade, a write, takes
    the lock: a reader that finds a run holding it says who, in one line, and leaves the archive as it was;
    one that finds another reader upgrading it waits for it."""
    from glossary_spider.lock import ArchiveLock

    db = schema_1_archive(tmp_path / "old.db")
    with ArchiveLock(db, "refresh"):
        refused = run_glossary("search", "--db", str(db), "funding")
    assert refused.returncode == 2 and refused.stdout == "", refused.stdout + refused.stderr
    assert refused.stderr.count("\n") == 1 and "schema 1" in refused.stderr, refused.stderr
    assert f"pid {os.getpid()}, refresh since" in refused.stderr and "Traceback" not in refused.stderr
    assert rows(db, "PRAGMA user_version") == [{"user_version": 1}]

    upgrading = ArchiveLock(db, "upgrade").acquire()
    waiting = launcher.popen([*GLOSSARY, "search", "--db", str(db), "funding"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=ROOT)
    time.sleep(1.5)
    assert waiting.poll() is None  # waits for the other reader's upgrade
    upgrading.release()
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0 and out, err

    assert rows(db, "PRAGMA user_version") == [{"user_version": SCHEMA_VERSION}]


def test_an_upgrade_keeps_the_versions_of_a_page_whose_latest_version_row_was_deleted(tmp_path):
    """The upgrade took a page's latest version row for the page itself: with that row deleted by hand, the
    one below it was stored as "the page holds it", and it and every older version read back without text."""
    db = schema_1_archive(tmp_path / "old.db")
    (page,) = rows(db, "SELECT url, version FROM pages WHERE version >= 5 ORDER BY url LIMIT 1")
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM page_versions WHERE url = ? AND version = ?", (page["url"], page["version"]))
    conn.close()
    before = rows(db, "SELECT version, title, summary, body_text FROM page_versions WHERE url = ? ORDER BY version",
                  (page["url"],))
    assert len(before) == page["version"] - 1 and all(v["body_text"] for v in before)

    result = run_glossary("report", "--db", str(db))
    assert result.returncode == 0, result.stderr
    history = page_history(sqlite3.connect(db), page["url"])
    assert [{key: v[key] for key in ("version", "title", "summary", "body_text")} for v in history] == before


def test_an_upgrade_keeps_the_views_someone_added_and_names_those_it_cannot(tmp_path):
    """The upgrade dropped every view, the archive's own and those an analyst had added, and made only its
    own again."""
    db = schema_1_archive(tmp_path / "old.db")
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE VIEW my_related AS SELECT from_url, to_url FROM links WHERE kind = 'related'")
        conn.execute("CREATE VIEW my_rows AS SELECT from_url FROM links INDEXED BY idx_links_to_url")  # index gone
        related = conn.execute("SELECT count(*) FROM my_related").fetchone()[0]
    conn.close()
    assert related > 0

    result = run_glossary("report", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT count(*) AS n FROM my_related") == [{"n": related}]
    assert rows(db, "SELECT name FROM sqlite_master WHERE name = 'my_rows'") == []
    assert "could not be made again" in result.stderr and "my_rows" in result.stderr


def test_a_writer_leaves_a_current_schema_as_it_is_and_makes_again_what_is_missing(refreshed, tmp_path):
    """Every writer made the archive's views again as it opened it: a write of the schema at every run, which
    had every other connection (Datasette, a report) read the schema anew. A current schema is left as it is;
    what is missing or changed (a view dropped or replaced, a trigger or an index dropped) is made again."""
    db = tmp_path / "current.db"
    shutil.copy(refreshed[0], db)
    schema = "SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
    made, cookie = rows(db, schema), rows(db, "PRAGMA schema_version")
    result = run_glossary("reparse", "--db", str(db), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert rows(db, "PRAGMA schema_version") == cookie

    with sqlite3.connect(db) as conn:
        conn.execute("DROP VIEW broken_links")
        conn.execute("DROP VIEW links")
        conn.execute("CREATE VIEW links AS SELECT 1 AS from_url")
        conn.execute("DROP TRIGGER pages_au")
        conn.execute("DROP INDEX captures_moved")
    conn.close()
    result = run_glossary("reparse", "--db", str(db), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert rows(db, schema) == made


def test_a_migration_killed_at_any_moment_loses_nothing(tmp_path):
    reference = schema_1_archive(tmp_path / "reference.db")
    Archive(reference).close()
    expected = content(reference)
    upgrade = [sys.executable, "-c", "import sys; from glossary_spider.storage import Archive; Archive(sys.argv[1]).close()"]
    killed = 0
    for i, delay in enumerate((0.0, 0.005, 0.02, 0.05, 0.1)):
        db = schema_1_archive(tmp_path / f"killed-{i}.db")
        wal = db.with_name(db.name + "-wal")
        process = subprocess.Popen([*upgrade, str(db)], cwd=ROOT)
        while process.poll() is None and not (wal.exists() and wal.stat().st_size):
            time.sleep(0.001)  # the upgrade has started writing
        time.sleep(delay)
        if process.poll() is None:
            process.kill()
            killed += 1
        process.wait()
        Archive(db).close()  # upgrades again, from wherever the killed one stopped
        assert content(db) == expected, f"killed after {delay} s"
        assert archive_problems(db) == []
    assert killed >= 3


def test_reparse_rewrites_only_what_differs_from_the_extraction(refreshed, tmp_path):
    db = tmp_path / "reparsed.db"
    shutil.copy(refreshed[0], db)
    urls = [r["url"] for r in rows(db, "SELECT url FROM pages WHERE page_type = 'term' ORDER BY url LIMIT 2")]

    def written() -> list:
        return [(rows(db, "SELECT author FROM pages WHERE url = ?", (url,)),
                 rows(db, "SELECT heading FROM sections WHERE url = ? ORDER BY position", (url,))) for url in urls]

    expected = written()
    conn = sqlite3.connect(db)
    with conn:  # rows that no longer say what the page says, content hash untouched
        for url, digest in zip(urls, ["0" * 64, None]):  # as an older extractor left them; before digests
            conn.execute("UPDATE pages SET author = 'someone else', record_digest = ? WHERE url = ?", [digest, url])
            conn.execute("UPDATE section_spans SET heading = 'Tampered' WHERE url_id = "
                         "(SELECT id FROM urls WHERE url = ?)", [url])
    conn.close()
    result = run_glossary("reparse", "--db", str(db), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT pages_changed FROM crawl_runs ORDER BY id DESC LIMIT 1")[0]["pages_changed"] == 0
    assert written() == expected
    assert rows(db, "SELECT count(*) AS n FROM pages WHERE record_digest IS NULL")[0]["n"] == 0
    reparse_run = rows(db, "SELECT max(id) AS id FROM crawl_runs")[0]["id"]
    # The two pages rewritten are the reparse's; the others, which it found as it would write them, are not.
    rewritten = {r["url"] for r in rows(db, "SELECT url FROM pages WHERE run_id = ?", (reparse_run,))}
    assert rewritten == set(urls)
    assert archive_problems(db) == []


def extracted_replica_pages(site_pages: int, count: int) -> list:
    """(fetch, extraction) of the first ``count`` glossary pages of a replica of ``site_pages`` pages, as a
    crawl hands them to staging."""
    from glossary_spider.extraction import extract_page
    from glossary_spider.replica import ReplicaSite
    from glossary_spider.storage import Fetch

    site = ReplicaSite(site_pages)
    batch = []
    for path in site.glossary_paths()[:count]:
        reply = site.render(path, "http://x")
        fetch = Fetch("http://x" + path, 200, reply.body, reply.content_type, fetched_at="2026-11-01T00:00:00Z")
        batch.append((fetch, extract_page(reply.body, fetch.url, reply.content_type)))
    return batch


def test_a_run_whose_compaction_finds_the_disk_full_is_recorded_as_it_ended(refreshed, tmp_path, caplog):
    """The close compacts the archive (the full-text index merged, freed pages given back) after it records the
    run: a disk with room for the run's pages and not for that made a finished reparse exit 2, 'nothing of the
    failed write was kept', though its row said done and every change was kept; each later reparse did the same."""
    db = tmp_path / "full.db"
    shutil.copy(refreshed[0], db)
    with Archive(db) as archive:
        run_id = archive.start_run("reparse", {}, os.getpid(), None)
        archive.db.execute("UPDATE pages SET body_text = body_text || ' more' WHERE rowid IN "
                           "(SELECT rowid FROM pages LIMIT 3)")  # a segment more for the index to merge
        archive.db.conn.commit()
        archive.db.conn.executescript("PRAGMA incremental_vacuum")
        (pages,), = archive.db.execute("PRAGMA page_count").fetchall()
        archive.db.execute(f"PRAGMA max_page_count = {pages}")  # the disk as full as that: not a page more
        run = archive.finish_run(run_id, "finished", {}, {"pages_changed": 3})
    assert (run["finish_reason"], run["exit_status"]) == ("finished", 0)
    assert "the space the run freed was not given back to the disk (database or disk is full)" in caplog.text
    assert rows(db, "SELECT finish_reason FROM crawl_runs WHERE id = ?", (run_id,)) == [{"finish_reason": "finished"}]


def test_a_close_of_many_batches_gives_each_link_its_own_target_and_texts(tmp_path, monkeypatch):
    """The close archives a run's pages 500 at a time, the ids of URLs and link texts one batch read kept
    for the next (and forgotten past a bound, set low here): each link row must still name its own
    target and texts, as pages archived a few at a time give them."""
    from glossary_spider.storage import writer

    monkeypatch.setattr(writer, "KNOWN_MAX", 300)
    batch = extracted_replica_pages(1200, 620)
    with Archive(tmp_path / "close.db") as archive:
        run_id = archive.start_run("crawl", {})
        archive.stage_pages(run_id, batch)
        assert archive.apply_staged(run_id) == {"new": 620}
    with Archive(tmp_path / "few.db") as archive:
        run_id = archive.start_run("crawl", {})
        for start in range(0, len(batch), 20):
            archive.store_pages(run_id, batch[start:start + 20])
    queries = {"links": "SELECT from_url, kind, position, to_url, anchor_text, summary, facet FROM links "
                        "ORDER BY 1, 2, 3",
               "sections": "SELECT url, position, heading, text FROM sections ORDER BY 1, 2",
               "versions": "SELECT url, version, content_hash FROM page_versions ORDER BY 1, 2"}
    close, few = ({name: rows(tmp_path / db, sql) for name, sql in queries.items()} for db in ("close.db", "few.db"))
    assert close == few
    assert len(close["links"]) > 5000 and len({link["to_url"] for link in close["links"]}) > 600
    assert sum(link["anchor_text"] is not None for link in close["links"]) > 5000


def test_pages_archived_together_are_found_by_search_and_a_failed_batch_keeps_the_index_trigger(tmp_path, monkeypatch):
    """The close indexes the pages it adds in one statement, the insert trigger set aside meanwhile: every
    page must be found by the words of its title, in an index FTS5 finds whole; a batch that fails
    part-way must leave the trigger as it was, and the pages archived after it indexed."""
    from glossary_spider.storage import writer

    batch = extracted_replica_pages(60, 30)
    trigger = "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'pages_ai'"
    with Archive(tmp_path / "fts.db") as archive:
        before = archive.db.execute(trigger).fetchone()
        run_id = archive.start_run("crawl", {})
        archive.stage_pages(run_id, batch[:20])
        assert archive.apply_staged(run_id) == {"new": 20}

        def full_disk(db, table, rows, **options):
            if table == "pages":
                raise sqlite3.OperationalError("database or disk is full")
            return insert(db, table, rows, **options)

        insert = writer.insert
        monkeypatch.setattr(writer, "insert", full_disk)
        archive.stage_pages(run_id, batch[20:])
        with pytest.raises(sqlite3.OperationalError):
            archive.apply_staged(run_id)
        assert archive.db.execute(trigger).fetchone() == before
        monkeypatch.setattr(writer, "insert", insert)
        assert archive.apply_staged(run_id) == {"new": 10}
        archive.db.execute("INSERT INTO pages_fts (pages_fts, rank) VALUES ('integrity-check', 1)")
    assert archive_problems(tmp_path / "fts.db") == []
    for page in rows(tmp_path / "fts.db", "SELECT url, title FROM pages"):
        words = " ".join(f'"{word}"' for word in page["title"].split())
        found = rows(tmp_path / "fts.db", "SELECT p.url FROM pages_fts JOIN pages p ON p.rowid = pages_fts.rowid "
                                          "WHERE pages_fts MATCH ?", (f"title: ({words})",))
        assert page["url"] in [f["url"] for f in found]
    assert len(rows(tmp_path / "fts.db", "SELECT url FROM pages")) == 30


def test_pages_staged_as_records_by_an_earlier_version_are_archived_as_their_rows_would_be(tmp_path):
    """A held run staged before staging kept each page's rows has its records instead; accepted now,
    they must give the archive what the rows give, row for row."""
    import zstandard

    batch = extracted_replica_pages(40, 20)
    records = {extraction.record["url"]: extraction.record for _, extraction in batch}
    for name in ("rows", "records"):
        with Archive(tmp_path / f"{name}.db") as archive:
            run_id = archive.start_run("crawl", {})
            archive.stage_pages(run_id, batch)
            if name == "records":  # as an earlier version staged them: the record, and no digest for some
                for n, (url, record) in enumerate(records.items()):
                    archive.db.execute(
                        "UPDATE staged SET rows = NULL, record = ?, record_digest = CASE WHEN ? THEN NULL "
                        "ELSE record_digest END WHERE url = ?",
                        [zstandard.ZstdCompressor().compress(json.dumps(record).encode()), n % 2, url])
            assert archive.apply_staged(run_id) == {"new": 20}
    tables = ["pages", "structured_data", "sections", "links", "page_versions"]
    dumps = [{table: rows(tmp_path / f"{name}.db", f"SELECT * FROM {table} ORDER BY 1, 2, 3") for table in tables}
             for name in ("rows", "records")]
    assert dumps[0] == dumps[1] and len(dumps[0]["links"]) > 100


def test_a_resume_fetches_what_its_run_never_tried_before_what_failed(tmp_path):
    """Each part of a run resumed under --max-duration spent its budget on the same failing fetches, first in
    the frontier, and never reached the rest: after 190 parts the crawl had not moved on."""
    archive = Archive(tmp_path / "a.db")
    run = archive.start_run("crawl", {})
    found = [f"http://site/{name}/" for name in ("fails", "times-out", "a", "b", "fetched")]
    archive.mark_frontier(run, pending=found)
    archive.mark_frontier(run, done=["http://site/fetched/"])
    archive.record_error(run, "http://site/fails/", "fetch", 503, "HTTP 503")
    archive.record_error(run, "http://site/times-out/", "fetch", None, "timed out")
    done, pending = archive.frontier(run)
    archive.close()
    assert done == {"http://site/fetched/"}
    assert pending == ["http://site/a/", "http://site/b/", "http://site/fails/", "http://site/times-out/"]


def test_a_writer_refused_the_lock_names_a_holder_that_has_only_just_locked_it(tmp_path):
    """The holder writes its pid, command and start just after it locks the file: a writer refused in that
    moment said "locked by another writer (pid ?, ? since ?)" (2 refusals in 5, two reparses at once)."""
    import fcntl
    import threading

    from glossary_spider.lock import ArchiveLock, ArchiveLocked, beside

    db = tmp_path / "a.db"
    Archive(db).close()
    fd = os.open(beside(db, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # locked, nothing written yet
        naming = threading.Timer(0.1, os.pwrite, (fd, json.dumps(
            {"pid": os.getpid(), "command": "reparse", "started_at": "2026-11-29T21:00:00+00:00"}).encode(), 0))
        naming.start()
        with pytest.raises(ArchiveLocked) as refused:
            ArchiveLock(db, "refresh").acquire()
        naming.join()
    finally:
        os.close(fd)
    assert str(refused.value).endswith(f"(pid {os.getpid()}, reparse since 2026-11-29T21:00:00+00:00)")


def test_a_runs_counts_take_time_in_proportion_to_its_failed_pages(tmp_path):
    """A run of 10,000 start URLs that all failed spent 19 s of its 35 s closing: each failed URL's look for a
    later capture of it searched the run's every capture (SQLite took the run_id index over the url one).
    30,000 took minutes."""
    archive = Archive(tmp_path / "a.db")
    run_id = archive.start_run("crawl", {})
    failed = 20_000
    at = "2026-01-01T00:00:00+00:00"
    with archive.db.atomic():
        archive.db.conn.executemany(
            "INSERT INTO captures (run_id, url, fetched_at, http_status, outcome) VALUES (?, ?, ?, 500, 'failed')",
            [(run_id, f"http://site.test/definition/p-{i}/", at) for i in range(failed)])
        archive.db.conn.executemany(
            "INSERT INTO crawl_errors (run_id, url, stage, error, at) VALUES (?, ?, 'fetch', 'HTTP 500', ?)",
            [(run_id, f"http://site.test/definition/p-{i}/", at) for i in range(failed)])
    started = time.monotonic()
    counts = archive.run_counts(run_id)
    seconds = time.monotonic() - started
    archive.close()
    assert counts["pages_failed"] == failed
    assert seconds < 3, seconds  # 0.1 s here; some 50 s before


def test_a_page_fetched_by_a_resume_in_the_second_it_failed_is_not_counted_failed(tmp_path):
    """A refresh resumed at once after an outage fetched the pages the outage failed, and still counted them
    failed: the resume's captures were recorded in the same second as the failures, and only later ones were
    taken for a fetch after all."""
    archive = Archive(tmp_path / "a.db")
    run_id = archive.start_run("refresh", {})
    at = "2026-01-01T00:00:00+00:00"
    urls = [f"http://site.test/definition/p-{i}/" for i in range(3)]
    capture = "INSERT INTO captures (run_id, url, fetched_at, http_status, outcome) VALUES (?, ?, ?, ?, ?)"
    with archive.db.atomic():
        archive.db.conn.executemany(  # the outage: each failed fetch is a capture and an error
            "INSERT INTO crawl_errors (run_id, url, stage, error, at) VALUES (?, ?, 'fetch', 'connection refused', ?)",
            [(run_id, url, at) for url in urls])
        archive.db.conn.executemany(capture, [(run_id, url, at, None, "failed") for url in urls])
        # The resume: two of them answered, in the same second.
        archive.db.conn.executemany(capture, [(run_id, url, at, 304, "not_modified") for url in urls[:2]])
    counts = archive.run_counts(run_id)
    archive.close()
    assert (counts["pages_failed"], counts["pages_not_modified"]) == (1, 2)


def test_a_resumed_run_asks_again_only_what_its_held_part_was_answered(tmp_path):
    """Resuming a run held so far asked again about every failed fetch of the run, those of its earlier parts,
    which had passed the gate, too: a page that answered 410 on the first night was fetched again each time."""
    from glossary_spider.storage import Fetch

    _, *later = extracted_replica_pages(40, 4)
    with Archive(tmp_path / "parts.db") as archive:
        run_id = archive.start_run("refresh", {})
        archive.db.execute("UPDATE crawl_runs SET started_at = '2026-11-01T00:00:00+00:00' WHERE id = ?", [run_id])
        earlier = Fetch("http://x/definition/gone-for-good/", 410, fetched_at="2026-11-01T00:00:01+00:00")
        archive.record_failure(run_id, earlier.url, "fetch", 410, "HTTP 410", fetch=earlier)
        archive.db.execute("UPDATE crawl_runs SET resumed_at = '2026-11-02T00:00:00+00:00' WHERE id = ?", [run_id])
        held = [(Fetch(f.url, 200, f.body, f.content_type, fetched_at="2026-11-02T00:00:01+00:00"), e)
                for f, e in later]
        archive.stage_pages(run_id, held)
        archive.hold_staged(run_id, {"checks": []})
        assert archive.ask_again(run_id) == len(held)
        done, pending = archive.frontier(run_id)
        assert sorted(pending) == sorted(f.url for f, _ in held) and earlier.url not in pending
        outcomes = dict(archive.db.execute("SELECT url, outcome FROM captures WHERE run_id = ?", [run_id]).fetchall())
        assert outcomes == {earlier.url: "failed", **{f.url: "discarded" for f, _ in held}}
        assert archive.db.execute("SELECT count(*) FROM staged").fetchone()[0] == 0
        assert archive.gate_report(run_id) is None


def test_a_versions_table_made_before_its_same_column_is_given_it(make_replica, tmp_path):
    """The first release of schema 2 made the versions table without its ``same`` column, which the next added
    with the schema's number unchanged. The column was never added to such an archive: every refresh that found
    a page changed failed ("no such column: same"), for good, and so did every page's history."""
    site = make_replica(40)
    db = tmp_path / "g.db"
    assert crawl(db, "--start-url", f"{site.url}/").returncode == 0
    with sqlite3.connect(db) as conn:  # as that release left it: one version a page, each stored whole
        assert conn.execute("SELECT count(*) FROM versions WHERE same IS NOT NULL").fetchone() == (0,)
        for (view,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'").fetchall():
            conn.execute(f"DROP VIEW [{view}]")
        conn.execute("ALTER TABLE versions DROP COLUMN same")
        conn.execute("PRAGMA user_version = 2")
    conn.close()
    # Readers leave an archive as they find it: one that no writer has brought up to date is named so.
    first = rows(db, "SELECT url FROM pages ORDER BY url LIMIT 1")[0]["url"]
    shown = run_glossary("show", "--db", str(db), first, "--history")
    assert shown.returncode == 2 and shown.stderr == (
        f"Error: {db} was written by an earlier glossary_spider, and lacks a column added since (v.same): any "
        f"writing command brings it up to date: glossary reparse --db {db}\n"), shown.stderr
    site.set_generation(2)
    result = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pages_changed"] > 0
    url = rows(db, "SELECT url FROM pages WHERE version = 2 ORDER BY url LIMIT 1")[0]["url"]
    shown = run_glossary("show", "--db", str(db), url, "--history", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert [v["version"] for v in rows(db, "SELECT version FROM page_versions WHERE url = ? ORDER BY version",
                                       (url,))] == [1, 2]
