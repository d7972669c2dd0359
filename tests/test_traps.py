"""The trap guard's pure parts: URL families, nesting, and how pages are judged (no network)."""

from __future__ import annotations

import pytest

from glossary_spider.extraction import extract_page
from glossary_spider.replica import linktraps
from glossary_spider.replica.site import ReplicaSite
from glossary_spider.sketches import read_page
from glossary_spider.traps import Trap, TrapGuard, nested, url_family

BASE = "http://x"


@pytest.mark.parametrize("url, family", [
    ("http://x/term/vega/", "x/term/W"),
    ("http://x/term/chain-12-delta/", "x/term/W"),
    ("http://x/faults/calendar/2026/11/", "x/faults/W/N/N"),
    ("http://x/faults/session/0123456789abcdef0123456789abcdef/", "x/faults/W/ID"),
    ("http://x/events/?month=2026-11&ref=3", "x/events?month&ref"),
    ("http://x/s/0123456789abcdef0123/x/", "x/s/ID/W"),
    ("http://x/s/123e4567-e89b-12d3-a456-426614174000/", "x/s/ID"),
    ("http://x/definition/delta-1-hedging-strategy-overview/", "x/definition/W"),
    ("http://x/", "x/"),
])
def test_url_families(url, family):
    assert url_family(url) == family


@pytest.mark.parametrize("url, root", [
    ("http://x/traps/nest/a/a/", "x/traps/nest/a"),
    ("http://x/traps/nest/a/b/a/b/", "x/traps/nest/a"),
    ("http://x/term/vega/term/vega/", "x/term"),
    ("http://x/diary/2026/11/11/", None),  # numbers may repeat
    ("http://x/area/vega/resource/3/", None),
])
def test_nesting(url, root):
    assert nested(url) == root


def _judge(guard, path, parent=None, run=0):
    _, body = linktraps.render(path, path.partition("?")[2])
    record = extract_page(body, BASE + path, "text/html").record
    return guard.judge(BASE + path, read_page(record), {"trap_parent": parent and BASE + parent, "trap_run": run})


def test_every_replica_page_has_text_of_its_own():
    site, guard = ReplicaSite(200), TrapGuard()
    for path in site.glossary_paths():
        reply = site.render(path, BASE)
        verdict = guard.judge(BASE + path, read_page(extract_page(reply.body, BASE + path, reply.content_type).record), {})
        assert verdict.novel, (path, verdict.reason)


def test_a_chain_of_real_pages_stays_novel_and_a_trap_does_not():
    guard = TrapGuard()
    for n in range(1, 40):
        verdict = _judge(guard, linktraps.chain_path(n), linktraps.chain_path(n - 1) if n > 1 else None)
        assert verdict.novel and verdict.run == 0, n
    runs = []
    parent, run = None, 0
    for n in range(1, 6):
        path = f"/traps/numbered/page/{n}/"
        verdict = _judge(guard, path, parent, run)
        runs.append((verdict.novel, verdict.run))
        parent, run = path, verdict.run
    assert runs[1:] == [(False, 1), (False, 2), (False, 3), (False, 4)]  # the same text, numbers aside


def test_a_family_without_text_of_its_own_is_cut_once_its_budget_is_spent():
    guard = TrapGuard(budget=5)
    hub = _judge(guard, linktraps.chain_path(1))
    waiting = [(url, meta) for n in range(30) if (meta := guard.admit(url := f"{BASE}/many/{n}/", BASE + "/hub/", hub))]
    assert len(waiting) == 5  # the other 25 wait for the family to earn them
    fetched = 0
    while waiting:
        url, meta = waiting.pop()
        fetched += 1
        guard.answered(meta)
        guard.judge(url, read_page({"title": "Trap", "body_text": "Another page of the trap.", "links": []}), meta)
        waiting += guard.release()
    assert fetched == 6  # the first page was short but no copy: it earned one more
    (trap,) = guard.report()
    assert trap.kind == "pages that add nothing" and trap.family == "x/many/N"
    assert len(trap.dropped) == 30 - fetched and all("/many/" in url for url in trap.dropped)  # never requested
    assert guard.refuses(f"{BASE}/many/99/")


def test_a_family_cut_whole_stays_cut_in_a_resumed_guard_though_some_of_its_pages_had_text_of_their_own():
    """A family cut whole once its waiting URLs could not be earned, some of its pages with text of their own,
    admitted as many again after a resume: the resumed guard took the cut for one of links from pages without
    text of their own alone."""
    guard = TrapGuard(budget=2, growth=1)
    hub = _judge(guard, linktraps.chain_path(1))
    waiting = [(url, meta) for n in range(10) if (meta := guard.admit(url := f"{BASE}/many/{n}/", BASE + "/hub/", hub))]
    fetched = []
    while waiting:
        url, meta = waiting.pop()
        fetched.append(url)
        guard.answered(meta)
        words = " ".join(f"word{n}x{len(fetched)}" for n in range(40)) if len(fetched) == 1 else "Share this"
        guard.judge(url, read_page({"title": url, "body_text": words, "links": []}), meta)
        waiting += guard.release(idle=not waiting)
    (trap,) = guard.report()
    assert trap.whole and guard.refuses(f"{BASE}/many/99/")

    resumed = TrapGuard(budget=2, growth=1)
    resumed.credit([(fetched[0], 40), *((url, 2) for url in fetched[1:])])
    resumed.carry_on([Trap.recorded(trap.example, trap.error, trap.detail)])
    assert resumed.refuses(f"{BASE}/many/99/")
    assert [resumed.admit(f"{BASE}/many/{n}/", BASE + "/hub/", hub) for n in range(20, 26)] == [None] * 6
    assert resumed.report() == []
