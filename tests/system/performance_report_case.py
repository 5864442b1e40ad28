"""performance_report (through the daily_operations role) on the deployed reference service: real load through
the service, measured here; a private Prometheus scraping it; the report's p95 per route agrees with the p95 this
test measured, within the resolution of the service's histogram buckets.

Collected from tests/system/test_daily_morning.py, which imports it: it runs on that module's deployment of the
service instead of paying for one of its own (a deployment is most of a system test's time)."""
import math
import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support import playbook as pb
from tests.support.prometheus import HTTP_BUCKETS, PrometheusServer

# Route template -> the raw paths driven through it (two limits: one template, as the histogram labels it).
LOAD = {
    "/health": ["/health"],
    "/api/inventory/items": ["/api/inventory/items?limit=5", "/api/inventory/items?limit=500"],
    "/api/dashboard/stats": ["/api/dashboard/stats"],
}
REQUESTS_PER_ROUTE = 120


def drive(base_url):
    """Latencies in seconds per route template, measured around each request."""
    measured = dict((route, []) for route in LOAD)
    with requests.Session() as session:
        for index in range(REQUESTS_PER_ROUTE):
            for route, paths in LOAD.items():
                started = time.perf_counter()
                response = session.get(base_url + paths[index % len(paths)], timeout=10)
                measured[route].append(time.perf_counter() - started)
                assert response.status_code == 200, (route, response.text[:200])
    return measured


def prime(base_url):
    """One request per route template, not measured."""
    with requests.Session() as session:
        for paths in LOAD.values():
            assert session.get(base_url + paths[0], timeout=10).status_code == 200


def nearest_rank(values, quantile):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]


def bucket_index(seconds):
    """Index of the histogram bucket holding `seconds` (len(HTTP_BUCKETS) for +Inf)."""
    return next((index for index, bound in enumerate(HTTP_BUCKETS) if seconds <= bound), len(HTTP_BUCKETS))


def served_counts(base_url):
    """{route: request count} as the service's own /metrics says, to know when Prometheus has seen it all."""
    text = requests.get(base_url + "/metrics", timeout=10).text
    counts = dict((route, 0.0) for route in LOAD)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "http_request_duration_seconds_count" and sample.labels.get("route") in counts:
                counts[sample.labels["route"]] += sample.value
    return counts


def test_report_p95_per_route_agrees_with_the_latencies_measured_here(deployment):
    target = "127.0.0.1:%d" % deployment.port
    prometheus = PrometheusServer([target]).start()
    try:
        # A rate needs a sample of each route's series from before the load: one request per route creates the
        # series (the service makes it at its first request), then a scrape must have seen them all.
        prometheus.wait_for_value('up{instance="%s"}' % target, 1.0)
        prime(deployment.url)
        for route, count in served_counts(deployment.url).items():
            prometheus.wait_for_value('sum(http_request_duration_seconds_count{route="%s"})' % route, count)
        measured = drive(deployment.url)
        counts = served_counts(deployment.url)
        for route, count in counts.items():
            prometheus.wait_for_value('sum(http_request_duration_seconds_count{route="%s"})' % route, count)
        run = pb.run_playbook("tests/system/playbooks/performance_report.yml", deployment.inventory, extra_vars={
            "daily_operations_performance_prometheus_url": prometheus.url,
            "daily_operations_performance_instances": [target],
            "daily_operations_performance_fail_on": ["error"]})
    finally:
        prometheus.close()
    assert run.rc == 0, run.failed_tasks()
    report = run.task_results("Report API, database and cache performance from Prometheus")[deployment.host]
    assert report["changed"] is False
    checks = dict((check["name"], check) for check in report["checks"])
    assert checks["targets_up"]["verdict"] == "ok" and checks["api_latency"]["verdict"] in ("ok", "failed")
    reported = dict((row["route"], row["p95_ms"] / 1000.0) for row in report["routes"])
    for route, latencies in measured.items():
        ours = nearest_rank(latencies, 0.95)
        # Prometheus interpolates inside a bucket, so it can only agree to the bucket. The server's clock starts
        # after the request is read and stops before the answer crosses the socket, and on a busy machine (the
        # suite runs the lab beside this test) waiting for the CPU out there adds to ours only: its p95 may sit
        # up to two buckets below ours, never above.
        assert bucket_index(ours) - 2 <= bucket_index(reported[route]) <= bucket_index(ours), \
            (route, reported[route], ours, HTTP_BUCKETS)
    assert [row["route"] for row in report["slowest_routes"]] == [row["route"] for row in report["routes"]][:10]
    row = report["instances"][0]
    assert row["instance"] == target and [c["name"] for c in row["checks"]][:2] == ["targets_up", "api_latency"]
    summary = run.task_results("Summarise the performance of the fleet")[deployment.host]["msg"]
    assert summary[0].startswith("Performance from %s (all instances: " % prometheus.url), summary
