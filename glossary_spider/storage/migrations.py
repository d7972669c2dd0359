"""Bringing an archive of an earlier schema up to date, in place.

Each step runs inside the caller's transaction (:func:`~glossary_spider.storage.schema.ensure_schema`):
a migration killed at any moment leaves the archive as it was, and the next open runs it again.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from glossary_spider.storage import history
from glossary_spider.storage.writer import _spans, intern

OLD_INDEXES = ("idx_links_to_url",)


def from_schema_1(db: sqlite_utils.Database) -> None:
    """Schema 1 kept ``links``, ``sections`` and ``page_versions`` as tables, every version a whole copy;
    move them into the compact tables behind the views of the same names."""
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
    for name in OLD_INDEXES:
        db.execute(f"DROP INDEX IF EXISTS [{name}]")
    for table in ("links", "sections", "page_versions"):
        db.execute(f"DROP TABLE [{table}]")


def _sections(db: sqlite_utils.Database) -> None:
    ids = dict(db.execute("SELECT url, id FROM urls").fetchall())
    rows = []
    for url, body_text in db.execute("SELECT url, body_text FROM pages").fetchall():
        sections = [dict(zip(("position", "heading", "text"), r)) for r in db.execute(
            "SELECT position, heading, text FROM sections WHERE url = ? ORDER BY position", [url])]
        rows += ({"url_id": ids[url], **{k: v for k, v in span.items() if k != "url"}}
                 for span in _spans(url, body_text, sections))
    if rows:
        db.table("section_spans").insert_all(rows)


def _versions(db: sqlite_utils.Database) -> None:
    """Each page's versions: the latest a reference to the page, each earlier one what changed."""
    ids = intern(db, "urls", "url", (u for (u,) in db.execute("SELECT DISTINCT url FROM page_versions")))
    columns = "url, version, content_hash, run_id, captured_at, extractor_version, title, summary, body_text, record"
    current_url, newer = None, None
    for row in db.execute(f"SELECT {columns} FROM page_versions ORDER BY url, version DESC").fetchall():
        version = dict(zip(columns.split(", "), row))
        url = version["url"]
        db.table("versions").insert({key: version[key] for key in (
            "version", "content_hash", "run_id", "captured_at", "extractor_version")} | {"url_id": ids[url]},
            replace=True)
        if url != current_url:  # its latest version: the page itself holds it
            current_url = url
            newer = {"body_text": _page_text(db, url), "record": history.current_record_bytes(db, url)}
            continue
        record = _record_bytes(version["record"])
        if record is not None and newer["record"] is not None:
            history.supersede(db, ids[url], version["version"], version, record, newer["body_text"], newer["record"])
        else:
            head, tail, middle = history.text_delta(version["body_text"], newer["body_text"])
            db.execute("UPDATE versions SET title = ?, summary = ?, text_head = ?, text_tail = ?, text_middle = ? "
                       "WHERE url_id = ? AND version = ?",
                       [version["title"], version["summary"], head, tail, middle, ids[url], version["version"]])
        newer = {"body_text": version["body_text"], "record": record}


def _page_text(db: sqlite_utils.Database, url: str) -> str | None:
    row = db.execute("SELECT body_text FROM pages WHERE url = ?", [url]).fetchone()
    return row[0] if row else None


def _record_bytes(stored: str | None) -> bytes | None:
    """A schema-1 version record (JSON of the extraction's sections, links and structured data)
    in the form history deltas are computed on."""
    try:
        record: dict[str, Any] = json.loads(stored or "")
        return history.record_bytes(
            [(s.get("position", i), s.get("heading"), s.get("text")) for i, s in enumerate(record["sections"])],
            [(link["kind"], link["position"], link.get("to_url"), link.get("anchor_text"), link.get("summary"),
              link.get("facet")) for link in record["links"]],
            sorted((d["syntax"], d["position"], json.dumps(d["type"]) if isinstance(d["type"], list) else d["type"],
                    json.dumps(d["data"], ensure_ascii=False)) for d in record["structured_data"]),
        )
    except (ValueError, KeyError, TypeError):
        return None

