"""search, show, export, report and Datasette, on an archive crawled and then refreshed."""

import asyncio
import csv
import hashlib
import html
import http.server
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import launcher
import pytest
from conftest import GLOSSARY, ROOT, Replica, crawl, rows, run_glossary

from glossary_spider.lock import is_stopped
from glossary_spider.metadata import COLUMNS, QUERIES, datasette_metadata
from glossary_spider.replica import ReplicaSite


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Generation 1 crawled, then refreshed against generation 2: history and diffs are real."""
    tmp = tmp_path_factory.mktemp("analyst")
    server = Replica(tmp)
    try:
        db = tmp / "glossary.db"
        assert crawl(db, "--start-url", f"{server.url}/", "--sitemap", f"{server.url}/sitemap_index.xml").returncode == 0
        server.set_generation(2)
        result = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress")
        assert result.returncode == 0, result.stderr
        yield db, server.url
    finally:
        server.stop()


def glossary(db, *args):
    return run_glossary(*args, "--db", str(db))


EDITED = sorted(p for p in ReplicaSite(200, 2).posts if ReplicaSite(200, 2)._events(p, "edit"))


# -- search -----------------------------------------------------------------------------------


def test_search_puts_title_matches_first(archive):
    db, _ = archive
    result = glossary(db, "search", "funding", "--format", "json", "--limit", "100")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    in_title = [("funding" in (h["title"] or "").lower()) for h in hits]
    assert any(in_title) and not all(in_title)
    assert in_title == sorted(in_title, reverse=True)  # every title match before every other match
    assert all("[" in h["snippet"] and "]" in h["snippet"] for h in hits)


def test_search_finds_text_that_a_refresh_brought(archive):
    db, url = archive
    result = glossary(db, "search", '"Revised in edition 2"', "--format", "csv", "--limit", "100")
    assert result.returncode == 0, result.stderr
    found = sorted(r["url"].replace(url, "") for r in csv.DictReader(io.StringIO(result.stdout)))
    assert found == EDITED


def test_search_csv_is_utf8_whatever_the_locale(archive):
    """Under an encoding that lacks "…" (PYTHONIOENCODING=ascii), the CSV's cells held '\\u2026' in its place."""
    db, _ = archive
    args = ("search", "funding", "--format", "csv", "--db", str(db))
    wanted = run_glossary(*args).stdout
    assert "…" in wanted
    assert run_glossary(*args, env={"PYTHONIOENCODING": "ascii"}).stdout == wanted


def test_search_by_type_and_limit(archive):
    db, _ = archive
    hits = json.loads(glossary(db, "search", "risk", "--type", "area", "--limit", "3", "--format", "json").stdout)
    assert len(hits) == 3 and {h["page_type"] for h in hits} == {"area"}


def test_search_reads_its_results_a_chunk_at_a_time_and_gives_the_same(archive, monkeypatch):
    """search built every result in memory before printing the first, 5 KB each: 171 MB for a word on
    30,000 pages, with --limit allowed up to a million."""
    from glossary_spider import query

    db, _ = archive
    whole = list(query.search(query.connect(db), "risk OR market", limit=1_000_000))
    monkeypatch.setattr(query, "SEARCH_CHUNK", 7)
    chunked = query.search(query.connect(db), "risk OR market", limit=1_000_000)
    assert not isinstance(chunked, list)
    assert list(chunked) == whole and len(whole) > 3 * 7
    (count,) = sqlite3.connect(db).execute("SELECT count(*) FROM pages_fts WHERE pages_fts MATCH 'risk OR market'"
                                           ).fetchone()
    assert len(whole) == count


def test_search_makes_its_snippets_in_chunks_that_double(archive, monkeypatch):
    """Each chunk's snippets are made in one pass over all the query's matches: in chunks of one size, a search of
    every match passed over them all again for each chunk, quadratic (40,000 results: 80 passes, 3.7 s)."""
    from glossary_spider import query

    db, _ = archive
    whole = list(query.search(query.connect(db), "risk OR market", limit=1_000_000))
    monkeypatch.setattr(query, "SEARCH_CHUNK", 2)
    monkeypatch.setattr(query, "SEARCH_CHUNK_MOST", 16, raising=False)
    conn, passes = query.connect(db), []
    conn.set_trace_callback(lambda sql: passes.append(sql) if "snippet(" in sql else None)
    assert list(query.search(conn, "risk OR market", limit=1_000_000)) == whole
    sizes = [2, 4, 8, *[16] * len(whole)]
    chunks = next(n for n in range(1, len(sizes) + 1) if sum(sizes[:n]) >= len(whole))
    assert len(whole) > 2 + 4 + 8 + 16 and len(passes) == chunks


def test_search_marks_a_gone_page(archive):
    db, _ = archive
    (gone,) = rows(db, "SELECT title, page_type FROM pages WHERE status = 'gone' AND title IS NOT NULL LIMIT 1")
    shown = glossary(db, "search", f'"{gone["title"]}"', "--limit", "1000").stdout
    assert f"{gone['title']}  ({gone['page_type']}, gone)" in shown
    live = glossary(db, "search", "funding", "--limit", "3").stdout  # the live ones as they were
    assert re.search(r"  \((definition|term|area)\)  http", live), live


def test_search_csv_says_which_pages_are_gone(archive):
    """The CSV had no status column: a gone page's row was a live page's (the table and the JSON said gone)."""
    db, _ = archive
    (gone,) = rows(db, "SELECT url, title FROM pages WHERE status = 'gone' AND title IS NOT NULL LIMIT 1")
    result = glossary(db, "search", f'"{gone["title"]}"', "--limit", "1000", "--format", "csv")
    assert result.returncode == 0, result.stderr
    found = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(found[0]) == ["url", "page_type", "title", "summary", "snippet", "status"]
    assert {r["url"]: r["status"] for r in found}[gone["url"]] == "gone"
    assert {r["status"] for r in found if r["url"] != gone["url"]} <= {"live"}


def test_search_table_output(archive):
    db, _ = archive
    result = glossary(db, "search", "funding", "--limit", "2")
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and len(lines) == 4
    assert "(definition)" in lines[0] or "(term)" in lines[0] or "(area)" in lines[0]
    assert "[funding]" in lines[1].lower()


@pytest.mark.parametrize("query", ['AND "', "NEAR(", "title:", "(risk"])
def test_a_query_that_is_not_fts_syntax_is_searched_as_words(archive, query):
    db, _ = archive
    result = glossary(db, "search", query, "--format", "json")
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)


@pytest.mark.parametrize("query", ["NOT greeks", "vega NOT (greeks"])
def test_a_query_whose_not_is_no_syntax_is_refused_not_searched_for_the_word_it_leaves_out(archive, query):
    """'NOT greeks' (NOT needs words before it) was searched as the plain word "greeks": the pages holding the
    very word it asked to leave out."""
    db, _ = archive
    result = glossary(db, "search", query)
    assert result.returncode == 2 and result.stdout == "", result.stdout
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"Error: the search query '{query}' is not FTS5 "
                                                                       "query syntax")
    assert "(vega NOT greeks), and a query cannot begin with it" in result.stderr


def test_a_query_searched_as_plain_words_says_so_and_which(archive):
    """ "risk -legal" (FTS5 reads "-legal" as a column) found the pages holding both words, the opposite of
    what was asked, and said nothing."""
    db, _ = archive
    result = glossary(db, "search", "risk -legal", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("\n") == 1 and "is not FTS5 query syntax (no such column: legal)" in result.stderr
    assert 'every one of its words, "risk" "legal"' in result.stderr
    assert glossary(db, "search", "risk NOT legal").stderr == ""


def test_a_query_searched_as_words_keeps_a_sign_joined_word_whole_and_leaves_operators_out(archive):
    """'P&L' (FTS5 syntax error at '&') was searched as the pages holding 'P' and 'L' anywhere; 'legal OR', as the
    pages holding 'legal' and the word 'or'."""
    db, _ = archive
    result = glossary(db, "search", "P&L", "--format", "json")
    assert result.returncode == 0 and 'every one of its words, "P&L" (' in result.stderr, result.stderr
    assert [r["title"] for r in json.loads(result.stdout)][:1] == ["Unrealized P&L"]
    result = glossary(db, "search", "(legal OR", "--format", "json")
    assert result.returncode == 0 and 'every one of its words, "legal" (' in result.stderr, result.stderr


def test_a_slug_no_page_has_gets_the_one_it_may_have_meant(archive):
    """A page's title typed as its slug ('Unrealized P&L', 'Vega-Neutral') was only 'no archived page has the
    slug': slugs are lower-case, their words joined by hyphens; words that are no slug are for a search."""
    db, _ = archive
    (page,) = rows(db, "SELECT slug, title FROM pages WHERE page_type = 'definition' AND slug LIKE '%-%-%' "
                       "AND slug = lower(replace(title, ' ', '-')) ORDER BY url LIMIT 1")  # no 'title-2' of a repeat
    for given in (page["title"], page["slug"].upper()):
        result = glossary(db, "show", given)
        assert result.returncode == 2 and result.stderr == (
            f"Error: no archived page has the slug {given!r}; did you mean {page['slug']!r}?\n")
    result = glossary(db, "show", "no such words")
    assert result.stderr == ("Error: no archived page has the slug 'no such words'; to find pages by their words: "
                             "glossary search 'no such words'\n")
    result = glossary(db, "search", "zzzz", "--type", "area_resource")
    assert result.stderr == "No area_resource page matches 'zzzz'.\n"


def test_the_words_a_query_was_searched_as_are_said_in_a_line_of_bounded_length(archive):
    db, _ = archive
    result = glossary(db, "search", " ".join(["AND x"] * 12_000))
    assert result.returncode == 0 and result.stderr.startswith("Note: ")
    assert max(len(line) for line in result.stderr.splitlines()) < 1_000
    result = glossary(db, "search", " ".join(["NOT x"] * 12_000))  # refused, in a line of bounded length too
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and len(result.stderr) < 1_000


def _retitled_copy(archive, tmp_path, title):
    """A copy of the archive in which one page about funding has ``title``."""
    copy = tmp_path / "copy.db"
    shutil.copy(archive[0], copy)
    with sqlite3.connect(copy) as conn:
        url = conn.execute("SELECT url FROM pages WHERE title LIKE '%Funding%' LIMIT 1").fetchone()[0]
        conn.execute("UPDATE pages SET title = ? WHERE url = ?", (title, url))
    conn.close()
    return copy


def test_search_json_gives_titles_exactly_as_archived(archive, tmp_path):
    """U+2028, U+2029 and U+0085 are line breaks to str.splitlines(): the JSON's indenting put two spaces
    after each, inside the title."""
    title = "Funding\u2028Rate\u2029Arbitrage\x85Basis"
    copy = _retitled_copy(archive, tmp_path, title)
    result = glossary(copy, "search", "funding", "--format", "json", "--limit", "1000")
    assert result.returncode == 0, result.stderr
    assert title in [r["title"] for r in json.loads(result.stdout)]


def test_search_csv_gives_titles_exactly_as_archived_and_shows_their_controls_on_a_terminal(archive, tmp_path):
    """The CSV wrote a title's control characters and bidi marks as the text '\\x1b', '\\u202e' wherever it
    went: a pipe or a file did not get the title as archived (the JSON and an export's CSV did)."""
    title = "Funding\x1b]0;PWNED\x07\u202egnp.exe"
    copy = _retitled_copy(archive, tmp_path, title)
    args = ("search", "funding", "--format", "csv", "--limit", "1000", "--db", str(copy))
    result = run_glossary(*args)
    assert result.returncode == 0, result.stderr
    assert title in [r["title"] for r in csv.DictReader(io.StringIO(result.stdout, newline=""))]
    shown = _on_a_terminal(*args)
    assert b"Funding\\u001b]0;PWNED\\u0007\\u202egnp.exe" in shown
    assert not any(c in shown for c in (b"\x1b", b"\x07", "\u202e".encode()))


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_search_snippets_to_a_file_hold_the_text_as_archived(archive, tmp_path, fmt):
    """The snippet of `search --format json` or csv held a page's bidi marks as the six characters '\u202e'
    (JSON then escaped the backslash): a reader could not tell them from a text that says so."""
    copy = tmp_path / "copy.db"
    shutil.copy(archive[0], copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE pages SET body_text = ? WHERE url = (SELECT min(url) FROM pages)",
                     ("Zanzibar \u200fDelta\u202e reversed text of the page",))
    conn.close()
    result = run_glossary("search", "zanzibar", "--format", fmt, "--db", str(copy))
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout) if fmt == "json" else list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert [r["snippet"] for r in found] == ["[Zanzibar] \u200fDelta\u202e reversed text of the page"]


