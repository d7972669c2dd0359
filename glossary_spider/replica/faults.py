"""A hostile replica: the ordinary site plus pages, sitemaps and robots.txt that misbehave.

``glossary replica --faults`` serves it. Each fault lives on its own URLs, and
every one is linked from an ordinary definition page (or listed in the sitemap
index), so a normal crawl from the home page meets all of them. :data:`FAULTS`
says what each does and what a crawl is expected to make of it: the tests read
their expectations from it.

``--robots`` picks how robots.txt misbehaves, which can only be one way per host.
"""

from __future__ import annotations

import gzip
import json
import random
import socket
import struct
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import formatdate, parsedate_to_datetime
from functools import cache
from html import escape
from typing import Any

import brotli
from twisted.web import server

try:
    from compression import zstd  # Python 3.14
except ImportError:
    from backports import zstd

from glossary_spider.replica import linktraps, themes
from glossary_spider.replica.server import ReplicaResource
from glossary_spider.replica.site import ReplicaSite, etag

CRAWL_DELAY = 0.5
MANY_LINKS = 50_000
MANY_HEADERS = 5_000
MiB = 1024 * 1024


@dataclass(frozen=True)
class Fault:
    name: str
    path: str
    does: str
    expect: str  # "archived", or "error:<stage>:<words the crawl_errors row names>"
    linked: bool = True  # linked from an ordinary page (else listed in the sitemap index)
    trap: str | None = None  # for a link trap, the path under which its error row's URL is


def _page(name: str) -> str:
    return f"/definition/fault-{name}/"


# A page the server spells its own way: as the archive spells it (upper-case escapes), it redirects to that.
RESPELT = "/definition/fault-caf%C3%A9/"


