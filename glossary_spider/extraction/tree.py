"""What extraction reads of a page's tree node by node: an element's text (as written, folded, only its
start, or outside its links; the texts either side of a line break, a block or a table cell kept
apart), its children as the content walk reads them, the links under each element, the page's
paragraphs and marks, a few searches of the whole page; and one scan of its markup's bytes.

Each is read by the compiled module ``_tree`` (built from ``_tree.pyx`` by ``pip install`` where a C
compiler is at hand), from libxml2's nodes directly, without an lxml element made for every node passed
on the way. Without it, by the pure-Python function of the same name here (with a leading underscore),
which gives exactly the same, more slowly: the tests hold the two to each other on every sample page and
on random markup.
:data:`COMPILED` says which are in use.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from lxml import etree
from lxml.html import HtmlElement


def xpath(expression: str, **options: Any) -> etree.XPath:
    """``expression`` compiled once, its evaluations spared the EXSLT regular-expression functions
    (which lxml registers at every call unless told not to; no expression here uses them) and its
    strings plain ``str`` rather than lxml's, which remember the element they came from."""
    return etree.XPath(expression, regexp=False, smart_strings=False, **options)


def fold(text: str) -> str:
    """``text`` with each run of white space made one space, and none at either end."""
    # Most paragraphs are written on one line: a text whose only white space is single inner spaces
    # (a printable one holds no white space but the space) is already folded, and costs no split.
    if text.isprintable() and "  " not in text and text.strip(" ") == text:
        return text
    return " ".join(text.split())


# Elements whose text is not run on into the text around them: a line break, a block, a list item, a table
# cell. "Address:<br>Zug", "<td>Tier</td><td>Margin</td>", "<li>Outer<ul><li>Inner</li></ul></li>" read
# as two words each, not one. ``_tree._separates`` holds the same names.
SEPARATED = frozenset({
    "br", "hr", "p", "pre", "div", "blockquote", "address", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li",
    "dl", "dt", "dd", "menu", "table", "caption", "thead", "tbody", "tfoot", "tr", "td", "th", "section", "article",
    "header", "footer", "aside", "nav", "main", "figure", "figcaption", "details", "summary", "form", "fieldset",
    "legend", "option", "center", "dialog", "search", "listing", "xmp",
})


def _separated_text(top: HtmlElement, outside_links: bool = False) -> str:
    """The text under ``top`` as written, each element of :data:`SEPARATED` parted from the text around it (a
    line break for a ``<br>``, a space for the others); with ``outside_links``, none inside an ``<a>``. An
    explicit stack, not recursion: markup may nest thousands deep."""
    parts = [top.text or ""]
    stack = [(top, iter(top))]
    while stack:
        element, children = stack[-1]
        child = next(children, None)
        if child is None:  # leaving ``element``
            stack.pop()
            if stack:
                if element.tag in SEPARATED:
                    parts.append("\n" if element.tag == "br" else " ")
                parts.append(element.tail or "")
            continue
        if not isinstance(child.tag, str):  # a comment or processing instruction: only its tail is text
            parts.append(child.tail or "")
            continue
        if child.tag in SEPARATED:
            parts.append("\n" if child.tag == "br" else " ")
        if (child.text is None and not len(child)) or (outside_links and child.tag == "a"):
            parts.append(child.tail or "")
            continue
        parts.append(child.text or "")
        stack.append((child, iter(child)))
    return "".join(parts)


def _raw_text(element: HtmlElement) -> str:
    """All the text under an element, as ``"".join(element.itertext())`` reads it (comments are not
    text), each element of :data:`SEPARATED` under it parted from the text around it; gathered by libxml2
    in one call rather than chunk by chunk in Python where none is."""
    if _has_descendant(element, SEPARATED):
        return _separated_text(element)
    return etree.tostring(element, method="text", encoding=str, with_tail=False)


def _text_of(element: HtmlElement) -> str:
    """An element's text with white space folded (scripts are gone by now)."""
    if not len(element):  # its own text only (a heading, most paragraphs)
        return fold(element.text or "")
    return fold(_raw_text(element))


def _text_head(element: HtmlElement, size: int) -> str:
    """The start of :func:`text_of`: all of it if it is at most ``size`` characters long, else more than
    ``size`` of its first characters. Reads no further into the element than that, unless an element of
    :data:`SEPARATED` lies under it (then all of it)."""
    if not len(element):  # its own text only (a heading, most paragraphs): no iterator needed
        return fold(element.text or "")
    if _has_descendant(element, SEPARATED):
        return fold(_separated_text(element))
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


