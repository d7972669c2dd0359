import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import launcher
import pytest
from click.testing import CliRunner
from conftest import GLOSSARY, ROOT, Replica, archive_content, archive_problems, crawl, lasting_port, rows, run_glossary

from glossary_spider.cli import cli
from glossary_spider.outcome import NO_ANSWER_SQL, ExitStatus
from glossary_spider.storage import Archive


def assert_one_line_error(result, *words):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    for word in words:
        assert word in lines[0]


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


def test_an_archive_path_that_is_a_directory(tmp_path):
    result = run_glossary("crawl", "--db", str(tmp_path), "--start-url", "http://127.0.0.1:9/")
    assert_one_line_error(result, "directory")


def test_an_archive_path_that_cannot_be_written(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = _as_user_without_override("crawl", "--db", str(locked / "sub" / "a.db"), "--start-url",
                                       "http://127.0.0.1:9/")
    assert_one_line_error(result, "archive")


def test_an_archive_under_a_file_cannot_be_created(tmp_path):
    (tmp_path / "file").write_text("x")
    result = run_glossary("crawl", "--db", str(tmp_path / "file" / "a.db"), "--start-url", "http://127.0.0.1:9/")
    assert_one_line_error(result, "archive")


def test_a_file_that_is_not_sqlite_is_left_alone(tmp_path):
    db = tmp_path / "notes.db"
    db.write_bytes(b"these are my notes, not a database" * 100)
    result = run_glossary("crawl", "--db", str(db), "--start-url", "http://127.0.0.1:9/")
    assert_one_line_error(result, "not a usable SQLite archive")
    assert db.read_bytes() == b"these are my notes, not a database" * 100


@pytest.mark.parametrize("content", [b"these are my notes, not a database\n" * 100, os.urandom(8192)],
                         ids=["text", "random bytes"])
def test_a_file_that_is_no_sqlite_database_is_refused_with_what_to_do(tmp_path, content):
    """Writers said 'is not a usable SQLite archive: file is not a database', readers 'is not a glossary
    archive: file is not a database', and neither what to do, as another application's database is told."""
    db = tmp_path / "notes.db"
    db.write_bytes(content)
    for command in (("crawl", "--start-url", "http://127.0.0.1:9/"), ("reparse",)):
        result = run_glossary(*command, "--db", str(db))
        assert_one_line_error(result, f"{db} is not a usable SQLite archive: file is not a database: give another "
                                      "--db, or move that file aside (a crawl then makes a new archive there)")
    for command in (("search", "x"), ("runs",), ("report",)):
        result = run_glossary(*command, "--db", str(db))
        assert_one_line_error(result, f"{db} is not a glossary archive: file is not a database: give another --db")
    assert db.read_bytes() == content


def test_an_archive_whose_view_or_search_index_was_dropped_is_told_how_to_make_it_again(crawled, tmp_path):
    """An archive without its full-text index (or a view) was 'not a glossary archive: no such table: pages_fts',
    after a note that the query was no FTS5 syntax; any writing command makes them again."""
    db = shutil.copy(crawled, tmp_path / "a.db")
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE pages_fts")
        conn.execute("DROP VIEW broken_links")
    conn.close()
    for command, lacking in ((("search", "vega"), "pages_fts"), (("report",), "broken_links")):
        result = run_glossary(*command, "--db", str(db))
        assert_one_line_error(result, f"{db} lacks its {lacking} (damaged, or changed by hand): any writing command "
                                      f"makes it again from the archive's tables: glossary reparse --db {db}")
    assert run_glossary("reparse", "--db", str(db), "--no-progress").returncode == 0
    assert run_glossary("search", "vega", "--db", str(db)).stdout == run_glossary("search", "vega", "--db",
                                                                                  str(crawled)).stdout
    assert run_glossary("report", "--db", str(db)).returncode == 0


@pytest.mark.parametrize("damage", ["DELETE FROM pages_fts_data",
                                    "UPDATE pages_fts_config SET v = 99 WHERE k = 'version'"],
                         ids=["structure-gone", "unknown-format"])
def test_a_damaged_search_index_is_said_to_be_one_and_made_again_by_a_writer(crawled, tmp_path, damage):
    """A full-text index SQLite could no longer read was 'cannot read the archive: vtable constructor failed:
    pages_fts; check that this user may read it' to a search (after a note that the query was no FTS5 syntax),
    and 'not a usable SQLite archive' to every writer, which could not mend it: SQLite drops such an index only
    through reading it."""
    db = shutil.copy(crawled, tmp_path / "a.db")
    with sqlite3.connect(db) as conn:
        conn.execute(damage)
    conn.close()
    result = run_glossary("search", "vega", "--db", str(db))
    assert_one_line_error(result, f"the full-text index of the archive {db} is damaged", "its pages are whole",
                          f"glossary reparse --db {db}")
    assert "Note:" not in result.stderr
    reparsed = run_glossary("reparse", "--db", str(db), "--no-progress")
    assert reparsed.returncode == 0, reparsed.stderr
    assert "the full-text index was damaged" in reparsed.stderr
    assert run_glossary("search", "vega", "--db", str(db)).stdout == run_glossary("search", "vega", "--db",
                                                                                  str(crawled)).stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.execute("INSERT INTO pages_fts (pages_fts, rank) VALUES ('integrity-check', 1)")  # raises if not whole
    conn.close()
    assert archive_problems(db) == []


def test_an_archive_from_a_newer_schema(tmp_path):
    db = tmp_path / "new.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 999")
    result = run_glossary("crawl", "--db", str(db), "--start-url", "http://127.0.0.1:9/")
    assert_one_line_error(result, "newer")


def test_resuming_a_mistyped_archive_creates_nothing(tmp_path):
    """Issue 14 item 12: `crawl --resume --db typo.db` created an empty archive and a lock file."""
    result = run_glossary("crawl", "--resume", "--db", str(tmp_path / "typo.db"), "--no-progress")
    assert_one_line_error(result, "no archive at")
    assert list(tmp_path.iterdir()) == []


def test_an_archive_in_a_missing_directory_is_refused_not_created(tmp_path):
    db = tmp_path / "no" / "such" / "a.db"
    result = run_glossary("crawl", "--db", str(db), "--start-url", "http://127.0.0.1:9/")
    assert_one_line_error(result, "no directory", "mkdir -p")
    assert list(tmp_path.iterdir()) == []


def test_the_mkdir_hint_for_a_missing_directory_can_be_pasted_as_it_is(tmp_path):
    """The hint was "(mkdir -p no such/dir)", which makes two directories, and "(mkdir -p -x)", which mkdir
    takes for an option; for "~/a.db" or "$HOME/a.db", quoted, it was "(mkdir -p ~)", which does nothing."""
    for db, hint in (("no such/dir/a.db", "check --db, or create it first (mkdir -p 'no such/dir')"),
                     ("-x/a.db", "check --db, or create it first (mkdir -p -- -x)"),
                     ("$HOME/a.db", "~ and $VARIABLES are not expanded in --db (the shell expands them only where "
                                    "they are not quoted): give the path they stand for")):
        result = run_glossary("crawl", "--db", db, "--start-url", "http://127.0.0.1:9/", cwd=tmp_path)
        assert_one_line_error(result, f"Error: no directory {Path(db).parent} for the archive {db}: {hint}")
    result = run_glossary("crawl", "--start-url", "http://127.0.0.1:9/", cwd=tmp_path, env={"GLOSSARY_DB": "~/a.db"})
    assert_one_line_error(result, "Error: no directory ~ for the archive ~/a.db: ~ and $VARIABLES are not expanded in "
                                  "GLOSSARY_DB")
    assert list(tmp_path.iterdir()) == []


def test_a_reader_given_an_unexpanded_path_is_told_so(tmp_path):
    """A reader given '~/a.db' (quoted, or in GLOSSARY_DB) said 'no archive at ~/a.db: run glossary crawl first',
    though the archive may well be at the path ~ stands for."""
    for command in (("search", "x"), ("show", "x"), ("runs",), ("report",)):
        for env, option in (({"GLOSSARY_DB": "~/a.db"}, ()), ({}, ("--db", "${HOME}/a.db"))):
            result = run_glossary(*command, *option, cwd=tmp_path, env=env)
            assert_one_line_error(result, "~ and $VARIABLES are not expanded in --db or GLOSSARY_DB (the shell "
                                          "expands them only where they are not quoted): give the path they stand for")
    assert list(tmp_path.iterdir()) == []


def test_what_a_creation_killed_midway_left_beside_the_archive_is_removed(tmp_path):
    """A crawl killed (kill -9) while it made a new archive left its temporary file, '.NAME.XXXXXXXX.new' and
    at times its '-journal', beside the archive for ever. The next writer removes them, and nothing else."""
    left = [".a.db.k3j_9x0q.new", ".a.db.k3j_9x0q.new-journal", ".a.db.0000aaaa.new"]
    kept = [".b.db.k3j_9x0q.new", ".a.db.k3j_9x0q.new.bak", ".a.db.short.new", "a.db.k3j_9x0q.new"]
    for name in left + kept:
        (tmp_path / name).write_bytes(b"SQLite format 3\x00")
    db = tmp_path / "a.db"
    created = run_glossary("crawl", "--db", str(db), "--start-url", "http://127.0.0.1:9/", "--no-progress")
    assert created.returncode == 6, created.stderr  # the site is not there, but the archive was made
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a.db", *kept])
    for name in left:  # and once it is there: the next writer that opens it
        (tmp_path / name).write_bytes(b"SQLite format 3\x00")
    reparsed = run_glossary("reparse", "--db", str(db), "--no-progress")
    assert reparsed.returncode == 0, reparsed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a.db", *kept])


def test_the_default_archive_directory_is_created_with_a_word(tmp_path):
    unset = {name: value for name, value in os.environ.items() if name != "GLOSSARY_DB"}
    result = launcher.run([*GLOSSARY, "crawl", "--start-url", "http://127.0.0.1:9/x/", "--ignore-robots", "--delay",
                             "0", "--no-progress"], capture_output=True, text=True, cwd=tmp_path, env=unset,
                          timeout=120)
    assert result.stderr.splitlines()[0] == "Created data/ for the archive data/glossary.db"
    assert (tmp_path / "data" / "glossary.db").is_file()


@pytest.mark.parametrize("wrong", [("--concurrency", "0"), ("--start-url", "ftp://example.org/"),
                                   ("--urls-file", "missing.txt")])
def test_a_crawl_refused_for_its_arguments_creates_no_archive_directory(tmp_path, wrong):
    """A crawl whose arguments were refused still created data/ for the default archive first, said so,
    and left it empty behind the error."""
    unset = {name: value for name, value in os.environ.items() if name != "GLOSSARY_DB"}
    result = launcher.run([*GLOSSARY, "crawl", *wrong, "--no-progress"], capture_output=True, text=True,
                          cwd=tmp_path, env=unset, timeout=120)
    assert_one_line_error(result, wrong[1])
    assert list(tmp_path.iterdir()) == []


def test_someone_elses_sqlite_file_is_not_turned_into_an_archive(tmp_path):
    db = tmp_path / "mine.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        conn.execute("INSERT INTO notes (text) VALUES ('keep me')")
    conn.close()
    before = db.read_bytes()
    result = run_glossary("crawl", "--db", str(db), "--start-url", "http://127.0.0.1:9/")
    assert_one_line_error(result, "not a glossary archive", "notes")
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.db"]  # and no .lock left behind


@pytest.mark.parametrize("command", [("crawl", "--start-url", "http://127.0.0.1:9/"), ("search", "x"),
                                     ("reparse",), ("refresh",)])
def test_a_db_that_is_no_file_is_refused_and_left_alone(tmp_path, command):
    """`--db /dev/null` left a rollback journal in /dev and called itself a disk I/O error; a FIFO waited on
    its writer or was 'no archive ... run glossary crawl first', which then failed so."""
    fifo = tmp_path / "fifo.db"
    os.mkfifo(fifo)
    for db in (fifo, Path(os.devnull)):
        journals = set(Path(db).parent.glob(f"{Path(db).name}*"))
        result = run_glossary(*command, "--db", str(db), timeout=30)
        assert_one_line_error(result, f"{db} is not a regular file")
        assert set(Path(db).parent.glob(f"{Path(db).name}*")) == journals


@pytest.mark.parametrize("command", [("search", "x"), ("runs",), ("export", "--format", "jsonl"), ("reparse",),
                                     ("crawl", "--start-url", "http://127.0.0.1:9/"), ("crawl", "--resume"),
                                     ("refresh",)])
