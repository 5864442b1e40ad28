"""The performance report of 20 app servers from one Prometheus.

20 exporters on free ports serve route histograms like the service's (15 routes, 2xx/4xx/5xx, database
operations, cache counters, memory), their traffic moving every half second; a private Prometheus (Debian's)
scrapes them every second. Timed in the same run, interleaved:
  - performance_report: the module as Ansible runs it (its own Python process, arguments from a file): every
    check for the fleet with a row per instance, from one grouped query per check;
  - ansible ad-hoc: the same through `ansible localhost -m` (Ansible's own start-up included), for reference;
  - the guide's way: its three curl queries (p95, top 10, p95 database), per host, one after another.

Target: the report for 20 app servers in under 2 s."""
import json
import os
import random
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import ROOT, compare  # noqa: E402
from tests.support import playbook as pb  # noqa: E402
from tests.support.prometheus import DB_BUCKETS, HTTP_BUCKETS, Bucketed, Exporter, PrometheusServer  # noqa: E402

HOSTS = 20
ROUTES = ["/health", "/metrics", "/api/inventory/list", "/api/inventory/items", "/api/dashboard/stats",
          "/api/cache/stats", "/api/auth/login", "/api/inventory/counts", "/api/ai/models/list",
          "/api/ai/anomaly/list", "/api/ai/consumption/derive", "/api/ai/forecast", "/api/backup/create",
          "/api/items/{code}", "unmatched"]
GUIDE_QUERIES = [
    "histogram_quantile(0.95, rate(http_request_duration_seconds_bucket{%s}[5m]))",
    "topk(10, histogram_quantile(0.95, rate(http_request_duration_seconds_bucket{%s}[5m])))",
    "histogram_quantile(0.95, rate(db_query_duration_seconds_bucket{%s}[5m]))",
]


def traffic(exporters, stop):
    """Every half second each instance serves more requests: latencies by route, some 404 and 500 answers."""
    rng = random.Random(13)
    state = [dict(http=dict(((route, status), Bucketed(HTTP_BUCKETS))
                            for route in ROUTES for status in ("200", "404", "500")),
                  db=dict((op, Bucketed(DB_BUCKETS)) for op in ("inventory_list", "dashboard_stats", "count_create")),
                  hits=0, misses=0) for _ in exporters]
    while not stop.wait(0.5):
        for exporter, mine in zip(exporters, state):
            for (route, status), seen in mine["http"].items():
                for dummy in range({"200": 20, "404": 2, "500": 1}[status]):
                    seen.observe(rng.lognormvariate(-4 + ROUTES.index(route) * 0.15, 0.6))
            for seen in mine["db"].values():
                for dummy in range(10):
                    seen.observe(rng.lognormvariate(-6, 0.8))
            mine["hits"] += rng.randint(80, 95)
            mine["misses"] += rng.randint(5, 20)
            # The collector reads these while building a scrape: give it copies that no longer change.
            exporter.metrics.set(http=dict((key, snapshot(value)) for key, value in mine["http"].items()),
                                 db=dict((key, snapshot(value)) for key, value in mine["db"].items()),
                                 hits=mine["hits"], misses=mine["misses"], keys=rng.randint(20000, 60000),
                                 cache_memory=rng.uniform(2e8, 9e8), rss=rng.uniform(1.2e8, 3e8))


def snapshot(bucketed):
    copy = Bucketed(bucketed.bounds)
    copy.counts, copy.sum = list(bucketed.counts), bucketed.sum
    return copy


def guide_script(prometheus, targets):
    lines = ["set -e"]
    for target in targets:
        for query in GUIDE_QUERIES:
            lines.append("curl -sf -o /dev/null -G %s/api/v1/query --data-urlencode %s" % (
                prometheus.url, json.dumps("query=" + query % ('instance="%s"' % target))))
    return "\n".join(lines)


def main(repeats=7):
    exporters = [Exporter() for _ in range(HOSTS)]
    stop = threading.Event()
    threading.Thread(target=traffic, args=(exporters, stop), daemon=True).start()
    prometheus = PrometheusServer([exporter.target for exporter in exporters]).start()
    workdir = tempfile.mkdtemp(prefix="ie-bench-perf-")
    try:
        prometheus.wait_for_value("count(up == 1)", float(HOSTS))
        prometheus.wait_for_value("count(sum by (instance) (rate(http_request_duration_seconds_count[5m])) > 0)",
                                  float(HOSTS))
        module_args = dict(prometheus_url=prometheus.url, job="inventory_enterprise")
        args_file = os.path.join(workdir, "args.json")
        with open(args_file, "w") as handle:
            json.dump({"ANSIBLE_MODULE_ARGS": module_args}, handle)
        module = os.path.join(ROOT, "plugins", "modules", "performance_report.py")
        ours = [sys.executable, module, args_file]
        env = pb.ansible_env(PYTHONPATH=os.path.join(ROOT, "build", "collections"),
                             ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
        check = json.loads(subprocess.run(ours, env=env, capture_output=True, text=True, check=True).stdout)
        assert len(check["instances"]) == HOSTS, check["summary"]
        assert all(c["verdict"] in ("ok", "failed") for c in check["checks"]), check["checks"]
        print("report: %s; %d routes, %d instances" % (check["summary"], len(check["routes"]), len(check["instances"])))
        adhoc = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local",
                 "-i", "localhost,", "-e", "ansible_python_interpreter=%s" % sys.executable,
                 "-m", "inventory_enterprise.ops.performance_report", "-a", json.dumps(module_args)]
        baseline = ["bash", "-c", guide_script(prometheus, [exporter.target for exporter in exporters])]
        return compare("performance report, %d app servers" % HOSTS,
                       {"performance_report": ours, "ansible ad-hoc": adhoc, "guide (3 curl per host)": baseline},
                       repeats=repeats, baseline="guide (3 curl per host)", env=env,
                       notes="%d exporters, one Prometheus scraping every 1s" % HOSTS)
    finally:
        stop.set()
        prometheus.close()
        for exporter in exporters:
            exporter.close()


if __name__ == "__main__":
    main()
