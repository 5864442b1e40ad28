"""Prometheus metrics, each app on its own registry so tests can build several apps in one process."""
import contextlib
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, ProcessCollector, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: F401  (re-exported for the /metrics route)


class Metrics:
    def __init__(self, version):
        self.registry = CollectorRegistry()
        self.http_duration = Histogram(
            "http_request_duration_seconds", "HTTP request duration", ["method", "route", "status_code"],
            registry=self.registry)
        self.db_duration = Histogram(
            "db_query_duration_seconds", "Database query duration", ["operation"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry)
        self.dual_write_errors = Counter(
            "db_dual_write_errors", "Failed PostgreSQL mirror writes while dual-write is enabled",
            registry=self.registry)
        # Labelled by cache family (the key's first segment: inventory, dashboard), a small fixed set.
        self.cache_hits = Counter("cache_hits", "Read cache hits", ["cache"], registry=self.registry)
        self.cache_misses = Counter("cache_misses", "Read cache misses", ["cache"], registry=self.registry)
        self.health = Gauge(
            "system_health_status", "1 when the component answers its probe, else 0", ["component"],
            registry=self.registry)
        Info("app", "Service build information", registry=self.registry).info({"version": version})
        ProcessCollector(registry=self.registry)

    @contextlib.contextmanager
    def db_timer(self, operation):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.db_duration.labels(operation=operation).observe(time.perf_counter() - start)

    def render(self):
        return generate_latest(self.registry)
