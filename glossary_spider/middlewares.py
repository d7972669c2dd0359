"""Downloader middlewares: where requests may go, how failures are retried, and robots.txt.

Each replaces or adds to one of Scrapy's own, for a crawler that runs unattended
against a site it does not control:

- :class:`AllowedHostsMiddleware` keeps every request, redirects included, on the allowed hosts;
- :class:`GuardedRedirectMiddleware` names redirect loops and over-long chains;
- :class:`BackoffRetryMiddleware` waits before each retry, longer each time, and at least
  as long as ``Retry-After`` asks;
- :class:`PoliteRobotsTxtMiddleware` treats an unreachable robots.txt as "disallow all"
  (RFC 9309), reads at most 500 KiB of it, and honours its ``Crawl-delay``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

from glossary_spider.urls import is_allowed

logger = logging.getLogger(__name__)

# RFC 9309, 2.5: crawlers must parse at least 500 KiB; we parse that much and no more.
ROBOTS_MAX_BYTES = 500 * 1024
DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"


class AllowedHostsMiddleware:
    """Drop any request whose host is not one of the spider's ``allowed_hosts``.

    Unlike Scrapy's OffsiteMiddleware this ignores ``dont_filter`` and does not
    admit subdomains, and as a downloader middleware it also sees redirect
    targets and robots.txt requests before they are sent. Schemes other than
    http and https (``file:``, ``data:``, ``ftp:``) never pass.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AllowedHostsMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> Any:
        spider = self.crawler.spider
        allowed = getattr(spider, "allowed_hosts", None)
        if allowed is None:
            return None
        if is_allowed(request.url, allowed):
            return None
        self.crawler.stats.inc_value("glossary/offsite_blocked")
        logger.debug("Blocked a request outside the allowed hosts: %s", request.url)
        raise IgnoreRequest(f"outside the allowed hosts: {request.url}")


class GuardedRedirectMiddleware(RedirectMiddleware):
    """Scrapy's redirects, with a loop or an over-long chain named in the error."""

    def _redirect(self, redirected: Request, request: Request, reason: Any) -> Request:
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if redirected.url in chain:
            raise IgnoreRequest("redirect loop: " + " -> ".join([*chain, redirected.url]))
        try:
            return super()._redirect(redirected, request, reason)
        except IgnoreRequest:
            raise IgnoreRequest(f"too many redirects: more than {self.max_redirect_times} "
                                f"from {chain[0]}") from None


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, each after a pause: ``GLOSSARY_BACKOFF_BASE`` seconds doubled per
    attempt (at most ``GLOSSARY_BACKOFF_MAX``), or the response's ``Retry-After`` if longer.

    A ``Retry-After`` beyond ``GLOSSARY_RETRY_AFTER_MAX`` is not waited for: the
    response is given up at once. The pause holds one of the crawl's download
    slots, which is the point: the site asked us to slow down.
    """

    def __init__(self, settings: Any):
        super().__init__(settings)
        self.backoff_base = settings.getfloat("GLOSSARY_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("GLOSSARY_BACKOFF_MAX", 60.0)
        self.retry_after_max = settings.getfloat("GLOSSARY_RETRY_AFTER_MAX", 120.0)

    async def process_response(self, request: Request, response: Response,
                               spider: Spider | None = None) -> Request | Response:
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        retry_after = parse_retry_after(response.headers.get(b"Retry-After"))
        if retry_after is not None and retry_after > self.retry_after_max:
            request.meta["retry_refused"] = f"Retry-After {retry_after:.0f} s is longer than we wait"
            return response
        retry = self._retry(request, f"HTTP {response.status}")
        if retry is None:
            return response
        await asyncio.sleep(max(retry_after or 0.0, self.backoff(request)))
        return retry

    async def process_exception(self, request: Request, exception: Exception,
                                spider: Spider | None = None) -> Request | Response | None:
        if request.meta.get("dont_retry") or not isinstance(exception, self.exceptions_to_retry):
            return None
        retry = self._retry(request, exception)
        if retry is not None:
            await asyncio.sleep(self.backoff(request))
        return retry

    def backoff(self, request: Request) -> float:
        attempt = request.meta.get("retry_times", 0)
        return min(self.backoff_base * 2**attempt, self.backoff_max)


def parse_retry_after(value: bytes | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class PoliteRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt handling, made to follow RFC 9309 and ``Crawl-delay``.

    - a robots.txt answering 5xx (after retries) means "disallow all" for that host,
      and each refused request says why; one answering 4xx means "allow all";
    - only the first 500 KiB of robots.txt are read;
    - a ``Crawl-delay`` for our user agent spaces the starts of requests to that host by
      at least that many seconds (Scrapy itself ignores it).
    """

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.unavailable: dict[str, int] = {}
        self.crawl_delays: dict[str, float] = {}
        self.next_start: dict[str, float] = {}

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if request.meta.get("dont_obey_robotstxt") or not request.url.startswith(("http:", "https:")):
            return
        netloc = urlparse_cached(request).netloc
        try:
            await super().process_request(request)
        except IgnoreRequest:
            if netloc in self.unavailable:
                raise IgnoreRequest(f"robots.txt answered HTTP {self.unavailable[netloc]}: "
                                    "the host is treated as disallowed") from None
            raise
        if delay := self.crawl_delays.get(netloc):
            now = time.monotonic()
            start = max(now, self.next_start.get(netloc, now))
            self.next_start[netloc] = start + delay
            if start > now:
                await asyncio.sleep(start - now)

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if response.status >= 500:
            self.unavailable[netloc] = response.status
            response = response.replace(body=DISALLOW_ALL)
        elif response.status >= 400:
            response = response.replace(body=b"")
        elif len(response.body) > ROBOTS_MAX_BYTES:
            response = response.replace(body=response.body[:ROBOTS_MAX_BYTES].rpartition(b"\n")[0])
        await super()._parse_robots(response, netloc, request)
        parser = self._parsers.get(netloc)
        user_agent = self._robotstxt_useragent or self._default_useragent
        delay = getattr(parser, "crawl_delay", lambda _: None)(user_agent)
        if delay:
            self.crawl_delays[netloc] = float(delay)
            self.crawler.stats.set_value(f"glossary/crawl_delay/{netloc}", float(delay))
