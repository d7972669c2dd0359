"""Re-extract every archived page from its stored body: no network, one run row."""

from __future__ import annotations

import sys
import time
from typing import Any

from glossary_spider.extraction import extract_page
from glossary_spider.storage import Archive


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
        reason = "shutdown"
    finally:
        if progress:
            sys.stderr.write("\n")
    stats = {"pages": done, "elapsed_time_seconds": round(time.monotonic() - started, 3)}
    return archive.finish_run(run_id, reason, stats, counts)
