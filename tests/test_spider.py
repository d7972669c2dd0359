import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.test import get_crawler

from glossary_spider.middlewares import AllowedHostsMiddleware
from glossary_spider.params import LIVE_HOME, LIVE_SITEMAP, BadArgument, RunArgs
from glossary_spider.plan import RunPlan, open_run
from glossary_spider.spiders.glossary import GlossarySpider


def spider_for(**arguments):
    return GlossarySpider(plan=RunPlan(RunArgs.parse(arguments)))


def test_without_start_urls_the_live_site_is_crawled(tmp_path):
    plan = open_run(tmp_path / "live.db", {"mode": "crawl"})
    plan.close()
    assert (plan.params.start_urls, plan.params.sitemap_urls) == ([LIVE_HOME], [LIVE_SITEMAP])
    assert plan.allowed_hosts == {"term.greeks.live"}


def test_spider_arguments_as_scrapy_passes_them():
    spider = spider_for(start_urls="http://127.0.0.1:8000/a/,http://127.0.0.1:8000/term/x",
                        sitemap_urls="http://localhost:8000/sitemap.xml", follow="0", max_pages="3")
    assert spider.start_urls == ["http://127.0.0.1:8000/a/", "http://127.0.0.1:8000/term/x/"]
    assert spider.allowed_hosts == {"127.0.0.1:8000", "localhost:8000"}
    assert spider.params.follow is False and spider.params.max_pages == 3


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"start_urls": "term.greeks.live"}, r"not an http\(s\) URL"),
    ({"follow": "maybe"}, "follow must be 1 or 0"),
    ({"start_urls": "http://x/", "max_pages": "0"}, "at least 1"),
    ({"start_urls": "http://x/", "max_pages": "ten"}, "whole number"),
    ({"mode": "recrawl"}, "mode must be crawl or refresh, not 'recrawl'"),
    ({"resume": "yes please"}, "resume must be 1 or 0"),
    ({"max_age": "-1"}, "max_age must be 0 to 1000000"),
    ({"delay": "soon"}, "delay must be a number, not 'soon'"),
    ({"concurrency": "100"}, "concurrency must be 1 to 64"),
    ({"workers": "1_0"}, "workers must be a whole number, not '1_0'"),  # Python's int() reads 10
    ({"max_pages": "\u0663"}, "max_pages must be a whole number"),  # an Arabic-Indic 3
    ({"delay": "0_5"}, "delay must be a number, not '0_5'"),
    ({"sitemap": "http://x/sitemap.xml"}, "unknown argument 'sitemap'"),
    # What glossary crawl or glossary refresh has no option for: a Scrapyd job took it, and ran.
    ({"mode": "refresh", "start_urls": "http://x/"}, r"a refresh takes no start_urls \(glossary refresh has no such"),
    ({"mode": "refresh", "max_pages": "2"}, "a refresh takes no max_pages"),
    ({"start_urls": "http://x/", "max_age": "30"}, "a crawl takes no max_age"),
])
def test_bad_spider_arguments_name_the_problem(kwargs, message):
    with pytest.raises(BadArgument, match=message):
        RunArgs.parse(kwargs)


def test_a_run_recorded_with_an_argument_its_mode_no_longer_takes_resumes_without_it():
    args = RunArgs.from_record("refresh", '{"start_urls": ["http://x/"], "max_pages": 2, "delay": 0.5}')
    assert (args.start_urls, args.max_pages, args.delay) == ((), None, 0.5)


def test_pages_are_extracted_in_scrapys_process_once_no_worker_is_left():
    """Workers that kept dying, or were let go, leave the crawl's pages to Scrapy's own process: each is
    extracted there, as a polite crawl's are, rather than recorded as failed."""
    import asyncio

    from glossary_spider.extraction import extract_page
    from glossary_spider.replica import ReplicaSite
    from glossary_spider.workers import BatchingPool, extract_for_staging

    site, base = ReplicaSite(40), "http://127.0.0.1:8000"
    path = site.glossary_paths()[3]
    body, url = site.render(path, base).body, base + path
    spider = spider_for(start_urls=[base + "/"])
    spider.extractors = BatchingPool(1, extract_for_staging)
    spider.extractors.shutdown()
    extraction, prepared, reading = asyncio.run(spider.extract(body, url, "text/html"))
    assert extraction.record == extract_page(body, url, "text/html").record and prepared is None
    assert reading is not None and spider.extractors is False


