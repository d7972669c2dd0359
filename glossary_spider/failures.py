"""What went wrong with a download: in a few words for its error row, and whether the site answered.

Shared by the spider (a page's fetch) and the robots.txt middleware (a host's robots.txt); its exceptions are
raised by the download handler (an answer cut short or out of step) and by the readers of compressed bodies
and sitemaps (``decoding.py``, ``sitemaps.py``).
"""

from __future__ import annotations

import gzip
import zlib

from twisted.internet.error import ConnectionClosed, ConnectionDone
from twisted.web import http as twisted_http
from twisted.web.iweb import UNKNOWN_LENGTH

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)

# What Scrapy's HttpCompressionMiddleware raises for a body past DOWNLOAD_MAXSIZE once decoded (one that
# WholeEncodingMiddleware leaves it: a robots.txt) is an IgnoreRequest like any other; only its message says why.
_DECOMPRESSED_PAST_LIMIT = "during decompression"
# What Scrapy's message for a download cancelled on its Content-Length, before a byte of its body, begins with.
_EXPECTED_PAST_LIMIT = "Expected to receive"
# What a body that does not decode as its Content-Encoding says raises, from that middleware.
_UNDECODABLE = (zlib.error, gzip.BadGzipFile, EOFError)
# What Twisted's chunked decoder raises for chunks it cannot read (a chunk-size line past 1 KiB, one not a number);
# its name is private to Twisted: where it is gone, such a body reads as cut short, as it did.
_MALFORMED_CHUNKS = getattr(twisted_http, "_MalformedChunkedDataError", ())


# What Twisted's body decoders raise for a body cut short; private to Twisted: where it is gone, LostBeforeClose is
# never raised, and a body ended by a reset reads as whole, as it did.
DATA_LOSS = getattr(twisted_http, "_DataLoss", None)


class LostBeforeClose(DATA_LOSS or Exception):  # type: ignore[misc]
    """A body whose end is its connection's close (no Content-Length, no chunks), the connection lost otherwise (a
    reset; over TLS, an end without the server's closure alert): raised as Twisted's own decoders raise a body cut
    short (:mod:`glossary_spider.handlers`)."""

    def __init__(self) -> None:
        super().__init__("the connection was lost before the server closed it")


class OutOfStep(Exception):
    """What began a kept-alive connection's next answer was no status line: more of the answer before it, which
    the server sent after that answer's end (:mod:`glossary_spider.handlers`), not this request's answer."""

    def __init__(self, data: bytes):
        super().__init__(f"after its earlier answer had ended, the connection gave {data[:80]!r}, which begins no "
                         "answer (more of that answer, sent past its end)")


class BodyUndecodable(IgnoreRequest):
    """A compressed body cut short, or not in the encoding it names
    (:class:`glossary_spider.decoding.WholeEncodingMiddleware`): the site answered, with no page.
    ``what`` went wrong, in the few words of an error row; ``how``, for its detail."""

    status: int | None = None  # the answer's, given by the middleware that read it

    def __init__(self, what: str, how: str):
        super().__init__(f"{what}: {how}"[:500])
        self.what = what


class BodyCutShort(BodyUndecodable):
    """A compressed body whose stream stops before its end (a proxy that closed the answer early, a server
    that crashed mid-answer): asked for again, as a body shorter than its Content-Length is. Its exchange
    was whole, so once the retries are spent it is an answer, with no page."""


class DecodedPastLimit(IgnoreRequest):
    """A body whose encodings (as listed) decode past ``DOWNLOAD_MAXSIZE`` (a gzip bomb), answered with
    ``status`` (:class:`glossary_spider.decoding.WholeEncodingMiddleware`)."""

    def __init__(self, size: int, encodings: list[bytes], limit: int, status: int):
        coded = ", ".join(e.decode("latin-1") for e in encodings)[:100]
        super().__init__(f"its body, {size:,} bytes of {coded}, ran past the size limit of {_size(limit)} "
                         "(DOWNLOAD_MAXSIZE) once decompressed")
        self.status = status


class RedirectRefused(IgnoreRequest):
    """A redirect not followed (a loop, a chain past ``REDIRECT_MAX_TIMES``, a target that is no URL): the
    site's answer all the same. The page failed, not the site, and a --resume would meet it again."""


class RedirectsEndless(RedirectRefused):
    """Redirects that never reach their end: a loop, or a chain past ``REDIRECT_MAX_TIMES``. ``loop``: a loop's
    URLs, each redirecting to the next and the last back to the first."""

    def __init__(self, message: str, loop: list[str] | None = None):
        super().__init__(message)
        self.loop = loop or []


def _reasons(error: BaseException) -> list[Exception]:
    """Why Twisted's HTTP client gave an answer up (its ``ResponseFailed`` names them), for a download failed."""
    reasons = getattr(error.__cause__, "reasons", None) or []
    return [r.value for r in reasons if isinstance(getattr(r, "value", None), Exception)]


def malformed(error: BaseException) -> list[BaseException]:
    """What Twisted's HTTP client could not read of an answer it gave up on (a status line that is no
    HTTP/1.x, two different Content-Lengths, a Transfer-Encoding it does not know): the server's
    errors, not the connection's. Empty for any other error."""
    if isinstance(error, ResponseDataLossError):  # a body cut short, or one whose chunks could not be read
        return [reason for reason in _reasons(error) if isinstance(reason, _MALFORMED_CHUNKS)]
    if not isinstance(error, DownloadFailedError):
        return []
    return [reason for reason in _reasons(error) if not isinstance(reason, (ConnectionClosed, OutOfStep))]