@pytest.mark.parametrize("query", ["", "   ", '"*"'])
def test_an_empty_query_exits_2(archive, query):
    db, _ = archive
    result = glossary(db, "search", query)
    assert result.returncode == 2 and result.stderr.startswith("Error:") and "Traceback" not in result.stderr


def test_search_reads_the_matches_once_not_once_for_each_row(archive):
    """Snippets, and the Datasette search's rows, were picked by "rowid IN (…)", which SQLite hands FTS5 as one
    lookup a row, each reading all of the query's matches again: in an archive of 20,000 pages, 59 ms a snippet
    of a prefix query (`search 't*' --limit 1000` took 52 s), and the canned search's "risk" 14 s, over its
    time limit. Only the canned search's 50 snippets may look their row up."""
    from glossary_spider.datasette_plugin import prepare_connection
    from glossary_spider.query import SNIPPETS_SQL

    db, _ = archive
    conn = sqlite3.connect(db)
    prepare_connection(conn)

    def lookups(sql: str, params: dict) -> int:
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        assert any("pages_fts VIRTUAL TABLE" in step for step in plan)
        return sum("pages_fts VIRTUAL TABLE INDEX 0:=" in step for step in plan)

    assert lookups(SNIPPETS_SQL, {"match": "t*", "rowids": "[1, 2, 3]"}) == 0
    assert lookups(QUERIES["search"]["sql"], {"q": "risk"}) == 1
    conn.close()


def test_search_does_not_import_scrapy(archive):
    db, _ = archive
    code = ("import sys; from glossary_spider.cli import cli\n"
            f"cli(['search', 'risk', '--db', {str(db)!r}], standalone_mode=False)\n"
            "cli(['show', 'international-legal-cooperation', '--db', %r], standalone_mode=False)\n"
            "cli(['report', '--db', %r], standalone_mode=False)\n"
            "cli(['export', '--format', 'jsonl', '--db', %r, '--out', '/dev/null'], standalone_mode=False)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'scrapy', 'twisted'}))") % ((str(db),) * 3)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


# -- show -------------------------------------------------------------------------------------


def test_show_a_page_by_slug(archive):
    db, url = archive
    result = glossary(db, "show", "international-legal-cooperation", "--format", "json")
    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout)
    assert page["title"] == "International Legal Cooperation"
    assert [len(page["links"][k]) for k in ("related", "discover_more")] == [8, 9]
    assert [item["@type"] for item in page["json_ld"]] == ["BreadcrumbList", "Article"]
    site = ReplicaSite(200, 2)
    seed = "/definition/international-legal-cooperation/"
    linking = {p.path for p in site.posts.values()
               if seed in p.discover or (p.kind == "definition" and seed in p.related)}
    assert {l["from_url"].replace(url, "") for l in page["linked_from"]} >= linking
    text = glossary(db, "show", f"{url}/definition/international-legal-cooperation/").stdout
    assert "## International Legal Cooperation" in text and "related links (8):" in text
    for by_path in ("/definition/international-legal-cooperation/", url.removeprefix("http://") +
                    "/definition/international-legal-cooperation"):
        assert glossary(db, "show", by_path).stdout == text


def test_show_prints_a_sites_line_breaks_in_a_field_that_is_a_line_as_escapes(archive, tmp_path):
    """An author, a category, a language, a heading or a JSON-LD type holding line breaks (as an archive of an
    earlier extractor keeps them, and JSON-LD types still) printed them as they were: the site wrote lines that
    read as show's own, a status line or a 'Linked from' block."""
    copy = tmp_path / "copy.db"
    shutil.copy(archive[0], copy)
    forged = "live (HTTP 200) · version 9 · FAKE"
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE pages SET author = ?, categories = ?, language = ?, title = NULL "
                     "WHERE slug = 'international-legal-cooperation'",
                     (f"Mallory\n{forged}", json.dumps(["Definition\n\n## Essence"]), "en\nFAKE LANG"))
        conn.execute("UPDATE section_spans SET heading = ? WHERE position = 0 AND url_id = (SELECT id FROM urls WHERE "
                     "url LIKE '%/definition/international-legal-cooperation/')", ("Essence\r\nLinked from 99 pages:",))
        conn.execute("UPDATE structured_data SET data = json_set(data, '$.\"@type\"', ?) WHERE url LIKE "
                     "'%/definition/international-legal-cooperation/' AND type = 'Article'",
                     ("Article\n\nLinked from 99 pages:\n  Fake (related)  http://evil.example/",))
    conn.close()
    result = glossary(copy, "show", "international-legal-cooperation")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "(untitled)  (definition)"
    assert "## Essence" not in lines
    assert not [line for line in lines if line.startswith((forged, "Linked from 99", "  Fake", "FAKE"))]
    assert f"Mallory\\x0a{forged} · Definition\\x0a\\x0a## Essence · en\\x0aFAKE LANG" in result.stdout
    assert "## Essence\\x0d\\x0aLinked from 99 pages:" in lines
    assert ("JSON-LD: BreadcrumbList, Article\\x0a\\x0aLinked from 99 pages:\\x0a  Fake (related)  "
            "http://evil.example/") in lines


def test_show_a_page_without_a_slug_by_its_path(archive):
    """A page with no slug (the home page, archived as a start URL) is found by its path, and a host's
    home page by the host and "/"; the path was looked up as a slug, and the host taken for one."""
    db, url = archive
    home = glossary(db, "show", f"{url}/")
    assert home.returncode == 0, home.stderr
    assert rows(db, "SELECT slug, page_type FROM pages WHERE url = ?", (f"{url}/",)) == [
        {"slug": None, "page_type": "other"}]
    for by_path in ("/", url.removeprefix("http://") + "/"):
        assert glossary(db, "show", by_path).stdout == home.stdout, by_path


def test_show_a_host_and_port_without_a_slash_is_its_home_page(archive):
    """`show 127.0.0.1:8000` (no slash after the port) was looked up as a slug: "no archived page has the slug
    '127.0.0.1:8000'", where "127.0.0.1:8000/" gave the home page."""
    db, url = archive
    home = glossary(db, "show", f"{url}/").stdout
    host = url.removeprefix("http://")
    assert glossary(db, "show", host).stdout == home
    unknown = glossary(db, "show", "127.0.0.1:1")
    assert unknown.returncode == 2 and unknown.stderr == "Error: no archived page at http://127.0.0.1:1/\n"
    dotted = glossary(db, "show", "example.com")  # no page has it for its slug, nor is its home archived
    assert dotted.returncode == 2 and dotted.stderr == (
        "Error: no archived page has the slug 'example.com', nor is one archived at http://example.com/\n")


def test_show_a_path_written_without_its_first_slash(archive):
    """`show definition/x` took "definition" for a host: "no archived page at http://definition/x"."""
    db, url = archive
    (page,) = rows(db, "SELECT url FROM pages WHERE page_type = 'definition' ORDER BY url LIMIT 1")
    path = page["url"].removeprefix(url)
    shown = glossary(db, "show", path.lstrip("/"))
    assert shown.returncode == 0 and shown.stdout == glossary(db, "show", path).stdout


