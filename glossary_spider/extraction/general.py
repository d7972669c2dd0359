"""The general tier: a page's main content on any layout, by trafilatura.

Used when the glossary-aware walk (:mod:`glossary_spider.extraction.content`) is
unsure of a page. trafilatura is the reference of the field (token F1 0.96 against
readability's 0.92 on the 181 pages of issue 11; 0.92 on benchmarks/corpus/); it
reads the tree already parsed for the page, on a copy, so the page is still parsed once.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from lxml import etree
from lxml.etree import _Element
from lxml.html import HtmlElement

from glossary_spider.extraction.content import PERMALINK_MARKS, SECTION_NAMES, Content, clean_block
from glossary_spider.extraction.memo import PageMemo
from glossary_spider.extraction.tree import xpath

logger = logging.getLogger(__name__)

# Past this many elements, trafilatura reads a page without comparing its text with readability's (``fast``): that
# comparison's searches of the tree grow with the square of its size (20,000 elements in one block took 5.6 s
# against 0.37 s for 10,000), and a hostile page could hold each run's lock for seconds a page. Real pages hold a
# few thousand (the 22 of benchmarks/corpus/ 228 to 1,475).
FULL_READING_MAX = 10_000
_ELEMENTS_XPATH = xpath("count(//*)")
# Markup nested deeper than any real page is not given to trafilatura, which reads nested tables again for every
# table around them (5 s for 700 of them in a 23 KiB page, 0.4 s for 300): the walk's text stands. Whether any
# element lies this deep, asked a level at a time, so that a real page's tree is left behind at its own depth.
MAX_DEPTH = 200
_DEEPER_XPATH = xpath("boolean(" + "/*" * (MAX_DEPTH + 1) + ")")

# trafilatura's block elements, and how each reads as a body block.
_BLOCKS = {"p", "quote", "code", "list", "table"}


# trafilatura's elements whose text is not run on into the text around them (as tree.SEPARATED).
_APART = {"cell", "p", "quote", "head", "list", "table", "code"}


def _text(element: _Element) -> str:
    """An element's text with white space folded, line breaks (``<lb/>``), list items and table rows
    kept as lines, cells, paragraphs and the like kept apart. Iterative: trafilatura keeps a hostile
    page's nesting."""
    lines: list[str] = []
    line: list[str] = []
    for event, node in etree.iterwalk(element, events=("start", "end")):
        if event == "start":
            if node.tag in ("lb", "item", "row") and line:
                lines.append(" ".join("".join(line).split()))
                line.clear()
            line.append(" " if node.tag in _APART else "")
            line.append(node.text or "")
        elif node is not element:
            line.append(" " if node.tag in _APART else "")
            line.append(node.tail or "")
    lines.append(" ".join("".join(line).split()))
    return "\n".join(text for text in lines if text)


def _without_permalink(head: _Element, text: str) -> str:
    """A heading's text without its permalink, as :func:`~glossary_spider.extraction.content.heading_text` reads
    the walk's: a last link within the page that shows only one of ``PERMALINK_MARKS``."""
    refs = list(head.iter("ref"))
    if refs and (refs[-1].get("target") or "").startswith("#"):
        mark = "".join(refs[-1].itertext()).strip()
        if mark.replace("\ufe0e", "").replace("\ufe0f", "") in PERMALINK_MARKS:
            return clean_block(text.removesuffix(mark))
    return text


def _is_link_alone(head: _Element, text: str) -> bool:
    """Whether a heading of trafilatura's is one link and nothing else."""
    refs = list(head.iter("ref"))
    return len(refs) == 1 and clean_block(_text(refs[0])) == text