def test_a_db_path_that_cannot_be_looked_up_is_said_in_one_line(tmp_path, command):
    """An archive in a directory this user may not enter, or a path with a name over 255 bytes (or over 4,095
    in all), failed every command with a traceback: checking whether it was a directory raised."""
    shut = tmp_path / "shut"
    shut.mkdir()
    (shut / "a.db").touch()
    shut.chmod(0o600)  # no search permission (x): nothing in it can be looked up
    try:
        result = _as_user_without_override(*command, "--db", str(shut / "a.db"))
    finally:
        shut.chmod(0o700)
    assert_one_line_error(result, f"cannot reach {shut / 'a.db'}: Permission denied: a directory on its way does "
                                  "not let this user in (search permission, x): give another path")
    for db in (tmp_path / f"{'a' * 300}.db", tmp_path / ("a/" * 2100 + "x.db")):
        result = run_glossary(*command, "--db", str(db))
        assert_one_line_error(result, f"cannot use {db}: File name too long: give a shorter path")
    # A name the system takes, but not with what is kept beside it: readers failed with a traceback
    # (SQLite's -wal could not be made, nor its -journal looked for).
    result = run_glossary(*command, "--db", str(tmp_path / f"{'a' * 249}.db"))
    assert_one_line_error(result, "Invalid value for '--db': the archive's file name is 252 bytes: the files kept "
                                  "beside it (its name and '-journal', '.refused-runs') need up to 13 more, past the "
                                  "255 a name may have: give a name of at most 242 bytes")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shut"]


@pytest.mark.parametrize("command", [("search", "x"), ("runs",), ("crawl", "--start-url", "http://127.0.0.1:9/")])
def test_a_db_that_is_a_symlink_loop_is_said_to_be_one(tmp_path, command):
    """Two symlinks that lead to each other were 'no archive at loop1.db: run glossary crawl first' to a reader,
    and a crawl 'cannot lock the archive': neither said that the path was a symlink loop."""
    (tmp_path / "loop2.db").symlink_to("loop1.db")
    (tmp_path / "loop1.db").symlink_to("loop2.db")
    result = run_glossary(*command, "--db", str(tmp_path / "loop1.db"))
    assert_one_line_error(result, f"{tmp_path / 'loop1.db'} is a symlink loop (Too many levels of symbolic links: "
                                  "it, or a directory on its way, leads back to itself): point the symlink at the "
                                  "archive's file, or give another path")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop1.db", "loop2.db"]


def test_a_replica_log_that_cannot_be_written_is_said_in_one_line(tmp_path):
    for log, said in ((tmp_path / "no" / "such.log", "No such file or directory"),
                      (tmp_path / ("a" * 300), "File name too long")):
        result = run_glossary("replica", "--port", "0", "--log", str(log))
        assert_one_line_error(result, f"cannot write --log {log}: {said}")


def test_a_replica_generation_past_what_it_replays_at_once_is_refused(replica):
    """--generation 100000 was taken, and the replica replayed every generation's edits for a minute before it
    served; 10**20 never served. Each way of moving it on takes 1 to 1,000."""
    result = run_glossary("replica", "--port", "0", "--generation", "1001")
    assert result.returncode == 2 and "1001 is not in the range 1<=x<=1000" in result.stderr, result.stderr
    for body in (b"1001", b"1e9", b"x" * 100):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(f"{replica.url}/_replica/generation", data=body), timeout=10)
        assert refused.value.code == 400
        assert refused.value.read() == b"generation must be a whole number from 1 to 1000\n"


def test_an_error_naming_a_path_with_a_newline_or_an_escape_is_one_line(tmp_path):
    for name in ("new\nline.db", "\x1b[31mred.db"):
        result = run_glossary("search", "x", "--db", str(tmp_path / name))
        assert_one_line_error(result, "no archive at", name.encode("unicode_escape").decode().replace("\\n", "\\x0a"))


def test_a_run_on_an_archive_whose_path_holds_a_newline_says_each_thing_in_one_line(replica, tmp_path):
    """The --max-pages stop's resume hint, the summary's archive line, the lock-out error and the refused
    runs that 'runs' lists printed the path's newline as it is, each cutting its line in two."""
    from glossary_spider.lock import ArchiveLock

    db = tmp_path / "new\nline.db"
    shown = str(db).replace("\n", "\\x0a")
    env = {"GLOSSARY_DB": str(db)}
    stopped = run_glossary("crawl", "--start-url", f"{replica.url}/", "--max-pages", "3", "--delay", "0",
                           "--no-progress", env=env)
    assert stopped.returncode == 4, stopped.stderr
    assert stopped.stderr.splitlines() == [f"Stopped before the end (--max-pages): run 'glossary crawl --resume --db "
                                           f"$'{shown}'' to continue; nothing archived is fetched again"]
    assert f"archive:       {shown}" in stopped.stdout.splitlines()
    with ArchiveLock(db, "crawl"):
        for command in (("reparse", "--no-progress"), ("crawl", "--resume", "--no-progress")):
            locked = run_glossary(*command, env=env)
            assert locked.returncode == 3
            (line,) = locked.stderr.splitlines()
            assert line.startswith(f"Error: {shown} is locked by another writer (pid {os.getpid()}, crawl since ")
    listed = run_glossary("runs", env=env)
    assert listed.returncode == 0, listed.stderr
    header, *runs, reparse, crawl = listed.stdout.splitlines()
    assert len(runs) == 3  # the crawl stopped, and the two locked out
    assert reparse.startswith(f"  reparse: {shown} is locked by another writer")
    assert crawl.startswith(f"  crawl: {shown} is locked by another writer")


def test_a_path_that_is_not_utf8_is_shown_as_a_shell_takes_it_back(crawled, tmp_path):
    """An archive's path with a byte that is not UTF-8 (a Latin-1 "caf\\xe9.db") was shown as Python holds it,
    "caf\\udce9.db": the resume hint, pasted, named no archive; the summary wrote the raw byte, runs --check --json
    a lone surrogate, and a refused run's error, naming the path, ended in a traceback."""
    db = Path(shutil.copy(crawled, tmp_path / os.fsdecode(b"caf\xe9.db")))
    shown = f"{tmp_path}/caf\\xe9.db"
    stopped = run_glossary("refresh", "--db", str(db), "--delay", "0", "--max-requests", "3", "--no-progress",
                           env={"PYTHONIOENCODING": "ascii"})
    assert stopped.returncode == 4, stopped.stderr
    hint = f"glossary refresh --resume --db $'{shown}'"
    assert stopped.stderr.splitlines() == [f"Stopped before the end (--max-requests): run '{hint}' to continue; "
                                           "nothing archived is fetched again"]
    assert f"archive:       {shown}" in stopped.stdout.splitlines()
    glossary = 'glossary() { "$PYTHON" -m glossary_spider "$@"; }'
    pasted = subprocess.run(["bash", "-c", f"{glossary}; {hint} --no-progress"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "PYTHON": sys.executable})
    assert pasted.returncode == 4, pasted.stderr  # resumed, with its --max-requests 3 again
    assert rows(db, "SELECT id, resumed_at IS NOT NULL AS resumed FROM crawl_runs WHERE id > 1") == [
        {"id": 2, "resumed": 1}]
    check = run_glossary("runs", "--db", str(db), "--check", "--json")
    assert check.returncode == 4 and "\\udc" not in check.stdout, check.stdout
    verdict = json.loads(check.stdout)
    assert verdict["archive"] == shown and verdict["message"].startswith(f"{shown}: refresh #2 stopped_early at ")
    out = tmp_path / os.fsdecode(b"x\xe9.csv")
    exported = run_glossary("export", "--format", "csv", "--db", str(db), "--out", str(out))
    assert exported.returncode == 0 and out.exists()
    assert exported.stderr.endswith(f"pages written to {tmp_path}/x\\xe9.csv\n"), exported.stderr
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM pages")
    refused = run_glossary("refresh", "--db", str(db), "--no-progress")
    assert_one_line_error(refused, f"the archive {shown} has no pages yet")
    assert rows(db, "SELECT error FROM crawl_runs WHERE id = 3") == [
        {"error": f"the archive {shown} has no pages yet: run 'glossary crawl' first"}]


@pytest.mark.parametrize("command", [("reparse",), ("refresh",), ("search", "x"), ("crawl", "--resume")])
def test_an_empty_file_is_no_archive_yet_and_stays_empty(tmp_path, command):
    """reparse made an archive of an empty file and called it done."""
    db = tmp_path / "empty.db"
    db.touch()
    result = run_glossary(*command, "--db", str(db))
    assert_one_line_error(result, f"no archive at {db} (an empty file): run 'glossary crawl' first")
    assert db.stat().st_size == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


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


# -- bad archives at every entry point -----------------------------------------------------

READERS = [("search", "gamma"), ("show", "gamma"), ("export", "--format", "jsonl"), ("report",)]
WRITERS = [("refresh", "--no-progress"), ("reparse", "--no-progress")]


def _bad_archive(kind, tmp_path):
    if kind == "directory":
        return tmp_path
    db = tmp_path / f"{kind}.db"
    if kind == "not-sqlite":
        db.write_bytes(b"these are my notes, not a database\n" * 100)
    elif kind == "newer-schema":  # in WAL mode, as an archive is
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("CREATE TABLE pages (url TEXT)")
            conn.execute("PRAGMA user_version = 999")
        conn.close()
    return db


@pytest.mark.parametrize("kind,words", [("directory", "directory"), ("not-sqlite", "not"), ("newer-schema", "newer"),
                                        ("missing", "no archive")])
@pytest.mark.parametrize("command", READERS + WRITERS, ids=lambda c: c[0])
def test_every_command_refuses_a_bad_archive_in_one_line(tmp_path, command, kind, words):
    """Refused, an archive of a newer schema had its -wal and -shm left beside it."""
    db = _bad_archive(kind, tmp_path)
    before = db.read_bytes() if db.is_file() else None
    files = sorted(tmp_path.iterdir())
    result = run_glossary(command[0], "--db", str(db), *command[1:])
    assert_one_line_error(result, words)
    assert (db.read_bytes() if db.is_file() else None) == before
    assert sorted(tmp_path.iterdir()) == files
    if kind == "missing":
        assert not db.exists()


def _damaged_copy(crawled, tmp_path, table, byte):
    """A copy of the archive whose ``table``'s root page a disk fault overwrote with ``byte``."""
    db = tmp_path / "damaged.db"
    shutil.copy(crawled, db)
    with sqlite3.connect(db) as conn:
        (page_size,), = conn.execute("PRAGMA page_size")
        (root,), = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [table])
    conn.close()
    with open(db, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(byte * page_size)
    return db


@pytest.mark.parametrize("command", READERS + WRITERS, ids=lambda c: c[0])
def test_every_command_says_a_damaged_archive_is_damaged_in_one_line(crawled, tmp_path, command):
    """A disk fault wiped a page of the file: the pages table's root. One line naming the damage and
    how to recover, never a traceback; a reader leaves the file as it was."""
    db = _damaged_copy(crawled, tmp_path, "pages", b"\0")
    before = db.read_bytes()
    result = run_glossary(command[0], "--db", str(db), *command[1:])
    assert_one_line_error(result, "is damaged", "malformed", f"sqlite3 {db} .recover")
    # No log was beside it: none to move aside, though the command's own connection left an empty one.
    assert "write-ahead log" not in result.stderr
    if command in READERS:
        assert db.read_bytes() == before


@pytest.mark.parametrize("command", WRITERS, ids=lambda c: c[0])
def test_a_writer_refuses_an_archive_damaged_where_its_run_would_not_look(crawled, tmp_path, command):
    """Damage in a table a run never reads (the versions of pages that did not change): reparse and refresh
    ran, exit 0, "done", into a file every reader then called damaged. A writer checks the file first."""
    db = _damaged_copy(crawled, tmp_path, "versions", b"\xa5")
    before = db.read_bytes()
    result = run_glossary(command[0], "--db", str(db), *command[1:])
    assert_one_line_error(result, "is damaged", f"sqlite3 {db} .recover")
    assert db.read_bytes() == before
    # The refusal is noted beside the file, which readers still open: runs --check said "ok" every night.
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == ExitStatus.BAD_INPUT and "is damaged" in check.stderr, check.stdout + check.stderr
    assert check.stderr.startswith(f"{db}: {command[0]} ") and check.stderr.count("\n") == 1, check.stderr


def _foreign_log(tmp_path):
    """The write-ahead log of another database, as a kill -9 leaves it: an archive made anew, its bodies
    written and never folded into its file."""
    other = tmp_path / "other.db"
    with Archive(other):
        pass
    conn = sqlite3.connect(other, isolation_level=None)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("BEGIN")
    for n in range(300):
        conn.execute("INSERT INTO bodies (sha256, compression, size, data) VALUES (?, 'none', 2000, ?)",
                     [f"{n:064x}", os.urandom(2000)])
    conn.execute("COMMIT")
    log = (tmp_path / "other.db-wal").read_bytes()
    conn.close()
    return log


@pytest.mark.parametrize("command", WRITERS + [("crawl", "--resume")], ids=lambda c: c[0])
def test_a_log_beside_the_archive_that_is_not_its_own_never_reaches_its_file(crawled, tmp_path, command):
    """Another database's -wal beside an archive (a backup restored over a file a killed crawl had left its log
    beside): SQLite reads it as the file's. Every writer called the archive damaged, and the check that found
    it closed a writable connection, which folded that log into the file and deleted it: 2.5 MB of archive
    became 370 kB that not even .recover could read. The file is left as it was, and the message says to move
    the log aside, which gives the archive back whole."""
    db = tmp_path / "g.db"
    shutil.copy(crawled, db)
    log = _foreign_log(tmp_path)
    Path(f"{db}-wal").write_bytes(log)
    before = db.read_bytes()
    result = run_glossary(command[0], "--db", str(db), *command[1:])
    assert result.returncode == ExitStatus.BAD_INPUT and result.stderr.count("\n") == 1, result.stderr
    assert f"if {db}-wal is not its own" in result.stderr, result.stderr
    assert db.read_bytes() == before and Path(f"{db}-wal").read_bytes() == log
    Path(f"{db}-wal").rename(tmp_path / "aside-wal")
    Path(f"{db}-shm").unlink(missing_ok=True)
    assert run_glossary("search", "gamma", "--db", str(db)).returncode == 0


@pytest.mark.parametrize("command", [("show", "international-legal-cooperation"),
                                     ("show", "international-legal-cooperation", "--format", "json"),
                                     ("export", "--format", "jsonl")], ids=lambda c: " ".join(c[:3:2]))
def test_a_stored_json_value_damage_reached_is_the_damaged_line(crawled, tmp_path, command):
    """Damage inside a value SQLite still reads (its integrity check passes): a page's JSON-LD no longer
    JSON. show and export ended in a traceback."""
    db = shutil.copy(crawled, tmp_path / "damaged-json.db")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE structured_data SET data = '{\"@type\": \"Defin' WHERE url LIKE "
                     "'%/definition/international-legal-cooperation/' AND syntax = 'json-ld'")
    conn.close()
    result = run_glossary(command[0], "--db", str(db), *command[1:])
    assert_one_line_error(result, "is damaged", f"sqlite3 {db} .recover")