@pytest.mark.parametrize("spelled", ["café-delta", "caf%c3%a9-delta", "caf%C3%A9-delta"])
def test_show_finds_a_page_by_its_slug_however_its_escapes_are_spelled(tmp_path, spelled):
    """As in a URL's path, ``café``, ``caf%c3%a9`` and ``caf%C3%A9`` are one slug (spelt the last way)."""
    from glossary_spider.extraction import extract_page
    from glossary_spider.storage import Archive, Fetch

    url = "http://127.0.0.1:9/definition/caf%C3%A9-delta/"
    body = "<html><body><main><h1>Café Delta</h1><p>Delta, as the café measures it.</p></main></body></html>".encode()
    with Archive(tmp_path / "a.db") as archive:
        archive.store_pages(archive.start_run("crawl", {}), [(Fetch(url, 200, body), extract_page(body, url))])
    result = glossary(tmp_path / "a.db", "show", spelled, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["url"] == url


def test_a_slug_shared_by_two_types_asks_which(archive):
    db, _ = archive
    slug = next(iter(ReplicaSite(200).areas))
    result = glossary(db, "show", slug)
    assert result.returncode == 2 and "--type" in result.stderr and "area" in result.stderr
    assert "definition" in result.stderr
    assert glossary(db, "show", slug, "--type", "area").returncode == 0


def test_a_word_diff_of_a_long_page_takes_a_moment_and_shows_each_edit():
    """An edit or two in a page of 250,000 characters took `show --diff` 37 s (SequenceMatcher aligning every word
    of both versions): the words the versions begin and end with alike are set aside first, and a changed stretch
    past DIFF_WORDS words is shown removed and added whole."""
    from glossary_spider.query import DIFF_WORDS, word_diff

    words = ("ladder funding delta vega swap margin " * 8_000).split()
    edited = [*words[:20_000], "gamma", *words[20_001:]]
    started = time.monotonic()
    assert word_diff(" ".join(words), " ".join(edited)) == [
        ("=", "… " + " ".join(words[20_000 - 8:20_000])), ("-", words[20_000]), ("+", "gamma"),
        ("=", " ".join(words[20_001:20_001 + 8]) + " …")]
    apart = [*edited[:-10], "theta", *edited[-9:]]
    far = word_diff(" ".join(words), " ".join(apart))
    assert time.monotonic() - started < 2
    assert [op for op, _ in far] == ["=", "-", "+", "="] and far[2][1].startswith("gamma ") and "theta" in far[2][1]
    assert len(far[1][1].split()) == len(words) - 20_000 - 9 > DIFF_WORDS


def test_history_and_word_diff(archive):
    db, _ = archive
    page = EDITED[0]
    history = json.loads(glossary(db, "show", page, "--history", "--format", "json").stdout)
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert [v["command"] for v in history["versions"]] == ["crawl", "refresh"]
    diff = json.loads(glossary(db, "show", page, "--diff", "--format", "json").stdout)
    body = next(c for c in diff["changes"] if c["field"] == "body_text")
    assert [t["text"] for t in body["tokens"] if t["op"] == "+"] == [
        "Revised in edition 2 to reflect current market practice."]
    assert not [t for t in body["tokens"] if t["op"] == "-"]
    text = glossary(db, "show", page, "--diff", "1..2").stdout
    assert "{+Revised in edition 2 to reflect current market practice.+}" in text


def test_diff_before_the_page_diffs_that_page(archive):
    """`--diff` may go without versions, so `show --diff PAGE` gave PAGE to it as versions and said only
    "Missing argument 'URL_OR_SLUG'"."""
    db, _ = archive
    page = EDITED[0]
    assert glossary(db, "show", "--diff", page).stdout == glossary(db, "show", page, "--diff").stdout
    before = glossary(db, "show", "--diff", page, "1..2")
    assert before.returncode == 0 and "{+Revised in edition 2" in before.stdout
    assert before.stdout == glossary(db, "show", page, "--diff", "1..2").stdout
    alone = glossary(db, "show", "--diff")
    assert alone.returncode == 2 and "Missing argument 'URL_OR_SLUG'" in alone.stderr


def test_history_counts_words_as_the_page_does(archive):
    """--history split the text on single spaces: the two words either side of each paragraph break (a
    blank line) were one, and every version read a few words short of pages.word_count."""
    db, _ = archive
    (current,) = rows(db, "SELECT url, word_count, version FROM pages WHERE version = 2 AND body_text LIKE "
                          "'%' || char(10) || char(10) || '%' ORDER BY url LIMIT 1")
    versions = json.loads(glossary(db, "show", current["url"], "--history", "--format", "json").stdout)["versions"]
    assert versions[-1]["version"] == current["version"] and versions[-1]["words"] == current["word_count"]
    assert "\n\n" in versions[-1]["body_text"]
    # Which extractor read each version: after an upgrade, what tells a reparse's version from the site's.
    from glossary_spider.extraction import EXTRACTOR_VERSION

    assert [v["extractor_version"] for v in versions] == [EXTRACTOR_VERSION] * len(versions)


def test_a_reordered_list_diffs_as_links_moved_not_removed_and_added():
    """A related list reordered showed the link that moved as removed and added, the same line twice."""
    from glossary_spider.query import line_diff

    assert line_diff(["alpha", "beta", "gamma"], ["beta", "alpha", "gamma"]) == [("~", "beta")]  # one moved
    assert line_diff(["alpha", "beta", "gamma"], ["gamma", "alpha", "delta"]) == [
        ("~", "gamma"), ("-", "beta"), ("+", "delta")]
    assert line_diff(["alpha", "beta"], ["alpha", "gamma"]) == [("-", "beta"), ("+", "gamma")]


@pytest.mark.parametrize("edit", ["body_text = 'redacted'", "body_text = NULL"])
def test_show_reads_a_page_whose_text_another_tool_changed(archive, tmp_path, edit):
    """A page's current text edited outside glossary_spider: its older versions' rows, kept as what differs
    from the current ones, no longer fit (their checksum fails), and a text set to NULL left its sections
    without text. show, --history and --diff were tracebacks."""
    db = tmp_path / "edited.db"
    shutil.copy(archive[0], db)
    (page,) = rows(db, "SELECT url FROM pages p WHERE version = 2 AND EXISTS (SELECT 1 FROM sections s WHERE "
                       "s.url = p.url AND s.text <> '') ORDER BY url LIMIT 1")  # its sections' text is read from it
    page = page["url"]
    with sqlite3.connect(db) as conn:
        conn.execute(f"UPDATE pages SET {edit} WHERE url = ?", (page,))
    conn.close()
    for args in ([], ["--history"], ["--diff"], ["--history", "--format", "json"]):
        result = glossary(db, "show", page, *args)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (args, result.stderr)
    versions = json.loads(glossary(db, "show", page, "--history", "--format", "json").stdout)["versions"]
    assert [v["version"] for v in versions] == [1, 2]


def test_a_diff_shows_links_and_structured_data_that_changed(archive):
    """The home page's versions differ in the posts it lists, its text not at all: the diff said
    "no change" where it now lists the links removed and added."""
    db, url = archive
    (home,) = rows(db, "SELECT version FROM pages WHERE url = ?", (f"{url}/",))
    assert home["version"] == 2
    diff = json.loads(glossary(db, "show", f"{url}/", "--diff", "--format", "json").stdout)
    links = next(c for c in diff["changes"] if c["field"] == "links")
    added = {t["text"].split(" ")[1] for t in links["tokens"] if t["op"] == "+"}
    removed = {t["text"].split(" ")[1] for t in links["tokens"] if t["op"] == "-"}
    versions = json.loads(glossary(db, "show", f"{url}/", "--history", "--format", "json").stdout)["versions"]
    before, after = ({link["to_url"] for link in v["record"]["links"]} for v in versions)
    assert added == after - before and removed == before - after and added
    text = glossary(db, "show", f"{url}/", "--diff").stdout
    assert "\nlinks:\n" in text and any(line.startswith("  {+") for line in text.splitlines())


@pytest.mark.parametrize(("args", "message"), [
    (["no-such-slug"], "no archived page"),
    (["international-legal-cooperation", "--diff"], "only 1 version"),
    (["international-legal-cooperation", "--diff", "1-2"], "A..B"),
    (["international-legal-cooperation", "--type", "poem"], "poem"),
    # A path or a host and path is that page, not whatever page has its last segment for a slug.
    (["/term/international-legal-cooperation/"], "no archived page at the path '/term/international-legal-coop"),
    (["evil.example/definition/international-legal-cooperation/"],
     "no archived page at http://evil.example/definition/international-legal-cooperation/"),
    (["international-legal-cooperation", "--type", "term"], "no archived term page has the slug"),
    (["international-legal-cooperation", "--history", "--diff"], "give --history or --diff, not both"),
])
def test_show_errors(archive, args, message):
    db, _ = archive
    result = glossary(db, "show", *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_show_says_what_is_wrong_with_an_empty_or_relative_argument_or_the_wrong_scheme(archive):
    """An empty argument was "no archived page has the slug ''", '../..' "no archived page at http://../..",
    and a URL typed with https:// for a page archived under http:// only "no archived page at https://…"."""
    db, url = archive
    for empty in ("", " "):
        assert glossary(db, "show", empty).stderr == (
            "Error: the page to show is empty: give its URL, its path (/term/greeks/) or its slug\n")
    relative = glossary(db, "show", "../..")
    assert relative.returncode == 2 and relative.stderr == (
        "Error: '../..' is a relative path: give the page's path from the site's root (/term/greeks/), its URL or "
        "its slug\n")
    page = f"{url}/definition/international-legal-cooperation/"
    wrong = glossary(db, "show", page.replace("http://", "https://"))
    assert wrong.returncode == 2 and wrong.stderr == (
        f"Error: no archived page at {page.replace('http://', 'https://')}; it is archived as {page}\n")


def test_show_by_path_or_slug_of_a_page_that_failed_gives_its_last_error(archive):
    """Only the full URL of a page never archived for an error said that error; its path and its slug said
    "no archived page" and no more."""
    db, url = archive
    (failed,) = rows(db, "SELECT url, run_id, stage, error FROM crawl_errors e WHERE url LIKE '%/definition/%' AND "
                         "NOT EXISTS (SELECT 1 FROM pages p WHERE p.url = e.url) ORDER BY id DESC LIMIT 1")
    path = failed["url"].removeprefix(url)
    slug = path.split("/")[2]
    why = f"; its last error (run #{failed['run_id']}, {failed['stage']}, {failed['url']}): {failed['error']}\n"
    for args, said in (([path], f"at the path '{path}'"), ([slug], f"has the slug '{slug}'"),
                       ([slug, "--type", "definition"], "definition page has the slug")):
        result = glossary(db, "show", *args)
        assert result.returncode == 2 and result.stderr.startswith("Error: no archived ") and said in result.stderr
        assert result.stderr.endswith(why), result.stderr
    assert "last error" not in glossary(db, "show", slug, "--type", "term").stderr



class _Moving(http.server.BaseHTTPRequestHandler):
    """A home page and the definitions it links to, some of them redirects: ``r302`` elsewhere for now, ``hop1``
    on to ``end`` through ``hop2``; from generation 2, ``old-slug`` renamed ``new-slug`` (a 301 from the old URL)."""

    generation = 1
    DEFINITIONS = ("kept", "r302", "hop1", "old-slug")
    REDIRECTS = {"/definition/r302/": (302, "/definition/r302-target/"),
                 "/definition/hop1/": (301, "/definition/hop2/"), "/definition/hop2/": (301, "/definition/end/")}
    RENAMED = {"/definition/old-slug/": (301, "/definition/new-slug/")}

    def do_GET(self):  # noqa: N802 (http.server's name)
        status, location = {**self.REDIRECTS, **(self.RENAMED if self.generation > 1 else {})}.get(self.path, (200, ""))
        if location:
            self.send_response(status)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/definition/word/":
            body = "<html><body><p>Word</p></body></html>"
        elif self.path == "/":
            links = "".join(f'<li><a href="/definition/{d}/">{d}</a></li>' for d in self.DEFINITIONS)
            body = f"<html><head><title>Home</title></head><body><h1>Home</h1><ul>{links}</ul></body></html>"
        elif self.path.startswith("/definition/"):
            name = self.path.strip("/").split("/")[-1].replace("-", " ").title()
            body = (f"<html><head><title>{name}</title></head><body><h1>{name}</h1><p>{name} is a term of crypto "
                    "derivatives, as the desk uses it.</p></body></html>")
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def moving(tmp_path_factory):
    """:class:`_Moving` crawled in generation 1, then refreshed in generation 2."""
    db = tmp_path_factory.mktemp("moving") / "glossary.db"
    _Moving.generation = 1
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Moving)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert crawl(db, "--start-url", f"{base}/").returncode == 0
        _Moving.generation = 2
        result = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress")
        assert result.returncode == 0, result.stdout + result.stderr
        yield db, base
    finally:
        server.shutdown()


def test_show_of_a_url_that_redirected_says_where_it_went(moving):
    """A URL the archive has no page at because it redirected (its capture ``moved``, the Location in its headers)
    was only "no archived page at …": now the error says where it went, and which page to show."""
    db, base = moving
    (moved,) = rows(db, "SELECT run_id FROM captures WHERE url = ? AND outcome = 'moved' ORDER BY id DESC LIMIT 1",
                    (f"{base}/definition/r302/",))
    target = f"{base}/definition/r302-target/"
    for args, said in ((["/definition/r302/"], f"at the path '/definition/r302/'; {base}/definition/r302/"),
                       (["r302"], f"has the slug 'r302'; {base}/definition/r302/"),
                       ([f"{base}/definition/r302/"], f"at {base}/definition/r302/; it")):
        result = glossary(db, "show", *args)
        assert result.returncode == 2 and result.stderr == (
            f"Error: no archived page {said} redirected to {target} (run #{moved['run_id']}, HTTP 302): "
            f"glossary show {target}\n"), result.stderr
        assert glossary(db, "show", target).returncode == 0
    chain = glossary(db, "show", "/definition/hop1/")  # each redirect its capture: the error follows them to the page
    assert chain.returncode == 2 and chain.stderr.endswith(
        f"redirected to {base}/definition/hop2/ (run #{moved['run_id']}, HTTP 301), and on to {base}/definition/end/: "
        f"glossary show {base}/definition/end/\n"), chain.stderr


def test_show_of_a_page_gone_by_a_redirect_says_where_it_went(moving):
    """A page marked gone by a 301 (its slug renamed) showed "gone (HTTP 301)", and its JSON had no field for
    where it went: the Location of the capture that marked it gone."""
    db, base = moving
    assert rows(db, "SELECT status, http_status FROM pages WHERE url = ?", (f"{base}/definition/old-slug/",)) == [
        {"status": "gone", "http_status": 301}]
    text = glossary(db, "show", "old-slug")
    assert text.returncode == 0 and f"\ngone (HTTP 301 to {base}/definition/new-slug/) · version 1 · " in text.stdout
    assert json.loads(glossary(db, "show", "old-slug", "--format", "json").stdout)["moved_to"] == (
        f"{base}/definition/new-slug/")
    assert json.loads(glossary(db, "show", "kept", "--format", "json").stdout)["moved_to"] is None
    assert "\nlive (HTTP 200) · version 1 · " in glossary(db, "show", "kept").stdout


def test_show_counts_in_words_and_asks_only_for_what_tells_pages_apart(tmp_path):
    """Pages of one type that share a slug (on two hosts) were "names 2 pages (…): give --type or the URL", though
    --type tells none apart; a page linked from one was "Linked from 1 pages", a one-word version "1 words"."""
    db = tmp_path / "counted.db"
    _Moving.generation = 1
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Moving)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        kept = [f"http://{host}:{port}/definition/kept/" for host in ("127.0.0.1", "localhost")]
        result = crawl(db, "--no-follow", *(arg for url in (f"http://127.0.0.1:{port}/", *kept,
                                                             f"http://127.0.0.1:{port}/definition/word/")
                                             for arg in ("--start-url", url)))
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        server.shutdown()
    for args in (["kept"], ["kept", "--type", "definition"], ["/definition/kept/"]):
        ambiguous = glossary(db, "show", *args)
        assert ambiguous.returncode == 2 and ambiguous.stderr.endswith(
            f"names 2 pages (definition {kept[0]}, definition {kept[1]}): give the URL\n"), ambiguous.stderr
    shown = glossary(db, "show", kept[0]).stdout
    assert f"\nLinked from 1 page:\n  Home (listing)  http://127.0.0.1:{port}/\n" in shown, shown
    history = glossary(db, "show", f"http://127.0.0.1:{port}/definition/word/", "--history").stdout
    assert re.search(r"  [0-9a-f]{12}  1 word  ", history), history
    assert "has only 1 version: nothing to compare" in glossary(db, "show", kept[0], "--diff").stderr

