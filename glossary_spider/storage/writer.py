"""Every write of pages and their rows: gathered in a :class:`Batch`, written by :meth:`Writer.write`
in one statement per table, through sqlite-utils.

The caller owns the transaction: a batch is written whole or not at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from glossary_spider import churn, fastjson
from glossary_spider.storage import history
from glossary_spider.storage.bodies import BodyCodec
from glossary_spider.storage.records import Fetch, now
from glossary_spider.storage.schema import PAGE_COLUMNS, indexed_together


class Batch:
    """Rows for a batch of pages, gathered so each table gets one insert."""

    def __init__(self, ids: dict[str, dict[str, int]] | None = None) -> None:
        """``ids``: the ids of URLs and link texts that earlier batches of the same transaction read
        (:func:`intern`), shared by a transaction that writes many batches (the close archiving a run)."""
        self.ids = ids if ids is not None else {"urls": {}, "link_texts": {}}
        self.pages: list[dict[str, Any]] = []
        self.touched: list[tuple[Any, ...]] = []
        self.digests: list[tuple[str, str]] = []  # (record digest, url) of held pages stored without one
        self.sections: list[dict[str, Any]] = []
        self.links: list[dict[str, Any]] = []
        self.structured_data: list[dict[str, Any]] = []
        self.replaced: list[str] = []  # pages whose sections, links and structured data are rewritten
        self.added: list[str] = []  # pages the archive did not have
        self.versions: list[dict[str, Any]] = []
        self.superseded: dict[str, int] = {}  # page -> its version that a new one replaces
        self.captures: list[dict[str, Any]] = []
        self.bodies: dict[str, dict[str, Any]] = {}
        self.errors: list[dict[str, Any]] = []
        self.outcomes: list[tuple[str, int, str]] = []  # captures' outcomes, once their pages are archived

    def __len__(self) -> int:
        return len(self.pages) + len(self.touched)

    def body(self, codec: BodyCodec, body: bytes, url: str) -> str:
        """Keep ``url``'s fetched ``body`` (once, however many captures have it); returns its sha256."""
        sha = hashlib.sha256(body).hexdigest()
        if sha not in self.bodies and not codec.db.execute("SELECT 1 FROM bodies WHERE sha256 = ?", [sha]).fetchone():
            compression, data = codec.compress(body, codec.base_for(url))
            self.bodies[sha] = {"sha256": sha, "compression": compression, "size": len(body), "data": data}
        return sha

    def record(self, run_id: int, record: dict[str, Any], fetch: Fetch | None, *, version: int,
               previous: dict[str, Any] | None, new_version: bool, digest: str | None = None,
               read_at: str | None = None) -> None:
        """``digest``: the record's :func:`record_digest`, where it is known already; ``read_at``: with no
        ``fetch``, when the body the record was read from was fetched (a reparse's)."""
        self.add_rows(run_id, page_rows(record), fetch, version=version, previous=previous, new_version=new_version,
                      digest=digest or record_digest(record), read_at=read_at)

    def add_rows(self, run_id: int, rows: dict[str, Any], fetch: Fetch | None, *, version: int,
                 previous: dict[str, Any] | None, new_version: bool, digest: str, read_at: str | None = None) -> None:
        """A page's :func:`page_rows`, with what its history decides: version, dates, status. A version's time
        is when what it says was fetched: ``fetch``'s, or ``read_at``, or (neither known) now."""
        page = dict(rows["page"])
        url = page["url"]
        stamp = fetch.fetched_at if fetch else read_at or now()
        page.update({
            "record_digest": digest,
            "status": "live",
            "version": version,
            "first_seen": previous["first_seen"] if previous else stamp,
            "last_changed": stamp if new_version or not previous else previous["last_changed"],
            "run_id": run_id,
        })
        if fetch is not None:
            page.update({"http_status": fetch.http_status, "last_fetched": fetch.fetched_at})
        elif previous is not None:
            page["status"] = previous["status"]
        self.pages.append(page)
        self.replaced.append(url)
        if previous is None:
            self.added.append(url)
        self.sections += rows["sections"]
        self.links += rows["links"]
        self.structured_data += rows["structured_data"]
        if new_version:
            if previous is not None and previous.get("version"):
                self.superseded[url] = previous["version"]
            self.versions.append({
                "url": url, "version": version, "content_hash": page["content_hash"], "run_id": run_id,
                "captured_at": stamp, "extractor_version": page["extractor_version"],
            })

    def capture(self, run_id: int, fetch: Fetch, body_sha: str | None, outcome: str) -> None:
        self.captures.append({
            "run_id": run_id, "url": fetch.url, "fetched_at": fetch.fetched_at, "http_status": fetch.http_status,
            "content_type": fetch.content_type, "etag": fetch.etag, "last_modified": fetch.last_modified,
            "body_sha256": body_sha, "outcome": outcome, "headers": other_headers(fetch.headers),
        })

    def error(self, run_id: int, url: str, stage: str, http_status: int | None, error: str,
              detail: str | None) -> None:
        self.errors.append({"run_id": run_id, "url": url, "stage": stage, "http_status": http_status,
                            "error": error, "detail": detail, "at": now()})


