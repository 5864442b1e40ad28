# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""health_check end to end: real HTTP service (tests/unit/servers.py), real private redis-server, real files.

Run: cd /work/main && PYTHONPATH=build/collections .venv/bin/python -m pytest tests/unit -q -k health_check
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import time

import pytest

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

from ansible_collections.inventory_enterprise.ops.plugins.modules import backup, health_check
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_backup_support import (
    make_archive, make_home)
from ansible_collections.inventory_enterprise.ops.tests.unit.servers import (
    DEGRADED, HEALTHY, ScriptedRedis, route)

HOUR = 3600.0


def run(args, capsys, check_mode=False):
    """Run main() like Ansible does; return (failed, result dict) from the JSON it prints. Without targets, the
    result is that of the one host checked (its report in `hosts` over the run's own keys)."""
    failed, result = run_module(health_check, args, capsys, check_mode=check_mode, keep_raw=True)
    if 'targets' not in args and 'hosts' in result:
        assert len(result['hosts']) == 1 and result['failed_hosts'] == ([] if result['ok'] else [result['hosts'][0]['host']])
        result = dict(result, **result['hosts'][0])
    return failed, result


def by_host(result):
    return dict((report['host'], report) for report in result['hosts'])


def verdicts(result):
    return dict((c['name'], c['verdict']) for c in result['checks'])


def check(result, name):
    return [c for c in result['checks'] if c['name'] == name][0]


@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path)


@pytest.fixture
def backups(home):
    """A backups directory holding a 3 h old daily backup, verified by the backup module."""
    make_archive(home, 3)
    return os.path.join(home, 'backups')


@pytest.fixture
def full_args(api, redis_url, backups, tmp_path):
    return dict(api_url=api.url, api_timeout=5, redis_url=redis_url, backup_dir=str(backups),
                disk_paths=[str(tmp_path), dict(path=str(backups), max_used_percent=100)],
                disk_max_used_percent=100, host_label='web01')


def test_everything_healthy(full_args, api, tmp_path, backups, capsys):
    failed, result = run(full_args, capsys)
    assert not failed
    assert result['changed'] is False
    assert result['ok'] is True and result['failed_checks'] == []
    assert result['host'] == 'web01'
    assert [c['name'] for c in result['checks']] == [
        'health', 'metrics', 'redis', 'disk:%s' % tmp_path, 'disk:%s' % backups, 'backup', 'memory']
    assert set(verdicts(result).values()) == {'ok'}
    assert check(result, 'health')['value'] == HEALTHY
    assert check(result, 'metrics')['value'] == {'database': 1.0, 'cache': 1.0}
    assert check(result, 'redis')['value']['ping'] is True
    assert check(result, 'backup')['value']['age_hours'] == pytest.approx(3, abs=0.05)
    assert check(result, 'memory')['value'] == 150.0
    assert check(result, 'memory')['threshold'] == 2048.0
    for entry in result['checks']:
        assert set(entry) == {'name', 'verdict', 'value', 'threshold', 'message', 'reading'}
    # The figures behind the verdicts, against their limits: what the fleet summary shows.
    readings = dict((c['name'], c['reading']) for c in result['checks'])
    assert re.match(r'^\d+ ms$', readings['health']), readings
    assert readings['metrics'] == '2 of 2 gauges at 1' and readings['memory'] == '150 MB of 2048 MB'
    assert re.match(r'^\d+(\.\d)?% used of 100%$', readings['disk:%s' % tmp_path]), readings
    assert readings['backup'] == '3 h old of 26 h'  # the default backup_max_age_hours
    assert result['summary'] == 'web01: 7 ok'
    assert api.count('/health') == 1 and api.count('/metrics') == 1


def test_unconfigured_checks_are_skipped(api, capsys):
    failed, result = run(dict(api_url=api.url, host_label='web01'), capsys)
    assert not failed
    assert verdicts(result) == {'health': 'ok', 'metrics': 'ok', 'redis': 'skipped', 'disk': 'skipped',
                                'backup': 'skipped', 'memory': 'ok'}
    assert check(result, 'redis')['message'] == 'skipped: no redis_url given'
    assert result['summary'] == 'web01: 3 ok, 3 skipped (redis, disk, backup)'


def test_host_label_defaults_to_hostname(api, capsys):
    import socket
    failed, result = run(dict(api_url=api.url, checks=['health']), capsys)
    assert not failed and result['host'] == socket.gethostname()


