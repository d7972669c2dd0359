"""URL rules of the glossary: normalisation, page types, and what a crawl follows.

Every URL stored in the archive goes through :func:`normalize_url`, so that the
same page reached by different spellings is one row.
"""

from __future__ import annotations

import codecs
import ipaddress
import re
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import idna
from w3lib.url import safe_url_string

if TYPE_CHECKING:
    from scrapy import Request

PAGE_TYPES = ("definition", "term", "area", "area_resource", "other")
GLOSSARY_TYPES = PAGE_TYPES[:4]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# A host name (IDNA already applied) or an IPv4 address; IPv6 addresses are checked apart.
_HOST = re.compile(r"^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$")
_TRACKING_PARAMS = re.compile(r"^(utm_.*|fbclid|gclid)$", re.IGNORECASE)
# A Java servlet's session id, written into the path where a browser took no cookie (``/definition/d6;jsessionid=
# A1B2/``): one page under every session's id, as a tracking parameter makes one under every campaign's.
_SESSION_IN_PATH = re.compile(r";jsessionid=[^/;?#]*", re.IGNORECASE)
_GLOSSARY_PATH = re.compile(r"^/(definition|term|area)/[^/]+(/resource/\d+)?/?$")
# Every page has a markdown copy at its path without the final slash plus ".md"
# (SITE.md: /term/greeks.md is /term/greeks/): the same page, not a second one.
_MARKDOWN_COPY = re.compile(r"^(/(?:definition|term|area)/[^/]+(?:/resource/\d+)?)\.md$")
_PAGE_PATH = re.compile(
    r"^/(?:(?P<type>definition|term)/(?P<slug>[^/]+)"
    r"|area/(?P<area>[^/]+)(?:/resource/(?P<n>\d+))?)/$"
)

# Paths a crawl never follows: WordPress machinery, feeds, search, archives of
# tags and authors, attachments; and files that are not pages (FILE_EXTENSIONS).
_NOT_FOLLOWED = re.compile(
    r"^/(wp-admin|wp-login\.php|wp-json|xmlrpc\.php|wp-content|wp-includes|feed|comments|search"
    r"|tag|author|attachment)(/|$)"
    r"|/(feed|embed|trackback|attachment)/?$",
    re.IGNORECASE,
)
# Files that are not pages, by the extension of their name, besides those Scrapy's link extractor skips
# (scrapy.linkextractors.IGNORED_EXTENSIONS: documents, spreadsheets, archives, programs, images, audio, video):
# markdown and text, sitemaps, web fonts, and whatever is compressed (``.xml.gz``, ``.csv.gz``, ``.tgz``).
FILE_EXTENSIONS = frozenset(("md", "txt", "xml", "woff", "woff2", "gz", "tgz"))
_NOT_FOLLOWED_QUERY = re.compile(r"(^|&)(s|p|attachment_id|replytocom|preview)=", re.IGNORECASE)
# A page of a listing by its query, as /page/N/ is by its path: WordPress's ?paged=N and ?page=N, and a query
# loop block's ?query-N-page=N.
_PAGINATION_QUERY = re.compile(r"(^|&)(page|paged|query-\d+-page)=\d+(&|$)", re.IGNORECASE)


# The longest URL browsers and Scrapy's UrlLengthMiddleware (URLLENGTH_LIMIT) take. The caches of this
# module hold no longer one (a page of longer ones, megabytes each, would grow them by as much), and a
# page's links to longer ones are not recorded (PageMemo.url): Scrapy would never request them, and a
# page of a few thousand would grow the archive by several times its own size.
MAX_URL = MAX_CACHED_URL = 2083


# The longest host name DNS holds (RFC 1035): 253 characters, in labels of at most 63. Python's IDNA codec
# takes time that grows with the square of a label's length to find that a longer one is none (half a minute
# for 10,000 Chinese characters): such a host is refused before it is asked (:func:`overlong_host`).
MAX_HOST = 253
MAX_LABEL = 63