def out_of_step(error: BaseException) -> bool:
    """Whether a download failed on what a kept-alive connection gave after its earlier answer (:class:`OutOfStep`):
    the request was not answered, and is asked again on another connection."""
    return isinstance(error, DownloadFailedError) and any(isinstance(r, OutOfStep) for r in _reasons(error))


def past_limit_once_decoded(error: BaseException) -> bool:
    return isinstance(error, DecodedPastLimit) or (isinstance(error, IgnoreRequest)
                                                   and _DECOMPRESSED_PAST_LIMIT in str(error))


def answered_status(error: BaseException) -> int | None:
    """The status of the answer a download failed on, where the site answered with a body that could not be used
    (:func:`unusable_answer`) and the error knows it; None otherwise."""
    return getattr(error, "status", None) if isinstance(error, (BodyUndecodable, DecodedPastLimit)) else None


def past_size_limit(error: BaseException) -> bool:
    """Whether a download failed on a body past ``DOWNLOAD_MAXSIZE``, as sent or once decompressed."""
    return isinstance(error, DownloadCancelledError) or past_limit_once_decoded(error)


def unusable_answer(error: BaseException) -> bool:
    """Whether a download failed on what the site answered (past the size limit, a body that cannot be
    decoded, a redirect not followed) rather than for want of an answer."""
    return (isinstance(error, (DownloadCancelledError, RedirectRefused, BodyUndecodable, *_UNDECODABLE))
            or past_limit_once_decoded(error) or bool(malformed(error)))


def _length_unknown(error: ResponseDataLossError) -> bool:
    """Whether the answer cut short said no Content-Length (its body came in chunks, or until the close)."""
    response = getattr(error.__cause__, "response", None)  # Twisted's ResponseFailed holds the answer begun
    return getattr(response, "length", None) is UNKNOWN_LENGTH


def describe(error: BaseException) -> str:
    """What went wrong with a download, in a few words."""
    if isinstance(error, (DownloadTimeoutError, TimeoutError)):
        return "timed out"
    if isinstance(error, ResponseDataLossError):
        if malformed(error):
            return "malformed response"
        if any(isinstance(reason, LostBeforeClose) for reason in _reasons(error)):
            return f"body cut short: {LostBeforeClose()}"
        if _length_unknown(error):
            return "body cut short: the connection closed before its last chunk"
        return "body shorter than its Content-Length"
    if isinstance(error, DownloadCancelledError):  # Scrapy cancels downloads over DOWNLOAD_MAXSIZE
        return "larger than the size limit"
    if past_limit_once_decoded(error):
        return "larger than the size limit after decompression"
    if isinstance(error, BodyUndecodable):
        return error.what
    if isinstance(error, IgnoreRequest):
        return str(error)
    if isinstance(error, DownloadConnectionRefusedError):
        return "connection refused"
    if isinstance(error, CannotResolveHostError):
        return "host not found"
    if out_of_step(error):
        return "no answer: the connection gave what its earlier answer left"
    if isinstance(error, DownloadFailedError):
        return "malformed response" if malformed(error) else "connection lost"
    if isinstance(error, _UNDECODABLE):
        return "body cannot be decoded (bad Content-Encoding)"
    return type(error).__name__


def explain(error: BaseException, size_limit: int) -> str:
    """What went wrong with a download, in the words of its error row's detail: what the site sent that could not
    be read, or what became of the connection, never the repr of Twisted's failures. ``size_limit``: the
    download's ``DOWNLOAD_MAXSIZE``."""
    if unreadable := malformed(error):
        return "; ".join(_unreadable(e) for e in unreadable)
    if isinstance(error, DownloadFailedError):
        return _lost(error)
    if isinstance(error, DownloadCancelledError):
        limit = f"the size limit of {_size(size_limit)} (DOWNLOAD_MAXSIZE)"
        if str(error).startswith(_EXPECTED_PAST_LIMIT):
            return f"its Content-Length is past {limit}: not downloaded"
        return f"its body ran past {limit}: the download stopped there"
    if isinstance(error, ResponseDataLossError):
        return "the connection closed before the body's end"
    return str(error) or type(error).__name__


def _unreadable(error: BaseException) -> str:
    if isinstance(error, KeyError) and error.args and isinstance(error.args[0], bytes):
        # Twisted looks the Transfer-Encoding up among those it reads, chunked alone
        coding = error.args[0].decode("latin-1")[:100]
        return f"Transfer-Encoding {coding!r} not supported: chunked is the only one read"
    if isinstance(error, _MALFORMED_CHUNKS):
        return f"chunked body not readable: {error}"
    return f"{type(error).__name__}: {error}"


def _lost(error: DownloadFailedError) -> str:
    """How the connection of a download that got no whole answer ended (Twisted's ``ResponseFailed`` names it)."""
    when = "before an answer" if getattr(error.__cause__, "response", None) is None else "before the answer's end"
    words = [f"the connection closed cleanly {when}" if isinstance(e, ConnectionDone)
             else f"the connection was lost {when}" if isinstance(e, ConnectionClosed)
             else str(e) if isinstance(e, OutOfStep)
             else f"{type(e).__name__}: {e}" for e in _reasons(error)]
    return "; ".join(dict.fromkeys(words)) or f"the connection failed {when}"


def _size(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit and limit % 2**20 == 0 else f"{limit:,} bytes"
