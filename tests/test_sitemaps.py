"""A sitemap's bytes in UTF-8, whatever Unicode encoding it is written in."""

import pytest

from glossary_spider.sitemaps import utf8

XML = ('<?xml version="1.0" encoding="{}"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
       "<url><loc>https://term.greeks.live/definition/vega-\u00fc/</loc></url></urlset>")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_an_xml_sitemap_in_utf16_or_utf32_is_read_in_utf8_with_or_without_its_byte_order_mark(encoding):
    # "utf-16" and "utf-32" write a byte order mark; the others do not, and are known by how "<?xml" begins.
    body = XML.format(encoding.upper()).encode(encoding)
    assert utf8(body) == XML.format("UTF-8").encode()


def test_a_text_sitemap_in_utf16_is_read_in_utf8():
    assert utf8("https://term.greeks.live/a/\nhttps://term.greeks.live/b/\n".encode("utf-16")) == (
        b"https://term.greeks.live/a/\nhttps://term.greeks.live/b/\n")


def test_a_sitemap_in_utf8_or_another_declared_encoding_is_left_as_it_is():
    for body in (XML.format("UTF-8").encode(), XML.format("ISO-8859-1").encode("latin-1"), b"https://a/\n"):
        assert utf8(body) is body


def test_a_sitemap_that_is_not_the_utf16_it_says_is_none():
    assert utf8(b"\xff\xfe<\x00?\x00x") is None  # an odd byte at the end
    assert utf8(b"\xff\xfe\x00\xd8<\x00") is None  # a lone surrogate
