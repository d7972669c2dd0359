"""JSON read and written by orjson where that gives exactly what the standard library's ``json`` gives,
a few times quicker (a page's content hash, its staged record, its JSON-LD blocks); by ``json`` elsewhere.

Where they differ: orjson writes floats in another notation (``1.5e-7`` for ``1.5e-07``, ``1e16`` for
``1e+16``) and NaN as ``null``; it reads integers past 64 bits as floats; it refuses to write such
integers and lone surrogates, and to read NaN, lone surrogates, numbers past a float's range and the
control characters in strings that ``json.loads(strict=False)`` accepts; and it reads values nested
up to 1,024 levels, where ``json`` stops short of 1,000 (Python's recursion limit) and orjson's own
writing at 255. So a value that may hold a float or is deeply nested (:func:`needs_json`) goes to
``json``, and so does whatever orjson refuses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import orjson

# Nesting past this many levels is left to json, reading and writing: well short of both libraries' limits.
MAX_DEPTH = 200


def needs_json(value: Any, max_depth: int | None = MAX_DEPTH) -> bool:
    """Whether ``value`` (JSON data: dicts, lists and scalars) holds a float or is nested more than
    ``max_depth`` levels (None: however deep): where orjson may read or write it otherwise than json."""
    level, depth = [value], 0
    while level:
        if max_depth is not None and depth > max_depth:
            return True
        deeper: list[Any] = []
        for item in level:
            if type(item) is str:  # most of JSON-LD's values: passed over at the cost of one test
                continue
            if isinstance(item, dict):
                deeper.extend(item.values())
            elif isinstance(item, list):
                deeper.extend(item)
            elif isinstance(item, float):
                return True
        level, depth = deeper, depth + 1
    return False


def canonical(value: Any, plain: bool = False) -> bytes:
    """``json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))`` in UTF-8, byte for
    byte; ``plain``: the caller has found that ``value`` does not need json (:func:`needs_json`)."""
    if plain:
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass
    return _CANONICAL.encode(value).encode("utf-8")


# json.dumps(value, **options) is JSONEncoder(**options).encode(value): the encoder made once, and one
# call less deep, so that a value nested as deep as json.loads reads can be written again from here.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any, plain: bool = False) -> bytes:
    """Compact JSON of ``value`` in UTF-8, which :func:`loads` reads back as it was; ``plain`` as for
    :func:`canonical`."""
    if plain:
        try:
            return orjson.dumps(value)
        except orjson.JSONEncodeError:
            pass
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def loads(data: str | bytes, check: Callable[[Any], bool] = needs_json, foreign: bool = False) -> Any:
    """``json.loads(data, strict=False)``. ``check``: whether what orjson read needs json after all
    (an integer past 64 bits reads as a float; a deep value is json's to refuse). It looks at the whole
    value by default; a caller that knows where floats and depth may be can say so, more cheaply.
    ``foreign``: the text is a site's, and what json reads that JSON cannot hold is made JSON
    (:func:`as_json`); what orjson reads never needs it."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        if not foreign:
            return json.loads(data, strict=False)
        return as_json(json.loads(data, strict=False, parse_int=_integer))
    return json.loads(data, strict=False) if check(value) else value


def _integer(digits: str) -> int | float:
    """A JSON integer as Python reads it; past the digits Python converts (4,300), the float it stands for
    (infinity, which :func:`as_json` makes null, as a number past a float's range is), rather than a
    ValueError that would take the number's whole block for no JSON."""
    try:
        return int(digits)
    except ValueError:
        return float(digits)


def as_json(value: Any) -> Any:
    """``value`` as JSON can hold it: what Python's json reads and JSON cannot (NaN and the infinities,
    which a number past a float's range reads as, and a lone surrogate such as ``"\\ud800"``, which no
    UTF-8 text holds) as null and U+FFFD."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {as_json(key): as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    return value
