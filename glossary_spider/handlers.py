"""Scrapy's HTTP/1.1 download handler, with the head of each answer bounded, and no connection used again
after an answer that ran past its end.

Twisted's HTTP client reads an answer's status line and headers a line at a time, each line at most
16 KiB, and keeps every header, with no bound on how many: a server sending header lines without end
grew a crawl by a gigabyte in the 30 s before ``--timeout`` ended the fetch, and the retries began it
again. :data:`MAX_HEAD_BYTES` of head, twice what any real site sends with a page, end it: the answer
is given up as malformed (the site's error, not the connection's: not asked for again), and the page's
error row says why.

A connection whose answer came with more than its framing holds is not used again (Twisted keeps it, and the next
request read the rest as its own answer). Where that more came later, after the next request went out on the
connection, it begins no answer, nor any status line: that request is not answered
(:class:`~glossary_spider.failures.OutOfStep`), and is asked again, where it failed as a malformed answer, the
server's own error, and was not. A status line the server wrote wrong (``HTTP/2 200 OK`` in plain text) is still
that error.

An answer with neither a Content-Length nor chunks ends where its connection closes: Twisted takes any end of
the connection for that close, a reset (the server crashed, a proxy gave up) too, and its first half was a page.
Such a body is whole only where the server closed the connection; one lost otherwise is cut short, as a body
shorter than its Content-Length is. Over TLS, that close is the server's closure alert: an end without one is
lost too (Twisted says so), and RFC 9112 (9.8) holds such an answer incomplete.

Scrapy bounds the body (``DOWNLOAD_MAXSIZE``) in its own handler, and builds its connections with a
protocol of its own made by a factory it sets on the connection pool; this handler sets one that makes
that protocol with the bound added. Where a release of Scrapy builds them otherwise, the handler is
Scrapy's as it comes.
"""

from __future__ import annotations

from typing import Any

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure
from twisted.web._newclient import ParseError

from glossary_spider.failures import DATA_LOSS, LostBeforeClose, OutOfStep

try:
    from scrapy.core.downloader.handlers.http11 import _LenientHTTP11ClientFactory, _LenientHTTP11ClientProtocol
except ImportError:  # a release of Scrapy that builds its connections otherwise
    _LenientHTTP11ClientFactory = _LenientHTTP11ClientProtocol = None

MAX_HEAD_BYTES = 1024 * 1024


class HeadTooLarge(Exception):
    """An answer whose status line and headers ran past :data:`MAX_HEAD_BYTES`."""

    def __init__(self) -> None:
        super().__init__(f"status line and headers past {MAX_HEAD_BYTES // 2**20} MiB: the answer was not read")


if _LenientHTTP11ClientProtocol is not None:
    class _BoundedHeadProtocol(_LenientHTTP11ClientProtocol):  # type: ignore[misc, valid-type]
        """Scrapy's protocol, giving up an answer whose head runs past :data:`MAX_HEAD_BYTES`, and its connection
        after an answer that ran past its end."""

        _head_bytes = 0
        _answered = False  # whether the connection has given an answer whole

        def request(self, request: Any) -> Any:
            self._head_bytes = 0
            return super().request(request)

        def dataReceived(self, data: bytes) -> None:
            parser = self._parser
            if parser is not None and getattr(parser, "state", None) in ("STATUS", "HEADER"):
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEAD_BYTES:
                    self._giveUp(Failure(HeadTooLarge()))
                    return
            super().dataReceived(data)

        def _finishResponse_WAITING(self, rest: bytes) -> None:
            # Twisted ends an answer where its framing says, drops what came past that, and keeps the connection
            # for the next request, which then reads what the server sends on as the head of its own answer (a
            # page's body sent with a 304, a body longer than its Content-Length): the next page fails as
            # malformed. A connection with more to come than its answer is not used again.
            parser, request = self._parser, self._currentRequest
            if parser is not None and request is not None and (rest or _body_follows(parser)):
                request.persistent = False
            self._answered = True
            super()._finishResponse_WAITING(rest)

        def _giveUp(self, reason: Failure) -> None:
            parser = self._parser
            if (self._answered and reason.check(ParseError) and getattr(parser, "state", None) == "STATUS"
                    and not reason.value.data.startswith(b"HTTP/")):  # a status line the server wrote wrong is not
                reason = Failure(OutOfStep(reason.value.data))
            super()._giveUp(reason)

        def connectionLost(self, reason: Failure) -> None:
            decoder = getattr(self._parser, "bodyDecoder", None)
            if (DATA_LOSS is not None and not reason.check(ConnectionDone)
                    and getattr(decoder, "contentLength", 0) is None):  # a body whose end is the connection's close
                self._parser.bodyDecoder = _CutShort()
            super().connectionLost(reason)

    class _BoundedHeadFactory(_LenientHTTP11ClientFactory):  # type: ignore[misc, valid-type]
        def buildProtocol(self, addr: Any) -> _BoundedHeadProtocol:
            return _BoundedHeadProtocol(self._quiescentCallback)


class _CutShort:
    """The body decoder of an answer ended by its close, once its connection was lost otherwise."""

    def noMoreData(self) -> None:
        raise LostBeforeClose()


def _body_follows(parser: Any) -> bool:
    """Whether an answer that has no body (a 204, a 304) said it has one: a Content-Length past 0 or a
    Transfer-Encoding. (RFC 9110 lets a 304 name the length of the page it stands for: such a connection is
    not used again either, which costs a connection, never a page.)"""
    if parser.response.code not in parser.NO_BODY_CODES:
        return False
    length = parser.connHeaders.getRawHeaders(b"content-length", [b"0"])
    return bool(parser.connHeaders.getRawHeaders(b"transfer-encoding")) or any(v.strip() not in (b"", b"0")
                                                                              for v in length)


class BoundedHeadDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler (``DOWNLOAD_HANDLERS`` for http and https), its answers' heads bounded."""

    def __init__(self, crawler: Any):
        super().__init__(crawler)
        pool = self._pool
        if _LenientHTTP11ClientProtocol is not None and getattr(pool, "_factory", None) is _LenientHTTP11ClientFactory:
            pool._factory = _BoundedHeadFactory
