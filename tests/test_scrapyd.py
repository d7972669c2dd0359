"""The project on a real Scrapyd: deployed with scrapyd-deploy, every run scheduled through schedule.json
(once through scrapyd-client schedule, as the README's cron lines do)."""

from __future__ import annotations

import shutil
import time

import pytest
from conftest import ROOT, archive_content, crawl, rows, run_glossary
from scrapyd_node import ScrapydNode

from glossary_spider.lock import holder

FAST = {"delay": 0, "concurrency": 8}


@pytest.fixture(scope="module")
def scrapyd(tmp_path_factory):
    node = ScrapydNode(tmp_path_factory.mktemp("scrapyd"))
    try:
        deployed = node.deploy()
        assert deployed.returncode == 0, deployed.stderr
        assert '"spiders": 1' in deployed.stderr + deployed.stdout
        yield node
    finally:
        node.stop()


def pages(db):
    return rows(db, "SELECT url, content_hash FROM pages ORDER BY url")


def test_a_scheduled_crawl_and_refresh_leave_the_archives_the_command_line_does(scrapyd, make_replica, tmp_path):
    server = make_replica(60)
    start = {"start_urls": f"{server.url}/", "sitemap_urls": f"{server.url}/sitemap_index.xml"}
    by_command, by_job = tmp_path / "command.db", tmp_path / "job.db"
    assert crawl(by_command, "--start-url", start["start_urls"], "--sitemap", start["sitemap_urls"]).returncode == 0
    job = scrapyd.schedule(f"GLOSSARY_DB={by_job}", **start, **FAST)
    scrapyd.wait(job)
    assert pages(by_job) == pages(by_command) and len(pages(by_job)) > 60
    (run,) = rows(by_job, "SELECT * FROM crawl_runs")
    assert (run["outcome"], run["exit_status"], run["job_id"]) == ("done", 0, job)
    assert '"start_urls": ["%s/"]' % server.url in run["args"] and '"delay": 0.0' in run["args"]

    server.set_generation(2)
    refreshed = run_glossary("refresh", "--db", str(by_command), "--delay", "0", "--concurrency", "8", "--no-progress")
    assert refreshed.returncode == 0, refreshed.stderr
    job = scrapyd.schedule_with_client(f"setting=GLOSSARY_DB={by_job}", "mode=refresh", "delay=0", "concurrency=8")
    scrapyd.wait(job)
    assert archive_content(by_job) == archive_content(by_command)
    counts = "SELECT command, outcome, pages_new, pages_changed, pages_gone FROM crawl_runs ORDER BY id"
    assert rows(by_job, counts) == rows(by_command, counts)
    assert rows(by_job, "SELECT job_id FROM crawl_runs WHERE command = 'refresh'") == [{"job_id": job}]


def test_a_job_log_names_the_archive_it_writes(scrapyd, make_replica):
    """A job without the GLOSSARY_DB setting wrote the default data/glossary.db, relative to Scrapyd's working
    directory, and its log never said so (nor any job's which archive it wrote)."""
    server = make_replica(40)
    data = scrapyd.directory / "data"
    data.mkdir()
    try:
        job = scrapyd.schedule(start_urls=f"{server.url}/", follow=0, **FAST)
        scrapyd.wait(job)
        log = scrapyd.job_log(job)
        assert f"INFO: Crawl #1 of {data / 'glossary.db'}\n" in log
        assert "not the egg deployed" not in log  # an editable install's finder comes after the egg: it runs
        assert rows(data / "glossary.db", "SELECT id, job_id, outcome FROM crawl_runs") == [
            {"id": 1, "job_id": job, "outcome": "done"}]
    finally:
        shutil.rmtree(data)


def test_a_job_that_runs_another_copy_than_the_egg_deployed_says_so(make_replica, tmp_path):
    """Scrapyd puts a deployed egg after its environment's packages: where the project is installed there (by pip,
    not as an editable install, whose finder comes after the egg), jobs ran that copy, and a deploy changed nothing,
    without a word. Here the checkout comes first on the import path (PYTHONPATH), as such a copy does."""
    node = ScrapydNode(tmp_path / "node", max_proc=1, env={"PYTHONPATH": str(ROOT)})
    try:
        assert node.deploy().returncode == 0
        server = make_replica(40)
        job = node.schedule(f"GLOSSARY_DB={tmp_path / 'copy.db'}", start_urls=f"{server.url}/", follow=0, **FAST)
        node.wait(job)
        log = node.job_log(job)
        assert f"WARNING: This job runs glossary_spider from {ROOT / 'glossary_spider'}, not the egg deployed to " \
               f"Scrapyd ({node.directory / 'eggs' / 'glossary_spider'}/" in log, log
        assert rows(tmp_path / "copy.db", "SELECT outcome FROM crawl_runs") == [{"outcome": "done"}]
    finally:
        node.stop()