def general_content(root: HtmlElement, memo: PageMemo, titles: Collection[str | None]) -> Content | None:
    """The page's main text as blocks, sections under its headings, and its inline links (resolved by ``memo``,
    as the walk resolves them: trafilatura, given a URL, resolves a relative link against the site's root).

    None when trafilatura finds no main content, or is not asked (markup nested past :data:`MAX_DEPTH`).
    Comments are left out; an ``<h1>`` that reads as one of ``titles`` (the page's title, and its title
    heading's text) is the title, not body.
    """
    if _DEEPER_XPATH(root):
        return None
    import trafilatura  # on first use: importing it takes a third of a second that glossary pages never need

    try:
        document = trafilatura.bare_extraction(root, include_comments=False, include_links=True,
                                               include_tables=True, include_images=False,
                                               fast=_ELEMENTS_XPATH(root) > FULL_READING_MAX)
    except Exception as exc:  # a third party's heuristics on hostile markup: the walk's text stands
        logger.warning("General extraction failed for %s: %s: %s", memo.page or memo.base, type(exc).__name__, exc)
        return None
    body = getattr(document, "body", None)
    if body is None:
        return None
    content, section = Content(), None
    folded_titles = {" ".join(title.split()).casefold() for title in titles if title}
    template_level = 0  # within the site's Glossary or Discover More: its heading's level
    for element in body:
        text = clean_block(_text(element))
        if not text:
            continue
        if element.tag == "head":
            text = _without_permalink(element, text)
            # The page's <h1> is its title; a heading below it that repeats the title heads the body, as the
            # glossary's templates write it (and as the walk reads it).
            if element.get("rend", "h1") == "h1" and " ".join(text.split()).casefold() in folded_titles:
                continue  # (folded: a <br> in it made a line)
            rend = element.get("rend", "")
            level = int(rend[1]) if len(rend) == 2 and rend[1].isdigit() else 2  # h1 to h6; else a heading
            if text.lower().rstrip(":") in SECTION_NAMES:
                template_level = level
                continue
            # The walk's rule for the items of those sections (their links are the walk's): a heading below the
            # section's, or one that is a link alone.
            if template_level and (level > template_level or _is_link_alone(element, text)):
                continue
            template_level = 0
            section = {"heading": text, "blocks": []}
            content.sections.append(section)
        elif element.tag not in _BLOCKS or template_level:
            continue
        content.blocks.append(text)
        if section is not None and element.tag != "head":
            section["blocks"].append(text)
        for ref in element.iter("ref"):
            to_url = memo.url(ref.get("target") or "")
            if to_url:
                anchor = " ".join("".join(ref.itertext()).split()) or None
                content.links.append({"kind": "inline", "to_url": to_url, "anchor_text": anchor,
                                      "summary": None, "facet": None})
    for section in content.sections:
        section["text"] = "\n\n".join(section.pop("blocks"))
    return content if content.blocks else None


def settle(content: Content, root: HtmlElement, memo: PageMemo, titles: Collection[str | None]) -> Content:
    """The page's content when the glossary walk doubts its own (``content.doubt``): the general
    tier's text, sections and inline links, with the walk's other links (related, glossary,
    discover more, pagination) and meta lines. The walk's own text stands when the general tier
    finds none; trafilatura's baseline (the page's paragraphs, else its whole text) when neither does.
    ``titles``: the page's title and its title heading's text (:func:`general_content`)."""
    general = general_content(root, memo, titles)
    if general is None:
        if content.blocks:
            return content
        import trafilatura

        try:
            _, text, _ = trafilatura.baseline(root)
        except Exception as exc:  # as above: the walk's (empty) text stands
            logger.warning("General extraction failed for %s: %s: %s", memo.page or memo.base, type(exc).__name__,
                           exc)
            return content
        blocks = [line for line in (clean_block(" ".join(line.split())) for line in text.split("\n")) if line]
        return Content(blocks=blocks, links=content.links, meta=content.meta, doubt=content.doubt)
    links = [link for link in content.links if link["kind"] != "inline"] + general.links
    return Content(blocks=general.blocks, sections=general.sections, links=links, meta=content.meta,
                   doubt=content.doubt)
