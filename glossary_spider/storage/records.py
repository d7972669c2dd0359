"""What the archive records of a fetch, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

# How far past this machine's clock a recorded time may be before it is taken for the work of a clock
# that ran ahead (a dead battery, NTP not yet synced at boot), and its age for unknown.
CLOCK_SLACK = timedelta(minutes=10)


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class Fetch:
    """One HTTP exchange, as the archive records it."""

    url: str
    http_status: int | None
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    headers: str | None = None  # the response's header block, for WARC export
    fetched_at: str = ""

    def __post_init__(self) -> None:
        self.fetched_at = self.fetched_at or now()
