"""What a run has to do: a fresh crawl, a refresh of the archived pages, or the rest of a stopped run.

One decision, whichever way the run was started: ``glossary crawl`` / ``refresh`` and
``scrapy crawl glossary -a name=value`` (so Scrapyd's ``schedule.json``) both call
:func:`open_run` with the arguments they were given and the archive's path (the
``GLOSSARY_DB`` setting). It takes the archive's lock, records the run with its real
arguments, and returns a :class:`RunPlan`: the spider schedules from it, the duplicate
filter starts from its ``done`` set, the pipeline writes to its archive, and
:meth:`RunPlan.finish` records how the run ended.

A run refused before it starts (a bad argument, nothing to resume, the archive locked
by another run) raises one of :data:`REFUSALS`, and is recorded as refused: in the
archive, or beside it while another run holds the lock (:mod:`glossary_spider.lock`),
so that ``glossary runs --check`` sees it. An archive is never created only to record
a refusal.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glossary_spider.lock import ArchiveLock, ArchiveLocked, note_refused, refused_runs
from glossary_spider.outcome import BAD_ARGUMENT, EMPTY_REASON, LOCKED_OUT, UNWRITABLE
from glossary_spider.params import (LIVE_HOME, LIVE_SITEMAP, MODES, BadArgument, CrawlParams, RunArgs,
                                    check_settings, parse_min_free_mib)
from glossary_spider.storage import (Archive, ArchiveError, ArchiveUnwritable, archive_path, cannot_write,
                                     existing_archive, now)
from glossary_spider.storage.errors import ArchiveDamaged, unexpanded
from glossary_spider.terminal import shell_word, shown_path
from glossary_spider.urls import server_of

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

# What open_run raises for a run it refuses; str() of each is the one line to show.
REFUSALS = (BadArgument, ArchiveError, ArchiveLocked)


# Why nothing can be written beside an archive: a read-only file system, a directory we may not write, a full
# disk (or quota).
NOT_BESIDE = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT)


def cannot_lock(db: str, exc: OSError) -> ArchiveError:
    """The error for an archive whose lock file cannot be made or used (``exc``). Where nothing can be written
    beside the archive, the refusal cannot be noted there either: the message says that ``runs --check``
    will not see it, and a read-only file system gets its fix."""
    why = exc.strerror or str(exc)
    if exc.errno == errno.EROFS:
        why += ": remount it read-write, or copy the archive where it can be written"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why += ": free some space on its disk, then run it again"
    if exc.errno in NOT_BESIDE:
        why += " ('glossary runs --check' cannot see this refusal: nothing can be noted beside the archive)"
    error = ArchiveUnwritable if exc.errno in NOT_BESIDE else ArchiveError  # else: a lock file not safe to use
    return error(f"cannot lock the archive {db}: {why}")


def refused_reason(refusal: Exception) -> str:
    """The finish reason a run refused with one of :data:`REFUSALS` is recorded with."""
    if isinstance(refusal, ArchiveLocked):
        return LOCKED_OUT
    return UNWRITABLE if isinstance(refusal, ArchiveUnwritable) else BAD_ARGUMENT


@dataclass
class RunPlan:
    """What one run has to do, and the archive it does it in (held under its lock until closed).

    ``args`` are the run's effective arguments: defaults filled in, and for a resumed run
    those it was first started with. ``known`` (refresh) maps each archived page to what a
    conditional re-fetch needs; ``done`` and ``pending`` (resume) are the URLs the stopped
    run fetched and those it found but had not fetched yet (for a new refresh, those the stopped refresh it
    leaves had found by links and not fetched: :func:`_plan`); ``retry`` (refresh) the glossary pages
    never archived that earlier runs got no answer from. ``superseded`` is the stopped run a new one
    leaves unfinished, which a resume would have continued; ``unfinished_crawl`` (refresh) the crawl
    that stopped before it was done, whose pages left to fetch a refresh does not ask for; ``chains``
    (resume) the pending URLs a chain of pages without text of their own led to, and its length;
    ``asked_again`` (resume) the pending URLs whose answers a held part set aside, asked again whatever the trap
    guard made of their families.
    """

    args: RunArgs
    known: dict[str, dict[str, Any]] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    pending: list[str] = field(default_factory=list)
    run_id: int | None = None
    superseded: dict[str, Any] | None = None
    retry: list[str] = field(default_factory=list)
    unfinished_crawl: dict[str, Any] | None = None
    chains: dict[str, int] = field(default_factory=dict)
    asked_again: set[str] = field(default_factory=set)
    archive: Archive | None = None
    lock: ArchiveLock | None = None
    # Started by scrapy crawl or a Scrapyd job, not glossary's command line: its log says how to continue it.
    scheduled: bool = False
    # Archived pages an earlier extractor read (EXTRACTOR_VERSION): a reparse would read them anew, and a run
    # before it takes the new reading of a page it fetches for a change of the site's.
    earlier_extractions: int = 0
    # Pages the stopped run staged as an earlier extractor read them, extracted anew as its resume began.
    restaged: int = 0

    @property
    def command(self) -> str:
        return self.args.mode

    @property
    def params(self) -> CrawlParams:
        args = self.args
        return CrawlParams(list(args.start_urls), list(args.sitemap_urls), args.follow, args.max_pages)

    @property
    def max_age(self) -> timedelta | None:
        return timedelta(days=self.args.max_age_days) if self.args.max_age_days is not None else None

    @property
    def allowed_hosts(self) -> set[str]:
        """The hosts (:func:`~glossary_spider.urls.server_of`) of the start URLs and sitemaps, and of the pages
        the archive and the stopped run hold."""
        return self.params.allowed_hosts | {server_of(url)
                                            for url in [*self.known, *self.done, *self.pending, *self.retry]}

    def settings(self) -> dict[str, Any]:
        """The Scrapy settings this run's options stand for."""
        return self.args.settings()

    def finish(self, reason: str, stats: dict[str, Any],
               traffic: dict[str, int] | None = None) -> dict[str, Any] | None:
        """Record how the run ended, then close; returns the run's row (None if it cannot be written).
        ``traffic`` (requests, bytes) covers every part of a resumed run; else Scrapy's ``stats`` say them."""
        assert self.archive is not None and self.run_id is not None
        try:
            return self.archive.finish_run(self.run_id, reason, stats, traffic)
        except sqlite3.OperationalError as exc:  # the disk is still full: the run stays open, to be resumed
            logger.info("Cannot record the end of run #%s: %s", self.run_id, exc)
            return None
        finally:
            self.close()

    def close(self) -> None:
        """Record the runs refused meanwhile, close the archive and release its lock."""
        if self.archive is not None:
            record_noted(self.archive)
            self.archive.close()
            self.archive = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def open_run(db: str | Path, arguments: Mapping[str, Any], *, job_id: str | None = None,
             spelled: Mapping[str, str] | None = None, settings: BaseSettings | None = None,
             parsed: RunArgs | None = None) -> RunPlan:
    """Open the archive at ``db`` for the run ``arguments`` ask for, and plan it.

    ``arguments`` are :class:`~glossary_spider.params.RunArgs` names with text or typed
    values (None: not given); ``spelled``: how the user wrote their names, for messages;
    ``settings``: the Scrapy settings the run starts from (``scrapy crawl``'s), else the project's;
    ``parsed``: ``arguments`` read by the caller already (:meth:`RunArgs.parse`).
    Raises one of :data:`REFUSALS` for a run that cannot start.
    """
    if not str(db or "").strip():  # an unset variable in a unit file: no archive to record the refusal in
        raise BadArgument("the GLOSSARY_DB setting is empty: set it to the archive's path (-s GLOSSARY_DB=PATH; "
                          "setting=GLOSSARY_DB=PATH for a Scrapyd job)")
    mode = arguments.get("mode") or "crawl"
    refusal = Refusal(db, mode if mode in MODES else "crawl", arguments, job_id)
    try:
        args = parsed or RunArgs.parse(arguments, spelled)
        if settings is not None:  # scrapy crawl's, a Scrapyd job's: read by the pipeline once the run has begun
            parse_min_free_mib(settings.get("GLOSSARY_MIN_FREE_MIB", 200))
            check_settings(settings)
        archive_path(db)  # a path that cannot be looked up, said as such; and before its lock file is made beside it
        if not Path(db).parent.is_dir():  # glossary crawl makes only its default directory, before it gets here
            if unexpanded(Path(db).parent):
                raise BadArgument(f"no directory {Path(db).parent} for the archive {db}: ~ and $VARIABLES are not "
                                  "expanded in GLOSSARY_DB (a shell expands them only where they are not quoted): "
                                  "give the path they stand for")
            raise BadArgument(f"no directory {Path(db).parent} for the archive {db}: check the archive's path "
                              "(--db, GLOSSARY_DB), or create the directory first")
        if args.resume and not Path(db).exists():
            raise BadArgument(f"nothing to resume: there is no archive at {db}")
        if args.mode == "refresh" or args.resume:
            existing_archive(db)
    except BadArgument as exc:
        refusal.record(BAD_ARGUMENT, exc)
        raise
    try:
        lock = ArchiveLock(db, args.mode).acquire()
    except ArchiveLocked as exc:
        refusal.record(LOCKED_OUT, exc)
        raise
    except OSError as exc:  # a lock file that cannot be made or is not safe to use: noted, for `runs --check`
        unusable = cannot_lock(db, exc)
        if exc.errno not in NOT_BESIDE:
            refusal.record(UNWRITABLE, unusable)
        raise unusable from None
    try:
        archive = Archive(db)
    except ArchiveError as exc:
        refusal.opening_failed(exc)
        lock.release()
        raise
    except BaseException:
        lock.release()
        raise
    try:
        record_noted(archive)
        plan = _plan(archive, args, job_id, settings)
    except (BadArgument, ArchiveError) as exc:
        refusal.record(refused_reason(exc), exc, archive)
        archive.close()
        lock.release()
        raise
    except sqlite3.OperationalError as exc:  # the run's first writes refused: a full disk, most often
        unwritable = ArchiveUnwritable(cannot_write(db, exc))
        refusal.record(UNWRITABLE, unwritable)
        archive.close()
        lock.release()
        raise unwritable from exc
    except BaseException:
        archive.close()
        lock.release()
        raise
    plan.archive, plan.lock = archive, lock
    return plan


