"""The archive's tables, indexes and views, created or brought up to date (:mod:`.migrations` moves an
archive of schema 1).

What analysts read keeps the contract's names and columns: ``pages``, ``captures``, ``bodies`` and the
other plain tables are stored as they read; ``links``, ``sections`` and ``page_versions`` are views over
a compact stored form:

- ``urls`` and ``link_texts`` hold each URL and each link text once; ``link_rows`` refers to them, in
  document order (``seq``);
- ``section_spans`` says where each section's text lies in its page's ``body_text``;
- ``versions`` keeps a page's current version as a reference to its row in ``pages``, and each earlier
  version as what changed from the version after it (see :mod:`glossary_spider.storage.history`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlite_utils

from glossary_spider.storage.errors import ArchiveError, is_index_damaged, not_its_own_log

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 3
# The oldest schema that reads as it is, with no upgrade: schema 3 changed no table or view, only what a page's
# content_hash covers, and the next writer hashes the pages again under its lock. Readers upgrade an archive
# older than this (whose tables are not today's) themselves, under the lock.
READ_AS_IS = 2

TABLES: dict[str, dict[str, Any]] = {
    "pages": {
        "columns": {
            "url": str, "page_type": str, "slug": str, "title": str, "summary": str, "body_text": str,
            "word_count": int, "published": str, "modified": str, "author": str, "categories": str,
            "language": str, "canonical_url": str, "http_status": int, "status": str, "content_hash": str,
            "first_seen": str, "last_fetched": str, "last_changed": str, "version": int,
            "extractor_version": int, "run_id": int, "record_digest": str,
        },
        "pk": "url",
    },
    "structured_data": {
        "columns": {"url": str, "syntax": str, "position": int, "type": str, "data": str},
        "pk": ("url", "syntax", "position"),
    },
    "crawl_runs": {
        "columns": {"id": int, "command": str, "started_at": str, "finished_at": str, "finish_reason": str,
                    "args": str, "pages_new": int, "pages_changed": int, "pages_unchanged": int,
                    "pages_not_modified": int, "pages_gone": int, "pages_still_gone": int, "pages_back": int,
                    "pages_failed": int, "requests": int, "bytes": int, "stats": str, "pid": int,
                    "outcome": str, "exit_status": int, "job_id": str, "error": str, "resumed_at": str,
                    "reparsed_through": str, "earlier_job_ids": str},
        "pk": "id",
    },
    "crawl_errors": {
        "columns": {"id": int, "run_id": int, "url": str, "stage": str, "http_status": int, "error": str,
                    "detail": str, "at": str},
        "pk": "id",
    },
    "captures": {
        "columns": {"id": int, "run_id": int, "url": str, "fetched_at": str, "http_status": int,
                    "content_type": str, "etag": str, "last_modified": str, "body_sha256": str,
                    "outcome": str, "headers": str},
        "pk": "id",
    },
    "bodies": {
        "columns": {"sha256": str, "compression": str, "size": int, "data": bytes},
        "pk": "sha256",
    },
    "compression_dictionaries": {
        "columns": {"id": int, "created_at": str, "samples": int, "data": bytes},
        "pk": "id",
    },
    "frontier": {
        "columns": {"run_id": int, "url": str, "state": str, "chain": int},
        "pk": ("run_id", "url"),
    },
    # Pages a run fetched whose versions wait for the quality gate (glossary_spider.gate); ``rows`` are
    # what archiving the page writes (storage.writer.page_rows), zstd-compressed JSON. A page staged
    # before them has its extracted record in ``record`` instead, the same way.
    "staged": {
        "columns": {"run_id": int, "url": str, "page_type": str, "content_hash": str, "text_hash": str,
                    "title": str, "words": int, "related": int, "jsonld": int, "http_status": int,
                    "fetched_at": str, "content_type": str, "body_sha256": str, "record": bytes,
                    "record_digest": str, "rows": bytes},
        "pk": ("run_id", "url"),
    },
    # What the quality gate found in each run, and what became of a held run.
    "gate_reports": {
        "columns": {"run_id": int, "held": int, "report": str, "decision": str, "decided_at": str},
        "pk": "run_id",
    },
}

# The compact stored form behind the links, sections and page_versions views. WITHOUT ROWID (their
# rows are small): each row lives in its primary key's b-tree, with no second copy of the key in an
# index, and a page's rows lie together, so rewriting them touches few database pages.
COMPACT_TABLES = {
    "urls": """CREATE TABLE IF NOT EXISTS urls (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE)""",
    "link_texts": """CREATE TABLE IF NOT EXISTS link_texts (
        id INTEGER PRIMARY KEY,
        text TEXT NOT NULL UNIQUE)""",
    "link_rows": """CREATE TABLE IF NOT EXISTS link_rows (
        from_id INTEGER NOT NULL REFERENCES urls(id),
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        position INTEGER NOT NULL,
        to_id INTEGER REFERENCES urls(id),
        anchor_id INTEGER REFERENCES link_texts(id),
        summary_id INTEGER REFERENCES link_texts(id),
        facet TEXT,
        PRIMARY KEY (from_id, seq)) WITHOUT ROWID""",
    "section_spans": """CREATE TABLE IF NOT EXISTS section_spans (
        url_id INTEGER NOT NULL REFERENCES urls(id),
        position INTEGER NOT NULL,
        heading TEXT,
        start INTEGER,
        length INTEGER,
        text TEXT,
        PRIMARY KEY (url_id, position)) WITHOUT ROWID""",
    "versions": """CREATE TABLE IF NOT EXISTS versions (
        url_id INTEGER NOT NULL REFERENCES urls(id),
        version INTEGER NOT NULL,
        content_hash TEXT,
        run_id INTEGER,
        captured_at TEXT,
        extractor_version INTEGER,
        title TEXT,
        summary TEXT,
        same INTEGER,
        text_head INTEGER,
        text_tail INTEGER,
        text_middle TEXT,
        record_delta BLOB,
        PRIMARY KEY (url_id, version)) WITHOUT ROWID""",
}


def _columns_made(tables: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    """The columns (name, declared type) each of ``tables``' CREATE statements makes."""
    conn = sqlite3.connect(":memory:")
    try:
        for sql in tables.values():
            conn.execute(sql)
        return {name: [(row[1], row[2]) for row in conn.execute(f"PRAGMA table_info([{name}])")] for name in tables}
    finally:
        conn.close()


