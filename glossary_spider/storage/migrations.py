"""Bringing an archive of an earlier schema up to date, in place.

Each step runs inside the caller's transaction (:func:`~glossary_spider.storage.schema.ensure_schema`):
a migration killed at any moment leaves the archive as it was, and the next open runs it again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from glossary_spider import churn
from glossary_spider.storage import history, staging
from glossary_spider.storage.writer import intern, other_headers, page_rows, spans

OLD_INDEXES = ("idx_links_to_url", "idx_captures_url_fetched_at")


def from_schema_1(db: sqlite_utils.Database, ours: Iterable[str]) -> list[tuple[str, str]]:
    """Schema 1 kept ``links``, ``sections`` and ``page_versions`` as tables, every version a whole copy;
    move them into the compact tables behind the views of the same names; captures keep only the
    headers that have no column of their own.

    Every view is dropped first, as the tables under them go. The archive's own (``ours``) are made again
    over the new tables by the caller; returns the others (name and SQL), views someone added, for the
    caller to make again once the archive's own views are there."""
    ours = set(ours)
    theirs = []
    for view, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'").fetchall():
        if view not in ours:
            theirs.append((view, sql))
        db.execute(f"DROP VIEW [{view}]")
    db.execute("INSERT OR IGNORE INTO urls (url) SELECT url FROM pages")
    db.execute("INSERT OR IGNORE INTO urls (url) SELECT from_url FROM links UNION SELECT to_url FROM links "
               "WHERE to_url IS NOT NULL")
    db.execute("INSERT OR IGNORE INTO urls (url) SELECT url FROM page_versions")
    db.execute("INSERT OR IGNORE INTO link_texts (text) SELECT anchor_text FROM links WHERE anchor_text IS NOT NULL "
               "UNION SELECT summary FROM links WHERE summary IS NOT NULL")
    # Document order across kinds is in each page's latest version record; by kind where it is not.
    db.execute("""
        INSERT INTO link_rows (from_id, seq, kind, position, to_id, anchor_id, summary_id, facet)
        SELECT f.id, coalesce(
                   (SELECT CAST(j.key AS INTEGER) FROM page_versions v, json_each(v.record, '$.links') j
                    WHERE v.url = l.from_url AND v.version = (SELECT max(version) FROM page_versions WHERE url = l.from_url)
                      AND json_valid(v.record) AND json_extract(j.value, '$.kind') = l.kind
                      AND json_extract(j.value, '$.position') = l.position),
                   100000 + row_number() OVER (PARTITION BY l.from_url ORDER BY l.kind, l.position)),
               l.kind, l.position, t.id, a.id, s.id, l.facet
        FROM links l JOIN urls f ON f.url = l.from_url LEFT JOIN urls t ON t.url = l.to_url
        LEFT JOIN link_texts a ON a.text = l.anchor_text LEFT JOIN link_texts s ON s.text = l.summary""")
    _sections(db)
    _versions(db)
    db.conn.create_function("other_headers", 1, other_headers, deterministic=True)
    db.execute("UPDATE captures SET headers = other_headers(headers) WHERE headers IS NOT NULL")
    for name in OLD_INDEXES:
        db.execute(f"DROP INDEX IF EXISTS [{name}]")
    for table in ("links", "sections", "page_versions"):
        db.execute(f"DROP TABLE [{table}]")
    return theirs


def _sections(db: sqlite_utils.Database) -> None:
    ids = dict(db.execute("SELECT url, id FROM urls").fetchall())
    for (url,) in db.execute("SELECT url FROM pages").fetchall():  # one page's rows in memory at a time
        (body_text,) = db.execute("SELECT body_text FROM pages WHERE url = ?", [url]).fetchone()
        sections = [dict(zip(("position", "heading", "text"), r)) for r in db.execute(
            "SELECT position, heading, text FROM sections WHERE url = ? ORDER BY position", [url])]
        rows = [{"url_id": ids[url], **{k: v for k, v in span.items() if k != "url"}}
                for span in spans(url, body_text, sections)]
        if rows:
            db.table("section_spans").insert_all(rows)


