"""The quality gate between extraction and history: a run's pages reach the archive only if they look sane.

A crawl or refresh stages what it fetches (raw captures, and the records
extraction made of them, in ``staged``). When the run closes,
:class:`QualityGate` compares the staged pages with the rest of the run and with
the archive's current pages:

- ``same_page``: many URLs answering the same text (a maintenance, challenge,
  login or cookie wall);
- ``soft_404``: the site's "not found" page served with 200 (its title says so,
  it is short, and it stands at several URLs of the run, replaces a page the
  archive knows, or has none of a glossary page's JSON-LD); or a glossary page
  answering with the very text of a page of no glossary type (the home page: a
  single-page app's fallback, a catch-all route).
  Such pages are marked gone, as a 404 would mark them, and never become a
  version; so many of them that they are most of the run trips the gate instead;
- ``gone``: most of the archived pages the run asked about gone at once, answering 404 or
  410 or redirecting elsewhere (a deploy that lost the site, a server that is not the
  site's, every page sent to the home page): a page goes from the archive only once the
  run has passed the gate. A page the site's sitemaps no longer list, when they list
  others the archive has, went on purpose: the sitemaps and the server agree, and it
  does not count (a night of routine deletions is not a broken site);
- ``moved``: most of the URLs the run got an answer about, new to the archive, redirecting to one and the
  same page (every URL sent to the home page: a site moved or down, whose pages a first crawl would
  otherwise take for aliases of that one page, and never ask about again);
- ``not_pages``: most of the archived pages the run asked about answering with what is
  not a page (not HTML, binary, unreadable: a server handing out something else);
- ``blank``: a page that came back with no text at all, where the archive's version has some (an
  empty body, a skeleton, an answer cut short), is no new version: it stays as archived, and is a
  failed page of the run (this trips nothing: too many such pages trip ``health``); a page new to the
  archive with neither title nor text is no page, and is a failed page too;
- ``cut``: likewise a page that came back stopped before its ``</html>``, where the archive's version ends
  with one, with less than that version and nothing more: its text the archived text's beginning, fewer of
  its words, links, link text, sections or structured data items, and none of them more. An answer cut short that HTTP
  cannot tell from a whole one (no Content-Length, its end the connection's close; a proxy's), or a
  rendering that broke off halfway: the words may all be there, and the related links, the sections
  after them and the JSON-LD lost;
- ``health``: per page type, a drop in the share of pages with a title, with
  related links or with JSON-LD, or in the typical body length, against the
  archived versions of the same pages (or, for a run of mostly new pages, the
  archive's pages of that type): extraction broke rather than the words changed.

When a check trips, the run is *held*: its captures stay, no version is written
and no page changes; the run ends with :data:`glossary_spider.outcome.HELD_REASON`
(exit status 5) and ``glossary held`` shows, accepts or discards it.

Every threshold is a setting (``GLOSSARY_GATE_*``, see :data:`THRESHOLDS`), and
``glossary crawl/refresh --gate NAME=VALUE`` sets one for a run.
"""

from __future__ import annotations

import json
import logging
import math
import re
import statistics
from collections import Counter
from collections.abc import Callable, Container
from dataclasses import asdict, dataclass, field
from typing import Any

from glossary_spider.outcome import NO_ANSWER_SQL
from glossary_spider.storage import Archive
from glossary_spider.storage.archive import TEMPORARY_REDIRECTS
from glossary_spider.storage.readers import ARCHIVED_CAPTURE
from glossary_spider.storage.staging import GONE, staged_record, staged_rows, text_hash
from glossary_spider.storage.writer import page_rows
from glossary_spider.urls import GLOSSARY_TYPES

logger = logging.getLogger(__name__)

# An HTML document's end tag. A page that stops before it, where it used to end with it, was cut short.
_ENDS = re.compile(rb"</html\s*>", re.IGNORECASE)
# A text's last word, with the white space after it: a cut in the middle of a word leaves a part of it.
_LAST_WORD = re.compile(r"\S*\s*\Z")

