"""Downloader middleware that keeps every request on the allowed hosts."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

from glossary_spider.urls import host_of

logger = logging.getLogger(__name__)


class AllowedHostsMiddleware:
    """Drop any request whose host is not one of the spider's ``allowed_hosts``.

    Unlike Scrapy's OffsiteMiddleware this ignores ``dont_filter`` and does not
    admit subdomains, and as a downloader middleware it also sees redirect
    targets and robots.txt requests before they are sent.
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
        scheme = request.url.partition(":")[0].lower()
        if scheme in ("http", "https") and host_of(request.url) in allowed:
            return None
        self.crawler.stats.inc_value("glossary/offsite_blocked")
        logger.debug("Blocked a request outside the allowed hosts: %s", request.url)
        raise IgnoreRequest(f"outside the allowed hosts: {request.url}")
