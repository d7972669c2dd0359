"""Worker processes: for extraction, shared by the crawl and by reparse; and a crawl's archive writer.

No worker holds the archive's lock, nor any connection of its parent's: a crawl's are fresh
interpreters (its archive writer opens a connection of its own, under its parent's lock), a reparse's are
forked before the archive is opened (:class:`~glossary_spider.reparse.PageExtractor`). Each exits
when the process that started it dies, ``kill -9`` included.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import logging
import os
import pickle
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any

from glossary_spider.extraction import Extraction, extract_page
from glossary_spider.sketches import PageReading, read_page
from glossary_spider.storage.staging import STAGED, Prepared, prepare

logger = logging.getLogger(__name__)

# What the crawl's process reads of a page's record that a worker extracted: what staging reads, and the canonical
# URL, by which the spider knows a page fetched at a variant of its URL.
SENT = (*STAGED, "canonical_url")

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}  # Ctrl-C, a service manager's stop, the terminal gone


def hold_stops() -> None:
    """Hold Ctrl-C, SIGTERM and SIGHUP back, pending, until :func:`let_stops_in`: while a process is started that
    must not meet them before it can handle them, or while a crawl starts up
    (:func:`glossary_spider.extensions.let_stops_in_when_running`)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def let_stops_in() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def default_workers() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def raise_open_files(need: int) -> int | None:
    """Raise this process's soft limit of open files (``ulimit -n``) to ``need`` at least, as far as its hard limit
    allows, before its workers start: past it, a worker's pipe or the archive's file failed to open midway, with a
    traceback or the archive blamed. Returns the hard limit where that is short of ``need``; else None."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return None
    if hard != resource.RLIM_INFINITY and hard < need:
        return hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (need if hard == resource.RLIM_INFINITY else hard, hard))
    return None


def worker_started(parent_pid: int, on_stop: Any = signal.SIG_DFL) -> None:
    """Run in each worker as it starts: Ctrl-C and SIGHUP (which a terminal sends the whole process group)
    are the parent's to handle, SIGTERM does ``on_stop`` (by
    default it ends the worker quietly, a process pool's way to stop it at once, whatever handler it was
    forked with; a crawl's workers ignore it: :func:`_worker_main`), and it goes when the parent does: at once
    where the kernel can say so (Linux's parent-death signal), else within half a second. Both signals
    came to it held (:func:`_start_worker`): one that came while it started up is handled so, not as Python's
    start-up handles it (Ctrl-C: a traceback; SIGTERM: a worker lost). A crawl's archive writer must not write on after
    ``kill -9`` of its crawl, when a ``--resume`` may already have taken the archive.
    A write to a parent that is gone ends it at once and quietly too (SIGPIPE, as it ends
    any Unix filter) rather than with a ``BrokenPipeError`` traceback on the standard error it shares with
    the parent: a cron job's mail."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, on_stop)
    let_stops_in()
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    die_with_parent(signal.SIGKILL)
    if os.getppid() != parent_pid:  # it went before the kernel was asked
        os._exit(0)

    def watch() -> None:  # a parent that died has left it to another, though its own pid lives on unreaped
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(signum: int) -> None:
    """Ask the kernel to send this process ``signum`` when its parent dies (Linux); elsewhere, nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum)
    except (OSError, AttributeError):
        pass


class ExtractionFailed(Exception):
    """A page broke extraction in a worker process; ``detail`` says how (the exception's type and text)."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def extract_for_staging(pages: list[tuple[bytes, str, str]], follow: bool = False,
                        ) -> list[tuple[Extraction, Prepared, PageReading | None] | ExtractionFailed]:
    """What a crawl's extraction worker runs on a batch of (body, url, content type): for each page,
    what the crawl's process needs of it, or why its extraction failed.

    That is the page's extraction with its record cut to :data:`SENT`
    (the rest is in what staging needs, :func:`~glossary_spider.storage.staging.prepare`, made here
    too), and, if the crawl ``follow``s links, the page's links to follow and what the trap guard
    compares of it (:func:`~glossary_spider.sketches.read_page`). A whole record weighs three times as
    much between processes, and reading its text takes a fifth of a millisecond: work that would
    otherwise fall to Scrapy's loop.
    """
    results: list[tuple[Extraction, Prepared, PageReading | None] | ExtractionFailed] = []
    for body, url, content_type in pages:
        try:
            extraction = extract_page(body, url, content_type, follow=follow)
            record = extraction.record
            staged = Extraction({key: record[key] for key in SENT}, extraction.errors, extraction.outlinks,
                                extraction.links_cut)
            results.append((staged, prepare(record), read_page(record) if follow else None))
        except Exception as exc:  # one page that breaks extraction must not fail its batch
            results.append(ExtractionFailed(f"{type(exc).__name__}: {exc}"))
    return results


class WorkerDied(BrokenProcessPool):
    """A worker died with this item alone in hand: the item killed it (a crash in a C library, memory)."""


class WorkersGone(BrokenProcessPool):
    """No worker will take this item: the pool was shut down, or its workers kept dying."""


class BatchingPool:
    """Work handed to worker processes a batch at a time, from an asyncio loop.

    Each worker is a child process (a fresh interpreter, :func:`_start_worker`, whose CPU time counts as this
    process's for whoever waits for it: a shell's ``time``, Scrapyd) joined to the loop by a socket pair. A batch
    goes down as one pickled frame and its results come back as one, read by the loop itself
    (:class:`_WorkerLink`, an ``asyncio.Protocol``); no thread stands between. A ``ProcessPoolExecutor``
    has two (one feeds its call queue, one reads results) that take the GIL from the loop at every
    hand-off: they cost Scrapy's process 1.2 CPU-seconds in a crawl of 4,250 pages, the socket 0.5.

    Each worker has at most two batches in hand (one at work, one queued); what arrives meanwhile
    waits, and goes to the next free worker as one batch of at most ``most`` items. ``job`` takes a
    list of items and returns a result for each, an exception being that item's failure.

    A worker that dies (killed, out of memory, a crash in a C library) is replaced by a new one. Of the
    batches in its hands, the one it had not begun goes out again as it was; each item of the one it
    was working on goes out again alone, so that an item that kills a worker kills it again alone and
    then fails with :class:`WorkerDied`, its batch mates extracted. A worker that dies before it has its
    job (it cannot start) has killed none of them: all go out again as they were. Deaths with no batch
    done between them
    use up ``restarts``; then the workers are let go, and what waits for one fails with
    :class:`WorkersGone`, as it does once the pool is shut down. What has not been handed to a worker
    yet can be taken back (:meth:`withdraw`). ``role`` names a worker in the pool's log lines and errors.
    """

    def __init__(self, workers: int, job: Callable[[list[Any]], list[Any]], most: int = 32, restarts: int = 3,
                 role: str = "extraction worker"):
        self.workers = workers
        self.job = job
        self.most = most
        self.restarts = self.budget = restarts
        self.links: list[_WorkerLink] = []
        self.waiting: list[tuple[Any, asyncio.Future[Any]]] = []
        self.alone: list[tuple[Any, asyncio.Future[Any]]] = []  # items in a dead worker's batch at work
        self.suspects: set[asyncio.Future[Any]] = set()  # theirs, until they are done
        self.starting: asyncio.Task[None] | None = None
        self.closed = False
        self.role = role  # what a worker is called in what the pool logs and its errors say
        self.ended = f"the {role}s were shut down"  # why no worker takes what waits, once closed

    async def run(self, item: Any) -> Any:
        """The job's result for ``item``, once a worker has made it."""
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((item, future))
        self._hand_out()
        return await future

    def withdraw(self) -> list[Any]:
        """Take back the items no worker has been handed yet, in their order: whoever awaits them is
        cancelled."""
        left, self.waiting = self.waiting, []
        for _, future in left:
            future.cancel()
        return [item for item, _ in left]

    def _hand_out(self) -> None:
        if self.closed:
            left, self.waiting, self.alone = [*self.alone, *self.waiting], [], []
            _settle(left, [WorkersGone(self.ended)] * len(left))
            return
        if len(self.links) < self.workers and self.starting is None:
            self.starting = asyncio.get_running_loop().create_task(self._start(self.workers - len(self.links)))
            self.starting.add_done_callback(self._started)
        while (self.alone or self.waiting) and self.links:
            link = min(self.links, key=lambda link: len(link.batches))
            if len(link.batches) >= 2:
                break
            if self.alone:
                link.send([self.alone.pop(0)])
            else:
                batch, self.waiting = self.waiting[:self.most], self.waiting[self.most:]
                link.send(batch)

    async def _start(self, count: int) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(count):
            process, ours = _start_worker(self.job)
            try:
                _, link = await loop.create_unix_connection(partial(_WorkerLink, self, process), sock=ours)
            except BaseException:  # no link (out of file descriptors; cancelled): the worker reads the end
                ours.close()
                _reap(process)
                raise
            self.links.append(link)

    def _started(self, task: asyncio.Task[None]) -> None:
        self.starting = None
        if not task.cancelled() and (failure := task.exception()) is not None:  # cannot start a process at all
            logger.warning("Cannot start an %s: %s", self.role, failure)
            self.workers = len(self.links)
            if not self.links:
                self.ended = f"no {self.role} could be started ({failure})"
                self.closed = True
        self._hand_out()

    def _finished(self, link: _WorkerLink, results: list[Any]) -> None:
        batch = link.batches.popleft()
        _settle(batch, results)
        self.suspects.difference_update(future for _, future in batch)
        self.restarts = self.budget
        self._hand_out()

    def _lost(self, link: _WorkerLink) -> None:
        """A worker's socket closed: the worker is gone. Send what it had in hand again (what it was working
        on, each item alone; an item at work in a worker that died before, alone this time, fails);
        replace it while ``restarts`` allow."""
        if link not in self.links:
            return
        self.links.remove(link)
        at_work, *queued = link.batches or [[]]
        link.batches.clear()
        _reap(link.process)
        started = link.ready
        if not started:  # it died before it had its job (it could not start): no item of its killed it
            at_work, queued = [], [at_work, *queued]
        for item, future in at_work:
            if len(at_work) == 1 and future in self.suspects:
                self.suspects.discard(future)
                _settle([(item, future)], [WorkerDied(f"an {self.role} died with this item alone in hand, twice")])
            else:
                self.suspects.add(future)
                self.alone.append((item, future))
        waited = [entry for batch in queued for entry in batch]
        self.alone[:0] = [entry for entry in waited if entry[1] in self.suspects]
        self.waiting[:0] = [entry for entry in waited if entry[1] not in self.suspects]
        if self.closed:
            self._hand_out()
            return
        if self.restarts > 0:
            if started:
                logger.warning("An %s died: a new one takes over, and what it had in hand goes out again, item by "
                               "item", self.role)
            else:
                logger.warning("An %s could not start: another is tried", self.role)
            self.restarts -= 1
        else:
            self.ended = (f"the {self.role} died (killed, or out of memory)" if self.budget == 0
                          else f"the {self.role}s kept dying")
            logger.warning("%s: no new one is started", self.ended.capitalize())
            self.workers -= 1
            if not self.links:
                self.closed = True
        self._hand_out()

    def shutdown(self) -> None:
        """Stop the workers, waiting for them (so that their CPU time is counted as this process's)."""
        self.closed = True
        if self.starting is not None:
            self.starting.cancel()
        links, self.links = self.links, []
        for link in links:
            link.close()
        for link in links:
            _reap(link.process, WORKER_EXIT_SECONDS)
            for batch in link.batches:  # unanswered: no one waits for them any longer, but none is left pending
                _settle(batch, [WorkersGone(self.ended)] * len(batch))
        self._hand_out()


class _WorkerLink(asyncio.Protocol):
    """The loop's end of one worker's socket: frames written down, results read back in order."""

    def __init__(self, pool: BatchingPool, process: Any):
        self.pool = pool
        self.process = process
        self.batches: deque[list[tuple[Any, asyncio.Future[Any]]]] = deque()
        self.received = bytearray()
        self.transport: asyncio.Transport | None = None
        self.outgoing: deque[memoryview] = deque()  # frames written a chunk at a time, as the socket drains
        self.paused = False
        self.ready = False  # the worker has its job: its first frame back, empty, says so

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, batch: list[tuple[Any, asyncio.Future[Any]]]) -> None:
        self.batches.append(batch)
        frame = pickle.dumps([item for item, _ in batch], protocol=pickle.HIGHEST_PROTOCOL)
        self.outgoing += (memoryview(_FRAME.pack(len(frame))), memoryview(frame))
        self._write()

    def _write(self) -> None:
        """Hand the transport the frames a chunk at a time while it asks for more: it copies what the
        socket does not take at once, and a batch holding a page of 15 MB would otherwise be copied whole."""
        assert self.transport is not None
        while self.outgoing and not self.paused and not self.transport.is_closing():
            view = self.outgoing.popleft()
            if len(view) > _CHUNK:
                self.outgoing.appendleft(view[_CHUNK:])
            self.transport.write(view[:_CHUNK])

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        """Go on writing at the loop's next turn, not from within the transport's own write handler, which
        calls this: a write failing there (the worker died) had asyncio (3.11) report the connection lost
        twice, the second time as an error with its traceback."""
        self.paused = False
        asyncio.get_running_loop().call_soon(self._write)

    def data_received(self, data: bytes) -> None:
        self.received += data
        while len(self.received) >= _FRAME.size:
            (size,) = _FRAME.unpack_from(self.received)
            end = _FRAME.size + size
            if len(self.received) < end:
                return
            if not self.ready:
                self.ready = True
                del self.received[:end]
                continue
            with memoryview(self.received) as view:
                results = pickle.loads(view[_FRAME.size:end])
            del self.received[:end]
            self.pool._finished(self, results)

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool._lost(self)

    def close(self) -> None:
        """Shut the socket at once, both ways (the loop closes a transport only at its next turn): the
        worker reads its end, and exits once it is done with the batch in hand."""
        assert self.transport is not None
        self.transport.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        self.transport.close()


