import pytest
from scrapy import Request
from scrapy.utils.httpobj import urlparse_cached

from glossary_spider.urls import base_url, classify, host_of, is_allowed, is_followable, normalize_url, same_site


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Term.Greeks.Live/term/greeks/", "https://term.greeks.live/term/greeks/"),
        ("https://term.greeks.live:443/term/greeks/", "https://term.greeks.live/term/greeks/"),
        ("http://term.greeks.live:80/area/vega/", "http://term.greeks.live/area/vega/"),
        ("http://127.0.0.1:8000/area/vega/", "http://127.0.0.1:8000/area/vega/"),
        ("https://term.greeks.live/term/greeks/#origin", "https://term.greeks.live/term/greeks/"),
        ("https://term.greeks.live/term/greeks", "https://term.greeks.live/term/greeks/"),
        ("https://term.greeks.live/area/vega/resource/3", "https://term.greeks.live/area/vega/resource/3/"),
        ("https://term.greeks.live/?utm_source=x&b=2&fbclid=y&a=1&gclid=z", "https://term.greeks.live/?a=1&b=2"),
        ("https://term.greeks.live/term/greeks.md", "https://term.greeks.live/term/greeks/"),
        # A file under a glossary prefix is no page: no slash, so that it is known as a file and not asked for.
        ("https://term.greeks.live/definition/payoff-chart.png", "https://term.greeks.live/definition/payoff-chart.png"),
        ("https://term.greeks.live/term/greeks.MD", "https://term.greeks.live/term/greeks.MD"),
        # The query sorted by name; a name given twice keeps its values' order (the last may be the one that counts).
        ("https://term.greeks.live/x?view=table&b=1&view=chart", "https://term.greeks.live/x?b=1&view=table&view=chart"),
        ("https://term.greeks.live/x?view=chart&view=table", "https://term.greeks.live/x?view=chart&view=table"),
        # A servlet's session id in the path, wherever it stands in the last segment.
        ("https://term.greeks.live/definition/d6;jsessionid=ABC123/", "https://term.greeks.live/definition/d6/"),
        ("https://term.greeks.live/definition/d6/;JSESSIONID=abc", "https://term.greeks.live/definition/d6/"),
        ("https://term.greeks.live/definition/d6;jsessionid=x?b=1", "https://term.greeks.live/definition/d6/?b=1"),
        ("https://term.greeks.live/about", "https://term.greeks.live/about"),
        ("http://127.0.0.1:08000/area/vega", "http://127.0.0.1:8000/area/vega/"),
        ("http://127.0.0.1:65536/area/vega/", None),
        # Port 0 is no port a server listens on, not port 80 (what dropping it would make of it).
        ("http://127.0.0.1:0/area/vega/", None),
        ("http://127.0.0.1:00/area/vega/", None),
        ("http://[::1]:0/", None),
        # Spellings RFC 3986 says are the same path: escapes' case, escaped unreserved characters, dot segments.
        ("https://term.greeks.live/term/caf%c3%a9/", "https://term.greeks.live/term/caf%C3%A9/"),
        ("https://term.greeks.live/term/café/", "https://term.greeks.live/term/caf%C3%A9/"),
        ("https://term.greeks.live/term/d%65lta%2Dhedge%7e/", "https://term.greeks.live/term/delta-hedge~/"),
        ("https://term.greeks.live/term/a%2fb/", "https://term.greeks.live/term/a%2Fb/"),
        ("https://term.greeks.live/./term/../term/greeks/", "https://term.greeks.live/term/greeks/"),
        ("https://term.greeks.live/term/x/%2E%2E/greeks", "https://term.greeks.live/term/greeks/"),
        ("https://term.greeks.live/../../term/greeks/", "https://term.greeks.live/term/greeks/"),
        ("https://term.greeks.live/.well-known/security.txt", "https://term.greeks.live/.well-known/security.txt"),
        ("https://term.greeks.live/term/greeks/..", "https://term.greeks.live/term/"),
        # A query's escapes stay the bytes they were, UTF-8 or not (a Latin-1 site's "caf%E9"); its pairs are sorted.
        ("https://term.greeks.live/s/?q=caf%E9&a=%C3%A9", "https://term.greeks.live/s/?a=%C3%A9&q=caf%E9"),
        ("https://term.greeks.live/s/?q=caf%E8", "https://term.greeks.live/s/?q=caf%E8"),
        ("https://term.greeks.live/s/?q=café", "https://term.greeks.live/s/?q=caf%C3%A9"),
    ],
)
def test_normalize_url(url, expected):
    assert normalize_url(url) == expected


