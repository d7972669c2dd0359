"""The commands that read the archive: ``search``, ``show``, ``export``, ``report`` and ``browse``."""

from __future__ import annotations

import csv
import functools
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from glossary_spider import startup
from glossary_spider.cli.common import (BROWSE_EXIT_STATUSES, EXIT_FAILED, READER_EXIT_STATUSES, UserError, cli,
                                        db_option, format_option, open_reader, output_path, type_option,
                                        user_errors)
from glossary_spider.cli.output import (echo_document, left_at, not_the_archive, output_failed, output_file,
                                        output_to, silence_stdout, stops_past, stops_take_back)
from glossary_spider.params import percent_encoded, utf8_argument
from glossary_spider.terminal import ShownOnTerminal, can_style, quoted, safe_json, safe_text


@cli.command(epilog=READER_EXIT_STATUSES)
@click.argument("words", nargs=-1, required=True, metavar="QUERY")
@db_option
@type_option
@click.option("--limit", type=click.IntRange(min=1, max=1_000_000), default=20, show_default=True,
              help="Most results to show.")
@format_option("table", "json", "csv")
@stops_take_back("search")
@user_errors
def search(words: tuple[str, ...], db: str, page_type: str | None, limit: int, fmt: str) -> None:
    """Full-text search over titles, summaries and body text.

    A QUERY of several words need not be quoted: glossary search funding rate
    is glossary search "funding rate".
    Results are ranked by bm25, title matches first, with the matching words
    highlighted. FTS5 syntax works (AND, OR, NOT, "phrases", prefix*,
    title:word); a query that is not valid syntax is searched as plain words,
    every one of them required, and a note on stderr says so; one holding NOT
    is refused instead (as plain words, it would ask for what NOT leaves out).

    \b
    Examples:
        glossary search "funding rate"
        glossary search 'vega OR gamma' --type definition --limit 5 --format json
    """
    from glossary_spider import query as q
    from glossary_spider.export import spreadsheet_cell

    def as_words(reason: str, searched: str) -> None:
        words = safe_text(searched[:200] + "…" * (len(searched) > 200), one_line=True)  # of a query of any length
        click.echo(f"Note: {quoted(query)} is not FTS5 query syntax ({safe_text(reason, one_line=True)}): searched "
                   f"for the pages holding every one of its words, {words} (leave a word out with NOT, search a "
                   "phrase in double quotes)", err=True)

    output_to(None, option=False)
    query = utf8_argument(" ".join(words), "the search",
                          lambda _: "give the words in UTF-8, as the archive holds them")
    # Read as they are written: memory stays flat.
    results = q.search(open_reader(db), query, page_type, limit, as_words)
    if fmt == "json":  # json.dumps(results, indent=2), written a result at a time
        opening = "[\n"
        for r in results:
            item = json.dumps({**r, "snippet": q.highlight(r["snippet"], shown=False)}, indent=2, ensure_ascii=False)
            # Its lines are json's own: a U+2028 in a title is no line of it (textwrap.indent would take it for one).
            echo_document(opening + safe_json("  " + item.replace("\n", "\n  ")), nl=False)
            opening = ",\n"
        echo_document("[]" if opening == "[\n" else "\n]")
    elif fmt == "csv":  # UTF-8 whatever the locale's encoding, as an export's: the cells exactly as archived
        with open(sys.stdout.fileno(), "w", encoding="utf-8", newline="", closefd=False) as stream:
            # On a terminal, a site's escape sequences are shown, not acted on; to a file or a pipe, exact.
            writer = csv.writer(ShownOnTerminal(stream) if sys.stdout.isatty() else stream)
            writer.writerow(["url", "page_type", "title", "summary", "snippet", "status"])
            for r in results:
                cells = (r["url"], r["page_type"], r["title"], r["summary"], q.highlight(r["snippet"], shown=False))
                writer.writerow([*map(spreadsheet_cell, cells), r["status"]])
    else:
        bold, shown = can_style(sys.stdout), False
        for r in results:
            marks = ("\033[1m", "\033[0m") if bold else ("[", "]")
            title = safe_text(r["title"] or "(untitled)", one_line=True)
            kind = f"{r['page_type']}, gone" if r.get("status") == "gone" else r["page_type"]
            click.echo(f"{click.style(title, bold=True) if bold else title}  ({kind})  "
                       f"{safe_text(r['url'], one_line=True)}")
            click.echo(f"    {q.highlight(r['snippet'], *marks)}")
            shown = True
        if not shown:
            click.echo(f"No {page_type + ' ' if page_type else ''}page matches {quoted(query)}.", err=True)


