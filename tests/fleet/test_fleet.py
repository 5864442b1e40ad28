"""The playbooks across real SSH hosts: deploy the fleet, check it in one run, survive bad hosts,
and redeploy without ever taking every app server down at once."""
import os
import re
import signal
import sys
import threading
import time

import requests

from tests.fleet.conftest import ROOT, lab
from tests.support import runner

sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
import lab as lab_module  # noqa: E402  pylint: disable=wrong-import-position,import-error

MORNING = {"daily_operations_morning_checks": ["health", "metrics", "redis", "disk", "memory"]}


def healthy(url):
    try:
        return requests.get(url + "/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def summary_lines(run):
    results = run.task_results("Summarise the morning checks of every host in the play")
    return next(iter(results.values()))["msg"]


def test_site_deploys_every_app_server_and_the_standby(deployed_fleet):
    for host in deployed_fleet.app_servers + ["standby1"]:
        answer = requests.get(deployed_fleet.url(host) + "/health", timeout=5).json()
        assert answer["status"] == "ok", host
        assert answer["cache_backend"] == "redis" and answer["postgres"] == "connected", host
    assert deployed_fleet.first_deploy.stats.keys() >= set(deployed_fleet.app_servers + ["standby1"])


def test_morning_checks_of_the_fleet_in_one_run_with_one_summary(deployed_fleet, tmp_path):
    """The 'Morning health checks' job template, launched through ansible-runner as AWX launches it."""
    run = runner.run_template("Morning health checks", deployed_fleet.inventory, tmp_path, extra_vars=MORNING)
    assert run.status == "successful" and run.rc == 0, run
    assert {"Run the morning health checks", "Summarise the morning checks of every host in the play"} <= set(run.task_names())
    lines = summary_lines(run)
    assert lines[0].startswith("Morning checks of 3 host(s)")
    assert lines[-1] == "All hosts passed."
    for host in deployed_fleet.app_servers + ["standby1"]:
        assert any(line.strip().startswith(host + ": ok") for line in lines), lines


def test_morning_template_fails_naming_the_app_server_whose_service_is_down(deployed_fleet, tmp_path):
    """The failure path of the 'Morning health checks' template under ansible-runner: the job ends `failed`,
    only the host whose service is down fails, and the summary names it."""
    app1, app2 = deployed_fleet.app_servers[:2]
    stop = deployed_fleet.play("playbooks/service_control.yml", extra_vars={"service_state": "stopped"}, limit=app1)
    assert stop.rc == 0, stop
    try:
        run = runner.run_template("Morning health checks", deployed_fleet.inventory, tmp_path, extra_vars=MORNING)
    finally:
        start = deployed_fleet.play("playbooks/service_control.yml", extra_vars={"service_state": "started"},
                                    limit=app1)
    assert start.rc == 0, start
    assert run.status == "failed" and run.rc != 0, run
    assert run.failed_hosts() == [app1]
    assert run.failed_tasks() == [(app1, "Fail the hosts whose morning checks failed")]
    assert run.stats[app2].get("failures", 0) == 0
    lines = summary_lines(run)
    assert any(line.strip().startswith(app1 + ": FAILED") and "health" in line for line in lines), lines
    assert lines[-1] == "1 host(s) failed: %s" % app1
    assert "Morning checks failed on %s" % app1 in run.stdout


def test_rolling_redeploy_keeps_an_app_server_healthy(deployed_fleet):
    urls = [deployed_fleet.url(host) for host in deployed_fleet.app_servers]
    samples, stop = [], threading.Event()

    def poll():
        while not stop.is_set():
            samples.append([healthy(url) for url in urls])
            time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        # A changed setting restarts every host: batch by batch, each healthy before the next.
        run = deployed_fleet.play("playbooks/site.yml", extra_vars={"service_redis_ttl_inventory": 301})
    finally:
        stop.set()
        poller.join()
    assert run.rc == 0, run
    assert samples, "the poller took no sample"
    assert all(any(sample) for sample in samples), "every app server was down at the same moment"
    for index, host in enumerate(deployed_fleet.app_servers):
        assert any(not sample[index] for sample in samples), "%s never restarted: the test proved nothing" % host


def test_checks_from_the_controller_name_the_unhealthy_host(deployed_fleet):
    """daily_operations_check_from=controller: one health_check process on the control node checks every
    host's API and Redis; the disks are still checked on each host."""
    app1, app2 = deployed_fleet.app_servers[:2]
    stop = deployed_fleet.play("playbooks/service_control.yml", extra_vars={"service_state": "stopped"}, limit=app1)
    assert stop.rc == 0, stop
    try:
        run = deployed_fleet.play("playbooks/daily.yml", tags="daily_operations_morning",
                                  extra_vars=dict(MORNING, daily_operations_check_from="controller"))
    finally:
        start = deployed_fleet.play("playbooks/service_control.yml", extra_vars={"service_state": "started"},
                                    limit=app1)
    assert start.rc == 0, start
    assert run.rc != 0
    fleet = next(iter(run.task_results("Run the network checks of every host at once, from the control node")
                      .values()))
    reports = dict((report["host"], report) for report in fleet["hosts"])
    assert sorted(reports) == sorted(deployed_fleet.app_servers + ["standby1"])
    assert fleet["failed_hosts"] == [app1]
    assert reports[app2]["failed_checks"] == [] and reports[app2]["checks"][2]["name"] == "redis"
    # Only the disks are left for the hosts: df over the connection, no module run.
    assert all(r.get("skipped") for r in run.task_results("Run the morning health checks").values())
    on_hosts = run.task_results("Check the disks of the host with df")
    assert [c["name"] for c in on_hosts[app2]["checks"]] == [
        "disk:/opt/inventory-enterprise/data", "disk:/opt/inventory-enterprise/logs",
        "disk:/opt/inventory-enterprise/backups"]
    assert run.stats[app1]["failures"] == 1 and run.stats[app2]["failures"] == 0
    lines = summary_lines(run)
    assert any(line.strip().startswith(app1 + ": FAILED - health (cannot connect") for line in lines), lines
    assert any(re.match(r"^%s: ok - health \d+ ms, metrics \d+ of \d+ gauges at 1, redis [^,]+, memory \d+ MB of "
                        r"\d+ MB, disk:\S+ [\d.]+%% used of \d+%%" % re.escape(app2), line.strip()) for line in lines), lines
    assert lines[-1] == "1 host(s) failed: %s" % app1


def cut_off(host):
    """Make host unreachable: kill every sshd in its namespace (listener and live sessions, which
    ssh multiplexing would otherwise keep using)."""
    for pid, where in lab_module.lab_processes().items():
        try:
            with open("/proc/%d/comm" % pid) as handle:
                comm = handle.read().strip()
        except OSError:
            continue
        if where == host and comm == "sshd":
            os.kill(pid, signal.SIGKILL)


def test_unreachable_and_unhealthy_hosts_are_named_while_others_finish(deployed_fleet):
    app1, app2 = deployed_fleet.app_servers[:2]
    control = deployed_fleet.play("playbooks/service_control.yml",
                                  extra_vars={"service_state": "stopped"}, limit="standby1")
    assert control.rc == 0, control
    cut_off(app2)
    try:
        run = deployed_fleet.play("playbooks/daily.yml", tags="daily_operations_morning", extra_vars=MORNING)
    finally:
        lab("up", "--app-servers", "2")  # brings app2's sshd back (and restarts the lab's hosts)
    assert run.rc != 0
    assert run.stats[app2]["unreachable"] == 1
    assert run.stats[app1]["failures"] == 0
    assert run.task_results("Run the morning health checks")[app1]["ok"] is True
    lines = summary_lines(run)
    assert any(line.strip().startswith(app1 + ": ok") for line in lines), lines
    assert any(line.strip().startswith(app2 + ": FAILED") and "unreachable" in line for line in lines), lines
    assert any(line.strip().startswith("standby1: FAILED") and "health" in line for line in lines), lines
    assert "2 host(s) failed" in lines[-1]
