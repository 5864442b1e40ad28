# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import time

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _backup_records
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import ApiClient
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._checks import (
    FAILED,
    OK,
    SKIPPED,
    HealthCheckRunner,
    check_backup,
    check_disk,
    check_memory_pid,
    check_redis,
    failure_message,
    normalize_disk_paths,
    summarize,
    used_percent,
)
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_backup_support import (
    make_archive, make_home)
from ansible_collections.inventory_enterprise.ops.tests.unit.servers import DEGRADED, metrics_text, route

HOUR = 3600.0


def touch(path, age_hours, now):
    with open(str(path), 'w') as handle:
        handle.write('backup')
    os.utime(str(path), (now - age_hours * HOUR, now - age_hours * HOUR))
    return str(path)


def by_name(results):
    return dict((r['name'], r) for r in results)


# ---------------------------------------------------------------------------------------------- backup
# Real archives, verified (or not) the way the backup module records it in backups/.verified/.

@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path)


def test_backup_newest_verified_archive_counts(home):
    backups = os.path.join(home, 'backups')
    make_archive(home, 50)
    newest = make_archive(home, 7)
    touch(os.path.join(backups, 'notes.txt'), 0.1, time.time())  # newer but not a backup
    os.mkdir(os.path.join(backups, 'inventory_backup_2099-01-01T00-00-00.tar.zst.d'))  # not a file
    result = check_backup(backups, 'inventory_backup_*', 26)
    assert result['verdict'] == OK, result['message']
    value = result['value']
    # Exactly the keys RETURN documents for the backup check's value.
    assert set(value) == {'path', 'name', 'created_at', 'age_hours', 'size', 'verified_at', 'newest_unverified'}
    assert value['path'] == newest and value['name'] == os.path.basename(newest)
    assert value['age_hours'] == pytest.approx(7, abs=0.01)
    assert value['size'] == os.path.getsize(newest) and value['verified_at']
    assert value['newest_unverified'] is None
    assert result['threshold'] == 26
    assert result['message'] == 'newest verified backup %s is 7 h old' % newest


def test_backup_a_zero_byte_file_named_like_an_archive_is_no_backup(home):
    backups = os.path.join(home, 'backups')
    empty = os.path.join(backups, 'inventory_backup_%s.tar.zst' % _backup_records.utc_now().strftime(_backup_records.TS_FORMAT))
    open(empty, 'w').close()
    result = check_backup(backups, 'inventory_backup_*', 26)
    assert result['verdict'] == FAILED
    assert result['value']['path'] is None
    assert result['value']['newest_unverified']['path'] == empty
    assert result['value']['newest_unverified']['status'] == 'not verified'
    assert result['message'].startswith('no verified backup in %s: newest archive %s is not verified' % (backups, empty))
    assert 'backup state=verified' in result['message']


def test_backup_unverified_newer_archive_is_reported_beside_the_verified_one(home):
    backups = os.path.join(home, 'backups')
    verified = make_archive(home, 5)
    newer = make_archive(home, 1, verified=False)
    result = check_backup(backups, 'inventory_backup_*', 26)
    # Still being verified by the nightly run, or made with verify=false: the verified one still counts.
    assert result['verdict'] == OK
    assert result['value']['path'] == verified
    assert result['value']['newest_unverified'] == dict(
        path=newer, name=os.path.basename(newer), created_at=_backup_records.iso(_backup_records.parse_name(
            os.path.basename(newer))[1]), age_hours=pytest.approx(1, abs=0.01), status='not verified', reason=None)
    assert result['message'] == ('newest verified backup %s is 5 h old; newer archive %s is not verified '
                                 '(run backup state=verified path=%s)' % (verified, newer, newer))


def test_backup_only_a_verified_archive_older_than_the_limit(home):
    backups = os.path.join(home, 'backups')
    old = make_archive(home, 30)
    make_archive(home, 2, verified=False)
    result = check_backup(backups, 'inventory_backup_*', 26)
    assert result['verdict'] == FAILED
    assert result['value']['path'] == old
    assert result['value']['age_hours'] == pytest.approx(30, abs=0.01)
    assert result['message'].startswith('newest verified backup %s is 30 h old, older than 26 h' % old)
    assert 'is not verified' in result['message']


def test_backup_pattern_restricts_the_archives(home):
    backups = os.path.join(home, 'backups')
    make_archive(home, 3)
    result = check_backup(backups, 'inventory_backup_*.tar.gz', 26)
    assert result['verdict'] == FAILED and result['value'] is None
    assert result['message'].startswith('no backup archive matching inventory_backup_*.tar.gz in %s' % backups)


def test_backup_none_found(tmp_path):
    touch(tmp_path / 'other.tar.gz', 1, time.time())
    touch(tmp_path / 'inventory_backup_latest.tar.zst', 1, time.time())  # not an archive name
    result = check_backup(str(tmp_path), 'inventory_backup_*', 26)
    assert result['verdict'] == FAILED
    assert result['value'] is None
    assert 'no backup archive matching inventory_backup_* in %s' % tmp_path in result['message']


