# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The guide's "Performance Monitoring" as check results read from Prometheus, for one service or a fleet.

A check result is {name, verdict, value, threshold, unit, query, message}; verdict is ok, failed (over its target),
error (Prometheus down or the query refused) or no_data (no series, or no traffic in the window). Every query is
grouped so that the whole fleet costs the same few queries as one host: per-instance rows come from `by (instance)`
in the same query, not from one query per host.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _prometheus_api
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._printable import printable

OK = 'ok'
FAILED = 'failed'
ERROR = 'error'
NO_DATA = 'no_data'
VERDICTS = (OK, FAILED, ERROR, NO_DATA)

CHECK_NAMES = ('targets_up', 'api_latency', 'route_latency', 'db_latency', 'error_rate', 'cache_hit_rate',
               'cache_keys', 'cache_memory', 'process_memory')
# Checks with one row per instance; route_latency is per route across the fleet instead.
INSTANCE_CHECKS = tuple(name for name in CHECK_NAMES if name != 'route_latency')

# Defaults of the module's metric_names and label_names: what the reference service exports.
METRIC_NAMES = dict(http_duration='http_request_duration_seconds', db_duration='db_query_duration_seconds',
                    cache_hits='cache_hits_total', cache_misses='cache_misses_total', cache_keys='cache_keys',
                    cache_memory='cache_memory_bytes', process_memory='process_resident_memory_bytes')
LABEL_NAMES = dict(route='route', status='status_code', instance='instance')

GB = 1000.0 ** 3
MAX_PARALLEL_QUERIES = 8

# name: (unit, scale from the query's value to the unit, the threshold option, True when the value must stay below)
UNITS = dict(
    targets_up=('targets', 1, None, False),
    api_latency=('ms', 1000.0, 'api_p95_max_ms', True),
    route_latency=('ms', 1000.0, 'api_p95_max_ms', True),
    db_latency=('ms', 1000.0, 'db_p95_max_ms', True),
    error_rate=('percent', 100.0, 'max_error_rate', True),
    cache_hit_rate=('percent', 100.0, 'min_cache_hit_rate', False),
    cache_keys=('keys', 1, 'max_cache_keys', True),
    cache_memory=('GB', 1 / GB, 'max_cache_memory_gb', True),
    process_memory=('GB', 1 / GB, 'max_process_memory_gb', True),
)


def check_result(name, verdict, query, value=None, threshold=None, message=''):
    return dict(name=name, verdict=verdict, value=value, threshold=threshold, unit=UNITS[name][0], query=query,
                message=printable(message))


class ReportSpec(object):
    """What to ask and what to compare it with, from the module's options."""

    def __init__(self, params):
        self.params = params
        self.metric = params['metric_names']
        self.labels = params['label_names']
        self.window = params['window']
        self.quantile = params['quantile']
        self.selector = _prometheus_api.matchers(job=params['job'], instances=params['instances'],
                                                 instance_label=self.labels['instance'], extra=params['selector'])

    def query(self, name, by=()):
        metric, window, sel = self.metric, self.window, self.selector
        if name == 'targets_up':
            return _prometheus_api.gauge_query('up', sel, by or (self.labels['instance'],), aggregate='min')
        if name in ('api_latency', 'route_latency'):
            by = tuple(by) + ((self.labels['route'],) if name == 'route_latency' else ())
            return _prometheus_api.quantile_query(metric['http_duration'], self.quantile, window, sel, by)
        if name == 'db_latency':
            return _prometheus_api.quantile_query(metric['db_duration'], self.quantile, window, sel, by)
        if name == 'error_rate':
            return _prometheus_api.ratio_query(metric['http_duration'] + '_count',
                                               '%s=~"5.."' % self.labels['status'], window, sel, by)
        if name == 'cache_hit_rate':
            return _prometheus_api.hit_rate_query(metric['cache_hits'], metric['cache_misses'], window, sel, by)
        return _prometheus_api.gauge_query(metric[name], sel, by, aggregate='max')

    def latency_buckets_query(self):
        by = (self.labels['instance'], self.labels['route'])
        return _prometheus_api.buckets_query(self.metric['http_duration'], self.window, self.selector, by)

    def threshold(self, name):
        option = UNITS[name][2]
        return self.params[option] if option else None

    def describe_scope(self):
        return self.selector and '{%s}' % self.selector or 'every series'


def run_queries(client, queries):
    """{key: [(labels, value)] or PrometheusError} for every (key, expr), asked concurrently."""
    def ask(item):
        try:
            return item[0], client.query(item[1])
        except _prometheus_api.PrometheusError as exc:
            return item[0], exc
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_QUERIES, max(1, len(queries)))) as executor:
        return dict(executor.map(ask, queries))


