"""Extensions: a live progress line, a quiet log, stopping on time, and the garbage collector's pace."""

from __future__ import annotations

import gc
import logging
import signal
import time
from collections.abc import Callable
from typing import IO, Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from glossary_spider import startup
from glossary_spider.outcome import INTERRUPTED_REASON
from glossary_spider.signals import run_abandoned, stop_requested
from glossary_spider.terminal import ProgressLine, safe_text
from glossary_spider.workers import let_stops_in

logger = logging.getLogger(__name__)


class CollectorPace:
    """Python's cyclic garbage collector, paced for a crawl while its engine runs.

    Scrapy makes and drops several hundred containers for each request (requests, responses,
    deferreds, dicts of headers and meta), so at Python's default pace (a young collection every
    700 of them) the collector ran 1,800 times in a crawl of 4,250 pages, and its full collections
    walked every object of the process (Scrapy, Twisted, lxml and the run's plan) each time: 1.7 s,
    an eighth of the crawl's process. While the engine runs, what the process held at its start is
    frozen out of the collector's walks (``gc.freeze``, as prefork servers do), and the young
    generation is collected every ``GLOSSARY_GC_THRESHOLD[0]`` containers (older ones as Python's
    own ``gc.set_threshold`` says): 0.3 s. Both are undone when the engine stops. Empty setting: off.
    """

    def __init__(self, threshold: tuple[int, ...]):
        self.threshold = threshold
        self.saved = gc.get_threshold()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CollectorPace:
        threshold = tuple(int(n) for n in crawler.settings.getlist("GLOSSARY_GC_THRESHOLD"))
        if not threshold:
            raise NotConfigured
        extension = cls(threshold)
        crawler.signals.connect(extension.engine_started, signal=signals.engine_started)
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def engine_started(self) -> None:
        self.saved = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(*self.threshold)

    def engine_stopped(self) -> None:
        gc.set_threshold(*self.saved)
        gc.unfreeze()


class Progress:
    """Shows pages (of how many, in a refresh), rate, errors and requests every second on standard error,
    as a :class:`~glossary_spider.terminal.ProgressLine`: rewritten in place on a terminal, a line every
    30 seconds in a log.

    Enabled by the ``GLOSSARY_PROGRESS`` setting (``glossary crawl --progress``).
    """

    def __init__(self, crawler: Crawler, out: IO[str] | None = None, interval: float = 1.0):
        self.crawler = crawler
        self.progress = ProgressLine(out)
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
        failed = stats.get_value("glossary/pages_failed", 0)
        return (
            f"{pages}{f' of {known} known' if known else ''} pages · {pages / elapsed:.1f}/s · "
            f"{failed} error{'' if failed == 1 else 's'} · "
            f"{stats.get_value('downloader/request_count', 0)} requests · {elapsed:.0f}s"
        )

    def show(self) -> None:
        self.progress.show(self.line())

    def spider_closed(self, spider: Spider) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        self.progress.done(self.line())


class OwnLines(logging.Formatter):
    """A log record of the project's as one of the command's own lines: its message alone, as the command's
    other lines are written (no time, logger name or level, no traceback), on one line."""

    def format(self, record: logging.LogRecord) -> str:
        return safe_text(record.getMessage(), one_line=True)


class OwnLogOnly:
    """Lets only glossary_spider's own log records reach Scrapy's log handler, each as a line of the
    command's own (:class:`OwnLines`).

    Disabled by the ``GLOSSARY_SCRAPY_LOG`` setting (on by default; ``glossary crawl``
    turns it off unless given ``-v``): what failed is recorded in the archive and
    summed up by the command, and Scrapy's lines and tracebacks would bury that.
    """

    def __init__(self) -> None:
        self.filter = logging.Filter("glossary_spider")
        self.formatter = OwnLines()

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
            handler.setFormatter(self.formatter)


class Budgets:
    """Scrapy's CloseSpider conditions, in its place: responses (``CLOSESPIDER_PAGECOUNT``,
    ``--max-requests``: every one downloaded, a redirect's or a retried one's too, which Scrapy's, counting
    those that reach the spider, let a site that redirects or refuses everything take without end), seconds
    (``CLOSESPIDER_TIMEOUT``, ``--max-duration``), items (``CLOSESPIDER_ITEMCOUNT``) and errors
    (``CLOSESPIDER_ERRORCOUNT``). The run closes with Scrapy's
    reasons, and sends :data:`stop_requested` first, so that the requests waiting for their turn at a
    host (a delay, a Crawl-delay, a Retry-After) are dropped for ``--resume`` rather than sent, one a
    delay, long after the budget was spent.
    """

    # setting: (what it counts, the run's finish reason)
    COUNTS = {"CLOSESPIDER_PAGECOUNT": (signals.response_downloaded, "closespider_pagecount"),
              "CLOSESPIDER_ITEMCOUNT": (signals.item_scraped, "closespider_itemcount"),
              "CLOSESPIDER_ERRORCOUNT": (signals.spider_error, "closespider_errorcount")}

    def __init__(self, crawler: Crawler, seconds: float):
        self.crawler = crawler
        self.seconds = seconds
        self.timer: Any = None
        self.spent = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Budgets:
        extension = cls(crawler, crawler.settings.getfloat("CLOSESPIDER_TIMEOUT"))
        for name, (counted, reason) in cls.COUNTS.items():
            if (most := crawler.settings.getint(name)) > 0:
                crawler.signals.connect(extension.counter(most, reason), signal=counted, weak=False)
        if extension.seconds:
            crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def counter(self, most: int, reason: str) -> Callable[..., None]:
        """A receiver that spends the budget at the ``most``-th signal it receives."""
        count = 0

        def counted(**_: Any) -> None:
            nonlocal count
            count += 1
            if count >= most:
                self.spend(reason)

        return counted

    def spider_opened(self, spider: Spider) -> None:
        from twisted.internet import reactor

        self.timer = reactor.callLater(self.seconds, self.spend, "closespider_timeout")

    def spend(self, reason: str) -> None:
        if self.spent:
            return
        self.spent = True
        self.crawler.signals.send_catch_log(signal=stop_requested)
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=reason))

    def spider_closed(self, spider: Spider) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()


