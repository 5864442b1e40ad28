"""A private Prometheus (Debian's binary) on a free port scraping given targets every second, and exporters
serving histograms whose bucket counts a test sets exactly, so the quantile Prometheus must answer is known."""
import bisect
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from .servers import _die_with_parent, free_port, wait_for_port

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
DB_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class PrometheusServer:
    """prometheus with a temporary storage directory; targets are host:port strings scraped as job `job`."""

    def __init__(self, targets, job="inventory_enterprise", scrape_interval="1s", retention=None, rule_files=(),
                 evaluation_interval="1m"):
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="ie-prometheus-")
        self.job, self.targets, self.scrape_interval = job, list(targets), scrape_interval
        # Alerting and recording rules, evaluated every evaluation_interval (1s: an alert without `for` fires at once).
        self.rule_files, self.evaluation_interval = list(rule_files), evaluation_interval
        # Backfilled history (tests/support/prometheus_history.py) spanning more than the default 15 days needs a
        # longer one: Prometheus deletes blocks that end that long before its newest block, on start.
        self.retention = retention
        self.proc = None

    @property
    def data_dir(self):
        """The storage directory; blocks backfilled into it before start() are served."""
        return os.path.join(self.workdir, "data")

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=30.0):
        binary = shutil.which("prometheus")
        if not binary:
            raise RuntimeError("prometheus is not installed: tests/setup-system.sh installs Debian's package")
        config = os.path.join(self.workdir, "prometheus.yml")
        with open(config, "w") as handle:
            # JSON is YAML: no YAML library needed here.
            json.dump({"global": {"scrape_interval": self.scrape_interval,
                                  "evaluation_interval": self.evaluation_interval},
                       "rule_files": self.rule_files,
                       "scrape_configs": [{"job_name": self.job, "static_configs": [{"targets": self.targets}]}]},
                      handle)
        retention = ["--storage.tsdb.retention.time", self.retention] if self.retention else []
        self.proc = subprocess.Popen(
            [binary, "--config.file", config, "--storage.tsdb.path", self.data_dir,
             "--web.listen-address", "127.0.0.1:%d" % self.port, "--log.level", "warn"] + retention,
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.workdir, "prometheus.log"), "w"),
            preexec_fn=_die_with_parent)
        wait_for_port("127.0.0.1", self.port, timeout)
        self.wait_for(lambda: self.get("/-/ready") is not None, timeout, "Prometheus ready")
        return self

    def get(self, path):
        try:
            # Generous: on a machine busy with other suites a query over thousands of series can take seconds.
            with urllib.request.urlopen(self.url + path, timeout=30) as resp:
                return resp.read()
        except OSError:
            return None

    def query(self, expr):
        """[(labels, float value)] of an instant query."""
        body = self.get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        if body is None:
            return []
        return [(item["metric"], float(item["value"][1])) for item in json.loads(body)["data"]["result"]]

    def wait_for(self, predicate, timeout=30.0, what="condition"):
        """Poll until predicate() is true (scrapes happen every scrape_interval); never a fixed sleep."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise TimeoutError("Prometheus at %s: no %s after %ss" % (self.url, what, timeout))

    def wait_for_value(self, expr, expected, timeout=30.0):
        """Until the instant query's value (one series) equals expected: the scrape after a change has landed."""
        self.wait_for(lambda: [value for dummy, value in self.query(expr)] == [expected], timeout,
                      "%s == %s" % (expr, expected))

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)
        shutil.rmtree(self.workdir, ignore_errors=True)


class TextfileExporter:
    """Debian's node_exporter serving only its textfile collector: the *.prom files of `directory`, as the
    collection's metrics (backup, model review, procedure metrics) reach Prometheus on a real host."""

    def __init__(self, directory):
        self.directory, self.port, self.proc = directory, free_port(), None

    @property
    def target(self):
        return "127.0.0.1:%d" % self.port

    def start(self, timeout=30.0):
        binary = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
        if not binary:
            raise RuntimeError("node_exporter is not installed: tests/setup-system.sh installs Debian's "
                               "prometheus-node-exporter package")
        self.proc = subprocess.Popen(
            [binary, "--collector.disable-defaults", "--collector.textfile",
             "--collector.textfile.directory", self.directory, "--web.listen-address", self.target,
             "--log.level", "warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        wait_for_port("127.0.0.1", self.port, timeout)
        return self

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)


def backfill(storage_dir, openmetrics):
    """Write past samples (OpenMetrics text with timestamps, ending in # EOF) into a Prometheus storage directory
    with promtool, before a server starts on it. One block per 100 days: promtool's default of one per 2 hours
    makes a quarter of history cost 40 s and hundreds of blocks."""
    promtool = shutil.which("promtool")
    if not promtool:
        raise RuntimeError("promtool is not installed: tests/setup-system.sh installs Debian's prometheus package")
    os.makedirs(storage_dir, exist_ok=True)
    source = os.path.join(storage_dir, "backfill.om")
    with open(source, "w") as handle:
        handle.write(openmetrics)
    try:
        proc = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=2400h",
                               source, storage_dir], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120,
                              check=False)
    finally:
        os.unlink(source)
    if proc.returncode:
        raise RuntimeError("promtool could not backfill %s: %s" % (storage_dir, proc.stderr.decode()[-2000:]))