def overlong_host(url: str) -> bool:
    """Whether the host name of ``url`` (an absolute URL) is longer than DNS allows, in whatever script it is
    written: no server has it. A backslash is read as a slash, as w3lib and browsers read it in an http(s) URL
    (``http:\\\\host``)."""
    try:
        host = urlsplit(url.replace("\\", "/")).hostname or ""
    except ValueError:
        return False
    return len(host) > MAX_HOST or any(len(label) > MAX_LABEL for label in host.split("."))


def with_ascii_host(url: str) -> str | None:
    """``url`` (absolute) with a host name past ASCII written in ASCII as browsers write it (the WHATWG URL
    standard: UTS #46 ToASCII, non-transitional); None where no browser reads a host in it. w3lib (and so
    Scrapy) writes it by IDNA 2003, which folds ``ß`` into ``ss`` and drops a final sigma's form: a link to
    ``faß.de`` led to ``fass.de``, another domain; browsers ask for ``xn--fa-hia.de``. The host is read as a
    browser reads it: it ends at a backslash too (``http://faß.de\\Straße``), and all after it is left as it is
    written, for w3lib to read."""
    if url.isascii() or not (parts := _AUTHORITY.match(url)):
        return url
    start, netloc, rest = parts.groups()
    userinfo, at, host_port = netloc.rpartition("@")
    host, colon, port = host_port.partition(":")
    if host.isascii():
        return url
    if len(host) > MAX_HOST or any(len(label) > MAX_LABEL for label in host.split(".")):
        return None  # no server has it; and the codec's time grows with the square of a label's length
    try:
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
        host = ".".join(label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
                        for label in mapped.split("."))
    except (idna.IDNAError, UnicodeError):
        return None
    return f"{start}{userinfo}{at}{host}{colon}{port}{rest}"


