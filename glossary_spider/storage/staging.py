"""Staging: a run's pages wait here, captured but not yet archived, until the quality gate
(:mod:`glossary_spider.gate`) passes them, or holds them for someone to accept or discard."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

import orjson
import zstandard

from glossary_spider import fastjson
from glossary_spider.outcome import ARCHIVE_ERROR
from glossary_spider.storage.readers import read_gate_report, run_counts
from glossary_spider.storage.records import Fetch, now
from glossary_spider.storage.writer import Batch, insert, page_rows, record_digest


# A staged page's row -> the record to archive in place of its staged one, or None to archive that.
Reread = Callable[[dict[str, Any]], "dict[str, Any] | None"]


class Staging:
    """Staging and the gate's decisions (mixed into :class:`~glossary_spider.storage.archive.Archive`)."""

    def store_pages(self, run_id: int, batch: Iterable[tuple[Fetch, Any]]) -> list[str]:
        """Archive a batch of fetched pages and their extractions at once, past no gate.

        Returns each page's outcome: ``new``, ``changed`` or ``unchanged``.
        """
        with self.db.atomic():
            outcomes = self.stage_pages(run_id, batch)
            self.apply_staged(run_id)
        return outcomes

    def stage_pages(self, run_id: int, batch: Iterable[tuple[Fetch, Any]],
                    prepared: Sequence[Prepared | None] = ()) -> list[str]:
        """Keep a batch of fetched pages (their raw captures, and in ``staged`` the rows their records give)
        for :meth:`apply_staged` to archive once the quality gate has passed them. ``prepared``: the
        pages' :func:`prepare`, where an extraction worker made it already (the extraction's record
        then needs only the keys :data:`STAGED`).

        Returns each page's outcome as it would be archived now: ``new``, ``changed`` or ``unchanged``.
        """
        rows = Batch()
        outcomes = []
        staged = []
        with self.db.atomic():
            for (fetch, extraction), made in zip_longest(batch, prepared):
                record = extraction.record
                previous = self._page_state(record["url"])
                outcome = outcome_of(previous, record["content_hash"])
                body_sha = rows.body(self.codec, fetch.body, fetch.url)
                rows.capture(run_id, fetch, body_sha, outcome)
                for error in extraction.errors:
                    rows.error(run_id, record["url"], error["stage"], fetch.http_status, error["error"],
                               error.get("detail"))
                staged.append(_staged(run_id, record, fetch, body_sha, made or prepare(record)))
                outcomes.append(outcome)
            self.write(rows)
            if staged:
                insert(self.db, "staged", staged, conflict="OR REPLACE")
        return outcomes

    def fetched_words(self, run_id: int) -> Iterator[tuple[str, int]]:
        """The URL and word count of each page ``run_id`` fetched, staged or archived since (the trap guard
        of its resumption asks)."""
        yield from self.db.execute(
            "SELECT c.url, coalesce(s.words, p.word_count, 0) FROM captures c "
            "LEFT JOIN staged s ON s.run_id = c.run_id AND s.url = c.url LEFT JOIN pages p ON p.url = c.url "
            "WHERE c.run_id = ? AND c.outcome IN ('new', 'changed', 'unchanged', 'held')", [run_id]).fetchall()

    def staged(self, run_id: int) -> Iterator[dict[str, Any]]:
        """The pages ``run_id`` has staged, in the order it fetched them.

        Read a chunk at a time, with no statement left open between chunks, so that the
        caller may write meanwhile (SQLite refuses some writes while a read is pending).
        """
        last = 0
        while True:
            # "+run_id": walk the table in rowid order from where the last chunk ended. Through the
            # (run_id, url) index, SQLite would sort every staged row of the run for each chunk.
            cursor = self.db.execute("SELECT rowid AS _rowid, * FROM staged WHERE +run_id = ? AND rowid > ? "
                                     "ORDER BY rowid LIMIT ?", [run_id, last, _STAGED_CHUNK])
            names = [d[0] for d in cursor.description]
            found = cursor.fetchall()
            for row in found:
                record = dict(zip(names, row))
                last = record.pop("_rowid")
                yield record
            if len(found) < _STAGED_CHUNK:
                return

    def apply_staged(self, run_id: int, reread: Reread | None = None) -> dict[str, int]:
        """Archive every page ``run_id`` staged: pages, sections, links, structured data and a
        new version where the content changed; then forget them. One transaction.

        ``reread``: the record that replaces a staged page's (its row given), or None to keep it (a held run
        accepted after re-extraction), asked of each page in turn: no more than a batch of records is held at
        once. Returns the pages by outcome.
        """
        counts: dict[str, int] = {}
        with self.db.atomic():
            rows = Batch()
            for row in self.staged(run_id):
                override = reread(row) if reread is not None else None
                if override is not None:
                    page, digest = page_rows(override), record_digest(override)
                elif row["rows"] is not None:
                    page, digest = staged_rows(row["rows"]), row["record_digest"]
                else:  # staged as its record, before staging kept rows
                    record = staged_record(row["record"])
                    page, digest = page_rows(record), row["record_digest"] or record_digest(record)
                previous = self._page_state(row["url"])
                outcome = outcome_of(previous, page["page"]["content_hash"])
                fetch = Fetch(row["url"], row["http_status"], fetched_at=row["fetched_at"])
                # A page whose words are unchanged is rewritten, with no new version, where what else its
                # record says has changed (its author, dates, language, canonical URL, OpenGraph; the
                # extractor that read it): the archive holds each page's latest state.
                if outcome != "unchanged" or previous["status"] != "live" or previous["record_digest"] != digest:
                    version = 1 if previous is None else (previous["version"] or 0) + (outcome == "changed")
                    rows.add_rows(run_id, page, fetch, version=version, previous=previous,
                                  new_version=outcome != "unchanged", digest=digest)
                else:
                    rows.touched.append((fetch.http_status, fetch.fetched_at, run_id, row["url"]))
                rows.outcomes.append((outcome, run_id, row["url"]))
                counts[outcome] = counts.get(outcome, 0) + 1
                if len(rows) >= 500:  # bounded memory, however many pages
                    self.write(rows)
                    rows = Batch(rows.ids)
            self.write(rows)
            self.db.execute("DELETE FROM staged WHERE run_id = ?", [run_id])
            if gone := self._apply_gone(run_id):
                counts["gone"] = gone
        return counts

    def last_staged(self, run_id: int) -> dict[str, Any] | None:
        """The page ``run_id`` staged last (its ``staged`` row), or None."""
        cursor = self.db.execute("SELECT * FROM staged WHERE run_id = ? ORDER BY rowid DESC LIMIT 1", [run_id])
        row = cursor.fetchone()
        return None if row is None else dict(zip([d[0] for d in cursor.description], row))

    def restage(self, run_id: int, reread: Reread) -> int:
        """Stage anew each page ``run_id`` staged that ``reread`` gives a record for (its row given), in
        one transaction: a resume's pages an earlier release's extractor read. Returns how many."""
        count = 0
        with self.db.atomic():
            for row in self.staged(run_id):
                if (record := reread(row)) is not None:
                    values = _read(record, prepare(record))
                    self.db.execute(f"UPDATE staged SET {', '.join(f'{name} = ?' for name in values)} "
                                    "WHERE run_id = ? AND url = ?", [*values.values(), run_id, row["url"]])
                    count += 1
        return count

    def _apply_gone(self, run_id: int) -> int:
        """Mark gone the live pages that went in ``run_id`` (its held ones too: a held run accepted);
        returns how many."""
        gone = self.db.execute(
            "UPDATE pages SET status = 'gone', http_status = c.http_status, last_fetched = c.fetched_at, run_id = ? "
            "FROM (SELECT url, http_status, fetched_at FROM captures WHERE run_id = ? AND outcome IN ('gone', 'held') "
            f"AND {GONE}) AS c WHERE c.url = pages.url AND pages.status = 'live'", [run_id, run_id]).rowcount
        self.db.execute(f"UPDATE captures SET outcome = 'gone' WHERE run_id = ? AND outcome = 'held' AND {GONE}",
                        [run_id])
        return gone

    def archive_staged(self, run_id: int, soft_404: Iterable[str] = (), kept: Mapping[str, str | None] | None = None,
                       reread: Reread | None = None) -> dict[str, int]:
        """Archive what ``run_id`` staged as a gate that passed it does, in one transaction: the soft 404s
        marked gone (:meth:`mark_soft_404`), the blank and cut pages ``kept`` as archived (:meth:`keep_archived`),
        every other page archived (:meth:`apply_staged`, with ``reread``). Returns the pages by outcome."""
        with self.db.atomic():
            self.mark_soft_404(run_id, soft_404)
            self.keep_archived(run_id, kept or {})
            return self.apply_staged(run_id, reread)

    def accept_staged(self, run_id: int, soft_404: Iterable[str], kept: Mapping[str, str | None],
                      reread: Reread | None = None) -> dict[str, int]:
        """Archive a run the quality gate held (:meth:`archive_staged`), its counts and the gate's report
        saying so. Returns the run's counts, as its ``crawl_runs`` row now holds them."""
        with self.db.atomic():
            self.archive_staged(run_id, soft_404, kept, reread)
            counts = run_counts(self.db, run_id)
            self.db.table("crawl_runs").update(run_id, counts)
            self.db.execute("UPDATE gate_reports SET decision = 'accepted', decided_at = ? WHERE run_id = ?",
                            [now(), run_id])
        return counts

    def hold_staged(self, run_id: int, report: dict[str, Any], kept: Mapping[str, str | None] | None = None) -> None:
        """Keep what ``run_id`` staged out of the archive's pages: its captures say ``held``. Its ``kept``
        pages are failed pages of the run whatever becomes of it (:meth:`keep_archived`), as the gate says."""
        with self.db.atomic():
            self.keep_archived(run_id, kept or {})
            self.db.execute("UPDATE captures SET outcome = 'held' WHERE run_id = ? AND url IN "
                            "(SELECT url FROM staged WHERE run_id = ?) AND outcome IN ('new', 'changed', 'unchanged')",
                            [run_id, run_id])
            # Not the pages a resumed run's earlier parts, which passed the gate, marked gone already.
            self.db.execute(f"UPDATE captures SET outcome = 'held' WHERE run_id = ? AND outcome = 'gone' AND {GONE} "
                            "AND url IN (SELECT url FROM pages WHERE status = 'live')", [run_id])
            self.save_gate_report(run_id, report, held=True)

    def discard_staged(self, run_id: int) -> int:
        """Forget the versions a held run staged, and the pages it found gone; its raw captures stay.
        Returns how many pages."""
        with self.db.atomic():
            count = self.db.execute("SELECT count(*) FROM staged WHERE run_id = ?", [run_id]).fetchone()[0]
            count += self.db.execute(f"SELECT count(*) FROM captures WHERE run_id = ? AND outcome = 'held' AND {GONE}",
                                     [run_id]).fetchone()[0]
            self.db.execute("DELETE FROM staged WHERE run_id = ?", [run_id])
            self.db.execute("UPDATE captures SET outcome = 'discarded' WHERE run_id = ? AND outcome = 'held'",
                            [run_id])
            self.db.execute("UPDATE gate_reports SET decision = 'discarded', decided_at = ? WHERE run_id = ?",
                            [now(), run_id])
        return count

    def abandon_staged(self, run_id: int) -> None:
        """Forget what a stopped run left for its ``--resume``, now that a new run has taken its place (the
        new one fetches its pages again): its staged pages and the pages it found gone that the gate has
        not passed yet, whose captures say ``discarded`` (the raw captures stay), and its frontier."""
        with self.db.atomic():
            self.db.execute(
                "UPDATE captures SET outcome = 'discarded' WHERE run_id = ? AND (outcome IN ('new', 'changed', "
                "'unchanged', 'held') AND url IN (SELECT url FROM staged WHERE run_id = ?) "
                f"OR outcome IN ('gone', 'held') AND {GONE} AND url IN (SELECT url FROM pages WHERE status = 'live'))",
                [run_id, run_id])
            self.db.execute("DELETE FROM staged WHERE run_id = ?", [run_id])
            self.db.execute("DELETE FROM frontier WHERE run_id = ?", [run_id])
            self.db.execute("UPDATE gate_reports SET decision = 'discarded', decided_at = ? WHERE run_id = ? "
                            "AND decision IS NULL", [now(), run_id])

    def unjudged(self, run_id: int) -> bool:
        """Whether the last part of the stopped run ``run_id`` ended before the quality gate judged it: killed
        (``kill -9``, the OOM killer: no end recorded) or ended by a write the archive refused. A part the gate
        held so far has its report (:meth:`ask_again`); one it passed left nothing staged."""
        report = self.gate_report(run_id)
        return (self.run(run_id)["finish_reason"] in (None, ARCHIVE_ERROR)
                and (report is None or not report["held"] or report["decision"] is not None))

    def ask_again(self, run_id: int) -> int:
        """Set aside the answers of a stopped run the quality gate held so far, as its resume begins: they
        are what tripped the gate (an outage's 404s, a maintenance page, what is not a page, every URL sent to
        one page), and judged with the rest of the run once the site is back, too few to trip it again, they
        would become the archive's. Their captures say ``discarded`` (the raw captures stay), the pages they
        staged go, and their URLs wait in the frontier to be asked again (state ``asked``: past the trap guard,
        which the held part's answers, 404s and pages alike without text, led to cut their families), so that
        each page's latest answer stands. A page is asked again :data:`ASKED_AGAIN_AT_MOST` times: its last
        answer then stays, held or not, to be judged with the rest of the run (a site that really changed would
        otherwise be asked the same pages at every resume, and a run under a budget never end). The held report
        goes: the resumed run is judged anew. Returns how many URLs; 0 for a run not held."""
        report = self.gate_report(run_id)
        if report is None or not report["held"] or report["decision"] is not None:
            return 0
        run = self.db.table("crawl_runs").get(run_id)
        with self.db.atomic():
            self.db.execute("DROP TABLE IF EXISTS temp.asked_again")
            # The held part's answers: those since it started (the failed fetches of earlier parts, which passed
            # the gate, are theirs).
            self.db.execute(
                "CREATE TEMP TABLE asked_again AS SELECT DISTINCT url FROM captures c WHERE run_id = :run AND "
                "outcome IN ('held', 'failed', 'moved') AND fetched_at >= :part AND (SELECT count(*) FROM captures d "
                "WHERE +d.run_id = :run AND d.url = c.url AND d.outcome = 'discarded') < :most",
                {"run": run_id, "part": run["resumed_at"] or run["started_at"], "most": ASKED_AGAIN_AT_MOST})
            self.db.execute("UPDATE captures SET outcome = 'discarded' WHERE run_id = ? AND outcome IN "
                            "('held', 'failed', 'moved') AND url IN (SELECT url FROM asked_again)", [run_id])
            self.db.execute("DELETE FROM staged WHERE run_id = ? AND url IN (SELECT url FROM asked_again)", [run_id])
            count = self.db.execute(
                "INSERT INTO frontier (run_id, url, state) SELECT ?, url, 'asked' FROM asked_again WHERE true "
                "ON CONFLICT (run_id, url) DO UPDATE SET state = 'asked'", [run_id]).rowcount
            self.db.execute("DROP TABLE asked_again")
            self.db.execute("DELETE FROM gate_reports WHERE run_id = ?", [run_id])
        return count

    def mark_soft_404(self, run_id: int, urls: Iterable[str]) -> None:
        """Pages that answered the site's "not found" page with 200: gone, as a 404 would make them,
        and never a version; a URL the archive never had gets a ``fetch`` error instead."""
        with self.db.atomic():
            for url in urls:
                (status, fetched_at), = self.db.execute(
                    "SELECT http_status, fetched_at FROM staged WHERE run_id = ? AND url = ?", [run_id, url])
                state = self._page_state(url)
                if state is not None:
                    self.db.execute("UPDATE pages SET status = 'gone', http_status = ?, last_fetched = ?, run_id = ? "
                                    "WHERE url = ?", [status, fetched_at, run_id, url])
                    outcome = "still_gone" if state["status"] == "gone" else "gone"
                else:
                    self.record_error(run_id, url, "fetch", status, "soft 404: the site's \"not found\" page, "
                                      "served with a success status")
                    outcome = "failed"
                self.db.execute("UPDATE captures SET outcome = ? WHERE +run_id = ? AND url = ? AND outcome IN "
                                "('new', 'changed', 'unchanged', 'held')", [outcome, run_id, url])
                self.db.execute("DELETE FROM staged WHERE run_id = ? AND url = ?", [run_id, url])

    def keep_archived(self, run_id: int, kept: Mapping[str, str | None]) -> None:
        """Pages that came back with no text, or cut short, where the archive's versions are whole (no new
        version), or new with neither title nor text (not archived), as the quality gate found them: each a
        ``parse`` error of the run (a cut page's the gate's words, saying what it lost), its capture
        ``failed``."""
        with self.db.atomic():
            for url, cut in kept.items():
                (status,), = self.db.execute("SELECT http_status FROM staged WHERE run_id = ? AND url = ?",
                                             [run_id, url])
                archived = self.db.execute("SELECT 1 FROM pages WHERE url = ?", [url]).fetchone()
                if cut:
                    error = cut
                elif archived:
                    error = "blank: no text, where the archived version has some; it stays as it was"
                else:
                    error = "blank: no title and no text; not archived"
                self.record_error(run_id, url, "parse", status, error)
                self.db.execute("UPDATE captures SET outcome = 'failed' WHERE +run_id = ? AND url = ? AND outcome IN "
                                "('new', 'changed', 'unchanged', 'held')", [run_id, url])
                self.db.execute("DELETE FROM staged WHERE run_id = ? AND url = ?", [run_id, url])

    def save_gate_report(self, run_id: int, report: dict[str, Any], held: bool) -> None:
        self.db.table("gate_reports").upsert(
            {"run_id": run_id, "held": int(held), "report": json.dumps(report, sort_keys=True), "decision": None,
             "decided_at": None}, pk="run_id")

    def gate_report(self, run_id: int) -> dict[str, Any] | None:
        return read_gate_report(self.db.conn, run_id)


