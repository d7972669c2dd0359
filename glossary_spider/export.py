"""Exports that stream: JSON lines and CSV (one record per page), WARC (one record per capture).

Each writer holds one page (or one body) in memory at a time, so an archive of
any size exports in constant memory.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from http import HTTPStatus
from io import BytesIO
from typing import IO, Any

import sqlite_utils

from glossary_spider.query import check_type, iter_pages
from glossary_spider.storage import BodyCodec, page_record

CSV_COLUMNS = [
    "url", "page_type", "slug", "title", "summary", "body_text", "word_count", "published", "modified", "author",
    "categories", "language", "canonical_url", "http_status", "status", "content_hash", "first_seen",
    "last_fetched", "last_changed", "version", "extractor_version",
]
# Scrapy hands over bodies already decompressed and de-chunked: these headers no longer describe them.
_DROPPED_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
# Headers a capture keeps in columns of their own (see storage.writer.other_headers).
_COLUMN_HEADERS = (("Content-Type", "content_type"), ("ETag", "etag"), ("Last-Modified", "last_modified"))


def page_records(conn: sqlite3.Connection, page_type: str | None = None) -> Iterator[dict[str, Any]]:
    """One object per page: its columns, with its sections, links and JSON-LD nested."""
    for row in iter_pages(conn, page_type):
        row.pop("run_id", None)
        yield page_record(conn, row)


def write_jsonl(conn: sqlite3.Connection, out: IO[str], page_type: str | None = None) -> int:
    n = 0
    for n, record in enumerate(page_records(conn, page_type), 1):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return n


def write_csv(conn: sqlite3.Connection, out: IO[str], page_type: str | None = None, raw: bool = False) -> int:
    """One row per page; each text cell a spreadsheet would run shown instead (:func:`spreadsheet_cell`),
    unless ``raw``."""
    writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    n = 0
    for n, row in enumerate(iter_pages(conn, page_type), 1):
        writer.writerow(row if raw else {name: spreadsheet_cell(value) for name, value in row.items()})
    return n


# What makes a spreadsheet take a cell for a formula, as OWASP lists it ("CSV Injection"), and the
# full-width forms some locales read the same way.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_cell(value: Any) -> Any:
    """``value`` as a CSV cell a spreadsheet shows rather than runs: text that starts as a formula does
    (``=HYPERLINK(...)`` in a page's title, from the site) gets a leading apostrophe, which spreadsheets
    hide. Numbers, and all other text, are left as they are."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def write_warc(conn: sqlite3.Connection, out: IO[bytes], page_type: str | None = None, gzip: bool = True) -> int:
    """One WARC response record per capture that kept a body, with its original status code and headers; each
    record gzipped (a ``.warc.gz``), or none (a ``.warc``)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    check_type(page_type)
    writer = WARCWriter(out, gzip=gzip)
    codec = BodyCodec(sqlite_utils.Database(conn))
    sql = """
        SELECT c.url, c.fetched_at, c.http_status, c.headers, c.content_type, c.etag, c.last_modified,
               b.compression, b.data
        FROM captures c JOIN bodies b ON b.sha256 = c.body_sha256
        LEFT JOIN pages p ON p.url = c.url
        WHERE (? IS NULL OR p.page_type = ?)
        ORDER BY c.id
    """
    n = 0
    for row in conn.execute(sql, [page_type, page_type]):
        body = codec.decompress(row["compression"], row["data"])
        headers = [
            (name.strip(), value.strip())
            for name, _, value in (line.partition(":") for line in (row["headers"] or "").split("\r\n") if line)
            if name.strip().lower() not in _DROPPED_HEADERS
        ]
        headers += [(name, row[column]) for name, column in _COLUMN_HEADERS if row[column] is not None
                    and name.lower() not in {h[0].lower() for h in headers}]
        headers = [(name, _ascii(value)) for name, value in headers]
        headers.append(("Content-Length", str(len(body))))
        status = row["http_status"] or 200
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:  # a status no RFC names (599, 999)
            phrase = ""
        http_headers = StatusAndHeaders(f"{status} {phrase}".strip(), headers, protocol="HTTP/1.1")
        record = writer.create_warc_record(
            row["url"], "response", payload=BytesIO(body), http_headers=http_headers,
            warc_headers_dict={"WARC-Date": _warc_date(row["fetched_at"])},
        )
        writer.write_record(record)
        n += 1
    return n


def _ascii(value: str) -> str:
    """A header's value with each of its bytes past ASCII percent-encoded (``caf%E9``). The archive holds a value
    read as Latin-1, byte for byte; warcio, given one past ASCII, would encode the UTF-8 of that reading (``caf%C3%A9``
    for the byte ``E9``) and rewrite a parameter as RFC 8187's (``rel*=UTF-8''...``)."""
    if value.isascii():
        return value
    raw = value.encode("latin-1") if max(value) <= "\xff" else value.encode("utf-8", "surrogatepass")
    return "".join(chr(byte) if byte < 0x80 else f"%{byte:02X}" for byte in raw)


def _warc_date(iso: str) -> str:
    return iso.replace("+00:00", "Z") if iso else iso