def test_an_empty_glossary_db_is_refused_not_taken_for_the_default(tmp_path):
    """click takes an empty variable for an unset one: GLOSSARY_DB=$ARCHIVE with ARCHIVE unset made a crawl
    create data/glossary.db in whatever the working directory was, exit 0 (--db "" was refused)."""
    result = run_glossary("crawl", "--start-url", "http://127.0.0.1:9/", env={"GLOSSARY_DB": ""}, cwd=tmp_path)
    assert_one_line_error(result, "GLOSSARY_DB is set but empty")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [("search", "gamma"), ("report",), ("crawl", "--start-url", "http://127.0.0.1:9/")],
                         ids=lambda c: c[0])
def test_a_relative_archive_path_in_a_removed_working_directory_is_one_line(tmp_path, command):
    """Run from a directory that was removed meanwhile, every command with a relative --db (or the default)
    ended in a FileNotFoundError traceback."""
    gone = tmp_path / "gone"
    gone.mkdir()
    script = f"import os, sys; os.chdir({str(gone)!r}); os.rmdir({str(gone)!r}); os.execv(sys.argv[1], sys.argv[1:])"
    result = subprocess.run([sys.executable, "-c", script, *GLOSSARY, *command, "--db", "rel.db"],
                            capture_output=True, text=True, timeout=120)
    assert_one_line_error(result, "rel.db is relative to the working directory, which no longer exists")


def test_another_applications_database_with_a_pages_table_is_not_an_archive(tmp_path):
    db = tmp_path / "theirs.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE pages (x)")
    conn.close()
    for command in (("search", "gamma"), ("held",), ("runs", "--check")):
        result = run_glossary(*command, "--db", str(db))
        assert_one_line_error(result, f"{db} is not a glossary archive: it has no crawl_runs or captures table")


@pytest.mark.parametrize(("tables", "why"), [
    (["pages (url TEXT PRIMARY KEY, title TEXT)", "crawl_runs (id INTEGER PRIMARY KEY, started TEXT)"],
     "it has no captures table"),
    (["pages (url TEXT PRIMARY KEY, title TEXT)", "crawl_runs (id INTEGER PRIMARY KEY, started TEXT)",
      "captures (url, fetched_at, body_sha256)"], "its pages table has no content_hash or status column"),
    (["pages (id INTEGER PRIMARY KEY, url TEXT UNIQUE, content_hash TEXT, status TEXT, html TEXT NOT NULL)",
      "crawl_runs (id INTEGER PRIMARY KEY, command TEXT, started_at TEXT)", "captures (url, fetched_at, body_sha256)"],
     "its pages table's primary key is not url"),
    (["pages (url TEXT PRIMARY KEY, content_hash TEXT, status TEXT)", "crawl_runs (command TEXT, started_at TEXT)",
      "captures (url, fetched_at, body_sha256)"], "its crawl_runs table's primary key is not id"),
], ids=["cms", "no-content-hash", "pages-keyed-by-id", "runs-without-id"])
def test_another_applications_database_with_pages_and_crawl_runs_tables_is_refused_untouched(tmp_path, tables, why):
    """A CMS's database with tables named pages and crawl_runs was taken for an archive: a reparse added 26
    tables, columns and search triggers to it and said "nothing new", and a crawl then failed on it with
    advice to resume. Later, one whose tables had every column an archive has always had: a crawl added some
    40 tables to it, then failed on its own NOT NULL column ("room on the disk, most often"), a reparse ended
    in a traceback. Every archive has had their url, content_hash, status, command and started_at, a
    captures table, and pages keyed by url and runs by id."""
    db = tmp_path / "cms.db"
    with sqlite3.connect(db) as conn:
        for table in tables:
            conn.execute(f"CREATE TABLE {table}")
        conn.execute("INSERT INTO pages (url) VALUES ('/about')" if "html" not in tables[0] else
                     "INSERT INTO pages (url, html) VALUES ('/about', '<p>About us')")
    conn.close()
    before = db.read_bytes()
    for command in (("reparse", "--no-progress"), ("refresh", "--no-progress"),
                    ("crawl", "--start-url", "http://127.0.0.1:9/", "--no-progress")):
        result = run_glossary(*command, "--db", str(db))
        assert_one_line_error(result, f"{db} is a SQLite database but not a glossary archive ({why}",
                              "nothing was added to it")
    for command in (("search", "about"), ("show", "/about"), ("report",), ("held",)):
        result = run_glossary(*command, "--db", str(db))
        assert_one_line_error(result, f"{db} is not a glossary archive: {why}")
    assert db.read_bytes() == before


@pytest.mark.parametrize("command", ["crawl", "refresh", "reparse", "search", "show", "export", "report", "browse",
                                     "replica"])
def test_every_command_says_an_unknown_option_in_one_line(command):
    result = run_glossary(command, "--frobnicate")
    assert_one_line_error(result, "--frobnicate", f"glossary {command} --help")


