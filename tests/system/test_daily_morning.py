"""playbooks/daily.yml (morning) against a deployed service: passes, then fails naming host and checks.
The midday cache warming (--tags midday) too, checked with redis-py and the service's X-Cache answers.
Some runs launch the AWX job templates (playbooks/vars/schedule.yml) through ansible-runner, as AWX does."""
import datetime
import os
import re
import time

import redis
import requests

from tests.support import runner
# The performance entry point of the role, on this module's deployment (see the module's docstring).
from tests.system.performance_report_case import (  # noqa: F401  pylint: disable=unused-import
    test_report_p95_per_route_agrees_with_the_latencies_measured_here)


def morning_result(run, host):
    """The report of `host` from its health_check run, which reports the one host it checked in `hosts`."""
    result = run.task_results("Run the morning health checks")[host]
    if result.get("skipped"):
        return result
    assert [report["host"] for report in result["hosts"]] == [host] and set(result) >= {"ok", "summary", "failed_hosts"}
    return result["hosts"][0]


def test_morning_checks_pass_on_healthy_host(deployment):
    run = deployment.play("playbooks/daily.yml", tags="daily_operations_morning",
                          extra_vars={"daily_operations_morning_checks": ["health", "metrics", "redis", "disk", "memory"]})
    assert run.rc == 0, run
    result = morning_result(run, deployment.host)
    assert result["ok"] is True
    verdicts = {check["name"]: check["verdict"] for check in result["checks"]}
    assert verdicts["health"] == "ok"
    assert verdicts["metrics"] == "ok"
    assert verdicts["redis"] == "ok"
    assert verdicts["memory"] == "ok"
    assert any(name.startswith("disk:") for name in verdicts)
    assert run.changed() == 0


def test_summary_lists_a_skipped_check_apart_from_the_passed_ones(deployment):
    """Without a Redis URL the redis check is skipped: the summary must not count it as passed."""
    run = deployment.play("playbooks/daily.yml", tags="daily_operations_morning",
                          extra_vars={"daily_operations_morning_checks": ["health", "redis", "memory"],
                                      "daily_operations_redis_url": ""})
    assert run.rc == 0, run
    assert {c["name"]: c["verdict"] for c in morning_result(run, deployment.host)["checks"]} == {
        "health": "ok", "redis": "skipped", "memory": "ok"}
    lines = next(iter(run.task_results("Summarise the morning checks of every host in the play").values()))["msg"]
    # Each passed check with the figure behind it (latency, MB of the limit); the skipped one apart.
    line = next(line for line in lines if line.startswith("  %s: ok - " % deployment.host))
    assert re.match(r"^  %s: ok - health \d+ ms, memory \d+ MB of \d+ MB; skipped - redis$" % deployment.host,
                    line), lines


def test_missing_backup_fails_the_backup_check(deployment):
    # `morning`, the tag's old name, still selects the checks.
    run = deployment.play("playbooks/daily.yml", tags="morning")
    assert run.rc != 0
    result = morning_result(run, deployment.host)
    assert result["failed_checks"] == ["backup"]


def test_stopped_service_fails_with_host_and_checks_named(deployment, tmp_path):
    """The 'Morning health checks' template under ansible-runner: the job ends `failed`, its summary names the host."""
    deployment.control("stopped")
    try:
        run = runner.run_template("Morning health checks", deployment.inventory, tmp_path,
                                  extra_vars={"daily_operations_morning_checks": ["health", "metrics", "disk"]})
    finally:
        deployment.control("started")
    assert run.status == "failed" and run.rc != 0, run
    assert run.failed_hosts() == [deployment.host]
    assert run.failed_tasks() == [(deployment.host, "Fail the hosts whose morning checks failed")]
    failure = run.task_results("Fail the hosts whose morning checks failed")[deployment.host]
    assert deployment.host in failure["msg"]
    assert "health" in failure["msg"] and "metrics" in failure["msg"]
    summary = run.task_results("Summarise the morning checks of every host in the play")
    lines = next(iter(summary.values()))["msg"]
    assert any(deployment.host in line and "FAILED" in line for line in lines)