def verdict_for(spec, name, value, query, subject):
    """ok or failed for a number already in the check's unit."""
    unit, dummy, option, upper = UNITS[name]
    threshold = spec.threshold(name)
    shown = '%s %s' % (_num(value), unit)
    if name == 'targets_up':
        down = value < 1
        return check_result(name, FAILED if down else OK, query, value, 1,
                            '%s: %s' % (subject, 'Prometheus cannot scrape it (up == 0)' if down
                                        else 'scraped (up == 1)'))
    if threshold is None:
        return check_result(name, OK, query, value, None, '%s: %s (no target set with %s)' % (subject, shown, option))
    over = value > threshold if upper else value < threshold
    relation = ('above' if upper else 'below') if over else ('<=' if upper else '>=')
    message = '%s: %s %s the target of %s %s' % (subject, shown, relation, _num(threshold), unit)
    if over:
        message += '; %s' % HINTS[name]
    return check_result(name, FAILED if over else OK, query, value, threshold, message)


HINTS = dict(
    api_latency='see the slowest routes and "API Performance" in the operations guide',
    route_latency='these routes are slower than the target: see "Identify slow endpoints" in the guide',
    db_latency='see the PostgreSQL slow-query summary and "Database Performance" in the guide',
    error_rate='read the application log for the 5xx answers',
    cache_hit_rate='warm the cache or raise the TTLs ("Optimize cache TTLs" in the guide)',
    cache_keys='check the TTLs: keys are not expiring',
    cache_memory='see "High Memory Usage" in the guide; cap Redis maxmemory',
    process_memory='see "High Memory Usage" in the guide',
)


def missing(spec, name, query, outcome, subject):
    """error or no_data result when the outcome of a query holds no usable number, else None."""
    if isinstance(outcome, Exception):
        return check_result(name, ERROR, query, threshold=spec.threshold(name),
                            message='%s: %s' % (subject, to_native(outcome)))
    if not outcome:
        return check_result(name, NO_DATA, query, threshold=spec.threshold(name),
                            message='%s: no series matched %s in %s; is that metric scraped there?'
                                    % (subject, query, spec.describe_scope()))
    return None


def to_unit(name, value):
    if not _prometheus_api.is_number(value):
        return None
    return round(value * UNITS[name][1], 3 if UNITS[name][0] == 'GB' else 2)


def fleet_check(spec, name, query, outcome):
    """The check across every series in scope (one number; route_latency one per route)."""
    subject = 'all instances' if name != 'route_latency' else 'routes'
    result = missing(spec, name, query, outcome, subject)
    if result:
        return result
    if name == 'route_latency':
        return route_check(spec, query, outcome)
    if name == 'targets_up':
        up = sum(1 for dummy, value in outcome if value == 1)
        result = check_result(name, OK if up == len(outcome) else FAILED, query, up, len(outcome),
                              '%d of %d scrape targets up' % (up, len(outcome)))
        if up < len(outcome):
            result['message'] += '; down: %s' % ', '.join(sorted(
                labels.get(spec.labels['instance'], '?') for labels, value in outcome if value != 1))
        return result
    value = to_unit(name, outcome[0][1])
    if value is None:
        return check_result(name, NO_DATA, query, threshold=spec.threshold(name),
                            message='%s: no traffic in the last %s (the rates are 0, so %s is undefined)'
                                    % (subject, spec.window, name))
    return verdict_for(spec, name, value, query, subject)


def route_rows(spec, outcome):
    """[{route, p95_ms}] slowest first; routes without traffic in the window are left out."""
    rows = [dict(route=labels.get(spec.labels['route'], ''), p95_ms=to_unit('route_latency', value))
            for labels, value in outcome]
    rows = [row for row in rows if row['p95_ms'] is not None]
    return sorted(rows, key=lambda row: (-row['p95_ms'], row['route']))


def route_check(spec, query, outcome):
    rows = route_rows(spec, outcome)
    threshold = spec.threshold('route_latency')
    if not rows:
        return check_result('route_latency', NO_DATA, query, threshold=threshold,
                            message='routes: no traffic in the last %s' % spec.window)
    slow = [row for row in rows if threshold is not None and row['p95_ms'] > threshold]
    value = dict((row['route'], row['p95_ms']) for row in rows)
    if slow:
        return check_result('route_latency', FAILED, query, value, threshold,
                            '%d of %d routes above the p95 target of %s ms: %s; %s' % (
                                len(slow), len(rows), _num(threshold),
                                ', '.join('%s %s ms' % (row['route'], _num(row['p95_ms'])) for row in slow),
                                HINTS['route_latency']))
    return check_result('route_latency', OK, query, value, threshold,
                        '%d routes, slowest %s at %s ms' % (len(rows), rows[0]['route'], _num(rows[0]['p95_ms'])))


