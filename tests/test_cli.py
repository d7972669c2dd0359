import os
import sqlite3

import pytest
from click.testing import CliRunner
from conftest import run_glossary

from glossary_spider.cli import cli


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


def test_a_missing_urls_file(tmp_path):
    result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), "--urls-file", str(tmp_path / "nope.txt"))
    assert_one_line_error(result, "--urls-file", "no such file")


def test_a_bad_line_in_the_urls_file(tmp_path):
    (tmp_path / "urls.txt").write_text("http://127.0.0.1:9/ok/\nnot a url\n")
    result = run_glossary("crawl", "--db", str(tmp_path / "a.db"), "--urls-file", str(tmp_path / "urls.txt"))
    assert_one_line_error(result, "line 2", "not a url")


def test_an_archive_path_that_is_a_directory(tmp_path):
    result = run_glossary("crawl", "--db", str(tmp_path), "--start-url", "http://127.0.0.1:9/")
    assert_one_line_error(result, "directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_archive_path_that_cannot_be_written(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = run_glossary("crawl", "--db", str(locked / "sub" / "a.db"), "--start-url", "http://127.0.0.1:9/")
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


def test_an_archive_from_a_newer_schema(tmp_path):
    db = tmp_path / "new.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 999")
    result = run_glossary("crawl", "--db", str(db), "--start-url", "http://127.0.0.1:9/")
    assert_one_line_error(result, "newer")


def test_the_db_comes_from_the_environment(tmp_path):
    result = run_glossary("crawl", "--start-url", "ftp://x/", env={"GLOSSARY_DB": str(tmp_path / "env.db")})
    assert_one_line_error(result, "start URL")


def test_an_unknown_option_exits_2():
    result = run_glossary("crawl", "--frobnicate")
    assert result.returncode == 2 and "Traceback" not in result.stderr and "--frobnicate" in result.stderr


def test_a_crawl_of_a_server_that_is_not_there_finishes_and_records_it(tmp_path):
    db = tmp_path / "a.db"
    result = run_glossary("crawl", "--db", str(db), "--start-url", "http://127.0.0.1:9/definition/x/",
                          "--delay", "0", "--no-progress", "--ignore-robots")
    assert result.returncode == 0, result.stderr
    assert "failed" in result.stdout
    with sqlite3.connect(db) as conn:
        errors = conn.execute("SELECT stage, url, error FROM crawl_errors").fetchall()
    assert errors == [("fetch", "http://127.0.0.1:9/definition/x/", "DownloadConnectionRefusedError")]


def all_commands():
    return sorted(cli.commands)


@pytest.mark.parametrize("name", all_commands())
def test_every_command_has_help_with_an_example(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert cli.commands[name].help
