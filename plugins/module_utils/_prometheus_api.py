# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Instant and range queries against Prometheus's HTTP API (/api/v1/query, /api/v1/query_range), its alerting
rules (/api/v1/rules), and the PromQL the performance report asks.

The HTTP goes through the collection's one client (_api.ApiClient); every failure becomes a PrometheusError whose
message names the query, the server and what to do, so a report can show it per check instead of a silent zero.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import re
from urllib.parse import urlencode

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import ApiClient, ApiError, excerpt

QUERY_PATH = 'api/v1/query'
RANGE_PATH = 'api/v1/query_range'
RULES_PATH = 'api/v1/rules'
LABEL_NAME = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*$')
DURATION = re.compile(r'^[0-9]+(ms|s|m|h|d|w|y)$')


def prometheus_argument_spec():
    """Options of every module that reads Prometheus (doc fragment inventory_enterprise.ops.prometheus)."""
    return dict(
        prometheus_url=dict(type='str', default='http://localhost:9090'),
        prometheus_timeout=dict(type='float', default=10.0),
        prometheus_token=dict(type='str', no_log=True),
        validate_certs=dict(type='bool', default=True),
        job=dict(type='str'),
        instances=dict(type='list', elements='str'),
        selector=dict(type='str'),
    )


def client_from_params(params):
    return PrometheusClient(params['prometheus_url'], timeout=params['prometheus_timeout'],
                            validate_certs=params['validate_certs'], token=params['prometheus_token'])


class PrometheusError(Exception):
    """A query that could not be answered: Prometheus down, refused the query, or answered nonsense."""


class PrometheusClient(object):
    """Instant queries; returns [(labels dict, float value)] for a vector, [({}, value)] for a scalar."""

    def __init__(self, url, timeout=10.0, validate_certs=True, token=None):
        self.url = url.rstrip('/')
        self.api = ApiClient(base_url=url, timeout=timeout, validate_certs=validate_certs, token=token)

    def query(self, expr, at=None):
        """The instant query evaluated now, or at `at` (Unix seconds) when given."""
        args = {'query': expr}
        if at is not None:
            args['time'] = _seconds(at)
        return parse_data(self._get('%s?%s' % (QUERY_PATH, urlencode(args))), self.url)

    def query_range(self, expr, start, end, step):
        """[(labels dict, [(Unix seconds, float value)])] of a range query evaluated every `step` seconds."""
        args = {'query': expr, 'start': _seconds(start), 'end': _seconds(end), 'step': _seconds(step)}
        return parse_matrix(self._get('%s?%s' % (RANGE_PATH, urlencode(args))), self.url)

    def alerting_rules(self):
        """Every alerting rule Prometheus has loaded (GET /api/v1/rules): dicts with name, labels, annotations."""
        data = self._get(RULES_PATH)
        groups = data.get('groups') if isinstance(data, dict) else None
        if not isinstance(groups, list):
            raise PrometheusError('unexpected answer to %s from %s: %s' % (RULES_PATH, self.url, excerpt(str(data), 120)))
        return [rule for group in groups if isinstance(group, dict) for rule in group.get('rules') or []
                if isinstance(rule, dict) and rule.get('type') == 'alerting']

    def _get(self, path):
        try:
            payload = self.api.get_json(path)
        except ApiError as exc:
            raise PrometheusError(_reason(exc, self.url))
        if not isinstance(payload, dict) or payload.get('status') != 'success':
            raise PrometheusError('unexpected answer from %s: %s; is prometheus_url a Prometheus server?'
                                  % (self.url, excerpt(str(payload), 120)))
        return payload.get('data')


def _seconds(value):
    return ('%.3f' % value).rstrip('0').rstrip('.')


def _reason(exc, url):
    response = getattr(exc, 'response', None)
    body = response.json if response is not None and isinstance(response.json, dict) else None
    if body and body.get('status') == 'error':
        # Prometheus's own words: bad_data for a query it cannot parse, timeout, execution...
        return 'Prometheus at %s refused the query (%s): %s' % (url, body.get('errorType'), excerpt(body.get('error')))
    # ApiClient's hints speak of the service's api_url; here the address is prometheus_url.
    text = str(exc).split('; ', maxsplit=1)[0].split(': is the service running', 1)[0]
    return '%s; check that Prometheus runs there (prometheus_url)' % text


def parse_data(data, url):
    if not isinstance(data, dict):
        raise PrometheusError('no data in the answer of %s' % url)
    kind, result = data.get('resultType'), data.get('result')
    try:
        if kind == 'vector':
            return [(dict(item.get('metric') or {}), to_float(item['value'][1])) for item in result]
        if kind == 'scalar':
            return [({}, to_float(result[1]))]
    except (TypeError, KeyError, IndexError, ValueError) as exc:
        raise PrometheusError('malformed %s result from %s: %s' % (kind, url, exc))
    raise PrometheusError('unexpected result type %r from %s: the report asks instant vector queries' % (kind, url))