def _as_user_without_override(*args):
    """Run glossary as a user the file permissions apply to: root without CAP_DAC_OVERRIDE."""
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("root writes anywhere, and setpriv is not here to stop it")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    return subprocess.run([*prefix, *GLOSSARY, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_a_read_only_archive_is_refused_by_writers_and_read_by_readers(crawled, tmp_path):
    """Refused by root too, which may write any file, and wrote an archive made read-only (chmod a-w) as if it were
    not: a run from root's crontab recorded its runs in an archive kept as it was on purpose."""
    db = tmp_path / "archive.db"
    shutil.copy(crawled, db)
    db.chmod(0o444)
    before = db.read_bytes()
    for command in ("reparse", "refresh"):
        for runner in (_as_user_without_override, run_glossary):  # the tests' own user: root, on CI
            result = runner(command, "--db", str(db), "--no-progress")
            assert_one_line_error(result, "read-only")
    result = _as_user_without_override("search", "--db", str(db), "gamma", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)
    assert db.read_bytes() == before

    # The reader left a -shm with the archive's mode then, 444: made writable, the archive refused every write
    # ("attempt to write a readonly database") until someone found that file and removed it.
    shm = db.with_name(db.name + "-shm")
    assert shm.exists() and shm.stat().st_mode & 0o777 == 0o444
    db.chmod(0o644)
    result = _as_user_without_override("reparse", "--db", str(db), "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    # Another user's, which only its owner can make writable: named, and what to do said.
    shm.touch(mode=0o444)
    os.chown(shm, 65534, 65534)
    result = _as_user_without_override("reparse", "--db", str(db), "--no-progress")
    assert_one_line_error(result, f"{shm}, beside the archive, is uid 65534's and you cannot write it")


@pytest.mark.parametrize("table", ["versions", "bodies"])
def test_an_archive_that_lost_a_table_of_what_it_holds_is_not_written(crawled, tmp_path, table):
    """A table that holds what the archive captured, dropped or left out of a restore, was made again, empty, by
    the next writer, which then ran as if nothing were amiss (pages with versions that were no longer there,
    captures of bodies no longer there); readers called the archive "not a glossary archive"."""
    db = tmp_path / "archive.db"
    shutil.copy(crawled, db)
    with sqlite3.connect(db) as conn:
        conn.execute(f"DROP TABLE {table}")
    conn.close()
    for command in ("reparse", "refresh"):
        result = run_glossary(command, "--db", str(db), "--no-progress")
        assert_one_line_error(result, f"has lost its {table} table", "restore it from a backup")
    assert not rows(db, "SELECT name FROM sqlite_master WHERE name = ?", (table,))
    # What the other tables hold is still there to read and save.
    found = run_glossary("search", "--db", str(db), "gamma", "--format", "json")
    assert found.returncode == 0 and json.loads(found.stdout), found.stderr
    if table == "versions":
        assert_one_line_error(run_glossary("report", "--db", str(db)), "has lost its versions table")


def _beside(db):
    """The archive's file and whatever SQLite keeps beside it (its -wal, -shm and -journal)."""
    return sorted(p.name for p in db.parent.iterdir() if p.name.startswith(db.name))


def test_no_command_leaves_the_archives_log_beside_it_when_it_ends(make_replica, tmp_path):
    """Every command left an empty -wal and a 32 KiB -shm beside the archive as it ended, nobody else using it:
    its last connection was read-only (a reader's, or the one a crawl reads its summary through after the run
    closed the archive), and SQLite lets only a connection that may write checkpoint and remove the log."""
    site = make_replica(40)
    db = tmp_path / "g.db"
    run = ("--delay", "0", "--no-progress")

    def ends_alone(*args, status=0):
        result = run_glossary(*args, env={"GLOSSARY_DB": str(db)})
        assert result.returncode == status, (args, result.stdout, result.stderr)
        assert _beside(db) == ["g.db"], args

    ends_alone("crawl", "--start-url", f"{site.url}/", "--sitemap", f"{site.url}/sitemap_index.xml", *run)
    url = rows(db, "SELECT url FROM pages WHERE page_type = 'definition' LIMIT 1")[0]["url"]
    site.set_generation(2)
    ends_alone("refresh", "--max-age", "0", *run)
    ends_alone("reparse", "--no-progress")
    for args in (("search", "risk"), ("search", "risk", "--format", "json"), ("show", url), ("show", url, "--history"),
                 ("runs",), ("runs", "--check"), ("report",), ("report", "--format", "html"), ("held",),
                 ("export", "--format", "jsonl", "--out", str(tmp_path / "pages.jsonl")),
                 ("export", "--format", "warc", "--out", str(tmp_path / "pages.warc.gz"))):
        ends_alone(*args)
    ends_alone("show", f"{site.url}/definition/no-such-page/", status=2)
    urllib.request.urlopen(urllib.request.Request(f"{site.url}/_replica/mode", data=b"maintenance")).read()
    ends_alone("refresh", "--max-age", "0", *run, status=ExitStatus.HELD)
    (held,) = [r["id"] for r in rows(db, "SELECT id FROM crawl_runs WHERE finish_reason = 'held'")]
    ends_alone("held", "--run", str(held))
    ends_alone("held", "--discard", str(held))
    assert archive_problems(db) == []


def test_a_reader_leaves_the_log_to_a_writer_or_another_reader_still_there(crawled, tmp_path):
    """What a read command removes as it ends, it leaves where another has the archive open or a run holds its
    lock: the log and its index are theirs to read on, and a reader never checkpoints a running crawl's log."""
    db = tmp_path / "g.db"
    shutil.copy(crawled, db)
    other = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    other.execute("BEGIN")
    pages = other.execute("SELECT count(*) FROM pages").fetchone()[0]
    assert run_glossary("search", "risk", "--db", str(db)).returncode == 0
    assert _beside(db) == ["g.db", "g.db-shm", "g.db-wal"]
    assert other.execute("SELECT count(*) FROM pages").fetchone()[0] == pages
    other.close()

    from glossary_spider.lock import ArchiveLock

    lock = ArchiveLock(db, "crawl").acquire()
    try:
        assert run_glossary("search", "risk", "--db", str(db)).returncode == 0
        assert _beside(db) == ["g.db", "g.db-shm", "g.db-wal", "g.db.lock"]
    finally:
        lock.release()
    assert run_glossary("search", "risk", "--db", str(db)).returncode == 0
    assert _beside(db) == ["g.db"]


def test_a_reparse_refused_a_read_only_archive_is_noted_as_a_crawls_refusal_is(crawled, tmp_path):
    """A crawl or refresh refused a read-only archive was noted beside it, and listed by 'runs'; a reparse
    left no trace, and 'runs --check' went on judging the run before it."""
    db = tmp_path / "archive.db"
    shutil.copy(crawled, db)
    db.chmod(0o444)
    result = _as_user_without_override("reparse", "--db", str(db), "--no-progress")
    assert_one_line_error(result, "read-only")
    listed = run_glossary("runs", "--db", str(db), "--json")
    assert [(r["command"], r["finish_reason"], r["exit_status"]) for r in json.loads(listed.stdout)][-1] == (
        "reparse", "archive_unwritable", 2)
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 2 and "reparse bad_input at" in check.stderr and "read-only" in check.stderr, check
    db.chmod(0o644)
    assert run_glossary("reparse", "--db", str(db), "--no-progress").returncode == 0
    assert [(r["command"], r["finish_reason"]) for r in rows(db, "SELECT * FROM crawl_runs ORDER BY id")][-2:] == [
        ("reparse", "archive_unwritable"), ("reparse", "finished")]


def test_an_immutable_lock_file_is_named_as_such_not_blamed_on_its_mode(crawled, tmp_path):
    db = shutil.copy(crawled, tmp_path / "a.db")
    lock = tmp_path / "a.db.lock"
    lock.touch()
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(lock)], capture_output=True).returncode:
        pytest.skip("no immutable files here (chattr +i needs CAP_LINUX_IMMUTABLE and a filesystem that has them)")
    try:
        result = run_glossary("reparse", "--db", str(db), "--no-progress")
    finally:
        subprocess.run(["chattr", "-i", str(lock)])
    assert_one_line_error(result, f"the lock file {lock} (yours) may not be written, though its mode allows it",
                          "chattr -i -a")


def test_a_rollback_journal_beside_the_archive_is_named_to_readers_and_rolled_back_by_a_writer(crawled, tmp_path):
    """A -journal beside the archive (a write cut short, or bytes someone put there) made every reader say
    "attempt to write a readonly database": SQLite must roll it back before a read, and a reader may not."""
    db = shutil.copy(crawled, tmp_path / "a.db")
    journal = tmp_path / "a.db-journal"
    journal.write_bytes(b"\xff" + os.urandom(69_999))  # SQLite takes a journal that begins with a 0 byte for none
    for command in (("search", "gamma"), ("report",), ("runs",)):
        result = run_glossary(*command, "--db", str(db))
        assert_one_line_error(result, f"{journal} beside it holds a write cut short",
                              f"run a writing command once ('glossary reparse --db {db}')")
    result = run_glossary("reparse", "--db", str(db), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert not journal.exists()
    assert run_glossary("search", "gamma", "--db", str(db)).returncode == 0


def test_a_lock_file_that_cannot_be_made_or_opened_is_named_with_what_to_do(crawled, tmp_path):
    """Each said only "cannot lock the archive a.db: Permission denied": not which file, nor the way out."""
    directory = tmp_path / "archive"
    directory.mkdir()
    db = directory / "a.db"
    shutil.copy(crawled, db)
    lock = directory / "a.db.lock"
    lock.touch(mode=0o000)
    result = _as_user_without_override("reparse", "--db", str(db), "--no-progress")
    assert_one_line_error(result, f"the lock file {lock} (", "mode 000) is not writable for you: make it so, or "
                                  "remove it")
    lock.unlink()
    directory.chmod(0o555)
    try:
        result = _as_user_without_override("reparse", "--db", str(db), "--no-progress")
    finally:
        directory.chmod(0o755)
    assert_one_line_error(result, f"cannot create the lock file {lock}: you may not write in {directory}")
    # Nothing can be noted beside it either: the refusal says 'runs --check' will not see it (which said ok).
    assert "('glossary runs --check' cannot see this refusal: nothing can be noted beside the archive)" in result.stderr


@pytest.mark.parametrize("kind", ["symlink", "directory"])
def test_a_run_refused_for_its_lock_file_is_what_runs_check_judges(crawled, tmp_path, kind):
    """A refresh refused because the lock file's path was a symbolic link or a directory left no trace:
    `runs --check` judged the run before it, and said ok, night after night."""
    db = shutil.copy(crawled, tmp_path / "a.db")
    lock = tmp_path / "a.db.lock"
    lock.symlink_to(tmp_path / "elsewhere") if kind == "symlink" else lock.mkdir()
    result = run_glossary("refresh", "--db", str(db), "--no-progress")
    assert_one_line_error(result, f"cannot lock the archive {db}: {lock} is a symlink or a directory")
    check = run_glossary("runs", "--check", "--db", str(db))
    assert check.returncode == 2 and "refresh" in check.stdout + check.stderr, check.stdout + check.stderr
    assert f"{lock} is a symlink or a directory" in check.stdout + check.stderr


@pytest.mark.parametrize("command", [("report",), ("report", "--format", "html"), ("export", "--format", "jsonl")],
                         ids=lambda c: " ".join(c))
def test_an_out_file_its_mode_says_not_to_write_is_refused(crawled, tmp_path, command):
    """report --out replaced a read-only file (its rename into the directory needs only the directory's
    permission): another user's file became the report, and the writer's. export refused it."""
    out = tmp_path / "kept.txt"
    out.write_text("precious\n")
    out.chmod(0o444)
    result = _as_user_without_override(*command, "--db", str(crawled), "--out", str(out))
    assert_one_line_error(result, "--out", "is not writable")
    assert out.read_text() == "precious\n" and out.stat().st_mode & 0o777 == 0o444


def on_a_read_only_mount(directory, *args, **kwargs):
    """Run glossary in a private mount namespace where ``directory`` is a read-only bind mount:
    a real read-only filesystem, which stops root too (chmod does not)."""
    mount = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && shift && exec "$@"'
    command = ["unshare", "--mount", "sh", "-c", mount, "sh", str(directory), *GLOSSARY, *args]
    if subprocess.run(["unshare", "--mount", "sh", "-c", mount, "sh", str(directory), "true"]).returncode != 0:
        pytest.skip("no read-only bind mount here (unshare --mount needs CAP_SYS_ADMIN)")
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120, **kwargs)


@pytest.mark.parametrize("command", [("search", "gamma", "--format", "json"),
                                     ("show", "international-legal-cooperation", "--format", "json"),
                                     ("report", "--format", "json"), ("export", "--format", "jsonl")],
                         ids=lambda c: c[0])
def test_readers_read_an_archive_on_a_read_only_filesystem(crawled, tmp_path, command):
    """Issue 14 item 7: SQLite cannot create the WAL's -shm file on a read-only mount; readers
    said the archive 'is not a glossary archive: unable to open database file'."""
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    db = shelf / "archive.db"
    shutil.copy(crawled, db)
    result = on_a_read_only_mount(shelf, command[0], "--db", str(db), *command[1:])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and "Traceback" not in result.stderr
    assert sorted(p.name for p in shelf.iterdir()) == ["archive.db"]


def test_a_read_only_archive_whose_last_writes_are_in_its_wal_is_refused_not_read_stale(crawled, tmp_path):
    """Where SQLite cannot create the -shm file, the archive is read immutable, and a -wal file beside it
    is ignored: the last writes (a refresh's) went unseen, without a word."""
    source = shutil.copy(crawled, tmp_path / "live.db")
    writer = sqlite3.connect(source)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    with writer:
        writer.execute("UPDATE pages SET title = 'Renamed' WHERE url LIKE '%/definition/international-legal-cooperation/'")
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    shutil.copy(source, shelf / "archive.db")
    shutil.copy(f"{source}-wal", shelf / "archive.db-wal")  # the -shm stays behind, as after a copy or crash
    writer.close()
    result = on_a_read_only_mount(shelf, "show", "international-legal-cooperation", "--db", str(shelf / "archive.db"))
    assert result.returncode == 2, result.stdout
    assert result.stderr == (f"Error: {shelf}/archive.db-wal holds the archive's last writes, which SQLite cannot "
                             "read in a read-only directory: open the archive once where it can be written, or copy "
                             "archive.db and archive.db-wal to such a place\n")


def test_a_writer_on_a_read_only_filesystem_says_so_in_one_line(crawled, tmp_path):
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    shutil.copy(crawled, shelf / "archive.db")
    result = on_a_read_only_mount(shelf, "reparse", "--db", str(shelf / "archive.db"), "--no-progress")
    assert_one_line_error(result)
    assert "not a glossary archive" not in result.stderr and "read-only" in result.stderr.lower()


@pytest.mark.parametrize("command", [("reparse", "--no-progress"), ("crawl", "--resume"),
                                     ("refresh", "--no-progress", "--json")], ids=lambda c: c[0])
def test_a_run_on_a_disk_with_no_room_for_its_lock_says_so_in_one_line(crawled, tmp_path, command):
    """On a full disk (a real one: a tmpfs filled up, in a mount namespace of the test's own), a run that could
    not make its lock file said 'Cannot note the refused run beside the archive: No space left on device' and
    'cannot lock the archive: No space left on device', two lines and no way out; a refresh's JSON line had it
    refused for a bad argument."""
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    size = crawled.stat().st_size + (1 << 20)
    fill = ('mount -t tmpfs -o size="$3" tmpfs "$1" && cp "$2" "$1/glossary.db" && '
            '{ dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null; true; } && shift 3 && exec "$@"')
    if subprocess.run(["unshare", "--mount", "sh", "-c", fill, "sh", str(shelf), str(crawled), str(size), "true"],
                      capture_output=True).returncode != 0:
        pytest.skip("no tmpfs mount here (unshare --mount needs CAP_SYS_ADMIN)")
    db = shelf / "glossary.db"
    result = subprocess.run(["unshare", "--mount", "sh", "-c", fill, "sh", str(shelf), str(crawled), str(size),
                             *GLOSSARY, *command, "--db", str(db)], capture_output=True, text=True, cwd=ROOT,
                            timeout=120)
    assert_one_line_error(result, f"cannot lock the archive {db}: No space left on device: free some space on its "
                                  "disk, then run it again")
    if "--json" in command:
        assert json.loads(result.stdout)["finish_reason"] == "archive_unwritable"


@pytest.mark.parametrize("command", [("search", "gamma"), ("export", "--format", "jsonl"), ("report",),
                                     ("runs", "--check")], ids=lambda c: c[0])
def test_readers_read_an_archive_on_a_full_disk(crawled, tmp_path, command):
    """SQLite makes a -shm file beside an archive it reads: on a full disk (a tmpfs filled up, in a mount namespace
    of the test's own) every reading command said "cannot read the archive ...: disk I/O error", naming no cause,
    while nothing could be writing it. It is read as on a read-only mount."""
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    fill = ('mount -t tmpfs -o size="$3" tmpfs "$1" && cp "$2" "$1/glossary.db" && '
            '{ dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null; true; } && shift 3 && exec "$@"')
    size = str(crawled.stat().st_size + (1 << 20))
    if subprocess.run(["unshare", "--mount", "sh", "-c", fill, "sh", str(shelf), str(crawled), size, "true"],
                      capture_output=True).returncode != 0:
        pytest.skip("no tmpfs mount here (unshare --mount needs CAP_SYS_ADMIN)")
    result = subprocess.run(["unshare", "--mount", "sh", "-c", fill, "sh", str(shelf), str(crawled), size,
                             *GLOSSARY, *command, "--db", str(shelf / "glossary.db")], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert result.stdout


def test_a_full_temporary_directory_is_named_not_the_archives_disk(replica, crawled, tmp_path):
    """SQLite keeps a large write's temporary files in TMPDIR: full there (a tmpfs filled up, in a mount namespace
    of the test's own), a crawl said "database or disk is full ... once there is room on the disk" of an archive
    on a disk with room."""
    temporary, db = tmp_path / "tmp", tmp_path / "a.db"
    temporary.mkdir()
    fill = ('mount -t tmpfs -o size=1m tmpfs "$1" && { dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null; true; } && '
            'TMPDIR="$1" && export TMPDIR && shift && exec "$@"')
    if subprocess.run(["unshare", "--mount", "sh", "-c", fill, "sh", str(temporary), "true"],
                      capture_output=True).returncode != 0:
        pytest.skip("no tmpfs mount here (unshare --mount needs CAP_SYS_ADMIN)")
    result = subprocess.run(["unshare", "--mount", "sh", "-c", fill, "sh", str(temporary), *GLOSSARY, "crawl", "--db",
                             str(db), "--start-url", f"{replica.url}/", "--sitemap", f"{replica.url}/sitemap_index.xml",
                             "--delay", "0", "--concurrency", "8", "--no-progress"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert_one_line_error(result, f"the temporary directory {temporary}, where SQLite keeps a large write's temporary "
                                  "files, is full, not the archive's disk", "set TMPDIR to a directory with room",
                          "once there is room there, run 'glossary crawl --resume")
    resumed = run_glossary("crawl", "--resume", "--db", str(db), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert archive_content(db) == archive_content(crawled)


def test_a_full_disk_rolls_back_and_the_next_run_continues(replica, crawled, tmp_path):
    """A file size limit (RLIMIT_FSIZE) makes every write past it fail as a full disk does."""
    import resource

    db = tmp_path / "full.db"

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))

    result = run_glossary("crawl", "--db", str(db), "--start-url", f"{replica.url}/", "--sitemap",
                          f"{replica.url}/sitemap_index.xml", "--delay", "0", "--concurrency", "8", "--no-progress",
                          preexec_fn=small_disk)
    assert_one_line_error(result, "cannot write the archive", "--resume")
    assert archive_problems(db) == []

    result = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress")
    assert result.returncode == 0, result.stderr
    query = "SELECT url, content_hash FROM pages ORDER BY url"
    assert [(r["url"], r["content_hash"]) for r in rows(db, query)] == \
        [(r["url"], r["content_hash"]) for r in rows(crawled, query)]


def test_a_resume_on_a_disk_still_full_says_what_to_do(replica, tmp_path):
    """A --resume that the full disk refused as it opened the run said "database or disk is full; nothing of the
    failed write was kept" and no more, where the crawl it resumed had said to make room, then resume."""
    import resource

    db = tmp_path / "full.db"
    remedy = f"once there is room on the disk (or its fault is mended), run 'glossary crawl --resume --db {db}'"

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))

    def no_room():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    result = run_glossary("crawl", "--db", str(db), "--start-url", f"{replica.url}/", "--sitemap",
                          f"{replica.url}/sitemap_index.xml", "--delay", "0", "--concurrency", "8", "--no-progress",
                          preexec_fn=small_disk)
    assert_one_line_error(result, "cannot write the archive", remedy)
    still_full = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress", preexec_fn=no_room)
    assert_one_line_error(still_full, "cannot write the archive", f"nothing of the failed write was kept; {remedy}")
    resumed = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr


# The busy timeout of the crawls another program holds the write lock from (GLOSSARY_BUSY_TIMEOUT; 10 s unset):
# longer than the 2 s a batch may wait to be written, so that a hold of 1.75 times it refuses the batch.
BUSY_TIMEOUT = 4
# Pages enough that the crawl, one exchange at a time, runs on some seconds after its first batch is written.
HELD_SITE_PAGES = 60


def _crawl_while_a_program_holds_the_write_lock(replica, db, hold_for=None):
    """A polite crawl of ``db`` that another connection (a sqlite3 session's BEGIN IMMEDIATE) takes the write
    lock from once its first batch is written: until the crawl ends, or for ``hold_for`` seconds."""
    process = launcher.popen([*GLOSSARY, "crawl", "--db", str(db), "--start-url", f"{replica.url}/", "--delay",
                                "0.05", "--no-progress"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env={**os.environ, "GLOSSARY_BUSY_TIMEOUT": str(BUSY_TIMEOUT)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _batch_written(db):
        time.sleep(0.1)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        stdout, stderr = process.communicate(timeout=hold_for)
    except subprocess.TimeoutExpired:
        holder.rollback()
        stdout, stderr = process.communicate(timeout=120)
    finally:
        holder.close()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _batch_written(db):
    try:
        return bool(rows(db, "SELECT id FROM crawl_runs WHERE requests > 0"))
    except sqlite3.Error:  # no archive yet, or no table in it
        return False


def test_a_crawl_another_program_holds_the_write_lock_from_says_to_close_it(make_replica, tmp_path):
    """A write that waited out the busy timeout for another connection's write lock said that room on the
    disk, most often, was to be made, as for a full disk."""
    db = tmp_path / "held.db"
    result = _crawl_while_a_program_holds_the_write_lock(make_replica(HELD_SITE_PAGES), db)
    assert_one_line_error(result, "another program holds its write lock", "sqlite3", "not a glossary run",
                          f"close that program, then resume the run: 'glossary crawl --resume --db {db}'")
    assert "disk" not in result.stderr
    resumed = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr


def test_the_environment_a_command_reads_is_in_its_help():
    output = CliRunner().invoke(cli, ["--help"], terminal_width=200).output
    assert "GLOSSARY_DB " in output and "GLOSSARY_BUSY_TIMEOUT " in output and "(default 10)" in output


def test_glossary_alone_shows_its_help_laid_out_as_help_is():
    """`glossary` with no command printed its whole help folded into one 'Error: Usage: …' line."""
    result = run_glossary()
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("Usage: glossary [OPTIONS] COMMAND [ARGS]...\n\n")
    assert "\nCommands:\n" in result.stderr and "Error" not in result.stderr


@pytest.mark.parametrize("given", ["ten", "-1", "nan", "1e9"])
def test_a_busy_timeout_that_is_no_number_of_seconds_is_refused_in_a_line(crawled, tmp_path, given):
    """GLOSSARY_BUSY_TIMEOUT says how long a command waits for another program's write lock: a value that is
    not a number of seconds from 0 to a day is named, with what to do, before anything is read or written."""
    db = shutil.copy(crawled, tmp_path / "a.db")
    env = {**os.environ, "GLOSSARY_BUSY_TIMEOUT": given}
    for command in (["reparse", "--no-progress"], ["search", "vega"], ["runs"]):
        result = run_glossary(*command, "--db", str(db), env=env)
        assert_one_line_error(result, f"GLOSSARY_BUSY_TIMEOUT='{given}' is not a number of seconds from 0 to 86400",
                              "set it to one, or unset it")


def test_a_command_waits_for_another_programs_write_lock_as_long_as_the_busy_timeout_says(crawled, tmp_path):
    """A reparse meeting a sqlite3 session's write lock gives up once GLOSSARY_BUSY_TIMEOUT has passed, not
    the 10 s it waits unset."""
    db = shutil.copy(crawled, tmp_path / "a.db")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        for seconds in (1, 3):
            started = time.monotonic()
            result = run_glossary("reparse", "--db", str(db), "--no-progress",
                                  env={**os.environ, "GLOSSARY_BUSY_TIMEOUT": str(seconds)})
            waited = time.monotonic() - started
            assert_one_line_error(result, "another program holds its write lock")
            assert seconds <= waited < seconds + 5, waited
    finally:
        holder.rollback()
        holder.close()


def test_a_crawl_stopped_by_another_programs_write_lock_is_recorded_as_it_ended(make_replica, tmp_path):
    """SQLite refused a write at once, its busy timeout unused, where the transaction read before it wrote
    (sqlite-utils' BEGIN): the batch and then the run's end met a sqlite3 session's lock the moment it was
    taken, and 'glossary runs' told the run, once the lock was gone, as killed. Each waits out the busy
    timeout now: the lock, held for 1.75 times it, refuses the batch and lets the run's end be written, with
    its exit status and what refused it."""
    db = tmp_path / "held.db"
    result = _crawl_while_a_program_holds_the_write_lock(make_replica(HELD_SITE_PAGES), db,
                                                          hold_for=1.75 * BUSY_TIMEOUT)
    assert_one_line_error(result, "another program holds its write lock")
    (run,) = rows(db, "SELECT finish_reason, exit_status, error FROM crawl_runs")
    assert (run["finish_reason"], run["exit_status"]) == ("archive_error", 2)
    assert "another program holds its write lock" in run["error"]
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 2 and "close that program, then resume the run" in check.stderr, check
    resumed = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert rows(db, "SELECT finish_reason, error FROM crawl_runs") == [{"finish_reason": "finished", "error": None}]


def test_a_run_the_archive_refuses_from_its_start_is_noted_and_runs_check_says_so(replica, crawled, tmp_path):
    """A refresh whose archive cannot be written from its first write (a full disk: here a file size limit
    below the shared-memory file's) exited 2 and left no trace: 'runs --check' went on judging the run
    before it, done, and the night's failure was in no account. It is noted beside the archive, as a run
    locked out is, and the next run records it."""
    import resource
    import time

    db = tmp_path / "refused.db"
    shutil.copy(crawled, db)
    time.sleep(1.1)  # the runs' times are to the second: the refused one is the last to end

    def no_room():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    result = run_glossary("refresh", "--db", str(db), "--no-progress", preexec_fn=no_room)
    assert_one_line_error(result, "cannot write the archive")
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 2 and "refresh bad_input" in check.stdout + check.stderr, check
    assert not Path(f"{db}.lock").exists()

    assert run_glossary("refresh", "--db", str(db), "--no-progress", "--delay", "0").returncode == 0
    assert [(r["command"], r["finish_reason"]) for r in rows(db, "SELECT * FROM crawl_runs ORDER BY id")][-2:] == [
        ("refresh", "archive_unwritable"), ("refresh", "finished")]


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


@pytest.mark.parametrize("run_id, words", [("1", "run 1 was not held by the quality gate"),
                                           ("99", "there is no run 99")])
def test_held_json_with_a_run_that_was_not_held_is_refused_too(crawled, run_id, words):
    """It printed [] and exit 0; a run that does not exist was said to be one not held."""
    result = run_glossary("held", "--db", str(crawled), "--json", "--run", run_id)
    assert result.returncode == 2 and words in result.stderr
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("options, message", [
    (("--check", "--max-age", "nan"), "--max-age is a finite number of hours, not nan"),
    (("--check", "--max-age", "inf"), "--max-age is out of range: give at most 24,000,000 hours"),
    (("--max-age", "5"), "--max-age goes with --check"),
])
def test_runs_max_age_is_a_finite_number_that_goes_with_check(crawled, options, message):
    """--max-age nan or inf passed every check; without --check it was silently ignored."""
    result = run_glossary("runs", "--db", str(crawled), *options)
    assert_one_line_error(result, message)


@pytest.mark.parametrize(("command", "says"), [
    (("refresh", "--max-age", "1e400"), "--max-age must be 0 to 1000000, not '1e400'"),
    (("runs", "--check", "--max-age", "1e400"), "--max-age is out of range: give at most 24,000,000 hours"),
])
def test_a_max_age_too_large_for_a_float_is_refused_as_out_of_range(crawled, tmp_path, command, says):
    """1e400 reads as inf: --max-age 1e400 was refused as 'not inf' (runs) or as not a finite number (refresh),
    neither of which the user wrote, rather than as past the largest it may be."""
    db = shutil.copy(crawled, tmp_path / "age.db")
    assert_one_line_error(run_glossary(command[0], "--db", str(db), *command[1:]), says)


@pytest.mark.parametrize(("command", "says"), [
    (("refresh", "--max-age", "30d"), "Error: --max-age is in days: give a number, e.g. 30, not '30d'"),
    (("runs", "--check", "--max-age", "26h"), "Error: --max-age is in hours: give a number, e.g. 26, not '26h'"),
    (("runs", "--check", "--max-age", "-3"), "Error: --max-age is in hours: give 0 or more, e.g. 26, not '-3'"),
])
def test_a_max_age_given_with_a_unit_is_told_its_unit(crawled, tmp_path, command, says):
    """--max-age 26h was "'26h' is not a valid float range" (runs --check), and 30d "must be a number, not '30d'"
    (refresh), while --max-duration takes 2h: neither said that one is in hours and the other in days."""
    db = shutil.copy(crawled, tmp_path / "age.db")
    result = run_glossary(command[0], "--db", str(db), *command[1:])
    assert_one_line_error(result)
    assert result.stderr == says + "\n"


def test_one_page_and_a_run_minutes_old_read_as_words(replica, tmp_path):
    """A run of one new page was summed up as '1 pages new, changed, gone or back', and runs --check said a
    run that ended minutes ago was 'done 0.0 hours ago'."""
    from glossary_spider.replica import ReplicaSite

    db = tmp_path / "one.db"
    result = crawl(db, "--start-url", replica.url + ReplicaSite(replica.pages).glossary_paths()[0], "--no-follow")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].endswith(": 1 page new, changed, gone or back")
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "1")
    assert check.returncode == 0 and re.fullmatch(r"ok: crawl #1 done \d+ seconds? ago \(.*\)\n", check.stdout)
    ended = (datetime.now(timezone.utc) - timedelta(minutes=5, seconds=10)).isoformat(timespec="seconds")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET finished_at = ?", [ended])
    conn.close()
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "0.0001")
    assert check.returncode == 1
    assert check.stderr.startswith(f"{db}: crawl #1 done 5 minutes ago, more than --max-age 0.0001: "), check.stderr


def test_runs_check_passes_over_a_run_dated_in_the_future(crawled, tmp_path):
    """A machine's clock ran ahead (a dead battery, NTP not synced at boot) during a crawl, then was put
    right: --check took that run, dated 2099, for the last one, said "ok: done -631927.4 hours ago" and
    exited 0 whatever failed after it, until 2099."""
    db = tmp_path / "ahead.db"
    shutil.copy(crawled, db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET started_at = '2099-01-01T00:00:00+00:00', "
                     "finished_at = '2099-01-01T00:00:05+00:00'")
    conn.close()
    alone = run_glossary("runs", "--db", str(db), "--check", "--max-age", "26")
    assert alone.returncode == 1 and "no run that ended before now" in alone.stderr
    assert "is dated 2099-01-01T00:00:05+00:00, in the future: a clock was wrong" in alone.stderr
    refused = run_glossary("crawl", "--db", str(db), "--start-url", "http://127.0.0.1:9/", "--delay", "-1")
    assert refused.returncode == 2, refused.stderr
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "26")
    assert check.returncode == 2 and check.stderr.startswith(f"{db}: crawl #2 bad_input"), check.stderr
    assert "in the future" in check.stderr