_STAGED_CHUNK = 500  # staged pages read at a time (Staging.staged)

# How many times a resumed run asks again about a page whose answer a part of it held (Staging.ask_again): an
# outage over as many parts of a run is no page's deletion, and a site that really changed gets a run that ends.
ASKED_AGAIN_AT_MOST = 3

# Of a run's captures with outcome "gone" (or "held", while the gate holds the run), those of archived
# pages that went (a 404 or 410, or a redirect elsewhere), whose pages go only once the gate has passed
# the run: the staged pages' captures have a body. Those of a page already gone are "still_gone".
GONE = "body_sha256 IS NULL"


def outcome_of(previous: dict[str, Any] | None, content_hash: str) -> str:
    if previous is None:
        return "new"
    return "changed" if previous["content_hash"] != content_hash else "unchanged"


# What staging reads of an extracted record that comes with its Prepared: a crawl's extraction
# workers send only these, the rest being in the Prepared's rows.
STAGED = ("url", "page_type", "content_hash", "title", "word_count")


@dataclass(frozen=True)
class Prepared:
    """What staging a page computes from its extracted record alone (:func:`prepare`): made where the
    page was extracted, an extraction worker, rather than on the crawl's loop."""

    text_hash: str
    related: int
    jsonld: int
    rows: bytes  # the record's page_rows, zstd-compressed JSON
    digest: str  # :func:`~glossary_spider.storage.writer.record_digest`


