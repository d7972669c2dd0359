"""End-to-end: the real spider crawls a real replica server into a real SQLite file."""

import contextlib
import fcntl
import hashlib
import http.server
import json
import os
import random
import re
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import launcher
import pytest
from conftest import GLOSSARY, ROOT, archive_content, archive_problems, crawl, rows, run_glossary

from glossary_spider.replica import ReplicaSite

SITE = ReplicaSite(200)


def path_of(url):
    return urlsplit(url).path


def test_crawl_archives_every_live_page_correctly(crawled, replica):
    pages = {path_of(r["url"]): r for r in rows(crawled, "SELECT * FROM pages")}
    expected = set(SITE.glossary_paths()) | {"/"}
    assert set(pages) == expected
    links = {}
    for link in rows(crawled, "SELECT * FROM links WHERE kind != 'inline' ORDER BY from_url, kind, position"):
        links.setdefault(path_of(link["from_url"]), {}).setdefault(link["kind"], []).append(path_of(link["to_url"]))
    sections = {}
    for section in rows(crawled, "SELECT url, heading FROM sections ORDER BY url, position"):
        sections.setdefault(path_of(section["url"]), []).append(section["heading"])
    for path in SITE.glossary_paths():
        truth, page = SITE.truth(path), pages[path]
        assert page["title"] == truth["title"], path
        assert links.get(path, {}) == truth["links"], path
        assert sections.get(path, []) == truth["sections"], path
        assert page["status"] == "live" and page["http_status"] == 200 and page["version"] == 1
        assert page["url"] == f"{replica.url}{path}"
        if "summary" in truth:
            assert page["summary"] == truth["summary"], path
            assert page["published"] == truth["published"], path
            assert json.loads(page["categories"]) in (["Definition"], ["Term"])


def test_crawl_records_its_run_and_failures(crawled):
    (run,) = rows(crawled, "SELECT * FROM crawl_runs")
    assert run["command"] == "crawl" and run["finish_reason"] == "finished"
    assert run["pages_new"] == len(SITE.glossary_paths()) + 1
    assert run["pages_failed"] == 3
    errors = rows(crawled, "SELECT stage, http_status, url, error FROM crawl_errors ORDER BY url")
    fetch_errors = [(e["http_status"], path_of(e["url"])) for e in errors if e["stage"] == "fetch"]
    assert fetch_errors == [(404, "/definition/retired-entry-1/"), (404, "/definition/retired-entry-2/"),
                            (None, "/go/learn/")]
    # /go/learn/ redirects to another host: recorded as the failure it is, never requested.
    assert errors[-1]["error"] == "redirected outside the allowed hosts: https://learn.greeks.live/"
    broken = [p for p in SITE.posts.values() if SITE._jsonld_style(p) == "broken"]
    assert sorted(path_of(e["url"]) for e in errors if e["stage"] == "json-ld") == sorted(p.path for p in broken)
    # A page that never answered 200 has no row in pages.
    assert not rows(crawled, "SELECT 1 FROM pages WHERE url LIKE '%retired-entry%'")
    stats = json.loads(run["stats"])
    assert stats["glossary/offsite_blocked"] >= 1


def test_structured_data_and_views(crawled):
    seed = rows(crawled, "SELECT syntax, position, type FROM structured_data WHERE url LIKE "
                         "'%/definition/international-legal-cooperation/' ORDER BY syntax, position")
    assert [(r["syntax"], r["type"]) for r in seed] == [
        ("json-ld", "BreadcrumbList"), ("json-ld", "Article"), ("opengraph", "article")]
    nodes = rows(crawled, "SELECT type, count(*) AS n FROM jsonld_nodes GROUP BY type")
    counts = {r["type"]: r["n"] for r in nodes}
    assert counts["Article"] == len(SITE.posts)  # flat or inside a @graph, one Article per post
    assert counts["FAQPage"] == len(SITE.areas)
    assert rows(crawled, "SELECT count(*) AS n FROM jsonld")[0]["n"] > len(SITE.posts)


def test_crawl_is_polite_and_stays_in_bounds(crawled, replica):
    requests = replica.crawl_requests
    paths = [r["path"] for r in requests if r["method"] == "GET"]
    assert "/robots.txt" in paths
    assert all(r["user_agent"].startswith("glossary_spider/") for r in requests)
    for forbidden in ("/drafts/", "/wp-admin/", "/feed/", "/tag/", "/author/", ".md", "/wp-content/"):
        assert not [p for p in paths if forbidden in p], forbidden
    repeated = [p for p, n in Counter(paths).items() if n > 1]
    assert repeated == []
    assert all(r["host"] == f"127.0.0.1:{replica.port}" for r in requests)
    # The old-scheme URL was followed through its redirect and archived under its final URL.
    assert any(p.startswith("/definitions/") for p in paths)


def test_a_sitemap_crawl_without_following(tmp_path, make_replica):
    server = make_replica()
    db = tmp_path / "a.db"
    result = crawl(db, "--sitemap", f"{server.url}/sitemap_index.xml", "--no-follow")
    assert result.returncode == 0, result.stderr
    archived = {path_of(r["url"]) for r in rows(db, "SELECT url FROM pages")}
    assert archived == {p.path for p in SITE.posts.values()} | {a.path for a in SITE.areas.values()}
    fetched = {r["path"] for r in server.requests()}
    assert fetched == archived | {"/robots.txt", "/sitemap_index.xml", "/post-sitemap.xml", "/area-sitemap.xml"}


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_a_site_at_an_ipv6_address_is_crawled_as_any_other(tmp_path, make_replica):
    """Scrapy's default resolver asks for IPv4 addresses alone: a URL at [::1], or a host with only an
    IPv6 address, was "host not found", robots.txt first, and the run ended as a site that did not answer."""
    server = make_replica(40, host="::1")
    assert server.url.startswith("http://[::1]:")
    db = tmp_path / "v6.db"
    result = crawl(db, "--sitemap", f"{server.url}/sitemap_index.xml", "--no-follow")
    assert result.returncode == 0, result.stderr
    site = ReplicaSite(40)
    archived = {path_of(r["url"]) for r in rows(db, "SELECT url FROM pages")}
    assert archived == {p.path for p in site.posts.values()} | {a.path for a in site.areas.values()}
    assert {urlsplit(r["url"]).netloc for r in rows(db, "SELECT url FROM pages")} == {f"[::1]:{server.port}"}


