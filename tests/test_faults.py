"""Crawls of the hostile replica (``glossary replica --faults``): every fault ends as expected.

One crawl of the whole hostile site is shared by most tests; robots.txt faults,
one per host, each get a small replica of their own.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest
from conftest import GLOSSARY, ROOT, Replica, crawl, lasting_port, rows, run_glossary

from glossary_spider.replica.faults import CRAWL_DELAY, FAULTS, SITEMAP_FILES, XSS_TITLE
from glossary_spider.replica.linktraps import CHAIN, CHAIN_LENGTH, LINK_TRAPS
from glossary_spider.replica.site import ReplicaSite

PAGES = 40
MOST_REQUESTS_PER_TRAP = 50


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    server = Replica(tmp_path_factory.mktemp("hostile"), PAGES, 1, "--faults")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def attacked(hostile, tmp_path_factory):
    """The hostile site crawled by name (localhost) from its home page and sitemap index."""
    db = tmp_path_factory.mktemp("attacked") / "faults.db"
    started = time.monotonic()
    process = subprocess.Popen(
        [*GLOSSARY, "crawl", "--db", str(db), "--start-url", f"{hostile.named_url}/",
         "--sitemap", f"{hostile.named_url}/sitemap_index.xml", "--delay", "0", "--concurrency", "8",
         "--timeout", "4", "--no-progress"],  # past what a loaded machine may take to answer an ordinary page
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return {"db": db, "server": hostile, "seconds": time.monotonic() - started, "exit": process.returncode,
            "stdout": stdout, "peak_rss_mib": usage.ru_maxrss / 1024}


def _errors_for(attacked, fault):
    base = attacked["server"].named_url
    if fault.trap:  # the row names the first URL refused
        return rows(attacked["db"], "SELECT * FROM crawl_errors WHERE url LIKE ? || '%'", (base + fault.trap,))
    return rows(attacked["db"], "SELECT * FROM crawl_errors WHERE url = ?", (base + fault.path,))


def test_the_hostile_crawl_finishes_in_bounded_time_and_memory(attacked):
    assert attacked["exit"] == 0, attacked["stdout"]
    # Bounds, not timings: the never-answering page alone would take forever without them,
    # and the 64 MiB bomb and 20 MiB pages would each cost their size in memory.
    assert attacked["seconds"] < 120
    assert attacked["peak_rss_mib"] < 600
    (run,) = rows(attacked["db"], "SELECT finish_reason FROM crawl_runs")
    assert run["finish_reason"] == "finished"


@pytest.mark.parametrize("fault", [f for f in FAULTS if f.expect.startswith("error:")], ids=lambda f: f.name)
def test_each_failure_is_one_error_row_naming_it(attacked, fault):
    _, stage, words = fault.expect.split(":", 2)
    found = _errors_for(attacked, fault)
    assert len(found) == 1, found
    assert found[0]["stage"] == stage
    assert words.lower() in found[0]["error"].lower(), found[0]


@pytest.mark.parametrize("fault", [f for f in FAULTS if f.expect == "archived"], ids=lambda f: f.name)
def test_each_survivable_fault_leaves_its_page_archived(attacked, fault):
    base = attacked["server"].named_url
    path = urlsplit(fault.path).path
    if fault.name in ("gzip-sitemap", "text-sitemap", "feed-sitemap", "atom-sitemap", "utf16-sitemap"):
        path = f"/definition/fault-only-in-{fault.name}/"
    elif fault.name == "offsite-sitemap":
        path = "/definition/fault-offsite-sitemap/"
    (page,) = rows(attacked["db"], "SELECT * FROM pages WHERE url = ?", (base + path,))
    assert page["status"] == "live" and page["title"]
    fetch_errors = rows(attacked["db"], "SELECT * FROM crawl_errors WHERE url = ? AND stage = 'fetch'",
                        (base + path,))
    assert fetch_errors == []


def test_a_sitemap_entry_that_names_a_file_is_not_requested(attacked):
    """A sitemap listing a PDF, an image or an archive on the crawl's host had each fetched (16 MiB at most)
    and counted a failed page of the run, where a link to it is not followed: neither is the entry."""
    asked = {r["path"] for r in attacked["server"].requests()}
    assert "/definition/fault-offsite-sitemap/" in asked
    assert asked.isdisjoint(SITEMAP_FILES)
    assert not [r for r in rows(attacked["db"], "SELECT url FROM captures") if r["url"].endswith(SITEMAP_FILES)]


def test_an_answer_twisted_cannot_read_is_not_asked_for_again(attacked):
    """A status line that is no HTTP/1.x is the server's error, the same at every asking: it was asked for
    three times, and each counted as a site that did not answer."""
    path = next(f.path for f in FAULTS if f.name == "bad-status-line")
    assert sum(r["path"] == path for r in attacked["server"].requests()) == 1


def test_a_page_with_thousands_of_headers_is_archived_with_the_first_16_kib_of_them(attacked):
    """500 KiB of headers on one response would grow the archive by as much with every such page, and a
    4 KiB ETag sent back would fail every later request for it: the capture keeps the first 16 KiB of
    headers and no ETag, the page is archived, and a row says what was cut."""
    url = attacked["server"].named_url + "/definition/fault-many-headers/"
    assert rows(attacked["db"], "SELECT status FROM pages WHERE url = ?", (url,)) == [{"status": "live"}]
    (capture,) = rows(attacked["db"], "SELECT etag, length(headers) AS size, headers FROM captures WHERE url = ?",
                      (url,))
    assert capture["etag"] is None and 15_000 < capture["size"] <= 16 * 1024
    assert capture["headers"].count("X-Filler-") < 200
    (cut,) = rows(attacked["db"], "SELECT error FROM crawl_errors WHERE url = ?", (url,))
    assert re.fullmatch(r"headers cut: 4,8\d\d response headers past the first 16 KiB not kept; "
                        r"ETag of 4,098 bytes, longer than 1 KiB, not kept", cut["error"])


def test_every_good_page_is_archived(attacked):
    base = attacked["server"].named_url
    archived = {r["url"] for r in rows(attacked["db"], "SELECT url FROM pages")}
    expected = {base + path for path in ReplicaSite(PAGES).glossary_paths()}
    assert expected - archived == set()


def test_text_survives_broken_encodings(attacked):
    base = attacked["server"].named_url

    def page(name):
        (found,) = rows(attacked["db"], "SELECT * FROM pages WHERE url = ?", (f"{base}/definition/fault-{name}/",))
        return found

    assert page("lying-charset")["title"] == "Fault lying-charset: Black–Scholes café"
    assert "Δ, Γ, ν, Θ — priced in €" in page("lying-charset")["body_text"]
    assert "\x00" not in page("nul-bytes")["body_text"] and "reads normally" in page("nul-bytes")["body_text"]
    assert "\ufffd" in page("invalid-utf8")["body_text"]  # undecodable bytes replaced, the rest kept
    # lxml stops reading 2,048 levels down: the page is kept with the text above that.
    assert page("deep-html")["title"] == "Fault deep-html" and "Shallow text first." in page("deep-html")["body_text"]
    assert page("xss")["title"] == XSS_TITLE


def test_nothing_is_archived_twice(attacked):
    db = attacked["db"]
    assert rows(db, "SELECT url FROM captures GROUP BY url HAVING count(*) > 1") == []
    assert rows(db, "SELECT url FROM crawl_errors GROUP BY url HAVING count(*) > 1") == []
    # The page reached with tracking parameters, a fragment and a capitalised host is one row.
    aliases = rows(db, "SELECT url FROM pages WHERE url LIKE '%fault-aliases%'")
    assert aliases == [{"url": f"{attacked['server'].named_url}/definition/fault-aliases/"}]
    served = [r["time"] for r in attacked["server"].requests() if r["path"] == "/definition/fault-aliases/"]
    # One request; a second only as the retry of one the crawl gave up waiting for (--timeout 2), which a
    # loaded machine can cause: never two requests for its aliases at once.
    assert len(served) == 1 or (len(served) == 2 and served[1] - served[0] >= 1.9), served


TRAPS = {f.name: f.trap for f in FAULTS if f.trap} | {t.name: t.prefix for t in LINK_TRAPS}


def _requests_per_trap(attacked):
    served = Counter()
    for r in attacked["server"].requests():
        served.update(name for name, prefix in TRAPS.items() if r["path"].startswith(prefix.split("?")[0]))
    return served


def test_every_trap_is_cut_within_50_requests_under_default_settings(attacked):
    served = _requests_per_trap(attacked)
    print("\nrequests per trap (default settings): "
          + ", ".join(f"{name} {served[name]}" for name in sorted(TRAPS)))
    assert set(served) == set(TRAPS), "a trap was never entered: the test would prove nothing"
    assert max(served.values()) <= MOST_REQUESTS_PER_TRAP, served


@pytest.mark.parametrize("trap", LINK_TRAPS, ids=lambda t: t.name)
def test_each_link_trap_is_one_error_row_with_its_kind(attacked, trap):
    base = attacked["server"].named_url
    (row,) = rows(attacked["db"], "SELECT * FROM crawl_errors WHERE stage = 'trap' AND url LIKE ? || '%'",
                  (base + trap.prefix.split("?")[0],))
    assert row["error"].startswith("link trap: ") and row["error"].endswith("; no more followed"), row
    assert row["error"].split(": ")[1].split(";")[0] in (
        "nested path", "path too deep", "pages that add nothing", "chain of pages that add nothing")
    assert f"{row['error']}: {row['url']}" in attacked["stdout"]  # a line of the summary


def test_a_long_chain_of_real_pages_is_archived_whole(attacked):
    base = attacked["server"].named_url
    chain = rows(attacked["db"], "SELECT url, title, body_text FROM pages WHERE url LIKE ? || '%'", (base + CHAIN,))
    print(f"\nlongest legitimate chain archived: {len(chain)} of {CHAIN_LENGTH} pages")
    assert len(chain) == CHAIN_LENGTH
    assert len({page["body_text"] for page in chain}) == CHAIN_LENGTH
    assert rows(attacked["db"], "SELECT * FROM crawl_errors WHERE url LIKE ? || '%'", (base + CHAIN,)) == []


def test_a_family_is_not_cut_while_its_pages_are_being_extracted(make_replica, tmp_path):
    """Each page of the replica has text of its own, so whatever the trap budget, its families earn all
    their URLs. A page was counted as answered before its extraction (in a worker) was done: a family
    whose budget was all in flight then looked as if it could earn no more, and was cut, its held URLs
    never fetched (the definitions after a --resume, or with a small --trap-budget)."""
    replica = make_replica(200)
    assert crawl(tmp_path / "default.db", "--start-url", replica.url).returncode == 0
    result = crawl(tmp_path / "small.db", "--start-url", replica.url, "--trap-budget", "1", "--workers", "1")
    assert result.returncode == 0, result.stderr
    urls = "SELECT url FROM pages ORDER BY url"
    assert rows(tmp_path / "small.db", urls) == rows(tmp_path / "default.db", urls)
    assert rows(tmp_path / "small.db", "SELECT * FROM crawl_errors WHERE stage = 'trap'") == []


def test_retries_back_off_and_respect_retry_after(attacked):
    def gaps(path):
        times = [r["time"] for r in attacked["server"].requests() if r["path"] == path]
        return [b - a for a, b in zip(times, times[1:])]

    # 500 twice: retried after 1 s, then after 2 s (the back-off doubles).
    first, second = gaps("/definition/fault-retry-500/")
    assert first >= 0.95 and second >= 1.95
    # Retry-After: 2 on the first answer: the one retry waits at least that long.
    (wait,) = gaps("/definition/fault-retry-503/")
    assert wait >= 1.95
    # The same with a body declared gzip that is not: the status, and its Retry-After, decide.
    (wait,) = gaps("/definition/fault-retry-503-not-gzip/")
    assert wait >= 0.95
    # A gzip stream cut short: asked for again after the same back-off, then given up.
    first, second = gaps("/definition/fault-cut-gzip/")
    assert first >= 0.95 and second >= 1.95
    # Retry-After: 86400 is not waited for: one request, given up at once.
    assert gaps("/definition/fault-retry-after-long/") == []
    # 503 forever: three attempts in all, then one error row.
    assert len(gaps("/definition/fault-always-503/")) == 2


def test_no_request_leaves_the_allowed_host(attacked):
    server = attacked["server"]
    # Links and sitemap entries to this very server by IP address (127.0.0.1, 127.1,
    # 2130706433, [::1] ...) are other hosts when the crawl was given a name: none was followed.
    assert {r["host"] for r in server.requests()} == {f"localhost:{server.port}"}
    hosts = {urlsplit(r["url"]).netloc for r in rows(attacked["db"], "SELECT url FROM captures")}
    assert hosts == {f"localhost:{server.port}"}


@pytest.mark.parametrize("mode, status", [("error", 500), ("rate-limited", 429)])
def test_robots_txt_that_cannot_be_had_disallows_the_host_as_a_site_that_did_not_answer(
        make_replica, tmp_path, mode, status):
    """RFC 9309: a robots.txt that cannot be had, a 5xx as much as a time-out, disallows the host; so does
    a 429, the site asking for fewer requests (another 4xx would allow everything). The pages were not
    refused by the site's rules but left unfetched by its outage: the run ends as one (exit 6), and
    --resume tries them again."""
    server = make_replica(PAGES, 1, "--faults", "--robots", mode, port=lasting_port())
    db = tmp_path / "robots.db"
    result = crawl(db, "--start-url", f"{server.url}/", "--no-follow")
    assert result.returncode == 6, result.stderr
    assert "the site did not answer, or refused us: 1 of 1 fetches failed" in result.stderr
    assert [r["path"] for r in server.requests()] == ["/robots.txt"] * 3  # retried, then given up
    (error,) = rows(db, "SELECT url, error FROM crawl_errors")
    assert error == {"url": f"{server.url}/",
                     "error": f"robots.txt answered HTTP {status}: the host is treated as disallowed"}
    assert rows(db, "SELECT count(*) AS n FROM pages")[0]["n"] == 0
    assert rows(db, "SELECT finish_reason, exit_status FROM crawl_runs") == [
        {"finish_reason": "unreachable", "exit_status": 6}]

    # Once robots.txt answers again, --resume fetches the page the outage left.
    server.stop()
    server = make_replica(PAGES, 1, port=server.port)
    result = crawl(db, "--resume")
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT url FROM pages") == [{"url": f"{server.url}/"}]
    assert rows(db, "SELECT finish_reason FROM crawl_runs") == [{"finish_reason": "finished"}]


def test_a_robots_txt_is_read_in_any_encoding_a_page_may_come_in_and_whole_or_not_at_all(make_replica, tmp_path):
    """A robots.txt in brotli (a server that ignores Accept-Encoding) disallowed the whole host, as a site
    that did not answer; one gzipped and cut halfway was read as far as it went, and the pages its lost
    last rule forbids were fetched. Each is read as a page is: whole, in any encoding, or not at all."""
    paths = ["/area/funding/", "/definition/international-legal-cooperation/"]

    server = make_replica(PAGES, 1, "--faults", "--robots", "brotli")
    db = tmp_path / "brotli.db"
    result = crawl(db, "--no-follow", *[a for p in paths for a in ("--start-url", server.url + p)])
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT url FROM pages") == [{"url": server.url + paths[0]}]
    assert rows(db, "SELECT url, error FROM crawl_errors") == [
        {"url": server.url + paths[1], "error": "Forbidden by robots.txt"}]

    server = make_replica(PAGES, 1, "--faults", "--robots", "cut-gzip")
    db = tmp_path / "cut.db"
    result = crawl(db, "--no-follow", *[a for p in paths for a in ("--start-url", server.url + p)])
    assert result.returncode == 6, result.stderr
    assert [r["path"] for r in server.requests()] == ["/robots.txt"]
    assert rows(db, "SELECT count(*) AS n FROM pages") == [{"n": 0}]
    assert {r["error"] for r in rows(db, "SELECT error FROM crawl_errors")} == {
        "robots.txt body cut short: its gzip stream stops before its end: the host is treated as disallowed"}


def test_robots_txt_disallowing_everything_is_obeyed(make_replica, tmp_path):
    """Obeyed, it leaves a first crawl nothing to archive: the crawl ends empty (exit 1), as a crawl of URLs
    that all answer 404 does, not "finished"."""
    server = make_replica(PAGES, 1, "--faults", "--robots", "disallow-all")
    db = tmp_path / "robots.db"
    result = crawl(db, "--start-url", f"{server.url}/", "--sitemap", f"{server.url}/sitemap_index.xml")
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Error: crawl #1 left the archive with no page: 2 URLs were forbidden by "
                                    "robots.txt (see 'glossary report'): check the start URLs"), result.stderr
    assert [r["path"] for r in server.requests()] == ["/robots.txt"]
    assert {r["error"] for r in rows(db, "SELECT error FROM crawl_errors")} == {"Forbidden by robots.txt"}


def test_robots_txt_holds_for_every_request_made_while_it_is_fetched(make_replica, tmp_path):
    """Several start URLs ask for the host's robots.txt at once. Scrapy hands the parser to the first
    request that waited for it only, and let the others through unchecked: with robots.txt disallowing
    everything, one page was fetched and archived all the same."""
    server = make_replica(PAGES, 1, "--faults", "--robots", "disallow-all")
    db = tmp_path / "robots.db"
    paths = ["/about/", "/area/funding/", "/term/legal-risk-management/",
             "/definition/international-legal-cooperation/"]
    result = crawl(db, "--no-follow", *[a for p in paths for a in ("--start-url", server.url + p)])
    assert result.returncode == 1, result.stderr  # empty: no page archived
    assert [r["path"] for r in server.requests()] == ["/robots.txt"]
    assert rows(db, "SELECT url FROM pages") == []
    assert sorted((r["url"], r["error"]) for r in rows(db, "SELECT url, error FROM crawl_errors")) == sorted(
        (server.url + p, "Forbidden by robots.txt") for p in paths)


def test_a_robots_txt_redirected_to_its_site_is_followed_and_elsewhere_is_named(make_replica, tmp_path):
    """RFC 9309 asks crawlers to follow a robots.txt redirect, even to another host: its site's rules are
    there (www or apex, a CDN name; here the same server by another loopback name), and they hold. Sent to
    an unrelated host, it is not followed: the host is disallowed, and each page's row says why."""
    server = make_replica(PAGES, 1, "--faults", "--robots", "redirect-site")
    db = tmp_path / "site.db"
    paths = ["/about/", "/definition/international-legal-cooperation/"]
    result = crawl(db, "--no-follow", *[a for p in paths for a in ("--start-url", server.url + p)])
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT url FROM pages") == [{"url": server.url + "/about/"}]
    assert rows(db, "SELECT url, error FROM crawl_errors") == [
        {"url": server.url + paths[1], "error": "Forbidden by robots.txt"}]
    assert [r["path"] for r in server.requests()].count("/robots.txt") == 2  # asked, then at the other name

    server, db, result = _crawl_about(make_replica, tmp_path, "redirect-away")
    assert result.returncode == 6, result.stderr
    assert rows(db, "SELECT error FROM crawl_errors") == [
        {"error": "robots.txt could not be read (outside the allowed hosts: http://rules.example/robots.txt): "
                  "the host is treated as disallowed"}]
    assert [r["path"] for r in server.requests()] == ["/robots.txt"]


