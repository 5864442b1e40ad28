# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""performance_review: every finding with a case that raises it and one that does not, on real files (logs,
backup logs and archives, a SQLite model registry, DR drill records) and a real Prometheus holding a backfilled
history whose observations are known, so each figure has an exact expected value."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _dr_drills, _performance_review
from ansible_collections.inventory_enterprise.ops.plugins.modules import performance_review
from ansible_collections.inventory_enterprise.ops.tests.support.prometheus import (
    HTTP_BUCKETS, PrometheusServer, expected_quantile)
from ansible_collections.inventory_enterprise.ops.tests.support.prometheus_history import (
    Latency, backfill, write_openmetrics)
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.model_registry_dbs import (
    make_registry, metrics)
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.return_docs import (
    documented_paths, seen_paths)
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module
from ansible_collections.inventory_enterprise.ops.tests.unit.servers import closed_port

UTC = datetime.timezone.utc
MONTH = '2026-10'
START = datetime.datetime(2026, 10, 1, tzinfo=UTC)
END = datetime.datetime(2026, 11, 1, tzinfo=UTC)
LOCAL = ['logs', 'backups', 'models', 'dr_drills']
ERROR_LINE = 'ERROR GET /api/forecast/item/%d 500 duration=%dms model not loaded'


def run(args, capsys, check_mode=False, keep_raw=False):
    return run_module(performance_review, args, capsys, check_mode=check_mode, keep_raw=keep_raw)


def ids(result, subject=None):
    return sorted(f['id'] for f in result['findings'] if subject is None or f['subject'] == subject)


class Home(object):
    """A service's files in a temporary directory, each source written as the service and the collection write
    it; every path named explicitly, as on a host whose .env says so."""

    def __init__(self, root):
        self.root = str(root)
        self.log_dir = os.path.join(self.root, 'logs')
        self.backup_dir = os.path.join(self.root, 'backups')
        self.drill_dir = os.path.join(self.root, 'dr-drills')
        self.export_dir = os.path.join(self.root, 'reports', 'ai-models')
        self.database_path = os.path.join(self.root, 'data', 'enterprise_inventory.db')
        for directory in (self.log_dir, self.backup_dir, self.drill_dir):
            os.makedirs(directory)

    def args(self, **extra):
        args = dict(service_home=self.root, database_path=self.database_path, log_dir=self.log_dir,
                    backup_dir=self.backup_dir, dr_drill_dir=self.drill_dir, model_export_dir=self.export_dir,
                    period='month', month=MONTH, sources=LOCAL)
        args.update(extra)
        return args

    def _append(self, cls, moment, text):
        with open(os.path.join(self.log_dir, '%s-%s.log' % (cls, moment.date().isoformat())), 'a') as handle:
            handle.write('%s.000Z %s\n' % (moment.strftime('%Y-%m-%dT%H:%M:%S'), text))

    def errors(self, day, count):
        """`count` error lines (and a few INFO lines) on `day`, of two kinds."""
        moment = datetime.datetime.combine(day, datetime.time(8), tzinfo=UTC)
        self._append('application', moment, 'INFO GET /health 200 duration=1ms')
        for number in range(count):
            text = ERROR_LINE % (number, number) if number % 3 else 'CRITICAL database is locked'
            self._append('application', moment + datetime.timedelta(seconds=number), text)

    def backup(self, moment, size, duration, log=True):
        name = 'inventory_backup_%s.tar.zst' % moment.strftime('%Y-%m-%dT%H-%M-%S')
        if log:
            self._append('backup', moment, 'INFO backup completed name=%s size=%d sha256=%s tables=9 log_lines=0 '
                                           'verified=true pruned=0 duration=%ss' % (name, size, 'ab' * 32, duration))
        else:
            with open(os.path.join(self.backup_dir, name), 'wb') as handle:
                handle.write(b'\0' * size)
        return name

    def registry(self, models):
        if not os.path.exists(self.database_path):
            make_registry(self.root, models)

    def drill(self, finished_at, **fields):
        record = dict(finished_at=finished_at, outcome='passed', rto_seconds=900.0, rpo_seconds=7200.0,
                      rto_target_seconds=3600, rpo_target_seconds=86400, standby='standby1')
        record.update(fields)
        with open(os.path.join(self.drill_dir, 'dr-drill-%s.json' % finished_at.replace(':', '-')), 'w') as handle:
            json.dump(record, handle)