def test_down_redis_fails_redis_and_health(deployment, redis_server):
    redis_server.stop()
    try:
        run = deployment.play("playbooks/daily.yml", tags="daily_operations_morning",
                              extra_vars={"daily_operations_morning_checks": ["health", "redis"]})
    finally:
        redis_server.start()
    assert run.rc != 0
    result = morning_result(run, deployment.host)
    assert set(result["failed_checks"]) == {"health", "redis"}
    assert requests.get(deployment.url + "/health", timeout=5).status_code == 200


def test_report_only_never_fails(deployment):
    deployment.control("stopped")
    try:
        run = deployment.play("playbooks/daily.yml", tags="daily_operations_morning",
                              extra_vars={"daily_operations_report_only": True})
    finally:
        deployment.control("started")
    assert run.rc == 0, run
    assert morning_result(run, deployment.host)["ok"] is False


def test_nightly_backup_then_every_morning_check_passes(deployment, tmp_path):
    """The 'Nightly backup' template (01:30) gives the 'Morning health checks' template (9 AM) a fresh verified
    archive; both launched through ansible-runner with the template's tags and extra vars, as AWX launches them.
    The backup writes its metrics textfile (read with prometheus_client's own parser)."""
    before = time.time()
    nightly = runner.run_template("Nightly backup", deployment.inventory, tmp_path / "nightly")
    assert nightly.status == "successful" and nightly.rc == 0, nightly
    assert {"Write a backup archive", "Verify the newest archive"} <= set(nightly.task_names())
    written = nightly.task_results("Write a backup archive")[deployment.host]
    assert written["changed"] and written["verification"]["integrity_check"] == "ok"
    backup = textfile(deployment, "inventory_backup.prom")
    assert backup[("inventory_backup_last_outcome", ())] == 1
    assert backup[("inventory_backup_size_bytes", ())] == os.path.getsize(written["backup"]["path"])
    assert before <= backup[("inventory_backup_last_success_timestamp_seconds", ())] <= time.time()
    run = runner.run_template("Morning health checks", deployment.inventory, tmp_path / "morning")
    assert run.status == "successful" and run.rc == 0, run
    assert {"Run the morning health checks", "Summarise the morning checks of every host in the play"} <= set(run.task_names())
    # The tags of the template, nothing else: the AI model phases of daily.yml stay out.
    assert not [name for name in run.task_names() if "forecasting" in name or "consumption" in name]
    result = morning_result(run, deployment.host)
    assert result["ok"] is True and "backup" in [check["name"] for check in result["checks"]]


def test_checks_from_the_controller_on_a_local_host(deployment):
    run = deployment.play("playbooks/daily.yml", tags="daily_operations_morning",
                          extra_vars={"daily_operations_morning_checks": ["health", "metrics", "redis", "disk"],
                                      "daily_operations_check_from": "controller"})
    assert run.rc == 0, run
    fleet = run.task_results("Run the network checks of every host at once, from the control node")
    report = next(r for r in next(iter(fleet.values()))["hosts"] if r["host"] == deployment.host)
    assert [c["name"] for c in report["checks"]] == ["health", "metrics", "redis"] and report["ok"] is True
    assert morning_result(run, deployment.host).get("skipped") is True  # no module run left for the host
    on_host = run.task_results("Check the disks of the host with df")[deployment.host]
    assert on_host["checks"] and all(c["name"].startswith("disk:") for c in on_host["checks"])
    assert run.changed() == 0


def test_checks_from_the_controller_refuse_localhost_urls_of_remote_hosts(tmp_path):
    """Checked from the control node, a remote host's http://127.0.0.1 would be the control node's own
    service: the play stops before any check (and before any connection) and names the hosts."""
    from tests.support import playbook as pb  # pylint: disable=import-outside-toplevel
    inventory = pb.write_inventory(str(tmp_path / "hosts.yml"), {"app_servers": {
        "remote1": {"ansible_host": "127.0.0.99"},
        "remote2": {"ansible_host": "127.0.0.98", "daily_operations_api_url": "http://127.0.0.98:8083",
                    "daily_operations_redis_url": "redis://:S3cret@localhost:6379/0"},
        "remote3": {"ansible_host": "127.0.0.97", "daily_operations_api_url": "http://127.0.0.97:8083"},
    }})
    run = pb.run_playbook("playbooks/daily.yml", inventory, tags="daily_operations_morning",
                          extra_vars={"daily_operations_check_from": "controller"})
    assert run.rc != 0
    refusal = next(iter(run.task_results(
        "Refuse a localhost API address for a remote host when checking from the control node").values()))
    assert "remote1, remote2 give localhost" in refusal["msg"] and "remote3" not in refusal["msg"]
    assert "S3cret" not in repr(run)
    assert all(stats["unreachable"] == 0 for stats in run.stats.values())


