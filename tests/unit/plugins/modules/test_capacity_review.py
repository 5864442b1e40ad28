# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""capacity_review against a service home with months of real, back-dated backups (the collection's own archive
code, through tests/support/history.py) and dated log files, a private Redis and a Prometheus backfilled with a
quarter of latency history. Expected figures are computed here from the files, sqlite3 and an own least-squares
formula, never from the module's code."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import datetime
import json
import os
import re
import sqlite3

import pytest
import redis

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records, _encryption
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._capacity_growth import (
    backups_growth, cumulative, runs_out_on, runway, slope_per_day)
from ansible_collections.inventory_enterprise.ops.plugins.modules import capacity_review
from ansible_collections.inventory_enterprise.ops.tests.support.history import latency_history, seed_backup_history
from ansible_collections.inventory_enterprise.ops.tests.support.prometheus import PrometheusServer, backfill
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.return_docs import check_result
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_backup_support import make_home
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import module_args, run_module
from ansible_collections.inventory_enterprise.ops.tests.unit.servers import closed_port

UTC = datetime.timezone.utc
DAY = 86400.0
Statvfs = collections.namedtuple('Statvfs', 'f_bavail f_frsize')


def at(days):
    return datetime.datetime(2026, 1, 1, tzinfo=UTC) + datetime.timedelta(days=days)