def test_runs_weighs_times_with_another_offset_as_moments(crawled, tmp_path):
    """Times were compared as text: a crawl an hour ago, its times written at +14:00 (its text a day ahead of
    UTC's), was "in the future: a clock was wrong", and listed after a run refused since."""
    db = shutil.copy(crawled, tmp_path / "offset.db")
    kiribati = timezone(timedelta(hours=14))
    started, ended = (datetime.now(kiribati) - timedelta(hours=h) for h in (2, 1))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET started_at = ?, finished_at = ?",
                     [started.isoformat(timespec="seconds"), ended.isoformat(timespec="seconds")])
    conn.close()
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "26")
    assert check.returncode == 0 and re.fullmatch(r"ok: crawl #1 done 1\.0 hours ago \(.*\)\n", check.stdout)
    refused = run_glossary("crawl", "--db", str(db), "--start-url", "http://127.0.0.1:9/", "--delay", "-1")
    assert refused.returncode == 2, refused.stderr
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "26")
    assert check.returncode == 2 and check.stderr.startswith(f"{db}: crawl #2 bad_input"), check.stderr
    assert "future" not in check.stderr
    listed = json.loads(run_glossary("runs", "--db", str(db), "--json").stdout)
    assert [r["id"] for r in listed] == [1, 2]


