# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fast path of _log_search (regions counted with byte operations, files read in parallel processes) gives the
same result as the straightforward one (every line parsed with parse_line, one process), on generated files with
every kind of line: other formats, malformed ones, CRLF, no final newline, lines across block edges."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import gzip
import os
import random

import pytest
import zstandard

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _log_lines, _log_search

START = datetime.datetime(2026, 11, 26, 22, 30)
CLASSES = ['application', 'security', 'audit']
UTC = datetime.timezone.utc


def _stamp(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (moment.microsecond // 1000)


def _line(rng, moment):
    """One line: mostly the service's own form, with every level, and each other kind of line now and then."""
    stamp, user = _stamp(moment), 'u%d' % rng.choice([1, 17, 170, 2])
    roll = rng.random()
    if roll < 0.55:
        return '%s INFO GET /api/items/%d 200 duration=%dms user_id: %s' % (
            stamp, rng.randint(1, 99), rng.choice([3, 12, 499, 500, 501, 950, 1200, 12034]), user)
    if roll < 0.62:
        return '%s WARNING auth login failed username=%s ip=10.0.0.%d' % (stamp, user, rng.randint(1, 9))
    if roll < 0.66:
        return '%s DEBUG cache hit key=item:%d' % (stamp, rng.randint(1, 9))
    if roll < 0.72:
        return '%s ERROR GET /api/dashboard/stats 500 duration=%dms user_id: %s' % (stamp, rng.randint(1, 3000), user)
    if roll < 0.74:
        return '%s ERROR backup failed user_id: admin error: [Errno 28] No space left on device' % stamp
    if roll < 0.75:
        return '%s CRITICAL database is locked seq=%d' % (stamp, rng.randint(1, 10 ** 6))
    if roll < 0.76:
        return '%s INFO Backup job FAILED name=nightly duration=2.5s' % stamp
    if roll < 0.77:
        return '%s INFO auth token rejected reason=expired user=%s path=/api/x' % (stamp, user)
    if roll < 0.78:  # parses, not in the service's own form: an offset, winston's levels, microseconds
        local = moment + datetime.timedelta(hours=1)
        return rng.choice([local.strftime('%Y-%m-%dT%H:%M:%S.5+01:00') + ' [warn]: disk almost full duration: 950 ms',
                           moment.strftime('%Y-%m-%d %H:%M:%S') + 'Z error: boom user=%s' % user,
                           stamp[:-1] + '456Z INFO micro duration=700ms', stamp + ' info lowercase auth',
                           stamp[:17] + '60' + stamp[19:] + ' INFO leap second duration=990ms'])
    if roll < 0.80:  # a service line with a time in it, a carriage return, bytes that are not UTF-8, a long message
        return rng.choice(['%s ERROR upstream said 2026-11-27T00:00:00.000Z INFO ok' % stamp,
                           '%s INFO half\rline duration=900ms' % stamp,
                           stamp + ' ERROR bad byte \udcff here', stamp + ' ERROR caf\u00e9 \x1b[31m red',
                           '%s ERROR long %s' % (stamp, 'x1 ' * 300), '%s INFO duration=\u0669\u0660\u0660ms' % stamp])
    if roll < 0.83:  # malformed: nothing of it is counted but as unparseable
        return rng.choice(['', 'Traceback (most recent call last):', '  File "app.py", line 3, in <module>',
                           'garbage', stamp.replace('T', 'T2', 1)[:24] + ' INFO bad time',
                           '2026-13-27T10:00:00.000Z INFO month 13', '2026-02-30T10:00:00.000Z ERROR 30 February',
                           stamp[:11] + '24:00:00.000Z ERROR hour 24', stamp + ' BOGUS level', stamp + ' INFO',
                           stamp + 'ERROR glued', '\x00\x01 binary', stamp[:15],
                           stamp[:11] + '25' + stamp[13:] + ' INFO hour 25',
                           stamp[:14] + '61' + stamp[16:] + ' INFO minute 61',
                           stamp[:17] + '61' + stamp[19:] + ' INFO second 61'])
    return '%s INFO POST /api/invoices 201 duration=%dms user_id: %s' % (stamp, rng.randint(1, 900), user)


def _text(rng, first, count, crlf=False, final_newline=True):
    lines, moment = [], first
    for dummy in range(count):
        moment += datetime.timedelta(milliseconds=rng.choice([0, 1, 250, 7000, 60000]))
        lines.append(_line(rng, moment))
    lines.insert(count // 2, 'z' * 20000)  # much longer than a block: cut by the reader
    end = '\r\n' if crlf else '\n'
    text = end.join(lines) + (end if final_newline else '')
    return text.encode('utf-8', 'surrogateescape')


def _write(path, data, compression=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if compression == 'gzip':
        data = gzip.compress(data[:len(data) // 2]) + gzip.compress(data[len(data) // 2:])  # two members
    elif compression == 'zstd':
        data = zstandard.ZstdCompressor().compress(data)
    with open(path, 'wb') as handle:
        handle.write(data)


@pytest.fixture(scope='module')
def logs(tmp_path_factory):
    """Three days of three classes, hot and archived: plain (one CRLF, one without a final newline), .gz of two
    members and .zst; lines cross midnight (files are named for the local date, lines carry UTC times)."""
    root = tmp_path_factory.mktemp('logs')
    rng = random.Random(14)
    archive = str(root / 'archive')
    for day in range(3):
        first = START + datetime.timedelta(days=day)
        name_date = (first + datetime.timedelta(hours=3)).date().isoformat()
        for index, cls in enumerate(CLASSES):
            name = '%s-%s.log' % (cls, name_date)
            data = _text(rng, first + datetime.timedelta(minutes=index), 700,
                         crlf=(day, cls) == (2, 'application'), final_newline=(day, cls) != (2, 'security'))
            if day == 2:
                _write(str(root / 'logs' / name), data)
            else:
                compression = 'zstd' if day == 0 else 'gzip'
                _write(_log_lines.archive_path(archive, name, compression), data, compression)
    return str(root / 'logs'), archive


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 4 KiB read 1 KiB of compressed input at a time, pieces of 512 bytes, lines cut at 6000 bytes:
    a few thousand lines cross many block edges, in and out of the fast path."""
    monkeypatch.setattr(_log_lines, 'CHUNK', 4096)
    monkeypatch.setattr(_log_lines, 'RAW_CHUNK', 1024)
    monkeypatch.setattr(_log_lines, 'MAX_LINE', 6000)
    monkeypatch.setattr(_log_search, 'PIECE', 512)


def _result(logs, query, window, per_line, workers=1):
    log_dir, archive = logs
    since, until = window
    files = _log_lines.iter_log_files(log_dir, CLASSES, since, until, archive)
    search = _log_search.Search(_log_search.Query(query, user='u17', threshold_ms=500), since, until, top=4,
                                samples=3, per_line=per_line)
    _log_search.scan_files(search, files, workers=workers)
    return search.result()


WINDOWS = {
    'all': (None, datetime.datetime(2030, 1, 1, tzinfo=UTC)),
    # edges inside files, one across midnight
    'since': (datetime.datetime(2026, 11, 27, 0, 30, tzinfo=UTC), datetime.datetime(2026, 11, 28, 23, 45, tzinfo=UTC)),
    'hour': (datetime.datetime(2026, 11, 28, 23, 10, tzinfo=UTC), datetime.datetime(2026, 11, 29, 0, 10, tzinfo=UTC)),
}


@pytest.mark.parametrize('window', sorted(WINDOWS))
@pytest.mark.parametrize('query', _log_search.QUERIES)
def test_fast_path_and_processes_equal_reading_every_line(logs, small_blocks, monkeypatch, query, window):
    taken = []
    fast = _log_search.Search._fast
    monkeypatch.setattr(_log_search.Search, '_fast', lambda self, *args: taken.append(1) or fast(self, *args))
    reference = _result(logs, query, WINDOWS[window], per_line=True)
    assert not taken
    assert _result(logs, query, WINDOWS[window], per_line=False) == reference
    if query != 'all':
        assert len(taken) > 100  # the fast path was taken, not only the line-by-line one
    assert _result(logs, query, WINDOWS[window], per_line=False, workers=3) == reference
    assert reference['matched'] > 0 and reference['unparseable'] > 0 and len(reference['files']) >= 3


@pytest.mark.parametrize('query', ['errors', 'slow'])
def test_more_distinct_messages_than_kept_merge_the_same(logs, small_blocks, monkeypatch, query):
    """Past MAX_DISTINCT a process's summary cannot be merged as is: the file is read again in order."""
    monkeypatch.setattr(_log_search, 'MAX_DISTINCT', 3)
    reference = _result(logs, query, WINDOWS['all'], per_line=True)
    assert reference['other_messages'] > 0 and reference['distinct_messages'] == 3
    assert _result(logs, query, WINDOWS['all'], per_line=False, workers=3) == reference


def test_no_samples(logs, small_blocks):
    """samples: 0 keeps counts and messages, no sample (the slowest list too)."""
    log_dir, archive = logs
    files = _log_lines.iter_log_files(log_dir, CLASSES, None, None, archive)
    search = _log_search.Search(_log_search.Query('slow', threshold_ms=500), samples=0)
    _log_search.scan_files(search, files, workers=2)
    result = search.result()
    assert result['matched'] > 0 and result['first'] == result['last'] == result['slowest'] == []


_SCAN = _log_search._scan_in_worker
_DIES_ON = []


def _dies_on_a_file(job):
    """A worker's job that ends its process (as the kernel's OOM killer would) for the file in _DIES_ON."""
    if job[1].path in _DIES_ON:
        os._exit(9)
    return _SCAN(job)


def test_a_worker_that_dies_leaves_its_files_to_the_module(logs, small_blocks, monkeypatch):
    reference = _result(logs, 'errors', WINDOWS['all'], per_line=True)
    monkeypatch.setattr(_log_search, '_scan_in_worker', _dies_on_a_file)
    _DIES_ON[:] = [reference['files'][3]['path']]
    try:
        assert _result(logs, 'errors', WINDOWS['all'], per_line=False, workers=2) == reference
    finally:
        del _DIES_ON[:]


@pytest.mark.parametrize('threshold, line, found', [
    (500, b'duration=499ms', False), (500, b'duration=500ms', True), (500, b'duration=0500ms', True),
    (500, b'duration=12034ms', True), (500, b'duration=2.5s', True), (500, b'duration: 950 ms', True),
    (500, b'duration=99ms', False), (500, b'duration=499.9ms', False), (499.5, b'duration=499.7ms', True),
    (850, b'duration=849ms', False), (850, b'duration=851ms', True), (850, b'duration=900ms', True),
    (1000, b'duration=999ms', False), (1000, b'duration=1000ms', True),
    (500, u'duration=\u0669\u0660\u0660ms'.encode('utf-8'), True), (0.5, b'duration=0ms', True),
    (0, b'duration=3ms', True), (500, b'no duration', False),
])
def test_slow_prefilter_finds_every_line_at_or_over_the_threshold(threshold, line, found):
    query = _log_search.Query('slow', threshold_ms=threshold)
    assert bool(list(query.candidates(b'x ' + line + b'\n', 0, len(line) + 3))) == found
    record = _log_lines.LogRecord('2026-11-28T00:00:00.000Z', 'INFO', line.decode('utf-8'))
    if query.wants(record):  # the prefilter never drops a line the query wants
        assert found


def test_workers_are_bounded_by_cores_files_and_memory(monkeypatch, tmp_path):
    monkeypatch.setattr(_log_search, '_cores', lambda: 8)
    monkeypatch.setattr(_log_search, '_resident_bytes', lambda: 40 * 1024 * 1024)
    big = [_log_lines.LogFile(str(tmp_path / ('application-2026-11-%02d.log' % day)), 'application',
                              datetime.date(2026, 11, day), None, False) for day in range(1, 11)]
    for logfile in big:
        with open(logfile.path, 'wb') as handle:
            handle.truncate(16 * 1024 * 1024)
    # (192 MiB - 40) / (40 + 20) MiB: two workers fit beside this process
    assert _log_search.workers_for(big) == 2
    monkeypatch.setattr(_log_search, '_resident_bytes', lambda: 20 * 1024 * 1024)
    assert _log_search.workers_for(big) == 4
    assert _log_search.workers_for(big[:1]) == 1 and _log_search.workers_for(big[:3]) == 3
    monkeypatch.setattr(_log_search, '_cores', lambda: 1)
    assert _log_search.workers_for(big) == 1
    assert _log_search.workers_for(big[:2]) == 1


@pytest.mark.parametrize('message', [
    u'GET /api/items/19 500 duration=987ms', u'GET /api/items/2 500 duration=3ms', u'from 10.0.0.9:5432 refused',
    u'id 3f2a9c1e-0b7d-4e5f-9a8b-1c2d3e4f5a6b gone', u'sha 0123456789abcdef0 bad', u'caf\u00e9 9\u00e9 \u0669\u0660',
    u'x1 ' * 300, u'bad \udcff byte 9', u'',
])
def test_message_groups_are_normalise_of_the_message(message):
    raw = message.encode('utf-8', 'surrogateescape')
    expected = _log_search.normalise(raw.decode('utf-8', 'replace')[:_log_search.SAMPLE_CHARS])
    assert _log_search.message_key(raw) == expected
    assert _log_search.message_key(raw) == expected  # from the cache
