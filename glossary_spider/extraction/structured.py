"""Structured data: JSON-LD block by block, microdata and OpenGraph, as extruct reads them.

extruct's own ``extract`` loses every JSON-LD block of a page when one block
fails to parse; here each ``<script type="application/ld+json">`` is read
alone, so a broken block costs only itself and is reported as an error. A block
is read as extruct reads it (``json.loads(strict=False)``); one that is not
JSON is tried again as extruct tries it, without HTML and JavaScript comments.
extruct's microdata extractor reads the tree already parsed for the page, once one walk of it has found
the page's microdata within bounds that keep extruct's time and memory small. OpenGraph is
read here, item for item as extruct's ``OpenGraphExtractor`` reads it, with
XPath compiled once rather than on every page (three quarters of the cost).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import date, datetime, timezone
from typing import Any

import jstyleson
from lxml import etree
from lxml.html import HtmlElement

from glossary_spider import fastjson
from glossary_spider.extraction.tree import attributes, elements_by_tag, has_attribute, xpath

logger = logging.getLogger(__name__)


# A JSON-LD block larger than this is not parsed: no page of a glossary needs one.
JSONLD_MAX_CHARS = 1024 * 1024
# Nor more than this in all the blocks of one page, nor more items than this of one syntax:
# their sum, not each block, is what costs memory and archive space.
JSONLD_PAGE_MAX_CHARS = 1024 * 1024
MAX_ITEMS = 1000
_JSONLD_TYPE = "application/ld+json"
# Microdata far beyond any real page's is not read: extruct's search for an item's properties grows with those
# under it times those of the items nested in it (a thousand levels of items took it ten minutes), an item that
# refers to an element (``itemref``) reads every property under it again, and a property's value is the text
# of all it holds.
MICRODATA_MAX_ITEMS = 1000
MICRODATA_MAX_DEPTH = 30
# Property names, each under an element that items refer to counted once for each item that does.
MICRODATA_MAX_PROPERTIES = 5000
# The sum, over the items, of the properties under an item times those under the items nested in it.
MICRODATA_MAX_SEARCH = 100_000_000
# What the values read, as extruct copies and reads it: the elements and characters under each property that
# is its element's text (and under each item without properties), and under each element an item refers to.
MICRODATA_MAX_VALUE_ELEMENTS = 200_000
MICRODATA_MAX_VALUE_CHARS = 8 * 1024 * 1024
# Elements whose value as a property is one of their attributes, or an item's (extruct.w3cmicrodata).
_ATTRIBUTE_VALUED = frozenset({"meta", "audio", "embed", "iframe", "img", "source", "track", "video", "a", "area",
                               "link", "object", "data", "meter", "time"})
_ITEMREF_XPATH = xpath("//@itemref")
_ITEM_COUNT_XPATH = xpath("count(//*[@itemscope])")
_PROPERTY_COUNT_XPATH = xpath("count(//*[@itemprop])")
_PROPERTIES_XPATH = xpath("meta[@property and @content]")
# The prefixes extruct's OpenGraph extractor knows, and how it reads a ``prefix`` attribute
# (``extruct.opengraph``); tests/test_extraction.py checks the items against extruct's own. Held here
# rather than imported: importing any of extruct loads all its extractors (RDFa, microformats: a
# quarter of a second), which most pages never need, at the start of every crawl and worker.
_OG_NAMESPACES = {
    "og": "http://ogp.me/ns#", "music": "http://ogp.me/ns/music#", "video": "http://ogp.me/ns/video#",
    "article": "http://ogp.me/ns/article#", "book": "http://ogp.me/ns/book#",
    "profile": "http://ogp.me/ns/profile#", "product": "http://ogp.me/ns/product#",
}
# A prefix and its IRI. Each match starts where a word does: tried from within one, the words of an attribute with
# no colon in it were read again from each of their characters (half a minute for 60,000 characters).
_PREFIX_PATTERN = re.compile(r"(?<!\w)(\w+):\s*+(\S+)")


def _jsonld_scripts(scripts: list[HtmlElement]) -> list[HtmlElement]:
    """The page's JSON-LD blocks among its ``scripts``: those whose type is JSON-LD's media type, in any case and
    with any parameters (``application/LD+JSON; charset=utf-8``), as a media type is read. extruct reads only
    those whose type is written exactly ``application/ld+json``, and drops the others without a word."""
    return [script for script in scripts
            if (kind := script.get("type") or "").isascii() and kind.partition(";")[0].strip().lower() == _JSONLD_TYPE]


# extruct's second try at a block that is not JSON (``extruct.jsonld``): without a first line that is an
# HTML or JavaScript comment, and without the comments and trailing commas jstyleson leaves out. Written
# here, as jstyleson is all it needs, rather than imported (see _OG_NAMESPACES): the import would cost a
# quarter of a second in every worker that meets a broken block.
_HTML_OR_JS_COMMENTLINE = re.compile(r"^\s*(//.*|<!--.*-->)")


def _commented_json(text: str) -> Any:
    """``text`` read by jstyleson, as extruct reads it; and where that fails, with a line break after it: jstyleson
    leaves a last ``//`` comment that no line break ends (``//]]>`` closing a CDATA wrapper, a plugin's signature),
    and extruct, losing the block whole, says so. A block that is no JSON either way fails as extruct's does."""
    try:
        return jstyleson.loads(text, strict=False)
    except ValueError as exc:
        try:
            return jstyleson.loads(text + "\n", strict=False)
        except ValueError:
            raise exc from None


