"""A history of the service's metrics as Prometheus would have scraped it (latency histograms per route, cache hit
and miss counters, 5xx answers), written as OpenMetrics with timestamps and backfilled into a Prometheus data
directory with promtool, so that a review of last month has a last month to read.

    history = write_openmetrics(path, start, end, 3600, routes={"/api/inventory/list": Latency(0.04)},
                                hit_rate=0.9, errors=0.01)
    backfill(PrometheusServer([], retention="3650d").data_dir, path)

The series are named and labelled as the reference service exports them (prometheus_client's spelling of `le`,
counters with `_total`), plus the `job` and `instance` a scrape would add, so backfilled and live data are the same
series. The histogram's `_count` is the request counter (performance_report reads 5xx shares from it).
Values are drawn from a seeded generator: the same arguments give the same file, and the History returned keeps
what was drawn, for the expected figures."""
import bisect
import datetime
import math
import random

from . import prometheus
from .prometheus import HTTP_BUCKETS

HTTP_METRIC = "http_request_duration_seconds"


class Latency:
    """One route's traffic: `per_step` requests each step, log-normal latencies around `median` seconds (`sigma`
    the spread of the log), the median growing by `growth_per_day` (0.02: 2% a day) from the start."""

    def __init__(self, median, sigma=0.4, per_step=20, growth_per_day=0.0):
        self.median, self.sigma, self.per_step, self.growth_per_day = median, sigma, per_step, growth_per_day

    def draw(self, rng, days):
        median = self.median * (1.0 + self.growth_per_day) ** days
        return rng.lognormvariate(math.log(median), self.sigma)


class History:
    """What write_openmetrics drew: per route [(time, seconds, status)] (with keep_observations) and per step
    (time, hits, misses) of the cache, times in Unix seconds; each step's values belong to (time - step, time]."""

    def __init__(self, start, end, step):
        self.start, self.end, self.step = start, end, step
        self.observations = {}
        self.cache = []

    def latencies(self, route, since=None, until=None, status=None):
        """Seconds observed on `route` in (since, until], all statuses unless one is named."""
        return [seconds for when, seconds, code in self.observations[route]
                if _inside(when, since, until) and (status is None or code == status)]

    def hit_rate(self, since=None, until=None):
        hits = sum(h for when, h, m in self.cache if _inside(when, since, until))
        lookups = sum(h + m for when, h, m in self.cache if _inside(when, since, until))
        return hits / lookups if lookups else None

    def share_5xx(self, since=None, until=None):
        codes = [code for rows in self.observations.values() for when, dummy, code in rows
                 if _inside(when, since, until)]
        return sum(1 for code in codes if code.startswith("5")) / len(codes) if codes else None


def _inside(when, since, until):
    return (since is None or when > _epoch(since)) and (until is None or when <= _epoch(until))


def _epoch(moment):
    if isinstance(moment, datetime.datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment.timestamp()
    return float(moment)


def _seconds(step):
    return step.total_seconds() if isinstance(step, datetime.timedelta) else float(step)


def _share(value, when):
    return value(when) if callable(value) else value


def _labels(pairs):
    return "{%s}" % ",".join('%s="%s"' % (name, str(value).replace("\\", "\\\\").replace('"', '\\"'))
                             for name, value in pairs)


def _ts(when):
    return "%d" % when if float(when).is_integer() else "%.3f" % when


def _le(bound):
    # prometheus_client's spelling (0.005, 1.0, 10.0, +Inf): the live exporter's series have these labels.
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def write_openmetrics(path, start, end, step, routes, hit_rate=0.9, errors=0.0, lookups_per_step=100,
                      job="inventory_enterprise", instance="app1:8083", seed=1, keep_observations=True,
                      buckets=HTTP_BUCKETS):
    """Write the history from `start` to `end` (datetimes, or Unix seconds) every `step` (seconds or a
    timedelta) to `path`; returns the History.

    routes: {route template: Latency}. hit_rate and errors (the share of requests answered 500) are numbers or
    functions of the Unix time. Counters start at 0 at `start`; each later sample adds one step of traffic.
    """
    first, last, step = _epoch(start), _epoch(end), _seconds(step)
    times = [first + index * step for index in range(int((last - first) // step) + 1)]
    history = History(first, last, step)
    bounds = list(buckets) + [float("inf")]
    with_5xx = callable(errors) or errors > 0
    with open(path, "w") as out:
        out.write("# TYPE %s histogram\n# HELP %s HTTP request duration\n" % (HTTP_METRIC, HTTP_METRIC))
        for number, (route, latency) in enumerate(sorted(routes.items())):
            rng = random.Random("%s/%d/%s" % (seed, number, route))
            statuses = ["200", "500"] if with_5xx else ["200"]
            counts = dict((code, [0] * len(bounds)) for code in statuses)
            sums = dict((code, 0.0) for code in statuses)
            rows = dict((code, []) for code in statuses)
            kept = history.observations.setdefault(route, [])
            for index, when in enumerate(times):
                if index:
                    days = (when - first) / 86400.0
                    share = _share(errors, when)
                    for dummy in range(latency.per_step):
                        seconds = latency.draw(rng, days)
                        code = "500" if with_5xx and rng.random() < share else "200"
                        counts[code][bisect.bisect_left(bounds, seconds)] += 1
                        sums[code] += seconds
                        if keep_observations:
                            kept.append((when, seconds, code))
                for code in statuses:
                    rows[code].append((when, list(counts[code]), sums[code]))
            for code in statuses:
                base = [("job", job), ("instance", instance), ("method", "GET"), ("route", route),
                        ("status_code", code)]
                for when, bucket_counts, total in rows[code]:
                    stamp, running = _ts(when), 0
                    for bound, count in zip(bounds, bucket_counts):
                        running += count
                        out.write("%s_bucket%s %d %s\n" % (HTTP_METRIC, _labels(base + [("le", _le(bound))]),
                                                           running, stamp))
                    out.write("%s_count%s %d %s\n" % (HTTP_METRIC, _labels(base), running, stamp))
                    out.write("%s_sum%s %r %s\n" % (HTTP_METRIC, _labels(base), total, stamp))
        _write_cache(out, history, times, hit_rate, lookups_per_step, job, instance)
        out.write("# EOF\n")
    return history


def _write_cache(out, history, times, hit_rate, lookups_per_step, job, instance):
    hits = misses = 0
    values = []
    for index, when in enumerate(times):
        if index:
            step_hits = int(round(lookups_per_step * _share(hit_rate, when)))
            history.cache.append((when, step_hits, lookups_per_step - step_hits))
            hits, misses = hits + step_hits, misses + lookups_per_step - step_hits
        values.append((when, hits, misses))
    labels = _labels([("job", job), ("instance", instance), ("cache", "inventory")])
    for name, position in (("cache_hits", 1), ("cache_misses", 2)):
        out.write("# TYPE %s counter\n# HELP %s Read cache %s\n" % (name, name, name.split("_")[1]))
        for row in values:
            out.write("%s_total%s %d %s\n" % (name, labels, row[position], _ts(row[0])))


def backfill(data_dir, openmetrics_path):
    """Turn an OpenMetrics file with timestamps into TSDB blocks in `data_dir` (before Prometheus starts on it),
    with tests/support/prometheus.py's backfill (one promtool run, long blocks)."""
    with open(openmetrics_path) as handle:
        prometheus.backfill(data_dir, handle.read())
