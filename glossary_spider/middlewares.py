"""Downloader middlewares: where requests may go, how failures are retried, and robots.txt.

Each replaces or adds to one of Scrapy's own, for a crawler that runs unattended
against a site it does not control:

- :class:`AllowedHostsMiddleware` keeps every request, redirects included, on the allowed hosts;
- :class:`GuardedRedirectMiddleware` names redirect loops and over-long chains;
- :class:`GuardedMetaRefreshMiddleware` keeps a page that refreshes to itself, and names meta refresh loops;
- :class:`BackoffRetryMiddleware` waits before each retry, longer each time, and at least
  as long as ``Retry-After`` asks;
- :class:`PoliteRobotsTxtMiddleware` treats an unreachable robots.txt as "disallow all"
  (RFC 9309), reads at most 500 KiB of it, and honours its ``Crawl-delay`` up to ``--max-delay``;
- :class:`HostPacingMiddleware` counts a host's delay from the end of its previous exchange, so
  that the server sees its requests at least the delay apart.

Every wait they impose ends at once when the run is asked to stop (:class:`Pauses`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.response import get_base_url, get_meta_refresh
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom
from w3lib.html import replace_entities
from w3lib.url import safe_url_string

from glossary_spider.charsets import readable
from glossary_spider.decoding import encodings_of, head, is_error
from glossary_spider.failures import (BodyUndecodable, RedirectRefused, RedirectsEndless, describe, malformed,
                                     out_of_step)
from glossary_spider.httpdates import http_date
from glossary_spider.outcome import UNREACHABLE_REASON, no_answer
from glossary_spider.robots import robots_agent
from glossary_spider.signals import limit_reached, stop_requested
from glossary_spider.urls import (MAX_HOST, MAX_URL, host_of, is_allowed, is_robots, leads_to_overlong_host,
                                  normalize_url, robots_netloc, same_site, with_ascii_host)

logger = logging.getLogger(__name__)

# The characters of a page Scrapy reads a meta refresh from (scrapy.utils.response.get_meta_refresh).
REFRESH_READ = 4096
# RFC 9309, 2.5: crawlers must parse at least 500 KiB; we parse that much and no more.
ROBOTS_MAX_BYTES = 500 * 1024
DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"
ROBOTS_UNREADABLE_META = "glossary_robots_unreadable"  # why a robots.txt response cannot be read
ROBOTS_NOT_REACHED_META = "glossary_robots_not_reached"  # why a robots.txt's redirects were not followed to it
# Request meta: the host's robots.txt Crawl-delay, for HostPacingMiddleware.
CRAWL_DELAY_META = "glossary_crawl_delay"


class Interrupted(IgnoreRequest):
    """The run was asked to stop while this request waited: it is not a failure, and
    stays in the frontier for ``--resume``."""


class Refused(IgnoreRequest):
    """A request the crawl's rules keep it from sending: a rule followed, not a failure."""


class OutsideAllowedHosts(Refused):
    """The request's host is none of the run's (:class:`AllowedHostsMiddleware`)."""


class ForbiddenByRobots(Refused):
    """The host's robots.txt disallows the request."""


class RobotsUnavailable(IgnoreRequest):
    """robots.txt could not be had (a 5xx, no answer, or a body that cannot be read): the host is
    treated as disallowed, and the request counts as unanswered, so an outage is seen as one and
    ``--resume`` tries it again."""


class Pauses:
    """Waits that end at once, raising :class:`Interrupted`, when the run is asked to stop."""

    def __init__(self, crawler: Crawler):
        self.waiting: set[asyncio.Future[None]] = set()
        self.stopping = False
        crawler.signals.connect(self.stop, signal=stop_requested)

    async def sleep(self, seconds: float) -> None:
        await self.wait(asyncio.sleep(seconds))

    async def wait(self, awaitable: Awaitable[Any]) -> None:
        """Wait for ``awaitable``, or raise :class:`Interrupted` at once when the run is asked to stop."""
        wait = asyncio.ensure_future(awaitable)
        if self.stopping:
            wait.cancel()
            raise Interrupted("the run was stopped")
        self.waiting.add(wait)
        try:
            await wait
        except asyncio.CancelledError:
            raise Interrupted("the run was stopped") from None
        finally:
            self.waiting.discard(wait)

    def stop(self) -> None:
        self.stopping = True
        for wait in list(self.waiting):
            wait.cancel()


