"""``make demo``: serve the replica, crawl it, refresh it after the site changes, show what to try next."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

EXAMPLES = """
Try these next:

  glossary search "funding rate" --db {db} --limit 5
  glossary show international-legal-cooperation --db {db}
  glossary report --db {db}
  sqlite3 {db} "SELECT url, version, last_changed FROM pages WHERE version > 1"
"""


def glossary(*args: str) -> int:
    return subprocess.call([sys.executable, "-m", "glossary_spider", *args])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="data/demo.db")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pages", type=int, default=200)
    options = parser.parse_args()

    db = Path(options.db)
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "glossary_spider", "replica", "--port", str(options.port), "--pages",
         str(options.pages)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        line = server.stdout.readline() if server.stdout else ""
        match = re.search(r"(http://[\d.]+:\d+)/", line)
        if not match:
            print(f"the replica did not start: {line}", file=sys.stderr)
            return 1
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
        print(EXAMPLES.format(db=db))
        return 0
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
