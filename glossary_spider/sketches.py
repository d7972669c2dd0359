"""What the trap guard (:mod:`glossary_spider.traps`) compares of a page: its words, a sketch of
their bigrams, and a digest of its text, read from its extracted record.

Apart from the guard, and from Scrapy, because extraction workers read pages too (importing Scrapy
would cost each of them, and each reparse, a fifth of a second).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"\w+", re.UNICODE)
_DIGITS = re.compile(r"\d+")
SKETCH_SIZE = 64


def page_text(record: dict[str, Any]) -> str:
    """What a page says, for comparing pages: its title, text, and the anchors and summaries of its links."""
    links = " ".join(f"{link.get('anchor_text') or ''} {link.get('summary') or ''}" for link in record["links"])
    return f"{record.get('title') or ''}\n{record.get('body_text') or ''}\n{links}"


@dataclass(frozen=True)
class PageReading:
    """What the guard compares of a page (:func:`read_page`): small, and made where the page was
    extracted (an extraction worker), so that Scrapy's loop is spared the reading of its text."""

    words: int
    sketch: tuple[int, ...]
    digest: bytes  # of its words, numbers aside: the same text under another URL
    canonical: str | None


def read_page(record: dict[str, Any]) -> PageReading:
    """The words of an extracted page's :func:`page_text`, numbers made 0, as a :class:`PageReading`."""
    # Numbers made 0 in the whole text at once: a run of digits lies within one word (digits are word
    # characters), so this is each word's own, at a third of the cost of a substitution per word.
    words = _WORD.findall(_DIGITS.sub("0", page_text(record).lower()))
    return PageReading(len(words), sketch(words), hashlib.blake2b(" ".join(words).encode(), digest_size=12).digest(),
                       record.get("canonical_url"))


def sketch(words: list[str]) -> tuple[int, ...]:
    """A bottom-k sketch of the text's word bigrams: enough to estimate Jaccard similarity. Hashed
    with CRC-32, the same in every process (Python's own string hash is seeded in each)."""
    crc32 = zlib.crc32
    bigrams = {crc32(f"{a} {b}".encode()) for a, b in zip(words, words[1:])} or {crc32(" ".join(words).encode())}
    return tuple(sorted(bigrams)[:SKETCH_SIZE])


def similarity(a: frozenset[int], b: frozenset[int]) -> float:
    """Jaccard similarity of the two texts, estimated from their sketches (as sets): the share of the
    ``SKETCH_SIZE`` smallest hashes of both that each holds. A hash both hold is among those smallest where it is
    no greater than the last of them, which is looked for only where they share some (most pages share none)."""
    both = a & b
    union = min(SKETCH_SIZE, len(a) + len(b) - len(both))
    if not union:
        return 1.0
    if not both:
        return 0.0
    last = sorted(a | b)[union - 1]
    return sum(1 for h in both if h <= last) / union
