"""The archive file and what lies beside it: paths that are no archive, damaged, read-only and foreign
archives, full disks, the write lock and other programs holding SQLite's, the logs and notes beside the file."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import launcher
import pytest
from click.testing import CliRunner
from conftest import (GLOSSARY, ROOT, archive_content, archive_problems, assert_one_line_error, crawl, just_now, rows,
                      run_glossary)

from glossary_spider.cli import cli
from glossary_spider.outcome import ExitStatus
from glossary_spider.storage import Archive


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
