"""Structured data: JSON-LD block by block, microdata and OpenGraph, as extruct reads them.

extruct's own ``extract`` loses every JSON-LD block of a page when one block
fails to parse; here each ``<script type="application/ld+json">`` is read
alone, so a broken block costs only itself and is reported as an error. A block
is read as extruct reads it (``json.loads(strict=False)``); one that is not
JSON is tried again as extruct tries it, without HTML and JavaScript comments.
extruct's microdata extractor reads the tree already parsed for the page. OpenGraph is
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
_PREFIX_PATTERN = re.compile(r"\s*(\w+):\s*([^\s]+)")


def _jsonld_scripts(scripts: list[HtmlElement]) -> list[HtmlElement]:
    """The page's JSON-LD blocks among its ``scripts``, whatever the case of their type (ASCII letters
    only, as XPath's ``translate`` would fold them)."""
    return [script for script in scripts
            if (kind := script.get("type") or "").isascii() and kind.lower() == _JSONLD_TYPE]


# extruct's second try at a block that is not JSON (``extruct.jsonld``): without a first line that is an
# HTML or JavaScript comment, and without the comments and trailing commas jstyleson leaves out. Written
# here, as jstyleson is all it needs, rather than imported (see _OG_NAMESPACES): the import would cost a
# quarter of a second in every worker that meets a broken block.
_HTML_OR_JS_COMMENTLINE = re.compile(r"^\s*(//.*|<!--.*-->)")


def _jsonld_items(script: HtmlElement, text: str) -> list[Any]:
    """The items of one block, as extruct's ``JsonLdExtractor`` gives them (which reads only blocks whose
    type is written exactly ``application/ld+json``)."""
    if script.get("type") != _JSONLD_TYPE:
        return []
    text = text.lstrip().removeprefix("\ufeff")  # a byte order mark an editor wrote: no part of the JSON
    try:
        data = fastjson.loads(text, foreign=True)
    except ValueError:
        data = fastjson.as_json(jstyleson.loads(_HTML_OR_JS_COMMENTLINE.sub("", text), strict=False))
    found = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    return [item for item in found if item]


def _others(root: HtmlElement, url: str, heads: list[HtmlElement]) -> dict[str, list[Any]]:
    """Microdata (by extruct's extractor) and OpenGraph (read here as extruct reads it); a syntax whose
    extraction fails is logged and left out."""
    found: dict[str, list[Any]] = {}
    for syntax, extract in (("microdata", lambda: _microdata(root, url)), ("opengraph", lambda: _opengraph(heads))):
        try:
            found[syntax] = extract()
        except Exception as exc:  # a third party on hostile markup: the other syntaxes stand
            logger.exception("Failed to extract %s, raises %s", syntax, exc)
    return found


def _microdata(root: HtmlElement, url: str) -> list[dict[str, Any]]:
    # Most pages have no microdata: one search for an item says so for a fraction of extruct's cost.
    if not has_attribute(root, "itemscope"):
        return []
    from extruct.w3cmicrodata import MicrodataExtractor  # see _OG_NAMESPACES

    return MicrodataExtractor().extract_items(root, base_url=url)


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
                            ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every item found in the page, as ``structured_data`` rows, and the errors met.

    The page's JSON-LD blocks are read until ``budget`` characters (at most
    :data:`JSONLD_PAGE_MAX_CHARS`); the blocks after that are an error.
    """
    budget = min(budget, JSONLD_PAGE_MAX_CHARS)
    items: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    jsonld: list[Any] = []
    read = 0
    tagged = elements_by_tag(root, ("script", "head"))
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
            jsonld.extend(_jsonld_items(script, text))
        except RecursionError:
            errors.append({"stage": "json-ld", "error": f"JSON-LD block {number} is nested too deeply to read",
                           "detail": None})
        except ValueError as exc:
            errors.append({
                "stage": "json-ld",
                "error": f"JSON-LD block {number} is not valid JSON",
                "detail": f"{type(exc).__name__}: {exc}"[:500],
            })
    others = _others(root, url, tagged["head"])
    for syntax, found in (("json-ld", jsonld), ("microdata", others.get("microdata", [])),
                          ("opengraph", others.get("opengraph", []))):
        if len(found) > MAX_ITEMS:
            errors.append({"stage": "json-ld" if syntax == "json-ld" else "parse",
                           "error": f"{len(found):,} {syntax} items; the first {MAX_ITEMS} are kept",
                           "detail": None})
            found = found[:MAX_ITEMS]
        for position, item in enumerate(found):
            items.append({"syntax": syntax, "position": position, "type": _type_of(syntax, item), "data": item})
    return items, errors


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
        author = self.first("author")
        if isinstance(author, list):
            author = author[0] if author else None
        if isinstance(author, dict):
            if "name" not in author and isinstance(author.get("@id"), str):
                author = self.by_id.get(author["@id"], author)
            return author.get("name") if isinstance(author.get("name"), str) else None
        return author if isinstance(author, str) else None

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
