"""``make demo``: serve the replica, crawl it, refresh it after the site changes, show what to try next."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

# A fixed port, so that the demo archive's URLs stay the same from one `make demo` to the next.
DEMO_PORT = 8010

EXAMPLES = """
Try these next:

  {glossary} search "funding rate" --db {db} --limit 5
  {glossary} show international-legal-cooperation --db {db}
  {glossary} report --db {db}
  {glossary} browse --db {db}
  sqlite3 {db} "SELECT url, version, last_changed FROM pages WHERE version > 1"
"""


def glossary_command() -> str:
    """How to run ``glossary`` from here: by name if it is on PATH, else by its path in the virtualenv."""
    installed = Path(sys.executable).parent / "glossary"
    if shutil.which("glossary") == str(installed) or not installed.exists():
        return "glossary"
    try:
        return os.path.relpath(installed)
    except ValueError:
        return str(installed)


def glossary(*args: str) -> int:
    return subprocess.call([sys.executable, "-m", "glossary_spider", *args])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="data/demo.db")
    parser.add_argument("--port", type=int, default=DEMO_PORT)
    parser.add_argument("--pages", type=int, default=200)
    options = parser.parse_args()

    db = Path(options.db)
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "glossary_spider", "replica", "--port", str(options.port), "--pages",
         str(options.pages)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,  # its one error is said below
    )
    try:
        line = server.stdout.readline() if server.stdout else ""
        match = re.search(r"(http://[\d.]+:\d+)/", line)
        if not match:
            print(f"Error: the replica did not start on port {options.port}: choose another with "
                  f"'make demo DEMO_PORT=N'", file=sys.stderr)
            return 2
        url = match.group(1)
        print(line.strip())
        print(f"\n== Crawling the replica into {db}\n")
        status = glossary("crawl", "--db", str(db), "--start-url", f"{url}/", "--sitemap",
                          f"{url}/sitemap_index.xml", "--delay", "0", "--concurrency", "8")
        if status != 0:
            return status
        print("\n== The site moves on to generation 2: pages edited, added and deleted\n")
        urllib.request.urlopen(urllib.request.Request(f"{url}/_replica/generation", data=b"2")).read()
        status = glossary("refresh", "--db", str(db), "--delay", "0", "--concurrency", "8")
        if status != 0:
            return status
        print(EXAMPLES.format(db=db, glossary=glossary_command()))
        return 0
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
