"""make demo: a stable address, and next steps a new user can paste."""

import shlex
import socket
import subprocess
import sys

import pytest
from conftest import ROOT, rows

from glossary_spider.demo import DEMO_PORT


def test_the_demo_has_a_stable_address_and_runnable_next_steps(tmp_path):
    """Issue 14 items 8 and 13: the demo's URLs carried a random port, and its 'Try these next'
    said 'glossary …', which is not on PATH after make demo."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", DEMO_PORT)) == 0:
            pytest.skip(f"port {DEMO_PORT} is in use here")
    db = tmp_path / "demo.db"
    result = subprocess.run([sys.executable, "-m", "glossary_spider.demo", "--db", str(db), "--pages", "40"],
                            cwd=ROOT, capture_output=True, text=True, timeout=180, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    urls = {r["url"].split("/")[2] for r in rows(db, "SELECT url FROM pages")}
    assert urls == {f"127.0.0.1:{DEMO_PORT}"}
    tries = [line.strip() for line in result.stdout.split("Try these next:")[1].splitlines() if line.strip()]
    search = next(line for line in tries if " search " in line)
    done = subprocess.run(shlex.split(search), cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, (search, done.stderr)