def test_degraded_503_fails_naming_host_and_every_check(api, redis_url, capsys):
    api.use('degraded')
    failed, result = run(dict(api_url=api.url, redis_url=redis_url, host_label='web01'), capsys)
    assert failed
    assert result['failed_checks'] == ['health', 'metrics']
    assert result['ok'] is False and result['changed'] is False
    health = check(result, 'health')
    assert health['value'] == DEGRADED
    assert result['msg'].startswith('health_check failed on web01: health (HTTP 503 from %s/health: '
                                    % api.url)
    assert 'cache disconnected' in result['msg']
    assert '; metrics (system_health_status is not 1 for cache (0)' in result['msg']
    assert verdicts(result)['redis'] == 'ok'
    assert result['summary'] == 'web01: 2 ok, 2 failed (health, metrics), 2 skipped (disk, backup)'


def test_http_500(api, capsys):
    api.use('error500')
    failed, result = run(dict(api_url=api.url, host_label='web01'), capsys)
    assert failed
    assert result['failed_checks'] == ['health', 'metrics', 'memory']
    assert 'HTTP 500 from GET %s/health: Internal Server Error' % api.url in check(result, 'health')['message']
    assert 'HTTP 500 from GET %s/metrics' % api.url in check(result, 'metrics')['message']


def test_malformed_answers(api, capsys):
    api.use('malformed')
    failed, result = run(dict(api_url=api.url, host_label='web01'), capsys)
    assert failed
    assert 'malformed JSON from GET %s/health (HTTP 200)' % api.url in check(result, 'health')['message']
    assert 'cannot parse %s/metrics: not Prometheus text format' % api.url in check(result, 'metrics')['message']
    assert 'Traceback' not in result['_raw']


def test_slow_service_times_out_without_blocking_the_rest(api, redis_url, capsys):
    api.use('healthy', **{'/health': route(200, HEALTHY, delay=3)})
    start = time.monotonic()
    failed, result = run(dict(api_url=api.url, api_timeout=0.5, redis_url=redis_url, host_label='web01'), capsys)
    assert time.monotonic() - start < 2
    assert failed and result['failed_checks'] == ['health']
    assert 'no answer from %s/health within 0.5 s' % api.url in result['msg']
    assert verdicts(result)['metrics'] == 'ok' and verdicts(result)['redis'] == 'ok'


def test_nothing_listening(dead_url, capsys):
    failed, result = run(dict(api_url=dead_url, host_label='web01'), capsys)
    assert failed
    assert result['failed_checks'] == ['health', 'metrics', 'memory']
    assert result['msg'].startswith('health_check failed on web01: health (cannot connect to %s/health'
                                    % dead_url)
    assert '; metrics (cannot connect to %s/metrics' % dead_url in result['msg']
    assert '; memory (cannot read process_resident_memory_bytes' in result['msg']


def test_redis_down_secret_never_printed(api, dead_redis_url, capsys):
    secret_url = dead_redis_url.replace('redis://', 'redis://:T0pSecret@')
    failed, result = run(dict(api_url=api.url, redis_url=secret_url, redis_timeout=1, host_label='web01',
                              api_token='tok-123456'), capsys)
    assert failed and result['failed_checks'] == ['redis']
    assert 'redis (Redis PING at %s failed' % secret_url.replace('T0pSecret', '****') in result['msg']
    assert 'T0pSecret' not in result['_raw'] and 'tok-123456' not in result['_raw']
    assert api.requests[0]['authorization'] == 'Bearer tok-123456'


def test_disk_missing_path_and_threshold(api, tmp_path, capsys):
    missing = str(tmp_path / 'logs')
    failed, result = run(dict(api_url=api.url, checks=['disk'], host_label='web01',
                              disk_paths=[missing, dict(path=str(tmp_path), max_used_percent=100)]), capsys)
    assert failed
    assert result['failed_checks'] == ['disk:%s' % missing]
    assert 'disk:%s (%s does not exist' % (missing, missing) in result['msg']
    assert check(result, 'disk:%s' % tmp_path)['threshold'] == 100
    assert api.requests == []  # nothing selected needs the service


def test_stale_or_missing_backup(api, tmp_path, backups, capsys):
    failed, result = run(dict(api_url=api.url, checks=['backup'], backup_dir=str(backups),
                              backup_max_age_hours=2, host_label='web01'), capsys)
    assert failed and 'older than 2 h' in result['msg']
    empty = tmp_path / 'empty'
    empty.mkdir()
    failed, result = run(dict(api_url=api.url, checks=['backup'], backup_dir=str(empty), host_label='web01'),
                         capsys)
    assert failed and 'no backup archive matching inventory_backup_* in %s' % empty in result['msg']


