"""Crawl arguments, validated where they enter (the CLI and ``scrapy crawl -a``)."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from glossary_spider.terminal import UNDECODED, quoted, typed
from glossary_spider.urls import MAX_URL, earlier_spelling, normalize_url, server_of

logger = logging.getLogger(__name__)

LIVE_HOME = "https://term.greeks.live/"
LIVE_SITEMAP = "https://term.greeks.live/sitemap_index.xml"


class BadArgument(ValueError):
    """An argument a user gave is wrong: the message names it and says why."""


def _split(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [v.strip() for v in value if v and v.strip()]


def check_url(value: str, what: str) -> str:
    if UNDECODED.search(value):
        value = utf8_argument(value, what,
                              lambda text: f"give the URL percent-encoded, {quoted(percent_encoded(text))}")
    if any(c.isspace() for c in value.strip()):  # two URLs pasted as one, or a URL and a note
        raise BadArgument(f"{what} {quoted(value)} holds white space, which no URL does: give one URL at a time "
                          "(a space within one is written %20; a note after a --urls-file line's URL goes after ' #')")
    url = normalize_url(value) if "://" in value else None
    if url is None and (port := _bad_port(value)):
        raise BadArgument(f"{what} {quoted(value)} has the port {quoted(port)}: a port is a number from 1 to 65535")
    if url is None:
        raise BadArgument(f"{what} {quoted(value)} is not an http(s) URL (e.g. https://term.greeks.live/)")
    if len(url) > MAX_URL:
        raise BadArgument(f"{what} {quoted(value, 60)} is {len(url):,} characters long, more than the {MAX_URL:,} "
                          "a URL may have")
    return url


def _bad_port(value: str) -> str | None:
    """The port of an http(s) URL that has one no server listens on (0, past 65535, not a number), else None."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:  # no URL at all (an IPv6 address left open)
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    try:
        return "0" if parts.port == 0 else None
    except ValueError:  # past 65535, or not a number
        return parts.netloc.rpartition(":")[2]


def utf8_argument(value: str, what: str, fix: Callable[[str], str]) -> str:
    """An argument whose bytes the locale did not decode, read as UTF-8, as a terminal types it (under
    ``LC_ALL=C`` one past ASCII arrives so). One that is not UTF-8 is refused, naming the byte, with what to give
    instead, ``fix(text)`` of the text its bytes hold (a URL's: them percent-encoded, a Latin-1 site's "caf%E9"),
    rather than taken with U+FFFD in their place."""
    if not UNDECODED.search(value):
        return value
    text = os.fsencode(value).decode("utf-8", "surrogateescape")
    if (bad := UNDECODED.search(text)) is None:
        return text
    raise BadArgument(f"{what} {quoted(typed(value))} holds a byte that is not UTF-8 ({ord(bad[0]) - 0xdc00:#04x}): "
                      f"{fix(text)}")


def percent_encoded(text: str) -> str:
    """``text`` with each byte that is not UTF-8 percent-encoded, as a URL writes it."""
    return UNDECODED.sub(lambda byte: f"%{ord(byte[0]) - 0xdc00:02X}", text)


_COMMENT = re.compile(r"\s#.*")  # a comment after a --urls-file line's URL
# The most of a --urls-file read: some 400,000 URLs. A longer list is a sitemap's work (or several runs').
MAX_URLS_FILE = 16 * 1024 * 1024
DAY = 86400
MAX_AGE_DAYS = 1_000_000  # a refresh's --max-age: some 2,700 years, within what a date's arithmetic holds
MAX_DURATION = 366 * DAY  # of --max-duration and --give-up-after


