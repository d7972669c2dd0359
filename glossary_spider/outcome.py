"""How a run ended, and the exit status that says so: the one place that decides both.

The command line exits with :func:`exit_status`; ``crawl_runs`` records the same
number, so a monitor reading the archive sees what cron would have seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any, NamedTuple


class ExitStatus(IntEnum):
    """Exit statuses of every ``glossary`` command (the README's table lists the same)."""

    DONE = 0  # done; pages that failed are recorded in crawl_errors
    FAILED = 1  # something stopped the work early: interrupted, shut down, an error; or it left no page archived
    BAD_INPUT = 2  # bad arguments or input, or an archive that cannot be written
    LOCKED = 3  # another run holds the archive's lock
    STOPPED_EARLY = 4  # a budget the user set (pages, requests, duration) stopped the run; --resume continues
    HELD = 5  # the quality gate held the run's new versions back; see 'glossary held'
    UNREACHABLE = 6  # (nearly) every fetch failed: the site is down or cannot be reached


# Finish reasons of a run that did all its work.
FINISHED_REASON = "finished"
COMPLETE_REASONS = (FINISHED_REASON,)
# The finish reason of a run in which (nearly) every fetch failed. It can be resumed once the site
# answers: the fetches that got no answer are still to do.
UNREACHABLE_REASON = "unreachable"
# The finish reason of a reparse that could read (nearly) none of the archive's stored pages again: their bodies
# damaged, most often. Done all the same: the next reparse reads every page again.
UNREADABLE_REASON = "unreadable"
# The finish reason of a crawl or refresh that did all its work, yet left the archive with no page: every URL it
# asked about answered 404 or 410, a "not found" page or what is no page, or robots.txt forbade it, or its sitemaps
# could not be read. A failure (its start URLs or sitemaps are wrong, or the site moved) with nothing to resume.
EMPTY_REASON = "empty"
# The finish reason of a crawl that archived its --max-pages.
MAX_PAGES_REASON = "max_pages"
# Finish reasons of a run that a budget stopped: it can be resumed, like an interrupted one.
BUDGET_REASONS = (MAX_PAGES_REASON, "closespider_itemcount", "closespider_pagecount", "closespider_timeout")
# Finish reasons of a run refused before it fetched or wrote anything: nothing to resume.
BAD_ARGUMENT = "bad_argument"
LOCKED_OUT = "locked"
UNWRITABLE = "archive_unwritable"  # the archive refused the run's first write (a full disk, a read-only file)
REFUSED_REASONS = (BAD_ARGUMENT, LOCKED_OUT, UNWRITABLE)
# A batch the archive refused to write (a full disk, most often); --resume fetches it again.
ARCHIVE_ERROR = "archive_error"
# The option that sets each budget, for messages.
BUDGET_OPTIONS = {
    "max_pages": "--max-pages",
    "closespider_itemcount": "--max-pages",
    "closespider_pagecount": "--max-requests",
    "closespider_timeout": "--max-duration",
}
# The finish reason of a run whose new versions the quality gate held back (glossary_spider.gate).
HELD_REASON = "held"


def is_complete(finish_reason: str | None) -> bool:
    """Whether a run with this finish reason has nothing left to resume (a held run fetched all it had to)."""
    return finish_reason in COMPLETE_REASONS or finish_reason in (HELD_REASON, UNREADABLE_REASON, EMPTY_REASON)


def stopped_by(finish_reason: str | None) -> str | None:
    """The option whose budget stopped a run, or None if no budget did."""
    return BUDGET_OPTIONS.get(finish_reason or "")


# Scrapy's finish reason for a run stopped by Ctrl-C or SIGTERM.
INTERRUPTED_REASON = "shutdown"


def explain(finish_reason: str | None) -> str:
    """A run's end in words, with what to do next, for one-line messages (``glossary runs --check``)."""
    if option := stopped_by(finish_reason):
        return f"stopped by {option} ({finish_reason}): --resume continues it"
    return {
        HELD_REASON: "the quality gate held its new versions and gone pages back: see 'glossary held'",
        UNREACHABLE_REASON: "the site (or one of the run's sites) did not answer, or refused us: (nearly) every "
                            "fetch to it failed, or every one once it stopped answering; --resume continues it, asking "
                            "again what failed",
        UNREADABLE_REASON: "(nearly) every archived page failed to be read again (crawl_errors says why): its stored "
                           "bodies may be damaged; restore the archive from a backup",
        EMPTY_REASON: "it left the archive with no page: every URL it asked about answered 404 or 410, a \"not "
                      "found\" page or what is no page, or robots.txt forbade it, or its sitemaps could not be read "
                      "(crawl_errors says which): check its start URLs and sitemaps (has the site moved?)",
        INTERRUPTED_REASON: f"interrupted by Ctrl-C or SIGTERM ({INTERRUPTED_REASON}): --resume continues it",
        ARCHIVE_ERROR: "the archive could not be written (a full disk?): --resume continues it",
        UNWRITABLE: "the archive could not be written when the run started (a full disk? a read-only file?): "
                    "nothing was fetched; the next run starts afresh once that is mended",
    }.get(finish_reason or "", finish_reason or "")


def was_refused(finish_reason: str | None) -> bool:
    """Whether a run with this finish reason was refused before it started its work."""
    return finish_reason in REFUSED_REASONS


# Statuses that say "not now" or "not you" rather than answer a fetch, besides the 5xx: the server timed
# the request out (408) or is rate-limiting (429), both retried by Scrapy as passing; or it refuses the
# crawler the page (401, 403: a firewall, a bot check, a login wall), which at every URL is a site
# closed to us, that may open again.
NOT_NOW = (401, 403, 408, 429)
# A fetch that ended with no response, a 5xx or one of NOT_NOW got no answer: its page is still to
# fetch (--resume tries it again), and a run whose fetches nearly all end so found the site down. The
# test in SQL, for a table with an http_status column:
NO_ANSWER_SQL = f"(http_status IS NULL OR http_status >= 500 OR http_status IN {NOT_NOW})"


def no_answer(http_status: int | None) -> bool:
    """Whether a fetch that ended with ``http_status`` (None: no response) got no answer (:data:`NO_ANSWER_SQL`)."""
    return http_status is None or http_status >= 500 or http_status in NOT_NOW


class HostFetches(NamedTuple):
    """How a run's fetches of one host's URLs went, each URL counted once: how many got an answer, how many
    did not (:func:`no_answer`), and how many of those came after the last that got one."""

    answered: int
    unanswered: int
    unanswered_last: int


# Unanswered fetches in a row, none answered after them, that say a site was down when the run ended (a
# server that died mid-run, its pages all refused since): as many as the outage watch gives up after.
DOWN_AT_THE_END = 10


def is_unreachable(fetches: HostFetches) -> bool:
    """Whether a host's fetches say it was down: at least one fetch got no answer (:func:`no_answer`), and
    at most one in twenty got one, or the last :data:`DOWN_AT_THE_END` or more got none."""
    return fetches.unanswered > 0 and (fetches.answered * 19 <= fetches.unanswered
                                       or fetches.unanswered_last >= DOWN_AT_THE_END)


def unreachable_hosts(outcomes: Mapping[str, HostFetches]) -> list[str]:
    """The hosts a run found down (:func:`is_unreachable`), given how each host's fetches went
    (:func:`glossary_spider.storage.fetch_outcomes`). Each host is judged on its own: a run that asks two
    sites, one of them down, did not do its work either."""
    return sorted(host for host, fetches in outcomes.items() if is_unreachable(fetches))


def left_empty(command: str, holds_live_page: bool, counts: Mapping[str, int]) -> bool:
    """Whether a run left the archive with no page: a crawl or refresh after which the archive holds no live
    page, and that marked none gone (``counts``: its crawl_runs counts). A refresh that found the archive's
    pages gone is the quality gate's to judge: it holds a run in which most pages go at once."""
    return command in ("crawl", "refresh") and not holds_live_page and not counts.get("pages_gone")


def final_reason(reason: str, outcomes: Mapping[str, HostFetches], empty: bool = False) -> str:
    """The finish reason to record for a run that Scrapy ended for ``reason``, given how many of its
    fetches got an answer and how many did not, host by host, and whether it left the archive ``empty``
    (:func:`left_empty`): a site down says more than the pages it did not give."""
    if reason not in COMPLETE_REASONS:
        return reason
    if unreachable_hosts(outcomes):
        return UNREACHABLE_REASON
    return EMPTY_REASON if empty else reason


# The crawl_runs counts that are news: pages that appeared, changed, went or came back. A run
# whose counts are all 0 found nothing new (a page still gone, or unchanged, is not news).
CHANGE_COUNTS = ("pages_new", "pages_changed", "pages_gone", "pages_back")


def changes(run: dict[str, Any]) -> int:
    """How many pages a run found news about (0: nothing new); ``run`` is its crawl_runs row."""
    return sum(run.get(count) or 0 for count in CHANGE_COUNTS)


def held_back(run: dict[str, Any]) -> str:
    """What a run the quality gate held left the archive as: nothing, or what its earlier parts (a resumed
    run's, which passed the gate) archived, which stands."""
    if not (count := changes(run)):
        return "no version written, no page changed"
    return f"the {count} {'change' if count == 1 else 'changes'} its earlier parts archived stand"


def exit_status(finish_reason: str | None) -> ExitStatus:
    """The exit status of a run that ended for ``finish_reason``."""
    if finish_reason in COMPLETE_REASONS:
        return ExitStatus.DONE
    if finish_reason in BUDGET_REASONS:
        return ExitStatus.STOPPED_EARLY
    if finish_reason == UNREACHABLE_REASON:
        return ExitStatus.UNREACHABLE
    if finish_reason in (BAD_ARGUMENT, ARCHIVE_ERROR, UNWRITABLE):
        return ExitStatus.BAD_INPUT
    if finish_reason == LOCKED_OUT:
        return ExitStatus.LOCKED
    if finish_reason == HELD_REASON:
        return ExitStatus.HELD
    return ExitStatus.FAILED


def outcome(status: ExitStatus) -> str:
    """The word ``crawl_runs.outcome`` and ``glossary runs`` use for an exit status: ``done``, ``locked`` ..."""
    return status.name.lower()
