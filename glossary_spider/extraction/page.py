"""One page in, one plain record out: :func:`extract_page`.

The body is decoded as Scrapy decodes it (HTTP header, BOM, ``<meta charset>``),
parsed once, and that one tree serves the content walk and extruct.
"""

from __future__ import annotations

import codecs
import gc
import hashlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

import lxml.html
from lxml import etree
from lxml.html import HtmlElement
from w3lib.encoding import html_body_declared_encoding, html_to_unicode, http_content_type_encoding, resolve_encoding

from glossary_spider import churn, fastjson
from glossary_spider.charsets import readable
from glossary_spider.extraction.content import (INLINE, UNREAD, extract_content, heading_text, is_meta, leads_on,
                                                urls_to_follow)
from glossary_spider.extraction.general import settle
from glossary_spider.extraction.memo import PageMemo
from glossary_spider.extraction.structured import JsonLdFacts, extract_structured_data, several, to_utc
from glossary_spider.extraction.tree import (attributes, elements_by_tag, fold, may_hold_stray_characters, raw_text,
                                             word_count, xpath)
from glossary_spider.urls import MAX_URL, base_url, classify, in_page_encoding, normalize_url

logger = logging.getLogger(__name__)

# Bump when a change to extraction changes its output: rows record which version made them.
EXTRACTOR_VERSION = 19

# What one page may put in the archive (a glossary page holds a few thousand elements, a few
# dozen links and some KiB of text in 100-300 KiB of markup): past these, the rest is cut and a
# `parse` error row says so. Text and links are stored several times over (pages, versions,
# sections, the full-text index), so their share is also bounded by the page's own size: a page
# adds at most about twice its bytes to the archive.
MAX_MARKUP_CHARS = 8 * 1024 * 1024  # markup read; what follows is not parsed
MAX_ELEMENTS = 50_000  # tags read; the markup after the last one is not parsed
MAX_TEXT_CHARS = 1024 * 1024  # of body text, and again of section text: at most a quarter of the page
MIN_TEXT_CHARS = 128 * 1024  # ... but never fewer than this
# ... by whole steps of this many characters, and at a word's end: a cut that moved with every byte of markup made
# a version of an edit to a script's URL (the text cut mid-word one character further on), and none of the text's.
TEXT_STEP = 64 * 1024
MAX_SECTIONS = 1000
MAX_TITLE_CHARS = 2000  # a real title is a line, a few dozen characters
MAX_SUMMARY_CHARS = 10_000  # a real summary is a paragraph, a few hundred
# The other lines a page names: its author, language, each category, section heading and link's anchor text (a
# link's summary is a paragraph, bounded as the page's is).
MAX_LINE_CHARS = MAX_TITLE_CHARS
# Links kept in the record, and links followed: one per LINK_BYTES of the page, the size of the shortest link
# with a text (<a href=/1>x</a>), so that no page of real links is cut: an A-Z index spends 40-80 bytes on each
# (<li><a href="/definition/vega/">Vega</a></li>). What bounds a page of bare links is the overall MAX_LINKS
# (each followed is a request and a frontier row, each kept a row of the links table: some 200 bytes).
LINK_BYTES = 16
MAX_LINKS = 20_000  # ... and never more than this: past the 12,500 an index of <li> links holds within MAX_ELEMENTS
MIN_LINKS = 100  # ... but never fewer than this
# A tag's attributes past this many are not read. libxml2 compares each attribute of a tag with every one
# before it: 20,000 took 0.4 s to parse, 100,000 (a megabyte of markup) 10 s, 300,000 minutes, in C, where
# no stop, time limit or signal reaches. A markup shorter than ATTRIBUTES_SEARCHED_FROM is not searched for
# such a tag: it holds some 8,000 attributes at most, 0.06 s of parse.
MAX_ATTRIBUTES = 1000
ATTRIBUTES_SEARCHED_FROM = 32 * 1024
# An attribute as HTML's tokenizer reads one: after white space or a slash (or none, after a quoted value), a
# name (anything up to white space, a slash, '>' or '=', an '=' first), then perhaps '=' and a value. Possessive
# throughout: no backtracking, one pass over each tag.
_ATTRIBUTE = rb"""[\s/]*+[^\s/>][^\s/>=]*+(?:\s*+=\s*+(?:"[^"]*+"|'[^']*+'|[^\s>]*+))?+"""
_CROWDED_TAG = re.compile(rb"<[A-Za-z][^\s/>]*+(?:%s){%d}" % (_ATTRIBUTE, MAX_ATTRIBUTES))
_ATTRIBUTES = re.compile(rb"(?:%s)*+" % _ATTRIBUTE)
_ONE_ATTRIBUTE = re.compile(_ATTRIBUTE)