def read_urls_file(path: str | Path) -> list[str]:
    """URLs from a file, one per line; blank lines and ``#`` comments ignored, a whole line's or the end of
    one after white space (a URL holds none; its own ``#`` starts a fragment). Only a regular file, of
    at most :data:`MAX_URLS_FILE` bytes: a FIFO would block, /dev/zero never end; ``-`` reads as much of
    standard input (``./-``: a file of that name)."""
    data = _standard_input() if str(path) == "-" else _urls_file(path)
    if b"\x00" in data:  # UTF-16 or UTF-32 (a spreadsheet's "Unicode text"), or no text at all
        raise BadArgument(f"--urls-file {path}: not UTF-8 text (NUL bytes: UTF-16?): save it as UTF-8")
    # A BOM (Notepad's) dropped; a byte that is not UTF-8 matters only in a line that is read.
    text = data.decode("utf-8-sig", "surrogateescape")
    urls = []
    for number, line in enumerate(text.splitlines(), 1):
        line = _COMMENT.sub("", line).strip()
        if line and not line.startswith("#"):
            if bad := next((c for c in line if "\udc80" <= c <= "\udcff"), None):
                raise BadArgument(f"--urls-file {path} line {number}: not UTF-8 (a byte {ord(bad) - 0xdc00:#04x}): "
                                  "save the file as UTF-8")
            urls.append(check_url(line, f"--urls-file {path} line {number}:"))
    return urls


def _urls_file(path: str | Path) -> bytes:
    """What the file of URLs at ``path`` holds: a regular file of at most :data:`MAX_URLS_FILE` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise BadArgument(f"--urls-file {path}: no such file") from None
    except IsADirectoryError:
        raise BadArgument(f"--urls-file {path}: is a directory, not a file") from None
    except OSError as exc:
        raise BadArgument(f"--urls-file {path}: cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise BadArgument(f"--urls-file {path}: is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise BadArgument(f"--urls-file {path}: is not a regular file (a pipe or a device): give a file, or - "
                              "for standard input")
        if info.st_size > MAX_URLS_FILE:
            raise BadArgument(f"--urls-file {path}: {info.st_size:,} bytes, more than {MAX_URLS_FILE // 2**20} MiB "
                              "of URLs: give a sitemap, or split the list over several runs")
        return os.read(fd, MAX_URLS_FILE + 1)[:MAX_URLS_FILE]
    except OSError as exc:
        raise BadArgument(f"--urls-file {path}: cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


@functools.cache  # read once, however often the arguments are
def _standard_input() -> bytes:
    """At most :data:`MAX_URLS_FILE` bytes of URLs from standard input (``--urls-file -``); not a terminal's,
    which would wait, without a word, for URLs typed."""
    if sys.stdin is not None and sys.stdin.isatty():
        raise BadArgument("--urls-file -: standard input is a terminal: pipe the URLs in "
                          "(... | glossary crawl --urls-file -), or give a file")
    try:
        data = sys.stdin.buffer.read(MAX_URLS_FILE + 1) if sys.stdin is not None else b""
    except (OSError, ValueError) as exc:  # closed, or not open for reading
        raise BadArgument(f"--urls-file -: standard input cannot be read ({exc})") from None
    if len(data) > MAX_URLS_FILE:
        raise BadArgument(f"--urls-file -: more than {MAX_URLS_FILE // 2**20} MiB of URLs on standard input: give a "
                          "sitemap, or split the list over several runs")
    return data


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | float, what: str = "--max-duration") -> float:
    """Seconds from ``90``, ``90s``, ``20m``, ``1.5h`` or ``2d`` (or a number of seconds, as a run
    recorded it), at most :data:`MAX_DURATION`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif match := _DURATION.match(str(value)):
        seconds = float(match[1]) * _UNIT_SECONDS[match[2].lower()]
    else:
        seconds = 0.0
    if not 0 < seconds < math.inf:
        raise BadArgument(f"{what} must be a positive duration such as 90s, 20m or 2h, not {quoted(str(value), 40)}")
    if seconds > MAX_DURATION:
        raise BadArgument(f"{what} {quoted(str(value), 40)} is more than {MAX_DURATION // DAY} days: give at most "
                          f"{MAX_DURATION // DAY}d")
    return seconds


def parse_min_free_mib(value: Any, what: str = "GLOSSARY_MIN_FREE_MIB") -> float:
    """The MiB a run leaves free on the archive's disk (0: no floor), as ``value`` (text or a number) says."""
    try:
        least = float(value)
    except (TypeError, ValueError):
        least = -1.0
    if not 0 <= least < math.inf:  # NaN too
        raise BadArgument(f"{what} must be a number of MiB, 0 or more (0: no floor), not {quoted(str(value), 40)}")
    return least