def parse_matrix(data, url):
    if not isinstance(data, dict) or data.get('resultType') != 'matrix':
        raise PrometheusError('unexpected answer to a range query from %s: %s' % (url, excerpt(str(data), 120)))
    try:
        return [(dict(item.get('metric') or {}), [(float(when), to_float(value)) for when, value in item['values']])
                for item in data.get('result')]
    except (TypeError, KeyError, ValueError) as exc:
        raise PrometheusError('malformed matrix result from %s: %s' % (url, exc))


def to_float(text):
    # Prometheus writes NaN and +Inf as strings; float() reads both.
    return float(text)


def is_number(value):
    return value is not None and not math.isnan(value) and not math.isinf(value)


# ---------------------------------------------------------------------------------------------- PromQL

def matchers(job=None, instances=None, instance_label='instance', extra=None):
    """The label matchers (inside the braces) that scope every query to one job and some instances."""
    parts = []
    if job:
        parts.append('job="%s"' % escape(job))
    if instances:
        parts.append('%s=~"%s"' % (instance_label, '|'.join(escape(re.escape(name)) for name in instances)))
    if extra:
        parts.append(extra)
    return ','.join(parts)


def escape(value):
    return value.replace('\\', '\\\\').replace('"', '\\"')


def with_matchers(metric, selector, more=None):
    inner = ','.join(part for part in (selector, more) if part)
    return '%s{%s}' % (metric, inner)


def grouping(labels):
    return 'sum by (%s)' % ', '.join(labels) if labels else 'sum'


def quantile_query(metric, quantile, window, selector, by=()):
    """The quantile of a histogram across every series in scope: buckets summed by le (and `by`) first.

    The guide's histogram_quantile(0.95, rate(x_bucket[5m])) skips the sum, so it answers one quantile per series
    (per route, status, method and instance), not one for the service."""
    return 'histogram_quantile(%s, sum by (%s) (rate(%s[%s])))' % (
        quantile, ', '.join(('le',) + tuple(by)), with_matchers(metric + '_bucket', selector), window)


def ratio_query(metric, part, window, selector, by=()):
    """Share of the rate of `metric` whose labels also match `part`, 0 (not no data) when no series matches it."""
    whole = '%s (rate(%s[%s]))' % (grouping(by), with_matchers(metric, selector), window)
    share = '%s (rate(%s[%s]))' % (grouping(by), with_matchers(metric, selector, part), window)
    return '(%s or %s * 0) / %s' % (share, whole, whole)


def hit_rate_query(hits, misses, window, selector, by=()):
    rate_hits = '%s (rate(%s[%s]))' % (grouping(by), with_matchers(hits, selector), window)
    rate_misses = '%s (rate(%s[%s]))' % (grouping(by), with_matchers(misses, selector), window)
    return '%s / (%s + %s)' % (rate_hits, rate_hits, rate_misses)


def gauge_query(metric, selector, by=(), aggregate='sum'):
    if by:
        return '%s by (%s) (%s)' % (aggregate, ', '.join(by), with_matchers(metric, selector))
    return '%s(%s)' % (aggregate, with_matchers(metric, selector))


def histogram_quantile(quantile, buckets):
    """Prometheus's histogram_quantile over one histogram's [(le, rate)], same interpolation, NaN without data.

    The report asks the API latency buckets once, summed by (le, instance, route), and derives the quantile for
    the fleet, per instance and per route from them: one rate over every bucket series instead of three."""
    buckets = sorted(buckets)
    if len(buckets) < 2 or not math.isinf(buckets[-1][0]):
        return float('nan')
    # Rates of cumulative buckets can dip from float error or a reset mid-window: make them monotonic again.
    counts, highest = [], 0.0
    for dummy, count in buckets:
        highest = max(highest, count)
        counts.append(highest)
    total = counts[-1]
    if total == 0:
        return float('nan')
    rank = quantile * total
    index = next(i for i, count in enumerate(counts) if count >= rank)
    if index == len(buckets) - 1:
        return buckets[-2][0]
    upper = buckets[index][0]
    if index == 0 and upper <= 0:
        return upper
    lower, below = (buckets[index - 1][0], counts[index - 1]) if index else (0.0, 0.0)
    return lower + (upper - lower) * (rank - below) / (counts[index] - below)


def quantiles_by(quantile, series, labels):
    """[(labels dict, quantile)] of bucket series [(labels with le, rate)] summed by le and `labels`, as
    histogram_quantile(q, sum by (le, labels) (...)) answers."""
    groups = {}
    for metric, value in series:
        if 'le' not in metric:
            continue
        key = tuple(metric.get(label, '') for label in labels)
        le = float(metric['le'])
        group = groups.setdefault(key, {})
        group[le] = group.get(le, 0.0) + value
    return [(dict(zip(labels, key)), histogram_quantile(quantile, list(group.items())))
            for key, group in sorted(groups.items())]


def buckets_query(metric, window, selector, by):
    return 'sum by (%s) (rate(%s[%s]))' % (', '.join(('le',) + tuple(by)), with_matchers(metric + '_bucket', selector),
                                           window)