def text_hash(title: str | None, body_text: str | None) -> str:
    """What tells pages answering the same text apart from the rest: a hash of their title and text."""
    return hashlib.sha256(f"{title or ''}\n{body_text or ''}".encode()).hexdigest()


def prepare(record: dict[str, Any]) -> Prepared:
    """The page's :class:`Prepared`. Its rows are what archiving it writes (:func:`page_rows`), kept so
    that the run's close only reads them back: it would otherwise spend a third of its time making them
    from the record again, on Scrapy's loop, after the crawl, with the extraction workers idle. They hold
    strings, integers and None alone, which orjson writes and reads back as they were."""
    return Prepared(
        text_hash=text_hash(record["title"], record["body_text"]),
        related=sum(1 for link in record["links"] if link["kind"] == "related"),
        jsonld=sum(1 for item in record["structured_data"] if item["syntax"] == "json-ld"),
        rows=kept_rows(page_rows(record)),
        digest=record_digest(record),
    )


def kept_rows(rows: dict[str, Any]) -> bytes:
    """A page's rows (:func:`page_rows`) as staging keeps them: zstd-compressed JSON."""
    return _zstd().compressor.compress(orjson.dumps(rows))


def staged_rows(stored: bytes) -> dict[str, Any]:
    """The rows :func:`prepare` kept."""
    return orjson.loads(_zstd().decompressor.decompress(stored))


