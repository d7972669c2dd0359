"""The quality gate against the hostile replica (``glossary replica --faults``): its fault pages and link
traps are what a gate that judges a run's pages badly mistakes for a broken site."""

from __future__ import annotations

import json

from conftest import crawl, rows, run_glossary

from glossary_spider.outcome import ExitStatus

RUN = ("--delay", "0", "--concurrency", "8", "--no-progress")


def refresh(db, *args):
    return run_glossary("refresh", "--db", str(db), *RUN, *args)


def crawled(make_replica, tmp_path):
    """A hostile replica of 40 pages, and an archive of its first crawl."""
    server = make_replica(40, 1, "--faults")
    db = tmp_path / "faults.db"
    first = crawl(db, "--start-url", f"{server.url}/", "--sitemap", f"{server.url}/sitemap_index.xml",
                  "--timeout", "2")
    assert first.returncode == 0, first.stdout + first.stderr
    return server, db


def test_a_refresh_of_an_unchanged_site_whose_few_changing_pages_are_short_passes(make_replica, tmp_path):
    """A refresh fetches in full only what changed, or what no lastmod or 304 spares: on the hostile replica,
    a few short fault pages. Set against every archived definition, they read as extraction broken
    ('pages with related links 44% → 0%'), and every night's refresh of a site that had not changed was
    held. Each is now set against its own archived version."""
    _, db = crawled(make_replica, tmp_path)
    for _ in range(2):
        result = refresh(db, "--timeout", "2", "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        checks = {c["name"]: c for c in json.loads(result.stdout)["gate"]["checks"]}
        assert "as healthy as their" in checks["health:definition"]["summary"], checks["health:definition"]


def test_a_held_run_counts_its_blank_pages_failed_whatever_becomes_of_it(make_replica, tmp_path):
    """The gate says a page that came back blank is 'kept as it was, counted failed'; a held run counted it
    nowhere until accepted, and a discarded one never."""
    server, db = crawled(make_replica, tmp_path)
    blank = f"{server.url}/definition/fault-blank-later/"
    held = refresh(db, "--timeout", "2", "--json", "--gate", "words-ratio=100", "--gate", "min-pages=1")
    assert held.returncode == ExitStatus.HELD, held.stdout + held.stderr
    run = json.loads(held.stdout)
    assert run["gate"]["blank"]["examples"] == [blank]

    def counted() -> tuple:
        errors = rows(db, "SELECT error FROM crawl_errors WHERE run_id = ? AND url = ?", (run["id"], blank))
        outcome = rows(db, "SELECT outcome FROM captures WHERE run_id = ? AND url = ?", (run["id"], blank))
        return rows(db, "SELECT pages_failed FROM crawl_runs WHERE id = ?", (run["id"],))[0], errors, outcome

    failed, errors, outcome = counted()
    assert failed["pages_failed"] == run["pages_failed"] and [e["error"][:7] for e in errors] == ["blank: "]
    assert outcome == [{"outcome": "failed"}]
    assert run_glossary("held", "--db", str(db), "--discard", str(run["id"])).returncode == 0
    assert counted() == (failed, errors, outcome)


def test_a_first_crawl_in_slices_is_judged_as_the_same_crawl_whole(make_replica, tmp_path):
    """A run stopped by a budget and resumed is judged whole: its later parts were set against the pages its
    first part had archived, as if those were the archive's, and the hostile replica's link-trap terms after
    its real ones read as extraction broken. The crawl whole passes; in slices it was held."""
    server = make_replica(40, 1, "--faults")
    db = tmp_path / "slices.db"
    result = crawl(db, "--start-url", f"{server.url}/", "--timeout", "2", "--max-pages", "60")
    parts = 1
    while result.returncode == ExitStatus.STOPPED_EARLY and parts < 20:
        result = run_glossary("crawl", "--resume", "--db", str(db), "--no-progress", "--json")
        parts += 1
    assert result.returncode == 0, result.stdout + result.stderr
    assert parts > 2 and rows(db, "SELECT count(*) AS n FROM staged") == [{"n": 0}]
