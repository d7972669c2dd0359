"""Run the glossary spider in this process, as ``glossary crawl`` and ``refresh`` do."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from glossary_spider.params import CrawlParams
from glossary_spider.spiders.glossary import GlossarySpider

logger = logging.getLogger(__name__)



def crawl_settings(
    db: str,
    *,
    command: str = "crawl",
    args: dict[str, Any] | None = None,
    concurrency: int | None = None,
    delay: float | None = None,
    ignore_robots: bool = False,
    progress: bool = False,
    log_level: str = "WARNING",
    extra: dict[str, Any] | None = None,
) -> Settings:
    settings = Settings()
    settings.setmodule("glossary_spider.settings", priority="project")
    overrides: dict[str, Any] = {
        "GLOSSARY_DB": db,
        "GLOSSARY_COMMAND": command,
        "GLOSSARY_ARGS": args or {},
        "GLOSSARY_PROGRESS": progress,
        "LOG_LEVEL": log_level,
    }
    if concurrency is not None:
        overrides.update(CONCURRENT_REQUESTS=concurrency, CONCURRENT_REQUESTS_PER_DOMAIN=concurrency)
    if delay is not None:
        overrides["DOWNLOAD_DELAY"] = delay
        if delay == 0:
            overrides["AUTOTHROTTLE_ENABLED"] = False
    if ignore_robots:
        overrides["ROBOTSTXT_OBEY"] = False
    overrides.update(extra or {})
    settings.setdict(overrides, priority="cmdline")
    return settings


def run_spider(settings: Settings, params: CrawlParams, **spider_args: Any) -> dict[str, Any]:
    """Crawl until done; returns the spider's final stats (with ``glossary/run_id``)."""
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(GlossarySpider)
    process.crawl(
        crawler,
        start_urls=params.start_urls,
        sitemap_urls=params.sitemap_urls,
        follow=params.follow,
        max_pages=params.max_pages,
        **spider_args,
    )
    process.start()
    return dict(crawler.stats.get_stats())
