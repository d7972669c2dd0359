"""The main content of a page: its text blocks, sections and links, whatever the theme.

The signals used survive a theme change (SITE.md, last part): the page's
``<h1>`` and the block that holds it; semantic elements for navigation and
chrome; headings whose text is ``Glossary`` or ``Discover More``; headings that
are links; link targets; the ``Meaning ⎊`` prefix; ``rel`` attributes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from lxml.html import HtmlElement

from glossary_spider.urls import classify, normalize_url

HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
CHROME = {"nav", "footer", "aside", "script", "style", "noscript", "template", "form", "button",
          "svg", "iframe", "figure", "img", "picture", "video", "audio", "select", "textarea", "input"}
CONTAINERS = {"div", "section", "article", "main", "header", "span", "center", "body", "details"}
# Deeper than this, nested markup is read as one block of text rather than walked.
MAX_DEPTH = 200
MEANING = re.compile(r"^\s*Meaning\s*⎊\s*")
FACET_LINE = re.compile(r"^\s*(?P<facet>[\w][\w -]{0,40}?)\s*⎊\s*:?\s*(?P<text>.*)$", re.DOTALL)
STRAY_LEAD = re.compile(r"^(?:⎊|:)\s+")
META_TEXT = re.compile(r"^\s*(Published|Posted on|Updated|Author|By|Categories|Category|Filed under)\b\s*:?", re.I)
PAGER_TEXT = re.compile(r"^(next|previous|prev|more|older posts|newer posts|older|newer|«|»|›|‹|\d+)$", re.I)
SECTION_NAMES = {"glossary": "glossary", "discover more": "discover_more"}


def text_of(element: HtmlElement) -> str:
    """An element's text with white space folded (comments are not text; scripts are gone by now)."""
    return " ".join("".join(element.itertext()).split())


def clean_block(text: str) -> str:
    # Area paragraphs may open with a stray "⎊ " or ": " (SITE.md, Area).
    return STRAY_LEAD.sub("", text).strip()


@dataclass
class Content:
    blocks: list[str] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    meta: list[HtmlElement] = field(default_factory=list)

    @property
    def body_text(self) -> str:
        return "\n\n".join(self.blocks)


def find_h1(root: HtmlElement) -> HtmlElement | None:
    for h1 in root.iter("h1"):
        if not _in_chrome(h1):
            return h1
    return None


def _in_chrome(element: HtmlElement) -> bool:
    return any(a.tag in ("nav", "footer", "aside") or a.get("role") == "navigation" for a in element.iterancestors())


def is_meta(element: HtmlElement) -> bool:
    """Published / Author / Categories lines, in any of their markups."""
    if element.xpath(".//time | .//a[contains(concat(' ', normalize-space(@rel), ' '), ' author ')]"
                     " | .//a[contains(concat(' ', normalize-space(@rel), ' '), ' category ')]"
                     " | .//a[contains(concat(' ', normalize-space(@rel), ' '), ' tag ')]"):
        return len(text_of(element)) < 300
    return bool(META_TEXT.match(text_of(element)))


def find_container(h1: HtmlElement | None, root: HtmlElement) -> HtmlElement:
    """The lowest block holding the ``<h1>`` and some content after it."""
    if h1 is None:
        for xpath in ("//main", "//article", "//*[@id='content']", "//body"):
            found = root.xpath(xpath)
            if found:
                return found[0]
        return root
    for ancestor in h1.iterancestors():
        if ancestor.tag in ("body", "html"):
            return ancestor
        after = ancestor.xpath(".//*[self::p or self::li or self::blockquote or self::h2 or self::h3]")
        if any(_follows(el, h1) and not _in_meta(el) for el in after):
            return ancestor
    return root


def _follows(element: HtmlElement, anchor: HtmlElement) -> bool:
    return element.sourceline is None or anchor.sourceline is None or element.sourceline >= anchor.sourceline


def _in_meta(element: HtmlElement) -> bool:
    return any(is_meta(e) for e in [element, *element.iterancestors()][:3])


def _links_in(element: HtmlElement) -> list[HtmlElement]:
    return [a for a in element.iter("a") if a.get("href")]


def _is_link_only(element: HtmlElement) -> bool:
    """True when the element's text is nothing but its links' text (and separators)."""
    links = _links_in(element)
    if not links:
        return False
    rest = text_of(element)
    for a in links:
        rest = rest.replace(text_of(a), "", 1)
    return not re.search(r"\w", rest)


def _is_pager(element: HtmlElement) -> bool:
    links = _links_in(element)
    return bool(links) and all(
        (a.get("rel") or "").lower() in ("next", "prev", "previous") or PAGER_TEXT.match(text_of(a))
        for a in links
    ) and _is_link_only(element)


