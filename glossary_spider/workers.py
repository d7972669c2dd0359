"""Worker processes for extraction, shared by the crawl and by reparse.

No worker holds the archive's lock or its database connection: a crawl's are spawned
fresh, a reparse's are forked before the archive is opened (:class:`~glossary_spider.reparse.PageExtractor`).
Each exits when the process that started it dies, ``kill -9`` included.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any

from glossary_spider.extraction import Extraction, extract_page
from glossary_spider.sketches import PageReading, read_page
from glossary_spider.storage.staging import STAGED, Prepared, prepare

logger = logging.getLogger(__name__)


def default_workers() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def executor(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` extraction processes, each a child of this process (spawned), so that the
    CPU time they use counts as this process's for whoever waits for it (a shell's ``time``, Scrapyd)."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=worker_started,
                               initargs=(os.getpid(),))


def worker_started(parent_pid: int) -> None:
    """Run in each worker as it starts: Ctrl-C is the parent's to handle, SIGTERM (the pool's way to stop
    it) ends it quietly whatever handler it was forked with, and it goes when the parent does."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


class ExtractionFailed(Exception):
    """A page broke extraction in a worker process; ``detail`` says how (the exception's type and text)."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def extract_for_staging(pages: list[tuple[bytes, str, str]], follow: bool = False,
                        ) -> list[tuple[Extraction, Prepared, PageReading | None] | ExtractionFailed]:
    """What a crawl's extraction worker runs on a batch of (body, url, content type): for each page,
    what the crawl's process needs of it, or why its extraction failed.

    That is the page's extraction with its record cut to :data:`~glossary_spider.storage.staging.STAGED`
    (the rest is in what staging needs, :func:`~glossary_spider.storage.staging.prepare`, made here
    too), and, if the crawl ``follow``s links, the page's links to follow and what the trap guard
    compares of it (:func:`~glossary_spider.sketches.read_page`). A whole record weighs three times as
    much between processes, and reading its text takes a fifth of a millisecond: work that would
    otherwise fall to Scrapy's loop.
    """
    results: list[tuple[Extraction, Prepared, PageReading | None] | ExtractionFailed] = []
    for body, url, content_type in pages:
        try:
            extraction = extract_page(body, url, content_type, follow=follow)
            record = extraction.record
            staged = Extraction({key: record[key] for key in STAGED}, extraction.errors, extraction.outlinks)
            results.append((staged, prepare(record), read_page(record) if follow else None))
        except Exception as exc:  # one page that breaks extraction must not fail its batch
            results.append(ExtractionFailed(f"{type(exc).__name__}: {exc}"))
    return results


class BatchingPool:
    """Work handed to worker processes a batch at a time, from an asyncio loop.

    Each worker has at most two batches in hand (one at work, one queued); what arrives meanwhile
    waits, and goes to the next free worker as one batch. The loop then pays one hand-off between
    processes per batch rather than per item: each submit to a ``ProcessPoolExecutor`` wakes its
    manager thread, which takes the GIL from the loop. ``job`` takes a list of items and returns a
    result for each, an exception being that item's failure.

    A worker that dies (killed, out of memory, a crash in a C library) fails the batches in hand with
    ``BrokenProcessPool``, and new workers take the work after them, up to ``restarts`` times.
    """

    def __init__(self, workers: int, job: Callable[[list[Any]], list[Any]], most: int = 32, restarts: int = 3):
        self.workers = workers
        self.pool = executor(workers)
        self.job = job
        self.slots = 2 * workers
        self.most = most
        self.restarts = restarts
        self.waiting: list[tuple[Any, asyncio.Future[Any]]] = []
        self.busy = 0

    async def run(self, item: Any) -> Any:
        """The job's result for ``item``, once a worker has made it."""
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((item, future))
        self._hand_out()
        return await future

    def _hand_out(self) -> None:
        while self.waiting and self.busy < self.slots:
            batch, self.waiting = self.waiting[:self.most], self.waiting[self.most:]
            try:
                submitted = self._submit([item for item, _ in batch])
            except Exception as exc:  # shut down, or broken with no new workers left: the batch fails with it
                _settle(batch, [exc] * len(batch))
                continue
            self.busy += 1
            asyncio.wrap_future(submitted).add_done_callback(partial(self._finished, batch, self.pool))

    def _submit(self, items: list[Any]) -> Future[list[Any]]:
        try:
            return self.pool.submit(self.job, items)
        except BrokenProcessPool:  # a worker died with nothing in hand
            if self.restarts <= 0:
                raise
            self._restart()
            return self.pool.submit(self.job, items)

    def _finished(self, batch: list[tuple[Any, asyncio.Future[Any]]], pool: ProcessPoolExecutor,
                  done: asyncio.Future[list[Any]]) -> None:
        self.busy -= 1
        if done.cancelled():
            for _, future in batch:
                future.cancel()
        else:
            failure = done.exception()
            _settle(batch, [failure] * len(batch) if failure else done.result())
            if isinstance(failure, BrokenProcessPool) and pool is self.pool and self.restarts > 0:
                self._restart()
        self._hand_out()

    def _restart(self) -> None:
        logger.warning("An extraction worker died: new workers take over (pages it had in hand are recorded as failed)")
        self.restarts -= 1
        self.pool.shutdown(wait=True)
        self.pool = executor(self.workers)

    def shutdown(self) -> None:
        """Stop the workers, waiting for them (so that their CPU time is counted as this process's)."""
        self.pool.shutdown(wait=True, cancel_futures=True)


def _settle(batch: list[tuple[Any, asyncio.Future[Any]]], results: list[Any]) -> None:
    """Give each waiting item of ``batch`` its result, an exception being its failure."""
    for (_, future), result in zip(batch, results):
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
