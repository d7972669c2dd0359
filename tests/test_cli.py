"""The command line: its arguments and what it refuses of them, help, progress, exit statuses, messages and
standard streams."""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time

import launcher
import pytest
from click.testing import CliRunner
from conftest import (GLOSSARY, ROOT, Replica, archive_problems, assert_one_line_error, crawl, lasting_port, rows,
                      run_glossary)

from glossary_spider.cli import cli
from glossary_spider.outcome import NO_ANSWER_SQL, ExitStatus
from glossary_spider.storage import Archive


def test_a_start_url_that_is_not_http(tmp_path):
    result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), "--start-url", "ftp://example.org/")
    assert_one_line_error(result, "start URL", "ftp://example.org/")
    assert not (tmp_path / "a.db").exists()


@pytest.mark.parametrize("port", ["99999", "0", "80a"])
def test_a_start_url_whose_port_no_server_has_is_said_to_be_so(tmp_path, port):
    """A port past 65535 (or 0, or not a number) was 'not an http(s) URL', which it plainly was."""
    for option in ("--start-url", "--sitemap"):
        result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), option, f"http://127.0.0.1:{port}/")
        assert_one_line_error(result, f"URL 'http://127.0.0.1:{port}/' has the port '{port}': a port is a number "
                                      "from 1 to 65535")
    assert not (tmp_path / "a.db").exists()


def test_a_run_refused_as_it_opens_does_not_import_scrapy(tmp_path):
    """Scrapy's imports are most of a second: a crawl refused for its arguments took as long as one that ran."""
    db = str(tmp_path / "a.db")
    code = ("import sys\nfrom glossary_spider.cli import cli\n"
            f"for args in (['crawl', '--start-url', 'ftp://example.org/'], ['crawl', '--concurrency', '0'],\n"
            f"             ['refresh', '--max-age', 'soon'], ['refresh', '--resume']):\n"
            f"    try:\n        cli([*args, '--db', {db!r}], standalone_mode=False)\n"
            f"    except BaseException as exc:\n        print(type(exc).__name__, exc)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'scrapy', 'twisted'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    refusals = result.stdout.splitlines()
    assert len(refusals) == 5 and all(line.startswith("UserError ") for line in refusals[:4]), result.stdout
    assert ["ftp://" in refusals[0], "concurrency" in refusals[1], "soon" in refusals[2]] == [True] * 3
    assert refusals[-1] == "[]"


@pytest.mark.parametrize("command, option", [("crawl", "--start-url"), ("crawl", "--sitemap"),
                                             ("refresh", "--sitemap")])
def test_a_url_argument_that_is_not_utf8_is_named_with_its_fix(tmp_path, command, option):
    """A URL typed with a byte that is not UTF-8 (a Latin-1 site's "caf\\xe9", under a UTF-8 locale) was said
    to be no http(s) URL, and shown with the byte as "\\udce9": nothing said what was wrong or what to give."""
    url = os.fsdecode(b"http://127.0.0.1:9/caf\xe9/")  # as Python hands over the byte: a surrogate escape
    result = run_glossary(command, "--db", str(tmp_path / "a.db"), option, url, env={"LC_ALL": "C.UTF-8"})
    what = "start URL" if option == "--start-url" else "sitemap URL"
    assert_one_line_error(result, f"Error: {what} 'http://127.0.0.1:9/caf\ufffd/' holds a byte that is not UTF-8 "
                                  "(0xe9): give the URL percent-encoded, 'http://127.0.0.1:9/caf%E9/'")
    assert not (tmp_path / "a.db").exists()


def test_a_refused_url_with_a_byte_that_is_not_utf8_is_recorded_as_text(tmp_path):
    """The refused run's arguments kept the byte as the lone surrogate "\\udce9", which is no text: JSON readers
    refuse it or read it as U+FFFD."""
    db = tmp_path / "a.db"
    with Archive(db):
        pass
    url = os.fsdecode(b"http://127.0.0.1:9/caf\xe9/")
    assert run_glossary("crawl", "--db", str(db), "--start-url", url, env={"LC_ALL": "C.UTF-8"}).returncode == 2
    (run,) = rows(db, "SELECT finish_reason, args FROM crawl_runs")
    assert run["finish_reason"] == "bad_argument"
    assert json.loads(run["args"])["start_urls"] == ["http://127.0.0.1:9/caf\\xe9/"]
    assert "\\ud" not in run["args"]


def test_a_url_past_ascii_under_an_ascii_locale_is_crawled(tmp_path):
    """Under LC_ALL=C (without Python's UTF-8 mode) a URL typed past ASCII arrives as surrogate escapes of its
    UTF-8 bytes: "http://…/café/" was said to be no http(s) URL."""
    env = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}
    run_glossary("crawl", "--db", str(tmp_path / "a.db"), "--start-url", "http://127.0.0.1:9/café/", "--no-progress",
                 env=env)
    assert rows(tmp_path / "a.db", "SELECT url FROM crawl_errors") == [{"url": "http://127.0.0.1:9/caf%C3%A9/"}]


@pytest.mark.parametrize("option, value", [
    ("--start-url", "http://127.0.0.1:9/definition/a/ extra"),
    ("--urls-file", "http://127.0.0.1:9/definition/a/ http://127.0.0.1:9/definition/b/\n"),
    ("--urls-file", "http://127.0.0.1:9/definition/a/\thttp://127.0.0.1:9/definition/b/\n"),
    ("--sitemap", "http://127.0.0.1:9/sitemap.xml http://127.0.0.1:9/other.xml"),
])
def test_a_url_with_white_space_in_it_is_refused_not_fetched_as_one(tmp_path, option, value):
    """Two URLs on one line (or a URL and a word after it) were fetched as one URL with a %20 in it: a 404 for a
    URL nobody wrote, and the run finished, exit 0."""
    if option == "--urls-file":
        (tmp_path / "urls.txt").write_text(value)
        value = str(tmp_path / "urls.txt")
    result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), option, value)
    assert_one_line_error(result, "holds white space, which no URL does: give one URL at a time")
    assert not (tmp_path / "a.db").exists()