# An absolute URL as a browser splits it: its scheme and the slashes after it (backslashes too), its authority (to
# the first slash, backslash, "?" or "#"), and the rest.
_AUTHORITY = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*:[/\\]*)([^/\\?#]*)(.*)", re.DOTALL)


def leads_to_overlong_host(href: str, base: str) -> bool:
    """Whether ``href`` (a redirect's ``Location``, a meta refresh's URL) names a host longer than DNS allows, read
    as w3lib reads it before it is joined to ``base`` (its host encoded first), or once joined."""
    try:
        return overlong_host(href) or overlong_host(urljoin(base, href))
    except ValueError:  # no URL: w3lib's reading of it says so
        return False


class PageKind(NamedTuple):
    page_type: str
    slug: str | None


def normalize_url(url: str, base: str | None = None) -> str | None:
    """The archive's spelling of ``url`` (resolved against ``base``).

    Returns None for anything that is not an absolute http(s) URL.
    """
    url = url.strip()
    if base and not url.startswith(("http://", "https://")):
        if "\\" in url:
            url = _forward_slashes(url)
        if url.startswith("//"):  # from the scheme on: a browser passes over every slash before the host
            host = url.lstrip("/")
            if not host or host[0] in "?#":  # "//", "///": no host, no URL (urljoin reads the page itself)
                return None
            url = f"{base.partition(':')[0]}://{host}"
        origin = origin_of(base) if url.startswith("/") else None
        # A path from the root resolves the same against every page of a site: join it once per site.
        if url.startswith("?"):  # an empty query too replaces the base's, as a browser reads it (urljoin keeps it)
            url = base.split("#", 1)[0].split("?", 1)[0] + url
        else:
            url = _join_from_root(origin, url) if origin else urljoin(base, url)
    return _normalize_absolute(url) if len(url) <= MAX_CACHED_URL else _normalize_absolute.__wrapped__(url)


def link_url(href: str, base: str) -> str | None:
    """The archive URL a page's link (``href``, on a page whose links resolve against ``base``) leads to; None
    for none, and for a link within the page itself (``#fn1``, ``#``, an empty ``href``): in-page navigation, a
    table of contents, a footnote marker or a script's handle, not a link between pages."""
    href = href.strip()
    return None if not href or href.startswith("#") else normalize_url(href, base)


def in_page_encoding(href: str, encoding: str) -> str:
    """``href`` with the characters past ASCII of its query percent-encoded in the page's ``encoding``, as a
    browser writes a link's query (the WHATWG URL standard; a path is written in UTF-8 whatever the page's):
    ``?plat=café`` on a Latin-1 page is ``?plat=caf%E9``, where UTF-8 asked for another URL (a 404, the page
    lost). A character the encoding lacks is written as a browser writes it, as an HTML character reference,
    percent-encoded. ``href`` as it is for a page in UTF-8 (or UTF-16, whose URLs are in UTF-8), and for a
    query of ASCII alone. (w3lib's ``safe_url_string(url, encoding=...)`` writes a query so too, but raises for a
    character the encoding lacks, and :func:`normalize_url` is cached by the URL alone.)"""
    if (at := href.find("?")) < 0 or _codec(encoding) in _URLS_IN_UTF8:
        return href
    end = href.find("#", at)
    end = len(href) if end < 0 else end
    query = href[at + 1:end]
    if query.isascii():
        return href
    written = "".join(char if char.isascii() else _in_query(char, encoding) for char in query)
    return f"{href[:at + 1]}{written}{href[end:]}"


def _in_query(char: str, encoding: str) -> str:
    try:
        return "".join(f"%{byte:02X}" for byte in char.encode(encoding))
    except UnicodeEncodeError:
        return f"%26%23{ord(char)}%3B"


def _codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:  # no encoding Python has: read as UTF-8, as the page's text then is
        return "utf-8"


_URLS_IN_UTF8 = frozenset(codecs.lookup(name).name for name in ("utf-8", "utf-16", "utf-16-le", "utf-16-be",
                                                                  "utf-32", "utf-32-le", "utf-32-be"))


def base_url(href: str, page_url: str) -> str:
    """The URL a page's links resolve against: its ``<base href>`` (``href``; "" for none) joined to the page's
    URL, as written rather than in the archive's spelling (a glossary path gains its final slash: against
    ``/definition/foo`` a browser reads ``baz/`` as ``/definition/baz/``, against ``/definition/foo/`` as
    ``/definition/foo/baz/``); the page's URL itself where the base is not an http(s) URL."""
    href = href.strip()
    if not href:
        return page_url
    joined = urljoin(page_url, _forward_slashes(href) if "\\" in href else href)
    return joined if origin_of(joined) else page_url


def _forward_slashes(href: str) -> str:
    """``href`` as a browser reads it on an http(s) page (the WHATWG URL standard): a backslash before its query
    or fragment is a slash. ``\\definition\\vega\\`` is ``/definition/vega/``; RFC 3986 would keep it in the
    path segment, where no site means it."""
    end = min((at for at in (href.find("?"), href.find("#")) if at >= 0), default=len(href))
    return href[:end].replace("\\", "/") + href[end:]


def origin_of(base: str) -> str | None:
    """``scheme://host[:port]/`` of an http(s) URL; None for any other."""
    return _origin(base) if len(base) <= MAX_CACHED_URL else _origin.__wrapped__(base)


@lru_cache(maxsize=256)
def _origin(base: str) -> str | None:
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}/" if parts.scheme in ("http", "https") and parts.netloc else None


def _join_from_root(origin: str, path: str) -> str:
    """``path`` (from the root: ``/definition/vega/``) joined to ``origin`` (``http://host/``). A plain path, of
    unreserved characters and no "." or ".." segment, is as urljoin would write it, three times as fast:
    most links of a page are such paths to pages the crawl has not met yet."""
    if _PLAIN_PATH.fullmatch(path) and "/." not in path:
        return origin + path[1:]
    return _join_cached(origin, path) if len(path) <= MAX_CACHED_URL else urljoin(origin, path)


_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")


@lru_cache(maxsize=8192)
def _join_cached(origin: str, path: str) -> str:
    return urljoin(origin, path)


# A URL already in the archive's spelling but for its path's trailing slash or markdown copy: lowercase
# http(s), a host name or IPv4 address, a port without leading zeros, a path of unreserved characters,
# no query or fragment. Most links are; they need none of the general route's parsing and re-encoding.
_PLAIN = re.compile(r"(https?)://([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::([1-9][0-9]{0,4}))?(/[A-Za-z0-9._~/-]*)")


# Pages link to the same URLs over and over (navigation, related lists): cache them.
@lru_cache(maxsize=4096)
def _normalize_absolute(url: str) -> str | None:
    plain = _PLAIN.fullmatch(url)
    if plain and int(plain[3] or 0) <= 65535:
        scheme, host, port, path = plain.groups()
        netloc = host if not port or int(port) == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
        return f"{scheme}://{netloc}{_page_path(_plain_path(path) if '/.' in path else path)}"
    if overlong_host(url) or (url := with_ascii_host(url)) is None:
        return None
    try:
        parts = urlsplit(safe_url_string(url))
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if port == 0:  # no server listens there: not the scheme's default port
        return None
    if scheme not in _DEFAULT_PORTS or not (_HOST.match(host) or ":" in host and _is_address(host)):
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = _page_path(_plain_path(_SESSION_IN_PATH.sub("", parts.path) or "/"))
    # Read and written again byte for byte (Latin-1 maps each byte to a character of its own): an escape
    # that is not UTF-8, "?q=caf%E9" on a Latin-1 site, stays what it was, not U+FFFD.
    # Sorted by name alone: a name given twice keeps its values' order (?view=table&view=chart is not
    # ?view=chart&view=table to a site where the last one counts).
    query = sorted(
        ((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True, encoding="latin-1")
         if not _TRACKING_PARAMS.match(k)),
        key=itemgetter(0),
    )
    return urlunsplit((scheme, netloc, path, urlencode(query, encoding="latin-1"), ""))


def earlier_spelling(url: str) -> str:
    """An archive URL as releases before extractor version 5 spelt it: its query's escapes read as UTF-8, and
    those that are not written as U+FFFD (``?q=caf%E9`` as ``?q=caf%EF%BF%BD``). How a run such a release
    stopped recorded the URLs it was given."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    return urlunsplit(parts._replace(query=urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))))


def _plain_path(path: str) -> str:
    """A path as RFC 3986 says another spelling of it means the same (6.2.2): its percent-escapes in upper
    case, those of unreserved characters decoded, and its "." and ".." segments resolved. ``caf%c3%a9``,
    ``caf%C3%A9`` and ``café`` are one page, and so are ``/a/./b/``, ``/a/x/../b/`` and ``/a/b/``."""
    if "%" in path:
        path = _ESCAPE.sub(_escape, path)
    if _DOT_SEGMENT.search(path):
        path = urlsplit(urljoin("http://h/", path)).path
    return path


_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_DOT_SEGMENT = re.compile(r"/\.\.?(?=/|$)")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _escape(escape: re.Match[str]) -> str:
    char = chr(int(escape[0][1:], 16))
    return char if char in _UNRESERVED else escape[0].upper()


def _page_path(path: str) -> str:
    """A glossary page's path with its final slash; a markdown copy's path as its page's. A file's path under a
    glossary prefix (``/definition/chart.png``: a name with a dot, which no slug has) stays as it is: with a
    slash it was a page asked for, a 404, a broken link."""
    if markdown := _MARKDOWN_COPY.match(path):
        return markdown.group(1) + "/"
    if _GLOSSARY_PATH.match(path) and not path.endswith("/") and "." not in path.rpartition("/")[2]:
        return path + "/"
    return path


def classify(url: str) -> PageKind:
    """Page type and slug of a normalised URL, from its path; a page of a listing by its query (``?page=2``,
    ``?paged=2``, ``?query-1-page=2``) is of none, as ``/page/2/`` is."""
    return _classify(url) if len(url) <= MAX_CACHED_URL else _classify.__wrapped__(url)


@lru_cache(maxsize=4096)
def _classify(url: str) -> PageKind:
    parts = urlsplit(url)
    match = _PAGE_PATH.match(parts.path)
    if not match or _PAGINATION_QUERY.search(parts.query):  # /area/vega/?page=2: a listing, not a second area
        return PageKind("other", None)
    if match["type"]:
        return PageKind(match["type"], match["slug"])
    return PageKind("area_resource" if match["n"] else "area", match["area"])


def path_of(url: str) -> str:
    """Which page of a site ``url`` names, whatever the scheme and host it is reached at (``http://`` or
    ``https://``, ``www.`` or not, a staging mirror or the site) and the query it carries (``?ref=``, a
    session, a tracking parameter)."""
    return urlsplit(url).path


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").rstrip(".").lower()


def server_of(url: str) -> str:
    """The server a request for ``url`` goes to, as the allowed hosts name it: its host, and its port
    unless that is a standard one (80 or 443, a site's http and https). Another port of a host is
    another server (a database's console, Scrapyd), never part of the site."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    try:
        port = parts.port
    except ValueError:
        return host
    if port is None or port in _STANDARD_PORTS:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


_STANDARD_PORTS = frozenset(_DEFAULT_PORTS.values())


def is_allowed(url: str, allowed_hosts: set[str] | frozenset[str]) -> bool:
    """Whether a request for ``url`` may be sent: http(s), to exactly one of ``allowed_hosts``
    (:func:`server_of`).

    An IP address or a loopback alias is a host of its own, not the name it may resolve to.
    """
    return url.partition(":")[0].lower() in _DEFAULT_PORTS and server_of(url) in allowed_hosts


def same_site(host: str, other: str) -> bool:
    """Whether two hosts are one site's, for following a robots.txt redirect (RFC 9309 asks crawlers to
    follow one even to another host): the same host; names under one parent domain of two labels or more
    (``term.greeks.live``, ``www.greeks.live``, ``greeks.live``); or both loopback. Any other IP address,
    and a name of one label, is a site of its own: a redirect cannot send the crawler into a network."""
    if host == other:
        return True
    if _is_loopback(host) and _is_loopback(other):
        return True
    if _is_address(host) or _is_address(other) or "." not in host or "." not in other:
        return False
    parent, other_parent = host.partition(".")[2], other.partition(".")[2]
    return ("." in parent and parent in (other, other_parent)) or ("." in other_parent and other_parent == host)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_followable(url: str) -> bool:
    """Whether a crawl that follows links should request this normalised URL."""
    parts = urlsplit(url)
    return not (_NOT_FOLLOWED.search(parts.path) or _NOT_FOLLOWED_QUERY.search(parts.query)
                or is_file(parts.path))


def is_file(path: str) -> bool:
    """Whether a URL's ``path`` names a file that is no page, by its extension (:func:`_file_extensions`), a
    double one too (``.tar.gz``), in any case. A path that ends with a slash names no file."""
    name = path.rpartition("/")[2].lower()
    extensions = _file_extensions()
    dot = name.find(".")
    while dot >= 0:  # every ending from a dot on: "tar.gz", then "gz"
        if name[dot + 1:] in extensions:
            return True
        dot = name.find(".", dot + 1)
    return False


@lru_cache(maxsize=1)
def _file_extensions() -> frozenset[str]:
    """:data:`FILE_EXTENSIONS` and Scrapy's, imported as a crawl first asks: a reparse, and the extraction
    workers, import no Scrapy (it takes a fifth of a second)."""
    from scrapy.linkextractors import IGNORED_EXTENSIONS

    return FILE_EXTENSIONS | {extension.lower() for extension in IGNORED_EXTENSIONS}


def path_depth(url: str) -> int:
    return sum(1 for segment in urlsplit(url).path.split("/") if segment)


def robots_netloc(request: Request) -> str | None:
    """The host (and port) whose robots.txt ``request`` asks for, through whatever redirects; None for a
    request that is not for a robots.txt."""
    if not request.meta.get("dont_obey_robotstxt"):
        return None
    asked = urlsplit(request.meta.get("redirect_urls", [request.url])[0])
    return asked.netloc if asked.path == "/robots.txt" else None


def is_robots(request: Request) -> bool:
    """Whether ``request`` is the robots.txt request Scrapy's robots middleware makes, or a redirect of it."""
    return robots_netloc(request) is not None