# Stray characters have no place in text (the raw capture keeps the bytes). Control characters: C0 but tab
# and newline, DEL and C1; ESC, BEL and 8-bit CSI would otherwise reach the terminals of readers. And the
# invisible characters that only hint at a line break or join words: the soft hyphen, the word joiner and
# the zero-width no-break space; a reader sees "deriv&shy;atives" as one word, and full-text search would
# otherwise index it as two.
STRAY = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u2060\ufeff]")
# A zero-width space, non-joiner or joiner between two letters (or digits) of a script that spaces its words
# (Latin, Greek, Cyrillic) breaks and joins nothing a reader sees ("liqui&#8203;dation", pasted from an
# editor), and split the word in search. Elsewhere each has its work: the space parts the words of Thai,
# the non-joiner shapes Persian, the joiner makes one emoji of several.
_SPACED = "0-9A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0370-\u03ff\u0400-\u052f"
JOINING = re.compile(f"(?<=[{_SPACED}])[\u200b-\u200d]+(?=[{_SPACED}])")
_SITE_SUFFIX = re.compile(r"\s*(?:⎊|[|–—-])\s*Greeks\.live\s*$", re.I)
_TITLE_SUFFIXES = (
    re.compile(r"\s*⎊\s*Resource\s+\d+\s*$"),
    re.compile(r"\s*⎊\s*Area\s*$"),
    re.compile(r"\s*⎊\s*(?:Definition|Term)\s*$"),
)
_SUMMARY_PREFIX = re.compile(r"^\s*Meaning\s*⎊\s*")
_SUMMARY_SUFFIX = re.compile(r"\s*⎊\s*(?:Definition|Term)\s*$")
_DEPTH_LIMIT = re.compile(r"Excessive depth in document: (\d+)")
# A date a byline shows in its text: ISO ("2024-06-04"), or written out in English with the month's name or
# its abbreviation ("June 4, 2024", "4th Sept. 2023", "Jun 4 2024").
_MONTH = (r"(?P<{}>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
          r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DAY = r"(?P<{}>[0-3]?\d)(?:st|nd|rd|th)?"
_VISIBLE_DATE = re.compile(
    rf"\b(?:(?P<iso>\d{{4}}-\d{{2}}-\d{{2}})"
    rf"|{_MONTH.format('month')}\s+{_DAY.format('day')},?\s+(?P<year>\d{{4}})"
    rf"|{_DAY.format('day_first')}\s+{_MONTH.format('month_after')},?\s+(?P<year_after>\d{{4}}))\b", re.I)
_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
# A labelled meta line's value runs to a separator, or to the next label where the lines were run together (lines
# parted by <br>: "Author: Greeks.live Categories: Definition").
_LABELLED = re.compile(r"\b(Author|By|Categories|Category)\s*:\s*([^·|\n]+?)\s*(?=\b(?:Published|Posted|Updated|"
                       r"Last updated|Last modified|Author|By|Categories|Category|Tags?)\s*:|[·|\n]|$)", re.I)


@dataclass
class Extraction:
    """What one page yields: the record to archive, the errors met, and links to follow; ``links_cut``, where
    the page had more links to follow than its size allows (:func:`_most_links`), what was left out, in words (its
    ``page cut`` row says it too), which a crawl's summary names among the limits it met."""

    record: dict[str, Any]
    errors: list[dict[str, Any]] = field(default_factory=list)
    outlinks: list[str] = field(default_factory=list)
    links_cut: str | None = None


_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\x0c\x1b")


def decode(body: bytes, content_type: str | None = None) -> str:
    """The page's text (:func:`decoded`)."""
    return decoded(body, content_type)[0]


def decoded(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """The page's text, and the encoding it was read in, decoded the way Scrapy's ``TextResponse`` does it, except that
    bytes declared as a single-byte Latin charset but valid as UTF-8 are read as UTF-8:
    such a page's declaration is wrong, not its text; and a wide charset declared for a body
    without a byte order mark is read as a browser reads it (:func:`_wide`), and so is a ``<meta>``
    declaration (:func:`_declared_in_page`). A charset no browser reads a page in is no declaration
    (:func:`~glossary_spider.charsets.readable`)."""
    if (header := _header_encoding(content_type)) is not None and not readable(header):
        content_type = header = None
    if (header or "").startswith(("utf-16", "utf-32")) and not body.startswith(_WIDE_BOMS):
        content_type = _wide(body, content_type)
    if _header_encoding(content_type) is None:
        content_type = _declared_in_page(body) or content_type
    encoding, text = html_to_unicode(content_type, body, auto_detect_fun=_detected)
    if encoding == "cp1252" and not body.isascii():  # w3lib's name for latin-1 and ascii too
        try:
            return body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    return text, encoding


DETECTED_FROM = 64 * 1024
# The single-byte code pages of Latin script (codecs' names) that charset-normalizer may take a Western page
# for: on a few accented letters it often says windows-1250 for windows-1252, and "naïve" would read "naďve".
_LATIN = frozenset(codecs.lookup(name).name for name in (
    "cp1250", "cp1252", "cp1254", "cp1257", "cp1258", "latin_1", "iso8859_2", "iso8859_3", "iso8859_4",
    "iso8859_9", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15", "iso8859_16", "mac_roman", "mac_latin2",
    "cp437", "cp850", "cp858", "ascii"))
_NOT_ASCII = re.compile(rb"[\x80-\xff]")
# A body that is UTF-8 but for a few bytes (a stray byte, a windows-1252 quote pasted into one paragraph) holds
# at least this many valid multi-byte sequences for each byte that is not. Text in another encoding makes valid
# ones only by chance (an "Ё" after a capital in windows-1251), and more invalid ones: in Western, Central
# European, Greek, Hebrew, Turkish, Thai, Cyrillic (windows-1251, KOI8-R, cp866) and Chinese, Japanese and
# Korean text, at most one valid for every two invalid, and no snippet of one to ten words reached four to one.
# Four leaves that margin, and takes one bad byte among a few accents.
UTF8_MAJORITY = 4
_HIGH_BYTES = bytes(range(0x80, 0x100))


def _detected(body: bytes) -> str | None:
    """The encoding of a body that declares none: ASCII or UTF-8 if it is valid as either, as Scrapy's
    ``TextResponse`` reads it, or UTF-8 if it is but for a few bytes (:data:`UTF8_MAJORITY`), each then read
    as U+FFFD, as browsers find such a page; else what charset-normalizer makes of :data:`DETECTED_FROM` bytes
    from its first byte past ASCII (a page's first 64 KiB may be all scripts and styles), and windows-1252, the
    web's default for Western pages (WHATWG), wherever it guesses a Latin code page the body reads in. Rather
    than UTF-8 with each byte that is not turned into U+FFFD."""
    for encoding in ("ascii", "utf-8"):
        try:
            body.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    if _mostly_utf8(body):
        return "utf-8"
    from charset_normalizer import from_bytes  # read only for such pages, which are few

    start = max(0, found.start() - 1024) if (found := _NOT_ASCII.search(body)) else 0
    match = from_bytes(body[start:start + DETECTED_FROM]).best()
    if match is None:
        return None
    guessed = codecs.lookup(match.encoding).name
    if guessed in _LATIN:
        try:
            body.decode("cp1252")
        except UnicodeDecodeError:
            return guessed
        return "cp1252"
    return resolve_encoding(guessed)


def _mostly_utf8(body: bytes) -> bool:
    """Whether a body that is not valid UTF-8 holds :data:`UTF8_MAJORITY` valid multi-byte sequences for each
    invalid one."""
    text = body.decode("utf-8", "replace")
    invalid = text.count("\ufffd") - body.count("\ufffd".encode())  # U+FFFD written in the body is valid
    ascii_bytes = len(body.translate(None, _HIGH_BYTES))  # each one character: no invalid sequence holds one
    return len(text) - ascii_bytes - invalid >= UTF8_MAJORITY * invalid


def _wide(body: bytes, content_type: str | None) -> str | None:
    """What to decode a body with that its Content-Type says is UTF-16 or UTF-32 (by any label: ``unicode``
    is the Encoding Standard's UTF-16LE), with no byte order mark. Markup in either holds NUL bytes (every
    ASCII character has them): a body without one in its first KiB is not in it, and its own declaration, or
    UTF-8, is read instead. Otherwise it is read in the byte order its NULs show (after each ASCII character:
    little-endian, as the WHATWG Encoding Standard reads ``utf-16``; before it: big-endian, as w3lib reads
    both labels)."""
    head = body[:1024]
    if b"\x00" not in head:
        return None
    name = _header_encoding(content_type)[:6]  # utf-16 or utf-32
    width = 2 if name == "utf-16" else 4
    little = head[width - 1::width].count(0) >= head[0::width].count(0)
    return f"text/html; charset={name}-{'le' if little else 'be'}"


def _declared_in_page(body: bytes) -> str | None:
    """What to decode a body with in place of the charset its ``<meta>`` (or XML declaration) names, where the
    HTML Standard reads that otherwise than Python's codec of the label; None where the label stands. The
    declaration was found reading the bytes as ASCII, so a label of UTF-16 or UTF-32, whose every ASCII
    character holds NUL bytes, is wrong: the standard reads it as UTF-8, and a body that is not UTF-8 is
    read in the encoding its bytes show (:func:`_detected`). A label of x-user-defined is windows-1252, and one
    no browser reads a page in, none (the encoding the bytes show)."""
    declared = html_body_declared_encoding(body)
    if declared == "x-user-defined":
        return "text/html; charset=cp1252"
    if declared and (declared.startswith(("utf-16", "utf-32")) or not readable(declared)):
        return f"text/html; charset={_detected(body) or 'utf-8'}"
    return None


def looks_binary(body: bytes, content_type: str | None = None) -> bool:
    """Whether a body served as HTML is really something else: many control bytes early on, once
    decoded from UTF-16 or UTF-32 (by their byte order mark, or the charset ``content_type`` names),
    whose every ASCII character holds a NUL byte."""
    head = body[:4096]
    declared = http_content_type_encoding(content_type) or ""
    if head.startswith(_WIDE_BOMS) or declared.startswith(("utf-16", "utf-32")):
        head = decode(head, content_type).encode("utf-8")
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))  # in one pass, in C
    return bool(head) and controls > len(head) // 20


