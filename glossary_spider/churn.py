"""What of a page changes while its words do not: the JSON-LD properties a site rewrites on its own.

A CMS stamps ``dateModified`` on every save and re-render, and counts views, comments and ratings as
readers come; none of it is what the page says. :func:`split` parts a JSON-LD value into what it says
(which the content hash covers, so a new version means new words) and these properties (which the
record's digest covers, so the page's row still takes their latest values, with no new version).
"""

from __future__ import annotations

from typing import Any

# schema.org properties that say when a page was last touched, or how it was received.
CHURNING = ("dateModified", "sdDatePublished", "interactionStatistic", "interactionCount", "commentCount",
            "aggregateRating")


def _churns(key: Any) -> bool:
    """Whether ``key`` names one of :data:`CHURNING`, bare or as a compact or full IRI
    (``schema:dateModified``, ``http://schema.org/dateModified``)."""
    for name in CHURNING:
        if key.endswith(name):
            return len(key) == len(name) or key[-len(name) - 1] in ":/#"
    return False


def split(value: Any) -> tuple[Any, list[list[Any]]]:
    """``value`` (parsed JSON) without the properties of :data:`CHURNING`, at any depth, and those
    properties as ``[name, value]`` pairs in the order met. ``value`` itself is returned, not a copy, where
    it holds none; otherwise only the objects and arrays on the way to one are copied. Iterative: JSON-LD
    may be nested as deep as the JSON reader allows."""
    parents: dict[int, tuple[Any, Any]] = {}  # id of an object or array: (its container, its key there)
    found: list[tuple[Any, Any]] = []  # (the object holding a churning property, the property's name)
    pending = [value]
    while pending:
        item = pending.pop()
        if type(item) is dict:
            for key, child in item.items():
                if key.endswith(CHURNING) and _churns(key):  # JSON's keys are strings
                    found.append((item, key))
                elif type(child) is dict or type(child) is list:
                    parents[id(child)] = (item, key)
                    pending.append(child)
        elif type(item) is list:
            for key, child in enumerate(item):
                if type(child) is dict or type(child) is list:
                    parents[id(child)] = (item, key)
                    pending.append(child)
    if not found:
        return value, []
    copies: dict[int, Any] = {}

    def copy_of(node: Any) -> Any:
        """``node``'s copy, made once, with every container on its way up to ``value`` copied too."""
        chain = []
        while id(node) not in copies:
            chain.append(node)
            if node is value:
                break
            node = parents[id(node)][0]
        for original in reversed(chain):
            copies[id(original)] = type(original)(original)
            if original is not value:
                parent, key = parents[id(original)]
                copies[id(parent)][key] = copies[id(original)]
        return copies[id(chain[0])] if chain else copies[id(node)]

    removed = []
    for holder, key in found:
        removed.append([key, holder[key]])
        del copy_of(holder)[key]
    return copies[id(value)], removed