def test_runs_check_judges_a_run_dated_before_the_run_it_followed_as_the_later_one(crawled, tmp_path):
    """A board without a battery clock boots at 1970, and cron's refresh ran before NTP, with the site down:
    refresh #2, dated 1970, was taken for the earlier run, and --check said "ok: crawl #1 done", exit 0."""
    db = shutil.copy(crawled, tmp_path / "behind.db")
    refreshed = run_glossary("refresh", "--db", str(db), "--delay", "0", "--concurrency", "8", "--no-progress")
    assert refreshed.returncode == 0, refreshed.stderr
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET started_at = '1970-01-01T00:00:00+00:00', finished_at = "
                     "'1970-01-01T00:10:00+00:00', finish_reason = 'unreachable', outcome = 'unreachable', "
                     "exit_status = 6 WHERE id = 2")
    conn.close()
    wrong = ("; refresh #2 is dated 1970-01-01T00:10:00+00:00, before crawl #1 that it followed: a clock was wrong "
             "when it ran")
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "26")
    assert check.returncode == 6, check.stdout
    assert check.stderr.startswith(f"{db}: refresh #2 unreachable at 1970-01-01T00:10:00+00:00: ")
    assert check.stderr.endswith(f"{wrong}\n"), check.stderr
    with sqlite3.connect(db) as conn:  # done: as fresh as the crawl it followed, not 57 years old
        conn.execute("UPDATE crawl_runs SET finish_reason = 'finished', outcome = 'done', exit_status = 0 WHERE id = 2")
    conn.close()
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "26")
    assert check.returncode == 0 and check.stdout.startswith("ok: refresh #2 done "), check.stderr
    assert check.stdout.endswith(f"{wrong}\n")


def test_runs_shows_the_date_a_run_ended_on_another_day_than_it_started(crawled, tmp_path):
    """The ended column showed the time of day alone: a crawl from 23:50 to 00:10 the next day read as
    ended before it started."""
    db = shutil.copy(crawled, tmp_path / "midnight.db")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET started_at = '2026-11-30T23:50:00+00:00', "
                     "finished_at = '2026-12-01T00:10:00+00:00'")
    conn.close()
    listed = run_glossary("runs", "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split()[:4] == ["1", "crawl", "2026-11-30T23:50:00+00:00",
                                                         "2026-12-01T00:10:00+00:00"]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET finished_at = '2026-11-30T23:55:00+00:00'")
    conn.close()
    assert run_glossary("runs", "--db", str(db)).stdout.splitlines()[1].split()[:4] == [
        "1", "crawl", "2026-11-30T23:50:00+00:00", "23:55:00"]


@pytest.mark.parametrize(("args", "said"), [
    (("refresh", "--max-pages", "5"), "No such option '--max-pages'"),
    (("crawl", "--delay"), "Option '--delay' requires an argument"),
])
def test_a_run_click_refuses_is_recorded_for_runs_check(crawled, tmp_path, args, said):
    """A scheduler's line with an option its command does not take (refresh --max-pages), or an option without
    its value, was refused in one line, exit 2, and recorded nowhere: 'runs --check' went on saying the last
    refresh was fine until --max-age ran out."""
    db = tmp_path / "typo.db"
    shutil.copy(crawled, db)
    result = run_glossary(args[0], "--db", str(db), *args[1:])
    assert result.returncode == 2 and said in result.stderr and result.stderr.count("\n") == 1, result.stderr
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 2, check.stdout + check.stderr
    assert f"{args[0]} #2 bad_input at " in check.stderr and said in check.stderr, check.stderr
    (run,) = rows(db, "SELECT command, finish_reason, args FROM crawl_runs WHERE id = 2")
    assert (run["command"], run["finish_reason"]) == (args[0], "bad_argument")
    assert json.loads(run["args"]) == {"command_line": ["--db", str(db), *args[1:]]}
    missing = tmp_path / "none.db"
    assert run_glossary(args[0], "--db", str(missing), *args[1:]).returncode == 2
    assert not missing.exists()  # no archive is made only to record a refusal


def test_runs_check_names_the_archive_that_needs_a_look_and_the_command_that_looks(crawled, tmp_path):
    """Cron mail from a loop over many archives ('for db in …; do glossary runs --db "$db" --check') said
    "refresh #2 held at …: see 'glossary held'", naming neither the archive nor, in the command, its --db; and
    a Scrapyd job's stopped run was to be carried on by '--resume', which a job has not."""
    db = tmp_path / "site one.db"
    shutil.copy(crawled, db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET finish_reason = 'held', outcome = 'held', exit_status = 5")
    conn.close()
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == ExitStatus.HELD and check.stderr.count("\n") == 1, check.stderr
    assert check.stderr.startswith(f"{db}: crawl #1 held at "), check.stderr
    assert check.stderr.rstrip().endswith(f"see 'glossary held --db '{db}''"), check.stderr
    as_json = json.loads(run_glossary("runs", "--db", str(db), "--check", "--json").stdout)
    assert as_json["archive"] == str(db.resolve()) and as_json["exit_status"] == ExitStatus.HELD
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE crawl_runs SET finish_reason = 'closespider_pagecount', outcome = 'stopped_early', "
                     "exit_status = 4, job_id = 'abc123', command = 'refresh'")
    conn.close()
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == ExitStatus.STOPPED_EARLY, check.stderr
    assert check.stderr.rstrip().endswith("a job with resume=1 mode=refresh continues it"), check.stderr
    assert run_glossary("runs", "--db", str(db), "--check").stdout == ""


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