_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


# Every element an HtmlElement, chosen in C: lxml.html's own lookup (which gives forms and inputs
# classes of their own, unused here) calls back into Python for each element lxml hands over.
_ELEMENT_CLASSES = etree.ElementDefaultClassLookup(
    element=HtmlElement, comment=lxml.html.HtmlComment, pi=lxml.html.HtmlProcessingInstruction,
    entity=lxml.html.HtmlEntity)


def parse(text: str, url: str) -> tuple[HtmlElement, list[dict[str, Any]]]:
    """The page's tree, parsed as parsel parses it, and the parse's own errors: a page nested
    deeper than libxml2's limit (2,048 levels with huge_tree) is cut there, and says so."""
    return _parse(_markup(text), url)


def _markup(text: str) -> bytes:
    """What is parsed of a page's text: UTF-8, without NUL characters (they make lxml stop reading,
    and are never part of a page's text)."""
    markup = text.strip().encode("utf-8")
    if b"\x00" in markup:  # searched in bytes: several times quicker than in text beyond Latin-1
        markup = markup.replace(b"\x00", b"")
    return markup or b"<html/>"


# A body's first byte that may begin a byte order mark (UTF-8, UTF-16 or UTF-32).
_BOM_LEADS = (b"\xef", b"\xfe", b"\xff", b"\x00")
_UTF8_NAMES = ("utf-8", "cp1252")  # as w3lib resolves them; a page read as cp1252 is read as UTF-8 if it is valid


def _utf8_markup(body: bytes, content_type: str | None) -> bytes | None:
    """What :func:`_markup` makes of the decoded and capped body, taken from the body itself when that is
    the same: a body that :func:`decode` reads as UTF-8 (no byte order mark, UTF-8 or cp1252 declared or
    nothing), valid as UTF-8, short of every cap, and with ASCII at either end once trimmed, where trimming
    white space is the same in bytes as in text. Most pages are; they are spared decoding and encoding
    again. None for the others."""
    if len(body) > MAX_MARKUP_CHARS or body[:1] in _BOM_LEADS:
        return None
    if len(body) > MAX_ELEMENTS and body.count(b"<") > MAX_ELEMENTS:
        return None
    declared = _header_encoding(content_type) or html_body_declared_encoding(body) or "utf-8"
    if declared not in _UTF8_NAMES:
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    markup = body.strip()
    # str.strip() also takes the separators \x1c-\x1f, and white space beyond ASCII, off the ends.
    if markup and not (0x20 <= markup[0] < 0x80 and 0x20 <= markup[-1] < 0x80):
        return None
    if b"\x00" in markup:
        markup = markup.replace(b"\x00", b"")
    return markup or b"<html/>"


