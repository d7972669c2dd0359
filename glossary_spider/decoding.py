"""A compressed body is read only if its stream is whole.

Scrapy's ``HttpCompressionMiddleware`` inflates what it can of a gzip, deflate, brotli or zstd body and
keeps it: a body cut short in the middle of its stream (a connection closed early by a proxy, a
server that crashed mid-answer) becomes a page of half its text, which a refresh would archive as its
new version. And a body that is not in the encoding it names fails there as brotli's or zstd's own
error, which reads as a site that did not answer. :class:`WholeEncodingMiddleware`, nearer the
downloader, reads each encoding's stream in bounded steps and hands on the decoded body; a stream that
ends early is asked for again, and refused as the others that do not decode are
(:class:`~glossary_spider.failures.BodyUndecodable`). The same readers read robots.txt (:func:`head`)
and gzip sitemap files (:func:`whole`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

import brotli
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from scrapy.responsetypes import responsetypes

from glossary_spider.failures import BodyCutShort, BodyUndecodable, DecodedPastLimit
from glossary_spider.urls import is_robots

try:
    from compression import zstd  # Python 3.14
except ImportError:
    from backports import zstd

CHUNK = 64 * 1024
# Gzip members or zstd frames one body may hold: a server writes one, or a few; a hostile one writes a
# million empty ones, each a decompression context to make (zstd's take 16 µs: half a minute a body).
MAX_STREAMS = 10_000


class _CutShort(Exception):
    """The input ended inside the stream."""


class _TooMany(Exception):
    """More than :data:`MAX_STREAMS` members or frames."""


def _zlib(wbits: int) -> Callable[[bytes], Iterator[bytes]]:
    """A reader of zlib's formats. Input is fed a chunk at a time, so that what follows a gzip member costs
    no copy of the rest of the body (a body of many tiny members took minutes that way)."""
    members = wbits > zlib.MAX_WBITS  # gzip: members may follow one another

    def read(data: bytes) -> Iterator[bytes]:
        view, at, first = memoryview(data), 0, True
        for _ in range(MAX_STREAMS):
            if at >= len(view):
                return
            inflater, start = zlib.decompressobj(wbits), at
            try:
                while not inflater.eof:
                    if inflater.unconsumed_tail:
                        chunk = inflater.decompress(inflater.unconsumed_tail, CHUNK)
                    elif at < len(view):
                        piece = view[at:at + CHUNK]
                        at += len(piece)
                        chunk = inflater.decompress(piece, CHUNK)
                    else:  # all read; what zlib still holds back (raw deflate has no trailer to wait on)
                        chunk = inflater.decompress(b"", CHUNK)
                        if not chunk:
                            break
                    yield chunk
            except zlib.error:
                if first:
                    raise
                return  # bytes after a whole member that are none: ignored, as gzip itself does
            if not inflater.eof:
                if first or _starts_member(view[start:]):
                    raise _CutShort
                return  # a few stray bytes after a whole member (a lone 0x1f), no member begun: ignored
            if not members:
                return
            at, first = at - len(inflater.unused_data), False
        if at < len(view):
            raise _TooMany
    return read


def _starts_member(rest: memoryview) -> bool:
    """Whether ``rest`` begins a gzip member: a whole header's 10 bytes, magic and method first."""
    return len(rest) >= 10 and rest[:3] == b"\x1f\x8b\x08"


def _deflate(data: bytes) -> Iterator[bytes]:
    """zlib's format, or raw deflate as some servers send it (Scrapy reads both)."""
    try:
        zlib.decompressobj().decompress(data[:CHUNK], 1)
    except zlib.error:
        yield from _zlib(-zlib.MAX_WBITS)(data)
    else:
        yield from _zlib(zlib.MAX_WBITS)(data)


def _brotli(data: bytes) -> Iterator[bytes]:
    decompressor = brotli.Decompressor()
    yield decompressor.process(data, output_buffer_limit=CHUNK)
    while not decompressor.is_finished():
        chunk = decompressor.process(b"", output_buffer_limit=CHUNK)
        if not chunk:
            raise _CutShort
        yield chunk


def _zstd(data: bytes) -> Iterator[bytes]:
    """Frames, one after the other, fed a chunk at a time (as :func:`_zlib` feeds its members)."""
    view, at = memoryview(data), 0
    for _ in range(MAX_STREAMS):
        if at >= len(view):
            return
        decompressor = zstd.ZstdDecompressor()
        while not decompressor.eof:
            if decompressor.needs_input:
                if at >= len(view):
                    break
                piece = view[at:at + CHUNK]
                at += len(piece)
                yield decompressor.decompress(piece, CHUNK)
            else:
                yield decompressor.decompress(b"", CHUNK)
        if not decompressor.eof:
            raise _CutShort
        at -= len(decompressor.unused_data)
    if at < len(view):
        raise _TooMany


READERS: dict[bytes, Callable[[bytes], Iterator[bytes]]] = {
    b"gzip": _zlib(16 + zlib.MAX_WBITS), b"x-gzip": _zlib(16 + zlib.MAX_WBITS), b"deflate": _deflate,
    b"br": _brotli, b"zstd": _zstd,
}


