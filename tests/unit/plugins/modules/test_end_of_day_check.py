# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""end_of_day_check against a real HTTP server, real log files and real backup archives."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.modules import backup, end_of_day_check
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_backup_support import make_home, run
from ansible_collections.inventory_enterprise.ops.tests.unit.servers import route

STATS = {'backend': 'redis', 'hits': 900, 'misses': 100, 'hit_rate': 90.0, 'keys': 12, 'memory_bytes': 1024}
ANOMALIES = {'anomalies': [{'item_code': 'ITEM-1', 'day': '2026-12-01', 'quantity': 90, 'expected': 10, 'score': 7.5}],
             'days': 1, 'total': 1}


@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path)


def write_log(home, channel, lines, date=None):
    path = os.path.join(home, 'logs', '%s-%s.log' % (channel, (date or datetime.date.today()).isoformat()))
    with open(path, 'a') as handle:
        for level, message in lines:
            handle.write('2026-12-01T17:00:00.000Z %s %s\n' % (level, message))
    return path


def serve(api, stats=None, anomalies=None):
    return api.use(None, **{'/api/cache/stats': route(200, STATS if stats is None else stats),
                            '/api/ai/anomaly/list': route(200, ANOMALIES if anomalies is None else anomalies)})


def verdicts(result):
    return dict((c['name'], c['verdict']) for c in result['checks'])


def by_name(result, name):
    return next(c for c in result['checks'] if c['name'] == name)


def test_all_pass_and_errors_are_grouped_by_kind(home, api, capsys):
    serve(api)
    run(backup, dict(service_home=home), capsys)
    write_log(home, 'application', [('INFO', 'GET /health 200 duration=1ms'),
                                    ('ERROR', 'anomaly_list failed: timeout after 1203 ms'),
                                    ('ERROR', 'anomaly_list failed: timeout after 998 ms'),
                                    ('CRITICAL', 'unhandled exception GET /x: KeyError: 1'),
                                    ('WARNING', 'slow query 300 ms')])
    # Yesterday's errors are not today's.
    write_log(home, 'application', [('ERROR', 'old')], date=datetime.date.today() - datetime.timedelta(days=1))
    failed, result = run(end_of_day_check, dict(service_home=home, api_url=api.url, host_label='app1'), capsys)
    assert not failed, result
    assert verdicts(result) == {'errors': 'ok', 'cache': 'ok', 'backup': 'ok', 'anomalies': 'ok'}
    errors = by_name(result, 'errors')['value']
    assert errors['count'] == 3 and errors['lines'] == 5
    assert [(k['kind'], k['count']) for k in errors['top']] == [
        ('anomaly_list failed: timeout after <n> ms', 2), ('unhandled exception GET /x: KeyError: <n>', 1)]
    assert errors['top'][0]['message'] == 'anomaly_list failed: timeout after 998 ms'
    assert by_name(result, 'cache')['reading'] == 'hit rate 90.0% of 85.0%'
    assert by_name(result, 'anomalies')['value']['total'] == 1
    assert 'item_code=ITEM-1' in by_name(result, 'anomalies')['message']
    assert result['summary'] == 'app1: 4 ok' and result['changed'] is False


def test_failures_are_named_and_thresholds_apply(home, api, capsys):
    serve(api, stats=dict(STATS, hits=50, misses=50, hit_rate=50.0), anomalies=dict(ANOMALIES, total=1))
    write_log(home, 'application', [('ERROR', 'boom %d' % n) for n in range(3)])
    write_log(home, 'backup', [('ERROR', 'backup failed: disk full')])
    failed, result = run(end_of_day_check, dict(service_home=home, api_url=api.url, max_errors=2, max_anomalies=0,
                                                host_label='app1'), capsys)
    assert failed
    assert set(result['failed_checks']) == {'errors', 'cache', 'backup', 'anomalies'}
    assert 'cache_misses.yml' in by_name(result, 'cache')['message']
    assert 'backup failed: disk full' in by_name(result, 'backup')['message']
    assert result['msg'].startswith('end-of-day checks failed on app1: errors (3 error(s)')
    failed, result = run(end_of_day_check, dict(service_home=home, api_url=api.url, report_only=True,
                                                checks=['cache']), capsys)
    assert not failed and result['ok'] is False and result['failed_checks'] == ['cache']


def test_no_log_today_is_skipped_and_a_dead_api_fails(home, dead_url, capsys):
    failed, result = run(end_of_day_check, dict(service_home=home, api_url=dead_url, report_only=True,
                                                checks=['errors', 'cache', 'anomalies']), capsys)
    assert not failed
    assert verdicts(result) == {'errors': 'skipped', 'cache': 'failed', 'anomalies': 'failed'}
    assert 'cannot connect' in by_name(result, 'cache')['message']


def test_no_lookups_yet_and_a_foreign_answer(home, api, capsys):
    serve(api, stats=dict(STATS, hits=0, misses=0, hit_rate=0.0))
    failed, result = run(end_of_day_check, dict(service_home=home, api_url=api.url, checks=['cache']), capsys)
    assert not failed and by_name(result, 'cache')['reading'] == 'no lookups yet'
    serve(api, stats={'status': 'ok'}, anomalies={'items': []})
    failed, result = run(end_of_day_check, dict(service_home=home, api_url=api.url, report_only=True,
                                                checks=['cache', 'anomalies']), capsys)
    assert result['failed_checks'] == ['cache', 'anomalies']
    assert 'no numeric hit_rate' in by_name(result, 'cache')['message']
