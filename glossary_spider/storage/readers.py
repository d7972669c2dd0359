"""Reads of the archive shared by the crawl, the commands that query it, exports and the report.

Functions here take any connection with ``execute`` (a read-only ``sqlite3`` one, or the writer's).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from glossary_spider.outcome import NO_ANSWER_SQL, HostFetches
from glossary_spider.urls import GLOSSARY_TYPES, classify, server_of
from glossary_spider.storage.bodies import BodyCodec
from glossary_spider.storage.errors import busy_timeout_ms

# Outcomes of captures whose body is not the page's archived text: a held or discarded run's, a soft
# 404's (the site's "not found" page, at a page going or gone already), and a failed one's (an answer that
# could not be archived: a blank page where the archive has text, what is no page). Their validators and
# bodies stand for nothing archived.
NOT_ARCHIVED = "('held', 'discarded', 'gone', 'still_gone', 'failed')"
# Of a page's captures (in a subquery on ``captures``), those whose body is what the archive holds for
# it: not of an outcome above, nor staged by a run that has not archived its pages (one killed, until it
# is resumed or a new run abandons it). A validator of a body never archived would get a 304 for the very
# content the archive lacks, and a reparse would archive what no quality gate passed.
ARCHIVED_CAPTURE = (f"outcome NOT IN {NOT_ARCHIVED} AND NOT EXISTS "
                    "(SELECT 1 FROM staged s WHERE s.run_id = captures.run_id AND s.url = captures.url)")
LINK_KINDS = ("related", "glossary", "discover_more", "inline", "listing", "pagination")
_KIND_ORDER = "CASE kind " + " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(LINK_KINDS)) + " END"


def page_record(conn: sqlite3.Connection, row: dict[str, Any]) -> dict[str, Any]:
    """A ``pages`` row with its categories parsed and its ``sections``, ``links`` (kinds in the
    contract's order, each in document order), ``json_ld`` and ``microdata`` nested: the one page reader of
    ``show``, the exports and the report (``conn`` returns ``sqlite3.Row``)."""
    url = row["url"]
    row["categories"] = json.loads(row["categories"]) if row["categories"] else None
    row["sections"] = [dict(r) for r in conn.execute(
        "SELECT position, heading, text FROM sections WHERE url = ? ORDER BY position", [url])]
    row["links"] = [dict(r) for r in conn.execute(
        "SELECT kind, position, to_url, anchor_text, summary, facet FROM links WHERE from_url = ? "
        f"ORDER BY {_KIND_ORDER}, position", [url])]
    row["json_ld"] = [json.loads(r["data"]) for r in conn.execute(
        "SELECT data FROM structured_data WHERE url = ? AND syntax = 'json-ld' ORDER BY position", [url])]
    row["microdata"] = [json.loads(r["data"]) for r in conn.execute(
        "SELECT data FROM structured_data WHERE url = ? AND syntax = 'microdata' ORDER BY position", [url])]
    return row


def read_gate_report(conn: sqlite3.Connection, run_id: int) -> dict[str, Any] | None:
    """What the quality gate said about a run, and what became of it; None if it said nothing."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'gate_reports'").fetchone():
        return None  # an archive from before the gate
    row = conn.execute("SELECT held, report, decision, decided_at FROM gate_reports WHERE run_id = ?",
                       [run_id]).fetchone()
    if row is None:
        return None
    return {**json.loads(row[1]), "held": bool(row[0]), "decision": row[2], "decided_at": row[3]}


def fetch_outcomes(db: Any, run_id: int) -> dict[str, HostFetches]:
    """For each server (a host, and its port unless a standard one: :func:`glossary_spider.urls.server_of`) a run
    fetched pages of, how many of its fetches got an answer and how many did not
    (no response at all, a 5xx, 401, 403, 408 or 429: :func:`glossary_spider.outcome.no_answer`), and how
    many of those came after its last answer, counting each URL once by its last capture, in the order
    they were captured (``db``: any connection with ``execute``)."""
    outcomes: dict[str, HostFetches] = {}
    for url, unanswered in db.execute(
            f"SELECT url, {NO_ANSWER_SQL} FROM captures WHERE id IN "
            "(SELECT max(id) FROM captures WHERE run_id = ? GROUP BY url) ORDER BY id", [run_id]):
        before = outcomes.get(host := server_of(url), HostFetches(0, 0, 0))
        outcomes[host] = (HostFetches(before.answered, before.unanswered + 1, before.unanswered_last + 1)
                          if unanswered else HostFetches(before.answered + 1, before.unanswered, 0))
    return outcomes


