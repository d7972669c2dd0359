"""The SQLite archive: schema, and every write, through sqlite-utils.

:class:`Archive` is the only place that knows the tables. Writes for one batch of
pages happen in one transaction, so a crash leaves each page either wholly
stored or not stored at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils
import zstandard

from glossary_spider.outcome import REFUSED_REASONS, exit_status, final_reason, is_complete, outcome, was_refused

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DEFAULT_DB = "data/glossary.db"
# Bodies are zlib-compressed until this many are stored; then a zstd dictionary is
# trained on them and every body is stored with it (about 6% of raw bytes on the
# replica, against 23% for zlib alone).
DICTIONARY_SAMPLES = 100
DICTIONARY_SIZE = 64 * 1024
ZSTD_LEVEL = 9


class ArchiveError(Exception):
    """The archive cannot be used: the message says why, for the user."""


def existing_archive(path: str | Path) -> Path:
    """``path``, if an archive file is there; else the error that says what is."""
    path = Path(path)
    if path.is_dir():
        raise ArchiveError(f"{path} is a directory, not an archive file")
    if not path.is_file():
        raise ArchiveError(f"no archive at {path}: run 'glossary crawl' first")
    return path


def check_schema_version(version: int, path: str | Path) -> None:
    if version > SCHEMA_VERSION:
        raise ArchiveError(f"{path} was written by a newer glossary_spider (schema {version}, "
                           f"this one knows {SCHEMA_VERSION}): upgrade glossary_spider")


def check_ours(db: sqlite_utils.Database, path: str | Path) -> None:
    """Refuse a SQLite file that holds tables but is not a glossary archive: it is someone else's."""
    tables = set(db.table_names())
    if tables and not {"pages", "crawl_runs"} <= tables:
        shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
        raise ArchiveError(f"{path} is a SQLite database but not a glossary archive (its tables: {shown}); "
                           "nothing was added to it: give another --db")


def cannot_write(path: str | Path, exc: sqlite3.Error) -> str:
    """A one-line message for a write that SQLite refused (full disk, read-only file ...)."""
    return f"cannot write the archive {path}: {exc}; nothing of the failed write was kept"


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class Fetch:
    """One HTTP exchange, as the archive records it."""

    url: str
    http_status: int | None
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    headers: str | None = None  # the response's header block, for WARC export
    fetched_at: str = ""

    def __post_init__(self) -> None:
        self.fetched_at = self.fetched_at or now()


TABLES: dict[str, dict[str, Any]] = {
    "pages": {
        "columns": {
            "url": str, "page_type": str, "slug": str, "title": str, "summary": str, "body_text": str,
            "word_count": int, "published": str, "modified": str, "author": str, "categories": str,
            "language": str, "canonical_url": str, "http_status": int, "status": str, "content_hash": str,
            "first_seen": str, "last_fetched": str, "last_changed": str, "version": int,
            "extractor_version": int, "run_id": int,
        },
        "pk": "url",
    },
    "sections": {
        "columns": {"url": str, "position": int, "heading": str, "text": str},
        "pk": ("url", "position"),
    },
    "links": {
        "columns": {"from_url": str, "kind": str, "position": int, "to_url": str, "anchor_text": str,
                    "summary": str, "facet": str},
        "pk": ("from_url", "kind", "position"),
    },
    "structured_data": {
        "columns": {"url": str, "syntax": str, "position": int, "type": str, "data": str},
        "pk": ("url", "syntax", "position"),
    },
    "crawl_runs": {
        "columns": {"id": int, "command": str, "started_at": str, "finished_at": str, "finish_reason": str,
                    "args": str, "pages_new": int, "pages_changed": int, "pages_unchanged": int,
                    "pages_not_modified": int, "pages_gone": int, "pages_still_gone": int, "pages_back": int,
                    "pages_failed": int, "requests": int, "bytes": int, "stats": str, "pid": int,
                    "outcome": str, "exit_status": int, "job_id": str, "error": str, "resumed_at": str},
        "pk": "id",
    },
    "crawl_errors": {
        "columns": {"id": int, "run_id": int, "url": str, "stage": str, "http_status": int, "error": str,
                    "detail": str, "at": str},
        "pk": "id",
    },
    "page_versions": {
        "columns": {"url": str, "version": int, "content_hash": str, "run_id": int, "captured_at": str,
                    "title": str, "summary": str, "body_text": str, "record": str, "extractor_version": int},
        "pk": ("url", "version"),
    },
    "captures": {
        "columns": {"id": int, "run_id": int, "url": str, "fetched_at": str, "http_status": int,
                    "content_type": str, "etag": str, "last_modified": str, "body_sha256": str,
                    "outcome": str, "headers": str},
        "pk": "id",
    },
    "bodies": {
        "columns": {"sha256": str, "compression": str, "size": int, "data": bytes},
        "pk": "sha256",
    },
    "compression_dictionaries": {
        "columns": {"id": int, "created_at": str, "samples": int, "data": bytes},
        "pk": "id",
    },
    "frontier": {
        "columns": {"run_id": int, "url": str, "state": str},
        "pk": ("run_id", "url"),
    },
    # Pages a run fetched whose versions wait for the quality gate (glossary_spider.gate).
    "staged": {
        "columns": {"run_id": int, "url": str, "page_type": str, "content_hash": str, "text_hash": str,
                    "title": str, "words": int, "related": int, "jsonld": int, "http_status": int,
                    "fetched_at": str, "content_type": str, "body_sha256": str, "record": str},
        "pk": ("run_id", "url"),
    },
    # What the quality gate found in each run, and what became of a held run.
    "gate_reports": {
        "columns": {"run_id": int, "held": int, "report": str, "decision": str, "decided_at": str},
        "pk": "run_id",
    },
}