class NewerExtractor(ArchiveError):
    """The archive holds pages a newer release's extractor read: this release would record what the two
    extractors read differently as the site's changes, and take the pages back to its own reading."""


def check_extractor(archive: Archive) -> None:
    """Refuse to write an archive a newer release's extractor has read (:class:`NewerExtractor`)."""
    from glossary_spider.extraction.page import EXTRACTOR_VERSION  # lxml's load, for runs alone

    if (newest := archive.newest_extractor()) > EXTRACTOR_VERSION:
        raise NewerExtractor(f"{archive.path} holds pages read by extractor version {newest}, newer than this "
                             f"release's {EXTRACTOR_VERSION}: its runs would record what the two read differently "
                             "as changes; upgrade glossary_spider to write it")


def _plan(archive: Archive, args: RunArgs, job_id: str | None, settings: BaseSettings | None) -> RunPlan:
    from glossary_spider.extraction.page import EXTRACTOR_VERSION  # lxml's load, for runs alone

    check_extractor(archive)
    known = archive.known_pages() if args.mode == "refresh" else {}
    if args.mode == "refresh" and not known:
        if (crawl := archive.resumable_run("crawl")) is not None:
            raise BadArgument(f"the archive {archive.path} has no pages yet: crawl #{crawl['id']} stopped before it "
                              f"was done ({crawl['finish_reason'] or 'killed'}): carry it on with 'glossary crawl "
                              f"--resume --db {shell_word(str(archive.path))}'")
        raise BadArgument(f"the archive {archive.path} has no pages yet: run 'glossary crawl' first")
    if args.resume:
        stopped = archive.resumable_run(args.mode)
        if stopped is None:
            other = "refresh" if args.mode == "crawl" else "crawl"
            if (waiting := archive.resumable_run(other)) is not None:  # resume=1 alone asks for a crawl's
                raise BadArgument(f"nothing to resume: the last {args.mode} finished (or there was none), but "
                                  f"{other} #{waiting['id']} was stopped: resume it with 'glossary {other} --resume' "
                                  f"(a Scrapyd job: mode={other} resume=1)")
            if (held := archive.undecided_held_run(args.mode)) is not None:
                db = shell_word(str(archive.path))
                raise BadArgument(f"nothing to resume: {args.mode} #{held} ended held by the quality gate: look with "
                                  f"'glossary held --run {held} --db {db}', accept or discard it "
                                  f"('glossary held --accept {held} --db {db}' or '--discard {held}'), then run "
                                  f"'glossary {args.mode}' without --resume")
            if (last := archive.latest_run(args.mode)) is not None and last["finish_reason"] == EMPTY_REASON:
                raise BadArgument(f"nothing to resume: {args.mode} #{last['id']} left the archive with no page: check "
                                  f"the start URLs and sitemaps it was given, then run 'glossary {args.mode}' without "
                                  "--resume")
            raise BadArgument(f"nothing to resume: the last {args.mode} finished (or there was none): run "
                              f"'glossary {args.mode}' without --resume (a Scrapyd job: without resume=1)")
        original = RunArgs.from_record(args.mode, stopped["args"])
        if differences := args.differences(original):
            raise BadArgument(f"{args.mode} #{stopped['id']} was started with {'; '.join(differences)}: "
                              "to resume it, give its arguments as they were, or none")
        # What an earlier release did not record (--workers) is taken as given now.
        unrecorded = {name: getattr(args, name) for name in args.given - (original.recorded or frozenset())}
        from glossary_spider.reparse import restage_earlier

        restaged = restage_earlier(archive, stopped["id"])
        if archive.unjudged(stopped["id"]):
            judge_unjudged(archive, stopped, original, settings)
        if asked_again := archive.ask_again(stopped["id"]):
            logger.info("%s #%s was held so far by the quality gate: asking again about the %d pages it was "
                        "answered", args.mode.capitalize(), stopped["id"], asked_again)
        done, pending = archive.frontier(stopped["id"])
        archive.reopen_run(stopped["id"], job_id)
        return RunPlan(dataclasses.replace(original, resume=True, **unrecorded), known, done, pending, stopped["id"],
                       chains=archive.chains(stopped["id"]), asked_again=archive.asked_again(stopped["id"]),
                       restaged=restaged,
                       earlier_extractions=archive.read_before(EXTRACTOR_VERSION))
    if args.mode == "crawl" and not args.start_urls and not args.sitemap_urls:
        args = dataclasses.replace(args, start_urls=(LIVE_HOME,), sitemap_urls=(LIVE_SITEMAP,))
    elif args.mode == "refresh" and not args.sitemap_urls:
        args = dataclasses.replace(args, sitemap_urls=tuple(archive.sitemaps_used()))
    if args.mode == "refresh" and "follow" not in args.given and not archive.follows():
        args = dataclasses.replace(args, follow=False)  # the archive's scope: what its crawl was given
    carried: list[str] = []
    if superseded := archive.resumable_run(args.mode):
        if args.mode == "refresh" and args.follow:
            carried = [url for url in archive.frontier(superseded["id"])[1] if url not in known]
        archive.abandon_staged(superseded["id"])  # no longer resumable once this run starts
    run_id = archive.start_run(args.mode, args.record(), os.getpid(), job_id)
    if carried:
        # What the stopped refresh found by links and had not fetched: links in pages it archived, which this
        # run, asking about them conditionally, reads no more. They are this run's to fetch, and its resume's.
        chains = {url: chain for url, chain in archive.chains(superseded["id"]).items() if url in carried}
        with archive.db.atomic():
            archive.mark_frontier(run_id, pending=carried, chains=chains)
    retry = archive.unanswered_pages() if args.mode == "refresh" else []
    unfinished = archive.resumable_run("crawl") if args.mode == "refresh" else None
    return RunPlan(args, known, pending=carried, retry=retry, run_id=run_id, superseded=superseded,
                   unfinished_crawl=unfinished, chains=archive.chains(run_id),
                   earlier_extractions=archive.read_before(EXTRACTOR_VERSION))