class AllowedHostsMiddleware:
    """Drop any request whose host is not one of the spider's ``allowed_hosts``.

    Unlike Scrapy's OffsiteMiddleware this ignores ``dont_filter`` and does not
    admit subdomains, and as a downloader middleware it also sees redirect
    targets and robots.txt requests before they are sent. Schemes other than
    http and https (``file:``, ``data:``, ``ftp:``) never pass. A robots.txt that
    redirects to another host of its site passes (:func:`redirected_robots_of_its_site`).
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
        if redirected_robots_of_its_site(request):
            return None
        self.crawler.stats.inc_value("glossary/offsite_blocked")
        logger.debug("Blocked a request outside the allowed hosts: %s", request.url)
        raise OutsideAllowedHosts(f"outside the allowed hosts: {request.url}")


def off_the_web(url: str, location: str) -> bool:
    """Whether a redirect from ``url`` to ``location`` leads to a scheme other than http and https, which Scrapy
    follows no redirect to (a ``Location`` that cannot be read, a bad IPv6 host, is not known to)."""
    try:
        return urlsplit(urljoin(url, location)).scheme.lower() not in ("http", "https")
    except ValueError:
        return False


# The statuses Scrapy's RedirectMiddleware follows a Location of.
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))

# The headers that make a request conditional: only such a request can be answered 304.
CONDITIONAL = {b"If-None-Match", b"If-Modified-Since"}


def unconditional_elsewhere(request: Request, redirected: Request) -> Request:
    """``redirected`` without the validators of ``request``'s page where it leads to another page: an entity
    tag or date is the page's it was sent for, and a moved page's new URL that answered 304 to them (nginx's
    entity tag is a file's time and size, which a rename keeps) would stand as a page not modified that the
    archive has never had."""
    if normalize_url(redirected.url) != normalize_url(request.url):
        for name in CONDITIONAL:
            redirected.headers.pop(name, None)
    return redirected


def _overlong_location(request: Request, response: Response) -> str | None:
    """The ``Location`` of a redirect Scrapy would follow whose host is longer than DNS allows; None for any
    other answer. Read before Scrapy reads it: IDNA's encoding of such a host takes seconds."""
    if response.status not in REDIRECT_STATUSES or request.meta.get("dont_redirect"):
        return None
    location = (response.headers.get(b"Location") or b"").decode("utf-8", "replace")
    return location if leads_to_overlong_host(location, request.url) else None


def _location_for_browsers(request: Request, response: Response) -> Response:
    """``response`` with a ``Location`` whose host is past ASCII written as browsers write it (UTS #46:
    :func:`~glossary_spider.urls.with_ascii_host`), for Scrapy to follow. Scrapy writes such a host by IDNA 2003:
    a redirect to ``faß.de`` led to ``fass.de``, another domain (a site of its own off the allowed hosts)."""
    location = response.headers.get(b"Location")
    if not location or location.isascii() or response.status not in REDIRECT_STATUSES:
        return response
    try:
        joined = urljoin(request.url, location.decode("utf-8").strip())
        target = with_ascii_host(joined)
        if target is None or target == joined:
            return response
    except (UnicodeDecodeError, ValueError):  # Scrapy's reading of it says what is wrong
        return response
    headers = response.headers.copy()
    headers[b"Location"] = target.encode("utf-8")
    return response.replace(headers=headers)


class GuardedRedirectMiddleware(RedirectMiddleware):
    """Scrapy's redirects, with a loop, an over-long chain or an unusable target (no URL, or one longer than
    :data:`~glossary_spider.urls.MAX_URL`) named in the error; for a robots.txt, in its request's meta, for
    :class:`PoliteRobotsTxtMiddleware` to read the redirect as its answer."""

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Request | Response:
        try:
            return self.follow(request, response)
        except RedirectRefused as refused:
            if not is_robots(request):
                raise
            # The robots.txt middleware reads the redirect itself as its answer: as a robots.txt unavailable
            # (RFC 9309: a 4xx, no rules) where redirects never end; as one it could not read (a 5xx, which
            # disallows the host) where the server sent it to a target that is no URL.
            if isinstance(refused, RedirectsEndless):
                request.meta[ROBOTS_NOT_REACHED_META] = str(refused)
            else:
                request.meta[ROBOTS_UNREADABLE_META] = f"robots.txt could not be read ({refused})"
            return response

    def follow(self, request: Request, response: Response) -> Request | Response:
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if (target := _overlong_location(request, response)) is not None:
            raise RedirectRefused(f"redirect to an invalid URL: {target[:200]!r} (a host name longer than the "
                                  f"{MAX_HOST} characters DNS allows)")
        try:
            redirected = super().process_response(request, _location_for_browsers(request, response))
        except ValueError as exc:  # a Location whose host or port cannot be read, or a javascript: or mailto: one
            location = (response.headers.get(b"Location") or b"").decode("latin-1")[:200]
            if off_the_web(request.url, location):
                return response  # as Scrapy leaves a redirect to a data: or file: URL: an answer, not followed
            raise RedirectRefused(f"redirect to an invalid URL: {location!r} ({exc})"[:500]) from None
        except IgnoreRequest:  # Scrapy's "max redirections reached"
            raise RedirectsEndless(f"too many redirects: more than {self.max_redirect_times} "
                                   f"from {chain[0]}") from None
        if not isinstance(redirected, Request):
            return response  # not followed: the answer as the site gave it
        if len(redirected.url) > MAX_URL:
            # Scrapy's URLLENGTH_LIMIT sees the spider's requests only, never a redirect's target.
            raise RedirectRefused(f"redirect to a URL of {len(redirected.url):,} characters, longer than the "
                                  f"{MAX_URL:,} a URL may have: {redirected.url[:200]!r}")
        if redirected.url in chain:
            raise RedirectsEndless("redirect loop: " + " -> ".join([*chain, redirected.url]),
                                   chain[chain.index(redirected.url):])
        if normalize_url(redirected.url) == normalize_url(request.url):
            # The site's own spelling of this very page (its escapes' case, its query's order): fetched, not
            # dropped by the duplicate filter as the page this request already is.
            redirected = redirected.replace(dont_filter=True)
        return unconditional_elsewhere(request, redirected)


class ReadableCharsetMiddleware:
    """A page whose Content-Type or ``<meta>`` names a charset no browser reads a page in
    (:func:`~glossary_spider.charsets.readable`: ``punycode``, ``base64``, ``undefined``) is read by Scrapy's
    components (the meta refresh, selectors) as the extraction reads it: by its ``<meta>`` where the header's
    label is the one ignored and the page's stands, else as one that names none: UTF-8 if it is valid as UTF-8,
    else windows-1252, the web's default, in one pass. Scrapy would decode it with that codec: punycode's takes
    time that grows with the square of the body's length, in Scrapy's process; base64's is no text's (the
    extraction's rule: :func:`~glossary_spider.extraction.page.decode`)."""

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Response:
        if not isinstance(response, TextResponse) or read_bom(response.body)[0] is not None:
            return response
        declared = http_content_type_encoding((response.headers.get(b"Content-Type") or b"").decode("latin-1"))
        if declared is not None and readable(declared):
            return response
        in_page = html_body_declared_encoding(response.body) if isinstance(response, HtmlResponse) else None
        if declared is None and (in_page is None or readable(in_page)):
            return response
        if in_page is not None and readable(in_page):  # the header's label ignored, the page's stands
            return response.replace(encoding=in_page)
        try:
            response.body.decode("utf-8")
        except UnicodeDecodeError:
            return response.replace(encoding="cp1252")
        return response.replace(encoding="utf-8")


_META = re.compile(r"<meta\b([^>]*)>", re.IGNORECASE)
# A tag's attribute with its value (double-quoted, single-quoted or bare), each from where a name begins: tried
# from within one, a name without "=" would be read again from each of its characters.
_ATTRIBUTE = re.compile(r"""(?<![^\s/"'])([^\s/>="']++)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_REFRESH_CONTENT = re.compile(r"\s*(?:[0-9]*\.)?[0-9]+\s*;\s*url=\s*(.*)", re.IGNORECASE | re.DOTALL)


def refresh_hrefs(response: HtmlResponse) -> Iterator[str]:
    """The URL of each meta refresh among the characters of ``response`` Scrapy reads one from, as written, read
    as w3lib reads it: the tag's entities replaced, then its ``content``'s URL."""
    for attributes in _META.findall(response.text[:REFRESH_READ]):
        if "refresh" not in attributes.lower():
            continue
        if "&" in attributes:
            attributes = replace_entities(attributes)
        for name, *values in _ATTRIBUTE.findall(attributes):
            if name.lower() == "content" and (content := _REFRESH_CONTENT.match("".join(values))):
                yield content[1].strip(" \"'")


def refreshes_to_overlong_host(response: HtmlResponse) -> bool:
    """Whether a meta refresh of ``response`` leads to a host longer than DNS allows."""
    return any(leads_to_overlong_host(href, response.url) for href in refresh_hrefs(response))


def refresh_for_browsers(redirected: Request, response: HtmlResponse) -> Request:
    """``redirected``, Scrapy's request for the meta refresh of ``response``, to the host a browser asks for where
    the refresh names one past ASCII (:func:`_location_for_browsers`: w3lib wrote it by IDNA 2003)."""
    written = urlsplit(redirected.url)
    base = get_base_url(response)
    for href in refresh_hrefs(response):
        if href.isascii():
            continue
        try:
            if urlsplit(urljoin(base, safe_url_string(href, response.encoding))).netloc != written.netloc:
                continue  # another tag's than the one Scrapy read
            target = with_ascii_host(urljoin(base, href))
        except ValueError:
            continue
        if target is not None:  # (read as a browser reads it: a backslash ends the host, as a slash does)
            return redirected.replace(url=written._replace(netloc=urlsplit(target.replace("\\", "/")).netloc).geturl())
    return redirected


class GuardedMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Scrapy's meta refresh, for a page that answered with its content. A refresh to the page's own URL (in
    the archive's spelling) is a reload, not a move: the page is kept from the answer in hand, where Scrapy's
    would ask for it again, a request the duplicate filter drops, and the page with it. A refresh back to a
    URL its redirects came by is a loop, named as :class:`GuardedRedirectMiddleware` names one (the spider
    fails each of its URLs). A refresh to what is no URL is ignored, as a browser ignores it, and so is one to a
    host longer than DNS allows (:func:`refreshes_to_overlong_host`): reading it, IDNA's encoding of such a host
    takes seconds (a minute for 10,000 characters)."""

    def __init__(self, settings: Any):
        super().__init__(settings)
        self.ignore_tags = settings.getlist("METAREFRESH_IGNORE_TAGS")

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Request | Response:
        try:
            if isinstance(response, HtmlResponse) and (refreshes_to_overlong_host(response)
                                                       or self.reloads(request, response)):
                return response
            redirected = super().process_response(request, response)
        except ValueError:  # a refresh to what is no URL (http://[::1/x): ignored, as a browser ignores it
            return response
        if not isinstance(redirected, Request):
            return redirected
        redirected = refresh_for_browsers(redirected, response)
        chain = [*request.meta.get("redirect_urls", []), request.url]
        spelled = [normalize_url(url) for url in chain]
        if (target := normalize_url(redirected.url)) in spelled:
            raise RedirectsEndless("redirect loop: " + " -> ".join([*chain, redirected.url]),
                                   chain[spelled.index(target):])
        return unconditional_elsewhere(request, redirected)

    def reloads(self, request: Request, response: HtmlResponse) -> bool:
        """Whether the page's meta refresh, whatever its delay, leads to the page itself."""
        _, url = get_meta_refresh(response, ignore_tags=self.ignore_tags)  # parsed once: Scrapy caches it
        return url is not None and normalize_url(url) == normalize_url(request.url)


class OutageWatch:
    """Gives up on a site that has stopped answering: once no attempt has been answered for ``seconds``
    while at least ``attempts`` in a row got no answer (:func:`~glossary_spider.outcome.no_answer`: no
    response, a 5xx, a 408 or 429, a 401 or 403), the run ends as ``unreachable`` (exit status 6;
    ``--resume`` continues it), its waits ended. Without it a refresh of a large archive whose site is
    down would try every page, each with its retries and time-outs, for hours, holding the archive's lock.
    """

    def __init__(self, crawler: Crawler, seconds: float, attempts: int):
        self.crawler = crawler
        self.seconds = seconds
        self.attempts = attempts
        self.last_answer = time.monotonic()
        self.unanswered = 0
        self.silent_hosts: set[str] = set()  # the hosts of the attempts unanswered since the last answer
        self.given_up = False
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    def spider_opened(self) -> None:
        self.last_answer = time.monotonic()

    def heard(self, request: Request, answered: bool) -> None:
        """One attempt's outcome. Giving up, says so in the stats (``glossary/gave_up``: for how long, after
        how many attempts, which hosts): the attempts it ends are left for ``--resume``, none a failed fetch."""
        if answered:
            self.last_answer = time.monotonic()
            self.unanswered = 0
            self.silent_hosts.clear()
            return
        self.unanswered += 1
        if len(self.silent_hosts) < 10:
            self.silent_hosts.add(urlparse_cached(request).netloc)
        silent = time.monotonic() - self.last_answer
        if self.unanswered >= self.attempts and silent >= self.seconds and not self.given_up:
            self.given_up = True
            logger.info("No attempt answered for %.0f s (%d in a row got none): giving up on the site",
                        silent, self.unanswered)
            self.crawler.stats.set_value("glossary/gave_up", {
                "seconds": round(silent, 1), "attempts": self.unanswered, "hosts": sorted(self.silent_hosts)})
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=UNREACHABLE_REASON))
            self.crawler.signals.send_catch_log(signal=stop_requested)


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, each after a pause: ``GLOSSARY_BACKOFF_BASE`` seconds doubled per
    attempt (at most ``GLOSSARY_BACKOFF_MAX``), or the response's ``Retry-After`` if longer;
    and the :class:`OutageWatch` told of every attempt (``GLOSSARY_GIVE_UP_AFTER``,
    ``GLOSSARY_GIVE_UP_ATTEMPTS``).

    A ``Retry-After`` beyond ``GLOSSARY_RETRY_AFTER_MAX`` is not waited for: the
    response is given up at once. The pause holds one of the crawl's download
    slots, which is the point: the site asked us to slow down.
    """

    def __init__(self, settings: Any):
        super().__init__(settings)
        self.backoff_base = settings.getfloat("GLOSSARY_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("GLOSSARY_BACKOFF_MAX", 60.0)
        self.retry_after_max = settings.getfloat("GLOSSARY_RETRY_AFTER_MAX", 120.0)
        self.pauses: Pauses | None = None
        self.watch: OutageWatch | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        middleware = super().from_crawler(crawler)
        middleware.pauses = Pauses(crawler)
        if (seconds := crawler.settings.getfloat("GLOSSARY_GIVE_UP_AFTER", 600.0)) > 0:
            middleware.watch = OutageWatch(crawler, seconds, crawler.settings.getint("GLOSSARY_GIVE_UP_ATTEMPTS", 10))
        return middleware

    async def pause(self, seconds: float) -> None:
        if self.pauses is None:
            await asyncio.sleep(seconds)
        else:
            await self.pauses.sleep(seconds)

    async def process_response(self, request: Request, response: Response,
                               spider: Spider | None = None) -> Request | Response:
        if self.watch is not None:
            self.watch.heard(request, not no_answer(response.status))
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        retry_after = parse_retry_after(response.headers.get(b"Retry-After"))
        if retry_after is not None and retry_after > self.retry_after_max:
            request.meta["retry_refused"] = f"Retry-After {retry_after:.0f} s is longer than we wait"
            return response
        retry = self.retry(request, f"HTTP {response.status}")
        if retry is None:
            return response
        await self.pause(max(retry_after or 0.0, self.backoff(request)))
        return retry

    async def process_exception(self, request: Request, exception: Exception,
                                spider: Spider | None = None) -> Request | Response | None:
        if request.meta.get("dont_retry") or not isinstance(exception, self.exceptions_to_retry):
            return None
        # An answer Twisted could not read is the server's error, not the connection's: the site answered,
        # and asking again gets the same. What an earlier answer left on a kept-alive connection is none.
        unreadable, stale = bool(malformed(exception)), out_of_step(exception)
        if self.watch is not None:
            self.watch.heard(request, unreadable or stale)
        if unreadable:
            return None
        retry = self.retry(request, exception)
        if retry is not None:
            await self.pause(self.backoff(request))
        return retry

    async def again(self, request: Request, reason: str) -> Request | None:
        """``request`` again after its back-off, for an answer that came whole but cannot be used as it came (a
        compressed body cut short: :class:`glossary_spider.decoding.WholeEncodingMiddleware`), the outage watch
        told the site answered; None once its retries are spent, or where it asks for none."""
        if self.watch is not None:
            self.watch.heard(request, True)
        if request.meta.get("dont_retry"):
            return None
        retry = self.retry(request, reason)
        if retry is not None:
            await self.pause(self.backoff(request))
        return retry

    def retry(self, request: Request, reason: str | Exception) -> Request | None:
        """The request again, or None once its retries are spent: Scrapy's public get_retry_request, with
        this middleware's settings and the request's own ``max_retry_times`` and ``priority_adjust``."""
        return get_retry_request(
            request, spider=self.crawler.spider, reason=reason,
            max_retry_times=request.meta.get("max_retry_times", self.max_retry_times),
            priority_adjust=request.meta.get("priority_adjust", self.priority_adjust),
            give_up_log_level=request.meta.get("give_up_log_level", self.give_up_log_level),
        )

    def backoff(self, request: Request) -> float:
        attempt = request.meta.get("retry_times", 0)
        return min(self.backoff_base * 2**attempt, self.backoff_max)


def parse_retry_after(value: bytes | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isascii() and text.isdigit():  # not "²", which isdigit() takes and float() refuses
        return float(text)
    date = http_date(text)
    return None if date is None else max(0.0, date.timestamp() - time.time())


class PoliteRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt handling, made to follow RFC 9309 and ``Crawl-delay``.

    - a robots.txt that cannot be had (5xx or 429 Too Many Requests after retries, a
      network error, a body that cannot be decoded or inflates past the size limit)
      means "disallow all" for that host, and each refused request says why; one
      answering another 4xx, or whose redirects never reach it (a loop, more than five: RFC 9309 lets a
      crawler take it for unavailable), means "allow all";
    - only the first 500 KiB of robots.txt are downloaded and read, and their rules kept;
    - a ``Crawl-delay`` for our user agent spaces the requests to that host by at least that
      many seconds (Scrapy itself ignores it; :class:`HostPacingMiddleware` enforces it, handed over
      in the request's ``meta``), but never more than ``GLOSSARY_MAX_DELAY``: a longer one is
      capped, and the cap is recorded.
    """

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.unavailable: dict[str, str] = {}
        self.crawl_delays: dict[str, float] = {}
        self.max_delay = crawler.settings.getfloat("GLOSSARY_MAX_DELAY", 60.0)
        self.user_agent = robots_agent(crawler.settings)
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if request.meta.get("dont_obey_robotstxt"):
            return
        if not request.url.startswith(("http:", "https:")):
            return
        netloc = urlparse_cached(request).netloc
        parser = await self.robot_parser(request)
        if parser is None:  # Scrapy hands a parser still being fetched to the first request waiting only
            parser = await self.robot_parser(request)
        if parser is None or netloc in self.unavailable:  # RFC 9309: a robots.txt not to be had disallows all
            reason = self.unavailable.get(netloc, "robots.txt could not be read")
            raise RobotsUnavailable(f"{reason}: the host is treated as disallowed")
        if not parser.allowed(request.url, self.user_agent):
            self.crawler.stats.inc_value("robotstxt/forbidden")
            raise ForbiddenByRobots("Forbidden by robots.txt")
        if delay := self.crawl_delays.get(netloc):
            request.meta[CRAWL_DELAY_META] = delay

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        """robots.txt as RFC 9309 reads it: a 5xx (after its retries), or a body that cannot be read
        (:class:`RobotsTxtSizeMiddleware`), disallows the host; a 4xx allows all; past 500 KiB, the first
        500 KiB are kept. A 429 (after its retries) is the site asking us to slow down, not saying it has
        no rules: it disallows the host, as a 5xx does (and as the major search engines read it)."""
        if (netloc := robots_netloc(request)) is None:
            return response
        if not_reached := request.meta.get(ROBOTS_NOT_REACHED_META):
            # RFC 9309 (2.3.1.2): past five redirects a robots.txt may be taken for unavailable, as a 4xx is.
            self.limit(f"{urlparse_cached(request).scheme}://{netloc}/robots.txt",
                       f"robots.txt not reached ({not_reached}): read as no rules, as a robots.txt not found is")
            return response.replace(body=b"")
        unreadable = request.meta.get(ROBOTS_UNREADABLE_META)
        if not unreadable and 300 <= response.status < 400:  # a redirect Scrapy does not follow: no Location,
            # or one to another scheme (ftp:, mailto:): the rules were not had, as where a server errs
            location = (response.headers.get(b"Location") or b"").decode("latin-1")[:200]
            unreadable = (f"robots.txt could not be read (HTTP {response.status} to {location!r}, not followed)"
                          if location else f"robots.txt could not be read (HTTP {response.status} with no Location)")
        if unreadable or response.status >= 500 or response.status == 429:
            self.unavailable[netloc] = unreadable or f"robots.txt answered HTTP {response.status}"
            return response.replace(body=DISALLOW_ALL)
        if response.status >= 400:
            return response.replace(body=b"")
        if len(response.body) > ROBOTS_MAX_BYTES or "robots_cut" in response.flags:
            self.limit(response.url, "robots.txt is larger than 500 KiB: its first 500 KiB are read")
            return response.replace(body=whole_lines(response.body[:ROBOTS_MAX_BYTES]))
        return response

    def robots_parsed(self, robotparser: Any, request: Request) -> None:
        """A ``Crawl-delay`` for our user agent, kept for the host's requests (capped at ``--max-delay``)."""
        netloc = urlparse_cached(request).netloc
        delay = robotparser.crawl_delay(self.user_agent)
        if not delay or netloc in self.unavailable:
            return
        delay = float(delay)
        if delay > self.max_delay:
            self.limit(f"{urlparse_cached(request).scheme}://{netloc}/robots.txt",
                       f"Crawl-delay {delay:g} s is longer than --max-delay: requests to {netloc} are spaced "
                       f"{self.max_delay:g} s apart instead")
            delay = self.max_delay
        self.crawl_delays[netloc] = delay
        self.crawler.stats.set_value(f"glossary/crawl_delay/{netloc}", delay)

    def process_exception(self, request: Request, exception: Exception, spider: Spider | None = None) -> None:
        """A robots.txt download that failed (after its retries) disallows the host, and is named in one
        line, not a traceback."""
        if (netloc := robots_netloc(request)) is None:
            return
        self.unavailable.setdefault(netloc, f"robots.txt could not be read ({describe(exception)})")
        if not isinstance(exception, IgnoreRequest):
            raise IgnoreRequest(describe(exception))

    def limit(self, url: str, error: str) -> None:
        self.crawler.signals.send_catch_log(signal=limit_reached, url=url, stage="robots", error=error)