def run_counts(db: Any, run_id: int) -> dict[str, int]:
    """A run's page counts, from its captures and errors (``db``: any connection with ``execute``),
    so a run that was killed has them too."""
    outcomes = dict(db.execute(
        "SELECT outcome, count(DISTINCT url) FROM captures WHERE run_id = ? GROUP BY outcome", [run_id]
    ).fetchall())
    # Pages whose fetch failed, or whose answer could not be archived (not HTML, binary, unreadable),
    # and that a later part of the run (a --resume) did not fetch after all. Times are to the second: in the
    # second of the failure (a resume started at once after an outage), a capture made after the failed one is
    # a fetch after all; one beside a failure that made no capture of its own (a redirect off the site: the
    # 'moved' capture and its error are one fetch) is not.
    failed = db.execute(
        """SELECT count(*) FROM (
               SELECT url, max(at) AS at, max(failed_id) AS failed_id FROM (
                   SELECT url, at, NULL AS failed_id FROM crawl_errors WHERE run_id = ? AND stage = 'fetch'
                   UNION ALL SELECT url, fetched_at, id FROM captures WHERE run_id = ? AND outcome = 'failed')
               GROUP BY url) AS f
           WHERE NOT EXISTS (SELECT 1 FROM captures c WHERE +c.run_id = ? AND c.url = f.url
                             AND c.outcome NOT IN ('failed', 'discarded')
                             AND (c.fetched_at > f.at OR c.fetched_at = f.at AND c.id > f.failed_id))""",
        [run_id, run_id, run_id]
    ).fetchone()[0]
    # Pages answering again after an earlier run found them gone (a run whose pages were held or discarded
    # changed nothing of theirs): counted back, and not again as changed, unchanged or not modified, so that
    # the counts part the pages fetched.
    back = dict(db.execute(
        """SELECT c.outcome, count(DISTINCT c.url) FROM captures c
           WHERE c.run_id = ? AND c.outcome IN ('changed', 'unchanged', 'not_modified')
             AND (SELECT p.outcome FROM captures p
                  WHERE p.url = c.url AND p.run_id < c.run_id AND p.outcome NOT IN ('failed', 'held', 'discarded')
                  ORDER BY p.id DESC LIMIT 1) IN ('gone', 'still_gone')
           GROUP BY c.outcome""", [run_id]
    ).fetchall())
    return {
        "pages_new": outcomes.get("new", 0),
        "pages_changed": outcomes.get("changed", 0) - back.get("changed", 0),
        "pages_unchanged": outcomes.get("unchanged", 0) - back.get("unchanged", 0),
        "pages_not_modified": outcomes.get("not_modified", 0) - back.get("not_modified", 0),
        "pages_gone": outcomes.get("gone", 0),
        "pages_still_gone": outcomes.get("still_gone", 0),
        "pages_back": sum(back.values()),
        "pages_failed": failed,
    }


