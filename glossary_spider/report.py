"""The archive health report as text or as one self-contained HTML file with charts."""

from __future__ import annotations

from html import escape
from typing import Any

from glossary_spider.outcome import changes, exit_status, outcome
from glossary_spider.runs import not_done


def _text(value: Any) -> str:
    """A column's value in the text report: ``-`` for none (a row some other tool left without it)."""
    return "-" if value is None else str(value)


def as_text(data: dict[str, Any]) -> str:
    lines = [f"Archive: {data['pages']} pages", "", "Pages by type and status"]
    lines += [f"  {_text(r['page_type']):<14}{_text(r['status']):<6}{r['pages']:>8}" for r in data["pages_by_type"]]
    for title, key, fmt in (
        ("Broken related links", "broken_related", lambda r: f"{r['from_url']} -> {r['to_url']} ({_gone_as(r)})"),
        ("Orphan pages (no archived page links to them)", "orphans",
         lambda r: f"{_text(r['page_type']):<14}{r['url']}"),
        ("One-way related links (A lists B, B does not list A)", "one_way_related",
         lambda r: f"{r['from_url']} -> {r['to_url']}"),
    ):
        section = data[key]
        items = section.get("links", section.get("pages", []))
        lines += ["", f"{title}: {section['count']}"]
        lines += [f"  {fmt(r)}" for r in items]
        if section["count"] > len(items):
            lines.append(f"  … and {section['count'] - len(items)} more")
    lines += ["", "Errors by stage"] + [f"  {_text(r['stage']):<10}{r['errors']:>8}" for r in data["errors_by_stage"]]
    if recent := data["recent_errors"]["errors"]:
        lines += ["", "Recent errors (run, stage, URL, what happened)"]
        lines += [f"  #{_text(r['run_id']):<4}{_text(r['stage']):<10}{_text(r['url'])}  {_text(r['error'])}"
                  + (f" ({r['http_status']})" if r["http_status"] is not None else "") for r in recent]
        if (more := data["recent_errors"]["count"] - len(recent)) > 0:
            lines.append(f"  … and {more} more (in the crawl_errors table)")
    lines += ["", "Last runs", "  id  command   started                    result            exit   new  changed  "
              "unchanged  not-mod  gone  back  failed"]
    for r in data["runs"]:
        lines.append(
            f"  {r['id']:<4}{_text(r['command']):<10}{_text(r['started_at']):<27}"
            f"{_result(r):<17}{'' if r.get('exit_status') is None else r['exit_status']:>4}"
            f"{r['pages_new'] or 0:>6}{r['pages_changed'] or 0:>9}{r['pages_unchanged'] or 0:>11}"
            f"{r['pages_not_modified'] or 0:>9}{r['pages_gone'] or 0:>6}{r.get('pages_back') or 0:>6}"
            f"{r['pages_failed'] or 0:>8}"
        )
    lines += [f"  {line}" for line in _why_not_done(data["runs"])]
    if data.get("held_runs"):
        lines += ["", "Held runs (the quality gate kept their versions out: see 'glossary held')"]
        for r in data["held_runs"]:
            lines.append(f"  #{r['run_id']} {_text(r['command'])} {_text(r['started_at'])}  {r['decision']}")
            lines += [f"    {c['name']}: {c['summary']}" for c in r["tripped"]]
    if data["recent_changes"]:
        lines += ["", f"Recent changes ({RECENT_CHANGES})"]
        lines += [f"  v{r['version']}  {r['captured_at']}  {r['url']}" for r in data["recent_changes"]]
        if (more := data["recent_changes_count"] - len(data["recent_changes"])) > 0:
            lines.append(f"  … and {more} more")
    return "\n".join(lines) + "\n"


# What the report's recent changes are: new versions; the pages a run found new or gone are in its row.
RECENT_CHANGES = "new versions of pages; the pages new or gone are counted in the runs above"


def _why_not_done(runs: list[dict[str, Any]]) -> list[str]:
    """Why each run that did not end well did not (refused before it started, killed), as 'glossary runs' says."""
    return [not_done(r) for r in runs if r.get("error") and r.get("outcome") != "done"]


def _gone_as(link: dict[str, Any]) -> str:
    """What a broken link's target answered: its status; a 2xx one is a soft 404 (the site's "not found" page, which
    the quality gate marked gone), a 3xx one moved away."""
    status = link["target_status"]
    if status is not None and 200 <= status < 300:
        return f"soft 404: the site's \"not found\" page, HTTP {status}"
    if status is not None and 300 <= status < 400:
        return f"moved away, HTTP {status}"
    return _text(status)


# Buckets of the inbound-links histogram: every bucket is shown, empty ones too, so the bars'
# lengths read as a distribution.
INBOUND_BUCKETS = [(0, 0), (1, 1), (2, 2), (3, 4), (5, 9), (10, 19), (20, 49), (50, None)]