def test_a_resume_names_only_the_arguments_that_differ():
    original = RunArgs.from_record("crawl", '{"start_urls": ["http://x/"], "max_pages": 50, "delay": 0}')
    same = RunArgs.parse({"mode": "crawl", "resume": "1", "start_urls": "http://x/", "delay": "0"})
    assert same.differences(original) == []
    other = RunArgs.parse({"start_urls": "http://x/", "max_pages": 20, "delay": 0, "follow": "1"})
    assert other.differences(original) == ["max_pages 50, not 20"]


def test_a_resume_takes_urls_an_earlier_release_recorded_in_its_own_spelling_for_those_given():
    """Releases before extractor version 5 wrote a query's escapes that are not UTF-8 as U+FFFD: the resume of a
    run one of them stopped was refused for the scheduler's unchanged command line ('started with start_urls
    ...?q=caf%EF%BF%BD, not ...?q=caf%E9')."""
    original = RunArgs.from_record("crawl", '{"start_urls": ["http://x/a/", "http://x/?b=%C3%A9&q=caf%EF%BF%BD"], '
                                            '"sitemap_urls": ["http://x/s.xml?q=%EF%BF%BD"]}')
    same = RunArgs.parse({"mode": "crawl", "resume": "1", "start_urls": "http://x/a/,http://x/?q=caf%E9&b=%C3%A9",
                          "sitemap_urls": "http://x/s.xml?q=%FF"})
    assert same.differences(original) == []
    other = RunArgs.parse({"start_urls": "http://x/a/,http://x/?q=caf%E8", "sitemap_urls": "http://x/s.xml?q=%FF"})
    assert other.differences(original) == [
        "start_urls http://x/a/,http://x/?b=%C3%A9&q=caf%EF%BF%BD, not http://x/a/,http://x/?q=caf%E8"]


@pytest.mark.parametrize(("url", "allowed"), [
    ("http://term.greeks.live/definition/x/", True),
    ("https://term.greeks.live/", True),
    ("https://learn.greeks.live/", False),
    ("https://evil.term.greeks.live/", False),
    ("http://127.0.0.1/", False),
    ("http://localhost/", False),
    ("http://[::1]/", False),
    ("file:///etc/passwd", False),
    ("data:text/html,hi", False),
])
def test_allowed_hosts_are_checked_before_any_request(url, allowed):
    crawler = get_crawler(GlossarySpider)
    crawler.spider = spider_for(start_urls="https://term.greeks.live/")
    middleware = AllowedHostsMiddleware.from_crawler(crawler)
    request = Request(url, dont_filter=True)  # dont_filter does not open the gate
    if allowed:
        assert middleware.process_request(request) is None
    else:
        with pytest.raises(IgnoreRequest):
            middleware.process_request(request)


def _disk_queue(tmp_path, window, start=False):
    from scrapy import Spider

    from glossary_spider.queues import RequestDiskQueue, StartRequestDiskQueue

    class Pages(Spider):
        name = "pages"

        def parse_page(self, response):
            return None

        def failed(self, failure):
            return None

    crawler = get_crawler(Pages, {"GLOSSARY_QUEUE_MEMORY": window})
    crawler.spider = spider = Pages()
    return (StartRequestDiskQueue if start else RequestDiskQueue).from_crawler(crawler, str(tmp_path / "queue")), spider


def test_the_disk_queue_gives_back_requests_with_the_spiders_callbacks(tmp_path):
    queue, spider = _disk_queue(tmp_path, window=0)
    request = Request("https://term.greeks.live/a/", callback=spider.parse_page, errback=spider.failed,
                      meta={"listed": True}, priority=3, dont_filter=True)
    queue.push(request)
    queue.push(Request("https://term.greeks.live/b/"))
    assert request.callback == spider.parse_page  # the request pushed is left as it was
    assert not queue.held  # both were written to disk
    later, first = queue.pop(), queue.pop()  # last in, first out
    assert later.url.endswith("/b/") and later.callback is None
    assert (first.url, first.callback, first.errback, first.meta, first.priority, first.dont_filter) == (
        request.url, spider.parse_page, spider.failed, {"listed": True}, 3, True)
    with pytest.raises(ValueError):  # as Scrapy's own queue: the scheduler keeps such a request in memory
        queue.push(Request("https://term.greeks.live/c/", callback=lambda response: None))


