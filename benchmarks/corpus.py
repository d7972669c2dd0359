"""Real pages no one here wrote, with their expected text, and the token-shingle F1 that scores them.

The pages and their expected text come from newspaper4k's test data (MIT licence; see
benchmarks/corpus/SOURCES.md). The score is the one the field's extraction benchmarks use:
the text is cut into tokens, the tokens into overlapping 4-token shingles, and precision
and recall are counted over the shingles shared with the expected text.

    python benchmarks/corpus.py          # every page: ours and trafilatura's F1, page by page
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
SHINGLE = 4
# A CJK ideograph or kana is a word of its own; elsewhere a word is a run of word characters.
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|\w+")


@dataclass(frozen=True)
class Page:
    name: str
    url: str
    html: bytes
    expected: str


def pages(names: list[str] | None = None) -> list[Page]:
    """The corpus pages, all or those named."""
    index = json.loads((CORPUS / "pages.json").read_text())
    chosen = [p for p in index if names is None or p["name"] in names]
    return [
        Page(p["name"], p["url"], gzip.decompress((CORPUS / f"{p['name']}.html.gz").read_bytes()),
             gzip.decompress((CORPUS / f"{p['name']}.txt.gz").read_bytes()).decode("utf-8"))
        for p in chosen
    ]


def shingles(text: str) -> Counter:
    tokens = _TOKEN.findall(text.lower())
    if len(tokens) < SHINGLE:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1))


def f1(got: str, expected: str) -> float:
    """Token-shingle F1 of an extracted text against the expected one (1.0 when both are empty)."""
    ours, truth = shingles(got), shingles(expected)
    if not ours or not truth:
        return float(not ours and not truth)
    shared = sum((ours & truth).values())
    if not shared:
        return 0.0
    precision, recall = shared / sum(ours.values()), shared / sum(truth.values())
    return 2 * precision * recall / (precision + recall)


def ours(page: Page) -> str:
    from glossary_spider.extraction import extract_page

    return extract_page(page.html, page.url).record["body_text"] or ""


def trafilatura_text(page: Page) -> str:
    import trafilatura

    return trafilatura.extract(page.html, url=page.url) or ""


@dataclass
class Score:
    f1: dict[str, float]
    empty: list[str]
    seconds: float

    @property
    def mean(self) -> float:
        return statistics.fmean(self.f1.values())


def score(extract: Callable[[Page], str], corpus: list[Page]) -> Score:
    """Each page's F1, the pages left empty, and the time taken."""
    results, empty, started = {}, [], time.perf_counter()
    for page in corpus:
        text = extract(page)
        results[page.name] = f1(text, page.expected)
        if not text.strip():
            empty.append(page.name)
    return Score(results, empty, time.perf_counter() - started)


def main() -> int:
    corpus = pages()
    mine, theirs = score(ours, corpus), score(trafilatura_text, corpus)
    print("| page | ours | trafilatura |\n| --- | --- | --- |")
    for page in corpus:
        print(f"| {page.name} | {mine.f1[page.name]:.3f} | {theirs.f1[page.name]:.3f} |")
    print(f"| **mean F1 ({len(corpus)} pages)** | **{mine.mean:.3f}** | **{theirs.mean:.3f}** |")
    print(f"empty: ours {mine.empty or 'none'}, trafilatura {theirs.empty or 'none'}")
    print(f"seconds: ours {mine.seconds:.2f}, trafilatura {theirs.seconds:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
