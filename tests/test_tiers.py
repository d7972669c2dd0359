"""The two extraction tiers: what the glossary walk reads on layouts it was not written for,
when it doubts itself, and what the general tier (trafilatura) then gives."""

import pytest

from glossary_spider.extraction import extract_page
from glossary_spider.extraction.content import extract_content
from glossary_spider.extraction.page import parse
from glossary_spider.replica import ReplicaSite, themes
from glossary_spider.urls import classify

BASE = "https://term.greeks.live"
URL = f"{BASE}/definition/vega/"
LONG = ("Vega measures how much an option's price moves when implied volatility moves by one point, "
        "and traders size their hedges by it when the market turns. ")


def walk(html: str):
    root, _ = parse(html, URL)
    content, _ = extract_content(root, URL, "definition")
    return content


def page(body: str, head: str = "<title>Vega | Site</title>") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


def test_a_title_inside_an_element_of_unknown_name():
    content = walk(page(f"<main><article-header><heading><h1>Vega</h1></heading></article-header>"
                        f"<div><p>{LONG}</p><p>{LONG}</p></div></main>"))
    assert content.doubt is None
    assert content.blocks == [LONG.strip(), LONG.strip()]


def test_text_written_into_a_div_with_line_breaks():
    content = walk(page(f"<main><h1>Vega</h1><div class='post'>First line. {LONG}<br>Second line, "
                        f"<a href='/term/gamma/'>with a link</a>.<br><br>Another stretch. {LONG}</div></main>"))
    assert content.blocks == [f"First line. {LONG.strip()}\nSecond line, with a link.",
                              f"Another stretch. {LONG.strip()}"]
    assert [link["to_url"] for link in content.links] == [f"{BASE}/term/gamma/"]


def test_short_loose_text_and_link_runs_are_not_body():
    content = walk(page(f"<main><h1>Vega</h1><div>03:29 Now playing</div><div><a href='/a/'>Home</a> › "
                        f"<a href='/b/'>Terms</a></div><p>{LONG}</p></main>"))
    assert content.blocks == [LONG.strip()]


@pytest.mark.parametrize("logo", [
    "<h1><a href='/'><img src='/logo.png' alt='Site'></a></h1>",
    "<h1 id='website-logo'><a href='/node'>Site</a></h1>",
    "<h1><span>Site</span><a href='https://term.greeks.live/'><img src='/globe.gif'></a></h1>",
    "<h1>Greeks.live</h1>",
])
def test_a_logo_h1_is_not_the_title(logo):
    html = page(f"<header>{logo}</header><main><h1>Vega</h1><p>{LONG}</p></main>",
                "<meta property='og:site_name' content='Greeks.live'>")
    record = extract_page(html.encode(), URL).record
    assert record["title"] == "Vega"
    assert record["body_text"] == LONG.strip()


@pytest.mark.parametrize("mark", ["¶", "#", "🔗", "🔗\ufe0e", "\u200b"])
def test_a_heading_with_its_own_permalink_is_the_title_and_keeps_its_words(mark):
    """Sphinx, MkDocs and many themes end each heading with a link to itself ('¶'). The <h1>'s was taken for a
    link home: the <h1> for the site's logo, the page sent to the general tier, its title the <title>'s with
    the site's name, and every heading read "Vega¶"."""
    html = page(f"<main><h1>Vega<a class='headerlink' href='#vega'>{mark}</a></h1><p>{LONG}</p>"
                f"<h2>Hedging <a href='#hedging'>{mark}</a></h2><p>{LONG}</p></main>", "<title>Vega - Docs</title>")
    content = walk(html)
    assert content.doubt is None and content.blocks == [LONG.strip(), "Hedging", LONG.strip()]
    record = extract_page(html.encode(), URL).record
    assert (record["title"], [s["heading"] for s in record["sections"]], record["links"]) == ("Vega", ["Hedging"], [])
    home = html.replace("href='#vega'", "href='/'")  # a link home is the logo's, as before
    assert extract_page(home.encode(), URL).record["title"] == "Vega - Docs"