def _page_and_versions(page: str | None, versions: str | None) -> tuple[str, str | None]:
    """The page and the ``--diff`` versions ``show`` was given. ``--diff`` may go without a value, so click
    hands it the word after it: ``show --diff vega`` is read as ``show vega --diff``, and ``show --diff vega
    1..2`` as ``show vega --diff 1..2``."""
    from glossary_spider.query import VERSIONS_SPEC

    if versions and not VERSIONS_SPEC.fullmatch(versions) and (page is None or VERSIONS_SPEC.fullmatch(page)):
        page, versions = versions, page or ""
    if page is None:
        raise click.UsageError("Missing argument 'URL_OR_SLUG'.")
    return page, versions


@cli.command(epilog=READER_EXIT_STATUSES)
@click.argument("url_or_slug", required=False, metavar="URL_OR_SLUG")
@db_option
@type_option
@click.option("--history", is_flag=True,
              help="List the page's versions, and when it went and came back (with --format json, each "
                   "version's text and record too).")
@click.option("--diff", "diff_spec", is_flag=False, flag_value="", default=None, metavar="[A..B]",
              help="Word-level diff between the last two versions, or versions A and B; then the links and "
                   "structured data values that changed, a line each.")
@format_option("text", "json")
@stops_take_back("page")
@user_errors
def show(url_or_slug: str, db: str, page_type: str | None, history: bool, diff_spec: str | None, fmt: str) -> None:
    """One page: its record, sections, links (out, and in: directly or through a URL that redirects here) and JSON-LD.

    \b
    Examples:
        glossary show international-legal-cooperation
        glossary show https://term.greeks.live/term/greeks/ --format json
        glossary show greeks-settlement --type area --history
        glossary show funding-ladder --diff 1..2
    """
    from glossary_spider import query as q

    url_or_slug, diff_spec = _page_and_versions(url_or_slug, diff_spec)
    if history and diff_spec is not None:
        raise UserError("give --history or --diff, not both")
    output_to(None, option=False)
    conn = open_reader(db)
    given = utf8_argument(url_or_slug, "URL or slug",
                          lambda text: f"give it percent-encoded, {quoted(percent_encoded(text))}")
    url = q.resolve(conn, given, page_type)
    if diff_spec is not None:
        a, b, changes = q.diff(conn, url, diff_spec or None)
        if fmt == "json":
            echo_document(safe_json(json.dumps({"url": url, "from": a, "to": b, "changes": [
                {"field": c.field, "tokens": [{"op": op, "text": t} for op, t in c.tokens]} for c in changes]},
                indent=2, ensure_ascii=False)))
            return
        click.echo(f"{safe_text(url, one_line=True)}: version {a} → {b}")
        if not changes:
            click.echo("  no change in title, summary, text, links or structured data")
        color = can_style(sys.stdout)
        for change in changes:
            click.echo(f"\n{change.field}:")
            if change.field in q.LINE_FIELDS:  # a line each: removed, added, moved
                click.echo("\n".join("  " + _diff_token(op, text, color) for op, text in change.tokens))
            else:
                click.echo("  " + " ".join(_diff_token(op, text, color) for op, text in change.tokens))
        return
    if history:
        versions, events = q.history(conn, url), q.gone_and_back(conn, url)
        if fmt == "json":
            echo_document(safe_json(json.dumps({"url": url, "versions": versions, "gone_and_back": events},
                                               indent=2, ensure_ascii=False)))
            return
        click.echo(safe_text(url, one_line=True))
        for line in _history_lines(versions, events):
            click.echo(safe_text(line, one_line=True))
        return
    page = q.page(conn, url)
    if fmt == "json":
        echo_document(safe_json(json.dumps(page, indent=2, ensure_ascii=False)))
    else:
        click.echo(safe_text(_page_text(page)))


