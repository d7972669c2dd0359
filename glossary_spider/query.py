"""Reading the archive: search, one page with its history, diffs and the health report.

Nothing here imports Scrapy or Twisted, so the commands built on it start fast.
Every statement is parameterised.
"""

from __future__ import annotations

import atexit
import difflib
import json
import os
import re
import sqlite3
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from glossary_spider.outcome import is_complete, was_refused
from glossary_spider.params import BadArgument
from glossary_spider.storage import (READ_AS_IS, ArchiveError, busy_timeout_ms, check_schema_version,
                                     existing_archive, not_an_archive, page_record, read_gate_report, run_counts)
from glossary_spider.storage.archive import tidy
from glossary_spider.storage.history import page_history
from glossary_spider.storage.errors import (cannot_read, disk_full, is_index_damaged, is_locked, may_write,
                                            not_its_own_log)
from glossary_spider.storage.schema import ARRIVALS, REDIRECTS, not_ours
from glossary_spider.storage.readers import held_decisions
from glossary_spider.terminal import quoted, safe_text, shell_word
from glossary_spider.urls import PAGE_TYPES, classify, normalize_url

MARK_START, MARK_END = "\x02", "\x03"


class Reader(sqlite3.Connection):
    """A connection of :func:`connect`'s: closing it removes the logs reading left beside the archive
    (:func:`tidy`)."""

    archive: Path

    def close(self) -> None:
        super().close()
        tidy(self.archive)


# The archives read read-only in this process, tidied as it ends, and the readers to close first: a command
# leaves its reader open to the end, or drops it unclosed.
_read: set[Path] = set()
_readers: weakref.WeakSet[Reader] = weakref.WeakSet()


@atexit.register
def _tidy_read() -> None:
    for conn in list(_readers):
        try:
            conn.close()
        except sqlite3.ProgrammingError:  # another thread's: SQLite closes it as Python ends
            pass
    for path in _read:
        tidy(path)


def _open(path: Path, mode: str, factory: type[sqlite3.Connection] = sqlite3.Connection) -> Any:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True, factory=factory)
    if mode == "mode=ro":
        _read.add(path)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
        check_schema_version(conn.execute("PRAGMA user_version").fetchone()[0], path)
    except BaseException:  # closed now: one left open would keep the log files that tidying removes
        conn.close()
        raise
    return conn


def open_mode(path: str | Path) -> str:
    """How an archive can be read: ``mode=ro``, or ``immutable=1`` where SQLite cannot create the
    WAL's ``-shm`` file beside it (a read-only directory or mount, where nothing can be writing it; a full
    disk, where nothing can write much, read so where no write waits in the ``-wal``: it said a bare
    "disk I/O error")."""
    path = existing_archive(path)
    try:
        _open(path, "mode=ro").close()
    except sqlite3.OperationalError as exc:
        if is_locked(exc):  # another program took the file for itself (a sqlite3 session in EXCLUSIVE mode)
            raise ArchiveError(cannot_read(path, exc)) from None
        journal = path.with_name(path.name + "-journal")
        if journal.exists() and journal.stat().st_size > 0:  # a hot journal: rolled back by the next write only
            raise ArchiveError(f"cannot read the archive {path}: {journal} beside it holds a write cut short (or "
                               "is not SQLite's), which only a writer can roll back: run a writing command once "
                               f"('glossary reparse --db {path}'), or remove it if no glossary_spider wrote it"
                               ) from None
        full = disk_full(path.parent)
        if os.access(path.parent, os.W_OK) and not full:
            raise ArchiveError(f"cannot read the archive {path}: {exc}") from None
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:  # read immutable, its last writes would go unseen
            if full:
                raise ArchiveError(f"cannot read the archive {path}: the disk holding it is full, and SQLite needs "
                                   f"room beside it to read the last writes {wal.name} holds: free some space"
                                   ) from None
            raise ArchiveError(f"{wal} holds the archive's last writes, which SQLite cannot read in a read-only "
                               f"directory: open the archive once where it can be written, or copy {path.name} "
                               f"and {wal.name} to such a place") from None
        return "immutable=1"
    except sqlite3.DatabaseError as exc:
        raise ArchiveError(not_an_archive(path, exc)) from None
    return "mode=ro"


def connect(path: str | Path) -> Reader:
    """A read-only connection to an archive; never creates one. An archive of an earlier schema is
    upgraded in place first (see :mod:`glossary_spider.storage.migrations`), where it can be written.

    Its reads are one transaction, so they all see the archive as it was at the first of them: a page's
    row, sections, links and history read while a run commits its close are of one state, never part
    before and part after."""
    path = existing_archive(path)
    mode = open_mode(path)
    _upgrade(path, mode)
    try:
        conn = _open(path, mode, Reader)
        conn.archive = path
        _readers.add(conn)
        if why := not_ours(conn):  # another application's database
            conn.close()
            advice = f"; {log}" if (log := not_its_own_log(path)) else ""
            raise ArchiveError(f"{path} is not a glossary archive: {why}{advice}")
        conn.execute("SELECT 1 FROM pages LIMIT 1").fetchall()
        conn.execute("BEGIN")
    except sqlite3.OperationalError as exc:
        raise ArchiveError(f"cannot read the archive {path}: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise ArchiveError(not_an_archive(path, exc)) from None
    return conn


# How long a reader waits for another that is upgrading the same archive (a large one's VACUUM takes a while).
UPGRADE_WAIT = 600.0


def _upgrade(path: Path, mode: str) -> None:
    """Upgrade an archive whose tables are older than today's (:data:`READ_AS_IS`) before it is read: a
    write, so under the archive's lock, never beside a run of an earlier release that is writing it."""
    conn = _open(path, mode)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    if not 0 < version < READ_AS_IS:
        return
    earlier = f"{path} was written by an earlier glossary_spider (schema {version})"
    if mode != "mode=ro" or not may_write(path):
        raise ArchiveError(f"{earlier} and cannot be upgraded here, where it is read-only: upgrade a writable copy "
                           "with 'glossary report --db COPY'")
    from glossary_spider.lock import ArchiveLock, ArchiveLocked, who
    from glossary_spider.storage import Archive

    waited_until = time.monotonic() + UPGRADE_WAIT
    while True:
        try:
            lock = ArchiveLock(path, "upgrade").acquire()
            break
        except ArchiveLocked as exc:
            # Another reader upgrading it: waited for, and the archive is then today's. A run: not.
            if exc.holder.get("command") != "upgrade" or time.monotonic() > waited_until:
                raise ArchiveError(f"{earlier}, which must be upgraded before it is read, and another process "
                                   f"holds it ({who(exc.holder)}): read it once that has ended") from None
            time.sleep(0.2)
        except OSError as exc:
            raise ArchiveError(f"{earlier} and cannot be upgraded: its lock cannot be taken "
                               f"({exc.strerror or exc})") from None
    try:
        Archive(path).close()  # nothing to do where the reader waited for has upgraded it
    finally:
        lock.release()


def check_type(page_type: str | None) -> None:
    if page_type is not None and page_type not in PAGE_TYPES:
        raise BadArgument(f"--type {page_type!r} is not a page type: one of {', '.join(PAGE_TYPES)}")


# -- search ---------------------------------------------------------------------------------


# FTS5's operators, which it reads only in capitals; in a query searched as words, not words of it.
OPERATORS = {"AND", "OR", "NOT", "NEAR"}


def _plain_words(query: str) -> str:
    """``query`` as words, each a phrase: a word joined to the next by a sign with no space (``P&L``,
    ``vega-neutral``, ``24/7``) is one phrase, as the text writes it; FTS5's operators are left out,
    unless they are all it has."""
    words = [w.strip("-") for w in re.findall(r"\w+(?:[-&/.'’+]\w+)*", query)]
    words = [w for w in words if w not in OPERATORS] or words
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)