COMPACT_COLUMNS = _columns_made(COMPACT_TABLES)

def added_since(column: str) -> bool:
    """Whether ``column`` is one a writer adds to a table an earlier release made without it
    (:data:`COMPACT_COLUMNS`)."""
    return any(column == name for columns in COMPACT_COLUMNS.values() for name, _ in columns)


# The tables that hold what an archive captured, in every archive since the schema that brought them. One
# missing from an archive with pages is damage (dropped by hand, left out of a restore), not a table to make
# again, empty, as a view or the full-text index is made again from the rest.
HOLDING = {1: ("pages", "crawl_runs", "crawl_errors", "captures", "bodies", "structured_data"),
           2: tuple(COMPACT_TABLES)}

# Declared so that Datasette's row page of a page lists its captures, and a URL's row lists the links,
# sections and versions that refer to it. Not enforced (PRAGMA foreign_keys stays off): a capture may
# be of a URL that never answered 200 and so has no row in pages.
FOREIGN_KEYS = [
    ("captures", "url", "pages", "url"),
]

INDEXES = [
    ("crawl_errors", ["run_id"]),
    ("crawl_errors", ["url"]),
    ("captures", ["url"]),
    ("captures", ["run_id"]),
    ("pages", ["page_type", "status"]),
]
COMPACT_INDEXES = {"link_rows_to_id": "CREATE INDEX IF NOT EXISTS link_rows_to_id ON link_rows (to_id)"}
# The captures that may say where a URL went (REDIRECTS): a few among a run's tens of thousands, found without
# reading them all.
PARTIAL_INDEXES = {"captures_moved": "CREATE INDEX IF NOT EXISTS captures_moved ON captures (url) "
                                     "WHERE outcome IN ('moved', 'gone', 'still_gone')"}


def index_name(table: str, columns: list[str]) -> str:
    """The name of the index on ``table``'s ``columns`` (:data:`INDEXES`): sqlite-utils' own for it."""
    return f"idx_{table}_{'_'.join(columns)}"