def _history_lines(versions: list[dict[str, Any]], events: list[dict[str, Any]]) -> list[str]:
    """A line for each version and for each time the page went and came back, in the order of their captures, then
    of their runs (a page back with new words: back, then its version; a version a reparse read from a capture
    made before the page went: before its going)."""
    from glossary_spider.query import counted

    lines = []
    for v in versions:
        line = (f"  v{v['version']}  {v['captured_at']}  run {v['run_id']} ({v['command']})  "
                f"{v['content_hash'][:12]}  {counted(v['words'] or 0, 'word')}  {v['title'] or '(untitled)'}")
        lines.append(((v["captured_at"] or "", v["run_id"] or 0, 1), line))
    for e in events:
        how = f" to {e['to']}" if e["to"] else ""
        if e["event"] == "gone" and not how and 200 <= (e["http_status"] or 0) < 300:
            how = ': the site\'s "not found" page'
        line = f"  {e['event']}  {e['at']}  run {e['run_id']} ({e['command']})  HTTP {e['http_status']}{how}"
        lines.append(((e["at"] or "", e["run_id"] or 0, 0), line))
    return [line for _, line in sorted(lines, key=lambda found: found[0])]


def _diff_token(op: str, text: str, color: bool) -> str:
    text = safe_text(text, one_line=True)
    if op == "=":
        return text
    if color:
        return click.style(text, fg={"-": "red", "+": "green"}.get(op, "yellow"), strikethrough=op == "-")
    return {"-": f"[-{text}-]", "+": f"{{+{text}+}}"}.get(op, f"{{~{text}~}}")  # ~: a line moved


def _page_text(page: dict[str, Any]) -> str:
    """What ``show`` prints of a page. A site writes each field: one that is a line (a title, an author, a link's
    text) keeps any line break of its own as an escape, so that no field reads as a line ``show`` wrote."""
    from glossary_spider.query import counted

    def line(value: Any) -> str:
        return safe_text(value, one_line=True)

    lines = [f"{line(page['title'] or '(untitled)')}  ({page['page_type']})", line(page["url"])]
    if page["summary"]:
        lines.append(f"Summary: {line(page['summary'])}")
    facts = [page["published"] and f"published {page['published']}", page["author"],
             page["categories"] and ", ".join(page["categories"]), page["language"]]
    lines.append(" · ".join(line(f) for f in facts if f))
    moved = f" to {line(page['moved_to'])}" if page["moved_to"] else ""  # a page gone by a redirect: where it went
    if page["status"] == "gone" and not moved and 200 <= (page["http_status"] or 0) < 300:
        moved = ': the site\'s "not found" page'  # a soft 404, which the quality gate marked gone
    lines.append(f"{page['status']} (HTTP {page['http_status']}{moved}) · version {page['version']} · first seen "
                 f"{page['first_seen']} · last fetched {page['last_fetched']} · last changed {page['last_changed']}")
    for section in page["sections"]:
        lines += ["", f"## {line(section['heading'] or '')}", section["text"] or ""]  # edited away elsewhere: none
    if not page["sections"] and page["body_text"]:
        lines += ["", page["body_text"]]
    for kind, links in page["links"].items():
        lines += ["", f"{kind} links ({len(links)}):"]
        lines += [f"  {line(link['anchor_text'] or '')}  → {line(link['to_url'])}" for link in links]
    lines += ["", f"Linked from {counted(len({l['from_url'] for l in page['linked_from']}), 'page')}:"]
    lines += [f"  {line(l['title'] or '')} ({l['kind']}{', gone' if l['status'] == 'gone' else ''}"
              f"{', via ' + line(l['via']) if l['via'] else ''})  {line(l['from_url'])}"
              for l in page["linked_from"]]  # a gone page's links: what the site said before it went
    lines += ["", f"JSON-LD: {line(', '.join(_json_ld_kind(item) for item in page['json_ld']) or 'none')}"]
    if page.get("microdata"):  # extruct's items: their type is a URL, or several
        kinds = ["/".join(map(str, t)) if isinstance(t := item.get("type"), list) else str(t)
                 for item in page["microdata"] if isinstance(item, dict)]
        lines.append(f"Microdata: {line(', '.join(kinds))}")
    return "\n".join(lines)


