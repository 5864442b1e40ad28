"""performance_review against real data: a Prometheus holding last month's metrics (backfilled with promtool from
observations this test drew, so the p95 of each route is known) and the deployed reference service, whose logs,
backups and database carry what real requests made today. The expected figures come from the test's own
reading of the generated observations and of the service's files, not from the module."""
import datetime
import json
import math
import os
import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.deployment import ADMIN_PASSWORD
from tests.support.prometheus import HTTP_BUCKETS, PrometheusServer, expected_quantile
from tests.support.prometheus_history import Latency, backfill, write_openmetrics


UTC = datetime.timezone.utc
ROUTES = {"/api/inventory/list": Latency(0.03, per_step=30), "/api/dashboard/stats": Latency(0.15, per_step=10),
          "/health": Latency(0.002, per_step=20)}
HIT_RATE = 0.9
MODELS = {"ITEM-001": 6.5, "ITEM-002": 14.0, "ITEM-003": 46.0}


def last_month():
    today = datetime.datetime.now(UTC)
    end = datetime.datetime(today.year, today.month, 1, tzinfo=UTC)
    start = (end - datetime.timedelta(days=1)).replace(day=1)
    return start, end


def _build(workdir):
    start, end = last_month()
    path = os.path.join(workdir, "last-month.om")
    history = write_openmetrics(path, start, end, 3600, ROUTES, hit_rate=HIT_RATE, errors=0.01)
    prometheus = PrometheusServer([], retention="3650d")
    backfill(prometheus.data_dir, path)
    prometheus.start()
    return prometheus, history


@pytest.fixture(scope="module")
def last_month_prometheus(tmp_path_factory):
    """Written and backfilled in a thread, while the `deployment` fixture (asked after this one) deploys."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        future = executor.submit(_build, str(tmp_path_factory.mktemp("history")))
        yield future
        prometheus, dummy = future.result()
        prometheus.close()


def _bucket(seconds):
    return next((index for index, bound in enumerate(HTTP_BUCKETS) if seconds <= bound), len(HTTP_BUCKETS))


def _wait_for_line(path, pattern, timeout=60.0):
    """The service writes a request's line after it answered: poll the file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as handle:
                text = handle.read()
            if re.search(pattern, text, re.M):
                return
        time.sleep(0.05)
    raise AssertionError("no line matching %r in %s" % (pattern, path))


def _make_today(dep):
    """Backups that succeed and one that fails, through the service's API; models and a DR drill record as the
    retrain and dr_drill.yml write them."""
    token = requests.post(dep.url + "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD},
                          timeout=30).json()["token"]
    headers = {"Authorization": "Bearer " + token}
    create = dep.url + "/api/backup/create"
    for dummy in range(3):
        assert requests.post(create, headers=headers, json={"database_only": True}, timeout=300).status_code == 201
    backups = os.path.join(dep.home, "backups")
    os.rename(backups, backups + ".moved")
    try:
        with open(backups, "w") as handle:  # a file where the directory should be: the backup fails
            handle.write("not a directory\n")
        assert requests.post(create, headers=headers, json={"database_only": True}, timeout=300).status_code == 500
    finally:
        os.unlink(backups)
        os.rename(backups + ".moved", backups)
    today = datetime.date.today().isoformat()
    _wait_for_line(os.path.join(dep.home, "logs", "application-%s.log" % today), r" ERROR POST /api/backup/create 500 ")
    conn = sqlite3.connect(os.path.join(dep.home, "data", "enterprise_inventory.db"), timeout=30)
    with conn:
        for item, mape in MODELS.items():
            metrics = dict(mape=mape, wape=mape, mase=0.7, bias=0.0, holdout_days=28, nonzero_days=27,
                           observations=730, outcome="promoted", reason=None)
            conn.execute("INSERT INTO ai_models (entity_id, model_type, status, accuracy_metrics, trained_at) "
                         "VALUES (?, 'prophet', 'active', ?, ?)",
                         (item, json.dumps(metrics), datetime.datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))
    conn.close()
    drills = os.path.join(dep.home, "dr-drills")
    os.makedirs(drills, exist_ok=True)
    finished = datetime.datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(os.path.join(drills, "dr-drill-%s.json" % finished.replace(":", "-")), "w") as handle:
        json.dump({"finished_at": finished, "outcome": "passed", "rto_seconds": 1260.5, "rpo_seconds": 5400,
                   "rto_target_seconds": 3600, "rpo_target_seconds": 86400, "standby": "standby1"}, handle)
    return finished


