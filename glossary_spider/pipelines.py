"""The pipeline that joins extraction to storage: items in, archive rows out."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from glossary_spider.items import FailureItem, GoneItem, NotModifiedItem, PageItem
from glossary_spider.storage import Archive

logger = logging.getLogger(__name__)


class ArchivePipeline:
    """Write every item to the archive named by the ``GLOSSARY_DB`` setting.

    Pages are buffered and written ``GLOSSARY_BATCH_SIZE`` at a time (or every
    ``GLOSSARY_BATCH_SECONDS``), each batch in one transaction.
    """

    def __init__(self, crawler: Crawler, path: str, batch_size: int, batch_seconds: float):
        self.crawler = crawler
        self.path = path
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.buffer: list[tuple[Any, Any]] = []
        self.last_flush = time.monotonic()
        self.archive: Archive | None = None
        self.run_id: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        settings = crawler.settings
        path = settings.get("GLOSSARY_DB")
        if not path:
            raise NotConfigured("ArchivePipeline needs the GLOSSARY_DB setting: the archive's path")
        pipeline = cls(crawler, path, settings.getint("GLOSSARY_BATCH_SIZE", 50),
                       settings.getfloat("GLOSSARY_BATCH_SECONDS", 2.0))
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_spider(self, spider: Spider | None = None) -> None:
        settings = self.crawler.settings
        self.archive = Archive(self.path)
        self.run_id = settings.getint("GLOSSARY_RUN_ID") or self.archive.start_run(
            settings.get("GLOSSARY_COMMAND", "crawl"), settings.getdict("GLOSSARY_ARGS"), os.getpid()
        )
        self.crawler.stats.set_value("glossary/run_id", self.run_id)

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        assert self.archive is not None and self.run_id is not None
        stats = self.crawler.stats
        if isinstance(item, PageItem):
            self.buffer.append((item.fetch, item.extraction))
            if len(self.buffer) >= self.batch_size or time.monotonic() - self.last_flush > self.batch_seconds:
                self.flush()
        elif isinstance(item, NotModifiedItem):
            self.archive.record_not_modified(self.run_id, item.fetch)
            stats.inc_value("glossary/pages_not_modified")
        elif isinstance(item, GoneItem):
            if self.archive.record_gone(self.run_id, item.fetch):
                stats.inc_value("glossary/pages_gone")
            else:
                status = item.fetch.http_status
                self.archive.record_failure(self.run_id, item.fetch.url, "fetch", status, f"HTTP {status}",
                                            fetch=item.fetch)
                stats.inc_value("glossary/pages_failed")
        elif isinstance(item, FailureItem):
            self.archive.record_failure(self.run_id, item.url, item.stage, item.http_status, item.error,
                                        item.detail, item.fetch)
            stats.inc_value("glossary/pages_failed")
        return item

    def flush(self) -> None:
        if self.buffer and self.archive is not None and self.run_id is not None:
            outcomes = self.archive.store_pages(self.run_id, self.buffer)
            for outcome in outcomes:
                self.crawler.stats.inc_value(f"glossary/pages_{outcome}")
            self.buffer = []
        self.last_flush = time.monotonic()

    def close_spider(self, spider: Spider | None = None) -> None:
        self.flush()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.archive is None or self.run_id is None:
            return
        self.flush()
        stats = dict(self.crawler.stats.get_stats())
        stats.setdefault("finish_reason", reason)
        self.archive.finish_run(self.run_id, reason, stats)
        self.archive.close()
        self.archive = None
