"""The ``glossary`` command line: a thin click layer over the package.

Exit status: 0 done; 2 bad arguments or input; 3 another crawl holds the
archive's lock; 1 anything that stopped the work early.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from glossary_spider.params import BadArgument, CrawlParams
from glossary_spider.storage import DEFAULT_DB, Archive, ArchiveError

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_LOCKED = 1, 2, 3


class UserError(click.ClickException):
    """A one-line message for the user, exit status 2."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


def db_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db",
        "db",
        default=DEFAULT_DB,
        envvar="GLOSSARY_DB",
        show_default=True,
        metavar="PATH",
        help="The archive's path (or set GLOSSARY_DB).",
    )(command)


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the package's errors about user input into one-line messages."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (BadArgument, ArchiveError) as exc:
            raise UserError(str(exc)) from None

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="glossary_spider")
def cli() -> None:
    """Crawl the term.greeks.live glossary into a SQLite archive, and query it.

    \b
    Example:
        glossary replica --port 8000 &
        glossary crawl --start-url http://127.0.0.1:8000/ --delay 0 --db data/demo.db
    """


@cli.command()
@db_option
@click.option("--start-url", "start_urls", multiple=True, metavar="URL", help="A page to start from (repeatable).")
@click.option("--urls-file", type=click.Path(), help="A file of start URLs, one per line.")
@click.option("--sitemap", "sitemaps", multiple=True, metavar="URL", help="A sitemap or sitemap index (repeatable).")
@click.option("--no-follow", is_flag=True, help="Archive only the given pages and sitemap entries.")
@click.option("--max-pages", type=click.IntRange(min=1), help="Stop after archiving this many pages.")
@click.option("--concurrency", type=click.IntRange(min=1, max=64), help="Requests in flight at once.")
@click.option("--delay", type=click.FloatRange(min=0), help="Seconds between requests to a host (0 turns AutoThrottle off).")
@click.option("--ignore-robots", is_flag=True, help="Do not obey robots.txt.")
@click.option("--progress/--no-progress", default=None, help="Live progress line (default: on when stderr is a terminal).")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log.")
@user_errors
def crawl(db: str, start_urls: tuple[str, ...], urls_file: str | None, sitemaps: tuple[str, ...], no_follow: bool,
          max_pages: int | None, concurrency: int | None, delay: float | None, ignore_robots: bool,
          progress: bool | None, verbose: bool) -> None:
    """Crawl the glossary into the archive.

    With no --start-url, --urls-file or --sitemap it starts from the live site's
    home page and sitemap index. Only the hosts of the start URLs and sitemaps are
    ever requested.

    \b
    Example:
        glossary crawl --sitemap https://term.greeks.live/sitemap_index.xml
        glossary crawl --start-url http://127.0.0.1:8000/ --delay 0 --concurrency 8
    """
    from glossary_spider.crawl import COMPLETE_REASONS, crawl_settings, run_spider

    params = CrawlParams.build(start_urls, sitemaps, urls_file, not no_follow, max_pages)
    Archive(db).close()
    args = {"start_urls": params.start_urls, "sitemap_urls": params.sitemap_urls, "follow": params.follow,
            "max_pages": params.max_pages, "concurrency": concurrency, "delay": delay,
            "ignore_robots": ignore_robots}
    settings = crawl_settings(
        db, command="crawl", args=args, concurrency=concurrency, delay=delay, ignore_robots=ignore_robots,
        progress=sys.stderr.isatty() if progress is None else progress,
        log_level="INFO" if verbose else "WARNING",
    )
    stats = run_spider(settings, params)
    run = _finished_run(db, stats)
    click.echo(summary(run, db))
    if run["finish_reason"] not in COMPLETE_REASONS:
        sys.exit(EXIT_FAILED)


def _finished_run(db: str, stats: dict[str, Any]) -> dict[str, Any]:
    run_id = stats.get("glossary/run_id")
    if run_id is None:
        raise click.ClickException("the crawl did not start: run with -v to see Scrapy's log")
    with Archive(db, readonly=True) as archive:
        return archive.run(run_id)


def summary(run: dict[str, Any], db: str) -> str:
    """The one-screen summary at the end of a crawl or refresh."""
    from datetime import datetime

    started = datetime.fromisoformat(run["started_at"])
    finished = datetime.fromisoformat(run["finished_at"]) if run["finished_at"] else started
    rows = [
        ("new", run["pages_new"]),
        ("changed", run["pages_changed"]),
        ("unchanged", run["pages_unchanged"]),
        ("not modified", run["pages_not_modified"]),
        ("gone", run["pages_gone"]),
        ("failed", run["pages_failed"]),
    ]
    lines = [f"{run['command'].capitalize()} #{run['id']} {run['finish_reason']} "
             f"in {(finished - started).total_seconds():.1f}s", "pages:"]
    lines += [f"  {name:<13}{value or 0:>8}" for name, value in rows]
    lines.append(f"requests:      {run['requests'] or 0:>8}   ({(run['bytes'] or 0) / 1e6:.1f} MB received)")
    lines.append(f"archive:       {os.path.abspath(db)}")
    return "\n".join(lines)


@cli.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0 picks a free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option("--pages", type=click.IntRange(min=40, max=50000), default=200, show_default=True,
              help="How many glossary pages the replica has.")
@click.option("--generation", type=click.IntRange(min=1), default=1, show_default=True,
              help="How far the site has moved on: each generation edits, adds and deletes pages.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False), help="Log every request as a JSON line here.")
def replica(port: int, host: str, pages: int, generation: int, log_path: str | None) -> None:
    """Serve the bundled replica of the glossary site until stopped.

    \b
    Example:
        glossary replica --port 8000 --pages 500
        glossary crawl --start-url http://127.0.0.1:8000/ --delay 0 --db data/demo.db
    """
    import ipaddress

    from glossary_spider.replica.server import serve

    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise UserError(f"--host {host} is not a loopback address: the replica only serves on loopback")
    except ValueError:
        raise UserError(f"--host {host!r} is not an IP address (e.g. 127.0.0.1)") from None
    log = open(log_path, "a", encoding="utf-8") if log_path else None
    try:
        serve(pages=pages, port=port, host=host, generation=generation, log=log)
    except Exception as exc:  # the port is taken, most often
        raise UserError(f"cannot serve on {host}:{port}: {exc}") from None


def main() -> None:
    cli(prog_name="glossary")


if __name__ == "__main__":
    main()
