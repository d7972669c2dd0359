"""The scheduler's disk queue: where a crawl's pending requests wait (``SCHEDULER_DISK_QUEUE``)."""

from __future__ import annotations

from typing import Any

from scrapy import Request
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
    """Scrapy's pickled LIFO disk queue, which names a request's callback and errback by looking them
    up on the spider directly. ``Request.to_dict`` finds those names with ``inspect.getmembers`` over
    the whole spider, some 0.3 ms for each request: with every page of the sitemaps queued, a tenth
    of a fast crawl's time. A callback that is not a method of the spider takes Scrapy's own way."""

    def push(self, request: Request) -> None:
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
