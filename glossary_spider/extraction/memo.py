"""What one page's extraction reads again and again, read once: an element's folded text and a link's
archive URL (:class:`PageMemo`).
"""

from __future__ import annotations

from typing import Any

from lxml.html import HtmlElement

from glossary_spider.extraction.tree import text_of
from glossary_spider.urls import MAX_CACHED_URL, MAX_URL, in_page_encoding, link_url, origin_of


_UNSEEN: Any = object()  # what PageMemo.urls gives for an href not resolved yet

# An href from the site's root, or with a scheme or host of its own, resolves alike on every page of
# the site: the same navigation and related links, resolved once rather than once per page. Kept for
# the site of the page extracted last (a crawl's pages are of one site or a few), at most
# MAX_SITE_URLS of them (a site of ever new links starts them again): a few MB, tens at the very most.
_SITE_WIDE = ("/", "http://", "https://")
MAX_SITE_URLS = 10_000
_SITE: dict[str, dict[str, str | None]] = {}  # origin (urls.origin_of) -> {href: archive URL}


class PageMemo:
    """What one page's extraction asks for again and again, computed once: an element's folded text
    (:func:`text_of`) and a link's archive URL. Holds the elements it has seen, so that lxml keeps
    their proxies (and identities) for the page's lifetime."""

    def __init__(self, base: str, page: str | None = None, encoding: str = "utf-8"):
        self.base = base
        self.page = page  # the page's own URL, as the archive spells it
        self.encoding = encoding  # the page's, in which its links' queries are written (in_page_encoding)
        self.texts: dict[HtmlElement, str] = {}
        self.urls: dict[str, str | None] = {}  # hrefs relative to this page
        self.site_urls = _site_urls(base)
        self.too_long = 0  # hrefs leading to a URL longer than MAX_URL
        # The page's hrefs as they were before its hidden elements were dropped from its tree (None: none was):
        # a crawl follows the links of a collapsed menu still.
        self.hrefs: list[str] | None = None
        # Whether the page has a <noscript>, and a link to follow that is no <a> (an image map's <area>, a <link
        # rel=next>), as the walk of its tree for its scripts found them (None: not looked for); its dialogs and
        # SVG images, as that walk found them.
        self.noscript: bool | None = None
        self.pager: bool | None = None
        self.dialogs: list[HtmlElement] | None = None
        self.svgs: list[HtmlElement] | None = None

    def text(self, element: HtmlElement) -> str:
        text = self.texts.get(element)
        if text is None:
            text = self.texts[element] = text_of(element)
        return text

    def url(self, href: str) -> str | None:
        """The archive URL ``href`` leads to (:func:`~glossary_spider.urls.link_url`); None for none, for a
        link within the page (``#fn1``, or the page's own URL with a fragment: ``x.html#sec``), or for one
        longer than :data:`MAX_URL`."""
        if not href.isascii():
            href = in_page_encoding(href, self.encoding)
        # A sentinel, not KeyError: many asks are the first for their URL, and raising costs.
        url = self.site_urls.get(href, _UNSEEN)
        if url is _UNSEEN:
            url = self.urls.get(href, _UNSEEN)
            if url is _UNSEEN:
                url = link_url(href, self.base)
                if url is not None and len(url) > MAX_URL:
                    url, self.too_long = None, self.too_long + 1
                if href.startswith(_SITE_WIDE) and len(href) <= MAX_CACHED_URL:
                    if len(self.site_urls) >= MAX_SITE_URLS:
                        self.site_urls.clear()
                    self.site_urls[href] = url
                else:
                    self.urls[href] = url
        if url == self.page and "#" in href:
            return None
        return url


def _site_urls(base: str) -> dict[str, str | None]:
    """The hrefs resolved so far on pages of ``base``'s site, if it is the site of the page before."""
    for origin, found in _SITE.items():  # one at most; a URL that starts with an origin (and its "/") is of it
        if base.startswith(origin):
            return found
    origin = origin_of(base)
    if origin is None:
        return {}
    found = _SITE.get(origin)
    if found is None:
        _SITE.clear()
        found = _SITE[origin] = {}
    return found