# A version's title, summary and body text, rebuilt from the page's current ones by each later
# version's change: title and summary as they were, or the next version's where ``same`` says so
# (1: the title, 2: the summary); the body text as text_head characters kept from the start of the
# next version's, text_tail from its end, text_middle between them (text_head -1: it had none).
def version_chain(where: str = "") -> str:
    """The ``chain`` of every version's texts, each rebuilt from the next, from the pages ``where`` picks (all
    of them by default). SQLite cannot push a condition on the view into its recursion: a query about one
    page gives it here (the ``page_history`` canned query), or it rebuilds every page's chain."""
    return _VERSION_TEXT.replace("{where}", where)


_VERSION_TEXT = """
WITH RECURSIVE chain(url_id, version, title, summary, body_text) AS (
    SELECT u.id, p.version, p.title, p.summary, p.body_text FROM pages p JOIN urls u ON u.url = p.url {where}
    UNION ALL
    SELECT v.url_id, v.version,
           CASE WHEN v.same & 1 THEN c.title ELSE v.title END,
           CASE WHEN v.same & 2 THEN c.summary ELSE v.summary END,
           CASE WHEN v.text_head < 0 THEN NULL
                ELSE substr(coalesce(c.body_text, ''), 1, v.text_head) || coalesce(v.text_middle, '')
                     || substr(coalesce(c.body_text, ''), length(coalesce(c.body_text, '')) - v.text_tail + 1) END
    FROM chain c JOIN versions v ON v.url_id = c.url_id AND v.version = c.version - 1
)"""


def _node_type(node: str) -> str:
    """SQL for the ``@type`` of the JSON-LD ``node`` as ``structured_data`` writes an item's: one name as it is,
    also alone in a list (``["WebPage"]``, as RankMath writes it); several as compact JSON."""
    return (f"""CASE WHEN json_type({node}, '$."@type"') = 'array' AND json_array_length({node}, '$."@type"') = 1 """
            f"""THEN json_extract({node}, '$."@type"[0]') ELSE json_extract({node}, '$."@type"') END""")


# Where each URL that redirected went (a ``WITH RECURSIVE`` table, ``redirects(url, to_url, hops)``): the
# Location of its last capture that said where it was (``moved``: a URL the archive never had; ``gone`` or
# ``still_gone``: an archived page, gone there), and on through the URLs that redirected in turn, ten at most. A
# link to such a URL is a link to the page it leads to. The spider writes a Location in the archive's spelling.
_REDIRECT = """c.outcome IN ('moved', 'gone', 'still_gone') AND substr(c.headers, 1, 10) = 'Location: '
      AND c.id = (SELECT max(d.id) FROM captures d WHERE d.url = c.url
                  AND d.outcome NOT IN ('failed', 'held', 'discarded'))"""
REDIRECTS = f"""
redirects(url, to_url, hops) AS (
    SELECT c.url, substr(c.headers, 11), 1 FROM captures c
    WHERE {_REDIRECT}
    UNION
    SELECT r.url, substr(c.headers, 11), r.hops + 1 FROM redirects r JOIN captures c ON c.url = r.to_url
    WHERE r.hops < 10 AND {_REDIRECT}
)"""
# The links of live pages that reach another page through a URL redirecting there (a table after REDIRECTS,
# ``arrivals(from_url, to_url)``), found from the few redirects to their links, never from every link: in the
# order the CROSS JOINs fix.
ARRIVALS = """
arrivals(from_url, to_url) AS (
    SELECT f.url, r.to_url FROM redirects r CROSS JOIN urls t ON t.url = r.url
    CROSS JOIN link_rows l ON l.to_id = t.id CROSS JOIN urls f ON f.id = l.from_id
    CROSS JOIN pages fp ON fp.url = f.url AND fp.status = 'live'
    WHERE f.url != r.to_url
)"""

