"""The main content of a page: its text blocks, sections and links, whatever the theme.

The signals used survive a theme change (SITE.md, last part): the page's
``<h1>`` and the block that holds it; semantic elements for navigation and
chrome; headings whose text is ``Glossary`` or ``Discover More``; headings that
are links; link targets; the ``Meaning ⎊`` prefix; ``rel`` attributes.

The walk also says when it doubts that it found the page's main text
(:attr:`Content.doubt`, decided by :func:`_doubt`): the general tier
(:mod:`glossary_spider.extraction.general`) then reads the text instead.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from lxml.html import HtmlElement

from glossary_spider.extraction.memo import PageMemo
from glossary_spider.extraction.tree import (children, elements_by_tag, following, has_descendant, hrefs,
                                             links_under, paragraph_facts, raw_text, text_head, text_of,
                                             text_under, unlinked_text, xpath)
from glossary_spider.extraction.unseen import hidden_elements, set_footnotes_apart
from glossary_spider.urls import classify, link_url

HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
# What no reader reads as the page's text: scripts, styles, templates, and a ruby's annotation (the reading
# of Vega<rt>ν</rt> or 先物<rt>さきもの</rt> over its word, which would run into it: "Vegaν"); what a browser
# shows only where it cannot play or draw an element ("Your browser does not support the video tag").
UNREAD = ("script", "style", "noscript", "template", "rt", "rp", "iframe", "video", "audio", "canvas", "object")
# Those whose links are no link either: a crawl runs no script, and a browser shows no template's content. A
# <noscript>'s links are followed (a client without scripts is shown them), though its text is not the page's.
UNLINKED = tuple(tag for tag in UNREAD if tag != "noscript")
# Figures too: on news and blog pages their captions are image credits and teasers for other pages.
CHROME = {"nav", "footer", "aside", "script", "style", "noscript", "template", "form", "button",
          "svg", "iframe", "figure", "img", "picture", "video", "audio", "select", "textarea", "input"}
CONTAINERS = {"div", "section", "article", "main", "header", "span", "center", "body", "details"}
# Blocks whose text is one block of the body, whatever they hold (a <details>' <summary>: its question or title).
WHOLE = ("table", "li", "dd", "summary")
# Body text (in characters) under which the walk is not second-guessed for holding too much.
MIN_PROSE = 500
# Deeper than this, nested markup is read as one block of text rather than walked.
MAX_DEPTH = 200
# A block with a time, author, category or tag link is a meta line when its text is shorter than this.
META_MAX = 300
MEANING = re.compile(r"^\s*Meaning\s*⎊\s*")
FACET_LINE = re.compile(r"^\s*(?P<facet>[\w][\w -]{0,40}?)\s*⎊\s*:?\s*(?P<text>.*)$", re.DOTALL)
STRAY_LEAD = re.compile(r"^(?:⎊|:)\s+")
META_TEXT = re.compile(r"^\s*(Published|Posted|Updated|Last updated|Last modified|Author|By|Categories|Category|"
                       r"Filed under)\b\s*:?", re.I)
# How much of a block's text says whether META_TEXT matches: its longest words ("Last modified") and the next
# character, for the word boundary. Reading no more spares most of a block's text.
_META_HEAD = 16
# A pager's link, the whole of its text: "Next", "Older posts", a core block's "Next Page", an arrow, a page's
# number ("2", "Page 2").
PAGER_TEXT = re.compile(r"(?:[«»‹›←→]\s*)?(?:(?:go\s+to\s+(?:the\s+)?)?(?:next|prev(?:ious)?|older|newer)"
                        r"(?:\s+(?:page|posts|entries))?|more|(?:page\s*)?\d+)(?:\s*[«»‹›←→])?|[«»‹›←→]", re.I)
WORD = re.compile(r"\w")
BLANK_LINE = re.compile(r"\n\s*\n")
SECTION_NAMES = {"glossary": "glossary", "discover more": "discover_more"}
TEMPLATE_KINDS = frozenset(SECTION_NAMES.values())  # the links of the site's own sections
ASIDE = "aside"  # the walk's mode in a box after those sections: read as neither items nor text
# The glossary's posts: their headings are their own, link or not; elsewhere, headings that are links list posts.
POSTS = ("definition", "term")
# Elements whose text runs on inside a line: read as part of the text around them.
INLINE = {"a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em", "font", "i", "ins",
          "kbd", "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u",
          "var", "wbr"}
BLOCKS = HEADINGS | (CONTAINERS - {"span"}) | {"p", "ul", "ol", "li", "dl", "table", "blockquote", "pre", "nav",
                                                "footer", "aside", "form", "figure"}
# A class or id naming the site's logo or name.
LOGO = re.compile(r"logo|brand|site[-_]?(?:title|name)|masthead", re.I)
# A class or id naming a comment thread (WordPress' #comments, .comment-list, Disqus' #disqus_thread).
COMMENTS = re.compile(r"(?:^|[-_])(?:comments?|commentlist|respond|replies)(?:$|[-_])|^disqus", re.I)


ZERO_WIDTH = "\u200b\u200c\u200d"


def clean_block(text: str) -> str:
    # Area paragraphs may open with a stray "⎊ " or ": " (SITE.md, Area). An editor's spacer paragraph holds
    # a zero-width space alone: no text.
    return STRAY_LEAD.sub("", text).strip().strip(ZERO_WIDTH).strip()


def preformatted(text: str) -> str:
    """A ``<pre>``'s text as a reader sees it: its lines as written (their indentation lays out code and
    tables, less what all of them share), without white space at their ends, and no blank line first or last."""
    return textwrap.dedent("\n".join(line.rstrip() for line in text.splitlines())).strip("\n")


@dataclass
class Content:
    blocks: list[str] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    meta: list[HtmlElement] = field(default_factory=list)
    # The blocks each holding a post of the page's listing (whose meta lines and author links are the post's),
    # found when first asked; None on a page without a listing.
    cards: Callable[[], set[HtmlElement]] | None = None
    doubt: str | None = None  # why the walk may have missed the main text; None when it is sure

    @property
    def body_text(self) -> str:
        return "\n\n".join(self.blocks)


# OpenGraph lives in <head>, which is small: cheaper than a search of the whole page.
_SITE_NAME_XPATH = xpath("string(/html/head/meta[@property='og:site_name']/@content)")
_OG_TITLE_XPATH = xpath("string(/html/head/meta[@property='og:title']/@content)")
_TITLE_XPATH = xpath("string(//title)")
# What parts a page's title from the site's name ("Vega | Acme", "Vega — Acme"), spaces around it.
_TITLE_PARTS = re.compile(r"\s[|–—·•»⎊-]\s")


def find_h1(root: HtmlElement, text: Callable[[HtmlElement], str] = text_of,
            page: ParagraphText | None = None) -> HtmlElement | None:
    """The page's title heading: its first ``<h1>`` that is not chrome or the site's logo, else
    the first ``<h2>``/``<h3>`` that repeats the document's title (``text``: :func:`text_of` or a memo of it;
    ``page``: the page's :class:`ParagraphText`, whose ``<h1>`` and chrome are found already)."""
    site_name = _SITE_NAME_XPATH(root).strip().casefold()
    chrome = page.chrome if page is not None else None
    h1s = page.h1s if page is not None else list(root.iter("h1"))
    if not site_name and len(h1s) > 1:  # one of them may be a masthead's: the site's name, as <title> ends
        parts = _TITLE_PARTS.split(" ".join(_TITLE_XPATH(root).split()))
        site_name = parts[-1].casefold() if len(parts) > 1 else ""
    for h1 in h1s:
        if not _in_chrome(h1, chrome) and not _is_logo(h1, site_name, text):
            return h1
    title = " ".join((_OG_TITLE_XPATH(root) or _TITLE_XPATH(root)).split()).casefold()
    if not title:
        return None
    for heading in root.iter("h2", "h3"):
        folded = text(heading).casefold()
        if folded and folded in title and (len(folded) >= 15 or folded == title) and not _in_chrome(heading, chrome):
            return heading
    return None


