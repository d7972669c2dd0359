"""What one page's extraction reads again and again, read once: an element's text (whole, folded,
or only its start), a link's archive URL (:class:`PageMemo`), and the elements of a few names, found
in one pass over the tree (:func:`elements_by_tag`).

An element's text is gathered by libxml2 in one call (:func:`raw_text`), not chunk by chunk in Python.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from lxml.html import HtmlElement

from glossary_spider.urls import MAX_CACHED_URL, normalize_url, origin_of


def xpath(expression: str, **options: Any) -> etree.XPath:
    """``expression`` compiled once, its evaluations spared the EXSLT regular-expression functions
    (which lxml registers at every call unless told not to; no expression here uses them) and its
    strings plain ``str`` rather than lxml's, which remember the element they came from."""
    return etree.XPath(expression, regexp=False, smart_strings=False, **options)


def raw_text(element: HtmlElement) -> str:
    """All the text under an element, as ``"".join(element.itertext())`` reads it (comments are not
    text), gathered by libxml2 in one call rather than chunk by chunk in Python."""
    return etree.tostring(element, method="text", encoding=str, with_tail=False)


def fold(text: str) -> str:
    """``text`` with each run of white space made one space, and none at either end."""
    # Most paragraphs are written on one line: a text whose only white space is single inner spaces
    # (a printable one holds no white space but the space) is already folded, and costs no split.
    if text.isprintable() and "  " not in text and text.strip(" ") == text:
        return text
    return " ".join(text.split())


def text_of(element: HtmlElement) -> str:
    """An element's text with white space folded (scripts are gone by now)."""
    return fold(raw_text(element))


def text_head(element: HtmlElement, size: int) -> str:
    """The start of :func:`text_of`: all of it if it is at most ``size`` characters long, else more than
    ``size`` of its first characters. Reads no further into the element than that."""
    if not len(element):  # its own text only (a heading, most paragraphs): no iterator needed
        return fold(element.text or "")
    chunks: list[str] = []
    read = 0
    check = size
    for chunk in element.itertext():
        chunks.append(chunk)
        read += len(chunk)
        if read > check:
            folded = fold("".join(chunks))
            if len(folded) > size:
                return folded
            check = read + size
    return fold("".join(chunks))


def _is_sole_element(child: HtmlElement) -> bool:
    """An element's only child (and only text): an element, not a comment, with no text after it."""
    return isinstance(child.tag, str) and not child.tail


def elements_by_tag(root: HtmlElement, *tags: str) -> dict[str, list[HtmlElement]]:
    """The elements of each of ``tags`` under ``root``, in document order, found in one pass over the
    tree: a pass costs more than what is done with the few elements it finds."""
    found: dict[str, list[HtmlElement]] = {tag: [] for tag in tags}
    for element in root.iter(*tags):
        found[element.tag].append(element)
    return found


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

    def __init__(self, base: str):
        self.base = base
        self.texts: dict[HtmlElement, str] = {}
        self.urls: dict[str, str | None] = {}  # hrefs relative to this page
        self.site_urls = _site_urls(base)

    def text(self, element: HtmlElement) -> str:
        text = self.texts.get(element)
        if text is None:
            # An element without children (most paragraphs) has only its own text: no iterator needed.
            if not len(element):
                text = fold(element.text or "")
            # One that only wraps another (a heading or list item that is one link) has its child's text,
            # which the caller will most often ask for next.
            elif len(element) == 1 and not element.text and _is_sole_element(child := element[0]):
                text = self.texts[child] = fold((child.text or "") if not len(child) else raw_text(child))
            else:
                text = fold(raw_text(element))
            self.texts[element] = text
        return text

    def url(self, href: str) -> str | None:
        # A sentinel, not KeyError: many asks are the first for their URL, and raising costs.
        url = self.site_urls.get(href, _UNSEEN)
        if url is _UNSEEN:
            url = self.urls.get(href, _UNSEEN)
            if url is _UNSEEN:
                url = normalize_url(href, self.base)
                if href.startswith(_SITE_WIDE) and len(href) <= MAX_CACHED_URL:
                    if len(self.site_urls) >= MAX_SITE_URLS:
                        self.site_urls.clear()
                    self.site_urls[href] = url
                else:
                    self.urls[href] = url
        return url


def _site_urls(base: str) -> dict[str, str | None]:
    """The hrefs resolved so far on pages of ``base``'s site, if it is the site of the page before."""
    origin = origin_of(base)
    if origin is None:
        return {}
    found = _SITE.get(origin)
    if found is None:
        _SITE.clear()
        found = _SITE[origin] = {}
    return found
