"""What a page holds that no reader sees as its text: elements shown to no reader (marked hidden, hidden by their
own style, a dialog not open, an SVG image's title), and footnotes' marks, which ran into the word they follow.
:func:`~glossary_spider.extraction.content.extract_content` takes both out of the tree before its walk."""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from glossary_spider.extraction.memo import PageMemo
from glossary_spider.extraction.tree import has_attribute, has_descendant, text_of, xpath

# Elements shown to no reader: marked hidden, or hidden by their own style. Never the body, nor a block holding
# the title: a page hidden whole until its scripts have run (against a flash of unstyled content, or for an A/B
# test) is shown to every reader then. Nor a block marked hidden="until-found" (in any case): the browser's find
# in page searches it and opens it where it matches, as it does a closed accordion's answer.
_HIDDEN_XPATH = xpath("descendant::*[@hidden][translate(@hidden, 'UNTILFOD', 'untilfod') != 'until-found']"
                      "[not(self::body) and not(descendant::h1)]")
# Those whose style names display or visibility at all (in any case): their declarations are read in Python.
_STYLED_XPATH = xpath(
    "descendant::*[@style][contains(translate(@style, 'ABDILPSTVY', 'abdilpstvy'), 'display')"
    " or contains(translate(@style, 'ABDILPSTVY', 'abdilpstvy'), 'visibility')]"
    "[not(self::body) and not(descendant::h1)]")
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)


def _declared(style: str) -> dict[str, str]:
    """A style attribute's declarations, as CSS reads them: comments left out, names and values in lower case,
    the last of a name winning unless an earlier one is ``!important``."""
    found: dict[str, str] = {}
    important: set[str] = set()
    for declaration in _CSS_COMMENT.sub("", style).split(";"):
        name, colon, value = declaration.partition(":")
        name, value = name.strip().lower(), " ".join(value.lower().split())
        if not colon or not name:
            continue
        weighty = value.endswith("!important")
        if name in important and not weighty:
            continue
        found[name] = value.removesuffix("!important").strip()
        if weighty:
            important.add(name)
    return found


def hidden_elements(root: HtmlElement, dialogs: list[HtmlElement] | None = None,
                    svgs: list[HtmlElement] | None = None) -> list[HtmlElement]:
    """The elements under ``root`` shown to no reader (see :data:`_HIDDEN_XPATH`): marked ``hidden``, a ``dialog``
    not open, an SVG image's ``title`` or ``desc`` (its tooltip and its description for a screen reader, drawn
    nowhere), or whose own style says ``display: none``, or ``visibility: hidden`` (or ``collapse``) where
    nothing under them makes itself visible again, as CSS lets a descendant do (such a block is kept whole,
    rather than lose what it shows). ``dialogs``, ``svgs``: the page's ``dialog`` and ``svg`` elements, where a
    walk of its tree found them already."""
    found = _HIDDEN_XPATH(root) if has_attribute(root, "hidden") else []
    # A dialog not open (a newsletter's, a cookie notice's) is shown by a script, if ever: display: none by the
    # HTML Standard's own style sheet, as hidden is.
    found += [dialog for dialog in (root.iter("dialog") if dialogs is None else dialogs)
              if dialog.get("open") is None and not has_descendant(dialog, ("h1",))]
    # An icon's <svg><title>Info</title></svg> within a sentence read "It mattersInfo for hedging".
    found += [unseen for svg in (root.iter("svg") if svgs is None else svgs) for unseen in svg.iter("title", "desc")]
    if has_attribute(root, "style"):
        for element in _STYLED_XPATH(root):
            declared = _declared(element.get("style"))
            if declared.get("display") == "none" or declared.get("visibility") in ("hidden", "collapse") and not any(
                    _declared(d.get("style")).get("visibility") == "visible"
                    for d in element.iterdescendants() if d.get("style")):
                found.append(element)
    return found


# A footnote's number, where no link says it is one: "1", "[2]".
_NOTE_NUMBER = re.compile(r"\[?\d{1,4}\]?")
# What a footnote's mark shows at most ("1", "[12]", "*", "†", "1,2"): no white space, and a few characters.
_MARK_CHARS = 8


def set_footnotes_apart(root: HtmlElement, memo: PageMemo) -> None:
    """Keep footnote references under ``root`` from running into the word they follow ("premium<sup><a
    href="#fn1">1</a></sup> is paid" read "premium1 is paid"). A mark that links within the page (a
    superscript holding only such a link, or such a link holding only a superscript) is left out, as a
    heading's permalink is: no word of the text, and no link between pages. A superscript holding only a
    number and linked nowhere may be an exponent (σ<sup>2</sup>): it is kept, set apart from the word."""
    for sup in list(root.iter("sup")):
        parent = sup.getparent()
        if parent is None:  # under a mark left out already
            continue
        text = (sup.text or "").strip()
        if len(sup):
            link = sup[0]
            if (len(sup) == 1 and not text and link.tag == "a" and not (link.tail or "").strip()
                    and _is_mark(link, memo)):
                _leave_out(sup)
        elif (parent.tag == "a" and len(parent) == 1 and not (parent.text or "").strip()
              and not (sup.tail or "").strip() and _is_mark(parent, memo)):
            _leave_out(parent)
        elif _NOTE_NUMBER.fullmatch(text):
            sup.text = " " + text


def _is_mark(link: HtmlElement, memo: PageMemo) -> bool:
    """Whether ``link`` is a footnote's mark: a link within the page (``#fn1``) showing a few characters."""
    href = link.get("href") or ""
    if "#" not in href or memo.url(href) is not None:
        return False
    shown = text_of(link)
    return len(shown) <= _MARK_CHARS and not any(c.isspace() for c in shown)


def _leave_out(mark: HtmlElement) -> None:
    """Drop ``mark`` from the tree, the text after it kept, and kept apart from the word before it."""
    tail = mark.tail or ""
    if tail[:1].isalnum():  # "premium<sup>…</sup>is": the mark parted two words
        mark.tail = " " + tail
    mark.drop_tree()
