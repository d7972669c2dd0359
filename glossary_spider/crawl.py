"""Run the glossary spider in this process, as ``glossary crawl`` and ``refresh`` do."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from glossary_spider.params import CrawlParams
from glossary_spider.spiders.glossary import GlossarySpider


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
    scrapy_log: bool = True,
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
        "GLOSSARY_SCRAPY_LOG": scrapy_log,
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
    """Crawl until done; returns the spider's final stats (with ``glossary/run_id``).

    Pending requests wait in Scrapy's disk queues, in a job directory beside the
    archive that lives only as long as the crawl (``<archive>.jobs/``), so memory
    stays flat however many pages the sitemaps list. Resuming does not rely on it:
    the archive's frontier does that.
    """
    jobs = Path(settings["GLOSSARY_DB"] + ".jobs")
    shutil.rmtree(jobs, ignore_errors=True)  # left by a killed crawl; the caller holds the archive's lock
    settings.set("JOBDIR", str(jobs), priority="cmdline")
    try:
        return _run(settings, params, **spider_args)
    finally:
        shutil.rmtree(jobs, ignore_errors=True)


def _run(settings: Settings, params: CrawlParams, **spider_args: Any) -> dict[str, Any]:
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