def _holds_float(record: Any) -> bool:
    """Whether a staged record read back by orjson holds a float: it may have been an integer past 64
    bits that json wrote. Only its structured data, read from the page, can; however deep it is, orjson
    reads it as json would (and json wrote it)."""
    try:
        return any(fastjson.needs_json(item["data"], max_depth=None) for item in record["structured_data"])
    except (KeyError, TypeError):  # not a record as staging wrote one: json reads it, as it always did
        return True


_threads = threading.local()


def _zstd() -> threading.local:
    """This thread's zstd contexts for staged records, made once: making one costs as much as its use."""
    if not hasattr(_threads, "compressor"):
        _threads.compressor = zstandard.ZstdCompressor(level=3)
        _threads.decompressor = zstandard.ZstdDecompressor()
    return _threads


def _staged(run_id: int, record: dict[str, Any], fetch: Fetch, body_sha: str, prepared: Prepared) -> dict[str, Any]:
    """A ``staged`` row: the page's rows, and the few numbers the quality gate reads."""
    return {
        "run_id": run_id, "url": record["url"], "http_status": fetch.http_status, "fetched_at": fetch.fetched_at,
        "content_type": fetch.content_type, "body_sha256": body_sha, **_read(record, prepared),
    }


def _read(record: dict[str, Any], prepared: Prepared) -> dict[str, Any]:
    """The columns of a ``staged`` row that its extraction gives."""
    return {
        "page_type": record["page_type"], "content_hash": record["content_hash"], "text_hash": prepared.text_hash,
        "title": record["title"], "words": record.get("word_count") or 0, "related": prepared.related,
        "jsonld": prepared.jsonld, "rows": prepared.rows, "record_digest": prepared.digest, "record": None,
    }


def staged_extractor(row: dict[str, Any]) -> int:
    """The version of the extractor that read a ``staged`` row's page (0 where its record does not say)."""
    page = staged_rows(row["rows"])["page"] if row["rows"] is not None else staged_record(row["record"])
    return page.get("extractor_version") or 0


def staged_record(stored: bytes | str) -> dict[str, Any]:
    """A record staged before staging kept rows: zstd-compressed JSON (plain JSON before schema 2)."""
    if isinstance(stored, str):
        return json.loads(stored)
    return fastjson.loads(_zstd().decompressor.decompress(stored), check=_holds_float)