def test_a_missing_urls_file(tmp_path):
    result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), "--urls-file", str(tmp_path / "nope.txt"))
    assert_one_line_error(result, "--urls-file", "no such file")


def test_an_empty_urls_file_name_is_refused_not_taken_for_the_live_site(crawled, tmp_path):
    """--urls-file "$UNSET" crawled https://term.greeks.live/, the default, into the archive."""
    db = tmp_path / "a.db"
    shutil.copy(crawled, db)
    before = rows(db, "SELECT count(*) AS n FROM captures")
    result = run_glossary("crawl", "--db", str(db), "--urls-file", "", "--no-progress")
    assert_one_line_error(result, "--urls-file is empty")
    assert rows(db, "SELECT count(*) AS n FROM captures") == before
    assert rows(db, "SELECT finish_reason FROM crawl_runs ORDER BY id DESC LIMIT 1") == [
        {"finish_reason": "bad_argument"}]


@pytest.mark.parametrize("option", ["--sitemap", "--gate"])
def test_an_empty_refresh_option_is_refused_not_left_out(crawled, tmp_path, option):
    """refresh --sitemap "$UNSET" read the sitemaps of earlier crawls instead, and --gate "" was passed over."""
    db = tmp_path / "a.db"
    shutil.copy(crawled, db)
    before = rows(db, "SELECT count(*) AS n FROM captures")
    result = run_glossary("refresh", "--db", str(db), option, "", "--no-progress")
    assert_one_line_error(result, f"{option} is empty: give")
    assert rows(db, "SELECT count(*) AS n FROM captures") == before
    assert rows(db, "SELECT finish_reason FROM crawl_runs ORDER BY id DESC LIMIT 1") == [
        {"finish_reason": "bad_argument"}]


def test_a_bad_line_in_the_urls_file(tmp_path):
    (tmp_path / "urls.txt").write_text("http://127.0.0.1:9/ok/\nnot a url\n")
    result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), "--urls-file", str(tmp_path / "urls.txt"))
    assert_one_line_error(result, "line 2", "not a url")


@pytest.mark.parametrize("kind", ["fifo", "device", "huge"])
def test_a_urls_file_is_a_regular_file_of_bounded_size(tmp_path, kind):
    """/dev/zero grew the crawl to 24 GB before the kernel killed it; a FIFO with no writer blocked it for
    ever; 70 MB of URLs took 857 MB and minutes to stop."""
    path = tmp_path / "urls"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path = "/dev/zero"
    else:
        with open(path, "wb") as file:
            file.truncate(17 * 1024 * 1024)
    result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), "--urls-file", str(path), timeout=30)
    assert_one_line_error(result, "--urls-file", "a sitemap" if kind == "huge" else "not a regular file")
    assert not (tmp_path / "a.db").exists()


@pytest.mark.parametrize("content, said", [
    (b"http://127.0.0.1:9/caf\xe9/\n", "line 1: not UTF-8 (a byte 0xe9): save the file as UTF-8"),
    ("http://127.0.0.1:9/ok/\n".encode("utf-16"), "not UTF-8 text (NUL bytes: UTF-16?): save it as UTF-8"),
], ids=["latin-1", "utf-16"])
def test_a_urls_file_not_in_utf8_names_the_line(tmp_path, content, said):
    """The whole file was refused naming a byte's position, a byte in a comment too."""
    (tmp_path / "urls.txt").write_bytes(content)
    result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), "--urls-file", str(tmp_path / "urls.txt"))
    assert_one_line_error(result, f"--urls-file {tmp_path / 'urls.txt'}{'' if said.startswith('line') else ':'} {said}")


def test_a_byte_that_is_not_utf8_in_a_comment_of_the_urls_file_is_passed_over(tmp_path):
    (tmp_path / "urls.txt").write_bytes(b"# caf\xe9 list\nhttp://127.0.0.1:9/ok/  # caf\xe9\n")
    result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), "--urls-file", str(tmp_path / "urls.txt"))
    assert rows(tmp_path / "a.db", "SELECT url FROM crawl_errors") == [{"url": "http://127.0.0.1:9/ok/"}], result.stderr


def test_a_urls_file_with_a_byte_order_mark_is_read(tmp_path):
    (tmp_path / "urls.txt").write_bytes("\ufeffhttp://127.0.0.1:9/ok/\r\n".encode())
    result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), "--urls-file", str(tmp_path / "urls.txt"))
    assert "not an http(s) URL" not in result.stderr
    assert rows(tmp_path / "a.db", "SELECT url FROM crawl_errors") == [{"url": "http://127.0.0.1:9/ok/"}]


@pytest.mark.parametrize("option, value", [("--delay", "nan"), ("--delay", "inf"), ("--timeout", "nan"),
                                           ("--timeout", "1e400"), ("--max-delay", "inf"), ("--delay", "1e12")])
def test_a_number_that_is_not_finite_or_beyond_a_day_is_refused(tmp_path, option, value):
    """--delay nan turned politeness off without a word; --timeout nan failed every fetch, and the run
    said the site did not answer; --delay inf fetched nothing, for ever."""
    result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), "--start-url", "http://127.0.0.1:9/", option, value)
    assert_one_line_error(result, f"{option} must be")
    assert not (tmp_path / "a.db").exists()


@pytest.mark.parametrize("value", ["1000000000", "99999999999"])
def test_a_refresh_max_age_past_what_dates_hold_is_refused(crawled, tmp_path, value):
    """--max-age 1e9 (days) raised OverflowError with a traceback, and left a run that looked killed, whose
    --resume met the same traceback."""
    db = tmp_path / "age.db"
    shutil.copy(crawled, db)
    result = run_glossary("refresh", "--db", str(db), "--max-age", value, "--no-progress")
    assert_one_line_error(result, "--max-age must be 0 to 1000000")
    assert rows(db, "SELECT finish_reason FROM crawl_runs ORDER BY id DESC LIMIT 1") == [
        {"finish_reason": "bad_argument"}]