@pytest.mark.parametrize(("url", "expected"), [
    # UTS #46, non-transitional, as browsers read a host: "ß" and a final sigma are letters of their own (IDNA
    # 2003 made faß.de fass.de, a domain of someone else's).
    ("http://faß.de/a", "http://xn--fa-hia.de/a"),
    ("http://Straße.DE./", "http://xn--strae-oqa.de/"),
    ("http://ς.gr/", "http://xn--3xa.gr/"),
    ("http://σ.gr/", "http://xn--4xa.gr/"),
    # Mapped as before: case, full-width letters, an ideographic full stop; a symbol IDNA 2008 leaves out.
    ("http://ＢÜCHER。de/", "http://xn--bcher-kva.de/"),
    ("http://☃.net/", "http://xn--n3h.net/"),
    ("http://user@bücher.de:8080/x", "http://xn--bcher-kva.de:8080/x"),
    ("http://\udc80.com/", None),
    # A backslash ends the host, as a slash does: what follows is the path, whatever its script.
    ("https://term.greeks.live\\definition\\café\\", "https://term.greeks.live/definition/caf%C3%A9/"),
    ("http://faß.de\\Straße/x", "http://xn--fa-hia.de/Stra%C3%9Fe/x"),
    ("http://a.example\\" + "漢" * 1000, "http://a.example/" + "%E6%BC%A2" * 1000),
])
def test_a_host_past_ascii_is_written_as_browsers_write_it(url, expected):
    assert normalize_url(url) == expected


def test_relative_links_resolve_against_the_page():
    assert normalize_url("../vega/", "https://term.greeks.live/area/skew/") == "https://term.greeks.live/area/vega/"


@pytest.mark.parametrize(("href", "expected"), [
    ("/definition/vega/", "https://term.greeks.live/definition/vega/"),
    ("/", "https://term.greeks.live/"),
    ("/area//vega/", "https://term.greeks.live/area//vega/"),
    ("/.well-known/x", "https://term.greeks.live/.well-known/x"),
    ("/area/./vega/", "https://term.greeks.live/area/vega/"),
    ("/area/skew/../vega/", "https://term.greeks.live/area/vega/"),
    ("/..", "https://term.greeks.live/"),
    ("/a~b_c.d-e/", "https://term.greeks.live/a~b_c.d-e/"),
    ("/term/café/", "https://term.greeks.live/term/caf%C3%A9/"),
])
def test_a_link_from_the_root_resolves_against_the_site_whatever_the_page(href, expected):
    for page in ("https://Term.Greeks.Live:443/area/skew/", "https://term.greeks.live/definition/x/?page=2"):
        assert normalize_url(href, page) == expected


@pytest.mark.parametrize(("href", "expected"), [
    ("?", "https://term.greeks.live/definition/x/"),
    ("?#top", "https://term.greeks.live/definition/x/"),
    ("?page=2", "https://term.greeks.live/definition/x/?page=2"),
])
def test_a_link_of_a_query_alone_replaces_the_pages_query_an_empty_one_too(href, expected):
    """``href="?"`` on ``/definition/x/?ref=a`` kept ``?ref=a`` (Python's urljoin), where a browser goes to
    ``/definition/x/?``, the page without its query: a canonical so written named the variant itself."""
    assert normalize_url(href, "https://term.greeks.live/definition/x/?ref=a#n") == expected