def let_stops_in_when_running(**_: Any) -> None:
    """Let Ctrl-C and SIGTERM, held while a crawl starts up (:func:`~glossary_spider.workers.hold_stops`, from
    before its run is opened), arrive once the reactor runs: in its first turn, after its start-up triggers,
    Scrapy's installing its handlers among them. Call it once the reactor is installed (the engine's start).
    One that came meanwhile killed the crawl at once (SIGTERM: exit 143, not a word) or broke its start-up
    with a traceback (Ctrl-C), leaving the run it had opened as if killed; held, it stops the run as any
    stop does."""
    from twisted.internet import reactor

    reactor.callWhenRunning(reactor.callLater, 0, _hang_up_as_terminate_then_let_stops_in)


def _hang_up_as_terminate_then_let_stops_in() -> None:
    """SIGHUP (the terminal gone) stops the crawl as SIGTERM does, by the handler Scrapy gave SIGTERM (it takes
    SIGINT and SIGTERM over, not SIGHUP, which killed the crawl: exit 129, not a word, the lock left behind);
    unless it is ignored (``nohup``). A stop ignored when the command started stays ignored: Scrapy takes Ctrl-C
    over even where a shell ignored it (a crawl started with ``&`` in a script, which the script's own Ctrl-C then
    stopped). Then the stops held meanwhile arrive."""
    terminate = signal.getsignal(signal.SIGTERM)  # Scrapy's
    for signum in startup.ignored():
        signal.signal(signum, signal.SIG_IGN)
    if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:
        signal.signal(signal.SIGHUP, terminate)
    let_stops_in()


class StopWatch:
    """Makes SIGTERM and SIGINT stop a crawl within ``GLOSSARY_STOP_GRACE`` seconds, whatever it waits on.

    Scrapy's own first signal stops the engine gracefully, which waits for every
    request in progress: a Crawl-delay, a Retry-After or a slow download can make
    that last minutes. This extension sees the engine stop (it polls
    ``engine.running``), sends :data:`stop_requested` so that the middlewares end
    their waits and the pipeline writes what it holds, and if the spider has not
    closed within the grace, sends :data:`run_abandoned` (the pipeline finishes
    the run as ``shutdown``) and stops the reactor, as a second signal would.
    What was in flight is fetched again by ``--resume``.

    A second signal stops the reactor at once (Scrapy's forced shutdown), without waiting for the close in
    progress: the reactor's shutdown, seen before the spider has closed, abandons the run as the grace's end
    does (else it is left unfinished, as if killed).
    """

    def __init__(self, crawler: Crawler, grace: float, poll: float = 0.25):
        self.crawler = crawler
        self.grace = grace
        self.poll = poll
        self.loop: task.LoopingCall | None = None
        self.deadline: Any = None
        self.shutdown: Any = None  # the reactor's trigger, while the spider is open
        self.started = False
        self.closed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StopWatch:
        extension = cls(crawler, crawler.settings.getfloat("GLOSSARY_STOP_GRACE", 5.0))
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        # The pipeline finishes a run whose engine stopped before its close ended (ArchivePipeline.engine_stopped).
        crawler.signals.connect(extension.spider_closed, signal=signals.engine_stopped)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        from twisted.internet import reactor

        self.loop = task.LoopingCall(self.check)
        self.loop.start(self.poll, now=False)
        self.shutdown = reactor.addSystemEventTrigger("before", "shutdown", self.forced)

    def check(self) -> None:
        engine = self.crawler.engine
        if engine is not None and engine.running:
            # The spider opens before the engine runs: only a running engine that stopped is a stop.
            self.started = True
            return
        if engine is None or not self.started or self.closed:
            return
        self.loop.stop()
        logger.info("Stopping: ending every wait; the run is finished in at most %.0f s", self.grace)
        self.crawler.signals.send_catch_log(signal=stop_requested)
        from twisted.internet import reactor

        self.deadline = reactor.callLater(self.grace, self.abandon)

    def abandon(self) -> None:
        if self.closed:
            return
        logger.warning("The stop did not finish within %.0f s: abandoning the requests in flight", self.grace)
        self._abandon()
        from twisted.internet import reactor

        if reactor.running:
            reactor.stop()

    def forced(self) -> None:
        """The reactor is stopping with the spider still open: a second SIGINT or SIGTERM (or a stop after the
        grace, which has abandoned the run already)."""
        if self.closed:
            return
        logger.warning("Stopped a second time: abandoning the requests in flight")
        self._abandon()

    def _abandon(self) -> None:
        self.closed = True
        self.crawler.signals.send_catch_log(signal=run_abandoned, reason=INTERRUPTED_REASON)

    def spider_closed(self, spider: Spider | None = None) -> None:
        self.closed = True
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        if self.deadline is not None and self.deadline.active():
            self.deadline.cancel()
        if self.shutdown is not None:
            from twisted.internet import reactor

            reactor.removeSystemEventTrigger(self.shutdown)
            self.shutdown = None