def _crawl_about(make_replica, tmp_path, robots):
    """The about page of a hostile replica whose robots.txt misbehaves as ``robots`` says, crawled alone."""
    server = make_replica(PAGES, 1, "--faults", "--robots", robots)
    db = tmp_path / f"{robots}.db"
    return server, db, crawl(db, "--no-follow", "--start-url", server.url + "/about/")


def test_a_robots_txt_that_redirects_in_a_loop_is_read_as_none(make_replica, tmp_path):
    """RFC 9309 lets a crawler take a robots.txt its redirects never reach for unavailable, as one not found:
    no rules. A loop disallowed the host, the page's row said only "robots.txt could not be read", and the
    run ended as a site that did not answer (exit 6) though it had answered every request."""
    server, db, result = _crawl_about(make_replica, tmp_path, "redirect-loop")
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT url FROM pages") == [{"url": server.url + "/about/"}]
    loop = f"{server.url}/robots.txt -> {server.url}/robots.txt?moved=1 -> {server.url}/robots.txt"
    assert rows(db, "SELECT url, stage, error FROM crawl_errors") == [
        {"url": server.url + "/robots.txt", "stage": "robots",
         "error": f"robots.txt not reached (redirect loop: {loop}): read as no rules, as a robots.txt not found is"}]

    # Sent to a target that is no URL, it is the server's error: the host is disallowed, as for a 5xx, and why.
    server, db, result = _crawl_about(make_replica, tmp_path, "redirect-broken")
    assert result.returncode == 6, result.stderr
    assert rows(db, "SELECT url FROM pages") == []
    assert rows(db, "SELECT error FROM crawl_errors") == [
        {"error": "robots.txt could not be read (redirect to an invalid URL: 'http://[::1/robots.txt' (Invalid IPv6 "
                  "URL)): the host is treated as disallowed"}]
    # Sent to another scheme, which Scrapy does not follow: the same. It was read as no rules, and said nothing.
    server, db, result = _crawl_about(make_replica, tmp_path, "redirect-ftp")
    assert result.returncode == 6, result.stderr
    assert rows(db, "SELECT error FROM crawl_errors") == [
        {"error": "robots.txt could not be read (HTTP 301 to 'ftp://127.0.0.1/robots.txt', not followed): the host "
                  "is treated as disallowed"}]