def _num(value):
    if isinstance(value, float):
        return ('%.3f' % value).rstrip('0').rstrip('.')
    return str(value)


# ----------------------------------------------------------------------------------------- per instance

def instance_check(spec, name, query, outcome, instance):
    subject = 'instance %s' % instance
    result = missing(spec, name, query, outcome, subject)
    if result:
        return result
    label = spec.labels['instance']
    found = [value for labels, value in outcome if labels.get(label) == instance]
    if not found:
        return check_result(name, NO_DATA, query, threshold=spec.threshold(name),
                            message='%s: no series for this instance in %s' % (subject, query))
    if name == 'targets_up':
        return verdict_for(spec, name, found[0], query, subject)
    value = to_unit(name, found[0])
    if value is None:
        return check_result(name, NO_DATA, query, threshold=spec.threshold(name),
                            message='%s: no traffic in the last %s' % (subject, spec.window))
    return verdict_for(spec, name, value, query, subject)


def known_instances(spec, outcomes):
    """The instances asked for, else every instance any answer named (up first: it lists unscrapable ones)."""
    if spec.params['instances']:
        return list(spec.params['instances'])
    label, seen = spec.labels['instance'], []
    for outcome in outcomes:
        if isinstance(outcome, list):
            for labels, dummy in outcome:
                if label in labels and labels[label] not in seen:
                    seen.append(labels[label])
    return sorted(seen)


def instance_rows(spec, names, queries, outcomes):
    ordered = [outcomes[('instance', name)] for name in names]
    rows = []
    for instance in known_instances(spec, ordered):
        checks = [instance_check(spec, name, queries[('instance', name)], outcomes[('instance', name)], instance)
                  for name in names]
        rows.append(row_summary(instance, checks))
    return rows


def row_summary(label, checks):
    bad = [check['name'] for check in checks if check['verdict'] != OK]
    return dict(instance=label, checks=checks, ok=not bad, failed_checks=bad, summary=summarize(checks, label))


def summarize(checks, label):
    counts = []
    for verdict in VERDICTS:
        names = [check['name'] for check in checks if check['verdict'] == verdict]
        if names:
            counts.append('%d %s%s' % (len(names), verdict, '' if verdict == OK else ' (%s)' % ', '.join(names)))
    return '%s: %s' % (label, ', '.join(counts) or 'no checks')


# --------------------------------------------------------------------------------------------- report

def build_report(client, spec, names, by_instance, slowest_count):
    """Every query at once, then the fleet checks, the per-instance rows and the route table."""
    queries = dict((('fleet', name), spec.query(name)) for name in names)
    instance_names = [name for name in names if name in INSTANCE_CHECKS] if by_instance else []
    queries.update((('instance', name), spec.query(name, by=(spec.labels['instance'],))) for name in instance_names)
    latency = [key for key in queries if key[1] in ('api_latency', 'route_latency')]
    asked = [(key, expr) for key, expr in queries.items() if key not in latency]
    if latency:
        asked.append((LATENCY_BUCKETS, spec.latency_buckets_query()))
    outcomes = run_queries(client, asked)
    outcomes.update(latency_outcomes(spec, latency, outcomes.pop(LATENCY_BUCKETS, None)))
    checks = [fleet_check(spec, name, queries[('fleet', name)], outcomes[('fleet', name)]) for name in names]
    routes = []
    if 'route_latency' in names and isinstance(outcomes[('fleet', 'route_latency')], list):
        routes = route_rows(spec, outcomes[('fleet', 'route_latency')])
    return dict(checks=checks, routes=routes, slowest_routes=routes[:slowest_count],
                instances=instance_rows(spec, instance_names, queries, outcomes) if instance_names else [])


LATENCY_BUCKETS = ('buckets', 'http')


def latency_outcomes(spec, keys, buckets):
    """The API latency quantiles (fleet, per instance, per route) from the one bucket query, in the shape the
    equivalent histogram_quantile query would have been answered; its error or emptiness is theirs."""
    outcomes = {}
    for key in keys:
        if not isinstance(buckets, list) or not buckets:
            outcomes[key] = buckets
            continue
        labels = {('fleet', 'api_latency'): (), ('instance', 'api_latency'): (spec.labels['instance'],),
                  ('fleet', 'route_latency'): (spec.labels['route'],)}[key]
        outcomes[key] = _prometheus_api.quantiles_by(spec.quantile, buckets, labels)
    return outcomes