def whole(body: bytes, encodings: list[bytes], most: int) -> bytes | None:
    """``body`` decoded through ``encodings`` (as listed, the last applied last); None where one is not
    known (Scrapy leaves it, and says so), or past ``most`` bytes decoded (0: no limit). Raise
    :class:`BodyUndecodable` if a stream stops before its end or does not decode. An empty body is empty in
    any encoding."""
    if not body:
        return body
    for encoding in reversed(encodings):
        if encoding not in READERS:
            return None
        body, more = _through(body, encoding, most, partial=False)
        if more:
            return None
    return body


def head(body: bytes, encodings: list[bytes], most: int, partial: bool = False) -> tuple[bytes, bool]:
    """The first ``most`` bytes of ``body`` decoded through ``encodings``, and whether more followed: what
    is read of a file that may be long (a robots.txt). ``partial``: the body was cut on purpose (its
    download stopped at a limit), and a stream that stops before its end is read as far as it goes.
    Raise :class:`BodyUndecodable` for an encoding not known, a stream that stops early (otherwise) or
    does not decode."""
    more = False
    if not body:
        return body, more
    for encoding in reversed(encodings):
        if encoding not in READERS:
            raise BodyUndecodable(f"in an encoding not known ({encoding.decode('latin-1')})", f"{len(body):,} bytes")
        body, cut = _through(body, encoding, most, partial or more)
        more = more or cut
    return body[:most], more or len(body) > most


def _through(body: bytes, encoding: bytes, most: int, partial: bool) -> tuple[bytes, bool]:
    """``body`` decoded from ``encoding`` (one of :data:`READERS`) up to past ``most`` bytes (0: no limit), and
    whether it went past them (then decoding stops there). ``partial``: see :func:`head`."""
    name = encoding.decode("latin-1")
    parts, size = [], 0
    try:
        for chunk in READERS[encoding](body):
            size += len(chunk)
            parts.append(chunk)
            if most and size > most:
                return b"".join(parts), True
    except _CutShort:
        if not partial:
            raise BodyCutShort(f"body cut short: its {name} stream stops before its end",
                               f"{len(body):,} bytes of {name}, {size:,} once decoded") from None
    except _TooMany:
        raise BodyUndecodable("body cannot be decoded (bad Content-Encoding)",
                              f"more than {MAX_STREAMS:,} {name} streams one after another") from None
    except (zlib.error, brotli.error, zstd.ZstdError) as exc:
        raise BodyUndecodable("body cannot be decoded (bad Content-Encoding)", f"not {name}: {exc}") from None
    return b"".join(parts), False


def encodings_of(response: Response) -> list[bytes]:
    """The encodings ``response``'s Content-Encoding lists (in the order applied, in lower case), less
    ``identity``."""
    listed = b",".join(response.headers.getlist("Content-Encoding")).split(b",")
    return [e for e in (e.strip().lower() for e in listed) if e and e != b"identity"]


def is_error(response: Response) -> bool:
    """An answer that is its status (anything but a 2xx: an error, a redirect, a 304), whose body nothing
    reads: one that does not decode, or is past the size limit decoded, is dropped, so that the status decides
    (a 503 retried, a 410 gone) rather than the body."""
    return not 200 <= response.status < 300


class WholeEncodingMiddleware:
    """Decodes a compressed answer whose every stream is whole, and refuses one that does not decode, unless its
    status says what it is (:func:`is_error`); one cut short is asked for again, after the back-off of the
    crawl's retry middleware (:meth:`~glossary_spider.middlewares.BackoffRetryMiddleware.again`), and refused
    once its retries are spent; one past the size limit once decoded is refused (the error of each carries the
    answer's status). What it leaves (an encoding it does not know) is Scrapy's ``HttpCompressionMiddleware``'s,
    next to it, which then says so."""

    def __init__(self, most: int, crawler: Crawler | None = None):
        self.most = most
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WholeEncodingMiddleware:
        return cls(crawler.settings.getint("DOWNLOAD_MAXSIZE"), crawler)

    async def process_response(self, request: Request, response: Response, spider: Spider | None = None
                               ) -> Request | Response:
        if not response.headers.getlist("Content-Encoding") or request.method == "HEAD" or is_robots(request):
            return response
        encodings, most = encodings_of(response), request.meta.get("download_maxsize", self.most)
        try:
            body = whole(response.body, encodings, most)
        except BodyUndecodable as exc:
            if not is_error(response):
                if isinstance(exc, BodyCutShort) and (retry := await self.again(request, exc)) is not None:
                    return retry
                exc.status = response.status
                raise
            body = b""
        if body is None:
            if not is_error(response):
                if all(encoding in READERS for encoding in encodings):  # decoding stopped at the size limit
                    raise DecodedPastLimit(len(response.body), encodings, most, response.status)
                return response
            body = b""
        del response.headers["Content-Encoding"]
        # As Scrapy's middleware does: the class the decoded body calls for, its encoding found again.
        kind = responsetypes.from_args(headers=response.headers, url=response.url, body=body)
        return response.replace(cls=kind, body=body, **({"encoding": None} if issubclass(kind, TextResponse) else {}))

    async def again(self, request: Request, cut: BodyCutShort) -> Request | None:
        """``request`` again, by the crawl's retry middleware, or None (its retries spent, or retries off)."""
        from glossary_spider.middlewares import BackoffRetryMiddleware  # which reads this module's decoders

        retrier = self.crawler.get_downloader_middleware(BackoffRetryMiddleware) if self.crawler else None
        return None if retrier is None else await retrier.again(request, cut.what)