VIEWS = {
    "links": """
SELECT f.url AS from_url, l.kind, l.position, t.url AS to_url, a.text AS anchor_text, s.text AS summary, l.facet
FROM link_rows l
JOIN urls f ON f.id = l.from_id
LEFT JOIN urls t ON t.id = l.to_id
LEFT JOIN link_texts a ON a.id = l.anchor_id
LEFT JOIN link_texts s ON s.id = l.summary_id""",
    "sections": """
SELECT u.url, s.position, s.heading,
       coalesce(s.text, substr(p.body_text, s.start + 1, s.length)) AS text
FROM section_spans s
JOIN urls u ON u.id = s.url_id
LEFT JOIN pages p ON p.url = u.url""",
    "page_versions": version_chain() + """
SELECT u.url, v.version, v.content_hash, v.run_id, v.captured_at,
       c.title, c.summary, c.body_text,
       CASE WHEN v.version = p.version THEN json_object(
           'sections', (SELECT json_group_array(json_object('position', position, 'heading', heading, 'text', text))
                        FROM (SELECT * FROM sections WHERE url = u.url ORDER BY position)),
           'links', (SELECT json_group_array(json_object('kind', l.kind, 'position', l.position, 'to_url', t.url,
                                                         'anchor_text', a.text, 'summary', s.text, 'facet', l.facet))
                     FROM (SELECT * FROM link_rows WHERE from_id = u.id ORDER BY seq) l
                     LEFT JOIN urls t ON t.id = l.to_id LEFT JOIN link_texts a ON a.id = l.anchor_id
                     LEFT JOIN link_texts s ON s.id = l.summary_id),
           'structured_data', (SELECT json_group_array(json_object('syntax', syntax, 'position', position,
                                                                   'type', type, 'data', json(data)))
                               FROM (SELECT * FROM structured_data WHERE url = u.url ORDER BY syntax, position)))
       END AS record,
       v.extractor_version
FROM versions v
JOIN urls u ON u.id = v.url_id
JOIN pages p ON p.url = u.url
JOIN chain c ON c.url_id = v.url_id AND c.version = v.version""",
    "jsonld": "SELECT url, position, type, data FROM structured_data WHERE syntax = 'json-ld'",
    "jsonld_nodes": f"""
SELECT s.url, s.position, 0 AS node, {_node_type("s.data")} AS type, s.data
FROM structured_data s
WHERE s.syntax = 'json-ld' AND json_valid(s.data) AND json_type(s.data, '$."@graph"') IS NOT 'array'
UNION ALL
SELECT s.url, s.position, CAST(g.key AS INTEGER), {_node_type("g.value")}, g.value
FROM structured_data s, json_each(s.data, '$."@graph"') g
WHERE s.syntax = 'json-ld' AND json_valid(s.data) AND json_type(s.data, '$."@graph"') = 'array'
  AND g.type = 'object'""",
    # The analysis views read the links the site still makes: those of its live pages (a page gone keeps the
    # links it last had, and they break nothing, link to nothing, list nothing as related).
    # Broken links are found from their few targets (pages gone, URLs never archived that answered 404 or 410)
    # through link_rows_to_id, in the order the CROSS JOINs fix, not by reading every link: all of a 20,000-page
    # archive's broken links in 0.04 s, where they took 2.6 s.
    "broken_links": """
SELECT f.url AS from_url, l.kind, l.position, t.url AS to_url, a.text AS anchor_text, gone.status AS target_status
FROM (SELECT p.url, coalesce(p.http_status, (SELECT max(e.http_status) FROM crawl_errors e
                                             WHERE e.url = p.url AND e.http_status IN (404, 410))) AS status
      FROM pages p WHERE p.status = 'gone'
      UNION ALL
      SELECT e.url, max(e.http_status) FROM crawl_errors e
      WHERE e.http_status IN (404, 410) AND NOT EXISTS (SELECT 1 FROM pages p WHERE p.url = e.url)
      GROUP BY e.url) gone
CROSS JOIN urls t ON t.url = gone.url
CROSS JOIN link_rows l ON l.to_id = t.id
CROSS JOIN urls f ON f.id = l.from_id
CROSS JOIN pages fp ON fp.url = f.url AND fp.status = 'live'
LEFT JOIN link_texts a ON a.id = l.anchor_id""",
    # Linked to through a URL that redirects there (ARRIVALS) is linked too: those links are found once, for all.
    "orphan_pages": """
SELECT p.url, p.page_type, p.slug, p.title FROM pages p
WHERE p.page_type != 'other' AND p.status = 'live'
  AND NOT EXISTS (SELECT 1 FROM link_rows l JOIN urls f ON f.id = l.from_id JOIN urls t ON t.id = l.to_id
                  JOIN pages fp ON fp.url = f.url AND fp.status = 'live'
                  WHERE t.url = p.url AND f.url != p.url)
  AND p.url NOT IN (WITH RECURSIVE""" + REDIRECTS + "," + ARRIVALS + """
                    SELECT to_url FROM arrivals)""",
    # The live pages' ids read once: a page's status read for each end of each related link, past its body text,
    # took more than twice as long (0.53 against 0.22 s for 80,000 related links).
    "one_way_related": """
WITH live(id) AS (SELECT u.id FROM pages p JOIN urls u ON u.url = p.url WHERE p.status = 'live')
SELECT fa.url AS from_url, ta.url AS to_url, an.text AS anchor_text
FROM link_rows a
JOIN urls fa ON fa.id = a.from_id
JOIN urls ta ON ta.id = a.to_id
LEFT JOIN link_texts an ON an.id = a.anchor_id
WHERE a.kind = 'related' AND a.from_id IN live AND a.to_id IN live
  AND NOT EXISTS (SELECT 1 FROM link_rows b
                  WHERE b.kind = 'related' AND b.from_id = a.to_id AND b.to_id = a.from_id)""",
}