class Reads:
    """The reads the writer makes (mixed into :class:`~glossary_spider.storage.archive.Archive`)."""

    db: sqlite_utils.Database
    codec: BodyCodec

    def _page_state(self, url: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT content_hash, version, status, first_seen, last_changed, record_digest FROM pages WHERE url = ?",
            [url]).fetchone()
        if row is None:
            return None
        return dict(zip(("content_hash", "version", "status", "first_seen", "last_changed", "record_digest"), row))

    def body(self, sha256: str) -> bytes | None:
        row = self.db.execute("SELECT compression, data FROM bodies WHERE sha256 = ?", [sha256]).fetchone()
        if row is None:
            return None
        return self.codec.decompress(row[0], row[1])

    def known_pages(self) -> dict[str, dict[str, Any]]:
        """Every archived page with what a conditional re-fetch needs: status, last fetch (a 304's too), the
        fetch of the body archived (``full_fetch``) and its validators; the least lately fetched first, so
        that refreshes a budget stops each take up where the one before left the archive, not the same
        pages every time."""
        sql = f"""
            SELECT p.url, p.status, p.last_fetched, c.fetched_at, c.etag, c.last_modified
            FROM pages p
            LEFT JOIN captures c ON c.id = (
                SELECT max(id) FROM captures WHERE url = p.url AND http_status = 200 AND {ARCHIVED_CAPTURE})
            ORDER BY p.last_fetched, p.url
        """
        keys = ("status", "last_fetched", "full_fetch", "etag", "last_modified")
        return {row[0]: dict(zip(keys, row[1:])) for row in self.db.execute(sql)}

    def unanswered_pages(self) -> list[str]:
        """The glossary pages (by their path: definitions, terms, areas and their resources) never archived whose
        last capture got no answer (:data:`~glossary_spider.outcome.NO_ANSWER_SQL`: no response, a 5xx, a 429):
        a refresh asks for them again. A page that a crawl found by a link alone is otherwise never asked again: a
        refresh learns links only from pages that changed. (An answer that is no page, a redirect loop, has no
        capture.)"""
        sql = f"""
            SELECT url FROM captures c
            WHERE {NO_ANSWER_SQL} AND id = (SELECT max(id) FROM captures WHERE url = c.url)
              AND NOT EXISTS (SELECT 1 FROM pages p WHERE p.url = c.url)
            ORDER BY id
        """
        return [url for (url,) in self.db.execute(sql) if classify(url)[0] in GLOSSARY_TYPES]

    def stored_pages(self) -> Iterator[tuple[dict[str, Any], str | None, bytes]]:
        """Each archived page's state, with its latest stored body and that body's content type."""
        # Each body only when its turn comes: memory holds one page's body, however many pages of 16 MiB
        # the archive has.
        for state, content_type, sha256 in self.stored_states():
            body = self.body(sha256)
            if body is not None:
                yield state, content_type, body

    def stored_states(self, after: str = "", chunk: int = 500) -> Iterator[tuple[dict[str, Any], str | None, str]]:
        """Each archived page's state (with ``fetched_at``, when that body was fetched), with the sha256 and
        content type of its latest stored body (which the
        archive may no longer hold: reading it fails, and says so), in the order of their URLs, from the
        first after ``after``. Read ``chunk`` pages at a
        time, each chunk whole before the caller writes (a query that runs on over rows the caller changes
        may meet them again): the first pages come at once, and memory holds one chunk however many pages
        the archive has."""
        sql = f"""
            SELECT p.url, p.content_hash, p.version, p.status, p.first_seen, p.last_changed, p.record_digest,
                   c.fetched_at, c.content_type, c.body_sha256
            FROM pages p
            JOIN captures c ON c.id = (
                SELECT max(id) FROM captures WHERE url = p.url AND http_status = 200 AND body_sha256 IS NOT NULL
                                                   AND {ARCHIVED_CAPTURE})
            WHERE p.url > ?
            ORDER BY p.url
            LIMIT ?
        """
        keys = ("url", "content_hash", "version", "status", "first_seen", "last_changed", "record_digest", "fetched_at")
        while rows := self.db.execute(sql, [after, chunk]).fetchall():
            for row in rows:
                yield dict(zip(keys, row[:8])), row[8], row[9]
            after = rows[-1][0]


class StoredBodies:
    """An archive's stored bodies, read over a read-only connection of one's own: how a reparse's worker
    processes read them while the command's process writes (the archive's WAL lets both go on at once)."""

    def __init__(self, path: str | Path):
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
        self.db = sqlite_utils.Database(conn)
        self.codec = BodyCodec(self.db)

    body = Reads.body


def held_so_far(conn: Any) -> set[int]:
    """The runs the quality gate holds that nobody has decided on (a run stopped while held is judged again
    when it is resumed; one that ended so waits for ``glossary held``)."""
    try:
        return {run_id for (run_id,) in conn.execute("SELECT run_id FROM gate_reports WHERE held AND decision IS NULL")}
    except sqlite3.OperationalError:  # an archive from before the gate
        return set()


def held_decisions(conn: Any) -> dict[int, str]:
    """What became of each run the quality gate held that someone decided on: its id, ``accepted`` or
    ``discarded``."""
    try:
        return dict(conn.execute("SELECT run_id, decision FROM gate_reports WHERE held AND decision IS NOT NULL"))
    except sqlite3.OperationalError:  # an archive from before the gate
        return {}