def test_backup_dir_missing(tmp_path):
    result = check_backup(str(tmp_path / 'nope'), 'inventory_backup_*', 26)
    assert result['verdict'] == FAILED
    assert 'backup directory %s does not exist' % (tmp_path / 'nope') in result['message']


# ------------------------------------------------------------------------------------------------ disk

def test_disk_real_path(tmp_path):
    pct = round(used_percent(os.statvfs(str(tmp_path))), 1)
    result = check_disk(str(tmp_path), 100)
    assert result['name'] == 'disk:%s' % tmp_path
    assert result['verdict'] == OK
    assert result['value'] == pytest.approx(pct, abs=0.2)
    assert result['threshold'] == 100
    assert '%s is ' % tmp_path in result['message'] and 'GiB free' in result['message']


def test_disk_over_threshold(tmp_path):
    pct = used_percent(os.statvfs(str(tmp_path)))
    if pct < 1:
        pytest.skip('the temp filesystem is empty, nothing can exceed a threshold')
    result = check_disk(str(tmp_path), 0.5)
    assert result['verdict'] == FAILED
    assert 'above 0.5%' in result['message']


def test_disk_missing_path_names_it(tmp_path):
    missing = str(tmp_path / 'data')
    result = check_disk(missing, 85)
    assert result['verdict'] == FAILED
    assert result['name'] == 'disk:%s' % missing
    assert result['message'].startswith('%s does not exist' % missing)


def test_used_percent_like_df():
    # 100 blocks, 40 free of which 30 available to users: used 60 / (60 + 30)
    stat = os.statvfs_result((4096, 4096, 100, 40, 30, 0, 0, 0, 0, 255))
    assert used_percent(stat) == pytest.approx(66.666, abs=0.01)
    assert used_percent(os.statvfs_result((4096, 4096, 0, 0, 0, 0, 0, 0, 0, 255))) == 0.0


def test_normalize_disk_paths():
    assert normalize_disk_paths(['/data', {'path': '/logs', 'max_used_percent': 90},
                                 {'path': '/backups'}], 85) == [('/data', 85.0), ('/logs', 90.0),
                                                                ('/backups', 85.0)]
    assert normalize_disk_paths([], 85) == []


@pytest.mark.parametrize('bad', [[{'max_used_percent': 90}], [{'path': '/x', 'limit': 1}], [3], [''],
                                 [{'path': '/x', 'max_used_percent': 'lots'}],
                                 [{'path': '/x', 'max_used_percent': 120}]])
def test_normalize_disk_paths_rejects(bad):
    with pytest.raises(ValueError):
        normalize_disk_paths(bad, 85)


# ---------------------------------------------------------------------------------------------- memory

def pid_max():
    with open('/proc/sys/kernel/pid_max') as handle:
        return int(handle.read())


def test_memory_from_pid_file(tmp_path):
    pid_file = tmp_path / 'service.pid'
    pid_file.write_text('%d\n' % os.getpid())
    result = check_memory_pid(str(pid_file), 100000)
    assert result['verdict'] == OK
    assert 1 < result['value'] < 100000
    assert 'VmRSS of pid %d' % os.getpid() in result['message']
    low = check_memory_pid(str(pid_file), 1)
    assert low['verdict'] == FAILED and 'exceeds 1 MB' in low['message']


def test_memory_pid_not_running(tmp_path):
    pid_file = tmp_path / 'service.pid'
    pid_file.write_text('%d' % pid_max())  # pids are always below pid_max
    result = check_memory_pid(str(pid_file), 2048)
    assert result['verdict'] == FAILED
    assert 'is not running' in result['message'] and str(pid_file) in result['message']


def test_memory_pid_file_missing_or_garbage(tmp_path):
    assert 'cannot read pid_file' in check_memory_pid(str(tmp_path / 'x.pid'), 2048)['message']
    garbage = tmp_path / 'g.pid'
    garbage.write_text('hello')
    assert 'does not contain a process id' in check_memory_pid(str(garbage), 2048)['message']


# ----------------------------------------------------------------------------------------------- redis

def test_check_redis_ok_and_below_min_hit_rate(redis_url):
    import redis
    client = redis.Redis.from_url(redis_url)
    client.set('k', 'v')
    client.get('k')
    client.get('missing')
    client.close()
    result = check_redis(redis_url, 2, 0)
    assert result['verdict'] == OK
    assert result['value'] == dict(ping=True, hit_rate=50.0, keyspace_hits=1, keyspace_misses=1)
    assert 'keyspace hit rate 50% (1 hits, 1 misses)' in result['message']
    strict = check_redis(redis_url, 2, 85)
    assert strict['verdict'] == FAILED and strict['threshold'] == 85
    assert 'below 85%' in strict['message']


def test_check_redis_no_traffic_is_ok_even_with_min(redis_url):
    result = check_redis(redis_url, 2, 85)
    assert result['verdict'] == OK and result['value']['hit_rate'] is None


def test_check_redis_down(dead_redis_url):
    result = check_redis(dead_redis_url, 1, 0)
    assert result['verdict'] == FAILED and result['value'] is None
    assert dead_redis_url in result['message']