def _is_logo(h1: HtmlElement, site_name: str, text: Callable[[HtmlElement], str] = text_of) -> bool:
    """An ``<h1>`` that names the site rather than the page: an image, the site's name, a link home,
    or marked as the logo or brand by its class or id or its link's."""
    title = text(h1)
    if not title or title.casefold() == site_name:
        return True
    for element in (h1, *h1.iter("a")):
        names = f"{element.get('id', '')} {element.get('class', '')}"
        if LOGO.search(names) or (element.tag == "a" and _leads_home(element.get("href", ""))):
            return True
    return False


def _leads_home(href: str) -> bool:
    """Whether ``href`` leads to a site's home page ("/", "https://example.com/"), not within this page (a
    heading's own permalink, "#configuration") nor to it ("", "?lang=en")."""
    parts = urlsplit(href.strip())
    return parts.path == "/" or (parts.path == "" and bool(parts.netloc))


# What a heading's permalink shows (Sphinx's and MkDocs' ¶, a #, a link icon, Docusaurus' zero-width space):
# no words of the heading. Read without variation selectors (Hugo's 🔗&#xFE0E;).
PERMALINK_MARKS = ("¶", "#", "§", "🔗", "\u200b")


def heading_text(element: HtmlElement, text: Callable[[HtmlElement], str] = text_of,
                 links: list[HtmlElement] | None = None) -> str:
    """A heading's text without its permalink: a last link within the page that shows only
    :data:`PERMALINK_MARKS` ("Configuration¶" is "Configuration"). ``links``: the heading's, if known."""
    title = text(element)
    if links is None:
        links = list(element.iter("a"))
    if (links and links[-1].get("href", "").startswith("#")
            and (mark := text(links[-1])).replace("\ufe0e", "").replace("\ufe0f", "") in PERMALINK_MARKS):
        return title.removesuffix(mark).rstrip()
    return title


def _in_chrome(element: HtmlElement, chrome: set[HtmlElement] | None = None) -> bool:
    """Whether ``element`` lies in navigation, a footer or an aside (``chrome``: the page's, if found already)."""
    if chrome is not None:
        return bool(chrome) and not chrome.isdisjoint(element.iterancestors())
    return any(a.tag in ("nav", "footer", "aside") or a.get("role") == "navigation" for a in element.iterancestors())


def is_comments(element: HtmlElement) -> bool:
    """A comment thread, by the class or id that names it."""
    names = f"{element.get('id', '')} {element.get('class', '')}".split()
    return any(COMMENTS.search(name) for name in names)


class ParagraphText:
    """The page's paragraphs and their text, and how much of it lies under an element: what says
    which block holds the page's text. Chrome (``navigation``: the elements of role navigation) and
    comment threads (``comments``) do not count.
    Also, found once for the whole page: its ``<h1>`` (``h1s``), times (``times``) and chrome (``chrome``:
    navigation, footers and asides), the elements holding a time, author, category or tag link
    (``meta_holders``), those holding a paragraph without a class (``plain_holders``) and those holding
    a paragraph of :data:`META_MAX` characters or more (``long_holders``)."""

    def __init__(self, root: HtmlElement, memo: PageMemo | None = None):
        (self.comments, self.navigation, self.chrome, self.h1s, self.times, self.texts, self.plain_holders,
         self.long_holders, self.meta_holders) = paragraph_facts(
            root, is_comments, memo.texts if memo is not None else {}, META_MAX)
        self.page = sum(map(len, self.texts.values()))
        self._under: dict[HtmlElement, int] = {}

    def is_meta(self, element: HtmlElement) -> bool:
        """:func:`is_meta`, with the page's marks found once. A block holding a paragraph of
        :data:`META_MAX` characters or more is no meta line, whatever marks it holds: its own text is
        longer still (a paragraph's text is part of it), and is not read."""
        if element in self.long_holders and element in self.meta_holders:
            return False
        return is_meta(element, holders=self.meta_holders)

    def under(self, element: HtmlElement) -> int:
        size = self._under.get(element)
        if size is None:
            size = self._under[element] = text_under(element, self.texts)
        return size


# A time, or a link to an author, a category or a tag (the name tests first: a string test on every
# element costs several times more).
_META_MARKS = ("descendant::time | descendant::a[@rel][contains(concat(' ', normalize-space(@rel), ' '), ' author ')"
               " or contains(concat(' ', normalize-space(@rel), ' '), ' category ')"
               " or contains(concat(' ', normalize-space(@rel), ' '), ' tag ')]")
_META_XPATH = xpath(f"boolean({_META_MARKS})")