_UNLINKED_TEXT_XPATH = xpath("descendant::text()[not(ancestor::a)]")


def _unlinked_text(element: HtmlElement) -> str:
    """The text under an element that lies in no link (nor is the element in one)."""
    if not _has_descendant(element, SEPARATED):
        return "".join(_UNLINKED_TEXT_XPATH(element))
    if element.tag == "a" or next(element.iterancestors("a"), None) is not None:
        return ""
    return _separated_text(element, outside_links=True)


def _children(element: HtmlElement) -> list[tuple[HtmlElement, str | None, str]]:
    """``element``'s children as the content walk reads them: (child, tag, tail) for each, ``tag`` its name
    in lower case (None for a comment or a processing instruction), ``tail`` the text after it ("" if none)."""
    return [(child, child.tag.lower() if isinstance(child.tag, str) else None, child.tail or "") for child in element]


def _has_descendant(element: HtmlElement, names: Collection[str]) -> bool:
    """Whether an element of one of ``names`` lies under ``element``."""
    return next(element.iterdescendants(*names), None) is not None


@lru_cache(maxsize=16)
def _attribute_search(name: str) -> etree.XPath:
    return xpath(f"boolean(descendant-or-self::*/@{name})")


def _has_attribute(root: HtmlElement, name: str) -> bool:
    """Whether ``root`` or an element under it has the attribute ``name``."""
    return _attribute_search(name)(root)


def _elements_by_tag(root: HtmlElement, tags: Sequence[str]) -> dict[str, list[HtmlElement]]:
    """The elements of each of ``tags`` in ``root``'s subtree, itself included, in document order, found in
    one pass over the tree: a pass costs more than what is done with the few elements it finds."""
    found: dict[str, list[HtmlElement]] = {tag: [] for tag in tags}
    for element in root.iter(*tags):
        found[element.tag].append(element)
    return found


def _following(ancestor: HtmlElement, anchor: HtmlElement, names: Sequence[str]) -> Iterator[HtmlElement]:
    """The elements of ``names`` under ``ancestor`` (not itself), in document order, that do not come before
    ``anchor``'s line (either line unknown, they do)."""
    line = anchor.sourceline
    return (element for element in ancestor.iter(*names) if element is not ancestor
            and (element.sourceline is None or line is None or element.sourceline >= line))


_HREFS_XPATH = xpath("descendant-or-self::a/@href")


def _hrefs(root: HtmlElement) -> list[str]:
    """The ``href`` of every ``<a>`` in ``root``'s subtree, itself included, in document order."""
    return _HREFS_XPATH(root)


def _attributes(elements: Iterable[HtmlElement], names: Sequence[str]) -> list[tuple[str | None, ...]]:
    """For each of ``elements``, the values of its attributes ``names`` (None for one it lacks), as a tuple."""
    return [tuple(element.get(name) for name in names) for element in elements]


def _text_under(element: HtmlElement, texts: dict[HtmlElement, str]) -> int:
    """How much paragraph text (``texts``, by paragraph) lies under ``element``, itself included."""
    return sum(len(texts.get(p, "")) for p in element.iter("p"))


# Scripts written without spaces between their words (Han, Hiragana, Katakana): each character counts as a
# word, as word processors count them; their punctuation (and the full-width forms', :data:`UNSPACED_MARKS`)
# counts as none, as white space.
UNSPACED = ("\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3038-\u303c\u3040-\u30fa\u30fc-\u30ff\u31f0-\u31ff"
            "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f")
UNSPACED_MARKS = ("\u3001-\u3004\u3008-\u3020\u302a-\u3030\u3036\u3037\u303d-\u303f\u30fb\uff01-\uff0f"
                  "\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65")
_WORDS = re.compile(f"[{UNSPACED}]|[^\\s{UNSPACED}{UNSPACED_MARKS}]+")


def _word_count(text: str) -> int:
    """The words of ``text``: ``len(text.split())`` where every word is spaced; a character of :data:`UNSPACED`
    is a word of its own."""
    if text.isascii():
        return len(text.split())
    return len(_WORDS.findall(text))


def _links_under(root: HtmlElement) -> dict[HtmlElement, list[HtmlElement]]:
    """The links (``<a>`` with a non-empty ``href``) under each element of ``root``'s subtree, itself
    included, in document order (elements without links are not keys): found in one pass, for the walk
    to ask of any block it meets."""
    found: dict[HtmlElement, list[HtmlElement]] = {}
    for a in root.iter("a"):
        if not a.get("href"):  # no target (a named anchor) or an empty one
            continue
        holder = a
        while True:
            found.setdefault(holder, []).append(a)
            if holder is root:
                break
            holder = holder.getparent()
    return found