def _jsonld_items(text: str) -> list[Any]:
    """The items of one block, as extruct's ``JsonLdExtractor`` gives them."""
    text = text.lstrip().removeprefix("\ufeff")  # a byte order mark an editor wrote: no part of the JSON
    try:
        data = fastjson.loads(text, foreign=True)
    except ValueError:
        data = fastjson.as_json(_commented_json(_HTML_OR_JS_COMMENTLINE.sub("", text)))
    found = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    return [item for item in found if item]


def _others(root: HtmlElement, url: str, heads: list[HtmlElement], errors: list[dict[str, Any]],
            ) -> dict[str, list[Any]]:
    """Microdata (by extruct's extractor) and OpenGraph (read here as extruct reads it); a syntax whose
    extraction fails is logged and left out, microdata beyond its bounds is an error in ``errors``."""
    found: dict[str, list[Any]] = {}
    for syntax, extract in (("microdata", lambda: _microdata(root, url, errors)),
                            ("opengraph", lambda: _opengraph(heads))):
        try:
            found[syntax] = extract()
        except Exception as exc:  # a third party on hostile markup: the other syntaxes stand
            logger.exception("Failed to extract %s, raises %s", syntax, exc)
    return found


def _microdata(root: HtmlElement, url: str, errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Most pages have no microdata: one search for an item says so for a fraction of extruct's cost.
    if not has_attribute(root, "itemscope"):
        return []
    beyond = _microdata_beyond_bounds(root)
    if beyond:
        errors.append({"stage": "parse", "error": f"microdata not read: {beyond}", "detail": None})
        return []
    from extruct.w3cmicrodata import MicrodataExtractor  # see _OG_NAMESPACES

    return MicrodataExtractor().extract_items(root, base_url=url)


def _microdata_beyond_bounds(root: HtmlElement) -> str | None:
    """What puts the page's microdata beyond its bounds (``MICRODATA_MAX_…``), or None: found in one walk of
    the tree, without recursion (markup may nest thousands deep), once two counts have not found them."""
    items, properties = int(_ITEM_COUNT_XPATH(root)), int(_PROPERTY_COUNT_XPATH(root))
    if items > MICRODATA_MAX_ITEMS:
        return f"{items:,} items, more than {MICRODATA_MAX_ITEMS:,}"
    if properties > MICRODATA_MAX_PROPERTIES:
        return f"{properties:,} properties, more than {MICRODATA_MAX_PROPERTIES:,}"
    referenced: dict[str, int] = {}  # id: how many items refer to it
    for itemref in _ITEMREF_XPATH(root):
        for name in itemref.split():
            referenced[name] = referenced.get(name, 0) + 1
    tally = {"properties": 0, "search": 0, "elements": 0, "characters": 0}
    depth = elements = characters = searched = 0  # searched: the properties under the items closed so far
    scopes: list[bool] = []  # for each open item, whether a property of its own was met
    # For each open property, item or element items refer to (None for any other): the tallies before it,
    # whether its value is its text, whether it is an item, and the id items refer to it by.
    opened: list[tuple[int, int, int, dict[str, int], bool, bool, str | None] | None] = []
    targets: dict[str, dict[str, int]] = {}  # what lies under the element each id names
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if event == "start":
            elements += 1
            if not isinstance(element.tag, str):
                opened.append(None)
                continue
            characters += len(element.text or "")
            names, scope = element.get("itemprop"), element.get("itemscope") is not None
            textual = False
            if names is not None:
                tally["properties"] += len(names.split())
                if scopes:
                    scopes[-1] = True
                if not scope:
                    textual = element.tag not in _ATTRIBUTE_VALUED and not element.get("content")
                    tally["characters"] += sum(map(len, element.attrib.values()))
            if scope:
                scopes.append(False)
                depth = max(depth, len(scopes))
            target = element.get("id")
            target = target if target in referenced and target not in targets else None
            if names is None and not scope and target is None:  # most elements: only their text counts
                opened.append(None)
                continue
            opened.append((elements, characters, searched, dict(tally), textual, scope, target))
            continue
        entry = opened.pop()
        if entry is not None:
            first, before, searched_before, tallied, textual, scope, target = entry
            under = elements - first + 1
            if scope:
                properties = tally["properties"] - tallied["properties"]
                tally["search"] += properties * (searched - searched_before)
                searched += properties
                textual = textual or not scopes.pop()  # an item without properties: its value is its text
            if textual:
                tally["elements"] += under
                tally["characters"] += characters - before
            if target is not None:  # each item that refers to it searches all of it
                targets[target] = {key: tally[key] - tallied[key] for key in ("properties", "elements", "characters")}
                targets[target]["elements"] += under
        characters += len(element.tail or "")
    for name, times in referenced.items():
        for key, value in targets.get(name, {}).items():
            tally[key] += times * value
    for beyond, message in (
            (depth > MICRODATA_MAX_DEPTH, f"items nested {depth:,} deep, more than {MICRODATA_MAX_DEPTH}"),
            (tally["properties"] > MICRODATA_MAX_PROPERTIES,
             f"{tally['properties']:,} properties (counted for each item that refers to them), more than "
             f"{MICRODATA_MAX_PROPERTIES:,}"),
            (tally["search"] > MICRODATA_MAX_SEARCH, f"a search for items' properties that meets "
             f"{tally['search']:,} of them, more than {MICRODATA_MAX_SEARCH:,}"),
            (tally["elements"] > MICRODATA_MAX_VALUE_ELEMENTS or tally["characters"] > MICRODATA_MAX_VALUE_CHARS,
             f"values that read {tally['elements']:,} elements and {tally['characters']:,} characters, more than "
             f"{MICRODATA_MAX_VALUE_ELEMENTS:,} elements or {MICRODATA_MAX_VALUE_CHARS // 1024 // 1024} MiB")):
        if beyond:
            return message
    return None


def _opengraph(heads: list[HtmlElement]) -> list[dict[str, Any]]:
    """The page's OpenGraph items from its ``<head>`` elements, as ``extruct.opengraph.OpenGraphExtractor.
    extract_items`` gives them: one per head that has properties, with the prefixes of the first head's
    ``<html>`` and its own."""
    items = []
    for head in heads:
        html = heads[0].getparent()
        namespaces = _namespaces(html) if html is not None and html.tag == "html" else {}
        namespaces.update(_namespaces(head))
        properties = []
        for name, content in attributes(_PROPERTIES_XPATH(head), ("property", "content")):
            prefix = name.partition(":")[0]
            if prefix in _OG_NAMESPACES:
                namespaces[prefix] = _OG_NAMESPACES[prefix]
            if prefix in namespaces:
                properties.append((name, content))
        if properties:
            items.append({"namespace": namespaces, "properties": properties})
    return items


def _namespaces(element: HtmlElement) -> dict[str, str]:
    prefix = element.get("prefix")
    return dict(_PREFIX_PATTERN.findall(prefix)) if prefix else {}


def extract_structured_data(root: HtmlElement, url: str, budget: int = JSONLD_PAGE_MAX_CHARS,
                            tagged: dict[str, list[HtmlElement]] | None = None,
                            ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every item found in the page, as ``structured_data`` rows, and the errors met.

    The page's JSON-LD blocks are read until ``budget`` characters (at most
    :data:`JSONLD_PAGE_MAX_CHARS`); the blocks after that are an error. ``tagged``: the page's ``script`` and
    ``head`` elements (:func:`elements_by_tag`), where the caller walked the tree for them already.
    """
    budget = min(budget, JSONLD_PAGE_MAX_CHARS)
    items: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    jsonld: list[Any] = []
    read = 0
    tagged = tagged or elements_by_tag(root, ("script", "head"))
    scripts = _jsonld_scripts(tagged["script"])
    for number, script in enumerate(scripts, 1):
        text = script.text or ""
        if not text.strip():
            continue
        if len(text) > JSONLD_MAX_CHARS:
            errors.append({"stage": "json-ld", "error": f"JSON-LD block {number} is larger than "
                           f"{JSONLD_MAX_CHARS // 1024} KiB; not read", "detail": f"{len(text):,} characters"})
            continue
        read += len(text)
        if read > budget:
            errors.append({"stage": "json-ld", "error": f"JSON-LD blocks {number} to {len(scripts)} are past "
                           f"the {budget // 1024} KiB this page's JSON-LD may hold; not read",
                           "detail": None})
            break
        try:
            jsonld.extend(_jsonld_items(text))
        except RecursionError:
            errors.append({"stage": "json-ld", "error": f"JSON-LD block {number} is nested too deeply to read",
                           "detail": None})
        except ValueError as exc:
            errors.append({
                "stage": "json-ld",
                "error": f"JSON-LD block {number} is not valid JSON",
                "detail": f"{type(exc).__name__}: {exc}"[:500],
            })
    others = _others(root, url, tagged["head"], errors)
    for syntax, found in (("json-ld", jsonld), ("microdata", others.get("microdata", [])),
                          ("opengraph", others.get("opengraph", []))):
        if len(found) > MAX_ITEMS:
            errors.append({"stage": "json-ld" if syntax == "json-ld" else "parse",
                           "error": f"{len(found):,} {syntax} items; the first {MAX_ITEMS} are kept",
                           "detail": None})
            found = found[:MAX_ITEMS]
        if syntax == "microdata":
            found = _within_budget(found, budget, errors)
        for position, item in enumerate(found):
            items.append({"syntax": syntax, "position": position, "type": _type_of(syntax, item), "data": item})
    return items, errors


def _within_budget(found: list[Any], budget: int, errors: list[dict[str, Any]]) -> list[Any]:
    """The first microdata items that ``budget`` characters of JSON hold, an error for the rest: a value
    under several property names is one object in extruct's items but written out under each."""
    left = budget
    for number, item in enumerate(found, 1):
        left -= _json_size(item, left)
        if left < 0:
            errors.append({"stage": "parse", "error": f"microdata items {number} to {len(found)} are past the "
                           f"{budget // 1024} KiB this page's microdata may hold; not kept", "detail": None})
            return found[:number - 1]
    return found


def _json_size(value: Any, limit: int) -> int:
    """About how many characters ``value`` takes as JSON, counted no further than past ``limit``."""
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, dict):
        pairs: Any = value.items()
    elif isinstance(value, list | tuple):
        pairs = ((None, v) for v in value)
    else:
        return len(str(value))
    size = 2
    for key, member in pairs:
        size += (len(key) + 4 if key is not None else 1) + _json_size(member, limit - size)
        if size > limit:
            break
    return size