def is_meta(element: HtmlElement, text: str | None = None, holders: set[HtmlElement] | None = None) -> bool:
    """Published / Author / Categories lines, in any of their markups (``text``: the element's, if known;
    ``holders``: the page's elements holding a time, author, category or tag link, if known)."""
    if element in holders if holders is not None else _META_XPATH(element):
        # A post's card header, its date or author beside its title (a heading): content, however short.
        return (len(text_head(element, META_MAX) if text is None else text) < META_MAX
                and not has_descendant(element, HEADINGS))
    if text is None:
        if not META_TEXT.match(text_head(element, _META_HEAD)):
            return False
        text = text_head(element, META_MAX)
    if not meta_line(text):
        return False
    # A table whose first header is "Author", a box headed "Updated": content, whatever its first word.
    return not has_descendant(element, _NOT_META)


def meta_line(text: str) -> bool:
    """Whether ``text`` (folded) reads as a Published / Author / Categories line: it starts with one of their
    words, and goes on as a byline goes on. "By Jane Doe and John Smith, Reuters.", "Updated on 3 May 2024 at
    10:00 a.m.", "Published by the Editorial Board." and "Categories: Options" are; "By default the venue
    nets positions." and "Updated guidance from the regulator requires …" are prose. After "By", a byline
    names someone (a capital); after the other words, a date or a name (a digit, a capital), or "on", "by",
    "at" or "in"; a colon after the word, or parts set apart (·, |, •), make any line one. A meta line is
    short: under :data:`META_MAX` characters and :data:`_META_WORDS` words."""
    label = META_TEXT.match(text)
    if label is None or len(text) >= META_MAX:
        return False
    if label.group().endswith(":") or any(mark in text for mark in _META_SEPARATORS):
        return True
    rest = text[label.end():].lstrip()
    if label.group(1).lower() == "by":
        goes_on = rest[:1].isupper() or (rest[:4].lower() == "the " and rest[4:5].isupper())  # By the Editors
    else:
        goes_on = rest[:1].isupper() or rest[:1].isdigit() or _META_CONNECTOR.match(rest) is not None
    return goes_on and len(text.split()) <= _META_WORDS


_META_SEPARATORS = ("·", "|", "•")
_META_CONNECTOR = re.compile(r"(?:on|by|at|in)\b", re.I)
_META_WORDS = 20


# What a meta line never holds (a list it may: a theme's "By … · Published …" items).
_NOT_META = ("table", "blockquote", *sorted(HEADINGS))

# Without a title, the first of these holds the content.
_FALLBACK_CONTAINER_XPATHS = [xpath(path) for path in ("//main", "//article", "//*[@id='content']", "//body")]


def find_container(h1: HtmlElement | None, root: HtmlElement, paragraphs: ParagraphText) -> HtmlElement:
    """The lowest block holding the ``<h1>``, some content after it, and at least half the page's
    paragraph text (so that a header of title, standfirst and byline is not taken for the article)."""
    if h1 is None:
        for fallback in _FALLBACK_CONTAINER_XPATHS:
            found = fallback(root)
            if found:
                return found[0]
        return root
    for ancestor in h1.iterancestors():
        if ancestor.tag in ("body", "html"):
            return ancestor
        if 2 * paragraphs.under(ancestor) < paragraphs.page:
            continue
        if any(not _in_meta(el, paragraphs) for el in following(ancestor, h1, _AFTER)):
            return ancestor
    return root


# What counts as content after the title.
_AFTER = ("p", "li", "blockquote", "h2", "h3")


def _in_meta(element: HtmlElement, paragraphs: ParagraphText) -> bool:
    return any(paragraphs.is_meta(e) for e in islice(chain((element,), element.iterancestors()), 3))


_NO_LINKS: list[HtmlElement] = []  # the links of a block without any: one list, never changed


def _is_link_only(element: HtmlElement, links: list[HtmlElement], text: Callable[[HtmlElement], str] = text_of) -> bool:
    """True when the element's text is nothing but its links' text (and separators); ``links``: its links;
    ``text``: :func:`text_of` or a memo of it."""
    if not links:
        return False
    if len(element) == 1 and links[0].getparent() is element and not element.text and not links[0].tail:
        return True  # the element only wraps its link (a heading or list item that is one link)
    rest = text(element)
    for a in links:
        rest = rest.replace(text(a), "", 1)
    return not WORD.search(rest)


def _is_contents(element: HtmlElement, links: list[HtmlElement], text: Callable[[HtmlElement], str] = text_of) -> bool:
    """Whether ``element`` is a table of contents: links all within the page, under a title of a few words at most
    (Easy Table of Contents' "Table of Contents", a ``<details>``' summary), no text of the page's."""
    if any(not (a.get("href") or "").startswith("#") for a in links):
        return False
    rest = text(element)
    for a in links:
        rest = rest.replace(text(a), "", 1)
    return len(_WORDS.findall(rest)) <= _LABEL_WORDS


def _has_heading(element: HtmlElement) -> bool:
    """Whether a heading lies under ``element``: found by lxml's own tag matching, in C (for six names,
    cheaper than an XPath test on every descendant; not for many more)."""
    return next(element.iterdescendants(*HEADINGS), None) is not None


def _is_pager(element: HtmlElement, links: list[HtmlElement], text: Callable[[HtmlElement], str] = text_of) -> bool:
    if not links:
        return False
    for a in links:  # a loop, not all() over a generator: most blocks fail on their first link
        if "#" in (a.get("href") or "") or ((a.get("rel") or "").lower() not in ("next", "prev", "previous")
                                            and not PAGER_TEXT.fullmatch(text(a))):
            return False  # (a link into a page, "0" to its #comments, is no other page of a listing)
    if _is_link_only(element, links, text):
        return True
    # Numbered pages show the current one's number unlinked: "1 2 3 Next", "Page 1 of 3"; WordPress titles its
    # pagers for screen readers ("<h2 class="screen-reader-text">Posts navigation</h2>").
    rest = text(element)
    for a in links:
        rest = rest.replace(text(a), "", 1)
    for heading in element.iter(*HEADINGS):
        rest = rest.replace(text(heading), "", 1)
    return all(word.lower() in _PAGER_WORDS for word in _WORDS.findall(rest.translate(_NO_DIGITS)))


