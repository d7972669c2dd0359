"""A crawl's items written to its archive: a batch at a time, each in one transaction with the crawl
frontier it advances and the run's traffic so far, so that an interrupted crawl resumes exactly where
its archive stops.

:func:`write_items` writes a batch with an open :class:`~glossary_spider.storage.Archive`; the
pipeline (:class:`glossary_spider.pipelines.ArchivePipeline`) calls it in Scrapy's process, or hands
its batches to a writer process of their own that runs :func:`write_batches`, so that a crawl fetching
as fast as the site answers goes on fetching while they are written. Nothing here imports Scrapy: a
writer process needs only the archive.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from glossary_spider.items import FailureItem, GoneItem, LimitItem, MovedItem, NotModifiedItem, PageItem, VisitItem
from glossary_spider.storage import Archive, ArchiveError, cannot_write, is_damaged, is_locked


def write_items(archive: Archive, run_id: int, items: list[Any], traffic: dict[str, int]) -> list[str]:
    """Write ``items`` (the spider's, in the order it made them), mark the frontier they advance and
    record the run's ``traffic``, in one transaction. Returns the pages' outcomes, for the stats."""
    pages = [item for item in items if isinstance(item, PageItem)]
    done, pending, chains = [], [], {}
    with archive.db.atomic():
        outcomes = archive.stage_pages(run_id, [(p.fetch, p.extraction) for p in pages], [p.prepared for p in pages])
        for item in items:
            if isinstance(item, (PageItem, VisitItem)):
                done += [item.url if isinstance(item, VisitItem) else item.fetch.url, *item.aliases]
                pending += item.discovered
                if item.chain:
                    chains.update(dict.fromkeys(item.discovered, item.chain))
            elif isinstance(item, LimitItem):
                archive.record_error(run_id, item.url, item.stage, None, item.error, item.detail)
            elif isinstance(item, MovedItem):  # a redirect answered: its URL is done, wherever it led
                if outcome := archive.record_moved(run_id, item.fetch):
                    outcomes.append(outcome)
                done.append(item.fetch.url)
            else:
                outcomes.append(_write_outcome(archive, run_id, item))
                if not (isinstance(item, FailureItem) and item.unanswered):
                    done.append(item.url if isinstance(item, FailureItem) else item.fetch.url)
                if isinstance(item, FailureItem):
                    done += item.settles
        archive.mark_frontier(run_id, done=done, pending=pending, chains=chains)
        archive.record_traffic(run_id, traffic)
    return outcomes


def _write_outcome(archive: Archive, run_id: int, item: NotModifiedItem | GoneItem | FailureItem) -> str:
    """Write one item that is neither a page nor a visit; returns its outcome for the stats."""
    if isinstance(item, NotModifiedItem):
        archive.record_not_modified(run_id, item.fetch)
        return "not_modified"
    if isinstance(item, GoneItem) and (outcome := archive.record_gone(run_id, item.fetch)):
        return outcome
    if isinstance(item, GoneItem):
        status = item.fetch.http_status
        archive.record_failure(run_id, item.fetch.url, "fetch", status, f"HTTP {status}", fetch=item.fetch)
        return "failed"
    archive.record_failure(run_id, item.url, item.stage, item.http_status, item.error, item.detail, item.fetch)
    return "failed"


class WriteFailed(Exception):
    """A batch was not written, and was rolled back whole: SQLite refused it (a full disk, most often) or
    found the archive ``damaged``, as ``message`` says (:func:`~glossary_spider.storage.cannot_write`),
    or another program held its write lock (``locked``), or the writer process ``died`` with it in hand."""

    def __init__(self, message: str, damaged: bool = False, died: bool = False, locked: bool = False):
        super().__init__(message, damaged, died, locked)
        self.message = message
        self.damaged = damaged
        self.died = died
        self.locked = locked

    @classmethod
    def refused(cls, path: str, exc: sqlite3.DatabaseError) -> WriteFailed:
        """What SQLite's refusal ``exc`` to write the archive at ``path`` says."""
        return cls(cannot_write(path, exc, then="resume the run"), is_damaged(exc), locked=is_locked(exc))

    @classmethod
    def broken(cls, path: str, exc: BaseException, died: bool = False) -> WriteFailed:
        """What else broke a batch as it was written (no memory left, most often), rolled back whole; ``died``:
        the writer process with it."""
        what = "no memory left" if isinstance(exc, MemoryError) else f"{type(exc).__name__}: {exc}"
        return cls(f"cannot write the archive {path}: {what}; what was written is kept", died=died)


# The writer process's archive, opened on its first batch; and the failure that ended its writing.
_opened: dict[str, Any] = {}


def write_batches(path: str, run_id: int, batches: list[tuple[list[Any], dict[str, int]]],
                  ) -> list[list[str] | WriteFailed]:
    """What a crawl's writer process runs on the (items, traffic) batches it is handed: each batch's
    outcomes (:func:`write_items`), or why it was not written. Once one batch fails, so does every batch
    after it: the crawl stops, and its ``--resume`` fetches their pages again."""
    results: list[list[str] | WriteFailed] = []
    for items, traffic in batches:
        if (failed := _opened.get("failed")) is None:
            try:
                if "archive" not in _opened:
                    _opened["archive"] = Archive(path)
                results.append(write_items(_opened["archive"], run_id, items, traffic))
                continue
            except sqlite3.DatabaseError as exc:
                failed = _opened["failed"] = WriteFailed.refused(path, exc)
            except ArchiveError as exc:  # the archive cannot be opened
                failed = _opened["failed"] = WriteFailed(str(exc))
            except Exception as exc:  # no memory left, most often
                failed = _opened["failed"] = WriteFailed.broken(path, exc)
        results.append(failed)
    return results
