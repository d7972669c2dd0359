"""A deterministic replica of the glossary site, shaped like term.greeks.live.

:class:`ReplicaSite` holds the site's model (posts, areas, area resources, the
links between them) and renders any path to a :class:`Reply`. The same
arguments always give the same site, byte for byte. ``generation`` moves the
site forward in time: each generation edits the text of some pages, touches
only the template of others, adds pages and deletes pages.

The model also says what each page holds (:meth:`ReplicaSite.truth`), so tests
can check the archive against the site rather than against the extractor.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from collections import OrderedDict
from collections.abc import Callable
from functools import cached_property
from typing import Any

from glossary_spider.replica import seed_page, themes, words

FACETS = ("Context", "Risk", "Strategy", "Model", "Analysis", "Mechanism", "Application")
TERM_SECTIONS = ("Essence", "Origin", "Theory", "Approach", "Evolution", "Horizon")
POSTS_PER_CATEGORY_PAGE = 20
URLS_PER_SITEMAP = 1000
THEMES = ("classic", "block", "plain")
# Bodies of rendered pages kept in memory: all of a 5,000-page site (about 13 KB a page).
RENDER_CACHE_BYTES = 128 * 1024 * 1024
_EPOCH = datetime(2025, 12, 1, tzinfo=timezone.utc)
_GENERATION_EPOCH = datetime(2026, 5, 1, 9, tzinfo=timezone.utc)


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None

    @cached_property
    def etag(self) -> str:
        return etag(self.body)

    @cached_property
    def last_modified_http(self) -> str | None:
        return http_date(self.last_modified) if self.last_modified else None


class RenderCache:
    """Rendered replies by their arguments, the least recently used dropped past ``budget`` bytes of
    bodies: a site served again is served from memory, as a static file server serves its files."""

    def __init__(self, render: Callable[[str, str], Reply], budget: int):
        self._render = render
        self._budget = budget
        self._size = 0
        self._replies: OrderedDict[tuple[str, str], Reply] = OrderedDict()

    def __call__(self, path: str, base: str) -> Reply:
        key = (path, base)
        reply = self._replies.get(key)
        if reply is not None:
            self._replies.move_to_end(key)
            return reply
        reply = self._replies[key] = self._render(path, base)
        self._size += len(reply.body)
        while self._size > self._budget and len(self._replies) > 1:
            _, dropped = self._replies.popitem(last=False)
            self._size -= len(dropped.body)
        return reply


@dataclass
class Post:
    kind: str  # "definition" or "term"
    slug: str
    title: str
    meaning: str
    published: datetime
    index: int
    born: int = 1  # the generation it first appears in
    fixed: bool = False  # the seed page and its neighbours: never edited or deleted
    related: list[str] = field(default_factory=list)  # paths
    glossary: list[tuple[str, str, str]] = field(default_factory=list)  # area slug, facet, line
    inline_areas: list[str] = field(default_factory=list)  # area slugs
    discover: list[str] = field(default_factory=list)  # paths
    paragraphs: list[str] | None = None  # fixed text (the seed page)

    @property
    def path(self) -> str:
        return f"/{self.kind}/{self.slug}/"


@dataclass
class Area:
    slug: str
    title: str
    index: int
    facets: list[str]
    posts: list[str] = field(default_factory=list)  # paths
    resources: int = 0

    @property
    def path(self) -> str:
        return f"/area/{self.slug}/"


def _sample_others(rng: random.Random, paths: list[str], own: str, k: int) -> list[str]:
    """``k`` of ``paths`` other than ``own``, without copying the list."""
    return [p for p in rng.sample(paths, k + 1) if p != own][:k]


def _digest(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


# A site is made by replaying each generation's edits: the 1,000th takes a quarter of a second, the 100,000th a
# minute.
MAX_GENERATION = 1000

class ReplicaSite:
    """The replica: ``pages`` glossary pages (definitions, terms, areas, area resources)."""

    def __init__(self, pages: int = 200, generation: int = 1, seed: int = 7, edited_at: datetime | None = None,
                 moved_from: int | None = None):
        """``edited_at`` is when the edits since generation ``moved_from`` happened (a server passes the
        moment it moved to this generation from that one, by default the one before): a site moved on two
        generations at once made both's edits since it was last seen. Without it, each generation's edits
        have a fixed date, for reproducible pages."""
        if pages < 40:
            raise ValueError("the replica needs at least 40 pages")
        if not 1 <= generation <= MAX_GENERATION:
            raise ValueError(f"generation is from 1 to {MAX_GENERATION}")
        self.size = pages
        self.generation = generation
        self.seed = seed
        self.edited_at = edited_at
        self.moved_from = generation - 1 if moved_from is None else moved_from
        self.posts: dict[str, Post] = {}
        self.areas: dict[str, Area] = {}
        self.resource_pages: dict[str, tuple[Area, int]] = {}
        self._post_slugs: set[str] = set()
        self._build()
        self.areas_by_path = {a.path: a for a in self.areas.values()}
        self.render = RenderCache(self._render, RENDER_CACHE_BYTES)

    # -- the model -------------------------------------------------------------------

    def _build(self) -> None:
        rng = random.Random(self.seed)
        n_areas = self.size // 5
        n_resources = self.size * 3 // 20
        n_terms = self.size * 3 // 20
        n_definitions = self.size - n_areas - n_resources - n_terms
        titles = words.TitleMaker(rng)

        for i in range(n_areas):
            title = titles.area()
            slug = words.slugify(title, self.areas)
            self.areas[slug] = Area(slug, title, i, rng.sample(FACETS, 3))

        fixed = seed_page.pages()
        for kind, slug, title, meaning in fixed:
            self._add_post(kind, slug, title, meaning, rng).fixed = True
        for kind, total in (("definition", n_definitions - 2), ("term", n_terms)):
            for _ in range(total - sum(1 for page in fixed if page[0] == kind)):
                title = titles.post()
                # WordPress adds -2 to a repeated title's slug; titles repeat now and then.
                slug = words.slugify(title, self._post_slugs)
                self._add_post(kind, slug, title, words.meaning(title, rng), rng)
        # SITE.md's slug example, and a definition that shares its slug with an area.
        first_area = next(iter(self.areas.values()))
        for title in ("Unrealized P&L", first_area.title):
            self._add_post("definition", words.slugify(title, self._post_slugs), title, words.meaning(title, rng), rng)
        for generation in range(2, self.generation + 1):
            for k in range(max(2, self.size // 50)):
                title = titles.post()
                slug = words.slugify(title, self._post_slugs)
                post = self._add_post("definition", slug, title, words.meaning(title, rng), rng)
                post.born = generation
                post.published = _GENERATION_EPOCH + timedelta(days=generation, minutes=k)

        # Links are drawn from the first generation's posts only, so that later
        # generations add pages without reshuffling the links of existing ones.
        first = [p for p in self.posts.values() if p.born == 1]
        definitions = [p.path for p in first if p.kind == "definition"]
        every_post = [p.path for p in first]
        self.first_generation = every_post
        area_slugs = list(self.areas)
        for post in self.posts.values():
            prng = random.Random(_digest(self.seed, post.slug))
            if not post.related:
                post.related = _sample_others(prng, definitions, post.path, 8)
            if not post.discover:
                post.discover = _sample_others(prng, every_post, post.path, prng.randint(5, 9))
            for slug in prng.sample(area_slugs, prng.randint(0, 3) if post.kind == "definition" else 2):
                facet = prng.choice(self.areas[slug].facets)
                sep = " ⎊ : " if prng.random() < 0.2 else " ⎊ "
                post.glossary.append((slug, facet, f"{facet}{sep}{words.sentence(self.areas[slug].title, prng)}"))
            if post.kind == "term":
                post.inline_areas = prng.sample(area_slugs, min(6, len(area_slugs)))
        # A few related lists point at pages that never existed, as real sites do.
        retiring = (p for p in self.posts.values() if p.kind == "definition" and p.index % 37 == 5 and not p.fixed)
        for k, post in enumerate(retiring):
            post.related[-1] = f"/definition/retired-entry-{k + 1}/"

        for post in first:
            for slug in {s for s, _, _ in post.glossary} | set(post.inline_areas):
                self.areas[slug].posts.append(post.path)
        big_areas = list(self.areas.values())[: max(1, n_areas // 4)]
        for i in range(n_resources):
            area = big_areas[i % len(big_areas)]
            area.resources += 1
            self.resource_pages[f"{area.path}resource/{area.resources}/"] = (area, area.resources)
        for area in self.areas.values():
            if not area.posts:
                arng = random.Random(_digest(self.seed, area.slug))
                area.posts = arng.sample(every_post, 2)

    def _add_post(self, kind: str, slug: str, title: str, meaning: str, rng: random.Random) -> Post:
        published = _EPOCH + timedelta(minutes=rng.randint(0, 150 * 24 * 60))
        post = Post(kind, slug, title, meaning, published, len(self.posts))
        seed = seed_page.SEED
        if slug == seed["slug"]:
            post.published = datetime.fromisoformat(seed["published"])
            post.paragraphs = list(seed["paragraphs"])
            post.related = [f"/definition/{s}/" for s, _ in seed["related"]]
            post.discover = [path for path, _, _ in seed["discover"]]
        self.posts[post.path] = post
        self._post_slugs.add(slug)
        return post

    # -- what changes from one generation to the next ------------------------------------

    def _events(self, path: str, event: str) -> list[int]:
        """The generations (2..current) in which ``event`` happened to ``path``.

        Posts are edited and deleted; any page may have its template touched.
        """
        post = self.posts.get(path)
        if event != "template" and (post is None or post.fixed):
            return []
        rates = {"edit": 12, "template": 12, "delete": 40}
        offset = {"edit": 0, "template": 1, "delete": 2}[event]
        return [
            g
            for g in range(2, self.generation + 1)
            if _digest(self.seed, path, g) % rates[event] == offset
        ]

    def is_live(self, path: str) -> bool:
        post = self.posts.get(path)
        if post is None:
            return path in self.areas_by_path or path in self.resource_pages
        return post.born <= self.generation and not self._events(path, "delete")

    def live_posts(self, kind: str | None = None) -> list[Post]:
        """Live posts, newest first."""
        return [p for p in self._live_posts if kind is None or p.kind == kind]

    @cached_property
    def _live_posts(self) -> list[Post]:
        posts = [p for p in self.posts.values() if self.is_live(p.path)]
        return sorted(posts, key=lambda p: (p.published, p.slug), reverse=True)

    def glossary_paths(self) -> list[str]:
        """Every live glossary page of the current generation."""
        return (
            [p.path for p in self.posts.values() if self.is_live(p.path)]
            + [a.path for a in self.areas.values()]
            + list(self.resource_pages)
        )

    def modified(self, path: str) -> datetime:
        if path == seed_page.PATH:
            return datetime.fromisoformat(seed_page.SEED["modified"])
        post = self.posts.get(path)
        base = post.published if post else _EPOCH + timedelta(days=_digest(self.seed, path) % 120)
        edits = self._events(path, "edit")
        if edits and edits[-1] > self.moved_from and self.edited_at is not None:
            return self.edited_at
        if edits:
            return _GENERATION_EPOCH + timedelta(days=edits[-1], hours=_digest(path) % 8)
        return base + timedelta(minutes=1 + _digest(path) % 30)

    def _template_version(self, path: str) -> int:
        return len(self._events(path, "template"))

    # -- rendering ------------------------------------------------------------------------

    def _render(self, path: str, base: str) -> Reply:
        """The reply for ``path`` on a site served at ``base`` (scheme://host[:port])."""
        if path == "/robots.txt":
            return Reply(200, themes.robots(base), "text/plain; charset=utf-8")
        if path == "/sitemap_index.xml":
            return Reply(200, self._sitemap_index(base), "application/xml; charset=utf-8")
        if path.endswith(".xml") and path.lstrip("/").split("-sitemap")[0] in ("post", "area"):
            body = self._sitemap(path, base)
            return Reply(200, body, "application/xml; charset=utf-8") if body else Reply(404, b"Not Found", "text/plain")
        if path.endswith(".md") and self.is_live(path[:-3] + "/"):
            doc = self.document(path[:-3] + "/", base)
            return Reply(200, themes.markdown(doc).encode(), "text/markdown; charset=utf-8")
        if path.startswith("/definitions/"):
            # An old URL scheme, kept as a permanent redirect.
            return Reply(301, b"", "text/plain", {"Location": base + "/definition/" + path[len("/definitions/"):]})
        if path == "/go/learn/":
            return Reply(302, b"", "text/plain", {"Location": "https://learn.greeks.live/"})
        if not path.endswith("/") and self.is_live(path + "/"):
            return Reply(301, b"", "text/plain", {"Location": base + path + "/"})
        post = self.posts.get(path)
        if post is not None and not self.is_live(path):
            return Reply(410 if _digest(path) % 2 else 404, b"Gone", "text/plain; charset=utf-8")
        try:
            doc = self.document(path, base)
        except KeyError:
            return Reply(404, themes.not_found(base), "text/html; charset=utf-8")
        charset = doc["charset"]
        body = themes.render(doc).encode(charset, "xmlcharrefreplace")
        return Reply(200, body, f"text/html; charset={charset}", last_modified=doc["last_modified"])

    def document(self, path: str, base: str) -> dict[str, Any]:
        """The theme-independent content of a page: its heading, metadata and blocks."""
        if path in self.posts:
            doc = self._post_document(self.posts[path], base)
        elif path in self.areas_by_path:
            doc = self._area_document(self.areas_by_path[path], base)
        elif path in self.resource_pages:
            doc = self._resource_document(*self.resource_pages[path], base)
        else:
            doc = self._other_document(path, base)
        index = _digest(self.seed, path)
        doc.setdefault("theme", THEMES[index % 3])
        doc.setdefault("charset", "windows-1252" if index % 9 == 4 else "utf-8")
        doc.setdefault("jsonld", [])
        doc.setdefault("meta", None)
        doc.setdefault("description", None)
        doc.setdefault("last_modified", self.modified(path))
        doc["base"] = base
        doc["path"] = path
        doc["asset_version"] = self._template_version(path)
        doc["sidebar"] = [(p.path, p.title) for p in self.live_posts()[:5]]
        return doc

    def _post_document(self, post: Post, base: str) -> dict[str, Any]:
        rng = random.Random(_digest(self.seed, "text", post.slug))
        label = "Definition" if post.kind == "definition" else "Term"
        blocks: list[tuple] = []
        if post.kind == "definition":
            blocks.append(("h2", post.title))
            paragraphs = post.paragraphs or [words.paragraph(post.title, rng) for _ in range(rng.randint(2, 7))]
            blocks += [("p", themes.esc(text)) for text in self._edited(post.path, paragraphs)]
            related = [(path, self._title_of(path)) for path in post.related]
            blocks.append(("related", related))
        else:
            blocks.append(("img", f"/wp-content/uploads/2025/12/{post.slug}-hero.webp", words.alt_text(rng)))
            blocks.append(("img", f"/wp-content/uploads/2025/12/{post.slug}-detail.jpg", words.alt_text(rng)))
            areas = iter(post.inline_areas)
            for n, heading in enumerate(TERM_SECTIONS):
                blocks.append(("h2", heading))
                texts = [words.paragraph(post.title, rng) for _ in range(rng.randint(2, 3))]
                if n == 0:
                    texts = self._edited(post.path, texts)
                for text in texts:
                    slug = next(areas, None)
                    blocks.append(("p", self._with_inline_link(text, slug, base)))
                if heading == "Theory":
                    blocks.append(("quote", themes.esc(words.sentence(post.title, rng))))
                if heading == "Approach":
                    blocks.append(("ul", [
                        f"<strong>{themes.esc(lead)}</strong> {themes.esc(words.sentence(post.title, rng))}"
                        for lead in rng.sample(words.LEADS, 3)
                    ]))
                if heading == "Evolution":
                    blocks.append(("img", f"/wp-content/uploads/2026/01/{post.slug}-evolution.webp", words.alt_text(rng)))
        if post.glossary:
            blocks.append(("glossary", [
                (self.areas[slug].path, self.areas[slug].title, line) for slug, _, line in post.glossary
            ]))
        blocks.append(("discover", [
            (path, self._title_of(path), f"/wp-content/uploads/2025/12/{self._slug_of(path)}.webp",
             words.alt_text(random.Random(path)), self._meaning_of(path))
            for path in post.discover
        ]))
        modified = self.modified(post.path)
        description = f"Meaning ⎊ {post.meaning} ⎊ {label}"
        doc = {
            "kind": post.kind,
            "title": post.title,
            "h1": f"{post.title} ⎊ {label}",
            "meta": {"published": post.published, "author": "Greeks.live", "category": label},
            "description": description,
            "blocks": blocks,
            "jsonld": themes.post_jsonld(post, label, description, modified, base, self._jsonld_style(post)),
        }
        if post.path == seed_page.PATH:
            doc["theme"] = "classic"
            doc["charset"] = "utf-8"
        return doc

    def _jsonld_style(self, post: Post) -> str:
        if post.path == seed_page.PATH:
            return "flat"
        if post.index % 31 == 7:
            return "broken"  # a malformed block beside the good ones
        return "graph" if _digest(self.seed, "ld", post.slug) % 2 else "flat"

    def _edited(self, path: str, paragraphs: list[str]) -> list[str]:
        edits = self._events(path, "edit")
        if not edits:
            return paragraphs
        note = " ".join(f"Revised in edition {g} to reflect current market practice." for g in edits)
        return [f"{paragraphs[0]} {note}"] + paragraphs[1:]

    def _with_inline_link(self, text: str, area_slug: str | None, base: str) -> str:
        if area_slug is None:
            return themes.esc(text)
        area = self.areas[area_slug]
        link = f'<a href="{base}{area.path}">{themes.esc(area.title)}</a>'
        return f"{themes.esc(text)} See also {link} ⎊ a related area."

    def _area_document(self, area: Area, base: str) -> dict[str, Any]:
        rng = random.Random(_digest(self.seed, "area", area.slug))
        blocks: list[tuple] = []
        facets = []
        for facet in area.facets:
            text = words.paragraph(area.title, rng)
            facets.append((facet, text))
            # Area paragraphs sometimes open with a stray "⎊ " or ": " (SITE.md).
            stray = rng.choice(["", "", "⎊ ", ": "])
            blocks += [("h2", facet), ("p", themes.esc(stray + text))]
        listing = area.posts[:12]
        blocks.append(("listing", [
            (path, self._title_of(path), self._meaning_of(path) if rng.random() < 0.85 else None)
            for path in listing
        ]))
        if area.resources:
            blocks.append(("pager", [(f"{area.path}resource/1/", "More", "next")]))
        return {
            "kind": "area",
            "title": area.title,
            "h1": area.title,
            "blocks": blocks,
            "description": f"{area.title}: {facets[0][1]}",
            "jsonld": themes.area_jsonld(area, facets, base),
        }

    def _resource_document(self, area: Area, n: int, base: str) -> dict[str, Any]:
        rng = random.Random(_digest(self.seed, "resource", area.slug, n))
        every_post = self.first_generation
        with_summaries = rng.random() < 0.6
        blocks: list[tuple] = []
        for facet in area.facets:
            blocks += [("h2", facet), ("p", themes.esc(words.paragraph(area.title, rng)))]
        listing = rng.sample(every_post, min(len(every_post), rng.randint(20, 25)))
        blocks.append(("listing", [
            (path, self._title_of(path), self._meaning_of(path) if with_summaries else None) for path in listing
        ]))
        pager = []
        if n > 1:
            pager.append((f"{area.path}resource/{n - 1}/" if n > 2 else area.path, "Previous", "prev"))
        if n < area.resources:
            pager.append((f"{area.path}resource/{n + 1}/", "Next", "next"))
        if pager:
            blocks.append(("pager", pager))
        return {
            "kind": "area_resource",
            "title": area.title,
            "h1": f"{area.title} ⎊ Area ⎊ Resource {n}",
            "blocks": blocks,
            "jsonld": [themes.breadcrumbs(base, [("Home", "/"), (area.title, area.path), (f"Resource {n}", f"{area.path}resource/{n}/")])],
        }

    def _other_document(self, path: str, base: str) -> dict[str, Any]:
        if path == "/":
            posts = self.live_posts()[:10]
            some_term = next(p for p in self.posts.values() if p.kind == "term")
            blocks: list[tuple] = [
                ("p", "A glossary of crypto-derivatives vocabulary: definitions, long-form terms and the areas that join them."),
                ("listing", [(p.path, p.title, p.meaning) for p in posts]),
                ("ul", [
                    '<a href="/category/definition/">All definitions</a>',
                    '<a href="/category/term/">All terms</a>',
                    f'<a href="{some_term.path.rstrip("/")}">Featured: {themes.esc(some_term.title)}</a>',
                    '<a href="/drafts/upcoming-terms/">Upcoming terms</a>',
                    f'<a href="/definitions/{self.live_posts("definition")[-1].slug}/">Oldest definition</a>'
                    ' · <a href="/go/learn/">Learn</a>',
                    '<a href="/feed/">Feed</a> · <a href="/tag/options/">Options tag</a> · <a href="/author/greeks-live/">Author</a>',
                    f'<a href="{some_term.path.rstrip("/")}.md">Markdown copy</a> · <a href="/wp-admin/">Admin</a>'
                    ' · <a href="https://learn.greeks.live/courses/">Courses</a>',
                ]),
            ]
            return {"kind": "other", "title": "Greeks.live Glossary", "h1": "Greeks.live Glossary", "blocks": blocks}
        parts = path.strip("/").split("/")
        if len(parts) in (2, 4) and parts[0] == "category" and parts[1] in ("definition", "term"):
            if len(parts) == 4 and (parts[2] != "page" or not (parts[3].isascii() and parts[3].isdigit())):
                raise KeyError(path)
            page = int(parts[3]) if len(parts) == 4 else 1
            posts = self.live_posts(parts[1])
            pages = max(1, -(-len(posts) // POSTS_PER_CATEGORY_PAGE))
            if not 1 <= page <= pages or (len(parts) == 4 and page == 1):
                raise KeyError(path)
            chunk = posts[(page - 1) * POSTS_PER_CATEGORY_PAGE : page * POSTS_PER_CATEGORY_PAGE]
            blocks = [("listing", [(p.path, p.title, p.meaning) for p in chunk])]
            if page < pages:
                blocks.append(("pager", [(f"/category/{parts[1]}/page/{page + 1}/", "Older posts", "next")]))
            label = parts[1].capitalize()
            return {"kind": "other", "title": label, "h1": f"Category: {label}", "blocks": blocks}
        if path == "/about/":
            blocks = [("p", "Greeks.live publishes this glossary for traders of crypto options and futures.")]
            return {"kind": "other", "title": "About", "h1": "About", "blocks": blocks}
        raise KeyError(path)

    def _title_of(self, path: str) -> str:
        if path in self.posts:
            return self.posts[path].title
        return path.strip("/").split("/")[-1].replace("-", " ").title()

    def _slug_of(self, path: str) -> str:
        return path.strip("/").split("/")[-1]

    def _meaning_of(self, path: str) -> str:
        post = self.posts.get(path)
        return post.meaning if post else "A retired entry."

    # -- sitemaps -------------------------------------------------------------------------

    def _sitemap_groups(self) -> dict[str, list[str]]:
        posts = [p.path for p in sorted(self.live_posts(), key=lambda p: p.index)]
        areas = [a.path for a in self.areas.values()]
        groups = {}
        for name, paths in (("post", posts), ("area", areas)):
            for i in range(0, len(paths), URLS_PER_SITEMAP):
                suffix = str(i // URLS_PER_SITEMAP + 1) if i else ""
                groups[f"/{name}-sitemap{suffix}.xml"] = paths[i : i + URLS_PER_SITEMAP]
        return groups

    def sitemap_paths(self) -> list[str]:
        """Every page the sitemaps list."""
        return [path for paths in self._sitemap_groups().values() for path in paths]

    def _sitemap_index(self, base: str) -> bytes:
        entries = [
            (path, max(self.modified(p) for p in paths)) for path, paths in self._sitemap_groups().items()
        ]
        return themes.sitemap("sitemapindex", "sitemap", entries, base)

    def _sitemap(self, path: str, base: str) -> bytes | None:
        paths = self._sitemap_groups().get(path)
        if paths is None:
            return None
        return themes.sitemap("urlset", "url", [(p, self.modified(p)) for p in paths], base)

    # -- what the tests check against ------------------------------------------------------

    def truth(self, path: str) -> dict[str, Any]:
        """What a correct extraction of ``path`` holds, straight from the model."""
        doc = self.document(path, "")
        truth: dict[str, Any] = {"title": doc["title"], "links": {}, "sections": []}
        for block in doc["blocks"]:
            kind = block[0]
            if kind == "h2":
                truth["sections"].append(block[1])
            elif kind in ("related", "glossary", "discover", "listing", "pager"):
                name = {"discover": "discover_more", "pager": "pagination"}.get(kind, kind)
                truth["links"][name] = [item[0] for item in block[1]]
        post = self.posts.get(path)
        if post:
            truth["summary"] = post.meaning
            truth["published"] = post.published.isoformat()
        return truth


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


def etag(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest()[:20] + '"'

