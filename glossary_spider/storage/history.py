"""How a page's history is kept: what changed, not a second copy.

A page's current version is the page itself (``pages`` and its sections, links and structured data);
its row in ``versions`` holds only when and by which run it was made. When a new version arrives, the
version it replaces keeps what differs from the new one, as RCS keeps a file's older revisions:

- its title and summary where they differ from the next version's (``same`` says which do not);
- its body text as one edit of the next version's (``text_head`` characters kept from the start,
  ``text_tail`` from the end, ``text_middle`` between them), which plain SQL can undo: the
  ``page_versions`` view rebuilds every version's text that way;
- its record (sections, links, structured data, in :func:`record_bytes`'s form) as a zstd frame
  compressed against the next version's record, so an edit of one paragraph costs tens of bytes.

Reading version *n* of a page walks back from the current version, one change at a time.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import zstandard

DELTA_LEVEL = 12


def text_delta(old: str | None, new: str | None) -> tuple[int, int, str | None]:
    """``old`` as an edit of ``new``: (characters kept from the start, from the end, what lies between).
    A head of -1 says ``old`` was None."""
    if old is None:
        return -1, 0, None
    new = new or ""
    limit = min(len(old), len(new))
    head = 0
    while head < limit and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < limit - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return head, tail, old[head:len(old) - tail] or None


def apply_text(new: str | None, head: int, tail: int, middle: str | None) -> str | None:
    """The older text that :func:`text_delta` described against ``new``."""
    if head < 0:
        return None
    new = new or ""
    return new[:head] + (middle or "") + new[len(new) - tail:]


def record_bytes(sections: list[tuple], links: list[tuple], structured: list[tuple]) -> bytes:
    """A version's record in the one form its deltas are computed on: rows as the tables give them,
    sections by position, links in document order, structured data by syntax and position."""
    return json.dumps({"sections": [list(s) for s in sections], "links": [list(link) for link in links],
                       "structured_data": [list(d) for d in structured]},
                      ensure_ascii=False, separators=(",", ":")).encode()


def extracted_record_bytes(record: dict[str, Any]) -> bytes:
    """An extracted record's sections, links and structured data in :func:`record_bytes`'s form, as the
    tables would give them back."""
    return record_bytes(*extracted_rows(record))


def extracted_rows(record: dict[str, Any]) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """An extracted record's sections, links and structured data as the tables would give them back."""
    return (
        [(s["position"], s["heading"], s["text"]) for s in record["sections"]],
        [(link["kind"], link["position"], link["to_url"], link["anchor_text"], link["summary"], link.get("facet"))
         for link in record["links"]],
        sorted((d["syntax"], d["position"], json.dumps(d["type"]) if isinstance(d["type"], list) else d["type"],
                json.dumps(d["data"], ensure_ascii=False)) for d in record["structured_data"]),
    )


def current_record_bytes(conn: Any, url: str) -> bytes:
    """The record of a page's current version, read from its rows (``conn``: any connection)."""
    return record_bytes(
        conn.execute("SELECT position, heading, text FROM sections WHERE url = ? ORDER BY position", [url]).fetchall(),
        conn.execute("SELECT l.kind, l.position, t.url, a.text, s.text, l.facet FROM link_rows l "
                     "JOIN urls f ON f.id = l.from_id LEFT JOIN urls t ON t.id = l.to_id "
                     "LEFT JOIN link_texts a ON a.id = l.anchor_id LEFT JOIN link_texts s ON s.id = l.summary_id "
                     "WHERE f.url = ? ORDER BY l.seq", [url]).fetchall(),
        conn.execute("SELECT syntax, position, type, data FROM structured_data WHERE url = ? ORDER BY syntax, position",
                     [url]).fetchall(),
    )


def parse_record(data: bytes) -> dict[str, Any]:
    """A record in :func:`record_bytes`'s form, as the extraction gives it."""
    raw = json.loads(data)
    return {
        "sections": [dict(zip(("position", "heading", "text"), s)) for s in raw["sections"]],
        "links": [dict(zip(("kind", "position", "to_url", "anchor_text", "summary", "facet"), link))
                  for link in raw["links"]],
        "structured_data": [{"syntax": s, "position": p, "type": t, "data": json.loads(d) if d else None}
                            for s, p, t, d in raw["structured_data"]],
    }


def _dictionary(newer: bytes) -> zstandard.ZstdCompressionDict | None:
    return zstandard.ZstdCompressionDict(newer, dict_type=zstandard.DICT_TYPE_RAWCONTENT) if newer else None


