"""Serve a :class:`ReplicaSite` over HTTP on loopback with Twisted's web server.

Replies carry proper content types, ``ETag`` and ``Last-Modified``, and answer
conditional requests with 304. Every request can be logged as a JSON line, so
tests can prove what a crawl did and did not ask for. ``POST /_replica/generation``
with a number as its body moves the site to that generation; ``POST /_replica/mode``
with one of :data:`glossary_spider.replica.modes.MODES` makes it misbehave that way.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from typing import IO, Any

from twisted.internet import reactor
from twisted.web import resource, server

from glossary_spider.replica.modes import MODES, misbehave
from glossary_spider.replica.site import MAX_GENERATION, ReplicaSite

CONTROL_PATH = b"/_replica/generation"
MODE_PATH = b"/_replica/mode"


class ReplicaResource(resource.Resource):
    isLeaf = True

    def __init__(self, site: ReplicaSite, log: IO[str] | None = None, mode: str = "normal"):
        super().__init__()
        self.site = site
        self.log = log
        self.mode = mode

    def render(self, request: Any) -> Any:
        request.arrived = time.time()  # the log's time: when the request came, not when its reply was ready
        return super().render(request)

    def render_GET(self, request: Any) -> bytes:
        path = request.path.decode("utf-8", "replace")
        host = (request.getHeader(b"host") or b"127.0.0.1").decode("latin-1")
        reply = misbehave(self.mode, self.site.render(path, f"http://{host}"), path)
        status, body = reply.status, reply.body
        request.setHeader(b"Content-Type", reply.content_type.encode())
        for name, value in reply.headers.items():
            request.setHeader(name.encode(), value.encode())
        if status == 200:
            tag = reply.etag
            request.setHeader(b"ETag", tag.encode())
            if reply.last_modified:
                request.setHeader(b"Last-Modified", reply.last_modified_http.encode())
            # If-None-Match, when sent, decides alone (RFC 9110, 13.2.2).
            if request.getHeader(b"if-none-match") is not None:
                not_modified = request.setETag(tag.encode())
            else:
                not_modified = reply.last_modified and request.setLastModified(reply.last_modified.timestamp())
            if not_modified:
                status, body = 304, b""
        request.setResponseCode(status)
        self.log_request(request, path, status)
        return body if request.method != b"HEAD" else b""

    render_HEAD = render_GET

    def render_POST(self, request: Any) -> bytes:
        if request.path == MODE_PATH:
            mode = request.content.read().strip().decode("latin-1")
            if mode not in MODES:
                request.setResponseCode(400)
                return f"mode must be one of {', '.join(MODES)}\n".encode()
            self.mode = mode
            self.log_request(request, request.path.decode(), 200)
            return f"mode {mode}\n".encode()
        if request.path != CONTROL_PATH:
            request.setResponseCode(405)
            return b"Method Not Allowed"
        try:
            generation = int(request.content.read(32).strip() or 1)
            if not 1 <= generation <= MAX_GENERATION:
                raise ValueError
        except ValueError:
            request.setResponseCode(400)
            return f"generation must be a whole number from 1 to {MAX_GENERATION}\n".encode()
        self.site = ReplicaSite(self.site.size, generation, self.site.seed, datetime.now(timezone.utc),
                                moved_from=self.site.generation)
        self.log_request(request, request.path.decode(), 200)
        return f"generation {generation}\n".encode()

    def log_request(self, request: Any, path: str, status: int) -> None:
        if self.log is None:
            return
        entry = {
            "method": request.method.decode(),
            "path": path,
            "query": request.uri.decode("latin-1").partition("?")[2],
            "host": (request.getHeader(b"host") or b"").decode("latin-1"),
            "status": status,
            "user_agent": (request.getHeader(b"user-agent") or b"").decode("latin-1"),
            "if_none_match": (request.getHeader(b"if-none-match") or b"").decode("latin-1") or None,
            "if_modified_since": (request.getHeader(b"if-modified-since") or b"").decode("latin-1") or None,
            "generation": self.site.generation,
            "time": round(getattr(request, "arrived", None) or time.time(), 4),
        }
        self.log.write(json.dumps(entry) + "\n")
        self.log.flush()


def serve(
    pages: int = 200,
    port: int = 8000,
    host: str = "127.0.0.1",
    generation: int = 1,
    log: IO[str] | None = None,
    out: IO[str] = sys.stdout,
    faults: bool = False,
    robots: str = "normal",
    mode: str = "normal",
    attack: str | None = None,
) -> None:
    """Serve the replica until the process is stopped; prints its URL once listening.

    With ``faults`` the hostile replica is served (:mod:`glossary_spider.replica.faults`),
    its robots.txt misbehaving as ``robots`` says; with ``attack`` the malicious one
    (:mod:`glossary_spider.replica.attacks`), making that attack.
    """
    site = ReplicaSite(pages, generation, edited_at=datetime.now(timezone.utc) if generation > 1 else None)
    if attack:
        from glossary_spider.replica.attacks import AttackReplicaResource

        root: ReplicaResource = AttackReplicaResource(site, log, attack)
    elif faults:
        from glossary_spider.replica.faults import FaultyReplicaResource

        root: ReplicaResource = FaultyReplicaResource(site, log, robots)
    else:
        root = ReplicaResource(site, log)
    root.mode = mode
    listening = reactor.listenTCP(port, server.Site(root, logPath=None), interface=host)
    kind = f", attack {attack}" if attack else f", with faults, robots.txt {robots}" if faults else ""
    kind += f", {mode} mode" if mode != "normal" else ""
    netloc = f"[{host}]" if ":" in host else host  # an IPv6 address, as a URL writes it
    out.write(f"Serving the replica ({pages} pages, generation {generation}{kind}) at "
              f"http://{netloc}:{listening.getHost().port}/\n")
    out.flush()
    reactor.run()
