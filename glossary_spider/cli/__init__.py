"""The ``glossary`` command line: a thin click layer over the package, a module for each kind of command.

- :mod:`~glossary_spider.cli.common`: the command group, and the options and errors every command shares;
- :mod:`~glossary_spider.cli.output`: the standard streams, and ``--out`` files written whole or not at all;
- :mod:`~glossary_spider.cli.running`: ``crawl``, ``refresh`` and ``reparse``;
- :mod:`~glossary_spider.cli.runs`: ``runs`` and ``held``, and the summary a run prints as it ends;
- :mod:`~glossary_spider.cli.reading`: ``search``, ``show``, ``export``, ``report`` and ``browse``.

Exit statuses are :class:`glossary_spider.outcome.ExitStatus`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys

import click

from glossary_spider import settings as defaults
from glossary_spider.cli import reading, running, runs  # noqa: F401  (their commands join the group)
from glossary_spider.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, UserError, cli
from glossary_spider.cli.output import OUTPUT_ERRORS, silence_stdout, standard_streams, stdout_failed, stops_past
from glossary_spider.params import BadArgument
from glossary_spider.storage import ArchiveError
from glossary_spider.terminal import safe_text

__all__ = ["UserError", "cli", "main"]


def record_refused_command_line(command: str, said: str) -> None:
    """Record a crawl or refresh whose command line click refused (an option the command does not take, a value
    of the wrong kind) as refused for a bad argument, as :func:`~glossary_spider.plan.open_run` records those it
    refuses: a scheduler's typo is then what ``glossary runs --check`` sees. The archive is the one ``--db`` or
    ``GLOSSARY_DB`` names, read from the words given; none is made only to say so."""
    from glossary_spider.outcome import BAD_ARGUMENT
    from glossary_spider.plan import Refusal

    words = sys.argv[sys.argv.index(command) + 1:] if command in sys.argv else []
    db = next((value for word, value in zip(words, words[1:]) if word == "--db"), None)
    db = next((word[5:] for word in words if word.startswith("--db=")), db)
    db = db or os.environ.get("GLOSSARY_DB") or defaults.GLOSSARY_DB
    with contextlib.suppress(OSError, ArchiveError, sqlite3.Error):
        Refusal(db, command, {"command_line": words}).record(BAD_ARGUMENT, BadArgument(said))


def _no_such_option(exc: click.NoSuchOption, where: str, said: str) -> tuple[str, str]:
    """What to say of an option a command does not take, and what to add: where it goes when it stands before
    its command (``glossary --db a.db runs``), that a word of a search or a page shown begins with '-'
    (``glossary search -vega``), or that ``show --diff`` was given a version below 1."""
    at = next((i for i, word in enumerate(sys.argv) if word.startswith(exc.option_name)), None)
    given = safe_text(sys.argv[at] if at is not None else exc.option_name, one_line=True)
    if exc.ctx is None:
        return said, ""
    if exc.ctx.command is cli:
        named = next((cli.get_command(exc.ctx, w) for w in sys.argv[1:] if w in cli.commands), None)
        if named and any(exc.option_name in param.opts for param in named.params):
            return said, f"; a command's options go after it: glossary {named.name} {given} …"
        return said, ""
    if exc.ctx.command.name not in ("search", "show"):
        return said, ""
    if at and sys.argv[at - 1] == "--diff":  # show --diff -1..2: a version, not a word
        return f"--diff {given}: versions are numbered from 1: give --diff A..B (e.g. --diff 1..2)", ""
    return said, f"; for words that start with '-', put -- before them: {where} -- {given}"


# `glossary` alone (click 8.2 and later say so with the help as an error's message; earlier ones print it).
NO_COMMAND = getattr(click.exceptions, "NoArgsIsHelpError", ())


def main() -> None:
    """The ``glossary`` command: click, with usage errors said in one line like every other."""
    try:
        _main()
    finally:
        # The command is done, however it ends (a command may end by sys.exit): a stop that comes as Python exits,
        # which gives each signal its default back, does not kill the process (status 130 or 143, no line said).
        stops_past()


def _main() -> None:
    standard_streams()
    try:
        code = cli.main(prog_name="glossary", standalone_mode=False)
    except NO_COMMAND as exc:  # the help, as --help lays it out, on standard error
        exc.show()
        sys.exit(EXIT_BAD_INPUT)
    except click.UsageError as exc:
        # Click knows the command of some of its errors only: else it is the first of the words that names one.
        command = exc.ctx.command.name if exc.ctx else next((w for w in sys.argv[1:] if w in cli.commands), None)
        where = exc.ctx.command_path if exc.ctx else f"glossary {command}" if command else "glossary"
        said = " ".join(exc.format_message().split())  # Click lists a choice's values a line each
        said, also = _no_such_option(exc, where, said) if isinstance(exc, click.NoSuchOption) else (said, "")
        click.echo(f"Error: {said} (see '{where} --help'{also})", err=True)
        if command in ("crawl", "refresh"):
            record_refused_command_line(command, f"{said} (see '{where} --help')")
        sys.exit(EXIT_BAD_INPUT)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_FAILED)
    except OSError as exc:  # standard output on a full disk, or a pipe whose reader left (| head)
        if exc.errno not in OUTPUT_ERRORS and not stdout_failed():
            raise
        silence_stdout()
        if not isinstance(exc, BrokenPipeError):
            click.echo(f"Error: cannot write to standard output: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else 0)