_LABEL_WORDS = 6  # the most words of a label of a group of links ("Terms", "Related definitions")
_NO_DIGITS = str.maketrans("", "", "0123456789")
_WORDS = re.compile(r"\w+")
_PAGER_WORDS = frozenset(("page", "of"))


_TIME_PARENTS_XPATH = xpath("descendant::time/..")  # not .//time: the elements only, not every text node


class _Walker:
    """Walks the content block in reading order and sorts what it meets."""

    def __init__(self, h1: HtmlElement | None, memo: PageMemo, page_type: str, paragraphs: ParagraphText,
                 container: HtmlElement):
        self.h1 = h1
        self.memo = memo
        self.text = memo.text
        self.comments = paragraphs.comments
        self.navigation = paragraphs.navigation
        self.texts = paragraphs.texts
        self.meta_holders = paragraphs.meta_holders
        self.plain_holders = paragraphs.plain_holders
        self.links = links_under(container)
        self.page_type = page_type
        self.started = h1 is None
        self.h1_path = set(h1.iterancestors()) if h1 is not None else set()
        self.mode = "body"  # body, glossary or discover_more
        self.mode_level = 7
        self.content = Content()
        self.section: dict[str, Any] | None = None
        self.lists_set_aside = 0  # lists of links left out of the body so far
        self.last_item: dict[str, Any] | None = None
        self.last_title: HtmlElement | None = None  # the last item's title link
        self.container = container
        self.listed: list[HtmlElement] = []  # the links of the posts a listing lists
        self.found_cards: set[HtmlElement] | None = None
        self.titled: set[HtmlElement] = set()  # the title links of the items read so far
        self.summarised = 0  # the characters of the paragraphs read as items' summaries
        self.early: dict[HtmlElement, str] = {}  # a summary read before its item's title, by the title's link
        self.item_level: int | None = None  # the heading level of the open Glossary or Discover More's items

    # -- links --------------------------------------------------------------------------

    def links_in(self, element: HtmlElement) -> list[HtmlElement]:
        """The links under ``element`` (itself included), in document order; do not change the list."""
        return self.links.get(element, _NO_LINKS)

    def link(self, kind: str, a: HtmlElement, to_url: str | None = None,
             anchor_text: str | None = None) -> dict[str, Any] | None:
        """Record the link ``a`` (``to_url``: its archive URL, where resolved already; ``anchor_text``: the text
        it shows, if not all of its own)."""
        if to_url is None:
            to_url = self.memo.url(a.get("href", ""))
            if to_url is None:
                return None
        item = {"kind": kind, "to_url": to_url, "anchor_text": anchor_text or self.text(a) or None, "summary": None,
                "facet": None}
        self.content.links.append(item)
        if kind == "listing":
            self.listed.append(a)
        return item

    def cards(self) -> set[HtmlElement]:
        """The blocks that each hold one post of a listing (its card, with its date and author): around each
        listed link, the highest block that holds no other listed link, nor the title."""
        if self.found_cards is not None:
            return self.found_cards
        listed = set(self.listed)
        found = set()
        for a in self.listed:
            card = None
            for ancestor in a.iterancestors():
                if ancestor is self.container or ancestor in self.h1_path or any(
                        other in listed and other is not a for other in self.links_in(ancestor)):
                    break
                card = ancestor
            if card is not None:
                found.add(card)
        self.found_cards = found
        return found

    # -- blocks -------------------------------------------------------------------------

    def walk(self, element: HtmlElement, depth: int = 0) -> None:
        if depth > MAX_DEPTH:  # markup nested deeper than any real page: keep its text, stop walking
            if self.started:
                self.prose(element, self.text(element))
            return
        # Text written straight into the element, between its blocks: runs of text and inline elements.
        # ``unlinked`` is the same text outside links.
        h1, h1_path, comments, navigation = self.h1, self.h1_path, self.comments, self.navigation
        run, unlinked, inline = [element.text or ""], [element.text or ""], []
        for child, tag, tail in children(element):
            if tag is None:  # a comment or a processing instruction
                run.append(tail)
                unlinked.append(tail)
                continue
            if tag == "br":
                run.extend(("\n", tail))
                unlinked.append(tail)
                continue
            if tag in INLINE and child not in h1_path and not has_descendant(child, BLOCKS):
                run.extend((raw_text(child), tail))
                unlinked.extend(("" if tag == "a" else unlinked_text(child), tail))
                inline.append(child)
                continue
            if len(run) > 1 or len(run[0]) >= 100:  # else too short for loose text
                self.loose(run, unlinked, inline)
                run, unlinked, inline = [tail], [tail], []
            else:  # only a text between two blocks (most often none): the same lists serve again
                if self.last_item is not None and run[0] and not run[0].isspace():
                    self.summary_line(run[0])
                run[0] = unlinked[0] = tail
            if child is h1:
                self.started = True
                continue
            if tag == "nav" or child in navigation:
                if self.started and _is_pager(child, self.links_in(child), self.text):
                    self.pager(child)
                continue
            if tag in CHROME or (tag == "header" and h1 is not None and child not in h1_path
                                 and not (self.started and self.card_header(child))):
                continue
            if child in comments and child not in h1_path:
                continue
            if self.started and tag in CONTAINERS and (links := self.links.get(child)):
                if _is_pager(child, links, self.text):
                    self.pager(child)
                    continue
                if _is_contents(child, links, self.text):
                    continue
            if tag in CONTAINERS or (tag in ("ul", "ol") and not self.started):
                # A plain paragraph is never meta: the cheaper question first.
                if (self.started and tag != "span" and child not in self.plain_holders
                        and is_meta(child, holders=self.meta_holders)):
                    self.content.meta.append(child)
                    continue
                before, lists = self.section, self.lists_set_aside
                self.walk(child, depth + 1)
                if self.lists_set_aside > lists and self.section is not before:
                    self.end_box(before)
                continue
            if not self.started:
                if child in h1_path:  # the title inside an element of a name we do not know
                    self.walk(child, depth + 1)
                continue
            if tag in HEADINGS:
                self.heading(child, int(tag[1]))
            elif tag == "p":
                self.paragraph(child)
            elif tag == "blockquote":
                self.prose(child, self.text(child))
            elif tag in ("ul", "ol", "dl"):
                self.listing(child)
            elif tag in WHOLE:
                self.prose(child, self.text(child))
            elif tag == "pre":
                self.prose(child, preformatted(raw_text(child)))
            else:
                self.walk(child, depth + 1)
        if len(run) > 1 or len(run[0]) >= 100:
            self.loose(run, unlinked, inline)
        elif self.last_item is not None and run[0] and not run[0].isspace():
            self.summary_line(run[0])

    def card_header(self, header: HtmlElement) -> bool:
        """Whether ``header``, after the title, is a post's card's, read as the card's heading is, rather than
        chrome: a heading in it is a link (``<header class="entry-header"><h2><a href>``, classic WordPress
        archives) where such a heading lists a post (in a listing, a Glossary or a Discover More)."""
        if self.page_type in POSTS and self.mode == "body" or not self.links.get(header):
            return False
        for heading in header.iterdescendants(*HEADINGS):
            links = self.links_in(heading)
            if links and _is_link_only(heading, links, self.text):
                return True
        return any(_has_heading(a) for a in self.links[header])  # a link around the heading

    def loose(self, run: list[str], unlinked: list[str], inline: list[HtmlElement]) -> None:
        """Text outside any paragraph, as ``<br>``-separated pages write it: a block per stretch
        between blank lines. Runs of nothing but links (breadcrumbs, tag lists) and meta lines are not body."""
        if self.last_item is not None and self.summary_line("".join(run)):
            return
        if not self.started:
            return
        text = "".join(run)
        folded = " ".join(text.split())
        if self.mode != "body":  # a Glossary or Discover More item titled by a link alone (<strong><a>), or nothing
            anchors = [a for element in inline for a in element.iter("a") if a.get("href")]
            if len(anchors) == 1 and not WORD.search("".join(unlinked)) and folded and self.leads_to_entry(anchors[0]):
                self.item_title(self.mode, anchors[0], folded)
            return
        if len(folded) < (100 if "\n" in text.strip() else 150):
            return
        if not WORD.search("".join(unlinked)) or meta_line(folded):
            return
        anchors = [a for element in inline for a in element.iter("a") if a.get("href")]
        for stretch in BLANK_LINE.split(text):
            lines = (" ".join(line.split()) for line in stretch.split("\n"))
            self.prose(None, "\n".join(line for line in lines if line), anchors)
            anchors = []

    def heading(self, element: HtmlElement, level: int) -> None:
        links = self.links_in(element)
        text = heading_text(element, self.text, links)
        # A link around the heading (<a href><h3>T</h3></a>, a block theme's card) is the heading's link, as one
        # inside it is; its text is the heading's, whatever else the link holds (an image, an excerpt).
        around = next(element.iterancestors("a"), None) if not links else None
        if around is not None and around.get("href"):
            links = [around]
        if links and links[0].get("href", "").startswith("#"):  # a heading that is its own anchor lists nothing
            links = [a for a in links if not a.get("href", "").startswith("#")]
        if not text:
            return
        self.close_section(level)
        name = SECTION_NAMES.get(text.lower().rstrip(":"))
        if name:
            self.mode, self.mode_level, self.last_item, self.item_level = name, level, None, None
            self.section = None
            return
        if self.mode == ASIDE:
            if level > self.mode_level:
                return
            self.mode, self.mode_level = "body", 7
        linked = bool(links) and (links[0] is around or _is_link_only(element, links, self.text))
        # An item under a Glossary or Discover More heading: a heading below it, or one that is a link alone at its
        # level or above (a theme that writes the section's name and its items' titles alike, as h2).
        item = self.mode != "body" and (level > self.mode_level or linked)
        if item and linked and not self.leads_to_entry(links[0]):
            return  # no item of the glossary's own sections, which list its entries (an author box's name)
        if linked and (item or self.page_type not in POSTS):
            # An item of that section, or of a listing (an area's posts, a category page's).
            if not item:
                self.mode, self.mode_level = "body", 7
            self.item_title(self.mode if item else "listing", links[0], text)
            self.item_level = level
            self.titled_list()
            return
        if item:
            if self.item_level is not None and level >= self.item_level:
                # A heading of no item at the items' level, after them: a box of its own (a plugin's related
                # posts, "You Might Also Like"), neither the section's items nor the page's text.
                self.mode, self.last_item = ASIDE, None
            return
        self.mode, self.mode_level, self.last_item = "body", 7, None
        self.content.blocks.append(text)
        self.section = {"heading": text, "blocks": [], "level": level}
        self.content.sections.append(self.section)
        for a in links:  # a body heading's links are the body's (on a definition or a term, a heading that is one)
            self.link("inline", a, anchor_text=text if a is around else None)

    def leads_to_entry(self, a: HtmlElement) -> bool:
        """Whether the link ``a`` leads to an entry of the glossary: a definition, a term or an area."""
        to_url = self.memo.url(a.get("href", ""))
        return to_url is not None and classify(to_url).page_type in (*POSTS, "area")

    def item_title(self, kind: str, a: HtmlElement, text: str) -> None:
        """An item's title, ``a`` its link and ``text`` what it shows: the item read last from here on, with the
        summary its card gave before it, if any."""
        self.titled.add(a)
        last = self.last_item
        if last is not None and last["kind"] == kind and a.get("href") == self.last_title.get("href"):
            self.last_title = a  # the same post titled again in its card (an image's overlay, then its heading)
            return
        self.last_item, self.last_title = self.link(kind, a, anchor_text=text), a
        if self.last_item is not None and (early := self.early.pop(a, None)) is not None:
            self.summarise(self.last_item, early)

    def titled_list(self) -> None:
        """An item met: the open section, where nothing was read under it, titled its list (an area's posts grouped
        under "Terms" and "Definitions"), and is no section of the body; one with text ends."""
        section = self.section
        if section is not None and not section["blocks"]:
            self.content.blocks.pop()
            self.content.sections.pop()
        self.section = None

    def close_section(self, level: int) -> None:
        """Drop the open section if nothing was read under it before a heading of its level or
        above (``level``; 1 at the end): it titled what was set aside, a list of links or a form."""
        section = self.section
        if section is not None and not section["blocks"] and level <= section["level"]:
            self.content.blocks.pop()
            self.content.sections.pop()
            self.section = None

    def paragraph(self, element: HtmlElement) -> None:
        if self.mode == ASIDE:
            return
        text = self.texts.get(element)
        if text is None:
            text = self.text(element)
        if not text:
            return
        if is_meta(element, text, self.meta_holders):
            self.content.meta.append(element)
            return
        if _is_pager(element, self.links_in(element), self.text):
            self.pager(element)
            return
        if self.last_item is not None and element in self.links and self.item_link(element):
            return
        if ((self.mode != "body" or self.page_type not in POSTS) and (links := self.links_in(element))
                and _is_link_only(element, links, self.text) and self.leads_to_entry(links[0])):
            # A Glossary or Discover More item titled by a line alone, or so a listing's (an area's posts, each a
            # bold link over its Meaning line).
            if self.mode == "body":
                self.item_title("listing", links[0], text)
                self.titled_list()
            else:
                self.item_title(self.mode, links[0], text)
            return
        # A card that gives its summary before its title: its item's, not that of the item read last, which may wait
        # for one its card did not give (its card's, then, if it holds the paragraph).
        waiting = self.last_item is not None and not self.last_item["summary"]
        if ((self.mode == "glossary" or MEANING.match(text)) and not (waiting and self.beside_last_title(element))
                and (owner := self.summary_owner(element, set(self.last_title.iterancestors()) if waiting else ()))
                is not None and owner not in self.titled):
            self.early[owner] = text
            return
        if (self.last_item is not None and not self.last_item["summary"]
                and self.summarise(self.last_item, self.without_more_link(element, text), len(text))):
            return
        if self.mode != "body":
            return
        self.prose(element, text)

    def summary_line(self, text: str) -> bool:
        """Read loose text (a ``<div>``'s or a ``<span>``'s, not a paragraph's) as the summary of the item read last
        where it is one: a ``Meaning ⎊`` line, or a Glossary item's facet line. Whether it was."""
        folded = " ".join(text.split())
        if (self.last_item is None or self.last_item["summary"]
                or self.last_item["kind"] == "glossary" and not FACET_LINE.match(folded)):
            return False
        return self.summarise(self.last_item, folded)

    def without_more_link(self, element: HtmlElement, text: str) -> str:
        """``text``, the paragraph ``element``'s, without the links at its end to the item read last (WordPress's
        "Continue reading", in the excerpt's paragraph)."""
        links = self.links_in(element)
        while links and self.memo.url(links[-1].get("href", "")) == self.last_item["to_url"]:
            shown = self.text(links[-1])
            if not shown or not text.endswith(shown):
                break
            text, links = text[:-len(shown)].rstrip(), links[:-1]
        return text

    def summarise(self, item: dict[str, Any], text: str, paragraph: int = 0) -> bool:
        """Read ``text`` as the summary of ``item`` where it is one (a Glossary item's line, with its facet; any
        other item's ``Meaning ⎊`` line); whether it was. ``paragraph``: the length of the paragraph it is read
        from, if longer (all of it read)."""
        if item["kind"] == "glossary":
            facet = FACET_LINE.match(text)
            if facet:
                item["facet"] = facet["facet"]
                item["summary"] = facet["text"].strip() or None
            else:
                item["summary"] = text
        elif meaning := MEANING.match(text):
            item["summary"] = text[meaning.end():].strip() or None
        else:
            return False
        self.summarised += max(len(text), paragraph)
        return True

    def beside_last_title(self, element: HtmlElement) -> bool:
        """Whether ``element`` lies in a block that holds the last item's title (a card's summary under its title, or
        a listing's without cards): the item's, with no card to search."""
        parent = element.getparent()
        for block in self.last_title.iterancestors():
            if block is parent:
                return True
            if block is self.container:
                return False
        return False

    def summary_owner(self, element: HtmlElement, within: Container[HtmlElement] = ()) -> HtmlElement | None:
        """The title link of the item whose card holds ``element``: the first block around it that holds an item's
        title (a heading that is a link alone, or one in a link) holds that one alone; else None (no cards, or a
        block of ``within`` is met first: the card of an item read already)."""
        for block in element.iterancestors():
            if block is self.container or block in self.h1_path or block in within:
                return None
            titles = [a for heading in block.iter(*HEADINGS) if (a := self.title_link(heading)) is not None]
            if titles:
                return titles[0] if len(titles) == 1 else None
        return None

    def title_link(self, heading: HtmlElement) -> HtmlElement | None:
        """The link of a heading that titles an item (:meth:`heading`'s reading), else None."""
        if links := self.links_in(heading):
            return links[0] if _is_link_only(heading, links, self.text) else None
        around = next(heading.iterancestors("a"), None)
        return around if around is not None and around.get("href") else None

    def item_link(self, element: HtmlElement) -> bool:
        """Whether ``element`` is nothing but links to the post of the item read last: its "Read more" (a block
        theme's ``wp-block-post-excerpt__more-link``), the item's, not the body's."""
        links = self.links_in(element)
        to_url = self.last_item["to_url"]
        return (bool(links) and all(self.memo.url(a.get("href", "")) == to_url for a in links)
                and _is_link_only(element, links, self.text))

    def prose(self, element: HtmlElement | None, text: str, anchors: list[HtmlElement] | None = None) -> None:
        if self.mode != "body":
            return
        text = clean_block(text)
        if not text:
            return
        self.last_item = None
        self.content.blocks.append(text)
        if self.section is not None:
            self.section["blocks"].append(text)
        for a in self.links_in(element) if element is not None else anchors or []:
            self.link("inline", a)

    def listing(self, element: HtmlElement) -> None:
        items = _list_items(element)
        # Most lists hold no heading at all: one search of the list says so, before one for each item.
        if _has_heading(element) and any(_has_heading(item) for item in items):
            for li in items:
                self.walk(li)
            return
        if element.tag == "dl" and self.described_posts(items):
            return
        if items and all(_is_link_only(li, self.links_in(li), self.text) or self._is_blank(li) for li in items):
            # A list of links (and empty items), most of them to posts: a definition's related list, or a
            # plain listing elsewhere. Other link lists are navigation.
            # A link to no URL that can be recorded (one too long, a mailto:) is passed over, not taken for
            # navigation: the list's other links are still the page's.
            links = [self.links_in(li) for li in items]
            targets = [self.memo.url(a.get("href", "")) for found in links for a in found]
            posts = [t is not None and classify(t).page_type in POSTS for t in targets]
            if self.mode == "body" and 2 * sum(posts) > len(targets) - targets.count(None):
                self.link_list("related" if self.page_type == "definition" else "listing", links, targets, posts)
            else:
                self.lists_set_aside += 1
            return
        if (groups := self.grouped(items)) is not None:
            for group in groups:
                self.listing(group)
            return
        lines = [clean_block(self.text(li)) for li in items]
        text = "\n".join(line for line in lines if line)
        if 2 * sum(len(self.text(a)) for a in self.links_in(element)) > len(text):
            self.lists_set_aside += 1  # mostly links, with a date or an author beside each: teasers, not body
            return
        self.prose(element, text)

    def described_posts(self, items: list[HtmlElement]) -> bool:
        """Read a description list whose terms are posts' titles, each a link alone, and whose descriptions are
        their ``Meaning ⎊`` lines, as a listing (an area's or a category page's), where it is one; whether it was."""
        if self.mode != "body" or self.page_type in POSTS or not any(item.tag == "dt" for item in items):
            return False
        for item in items:
            links = self.links_in(item)
            if item.tag == "dt" and not (links and _is_link_only(item, links, self.text)
                                         and self.leads_to_entry(links[0])):
                return False
            if item.tag == "dd" and not MEANING.match(self.text(item)):
                return False
        for item in items:
            if item.tag == "dt":
                self.item_title("listing", self.links_in(item)[0], self.text(item))
            elif self.last_item is not None and not self.last_item["summary"]:
                self.summarise(self.last_item, self.text(item))
        return True

    def grouped(self, items: list[HtmlElement]) -> list[HtmlElement] | None:
        """The lists of links nested in ``items``, where each item is a label and a list of links under it (an
        area's posts grouped as "Terms", then a list of them, and "Definitions", then a list): read as the lists
        they are, the labels titling them, as :meth:`titled_list` reads a heading before a list."""
        groups = []
        for item in items:
            if self._is_blank(item):
                continue
            lists = [child for child in item if child.tag in ("ul", "ol")]
            if not lists or self.links_in(item) != [a for nested in lists for a in self.links_in(nested)]:
                return None  # an item without a nested list, or with a link outside it
            label = self.text(item)
            for nested in lists:
                label = label.replace(self.text(nested), "", 1)
            if len(_WORDS.findall(label)) > _LABEL_WORDS:
                return None  # text of its own, not a label
            for nested in lists:
                nested_items = _list_items(nested)
                if not nested_items or not all(_is_link_only(li, self.links_in(li), self.text) or self._is_blank(li)
                                               for li in nested_items):
                    return None
            groups.extend(lists)
        return groups or None

    def _is_blank(self, item: HtmlElement) -> bool:
        """An item of a list with neither a link nor text (a theme's spacer, a post left out)."""
        return not self.links_in(item) and not self.text(item)

    def link_list(self, kind: str, links: list[list[HtmlElement]], targets: list[str | None],
                  posts: list[bool]) -> None:
        """Record a list of links (``links``: each item's; ``targets``: their URLs, None for one that cannot be
        recorded; ``posts``: whether each leads to a post): an item's first link, and each other one of it
        that leads elsewhere (in a list nested in it), as ``kind`` where it leads to a post, else as
        ``inline`` (an area's, another site's, in a definition's related list)."""
        at = 0  # where each item's first link stands among the targets
        for found in links:
            seen = set()
            for a, to_url, post in zip(found, targets[at:at + len(found)], posts[at:at + len(found)]):
                if to_url is not None and to_url not in seen:
                    seen.add(to_url)
                    self.link(kind if post else "inline", a, to_url)
            at += len(found)

    def end_box(self, before: dict[str, Any] | None) -> None:
        """The end of a block in which a list of links was set aside: a heading in it with nothing read
        under it titled that list (a "Read more" box of other stories), not the text after the block, which
        goes on in the section open before it (``before``)."""
        section = self.section
        if section is not None and not section["blocks"]:
            self.content.blocks.pop()
            self.content.sections.pop()
            sections = self.content.sections
            self.section = before if sections and sections[-1] is before else None

    def pager(self, element: HtmlElement) -> None:
        for a in self.links_in(element):
            to_url = self.memo.url(a.get("href", ""))
            if (self.page_type in POSTS and to_url is not None and to_url != self.memo.page
                    and classify(to_url).page_type in POSTS):
                continue  # a post's link to the post before or after it (WordPress's post navigation): no page of it
            self.link("pagination", a, to_url)