def test_a_refresh_that_robots_txt_now_forbids_says_so_for_every_page_it_left(make_replica, tmp_path):
    """The site's robots.txt now disallows everything: a refresh obeys, and every archived page it could
    not refresh is a failed page of the run (not a silent night with nothing new); the pages stay live."""
    server = make_replica(PAGES, 1, port=lasting_port())
    db = tmp_path / "robots.db"
    assert crawl(db, "--start-url", f"{server.url}/", "--no-follow").returncode == 0
    server.stop()
    server = make_replica(PAGES, 1, "--faults", "--robots", "disallow-all", port=server.port)
    result = run_glossary("refresh", "--db", str(db), "--delay", "0", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["pages_failed"], summary["changes"]) == (1, 0)
    assert [r["path"] for r in server.requests()] == ["/robots.txt"]
    assert rows(db, "SELECT url, stage, error FROM crawl_errors WHERE run_id = 2") == [
        {"url": f"{server.url}/", "stage": "fetch", "error": "Forbidden by robots.txt"}]
    assert rows(db, "SELECT status FROM pages") == [{"status": "live"}]


def archive_one_fault_page(make_replica, tmp_path, name):
    """The hostile replica, and an archive of its fault page ``name`` alone: the first fetch of it."""
    server = make_replica(PAGES, 1, "--faults")
    db, url = tmp_path / f"{name}.db", f"{server.url}/definition/fault-{name}/"
    result = crawl(db, "--start-url", url, "--no-follow")
    assert result.returncode == 0, result.stderr
    return server, db, url