# Declared so that Datasette's row page of a page lists its sections, links, versions and captures,
# and their rows link back. Not enforced (PRAGMA foreign_keys stays off): a capture may be of a URL
# that never answered 200 and so has no row in pages.
FOREIGN_KEYS = [
    ("sections", "url", "pages", "url"),
    ("links", "from_url", "pages", "url"),
    ("page_versions", "url", "pages", "url"),
    ("captures", "url", "pages", "url"),
]

INDEXES = [
    ("links", ["to_url"]),
    ("crawl_errors", ["run_id"]),
    ("crawl_errors", ["url"]),
    ("captures", ["url", "fetched_at"]),
    ("captures", ["run_id"]),
    ("pages", ["page_type", "status"]),
]

VIEWS = {
    "jsonld": "SELECT url, position, type, data FROM structured_data WHERE syntax = 'json-ld'",
    "jsonld_nodes": """
SELECT s.url, s.position, 0 AS node, json_extract(s.data, '$."@type"') AS type, s.data
FROM structured_data s
WHERE s.syntax = 'json-ld' AND json_valid(s.data) AND json_type(s.data, '$."@graph"') IS NOT 'array'
UNION ALL
SELECT s.url, s.position, CAST(g.key AS INTEGER), json_extract(g.value, '$."@type"'), g.value
FROM structured_data s, json_each(s.data, '$."@graph"') g
WHERE s.syntax = 'json-ld' AND json_valid(s.data) AND json_type(s.data, '$."@graph"') = 'array'""",
    "broken_links": """
SELECT l.from_url, l.kind, l.position, l.to_url, l.anchor_text,
       coalesce(p.http_status, e.http_status) AS target_status
FROM links l
LEFT JOIN pages p ON p.url = l.to_url
LEFT JOIN (SELECT url, max(http_status) AS http_status FROM crawl_errors
           WHERE http_status IN (404, 410) GROUP BY url) e ON e.url = l.to_url
WHERE p.status = 'gone' OR (p.url IS NULL AND e.url IS NOT NULL)""",
    "orphan_pages": """
SELECT p.url, p.page_type, p.slug, p.title FROM pages p
WHERE p.page_type != 'other' AND p.status = 'live'
  AND NOT EXISTS (SELECT 1 FROM links l WHERE l.to_url = p.url AND l.from_url != p.url)""",
    "one_way_related": """
SELECT a.from_url, a.to_url, a.anchor_text FROM links a
JOIN pages p ON p.url = a.to_url AND p.status = 'live'
WHERE a.kind = 'related'
  AND NOT EXISTS (SELECT 1 FROM links b
                  WHERE b.kind = 'related' AND b.from_url = a.to_url AND b.to_url = a.from_url)""",
}

PAGE_COLUMNS = list(TABLES["pages"]["columns"])
# Outcomes of captures whose body is not the page's archived text: a held or discarded run's, and a
# soft 404's (the site's "not found" page). Their validators and bodies stand for nothing archived.
NOT_ARCHIVED = "('held', 'discarded', 'gone')"
FTS_COLUMNS = ["title", "summary", "body_text"]