@pytest.mark.parametrize("start", [False, True], ids=["requests", "start requests"])
def test_the_disk_queue_keeps_its_newest_requests_in_memory_and_the_older_on_disk(tmp_path, start):
    """The requests found as a crawl goes come newest first; its start requests (100,000 of them took 20 s
    to queue through Scrapy's own start queue, fetching nothing meanwhile) in the order given."""
    queue, spider = _disk_queue(tmp_path, window=4, start=start)
    unpicklable = Request("https://term.greeks.live/odd/", callback=lambda response: None)
    queue.push(unpicklable)
    for n in range(10):
        queue.push(Request(f"https://term.greeks.live/{n}/", callback=spider.parse_page, meta={"n": n}))
    assert len(queue) == 11
    assert 0 < len(queue.held) <= 4  # the rest went to disk
    assert queue.peek().url.endswith("/0/" if start else "/9/")
    popped = [queue.pop() for _ in range(11)]
    assert queue.pop() is None and len(queue) == 0
    # In the disk queue's own order, as the disk alone would give them; the request that cannot be pickled
    # waited in memory, its callback as it was.
    pages = [r for r in popped if r is not unpicklable]
    assert [r.meta["n"] for r in pages] == (list(range(10)) if start else list(range(9, -1, -1)))
    assert all(r.callback == spider.parse_page for r in pages)
    assert unpicklable in popped


def test_a_crawl_queues_its_start_urls_in_the_projects_own_queue():
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    assert settings["SCHEDULER_START_DISK_QUEUE"] == "glossary_spider.queues.StartRequestDiskQueue"


def test_the_collector_is_paced_while_the_engine_runs_and_restored_after():
    import gc

    from scrapy import signals

    from glossary_spider.extensions import CollectorPace

    before = gc.get_threshold()
    crawler = get_crawler(settings_dict={"GLOSSARY_GC_THRESHOLD": "5000,7,9"})
    pace = CollectorPace.from_crawler(crawler)
    try:
        crawler.signals.send_catch_log(signals.engine_started)
        assert gc.get_threshold() == (5000, 7, 9)
        assert gc.get_freeze_count() > 1000  # what the process held at the start is left out of full walks
    finally:
        crawler.signals.send_catch_log(signals.engine_stopped)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    assert pace.threshold == (5000, 7, 9)
    with pytest.raises(NotConfigured):
        CollectorPace.from_crawler(get_crawler(settings_dict={"GLOSSARY_GC_THRESHOLD": []}))


def test_robots_txt_groups_are_matched_against_our_product_token():
    """RFC 9309 matches a group by the crawler's product token; matched against the whole User-Agent
    header, the "github" of the URL in it made a group for GitHub's crawler ours."""
    from protego import Protego

    from glossary_spider import settings

    others = Protego.parse("User-agent: github\nDisallow: /\n\nUser-agent: *\nAllow: /\n")
    assert not others.can_fetch("https://term.greeks.live/term/vega/", settings.USER_AGENT)
    assert others.can_fetch("https://term.greeks.live/term/vega/", settings.ROBOTSTXT_USER_AGENT)
    ours = Protego.parse("User-agent: glossary_spider\nDisallow: /term/\n\nUser-agent: *\nAllow: /\n")
    assert not ours.can_fetch("https://term.greeks.live/term/vega/", settings.ROBOTSTXT_USER_AGENT)


@pytest.mark.parametrize("robots, allowed, delay", [
    ("User-agent: gloss\nDisallow: /\nCrawl-delay: 30\n\nUser-agent: *\nCrawl-delay: 2\n", True, 2.0),
    ("User agent GLOSSARY_SPIDER/2.1 # written as a header has it\nDisallow: /term/\n", False, None),
    ("User-agent: glossary-spider\nDisallow: /\n\nUser-agent: glossary_spider_beta\nDisallow: /\n", True, None),
    ("User-agent: other\nUser-agent: glossary_spider\nDisallow: /term/\nCrawl-delay: 5\n", False, 5.0),
])
def test_our_robots_txt_group_is_the_one_of_our_whole_product_token(robots, allowed, delay):
    """RFC 9309 (2.2.1): the group whose product token is ours, matched whole and without case (a version
    after it is no part of the token); none of ours, the "*" group. Protego alone matched a prefix."""
    from scrapy.utils.test import get_crawler

    from glossary_spider import settings
    from glossary_spider.robots import ProductTokenRobotParser

    crawler = get_crawler(settings_dict={"ROBOTSTXT_USER_AGENT": settings.ROBOTSTXT_USER_AGENT})
    parser = ProductTokenRobotParser.from_crawler(crawler, robots.encode())
    assert parser.allowed("https://term.greeks.live/term/vega/", settings.ROBOTSTXT_USER_AGENT) is allowed
    assert parser.crawl_delay(settings.ROBOTSTXT_USER_AGENT) == delay


