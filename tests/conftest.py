from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import launcher
import pytest

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = [sys.executable, "-m", "glossary_spider"]

# The tests stop commands with SIGHUP and look for its handler. Run under nohup, every command would inherit the
# hangup ignored, and rightly leave it so: the tests' commands get it as a terminal's session gives it.
signal.signal(signal.SIGHUP, signal.SIG_DFL)
# Ctrl-C too: a shell starts a background job (`make test &`) with it ignored, which every command would inherit.
signal.signal(signal.SIGINT, signal.default_int_handler)

# The files that take longest, longest first (seconds of tests each, in a full run): handed out first, so
# that `make test`'s workers (one file each at a time) do not end waiting on one left for last.
LONGEST_FIRST = ["test_crawl.py", "test_unattended.py", "test_hostile.py", "test_history.py", "test_archive_file.py",
                 "test_gate_hostile.py", "test_faults.py", "test_bench.py", "test_cli.py", "test_scrapyd.py",
                 "test_runs.py", "test_analyst.py", "test_storage.py", "test_crash.py", "test_browse.py"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file's tests in their order


def lasting_port() -> int:
    """A free loopback port below the range the kernel hands out for port 0 and for outgoing connections,
    so that nothing else takes it while a replica that listened on it is stopped and started again."""
    ranges = Path("/proc/sys/net/ipv4/ip_local_port_range")
    first_ephemeral = int(ranges.read_text().split()[0]) if ranges.exists() else 32768
    for _ in range(100):
        port = random.randrange(10_000, first_ephemeral)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free loopback port below the ephemeral range")


class Replica:
    """The replica site served by a real `glossary replica` process on loopback."""

    def __init__(self, tmp: Path, pages: int = 200, generation: int = 1, *options: str, port: int = 0,
                 host: str = "127.0.0.1"):
        self.log_path = tmp / f"replica-{os.getpid()}-{id(self)}.log"
        self.pages = pages
        self.process = launcher.popen(
            [*GLOSSARY, "replica", "--port", str(port), "--host", host, "--pages", str(pages), "--generation",
             str(generation), "--log", str(self.log_path), *options],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )
        line = self.process.stdout.readline()
        netloc = f"[{host}]" if ":" in host else host
        match = re.search(r"http://" + re.escape(netloc) + r":(\d+)/", line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"the replica did not start: {line}{self.process.stderr.read()}")
        self.port = int(match.group(1))
        self.url = f"http://{netloc}:{self.port}"
        # The same server by name, for crawls that must tell a host name from its address.
        self.named_url = f"http://localhost:{self.port}"

    def requests(self) -> list[dict]:
        if not self.log_path.exists():
            return []
        # A line the server is still writing has no newline yet: it is read next time.
        return [json.loads(line) for line in self.log_path.read_text().splitlines(keepends=True) if line.endswith("\n")]

    def clear_log(self) -> None:
        self.log_path.write_text("")

    def set_generation(self, generation: int) -> None:
        request = urllib.request.Request(f"{self.url}/_replica/generation", data=str(generation).encode())
        urllib.request.urlopen(request).read()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def run_glossary(*args: str, env: dict | None = None, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run the `glossary` command line in a process of its own, as a user would (forked by :mod:`launcher`, where
    that is the same)."""
    return launcher.run(
        [*GLOSSARY, *args], capture_output=True, text=kwargs.pop("text", True), cwd=kwargs.pop("cwd", ROOT),
        timeout=timeout, env={**os.environ, **(env or {})}, **kwargs,
    )


def crawl(db: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """A fast crawl of the replica: no delay, several requests at once."""
    result = run_glossary("crawl", "--db", str(db), "--delay", "0", "--concurrency", "8", "--no-progress",
                          *args, **kwargs)
    return result


def rows(db: Path, sql: str, params: tuple = ()) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


@pytest.fixture
def make_replica(tmp_path: Path) -> Iterator:
    started: list[Replica] = []

    def start(pages: int = 200, generation: int = 1, *options: str, host: str = "127.0.0.1", port: int = 0) -> Replica:
        replica = Replica(tmp_path, pages, generation, *options, host=host, port=port)
        started.append(replica)
        return replica

    yield start
    for replica in started:
        replica.stop()


@pytest.fixture(scope="session")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replica]:
    """One replica for the tests that only read from it."""
    server = Replica(tmp_path_factory.mktemp("replica"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def crawled(replica: Replica, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive of the whole replica, crawled from its home page and sitemap index."""
    db = tmp_path_factory.mktemp("crawled") / "glossary.db"
    replica.clear_log()
    result = crawl(db, "--start-url", f"{replica.url}/", "--sitemap", f"{replica.url}/sitemap_index.xml")
    assert result.returncode == 0, result.stderr
    replica.crawl_requests = replica.requests()  # what this crawl asked for, whatever other tests do later
    return db


CONTENT = {
    "pages": "SELECT url, content_hash, version, status, title FROM pages ORDER BY url",
    "sections": "SELECT * FROM sections ORDER BY url, position",
    "links": "SELECT * FROM links ORDER BY from_url, kind, position",
    "structured_data": "SELECT * FROM structured_data ORDER BY url, syntax, position",
    "page_versions": "SELECT url, version, content_hash FROM page_versions ORDER BY url, version",
}


def archive_content(db: Path) -> dict[str, list[dict]]:
    """What an archive says about the site, without the when and the which-run."""
    return {name: rows(db, sql) for name, sql in CONTENT.items()}


def archive_problems(db: Path) -> list[str]:
    """What is inconsistent in an archive, checked from its own rows (empty when all is well).

    SQLite's integrity check; the full-text index holds every page and nothing else, its
    triggers in place; for every page, its latest version carries its content_hash
    and recomputes to it, and its sections, links and JSON-LD rows are those of that
    version; every capture's body is stored.
    """
    from glossary_spider.extraction.page import content_hash

    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    problems = []
    try:
        conn.execute("BEGIN")  # one snapshot, whatever a writer does meanwhile
        if (check := conn.execute("PRAGMA integrity_check").fetchone()[0]) != "ok":
            problems.append(f"integrity_check: {check}")
        for page in conn.execute("SELECT * FROM pages"):
            url = page["url"]
            version = conn.execute("SELECT * FROM page_versions WHERE url = ? AND version = ?",
                                   (url, page["version"])).fetchone()
            if version is None or version["content_hash"] != page["content_hash"]:
                problems.append(f"{url}: no version {page['version']} with its content_hash")
                continue
            record = {**json.loads(version["record"]), "title": version["title"], "summary": version["summary"],
                      "body_text": version["body_text"]}
            if content_hash(record) != page["content_hash"]:
                problems.append(f"{url}: version {page['version']} does not hash to its content_hash")
            if (page["title"], page["summary"], page["body_text"]) != (record["title"], record["summary"],
                                                                       record["body_text"]):
                problems.append(f"{url}: text differs from its version")
            sections = [(r["heading"], r["text"]) for r in
                        conn.execute("SELECT * FROM sections WHERE url = ? ORDER BY position", (url,))]
            if sections != [(s["heading"], s["text"]) for s in record["sections"]]:
                problems.append(f"{url}: sections differ from its version")
            links = sorted((r["kind"], r["to_url"], r["anchor_text"] or "", r["summary"] or "") for r in
                           conn.execute("SELECT * FROM links WHERE from_url = ?", (url,)))
            if links != sorted((l["kind"], l["to_url"], l["anchor_text"] or "", l["summary"] or "")
                               for l in record["links"]):
                problems.append(f"{url}: links differ from its version")
            json_ld = sorted(r["data"] for r in conn.execute(
                "SELECT data FROM structured_data WHERE url = ? AND syntax = 'json-ld'", (url,)))
            if json_ld != sorted(json.dumps(i["data"], ensure_ascii=False) for i in record["structured_data"]
                                 if i["syntax"] == "json-ld"):
                problems.append(f"{url}: JSON-LD differs from its version")
        triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        if lost := {"pages_ai", "pages_ad", "pages_au"} - triggers:
            problems.append(f"full-text triggers missing: {sorted(lost)}")
        unindexed = conn.execute("SELECT count(*) FROM pages WHERE rowid NOT IN (SELECT id FROM pages_fts_docsize)")
        stale = conn.execute("SELECT count(*) FROM pages_fts_docsize WHERE id NOT IN (SELECT rowid FROM pages)")
        if (unindexed := unindexed.fetchone()[0]) or (stale := stale.fetchone()[0]):
            problems.append(f"full-text index: {unindexed} pages missing from it, {stale} rows of no page")
        missing = conn.execute("SELECT count(*) FROM captures WHERE body_sha256 IS NOT NULL "
                               "AND body_sha256 NOT IN (SELECT sha256 FROM bodies)").fetchone()[0]
        if missing:
            problems.append(f"{missing} captures without their body")
    finally:
        conn.close()
    return problems


def itertext_apart(element) -> str:
    """What ``"".join(element.itertext())`` reads, with the text of each element of ``tree.SEPARATED`` under
    ``element`` parted from the text around it, before its content (if it has any) and before its tail: a
    line break for a ``<br>``, a space for the others. The reference for ``extraction.tree``'s readers."""
    from lxml import etree

    from glossary_spider.extraction.tree import SEPARATED

    parts = []
    for event, node in etree.iterwalk(element, events=("start", "end", "comment", "pi")):
        if event in ("comment", "pi"):
            parts.append(node.tail or "")
            continue
        mark = ("\n" if node.tag == "br" else " ") if node is not element and node.tag in SEPARATED else ""
        if event == "start":
            parts += (mark, node.text or "")
        elif node is not element:
            parts += (mark if node.text is not None or len(node) else "", node.tail or "")
    return "".join(parts)


def assert_one_line_error(result, *words):
    """The command refused its input with exit status 2 and one line, "Error: ...", holding each of ``words``."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    for word in words:
        assert word in lines[0]


def just_now():
    """A minute from now, as runs record times: later than the archive's own runs, even one that ended this
    second, and within the clock slack that runs --check allows before taking a time for a wrong clock's."""
    from datetime import datetime, timedelta, timezone

    return (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat(timespec="seconds")