FAULTS = [
    Fault("retry-500", _page("retry-500"), "500 twice, then the page", "archived"),
    Fault("retry-503", _page("retry-503"), "503 with Retry-After: 2 once, then the page", "archived"),
    Fault("retry-429", _page("retry-429"), "429 with Retry-After: 1 once, then the page", "archived"),
    Fault("retry-503-not-gzip", _page("retry-503-not-gzip"), "503 with Retry-After: 1 once, its body declared gzip "
          "and plain (a maintenance page misconfigured), then the page", "archived"),
    Fault("retry-after-superscript", _page("retry-after-superscript"), "503 with Retry-After: \u00b2 (Latin-1 for "
          "a superscript two, which Python's isdigit() takes for a digit) once, then the page", "archived"),
    Fault("always-503", _page("always-503"), "503 with Retry-After: 1, every time", "error:fetch:HTTP 503"),
    Fault("retry-after-long", _page("retry-after-long"), "503 with Retry-After: 86400",
          "error:fetch:Retry-After"),
    Fault("never-starts", _page("never-starts"), "accepts the request and never answers", "error:fetch:timed out"),
    Fault("stops-halfway", _page("stops-halfway"), "chunked body cut off after the first chunk",
          "error:fetch:connection lost"),
    Fault("chunked-cut", _page("chunked-cut"), "chunked body, the connection closed after the first chunk",
          "error:fetch:body cut short: the connection closed before its last chunk"),
    Fault("short-body", _page("short-body"), "Content-Length 20000, 4000 bytes sent, connection closed",
          "error:fetch:body shorter"),
    Fault("bad-status-line", _page("bad-status-line"), "a status line that is no HTTP/1.x (HTTP/2 200 OK, in plain "
          "text)", "error:fetch:malformed response"),
    Fault("reset", _page("reset"), "connection reset (RST) before any reply", "error:fetch:connection lost"),
    Fault("corrupt-gzip", _page("corrupt-gzip"), "Content-Encoding: gzip over bytes that are not gzip",
          "error:fetch:cannot be decoded"),
    Fault("cut-gzip", _page("cut-gzip"), "the first half of a gzip stream, its Content-Length saying so",
          "error:fetch:body cut short"),
    Fault("cut-gzip-once", _page("cut-gzip-once"), "the first half of a gzip stream once (a proxy that closed "
          "it early), then the page whole", "archived"),
    Fault("brotli", _page("brotli"), "the page in brotli (Content-Encoding: br)", "archived"),
    Fault("zstd", _page("zstd"), "the page in zstd (Content-Encoding: zstd)", "archived"),
    Fault("unknown-encoding", _page("unknown-encoding"), "Content-Encoding: compress (LZW, which no browser reads) "
          "over bytes in it", "error:fetch:encoding not known"),
    Fault("not-brotli", _page("not-brotli"), "Content-Encoding: br over a plain page", "error:fetch:cannot be decoded"),
    Fault("not-zstd", _page("not-zstd"), "Content-Encoding: zstd over a plain page", "error:fetch:cannot be decoded"),
    Fault("gzip-bomb", _page("gzip-bomb"), "64 KiB of gzip that inflates to 64 MiB",
          "error:fetch:size limit after decompression"),
    Fault("oversize", _page("oversize"), "a 20 MiB page, Content-Length given", "error:fetch:size limit"),
    Fault("oversize-chunked", _page("oversize-chunked"), "a 20 MiB page in chunks, no Content-Length",
          "error:fetch:size limit"),
    Fault("redirect-loop", _page("redirect-loop"), "302 to a page that redirects back",
          "error:fetch:redirect loop"),
    Fault("redirect-chain", _page("redirect-chain"), "a chain of 8 redirects", "error:fetch:too many redirects"),
    Fault("meta-refresh-self", _page("meta-refresh-self"), "the page, with a meta refresh to its own URL "
          "(a page that reloads itself)", "archived"),
    Fault("meta-refresh-broken", _page("meta-refresh-broken"), "the page, with a meta refresh to what is no URL "
          "(http://[::1/x)", "archived"),
    Fault("meta-refresh-loop", _page("meta-refresh-loop"), "a page with a meta refresh to a page whose meta "
          "refresh leads back", "error:fetch:redirect loop"),
    Fault("redirect-offsite", _page("redirect-offsite"), "302 to another host",
          "error:fetch:outside the allowed hosts"),
    Fault("redirect-file", _page("redirect-file"), "302 to file:///etc/passwd", "error:fetch:not followed"),
    Fault("unasked-304", _page("unasked-304"), "304 Not Modified to a request that was not conditional",
          "error:fetch:not conditional"),
    Fault("pdf", _page("pdf"), "application/pdf", "error:parse:not an HTML page"),
    Fault("binary-as-html", _page("binary-as-html"), "random bytes served as text/html",
          "error:parse:binary"),
    Fault("no-content-type", _page("no-content-type"), "an HTML page served with no Content-Type", "archived"),
    Fault("invalid-utf8", _page("invalid-utf8"), "declared UTF-8, with bytes that are not", "archived"),
    Fault("lying-charset", _page("lying-charset"), "UTF-8 bytes declared as ISO-8859-1", "archived"),
    Fault("nul-bytes", _page("nul-bytes"), "NUL bytes through the HTML", "archived"),
    Fault("deep-html", _page("deep-html"), "the text inside 5,000 nested <div>s", "archived"),
    Fault("deep-json-ld", _page("deep-json-ld"), "a JSON-LD block nested 10,000 levels deep",
          "error:json-ld:nested"),
    Fault("huge-json-ld", _page("huge-json-ld"), "a 4 MiB JSON-LD block", "error:json-ld:larger than"),
    Fault("many-links", _page("many-links"), f"{MANY_LINKS:,} links, each to a page of its own",
          "error:trap:link trap", trap="/faults/many/"),
    Fault("calendar-trap", "/faults/calendar/2026/11/", "a calendar whose every month links the next",
          "error:trap:link trap", trap="/faults/calendar/"),
    Fault("page-trap", "/faults/list/?page=1", "?page=N, each page linking page N+1", "error:trap:link trap",
          trap="/faults/list/"),
    Fault("session-trap", "/faults/session/0123456789abcdef0123456789abcdef/",
          "a fresh session id in the path on every link", "error:trap:link trap", trap="/faults/session/"),
    Fault("deep-path-trap", "/faults/deep/a/", "each page links one path segment deeper",
          "error:trap:nested path", trap="/faults/deep/"),
    Fault("tracking-params", _page("aliases") + "?utm_source=feed&utm_medium=rss&fbclid=x",
          "the same page again with tracking parameters", "archived"),
    Fault("fragment", _page("aliases") + "#see-also", "the same page again with a fragment", "archived"),
    Fault("host-case", _page("aliases"), "the same page again with the host in capitals", "archived"),
    Fault("ip-literal", _page("ip-literal"), "a link to this server by its IP address, not its name",
          "archived"),
    Fault("respelt", RESPELT, "301 to its own URL with its escapes in lower case (the same page to the archive), "
          "then the page", "archived"),
    Fault("gzip-sitemap", "/faults-sitemap.xml.gz", "a gzip-compressed sitemap (its one page is listed nowhere else)",
          "archived", linked=False),
    Fault("cut-gzip-sitemap", "/faults-cut-sitemap.xml.gz", "a gzip-compressed sitemap of 200 URLs, its stream "
          "cut halfway", "error:sitemap:cut short", linked=False),
    Fault("broken-sitemap", "/faults-broken-sitemap.xml", "an XML sitemap cut short in the middle of a URL, its "
          "Content-Length saying so", "error:sitemap:not well-formed", linked=False),
    Fault("text-sitemap", "/faults-sitemap.txt",
          "a sitemap in sitemaps.org's text format, a URL a line (its one page is listed nowhere else)",
          "archived", linked=False),
    Fault("feed-sitemap", "/faults-feed.xml", "an RSS feed given as a sitemap (its one page is listed nowhere else)",
          "archived", linked=False),
    Fault("utf16-sitemap", "/faults-utf16-sitemap.xml", "an XML sitemap in UTF-16, with a byte order mark (its one "
          "page is listed nowhere else)", "archived", linked=False),
    Fault("atom-sitemap", "/faults-atom.xml", "an Atom feed given as a sitemap, its link relative to its xml:base "
          "(its one page is listed nowhere else)", "archived", linked=False),
    Fault("entity-bomb-sitemap", "/faults-bomb-sitemap.xml", "a sitemap declaring a billion-laughs entity bomb",
          "error:sitemap:entities", linked=False),
    Fault("offsite-sitemap", "/faults-offsite-sitemap.xml", "a sitemap listing other hosts, file: URLs and files "
          "on the crawl's host (a PDF, an image, a .tar.gz)", "archived", linked=False),
    Fault("html-sitemap", "/faults-html-sitemap.xml", "a sitemap that is an HTML page", "error:sitemap:not a sitemap",
          linked=False),
    Fault("xss", _page("xss"), "a title and text full of <script> and quotes", "archived"),
    Fault("many-headers", _page("many-headers"), f"{MANY_HEADERS:,} response headers (500 KiB) and a 4 KiB ETag",
          "error:parse:headers cut"),
    Fault("away-for-now", _page("away-for-now"), "the page at first, then a 307 Temporary Redirect to another "
          "page (a maintenance window)", "archived"),
    Fault("blank", _page("blank"), "an empty body with 200, every time", "error:parse:blank: no title and no text"),
    Fault("blank-later", _page("blank-later"), "the page at first, then an empty body with 200 (as a broken "
          "cache or a cut answer gives)", "archived"),
    Fault("lying-304", _page("lying-304"), "304 Not Modified to every conditional request, with the ETag of "
          "a newer version than the one asked about", "archived"),
    Fault("latin1-etag", _page("latin1-etag"), "an ETag with a byte past ASCII (\\xe9), honoured by If-None-Match",
          "archived"),
    Fault("dated-now", _page("dated-now"), "one ETag for good, and a Last-Modified of the moment in every answer, "
          "304s included", "archived"),
    Fault("cut-gzip-later", _page("cut-gzip-later"), "the page gzipped at first, then only the first half of "
          "its gzip stream (a proxy that closed it early)", "archived"),
    Fault("dated-ahead", _page("dated-ahead"), "a Last-Modified in the year 2100 and no ETag at first; then its words "
          "edited, dated now, and a 304 to an If-Modified-Since not before the Last-Modified (the usual date "
          "test)", "archived"),
    Fault("close-cut-later", _page("close-cut-later"), "no Content-Length (the body ends at the connection's close): "
          "the page whole at first, then only its first half (a connection closed early, which HTTP cannot tell "
          "from the end)", "archived"),
    Fault("cut-after-text-later", _page("cut-after-text-later"), "the page whole at first, then once a 200 cut "
          "short after its text (its every word there, its related links and JSON-LD lost, no </html>) with an ETag "
          "and a Last-Modified of its own, whatever the request's validators; then whole again, and 304 to the "
          "whole page's ETag", "archived"),
    Fault("restamped", _page("restamped"), "its words edited once after the first answer, then the same, with a "
          "JSON-LD dateModified of the moment and a view count one higher in every answer; no validators",
          "archived"),
]
ALIASES = _page("aliases")
BY_PATH = {f.path: f for f in FAULTS if not f.path.startswith(ALIASES)}
GOOD_FAULT_PAGES = {"/definition/fault-only-in-gzip-sitemap/", "/definition/fault-only-in-text-sitemap/",
                    "/definition/fault-only-in-atom-sitemap/", "/definition/fault-only-in-utf16-sitemap/",
                    "/definition/fault-only-in-feed-sitemap/", "/definition/fault-offsite-sitemap/"}
