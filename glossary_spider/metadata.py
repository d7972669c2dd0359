"""Self-describing data: Datasette metadata for the archive (descriptions, canned queries, facets)."""

from __future__ import annotations

from typing import Any

from glossary_spider.query import SNIPPET_MAX_WORDS, SNIPPET_WORDS
from glossary_spider.storage.schema import version_chain

URL = "the page's normalised URL"
RUN = "the crawl_runs id of the run that wrote this row"

COLUMNS: dict[str, dict[str, str]] = {
    "pages": {
        "url": "The page's normalised URL, after redirects (primary key)",
        "page_type": "definition, term, area, area_resource or other, from the URL path",
        "slug": "The <slug> of the path; for an area resource, the area's slug",
        "title": "The term's own name, without the ⎊ Definition / Term / Area / Resource suffixes and site name",
        "summary": "The one-sentence meaning, without 'Meaning ⎊' and the type suffix",
        "body_text": "The page's own main text: headings, paragraphs, quotes and prose lists, blank-line separated",
        "word_count": "Words in body_text",
        "published": "From JSON-LD datePublished, else the visible date or meta tags (UTC)",
        "modified": "From JSON-LD dateModified, else meta tags (UTC)",
        "author": "The author's name, e.g. Greeks.live; several as a byline writes them: Jane Doe, John Smith and "
                  "Ann Lee",
        "categories": "JSON array of categories, e.g. [\"Definition\"]",
        "language": "From <html lang>",
        "canonical_url": "The page's declared rel=canonical",
        "http_status": "HTTP status of the last fetch",
        "status": "live, or gone once a later fetch answered 404 or 410 or redirected elsewhere",
        "content_hash": "sha256 of what the page says (its extracted record, less the JSON-LD a site rewrites on its "
                        "own: dateModified, view and comment counts): markup churn is not a change",
        "first_seen": "When the page was first archived",
        "last_fetched": "When the page was last fetched",
        "last_changed": "When its latest content version appeared",
        "version": "How many distinct content versions the archive holds for this page",
        "extractor_version": "Version of the extractor that produced this row",
        "run_id": RUN,
        "record_digest": "sha256 of every row the extracted record wrote: a reparse that extracts the same "
                         "writes nothing",
    },
    "sections": {
        "url": URL,
        "position": "0-based order within the page",
        "heading": "The section's heading (Essence, Origin, … on terms; facets on areas)",
        "text": "The section's text, blank-line separated blocks",
    },
    "links": {
        "from_url": "The linking page",
        "kind": "related, glossary, discover_more, inline, listing or pagination",
        "position": "0-based order within the kind",
        "to_url": "The normalised link target",
        "anchor_text": "The link's text",
        "summary": "The item's Meaning ⎊ line (or a Glossary item's sentence), without the prefix",
        "facet": "For Glossary items, the facet word before ⎊ (Context, Risk, …)",
    },
    "structured_data": {
        "url": URL,
        "syntax": "json-ld, microdata or opengraph",
        "position": "0-based order within the syntax",
        "type": "The item's @type (a JSON array when several; null when none)",
        "data": "The item as extruct returns it, as JSON",
    },
    "crawl_runs": {
        "id": "Run number",
        "command": "crawl, refresh or reparse",
        "started_at": "When the run started",
        "finished_at": "When it finished (null while running or if killed)",
        "finish_reason": "finished; held (the quality gate held its versions back: glossary held); a budget "
                         "that stopped it, which --resume continues: max_pages (or closespider_itemcount), "
                         "closespider_pagecount (--max-requests), closespider_timeout (--max-duration); unreachable "
                         "((nearly) every fetch failed); empty (it left the archive with no page: every URL a 404, "
                         "a \"not found\" page, no page, or forbidden by robots.txt); shutdown (Ctrl-C, SIGTERM); "
                         "archive_error (a write failed); "
                         "refused before it started: bad_argument, locked, archive_unwritable (its first write failed: "
                         "a full disk); null while running or if killed",
        "args": "The run's arguments, as JSON",
        "pages_new": "Pages archived for the first time",
        "pages_changed": "Pages whose content changed",
        "pages_unchanged": "Pages fetched again with the same content",
        "pages_not_modified": "Pages that answered 304 to a conditional request",
        "pages_gone": "Live pages that answered 404 or 410, or redirected elsewhere, and were marked gone (news)",
        "pages_still_gone": "Pages already gone that still answered 404 or 410 or redirected (not news)",
        "pages_back": "Pages that answered again after an earlier run found them gone",
        "pages_failed": "URLs whose fetch failed, or whose answer could not be archived (not HTML, binary)",
        "requests": "HTTP requests sent (one Twisted resends by itself, when a kept-alive connection turns out "
                    "closed, is counted once though the server sees it twice)",
        "bytes": "Response bytes received",
        "stats": "Scrapy's stats, as JSON, as the crawl kept them (its glossary/* counters count as it goes: traps and "
                 "sitemaps among failures, a held run's pages): the run's counts are the columns",
        "pid": "Process id of the run",
        "outcome": "How the run ended, its exit status's name: done, failed, bad_input, locked, stopped_early, …",
        "exit_status": "The exit status the command line gives for this end (0 done, 1 failed, 2 bad input, …)",
        "job_id": "The Scrapyd job id, for runs scheduled through Scrapyd",
        "earlier_job_ids": "A resumed run's earlier parts' Scrapyd job ids, oldest first (JSON list)",
        "error": "Why a run was refused before it started (a bad argument, the archive locked)",
        "resumed_at": "When a stopped run was last resumed",
        "reparsed_through": "A reparse's last page done, in the order of URLs: a reparse stopped early carries "
                            "on after it",
    },
    "crawl_errors": {
        "id": "Error number",
        "run_id": RUN,
        "url": "The URL concerned",
        "stage": "fetch, parse, json-ld or store; also sitemap (a sitemap that could not be read, or a "
                 "sitemap limit met), trap (a link trap cut off) and robots (robots.txt cut to 500 KiB, "
                 "a Crawl-delay capped)",
        "http_status": "HTTP status, when there was a response",
        "error": "What went wrong, in a few words",
        "detail": "The exception or parser message",
        "at": "When",
    },
    "page_versions": {
        "url": URL,
        "version": "1, 2, … for each distinct content",
        "content_hash": "The version's content hash",
        "run_id": RUN,
        "captured_at": "When this version was fetched",
        "title": "Title in this version",
        "summary": "Summary in this version",
        "body_text": "Body text in this version",
        "record": "Sections, links and structured data of the current version, as JSON (null for earlier "
                  "versions: glossary show --history --format json gives theirs)",
        "extractor_version": "Version of the extractor that produced this version",
    },
    "urls": {"id": "URL number, as in link_rows, section_spans and versions", "url": "A normalised URL"},
    "link_texts": {"id": "Text number, as in link_rows", "text": "A link's anchor text or summary, stored once"},
    "link_rows": {
        "from_id": "The linking page (urls.id)", "seq": "0-based order among all the page's links",
        "kind": "The link's kind", "position": "0-based order within the kind",
        "to_id": "The target (urls.id)", "anchor_id": "The anchor text (link_texts.id)",
        "summary_id": "The summary (link_texts.id)", "facet": "For Glossary items, the facet word",
    },
    "section_spans": {
        "url_id": "The page (urls.id)", "position": "0-based order within the page", "heading": "The section's heading",
        "start": "Where the section's text starts in the page's body_text (0-based characters)",
        "length": "Its length in characters", "text": "The text itself, where body_text does not hold it",
    },
    "versions": {
        "url_id": "The page (urls.id)", "version": "1, 2, …", "content_hash": "The version's content hash",
        "run_id": RUN, "captured_at": "When this version was fetched",
        "extractor_version": "Version of the extractor that produced this version",
        "title": "Title of an earlier version (the current one's is in pages)",
        "summary": "Summary of an earlier version",
        "same": "Which of title (1) and summary (2) are the next version's, and so not stored here",
        "text_head": "Characters of the next version's body_text this one starts with (-1: it had none)",
        "text_tail": "Characters of the next version's body_text this one ends with",
        "text_middle": "What lies between them in this version",
        "record_delta": "This version's record, zstd-compressed against the next version's",
    },
    "captures": {
        "id": "Capture number",
        "run_id": RUN,
        "url": "The URL fetched",
        "fetched_at": "When",
        "http_status": "The response's status",
        "content_type": "The response's Content-Type",
        "etag": "The response's ETag",
        "last_modified": "The response's Last-Modified",
        "body_sha256": "sha256 of the raw body, a key into bodies",
        "outcome": "new, changed, unchanged, not_modified, gone (went gone in this fetch: 404, 410, or a redirect "
                   "whose Location is in headers), still_gone or failed; held or discarded for a run the quality "
                   "gate held, discarded for a stopped run a new one replaced",
        "headers": "The response's other headers, one per line (Content-Type, ETag and Last-Modified are in their "
                   "columns; Content-Length and the encodings no longer describe the stored body)",
    },
    "bodies": {
        "sha256": "sha256 of the raw body (primary key)",
        "compression": "zlib, or zstd:<dictionary id>",
        "size": "Bytes before compression",
        "data": "The compressed body",
    },
    "compression_dictionaries": {
        "id": "Dictionary number, as in bodies.compression",
        "created_at": "When it was trained",
        "samples": "How many bodies it was trained on",
        "data": "The zstd dictionary",
    },
    "frontier": {
        "run_id": RUN,
        "url": "A URL the run has fetched or found",
        "state": "done, pending, or asked: pending, and asked again past the link-trap guard (a URL whose answer a "
                 "held part of the run set aside)",
        "chain": "For a pending URL: how many pages in a row without text of their own led to it (the link-trap "
                 "guard's count, which a resume starts from)",
    },
    "staged": {
        "run_id": RUN,
        "url": URL,
        "page_type": "The page's type",
        "content_hash": "The extracted record's content hash",
        "text_hash": "sha256 of the title and body text, to find many URLs answering the same page",
        "title": "The extracted title",
        "words": "Words in the body text",
        "related": "How many related links the page lists",
        "jsonld": "How many JSON-LD items the page has",
        "http_status": "The fetch's HTTP status",
        "fetched_at": "When it was fetched",
        "content_type": "The response's Content-Type",
        "body_sha256": "The raw body, a key into bodies",
        "record": "The extracted record, zstd-compressed JSON, for a page staged before rows were kept",
        "record_digest": "The record's digest, as pages.record_digest will hold it",
        "rows": "The rows archiving the page writes (pages, sections, links, structured data), zstd-compressed JSON",
    },
    "gate_reports": {
        "run_id": RUN,
        "held": "1 if the gate held the run's versions back",
        "report": "What each check measured, as JSON, with example URLs",
        "decision": "accepted or discarded, for a held run someone decided on",
        "decided_at": "When",
    },
    "jsonld": {
        "url": URL, "position": "0-based order of the JSON-LD block", "type": "The item's @type",
        "data": "The JSON-LD item",
    },
    "pages_fts": {
        "title": "The page's title, as full-text search indexes it",
        "summary": "The page's summary, as full-text search indexes it",
        "body_text": "The page's body text, as full-text search indexes it",
    },
    "jsonld_nodes": {
        "url": URL, "position": "The JSON-LD item it comes from", "node": "0-based position in its @graph",
        "type": "The node's @type (a JSON array when several; null when none)",
        "data": "The node, as JSON",
    },
    "broken_links": {
        "from_url": "The linking page", "kind": "The link's kind", "position": "Its position within the kind",
        "to_url": "The target that answered 404/410 or is gone", "anchor_text": "The link's text",
        "target_status": "The target's last HTTP status",
    },
    "orphan_pages": {
        "url": URL, "page_type": "The page's type", "slug": "The page's slug", "title": "The page's title",
    },
    "one_way_related": {
        "from_url": "The page listing a related definition", "to_url": "The related definition, which does not list it back",
        "anchor_text": "The link's text",
    },
}

