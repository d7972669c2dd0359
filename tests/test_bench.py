"""A smoke run of the benchmark at tiny sizes, so that it cannot rot. No timing is asserted."""

import json
import subprocess
import sys

from conftest import ROOT


def test_the_benchmark_runs_and_reports_every_figure(tmp_path):
    result = subprocess.run(
        [sys.executable, "benchmarks/bench.py", "--pages", "60", "--memory-pages", "80", "--repeat", "1",
         "--scrapyd-hosts", "1", "--scrapyd-pages", "40", "--scrapyd-delay", "0.01", "--heavy", "tag-flood",
         "--archive-pages", "200", "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads((tmp_path / "bench-60-80.json").read_text())["figures"]
    for wanted in ("crawl throughput", "corpus F1, ours", "corpus F1, trafilatura", "most requests on one link trap",
                   "longest legitimate chain", "requests ÷ page asked for", "Scrapyd, ", "heavy page: peak RSS",
                   "heavy page: archive growth", "crawl CPU", "extract_page ÷ lxml.html.fromstring",
                   "glossary reparse", "crawl throughput ceiling", "archive bytes ÷ raw HTML bytes",
                   "archive growth per edited page"):
        assert any(name.startswith(wanted) for name in figures), wanted
    for name, figure in figures.items():
        assert figure["value"] > 0, name
        assert name in result.stdout