def check_settings(settings: Any) -> None:
    """Refuse what the Scrapy ``settings`` given for a run (``scrapy crawl -s``, a Scrapyd job's ``setting=``) ask
    that it cannot do: Scrapy's HTTP cache, which answers for the site (cached answers recorded as fetched now, and
    a refresh that sees no change and no deletion); or a number given as something else
    (:func:`settings_not_numbers`)."""
    cache = settings.get("HTTPCACHE_ENABLED")
    if cache and str(cache).strip().lower() not in ("0", "false", "no", "off"):
        raise BadArgument("HTTPCACHE_ENABLED answers from Scrapy's cache, not the site: a refresh would see no change "
                          "and no deletion; leave it off")
    for name, default in settings_not_numbers(settings).items():
        kind = "a whole number" if isinstance(default, int) and not name.endswith(_SECONDS_SETTINGS) else "a number"
        raise BadArgument(f"{name} must be {kind}, not {quoted(settings.get(name), 40)}")


def settings_not_numbers(settings: Any) -> dict[str, Any]:
    """The settings given for the run that are numbers (their defaults, the project's or Scrapy's, are) given as
    something else, each with its default: Scrapy would read them once the run is under way, and stop it with a
    traceback. (Those of :data:`OPTION_SETTINGS` are read as the run's options.)"""
    from scrapy.settings import SETTINGS_PRIORITIES, default_settings

    from glossary_spider import settings as project

    found = {}
    for name in settings:
        if (settings.getpriority(name) or 0) < SETTINGS_PRIORITIES["cmdline"] or name in OPTION_SETTINGS.values():
            continue  # (read before the value: reading some of Scrapy's old names warns)
        value = settings.get(name)
        if not isinstance(value, str):
            continue
        default = getattr(project, name, getattr(default_settings, name, None))
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            # A count is read as an integer ("1.5" stops Scrapy too); a time may be a fraction of a second.
            whole = isinstance(default, int) and not name.endswith(_SECONDS_SETTINGS)
            try:
                int(value) if whole else float(value)
            except ValueError:
                found[name] = default
    return found


_SECONDS_SETTINGS = ("TIMEOUT", "DELAY", "INTERVAL", "SECONDS", "GRACE", "WITHIN")


def parse_bool(value: str | bool | int, what: str) -> bool:
    if isinstance(value, (bool, int)):
        return bool(value)
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise BadArgument(f"{what} must be 1 or 0, not {value!r}")


@dataclass
class CrawlParams:
    """A run's start URLs, sitemaps, whether to follow links and its page budget, as the spider uses them."""

    start_urls: list[str] = field(default_factory=list)
    sitemap_urls: list[str] = field(default_factory=list)
    follow: bool = True
    max_pages: int | None = None

    @property
    def allowed_hosts(self) -> set[str]:
        return {server_of(u) for u in self.start_urls + self.sitemap_urls}


MODES = ("crawl", "refresh")
# Options that say how a run fetches, and the Scrapy settings they stand for: given as
# ``-s NAME=value`` to ``scrapy crawl``, they are recorded as if given as ``-a``.
OPTION_SETTINGS = {
    "concurrency": "CONCURRENT_REQUESTS",
    "delay": "DOWNLOAD_DELAY",
    "ignore_robots": "ROBOTSTXT_OBEY",
    "timeout": "DOWNLOAD_TIMEOUT",
    "trap_budget": "GLOSSARY_TRAP_BUDGET",
    "max_requests": "CLOSESPIDER_PAGECOUNT",
    "max_duration": "CLOSESPIDER_TIMEOUT",
    "max_delay": "GLOSSARY_MAX_DELAY",
    "give_up_after": "GLOSSARY_GIVE_UP_AFTER",
    "workers": "GLOSSARY_EXTRACT_WORKERS",
}


