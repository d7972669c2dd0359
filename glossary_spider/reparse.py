"""Re-extract every archived page from its stored body: no network, one run row.

Extraction runs in worker processes (:class:`PageExtractor`) while this process, the archive's
one writer, writes their records a batch per transaction. Pages are read in the order of
their URLs, and the run notes the last one done with each batch: a reparse stopped before it was
done (``kill -9`` included) is carried on by the next one with the same extractor, which reopens
the run and extracts the pages after it. A page that re-extracts to what the archive holds is not
written at all.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import signal
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from multiprocessing.connection import Connection, wait
from typing import Any

from glossary_spider.extraction import EXTRACTOR_VERSION, extract_page
from glossary_spider.gate import QualityGate
from glossary_spider.outcome import ARCHIVE_ERROR, FINISHED_REASON, INTERRUPTED_REASON, UNREADABLE_REASON
from glossary_spider.storage import Archive, ArchiveError, cannot_write
from glossary_spider.storage.readers import StoredBodies
from glossary_spider.storage.staging import staged_extractor
from glossary_spider.storage.writer import record_digest
from glossary_spider.terminal import ProgressLine
from glossary_spider.workers import hold_stops, let_stops_in, worker_started

logger = logging.getLogger(__name__)

BATCH = 200
# Pages handed to a worker at a time: one hand-off between processes for each batch, not each page.
WORKER_BATCH = 50

# A record (None: the one the archive holds), its errors and its digest; or why extraction failed.
Extracted = tuple[dict[str, Any] | None, list[dict[str, Any]], str] | str


def reparse_archive(archive: Archive, extractor: PageExtractor | None = None, progress: bool = False,
                    ) -> dict[str, Any]:
    """Rewrite every page's rows from its latest stored body, extracting with ``extractor`` (None: in this
    process), whose workers are stopped once all is extracted; returns the finished run."""
    extractor = extractor or PageExtractor(1)
    workers = extractor.workers
    args = {"extractor_version": EXTRACTOR_VERSION, "workers": workers}
    run = archive.resumable_run("reparse")
    if run is not None and _args(run).get("extractor_version") == EXTRACTOR_VERSION:
        run_id, after = run["id"], run["reparsed_through"] or ""
        archive.reopen_run(run_id)
        logger.info("Resuming reparse run %s after %s", run_id, after or "no page")
    else:
        run_id, after = archive.start_run("reparse", args, os.getpid()), ""
    counts = {"pages_changed": 0, "pages_unchanged": 0, "pages_failed": 0}  # this part's (the run's: in its row)
    started, reason = time.monotonic(), FINISHED_REASON
    total, line = 0, ProgressLine() if progress else None  # the total is for the progress line only
    if line:
        total = archive.db.execute("SELECT count(*) FROM pages WHERE url > ?", [after]).fetchone()[0]
    pages = archive.stored_states(after)
    try:
        batch: list[tuple[dict[str, Any], Extracted]] = []
        for state, result in extractor.extract(archive, pages):
            batch.append((state, result))
            if len(batch) >= BATCH:
                _write(archive, run_id, batch, counts)
                batch = []
                if line:
                    line.show(_progress(total, started, counts))
        _write(archive, run_id, batch, counts)
    except KeyboardInterrupt:
        reason = INTERRUPTED_REASON
    except sqlite3.DatabaseError as exc:  # a full disk, a damaged file: the run ends so, if it can be said
        with contextlib.suppress(sqlite3.Error):
            archive.finish_run(run_id, ARCHIVE_ERROR, {"glossary/archive_error": cannot_write(archive.path, exc)},
                               archive.reparsed_counts(run_id))
        raise
    finally:
        extractor.stop()
        if line:
            line.done(_progress(total, started, counts))
    counts = archive.reparsed_counts(run_id)  # over every part
    if reason == FINISHED_REASON and counts["pages_failed"] and counts["pages_failed"] >= 0.95 * sum(counts.values()):
        reason = UNREADABLE_REASON  # 19 in 20, as a crawl's site that did not answer
    stats = {"pages": sum(counts.values()), "workers": workers,  # the pages of all its parts; the time this one's
             "elapsed_time_seconds": round(time.monotonic() - started, 3)}
    return archive.finish_run(run_id, reason, stats, counts)


def _args(run: dict[str, Any]) -> dict[str, Any]:
    try:
        args = json.loads(run.get("args") or "{}")
    except ValueError:
        return {}
    return args if isinstance(args, dict) else {}


def _write(archive: Archive, run_id: int, batch: list[tuple[dict[str, Any], Extracted]], counts: dict[str, int]) -> None:
    extracted, added = [], dict.fromkeys(counts, 0)
    with archive.db.atomic():
        for state, result in batch:
            if isinstance(result, str):  # one page that breaks extraction must not stop the rest
                archive.record_error(run_id, state["url"], "parse", None, "extraction failed", result)
                added["pages_failed"] += 1
            else:
                extracted.append((state, *result))
        for outcome in archive.reparse_pages(run_id, extracted):
            added[f"pages_{outcome}"] += 1
        if batch:
            archive.mark_reparsed(run_id, batch[-1][0]["url"], added)
    for outcome, count in added.items():  # once written: a batch that Ctrl-C stopped counts for nothing
        counts[outcome] += count


def _progress(total: int, started: float, counts: dict[str, int]) -> str:
    done = sum(counts.values())  # the pages written
    rate = done / max(time.monotonic() - started, 1e-6)
    return f"{done:,} of {total:,} pages · {rate:.0f}/s · {counts['pages_changed']:,} changed"


# A page to extract: its URL, its body's content type and sha256, and the stored record's digest and content hash.
Task = tuple[str, str | None, str, str | None, str | None]


def extract_batch(pages: list[Task], body_of: Callable[[str], bytes | None]) -> list[Extracted]:
    """Extract ``pages``, each body read with ``body_of``. A record that the archive holds already is
    not sent back."""
    results: list[Extracted] = []
    for url, content_type, sha256, stored, stored_hash in pages:
        try:
            body = body_of(sha256)
            if body is None:
                raise ArchiveError(f"the archive no longer holds the page's body {sha256}")
            extraction = extract_page(body, url, content_type, follow=False)
        except Exception as exc:
            results.append(f"{type(exc).__name__}: {exc}")
            continue
        digest = record_digest(extraction.record)
        held = digest == stored and extraction.record["content_hash"] == stored_hash
        results.append((None if held else extraction.record, extraction.errors, digest))
    return results


# A worker's own read-only connection to the archive it extracts from, opened at its first batch.
_stored_bodies: dict[str, StoredBodies] = {}


def extract_stored(path: str, pages: list[Task]) -> list[Extracted]:
    """What a worker runs on a batch of the archive at ``path``: it reads the bodies itself, so that
    none travels between processes."""
    if path not in _stored_bodies:
        _stored_bodies[path] = StoredBodies(path)
    return extract_batch(pages, _stored_bodies[path].body)


States = Iterable[tuple[dict[str, Any], str | None, str]]


def task(state: dict[str, Any], content_type: str | None, sha256: str) -> Task:
    return state["url"], content_type, sha256, state["record_digest"], state["content_hash"]


_forks_quiet = False  # whether hold_stops and the rest are registered, once for the process


def _quiet_signals() -> None:
    """In a worker the moment it is forked, before Python starts it up: Ctrl-C is its parent's, and
    SIGTERM ends it quietly; then what was held back arrives. It would otherwise hold the reparse's own
    handlers a while, and a worker stopped while starting printed a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    let_stops_in()