def extract_content(root: HtmlElement, base: str | PageMemo, page_type: str) -> tuple[Content, HtmlElement | None]:
    """The page's own text, sections and content links, and its ``<h1>``; ``base``: the URL links
    resolve against, or the page's :class:`PageMemo` made for it.

    Removes what no reader reads (:data:`UNREAD`), the elements shown to no reader (:func:`hidden_elements`) and
    footnotes' marks (:func:`set_footnotes_apart`) from the tree: read structured data first.
    """
    memo = base if isinstance(base, PageMemo) else PageMemo(base)
    etree.strip_elements(root, *UNLINKED, with_tail=False)
    # Most pages have no <noscript>: a search in C, no element made, where the page's walk did not say.
    if memo.noscript if memo.noscript is not None else next(root.iter("noscript"), None) is not None:
        memo.hrefs = hrefs_followed(root, memo.pager)
        etree.strip_elements(root, "noscript", with_tail=False)
    hidden = hidden_elements(root, memo.dialogs, memo.svgs)
    if hidden and memo.hrefs is None:  # what a crawl follows: hidden links too (a collapsed menu's, a mobile one's)
        memo.hrefs = hrefs_followed(root, memo.pager)
    for element in hidden:
        if element.getparent() is not None:  # not under one dropped already
            element.drop_tree()  # its tail stays: the text after it is shown
    if next(root.iter("sup"), None) is not None:  # most pages have none: a search in C, no element made
        set_footnotes_apart(root, memo)
    paragraphs = ParagraphText(root, memo)
    h1 = find_h1(root, memo.text, paragraphs)
    container = find_container(h1, root, paragraphs)
    walker = _Walker(h1, memo, page_type, paragraphs, container)
    walker.walk(container)
    walker.close_section(1)
    content = walker.content
    for section in content.sections:
        del section["level"]
        section["text"] = "\n\n".join(section.pop("blocks"))
    if paragraphs.times:  # a page without any (a third of the glossary's) needs no search
        content.meta.extend(e for e in _TIME_PARENTS_XPATH(container) if e not in content.meta)
    if walker.listed:  # the meta lines of a listing's posts are theirs, not the page's
        content.cards = walker.cards
        if content.meta:
            cards = walker.cards()
            content.meta = [e for e in content.meta if cards.isdisjoint(chain((e,), e.iterancestors()))]
    content.doubt = _doubt(walker, paragraphs)
    return content, h1


