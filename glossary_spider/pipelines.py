"""The pipeline that joins extraction to storage: items in, archive rows out."""

from __future__ import annotations

import logging
import resource
import sqlite3
import time
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from glossary_spider.gate import QualityGate
from glossary_spider.items import FailureItem, GoneItem, LimitItem, MovedItem, NotModifiedItem, PageItem, VisitItem
from glossary_spider.outcome import ARCHIVE_ERROR, HELD_REASON, is_complete
from glossary_spider.plan import RunPlan
from glossary_spider.signals import limit_reached, run_abandoned, stop_requested
from glossary_spider.storage import Archive, cannot_write, is_damaged

logger = logging.getLogger(__name__)


class ArchivePipeline:
    """Write every item to the archive named by the ``GLOSSARY_DB`` setting.

    Items are buffered and written ``GLOSSARY_BATCH_SIZE`` at a time, or at least every
    ``GLOSSARY_BATCH_SECONDS`` by a timer (so a stalled crawl still writes what it has),
    each batch in one transaction together with the
    crawl frontier it advances, so an interrupted crawl resumes exactly where its
    archive stops. The archive and the run are the spider's
    :class:`~glossary_spider.plan.RunPlan`'s, opened under the archive's lock; a
    spider refused its run has none, and nothing is written.

    A batch that SQLite refuses to write (a full disk, most often) is rolled back
    whole and stops the crawl, ending its run as ``archive_error`` so that ``--resume``
    fetches that batch's pages again; ``glossary/archive_error`` in the stats says why.

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

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        settings = crawler.settings
        path = settings.get("GLOSSARY_DB")
        if not path:
            raise NotConfigured("ArchivePipeline needs the GLOSSARY_DB setting: the archive's path")
        pipeline = cls(crawler, path, settings.getint("GLOSSARY_BATCH_SIZE", 50),
                       settings.getfloat("GLOSSARY_BATCH_SECONDS", 2.0))
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipeline.flush, signal=stop_requested)
        crawler.signals.connect(pipeline.abandoned, signal=run_abandoned)
        crawler.signals.connect(pipeline.limit_reached, signal=limit_reached)
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
        """Write the buffered items, and the frontier they advance, in one transaction."""
        archive, run_id, stats = self.archive, self.run_id, self.crawler.stats
        if not self.buffer or archive is None or run_id is None or self.error:
            self.buffer = []
            self.last_flush = time.monotonic()
            return
        try:
            outcomes = self._write_batch(archive, run_id)
        except sqlite3.DatabaseError as exc:
            self.archive_failed(exc)
            logger.info("%s; stopping the crawl", self.error)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=ARCHIVE_ERROR))
            outcomes = []
        for outcome in outcomes:
            stats.inc_value(f"glossary/pages_{outcome}")
        self.buffer = []
        self.last_flush = time.monotonic()

    def archive_failed(self, exc: sqlite3.DatabaseError) -> None:
        """SQLite refused a write (a full disk, most often), or found the file damaged: the run ends as
        ``archive_error``; ``glossary/archive_error`` in the stats says why, and ``glossary/archive_damaged``
        which it was."""
        self.error = cannot_write(self.path, exc)
        self.crawler.stats.set_value("glossary/archive_error", self.error)
        self.crawler.stats.set_value("glossary/archive_damaged", is_damaged(exc))

    def _write_batch(self, archive: Archive, run_id: int) -> list[str]:
        pages = [item for item in self.buffer if isinstance(item, PageItem)]
        done, pending = [], []
        with archive.db.atomic():
            outcomes = archive.stage_pages(run_id, [(p.fetch, p.extraction) for p in pages],
                                           [p.prepared for p in pages])
            for item in self.buffer:
                if isinstance(item, (PageItem, VisitItem)):
                    done += [item.url if isinstance(item, VisitItem) else item.fetch.url, *item.aliases]
                    pending += item.discovered
                elif isinstance(item, LimitItem):
                    archive.record_error(run_id, item.url, item.stage, None, item.error, item.detail)
                    self._note_limit(item.error)
                elif isinstance(item, MovedItem):  # the URL's frontier entry is its page's, or its own fetch's
                    if outcome := archive.record_gone(run_id, item.fetch):
                        outcomes.append(outcome)
                else:
                    outcomes.append(self.write(item))
                    if not (isinstance(item, FailureItem) and item.unanswered):
                        done.append(item.url if isinstance(item, FailureItem) else item.fetch.url)
                    if isinstance(item, FailureItem):
                        done += item.settles
            archive.mark_frontier(run_id, done=done, pending=pending)
            archive.record_traffic(run_id, self.traffic())
        return outcomes

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

    def write(self, item: Any) -> str:
        """Write one item that is not a page; returns its outcome for the stats."""
        archive, run_id = self.archive, self.run_id
        assert archive is not None and run_id is not None
        if isinstance(item, NotModifiedItem):
            archive.record_not_modified(run_id, item.fetch)
            return "not_modified"
        if isinstance(item, GoneItem) and (outcome := archive.record_gone(run_id, item.fetch)):
            return outcome
        if isinstance(item, GoneItem):
            status = item.fetch.http_status
            archive.record_failure(run_id, item.fetch.url, "fetch", status, f"HTTP {status}", fetch=item.fetch)
            return "failed"
        archive.record_failure(run_id, item.url, item.stage, item.http_status, item.error, item.detail, item.fetch)
        return "failed"

    def pass_gate(self, archive: Archive, run_id: int, reason: str) -> str:
        """Put the run's staged pages through the quality gate: archive them, or hold them all.

        Returns the run's finish reason: ``reason``, or ``held`` for a run that did all its work.
        A run stopped early (a budget, Ctrl-C) whose pages are held stays resumable: the gate
        judges its staged pages again, with the rest, when the resumed run closes.
        """
        settings = self.crawler.settings
        if not settings.getbool("GLOSSARY_GATE", True):
            archive.apply_staged(run_id)
            return reason
        # The archived pages the site's sitemaps still list (a refresh's spider knows): None for none.
        listed = getattr(self.crawler.spider, "listed", None) or None
        report = QualityGate.from_settings(settings).evaluate(archive, run_id, listed)
        if report.held:
            archive.hold_staged(run_id, report.as_dict())
            for check in report.checks:
                if check.tripped:
                    logger.info("Quality gate: %s; the run's versions are held", check.summary)
            return HELD_REASON if is_complete(reason) else reason
        with archive.db.atomic():
            archive.archive_staged(run_id, report.soft_404, report.blank)
            if report.checks:
                archive.save_gate_report(run_id, report.as_dict(), held=False)
        return reason

    def close_spider(self, spider: Spider | None = None) -> None:
        self.flush()

    def abandoned(self, reason: str) -> None:
        self.spider_closed(self.crawler.spider, reason)

    def spider_closed(self, spider: Spider | None, reason: str) -> None:
        if self.timer is not None and self.timer.running:
            self.timer.stop()
        if self.plan is None or self.archive is None:
            return
        self.buffer += getattr(spider, "unreported", list)()  # traps cut as the crawl went idle, redirects dropped
        self.flush()
        if not self.error:  # else the run ends as archive_error, to be resumed
            try:
                reason = self.pass_gate(self.archive, self.run_id, reason)
            except sqlite3.DatabaseError as exc:
                self.archive_failed(exc)
        self.note_cpu()
        stats = dict(self.crawler.stats.get_stats())
        stats.setdefault("finish_reason", reason)
        self.plan.finish(ARCHIVE_ERROR if self.error else reason, stats, self.traffic())
        self.archive = None