# -- export -----------------------------------------------------------------------------------


def test_export_jsonl_nests_sections_links_and_json_ld(archive, tmp_path):
    db, _ = archive
    out = tmp_path / "pages.jsonl"
    assert glossary(db, "export", "--format", "jsonl", "--out", str(out)).returncode == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == rows(db, "SELECT count(*) AS n FROM pages")[0]["n"]
    seed = next(r for r in records if r["url"].endswith("/international-legal-cooperation/"))
    assert [l["kind"] for l in seed["links"]].count("related") == 8
    assert seed["sections"][0]["heading"] == "International Legal Cooperation"
    assert seed["categories"] == ["Definition"] and len(seed["json_ld"]) == 2


def test_export_csv_by_type_to_stdout(archive):
    db, _ = archive
    result = glossary(db, "export", "--format", "csv", "--type", "term")
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(table) == 30 and {r["page_type"] for r in table} == {"term"}
    assert all(r["body_text"] and r["content_hash"] for r in table)


@pytest.mark.parametrize("name", ["glossary.warc.gz", "glossary.warc"])
def test_export_warc_is_readable_by_warcio(archive, tmp_path, name):
    from warcio.archiveiterator import ArchiveIterator

    db, _ = archive
    out = tmp_path / name
    assert glossary(db, "export", "--format", "warc", "--out", str(out)).returncode == 0
    # gzipped records in a .warc.gz; plain ones in a .warc, as tools that go by the name expect
    assert (out.read_bytes()[:2] == b"\x1f\x8b") is name.endswith(".gz")
    stored = [(r["url"], str(r["http_status"]), r["body_sha256"]) for r in rows(
        db, "SELECT url, http_status, body_sha256 FROM captures WHERE body_sha256 IS NOT NULL ORDER BY id")]
    seen = []
    with out.open("rb") as stream:
        for record in ArchiveIterator(stream):
            assert record.rec_type == "response"
            assert record.http_headers.get_header("Content-Type")
            body = record.content_stream().read()
            assert int(record.http_headers.get_header("Content-Length")) == len(body)
            seen.append((record.rec_headers.get_header("WARC-Target-URI"), record.http_headers.get_statuscode(),
                         hashlib.sha256(body).hexdigest()))
    assert seen == stored
    assert {status for _, status, _ in seen} == {"200", "404"}  # the 404 pages' bodies are kept too


def test_a_warc_percent_encodes_each_header_byte_past_ascii_as_it_came(archive, tmp_path):
    """A header's bytes past ASCII (the archive holds them read as Latin-1) went to warcio as text, which encoded
    the UTF-8 of that reading: the byte E9 became %C3%A9, a UTF-8 é %C3%83%C2%A9, and a Link's rel="é" became
    rel*=UTF-8''... (another parameter's name)."""
    from warcio.archiveiterator import ArchiveIterator

    copy = tmp_path / "copy.db"
    shutil.copy(archive[0], copy)
    sent = (b'X-Latin: caf\xe9\r\nX-Utf8: caf\xc3\xa9\r\nETag: "\xe9tag"\r\nLink: <http://x/>; rel="\xe9"\r\n'
            b"Content-Type: text/html\r\n")
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE captures SET headers = ? WHERE id = (SELECT min(id) FROM captures WHERE body_sha256 "
                     "IS NOT NULL)", (sent.decode("latin-1"),))
    conn.close()
    out = tmp_path / "glossary.warc"
    assert glossary(copy, "export", "--format", "warc", "--out", str(out)).returncode == 0
    head = out.read_bytes().split(b"\r\n\r\n", 2)[1]  # the first record's HTTP headers
    assert head.split(b"\r\n")[1:5] == [b"X-Latin: caf%E9", b"X-Utf8: caf%C3%A9", b'ETag: "%E9tag"',
                                         b'Link: <http://x/>; rel="%E9"']
    with out.open("rb") as stream:
        assert next(iter(ArchiveIterator(stream))).http_headers.get_header("X-Latin") == "caf%E9"


def test_export_to_a_path_that_cannot_be_written(archive, tmp_path):
    db, _ = archive
    result = glossary(db, "export", "--format", "jsonl", "--out", str(tmp_path / "missing" / "x.jsonl"))
    assert result.returncode == 2 and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [("export", "--format", "jsonl"), ("report",)])