def _json_ld_kind(item: Any) -> str:
    """A JSON-LD block in a word: its ``@type`` (types joined by ``/``), or what JSON value it is instead."""
    if isinstance(item, dict):
        kind = item.get("@type")
        if kind in (None, "", []):  # none, or an empty one
            return "@graph" if "@graph" in item else "no @type"
        return "/".join(map(str, kind)) if isinstance(kind, list) else str(kind)
    return {str: "a string", int: "a number", float: "a number", bool: "true or false", list: "a list",
            type(None): "null"}.get(type(item), "?")


@cli.command(epilog=READER_EXIT_STATUSES)
@db_option
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "warc"]), required=True, help="Export format.")
@type_option
@click.option("--out", type=click.Path(dir_okay=False, writable=True), callback=output_path,
              help="Write here instead of standard output (-): whole or not at all (a failed write leaves an "
                   "earlier file as it was).")
@click.option("--raw", is_flag=True,
              help="With --format csv: every cell exactly as archived, a formula's apostrophe left out.")
@stops_take_back("export")
@user_errors
def export(db: str, fmt: str, page_type: str | None, out: str | None, raw: bool) -> None:
    """Export the archive: JSON lines or CSV (one record per page), or the raw captures as WARC.

    JSON lines nest each page's sections, links, JSON-LD and microdata; CSV has one flat row
    per page; WARC has one response record per capture, with its original status
    line, headers and raw body (standard WARC 1.0, read back by warcio), each
    record gzipped unless --out ends in .warc. Output
    streams, in constant memory. A CSV text cell that a spreadsheet would run as a
    formula (it starts with =, +, -, @, a tab or a carriage return: a site's
    '=HYPERLINK(...)' title) gets a leading apostrophe, which spreadsheets hide;
    --raw leaves it out, and JSON lines are always exact.

    \b
    Examples:
        glossary export --format jsonl --out pages.jsonl
        glossary export --format csv --type definition > definitions.csv
        glossary export --format warc --out glossary.warc.gz
    """
    from glossary_spider import export as ex

    if raw and fmt != "csv":
        raise UserError(f"--raw goes with --format csv: --format {fmt} is always exact")
    output_to(out)
    conn = open_reader(db)
    binary = fmt == "warc"
    if out:
        not_the_archive(out, db)
    elif binary and sys.stdout.isatty():
        raise UserError("a WARC is gzip-compressed bytes, not for a terminal: give --out FILE, or redirect the output")
    # A file named .warc holds plain records; any other name (.warc.gz), and standard output, gzipped ones.
    warc = functools.partial(ex.write_warc, gzip=not (out or "").lower().endswith(".warc"))
    writer = {"jsonl": ex.write_jsonl, "csv": functools.partial(ex.write_csv, raw=raw), "warc": warc}[fmt]
    # The records exactly as archived, in UTF-8 whatever the locale's encoding, to a file or standard output.
    text = {} if binary else {"encoding": "utf-8", "newline": "" if fmt == "csv" else None}
    try:
        with (output_file(out, "wb" if binary else "w", **text) if out else
              open(sys.stdout.fileno(), "wb" if binary else "w", closefd=False, **text)) as stream:
            # On a terminal, a site's escape sequences are shown, not acted on.
            count = writer(conn, ShownOnTerminal(stream) if not (out or binary) and sys.stdout.isatty() else stream,
                           page_type)
    except BrokenPipeError:  # the reader had enough (| head): not an error to tell it
        silence_stdout()
        sys.exit(EXIT_FAILED)
    except OSError as exc:
        raise output_failed(out or "standard output", exc, left_at(out, "export")) from None
    if out:
        click.echo(f"{count} {'captures' if binary else 'pages'} written to {safe_text(out, one_line=True)}", err=True)


@cli.command(epilog=READER_EXIT_STATUSES)
@db_option
@format_option("text", "json", "html")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), callback=output_path,
              help="Write here instead of standard output (-): whole or not at all (a failed write leaves an "
                   "earlier file as it was).")