def _from_files(home):
    """What the service's files say, read here with plain regexes."""
    logs = os.path.join(home, "logs")
    errors, completed, failed = 0, [], 0
    for name in sorted(os.listdir(logs)):
        with open(os.path.join(logs, name)) as handle:
            text = handle.read()
        if name.startswith("application-"):
            errors += len(re.findall(r"^\S+Z (?:ERROR|CRITICAL) ", text, re.M))
        elif name.startswith("backup-"):
            completed += re.findall(r"^(\S+)\.\d+Z INFO backup completed name=(\S+) size=(\d+) .*duration=([\d.]+)s$",
                                    text, re.M)
            failed += len(re.findall(r"^\S+Z ERROR backup failed", text, re.M))
    return errors, completed, failed


def test_review_of_last_month_and_of_the_service_today(last_month_prometheus, deployment):
    dep = deployment
    finished = _make_today(dep)
    prometheus, history = last_month_prometheus.result()
    run = dep.play("tests/system/playbooks/performance_review.yml",
                   extra_vars={"service_home": dep.home, "review_prometheus_url": prometheus.url,
                               "review_period": "month_to_date"})
    assert run.rc == 0, run.failed_tasks()

    host = run.task_results("Review the logs, backups, models and DR drills of the host")[dep.host]
    checked = run.task_results("Review the same in check mode")[dep.host]
    assert host["changed"] is False and checked["changed"] is False and host["unavailable"] == []
    # month_to_date ends when each run starts: the two windows differ by the seconds between them.
    assert dict(checked["figures"], window_end=None) == dict(host["figures"], window_end=None)
    assert checked["findings"] == host["findings"]
    figures, series = host["figures"], host["series"]
    errors, completed, failed = _from_files(dep.home)
    assert (figures["errors"], figures["backups"], figures["backups_failed"]) == (errors, len(completed), failed)
    assert len(completed) >= 3 and failed == 1 and errors >= 1
    top = dict(series["top_errors"]["points"])
    assert top["ERROR POST /api/backup/create <n> duration=<n>ms user_id: admin"] == 1
    assert series["backup_duration_seconds"]["points"] == [[when + "Z", float(duration)]
                                                           for when, dummy, dummy, duration in completed]
    names = [name for dummy, name, dummy, dummy in completed]
    assert [size for dummy, size in series["backup_size_bytes"]["points"]] == [
        os.path.getsize(os.path.join(dep.home, "backups", name)) for name in names]
    assert figures["models_scored"] == 3 and figures["model_median_mape"] == 14.0
    assert series["model_worst_items"]["points"][0] == ["ITEM-003", 46.0]
    assert series["dr_rto_seconds"]["points"] == [[finished, 1260.5]] and figures["dr_drills"] == 1
    assert [f["id"] for f in host["findings"]] == ["model_mape_over_threshold"]

    review = run.task_results("Review last month from Prometheus")[dep.host]
    start, end = last_month()
    assert review["window"] == {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"), "period": "previous_month",
                                "days": (end - start).days}
    assert review["unavailable"] == []
    reported = dict(review["series"]["p95_by_route"]["points"])
    assert sorted(reported) == sorted(ROUTES)
    for route in ROUTES:
        observed = history.latencies(route, start, end)
        # Prometheus interpolates inside the bucket holding the rank: the figure is the one expected_quantile
        # computes from the same observations, and in the bucket of their own (nearest-rank) p95.
        assert reported[route] == pytest.approx(expected_quantile(0.95, observed, HTTP_BUCKETS) * 1000, abs=0.011)
        nearest = sorted(observed)[int(math.ceil(0.95 * len(observed))) - 1]
        assert _bucket(reported[route] / 1000.0) == _bucket(nearest), (route, reported[route], nearest)
    assert review["figures"]["cache_hit_rate"] == HIT_RATE * 100
    assert len(review["series"]["p95_daily"]["points"]) == (end - start).days
    over = [f for f in review["findings"] if f["id"] == "route_p95_over_target"]
    assert [f["subject"] for f in over] == ["/api/dashboard/stats"]