@pytest.mark.parametrize("option, value, words", [
    ("--delay", "-1", "--delay must be 0 to 86400, not '-1'"), ("--concurrency", "0", "--concurrency must be 1 to 64"),
    ("--concurrency", "100000", "concurrency must be 1 to 64"),  # not "raise the limit (ulimit -n)"
    ("--timeout", "soon", "timeout must be a number, not 'soon'"), ("--max-age", "-3", "--max-age must be 0 to"),
    # click read these two: refused before the run was opened, unrecorded, with no --json line
    ("--max-duration", "2hr", "--max-duration must be a positive duration such as 90s, 20m or 2h, not '2hr'"),
    ("--give-up-after", "0", "--give-up-after must be a positive duration"),
])
def test_a_number_out_of_range_is_a_refused_run_with_its_json_line(crawled, tmp_path, option, value, words):
    """click refused --delay -1 itself, before the run was opened: no --json line in the scheduler's log, and no
    run recorded, where --delay nan had both."""
    db = tmp_path / "range.db"
    shutil.copy(crawled, db)
    result = run_glossary("refresh", "--db", str(db), option, value, "--json")
    assert result.returncode == 2 and result.stderr == f"Error: {json.loads(result.stdout)['error']}\n"
    assert words in result.stderr
    assert rows(db, "SELECT finish_reason FROM crawl_runs ORDER BY id DESC LIMIT 1") == [
        {"finish_reason": "bad_argument"}]


def test_a_refused_run_is_recorded_as_json_and_says_so_in_its_json_line(crawled, tmp_path):
    """A refresh refused for --delay nan was recorded with "delay": NaN, which JSON cannot hold: 'runs --json'
    was no JSON for strict readers from then on. And --json printed no line for it, where a scheduler
    appends one line per run."""
    db = tmp_path / "nan.db"
    shutil.copy(crawled, db)
    result = run_glossary("refresh", "--db", str(db), "--delay", "nan", "--json")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    line = json.loads(result.stdout)
    assert (line["id"], line["finish_reason"], line["outcome"], line["exit_status"]) == (
        None, "bad_argument", "bad_input", 2)
    assert "delay" in line["error"] and line["archive"] == str(db)

    def strict(text):
        return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))

    runs = strict(run_glossary("runs", "--db", str(db), "--json").stdout)
    assert runs[-1]["finish_reason"] == "bad_argument" and runs[-1]["args"]["delay"] == "nan"
    assert rows(db, "SELECT json_valid(args) AS valid FROM crawl_runs") == [{"valid": 1}] * len(runs)


def test_the_report_says_of_a_killed_run_what_runs_says(crawled, tmp_path):
    """A run with no end recorded was null in the report's JSON, "failed" (killed) in 'runs --json'."""
    db = tmp_path / "killed.db"
    shutil.copy(crawled, db)
    dead = subprocess.Popen(["true"])
    dead.wait()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET finished_at = NULL, finish_reason = NULL, outcome = NULL, "
                     "exit_status = NULL, pid = ?", [dead.pid])
    (listed,) = json.loads(run_glossary("runs", "--db", str(db), "--json").stdout)
    (reported,) = json.loads(run_glossary("report", "--db", str(db), "--format", "json").stdout)["runs"]
    assert (listed["outcome"], listed["exit_status"]) == ("failed", 1)
    assert {k: reported[k] for k in ("outcome", "exit_status", "error")} == {
        k: listed[k] for k in ("outcome", "exit_status", "error")}
    assert "failed" in run_glossary("report", "--db", str(db)).stdout


def test_a_start_url_longer_than_a_url_may_be_is_refused(tmp_path):
    """It was dropped without a word: the run finished, nothing fetched, nothing recorded."""
    url = "http://127.0.0.1:9/term/" + "a" * 3000 + "/"
    result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), "--start-url", url)
    assert_one_line_error(result, "start URL", "characters long, more than the 2,083")


@pytest.mark.parametrize("content", ["", "\n\n", "# my start pages\n   # none yet\n"])
def test_a_urls_file_without_urls_is_refused_not_the_live_site(tmp_path, content):
    """Issue 14 item 3: the old crawl fell back to the live site's home page and sitemap."""
    (tmp_path / "urls.txt").write_text(content)
    result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), "--urls-file", str(tmp_path / "urls.txt"),
                          timeout=60)
    assert_one_line_error(result, "--urls-file", "no URL")
    assert not (tmp_path / "a.db").exists()


@pytest.mark.parametrize("options", [("--start-url", ""), ("--sitemap", " "), ("--start-url", "", "--no-follow")])
def test_start_options_that_give_no_url_are_refused(tmp_path, options):
    result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), *options, timeout=60)
    assert_one_line_error(result, "no URL to start from")
    assert not (tmp_path / "a.db").exists()


def test_the_db_comes_from_the_environment(tmp_path):
    result = run_glossary("crawl", "--start-url", "ftp://x/", env={"GLOSSARY_DB": str(tmp_path / "env.db")})
    assert_one_line_error(result, "start URL")


def test_an_unknown_option_exits_2():
    result = run_glossary("crawl", "--frobnicate")
    assert result.returncode == 2 and "Traceback" not in result.stderr and "--frobnicate" in result.stderr


def test_a_crawl_of_a_server_that_is_not_there_exits_6_and_records_it(tmp_path):
    db = tmp_path / "a.db"
    result = run_glossary("crawl", "--db", str(db), "--start-url", "http://127.0.0.1:9/definition/x/",
                          "--delay", "0", "--no-progress", "--ignore-robots")
    assert result.returncode == 6, result.stderr  # ExitStatus.UNREACHABLE
    assert "unreachable" in result.stdout
    assert result.stderr.splitlines() == [
        "Error: the site did not answer, or refused us: 1 of 1 fetches failed (see 'glossary report'); "
        f"when it is back, 'glossary crawl --resume --db {db}' tries them again"]
    with sqlite3.connect(db) as conn:
        errors = conn.execute("SELECT stage, url, error FROM crawl_errors").fetchall()
        runs = conn.execute("SELECT finish_reason FROM crawl_runs").fetchall()
    assert errors == [("fetch", "http://127.0.0.1:9/definition/x/", "connection refused")]
    assert runs == [("unreachable",)]
    # The nightly refresh of an archive whose first crawl found the site down named a crawl, not its resume.
    refresh = run_glossary("refresh", "--db", str(db), "--no-progress")
    assert_one_line_error(refresh, f"the archive {db} has no pages yet: crawl #1 stopped before it was done "
                                   f"(unreachable): carry it on with 'glossary crawl --resume --db {db}'")


