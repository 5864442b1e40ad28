# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import gzip
import os

import pytest
import zstandard

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _log_lines

D = datetime.date


@pytest.mark.parametrize('line, expected', [
    ('2026-11-28T13:00:00.123Z INFO GET /api/inventory/list 200 duration=12ms\n',
     ('2026-11-28T13:00:00.123Z', 'INFO', 'GET /api/inventory/list 200 duration=12ms')),
    (b'2026-11-28T13:00:00.123Z ERROR backup failed user=admin: disk full\r\n',
     ('2026-11-28T13:00:00.123Z', 'ERROR', 'backup failed user=admin: disk full')),
    ('2026-11-28T13:00:00.123Z WARNING auth login failed username=bob ip=10.0.0.1',
     ('2026-11-28T13:00:00.123Z', 'WARNING', 'auth login failed username=bob ip=10.0.0.1')),
    # winston's default JSON-less format, an offset instead of Z, lowercase and bracketed levels
    ('2026-11-28T14:00:00.5+01:00 [warn]: disk almost full', ('2026-11-28T13:00:00.500Z', 'WARNING', 'disk almost full')),
    ('2026-11-28 13:00:00Z error: boom', ('2026-11-28T13:00:00.000Z', 'ERROR', 'boom')),
    ('2026-11-28T23:30:00.000-01:00 CRITICAL late', ('2026-11-29T00:30:00.000Z', 'CRITICAL', 'late')),
    ('2026-11-28T13:00:00.123456Z DEBUG x', ('2026-11-28T13:00:00.123Z', 'DEBUG', 'x')),
    ('2026-11-28T13:00:00.123Z INFO ', ('2026-11-28T13:00:00.123Z', 'INFO', '')),
    ('2026-11-28T13:00:00.123Z INFO caf\u00e9 \x1b[31m', ('2026-11-28T13:00:00.123Z', 'INFO', 'caf\u00e9 \x1b[31m')),
    (b'2026-11-28T13:00:00.123Z INFO bad \xff byte', ('2026-11-28T13:00:00.123Z', 'INFO', 'bad \ufffd byte')),
])
def test_lines_that_parse(line, expected):
    assert tuple(_log_lines.parse_line(line)) == expected


@pytest.mark.parametrize('line', [
    '', '\n', 'garbage', '   2026-11-28T13:00:00.123Z INFO leading blanks',
    '2026-11-28T13:00:00.123 INFO no zone',
    '2026-11-28T13:00:00.123Z', '2026-11-28T13:00:00.123Z INFO', '2026-11-28T13:00:00.123ZINFO glued',
    '2026-11-28T13:00:00.123Z BOGUS unknown level', '2026-11-28T13:00:00.123Z 500 numeric level',
    '2026-13-28T13:00:00.123Z INFO month 13', '2026-02-30T13:00:00.000Z INFO 30 February',
    '2026-11-28T25:00:00.000Z INFO hour 25', '2026-11-28T13:00:00.000+25:00 INFO offset 25h',
    '2026-11-2', 'Traceback (most recent call last):', '  File "app.py", line 3, in <module>',
    '{"level":"error","message":"json line","timestamp":"2026-11-28T13:00:00.123Z"}',
    b'\x00\x01\x02 binary', b'2026-11-28T13:00:00.123Z \xff\xfe bad level',
])
def test_malformed_lines_do_not_parse(line):
    assert _log_lines.parse_line(line) is None


@pytest.mark.parametrize('message, expected', [
    ('GET /x 200 duration=12ms', 12.0), ('GET /x 200 duration=1500ms', 1500.0),
    ('backup completed duration=2.5s', 2500.0), ('duration: 950ms', 950.0), ('duration=7 ms', 7.0),
    ('no duration here', None), ('duration=fast', None), ('duration=12msx', None),
])
def test_duration_in_ms(message, expected):
    assert _log_lines.duration_ms(message) == expected


@pytest.mark.parametrize('message, expected', [
    ('user_id: 123 action=invoice.create', ['123']), ('user_id:admin x', ['admin']),
    ('backup failed user=ops: disk full', ['ops:']), ('auth login success username=bob ip=1.2.3.4', ['bob']),
    ('GET /x 200 duration=1ms', []),
])
def test_users(message, expected):
    assert _log_lines.users(message) == expected


@pytest.mark.parametrize('name, expected', [
    ('application-2026-11-28.log', ('application', D(2026, 11, 28), None)),
    ('security-2026-11-28.log.gz', ('security', D(2026, 11, 28), 'gzip')),
    ('audit-2026-01-02.log.zst', ('audit', D(2026, 1, 2), 'zstd')),
    ('application-2026-02-30.log', None), ('application-2026-11-28.log.zst.partial', None),
    ('.application-2026-11-28.log.zst', None), ('application.log', None), ('application-2026-11-28.txt', None),
])
def test_log_names(name, expected):
    assert _log_lines.parse_log_name(name) == expected


