"""glossary browse: Datasette in a child process, stopped with its parent."""

import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import launcher
import pytest
from conftest import GLOSSARY, ROOT, assert_one_line_error, crawl, rows
from datasette.utils import tilde_encode
from test_crawl import _served, _Site


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing answered at {url}")


def answers(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_sigterm_stops_datasette_and_leaves_no_temporary_file(crawled, tmp_path):
    """Issue 14 item 11: after SIGTERM, the old browse left Datasette serving and its metadata in /tmp."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    db = tmp_path / "archive.db"
    shutil.copy(crawled, db)
    port = free_port()
    browse = launcher.popen([*GLOSSARY, "browse", "--db", str(db), "--port", str(port), "--no-open"], cwd=ROOT,
                            env={**os.environ, "TMPDIR": str(tmp)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        pages = wait_for(f"http://127.0.0.1:{port}/archive/pages.json?_shape=array&_size=5")
        assert len(pages) == 5
        assert list(tmp.iterdir()) == []  # the metadata goes through Datasette's stdin: no file at all
        browse.send_signal(signal.SIGTERM)
        assert browse.wait(timeout=30) == 0
    finally:
        browse.kill()
    deadline = time.monotonic() + 10
    while answers(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not answers(port)
    assert list(tmp.iterdir()) == []


def test_a_port_in_use_is_a_one_line_error_not_a_locked_archive(crawled):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = launcher.run([*GLOSSARY, "browse", "--db", str(crawled), "--port", str(port), "--no-open"],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert_one_line_error(result, f"port {port} is in use", "--port")


def test_browse_serves_an_archive_on_a_read_only_filesystem(crawled, tmp_path):
    """Issue 14 item 7, for browse: Datasette is given the archive immutable (-i)."""
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    shutil.copy(crawled, shelf / "archive.db")
    port = free_port()
    mount = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && shift && exec "$@"'
    if subprocess.run(["unshare", "--mount", "sh", "-c", mount, "sh", str(shelf), "true"]).returncode != 0:
        pytest.skip("no read-only bind mount here (unshare --mount needs CAP_SYS_ADMIN)")
    browse = subprocess.Popen(["unshare", "--mount", "sh", "-c", mount, "sh", str(shelf), *GLOSSARY, "browse", "--db",
                               str(shelf / "archive.db"), "--port", str(port), "--no-open"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pages = wait_for(f"http://127.0.0.1:{port}/archive/pages.json?_shape=array&_size=3", timeout=30)
        assert len(pages) == 3
    finally:
        browse.send_signal(signal.SIGTERM)
        try:
            browse.wait(timeout=30)
        finally:
            browse.kill()
    assert sorted(p.name for p in shelf.iterdir()) == ["archive.db"]


@pytest.mark.parametrize("name", ["a#b.db", "a?b.db", "x%41.db"])
def test_an_archive_name_datasette_would_read_as_a_uri_is_refused_in_one_line(crawled, tmp_path, name):
    """Datasette opens file:PATH?mode=ro unescaped: 'a#b.db' opened (and created) a file 'a', served as an
    empty database; 'x%41.db' opened xA.db, or failed with a traceback."""
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    shutil.copy(crawled, shelf / name)
    result = launcher.run([*GLOSSARY, "browse", "--db", name, "--port", str(free_port()), "--no-open"],
                          cwd=shelf, capture_output=True, text=True, timeout=60)
    assert_one_line_error(result, "Datasette cannot open an archive whose path holds", "another name")
    assert {p.name for p in shelf.iterdir()} <= {name, f"{name}-wal", f"{name}-shm"}  # no file "a", no "xA.db"


def test_an_archive_named_like_an_option_and_a_port_in_time_wait_are_served(crawled, tmp_path):
    """'-h.db' reached Datasette as its -h option (a traceback); and a port whose last connection waits out
    TIME_WAIT, free to a server, was refused as in use, for a minute after browse was stopped."""
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    shutil.copy(crawled, shelf / "-h.db")
    with socket.socket() as listener:  # a connection the server side closes first: TIME_WAIT on its port
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()
        time.sleep(0.1)
        client.close()
    browse = launcher.popen([*GLOSSARY, "browse", "--db", "-h.db", "--port", str(port), "--no-open"], cwd=shelf,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pages = wait_for(f"http://127.0.0.1:{port}/-h/pages.json?_shape=array&_size=2")
        assert len(pages) == 2
        browse.send_signal(signal.SIGTERM)
        assert browse.wait(timeout=30) == 0
    finally:
        browse.kill()
        _, errors = browse.communicate()
    assert "Traceback" not in errors


FLOOD_WORDS = "xa xb xc xd xe xf xg xh".split()


class _Hostile(_Site):
    """Three definitions: one whose text is eight words over and over, a megabyte of them (its body text cut
    there: 347,115 words, each a hit of a search for them); one whose title hides '.exe' behind a right-to-left
    override; one that answers 404 once ``retired`` is set."""

    retired = False

    def markup(self) -> str | None:
        title, text = {
            "/definition/flood/": ("Flood", "".join(f"<p>{' '.join(FLOOD_WORDS * 6)}</p>" for _ in range(12_000))),
            "/definition/spoof/": ("Report \u202egnp.exe", "<p>A title that reads backwards, xa in its text. "
                                   f"{'Words to pass the cut of a table cell. ' * 10}Then \u2066hidden\u2069.</p>"),
            "/definition/retired/": ("Retired", "<p>A page the site took down, xa in its text.</p>"),
        }.get(self.path, (None, None))
        if title is None or (self.path == "/definition/retired/" and _Hostile.retired):
            return None
        return (f'<html lang="en-US"><head><title>{title} ⎊ Definition ⎊ Greeks.live</title></head><body>'
                f'<main><article><h1 class="entry-title">{title} ⎊ Definition</h1>'
                f'<div class="entry-content">{text}</div></article></main></body></html>')


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """An archive of _Hostile's pages, the retired one gone, served by glossary browse: its base URL."""
    db = tmp_path_factory.mktemp("hostile") / "archive.db"
    with _served(_Hostile) as site:
        pages = [a for p in ("flood", "spoof", "retired") for a in ("--start-url", f"{site}/definition/{p}/")]
        result = crawl(db, *pages, "--no-follow", "--ignore-robots")
        assert result.returncode == 0, result.stderr
        _Hostile.retired = True
        result = crawl(db, "--start-url", f"{site}/definition/retired/", "--no-follow", "--ignore-robots")
        assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT url, status FROM pages WHERE status = 'gone'") == [
        {"url": f"{site}/definition/retired/", "status": "gone"}]
    port = free_port()
    browse = launcher.popen([*GLOSSARY, "browse", "--db", str(db), "--port", str(port), "--no-open"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/archive/pages.json?_size=1")
        yield {"base": f"http://127.0.0.1:{port}/archive", "site": site, "db": db}
    finally:
        browse.send_signal(signal.SIGTERM)  # browse kills a Datasette that does not stop within 5 s
        try:
            browse.wait(timeout=30)
        finally:
            browse.kill()


def fetch(url, timeout=60):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def test_the_search_canned_query_answers_at_once_on_a_page_hit_all_through(hostile):
    """The canned query called FTS5's snippet() on every page it found, which is quadratic in a page's hits:
    on a page of 347,115 words, each a hit, it ran for minutes at a full core, past Datasette's time limit,
    and a query repeating a word did the same in bm25()."""
    query = urllib.parse.quote(" ".join(FLOOD_WORDS))
    started = time.monotonic()
    (found,) = json.loads(fetch(f"{hostile['base']}/search.json?_shape=array&q={query}", timeout=30))
    assert time.monotonic() - started < 10
    assert found["url"] == f"{hostile['site']}/definition/flood/"
    assert found["snippet"] == " ".join(f"[{w}]" for w in FLOOD_WORDS * 2) + " …"  # as glossary search has it
    started = time.monotonic()
    repeated = json.loads(fetch(f"{hostile['base']}/search.json?_shape=array&q={urllib.parse.quote('xa ' * 300)}",
                                timeout=30))
    assert time.monotonic() - started < 10
    assert sorted(r["url"] for r in repeated) == [f"{hostile['site']}/definition/{p}/"
                                                  for p in ("flood", "retired", "spoof")]


def test_the_search_canned_query_says_which_pages_are_gone(hostile):
    """The canned query listed a page the site took down as it listed live ones, where glossary search says
    '(definition, gone)': it has the page's status now."""
    found = json.loads(fetch(f"{hostile['base']}/search.json?_shape=array&q=xa"))
    assert {r["url"].removeprefix(hostile["site"]): r["status"] for r in found} == {
        "/definition/flood/": "live", "/definition/spoof/": "live", "/definition/retired/": "gone"}


def test_bidirectional_controls_are_shown_escaped_in_every_cell(hostile):
    """A title 'Report \u202egnp.exe' showed in Datasette's tables, row pages and query results as 'Report
    exe.png', the override acting on the text around it; they show it as show and search write it."""
    spoof = f"{hostile['site']}/definition/spoof/"
    row = f"{hostile['base']}/pages/{tilde_encode(spoof)}"
    table = fetch(f"{hostile['base']}/pages?url={urllib.parse.quote(spoof)}")
    query = fetch(f"{hostile['base']}/search?q=gnp")
    for page in (table, fetch(row), query):
        assert not set(page) & set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
        assert "Report \\u202egnp.exe" in page
    # Tables cut the text, the row page shows it whole, escapes and all.
    assert "Words to pass" in table and "Then \\u2066hidden\\u2069." not in table
    assert "Then \\u2066hidden\\u2069." in fetch(row)
    # Datasette's own labels and lists: a capture's URL labelled with its page's title, a facet's values.
    captures = fetch(f"{hostile['base']}/captures?url={urllib.parse.quote(spoof)}")
    facets = fetch(f"{hostile['base']}/pages?_facet=title")
    for page in (captures, facets):
        assert not set(page) & set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
        assert "Report \\u202egnp.exe" in page
    assert f'<a href="/archive/pages/{tilde_encode(spoof)}">Report \\u202egnp.exe</a>' in captures


def test_a_pages_row_links_its_versions_to_the_page_history_query(hostile):
    """The row page linked a page's versions to the page_versions view, which rebuilds every page's versions to
    answer about one (0.3-2.4 s on 30,000 pages); the page_history canned query answers in a millisecond."""
    spoof = f"{hostile['site']}/definition/spoof/"
    row = f"{hostile['base']}/pages/{tilde_encode(spoof)}"
    links = {(path, urllib.parse.unquote(html.unescape(value))) for path, value in
             re.findall(r'href="(/archive/[^"?]+)\?url=([^"]+)"', fetch(row))}
    assert ("/archive/page_history", spoof) in links
    assert not [path for path, _ in links if path.startswith("/archive/page_versions")]
    (version,) = json.loads(fetch(f"{hostile['base']}/page_history.json?_shape=array&url={urllib.parse.quote(spoof)}"))
    assert version["version"] == 1 and version["title"] == "Report \u202egnp.exe"


def test_the_front_page_lists_the_archives_tables_not_its_stored_forms(hostile):
    """Datasette's front page listed the tables with most rows, the stored forms of the views (link_rows, urls,
    link_texts) first, and left pages behind '...'. Those are hidden now, and answer at their URLs still."""
    database = json.loads(fetch(f"{hostile['base']}.json"))
    listed = {t["name"] for t in database["tables"] if not t["hidden"]} | {v["name"] for v in database["views"]}
    contract = {"pages", "sections", "links", "structured_data", "crawl_runs", "crawl_errors", "page_versions",
                "captures", "bodies", "jsonld", "jsonld_nodes", "broken_links", "orphan_pages", "one_way_related"}
    stored = {"urls", "link_texts", "link_rows", "section_spans", "versions", "staged", "frontier",
              "compression_dictionaries"}
    assert contract <= listed and not stored & listed
    front = fetch(hostile["base"].removesuffix("/archive") + "/")
    assert '<a href="/archive/pages"' in front and not re.search(r'href="/archive/(urls|link_texts|link_rows)"', front)
    for table in stored:
        assert "rows" in json.loads(fetch(f"{hostile['base']}/{table}.json?_size=1"))


def test_browse_help_says_datasettes_own_options_are_not_passed_on():
    """The help said 'Example:' over two examples, and nothing of Datasette's options (--host), which browse
    does not take: it says how to run Datasette with the archive's metadata instead."""
    result = launcher.run([*GLOSSARY, "browse", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "Examples:\n" in result.stdout and "Example:" not in result.stdout
    assert "Datasette's own options (--host, --setting, ...) are not passed on" in " ".join(result.stdout.split())
    assert "glossary_spider.metadata.datasette_metadata" in result.stdout