def _type_of(syntax: str, item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    if syntax == "opengraph":
        types = [v for k, v in item.get("properties", []) if k == "og:type"]
    elif syntax == "microdata":
        types = item.get("type")
    else:
        types = item.get("@type")
    if isinstance(types, list) and len(types) == 1:
        types = types[0]
    if not types:
        return None
    # One name as it is; several, or what is not a name (a page's mistake), as compact JSON (as SQLite writes it).
    return types if isinstance(types, str) else json.dumps(types, ensure_ascii=False, separators=(",", ":"))


def jsonld_nodes(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every JSON-LD node of the page, ``@graph`` members unfolded."""
    for item in items:
        if item["syntax"] != "json-ld" or not isinstance(item["data"], dict):
            continue
        data = item["data"]
        graph = data.get("@graph")
        if isinstance(graph, list):
            yield from (node for node in graph if isinstance(node, dict))
        else:
            yield data


def _has_type(node: dict[str, Any], *names: str) -> bool:
    types = node.get("@type")
    if isinstance(types, list):
        return any(t in names for t in types)
    return types in names


class JsonLdFacts:
    """The facts a page's JSON-LD states about the page itself."""

    ARTICLE_TYPES = ("Article", "BlogPosting", "NewsArticle", "TechArticle", "WebPage", "FAQPage")

    def __init__(self, items: list[dict[str, Any]]):
        self.nodes = list(jsonld_nodes(items))
        self.by_id = {n["@id"]: n for n in self.nodes if isinstance(n.get("@id"), str)}
        # Articles first: a WebPage node in a @graph often repeats less of the page.
        self.articles = sorted(
            (n for n in self.nodes if _has_type(n, *self.ARTICLE_TYPES)),
            key=lambda n: not _has_type(n, "Article", "BlogPosting", "NewsArticle", "TechArticle"),
        )

    def first(self, key: str) -> Any:
        for node in self.articles:
            value = node.get(key)
            if value:
                return value
        return None

    def author(self) -> str | None:
        """The article's author, or its authors as a byline names them ("Jane Doe and John Smith")."""
        authors = self.first("author")
        names = [name for author in (authors if isinstance(authors, list) else [authors])
                 if (name := self._name(author))]
        return several(list(dict.fromkeys(names))) if names else None

    def _name(self, author: Any) -> str | None:
        """A person's or organisation's name: the node's, or that of the node its ``@id`` refers to; or a string."""
        if isinstance(author, dict):
            if "name" not in author and isinstance(author.get("@id"), str):
                author = self.by_id.get(author["@id"], author)
            name = author.get("name")
            return name.strip() or None if isinstance(name, str) else None
        return author.strip() or None if isinstance(author, str) else None

    def categories(self) -> list[str] | None:
        section = self.first("articleSection")
        if isinstance(section, str):
            return [section]
        if isinstance(section, list):
            return [s for s in section if isinstance(s, str)] or None
        return None


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 date or time as an aware datetime (UTC when no offset is given), or None. RFC 3339's
    lower-case ``t`` and ``z`` are read as upper-case."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


_ZONED_DATE = re.compile(r"(?<=^\d{4}-\d{2}-\d{2})(?:[zZ]|[+-]\d{2}:?\d{2})$")


def several(names: list[str]) -> str:
    """Names written as a byline writes them: "Jane Doe", "Jane Doe and John Smith", "Jane Doe, John Smith and
    Ann Lee"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def to_utc(value: Any) -> str | None:
    """An ISO-8601 time in UTC (``…+00:00``), a bare date as a date (``2024-03-05``, whether written so, as
    ``20240305`` or as ``2024-W10-2``), or None; None too for a time the calendar cannot hold in UTC
    (``0001-01-01T00:00:00+01:00``, .NET's zero date written with an offset)."""
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    # A date and a time (the usual: "2024-03-05T10:00:00+01:00") is no date alone: spared that try, which fails.
    if not (len(stripped) > 10 and stripped[10] in "Tt "):
        try:  # a date, with a time zone designator (XML Schema's "2024-03-05-05:00", "2024-03-05Z") or without
            return date.fromisoformat(_ZONED_DATE.sub("", stripped)).isoformat()
        except ValueError:
            pass
    moment = parse_time(value)
    try:
        return moment.astimezone(timezone.utc).isoformat() if moment is not None else None
    except OverflowError:
        return None