def least_squares(points):
    """Slope per day of [(datetime, y)], written out: the test's own, not statistics.linear_regression."""
    xs = [moment.timestamp() / DAY for moment, dummy in points]
    ys = [float(y) for dummy, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


# ------------------------------------------------------------------------------------------- a service home

def add_rows(home, count):
    """Rows enough for the database to span pages, in one transaction."""
    conn = sqlite3.connect(os.path.join(home, 'data', 'enterprise_inventory.db'))
    conn.executemany('INSERT INTO lines (item_id, note) VALUES (?, ?)', [(i, 'note %06d ' % i + 'x' * 150)
                                                                         for i in range(count)])
    conn.commit()
    conn.close()


@pytest.fixture(scope='module')
def history(tmp_path_factory):
    """Three months of weekly verified backups and daily logs, ending now."""
    home = make_home(tmp_path_factory.mktemp('capacity'))
    add_rows(home, 3000)
    now = _backup_records.utc_now()
    seeded = seed_backup_history(home, months=3, every_days=7, now=now)
    return dict(home=home, now=now, seeded=seeded)


def review(args, capsys, now=None, statvfs=None, check_mode=False):
    """run_module with an injected clock and statvfs; the result is held against RETURN like every unit run."""
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with module_args(args):
        with pytest.raises(SystemExit) as exc:
            capacity_review.run_module(capacity_review.create_module(), now=now, statvfs=statvfs)
    result = json.loads(capsys.readouterr().out)
    check_result(capacity_review, result)
    return exc.value.code != 0 or result.get('failed', False), result


def mount_of(result):
    mounts = [key.split(':', 1)[1] for key in result['figures'] if key.startswith('runway_days:')]
    assert len(mounts) == 1, result['figures']  # the tmp home lives on one filesystem
    return mounts[0]


def live_database(home):
    conn = sqlite3.connect(os.path.join(home, 'data', 'enterprise_inventory.db'))
    try:
        size = conn.execute('PRAGMA page_count').fetchone()[0] * conn.execute('PRAGMA page_size').fetchone()[0]
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = sum(conn.execute('SELECT count(*) FROM "%s"' % table).fetchone()[0] for table in tables)
    finally:
        conn.close()
    return size, rows


def test_figures_and_series_agree_with_the_files(history, capsys):
    home, now = history['home'], history['now']
    failed, result = review(dict(service_home=home), capsys, now=now)
    assert not failed, result
    assert result['changed'] is False and result['review'] == 'capacity'
    assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$', result['generated_at'])
    figures, series = result['figures'], result['series']
    archives = history['seeded']['archives']
    assert figures['manifests_read'] == figures['manifests_from_records'] == len(archives) == 13
    assert figures['manifests_streamed'] == 0

    # The database: every manifest's database.db, then the live file as sqlite3 measures it.
    size, rows = live_database(home)
    expected = [(datetime.datetime.strptime(a['created_at'], '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=UTC),
                 dict((m['path'], m['size']) for m in a['manifest']['members'])['database.db']) for a in archives]
    expected.append((now, size))
    assert series['db_size_bytes']['points'] == [[moment.strftime('%Y-%m-%dT%H:%M:%SZ'), value]
                                                 for moment, value in expected]
    assert figures['db_size_bytes'] == size and figures['rows_total'] == rows
    assert figures['db_growth_bytes_per_day'] == pytest.approx(least_squares(expected), abs=0.1)
    assert figures['db_growth_bytes_per_day'] > 0 and figures['rows_growth_per_day'] > 0
    assert sorted(series['rows_total']['groups']) == ['items', 'lines']
    assert series['rows_total']['points'][-1][1] == rows

    # The logs: the daily files by their date, as the directory keeps them (today's is left out).
    daily = collections.Counter()
    for name in os.listdir(os.path.join(home, 'logs')):
        match = re.match(r'^(application|security|audit)-(\d{4}-\d\d-\d\d)\.log$', name)
        if match:
            daily[match.group(2)] += os.path.getsize(os.path.join(home, 'logs', name))
    days = sorted((datetime.datetime.strptime(day, '%Y-%m-%d').replace(tzinfo=UTC), size) for day, size in daily.items()
                  if day >= (now - datetime.timedelta(days=92)).date().isoformat())
    running, total = [], 0
    for moment, amount in days:
        total += amount
        running.append((moment, total))
    assert figures['log_days'] == len(days) and figures['log_bytes'] == total
    assert figures['logs_growth_bytes_per_day'] == pytest.approx(least_squares(running), abs=0.1)

    # The backups: three months kept although the retention is 30 days, so every archive adds its size.
    assert figures['backups_growth_model'] == 'accumulating'
    sizes = sorted((datetime.datetime.strptime(a['created_at'], '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=UTC),
                    os.path.getsize(a['path'])) for a in archives)
    assert figures['backups_bytes'] == sum(size for dummy, size in sizes)
    totals, total = [], 0
    for moment, amount in sizes:
        total += amount
        totals.append((moment, total))
    assert figures['backups_growth_bytes_per_day'] == pytest.approx(least_squares(totals), abs=0.1)
    assert [point[1] for point in series['backup_size_bytes']['points']] == [size for dummy, size in sizes]

    # One filesystem holds all three; its runway is its free space over their growth.
    mount = mount_of(result)
    st = os.statvfs(home)
    assert figures['free_bytes:%s' % mount] == pytest.approx(st.f_bavail * st.f_frsize, abs=256 * 1024 ** 2)
    assert figures['directories:%s' % mount] == 'data, logs, backups'
    growth = (figures['db_growth_bytes_per_day'] + figures['transaction_log_growth_bytes_per_day']
              + figures['logs_growth_bytes_per_day'] + figures['backups_growth_bytes_per_day'])
    assert figures['growth_bytes_per_day:%s' % mount] == pytest.approx(growth, abs=0.5)
    assert figures['runway_days:%s' % mount] == pytest.approx(figures['free_bytes:%s' % mount] / growth, rel=1e-3)
    assert series['disk_runway_days'] == dict(kind='category', unit='days', title='Disk runway per filesystem',
                                              points=[[mount, figures['runway_days:%s' % mount]]], target=90.0)
    # Gigabytes free and kilobytes a day: no finding.
    assert result['findings'] == []
    assert sorted(item['source'] for item in result['unavailable']) == ['prometheus', 'redis']

    failed, again = review(dict(service_home=home), capsys, now=now, check_mode=True)
    assert not failed and again['changed'] is False
    # The same review but for the free space, which the machine's other work moves between the two runs.
    moving = re.compile(r'^(free_bytes|runway_days|runway|disk_runway_days):')

    def steady(outcome):
        return dict(outcome, generated_at=None,
                    figures=dict((k, v) for k, v in outcome['figures'].items() if not moving.match(k)),
                    series=dict((k, v) for k, v in outcome['series'].items() if k != 'disk_runway_days'))
    assert steady(again) == steady(result)


def test_a_plain_run_through_main(history, capsys):
    failed, result = run_module(capacity_review, dict(service_home=history['home'], lookback_days=30), capsys)
    assert not failed and result['changed'] is False
    # Weekly backups over the last 30 days: four or five, whatever the weekday.
    assert result['figures']['manifests_read'] in (4, 5)


# ------------------------------------------------------------------------------------------- the math

@pytest.mark.parametrize('points, slope', [
    ([(at(0), 100), (at(1), 200), (at(2), 300)], 100.0),           # growing
    ([(at(0), 500), (at(10), 500), (at(20), 500)], 0.0),           # flat
    ([(at(0), 1000), (at(2), 900), (at(4), 800)], -50.0),          # shrinking
    ([(at(0), 0), (at(1), 10), (at(2), 0), (at(3), 10)], 2.0),     # noisy: the fitted line, not the last step
    ([(at(5), 123)], None),                                        # a single point says nothing
    ([(at(5), 1), (at(5), 2)], None),                              # two points at one moment neither
    ([], None),                                                    # no data
])
def test_growth_per_day(points, slope):
    found = slope_per_day(points)
    assert found == (None if slope is None else pytest.approx(slope))


@pytest.mark.parametrize('free, growth, days, verdict', [
    (1000, 100.0, 10.0, 'runs out'),
    (1000, 0.0, None, 'not growing'),
    (1000, -5.0, None, 'not growing'),
    (1000, None, None, 'growth unknown'),
    (0, 50.0, 0.0, 'runs out'),
])
def test_runway(free, growth, days, verdict):
    assert runway(free, growth) == (days, verdict)


@pytest.mark.parametrize('days, expected', [(0.4, '2026-01-01'), (45.9, '2026-02-15'), (10 ** 9, 'after 2126-01-02')])
def test_runs_out_on(days, expected):
    assert runs_out_on(datetime.date(2026, 1, 1), days) == expected


@pytest.mark.parametrize('archives, growth, model', [
    # retention applied (nothing older than 30 days + 1): 3 archives each growing 10 bytes a day
    ([(at(80), 1000), (at(90), 1100), (at(100), 1200)], 30.0, 'retention'),
    ([(at(80), 1000), (at(90), 1000), (at(100), 1000)], 0.0, 'retention'),
    # archives older than the retention are kept: every new one adds its size
    ([(at(0), 1000), (at(50), 1000), (at(100), 1000)], 20.0, 'accumulating'),
    ([], None, 'no archives'),
    ([(at(100), 1000)], None, 'retention'),
])
def test_backups_growth(archives, growth, model):
    found, found_model = backups_growth(archives, at(100.5), 30, at(0))
    assert found_model == model
    assert found == (None if growth is None else pytest.approx(growth))


def test_cumulative_sorts_by_time():
    assert cumulative([(at(2), 5), (at(0), 1), (at(1), 2)]) == [(at(0), 1), (at(1), 3), (at(2), 8)]


# ------------------------------------------------------------------------------------------- disks

@pytest.mark.parametrize('days_of_space, severity, threshold', [(20, 'critical', 30.0), (60, 'high', 90.0),
                                                                (120, None, None)])
def test_disk_runway_finding(history, capsys, days_of_space, severity, threshold):
    home, now = history['home'], history['now']
    failed, first = review(dict(service_home=home), capsys, now=now)
    mount = mount_of(first)
    growth = first['figures']['growth_bytes_per_day:%s' % mount]
    failed, result = review(dict(service_home=home), capsys, now=now,
                            statvfs=lambda path: Statvfs(f_bavail=int(growth * days_of_space) // 4096 + 1, f_frsize=4096))
    assert not failed
    days = result['figures']['runway_days:%s' % mount]
    assert days == pytest.approx(days_of_space, abs=0.15)
    found = [f for f in result['findings'] if f['id'] == 'disk_runway_short']
    if severity is None:
        assert found == []
        return
    today = datetime.datetime.fromtimestamp(now.timestamp()).date()
    date = (today + datetime.timedelta(days=int(days))).isoformat()
    assert found == [dict(id='disk_runway_short', severity=severity, subject=mount, value=days, threshold=threshold,
                          summary=found[0]['summary'])]
    assert found[0]['summary'].startswith('%s runs out of space in %d days, on %s: ' % (mount, round(days), date))
    assert result['figures']['runway:%s' % mount] == 'runs out on %s' % date


def test_a_shrinking_database_has_no_runway(tmp_path, capsys):
    """Rows removed month after month: the data and the archives shrink, nothing grows, so even a nearly full
    filesystem has no runway to run out."""
    home = make_home(tmp_path)
    add_rows(home, 3000)
    db = os.path.join(home, 'data', 'enterprise_inventory.db')
    paths = dict(service_home=home, env_file=os.path.join(home, '.env'), database_path=db,
                 transaction_log_path=os.path.join(home, 'data', 'transaction_log.jsonl'),
                 config_dir=os.path.join(home, 'config'), models_dir=os.path.join(home, 'ai', 'models'))
    now = _backup_records.utc_now()
    for days_ago in (28, 21, 14, 7):
        _archive.create_backup(paths, os.path.join(home, 'backups'), now=now - datetime.timedelta(days=days_ago))
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute('DELETE FROM lines WHERE id IN (SELECT id FROM lines ORDER BY id DESC LIMIT 600)')
        conn.execute('VACUUM')
        conn.close()
    failed, result = review(dict(service_home=home), capsys, now=now,
                            statvfs=lambda path: Statvfs(f_bavail=1, f_frsize=4096))
    assert not failed, result
    figures, mount = result['figures'], mount_of(result)
    assert figures['manifests_streamed'] == 4  # no verification records: read from the archives
    assert figures['db_growth_bytes_per_day'] < 0 and figures['backups_growth_bytes_per_day'] < 0
    assert figures['backups_growth_model'] == 'retention'
    assert figures['runway_days:%s' % mount] is None
    assert figures['runway:%s' % mount].startswith('not growing (-')
    assert result['series']['disk_runway_days']['points'] == []
    assert result['findings'] == []
    assert [item['source'] for item in result['unavailable']] == ['logs', 'redis', 'prometheus']


def test_manifests_streamed_from_archives_encrypted_and_damaged(tmp_path, capsys):
    home = make_home(tmp_path)
    now = _backup_records.utc_now()
    seeded = seed_backup_history(home, months=1, every_days=7, now=now, verify=False, logs=False)['archives']
    backups = os.path.join(home, 'backups')
    before = sorted(os.listdir(backups))
    failed, result = review(dict(service_home=home), capsys, now=now)
    assert not failed and result['figures']['manifests_streamed'] == len(seeded) == 4
    assert result['figures']['manifests_from_records'] == 0
    assert sorted(os.listdir(backups)) == before  # streamed: nothing extracted, nothing written

    # An age copy cannot be opened without the key: unavailable, unless its record has the manifest's figures.
    identity = _encryption.x25519.Identity.generate()
    recipients = _encryption.parse_recipients([_encryption.public_key(identity)])
    oldest, second = seeded[0]['path'], seeded[1]['path']
    _encryption.encrypt_file(oldest, oldest + '.age', recipients)
    _encryption.encrypt_file(second, second + '.age', recipients)
    _backup_records.write_marker(second + '.age', _archive.verify_archive(second, str(tmp_path)))
    os.unlink(oldest)
    os.unlink(second)
    # A damaged archive: cut in the middle.
    damaged = seeded[2]['path']
    with open(damaged, 'r+b') as handle:
        handle.truncate(os.path.getsize(damaged) // 2)
    failed, result = review(dict(service_home=home), capsys, now=now)
    assert not failed, result
    figures = result['figures']
    assert figures['manifests_from_records'] == 1 and figures['manifests_streamed'] == 1
    assert figures['manifests_read'] == 2 and figures['backups_count'] == 4
    reasons = dict((item['reason'].split(':')[0], item['reason']) for item in result['unavailable']
                   if item['source'] == 'backup_manifest')
    assert sorted(reasons) == sorted([oldest + '.age', damaged])
    assert 'age-encrypted' in reasons[oldest + '.age'] and 'no key' in reasons[oldest + '.age']
    assert 'truncated' in reasons[damaged] or 'damaged' in reasons[damaged]


# ------------------------------------------------------------------------------------------- the cache

@pytest.mark.parametrize('share, expected', [(None, None), (0.9, ('cache_memory_near_limit', 'medium')),
                                             (2.0, ('cache_memory_over_limit', 'high'))])
def test_cache_memory_findings(history, redis_url, capsys, share, expected):
    client = redis.Redis.from_url(redis_url)
    client.set('ie:cache:capacity', 'x' * 200000)
    client.close()
    # Asked on a fresh connection: the one that sent 200 KB keeps a query buffer Redis counts as used memory.
    client = redis.Redis.from_url(redis_url)
    used = int(client.info('memory')['used_memory'])
    client.close()
    args = dict(service_home=history['home'], redis_url=redis_url)
    if share is not None:
        args['cache_memory_limit_bytes'] = int(used / share)
    failed, result = review(args, capsys, now=history['now'])
    assert not failed, result
    figures = result['figures']
    assert figures['cache_memory_bytes'] == pytest.approx(used, rel=0.05)
    assert figures['cache_memory_limit_bytes'] == args.get('cache_memory_limit_bytes', 1800000000)
    cache = result['series']['cache_memory_bytes']
    assert cache['kind'] == 'category' and cache['target'] == figures['cache_memory_limit_bytes']
    assert [label for label, dummy in cache['points']] == ['used', 'peak']
    found = [(f['id'], f['severity']) for f in result['findings'] if f['id'].startswith('cache_memory')]
    assert found == ([expected] if expected else [])
    assert 'redis' not in [item['source'] for item in result['unavailable']]


def test_cache_url_from_the_env_file_and_a_dead_redis(tmp_path, redis_url, capsys):
    home = make_home(tmp_path)
    with open(os.path.join(home, '.env'), 'a') as handle:
        handle.write('REDIS_URL=%s\n' % redis_url)
    failed, result = review(dict(service_home=home), capsys)
    assert not failed and result['figures']['cache_memory_bytes'] > 0

    dead = 'redis://:Sup3rSecret@127.0.0.1:%d/0' % closed_port()
    with open(os.path.join(home, '.env'), 'a') as handle:
        handle.write('REDIS_URL=%s\n' % dead)
    failed, result = run_module(capacity_review, dict(service_home=home), capsys, keep_raw=True)
    assert not failed
    reasons = [item['reason'] for item in result['unavailable'] if item['source'] == 'redis']
    assert len(reasons) == 1 and 'redis://:****@127.0.0.1' in reasons[0]
    assert 'Sup3rSecret' not in result['_raw']
    assert 'cache_memory_bytes' not in result['figures'] and 'cache_memory_bytes' not in result['series']


# ------------------------------------------------------------------------------------------- latency

@pytest.fixture(scope='module')
def latency_prometheus():
    """A Prometheus holding a quarter of daily traffic for three jobs: rising past the 100 ms target, flat well
    under it, and creeping towards it."""
    server = PrometheusServer([], retention='1y')
    backfill(server.data_dir, latency_history({'job="rising"': (50, 250), 'job="flat"': (40, 40),
                                               'job="creeping"': (40, 70)}, days=92))
    server.start()
    yield server
    server.close()


@pytest.mark.parametrize('job, expected', [('rising', 'medium'), ('creeping', 'low'), ('flat', None)])
def test_p95_latency_trend(history, latency_prometheus, capsys, job, expected):
    failed, result = review(dict(service_home=history['home'], prometheus_url=latency_prometheus.url,
                                 prometheus_selector='job="%s"' % job), capsys)
    assert not failed, result
    points = result['series']['p95_latency_ms']['points']
    assert result['series']['p95_latency_ms']['target'] == 100.0
    assert 85 <= len(points) <= 93 and result['figures']['p95_latency_days'] == len(points)
    moments = [(datetime.datetime.strptime(x, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=UTC), y) for x, y in points]
    assert result['figures']['p95_latency_trend_ms_per_day'] == pytest.approx(least_squares(moments), abs=0.001)
    found = [f for f in result['findings'] if f['id'] == 'p95_latency_rising']
    if expected is None:
        assert found == [] and max(y for dummy, y in points) < 100
        return
    assert [f['severity'] for f in found] == [expected] and found[0]['threshold'] == 100.0
    if expected == 'medium':
        assert found[0]['value'] > 100 and 'above the 100.0 ms target' in found[0]['summary']
    else:
        assert found[0]['value'] < 100 and 'passes the 100.0 ms target on 20' in found[0]['summary']


def test_p95_without_a_selector_is_the_whole_service(history, latency_prometheus, capsys):
    """No prometheus_selector: one p95 over every series (the buckets summed by le), here all three jobs."""
    failed, result = review(dict(service_home=history['home'], prometheus_url=latency_prometheus.url), capsys)
    assert not failed and 'prometheus' not in [item['source'] for item in result['unavailable']]
    flat = dict(review(dict(service_home=history['home'], prometheus_url=latency_prometheus.url,
                            prometheus_selector='job="flat"'), capsys)[1]['series']['p95_latency_ms']['points'])
    points = result['series']['p95_latency_ms']['points']
    assert len(points) >= 85 and all(y > flat[x] for x, y in points if x in flat)


def test_prometheus_down_is_unavailable(history, capsys):
    url = 'http://127.0.0.1:%d' % closed_port()
    failed, result = review(dict(service_home=history['home'], prometheus_url=url), capsys)
    assert not failed
    reasons = [item['reason'] for item in result['unavailable'] if item['source'] == 'prometheus']
    assert len(reasons) == 1 and url in reasons[0]
    assert 'p95_latency_ms' not in result['series']


# ------------------------------------------------------------------------------------------- failures

def test_nothing_readable_fails_and_says_why(tmp_path, capsys):
    home = str(tmp_path / 'home')
    os.makedirs(home)
    with open(os.path.join(home, '.env'), 'w') as handle:
        handle.write('DATABASE_PATH=nowhere/db.sqlite\nLOG_DIR=nowhere/logs\nBACKUP_DIR=nowhere/backups\n')
    failed, result = run_module(capacity_review, dict(service_home=home), capsys)
    assert failed and 'nothing could be read' in result['msg']
    assert 'nowhere/db.sqlite does not exist' in result['msg'] and 'nowhere/logs' in result['msg']


def test_options_out_of_range_fail_clearly(history, capsys):
    failed, result = run_module(capacity_review, dict(service_home=history['home'], runway_threshold_days=20,
                                                      runway_critical_days=30), capsys)
    assert failed and 'runway_critical_days (30.0) must not exceed runway_threshold_days (20.0)' in result['msg']
    failed, result = run_module(capacity_review, dict(service_home=history['home'], lookback_days=0), capsys)
    assert failed and 'lookback_days must be greater than 0' in result['msg']
