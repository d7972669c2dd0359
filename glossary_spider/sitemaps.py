"""What a sitemap answer holds (:func:`read_sitemap`): an XML sitemap, which Scrapy's ``Sitemap`` reads, or one
in the formats sitemaps.org allows besides: the text format and syndication feeds. Each reads as a urlset:
entries with a ``loc`` (and a ``lastmod``). And a sitemap's bytes in UTF-8, whatever Unicode encoding it is
written in (:func:`utf8`), and what keeps an XML one from being read whole (:func:`xml_fault`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

from lxml import etree
from scrapy.http import Response, TextResponse, XmlResponse
from scrapy.utils.gz import gzip_magic_number
from scrapy.utils.sitemap import Sitemap
from w3lib.encoding import read_bom

from glossary_spider.decoding import whole
from glossary_spider.failures import BodyUndecodable
from glossary_spider.httpdates import http_date


def read_sitemap(response: Response, max_size: int) -> Sitemap | TextSitemap | FeedSitemap | str:
    """The sitemap in ``response`` (XML, an RSS or Atom feed, or sitemaps.org's text format), or what is
    wrong with it; a gzip file is read to ``max_size`` bytes once decompressed (:func:`_sitemap_body`)."""
    body = _sitemap_body(response, max_size)
    if isinstance(body, str):
        return body
    if (body := utf8(body)) is None:
        return "not a sitemap: not the UTF-16 or UTF-32 its byte order mark or first characters say"
    if not body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return TextSitemap.read(body) or "not a sitemap: neither XML nor a list of URLs, one a line"
    if b"<!ENTITY" in body:
        return "the sitemap declares XML entities; not read"
    try:
        sitemap = Sitemap(body)
    except (etree.Error, StopIteration):
        return "not a sitemap: not XML"
    if sitemap.type not in ("urlset", "sitemapindex", "rss", "feed"):
        return f"not a sitemap: its root element is <{sitemap.type}>"
    if fault := xml_fault(body):  # read whole or not at all, as a compressed one is
        return f"the sitemap is not well-formed XML ({fault}); not read"
    if sitemap.type in ("rss", "feed"):
        return FeedSitemap.read(body, response.url) or f"not a sitemap: a feed (<{sitemap.type}>) without links"
    return sitemap


def _sitemap_body(response: Response, max_size: int) -> bytes | str:
    """A sitemap's bytes, as Scrapy's ``SitemapSpider`` finds them, text too: an XML or text answer's
    body; a gzip file's, decompressed to ``max_size`` bytes, its stream whole (a gzip served with
    ``Content-Encoding: gzip`` came decompressed already); or what is wrong, in words."""
    if gzip_magic_number(response):
        try:
            body = whole(response.body, [b"gzip"], max_size)
        except BodyUndecodable as exc:  # half a sitemap's URLs, read as all of them, would be a quiet loss
            return f"sitemap {exc.what}"
        return "sitemap over the size limit once decompressed" if body is None else body
    if isinstance(response, (XmlResponse, TextResponse)) or response.url.endswith((".xml", ".xml.gz")):
        return response.body
    return "not a sitemap (neither XML nor text nor gzip)"

# How an XML file in UTF-16 or UTF-32 without a byte order mark begins: "<?" in that encoding (XML 1.0,
# appendix F).
_WIDE_XML = ((b"\x00\x00\x00<\x00\x00\x00?", "utf-32-be"), (b"<\x00\x00\x00?\x00\x00\x00", "utf-32-le"),
             (b"\x00<\x00?", "utf-16-be"), (b"<\x00?\x00", "utf-16-le"))
_DECLARED_ENCODING = re.compile(rb"""\A(<\?xml\s[^>]*?encoding\s*=\s*)(["'])[^"']*\2""")


def utf8(body: bytes) -> bytes | None:
    """A sitemap's ``body`` in UTF-8: one in UTF-16 or UTF-32 (by its byte order mark, or, for XML, by how
    its declaration begins) is transcoded, the encoding its XML declaration names made UTF-8; any other
    is returned as it is. None when it is not what its encoding says throughout."""
    encoding, bom = read_bom(body)
    if encoding is None:
        encoding = next((name for start, name in _WIDE_XML if body.startswith(start)), None)
        bom = b""
    if encoding is None or encoding == "utf-8":
        return body
    try:
        text = body[len(bom):].decode(encoding)
    except UnicodeDecodeError:
        return None
    return _DECLARED_ENCODING.sub(rb"\1\2UTF-8\2", text.encode("utf-8"), count=1)


class TextSitemap:
    """A sitemap in sitemaps.org's text format: UTF-8, one absolute http(s) URL a line, nothing else."""

    type = "urlset"

    def __init__(self, urls: list[str]):
        self.urls = urls

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return ({"loc": url} for url in self.urls)

    @classmethod
    def read(cls, body: bytes) -> TextSitemap | None:
        """The sitemap ``body`` holds, or None if a line is anything but a URL."""
        lines = [line.strip() for line in body.decode("utf-8", "replace").lstrip("\ufeff").splitlines()]
        urls = [line for line in lines if line]
        if urls and all(url.startswith(("http://", "https://")) and not any(c.isspace() for c in url) for url in urls):
            return cls(urls)
        return None


class FeedSitemap:
    """An RSS 2.0 or Atom feed given as a sitemap, as sitemaps.org allows: each item's link, its
    ``pubDate`` or ``updated`` as the lastmod."""

    type = "urlset"
    ATOM = "{http://www.w3.org/2005/Atom}"

    def __init__(self, entries: list[dict[str, Any]]):
        self.entries = entries

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.entries)

    @classmethod
    def read(cls, body: bytes, url: str | None = None) -> FeedSitemap | None:
        """The links ``body``'s feed (fetched from ``url``) gives, or None if it gives none. An Atom link may be
        relative: to its ``xml:base``, or the feed's URL (RFC 4287)."""
        parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, remove_comments=True,
                                 remove_pis=True)
        try:
            root = etree.fromstring(body, parser, base_url=url)
        except etree.Error:
            return None
        entries = []
        if root is not None and etree.QName(root).localname == "rss":
            for item in root.iter("item"):
                entries.append({"loc": item.findtext("link"), "lastmod": _rfc822(item.findtext("pubDate"))})
        elif root is not None:
            for entry in root.iter(f"{cls.ATOM}entry"):
                links = [_resolved(link, url) for link in entry.iter(f"{cls.ATOM}link")
                         if link.get("rel", "alternate") == "alternate"]
                entries.append({"loc": links[0] if links else None, "lastmod": entry.findtext(f"{cls.ATOM}updated")})
        entries = [{**entry, "loc": entry["loc"].strip()} for entry in entries if (entry["loc"] or "").strip()]
        return cls(entries) if entries else None


def _resolved(link: etree._Element, url: str | None) -> str | None:
    """An Atom link's ``href``, resolved against its ``xml:base`` or the feed's URL; None for none."""
    href = (link.get("href") or "").strip()
    return urljoin(link.base or url or "", href) if href else None


def _rfc822(value: str | None) -> str | None:
    """An RSS date (RFC 822) as ISO 8601, or None."""
    date = http_date(value)
    return None if date is None else date.isoformat()


def xml_fault(body: bytes) -> str | None:
    """What keeps ``body`` from being well-formed XML (its first error, and where), or None. Scrapy's ``Sitemap``
    reads with lxml's recovery, which takes the half URL of a file cut short for a URL, ends one at a raw
    ``&``, and says nothing of either."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        return f"line {exc.lineno}, column {exc.position[1]}: {exc.msg}"[:300]
    return None