class KnownMetrics:
    """The metrics of one service instance as exact numbers; set() swaps them whole, so a scrape never sees a
    half-written state. Latencies are bucket counts per route; cumulative counts are built at collect time.

    Samples carry the timestamp given to set() (Prometheus honours exposed timestamps): instances set at the
    same `at` have samples at the same instants, so their rates are extrapolated alike and a quantile across
    instances is as exact as one within an instance."""

    def __init__(self):
        self.lock = threading.Lock()
        self.state = dict(http={}, db={}, hits=0, misses=0, keys=None, cache_memory=None, rss=150e6, at=time.time())

    def set(self, at=None, **changes):
        with self.lock:
            self.state = dict(self.state, at=at or time.time(), **changes)

    def collect(self):
        with self.lock:
            state = self.state
        http = HistogramMetricFamily("http_request_duration_seconds", "HTTP request duration",
                                     labels=["method", "route", "status_code"])
        for (route, status), observations in sorted(state["http"].items()):
            http.add_metric(["GET", route, status], *_buckets(observations, HTTP_BUCKETS), timestamp=state["at"])
        yield http
        db = HistogramMetricFamily("db_query_duration_seconds", "Database query duration", labels=["operation"])
        for operation, observations in sorted(state["db"].items()):
            db.add_metric([operation], *_buckets(observations, DB_BUCKETS), timestamp=state["at"])
        yield db
        for name, key in (("cache_hits", "hits"), ("cache_misses", "misses")):
            counter = CounterMetricFamily(name, name, labels=[])
            counter.add_metric([], state[key], timestamp=state["at"])
            yield counter
        for name, key in (("cache_keys", "keys"), ("cache_memory_bytes", "cache_memory"),
                          ("process_resident_memory_bytes", "rss")):
            if state[key] is not None:
                gauge = GaugeMetricFamily(name, name, labels=[])
                gauge.add_metric([], state[key], timestamp=state["at"])
                yield gauge


class Bucketed:
    """Observations already counted per bucket (not cumulative; the last count is +Inf's), for exporters that
    serve a lot of traffic without keeping every observation (bench/performance_report.py)."""

    def __init__(self, bounds):
        self.bounds, self.counts, self.sum = tuple(bounds), [0] * (len(bounds) + 1), 0.0

    def observe(self, value):
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value


def _buckets(observations, bounds):
    """(cumulative [(le, count)], sum) of a list of observed seconds, or of a Bucketed."""
    if isinstance(observations, Bucketed):
        running, counts = 0, []
        for le, count in zip([("%g" % bound) for bound in bounds] + ["+Inf"], observations.counts):
            running += count
            counts.append((le, float(running)))
        return counts, observations.sum
    counts = [(("%g" % bound), float(sum(1 for value in observations if value <= bound))) for bound in bounds]
    counts.append(("+Inf", float(len(observations))))
    return counts, sum(observations)


class Exporter:
    """An HTTP /metrics endpoint on a free port serving one KnownMetrics."""

    def __init__(self):
        self.metrics = KnownMetrics()
        self.registry = CollectorRegistry()
        self.registry.register(self.metrics)
        registry = self.registry

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802  (http.server's name)
                body = generate_latest(registry)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the scraper gave up (timeout): nothing to answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs=dict(poll_interval=0.1), daemon=True).start()

    @property
    def target(self):
        return "127.0.0.1:%d" % self.httpd.server_address[1]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def expected_quantile(q, observations, bounds):
    """What Prometheus's histogram_quantile answers for these observations: linear inside the bucket of rank q*n."""
    counts, dummy = _buckets(observations, bounds)
    rank = q * len(observations)
    lower, below = 0.0, 0.0
    for le, count in counts:
        if count >= rank:
            upper = float(le) if le != "+Inf" else lower
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = float(le), count
    return lower