PAGE_COLUMNS = list(TABLES["pages"]["columns"])
FTS_COLUMNS = ["title", "summary", "body_text"]
FTS_TRIGGERS = ("pages_ai", "pages_ad", "pages_au")  # keep pages_fts in step with pages (_fts_triggers)
# The tables of schema 1 that the views above replace.
REPLACED_TABLES = ("links", "sections", "page_versions")


def check_schema_version(version: int, path: Any) -> None:
    if version > SCHEMA_VERSION:
        raise ArchiveError(f"{path} was written by a newer glossary_spider (schema {version}, "
                           f"this one knows {SCHEMA_VERSION}): upgrade glossary_spider")


# What every archive has held since schema 1, and the primary keys of its pages and runs: a database without
# them is another application's, whatever its tables are called.
ARCHIVE_MARKS = {"pages": ("url", "content_hash", "status"), "crawl_runs": ("command", "started_at"),
                 "captures": ("url", "fetched_at", "body_sha256")}
ARCHIVE_KEYS = {"pages": ["url"], "crawl_runs": ["id"]}


def not_ours(conn: sqlite3.Connection) -> str | None:
    """Why the SQLite database ``conn`` reads is no glossary archive (one with tables, none of them
    :data:`ARCHIVE_MARKS`', is another application's), or None."""
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if missing := [table for table in ARCHIVE_MARKS if table not in tables]:
        return f"it has no {' or '.join(missing)} table"
    for table, marks in ARCHIVE_MARKS.items():
        info = conn.execute(f"PRAGMA table_info({table})").fetchall()
        if lacking := [column for column in marks if column not in {row[1] for row in info}]:
            return f"its {table} table has no {' or '.join(lacking)} column"
        key = [row[1] for row in sorted(info, key=lambda row: row[5]) if row[5]]
        if table in ARCHIVE_KEYS and key != ARCHIVE_KEYS[table]:
            return f"its {table} table's primary key is not {', '.join(ARCHIVE_KEYS[table])}"
    return None


def lost_tables(conn: sqlite3.Connection) -> list[str]:
    """The tables of :data:`HOLDING` that an archive with pages, of the schema that brought them, lacks."""
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "pages" not in tables or conn.execute("SELECT 1 FROM pages LIMIT 1").fetchone() is None:
        return []
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    return [name for since, names in HOLDING.items() if version >= since for name in names if name not in tables]


def check_ours(db: sqlite_utils.Database, path: Any) -> None:
    """Refuse a SQLite file that holds tables but is not a glossary archive: it is someone else's."""
    tables = set(db.table_names())
    if tables and (why := not_ours(db.conn)):
        shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
        raise ArchiveError(f"{path} is a SQLite database but not a glossary archive ({why}; its tables: "
                           f"{shown}); nothing was added to it: {not_its_own_log(path) or 'give another --db'}")