def page_rows(record: dict[str, Any]) -> dict[str, Any]:
    """The rows an extracted record gives its page, as :meth:`Writer.write` stores them: its ``pages``
    columns (less those its history decides), sections, links and structured data. Plain values
    (strings, integers, None) in lists and dicts: a crawl's extraction workers make them, and staging
    keeps them as JSON (:func:`glossary_spider.storage.staging.prepare`)."""
    url = record["url"]
    return {
        "page": page_values(record),
        "sections": list(spans(url, record["body_text"], record["sections"])),
        "links": [{"from_url": url, "seq": seq, **link} for seq, link in enumerate(record["links"])],
        "structured_data": [
            {"url": url, **item, "data": json.dumps(item["data"], ensure_ascii=False),
             "type": json.dumps(item["type"], ensure_ascii=False) if isinstance(item["type"], list) else item["type"]}
            for item in record["structured_data"]
        ],
    }


def page_values(record: dict[str, Any]) -> dict[str, Any]:
    """The ``pages`` columns an extracted record gives, as stored."""
    page = {key: record[key] for key in PAGE_COLUMNS if key in record}
    categories = record["categories"]
    page["categories"] = json.dumps(categories, ensure_ascii=False) if categories is not None else None
    return page


# Page columns the digest does not read among the others: the URL, which it takes first, and the texts
# the record's content hash covers (glossary_spider.extraction.page.content_hash), which it takes the hash for.
_HASHED_COLUMNS = {"url", "title", "summary", "body_text"}


def record_digest(record: dict[str, Any]) -> str:
    """sha256 of all that an extracted record puts in the archive: its ``pages`` columns, sections, links
    and structured data. Kept with the page, so that a re-extraction that would write the same rows is
    known by its digest alone (a function of the record: extraction workers compute it too). The
    record's content hash stands for the texts and JSON-LD it covers; the rest is read here."""
    rest = [
        record["url"], record["content_hash"],
        [[name, value] for name, value in page_values(record).items() if name not in _HASHED_COLUMNS],
        [s["position"] for s in record["sections"]],
        [[link["position"], link.get("facet")] for link in record["links"]],
        [[d["syntax"], d["position"], d["type"], _churning(d["data"]) if d["syntax"] == "json-ld" else d["data"]]
         for d in record["structured_data"]],
    ]
    return hashlib.sha256(json.dumps(rest, ensure_ascii=False).encode()).hexdigest()


def _churning(json_ld: Any) -> list[list[str]]:
    """The properties of a JSON-LD value that the content hash passes over (:mod:`glossary_spider.churn`),
    each value written apart as JSON: no deeper than the value the hash wrote."""
    return [[name, fastjson.canonical(value).decode()] for name, value in churn.split(json_ld)[1]]


# Headers a capture keeps in columns of their own (Content-Type, ETag, Last-Modified), or that no
# longer describe the body Scrapy hands over, decompressed and de-chunked.
KEPT_APART = {"content-type", "etag", "last-modified", "content-length", "content-encoding", "transfer-encoding"}


def other_headers(block: str | None) -> str | None:
    """A response's header block without the headers :data:`KEPT_APART`."""
    if block is None:
        return None
    lines = [line for line in block.split("\r\n") if line.partition(":")[0].strip().lower() not in KEPT_APART]
    return "\r\n".join(lines)


