"""Scrapy settings of glossary_spider: polite defaults for the live site."""

from glossary_spider import __version__

BOT_NAME = "glossary_spider"
SPIDER_MODULES = ["glossary_spider.spiders"]
NEWSPIDER_MODULE = "glossary_spider.spiders"

USER_AGENT = f"glossary_spider/{__version__} (+https://github.com/glossary-spider/glossary_spider)"
ROBOTSTXT_OBEY = True
# The product token robots.txt groups are matched against (RFC 9309 2.2.1); unset, Scrapy matches them
# against the whole User-Agent, whose URL makes "github" or "com" a group of ours.
ROBOTSTXT_USER_AGENT = "glossary_spider"
# Matched as RFC 9309 matches it, the whole token: Protego alone took a group for "gloss" as ours.
ROBOTSTXT_PARSER = "glossary_spider.robots.ProductTokenRobotParser"

# Politeness towards the live site; `glossary crawl --delay 0 --concurrency N` overrides for loopback.
CONCURRENT_REQUESTS = 4
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
# The delay is a floor, as --delay promises: Scrapy's default jitter takes it down to half.
DOWNLOAD_DELAY_JITTER = 0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# The items of one response processed at once. The pipeline writes synchronously, so there is
# nothing to overlap; and Scrapy starts this many tasks for every response it hands to a callback
# (100 by default), a fifth of the loop's time in a crawl without a delay.
CONCURRENT_ITEMS = 1

DOWNLOAD_TIMEOUT = 30
# Names resolved to IPv6 addresses as well as IPv4 ones (Scrapy's default resolver asks for IPv4
# alone, so an IPv6-only host or an [::1] URL was "host not found"). It has no timeout of its own:
# DOWNLOAD_TIMEOUT bounds a request, its name's resolution included.
TWISTED_DNS_RESOLVER = "scrapy.resolver.CachingHostnameResolver"
RETRY_TIMES = 2
GLOSSARY_BACKOFF_BASE = 1.0  # seconds before the first retry, doubled for each one after
GLOSSARY_BACKOFF_MAX = 60.0
GLOSSARY_RETRY_AFTER_MAX = 120.0  # a longer Retry-After is given up at once
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
# Scrapy's HTTP/1.1 handler with each answer's status line and headers bounded (glossary_spider.handlers).
DOWNLOAD_HANDLERS = {"http": "glossary_spider.handlers.BoundedHeadDownloadHandler",
                     "https": "glossary_spider.handlers.BoundedHeadDownloadHandler"}
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
REDIRECT_MAX_TIMES = 5
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19's remote control: an HTTP server in every crawl that runs the Python code it is sent (behind a
# token written to a file in the user's home, which a killed crawl leaves there). A crawl that runs from
# cron needs no door into its process.
REMOTE_CONTROL_ENABLED = False
# Scrapy imports every component its base lists name, disabled or not: the remote control imports aiohttp,
# the cookies middleware tldextract and requests, a fifth of a small crawl's CPU. The lists below are
# Scrapy's own less the three components switched off above (tests/test_spider.py holds them to Scrapy's).
GLOSSARY_LEFT_OUT = (
    "scrapy.extensions.remote_control.RemoteControl",
    "scrapy.extensions.telnet.TelnetConsole",
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
)
EXTENSIONS_BASE = {
    "scrapy.extensions.corestats.CoreStats": 0,
    "scrapy.extensions.logcount.LogCount": 0,
    "scrapy.extensions.memusage.MemoryUsage": 0,
    "scrapy.extensions.memdebug.MemoryDebugger": 0,
    "scrapy.extensions.closespider.CloseSpider": 0,
    "scrapy.extensions.feedexport.FeedExporter": 0,
    "scrapy.extensions.logstats.LogStats": 0,
    "scrapy.extensions.spiderstate.SpiderState": 0,
    "scrapy.extensions.throttle.AutoThrottle": 0,
}
DOWNLOADER_MIDDLEWARES_BASE = {
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": 50,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": 300,
    "scrapy.downloadermiddlewares.downloadtimeout.DownloadTimeoutMiddleware": 350,
    "scrapy.downloadermiddlewares.defaultheaders.DefaultHeadersMiddleware": 400,
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": 500,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": 550,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": 590,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": 600,
    "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": 750,
    "scrapy.downloadermiddlewares.stats.DownloaderStats": 850,
    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware": 900,
}
LOG_LEVEL = "INFO"

