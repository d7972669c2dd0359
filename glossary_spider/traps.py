"""Link traps: when following links stops paying, decided from what pages say and from their URLs.

A link trap is an endless supply of URLs (calendars, ``?page=N``, session ids,
relative links that nest, slugs that grow, the same page under ever-new query
values, tag combinations) whose pages add nothing. Hop limits cannot tell one
from a glossary's "next term" chain hundreds of links deep, so :class:`TrapGuard`
judges each fetched page and lets the URLs of one *family* grow only as fast as
their pages prove to be real content:

- a family is a URL template: the host, the first path segment, the other
  segments classed as number / id / word, and the query's keys
  (:func:`url_family`);
- a page *proves itself* (:class:`Verdict.novel`) when it has text of its own: at
  least ``GLOSSARY_TRAP_MIN_WORDS`` words, not a near-duplicate (word-bigram
  Jaccard at least ``GLOSSARY_TRAP_SIMILARITY``) of the page that linked to it
  or of the family's recent pages, not the exact text of another URL, and no
  ``rel=canonical`` pointing elsewhere (to another path: the same one on another
  scheme or host, https for http, www or not, production for a staging mirror,
  or under another query, is the page's own; its variants under ever-new
  queries have the same text, or nearly);
- URLs linked from pages that proved themselves (or from sitemap entries and
  start URLs) may be requested ``GLOSSARY_TRAP_BUDGET`` per family, plus
  ``GLOSSARY_TRAP_GROWTH`` more for every page of the family that proved itself
  and one more for every page too short to prove itself but no copy either;
  the rest wait until the family's pages earn them, and are dropped once every
  request of the family is answered without earning them;
- URLs linked from pages that did not prove themselves get a fixed
  ``GLOSSARY_TRAP_BUDGET`` per family, and none after ``GLOSSARY_TRAP_CHAIN``
  such pages in a row along one chain of links;
- paths that repeat a segment (relative links nesting) or run deeper than
  ``GLOSSARY_MAX_PATH_SEGMENTS`` are never requested.

Sitemap entries, start URLs and the pages a refresh re-fetches are trusted: they
are never refused, and their text counts towards their family's budget.
Each trap is reported once, by :meth:`TrapGuard.report`, as a :class:`Trap`.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from scrapy.exceptions import IgnoreRequest

from glossary_spider.sketches import PageReading, similarity
from glossary_spider.urls import path_depth, path_of

# Path segments that are ids rather than words: long hex, UUIDs, long runs mixing letters and digits.
_ID_SEGMENT = re.compile(r"^(?:[0-9a-f]{12,}|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
                         r"|(?=[a-z]*\d)(?=\d*[a-z])[0-9a-z]{16,})$", re.IGNORECASE)
RECENT_PER_FAMILY = 8
REMEMBERED_PAGES = 4096
HELD_PER_FAMILY = 10_000

# Trap kinds, as their crawl_errors rows name them.
NESTED = "nested path"
TOO_DEEP = "path too deep"
DUPLICATES = "pages that add nothing"
CHAIN = "chain of pages that add nothing"
KINDS = (NESTED, TOO_DEEP, DUPLICATES, CHAIN)
# How the detail of a family cut whole, its URLs waiting unearned, ends (TrapGuard.release).
NOT_REQUESTED = "more URLs not requested"


class LinkTrap(IgnoreRequest):
    """A request dropped because its URL belongs to a link trap that was cut."""


@dataclass
class Trap:
    """One link trap cut: its kind, the family of URLs it is made of, and an example URL."""

    kind: str
    family: str
    example: str
    detail: str
    dropped: list[str] = field(default_factory=list)  # URLs of the family that were waiting, never requested

    @property
    def error(self) -> str:
        return f"link trap: {self.kind}; no more followed"

    @property
    def whole(self) -> bool:
        """Whether its family requests no more URLs at all (its URLs waiting for the family to earn them could not
        be, :meth:`TrapGuard.release`), not only none linked from pages without text of their own."""
        return self.kind == DUPLICATES and self.detail.endswith(NOT_REQUESTED)

    @classmethod
    def recorded(cls, example: str, error: str, detail: str | None) -> Trap | None:
        """The trap a run recorded as a failure of ``example`` with :attr:`error` and ``detail`` (its family
        given by :meth:`TrapGuard.carry_on`); None for another error."""
        kind = error.removeprefix("link trap: ").removesuffix("; no more followed")
        return cls(kind, "", example, detail or "") if kind in KINDS and kind != error else None


@dataclass
class Verdict:
    """What a fetched page says about the links it leads to."""

    novel: bool
    reason: str  # why it is not novel, or "novel"
    run: int  # pages in a row, along its chain of links, that were not novel (0 if this one is)


@dataclass
class _Family:
    novel: int = 0
    thin: int = 0  # pages with text of their own, but too little to prove much
    judged: int = 0
    proven_requests: int = 0  # requests for URLs linked from novel or trusted pages
    unproven_requests: int = 0  # requests for URLs linked from pages that were not novel
    outstanding: int = 0
    held: deque[tuple[str, dict[str, Any]]] = field(default_factory=deque)
    recent: deque[frozenset[int]] = field(default_factory=lambda: deque(maxlen=RECENT_PER_FAMILY))
    cut: bool = False


def url_family(url: str) -> str:
    """The template a URL shares with the other pages of its kind: the host, the first
    path segment, the other segments classed as ``N`` (a number), ``ID`` or ``W`` (a
    word), and the query's keys."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    shape = [segments[0] if segments else ""]
    shape += ["N" if s.isdigit() else "ID" if _ID_SEGMENT.match(s) else "W" for s in segments[1:]]
    keys = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return parts.netloc + "/" + "/".join(shape) + ("?" + "&".join(keys) if keys else "")


