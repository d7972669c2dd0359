"""HTML, markdown, JSON-LD and XML of the replica's pages.

Three themes render the same document, as WordPress sites do after a theme
change: ``classic`` (``article > .entry-content``), ``block`` (``main`` with
``.wp-block-post-content`` and no ``<article>``) and ``plain`` (hand-made ``div``
layout with no semantic elements at all).
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import Any

from glossary_spider.replica import seed_page

SITE = "Greeks.live"
NAV = (("/", "Home"), ("/category/definition/", "Definitions"), ("/category/term/", "Terms"), ("/about/", "About"))


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def render(doc: dict[str, Any]) -> str:
    theme = {"classic": _classic, "block": _block, "plain": _plain}[doc["theme"]]
    return "<!DOCTYPE html>\n" + theme(doc)


# -- page parts shared by the themes ----------------------------------------------------------


def _head(doc: dict[str, Any]) -> str:
    base, path, version = doc["base"], doc["path"], doc["asset_version"]
    suffix = f" ⎊ Area ⎊ {SITE}" if doc["kind"] == "area" else f" ⎊ {SITE}"
    parts = [
        f'<meta charset="{doc["charset"]}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(doc['h1'] + suffix)}</title>",
        f'<link rel="stylesheet" href="/wp-content/themes/{doc["theme"]}/style.css?ver=6.{version}">',
        f'<script src="/wp-includes/js/site.min.js?ver=6.{version}"></script>',
        f'<link rel="canonical" href="{base}{path}">',
        f'<meta property="og:title" content="{esc(doc["h1"])}">',
        f'<meta property="og:url" content="{base}{path}">',
        f'<meta property="og:site_name" content="{SITE}">',
    ]
    if doc["kind"] != "other":
        parts.append(f'<link rel="alternate" type="text/markdown" href="{base}{path[:-1]}.md">')
    if doc["description"]:
        parts.append(f'<meta name="description" content="{esc(doc["description"])}">')
        parts.append(f'<meta property="og:description" content="{esc(doc["description"])}">')
    if doc["meta"]:
        parts.append('<meta property="og:type" content="article">')
        parts.append(f'<meta property="article:published_time" content="{doc["meta"]["published"].isoformat()}">')
    for block in doc["jsonld"]:
        parts.append(f'<script type="application/ld+json">{block}</script>')
    parts.append(f"<style>body{{font-family:sans-serif}} .v{version}{{}}</style>")
    return "<head>\n" + "\n".join(parts) + "\n</head>"


def _sidebar_items(doc: dict[str, Any]) -> str:
    return "".join(f'<li><a href="{path}">{esc(title)}</a></li>' for path, title in doc["sidebar"])


def _nav_links(sep: str = "") -> str:
    return sep.join(f'<a href="{href}">{text}</a>' for href, text in NAV)


def _date(moment: datetime) -> str:
    return f"{moment:%B} {moment.day}, {moment.year}"


def _blocks(doc: dict[str, Any], style: str) -> str:
    out = []
    for block in doc["blocks"]:
        kind = block[0]
        if kind == "h2":
            cls = ' class="wp-block-heading"' if style == "block" else ""
            out.append(f"<h2{cls}>{esc(block[1])}</h2>")
        elif kind == "p":
            out.append(f"<p>{block[1]}</p>")
        elif kind == "quote":
            out.append(f'<blockquote class="wp-block-quote"><p>{block[1]}</p></blockquote>')
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{item}</li>" for item in block[1]) + "</ul>")
        elif kind == "img":
            img = f'<img src="{block[1]}" alt="{esc(block[2])}" width="1200" height="675">'
            out.append(f"<p>{img}</p>" if style == "plain" else f'<figure class="wp-block-image">{img}</figure>')
        elif kind == "related":
            cls = {"classic": "related-posts", "block": "wp-block-list", "plain": "links"}[style]
            items = "".join(f'<li><a href="{href}">{esc(text)}</a></li>' for href, text in block[1])
            out.append(f'<ul class="{cls}">{items}</ul>')
        elif kind == "glossary":
            out.append(_glossary(block[1], style))
        elif kind == "discover":
            out.append(_discover(block[1], style))
        elif kind == "listing":
            out.append(_listing(block[1], style))
        elif kind == "pager":
            out.append(_pager(block[1], style))
    return "\n".join(out)


def _item_heading(style: str, level: int, href: str, text: str) -> str:
    tag = f"h{level + 1}" if style == "plain" else f"h{level}"
    return f'<{tag}><a href="{href}">{esc(text)}</a></{tag}>'


def _glossary(items: list[tuple], style: str) -> str:
    body = "".join(
        f'<div class="glossary-item">{_item_heading(style, 3, href, title)}<p>{esc(line)}</p></div>'
        if style == "classic"
        else f"{_item_heading(style, 3, href, title)}<p>{esc(line)}</p>"
        for href, title, line in items
    )
    if style == "classic":
        return f'<section class="glossary"><h2>Glossary</h2>{body}</section>'
    return f'<div class="wp-block-group"><h2>Glossary</h2>{body}</div>'


def _discover(items: list[tuple], style: str) -> str:
    body = "".join(
        f'<div class="discover-item">{_item_heading(style, 3, href, title)}'
        f'<figure><img src="{img}" alt="{esc(alt)}"></figure><p>Meaning ⎊ {esc(meaning)}</p></div>'
        for href, title, img, alt, meaning in items
    )
    heading = "<h2>Discover More</h2>" if style != "block" else '<h2 class="wp-block-heading">Discover More</h2>'
    return f'<section class="discover-more">{heading}{body}</section>'


def _listing(items: list[tuple], style: str) -> str:
    def meaning(text: str | None) -> str:
        return f"<p>Meaning ⎊ {esc(text)}</p>" if text else ""

    if style == "block":
        lis = "".join(
            f'<li><h3 class="wp-block-post-title"><a href="{href}">{esc(title)}</a></h3>'
            f'<div class="wp-block-post-excerpt">{meaning(text)}</div></li>'
            for href, title, text in items
        )
        return f'<ul class="wp-block-post-template">{lis}</ul>'
    return "".join(
        f'<div class="post-item">{_item_heading(style, 2, href, title)}{meaning(text)}</div>'
        for href, title, text in items
    )


def _pager(links: list[tuple], style: str) -> str:
    if style == "classic":
        anchors = "".join(f'<a class="{rel} page-numbers" rel="{rel}" href="{href}">{text}</a>' for href, text, rel in links)
        return f'<nav class="navigation pagination" aria-label="Posts">{anchors}</nav>'
    if style == "block":
        anchors = "".join(f'<a class="wp-block-query-pagination-{rel}" href="{href}">{text}</a>' for href, text, rel in links)
        return f'<div class="wp-block-query-pagination">{anchors}</div>'
    return "<p>" + " | ".join(f'<a href="{href}">{text}</a>' for href, text, _ in links) + "</p>"


def _meta(doc: dict[str, Any], style: str) -> str:
    meta = doc["meta"]
    if not meta:
        return ""
    when, category = meta["published"], meta["category"]
    cat_href = f"/category/{category.lower()}/"
    if style == "classic":
        return (
            '<div class="entry-meta">'
            f'<span class="posted-on">Published: <time class="entry-date published" datetime="{when.isoformat()}">'
            f"{_date(when)}</time></span> "
            f'<span class="byline">Author: <a class="url fn n" rel="author" href="/author/greeks-live/">{meta["author"]}</a></span> '
            f'<span class="cat-links">Categories: <a href="{cat_href}" rel="category tag">{category}</a></span></div>'
        )
    if style == "block":
        return (
            '<div class="wp-block-group post-meta">'
            f'<div class="wp-block-post-date"><time datetime="{when.isoformat()}">{when.date().isoformat()}</time></div>'
            f'<div class="wp-block-post-author-name"><a rel="author" href="/author/greeks-live/">{meta["author"]}</a></div>'
            f'<div class="taxonomy-category wp-block-post-terms"><a href="{cat_href}" rel="tag">{category}</a></div></div>'
        )
    return f'<p class="meta">Published: {when.date().isoformat()} · Author: {meta["author"]} · Categories: {category}</p>'


# -- the themes ----------------------------------------------------------------------------------


def _classic(doc: dict[str, Any]) -> str:
    nav = "".join(f"<li>{a}</li>" for a in _nav_links("|").split("|"))
    return f"""<html lang="en-US">
{_head(doc)}
<body class="single">
<header id="masthead" class="site-header"><p class="site-title"><a href="/">{SITE}</a></p>
<nav class="main-navigation" aria-label="Primary"><ul>{nav}</ul></nav></header>
<div id="primary" class="content-area"><main id="main" class="site-main">
<article class="post type-post status-publish">
<header class="entry-header"><h1 class="entry-title">{esc(doc["h1"])}</h1>
{_meta(doc, "classic")}</header>
<div class="entry-content">
{_blocks(doc, "classic")}
</div>
</article>
</main>
<aside id="secondary" class="widget-area"><section class="widget"><h2 class="widget-title">Recent Posts</h2>
<ul>{_sidebar_items(doc)}</ul></section></aside>
</div>
<footer id="colophon" class="site-footer"><p>© 2026 {SITE} · <a href="/about/">About</a></p></footer>
</body>
</html>
"""


def _block(doc: dict[str, Any]) -> str:
    return f"""<html lang="en-US">
{_head(doc)}
<body class="wp-site-blocks">
<div class="wp-block-template-part"><div class="wp-block-group site-header">
<p class="wp-block-site-title"><a href="/">{SITE}</a></p>
<div class="wp-block-navigation" role="navigation">{_nav_links(" ")}</div></div></div>
<main class="wp-block-group">
<h1 class="wp-block-post-title">{esc(doc["h1"])}</h1>
{_meta(doc, "block")}
<div class="entry-content wp-block-post-content">
{_blocks(doc, "block")}
</div>
</main>
<div class="wp-block-template-part"><div class="wp-block-group sidebar"><h2>Recent Posts</h2>
<ul class="wp-block-latest-posts">{_sidebar_items(doc)}</ul></div></div>
<div class="wp-block-template-part site-footer"><p>© 2026 {SITE}</p><p><a href="/about/">About</a></p></div>
</body>
</html>
"""


def _plain(doc: dict[str, Any]) -> str:
    return f"""<html lang="en">
{_head(doc)}
<body>
<div id="top"><b>{SITE}</b> {_nav_links(" | ")}</div>
<div id="content">
<h1>{esc(doc["h1"])}</h1>
{_meta(doc, "plain")}
{_blocks(doc, "plain")}
</div>
<div id="side"><h3>Recent</h3><ul>{_sidebar_items(doc)}</ul></div>
<div id="bottom">© 2026 {SITE} · <a href="/about/">About</a></div>
</body>
</html>
"""


def not_found(base: str) -> bytes:
    return (
        f'<!DOCTYPE html><html lang="en-US"><head><title>Page not found ⎊ {SITE}</title></head>'
        f'<body><h1>Page not found</h1><p><a href="{base}/">Home</a></p></body></html>'
    ).encode()


def markdown(doc: dict[str, Any]) -> str:
    """The markdown copy every page has at its path plus ``.md``."""
    lines = [f"# {doc['h1']}", ""]
    for block in doc["blocks"]:
        if block[0] == "h2":
            lines += [f"## {block[1]}", ""]
        elif block[0] in ("p", "quote"):
            lines += [html.unescape(block[1]), ""]
        elif block[0] in ("related", "listing"):
            lines += [f"- [{item[1]}]({doc['base']}{item[0]})" for item in block[1]] + [""]
    lines.append(f"**Original URL:** {doc['base']}{doc['path']}")
    return "\n".join(lines) + "\n"


# -- JSON-LD -------------------------------------------------------------------------------------


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=4)


def breadcrumbs(base: str, trail: list[tuple[str, str]], as_node: bool = False) -> Any:
    data = {
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": i, "name": name, "item": base + path}
            for i, (name, path) in enumerate(trail, 1)
        ],
    }
    return data if as_node else _dumps({"@context": "https://schema.org", **data})


def post_jsonld(post: Any, label: str, description: str, modified: datetime, base: str, style: str) -> list[str]:
    url = base + post.path
    image = seed_page.SEED["image"] if post.path == seed_page.PATH else f"/wp-content/uploads/2025/12/{post.slug}.jpg"
    caption = seed_page.SEED["image_caption"] if post.path == seed_page.PATH else f"An illustration of {post.title}."
    trail = [("Home", "/"), (label, f"/{post.kind}/"), (post.title, post.path)]
    article = {
        "@type": "Article",
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "headline": f"{post.title} ⎊ {label}",
        "description": description,
        "url": url,
        "author": {"@type": "Person", "name": SITE, "url": f"{base}/author/greeks-live/"},
        "datePublished": post.published.isoformat(),
        "dateModified": modified.isoformat(),
        "publisher": {"@type": "Organization", "name": SITE},
        "articleSection": [label],
        "image": {"@type": "ImageObject", "url": base + image, "caption": caption},
    }
    if style == "graph":
        graph = [
            {"@type": "WebPage", "@id": url, "url": url, "name": article["headline"],
             "breadcrumb": {"@id": url + "#breadcrumb"}},
            {**article, "@id": url + "#article", "isPartOf": {"@id": url}},
            {**breadcrumbs(base, trail, as_node=True), "@id": url + "#breadcrumb"},
            {"@type": "Organization", "@id": base + "/#organization", "name": SITE},
        ]
        return [_dumps({"@context": "https://schema.org", "@graph": graph})]
    blocks = [breadcrumbs(base, trail), _dumps({"@context": "https://schema.org", **article})]
    if style == "broken":
        # A malformed block (a missing comma) and an empty one beside the good blocks.
        blocks.insert(1, '{"@context": "https://schema.org", "@type": "Article" "headline": "unfinished')
        blocks.append("")
    return blocks


def area_jsonld(area: Any, facets: list[tuple[str, str]], base: str) -> list[str]:
    faq = {
        "@context": "https://schema.org",
        "@type": "FAQPage",
        "url": base + area.path,
        "mainEntity": [
            {"@type": "Question", "name": f"What is the {facet} of {area.title}?",
             "acceptedAnswer": {"@type": "Answer", "text": text}}
            for facet, text in facets
        ],
    }
    return [_dumps(faq), breadcrumbs(base, [("Home", "/"), (area.title, area.path)])]


# -- robots.txt and sitemaps ---------------------------------------------------------------------


# How the hostile replica's robots.txt misbehaves (glossary_spider.replica.faults).
ROBOTS_MODES = ("normal", "error", "rate-limited", "huge", "disallow-all", "crawl-delay", "redirect-site", "redirect-away",
                "redirect-loop", "redirect-broken", "redirect-ftp", "brotli", "cut-gzip")
# The malicious replica's modes (replica/attacks.py says what each does).
ATTACK_MODES = ("none", "crawl-delay", "sitemap-chain", "sitemap-wide", "robots-big", "robots-bomb", "robots-slow")


def robots(base: str) -> bytes:
    return (
        "User-agent: *\n"
        "Disallow: /wp-admin/\n"
        "Disallow: /drafts/\n"
        "Allow: /wp-admin/admin-ajax.php\n\n"
        f"Sitemap: {base}/sitemap_index.xml\n"
    ).encode()


def sitemap(root: str, item: str, entries: list[tuple[str, datetime]], base: str) -> bytes:
    rows = "".join(
        f"<{item}><loc>{base}{path}</loc><lastmod>{when.isoformat()}</lastmod></{item}>\n" for path, when in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{root} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{rows}</{root}>\n'
    ).encode()