# A crawl meets a few Content-Type values, each thousands of times.
_header_encoding = lru_cache(maxsize=64)(http_content_type_encoding)


_PARSERS = threading.local()  # a parser serves one parse at a time: one for each thread


def _parser() -> etree.HTMLParser:
    """This thread's parser, made once (each parse starts its error log afresh)."""
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = lxml.html.HTMLParser(recover=True, encoding="utf-8", huge_tree=True)
        parser.set_element_class_lookup(_ELEMENT_CLASSES)
    return parser


def _parse(body: bytes, url: str) -> tuple[HtmlElement, list[dict[str, Any]]]:
    parser = _parser()
    root = etree.fromstring(body, parser=parser, base_url=url)
    if root is None:
        root = etree.fromstring(b"<html/>", parser=parser, base_url=url)
    errors = []
    for entry in parser.error_log:
        if entry.type_name == "ERR_RESOURCE_LIMIT" and (depth := _DEPTH_LIMIT.search(entry.message)):
            errors.append({"stage": "parse", "error": f"markup nested deeper than the parser's limit of "
                           f"{int(depth.group(1)):,} levels: the page was read no further, what lies deeper and "
                           "all after it left out",
                           "detail": f"line {entry.line}: {entry.message.strip()}"})
            break
    return root, errors


def extract_page(body: bytes | str, url: str, content_type: str | None = None, follow: bool = True) -> Extraction:
    """Extract a page fetched from ``url`` (already normalised) into a plain record, and, if ``follow``
    (a crawl's pages; not a reparse's), the links a crawl may follow from it.

    What a page may yield is bounded (:data:`MAX_ELEMENTS` and the other limits):
    whatever is cut is named in the extraction's errors.

    An extraction makes thousands of lists, dicts and element proxies and no reference cycle: all it leaves
    is freed as its references go. Python's cycle collector, which runs whenever 700 more such objects have
    been made than freed, would only walk them, at a tenth of the extraction's time: it waits for the end
    of the call.
    """
    if not gc.isenabled():  # the caller's choice, kept
        return _extract(body, url, content_type, follow)
    gc.disable()
    try:
        return _extract(body, url, content_type, follow)
    finally:
        gc.enable()


