"""`make bench`: what extraction and storage cost on top of Scrapy, measured in one run.

Serves the replica on loopback, runs each measured command several times
interleaved with its baseline, prints a table of ratios and writes it as JSON
under benchmarks/results/. Figures are ratios against a baseline measured in the
same run, so they compare across machines better than raw times do.

    python benchmarks/bench.py                      # 5,000 pages; 50,000 for memory and search
    python benchmarks/bench.py --pages 100 --memory-pages 200 --repeat 1   # a smoke run
    python benchmarks/bench.py --scrapyd-only       # only the Scrapyd section: 8 sites as 8 jobs, 0.2 s delay
    python benchmarks/bench.py --heavy tag-flood    # one heavy page of the malicious replica only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1
sys.path.insert(0, str(ROOT / "tests"))


class Server:
    """The replica in its own process, with its CPU time readable (and its requests, given a log)."""

    def __init__(self, pages: int, host: str = "127.0.0.1", log: Path | None = None, *options: str):
        self.log = log
        self.process = subprocess.Popen(
            [PYTHON, "-m", "glossary_spider", "replica", "--port", "0", "--host", host, "--pages", str(pages),
             *(["--log", str(log)] if log else []), *options],
            stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )
        line = self.process.stdout.readline()
        if not (found := re.search(r"(http://[\d.]+:\d+)", line)):
            self.process.wait()
            raise RuntimeError(f"the replica (--pages {pages}) did not start: see its error above")
        self.url = found.group(1)

    def request_times(self) -> list[float]:
        assert self.log is not None
        return sorted(json.loads(line)["time"] for line in self.log.read_text().splitlines())

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def run(command: list[str], ok: tuple[int, ...] = (0,)) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in bytes, and standard output of a whole process (exiting with one of ``ok``;
    its CPU seconds: :func:`last_cpu`)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate()
    wall = time.perf_counter() - started
    if process.returncode not in ok:
        raise RuntimeError(f"{' '.join(command)} failed:\n{err[-2000:]}")
    _LAST["cpu"] = _CPU.get(process.pid, 0.0)
    return wall, peak_rss(process.pid), out


def last_cpu() -> float:
    """User and system CPU seconds of the process :func:`run` ran last."""
    return _LAST["cpu"]


_RSS: dict[int, int] = {}
_CPU: dict[int, float] = {}
_LAST: dict[str, float] = {}


def peak_rss(pid: int) -> int:
    return _RSS.get(pid, 0)


def _reap_with_rusage() -> None:
    """Record each child's peak RSS as it exits (os.wait4 gives it per child)."""
    original = subprocess.Popen._try_wait

    def try_wait(self, wait_flags):
        pid, status, usage = os.wait4(self.pid, wait_flags)
        if pid:
            _RSS[pid] = usage.ru_maxrss * 1024
            _CPU[pid] = usage.ru_utime + usage.ru_stime
        return pid, status

    subprocess.Popen._try_wait = try_wait  # type: ignore[method-assign]
    _ = original


def glossary(*args: str) -> list[str]:
    return [PYTHON, "-m", "glossary_spider", *args]


def urls_file(directory: Path, server: Server, pages: int) -> Path:
    """The pages the replica's sitemaps list: what both the bare spider and `glossary crawl` fetch."""
    from glossary_spider.replica import ReplicaSite

    path = directory / f"urls-{pages}.txt"
    path.write_text("".join(f"{server.url}{p}\n" for p in ReplicaSite(pages).sitemap_paths()))
    return path


def crawl_command(db: Path, server: Server, concurrency: int) -> list[str]:
    return glossary("crawl", "--db", str(db), "--sitemap", f"{server.url}/sitemap_index.xml", "--no-follow",
                    "--delay", "0", "--concurrency", str(concurrency), "--no-progress")


def throughput(directory: Path, server: Server, pages: int, count: int, repeat: int, concurrency: int) -> dict:
    """The crawl against the bare spider, ``repeat`` pairs interleaved: pages a second and CPU a page; then
    one more pair against a replica that logs its requests, to time each run phase by phase."""
    pairs, server_rates, last_db, last_wall = [], [], None, 0.0
    # Once unmeasured: the replica renders each page on its first request and serves it from memory after.
    bare = [PYTHON, str(ROOT / "benchmarks" / "bare_spider.py"), str(urls_file(directory, server, pages)),
            str(concurrency)]
    run(bare)
    for i in range(repeat):
        order = ["bare", "ours"] if i % 2 == 0 else ["ours", "bare"]
        rates = {}
        for which in order:
            cpu = server.cpu_seconds()
            if which == "bare":
                wall, _, out = run(bare)
                fetched = int(out.strip().splitlines()[-1])
                rates["bare"], rates["bare_cpu"] = fetched / wall, last_cpu() / fetched
                rates["bare_wall"], rates["bare_process_cpu"] = wall, last_cpu()
                server_rates.append(fetched / max(server.cpu_seconds() - cpu, 1e-6))
            else:
                last_db = directory / f"crawl-{i}.db"
                wall, _, _ = run(crawl_command(last_db, server, concurrency))
                archived = sqlite3.connect(last_db).execute("SELECT count(*) FROM pages").fetchone()[0]
                assert archived == count, f"archived {archived} of {count} pages"
                rates["ours"], rates["ours_cpu"], last_wall = archived / wall, last_cpu() / archived, wall
                rates["ours_wall"] = wall
                rates["ours_process_cpu"], rates["ours_workers_cpu"] = crawl_cpu(last_db)
                rates["ours_total_cpu"] = last_cpu() + server.cpu_seconds() - cpu
        pairs.append(rates)
    return {
        "pairs": pairs,
        "ratio": statistics.median(p["ours"] / p["bare"] for p in pairs),
        "cpu_ratio": statistics.median(p["ours_cpu"] / p["bare_cpu"] for p in pairs),
        "server_pages_per_cpu_second": statistics.median(server_rates),
        "bare_pages_per_second": statistics.median(p["bare"] for p in pairs),
        # The most the throughput could be were the crawl's CPU, and the replica's, spread over every core
        # without a moment idle: the bare spider's wall time against that CPU shared by the cores.
        "ceiling": statistics.median(p["bare_wall"] * CORES / p["ours_total_cpu"] for p in pairs),
        "phases": crawl_phases(directory, pages, concurrency),
        "db": last_db,
        "crawl_wall": last_wall,
    }