def test_the_general_tier_drops_a_headings_permalink_too():
    """A changelog of lists goes to the general tier: trafilatura kept each heading's "¶" ("4.2.0¶")."""
    releases = "".join(
        f"<h2>{version}<a class='headerlink' href='#v{version}'>¶</a></h2><ul><li>{LONG}</li><li>{LONG}</li></ul>"
        for version in ("4.2.0", "4.1.1", "4.1.0"))
    html = page(f"<main><h1>Release notes<a class='headerlink' href='#notes'>¶</a></h1><p>What each release "
                f"changed.</p>{releases}</main>", "<title>Release notes</title>")
    assert walk(html).doubt is not None
    record = extract_page(html.encode(), "https://docs.example/changelog.html").record
    assert [section["heading"] for section in record["sections"]] == ["4.2.0", "4.1.1", "4.1.0"]
    assert "¶" not in record["body_text"]


def test_a_heading_that_is_a_link_to_itself_is_a_heading():
    """Docs themes write each heading as its own anchor (<h2 id=x><a href="#x">…</a></h2>): off the glossary's
    posts, a heading that is one link was taken for a listing's item, and went."""
    html = page(f"<main><h1>Clients</h1><p>{LONG}</p><h2 id='py'><a href='#py'>Python client</a></h2><p>{LONG}</p>"
                f"<h2 id='cs'><a href='#cs'>C#</a></h2><p>{LONG}</p></main>")
    record = extract_page(html.encode(), "https://docs.example/clients.html").record
    assert [section["heading"] for section in record["sections"]] == ["Python client", "C#"]
    assert record["links"] == []


def test_a_mastheads_h1_that_names_the_site_as_the_title_does_is_not_the_title():
    """Two <h1>: the site's name in a masthead, then the article's. With no og:site_name, the masthead's was
    the title, and the article's title a section of the body."""
    html = page(f"<div class='masthead'><h1>The Ledger Review</h1></div><div class='post'><h1>Vega</h1>"
                f"<p>{LONG}</p><p>{LONG}</p></div>", "<title>Vega | The Ledger Review</title>")
    record = extract_page(html.encode(), URL).record
    assert (record["title"], record["sections"]) == ("Vega", [])
    # A <title> that names no site names no <h1> the site's: the first stands, as before.
    first = page(f"<div class='post'><h1>Vega</h1><p>{LONG}</p><h1>Vega again</h1><p>{LONG}</p></div>",
                 "<title>Vega</title>")
    assert extract_page(first.encode(), URL).record["title"] == "Vega"


def test_no_h1_the_heading_that_repeats_the_title_stands_in():
    html = page(f"<main><h2>Vega in options trading</h2><p>{LONG}</p><h2>Hedging</h2><p>{LONG}</p></main>",
                "<title>Vega in options trading | Site</title>")
    content = walk(html)
    assert content.doubt is None
    assert content.blocks == [LONG.strip(), "Hedging", LONG.strip()]
    assert extract_page(html.encode(), URL).record["title"] == "Vega in options trading"


