"""The archive opened for writing: its runs, the staging of a run's pages for the quality gate, the
frontier a run resumes from, and the page writes of :mod:`~glossary_spider.storage.writer`."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import sqlite_utils
import zstandard

from glossary_spider.outcome import REFUSED_REASONS, exit_status, final_reason, is_complete, outcome, was_refused
from glossary_spider.storage.bodies import BodyCodec
from glossary_spider.storage.errors import ArchiveError, cannot_write
from glossary_spider.storage.readers import Reads, fetch_outcomes, read_gate_report, run_counts
from glossary_spider.storage.records import Fetch, now
from glossary_spider.storage.schema import TABLES, check_ours, check_schema_version, ensure_schema
from glossary_spider.storage.writer import Batch, Writer

logger = logging.getLogger(__name__)


class Archive(Writer, Reads):
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
            if not self.db.table_names():
                # Pages a run frees (its staged records) go back to the filesystem when it ends
                # (:meth:`compact`). Only a new file takes this before its first write.
                self.db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            self.db.enable_wal()
            self.db.execute("PRAGMA synchronous = NORMAL")
            if ensure_schema(self.db):  # an older archive, migrated: now as compact as one made anew
                self.db.execute("PRAGMA auto_vacuum = INCREMENTAL")
                self.db.execute("VACUUM")
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
        self.compact(full_text=bool(counts["pages_new"] or counts["pages_changed"]))
        return self.run(run_id)

    def compact(self, full_text: bool = True) -> None:
        """Give back to the filesystem the pages a run freed (its staged records, rows it rewrote);
        with ``full_text``, merge the full-text index's segments into one first."""
        if full_text:
            self.db.execute("INSERT INTO pages_fts (pages_fts) VALUES ('optimize')")
        self.db.conn.executescript("PRAGMA incremental_vacuum")  # stepped to the end, unlike execute()

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
        rows = Batch()
        outcomes = []
        staged = []
        with self.db.atomic():
            for fetch, extraction in batch:
                record = extraction.record
                previous = self._page_state(record["url"])
                outcome = _outcome(previous, record)
                body_sha = rows.body(self.codec, fetch.body, fetch.url)
                rows.capture(run_id, fetch, body_sha, outcome)
                for error in extraction.errors:
                    rows.error(run_id, record["url"], error["stage"], fetch.http_status, error["error"],
                               error.get("detail"))
                staged.append(_staged(run_id, record, fetch, body_sha))
                outcomes.append(outcome)
            self.write(rows)
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
            rows = Batch()
            for row in self.staged(run_id):
                record = (records or {}).get(row["url"]) or staged_record(row["record"])
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
                    self.write(rows)
                    rows = Batch()
            self.write(rows)
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
            rows = Batch()
            rows.capture(run_id, fetch, None, outcome)
            self.write(rows)
        return outcome

    def record_not_modified(self, run_id: int, fetch: Fetch) -> None:
        rows = Batch()
        rows.touched.append((fetch.http_status, fetch.fetched_at, run_id, fetch.url))
        rows.capture(run_id, fetch, None, "not_modified")
        with self.db.atomic():
            self.write(rows)

    def record_failure(
        self, run_id: int, url: str, stage: str, http_status: int | None, error: str, detail: str | None = None,
        fetch: Fetch | None = None,
    ) -> None:
        rows = Batch()
        rows.error(run_id, url, stage, http_status, error, detail)
        with self.db.atomic():
            if fetch is not None:
                rows.capture(run_id, fetch, rows.body(self.codec, fetch.body, fetch.url) if fetch.body else None, "failed")
            self.write(rows)

    def record_error(
        self, run_id: int, url: str, stage: str, http_status: int | None, error: str, detail: str | None = None
    ) -> None:
        rows = Batch()
        rows.error(run_id, url, stage, http_status, error, detail)
        self.write(rows)

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

    def reparse_page(
        self, run_id: int, state: dict[str, Any], record: dict[str, Any], errors: Iterable[dict[str, Any]] = ()
    ) -> str:
        """Write a re-extracted record: a new version only if its content hash changed."""
        changed = record["content_hash"] != state["content_hash"]
        version = (state["version"] or 0) + 1 if changed else state["version"]
        with self.db.atomic():
            self.write_record(run_id, record, version=version, previous=state, new_version=changed, errors=errors)
        return "changed" if changed else "unchanged"


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
        "body_sha256": body_sha,
        "record": zstandard.ZstdCompressor(level=3).compress(json.dumps(record, ensure_ascii=False).encode()),
    }


def staged_record(stored: bytes | str) -> dict[str, Any]:
    """A staged record: zstd-compressed JSON (plain JSON in an archive staged before schema 2)."""
    if isinstance(stored, str):
        return json.loads(stored)
    return json.loads(zstandard.ZstdDecompressor().decompress(stored))
