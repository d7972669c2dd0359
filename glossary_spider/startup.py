"""Ctrl-C, SIGTERM and SIGHUP while a ``glossary`` command starts up: the imports (Scrapy, sqlite-utils,
click: most of a second), the arguments read, until the command takes the stops over, as it does once it has
something to take back (a crawl's run opened, an export begun).

Before, Ctrl-C there broke an import with a traceback and killed the process by SIGINT; SIGTERM killed it
without a word (status 143). Now the command ends at once, with one line and exit status 1: it has written
nothing yet. This module imports nothing of the package, so that it is in place before anything else is.
"""

from __future__ import annotations

import os
import signal
from typing import Any

STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
INTERRUPTED = b"Interrupted while starting up: nothing was written\n"

_before: dict[int, Any] = {}  # each stop's handling when the command started, given back by started()
_ignored: set[int] = set()  # the stops ignored when the command started


# The standard streams (0, 1, 2) closed when the command started (>&-): /dev/null since (:func:`closed_streams`).
CLOSED: set[int] = set()


def closed_streams() -> None:
    """Make each standard stream a scheduler closed (``>&-``, ``2>&-``) /dev/null, before any import opens a file:
    the next file opened takes the lowest free descriptor, and SQLite, which opens none as 0, 1 or 2, puts a
    read-only /dev/null there (an import that asked SQLite for a database in memory did), so that a closed
    standard output read as open, and the first write to it failed (a traceback, or 'Bad file descriptor')
    rather than the command saying it was closed."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            CLOSED.add(fd)
            devnull = os.open(os.devnull, os.O_RDWR)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)


def _stop(signum: int, frame: Any) -> None:
    os.write(2, INTERRUPTED)  # not sys.stderr: a signal can come in the middle of a write to it
    os._exit(1)


def starting() -> None:
    """Stop at once, with one line, on a stop that comes from now until :func:`started`; not on one that
    was ignored when the command started (``nohup``, ``&`` in a script)."""
    for signum in STOPS:
        handling = signal.getsignal(signum)
        if handling is signal.SIG_IGN:
            _ignored.add(signum)
        elif handling is not None and signum not in _before:  # None: not set from Python
            _before[signum] = handling
            signal.signal(signum, _stop)


def ignored() -> frozenset[int]:
    """The stops ignored when the command started (``nohup``: SIGHUP; ``&`` in a script: Ctrl-C), which it
    leaves ignored."""
    return frozenset(_ignored)


def started() -> None:
    """The command takes the stops over: each is handled again as when the command started (Ctrl-C as
    Python's ``KeyboardInterrupt``, SIGTERM and SIGHUP by default), for the command to change that."""
    while _before:
        signum, handling = _before.popitem()
        if signal.getsignal(signum) is _stop:
            signal.signal(signum, handling)
