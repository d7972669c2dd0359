"""JSON read and written by orjson where that gives exactly what the standard library's ``json`` gives,
a few times quicker (a page's content hash, its staged record, its JSON-LD blocks); by ``json`` elsewhere.

Where they differ: orjson writes floats in another notation (``1.5e-7`` for ``1.5e-07``, ``1e16`` for
``1e+16``) and NaN as ``null``; it reads integers past 64 bits as floats; it refuses to write such
integers and lone surrogates, and to read NaN, lone surrogates, numbers past a float's range and the
control characters in strings that ``json.loads(strict=False)`` accepts. So a value that may hold a
float goes to ``json``, and so does whatever orjson refuses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson


def holds_float(value: Any) -> bool:
    """Whether a float is anywhere in ``value`` (JSON data: dicts, lists and scalars)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, float):
            return True
    return False


def canonical(value: Any, floats: bool = True) -> bytes:
    """``json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))`` in UTF-8, byte for
    byte; ``floats``: whether ``value`` may hold a float (False only where the caller knows it cannot)."""
    if not floats:
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def dumps(value: Any, floats: bool = True) -> bytes:
    """Compact JSON of ``value`` in UTF-8, which :func:`loads` reads back as it was; ``floats`` as for
    :func:`canonical`."""
    if not floats:
        try:
            return orjson.dumps(value)
        except orjson.JSONEncodeError:
            pass
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def loads(data: str | bytes, holds_floats: Callable[[Any], bool] = holds_float) -> Any:
    """``json.loads(data, strict=False)``. ``holds_floats``: whether what orjson read may hold a float,
    which could have been an integer past 64 bits (the whole value by default; a caller that knows
    where floats may be can say so, more cheaply)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data, strict=False)
    return json.loads(data, strict=False) if holds_floats(value) else value
