"""Bringing an archive of an earlier schema up to date, in place.

Each step runs inside the caller's transaction (:func:`~glossary_spider.storage.schema.ensure_schema`):
a migration killed at any moment leaves the archive as it was, and the next open runs it again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import sqlite_utils

from glossary_spider.storage import history
from glossary_spider.storage.writer import intern, other_headers, spans

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