# ---------------------------------------------------------------------------------------------- runner

def test_runner_fetches_each_endpoint_once(api):
    runner = HealthCheckRunner(ApiClient(api.url, timeout=5), checks=['health', 'metrics', 'memory'])
    results = runner.run()
    assert [r['verdict'] for r in results] == [OK, OK, OK]
    assert api.count('/health') == 1 and api.count('/metrics') == 1


def test_runner_memory_from_pid_skips_metrics_fetch(api, tmp_path):
    pid_file = tmp_path / 'p.pid'
    pid_file.write_text(str(os.getpid()))
    runner = HealthCheckRunner(ApiClient(api.url, timeout=5), checks=['memory'], pid_file=str(pid_file))
    assert not runner.needs_metrics
    assert runner.run()[0]['verdict'] == OK
    assert api.requests == []


def test_runner_skips_unconfigured_and_keeps_canonical_order(api):
    runner = HealthCheckRunner(ApiClient(api.url, timeout=5), checks=['backup', 'disk', 'redis', 'health'])
    results = runner.run()
    assert [(r['name'], r['verdict']) for r in results] == [
        ('health', OK), ('redis', SKIPPED), ('disk', SKIPPED), ('backup', SKIPPED)]
    assert not runner.needs_redis


def test_runner_degraded(api):
    api.use('degraded')
    results = by_name(HealthCheckRunner(ApiClient(api.url, timeout=5), checks=['health', 'metrics']).run())
    assert results['health']['verdict'] == FAILED
    assert results['health']['value'] == DEGRADED
    assert 'HTTP 503 from %s/health' % api.url in results['health']['message']
    assert 'cache disconnected' in results['health']['message']
    assert results['metrics']['verdict'] == FAILED
    assert results['metrics']['value'] == {'database': 1.0, 'cache': 0.0}
    assert 'cache (0)' in results['metrics']['message']


def test_runner_health_contract_details(api):
    api.use('healthy', **{'/health': route(200, {'status': 'ok', 'database': 'connected'})})
    result = HealthCheckRunner(ApiClient(api.url, timeout=5), checks=['health']).run()[0]
    assert result['verdict'] == FAILED and 'cache not reported' in result['message']

    api.use('healthy', **{'/health': route(200, {'status': 'ok', 'database': 'connected', 'cache': 'connected',
                                                 'postgres': 'disconnected'})})
    result = HealthCheckRunner(ApiClient(api.url, timeout=5), checks=['health']).run()[0]
    assert result['verdict'] == FAILED and 'postgres disconnected' in result['message']

    api.use('healthy', **{'/health': route(200, ['ok'])})
    result = HealthCheckRunner(ApiClient(api.url, timeout=5), checks=['health']).run()[0]
    assert result['verdict'] == FAILED and 'expected a JSON object, got list' in result['message']


def test_runner_metrics_without_health_gauges_or_rss(api):
    api.use('healthy', **{'/metrics': route(200, '# TYPE up gauge\nup 1\n', 'text/plain')})
    results = by_name(HealthCheckRunner(ApiClient(api.url, timeout=5), checks=['metrics', 'memory']).run())
    assert results['metrics']['verdict'] == FAILED
    assert 'no system_health_status gauge' in results['metrics']['message']
    assert results['memory']['verdict'] == FAILED
    assert 'set pid_file' in results['memory']['message']


def test_runner_memory_over_threshold_from_metrics(api):
    api.use('healthy', **{'/metrics': route(200, metrics_text(rss=3 * 1024 ** 3), 'text/plain')})
    result = HealthCheckRunner(ApiClient(api.url, timeout=5), checks=['memory']).run()[0]
    assert result['verdict'] == FAILED
    assert result['value'] == 3072.0 and result['threshold'] == 2048.0
    assert 'resident memory 3072 MB exceeds 2048 MB' in result['message']


def test_network_checks_run_concurrently(api, redis_url):
    api.use('healthy', **{'/health': route(200, DEGRADED.copy(), delay=0.8),
                          '/metrics': route(200, metrics_text(), 'text/plain', delay=0.8)})
    start = time.monotonic()
    results = HealthCheckRunner(ApiClient(api.url, timeout=5), checks=['health', 'metrics', 'redis', 'memory'],
                                redis_url=redis_url).run()
    elapsed = time.monotonic() - start
    assert len(results) == 4
    assert elapsed < 1.5, 'health and metrics were fetched one after the other (%.2fs)' % elapsed


def test_summary_and_failure_message():
    results = [dict(name='health', verdict=FAILED, message='HTTP 503'),
               dict(name='metrics', verdict=OK, message=''),
               dict(name='disk:/data', verdict=FAILED, message='/data is 91% used'),
               dict(name='redis', verdict=SKIPPED, message='')]
    assert summarize(results, 'web01') == 'web01: 1 ok, 2 failed (health, disk:/data), 1 skipped (redis)'
    assert failure_message(results, 'web01') == (
        'health_check failed on web01: health (HTTP 503); disk:/data (/data is 91% used)')