def judge_unjudged(archive: Archive, run: dict[str, Any], args: RunArgs, settings: BaseSettings | None) -> None:
    """Judge the last part of the stopped ``run``, which ended before the quality gate judged it (killed with
    ``kill -9``, or by a write the archive refused), on its own, as a stop by SIGTERM has it judged: archived if
    it passes; held if not, and so asked again by the resume (:meth:`~glossary_spider.storage.staging.Staging.
    ask_again`). Judged with the resumed part instead, an outage's 404s, too few among the good answers that
    follow to trip the gate, marked their pages gone. ``settings``: the Scrapy settings the run starts from
    (the project's when None), with ``args``' on top; the sitemaps are not read yet: every page gone counts."""
    from scrapy.settings import Settings

    from glossary_spider.gate import QualityGate

    if settings is None:
        settings = Settings()
        settings.setmodule("glossary_spider.settings", priority="project")
    else:
        settings = settings.copy()
    settings.setdict(args.settings(), priority="cmdline")
    if not settings.getbool("GLOSSARY_GATE", True):
        archive.apply_staged(run["id"])
        return
    report = QualityGate.from_settings(settings).judge(archive, run["id"])
    logger.info("%s #%s stopped before the quality gate judged its last part (%s): judged now, %s",
                args.mode.capitalize(), run["id"], run["finish_reason"] or "killed",
                "held (its pages are asked again)" if report.held else "passed")