def flip_byte(path):
    with open(path, 'r+b') as handle:
        handle.seek(os.path.getsize(path) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0x01]))


def test_an_archive_that_failed_verification_fails_the_morning_check(api, home, capsys):
    """The nightly archive is kept for investigation when it does not verify: it is not a backup."""
    backups = os.path.join(home, 'backups')
    good = make_archive(home, 5)
    bad = make_archive(home, 1, verified=False)
    flip_byte(bad)
    failed, verification = run_module(backup, dict(service_home=home, state='verified', path=bad), capsys)
    assert failed and 'failed verification' in verification['msg']

    failed, result = run(dict(api_url=api.url, checks=['backup'], backup_dir=backups, host_label='web01'), capsys)
    assert failed and result['failed_checks'] == ['backup']
    found = check(result, 'backup')
    assert found['value']['path'] == good
    assert found['value']['newest_unverified']['path'] == bad
    assert found['value']['newest_unverified']['status'] == 'failed verification'
    assert 'corrupt' in found['value']['newest_unverified']['reason']
    assert found['message'].startswith('newest archive %s failed verification (' % bad)
    assert 'newest verified backup %s is 5 h old' % good in found['message']

    # A new verified backup makes the broken one history: the check passes again.
    newest = make_archive(home, 0)
    failed, result = run(dict(api_url=api.url, checks=['backup'], backup_dir=backups, host_label='web01'), capsys)
    assert not failed and check(result, 'backup')['value']['path'] == newest


def test_retention_records_the_archive_it_found_broken(api, home, capsys):
    """backup state=pruned verifies archives without a record: one that fails is recorded, in check mode not."""
    backups = os.path.join(home, 'backups')
    make_archive(home, 5)
    bad = make_archive(home, 1, verified=False)
    flip_byte(bad)
    args = dict(service_home=home, state='pruned', retention_days=30)
    failed, pruned = run_module(backup, args, capsys, check_mode=True)
    assert not failed and [r['name'] for r in pruned['rejected']] == [os.path.basename(bad)]
    failed, result = run(dict(api_url=api.url, checks=['backup'], backup_dir=backups, host_label='web01'), capsys)
    assert not failed and check(result, 'backup')['value']['newest_unverified']['status'] == 'not verified'

    failed, pruned = run_module(backup, args, capsys)
    assert not failed
    failed, result = run(dict(api_url=api.url, checks=['backup'], backup_dir=backups, host_label='web01'), capsys)
    assert failed and check(result, 'backup')['value']['newest_unverified']['status'] == 'failed verification'


def test_a_zero_byte_archive_is_not_a_backup(api, tmp_path, capsys):
    backups = tmp_path / 'backups'
    backups.mkdir()
    stamp = time.strftime('%Y-%m-%dT%H-%M-%S', time.gmtime(time.time() - 3600))
    (backups / ('inventory_backup_%s.tar.zst' % stamp)).write_bytes(b'')
    failed, result = run(dict(api_url=api.url, checks=['backup'], backup_dir=str(backups), host_label='web01'),
                         capsys)
    assert failed
    assert 'backup (no verified backup in %s: newest archive %s/inventory_backup_%s.tar.zst is not verified' % (
        backups, backups, stamp) in result['msg']


def test_report_only_never_fails(dead_url, capsys):
    failed, result = run(dict(api_url=dead_url, report_only=True, host_label='web01'), capsys)
    assert not failed
    assert result['ok'] is False
    assert result['failed_checks'] == ['health', 'metrics', 'memory']
    assert 'msg' not in result


def test_check_mode_runs_the_same_read_only_checks(full_args, capsys):
    failed, result = run(full_args, capsys, check_mode=True)
    assert not failed and result['changed'] is False and result['ok'] is True
    assert len(result['checks']) == 7


def test_check_mode_failure_still_reported(api, capsys):
    api.use('degraded')
    failed, result = run(dict(api_url=api.url, checks=['health'], host_label='web01'), capsys, check_mode=True)
    assert failed and result['failed_checks'] == ['health']


def test_memory_from_pid_file(api, tmp_path, capsys):
    pid_file = tmp_path / 'service.pid'
    pid_file.write_text(str(os.getpid()))
    failed, result = run(dict(api_url=api.url, checks=['memory'], pid_file=str(pid_file), memory_max_mb=1,
                              host_label='web01'), capsys)
    assert failed and result['failed_checks'] == ['memory']
    assert 'VmRSS of pid %d' % os.getpid() in result['msg']
    assert api.requests == []