# Scrapy's offsite, robots.txt, retry and redirect middlewares, replaced by stricter ones in their places; a
# compressed body decoded here, each stream to its end, or refused (Scrapy's decompression keeps a cut one);
# and the pacing that makes the delay hold at the server.
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "glossary_spider.middlewares.AllowedHostsMiddleware": 50,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "glossary_spider.middlewares.PoliteRobotsTxtMiddleware": 100,
    "glossary_spider.middlewares.RobotsTxtSizeMiddleware": 595,
    "glossary_spider.decoding.WholeEncodingMiddleware": 594,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "glossary_spider.middlewares.BackoffRetryMiddleware": 550,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "glossary_spider.middlewares.GuardedRedirectMiddleware": 600,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "glossary_spider.middlewares.GuardedMetaRefreshMiddleware": 580,
    # Before the meta refresh reads a page's text: a charset no browser reads pages in is none.
    "glossary_spider.middlewares.ReadableCharsetMiddleware": 585,
    # Next to the downloader: a host's delay counts from the end of its previous exchange. Before Scrapy's
    # DownloaderStats (850), so that a request dropped while it waited for its turn is not counted as sent.
    "glossary_spider.middlewares.HostPacingMiddleware": 840,
}
# Pending requests wait on disk (glossary_spider.crawl), named without a search of the spider; the
# newest GLOSSARY_QUEUE_MEMORY of them in memory (about 1 KiB each).
SCHEDULER_DISK_QUEUE = "glossary_spider.queues.RequestDiskQueue"
SCHEDULER_START_DISK_QUEUE = "glossary_spider.queues.StartRequestDiskQueue"
GLOSSARY_QUEUE_MEMORY = 5000
# A resumed crawl's duplicate filter starts out knowing what the stopped run fetched; it takes two requests
# for one when the archive spells their URLs the same.
DUPEFILTER_CLASS = "glossary_spider.spiders.glossary.ResumingDupeFilter"
REQUEST_FINGERPRINTER_CLASS = "glossary_spider.spiders.glossary.ArchiveFingerprinter"
ITEM_PIPELINES = {
    "glossary_spider.pipelines.ArchivePipeline": 300,
}
EXTENSIONS = {
    # Scrapy's CloseSpider conditions (--max-requests, --max-duration, ...), with waits dropped at once.
    "scrapy.extensions.closespider.CloseSpider": None,
    "glossary_spider.extensions.Budgets": 0,
    "glossary_spider.extensions.Progress": 500,
    "glossary_spider.extensions.OwnLogOnly": 0,
    "glossary_spider.extensions.StopWatch": 510,
    "glossary_spider.extensions.CollectorPace": 520,
}
GLOSSARY_GC_THRESHOLD = (10_000, 10, 10)  # gc.set_threshold while the engine runs; () leaves Python's own

GLOSSARY_DB = "data/glossary.db"
GLOSSARY_BATCH_SIZE = 50
GLOSSARY_BATCH_SECONDS = 2.0
# Processes extracting pages beside Scrapy's own (0: extract in Scrapy's process). None: one per core
# less one for a crawl without a delay (--delay 0), none for a polite one, whose loop is mostly idle.
GLOSSARY_EXTRACT_WORKERS = None
# Pages a run extracts in Scrapy's process before its workers start, their number not being set: a
# worker's start-up costs more than a small run's extraction.
GLOSSARY_EXTRACT_WORKERS_AFTER = 100
# Whether a writer process writes the run's batches to the archive, so that Scrapy's loop goes on fetching
# while they are written. None: when pages are extracted in worker processes (above) on three cores or more.
GLOSSARY_WRITER_PROCESS = None
GLOSSARY_PROGRESS = False
GLOSSARY_SCRAPY_LOG = True  # False: only glossary_spider's own log lines (the glossary command without -v)
# Link traps (glossary_spider.traps): URLs of one family requested before its pages must have
# text of their own, how many more each such page earns, how many pages in a row without text
# of their own a chain of links may run, what "text of its own" means, and a cap on path depth.
GLOSSARY_TRAP_BUDGET = 20
GLOSSARY_TRAP_GROWTH = 10
GLOSSARY_TRAP_CHAIN = 6
GLOSSARY_TRAP_MIN_WORDS = 20
GLOSSARY_TRAP_SIMILARITY = 0.8
GLOSSARY_MAX_PATH_SEGMENTS = 12
# The quality gate between extraction and history (glossary_spider.gate): off writes every version unchecked.
GLOSSARY_GATE = True
GLOSSARY_GATE_SAME_PAGE_MIN = 5
GLOSSARY_GATE_SAME_PAGE_SHARE = 0.1
GLOSSARY_GATE_SOFT_404_SHARE = 0.5
GLOSSARY_GATE_GONE_SHARE = 0.5
GLOSSARY_GATE_MOVED_SHARE = 0.5
GLOSSARY_GATE_NOT_PAGES_SHARE = 0.5
GLOSSARY_GATE_MIN_PAGES = 10
GLOSSARY_GATE_SHARE_DROP = 0.25
GLOSSARY_GATE_WORDS_RATIO = 0.5

# Limits a hostile site meets (README, Reliability): none is reached by a real site.
GLOSSARY_MAX_DELAY = 60.0  # a longer robots.txt Crawl-delay is capped to this (glossary crawl --max-delay)
# A run gives up on a site that has answered nothing for this long, while this many attempts in a row
# got no answer: it ends as unreachable (exit 6), for --resume (glossary crawl --give-up-after; 0: never).
GLOSSARY_GIVE_UP_AFTER = 600.0
GLOSSARY_GIVE_UP_ATTEMPTS = 10
GLOSSARY_STOP_GRACE = 5.0  # after SIGTERM / SIGINT, seconds before the requests still in flight are abandoned
# ... and seconds from the stop by which the run's staged pages must be judged and archived: past it, they are
# left for --resume to archive, and the stop is not held up by a long run's close
GLOSSARY_STOP_ARCHIVE_WITHIN = 8.0
# A crawl or refresh stops, as a full disk stops it (archive_error; --resume continues), once the file system
# holding the archive has less than this many MiB free: a site of endless distinct pages would fill it (0: never)
GLOSSARY_MIN_FREE_MIB = 200.0
GLOSSARY_MAX_SITEMAPS = 2000  # sitemaps one run reads
# A refresh skips a page whose sitemap lastmod is older than its last fetch only while that fetch is at most
# this many days old; after, it asks again (conditionally: unchanged costs a 304): a sitemap whose lastmod
# lags behind its pages hides their changes no longer than this (0: never skip on lastmod).
GLOSSARY_LASTMOD_TRUST_DAYS = 7.0
GLOSSARY_MAX_SITEMAP_DEPTH = 4  # sitemap indexes nested within each other
GLOSSARY_MAX_SITEMAP_URLS = 500_000  # page URLs one run takes from sitemaps
# Wall-clock ceiling of one run: stopped as a budget (exit 4), continued by --resume.
CLOSESPIDER_TIMEOUT = 6 * 3600