def day(number, month=10):
    return datetime.date(2026, month, number)


def at(number, hour=2, month=10):
    return datetime.datetime(2026, month, number, hour, tzinfo=UTC)


# ------------------------------------------------------------------------------------- the findings table

def errors_rising(home):
    home.errors(day(15, 9), 20)
    home.errors(day(15), 40)


def errors_steady(home):
    home.errors(day(15, 9), 20)
    home.errors(day(15), 25)  # 25% more: under the 50% of error_growth_percent


def errors_few(home):
    home.errors(day(15, 9), 2)
    home.errors(day(15), 8)  # 300% more, but 6 lines: under min_error_increase


def backups_slowing(home):
    for number, duration in enumerate([10, 11, 10, 12, 14, 15, 18, 19, 20]):
        home.backup(at(number + 1), 1000 + number, duration)


def backups_steady(home):
    for number, duration in enumerate([10, 11, 10, 12, 10, 11, 12, 11, 10]):
        home.backup(at(number + 1), 1000 + number, duration)


def model(item, mape, trained='2026-10-04T03:00:00Z', status='active', **more):
    return dict(entity=item, trained_at=trained, status=status, metrics=metrics(mape, mase=0.8, **more))


def models_over(home):
    home.registry([model('ITEM-1', 8.0), model('ITEM-2', 35.5), model('ITEM-3', 12.0)])


def models_within(home):
    # ITEM-9's demand is intermittent (28 holdout days, 3 with demand): its MAPE is judged by MASE, not here.
    home.registry([model('ITEM-1', 8.0), model('ITEM-2', 19.9), model('ITEM-9', 80.0, nonzero_days=3)])


def drill_slow(home):
    home.drill('2026-10-25T04:00:00Z', rto_seconds=5400.0)


def drill_old_backup(home):
    home.drill('2026-10-25T04:00:00Z', rpo_seconds=100000.0)


def drill_failed(home):
    home.drill('2026-10-25T04:00:00Z', outcome='failed', rto_seconds=None, rpo_seconds=None)


def drill_good(home):
    home.drill('2026-10-25T04:00:00Z')


def drill_last_month(home):
    home.drill('2026-09-27T04:00:00Z')


FINDINGS = [
    # (finding, sources, setup that must raise it, setups that must not)
    ('errors_rising', ['logs'], errors_rising, [errors_steady, errors_few]),
    ('backup_duration_rising', ['backups'], backups_slowing, [backups_steady]),
    ('model_mape_over_threshold', ['models'], models_over, [models_within]),
    ('dr_rto_missed', ['dr_drills'], drill_slow, [drill_good, drill_old_backup]),
    ('dr_rpo_missed', ['dr_drills'], drill_old_backup, [drill_good, drill_slow]),
    ('dr_drill_failed', ['dr_drills'], drill_failed, [drill_good]),
    ('dr_drill_missing', ['dr_drills'], drill_last_month, [drill_good, drill_failed]),
]
CASES = [(finding, sources, setup, True) for finding, sources, setup, dummy in FINDINGS] + [
    (finding, sources, setup, False) for finding, sources, dummy, setups in FINDINGS for setup in setups]


@pytest.mark.parametrize('finding, sources, setup, raised', CASES,
                         ids=['%s-%s-%s' % (c[0], 'raised' if c[3] else 'not', c[2].__name__) for c in CASES])
def test_each_finding_is_raised_when_it_should_and_only_then(finding, sources, setup, raised, tmp_path, capsys):
    home = Home(tmp_path)
    setup(home)
    failed, result = run(home.args(sources=sources), capsys)
    assert not failed, result
    assert (finding in ids(result)) is raised, result['findings']
    assert result['changed'] is False and result['review'] == 'performance'
    assert result['unavailable'] == [], result['unavailable']


def test_error_figures_and_series(tmp_path, capsys):
    home = Home(tmp_path)
    errors_rising(home)
    home.errors(day(31), 3)
    home._append('application', at(1, 0, 11), 'ERROR after the window')  # the window's end is excluded
    dummy, result = run(home.args(sources=['logs']), capsys)
    figures = result['figures']
    assert (figures['errors'], figures['errors_previous_period'], figures['log_days']) == (43, 20, 2)
    assert result['series']['errors_per_day']['points'] == [['2026-10-15T00:00:00Z', 40], ['2026-10-31T00:00:00Z', 3]]
    top = result['series']['top_errors']['points']
    assert top[0] == ['ERROR GET /api/forecast/item/<n> <n> duration=<n>ms model not loaded', 28]
    assert top[1] == ['CRITICAL database is locked', 15]
    rising = [f for f in result['findings'] if f['id'] == 'errors_rising'][0]
    assert (rising['value'], rising['threshold'], rising['severity']) == (43, 30.0, 'medium')