def _write(path, text, compression=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = text.encode()
    if compression == 'gzip':
        data = gzip.compress(data)
    elif compression == 'zstd':
        data = zstandard.ZstdCompressor().compress(data)
    with open(path, 'wb') as handle:
        handle.write(data)


def test_files_hot_and_archived_oldest_first(tmp_path):
    logs, archive = str(tmp_path / 'logs'), str(tmp_path / 'archive')
    for name in ('application-2026-11-28.log', 'security-2026-11-28.log', 'application-2026-11-27.log',
                 'application-2026-11-01.log', 'notes.txt', 'application-2026-11-28.log.zst.tmp'):
        _write(os.path.join(logs, name), 'x\n')
    _write(_log_lines.archive_path(archive, 'application-2026-10-03.log'), 'a\n', 'zstd')
    _write(_log_lines.archive_path(archive, 'application-2026-09-30.log', 'gzip'), 'b\n', 'gzip')
    # copied to the archive but not yet removed: read once, from the hot file
    _write(_log_lines.archive_path(archive, 'application-2026-11-01.log'), 'x\n', 'zstd')
    files = _log_lines.iter_log_files(logs, classes=['application'], archive_dir=archive)
    assert [(f.date.isoformat(), f.compression, f.archived) for f in files] == [
        ('2026-09-30', 'gzip', True), ('2026-10-03', 'zstd', True), ('2026-11-01', None, False),
        ('2026-11-27', None, False), ('2026-11-28', None, False)]
    assert files[0].path == os.path.join(archive, 'logs', '2026-09', 'application-2026-09-30.log.gz')
    dated = _log_lines.iter_log_files(logs, since=D(2026, 11, 27), until=D(2026, 11, 28))
    assert [(f.cls, f.date.day) for f in dated] == [('application', 27), ('application', 28), ('security', 28)]
    # a datetime bound widens by a day: files carry local dates, lines UTC times
    since = datetime.datetime(2026, 11, 28, 0, 30, tzinfo=datetime.timezone.utc)
    assert [f.date.day for f in _log_lines.iter_log_files(logs, ['application'], since=since)] == [27, 28]
    assert _log_lines.iter_log_files(str(tmp_path / 'missing')) == []


@pytest.mark.parametrize('compression', [None, 'gzip', 'zstd'])
def test_lines_stream_from_plain_and_compressed(tmp_path, compression):
    text = ''.join('2026-11-28T13:00:%02d.000Z INFO line %d\n' % (i % 60, i) for i in range(5000)) + 'no newline'
    path = str(tmp_path / 'application-2026-11-28.log')
    _write(path, text, compression)
    lines = list(_log_lines.iter_lines(path, compression))
    assert len(lines) == 5001 and lines[-1] == b'no newline' and lines[4999].endswith(b'line 4999\n')


def test_regions_are_whole_lines_and_bounded():
    text = b'a\nbb\n' + b'x' * (_log_lines.MAX_LINE + 70000) + b'\ncc\ndd\ntail'
    pieces = [text[at:at + 65536] for at in range(0, len(text), 65536)]
    regions = [data[start:end] for data, start, end in _log_lines.iter_regions(pieces)]
    assert b''.join(regions) == text
    assert all(len(r) <= _log_lines.MAX_LINE + 65536 for r in regions)
    assert regions[0] == b'a\nbb\n' and regions[1] == b'x' * _log_lines.MAX_LINE and regions[-1] == b'tail'
    assert all(r.endswith(b'\n') for r in regions[2:-1])
    # a line cut by a piece's edge comes whole, in a region of its own
    assert [data[start:end] for data, start, end in _log_lines.iter_regions([b'a\nb', b'c\nd\ne', b'f'])] == [
        b'a\n', b'bc\n', b'd\n', b'ef']


@pytest.mark.parametrize('compression', ['gzip', 'zstd'])
def test_truncated_and_concatenated_archives(tmp_path, compression):
    path = str(tmp_path / 'audit-2026-11-28.log.x')
    one = '2026-11-28T13:00:00.000Z INFO first member\n' * 3000
    _write(path, one, compression)
    with open(path, 'rb') as handle:
        data = handle.read()
    with open(path, 'ab') as handle:  # a second frame (member), as `cat a.gz b.gz` makes
        handle.write(data)
    assert len(list(_log_lines.iter_lines(path, compression))) == 6000
    with open(path, 'wb') as handle:
        handle.write(data[:len(data) // 2])
    with pytest.raises(IOError, match='truncated'):
        list(_log_lines.iter_lines(path, compression))
    with open(path, 'wb') as handle:
        handle.write(data[:4] + b'\x00' * 64)
    with pytest.raises(IOError):
        list(_log_lines.iter_lines(path, compression))