def nested(url: str) -> str | None:
    """Where a path that repeats a segment other than a number (``/x/a/b/a/``: relative links
    nesting) starts nesting (``host/x/a``), or None if it does not."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    seen: dict[str, int] = {}
    for i, segment in enumerate(segments):
        key = segment.lower()
        if key in seen and not segment.isdigit():
            return parts.netloc + "/" + "/".join(segments[:seen[key] + 1])
        seen[key] = i
    return None


def _prefix(url: str, segments: int) -> str:
    parts = urlsplit(url)
    return parts.netloc + "/" + "/".join([s for s in parts.path.split("/") if s][:segments])


class TrapGuard:
    """Decides which discovered URLs a crawl requests; one per crawl (see the module's docstring)."""

    def __init__(self, budget: int = 20, growth: int = 10, chain: int = 6, min_words: int = 20,
                 similar: float = 0.8, max_segments: int = 12):
        self.budget = budget
        self.growth = growth
        self.chain = chain
        self.min_words = min_words
        self.similar = similar
        self.max_segments = max_segments
        self.families: dict[str, _Family] = {}
        self.texts: set[bytes] = set()
        self.sketches: OrderedDict[str, frozenset[int]] = OrderedDict()
        self.cut: dict[str, Trap] = {}
        self.unreported: list[Trap] = []

    @classmethod
    def from_settings(cls, settings: Any) -> TrapGuard:
        return cls(
            budget=settings.getint("GLOSSARY_TRAP_BUDGET", 20),
            growth=settings.getint("GLOSSARY_TRAP_GROWTH", 10),
            chain=settings.getint("GLOSSARY_TRAP_CHAIN", 6),
            min_words=settings.getint("GLOSSARY_TRAP_MIN_WORDS", 20),
            similar=settings.getfloat("GLOSSARY_TRAP_SIMILARITY", 0.8),
            max_segments=settings.getint("GLOSSARY_MAX_PATH_SEGMENTS", 12),
        )

    def family(self, name: str) -> _Family:
        if name not in self.families:
            self.families[name] = _Family()
        return self.families[name]

    # -- pages ------------------------------------------------------------------------------

    def judge(self, url: str, page: PageReading, meta: dict[str, Any]) -> Verdict:
        """Judge a fetched page by its :func:`read_page`; call once per page that answered with HTML."""
        family = self.family(meta.get("trap_family") or url_family(url))
        own, digest, canonical = frozenset(page.sketch), page.digest, page.canonical
        parent = self.sketches.get(meta.get("trap_parent") or "")
        thin = False
        if digest in self.texts:
            reason = "the same text as another URL"
        # Another scheme, host or query is no elsewhere: the text checks above and below find the variants of a page.
        elif canonical and path_of(canonical) != path_of(url):
            reason = f"its canonical URL is {canonical}"
        elif any(similarity(own, other) >= self.similar for other in [*family.recent, *filter(None, [parent])]):
            reason = "a near-duplicate of a page before it"
        elif thin := page.words < self.min_words:
            reason = f"only {page.words} words"
        else:
            reason = "novel"
        self.texts.add(digest)
        self.sketches[url] = own
        if len(self.sketches) > REMEMBERED_PAGES:
            self.sketches.popitem(last=False)
        family.recent.append(own)
        family.judged += 1
        novel = reason == "novel"
        family.novel += novel
        family.thin += thin
        trusted = meta.get("start") or meta.get("listed")
        run = 0 if novel or trusted else meta.get("trap_run", 0) + 1
        return Verdict(novel or bool(trusted), reason, run)

    def credit(self, pages: Iterable[tuple[str, int]]) -> None:
        """Start from what a stopped run fetched, when it is resumed: each of its pages (URL, words)
        counts for its family as a page judged, one with text of its own when it has ``min_words``
        words. A family would otherwise start from nothing, with the budget a new crawl gives it, and the
        links still to follow cut as a trap that the stopped run's pages had long earned."""
        for url, words in pages:
            family = self.family(url_family(url))
            family.judged += 1
            if (words or 0) >= self.min_words:
                family.novel += 1
            else:
                family.thin += 1

    def carry_on(self, traps: Iterable[Trap]) -> None:
        """Start from the traps a stopped run cut (:meth:`Trap.recorded`), when it is resumed, after
        :meth:`credit`: none is reported again, and each stays cut. A family cut for its pages without text
        of their own requests no more URLs linked from such pages, and none at all where it was cut whole
        (:attr:`Trap.whole`) or no page of it the stopped run fetched had text of its own."""
        for trap in traps:
            if trap.kind == NESTED:
                trap.family = nested(trap.example) or trap.example
            elif trap.kind == TOO_DEEP:
                trap.family = _prefix(trap.example, self.max_segments)
            else:
                trap.family = url_family(trap.example)
            self.cut[trap.family] = trap
            if trap.kind == DUPLICATES:
                family = self.family(trap.family)
                family.unproven_requests = self.budget
                family.cut = trap.whole or family.novel == 0

    def answered(self, meta: dict[str, Any]) -> None:
        """A request the guard let through was answered (or failed): call once for each."""
        if name := meta.get("trap_family"):
            family = self.family(name)
            family.outstanding = max(0, family.outstanding - 1)

    # -- links ------------------------------------------------------------------------------

    def admit(self, url: str, parent: str | None, verdict: Verdict | None) -> dict[str, Any] | None:
        """The meta for a request of ``url`` found on ``parent``, or None if it is not requested now.

        A URL that must wait for its family to earn it is held; :meth:`release` gives it back.
        """
        name = url_family(url)
        family = self.family(name)
        if family.cut:
            return None
        if root := nested(url):
            self._cut(NESTED, root, url, "the path repeats a segment", whole=False)
            return None
        if (depth := path_depth(url)) > self.max_segments:
            self._cut(TOO_DEEP, _prefix(url, self.max_segments), url,
                      f"{depth} path segments, more than {self.max_segments}", whole=False)
            return None
        meta: dict[str, Any] = {"trap_family": name, "trap_parent": parent, "trap_run": 0}
        if verdict is not None and not verdict.novel:
            # Refuse this link; the family's pages that proved themselves keep theirs.
            if verdict.run > self.chain:
                self._cut(CHAIN, name, url, f"{verdict.run} pages in a row without text of their own",
                          whole=False)
                return None
            if family.unproven_requests >= self.budget:
                self._cut(DUPLICATES, name, url, f"{self.budget} URLs requested from links on pages "
                                                 "without text of their own", whole=family.novel == 0)
                return None
            family.unproven_requests += 1
            family.outstanding += 1
            return {**meta, "trap_run": verdict.run}
        if family.proven_requests >= self.allowance(family):
            if len(family.held) < HELD_PER_FAMILY:
                family.held.append((url, meta))
            return None
        family.proven_requests += 1
        family.outstanding += 1
        return meta

    def refuses(self, url: str) -> bool:
        """Whether ``url`` will never be requested (rather than held until its family earns it)."""
        family = self.families.get(url_family(url))
        return (family is not None and family.cut) or bool(nested(url)) or path_depth(url) > self.max_segments

    def allowance(self, family: _Family) -> int:
        return self.budget + self.growth * family.novel + family.thin

    def release(self, idle: bool = False) -> Iterable[tuple[str, dict[str, Any]]]:
        """Held URLs their families have now earned; families that cannot earn theirs are cut.

        ``idle``: nothing is in flight, so no answer can still earn anything.
        """
        for name, family in self.families.items():
            if idle:
                family.outstanding = 0  # a request a middleware dropped is never answered
            if not family.held or family.cut:
                continue
            while family.held and family.proven_requests < self.allowance(family):
                family.proven_requests += 1
                family.outstanding += 1
                yield family.held.popleft()
            if family.held and (idle or family.outstanding == 0):
                self._cut(DUPLICATES, name, family.held[0][0], self._detail(family))

    def _detail(self, family: _Family) -> str:
        return (f"{family.judged} pages fetched, {family.novel} with text of their own; "
                f"{len(family.held)} {NOT_REQUESTED}")

    def _cut(self, kind: str, name: str, example: str, detail: str, whole: bool = True) -> None:
        """Report a trap once per family; ``whole``: request no more URLs of the family."""
        dropped = []
        if whole:
            family = self.family(name)
            family.cut = True
            dropped = [url for url, _ in family.held]
            family.held.clear()
        if name not in self.cut:
            trap = Trap(kind, name, example, detail, dropped)
            self.cut[name] = trap
            self.unreported.append(trap)

    def report(self) -> list[Trap]:
        """Traps cut since the last call, each reported once."""
        traps, self.unreported = self.unreported, []
        return traps
