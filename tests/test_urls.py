import pytest

from glossary_spider.urls import classify, is_followable, normalize_url


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
        ("https://term.greeks.live/about", "https://term.greeks.live/about"),
    ],
)
def test_normalize_url(url, expected):
    assert normalize_url(url) == expected


def test_relative_links_resolve_against_the_page():
    assert normalize_url("../vega/", "https://term.greeks.live/area/skew/") == "https://term.greeks.live/area/vega/"


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
    ],
)
def test_is_followable(path, followed):
    assert is_followable("https://term.greeks.live" + path) is followed