def test_backup_durations_and_sizes_from_logs_and_archives(tmp_path, capsys):
    home = Home(tmp_path)
    backups_slowing(home)
    unlogged = home.backup(at(20), 4096, None, log=False)
    home.backup(at(1, 2, 11), 9999, 99)  # after the window
    home._append('backup', at(21), 'ERROR backup failed: No space left on device')
    dummy, result = run(home.args(sources=['backups']), capsys)
    figures = result['figures']
    assert (figures['backups'], figures['backups_failed'], figures['backup_size_latest_bytes']) == (10, 1, 4096)
    assert (figures['backup_duration_median_seconds'], figures['backup_duration_max_seconds']) == (14.0, 20.0)
    assert figures['backup_duration_growth_percent'] == pytest.approx((19 - 10) / 10.0 * 100)
    durations = result['series']['backup_duration_seconds']['points']
    assert durations[0] == ['2026-10-01T02:00:00Z', 10.0] and len(durations) == 9
    sizes = result['series']['backup_size_bytes']['points']
    assert sizes[-1] == ['2026-10-20T02:00:00Z', 4096] and unlogged not in str(durations)
    finding = [f for f in result['findings'] if f['id'] == 'backup_duration_rising'][0]
    assert (finding['value'], finding['threshold']) == (90.0, 50.0)


def test_model_accuracy_now_and_month_by_month(tmp_path, capsys):
    home = Home(tmp_path)
    home.registry([
        # August: ITEM-1 at 30, ITEM-2 at 10; September: ITEM-1 retrained to 14; October: ITEM-2 worsens to 25.
        model('ITEM-1', 30.0, '2026-08-02T03:00:00Z', status='inactive'),
        model('ITEM-2', 10.0, '2026-08-02T03:00:00Z', status='inactive'),
        model('ITEM-1', 14.0, '2026-09-06T03:00:00Z'),
        model('ITEM-1', 40.0, '2026-10-04T03:00:00Z', status='inactive', outcome='rejected'),
        model('ITEM-2', 25.0, '2026-10-11T03:00:00Z'),
        model('ITEM-3', 55.0, '2026-10-11T03:00:00Z'),
        model('ITEM-4', 90.0, '2026-10-11T03:00:00Z', nonzero_days=2),
    ])
    os.makedirs(home.export_dir)
    # July is older than the registry's rows: its export says what was active then.
    with open(os.path.join(home.export_dir, 'models-2026-07.json'), 'w') as handle:
        json.dump({'models': [{'entity_id': 'ITEM-1', 'status': 'active', 'accuracy_metrics': {'mape': 50.0}},
                              {'entity_id': 'ITEM-2', 'status': 'inactive', 'accuracy_metrics': {'mape': 1.0}}],
                   'total': 2}, handle)
    dummy, result = run(home.args(sources=['models'], accuracy_months=4), capsys)
    series, figures = result['series'], result['figures']
    trend = series['model_mape_trend']
    assert trend['groups']['median'] == [['2026-07-31T23:59:59Z', 50.0], ['2026-08-31T23:59:59Z', 20.0],
                                         ['2026-09-30T23:59:59Z', 12.0], ['2026-10-31T23:59:59Z', 25.0]]
    assert trend['groups']['p90'][-1] == ['2026-10-31T23:59:59Z', 55.0] and trend['target'] == 20.0
    assert series['model_mape_distribution']['points'] == [['0-10%', 0], ['10-20%', 1], ['20-30%', 1],
                                                           ['30-40%', 0], ['40-50%', 0], ['50%+', 1]]
    assert series['model_worst_items']['points'] == [['ITEM-3', 55.0], ['ITEM-2', 25.0], ['ITEM-1', 14.0]]
    assert (figures['models_active'], figures['models_intermittent'], figures['models_scored']) == (4, 1, 3)
    assert (figures['models_over_threshold'], figures['model_median_mape'], figures['model_p90_mape']) == (2, 25.0, 55.0)
    finding = [f for f in result['findings'] if f['id'] == 'model_mape_over_threshold'][0]
    assert finding['value'] == 2 and 'ITEM-3 55%, ITEM-2 25%' in finding['summary']