# A frame's length, before its pickled batch or results; and the most of it written to the transport at once.
_FRAME = struct.Struct("!Q")
_CHUNK = 256 * 1024


def _start_worker(job: Callable[[list[Any]], list[Any]]) -> tuple[subprocess.Popen[bytes], socket.socket]:
    """Start a worker for ``job``: a fresh interpreter (so that no thread or connection of this process's is
    copied into it) running :func:`_worker_main`, with Ctrl-C and SIGTERM held for :func:`worker_started` to
    let in. It imports by this process's import path, set before its first import: the code this process runs,
    not a ``glossary_spider`` in the working directory (``-c`` would put it first), and a Scrapyd egg's where
    the egg is all a node has of it. It is joined to this process by a socket pair, whose first frame carries
    the job: a worker whose parent dies before it has it, even by ``kill -9``, ends quietly."""
    ours, theirs = socket.socketpair()
    command = [sys.executable, "-P", "-c", f"import sys; sys.path[:] = {sys.path!r}; "
                                           f"from glossary_spider.workers import _worker_main; "
                                           f"_worker_main({theirs.fileno()}, {os.getpid()})"]
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, pass_fds=[theirs.fileno()])
    except BaseException:
        ours.close()
        raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        theirs.close()
    global _kill_at_exit
    if not _kill_at_exit:
        _kill_at_exit = bool(atexit.register(_kill_left))
    _started_workers.add(process)
    try:
        frame = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        ours.sendall(_FRAME.pack(len(frame)) + frame)
    except OSError:  # it died at once: its link sees the socket closed, as for any worker that dies
        pass
    return process, ours


