"""Link traps of the hostile replica, and a long chain of real pages that must not be taken for one.

Each trap in :data:`LINK_TRAPS` is an endless family of pages that say next to
nothing of their own; :data:`CHAIN` is a glossary's "next term / previous term"
chain, :data:`CHAIN_LENGTH` pages deep, each page with its own text, listed in no
sitemap. One ordinary term page (:func:`carrier`) links the chain's first page
and every trap's entry.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import parse_qs

from glossary_spider.replica import words

CHAIN_LENGTH = 300
CHAIN = "/term/chain-"  # /term/chain-<n>-<word>/
TAGS = ("alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "lambda")
FILLER = ("This listing is generated for every combination a visitor might ask for; it shows the same "
          "short notice whatever the address says, so a crawler learns nothing new here.")


@dataclass(frozen=True)
class LinkTrap:
    name: str
    entry: str  # the URL a carrier page links to
    prefix: str  # every URL of the trap starts with this
    does: str


LINK_TRAPS = [
    LinkTrap("numbered", "/traps/numbered/page/1/", "/traps/numbered/", "numbered pages, each linking the next"),
    LinkTrap("calendar-query", "/traps/events/?month=2026-11", "/traps/events/",
             "a calendar of ?month= values, each month linking the next and the previous"),
    LinkTrap("session-query", "/traps/shop/?sid=0", "/traps/shop/", "a fresh ?sid= session id on every link"),
    LinkTrap("relative-nest", "/traps/nest/", "/traps/nest/", "a relative link that nests itself, a/ then a/a/ ..."),
    LinkTrap("growing-slug", "/term/grow-alpha/", "/term/grow-", "a slug that grows by a word on every page"),
    LinkTrap("query-echo", "/traps/article/?ref=1", "/traps/article/",
             "the same article under ever-new ?ref= values, each linking two more"),
    LinkTrap("tag-combinations", "/traps/topics/alpha/", "/traps/topics/",
             "tag pages linking every combination with one tag more"),
    LinkTrap("calendar-path", "/traps/diary/2026/11/27/", "/traps/diary/",
             "a day-by-day diary in the path, each day linking the next and the previous"),
]


def carrier(site: Any) -> str:
    """The ordinary page that links the chain and the traps: the site's first term."""
    return next(p.path for p in site.live_posts("term"))


def entry_links() -> str:
    links = [f'<a href="{escape(t.entry)}">{escape(t.does)}</a>' for t in LINK_TRAPS]
    links.append(f'<a href="{chain_path(1)}">The first term of the long chain</a>')
    return '<nav class="link-traps">' + " ".join(links) + "</nav>"


def chain_path(n: int) -> str:
    return f"{CHAIN}{n}-{_word(n)}/"


def _word(n: int) -> str:
    return random.Random(f"chain-{n}").choice(words.FIRST).lower().replace(" ", "-")


def page(title: str, paragraphs: list[str], links: list[tuple[str, str]]) -> bytes:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    nav = " ".join(f'<a href="{escape(href)}">{escape(text)}</a>' for href, text in links)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
        f'<body><article><h1>{escape(title)}</h1><div class="entry-content">{body}</div>'
        f'<nav class="post-navigation">{nav}</nav></article></body></html>'
    ).encode()


def render(path: str, query: str) -> tuple[int, bytes] | None:
    """The status and page for a path of the chain or of a trap, or None if it is neither."""
    args = {k: v[0] for k, v in parse_qs(query).items()}
    if path.startswith(CHAIN):
        return _chain(path)
    if path.startswith("/term/grow-"):
        slug = path.strip("/").split("/")[1]
        grown = f"{slug}-{TAGS[len(slug.split('-')) % len(TAGS)]}"
        return 200, page(f"Grow {slug}", [f"{FILLER} Slug: {slug}."], [(f"/term/{grown}/", "Next")])
    if path.startswith("/traps/numbered/"):
        n = int(path.strip("/").split("/")[-1] or 1)
        return 200, page(f"Page {n}", [FILLER], [(f"/traps/numbered/page/{n + 1}/", "Next page")])
    if path.startswith("/traps/events/"):
        year, month = (int(x) for x in args.get("month", "2026-11").split("-")[:2])
        nxt = f"{year + month // 12}-{month % 12 + 1:02d}"
        prev = f"{year - (month == 1)}-{(month - 2) % 12 + 1:02d}"
        return 200, page(f"Events {year}-{month:02d}", [f"No events in {year}-{month:02d}. {FILLER}"],
                         [(f"/traps/events/?month={nxt}", "Next month"), (f"/traps/events/?month={prev}", "Previous")])
    if path.startswith("/traps/shop/"):
        sid = hashlib.sha1(args.get("sid", "0").encode()).hexdigest()[:20]
        return 200, page("Shop", [FILLER], [(f"/traps/shop/?sid={sid}", "Continue shopping")])
    if path.startswith("/traps/nest/"):
        return 200, page("Nest", [FILLER], [("a/", "Deeper"), ("./a/b/", "Deeper still")])
    if path.startswith("/traps/article/"):
        ref = int(args.get("ref", "1") or 1)
        return 200, page("The article", [FILLER, FILLER], [(f"/traps/article/?ref={2 * ref}", "Share"),
                                                            (f"/traps/article/?ref={2 * ref + 1}", "Share again")])
    if path.startswith("/traps/topics/"):
        tags = path.strip("/").split("/")[2].split("+")
        more = [t for t in TAGS if t not in tags]
        return 200, page(f"Topics: {', '.join(tags)}", [f"Nothing is tagged {' and '.join(tags)} yet. {FILLER}"],
                         [(f"/traps/topics/{'+'.join([*tags, t])}/", t) for t in more])
    if path.startswith("/traps/diary/"):
        y, m, d = (int(x) for x in path.strip("/").split("/")[2:5])
        nd = d % 28 + 1
        nm, ny = (m, y) if nd > 1 else (m % 12 + 1, y + (m == 12))
        links = [(f"/traps/diary/{ny}/{nm}/{nd}/", "Next day"), (f"/traps/diary/{y}/{m}/{max(1, d - 1)}/", "Back")]
        return 200, page(f"Diary {y}-{m}-{d}", [f"Nothing happened on {y}-{m}-{d}. {FILLER}"], links)
    return None


def _chain(path: str) -> tuple[int, bytes]:
    try:
        n = int(path[len(CHAIN):].split("-")[0])
    except ValueError:
        return 404, b"Not Found"
    if not 1 <= n <= CHAIN_LENGTH or path != chain_path(n):
        return 404, b"Not Found"
    rng = random.Random(f"chain-text-{n}")
    title = f"{words.TitleMaker(rng).post()} {n}"
    paragraphs = [words.paragraph(title, rng) for _ in range(4)]
    links = [(chain_path(n - 1), "Previous term")] if n > 1 else []
    if n < CHAIN_LENGTH:
        links.append((chain_path(n + 1), "Next term"))
    return 200, page(title, paragraphs, links)
