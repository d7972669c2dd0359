"""The archive opened for writing: its runs and the frontier a run resumes from, with the staging of
:mod:`~glossary_spider.storage.staging` and the page writes of :mod:`~glossary_spider.storage.writer`."""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import math
import os
import re
import sqlite3
import stat
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import sqlite_utils

from glossary_spider.outcome import (HELD_REASON, REFUSED_REASONS, HostFetches, exit_status, final_reason, is_complete,
                                     left_empty, outcome, was_refused)
from glossary_spider.storage.bodies import BodyCodec
from glossary_spider.storage.errors import (ArchiveDamaged, ArchiveError, ArchiveUnwritable, archive_path,
                                            busy_timeout_ms, cannot_write, damaged, is_damaged, lost, may_write,
                                            not_an_archive, writable_logs)
from glossary_spider.storage.readers import Reads, fetch_outcomes, run_counts
from glossary_spider.storage.records import Fetch, now
from glossary_spider.storage.schema import (check_ours, check_schema_version, drop_index, ensure_schema,
                                            index_damage, lost_tables)
from glossary_spider.storage.staging import Staging
from glossary_spider.storage.writer import Batch, Writer

logger = logging.getLogger(__name__)


# Redirects that say "elsewhere, for now": they do not move a page away (RFC 9110, 15.4).
TEMPORARY_REDIRECTS = (302, 303, 307)
# The page counts of a reparse: how many pages its extraction changed, left unchanged, or failed on.
REPARSED = ("pages_changed", "pages_unchanged", "pages_failed")


# How long closing the archive waits for readers on an older snapshot before it leaves the log to them.
CHECKPOINT_WAIT_MS = 2000


def _judge(db: sqlite_utils.Database, path: Path) -> None:
    """Refuse an archive of another schema version, another program's database, or damage no command met yet
    (SQLite reads each page: never written into)."""
    check_schema_version(db.execute("PRAGMA user_version").fetchone()[0], path)
    check_ours(db, path)
    if missing := lost_tables(db.conn):
        raise ArchiveDamaged(lost(path, missing))
    if db.table_names():
        (verdict,) = db.execute("PRAGMA quick_check(1)").fetchone()
        if verdict != "ok":  # as SQLite calls the damage a statement meets, and where this check met it
            raise ArchiveDamaged(damaged(path, f"database disk image is malformed: {verdict}"))