def inbound_histogram(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Pages by how many pages link to them, in ranges (``rows``: inbound, pages)."""
    buckets = []
    for low, high in INBOUND_BUCKETS:
        label = f"{low}+" if high is None else str(low) if low == high else f"{low}–{high}"
        pages = sum(r["pages"] for r in rows if r["inbound"] >= low and (high is None or r["inbound"] <= high))
        buckets.append((f"{label} linking", pages))
    return buckets


def _bar_chart(title: str, items: list[tuple[str, int]], width: int = 640) -> str:
    """A horizontal bar chart as inline SVG; labels and values escaped."""
    if not items:
        return f"<h2>{escape(title)}</h2><p>No data.</p>"
    row, label_width = 22, 190
    top = max(value for _, value in items) or 1
    height = row * len(items) + 10
    bars = []
    for i, (label, value) in enumerate(items):
        y = i * row + 5
        length = int((width - label_width - 60) * value / top)
        bars.append(
            f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end">{escape(str(label))}</text>'
            f'<rect x="{label_width}" y="{y + 2}" width="{length}" height="{row - 6}" rx="2"></rect>'
            f'<text x="{label_width + length + 6}" y="{y + 14}">{value}</text>'
        )
    return (f'<h2>{escape(title)}</h2><svg role="img" aria-label="{escape(title)}" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}">{"".join(bars)}</svg>')


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _more(count: int, shown: list[Any]) -> str:
    """The line under a table cut short: how many rows it leaves out, and where to see them."""
    if count <= len(shown):
        return ""
    return f"<p>… and {count - len(shown)} more (all of them in 'glossary browse').</p>"


def as_html(data: dict[str, Any]) -> str:
    by_type: dict[str, int] = {}
    for r in data["pages_by_type"]:
        by_type[f"{r['page_type']} ({r['status']})"] = r["pages"]
    runs = list(reversed(data["runs"]))
    parts = [
        _bar_chart("Pages by type", list(by_type.items())),
        _bar_chart("Pages published per month", [(r["month"], r["pages"]) for r in data["published_per_month"]]),
        _bar_chart("Changes per run (pages new, changed, gone or back)",
                   [(f"#{r['id']} {r['command']}", changes(r)) for r in runs]),
        _bar_chart("Pages by number of pages linking to them", inbound_histogram(data["inbound_links"])),
        "<h2>Most linked pages</h2>" + _table(["page", "title", "linked from"],
                                              [[r["url"], r["title"], r["inbound"]] for r in data["most_linked"]]),
    ]
    for title, key, headers, fields in (
        ("Broken related links", "broken_related", ["from", "to", "anchor", "status"],
         ["from_url", "to_url", "anchor_text", _gone_as]),
        ("Orphan pages", "orphans", ["url", "type", "title"], ["url", "page_type", "title"]),
        ("One-way related links", "one_way_related", ["from", "to", "anchor"], ["from_url", "to_url", "anchor_text"]),
    ):
        section = data[key]
        items = section.get("links", section.get("pages", []))
        parts.append(f"<h2>{escape(title)}: {section['count']}</h2>"
                     + _table(headers, [[f(r) if callable(f) else r[f] for f in fields] for r in items])
                     + _more(section["count"], items))
    parts.append("<h2>Errors by stage</h2>" + _table(["stage", "errors"],
                                                     [[r["stage"], r["errors"]] for r in data["errors_by_stage"]]))
    recent = data["recent_errors"]
    parts.append(f"<h2>Recent errors: {recent['count']}</h2>" + _table(
        ["run", "stage", "url", "status", "what happened"],
        [[r["run_id"], r["stage"], r["url"], r["http_status"], r["error"]] for r in recent["errors"]])
        + _more(recent["count"], recent["errors"]))
    parts.append("<h2>Last runs</h2>" + _table(
        ["run", "command", "started", "result", "exit", "new", "changed", "unchanged", "not modified", "gone",
         "still gone", "back", "failed"],
        [[r["id"], r["command"], r["started_at"], _result(r), r.get("exit_status"), r["pages_new"], r["pages_changed"],
          r["pages_unchanged"], r["pages_not_modified"], r["pages_gone"], r.get("pages_still_gone"),
          r.get("pages_back"), r["pages_failed"]] for r in data["runs"]])
        + "".join(f"<p>{escape(line)}</p>" for line in _why_not_done(data["runs"])))
    parts.append(f"<h2>Recent changes: {data['recent_changes_count']}</h2><p>{escape(RECENT_CHANGES)}.</p>" + _table(
        ["version", "captured", "page", "title"],
        [[r["version"], r["captured_at"], r["url"], r["title"]] for r in data["recent_changes"]])
        + _more(data["recent_changes_count"], data["recent_changes"]))
    if data.get("held_runs"):
        parts.append("<h2>Held runs</h2>" + _table(
            ["run", "command", "started", "state", "pages", "what tripped the gate", "e.g."],
            [[r["run_id"], r["command"], r["started_at"], r["decision"], r["pages"],
              "; ".join(f"{c['name']}: {c['summary']}" for c in r["tripped"]),
              " ".join(u for c in r["tripped"] for u in c["examples"][:1])] for r in data["held_runs"]]))
    style = ("body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}"
             "svg text{font-size:12px;fill:#333}svg rect{fill:#3b7dd8}"
             "table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ddd;padding:.2em .5em;"
             "text-align:left;font-size:12px}th{background:#f4f4f4}")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Glossary archive report</title>'
            f"<style>{style}</style></head><body><h1>Glossary archive: {data['pages']} pages</h1>"
            + "\n".join(parts) + "</body></html>\n")


def _result(run: dict[str, Any]) -> str:
    """How a run ended, in the words of ``glossary runs`` (``done``, ``stopped_early``, ``bad_input``, ``held``; a run
    killed ``failed``, one going on ``running``): a held run with what became of it."""
    reason = run["finish_reason"]
    result = run.get("outcome") or (outcome(exit_status(reason)) if reason else "unfinished")
    return f"{result} ({run['decision']})" if run.get("decision") else result