def search(conn: sqlite3.Connection, query: str, page_type: str | None = None, limit: int = 20,
           as_words: Callable[[str, str], None] | None = None) -> Iterator[dict[str, Any]]:
    """Pages matching ``query``, title matches first, then by bm25 (title, summary, body weighted 10, 5, 1),
    read a chunk at a time (:data:`SEARCH_CHUNK`, doubling up to :data:`SEARCH_CHUNK_MOST`): memory is bounded
    however many results.

    A query that is not valid FTS5 syntax is searched as plain words, all of them required; ``as_words`` is
    told so, with SQLite's reason and the words searched for.
    """
    if not query.strip():
        raise BadArgument("the search query is empty")
    if not re.search(r"\w", query):
        raise BadArgument(f"the search query {quoted(query)} has no words to search for")
    check_type(page_type)
    query = _without_repeats(query)
    try:
        return _search(conn, query, page_type, limit)
    except sqlite3.OperationalError as exc:
        if str(exc).startswith("no such table") or is_index_damaged(exc):  # the archive's, not the query's
            raise
        if re.search(r"\bNOT\b", query):  # as plain words, it would ask for the very words it leaves out
            raise BadArgument(f"the search query {quoted(query)} is not FTS5 query syntax ({exc}): NOT leaves out "
                              "the pages holding what follows it from those holding what comes before it "
                              "(vega NOT greeks), and a query cannot begin with it") from None
        words = _plain_words(query)
        if not words:
            raise BadArgument(f"the search query {quoted(query)} has no words to search for") from None
        if as_words is not None:
            as_words(str(exc), words)
        return _search(conn, words, page_type, limit)


# bm25() and snippet() merge the position lists of every phrase of the query for each row:
# quadratic in its terms when they repeat. Past this many words, rows still come from the
# whole query (FTS5 matches in linear time), but rank and snippet from its first distinct words.
RANK_MAX_WORDS = 64


# Results read at a time, the first chunk; each after it twice as many, up to SEARCH_CHUNK_MOST. A chunk's
# snippets are made in one pass over all the query's matches (FTS5 finds a chunk's rows no faster): in chunks
# of 500, a search of every match read them all again every 500 results, quadratic (40,000 results: 80 passes,
# 3.7 s; now 7).
SEARCH_CHUNK = 500
SEARCH_CHUNK_MOST = 32_000


def _search(conn: sqlite3.Connection, match: str, page_type: str | None, limit: int) -> Iterator[dict[str, Any]]:
    sql = """
        WITH hits AS (
            SELECT rowid FROM pages_fts WHERE pages_fts MATCH :match
        ),
        ranks AS (
            SELECT rowid, bm25(pages_fts, 10.0, 5.0, 1.0) AS rank FROM pages_fts WHERE pages_fts MATCH :ranking
        ),
        titled AS (
            SELECT rowid FROM pages_fts WHERE pages_fts MATCH 'title : (' || :match || ')'
        )
        SELECT p.url, p.page_type, p.title, p.summary, p.status, hits.rowid AS hit, coalesce(ranks.rank, 0) AS rank,
               hits.rowid IN (SELECT rowid FROM titled) AS title_match
        FROM hits JOIN pages p ON p.rowid = hits.rowid LEFT JOIN ranks ON ranks.rowid = hits.rowid
        WHERE (:type IS NULL OR p.page_type = :type)
        ORDER BY title_match DESC, rank
        LIMIT :limit
    """
    ranking = ranking_query(match)
    params = {"match": match, "ranking": ranking, "type": page_type, "limit": limit}
    try:  # run here, not when the results are read: a query FTS5 refuses is refused now
        found = conn.execute(sql, params)
        first = found.fetchmany(SEARCH_CHUNK)
    except sqlite3.OperationalError:
        # A query with its own column filters cannot be wrapped in a title filter.
        found = conn.execute(sql.replace("'title : (' || :match || ')'", ":match").replace(
            "hits.rowid IN (SELECT rowid FROM titled)", "0"), params)
        first = found.fetchmany(SEARCH_CHUNK)
    return _with_snippets(conn, ranking, first, found)


def _with_snippets(conn: sqlite3.Connection, ranking: str, first: list[sqlite3.Row], rest: sqlite3.Cursor
                   ) -> Iterator[dict[str, Any]]:
    """The results, a chunk at a time, each with its snippet."""
    chunk, size = first, SEARCH_CHUNK
    while chunk:
        snippets = _snippets(conn, ranking, [row["hit"] for row in chunk])
        for row in chunk:
            yield {**{k: row[k] for k in ("url", "page_type", "title", "summary", "status")},
                   "snippet": snippets.get(row["hit"], ""), "rank": row["rank"], "title_match": row["title_match"]}
        size = min(2 * size, SEARCH_CHUNK_MOST)
        chunk = rest.fetchmany(size)