def test_dr_drill_history_with_targets(tmp_path, capsys):
    home = Home(tmp_path)
    home.drill('2025-09-28T04:00:00Z', rto_seconds=100.0)  # older than dr_history_months
    home.drill('2026-08-30T04:00:00Z', rto_seconds=1800.0, rpo_seconds=3600.0)
    drill_slow(home)
    with open(os.path.join(home.drill_dir, 'dr-drill-broken.json'), 'w') as handle:
        handle.write('{"finished_at": "yesterday"}')
    dummy, result = run(home.args(sources=['dr_drills']), capsys)
    rto = result['series']['dr_rto_seconds']
    assert rto['points'] == [['2026-08-30T04:00:00Z', 1800.0], ['2026-10-25T04:00:00Z', 5400.0]]
    assert rto['target'] == 3600.0 and result['series']['dr_rpo_seconds']['target'] == 86400.0
    assert (result['figures']['dr_drills'], result['figures']['dr_rto_worst_seconds']) == (1, 5400.0)
    assert result['figures']['dr_last_drill'] == '2026-10-25T04:00:00Z'
    assert [u['source'] for u in result['unavailable']] == ['dr_drills']
    assert 'dr-drill-broken.json' in result['unavailable'][0]['reason']
    missed = [f for f in result['findings'] if f['id'] == 'dr_rto_missed'][0]
    assert (missed['severity'], missed['value'], missed['threshold']) == ('high', 5400.0, 3600.0)


def test_a_record_named_by_record_name_is_read(tmp_path, capsys):
    """The name dr_drill.yml is to give its records (_dr_drills.record_name) is one the review reads."""
    home = Home(tmp_path)
    finished = datetime.datetime(2026, 10, 25, 4, 0, 7, tzinfo=UTC)
    name = _dr_drills.record_name(finished)
    assert name == 'dr-drill-2026-10-25T04-00-07Z.json'
    with open(os.path.join(home.drill_dir, name), 'w') as handle:
        json.dump(dict(finished_at='2026-10-25T04:00:07Z', outcome='passed', rto_seconds=1.0, rpo_seconds=2.0), handle)
    dummy, result = run(home.args(sources=['dr_drills']), capsys)
    assert result['figures']['dr_drills'] == 1 and result['unavailable'] == [] and ids(result) == []
    # A record without targets is held to the options' (the guide's 1 h and 24 h).
    assert result['series']['dr_rto_seconds']['target'] == 3600.0


def test_missing_sources_are_unavailable_never_zero(tmp_path, capsys):
    home = Home(tmp_path)
    home.errors(day(3), 1)
    os.rmdir(home.drill_dir)
    home.registry([model('ITEM-1', None, status='inactive')])
    failed, result = run(home.args(), capsys)
    assert not failed
    reasons = dict((u['source'], u['reason']) for u in result['unavailable'])
    assert sorted(reasons) == ['backups', 'dr_drills', 'models']
    assert 'no completed backup' in reasons['backups'] and 'no active model' in reasons['models']
    assert home.drill_dir in reasons['dr_drills']
    assert 'backups' not in result['figures'] and 'backup_duration_seconds' not in result['series']
    assert 'dr_drills' not in result['figures'] and result['findings'] == []


def test_nothing_readable_fails_with_every_reason(tmp_path, capsys):
    home = Home(tmp_path)
    failed, result = run(home.args(log_dir=os.path.join(home.root, 'nowhere'), dr_drill_dir=home.log_dir), capsys)
    assert failed is False  # an empty drill directory is read: "no drill in the window" is a finding
    assert ids(result) == ['dr_drill_missing']
    failed, result = run(home.args(log_dir=os.path.join(home.root, 'nowhere'),
                                   dr_drill_dir=os.path.join(home.root, 'nowhere')), capsys)
    assert failed
    assert 'none of the sources' in result['msg'] and 'nowhere' in result['msg'] and 'ai_models' not in result['msg']
    assert sorted(u['source'] for u in result['unavailable']) == sorted(LOCAL)