def ensure_schema(db: sqlite_utils.Database) -> bool:
    """Create what the archive lacks, upgrading an archive of an earlier schema in place.

    Returns True when an older archive was migrated (the caller then compacts the file).
    """
    from glossary_spider.storage import migrations

    migrated = False
    theirs: list[tuple[str, str]] = []  # views someone added to an archive that is migrated
    # The write lock taken first, waited for as long as the busy timeout says: a read that turns into a
    # write (the views made again) while another connection writes is refused at once.
    began = not db.conn.in_transaction
    if began:
        db.execute("BEGIN IMMEDIATE")
    try:
        if is_current(db.conn):
            if began:
                db.execute("COMMIT")
            return False
        with db.atomic():
            for name, spec in TABLES.items():
                table = db.table(name)
                if not table.exists():
                    table.create(spec["columns"], pk=spec["pk"], not_null={"url"} & set(spec["columns"]),
                                 foreign_keys=[fk[1:] for fk in FOREIGN_KEYS if fk[0] == name])
                else:
                    missing = {c: t for c, t in spec["columns"].items() if c not in table.columns_dict}
                    for column, kind in missing.items():
                        table.add_column(column, kind)
            for sql in COMPACT_TABLES.values():
                db.execute(sql)
            for name, columns in COMPACT_COLUMNS.items():  # a column added since the table was made
                had = {row[1] for row in db.execute(f"PRAGMA table_info([{name}])")}
                for column, kind in columns:
                    if column not in had:
                        db.execute(f"ALTER TABLE [{name}] ADD COLUMN [{column}] {kind}")
            if set(REPLACED_TABLES) & set(db.table_names()):
                theirs = migrations.from_schema_1(db, VIEWS)
                migrated = True
            for table, columns in INDEXES:
                db.table(table).create_index(columns, index_name=index_name(table, columns), if_not_exists=True)
            for sql in (COMPACT_INDEXES | PARTIAL_INDEXES).values():
                db.execute(sql)
            for name, sql in VIEWS.items():
                db.execute(f"DROP VIEW IF EXISTS [{name}]")
                db.execute(_view_sql(name, sql))
            if db.execute("PRAGMA user_version").fetchone()[0] < 3:  # over the views: it reads sections, links
                if hashed := migrations.from_schema_2(db):
                    logger.info("Upgraded to schema 3: %d pages hashed again without their JSON-LD's dateModified",
                                hashed)
            for name, sql in theirs:
                try:
                    db.execute(sql)
                    db.execute(f"SELECT * FROM [{name}] LIMIT 0")  # SQLite reads a view's columns only now
                except sqlite3.OperationalError as exc:  # over a table or column the upgrade removed
                    db.execute(f"DROP VIEW IF EXISTS [{name}]")
                    logger.warning("A view added to the archive could not be made again after its upgrade "
                                   "(%s); it was: %r", exc, sql)
    except BaseException:
        if began and db.conn.in_transaction:
            db.conn.rollback()
        raise
    if began and db.conn.in_transaction:
        db.execute("COMMIT")
    declared = {(fk.table, fk.column) for name, *_ in FOREIGN_KEYS for fk in db.table(name).foreign_keys}
    if missing_keys := [fk for fk in FOREIGN_KEYS if (fk[0], fk[1]) not in declared]:
        db.add_foreign_keys(missing_keys)  # rebuilds the tables of an archive made before them, once
    if not db.table("pages_fts").exists():
        db.table("pages").enable_fts(FTS_COLUMNS)
        db.execute("INSERT INTO pages_fts (pages_fts) VALUES ('rebuild')")
    _fts_triggers(db)
    if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return migrated


def made_again(name: str) -> bool:
    """Whether :func:`ensure_schema` makes the table or view ``name`` again, whole, from the archive's other
    tables, where it is missing: a view, the full-text index."""
    return name in VIEWS or name.split("_")[:2] == ["pages", "fts"]


def is_current(conn: sqlite3.Connection) -> bool:
    """Whether the archive holds everything :func:`ensure_schema` makes, as this release makes it, so that
    it has nothing to do: an archive opened for writing is then not written to before its run writes (it made
    every view again, which had every other connection read the archive's schema anew), and a command's
    start is spared some 70 ms of schema statements. Anything missing or different (a view someone dropped
    or replaced, an older schema) and the archive is brought up to date as ever."""
    if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        return False
    made = {(kind, name): sql for kind, name, sql in conn.execute("SELECT type, name, sql FROM sqlite_master")}
    tables = {name for kind, name in made if kind == "table"}
    columns = set(conn.execute("SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c "
                               "WHERE m.type = 'table'"))
    keys = set(conn.execute('SELECT m.name, k."from", k."table", k."to" FROM sqlite_master m, '
                            "pragma_foreign_key_list(m.name) k WHERE m.type = 'table'"))
    indexes = [index_name(table, names) for table, names in INDEXES] + [*COMPACT_INDEXES, *PARTIAL_INDEXES]
    return (all((table, column) in columns for table, spec in TABLES.items() for column in spec["columns"])
            and all((table, column) in columns for table, made in COMPACT_COLUMNS.items() for column, _ in made)
            and tables >= {*COMPACT_TABLES, "pages_fts"} and not tables & set(REPLACED_TABLES)
            and set(FOREIGN_KEYS) <= keys
            and all(("index", name) in made for name in indexes)
            and all(made.get(("view", name)) == _view_sql(name, sql) for name, sql in VIEWS.items())
            and all(("trigger", name) in made for name in FTS_TRIGGERS))