def _doubt(walker: _Walker, paragraphs: ParagraphText) -> str | None:
    """Why the walk may have missed the page's main text, or None when it recognised the page."""
    h1, container, content, page_type, listed_links = (walker.h1, walker.container, walker.content, walker.page_type,
                                                       walker.listed)
    if h1 is None:
        return "no title heading"
    body = len(content.body_text)
    # Text the walk recognised: the body, and the paragraphs it read as the summaries of the links it listed.
    read = body + walker.summarised
    # A listing (category pages): its paragraphs are its items' summaries, and it may have no body. Three items or
    # more; or one or two, each with its summary (a "Meaning ⎊" line: a category page of one or two posts). Not a
    # definition or a term, whose list of posts is beside its text, never in place of it.
    # Or posts listed by their titles alone, the title and they in a block that holds no paragraph text at all (an
    # area's resource page of titles): nothing there for the general tier to find, whose fallback took the site's
    # menus for the page's text.
    summaries = [link["summary"] for link in content.links if link["kind"] == "listing"]
    titles_only = (page_type not in POSTS and bool(listed_links)
                   and not paragraphs.under(_holding(h1, listed_links[0], listed_links[-1])))
    listing = titles_only or (page_type not in POSTS and (len(summaries) >= 3 or bool(summaries) and all(summaries))
                              and 2 * read >= paragraphs.page)
    if container.tag in ("body", "html") and not listing:
        return "no block holds both the title and most of the text"
    if not content.blocks and not listing:
        return "no body text"
    if 4 * read < paragraphs.under(container) and not titles_only:
        return "the body is under a quarter of its block's paragraph text"
    # The glossary writes its body in paragraphs (and headings): much more body than paragraph
    # text means lists, tables or loose text were taken, which on an unknown layout is often chrome.
    # Below a few hundred characters the ratio says little, and the general tier is at its weakest.
    # A page whose Glossary or Discover More the walk read is no unknown layout: its lists and tables
    # (a term's bullets with bold lead-ins, a table of Greeks) are its own.
    prose = body - sum(len(section["heading"]) + 2 for section in content.sections)
    if (prose >= MIN_PROSE and 10 * prose > 11 * paragraphs.page
            and not any(link["kind"] in TEMPLATE_KINDS for link in content.links)):
        return "the body holds much text from outside paragraphs"
    return None