_TERM = re.compile(r"\w+\*?")
_PHRASE = re.compile(r'"[^"]*"\*?')
_TOKEN = re.compile(r'"[^"]*"\*?|\S+')


def _without_repeats(query: str) -> str:
    """A query of terms or "phrases" joined only by OR (or terms only by AND) with each once: FTS5 gives
    every repeat an iterator of its own, which makes matching superlinear in the terms."""
    tokens = _TOKEN.findall(query)
    terms, operators = tokens[::2], set(tokens[1::2])
    if len(tokens) < 3 or not all((_TERM.fullmatch(t) or _PHRASE.fullmatch(t)) and t not in ("AND", "OR", "NOT", "NEAR")
                                  for t in terms):
        return query
    if operators == {"OR"}:
        return " OR ".join(dict.fromkeys(terms))
    if all(_TERM.fullmatch(t) and t not in ("OR", "NOT", "NEAR") for t in tokens):  # words, AND between some
        return " ".join(dict.fromkeys(t for t in tokens if t != "AND"))
    return query


def ranking_query(match: str) -> str:
    """The query that ranks and highlights: ``match`` itself, or past RANK_MAX_WORDS words its first
    distinct ones, OR-ed."""
    words = re.findall(r"\w+\*?", match)
    if len(words) <= RANK_MAX_WORDS:
        return match
    distinct = [w for w in dict.fromkeys(words) if w not in ("AND", "OR", "NOT", "NEAR")]
    return " OR ".join(f'"{w.rstrip("*")}"' + "*" * w.endswith("*") for w in distinct[:RANK_MAX_WORDS])


# snippet() weighs each place a snippet could start against every hit of the row: quadratic in a row's
# hits, seconds for a page of 40,000 words that a prefix query matches all through (a hostile page).
# A page longer than this has its snippet made here instead, around the first hit in its text.
SNIPPET_MAX_WORDS = 5_000
SNIPPET_WORDS = 16


# "rowid + 0": the rows are picked from the query's matches, read once; "rowid IN" would hand FTS5 the rowids
# to look up one by one, each lookup reading the whole of the query's matches again (a prefix query's
# snippets took 59 ms each in an archive of 20,000 pages, 8 ms in one of 2,000).
SNIPPETS_SQL = f"""
    SELECT rowid, snippet(pages_fts, -1, '{MARK_START}', '{MARK_END}', ' … ', {SNIPPET_WORDS}) FROM pages_fts
    WHERE pages_fts MATCH :match AND rowid + 0 IN (SELECT value FROM json_each(:rowids))
"""


def _snippets(conn: sqlite3.Connection, match: str, rowids: list[int]) -> dict[int, str]:
    """The snippets of the rows ``rowids``, their matches between MARK_START and MARK_END."""
    if not rowids:
        return {}
    long = {rowid: text for rowid, text in conn.execute(
        "SELECT rowid, body_text FROM pages WHERE rowid IN (SELECT value FROM json_each(?)) AND word_count > ?",
        [json.dumps(rowids), SNIPPET_MAX_WORDS])}
    short = [rowid for rowid in rowids if rowid not in long]
    snippets = dict(conn.execute(SNIPPETS_SQL, {"match": match, "rowids": json.dumps(short)})) if short else {}
    return {**snippets, **{rowid: _snippet(text or "", match) for rowid, text in long.items()}}