def redirected_robots_of_its_site(request: Request) -> bool:
    """Whether ``request`` is a robots.txt request that redirects sent to another host of its site
    (:func:`~glossary_spider.urls.same_site`): RFC 9309 (2.3.1.2) asks crawlers to follow it there."""
    netloc = robots_netloc(request)
    return (netloc is not None and request.url.startswith(("http://", "https://"))
            and same_site(host_of(request.url), host_of(f"http://{netloc}/")))


def whole_lines(text: bytes) -> bytes:
    """``text`` up to its last line break, of any of RFC 9309's kinds (LF, CR, CRLF): what a cut keeps whole;
    and of a line cut in its comment, what comes before the comment (a rule, whole)."""
    end = max(text.rfind(b"\n"), text.rfind(b"\r")) + 1
    comment = text.find(b"#", end)
    return text[:end] + (text[end:comment] + b"\n" if comment >= 0 else b"")


def robots_utf8(body: bytes, content_type: bytes | None) -> bytes:
    """A robots.txt's rules in UTF-8, as RFC 9309 has them and Scrapy's parser reads them (dropping what is not
    UTF-8): one in UTF-16 or UTF-32 by its byte order mark (an editor's), or not UTF-8 and declaring another
    charset (Latin-1), is transcoded rather than read as nothing, its rules lost."""
    marked, bom = read_bom(body)
    if marked is not None:
        return body[len(bom):].decode(marked, "replace").encode("utf-8")
    declared = http_content_type_encoding(content_type.decode("latin-1")) if content_type else None
    if declared in (None, "utf-8", "ascii") or not readable(declared):  # punycode's decoder: minutes for 500 KiB
        return body
    if declared.startswith(("utf-16", "utf-32")) and b"\x00" in body:  # ASCII in UTF-16 is valid UTF-8 too
        width = 2 if declared.startswith("utf-16") else 4
        if declared in ("utf-16", "utf-32"):  # no byte order named, nor marked: the zero bytes' side says it
            declared += "-le" if body[:1] != b"\x00" else "-be"
        return body[:len(body) - len(body) % width].decode(declared, "replace").encode("utf-8")
    try:
        body.decode("utf-8")  # valid UTF-8 is UTF-8, whatever the label says (as a page's is)
    except UnicodeDecodeError:
        try:
            return body.decode(declared, "replace").encode("utf-8")
        except LookupError:
            return body
    return body