def _judged_read_only(path: Path) -> bool:
    """:func:`_judge` the archive through a read-only connection; False where one cannot read it (a rollback
    journal left by a writer killed mid-transaction, which only a writable connection rolls back).

    A writable connection closed on a damaged archive folds the write-ahead log into the file as it closes:
    a log that is not the file's own (copied with another database, or left beside it by one), read as its
    own, made the damage, and folded in, destroyed an archive that moving the log aside would have given
    back whole."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
        _judge(sqlite_utils.Database(conn), path)
    except sqlite3.OperationalError as exc:
        if "readonly" in str(exc):
            return False
        raise
    finally:
        conn.close()
    return True


def tidy(path: Path, ours: bool = False) -> None:
    """Remove the ``-wal`` and ``-shm`` that reading left beside the archive, as SQLite does as the last
    connection to a WAL database closes: but only a connection that may write does so (it checkpoints first),
    and a reader's is read-only, so every read command (and a crawl, whose summary is read last) left both.

    A read-write connection that reads only the schema is opened and closed here, and only where closing it
    folds nothing into the file: the log is empty (one with writes in it, a killed run's or one that is not
    the archive's own, is the next writer's to judge), no rollback journal is there, and no writer holds the
    archive's lock (read without taking it, as :func:`~glossary_spider.lock.holder` does: a writer starting
    now is never refused). SQLite itself removes the files only when it takes the file's exclusive lock as
    the connection closes, which any other connection still open (another reader, a writer that started
    meanwhile, Datasette) refuses: then they are left to the last one. ``ours``: the lock is this process's
    (a writer that refused the archive as it opened it)."""
    real = Path(os.path.realpath(path))
    try:
        wal = os.lstat(real.with_name(real.name + "-wal"))
    except OSError:
        return
    if (not stat.S_ISREG(wal.st_mode) or wal.st_size or os.path.lexists(real.with_name(real.name + "-journal"))
            or not may_write(real) or not os.access(real.parent, os.W_OK)):
        return
    from glossary_spider.lock import holder

    if not ours and holder(real) is not None:
        return
    try:
        # No wait: a file another program holds is left as it is (sqlite3's own default waited 5 s more, at exit).
        conn = sqlite3.connect(f"{real.as_uri()}?mode=rw", uri=True, timeout=0)
        try:
            conn.execute("PRAGMA schema_version").fetchone()  # opens the log: closing then removes it
        finally:
            conn.close()
    except sqlite3.Error:  # busy, or no longer writable: the files stay, as they would have
        pass


class Archive(Staging, Writer, Reads):
    """A glossary archive in one SQLite file, opened for writing (readers use ``query.connect``)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            archive_path(self.path)
            if self.path.exists() and not may_write(self.path):
                raise ArchiveUnwritable(f"{self.path} is read-only: this command writes to the archive (make it "
                                        "writable for you, or run it as a user who may write it)")
            judged = False
            if self.path.exists():
                writable_logs(self.path)
                try:
                    judged = _judged_read_only(self.path)
                except ArchiveError:  # refused: nothing left beside it for reading it
                    tidy(self.path, ours=True)
                    raise
            self.path.parent.mkdir(parents=True, exist_ok=True)
            remove_abandoned_creations(self.path)
            if not self.path.exists():
                _create(self.path)
            self.db = self._connect()
            if not judged:
                _judge(self.db, self.path)
            if damage := index_damage(self.db.conn):  # made again from the pages by ensure_schema, below
                self.db.close()
                with contextlib.closing(self._connect(isolation_level=None)) as repairing:
                    drop_index(repairing.conn)
                logger.warning("%s: the full-text index was damaged (%s): it is made again from the pages",
                               self.path, damage)
                self.db = self._connect()
            self.codec = BodyCodec(self.db)
            if not self.db.table_names():  # an empty file someone made: as _create makes one
                self.db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            self.db.enable_wal()
            self.db.execute("PRAGMA synchronous = NORMAL")
            if ensure_schema(self.db):  # an older archive, migrated: now as compact as one made anew
                self.db.execute("PRAGMA auto_vacuum = INCREMENTAL")
                self.db.execute("VACUUM")
        except sqlite3.DatabaseError as exc:
            if is_damaged(exc):
                raise ArchiveDamaged(cannot_write(self.path, exc)) from exc
            if isinstance(exc, sqlite3.OperationalError):
                raise ArchiveUnwritable(cannot_write(self.path, exc)) from exc
            raise ArchiveError(not_an_archive(self.path, exc, writing=True)) from exc
        except OSError as exc:
            raise ArchiveError(f"cannot open the archive {self.path}: {exc.strerror or exc}") from exc

    def _connect(self, **options: Any) -> sqlite_utils.Database:
        # Absolute: SQLite reads a name such as ':memory:' or 'file:x.db?mode=memory' as no file at all.
        conn = sqlite3.connect(str(self.path.absolute()), check_same_thread=False, factory=WriterConnection, **options)
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
        return sqlite_utils.Database(conn)

    def close(self) -> None:
        """Fold the write-ahead log into the file and empty it, then close. SQLite does so by itself only
        when the last connection closes: a reader still open (Datasette, a report) left the log whole,
        every later reader scanned it at its start (ten times slower, on a 30,000-page archive), and a copy
        of the file alone lacked the run. A reader still on an older snapshot is waited for a moment
        (:data:`CHECKPOINT_WAIT_MS`); past it, the log is folded in as far as it can be."""
        try:
            if not self.db.conn.in_transaction:
                self.db.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:  # a full disk, a file gone read-only: the log stays, for the next writer
            pass
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
        ``stats``; ``counts`` overrides any of them (a resumed run's requests over all its parts). A run the
        archive refused a write to keeps what refused it (``glossary/archive_error``) as its error."""
        counts = {**self.run_counts(run_id), **(counts or {})}
        stats = stats or {}
        empty = left_empty(self.run(run_id)["command"], self.holds_live_page(), counts)
        finish_reason = final_reason(finish_reason, self.fetch_outcomes(run_id), empty)
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
            "error": stats.get("glossary/archive_error"),  # None: an earlier part's is no longer so
            **counts,
        }
        with self.db.atomic():
            self.db.table("crawl_runs").update(run_id, row)
            if is_complete(finish_reason):
                self.db.execute("DELETE FROM frontier WHERE run_id = ?", [run_id])
        try:
            self.compact(full_text=bool(counts["pages_new"] or counts["pages_changed"]))
        except sqlite3.OperationalError as exc:  # the run is recorded as it ended: its work is kept whole
            if self.db.conn.in_transaction:
                self.db.conn.rollback()
            logger.warning("%s: the space the run freed was not given back to the disk (%s); a later run gives it "
                           "back", self.path, exc)
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
                "args": json.dumps(as_json(run.get("args") or {}), sort_keys=True, default=str),
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

    def follows(self) -> bool:
        """Whether the archive's crawls follow links: not where its latest crawl (one that ran) was given
        ``--no-follow``, its pages a list or a sitemap's, and a refresh keeps to them."""
        for (args, reason) in self.db.execute(
            "SELECT args, finish_reason FROM crawl_runs WHERE command = 'crawl' ORDER BY id DESC"
        ):
            if was_refused(reason):  # its arguments are what was refused
                continue
            try:
                return json.loads(args or "{}").get("follow") is not False
            except (ValueError, AttributeError):
                return True
        return True

    def latest_run(self, command: str) -> dict[str, Any] | None:
        """The latest ``command`` run that started (one refused before it started is none)."""
        refused = ", ".join("?" * len(REFUSED_REASONS))
        row = self.db.execute(
            f"SELECT id FROM crawl_runs WHERE command = ? AND coalesce(finish_reason, '') NOT IN ({refused}) "
            "ORDER BY id DESC LIMIT 1", [command, *REFUSED_REASONS]
        ).fetchone()
        return None if row is None else self.run(row[0])

    def resumable_run(self, command: str) -> dict[str, Any] | None:
        """The latest ``command`` run that started, if it stopped before it was done."""
        run = self.latest_run(command)
        return None if run is None or is_complete(run["finish_reason"]) else run

    def undecided_held_run(self, command: str) -> int | None:
        """The id of the latest ``command`` run that started, if it ended held by the quality gate and
        nobody has accepted or discarded it yet."""
        refused = ", ".join("?" * len(REFUSED_REASONS))
        row = self.db.execute(
            f"SELECT r.id, r.finish_reason, g.decision FROM crawl_runs r LEFT JOIN gate_reports g ON g.run_id = r.id "
            f"WHERE r.command = ? AND coalesce(r.finish_reason, '') NOT IN ({refused}) ORDER BY r.id DESC LIMIT 1",
            [command, *REFUSED_REASONS]).fetchone()
        return row[0] if row is not None and row[1] == HELD_REASON and row[2] is None else None

    def reopen_run(self, run_id: int, job_id: str | None = None) -> None:
        """Carry a stopped run on in this process (and Scrapyd job): the jobs of its earlier parts are kept,
        in ``earlier_job_ids``, for whoever traces one of them to the run."""
        with self.db.atomic():
            run = self.run(run_id)
            try:
                earlier = json.loads(run.get("earlier_job_ids") or "[]")
            except ValueError:  # damaged: the jobs from here on are kept
                earlier = []
            earlier = earlier if isinstance(earlier, list) else []
            if run["job_id"] and run["job_id"] != job_id:
                earlier.append(run["job_id"])
            self.db.table("crawl_runs").update(run_id, {
                "finished_at": None, "finish_reason": None, "outcome": None, "exit_status": None,
                "pid": os.getpid(), "job_id": job_id, "resumed_at": now(),
                "earlier_job_ids": json.dumps(earlier) if earlier else None,
            })

    def run(self, run_id: int) -> dict[str, Any]:
        return self.db.table("crawl_runs").get(run_id)

    def read_before(self, extractor_version: int) -> int:
        """How many live pages an extractor earlier than ``extractor_version`` read."""
        return self.db.execute("SELECT count(*) FROM pages WHERE status = 'live' AND extractor_version < ?",
                               [extractor_version]).fetchone()[0]

    def holds_live_page(self) -> bool:
        return bool(self.db.execute("SELECT EXISTS (SELECT 1 FROM pages WHERE status = 'live')").fetchone()[0])

    def newest_extractor(self) -> int:
        """The newest extractor version that read a page of the archive (0 for none yet)."""
        return self.db.execute("SELECT coalesce(max(extractor_version), 0) FROM pages").fetchone()[0]

    def run_counts(self, run_id: int) -> dict[str, int]:
        return run_counts(self.db, run_id)

    def fetch_outcomes(self, run_id: int) -> dict[str, HostFetches]:
        return fetch_outcomes(self.db, run_id)

    # -- pages that are not staged -------------------------------------------------------

    def record_gone(self, run_id: int, fetch: Fetch) -> str | None:
        """A 404 or 410 for an archived page, or a redirect from it elsewhere: ``gone`` if it was live,
        ``still_gone`` if it was gone already (not news); None if the archive never had it. A temporary
        redirect (302, 303, 307) from a live page is a failed fetch of it, ``failed``: it stays live.

        A live page is only captured as ``gone`` here: it stays live until the quality gate passes
        the run (:meth:`apply_staged`), which holds a run in which most pages asked about went at once.
        """
        with self.db.atomic():
            if (state := self._page_state(fetch.url)) is None:
                return None
            if fetch.http_status in TEMPORARY_REDIRECTS and state["status"] == "live":
                # "Elsewhere, for now" (a maintenance page, a login): the page has not gone.
                location = (fetch.headers or "").partition("Location: ")[2][:200]
                self.record_failure(run_id, fetch.url, "fetch", fetch.http_status,
                                    f"HTTP {fetch.http_status}: a temporary redirect to {location}; the page stays "
                                    "as archived", fetch=fetch)
                return "failed"
            outcome = "still_gone" if state["status"] == "gone" else "gone"
            rows = Batch()
            if outcome == "still_gone":
                rows.touched.append((fetch.http_status, fetch.fetched_at, run_id, fetch.url))
            rows.capture(run_id, fetch, None, outcome)
            self.write(rows)
        return outcome

    def record_moved(self, run_id: int, fetch: Fetch) -> str | None:
        """A redirect from a URL: for an archived page, what :meth:`record_gone` makes of it; for a URL the
        archive never had, a capture ``moved`` (None returned): no page of its own, but an answer the quality
        gate weighs (a site sending every URL to its home page) and that a run held asks about again."""
        if outcome := self.record_gone(run_id, fetch):
            return outcome
        rows = Batch()
        rows.capture(run_id, fetch, None, "moved")
        with self.db.atomic():
            self.write(rows)
        return None

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

    def mark_frontier(self, run_id: int, done: Iterable[str] = (), pending: Iterable[str] = (),
                      chains: Mapping[str, int] | None = None) -> None:
        """Record URLs fetched (``done``) and discovered but not yet fetched (``pending``; ``chains``: of those a
        chain of pages without text of their own led to, that chain's length, for the trap guard of a resume)."""
        chains = chains or {}
        conn = self.db.conn
        conn.executemany(
            "INSERT OR IGNORE INTO frontier (run_id, url, state, chain) VALUES (?, ?, 'pending', ?)",
            ((run_id, url, chains.get(url)) for url in pending),
        )
        conn.executemany(
            "INSERT INTO frontier (run_id, url, state) VALUES (?, ?, 'done') "
            "ON CONFLICT (run_id, url) DO UPDATE SET state = 'done'",
            ((run_id, url) for url in done),
        )

    def chains(self, run_id: int) -> dict[str, int]:
        """The URLs a run found but had not fetched that a chain of pages without text of their own led to, each
        with that chain's length (the trap guard's count, which a resume starts from)."""
        return dict(self.db.execute("SELECT url, chain FROM frontier WHERE run_id = ? AND state = 'pending' AND "
                                    "chain > 0", [run_id]).fetchall())

    def asked_again(self, run_id: int) -> set[str]:
        """The URLs a run asks again about, not yet fetched, whose answers a held part of it set aside
        (:meth:`~glossary_spider.storage.staging.Staging.ask_again`)."""
        return {url for (url,) in self.db.execute("SELECT url FROM frontier WHERE run_id = ? AND state = 'asked'",
                                                  [run_id])}

    def traps(self, run_id: int) -> list[tuple[str, str, str]]:
        """The link traps a run cut so far: the example URL, error and detail of each failure it recorded."""
        return self.db.execute("SELECT url, error, detail FROM crawl_errors WHERE run_id = ? AND stage = 'trap' "
                               "ORDER BY id", [run_id]).fetchall()

    def frontier(self, run_id: int) -> tuple[set[str], list[str]]:
        """The URLs a run has fetched, and those it found but had not fetched yet: those it never tried
        first, then those whose fetch got no answer, so that a resume under a budget does not spend it all
        on the same failing fetches before it gets to the rest."""
        done, pending = set(), []
        for url, state in self.db.execute("SELECT url, state FROM frontier WHERE run_id = ? ORDER BY rowid", [run_id]):
            if state == "done":
                done.add(url)
            else:
                pending.append(url)
        tried = {url for (url,) in self.db.execute("SELECT url FROM captures WHERE run_id = ? UNION "
                                                   "SELECT url FROM crawl_errors WHERE run_id = ?", [run_id, run_id])}
        pending = [url for url in pending if url not in done]
        return done, [url for url in pending if url not in tried] + [url for url in pending if url in tried]

    def mark_reparsed(self, run_id: int, url: str, counts: Mapping[str, int]) -> None:
        """Note that reparse ``run_id`` has done every page up to ``url``, in the order of URLs, and add the
        ``counts`` of those pages (``pages_changed``, ``pages_unchanged``, ``pages_failed``) to its own: a
        reparse stopped early carries on after it, over the counts of every part. Written in the transaction
        of the pages it covers."""
        self.db.execute(f"UPDATE crawl_runs SET reparsed_through = ?, "
                        f"{', '.join(f'{name} = coalesce({name}, 0) + ?' for name in REPARSED)} WHERE id = ?",
                        [url, *(counts.get(name, 0) for name in REPARSED), run_id])

    def reparsed_counts(self, run_id: int) -> dict[str, int]:
        """The page counts reparse ``run_id`` has written so far (:meth:`mark_reparsed`), over its parts."""
        row = self.db.execute(f"SELECT {', '.join(REPARSED)} FROM crawl_runs WHERE id = ?", [run_id]).fetchone()
        return {name: value or 0 for name, value in zip(REPARSED, row)}

    def latest_version_hash(self, url: str) -> str | None:
        row = self.db.execute("SELECT v.content_hash FROM versions v JOIN urls u ON u.id = v.url_id WHERE u.url = ? "
                              "ORDER BY v.version DESC LIMIT 1", [url]).fetchone()
        return row[0] if row else None

    def reparse_pages(self, run_id: int, pages: Iterable[tuple[dict[str, Any], dict[str, Any] | None,
                                                              Iterable[dict[str, Any]], str]]) -> list[str]:
        """Write re-extracted records, each given as (the page's state, its record, its errors, the record's
        :func:`~glossary_spider.storage.writer.record_digest`), in one batch: a new version only where the
        content hash changed, and nothing where the record is the one the archive holds (a record of None:
        its digest is the stored one; its errors were recorded with it), but the digest of a page stored
        without one. Returns ``changed`` or
        ``unchanged`` for each."""
        batch, outcomes = Batch(), []
        for state, record, errors, digest in pages:
            # Against the page's latest version too: a page row whose hash was lost or is wrong (damage, a
            # hand edit) is corrected, no version of the same content written again.
            changed = (record is not None and record["content_hash"] != state["content_hash"]
                       and record["content_hash"] != self.latest_version_hash(state["url"]))
            if record is not None and not changed and state["record_digest"] is None and self.holds(record):
                batch.digests.append((digest, state["url"]))
            elif record is not None:
                version = (state["version"] or 0) + 1 if changed else state["version"]
                batch.record(run_id, record, None, version=version, previous=state, new_version=changed,
                             digest=digest, read_at=state.get("fetched_at"))
            for error in errors if record is not None else ():  # a record held as it was: its errors are too
                batch.error(run_id, state["url"], error["stage"], None, error["error"], error.get("detail"))
            outcomes.append("changed" if changed else "unchanged")
        with self.db.atomic():
            self.write(batch)
        return outcomes


def as_json(value: Any) -> Any:
    """``value`` (arguments a refused run was given) with each number JSON cannot hold (``nan``, ``inf``) as
    its text: a JSON column holds JSON, which a strict reader (``runs --json | jq``) reads."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    return value


def remove_abandoned_creations(path: Path) -> None:
    """Remove the temporary files that creations of the archive killed midway (``kill -9``) left beside it
    (:func:`abandoned_creations`). Only a writer, which holds the archive's lock, opens the archive, so no
    other creation of it can be under way."""
    for left in abandoned_creations(path):
        with contextlib.suppress(OSError):  # gone meanwhile, or another user's in a sticky directory
            left.unlink()


def abandoned_creations(path: Path) -> list[Path]:
    """What creations of the archive at ``path`` killed midway may have left beside it: :func:`_create`'s
    ``.NAME.XXXXXXXX.new`` (killed between its link to the archive's name and its removal, a second name of the
    archive file), and the rollback journal SQLite kept beside it."""
    made = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.new(-journal)?")
    return [left for left in path.parent.glob(f".{glob.escape(path.name)}.*.new*")
            if made.fullmatch(left.name) and left.is_file() and not left.is_symlink()]


def _create(path: Path) -> None:
    """A new archive at ``path``, all at once: its schema is made in a temporary file beside it, which
    then takes the name, so a process killed meanwhile leaves no archive rather than a half-made one.

    Pages a run frees (its staged records) go back to the filesystem when it ends
    (:meth:`Archive.compact`); only a file without tables can be given that."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)  # as SQLite would have made it, not mkstemp's owner-only
    try:
        conn = sqlite3.connect(temporary)
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        ensure_schema(sqlite_utils.Database(conn))
        conn.close()
        try:
            os.link(temporary, path)  # never over an archive another process made meanwhile
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links
            if not path.exists():
                os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


class WriterConnection(sqlite3.Connection):
    """The archive's writing connection, whose transactions take SQLite's write lock as they begin. One that
    sqlite-utils begins (``BEGIN``, in ``Database.atomic``) reads first, then asks for the lock to write: with
    another connection holding it, SQLite refuses it at once rather than let two wait on each other, and the
    busy timeout went unused (a batch, or a run's end, refused the moment a sqlite3 session held the lock)."""

    def execute(self, sql: str, *parameters: Any) -> sqlite3.Cursor:
        return super().execute("BEGIN IMMEDIATE" if sql == "BEGIN" else sql, *parameters)
