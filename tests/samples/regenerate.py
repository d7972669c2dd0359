"""Regenerate the golden samples: replica pages and what extraction makes of them.

    python tests/samples/regenerate.py

Review the diff of the .json files like code: each is the expected record.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from glossary_spider.extraction import extract_page
from glossary_spider.replica import ReplicaSite

HERE = Path(__file__).parent
BASE = "https://term.greeks.live"


def pick(site: ReplicaSite) -> dict[str, str]:
    """One sample page per page type and theme, plus the odd ones out."""
    chosen = {"seed-definition": "/definition/international-legal-cooperation/"}
    documents = {path: site.document(path, BASE) for path in site.glossary_paths()}
    for path, doc in documents.items():
        post = site.posts.get(path)
        wanted = [f"{doc['kind']}-{doc['theme']}"]
        if doc["charset"] != "utf-8":
            wanted.append(f"{doc['kind']}-windows-1252")
        if post and site._jsonld_style(post) in ("broken", "graph"):
            wanted.append(f"{doc['kind']}-jsonld-{site._jsonld_style(post)}")
        for name in wanted:
            if name not in chosen and path not in chosen.values():
                chosen[name] = path
    return dict(sorted(chosen.items()))


def expected(html: bytes, url: str) -> dict:
    extraction = extract_page(html, url)
    return json.loads(json.dumps({"record": extraction.record, "errors": extraction.errors}, ensure_ascii=False))


def main() -> None:
    site = ReplicaSite(200)
    for name, path in pick(site).items():
        body = site.render(path, BASE).body
        (HERE / f"{name}.html").write_bytes(body)
        data = {"url": BASE + path, **expected(body, BASE + path)}
        (HERE / f"{name}.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(name, path, file=sys.stderr)


if __name__ == "__main__":
    main()