# --- Procedure metrics, the PostgreSQL connection check and the end of day (issue 13) -------------------------

def textfile(deployment, name):
    """{(sample name, labels): value} of a procedure textfile, read with prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families  # pylint: disable=import-outside-toplevel
    with open(os.path.join(deployment.textfile_dir, name)) as handle:
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(handle.read()) for s in family.samples}


def test_morning_writes_metrics_and_a_failure_keeps_the_last_success(deployment):
    """The morning checks write their textfile; a failed morning (PostgreSQL's connection check against a 0%
    limit) keeps the last success timestamp. The PostgreSQL check reads a real server."""
    from tests.support.servers import scratch_postgres_database  # pylint: disable=import-outside-toplevel
    checks = ["health", "metrics", "disk", "backup"]
    with scratch_postgres_database() as dsn:
        passed = deployment.play("playbooks/daily.yml", tags="daily_operations_morning",
                                 extra_vars={"daily_operations_morning_checks": checks,
                                             "daily_operations_postgres_dsn": dsn})
        assert passed.rc == 0, passed
        first = textfile(deployment, "inventory_morning_check.prom")
        failing = deployment.play("playbooks/daily.yml", tags="daily_operations_morning",
                                  extra_vars={"daily_operations_morning_checks": checks,
                                              "daily_operations_postgres_dsn": dsn,
                                              "daily_operations_postgres_max_connections_percent": 0})
    assert passed.changed() == 0
    pool = passed.task_results("Note the verdict of the PostgreSQL connection-pool check")[deployment.host][
        "ansible_facts"]["_daily_operations_postgres_checks"][0]
    assert pool["verdict"] == "ok" and re.match(r"^\d+ of \d+ connections \(", pool["reading"]), pool
    assert first[("inventory_morning_check_last_outcome", ())] == 1
    assert first[("inventory_morning_check_status", (("check", "postgres_connections"),))] == 1
    assert first[("inventory_morning_check_status", (("check", "backup"),))] == 1
    assert first[("inventory_morning_check_duration_seconds", ())] > 0

    assert failing.rc != 0
    failure = failing.task_results("Fail the hosts whose morning checks failed")[deployment.host]
    assert "postgres_connections" in failure["msg"] and "above 0%" in failure["msg"]
    second = textfile(deployment, "inventory_morning_check.prom")
    assert second[("inventory_morning_check_last_outcome", ())] == 0
    assert second[("inventory_morning_check_status", (("check", "postgres_connections"),))] == 0
    assert second[("inventory_morning_check_status", (("check", "health"),))] == 1
    assert (second[("inventory_morning_check_last_success_timestamp_seconds", ())]
            == first[("inventory_morning_check_last_success_timestamp_seconds", ())])
    assert (second[("inventory_morning_check_last_run_timestamp_seconds", ())]
            > first[("inventory_morning_check_last_run_timestamp_seconds", ())])


def test_end_of_day_reports_errors_cache_backup_and_anomalies(deployment):
    """The 6 PM checks against the deployed service; every figure is checked against its source read here."""
    log = os.path.join(deployment.home, "logs", "application-%s.log" % datetime.date.today().isoformat())
    with open(log, "a") as handle:
        for seconds in (1203, 998):
            handle.write("2026-12-01T17:00:00.000Z ERROR report failed: timeout after %d ms\n" % seconds)
    for dummy in range(10):
        assert requests.get(deployment.url + "/api/dashboard/stats", timeout=5).status_code == 200
    # `end_of_day`, the short tag, selects the checks; an untagged run would not (tagged never in the role).
    run = deployment.play("playbooks/daily.yml", tags="end_of_day", extra_vars={"daily_operations_report_only": True})
    assert run.rc == 0, run
    assert run.changed() == 0
    result = run.task_results("Run the end-of-day checks")[deployment.host]
    checks = {check["name"]: check for check in result["checks"]}
    assert list(checks) == ["errors", "cache", "backup", "anomalies"]

    with open(log) as handle:
        error_lines = sum(1 for line in handle if " ERROR " in line or " CRITICAL " in line)
    assert checks["errors"]["value"]["count"] == error_lines >= 2
    assert {"kind": "report failed: timeout after <n> ms", "count": 2} in [
        {"kind": k["kind"], "count": k["count"]} for k in checks["errors"]["value"]["top"]]

    stats = requests.get(deployment.url + "/api/cache/stats", timeout=5).json()
    assert checks["cache"]["value"]["hits"] <= stats["hits"]
    assert checks["cache"]["verdict"] == ("ok" if checks["cache"]["value"]["hit_rate"] >= 85 else "failed")

    listed = requests.get(deployment.url + "/api/ai/anomaly/list", params={"days": 1}, timeout=5).json()
    assert checks["anomalies"]["value"]["total"] == listed["total"]
    assert checks["backup"]["verdict"] in ("ok", "failed") and checks["backup"]["threshold"] == 24

    lines = next(iter(run.task_results("Summarise the end-of-day checks of every host in the play").values()))["msg"]
    assert lines[0] == "End-of-day checks of 1 host(s):"
    assert any(line.strip() == "2x report failed: timeout after 998 ms" for line in lines), lines
    assert not run.task_results("Run the morning health checks")


def test_end_of_day_fails_the_host_naming_the_check(deployment):
    requests.get(deployment.url + "/api/dashboard/stats", timeout=5)
    run = deployment.play("playbooks/daily.yml", tags="daily_operations_end_of_day", extra_vars={
        "daily_operations_end_of_day_checks": ["cache"], "daily_operations_end_of_day_min_cache_hit_rate": 101})
    assert run.rc != 0
    failure = run.task_results("Fail the hosts whose end-of-day checks failed")[deployment.host]
    assert failure["msg"].startswith("End-of-day checks failed on %s: cache (cache hit rate " % deployment.host), failure
    lines = next(iter(run.task_results("Summarise the end-of-day checks of every host in the play").values()))["msg"]
    assert lines[-1] == "1 host(s) failed: %s" % deployment.host, lines


def midday_summary(run):
    return next(iter(run.task_results("Summarise the midday cache warming of every host in the play").values()))["msg"]


def test_midday_warming_fills_the_cold_cache_once_and_names_a_failing_endpoint(deployment):
    cache = redis.Redis.from_url(deployment.vars["service_redis_url"], decode_responses=True)

    def own_keys():
        return sorted(cache.scan_iter(match="ie:cache:*"))

    cache.delete(*own_keys() or ["nothing"])
    # Check mode with one endpoint the service does not have: predicted, named, failed last, nothing filled.
    checked = deployment.play("playbooks/daily.yml", tags="daily_operations_midday", check=True,
                              extra_vars={"daily_operations_cache_warm_extra_endpoints": ["/api/no/such/route"]})
    assert checked.rc != 0 and own_keys() == []
    probed = checked.task_results("Warm the cache of the host's service")[deployment.host]
    assert probed["changed"] and probed["filled"] == ["/api/inventory/list", "/api/dashboard/stats"]
    lines = midday_summary(checked)
    assert "FAILED - /api/no/such/route (HTTP 404" in lines[1] and lines[-1] == "1 host(s) failed: app1", lines
    assert "/api/no/such/route" in checked.task_results("Fail the hosts whose cache warming failed")[deployment.host]["msg"]

    run = deployment.play("playbooks/daily.yml", tags="midday")
    assert run.rc == 0, run
    warmed = run.task_results("Warm the cache of the host's service")[deployment.host]
    assert warmed["filled"] == ["/api/inventory/list", "/api/dashboard/stats"]
    assert [e["endpoint"] for e in warmed["endpoints"]] == ["/api/inventory/list", "/api/dashboard/stats",
                                                            "/api/ai/models/list"]
    assert own_keys() == ["ie:cache:dashboard:stats", "ie:cache:inventory:list"]
    lines = midday_summary(run)
    assert lines[0] == "Midday cache warming of 1 host(s):" and lines[-1] == "All hosts warmed.", lines
    assert lines[1].startswith("  app1: ok - 3 endpoint(s), 2 cold filled"), lines
    assert requests.get(deployment.url + "/api/inventory/list", timeout=5).headers["X-Cache"] == "HIT"

    again = deployment.play("playbooks/daily.yml", tags="daily_operations_midday")
    assert again.rc == 0 and again.changed() == 0, again