def spans(url: str, body_text: str | None, sections: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """Each section as the place its text has in the page's body text; its text itself where the
    body text does not hold it (a capped page)."""
    body, at = body_text or "", 0
    for section in sections:
        text = section["text"] or ""
        start = body.find(text, at)
        if start < 0:
            start = body.find(text)
        if start < 0 or section["text"] is None:
            yield {"url": url, "position": section["position"], "heading": section["heading"], "start": None,
                   "length": None, "text": section["text"]}
            continue
        at = start + len(text)
        yield {"url": url, "position": section["position"], "heading": section["heading"], "start": start,
               "length": len(text), "text": None}


KNOWN_MAX = 20_000  # ids kept by intern() for one table: a few MB


def intern(db: sqlite_utils.Database, table: str, column: str, values: Iterable[str | None],
           known: dict[str, int] | None = None) -> dict[str, int]:
    """The ids of ``values`` in ``table`` (``urls`` or ``link_texts``), adding those it lacks.

    ``known``: ids read earlier in the same transaction (an id never changes within one), looked up
    first and given those read now. Pages link to the same URLs with the same texts: the close that
    archives a run's pages would otherwise read most of them again for every batch. It keeps at
    most :data:`KNOWN_MAX` of them, so that memory stays the same however many pages a run archives."""
    wanted = {v for v in values if v is not None}
    known = {} if known is None else known
    found = {v: i for v in wanted if (i := known.get(v)) is not None}
    if wanted := wanted - found.keys():
        select = f"SELECT [{column}], id FROM [{table}] WHERE [{column}] IN (SELECT value FROM json_each(?))"
        read = dict(db.execute(select, [json.dumps(sorted(wanted))]).fetchall())
        if missing := sorted(wanted - read.keys()):
            db.conn.executemany(f"INSERT INTO [{table}] ([{column}]) VALUES (?)", ((v,) for v in missing))
            read.update(db.execute(select, [json.dumps(missing)]).fetchall())
        if len(known) + len(read) > KNOWN_MAX:
            known.clear()
        known.update(read)
        found.update(read)
    return found


def insert(db: sqlite_utils.Database, table: str, rows: Iterable[dict[str, Any]], *, conflict: str = "",
           upsert: tuple[str, ...] = ()) -> None:
    """Insert dict rows of plain values into ``table`` with one prepared statement per set of columns:
    ``conflict`` as SQLite's ``OR REPLACE`` / ``OR IGNORE``, or ``upsert`` naming the key whose rows
    are updated in place (the columns a row gives, and no others). sqlite-utils' own ``insert_all``
    builds its SQL and converts every value anew for each chunk, which took a third of a crawl's
    write time."""
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(tuple(row.values()))
    for columns, values in groups.items():
        names = ", ".join(f"[{c}]" for c in columns)
        sql = f"INSERT {conflict} INTO [{table}] ({names}) VALUES ({', '.join('?' * len(columns))})"
        if upsert:
            updates = ", ".join(f"[{c}] = excluded.[{c}]" for c in columns if c not in upsert)
            sql += f" ON CONFLICT ({', '.join(upsert)}) DO UPDATE SET {updates}"
        db.conn.executemany(sql, values)


class Writer:
    """The archive's writes (mixed into :class:`~glossary_spider.storage.archive.Archive`)."""

    db: sqlite_utils.Database
    codec: BodyCodec

    def write(self, batch: Batch) -> None:
        """Write a batch: one statement per table, whatever its size."""
        db = self.db
        if batch.bodies:
            insert(db, "bodies", batch.bodies.values(), conflict="OR IGNORE")
            if any(body["compression"] == "zlib" for body in batch.bodies.values()):
                self.codec.maybe_train(db)
        # The versions new ones replace, read before their pages are overwritten; and, of the pages rewritten
        # with no new version, the version before, kept as what differs from the rows about to change.
        replaced_versions = {url: self._current_version(url) for url in batch.superseded}
        added = set(batch.added)
        kept_against = {url: self._version_before(url) for url in batch.replaced
                        if url not in batch.superseded and url not in added}
        if batch.pages:
            with indexed_together(db, batch.added):
                insert(db, "pages", batch.pages, upsert=("url",))
        if batch.touched:
            db.conn.executemany("UPDATE pages SET http_status = ?, last_fetched = ?, run_id = ? WHERE url = ?",
                                batch.touched)
        if batch.digests:
            db.conn.executemany("UPDATE pages SET record_digest = ? WHERE url = ?", batch.digests)
        if batch.replaced:
            self._write_rows(batch)
        for url, (old, old_record) in replaced_versions.items():
            new, new_record = self._current_version(url)
            url_id = intern(db, "urls", "url", [url], batch.ids["urls"])[url]
            history.supersede(db, url_id, batch.superseded[url], old, new, old_record, new_record)
        for url, before in kept_against.items():
            if before is not None:
                history.keep_against(db, *before, history.current_record_bytes(db, url))
        if batch.versions:
            ids = intern(db, "urls", "url", (v["url"] for v in batch.versions), batch.ids["urls"])
            insert(db, "versions", ({"url_id": ids[v.pop("url")], **v} for v in batch.versions),
                   conflict="OR REPLACE")
        if batch.captures:
            insert(db, "captures", batch.captures)
        if batch.outcomes:
            # "+run_id": find the page's few captures by URL, not every capture of the run by its run.
            db.conn.executemany("UPDATE captures SET outcome = ? WHERE +run_id = ? AND url = ? AND body_sha256 IS NOT "
                                "NULL AND outcome IN ('new', 'changed', 'unchanged', 'held')", batch.outcomes)
        if errors := self._new_errors(batch.errors):
            insert(db, "crawl_errors", errors)

    def _new_errors(self, errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Of ``errors``, those the run has not recorded already: a resumed run meets again what its earlier
        parts met (an unreadable sitemap, read anew for its URLs; a fetch that failed again), and one row
        says it (the first, with its time)."""
        new, seen = [], set()
        for error in errors:
            key = (error["run_id"], error["url"], error["stage"], error["error"])
            if key in seen or self.db.execute(
                    "SELECT 1 FROM crawl_errors WHERE url = ? AND +run_id = ? AND stage = ? AND error = ?",
                    [key[1], key[0], key[2], key[3]]).fetchone():
                continue
            seen.add(key)
            new.append(error)
        return new

    def _version_before(self, url: str) -> tuple[int, int, bytes, bytes | None] | None:
        """Of a page about to be rewritten with no new version: the version before its current one, as
        :func:`~glossary_spider.storage.history.keep_against` takes it; None where there is none, or its
        record is kept against no record."""
        row = self.db.execute("SELECT v.url_id, v.version, v.record_delta FROM pages p JOIN urls u ON u.url = p.url "
                              "JOIN versions v ON v.url_id = u.id AND v.version = p.version - 1 WHERE p.url = ?",
                              [url]).fetchone()
        if row is None or row[2] is None:
            return None
        current = history.current_record_bytes(self.db, url)
        return row[0], row[1], current, history.older_record(row[2], current)

    def _current_version(self, url: str) -> tuple[dict[str, Any], bytes]:
        title, summary, text = self.db.execute(
            "SELECT title, summary, body_text FROM pages WHERE url = ?", [url]).fetchone()
        return {"title": title, "summary": summary, "body_text": text}, history.current_record_bytes(self.db, url)

    def _write_rows(self, batch: Batch) -> None:
        """Replace the sections, links and structured data of the batch's pages."""
        db = self.db
        urls = intern(db, "urls", "url", [*batch.replaced, *(link["to_url"] for link in batch.links)],
                      batch.ids["urls"])
        named = [text for link in batch.links for text in (link["anchor_text"], link["summary"])]
        texts = intern(db, "link_texts", "text", named, batch.ids["link_texts"])
        replaced = [(urls[url],) for url in batch.replaced]
        db.conn.executemany("DELETE FROM section_spans WHERE url_id = ?", replaced)
        db.conn.executemany("DELETE FROM link_rows WHERE from_id = ?", replaced)
        # Structured data is updated in place, row by row: its rows are large, and most of a changed
        # page's stay as they were.
        keys: dict[str, list[str]] = {url: [] for url in batch.replaced}
        for item in batch.structured_data:
            keys[item["url"]].append(f"{item['syntax']}:{item['position']}")
        db.conn.executemany("DELETE FROM structured_data WHERE url = ? AND syntax || ':' || position NOT IN "
                            "(SELECT value FROM json_each(?))", ((url, json.dumps(k)) for url, k in keys.items()))
        if batch.sections:
            insert(db, "section_spans", ({"url_id": urls[s.pop("url")], **s} for s in batch.sections))
        if batch.links:  # tuples made here: a dict a row for insert() took 0.09 s of a 1.5 s close
            db.conn.executemany(
                "INSERT INTO link_rows (from_id, seq, kind, position, to_id, anchor_id, summary_id, facet) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(urls[link["from_url"]], link["seq"], link["kind"], link["position"], urls.get(link["to_url"]),
                  texts.get(link["anchor_text"]), texts.get(link["summary"]), link.get("facet"))
                 for link in batch.links])
        if batch.structured_data:
            insert(db, "structured_data", batch.structured_data, upsert=("url", "syntax", "position"))

    def holds(self, record: dict[str, Any]) -> bool:
        """Whether the archive already holds ``record`` for its page, column for column and row for row
        (a page re-extracted to the same: nothing to rewrite)."""
        page = page_values(record)
        names = [name for name in page if name != "url"]
        row = self.db.execute(f"SELECT {', '.join(names)} FROM pages WHERE url = ?", [record["url"]]).fetchone()
        return (row is not None and list(row) == [page[name] for name in names]
                and history.current_record_bytes(self.db, record["url"]) == history.extracted_record_bytes(record))