def crawl_phases(directory: Path, pages: int, concurrency: int) -> dict[str, dict[str, float]]:
    """One run of each against a replica of the same pages that logs its requests: their phases. Apart
    from the measured pairs: writing the log costs the replica a quarter more CPU a request, on a core the
    crawl shares."""
    directory = directory / "phases"
    directory.mkdir()
    server = Server(pages, "127.0.0.1", directory / "replica.log")
    try:
        bare = [PYTHON, str(ROOT / "benchmarks" / "bare_spider.py"), str(urls_file(directory, server, pages)),
                str(concurrency)]
        run(bare)
        timed = {}
        for which, command in (("bare", bare), ("ours", crawl_command(directory / "crawl.db", server, concurrency))):
            logged, started = len(server.request_times()), time.time()
            run(command)
            timed[which] = phases(server.request_times()[logged:], started, time.time())
        return timed
    finally:
        server.stop()


def phases(requests: list[float], started: float, ended: float) -> dict[str, float]:
    """A run's wall time in three: start-up (to its first request), crawl (first request to last) and
    close (last request to the process's end), from the times the replica logged its requests."""
    return {"start": requests[0] - started, "crawl": requests[-1] - requests[0], "close": ended - requests[-1]}


def crawl_cpu(db: Path) -> tuple[float, float]:
    """CPU seconds of the crawl's own process and of its extraction workers, from the run's stats."""
    stats = json.loads(sqlite3.connect(db).execute("SELECT stats FROM crawl_runs ORDER BY id DESC").fetchone()[0])
    return stats["glossary/cpu_seconds"], stats["glossary/workers_cpu_seconds"]


def cpu_split(speed: dict) -> str:
    """Where each crawl's CPU went (medians of the measured pairs) and its time (the pair timed phase by
    phase): what says which process sets the crawl's pace, and how fast the crawl could be on this
    machine's cores were its work spread over them perfectly."""
    def median(key: str) -> float:
        return statistics.median(p[key] for p in speed["pairs"])

    return "\n".join([
        f"crawl CPU (medians): Scrapy's process {median('ours_process_cpu'):.2f} s in a "
        f"{median('ours_wall'):.2f} s run, its extraction workers {median('ours_workers_cpu'):.2f} s; "
        f"the bare spider {median('bare_process_cpu'):.2f} s in {median('bare_wall'):.2f} s",
        *(f"phases, {who} (a run against a logging replica): start-up {timed['start']:.2f} s, crawl "
          f"{timed['crawl']:.2f} s, close {timed['close']:.2f} s" for who, timed in speed["phases"].items()),
        f"CPU ceiling: the crawl and the replica take {median('ours_total_cpu'):.2f} CPU-s; on {CORES} cores "
        f"no less than {median('ours_total_cpu') / CORES:.2f} s, so throughput ≤ {speed['ceiling']:.3f}",
    ])


def refresh_figures(db: Path, crawl_wall: float, concurrency: int) -> dict:
    wall, _, _ = run(glossary("refresh", "--db", str(db), "--delay", "0", "--concurrency", str(concurrency),
                              "--no-progress"))
    conn = sqlite3.connect(db)
    (crawl_bytes,), (refresh_bytes,) = conn.execute("SELECT bytes FROM crawl_runs ORDER BY id").fetchall()[-2:]
    return {"time_ratio": wall / crawl_wall, "bytes_ratio": refresh_bytes / crawl_bytes}