def test_a_heading_that_titles_a_list_of_links_set_aside_heads_nothing_after_it():
    """A "Read more" box inside an article, its heading over a list of links to other stories: the list is
    no body, and its heading headed the article's next paragraphs as a section of their own."""
    box = ("<div class='inline-related'><h3>Read more</h3><ul><li><a href='/news/gamma-week/'>Gamma week</a></li>"
           "<li><a href='/news/rho/'>Rho rises</a></li></ul></div>")
    html = page(f"<main><article><h1>Vega</h1><p>{LONG}</p>{box}<p>{LONG}</p><h2>Hedging</h2><p>{LONG}</p>"
                "</article></main>")
    content = walk(html)
    assert content.blocks == [LONG.strip(), LONG.strip(), "Hedging", LONG.strip()]
    assert [section["heading"] for section in content.sections] == ["Hedging"]
    # The text after the box goes on in the section the box stood in.
    html = page(f"<main><article><h1>Vega</h1><h2>Markets</h2><p>{LONG}</p>{box}<p>{LONG}</p><h2>Hedging</h2>"
                f"<p>{LONG}</p></article></main>")
    content = walk(html)
    paragraphs = [(s["heading"], s["text"].count("Vega measures")) for s in content.sections]
    assert paragraphs == [("Markets", 2), ("Hedging", 1)]
    # A section that opens with a list of links, in the same block as its text, is a section still.
    html = page(f"<main><article><h1>Vega</h1><p>{LONG}</p><h2>Downloads</h2><ul><li><a href='/dl/a.tgz'>Linux</a></li>"
                f"<li><a href='/dl/b.dmg'>macOS</a></li></ul><p>{LONG}</p><h2>Hedging</h2><p>{LONG}</p></article></main>")
    content = walk(html)
    paragraphs = [(s["heading"], s["text"].count("Vega measures")) for s in content.sections]
    assert paragraphs == [("Downloads", 1), ("Hedging", 1)]


def test_comment_threads_are_not_body():
    html = page(f"<main><h1>Vega</h1><p>{LONG}</p><div id='comments' class='comments-area'>"
                f"<h2>3 Comments</h2><ol class='comment-list'><li><p>Great post, thanks! {LONG}</p></li></ol>"
                f"</div></main>")
    content = walk(html)
    assert content.doubt is None and content.blocks == [LONG.strip()]
    assert "Great post" not in extract_page(html.encode(), URL).record["body_text"]


def test_a_header_of_title_standfirst_and_byline_is_not_the_article():
    content = walk(page(f"<main><article><header><h1>Vega</h1><p>A short standfirst.</p></header>"
                        f"<div class='body'><p>{LONG}</p><p>{LONG}</p></div></article></main>"))
    assert content.doubt is None
    assert content.blocks == ["A short standfirst.", LONG.strip(), LONG.strip()]


def test_the_general_tier_reads_a_page_the_walk_doubts():
    # No block holds the title and the text apart from <body>: the walk doubts, trafilatura reads.
    html = page(f"<div class='top'><h1>Vega</h1></div><div class='a'><div class='b'><p>{LONG}</p><p>{LONG}"
                f"<a href='/term/gamma/'>gamma</a></p></div></div><div class='comments'><p>Nice! {LONG}</p></div>"
                f"<footer><p>© Site</p></footer>")
    assert walk(html).doubt == "no block holds both the title and most of the text"
    record = extract_page(html.encode(), URL).record
    assert record["title"] == "Vega"
    assert record["body_text"].count("Vega measures") == 2
    assert "Nice!" not in record["body_text"] and "©" not in record["body_text"]
    assert [(link["kind"], link["to_url"]) for link in record["links"]] == [("inline", f"{BASE}/term/gamma/")]


def test_the_general_tier_resolves_links_against_the_page_not_the_sites_root():
    """trafilatura, given the page's URL, resolves a relative link against the site's root: on a page in a
    folder, 'other.html' was recorded as the root's other.html, and a footnote mark ('#fn1') as a link to the
    home page. Links resolve as the walk resolves them: against the page (its <base>), a link within the
    page not recorded."""
    html = page(f"<div class='top'><h1>Vega</h1></div><div class='a'><p>{LONG}<a href='#fn1'>[1]</a></p><p>{LONG} "
                f"See <a href='other.html'>other</a> and <a href='/term/gamma/'>gamma</a>.</p></div>")
    url = f"{BASE}/docs/guide/vega.html"
    assert walk(html).doubt is not None
    record = extract_page(html.encode(), url).record
    assert [link["to_url"] for link in record["links"]] == [f"{BASE}/docs/guide/other.html", f"{BASE}/term/gamma/"]
    based = html.replace("<head>", "<head><base href='/docs/'>")
    record = extract_page(based.encode(), url).record
    assert [link["to_url"] for link in record["links"]] == [f"{BASE}/docs/other.html", f"{BASE}/term/gamma/"]


