"""The reviews in the lab, on real data, over SSH, each finding seen where it should be and not where it should not.

app1 gets four months of history made by the collection's own backup code (back-dated archives, their records
and the backup log) and daily log files; app2 keeps only what the suite gave it. A private Prometheus holds last
month's metrics of both app servers, backfilled with promtool: app1's inventory route slow (p95 over the
guide's 100 ms), app2's fast. The playbooks run as the schedule runs them and write their reports on the control
node, which Debian's Chromium then opens."""
import datetime
import json
import os
import subprocess
import sys

import pytest

from tests.fleet.conftest import ROOT
from tests.support.prometheus import PrometheusServer
from tests.support.prometheus_history import Latency, backfill, write_openmetrics
from tests.support.report_page import browse

sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
import lab as lab_module  # noqa: E402  pylint: disable=wrong-import-position,import-error

HOME = "/opt/inventory-enterprise"
UTC = datetime.timezone.utc
SEED = ("import sys; sys.path[:0] = [%r, %r]; from tests.support.history import seed_backup_history; "
        "print(len(seed_backup_history(%r, months=4, every_days=7)['archives']))"
        % (ROOT, os.path.join(ROOT, "build", "collections"), HOME))


def ssh(host, command):
    proc = subprocess.run(lab_module.ssh_command(host) + [command], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, "%s: %s\n%s%s" % (host, command, proc.stdout, proc.stderr)
    return proc.stdout


def last_month():
    end = datetime.datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (end - datetime.timedelta(days=1)).replace(day=1), end


@pytest.fixture(scope="module")
def reviewed(deployed_fleet, tmp_path_factory):
    fleet = deployed_fleet
    app1, app2 = fleet.app_servers[:2]
    work = tmp_path_factory.mktemp("reviews")
    # What app1 holds before the history, so that the history goes afterwards: the molecule scenarios that run
    # on the same hosts later (logs archives every dated log file) must find the host as the suite left it.
    ssh(app1, "cd %s && find logs backups -type f | sort > /tmp/reviews-before.txt" % HOME)
    archives = int(ssh(app1, "%s/.venv/bin/python -c %s && chown -R --reference=%s/data %s/backups %s/logs"
                       % (ROOT, json.dumps(SEED), HOME, HOME, HOME)).split()[0])
    assert archives >= 15, archives
    start, end = last_month()
    prometheus = PrometheusServer([], retention="3650d")
    for host, median in ((app1, 0.15), (app2, 0.02)):
        path = str(work / ("%s.om" % host))
        write_openmetrics(path, start, end, 3600, {"/api/inventory/list": Latency(median)}, hit_rate=0.9,
                          instance="%s:8083" % fleet.hosts[host], keep_observations=False)
        backfill(prometheus.data_dir, path)
    prometheus.start()
    # app2's .env readable by every user: the audit must say so there, and only there.
    ssh(app2, "chmod 0644 %s/.env" % HOME)
    reports = work / "reports"
    common = {"reviews_report_dir": str(reports), "reviews_prometheus_url": prometheus.url,
              "reviews_runbooks_prometheus_url": prometheus.url}
    try:
        runs = {
            "security": fleet.play("playbooks/security_audit.yml", extra_vars=common),
            # Every growth is a finding at this threshold, so app1's seeded growth must be one; app2 has no history.
            "quarterly": fleet.play("playbooks/quarterly.yml", extra_vars=dict(
                common, reviews_capacity_runway_threshold_days=1e9, reviews_capacity_runway_critical_days=1),
                tags="reviews_capacity,reviews_migration"),
            "monthly": fleet.play("playbooks/monthly.yml", extra_vars=common, tags="reviews_performance"),
        }
    finally:
        ssh(app2, "chmod 0600 %s/.env" % HOME)
        prometheus.close()
    try:
        for name, run in runs.items():
            assert run.rc == 0, (name, run.failed_tasks())
        yield dict(runs, fleet=fleet, app1=app1, app2=app2, reports=reports, work=work)
    finally:
        ssh(app1, "cd %s && find logs backups -type f | sort | comm -13 /tmp/reviews-before.txt - "
                  "| xargs -r -d '\\n' rm -f && rm -f /tmp/reviews-before.txt" % HOME)


def result_of(run, task, host):
    return run.task_results(task)[host]


def ids(result):
    return {finding["id"] for finding in result["findings"]}


def test_security_audit_flags_the_readable_env_on_app2_only(reviewed):
    run = reviewed["security"]
    on_app1 = result_of(run, "Audit the service's security", reviewed["app1"])
    on_app2 = result_of(run, "Audit the service's security", reviewed["app2"])
    assert "env_file_world_readable" in ids(on_app2) and "env_file_world_readable" not in ids(on_app1)
    # The lab deploys the service as the role does: no secret is weak, nothing the role writes is open.
    for result in (on_app1, on_app2):
        assert not {"jwt_secret_missing", "jwt_secret_default", "jwt_secret_short", "admin_password_empty",
                    "admin_password_default", "admin_password_short"} & ids(result), result["findings"]


def test_capacity_review_measures_the_seeded_growth_on_app1_only(reviewed):
    run = reviewed["quarterly"]
    on_app1 = result_of(run, "Review the capacity", reviewed["app1"])
    on_app2 = result_of(run, "Review the capacity", reviewed["app2"])
    sizes = on_app1["series"]["db_size_bytes"]["points"]
    assert len(sizes) >= 15, sizes
    assert "disk_runway_short" in ids(on_app1), on_app1["findings"]
    assert "disk_runway_short" not in ids(on_app2), on_app2["findings"]


def test_migration_review_recommends_with_its_figures(reviewed):
    result = result_of(reviewed["quarterly"], "Evaluate the PostgreSQL migration", reviewed["app1"])
    assert result["recommendation"]["decision"] in ("stay_on_sqlite", "prepare_migration", "migrate")
    assert result["recommendation"]["reasons"], result["recommendation"]


def test_performance_review_finds_the_slow_route_on_app1_only(reviewed):
    run = reviewed["monthly"]
    on_app1 = result_of(run, "Review last month's performance", reviewed["app1"])
    on_app2 = result_of(run, "Review last month's performance", reviewed["app2"])
    slow = {"p95_over_target", "route_p95_over_target"}
    assert slow <= ids(on_app1), on_app1["findings"]
    assert not slow & ids(on_app2), on_app2["findings"]
    assert not [u for u in on_app1["unavailable"] if u["source"].startswith("prometheus")], on_app1["unavailable"]


def test_each_playbook_wrote_its_report_and_chromium_draws_it(reviewed):
    written = sorted(path.name for path in reviewed["reports"].iterdir())
    today = datetime.datetime.now(UTC).strftime("%Y-%m-%d")
    for name in ("security-audit", "quarterly-migration-capacity", "monthly-performance"):
        assert "%s-%s.html" % (name, today) in written, written
    assert "index.html" in written
    page = browse(reviewed["reports"] / ("quarterly-migration-capacity-%s.html" % today),
                  reviewed["work"] / "quarterly.png")
    assert page["errors"] == [] and all(url.startswith("file://") for url in page["requests"]), page
    assert sorted(host for host, dummy in page["status_rows"]) == sorted([reviewed["app1"], reviewed["app2"]])
    drawn = [chart for chart in page["charts"] if chart["svg"] and not chart["empty"]]
    assert drawn and all(chart["width"] > 0 and chart["height"] > 0 and chart["drawn"] == chart["declared"]
                         for chart in drawn), page["charts"]
    assert any(chart["series"] == "db_size_bytes" and chart["drawn"] >= 15 for chart in drawn), page["charts"]