# name: (setting, default, meaning)
THRESHOLDS: dict[str, tuple[str, float, str]] = {
    "same-page-min": ("GLOSSARY_GATE_SAME_PAGE_MIN", 5,
                      "hold when at least this many new or changed pages have the very same text ..."),
    "same-page-share": ("GLOSSARY_GATE_SAME_PAGE_SHARE", 0.1, "... and they are at least this share of them"),
    "soft-404-share": ("GLOSSARY_GATE_SOFT_404_SHARE", 0.5,
                       "hold when \"not found\" pages are at least this share of the run's pages (and 5 or more)"),
    "gone-share": ("GLOSSARY_GATE_GONE_SHARE", 0.5,
                   "hold when archived pages gone (404, 410, a redirect elsewhere) are at least this share of "
                   "those the run asked about (and 5 or more)"),
    "moved-share": ("GLOSSARY_GATE_MOVED_SHARE", 0.5,
                    "hold when URLs new to the archive that redirected to one and the same page are at least this "
                    "share of the URLs the run asked about (and 5 or more)"),
    "not-pages-share": ("GLOSSARY_GATE_NOT_PAGES_SHARE", 0.5,
                        "hold when archived pages answering with what is not a page (not HTML, binary, unreadable) "
                        "are at least this share of those the run asked about (and 5 or more)"),
    "min-pages": ("GLOSSARY_GATE_MIN_PAGES", 10,
                  "extraction health is compared for a page type with at least this many pages in the run "
                  "and in the archive"),
    "share-drop": ("GLOSSARY_GATE_SHARE_DROP", 0.25,
                   "hold when the share of pages with a title, related links or JSON-LD falls by more than this"),
    "words-ratio": ("GLOSSARY_GATE_WORDS_RATIO", 0.5,
                    "hold when the median body length falls below this fraction of the archive's"),
}
NOT_FOUND = re.compile(r"\b(?:page not found|not found|nothing (?:was )?found|no longer available|404|"
                       r"(?:can(?:no|['\u2019])?t|could(?: no|n['\u2019])t) be found)\b", re.I)  # WordPress: "can’t"
SOFT_404_MAX_WORDS = 150
# What a page cut short has fewer of, and never more: what the gate's ``cut`` check sets against the archived version.
MEASURES = ("words", "links", "characters of link text", "sections", "structured data items")
EXAMPLES = 5


# Thresholds that count pages (whole numbers), and those that are shares (0 to 1); the others are
# finite numbers of at least 0.
COUNTS = ("same-page-min", "min-pages")
SHARES = ("same-page-share", "soft-404-share", "gone-share", "moved-share", "not-pages-share", "share-drop")


class GateSettingError(ValueError):
    """A ``--gate NAME=VALUE`` that names no threshold or gives no number it can take."""


def parse_gate_option(spec: str) -> tuple[str, float]:
    """The setting and value of a ``--gate NAME=VALUE``."""
    name, _, value = spec.partition("=")
    name = name.strip().lower()
    if name not in THRESHOLDS:
        raise GateSettingError(f"--gate {spec!r}: no threshold named {name!r} "
                               f"(one of: {', '.join(THRESHOLDS)}, or 'off')")
    try:
        number = float(value)
    except ValueError:
        raise GateSettingError(f"--gate {spec!r}: {name} needs a number, e.g. {name}={THRESHOLDS[name][1]}") from None
    if not math.isfinite(number):  # nan passes no comparison: it would turn its check off unsaid
        raise GateSettingError(f"--gate {spec!r}: {name} must be a finite number (--gate off turns the gate off)")
    if number < 0:
        raise GateSettingError(f"--gate {spec!r}: {name} cannot be negative")
    if name in COUNTS and not number.is_integer():
        raise GateSettingError(f"--gate {spec!r}: {name} counts pages, a whole number")
    if name in SHARES and number > 1:
        raise GateSettingError(f"--gate {spec!r}: {name} is a share, from 0 to 1")
    return THRESHOLDS[name][0], number


@dataclass
class Check:
    """One check of the gate: whether it tripped, what it measured, and pages that show it."""

    name: str
    tripped: bool
    summary: str
    numbers: dict[str, Any] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)


