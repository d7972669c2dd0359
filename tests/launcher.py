"""``python -m glossary_spider ...`` for the tests, less the interpreter's start-up.

Most of a command's second is imports (Scrapy, Twisted, sqlite-utils, click), paid again by every one of the
suite's many hundreds of commands. :class:`Launcher` runs a process that imports them once and then forks a child
for each command, which runs ``python -m glossary_spider``'s ``__main__`` as a new interpreter would, in a process
of its own: its arguments, environment, working directory, umask and standard streams are the caller's, it is
stopped by signals sent to its pid, and its exit status is its own (``-N`` where signal N ended it).

What a fork cannot give as a new interpreter does is left to :func:`subprocess.Popen` (:func:`launchable`): an
environment that the interpreter or an import reads as it starts (``PYTHON*``, the locale, ``TMPDIR``,
``GLOSSARY_PURE_PYTHON``), a ``preexec_fn``, ``stdin=PIPE``, or a command that is not ``glossary``'s; and to a
test that reads a command's resource use as its child's (``os.wait4``). Set
``GLOSSARY_TESTS_EXEC=1`` to start every command as a new interpreter.

Run as a script, this module is the launching process itself (:func:`serve`).
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
COMMAND = [sys.executable, "-m", "glossary_spider"]

# What a command imports, imported once by the launching process. No reactor is installed by any of them.
# (The replica's server, whose import installs Twisted's default reactor, is imported by each replica.)
PRELOAD = ("glossary_spider.cli", "glossary_spider.crawl", "glossary_spider.replica.command",
           "glossary_spider.replica.site", "twisted.web.server", "glossary_spider.spiders.glossary",
           "glossary_spider.pipelines", "glossary_spider.middlewares", "glossary_spider.extensions",
           "glossary_spider.extraction", "scrapy.crawler", "scrapy.core.downloader.handlers.http11",
           "scrapy.downloadermiddlewares.stats", "scrapy.extensions.telnet", "twisted.internet.asyncioreactor")
# Read by the interpreter or by an import as a process starts: a child forked afterwards would not see them.
_AT_START = ("LANG", "LANGUAGE", "TMPDIR", "TEMP", "TMP", "GLOSSARY_PURE_PYTHON")
_HEADER = struct.Struct("!I")


def launchable(args: list[str], env: dict[str, str], kwargs: dict[str, Any]) -> bool:
    """Whether ``args`` run with ``env`` and the :class:`subprocess.Popen` options ``kwargs`` can be forked."""
    if os.environ.get("GLOSSARY_TESTS_EXEC") or args[:len(COMMAND)] != COMMAND:
        return False
    if set(kwargs) - {"stdin", "stdout", "stderr", "cwd", "text", "start_new_session"} or kwargs.get(
            "stdin") == subprocess.PIPE or not os.path.isdir(kwargs.get("cwd") or "."):
        return False  # (Popen raises for a working directory that is not there)
    started = os.environ
    return not any(env.get(key) != started.get(key) for key in {*env, *started}
                   if key.startswith(("PYTHON", "LC_")) or key in _AT_START)


class Launched:
    """A command forked by the launcher, as :class:`subprocess.Popen` offers it: ``pid``, ``returncode``,
    ``stdout``/``stderr`` (where asked for with ``subprocess.PIPE``; ``stdin=PIPE`` is left to Popen), ``poll``,
    ``wait``, ``communicate``, ``send_signal``, ``terminate``, ``kill``."""

    def __init__(self, args: list[str], connection: socket.socket, stdout: IO | None, stderr: IO | None):
        self.args = args
        self.returncode: int | None = None
        self.stdin = None
        self.stdout, self.stderr = stdout, stderr
        self._connection = connection
        self._read = b""  # what the launcher said, not yet taken: its pid and its exit status may come at once
        self._readers: list[threading.Thread] | None = None
        self._output: dict[str, Any] = {}
        self.pid = int(self._line())

    def _line(self) -> str:
        while b"\n" not in self._read:
            chunk = self._connection.recv(64)
            if not chunk:
                raise RuntimeError("the launcher ended before the command did")
            self._read += chunk
        line, _, self._read = self._read.partition(b"\n")
        return line.decode()

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._connection.settimeout(timeout)
            try:
                self.returncode = int(self._line())
            except (TimeoutError, BlockingIOError):
                raise subprocess.TimeoutExpired(self.args, timeout) from None
            self._connection.close()
        return self.returncode

    def poll(self) -> int | None:
        try:
            return self.wait(0)
        except subprocess.TimeoutExpired:
            return None

    def communicate(self, input: Any = None, timeout: float | None = None) -> tuple[Any, Any]:
        """What the command wrote to the pipes asked for, once it has ended (each read on a thread of its own,
        as Popen's does, so that neither fills while the other is read; called again after a timeout, the same
        threads read on)."""
        if input is not None:
            raise ValueError("give input= to run(), which writes it to the command's standard input")
        if self._readers is None:
            self._readers = [threading.Thread(target=self._read_all, args=(name, pipe), daemon=True)
                             for name, pipe in (("out", self.stdout), ("err", self.stderr)) if pipe is not None]
            for reader in self._readers:
                reader.start()
        self.wait(timeout)
        for reader in self._readers:
            reader.join()
        return self._output.get("out"), self._output.get("err")

    def _read_all(self, name: str, pipe: IO) -> None:
        with pipe:
            self._output[name] = pipe.read()

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:  # it ended, and the launcher reaped it, since the poll: as Popen ignores it
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def __enter__(self) -> Launched:
        return self

    def __exit__(self, *exc: object) -> None:
        for pipe in (self.stdout, self.stderr):
            if pipe is not None:
                pipe.close()
        self.wait()


class Launcher:
    """The launching process of this test process, started at its first command."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._name = f"glossary-launcher-{os.getpid()}-{os.urandom(4).hex()}"

    def _started(self) -> str:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process = subprocess.Popen([sys.executable, __file__, self._name], stdin=subprocess.PIPE,
                                                 stdout=subprocess.PIPE, cwd=ROOT)
                if self._process.stdout.readline() != b"ready\n":
                    raise RuntimeError("the launcher did not start (its error is above)")
                atexit.register(self._process.stdin.close)  # its end: it stops at the end of its input
            return _address(self._name)

    def popen(self, args: list[str], env: dict[str, str], cwd: str | os.PathLike | None = None, stdin: Any = None,
              stdout: Any = None, stderr: Any = None, text: bool = False, start_new_session: bool = False) -> Launched:
        """Start ``args`` (``glossary``'s command line) as :class:`subprocess.Popen` would, with its options
        of the same names; a stream left None, or the working directory, is this process's own."""
        path = self._started()
        given, kept, ours = [], [], []
        for fd, option in ((0, stdin), (1, stdout), (2, stderr)):
            if option == subprocess.PIPE:
                read, write = os.pipe()
                given.append(write)
                ours.append(write)
                kept.append(open(read, "r" if text else "rb"))
            elif option == subprocess.DEVNULL:
                given.append(os.open(os.devnull, os.O_RDWR))
                ours.append(given[-1])
                kept.append(None)
            else:
                given.append(fd if option is None else option if isinstance(option, int) else option.fileno())
                kept.append(None)
        umask = os.umask(0)
        os.umask(umask)
        request = json.dumps({"args": args[len(COMMAND):], "env": env, "cwd": os.fspath(cwd or os.getcwd()),
                              "umask": umask, "session": start_new_session}).encode()
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(path)
            socket.send_fds(connection, [_HEADER.pack(len(request))], given)
            connection.sendall(request)
            launched = Launched(args, connection, kept[1], kept[2])
        except BaseException:
            connection.close()
            raise
        finally:
            for fd in ours:
                os.close(fd)
        return launched


