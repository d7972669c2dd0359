"""`make bench`: what extraction and storage cost on top of Scrapy, measured in one run.

Serves the replica on loopback, runs each measured command several times
interleaved with its baseline, prints a table of ratios and writes it as JSON
under benchmarks/results/. Figures are ratios against a baseline measured in the
same run, so they compare across machines better than raw times do.

    python benchmarks/bench.py                      # 5,000 pages; 50,000 for memory and search
    python benchmarks/bench.py --pages 100 --memory-pages 200 --repeat 1   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Server:
    """The replica in its own process, with its CPU time readable."""

    def __init__(self, pages: int):
        self.process = subprocess.Popen(
            [PYTHON, "-m", "glossary_spider", "replica", "--port", "0", "--pages", str(pages)],
            stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )
        line = self.process.stdout.readline()
        self.url = re.search(r"(http://[\d.]+:\d+)", line).group(1)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def run(command: list[str], ok: tuple[int, ...] = (0,)) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in bytes, and standard output of a whole process (exiting with one of ``ok``)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate()
    wall = time.perf_counter() - started
    if process.returncode not in ok:
        raise RuntimeError(f"{' '.join(command)} failed:\n{err[-2000:]}")
    return wall, peak_rss(process.pid), out


_RSS: dict[int, int] = {}


def peak_rss(pid: int) -> int:
    return _RSS.get(pid, 0)


def _reap_with_rusage() -> None:
    """Record each child's peak RSS as it exits (os.wait4 gives it per child)."""
    original = subprocess.Popen._try_wait

    def try_wait(self, wait_flags):
        pid, status, usage = os.wait4(self.pid, wait_flags)
        if pid:
            _RSS[pid] = usage.ru_maxrss * 1024
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


def throughput(directory: Path, server: Server, urls: Path, count: int, repeat: int, concurrency: int) -> dict:
    pairs, server_rates, last_db, last_wall = [], [], None, 0.0
    for i in range(repeat):
        order = ["bare", "ours"] if i % 2 == 0 else ["ours", "bare"]
        rates = {}
        for which in order:
            if which == "bare":
                cpu = server.cpu_seconds()
                wall, _, out = run([PYTHON, str(ROOT / "benchmarks" / "bare_spider.py"), str(urls), str(concurrency)])
                served = server.cpu_seconds() - cpu
                fetched = int(out.strip().splitlines()[-1])
                rates["bare"] = fetched / wall
                server_rates.append(fetched / max(served, 1e-6))
            else:
                last_db = directory / f"crawl-{i}.db"
                wall, _, _ = run(crawl_command(last_db, server, concurrency))
                archived = sqlite3.connect(last_db).execute("SELECT count(*) FROM pages").fetchone()[0]
                assert archived == count, f"archived {archived} of {count} pages"
                rates["ours"], last_wall = archived / wall, wall
        pairs.append(rates)
    return {
        "pairs": pairs,
        "ratio": statistics.median(p["ours"] / p["bare"] for p in pairs),
        "server_pages_per_cpu_second": statistics.median(server_rates),
        "bare_pages_per_second": statistics.median(p["bare"] for p in pairs),
        "db": last_db,
        "crawl_wall": last_wall,
    }


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


def archive_size(db: Path) -> float:
    raw, kept = sqlite3.connect(db).execute("SELECT sum(size), sum(length(data)) FROM bodies").fetchone()
    return kept / raw


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--memory-pages", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    options = parser.parse_args()
    _reap_with_rusage()

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        server = Server(options.pages)
        try:
            urls = urls_file(directory, server, options.pages)
            count = len(urls.read_text().splitlines())
            speed = throughput(directory, server, urls, count, options.repeat, options.concurrency)
            fresh = refresh_figures(speed["db"], speed["crawl_wall"], options.concurrency)
            size = archive_size(speed["db"])
            budget = max_pages_requests(directory, server)
        finally:
            server.stop()
        costs = extraction_and_storage(options.pages, min(500, count))
        mem = memory(directory, options.memory_pages, options.pages, options.concurrency)
        found = search(mem["db"], options.repeat)

    rows = [
        ("crawl throughput (÷ bare Scrapy)", speed["ratio"], "≥ 0.90", speed["ratio"] >= 0.90),
        ("extraction ms/page", costs["extraction_ms"], "printed", None),
        ("extraction ÷ extruct.extract", costs["extraction_vs_extruct"], "printed", None),
        ("storage ms/page", costs["storage_ms"], "printed", None),
        ("unchanged refresh time ÷ crawl", fresh["time_ratio"], "≤ 0.25", fresh["time_ratio"] <= 0.25),
        ("unchanged refresh bytes ÷ crawl", fresh["bytes_ratio"], "≤ 0.05", fresh["bytes_ratio"] <= 0.05),
        (f"peak RSS {options.memory_pages} ÷ {options.pages} pages", mem["ratio"], "≤ 1.25", mem["ratio"] <= 1.25),
        ("stored ÷ raw body bytes", size, "≤ 0.15", size <= 0.15),
        ("glossary search ÷ sqlite-utils search", found["ratio"], "≤ 2", found["ratio"] <= 2),
        ("requests ÷ page asked for, --max-pages 50", budget, "≤ 1.5", budget <= 1.5),
    ]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"
    print(f"\nglossary_spider benchmark · {options.pages} pages ({options.memory_pages} for memory and search) · "
          f"{options.repeat} runs each · concurrency {options.concurrency}\n{machine}\n")
    print("| figure | value | goal | met |\n| --- | --- | --- | --- |")
    for name, value, goal, met in rows:
        print(f"| {name} | {value:.3f} | {goal} | {'' if met is None else ('yes' if met else 'no')} |")
    print(f"\nbare Scrapy: {speed['bare_pages_per_second']:.0f} pages/s; the replica server delivers "
          f"{speed['server_pages_per_cpu_second']:.0f} pages per CPU-second of its own, so it is not the bottleneck"
          if speed["server_pages_per_cpu_second"] > speed["bare_pages_per_second"] else
          f"\nwarning: the replica server ({speed['server_pages_per_cpu_second']:.0f} pages/CPU-s) may limit "
          f"bare Scrapy ({speed['bare_pages_per_second']:.0f} pages/s)")
    print(f"peak RSS: {mem['peak_small'] / 2**20:.0f} MiB for {options.pages} pages, "
          f"{mem['peak_large'] / 2**20:.0f} MiB for {options.memory_pages}")

    options.out.mkdir(parents=True, exist_ok=True)
    result = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(options).items()},
        "figures": {name: {"value": value, "goal": goal, "met": met} for name, value, goal, met in rows},
        "throughput_pairs": speed["pairs"],
        "bare_pages_per_second": speed["bare_pages_per_second"],
        "server_pages_per_cpu_second": speed["server_pages_per_cpu_second"],
        "extraction": costs,
        "memory": {k: v for k, v in mem.items() if k != "db"},
    }
    name = f"bench-{options.pages}-{options.memory_pages}.json"
    (options.out / name).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten to {options.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
