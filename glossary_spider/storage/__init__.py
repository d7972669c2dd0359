"""The SQLite archive, one module per role:

- :mod:`.schema`: the tables, indexes and views, and the schema version;
- :mod:`.migrations`: bringing an archive of an earlier schema up to date, in place;
- :mod:`.records`: what a fetch is (:class:`~.records.Fetch`), and the time as the archive writes it;
- :mod:`.bodies`: raw response bodies, stored once each, compressed;
- :mod:`.history`: how earlier versions of a page are kept (what changed) and read back;
- :mod:`.writer`: every write of pages and their rows, a batch at a time;
- :mod:`.staging`: a run's pages waiting for the quality gate, archived, held or discarded;
- :mod:`.archive`: the archive opened for writing: runs, the frontier, and the modules above joined;
- :mod:`.readers`: reads shared by the crawl, the query commands, exports and the report;
- :mod:`.errors`: what can go wrong with an archive file, said in one line.
"""

from glossary_spider.storage.archive import Archive
from glossary_spider.storage.bodies import BodyCodec
from glossary_spider.storage.errors import (ArchiveError, ArchiveUnwritable, archive_path, busy_timeout_ms,
                                            cannot_read, cannot_write, damaged, existing_archive, is_damaged,
                                            is_locked, not_an_archive, unexpanded)
from glossary_spider.storage.readers import fetch_outcomes, page_record, read_gate_report, run_counts
from glossary_spider.storage.records import Fetch, now
from glossary_spider.storage.schema import FOREIGN_KEYS, READ_AS_IS, SCHEMA_VERSION, check_schema_version

__all__ = [
    "FOREIGN_KEYS", "READ_AS_IS", "SCHEMA_VERSION", "Archive", "ArchiveError", "ArchiveUnwritable", "BodyCodec", "Fetch",
    "archive_path", "busy_timeout_ms", "cannot_read", "cannot_write", "damaged", "check_schema_version",
    "existing_archive", "fetch_outcomes", "is_damaged", "is_locked", "not_an_archive", "now", "page_record",
    "read_gate_report", "run_counts", "unexpanded",
]