@pytest.mark.parametrize(("href", "expected"), [
    ("\\definition\\vega\\", "https://term.greeks.live/definition/vega/"),
    ("..\\vega\\", "https://term.greeks.live/area/vega/"),
    ("\\\\other.example\\x", "https://other.example/x"),
    ("vega?q=a\\b#c\\d", "https://term.greeks.live/area/skew/vega?q=a%5Cb"),
])
def test_a_backslash_in_a_links_path_is_a_slash_as_browsers_read_it(href, expected):
    assert normalize_url(href, "https://term.greeks.live/area/skew/") == expected


@pytest.mark.parametrize(("href", "expected"), [
    # Joined as written, not in the archive's spelling: "/definition/foo" gains no final slash first.
    ("/definition/foo", "https://term.greeks.live/definition/foo"),
    ("../other/", "https://term.greeks.live/term/other/"),
    ("https://mirror.example/a/", "https://mirror.example/a/"),
    ("", "https://term.greeks.live/term/x/"),
    ("  ", "https://term.greeks.live/term/x/"),
    ("javascript:void(0)", "https://term.greeks.live/term/x/"),
    ("ftp://files.example/", "https://term.greeks.live/term/x/"),
])
def test_a_base_href_is_joined_to_the_page_as_written(href, expected):
    assert base_url(href, "https://term.greeks.live/term/x/") == expected


@pytest.mark.parametrize("url", ["mailto:desk@greeks.live", "javascript:void(0)", "ftp://x.org/", "data:text/html,hi",
                                 "file:///etc/passwd", "http://", "http://x:99999/"])
def test_what_is_not_a_web_page_is_none(url):
    assert normalize_url(url) is None


@pytest.mark.parametrize(
    ("url", "page_type", "slug"),
    [
        ("https://term.greeks.live/definition/at-the-money-2/", "definition", "at-the-money-2"),
        ("https://term.greeks.live/term/greeks/", "term", "greeks"),
        ("https://term.greeks.live/area/vega/", "area", "vega"),
        ("https://term.greeks.live/area/vega/resource/12/", "area_resource", "vega"),
        ("https://term.greeks.live/", "other", None),
        ("https://term.greeks.live/category/term/page/2/", "other", None),
        ("https://term.greeks.live/term/greeks/extra/", "other", None),
        # Pages of a listing by their query, as /page/2/ is by its path; other queries leave the page its type.
        ("https://term.greeks.live/area/vega/?page=2", "other", None),
        ("https://term.greeks.live/area/vega/?paged=3&ref=a", "other", None),
        ("https://term.greeks.live/term/greeks/?query-1-page=2", "other", None),
        ("https://term.greeks.live/definition/delta/?ref=a", "definition", "delta"),
        ("https://term.greeks.live/area/vega/?page=all", "area", "vega"),
    ],
)
def test_classify(url, page_type, slug):
    assert tuple(classify(url)) == (page_type, slug)


@pytest.mark.parametrize(
    ("path", "followed"),
    [
        ("/definition/delta/", True),
        ("/category/definition/page/2/", True),
        ("/feed/", False),
        ("/term/greeks/feed/", False),
        ("/wp-admin/", False),
        ("/wp-login.php", False),
        ("/tag/options/", False),
        ("/author/greeks-live/", False),
        ("/?s=delta", False),
        ("/wp-content/uploads/2025/12/a.webp", False),
        ("/attachment/123/", False),
        ("/?attachment_id=5", False),
        ("/files/report.docx", False),
        ("/files/Sheet.XLSX", False),
        ("/files/data.tar.gz", False),
        ("/files/prices.csv.gz?download=1", False),
        ("/files/setup.exe", False),
        ("/definition/node.js/", True),
        ("/category/v1.2/page/2/", True),
    ],
)
def test_is_followable(path, followed):
    assert is_followable("https://term.greeks.live" + path) is followed


