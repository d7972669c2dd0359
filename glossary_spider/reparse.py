"""Re-extract every archived page from its stored body: no network, one run row."""

from __future__ import annotations

import sys
import time
from typing import Any

from glossary_spider.extraction import extract_page
from glossary_spider.outcome import INTERRUPTED_REASON
from glossary_spider.storage import Archive, now


BATCH = 200


def reparse_archive(archive: Archive, progress: bool = False) -> dict[str, Any]:
    """Rewrite every page's rows from its latest stored body; returns the finished run."""
    run_id = archive.start_run("reparse", {})
    counts = {"pages_changed": 0, "pages_unchanged": 0, "pages_failed": 0}
    started, done, reason = time.monotonic(), 0, "finished"
    pages = archive.stored_pages()
    try:
        while True:
            batch = [page for _, page in zip(range(BATCH), pages)]
            if not batch:
                break
            with archive.db.atomic():
                for state, content_type, body in batch:
                    try:
                        extraction = extract_page(body, state["url"], content_type)
                    except Exception as exc:  # one page that breaks extraction must not stop the rest
                        archive.record_error(run_id, state["url"], "parse", None, "extraction failed",
                                             f"{type(exc).__name__}: {exc}")
                        counts["pages_failed"] += 1
                        continue
                    outcome = archive.reparse_page(run_id, state, extraction.record, extraction.errors)
                    counts[f"pages_{outcome}"] += 1
            done += len(batch)
            if progress:
                rate = done / max(time.monotonic() - started, 1e-6)
                sys.stderr.write(f"\r\033[K{done} pages · {rate:.0f}/s · {counts['pages_changed']} changed")
                sys.stderr.flush()
    except KeyboardInterrupt:
        reason = INTERRUPTED_REASON
    finally:
        if progress:
            sys.stderr.write("\n")
    stats = {"pages": done, "elapsed_time_seconds": round(time.monotonic() - started, 3)}
    return archive.finish_run(run_id, reason, stats, counts)


def accept_held(archive: Archive, run_id: int) -> dict[str, int]:
    """Archive a run the quality gate held, its pages re-extracted from the captures it kept
    (so that an extraction fixed since handles them); returns the pages by outcome."""
    records = {}
    for row in archive.staged(run_id, "url, content_type, body_sha256"):
        body = archive.body(row["body_sha256"])
        if body is None:
            continue
        try:
            records[row["url"]] = extract_page(body, row["url"], row["content_type"]).record
        except Exception:  # the staged record, extracted when it was fetched, stands
            continue
    with archive.db.atomic():
        counts = archive.apply_staged(run_id, records)
        archive.db.table("crawl_runs").update(run_id, archive.run_counts(run_id))
        archive.db.execute("UPDATE gate_reports SET decision = 'accepted', decided_at = ? WHERE run_id = ?",
                           [now(), run_id])
    return counts