# The elements whose id or class may name a comment thread (a first cut of content.is_comments), and the
# navigation roles: searched among attributes, which costs a fraction of testing every element.
_COMMENT_CANDIDATES_XPATH = xpath(
    "(//@id | //@class)[contains(., 'omment') or contains(., 'espond') or contains(., 'eplies')"
    " or contains(., 'isqus')]/..")
# Cheaper still, most pages have no candidate: their ids, then their classes, read at once as one string
# (EXSLT's str:concat, in C), say so. Run together, two names may make a word neither holds: then the
# candidates are searched for nothing; a word one name holds is never missed. (Two lists, not their union:
# a union costs a sort into document order.)
_IDS_AND_CLASSES_XPATH = xpath(
    "concat(str:concat(/descendant::*/@id), ' ', str:concat(/descendant::*/@class))",
    namespaces={"str": "http://exslt.org/strings"})
_COMMENT_WORDS = ("omment", "espond", "eplies", "isqus")  # looked for with ``in``: faster than a regex alternation
# /descendant::*, not //: the elements only, not every text node on the way.
_NAVIGATION_XPATH = xpath("/descendant::*/@role[. = 'navigation']/..")
# Every link with a rel, whose words (split at XPath's white space, as normalize-space does) are read in
# Python, on the few links that have one.
_REL_LINKS_XPATH = xpath("descendant::a/@rel/..")
_META_REL = re.compile(r"(?:^|[ \t\r\n])(?:author|category|tag)(?:[ \t\r\n]|\Z)")

PageFacts = tuple[set[HtmlElement], set[HtmlElement], set[HtmlElement], list[HtmlElement], list[HtmlElement],
                  dict[HtmlElement, str], set[HtmlElement], set[HtmlElement], set[HtmlElement]]


def _paragraph_facts(root: HtmlElement, is_comments: Callable[[HtmlElement], bool], texts: dict[HtmlElement, str],
                    long_size: int) -> PageFacts:
    """What ``content.ParagraphText`` finds of the page under ``root`` (``is_comments``: the test of an
    element that names a comment thread; ``texts``: the page's memo of folded texts, given each
    paragraph's; ``long_size``: the length of a long paragraph, in characters): its comment threads,
    navigation (elements of role navigation), chrome (those, navigation, footers and asides), ``<h1>``
    and ``<time>`` elements, the texts of its paragraphs outside chrome and comment threads, and the
    elements holding a paragraph without a class, a long paragraph, or a meta mark (a time, or a link
    to an author, a category or a tag); as a tuple in that order."""
    ids_and_classes = _IDS_AND_CLASSES_XPATH(root)
    comments = ({e for e in _COMMENT_CANDIDATES_XPATH(root) if is_comments(e)}
                if any(word in ids_and_classes for word in _COMMENT_WORDS) else set())
    navigation = set(_NAVIGATION_XPATH(root))
    # One pass over the page for the elements of every name read here.
    paragraphs: list[HtmlElement] = []
    chrome = set(navigation)
    h1s: list[HtmlElement] = []
    times: list[HtmlElement] = []
    for element in root.iter("p", "h1", "time", "nav", "footer", "aside"):
        tag = element.tag
        if tag == "p":
            paragraphs.append(element)
        elif tag == "h1":
            h1s.append(element)
        elif tag == "time":
            times.append(element)
        else:
            chrome.add(element)
    left_out = {p for element in [*chrome, *comments] for p in element.iter("p")}
    found: dict[HtmlElement, str] = {}
    plain: set[HtmlElement] = set()
    long: set[HtmlElement] = set()
    for p in paragraphs:
        if p not in left_out:
            paragraph = texts.get(p)
            if paragraph is None:
                paragraph = texts[p] = _text_of(p)
            found[p] = paragraph
            if len(paragraph) >= long_size:
                _add_ancestors(p, long)
        if p.get("class") is None:
            _add_ancestors(p, plain)
    meta: set[HtmlElement] = set()
    for time in times:
        _add_ancestors(time, meta)
    for a in _REL_LINKS_XPATH(root):
        if _META_REL.search(a.get("rel")):
            _add_ancestors(a, meta)
    return comments, navigation, chrome, h1s, times, found, plain, long, meta


