"""A compressed body decoded whole or not at all (``glossary_spider.decoding``); the crawls that meet
such answers are in test_faults.py (the replica's cut-gzip, not-brotli, not-zstd, brotli and zstd pages)."""

from __future__ import annotations

import asyncio
import gzip
import os
import random
import time
import zlib

import brotli
import pytest

from glossary_spider.decoding import MAX_STREAMS, whole, zstd
from glossary_spider.failures import BodyUndecodable, DecodedPastLimit

LIMIT = 16 * 1024 * 1024


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODERS = {b"gzip": gzip.compress, b"deflate": zlib.compress, b"br": brotli.compress, b"zstd": zstd.compress}


@pytest.mark.parametrize("encoding", ENCODERS)
def test_a_stream_cut_short_is_refused_and_a_whole_one_decoded(encoding):
    page = os.urandom(200_000).hex().encode()  # no repeats: half the stream is half the page
    stream = ENCODERS[encoding](page)
    assert whole(stream, [encoding], LIMIT) == page
    with pytest.raises(BodyUndecodable, match=f"body cut short: its {encoding.decode()} stream stops before its end"):
        whole(stream[:len(stream) // 2], [encoding], LIMIT)
    assert whole(b"", [encoding], LIMIT) == b""  # empty in any encoding: the blank page check's, not ours


def test_raw_deflate_ending_in_a_repeat_across_an_output_chunk_is_read_to_its_end():
    """Raw deflate has no trailer: once all its input was taken, zlib still held output back, and the body
    was refused as cut short (bodies just past 64 KiB whose last bytes repeat earlier ones)."""
    random.seed(1)
    head = b"<html><head><title>Deflate page</title></head><body><p>"
    for _ in range(5):
        pattern = bytes(random.choice(b"ab ") for _ in range(200))
        for size in range(65_537, 65_637):
            page = (head + pattern * 400)[:size]
            assert whole(raw_deflate(page), [b"deflate"], LIMIT) == page


@pytest.mark.parametrize("encoding, empty", [(b"gzip", gzip.compress(b"", mtime=0)), (b"zstd", zstd.compress(b""))])
def test_members_one_after_another_are_read_in_bounded_time(encoding, empty):
    """A page, then 262,144 empty gzip members or zstd frames: the rest of the body was copied after each,
    and the crawl's loop stood still for a minute; zstd's contexts alone cost half a minute at 16 MiB."""
    first = ENCODERS[encoding](b"<html><title>x</title>a page</html>")
    assert whole(first + empty * (MAX_STREAMS - 1), [encoding], LIMIT) == b"<html><title>x</title>a page</html>"
    started = time.monotonic()
    with pytest.raises(BodyUndecodable, match=f"more than 10,000 {encoding.decode()} streams"):
        whole(first + empty * 262_144, [encoding], LIMIT)
    assert time.monotonic() - started < 2


def test_encodings_are_undone_last_first_and_an_unknown_one_is_left_to_scrapy():
    page = b"<html><title>Two encodings</title></html>"
    assert whole(gzip.compress(brotli.compress(page)), [b"br", b"gzip"], LIMIT) == page
    assert whole(gzip.compress(page), [b"x-custom", b"gzip"], LIMIT) is None
    assert whole(gzip.compress(b"\0" * (LIMIT + 1)), [b"gzip"], LIMIT) is None  # past the limit
    with pytest.raises(BodyUndecodable, match=r"bad Content-Encoding\): not br"):
        whole(page, [b"br"], LIMIT)


@pytest.mark.parametrize("status", [503, 429, 410, 404, 301])
@pytest.mark.parametrize("body", [b"cut", b"not gzip", b"bomb"])
def test_an_error_answer_is_its_status_whatever_its_body(status, body):
    """A 503 whose body was cut short, or not in the encoding it names, was refused as an answer without
    a page: never retried, and a 410 never marked its page gone. An error's body is not read: dropped, the
    status speaks. A page (2xx) is still refused."""
    from scrapy import Request
    from scrapy.http import Response

    from glossary_spider.decoding import WholeEncodingMiddleware

    stream = {b"cut": gzip.compress(os.urandom(20_000))[:5000], b"not gzip": b"Service Unavailable",
              b"bomb": gzip.compress(b"\0" * (LIMIT + 1))}[body]
    request = Request("http://127.0.0.1/definition/x/")
    middleware = WholeEncodingMiddleware(LIMIT)

    def answer(status: int) -> Response:
        headers = {"Content-Encoding": "gzip", "Retry-After": "1"}
        return Response(request.url, status=status, body=stream, headers=headers, request=request)

    passed = asyncio.run(middleware.process_response(request, answer(status)))
    assert (passed.status, passed.body, passed.headers.get("Retry-After")) == (status, b"", b"1")
    assert b"Content-Encoding" not in passed.headers
    with pytest.raises(DecodedPastLimit if body == b"bomb" else BodyUndecodable) as refused:
        asyncio.run(middleware.process_response(request, answer(200)))
    assert refused.value.status == 200


@pytest.mark.parametrize("stray", [b"\x1f", b"\x1f\x8b", b"\x1f\x8b\x08\x00"])
def test_a_stray_byte_after_a_whole_gzip_member_is_passed_over(stray):
    """A whole member and a lone 0x1f after it was refused as "body cut short", though the whole page was
    there; a second member cut short once its header is whole still is."""
    page = b"<html><title>Whole</title><p>" + b"text " * 2000 + b"</p></html>"
    assert whole(gzip.compress(page) + stray, [b"gzip"], LIMIT) == page
    member = gzip.compress(page)
    for cut in (10, 30, 55, len(member) // 2):  # a member begun, whether or not it has given text yet
        with pytest.raises(BodyUndecodable, match="body cut short"):
            whole(member + member[:cut], [b"gzip"], LIMIT)


@pytest.mark.parametrize("status, encoding, body", [
    (404, "gzip", gzip.compress(b"Not Found " * 500, mtime=0)[:300]), (410, "gzip", b"Gone"), (404, "br", b""),
    (200, "br", b""), (200, "gzip", b""),
], ids=["404 cut gzip", "410 not gzip", "404 empty br", "200 empty br", "200 empty gzip"])
def test_a_robots_txt_answer_is_read_by_its_status_and_an_empty_one_is_empty(status, encoding, body):
    """A 404 robots.txt with a cut or undecodable error page, or an empty body in any encoding, was taken
    for a robots.txt that cannot be had: the whole host disallowed, where a 4xx allows all (RFC 9309)."""
    from scrapy import Request
    from scrapy.http import Response
    from scrapy.utils.test import get_crawler

    from glossary_spider.middlewares import ROBOTS_UNREADABLE_META, RobotsTxtSizeMiddleware

    request = Request("http://127.0.0.1/robots.txt", meta={"dont_obey_robotstxt": True})
    middleware = RobotsTxtSizeMiddleware.from_crawler(get_crawler())
    answer = Response(request.url, status=status, body=body, headers={"Content-Encoding": encoding}, request=request)
    passed = middleware.process_response(request, answer)
    assert ROBOTS_UNREADABLE_META not in request.meta
    assert (passed.status, passed.body) == (status, b"") and b"Content-Encoding" not in passed.headers


RULES = "User-agent: *\nDisallow: /caf\u00e9/\nDisallow: /secret/\n"


@pytest.mark.parametrize("body, content_type", [
    (gzip.compress(RULES.encode()), "application/x-gzip"),  # robots.txt.gz served as a file, no Content-Encoding
    (RULES.encode("utf-16"), "text/plain; charset=utf-16"),  # with its byte order mark
    (RULES.encode("utf-32"), "text/plain"),
    (RULES.encode("latin-1"), "text/plain; charset=iso-8859-1"),
    (RULES.encode(), "text/plain; charset=iso-8859-1"),  # valid UTF-8 is UTF-8, whatever the label
    # No byte order mark: ASCII in UTF-16 is valid UTF-8 as well (a NUL after each letter), read as none of its rules.
    (RULES.encode("utf-16-le"), "text/plain; charset=utf-16"),
    (RULES.encode("utf-16-be"), "text/plain; charset=utf-16"),
    (RULES.encode("utf-16-be"), "text/plain; charset=UTF-16BE"),
    (RULES.encode("utf-32-le"), "text/plain; charset=utf-32"),
], ids=["gzip file", "utf-16", "utf-32", "latin-1", "utf-8 labelled latin-1", "utf-16le unmarked", "utf-16be unmarked",
        "utf-16be named", "utf-32le unmarked"])
def test_a_robots_txt_not_in_utf8_is_read_not_taken_for_no_rules(body, content_type):
    """Scrapy reads robots.txt as UTF-8 and drops what is not: a UTF-16 file from an editor, a gzip file served
    without Content-Encoding or a Latin-1 one were read as no rules, and the pages they disallow fetched."""
    from scrapy import Request
    from scrapy.http import Response
    from scrapy.utils.test import get_crawler

    from glossary_spider.middlewares import RobotsTxtSizeMiddleware

    request = Request("http://127.0.0.1/robots.txt", meta={"dont_obey_robotstxt": True})
    middleware = RobotsTxtSizeMiddleware.from_crawler(get_crawler())
    answer = Response(request.url, body=body, headers={"Content-Type": content_type}, request=request)
    assert middleware.process_response(request, answer).body.decode() == RULES


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_robots_txt_of_ascii_in_utf16_without_a_byte_order_mark_is_read_as_utf16(encoding):
    """ASCII in UTF-16 is valid UTF-8 too (a NUL beside each letter), which was taken over the charset named: the
    rules read as none, and every page they disallow fetched."""
    from glossary_spider.middlewares import robots_utf8

    rules = "User-agent: *\nDisallow: /definition/\n"
    assert robots_utf8(rules.encode(encoding), b"text/plain; charset=utf-16") == rules.encode()


def test_a_robots_txt_cut_at_500_kib_keeps_its_lines_whatever_ends_them():
    """Cut past 500 KiB, a robots.txt kept what came before its last LF: one whose lines end in CR alone kept
    nothing, and every rule of its first 500 KiB was lost."""
    from glossary_spider.middlewares import whole_lines

    rules = b"User-agent: *\rDisallow: /secret/\r" + b"# padding line\r" * 40000
    assert whole_lines(rules[:500 * 1024]).startswith(b"User-agent: *\rDisallow: /secret/\r")
    assert whole_lines(b"Disallow: /a/\r\nDisallow: /b") == b"Disallow: /a/\r\n"
    assert whole_lines(b"no line break") == b""
    # A rule whose comment the cut falls in is a rule still: "Disallow: /x/ #" and 3 MiB of comment lost it.
    assert whole_lines(b"User-agent: *\nDisallow: /x/ # a comment, cut") == b"User-agent: *\nDisallow: /x/ \n"


def test_a_robots_txt_gzip_file_that_does_not_decode_is_unreadable():
    from scrapy import Request
    from scrapy.http import Response
    from scrapy.utils.test import get_crawler

    from glossary_spider.middlewares import ROBOTS_UNREADABLE_META, RobotsTxtSizeMiddleware

    request = Request("http://127.0.0.1/robots.txt", meta={"dont_obey_robotstxt": True})
    middleware = RobotsTxtSizeMiddleware.from_crawler(get_crawler())
    cut = gzip.compress(os.urandom(4000).hex().encode())[:3000]
    passed = middleware.process_response(request, Response(request.url, body=cut, request=request))
    assert passed.body == b"" and request.meta[ROBOTS_UNREADABLE_META].startswith("robots.txt body cut short")