def test_a_refresh_after_a_crawl_its_budget_stopped_says_the_crawl_is_to_resume(replica, tmp_path):
    """A refresh after a crawl that a budget stopped asked about the pages archived alone, and said nothing of
    the crawl's pages left to fetch, for a resume of the crawl to ask."""
    db = tmp_path / "budget.db"
    stopped = crawl(db, "--start-url", f"{replica.url}/", "--max-pages", "5")
    assert stopped.returncode == 4, stopped.stderr
    refresh = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress")
    assert refresh.returncode == 0, refresh.stderr
    assert refresh.stderr.splitlines() == [
        "Note: crawl #1 stopped before it was done (max_pages); this refresh asks about the pages archived and the "
        f"sitemaps' only: 'glossary crawl --resume --db {db}' carries the crawl on"]


def test_an_outage_during_a_refresh_exits_6_with_one_line_and_one_json_line(make_replica, tmp_path):
    """Issue 14 item 4: a refresh of a site that is down reported "finished", exit 0, with
    Scrapy's ERROR lines and tracebacks on stderr and a JSON summary over many lines."""
    server = make_replica(port=lasting_port())  # served again on its port once "back"
    db = tmp_path / "o.db"
    paths = ["/area/funding/", "/term/legal-risk-management/", "/definition/international-legal-cooperation/"]
    result = run_glossary("crawl", "--db", str(db), "--delay", "0", "--no-progress", "--no-follow",
                          *[a for p in paths for a in ("--start-url", server.url + p)])
    assert result.returncode == 0, result.stderr
    server.stop()
    result = run_glossary("refresh", "--db", str(db), "--delay", "0", "--no-progress", "--json")
    assert result.returncode == 6, result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("Error: the site did not answer"), \
        result.stderr
    (line,) = result.stdout.splitlines()
    run = json.loads(line)
    assert (run["finish_reason"], run["pages_failed"]) == ("unreachable", 3)

    # Once the site is back, --resume tries again what got no answer, and the run is done.
    server = Replica(tmp_path, port=server.port)
    try:
        result = run_glossary("refresh", "--db", str(db), "--resume", "--no-progress", "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["pages_failed"] == 0, "the pages that failed are fetched now"
        assert sorted(r["path"] for r in server.requests() if r["path"] != "/robots.txt") == sorted(paths)
        assert rows(db, "SELECT id, finish_reason FROM crawl_runs WHERE command = 'refresh'") == [
            {"id": run["id"], "finish_reason": "finished"}]
    finally:
        server.stop()


def test_a_site_that_dies_mid_refresh_ends_it_unreachable_not_done(make_replica, tmp_path):
    """A server killed while a refresh ran: every fetch after refused, the run "finished", exit 0, and
    runs --check "ok", as the few pages fetched before were more than one in twenty."""
    server, db = make_replica(40), tmp_path / "dies.db"
    assert crawl(db, "--start-url", f"{server.url}/").returncode == 0
    server.clear_log()
    refresh = launcher.popen([*GLOSSARY, "refresh", "--db", str(db), "--delay", "0", "--concurrency", "16",
                                "--no-progress"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while sum(r["path"] != "/robots.txt" for r in server.requests()) < 10 and time.monotonic() < deadline:
        time.sleep(0.005)
    server.stop()
    stdout, stderr = refresh.communicate(timeout=200)
    answered, pages = rows(db, f"SELECT sum(NOT {NO_ANSWER_SQL}) AS answered, count(*) AS pages FROM captures "
                               "WHERE run_id = 2")[0].values()
    assert 0 < answered and answered * 19 > pages - answered, "a site that answered more than one in twenty"
    assert refresh.returncode == 6, stdout + stderr
    assert stderr.startswith("Error: the site did not answer, or refused us: ")
    assert run_glossary("runs", "--db", str(db), "--check").returncode == 6


def test_a_run_over_two_sites_with_one_down_exits_6_naming_it_and_resumes_only_its_pages(make_replica, tmp_path):
    """Each server is judged on its own: a crawl of two sites, one of them not answering, did not do its
    work, though most of its fetches got an answer. Exit 6, the server named; --resume, once it is back,
    fetches that site's pages and nothing of the other's again. Another port of the same host is another
    server (two sites on 127.0.0.1, one down, were judged as one and ended "finished", exit 0)."""
    up, port, db = make_replica(40), lasting_port(), tmp_path / "two.db"
    down = f"http://127.0.0.1:{port}"
    up_paths = ["/", "/area/funding/", "/term/legal-risk-management/"]
    result = run_glossary("crawl", "--db", str(db), "--delay", "0", "--no-progress", "--no-follow",
                          *[a for p in up_paths for a in ("--start-url", up.url + p)], "--start-url", down + "/")
    assert result.returncode == 6, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        f"Error: 127.0.0.1:{port} did not answer, or refused us: 1 of 1 fetches failed (see 'glossary report'); "
        f"when it is back, 'glossary crawl --resume --db {db}' tries them again"]
    assert sorted(r["url"] for r in rows(db, "SELECT url FROM pages")) == sorted(up.url + p for p in up_paths)

    up.clear_log()
    back = make_replica(40, port=port)
    result = run_glossary("crawl", "--resume", "--db", str(db), "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r["path"] for r in back.requests() if r["path"] != "/robots.txt"] == ["/"]
    assert [r["path"] for r in up.requests()] == []
    assert len(rows(db, "SELECT url FROM pages")) == 4 and archive_problems(db) == []


# What the line of a run that left the archive with no page says to do.
EMPTY_ADVICE = "(see 'glossary report'): check the start URLs and sitemaps it was given (has the site moved?)"


def test_a_first_crawl_whose_start_url_answers_404_ends_empty_not_done(replica, tmp_path):
    """A crawl of a wrong start URL (or of a site whose glossary moved) archived no page at all, yet ended
    "finished", exit 0, and runs --check said ok: a cron job pointed at it looked healthy for ever. It ends
    empty, exit 1, with one line saying what its URL answered and what to check, and runs --check fails on
    it; nothing is left to resume, and the next crawl starts afresh."""
    db = tmp_path / "wrong.db"
    result = crawl(db, "--start-url", f"{replica.url}/no-such-path/")
    assert result.returncode == ExitStatus.FAILED, result.stdout + result.stderr
    assert result.stdout.startswith("Crawl #1 empty in "), result.stdout
    assert result.stderr.splitlines() == [
        f"Error: crawl #1 left the archive with no page: 1 URL answered 404 or 410 {EMPTY_ADVICE}"]
    assert rows(db, "SELECT finish_reason, outcome, exit_status, pages_new, pages_failed FROM crawl_runs") == [
        {"finish_reason": "empty", "outcome": "failed", "exit_status": 1, "pages_new": 0, "pages_failed": 1}]
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == ExitStatus.FAILED, check.stdout + check.stderr
    assert re.fullmatch(rf"{re.escape(str(db))}: crawl #1 failed at \S+: it left the archive with no page: every "
                        r"URL it asked about answered 404 or 410, .*: check its start URLs and sitemaps "
                        r"\(has the site moved\?\)\n", check.stderr), check.stderr

    resume = crawl(db, "--resume")
    assert_one_line_error(resume, "nothing to resume: crawl #1 left the archive with no page")
    again = crawl(db, "--start-url", f"{replica.url}/", "--no-follow")
    assert (again.returncode, again.stderr) == (0, ""), again.stderr  # no note of a crawl left unfinished
    assert run_glossary("runs", "--db", str(db), "--check").returncode == 0


@pytest.mark.parametrize("options, path, answered", [
    (("--mode", "json-error"), "/", "1 URL answered what is no page"),
    (("--mode", "soft404"), "/no-such-path/", '1 URL answered a "not found" page'),
    (("--faults", "--robots", "disallow-all"), "/", "1 URL was forbidden by robots.txt"),
])
def test_a_first_crawl_that_archives_no_page_says_what_its_urls_answered(make_replica, tmp_path, options, path,
                                                                         answered):
    """A start URL that answered what is no page (JSON with 200), the site's "not found" page, or that
    robots.txt forbade: the crawl archived nothing, and said "finished", exit 0."""
    server = make_replica(40, 1, *options)
    db = tmp_path / "empty.db"
    result = crawl(db, "--start-url", server.url + path, "--no-follow")
    assert result.returncode == ExitStatus.FAILED, result.stdout + result.stderr
    assert result.stderr.splitlines() == [f"Error: crawl #1 left the archive with no page: {answered} {EMPTY_ADVICE}"]
    assert rows(db, "SELECT finish_reason, exit_status FROM crawl_runs") == [
        {"finish_reason": "empty", "exit_status": 1}]


def test_a_budget_stop_keeps_its_status_and_the_resume_that_archives_nothing_ends_empty(replica, tmp_path):
    """A run a budget stopped is judged by its budget (exit 4, --resume continues), whatever it archived so
    far; its resume, done and with no page archived over all its parts, ends empty, its line counting them."""
    db = tmp_path / "budget.db"
    starts = [a for p in ("a", "b", "c") for a in ("--start-url", f"{replica.url}/no-such-path/{p}/")]
    result = run_glossary("crawl", "--db", str(db), "--delay", "0", "--concurrency", "1", "--no-progress",
                          "--no-follow", "--max-requests", "3", *starts)
    assert result.returncode == ExitStatus.STOPPED_EARLY, result.stdout + result.stderr
    assert rows(db, "SELECT finish_reason FROM crawl_runs") == [{"finish_reason": "closespider_pagecount"}]
    result = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress")
    assert result.returncode == ExitStatus.FAILED, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        f"Error: crawl #1 left the archive with no page: 3 URLs answered 404 or 410 {EMPTY_ADVICE}"]
    assert rows(db, "SELECT finish_reason, exit_status FROM crawl_runs") == [
        {"finish_reason": "empty", "exit_status": 1}]


def test_a_scrapy_crawl_job_that_archives_no_page_records_it_empty_and_warns(replica, tmp_path):
    """The same spider run by scrapy crawl (so by Scrapyd) records the same end, and its log says so."""
    db = tmp_path / "job.db"
    job = subprocess.run([GLOSSARY[0], "-m", "scrapy", "crawl", "glossary", "-a",
                          f"start_urls={replica.url}/no-such-path/", "-s", f"GLOSSARY_DB={db}",
                          "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert rows(db, "SELECT finish_reason, outcome, exit_status FROM crawl_runs") == [
        {"finish_reason": "empty", "outcome": "failed", "exit_status": 1}], job.stderr[-2000:]
    assert "WARNING: crawl #1 ended empty: it left the archive with no page: " in job.stderr
    assert run_glossary("runs", "--db", str(db), "--check").returncode == ExitStatus.FAILED


def test_progress_is_one_line_rewritten_on_a_terminal_and_plain_lines_in_a_log(replica, tmp_path):
    """`--progress` into a log file (nohup, a service's journal) writes lines of their own, with no
    carriage return or erase sequence; on a terminal it rewrites one line in place. Reparse alike."""
    import pty

    crawl_args = ("crawl", "--db", str(tmp_path / "p.db"), "--start-url", f"{replica.url}/", "--delay", "0",
                  "--progress")
    logged = run_glossary(*crawl_args)
    assert logged.returncode == 0, logged.stderr
    assert "\r" not in logged.stderr and "\x1b" not in logged.stderr
    line = r"^\d+ pages · [\d.]+/s · \d+ errors? · \d+ requests · \d+s$"
    assert re.search(line, logged.stderr, re.M), logged.stderr
    reparsed = run_glossary("reparse", "--db", str(tmp_path / "p.db"), "--progress")
    assert re.fullmatch(r"(\d+ of \d+ pages · \d+/s · 0 changed\n)+", reparsed.stderr), reparsed.stderr

    def on_a_terminal(*args: str, **env: str) -> bytes:
        controller, terminal = pty.openpty()  # a terminal nobody gave a size (0 columns), as docker exec -t's
        process = launcher.popen([*GLOSSARY, *args], cwd=ROOT, stdout=terminal, stderr=terminal,
                                 env={k: v for k, v in {**os.environ, **env}.items() if k != "COLUMNS"})
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's last writer is gone
                break
            if not chunk:
                break
            shown += chunk
        os.close(controller)
        assert process.wait() == 0
        return shown

    def crawl_into(name: str) -> tuple[str, ...]:
        return (*crawl_args[:2], str(tmp_path / name), *crawl_args[3:])

    shown = on_a_terminal(*crawl_into("t.db"), TERM="xterm")
    updates = re.findall(rb"\r\x1b\[K([^\r\n]*)", shown)
    assert updates and all(re.match(rb"\d+ pages \xc2\xb7 ", update) for update in updates), shown  # not cut to "…"
    assert b"\x1b" not in on_a_terminal(*crawl_into("dumb.db"), TERM="dumb")  # it cannot erase a line
    search = ("search", "rate", "--db", str(tmp_path / "p.db"), "--limit", "2")
    assert b"\x1b[1m" in on_a_terminal(*search, TERM="xterm")  # titles and hits in bold
    assert b"\x1b" not in on_a_terminal(*search, TERM="xterm", NO_COLOR="1")


def all_commands():
    import click

    return cli.list_commands(click.Context(cli))


@pytest.mark.parametrize("name", all_commands())
def test_every_command_has_help_with_an_example(name):
    import click

    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output or "Examples:" in result.output
    # Several examples are "Examples:" (most commands said "Example:" over three or four).
    shown = result.output.split("Example")[1].split("\n\n")[0]
    assert shown.startswith("s:" if shown.count("\n      glossary ") > 1 else ":"), shown
    assert cli.get_command(click.Context(cli), name).help
    if name != "replica":  # issue 14 item 13: exit statuses were in no --help
        assert "Exit status:" in result.output and "  2  bad arguments" in result.output


def test_help_is_a_command_too():
    """'glossary help' said "No such command 'help'. Did you mean 'held'?"."""
    assert run_glossary("help").stdout == run_glossary("--help").stdout
    assert run_glossary("help", "crawl").stdout == run_glossary("crawl", "--help").stdout
    unknown = run_glossary("help", "crawling")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1, unknown.stderr
    assert "no such command 'crawling': the commands are browse, crawl, " in unknown.stderr


def test_the_command_line_does_not_load_the_replica_unless_asked_for():
    """The replica is the site's test double: it may depend on the product, never the other way."""
    loaded = launcher.run(
        [*GLOSSARY[:-2], "-c", "import sys, glossary_spider.cli; "
                               "print(sorted(m for m in sys.modules if m.startswith('glossary_spider.replica')))"],
        capture_output=True, text=True, cwd=ROOT)
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr
    assert "replica" in all_commands()


@pytest.mark.parametrize("name", ["crawl", "refresh"])
def test_crawl_help_says_the_defaults_and_every_exit_status(name):
    output = CliRunner().invoke(cli, [name, "--help"], terminal_width=200).output
    assert "(default 1, adjusted by AutoThrottle" in output and "(default 2 per host, 4 in all)" in output
    from glossary_spider.outcome import ExitStatus

    listed = {int(n) for n in re.findall(r"^ +(\d+)  ", output.split("Exit status:")[1], re.M)}
    assert listed >= {int(s) for s in ExitStatus}


@pytest.mark.parametrize(("name", "statuses"), [("reparse", {0, 1, 2, 3}), ("held", {0, 2, 3})])
def test_help_lists_only_the_exit_statuses_a_command_can_give(name, statuses):
    output = CliRunner().invoke(cli, [name, "--help"], terminal_width=200).output
    assert {int(n) for n in re.findall(r"^ +(\d+)  ", output.split("Exit status:")[1], re.M)} == statuses


def test_a_run_started_with_its_standard_streams_closed_finishes_and_is_recorded(replica, tmp_path):
    """A scheduler may start a run with no standard streams at all (``<&- >&- 2>&-``). Python leaves them
    None: the run stopped at its first word to standard error, its lock and its crawl_runs row left as a
    killed run's."""
    db = tmp_path / "closed.db"

    def close_streams():
        for fd in (0, 1, 2):
            os.close(fd)

    done = launcher.run([*GLOSSARY, "crawl", "--db", str(db), "--start-url", f"{replica.url}/", "--delay", "0",
                           "--concurrency", "8", "--no-progress", "--max-pages", "5"],
                        cwd=ROOT, preexec_fn=close_streams, timeout=120)
    assert done.returncode == 4
    assert rows(db, "SELECT finish_reason, exit_status FROM crawl_runs") == [
        {"finish_reason": "max_pages", "exit_status": 4}]
    assert not (tmp_path / "closed.db.lock").exists()
    assert archive_problems(db) == []


@pytest.mark.parametrize("command", [("export", "--format", "jsonl"), ("export", "--format", "warc"), ("report",),
                                     ("search", "rate"), ("show", "/"), ("runs",), ("runs", "--json"),
                                     ("held", "--json")])
def test_an_export_to_a_closed_standard_output_is_refused_not_lost(crawled, command):
    """With standard output closed (``>&-``), an export wrote nowhere and exited 0 (and a search, a page shown,
    the runs or the held runs listed did until they were refused too)."""
    result = launcher.run([*GLOSSARY, *command, "--db", str(crawled)], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                          preexec_fn=lambda: os.close(1), timeout=120)
    assert result.returncode == 2
    out = "give --out FILE, or " if command[0] in ("export", "report") else ""
    assert result.stderr == f"Error: standard output is closed: {out}redirect the output\n"


def test_a_check_with_standard_output_closed_still_gives_its_verdict(crawled):
    """A monitor that wants only the exit status may close standard output: the check is not refused."""
    result = launcher.run([*GLOSSARY, "runs", "--check", "--db", str(crawled)], cwd=ROOT, stderr=subprocess.PIPE,
                          text=True, preexec_fn=lambda: os.close(1), timeout=120)
    assert (result.returncode, result.stderr) == (0, "")


def test_words_past_ascii_under_an_ascii_locale_are_searched_for(crawled):
    """Under LC_ALL=C (without Python's UTF-8 mode) arguments past ASCII arrive as surrogate escapes,
    which SQLite cannot be given: search and show failed with a traceback."""
    env = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}
    found = run_glossary("search", "volatilité", "--db", str(crawled), env=env)
    assert found.returncode == 0 and "Traceback" not in found.stderr, found.stderr
    missing = run_glossary("show", "x-ünï", "--db", str(crawled), env=env)
    assert_one_line_error(missing, "no archived page has the slug")


@pytest.mark.parametrize("command, says", [
    (("search",), "Error: the search 'caf\ufffd' holds a byte that is not UTF-8 (0xe9): give the words in UTF-8, as "
                  "the archive holds them"),
    (("show",), "Error: URL or slug 'caf\ufffd' holds a byte that is not UTF-8 (0xe9): give it percent-encoded, "
                "'caf%E9'"),
])
def test_words_with_a_byte_that_is_not_utf8_are_refused_as_a_url_is(crawled, command, says):
    """search and show took a byte that is not UTF-8 (a Latin-1 "caf\\xe9") as U+FFFD and looked for that:
    "No page matches 'caf\ufffd'.", exit 0, where crawl refuses such a URL and names what to give."""
    result = run_glossary(*command, os.fsdecode(b"caf\xe9"), "--db", str(crawled), env={"LC_ALL": "C.UTF-8"})
    assert_one_line_error(result)
    assert result.stderr == says + "\n" and result.stdout == ""


def test_a_summary_that_cannot_be_written_leaves_the_run_done(crawled, tmp_path):
    """Standard output on a full disk: the refresh is done all the same (exit status 0, as recorded),
    and one line says the summary was lost; no traceback."""
    db = shutil.copy(crawled, tmp_path / "full-stdout.db")
    with open("/dev/full", "w") as full:
        result = launcher.run([*GLOSSARY, "refresh", "--db", str(db), "--delay", "0", "--concurrency", "8",
                                 "--no-progress"], cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ("Note: the run's summary could not be written to standard output "
                             "(No space left on device)\n")
    assert rows(db, "SELECT command, exit_status FROM crawl_runs WHERE id = 2") == [
        {"command": "refresh", "exit_status": 0}]


@pytest.mark.parametrize("streams", ["stderr", "both"])
def test_standard_error_whose_reader_left_leaves_the_run_its_exit_status(crawled, tmp_path, streams):
    """`glossary refresh … 2>&1 | head -1`: a line on standard error that could not be written (the reader gone)
    made every run exit 1, whatever the archive recorded (4 for a budget met, 0 for done)."""
    db = shutil.copy(crawled, tmp_path / "gone-reader.db")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        for budget, status in ((["--max-requests", "3"], 4), ([], 0)):
            result = launcher.run([*GLOSSARY, "refresh", "--db", str(db), "--delay", "0", "--no-progress", *budget],
                                  cwd=ROOT, stderr=write_end, timeout=120,
                                  stdout=write_end if streams == "both" else subprocess.DEVNULL)
            assert result.returncode == status
    finally:
        os.close(write_end)
    assert rows(db, "SELECT exit_status FROM crawl_runs WHERE id > 1") == [{"exit_status": 4}, {"exit_status": 0}]


@pytest.mark.parametrize("option", ["--run", "--accept", "--discard"])
@pytest.mark.parametrize("run_id, words", [("99", "there is no run 99 (see 'glossary runs')"),
                                           ("1", "run 1 was not held by the quality gate"),
                                           ("99999999999999999999999", "is not in the range"),
                                           ("0", "is not in the range")])
def test_held_with_a_run_that_was_not_held_is_one_line_and_exit_2(crawled, tmp_path, option, run_id, words):
    db = shutil.copy(crawled, tmp_path / "held.db")
    result = run_glossary("held", "--db", str(db), option, run_id)
    assert result.returncode == 2 and words in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr


def test_what_a_user_typed_is_quoted_short_in_a_message(crawled):
    result = run_glossary("search", "zq" * 50_000, "--db", str(crawled))
    assert result.returncode == 0 and len(result.stderr) < 300, len(result.stderr)
    assert result.stderr.startswith("No page matches 'zqzq") and result.stderr.endswith("…'.\n")


@pytest.mark.parametrize("environment, bold", [({}, True), ({"NO_COLOR": "1"}, False), ({"TERM": "dumb"}, False)])
def test_search_on_a_terminal_is_bold_unless_it_asks_for_none(crawled, environment, bold):
    import pty

    controller, terminal = pty.openpty()
    try:
        launcher.run([*GLOSSARY, "search", "gamma", "--limit", "1", "--db", str(crawled)], cwd=ROOT, stdout=terminal,
                     stderr=subprocess.DEVNULL, timeout=60, env={**os.environ, "TERM": "xterm", **environment})
        shown = os.read(controller, 65536)
    finally:
        os.close(terminal)
        os.close(controller)
    assert (b"\x1b[1m" in shown) is bold, shown


@pytest.mark.parametrize("args", [("search", "gamma", "--db", ""), ("crawl", "--db", " "),
                                  ("export", "--format", "csv", "--out", ""), ("report", "--out", "")])
def test_an_empty_path_is_refused_not_taken_for_the_current_directory_or_stdout(crawled, args):
    """--db "" (an unset variable in a script) said '. is a directory'; export --out "" wrote to standard
    output as if no --out were given."""
    extra = () if "--db" in args else ("--db", str(crawled))
    result = run_glossary(*args, *extra)
    assert_one_line_error(result, "is empty: give")
    assert result.stdout == ""


@pytest.mark.parametrize("args", [("export", "--format", "jsonl"), ("report", "--format", "json")])
def test_out_dash_is_standard_output_not_a_file_named_dash(crawled, tmp_path, args):
    """export --out - wrote a file named '-' into the working directory, as every Unix tool does not."""
    result = launcher.run([*GLOSSARY, *args, "--out", "-", "--db", str(crawled)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []
    first = json.loads(result.stdout.splitlines()[0] if args[0] == "export" else result.stdout)
    assert first["url" if args[0] == "export" else "pages"]


def test_db_dash_is_refused_not_made_a_file_named_dash(tmp_path):
    result = launcher.run([*GLOSSARY, "search", "gamma", "--db", "-"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert_one_line_error(result, "an archive is a SQLite file", "./-")
    assert list(tmp_path.iterdir()) == []


def test_db_memory_is_refused_not_crawled_into_memory_and_lost(tmp_path):
    """SQLite's name for an in-memory database: the crawl's pages went there, and were gone at its end."""
    result = launcher.run([*GLOSSARY, "crawl", "--db", ":memory:", "--start-url", "http://127.0.0.1:9/"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert_one_line_error(result, "in-memory database", "./:memory:")
    assert list(tmp_path.iterdir()) == []


def test_an_archive_named_as_a_sqlite_uri_is_the_file_of_that_name(replica, tmp_path):
    """'file:x.db?mode=memory' is a file's name to every command: the crawl's writer took it for a URI (SQLite's
    in-memory database), wrote its pages there and ended in a traceback, leaving an empty archive in the file."""
    name = "file:x.db?mode=memory"
    result = run_glossary("crawl", "--db", name, "--start-url", f"{replica.url}/", "--no-follow", "--delay", "0",
                          "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert rows(tmp_path / name, "SELECT count(*) AS n FROM pages") == [{"n": 1}]
    shown = run_glossary("runs", "--db", name, cwd=tmp_path)
    assert shown.returncode == 0 and "done" in shown.stdout, shown.stderr


def test_a_query_word_that_looks_like_an_option_gets_a_hint(crawled):
    result = run_glossary("search", "-vega", "--db", str(crawled))
    assert_one_line_error(result, "No such option", "put -- before them: glossary search -- -vega")


def test_an_option_before_its_command_is_said_to_go_after_it(crawled):
    result = run_glossary("--db", str(crawled), "runs")
    assert_one_line_error(result, "No such option '--db'", "a command's options go after it: glossary runs --db …")
    result = run_glossary("--bogus", "runs")
    assert_one_line_error(result, "No such option '--bogus'")
    assert "go after" not in result.stderr


def test_an_archive_path_through_a_file_is_said_to_be_one(crawled, tmp_path):
    """'--db a.db/x.db', where a.db is the archive, was 'no directory a.db: create it first' to a crawl, and
    'no archive at a.db/x.db: run glossary crawl first' to a reader."""
    db = shutil.copy(crawled, tmp_path / "a.db")
    for command in (("crawl", "--start-url", "http://127.0.0.1:9/"), ("runs",), ("search", "x")):
        result = run_glossary(*command, "--db", f"{db}/x.db")
        assert_one_line_error(result, f"{db} is a file, not a directory, so {db}/x.db cannot be in it")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.db"]


def test_a_diff_of_a_version_below_1_is_no_word_that_looks_like_an_option(crawled):
    """`show vega --diff -1..2` was told to put -- before '-1..2', which then looked for a page of that slug."""
    result = run_glossary("show", "vega", "--db", str(crawled), "--diff", "-1..2")
    assert_one_line_error(result, "--diff -1..2: versions are numbered from 1: give --diff A..B (e.g. --diff 1..2)")
    assert "put --" not in result.stderr


def test_the_progress_line_fits_a_narrow_terminal():
    """A line longer than the terminal wraps, and the carriage return that rewrites it goes back to the
    start of its last row only: on a narrow terminal each update left rows behind."""
    import fcntl
    import pty
    import struct
    import termios

    from glossary_spider.terminal import ProgressLine

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 20, 0, 0))
    with os.fdopen(slave, "w") as terminal:
        line = ProgressLine(terminal)
        assert line.live
        line.show("1,234 pages · 5.0/s · 0 errors · 1,300 requests")
        line.done("1,300 pages · 5.1/s · 0 errors · 1,380 requests")  # the last one too
    written = b""
    while True:  # a pty hands over what it holds in pieces: read to its end (EIO once the other side is closed)
        try:
            piece = os.read(master, 4096)
        except OSError:
            break
        if not piece:
            break
        written += piece
    os.close(master)
    shown = written.decode().split("\x1b[K")
    assert shown[-2].startswith("1,234 pages · 5.0/…") and shown[-1] == "1,300 pages · 5.1/…\r\n"


@pytest.mark.parametrize(("gate", "says"), [
    ("same-page-min=nan", "finite"), ("min-pages=inf", "finite"), ("same-page-share=nan", "finite"),
    ("same-page-share=2", "from 0 to 1"), ("same-page-min=2.5", "whole number"), ("words-ratio=-1", "negative"),
])
def test_a_gate_threshold_it_cannot_take_is_refused_in_one_line(tmp_path, gate, says):
    """nan passes no comparison: '--gate same-page-min=nan' let a maintenance page into every page's history
    with exit 0. A share past 1 or a fractional count was taken as well."""
    result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), "--start-url", "http://127.0.0.1:9/",
                          "--gate", gate)
    assert_one_line_error(result, gate, says)
    assert not (tmp_path / "a.db").exists()


@pytest.mark.parametrize("gates", [("off", "min-pages=3"), ("same-page-share=0.5", "OFF")])
def test_the_gate_turned_off_with_thresholds_is_refused(tmp_path, gates):
    """'--gate off --gate min-pages=3' crawled with no gate at all: the threshold asked for judged nothing."""
    result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), "--start-url", "http://127.0.0.1:9/",
                          *(word for gate in gates for word in ("--gate", gate)))
    assert_one_line_error(result, "--gate off", next(gate for gate in gates if gate.lower() != "off"))
    assert not (tmp_path / "a.db").exists()