@dataclass
class GateReport:
    checks: list[Check]
    soft_404: list[str]  # pages to mark gone (the archived ones; the others fail)
    pages: int = 0  # pages the run staged
    gone: int = 0  # archived pages gone: a 404 or 410, or a redirect elsewhere
    not_pages: int = 0  # archived pages that answered with what is not a page
    blank: list[str] = field(default_factory=list)  # pages to leave as archived, failed: no text
    soft_404_not_archived: int = 0  # of the soft 404s, pages the archive does not have: they fail
    cut: dict[str, str] = field(default_factory=dict)  # pages to leave as archived, failed: cut short (why)

    @property
    def kept(self) -> dict[str, str | None]:
        """The pages to leave as archived, each a failed page of the run: a cut one with what it lost."""
        return dict.fromkeys(self.blank) | self.cut

    @property
    def held(self) -> bool:
        return any(c.tripped for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"held": self.held, "pages": self.pages, "gone": self.gone, "not_pages": self.not_pages,
                "checks": [asdict(c) for c in self.checks],
                "soft_404": {"count": len(self.soft_404), "not_archived": self.soft_404_not_archived,
                             "examples": self.soft_404[:EXAMPLES]},
                "blank": {"count": len(self.blank), "examples": self.blank[:EXAMPLES]},
                "cut": {"count": len(self.cut), "examples": list(self.cut)[:EXAMPLES]}}