def _number(kind: Callable[[str], Any], low: float, high: float | None = None,
            unit: str = "", example: str = "") -> Callable[[Any, str], Any]:
    """A number from ``low`` to ``high``; one in ``unit`` (days) is refused, when it is no number (``30d``),
    with the unit and an ``example``."""
    def parse(value: Any, name: str) -> Any:
        try:
            if isinstance(value, str) and ("_" in value or not value.isascii()):
                raise ValueError(value)  # Python reads "1_0" as 10, and digits of every script: a number is ASCII
            number = kind(value)
        except (TypeError, ValueError, OverflowError):
            whole = "a whole number" if kind is int else "a number"
            if unit:
                raise BadArgument(f"{name} is in {unit}: give {whole}, e.g. {example}, not {value!r}") from None
            raise BadArgument(f"{name} must be {whole}, not {value!r}") from None
        # nan passes every comparison; inf (1e400 reads as it) is past any range, and waits for ever where none is
        if math.isnan(number) or (math.isinf(number) and high is None):
            raise BadArgument(f"{name} must be a finite number, not {value!r}")
        if number < low or (high is not None and number > high):
            raise BadArgument(f"{name} must be {'at least ' + str(low) if high is None else f'{low} to {high}'}, "
                              f"not {value!r}")
        return number

    return parse


def _mode(value: Any, name: str) -> str:
    if value not in MODES:
        raise BadArgument(f"{name} must be {' or '.join(MODES)}, not {value!r}")
    return str(value)


def _duration(value: Any, name: str) -> float:
    return parse_duration(value, name)


def _gate(value: Any, name: str) -> tuple[str, ...]:
    """``--gate`` specs (``NAME=VALUE`` or ``off``), checked; as text, comma-separated."""
    from glossary_spider.gate import GateSettingError, parse_gate_option

    specs = tuple(_split(value))
    if any(spec.lower() == "off" for spec in specs) and (thresholds := [s for s in specs if s.lower() != "off"]):
        raise BadArgument(f"{name} off turns the quality gate off, and the thresholds given with it "
                          f"({', '.join(thresholds)}) would judge nothing: give off, or the thresholds")
    for spec in specs:
        if spec.lower() != "off":
            try:
                parse_gate_option(spec)
            except GateSettingError as exc:
                raise BadArgument(str(exc)) from None
    return specs


def _same(name: str, given: Any, recorded: Any) -> bool:
    """Whether argument ``name`` given as ``given`` is the one recorded as ``recorded``."""
    if given == recorded:
        return True
    return (name in ("start_urls", "sitemap_urls") and isinstance(given, tuple) and isinstance(recorded, tuple)
            and tuple(map(earlier_spelling, given)) == recorded)


def _blank(value: Any) -> bool:
    """Whether a list argument was given as nothing but empty words: ``--gate ''``, ``-a sitemap_urls=``. A
    list with no words at all (a run's record of none) is not."""
    words = value.split(",") if isinstance(value, str) else value
    return isinstance(words, (list, tuple)) and bool(words) and not any(str(w).strip() for w in words)


def _urls(what: str) -> Callable[[Any, str], tuple[str, ...]]:
    return lambda value, name: tuple(dict.fromkeys(check_url(u, what) for u in _split(value)))


# Each argument a run takes: how its value is read from text (``-a``) or from a typed value (the CLI).
ARGUMENTS: dict[str, Callable[[Any, str], Any]] = {
    "mode": _mode,
    "resume": parse_bool,
    "start_urls": _urls("start URL"),
    "sitemap_urls": _urls("sitemap URL"),
    "follow": parse_bool,
    "max_pages": _number(int, 1),
    "max_age_days": _number(float, 0, MAX_AGE_DAYS, unit="days", example="30"),
    "concurrency": _number(int, 1, 64),
    "delay": _number(float, 0, DAY),
    "ignore_robots": parse_bool,
    "timeout": _number(float, 0.1, DAY),
    "trap_budget": _number(int, 1),
    "max_requests": _number(int, 1),
    "max_duration": _duration,
    "gate": _gate,
    "max_delay": _number(float, 0, DAY),
    "give_up_after": _duration,
    "workers": _number(int, 0, 64),
}
# Other names a run's arguments may come under (-a max_age); urls_file is read into start_urls.
ALIASES = {"max_age": "max_age_days"}
# What a mode does not take, as glossary crawl and glossary refresh have no such option: a refresh starts from
# the archive's pages and stops at none of its own (it has max_requests and max_duration); a crawl fetches
# whatever it meets, however old.
NOT_TAKEN = {"crawl": ("max_age_days",), "refresh": ("start_urls", "max_pages")}