def test_a_list_of_urls_on_standard_input_is_read_as_a_file_of_them(tmp_path, make_replica):
    """``--urls-file -`` said "no such file" (or read a file named ``-``, where there was one), where ``--out -``
    writes to standard output."""
    server = make_replica()
    (tmp_path / "-").write_text(f"{server.url}/about/\n")  # a file of that name is ./-
    urls = [f"{server.url}/area/funding/", f"{server.url}/term/legal-risk-management/"]
    db = tmp_path / "stdin.db"
    result = run_glossary("crawl", "--db", str(db), "--urls-file", "-", "--no-follow", "--delay", "0",
                          "--no-progress", input="# from a pipe\n" + "\n".join(urls) + "\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [r["url"] for r in rows(db, "SELECT url FROM pages ORDER BY url")] == urls
    result = run_glossary("crawl", "--db", str(tmp_path / "file.db"), "--urls-file", "./-", "--no-follow",
                          "--delay", "0", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [r["url"] for r in rows(tmp_path / "file.db", "SELECT url FROM pages")] == [f"{server.url}/about/"]
    # Read once: a list refused is refused for what it holds, not as empty the second time the arguments are read.
    refused = run_glossary("crawl", "--db", str(tmp_path / "bad.db"), "--urls-file", "-", cwd=tmp_path,
                           input=f"{urls[0]}\nnot a url\n")
    assert refused.returncode == 2 and "--urls-file - line 2: 'not a url' holds white space" in refused.stderr, (
        refused.stderr)


def test_start_urls_without_following_archive_just_those(tmp_path, make_replica):
    server = make_replica()
    urls = [f"{server.url}/about/", f"{server.url}/term/legal-risk-management", f"{server.url}/area/funding/"]
    (tmp_path / "urls.txt").write_text("# start here\n" + urls[1] + "   # a comment after a URL\n\n")
    db = tmp_path / "b.db"
    result = crawl(db, "--start-url", urls[0], "--urls-file", str(tmp_path / "urls.txt"),
                   "--start-url", urls[2], "--no-follow")
    assert result.returncode == 0, result.stderr
    archived = rows(db, "SELECT url, page_type FROM pages ORDER BY url")
    assert [(path_of(r["url"]), r["page_type"]) for r in archived] == [
        ("/about/", "other"), ("/area/funding/", "area"), ("/term/legal-risk-management/", "term")]
    assert re.search(r"^  new +3$", result.stdout, re.MULTILINE), result.stdout

    # A refresh keeps to the pages the crawl was given: it followed their links into the whole site.
    server.clear_log()
    refreshed = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress", "--json")
    assert refreshed.returncode == 0, refreshed.stderr
    assert json.loads(refreshed.stdout)["pages_new"] == 0
    assert sorted(r["path"] for r in server.requests() if r["path"] != "/robots.txt") == [
        "/about/", "/area/funding/", "/term/legal-risk-management/"]
    (args,) = rows(db, "SELECT args FROM crawl_runs WHERE command = 'refresh'")
    assert json.loads(args["args"])["follow"] is False


def test_crawling_twice_gives_the_same_rows(tmp_path, make_replica):
    server = make_replica(pages=60)
    db = tmp_path / "c.db"
    tables = {
        "pages": "SELECT url, title, summary, body_text, content_hash, version, status FROM pages ORDER BY url",
        "sections": "SELECT * FROM sections ORDER BY url, position",
        "links": "SELECT * FROM links ORDER BY from_url, kind, position",
        "structured_data": "SELECT * FROM structured_data ORDER BY url, syntax, position",
        "page_versions": "SELECT url, version, content_hash FROM page_versions ORDER BY url, version",
    }
    assert crawl(db, "--start-url", f"{server.url}/").returncode == 0
    first = {name: rows(db, sql) for name, sql in tables.items()}
    assert crawl(db, "--start-url", f"{server.url}/").returncode == 0
    second = {name: rows(db, sql) for name, sql in tables.items()}
    assert first == second
    runs = rows(db, "SELECT pages_new, pages_changed, pages_unchanged FROM crawl_runs ORDER BY id")
    assert runs[1] == {"pages_new": 0, "pages_changed": 0, "pages_unchanged": runs[0]["pages_new"]}


def test_max_pages_stops_fetching_and_resume_continues(tmp_path, make_replica):
    """Issue 14 item 1: once --max-pages pages are archived nothing more is requested (the old
    spider kept fetching everything queued: about every page of the site)."""
    server = make_replica(pages=60)
    db = tmp_path / "d.db"
    start = ("--start-url", f"{server.url}/", "--sitemap", f"{server.url}/sitemap_index.xml")
    result = crawl(db, *start, "--max-pages", "20")
    assert result.returncode == 4, result.stderr  # ExitStatus.STOPPED_EARLY
    assert rows(db, "SELECT count(*) AS n FROM pages")[0]["n"] == 20
    (run,) = rows(db, "SELECT finish_reason, requests FROM crawl_runs")
    assert run["finish_reason"] == "max_pages"
    pages_requested = [r for r in server.requests() if not r["path"].endswith((".xml", ".txt"))]
    # The budget, two redirects, and what was in flight: no download starts while a response waits to be
    # parsed, so at most the 8 downloads under way (35-41 requests when responses could queue unbounded).
    assert len(pages_requested) <= 20 + 2 + 8
    assert run["requests"] == len(server.requests())
    assert result.stderr == f"Stopped before the end (--max-pages): run 'glossary crawl --resume --db {db}' to " \
                            "continue; nothing archived is fetched again\n"
    archived = {r["url"] for r in rows(db, "SELECT url FROM pages")}
    other = tmp_path / "other.db"
    shutil.copy(db, other)
    result = crawl(other, "--start-url", f"{server.url}/", "--max-pages", "1")
    assert result.stderr.startswith(f"Note: crawl #1 stopped before it was done (max_pages); this starts a new "
                                    f"crawl: 'glossary crawl --resume --db {other}' would have continued it\n")
    assert rows(db, "SELECT count(*) AS n FROM frontier WHERE run_id = 1")[0]["n"] > 0
    assert rows(other, "SELECT count(*) AS n FROM frontier WHERE run_id = 1")[0]["n"] == 0, \
        "what only a resume of crawl #1 needed goes once a new crawl takes its place"

    first_part = run["requests"]
    server.clear_log()
    result = crawl(db, "--resume")
    assert result.returncode == 4, result.stderr  # each part of the run archives at most --max-pages
    assert rows(db, "SELECT count(*) AS n FROM pages")[0]["n"] == 40
    # Issue 14 item 13: requests cover the whole run, as page counts do (was: the last part's only).
    assert rows(db, "SELECT requests FROM crawl_runs")[0]["requests"] == first_part + len(server.requests())
    assert {server.url + r["path"] for r in server.requests()} & archived == set()
    while result.returncode == 4:
        result = crawl(db, "--resume")
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT count(*) AS n FROM pages")[0]["n"] == len(ReplicaSite(60).glossary_paths()) + 1
    assert rows(db, "SELECT count(*) AS n, max(finish_reason) AS reason FROM crawl_runs") == [
        {"n": 1, "reason": "finished"}]


def test_scrapy_crawl_runs_the_same_crawl(tmp_path, make_replica):
    server = make_replica()
    db = tmp_path / "e.db"
    result = run_glossary_scrapy(
        "-a", f"start_urls={server.url}/term/legal-risk-management/,{server.url}/area/funding/",
        "-a", "follow=0", "-s", f"GLOSSARY_DB={db}", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0",
    )
    assert result.returncode == 0, result.stderr
    assert [path_of(r["url"]) for r in rows(db, "SELECT url FROM pages ORDER BY url")] == [
        "/area/funding/", "/term/legal-risk-management/"]
    assert rows(db, "SELECT command, finish_reason FROM crawl_runs") == [{"command": "crawl", "finish_reason": "finished"}]
    # No delay, but two pages: Scrapy's process extracts them rather than start a worker for them.
    assert "'glossary/extract_workers': 0," in result.stderr


def test_a_scrapy_crawl_or_scrapyd_job_keeps_its_pending_requests_on_disk_in_a_directory_of_its_own(tmp_path, replica):
    """Only the glossary command gave a run its disk queues (JOBDIR): a job of Scrapyd's kept every pending
    request in memory, however many the sitemaps listed."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    db = tmp_path / "job.db"
    result = run_glossary_scrapy("-a", f"sitemap_urls={replica.url}/sitemap_index.xml", "-a", "follow=0",
                                 "-s", f"GLOSSARY_DB={db}", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0",
                                 env={"TMPDIR": str(temp)})
    assert result.returncode == 0, result.stderr
    pages = rows(db, "SELECT count(*) AS n FROM pages")[0]["n"]
    queued = re.search(r"'scheduler/enqueued/disk': (\d+)", result.stderr)
    assert pages > 100 and queued and int(queued[1]) >= pages, result.stderr[-2000:]
    assert "scheduler/enqueued/memory" not in result.stderr
    assert list(temp.iterdir()) == []  # removed as the job ended


@pytest.mark.parametrize(("settings", "workers"), [
    ((), 0),  # a polite crawl extracts in Scrapy's process, its loop being idle most of the time
    (("-s", "GLOSSARY_EXTRACT_WORKERS=1"), 1),  # unless told otherwise
])
def test_a_polite_crawl_extracts_in_scrapys_process(tmp_path, replica, settings, workers):
    db = tmp_path / "polite.db"
    result = run_glossary_scrapy("-a", f"start_urls={replica.url}/area/funding/", "-a", "follow=0", "-a", "delay=0.1",
                                 "-s", f"GLOSSARY_DB={db}", *settings)
    assert result.returncode == 0, result.stderr
    assert len(rows(db, "SELECT url FROM pages")) == 1
    assert f"'glossary/extract_workers': {workers}," in result.stderr


def test_a_crawl_without_a_delay_starts_its_workers_after_the_pages_it_extracts_first(tmp_path, replica):
    """A worker's start-up costs more than extracting a few dozen pages: a crawl without a delay extracts
    its first GLOSSARY_EXTRACT_WORKERS_AFTER pages itself, and only a crawl that goes on past them starts its
    workers, which extract the rest."""
    archived = []
    for after, workers in ((1000, 0), (10, 1)):
        db = tmp_path / f"after-{after}.db"
        result = run_glossary_scrapy("-a", f"sitemap_urls={replica.url}/sitemap_index.xml", "-a", "follow=0",
                                     "-s", f"GLOSSARY_DB={db}", "-s", "DOWNLOAD_DELAY=0",
                                     "-s", "AUTOTHROTTLE_ENABLED=0", "-s", f"GLOSSARY_EXTRACT_WORKERS_AFTER={after}")
        assert result.returncode == 0, result.stderr
        stats = json.loads(rows(db, "SELECT stats FROM crawl_runs")[0]["stats"])
        assert stats["glossary/extract_workers"] == workers
        assert (stats.get("glossary/workers_cpu_seconds", 0) > 0.2) == (workers == 1)
        archived.append(archive_content(db))
    assert len(archived[1]["pages"]) > 30
    assert archived[0] == archived[1]


def test_pages_extracted_in_workers_are_archived_as_those_extracted_in_scrapys_process(tmp_path, replica):
    """The workers also prepare each page's staging (its compressed record, hashes and digest):
    what they prepare must be what Scrapy's process makes of the same pages. The crawl extracting in
    workers writes from an archive writer process too: the same captures, bodies and errors."""
    archived = {}
    for workers in (0, 1):
        db = tmp_path / f"workers-{workers}.db"
        result = run_glossary_scrapy("-a", f"sitemap_urls={replica.url}/sitemap_index.xml", "-a", "follow=0",
                                     "-s", f"GLOSSARY_DB={db}", "-s", "DOWNLOAD_DELAY=0",
                                     "-s", "AUTOTHROTTLE_ENABLED=0", "-s", f"GLOSSARY_EXTRACT_WORKERS={workers}",
                                     "-s", f"GLOSSARY_WRITER_PROCESS={workers}")
        assert result.returncode == 0, result.stderr
        assert f"'glossary/extract_workers': {workers}," in result.stderr
        archived[workers] = (archive_content(db), rows(db, "SELECT url, record_digest, word_count, summary, body_text "
                                                          "FROM pages ORDER BY url"),
                             rows(db, "SELECT url, http_status, outcome, body_sha256, size FROM captures JOIN bodies "
                                      "ON sha256 = body_sha256 ORDER BY url"),
                             rows(db, "SELECT url, stage, error FROM crawl_errors ORDER BY url, stage, error"))
        assert rows(db, "SELECT count(*) AS n FROM staged")[0]["n"] == 0
        # The run's CPU, its own and its workers': a fresh interpreter importing Scrapy or the extraction
        # modules alone takes more than a fifth of a second.
        stats = json.loads(rows(db, "SELECT stats FROM crawl_runs")[0]["stats"])
        assert stats["glossary/cpu_seconds"] > 0.2
        assert (stats["glossary/workers_cpu_seconds"] > 0.2) == (workers == 1)
        assert stats["glossary/archive_writer"] == (workers == 1)
    assert len(archived[1][1]) > 30 and archived[1][3]
    assert archived[1] == archived[0]


def test_workers_run_the_code_the_crawl_runs_not_a_package_in_the_working_directory(tmp_path, replica):
    """A worker, started as ``python -c``, imported first the ``glossary_spider`` of the directory the command was
    run from (a checkout of another release: two extractors in one archive), and on a Scrapyd node that has the
    project only as its egg, none at all (every worker died)."""
    checkout = tmp_path / "checkout"
    (checkout / "glossary_spider").mkdir(parents=True)
    (checkout / "glossary_spider" / "__init__.py").write_text("raise SystemExit('the working directory\\'s')\n")
    db = tmp_path / "workers.db"
    result = subprocess.run([str(Path(sys.executable).with_name("glossary")), "crawl", "--db", str(db), "--start-url",
                             f"{replica.url}/", "--delay", "0", "--workers", "1", "--no-progress"],
                            cwd=checkout, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "could not start" not in result.stderr, result.stderr
    stats = json.loads(rows(db, "SELECT stats FROM crawl_runs")[0]["stats"])
    assert stats["glossary/extract_workers"] == 1 and stats["glossary/workers_cpu_seconds"] > 0.2, stats


@pytest.mark.parametrize(("argument", "line"), [
    ("start_urls=term.greeks.live",
     "start URL 'term.greeks.live' is not an http(s) URL (e.g. https://term.greeks.live/)"),
    ("mode=recrawl", "mode must be crawl or refresh, not 'recrawl'"),
    # Issue 14 item 3: an empty start option is a mistake, not a wish for the live site.
    ("start_urls=", "no URL to start from: the start URLs and sitemaps given are all empty"),
    ("sitemap_urls= , ", "no URL to start from: the start URLs and sitemaps given are all empty"),
    ("gate=", "gate is empty: give NAME=VALUE or off, or leave it out"),
])
def test_a_bad_scrapy_crawl_argument_is_one_log_line_and_nothing_written(tmp_path, argument, line):
    db = tmp_path / "bad.db"
    result = run_glossary_scrapy("-a", argument, "-s", f"GLOSSARY_DB={db}")
    assert "Traceback" not in result.stderr
    errors = [entry for entry in result.stderr.splitlines() if "ERROR" in entry]
    assert len(errors) == 1 and errors[0].endswith(line), result.stderr
    assert "Spider closed (bad_argument)" in result.stderr
    assert not db.exists()  # no archive is created only to record a refusal


def _error_lines(result):
    return [entry for entry in result.stderr.splitlines() if "ERROR" in entry]


def test_an_argument_given_under_both_its_names_with_two_values_is_refused(tmp_path):
    """max_age and max_age_days are one argument: given both, one value was dropped without a word."""
    db = tmp_path / "bad.db"
    result = run_glossary_scrapy("-a", "mode=refresh", "-a", "max_age=30", "-a", "max_age_days=10",
                                 "-s", f"GLOSSARY_DB={db}")
    (error,) = _error_lines(result)
    assert error.endswith("max_age and max_age_days are one argument, given two values (30.0 and 10.0): give it once")


def test_a_job_with_nothing_to_resume_says_to_schedule_it_without_resume(crawled, tmp_path):
    """A job has no --resume to leave out: a scheduler that always passes resume=1 was told to."""
    db = shutil.copy(crawled, tmp_path / "done.db")
    (error,) = _error_lines(run_glossary_scrapy("-a", "resume=1", "-s", f"GLOSSARY_DB={db}"))
    assert error.endswith("nothing to resume: the last crawl finished (or there was none): run 'glossary crawl' "
                          "without --resume (a Scrapyd job: without resume=1)"), error


def test_a_job_whose_archive_path_holds_an_unexpanded_tilde_says_so(tmp_path):
    """setting=GLOSSARY_DB=~/archives/x.db, left unexpanded by cron's shell or by curl, was told to create the
    directory first: following that made a directory named '~' in Scrapyd's working directory."""
    result = run_glossary_scrapy("-a", "start_urls=http://127.0.0.1:9/", "-s", "GLOSSARY_DB=~/archives/x.db")
    (error,) = _error_lines(result)
    assert error.endswith("no directory ~/archives for the archive ~/archives/x.db: ~ and $VARIABLES are not expanded "
                          "in GLOSSARY_DB (a shell expands them only where they are not quoted): give the path they "
                          "stand for"), error


def test_a_job_without_an_archive_setting_writes_data_glossary_db_in_its_working_directory(tmp_path, replica):
    """As the README says; it was refused: 'no directory data for the archive data/glossary.db'."""
    result = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "glossary", "-a",
                             f"start_urls={replica.url}/area/funding/", "-a", "follow=0", "-a", "delay=0"],
                            cwd=tmp_path, env={**os.environ, "SCRAPY_SETTINGS_MODULE": "glossary_spider.settings"},
                            capture_output=True, text=True, timeout=120)
    assert not _error_lines(result), result.stderr
    assert rows(tmp_path / "data" / "glossary.db", "SELECT url FROM pages") == [{"url": f"{replica.url}/area/funding/"}]


@pytest.mark.parametrize(("setting", "line"), [
    ("ROBOTSTXT_OBEY=maybe", "ROBOTSTXT_OBEY must be 1 or 0, not 'maybe'"),
    ("CONCURRENT_REQUESTS=abc", "CONCURRENT_REQUESTS must be a whole number, not 'abc'"),
    ("DOWNLOAD_DELAY=abc", "DOWNLOAD_DELAY must be a number, not 'abc'"),
    ("CLOSESPIDER_TIMEOUT=abc", "CLOSESPIDER_TIMEOUT must be a positive duration such as 90s, 20m or 2h, not 'abc'"),
    # Scrapy's own settings and the project's that are no run option: Scrapy read them once the run was under way
    # and stopped it with a traceback, the run left open, for runs --check a run killed.
    ("DEPTH_LIMIT=abc", "DEPTH_LIMIT must be a whole number, not 'abc'"),
    ("CLOSESPIDER_ERRORCOUNT=1.5", "CLOSESPIDER_ERRORCOUNT must be a whole number, not '1.5'"),
    ("GLOSSARY_BATCH_SIZE=x", "GLOSSARY_BATCH_SIZE must be a whole number, not 'x'"),
    ("GLOSSARY_BATCH_SECONDS=soon", "GLOSSARY_BATCH_SECONDS must be a number, not 'soon'"),
    # Scrapy's HTTP cache answers for the site: a refresh saw no change and no deletion.
    ("HTTPCACHE_ENABLED=1", "HTTPCACHE_ENABLED answers from Scrapy's cache, not the site: a refresh would see no "
                            "change and no deletion; leave it off"),
])
def test_a_bad_setting_for_a_run_option_is_one_log_line_and_a_refused_run(crawled, tmp_path, setting, line):
    """A run option given as a Scrapy setting (Scrapyd's setting=...) that is not a value of its kind: the
    run was refused in one line, then Scrapy built its engine from the bad value and logged a traceback;
    a boolean that is not one raised before the run was even refused, and recorded nothing. The line names
    the setting as it was given (it named the argument: "ignore_robots must be 1 or 0" for ROBOTSTXT_OBEY,
    whose sense is the other way round)."""
    db = tmp_path / "refused.db"
    shutil.copy(crawled, db)
    result = run_glossary_scrapy("-a", "mode=refresh", "-s", f"GLOSSARY_DB={db}", "-s", setting)
    assert "Traceback" not in result.stderr and "exception" not in result.stderr, result.stderr
    errors = [entry for entry in result.stderr.splitlines() if "ERROR" in entry]
    assert len(errors) == 1 and errors[0].endswith(line), result.stderr
    assert rows(db, "SELECT command, finish_reason FROM crawl_runs ORDER BY id DESC LIMIT 1") == [
        {"command": "refresh", "finish_reason": "bad_argument"}]


def test_a_run_in_a_directory_that_does_not_exist_is_refused_not_a_new_archive(tmp_path):
    """The command line refused a --db in a missing directory; a Scrapyd job (GLOSSARY_DB) created it, and
    a new archive in it: a typo in a scheduler's line started an archive nobody reads."""
    db = tmp_path / "typo" / "archvies" / "g.db"
    result = run_glossary_scrapy("-a", "start_urls=http://127.0.0.1:9/", "-s", f"GLOSSARY_DB={db}")
    assert "Traceback" not in result.stderr
    assert f"no directory {db.parent} for the archive {db}" in result.stderr
    assert not (tmp_path / "typo").exists()


def test_scrapys_item_count_budget_still_stops_a_run(make_replica, tmp_path):
    """The project's budgets replace Scrapy's CloseSpider extension: its item count (a Scrapyd job's
    setting=CLOSESPIDER_ITEMCOUNT, which a run records as --max-pages) still stops the run."""
    server = make_replica(40)
    db = tmp_path / "items.db"
    result = run_glossary_scrapy("-a", f"start_urls={server.url}/", "-s", f"GLOSSARY_DB={db}", "-s", "DOWNLOAD_DELAY=0",
                                 "-s", "CLOSESPIDER_ITEMCOUNT=3")
    assert "Traceback" not in result.stderr, result.stderr
    (run,) = rows(db, "SELECT finish_reason, exit_status FROM crawl_runs")
    assert run == {"finish_reason": "closespider_itemcount", "exit_status": 4}
    assert rows(db, "SELECT count(*) AS n FROM pages")[0]["n"] < 20


def test_a_job_given_its_own_jobdir_resumes_to_every_page(make_replica, tmp_path):
    """A job given a JOBDIR of its own, stopped by its budget and resumed with the same JOBDIR: Scrapy's record of
    the requests it had seen (requests.seen), every one ever scheduled, dropped the pages the stopped part had
    queued, and the resume ended the crawl done with a fifth of the site."""
    server = make_replica(40)
    db, plain = tmp_path / "own-jobdir.db", tmp_path / "plain.db"
    job = ("-s", f"GLOSSARY_DB={db}", "-s", f"JOBDIR={tmp_path / 'job'}", "-s", "DOWNLOAD_DELAY=0")
    run_glossary_scrapy("-a", f"start_urls={server.url}/", "-a", "max_pages=10", *job)
    for _ in range(8):
        if rows(db, "SELECT outcome FROM crawl_runs ORDER BY id DESC LIMIT 1")[0]["outcome"] == "done":
            break
        assert "Traceback" not in run_glossary_scrapy("-a", "resume=1", *job).stderr
    assert crawl(plain, "--start-url", f"{server.url}/").returncode == 0
    assert rows(db, "SELECT url FROM pages ORDER BY url") == rows(plain, "SELECT url FROM pages ORDER BY url")


