# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The monthly performance review (module performance_review): the window it covers, the review result shape
(findings, figures, series, unavailable), and the Prometheus part: the window's p95 overall and per route, the
cache hit rate and the 5xx share, each also per day, evaluated at the window's end.

The other sources have their own homes: _performance_logs (errors and backups from the logs), _model_accuracy
(the model registry's MAPE history) and _dr_drills (the DR drill records)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import calendar
import datetime
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _prometheus_api, _service_layout
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._review_result import ReviewResult

SOURCES = ('prometheus', 'logs', 'backups', 'models', 'dr_drills')
PERIODS = ('previous_month', 'month', 'month_to_date', 'last_days')
MONTH_RE = re.compile(r'^(\d{4})-(0[1-9]|1[0-2])$')
DAY = datetime.timedelta(days=1)
QUANTILE = 0.95
# Defaults of the module's metric_names and label_names: what the reference service exports.
METRIC_NAMES = dict(http_duration='http_request_duration_seconds', cache_hits='cache_hits_total',
                    cache_misses='cache_misses_total')
LABEL_NAMES = dict(route='route', status='status_code')
MAX_PARALLEL_QUERIES = 4


class WindowError(Exception):
    pass


# ------------------------------------------------------------------------------------------------ window

def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def month_start(year, month):
    return datetime.datetime(year, month, 1, tzinfo=datetime.timezone.utc)


def add_months(moment, months):
    index = moment.year * 12 + moment.month - 1 + months
    return month_start(index // 12, index % 12 + 1)


def window(period, month=None, days=None, now=None):
    """{start, end, period, days}: start included, end excluded, both UTC; days counts the days it touches.

    previous_month: the whole previous calendar month (the guide runs the review on the 1st); month: the named
    month, once it has ended; month_to_date: this month until now; last_days: the `days` whole days before
    today (UTC), so each day of the daily series is a whole day and a rerun the same day reads the same window."""
    now = now or utc_now()
    this_month = month_start(now.year, now.month)
    if period == 'previous_month':
        start, end = add_months(this_month, -1), this_month
    elif period == 'month':
        match = MONTH_RE.match(month or '')
        if not match:
            raise WindowError('period=month needs month as YYYY-MM, got %r' % (month,))
        start = month_start(int(match.group(1)), int(match.group(2)))
        end = add_months(start, 1)
        if end > now:
            raise WindowError('month %s has not ended yet (now %s): review it from the 1st of the next month, or '
                              'use period=last_days' % (month, iso(now)))
    elif period == 'month_to_date':
        start, end = this_month, now
    elif period == 'last_days':
        if not days or days < 1:
            raise WindowError('period=last_days needs days of at least 1, got %r' % (days,))
        end = now.replace(hour=0, minute=0, second=0, microsecond=0)
        start = end - datetime.timedelta(days=days)
    else:
        raise WindowError('period must be one of %s, got %r' % (', '.join(PERIODS), period))
    if end <= start:
        raise WindowError('the window %s..%s is empty: the month has just begun; review the previous month'
                          % (iso(start), iso(end)))
    return dict(start=start, end=end, period=period, days=int(math.ceil((end - start).total_seconds() / 86400.0)))


def days_of(win):
    """The start of every UTC day of the window."""
    day, found = win['start'], []
    while day < win['end']:
        found.append(day)
        day += DAY
    return found


def last_day_of_month(start):
    return start.replace(day=calendar.monthrange(start.year, start.month)[1], hour=23, minute=59, second=59)


# --------------------------------------------------------------------------------------- result shape

class Review(ReviewResult):
    """The common review result, and which sources gave anything at all (a review that could read nothing fails)."""

    def __init__(self, name):
        ReviewResult.__init__(self, name)
        self.read = set()


def rounded(value, digits=2):
    return None if value is None else round(value, digits)


def median(values):
    values = sorted(values)
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2.0


def nearest_rank(values, quantile):
    values = sorted(values)
    if not values:
        return None
    return values[max(0, int(math.ceil(quantile * len(values))) - 1)]


def describe(value):
    if isinstance(value, float):
        return ('%.2f' % value).rstrip('0').rstrip('.')
    return str(value)


# ------------------------------------------------------------------------------------------ Prometheus

class PrometheusPart(object):
    """The Prometheus checks of the review: increases over the whole window (and over each day) evaluated at
    the window's end, so the figures are the window's, whenever the review runs."""

    def __init__(self, client, params, win):
        self.client, self.params, self.win = client, params, win
        self.metric, self.labels = params['metric_names'], params['label_names']
        self.selector = _prometheus_api.matchers(job=params['job'], instances=params['instances'],
                                                 extra=params['selector'])
        self.range = '%ds' % int((win['end'] - win['start']).total_seconds())

    def _increase(self, metric, window, more=None, by=None):
        grouping = 'sum by (%s)' % ', '.join(by) if by else 'sum'
        return '%s (increase(%s[%s]))' % (grouping, _prometheus_api.with_matchers(metric, self.selector, more), window)

    def p95(self, window, by=()):
        buckets = self._increase(self.metric['http_duration'] + '_bucket', window, by=('le',) + tuple(by))
        return 'histogram_quantile(%s, %s)' % (QUANTILE, buckets)

    def hit_rate(self, window):
        hits = self._increase(self.metric['cache_hits'], window)
        misses = self._increase(self.metric['cache_misses'], window)
        return '%s / (%s + %s)' % (hits, hits, misses)

    def share_5xx(self, window):
        count = self.metric['http_duration'] + '_count'
        whole = self._increase(count, window)
        part = self._increase(count, window, more='%s=~"5.."' % self.labels['status'])
        # `or whole * 0`: a window without any 5xx series is a share of 0, not no data.
        return '(%s or %s * 0) / %s' % (part, whole, whole)

    def requests(self, window):
        return self._increase(self.metric['http_duration'] + '_count', window)

    def queries(self):
        """{check: (instant or range, PromQL)}."""
        month, day = self.range, '1d'
        queries = dict(
            p95=('instant', self.p95(month)),
            route_p95=('instant', self.p95(month, by=(self.labels['route'],))),
            route_requests=('instant', self._increase(self.metric['http_duration'] + '_count', month,
                                                      by=(self.labels['route'],))),
            requests=('instant', self.requests(month)),
            cache_hit_rate=('instant', self.hit_rate(month)),
            http_5xx_rate=('instant', self.share_5xx(month)),
            p95_daily=('range', self.p95(day)),
            cache_hit_rate_daily=('range', self.hit_rate(day)),
            http_5xx_rate_daily=('range', self.share_5xx(day)),
        )
        if self.win['end'] - self.win['start'] < DAY:
            queries = dict((name, query) for name, query in queries.items() if query[0] == 'instant')
        return queries

    def ask(self, item):
        name, (kind, expr) = item
        end = self.win['end'].timestamp()
        try:
            if kind == 'instant':
                return name, self.client.query(expr, at=end)
            return name, self.client.query_range(expr, self.win['start'].timestamp() + 86400, end, 86400)
        except _prometheus_api.PrometheusError as exc:
            return name, exc

    def run(self, review):
        queries = self.queries()
        with ThreadPoolExecutor(max_workers=MAX_PARALLEL_QUERIES) as executor:
            outcomes = dict(executor.map(self.ask, sorted(queries.items())))
        answered = [name for name, outcome in outcomes.items() if not isinstance(outcome, Exception)]
        if answered:
            review.read.add('prometheus')
        self.overall(review, queries, outcomes)
        self.routes(review, queries, outcomes)
        self.cache(review, queries, outcomes)
        self.errors(review, queries, outcomes)
        self.daily(review, queries, outcomes)

    def scalar(self, review, name, queries, outcomes):
        """The one finite value of an instant answer, else None with the reason in `unavailable`."""
        outcome = outcomes[name]
        if isinstance(outcome, Exception):
            review.missing('prometheus', '%s: %s' % (name, outcome))
            return None
        values = [value for dummy, value in outcome if _prometheus_api.is_number(value)]
        if not values:
            review.missing('prometheus', '%s: no data in %s..%s for %s (no series, or no traffic: the quantile and '
                                         'the rates are undefined)' % (name, iso(self.win['start']),
                                                                       iso(self.win['end']), queries[name][1]))
            return None
        return values[0]

    def overall(self, review, queries, outcomes):
        target = self.params['api_p95_max_ms']
        value = self.scalar(review, 'p95', queries, outcomes)
        p95 = rounded(value * 1000.0) if value is not None else None
        review.figures['p95_ms'] = p95
        requests = outcomes['requests']
        total = [value for dummy, value in requests if _prometheus_api.is_number(value)] \
            if not isinstance(requests, Exception) else []
        review.figures['requests'] = int(round(total[0])) if total else None
        if p95 is not None and p95 > target:
            review.finding('p95_over_target', 'high', 'p95 latency of all routes was %s ms over %s..%s, above the '
                           'target of %s ms: see the slowest routes and "API Performance" in the operations guide'
                           % (describe(p95), iso(self.win['start']), iso(self.win['end']), describe(target)),
                           'all routes', p95, target)

    def routes(self, review, queries, outcomes):
        target = self.params['api_p95_max_ms']
        outcome = outcomes['route_p95']
        if isinstance(outcome, Exception):
            review.missing('prometheus', 'route_p95: %s' % outcome)
            return
        label = self.labels['route']
        rows = sorted(((labels.get(label, ''), rounded(value * 1000.0)) for labels, value in outcome
                       if _prometheus_api.is_number(value)), key=lambda row: (-row[1], row[0]))
        if not rows:
            review.missing('prometheus', 'route_p95: no route had traffic in the window (%s)' % queries['route_p95'][1])
            return
        review.add_series('p95_by_route', 'category', 'ms', 'p95 latency per route', [list(row) for row in rows],
                          target=target)
        review.figures['routes'] = len(rows)
        review.figures['routes_over_target'] = sum(1 for dummy, p95 in rows if p95 > target)
        counts = outcomes['route_requests']
        requests = {} if isinstance(counts, Exception) else dict(
            (labels.get(label, ''), value) for labels, value in counts if _prometheus_api.is_number(value))
        for route, p95 in rows:
            if p95 > target:
                review.finding('route_p95_over_target', 'medium', 'route %s: p95 %s ms over the window (%s requests), '
                               'above the target of %s ms: see "Identify slow endpoints" in the operations guide'
                               % (route, describe(p95), _count(requests.get(route)), describe(target)),
                               route, p95, target)

    def cache(self, review, queries, outcomes):
        target = self.params['min_cache_hit_rate']
        value = self.scalar(review, 'cache_hit_rate', queries, outcomes)
        rate = rounded(value * 100.0) if value is not None else None
        review.figures['cache_hit_rate'] = rate
        if rate is not None and rate < target:
            review.finding('cache_hit_rate_below_target', 'medium', 'cache hit rate %s%% over the window, below the '
                           'target of %s%%: run playbooks/runbooks/cache_misses.yml (diagnose, warm, raise TTLs)'
                           % (describe(rate), describe(target)), 'cache', rate, target)

    def errors(self, review, queries, outcomes):
        limit = self.params['max_error_rate']
        value = self.scalar(review, 'http_5xx_rate', queries, outcomes)
        rate = rounded(value * 100.0, 3) if value is not None else None
        review.figures['http_5xx_rate'] = rate
        if rate is not None and limit is not None and rate > limit:
            review.finding('http_5xx_rate_over_target', 'medium', '%s%% of the answers over the window were 5xx, above '
                           '%s%%: read the top errors of the logs' % (describe(rate), describe(limit)),
                           'HTTP answers', rate, limit)

    def daily(self, review, queries, outcomes):
        specs = (('p95_daily', 'ms', 1000.0, 'p95 latency per day', self.params['api_p95_max_ms']),
                 ('cache_hit_rate_daily', 'percent', 100.0, 'Cache hit rate per day', self.params['min_cache_hit_rate']),
                 ('http_5xx_rate_daily', 'percent', 100.0, 'Share of 5xx answers per day', self.params['max_error_rate']))
        for name, unit, scale, title, target in specs:
            if name not in outcomes:
                review.missing('prometheus', '%s: the window is shorter than a day' % name)
                continue
            outcome = outcomes[name]
            if isinstance(outcome, Exception):
                review.missing('prometheus', '%s: %s' % (name, outcome))
                continue
            # Each point is the day ending at its time; it is shown at the day's start.
            points = [[iso(datetime.datetime.fromtimestamp(when - 86400, datetime.timezone.utc)),
                       rounded(value * scale, 3)]
                      for dummy, values in outcome[:1] for when, value in values if _prometheus_api.is_number(value)]
            if not points:
                review.missing('prometheus', '%s: no data per day in the window (%s)' % (name, queries[name][1]))
                continue
            review.add_series(name, 'time', unit, title, points, target=target)
            if name == 'p95_daily':
                review.figures['p95_days_over_target'] = sum(1 for dummy, value in points if value > target)


def _count(value):
    return 'no count of' if value is None else '%d' % round(value)


def invalid_params(params):
    """What is wrong with the module's options, or None."""
    for name in ('top_errors', 'worst_items', 'accuracy_months', 'dr_history_months'):
        if params[name] < 1:
            return '%s must be at least 1, got %d' % (name, params[name])
    if params['prometheus_timeout'] <= 0:
        return 'prometheus_timeout must be greater than 0, got %s' % params['prometheus_timeout']
    for option in ('label_names', 'metric_names'):
        bad = sorted('%s=%r' % item for item in params[option].items() if not _prometheus_api.LABEL_NAME.match(item[1]))
        if bad:
            return '%s must be Prometheus names ([a-zA-Z_][a-zA-Z0-9_]*): %s' % (option, ', '.join(bad))
    return None


def local_paths(params):
    """The directories the local sources read; the service's .env is read only for what no option names."""
    paths = _service_layout.service_paths_from_params(params)
    home = paths['service_home']
    return dict(log_dir=params['log_dir'] or paths['log_dir'], backup_dir=params['backup_dir'] or paths['backup_dir'],
                database_path=paths['database_path'],
                model_export_dir=params['model_export_dir'] or os.path.join(home, 'reports', 'ai-models'),
                dr_drill_dir=params['dr_drill_dir'] or os.path.join(home, 'dr-drills'))
