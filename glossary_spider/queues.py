"""The scheduler's disk queue: where a crawl's pending requests wait (``SCHEDULER_DISK_QUEUE``)."""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.squeues import PickleLifoDiskQueue


def _method_name(spider: Any, function: Any) -> str | None:
    """The name under which ``function`` is a method of ``spider`` (None for no function); raises
    LookupError for anything else."""
    if function is None:
        return None
    name = getattr(function, "__name__", None)
    if getattr(function, "__self__", None) is spider and name and getattr(spider, name, None) == function:
        return name
    raise LookupError(name)


class RequestDiskQueue(PickleLifoDiskQueue):
    """Scrapy's pickled LIFO disk queue, with its newest requests kept in memory.

    Up to ``GLOSSARY_QUEUE_MEMORY`` requests wait as they are; past that, the older half of them
    goes to disk, under the ones kept. The order is the disk queue's own (last in, first out), memory
    stays bounded however many URLs the sitemaps list, and a crawl whose frontier fits the window
    pickles nothing: writing a request to disk and reading it back cost a tenth of a millisecond of
    the crawl's loop each. The requests held in memory are not written out when the queue closes:
    a crawl's queues are thrown away with it, and the archive's frontier is what ``--resume`` reads
    (:func:`glossary_spider.crawl.run_spider`).

    A request goes to disk naming its callback and errback by looking them up on the spider
    directly: ``Request.to_dict`` finds those names with ``inspect.getmembers`` over the whole
    spider, some 0.3 ms for each request. A request that cannot be written (its callback is not a
    method of the spider, its meta cannot be pickled) stays in memory, as Scrapy's scheduler would
    keep it.
    """

    def __init__(self, crawler: Crawler, key: str):
        super().__init__(crawler, key)
        self.window = max(crawler.settings.getint("GLOSSARY_QUEUE_MEMORY", 5000), 0)
        self.held: list[Request] = []

    def push(self, request: Request) -> None:
        if self.window == 0:
            self._push_to_disk(request)
            return
        self.held.append(request)
        if len(self.held) > self.window:
            older = self.held[:len(self.held) // 2]
            del self.held[:len(older)]
            kept = []
            for waiting in older:
                try:
                    self._push_to_disk(waiting)
                except ValueError:  # it cannot be pickled: it waits in memory, as Scrapy would keep it
                    kept.append(waiting)
            self.held[:0] = kept

    def pop(self) -> Request | None:
        return self.held.pop() if self.held else super().pop()

    def peek(self) -> Request | None:
        return self.held[-1] if self.held else super().peek()

    def __len__(self) -> int:
        return len(self.held) + super().__len__()

    def _push_to_disk(self, request: Request) -> None:
        callbacks = request.callback, request.errback
        try:
            names = [_method_name(self.spider, function) for function in callbacks]
        except LookupError:
            super().push(request)
            return
        request.callback = request.errback = None
        try:
            data = request.to_dict(spider=self.spider)
        finally:
            request.callback, request.errback = callbacks
        data["callback"], data["errback"] = names
        super(PickleLifoDiskQueue, self).push(data)  # past the class that would convert it again