class RobotsTxtSizeMiddleware:
    """Reads at most 500 KiB of a robots.txt, however large it is and however it is compressed.

    Scrapy's size limit would refuse a large robots.txt outright, and its
    decompression would inflate a bomb to 16 MiB; either way Scrapy then allows
    everything. Here the download stops once 500 KiB have arrived (keeping them),
    and a compressed one is decoded to 500 KiB at most (:func:`glossary_spider.decoding.head`: any encoding a
    page may come in), before Scrapy's HttpCompressionMiddleware sees the response (this one sits nearer the
    downloader). A stream cut short (but by that stop) or that does not decode, or an encoding not known, is
    unreadable, which disallows the host: half a robots.txt may have lost its Disallow lines.
    """

    def __init__(self, crawler: Crawler):
        self.received: dict[Request, int] = {}
        crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RobotsTxtSizeMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if is_robots(request):
            request.meta.update(download_maxsize=0, download_warnsize=0)  # the 500 KiB cut below is the limit
            request.headers["Accept-Encoding"] = b"gzip, deflate"

    def bytes_received(self, data: bytes, request: Request, spider: Spider | None = None) -> None:
        if not is_robots(request):
            return
        self.received[request] = received = self.received.get(request, 0) + len(data)
        if received > ROBOTS_MAX_BYTES:
            del self.received[request]
            raise StopDownload(fail=False)

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        if not is_robots(request):
            return response
        self.received.pop(request, None)
        flags = list(response.flags)
        if "download_stopped" in flags:
            flags.append("robots_cut")
        encodings = encodings_of(response)
        if not encodings and response.body.startswith(b"\x1f\x8b"):  # a robots.txt.gz served as a file
            encodings = [b"gzip"]
        if is_error(response):  # its status decides (a 4xx allows all, a 5xx disallows), not its body
            body, more = b"", False
        else:
            try:  # a stream cut by the 500 KiB stop is read as far as it goes; one cut otherwise, not at all
                body, more = head(response.body, encodings, ROBOTS_MAX_BYTES, partial="robots_cut" in flags)
            except BodyUndecodable as exc:
                return self.unreadable(request, response, f"robots.txt {exc.what}")
        if more and "robots_cut" not in flags:
            flags.append("robots_cut")
        response.headers.pop("Content-Encoding", None)
        return response.replace(body=robots_utf8(body, response.headers.get("Content-Type")), flags=flags)

    @staticmethod
    def unreadable(request: Request, response: Response, why: str) -> Response:
        """A robots.txt not to be read: why, for :class:`PoliteRobotsTxtMiddleware`, which disallows the host."""
        request.meta[ROBOTS_UNREADABLE_META] = why
        response.headers.pop("Content-Encoding", None)
        return response.replace(body=b"")


