"""A refresh's conditional requests (RFC 9110, 13): which of a page's archived validators are sent back
(:func:`conditional_headers`), how long ago a page was fetched (:func:`age_of`), what moment a sitemap's
``lastmod`` stands for (:func:`lastmod_of`) and when it says nothing of a page (:func:`lags`), and whether a 304
Not Modified contradicts the request it answers (:func:`contradicts`)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from scrapy import Request
from scrapy.http import Response

from glossary_spider.extraction.structured import parse_time
from glossary_spider.httpdates import http_date, shifted
from glossary_spider.storage.records import CLOCK_SLACK

# How much older than a page's last fetch its sitemap lastmod must be for a refresh to skip the page: the
# site's clock may run behind ours. A page edited within a day before its last fetch is asked again,
# conditionally (a 304 when it has not changed since).
LASTMOD_SLACK = timedelta(days=1)
# A lastmod that is a date alone stands for the whole of that day in whatever zone the site keeps: the day
# ends last at UTC-12, 36 hours after it began in UTC (lastmod_of).
_DAY_ENDS_AT_LAST = timedelta(hours=36)
_DATE_ALONE = re.compile(r"\d{4}-\d{2}-\d{2}")
# How far ahead of ours a site's clock may run: a Last-Modified further ahead of the page's fetch is not sent back.
CLOCK_DRIFT = timedelta(hours=1)


def lastmod_of(value: Any) -> datetime | None:
    """A sitemap's ``lastmod`` as the latest moment it may stand for: a time as written; a date alone (``2026-12-02``)
    as that day's end in the zone where it ends last. Read as its start in UTC, an evening's edit on a site west
    of UTC fell before our fetch of that afternoon, and the page went unasked for a week."""
    moment = parse_time(value)
    if moment is not None and _DATE_ALONE.fullmatch(value.strip()):
        return shifted(moment, _DAY_ENDS_AT_LAST)
    return moment


def conditional_headers(info: dict[str, Any]) -> dict[str, bytes]:
    """The validators a re-fetch of an archived page sends back, from its ``info`` (the archive's ``etag``,
    ``last_modified`` and ``full_fetch`` for it): its entity tag, and its Last-Modified where that is a
    sound date (:func:`sound_date`)."""
    headers = {}
    if info.get("etag"):
        headers["If-None-Match"] = _header_bytes(info["etag"])
    if sound_date(info.get("last_modified"), parse_time(info.get("full_fetch"))):
        headers["If-Modified-Since"] = _header_bytes(info["last_modified"])
    return headers


def contradicts(request: Request, response: Response) -> bool:
    """Whether a 304 Not Modified names validators other than those its request asked about: an entity tag
    other than the one sent (a refresh sends the page's one tag, which may hold a comma: RFC 9110, 8.8.3, so
    the header is not read as a list), or (where the request sent no entity tag, or the answer named none) a
    Last-Modified other than If-Modified-Since (a later one; or an earlier one, a page put back as it was). A
    304 carries the current representation's (RFC 9110, 15.4.5), so the page has changed, whatever the status
    says: a cache or a server answering 304 to whatever is asked. The page is then asked for again,
    unconditionally. An entity tag that matches decides alone, as If-None-Match does (RFC 9110, 13.2.2): a
    server that dates every answer the moment it sends it has not changed the page."""
    sent, tag = request.headers.get(b"If-None-Match"), response.headers.get(b"ETag")
    if sent and tag:
        return _opaque(tag) != _opaque(sent)
    since, modified = request.headers.get(b"If-Modified-Since"), response.headers.get(b"Last-Modified")
    if (asked := http_date(since)) and (given := http_date(modified)):
        return given != asked
    return False


def sound_date(value: str | None, fetched: datetime | None) -> bool:
    """Whether a page's archived Last-Modified is a validator to send back: an HTTP date (RFC 9110, 13.1.3: a
    server ignores any other) no later than the moment the page was fetched, give or take a clock's drift. A
    server may not date a page ahead of its answer (8.8.2.1), and one that did would have a later edit, dated
    now, compared against the future date and found "not modified" for years."""
    date = http_date(value)
    if date is None:
        return False
    return fetched is None or date <= fetched + CLOCK_DRIFT


def _opaque(tag: bytes) -> bytes:
    """An entity tag for the weak comparison (RFC 9110, 8.8.3.2): ``W/"x"`` and ``"x"`` match."""
    return tag.strip().removeprefix(b"W/")


def age_of(fetched: datetime | None) -> timedelta | None:
    """How long ago ``fetched`` was; None for never, and for a time "in the future" (a clock that ran ahead)."""
    if fetched is None:
        return None
    age = datetime.now(timezone.utc) - fetched
    return None if age < -CLOCK_SLACK else age


def lags(lastmod: datetime, last_modified: str | None) -> bool:
    """Whether a sitemap's ``lastmod`` for a page is older (by more than :data:`LASTMOD_SLACK`) than the
    ``Last-Modified`` the page itself was served with: that sitemap lags behind its pages, and says nothing
    of whether one changed since."""
    served = http_date(last_modified)
    if served is None or (earliest := shifted(served, -LASTMOD_SLACK)) is None:
        return False
    return lastmod < earliest


def _header_bytes(value: str) -> bytes:
    """A validator sent back byte for byte as the site sent it: a capture keeps it decoded as Latin-1
    (:func:`~glossary_spider.spiders.glossary.to_fetch`), which Scrapy would encode as UTF-8 (a byte past
    ASCII would then never match)."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # not from a response header
        return value.encode()
