"""A Datasette plugin: a page's URL cell links to its sections, links, versions and captures.

Those are views over the archive's compact tables (see :mod:`glossary_spider.storage.schema`), which
foreign keys cannot point to; these links stand in for Datasette's "links from other tables".
Registered through the ``datasette`` entry point, so any Datasette in the same environment has it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from datasette import hookimpl
from markupsafe import Markup, escape

# (view, its column holding the page's URL)
PAGE_ROWS = (("sections", "url"), ("links", "from_url"), ("page_versions", "url"), ("captures", "url"))


@hookimpl
def render_cell(value: Any, column: str, table: str | None, database: str, datasette: Any) -> Markup | None:
    if table != "pages" or column != "url" or not isinstance(value, str):
        return None
    base = datasette.urls.database(database)
    links = " · ".join(f'<a href="{escape(base)}/{view}?{key}={escape(quote(value, safe=""))}">{view}</a>'
                       for view, key in PAGE_ROWS)
    return Markup(f"{escape(value)}<br><small>{links}</small>")
