"""The pipeline that joins extraction to storage: items in, archive rows out."""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import sqlite3
import time
from functools import partial
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from glossary_spider.archiver import WriteFailed, write_batches, write_items
from glossary_spider.gate import QualityGate
from glossary_spider.items import LimitItem, PageItem
from glossary_spider.outcome import (ARCHIVE_ERROR, EMPTY_REASON, HELD_REASON, INTERRUPTED_REASON, explain, held_back,
                                     is_complete)
from glossary_spider.plan import RunPlan
from glossary_spider.signals import limit_reached, run_abandoned, stop_requested
from glossary_spider.storage import Archive
from glossary_spider.workers import BatchingPool, default_workers

logger = logging.getLogger(__name__)


class ArchivePipeline:
    """Write every item to the archive named by the ``GLOSSARY_DB`` setting.

    Items are buffered and written ``GLOSSARY_BATCH_SIZE`` at a time, or at least every
    ``GLOSSARY_BATCH_SECONDS`` by a timer (so a stalled crawl still writes what it has),
    each batch in one transaction together with the
    crawl frontier it advances, so an interrupted crawl resumes exactly where its
    archive stops (:mod:`glossary_spider.archiver`): in Scrapy's process, or in a writer
    process of their own (:meth:`writes_apart`). The archive and the run are the spider's
    :class:`~glossary_spider.plan.RunPlan`'s, opened under the archive's lock; a
    spider refused its run has none, and nothing is written.

    A batch that SQLite refuses to write (a full disk, most often), or that the writer
    process died with, is rolled back whole and stops the crawl, ending its run as
    ``archive_error`` so that ``--resume`` fetches that batch's pages again;
    ``glossary/archive_error`` in the stats says why.

    When the run is asked to stop, the buffer is written at once; if the stop is
    abandoned (:class:`glossary_spider.extensions.StopWatch`), the run is finished
    here as ``shutdown`` before the reactor goes.
    """

    def __init__(self, crawler: Crawler, path: str, batch_size: int, batch_seconds: float):
        self.crawler = crawler
        self.path = path
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.buffer: list[Any] = []
        self.last_flush = time.monotonic()
        self.plan: RunPlan | None = None
        self.archive: Archive | None = None
        self.run_id: int | None = None
        self.error: str | None = None
        self.earlier = (0, 0)
        self.timer: task.LoopingCall | None = None
        self.writer: BatchingPool | None = None  # the writer process, when the run has one (writes_apart)
        self.writing: list[asyncio.Future[list[str]]] = []  # batches handed to it, not yet written
        self.stopped_at: float | None = None  # when SIGTERM or SIGINT stopped the run (time.monotonic())
        self.closing_at: float | None = None  # when the spider's close began

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        settings = crawler.settings
        path = settings.get("GLOSSARY_DB")
        if not path:  # the spider has refused the run in one line, which a second line here would only repeat
            raise NotConfigured
        pipeline = cls(crawler, path, settings.getint("GLOSSARY_BATCH_SIZE", 50),
                       settings.getfloat("GLOSSARY_BATCH_SECONDS", 2.0))
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipeline.stop_requested, signal=stop_requested)
        crawler.signals.connect(pipeline.abandoned, signal=run_abandoned)
        crawler.signals.connect(pipeline.limit_reached, signal=limit_reached)
        crawler.signals.connect(pipeline.engine_stopped, signal=signals.engine_stopped)
        return pipeline

    def open_spider(self, spider: Spider | None = None) -> None:
        self.plan = getattr(self.crawler.spider, "plan", None)
        if self.plan is None:
            return
        self.archive, self.run_id = self.plan.archive, self.plan.run_id
        run = self.archive.run(self.run_id)  # a resumed run's earlier parts count too
        self.earlier = (run["requests"] or 0, run["bytes"] or 0)
        self.crawler.stats.set_value("glossary/run_id", self.run_id)
        self.timer = task.LoopingCall(self.tick)
        self.timer.start(max(self.batch_seconds / 2, 0.1), now=False)
        writes_apart = self.writes_apart()
        self.crawler.stats.set_value("glossary/archive_writer", writes_apart)
        if writes_apart:
            self.writer = BatchingPool(1, partial(write_batches, self.path, self.run_id), most=4, restarts=0,
                                       role="archive writer")

    def stop_requested(self) -> None:
        self.stopped_at = time.monotonic()
        self.flush()

    def tick(self) -> None:
        if self.buffer and time.monotonic() - self.last_flush >= self.batch_seconds:
            self.flush()

    def limit_reached(self, url: str, stage: str, error: str, detail: str | None = None) -> None:
        """A limit met outside the spider (a capped Crawl-delay): an error row, and a line in the summary."""
        self.buffer.append(LimitItem(url, stage, error, detail))

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        self.buffer.append(item)
        if len(self.buffer) >= self.batch_size or time.monotonic() - self.last_flush > self.batch_seconds:
            self.flush()
        return item

    def flush(self) -> None:
        """Write the buffered items, and the frontier they advance, in one transaction: here, or in the
        writer process (:meth:`writes_apart`)."""
        items, self.buffer = self.buffer, []
        self.last_flush = time.monotonic()
        if not items or self.archive is None or self.run_id is None or self.error:
            return
        for item in items:
            if isinstance(item, LimitItem):
                self._note_limit(item.error)
            elif isinstance(item, PageItem) and item.extraction.links_cut:  # its page cut row says the rest
                self._note_limit("page cut: " + item.extraction.links_cut)
        if self.writer is not None:
            task = asyncio.ensure_future(self.writer.run((items, self.traffic())))
            self.writing.append(task)
            task.add_done_callback(self._written)
            return
        try:
            outcomes = write_items(self.archive, self.run_id, items, self.traffic())
        except sqlite3.DatabaseError as exc:
            self.write_failed(WriteFailed.refused(self.path, exc))
            return
        except Exception as exc:  # else Scrapy logs it and drops the batch, and the run ends as if done
            self.write_failed(WriteFailed.broken(self.path, exc))
            return
        self._count(outcomes)
        self._check_room()

    def _check_room(self) -> None:
        """Stop the crawl as a full disk stops it (``archive_error``: what was written is kept, and ``--resume``
        continues) once the file system holding the archive has less than ``GLOSSARY_MIN_FREE_MIB`` free: a
        site of endless distinct pages, each with text of its own, passes the trap guard and would fill it."""
        least = self.crawler.settings.getfloat("GLOSSARY_MIN_FREE_MIB", 200)
        if least <= 0:
            return
        try:
            disk = os.statvfs(os.path.dirname(os.path.abspath(self.path)))
        except OSError:  # no such file system call here: SQLite's own refusal stops the crawl
            return
        free = disk.f_bavail * disk.f_frsize / 2**20
        if free < least:
            self.write_failed(WriteFailed(f"the disk holding the archive {self.path} has {free:,.0f} MiB free, less "
                                          f"than the {least:,.0f} a run leaves (GLOSSARY_MIN_FREE_MIB: free some "
                                          "space, or set it lower); what was written is kept"))

    def writes_apart(self) -> bool:
        """Whether a writer process of its own writes the run's batches, so that Scrapy's loop goes on
        fetching meanwhile: ``GLOSSARY_WRITER_PROCESS`` when set. Otherwise when the spider extracts its
        pages in worker processes too (:meth:`~glossary_spider.spiders.glossary.GlossarySpider.extract_workers`:
        a crawl fetching as fast as the site answers) and the machine has a core for the writer beside
        Scrapy's and an extraction worker's. A polite crawl's loop is idle most of the time; and on two
        cores, both busy, the writer's start-up and the handing of every batch cost more than it takes
        off the loop (0.6 CPU-seconds more and 2% slower in a crawl of 4,250 pages)."""
        setting = self.crawler.settings.get("GLOSSARY_WRITER_PROCESS")
        if setting is not None:
            return self.crawler.settings.getbool("GLOSSARY_WRITER_PROCESS")
        extract_workers = getattr(self.crawler.spider, "extract_workers", None)
        return default_workers() > 2 and extract_workers is not None and extract_workers() > 0

    def _written(self, task: asyncio.Future[list[str]]) -> None:
        self.writing.remove(task)
        if task.cancelled() or self.archive is None:  # taken back, to be written here; or the run is over
            return
        if (failure := task.exception()) is None:
            self._count(task.result())
            self._check_room()
        elif isinstance(failure, WriteFailed):
            self.write_failed(failure)
        else:  # the writer process died (killed, out of memory), or a bug broke its batch
            self.write_failed(WriteFailed.broken(self.path, failure, died=True))

    def _count(self, outcomes: list[str]) -> None:
        for outcome in outcomes:
            self.crawler.stats.inc_value(f"glossary/pages_{outcome}")

    def write_failed(self, failure: WriteFailed) -> None:
        """A batch was not written: the run ends as ``archive_error`` and stops (:meth:`archive_failed`);
        ``--resume`` fetches that batch's pages again."""
        if self.error:
            return
        self.archive_failed(failure)
        logger.info("%s; stopping the crawl", self.error)
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=ARCHIVE_ERROR))

    def archive_failed(self, failure: WriteFailed) -> None:
        """SQLite refused a write (a full disk, most often), found the file damaged, or the writer process
        died: the run ends as ``archive_error``; ``glossary/archive_error`` in the stats says why, and
        ``glossary/archive_damaged``, ``glossary/archive_locked`` and ``glossary/archive_writer_died`` which
        it was."""
        self.error = failure.message
        self.crawler.stats.set_value("glossary/archive_error", self.error)
        self.crawler.stats.set_value("glossary/archive_damaged", failure.damaged)
        self.crawler.stats.set_value("glossary/archive_locked", failure.locked)
        self.crawler.stats.set_value("glossary/archive_writer_died", failure.died)

    def traffic(self) -> dict[str, int]:
        """Requests sent and bytes received by the whole run, its earlier parts included."""
        stats = self.crawler.stats
        return {"requests": self.earlier[0] + stats.get_value("downloader/request_count", 0),
                "bytes": self.earlier[1] + stats.get_value("downloader/response_bytes", 0)}

    def note_cpu(self) -> None:
        """The run's CPU seconds in its stats: ``glossary/cpu_seconds`` of this process (start-up, the
        crawl, and its close, which archives the staged pages) and ``glossary/workers_cpu_seconds`` of
        the extraction workers, which the spider has let go of by now (Scrapy tells it first)."""
        stats = self.crawler.stats
        stats.set_value("glossary/cpu_seconds", round(time.process_time(), 3))
        workers = resource.getrusage(resource.RUSAGE_CHILDREN)
        stats.set_value("glossary/workers_cpu_seconds", round(workers.ru_utime + workers.ru_stime, 3))

    def _note_limit(self, error: str) -> None:
        stats = self.crawler.stats
        stats.inc_value("glossary/limits_hit")
        noted = stats.get_value("glossary/limits", [])
        if error not in noted and len(noted) < 10:
            stats.set_value("glossary/limits", [*noted, error])

    def pass_gate(self, archive: Archive, run_id: int, reason: str) -> str:
        """Put the run's staged pages through the quality gate: archive them, or hold them all.

        Returns the run's finish reason: ``reason``, or ``held`` for a run that did all its work.
        A run stopped early (a budget, Ctrl-C) whose pages are held stays resumable: resumed, it asks
        about those pages again (:meth:`~glossary_spider.storage.staging.Staging.ask_again`), and the
        gate judges it when it closes.
        """
        settings = self.crawler.settings
        if not settings.getbool("GLOSSARY_GATE", True):
            archive.apply_staged(run_id)
            return reason
        # The archived pages the site's sitemaps still list (a refresh's spider knows): None for none.
        listed = getattr(self.crawler.spider, "listed", None) or None
        report = QualityGate.from_settings(settings).judge(archive, run_id, listed)
        if report.held:
            for check in report.checks:
                if check.tripped:
                    logger.info("Quality gate: %s; the run's versions are held", check.summary)
            return HELD_REASON if is_complete(reason) else reason
        return reason

    def pass_gate_in_time(self, archive: Archive, run_id: int, reason: str) -> str:
        """:meth:`pass_gate`, but for a run stopped by SIGTERM or SIGINT, only within
        ``GLOSSARY_STOP_ARCHIVE_WITHIN`` seconds of the stop: a long run's close (40,000 pages staged, half a
        minute) would hold up a stop that a service manager kills after its own time-out. Past it, SQLite stops
        the statement it runs (its progress handler, asked every few thousand steps) and what the close wrote is
        rolled back: the staged pages stay, for ``--resume`` to judge and archive."""
        # A stop whose close began at once (Scrapy's graceful stop, before the stop watch looked) counts from there.
        stopped = self.stopped_at or (self.closing_at if reason == INTERRUPTED_REASON else None)
        if stopped is None:
            return self.pass_gate(archive, run_id, reason)
        deadline = stopped + self.crawler.settings.getfloat("GLOSSARY_STOP_ARCHIVE_WITHIN", 8.0)
        conn = archive.db.conn
        conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        try:
            if time.monotonic() < deadline:
                return self.pass_gate(archive, run_id, reason)
        except sqlite3.OperationalError as exc:
            if "interrupted" not in str(exc):
                raise
        finally:
            conn.set_progress_handler(None, 0)
        left = archive.db.execute("SELECT count(*) FROM staged WHERE run_id = ?", [run_id]).fetchone()[0]
        self.crawler.stats.set_value("glossary/left_staged", left)
        logger.info("The stop left %d staged pages for --resume to judge and archive", left)
        return reason

    async def close_spider(self, spider: Spider | None = None) -> None:
        """Write what is buffered, and wait for the writer process to have written every batch."""
        self.closing_at = time.monotonic()
        self.flush()
        if self.writer is not None:
            await asyncio.gather(*self.writing, return_exceptions=True)
            self._stop_writer()

    def _stop_writer(self) -> None:
        """Let the writer process go once it has written what it has in hand (so that its CPU time counts
        as this process's); what it was not handed yet is written here."""
        if self.writer is None:
            return
        unsent = self.writer.withdraw()
        self.writer.shutdown()
        self.writer = None
        self.buffer[:0] = [item for items, _ in unsent for item in items]

    def abandoned(self, reason: str) -> None:
        self.spider_closed(self.crawler.spider, reason)

    def engine_stopped(self) -> None:
        """Scrapy stops its reactor once the engine has stopped, without waiting for a close in progress
        (a stop that came while the spider was closing, its pipeline waiting for the writer): the run,
        not finished yet, is finished here as stopped, for ``--resume`` to finish."""
        if self.archive is not None:
            self.abandoned(INTERRUPTED_REASON)

    def spider_closed(self, spider: Spider | None, reason: str) -> None:
        if self.timer is not None and self.timer.running:
            self.timer.stop()
        if self.plan is None or self.archive is None:
            return
        self._stop_writer()  # still there when the stop was abandoned
        self.buffer += getattr(spider, "unreported", list)()  # traps cut as the crawl went idle, redirects dropped
        self.flush()
        if not self.error:  # else the run ends as archive_error, to be resumed
            try:
                reason = self.pass_gate_in_time(self.archive, self.run_id, reason)
            except sqlite3.DatabaseError as exc:
                self.archive_failed(WriteFailed.refused(self.path, exc))
        self.note_cpu()
        stats = dict(self.crawler.stats.get_stats())
        stats.setdefault("finish_reason", reason)
        run = self.plan.finish(ARCHIVE_ERROR if self.error else reason, stats, self.traffic())
        if self.plan.scheduled and run is not None and not is_complete(run["finish_reason"]):
            mode = " -a mode=refresh" if self.plan.command == "refresh" else ""
            logger.warning("%s #%s stopped before its end (%s): a job with -a resume=1%s and the same GLOSSARY_DB "
                           "setting continues it", self.plan.command, run["id"], run["finish_reason"] or "killed",
                           mode)
        elif self.plan.scheduled and run is not None and run["finish_reason"] == EMPTY_REASON:
            logger.warning("%s #%s ended %s: %s", self.plan.command, run["id"], EMPTY_REASON, explain(EMPTY_REASON))
        elif self.plan.scheduled and run is not None and run["finish_reason"] == HELD_REASON:
            logger.warning("%s #%s was held by the quality gate: %s; look with 'glossary held --run %s --db %s', "
                           "then accept or discard it ('glossary held --accept %s --db %s' or '--discard %s')",
                           self.plan.command, run["id"], held_back(run), run["id"], self.path, run["id"], self.path,
                           run["id"])
        self.archive = None