def test_an_out_in_a_directory_that_does_not_exist_says_so(archive, tmp_path, command):
    """`--out "no dir/x.jsonl"` said "No such file or directory; it is left as it was", of a file that never
    was, with no word of the directory."""
    db, _ = archive
    missing = tmp_path / "no dir"
    result = run_glossary(*command, "--db", str(db), "--out", "no dir/x.jsonl", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr == (
        "Error: no directory no dir for --out no dir/x.jsonl: check --out, or create it first (mkdir -p 'no dir')\n")
    (tmp_path / "a file").write_text("kept\n")
    result = run_glossary(*command, "--db", str(db), "--out", "a file/x.jsonl", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr == (
        "Error: --out a file/x.jsonl: a file is not a directory: check --out\n")
    assert not missing.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["a file"]


def test_an_output_that_cannot_be_finished_leaves_the_earlier_file_as_it_was(archive, tmp_path):
    """A nightly export that met a full disk halfway truncated the night before's file and left part of
    a new one under its name, for the next job to take as whole."""
    import resource

    db, _ = archive
    out = tmp_path / "nightly.out"
    out.write_text("the night before's export\n")

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))  # room for the archive's -shm

    command = ("export", "--format", "jsonl")
    result = run_glossary(*command, "--db", str(db), "--out", str(out), preexec_fn=small_disk)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr  # stopped early, no mistake
    assert "left as it was" in result.stderr
    assert out.read_text() == "the night before's export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nightly.out"]  # no part of the new one
    new = tmp_path / "new.out"  # of a file that was not there, it said "it is left as it was"
    result = run_glossary(*command, "--db", str(db), "--out", str(new), preexec_fn=small_disk)
    assert result.returncode == 1 and result.stderr == f"Error: cannot write {new}: File too large; no file made\n"
    assert run_glossary(*command, "--db", str(db), "--out", str(out)).returncode == 0
    assert out.stat().st_size > 200_000 and sorted(p.name for p in tmp_path.iterdir()) == ["nightly.out"]


def stopped_midway(db, out, signum, *command):
    """``glossary export --out out`` (or ``command``), frozen as it writes its part file, sent ``signum``
    and let go: its exit status and standard error, or None if it had put its file in place already. One
    frozen in its last step, where the stops are held back (the file put in place), is tried again, ``out``
    as it was."""
    before = out.read_bytes() if out.exists() else None
    for _ in range(5):
        process = launcher.popen([*GLOSSARY, *(command or ("export", "--format", "jsonl")), "--db", str(db),
                                    "--out", str(out)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not list(out.parent.glob(f".{out.name}.*.part")) and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.002)
        process.send_signal(signal.SIGSTOP)
        status = Path(f"/proc/{process.pid}/status")
        while process.poll() is None and not is_stopped(process.pid):
            time.sleep(0.001)
        midway = bool(list(out.parent.glob(f".{out.name}.*.part")))  # frozen before it was put in place
        held = process.poll() is None and _holds_back(status.read_text(), signum)
        process.send_signal(signum)  # taken as it goes on
        process.send_signal(signal.SIGCONT)
        err = process.communicate(timeout=30)[1]
        if midway and not held:
            return process.returncode, err
        if before is None:
            out.unlink(missing_ok=True)
        else:
            out.write_bytes(before)
    return None


def _holds_back(status: str, signum: int) -> bool:
    """Whether a process's /proc status says it holds ``signum`` back (blocked, as its last step does)."""
    blocked = next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1]
    return bool(int(blocked, 16) >> (signum - 1) & 1)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_an_export_stopped_midway_says_what_it_kept(archive, tmp_path, signum):
    """A scheduler's timeout (SIGTERM) or a terminal gone (SIGHUP) killed an export midway: status 143, and
    its part file left beside --out. Then it stopped as Ctrl-C did, with a blank line and click's "Aborted.",
    saying nothing of the file. It now says in one line what it kept, exit status 1."""
    db, _ = archive
    out = tmp_path / "nightly.jsonl"
    out.write_text("the night before's export\n")
    if (stopped := stopped_midway(db, out, signum)) is None:
        pytest.skip("the export was done before it was stopped")
    assert stopped == (1, f"Interrupted: nothing written to {out} (it is left as it was)\n")
    assert out.read_text() == "the night before's export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nightly.jsonl"]
    new = tmp_path / "new.warc.gz"
    if (stopped := stopped_midway(db, new, signum, "export", "--format", "warc")) is None:
        pytest.skip("the export was done before it was stopped")
    assert stopped == (1, f"Interrupted: nothing written to {new} (no file made)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nightly.jsonl"]


