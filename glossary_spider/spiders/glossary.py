"""The ``glossary`` spider: routes requests and hands responses on.

Discovery comes from sitemaps and from following links on the allowed hosts.
What a page holds is computed by :func:`glossary_spider.extraction.extract_page`;
what is kept is the pipeline's business.

What a run has to do comes from its :class:`~glossary_spider.plan.RunPlan`.
In refresh mode the plan holds the archive's known pages: the spider reads the
sitemaps first, skips pages whose ``lastmod`` is older than their last fetch,
and re-requests the others conditionally (``If-None-Match`` /
``If-Modified-Since``). A resumed run is given what its earlier part fetched and
found, and fetches none of the former again.

Whatever a response does wrong ends as one :class:`FailureItem` naming it; which
discovered links are followed is :class:`glossary_spider.traps.TrapGuard`'s call,
and each link trap it cuts is one ``trap`` failure.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import logging
import os
import sys
import zipfile
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime, timedelta
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.core.engine import ExecutionEngine
from scrapy.crawler import Crawler
from scrapy.dupefilters import RFPDupeFilter
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings, Settings
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from glossary_spider.extensions import let_stops_in_when_running
from glossary_spider.extraction import Extraction, extract_page
from glossary_spider.extraction.page import looks_binary
from glossary_spider.extraction.structured import parse_time
from glossary_spider.failures import (RedirectsEndless, answered_status, describe, explain, past_limit_once_decoded,
                                      past_size_limit, unusable_answer)
from glossary_spider.items import FailureItem, GoneItem, LimitItem, MovedItem, NotModifiedItem, PageItem, VisitItem
from glossary_spider.middlewares import CONDITIONAL, Interrupted, OutsideAllowedHosts, Refused, RobotsUnavailable
from glossary_spider.outcome import BAD_ARGUMENT, MAX_PAGES_REASON, no_answer
from glossary_spider.params import OPTION_SETTINGS, RunArgs, settings_not_numbers
from glossary_spider.plan import REFUSALS, RunPlan, open_run, refused_reason
from glossary_spider.queues import PrivateQueues
from glossary_spider.signals import limit_reached as limit_signal
from glossary_spider.signals import run_abandoned, stop_requested
from glossary_spider.sitemaps import read_sitemap
from glossary_spider.sketches import PageReading, read_page
from glossary_spider.storage import Fetch
from glossary_spider.storage.staging import Prepared
from glossary_spider.traps import Trap, TrapGuard, Verdict
from glossary_spider.urls import (GLOSSARY_TYPES, MAX_URL, host_of, is_file, is_followable, normalize_url,
                                  server_of)
from glossary_spider.validators import LASTMOD_SLACK, age_of, conditional_headers, contradicts, lags, lastmod_of
from glossary_spider.workers import (BatchingPool, ExtractionFailed, WorkersGone, default_workers, extract_for_staging,
                                     hold_stops)

logger = logging.getLogger(__name__)

# Why a page fetched at a variant of its URL led to its canonical URL, as Scrapy names a redirect's reason.
CANONICAL_REASON = "canonical"
# The meta key of a page asked for again because the canonical URL it named is no page.
CANONICAL_REFUSED = "glossary_canonical_refused"

HTML_TYPES = ("text/html", "application/xhtml+xml")
PAGE_META = {"handle_httpstatus_list": [304, 404, 410]}
# Answers that stand for part of a page, each to a request that asked for one with this header: 206 Partial
# Content (RFC 9110, 15.3.7) and 226 IM Used, a delta (RFC 3229). The crawl asks for neither.
UNASKED_PARTS = {206: b"Range", 226: b"A-IM"}
SITEMAP_WAIT_SECONDS = 600
# start() and hand_listed() hand requests to the engine while Scrapy's scheduler holds fewer than QUEUED_AHEAD (the
# downloader's next ones; a retry waits behind them, as behind any request), HANDED_AT_ONCE at most between two
# turns of Scrapy's loop (a third of a second); a sitemap's callback makes the requests for its first
# HANDED_AT_ONCE pages itself (Yoast's sitemaps list 1,000, WordPress's 2,000).
QUEUED_AHEAD = 2000
HANDED_AT_ONCE = 1000



class GlossarySpider(Spider):
    """Crawl the glossary, as a :class:`~glossary_spider.plan.RunPlan` says.

    Arguments (``-a name=value``, so also Scrapyd's ``schedule.json`` parameters):
    ``start_urls`` and ``sitemap_urls`` (comma-separated), ``urls_file``, ``follow``
    (1 or 0), ``max_pages``, ``mode`` (``crawl`` or ``refresh``), ``resume`` (1 or 0),
    ``max_age`` (days, for a refresh), and the options ``concurrency``, ``delay``,
    ``ignore_robots``, ``timeout``, ``trap_budget``, ``max_requests``, ``max_duration``, ``gate``,
    ``max_delay``, ``give_up_after`` and ``workers`` (:data:`glossary_spider.params.ARGUMENTS`); the archive is
    the ``GLOSSARY_DB`` setting. A run that cannot start (a bad argument, nothing to resume, the archive
    locked) logs one line, is recorded as refused, and closes before any request.
    """

    name = "glossary"

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> GlossarySpider:
        plan = kwargs.pop("plan", None)
        if plan is None and (cls.start is not _CRAWLS or crawler.settings.frozen):
            # scrapy fetch and parse put a start of their own in the spider's; scrapy shell makes it once the
            # settings are frozen: a run of the archive opened for them recorded a crawl of the live site.
            logger.error("scrapy fetch, parse and shell drive the spider with requests of their own, and the glossary "
                         "spider only crawls into its archive: run them without --spider glossary")
            return super().from_crawler(crawler, refused=BAD_ARGUMENT)
        hold_stops()  # from before the run is opened (glossary crawl holds them earlier) until the engine starts
        crawler.signals.connect(let_stops_in_when_running, signal=signals.engine_started)
        if plan is None:  # scrapy crawl / Scrapyd: the plan comes from -a arguments and -s settings
            job_id = kwargs.pop("_job", None) or os.environ.get("SCRAPY_JOB")
            if egg := shadowed_egg():
                logger.warning("This job runs glossary_spider from %s, not the egg deployed to Scrapyd (%s), which "
                               "the copy installed in Scrapyd's environment comes before: a deploy changes nothing "
                               "the jobs run. Upgrade that copy instead, or uninstall it there (pip uninstall "
                               "glossary_spider) so that each deploy is what runs", Path(__file__).parents[1], egg)
            settings = given_options(crawler.settings)
            arguments = {**settings, **{k: v for k, v in kwargs.items() if k[:1] != "_"}}
            # A bad value given as a setting is named as the setting it was given as.
            spelled = {option: OPTION_SETTINGS[option] for option in settings if option not in kwargs}
            db = crawler.settings.get("GLOSSARY_DB")
            if crawler.settings.getpriority("GLOSSARY_DB") <= SETTINGS_PRIORITIES["project"]:
                # No GLOSSARY_DB given: the project's data/glossary.db, in the working directory (Scrapyd's), which
                # gets its directory as glossary crawl's default does.
                with contextlib.suppress(OSError):  # one that cannot be made is named as missing
                    Path(db).parent.mkdir(exist_ok=True)
            try:
                plan = open_run(db, arguments, job_id=job_id, spelled=spelled, settings=crawler.settings)
            except REFUSALS as exc:
                logger.error("%s", exc)
                defaults_for_options(crawler.settings)
                return super().from_crawler(crawler, refused=refused_reason(exc))
            plan.scheduled = True
            if plan.earlier_extractions:
                logger.warning("%s archived pages were read by an earlier extractor: a reparse reads them anew; "
                               "pages this %s fetches are read anew, and a change of their words recorded as the "
                               "site's", plan.earlier_extractions, plan.command)
            if plan.restaged:
                logger.info("%s #%s had staged %s pages as an earlier extractor read them: extracted anew from their "
                            "captures", plan.command, plan.run_id, plan.restaged)
            if stopped := plan.superseded:
                logger.warning("%s #%s stopped before it was done (%s); this starts a new %s: "
                               "-a resume=1 would have continued it", plan.command, stopped["id"],
                               stopped["finish_reason"] or "killed", plan.command)
            if crawl := plan.unfinished_crawl:
                logger.warning("crawl #%s stopped before it was done (%s); this refresh asks about the pages archived "
                               "and the sitemaps' only: a job with resume=1 carries the crawl on", crawl["id"],
                               crawl["finish_reason"] or "killed")
        if plan.archive is not None:  # a job's log says which archive it wrote, GLOSSARY_DB unset or relative
            logger.info("%s #%s of %s%s", plan.command.capitalize(), plan.run_id, os.path.abspath(plan.archive.path),
                        ", resumed" if plan.args.resume else "")
        # The stopped run's own options when resuming; settings are frozen only after this.
        crawler.settings.setdict(plan.settings(), priority="cmdline")
        if not crawler.settings.get("JOBDIR"):  # scrapy crawl, Scrapyd: the queues a glossary command makes
            queues = PrivateQueues()
            crawler.settings.set("JOBDIR", queues.path, priority="cmdline")
            # Removed as the process ends: Scrapy's scheduler and SpiderState write there until the very end
            # of a close, which a stop during it lets run on past the engine's stop.
            atexit.register(queues.remove)
        spider = super().from_crawler(crawler, plan=plan)
        spider.guard = TrapGuard.from_settings(crawler.settings)
        if plan.done and plan.archive is not None and plan.run_id is not None:  # a resumed run
            spider.guard.credit(plan.archive.fetched_words(plan.run_id))
            traps = (Trap.recorded(*failure) for failure in plan.archive.traps(plan.run_id))
            spider.guard.carry_on(trap for trap in traps if trap is not None)
        crawler.signals.connect(spider.idle, signal=signals.spider_idle)
        crawler.signals.connect(spider.dropped, signal=signals.request_dropped)
        # Scrapy stops its reactor without waiting for the spider to close when a stop comes during the close,
        # and StopWatch stops it when a stop takes too long: the workers go then too.
        crawler.signals.connect(spider.let_workers_go, signal=signals.engine_stopped)
        crawler.signals.connect(spider.let_workers_go, signal=run_abandoned)
        return spider

    def __init__(self, plan: RunPlan | None = None, refused: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.plan = plan
        self.refused = refused
        plan = plan or RunPlan(RunArgs())
        self.params = plan.params
        self.start_urls = self.params.start_urls
        self.start_set = frozenset(self.start_urls)
        self.sitemap_urls = self.params.sitemap_urls
        self.known = plan.known
        self.max_age = plan.max_age
        self.allowed_hosts = plan.allowed_hosts
        self.allowed_domains = sorted({host_of(f"http://{host}/") for host in self.allowed_hosts})
        self.done = set(plan.done)
        self.pending = [url for url in plan.pending if url not in self.done]
        self.retry = [url for url in plan.retry if url not in self.known]
        self.chains = plan.chains
        self.asked_again = plan.asked_again
        # Every page URL scheduled in this run: each is fetched at most once.
        self.seen: set[str] = self.done | set(self.pending) | set(self.known) | set(self.retry)
        self.lastmods: dict[str, datetime] = {}
        self.listed: set[str] = set()  # the archived pages the sitemaps list (the quality gate asks)
        self.sitemaps_pending = 0
        # The pages the sitemaps list, scheduled in this run (in seen), that wait to be handed to the engine, and
        # the task handing them on (hand_listed). A sitemap's callback that made all their requests itself held
        # every download back until it was done: its response counted against the 5 MB of responses in callbacks
        # past which Scrapy's engine starts no download (SCRAPER_SLOT_MAX_ACTIVE_SIZE); 240,000 pages took 80 s.
        self.listed_waiting: deque[str] = deque()
        self.handing_listed: asyncio.Future[None] | None = None
        self.handed = 0  # requests start() has handed to the engine
        self.sitemaps_seen: set[str] = set()
        self.sitemap_urls_taken = 0
        self.sitemaps_cut: set[str] = set()
        self.pages_sent = 0
        # Redirects to pages already scheduled, and the loops they close, not reported yet; and where each
        # URL whose redirects ended so led (this run, in this process).
        self.moved: list[MovedItem | FailureItem] = []
        # Pages that answered with their text and a meta refresh to a page scheduled already, reported as moved
        # when the run closes: that page's own refresh may yet lead back, a loop (each of its URLs failed).
        self.refreshed: list[MovedItem] = []
        self.led_to: dict[str, str] = {}
        # Pages a link of no glossary type reached, visited but not archived; and pages that a redirect from a page
        # to archive (a start URL, a listed or archived one) led to once scheduled already, to archive when they come.
        self.only_visited: set[str] = set()
        self.to_archive: set[str] = set()
        self.guard = TrapGuard()
        self.extractors: BatchingPool | Literal[False] | None = None  # False: extract in this process
        self.extracted_here = 0  # pages extracted in this process while no worker was asked for

    async def start(self) -> AsyncIterator[Any]:
        if self.refused:
            raise CloseSpider(self.refused)
        for url in self.sitemap_urls:
            if request := self.sitemap_request(url):
                yield request
        for url in self.start_urls:
            if request := self.page_request(url, start=True):
                await self.room()
                yield request
        pending = [*self.pending, *self.retry]
        for url in pending:
            if url in self.known or url in self.asked_again:  # a refresh asks about those below; the others last
                continue
            if url in self.start_set:  # a start URL left pending (scheduled above): asked as one, whatever its type
                await self.room()
                yield self.page_request(url, start=True, force=True)
                continue
            # What the stopped run had found but not fetched, or what got no answer, goes past the trap guard
            # again, at the length of the chain of pages without text of their own that led to it.
            chain = self.chains.get(url, 0)
            if (meta := self.guard.admit(url, None, Verdict(False, "resumed", chain) if chain else None)) is not None:
                await self.room()
                yield self.page_request(url, force=True, meta=meta)
        if self.known:
            await self.sitemaps_read()
            for url, info in self.known.items():
                if url not in self.done and url not in self.asked_again and (
                        request := self.refresh_request(url, info)):
                    await self.room()
                    yield request
        # Last, the pages whose answers in a held part were set aside (an outage's 404, a maintenance page): asked
        # about again, whatever the trap guard made of their families from those very answers; after every page not
        # asked yet, so that each part of a run under a budget goes further than the one before (asked first, they
        # took a budget the held part had spent on them, part after part, and the run never ended).
        for url in pending:
            if url not in self.asked_again:
                continue
            if url in self.known:
                request = self.refresh_request(url, self.known[url]) if url not in self.done else None
            else:
                request = self.page_request(url, start=url in self.start_set, force=True)
            if request is not None:
                await self.room()
                yield request

    async def room(self) -> None:
        """Wait until Scrapy's scheduler holds fewer than :data:`QUEUED_AHEAD` requests, letting its loop turn
        at least every :data:`HANDED_AT_ONCE`. :meth:`start` hands its requests on as the downloader takes
        them: while the downloader is full, the engine takes start requests one after the other without a
        turn of its loop, and a refresh of 240,000 archived pages, or a start list as long, was all made and
        queued, a third of a millisecond a request, before a response was read or a stop heeded."""
        self.handed += 1
        if self.handed % HANDED_AT_ONCE == 0:
            await asyncio.sleep(0)
        while self.queued() >= QUEUED_AHEAD:
            await asyncio.sleep(0.05)

    def queued(self) -> int:
        """The requests waiting in Scrapy's scheduler (its stats)."""
        stats = self.crawler.stats
        return stats.get_value("scheduler/enqueued", 0) - stats.get_value("scheduler/dequeued", 0)

    # -- requests -------------------------------------------------------------------------

    def page_request(self, url: str, start: bool = False, force: bool = False,
                     meta: dict[str, Any] | None = None) -> Request | None:
        """A request for a page, or None if this run has scheduled it already."""
        if url in self.seen and not force:
            return None
        self.seen.add(url)
        return self.request_for(url, {"start": start, "listed": False, **(meta or {})})

    def request_for(self, url: str, meta: dict[str, Any], **kwargs: Any) -> Request:
        """The request that fetches a page: parsed by :meth:`parse_page`, its failure by :meth:`fetch_failed`."""
        return Request(url, self.parse_page, errback=self.fetch_failed, meta={**PAGE_META, **meta}, **kwargs)

    def refresh_request(self, url: str, info: dict[str, Any]) -> Request | None:
        """A re-fetch of a known page: conditional, unconditional (too old, or gone), or none at all."""
        last_fetched = parse_time(info.get("last_fetched"))
        age = age_of(last_fetched)
        # --max-age counts from the body archived, not from the 304s since: a server that answers 304 wrongly
        # would otherwise keep a page's age short of it for as long as refreshes run more often.
        full_age = age_of(parse_time(info.get("full_fetch")))
        too_old = self.max_age is not None and (full_age is None or full_age > self.max_age)
        # The sitemap's word that the page has not changed, taken for a while only (GLOSSARY_LASTMOD_TRUST_DAYS).
        trusted = age is not None and age <= timedelta(days=self.settings.getfloat("GLOSSARY_LASTMOD_TRUST_DAYS"))
        lastmod = self.lastmods.get(url)
        if (not too_old and trusted and info.get("status") == "live" and lastmod
                and lastmod <= last_fetched - LASTMOD_SLACK and not lags(lastmod, info.get("last_modified"))):
            self.crawler.stats.inc_value("glossary/skipped_by_lastmod")
            return None
        headers = conditional_headers(info) if info.get("status") == "live" and not too_old else {}
        return self.request_for(url, {"start": False, "listed": True}, headers=headers)

    # -- sitemaps -------------------------------------------------------------------------

    def sitemap_request(self, url: str, depth: int = 0) -> Request | None:
        if url in self.sitemaps_seen:
            return None
        self.sitemaps_seen.add(url)
        self.sitemaps_pending += 1
        # dont_filter: a sitemap dropped silently would leave sitemaps_read() waiting.
        return Request(url, self.parse_sitemap, errback=self.sitemap_failed, dont_filter=True,
                       meta={"sitemap_depth": depth})

    def sitemap_cut(self, kind: str, url: str, error: str) -> Iterator[LimitItem]:
        """One error row per kind of sitemap limit a run meets; the stats count every cut."""
        self.crawler.stats.inc_value(f"glossary/sitemap_cut/{kind}")
        if kind not in self.sitemaps_cut:
            self.sitemaps_cut.add(kind)
            yield LimitItem(url, "sitemap", error)

    async def sitemaps_read(self) -> None:
        waited = 0.0
        while self.sitemaps_pending > 0 and waited < SITEMAP_WAIT_SECONDS:
            await asyncio.sleep(0.05)
            waited += 0.05

    def sitemap_filter(self, entries: Iterable[dict[str, Any]], too_long: list[int]) -> Iterator[dict[str, Any]]:
        """The entries of the run's hosts, their URLs normalised; the length of each one too long, in ``too_long``."""
        for entry in entries:
            if len(given := entry.get("loc") or "") > MAX_URL:
                too_long.append(len(given))
                continue
            loc = normalize_url(given)
            if not loc or server_of(loc) not in self.allowed_hosts:
                self.crawler.stats.inc_value("glossary/sitemap_offsite")
                continue
            if loc in self.known:
                self.listed.add(loc)
                lastmod = lastmod_of(entry.get("lastmod"))
                if lastmod and (loc not in self.lastmods or lastmod > self.lastmods[loc]):  # listed twice: the newer
                    self.lastmods[loc] = lastmod
            yield {**entry, "loc": loc}

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        try:
            yield from self._sitemap_requests(response)
        finally:
            self.sitemaps_pending -= 1

    def _sitemap_requests(self, response: Response) -> Iterator[Any]:
        sitemap = read_sitemap(response, self.settings.getint("DOWNLOAD_MAXSIZE"))
        if isinstance(sitemap, str):
            url = normalize_url(response.url) or response.url
            self.crawler.stats.inc_value("glossary/sitemaps_unreadable")  # for the summary: no page counts it
            yield FailureItem(url, "sitemap", sitemap, http_status=response.status)
            return
        settings = self.settings
        depth = response.meta.get("sitemap_depth", 0) + 1
        # The lengths of the URLs past MAX_URL it lists: a request takes 90 bytes a character of its URL, and an
        # 8 MiB <loc> made one of most of a gigabyte.
        too_long: list[int] = []
        made = 0  # requests for its pages made here; past HANDED_AT_ONCE, hand_listed() makes them
        for entry in self.sitemap_filter(sitemap, too_long):
            loc = entry["loc"]
            if sitemap.type == "sitemapindex":
                if loc in self.sitemaps_seen:
                    continue
                if depth > (most := settings.getint("GLOSSARY_MAX_SITEMAP_DEPTH", 4)):
                    yield from self.sitemap_cut("depth", loc, f"sitemap limit: indexes nested more than {most} "
                                                "deep; deeper sitemaps are not read")
                    continue
                if len(self.sitemaps_seen) >= (most := settings.getint("GLOSSARY_MAX_SITEMAPS", 2000)):
                    yield from self.sitemap_cut("count", loc, f"sitemap limit: more than {most} sitemaps "
                                                "in one run; this one and those after it are not read")
                    break
                request = self.sitemap_request(loc, depth)
            else:
                if is_file(urlsplit(loc).path):  # a PDF, an image: no page, as a link to it is not followed
                    self.crawler.stats.inc_value("glossary/sitemap_files")
                    continue
                if self.sitemap_urls_taken >= (most := settings.getint("GLOSSARY_MAX_SITEMAP_URLS", 500_000)):
                    yield from self.sitemap_cut("urls", loc, f"sitemap limit: more than {most:,} page URLs "
                                                "from sitemaps in one run; no more are taken")
                    break
                self.sitemap_urls_taken += 1
                if loc in self.seen:  # a link had it scheduled first: listed, it is archived all the same
                    self.archive_later(loc)
                    continue
                self.seen.add(loc)
                if made < HANDED_AT_ONCE:
                    made += 1
                    yield self.request_for(loc, {"start": False, "listed": True})
                else:  # once this callback has let the downloads go
                    self.listed_waiting.append(loc)
                continue
            if request is not None:
                yield request
        self.hand_on_listed()
        if too_long:
            urls = f"{len(too_long):,} URL{'s' * (len(too_long) > 1)}"
            yield from self.sitemap_cut("url_length", response.url, f"sitemap limit: {urls} longer than the "
                                        f"{MAX_URL:,} characters a URL may have (the longest {max(too_long):,}); "
                                        "not taken")

    def hand_on_listed(self) -> None:
        if self.handing_listed is None and self.listed_waiting:
            self.handing_listed = asyncio.ensure_future(self.hand_listed())

    async def hand_listed(self) -> None:
        """Queue the requests for the pages the sitemaps list past the first :data:`HANDED_AT_ONCE` of each, as
        the downloader takes them (:meth:`room`), until they are all queued or the engine closes."""
        engine = self.crawler.engine
        try:
            while self.listed_waiting:
                await asyncio.sleep(0 if self.queued() < QUEUED_AHEAD else 0.05)
                if closing(engine):
                    break
                for _ in range(min(HANDED_AT_ONCE, QUEUED_AHEAD - self.queued(), len(self.listed_waiting))):
                    engine.crawl(self.request_for(self.listed_waiting.popleft(), {"start": False, "listed": True}))
        except Exception:  # the scheduler's queue refused one (its disk full): idle() starts this again
            logger.exception("Could not queue the pages the sitemaps list")
        finally:
            self.handing_listed = None

    def sitemap_failed(self, failure: Failure) -> Iterator[Any]:
        self.sitemaps_pending -= 1
        yield from self.fetch_failed(failure)

    # -- pages ----------------------------------------------------------------------------

    async def extract(self, body: bytes, url: str, content_type: str,
                      ) -> tuple[Extraction, Prepared | None, PageReading | None]:
        """The page's extraction, made in this process or in worker processes while Scrapy's loop
        goes on fetching, as :meth:`extract_workers` says; with what staging needs of it, where a
        worker made that too, and, when the run follows links, its links and what the trap guard
        compares of it."""
        follow = self.params.follow
        if self.extractors is None:
            workers = self.extract_workers()
            if workers == 0 or self.extracted_here >= self.workers_after():
                self.extractors = (BatchingPool(workers, partial(extract_for_staging, follow=follow)) if workers > 0
                                   else False)
            self.crawler.stats.set_value("glossary/extract_workers", workers if self.extractors else 0)
        if self.extractors:
            try:
                return await self.extractors.run((body, url, content_type))
            except WorkersGone:  # they kept dying, or were shut down with pages still to extract
                if self.extractors:
                    logger.warning("No extraction worker is left: pages are extracted in Scrapy's process now")
                    self.extractors = False
        elif self.extractors is None:
            self.extracted_here += 1
        extraction = extract_page(body, url, content_type, follow=follow)
        return extraction, None, read_page(extraction.record) if follow else None

    def extract_workers(self) -> int:
        """How many worker processes extract this run's pages (0: Scrapy's own process does).

        ``GLOSSARY_EXTRACT_WORKERS`` when set (``--workers``). Otherwise one per core less the one Scrapy
        runs on (at least one) for a crawl without a download delay, whose loop is busy fetching as fast as
        the site answers, and none for a polite crawl (a delay, or AutoThrottle): its loop is idle most of
        the time, so extracting there costs no pace, and a worker would only add its own start-up and the
        handing of every page between processes. A run with a page budget always extracts in this process:
        pages waiting for a worker would let the downloader fetch on past the budget before it is seen to
        be reached."""
        if self.params.max_pages is not None:
            return 0
        workers = self.settings.get("GLOSSARY_EXTRACT_WORKERS")
        if workers is not None:
            return int(workers)
        if self.settings.getfloat("DOWNLOAD_DELAY") > 0 or self.settings.getbool("AUTOTHROTTLE_ENABLED"):
            return 0
        return max(default_workers() - 1, 1)

    def workers_after(self) -> int:
        """How many pages this process extracts before the run's workers start: none when their number
        was set, else ``GLOSSARY_EXTRACT_WORKERS_AFTER``. A worker's start-up (a fresh interpreter importing
        the extraction modules, a quarter of a CPU-second) costs more than extracting a small run's pages
        here, and a refresh of a site that changed little extracts only a few."""
        if self.settings.get("GLOSSARY_EXTRACT_WORKERS") is not None:
            return 0
        return self.settings.getint("GLOSSARY_EXTRACT_WORKERS_AFTER")

    def closed(self, reason: str) -> None:
        self.let_workers_go()

    def let_workers_go(self, **_: Any) -> None:
        """Shut the extraction workers down, waiting for them (a worker left running holds this process
        at its exit)."""
        if self.extractors:
            self.extractors.shutdown()

    async def parse_page(self, response: Response) -> list[Any] | Iterator[Any]:
        """The page's item and the requests it leads to, as a list: Scrapy hands a list on through
        its spider middlewares more cheaply than what an asynchronous generator yields; first, the
        URLs that redirected here, which have moved."""
        url = normalize_url(response.url) or response.url
        try:
            items = await self._parse_page(response, url)
        finally:
            # Answered once judged, not before: while its extraction is awaited, the page may yet earn
            # its family the URLs the family holds, which would otherwise be cut as never earned.
            self.guard.answered(response.meta)
        if "redirect_urls" not in response.meta or isinstance(items, (LeftForResume, AskedAgain)):
            return items
        return chain(moved(response.meta, url, response.url), items)

    async def _parse_page(self, response: Response, url: str) -> list[Any] | Iterator[Any]:
        fetch = self.fetch_of(response, url)
        if response.status in (404, 410):
            if again := self.variant_again(response.meta):
                return AskedAgain([again])
            return [GoneItem(fetch)]
        if response.status == 304:
            if not (response.request and CONDITIONAL & set(response.request.headers)):
                # "Not modified" since nothing: a cache or server that answers so whatever is asked.
                return [FailureItem(url, "fetch", "HTTP 304 to a request that was not conditional",
                                    http_status=304, fetch=fetch)]
            if contradicts(response.request, response):  # the page changed, whatever the status says
                self.crawler.stats.inc_value("glossary/not_modified_contradicted")
                return [self.request_for(url, {"start": False, "listed": True}, dont_filter=True)]
            return [NotModifiedItem(fetch)]
        if (asked_with := UNASKED_PARTS.get(response.status)) and not (
                response.request and asked_with in response.request.headers):
            # Part of the page (206) or a change to it (226, RFC 3229), neither asked for: not the page.
            error = (f"HTTP {response.status} to a request that sent no {asked_with.decode()}: "
                     "part of the page, not the page")
            return [FailureItem(url, "fetch", error, http_status=response.status, fetch=fetch)]
        content_type = fetch.content_type or ""
        if not is_page(response, content_type):
            # An encoding neither Scrapy nor decoding.py knows is left on the body, which is then no text.
            if unknown := b", ".join(response.headers.getlist("Content-Encoding")).decode("latin-1"):
                return [FailureItem(url, "fetch", f"body in an encoding not known ({unknown[:100]}); not read",
                                    http_status=response.status, fetch=fetch)]
            return [FailureItem(url, "parse", f"not an HTML page ({content_type or 'no content type'})",
                                http_status=response.status, fetch=fetch)]
        if looks_binary(response.body, content_type):
            return [FailureItem(url, "parse", f"binary content served as {content_type}",
                                http_status=response.status, fetch=fetch)]
        try:
            extraction, prepared, reading = await self.extract(response.body, url, content_type)
        except ExtractionFailed as exc:
            logger.info("Extraction failed for %s: %s", url, exc.detail)  # recorded in crawl_errors
            return [FailureItem(url, "parse", "extraction failed", exc.detail, response.status, fetch)]
        except Exception as exc:  # a page that breaks extraction must not stop the crawl
            logger.info("Extraction failed for %s", url, exc_info=True)  # recorded in crawl_errors
            return [FailureItem(url, "parse", "extraction failed", f"{type(exc).__name__}: {exc}",
                                response.status, fetch)]
        if canonical := self.canonical_of_variant(url, extraction.record, response.meta):
            return AskedAgain([self.canonical_request(response, canonical)])
        discovered, requests, chain = [], [], 0
        if self.params.follow and not self.limit_reached():
            verdict = self.guard.judge(url, reading, response.meta)
            chain = 0 if verdict.novel else verdict.run
            for link in extraction.outlinks:
                if link in self.seen or server_of(link) not in self.allowed_hosts or not is_followable(link):
                    continue
                self.seen.add(link)
                meta = self.guard.admit(link, url, verdict)
                # Requested now, or held until its family earns it: a resumed run has it to do. A link
                # the guard refused (a page without text of its own leads to no held link) is not.
                if meta is not None or (verdict.novel and not self.guard.refuses(link)):
                    discovered.append(link)
                if meta is not None:
                    requests.append(self.page_request(link, force=True, meta=meta))
        meta = response.meta
        keep = (extraction.record["page_type"] in GLOSSARY_TYPES or meta.get("start") or meta.get("listed")
                or url in self.to_archive)
        aliases = [alias for u in meta.get("redirect_urls", []) if (alias := normalize_url(u)) and alias != url]
        items: list[Any] = []
        if self.limit_reached():  # the page budget is spent: the page, its links unread, is --resume's to fetch
            return LeftForResume([*requests, *self.guarded()])
        if not keep:
            self.only_visited.add(url)
            items.append(VisitItem(url, discovered, aliases, chain))
            if extraction.links_cut:  # a page only visited has no row of its own to say what was not followed
                items.append(LimitItem(url, "parse", "page cut: " + extraction.links_cut))
        else:
            self.pages_sent += 1
            page = PageItem(fetch, extraction, discovered, aliases, prepared, chain)
            if self.limit_reached():
                return self.last_page(page)
            items.append(page)
        return [*items, *requests, *self.guarded()]

    def canonical_of_variant(self, url: str, record: dict[str, Any], meta: dict[str, Any]) -> str | None:
        """The URL that a glossary page fetched at a variant of it names as its own (``rel=canonical``): the
        same scheme, server and path at another query (``?ref=sidebar``, a session, a tracking parameter
        that :func:`~glossary_spider.urls.normalize_url` does not know). Such a page is archived once, at
        that URL, as a redirect there would have it (:meth:`canonical_request`). None for any other page:
        one at its canonical URL, a listing's page (``?page=2``, of no glossary type), one whose canonical
        URL is another page or server (a site's mistake, or a trap, which the trap guard weighs), and one
        reached by as many redirects as a request may follow. Nor for a page a refresh asks about, archived
        at its own URL already, nor where that canonical URL answered that it is no page, or no answer
        (:meth:`variant_again`), nor where it is a URL that led to this one (canonical URLs that name each other:
        the page is archived where the loop ends)."""
        canonical, most = record.get("canonical_url"), self.settings.getint("REDIRECT_MAX_TIMES")
        if (not canonical or "?" not in url or record["page_type"] not in GLOSSARY_TYPES or url in self.known
                or meta.get(CANONICAL_REFUSED) or meta.get("redirect_times", 0) >= most):
            return None
        target = normalize_url(canonical)
        if target is None or target == url or urlsplit(target)[:3] != urlsplit(url)[:3]:
            return None
        if target in (normalize_url(u) or u for u in meta.get("redirect_urls", [])):
            return None
        return target

    def canonical_request(self, response: Response, canonical: str) -> Request:
        """The request for the ``canonical`` URL of a page fetched at a variant of it, carrying the variant as
        a redirect's request carries the URLs it came by (Scrapy's ``redirect_urls`` and ``redirect_reasons``
        meta keys): the page is archived there, the variant recorded as moved to it; where this run has
        asked for it already, the duplicate filter drops the request, and :meth:`dropped` records the move."""
        meta = response.meta
        self.seen.add(canonical)
        return self.request_for(canonical, {
            "start": meta.get("start", False), "listed": meta.get("listed", False),
            "redirect_urls": [*meta.get("redirect_urls", []), response.url],
            "redirect_reasons": [*meta.get("redirect_reasons", []), CANONICAL_REASON],
            "redirect_times": meta.get("redirect_times", 0) + 1})

    def variant_again(self, meta: dict[str, Any]) -> Request | None:
        """Where the canonical URL a page named (:meth:`canonical_request`) answered 404 or 410, or could not be
        had (a 5xx, a time-out, robots.txt: after its retries), the site's rel=canonical names what it does not
        serve: the page is asked for again at the URL it was fetched at, to be archived there, with the
        redirects that led to it. None for an answer to any other request."""
        reasons = meta.get("redirect_reasons") or []
        if not reasons or reasons[-1] != CANONICAL_REASON:
            return None
        *before, variant = meta["redirect_urls"]
        led = {"redirect_urls": before, "redirect_reasons": reasons[:-1],
               "redirect_times": meta["redirect_times"] - 1} if before else {}
        return self.request_for(variant, {"start": meta.get("start", False), "listed": meta.get("listed", False),
                                          CANONICAL_REFUSED: True, **led}, dont_filter=True)

    def fetch_of(self, response: Response, url: str) -> Fetch:
        """The response as the archive records it; headers past what a capture keeps are a limit met, one row
        saying what was cut."""
        fetch, dropped, too_long = to_fetch(response, url)
        cut = []
        if dropped:
            cut.append(f"{dropped:,} response headers past the first {MAX_HEADER_BYTES // 1024} KiB not kept")
        if too_long:
            cut.append(" and ".join(f"{name} of {size:,} bytes" for name, size in too_long.items())
                       + f", longer than {MAX_HEADER_VALUE // 1024} KiB, not kept")
        if cut:
            self.crawler.signals.send_catch_log(signal=limit_signal, url=url, stage="parse",
                                                error="headers cut: " + "; ".join(cut))
        return fetch

    def limit_reached(self) -> bool:
        return self.params.max_pages is not None and self.pages_sent >= self.params.max_pages

    def unreported(self, closing: bool = True) -> list[FailureItem | MovedItem]:
        """Items for what happened since the last call outside a page's callback (the pipeline asks
        when the crawl closes): a failure for each trap cut, its dropped URLs settled with it so that
        a resumed run does not request them; and the URLs that redirected to a page already scheduled
        (those that refreshed to it, once the run is ``closing``)."""
        moved, self.moved = self.moved, []
        if closing:
            moved, self.refreshed = [*moved, *self.refreshed], []
        return [*(FailureItem(trap.example, "trap", trap.error, trap.detail, settles=trap.dropped)
                  for trap in self.guard.report()), *moved]

    def last_page(self, page: PageItem) -> Iterator[Any]:
        """The page that spends the page budget, then the run's stop. Its links are not requested: they
        wait in the frontier (the page's item has them) for --resume. Queued requests are dropped, and
        so are those waiting for their turn at a host (:data:`~glossary_spider.signals.stop_requested`);
        pages still in flight end unarchived, and --resume fetches them (from the frontier, or from the
        sitemaps read again)."""
        yield page
        self.crawler.signals.send_catch_log(signal=stop_requested)
        raise CloseSpider(MAX_PAGES_REASON)

    def guarded(self) -> Iterator[Any]:
        """Requests the trap guard has released, and the items :meth:`unreported` gives."""
        for url, meta in self.guard.release():
            yield self.page_request(url, force=True, meta=meta)
        yield from self.unreported(closing=False)

    def dropped(self, request: Request) -> None:
        """A request Scrapy dropped as a duplicate: where a redirect led to a page this run has
        scheduled already, the URLs that redirected have moved there; unless that page's own redirects
        led back to them, scheduled each in its turn (A to B, and B to A): then each of the loop's URLs
        failed, as a loop met within one request's redirects does. A start URL or a page the sitemaps
        list that a redirect reached first (its request waiting its turn, or the sitemap late), only
        visited there when no page of a glossary type, is archived all the same."""
        if request.callback != self.parse_page:
            return
        if "redirect_urls" not in request.meta:
            if request.meta.get("start") or request.meta.get("listed"):
                self.archive_later(normalize_url(request.url) or request.url)
            return
        target = normalize_url(request.url) or request.url
        found = moved(request.meta, target, request.url)
        aliases = [item.fetch.url for item in found]
        loop = self._loop(aliases, target)
        if loop is None:
            self.led_to.update((alias, target) for alias in aliases)
            if request.meta.get("start") or request.meta.get("listed"):
                self.archive_later(target)
            if "meta refresh" in request.meta.get("redirect_reasons", []):
                self.refreshed += found
            else:
                self.moved += found
            return
        lead_in = aliases[:aliases.index(loop[0])]  # URLs that redirected into the loop
        ways = {url: [*lead_in[i:], *loop, loop[0]] for i, url in enumerate(lead_in)}
        ways.update({url: [*loop[i:], *loop[:i], url] for i, url in enumerate(loop)})
        self.moved = [item for item in self.moved if not (isinstance(item, MovedItem) and item.fetch.url in ways)]
        self.refreshed = [item for item in self.refreshed if item.fetch.url not in ways]
        self.moved += [FailureItem(url, "fetch", "redirect loop: " + " -> ".join(way)) for url, way in ways.items()]

    def archive_later(self, url: str) -> None:
        """Archive ``url``, which a redirect from a page to archive led to after a link of no glossary type had it
        scheduled (a site that moved its pages under a new path, and links the new URLs): when it comes, or,
        where it came and was only visited, fetched again."""
        self.to_archive.add(url)
        if url in self.only_visited:
            self.only_visited.discard(url)
            self.crawler.engine.crawl(self.request_for(url, {"start": False, "listed": True}, dont_filter=True))

    def _loop(self, chain: list[str], target: str) -> list[str] | None:
        """The URLs of the loop closed by redirects from ``chain`` to ``target`` (a page scheduled already),
        each leading to the next and the last back to the first; None if they close none."""
        path = [target]
        while (after := self.led_to.get(path[-1])) is not None:
            if after in chain:
                return [*chain[chain.index(after):], *path]
            if after in path:  # a loop reported already, which this chain only leads into
                return None
            path.append(after)
        return None

    def idle(self) -> None:
        """Nothing is in flight: give held URLs their last chance, or cut their families."""
        if self.listed_waiting:  # the sitemaps' pages are still being queued
            self.hand_on_listed()
            raise DontCloseSpider
        released = [self.page_request(url, force=True, meta=meta) for url, meta in self.guard.release(idle=True)]
        for request in released:
            self.crawler.engine.crawl(request)
        if released:
            raise DontCloseSpider

    def fetch_failed(self, failure: Failure) -> Iterator[Any]:
        if failure.check(Interrupted):  # not fetched: it stays in the frontier for --resume
            return
        request = failure.request  # type: ignore[attr-defined]
        self.guard.answered(request.meta)
        yield from self.guarded()
        if again := self.variant_again(request.meta):  # a canonical URL that could not be had: the page where found
            yield again
            return
        redirects = request.meta.get("redirect_urls") or []
        asked = redirects[0] if redirects else request.url
        url = normalize_url(asked) or asked
        attempts = request.meta.get("retry_times", 0) + 1
        tried = f"gave up after {attempts} attempts" if attempts > 1 else None
        if failure.check(HttpError) and "sitemap_depth" in request.meta and not no_answer(
                status := failure.value.response.status):  # a sitemap answered 404, 410: unreadable; no page failed
            self.crawler.stats.inc_value("glossary/sitemaps_unreadable")
            yield FailureItem(url, "sitemap", f"HTTP {status}", tried, status)
            return
        if failure.check(HttpError):
            response = failure.value.response
            error = f"HTTP {response.status}"
            if refused := request.meta.get("retry_refused"):
                error += f": {refused}"
            elif 300 <= response.status < 400 and (location := response.headers.get(b"Location")):
                error += f": redirect to {location.decode('latin-1')[:200]} not followed"
            yield FailureItem(url, "fetch", error, tried, response.status, self.fetch_of(response, url))
            return
        error = failure.value
        if "sitemap_depth" in request.meta and past_size_limit(error):
            # An unreadable sitemap, as one whose gzip file is past the limit decompressed is; no page failed.
            self.crawler.stats.inc_value("glossary/sitemaps_unreadable")
            yield FailureItem(url, "sitemap", "sitemap over the size limit"
                              + (" once decompressed" if past_limit_once_decoded(error) else ""))
            return
        message = explain(error, request.meta.get("download_maxsize", self.settings.getint("DOWNLOAD_MAXSIZE")))
        if isinstance(error, RobotsUnavailable):
            yield FailureItem(url, "fetch", message, None, None, Fetch(url, None))
            return
        if isinstance(error, Refused) and not redirects:
            # Policy, not failure: record it only for pages the user asked for by name, for the archive's
            # own pages, which a refresh leaves unrefreshed, and for sitemaps, whose pages go unread.
            if request.meta.get("start") or url in self.known or "sitemap_depth" in request.meta:
                yield FailureItem(url, "fetch", message)
            else:
                yield VisitItem(url)
            return
        if redirects and isinstance(error, OutsideAllowedHosts):
            yield FailureItem(url, "fetch", f"redirected {message}", " -> ".join([*redirects, request.url]))
            yield from moved(request.meta, normalize_url(request.url) or request.url, request.url)
            return
        if isinstance(error, RedirectsEndless):
            yield from looped(error.loop, url)
        # An answer past the size limit, or that cannot be decoded, is an answer: the page failed, not the
        # site, and a --resume would meet it again (no capture, so the run does not count it unanswered).
        yield FailureItem(url, "fetch", describe(error), "; ".join(filter(None, [message[:500], tried])),
                          answered_status(error), None if unusable_answer(error) else Fetch(url, None))


def closing(engine: ExecutionEngine) -> bool:
    """Whether Scrapy's engine is closing the spider (or closed it): it takes no more requests though neither
    its downloader nor its scraper is full (the parts of :meth:`ExecutionEngine.needs_backout`)."""
    scraper = engine.scraper.slot
    return (engine.spider is None or scraper is None
            or engine.needs_backout() and not engine.downloader.needs_backout() and not scraper.needs_backout())


def is_page(response: Response, content_type: str) -> bool:
    """Whether a response is a page to extract: declared HTML or XHTML, or with no Content-Type at all,
    HTML by its first bytes (as Scrapy tells it: an ``HtmlResponse``)."""
    if media := content_type.split(";")[0].strip().lower():
        return media in HTML_TYPES and isinstance(response, TextResponse)
    return isinstance(response, HtmlResponse)


class LeftForResume(list):
    """What a page's callback gives for a page the spent page budget leaves unarchived: no item of the page, nor
    of the URLs that redirected to it, which have not moved for the archive yet. The URL asked for stays to do
    in the frontier, and --resume asks for it again (its redirects lead to the page)."""


class AskedAgain(list):
    """What a page's callback gives where the page is asked for at another URL: the canonical URL a variant of it
    names (:meth:`GlossarySpider.canonical_request`), or, where that is no page, the variant again
    (:meth:`GlossarySpider.variant_again`). The request carries the URLs that redirected to it; none of them has
    moved yet: the answer to that request says where they went, once."""


def moved(meta: dict[str, Any], url: str, target: str) -> list[MovedItem]:
    """A :class:`MovedItem` for each URL that redirected on the way to ``target`` (``url`` once
    normalised), with the status and the Location that sent it on, spelt as the archive spells URLs (its views
    read a link to the URL as a link to where it went: :data:`glossary_spider.storage.schema.REDIRECTS`)."""
    redirects = meta.get("redirect_urls", [])
    items = []
    for asked, reason, location in zip(redirects, meta.get("redirect_reasons", []), [*redirects[1:], target]):
        if (alias := normalize_url(asked) or asked) != url:
            status = reason if isinstance(reason, int) else 200  # a meta refresh, in a page answering 200
            items.append(MovedItem(Fetch(alias, status, headers=f"Location: {normalize_url(location) or location}")))
    return items


def looped(loop: list[str], asked: str) -> Iterator[FailureItem]:
    """A failure for each URL of a redirect ``loop`` met on the way from ``asked`` (whose own failure is the
    request's): a request of this run for one of them, later, is dropped as a duplicate of the one that met it."""
    for i, url in enumerate(loop):
        if (normalized := normalize_url(url) or url) != asked:
            yield FailureItem(normalized, "fetch", "redirect loop: " + " -> ".join([*loop[i:], *loop[:i], url]))


class ArchiveFingerprinter:
    """Scrapy's request fingerprint (``REQUEST_FINGERPRINTER_CLASS``, which the duplicate filter reads) taken of
    the URL as the archive spells it (:func:`~glossary_spider.urls.normalize_url`), so that the filter and the
    archive agree on which URLs are one page. Scrapy's own (w3lib's ``canonicalize_url``) read
    ``/delta-(finance)/`` and ``/delta-%28finance%29/`` as one, where the archive keeps two (RFC 3986, 6.2.2.2:
    an escaped reserved character is not that character, and a site may serve two pages there): the second
    spelling met was dropped unfetched, a redirect to it too, and its page lost without a word. And a
    redirect's target as the site spells it (``?utm_source=…`` added to a page fetched already) is seen as the
    page it is."""

    def fingerprint(self, request: Request) -> bytes:
        url = normalize_url(request.url) or request.url
        return hashlib.sha1(b" ".join((request.method.encode(), url.encode(), request.body))).digest()


_CRAWLS = GlossarySpider.start  # the spider's own start (scrapy fetch and parse put theirs in its place)


class ResumingDupeFilter(RFPDupeFilter):
    """Scrapy's duplicate filter, told at the start which URLs a resumed run fetched before
    it stopped, so that a redirect to one of them is dropped as in an uninterrupted run. It keeps no
    ``requests.seen`` in the ``JOBDIR``: the archive says what a run fetched, and that file, in a ``JOBDIR`` a
    user gave and gave again, holds every request ever scheduled: a resume's pages, queued and never fetched,
    were dropped as seen."""

    crawler: Crawler | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResumingDupeFilter:
        dupefilter = cls(None, crawler.settings.getbool("DUPEFILTER_DEBUG"), fingerprinter=crawler.request_fingerprinter)
        dupefilter.crawler = crawler
        return dupefilter

    def open(self) -> None:
        spider = self.crawler.spider if self.crawler else None
        for url in getattr(spider, "done", ()):
            self.request_seen(Request(url))


def shadowed_egg() -> str | None:
    """The egg on the import path that holds this project (Scrapyd's deploy, activated for the job) where the code
    running is another copy of it, found first; else None."""
    here = Path(__file__).resolve().parents[1]
    for entry in sys.path:
        if not entry.endswith(".egg") or not os.path.isfile(entry):
            continue
        try:
            with zipfile.ZipFile(entry) as egg:
                holds = "glossary_spider/__init__.py" in egg.namelist()
        except (OSError, zipfile.BadZipFile):
            continue
        if holds and not here.is_relative_to(Path(entry).resolve()):
            return entry
    return None


def given_options(settings: BaseSettings) -> dict[str, Any]:
    """The run options given as ``-s`` settings on the command line (or by Scrapyd), by option name."""
    given = {}
    for option, name in OPTION_SETTINGS.items():
        if (settings.getpriority(name) or 0) >= SETTINGS_PRIORITIES["cmdline"]:
            given[option] = settings.get(name)
            if option == "ignore_robots":
                try:
                    given[option] = not settings.getbool(name)
                except ValueError:  # not a boolean: its text, for RunArgs to refuse as such
                    pass
    return given


def defaults_for_options(settings: BaseSettings) -> None:
    """The options' settings back at the project's defaults, and the numbers given as something else at theirs, for
    a run refused (one of them may be the bad argument): it closes before any request, and Scrapy must still be
    able to build its engine."""
    project = Settings()
    project.setmodule("glossary_spider.settings")
    for name in OPTION_SETTINGS.values():
        settings.set(name, project.get(name), priority="cmdline")
    for name, default in settings_not_numbers(settings).items():
        settings.set(name, default, priority="cmdline")


# What a capture keeps of a response's headers. A real response has a few hundred bytes of them; a site that
# sends thousands with every page (or one of a megabyte) would grow the archive by as much a page, and an
# ETag that long, sent back, would fail every later request for the page.
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADER_VALUE = 1024  # Content-Type, ETag, Last-Modified: longer, it is not kept (nor sent back)


def to_fetch(response: Response, url: str) -> tuple[Fetch, int, dict[str, int]]:
    """The response as the archive records it, with how many of its headers were past
    :data:`MAX_HEADER_BYTES` and not kept, and the size of each of its Content-Type, ETag and Last-Modified
    past :data:`MAX_HEADER_VALUE`, not kept either."""
    headers = response.headers
    too_long: dict[str, int] = {}

    def header(name: bytes) -> str | None:
        value = headers.get(name)
        if value and len(value) > MAX_HEADER_VALUE:
            too_long[name.decode()] = len(value)
            return None
        return value.decode("latin-1") if value else None

    lines, size, dropped = [], 0, 0
    for name, values in headers.items():
        for value in values:
            size += len(name) + len(value) + 4
            if size > MAX_HEADER_BYTES:
                dropped += 1
            else:
                lines.append(f"{name.decode('latin-1')}: {value.decode('latin-1')}")
    fetch = Fetch(
        url=url,
        http_status=response.status,
        body=response.body,
        content_type=header(b"Content-Type"),
        etag=header(b"ETag"),
        last_modified=header(b"Last-Modified"),
        headers="\r\n".join(lines),
    )
    return fetch, dropped, too_long