def _as_recorded(value: Any) -> Any:
    """An argument of a refused run as its row keeps it: a tuple as a list, a byte that is not UTF-8 (a URL or a
    path typed so) as the text ``\\xNN``, which SQLite and JSON can hold, not as a lone surrogate."""
    if isinstance(value, (tuple, list)):
        return [_as_recorded(item) for item in value]
    return shown_path(value) if isinstance(value, str) else value


class Refusal:
    """Records a run refused before it started, with the arguments it was given."""

    def __init__(self, db: str | Path, command: str, arguments: Mapping[str, Any], job_id: str | None = None):
        self.db = Path(db)
        self.run = {
            "command": command,
            "started_at": now(),
            "args": {k: _as_recorded(v) for k, v in arguments.items() if v is not None},
            "job_id": job_id,
            "pid": os.getpid(),
        }

    def opening_failed(self, error: ArchiveError) -> None:
        """Record a run the archive refused as it was opened, for a file that cannot be written (a full disk, a
        read-only file) or that is damaged (which, written to, could lose more): noted beside it, so that
        ``runs --check`` sees every night's refusal. Not for any other file (someone else's database, a newer
        release's archive): nothing is written beside what is not this release's to write."""
        if isinstance(error, (ArchiveUnwritable, ArchiveDamaged)):
            self.record(UNWRITABLE, error)

    def record(self, reason: str, error: Exception, archive: Archive | None = None) -> None:
        """In ``archive`` (open under its lock), else in the archive at its path, else beside it if
        another run holds it. An archive that does not exist is not created to say so."""
        run = {**self.run, "finish_reason": reason, "error": shown_path(error)}  # SQLite holds no lone surrogate
        if archive is not None:
            archive.record_refused_runs([run])
            return
        if reason in (LOCKED_OUT, UNWRITABLE):  # the archive cannot take it now
            note_refused(self.db, run)
            return
        if not self.db.is_file():
            return
        try:
            lock = ArchiveLock(self.db, run["command"]).acquire()
        except (ArchiveLocked, OSError):
            note_refused(self.db, run)
            return
        try:
            with Archive(self.db) as opened:
                opened.record_refused_runs([run])
        except ArchiveError:
            pass  # not an archive this project can write: the error that refused the run said so
        finally:
            lock.release()


def record_noted(archive: Archive) -> None:
    """Move the runs refused while the archive was locked from beside it into ``crawl_runs``."""
    noted = refused_runs(archive.path, take=True)
    try:
        archive.record_refused_runs(noted)
    except sqlite3.OperationalError:
        for run in noted:
            note_refused(archive.path, run)
