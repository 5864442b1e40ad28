# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""performance_report against a real private Prometheus scraping two exporters whose histograms hold known
observations, so every figure of the report has an exact expected value (tests/support/prometheus.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.modules import performance_report
from ansible_collections.inventory_enterprise.ops.tests.support.prometheus import (
    DB_BUCKETS, HTTP_BUCKETS, Exporter, PrometheusServer, expected_quantile)
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module
from ansible_collections.inventory_enterprise.ops.tests.unit.servers import closed_port

FAST_1 = [0.003] * 90 + [0.02] * 10
FAST_2 = [0.004] * 80 + [0.03] * 20
SLOW_OK = [0.2] * 40
SLOW_5XX = [0.6] * 10
DB_1 = [0.002] * 50 + [0.03] * 50
ROUTES_1 = {('/api/fast', '200'): FAST_1, ('/api/slow', '200'): SLOW_OK, ('/api/slow', '500'): SLOW_5XX}
ROUTES_2 = {('/api/fast', '200'): FAST_2}


@pytest.fixture(scope='module')
def fleet():
    """Two instances scraped every second: first all zeros (a rate needs a sample before the traffic), then
    the traffic, swapped in whole; ready once Prometheus has scraped the traffic of both."""
    app1, app2 = Exporter(), Exporter()
    before = time.time()
    app1.metrics.set(at=before, http=dict((key, []) for key in ROUTES_1), db={'select': []})
    app2.metrics.set(at=before, http=dict((key, []) for key in ROUTES_2))
    prometheus = PrometheusServer([app1.target, app2.target]).start()
    try:
        prometheus.wait_for_value('count(up == 1)', 2.0)
        after = time.time()
        app1.metrics.set(at=after, http=ROUTES_1, db={'select': DB_1}, hits=900, misses=100, keys=120000)
        app2.metrics.set(at=after, http=ROUTES_2, hits=50, misses=50, rss=2.5e9)
        prometheus.wait_for_value('sum(http_request_duration_seconds_count)', 250.0)
        prometheus.wait_for_value('sum(cache_hits_total)', 950.0)
        yield dict(prometheus=prometheus, app1=app1.target, app2=app2.target)
    finally:
        prometheus.close()
        app1.close()
        app2.close()


def run(args, capsys, check_mode=False):
    return run_module(performance_report, args, capsys, check_mode=check_mode)


def by_name(checks):
    return dict((check['name'], check) for check in checks)


def ms(seconds):
    return round(seconds * 1000, 2)


def exact(value):
    return pytest.approx(value, abs=0.0101)


def check_fleet_report_has_the_quantiles_rates_and_verdicts(fleet, capsys):
    failed, result = run(dict(prometheus_url=fleet['prometheus'].url, job='inventory_enterprise'), capsys)
    assert not failed and result['changed'] is False and result['ok'] is False
    checks = by_name(result['checks'])
    every = FAST_1 + FAST_2 + SLOW_OK + SLOW_5XX
    assert checks['api_latency']['value'] == exact(ms(expected_quantile(0.95, every, HTTP_BUCKETS)))
    assert checks['api_latency']['query'] == ('histogram_quantile(0.95, sum by (le) (rate(http_request_duration_'
                                              'seconds_bucket{job="inventory_enterprise"}[5m])))')
    fast = ms(expected_quantile(0.95, FAST_1 + FAST_2, HTTP_BUCKETS))
    slow = ms(expected_quantile(0.95, SLOW_OK + SLOW_5XX, HTTP_BUCKETS))
    assert [row['route'] for row in result['routes']] == ['/api/slow', '/api/fast']
    assert [row['p95_ms'] for row in result['routes']] == [pytest.approx(slow, abs=0.01), exact(fast)]
    assert result['slowest_routes'] == result['routes']
    assert checks['route_latency']['verdict'] == 'failed' and '/api/slow' in checks['route_latency']['message']
    assert checks['db_latency']['value'] == pytest.approx(ms(expected_quantile(0.95, DB_1, DB_BUCKETS)), abs=0.01)
    assert checks['db_latency']['verdict'] == 'ok' and checks['db_latency']['threshold'] is None
    assert checks['error_rate']['value'] == exact(100.0 * 10 / 250)
    assert checks['cache_hit_rate']['value'] == exact(100.0 * 950 / 1100)
    assert checks['cache_hit_rate']['verdict'] == 'ok'
    assert (checks['cache_keys']['verdict'], checks['cache_keys']['value']) == ('failed', 120000)
    assert checks['cache_memory']['verdict'] == 'no_data' and checks['cache_memory']['value'] is None
    assert 'no series matched max(cache_memory_bytes{job="inventory_enterprise"})' in checks['cache_memory']['message']
    assert (checks['process_memory']['verdict'], checks['process_memory']['value']) == ('failed', 2.5)
    assert (checks['targets_up']['verdict'], checks['targets_up']['value']) == ('ok', 2)
    assert result['failed_checks'] == ['api_latency', 'route_latency', 'cache_keys', 'cache_memory', 'process_memory']


def check_instance_rows_come_from_the_same_grouped_queries(fleet, capsys):
    failed, result = run(dict(prometheus_url=fleet['prometheus'].url), capsys)
    rows = dict((row['instance'], by_name(row['checks'])) for row in result['instances'])
    assert sorted(rows) == sorted([fleet['app1'], fleet['app2']])
    app1, app2 = rows[fleet['app1']], rows[fleet['app2']]
    assert app1['error_rate']['value'] == pytest.approx(100.0 * 10 / 150, abs=0.01)
    assert app2['error_rate']['value'] == 0 and app2['error_rate']['verdict'] == 'ok'
    assert app2['api_latency']['value'] == pytest.approx(ms(expected_quantile(0.95, FAST_2, HTTP_BUCKETS)), abs=0.01)
    assert 'sum by (le, instance)' in app2['api_latency']['query']
    assert app1['cache_hit_rate']['value'] == pytest.approx(90.0, abs=0.01)
    assert app2['cache_hit_rate']['verdict'] == 'failed' and 'below the target of 85' in app2['cache_hit_rate']['message']
    # app2 has no database histogram: said so, not reported as 0 ms.
    assert app2['db_latency']['verdict'] == 'no_data' and app2['db_latency']['value'] is None
    assert app2['process_memory']['verdict'] == 'failed' and app1['process_memory']['value'] == 0.15
    assert 'route_latency' not in app1


def check_instances_option_scopes_the_queries_and_names_missing_ones(fleet, capsys):
    failed, result = run(dict(prometheus_url=fleet['prometheus'].url, instances=[fleet['app2'], 'gone:9'],
                              checks=['api_latency', 'targets_up']), capsys)
    checks = by_name(result['checks'])
    assert checks['api_latency']['value'] == pytest.approx(ms(expected_quantile(0.95, FAST_2, HTTP_BUCKETS)), abs=0.01)
    assert [row['instance'] for row in result['instances']] == [fleet['app2'], 'gone:9']
    gone = by_name(result['instances'][1]['checks'])
    assert gone['api_latency']['verdict'] == 'no_data' and 'no series for this instance' in gone['api_latency']['message']
    assert result['routes'] == [] and not failed


def test_prometheus_down_is_an_error_per_check_never_a_zero(capsys):
    url = 'http://127.0.0.1:%d' % closed_port()
    failed, result = run(dict(prometheus_url=url, by_instance=False), capsys)
    assert not failed and result['ok'] is False
    for check in result['checks']:
        assert check['verdict'] == 'error' and check['value'] is None, check
        assert 'cannot connect to %s/api/v1/query' % url in check['message'] and check['query']
    assert result['routes'] == [] and result['instances'] == []
    failed, result = run(dict(prometheus_url=url, fail_on=['error'], checks=['api_latency']), capsys)
    assert failed and result['msg'].startswith('performance_report: api_latency error (all instances: cannot connect')


def check_no_data_is_said_with_the_query(fleet, capsys):
    failed, result = run(dict(prometheus_url=fleet['prometheus'].url, job='no-such-job'), capsys)
    assert not failed
    assert set(check['verdict'] for check in result['checks']) == {'no_data'}
    assert result['instances'] == []
    failed, result = run(dict(prometheus_url=fleet['prometheus'].url, job='no-such-job', fail_on=['no_data'],
                              checks=['db_latency']), capsys)
    assert failed and 'db_query_duration_seconds_bucket{job="no-such-job"}' in result['msg']


def check_a_refused_query_carries_prometheus_own_reason(fleet, capsys):
    failed, result = run(dict(prometheus_url=fleet['prometheus'].url, selector='env=~"("', checks=['api_latency'],
                              by_instance=False), capsys)
    check = result['checks'][0]
    assert check['verdict'] == 'error' and 'refused the query (bad_data)' in check['message'], check


def check_check_mode_reports_the_same(fleet, capsys):
    # One instance: its figures do not move with the scrape times.
    args = dict(prometheus_url=fleet['prometheus'].url, checks=['cache_hit_rate'], instances=[fleet['app1']])
    dummy, real = run(args, capsys)
    dummy, checked = run(args, capsys, check_mode=True)
    assert checked['checks'] == real['checks'] and checked['changed'] is False
    assert checked['checks'][0]['value'] == 90.0


@pytest.mark.parametrize('args, message', [
    (dict(window='5 minutes'), 'window must be a Prometheus duration'),
    (dict(quantile=1.5), 'quantile must be between 0 and 1'),
    (dict(label_names=dict(route='the route')), "label_names must be Prometheus names"),
])
def test_options_are_checked_before_any_query(args, message, capsys):
    failed, result = run(dict(args, prometheus_url='http://127.0.0.1:%d' % closed_port()), capsys)
    assert failed and message in result['msg']


def check_latency_figures_are_what_prometheus_histogram_quantile_answers(fleet, capsys):
    """The API latency buckets are asked once and the quantiles derived from them: each figure must be what the
    PromQL shown in its `query` answers from Prometheus itself (to the reported 0.01 ms: both round a sum of
    rates added in another order, and 240.625 ms may round either way)."""
    prometheus = fleet['prometheus']
    dummy, result = run(dict(prometheus_url=prometheus.url, checks=['api_latency', 'route_latency']), capsys)
    fleet_check = by_name(result['checks'])['api_latency']
    assert [ms(value) for dummy, value in prometheus.query(fleet_check['query'])] == [exact(fleet_check['value'])]
    route_check = by_name(result['checks'])['route_latency']
    by_route = dict((labels['route'], ms(value)) for labels, value in prometheus.query(route_check['query']))
    assert by_route == dict((route, exact(value)) for route, value in route_check['value'].items())
    for row in result['instances']:
        check = by_name(row['checks'])['api_latency']
        answered = dict((labels['instance'], ms(value)) for labels, value in prometheus.query(check['query']))
        assert answered[row['instance']] == exact(check['value'])


def test_reports_of_one_scraped_fleet(fleet, capsys):
    """ansible-test runs each test in a fork of its own, where a module fixture starts and fills its own
    Prometheus (about 7 s): the checks that read the same fleet run in one test."""
    for check in (check_fleet_report_has_the_quantiles_rates_and_verdicts,
                  check_instance_rows_come_from_the_same_grouped_queries,
                  check_instances_option_scopes_the_queries_and_names_missing_ones,
                  check_no_data_is_said_with_the_query,
                  check_a_refused_query_carries_prometheus_own_reason,
                  check_check_mode_reports_the_same,
                  check_latency_figures_are_what_prometheus_histogram_quantile_answers):
        check(fleet, capsys)
