"""The ``glossary`` spider: routes requests and hands responses on.

Discovery comes from sitemaps and from following links on the allowed hosts.
What a page holds is computed by :func:`glossary_spider.extraction.extract_page`;
what is kept is the pipeline's business.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from scrapy import Request
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.spiders import SitemapSpider
from twisted.python.failure import Failure

from glossary_spider.extraction import extract_page
from glossary_spider.items import FailureItem, GoneItem, NotModifiedItem, PageItem
from glossary_spider.params import CrawlParams
from glossary_spider.storage import Fetch
from glossary_spider.urls import GLOSSARY_TYPES, classify, host_of, is_followable, normalize_url

logger = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
PAGE_META = {"handle_httpstatus_list": [304, 404, 410]}


class GlossarySpider(SitemapSpider):
    """Crawl the glossary.

    Arguments (``-a name=value``): ``start_urls`` and ``sitemap_urls`` (comma-separated),
    ``urls_file``, ``follow`` (1 or 0), ``max_pages``.
    """

    name = "glossary"
    sitemap_rules = [("", "parse_page")]

    def __init__(
        self,
        start_urls: str | list[str] | None = None,
        sitemap_urls: str | list[str] | None = None,
        urls_file: str | None = None,
        follow: str | bool = True,
        max_pages: str | int | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.params = CrawlParams.build(start_urls, sitemap_urls, urls_file, follow, max_pages)
        self.start_urls = self.params.start_urls
        self.sitemap_urls = self.params.sitemap_urls
        self.allowed_hosts = self.params.allowed_hosts
        self.allowed_domains = sorted(self.allowed_hosts)
        self.pages_sent = 0

    async def start(self) -> AsyncIterator[Any]:
        for url in self.sitemap_urls:
            yield Request(url, self._parse_sitemap, errback=self.fetch_failed)
        for url in self.start_urls:
            yield self.page_request(url, start=True)

    def page_request(self, url: str, start: bool = False, listed: bool = False) -> Request:
        meta = {**PAGE_META, "start": start, "listed": listed}
        return Request(url, self.parse_page, errback=self.fetch_failed, meta=meta)

    # -- sitemaps -------------------------------------------------------------------------

    def sitemap_filter(self, entries: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for entry in entries:
            loc = normalize_url(entry.get("loc") or "")
            if loc and host_of(loc) in self.allowed_hosts:
                yield {**entry, "loc": loc}
            else:
                self.crawler.stats.inc_value("glossary/sitemap_offsite")

    def _parse_sitemap(self, response: Response) -> Iterator[Request]:
        for request in super()._parse_sitemap(response):
            if request.callback == self.parse_page:
                yield self.page_request(request.url, listed=True)
            else:
                yield request.replace(errback=self.fetch_failed)

    # -- pages ----------------------------------------------------------------------------

    def parse_page(self, response: Response) -> Iterator[Any]:
        url = normalize_url(response.url) or response.url
        fetch = to_fetch(response, url)
        if response.status in (404, 410):
            yield GoneItem(fetch)
            return
        if response.status == 304:
            yield NotModifiedItem(fetch)
            return
        content_type = fetch.content_type or ""
        if not isinstance(response, TextResponse) or not content_type.split(";")[0].strip().lower() in HTML_TYPES:
            yield FailureItem(url, "parse", f"not an HTML page ({content_type or 'no content type'})",
                              http_status=response.status, fetch=fetch)
            return
        try:
            extraction = extract_page(response.text, url)
        except Exception as exc:  # a page that breaks extraction must not stop the crawl
            logger.exception("Extraction failed for %s", url)
            yield FailureItem(url, "parse", "extraction failed", f"{type(exc).__name__}: {exc}",
                              response.status, fetch)
            return
        meta = response.meta
        keep = extraction.record["page_type"] in GLOSSARY_TYPES or meta.get("start") or meta.get("listed")
        if keep and not self.limit_reached():
            self.pages_sent += 1
            yield PageItem(fetch, extraction)
        if self.params.follow and not self.limit_reached():
            for link in extraction.outlinks:
                if host_of(link) in self.allowed_hosts and is_followable(link):
                    yield self.page_request(link)

    def limit_reached(self) -> bool:
        return self.params.max_pages is not None and self.pages_sent >= self.params.max_pages

    def fetch_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        url = normalize_url(request.url) or request.url
        if failure.check(HttpError):
            response = failure.value.response
            yield FailureItem(url, "fetch", f"HTTP {response.status}", None, response.status, to_fetch(response, url))
            return
        error = failure.value
        message = str(error) or type(error).__name__
        if "robots.txt" in message or "outside the allowed hosts" in message:
            # Policy, not failure: record it only for pages the user asked for by name.
            if request.meta.get("start"):
                yield FailureItem(url, "fetch", message)
            return
        yield FailureItem(url, "fetch", type(error).__name__, message[:500], None, Fetch(url, None))


def to_fetch(response: Response, url: str) -> Fetch:
    headers = response.headers

    def header(name: bytes) -> str | None:
        value = headers.get(name)
        return value.decode("latin-1") if value else None

    block = "\r\n".join(
        f"{k.decode('latin-1')}: {v.decode('latin-1')}" for k, values in headers.items() for v in values
    )
    return Fetch(
        url=url,
        http_status=response.status,
        body=response.body,
        content_type=header(b"Content-Type"),
        etag=header(b"ETag"),
        last_modified=header(b"Last-Modified"),
        headers=block,
    )