DESCRIPTIONS = {
    "pages": "One row per page: its latest extracted state",
    "pages_fts": "The FTS5 full-text index of pages (its rowid is the page's); the search canned query reads it",
    "sections": "The headed parts of each page's main content (a view over section_spans)",
    "links": "Every link a page's content makes, by kind (a view over link_rows)",
    "structured_data": "Every JSON-LD, microdata and OpenGraph item",
    "crawl_runs": "One row per crawl, refresh or reparse",
    "crawl_errors": "What went wrong, one row per problem",
    "page_versions": "Every distinct content version of every page, its text rebuilt from versions",
    "urls": "Every URL the archive refers to, stored once",
    "link_texts": "Link anchor texts and summaries, stored once",
    "link_rows": "The stored form of links",
    "section_spans": "The stored form of sections: where each lies in its page's body_text",
    "versions": "The stored form of page_versions: the current version a reference, each earlier one what changed",
    "captures": "Every fetch",
    "bodies": "Raw response bodies, each stored once, compressed",
    "compression_dictionaries": "zstd dictionaries bodies are compressed with",
    "frontier": "URLs of a crawl in progress, for --resume",
    "staged": "Pages a run fetched that wait for the quality gate (kept while a held run is undecided)",
    "gate_reports": "What the quality gate found in each run",
    "jsonld": "The JSON-LD rows of structured_data",
    "jsonld_nodes": "One row per JSON-LD node, @graph members unfolded",
    "broken_links": "Links whose target answered 404/410 or is gone",
    "orphan_pages": "Live glossary pages no other live page links to, directly or through a URL that redirects there",
    "one_way_related": "A lists B as related, B does not list A",
}