HOSTILE = [
    "file:///etc/passwd", "data:text/html,<h1>x</h1>", "ftp://term.greeks.live/", "javascript:alert(1)",
    "http://127.0.0.1/", "http://localhost/", "http://[::1]/", "http://2130706433/", "http://0x7f000001/",
    "http://127.1/", "http://term.greeks.live.evil.example/", "http://term.greeks.live@evil.example/",
    "http://evil.example#@term.greeks.live/", "http://evil.example?@term.greeks.live/",
    "http://evil.example\\@term.greeks.live/",  # a backslash is a slash, as browsers read it
]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_targets_are_not_allowed(url):
    assert not is_allowed(Request(url).url if url.startswith("http") else url, {"term.greeks.live"})


@pytest.mark.parametrize("url", ["https://term.greeks.live/term/greeks/", "http://TERM.Greeks.Live./x",
                                 "https://user@term.greeks.live/", "http://term.greeks.live:443/",
                                 "https://term.greeks.live:80/"])
def test_the_allowed_host_is_allowed_however_spelt(url):
    assert is_allowed(Request(url).url, {"term.greeks.live"})


@pytest.mark.parametrize(("url", "refused"), [
    ("http://term.greeks.live:8080/term/greeks/", True),  # another server on the site's host
    ("http://127.0.0.1:6800/listjobs.json", True),  # Scrapyd, beside a replica on 127.0.0.1:8000
    ("http://127.0.0.1:8000/term/greeks/", False),
    ("http://127.0.0.1/term/greeks/", True),
    ("http://[::1]:6800/", True),
])
def test_another_port_of_an_allowed_host_is_another_server(url, refused):
    hosts = {"term.greeks.live", "127.0.0.1:8000", "[::1]:8000"}
    assert is_allowed(Request(url).url, hosts) is not refused


@pytest.mark.parametrize("url", [*[u for u in HOSTILE if u.startswith("http")], "http://a%40b@evil.example:81/"])
def test_the_host_checked_is_the_host_scrapy_connects_to(url):
    request = Request(url)
    assert host_of(request.url) == (urlparse_cached(request).hostname or "").rstrip(".").lower()


@pytest.mark.parametrize(("host", "other", "same"), [
    ("term.greeks.live", "term.greeks.live", True),
    ("term.greeks.live", "www.greeks.live", True),
    ("term.greeks.live", "greeks.live", True),
    ("greeks.live", "www.greeks.live", True),
    ("127.0.0.1", "localhost", True),
    ("term.greeks.live", "rules.example", False),
    ("greeks.live", "cdn.live", False),  # "live" is no site
    ("a.b.greeks.live", "greeks.live", False),
    ("term.greeks.live", "169.254.169.254", False),  # no redirect sends a robots.txt request into a network
    ("127.0.0.1", "10.0.0.1", False),
    ("intranet", "term.greeks.live", False),
])
def test_a_robots_txt_may_be_followed_to_another_host_of_its_site_only(host, other, same):
    assert same_site(host, other) is same and same_site(other, host) is same


@pytest.mark.parametrize(("href", "encoding", "expected"), [
    ("/m/?plat=café&x=1#à", "cp1252", "/m/?plat=caf%E9&x=1#à"),  # the query alone; the fragment is no request's
    ("/thé/?q=é", "iso8859-15", "/thé/?q=%E9"),  # the path is UTF-8's to write (normalize_url does)
    ("/m/?q=€", "latin-1", "/m/?q=%26%238364%3B"),  # a character the encoding lacks: its reference, as browsers
    ("/m/?q=€", "cp1252", "/m/?q=%80"),
    ("/m/?plat=café", "utf-8", "/m/?plat=café"),
    ("/m/?plat=café", "utf-16-le", "/m/?plat=café"),  # a UTF-16 page's URLs are written in UTF-8
    ("/m/?plat=cafe", "cp1252", "/m/?plat=cafe"),
])
def test_a_links_query_is_written_in_the_pages_encoding_as_a_browser_writes_it(href, encoding, expected):
    from glossary_spider.urls import in_page_encoding

    assert in_page_encoding(href, encoding) == expected