def test_a_page_listed_twice_in_the_sitemaps_goes_by_its_newest_lastmod():
    """The last entry read won, older or not: a page the sitemaps said had changed since its last fetch
    was skipped by a refresh, for as long as the lastmod is trusted."""
    from datetime import datetime, timezone

    url = "http://127.0.0.1:8000/definition/x/"
    spider = spider_for(sitemap_urls="http://127.0.0.1:8000/sitemap.xml", mode="refresh")
    spider.known = {url: {"status": "live"}}
    entries = [{"loc": url, "lastmod": "2026-11-29T10:00:00+00:00"}, {"loc": url, "lastmod": "2020-01-01"}]
    assert [e["loc"] for e in spider.sitemap_filter(entries, [])] == [url, url]
    assert spider.lastmods[url] == datetime(2026, 11, 29, 10, tzinfo=timezone.utc)


def test_a_lastmod_without_a_time_stands_for_the_end_of_its_day_where_it_ends_last():
    """A date alone stands for its whole day in the site's zone. Read as midnight UTC, "2026-12-02" from a site at
    UTC-8, whose page was edited at 21:00 that day (05:00 UTC the 3rd), was older by a day than a fetch at 02:00
    UTC the 3rd (18:00 there, before the edit): the refresh skipped the page for a week. The day ends last at
    UTC-12, 36 hours after its UTC midnight; a lastmod with a time is the moment it writes."""
    from datetime import datetime, timezone

    from glossary_spider.validators import LASTMOD_SLACK, lastmod_of

    edited = datetime(2026, 12, 3, 5, tzinfo=timezone.utc)
    fetched = datetime(2026, 12, 3, 2, tzinfo=timezone.utc)
    assert lastmod_of("2026-12-02") == datetime(2026, 12, 3, 12, tzinfo=timezone.utc) > edited
    assert not lastmod_of(" 2026-12-02 ") <= fetched - LASTMOD_SLACK  # so the page is asked again
    assert lastmod_of("2026-12-02T21:00:00-08:00") == edited
    assert lastmod_of("9999-12-31") is None and lastmod_of("no date") is None


def test_scrapys_components_are_all_ours_but_the_three_left_out():
    """Scrapy imports whatever its base lists name, so the project's lists leave out the components it
    switches off; a Scrapy that adds, moves or drops one must be looked at here, not followed blindly."""
    from scrapy.settings import default_settings as scrapy

    from glossary_spider import settings

    for name in ("EXTENSIONS_BASE", "DOWNLOADER_MIDDLEWARES_BASE"):
        theirs = {path: order for path, order in getattr(scrapy, name).items()
                  if path not in settings.GLOSSARY_LEFT_OUT}
        assert getattr(settings, name) == theirs
    assert not (settings.COOKIES_ENABLED or settings.TELNETCONSOLE_ENABLED or settings.REMOTE_CONTROL_ENABLED)


@pytest.mark.parametrize("given", ["lots", "-1", "nan", ""])
def test_a_jobs_free_space_floor_that_is_no_number_refuses_the_run(tmp_path, given):
    """Given as a setting (scrapy crawl -s, a Scrapyd job's setting=), a GLOSSARY_MIN_FREE_MIB of no number was read
    only as the first batch was written: a traceback at the close, the run recorded done, no floor kept."""
    from scrapy.settings import Settings

    with pytest.raises(BadArgument, match="GLOSSARY_MIN_FREE_MIB must be a number of MiB, 0 or more"):
        open_run(tmp_path / "floor.db", {"mode": "crawl", "start_urls": "http://127.0.0.1:8000/"},
                 settings=Settings({"GLOSSARY_MIN_FREE_MIB": given}))
    plan = open_run(tmp_path / "floor.db", {"mode": "crawl", "start_urls": "http://127.0.0.1:8000/"},
                    settings=Settings({"GLOSSARY_MIN_FREE_MIB": "0"}))
    plan.close()