def _extract(body: bytes | str, url: str, content_type: str | None, follow: bool) -> Extraction:
    size = len(body)
    markup, cuts = _utf8_markup(body, content_type) if isinstance(body, bytes) else None, []
    encoding = "utf-8"  # the page's, in which its links' queries are written (urls.in_page_encoding)
    if markup is None:
        text, encoding = (body, "utf-8") if isinstance(body, str) else decoded(body, content_type)
        text, cuts = _cap_markup(text)
        markup = _markup(text)
    markup, crowded = _fewer_attributes(markup)
    root, errors = _parse(markup, url)
    cuts += crowded
    base = base_url(_base_href(root), url)
    page_type, slug = classify(url)

    # One walk of the tree for what structured data reads and for what tells the content walk where to look.
    tagged = elements_by_tag(root, ("script", "head", "noscript", "area", "link", "dialog", "svg"))
    structured, structured_errors = extract_structured_data(root, url, max(MIN_TEXT_CHARS, size // 4), tagged)
    errors += structured_errors
    memo = PageMemo(base, url, encoding)
    memo.noscript, memo.pager = bool(tagged["noscript"]), leads_on(tagged["area"], tagged["link"])
    memo.dialogs, memo.svgs = tagged["dialog"], tagged["svg"]
    text_of = memo.text
    content, h1 = extract_content(root, memo, page_type)
    cards = content.cards
    head = elements_by_tag(root, ("meta", "link"))  # read once the content walk has left out templates
    metas = _meta_contents(head["meta"])
    title = _title(h1, root, metas, text_of, page_type)
    if content.doubt:
        logger.debug("General tier for %s: %s", url, content.doubt)
        content = settle(content, root, memo, (title, text_of(h1) if h1 is not None else None))
    facts = JsonLdFacts(structured)
    author, categories = facts.author(), facts.categories()
    if not (author and categories):  # the visible meta lines, read only where JSON-LD says nothing
        meta_text = " · ".join(text_of(e) for e in content.meta if is_meta(e))
        author = author or _author(root, metas, meta_text, text_of, cards)
        categories = categories or _categories(content.meta, meta_text, text_of, h1)

    summary = _clean_summary(
        _meta(metas, "description") or _meta(metas, "og:description") or _shown(facts.first("description"))
    )
    published = to_utc(facts.first("datePublished"))
    modified = to_utc(facts.first("dateModified")) or to_utc(_meta(metas, "article:modified_time"))
    if not (published and modified):  # the dates the page shows, read only where its metadata says none
        visible = _visible_dates(content.meta, text_of)
        published = published or visible.published or to_utc(_meta(metas, "article:published_time"))
        modified = modified or visible.modified
    body_text = content.body_text
    links = content.links  # each made for this page: numbered in place
    positions: dict[str, int] = {}
    for link in links:
        link["position"] = positions[link["kind"]] = positions.get(link["kind"], -1) + 1

    record = {
        "url": url,
        "page_type": page_type,
        "slug": slug,
        "title": title,
        "summary": summary,
        "body_text": body_text or None,
        "word_count": word_count(body_text),
        "published": published,
        "modified": modified,
        "author": _line(author),
        "categories": [name for name in map(_line, categories) if name] or None if categories else None,
        "language": _line(_LANG_XPATH(root)),
        "canonical_url": _canonical(head["link"], base, encoding),
        "sections": [{"position": i, **s} for i, s in enumerate(content.sections)],
        "links": links,
        "structured_data": structured,
        "extractor_version": EXTRACTOR_VERSION,
    }
    if may_hold_stray_characters(markup) or STRAY.search(url):
        record = _without_stray_characters(record)
    cuts += _bound(record, size)
    record["content_hash"] = content_hash(record)
    outlinks = urls_to_follow(root, memo) if follow else []
    if memo.too_long:
        cuts.append(f"{memo.too_long:,} links to URLs longer than {MAX_URL:,} characters not recorded")
    links_cut = None
    if len(outlinks) > (most := _most_links(size)):
        outlinks, links_cut = _content_first(outlinks, record["links"], most)
        cuts.append(links_cut)
    if cuts:  # one row for all that was cut from the page
        errors.insert(0, {"stage": "parse", "error": "page cut: " + "; ".join(cuts), "detail": None})
    return Extraction(record, errors, outlinks, links_cut)


def _content_first(outlinks: list[str], links: list[dict[str, Any]], most: int) -> tuple[list[str], str]:
    """The ``most`` of a page's ``outlinks`` it follows: those of its content (its record's ``links``: its text's,
    its related lists') first, then the others (menus, header, footer) in the page's order, so that a cut falls
    on its chrome; and the cut, in words. Each URL counts once, however often the page repeats it."""
    followed = set(outlinks)
    content = [url for url in dict.fromkeys(link["to_url"] for link in links) if url in followed][:most]
    first = set(content)
    kept = content + [url for url in outlinks if url not in first][:most - len(content)]
    cut = f"{len(outlinks):,} links to follow, {most:,} followed"
    if len(content) == most:
        cut += f": {most:,} of its content, none of its menus' and others'"
    elif content:
        cut += f": the {len(content):,} of its content first, then {most - len(content):,} of its menus' and others'"
    return kept, cut


def _cap_markup(text: str) -> tuple[str, list[str]]:
    """The page's markup up to :data:`MAX_MARKUP_CHARS` and its :data:`MAX_ELEMENTS`-th tag:
    two million empty elements under the size cap would otherwise cost a gigabyte of parse tree."""
    cuts = []
    if len(text) > MAX_MARKUP_CHARS:
        cuts.append(f"markup of {len(text):,} characters, the first {MAX_MARKUP_CHARS:,} read")
        text = text[:MAX_MARKUP_CHARS]
    if len(text) <= MAX_ELEMENTS or text.count("<") <= MAX_ELEMENTS:  # a short page cannot hold that many
        return text, cuts
    end = -1
    for _ in range(MAX_ELEMENTS):
        end = text.find("<", end + 1)
    return text[:end], [*cuts, f"more than {MAX_ELEMENTS:,} tags, the markup after them ({len(text) - end:,} "
                                "characters) not read"]


def _fewer_attributes(markup: bytes) -> tuple[bytes, list[str]]:
    """``markup`` with the attributes of each tag past the first :data:`MAX_ATTRIBUTES` taken out, and what
    was cut."""
    if len(markup) < ATTRIBUTES_SEARCHED_FROM or not (crowded := _CROWDED_TAG.search(markup)):
        return markup, []
    parts, start, tags, most = [], 0, 0, 0
    while crowded:
        end = _ATTRIBUTES.match(markup, crowded.end()).end()
        most = max(most, MAX_ATTRIBUTES + len(_ONE_ATTRIBUTE.findall(markup, crowded.end(), end)))
        parts.append(markup[start:crowded.end()])
        start, tags = end, tags + 1
        crowded = _CROWDED_TAG.search(markup, end)
    parts.append(markup[start:])
    each = "" if tags == 1 else " of each"
    return b"".join(parts), [f"{tags:,} tag{'s' * (tags > 1)} with more than {MAX_ATTRIBUTES:,} attributes (the "
                             f"most {most:,}), the first {MAX_ATTRIBUTES:,}{each} read"]


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return JOINING.sub("", STRAY.sub("", value))
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k if not isinstance(k, str) else _clean(k): _clean(v) for k, v in value.items()}
    return value


def _without_stray_characters(record: dict[str, Any]) -> dict[str, Any]:
    """The record with stray characters (:data:`STRAY`, :data:`JOINING`) removed from every string in it."""
    return _clean(record)


def _line(text: str | None) -> str | None:
    """A field that is a line (an author, a category, a language): its runs of white space one space, none at its
    ends; a site's line breaks in it are nothing the archive's readers should show as lines of their own."""
    return " ".join(text.split()) or None if text else None


def _most_links(size: int) -> int:
    """How many links a page of ``size`` bytes may have kept, and followed: one per :data:`LINK_BYTES`, between
    :data:`MIN_LINKS` and :data:`MAX_LINKS`."""
    return min(MAX_LINKS, max(MIN_LINKS, size // LINK_BYTES))


def _bound(record: dict[str, Any], size: int) -> list[str]:
    """Cut the record to what a page of ``size`` bytes may put in the archive; what was cut, in words."""
    cuts = []
    most_text = min(MAX_TEXT_CHARS, max(MIN_TEXT_CHARS, size // 4 // TEXT_STEP * TEXT_STEP))
    most = _most_links(size)
    for name, most_chars in (("title", MAX_TITLE_CHARS), ("summary", MAX_SUMMARY_CHARS),
                             ("author", MAX_LINE_CHARS), ("language", MAX_LINE_CHARS)):
        if len(value := record[name] or "") > most_chars:
            cuts.append(f"{name} of {len(value):,} characters, the first {most_chars:,} kept")
            record[name] = value[:most_chars]
    categories = record["categories"]
    if categories and max(map(len, categories)) > MAX_LINE_CHARS:
        long = sum(len(name) > MAX_LINE_CHARS for name in categories)
        record["categories"] = [name[:MAX_LINE_CHARS] for name in categories]
        cuts.append(_each_cut(long, "category", "categories", MAX_LINE_CHARS))
    text = record["body_text"] or ""
    if len(text) > most_text:
        record["body_text"] = kept = _at_a_word_end(text, most_text)
        record["word_count"] = word_count(kept)
        cuts.append(f"body text of {len(text):,} characters, the first {len(kept):,} kept")
    sections = record["sections"]
    if len(sections) > MAX_SECTIONS:
        cuts.append(f"{len(sections):,} sections, the first {MAX_SECTIONS:,} kept")
        sections = record["sections"] = sections[:MAX_SECTIONS]
    # Few pages have a line to cut: one comprehension (the cheapest loop) looks each list over first.
    if [section for section in sections if len(section["heading"] or "") > MAX_LINE_CHARS]:
        cuts += _cut_lines(sections, "heading", MAX_LINE_CHARS, "section heading", "section headings")
    room = most_text
    for number, section in enumerate(sections):
        room -= len(section["heading"] or "") + len(section["text"] or "")
        if room < 0:
            cuts.append(f"section text past {most_text:,} characters, the last {len(sections) - number:,} of "
                        f"{len(sections):,} sections not kept")
            del sections[number:]
            break
    links = record["links"]
    if len(links) > most:
        cuts.append(f"{len(links):,} links, the first {most:,} kept")
        del links[most:]
    if [link for link in links if len(link["anchor_text"] or "") > MAX_LINE_CHARS
            or len(link["summary"] or "") > MAX_SUMMARY_CHARS]:
        cuts += _cut_lines(links, "anchor_text", MAX_LINE_CHARS, "link anchor text", "link anchor texts")
        cuts += _cut_lines(links, "summary", MAX_SUMMARY_CHARS, "link summary", "link summaries")
    return cuts


def _at_a_word_end(text: str, most: int) -> str:
    """The first ``most`` characters of ``text``, or fewer, ending where a word does (within the last 1,000)."""
    end = max(text.rfind(" ", most - 1000, most + 1), text.rfind("\n", most - 1000, most + 1))
    return text[:end].rstrip() if end > 0 else text[:most]


def _cut_lines(items: list[dict[str, Any]], key: str, most_chars: int, one: str, many: str) -> list[str]:
    """Cut the ``key`` of each of ``items`` to ``most_chars``; what was cut, in words (nothing if none was)."""
    long = 0
    for item in items:
        if len(value := item[key] or "") > most_chars:
            item[key] = value[:most_chars]
            long += 1
    return [_each_cut(long, one, many, most_chars)] if long else []


def _each_cut(count: int, one: str, many: str, most_chars: int) -> str:
    """``count`` fields of a kind cut to ``most_chars``, in words."""
    if count == 1:
        return f"1 {one} of more than {most_chars:,} characters, the first {most_chars:,} kept"
    return f"{count:,} {many} of more than {most_chars:,} characters, the first {most_chars:,} of each kept"


def content_hash(record: dict[str, Any], churning: bool = False) -> str:
    """sha256 of what the page says, so that markup or template churn is not a change: its JSON-LD is
    read without the properties a site rewrites on its own (:mod:`glossary_spider.churn`), which the
    record's digest covers. ``churning``: with them, as extractor versions up to 5 hashed a page."""
    json_ld = [i["data"] if churning else churn.split(i["data"])[0]
               for i in record["structured_data"] if i["syntax"] == "json-ld"]
    essence = {
        "title": record["title"],
        "summary": record["summary"],
        "body_text": record["body_text"],
        "sections": [[s["heading"], s["text"]] for s in record["sections"]],
        "links": [[l["kind"], l["to_url"], l["anchor_text"], l["summary"]] for l in record["links"]],
        "json_ld": json_ld,
    }
    # The rest are strings and None, and shallow: only JSON-LD may need json.
    return hashlib.sha256(fastjson.canonical(essence, plain=not fastjson.needs_json(json_ld))).hexdigest()


_LANG_XPATH = xpath("string(/html/@lang)")
_TITLE_XPATH = xpath("string(//title)")
_TIMES_XPATH = xpath("descendant::time[@datetime]")
# "[@rel]" first: most links have none, and are passed over before the string functions run.
_AUTHOR_LINKS = "a[@rel][contains(concat(' ', normalize-space(@rel), ' '), ' author ')]"
_AUTHOR_LINKS_XPATH = xpath(f"/descendant::{_AUTHOR_LINKS}")
_BYLINE_AUTHOR_LINKS_XPATH = xpath(f"descendant::{_AUTHOR_LINKS}")
_CATEGORY_LINKS = ("a[@rel][contains(concat(' ', normalize-space(@rel), ' '), ' category ')"
                   " or contains(concat(' ', normalize-space(@rel), ' '), ' tag ')]")
_CATEGORY_LINKS_XPATH = xpath(f"descendant::{_CATEGORY_LINKS}")
_CATEGORY_LINKS_AT_XPATH = xpath(f"descendant-or-self::{_CATEGORY_LINKS}")


def _base_href(root: HtmlElement) -> str:
    """The ``href`` of the page's first ``<base>`` that has one. (lxml looks for an element name in the
    document's own names first: on a page without ``<base>`` this costs nothing.)"""
    for base in root.iter("base"):
        href = base.get("href")
        if href is not None:
            return href
    return ""


def _meta_contents(metas: list[HtmlElement]) -> dict[str, str]:
    """The content of the first of ``metas`` of each name or property (that has a content), by the name in
    lower case: HTML reads ``<meta name="Description">`` as it reads ``description``."""
    found: dict[str, str] = {}
    for content, name, property_ in attributes(metas, ("content", "name", "property")):
        if content is not None:
            for key in (name, property_):
                if key is not None:
                    found.setdefault(key.lower(), content)
    return found


def _meta(metas: dict[str, str], name: str) -> str | None:
    value = " ".join(metas.get(name, "").split())
    return value or None


def _strip_title(text: str, site: str | None = None) -> str | None:
    """``text`` without the glossary's suffixes, nor ``site``'s name (og:site_name) after a separator, where
    words stand before it: "Vega | Acme Wiki" is "Vega", "Acme Wiki" stays itself."""
    text = _SITE_SUFFIX.sub("", " ".join(text.split()))
    for suffix in _TITLE_SUFFIXES:
        text = suffix.sub("", text)
    if site and len(site) <= _MOST_SITE_NAME:
        text = _site_suffix(site).sub("", text)
    return text or None


_MOST_SITE_NAME = 200  # characters: a longer og:site_name names no site, and is looked for in no title


@lru_cache(maxsize=64)
def _site_suffix(site: str) -> re.Pattern[str]:
    """The site's name after what parts a title from it (a bar, a dash, a middle dot, a bullet, a guillemet,
    ⎊; a hyphen, a slash or a tilde between spaces), at the end of a title with words before it. Not after a
    colon: "Interview: Bob" is a title and its subtitle, whatever the site is called."""
    return re.compile(r"(?<=\S)\s*(?:[|–—·•»⎊]|\s[-/~])\s*" + re.escape(site) + r"\s*$", re.I)


def _title(h1: HtmlElement | None, root: HtmlElement, metas: dict[str, str], text_of: Callable[[HtmlElement], str],
           page_type: str) -> str | None:
    # Each read only if those before it say nothing. The page's heading is its own; the others may carry
    # the site's name.
    if h1 is not None and (title := _strip_title(_archive_name(h1, text_of, page_type))):
        return title
    site = _meta(metas, "og:site_name")
    if (og_title := _meta(metas, "og:title")) and (title := _strip_title(og_title, site)):
        return title
    return _strip_title(_TITLE_XPATH(root), site)


_ARCHIVE_PREFIX = re.compile(r"^(?P<kind>\w+(?: \w+)?):\s+(?P<name>\S.*)$", re.DOTALL)


def _archive_name(h1: HtmlElement, text_of: Callable[[HtmlElement], str], page_type: str) -> str:
    """The heading's text, without the word before a colon that names the kind of archive the page is, where it
    is that: in WordPress's markup of an archive's title, the colon parting it from the name set apart in a
    ``<span>`` ("Area: <span>Vega</span>", core's since 5.5; "<span>Area:</span> Vega", Twenty Twenty's); or, in
    any markup, the word naming the page's own kind ("Area: Vega" on an area). "Interview: Bob" stays whole."""
    text = heading_text(h1, text_of)
    found = _ARCHIVE_PREFIX.match(text)
    if found is None:
        return text
    if found["kind"].lower() == page_type.split("_")[0]:
        return found["name"]
    parts = [child for child in h1 if isinstance(child.tag, str)]
    if len(parts) == 1 and parts[0].tag == "span":
        span, before, after = parts[0], (h1.text or "").strip(), (parts[0].tail or "").strip()
        shown = text_of(span)
        if (before.endswith(":") and not after and shown == found["name"]
                or not before and shown.endswith(":") and after == found["name"]):
            return found["name"]
    return text


def _shown(value: Any) -> Any:
    """A JSON-LD string as a reader sees it where it may hold markup (a plugin's description copied from the
    post's HTML: "<p>Meaning ⎊ Delta is the <strong>first</strong> derivative &amp; …</p>"): its text, as
    the page's is read (tags and scripts left out, character references decoded, blocks apart). A meta
    tag's content is read so by the parser already; other values are returned as they are."""
    if not isinstance(value, str) or ("<" not in value and "&" not in value):
        return value
    markup = value.replace("\x00", "").encode("utf-8", "replace")  # JSON may write a lone surrogate
    root = etree.fromstring(b"<html><body>" + markup + b"</body></html>", parser=_parser())
    if root is None:
        return None
    etree.strip_elements(root, *UNREAD, with_tail=False)
    return fold(raw_text(root))


def _clean_summary(text: str | None) -> str | None:
    if not isinstance(text, str):
        return None
    text = _SUMMARY_SUFFIX.sub("", _SUMMARY_PREFIX.sub("", " ".join(text.split())))
    return text or None


class VisibleDates(NamedTuple):
    published: str | None
    modified: str | None


def _visible_dates(meta: list[HtmlElement], text_of: Callable[[HtmlElement], str]) -> VisibleDates:
    """The publication and last-edit dates the page's meta lines show, each line's dates being its ``<time>``s,
    else the dates in its text (:data:`_VISIBLE_DATE`). A date goes by the label before it, after the line's
    previous date (:data:`_DATE_LABEL`): "Published" or "Posted" the publication's, "Updated" or "Last
    modified" the edit's, wherever it stands ("Updated … · Published …", "By … | Updated …"). One without a
    label goes by its place: the first of a line that starts "Updated" the edit's, of any other line the
    publication's; the last of several, in a line that names an edit, the edit's. A ``<time>`` its markup names
    (:func:`_marked`) goes by that, before any label or place."""
    published = modified = None
    for element in meta:
        text = text_of(element)
        dates = _times(element, text, text_of)
        if not dates:
            dates = [(value, found.span(), None) for found in _VISIBLE_DATE.finditer(text)
                     if (value := _shown_date(found))]
        if not dates:
            continue
        labels = list(_DATE_LABEL.finditer(text))
        edited = next((label for label in labels if label["edit"]), None)
        edit_first = edited is not None and edited.start() == len(text) - len(text.lstrip())
        after = 0
        for i, (value, span, marked) in enumerate(dates):
            label = None
            if span is not None:
                label = next((m for m in reversed(labels) if after <= m.start() and m.end() <= span[1]), None)
                after = span[1]
            if marked is not None:
                edit = marked
            elif label is not None:
                edit = label["edit"] is not None
            elif i == 0:
                edit = edit_first
            elif i == len(dates) - 1 and edited is not None and not edit_first:
                edit = True
            else:
                continue
            if edit:
                modified = modified or value
            else:
                published = published or value
    return VisibleDates(published, modified)


def _times(element: HtmlElement, text: str, text_of: Callable[[HtmlElement], str],
           ) -> list[tuple[str, tuple[int, int] | None, bool | None]]:
    """The dates of the ``<time>``s of a meta line whose text is ``text``, each with where it stands there (None
    where it shows nothing found there) and whether its markup names it the edit's (:func:`_marked`)."""
    dates: list[tuple[str, tuple[int, int] | None, bool | None]] = []
    after = 0
    for time in _TIMES_XPATH(element):
        if value := to_utc(time.get("datetime")):
            shown = text_of(time)
            start = text.find(shown, after) if shown else -1
            if start >= 0:
                after = start + len(shown)
            dates.append((value, (start, after) if start >= 0 else None, _marked(time)))
    return dates


def _marked(time: HtmlElement) -> bool | None:
    """Whether a ``<time>``'s markup names it the last edit's date (True) or the publication's (False), else None:
    schema.org's ``itemprop`` (``dateModified``, ``datePublished``), or hAtom's classes, which WordPress themes
    write (``updated``; ``published``, with ``updated`` beside it on a post never edited). GeneratePress writes
    the edit's first."""
    prop = (time.get("itemprop") or "").strip()
    if prop in ("dateModified", "datePublished"):
        return prop == "dateModified"
    classes = (time.get("class") or "").split()
    if "published" in classes:
        return False
    return True if "updated" in classes else None


def _shown_date(found: re.Match[str]) -> str | None:
    """The ISO date a match of :data:`_VISIBLE_DATE` shows, or None for one the calendar does not have."""
    if found["iso"]:
        return to_utc(found["iso"])
    month, day, year = found["month"] or found["month_after"], found["day"] or found["day_first"], \
        found["year"] or found["year_after"]
    try:
        return date(int(year), _MONTHS[month[:3].lower()], int(day)).isoformat()
    except ValueError:
        return None


# The label of a meta line's date: the edit's, or the publication's.
_DATE_LABEL = re.compile(r"\b(?:(?P<edit>(?:last\s+)?(?:updated|modified|edited))|(?:first\s+)?published|posted)\b",
                         re.I)


def _author(root: HtmlElement, metas: dict[str, str], meta_text: str, text_of: Callable[[HtmlElement], str],
            cards: Callable[[], set[HtmlElement]] | None) -> str | None:
    """The page's author: its byline's author links (not those in a listed post's card: ``cards``, where the page
    has a listing), else its meta lines'."""
    links = _AUTHOR_LINKS_XPATH(root)
    if links and cards is not None:
        found = cards()
        links = [a for a in links if found.isdisjoint(a.iterancestors())]
    if links and text_of(links[0]):
        # The byline's links: those of the block holding the first (not an author's box further down).
        byline, kept = next((e for e in links[0].iterancestors() if e.tag not in INLINE), root), set(links)
        return several(list(dict.fromkeys(name for a in _BYLINE_AUTHOR_LINKS_XPATH(byline)
                                           if a in kept and (name := text_of(a)))))
    for label, value in _LABELLED.findall(meta_text):
        if label.lower() in ("author", "by"):
            return value.strip()
    if byline := _BYLINE.search(meta_text):
        return byline.group(1)
    return _meta(metas, "author")


# A byline's names, in the page's meta lines (joined by " · "): after "By" (or "by", further on), a capital, up
# to a separator, a comma, " on " or a digit ("By Jane Doe and John Smith, Reuters.", "Posted on 4 June by Jane
# Doe · Options"); past commas only to a last name after "and" or "&" ("By Jane Doe, John Smith and Ann Lee").
_NAME = r"[A-Z][^·|•,;\n]*?"
_BYLINE = re.compile(rf"\b[Bb]y\s+((?:the\s+)?{_NAME}(?:(?:,\s*{_NAME})*,?\s+(?:and|&)\s+{_NAME})?)"
                     r"\s*(?=[·|•,;\n]|\son\s|\s\d|\.?$)")


def _categories(meta: list[HtmlElement], meta_text: str, text_of: Callable[[HtmlElement], str],
                h1: HtmlElement | None) -> list[str] | None:
    """The page's category and tag links: in its meta lines, else above its title (a theme's header that
    writes them before the ``<h1>``, in the same block); else a labelled line's."""
    for element in meta:
        names = [text_of(a) for a in _CATEGORY_LINKS_XPATH(element)]
        if names:
            return names
    if h1 is not None:
        above = reversed([e for e in h1.itersiblings(preceding=True) if isinstance(e.tag, str)])
        if names := [text_of(a) for element in above for a in _CATEGORY_LINKS_AT_XPATH(element)]:
            return names
    for label, value in _LABELLED.findall(meta_text):
        if label.lower().startswith("categor"):
            return [v.strip() for v in value.split(",") if v.strip()]
    return None


def _canonical(links: list[HtmlElement], base: str, encoding: str) -> str | None:
    """The ``href`` of the first of ``links`` whose ``rel`` names ``canonical`` (in any case) and that has one, in
    the page's head: one in its body is no canonical (the HTML Standard allows it in the head alone, and search
    engines ignore one elsewhere), and its text, a comment or a post, may hold anything its writers wrote."""
    for link in links:
        if ("canonical" in (link.get("rel") or "").lower().split() and (href := link.get("href")) is not None
                and next(link.iterancestors("body"), None) is None):
            href = href.strip()
            return normalize_url(in_page_encoding(href, encoding), base) if href else None
    return None
