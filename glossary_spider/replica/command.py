"""``glossary replica``: the bundled replica of the glossary site, served on loopback, with the ways it
can misbehave (the command line of :mod:`glossary_spider.replica`, loaded only when asked for)."""

from __future__ import annotations

import ipaddress

import click

from glossary_spider.cli import UserError
from glossary_spider.replica.modes import MODES
from glossary_spider.replica.site import MAX_GENERATION
from glossary_spider.replica.themes import ATTACK_MODES, ROBOTS_MODES


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0 picks a free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option("--pages", type=click.IntRange(min=40, max=50000), default=200, show_default=True,
              help="How many glossary pages the replica has.")
@click.option("--generation", type=click.IntRange(1, MAX_GENERATION), default=1, show_default=True,
              help="How far the site has moved on: each generation edits, adds and deletes pages.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False), help="Log every request as a JSON line here.")
@click.option("--faults", is_flag=True,
              help="Serve the hostile replica: pages, redirects, sitemaps and link traps that misbehave.")
@click.option("--robots", type=click.Choice(ROBOTS_MODES), default="normal", show_default=True,
              help="With --faults: how robots.txt misbehaves.")
@click.option("--mode", type=click.Choice(MODES), default="normal", show_default=True,
              help="How the whole site misbehaves: every URL a maintenance page, a 200 'Nothing found' page "
                   "where a page is missing (soft404), a theme the extraction does not know (redesign), "
                   "429 Too Many Requests at every URL but robots.txt (rate-limited), 403 Forbidden there "
                   "(forbidden), 404 Not Found at every URL (not-found), a 301 to the home page from every "
                   "other URL (moved), a JSON error with 200 (json-error), sitemaps whose lastmod never moves "
                   "on while the pages change (stale-lastmod) or that give dates without a time "
                   "(date-lastmod), a tenth of the definitions deleted, 404 and "
                   "out of the sitemaps (pruned), or all but a tenth of the definitions and terms deleted so "
                   "(gutted). POST the mode to /_replica/mode "
                   "to switch a running replica.")
@click.option("--attack", type=click.Choice(ATTACK_MODES),
              help="Serve the malicious replica making this attack (and its hostile pages under /attack/).")
def replica(port: int, host: str, pages: int, generation: int, log_path: str | None, faults: bool,
            robots: str, mode: str, attack: str | None) -> None:
    """Serve the bundled replica of the glossary site until stopped.

    \b
    Examples:
        glossary replica --port 8000 --pages 500
        glossary crawl --start-url http://127.0.0.1:8000/ --delay 0 --db demo.db
        glossary replica --port 8001 --faults --robots crawl-delay
        glossary replica --port 8002 --mode maintenance
        glossary replica --port 8003 --attack sitemap-chain
    """
    if robots != "normal" and not faults:
        raise UserError("--robots changes the hostile replica: give --faults too")
    from glossary_spider.replica.server import serve

    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise UserError(f"--host {host} is not a loopback address: the replica only serves on loopback")
    except ValueError:
        raise UserError(f"--host {host!r} is not an IP address (e.g. 127.0.0.1)") from None
    try:
        log = open(log_path, "a", encoding="utf-8") if log_path else None
    except OSError as exc:
        raise UserError(f"cannot write --log {log_path}: {exc.strerror or exc}: give a file in a directory that "
                        "exists and this user may write") from None
    try:
        serve(pages=pages, port=port, host=host, generation=generation, log=log, faults=faults, robots=robots,
              mode=mode, attack=attack)
    except Exception as exc:  # the port is taken, most often
        raise UserError(f"cannot serve on {host}:{port}: {exc}") from None