LAUNCHER = Launcher()


def popen(args: list[str], env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.Popen | Launched:
    """:class:`subprocess.Popen`, forked by the launcher where it can be (:func:`launchable`)."""
    env = dict(os.environ if env is None else env)
    if launchable(args, env, kwargs):
        return LAUNCHER.popen(args, env, **kwargs)
    return subprocess.Popen(args, env=env, **kwargs)


def run(args: list[str], env: dict[str, str] | None = None, input: Any = None, timeout: float | None = None,
        capture_output: bool = False, text: bool = False, **kwargs: Any) -> subprocess.CompletedProcess:
    """:func:`subprocess.run`, forked by the launcher where it can be (:func:`launchable`)."""
    env = dict(os.environ if env is None else env)
    if not launchable(args, env, {**kwargs, "text": text}):
        return subprocess.run(args, env=env, input=input, timeout=timeout, capture_output=capture_output,
                              text=text, **kwargs)
    given = None
    if input is not None:
        given = tempfile.TemporaryFile()
        given.write(input.encode() if isinstance(input, str) else input)
        given.seek(0)
        kwargs["stdin"] = given
    if capture_output:
        kwargs["stdout"] = kwargs["stderr"] = subprocess.PIPE
    try:
        process = LAUNCHER.popen(args, env, text=text, **kwargs)
    finally:
        if given is not None:
            given.close()
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return subprocess.CompletedProcess(args, process.returncode, out, err)


# -- the launching process ------------------------------------------------------------------------------------


def _address(name: str) -> str:
    """The launcher's socket: in Linux's abstract namespace, no file to make or take away, whatever TMPDIR is."""
    return "\0" + name


def serve(name: str) -> None:
    """Fork a command for each connection to the socket ``name``, and say on it the command's pid, then its exit
    status; stop at the end of standard input (the test process has ended)."""
    for module in PRELOAD:
        __import__(module)
    assert "twisted.internet.reactor" not in sys.modules, "a reactor was installed before the commands'"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(_address(name))
    listener.listen(64)
    reaped, wake = os.pipe()
    os.set_blocking(wake, False)
    signal.set_wakeup_fd(wake)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C of the tests is for the commands and the tests
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "connection")
    selector.register(reaped, selectors.EVENT_READ, "reaped")
    selector.register(sys.stdin, selectors.EVENT_READ, "ended")
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    _serve(listener, selector, reaped, wake)