def _holding(*elements: HtmlElement) -> HtmlElement:
    """The lowest element that holds each of ``elements`` (of one tree)."""
    around = list(elements[0].iterancestors())
    for element in elements[1:]:
        held = {element, *element.iterancestors()}
        around = [block for block in around if block in held]
    return around[0] if around else elements[0]


# The pages a ``<link>`` leads a reader to: the next and the previous of a paged listing. Not its translations
# (``alternate`` with ``hreflang``), feeds, stylesheets or icons, nor its canonical URL (the page itself).
PAGER_RELS = frozenset(("next", "prev", "previous"))
_REL = "contains(concat(' ', normalize-space(translate(@rel, 'ENPRSTVIOUX', 'enprstvioux')), ' '), ' {} ')"
_FOLLOWED_XPATH = xpath("descendant-or-self::*[self::a or self::area]/@href | descendant-or-self::link[@href]["
                        + " or ".join(_REL.format(rel) for rel in sorted(PAGER_RELS)) + "]/@href")


def hrefs_followed(root: HtmlElement, pager: bool | None = None) -> list[str]:
    """The hrefs of the hyperlinks in ``root``'s subtree, in document order: every ``<a>`` and ``<area>`` (an
    image map's), and each ``<link>`` to the next or previous page (:data:`PAGER_RELS`). Not a frame's, an
    iframe's, an object's or an embed's source: a part of the page, not a page it links to. ``pager``: whether
    the page has such an ``<area>`` or ``<link>`` (:func:`leads_on`), where the caller knows."""
    if pager is None:
        found = elements_by_tag(root, ("area", "link"))
        pager = leads_on(found["area"], found["link"])
    # <a>s alone are found at a seventeenth of the cost of the XPath: it is run only for a page that needs it.
    return _FOLLOWED_XPATH(root) if pager else hrefs(root)