def test_the_glossary_itself_never_sends_a_page_to_the_general_tier():
    site = ReplicaSite(60)
    listings = ["/", "/category/definition/", "/category/definition/page/2/", "/category/term/"]
    for path in site.glossary_paths() + listings:
        doc = site.document(path, BASE)
        for theme in ("classic", "block", "plain"):
            doc["theme"] = theme
            root, _ = parse(themes.render(doc), BASE + path)
            content, _ = extract_content(root, BASE + path, classify(BASE + path).page_type)
            assert content.doubt is None, (path, theme, content.doubt)


@pytest.mark.parametrize("posts", [1, 2])
@pytest.mark.parametrize("theme", ["classic", "block", "plain"])
def test_a_category_page_of_one_or_two_posts_is_a_listing(posts, theme):
    """A listing was one of three posts or more: a category page of one post went to the general tier, which
    archived the whole page (navigation, the sidebar, the footer) as its text; of two, it made a section of each
    post and stored each link twice, listing and inline. One or two posts, each with its "Meaning ⎊" line, are a
    listing too."""
    site = ReplicaSite(60)
    path = "/category/definition/"
    doc = site.document(path, BASE)
    doc["theme"] = theme
    doc["blocks"] = [("listing", block[1][:posts]) for block in doc["blocks"] if block[0] == "listing"]
    expected = [("listing", BASE + href, title, meaning) for href, title, meaning in doc["blocks"][0][1]]
    assert len(expected) == posts and all(meaning for *_, meaning in expected)
    html = themes.render(doc)
    root, _ = parse(html, BASE + path)
    assert extract_content(root, BASE + path, "other")[0].doubt is None
    record = extract_page(html.encode(), BASE + path).record
    assert (record["title"], record["body_text"], record["sections"]) == ("Category: Definition", None, [])
    links = record["links"]
    assert [(link["kind"], link["to_url"], link["anchor_text"], link["summary"]) for link in links] == expected


def test_a_term_with_lists_and_a_pre_beside_its_glossary_stays_with_the_walk():
    """A term written as the site writes them, with short bullet lists with bold lead-ins and a few lines of <pre>:
    its lists outweighed its paragraphs, the walk doubted it, and trafilatura made a section of each Glossary and
    Discover More item, repeated their links as inline ones and folded the <pre> onto one line."""
    facet = ("<p>Gamma scalping is the practice of re-hedging delta as the underlying moves, so that a long-gamma "
             "book harvests realised volatility.</p>")
    bullets = "<ul>" + "".join(f"<li><strong>Band {i}</strong> A hedger rebalances delta whenever the move exceeds "
                               "the band the desk's limits set.</li>" for i in range(4)) + "</ul>"
    html = page("<article><h1 class='entry-title'>Gamma Scalping ⎊ Term</h1><div class='entry-content'>"
                f"<h2>Essence</h2>{facet}{bullets}<h2>Origin</h2>{facet}{bullets}<h2>Approach</h2>{facet}"
                "<pre>hedge when |delta| > band\n  sell gamma\nrepeat</pre>"
                "<section class='glossary'><h2>Glossary</h2><div class='glossary-item'><h3><a href='/area/greeks/'>"
                "Greeks</a></h3><p>Context ⎊ The option's sensitivities.</p></div></section>"
                "<section class='discover-more'><h2>Discover More</h2><div class='discover-item'><h3>"
                "<a href='/term/delta-hedging/'>Delta Hedging</a></h3><p>Meaning ⎊ Offsetting delta.</p></div>"
                "</section></div></article>")
    url = f"{BASE}/term/gamma-scalping/"
    root, _ = parse(html, url)
    assert extract_content(root, url, "term")[0].doubt is None
    record = extract_page(html.encode(), url).record
    assert [s["heading"] for s in record["sections"]] == ["Essence", "Origin", "Approach"]
    assert "hedge when |delta| > band\n  sell gamma\nrepeat" in record["body_text"]
    assert [(link["kind"], link["to_url"]) for link in record["links"]] == [
        ("glossary", f"{BASE}/area/greeks/"), ("discover_more", f"{BASE}/term/delta-hedging/")]