class Archive:
    """A glossary archive in one SQLite file, opened for writing (readers use ``query.connect``)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            if self.path.is_dir():
                raise ArchiveError(f"{self.path} is a directory, not an archive file")
            if self.path.exists() and not os.access(self.path, os.W_OK):
                raise ArchiveError(f"{self.path} is read-only: this command writes to the archive")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 10000")
            self.db = sqlite_utils.Database(conn)
            check_schema_version(self.db.execute("PRAGMA user_version").fetchone()[0], self.path)
            check_ours(self.db, self.path)
            self.codec = BodyCodec(self.db)
            self.db.enable_wal()
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.ensure_schema()
        except sqlite3.OperationalError as exc:
            raise ArchiveError(cannot_write(self.path, exc)) from exc
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"{self.path} is not a usable SQLite archive: {exc}") from exc
        except OSError as exc:
            raise ArchiveError(f"cannot open the archive {self.path}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        with self.db.atomic():
            for name, spec in TABLES.items():
                table = self.db.table(name)
                if not table.exists():
                    table.create(spec["columns"], pk=spec["pk"], not_null={"url"} & set(spec["columns"]),
                                 foreign_keys=[fk[1:] for fk in FOREIGN_KEYS if fk[0] == name])
                else:
                    missing = {c: t for c, t in spec["columns"].items() if c not in table.columns_dict}
                    for column, kind in missing.items():
                        table.add_column(column, kind)
            for table, columns in INDEXES:
                self.db.table(table).create_index(columns, if_not_exists=True)
            for name, sql in VIEWS.items():
                self.db.create_view(name, sql.strip(), replace=True)
        declared = {(fk.table, fk.column) for name, *_ in FOREIGN_KEYS for fk in self.db.table(name).foreign_keys}
        if missing := [fk for fk in FOREIGN_KEYS if (fk[0], fk[1]) not in declared]:
            self.db.add_foreign_keys(missing)  # rebuilds the tables of an archive made before them, once
        if not self.db.table("pages_fts").exists():
            self.db.table("pages").enable_fts(FTS_COLUMNS)
            self.db.execute("INSERT INTO pages_fts (pages_fts) VALUES ('rebuild')")
        self._fts_triggers()
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _fts_triggers(self) -> None:
        """Keep pages_fts in step with pages; an update re-indexes only when the indexed text changes."""
        columns = ", ".join(FTS_COLUMNS)
        new = ", ".join(f"new.{c}" for c in FTS_COLUMNS)
        old = ", ".join(f"old.{c}" for c in FTS_COLUMNS)
        delete = f"INSERT INTO pages_fts (pages_fts, rowid, {columns}) VALUES ('delete', old.rowid, {old});"
        insert = f"INSERT INTO pages_fts (rowid, {columns}) VALUES (new.rowid, {new});"
        changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in FTS_COLUMNS)
        for sql in (
            f"CREATE TRIGGER IF NOT EXISTS pages_ai AFTER INSERT ON pages BEGIN {insert} END",
            f"CREATE TRIGGER IF NOT EXISTS pages_ad AFTER DELETE ON pages BEGIN {delete} END",
            f"CREATE TRIGGER IF NOT EXISTS pages_au AFTER UPDATE OF {columns} ON pages WHEN {changed} "
            f"BEGIN {delete} {insert} END",
        ):
            self.db.execute(sql)

    # -- runs -----------------------------------------------------------------------------

    def start_run(self, command: str, args: dict[str, Any], pid: int | None = None, job_id: str | None = None) -> int:
        with self.db.atomic():
            table = self.db.table("crawl_runs").insert({
                "command": command, "started_at": now(), "args": json.dumps(args, sort_keys=True), "pid": pid,
                "job_id": job_id,
            })
        return table.last_pk

    def finish_run(
        self, run_id: int, finish_reason: str, stats: dict[str, Any] | None = None,
        counts: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """Record how a run ended. Page counts come from its rows and requests/bytes from Scrapy's
        ``stats``; ``counts`` overrides any of them (a resumed run's requests over all its parts)."""
        counts = {**self.run_counts(run_id), **(counts or {})}
        stats = stats or {}
        finish_reason = final_reason(finish_reason, *self.fetch_outcomes(run_id))
        stats["finish_reason"] = finish_reason
        status = exit_status(finish_reason)
        row = {
            "finished_at": now(),
            "finish_reason": finish_reason,
            "outcome": outcome(status),
            "exit_status": int(status),
            "requests": stats.get("downloader/request_count", 0),
            "bytes": stats.get("downloader/response_bytes", 0),
            "stats": json.dumps(stats, default=str, sort_keys=True),
            **counts,
        }
        with self.db.atomic():
            self.db.table("crawl_runs").update(run_id, row)
            if is_complete(finish_reason):
                self.db.execute("DELETE FROM frontier WHERE run_id = ?", [run_id])
        return self.run(run_id)

    def record_traffic(self, run_id: int, traffic: dict[str, int]) -> None:
        """A run's ``requests`` and ``bytes`` so far, kept up to date so that a killed run still says them."""
        self.db.table("crawl_runs").update(run_id, traffic)

    def record_refused_runs(self, refused: Iterable[dict[str, Any]]) -> None:
        """Record runs refused before they started (bad arguments, the archive locked), each as it was
        refused: ``command``, ``args``, ``finish_reason``, ``error``, ``started_at``, ``job_id``, ``pid``."""
        rows = []
        for run in refused:
            status = exit_status(run["finish_reason"])
            rows.append({
                "command": run["command"], "started_at": run["started_at"], "finished_at": run["started_at"],
                "args": json.dumps(run.get("args") or {}, sort_keys=True, default=str),
                "finish_reason": run["finish_reason"], "outcome": outcome(status), "exit_status": int(status),
                "error": run.get("error"), "job_id": run.get("job_id"), "pid": run.get("pid"),
                "requests": 0, "bytes": 0,
            })
        if rows:
            with self.db.atomic():
                self.db.table("crawl_runs").insert_all(rows)

    def sitemaps_used(self) -> list[str]:
        """The sitemaps earlier crawls and refreshes read, oldest first."""
        found: dict[str, None] = {}
        for (args, reason) in self.db.execute(
            "SELECT args, finish_reason FROM crawl_runs WHERE command IN ('crawl', 'refresh') ORDER BY id"
        ):
            if was_refused(reason):  # its arguments are what was refused
                continue
            try:
                urls = json.loads(args or "{}").get("sitemap_urls") or []
            except (ValueError, AttributeError):
                continue
            found.update(dict.fromkeys(u for u in urls if isinstance(u, str)))
        return list(found)

    def resumable_run(self, command: str) -> dict[str, Any] | None:
        """The latest ``command`` run that started, if it stopped before it was done."""
        refused = ", ".join("?" * len(REFUSED_REASONS))
        row = self.db.execute(
            f"SELECT id FROM crawl_runs WHERE command = ? AND coalesce(finish_reason, '') NOT IN ({refused}) "
            "ORDER BY id DESC LIMIT 1", [command, *REFUSED_REASONS]
        ).fetchone()
        if row is None:
            return None
        run = self.run(row[0])
        return None if is_complete(run["finish_reason"]) else run

    def reopen_run(self, run_id: int, job_id: str | None = None) -> None:
        with self.db.atomic():
            self.db.table("crawl_runs").update(run_id, {
                "finished_at": None, "finish_reason": None, "outcome": None, "exit_status": None,
                "pid": os.getpid(), "job_id": job_id, "resumed_at": now(),
            })

    def run(self, run_id: int) -> dict[str, Any]:
        return self.db.table("crawl_runs").get(run_id)

    def run_counts(self, run_id: int) -> dict[str, int]:
        return run_counts(self.db, run_id)

    def fetch_outcomes(self, run_id: int) -> tuple[int, int]:
        return fetch_outcomes(self.db, run_id)

    # -- writes ---------------------------------------------------------------------------

    def store_pages(self, run_id: int, batch: Iterable[tuple[Fetch, Any]]) -> list[str]:
        """Archive a batch of fetched pages and their extractions at once, past no gate.

        Returns each page's outcome: ``new``, ``changed`` or ``unchanged``.
        """
        with self.db.atomic():
            outcomes = self.stage_pages(run_id, batch)
            self.apply_staged(run_id)
        return outcomes

    def stage_pages(self, run_id: int, batch: Iterable[tuple[Fetch, Any]]) -> list[str]:
        """Keep a batch of fetched pages (their raw captures, and their records in ``staged``)
        for :meth:`apply_staged` to archive once the quality gate has passed them.

        Returns each page's outcome as it would be archived now: ``new``, ``changed`` or ``unchanged``.
        """
        rows = _Rows()
        outcomes = []
        staged = []
        with self.db.atomic():
            for fetch, extraction in batch:
                record = extraction.record
                previous = self._page_state(record["url"])
                outcome = _outcome(previous, record)
                body_sha = rows.body(self.codec, fetch.body)
                rows.capture(run_id, fetch, body_sha, outcome)
                for error in extraction.errors:
                    rows.error(run_id, record["url"], error["stage"], fetch.http_status, error["error"],
                               error.get("detail"))
                staged.append(_staged(run_id, record, fetch, body_sha))
                outcomes.append(outcome)
            self._write(rows)
            if staged:
                self.db.table("staged").insert_all(staged, pk=TABLES["staged"]["pk"], replace=True)
        return outcomes

    def staged(self, run_id: int, columns: str = "*", chunk: int = 500) -> Iterator[dict[str, Any]]:
        """The pages ``run_id`` has staged, in the order it fetched them.

        Read a chunk at a time, with no statement left open between chunks, so that the
        caller may write meanwhile (SQLite refuses some writes while a read is pending).
        """
        last = 0
        while True:
            cursor = self.db.execute(f"SELECT rowid AS _rowid, {columns} FROM staged WHERE run_id = ? AND rowid > ? "
                                     "ORDER BY rowid LIMIT ?", [run_id, last, chunk])
            names = [d[0] for d in cursor.description]
            found = cursor.fetchall()
            for row in found:
                record = dict(zip(names, row))
                last = record.pop("_rowid")
                yield record
            if len(found) < chunk:
                return

    def apply_staged(self, run_id: int, records: dict[str, dict[str, Any]] | None = None) -> dict[str, int]:
        """Archive every page ``run_id`` staged: pages, sections, links, structured data and a
        new version where the content changed; then forget them. One transaction.

        ``records`` replaces the staged record of the URLs it names (a held run accepted after
        re-extraction). Returns the pages by outcome.
        """
        counts: dict[str, int] = {}
        with self.db.atomic():
            rows = _Rows()
            for row in self.staged(run_id):
                record = (records or {}).get(row["url"]) or json.loads(row["record"])
                previous = self._page_state(row["url"])
                outcome = _outcome(previous, record)
                fetch = Fetch(row["url"], row["http_status"], fetched_at=row["fetched_at"])
                if outcome != "unchanged" or previous["status"] != "live":
                    version = 1 if previous is None else (previous["version"] or 0) + (outcome == "changed")
                    rows.record(run_id, record, fetch, version=version, previous=previous,
                                new_version=outcome != "unchanged")
                else:
                    rows.touched.append((fetch.http_status, fetch.fetched_at, run_id, row["url"]))
                rows.outcomes.append((outcome, run_id, row["url"]))
                counts[outcome] = counts.get(outcome, 0) + 1
                if len(rows.pages) + len(rows.touched) >= 500:  # bounded memory, however many pages
                    self._write(rows)
                    rows = _Rows()
            self._write(rows)
            self.db.execute("DELETE FROM staged WHERE run_id = ?", [run_id])
        return counts

    def hold_staged(self, run_id: int, report: dict[str, Any]) -> None:
        """Keep what ``run_id`` staged out of the archive's pages: its captures say ``held``."""
        with self.db.atomic():
            self.db.execute("UPDATE captures SET outcome = 'held' WHERE run_id = ? AND url IN "
                            "(SELECT url FROM staged WHERE run_id = ?) AND outcome IN ('new', 'changed', 'unchanged')",
                            [run_id, run_id])
            self.save_gate_report(run_id, report, held=True)

    def discard_staged(self, run_id: int) -> int:
        """Forget the versions a held run staged; its raw captures stay. Returns how many."""
        with self.db.atomic():
            count = self.db.execute("SELECT count(*) FROM staged WHERE run_id = ?", [run_id]).fetchone()[0]
            self.db.execute("DELETE FROM staged WHERE run_id = ?", [run_id])
            self.db.execute("UPDATE captures SET outcome = 'discarded' WHERE run_id = ? AND outcome = 'held'",
                            [run_id])
            self.db.execute("UPDATE gate_reports SET decision = 'discarded', decided_at = ? WHERE run_id = ?",
                            [now(), run_id])
        return count

    def mark_soft_404(self, run_id: int, urls: Iterable[str]) -> None:
        """Pages that answered the site's "not found" page with 200: gone, as a 404 would make them,
        and never a version; a URL the archive never had gets a ``fetch`` error instead."""
        with self.db.atomic():
            for url in urls:
                (status, fetched_at), = self.db.execute(
                    "SELECT http_status, fetched_at FROM staged WHERE run_id = ? AND url = ?", [run_id, url])
                known = self._page_state(url) is not None
                if known:
                    self.db.execute("UPDATE pages SET status = 'gone', http_status = ?, last_fetched = ?, run_id = ? "
                                    "WHERE url = ?", [status, fetched_at, run_id, url])
                else:
                    self.record_error(run_id, url, "fetch", status, "soft 404: the site's \"not found\" page, "
                                      "served with a success status")
                self.db.execute("UPDATE captures SET outcome = ? WHERE run_id = ? AND url = ? AND outcome IN "
                                "('new', 'changed', 'unchanged')", ["gone" if known else "failed", run_id, url])
                self.db.execute("DELETE FROM staged WHERE run_id = ? AND url = ?", [run_id, url])

    def save_gate_report(self, run_id: int, report: dict[str, Any], held: bool) -> None:
        self.db.table("gate_reports").upsert(
            {"run_id": run_id, "held": int(held), "report": json.dumps(report, sort_keys=True), "decision": None,
             "decided_at": None}, pk="run_id")

    def gate_report(self, run_id: int) -> dict[str, Any] | None:
        return read_gate_report(self.db.conn, run_id)

    def write_record(
        self,
        run_id: int,
        record: dict[str, Any],
        *,
        version: int,
        previous: dict[str, Any] | None,
        new_version: bool,
        errors: Iterable[dict[str, Any]] = (),
    ) -> None:
        """Write one re-extracted record (no fetch); a new version row when ``new_version``."""
        rows = _Rows()
        rows.record(run_id, record, None, version=version, previous=previous, new_version=new_version)
        for error in errors:
            rows.error(run_id, record["url"], error["stage"], None, error["error"], error.get("detail"))
        self._write(rows)

    def _write(self, rows: _Rows) -> None:
        """Write accumulated rows: one statement per table, whatever the batch's size."""
        db = self.db
        if rows.bodies:
            db.table("bodies").insert_all(rows.bodies.values(), pk="sha256", ignore=True)
            if any(body["compression"] == "zlib" for body in rows.bodies.values()):
                self.codec.maybe_train(db)
        if rows.pages:
            db.table("pages").upsert_all(rows.pages, pk="url", column_order=PAGE_COLUMNS)
        if rows.touched:
            db.conn.executemany("UPDATE pages SET http_status = ?, last_fetched = ?, run_id = ? WHERE url = ?",
                                rows.touched)
        for table, key in (("sections", "url"), ("links", "from_url"), ("structured_data", "url")):
            db.conn.executemany(f"DELETE FROM [{table}] WHERE [{key}] = ?", ((url,) for url in rows.replaced))
            if rows.children[table]:
                db.table(table).insert_all(rows.children[table], pk=TABLES[table]["pk"])
        if rows.versions:
            db.table("page_versions").insert_all(rows.versions, pk=("url", "version"), replace=True)
        if rows.captures:
            db.table("captures").insert_all(rows.captures, pk="id")
        if rows.outcomes:
            db.conn.executemany("UPDATE captures SET outcome = ? WHERE run_id = ? AND url = ? AND body_sha256 IS NOT "
                                "NULL AND outcome IN ('new', 'changed', 'unchanged', 'held')", rows.outcomes)
        if rows.errors:
            db.table("crawl_errors").insert_all(rows.errors, pk="id")

    def record_gone(self, run_id: int, fetch: Fetch) -> str | None:
        """A 404 or 410 for an archived page: ``gone`` if it was live, ``still_gone`` if it was
        gone already (not news); None if the archive never had it."""
        with self.db.atomic():
            if (state := self._page_state(fetch.url)) is None:
                return None
            outcome = "still_gone" if state["status"] == "gone" else "gone"
            self.db.conn.execute(
                "UPDATE pages SET status = 'gone', http_status = ?, last_fetched = ?, run_id = ? WHERE url = ?",
                [fetch.http_status, fetch.fetched_at, run_id, fetch.url],
            )
            rows = _Rows()
            rows.capture(run_id, fetch, None, outcome)
            self._write(rows)
        return outcome

    def record_not_modified(self, run_id: int, fetch: Fetch) -> None:
        rows = _Rows()
        rows.touched.append((fetch.http_status, fetch.fetched_at, run_id, fetch.url))
        rows.capture(run_id, fetch, None, "not_modified")
        with self.db.atomic():
            self._write(rows)

    def record_failure(
        self, run_id: int, url: str, stage: str, http_status: int | None, error: str, detail: str | None = None,
        fetch: Fetch | None = None,
    ) -> None:
        rows = _Rows()
        rows.error(run_id, url, stage, http_status, error, detail)
        with self.db.atomic():
            if fetch is not None:
                rows.capture(run_id, fetch, rows.body(self.codec, fetch.body) if fetch.body else None, "failed")
            self._write(rows)

    def record_error(
        self, run_id: int, url: str, stage: str, http_status: int | None, error: str, detail: str | None = None
    ) -> None:
        rows = _Rows()
        rows.error(run_id, url, stage, http_status, error, detail)
        self._write(rows)

    # -- the frontier, for resuming ---------------------------------------------------------

    def mark_frontier(self, run_id: int, done: Iterable[str] = (), pending: Iterable[str] = ()) -> None:
        """Record URLs fetched (``done``) and discovered but not yet fetched (``pending``)."""
        conn = self.db.conn
        conn.executemany(
            "INSERT OR IGNORE INTO frontier (run_id, url, state) VALUES (?, ?, 'pending')",
            ((run_id, url) for url in pending),
        )
        conn.executemany(
            "INSERT INTO frontier (run_id, url, state) VALUES (?, ?, 'done') "
            "ON CONFLICT (run_id, url) DO UPDATE SET state = 'done'",
            ((run_id, url) for url in done),
        )

    def frontier(self, run_id: int) -> tuple[set[str], list[str]]:
        """The URLs a run has fetched, and those it found but had not fetched yet."""
        done, pending = set(), []
        for url, state in self.db.execute("SELECT url, state FROM frontier WHERE run_id = ? ORDER BY rowid", [run_id]):
            if state == "done":
                done.add(url)
            else:
                pending.append(url)
        return done, [url for url in pending if url not in done]

    # -- reads ----------------------------------------------------------------------------

    def _page_state(self, url: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT content_hash, version, status, first_seen, last_changed FROM pages WHERE url = ?", [url]
        ).fetchone()
        if row is None:
            return None
        return dict(zip(("content_hash", "version", "status", "first_seen", "last_changed"), row))

    def body(self, sha256: str) -> bytes | None:
        row = self.db.execute("SELECT compression, data FROM bodies WHERE sha256 = ?", [sha256]).fetchone()
        if row is None:
            return None
        return self.codec.decompress(row[0], row[1])

    def known_pages(self) -> dict[str, dict[str, Any]]:
        """Every archived page with what a conditional re-fetch needs: status, last fetch, validators."""
        sql = f"""
            SELECT p.url, p.status, p.last_fetched, c.etag, c.last_modified
            FROM pages p
            LEFT JOIN captures c ON c.id = (
                SELECT max(id) FROM captures WHERE url = p.url AND http_status = 200 AND outcome NOT IN {NOT_ARCHIVED})
        """
        keys = ("status", "last_fetched", "etag", "last_modified")
        return {row[0]: dict(zip(keys, row[1:])) for row in self.db.execute(sql)}

    def stored_pages(self, skip_run: int | None = None) -> Iterator[tuple[dict[str, Any], str | None, bytes]]:
        """Each archived page's state, with its latest stored body and that body's content type;
        ``skip_run``: leave out the pages that run last wrote."""
        sql = f"""
            SELECT p.url, p.content_hash, p.version, p.status, p.first_seen, p.last_changed,
                   c.content_type, c.body_sha256
            FROM pages p
            JOIN captures c ON c.id = (
                SELECT max(id) FROM captures WHERE url = p.url AND http_status = 200 AND body_sha256 IS NOT NULL
                                                   AND outcome NOT IN {NOT_ARCHIVED})
            WHERE p.run_id IS NOT ?
            ORDER BY p.url
        """
        keys = ("url", "content_hash", "version", "status", "first_seen", "last_changed")
        # The list first (the caller writes as it goes), each body only when its turn comes: memory
        # holds one page's body, however many pages of 16 MiB the archive has.
        for row in self.db.execute(sql, [skip_run]).fetchall():
            body = self.body(row[7])
            if body is not None:
                yield dict(zip(keys, row[:6])), row[6], body

    def reparse_page(
        self, run_id: int, state: dict[str, Any], record: dict[str, Any], errors: Iterable[dict[str, Any]] = ()
    ) -> str:
        """Write a re-extracted record: a new version only if its content hash changed."""
        changed = record["content_hash"] != state["content_hash"]
        version = (state["version"] or 0) + 1 if changed else state["version"]
        with self.db.atomic():
            self.write_record(run_id, record, version=version, previous=state, new_version=changed, errors=errors)
        return "changed" if changed else "unchanged"


def read_gate_report(conn: sqlite3.Connection, run_id: int) -> dict[str, Any] | None:
    """What the quality gate said about a run, and what became of it; None if it said nothing."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'gate_reports'").fetchone():
        return None  # an archive from before the gate
    row = conn.execute("SELECT held, report, decision, decided_at FROM gate_reports WHERE run_id = ?",
                       [run_id]).fetchone()
    if row is None:
        return None
    return {**json.loads(row[1]), "held": bool(row[0]), "decision": row[2], "decided_at": row[3]}


def _outcome(previous: dict[str, Any] | None, record: dict[str, Any]) -> str:
    if previous is None:
        return "new"
    return "changed" if previous["content_hash"] != record["content_hash"] else "unchanged"


def _staged(run_id: int, record: dict[str, Any], fetch: Fetch, body_sha: str) -> dict[str, Any]:
    """A ``staged`` row: the record, and the few numbers the quality gate reads without parsing it."""
    text = f"{record['title'] or ''}\n{record['body_text'] or ''}"
    return {
        "run_id": run_id, "url": record["url"], "page_type": record["page_type"],
        "content_hash": record["content_hash"], "text_hash": hashlib.sha256(text.encode()).hexdigest(),
        "title": record["title"], "words": record.get("word_count") or 0,
        "related": sum(1 for link in record["links"] if link["kind"] == "related"),
        "jsonld": sum(1 for item in record["structured_data"] if item["syntax"] == "json-ld"),
        "http_status": fetch.http_status, "fetched_at": fetch.fetched_at, "content_type": fetch.content_type,
        "body_sha256": body_sha, "record": json.dumps(record, ensure_ascii=False),
    }


def fetch_outcomes(db: Any, run_id: int) -> tuple[int, int]:
    """How many of a run's page fetches got an answer (an HTTP status below 500), and how many
    did not (no response at all, or a 5xx), counting each URL once by its last capture
    (``db``: any connection with ``execute``)."""
    answered, unanswered = db.execute(
        """SELECT count(*) FILTER (WHERE http_status < 500),
                  count(*) FILTER (WHERE http_status IS NULL OR http_status >= 500)
           FROM captures WHERE id IN (SELECT max(id) FROM captures WHERE run_id = ? GROUP BY url)""",
        [run_id],
    ).fetchone()
    return answered, unanswered


def run_counts(db: Any, run_id: int) -> dict[str, int]:
    """A run's page counts, from its captures and errors (``db``: any connection with ``execute``),
    so a run that was killed has them too."""
    outcomes = dict(db.execute(
        "SELECT outcome, count(DISTINCT url) FROM captures WHERE run_id = ? GROUP BY outcome", [run_id]
    ).fetchall())
    failed = db.execute(
        "SELECT count(DISTINCT url) FROM crawl_errors WHERE run_id = ? AND stage = 'fetch'", [run_id]
    ).fetchone()[0]
    # Pages answering again after an earlier run found them gone.
    back = db.execute(
        """SELECT count(DISTINCT c.url) FROM captures c
           WHERE c.run_id = ? AND c.outcome IN ('changed', 'unchanged', 'not_modified')
             AND (SELECT p.outcome FROM captures p
                  WHERE p.url = c.url AND p.run_id < c.run_id AND p.outcome != 'failed'
                  ORDER BY p.id DESC LIMIT 1) IN ('gone', 'still_gone')""", [run_id]
    ).fetchone()[0]
    return {
        "pages_new": outcomes.get("new", 0),
        "pages_changed": outcomes.get("changed", 0),
        "pages_unchanged": outcomes.get("unchanged", 0),
        "pages_not_modified": outcomes.get("not_modified", 0),
        "pages_gone": outcomes.get("gone", 0),
        "pages_still_gone": outcomes.get("still_gone", 0),
        "pages_back": back,
        "pages_failed": failed,
    }


class _Rows:
    """Rows for a batch of pages, gathered so each table gets one insert."""

    def __init__(self) -> None:
        self.pages: list[dict[str, Any]] = []
        self.touched: list[tuple[Any, ...]] = []
        self.replaced: list[str] = []
        self.children: dict[str, list[dict[str, Any]]] = {"sections": [], "links": [], "structured_data": []}
        self.versions: list[dict[str, Any]] = []
        self.captures: list[dict[str, Any]] = []
        self.bodies: dict[str, dict[str, Any]] = {}
        self.errors: list[dict[str, Any]] = []
        self.outcomes: list[tuple[str, int, str]] = []  # captures' outcomes, once their pages are archived

    def body(self, codec: BodyCodec, body: bytes) -> str:
        sha = hashlib.sha256(body).hexdigest()
        if sha not in self.bodies and not codec.db.execute("SELECT 1 FROM bodies WHERE sha256 = ?", [sha]).fetchone():
            compression, data = codec.compress(body)
            self.bodies[sha] = {"sha256": sha, "compression": compression, "size": len(body), "data": data}
        return sha

    def record(self, run_id: int, record: dict[str, Any], fetch: Fetch | None, *, version: int,
               previous: dict[str, Any] | None, new_version: bool) -> None:
        url = record["url"]
        stamp = fetch.fetched_at if fetch else now()
        page = {key: record[key] for key in PAGE_COLUMNS if key in record}
        page["categories"] = json.dumps(record["categories"]) if record["categories"] is not None else None
        page.update({
            "status": "live",
            "version": version,
            "first_seen": previous["first_seen"] if previous else stamp,
            "last_changed": stamp if new_version or not previous else previous["last_changed"],
            "run_id": run_id,
        })
        if fetch is not None:
            page.update({"http_status": fetch.http_status, "last_fetched": fetch.fetched_at})
        elif previous is not None:
            page["status"] = previous["status"]
        self.pages.append(page)
        self.replaced.append(url)
        self.children["sections"] += ({"url": url, **s} for s in record["sections"])
        self.children["links"] += ({"from_url": url, **link} for link in record["links"])
        self.children["structured_data"] += (
            {"url": url, **item, "data": json.dumps(item["data"], ensure_ascii=False)}
            for item in record["structured_data"]
        )
        if new_version:
            self.versions.append({
                "url": url,
                "version": version,
                "content_hash": record["content_hash"],
                "run_id": run_id,
                "captured_at": stamp,
                "title": record["title"],
                "summary": record["summary"],
                "body_text": record["body_text"],
                "record": json.dumps({k: record[k] for k in ("sections", "links", "structured_data")},
                                     ensure_ascii=False),
                "extractor_version": record["extractor_version"],
            })

    def capture(self, run_id: int, fetch: Fetch, body_sha: str | None, outcome: str) -> None:
        self.captures.append({
            "run_id": run_id, "url": fetch.url, "fetched_at": fetch.fetched_at, "http_status": fetch.http_status,
            "content_type": fetch.content_type, "etag": fetch.etag, "last_modified": fetch.last_modified,
            "body_sha256": body_sha, "outcome": outcome, "headers": fetch.headers,
        })

    def error(self, run_id: int, url: str, stage: str, http_status: int | None, error: str,
              detail: str | None) -> None:
        self.errors.append({"run_id": run_id, "url": url, "stage": stage, "http_status": http_status,
                            "error": error, "detail": detail, "at": now()})


class BodyCodec:
    """Compresses response bodies: zlib at first, then zstd with a dictionary trained on the archive.

    The ``compression`` column says how each body is stored (``zlib`` or
    ``zstd:<dictionary id>``), so every body stays readable whatever comes later.
    """

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self._dictionaries: dict[int, zstandard.ZstdCompressionDict] = {}
        self._compressor: tuple[int, zstandard.ZstdCompressor] | None = None

    def _dictionary(self, dict_id: int) -> zstandard.ZstdCompressionDict:
        if dict_id not in self._dictionaries:
            row = self.db.execute("SELECT data FROM compression_dictionaries WHERE id = ?", [dict_id]).fetchone()
            if row is None:
                raise ArchiveError(f"a body needs compression dictionary {dict_id}, which the archive lacks")
            self._dictionaries[dict_id] = zstandard.ZstdCompressionDict(row[0])
        return self._dictionaries[dict_id]

    def _latest(self) -> tuple[int, zstandard.ZstdCompressor] | None:
        if self._compressor is None and self.db.table("compression_dictionaries").exists():
            row = self.db.execute("SELECT max(id) FROM compression_dictionaries").fetchone()
            if row and row[0] is not None:
                self._compressor = (row[0], zstandard.ZstdCompressor(level=ZSTD_LEVEL, dict_data=self._dictionary(row[0])))
        return self._compressor

    def compress(self, body: bytes) -> tuple[str, bytes]:
        latest = self._latest()
        if latest is None:
            return "zlib", zlib.compress(body, 6)
        dict_id, compressor = latest
        return f"zstd:{dict_id}", compressor.compress(body)

    def decompress(self, compression: str | None, data: bytes) -> bytes:
        if compression in (None, "", "none"):
            return data
        if compression == "zlib":
            return zlib.decompress(data)
        if compression.startswith("zstd:"):
            dictionary = self._dictionary(int(compression[5:]))
            return zstandard.ZstdDecompressor(dict_data=dictionary).decompress(data)
        raise ArchiveError(f"a body is stored with an unknown compression {compression!r}")

    def maybe_train(self, db: sqlite_utils.Database) -> None:
        """Once enough bodies are stored, train a dictionary on them and recompress them with it."""
        if self._latest() is not None:
            return
        count = db.execute("SELECT count(*) FROM bodies WHERE compression = 'zlib'").fetchone()[0]
        if count < DICTIONARY_SAMPLES:
            return
        rows = db.execute("SELECT sha256, data FROM bodies WHERE compression = 'zlib'").fetchall()
        samples = [zlib.decompress(data) for _, data in rows]
        try:
            dictionary = zstandard.train_dictionary(DICTIONARY_SIZE, samples)
        except zstandard.ZstdError as exc:  # too little or too uniform data: stay with zlib
            logger.info("No compression dictionary yet: %s", exc)
            return
        dict_id = db.table("compression_dictionaries").insert(
            {"created_at": now(), "samples": len(samples), "data": dictionary.as_bytes()}
        ).last_pk
        self._dictionaries[dict_id] = dictionary
        compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, dict_data=dictionary)
        self._compressor = (dict_id, compressor)
        db.conn.executemany(
            "UPDATE bodies SET compression = ?, data = ? WHERE sha256 = ?",
            ((f"zstd:{dict_id}", compressor.compress(body), sha) for (sha, _), body in zip(rows, samples)),
        )