def test_an_export_to_standard_output_stopped_midway_says_so(archive):
    """Ctrl-C stopped an export to a pipe with a blank line and "Aborted.", not a word of what the reader
    got. It now says in one line that the export is incomplete, exit status 1, without waiting for a reader
    that stopped reading to take the rest of its buffer."""
    import select

    db, _ = archive
    whole = glossary(db, "export", "--format", "jsonl").stdout
    process = launcher.popen([*GLOSSARY, "export", "--format", "jsonl", "--db", str(db)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert select.select([process.stdout], [], [], 30)[0]  # begun: it cannot end before the pipe is read
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 1  # not waiting for the pipe to be read
    written, err = process.stdout.read(), process.stderr.read()
    assert err == b"Interrupted: the export to standard output is incomplete\n"
    assert 0 < len(written) < len(whole.encode()) and whole.encode().startswith(written)


def test_a_search_stopped_midway_says_so_in_the_commands_own_line(archive):
    """Ctrl-C stopped a search (or show, or runs) as click stops a command, with a blank line and "Aborted.",
    or, as it exited, with an atexit traceback or Python's status 130. It stops as an export does."""
    import select

    db, _ = archive
    whole = glossary(db, "search", "the", "--limit", "100000", "--format", "json").stdout.encode()
    assert len(whole) > 100_000  # more than a pipe and a buffer hold (64 + 8 KiB): not done before it is read
    process = launcher.popen([*GLOSSARY, "search", "the", "--limit", "100000", "--format", "json", "--db", str(db)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert select.select([process.stdout], [], [], 30)[0]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 1
    written, err = process.stdout.read(), process.stderr.read()
    assert err == b"Interrupted: the search to standard output is incomplete\n"
    assert 0 < len(written) < len(whole) and whole.startswith(written)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_that_comes_as_a_complete_export_ends_changes_nothing(archive, tmp_path, signum):
    """Ctrl-C just after "… captures written" (the file in place) ended the export with "Aborted.", status 1,
    or killed it as Python gave the signal back its default on the way out (status 130), or with an atexit
    traceback: the export was done, and it now exits 0 whatever the moment."""
    db, _ = archive
    out = tmp_path / "glossary.warc.gz"
    for _ in range(5):
        process = launcher.popen([*GLOSSARY, "export", "--format", "warc", "--db", str(db), "--out", str(out)],
                                 cwd=ROOT, stderr=subprocess.PIPE, text=True)
        said = process.stderr.readline()
        process.send_signal(signum)
        assert (process.wait(timeout=30), said + process.stderr.read()) == (0, f"249 captures written to {out}\n")


def test_an_export_to_a_relative_path_from_a_directory_gone_says_so(archive, tmp_path):
    db, _ = archive
    gone = tmp_path / "gone"
    gone.mkdir()
    process = subprocess.run(f"cd {gone} && rmdir {gone} && {' '.join(GLOSSARY)} export --format csv --out x.csv "
                             f"--db {db}", shell=True, capture_output=True, text=True, env={**os.environ,
                             "PYTHONPATH": str(ROOT)})
    assert process.returncode == 2, process.stderr
    assert process.stderr == ("Error: cannot write x.csv: the working directory no longer exists; give --out as an "
                              "absolute path\n")


def test_the_part_an_export_killed_midway_left_goes_with_the_next_export(archive, tmp_path):
    """An export killed with kill -9 (the OOM killer) leaves its part file: the next one to the same --out
    removes it, and leaves a live export's part, and files not of its making, alone."""
    db, _ = archive
    out = tmp_path / "nightly.jsonl"
    killed = launcher.popen([*GLOSSARY, "export", "--format", "jsonl", "--db", str(db), "--out", str(out)],
                            cwd=ROOT)
    part = tmp_path / f".nightly.jsonl.{killed.pid}.part"
    deadline = time.monotonic() + 30
    while not part.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    killed.kill()
    killed.wait()
    if not part.exists():  # it finished before it could be killed: leave the part a killed one leaves
        part.write_text('{"url": ')
    live = tmp_path / f".nightly.jsonl.{os.getpid()}.part"
    others = [live, tmp_path / ".nightly.jsonl.notes.part", tmp_path / ".other.jsonl.1.part"]
    for path in others:
        path.write_text("kept")
    assert run_glossary("export", "--format", "jsonl", "--db", str(db), "--out", str(out)).returncode == 0
    assert not part.exists()
    assert all(path.read_text() == "kept" for path in others)
    assert out.read_text().count("\n") == sqlite3.connect(db).execute("SELECT count(*) FROM pages").fetchone()[0]


@pytest.mark.parametrize("command", [("export", "--format", "csv"), ("export", "--format", "warc"), ("report",)])
@pytest.mark.parametrize("suffix", ["", "-wal"])
def test_the_archive_is_never_an_output(archive, tmp_path, command, suffix):
    """`--out` naming the archive opened it for writing, truncating it: the archive was gone."""
    db, _ = archive
    copy = tmp_path / "copy.db"
    copy.write_bytes(db.read_bytes())
    before = copy.read_bytes()
    out = f"{tmp_path}/./copy.db{suffix}"
    result = run_glossary(*command, "--db", str(copy), "--out", out)
    assert result.returncode == 2
    assert result.stderr == f"Error: --out {out} is the archive {copy}, or a file kept beside it: give another file\n"
    assert copy.read_bytes() == before


@pytest.mark.parametrize("command", [("export", "--format", "jsonl"), ("export", "--format", "warc"), ("report",)])
def test_another_sqlite_database_is_never_an_output(archive, tmp_path, command):
    """`--out other.db` replaced another archive (or any application's database) with the export, without
    a word: only the archive being read was refused."""
    db, _ = archive
    other = tmp_path / "other.db"
    other.write_bytes(db.read_bytes())
    link = tmp_path / "link.out"
    link.symlink_to(other.name)
    before = other.read_bytes()
    for out in (other, link):
        result = run_glossary(*command, "--db", str(db), "--out", str(out))
        assert result.returncode == 2 and result.stderr == (
            f"Error: --out {out} is a SQLite database: choose another path, or remove it first\n")
    assert other.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["link.out", "other.db"]
    text = tmp_path / "notes.db"  # a file named so, not a database: written
    text.write_text("SQLite format 3 is what these notes are about\n")
    assert run_glossary(*command, "--db", str(db), "--out", str(text)).returncode == 0
    assert not text.read_bytes().startswith(b"SQLite format 3\x00")


def test_out_writes_through_a_symbolic_link_and_keeps_the_files_mode(archive, tmp_path):
    """--out through a link replaced the link with a file (as root, `--out /dev/stdout > file` replaced
    /dev/stdout itself); over a file, its mode became the umask's (a private export readable by all)."""
    db, _ = archive
    real, link = tmp_path / "real.csv", tmp_path / "link.csv"
    real.write_text("old\n")
    real.chmod(0o600)
    link.symlink_to(real.name)
    assert glossary(db, "export", "--format", "csv", "--out", str(link)).returncode == 0
    assert link.is_symlink() and real.read_text().startswith("url,")
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    # A link to this process's standard output, redirected to a file: written to that file, not replacing it.
    stdout, captured = tmp_path / "stdout", tmp_path / "captured.csv"
    stdout.symlink_to("/proc/self/fd/1")
    with open(captured, "w") as sink:
        result = launcher.run([*GLOSSARY, "export", "--format", "csv", "--db", str(db), "--out", str(stdout)],
                              cwd=ROOT, stdout=sink, stderr=subprocess.PIPE, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert stdout.is_symlink() and captured.read_text() == real.read_text()


def test_out_ending_with_a_slash_is_refused(archive, tmp_path):
    """`--out newdir/` wrote a file named newdir, and `--out existing.csv/` replaced existing.csv."""
    db, _ = archive
    existing = tmp_path / "existing.csv"
    existing.write_text("kept\n")
    for out in (f"{tmp_path}/newdir/", f"{existing}/"):
        result = glossary(db, "export", "--format", "csv", "--out", out)
        assert result.returncode == 2 and result.stderr == (
            f"Error: --out {out} ends with a slash, as a directory does: give the name of a file\n")
    assert existing.read_text() == "kept\n" and not (tmp_path / "newdir").exists()


@pytest.mark.parametrize("command", [("export", "--format", "csv"), ("report",)])
def test_out_that_cannot_be_looked_up_is_said_in_one_line(archive, tmp_path, command):
    """`--out` with a name over 255 bytes (or a symlink loop) ended an export or report with a traceback."""
    db, _ = archive
    (tmp_path / "loop2").symlink_to("loop1")
    (tmp_path / "loop1").symlink_to("loop2")
    loop = ("is a symlink loop (Too many levels of symbolic links: it, or a directory on its way, leads back to "
            "itself): point the symlink at the file to write, or give another path")
    for out, said in ((tmp_path / ("é" * 128 + ".csv"), "File name too long: give a shorter path"),
                      (tmp_path / "loop1", loop)):
        result = glossary(db, *command, "--out", str(out))
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1 and "Error: Invalid value for '--out': " in result.stderr
        assert said in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop1", "loop2"]


@pytest.mark.parametrize("command", [("search", "vega"), ("runs",), ("report",), ("export", "--format", "jsonl")])
def test_standard_output_on_a_full_disk_is_one_line(archive, command):
    db, _ = archive
    with open("/dev/full", "w") as full:
        result = launcher.run([*GLOSSARY, *command, "--db", str(db)], cwd=ROOT, stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "No space left on device" in result.stderr


def test_an_export_to_standard_output_is_utf_8_whatever_the_locale(archive):
    """With an ASCII standard output (PYTHONIOENCODING=ascii), the export stopped at the first character
    past ASCII with a traceback; its records are now what --out writes: UTF-8, exact. What a person reads
    on a Latin-1 terminal shows the characters it lacks as escapes."""
    db, _ = archive
    ascii_out = run_glossary("export", "--format", "jsonl", "--db", str(db), env={"PYTHONIOENCODING": "ascii"})
    assert ascii_out.returncode == 0, ascii_out.stderr
    plain = run_glossary("export", "--format", "jsonl", "--db", str(db))
    assert ascii_out.stdout == plain.stdout and "⎊" in plain.stdout
    searched = run_glossary("search", "risk", "--db", str(db), env={"PYTHONIOENCODING": "latin-1"})
    assert searched.returncode == 0 and "\\u238a" in searched.stdout, searched.stderr


def test_json_and_html_on_standard_output_are_utf_8_whatever_the_locale(archive):
    """Under a Latin-1 standard output (PYTHONIOENCODING=latin-1), search, show and report wrote their JSON and
    HTML through the locale's text stream: "⎊" as Python's escape, which no JSON reader takes, and "é" as a
    Latin-1 byte in a document that says it is UTF-8. They are now the same bytes whatever the locale."""
    db, _ = archive
    (page,) = rows(db, "SELECT url FROM pages WHERE title LIKE '%⎊%' OR body_text LIKE '%⎊%' ORDER BY url LIMIT 1")
    for args in (("search", "risk", "--format", "json"), ("show", page["url"], "--format", "json"),
                 ("show", page["url"], "--history", "--format", "json"), ("report", "--format", "json"),
                 ("report", "--format", "html")):
        latin = run_glossary(*args, "--db", str(db), env={"PYTHONIOENCODING": "latin-1"}, text=False)
        plain = run_glossary(*args, "--db", str(db), text=False)
        assert latin.returncode == plain.returncode == 0, latin.stderr
        assert latin.stdout == plain.stdout, args
        if args[-1] == "json":
            json.loads(latin.stdout.decode("utf-8"))
    assert "⎊".encode() in run_glossary("show", page["url"], "--format", "json", "--db", str(db),
                                        env={"PYTHONIOENCODING": "latin-1"}, text=False).stdout


def test_a_warc_is_not_written_to_a_terminal(archive):
    import pty

    db, _ = archive
    controller, terminal = pty.openpty()
    try:
        result = launcher.run([*GLOSSARY, "export", "--format", "warc", "--db", str(db)], cwd=ROOT,
                              stdout=terminal, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(terminal)
        os.close(controller)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: a WARC is gzip-compressed bytes, not for a terminal")


# -- views and report -------------------------------------------------------------------------


def test_views_agree_with_the_links(archive):
    """The views read the links the site still makes, those of its live pages. A page gone keeps the links it
    last had: they counted as one-way related links, kept the pages only they linked to from being orphans,
    and counted as broken links."""
    db, url = archive
    live = {r["url"] for r in rows(db, "SELECT url FROM pages WHERE status = 'live'")}
    links = rows(db, "SELECT from_url, to_url, kind FROM links")
    assert any(link["from_url"] not in live for link in links)  # the refresh left gone pages with links
    related = {(r["from_url"], r["to_url"]) for r in links if r["kind"] == "related"}
    one_way = {(a, b) for a, b in related if a in live and b in live and (b, a) not in related}
    assert {(r["from_url"], r["to_url"]) for r in rows(db, "SELECT * FROM one_way_related")} == one_way
    broken = {r["from_url"] for r in rows(db, "SELECT from_url FROM broken_links")}
    assert broken and broken <= live
    broken = {r["to_url"].replace(url, "") for r in rows(db, "SELECT to_url FROM broken_links")}
    gone = set(ReplicaSite(200).glossary_paths()) - set(ReplicaSite(200, 2).glossary_paths())
    assert broken <= gone | {"/definition/retired-entry-1/", "/definition/retired-entry-2/"}
    assert {"/definition/retired-entry-1/", "/definition/retired-entry-2/"} <= broken
    linked = {r["to_url"] for r in links if r["from_url"] != r["to_url"] and r["from_url"] in live}
    glossary_pages = {r["url"] for r in rows(db, "SELECT url FROM pages WHERE page_type != 'other' AND status = 'live'")}
    assert {r["url"] for r in rows(db, "SELECT url FROM orphan_pages")} == glossary_pages - linked


def test_the_report_counts_what_the_site_still_links(archive):
    """A page gone is no longer the site's: its links broke nothing, and it is no page without inbound links.
    The report counted the related links of gone pages as broken, and its inbound-links chart counted gone
    pages (and a page's links to itself), so its "no inbound links" bar disagreed with the orphans beside it."""
    db, _ = archive
    data = json.loads(glossary(db, "report", "--format", "json").stdout)
    live = {r["url"] for r in rows(db, "SELECT url FROM pages WHERE status = 'live'")}
    missing = {r["url"] for r in rows(db, "SELECT url FROM pages WHERE status = 'gone' UNION SELECT url FROM "
                                         "crawl_errors WHERE http_status IN (404, 410) AND url NOT IN (SELECT url FROM pages)")}
    related = rows(db, "SELECT from_url, to_url FROM links WHERE kind = 'related'")
    assert data["broken_related"]["count"] == sum(r["from_url"] in live and r["to_url"] in missing for r in related)
    assert {link["from_url"] for link in data["broken_related"]["links"]} <= live
    unlinked = [bar["pages"] for bar in data["inbound_links"] if bar["inbound"] == 0]
    assert unlinked == ([data["orphans"]["count"]] if data["orphans"]["count"] else [])
    assert sum(bar["pages"] for bar in data["inbound_links"]) == len(
        rows(db, "SELECT url FROM pages WHERE status = 'live' AND page_type != 'other'"))
    links = rows(db, "SELECT DISTINCT from_url, to_url FROM links")
    assert data["most_linked"] and all(
        m["url"] in live and m["inbound"] == sum(r["to_url"] == m["url"] and r["from_url"] in live for r in links)
        for m in data["most_linked"])


def test_report_in_three_formats(archive, tmp_path):
    db, _ = archive
    data = json.loads(glossary(db, "report", "--format", "json").stdout)
    assert data["pages"] == rows(db, "SELECT count(*) AS n FROM pages")[0]["n"]
    assert [r["command"] for r in data["runs"]] == ["refresh", "crawl"]
    assert data["broken_related"]["count"] >= 2
    text = glossary(db, "report").stdout
    assert "Pages by type and status" in text and "Broken related links" in text and "refresh" in text
    out = tmp_path / "report.html"
    assert glossary(db, "report", "--format", "html", "--out", str(out)).returncode == 0
    html = out.read_text()
    assert html.count("<svg") == 4
    assert "src=" not in html and "<link" not in html and "<script" not in html  # one self-contained file


def test_the_report_says_why_a_run_was_refused_and_counts_its_pages_as_runs_does(archive, tmp_path):
    """A run refused before it started (--delay nan) showed only its finish reason in the text report, where
    `glossary runs` gives its outcome, exit status and error; the JSON report gave its page counts as null,
    where `runs` shows 0."""
    db = tmp_path / "refused.db"
    shutil.copy(archive[0], db)
    refused = run_glossary("crawl", "--delay", "nan", "--db", str(db))
    assert refused.returncode == 2, refused.stderr
    listed = json.loads(glossary(db, "runs", "--json").stdout)[-1]
    assert (listed["finish_reason"], listed["outcome"], listed["exit_status"]) == ("bad_argument", "bad_input", 2)
    text = glossary(db, "report").stdout
    assert re.search(rf"^  {listed['id']} +crawl +\S+ +bad_input +2 +0 +0 +0 +0 +0 +0 +0$", text, re.M), text
    why = f"crawl #{listed['id']} bad_input at {listed['finished_at']}: --delay must be a finite number, not 'nan'"
    assert f"\n  {why}\n" in text.split("Last runs\n")[1]
    # The HTML report's table of runs had neither the exit status nor the line saying why, and its result said
    # "bad_argument" where 'glossary runs' says "bad_input".
    page = tmp_path / "report.html"
    assert glossary(db, "report", "--format", "html", "--out", str(page)).returncode == 0
    runs = page.read_text().split("<h2>Last runs</h2>")[1].split("<h2>")[0]
    assert "<th>exit</th>" in runs and f"<td>{listed['id']}</td><td>crawl</td>" in runs
    assert "<td>bad_input</td><td>2</td>" in runs and f"<p>{html.escape(why)}</p>" in runs
    reported = json.loads(glossary(db, "report", "--format", "json").stdout)["runs"][0]
    counts = [key for key in listed if key.startswith("pages_")]
    assert {k: reported[k] for k in counts} == {k: listed[k] for k in counts} == dict.fromkeys(counts, 0)


def test_the_text_report_reads_an_archive_whose_rows_another_tool_left_without_values(archive, tmp_path):
    """A NULL status, page type or start time (left by a hand edit, another tool) made the text report a
    traceback; the JSON and HTML ones read them."""
    db = tmp_path / "edited.db"
    shutil.copy(archive[0], db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE pages SET status = NULL, page_type = NULL WHERE rowid = (SELECT min(rowid) FROM pages)")
        conn.execute("UPDATE crawl_runs SET started_at = NULL, command = NULL WHERE id = 1")
    conn.close()
    result = glossary(db, "report")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert re.search(r"^  -\s+-\s+1$", result.stdout, re.M)  # the page, of no type and no status
    assert re.search(r"^  1   -\s+-\s+", result.stdout, re.M)  # the run, of no command, started at no time


def test_text_another_program_wrote_as_bytes_that_are_not_utf8_is_named_not_called_damage(archive, tmp_path):
    """Such a value made every reader call the archive damaged and advise sqlite3 .recover, which copies the
    same bytes: the file was whole, one value was not text."""
    db = tmp_path / "bytes.db"
    shutil.copy(archive[0], db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE pages SET title = CAST(x'4c6f6e65eda080' AS TEXT) WHERE rowid = "
                     "(SELECT min(rowid) FROM pages)")
    conn.close()
    result = glossary(db, "export", "--format", "jsonl")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "not UTF-8 in a column 'title'" in result.stderr and ".recover" not in result.stderr


def test_the_html_report_has_every_section_and_says_what_it_leaves_out(archive):
    """Issue 14 item 9: the HTML report lacked errors by stage and recent changes, cut its
    tables at 25 rows without a word, and left out the inbound-link counts no page has."""
    db, _ = archive
    data = json.loads(glossary(db, "report", "--format", "json").stdout)
    page = glossary(db, "report", "--format", "html").stdout
    assert "<h2>Errors by stage</h2>" in page
    for row in data["errors_by_stage"]:
        assert f"<td>{row['stage']}</td><td>{row['errors']}</td>" in page
    assert f"<h2>Recent changes: {data['recent_changes_count']}</h2>" in page
    cut = [s for s in ("broken_related", "orphans", "one_way_related") if data[s]["count"] > 25]
    cut += ["recent_changes"] if data["recent_changes_count"] > 25 else []
    assert cut, "nothing in this archive is cut at 25 rows"
    assert page.count("more (all of them in 'glossary browse')") == len(cut)
    if "one_way_related" in cut:
        assert f"… and {data['one_way_related']['count'] - 25} more" in page
    histogram = page.split('aria-label="Pages by number of pages linking to them"')[1].split("</svg>")[0]
    labels = re.findall(r'text-anchor="end">([^<]+)<', histogram)
    assert labels == ["0 linking", "1 linking", "2 linking", "3–4 linking", "5–9 linking", "10–19 linking",
                      "20–49 linking", "50+ linking"]


CAPTURED_NEW = "SELECT count(DISTINCT url) AS n FROM captures WHERE outcome = 'new'"


def test_the_report_counts_what_a_killed_run_archived(make_replica, tmp_path):
    """Issue 14 item 9: a run killed by kill -9 showed 0 pages in the report."""
    server = make_replica(500)  # large enough that the crawl is still going when 30 pages are captured
    db = tmp_path / "killed.db"
    process = launcher.popen(
        [*GLOSSARY, "crawl", "--db", str(db), "--start-url", f"{server.url}/", "--delay", "0", "--concurrency", "2",
         "--no-progress"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if rows(db, CAPTURED_NEW)[0]["n"] >= 30:
                break
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    process.kill()
    process.wait()
    archived = rows(db, CAPTURED_NEW)[0]["n"]  # fetched and staged; their versions wait for the run's end
    (run,) = json.loads(glossary(db, "report", "--format", "json").stdout)["runs"]
    assert run["finish_reason"] is None and run["pages_new"] == archived >= 30
    assert run["requests"] > 0  # kept up to date with each batch


def test_page_content_is_escaped_in_the_html_report(archive, tmp_path):
    db, _ = archive
    hostile = tmp_path / "hostile.db"
    with sqlite3.connect(db) as source, sqlite3.connect(hostile) as copy:
        source.backup(copy)
    with sqlite3.connect(hostile) as conn:
        conn.execute("UPDATE pages SET title = '<script>alert(1)</script>' WHERE url = "
                     "(SELECT to_url FROM links GROUP BY to_url ORDER BY count(*) DESC LIMIT 1)")
    html = glossary(hostile, "report", "--format", "html").stdout
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# -- Datasette --------------------------------------------------------------------------------


def test_every_column_of_every_table_and_view_is_described(archive):
    db, _ = archive
    conn = sqlite3.connect(db)
    objects = [name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'pages_fts_%' "
        "AND name NOT LIKE 'sqlite_%'")]
    for name in objects:
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info([{name}])")]
        assert name in COLUMNS, name
        assert set(columns) == set(COLUMNS[name]), name
        assert all(COLUMNS[name][c].strip() for c in columns)


def test_the_finish_reason_column_names_every_finish_reason():
    from glossary_spider import outcome

    reasons = {*outcome.COMPLETE_REASONS, *outcome.BUDGET_REASONS, *outcome.REFUSED_REASONS, outcome.HELD_REASON,
               outcome.UNREACHABLE_REASON, outcome.ARCHIVE_ERROR, outcome.INTERRUPTED_REASON}
    described = COLUMNS["crawl_runs"]["finish_reason"]
    assert [r for r in sorted(reasons) if r not in described] == []


def test_canned_queries_run_in_datasette(archive):
    from datasette.app import Datasette

    db, _ = archive
    datasette = Datasette([str(db)], metadata=datasette_metadata(db.stem))
    edited = rows(db, "SELECT url FROM pages WHERE page_type = 'definition' AND version > 1 ORDER BY url LIMIT 1")
    params = {"definitions_changed_since": "?since=2020-01-01", "search": "?q=funding",
              "page_history": f"?url={quote(edited[0]['url'], safe='')}"}

    async def run_all():
        results = {}
        for name in QUERIES:
            response = await datasette.client.get(f"/{db.stem}/{name}.json{params.get(name, '')}&_shape=array"
                                                  if name in params else f"/{db.stem}/{name}.json?_shape=array")
            results[name] = (response.status_code, response.json())
        table = await datasette.client.get(f"/{db.stem}/pages.json?_facet=page_type&_size=1")
        return results, table.json()

    results, table = asyncio.run(run_all())
    for name, (status, body) in results.items():
        assert status == 200, (name, body)
    assert len(results["definitions_changed_since"][1]) == len([p for p in EDITED if p.startswith("/definition/")])
    assert results["broken_related_links"][1] and results["most_linked_terms"][1] and results["search"][1]
    # One page's versions, as the page_versions view gives them (which rebuilds every page's to do so).
    assert [{k: v[k] for k in ("version", "title", "summary", "body_text", "content_hash")}
            for v in results["page_history"][1]] == rows(
        db, "SELECT version, title, summary, body_text, content_hash FROM page_versions WHERE url = ? ORDER BY version",
        (edited[0]["url"],))
    assert len(results["page_history"][1]) >= 2
    assert {f["value"] for f in table["facet_results"]["page_type"]["results"]} >= {"definition", "term"}


def test_changed_since_compares_times_however_they_are_written(archive):
    """The canned query compared since's text with the archive's: 'Z' for '+00:00' dropped the page
    changed at that second, and a space for the 'T' took in every change of the day."""
    from datetime import datetime, timedelta

    from datasette.app import Datasette

    db, _ = archive
    first = rows(db, "SELECT min(last_changed) AS t FROM pages WHERE page_type = 'definition' AND version > 1")[0]["t"]
    everything = rows(db, "SELECT count(*) AS n FROM pages WHERE page_type = 'definition' AND version > 1")[0]["n"]
    at = datetime.fromisoformat(first)
    later = (at + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    datasette = Datasette([str(db)], metadata=datasette_metadata(db.stem))

    async def count(since):
        response = await datasette.client.get(f"/{db.stem}/definitions_changed_since.json",
                                              params={"since": since, "_shape": "array"})
        return len(response.json())

    async def run_all():
        return [await count(since) for since in (
            first, first.replace("+00:00", "Z"), (at + timedelta(hours=1)).isoformat().replace("+00:00", "+01:00"),
            later, "2020-01-01")]

    assert everything > 0
    assert asyncio.run(run_all()) == [everything, everything, everything, 0, everything]

    async def unread():  # a date it cannot read matched nothing, as if nothing had changed
        response = await datasette.client.get(f"/{db.stem}/definitions_changed_since.json",
                                              params={"since": "yesterday", "_shape": "array"})
        return response.json()

    assert [r["title"] for r in asyncio.run(unread())] == [
        "since: 'yesterday' is no date or time: write 2026-03-01 or 2026-03-01T12:00:00Z"]


def test_datasette_cuts_long_cells_links_a_page_to_its_rows_and_survives_any_search(archive):
    """Issue 14 item 8: body_text was shown whole in tables, a page's row linked to nothing,
    and the canned search failed on an unbalanced quote."""
    from datasette.app import Datasette
    from datasette.utils import tilde_encode

    from glossary_spider.metadata import SETTINGS

    db, _ = archive
    datasette = Datasette([str(db)], metadata=datasette_metadata(db.stem), settings=SETTINGS)
    query = "SELECT url FROM pages WHERE page_type = 'definition' AND version = 2 ORDER BY url LIMIT 1"
    url = rows(db, query)[0]["url"]
    body = rows(db, "SELECT body_text FROM pages WHERE url = ?", (url,))[0]["body_text"]
    assert len(body) > SETTINGS["truncate_cells_html"]

    async def fetch():
        table = await datasette.client.get(f"/{db.stem}/pages?url__exact={url}")
        row = await datasette.client.get(f"/{db.stem}/pages/{tilde_encode(url)}")
        search = await datasette.client.get(f'/{db.stem}/search.json?q="unbalanced funding&_shape=array')
        query = await datasette.client.get(f"/{db.stem}/search")
        wordless = [await datasette.client.get(f"/{db.stem}/search.json?q={q}&_shape=array") for q in ("", "+", "%22")]
        return table, row, search, query, wordless

    table, row, search, query, wordless = asyncio.run(fetch())
    assert query.status_code == 200, query.text  # an empty box: no words, no rows, no syntax error
    assert [(r.status_code, r.json()) for r in wordless] == [(200, [])] * 3
    assert table.status_code == 200 and row.status_code == 200
    first_words = html.escape(body[:200])
    assert first_words in table.text and html.escape(body[:400]) not in table.text
    assert html.escape(body).replace("\n", "<br>") in row.text or html.escape(body) in row.text
    for other, link, count in (("sections", "sections", "url"), ("links", "links", "from_url"),
                               ("page_versions", "page_history", "url"), ("captures", "captures", "url")):
        n = rows(db, f"SELECT count(*) AS n FROM {other} WHERE {count} = ?", (url,))[0]["n"]
        assert n and f"{link}?{count}=" in row.text, other
    assert search.status_code == 200, search.text
    assert "quotes need not balance" in query.text


def test_a_page_rows_links_from_other_tables_lead_to_its_rows_when_its_url_holds_a_percent(archive, tmp_path):
    """Datasette wrote a page's URL into its "Links from other tables" as it is: for a URL holding a '%' (any
    address with a character past ASCII, /definition/caf%C3%A9/), the link read back decoded led to 0 rows."""
    from datasette.app import Datasette
    from datasette.utils import tilde_encode

    from glossary_spider.metadata import SETTINGS

    db, _ = archive
    copy = tmp_path / "percent.db"
    shutil.copy(db, copy)
    (old,) = [r["url"] for r in rows(copy, "SELECT url FROM pages WHERE page_type = 'definition' ORDER BY url LIMIT 1")]
    url = old.rstrip("/") + "-caf%C3%A9/"
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE pages SET url = ? WHERE url = ?", [url, old])
        conn.execute("UPDATE captures SET url = ? WHERE url = ?", [url, old])
    conn.close()
    captured = rows(copy, "SELECT count(*) AS n FROM captures WHERE url = ?", (url,))[0]["n"]
    datasette = Datasette([str(copy)], metadata=datasette_metadata(copy.stem), settings=SETTINGS)

    async def follow():
        row = await datasette.client.get(f"/{copy.stem}/pages/{tilde_encode(url)}")
        listed = row.text.split("Links from other tables", 1)[1]
        link = html.unescape(re.search(r'<a href="([^"]+)"', listed).group(1))
        return row, await datasette.client.get(link.replace("/captures?", "/captures.json?") + "&_shape=array")

    row, linked = asyncio.run(follow())
    assert row.status_code == 200 and f"{captured:,} row" in row.text
    assert linked.status_code == 200 and len(linked.json()) == captured > 0, linked.text


def test_an_archive_made_before_the_foreign_keys_gains_them_and_keeps_its_rows(archive, tmp_path):
    import sqlite_utils

    from glossary_spider.storage import FOREIGN_KEYS, Archive

    db, _ = archive
    older = tmp_path / "older.db"
    with sqlite3.connect(db) as source, sqlite3.connect(older) as copy:
        source.backup(copy)
    copy.close()
    before = sqlite_utils.Database(older)
    for table, column, *_ in FOREIGN_KEYS:
        before[table].transform(drop_foreign_keys=[column])
    assert not any(before[table].foreign_keys for table, *_ in FOREIGN_KEYS)
    counts = {table: before[table].count for table, *_ in FOREIGN_KEYS}
    views = {view: before.execute(f"SELECT count(*) FROM {view}").fetchone()[0] for view in before.view_names()}
    before.close()
    with Archive(older) as migrated:
        assert {(fk.table, fk.column, fk.other_table, fk.other_column) for table, *_ in FOREIGN_KEYS
                for fk in migrated.db[table].foreign_keys} == set(FOREIGN_KEYS)
        assert {table: migrated.db[table].count for table in counts} == counts
        assert {view: migrated.db.execute(f"SELECT count(*) FROM {view}").fetchone()[0] for view in views} == views


def _on_a_terminal(*command: str) -> bytes:
    """What ``command`` writes to a terminal (a pseudo-terminal, read as it writes)."""
    import pty

    controller, terminal = pty.openpty()
    shown = b""
    try:
        process = launcher.popen([*GLOSSARY, *command], cwd=ROOT, stdout=terminal, stderr=subprocess.DEVNULL)
        os.close(terminal)
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's other end closed: all is read
                break
            if not chunk:
                break
            shown += chunk
        process.wait(timeout=60)
    finally:
        os.close(controller)
    return shown


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_to_a_terminal_shows_control_characters_rather_than_sends_them(archive, tmp_path, fmt):
    """A title holding an OSC sequence (set the window's title) or a right-to-left override reached the
    terminal raw from `export --format csv` (JSON lines: DEL, C1 and the bidi controls)."""
    db, _ = archive
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE pages SET title = ? WHERE url = (SELECT min(url) FROM pages)",
                     ("Vega\x1b]0;PWNED\x07\x9b2J\u202egnp.exe",))
    shown = _on_a_terminal("export", "--format", fmt, "--db", str(copy))
    assert b"Vega" in shown and b"PWNED" in shown
    assert not any(c in shown for c in (b"\x1b", b"\x07", "\x9b".encode(), "\u202e".encode()))
    assert b"Vega\\u001b]0;PWNED\\u0007\\u009b2J\\u202egnp.exe" in shown
    piped = run_glossary("export", "--format", fmt, "--db", str(copy)).stdout  # exact, where it is not shown
    exact = "Vega\x1b]0;PWNED\x07\x9b2J\u202egnp.exe" if fmt == "csv" else "Vega\\u001b]0;PWNED\\u0007\x9b2J\u202e"
    assert exact in piped


def test_a_query_of_several_unquoted_words_is_searched_as_one(archive):
    """`glossary search funding rate` failed with "Got unexpected extra argument (rate)"."""
    db, _ = archive
    unquoted, quoted_ = glossary(db, "search", "funding", "rate"), glossary(db, "search", "funding rate")
    assert unquoted.returncode == 0 and unquoted.stdout == quoted_.stdout and "[funding]" in unquoted.stdout.lower()


@pytest.mark.parametrize("args, said", [
    (("export",), "Error: Missing option '--format'. Choose from: jsonl, csv, warc (see 'glossary export --help')"),
    (("export", "--format", "jsonl", "--raw"), "Error: --raw goes with --format csv: --format jsonl is always exact"),
], ids=["no format", "raw with jsonl"])
def test_export_options_misused_are_one_line(archive, args, said):
    db, _ = archive
    result = glossary(db, *args)
    assert result.returncode == 2 and result.stderr == said + "\n"


def test_show_marks_the_pages_that_linked_before_they_went(archive):
    """`show`'s "Linked from" listed a gone page's links as if it stood: its last link list is what the site
    said then (the views keep it, as the contract has them), and it is marked gone."""
    db, _ = archive
    (target,) = rows(db, "SELECT l.to_url, l.from_url FROM links l JOIN pages t ON t.url = l.to_url "
                         "AND t.status = 'live' WHERE l.from_url IN (SELECT url FROM pages WHERE status = 'gone') "
                         "LIMIT 1")
    shown = json.loads(glossary(db, "show", target["to_url"], "--format", "json").stdout)
    statuses = {r["from_url"]: r["status"] for r in shown["linked_from"]}
    assert statuses[target["from_url"]] == "gone" and "live" in statuses.values()
    text = glossary(db, "show", target["to_url"]).stdout
    assert re.search(rf"\(\w+, gone\)  {re.escape(target['from_url'])}$", text, re.M), text


def test_show_and_the_export_give_a_pages_microdata(tmp_path):
    """Microdata was archived in structured_data but shown nowhere: `show` and the JSON export gave JSON-LD
    alone (an itemprop author, a product, in no output but SQL)."""
    from glossary_spider.extraction import extract_page
    from glossary_spider.storage import Archive, Fetch

    url = "http://127.0.0.1:9/definition/vega-note/"
    body = ('<html><body><main itemscope itemtype="https://schema.org/Article"><h1 itemprop="headline">Vega Note</h1>'
            '<p>Vega, as a desk writes of it. <span itemprop="author" itemscope itemtype="https://schema.org/Person">'
            '<span itemprop="name">Jane Roe</span></span></p></main></body></html>').encode()
    with Archive(tmp_path / "a.db") as archive:
        archive.store_pages(archive.start_run("crawl", {}), [(Fetch(url, 200, body), extract_page(body, url))])
    shown = glossary(tmp_path / "a.db", "show", url, "--format", "json")
    (item,) = json.loads(shown.stdout)["microdata"]
    assert item["type"] == "https://schema.org/Article" and item["properties"]["author"]["properties"] == {
        "name": "Jane Roe"}
    assert "Microdata: https://schema.org/Article" in glossary(tmp_path / "a.db", "show", url).stdout
    exported = glossary(tmp_path / "a.db", "export", "--format", "jsonl").stdout
    assert json.loads(exported)["microdata"] == [item]
