"""The scheduler's disk queues: where a crawl's pending requests wait (``SCHEDULER_DISK_QUEUE``), and its
start requests before them (``SCHEDULER_START_DISK_QUEUE``)."""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import tempfile
import time
from collections import deque
from typing import Any, ClassVar

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.squeues import PickleFifoDiskQueue, PickleLifoDiskQueue


QUEUES_PREFIX = "glossary-jobs-"


class PrivateQueues:
    """The directory a run's disk queues (``JOBDIR``) live in, made for it and removed when it ends.

    Pending requests wait in Scrapy's disk queues, so memory stays flat however many pages the sitemaps list,
    whether the run is a ``glossary`` command's or a ``scrapy crawl`` or Scrapyd job's. Those queues are
    pickles, and unpickling runs code: they live in a fresh private directory (``mkdtemp``: mode 0700, a new
    name each run), never at a path beside the archive that someone else could have prepared. Resuming does
    not need them: the archive's frontier is the run's state. The directory is held (``flock``) while this
    process lives, ``kill -9`` or not, so that only one that no live run holds is ever taken for abandoned.
    """

    def __init__(self) -> None:
        remove_abandoned_queues()
        self.path = tempfile.mkdtemp(prefix=QUEUES_PREFIX)
        self.held: int | None = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(self.held, fcntl.LOCK_EX)

    def remove(self) -> None:
        if self.held is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            os.close(self.held)
            self.held = None


def remove_abandoned_queues(min_age: float = 3600) -> None:
    """Remove the queue directories of runs that died without removing theirs (``kill -9``, the
    OOM killer), which can hold the requests of a whole sitemap: this user's, untouched for
    ``min_age`` seconds, and held (``flock``) by no live process. Symlinks and others' are left alone."""
    try:
        entries = list(os.scandir(tempfile.gettempdir()))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(QUEUES_PREFIX):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid()
                    or time.time() - info.st_mtime < min_age):
                continue
            held = os.open(entry.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:  # a live run's
            pass
        finally:
            os.close(held)


def _method_name(spider: Any, function: Any) -> str | None:
    """The name under which ``function`` is a method of ``spider`` (None for no function); raises
    LookupError for anything else."""
    if function is None:
        return None
    name = getattr(function, "__name__", None)
    if getattr(function, "__self__", None) is spider and name and getattr(spider, name, None) == function:
        return name
    raise LookupError(name)


class _Windowed:
    """One of Scrapy's pickled disk queues (:attr:`disk_queue`), with its newest requests kept in memory.

    Up to ``GLOSSARY_QUEUE_MEMORY`` requests wait as they are; past that, the older half of them goes to
    disk. The order is the disk queue's own (last in, first out, or first in, first out), memory stays
    bounded however many URLs the sitemaps or the start list hold, and a crawl whose frontier fits the
    window pickles nothing: writing a request to disk and reading it back cost a tenth of a millisecond
    of the crawl's loop each. The requests held in memory are not written out when the queue closes:
    a crawl's queues are thrown away with it, and the archive's frontier is what ``--resume`` reads
    (:func:`glossary_spider.crawl.run_spider`).

    A request goes to disk naming its callback and errback by looking them up on the spider
    directly: ``Request.to_dict`` finds those names with ``inspect.getmembers`` over the whole
    spider, some 0.3 ms for each request. A request that cannot be written (its callback is not a
    method of the spider, its meta cannot be pickled) stays in memory, as Scrapy's scheduler would
    keep it.
    """

    disk_queue: ClassVar[type]  # the Scrapy queue this one stands on
    newest_first: ClassVar[bool]

    def __init__(self, crawler: Crawler, key: str):
        super().__init__(crawler, key)  # type: ignore[call-arg]
        self.window = max(crawler.settings.getint("GLOSSARY_QUEUE_MEMORY", 5000), 0)
        self.held: deque[Request] = deque()

    def push(self, request: Request) -> None:
        if self.window == 0:
            self._push_to_disk(request)
            return
        self.held.append(request)
        if len(self.held) > self.window:
            kept = []
            for _ in range(len(self.held) // 2):
                waiting = self.held.popleft()
                try:
                    self._push_to_disk(waiting)
                except ValueError:  # it cannot be pickled: it waits in memory, as Scrapy would keep it
                    kept.append(waiting)
            self.held.extendleft(reversed(kept))

    def pop(self) -> Request | None:
        if self.newest_first:
            return self.held.pop() if self.held else super().pop()  # type: ignore[misc]
        # Oldest first: what went to disk is older than all that is held.
        found = super().pop()  # type: ignore[misc]
        return found if found is not None else (self.held.popleft() if self.held else None)

    def peek(self) -> Request | None:
        if self.newest_first:
            return self.held[-1] if self.held else super().peek()  # type: ignore[misc]
        found = super().peek()  # type: ignore[misc]
        return found if found is not None else (self.held[0] if self.held else None)

    def __len__(self) -> int:
        return len(self.held) + super().__len__()  # type: ignore[misc]

    def _push_to_disk(self, request: Request) -> None:
        callbacks = request.callback, request.errback
        try:
            names = [_method_name(self.spider, function) for function in callbacks]  # type: ignore[attr-defined]
        except LookupError:
            super().push(request)  # type: ignore[misc]
            return
        request.callback = request.errback = None
        try:
            data = request.to_dict(spider=self.spider)  # type: ignore[attr-defined]
        finally:
            request.callback, request.errback = callbacks
        data["callback"], data["errback"] = names
        super(self.disk_queue, self).push(data)  # past the class that would convert it again


class RequestDiskQueue(_Windowed, PickleLifoDiskQueue):
    """The requests a crawl finds as it goes, newest first (``SCHEDULER_DISK_QUEUE``)."""

    disk_queue = PickleLifoDiskQueue
    newest_first = True


class StartRequestDiskQueue(_Windowed, PickleFifoDiskQueue):
    """The start URLs and sitemaps, in the order given (``SCHEDULER_START_DISK_QUEUE``): a file of 100,000
    start URLs took 20 s to queue through ``Request.to_dict``, fetching nothing meanwhile."""

    disk_queue = PickleFifoDiskQueue
    newest_first = False