QUERIES = {
    "definitions_changed_since": {
        "title": "Definitions changed since a date",
        "description": "since: a date or time in ISO-8601, e.g. 2026-03-01, 2026-03-01T12:00:00Z or "
                       "2026-03-01T14:00+02:00 (UTC unless it says otherwise); anything else is one row saying so",
        # The archive's times are all written one way (2026-03-01T12:00:00+00:00): :since is read as a
        # time and written that way too, so that the comparison of their text compares the times. A :since
        # that is no time would match nothing, as if nothing had changed: a row says so instead.
        "sql": "SELECT url, title, version, last_changed FROM pages WHERE page_type = 'definition' "
               "AND version > 1 AND last_changed >= strftime('%Y-%m-%dT%H:%M:%S+00:00', :since) "
               "UNION ALL SELECT NULL, 'since: ' || quote(:since) || ' is no date or time: write 2026-03-01 or "
               "2026-03-01T12:00:00Z', NULL, NULL WHERE strftime('%Y-%m-%dT%H:%M:%S+00:00', :since) IS NULL "
               "ORDER BY last_changed DESC",
        "params": ["since"],
    },
    "page_history": {
        "title": "A page's versions",
        "description": "url: the page's URL, as the pages table has it. Each version's title, summary and text, "
                       "oldest first (the page_versions view gives the same for every page at once, and is "
                       "slow to ask about one)",
        "sql": version_chain("WHERE p.url = :url") + """
SELECT v.version, v.captured_at, v.run_id, v.content_hash, v.extractor_version, c.title, c.summary, c.body_text
FROM chain c JOIN versions v ON v.url_id = c.url_id AND v.version = c.version ORDER BY v.version""",
        "params": ["url"],
    },
    "broken_related_links": {
        "title": "Broken related links",
        "description": "Related links whose target answered 404 or 410, or is gone",
        "sql": "SELECT from_url, to_url, anchor_text, target_status FROM broken_links WHERE kind = 'related' "
               "ORDER BY from_url",
    },
    "most_linked_terms": {
        "title": "Most linked terms",
        "description": "The 50 live term pages linked from the most live pages",
        "sql": "SELECT l.to_url, p.title, count(DISTINCT l.from_url) AS linked_from FROM links l "
               "JOIN pages p ON p.url = l.to_url JOIN pages f ON f.url = l.from_url "
               "WHERE p.page_type = 'term' AND p.status = 'live' AND f.status = 'live' GROUP BY l.to_url "
               "ORDER BY linked_from DESC LIMIT 50",
    },
    "search": {
        "title": "Search titles, summaries and text",
        "description": 'q: words, all of which must appear, and "quoted phrases" (quotes need not balance). '
                       "The 50 best matches, gone pages among them (status); for more, or FTS5 syntax (OR, NOT, "
                       "prefix*), use 'glossary search' (--limit) or the pages table's search box with "
                       "_searchmode=raw.",
        # The words go through search_match, search_ranking and long_page_snippet, functions the plugin gives
        # SQLite (datasette_plugin.py), so that this is bounded as glossary search is (query.py): every query
        # is valid FTS5; a query of many words is ranked and highlighted by its first 64 distinct ones; only
        # the 50 shown are highlighted; and a long page's snippet is made in Python, for snippet() is quadratic
        # in a page's hits, and no time limit stops it.
        # "rowid + 0 IN": the ranked matches are filtered by the matching rows, not looked up one by one (each
        # lookup reads the whole of the query's matches again: 14 s for "risk" in 20,000 pages, over the time limit).
        "sql": f"""
WITH q(match) AS (SELECT search_match(:q)),
r(ranking) AS (SELECT search_ranking(match) FROM q),
best AS (
  SELECT rowid, bm25(pages_fts, 10.0, 5.0, 1.0) AS rank FROM pages_fts
  WHERE pages_fts MATCH (SELECT ranking FROM r)
    AND rowid + 0 IN (SELECT rowid FROM pages_fts WHERE pages_fts MATCH (SELECT match FROM q))
  ORDER BY rank LIMIT 50
)
SELECT p.url, p.page_type, p.status, p.title, CASE WHEN p.word_count <= {SNIPPET_MAX_WORDS}
  THEN (SELECT snippet(pages_fts, -1, '[', ']', ' … ', {SNIPPET_WORDS}) FROM pages_fts
        WHERE pages_fts MATCH (SELECT ranking FROM r) AND rowid = best.rowid)
  ELSE long_page_snippet(p.body_text, (SELECT ranking FROM r)) END AS snippet
FROM best JOIN pages p ON p.rowid = best.rowid ORDER BY best.rank""",
        "params": ["q"],
    },
}