def test_redis_min_hit_rate(api, redis_url, capsys):
    import redis
    client = redis.Redis.from_url(redis_url)
    client.get('cold')
    client.close()
    failed, result = run(dict(api_url=api.url, checks=['redis'], redis_url=redis_url, redis_min_hit_rate=85,
                              host_label='web01'), capsys)
    assert failed
    assert check(result, 'redis')['value']['hit_rate'] == 0.0
    assert 'below 85%' in result['msg']


@pytest.mark.parametrize('args, message', [
    (dict(disk_paths=[dict(mount='/data')]), 'each disk_paths entry must be a path or a dict'),
    (dict(api_timeout=0), 'api_timeout must be greater than 0'),
    (dict(redis_min_hit_rate=120), 'redis_min_hit_rate must be a percentage'),
    (dict(checks=['health', 'uptime']), 'value of checks must be one or more of'),
])
def test_invalid_arguments(api, capsys, args, message):
    failed, result = run(dict(args, api_url=api.url), capsys)
    assert failed and message in result['msg']
    assert api.requests == []


def test_argument_spec_marks_secrets_no_log():
    spec = health_check.argument_spec()
    assert spec['api_token']['no_log'] is True
    assert spec['redis_url']['no_log'] is True
    assert spec['checks']['default'] == ['health', 'metrics', 'redis', 'disk', 'backup', 'memory']


def test_one_host_and_many_give_the_same_result_shape(api, capsys):
    """A run on this host and a run over targets return the same keys, and the same keys per host."""
    checks = ['health', 'metrics', 'memory']
    one = run_module(health_check, dict(api_url=api.url, host_label='web01', checks=checks), capsys)[1]
    many = run_module(health_check, dict(targets=[dict(host_label='web01', api_url=api.url),
                                                  dict(host_label='web02', api_url=api.url)], checks=checks), capsys)[1]
    keys = {'changed', 'hosts', 'failed_hosts', 'ok', 'summary'}
    ansible_own = {'invocation', 'warnings', 'deprecations'}  # added by AnsibleModule, not by the module
    assert set(one) - ansible_own == set(many) - ansible_own == keys
    assert [h['host'] for h in one['hosts']] == ['web01'] and [h['host'] for h in many['hosts']] == ['web01', 'web02']
    latency_apart = [dict(c, reading=None) for c in one['hosts'][0]['checks']]
    assert latency_apart == [dict(c, reading=None) for c in many['hosts'][0]['checks']]
    assert set(one['hosts'][0]) == {'host', 'ok', 'summary', 'checks', 'failed_checks'}
    assert one['summary'] == '1 host(s): 1 ok, 0 failed' and many['summary'] == '2 host(s): 2 ok, 0 failed'


def test_targets_check_many_hosts_from_one_process(api, redis_url, dead_url, dead_redis_url, capsys):
    secret = dead_redis_url.replace('redis://', 'redis://:T0pSecret@')
    targets = [dict(host_label='web01', api_url=api.url, redis_url=redis_url),
               dict(host_label='web02', api_url=dead_url),
               dict(host_label='web03', api_url=api.url, redis_url=secret)]
    args = dict(targets=targets, checks=['health', 'metrics', 'redis', 'memory'], redis_timeout=1, api_timeout=5)
    failed, result = run(args, capsys)
    assert failed
    assert result['failed_hosts'] == ['web02', 'web03'] and result['ok'] is False
    assert result['summary'] == '3 host(s): 1 ok, 2 failed (web02, web03)'
    assert verdicts(by_host(result)['web01']) == {'health': 'ok', 'metrics': 'ok', 'redis': 'ok', 'memory': 'ok'}
    assert by_host(result)['web02']['failed_checks'] == ['health', 'metrics', 'memory']
    assert verdicts(by_host(result)['web02'])['redis'] == 'skipped'
    assert by_host(result)['web03']['failed_checks'] == ['redis']
    assert result['msg'].startswith('health_check failed on web02: health (cannot connect to %s/health' % dead_url)
    assert '; health_check failed on web03: redis (Redis PING at %s failed' % secret.replace('T0pSecret', '****') \
        in result['msg']
    assert 'T0pSecret' not in result['_raw']
    # The service saw each of its two targets' requests: /health and /metrics, once per target.
    assert sorted(r['path'] for r in api.requests) == ['/health', '/health', '/metrics', '/metrics']

    failed, reported = run(dict(args, report_only=True), capsys)
    assert not failed and reported['failed_hosts'] == ['web02', 'web03'] and reported['changed'] is False