def _snippet(text: str, match: str) -> str:
    """``SNIPPET_WORDS`` words of ``text`` around the first word a term of ``match`` matches (a ``prefix*``
    any word it begins), each such word marked; its start when none does."""
    terms = [t for t in _TERM.findall(match) if t not in ("AND", "OR", "NOT", "NEAR")]
    pattern = re.compile("|".join(rf"\b{re.escape(t[:-1])}\w*" if t.endswith("*") else rf"\b{re.escape(t)}\b"
                                  for t in terms) or r"(?!)", re.IGNORECASE)
    hit = pattern.search(text)
    start = hit.start() if hit else 0
    reach = 40 * SNIPPET_WORDS  # characters enough for the words wanted, however long they are
    head, tail = text[max(0, start - reach):start].split(), text[start:start + reach].split()
    before = head[len(head) - min(len(head), SNIPPET_WORDS // 2 - 1):]
    after = tail[:SNIPPET_WORDS - len(before)]
    marked = pattern.sub(lambda m: f"{MARK_START}{m.group()}{MARK_END}", " ".join([*before, *after]))
    cut_before = start > reach or len(head) > len(before)
    cut_after = start + reach < len(text) or len(tail) > len(after)
    return "… " * cut_before + marked + " …" * cut_after


def long_page_snippet(text: str | None, ranking: str | None) -> str:
    """The snippet ``glossary search`` gives a page over :data:`SNIPPET_MAX_WORDS` words for the query
    ``ranking`` (see :func:`ranking_query`), its hits between ``[`` and ``]``: Datasette's search canned query
    calls it, as a function the plugin gives SQLite, in place of snippet(), which no time limit stops."""
    return highlight(_snippet(text or "", ranking or ""), shown=False)


def highlight(text: str | None, start: str = "[", end: str = "]", shown: bool = True) -> str:
    """A snippet on one line, its matches between ``start`` and ``end``; ``shown``: for a terminal, control
    characters made visible (else exact, for JSON or a file, whose writer escapes what a terminal needs)."""
    marks = {MARK_START: start, MARK_END: end}
    pieces = re.split(f"([{MARK_START}{MARK_END}])", " ".join((text or "").split()))
    return "".join(marks.get(piece) or (safe_text(piece, one_line=True) if shown else piece) for piece in pieces)


# -- one page -------------------------------------------------------------------------------


def counted(n: int, noun: str) -> str:
    """``1 page``, ``2 pages``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


class Ambiguous(BadArgument):
    def __init__(self, slug: str, candidates: list[dict[str, Any]], typed: bool = False):
        self.candidates = candidates
        names = ", ".join(f"{c['page_type']} {c['url']}" for c in candidates)
        one_type = typed or len({c["page_type"] for c in candidates}) == 1  # then --type tells none apart
        super().__init__(f"{quoted(slug)} names {len(candidates)} pages ({names}): give "
                         f"{'the URL' if one_type else '--type or the URL'}")


def resolve(conn: sqlite3.Connection, url_or_slug: str, page_type: str | None = None) -> str:
    """The archived URL a user means by a URL or a slug."""
    check_type(page_type)
    if not url_or_slug.strip():
        raise BadArgument("the page to show is empty: give its URL, its path (/term/greeks/) or its slug")
    if "://" in url_or_slug:
        url = normalize_url(url_or_slug)
        if url and conn.execute("SELECT 1 FROM pages WHERE url = ?", [url]).fetchone():
            return url
        # The same page over the other scheme: a site moved to https, or a URL typed with the wrong one.
        other = url and re.sub(r"^https?(?=://)", lambda m: {"http": "https", "https": "http"}[m[0]], url)
        hint = (f"; it is archived as {safe_text(other, one_line=True)}" if other and other != url and
                conn.execute("SELECT 1 FROM pages WHERE url = ?", [other]).fetchone() else "")
        raise BadArgument(f"no archived page at {quoted(url_or_slug)[1:-1]}{hint}{_why_none(conn, url)}")
    text = url_or_slug.strip()
    inner = text.strip("/")
    # A host and a path, without the scheme: "host/term/x/", or a host's home page, "host:8000/". A first
    # part that names no host ("definition/vega/": no dot, no port) is the start of a path.
    first = inner.split("/")[0]
    if not text.startswith("/") and first in (".", ".."):
        raise BadArgument(f"{quoted(text)} is a relative path: give the page's path from the site's root "
                          "(/term/greeks/), its URL or its slug")
    if not text.startswith("/") and "/" in inner and not (any(c in first for c in ".:") or first == "localhost"):
        text = "/" + text
    elif not text.startswith("/") and ("/" in inner or text.endswith("/") and any(c in inner for c in ".:")):
        return resolve(conn, f"http://{text}", page_type)
    elif _HOST_AND_PORT.fullmatch(text):  # a host's home page, as "host:8000/" is: no slug has a port
        return resolve(conn, f"http://{text}/", page_type)
    slug = inner.split("/")[-1]
    if text.startswith("/"):  # a path: the pages at that very path (and query), on whatever host
        wanted = _path_of(normalize_url(f"http://host.invalid{text}") or "")
        candidates = [dict(r) for r in conn.execute(
            "SELECT url, page_type, title FROM pages WHERE substr(url, -length(:path)) = :path "
            "AND (:type IS NULL OR page_type = :type) ORDER BY url", {"path": wanted, "type": page_type})]
        candidates = [c for c in candidates if _path_of(c["url"]) == wanted]
    else:
        candidates = [dict(r) for r in conn.execute(
            "SELECT url, page_type, title FROM pages WHERE slug = ? AND (? IS NULL OR page_type = ?) ORDER BY url",
            [_spelled_slug(slug), page_type, page_type],
        )]
    if not text.startswith("/") and len(candidates) > 1 and page_type is None:
        # An area's slug is shared by its resource pages: the area itself is meant.
        candidates = [c for c in candidates if c["page_type"] != "area_resource"] or candidates
    if not candidates:
        # A name with a dot that no page has for its slug: a host's, as "host/" is ("127.0.0.1", "example.com").
        home = normalize_url(f"http://{text}/") if "/" not in text and "." in text.strip(".") else None
        if home and conn.execute("SELECT 1 FROM pages WHERE url = ?", [home]).fetchone():
            return home
        what = f"at the path {quoted(text)}" if text.startswith("/") else f"has the slug {quoted(slug)}"
        failed = _unarchived_urls(conn, wanted if text.startswith("/") else None, slug, page_type)
        why = _why_none(conn, failed[0], named=True) if len(failed) == 1 else ""
        nor = f", nor is one archived at {safe_text(home, one_line=True)}" if home else ""
        also = "" if text.startswith("/") else _slug_hint(conn, text, slug, page_type)
        raise BadArgument(f"no archived {page_type + ' ' if page_type else ''}page {what}{nor}{why}{also}")
    if len(candidates) > 1:
        raise Ambiguous(text if text.startswith("/") else slug, candidates, typed=page_type is not None)
    return candidates[0]["url"]


# A host and its port, with nothing after them: "127.0.0.1:9450", "localhost:8000", "[::1]:8000".
_HOST_AND_PORT = re.compile(r"(?:[\w.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}")


def _why_none(conn: sqlite3.Connection, url: str | None, named: bool = False) -> str:
    """What to add to "no archived page at ``url``": where it redirected when it last did (a redirect is no
    error, and tells where the page is), else the last error its fetch or reading met, if any (and,
    ``named``, at which URL: the user gave a path or a slug)."""
    failed = url and conn.execute("SELECT run_id, stage, error FROM crawl_errors WHERE url = ? ORDER BY id DESC "
                                  "LIMIT 1", [url]).fetchone()
    moved = url and _redirect(conn, url, "moved")
    if moved and (not failed or moved["run_id"] > failed[0]):  # the error of the same run says it better
        return f"; {safe_text(url, one_line=True) if named else 'it'} {_redirected(conn, moved)}"
    if not failed:
        return ""
    where = f", {safe_text(url, one_line=True)}" if named else ""
    return f"; its last error (run #{failed[0]}, {failed[1]}{where}): {safe_text(failed[2], one_line=True)}"


# Redirects followed from one URL to the page they lead to, at most: a loop, or a chain longer, ends unfollowed.
REDIRECTS_FOLLOWED = 20


def _redirect(conn: sqlite3.Connection, url: str, *outcomes: str) -> dict[str, Any] | None:
    """The last capture of ``url`` of one of ``outcomes``, if it was a redirect: its run, its status and its
    target (:func:`_location`)."""
    row = conn.execute("SELECT run_id, http_status, headers FROM captures WHERE url = ? AND outcome IN "
                       "(SELECT value FROM json_each(?)) ORDER BY id DESC LIMIT 1", [url, json.dumps(outcomes)]
                       ).fetchone()
    target = _location(url, row) if row is not None else None
    return target and {"run_id": row["run_id"], "http_status": row["http_status"], "to": target}


def _location(url: str, capture: sqlite3.Row) -> str | None:
    """Where a capture of ``url`` redirected: its Location made whole, spelt as the archive spells URLs; None
    for a capture that was no redirect."""
    if not 300 <= (capture["http_status"] or 0) < 400:
        return None
    for line in (capture["headers"] or "").splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "location" and value.strip():
            target = urljoin(url, value.strip())
            return normalize_url(target) or target
    return None


# A capture's outcome where the page answered itself: after one that found it gone, it is back.
_ANSWERED = ("new", "changed", "unchanged", "not_modified")


def gone_and_back(conn: sqlite3.Connection, url: str) -> list[dict[str, Any]]:
    """When a page went and when it came back, oldest first: ``event`` (``gone``, ``back``), ``at`` (the fetch
    that found it so), ``run_id``, ``command``, ``http_status``, and ``to``: where a redirect that marked it
    gone sent it (None for any other event). A page goes by a 404 or a 410, a redirect, or the site's "not
    found" page answered with 200 (which the quality gate marks gone)."""
    commands = dict(conn.execute("SELECT id, command FROM crawl_runs").fetchall())
    found = conn.execute("SELECT run_id, fetched_at, http_status, outcome, headers FROM captures WHERE url = ? AND "
                         "outcome IN (SELECT value FROM json_each(?)) ORDER BY id",
                         [url, json.dumps(["gone", "still_gone", *_ANSWERED])])
    events, gone = [], False
    for capture in found:
        went = capture["outcome"] not in _ANSWERED
        if went != gone:
            events.append({"event": "gone" if went else "back", "at": capture["fetched_at"],
                           "run_id": capture["run_id"], "command": commands.get(capture["run_id"]),
                           "http_status": capture["http_status"], "to": _location(url, capture) if went else None})
        gone = went
    return events


def _redirected(conn: sqlite3.Connection, moved: dict[str, Any]) -> str:
    """"redirected to …" for a redirect :func:`_redirect` found, and the page it leads to, through the archived
    redirects of the URLs it went on to: the one to show."""
    target = safe_text(moved["to"], one_line=True)
    said = f"redirected to {target} (run #{moved['run_id']}, HTTP {moved['http_status']})"
    seen, url = {moved["to"]}, moved["to"]
    while not conn.execute("SELECT 1 FROM pages WHERE url = ?", [url]).fetchone():
        onward = _redirect(conn, url, "moved")
        if onward is None or onward["to"] in seen or len(seen) > REDIRECTS_FOLLOWED:
            return f"{said}, which is not archived"
        seen.add(url := onward["to"])
    shown = safe_text(url, one_line=True)
    return f"{said}{'' if url == moved['to'] else f', and on to {shown}'}: glossary show {shown}"


def _unarchived_urls(conn: sqlite3.Connection, path: str | None, slug: str, page_type: str | None) -> list[str]:
    """The URLs with no archived page that met an error or redirected, at ``path`` (and query), or else of
    ``slug``."""
    if path is not None:
        found = conn.execute("SELECT url FROM crawl_errors WHERE substr(url, -length(:p)) = :p UNION SELECT url "
                             "FROM captures WHERE outcome = 'moved' AND substr(url, -length(:p)) = :p", {"p": path})
        urls = [url for (url,) in found if _path_of(url) == path]
    else:
        spelled = _spelled_slug(slug)
        found = conn.execute("SELECT url FROM crawl_errors WHERE instr(url, :s) UNION SELECT url FROM captures "
                             "WHERE outcome = 'moved' AND instr(url, :s)", {"s": f"/{spelled}/"})
        urls = [url for (url,) in found if classify(url).slug == spelled]
    kinds = {url: classify(url).page_type for url in urls
             if not conn.execute("SELECT 1 FROM pages WHERE url = ?", [url]).fetchone()}
    urls = [url for url, kind in kinds.items() if page_type in (None, kind)]
    if path is None and page_type is None:  # as for the pages: an area's, not its resource pages'
        urls = [url for url in urls if kinds[url] != "area_resource"] or urls
    return urls


def _slug_hint(conn: sqlite3.Connection, text: str, slug: str, page_type: str | None) -> str:
    """What a slug no page has may have meant: the slug as a site writes them (lower-case, words joined by
    hyphens: 'Legal Technology' is legal-technology), or, for words, a search."""
    near = _spelled_slug(re.sub(r"[\s_]+", "-", slug.strip()).lower())
    known = "SELECT 1 FROM pages WHERE slug = ? AND (? IS NULL OR page_type = ?)"
    if near != _spelled_slug(slug) and conn.execute(known, [near, page_type, page_type]).fetchone():
        return f"; did you mean {quoted(near)}?"
    if " " in text.strip():
        return f"; to find pages by their words: glossary search {shell_word(text.strip())}"
    return ""


def _spelled_slug(slug: str) -> str:
    """A slug as the archive spells it, as a URL's path spells it: ``café``, ``caf%c3%a9`` and ``caf%C3%A9``
    are ``caf%C3%A9``, ``%7Evega`` is ``~vega``."""
    url = normalize_url("http://host.invalid/" + slug.replace("?", "%3F").replace("#", "%23") + "/")
    return urlsplit(url).path.strip("/") if url else slug


def _path_of(url: str) -> str:
    """A URL's path and query, as the archive spells them."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def page(conn: sqlite3.Connection, url: str) -> dict[str, Any]:
    """A page's record with its sections, links by kind, incoming links and JSON-LD; ``moved_to``: where the
    redirect that marked it gone sent it (None for a page live, or gone otherwise)."""
    row = page_record(conn, dict(conn.execute("SELECT * FROM pages WHERE url = ?", [url]).fetchone()))
    moved = _redirect(conn, url, "gone", "still_gone") if row["status"] == "gone" else None
    row["moved_to"] = moved and moved["to"]
    links: dict[str, list[dict[str, Any]]] = {}
    for link in row["links"]:
        links.setdefault(link["kind"], []).append({k: link[k] for k in ("to_url", "anchor_text", "summary", "facet")})
    row["links"] = links
    row["linked_from"] = [dict(r) for r in conn.execute(_LINKED_FROM, {"url": url})]
    return row


# The pages that link to :url, by kind: directly, or (``via``) to a URL that redirects there (REDIRECTS).
_LINKED_FROM = "WITH RECURSIVE" + REDIRECTS + """
SELECT l.from_url, l.kind, p.title, p.status, NULL AS via FROM links l LEFT JOIN pages p ON p.url = l.from_url
WHERE l.to_url = :url AND l.from_url != :url GROUP BY l.from_url, l.kind
UNION ALL
SELECT f.url, l.kind, p.title, p.status, min(r.url) FROM redirects r CROSS JOIN urls t ON t.url = r.url
CROSS JOIN link_rows l ON l.to_id = t.id CROSS JOIN urls f ON f.id = l.from_id LEFT JOIN pages p ON p.url = f.url
WHERE r.to_url = :url AND f.url != :url GROUP BY f.url, l.kind
ORDER BY 2, 1, 5"""


def history(conn: sqlite3.Connection, url: str) -> list[dict[str, Any]]:
    """A page's versions, oldest first: each one's title, summary, body text and record (sections,
    links, structured data), with the run that made it and its word count."""
    from glossary_spider.extraction.tree import word_count  # lxml's load, for this command alone

    commands = dict(conn.execute("SELECT id, command FROM crawl_runs").fetchall())
    return [{"version": v["version"], "captured_at": v["captured_at"], "run_id": v["run_id"],
             "command": commands.get(v["run_id"]), "extractor_version": v["extractor_version"],
             "content_hash": v["content_hash"], "title": v["title"],
             "words": word_count(v["body_text"]) if v["body_text"] is not None else None,
             "summary": v["summary"], "body_text": v["body_text"], "record": v["record"]}
            for v in page_history(conn, url)]


@dataclass
class Change:
    field: str
    tokens: list[tuple[str, str]]  # (op, text): op is "=", "-" or "+"


# What ``--diff`` takes: two versions, ``A..B``.
VERSIONS_SPEC = re.compile(r"\s*(\d+)\s*\.\.\s*(\d+)\s*")


def diff(conn: sqlite3.Connection, url: str, spec: str | None = None) -> tuple[int, int, list[Change]]:
    """A word-level diff of a page between two versions (``A..B``; by default the last two)."""
    found = {v["version"]: v for v in page_history(conn, url)}
    versions = list(found)
    if len(versions) < 2 and not spec:
        raise BadArgument(f"{url} has only {counted(len(versions), 'version')}: nothing to compare")
    if spec:
        match = VERSIONS_SPEC.fullmatch(spec)
        if not match:
            raise BadArgument(f"--diff {spec!r} is not of the form A..B (e.g. 1..2)")
        a, b = int(match[1]), int(match[2])
        missing = [v for v in (a, b) if v not in versions]
        if missing:
            raise BadArgument(f"{url} has no version {missing[0]} (it has {', '.join(map(str, versions))})")
    else:
        a, b = versions[-2], versions[-1]
    old, new = found[a], found[b]
    changes = []
    for name in ("title", "summary", "body_text"):
        if old[name] != new[name]:
            words = word_diff(old[name] or "", new[name] or "")
            if all(op == "=" for op, _ in words):  # the same words: blocks parted or joined, their breaks shown
                words = word_diff(old[name] or "", new[name] or "", breaks=True)
            changes.append(Change(name, words))
    for name, lines in LINE_FIELDS.items():
        before, after = lines(old["record"] or {}), lines(new["record"] or {})
        if before != after:
            changes.append(Change(name, line_diff(before, after)))
    return a, b, changes


# What a version's record holds besides its text, a line each: diffed line by line (at most MAX_LINES).
MAX_LINES = 5000


def _link_lines(record: dict[str, Any]) -> list[str]:
    return [f"{link['kind']} {link['to_url']}" + (f" ({link['anchor_text']})" if link.get("anchor_text") else "")
            for link in record.get("links", [])[:MAX_LINES]]


def _structured_lines(record: dict[str, Any]) -> list[str]:
    """Each value of the page's structured data (JSON-LD, microdata, OpenGraph) with its path:
    ``json-ld 1 author.name: "Greeks.live"``."""
    lines: list[str] = []
    for item in record.get("structured_data", []):
        stack: list[tuple[str, Any]] = [("", item.get("data"))]  # a stack, not recursion: JSON-LD nests deep
        while stack and len(lines) < MAX_LINES:
            path, value = stack.pop()
            if isinstance(value, dict) and value:
                stack += [(f"{path}.{key}" if path else str(key), v) for key, v in reversed(value.items())]
            elif isinstance(value, list) and value:
                stack += [(f"{path}[{i}]", v) for i, v in reversed(list(enumerate(value)))]
            else:
                lines.append(f"{item.get('syntax')} {item.get('position')} {path or '.'}: "
                             f"{json.dumps(value, ensure_ascii=False)}")
    return lines


LINE_FIELDS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "links": _link_lines, "structured_data": _structured_lines}


def line_diff(old: list[str], new: list[str]) -> list[tuple[str, str]]:
    """The lines removed (``-``) and added (``+``). A line removed in one place and added in another has
    moved (``~``), and is given once, where it now stands: a related list reordered."""
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op != "equal":
            out += [("-", line) for line in old[i1:i2]] + [("+", line) for line in new[j1:j2]]
    moved = Counter(line for op, line in out if op == "-") & Counter(line for op, line in out if op == "+")
    unsaid, placed = moved.copy(), moved
    diff = []
    for op, line in out:
        if op == "-" and unsaid[line] > 0:
            unsaid[line] -= 1
        elif op == "+" and placed[line] > 0:
            placed[line] -= 1
            diff.append(("~", line))
        else:
            diff.append((op, line))
    return diff


# The most words of a changed stretch (what lies between the words two texts begin and end with alike) that are
# aligned word by word: SequenceMatcher takes time growing with the square of them (37 s for one edit to a page
# of 250,000 characters). A longer stretch is shown removed and added whole.
DIFF_WORDS = 5_000


# A break between two blocks of a text (paragraphs, headings: a blank line), as a word of a diff with ``breaks``.
BREAK = "¶"


def word_diff(old: str, new: str, context: int = 8, breaks: bool = False) -> list[tuple[str, str]]:
    """Words kept (``=``), removed (``-``) and added (``+``), unchanged runs cut to ``context`` words; with
    ``breaks``, each break between blocks a word too (:data:`BREAK`)."""
    a, b = (_words(old), _words(new)) if breaks else (old.split(), new.split())
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in _word_opcodes(a, b):
        if op == "equal":
            words = a[i1:i2]
            if len(words) > 2 * context:
                words = words[:context] + ["…"] + words[-context:] if out else ["…"] + words[-context:]
            out.append(("=", " ".join(words)))
            continue
        if i2 > i1:
            out.append(("-", " ".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", " ".join(b[j1:j2])))
    if out and out[-1][0] == "=" and len(out[-1][1].split(" ")) > context:
        out[-1] = ("=", " ".join(out[-1][1].split(" ")[:context] + ["…"]))
    return out


def _words(text: str) -> list[str]:
    return [word for block in text.split("\n\n") for word in (BREAK, *block.split())][1:]


def _word_opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """SequenceMatcher's opcodes for the words ``a`` and ``b``: the words both begin and end with set aside first
    (an edit or two in a long page leave a short stretch between them), that stretch aligned word by word up to
    :data:`DIFF_WORDS`, past them replaced whole."""
    head = len(os.path.commonprefix([a, b]))
    tail = len(os.path.commonprefix([a[head:][::-1], b[head:][::-1]]))
    i2, j2 = len(a) - tail, len(b) - tail
    if max(i2 - head, j2 - head) <= DIFF_WORDS:
        middle = [(op, i1 + head, k1 + head, j1 + head, l1 + head) for op, i1, k1, j1, l1 in
                  difflib.SequenceMatcher(None, a[head:i2], b[head:j2], autojunk=False).get_opcodes()]
    else:
        middle = [("replace", head, i2, head, j2)]
    return [*([("equal", 0, head, 0, head)] if head else []), *middle,
            *([("equal", i2, len(a), j2, len(b))] if tail else [])]


# -- the health report ----------------------------------------------------------------------


# The ids (in urls) of the live pages: the report's link figures, as its views, count only the links they make.
_LIVE_IDS = " live(id) AS (SELECT u.id FROM pages p JOIN urls u ON u.url = p.url WHERE p.status = 'live')"


def report(conn: sqlite3.Connection, runs: int = 10, listed: int = 25,
           judged: Mapping[int, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The archive's health, and its last ``runs`` runs; ``judged``: the runs as ``glossary runs`` judges them
    (:func:`glossary_spider.runs.list_runs`), whose ``outcome``, ``exit_status`` and ``error`` say of a run
    with no end recorded whether it runs still or was killed."""
    def all_rows(sql: str, *params: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in conn.execute(sql, params)]

    def count(sql: str) -> int:
        return conn.execute(sql).fetchone()[0]

    decisions = held_decisions(conn)
    return {
        "pages": count("SELECT count(*) FROM pages"),
        "pages_by_type": all_rows(
            "SELECT page_type, status, count(*) AS pages FROM pages GROUP BY 1, 2 ORDER BY 1, 2"),
        "broken_related": {
            "count": count("SELECT count(*) FROM broken_links WHERE kind = 'related'"),
            "links": all_rows("SELECT from_url, to_url, anchor_text, target_status FROM broken_links "
                              "WHERE kind = 'related' ORDER BY from_url, position LIMIT ?", listed),
        },
        "orphans": {
            "count": count("SELECT count(*) FROM orphan_pages"),
            "pages": all_rows("SELECT url, page_type, title FROM orphan_pages ORDER BY url LIMIT ?", listed),
        },
        "one_way_related": {
            "count": count("SELECT count(*) FROM one_way_related"),
            "links": all_rows("SELECT from_url, to_url, anchor_text FROM one_way_related "
                              "ORDER BY from_url LIMIT ?", listed),
        },
        "errors_by_stage": all_rows(
            "SELECT stage, count(*) AS errors FROM crawl_errors GROUP BY stage ORDER BY stage"),
        "recent_errors": {
            "count": count("SELECT count(*) FROM crawl_errors"),
            "errors": all_rows("SELECT run_id, url, stage, http_status, error FROM crawl_errors "
                               "ORDER BY id DESC LIMIT ?", listed),
        },
        "runs": [
            # A run that never finished (killed, or still running) has its counts from its rows, as one refused
            # before it started has (0, as 'glossary runs' says); a held one what became of it (accepted, discarded).
            {**{k: v for k, v in run.items() if k not in ("args", "stats", "pid", "bytes")},
             **(run_counts(conn, run["id"]) if run["finished_at"] is None or was_refused(run["finish_reason"]) else {}),
             **{k: v for k, v in (judged or {}).get(run["id"], {}).items() if k in ("outcome", "exit_status", "error")},
             "decision": decisions.get(run["id"])}
            # *: an archive no writer has opened since columns were added lacks the newer ones.
            for run in all_rows("SELECT * FROM crawl_runs ORDER BY id DESC LIMIT ?", runs)
        ],
        "recent_changes": all_rows(
            """SELECT u.url, v.version, v.captured_at, CASE WHEN v.version = p.version THEN p.title ELSE v.title END
                      AS title
               FROM versions v JOIN urls u ON u.id = v.url_id JOIN pages p ON p.url = u.url
               WHERE v.version > 1 ORDER BY v.captured_at DESC, u.url LIMIT ?""", listed),
        "recent_changes_count": count("SELECT count(*) FROM versions WHERE version > 1"),
        "published_per_month": all_rows(
            """SELECT substr(published, 1, 7) AS month, count(*) AS pages FROM pages
               WHERE published IS NOT NULL GROUP BY 1 ORDER BY 1"""),
        # The live glossary pages, as orphan_pages counts them: the bar at 0 is the orphans. The few pages that
        # links reach through a redirect (ARRIVALS) are counted apart, each with its links of either way; the
        # others over the link rows' ids, as most_linked is (below).
        "inbound_links": all_rows(
            "WITH RECURSIVE" + REDIRECTS + "," + ARRIVALS + "," + _LIVE_IDS + """,
               counted(to_id, inbound) AS (SELECT to_id, count(DISTINCT from_id) FROM link_rows
                                           WHERE +from_id IN live AND +to_id != +from_id GROUP BY to_id)
               SELECT inbound, count(*) AS pages FROM (
                   SELECT p.url, coalesce(c.inbound, 0) AS inbound
                   FROM pages p LEFT JOIN urls u ON u.url = p.url LEFT JOIN counted c ON c.to_id = u.id
                   WHERE p.page_type != 'other' AND p.status = 'live'
                     AND p.url NOT IN (SELECT to_url FROM arrivals)
                   UNION ALL
                   SELECT l.to_url, count(DISTINCT l.from_url) FROM (
                       SELECT from_url, to_url FROM arrivals
                       UNION ALL
                       SELECT f.url, t.url FROM (SELECT DISTINCT to_url FROM arrivals) a
                       CROSS JOIN urls t ON t.url = a.to_url CROSS JOIN link_rows l ON l.to_id = t.id
                       CROSS JOIN urls f ON f.id = l.from_id CROSS JOIN pages fp ON fp.url = f.url
                       WHERE fp.status = 'live' AND f.url != t.url) l
                   JOIN pages p ON p.url = l.to_url AND p.page_type != 'other' AND p.status = 'live'
                   GROUP BY l.to_url)
               GROUP BY inbound ORDER BY inbound"""),
        # Counted over the link rows' ids, each row read once ("+": not looked up by the index of its ids, which
        # SQLite would do for every pair of live pages), and only the ten kept read as URLs: through the links
        # view, the count took 4.3 s for an archive of 20,000 pages, 0.2 s for 2,000.
        "most_linked": all_rows(
            "WITH" + _LIVE_IDS + """,
                    counted AS (SELECT to_id, count(DISTINCT from_id) AS inbound FROM link_rows
                                WHERE +from_id IN live AND +to_id IN live GROUP BY to_id)
               SELECT t.url, p.title, c.inbound FROM counted c
               JOIN urls t ON t.id = c.to_id JOIN pages p ON p.url = t.url
               ORDER BY c.inbound DESC, t.url LIMIT 10"""),
        "held_runs": held_runs(conn, runs),
    }


def what_answered(conn: sqlite3.Connection, run_id: int) -> dict[str, int]:
    """What the URLs a run asked about answered, in words (``answered 404 or 410``, ``were forbidden by
    robots.txt`` ...), most first: each URL counted once, by its last capture and error; ``sitemap``, the
    sitemaps it could not read."""
    return dict(conn.execute(
        """WITH e AS (SELECT url, stage, error, http_status FROM crawl_errors
                      WHERE id IN (SELECT max(id) FROM crawl_errors WHERE run_id = :run GROUP BY url)),
                c AS (SELECT url, outcome, http_status FROM captures
                      WHERE id IN (SELECT max(id) FROM captures WHERE run_id = :run GROUP BY url)),
                u AS (SELECT url FROM e UNION SELECT url FROM c)
           SELECT CASE WHEN e.stage = 'sitemap' THEN 'sitemap'
                       WHEN e.error = 'Forbidden by robots.txt' THEN 'were forbidden by robots.txt'
                       WHEN e.error LIKE 'soft 404%' OR (c.outcome IN ('gone', 'still_gone')
                                                         AND c.http_status = 200) THEN 'answered a "not found" page'
                       WHEN coalesce(e.http_status, c.http_status) IN (404, 410) THEN 'answered 404 or 410'
                       WHEN coalesce(e.http_status, c.http_status) BETWEEN 300 AND 399 THEN 'were redirected away'
                       ELSE 'answered what is no page' END, count(*)
           FROM u LEFT JOIN e ON e.url = u.url LEFT JOIN c ON c.url = u.url
           GROUP BY 1 ORDER BY count(*) DESC, 1""", {"run": run_id}).fetchall())


def held_reports(conn: sqlite3.Connection, run_id: int | None = None) -> list[dict[str, Any]]:
    """Every run the quality gate held (or only ``run_id``), oldest first: the gate's report, with
    ``decision`` and ``decided_at``, and the run's ``crawl_runs`` row as ``run``."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'gate_reports'").fetchone():
        return []  # an archive from before the gate
    held = conn.execute("SELECT run_id FROM gate_reports WHERE held = 1 AND (? IS NULL OR run_id = ?) "
                        "ORDER BY run_id", [run_id, run_id]).fetchall()
    return [{"run": dict(conn.execute("SELECT * FROM crawl_runs WHERE id = ?", [r]).fetchone()),
             **(read_gate_report(conn, r) or {}), "superseded_by": superseded_by(conn, r)} for (r,) in held]


def superseded_by(conn: sqlite3.Connection, run_id: int) -> int | None:
    """The first crawl or refresh after ``run_id`` that archived pages (it ended, was not held or was accepted
    since, and archived at least one page): a run held before it can no longer be accepted, its versions
    being older than the archive's. A run refused (locked out, bad arguments) or that archived nothing
    (every fetch failed) changed nothing, and supersedes nothing."""
    later = conn.execute(
        "SELECT id FROM crawl_runs r WHERE id > ? AND command IN ('crawl', 'refresh') AND finish_reason IS NOT NULL "
        "AND (finish_reason != 'held' OR EXISTS (SELECT 1 FROM gate_reports g WHERE g.run_id = r.id AND "
        "g.decision = 'accepted')) AND EXISTS (SELECT 1 FROM captures c WHERE c.run_id = r.id AND c.outcome IN "
        "('new', 'changed', 'unchanged', 'not_modified', 'gone')) ORDER BY id LIMIT 1", [run_id]).fetchone()
    return later[0] if later else None


def held_runs(conn: sqlite3.Connection, limit: int = 10) -> list[dict[str, Any]]:
    """The last runs the quality gate held, newest first, with what tripped it and what became of them."""
    return [{"run_id": r["run"]["id"], "command": r["run"]["command"], "started_at": r["run"]["started_at"],
             "decision": r["decision"] or ("held" if is_complete(r["run"]["finish_reason"]) else "held so far"),
             "pages": r.get("pages"), "superseded_by": r["superseded_by"],
             "tripped": [c for c in r["checks"] if c["tripped"]]} for r in held_reports(conn)[::-1][:limit]]


# -- export ---------------------------------------------------------------------------------


def iter_pages(conn: sqlite3.Connection, page_type: str | None = None) -> Iterator[dict[str, Any]]:
    """Every page row, in URL order, one at a time."""
    check_type(page_type)
    cursor = conn.execute(
        "SELECT * FROM pages WHERE (? IS NULL OR page_type = ?) ORDER BY url", [page_type, page_type])
    for row in cursor:
        yield dict(row)
