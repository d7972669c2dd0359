"""A Datasette plugin: a page's URL cell links to its sections, links, versions and captures; a cell's
control characters show as escapes; and the SQL functions the search canned query is bounded with (see
:mod:`glossary_spider.metadata`).

The sections, links, versions and captures are views over the archive's compact tables (see
:mod:`glossary_spider.storage.schema`), which foreign keys cannot point to; these links stand in for
Datasette's "links from other tables".
Registered through the ``datasette`` entry point, so any Datasette in the same environment has it.
"""

from __future__ import annotations

import re
import sqlite3
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote

from datasette import hookimpl
from datasette.utils import escape_fts
from markupsafe import Markup, escape

from glossary_spider.query import long_page_snippet, ranking_query
from glossary_spider.terminal import safe_text

# (view, or canned query, and its column, or parameter, holding the page's URL). page_history, not the
# page_versions view, which rebuilds every page's versions to answer about one.
PAGE_ROWS = (("sections", "url"), ("links", "from_url"), ("page_history", "url"), ("captures", "url"))


def search_match(q: str | None) -> str:
    """The search canned query's FTS5 query for what a user typed: Datasette's escape_fts (every word and
    "phrase" quoted, all required), each once: FTS5 ranks and highlights every repeat again, in time that grows
    with the square of the repeats and of the page's hits. No word at all (an empty box, a lone quote) is '""',
    which matches nothing."""
    return " ".join(dict.fromkeys(re.findall(r'"[^"]*"', escape_fts(q or "")))) or '""'


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    # For the search canned query (metadata.py): bounded as glossary search is bounded.
    conn.create_function("search_match", 1, search_match, deterministic=True)
    conn.create_function("search_ranking", 1, ranking_query, deterministic=True)
    conn.create_function("long_page_snippet", 2, long_page_snippet, deterministic=True)


# Datasette's route for a row's page, the one page that shows text whole (tables and queries cut it).
ROW_PAGE = re.compile(r"/[^/.]+/[^/]+?/[^/]+?(\.\w+)?")
# Whether the request being answered is for a row's page: render_cell is not told which page it renders for.
_row_page: ContextVar[bool] = ContextVar("row_page", default=False)


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    def wrap(app: Any) -> Any:
        async def told_the_page(scope: dict[str, Any], receive: Any, send: Any) -> None:
            path, base_url = scope.get("path", ""), datasette.setting("base_url")
            if base_url != "/" and path.startswith(base_url):  # as Datasette routes it
                path = "/" + path[len(base_url):]
            token = _row_page.set(bool(ROW_PAGE.fullmatch(path)))
            try:
                await app(scope, receive, send)
            finally:
                _row_page.reset(token)
        return told_the_page
    return wrap


@hookimpl
def prepare_jinja2_environment(env: Any, datasette: Any) -> None:
    """Every text a template writes (a facet's values, a page's title, a column's name), not only the cells
    render_cell sees, with its control characters shown as escapes; HTML made already (Markup) as it is."""
    env.finalize = lambda value: value if isinstance(value, Markup) or not isinstance(value, str) else safe_text(value)


@hookimpl
def render_cell(value: Any, column: str, table: str | None, database: str, datasette: Any) -> Markup | None:
    """A page's URL with its links; and any text holding control characters with them shown as escapes, as the
    command line shows them (a right-to-left override made 'Report \\u202egnp.exe' read 'Report exe.png'), a
    foreign key's label (the title of the page a capture's URL names) too."""
    if isinstance(value, dict) and isinstance(label := value.get("label"), str) and safe_text(label) != label:
        return _labelled_key(value["value"], label, column, table, database, datasette)
    if not isinstance(value, str):
        return None
    if table == "pages" and column == "url":
        base = datasette.urls.database(database)
        links = " · ".join(f'<a href="{escape(base)}/{view}?{key}={escape(quote(value, safe=""))}">{view}</a>'
                           for view, key in PAGE_ROWS)
        return Markup(f"{escape(safe_text(value))}<br><small>{links}</small>")
    limit = 0 if _row_page.get() else datasette.setting("truncate_cells_html")
    shown = value[:limit] if limit and len(value) > limit else value  # what Datasette shows: its cut, then …
    escaped = safe_text(shown)
    if escaped == shown:
        return None  # Datasette's own rendering
    return Markup(escape(escaped) + ("…" if len(shown) < len(value) else ""))


def _labelled_key(value: Any, label: str, column: str, table: str | None, database: str,
                  datasette: Any) -> Markup | None:
    """A foreign key's cell as Datasette draws it (a link to the row it names, labelled, its value after), the label's
    control characters shown as escapes."""
    from datasette.utils import tilde_encode

    from glossary_spider.storage.schema import FOREIGN_KEYS

    other = next((target for name, key, target, _ in FOREIGN_KEYS if (name, key) == (table, column)), None)
    if other is None:
        return None
    href = f"{datasette.urls.table(database, other)}/{tilde_encode(str(value))}"
    return Markup(f'<a href="{escape(href)}">{escape(safe_text(label))}</a>&nbsp;<em>{escape(value)}</em>')


@hookimpl
def extra_template_vars(template: str, database: str | None, table: str | None, request: Any, datasette: Any) -> Any:
    """A page's row lists the rows of other tables whose foreign keys name it ("Links from other tables"),
    each linked to them; Datasette writes the page's URL into those links as it is, and a URL holding a
    ``%`` (any page whose address has a character past ASCII) is then read back decoded: the link led to no
    row. The list, made again with the URL quoted, takes the place of Datasette's."""
    if template != "row.html" or table != "pages" or database is None or request is None:
        return {}

    async def foreign_key_tables() -> dict[str, Any]:
        from datasette.utils import tilde_decode

        from glossary_spider.storage.schema import FOREIGN_KEYS

        url = tilde_decode(request.url_vars.get("pks", ""))
        db = datasette.get_database(database)
        found = []
        for other, column, target, target_column in FOREIGN_KEYS:
            if target != "pages" or target_column != "url":
                continue
            count = (await db.execute(f"SELECT count(*) FROM [{other}] WHERE [{column}] = ?", [url])).first()[0]
            found.append({"other_table": other, "other_column": column, "column": target_column, "count": count,
                          "link": f"{datasette.urls.table(database, other)}?{column}={quote(url, safe='')}"})
        return {"foreign_key_tables": found}

    return foreign_key_tables