class QualityGate:
    """Judges a run's staged pages; see the module's docstring."""

    def __init__(self, **thresholds: float):
        self.values = {name: float(thresholds.get(name, default)) for name, (_, default, _) in THRESHOLDS.items()}

    @classmethod
    def from_settings(cls, settings: Any) -> QualityGate:
        return cls(**{name: settings.getfloat(key, default) for name, (key, default, _) in THRESHOLDS.items()})

    def evaluate(self, archive: Archive, run_id: int, listed: Container[str] | None = None) -> GateReport:
        """Judge the pages ``run_id`` staged. Read with SQL a query at a time, never all at once: memory
        stays the same however many pages the run fetched. ``listed``: the archived pages the sitemaps the
        run read list (None when they listed none of them, or the run read none)."""
        db = archive.db
        checks = self._archived(db, run_id, listed) + self._moved(db, run_id)
        counted = {check.name: check.numbers[check.name] + check.numbers.get("dropped_from_sitemaps", 0)
                   for check in checks}
        gone, not_pages = counted.get("gone", 0), counted.get("not_pages", 0)
        if not db.execute("SELECT count(*) FROM staged WHERE run_id = ?", [run_id]).fetchone()[0]:
            return GateReport(checks, [], 0, gone, not_pages)
        run = Run(db, run_id)
        soft, news, not_archived = self._soft_404(run)
        check = Check("soft_404", False, f"{len(soft)} pages are the site's \"not found\" page served with 200",
                      {"pages": len(soft), "run_pages": run.pages}, soft[:EXAMPLES])
        if news < len(soft):  # a page gone already that is "not found" still is no news
            check.summary += f" ({len(soft) - news} of them gone already)"
        if news >= max(5, self.values["soft-404-share"] * run.pages):
            check.tripped = True
            check.summary += f": {news / run.pages:.0%} of the run, more than {self.values['soft-404-share']:.0%}"
        if soft:
            checks.append(check)
        checks.append(self._same_page(run, soft))
        checks += self._health(archive, run, soft)
        blank = self._blank(run)
        if blank:
            checks.append(Check("blank", False, f"{len(blank)} pages came back with no text where the archive's "
                                "versions have some (an empty or cut answer): kept as they were, counted failed",
                                {"pages": len(blank)}, blank[:EXAMPLES]))
        cut = self._cut(archive, run)
        if cut:
            checks.append(Check("cut", False, f"{len(cut)} pages came back stopped before their </html>, where the "
                                "archive's versions end with one, with less than those versions and nothing more "
                                "(an answer cut short): kept as they were, counted failed", {"pages": len(cut)},
                                list(cut)[:EXAMPLES]))
        return GateReport(checks, soft, run.pages, gone, not_pages, blank, not_archived, cut)

    def judge(self, archive: Archive, run_id: int, listed: Container[str] | None = None) -> GateReport:
        """Judge the pages ``run_id`` staged (:meth:`evaluate`) and act on it: hold them all, or archive them (the
        report kept when a check has something to say). Returns the report."""
        report = self.evaluate(archive, run_id, listed)
        if report.held:
            archive.hold_staged(run_id, report.as_dict(), report.kept)
            return report
        with archive.db.atomic():
            archive.archive_staged(run_id, report.soft_404, report.kept)
            if report.checks:
                archive.save_gate_report(run_id, report.as_dict(), held=False)
        return report

    def set_aside(self, archive: Archive, run_id: int) -> tuple[list[str], dict[str, str | None]]:
        """The pages ``run_id`` staged that are no version, whether the gate passed the run or a person
        accepted it: the soft 404s (to mark gone), and the blank and cut pages (to keep as archived; a cut
        one with what it lost)."""
        run = Run(archive.db, run_id)
        return self._soft_404(run)[0], dict.fromkeys(self._blank(run)) | self._cut(archive, run)

    @staticmethod
    def _blank(run: Run) -> list[str]:
        return [url for (url,) in run.rows("s.url", "ORDER BY s.rowid", "AND s.words = 0 AND (p.word_count > 0 "
                                                                          "OR p.url IS NULL AND s.title IS NULL)")]

    @staticmethod
    def _cut(archive: Archive, run: Run) -> dict[str, str]:
        """The changed pages cut short, each with the ``parse`` error that says what it lost: the body stops
        before its ``</html>`` where the archived body has one, and the record is what a beginning of the
        archived page gives, less and nothing more: its text the archived text's beginning (its last word
        perhaps cut), some of its :data:`MEASURES` fewer, none of them more. A cut that leaves every word
        loses the related links, the sections after the text, the JSON-LD. A site that edits a page (its words,
        or anything added) and drops its end tags too has the edit archived, and from then on the version has
        no ``</html>`` to be cut from: no page is frozen for good but one whose only edits drop its end tags and
        lose what it ends with. The bodies are read last, of the few pages that lost and gained nothing."""
        cut = {}
        for url, staged, archived, rows, record, old_text, *measured in run.rows(
                f"s.url, s.body_sha256, (SELECT body_sha256 FROM captures WHERE id = (SELECT max(id) FROM captures "
                f"WHERE url = s.url AND http_status = 200 AND body_sha256 IS NOT NULL AND {ARCHIVED_CAPTURE})), "
                "s.rows, s.record, p.body_text, s.words, p.word_count, "
                "(SELECT count(*) FROM link_rows WHERE from_id = (SELECT id FROM urls WHERE url = s.url)), "
                "(SELECT coalesce(sum(length(anchor_text)), 0) + coalesce(sum(length(summary)), 0) FROM links "
                "WHERE from_url = s.url), "
                "(SELECT count(*) FROM section_spans WHERE url_id = (SELECT id FROM urls WHERE url = s.url)), "
                "(SELECT count(*) FROM structured_data WHERE url = s.url)",
                "ORDER BY s.rowid", "AND s.words > 0 AND s.words <= p.word_count AND s.content_hash != p.content_hash "
                "AND s.jsonld <= (SELECT count(*) FROM structured_data WHERE url = s.url AND syntax = 'json-ld')"):
            new = staged_rows(rows) if rows is not None else page_rows(staged_record(record))
            links = new["links"]
            now = (measured[0], len(links), sum(len(link["anchor_text"] or "") + len(link["summary"] or "")
                                                for link in links), len(new["sections"]), len(new["structured_data"]))
            was = measured[1:]
            fewer = [f"{name} ({w:,} → {n:,})" for name, n, w in zip(MEASURES, now, was) if n < w]
            if not fewer or any(n > w for n, w in zip(now, was)):
                continue
            if not (old_text or "").startswith(_LAST_WORD.sub("", new["page"].get("body_text") or "")):
                continue
            if archived and (body := archive.body(staged)) is not None and not _ENDS.search(body) and (
                    (whole := archive.body(archived)) is not None and _ENDS.search(whole)):
                lost = ", ".join(fewer[:-1]) + " and " + fewer[-1] if len(fewer) > 1 else fewer[0]
                cut[url] = (f"cut short: the page stops before its </html>, with fewer {lost} than the archived "
                            "version, which ends with one; it stays as it was")
        return cut

    def _archived(self, db: Any, run_id: int, listed: Container[str] | None) -> list[Check]:
        """What became of the archived pages the run got an answer about: most of them gone at once (those
        the sitemaps dropped aside), or answering with what is not a page. A check for each that happened
        to any page. An answer a held part of the run had, set aside as its resume asks again
        (``discarded``), is none: counted asked where its gone was not counted, it made a resumed part that asked
        again about a few of them, all gone, too few of all the run asked about to hold it."""
        (asked,), = db.execute(
            f"SELECT count(*) FROM (SELECT DISTINCT url FROM captures WHERE run_id = ? AND NOT {NO_ANSWER_SQL} "
            "AND outcome IS NOT 'discarded') JOIN pages USING (url) WHERE pages.status = 'live'", [run_id])
        dropped_from, dropped_share = self._dropped_from(db, listed)
        checks = []
        for name, urls, what, why in (
            ("gone", f"SELECT DISTINCT url FROM captures WHERE run_id = ? AND outcome IN ('gone', 'held') AND {GONE}",
             "went (404, 410 or a redirect elsewhere)",
             "did the site lose its pages, or is the server not the site's?"),
            # A temporary redirect is an answer of the site's ("elsewhere, for now"): its page stays as archived.
            ("not_pages", "SELECT DISTINCT url FROM captures WHERE run_id = ? AND outcome = 'failed' AND http_status "
             f"BETWEEN 200 AND 399 AND http_status NOT IN {TEMPORARY_REDIRECTS} "
             "AND url IN (SELECT url FROM pages WHERE status = 'live')",
             "answered with what is not a page (not HTML, binary, a 304 to a request that was not conditional) "
             "or what extraction could not read",
             "is the server not the site's, or serving something else?"),
        ):
            count, dropped, examples = 0, 0, []
            for (url,) in db.execute(urls, [run_id]):
                if name == "gone" and dropped_from(url):
                    dropped += 1
                    continue
                count += 1
                if len(examples) < EXAMPLES:
                    examples.append(url)
            if not count and not dropped:
                continue
            gone_at_once = name == "gone" and dropped and self._most_of_the_archive(db, count + dropped)
            unlisted_at_once = name == "gone" and dropped and not gone_at_once and dropped_share
            if gone_at_once or unlisted_at_once:  # however the sitemaps agree: a site that lost most of its pages
                count, dropped = count + dropped, 0
            numbers = {name: count, "asked": asked, **({"dropped_from_sitemaps": dropped} if dropped else {})}
            check = Check(name, False, f"{count} of the {asked} archived pages the run asked about {what}",
                          numbers, examples)
            if dropped:
                check.summary += f", and {dropped} more that the site's sitemaps no longer list"
            share = self.values[f"{name.replace('_', '-')}-share"]
            if count >= max(5, share * asked):
                check.tripped = True
                check.summary += f": {count / asked:.0%}, at least {share:.0%} ({why})"
            if gone_at_once:
                check.summary += (f"; the site's sitemaps dropped them too, but they are {gone_at_once:.0%} of the "
                                  f"archive's live pages, at least {share:.0%}: so many at once may be a site that "
                                  "lost them (a database restored from the wrong night)")
            elif unlisted_at_once:
                check.summary += (f"; the site's sitemaps dropped them too, but they no longer list "
                                  f"{unlisted_at_once:.0%} of the archive's live pages, at least {share:.0%}: so many "
                                  "at once may be a site that lost them (a database restored from the wrong night)")
            checks.append(check)
        return checks

    def _dropped_from(self, db: Any, listed: Container[str] | None) -> tuple[Callable[[str], bool], float]:
        """Which of the archive's pages the sitemaps the run read no longer list: a page they do not list, of a
        page type they list pages of (an area sitemap read alone drops no definition; the home page, which
        sitemaps seldom list, is dropped by none). And the share of the archive's live pages so dropped where it
        is at least the gone share (and 5 pages), else 0: the sitemaps then say no more that pages went on
        purpose. Read from the sitemaps whole, it is the same however little of the archive a run asks about:
        a run in parts (a budget's, a resume's) each asking about too few pages to be most of the archive,
        archived a site that lost most of its pages as gone, part by part."""
        if listed is None:
            return (lambda url: False), 0.0
        types = dict(db.execute("SELECT url, page_type FROM pages WHERE status = 'live'").fetchall())
        listed_types = {page_type for url, page_type in types.items() if url in listed}
        dropped = sum(1 for url, page_type in types.items() if page_type in listed_types and url not in listed)
        share = dropped / max(len(types), 1)
        return (lambda url: url not in listed and types.get(url) in listed_types), (
            share if dropped >= 5 and share >= self.values["gone-share"] else 0.0)

    def _most_of_the_archive(self, db: Any, gone: int) -> float:
        """The share of the archive's live pages ``gone`` is, where it is at least the gone share (and 5 pages);
        else 0. Pages the sitemaps dropped went on purpose only while they are a few of the archive's: a
        database restored from the wrong night makes the sitemaps of a WordPress site agree with its 404s."""
        (live,), = db.execute("SELECT count(*) FROM pages WHERE status = 'live'")
        share = gone / max(live, 1)
        return share if gone >= 5 and share >= self.values["gone-share"] else 0.0

    def _moved(self, db: Any, run_id: int) -> list[Check]:
        """The URLs new to the archive that the run was sent away from to the one page most of them were sent
        to, against every URL the run got an answer about: a check if any was sent anywhere."""
        top = db.execute("SELECT headers, count(DISTINCT url) AS n FROM captures WHERE run_id = ? AND outcome = "
                         "'moved' GROUP BY headers ORDER BY n DESC, headers LIMIT 1", [run_id]).fetchone()
        if top is None:
            return []
        headers, count = top
        (asked,), = db.execute(f"SELECT count(DISTINCT url) FROM captures WHERE run_id = ? AND NOT {NO_ANSWER_SQL}",
                               [run_id])
        target = (headers or "").partition("Location: ")[2][:200]
        examples = [url for (url,) in db.execute(
            "SELECT DISTINCT url FROM captures WHERE run_id = ? AND outcome = 'moved' AND headers IS ? ORDER BY url "
            "LIMIT ?", [run_id, headers, EXAMPLES])]
        check = Check("moved", False, f"{count} of the {asked} URLs the run asked about redirected to {target}",
                      {"moved": count, "asked": asked, "to": target}, examples)
        share = self.values["moved-share"]
        if count >= max(5, share * asked):
            check.tripped = True
            check.summary += (f": {count / asked:.0%}, at least {share:.0%} (did the site move, or send every page "
                              "to one while it is down?)")
        return [check]

    def _soft_404(self, run: Run) -> tuple[list[str], int, int]:
        """Pages titled like a "not found" page, short, and either sharing their text with another
        page of the run, replacing an archived page's title, or without JSON-LD; and glossary pages with the
        text of a page of no glossary type (:meth:`_fallback_texts`), while fewer than ``same-page-min`` pages of
        the run have it (one text at every URL, the home page's too, is a maintenance or challenge page, for
        ``same_page`` to hold). How many of them the archive does not have as gone already; and how many it does
        not have at all."""
        shared = Counter(text for (text,) in run.rows("s.text_hash", ""))
        earlier = {url: text_hash(title, body) for url, title, body in run.earlier_pages()}
        alike = shared + Counter(earlier.values())
        fallback = {text for text in self._fallback_texts(run, set(earlier))
                    if alike[text] < self.values["same-page-min"]}
        found, news, not_archived = [], 0, 0
        for url, title, words, jsonld, old_title, text, status, page_type in run.rows(
                "s.url, s.title, s.words, s.jsonld, p.title, s.text_hash, p.status, s.page_type", "ORDER BY s.rowid"):
            not_found = (title and NOT_FOUND.search(title) and words <= SOFT_404_MAX_WORDS
                         and (shared[text] >= 2 or (old_title is not None and old_title != title) or not jsonld))
            if not_found or (page_type in GLOSSARY_TYPES and text in fallback):
                found.append(url)
                news += status != "gone"
                not_archived += status is None
        return found, news, not_archived

    @staticmethod
    def _fallback_texts(run: Run, earlier: set[str]) -> set[str]:
        """The texts (:func:`~glossary_spider.storage.staging.text_hash`) of the archived pages of no glossary
        type, the home page first among them, as the archive had them before the run (not as its ``earlier``
        parts archived them, nor as it fetched them: a maintenance page at every URL is the home page's too): a
        glossary URL that answers with one is the site's fallback for a page it does not have (a single-page
        app's index, a catch-all route sending its front page), which would otherwise stand as the page's new
        version."""
        archived = run.db.execute("SELECT url, title, body_text FROM pages WHERE page_type = 'other' AND "
                                  "status = 'live' AND word_count > 0")
        return {text_hash(title, body) for url, title, body in archived if url not in earlier}

    def _same_page(self, run: Run, soft: list[str]) -> Check:
        """New or changed pages with the very same text: those staged, and those the run archived in its
        earlier parts (a run stopped by a budget and resumed is judged as a whole, not part by part)."""
        v = self.values
        changed = "AND p.content_hash IS NOT s.content_hash AND s.url NOT IN (SELECT value FROM json_each(:soft))"
        texts = Counter(text for (text,) in run.rows("s.text_hash", "", changed, soft=json.dumps(soft)))
        earlier = {url: text_hash(title, body) for url, title, body in run.earlier_pages()}
        texts.update(earlier.values())
        count = texts.total()
        top = texts.most_common(1)
        same = top[0][1] if top and top[0][1] >= 2 else 0  # a page alone shares its text with nobody
        urls = [url for (url,) in run.rows("s.url", "ORDER BY s.rowid LIMIT :examples", changed + " AND s.text_hash = :text",
                                           soft=json.dumps(soft), text=top[0][0], examples=EXAMPLES)] if same else []
        urls += [url for url, text in earlier.items() if same and text == top[0][0]][:EXAMPLES - len(urls)]
        tripped = same >= max(v["same-page-min"], v["same-page-share"] * count, 2)
        summary = (f"{same} of {count} new or changed pages have the very same text"
                   + (" (a maintenance, login or challenge page?)" if tripped else ""))
        return Check("same_page", tripped, summary, {"same_text": same, "changed": count}, urls)

    def _health(self, archive: Archive, run: Run, soft: list[str]) -> list[Check]:
        """Extraction's health by page type, the soft 404s (which become no version) left out: the run's pages
        the archive has against their archived versions, when there are ``min-pages`` of them; else the run's
        pages against the archive's of their type. (A refresh fetches in full only the pages that changed, or
        that no lastmod or 304 spares: those are no sample of the archive's, and set against all of its pages
        of their type they tripped the check on a site that had not changed.)"""
        v = self.values
        checks = []
        soft_json = json.dumps(soft)
        types = run.rows("s.page_type, count(*)", "GROUP BY s.page_type ORDER BY s.page_type",
                         "AND s.url NOT IN (SELECT value FROM json_each(:soft))", soft=soft_json).fetchall()
        for page_type, pages in types:
            # The archived pages of the type the run's earlier parts fetched in full (a resumed run is judged
            # whole: the same run without a budget has them staged beside the rest), as they archived them.
            earlier = _archive_health(archive, page_type, run, soft_json, EARLIER_PARTS)
            if pages + earlier["pages"] < v["min-pages"]:
                continue
            of_type = "AND s.page_type = :type AND s.url NOT IN (SELECT value FROM json_each(:soft))"
            known = f"{of_type} AND p.url IS NOT NULL"
            (paired,), = run.rows("count(*)", "", known, type=page_type, soft=soft_json)
            own = paired + earlier["pages"] >= v["min-pages"]
            where = known if own else of_type
            before = _archive_health(archive, page_type, run, soft_json, PAIRED if own else OTHERS)
            if own:
                before = _together(before, earlier)
            if before["pages"] < v["min-pages"]:
                continue
            now = run.health(where, type=page_type, soft=soft_json)
            if own:
                now = _together(now, earlier)
            problems, examples = [], []
            for key, label, test in (("with_title", "title", "coalesce(s.title, '') = ''"),
                                     ("with_related", "related links", "coalesce(s.related, 0) = 0"),
                                     ("with_jsonld", "JSON-LD", "coalesce(s.jsonld, 0) = 0")):
                if before[key] - now[key] > v["share-drop"]:
                    problems.append(f"pages with {label} {before[key]:.0%} → {now[key]:.0%}")
                    examples += [url for (url,) in run.rows("s.url", "ORDER BY s.rowid LIMIT :examples",
                                                            f"{where} AND {test}", type=page_type, examples=EXAMPLES,
                                                            soft=soft_json)]
            if before["median_words"] and now["median_words"] < v["words-ratio"] * before["median_words"]:
                problems.append(f"median words {before['median_words']:.0f} → {now['median_words']:.0f}")
                # Set against their own archived versions, the pages whose words fell furthest; else the shortest.
                fell = "s.words * 1.0 / max(p.word_count, 1), " if own else ""
                examples += [url for (url,) in run.rows("s.url", f"ORDER BY {fell}s.words, s.rowid LIMIT :examples",
                                                        where, type=page_type, examples=EXAMPLES, soft=soft_json)]
            than = (f"their {before['pages']} archived versions" if own
                    else f"the archive's {before['pages']} pages")
            summary = (f"{page_type}: " + "; ".join(problems) if problems
                       else f"{page_type}: extraction as healthy as {than}")
            checks.append(Check(f"health:{page_type}", bool(problems), summary,
                                {"run": dict(now), "archive": dict(before)}, list(dict.fromkeys(examples))[:EXAMPLES]))
        return checks