def leads_on(areas: list[HtmlElement], links: list[HtmlElement]) -> bool:
    """Whether a page with these ``<area>`` and ``<link>`` elements has a link to follow that is no ``<a>``."""
    return bool(areas) or any(PAGER_RELS.intersection((link.get("rel") or "").lower().split()) for link in links)


def urls_to_follow(root: HtmlElement, base: str | PageMemo) -> list[str]:
    """Every link of the page (:func:`hrefs_followed`), chrome included, normalised, each once, in the page's
    order: what a crawl may follow. Those of elements hidden from readers, and of ``<noscript>``, too (where
    :func:`extract_content` dropped them from the tree, as ``base``'s :class:`PageMemo` kept their hrefs)."""
    resolve = base.url if isinstance(base, PageMemo) else lambda href: link_url(href, base)
    memo = base if isinstance(base, PageMemo) else None
    found = memo.hrefs if memo and memo.hrefs is not None else hrefs_followed(root, memo and memo.pager)
    # Each spelling resolved once (a page repeats its links), then each URL kept once.
    return list(dict.fromkeys(filter(None, map(resolve, dict.fromkeys(found)))))


def _list_items(element: HtmlElement) -> list[HtmlElement]:
    """A list's items: its ``li``, ``dt`` and ``dd`` children, and in a ``dl`` those of the ``div``s that group
    its terms with their definitions, as the HTML Standard allows (a browser shows them as the same list)."""
    items = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag in ("li", "dt", "dd"):
            items.append(child)
        elif child.tag == "div" and element.tag == "dl":
            items.extend(item for item in child if isinstance(item.tag, str) and item.tag in ("dt", "dd"))
    return items