def test_a_page_cut_by_the_depth_limit_says_so():
    deep = page("<main><h1>Deep</h1><p>Shallow text.</p>" + "<div>" * 3000 + "<p>Deep text.</p>" + "</div>" * 3000
                + "<p>Text after it.</p>")
    extraction = extract_page(deep.encode(), URL)
    assert [(e["stage"], e["error"]) for e in extraction.errors] == [
        ("parse", "markup nested deeper than the parser's limit of 2,048 levels: the page was read no further, "
                  "what lies deeper and all after it left out")]
    assert "Shallow text." in extraction.record["body_text"]
    assert "Deep text." not in extraction.record["body_text"] and "after" not in extraction.record["body_text"]
    assert extract_page(page("<main><h1>Flat</h1><p>Text.</p></main>").encode(), URL).errors == []


def test_the_general_tier_keeps_a_heading_below_the_title_that_repeats_it():
    """A definition whose list items outweigh its paragraphs goes to the general tier, which took any heading
    repeating the title for the title: the glossary's <h2> over the text went, and section 0 with it."""
    items = "".join(f"<li>{name} measures how much the option's price moves with {what}, and desks size their "
                    "hedges by it.</li>" for name, what in (("Delta", "the underlying"), ("Gamma", "delta itself"),
                                                           ("Vega", "implied volatility"), ("Theta", "time"),
                                                           ("Rho", "interest rates"), ("Vanna", "spot and vol")))
    html = ("<html><head><title>Greeks ⎊ Definition ⎊ Greeks.live</title></head><body><main><article>"
            "<h1>Greeks ⎊ Definition</h1><div><h2>Greeks</h2><p>The main greeks are listed below, each with what "
            f"it measures.</p><ul>{items}</ul><h2>Origin</h2><p>The greeks come from the Black Scholes model.</p>"
            "</div></article></main></body></html>")
    assert walk(html).doubt == "the body holds much text from outside paragraphs"
    record = extract_page(html.encode(), f"{BASE}/definition/greeks/").record
    assert record["title"] == "Greeks"
    assert [s["heading"] for s in record["sections"]] == ["Greeks", "Origin"]
    assert record["body_text"].startswith("Greeks\n\nThe main greeks are listed below")


def test_a_page_of_many_elements_is_read_by_the_general_tier_in_bounded_time():
    """trafilatura's comparison with readability searches the tree in time that grows with the square of its
    size: a hostile page of 20,000 elements in one block took 5.6 s to extract (10,000: 0.37 s)."""
    import time

    html = ("<html><head><title>F</title></head><body><main><h1>F</h1><p>" + "Delta measures an option. " * 3
            + "</p><div>" + "<i>x</i>" * 40_000 + "<h1>deep</h1></div></main></body></html>")
    started = time.process_time()
    record = extract_page(html.encode(), f"{BASE}/term/f/").record
    assert time.process_time() - started < 2.0
    assert record["body_text"].startswith("Delta measures an option.")


def test_tables_nested_deeper_than_any_page_are_read_by_the_walk_alone():
    """trafilatura reads nested tables again for every table around them: 300 of them, 10 KiB of markup, took
    0.4 s of the general tier, 700 five seconds, on every such page a hostile site served. Past 200 levels the
    walk's text stands, as it does where trafilatura finds nothing."""
    import time

    body = ("<html><head><title>Deep</title></head><body>" + "<table><tr><td>" * 300 + "A cell deep down. " * 20
            + "</td></tr></table>" * 300 + "</body></html>")
    started = time.process_time()
    record = extract_page(body.encode(), URL).record
    assert time.process_time() - started < 0.2
    assert record["body_text"] == ("A cell deep down. " * 20).strip()