def index_damage(conn: sqlite3.Connection) -> str | None:
    """What SQLite says of the archive's full-text index where it cannot read it (its structure gone, a format
    it does not know: :func:`~glossary_spider.storage.errors.is_index_damaged`), or None: one search for a word
    no page holds, which reads the index's structure and one entry of it."""
    try:
        conn.execute("SELECT rowid FROM pages_fts WHERE pages_fts MATCH '\"glossaryspiderprobe\"' LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        if is_index_damaged(exc):
            return str(exc)
    return None


def drop_index(conn: sqlite3.Connection) -> None:
    """Take a damaged full-text index (:func:`index_damage`) out of the archive, for :func:`ensure_schema` to
    make again from its pages: its triggers and its tables dropped, then its own entry in the schema, which
    SQLite drops only through the index it cannot read (a virtual table: no pages of its own to leave behind).
    In one transaction; ``conn`` (autocommit, used for nothing else) reads a schema without it once reopened."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for trigger in FTS_TRIGGERS:
            conn.execute(f"DROP TRIGGER IF EXISTS [{trigger}]")
        for shadow in ("data", "idx", "docsize", "config", "content"):
            conn.execute(f"DROP TABLE IF EXISTS [pages_fts_{shadow}]")
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("DELETE FROM sqlite_master WHERE type = 'table' AND name = 'pages_fts'")
        conn.execute("PRAGMA writable_schema = OFF")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _view_sql(name: str, sql: str) -> str:
    return f"CREATE VIEW [{name}] AS {sql.strip()}"


def _fts_triggers(db: sqlite_utils.Database) -> None:
    """Keep pages_fts in step with pages; an update re-indexes only when the indexed text changes."""
    columns = ", ".join(FTS_COLUMNS)
    new = ", ".join(f"new.{c}" for c in FTS_COLUMNS)
    old = ", ".join(f"old.{c}" for c in FTS_COLUMNS)
    delete = f"INSERT INTO pages_fts (pages_fts, rowid, {columns}) VALUES ('delete', old.rowid, {old});"
    insert = f"INSERT INTO pages_fts (rowid, {columns}) VALUES (new.rowid, {new});"
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in FTS_COLUMNS)
    for sql in (
        f"CREATE TRIGGER IF NOT EXISTS pages_ai AFTER INSERT ON pages BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS pages_ad AFTER DELETE ON pages BEGIN {delete} END",
        f"CREATE TRIGGER IF NOT EXISTS pages_au AFTER UPDATE OF {columns} ON pages WHEN {changed} "
        f"BEGIN {delete} {insert} END",
    ):
        db.execute(sql)


@contextmanager
def indexed_together(db: sqlite_utils.Database, added: list[str]) -> Iterator[None]:
    """Within the block, pages are inserted without the ``pages_ai`` trigger indexing each for full-text
    search; the pages ``added`` (the URLs of those inserted) are indexed in one statement at its end. FTS5
    indexes a batch of pages at a third of the cost of one trigger call each: 0.2 s of the 1.2 s a crawl
    of 4,250 pages spends archiving them at its close.

    The trigger is dropped and made again inside the caller's transaction, so no other connection ever
    sees it missing, and a block that raises leaves it to the transaction's rollback to restore (and
    :func:`ensure_schema` makes a missing one again on every open). Outside a transaction, or with nothing
    ``added``, the trigger does the work as always.
    """
    found = added and db.conn.in_transaction and db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'pages_ai'").fetchone()
    if not found:
        yield
        return
    db.execute("DROP TRIGGER pages_ai")
    yield
    columns = ", ".join(FTS_COLUMNS)
    db.execute(f"INSERT INTO pages_fts (rowid, {columns}) SELECT rowid, {columns} FROM pages "
               "WHERE url IN (SELECT value FROM json_each(?))", [json.dumps(added)])
    db.execute(found[0])