def test_a_running_reparse_is_running_not_failed(crawled, tmp_path):
    """A reparse did not record its process: `runs --check` took the running reparse for a killed one."""
    import signal
    import time

    db = shutil.copy(crawled, tmp_path / "reparsing.db")
    process = launcher.popen([*GLOSSARY, "reparse", "--db", str(db), "--workers", "1", "--no-progress"],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not rows(db, "SELECT id FROM crawl_runs WHERE command = 'reparse'") and time.monotonic() < deadline:
            time.sleep(0.002)
        process.send_signal(signal.SIGSTOP)
        (run,) = rows(db, "SELECT finish_reason, pid FROM crawl_runs WHERE command = 'reparse'")
        assert run == {"finish_reason": None, "pid": process.pid}
        check = run_glossary("runs", "--db", str(db), "--check")
        assert check.returncode == 0 and "reparse #2 running since" in check.stdout + check.stderr, check
    finally:
        process.send_signal(signal.SIGCONT)
        assert process.wait(timeout=60) == 0


def test_a_stopped_reparse_says_how_to_carry_on(crawled, tmp_path):
    """Crawl and refresh print their --resume line when stopped; an interrupted reparse said nothing."""
    import signal
    import time

    db = shutil.copy(crawled, tmp_path / "reparsing.db")
    process = launcher.popen([*GLOSSARY, "reparse", "--db", str(db), "--workers", "1", "--no-progress"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not rows(db, "SELECT id FROM crawl_runs WHERE command = 'reparse'") and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signal.SIGSTOP)
    process.send_signal(signal.SIGTERM)  # taken when it goes on
    process.send_signal(signal.SIGCONT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stdout + stderr
    assert stderr.splitlines()[-1] == (f"Stopped before the end: run 'glossary reparse --db {db}' to carry on; "
                                       "the pages done are not read again")


def test_a_crawl_that_follows_links_resumes_after_a_full_disk_to_every_page(replica, tmp_path):
    """The resumed run's trap guard started from nothing: a family whose pages the stopped run had fetched
    got a new crawl's budget, and the links still to follow in it were cut as a trap of pages that add
    nothing (one to three term pages lost, by where the disk filled)."""
    import resource

    reference = tmp_path / "reference.db"
    assert crawl(reference, "--start-url", f"{replica.url}/").returncode == 0
    for limit in (1_200_000, 1_500_000):
        db = tmp_path / f"full-{limit}.db"

        def small_disk():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        assert crawl(db, "--start-url", f"{replica.url}/", preexec_fn=small_disk).returncode == 2
        result = run_glossary("crawl", "--db", str(db), "--resume", "--no-progress")
        assert result.returncode == 0, result.stderr
        assert rows(db, "SELECT url FROM crawl_errors WHERE stage = 'trap'") == []
        query = "SELECT url, content_hash FROM pages ORDER BY url"
        assert rows(db, query) == rows(reference, query), limit


def test_runs_reads_an_archive_from_before_the_outcome_columns_and_a_writer_adds_them(crawled, tmp_path):
    db = tmp_path / "old.db"
    shutil.copy(crawled, db)
    with sqlite3.connect(db) as conn:
        for column in ("outcome", "exit_status", "job_id", "error", "resumed_at"):
            conn.execute(f"ALTER TABLE crawl_runs DROP COLUMN {column}")
    conn.close()
    listed = run_glossary("runs", "--db", str(db), "--json")
    assert listed.returncode == 0, listed.stderr
    (run,) = json.loads(listed.stdout)
    assert (run["command"], run["outcome"], run["exit_status"], run["job_id"]) == ("crawl", "done", 0, None)
    assert run_glossary("reparse", "--db", str(db), "--no-progress").returncode == 0
    assert [(r["command"], r["outcome"], r["exit_status"]) for r in rows(db, "SELECT * FROM crawl_runs")] == [
        ("crawl", None, None), ("reparse", "done", 0)]
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "0")
    assert check.returncode == 1 and "more than --max-age 0" in check.stderr and check.stdout == ""


def test_runs_counts_a_killed_run_as_the_report_does_and_names_the_run_that_took_its_place(make_replica, tmp_path):
    """runs showed a killed run with no pages where the report counted those it fetched, and went on
    offering --resume for it after a new crawl had taken its place ('nothing to resume')."""
    import time

    server = make_replica(200)
    db = tmp_path / "killed.db"
    process = launcher.popen([*GLOSSARY, "crawl", "--db", str(db), "--start-url", f"{server.url}/", "--delay", "0.05",
                                "--no-progress"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not rows_or_none(db, "SELECT 1 FROM captures WHERE outcome = 'new'"):
        time.sleep(0.05)
    process.kill()
    process.wait()
    (killed,) = json.loads(run_glossary("runs", "--db", str(db), "--json").stdout)
    (reported,) = json.loads(run_glossary("report", "--db", str(db), "--format", "json").stdout)["runs"]
    assert killed["pages_new"] == reported["pages_new"] > 0
    assert killed["error"].endswith("--resume continues it")
    assert crawl(db, "--start-url", f"{server.url}/", "--max-pages", "2").returncode == 4
    killed = json.loads(run_glossary("runs", "--db", str(db), "--json").stdout)[0]
    assert killed["error"].endswith("crawl #2 took its place"), killed["error"]
    assert "crawl #1: stopped before it finished (killed, or the machine went down): crawl #2 took its place" in \
        run_glossary("runs", "--db", str(db)).stdout


def test_runs_check_judges_the_run_that_ended_last_and_shows_no_control_character(make_replica, crawled, tmp_path):
    """A run refused as locked while a crawl ran started after the crawl but ended before it: --check
    judged it (exit 3) once the crawl was done, until another run started. And a job id (Scrapyd's, any
    text) reached the terminal with its escape sequences."""
    import time

    server = make_replica(40)
    db = tmp_path / "check.db"
    shutil.copy(crawled, db)
    running = launcher.popen([*GLOSSARY, "crawl", "--db", str(db), "--start-url", f"{server.url}/", "--delay", "1",
                                "--max-pages", "6", "--no-progress"], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(server.requests()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    locked = run_glossary("crawl", "--db", str(db), "--start-url", f"{server.url}/", "--no-progress")
    assert locked.returncode == 3, locked.stderr
    assert running.wait(timeout=60) == 4
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 4 and "stopped" in check.stderr, check.stderr
    # Refused as Scrapyd would run it: a job id, here with escape sequences and a carriage return in it.
    subprocess.run([GLOSSARY[0], "-m", "scrapy", "crawl", "glossary", "-a", "max_pages=ten", "-s", f"GLOSSARY_DB={db}"],
                   cwd=ROOT, capture_output=True, timeout=120,
                   env={**os.environ, "SCRAPY_JOB": "job\x1b]0;pwned\x07\x1b[31m\r"})
    import pty

    terminal, end = pty.openpty()  # on a pipe, click strips escape sequences itself, not on a terminal
    launcher.run([*GLOSSARY, "runs", "--db", str(db)], cwd=ROOT, stdout=end, timeout=60)
    os.close(end)
    shown = b""
    while chunk := _read_some(terminal):
        shown += chunk
    os.close(terminal)
    assert b"job\\x1b]0;pwned" in shown and b"\x1b" not in shown and b"\r\r" not in shown, shown


def test_runs_check_within_one_second_judges_the_run_a_refused_one_waited_on():
    """A run refused as locked ends while the run holding the lock goes on: when both end within the same
    second (the times' grain), --check judged the refused one, by its larger id (a flaky exit 3)."""
    from glossary_spider.runs import check

    stopped = {"id": 2, "command": "crawl", "started_at": "2026-11-29T10:42:28+00:00", "resumed_at": None,
               "finished_at": "2026-11-29T10:42:30+00:00", "finish_reason": "max_pages", "outcome": "stopped",
               "exit_status": 4, "error": None, "job_id": None}
    locked = {**stopped, "id": 3, "started_at": "2026-11-29T10:42:30+00:00", "finish_reason": "locked",
              "outcome": "locked", "exit_status": 3, "error": "locked by another writer"}
    assert check([stopped, locked]).status == 4


def test_runs_check_max_age_holds_for_a_held_run_someone_decided():
    """A held run discarded (or accepted) passed --check whatever its age: a scheduler that died after the
    decision left the hourly check green for good."""
    from glossary_spider.runs import check

    held = {"id": 5, "command": "refresh", "started_at": "2026-11-27T06:00:00+00:00", "resumed_at": None,
            "finished_at": "2026-11-27T06:02:01+00:00", "finish_reason": "held", "outcome": "held",
            "exit_status": 5, "error": None, "job_id": None, "decision": "discarded"}
    now = datetime(2026, 11, 30, 6, 0, tzinfo=timezone.utc)
    assert check([held], now=now).status == 0
    verdict = check([held], max_age_hours=26, now=now)
    assert verdict.status == 1
    assert verdict.message.startswith("refresh #5 held at 2026-11-27T06:02:01+00:00, then discarded, 72.0 hours ago, "
                                      "more than --max-age 26: no run has finished since"), verdict.message


def test_runs_check_judges_a_run_killed_after_another_found_it_holding_the_lock():
    """A refresh refused for the lock of a refresh killed since was the last run to end: --check blamed the
    lock (exit 3, naming a pid long dead), where the killed run wants its --resume."""
    from glossary_spider.runs import check

    killed = {"id": 5, "command": "refresh", "started_at": "2026-11-30T06:00:00+00:00", "resumed_at": None,
              "finished_at": None, "finish_reason": None, "outcome": "failed", "exit_status": 1, "job_id": None,
              "error": "stopped before it finished (killed, or the machine went down): --resume continues it"}
    locked = {**killed, "id": 6, "started_at": "2026-11-30T06:01:00+00:00", "finished_at": "2026-11-30T06:01:00+00:00",
              "finish_reason": "locked", "outcome": "locked", "exit_status": 3,
              "error": "the archive is locked by another writer (pid 26968)"}
    verdict = check([killed, locked], now=datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc))
    assert verdict.status == 1 and verdict.message.startswith("refresh #5 failed at 2026-11-30T06:00:00+00:00: stopped "
                                                              "before it finished"), verdict.message
    assert "--resume continues it; refresh #6 found the archive locked at 2026-11-30T06:01:00+00:00" in verdict.message
    holder_alive = {**killed, "pid": 26968}  # not killed: still running, as 'glossary runs' finds it
    assert check([{**holder_alive, "outcome": "running", "exit_status": None}, locked],
                 now=datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc)).status == 3


def test_runs_check_says_when_a_refusal_noted_beside_the_archive_found_it_locked():
    """A refusal for the lock noted beside the archive (no run row: it holds no lock to write one) has no end of
    its own, only its start: the line said the killed run's refresh 'found the archive locked at None'."""
    from glossary_spider.runs import check

    killed = {"id": 5, "command": "refresh", "started_at": "2026-11-30T06:00:00+00:00", "resumed_at": None,
              "finished_at": None, "finish_reason": None, "outcome": "failed", "exit_status": 1, "job_id": None,
              "error": "stopped before it finished (killed, or the machine went down): --resume continues it"}
    noted = {**killed, "id": None, "started_at": "2026-11-30T06:01:00+00:00", "finish_reason": "locked",
             "outcome": "locked", "exit_status": 3, "error": "the archive is locked by another writer (pid 26968)"}
    verdict = check([killed, noted], now=datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc))
    assert verdict.status == 1, verdict.message
    assert "found the archive locked at 2026-11-30T06:01:00+00:00" in verdict.message, verdict.message


def test_a_scrapyd_job_that_ended_unreachable_is_carried_on_by_a_job():
    """A job has no --resume: the line of a job that ended unreachable said '--resume tries them again', where a
    job killed or stopped says which job carries it on."""
    from glossary_spider.runs import not_done

    job = {"id": 1, "command": "crawl", "job_id": "job123", "finish_reason": "unreachable", "outcome": "unreachable",
           "error": None, "started_at": "2026-11-30T06:00:00+00:00", "finished_at": "2026-11-30T06:01:00+00:00"}
    assert not_done(job).endswith("every one once it stopped answering; a job with resume=1 continues it, asking "
                                  "again what failed")
    assert not_done({**job, "job_id": None}).endswith("; --resume continues it, asking again what failed")


def test_runs_check_orders_a_run_and_a_refusal_of_the_same_second_by_what_refused_it():
    """Times are to the second. A refresh refused for its lock file a moment after a crawl ended, in that second,
    was taken for the earlier of the two: --check judged the crawl, and said ok. A refusal for the lock is the
    earlier (it was refused while the run holding the lock went on); one the archive recorded is ordered by its
    id among the runs; one noted beside the archive (which could not be written: no run was going) is the later."""
    from glossary_spider.runs import check

    at = "2026-11-30T06:00:00+00:00"
    done = {"id": 2, "command": "crawl", "started_at": "2026-11-30T05:00:00+00:00", "resumed_at": None,
            "finished_at": at, "finish_reason": "finished", "outcome": "done", "exit_status": 0, "job_id": None,
            "error": None, "pages_new": 10}
    now = datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc)
    for reason, recorded, status, judged in (("archive_unwritable", None, 2, "refresh"),
                                             ("locked", None, 0, "crawl #2"), ("locked", 3, 0, "crawl #2"),
                                             ("bad_argument", 1, 0, "crawl #2"), ("bad_argument", 3, 2, "refresh #3")):
        refused = {**done, "id": recorded, "command": "refresh", "started_at": at, "finish_reason": reason,
                   "outcome": "refused", "exit_status": status, "error": "refused", "noted": recorded is None}
        for runs in ([done, refused], [refused, done]):
            verdict = check(runs, now=now)
            assert verdict.status == status and judged in verdict.message, (reason, recorded, verdict.message)


def test_runs_check_is_not_made_green_by_a_reparse_after_a_failed_refresh():
    """A refresh found the site down (exit 6); the reparse the upgrade asks for ran after it, and --check said
    "ok: reparse done", its --max-age satisfied, though nothing had been fetched since."""
    from glossary_spider.runs import check

    crawl_run = {"id": 1, "command": "crawl", "started_at": "2026-11-29T08:00:00+00:00", "resumed_at": None,
                 "finished_at": "2026-11-29T08:10:00+00:00", "finish_reason": "finished", "outcome": "done",
                 "exit_status": 0, "error": None, "job_id": None}
    down = {**crawl_run, "id": 2, "command": "refresh", "started_at": "2026-11-29T09:00:00+00:00",
            "finished_at": "2026-11-29T09:01:00+00:00", "finish_reason": "unreachable", "outcome": "unreachable",
            "exit_status": 6}
    reparse = {**crawl_run, "id": 3, "command": "reparse", "started_at": "2026-11-29T09:05:00+00:00",
               "finished_at": "2026-11-29T09:06:00+00:00"}
    now = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
    verdict = check([crawl_run, down, reparse], now=now)
    assert verdict.status == 6 and verdict.message.startswith("refresh #2 unreachable at 2026-11-29T09:01:00+00:00")
    assert "reparse #3 done since" in verdict.message
    assert check([crawl_run, reparse], max_age_hours=2, now=now).status == 1  # the crawl is 3.8 hours old
    failed_reparse = {**reparse, "finish_reason": "archive_error", "outcome": "bad_input", "exit_status": 2}
    assert check([crawl_run, failed_reparse], now=now).status == 2  # a reparse that failed says so


def _read_some(fd):
    try:
        return os.read(fd, 65536)
    except OSError:  # the terminal's other end closed: all read
        return b""


def rows_or_none(db, sql):
    try:
        return rows(db, sql)
    except sqlite3.Error:  # not created yet, or locked for a moment
        return None


def _open_files(soft, hard):
    import resource

    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_crawl_needs_enough_open_files_and_raises_its_own_limit_to_get_them(make_replica, tmp_path):
    """Out of file descriptors midway, a crawl failed with a traceback, or hung at its exit holding the
    archive's lock. It checks before it starts: the soft limit raised to the hard one if need be, or one
    line saying what to raise."""
    server = make_replica(40)
    db = tmp_path / "files.db"
    refused = run_glossary("crawl", "--db", str(db), "--start-url", f"{server.url}/", "--concurrency", "64",
                           preexec_fn=_open_files(40, 40))
    assert_one_line_error(refused, "may open only 40 files at once (ulimit -n)")
    assert refused.returncode == 2 and not db.exists()
    raised = crawl(db, "--start-url", f"{server.url}/", "--concurrency", "64", "--max-pages", "20",
                   preexec_fn=_open_files(40, 4096))
    assert raised.returncode == 4, raised.stderr
    assert rows(db, "SELECT count(*) AS n FROM pages")[0]["n"] == 20


def test_a_reparse_needs_enough_open_files_and_raises_its_own_limit_to_get_them(crawled, tmp_path):
    """Out of file descriptors as its workers started, a reparse failed with a traceback (a worker's pipe), or
    blamed the archive ("unable to open database file"), with no run recorded."""
    db = shutil.copy(crawled, tmp_path / "files.db")
    refused = run_glossary("reparse", "--db", str(db), "--workers", "8", "--no-progress",
                           preexec_fn=_open_files(24, 24))
    assert_one_line_error(refused, "may open only 24 files at once (ulimit -n), and a reparse with 8 workers needs",
                          "raise the limit, or lower --workers")
    raised = run_glossary("reparse", "--db", str(db), "--workers", "8", "--no-progress",
                          preexec_fn=_open_files(24, 4096))
    assert raised.returncode == 0, raised.stderr


def test_runs_check_without_runs_or_archive(tmp_path):
    result = run_glossary("runs", "--db", str(tmp_path / "none.db"), "--check")
    assert_one_line_error(result, "no archive")
    # With --json, a monitor that reads standard output gets the verdict too (it got an empty document).
    result = run_glossary("runs", "--db", str(tmp_path / "none.db"), "--check", "--json")
    assert result.returncode == 2 and json.loads(result.stdout) == {
        "exit_status": 2, "message": f"no archive at {tmp_path / 'none.db'}: run 'glossary crawl' first", "run": None,
        "archive": str(tmp_path / "none.db")}


def test_a_hostile_refused_runs_file_is_neither_a_traceback_nor_a_terminal_escape(crawled, tmp_path):
    """Anyone who can write beside the archive can write its .refused-runs: a directory or a FIFO there
    ended every `runs` in a traceback, and escape sequences in a noted run reached the terminal as they
    were (recolouring it, retitling it, clearing it)."""
    db = shutil.copy(crawled, tmp_path / "hostile.db")
    noted = tmp_path / "hostile.db.refused-runs"
    noted.mkdir()
    for args in (("runs",), ("runs", "--check"), ("runs", "--json")):
        result = run_glossary(*args, "--db", str(db))
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    noted.rmdir()
    os.mkfifo(noted)
    result = run_glossary("runs", "--db", str(db), timeout=20)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    noted.unlink()
    started = just_now()
    noted.write_text(json.dumps({"command": "crawl\x1b[31m", "started_at": started,
                                 "finish_reason": "locked", "error": "E\x1b[2J\x1b]0;x\x07", "job_id": "j\x1b[1m"}))
    result = run_glossary("runs", "--db", str(db), "--check")
    assert result.returncode == 3 and "\x1b" not in result.stderr + result.stdout and "\x07" not in result.stderr
    assert result.stderr.startswith(f"{db}: crawl (job j\\x1b[1m) locked at {started}: "
                                    "E\\x1b[2J\\x1b]0;x\\x07")


def just_now():
    """A minute from now, as runs record times: later than the archive's own runs, even one that ended this
    second, and within the clock slack that runs --check allows before taking a time for a wrong clock's."""
    from datetime import datetime, timedelta, timezone

    return (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat(timespec="seconds")


def test_runs_refused_beside_a_locked_archive_are_read_warily_and_recorded_by_the_next_writer(crawled, tmp_path):
    db = tmp_path / "noted.db"
    shutil.copy(crawled, db)
    refused = {"command": "refresh", "started_at": just_now(), "finish_reason": "locked",
               "error": "locked by another writer", "job_id": "j1", "pid": 1, "args": {"mode": "refresh"}}
    noted = db.with_name(db.name + ".refused-runs")
    noted.write_text("\n".join([
        "not json", "[1, 2]", json.dumps({**refused, "finish_reason": "finished"}),  # not a refusal: skipped
        json.dumps({**refused, "pid": "1; DROP TABLE pages"}), json.dumps(refused)]) + "\n")
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 3 and check.stderr.strip() == (
        f"{db}: refresh (job j1) locked at {refused['started_at']}: locked by another writer")
    listed = json.loads(run_glossary("runs", "--db", str(db), "--json").stdout)
    assert [(r["command"], r["outcome"], r.get("noted")) for r in listed][-2:] == [
        ("refresh", "locked", True), ("refresh", "locked", True)]
    assert run_glossary("reparse", "--db", str(db), "--no-progress").returncode == 0
    assert noted.read_text() == ""
    recorded = rows(db, "SELECT command, outcome, exit_status, job_id, pid FROM crawl_runs WHERE job_id = 'j1'")
    assert recorded == [{"command": "refresh", "outcome": "locked", "exit_status": 3, "job_id": "j1", "pid": None},
                        {"command": "refresh", "outcome": "locked", "exit_status": 3, "job_id": "j1", "pid": 1}]


def test_a_log_of_another_database_beside_the_archive_is_named_not_the_archive(crawled, tmp_path):
    """SQLite reads any write-ahead log beside the file as its own: one copied with another database made the
    archive read as that database, and every command said it was "not a glossary archive" and to give another
    --db, where moving the log aside gives the archive back whole."""
    import sqlite3

    db = shutil.copy(crawled, tmp_path / "a.db")
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("PRAGMA journal_mode = WAL")
    other.execute("PRAGMA wal_autocheckpoint = 0")
    other.execute("CREATE TABLE t (x)")
    other.executemany("INSERT INTO t VALUES (?)", [(os.urandom(3000),) for _ in range(50)])
    other.commit()
    shutil.copy(tmp_path / "other.db-wal", tmp_path / "a.db-wal")
    other.close()
    advice = f"if {tmp_path / 'a.db-wal'} is not its own, copied with another database or left by one, move it aside"
    for command in (("search", "funding"), ("reparse", "--no-progress")):
        assert_one_line_error(run_glossary(*command, "--db", str(db)), advice)
    (tmp_path / "a.db-wal").rename(tmp_path / "aside")
    (tmp_path / "a.db-shm").unlink(missing_ok=True)
    assert run_glossary("runs", "--check", "--db", str(db)).returncode == 0


def test_a_reader_locked_out_by_another_program_says_so_within_its_wait(crawled, tmp_path):
    """A sqlite3 session in SQLite's exclusive locking mode holds the archive for itself: a reader said a bare
    "database is locked", naming no program and no fix, and only after five seconds more than its wait (a
    connection at its exit, tidying the log, waited sqlite3's default)."""
    import sqlite3

    db = shutil.copy(crawled, tmp_path / "held.db")
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE crawl_runs SET requests = requests")
    other.execute("COMMIT")  # the lock is kept, in exclusive mode
    try:
        for command in (("search", "rate"), ("runs", "--check")):
            started = time.monotonic()
            result = run_glossary(*command, "--db", str(db), env={"GLOSSARY_BUSY_TIMEOUT": "1"})
            assert time.monotonic() - started < 4, command
            assert_one_line_error(result, "database is locked: another program holds it locked (a sqlite3 or "
                                          "sqlite-utils session, a script); close that program, then run this again")
    finally:
        other.close()


def test_runs_refused_past_a_megabyte_of_notes_are_read_from_the_newest(crawled, tmp_path):
    """A minutely job locked out for days notes over a megabyte of refusals beside the archive: its first megabyte
    was read, so runs --check said "ok" over the newest refusal, and the next writer recorded the oldest and
    emptied the note: the newest were lost."""
    db = shutil.copy(crawled, tmp_path / "busy.db")
    line = {"command": "refresh", "finish_reason": "locked", "error": "locked by another writer", "job_id": None,
            "args": {"mode": "refresh"}}
    old = [json.dumps({**line, "started_at": "2026-01-01T00:00:00+00:00", "pid": n}) for n in range(6000)]
    (tmp_path / "busy.db.refused-runs").write_text("\n".join([*old, json.dumps({**line, "started_at": just_now(),
                                                                                "pid": 7})]) + "\n")
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 3 and "refresh locked at" in check.stderr, check.stdout + check.stderr
    assert run_glossary("reparse", "--db", str(db), "--no-progress").returncode == 0
    (newest,) = rows(db, "SELECT max(id) AS id FROM crawl_runs WHERE outcome = 'locked'")
    assert rows(db, "SELECT pid FROM crawl_runs WHERE id = ?", (newest["id"],)) == [{"pid": 7}]


def test_a_noted_run_dated_without_an_offset_is_skipped_and_one_recorded_is_no_traceback(crawled, tmp_path):
    """A line of the note beside the archive dated without an offset (or with a date alone) passed for a refused
    run: runs --check ended in a traceback (naive and aware times subtracted), and the next writer copied the run
    into crawl_runs, where it brought the traceback back at every later --check."""
    db = shutil.copy(crawled, tmp_path / "naive.db")
    noted = tmp_path / "naive.db.refused-runs"
    naive = just_now()[:19]
    noted.write_text("".join(json.dumps({"command": "refresh", "started_at": when, "finish_reason": "locked",
                                         "error": "locked by another writer"}) + "\n"
                             for when in (naive, naive[:10])))
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 0 and check.stdout.startswith("ok: crawl #1 done"), check.stderr
    assert [r.get("noted") for r in json.loads(run_glossary("runs", "--db", str(db), "--json").stdout)] == [None]
    assert run_glossary("reparse", "--db", str(db), "--no-progress").returncode == 0
    assert noted.read_text() == "" and rows(db, "SELECT count(*) AS n FROM crawl_runs")[0]["n"] == 2
    # An archive an earlier release copied such a run into: it is read as UTC, as runs record their times.
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO crawl_runs (command, started_at, finished_at, finish_reason, outcome, exit_status, "
                     "error) VALUES ('refresh', ?, ?, 'locked', 'locked', 3, 'locked by another writer')",
                     [naive, naive])
    conn.close()
    check = run_glossary("runs", "--db", str(db), "--check", "--max-age", "26")
    assert check.returncode == 3 and check.stderr == f"{db}: refresh #3 locked at {naive}: locked by another writer\n"


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


def _forged_log(db, work):
    """A write-ahead log of ``db`` that retitles every page, as anyone who can read the archive can make."""
    shutil.copy(db, work)
    with sqlite3.connect(work) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("UPDATE pages SET title = 'FORGED'")
        conn.commit()
        log = work.with_name(work.name + "-wal").read_bytes()
    conn.close()
    assert log
    return log


def test_a_log_file_another_user_planted_beside_the_archive_is_refused(crawled, tmp_path):
    """In a directory others can write (/tmp), another user wrote a write-ahead log of the archive beside it,
    while none was there (after a sqlite3 session, a copy): show and export read its pages as the archive's,
    and folded the log into the file for good, where a refresh kept them."""
    if os.geteuid() != 0:
        pytest.skip("making a file another user's takes root")
    db = tmp_path / "shared" / "g.db"
    db.parent.mkdir()
    shutil.copy(crawled, db)
    titles = rows(db, "SELECT DISTINCT title FROM pages ORDER BY title")
    url = rows(db, "SELECT url FROM pages LIMIT 1")[0]["url"]
    wal = db.with_name("g.db-wal")
    wal.write_bytes(_forged_log(db, tmp_path / "work.db"))
    os.chown(wal, 65534, 65534)  # nobody's
    for command in (("show", "--db", str(db), "--format", "json", url),
                    ("export", "--db", str(db), "--format", "jsonl"),
                    ("refresh", "--db", str(db), "--no-progress")):
        assert_one_line_error(run_glossary(*command), "g.db-wal was written by uid 65534, who may not write the archive",
                              "remove it")
    wal.unlink()
    assert rows(db, "SELECT DISTINCT title FROM pages ORDER BY title") == titles


def test_an_archive_shared_by_a_group_takes_the_logs_its_members_write(crawled, tmp_path):
    """An archive its group may write: a member's search left the -shm behind (32 KiB, theirs), a member's
    refresh its -wal, and the owner was refused by every command ("written by another user")."""
    if os.geteuid() != 0:
        pytest.skip("making a file another user's takes root")
    db = tmp_path / "g.db"
    shutil.copy(crawled, db)
    wal = db.with_name("g.db-wal")
    wal.write_bytes(_forged_log(db, tmp_path / "work.db"))  # a member's last writes, retitling every page
    shm = db.with_name("g.db-shm")
    shm.write_bytes(b"\0" * 32768)
    for path in (db, wal, shm):
        os.chown(path, 65534 if path != db else 0, 65534)
    db.chmod(0o664)
    result = run_glossary("search", "FORGED", "--db", str(db), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)  # the member's writes are the archive's


def test_a_symlink_where_the_archive_keeps_its_log_is_refused(crawled, tmp_path):
    db = tmp_path / "g.db"
    shutil.copy(crawled, db)
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    db.with_name("g.db-shm").symlink_to(target)
    assert_one_line_error(run_glossary("search", "risk", "--db", str(db)), "g.db-shm is not a plain file", "remove it")
    assert_one_line_error(run_glossary("reparse", "--db", str(db)), "g.db-shm is not a plain file")


def test_a_refused_runs_note_another_user_planted_is_ignored(crawled, tmp_path):
    """Another user wrote the note of refused runs beside the archive: runs --check failed on a run of
    theirs (exit 3, "forged"), and the next writer recorded it in crawl_runs for good."""
    if os.geteuid() != 0:
        pytest.skip("making a file another user's takes root")
    db = tmp_path / "g.db"
    shutil.copy(crawled, db)
    noted = db.with_name("g.db.refused-runs")
    noted.write_text(json.dumps({"command": "crawl", "started_at": just_now(), "finish_reason": "locked",
                                 "error": "forged", "pid": 1, "args": {}}) + "\n")
    os.chown(noted, 65534, 65534)
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 0 and "forged" not in check.stdout + check.stderr, check.stderr
    assert run_glossary("reparse", "--db", str(db), "--no-progress").returncode == 0
    assert rows(db, "SELECT count(*) AS n FROM crawl_runs WHERE error = 'forged'") == [{"n": 0}]
    assert "forged" in noted.read_text()  # left as it was: not ours to empty