def _worker_main(fd: int, parent_pid: int) -> None:
    """A worker's life, from its start: its job, then :func:`_serve`."""
    worker_started(parent_pid, on_stop=signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    frames = sock.makefile("rb")
    if (job := _read_frame(frames)) is None:
        return
    job = pickle.loads(job)
    try:
        sock.sendall(_FRAME.pack(0))  # ready: from here, a death is the work's, not the start's
    except OSError:
        return
    _serve(sock, frames, job)


def _read_frame(frames: Any) -> bytes | None:
    """The next frame from the parent, or None once it has gone (closed its end, or died: kill -9)."""
    try:
        if len(head := frames.read(_FRAME.size)) < _FRAME.size:
            return None
        size = _FRAME.unpack(head)[0]
        if len(data := frames.read(size)) < size:  # the parent went in the middle of a frame
            return None
    except OSError:  # its end of the socket was reset
        return None
    return data


def _serve(sock: socket.socket, frames: Any, job: Callable[[list[Any]], list[Any]]) -> None:
    """Read a batch, send back the job's results, until the socket closes.

    SIGTERM is ignored: a service manager stopping the crawl sends it to every process of the crawl at once
    (systemd's KillMode=control-group), and the crawl, stopping as for Ctrl-C, still needs its workers for
    the pages in flight. They go when it closes their socket, or dies."""
    while (data := _read_frame(frames)) is not None:
        items = pickle.loads(data)
        try:
            results = job(items)
            frame = pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # the job itself broke: the batch's failure, not the worker's end
            frame = pickle.dumps([ExtractionFailed(f"{type(exc).__name__}: {exc}")] * len(items))
        try:
            sock.sendall(_FRAME.pack(len(frame)) + frame)
        except OSError:  # the crawl shut its end
            return


# How long a worker whose socket is shut may take to finish the batch in hand and go (a heavy page takes
# a few seconds), before it is killed: it ignores SIGTERM.
WORKER_EXIT_SECONDS = 30.0


_started_workers: weakref.WeakSet[subprocess.Popen[bytes]] = weakref.WeakSet()  # while anything holds them
_kill_at_exit = False


def _kill_left() -> None:
    """At this process's exit, kill the workers still alive: no one waits for their results any more, and
    they ignore SIGTERM. A pool is shut down before that (its owner's close), but a second Ctrl-C or SIGTERM
    stops Scrapy's reactor at once, closing nothing."""
    for process in list(_started_workers):
        if process.poll() is None:
            process.kill()
            process.wait()


def _reap(process: subprocess.Popen[bytes], seconds: float = 1.0) -> None:
    """Wait for a worker to go, ``seconds`` at most; then kill it, and wait for that."""
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _settle(batch: list[tuple[Any, asyncio.Future[Any]]], results: list[Any]) -> None:
    """Give each waiting item of ``batch`` its result, an exception being its failure."""
    for (_, future), result in zip(batch, results):
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