class _Walker:
    """Walks the content block in reading order and sorts what it meets."""

    def __init__(self, h1: HtmlElement | None, base: str, page_type: str):
        self.h1 = h1
        self.base = base
        self.page_type = page_type
        self.started = h1 is None
        self.mode = "body"  # body, glossary or discover_more
        self.mode_level = 7
        self.content = Content()
        self.section: dict[str, Any] | None = None
        self.last_item: dict[str, Any] | None = None

    # -- links --------------------------------------------------------------------------

    def link(self, kind: str, a: HtmlElement, summary: str | None = None) -> dict[str, Any] | None:
        to_url = normalize_url(a.get("href", ""), self.base)
        if to_url is None:
            return None
        item = {"kind": kind, "to_url": to_url, "anchor_text": text_of(a) or None, "summary": summary, "facet": None}
        self.content.links.append(item)
        return item

    # -- blocks -------------------------------------------------------------------------

    def walk(self, element: HtmlElement, depth: int = 0) -> None:
        if depth > MAX_DEPTH:  # markup nested deeper than any real page: keep its text, stop walking
            if self.started:
                self.prose(element, text_of(element))
            return
        for child in element:
            if not isinstance(child.tag, str):
                continue
            tag = child.tag.lower()
            if child is self.h1:
                self.started = True
                continue
            if tag == "nav" or child.get("role") == "navigation":
                if self.started and _is_pager(child):
                    self.pager(child)
                continue
            if tag in CHROME or (tag == "header" and self.h1 is not None and self.h1 not in child.iterdescendants()):
                continue
            if self.started and tag in CONTAINERS and _is_pager(child):
                self.pager(child)
                continue
            if tag in CONTAINERS or (tag in ("ul", "ol") and not self.started):
                if self.started and tag != "span" and is_meta(child) and not child.xpath(".//p[not(@class)]"):
                    self.content.meta.append(child)
                    continue
                self.walk(child, depth + 1)
                continue
            if not self.started:
                continue
            if tag in HEADINGS:
                self.heading(child, int(tag[1]))
            elif tag == "p":
                self.paragraph(child)
            elif tag == "blockquote":
                self.prose(child, text_of(child))
            elif tag in ("ul", "ol", "dl"):
                self.listing(child)
            elif tag in ("pre", "table", "li", "dd"):
                self.prose(child, text_of(child))
            else:
                self.walk(child, depth + 1)

    def heading(self, element: HtmlElement, level: int) -> None:
        text = text_of(element)
        if not text:
            return
        name = SECTION_NAMES.get(text.lower().rstrip(":"))
        if name:
            self.mode, self.mode_level, self.last_item = name, level, None
            self.section = None
            return
        links = _links_in(element)
        if links and _is_link_only(element):
            if self.mode == "body" or level <= self.mode_level:
                self.mode, self.mode_level = "body", 7
                kind = "listing"
            else:
                kind = self.mode
            self.last_item = self.link(kind, links[0])
            self.section = None
            return
        if self.mode != "body" and level > self.mode_level:
            return
        self.mode, self.mode_level, self.last_item = "body", 7, None
        self.content.blocks.append(text)
        self.section = {"heading": text, "blocks": []}
        self.content.sections.append(self.section)

    def paragraph(self, element: HtmlElement) -> None:
        text = text_of(element)
        if not text:
            return
        if is_meta(element):
            self.content.meta.append(element)
            return
        if _is_pager(element):
            self.pager(element)
            return
        if self.last_item is not None and not self.last_item["summary"]:
            if self.last_item["kind"] == "glossary":
                facet = FACET_LINE.match(text)
                if facet:
                    self.last_item["facet"] = facet["facet"]
                    self.last_item["summary"] = facet["text"].strip() or None
                else:
                    self.last_item["summary"] = text
                return
            meaning = MEANING.match(text)
            if meaning:
                self.last_item["summary"] = text[meaning.end():].strip() or None
                return
        if self.mode != "body":
            return
        self.prose(element, text)

    def prose(self, element: HtmlElement, text: str) -> None:
        if self.mode != "body":
            return
        text = clean_block(text)
        if not text:
            return
        self.last_item = None
        self.content.blocks.append(text)
        if self.section is not None:
            self.section["blocks"].append(text)
        for a in _links_in(element):
            self.link("inline", a)

    def listing(self, element: HtmlElement) -> None:
        items = [li for li in element if isinstance(li.tag, str) and li.tag in ("li", "dt", "dd")]
        if any(li.xpath(".//h1|.//h2|.//h3|.//h4|.//h5|.//h6") for li in items):
            for li in items:
                self.walk(li)
            return
        if items and all(_is_link_only(li) for li in items):
            # A list of nothing but links to posts: a definition's related list, or a
            # plain listing elsewhere. Other link lists are navigation.
            targets = [normalize_url(a.get("href", ""), self.base) for li in items for a in _links_in(li)]
            if self.mode == "body" and all(t and classify(t).page_type in ("definition", "term") for t in targets):
                kind = "related" if self.page_type == "definition" else "listing"
                for li in items:
                    self.link(kind, _links_in(li)[0])
            return
        lines = [clean_block(text_of(li)) for li in items]
        self.prose(element, "\n".join(line for line in lines if line))

    def pager(self, element: HtmlElement) -> None:
        for a in _links_in(element):
            self.link("pagination", a)


def extract_content(root: HtmlElement, base: str, page_type: str) -> tuple[Content, HtmlElement | None]:
    """The page's own text, sections and content links, and its ``<h1>``.

    Removes scripts, styles and templates from the tree: read structured data first.
    """
    etree.strip_elements(root, "script", "style", "noscript", "template", with_tail=False)
    h1 = find_h1(root)
    container = find_container(h1, root)
    walker = _Walker(h1, base, page_type)
    walker.walk(container)
    content = walker.content
    for section in content.sections:
        section["text"] = "\n\n".join(section.pop("blocks"))
    content.meta.extend(e for e in container.xpath(".//time/..") if e not in content.meta)
    return content, h1


def iter_hrefs(root: HtmlElement, base: str) -> Iterator[str]:
    """Every link of the page, chrome included, normalised: what a crawl may follow."""
    for href in root.xpath("//a/@href"):
        url = normalize_url(href, base)
        if url:
            yield url