@pytest.mark.parametrize('period, month, days, now, window', [
    ('previous_month', None, None, '2026-12-01T06:00:00', ('2026-11-01', '2026-12-01', 30)),
    ('previous_month', None, None, '2027-01-15T06:00:00', ('2026-12-01', '2027-01-01', 31)),
    ('month', '2026-02', None, '2026-12-08T00:00:00', ('2026-02-01', '2026-03-01', 28)),
    ('last_days', None, 7, '2026-12-08T13:45:00', ('2026-12-01', '2026-12-08', 7)),
    ('month_to_date', None, None, '2026-12-08T13:45:00', ('2026-12-01', '2026-12-08', 8)),
])
def test_windows(period, month, days, now, window):
    moment = datetime.datetime.fromisoformat(now).replace(tzinfo=UTC)
    found = _performance_review.window(period, month, days, now=moment)
    assert (found['start'].date().isoformat(), found['end'].date().isoformat(), found['days']) == window


@pytest.mark.parametrize('args, message', [
    (dict(period='month', month='2099-01'), 'has not ended yet'),
    (dict(period='month', month='2026-13'), 'YYYY-MM'),
    (dict(period='last_days', days=0), 'at least 1'),
    (dict(top_errors=0), 'top_errors must be at least 1'),
    (dict(metric_names=dict(http_duration='bad name')), 'Prometheus names'),
])
def test_options_are_checked_before_anything_is_read(args, message, tmp_path, capsys):
    failed, result = run(Home(tmp_path).args(**args), capsys)
    assert failed and message in result['msg']


# ------------------------------------------------------------------------------------------ Prometheus

ROUTES = {'/api/fast': Latency(0.02, per_step=30), '/api/slow': Latency(0.2, per_step=10)}


def prometheus_args(url, **extra):
    args = dict(prometheus_url=url, sources=['prometheus'], period='last_days', days=7, job='inventory_enterprise')
    args.update(extra)
    return args


def check_figures_findings_and_quantiles(prometheus, history, win, capsys):
    """The figures are what histogram_quantile answers for the observations drawn; with the guide's targets the
    slow route, the overall p95, the 80% hit rate and (with max_error_rate) the 2% of 5xx are findings."""
    dummy, result = run(prometheus_args(prometheus.url, max_error_rate=1.0), capsys)
    assert result['unavailable'] == [] and result['window']['days'] == 7
    start, end = win['start'], win['end']
    expected = dict((route, round(expected_quantile(0.95, history.latencies(route, start, end), HTTP_BUCKETS) * 1000, 2))
                    for route in ROUTES)
    by_route = dict(result['series']['p95_by_route']['points'])
    assert by_route == dict((route, pytest.approx(value, abs=0.011)) for route, value in expected.items())
    every = [value for route in ROUTES for value in history.latencies(route, start, end)]
    assert result['figures']['p95_ms'] == pytest.approx(expected_quantile(0.95, every, HTTP_BUCKETS) * 1000, abs=0.011)
    assert result['figures']['requests'] == len(every) == 7 * 24 * 40
    assert result['figures']['cache_hit_rate'] == 80.0
    assert result['figures']['http_5xx_rate'] == pytest.approx(history.share_5xx(start, end) * 100, abs=0.001)
    daily = result['series']['p95_daily']['points']
    assert [point[0] for point in daily] == [_performance_review.iso(d) for d in _performance_review.days_of(win)]
    first_day = [v for route in ROUTES for v in history.latencies(route, start, start + _performance_review.DAY)]
    assert daily[0][1] == pytest.approx(expected_quantile(0.95, first_day, HTTP_BUCKETS) * 1000, abs=0.0011)
    assert [point[1] for point in result['series']['cache_hit_rate_daily']['points']] == [80.0] * 7
    assert len(result['series']['http_5xx_rate_daily']['points']) == 7

    assert ids(result) == ['cache_hit_rate_below_target', 'http_5xx_rate_over_target', 'p95_over_target',
                           'route_p95_over_target']
    assert ids(result, '/api/slow') == ['route_p95_over_target'] and ids(result, '/api/fast') == []
    assert [f['severity'] for f in result['findings']] == ['high', 'medium', 'medium', 'medium']
    slow = [f for f in result['findings'] if f['subject'] == '/api/slow'][0]
    assert (slow['value'], slow['threshold']) == (by_route['/api/slow'], 100.0)


def check_no_finding_within_the_targets(prometheus, capsys):
    dummy, result = run(prometheus_args(prometheus.url, api_p95_max_ms=1000, min_cache_hit_rate=75,
                                        max_error_rate=5.0), capsys)
    assert ids(result) == [] and result['unavailable'] == []