# The stored forms of the views, the crawl's own working state, and full-text search's shadow tables: hidden
# from Datasette's lists, so that the contract's tables and views come first; reachable by their URLs still.
# (bodies is the contract's, and stays listed.)
HIDDEN = ["urls", "link_texts", "link_rows", "section_spans", "versions", "staged", "frontier",
          "compression_dictionaries", "pages_fts_data", "pages_fts_idx", "pages_fts_docsize", "pages_fts_config"]

# Datasette settings for the archive: long text cut to this many characters in tables, whole on a row's page;
# each column's facet suggestion given 10 ms, not 50 (the pages table of a 20,000-page archive answered in
# 1.3 s, 0.6 s so; the suggestions of a smaller one take less, and are all made).
SETTINGS = {"truncate_cells_html": 300, "sql_time_limit_ms": 5000, "facet_suggest_time_limit_ms": 10}


def datasette_metadata(database: str) -> dict[str, Any]:
    tables = {
        name: {"description": DESCRIPTIONS[name], "columns": columns}
        for name, columns in COLUMNS.items()
    }
    for name in HIDDEN:
        tables.setdefault(name, {})["hidden"] = True
    tables["pages"]["facets"] = ["page_type", "status"]
    tables["links"]["facets"] = ["kind"]
    tables["crawl_errors"]["facets"] = ["stage"]
    return {
        "title": "Greeks.live glossary archive",
        "description": "Definitions, terms and areas of term.greeks.live, crawled by glossary_spider",
        "source": "term.greeks.live",
        "source_url": "https://term.greeks.live/",
        "databases": {database: {"tables": tables, "queries": QUERIES}},
    }