def refresh_json(db, *args):
    """A refresh of ``db`` without delay: its one-line JSON summary."""
    result = run_glossary("refresh", "--db", str(db), "--delay", "0", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_an_etag_with_a_byte_past_ascii_is_sent_back_as_it_came(make_replica, tmp_path):
    """The capture keeps the ETag decoded as Latin-1; Scrapy would send it back encoded as UTF-8, which
    never matches: every refresh fetched the page in full."""
    _, db, _ = archive_one_fault_page(make_replica, tmp_path, "latin1-etag")
    assert rows(db, "SELECT etag FROM captures") == [{"etag": '"v\xe9-1"'}]
    refresh_json(db)
    assert rows(db, "SELECT http_status, outcome FROM captures WHERE run_id = 2") == [
        {"http_status": 304, "outcome": "not_modified"}]


def test_a_304_naming_a_newer_version_than_the_one_asked_about_is_asked_again(make_replica, tmp_path):
    """A 304 carries the current version's ETag (RFC 9110): one that is not the ETag sent says the page has
    changed, whatever the status. It was taken as "not modified", and the edit missed (and then hidden by
    the sitemap's lastmod for a week); the page is now asked for again, without validators."""
    _, db, _ = archive_one_fault_page(make_replica, tmp_path, "lying-304")
    refresh_json(db)
    assert rows(db, "SELECT http_status, outcome, etag FROM captures WHERE run_id = 2") == [
        {"http_status": 200, "outcome": "changed", "etag": '"v2"'}]
    assert rows(db, "SELECT version, body_text FROM pages") == [{"version": 2, "body_text": "Version 2 of the page."}]


def test_a_304_whose_etag_matches_is_taken_whatever_its_last_modified(make_replica, tmp_path):
    """A server that dates every answer the moment it sends it, its 304s too, with one ETag for good: the
    later Last-Modified was taken for a newer version, and each unchanged page cost a 304 and its whole
    body again, every night. The matching ETag decides, as If-None-Match does."""
    _, db, _ = archive_one_fault_page(make_replica, tmp_path, "dated-now")
    time.sleep(1.1)  # a Last-Modified later than the one archived
    summary = refresh_json(db)
    assert summary["pages_not_modified"] == 1, summary
    assert rows(db, "SELECT http_status, outcome FROM captures WHERE run_id = 2") == [
        {"http_status": 304, "outcome": "not_modified"}]


def test_a_gzip_stream_cut_short_is_a_failed_fetch_and_the_page_stays_as_archived(make_replica, tmp_path):
    """A proxy closed the answer in the middle of its gzip stream, its Content-Length matching what came:
    Scrapy inflated the half it had, and the refresh archived it as the page's new version, with no error."""
    server, db, url = archive_one_fault_page(make_replica, tmp_path, "cut-gzip-later")
    before = rows(db, "SELECT version, title, body_text, content_hash FROM pages")
    summary = refresh_json(db, "--max-age", "0")
    assert (summary["pages_failed"], summary["changes"]) == (1, 0)
    # Asked for again as a body shorter than its Content-Length is (the replica's cut-gzip-once: whole then).
    assert sum(r["path"] == urlsplit(url).path for r in server.requests()) == 1 + 3
    assert rows(db, "SELECT version, title, body_text, content_hash FROM pages") == before
    assert rows(db, "SELECT stage, error FROM crawl_errors WHERE run_id = 2") == [
        {"stage": "fetch", "error": "body cut short: its gzip stream stops before its end"}]


def test_a_last_modified_in_the_future_is_no_validator_and_hides_no_edit(make_replica, tmp_path):
    """A server's clock or CMS dated the page in the year 2100, with no ETag. Each refresh sent that date as
    If-Modified-Since, and a server answering 304 to any date not before the page's (the usual test) hid
    every later edit for good: the edit, dated now, was "not modified". A date past the moment the page was
    fetched is sent no more, and a 304 dating the page otherwise than asked is the page changed."""
    server, db, url = archive_one_fault_page(make_replica, tmp_path, "dated-ahead")
    summary = refresh_json(db)
    assert summary["pages_changed"] == 1, summary
    assert rows(db, "SELECT version, body_text FROM pages") == [{"version": 2, "body_text": "Version 2 of the page."}]
    asked = [r for r in server.requests() if r["path"] == urlsplit(url).path]
    assert [r["status"] for r in asked] == [200, 200]


def test_a_page_cut_short_where_its_end_is_the_close_is_no_new_version(make_replica, tmp_path):
    """An answer with no Content-Length ends at the connection's close, so one closed early looks whole to HTTP
    (Scrapy flags every such answer "partial", whole ones too). A refresh archived the first half of the page as
    its new version, and the next, whole again, as another: two changes the site never made."""
    server, db, url = archive_one_fault_page(make_replica, tmp_path, "close-cut-later")
    before = rows(db, "SELECT version, title, body_text, content_hash FROM pages")
    summary = refresh_json(db, "--max-age", "0")
    assert (summary["pages_failed"], summary["changes"]) == (1, 0), summary
    assert rows(db, "SELECT version, title, body_text, content_hash FROM pages") == before
    assert rows(db, "SELECT stage, error FROM crawl_errors WHERE run_id = 2") == [
        {"stage": "parse", "error": "cut short: the page stops before its </html>, with fewer words (2,200 → "
                                    "1,097) than the archived version, which ends with one; it stays as it was"}]
    assert rows(db, "SELECT outcome FROM captures WHERE run_id = 2") == [{"outcome": "failed"}]


def test_a_page_cut_short_after_its_text_is_no_new_version_and_keeps_its_validators(make_replica, tmp_path):
    """A 200 cut short after the page's text, a new ETag with it: every word there, the related links and the
    JSON-LD lost. The gate's cut check looked only at pages with fewer words: the refresh archived the cut
    answer as a new version, its ETag the page's, and the next refresh the whole page as yet another."""
    server, db, url = archive_one_fault_page(make_replica, tmp_path, "cut-after-text-later")
    before = rows(db, "SELECT version, content_hash, word_count FROM pages")
    (whole,) = rows(db, "SELECT etag, last_modified FROM captures")
    summary = refresh_json(db)
    assert (summary["pages_failed"], summary["changes"], summary["exit_status"]) == (1, 0, 0), summary
    assert summary["gate"]["cut"] == {"count": 1, "examples": [url]}
    assert rows(db, "SELECT version, content_hash, word_count FROM pages") == before
    assert rows(db, "SELECT count(*) AS n FROM links WHERE kind = 'related'") == [{"n": 3}]
    assert rows(db, "SELECT count(*) AS n FROM structured_data WHERE syntax = 'json-ld'") == [{"n": 1}]
    assert rows(db, "SELECT stage, error FROM crawl_errors WHERE run_id = 2") == [
        {"stage": "parse", "error": "cut short: the page stops before its </html>, with fewer links (3 → 1), "
                                    "characters of link text (94 → 29) and structured data items (1 → 0) than the "
                                    "archived version, which ends with one; it stays as it was"}]
    (cut,) = rows(db, "SELECT outcome, etag, last_modified FROM captures WHERE run_id = 2")
    assert cut["outcome"] == "failed" and cut["etag"] != whole["etag"]
    # The next refresh asks with the whole page's validators, not the cut answer's: 304, and nothing new.
    summary = refresh_json(db)
    assert (summary["changes"], summary["pages_failed"], summary["pages_not_modified"]) == (0, 0, 1), summary
    assert rows(db, "SELECT http_status, outcome FROM captures WHERE run_id = 3") == [
        {"http_status": 304, "outcome": "not_modified"}]
    assert rows(db, "SELECT version, content_hash, word_count FROM pages") == before
    assert [r["status"] for r in server.requests() if r["path"] == urlsplit(url).path] == [200, 200, 304]


def test_a_page_restamped_at_every_answer_is_no_news_and_keeps_its_history_whole(make_replica, tmp_path):
    """A CMS that stamps each rendering: a JSON-LD dateModified of the moment and a view count one higher.
    Each refresh archived a new version of the same words, and a scheduler never saw `changes: 0`. Then,
    once the words stood still, the page's row taking the new stamp lost the record of every earlier
    version: each is kept as what differs from the next, and the rows it was kept against had changed."""
    from glossary_spider.storage.history import page_history

    _, db, _ = archive_one_fault_page(make_replica, tmp_path, "restamped")
    edited = refresh_json(db, "--max-age", "0")
    assert edited["pages_changed"] == 1
    (before,) = rows(db, "SELECT url, modified, content_hash, version FROM pages")
    first = page_history(sqlite3.connect(db), before["url"])[0]
    summary = refresh_json(db, "--max-age", "0")
    assert (summary["changes"], summary["pages_unchanged"]) == (0, 1)
    (after,) = rows(db, "SELECT url, modified, content_hash, version FROM pages")
    assert (after["content_hash"], after["version"]) == (before["content_hash"], 2)
    assert after["modified"] > before["modified"]
    (data,) = [json.loads(r["data"]) for r in rows(db, "SELECT data FROM structured_data")]
    assert data["interactionStatistic"]["userInteractionCount"] == 3
    assert rows(db, "SELECT count(*) AS n FROM versions") == [{"n": 2}]
    history = page_history(sqlite3.connect(db), after["url"])
    assert history[0]["record"] == first["record"] and first["record"] is not None
    assert history[0]["body_text"].endswith("were edited once, after its first answer.")


def test_a_page_that_comes_back_blank_stays_as_archived_and_is_a_failed_page(make_replica, tmp_path):
    """An empty 200 (a broken cache, an answer cut short) became the page's current version: no title, no
    text, in search and in history. It is a failed page of the run now, and the page stays as it was."""
    _, db, _ = archive_one_fault_page(make_replica, tmp_path, "blank-later")
    before = rows(db, "SELECT version, title, body_text, content_hash FROM pages")
    summary = refresh_json(db, "--max-age", "0")
    assert (summary["pages_failed"], summary["changes"]) == (1, 0)
    assert rows(db, "SELECT version, title, body_text, content_hash FROM pages") == before
    assert before[0]["title"] == "Fault blank-later"
    assert rows(db, "SELECT stage, error FROM crawl_errors WHERE run_id = 2") == [
        {"stage": "parse", "error": "blank: no text, where the archived version has some; it stays as it was"}]
    assert rows(db, "SELECT outcome FROM captures WHERE run_id = 2") == [{"outcome": "failed"}]
    # A reparse reads the body the archive holds, not the blank one it refused: it took the blank for the
    # page's new version, and emptied its row.
    reparsed = run_glossary("reparse", "--db", str(db), "--workers", "1", "--no-progress")
    assert reparsed.returncode == 0, reparsed.stderr
    assert rows(db, "SELECT version, title, body_text, content_hash FROM pages") == before


def test_pages_past_the_size_limit_fail_without_the_site_counting_as_down(make_replica, tmp_path):
    """A site that answers, but with bodies past the size limit or that cannot be decoded, answered:
    the pages failed (an error row each: with no other page archived, the run ends empty, exit 1); it is
    not "a site that did not answer" (exit 6), which a --resume would meet again the same way."""
    server = make_replica(PAGES, 1, "--faults")
    db = tmp_path / "big.db"
    names = ["gzip-bomb", "oversize", "oversize-chunked", "corrupt-gzip", "not-brotli", "not-zstd", "cut-gzip"]
    starts = [arg for name in names for arg in ("--start-url", f"{server.url}/definition/fault-{name}/")]
    result = crawl(db, *starts, "--no-follow", "--timeout", "5")
    assert result.returncode == 1, result.stdout + result.stderr
    assert rows(db, "SELECT finish_reason, pages_failed FROM crawl_runs") == [
        {"finish_reason": "empty", "pages_failed": len(names)}]
    errors = {r["url"].split("fault-")[1]: r["error"] for r in rows(db, "SELECT url, error FROM crawl_errors")}
    assert errors == {"gzip-bomb/": "larger than the size limit after decompression",
                      "oversize/": "larger than the size limit", "oversize-chunked/": "larger than the size limit",
                      "corrupt-gzip/": "body cannot be decoded (bad Content-Encoding)",
                      "not-brotli/": "body cannot be decoded (bad Content-Encoding)",
                      "not-zstd/": "body cannot be decoded (bad Content-Encoding)",
                      "cut-gzip/": "body cut short: its gzip stream stops before its end"}


def test_a_sitemap_robots_txt_forbids_is_an_error_row_not_a_run_with_nothing_to_do(make_replica, tmp_path):
    """A sitemap the user named that robots.txt disallows was dropped in silence: the run read nothing,
    said "nothing new" and passed runs --check. Its run, which archived nothing, ends empty."""
    server = make_replica(PAGES)
    db = tmp_path / "drafts.db"
    result = crawl(db, "--sitemap", f"{server.url}/drafts/sitemap.xml", "--no-follow")
    assert result.returncode == 1, result.stderr
    assert run_glossary("runs", "--db", str(db), "--check").returncode == 1
    assert rows(db, "SELECT url, stage, error FROM crawl_errors") == [
        {"url": f"{server.url}/drafts/sitemap.xml", "stage": "fetch", "error": "Forbidden by robots.txt"}]


def test_a_page_redirected_for_now_has_not_gone(make_replica, tmp_path):
    """A 307 (or 302, 303) says "elsewhere, for now": a maintenance window sending every page to one
    notice marked each page gone. The page stays live, as archived; its fetch failed this time."""
    server, db, url = archive_one_fault_page(make_replica, tmp_path, "away-for-now")
    summary = refresh_json(db)
    assert (summary["pages_gone"], summary["pages_failed"]) == (0, 1)
    assert rows(db, "SELECT status, version FROM pages WHERE url = ?", (url,)) == [{"status": "live", "version": 1}]
    assert rows(db, "SELECT http_status, error FROM crawl_errors WHERE run_id = 2 AND url = ?", (url,)) == [
        {"http_status": 307, "error": f"HTTP 307: a temporary redirect to {server.url}/definition/fault-offsite-target/;"
                                      " the page stays as archived"}]


def test_a_huge_robots_txt_is_read_to_500_kib_only(make_replica, tmp_path):
    server = make_replica(PAGES, 1, "--faults", "--robots", "huge")
    db = tmp_path / "robots.db"
    result = crawl(db, "--start-url", f"{server.url}/", "--no-follow")
    assert result.returncode == 0, result.stderr
    # The "Disallow: /" past 2 MiB of comments is never read; the page is archived.
    assert rows(db, "SELECT url FROM pages") == [{"url": f"{server.url}/"}]


def test_crawl_delay_is_honoured(make_replica, tmp_path):
    server = make_replica(PAGES, 1, "--faults", "--robots", "crawl-delay")
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{server.url}{p}\n" for p in ReplicaSite(PAGES).glossary_paths()[:6]))
    db = tmp_path / "robots.db"
    result = crawl(db, "--urls-file", str(urls), "--no-follow")  # --delay 0 --concurrency 8
    assert result.returncode == 0, result.stderr
    times = [r["time"] for r in server.requests()]
    assert len(times) == 7 and server.requests()[0]["path"] == "/robots.txt"
    # robots.txt's own exchange counts too: the first page came 3 ms after it.
    assert min(b - a for a, b in zip(times, times[1:])) >= CRAWL_DELAY  # 0 without it: --delay 0



def test_the_delay_holds_at_the_server_counted_from_the_end_of_each_exchange(make_replica, tmp_path):
    """Politeness as the replica's own log sees it: no two requests to the host closer than the delay,
    and none while one is unanswered (after a page that never answers, the next request comes the
    delay after its time-out), however many requests may be in flight."""
    delay, timeout = 0.2, 1.0
    server = make_replica(PAGES, 1, "--faults")
    stalled = next(f.path for f in FAULTS if f.name == "never-starts")
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{server.url}{p}\n" for p in [stalled, *ReplicaSite(PAGES).glossary_paths()[:6]]))
    db = tmp_path / "polite.db"
    result = run_glossary("crawl", "--db", str(db), "--urls-file", str(urls), "--no-follow", "--delay", str(delay),
                          "--timeout", str(timeout), "--concurrency", "4", "--no-progress")
    assert result.returncode == 0, result.stderr
    log = sorted(server.requests(), key=lambda r: r["time"])
    assert len(log) == 1 + 3 + 6  # robots.txt, the stalled page and its two retries, the pages
    # The server notes a request when it reads it: one that came while it was busy, a few ms late.
    late = 0.05
    assert min(b["time"] - a["time"] for a, b in zip(log, log[1:])) >= delay - late
    # AutoThrottle starts at the delay asked for, not at its own 1 s.
    assert log[0]["path"] == "/robots.txt" and log[1]["time"] - log[0]["time"] < 0.9
    after_stall = [b["time"] - a["time"] for a, b in zip(log, log[1:]) if a["path"] == stalled]
    assert after_stall and min(after_stall) >= timeout + delay - late


def test_a_delay_longer_than_autothrottles_ceiling_is_not_shortened_to_it(make_replica, tmp_path):
    """AutoThrottle holds a slot's delay under AUTOTHROTTLE_MAX_DELAY (30 s by default): --delay 35 spaced the
    first requests 35 s apart, and every one after 30 s. Here the ceiling is set under the delay to show it."""
    delay = 0.6
    server = make_replica(PAGES)
    db = tmp_path / "slow.db"
    pages = ",".join(f"{server.url}{p}" for p in ReplicaSite(PAGES).glossary_paths()[:5])
    job = subprocess.run([GLOSSARY[0], "-m", "scrapy", "crawl", "glossary", "-a", f"start_urls={pages}", "-a",
                          "follow=0", "-s", f"DOWNLOAD_DELAY={delay}", "-s", "AUTOTHROTTLE_MAX_DELAY=0.2", "-s",
                          f"GLOSSARY_DB={db}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert job.returncode == 0, job.stderr[-2000:]
    log = sorted(server.requests(), key=lambda r: r["time"])
    assert len(log) == 6  # robots.txt and the pages
    assert min(b["time"] - a["time"] for a, b in zip(log, log[1:])) >= delay - 0.05


# -- page content is data everywhere ------------------------------------------------------------


def test_hostile_text_is_escaped_in_the_html_report_and_kept_exact_in_exports(attacked, tmp_path):
    db, base = attacked["db"], attacked["server"].named_url
    # The report lists the first 25 orphan pages by URL: the other fault pages, orphans too, out of its way.
    shown = tmp_path / "shown.db"
    shutil.copy(db, shown)
    with sqlite3.connect(shown) as conn:
        conn.execute("DELETE FROM pages WHERE url LIKE '%/definition/fault-%' AND url NOT LIKE '%/fault-xss/'")
    conn.close()
    report = run_glossary("report", "--db", str(shown), "--format", "html")
    assert report.returncode == 0, report.stderr
    assert "<script>alert" not in report.stdout and "onerror=alert" not in report.stdout.replace("&lt;", "")
    assert "&lt;script&gt;alert(" in report.stdout  # the page is listed, as text

    exported = run_glossary("export", "--db", str(db), "--format", "jsonl")
    pages = {p["url"]: p for p in map(json.loads, exported.stdout.splitlines())}
    assert pages[f"{base}/definition/fault-xss/"]["title"] == XSS_TITLE
    out = tmp_path / "pages.csv"
    assert run_glossary("export", "--db", str(db), "--format", "csv", "--out", str(out)).returncode == 0
    with out.open(newline="") as f:
        titles = {row["url"]: row["title"] for row in csv.DictReader(f)}
    assert titles[f"{base}/definition/fault-xss/"] == XSS_TITLE


def test_hostile_text_is_escaped_in_datasette(attacked):
    from datasette.app import Datasette

    db, base = attacked["db"], attacked["server"].named_url

    async def page():
        datasette = Datasette([str(db)])
        return await datasette.client.get(f"/{db.stem}/pages?url={base}/definition/fault-xss/")

    response = asyncio.run(page())
    assert response.status_code == 200
    assert "<script>alert('x')" not in response.text
    assert "&lt;script&gt;alert(" in response.text


@pytest.mark.parametrize("query", ["'; DROP TABLE pages; --", '" OR 1=1 --', "title:x) OR (1", "NEAR(", "*"])
def test_hostile_queries_are_only_searched_for(attacked, query):
    db = attacked["db"]
    before = rows(db, "SELECT count(*) AS n FROM pages")[0]["n"]
    result = run_glossary("search", "--db", str(db), query, "--format", "json")
    assert result.returncode in (0, 2) and "Traceback" not in result.stderr, result.stderr
    shown = run_glossary("show", "--db", str(db), query)
    assert shown.returncode == 2 and len(shown.stderr.strip().splitlines()) == 1, shown.stderr
    assert rows(db, "SELECT count(*) AS n FROM pages")[0]["n"] == before


def test_a_page_cut_by_the_parser_depth_limit_says_so(attacked):
    # /definition/fault-deep-html/ nests 5,000 <div>s; libxml2 stops at 2,048 and drops the rest.
    url = f"{attacked['server'].named_url}/definition/fault-deep-html/"
    (error,) = rows(attacked["db"], "SELECT stage, error, detail FROM crawl_errors WHERE url = ?", (url,))
    assert error["stage"] == "parse"
    assert "nested deeper than the parser's limit of 2,048 levels" in error["error"]
    assert "Excessive depth" in error["detail"]
    (page,) = rows(attacked["db"], "SELECT body_text FROM pages WHERE url = ?", (url,))
    assert "Shallow text first." in page["body_text"] and "Deep inside" not in page["body_text"]


def test_a_run_resumed_after_a_budget_stop_does_not_enter_its_cut_traps_again(make_replica, tmp_path):
    """What a cut trap held back, and links refused by the chain rule, are not left in the frontier:
    the resumed part requested them as trusted URLs, spent each trap's budget again and cut it twice."""
    from glossary_spider.traps import url_family

    server = make_replica(PAGES, 1, "--faults")
    db = tmp_path / "parts.db"
    args = ("--start-url", f"{server.named_url}/", "--timeout", "2", "--max-requests", "300")
    parts = [crawl(db, *args)]
    assert parts[0].returncode == 4, parts[0].stderr
    assert rows(db, "SELECT count(*) AS n FROM crawl_errors WHERE stage = 'trap'")[0]["n"] >= 3
    while parts[-1].returncode == 4 and len(parts) < 5:
        parts.append(run_glossary("crawl", "--db", str(db), "--resume", "--no-progress", *args[2:]))
    assert parts[-1].returncode == 0, parts[-1].stderr
    cut = Counter(url_family(r["url"]) for r in rows(db, "SELECT url FROM crawl_errors WHERE stage = 'trap'"))
    assert [family for family, n in cut.items() if n > 1] == []
    served = Counter()
    for r in server.requests():
        served.update(name for name, prefix in TRAPS.items() if r["path"].startswith(prefix.split("?")[0]))
    assert max(served.values()) <= MOST_REQUESTS_PER_TRAP, served


def test_a_redirect_not_followed_is_an_answer_and_a_resume_does_not_ask_again(make_replica, tmp_path):
    """A redirect loop or an over-long chain was recorded as a fetch that got no answer: every part of a run
    resumed after a budget asked for it again and recorded it again (nine error rows, nine captures), and it
    counted against the site as unanswered."""
    server = make_replica(40, 1, "--faults")
    refused = [f.path for f in FAULTS if f.name in ("redirect-loop", "redirect-chain")]
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{server.url}{p}\n" for p in [*refused, *ReplicaSite(40).glossary_paths()[:3]]))
    db = tmp_path / "slices.db"
    result = crawl(db, "--urls-file", str(urls), "--no-follow", "--max-pages", "1", "--concurrency", "1")
    for _ in range(10):
        if result.returncode != 4:
            break
        result = run_glossary("crawl", "--resume", "--db", str(db), "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    for path in refused:
        assert len(rows(db, "SELECT id FROM crawl_errors WHERE url = ?", (server.url + path,))) == 1, path
        assert sum(r["path"] == path for r in server.requests()) == 1, path


def test_a_page_that_refreshes_to_itself_is_archived_and_each_url_of_a_refresh_loop_fails(make_replica, tmp_path):
    """A meta refresh to the page's own URL was followed as a redirect, which the duplicate filter dropped: the
    start URL was not archived, no row said why, and the run said "failed 0". A page refreshing to one that
    refreshes back left nothing, the other recorded as moved to it."""
    server = make_replica(PAGES, 1, "--faults")
    db = tmp_path / "refresh.db"
    url = {name: f"{server.url}/definition/fault-meta-refresh-{name}/" for name in ("self", "loop", "back")}
    result = crawl(db, "--start-url", url["self"], "--start-url", url["loop"], "--no-follow")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^  new +1$", result.stdout, re.M) and re.search(r"^  failed +2$", result.stdout, re.M)
    assert rows(db, "SELECT url, status, title FROM pages") == [
        {"url": url["self"], "status": "live", "title": "Fault meta-refresh-self"}]
    loop = [[url["back"], url["loop"]], [url["loop"], url["back"]]]
    assert rows(db, "SELECT url, stage, error FROM crawl_errors ORDER BY url") == [
        {"url": a, "stage": "fetch", "error": f"redirect loop: {a} -> {b} -> {a}"} for a, b in loop]
    # The page reloading itself is read again by a refresh, not skipped in silence.
    summary = refresh_json(db, "--max-age", "0")
    assert (summary["pages_unchanged"], summary["pages_failed"]) == (1, 0), summary
    assert rows(db, "SELECT url, outcome FROM captures WHERE run_id = 2") == [
        {"url": url["self"], "outcome": "unchanged"}]


def test_a_resumed_run_records_an_unreadable_sitemap_once(make_replica, tmp_path):
    """Each part of a run resumed after a budget read its sitemaps again for their URLs, and recorded the one
    it could not read again: a row per part for one fault."""
    server = make_replica(40, 1, "--faults")
    db = tmp_path / "parts.db"
    sitemaps = ("--sitemap", f"{server.url}/faults-html-sitemap.xml", "--sitemap", f"{server.url}/sitemap_index.xml")
    result = crawl(db, *sitemaps, "--no-follow", "--max-pages", "15")
    parts = 1
    while result.returncode == 4 and parts < 20:
        result = run_glossary("crawl", "--resume", "--db", str(db), "--no-progress")
        parts += 1
    assert result.returncode == 0 and parts > 2, result.stdout + result.stderr
    recorded = Counter((r["url"], r["error"])
                       for r in rows(db, "SELECT url, error FROM crawl_errors WHERE stage = 'sitemap'"))
    assert recorded[(f"{server.url}/faults-html-sitemap.xml", "not a sitemap: its root element is <html>")] == 1
    assert len(recorded) >= 3 and max(recorded.values()) == 1, recorded


def test_a_run_whose_sitemap_cannot_be_read_says_so_in_its_summary(make_replica, tmp_path):
    """A gzip sitemap cut short was the run's only input: it ended "nothing new", as if the site had not
    changed, the sitemap's row in crawl_errors the only trace."""
    server = make_replica(PAGES, 1, "--faults")
    db = tmp_path / "cut.db"
    result = crawl(db, "--sitemap", f"{server.url}/faults-cut-sitemap.xml.gz", "--no-follow")
    assert result.returncode == 1, result.stderr  # it archived no page: empty
    assert "nothing new; 1 sitemap unreadable" in result.stdout
    assert result.stderr.startswith("Error: crawl #1 left the archive with no page: 1 sitemap could not be read")
    assert re.search(r"^sitemaps: +1 +unreadable", result.stdout, re.M)
    assert [r["stage"] for r in rows(db, "SELECT stage FROM crawl_errors")] == ["sitemap"]
    again = crawl(tmp_path / "again.db", "--sitemap", f"{server.url}/faults-cut-sitemap.xml.gz", "--no-follow",
                  "--json")
    found = json.loads(again.stdout)
    assert found["changes"] == 0 and found["sitemaps_unreadable"] == 1


def test_a_sitemap_answering_404_is_an_unreadable_sitemap_not_a_failed_page(make_replica, tmp_path):
    """A sitemap that answered 404 was counted as a failed page (a capture, a 'fetch' row) and not among the
    unreadable sitemaps; a run resumed after a held part then asked for it again as a page."""
    server = make_replica(PAGES, 1)
    db = tmp_path / "gone-sitemap.db"
    result = crawl(db, "--sitemap", f"{server.url}/no-such-sitemap.xml", "--no-follow", "--json")
    assert result.returncode == 1, result.stderr  # it archived no page: empty
    found = json.loads(result.stdout)
    assert (found["pages_failed"], found["sitemaps_unreadable"]) == (0, 1), found
    assert rows(db, "SELECT stage, http_status, error FROM crawl_errors") == [
        {"stage": "sitemap", "http_status": 404, "error": "HTTP 404"}]
    assert rows(db, "SELECT count(*) AS n FROM captures") == [{"n": 0}]


def test_the_report_lists_the_errors_and_show_names_a_failed_pages_error(attacked):
    """A crawl's "N fetches failed (see 'glossary report')" led to a report that gave counts by stage only,
    and `show` of a page that failed said only that no page was archived there."""
    db, base = attacked["db"], attacked["server"].named_url
    report = run_glossary("report", "--db", str(db))
    assert report.returncode == 0, report.stderr
    total = rows(db, "SELECT count(*) AS n FROM crawl_errors")[0]["n"]
    listed = report.stdout.split("Recent errors (run, stage, URL, what happened)\n")[1].split("\n\n")[0].splitlines()
    assert len(listed) == 26 and listed[-1] == f"  … and {total - 25} more (in the crawl_errors table)"
    (last,) = rows(db, "SELECT run_id, stage, url, error FROM crawl_errors ORDER BY id DESC LIMIT 1")
    assert listed[0].startswith(f"  #{last['run_id']}") and f"{last['url']}  {last['error']}" in listed[0]
    data = json.loads(run_glossary("report", "--db", str(db), "--format", "json").stdout)
    assert data["recent_errors"]["count"] == total and len(data["recent_errors"]["errors"]) == 25
    page = run_glossary("report", "--db", str(db), "--format", "html").stdout
    assert f"<h2>Recent errors: {total}</h2>" in page and f"<td>{last['url']}</td>" in page
    url = f"{base}/definition/fault-redirect-offsite/"
    shown = run_glossary("show", url, "--db", str(db))
    assert shown.returncode == 2 and shown.stderr == (
        f"Error: no archived page at {url}; its last error (run #1, fetch): redirected outside the allowed hosts: "
        "http://evil.example/definition/x/\n")