def _add_ancestors(element: HtmlElement, found: set[HtmlElement]) -> None:
    """Add ``element``'s ancestors to ``found``, up to the first already there (whose own are too): for
    a page's paragraphs and marks, a few steps each, cheaper than an XPath ``ancestor::*`` union."""
    parent = element.getparent()
    while parent is not None and parent not in found:
        found.add(parent)
        parent = parent.getparent()


# What in a page's markup (UTF-8) may become a stray character in its record (page.STRAY, page.JOINING): a
# control character (C0 but tab and newline, DEL, C1), one of the invisible characters that only hint at a
# line break or join words (the soft hyphen, the word joiner, the zero-width no-break space), or a
# zero-width space, non-joiner or joiner (stray between two letters of a script that spaces its words).
# Written as itself, as a character reference (decimal, hex, or by any of HTML's names for one: &shy; &NoBreak;
# &ZeroWidthSpace; &NegativeThinSpace; and the other Negative...Space; &zwnj; &zwj;), or as a JSON escape (in
# JSON-LD). Searched in bytes, where a literal first byte makes each
# search quick; a false alarm only costs the scan of the record that a page without any is spared.
_CONTROL_BYTES_C0 = bytes([*range(0x00, 0x09), *range(0x0b, 0x20), 0x7f])
# Each with its first bytes: found by a plain search (memchr), a page without them is spared the pattern.
_STRAY_SOURCES = (
    (b"\xc2", re.compile(rb"\xc2[\x80-\x9f\xad]")),
    (b"\xe2\x80", re.compile(rb"\xe2\x80[\x8b-\x8d]")),
    (b"\xe2\x81\xa0", None),
    (b"\xef\xbb\xbf", None),
    (b"&", re.compile(rb"&(?:#(?:[xX]0*(?:1?[0-9a-fA-F]|7[fF]|[89][0-9a-fA-F]|[aA][dD]|200[b-dB-D]|2060"
                       rb"|[fF][eE][fF][fF])(?![0-9a-fA-F])"
                       rb"|0*(?:[12]?[0-9]|3[01]|12[7-9]|1[3-5][0-9]|173|820[3-5]|8288|65279)(?![0-9]))"
                       rb"|shy|NoBreak;|ZeroWidthSpace;|Negative|zwn?j;)")),
    (b"\\", re.compile(rb"\\(?:u(?:00(?:[01][0-9a-fA-F]|7[fF]|[89][0-9a-fA-F]|[aA][dD])|200[b-dB-D]|2060"
                       rb"|[fF][eE][fF][fF])|[bfr])")),
)


def _may_hold_stray_characters(markup: bytes) -> bool:
    """Whether ``markup`` (UTF-8) may put a stray character in its record (see the searches above)."""
    return len(markup.translate(None, _CONTROL_BYTES_C0)) != len(markup) or any(
        lead in markup and (source is None or source.search(markup)) for lead, source in _STRAY_SOURCES)


def _compiled() -> Any:
    """The compiled readers, unless not built (no C compiler where the project was installed; a Scrapyd
    egg, which zipimport reads, carries none) or turned off (``GLOSSARY_PURE_PYTHON=1``)."""
    if os.environ.get("GLOSSARY_PURE_PYTHON"):
        return None
    try:
        from glossary_spider.extraction import _tree
    except ImportError:
        return None
    return _tree


_TREE = _compiled()
COMPILED = _TREE is not None
raw_text = _TREE.raw_text if COMPILED else _raw_text
text_of = _TREE.text_of if COMPILED else _text_of
text_head = _TREE.text_head if COMPILED else _text_head
hrefs = _TREE.hrefs if COMPILED else _hrefs
unlinked_text = _TREE.unlinked_text if COMPILED else _unlinked_text
children = _TREE.children if COMPILED else _children
has_descendant = _TREE.has_descendant if COMPILED else _has_descendant
elements_by_tag = _TREE.elements_by_tag if COMPILED else _elements_by_tag
attributes = _TREE.attributes if COMPILED else _attributes
following = _TREE.following if COMPILED else _following
has_attribute = _TREE.has_attribute if COMPILED else _has_attribute
text_under = _TREE.text_under if COMPILED else _text_under
word_count = _TREE.word_count if COMPILED else _word_count
may_hold_stray_characters = _TREE.may_hold_stray_characters if COMPILED else _may_hold_stray_characters
links_under = _TREE.links_under if COMPILED else _links_under
paragraph_facts = _TREE.paragraph_facts if COMPILED else _paragraph_facts