@stops_take_back("report")
@user_errors
def report(db: str, fmt: str, out: str | None) -> None:
    """Archive health: pages by type and status, broken related links, orphans,
    one-way related links, and what changed in the last runs.

    The html form is one self-contained file with charts.

    \b
    Examples:
        glossary report
        glossary report --format html --out report.html
    """
    from glossary_spider import query as q
    from glossary_spider import report as r
    from glossary_spider.runs import list_runs

    output_to(out)
    reader = open_reader(db)
    data = q.report(reader, judged={run["id"]: run for run in list_runs(reader, db) if run["id"] is not None})
    text = {"text": lambda d: safe_text(r.as_text(d)), "html": lambda d: safe_text(r.as_html(d)),
            "json": lambda d: safe_json(json.dumps(d, indent=2, ensure_ascii=False))}[fmt](data)
    if out:
        not_the_archive(out, db)
        try:
            with output_file(out, "w", encoding="utf-8") as stream:
                stream.write(text)
        except OSError as exc:
            raise output_failed(out, exc, left_at(out, "report")) from None
        click.echo(f"report written to {safe_text(out, one_line=True)}", err=True)
    elif fmt == "text":
        click.echo(text, nl=False)
    else:
        echo_document(text, nl=False)


@cli.command(epilog=BROWSE_EXIT_STATUSES)
@db_option
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True,
              help="Port for Datasette (0 picks a free one).")
@click.option("--open/--no-open", "open_browser", default=True, show_default=True,
              help="Open a web browser on the archive.")
@user_errors
def browse(db: str, port: int, open_browser: bool) -> None:
    """Open the archive in Datasette, with column descriptions, facets and canned queries.

    Tables show long text cut short; a row's page shows it whole, and a page's row
    lists its sections, links, versions and captures. Serves until Ctrl-C or
    SIGTERM, then exits 0. An archive on a read-only filesystem is served
    immutable. A port in use exits 2. Needs the optional 'browse' extra:
    pip install 'glossary_spider[browse]'.

    Datasette's own options (--host, --setting, ...) are not passed on: for them,
    run Datasette itself. This package's plugin loads in any Datasette installed
    beside it; the README's 'glossary browse' section shows how to give it the
    descriptions and canned queries (glossary_spider.metadata.datasette_metadata).

    \b
    Examples:
        glossary browse --db demo.db
        glossary browse --port 8002 --no-open
    """
    import importlib.util
    import socket
    import subprocess

    from glossary_spider.metadata import SETTINGS, datasette_metadata
    from glossary_spider.query import open_mode
    from glossary_spider.workers import die_with_parent

    open_reader(db).close()
    if importlib.util.find_spec("datasette") is None:
        raise UserError("Datasette is not installed: pip install 'glossary_spider[browse]'")
    # Datasette opens the archive as a URI (file:PATH?mode=ro) without escaping it: a '#', '?' or '%' in
    # the path would open another file, or make one. And an absolute path never reads as an option.
    path = os.path.abspath(db)
    if odd := sorted(set("#?%") & set(path)):
        raise UserError(f"Datasette cannot open an archive whose path holds {' or '.join(map(repr, odd))}: "
                        f"give it another name, or a link to it under one")
    if port:
        with socket.socket() as probe:
            # As the server binds: a port whose last connections wait out TIME_WAIT is free to it.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise UserError(f"port {port} is in use: choose another with --port") from None
    archive = ["-i", path] if open_mode(db) == "immutable=1" else [path]
    # The metadata goes through Datasette's standard input (it reads it once, at start): no
    # temporary file to leave behind however this command ends, kill -9 included.
    command = [sys.executable, "-m", "datasette", "serve", *archive, "--metadata", "-", "--port", str(port)]
    for name, value in SETTINGS.items():
        command += ["--setting", name, str(value)]
    if open_browser:
        command.append("--open")
    # The kernel stops Datasette when this command dies, even by kill -9 (Linux).
    server = subprocess.Popen(command, stdin=subprocess.PIPE, text=True,
                              preexec_fn=functools.partial(die_with_parent, signal.SIGTERM))
    server.stdin.write(json.dumps(datasette_metadata(Path(db).stem)))
    server.stdin.close()

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)  # SIGTERM and SIGHUP stop Datasette too (finally, below), and exit 0

    # Taken over before the start-up's handlers are let go: between the two, SIGTERM's default killed it.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signum not in startup.ignored():
            signal.signal(signum, stop)
    code = 0
    try:
        startup.started()
        code = server.wait()
    except KeyboardInterrupt:  # Datasette had the same Ctrl-C
        code = 0
    finally:
        stops_past()  # a second stop does not break into Datasette's
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()
    sys.exit(0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else EXIT_FAILED)
