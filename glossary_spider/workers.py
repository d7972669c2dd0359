"""Worker processes for extraction, shared by the crawl and by reparse.

Workers are started fresh (spawned, or forked from a forkserver that was), so they
inherit neither the archive's lock nor its database connection; each exits when the
process that started it dies, ``kill -9`` included.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext


def default_workers() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def context() -> BaseContext:
    """Forked from a forkserver that has loaded the extraction modules once: quick to start many."""
    found = multiprocessing.get_context("forkserver")
    found.set_forkserver_preload(["glossary_spider.extraction"])
    return found


def start_early() -> None:
    """Start the forkserver of :func:`context` now: it loads the extraction modules (a third of a
    second) while this process goes on, rather than when the first pool starts and waits for it."""
    context()
    multiprocessing.forkserver.ensure_running()


def executor(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` extraction processes, each a child of this process (spawned), so that the
    CPU time they use counts as this process's for whoever waits for it (a shell's ``time``, Scrapyd)."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=worker_started,
                               initargs=(os.getpid(),))


def worker_started(parent_pid: int) -> None:
    """Run in each worker as it starts: Ctrl-C is the parent's to handle, and the worker goes when it does."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()