def check_a_window_without_data_is_unavailable_per_check(prometheus, capsys):
    failed, result = run(prometheus_args(prometheus.url, period='month', month='2026-01'), capsys)
    assert not failed  # Prometheus answered: it was read, it just has nothing of that month
    reasons = [u['reason'] for u in result['unavailable'] if u['source'] == 'prometheus']
    assert sorted(reason.split(':')[0] for reason in reasons) == [
        'cache_hit_rate', 'cache_hit_rate_daily', 'http_5xx_rate', 'http_5xx_rate_daily', 'p95', 'p95_daily',
        'route_p95']
    assert all(result['figures'][name] is None for name in ('p95_ms', 'cache_hit_rate', 'http_5xx_rate'))
    assert result['series'] == {} and result['findings'] == []


def check_check_mode_reports_the_same(prometheus, capsys):
    dummy, normal = run(prometheus_args(prometheus.url), capsys)
    dummy, checked = run(prometheus_args(prometheus.url), capsys, check_mode=True)
    for result in (normal, checked):
        del result['generated_at']
    assert checked == normal
    assert 'http_5xx_rate_over_target' not in ids(normal)  # without max_error_rate the share is reported only


def check_every_source_together(prometheus, win, tmp_path, capsys):
    """One review of every source over the same week: every documented figure and series is there."""
    home = Home(tmp_path / 'home')
    start = win['start']
    home.errors((start - 3 * _performance_review.DAY).date(), 4)
    home.errors((start + _performance_review.DAY).date(), 5)
    for number in range(6):
        home.backup(start + datetime.timedelta(days=number, hours=2), 2000 + number, 30 + number)
    trained = _performance_review.iso(win['end'] - 3 * _performance_review.DAY)
    home.registry([model('ITEM-1', 12.0, trained), model('ITEM-2', 31.0, trained),
                   model('ITEM-3', 50.0, trained, nonzero_days=1)])
    home.drill(_performance_review.iso(start + _performance_review.DAY), rpo_seconds=90000.0)
    dummy, result = run(home.args(prometheus_url=prometheus.url, period='last_days', days=7,
                                  sources=['prometheus'] + LOCAL), capsys)
    assert result['unavailable'] == []
    never = sorted(path for path in documented_paths(performance_review) - seen_paths(performance_review, result)
                   if path.startswith(('figures.', 'series.')))
    assert never == []
    assert ids(result) == ['cache_hit_rate_below_target', 'dr_rpo_missed', 'model_mape_over_threshold',
                           'p95_over_target', 'route_p95_over_target']
    assert [f['severity'] for f in result['findings']][:2] == ['high', 'high']


def test_review_of_a_backfilled_week(tmp_path, capsys):
    """ansible-test runs each test in a fork of its own: the checks that read the same Prometheus run in one."""
    win = _performance_review.window('last_days', days=7)
    path = str(tmp_path / 'history.om')
    history = write_openmetrics(path, win['start'] - 2 * _performance_review.DAY, win['end'], 3600, ROUTES,
                                hit_rate=0.8, errors=0.02)
    prometheus = PrometheusServer([], retention='3650d')
    try:
        backfill(prometheus.data_dir, path)
        prometheus.start()
        check_figures_findings_and_quantiles(prometheus, history, win, capsys)
        check_no_finding_within_the_targets(prometheus, capsys)
        check_a_window_without_data_is_unavailable_per_check(prometheus, capsys)
        check_check_mode_reports_the_same(prometheus, capsys)
        check_every_source_together(prometheus, win, tmp_path, capsys)
    finally:
        prometheus.close()


def test_prometheus_down_is_unavailable_per_check_and_the_token_never_printed(tmp_path, capsys):
    home = Home(tmp_path)
    drill_good(home)
    url = 'http://127.0.0.1:%d' % closed_port()
    failed, result = run(home.args(prometheus_url=url, prometheus_token='s3cr3t-t0ken-value',
                                   sources=['prometheus', 'dr_drills']), capsys, keep_raw=True)
    assert not failed and 's3cr3t' not in result['_raw']
    prometheus = [u['reason'] for u in result['unavailable'] if u['source'] == 'prometheus']
    assert len(prometheus) == 7 and all(url in reason for reason in prometheus), prometheus
    assert result['figures']['p95_ms'] is None and ids(result) == []
    failed, result = run(home.args(prometheus_url=url, sources=['prometheus']), capsys)
    assert failed and 'none of the sources (prometheus) could be read' in result['msg']