def _serve(listener: socket.socket, selector: selectors.BaseSelector, reaped: int, wake: int) -> None:
    running: dict[int, socket.socket] = {}
    while True:
        for key, _ in selector.select():
            if key.data == "ended":
                return
            if key.data == "reaped":
                os.read(reaped, 4096)
                _reap(running)
                continue
            connection, _ = listener.accept()
            header, fds, _, _ = socket.recv_fds(connection, _HEADER.size, 3)
            request = _exactly(connection, _HEADER.unpack(header)[0])
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                for fd in (listener.fileno(), reaped, wake, connection.fileno(), 0,
                           *(other.fileno() for other in running.values())):
                    os.close(fd)
                try:
                    _command(json.loads(request), fds)  # exits
                finally:  # as far as it got (a working directory gone): never back into the launcher's loop
                    os._exit(127)
            for fd in fds:
                os.close(fd)
            running[pid] = connection
            connection.sendall(f"{pid}\n".encode())
        _reap(running)


def _exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _reap(running: dict[int, socket.socket]) -> None:
    while running:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return
        connection = running.pop(pid)
        try:
            connection.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
        except OSError:
            pass  # the test has stopped waiting
        connection.close()


def _command(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become the command ``request`` asks for, run it, and exit as the interpreter would."""
    import random
    import runpy
    import time
    import traceback

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if request["session"]:
        os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in set(fds) - {0, 1, 2}:
        os.close(fd)
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    random.seed()
    sys.stdout.reconfigure(line_buffering=sys.stdout.isatty())
    sys.argv = ["-m", *request["args"]]
    code = 0
    try:
        runpy.run_module("glossary_spider", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)
    except KeyboardInterrupt:  # as the interpreter ends on one: killed by the signal
        traceback.print_exc()
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    threading._shutdown()  # the interpreter's own end: non-daemon threads joined, then the exit handlers
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = 120  # as the interpreter exits where its last flush fails
    os._exit(code & 0xFF)


if __name__ == "__main__":
    serve(sys.argv[1])