# Files the offsite sitemap lists on the crawl's own host: no pages, never requested.
SITEMAP_FILES = ("/wp-content/uploads/2025/12/fault-report.pdf", "/wp-content/uploads/2025/12/fault-chart.PNG",
                 "/downloads/fault-data.tar.gz")
XSS_TITLE = "<script>alert('x')</script> & \"quotes\""


def document(title: str, text: str, extra_body: str = "", head: str = "") -> bytes:
    return (
        f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>{head}"
        f"</head><body><article><h1>{escape(title)}</h1><div class=\"entry-content\"><p>{escape(text)}</p>"
        f"{extra_body}</div></article></body></html>"
    ).encode()


def ordinary(name: str) -> bytes:
    return document(f"Fault {name}", f"This page survived the {name} fault and reads normally.")


@cache
def gzip_bomb() -> bytes:
    return gzip.compress(b"\0" * (64 * MiB), compresslevel=9)


@cache
def oversize() -> bytes:
    return document("Oversize", "x" * (20 * MiB))


class FaultyReplicaResource(ReplicaResource):
    """The replica's resource with :data:`FAULTS` added; ``robots`` is one of ``themes.ROBOTS_MODES``."""

    def __init__(self, site: ReplicaSite, log: Any = None, robots: str = "normal"):
        super().__init__(site, log)
        self.robots = robots
        self.hits: Counter[str] = Counter()
        posts = [p.path for p in site.live_posts("definition")]
        self.carriers: dict[str, list[Fault]] = {}
        for i, fault in enumerate(f for f in FAULTS if f.linked):
            self.carriers.setdefault(posts[i % len(posts)], []).append(fault)
        self.trap_carrier = linktraps.carrier(site)

    def render_GET(self, request: Any) -> Any:
        path = request.path.decode("utf-8", "replace")
        host = (request.getHeader(b"host") or b"127.0.0.1").decode("latin-1")
        base = f"http://{host}"
        self.hits[path] += 1
        if path == "/robots.txt" and self.robots != "normal":
            return self._robots(request, base)
        if path == "/sitemap_index.xml":
            return self._sitemap_index(request, base)
        if (trap := linktraps.render(path, request.uri.decode("latin-1").partition("?")[2])) is not None:
            return _reply(self, request, path, *trap)
        handler = _handler(path)
        if handler is not None:
            return handler(self, request, path, base)
        body = super().render_GET(request)
        if request.code == 200 and path in self.carriers:
            body = body.replace(b"</body>", self._fault_links(path, host).encode() + b"</body>")
        if request.code == 200 and path == self.trap_carrier:
            body = body.replace(b"</body>", linktraps.entry_links().encode() + b"</body>")
        return body

    # -- ordinary pages that carry links to the faults ----------------------------------

    def _fault_links(self, path: str, host: str) -> str:
        links = []
        for fault in self.carriers[path]:
            href = fault.path
            if fault.name == "host-case":
                href = f"http://{host.upper()}{fault.path}"
            links.append(f'<a href="{escape(href)}">{escape(fault.does)}</a>')
        return "<nav class=\"faults\">" + " ".join(links) + "</nav>"

    # -- robots.txt and sitemaps ----------------------------------------------------------

    def _robots(self, request: Any, base: str) -> bytes:
        host, _, port = base.removeprefix("http://").rpartition(":")
        if self.robots == "redirect-away" or (self.robots == "redirect-site" and host != "localhost"):
            # Another name of this very server, or another site altogether, for the rules.
            target = f"http://localhost:{port}/robots.txt" if self.robots == "redirect-site" else \
                "http://rules.example/robots.txt"
            self.log_request(request, "/robots.txt", 301)
            request.setResponseCode(301)
            request.setHeader(b"Location", target.encode())
            return b""
        if self.robots in ("redirect-loop", "redirect-broken", "redirect-ftp"):
            # To itself by a query, and back; to no URL; to another scheme.
            self.log_request(request, "/robots.txt", 301)
            request.setResponseCode(301)
            target = {"redirect-loop": b"/robots.txt" if request.args else b"/robots.txt?moved=1",
                      "redirect-broken": b"http://[::1/robots.txt",
                      "redirect-ftp": f"ftp://{host}/robots.txt".encode()}[self.robots]
            request.setHeader(b"Location", target)
            return b""
        status = {"error": 500, "rate-limited": 429}.get(self.robots, 200)
        self.log_request(request, "/robots.txt", status)
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        if self.robots == "redirect-site":  # the rules, at the name the redirect led to
            return b"User-agent: *\nDisallow: /definition/\n"
        if status != 200:
            request.setResponseCode(status)
            return b"Internal Server Error" if status == 500 else b"Too Many Requests"
        if self.robots == "disallow-all":
            return b"User-agent: *\nDisallow: /\n"
        if self.robots == "crawl-delay":
            delay = f"User-agent: *\nCrawl-delay: {CRAWL_DELAY}\n".encode()
            return themes.robots(base).replace(b"User-agent: *\n", delay)
        if self.robots in ("brotli", "cut-gzip"):
            # The ordinary rules, notes, then a rule: in brotli (a server that ignores Accept-Encoding), or
            # gzipped and cut halfway (a proxy that closed the answer early), which leaves out that rule.
            notes = "".join(f"# note {i}: rules for crawlers of page {i * 7919 % 10007}\n" for i in range(2000))
            rules = themes.robots(base) + notes.encode() + b"User-agent: *\nDisallow: /definition/\n"
            if self.robots == "brotli":
                request.setHeader(b"Content-Encoding", b"br")
                return brotli.compress(rules)
            request.setHeader(b"Content-Encoding", b"gzip")
            stream = gzip.compress(rules)
            return stream[:len(stream) // 2]
        # Huge: the ordinary rules, 2 MiB of comments, then a rule past the 500 KiB a crawler must read.
        return themes.robots(base) + b"# padding\n" * (2 * MiB // 10) + b"User-agent: *\nDisallow: /\n"

    def _sitemap_index(self, request: Any, base: str) -> bytes:
        body = super().render_GET(request)
        extra = "".join(f"<sitemap><loc>{base}{f.path}</loc></sitemap>\n" for f in FAULTS if not f.linked)
        return body.replace(b"</sitemapindex>", extra.encode() + b"</sitemapindex>")


# -- the faults themselves: handler(resource, request, path, base) -> body or NOT_DONE_YET ----

def _reply(resource: FaultyReplicaResource, request: Any, path: str, status: int, body: bytes,
           content_type: bytes = b"text/html; charset=utf-8", **headers: str) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", content_type)
    for name, value in headers.items():
        request.setHeader(name.replace("_", "-").encode(), value.encode("latin-1"))  # a header's bytes, as sent
    resource.log_request(request, path, status)
    return body


def _fail_then_serve(status: int, failures: int, body: bytes = b"Try again later", **headers: str):
    def handler(resource, request, path, base):
        if resource.hits[path] <= failures:
            return _reply(resource, request, path, status, body, **headers)
        return _reply(resource, request, path, 200, ordinary(BY_PATH[path].name))
    return handler


def _never_starts(resource, request, path, base):
    resource.log_request(request, path, 0)
    request.notifyFinish().addErrback(lambda _: None)
    return server.NOT_DONE_YET


def _stops_halfway(resource, request, path, base):
    resource.log_request(request, path, 200)
    request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
    request.write(ordinary("stops-halfway")[:200])
    request.channel.transport.abortConnection()
    return server.NOT_DONE_YET


def _chunked_cut(resource, request, path, base):
    resource.log_request(request, path, 200)
    request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
    request.write(ordinary("chunked-cut")[:200])  # no Content-Length: sent in chunks
    request.channel.transport.loseConnection()
    return server.NOT_DONE_YET


def _short_body(resource, request, path, base):
    resource.log_request(request, path, 200)
    request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
    request.setHeader(b"Content-Length", b"20000")
    request.write(ordinary("short-body").ljust(4000, b" "))
    request.channel.transport.loseConnection()
    return server.NOT_DONE_YET


def _bad_status_line(resource, request, path, base):
    resource.log_request(request, path, 200)
    transport = request.channel.transport
    transport.write(b"HTTP/2 200 OK\r\nContent-Type: text/html\r\n\r\n" + ordinary("bad-status-line"))
    transport.loseConnection()
    return server.NOT_DONE_YET


def _reset(resource, request, path, base):
    resource.log_request(request, path, 0)
    transport = request.channel.transport
    transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abortConnection()
    return server.NOT_DONE_YET


def _oversize_chunked(resource, request, path, base):
    resource.log_request(request, path, 200)
    request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
    body = oversize()
    for start in range(0, len(body), MiB):
        request.write(body[start:start + MiB])
    request.finish()
    return server.NOT_DONE_YET


def _redirect(target: str):
    def handler(resource, request, path, base):
        location = target.format(base=base)
        return _reply(resource, request, path, 302, b"", Location=location)
    return handler


def _redirect_chain(resource, request, path, base):
    step = int(path.rstrip("/").rpartition("/")[2]) if path.startswith("/faults/chain/") else 0
    return _reply(resource, request, path, 302, b"", Location=f"{base}/faults/chain/{step + 1}/")


def _meta_refresh(target: str):
    """The page, whole, with a meta refresh (no delay) to ``target``."""
    def handler(resource, request, path, base):
        name = path.strip("/").rpartition("/")[2].removeprefix("fault-")
        refresh = f'<meta http-equiv="refresh" content="0; url={escape(target)}">'
        return _reply(resource, request, path, 200, document(f"Fault {name}", f"The {name} page reads normally.",
                                                             head=refresh))
    return handler


def _binary(resource, request, path, base):
    noise = random.Random(11).randbytes(30_000)
    return _reply(resource, request, path, 200, noise)


def _no_content_type(resource, request, path, base):
    request.defaultContentType = None  # else Twisted sends text/html for us
    request.setResponseCode(200)
    resource.log_request(request, path, 200)
    return ordinary("no-content-type")


def _invalid_utf8(resource, request, path, base):
    body = ordinary("invalid-utf8").replace(b"reads normally", b"reads \xff\xfe\xc3( normally")
    return _reply(resource, request, path, 200, body)


def _lying_charset(resource, request, path, base):
    body = document("Fault lying-charset: Black–Scholes café", "Greeks: Δ, Γ, ν, Θ — priced in €.")
    body = body.replace(b'<meta charset="utf-8">', b'<meta charset="iso-8859-1">')
    return _reply(resource, request, path, 200, body, b"text/html; charset=iso-8859-1")


def _nul_bytes(resource, request, path, base):
    body = ordinary("nul-bytes").replace(b"<p>", b"<p>\0\0").replace(b" reads", b"\0 reads")
    return _reply(resource, request, path, 200, body)


def _deep_html(resource, request, path, base):
    depth = 5000
    inner = "<div>" * depth + "<p>Deep inside the markup.</p>" + "</div>" * depth
    return _reply(resource, request, path, 200, document("Fault deep-html", "Shallow text first.", inner))


def _json_ld(data: str) -> str:
    return f'<script type="application/ld+json">{data}</script>'


def _deep_json_ld(resource, request, path, base):
    deep = '{"@context":"https://schema.org","@type":"Thing","x":' + "[" * 10_000 + "]" * 10_000 + "}"
    good = json.dumps({"@context": "https://schema.org", "@type": "Article", "headline": "Fault deep-json-ld"})
    body = document("Fault deep-json-ld", "Text.", head=_json_ld(deep) + _json_ld(good))
    return _reply(resource, request, path, 200, body)


def _huge_json_ld(resource, request, path, base):
    huge = json.dumps({"@context": "https://schema.org", "@type": "Article",
                       "articleBody": "lorem ipsum " * (4 * MiB // 12)})
    return _reply(resource, request, path, 200, document("Fault huge-json-ld", "Text.", head=_json_ld(huge)))


def _many_links(resource, request, path, base):
    links = "".join(f'<a href="/faults/many/{n}/">{n}</a> ' for n in range(MANY_LINKS))
    return _reply(resource, request, path, 200, document("Fault many-links", "A page of links.", links))


def _trap_page(resource, request, path, base):
    if path.startswith("/faults/calendar/"):
        year, month = (int(x) for x in path.strip("/").split("/")[2:4])
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
        nxt = f"/faults/calendar/{year}/{month}/"
    elif path.startswith("/faults/list/"):
        page = int((request.args.get(b"page") or [b"1"])[0])
        nxt = f"/faults/list/?page={page + 1}"
    elif path.startswith("/faults/session/"):
        nxt = f"/faults/session/{random.Random(path).getrandbits(128):032x}/"
    elif path.startswith("/faults/deep/"):
        nxt = f"{path}a/"
    else:  # /faults/many/N/
        nxt = "/"
    body = document("Trap", "Another page of the trap.", f'<a href="{nxt}">next</a>')
    return _reply(resource, request, path, 200, body)


def _aliases(resource, request, path, base):
    return _reply(resource, request, path, 200, ordinary("aliases"))


def _many_headers(resource, request, path, base):
    for n in range(MANY_HEADERS):
        request.setHeader(f"X-Filler-{n}".encode(), b"v" * 90)
    return _reply(resource, request, path, 200, ordinary("many-headers"), ETag='"' + "e" * 4096 + '"')


def _away_for_now(resource, request, path, base):
    if resource.hits[path] == 1:
        return _reply(resource, request, path, 200, ordinary("away-for-now"))
    return _reply(resource, request, path, 307, b"", Location=f"{base}/definition/fault-offsite-target/")


def _blank_later(resource, request, path, base):
    return _reply(resource, request, path, 200, ordinary("blank-later") if resource.hits[path] == 1 else b"")


def _lying_304(resource, request, path, base):
    # Version 1 at first; then version 2, which a conditional request is told has not changed.
    version = 1 if resource.hits[path] == 1 else 2
    if request.getHeader(b"if-none-match") is not None:
        return _reply(resource, request, path, 304, b"", ETag='"v2"')
    return _reply(resource, request, path, 200, document("Fault lying-304", f"Version {version} of the page."),
                  ETag=f'"v{version}"')


def _latin1_etag(resource, request, path, base):
    tag = b'"v\xe9-1"'  # RFC 9110 lets an entity tag hold any byte from 0x80 up
    if request.getHeader(b"if-none-match") == tag:
        return _reply(resource, request, path, 304, b"")
    request.setHeader(b"ETag", tag)
    return _reply(resource, request, path, 200, ordinary("latin1-etag"))


def _dated_now(resource, request, path, base):
    now = formatdate(usegmt=True)
    if request.getHeader(b"if-none-match") == b'"same"':
        return _reply(resource, request, path, 304, b"", ETag='"same"', Last_Modified=now)
    return _reply(resource, request, path, 200, ordinary("dated-now"), ETag='"same"', Last_Modified=now)


def _dated_ahead(resource, request, path, base):
    ahead = "Fri, 01 Jan 2100 00:00:00 GMT"
    modified = ahead if resource.hits[path] == 1 else formatdate(usegmt=True)
    since = _date(request.getHeader(b"if-modified-since"))
    if since is not None and since >= _date(modified.encode()):
        return _reply(resource, request, path, 304, b"", Last_Modified=modified)
    version = 1 if resource.hits[path] == 1 else 2
    return _reply(resource, request, path, 200, document("Fault dated-ahead", f"Version {version} of the page."),
                  Last_Modified=modified)


def _date(value: bytes | None) -> datetime | None:
    try:
        return parsedate_to_datetime(value.decode("latin-1")) if value else None
    except (TypeError, ValueError):
        return None


def _gzip_cut(name: str) -> bytes:
    """A page's gzip stream up to its middle: whole blocks of it, and no end."""
    page = document(f"Fault {name}", " ".join(f"Sentence {i} of a page whose answer is cut." for i in range(400)))
    stream = gzip.compress(page)
    return stream[:len(stream) // 2]


def _cut_gzip_once(resource, request, path, base):
    if resource.hits[path] == 1:
        return _reply(resource, request, path, 200, _gzip_cut("cut-gzip-once"), Content_Encoding="gzip")
    return _reply(resource, request, path, 200, gzip.compress(ordinary("cut-gzip-once")), Content_Encoding="gzip")


def _cut_gzip_later(resource, request, path, base):
    if resource.hits[path] == 1:
        return _reply(resource, request, path, 200, gzip.compress(ordinary("cut-gzip-later")), Content_Encoding="gzip")
    return _reply(resource, request, path, 200, _gzip_cut("cut-gzip-later"), Content_Encoding="gzip")


def _close_cut_later(resource, request, path, base):
    resource.log_request(request, path, 200)
    page = document("Fault close-cut-later", " ".join(f"Sentence {i} of a page whose answer ends at the close."
                                                      for i in range(200)))
    if resource.hits[path] > 1:
        page = page[:len(page) // 2]
    transport = request.channel.transport
    transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close\r\n\r\n" + page)
    transport.loseConnection()
    return server.NOT_DONE_YET


def _cut_after_text_later(resource, request, path, base):
    """A proxy or a rendering that stopped after the text: HTTP cannot tell, and the page's words are all there."""
    related = "".join(f'<li><a href="{escape(post.path)}">{escape(post.title)}</a></li>'
                      for post in resource.site.live_posts("definition")[:3])
    article = {"@context": "https://schema.org", "@type": "Article", "headline": "Fault cut-after-text-later"}
    page = document("Fault cut-after-text-later", "The words of this page come whole in every answer; what "
                    "follows them does not, once.", f'<h2>Related Terms</h2><ul class="related-posts">{related}</ul>'
                    f'<script type="application/ld+json">{json.dumps(article)}</script>')
    whole = etag(page)
    if resource.hits[path] == 2:
        cut = page[:page.index(b"</li>") + 5]
        return _reply(resource, request, path, 200, cut, ETag=etag(cut), Last_Modified=formatdate(usegmt=True))
    if request.getHeader(b"if-none-match") == whole.encode():
        return _reply(resource, request, path, 304, b"", ETag=whole)
    return _reply(resource, request, path, 200, page, ETag=whole, Last_Modified="Mon, 05 Jan 2026 10:00:00 GMT")


def _restamped(resource, request, path, base):
    """What a CMS gives when it stamps each rendering: the page's words never change, its JSON-LD does."""
    url = base + path
    article = {"@context": "https://schema.org", "@type": "Article", "headline": "Fault restamped", "url": url,
               "datePublished": "2026-01-05T10:00:00+00:00",
               "dateModified": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
               "mainEntityOfPage": {"@type": "WebPage", "@id": url, "dateModified": formatdate(usegmt=True)},
               "interactionStatistic": {"@type": "InteractionCounter", "userInteractionCount": resource.hits[path]}}
    head = f'<script type="application/ld+json">{json.dumps(article)}</script>'
    words = ("The words of this page were edited once, after its first answer." if resource.hits[path] == 1 else
             "The words of this page stay the same from its second answer on, however often its markup says it "
             "was modified.")
    return _reply(resource, request, path, 200, document("Fault restamped", words, head=head))


def _ip_literal(resource, request, path, base):
    port = base.rpartition(":")[2]
    targets = [f"http://127.0.0.1:{port}/", f"http://127.1:{port}/", f"http://[::1]:{port}/",
               f"http://2130706433:{port}/", f"http://0x7f000001:{port}/", "file:///etc/passwd",
               "data:text/html,<h1>x</h1>", f"http://localhost.:{port}@127.0.0.1:{port}/"]
    links = "".join(f'<a href="{escape(t)}">{escape(t)}</a> ' for t in targets)
    return _reply(resource, request, path, 200, document("Fault ip-literal", "Links by address.", links))


def _gzip_sitemap(resource, request, path, base):
    xml = themes.sitemap("urlset", "url", [], base).replace(
        b"</urlset>", f"<url><loc>{base}/definition/fault-only-in-gzip-sitemap/</loc></url></urlset>".encode())
    return _reply(resource, request, path, 200, gzip.compress(xml), b"application/x-gzip")


def _cut_gzip_sitemap(resource, request, path, base):
    entries = [(f"/definition/fault-only-in-gzip-sitemap/?from=cut-{i}", datetime(2025, 1, 1, tzinfo=timezone.utc))
               for i in range(200)]
    stream = gzip.compress(themes.sitemap("urlset", "url", entries, base))
    return _reply(resource, request, path, 200, stream[:len(stream) // 2], b"application/x-gzip")


def _broken_sitemap(resource, request, path, base):
    xml = themes.sitemap("urlset", "url", [(f"/definition/fault-only-in-gzip-sitemap/?from=broken-{i}",
                                            datetime(2025, 1, 1, tzinfo=timezone.utc)) for i in range(20)], base)
    cut = xml.index(b"?from=broken-10")  # in the middle of the eleventh URL
    return _reply(resource, request, path, 200, xml[:cut], b"application/xml")


def _text_sitemap(resource, request, path, base):
    body = f"\ufeff{base}/definition/fault-only-in-text-sitemap/\r\n\n".encode()  # a BOM, CRLF, a blank line
    return _reply(resource, request, path, 200, body, b"text/plain; charset=utf-8")


def _feed_sitemap(resource, request, path, base):
    body = (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{themes.SITE}</title>'
            f"<link>{base}/</link><item><title>Fault feed-sitemap</title>"
            f"<link>{base}/definition/fault-only-in-feed-sitemap/</link>"
            "<pubDate>Fri, 27 Nov 2026 09:00:00 +0000</pubDate></item></channel></rss>")
    return _reply(resource, request, path, 200, body.encode(), b"application/rss+xml; charset=utf-8")


def _utf16_sitemap(resource, request, path, base):
    xml = themes.sitemap("urlset", "url", [("/definition/fault-only-in-utf16-sitemap/",
                                            datetime(2026, 11, 27, tzinfo=timezone.utc))], base)
    body = xml.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")  # with its BOM
    return _reply(resource, request, path, 200, body, b"application/xml")


def _atom_sitemap(resource, request, path, base):
    body = (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="{base}/definition/">'
            f"<title>{themes.SITE}</title><id>{base}/</id><updated>2026-11-27T09:00:00Z</updated>"
            "<entry><title>Fault atom-sitemap</title><id>urn:glossary:fault-atom-sitemap</id>"
            '<updated>2026-11-27T09:00:00Z</updated><link href="fault-only-in-atom-sitemap/"/></entry></feed>')
    return _reply(resource, request, path, 200, body.encode(), b"application/atom+xml; charset=utf-8")


def _entity_bomb(resource, request, path, base):
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    xml = (f'<?xml version="1.0"?><!DOCTYPE urlset [{entities}]>'
           '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&lol9;</loc></url></urlset>')
    return _reply(resource, request, path, 200, xml.encode(), b"application/xml")


def _offsite_sitemap(resource, request, path, base):
    port = base.rpartition(":")[2]
    locs = [f"http://127.0.0.1:{port}/definition/fault-offsite-target/", "http://evil.example/definition/x/",
            "file:///etc/passwd", f"{base}/definition/fault-offsite-sitemap/", *(base + path for path in SITEMAP_FILES)]
    xml = ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
           + "".join(f"<url><loc>{escape(loc)}</loc></url>" for loc in locs) + "</urlset>")
    return _reply(resource, request, path, 200, xml.encode(), b"application/xml")


def _html_sitemap(resource, request, path, base):
    return _reply(resource, request, path, 200, document("Not a sitemap", "An HTML page at a sitemap's URL."))


def _xss(resource, request, path, base):
    body = document(XSS_TITLE, "<img src=x onerror=alert(1)> \"; DROP TABLE pages; --",
                    head=_json_ld(json.dumps({"@type": "Article", "headline": XSS_TITLE}).replace("</", "<\\/")))
    return _reply(resource, request, path, 200, body)


def _respelt(resource, request, path, base):
    return _reply(resource, request, path, 301, b"", Location=f"{base}{RESPELT.lower()}")


def _serve_ordinary(resource, request, path, base):
    return _reply(resource, request, path, 200, ordinary(path.strip("/").rpartition("/")[2]))


_HANDLERS = {
    "retry-500": _fail_then_serve(500, 2),
    "retry-503": _fail_then_serve(503, 1, Retry_After="2"),
    "retry-after-superscript": _fail_then_serve(503, 1, Retry_After="\u00b2"),
    "retry-429": _fail_then_serve(429, 1, Retry_After="1"),
    "retry-503-not-gzip": _fail_then_serve(503, 1, b"Down for maintenance", Retry_After="1", Content_Encoding="gzip"),
    "always-503": _fail_then_serve(503, 10**9, Retry_After="1"),
    "retry-after-long": _fail_then_serve(503, 10**9, Retry_After="86400"),
    "never-starts": _never_starts,
    "stops-halfway": _stops_halfway,
    "chunked-cut": _chunked_cut,
    "short-body": _short_body,
    "bad-status-line": _bad_status_line,
    "reset": _reset,
    "corrupt-gzip": lambda r, q, p, b: _reply(r, q, p, 200, b"\x1f\x8b\x08\x00this is not gzip at all",
                                              Content_Encoding="gzip"),
    "cut-gzip": lambda r, q, p, b: _reply(r, q, p, 200, _gzip_cut("cut-gzip"), Content_Encoding="gzip"),
    "brotli": lambda r, q, p, b: _reply(r, q, p, 200, brotli.compress(ordinary("brotli")), Content_Encoding="br"),
    "zstd": lambda r, q, p, b: _reply(r, q, p, 200, zstd.compress(ordinary("zstd")), Content_Encoding="zstd"),
    "not-brotli": lambda r, q, p, b: _reply(r, q, p, 200, ordinary("not-brotli"), Content_Encoding="br"),
    "not-zstd": lambda r, q, p, b: _reply(r, q, p, 200, ordinary("not-zstd"), Content_Encoding="zstd"),
    "cut-gzip-later": _cut_gzip_later,
    "cut-gzip-once": _cut_gzip_once,
    "unknown-encoding": lambda r, q, p, b: _reply(r, q, p, 200, random.Random(7).randbytes(4000),
                                                  Content_Encoding="compress"),
    "gzip-bomb": lambda r, q, p, b: _reply(r, q, p, 200, gzip_bomb(), Content_Encoding="gzip"),
    "oversize": lambda r, q, p, b: _reply(r, q, p, 200, oversize()),
    "oversize-chunked": _oversize_chunked,
    "redirect-loop": _redirect("{base}/faults/loop/"),
    "redirect-chain": _redirect_chain,
    "meta-refresh-self": _meta_refresh(_page("meta-refresh-self")),
    "meta-refresh-broken": _meta_refresh("http://[::1/x"),
    "meta-refresh-loop": _meta_refresh(_page("meta-refresh-back")),
    "redirect-offsite": _redirect("http://evil.example/definition/x/"),
    "redirect-file": _redirect("file:///etc/passwd"),
    "unasked-304": lambda r, q, p, b: _reply(r, q, p, 304, b""),
    "pdf": lambda r, q, p, b: _reply(r, q, p, 200, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n",
                                     b"application/pdf"),
    "binary-as-html": _binary,
    "no-content-type": _no_content_type,
    "invalid-utf8": _invalid_utf8,
    "lying-charset": _lying_charset,
    "nul-bytes": _nul_bytes,
    "deep-html": _deep_html,
    "deep-json-ld": _deep_json_ld,
    "huge-json-ld": _huge_json_ld,
    "many-links": _many_links,
    "ip-literal": _ip_literal,
    "xss": _xss,
    "many-headers": _many_headers,
    "latin1-etag": _latin1_etag,
    "dated-now": _dated_now,
    "restamped": _restamped,
    "close-cut-later": _close_cut_later,
    "cut-after-text-later": _cut_after_text_later,
    "dated-ahead": _dated_ahead,
    "lying-304": _lying_304,
    "blank": lambda r, q, p, b: _reply(r, q, p, 200, b""),
    "blank-later": _blank_later,
    "away-for-now": _away_for_now,
    "respelt": _respelt,
    "gzip-sitemap": _gzip_sitemap,
    "cut-gzip-sitemap": _cut_gzip_sitemap,
    "broken-sitemap": _broken_sitemap,
    "text-sitemap": _text_sitemap,
    "feed-sitemap": _feed_sitemap,
    "atom-sitemap": _atom_sitemap,
    "utf16-sitemap": _utf16_sitemap,
    "entity-bomb-sitemap": _entity_bomb,
    "offsite-sitemap": _offsite_sitemap,
    "html-sitemap": _html_sitemap,
}


def _handler(path: str):
    if path == "/faults/loop/":
        return _redirect("{base}" + _page("redirect-loop"))
    if path == _page("meta-refresh-back"):
        return _meta_refresh(_page("meta-refresh-loop"))
    if path.startswith("/faults/chain/"):
        return _redirect_chain
    if path.startswith("/faults/"):
        return _trap_page
    if path in GOOD_FAULT_PAGES or path in ("/definition/fault-offsite-target/", RESPELT.lower()):
        return _serve_ordinary
    if path == ALIASES:
        return _aliases
    fault = BY_PATH.get(path)
    return _HANDLERS[fault.name] if fault else None