class HostPacingMiddleware:
    """Politeness as the server sees it: with a delay, a host's next request starts no sooner than
    the delay after its previous exchange with that host ended (its response, or its failure, came
    back), one exchange at a time per host, as Heritrix paces a host.

    Scrapy spaces the requests it *sends* to a host by the download slot's delay
    (``DOWNLOAD_DELAY``, as AutoThrottle raises it, or a ``DOWNLOAD_SLOTS`` entry), so a request
    that reaches the server late shortens the next gap as the server sees it, and a slow answer
    overlaps the next request. A request has surely arrived once its answer is back, so counting
    from there the server sees every request at least the delay after the one before, however
    late either was on its way. A robots.txt ``Crawl-delay`` (:data:`CRAWL_DELAY_META`) counts the
    same way when it is the longer, from the robots.txt exchange on. With no delay (``--delay 0``) a
    host still has at most its download slot's concurrency of exchanges at once: Scrapy's downloader
    lets one more start while the one it just scheduled has not yet counted as transferring.

    It sits next to the downloader, with only Scrapy's DownloaderStats between them, so a request it
    lets through is sent (and counted as sent, a request dropped while it waited is not), and its
    exchange ends in this middleware's ``process_response`` or ``process_exception``.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.hosts: dict[str, HostTurn] = {}
        self.exchanges: dict[Request, HostTurn] = {}
        self.pauses = Pauses(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostPacingMiddleware:
        return cls(crawler)

    def delay(self, key: str, request: Request) -> float:
        """The host's delay now: its download slot's, as AutoThrottle lengthens it, never shorter than the delay
        set for it (AutoThrottle holds a slot's delay under its AUTOTHROTTLE_MAX_DELAY, 30 s, even where the delay
        asked for is longer); or its Crawl-delay, where that is longer."""
        asked = float(self.crawler.settings.getdict("DOWNLOAD_SLOTS").get(key, {}).get(
            "delay", self.crawler.settings.getfloat("DOWNLOAD_DELAY")))
        slot = self.crawler.engine.downloader.slots.get(key)
        delay = max(float(slot.delay), asked) if slot is not None else asked
        return max(delay, request.meta.get(CRAWL_DELAY_META, 0.0))

    def concurrency(self, key: str) -> int:
        slot = self.crawler.engine.downloader.slots.get(key)
        return slot.concurrency if slot is not None else self.crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        key = self.crawler.engine.downloader.get_slot_key(request)
        host = self.hosts.get(key) or self.hosts.setdefault(key, HostTurn(self.concurrency(key)))
        # One exchange at a time with a delay; else as many as the host's slot allows.
        turn = host.lock if self.delay(key, request) else host.slots
        if turn.locked():
            await self.pauses.wait(turn.acquire())
        else:  # free: taken at once, without a task to wait on
            await turn.acquire()
        try:
            # Read after the previous exchange: AutoThrottle adjusts the slot's delay as each answer comes.
            wait = host.ended + self.delay(key, request) - time.monotonic()
            if wait > 0:
                await self.pauses.sleep(wait)
        except BaseException:
            turn.release()
            raise
        self.exchanges[request] = (host, turn)

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        self.ended(request)
        return response

    def process_exception(self, request: Request, exception: Exception, spider: Spider | None = None) -> None:
        self.ended(request)

    def ended(self, request: Request) -> None:
        if (exchange := self.exchanges.pop(request, None)) is not None:
            host, turn = exchange
            host.ended = time.monotonic()
            turn.release()


class HostTurn:
    """One host's turn for :class:`HostPacingMiddleware`: its lock is held for the length of an
    exchange with a delay, one of its ``slots`` for one without, and ``ended`` is when the last
    exchange ended."""

    def __init__(self, concurrency: int) -> None:
        self.lock = asyncio.Lock()
        self.slots = asyncio.Semaphore(concurrency)
        self.ended = float("-inf")