class Run:
    """The pages a run staged, beside the archived pages they would replace, queried with SQL."""

    def __init__(self, db: Any, run_id: int):
        self.db, self.run_id = db, run_id
        (self.pages,), = self.rows("count(*)", "")

    def earlier_pages(self) -> Any:
        """A cursor over (url, title, body_text) of the pages the run archived new or changed in its earlier
        parts (a resumed run's), which are no longer staged."""
        return self.db.execute(
            "SELECT p.url, p.title, p.body_text FROM pages p WHERE p.url IN (SELECT url FROM captures WHERE "
            "run_id = :run AND outcome IN ('new', 'changed')) AND p.url NOT IN (SELECT url FROM staged WHERE "
            "run_id = :run) ORDER BY p.url", {"run": self.run_id})

    def health(self, where: str, **params: Any) -> Health:
        """The extraction health of the run's pages that ``where`` picks, as :func:`_archive_health` gives it."""
        (pages, with_title, with_related, with_jsonld), = self.rows(
            "count(*), avg(coalesce(s.title, '') != ''), avg(coalesce(s.related, 0) != 0), "
            "avg(coalesce(s.jsonld, 0) != 0)", "", where, **params)
        words = [w or 0 for (w,) in self.rows("s.words", "", where, **params)]
        return Health({"pages": pages, "with_title": with_title or 0.0, "with_related": with_related or 0.0,
                       "with_jsonld": with_jsonld or 0.0, "median_words": statistics.median(words) if words else 0},
                      words)

    def rows(self, columns: str, tail: str, where: str = "", **params: Any) -> Any:
        """A cursor over ``SELECT columns`` of the run's staged pages (``s``) beside their archived
        rows (``p``), filtered further by ``where``, then grouped, ordered or limited by ``tail``."""
        return self.db.execute(f"SELECT {columns} FROM staged s LEFT JOIN pages p ON p.url = s.url "
                               f"WHERE s.run_id = :run {where} {tail}", {"run": self.run_id, **params})


