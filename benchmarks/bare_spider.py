"""The baseline: a bare Scrapy spider that fetches the given URLs and yields ``{"url": ...}`` for
each, doing nothing else.

It runs with glossary_spider's own settings less the archive pipeline and the project's
extensions, so the difference to `glossary crawl` is what extraction, storage and the
crawl's own bookkeeping cost.
"""

from __future__ import annotations

import sys
from pathlib import Path

from scrapy import Request, Spider
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings


class BareSpider(Spider):
    name = "bare"

    def __init__(self, urls_file: str, **kwargs):
        super().__init__(**kwargs)
        self.urls = [line.strip() for line in Path(urls_file).read_text().splitlines() if line.strip()]

    async def start(self):
        for url in self.urls:
            yield Request(url, self.parse)

    def parse(self, response):
        yield {"url": response.url}


def main() -> None:
    urls_file, concurrency = sys.argv[1], int(sys.argv[2])
    settings = Settings()
    settings.setmodule("glossary_spider.settings", priority="project")
    settings.setdict({
        "ITEM_PIPELINES": {}, "EXTENSIONS": {}, "LOG_LEVEL": "WARNING", "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
    }, priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, urls_file=urls_file)
    process.start()
    print(crawler.stats.get_value("response_received_count", 0))


if __name__ == "__main__":
    main()
