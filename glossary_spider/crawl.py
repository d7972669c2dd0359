"""Run the glossary spider in this process, as ``glossary crawl`` and ``refresh`` do.

Scrapy (most of a second of imports) is imported as a crawl begins, not with this module: a run refused as it
opens (its arguments, a held lock) says so without it.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any

from glossary_spider.params import BadArgument, parse_min_free_mib
from glossary_spider.plan import RunPlan
from glossary_spider.workers import hold_stops, raise_open_files

if TYPE_CHECKING:
    from scrapy.settings import Settings


def crawl_settings(db: str, plan: RunPlan, *, progress: bool = False, log_level: str = "WARNING",
                   scrapy_log: bool = True) -> Settings:
    """The project's settings, with the archive's path and the run's options on top; without
    ``scrapy_log`` only this project's lines reach the log (see ``extensions.OwnLogOnly``)."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("glossary_spider.settings", priority="project")
    settings.setdict({"GLOSSARY_DB": db, "GLOSSARY_PROGRESS": progress, "LOG_LEVEL": log_level,
                      "GLOSSARY_SCRAPY_LOG": scrapy_log, **plan.settings()}, priority="cmdline")
    if (least := min_free_mib()) is not None:
        settings.set("GLOSSARY_MIN_FREE_MIB", least, priority="cmdline")
    return settings


def min_free_mib() -> float | None:
    """The free space (MiB) a run leaves on the archive's disk as the environment's ``GLOSSARY_MIN_FREE_MIB`` says
    (the setting of that name, which the command line's runs take from there; 0: no floor); None where unset.
    A value that is no such number is refused (:class:`CannotCrawlHere`)."""
    given = os.environ.get("GLOSSARY_MIN_FREE_MIB", "").strip()
    if not given:
        return None
    try:
        return parse_min_free_mib(given)
    except BadArgument:
        raise CannotCrawlHere(f"GLOSSARY_MIN_FREE_MIB={given[:40]!r} is not a number of MiB, 0 or more: set it to "
                              "one (0: no floor), or unset it (the default is 200)") from None


class CannotCrawlHere(Exception):
    """This process cannot run a crawl (no temporary directory, too few open files allowed): the message
    says why, and what to do."""


# Files a crawl holds open: Python, Scrapy and Twisted's own, the archive (with its -wal, -shm and lock),
# the queues on disk and the workers' sockets; and at most two more for each request in flight.
FILES_BASE = 64
FILES_PER_REQUEST = 2


def check_environment(concurrency: int) -> None:
    """Make sure a crawl of ``concurrency`` requests at once can run here, before it starts: a temporary
    directory for its queues, and enough open files (the soft limit is raised to the hard one if need
    be). A crawl that met either lack midway failed with a traceback, or hung. And the environment's
    ``GLOSSARY_MIN_FREE_MIB`` read (:func:`min_free_mib`)."""
    min_free_mib()
    try:
        tempfile.gettempdir()
    except FileNotFoundError:
        raise CannotCrawlHere("no usable temporary directory for the crawl's request queues (TMPDIR, /tmp, /var/tmp "
                              "and the working directory cannot be written): set TMPDIR to a writable directory"
                              ) from None
    need = FILES_BASE + FILES_PER_REQUEST * concurrency
    if (hard := raise_open_files(need)) is not None:
        raise CannotCrawlHere(f"this process may open only {hard} files at once (ulimit -n), and a crawl of "
                              f"{concurrency} requests at once needs {need}: raise the limit, or lower --concurrency")


def run_spider(settings: Settings, plan: RunPlan) -> dict[str, Any]:
    """Crawl as ``plan`` says until done; returns the spider's final stats (with ``glossary/run_id``).
    Pending requests wait in Scrapy's disk queues, in a directory of this run's own (:class:`PrivateQueues`)."""
    from scrapy.crawler import CrawlerProcess

    from glossary_spider.queues import PrivateQueues
    from glossary_spider.spiders.glossary import GlossarySpider

    queues = PrivateQueues()
    settings.set("JOBDIR", queues.path, priority="cmdline")
    try:
        process = CrawlerProcess(settings)
        crawler = process.create_crawler(GlossarySpider)
        process.crawl(crawler, plan=plan)
        process.start()
        return dict(crawler.stats.get_stats())
    finally:
        # The reactor gave SIGINT and SIGTERM back to their defaults as it stopped: one more (a second
        # Ctrl-C, a service manager's SIGTERM to every process) would kill what reports the run now.
        hold_stops()
        plan.close()
        queues.remove()