def _versions(db: sqlite_utils.Database) -> None:
    """Each page's versions: the latest a reference to the page, each earlier one what changed."""
    ids = intern(db, "urls", "url", (u for (u,) in db.execute("SELECT DISTINCT url FROM page_versions")))
    columns = "url, version, content_hash, run_id, captured_at, extractor_version, title, summary, body_text, record"
    for url, id_ in ids.items():  # one page's versions in memory at a time
        newer = None
        for row in db.execute(f"SELECT {columns} FROM page_versions WHERE url = ? ORDER BY version DESC",
                              [url]).fetchall():
            version = dict(zip(columns.split(", "), row))
            db.table("versions").insert({key: version[key] for key in (
                "version", "content_hash", "run_id", "captured_at", "extractor_version")} | {"url_id": id_},
                replace=True)
            if newer is None:  # the page's own state: what its versions are kept against
                page = db.execute("SELECT version, title, summary, body_text FROM pages WHERE url = ?",
                                  [url]).fetchone()
                newer = {**dict(zip(("title", "summary", "body_text"), page[1:] if page else (None,) * 3)),
                         "record": history.current_record_bytes(db, url)}
                if page is not None and page[0] == version["version"]:  # its latest version: the page holds it
                    continue
                # A page past its latest version (the version's row gone): that version too is kept as what
                # differs from the page, or its text would be read as the page's.
            record = _record_bytes(version["record"])
            history.supersede(db, id_, version["version"], version, newer, record, newer["record"])
            newer = {**version, "record": record}


def _record_bytes(stored: str | None) -> bytes | None:
    """A schema-1 version record (JSON of the extraction's sections, links and structured data)
    in the form history deltas are computed on; None where it cannot be read."""
    try:
        return history.extracted_record_bytes(json.loads(stored or ""))
    except (ValueError, KeyError, TypeError):
        return None


def from_schema_2(db: sqlite_utils.Database) -> int:
    """Extractor versions up to 5 hashed a page's JSON-LD whole; since 6 the hash passes over the properties
    a site rewrites on its own (:mod:`glossary_spider.churn`). Hash the pages whose JSON-LD holds one again
    (their current version too), and the pages runs have staged and not yet archived, or the next
    refresh would take every such page for changed. A page is hashed again only where its rows, read
    back, give the hash it has: rows someone changed by hand keep theirs. Returns how many pages."""
    matches = " OR ".join(f"data LIKE '%{name}%'" for name in churn.CHURNING)
    urls = [u for (u,) in db.execute(
        f"SELECT DISTINCT url FROM structured_data WHERE syntax = 'json-ld' AND ({matches})").fetchall()]
    staged = [r for (r,) in db.execute("SELECT rowid FROM staged").fetchall()]
    if not urls and not staged:
        return 0
    from glossary_spider.extraction.page import content_hash

    def hashes(record: dict[str, Any]) -> tuple[str, str]:
        return content_hash(record, churning=True), content_hash(record)

    done = 0
    for url in urls:  # one page's rows in memory at a time
        page = db.execute("SELECT title, summary, body_text, content_hash, version FROM pages WHERE url = ?",
                          [url]).fetchone()
        if page is None:
            continue
        record = {**dict(zip(("title", "summary", "body_text"), page[:3])),
                  **history.parse_record(history.current_record_bytes(db, url))}
        old, new = hashes(record)
        if old == page[3] != new:
            db.execute("UPDATE pages SET content_hash = ? WHERE url = ?", [new, url])
            db.execute("UPDATE versions SET content_hash = ? WHERE url_id = (SELECT id FROM urls WHERE url = ?) "
                       "AND version = ? AND content_hash = ?", [new, url, page[4], old])
            done += 1
    for rowid in staged:
        rows, stored = db.execute("SELECT rows, record FROM staged WHERE rowid = ?", [rowid]).fetchone()
        if rows is None and stored is None:
            continue
        rows = staging.staged_rows(rows) if rows is not None else page_rows(staging.staged_record(stored))
        old, new = hashes(_staged_essence(rows))
        if old == rows["page"]["content_hash"] != new:
            rows["page"]["content_hash"] = new
            db.execute("UPDATE staged SET content_hash = ?, rows = ?, record = NULL WHERE rowid = ?",
                       [new, staging.kept_rows(rows), rowid])
            done += 1
    return done


def _staged_essence(rows: dict[str, Any]) -> dict[str, Any]:
    """What a page's content hash reads, from the rows staging kept of it (:func:`page_rows`)."""
    page = rows["page"]
    body = page["body_text"] or ""
    return {
        "title": page["title"], "summary": page["summary"], "body_text": page["body_text"],
        "sections": [{"heading": s["heading"], "text": s["text"] if s["start"] is None
                      else body[s["start"]:s["start"] + s["length"]]} for s in rows["sections"]],
        "links": rows["links"],
        "structured_data": [{"syntax": d["syntax"], "data": json.loads(d["data"]) if d["data"] else None}
                            for d in rows["structured_data"]],
    }