class Health(dict):
    """A population's extraction health (pages; shares with a title, related links and JSON-LD; median words),
    with the word counts its median was taken of, for :func:`_together`."""

    def __init__(self, numbers: dict[str, Any], words: list[int]):
        super().__init__(numbers)
        self.words = words


def _together(one: Health, other: Health) -> Health:
    """The health of two populations of pages taken as one."""
    pages = one["pages"] + other["pages"]
    if not pages:
        return one
    shares = {key: (one[key] * one["pages"] + other[key] * other["pages"]) / pages
              for key in ("with_title", "with_related", "with_jsonld")}
    words = one.words + other.words
    return Health({"pages": pages, **shares, "median_words": statistics.median(words) if words else 0}, words)


# Which archived pages _archive_health reads: those ``run`` staged as the type (``paired``, as they were before
# it); the archive's others of the type, less those the run's earlier parts archived new or changed; or those
# its earlier parts fetched in full and archived, already changed or as they were.
PAIRED = ("url IN (SELECT url FROM staged WHERE run_id = :run AND page_type = :type "
          "AND url NOT IN (SELECT value FROM json_each(:soft)))")
OTHERS = ("page_type = :type AND status = 'live' AND url NOT IN (SELECT url FROM captures WHERE run_id = :run "
          "AND outcome IN ('new', 'changed'))")
