"""Crawl arguments, validated where they enter (the CLI and ``scrapy crawl -a``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from glossary_spider.urls import host_of, normalize_url

LIVE_HOME = "https://term.greeks.live/"
LIVE_SITEMAP = "https://term.greeks.live/sitemap_index.xml"


class BadArgument(ValueError):
    """An argument a user gave is wrong: the message names it and says why."""


def _split(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [v.strip() for v in value if v and v.strip()]


def _given(value: str | Iterable[str] | None) -> bool:
    """Whether an option was given at all, even if only with empty values."""
    return value is not None and (isinstance(value, str) or bool(list(value)))


def check_url(value: str, what: str) -> str:
    url = normalize_url(value) if "://" in value else None
    if url is None:
        raise BadArgument(f"{what} {value!r} is not an http(s) URL (e.g. https://term.greeks.live/)")
    return url


def read_urls_file(path: str | Path) -> list[str]:
    """URLs from a file, one per line; blank lines and ``#`` comments ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadArgument(f"--urls-file {path}: no such file") from None
    except IsADirectoryError:
        raise BadArgument(f"--urls-file {path}: is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadArgument(f"--urls-file {path}: cannot be read ({exc})") from None
    urls = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            urls.append(check_url(line, f"--urls-file {path} line {number}:"))
    return urls


def parse_bool(value: str | bool | int, what: str) -> bool:
    if isinstance(value, (bool, int)):
        return bool(value)
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise BadArgument(f"{what} must be 1 or 0, not {value!r}")


@dataclass
class CrawlParams:
    start_urls: list[str] = field(default_factory=list)
    sitemap_urls: list[str] = field(default_factory=list)
    follow: bool = True
    max_pages: int | None = None

    @classmethod
    def build(
        cls,
        start_urls: str | Iterable[str] | None = None,
        sitemap_urls: str | Iterable[str] | None = None,
        urls_file: str | None = None,
        follow: str | bool = True,
        max_pages: str | int | None = None,
        default_to_live: bool = True,
    ) -> CrawlParams:
        starts = [check_url(u, "start URL") for u in _split(start_urls)]
        if urls_file:
            starts += read_urls_file(urls_file)
        sitemaps = [check_url(u, "sitemap URL") for u in _split(sitemap_urls)]
        if not starts and not sitemaps:
            if urls_file:
                raise BadArgument(f"--urls-file {urls_file} lists no URL (only blank lines and # comments): "
                                  "put one URL a line in it")
            if _given(start_urls) or _given(sitemap_urls):
                raise BadArgument("no URL to start from: the start URLs and sitemaps given are all empty")
            if default_to_live:
                # Only when no start was asked for at all: an empty one is a mistake, not a wish for the live site.
                starts, sitemaps = [LIVE_HOME], [LIVE_SITEMAP]
        pages = None
        if max_pages not in (None, ""):
            try:
                pages = int(max_pages)  # type: ignore[arg-type]
            except ValueError:
                raise BadArgument(f"max_pages must be a whole number, not {max_pages!r}") from None
            if pages < 1:
                raise BadArgument("max_pages must be at least 1")
        return cls(list(dict.fromkeys(starts)), list(dict.fromkeys(sitemaps)), parse_bool(follow, "follow"), pages)

    @property
    def allowed_hosts(self) -> set[str]:
        return {host_of(u) for u in self.start_urls + self.sitemap_urls}