def extraction_and_storage(pages: int, sample: int) -> dict:
    import extruct

    from glossary_spider.extraction import extract_page
    from glossary_spider.replica import ReplicaSite
    from glossary_spider.storage import Archive, Fetch

    site, base = ReplicaSite(pages), "http://127.0.0.1:8000"
    rendered = [(base + p, site.render(p, base)) for p in site.glossary_paths()[:sample]]
    ours, theirs, extractions = [], [], []
    for url, reply in rendered:
        started = time.perf_counter()
        extractions.append((Fetch(url, 200, reply.body, reply.content_type), extract_page(reply.body, url, reply.content_type)))
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        extruct.extract(reply.body, base_url=url, errors="ignore")
        theirs.append(time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as tmp, Archive(Path(tmp) / "storage.db") as archive:
        run_id = archive.start_run("crawl", {})
        per_page = []
        for i in range(0, len(extractions), 50):
            batch = extractions[i : i + 50]
            started = time.perf_counter()
            archive.store_pages(run_id, batch)
            per_page.append((time.perf_counter() - started) / len(batch))
    return {
        "extraction_ms": statistics.median(ours) * 1000,
        "extruct_ms": statistics.median(theirs) * 1000,
        "extraction_vs_extruct": statistics.median(ours) / statistics.median(theirs),
        "storage_ms": statistics.median(per_page) * 1000,
    }


def best_of(repeat: int, work) -> float:
    """The least wall time of ``repeat`` runs of ``work()``."""
    return best_of_each(repeat, work)[0]


def best_of_each(repeat: int, *works) -> tuple[float, ...]:
    """The least wall time of ``repeat`` runs of each of ``works``, their runs taken in turn: a spell of
    the machine's noise then falls on each of them alike."""
    times: list[list[float]] = [[] for _ in works]
    for _ in range(repeat):
        for work, taken in zip(works, times):
            started = time.perf_counter()
            work()
            taken.append(time.perf_counter() - started)
    return tuple(min(taken) for taken in times)


def parse_each(bodies: list[bytes]) -> None:
    """``lxml.html.fromstring`` of each body, each tree let go before the next is parsed, as
    ``extract_page`` lets go of its own: kept in a list, the trees of hundreds of pages grow the heap,
    and the first runs in a process then pay for that growth (a fifth more time or worse), not for
    parsing."""
    import lxml.html

    for body in bodies:
        lxml.html.fromstring(body)


def extraction_vs_parse(pages: int, sample: int, repeat: int = 5) -> dict:
    """``extract_page`` ÷ ``lxml.html.fromstring`` on the same pages, on replica pages and on the golden samples of
    tests/samples (the replica's themes, broken JSON-LD, the seed page), two ways:

    - ``ratio``: each page parsed and extracted in turn (which goes first alternating from round to round),
      the best of ``repeat`` for each page and each of the two, summed over the pages. A page's two timings
      are taken a millisecond apart, so a spell of the machine's noise falls on both alike, and the best of
      five finds a quiet millisecond for nearly every page;
    - ``whole_loops``: the least of ``repeat`` runs over all the pages of each (:func:`best_of_each`): the
      extraction's loop runs five times as long as the parse's, so it takes in more of the machine's spells,
      and on a noisy machine moves far more from run to run (see the README's Performance section)."""
    from glossary_spider.extraction import extract_page
    from glossary_spider.replica import ReplicaSite

    site, base = ReplicaSite(pages), "http://127.0.0.1:8000"
    replica = [(base + p, site.render(p, base)) for p in site.glossary_paths()[:sample]]
    replica = [(url, reply.body, reply.content_type) for url, reply in replica]
    samples = [(json.loads(p.with_suffix(".json").read_text())["url"], p.read_bytes(), None)
               for p in sorted((ROOT / "tests" / "samples").glob("*.html"))]
    ratios = {}
    for name, found in (("replica", replica), ("samples", samples)):
        extract, parse = page_by_page(found, repeat)
        loops = best_of_each(repeat, lambda: [extract_page(body, url, kind) for url, body, kind in found],
                             lambda: parse_each([body for _, body, _ in found]))
        ratios[name] = {"ratio": extract / parse, "extract_ms": extract / len(found) * 1000,
                        "parse_ms": parse / len(found) * 1000, "pages": len(found),
                        "whole_loops": loops[0] / loops[1]}
    return ratios


def page_by_page(found: list[tuple[str, bytes, str | None]], repeat: int) -> tuple[float, float]:
    """The sums over ``found`` of each page's least ``extract_page`` and ``fromstring`` times of ``repeat``
    rounds, the two taken one after the other, in turns."""
    import lxml.html

    from glossary_spider.extraction import extract_page

    steps = {"extract": lambda url, body, kind: extract_page(body, url, kind),
             "parse": lambda url, body, kind: lxml.html.fromstring(body)}
    best = {name: [float("inf")] * len(found) for name in steps}
    clock = time.perf_counter
    for round_ in range(repeat):
        order = ("parse", "extract") if round_ % 2 else ("extract", "parse")
        for i, page in enumerate(found):
            for name in order:
                started = clock()
                steps[name](*page)
                best[name][i] = min(best[name][i], clock() - started)
    return sum(best["extract"]), sum(best["parse"])


def reparse_vs_parse(db: Path, directory: Path, repeat: int = 3) -> dict:
    """``glossary reparse`` (every core) wall time ÷ one core's ``lxml.html.fromstring`` of every stored page
    (:func:`parse_each`), the least of ``repeat`` runs each, every reparse on a fresh copy of the crawl's
    archive."""
    from glossary_spider.storage import Archive

    copy = directory / "reparse.db"
    copy.write_bytes(db.read_bytes())
    with Archive(copy) as archive:
        bodies = [body for _, _, body in archive.stored_pages()]
    parse = best_of(repeat, lambda: parse_each(bodies))
    walls = []
    for _ in range(repeat):
        copy.write_bytes(db.read_bytes())
        walls.append(run(glossary("reparse", "--db", str(copy), "--no-progress"))[0])
    wall = min(walls)
    return {"ratio": wall / parse, "reparse_seconds": wall, "reparse_runs": walls, "parse_seconds": parse,
            "pages": len(bodies), "workers": CORES}


def corpus_scores() -> dict:
    """Token-shingle F1 on the real pages of benchmarks/corpus/, ours and trafilatura's, in this run."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import corpus

    pages = corpus.pages()
    ours, theirs = corpus.score(corpus.ours, pages), corpus.score(corpus.trafilatura_text, pages)
    return {"pages": len(pages), "ours": ours.mean, "trafilatura": theirs.mean, "ours_empty": ours.empty,
            "trafilatura_empty": theirs.empty, "ours_ms": ours.seconds / len(pages) * 1000,
            "trafilatura_ms": theirs.seconds / len(pages) * 1000}


def memory(directory: Path, pages: int, small: int, concurrency: int) -> dict:
    peaks = {}
    for count in (small, pages):
        server = Server(count)
        try:
            _, peaks[count], _ = run(crawl_command(directory / f"memory-{count}.db", server, concurrency))
        finally:
            server.stop()
    return {"small": small, "large": pages, "peak_small": peaks[small], "peak_large": peaks[pages],
            "ratio": peaks[pages] / peaks[small], "db": directory / f"memory-{pages}.db"}


def search(db: Path, repeat: int) -> dict:
    sqlite_utils = str(Path(PYTHON).parent / "sqlite-utils")
    ratios = []
    for _ in range(max(repeat, 3)):
        ours, _, _ = run(glossary("search", "funding rate", "--db", str(db), "--limit", "20"))
        theirs, _, _ = run([sqlite_utils, "search", str(db), "pages", "funding rate", "--limit", "20"])
        ratios.append(ours / theirs)
    return {"ratio": statistics.median(ratios)}


def max_pages_requests(directory: Path, server: Server, pages: int = 50) -> float:
    """Requests a --max-pages crawl at concurrency 8 sends, per page it was asked for (issue 14: 706
    requests for 50 pages, since queued requests were still fetched)."""
    db = directory / "max-pages.db"
    run(glossary("crawl", "--db", str(db), "--start-url", f"{server.url}/", "--sitemap",
                 f"{server.url}/sitemap_index.xml", "--delay", "0", "--concurrency", "8", "--max-pages", str(pages),
                 "--no-progress"), ok=(4,))
    (requests,) = sqlite3.connect(db).execute("SELECT requests FROM crawl_runs").fetchone()
    return requests / pages


def scrapyd_sites(directory: Path, hosts: int, pages: int, delay: float, repeat: int = 1) -> dict:
    """``hosts`` replica sites crawled as as many jobs on one local Scrapyd, each at ``delay``, set against
    one ``glossary crawl`` of another such site, ``repeat`` rounds of both: each host's smallest gap between
    requests over all rounds, from the replicas' request logs, and the median round's rate of all hosts
    together and CPU seconds per page either way (each crawl process's own and its reaped children's,
    start-up included: a fixed second or so of the 1.6–2 s a 60-page crawl costs)."""
    from scrapyd_node import ScrapydNode

    servers = [Server(pages, f"127.0.0.{2 + i}", directory / f"site-{i}.log") for i in range(hosts + 1)]
    alone, sites = servers[0], servers[1:]
    node = None
    rounds = []
    try:
        node = ScrapydNode(directory / "scrapyd", max_proc=hosts)
        deployed = node.deploy()
        if deployed.returncode != 0:
            raise RuntimeError(f"scrapyd-deploy failed:\n{deployed.stderr[-2000:]}")
        node.get("listspiders.json", project="glossary_spider")  # Scrapyd lists spiders once per version
        for number in range(repeat):
            rounds.append(_scrapyd_round(directory / f"round-{number}", node, alone, sites, delay))
    finally:
        if node is not None:
            node.stop()
        for server in servers:
            server.stop()
    middle = sorted(rounds, key=lambda r: r["cpu_ratio"])[len(rounds) // 2]
    return {"hosts": hosts, "delay": delay, "rounds": rounds,
            "smallest_gaps": [min(gaps) for gaps in zip(*(r["smallest_gaps"] for r in rounds))],
            "median_gaps": [statistics.median(gaps) for gaps in zip(*(r["median_gaps"] for r in rounds))],
            "rate": statistics.median(r["rate"] for r in rounds),
            "overlap_seconds": statistics.median(r["overlap_seconds"] for r in rounds),
            "pages": middle["pages"], "alone_pages": middle["alone_pages"], "cpu_per_page": middle["cpu_per_page"],
            "alone_cpu_per_page": middle["alone_cpu_per_page"], "cpu_ratio": middle["cpu_ratio"]}


def _scrapyd_round(directory: Path, node: Any, alone: Server, sites: list[Server], delay: float) -> dict:
    """One round of :func:`scrapyd_sites`: the single crawl, then the jobs, on archives of their own."""
    directory.mkdir()
    db = directory / "alone.db"
    process = subprocess.Popen(glossary("crawl", "--db", str(db), "--start-url", f"{alone.url}/", "--sitemap",
                                        f"{alone.url}/sitemap_index.xml", "--delay", str(delay),
                                        "--no-progress"), cwd=ROOT, stdout=subprocess.DEVNULL)
    process.wait()
    alone_pages = sqlite3.connect(db).execute("SELECT count(*) FROM pages").fetchone()[0]
    alone_cpu = _CPU[process.pid] / alone_pages

    logged = [len(site.request_times()) for site in sites]  # the requests of earlier rounds
    cpu = node.children_cpu_seconds()
    jobs = [node.schedule(f"GLOSSARY_DB={directory / f'site-{i}.db'}", start_urls=f"{site.url}/",
                          sitemap_urls=f"{site.url}/sitemap_index.xml", delay=delay)
            for i, site in enumerate(sites)]
    node.wait(*jobs, timeout=600)
    jobs_cpu = node.children_cpu_seconds() - cpu
    archived = sum(sqlite3.connect(directory / f"site-{i}.db").execute("SELECT count(*) FROM pages").fetchone()[0]
                   for i in range(len(sites)))
    times = [site.request_times()[before:] for site, before in zip(sites, logged)]
    gaps = [min(b - a for a, b in zip(t, t[1:])) for t in times]
    medians = [statistics.median(b - a for a, b in zip(t, t[1:])) for t in times]
    start, end = max(t[0] for t in times), min(t[-1] for t in times)  # while every host is being crawled
    together = sum(start <= x <= end for t in times for x in t) / (end - start)
    return {"smallest_gaps": gaps, "median_gaps": medians, "rate": together, "pages": archived,
            "alone_pages": alone_pages, "overlap_seconds": end - start, "cpu_per_page": jobs_cpu / archived,
            "alone_cpu_per_page": alone_cpu, "cpu_ratio": (jobs_cpu / archived) / alone_cpu}


def traps(directory: Path) -> dict:
    """Requests spent on each link trap of the hostile replica, and the longest legitimate chain
    archived, with default trap settings, from the replica's own request log."""
    from glossary_spider.replica.faults import FAULTS
    from glossary_spider.replica.linktraps import CHAIN, CHAIN_LENGTH, LINK_TRAPS, chain_path

    log = directory / "traps.log"
    process = subprocess.Popen([PYTHON, "-m", "glossary_spider", "replica", "--port", "0", "--pages", "40",
                                "--faults", "--log", str(log)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        base = re.search(r"(http://[\d.]+:\d+)", process.stdout.readline()).group(1)
        # Every trap but many-links, whose pages link the home page and so the whole hostile site
        # (tests/test_faults.py crawls that).
        traps = [f for f in FAULTS if f.trap and f.name != "many-links"]
        prefixes = {f.name: f.trap for f in traps} | {t.name: t.prefix for t in LINK_TRAPS}
        entries = [f.path for f in traps] + [t.entry for t in LINK_TRAPS] + [chain_path(1)]
        urls = directory / "trap-entries.txt"
        urls.write_text("".join(f"{base}{path}\n" for path in entries))
        db = directory / "traps.db"
        run(glossary("crawl", "--db", str(db), "--urls-file", str(urls), "--delay", "0", "--no-progress"))
    finally:
        process.terminate()
        process.wait()
    paths = [json.loads(line)["path"] for line in log.read_text().splitlines()]
    spent = {name: sum(1 for p in paths if p.startswith(prefix.split("?")[0])) for name, prefix in prefixes.items()}
    chain = sqlite3.connect(db).execute("SELECT count(*) FROM pages WHERE url LIKE ?", [f"%{CHAIN}%"]).fetchone()[0]
    return {"per_trap": spent, "most": max(spent.values()), "chain": chain, "chain_length": CHAIN_LENGTH}


ORDINARY_PAGE = "/definition/international-legal-cooperation/"


def heavy_pages(directory: Path, names: list[str]) -> dict:
    """Peak RSS of a crawl and a reparse of each heavy page of the malicious replica, one at a time, and
    the bytes each adds to an archive, beside the same for an ordinary page."""
    import shutil
    import urllib.request

    from glossary_spider.replica.attacks import PAGES

    def compacted_size(db: Path) -> int:
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        conn.close()
        return db.stat().st_size

    def crawl(db: Path, url: str, ok: tuple[int, ...] = (0,)) -> int:
        _, rss, _ = run(glossary("crawl", "--db", str(db), "--start-url", url, "--no-follow", "--delay", "0",
                                 "--ignore-robots", "--no-progress"), ok)
        return rss

    server = Server(40, "127.0.0.1", None, "--attack", "none")
    try:
        empty = directory / "heavy-empty.db"
        # A 404: an archive with one run and no page (the run ends empty, exit 1).
        crawl(empty, f"{server.url}/attack/nothing-here/", ok=(1,))
        base = compacted_size(empty)
        pages = [("ordinary page", ORDINARY_PAGE)] + [(p.strip("/").split("/")[-1], p) for p in PAGES
                                                      if p.strip("/").split("/")[-1] in names]
        found = {}
        for name, path in pages:
            db = directory / f"heavy-{name.replace(' ', '-')}.db"
            shutil.copy(empty, db)
            size = len(urllib.request.urlopen(server.url + path).read())
            crawl_rss = crawl(db, server.url + path)
            _, reparse_rss, _ = run(glossary("reparse", "--db", str(db), "--no-progress"))
            found[name] = {"bytes": size, "crawl_rss": crawl_rss, "reparse_rss": reparse_rss,
                           "growth": (compacted_size(db) - base) / size}
    finally:
        server.stop()
    heavy = [v for k, v in found.items() if k != "ordinary page"]
    return {"pages": found, "peak_rss": max(max(v["crawl_rss"], v["reparse_rss"]) for v in heavy),
            "growth": max(v["growth"] for v in heavy)}


def heavy_figures(directory: Path, options: argparse.Namespace) -> list:
    """The heavy pages' worst peak RSS and archive growth, each page's printed beside an ordinary page's."""
    heavy = heavy_pages(directory, options.heavy.split(","))
    print("\none page at a time (glossary replica --attack none) | page MiB | crawl peak RSS MiB | "
          "reparse peak RSS MiB | archive growth ÷ page bytes")
    for name, page in heavy["pages"].items():
        print(f"  {name:<16} {page['bytes'] / 2**20:>8.1f} {page['crawl_rss'] / 2**20:>8.0f} "
              f"{page['reparse_rss'] / 2**20:>8.0f} {page['growth']:>8.3f}")
    EXTRA["heavy_pages"] = heavy["pages"]
    return [
        ("heavy page: peak RSS MiB (crawl, reparse)", heavy["peak_rss"] / 2**20, "≤ 400",
         heavy["peak_rss"] <= 400 * 2**20),
        ("heavy page: archive growth ÷ page bytes", heavy["growth"], "≤ 2", heavy["growth"] <= 2),
    ]


def archive_figures(directory: Path, pages: int, concurrency: int) -> dict:
    """Archive bytes against the HTML they came from, after one crawl of ``pages`` pages; then what a
    refresh against the next generation of the site adds per page it finds edited."""
    server = Server(pages)
    db = directory / f"archive-{pages}.db"
    try:
        run(crawl_command(db, server, concurrency))
        crawled = db.stat().st_size
        before = directory / "crawled.db"
        shutil.copy(db, before)
        request = urllib.request.Request(f"{server.url}/_replica/generation", data=b"2")
        urllib.request.urlopen(request, timeout=10).read()
        run(glossary("refresh", "--db", str(db), "--delay", "0", "--concurrency", str(concurrency), "--no-progress"))
    finally:
        server.stop()
    refreshed = db.stat().st_size
    conn = sqlite3.connect(db)
    (html,) = conn.execute("SELECT sum(b.size) FROM captures c JOIN bodies b ON b.sha256 = c.body_sha256 "
                           "WHERE c.run_id = 1").fetchone()
    changed, added = conn.execute("SELECT pages_changed, pages_new FROM crawl_runs WHERE id = 2").fetchone()
    conn.close()
    if not changed:
        raise SystemExit(f"the refresh of {pages} replica pages found none edited: give more --archive-pages")
    # What the edited pages add: the refreshed archive without the added pages' rows, against the
    # crawl's archive, both vacuumed (so the space the deleted rows leave is not counted) ...
    edits_only = directory / "edits-only.db"
    shutil.copy(db, edits_only)
    without_added_pages(edits_only, run_id=2)
    content = vacuumed_size(edits_only) - vacuumed_size(before)
    # ... plus all the slack the refresh itself left in the file (split and partly filled pages).
    slack = (refreshed - crawled) - (vacuumed_size(db) - vacuumed_size(before))
    growth = content + slack
    return {"pages": pages, "html_bytes": html, "crawl_bytes": crawled, "refresh_bytes": refreshed,
            "changed": changed, "added": added, "edit_content_bytes": content, "refresh_slack_bytes": slack,
            "edit_growth_bytes": growth, "ratio": crawled / html, "growth_per_changed_page": growth / changed}


def vacuumed_size(db: Path) -> int:
    """The bytes ``db`` would take rewritten without slack (a copy is vacuumed; ``db`` is left as it is)."""
    copy = db.with_suffix(".vacuumed")
    shutil.copy(db, copy)
    conn = sqlite3.connect(copy)
    conn.execute("VACUUM")
    conn.close()
    size = copy.stat().st_size
    copy.unlink()
    return size


def without_added_pages(db: Path, run_id: int) -> None:
    """Take out of ``db`` every row of the pages run ``run_id`` added, so that what is left of its
    growth is what the pages it found edited cost."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("CREATE TEMP TABLE added AS SELECT url FROM captures WHERE run_id = ? AND outcome = 'new'",
                     [run_id])
        conn.execute("CREATE TEMP TABLE added_ids AS SELECT id FROM urls WHERE url IN (SELECT url FROM added)")
        conn.execute("DELETE FROM bodies WHERE sha256 IN (SELECT body_sha256 FROM captures WHERE url IN "
                     "(SELECT url FROM added)) AND sha256 NOT IN (SELECT body_sha256 FROM captures WHERE url NOT IN "
                     "(SELECT url FROM added) AND body_sha256 IS NOT NULL)")
        for sql in ("DELETE FROM captures WHERE url IN (SELECT url FROM added)",
                    "DELETE FROM pages WHERE url IN (SELECT url FROM added)",
                    "DELETE FROM structured_data WHERE url IN (SELECT url FROM added)",
                    "DELETE FROM section_spans WHERE url_id IN (SELECT id FROM added_ids)",
                    "DELETE FROM link_rows WHERE from_id IN (SELECT id FROM added_ids)",
                    "DELETE FROM versions WHERE url_id IN (SELECT id FROM added_ids)",
                    # URLs and link texts that only the added pages' links used
                    "DELETE FROM urls WHERE id NOT IN (SELECT from_id FROM link_rows UNION SELECT to_id FROM link_rows "
                    "WHERE to_id IS NOT NULL UNION SELECT url_id FROM versions UNION SELECT url_id FROM section_spans)",
                    "DELETE FROM link_texts WHERE id NOT IN (SELECT anchor_id FROM link_rows WHERE anchor_id IS NOT NULL "
                    "UNION SELECT summary_id FROM link_rows WHERE summary_id IS NOT NULL)"):
            conn.execute(sql)
        conn.execute("INSERT INTO pages_fts (pages_fts) VALUES ('optimize')")  # as the refresh left it
    conn.close()


def archive_rows(size: dict) -> list:
    EXTRA["archive"] = size
    print(f"archive: {size['html_bytes'] / 1e6:.1f} MB of HTML from {size['pages']} replica pages kept in "
          f"{size['crawl_bytes'] / 1e6:.1f} MB; the refresh found {size['changed']} pages edited and "
          f"{size['added']} added, and the archive grew to {size['refresh_bytes'] / 1e6:.1f} MB "
          f"({size['edit_growth_bytes'] / 1e3:.0f} kB of it for the edited pages: "
          f"{size['edit_content_bytes'] / 1e3:.0f} kB of rows, " + (
              f"{size['refresh_slack_bytes'] / 1e3:.0f} kB of slack)" if size["refresh_slack_bytes"] >= 0 else
              f"less {-size['refresh_slack_bytes'] / 1e3:.0f} kB of free space the crawl had left)"))
    return [
        (f"archive bytes ÷ raw HTML bytes, one crawl of {size['pages']} pages", size["ratio"], "≤ 1.0",
         size["ratio"] <= 1.0),
        ("archive growth per edited page on a refresh (bytes)", size["growth_per_changed_page"], "≤ 2000",
         size["growth_per_changed_page"] <= 2000),
    ]


def archive_size(db: Path) -> float:
    raw, kept = sqlite3.connect(db).execute("SELECT sum(size), sum(length(data)) FROM bodies").fetchone()
    return kept / raw


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--memory-pages", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--scrapyd-hosts", type=int, default=8)
    parser.add_argument("--scrapyd-pages", type=int, default=60)
    parser.add_argument("--scrapyd-delay", type=float, default=0.2)
    parser.add_argument("--scrapyd-only", action="store_true", help="Measure only the Scrapyd section.")
    parser.add_argument("--archive-pages", type=int, default=3000)
    parser.add_argument("--archive-only", action="store_true",
                        help="Measure only the archive's size: after a crawl, and its growth on a refresh.")
    parser.add_argument("--speed-only", action="store_true",
                        help="Measure only the per-page speed figures: throughput, CPU, extraction and reparse.")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--heavy", default="link-flood,jsonld-flood,text-flood,tag-flood,section-flood",
                        help="Heavy pages of the malicious replica to measure (comma-separated).")
    options = parser.parse_args()
    _reap_with_rusage()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        if options.speed_only:
            rows += speed_figures(directory, options)
            return report(rows, options, None)
        if options.archive_only:
            rows += archive_rows(archive_figures(directory, options.archive_pages, options.concurrency))
            return report(rows, options, None)
        if not options.scrapyd_only:
            # Children report at least this process's peak RSS (Linux keeps it across fork and exec),
            # so the memory figures are measured before anything here grows by working in-process.
            heavy = heavy_figures(directory, options)
            rows += core_figures(directory, options)
            rows += archive_rows(archive_figures(directory, options.archive_pages, options.concurrency))
            rows += heavy
        sites = scrapyd_sites(directory, options.scrapyd_hosts, options.scrapyd_pages, options.scrapyd_delay,
                          options.repeat)
    return report(rows, options, sites)


def report(rows: list, options: argparse.Namespace, sites: dict | None) -> int:
    """Print the table (and the Scrapyd line) and write it all as JSON."""
    if sites is not None:
        rows += scrapyd_rows(sites)
    machine = f"{platform.machine()}, {CORES} cores, Python {platform.python_version()}, {platform.system()}"
    print(f"\nglossary_spider benchmark · {options.pages} pages ({options.memory_pages} for memory and search) · "
          f"{options.repeat} runs each · concurrency {options.concurrency}\n{machine}\n")
    print("| figure | value | goal | met |\n| --- | --- | --- | --- |")
    for name, value, goal, met in rows:
        print(f"| {name} | {value:.3f} | {goal} | {'' if met is None else ('yes' if met else 'no')} |")
    if sites is not None:
        hosts, delay = sites["hosts"], sites["delay"]
        print(f"\nScrapyd: {hosts} replica hosts of {options.scrapyd_pages} pages, delay {delay} s: smallest gaps "
              f"{', '.join(f'{g:.3f}' for g in sites['smallest_gaps'])} s (medians "
              f"{', '.join(f'{g:.3f}' for g in sites['median_gaps'])} s); {sites['rate']:.1f} requests/s over the "
              f"{sites['overlap_seconds']:.1f} s all {hosts} were being crawled; CPU {sites['cpu_per_page'] * 1000:.0f} ms "
              f"per page as jobs ({sites['pages']} pages), {sites['alone_cpu_per_page'] * 1000:.0f} ms in one glossary "
              f"crawl of the same site ({sites['alone_pages']} pages), start-up included, extraction workers too if any")

    options.out.mkdir(parents=True, exist_ok=True)
    result = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(options).items()},
        "figures": {name: {"value": value, "goal": goal, "met": met} for name, value, goal, met in rows},
        **({"scrapyd": sites} if sites is not None else {}),
        **EXTRA,
    }
    name = (f"bench-{options.pages}-{options.memory_pages}.json"
            if not (options.scrapyd_only or options.speed_only or options.archive_only)
            else "bench-scrapyd.json" if options.scrapyd_only
            else f"bench-archive-{options.archive_pages}.json" if options.archive_only
            else f"bench-speed-{options.pages}.json")
    (options.out / name).write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"\nwritten to {options.out / name}")
    return 0


def scrapyd_rows(sites: dict) -> list:
    hosts, delay = sites["hosts"], sites["delay"]
    worst = min(sites["smallest_gaps"])
    return [
        (f"Scrapyd, {hosts} sites as {hosts} jobs: smallest gap ÷ delay (worst host)", worst / delay, "≥ 1.00",
         worst >= delay),
        (f"Scrapyd, {hosts} sites: requests/s ÷ ({hosts} ÷ delay)", sites["rate"] / (hosts / delay), "≥ 0.90",
         sites["rate"] >= 0.9 * hosts / delay),
        ("Scrapyd job CPU s/page ÷ one glossary crawl's", sites["cpu_ratio"], "≤ 1.20", sites["cpu_ratio"] <= 1.2),
    ]


EXTRA: dict = {}


def core_figures(directory: Path, options: argparse.Namespace) -> list:
    """Throughput, extraction, storage, refresh, memory and search, each against its baseline."""
    server = Server(options.pages)
    try:
        urls = urls_file(directory, server, options.pages)
        count = len(urls.read_text().splitlines())
        speed = throughput(directory, server, options.pages, count, options.repeat, options.concurrency)
        fresh = refresh_figures(speed["db"], speed["crawl_wall"], options.concurrency)
        size = archive_size(speed["db"])
        budget = max_pages_requests(directory, server)
    finally:
        server.stop()
    mem = memory(directory, options.memory_pages, options.pages, options.concurrency)  # before in-process work
    found = search(mem["db"], options.repeat)
    parse = extraction_vs_parse(options.pages, min(500, count))
    reparse = reparse_vs_parse(speed["db"], directory)
    costs = extraction_and_storage(options.pages, min(500, count))
    scores = corpus_scores()
    trapped = traps(directory)
    print(f"\nbare Scrapy: {speed['bare_pages_per_second']:.0f} pages/s; the replica server delivers "
          f"{speed['server_pages_per_cpu_second']:.0f} pages per CPU-second of its own, so it is not the bottleneck"
          if speed["server_pages_per_cpu_second"] > speed["bare_pages_per_second"] else
          f"\nwarning: the replica server ({speed['server_pages_per_cpu_second']:.0f} pages/CPU-s) may limit "
          f"bare Scrapy ({speed['bare_pages_per_second']:.0f} pages/s)")
    print(cpu_split(speed))
    print(f"corpus: {scores['ours_ms']:.1f} ms/page ours, {scores['trafilatura_ms']:.1f} ms/page trafilatura; "
          f"empty: ours {len(scores['ours_empty'])}, trafilatura {len(scores['trafilatura_empty'])}")
    print(f"peak RSS: {mem['peak_small'] / 2**20:.0f} MiB for {options.pages} pages, "
          f"{mem['peak_large'] / 2**20:.0f} MiB for {options.memory_pages}")
    EXTRA.update({
        "extraction_vs_parse": parse,
        "reparse": reparse,
        "throughput_pairs": speed["pairs"],
        "bare_pages_per_second": speed["bare_pages_per_second"],
        "server_pages_per_cpu_second": speed["server_pages_per_cpu_second"],
        "extraction": costs,
        "corpus": scores,
        "memory": {k: v for k, v in mem.items() if k != "db"},
        "traps": trapped,
    })
    print("requests per link trap (default settings): "
          + ", ".join(f"{name} {n}" for name, n in sorted(trapped["per_trap"].items())))
    return [
        *speed_rows(speed, parse, reparse),
        ("extraction ms/page", costs["extraction_ms"], "printed", None),
        ("extraction ÷ extruct.extract", costs["extraction_vs_extruct"], "printed", None),
        ("storage ms/page", costs["storage_ms"], "printed", None),
        (f"corpus F1, ours ({scores['pages']} real pages)", scores["ours"], "≥ trafilatura's",
         scores["ours"] >= scores["trafilatura"] and not scores["ours_empty"]),
        ("corpus F1, trafilatura (same pages, same run)", scores["trafilatura"], "printed", None),
        ("unchanged refresh time ÷ crawl", fresh["time_ratio"], "≤ 0.25", fresh["time_ratio"] <= 0.25),
        ("unchanged refresh bytes ÷ crawl", fresh["bytes_ratio"], "≤ 0.05", fresh["bytes_ratio"] <= 0.05),
        (f"peak RSS {options.memory_pages} ÷ {options.pages} pages", mem["ratio"], "≤ 1.25", mem["ratio"] <= 1.25),
        ("stored ÷ raw body bytes", size, "≤ 0.15", size <= 0.15),
        ("glossary search ÷ sqlite-utils search", found["ratio"], "≤ 2", found["ratio"] <= 2),
        ("most requests on one link trap (defaults)", trapped["most"], "≤ 50", trapped["most"] <= 50),
        ("longest legitimate chain archived (pages)", trapped["chain"], f"= {trapped['chain_length']}",
         trapped["chain"] == trapped["chain_length"]),
        ("requests ÷ page asked for, --max-pages 50", budget, "≤ 1.5", budget <= 1.5),
    ]


def speed_figures(directory: Path, options: argparse.Namespace) -> list:
    """The per-page speed figures alone (``--speed-only``): throughput and CPU against the bare spider,
    extraction against the parser, reparse against the parser."""
    server = Server(options.pages)
    try:
        urls = urls_file(directory, server, options.pages)
        count = len(urls.read_text().splitlines())
        speed = throughput(directory, server, options.pages, count, options.repeat, options.concurrency)
    finally:
        server.stop()
    parse = extraction_vs_parse(options.pages, min(500, count))
    reparse = reparse_vs_parse(speed["db"], directory)
    print(f"\nbare Scrapy: {speed['bare_pages_per_second']:.0f} pages/s; the replica server delivers "
          f"{speed['server_pages_per_cpu_second']:.0f} pages per CPU-second of its own")
    print(cpu_split(speed))
    EXTRA.update({"extraction_vs_parse": parse, "reparse": reparse, "throughput_pairs": speed["pairs"]})
    return speed_rows(speed, parse, reparse)


def speed_rows(speed: dict, parse: dict, reparse: dict) -> list:
    return [
        ("crawl throughput (÷ bare Scrapy)", speed["ratio"], "≥ 0.90", speed["ratio"] >= 0.90),
        ("crawl CPU s/page ÷ bare Scrapy's", speed["cpu_ratio"], "≤ 1.30", speed["cpu_ratio"] <= 1.3),
        (f"crawl throughput ceiling: its CPU and the replica's on {CORES} cores", speed["ceiling"], "printed", None),
        ("extract_page ÷ lxml.html.fromstring, replica pages (each page's best of 5)", parse["replica"]["ratio"],
         "≤ 5", parse["replica"]["ratio"] <= 5),
        ("extract_page ÷ lxml.html.fromstring, golden samples (each page's best of 5)", parse["samples"]["ratio"],
         "printed", None),
        ("the same, replica pages, whole loops (the best of 5 of each)", parse["replica"]["whole_loops"], "printed",
         None),
        (f"glossary reparse ({reparse['workers']} cores) ÷ one core's fromstring of every page", reparse["ratio"],
         "≤ 5", reparse["ratio"] <= 5),
    ]


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as exc:  # a command that failed, or a replica that did not start
        sys.exit(f"bench: {exc}")