def record_delta(older: bytes, newer: bytes) -> bytes:
    """``older`` compressed against ``newer``: what changed between them, and little else."""
    dictionary = _dictionary(newer)
    compressor = zstandard.ZstdCompressor(level=DELTA_LEVEL, write_checksum=True,
                                          **({"dict_data": dictionary} if dictionary else {}))
    return compressor.compress(older)


def undo_record_delta(delta: bytes, newer: bytes) -> bytes:
    dictionary = _dictionary(newer)
    return zstandard.ZstdDecompressor(**({"dict_data": dictionary} if dictionary else {})).decompress(delta)


SAME_TITLE, SAME_SUMMARY = 1, 2


def supersede(db: Any, url_id: int, version: int, old: dict[str, Any], new: dict[str, Any],
              old_record: bytes | None, new_record: bytes | None) -> None:
    """Keep version ``version`` of a page as what differs from the version that replaces it.

    ``old``, ``new``: the two versions' title, summary and body_text; ``old_record``/``new_record``: their
    records in :func:`record_bytes`'s form (no delta is kept where one of them is unknown)."""
    head, tail, middle = text_delta(old["body_text"], new["body_text"])
    same = (SAME_TITLE if old["title"] == new["title"] else 0) | (SAME_SUMMARY if old["summary"] == new["summary"] else 0)
    delta = record_delta(old_record, new_record) if old_record is not None and new_record is not None else None
    db.execute(
        "UPDATE versions SET title = ?, summary = ?, same = ?, text_head = ?, text_tail = ?, text_middle = ?, "
        "record_delta = ? WHERE url_id = ? AND version = ?",
        [None if same & SAME_TITLE else old["title"], None if same & SAME_SUMMARY else old["summary"], same,
         head, tail, middle, delta, url_id, version],
    )


def keep_against(db: Any, url_id: int, version: int, was: bytes, older: bytes | None, now: bytes) -> None:
    """Keep version ``version``'s record (``older``) as what differs from its page's rows as they are
    ``now``, where they changed with no new version (the same words, new metadata or JSON-LD dates: they
    were ``was``). Its delta was made against ``was``, and against ``now`` it would no longer undo."""
    if now != was:
        db.execute("UPDATE versions SET record_delta = ? WHERE url_id = ? AND version = ?",
                   [record_delta(older, now) if older is not None else None, url_id, version])


def older_record(delta: bytes, newer: bytes) -> bytes | None:
    """The record a version's ``delta`` keeps against ``newer`` (:func:`undo_record_delta`), or None where
    the delta no longer fits (its checksum fails): the newer version's rows were changed outside
    glossary_spider since."""
    try:
        return undo_record_delta(delta, newer)
    except zstandard.ZstdError:
        return None


def page_history(conn: sqlite3.Connection, url: str) -> list[dict[str, Any]]:
    """Every version of a page, oldest first: ``version``, ``content_hash``, ``run_id``, ``captured_at``,
    ``extractor_version``, ``title``, ``summary``, ``body_text`` and ``record`` (None where an archive
    migrated from an older schema could not rebuild it, or where the page's rows were changed outside
    glossary_spider)."""
    page = conn.execute("SELECT version, title, summary, body_text FROM pages WHERE url = ?", [url]).fetchone()
    if page is None:
        return []
    rows = conn.execute(
        "SELECT v.version, v.content_hash, v.run_id, v.captured_at, v.extractor_version, v.title, v.summary, "
        "v.same, v.text_head, v.text_tail, v.text_middle, v.record_delta "
        "FROM versions v JOIN urls u ON u.id = v.url_id WHERE u.url = ? ORDER BY v.version DESC", [url]).fetchall()
    current, title, summary, text = page
    record: bytes | None = current_record_bytes(conn, url)
    found = []
    for version, content_hash, run_id, captured_at, extractor, v_title, v_summary, same, head, tail, middle, delta \
            in rows:
        if version != current:
            title = title if (same or 0) & SAME_TITLE else v_title
            summary = summary if (same or 0) & SAME_SUMMARY else v_summary
            text = apply_text(text, head, tail, middle) if head is not None else None
            record = older_record(delta, record) if delta is not None and record is not None else None
        found.append({
            "version": version, "content_hash": content_hash, "run_id": run_id, "captured_at": captured_at,
            "extractor_version": extractor, "title": title, "summary": summary, "body_text": text,
            "record": parse_record(record) if record is not None else None,
        })
    return found[::-1]
