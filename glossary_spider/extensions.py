"""Extensions for the command line: a live progress line, and a quiet log."""

from __future__ import annotations

import logging
import sys
import time
from typing import IO

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task


class Progress:
    """Rewrites one line on standard error every second: pages (of how many, in a refresh), rate,
    errors, requests.

    Enabled by the ``GLOSSARY_PROGRESS`` setting (``glossary crawl --progress``).
    """

    def __init__(self, crawler: Crawler, out: IO[str] = sys.stderr, interval: float = 1.0):
        self.crawler = crawler
        self.out = out
        self.interval = interval
        self.started = time.monotonic()
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        if not crawler.settings.getbool("GLOSSARY_PROGRESS"):
            raise NotConfigured
        extension = cls(crawler)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        self.started = time.monotonic()
        self.loop = task.LoopingCall(self.show)
        self.loop.start(self.interval, now=False)

    def line(self) -> str:
        stats = self.crawler.stats
        pages = sum(stats.get_value(f"glossary/pages_{k}", 0) for k in ("new", "changed", "unchanged"))
        pages += stats.get_value("glossary/pages_not_modified", 0)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        # A refresh knows how many pages it has to go through: the archive's.
        known = len(getattr(self.crawler.spider, "known", None) or ())
        return (
            f"{pages}{f' of {known} known' if known else ''} pages · {pages / elapsed:.1f}/s · "
            f"{stats.get_value('glossary/pages_failed', 0)} errors · "
            f"{stats.get_value('downloader/request_count', 0)} requests · {elapsed:.0f}s"
        )

    def show(self) -> None:
        self.out.write("\r\033[K" + self.line())
        self.out.flush()

    def spider_closed(self, spider: Spider) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        self.show()
        self.out.write("\n")
        self.out.flush()


class OwnLogOnly:
    """Lets only glossary_spider's own log records reach Scrapy's log handler.

    Disabled by the ``GLOSSARY_SCRAPY_LOG`` setting (on by default; ``glossary crawl``
    turns it off unless given ``-v``): what failed is recorded in the archive and
    summed up by the command, and Scrapy's lines and tracebacks would bury that.
    """

    def __init__(self) -> None:
        self.filter = logging.Filter("glossary_spider")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OwnLogOnly:
        if crawler.settings.getbool("GLOSSARY_SCRAPY_LOG", True):
            raise NotConfigured
        extension = cls()
        # Scrapy installs its root handler anew as the crawl starts, after extensions are made.
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        for handler in logging.root.handlers:
            handler.addFilter(self.filter)
