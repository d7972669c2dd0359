"""Dates a site writes in HTTP headers (``Last-Modified``, ``Retry-After``, ``If-Modified-Since`` echoed) and in
RSS (``pubDate``): RFC 5322's form, read by the standard library, none of them trusted.

``email.utils.parsedate_to_datetime`` raises ``ValueError`` for a date that is none, ``TypeError`` and
``IndexError`` for some, and ``OverflowError`` for a year past what a C long holds
(``Mon, 01 Jan 99999999999999999999 00:00:00 GMT``): one page's header once stopped every refresh of its archive
at its start. Every such date reads here as no date at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime


def http_date(value: bytes | str | None) -> datetime | None:
    """``value`` as a moment, in the zone it names, and in UTC where it names none; None where it is no date
    that a :class:`~datetime.datetime` can hold. An HTTP date is in GMT whatever its form (RFC 9110, 5.6.7:
    asctime's names no zone), and ``-0000`` is UTC where the writer's own zone is unknown (RFC 5322, 3.3): the
    standard library leaves both without a zone, which Python then reads in the local one, so that a
    ``Retry-After`` once meant hours more or less under another ``TZ``."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    try:
        moment = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def shifted(moment: datetime, by: timedelta) -> datetime | None:
    """``moment + by``, or None past the first or the last moment a :class:`~datetime.datetime` holds (a site's
    date of year 1 or 9999, moved by a margin)."""
    try:
        return moment + by
    except OverflowError:
        return None