class PageExtractor:
    """Extracts stored pages in ``workers`` processes (0 or 1: in this one), in reading order.

    The workers are forked from this process as the extractor is entered, with all it has loaded: make
    it before opening the archive. Each has a pipe of its own, and reads the bodies itself; none holds
    the archive's lock (:mod:`glossary_spider.lock` closes a forked child's copy) or uses its writer's
    connection, and each goes when this process does (``kill -9`` included). A worker that dies (killed,
    out of memory, a page that crashes the parser), even while it sends its results, costs no page and
    stops nothing: its pipe ends, the batches it held are extracted again a page at a time, each in a
    fresh worker, and a page that kills that one too is a failed page of the run. (A pool whose workers
    share one result pipe, as ``ProcessPoolExecutor``'s do, waits for ever on a message its dead
    worker cut short.)"""

    def __init__(self, workers: int = 1):
        self.workers = workers
        self.pool: list[_Worker] = []

    def __enter__(self) -> PageExtractor:
        if self.workers > 1:
            global _forks_quiet
            if not _forks_quiet:
                os.register_at_fork(after_in_child=_quiet_signals)
                _forks_quiet = True
            # Held back while the workers are forked, so that each comes to its child held (_quiet_signals), and let
            # in here after them: let in by a hook of the fork, a stop interrupted the hook, whose error Python
            # drops, and the reparse ran on as if never stopped.
            hold_stops()
            try:
                self.pool = [_Worker() for _ in range(self.workers)]
            finally:
                try:
                    let_stops_in()
                except KeyboardInterrupt:
                    self.stop()
                    raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """End the workers, and with them their connections to the archive: the archive, closed after
        them, then has its write-ahead log checkpointed into the file and removed. At once, whatever
        they were doing (SIGKILL: they only read)."""
        for worker in self.pool:
            worker.kill()
        self.pool = []

    def extract(self, archive: Archive, pages: States) -> Iterator[tuple[dict[str, Any], Extracted]]:
        """(state, extraction result) for each of ``archive``'s stored ``pages``, in their order: a few
        batches at a time in the workers, so that memory holds a few batches however many pages."""
        if not self.pool:
            for page in pages:
                yield page[0], extract_batch([task(*page)], archive.body)[0]
            return
        path = str(archive.path)
        remaining = iter(pages)
        window: deque[_Batch] = deque()  # in the pages' order
        while True:
            while len(window) < 2 * len(self.pool) and (chunk := list(islice(remaining, WORKER_BATCH))):
                worker = min(self.pool, key=lambda w: len(w.held))
                window.append(worker.send(path, [state for state, _, _ in chunk], [task(*page) for page in chunk]))
            if not window:
                return
            while window[0].results is None:
                self._hear(path)
            done = window.popleft()
            yield from zip(done.states, done.results)

    def _hear(self, path: str) -> None:
        """Wait for a worker's results or its death; a dead worker's batches are extracted a page at a time."""
        ready = set(wait([w.conn for w in self.pool if w.held] + [w.process.sentinel for w in self.pool if w.held]))
        for worker in list(self.pool):
            if worker.conn not in ready and worker.process.sentinel not in ready:
                continue
            try:
                worker.held[0].results = worker.conn.recv()
                worker.held.popleft()
            except (EOFError, OSError):  # it died, perhaps in the middle of its results
                self.pool[self.pool.index(worker)] = _Worker()
                worker.kill()
                for batch in worker.held:
                    batch.results = [self._alone(path, page) for page in batch.tasks]

    @staticmethod
    def _alone(path: str, page: Task) -> Extracted:
        """A page extracted by itself in a worker of its own: one that dies now is the page that kills it."""
        worker = _Worker()
        try:
            worker.send(path, [page[0]], [page])
            return worker.conn.recv()[0]
        except (EOFError, OSError):
            return "WorkerDied: the extraction worker died extracting this page"
        finally:
            worker.kill()