@pytest.mark.parametrize('args, message', [
    (dict(checks=['health', 'disk']), 'checks disk read the files of the host they run on'),
    (dict(checks=['memory'], pid_file='/run/x.pid'), 'checks memory with pid_file read the files'),
    (dict(checks=['health'], extra=True), 'repeat the host_label(s) web01'),
])
def test_targets_refuse_local_checks_and_duplicate_labels(api, capsys, args, message):
    targets = [dict(host_label='web01', api_url=api.url)]
    if args.pop('extra', False):
        targets.append(dict(host_label='web01', api_url=api.url))
    failed, result = run(dict(args, targets=targets), capsys)
    assert failed and message in result['msg'], result['msg']
    assert api.requests == []


def test_no_targets_is_an_empty_fleet(capsys):
    failed, result = run(dict(targets=[], checks=['health']), capsys)
    assert not failed and result['hosts'] == [] and result['ok'] is True


# ------------------------------------------------------------------------ what reaches the operator's terminal

UNSAFE = re.compile(u'[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]')


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_control_characters_from_servers_are_escaped(api, capsys):
    """ESC, CR, BEL and bidi overrides chosen by a server reach results and messages as visible escapes."""
    api.use('healthy', **{
        '/health': route(503, {'status': 'degraded\x1b[2J', 'database': 'connected',
                               'cache\x1b]0;owned\x07': 'disconnected', 'version': '2.1.0\r\u202eok'}),
        '/metrics': route(500, 'Internal \x1b[31mError\x07\x9b', 'text/plain')})
    evil = ScriptedRedis(b'-ERR \x1b[2Jwiped\x07\r\n').start()
    try:
        failed, result = run(dict(api_url=api.url, redis_url=evil.url, checks=['health', 'metrics', 'redis'],
                                  redis_timeout=2, host_label='web01'), capsys)
    finally:
        evil.stop()
    assert failed and result['failed_checks'] == ['health', 'metrics', 'redis']
    reported = dict((key, value) for key, value in result.items() if key not in ('invocation', '_raw'))
    raw_strings = [text for text in strings(reported) if UNSAFE.search(text)]
    assert raw_strings == []
    health = check(result, 'health')
    assert "status 'degraded\\x1b[2J'" in health['message']
    assert 'cache\\x1b]0;owned\\x07 disconnected' in health['message']
    assert health['value']['version'] == '2.1.0\\r\\u202eok'
    assert 'Internal \\x1b[31mError\\x07\\x9b' in check(result, 'metrics')['message']
    assert '\\x1b[2Jwiped\\x07' in check(result, 'redis')['message']
    assert '\\x1b[2Jwiped\\x07' in result['msg']


# ---------------------------------------------------------------------------------- Redis URL in messages

def test_redis_url_without_password_shows_host_and_port(api, redis_url, capsys):
    failed, result = run(dict(api_url=api.url, checks=['redis'], redis_url=redis_url, host_label='web01'), capsys)
    assert not failed
    assert check(result, 'redis')['message'].startswith('PONG from %s;' % redis_url)


def test_redis_password_is_the_only_secret(api, redis_url, capsys):
    import redis
    admin = redis.Redis.from_url(redis_url)
    admin.config_set('requirepass', 'T0pSecret')
    admin.close()
    try:
        secret_url = redis_url.replace('redis://', 'redis://:T0pSecret@')
        failed, result = run(dict(api_url=api.url, checks=['redis'], redis_url=secret_url, host_label='web01'),
                             capsys)
        assert not failed, result
        masked = redis_url.replace('redis://', 'redis://:****@')
        assert check(result, 'redis')['message'].startswith('PONG from %s;' % masked)
        assert result['invocation']['module_args']['redis_url'] == redis_url.replace('redis://', 'redis://:********@')

        wrong = redis_url.replace('redis://', 'redis://:Wr0ngSecret@')
        failed, result = run(dict(api_url=api.url, checks=['redis'], redis_url=wrong, host_label='web01'), capsys)
        assert failed and 'Redis PING at %s failed' % masked in result['msg']
        assert 'T0pSecret' not in result['_raw'] and 'Wr0ngSecret' not in result['_raw']
    finally:
        admin = redis.Redis.from_url(redis_url.replace('redis://', 'redis://:T0pSecret@'))
        admin.config_set('requirepass', '')
        admin.close()