def test_two_sites_crawl_side_by_side_each_at_its_own_pace(scrapyd, make_replica, tmp_path):
    delays = (0.05, 0.15)
    sites = [make_replica(40, host=host) for host in ("127.0.0.2", "127.0.0.3")]
    jobs = [scrapyd.schedule(f"GLOSSARY_DB={tmp_path / f'site-{i}.db'}", start_urls=f"{site.url}/",
                             sitemap_urls=f"{site.url}/sitemap_index.xml", delay=delay)
            for i, (site, delay) in enumerate(zip(sites, delays))]
    scrapyd.wait(*jobs)
    spans = []
    for i, (site, delay) in enumerate(zip(sites, delays)):
        times = sorted(r["time"] for r in site.requests())
        # Each host at its own pace. Requests leave Scrapy at least `delay` apart; on a loaded machine one
        # can reach the replica late, shortening the next gap as the replica sees it, but never the
        # average: load only slows a crawl down.
        gaps = sorted(b - a for a, b in zip(times, times[1:]))
        assert times[-1] - times[0] >= (len(times) - 1) * delay and gaps[len(gaps) // 2] >= delay * 0.95
        spans.append((times[0], times[-1]))
        plain = tmp_path / f"plain-{i}.db"
        assert crawl(plain, "--start-url", f"{site.url}/", "--sitemap", f"{site.url}/sitemap_index.xml").returncode == 0
        assert pages(tmp_path / f"site-{i}.db") == pages(plain)
    assert max(s for s, _ in spans) < min(e for _, e in spans)  # both at once


def test_a_second_job_on_one_archive_fails_fast_and_the_check_says_so(scrapyd, make_replica, tmp_path):
    server = make_replica(40)
    db = tmp_path / "one.db"
    # Slow enough (40 pages, 0.3 s apart) to be running still when a loaded machine starts the second job.
    first = scrapyd.schedule(f"GLOSSARY_DB={db}", start_urls=f"{server.url}/", delay=0.3)
    deadline = time.monotonic() + 60
    while holder(db) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    # Runs are ordered by the second they started in (of two in one second, the one that ended later
    # is the later): the second job starts in a later second than the first, which holds the lock.
    time.sleep(1)
    second = scrapyd.schedule(f"GLOSSARY_DB={db}", start_urls=f"{server.url}/", delay=0.1)
    scrapyd.wait(second, timeout=60)
    assert holder(db) is not None, "the first job should still be running"
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 3 and "locked" in check.stderr and second in check.stderr, check
    assert "is locked by another writer" in scrapyd.job_log(second)
    assert "Traceback" not in scrapyd.job_log(second)

    scrapyd.wait(first)
    listed = rows(db, "SELECT job_id, outcome, exit_status FROM crawl_runs ORDER BY id")
    assert listed == [{"job_id": first, "outcome": "done", "exit_status": 0},
                      {"job_id": second, "outcome": "locked", "exit_status": 3}]
    # The first job ended after the second was refused: --check judges the run that ended last.
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 0 and f"ok: crawl #1 (job {first}) done" in check.stdout, check


def test_a_bad_argument_ends_the_job_with_one_line_and_a_refused_run(scrapyd, make_replica, tmp_path):
    server = make_replica(40)
    db = tmp_path / "bad.db"
    assert crawl(db, "--start-url", f"{server.url}/area/funding/", "--no-follow").returncode == 0
    before = shutil.copy(db, tmp_path / "before.db")
    server.clear_log()
    job = scrapyd.schedule(f"GLOSSARY_DB={db}", start_urls=f"{server.url}/", max_pages="ten")
    scrapyd.wait(job)
    log = scrapyd.job_log(job)
    assert [line for line in log.splitlines() if "ERROR" in line][0].endswith(
        "max_pages must be a whole number, not 'ten'")
    assert "Traceback" not in log and server.requests() == []
    (refused,) = rows(db, "SELECT outcome, exit_status, job_id, error FROM crawl_runs WHERE id = 2")
    assert refused == {"outcome": "bad_input", "exit_status": 2, "job_id": job,
                       "error": "max_pages must be a whole number, not 'ten'"}
    assert archive_content(db) == archive_content(before)


def test_a_cancelled_job_stops_early_and_a_job_with_resume_finishes_the_crawl(scrapyd, make_replica, tmp_path):
    """cancel.json is how an operator stops a job: Scrapyd sends it SIGINT. The run ends as one stopped
    early (exit status 1, which runs --check reports), with what it fetched kept, and a job scheduled
    with resume=1 fetches the rest and no page twice, as `glossary crawl --resume` would."""
    server = make_replica(200)
    db = tmp_path / "cancelled.db"
    job = scrapyd.schedule(f"GLOSSARY_DB={db}", start_urls=f"{server.url}/", delay=0.02, concurrency=2)
    deadline = time.monotonic() + 60
    while len(server.requests()) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert scrapyd.cancel(job)["prevstate"] == "running"
    scrapyd.wait(job, timeout=60)
    assert "Traceback" not in scrapyd.job_log(job)
    (stopped,) = rows(db, "SELECT finish_reason, outcome, exit_status, job_id FROM crawl_runs")
    assert stopped == {"finish_reason": "shutdown", "outcome": "failed", "exit_status": 1, "job_id": job}
    check = run_glossary("runs", "--db", str(db), "--check")
    assert check.returncode == 1 and job in check.stderr, check
    before = server.requests()
    fetched = {r["path"] for r in before}

    resumed = scrapyd.schedule(f"GLOSSARY_DB={db}", resume=1)
    scrapyd.wait(resumed)
    assert f"INFO: Crawl #1 of {db}, resumed\n" in scrapyd.job_log(resumed)
    assert rows(db, "SELECT id, finish_reason, exit_status, job_id FROM crawl_runs") == [
        {"id": 1, "finish_reason": "finished", "exit_status": 0, "job_id": resumed}]
    again = [r["path"] for r in server.requests()[len(before):] if r["path"] in fetched]
    assert len(again) <= 3 and again.count("/robots.txt") == 1, again  # robots.txt; what was in flight
    plain = tmp_path / "plain.db"
    assert crawl(plain, "--start-url", f"{server.url}/").returncode == 0
    assert pages(db) == pages(plain)
