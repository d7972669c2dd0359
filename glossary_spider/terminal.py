"""Text on its way to a terminal or a pipe: archive text with its control characters made visible, and
the progress line of a long run.

Extraction removes control characters from what it archives, but older archives,
JSON-LD values and URLs may still hold them; printed raw, ESC, BEL and the C1
controls (U+0080-U+009F, 8-bit CSI among them) set window titles, clear or hide
the screen, or write the clipboard (OSC 52). Bidirectional overrides reorder what
is shown. Every string of page content the command line prints goes through
:func:`safe_text` (or :func:`safe_json` for JSON output).

A path (or an argument) whose bytes are not UTF-8 reaches Python as surrogate escapes (U+DC80-U+DCFF), which
no terminal, JSON or SQLite text can hold: each is shown as the byte it stands for, ``\\xNN``, in a message
(:func:`safe_text`), in JSON (:func:`shown_path`) and, as bash reads it back, in a command (:func:`shell_word`).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
import time
from typing import IO

# The bidirectional marks, embeddings, overrides and isolates: they reorder what a terminal shows.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# The bytes of a path or an argument that the locale did not decode (not UTF-8), as Python hands them over:
# surrogate escapes.
_BYTES = "\udc80-\udcff"
UNDECODED = re.compile(f"[{_BYTES}]")
# C0 but tab and newline, DEL, C1, _BIDI and _BYTES; on one line, also newline, tab and the line and paragraph
# separators.
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}{_BYTES}]")
_UNSAFE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI}{_BYTES}]")
# What a record written to a terminal shows as an escape: _UNSAFE, but the CR of a CSV's line ends.
_UNSAFE_RECORD = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xdc80 <= code <= 0xdcff:  # a byte that is not UTF-8: the byte
        return f"\\x{code - 0xdc00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown_path(path: object) -> str:
    """A path as text that JSON, SQLite and any terminal can hold: each byte of it that is not UTF-8 as ``\\xNN``
    (``caf\\xe9.db``), as :func:`safe_text` shows it in a message."""
    return UNDECODED.sub(_escape, str(path))


def shell_word(text: str) -> str:
    """``text`` (a path) as one word of a command that bash reads back as it is: quoted as ``shlex.quote``
    quotes it, or, when it holds a byte that is not UTF-8 or a control character, in bash's ``$'…'`` with each
    such byte written ``\\xNN`` (``$'caf\\xe9.db'``), which a message can show on one line as it is."""
    if not _UNSAFE_LINE.search(text):
        return shlex.quote(text)
    quoted = text.replace("\\", "\\\\").replace("'", "\\'")
    return "$'" + _UNSAFE_LINE.sub(lambda m: "".join(f"\\x{byte:02x}" for byte in _bytes(m.group())), quoted) + "'"


def mkdir_command(directory: object) -> str:
    """The command that makes ``directory`` and its parents, as a shell takes it (``mkdir -p -- -x`` for a name
    that would read as an option)."""
    return f"mkdir -p {'-- ' if str(directory).startswith('-') else ''}{shell_word(str(directory))}"


def _bytes(char: str) -> bytes:
    """The bytes a character of a path stands for: the byte of a surrogate escape, else its UTF-8."""
    return bytes([ord(char) - 0xdc00]) if "\udc80" <= char <= "\udcff" else char.encode()


def safe_text(text: object, one_line: bool = False) -> str:
    """``text`` with every control character shown as ``\\xNN`` (newline and tab kept unless ``one_line``), and
    every byte that is not UTF-8 as :func:`shown_path` shows it."""
    return (_UNSAFE_LINE if one_line else _UNSAFE).sub(_escape, "" if text is None else str(text))


def can_style(stream: IO[str]) -> bool:
    """Whether to write bold and colour to ``stream``: a terminal that does not say it wants none
    (``NO_COLOR``, https://no-color.org; ``TERM=dumb``)."""
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def typed(text: str) -> str:
    """An argument as the user typed it: under a locale that is not UTF-8 (``LC_ALL=C``), Python hands over
    what is past ASCII as surrogate escapes of its bytes, which no text can hold; typed on a terminal,
    those bytes are UTF-8 (a byte that is not, U+FFFD)."""
    if not any("\udc80" <= char <= "\udcff" for char in text):
        return text
    return os.fsencode(text).decode("utf-8", "replace")


def quoted(text: str, most: int = 200) -> str:
    """What a user typed, quoted for a one-line message: at most ``most`` characters of it."""
    return repr(text if len(text) <= most else text[:most] + "…")


def safe_json(text: str) -> str:
    """JSON text with the characters ``json.dumps(ensure_ascii=False)`` leaves raw (DEL, C1, bidi
    controls) written as ``\\uNNNN`` escapes: the same JSON, safe on a terminal; a byte that is not UTF-8 (a
    path's) as the text ``\\xNN``, as :func:`shown_path` writes it, not as a lone surrogate."""
    return _UNSAFE.sub(lambda m: "\\" + _escape(m) if UNDECODED.match(m.group()) else f"\\u{ord(m.group()):04x}", text)


def to_devnull(fd: int) -> None:
    """Make the file descriptor ``fd`` write to /dev/null from now on."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


class LossyStream:
    """Standard error that can no longer be written (a reader gone: ``2>&1 | head -1``; a full disk) goes to
    /dev/null from then on, as a closed one does (:func:`glossary_spider.cli.output.standard_streams`): what a command
    says there is news for whoever reads it, and a run's exit status stays its own."""

    def __init__(self, stream: IO[str]):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError:
            self._to_nowhere()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError:
            self._to_nowhere()

    def _to_nowhere(self) -> None:
        to_devnull(self._stream.fileno())
        try:
            self._stream.flush()  # what it held, now to /dev/null
        except OSError:
            pass

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


class ShownOnTerminal:
    """A text stream to a terminal, for records written exactly elsewhere (an export's JSON lines or CSV):
    what :data:`_UNSAFE_RECORD` holds is written as ``\\uNNNN`` (in a JSON line, the same JSON), shown
    rather than acted on."""

    def __init__(self, stream: IO[str]):
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(_UNSAFE_RECORD.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


class ProgressLine:
    """A long run's progress on standard error (or ``out``). On a terminal, one line rewritten in place at
    each :meth:`show`; anywhere else (a log file, a pipe, a journal) a line of its own at most every
    ``log_every`` seconds, without the carriage returns and erase sequences that would litter a log (or
    that a terminal without them, ``TERM=dumb``, would show as they are).
    :meth:`done` writes the last one either way."""

    def __init__(self, out: IO[str] | None = None, log_every: float = 30.0):
        self.out = out or sys.stderr
        try:
            self.live = self.out.isatty() and os.environ.get("TERM") != "dumb"
        except (AttributeError, ValueError):  # no isatty, or a closed stream
            self.live = False
        self.log_every = log_every
        self.last = float("-inf")

    def show(self, text: str) -> None:
        if self.live:
            self._write(f"\r\033[K{self.fitted(text)}")
        elif time.monotonic() - self.last >= self.log_every:
            self.last = time.monotonic()
            self._write(f"{text}\n")

    def fitted(self, text: str) -> str:
        """``text`` cut to the terminal's width: a line that wraps cannot be rewritten in place (the carriage
        return goes back to the start of its last row only)."""
        try:
            width = os.get_terminal_size(self.out.fileno()).columns
        except (AttributeError, ValueError, OSError):
            width = 0
        if not width:  # a terminal that says no size (a pty nobody sized: docker exec -t, script): COLUMNS, or 80
            width = shutil.get_terminal_size().columns
        return text if len(text) < width else text[:max(width - 2, 0)] + "…"

    def done(self, text: str) -> None:
        self._write(f"\r\033[K{self.fitted(text)}\n" if self.live else f"{text}\n")

    def _write(self, text: str) -> None:
        try:
            self.out.write(text)
            self.out.flush()
        except OSError:  # the terminal hung up, or the pipe's reader went: progress is not worth failing for
            pass
