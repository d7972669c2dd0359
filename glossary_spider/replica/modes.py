"""Ways the whole replica can misbehave, as real sites do: ``glossary replica --mode``.

- ``maintenance``: every URL (robots.txt and sitemaps included) answers the same
  "We'll be back soon" page with status 200;
- ``soft404``: pages that do not exist (or no longer do) answer the theme's
  "Nothing found" page with status 200 instead of 404 or 410;
- ``redesign``: pages come in a new theme that the extraction does not know: no
  JSON-LD, no ``<h1>``, the text in generic ``<div>``\\ s;
- ``rate-limited``: every URL but robots.txt answers ``429 Too Many Requests`` with
  ``Retry-After: 1`` (a firewall that has had enough of us, or of everyone);
- ``forbidden``: every URL but robots.txt answers ``403 Forbidden`` (a firewall or bot check that
  has shut the crawler out);
- ``not-found``: every URL, robots.txt and sitemaps included, answers ``404 Not Found``
  (a deploy that lost the site, a virtual host or CDN pointed at an empty folder);
- ``moved``: every URL but the home page and robots.txt answers ``301 Moved Permanently``
  to the home page (a site that sends whatever it lost to its front page);
- ``json-error``: every URL but robots.txt answers ``200`` with a JSON error (a gateway or a
  virtual host that routes the site's name to something else);
- ``stale-lastmod``: the sitemaps' ``lastmod`` never moves on (2024-01-01 for every page), while the
  pages change as the site's generations go (a CMS that never updates its sitemap);
- ``date-lastmod``: the sitemaps' ``lastmod`` are dates without a time (``2026-11-29``, as the W3C
  format allows): an edit made today, after a crawler's fetch, still says today;
- ``pruned``: about one definition in ten (:func:`pruned`) is deleted on purpose: it answers ``404 Not
  Found`` and the sitemaps no longer list it; every other page is as it was;
- ``gutted``: the other way about: all but one definition and term in ten (:func:`gutted`) answer ``404 Not
  Found``, and the sitemaps agree, listing the rest (a WordPress site whose database was restored from the
  wrong night: its sitemaps are made from the database).

A running replica switches with ``POST /_replica/mode`` (the mode as the body).
"""

from __future__ import annotations

import re
import zlib

from glossary_spider.replica.site import Reply
from glossary_spider.replica.themes import SITE

MODES = ("normal", "maintenance", "soft404", "redesign", "rate-limited", "forbidden", "not-found", "moved",
         "json-error", "stale-lastmod", "date-lastmod", "pruned", "gutted")
STALE_LASTMOD = b"<lastmod>2024-01-01T00:00:00+00:00</lastmod>"
_LASTMOD = re.compile(rb"<lastmod>[^<]*</lastmod>")
HTML = "text/html; charset=utf-8"

MAINTENANCE = (
    f"<!DOCTYPE html><html lang=\"en-US\"><head><title>Maintenance ⎊ {SITE}</title></head><body>"
    "<main><h1>We&#8217;ll be back soon</h1><p>Sorry for the inconvenience. We&#8217;re performing some "
    "maintenance at the moment and will be back online shortly.</p></main></body></html>"
).encode()
NOTHING_FOUND = (
    f"<!DOCTYPE html><html lang=\"en-US\"><head><title>Nothing found ⎊ {SITE}</title></head><body>"
    "<header class=\"site-header\"><a href=\"/\">Home</a></header><main><article><h1>Nothing found</h1>"
    "<div class=\"entry-content\"><p>It seems we can&#8217;t find what you&#8217;re looking for. "
    "Perhaps searching can help.</p></div></article></main></body></html>"
).encode()
NOT_FOUND = b"<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"
_LASTMOD_TIME = re.compile(rb"(<lastmod>\d{4}-\d\d-\d\d)T[^<]*(</lastmod>)")
_SITEMAP_URL = re.compile(rb"<url>\s*<loc>[a-z]+://[^/<]*(/[^<]*)</loc>.*?</url>\s*", re.S)
_JSON_LD = re.compile(rb"<script[^>]*application/ld\+json[^>]*>.*?</script>", re.S | re.I)
_HEADINGS = re.compile(rb"<(/?)h[1-6]\b[^>]*>", re.I)
_BLOCKS = re.compile(rb"<(/?)(?:p|article|section|main|ul|ol|li|blockquote)\b[^>]*>", re.I)


def misbehave(mode: str, reply: Reply, path: str) -> Reply:
    """The reply a site in ``mode`` gives at ``path`` where a normal one gives ``reply``."""
    if mode == "rate-limited" and path != "/robots.txt":
        return Reply(429, b"Too Many Requests\n", "text/plain", {"Retry-After": "1"})
    if mode == "forbidden" and path != "/robots.txt":
        return Reply(403, b"Forbidden\n", "text/plain")
    if mode == "not-found":
        return Reply(404, NOT_FOUND, HTML)
    if mode == "json-error" and path != "/robots.txt":
        return Reply(200, b'{"error": "upstream unavailable"}', "application/json")
    if mode == "moved" and path not in ("/", "/robots.txt"):
        return Reply(301, b"", "text/plain", {"Location": "/"})
    if mode == "maintenance":
        return Reply(200, MAINTENANCE, HTML)
    if mode == "soft404" and reply.status in (404, 410):
        return Reply(200, NOTHING_FOUND, HTML)
    if mode == "stale-lastmod" and b"<lastmod>" in reply.body:
        return Reply(reply.status, _LASTMOD.sub(STALE_LASTMOD, reply.body), reply.content_type, reply.headers,
                     reply.last_modified)
    if mode == "date-lastmod" and b"<lastmod>" in reply.body:
        return Reply(reply.status, _LASTMOD_TIME.sub(rb"\1\2", reply.body), reply.content_type, reply.headers,
                     reply.last_modified)
    if (deleted := {"pruned": pruned, "gutted": gutted}.get(mode)) is not None:
        if deleted(path):
            return Reply(404, NOT_FOUND, HTML)
        if b"<urlset" in reply.body:
            body = _SITEMAP_URL.sub(lambda m: b"" if deleted(m[1].decode()) else m[0], reply.body)
            return Reply(reply.status, body, reply.content_type, reply.headers, reply.last_modified)
    if mode == "redesign" and reply.status == 200 and reply.content_type.startswith("text/html"):
        body = _JSON_LD.sub(b"", reply.body)
        body = _HEADINGS.sub(rb"<\1div>", body)
        body = _BLOCKS.sub(rb"<\1div>", body)
        return Reply(200, body, reply.content_type, reply.headers, reply.last_modified)
    return reply


def pruned(path: str) -> bool:
    """Whether the ``pruned`` mode deleted the page at ``path``: about one definition in ten."""
    return path.startswith("/definition/") and zlib.crc32(path.encode()) % 10 == 0


def gutted(path: str) -> bool:
    """Whether the ``gutted`` mode deleted the page at ``path``: all but about one definition and term in ten."""
    return path.startswith(("/definition/", "/term/")) and zlib.crc32(path.encode()) % 10 != 0