@pytest.mark.parametrize("command", ["fetch", "parse"])
def test_scrapys_debugging_commands_with_the_spider_open_no_run(replica, crawled, tmp_path, command):
    """scrapy fetch and parse with --spider glossary built the spider, which opened a run of the archive with no
    start URLs (the live site's) and recorded it done: a stopped crawl could no longer be resumed, and every later
    refresh asked the live site's sitemap. (scrapy shell makes the spider once its settings are frozen: it
    raised a traceback and left the run open.)"""
    db = tmp_path / "archive.db"
    shutil.copy(crawled, db)
    before = rows(db, "SELECT * FROM crawl_runs")
    result = subprocess.run([sys.executable, "-m", "scrapy", command, "--spider", "glossary", f"{replica.url}/",
                             "-s", f"GLOSSARY_DB={db}"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    assert "run them without --spider glossary" in result.stderr
    assert rows(db, "SELECT * FROM crawl_runs") == before


def test_a_resumed_job_keeps_the_ids_of_the_jobs_before_it(make_replica, tmp_path):
    """Resuming a Scrapyd job's run put the new job's id in place of the stopped one's: a job an operator
    traced (listjobs.json) was nowhere in the archive."""
    server = make_replica(40)
    db = tmp_path / "jobs.db"
    for job, args in (("first", ("-a", f"start_urls={server.url}/", "-a", "max_pages=3")),
                      ("second", ("-a", "resume=1")), ("third", ("-a", "resume=1"))):
        subprocess.run([sys.executable, "-m", "scrapy", "crawl", "glossary", *args, "-s", f"GLOSSARY_DB={db}",
                        "-s", "DOWNLOAD_DELAY=0"], cwd=ROOT, capture_output=True, timeout=120,
                       env={**os.environ, "SCRAPY_JOB": job})
    assert rows(db, "SELECT job_id, earlier_job_ids FROM crawl_runs") == [
        {"job_id": "third", "earlier_job_ids": '["first", "second"]'}]
    (listed,) = json.loads(run_glossary("runs", "--db", str(db), "--json").stdout)
    assert listed["earlier_job_ids"] == ["first", "second"]


def run_glossary_scrapy(*args, env=None):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "scrapy", "crawl", "glossary", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, env={**os.environ, **(env or {})})


def test_progress_line_on_request(tmp_path, replica):
    db = tmp_path / "f.db"
    result = run_glossary("crawl", "--db", str(db), "--delay", "0", "--progress", "--no-follow",
                          "--start-url", f"{replica.url}/area/funding/")
    assert result.returncode == 0
    assert "1 pages" in result.stderr and "/s" in result.stderr


def test_reparse_and_the_extraction_workers_do_not_import_scrapy():
    """Importing Scrapy and Twisted takes a fifth of a second: every reparse, and every crawl's
    extraction worker as it starts, would pay it."""
    import subprocess
    import sys

    code = ("import sys, glossary_spider.reparse, glossary_spider.workers\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'scrapy', 'twisted'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_worker_reads_links_and_the_trap_guards_figures_only_for_a_crawl_that_follows_links():
    from glossary_spider.extraction import extract_page
    from glossary_spider.sketches import read_page
    from glossary_spider.workers import extract_for_staging

    site, base = ReplicaSite(40), "http://127.0.0.1:8000"
    pages = [(site.render(path, base).body, base + path, "text/html") for path in site.glossary_paths()[:3]]
    followed, listed = extract_for_staging(pages, follow=True), extract_for_staging(pages)
    for page, (extraction, _, reading), (alone, _, no_reading) in zip(pages, followed, listed):
        whole = extract_page(*page)
        assert extraction.outlinks == whole.outlinks and len(whole.outlinks) > 10
        assert reading == read_page(whole.record)
        assert alone.outlinks == [] and no_reading is None and alone.record == extraction.record


def test_extraction_workers_shut_down_leave_no_page_waiting():
    """A crawl that stops with pages in the workers' hands or waiting for them: each page's wait ends,
    with its extraction or with BrokenProcessPool, none left pending when the loop goes."""
    import asyncio
    from concurrent.futures.process import BrokenProcessPool

    from glossary_spider.workers import BatchingPool, extract_for_staging

    site, base = ReplicaSite(40), "http://127.0.0.1:8000"
    pages = [(site.render(path, base).body, base + path, "text/html") for path in site.glossary_paths()[:12]]

    async def stop_in_the_middle() -> list[asyncio.Task]:
        pool = BatchingPool(1, extract_for_staging)
        runs = [asyncio.ensure_future(pool.run(page)) for page in pages * 10]
        await runs[0]
        pool.shutdown()
        await asyncio.sleep(0.1)
        return runs

    runs = asyncio.run(stop_in_the_middle())
    assert all(run.done() for run in runs)
    results = [run.exception() or run.result() for run in runs]
    assert all(isinstance(result, (BrokenProcessPool, tuple)) for result in results)
    assert sum(isinstance(result, BrokenProcessPool) for result in results) >= len(runs) - 1 - 2 * 32


def test_a_killed_extraction_worker_loses_no_page_and_a_new_worker_goes_on():
    """The OOM killer, say, ends a worker: the pages in its hands go out again (those it was working on
    each alone), and every page is extracted as it would have been."""
    import asyncio
    import os
    import signal

    from glossary_spider.extraction import extract_page
    from glossary_spider.storage.staging import staged_rows
    from glossary_spider.storage.writer import page_rows
    from glossary_spider.workers import SENT, BatchingPool, extract_for_staging

    site, base = ReplicaSite(40), "http://127.0.0.1:8000"
    pages = [(site.render(path, base).body, base + path, "text/html") for path in site.glossary_paths()[:12]]
    records = [extract_page(*page).record for page in pages]
    # What a worker sends back: the record cut to what the crawl reads, and the rows archiving it writes.
    sent = [({key: record[key] for key in SENT}, page_rows(record)) for record in records]

    async def crawl_with_killed_workers() -> list[list]:
        pool = BatchingPool(1, extract_for_staging, restarts=1)
        try:
            rounds = []
            for _ in range(3):  # more kills than restarts: a batch done between them gives the restart back
                await pool.run(pages[0])
                for link in pool.links:
                    os.kill(link.process.pid, signal.SIGKILL)
                # In the dead worker's hands, or given to a new one if its death was seen first.
                rounds.append(await asyncio.wait_for(asyncio.gather(*(pool.run(p) for p in pages)), 60))
            return rounds
        finally:
            pool.shutdown()

    for results in asyncio.run(crawl_with_killed_workers()):
        assert [(extraction.record, staged_rows(prepared.rows)) for extraction, prepared, _ in results] == sent


def test_a_worker_whose_crawl_dies_before_it_has_its_job_ends_quietly():
    """kill -9 of a crawl while it starts a worker: the worker, finding its socket closed before its job came,
    ends at once with not a word. A spawned multiprocessing child printed a traceback (EOFError) on the standard
    error it shares with the crawl: a cron job's mail."""
    import os
    import socket
    import subprocess
    import sys

    ours, theirs = socket.socketpair()
    worker = subprocess.Popen([sys.executable, "-c", "from glossary_spider.workers import _worker_main; "
                               f"_worker_main({theirs.fileno()}, {os.getpid()})"],
                              pass_fds=[theirs.fileno()], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    theirs.close()
    ours.close()
    assert worker.communicate(timeout=30) == (b"", b"") and worker.returncode == 0


def test_a_page_that_kills_its_worker_fails_alone_and_its_batch_mates_are_extracted():
    import asyncio

    from pool_jobs import always_dies, length_unless_poison

    from glossary_spider.workers import BatchingPool, WorkerDied, WorkersGone

    items = ["a", "bb", "poison", "dddd", "eeeee"] * 3

    async def run(job, restarts):
        pool = BatchingPool(1, job, restarts=restarts)
        try:
            return await asyncio.wait_for(asyncio.gather(*(pool.run(i) for i in items), return_exceptions=True), 60)
        finally:
            pool.shutdown()

    results = asyncio.run(run(length_unless_poison, 2))
    assert [r if isinstance(r, int) else type(r) for r in results] == \
        [WorkerDied if item == "poison" else len(item) for item in items]
    # Workers that die whatever they are given: after `restarts` deaths with nothing done between them,
    # no new one is started, and what is left fails as WorkersGone (the crawl then extracts it itself).
    results = asyncio.run(run(always_dies, 2))
    assert [type(r) for r in results[:2]] == [WorkerDied, WorkerDied]
    assert all(type(r) is WorkersGone for r in results[2:])


def test_request_queues_a_killed_crawl_left_are_removed_by_a_later_crawl_and_nothing_else(tmp_path, replica):
    """kill -9 leaves the crawl's private queue directory behind (it can hold a whole sitemap's requests).
    A later crawl removes it once it is an hour old; a live crawl's, a symlink and others' files stay."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {"TMPDIR": str(temp)}
    db = tmp_path / "glossary.db"
    killed = launcher.popen([*GLOSSARY, "crawl", "--db", str(db), "--start-url", f"{replica.url}/", "--delay", "1",
                               "--no-progress"], cwd=ROOT, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(temp.glob("glossary-jobs-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    killed.kill()
    killed.wait()
    (left,) = temp.glob("glossary-jobs-*")
    live = Path(tempfile.mkdtemp(prefix="glossary-jobs-", dir=temp))  # as a running crawl holds its own
    held = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_EX)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    link = temp / "glossary-jobs-link"
    link.symlink_to(mine)

    def later_crawl():
        result = crawl(tmp_path / "other.db", "--start-url", f"{replica.url}/", "--no-follow", env=env)
        assert result.returncode == 0, result.stderr

    later_crawl()
    assert left.is_dir(), "not an hour old yet: it may be a crawl of an older version's, still running"
    hours_ago = time.time() - 2 * 3600
    for path in (left, live):
        os.utime(path, (hours_ago, hours_ago))
    os.utime(link, (hours_ago, hours_ago), follow_symlinks=False)
    try:
        later_crawl()
    finally:
        os.close(held)
    assert not left.exists()
    assert live.is_dir() and link.is_symlink() and (mine / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in temp.iterdir()) == sorted([live.name, link.name])


def test_a_crawl_runs_no_remote_control_server_and_leaves_no_file_in_the_users_home(tmp_path, replica):
    """Scrapy 2.19 starts, in every crawl, an HTTP server that runs the Python code it is sent, with its
    token in a file under the user's state directory (left there by a killed crawl). Not in ours."""
    state = tmp_path / "state"
    result = crawl(tmp_path / "glossary.db", "--start-url", f"{replica.url}/", "--no-follow", "-v",
                   env={"XDG_STATE_HOME": str(state), "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "Remote control" not in result.stderr
    assert not state.exists() and not (tmp_path / ".local").exists()


class _Site(http.server.BaseHTTPRequestHandler):
    """A small site of pages made by :meth:`markup` (None: a 404)."""

    def markup(self) -> str | None:
        raise NotImplementedError

    def do_GET(self):  # noqa: N802 (http.server's name)
        markup = self.markup()
        if markup is None:
            self.send_error(404)
            return
        body = markup.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _served(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler``'s site on a free loopback port, for the block: its base URL (``http://127.0.0.1:PORT``)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


class _RobotsForMyBot(_Site):
    """A site whose robots.txt shuts out MyBot alone."""

    def markup(self) -> str | None:
        if self.path == "/robots.txt":
            return "User-agent: MyBot\nDisallow: /\n"
        return "<html><body><main><h1>Vega</h1><p>Vega measures how an option's price responds to volatility.</p>" \
               "</main></body></html>" if self.path == "/definition/vega/" else None


def test_a_run_given_a_user_agent_obeys_the_rules_for_it(tmp_path):
    """-s USER_AGENT=MyBot/2.0 sent MyBot, but obeyed robots.txt as the project's own product token: a site that
    shut MyBot out was crawled by it all the same."""
    with _served(_RobotsForMyBot) as base:
        for agent, archived in ((None, 1), ("MyBot/2.0", 0)):
            db = tmp_path / f"{agent or 'ours'}.db".replace("/", "-")
            result = run_glossary_scrapy("-a", f"start_urls={base}/definition/vega/", "-a", "follow=0", "-a", "delay=0",
                                         "-s", f"GLOSSARY_DB={db}", *(("-s", f"USER_AGENT={agent}") if agent else ()))
            assert "Traceback" not in result.stderr, result.stderr
            assert rows(db, "SELECT count(*) AS n FROM pages")[0]["n"] == archived, (agent, result.stderr)


class _SlowListing(_Site):
    """A site whose one listing page, the only way to five of its definitions, answers half a second late."""

    def markup(self) -> str | None:
        if self.path == "/robots.txt":
            return None
        if self.path == "/":
            title, links = "Home", ["/category/x/", *(f"/definition/d{i}/" for i in range(10))]
        elif self.path == "/category/x/":
            time.sleep(0.5)
            title, links = "Category", [f"/definition/h{i}/" for i in range(5)]
        else:
            title, links = self.path.strip("/").replace("/", " "), ["/"]
        words = " ".join(f"{title.split()[-1]}{i}" for i in range(60))
        return (f"<!doctype html><html><head><title>{title}</title></head><body><main><article><h1>{title}</h1>"
                f"<p>{words}</p></article><ul>{''.join(f'<li><a href={u}>{u}</a></li>' for u in links)}</ul>"
                "</main></body></html>")


def test_a_listing_that_answers_after_the_page_budget_is_spent_is_left_for_resume(tmp_path):
    """A page that is no glossary page (a listing) arriving once --max-pages was spent was marked visited
    with none of its links read: the definitions only it leads to were never fetched, by any part."""
    db = tmp_path / "slices.db"
    with _served(_SlowListing) as base:
        result = crawl(db, "--start-url", f"{base}/", "--max-pages", "3")
        for _ in range(20):
            if result.returncode != 4:
                break
            result = run_glossary("crawl", "--resume", "--db", str(db), "--no-progress")
        assert result.returncode == 0, result.stdout + result.stderr
    urls = {r["url"].removeprefix(base) for r in rows(db, "SELECT url FROM pages")}
    assert {f"/definition/h{i}/" for i in range(5)} <= urls, sorted(urls)


# A glossary post of a title ({0}), for the small sites below.
_TERM_POST = "<html><head><title>{0}</title></head><body><h1>{0}</h1><p>{0} is a term of crypto derivatives.</p></body></html>"


class _Pages(_Site):
    """A site of the pages in ``PAGES`` (path: markup), which a test may change between crawls."""

    PAGES: dict[str, str] = {}

    def markup(self) -> str | None:
        return self.PAGES.get(self.path)


class _Tagged(_Pages):
    """:class:`_Pages`, each page with an entity tag, answering ``304 Not Modified`` to a request that sends it."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        markup = self.markup()
        tag = f'"{hashlib.sha256(markup.encode()).hexdigest()[:16]}"' if markup is not None else None
        if tag is None or self.headers.get("If-None-Match") != tag:
            self.send_response(404 if markup is None else 200)
            body = (markup or "").encode()
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if tag:
                self.send_header("ETag", tag)
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(304)
        self.send_header("ETag", tag)
        self.end_headers()


def test_a_new_refresh_in_place_of_a_stopped_one_fetches_what_it_had_found_by_links(tmp_path):
    """A refresh stopped by its budget had archived a changed page and not yet fetched the new page it links; the
    refresh started in its place (not --resume), asking about the changed page, unchanged since, read its links no
    more: the new page was never fetched, by it or by any refresh after. It is fetched by the new refresh."""
    post = "<html><head><title>{0}</title></head><body><h1>{0}</h1><p>{0} is a term of crypto derivatives.</p>{1}"
    names = ["delta", "gamma", "vega"]
    _Tagged.PAGES = {"/": post.format("Home", "".join(f'<a href="/definition/{n}/">{n}</a>' for n in names)),
                     **{f"/definition/{n}/": post.format(n.title(), "") for n in [*names, "rho"]}}
    db = tmp_path / "left.db"
    with _served(_Tagged) as base:
        assert crawl(db, "--start-url", f"{base}/").returncode == 0
        _Tagged.PAGES["/"] += '<a href="/definition/rho/">rho</a>'
        stopped = run_glossary("refresh", "--db", str(db), "--delay", "0", "--concurrency", "1", "--max-requests", "2",
                               "--no-progress")
        assert stopped.returncode == 4, stopped.stdout + stopped.stderr  # ExitStatus.STOPPED_EARLY
        assert rows(db, "SELECT version FROM pages WHERE url = ?", (f"{base}/",)) == [{"version": 2}]
        assert rows(db, "SELECT count(*) AS n FROM pages WHERE url LIKE '%rho%'") == [{"n": 0}]
        result = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["pages_new"] == 1
    assert rows(db, "SELECT url, title FROM pages WHERE url LIKE '%rho%'") == [
        {"url": f"{base}/definition/rho/", "title": "Rho"}]


class _ForNow(_Pages):
    """:class:`_Pages`, with the paths in ``ELSEWHERE`` answering ``302 Found`` to where it says."""

    ELSEWHERE: dict[str, str] = {}

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path in self.ELSEWHERE:
            self.send_response(302)
            self.send_header("Location", self.ELSEWHERE[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()


def test_archived_pages_redirected_for_now_stay_live_and_do_not_hold_the_run(tmp_path):
    """A temporary redirect moves no page away: its fetch fails, the page stays as archived. Counted with the
    pages answering what is not a page, six in ten such redirects held the run (exit 5), the gate asking
    whether the server was the site's."""
    names = [f"term{i}" for i in range(10)]
    _ForNow.ELSEWHERE = {}
    _ForNow.PAGES = {"/": "<html><body><h1>Home</h1>" + "".join(f'<a href="/definition/{n}/">{n}</a>' for n in names)
                     + "</body></html>",
                     **{f"/definition/{n}/": _TERM_POST.format(n) for n in names},
                     **{f"/definition/{n}-elsewhere/": _TERM_POST.format(f"{n} elsewhere") for n in names}}
    db = tmp_path / "for-now.db"
    with _served(_ForNow) as base:
        assert crawl(db, "--start-url", f"{base}/").returncode == 0
        _ForNow.ELSEWHERE = {f"/definition/{n}/": f"/definition/{n}-elsewhere/" for n in names[:6]}
        result = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HELD" not in result.stdout
    assert rows(db, "SELECT count(*) AS n FROM pages WHERE status = 'live' AND url LIKE '%/term_/'") == [{"n": 10}]
    redirected = rows(db, "SELECT url FROM crawl_errors WHERE error LIKE 'HTTP 302: a temporary redirect to %'")
    assert sorted(r["url"] for r in redirected) == [f"{base}/definition/{n}/" for n in names[:6]]


def test_two_scheduled_urls_that_redirect_to_each_other_each_fail_as_a_redirect_loop(tmp_path):
    """Each redirect led to a URL scheduled already, and was dropped as a duplicate: neither URL was archived,
    none failed, no row said why, and the run said "nothing new"."""
    _ForNow.PAGES = {"/definition/ok/": "<html><head><title>Ok</title></head><body><h1>Ok</h1><p>Ok is a term of "
                                        "crypto derivatives.</p></body></html>"}
    _ForNow.ELSEWHERE = {"/definition/a/": "/definition/b/", "/definition/b/": "/definition/a/"}
    db = tmp_path / "loop.db"
    with _served(_ForNow) as base:
        result = crawl(db, "--no-follow", *(arg for name in ("a", "b", "ok")
                                            for arg in ("--start-url", f"{base}/definition/{name}/")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r["url"] for r in rows(db, "SELECT url FROM pages")] == [f"{base}/definition/ok/"]
    a, b = f"{base}/definition/a/", f"{base}/definition/b/"
    assert rows(db, "SELECT url, stage, error FROM crawl_errors ORDER BY url") == [
        {"url": a, "stage": "fetch", "error": f"redirect loop: {a} -> {b} -> {a}"},
        {"url": b, "stage": "fetch", "error": f"redirect loop: {b} -> {a} -> {b}"}]
    assert "failed              2" in result.stdout


def test_urls_scrapy_reads_as_one_and_the_archive_as_two_are_each_fetched_not_dropped(tmp_path):
    """Scrapy's duplicate filter read an escaped reserved character as the character (``%28`` as ``(``), where the
    archive keeps the two spellings apart (RFC 3986, 6.2.2.2): a site redirecting ``(finance)`` to its own
    ``%28finance%29`` spelling had the target dropped as a duplicate, the page never fetched and no row saying
    so; of two start URLs so spelt, the second was never asked."""
    _ForNow.PAGES = {"/": '<html><body><h1>Home</h1><a href="/definition/delta-(finance)/">delta</a></body></html>',
                     "/definition/delta-%28finance%29/": _TERM_POST.format("Delta"),
                     "/definition/vega-(x)/": _TERM_POST.format("Vega"), "/definition/vega-%28x%29/": _TERM_POST.format("Vega x")}
    _ForNow.ELSEWHERE = {"/definition/delta-(finance)/": "/definition/delta-%28finance%29/"}
    db = tmp_path / "spelt.db"
    with _served(_ForNow) as base:
        result = crawl(db, "--start-url", f"{base}/", "--start-url", f"{base}/definition/vega-(x)/",
                       "--start-url", f"{base}/definition/vega-%28x%29/")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted((r["url"].removeprefix(base), r["title"]) for r in rows(db, "SELECT url, title FROM pages")) == [
        ("/", "Home"), ("/definition/delta-%28finance%29/", "Delta"), ("/definition/vega-%28x%29/", "Vega x"),
        ("/definition/vega-(x)/", "Vega")]
    assert rows(db, "SELECT url, outcome FROM captures WHERE http_status = 302") == [
        {"url": f"{base}/definition/delta-(finance)/", "outcome": "moved"}]


class _Dated(_Pages):
    """:class:`_Pages`, each page dated by ``Last-Modified`` as RFC 9110 prefers it (IMF-fixdate), answering
    ``304 Not Modified`` to a request that sends that date back, the date repeated in ``FORM`` (a strftime
    pattern of the same moment: asctime's, or RFC 5322's ``-0000``). The first request for each path in
    ``BUSY_ONCE`` is a 503 whose ``Retry-After`` is a date two seconds ahead, in ``FORM``. Every request is
    noted in ``ASKED`` (path, time, If-Modified-Since)."""

    MOMENT = time.gmtime(1_764_583_200)  # Tue, 01 Dec 2025 10:00:00 GMT
    FORM = "%a %b %d %H:%M:%S %Y"
    BUSY_ONCE: ClassVar[set[str]] = set()
    ASKED: ClassVar[list[tuple[str, float, str | None]]] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        since = self.headers.get("If-Modified-Since")
        self.ASKED.append((self.path, time.monotonic(), since))
        stamp = time.strftime("%a, %d %b %Y %H:%M:%S GMT", self.MOMENT)
        if self.path in self.BUSY_ONCE:
            self.BUSY_ONCE.discard(self.path)
            self.send_response(503)
            self.send_header("Retry-After", time.strftime(self.FORM, time.gmtime(time.time() + 2)))
        elif since == stamp and self.markup() is not None:
            self.send_response(304)
            self.send_header("Last-Modified", time.strftime(self.FORM, self.MOMENT))
        else:
            body = (self.markup() or "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Last-Modified", stamp)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.mark.parametrize("form", ["%a %b %d %H:%M:%S %Y", "%a, %d %b %Y %H:%M:%S -0000"])
def test_http_dates_that_name_no_zone_are_read_in_gmt_whatever_the_machines_zone(tmp_path, form):
    """An HTTP date is in GMT whatever its form; asctime's names no zone, RFC 5322's -0000 none either, and
    Python read both in the machine's own. Under TZ=America/St_Johns a Retry-After two seconds ahead was hours
    ahead, "longer than we wait": every page failed and the run ended unreachable (exit 6). And a 304 repeating
    the date sent back, so written, was taken for another date: each page asked for again whole, every refresh."""
    _Dated.PAGES = {f"/definition/{n}/": _TERM_POST.format(n.title()) for n in ("delta", "gamma")}
    _Dated.FORM, _Dated.BUSY_ONCE, _Dated.ASKED = form, {"/definition/delta/"}, []
    db = tmp_path / "dated.db"
    zone = {"TZ": "America/St_Johns"}
    with _served(_Dated) as base:
        result = crawl(db, "--no-follow", *(f"--start-url={base}{path}" for path in _Dated.PAGES), env=zone)
        assert result.returncode == 0, result.stdout + result.stderr
        asked = [when for path, when, _ in _Dated.ASKED if path == "/definition/delta/"]
        assert len(asked) == 2 and 0.9 <= asked[1] - asked[0] < 10  # two seconds ahead, to the second written
        _Dated.ASKED = []
        refreshed = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress", "--json", env=zone)
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    assert json.loads(refreshed.stdout)["pages_not_modified"] == 2
    assert [since is not None for path, _, since in _Dated.ASKED if path != "/robots.txt"] == [True, True]


class _Latin1(_Pages):
    """:class:`_Pages`, served in ISO-8859-1 (said so in Content-Type)."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        markup = self.markup()
        body = (markup or "").encode("latin-1")
        self.send_response(200 if markup is not None else 404)
        self.send_header("Content-Type", "text/html; charset=iso-8859-1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_link_s_query_on_a_latin1_page_is_written_in_latin1_as_a_browser_writes_it(tmp_path):
    """A browser writes the characters past ASCII of a link's query in the page's encoding (the WHATWG URL
    standard), its path in UTF-8: ?plat=café on a Latin-1 page is ?plat=caf%E9. Written in UTF-8, the link
    asked for ?plat=caf%C3%A9, which the site did not have (a 404, the page lost)."""
    post = "<html><head><title>{0}</title></head><body><h1>{0}</h1><p>{0} est un terme des dérivés.</p>{1}</body></html>"
    _Latin1.PAGES = {"/": post.format("Carte", '<a href="/definition/menu/?plat=café">café</a>'),
                     "/definition/menu/?plat=caf%E9": post.format("Café", "")}
    db = tmp_path / "latin1.db"
    with _served(_Latin1) as base:
        result = crawl(db, "--start-url", f"{base}/")
    assert result.returncode == 0, result.stdout + result.stderr
    assert rows(db, "SELECT url, title FROM pages WHERE title = 'Café'") == [
        {"url": f"{base}/definition/menu/?plat=caf%E9", "title": "Café"}]


class _Variants(_Site):
    """A site whose pages answer at any query, each naming its canonical URL (``CANONICAL``, by path: the page's
    own path without a query where not given), and whose home page links to query variants of them. Every
    request's path and query is noted in ``ASKED``."""

    CANONICAL = {"/definition/self/": "/definition/self/?v=2", "/definition/other/": "/definition/vega/",
                 "/area/a/": "/area/a/"}
    HOME = ["/definition/vega/?ref=home", "/definition/vega/", "/term/delta/?ref=sidebar&b=1",
            "/definition/self/?v=2", "/definition/other/?ref=1", "/area/a/?page=2", "/definition/missing/?ref=1"]
    ASKED: list[str] = []

    def markup(self) -> str | None:
        self.ASKED.append(self.path)
        path = urlsplit(self.path).path
        if path == "/robots.txt" or self.path == "/definition/missing/":
            return None
        links = self.HOME if path == "/" else []
        title = path.strip("/").replace("/", " ") or "Home"
        return (f'<html><head><title>{title}</title><link rel="canonical" href="'
                f'{self.CANONICAL.get(path, path)}"></head><body><h1>{title}</h1><p>{title} is a term of crypto '
                f'derivatives, explained here at some length for its readers.</p>'
                f'{"".join(f"<a href={u!r}>{u}</a> " for u in links)}</body></html>')


@pytest.mark.parametrize("workers", ["0", "1"])
def test_a_page_fetched_at_a_variant_of_its_url_is_archived_once_at_its_canonical_url(tmp_path, workers):
    """A glossary page linked with a query its rel=canonical leaves out (?ref=, a session, a tracking parameter
    the URLs' normalisation does not know) was archived twice, the variant a definition of its own in every
    table, search and export. It is archived once, at its canonical URL, the variant recorded as moved there
    (fetched first or second); one whose canonical URL is itself, another page, no page (404), or that is a
    listing's page is archived as it was, and a refresh leaves them so. In Scrapy's process and in an
    extraction worker alike."""
    _Variants.ASKED = []
    db = tmp_path / "variants.db"
    with _served(_Variants) as base:
        result = crawl(db, "--start-url", f"{base}/", "--workers", workers)
        assert result.returncode == 0, result.stdout + result.stderr
        archived = [f"{base}/", f"{base}/definition/missing/?ref=1", f"{base}/definition/other/?ref=1",
                    f"{base}/definition/self/?v=2", f"{base}/definition/vega/", f"{base}/term/delta/"]
        assert [r["url"] for r in rows(db, "SELECT url FROM pages ORDER BY url")] == archived
        asked = Counter(_Variants.ASKED)
        assert asked["/definition/vega/"] == 1 and asked["/term/delta/"] == 1 and asked["/definition/missing/"] == 1
        assert asked["/definition/missing/?ref=1"] == 2  # again, once its canonical URL answered 404
        refreshed = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress")
        assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    assert rows(db, "SELECT url, status FROM pages ORDER BY url") == [{"url": u, "status": "live"} for u in archived]
    assert rows(db, "SELECT url, http_status, headers FROM captures WHERE run_id = 1 AND outcome = 'moved' "
                    "ORDER BY url") == [
        {"url": f"{base}/definition/vega/?ref=home", "http_status": 200,
         "headers": f"Location: {base}/definition/vega/"},
        {"url": f"{base}/term/delta/?b=1&ref=sidebar", "http_status": 200, "headers": f"Location: {base}/term/delta/"}]
    assert rows(db, "SELECT count(*) AS n FROM crawl_errors") == [{"n": 0}]


class _CanonicalTangles(_Site):
    """Pages at query variants whose canonical URLs name each other (``loop``), lead on by two steps (``chain``),
    or answer 500 every time (``down``)."""

    CANONICAL = {"/definition/loop/?v=1": "/definition/loop/?v=2", "/definition/loop/?v=2": "/definition/loop/?v=1",
                 "/definition/chain/?a=1": "/definition/chain/?a=2", "/definition/chain/?a=2": "/definition/chain/?a=3",
                 "/definition/down/?ref=a": "/definition/down/"}
    HOME = ["/definition/loop/?v=1", "/definition/chain/?a=1", "/definition/down/?ref=a"]

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path == "/definition/down/":
            self.send_error(500)
        else:
            super().do_GET()

    def markup(self) -> str | None:
        if self.path == "/robots.txt":
            return None
        name = self.path.strip("/").split("/")[-1] or "Home"
        links = "".join(f'<a href="{u}">{u}</a> ' for u in self.HOME) if self.path == "/" else ""
        canonical = self.CANONICAL.get(self.path, self.path)
        return (f'<html><head><title>{name}</title><link rel="canonical" href="{canonical}"></head>'
                f'<body><h1>{name}</h1><p>{name} is a term of crypto derivatives, explained here at some length '
                f'for its readers.</p>{links}</body></html>')


def test_canonical_urls_that_loop_lead_on_or_fail_leave_each_page_archived_once(tmp_path):
    """Two variants whose canonical URLs named each other were each recorded as moved to the other, and the page
    was archived nowhere, with no row saying so; a chain of two steps recorded its first variant as moved twice;
    a canonical URL that answered 500 lost the page, its failure recorded under the variant that answered 200.
    The page is archived where the loop closes, each URL of a chain moved once, and a page whose canonical URL
    cannot be had where it was found."""
    db = tmp_path / "tangles.db"
    with _served(_CanonicalTangles) as base:
        result = crawl(db, "--start-url", f"{base}/")
    assert result.returncode == 0, result.stdout + result.stderr
    assert rows(db, "SELECT url FROM pages ORDER BY url") == [{"url": f"{base}{path}"} for path in (
        "/", "/definition/chain/?a=3", "/definition/down/?ref=a", "/definition/loop/?v=2")]
    assert rows(db, "SELECT url, headers FROM captures WHERE outcome = 'moved' ORDER BY url") == [
        {"url": f"{base}/definition/chain/?a=1", "headers": f"Location: {base}/definition/chain/?a=2"},
        {"url": f"{base}/definition/chain/?a=2", "headers": f"Location: {base}/definition/chain/?a=3"},
        {"url": f"{base}/definition/loop/?v=1", "headers": f"Location: {base}/definition/loop/?v=2"}]
    assert rows(db, "SELECT count(*) AS n FROM crawl_errors") == [{"n": 0}]


class _Refreshing(_Pages):
    """:class:`_Pages`, the paths in ``REFRESH`` each with a meta refresh, without delay, to where it says."""

    REFRESH: dict[str, str] = {}

    def markup(self) -> str | None:
        markup = super().markup()
        if markup is not None and self.path in self.REFRESH:
            refresh = f'<meta http-equiv="refresh" content="0; url={self.REFRESH[self.path]}">'
            markup = markup.replace("<head>", "<head>" + refresh)
        return markup


def test_archived_pages_that_refresh_to_themselves_are_refreshed_and_a_refresh_loop_fails_each_page(tmp_path):
    """A meta refresh to the page's own URL was followed as a redirect: the duplicate filter dropped the request,
    and the page with it. Six archived pages that had come to reload themselves were never read, and the refresh
    said "nothing new ... failed 0". Pages refreshing in a loop were marked moved or gone, though each still
    answered with its text."""
    post = ("<html><head><title>{0}</title></head><body><h1>{0}</h1><p>{0} is a term of crypto derivatives."
            "</p></body></html>")
    names = [f"term{i}" for i in range(10)]
    _Refreshing.REFRESH = {}
    _Refreshing.PAGES = {"/": "<html><body><h1>Home</h1>"
                         + "".join(f'<a href="/definition/{n}/">{n}</a>' for n in names) + "</body></html>",
                         **{f"/definition/{n}/": post.format(n) for n in names},
                         "/definition/term8-back/": post.format("term8 back")}
    db = tmp_path / "refreshing.db"
    with _served(_Refreshing) as base:
        assert crawl(db, "--start-url", f"{base}/").returncode == 0
        _Refreshing.REFRESH = {**{f"/definition/{n}/": f"/definition/{n}/" for n in names[:6]},
                               "/definition/term6/": "/definition/term7/", "/definition/term7/": "/definition/term6/",
                               "/definition/term8/": "/definition/term8-back/",
                               "/definition/term8-back/": "/definition/term8/"}
        result = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^  unchanged +8$", result.stdout, re.M), result.stdout  # the home page and term9 too
    assert re.search(r"^  failed +4$", result.stdout, re.M), result.stdout  # the loops' four URLs
    assert rows(db, "SELECT count(*) AS n FROM captures WHERE run_id = 2 AND outcome = 'unchanged'") == [{"n": 8}]
    assert rows(db, "SELECT url, status, version FROM pages ORDER BY url") == [
        {"url": f"{base}/", "status": "live", "version": 1},
        *({"url": f"{base}/definition/{n}/", "status": "live", "version": 1} for n in names)]
    url = {n: f"{base}/definition/{n}/" for n in [*names, "term8-back"]}
    loops = [["term6", "term7"], ["term7", "term6"], ["term8-back", "term8"], ["term8", "term8-back"]]
    assert rows(db, "SELECT url, stage, error FROM crawl_errors WHERE run_id = 2 ORDER BY url") == [
        {"url": url[a], "stage": "fetch", "error": f"redirect loop: {url[a]} -> {url[b]} -> {url[a]}"}
        for a, b in loops]


class _CommaTag(_Site):
    """One page served with an entity tag that holds a comma (RFC 9110 allows it), answered 304 when asked
    with that tag; every request for it is noted with the If-None-Match it sent."""

    TAG = '"a,b"'
    ASKED: list[str | None] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path != "/definition/skew/":
            self.send_error(404)
            return
        self.ASKED.append(self.headers.get("If-None-Match"))
        if self.headers.get("If-None-Match") == self.TAG:
            self.send_response(304)
            self.send_header("ETag", self.TAG)
            self.end_headers()
            return
        body = _metadata_page("en", "Author", "2024-06-02T08:00:00+02:00", "/definition/skew/").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("ETag", self.TAG)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_page_whose_entity_tag_holds_a_comma_is_not_modified_in_one_request(tmp_path):
    """The If-None-Match sent was split on commas to compare the 304's entity tag with it: a tag holding a comma
    never matched itself, the 304 was taken as contradicting it, and every refresh fetched the page again in full."""
    db = tmp_path / "comma.db"
    with _served(_CommaTag) as base:
        assert crawl(db, "--start-url", f"{base}/definition/skew/", "--no-follow").returncode == 0
        _CommaTag.ASKED.clear()
        again = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress", "--json")
        assert again.returncode == 0, again.stderr
    assert _CommaTag.ASKED == ['"a,b"']
    assert json.loads(again.stdout)["pages_not_modified"] == 1
    assert rows(db, "SELECT etag FROM captures WHERE http_status = 200") == [{"etag": '"a,b"'}]


class _Renamed(_Site):
    """A page whose entity tag is its file's time and size, as nginx makes it: renamed (``moved``), its old URL
    answers 301 to the new one, which serves the same file with the same tag, 304 to a request that names it.
    The validators each request carried are noted."""

    TAG = '"6566a3b0-2f1"'
    moved = False
    ASKED: list[tuple[str, str | None, str | None]] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.ASKED.append((self.path, self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")))
        current = "/definition/skew-new/" if self.moved else "/definition/skew/"
        if self.path == "/definition/skew/" and self.moved:
            self.send_response(301)
            self.send_header("Location", current)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path != current:
            self.send_error(404)
            return
        if self.headers.get("If-None-Match") == self.TAG:
            self.send_response(304)
            self.send_header("ETag", self.TAG)
            self.end_headers()
            return
        body = _metadata_page("en", "Author", "2024-06-02T08:00:00+02:00", current).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("ETag", self.TAG)
        self.send_header("Last-Modified", "Sun, 02 Jun 2024 06:00:00 GMT")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_page_moved_to_a_new_url_is_asked_for_there_without_the_old_urls_validators(tmp_path):
    """A refresh sent a page's entity tag and date on to where its 301 led: the new URL of a renamed file, which
    nginx tags alike, answered 304 for a page the archive never had; it was counted not modified and archived
    nowhere, and the page stood as deleted until a later refresh."""
    db = tmp_path / "renamed.db"
    _Renamed.moved, _Renamed.ASKED = False, []
    with _served(_Renamed) as base:
        assert crawl(db, "--start-url", f"{base}/definition/skew/", "--no-follow").returncode == 0
        _Renamed.moved, _Renamed.ASKED = True, []
        again = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress", "--json")
        assert again.returncode == 0, again.stdout + again.stderr
    asked = [(path, tag is not None, since is not None) for path, tag, since in _Renamed.ASKED]
    assert [a for a in asked if a[0] != "/robots.txt"] == [
        ("/definition/skew/", True, True), ("/definition/skew-new/", False, False)]
    assert rows(db, "SELECT url, status FROM pages ORDER BY url") == [
        {"url": f"{base}/definition/skew-new/", "status": "live"},
        {"url": f"{base}/definition/skew/", "status": "gone"}]
    assert json.loads(again.stdout)["pages_not_modified"] == 0


class _Unwell(_Site):
    """A home page linking to three definitions, one of which answers 503 while ``unwell``; every page answers 304
    to the entity tag it is served with."""

    unwell = True

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path == "/definition/skew/" and self.unwell:
            self.send_error(503)
        elif self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.send_header("ETag", '"v1"')
            self.end_headers()
        else:
            super().do_GET()

    def send_header(self, keyword, value):
        super().send_header(keyword, value)
        if keyword == "Content-Type":
            super().send_header("ETag", '"v1"')

    def markup(self) -> str | None:
        if self.path == "/robots.txt":
            return None
        if self.path == "/":
            links = "".join(f'<li><a href="/definition/{d}/">{d}</a></li>' for d in ("vega", "skew", "theta"))
            return f"<html><head><title>Home</title></head><body><h1>Home</h1><ul>{links}</ul></body></html>"
        name = self.path.strip("/").split("/")[-1].title()
        return (f"<html><head><title>{name}</title></head><body><main><h1>{name}</h1><p>{name} is a term of crypto "
                "derivatives, as the desk uses it.</p></main></body></html>")


def test_a_page_a_crawl_got_no_answer_from_is_asked_for_again_by_the_next_refresh(tmp_path):
    """A page found by a link alone that answered 503 to the crawl was never asked for again: a refresh asks for
    the archive's pages (304s, whose links it does not read) and the sitemaps', and every refresh exited 0 with
    the page missing, runs --check ok."""
    db = tmp_path / "unwell.db"
    _Unwell.unwell = True
    with _served(_Unwell) as base:
        first = crawl(db, "--start-url", f"{base}/")
        assert first.returncode == 0, first.stderr
        assert [r["url"] for r in rows(db, "SELECT url FROM pages ORDER BY url")] == [
            f"{base}/", f"{base}/definition/theta/", f"{base}/definition/vega/"]
        again = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress", "--json")
        assert again.returncode == 0 and json.loads(again.stdout)["pages_new"] == 0, again.stdout + again.stderr
        _Unwell.unwell = False
        mended = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress", "--json")
        assert mended.returncode == 0, mended.stdout + mended.stderr
        assert json.loads(mended.stdout)["pages_new"] == 1
        assert rows(db, "SELECT title FROM pages WHERE url = ?", (f"{base}/definition/skew/",)) == [{"title": "Skew"}]
        last = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress", "--json")
    assert json.loads(last.stdout)["pages_new"] == 0


def test_a_diff_of_versions_whose_words_are_the_same_shows_where_a_paragraph_was_parted(tmp_path):
    """A paragraph parted in two is a new version (the text changed), and show --diff showed a stretch of words
    marked as nothing, and not where the change was: words were compared alone, every break left out."""
    words = [f"w{i}" for i in range(24)]
    with _served(_Pages) as base:
        url = f"{base}/definition/parted/"
        page = "<html><head><title>Parted</title></head><body><main><h1>Parted</h1>{}</main></body></html>"
        _Pages.PAGES = {"/definition/parted/": page.format(f"<p>{' '.join(words)}</p>")}
        db = tmp_path / "parted.db"
        assert crawl(db, "--start-url", url, "--no-follow").returncode == 0
        parted = f"<p>{' '.join(words[:11])}</p><p>{' '.join(words[11:])}</p>"
        _Pages.PAGES = {"/definition/parted/": page.format(parted)}
        again = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress", "--json")
        assert json.loads(again.stdout)["pages_changed"] == 1, again.stdout + again.stderr
    shown = run_glossary("show", url, "--diff", "--db", str(db))
    assert shown.returncode == 0, shown.stderr
    marked = "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 {+¶+} w11 w12 w13 w14 w15 w16 w17 w18 …"
    assert f"\n  {marked}\n" in shown.stdout, shown.stdout


def _fallback_site(fallen: tuple[str, ...]) -> dict[str, str]:
    """A home page and four definitions; those ``fallen`` answer with the home page, as a single-page app's
    index or a catch-all route serves it for whatever it does not have."""
    home = ('<html><head><title>Glossary</title><link rel="canonical" href="/"></head><body><main><h1>Glossary'
            "</h1><p>Every term of crypto derivatives, from vega to skew, explained for the desk.</p><ul>"
            + "".join(f'<li><a href="/definition/{d}/">{d}</a></li>' for d in ("vega", "skew", "theta", "rho"))
            + "</ul></main></body></html>")
    pages = {"/": home}
    for name in ("vega", "skew", "theta", "rho"):
        pages[f"/definition/{name}/"] = home if name in fallen else (
            f"<html><head><title>{name.title()}</title></head><body><main><h1>{name.title()}</h1><p>{name.title()} "
            "is a greek of an option's price, as the desk reads it from the chain.</p></main></body></html>")
    return pages


def test_a_definition_answering_with_the_home_page_is_no_version_of_it(tmp_path):
    """A page a single-page app no longer has answers 200 with the app's index, the home page (its canonical URL
    the home page's): a refresh recorded it as a new version of the definition, titled 'Glossary', with the home
    page's text."""
    db = tmp_path / "fallback.db"
    with _served(_Pages) as base:
        _Pages.PAGES = _fallback_site(fallen=())
        assert crawl(db, "--start-url", f"{base}/").returncode == 0
        _Pages.PAGES = _fallback_site(fallen=("rho", "skew"))
        again = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress", "--json")
        assert again.returncode == 0, again.stdout + again.stderr
    assert rows(db, "SELECT url, status, title, version FROM pages ORDER BY url") == [
        {"url": f"{base}/", "status": "live", "title": "Glossary", "version": 1},
        {"url": f"{base}/definition/rho/", "status": "gone", "title": "Rho", "version": 1},
        {"url": f"{base}/definition/skew/", "status": "gone", "title": "Skew", "version": 1},
        {"url": f"{base}/definition/theta/", "status": "live", "title": "Theta", "version": 1},
        {"url": f"{base}/definition/vega/", "status": "live", "title": "Vega", "version": 1}]
    summary = json.loads(again.stdout)
    assert (summary["pages_changed"], summary["pages_gone"]) == (0, 2), summary
    assert summary["gate"]["soft_404"]["count"] == 2


class _GrowingChain(_Site):
    """A home page of text of its own leading into a chain of pages of two words, each linking on to a slug one
    word longer, without end: a trap that only the chain's length gives away."""

    def markup(self) -> str | None:
        if self.path == "/robots.txt":
            return None
        if self.path == "/":
            words = " ".join(f"word{i}" for i in range(80))
            return (f"<html><head><title>Home</title></head><body><main><h1>Home</h1><p>{words}</p>"
                    '<a href="/term/grow-a/">more</a></main></body></html>')
        slug = self.path.strip("/").split("/")[-1]
        return (f"<html><head><title>{slug}</title></head><body><main><h1>{slug}</h1><p>Two words</p>"
                f'<a href="/term/{slug}-a/">Next</a></main></body></html>')


def _crawled_in_parts(db: Path, start: str, requests: int) -> None:
    """A crawl from ``start`` into ``db`` stopped every ``requests`` requests and resumed, to its end."""
    result = crawl(db, "--start-url", start, "--max-requests", str(requests))
    for _ in range(30):
        if result.returncode != 4:  # ExitStatus.STOPPED_EARLY
            break
        result = run_glossary("crawl", "--resume", "--db", str(db), "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_chain_trap_is_cut_as_soon_in_a_crawl_stopped_and_resumed_part_by_part(tmp_path):
    """How many pages without text of their own had led to a link was kept in its request alone: a crawl stopped
    by a budget and resumed part by part started each part's chain from nothing, and followed the chain without
    end, two pages a part, where one crawl cut it after seven."""
    with _served(_GrowingChain) as base:
        whole = tmp_path / "whole.db"
        assert crawl(whole, "--start-url", f"{base}/").returncode == 0
        parted = tmp_path / "parted.db"
        _crawled_in_parts(parted, f"{base}/", 3)
    urls = "SELECT url FROM pages ORDER BY url"
    assert len(rows(whole, urls)) == 8  # the home page and the chain's first seven
    assert rows(parted, urls) == rows(whole, urls)
    assert [r["error"] for r in rows(parted, "SELECT error FROM crawl_errors WHERE stage = 'trap'")] == [
        r["error"] for r in rows(whole, "SELECT error FROM crawl_errors WHERE stage = 'trap'")]


class _SharingLinks(_Site):
    """A home page leading to 40 definitions of text of their own, each with three "share" links (the definition's
    slug and a number in the query) to pages of two words that link to two more, without end: a family of pages
    that add nothing."""

    requested: ClassVar[list[str]] = []

    def markup(self) -> str | None:
        _SharingLinks.requested.append(self.path)
        if self.path == "/robots.txt":
            return None
        if self.path == "/":
            links = [f"/definition/d{i}/" for i in range(40)]
        elif self.path.startswith("/definition/"):
            links = [f"/share/?u={self.path.split('/')[2]}&amp;n={k}" for k in range(3)]
        else:
            query = self.path.partition("?")[2].replace("&", "-")
            links = "".join(f'<a href="/share/?u={query}{k}&amp;n={k}">Share</a>' for k in range(2))
            return f"<html><head><title>Share</title></head><body><main><p>Share this</p>{links}</main></body></html>"
        return _term_page(self.path.strip("/") or "Home", links=tuple(links))


def test_a_trap_cut_in_one_part_of_a_crawl_stays_cut_in_the_next(tmp_path):
    """A family of URLs a crawl had cut as a trap started again from nothing in each part of a crawl resumed part by
    part: each part requested as many of its pages again and reported the trap again (seven times, 97 pages that
    add nothing, where one crawl reported it once after 41)."""
    with _served(_SharingLinks) as base:
        whole = tmp_path / "whole.db"
        assert crawl(whole, "--start-url", f"{base}/").returncode == 0
        shared_whole = sum(path.startswith("/share/") for path in _SharingLinks.requested)
        _SharingLinks.requested.clear()
        parted = tmp_path / "parted.db"
        _crawled_in_parts(parted, f"{base}/", 10)
        shared_parted = sum(path.startswith("/share/") for path in _SharingLinks.requested)
    urls = "SELECT url FROM pages ORDER BY url"
    assert len(rows(whole, urls)) == 41 and rows(parted, urls) == rows(whole, urls)
    traps = "SELECT error, detail FROM crawl_errors WHERE stage = 'trap'"
    assert rows(parted, traps) == rows(whole, traps) == [{
        "error": "link trap: pages that add nothing; no more followed",
        "detail": "20 URLs requested from links on pages without text of their own"}]
    assert 0 < shared_parted <= shared_whole  # the family entered no more than one crawl enters it


def _metadata_page(lang: str, author: str, modified: str, canonical: str) -> str:
    return (f'<!doctype html><html lang="{lang}"><head><title>Skew</title><meta name="author" content="{author}">'
            f'<meta property="article:modified_time" content="{modified}"><link rel="canonical" href="{canonical}">'
            "</head><body><main><h1>Skew</h1><p>Skew is the difference in implied volatility across strikes, "
            "read from the option chain.</p></main></body></html>")


def test_a_page_whose_words_stay_but_whose_metadata_changes_is_rewritten_without_a_new_version(tmp_path):
    """The archive holds each page's latest state: a page fetched again with the same words but another author,
    language, modification time or canonical URL kept the old ones (only its words' hash was compared). It is
    rewritten, its history left alone (no new version: its words did not change)."""
    with _served(_Pages) as base:
        url = f"{base}/definition/skew/"
        _Pages.PAGES = {"/definition/skew/": _metadata_page("en-US", "Old Author", "2024-06-02T08:00:00+02:00",
                                                            "/definition/skew/")}
        db = tmp_path / "meta.db"
        assert crawl(db, "--start-url", url, "--no-follow").returncode == 0
        _Pages.PAGES = {"/definition/skew/": _metadata_page("fr-FR", "New Author", "2025-01-09T08:00:00+02:00",
                                                            "/definition/skew-2/")}
        again = run_glossary("refresh", "--db", str(db), "--delay", "0", "--max-age", "0", "--no-progress", "--json")
        assert again.returncode == 0, again.stderr
    assert rows(db, "SELECT language, author, modified, canonical_url, version FROM pages") == [{
        "language": "fr-FR", "author": "New Author", "modified": "2025-01-09T06:00:00+00:00",
        "canonical_url": url.replace("skew/", "skew-2/"), "version": 1}]
    assert rows(db, "SELECT count(*) AS n FROM page_versions") == [{"n": 1}]
    assert json.loads(again.stdout)["pages_unchanged"] == 1
    assert archive_problems(db) == []


def _term_page(title: str, head: str = "", links: tuple[str, ...] = ()) -> str:
    """A page of ``title`` with words of its own (none another page has: the trap guard reads every number as 0)
    and ``links``."""
    letters = random.Random(title).choices(string.ascii_lowercase, k=60 * 6)
    words = " ".join("".join(letters[i:i + 6]) for i in range(0, len(letters), 6))
    return (f"<!doctype html><html><head><title>{title}</title>{head}</head><body><main><article><h1>{title}</h1>"
            f"<p>{words}</p></article><ul>{''.join(f'<li><a href={u}>{u}</a></li>' for u in links)}</ul>"
            "</main></body></html>")


@pytest.mark.parametrize("canonical", ["https://127.0.0.1{path}", "https://www.example.com{path}"])
def test_pages_whose_canonical_names_them_on_another_scheme_or_host_are_not_cut_as_a_trap(tmp_path, canonical):
    """A page whose rel=canonical names its own path on https (an http crawl), or on the production host (a staging
    mirror), had "a rel=canonical pointing elsewhere": no text of its own for the trap guard. A hub of 30 such
    definitions archived 21 ("pages that add nothing"), a chain of 10 from it 8 ("chain of pages that add nothing")."""
    def head(path: str) -> str:
        return f'<link rel="canonical" href="{canonical.format(path=path)}">'

    hub = [f"/definition/hub{i}/" for i in range(30)]
    chain = [f"/definition/chain{i}/" for i in range(10)]
    _Pages.PAGES = {"/": _term_page("Home", links=(*hub, chain[0])),
                    **{path: _term_page(f"Hub {i}", head(path)) for i, path in enumerate(hub)},
                    **{path: _term_page(f"Chain {i}", head(path), chain[i + 1:i + 2]) for i, path in enumerate(chain)}}
    db = tmp_path / "canonical.db"
    with _served(_Pages) as base:
        result = crawl(db, "--start-url", f"{base}/")
    assert result.returncode == 0, result.stdout + result.stderr
    assert rows(db, "SELECT * FROM crawl_errors") == []
    assert {r["url"] for r in rows(db, "SELECT url FROM pages")} == {f"{base}{path}" for path in ["/", *hub, *chain]}


def test_pages_reached_by_redirects_after_the_page_budget_is_spent_are_archived_by_the_resume(tmp_path):
    """A page that a redirect led to, answered after --max-pages was spent, was left to --resume, but the URL that
    redirected to it was recorded moved (and done): no resume asked about either again, and the page was lost."""
    posts = [f"/definition/t{i}/" for i in range(6)]
    _ForNow.ELSEWHERE = {f"/old/t{i}/": path for i, path in enumerate(posts)}
    _ForNow.PAGES = {"/": _term_page("Home", links=tuple(_ForNow.ELSEWHERE)), **{p: _term_page(p) for p in posts}}
    db = tmp_path / "budget.db"
    with _served(_ForNow) as base:
        assert crawl(db, "--start-url", f"{base}/", "--max-pages", "2").returncode == 4
        for _ in range(5):
            if (resumed := run_glossary("crawl", "--resume", "--db", str(db), "--no-progress")).returncode == 0:
                break
            assert resumed.returncode == 4, resumed.stdout + resumed.stderr
    assert {r["url"] for r in rows(db, "SELECT url FROM pages")} == {f"{base}{path}" for path in ["/", *posts]}
    assert rows(db, "SELECT count(DISTINCT url) AS n FROM captures WHERE outcome = 'moved'") == [{"n": 6}]


def test_pages_linked_with_a_query_their_canonical_leaves_out_are_not_cut_as_a_trap(tmp_path):
    """A site whose links carry a query (``?src=index``) that each page's rel=canonical leaves out: its pages had "a
    rel=canonical pointing elsewhere", no text of their own, and a hub of 30 archived 21 ("pages that add nothing").
    (Variants of one page under ever-new queries are still a trap: they have the same text; see test_traps.)"""
    hub = [f"/definition/hub{i}/?src=index" for i in range(30)]
    _Pages.PAGES = {"/": _term_page("Home", links=tuple(hub)),
                    **{path: _term_page(path, f'<link rel="canonical" href="{path.split("?")[0]}">') for path in hub}}
    db = tmp_path / "queries.db"
    with _served(_Pages) as base:
        result = crawl(db, "--start-url", f"{base}/")
    assert result.returncode == 0, result.stdout + result.stderr
    assert rows(db, "SELECT * FROM crawl_errors") == []
    assert {r["url"] for r in rows(db, "SELECT url FROM pages")} == {f"{base}{path}" for path in ["/", *hub]}


def test_pages_of_a_listing_by_their_query_are_visited_for_their_links_not_archived(tmp_path):
    """``/area/vega/?page=2`` was archived as a second area ``vega`` beside ``/area/vega/`` (``glossary show vega
    --type area`` refused: "names 2 pages"), where ``/area/vega/page/2/`` is a listing, visited for its links. So
    are ``?paged=N`` and a query loop's ``?query-N-page=N`` now; a start URL is archived, as any is."""
    posts = [f"/definition/post{name}/" for name in "abcd"]
    _Pages.PAGES = {"/": _term_page("Home", links=("/area/vega/",)),
                    "/area/vega/": _term_page("Vega", links=(*posts[:1], "/area/vega/?page=2")),
                    "/area/vega/?page=2": _term_page("Vega", links=(posts[1], "/area/vega/?paged=3")),
                    "/area/vega/?paged=3": _term_page("Vega", links=(posts[2], "/area/vega/?query-1-page=4")),
                    "/area/vega/?query-1-page=4": _term_page("Vega", links=posts[3:]),
                    **{path: _term_page(path) for path in posts}}
    db = tmp_path / "listing.db"
    with _served(_Pages) as base:
        assert crawl(db, "--start-url", f"{base}/").returncode == 0
        assert {r["url"] for r in rows(db, "SELECT url FROM pages")} == {
            f"{base}{path}" for path in ["/", "/area/vega/", *posts]}
        shown = run_glossary("show", "vega", "--type", "area", "--db", str(db), "--format", "json")
        assert shown.returncode == 0 and json.loads(shown.stdout)["url"] == f"{base}/area/vega/", shown.stderr
        assert crawl(db, "--start-url", f"{base}/area/vega/?page=2", "--no-follow").returncode == 0
    assert rows(db, "SELECT page_type, slug FROM pages WHERE url LIKE '%?page=2'") == [
        {"page_type": "other", "slug": None}]


def test_links_hidden_from_readers_are_followed_though_their_text_is_not_the_pages(tmp_path):
    """A collapsed menu (display: none, or the hidden attribute) is shown to no reader, and its text is not the
    page's; but its links lead to pages of the site, which a crawl must reach. Dropping hidden elements
    dropped their links from those the crawl follows: a page only such a menu links to was never fetched."""
    words = "a term of crypto derivatives whose text is long enough to be read as a paragraph of its own"
    post = "<html><head><title>{0}</title></head><body><h1>{0}</h1><p>{0} is {1}.</p></body></html>"
    _Pages.PAGES = {
        "/": '<html><body><h1>Home</h1><ul><li><a href="/definition/alpha/">Alpha</a></li><li>More<ul '
             'style="display: none"><li><a href="/definition/gamma/">Gamma</a></li></ul></li></ul>'
             '<nav hidden><a href="/definition/delta/">Delta</a></nav></body></html>',
        **{f"/definition/{name}/": post.format(name.title(), words) for name in ("alpha", "gamma", "delta")}}
    with _served(_Pages) as base:
        result = crawl(tmp_path / "hidden.db", "--start-url", f"{base}/")
        assert result.returncode == 0, result.stderr
    assert sorted(r["url"] for r in rows(tmp_path / "hidden.db", "SELECT url FROM pages")) == [
        f"{base}/", *(f"{base}/definition/{name}/" for name in ("alpha", "delta", "gamma"))]
    (home,) = rows(tmp_path / "hidden.db", "SELECT body_text FROM pages WHERE url = ?", (f"{base}/",))
    assert "Gamma" not in (home["body_text"] or "") and "Delta" not in (home["body_text"] or "")


def test_robots_txt_groups_are_ours_by_the_whole_product_token(tmp_path):
    """RFC 9309 finds the crawler's group by its whole product token. Protego took a group for "gloss" as
    ours (a prefix of "glossary_spider" at a word start), and disallowed the whole site; and it passed over
    one written as a product and its version ("glossary_spider/1.0"), whose rules were then not kept."""
    post = "<html><head><title>{0}</title></head><body><h1>{0}</h1><p>{0} is a term of crypto derivatives.</p>{1}</body></html>"
    _Pages.PAGES = {
        "/robots.txt": ("User-agent: gloss\nDisallow: /\n\nUser-agent: Glossary\nDisallow: /\n\n"
                        "User-agent: Glossary_Spider/1.0 # our rules\nDisallow: /definition/beta/\n\n"
                        "User-agent: *\nDisallow: /definition/alpha/\n"),
        "/": post.format("Home", "".join(f'<a href="/definition/{n}/">{n}</a>' for n in ("alpha", "beta", "gamma"))),
        **{f"/definition/{name}/": post.format(name.title(), "") for name in ("alpha", "beta", "gamma")}}
    with _served(_Pages) as base:
        result = crawl(tmp_path / "robots.db", "--start-url", f"{base}/")
        assert result.returncode == 0, result.stderr
    assert sorted(r["url"] for r in rows(tmp_path / "robots.db", "SELECT url FROM pages")) == [
        f"{base}/", f"{base}/definition/alpha/", f"{base}/definition/gamma/"]


def test_a_page_whose_json_ld_holds_odd_values_is_archived_without_them(tmp_path):
    """An author whose @id is a list, or a date the calendar cannot hold in UTC (.NET's zero date written
    with an offset), failed the page's whole extraction: nothing of it was archived. The page is archived,
    without the value it could not read; rel and meta names are read in any case."""
    jsonld = ('{"@type": "Article", "author": {"@id": ["#me"]}, "datePublished": "0001-01-01T00:00:00+01:00", '
              '"dateModified": "2024-03-05t10:20:30z", "@id": "#a", "articleSection": ["Opción"]}')
    with _served(_Pages) as base:
        _Pages.PAGES = {"/definition/odd/": (
            f'<html><head><script type="application/ld+json">{jsonld}</script><meta name="Description" '
            'content="Odd values."><link rel="Canonical" href="/definition/odd/"></head><body><main><h1>Odd</h1>'
            '<p>A page whose structured data holds values no reader can use.</p>'
            '<time datetime="9999-12-31T23:00:00-05:00">someday</time></main></body></html>')}
        db = tmp_path / "odd.db"
        result = crawl(db, "--start-url", f"{base}/definition/odd/", "--no-follow")
        assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT title, author, published, modified, summary, canonical_url, categories FROM pages") == [{
        "title": "Odd", "author": None, "published": None, "modified": "2024-03-05T10:20:30+00:00",
        "summary": "Odd values.", "canonical_url": f"{base}/definition/odd/", "categories": '["Opción"]'}]
    assert rows(db, "SELECT count(*) AS n FROM crawl_errors") == [{"n": 0}]


def test_workers_that_cannot_start_condemn_no_page(tmp_path, monkeypatch):
    """A worker interpreter that fails before it has its job (a broken or replaced interpreter) was taken for
    one killed by the pages in its hands: they failed as 'died with this item alone in hand, twice', and a
    crawl with --workers 1 archived nothing, exit 0. Now they wait for a worker, and once none can be started
    fail as WorkersGone, which the crawl extracts in its own process."""
    import asyncio
    import sys

    from glossary_spider.workers import BatchingPool, WorkersGone

    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'this interpreter cannot start' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(broken))

    async def run():
        pool = BatchingPool(1, len, restarts=2)
        try:
            return await asyncio.wait_for(asyncio.gather(*(pool.run(i) for i in ["a", "bb", "ccc"]),
                                                         return_exceptions=True), 60)
        finally:
            pool.shutdown()

    assert [type(result) for result in asyncio.run(run())] == [WorkersGone] * 3


def test_a_redirect_answered_in_one_part_of_a_run_is_not_asked_again_in_the_next(make_replica, tmp_path):
    """A redirect to a page the run had archived already was dropped as a duplicate, and its URL stayed
    pending in the frontier: every --resume asked for it again."""
    server, db = make_replica(40), tmp_path / "moved.db"
    target = ReplicaSite(40).glossary_paths()[0]
    redirect = target.replace("/definition/", "/definitions/", 1)
    assert redirect != target
    other = ReplicaSite(40).glossary_paths()[1]
    first = crawl(db, "--no-follow", "--max-pages", "2", "--concurrency", "1",
                  *[a for path in (target, redirect, other) for a in ("--start-url", server.url + path)])
    assert first.returncode == 4, first.stdout + first.stderr
    asked = [r["path"] for r in server.requests()]
    assert redirect in asked and target in asked, asked
    server.clear_log()
    resumed = run_glossary("crawl", "--resume", "--db", str(db), "--no-progress")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert redirect not in [r["path"] for r in server.requests()]


class _Menus(_Site):
    """A site whose pages each open with a menu of ``MENU`` links to its areas (``/N``, written as briefly as
    a link can be, so that a page of 2 KB holds more than it may follow) before their article: the
    definitions c0 to c2 in a chain, each one's Related list leading to the next, c0's text to the listing
    /category/more/ too, which lists d0 and d1."""

    MENU = 160
    RELATED = {"/definition/c0/": ["/definition/c1/"], "/definition/c1/": ["/definition/c2/"], "/definition/c2/": [],
               "/category/more/": ["/definition/d0/", "/definition/d1/"], "/definition/d0/": [], "/definition/d1/": []}

    def markup(self) -> str | None:
        path = self.path
        words = " ".join(f"{path.strip('/').replace('/', '-')}w{i}" for i in range(12))
        if re.fullmatch(r"/\d+", path):
            return f"<html><head><title>Area {path}</title></head><body><h1>Area</h1><p>{words}</p></body></html>"
        if path not in self.RELATED:
            return None
        menu = "<nav>" + "".join(f"<a href=/{n}>" for n in range(self.MENU)) + "</nav>"
        see = "<p>See <a href=/category/more/>more</a>.</p>" if path == "/definition/c0/" else ""
        items = "".join(f'<li><a href="{url}">{url.strip("/")}</a></li>' for url in self.RELATED[path])
        return (f"<html><head><title>{path}</title></head><body>{menu}<main><article><h1>{path}</h1><p>{words}</p>"
                f"{see}<h2>Related</h2><ul>{items}</ul></article></main></body></html>")


def test_a_pages_content_links_are_followed_before_its_menus_when_its_links_are_cut(tmp_path):
    """The links a page may follow were the first in the page's order: behind a big menu, a definition's
    Related list went unfollowed, and only a ``parse`` row said so. Now its content's links are followed
    first, the cut falls on its menu, and the summary names it among the limits met, for a page archived
    (a definition) as for a page only visited (a listing, which had no row at all)."""
    db = tmp_path / "menus.db"
    with _served(_Menus) as base:
        result = crawl(db, "--start-url", f"{base}/definition/c0/")
    assert result.returncode == 0, result.stdout + result.stderr
    archived = {r["url"].removeprefix(base) for r in rows(db, "SELECT url FROM pages")}
    assert {"/definition/c0/", "/definition/c1/", "/definition/c2/", "/definition/d0/", "/definition/d1/"} <= archived
    errors = rows(db, "SELECT url, stage, error FROM crawl_errors ORDER BY url")
    content = {"/category/more/": 2, "/definition/c0/": 2, "/definition/c1/": 1, "/definition/c2/": 0,
               "/definition/d0/": 0, "/definition/d1/": 0}  # each page's content links: the Related list's, the text's
    assert [(e["url"].removeprefix(base), e["stage"]) for e in errors] == [(path, "parse") for path in content]
    for error in errors:
        links = _Menus.MENU + content[error["url"].removeprefix(base)]
        most = int(re.fullmatch(rf"page cut: {links} links to follow, (\d+) followed.*", error["error"])[1])
        assert most < _Menus.MENU
        if content[error["url"].removeprefix(base)]:
            assert error["error"].endswith(f": the {links - _Menus.MENU} of its content first, then "
                                           f"{most - links + _Menus.MENU} of its menus' and others'")
    summary = result.stdout
    assert re.search(r"^limits hit: +6 ", summary, re.M), summary
    assert {error["error"] for error in errors} <= {line.strip() for line in summary.splitlines()}, summary


class _Index(_Site):
    """A glossary's A-Z index, ``/definition/index/``: ``TERMS`` terms, each an item of one list (about 50 bytes
    of markup a link), and the terms' pages."""

    TERMS = 300
    WORDS = ("option premium strike expiry volatility delta gamma vega theta hedge margin collateral funding "
             "perpetual swap basis contango backwardation skew smile surface tenor notional settlement").split()

    def markup(self) -> str | None:
        if self.path == "/definition/index/":
            items = "".join(f'<li><a href="/definition/term-{n}/">Term {n}</a></li>' for n in range(self.TERMS))
            return (f"<html><head><title>Glossary A-Z</title></head><body><main><h1>Glossary A-Z</h1>"
                    f"<p>Every term of the glossary.</p><ul>{items}</ul></main></body></html>")
        if match := re.fullmatch(r"/definition/term-(\d+)/", self.path):
            name = f"Term {match[1]}"
            words = " ".join(random.Random(name).choices(self.WORDS, k=40))  # a text of its own: no trap
            return f"<html><head><title>{name}</title></head><body><h1>{name}</h1><p>{words}</p></body></html>"
        return None


def test_an_a_to_z_index_is_followed_and_kept_whole(tmp_path):
    """A page could follow, and keep, one link per 200 bytes of it: an index of 300 terms, 50 bytes a link,
    had 100 of them followed and kept, the other 200 terms never requested, and the run said nothing but a
    ``parse`` row (exit 0, nothing failed, no limit met). A page now has one link per 16 bytes, the shortest a
    link with a text can be: no index of real links is cut."""
    db = tmp_path / "index.db"
    with _served(_Index) as base:
        result = crawl(db, "--start-url", f"{base}/definition/index/", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["limits"] == []
    assert rows(db, "SELECT count(*) AS n FROM pages WHERE url LIKE '%/definition/term-%'") == [{"n": _Index.TERMS}]
    assert rows(db, "SELECT count(*) AS n FROM links WHERE from_url = ?", (f"{base}/definition/index/",)) == [
        {"n": _Index.TERMS}]
    assert rows(db, "SELECT url, error FROM crawl_errors") == []


class _Linking(_Pages):
    """:class:`_Pages` that records the paths asked for (``ASKED``), answers the paths in ``MOVED`` with a
    ``301`` to where it says, and the paths in ``FILES`` with a few bytes of the content type it says."""

    ASKED: list[str] = []
    MOVED: dict[str, str] = {}
    FILES: dict[str, str] = {}

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.ASKED.append(self.path)
        if self.path in self.MOVED or self.path in self.FILES:
            moved = self.path in self.MOVED
            self.send_response(301 if moved else 200)
            self.send_header(*(("Location", self.MOVED[self.path]) if moved
                               else ("Content-Type", self.FILES[self.path])))
            self.send_header("Content-Length", "0" if moved else "9")
            self.end_headers()
            if not moved:
                self.wfile.write(b"PK\x03\x04\x00\x01\x02\x03\x04")
            return
        super().do_GET()

    def markup(self) -> str | None:
        return super().markup() or self.PAGES.get(self.path.partition("?utm_")[0])


_POST = ("<html><head><title>{0}</title></head><body><h1>{0}</h1><p>{0} is a term of crypto derivatives whose text "
         "is long enough to be read as a paragraph of its own.</p>{1}</body></html>")


def _linking(pages: dict[str, str], moved: dict[str, str] | None = None, files: dict[str, str] | None = None) -> None:
    """:class:`_Linking`'s site: ``pages`` (path: markup; a page of its own for each ``/definition/x/`` named by
    none), its redirects and files."""
    _Linking.ASKED, _Linking.MOVED, _Linking.FILES = [], moved or {}, files or {}
    _Linking.PAGES = pages


def test_a_crawl_follows_the_links_a_client_without_scripts_is_shown(tmp_path):
    """Links in a <noscript> were never followed, though a crawler runs no script and is shown them: a paged
    archive's "Next page" there led nowhere. A template's links are shown to no one, and are still not followed.
    The page's record is as before: its text and links leave out what <noscript> holds, as a reader with
    scripts (most readers) is not shown it."""
    body = ('<p>See <a href="/definition/shown/">shown</a> for more on this topic in the glossary.</p>'
            '<noscript><p>See <a href="/definition/noscript/">noscript</a> without scripts.</p></noscript>'
            '<template><a href="/definition/template/">template</a></template><a href="/archive/">Archive</a>')
    archive = '<html><body><h1>Archive</h1><noscript><a href="/archive/?page=2">Next page</a></noscript></body></html>'
    _linking({"/": _POST.format("Home", body), "/archive/": archive,
              "/archive/?page=2": _POST.format("Archive 2", '<a href="/definition/paged/">paged</a>'),
              **{f"/definition/{name}/": _POST.format(name, "")
                 for name in ("shown", "noscript", "paged", "template")}})
    db = tmp_path / "noscript.db"
    with _served(_Linking) as base:
        result = crawl(db, "--start-url", f"{base}/")
    assert result.returncode == 0, result.stdout + result.stderr
    followed = ["noscript", "paged", "shown"]
    assert sorted(_Linking.ASKED) == sorted(["/robots.txt", "/", "/archive/", "/archive/?page=2",
                                             *(f"/definition/{name}/" for name in followed)])
    assert {r["url"] for r in rows(db, "SELECT url FROM pages")} == {
        f"{base}/", *(f"{base}/definition/{name}/" for name in followed)}
    assert rows(db, "SELECT kind, to_url FROM links WHERE from_url = ?", (f"{base}/",)) == [
        {"kind": "inline", "to_url": f"{base}/definition/shown/"}]
    (home,) = rows(db, "SELECT body_text FROM pages WHERE url = ?", (f"{base}/",))
    assert "without scripts" not in home["body_text"]


def test_a_crawl_follows_image_maps_and_the_next_and_previous_pages_a_link_element_names(tmp_path):
    """Only <a href> was followed: not an image map's <area>, nor the next and previous pages a <link> names
    (a paged listing's, in its head). A frame's, an object's or an embed's source, a translation, a feed and
    the URLs JSON-LD names are no link a reader follows, and are still not followed."""
    names = ["area", "next", "prev", "iframe", "frame", "object", "embed", "german", "feed", "jsonld", "same-as"]
    jsonld = ('{"@context": "https://schema.org", "@type": "WebPage", "url": "/definition/jsonld/", '
              '"sameAs": ["/definition/same-as/"]}')
    head = ('<link rel="Next" href="/definition/next/"><link rel="prev nofollow" href="/definition/prev/">'
            '<link rel="alternate" hreflang="de" href="/definition/german/">'
            '<link rel="alternate" type="application/rss+xml" href="/definition/feed/">'
            f'<script type="application/ld+json">{jsonld}</script>')
    body = ('<img usemap="#m" src="/m.png">'
            '<map name="m"><area shape="rect" coords="0,0,9,9" href="/definition/area/"></map>'
            '<iframe src="/definition/iframe/"></iframe><object data="/definition/object/"></object>'
            '<embed src="/definition/embed/">')
    _linking({"/": _POST.format("Home", body).replace("<head>", "<head>" + head),
              "/frames/": '<html><frameset><frame src="/definition/frame/"></frameset></html>',
              **{f"/definition/{name}/": _POST.format(name, "") for name in names}})
    db = tmp_path / "followed.db"
    with _served(_Linking) as base:
        result = crawl(db, "--start-url", f"{base}/", "--start-url", f"{base}/frames/")
    assert result.returncode == 0, result.stdout + result.stderr
    followed = ["area", "next", "prev"]
    assert sorted(_Linking.ASKED) == sorted(["/robots.txt", "/", "/frames/",
                                             *(f"/definition/{name}/" for name in followed)])
    assert {r["url"] for r in rows(db, "SELECT url FROM pages")} == {  # the frameset, blank, is not archived
        f"{base}/", *(f"{base}/definition/{name}/" for name in followed)}


def test_links_to_files_that_are_not_pages_are_not_followed_by_any_extension_scrapy_knows(tmp_path):
    """Files were known by a short list of extensions: a link to a .docx, .xlsx, .exe, .webm or .tar.gz was
    downloaded whole (up to the size limit) and became a parse row "not an HTML page"."""
    files = {"/files/report.docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "/files/sheet.XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "/files/setup.exe": "application/x-msdos-program", "/files/clip.webm": "video/webm",
             "/files/data.tar.gz": "application/gzip", "/files/prices.csv.gz": "application/gzip",
             "/files/slides.pptx?download=1": "application/vnd.ms-powerpoint"}
    links = "".join(f'<li><a href="{path}">{path}</a></li>' for path in [*files, "/definition/kept/"])
    _linking({"/": _POST.format("Home", f"<ul>{links}</ul>"), "/definition/kept/": _POST.format("Kept", "")},
             files=files)
    db = tmp_path / "files.db"
    with _served(_Linking) as base:
        result = crawl(db, "--start-url", f"{base}/")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(_Linking.ASKED) == ["/", "/definition/kept/", "/robots.txt"]
    assert rows(db, "SELECT url, error FROM crawl_errors") == []
    assert "failed              0" in result.stdout


def test_a_page_linked_through_a_url_that_redirects_to_it_is_no_orphan(tmp_path):
    """A page linked to only through a URL that redirects there (an old slug, a short link, a chain of them)
    was listed in orphan_pages (and in the report's bar of pages no page links to), and `glossary show` said
    "Linked from 0 pages", though the redirect's capture (outcome moved) said where the URL went. A link from
    the page itself, through a redirect, is still none."""
    home = ('<p>See <a href="/definition/old-slug/">one</a> and <a href="/go/two">two</a> and '
            '<a href="/definition/three/">three</a> for more on this topic in the glossary.</p>')
    _linking({"/": _POST.format("Home", home),
              **{f"/definition/{name}/": _POST.format(name, "") for name in ("one", "two", "three", "lonely")},
              "/definition/self/": _POST.format("self", '<p>See <a href="/definition/self-old/">self</a> again.</p>')},
             moved={"/definition/old-slug/": "/definition/one/", "/go/two": "/definition/two-old/",
                    "/definition/two-old/": "/definition/two/?utm_source=redirect",
                    "/definition/self-old/": "/definition/self/"})
    db = tmp_path / "moved.db"
    with _served(_Linking) as base:
        result = crawl(db, *(arg for path in ("/", "/definition/lonely/", "/definition/self/")
                             for arg in ("--start-url", base + path)))
        assert result.returncode == 0, result.stdout + result.stderr
    assert {r["url"] for r in rows(db, "SELECT url FROM captures WHERE outcome = 'moved'")} == {
        f"{base}/{path}" for path in ("definition/old-slug/", "go/two", "definition/two-old/", "definition/self-old/")}
    assert sorted(r["url"] for r in rows(db, "SELECT url FROM orphan_pages")) == [
        f"{base}/definition/lonely/", f"{base}/definition/self/"]
    shown = run_glossary("show", "--db", str(db), f"{base}/definition/two/")
    assert shown.returncode == 0, shown.stderr
    assert f"Linked from 1 page:\n  Home (inline, via {base}/go/two)  {base}/\n" in shown.stdout
    shown = run_glossary("show", "--db", str(db), f"{base}/definition/self/")
    assert "Linked from 0 pages:" in shown.stdout
    report = json.loads(run_glossary("report", "--db", str(db), "--format", "json").stdout)
    assert report["orphans"]["count"] == 2  # and the report's bar of pages no page links to says so too
    assert report["inbound_links"] == [{"inbound": 0, "pages": 2}, {"inbound": 1, "pages": 3}]


@pytest.mark.parametrize("writer", ["0", "1"])
def test_a_crawl_stops_before_it_fills_the_disk_and_resumes_once_there_is_room(replica, crawled, tmp_path, writer):
    """A site of endless distinct pages passes the trap guard, and a crawl of it filled the disk (278 MB in 100 s)
    until SQLite refused, or went on for its six hours. Below GLOSSARY_MIN_FREE_MIB free (here more than any disk
    has) it stops after its first batch, as a full disk stops it; --resume continues, here with room."""
    db = tmp_path / "a.db"
    start = (f"start_urls={replica.url}/", f"sitemap_urls={replica.url}/sitemap_index.xml")
    result = run_glossary_scrapy("-a", start[0], "-a", start[1], "-a", "delay=0", "-a", "concurrency=8",
                                 "-s", f"GLOSSARY_DB={db}",
                                 "-s", "GLOSSARY_MIN_FREE_MIB=1e12", "-s", f"GLOSSARY_WRITER_PROCESS={writer}")
    assert "Traceback" not in result.stderr
    (run,) = rows(db, "SELECT finish_reason, exit_status, stats FROM crawl_runs")
    assert (run["finish_reason"], run["exit_status"]) == ("archive_error", 2)
    assert re.fullmatch(r"the disk holding the archive \S+ has [\d,]+ MiB free, less than the 1,000,000,000,000 a run "
                        r"leaves \(GLOSSARY_MIN_FREE_MIB: free some space, or set it lower\); what was written is kept",
                        json.loads(run["stats"])["glossary/archive_error"])
    fetched = rows(db, "SELECT count(*) AS n FROM captures")[0]["n"]
    assert 0 < fetched < len(rows(crawled, "SELECT url FROM pages")) and rows(db, "SELECT url FROM pages") == []
    resumed = run_glossary("crawl", "--resume", "--db", str(db), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert archive_content(db) == archive_content(crawled)


def test_the_free_space_a_run_leaves_is_set_in_the_environment(replica, tmp_path):
    """The line of a run stopped below GLOSSARY_MIN_FREE_MIB names it, but the command line had no way to set it
    (only scrapy crawl's -s): on a 150 MiB volume every run stopped after one batch."""
    db = tmp_path / "a.db"
    start = ("--start-url", f"{replica.url}/")
    stopped = crawl(db, *start, env={"GLOSSARY_MIN_FREE_MIB": "1e12"})
    assert stopped.returncode == 2 and "less than the 1,000,000,000,000 a run leaves" in stopped.stderr, stopped.stderr
    resumed = crawl(db, "--resume", env={"GLOSSARY_MIN_FREE_MIB": "0"})
    assert resumed.returncode == 0, resumed.stderr
    refused = crawl(tmp_path / "b.db", *start, env={"GLOSSARY_MIN_FREE_MIB": "lots"})
    assert (refused.returncode, refused.stderr) == (2, "Error: GLOSSARY_MIN_FREE_MIB='lots' is not a number of MiB, "
                                                       "0 or more: set it to one (0: no floor), or unset it (the "
                                                       "default is 200)\n")


@pytest.mark.parametrize("writer", ["0", "1"])
def test_a_batch_that_breaks_as_it_is_written_stops_the_crawl_and_its_resume_fetches_it(replica, crawled, tmp_path,
                                                                                        writer):
    """Only SQLite's refusals of a batch stopped the crawl: memory running out as its bodies were compressed (the
    compression dictionary's training, here made to fail so) was logged by Scrapy, which dropped the batch, and
    the crawl ended done, exit 0, its pages gone for good. It ends as a full disk ends it, and --resume fetches
    them."""
    db, hooks = tmp_path / "a.db", tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(
        "import zstandard\n\ndef no_memory(*args, **kwargs):\n    raise MemoryError\n\n"
        "zstandard.train_dictionary = no_memory\n")
    result = run_glossary_scrapy("-a", f"start_urls={replica.url}/", "-a",
                                 f"sitemap_urls={replica.url}/sitemap_index.xml", "-a", "delay=0", "-a", "concurrency=8",
                                 "-s", f"GLOSSARY_DB={db}",
                                 "-s", f"GLOSSARY_WRITER_PROCESS={writer}", env={"PYTHONPATH": str(hooks)})
    assert "Traceback" not in result.stderr
    (run,) = rows(db, "SELECT finish_reason, exit_status, stats FROM crawl_runs")
    assert (run["finish_reason"], run["exit_status"]) == ("archive_error", 2)
    assert json.loads(run["stats"])["glossary/archive_error"] == (f"cannot write the archive {db}: no memory left; "
                                                                 "what was written is kept")
    resumed = run_glossary("crawl", "--resume", "--db", str(db), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert archive_content(db) == archive_content(crawled)


class _LongSitemap(_Site):
    """A site whose text sitemap lists 60,000 pages: 5.8 MB, past the 5 MB of responses in their callbacks that
    Scrapy holds its downloads back for (``SCRAPER_SLOT_MAX_ACTIVE_SIZE``)."""

    sitemap = b""

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path != "/sitemap.txt":
            super().do_GET()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(self.sitemap)))
        self.end_headers()
        self.wfile.write(self.sitemap)

    def markup(self) -> str | None:
        if self.path == "/robots.txt":
            return None
        name = self.path.strip("/").rpartition("/")[2][-5:]
        return f"<html><head><title>Term {name}</title></head><body><h1>Term {name}</h1><p>Term {name} is a term.</p>"


# Six seconds, a page each 20 ms at most: enough to show whether pages are fetched, too few pages for the run's
# close to take long.
_BRIEFLY = ("--max-duration", "6", "--delay", "0.02")


def test_a_sitemap_of_many_pages_is_fetched_from_at_once(tmp_path):
    """The sitemap's callback scheduled its 60,000 requests itself, a third of a millisecond each, while its
    response held Scrapy's downloads back: 20 seconds before the first page was asked for, and --max-duration
    waited on it (of 240,000 URLs under --max-duration 60: none fetched). Past its first 1,000, they are now
    queued as the downloader takes them, after the callback."""
    with _served(_LongSitemap) as base:
        _LongSitemap.sitemap = "".join(f"{base}/definition/term-{'x' * 50}-{n:05}/\n" for n in range(60_000)).encode()
        db = tmp_path / "long.db"
        result = crawl(db, "--sitemap", f"{base}/sitemap.txt", "--no-follow", *_BRIEFLY)
    assert result.returncode == 4, result.stdout + result.stderr  # ExitStatus.STOPPED_EARLY
    # Fetched (archived, or staged for --resume): none before, some 200 now.
    assert rows(db, "SELECT count(*) AS n FROM captures")[0]["n"] >= 10


def test_a_start_list_of_many_pages_is_fetched_from_at_once(tmp_path):
    """A start list of 60,000 pages (--urls-file) was all made into requests and queued before its first page was
    fetched: while the downloader is full, Scrapy's engine takes start requests one after the other without a
    turn of its loop (150,000 under --max-duration 15: two pages fetched). They are handed on now as the
    downloader takes them."""
    with _served(_LongSitemap) as base:
        urls = tmp_path / "urls.txt"
        urls.write_text("".join(f"{base}/definition/term-{n:05}/\n" for n in range(60_000)))
        db = tmp_path / "list.db"
        result = crawl(db, "--urls-file", str(urls), "--no-follow", *_BRIEFLY)
    assert result.returncode == 4, result.stdout + result.stderr  # ExitStatus.STOPPED_EARLY
    # Fetched (archived, or staged for --resume): none before, some 200 now.
    assert rows(db, "SELECT count(*) AS n FROM captures")[0]["n"] >= 10


class _LateSitemap(_Site):
    """A home page linking an old address of its about page, which redirects there; a sitemap, answering
    a second late, listing the about page."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path == "/old-about/":
            self.send_response(301)
            self.send_header("Location", "/about-us/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/sitemap.txt":
            time.sleep(1)
            body = f"http://{self.headers['Host']}/about-us/\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def markup(self) -> str | None:
        words = " ".join(f"word{i}" for i in range(60))
        if self.path == "/":
            return f"<html><head><title>Home</title></head><body><h1>Home</h1><p>{words}</p><a href=/old-about/>About</a>"
        if self.path == "/about-us/":
            return f"<html><head><title>About us</title></head><body><h1>About us</h1><p>{words}</p>"
        return None


def test_a_listed_page_a_redirect_reached_first_is_archived(tmp_path):
    """A page the sitemap lists, of no glossary type, that a link's redirect had reached before the sitemap came
    was only visited, and the sitemap's request for it dropped as a duplicate: it was never archived."""
    with _served(_LateSitemap) as base:
        db = tmp_path / "late.db"
        result = crawl(db, "--start-url", f"{base}/", "--sitemap", f"{base}/sitemap.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{base}/about-us/" in {r["url"] for r in rows(db, "SELECT url FROM pages")}