class _Batch:
    """Pages sent to a worker: their states, the tasks sent, and the results once back."""

    def __init__(self, states: list[dict[str, Any]], tasks: list[Task]):
        self.states, self.tasks = states, tasks
        self.results: list[Extracted] | None = None


class _Worker:
    """A worker forked from this process, with a pipe of its own, and the batches it holds, oldest first."""

    def __init__(self) -> None:
        self.conn, theirs = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("fork").Process(
            target=_serve, args=(theirs, self.conn, os.getpid()), daemon=True)
        self.process.start()
        theirs.close()
        self.held: deque[_Batch] = deque()

    def send(self, path: str, states: list[Any], tasks: list[Task]) -> _Batch:
        batch = _Batch(states, tasks)
        self.held.append(batch)
        try:
            self.conn.send((path, tasks))
        except OSError:  # dead already: the pipe's end is heard as its death
            pass
        return batch

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()


def _serve(conn: Connection, parents: Connection, parent_pid: int) -> None:
    """A worker's life: extract each batch it is sent, until its pipe closes (the reparse is done, or gone)."""
    parents.close()  # the reparse's end, inherited: else its pipe would never end here
    worker_started(parent_pid)
    while True:
        try:
            path, tasks = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(extract_stored(path, tasks))


def accept_held(archive: Archive, run_id: int, progress: bool = False) -> dict[str, int]:
    """Archive a run the quality gate held as the gate would have had it passed, its pages re-extracted
    from the captures it kept (so that an extraction fixed since handles them): its soft 404s gone, its
    blank pages as archived. Returns the run's counts (``pages_new`` ...), as its row now holds them.
    ``progress``: say on standard error how many of its pages are done (a minute for 20,000)."""
    soft_404, kept = QualityGate().set_aside(archive, run_id)
    line = ProgressLine() if progress else None
    staged = archive.db.execute("SELECT count(*) FROM staged WHERE run_id = ?", [run_id]).fetchone()[0]
    total, done = staged - len(set(soft_404) | kept.keys()), 0

    def said() -> str:
        return f"accepting run #{run_id}: {done:,} of {total:,} pages extracted again and archived"

    def reread(row: dict[str, Any]) -> dict[str, Any] | None:
        """The page's record extracted anew, as it is archived: a run's records are not all held at once."""
        nonlocal done
        done += 1
        if line and done % 100 == 0:
            line.show(said())
        return _extracted_again(archive, row)

    try:
        return archive.accept_staged(run_id, soft_404, kept, reread)
    finally:
        if line:
            line.done(said())


def restage_earlier(archive: Archive, run_id: int) -> int:
    """Extract anew from their captures the pages the stopped ``run_id`` staged as an earlier release's
    extractor read them, as its resume begins: the quality gate then judges, and the archive keeps, what
    this release reads. Returns how many. Each resume leaves its run's pages staged as its release reads them:
    where the last page staged is, so are all (most resumes read that one row alone)."""
    last = archive.last_staged(run_id)
    if last is None or staged_extractor(last) >= EXTRACTOR_VERSION:
        return 0

    def reread(row: dict[str, Any]) -> dict[str, Any] | None:
        return _extracted_again(archive, row) if staged_extractor(row) < EXTRACTOR_VERSION else None

    return archive.restage(run_id, reread)


def _extracted_again(archive: Archive, row: dict[str, Any]) -> dict[str, Any] | None:
    """The record of a staged page (its ``staged`` row) extracted anew from its capture; None where it cannot
    be: its staged record, extracted when it was fetched, stands."""
    body = archive.body(row["body_sha256"])
    if body is None:
        return None
    try:
        return extract_page(body, row["url"], row["content_type"], follow=False).record
    except Exception:
        return None
