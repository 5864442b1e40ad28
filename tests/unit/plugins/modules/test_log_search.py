# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""log_search on real files: plain, gzip and zstd, hot and archived, with malformed lines and corrupt archives."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import gzip
import os
import re

import pytest
import zstandard

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

from ansible_collections.inventory_enterprise.ops.plugins.modules import log_search
from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _log_lines, _log_search

DAY = '2026-11-28'
WINDOW = dict(window='since', since=DAY + 'T00:00:00Z', end=DAY + 'T23:59:59.999Z')


def _write(path, lines, compression=None):
    if not os.path.isdir(os.path.dirname(path)):
        os.makedirs(os.path.dirname(path))
    data = ''.join(line + '\n' for line in lines).encode('utf-8')
    if compression == 'gzip':
        data = gzip.compress(data)
    elif compression == 'zstd':
        data = zstandard.ZstdCompressor().compress(data)
    with open(path, 'wb') as handle:
        handle.write(data)
    return path


def _app_lines(day=DAY, count=600):
    """Requests every 10 s from 00:00, a 500 every 100th, and one backup failure."""
    lines = []
    for i in range(count):
        stamp = '%sT%02d:%02d:%02d.%03dZ' % (day, i // 360, i // 6 % 60, i % 6 * 10, i % 1000)
        if i % 100 == 7:
            lines.append('%s ERROR GET /api/inventory/items?limit=%d 500 duration=%dms' % (stamp, i, i))
        else:
            lines.append('%s INFO GET /api/inventory/list 200 duration=%dms user_id: u%d' % (stamp, i % 40, i % 3))
    lines[300] = lines[300][:25] + 'ERROR backup failed user_id: admin error: [Errno 28] No space left on device'
    return lines


def _search(capsys, tmp_path, check_mode=False, **args):
    args.setdefault('log_dir', str(tmp_path / 'logs'))
    failed, result = run_module(log_search, args, capsys, check_mode=check_mode)
    assert not failed, result
    assert result['changed'] is False
    return result


@pytest.fixture
def small_chunks(monkeypatch):
    """Blocks of 4 KiB cut in pieces of 512 bytes, so a few hundred lines cross many block edges, in and out of the fast path."""
    monkeypatch.setattr(_log_lines, 'CHUNK', 4096)
    monkeypatch.setattr(_log_search, 'PIECE', 512)


@pytest.mark.parametrize('compression', [None, 'gzip', 'zstd'])
def test_errors_counted_grouped_and_sampled(capsys, tmp_path, small_chunks, compression):
    lines = _app_lines()
    lines[50:50] = ['garbage', '', 'Traceback (most recent call last):', DAY + 'T00:08:21.000Z BOGUS x']
    suffix = {None: '', 'gzip': '.gz', 'zstd': '.zst'}[compression]
    _write(str(tmp_path / 'logs' / ('application-%s.log%s' % (DAY, suffix))), lines, compression)
    _write(str(tmp_path / 'logs' / ('security-%s.log' % DAY)), [DAY + 'T01:00:00.000Z ERROR not searched'])
    result = _search(capsys, tmp_path, top=2, samples=2, **WINDOW)
    assert result['unparseable'] == 4 and result['lines_scanned'] == 604
    assert result['levels'] == dict(CRITICAL=0, ERROR=7, WARNING=0, INFO=593, DEBUG=0)
    assert result['matched'] == 7 and result['distinct_messages'] == 2
    top = result['messages'][0]
    assert top['message'] == 'GET /api/inventory/items?limit=<n> <n> duration=<n>ms' and top['count'] == 6
    assert top['first']['message'] == 'GET /api/inventory/items?limit=7 500 duration=7ms'
    assert top['last']['message'] == 'GET /api/inventory/items?limit=507 500 duration=507ms'
    assert result['messages'][1]['message'] == 'backup failed user_id: admin error: [Errno <n>] No space left on device'
    assert [s['time'] for s in result['first']] == [DAY + 'T00:01:10.007Z', DAY + 'T00:17:50.107Z']
    assert [s['time'] for s in result['last']] == [DAY + 'T01:07:50.407Z', DAY + 'T01:24:30.507Z']
    assert [(f['log_class'], f['compression'], f['unparseable']) for f in result['files']] == [
        ('application', compression or 'none', 4)]
    assert result['summary'].startswith('errors since %s: 7 matches in 600 lines (1 files), top: ERROR GET' % WINDOW['since'])
    assert _search(capsys, tmp_path, check_mode=True, top=2, samples=2, **WINDOW) == result


def test_hot_and_archived_files_alike(capsys, tmp_path):
    archive = str(tmp_path / 'archive')
    _write(str(tmp_path / 'logs' / ('application-%s.log' % DAY)), _app_lines())
    _write(_log_lines.archive_path(archive, 'application-2026-10-31.log'), _app_lines('2026-10-31'), 'zstd')
    _write(_log_lines.archive_path(archive, 'application-2026-09-30.log', 'gzip'), _app_lines('2026-09-30'), 'gzip')
    result = _search(capsys, tmp_path, window='all', archive_dir=archive)
    assert result['matched'] == 21 and result['lines_in_window'] == 1800
    assert [(f['date'], f['archived']) for f in result['files']] == [
        ('2026-09-30', True), ('2026-10-31', True), (DAY, False)]
    assert result['first'][0]['file'].endswith('/logs/2026-09/application-2026-09-30.log.gz')
    november = _search(capsys, tmp_path, window='since', since='2026-11-01T00:00:00Z', archive_dir=archive)
    # the file of October 31st is read (its local date may hold UTC November 1st) and has nothing in the window
    assert november['matched'] == 7 and [f['matched'] for f in november['files']] == [0, 7]


def test_slow_requests_compare_the_parsed_duration(capsys, tmp_path):
    durations = ['499ms', '500ms', '950ms', '1200ms', '1500ms', '12034ms', '2.5s', '40ms']
    lines = ['%sT10:00:%02d.000Z INFO GET /api/dashboard/stats 200 duration=%s' % (DAY, i, d) for i, d in enumerate(durations)]
    _write(str(tmp_path / 'logs' / ('application-%s.log' % DAY)), lines)
    result = _search(capsys, tmp_path, query='slow', threshold_ms=500, samples=3, **WINDOW)
    assert result['matched'] == 6
    assert [s['duration_ms'] for s in result['slowest']] == [12034.0, 2500.0, 1500.0]
    # the guide's regex sees 500, 950 and 1500 (its last three digits), not 1200ms, 12034ms nor 2.5s
    guide = [line.split('=')[-1] for line in lines if re.search(r'duration.*[5-9][0-9][0-9]ms', line)]
    assert guide == ['500ms', '950ms', '1500ms']


def test_one_users_activity_across_classes(capsys, tmp_path):
    logs = tmp_path / 'logs'
    _write(str(logs / ('audit-%s.log' % DAY)), [
        DAY + 'T09:00:00.000Z INFO user_id: 123 action=invoice.create invoice_number=INV-1 lines=2 seq=4',
        DAY + 'T09:01:00.000Z INFO user_id: 1234 action=invoice.create invoice_number=INV-2 lines=1 seq=5'])
    _write(str(logs / ('security-%s.log' % DAY)), [
        DAY + 'T08:59:00.000Z INFO auth login success username=123 ip=10.0.0.5'])
    _write(str(logs / ('application-%s.log' % DAY)), [
        DAY + 'T09:00:00.010Z INFO POST /api/invoices 201 duration=31ms user_id: 123'])
    result = _search(capsys, tmp_path, query='user', user='123', **WINDOW)
    assert result['matched'] == 3 and [s['time'][11:19] for s in result['first']] == ['09:00:00', '09:00:00', '08:59:00']
    assert sorted(f['log_class'] for f in result['files']) == ['application', 'audit', 'security']


def test_auth_events_and_failed_backups(capsys, tmp_path):
    logs = tmp_path / 'logs'
    _write(str(logs / ('security-%s.log' % DAY)), [
        DAY + 'T08:00:00.000Z WARNING auth login failed username=admin ip=10.0.0.%d' % i for i in range(3)] + [
        DAY + 'T08:01:00.000Z INFO auth login success username=admin ip=10.0.0.9',
        DAY + 'T08:02:00.000Z WARNING auth token rejected reason=expired ip=10.0.0.9 path=/api/invoices'])
    _write(str(logs / ('application-%s.log' % DAY)), _app_lines() + [
        DAY + 'T23:00:00.000Z INFO backup completed name=inventory_backup_x.tar.zst size=10 user_id: admin'])
    auth = _search(capsys, tmp_path, query='auth', **WINDOW)
    assert auth['matched'] == 5 and auth['levels']['WARNING'] == 4
    assert auth['messages'][0] == dict(auth['messages'][0], message='auth login failed username=admin ip=<ip>', count=3)
    backups = _search(capsys, tmp_path, query='backup_failed', **WINDOW)
    assert backups['matched'] == 1 and backups['first'][0]['level'] == 'ERROR'


def test_window_edges_inside_blocks(capsys, tmp_path, small_chunks):
    _write(str(tmp_path / 'logs' / ('application-%s.log' % DAY)), _app_lines())
    # 00:30:00 to 00:59:59.999: lines 180..359, errors at 207 and 307 and the backup failure at 300
    result = _search(capsys, tmp_path, window='since', since=DAY + 'T00:30:00Z', end=DAY + 'T00:59:59.999Z')
    assert result['lines_in_window'] == 180 and result['matched'] == 3
    hour = _search(capsys, tmp_path, window='last_hour', end=DAY + 'T01:00:00+01:00')
    assert hour['window'] == dict(since='2026-11-27T23:00:00.000Z', until=DAY + 'T00:00:00.000Z')
    assert hour['lines_in_window'] == 1  # the line stamped 00:00:00.000


def test_today_reads_todays_file(capsys, tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc)
    today = datetime.date.today().isoformat()
    stamp = _log_lines.stamp_of(now - datetime.timedelta(seconds=1))
    old = _log_lines.stamp_of(now - datetime.timedelta(days=2))
    _write(str(tmp_path / 'logs' / ('application-%s.log' % today)), [stamp + ' ERROR database is locked'])
    _write(str(tmp_path / 'logs' / 'application-2020-01-01.log'), [old + ' ERROR long ago'])
    result = _search(capsys, tmp_path)
    assert result['matched'] == 1 and result['first'][0]['message'] == 'database is locked'
    assert [f['date'] for f in result['files']] == [today]


def test_corrupt_archive_is_reported_not_fatal(capsys, tmp_path):
    archive = str(tmp_path / 'archive')
    _write(str(tmp_path / 'logs' / ('application-%s.log' % DAY)), _app_lines())
    broken = _write(_log_lines.archive_path(archive, 'application-2026-10-31.log'), _app_lines('2026-10-31'), 'zstd')
    with open(broken, 'r+b') as handle:
        handle.truncate(os.path.getsize(broken) // 2)
    _write(_log_lines.archive_path(archive, 'application-2026-10-30.log', 'gzip'), ['not gzip'])
    result = _search(capsys, tmp_path, window='all', archive_dir=archive)
    assert len(result['unreadable_files']) == 2 and result['matched'] >= 7
    assert 'unreadable files' in result['summary']
    assert all('error' in f for f in result['files'] if f['archived'])


@pytest.mark.parametrize('args, message', [
    (dict(query='user'), 'query is user but all of the following are missing: user'),
    (dict(window='since'), 'window is since but all of the following are missing: since'),
    (dict(window='since', since='yesterday'), "since='yesterday' is not an ISO-8601 date or time"),
    (dict(window='since', since='2026-11-28', end='2026-11-01'), 'the window starts'),
    (dict(top=0), 'top must be at least 1'),
    (dict(log_dir='/nonexistent/logs'), 'the log directory /nonexistent/logs does not exist'),
])
def test_bad_options_fail_with_a_message(capsys, tmp_path, args, message):
    (tmp_path / 'logs').mkdir()
    args.setdefault('log_dir', str(tmp_path / 'logs'))
    failed, result = run_module(log_search, args, capsys)
    assert failed and message in result['msg']


def test_log_dir_from_the_services_env(capsys, tmp_path):
    home = tmp_path / 'home'
    _write(str(home / 'var' / ('application-%s.log' % DAY)), _app_lines())
    (home / '.env').write_text('LOG_DIR=var\n')
    result = _search(capsys, tmp_path, log_dir=None, service_home=str(home), **WINDOW)
    assert result['log_dir'] == str(home / 'var') and result['matched'] == 7