EARLIER_PARTS = ("page_type = :type AND status = 'live' AND url IN (SELECT url FROM captures WHERE run_id = :run "
                 "AND outcome IN ('changed', 'unchanged')) AND url NOT IN (SELECT url FROM staged WHERE run_id = :run)")


def _archive_health(archive: Archive, page_type: str, run: Run, soft: str, where: str) -> Health:
    """The extraction health of the archive's pages of ``page_type`` that ``where`` (:data:`PAIRED`,
    :data:`OTHERS` or :data:`EARLIER_PARTS`) picks, beside ``run`` and its ``soft`` 404s (a JSON list): a run
    stopped by a budget and resumed is judged whole, not against itself."""
    params = {"type": page_type, "run": run.run_id, "soft": soft}
    row = archive.db.execute(
        f"""SELECT count(*),
                  avg(coalesce(title, '') != ''),
                  avg(EXISTS (SELECT 1 FROM links l WHERE l.from_url = p.url AND l.kind = 'related')),
                  avg(EXISTS (SELECT 1 FROM structured_data d WHERE d.url = p.url AND d.syntax = 'json-ld'))
           FROM pages p WHERE {where}""", params).fetchone()
    words = [w or 0 for (w,) in archive.db.execute(f"SELECT word_count FROM pages WHERE {where}", params)]
    return Health({"pages": row[0], "with_title": row[1] or 0.0, "with_related": row[2] or 0.0,
                   "with_jsonld": row[3] or 0.0, "median_words": statistics.median(words) if words else 0}, words)
