"""What the spider hands to the pipeline: plain dataclasses, one per kind of outcome."""

from __future__ import annotations

from dataclasses import dataclass, field

from glossary_spider.extraction import Extraction
from glossary_spider.outcome import no_answer
from glossary_spider.storage import Fetch
from glossary_spider.storage.staging import Prepared


@dataclass
class PageItem:
    """A page that answered 200, with what extraction made of it and the URLs it led to."""

    fetch: Fetch
    extraction: Extraction
    discovered: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)  # URLs that redirected here
    prepared: Prepared | None = None  # what staging needs, where the extraction worker made it
    chain: int = 0  # pages in a row without text of their own that led to ``discovered`` (the trap guard's count)


@dataclass
class VisitItem:
    """A page fetched only to discover others (a listing), and the URLs it led to."""

    url: str
    discovered: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)  # URLs that redirected here
    chain: int = 0  # as a PageItem's


@dataclass
class NotModifiedItem:
    """A conditional request answered 304."""

    fetch: Fetch


@dataclass
class GoneItem:
    """A page that answered 404 or 410."""

    fetch: Fetch


@dataclass
class MovedItem:
    """A URL that redirected elsewhere: a page the archive has there has gone from it. ``fetch`` is the
    redirect (its status, and the Location it gave); the page it led to comes with an item of its own."""

    fetch: Fetch


@dataclass
class FailureItem:
    """A request that failed, or a response that could not be archived."""

    url: str
    stage: str
    error: str
    detail: str | None = None
    http_status: int | None = None
    fetch: Fetch | None = None
    settles: list[str] = field(default_factory=list)  # other URLs not to fetch: those a cut link trap dropped

    @property
    def unanswered(self) -> bool:
        """A fetch that got no answer (:func:`~glossary_spider.outcome.no_answer`): still to do, for a
        resumed run. A refusal by policy (robots.txt, the allowed hosts) is not one: it was never sent."""
        return self.stage == "fetch" and self.fetch is not None and no_answer(self.fetch.http_status)

@dataclass
class LimitItem:
    """Something a limit cut (sitemaps past a count or depth, a capped Crawl-delay): an error
    row, but neither a failed page nor a fetched one."""

    url: str
    stage: str
    error: str
    detail: str | None = None
