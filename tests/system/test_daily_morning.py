"""playbooks/daily.yml (morning) against a deployed service: passes, then fails naming host and checks."""
import re

import requests

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


def test_stopped_service_fails_with_host_and_checks_named(deployment):
    deployment.control("stopped")
    try:
        run = deployment.play("playbooks/daily.yml", tags="daily_operations_morning",
                              extra_vars={"daily_operations_morning_checks": ["health", "metrics", "disk"]})
    finally:
        deployment.control("started")
    assert run.rc != 0
    failure = run.task_results("Fail the hosts whose morning checks failed")[deployment.host]
    assert failure["failed"] is True
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


def test_nightly_backup_then_every_morning_check_passes(deployment):
    """nightly_backup.yml (2 AM) gives the morning's backup check (9 AM) a fresh verified archive."""
    nightly = deployment.play("playbooks/nightly_backup.yml")
    assert nightly.rc == 0, nightly
    written = nightly.task_results("Write a backup archive")[deployment.host]
    assert written["changed"] and written["verification"]["integrity_check"] == "ok"
    run = deployment.play("playbooks/daily.yml", tags="daily_operations_morning")
    assert run.rc == 0, run
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
