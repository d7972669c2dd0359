"""A real Scrapyd on a free loopback port, in its own directory, with the project deployed by scrapyd-deploy.

Used by tests/test_scrapyd.py and by benchmarks/bench.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROJECT = "glossary_spider"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ScrapydNode:
    def __init__(self, directory: Path, max_proc: int = 8, env: dict[str, str] | None = None):
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"  # no trailing slash: scrapyd-client appends "/<action>.json"
        # A short poll interval: jobs start within 0.2 s of being scheduled (the default waits up to 5 s).
        (directory / "scrapyd.conf").write_text(
            f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {self.port}\npoll_interval = 0.2\n"
            f"max_proc = {max_proc}\neggs_dir = eggs\nlogs_dir = logs\ndbs_dir = dbs\nitems_dir =\n"
        )
        self.log = open(directory / "scrapyd.out", "w")
        self.process = subprocess.Popen([str(BIN / "scrapyd")], cwd=directory, stdout=self.log,
                                        stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 60
        while True:
            try:
                self.get("daemonstatus.json")
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"scrapyd did not start: {(directory / 'scrapyd.out').read_text()}")
                time.sleep(0.2)

    def deploy(self) -> subprocess.CompletedProcess:
        """``scrapyd-deploy env`` from the project root: the target whose URL is $SCRAPYD_URL."""
        return subprocess.run([str(BIN / "scrapyd-deploy"), "env"], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "SCRAPYD_URL": self.url}, timeout=300)

    def get(self, action: str, **params: str) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/{action}{query}", timeout=30) as reply:
            return json.loads(reply.read())

    def schedule(self, *settings: str, **arguments: object) -> str:
        """schedule.json: spider arguments as keyword arguments, settings as ``NAME=value`` strings."""
        fields = [("project", PROJECT), ("spider", "glossary"), *(("setting", s) for s in settings),
                  *((k, str(v)) for k, v in arguments.items())]
        with urllib.request.urlopen(f"{self.url}/schedule.json", urllib.parse.urlencode(fields).encode(),
                                    timeout=30) as reply:
            answer = json.loads(reply.read())
        assert answer["status"] == "ok", answer
        return answer["jobid"]

    def schedule_with_client(self, *arguments: str) -> str:
        """``scrapyd-client schedule`` as an operator's cron line runs it (``--arg name=value`` each)."""
        done = subprocess.run([str(BIN / "scrapyd-client"), "schedule", "-t", "env", "-p", PROJECT, "glossary",
                               *(f"--arg={a}" for a in arguments)], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "SCRAPYD_URL": self.url}, timeout=120)
        assert done.returncode == 0 and "=> " in done.stdout, (done.stdout, done.stderr)
        return done.stdout.rsplit("=> ", 1)[1].strip()

    def cancel(self, job_id: str) -> dict:
        """cancel.json: Scrapyd sends the job's process SIGINT."""
        fields = urllib.parse.urlencode({"project": PROJECT, "job": job_id}).encode()
        with urllib.request.urlopen(f"{self.url}/cancel.json", fields, timeout=30) as reply:
            return json.loads(reply.read())

    def jobs(self) -> dict:
        return self.get("listjobs.json", project=PROJECT)

    def wait(self, *job_ids: str, timeout: float = 240) -> list[dict]:
        """Wait until every job has finished; returns their listjobs.json entries."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            finished = {job["id"]: job for job in self.jobs()["finished"]}
            if all(job in finished for job in job_ids):
                return [finished[job] for job in job_ids]
            time.sleep(0.2)
        raise TimeoutError(f"jobs {job_ids} did not finish: {self.jobs()}")

    def job_log(self, job_id: str) -> str:
        return (self.directory / "logs" / PROJECT / "glossary" / f"{job_id}.log").read_text()

    def children_cpu_seconds(self) -> float:
        """CPU seconds of the job processes Scrapyd has started and reaped so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()