@dataclass(frozen=True)
class RunArgs:
    """What a user asked of one crawl or refresh, however it was started.

    ``glossary crawl`` / ``refresh`` options and ``scrapy crawl glossary -a name=value``
    arguments (so Scrapyd's ``schedule.json`` parameters) both come down to this.
    ``given`` names the arguments given explicitly, which a resume compares with
    the stopped run's; the others are None (the project's default).
    """

    mode: str = "crawl"
    resume: bool = False
    start_urls: tuple[str, ...] = ()
    sitemap_urls: tuple[str, ...] = ()
    follow: bool = True
    max_pages: int | None = None
    max_age_days: float | None = None
    concurrency: int | None = None
    delay: float | None = None
    ignore_robots: bool = False
    timeout: float | None = None
    trap_budget: int | None = None
    max_requests: int | None = None
    max_duration: float | None = None
    gate: tuple[str, ...] = ()
    max_delay: float | None = None
    give_up_after: float | None = None
    workers: int | None = None
    given: frozenset[str] = frozenset()
    recorded: frozenset[str] | None = None  # of a run read back: the arguments its record holds

    @classmethod
    def parse(cls, arguments: Mapping[str, Any], spelled: Mapping[str, str] | None = None) -> RunArgs:
        """Arguments by name, as text or typed values (None: not given); BadArgument names a wrong one, as
        ``spelled`` writes its name (a command line's ``--max-age`` for ``max_age_days``) or as it was given."""
        values: dict[str, Any] = {}
        written: dict[str, str] = {}  # each argument's name as it was given
        blank: set[str] = set()  # given, and only as empty words (an unset variable in a script)
        urls_file = arguments.get("urls_file")
        for name, value in arguments.items():
            if value is None or name == "urls_file":
                continue
            key = ALIASES.get(name, name)
            if key not in ARGUMENTS:
                known = ", ".join(sorted([*ARGUMENTS, *ALIASES, "urls_file"]))
                raise BadArgument(f"unknown argument {name!r} (known: {known})")
            typed = ARGUMENTS[key](value, (spelled or {}).get(name, name))
            if key in values and values[key] != typed:  # max_age and max_age_days: one argument, given twice
                raise BadArgument(f"{written[key]} and {(spelled or {}).get(name, name)} are one argument, given two "
                                  f"values ({values[key]} and {typed}): give it once")
            written[key] = (spelled or {}).get(name, name)
            values[key] = typed
            if _blank(value):
                blank.add(key)
        if urls_file is not None:
            if not str(urls_file).strip():  # an unset variable in a script: never the live site instead
                raise BadArgument("--urls-file is empty: give the path of a file of URLs, one a line")
            listed = read_urls_file(urls_file)
            if not listed:
                raise BadArgument(f"--urls-file {urls_file} lists no URL (only blank lines and # comments): "
                                  "put one URL a line in it")
            values["start_urls"] = tuple(dict.fromkeys([*values.get("start_urls", ()), *listed]))
            written["start_urls"] = (spelled or {}).get("urls_file", "urls_file")
        mode = values.get("mode", "crawl")
        if "gate" in blank:
            raise BadArgument(f"{written['gate']} is empty: give NAME=VALUE or off, or leave it out")
        if mode == "refresh" and "sitemap_urls" in blank:  # not the sitemaps of earlier crawls in its place
            raise BadArgument(f"{written['sitemap_urls']} is empty: give a sitemap's URL, or leave it out for those "
                              "of earlier crawls")
        for name in NOT_TAKEN.get(mode, ()):
            if values.get(name) not in (None, ()):
                raise BadArgument(f"a {mode} takes no {written[name]} (glossary {mode} has no such option): "
                                  "leave it out")
        starts = {"start_urls", "sitemap_urls"} & values.keys()
        if mode == "crawl" and starts and not any(values[name] for name in starts):
            # The live site is the default only when no start was asked for at all: an empty one is a mistake.
            raise BadArgument("no URL to start from: the start URLs and sitemaps given are all empty")
        return cls(**values, given=frozenset(values) - {"mode", "resume"})

    @classmethod
    def from_record(cls, mode: str, recorded: str | None) -> RunArgs:
        """The arguments ``crawl_runs.args`` recorded for a run (older archives recorded fewer)."""
        try:
            args = json.loads(recorded or "{}")
        except ValueError:
            args = {}
        known = {k: v for k, v in (args if isinstance(args, dict) else {}).items()
                 if k in ARGUMENTS and k not in NOT_TAKEN.get(mode, ())}  # an earlier release took them
        if "gate" in known:  # thresholds an earlier release took that this one refuses: their defaults instead
            known["gate"] = [spec for spec in _split(known["gate"]) if _taken_gate(spec, mode)]
        return dataclasses.replace(cls.parse({**known, "mode": mode}), given=frozenset(), recorded=frozenset(known))

    def record(self) -> dict[str, Any]:
        """The arguments as ``crawl_runs.args`` keeps them (JSON), enough to run them again."""
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in dataclasses.asdict(self).items()
                if name not in ("mode", "resume", "given", "recorded")}

    def differences(self, original: RunArgs) -> list[str]:
        """Each argument given here that differs from ``original``'s, as ``name VALUE, not VALUE``; one an
        earlier release did not record (``workers``, given as ``-s GLOSSARY_EXTRACT_WORKERS``) differs from
        nothing, and URLs it recorded in its own spelling (:func:`~glossary_spider.urls.earlier_spelling`)
        are the same as those given."""
        return [f"{name} {_show(getattr(original, name))}, not {_show(getattr(self, name))}"
                for name in sorted(self.given) if not _same(name, getattr(self, name), getattr(original, name))
                and (original.recorded is None or name in original.recorded)]

    def settings(self) -> dict[str, Any]:
        """The Scrapy settings the run options stand for."""
        settings: dict[str, Any] = {}
        if self.concurrency is not None:
            settings.update(CONCURRENT_REQUESTS=self.concurrency, CONCURRENT_REQUESTS_PER_DOMAIN=self.concurrency)
        if self.delay is not None:
            # AutoThrottle starts at the delay asked for (not at its own 1 s) and may only lengthen it.
            settings.update(DOWNLOAD_DELAY=self.delay, AUTOTHROTTLE_START_DELAY=self.delay)
            if self.delay == 0:
                settings["AUTOTHROTTLE_ENABLED"] = False
        if self.ignore_robots:
            settings["ROBOTSTXT_OBEY"] = False
        if self.timeout is not None:
            settings["DOWNLOAD_TIMEOUT"] = self.timeout
        if self.trap_budget is not None:
            settings["GLOSSARY_TRAP_BUDGET"] = self.trap_budget
        if self.workers is not None:
            settings["GLOSSARY_EXTRACT_WORKERS"] = self.workers
        if self.max_pages is not None:
            # No download starts while a response waits to be parsed, so that the run cannot fetch on
            # past its page budget before the budget is seen to be spent: at most the downloads in
            # flight are fetched and not archived.
            settings["SCRAPER_SLOT_MAX_ACTIVE_SIZE"] = 0
        if self.max_requests is not None:
            settings["CLOSESPIDER_PAGECOUNT"] = self.max_requests
        if self.max_duration is not None:
            settings["CLOSESPIDER_TIMEOUT"] = self.max_duration
        for spec in self.gate:
            if spec.lower() == "off":
                settings["GLOSSARY_GATE"] = False
            else:
                from glossary_spider.gate import parse_gate_option

                key, value = parse_gate_option(spec)
                settings[key] = value
        if self.max_delay is not None:
            settings["GLOSSARY_MAX_DELAY"] = self.max_delay
        if self.give_up_after is not None:
            settings["GLOSSARY_GIVE_UP_AFTER"] = self.give_up_after
        return settings


def _taken_gate(spec: str, mode: str) -> bool:
    """Whether a ``--gate`` spec a stopped run recorded is one this release takes; if not, a warning says that
    its resumption judges with that threshold's default."""
    try:
        _gate([spec], "gate")
    except BadArgument as exc:
        logger.warning("The stopped %s was given a gate threshold this version refuses (%s): its resumption "
                       "uses that threshold's default", mode, exc)
        return False
    return True


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(value) or "none"
    return "default" if value is None else json.dumps(value)
