# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""log_archive on real log files: the retention of each class, today's file never touched, archives verified
before an original goes, a corrupt archive stops the run with the original kept, leftovers of a killed run
cleaned, cold-retention pruning, idempotence, check mode and diff."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os

import pytest
import zstandard

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.log_files import (
    archive_path,
    decompress,
    make_logs,
    manifest,
    where_is,
)
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _log_archive
from ansible_collections.inventory_enterprise.ops.plugins.modules import log_archive

AGES = [0, 1, 13, 15, 60, 100, 400]


def tree(root):
    found = {}
    for base, _dirs, files in os.walk(str(root)):
        for name in files:
            path = os.path.join(base, name)
            st = os.stat(path)
            found[path] = (st.st_size, st.st_mtime_ns)
    return found


@pytest.fixture
def logs(tmp_path):
    log_dir = str(tmp_path / 'logs')
    made = make_logs(log_dir, AGES)
    return dict(log_dir=log_dir, archive_dir=str(tmp_path / 'archive'), made=made, root=tmp_path)


def name_of(cls, age):
    return '%s-%s.log' % (cls, (datetime.date.today() - datetime.timedelta(days=age)).isoformat())


def test_each_class_keeps_its_hot_retention_and_today_is_never_touched(logs, capsys):
    today = os.path.join(logs['log_dir'], name_of('application', 0))
    before = os.stat(today)
    failed, result = run_module(log_archive, dict(log_dir=logs['log_dir'], archive_dir=logs['archive_dir']), capsys)
    assert not failed and result['changed']
    archived = sorted(os.path.basename(item['src']) for item in result['archived'])
    expected = ([name_of('application', age) for age in (15, 60, 100)] + [name_of('audit', 400)]
                + [name_of('security', age) for age in (100, 400)])
    assert archived == sorted(expected)
    # Application logs of 400 days are past the cold retention (365): removed, never archived.
    assert [(item['kind'], os.path.basename(item['path'])) for item in result['pruned']] == [('log', name_of('application', 400))]
    assert sorted(os.listdir(logs['log_dir'])) == sorted(
        [name_of(cls, age) for cls in ('application', 'security', 'audit') for age in (0, 1, 13)]
        + [name_of('security', age) for age in (15, 60)] + [name_of('audit', age) for age in (15, 60, 100)])
    after = os.stat(today)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    for path, content in logs['made'].items():
        if os.path.basename(path) != name_of('application', 400):
            assert where_is(logs['archive_dir'], path, content) in ('original', 'archive')
    assert sorted(result['verified']) == sorted(item['dest'] for item in result['archived'])
    assert result['bytes_before'] == sum(item['size'] for item in result['archived'])
    assert 0 < result['bytes_after'] < result['bytes_before'] / 3


def test_second_run_changes_nothing(logs, capsys):
    args = dict(log_dir=logs['log_dir'], archive_dir=logs['archive_dir'])
    run_module(log_archive, args, capsys)
    state = tree(logs['root'])
    failed, result = run_module(log_archive, args, capsys)
    assert not failed and not result['changed']
    assert result['archived'] == [] and result['pruned'] == [] and result['verified'] == []
    assert tree(logs['root']) == state
    assert len(result['months']) >= 3
    month = result['months'][0]
    assert sorted(month['archives']) == sorted(name for name in os.listdir(month['path']) if name.endswith('.zst'))


def test_check_mode_lists_what_would_move_and_writes_nothing(logs, capsys):
    args = dict(log_dir=logs['log_dir'], archive_dir=logs['archive_dir'])
    state = tree(logs['root'])
    failed, predicted = run_module(log_archive, args, capsys, check_mode=True, diff=True)
    assert not failed and predicted['changed']
    assert tree(logs['root']) == state and not os.path.exists(logs['archive_dir'])
    assert all(item['size'] is None for item in predicted['archived'])
    assert name_of('security', 100) in predicted['diff']['before']
    assert archive_path(logs['archive_dir'], name_of('security', 100)) in predicted['diff']['after']
    failed, done = run_module(log_archive, args, capsys, diff=True)
    assert sorted(item['dest'] for item in done['archived']) == sorted(item['dest'] for item in predicted['archived'])
    assert done['diff'] == predicted['diff']
    failed, again = run_module(log_archive, args, capsys, check_mode=True, diff=True)
    assert not again['changed'] and again['diff']['before'] == '' and again['diff']['after'] == ''


def test_original_left_beside_its_archive_is_removed_only_after_verification(logs, capsys):
    args = dict(log_dir=logs['log_dir'], archive_dir=logs['archive_dir'])
    run_module(log_archive, args, capsys)
    # A run killed between the manifest and the removal leaves both: the next run checks and finishes.
    original = os.path.join(logs['log_dir'], name_of('audit', 400))
    with open(original, 'wb') as handle:
        handle.write(logs['made'][original])
    failed, result = run_module(log_archive, args, capsys)
    assert not failed and result['changed']
    assert [(item['src'], item['resumed']) for item in result['archived']] == [(original, True)]
    assert result['verified'] == [archive_path(logs['archive_dir'], original)]
    assert not os.path.exists(original)


@pytest.mark.parametrize('damage', ['truncate', 'garbage', 'other_content'])
def test_corrupt_archive_stops_with_a_clear_error_and_keeps_the_original(logs, capsys, damage):
    args = dict(log_dir=logs['log_dir'], archive_dir=logs['archive_dir'])
    run_module(log_archive, args, capsys)
    original = os.path.join(logs['log_dir'], name_of('security', 100))
    archive = archive_path(logs['archive_dir'], original)
    with open(original, 'wb') as handle:
        handle.write(logs['made'][original])
    with open(archive, 'rb') as handle:
        data = handle.read()
    if damage == 'truncate':
        data = data[:len(data) // 2]
    elif damage == 'garbage':
        data = data[:20] + b'\xff' * 64 + data[84:]
    else:
        data = zstandard.ZstdCompressor().compress(b'not the log\n')
    with open(archive, 'wb') as handle:
        handle.write(data)
    failed, result = run_module(log_archive, args, capsys)
    assert failed
    assert archive in result['msg'] and original in result['msg'] and 'kept' in result['msg']
    assert 'Traceback' not in result['msg']
    with open(original, 'rb') as handle:
        assert handle.read() == logs['made'][original]


def test_leftovers_of_a_killed_run_are_cleaned_and_the_work_redone(logs, capsys):
    args = dict(log_dir=logs['log_dir'], archive_dir=logs['archive_dir'])
    original = os.path.join(logs['log_dir'], name_of('application', 60))
    archive = archive_path(logs['archive_dir'], original)
    os.makedirs(os.path.dirname(archive))
    # A partial file of a dead process, and an archive renamed but never entered in the manifest.
    partial = os.path.join(os.path.dirname(archive), '.%s.partial-%d' % (os.path.basename(archive), 2 ** 22 + 1))
    for path in (partial, archive):
        with open(path, 'wb') as handle:
            handle.write(b'\x28\xb5\x2f\xfd half')
    failed, result = run_module(log_archive, args, capsys)
    assert not failed and sorted(result['leftovers_removed']) == sorted([partial, archive])
    assert not os.path.exists(partial)
    assert decompress(archive) == logs['made'][original]
    assert manifest(os.path.dirname(archive))[os.path.basename(original)]


def test_archives_past_their_cold_retention_are_pruned_from_files_and_manifest(logs, capsys):
    args = dict(log_dir=logs['log_dir'], archive_dir=logs['archive_dir'])
    run_module(log_archive, args, capsys)
    failed, result = run_module(log_archive, dict(args, cold_retention_days=dict(application=30)), capsys)
    assert not failed and result['changed']
    gone = sorted(item['path'] for item in result['pruned'])
    assert gone == sorted(archive_path(logs['archive_dir'], name_of('application', age)) for age in (60, 100))
    for path in gone:
        assert not os.path.exists(path)
        assert os.path.basename(path)[:-4] not in manifest(os.path.dirname(path))
    assert os.path.exists(archive_path(logs['archive_dir'], name_of('application', 15)))


def test_custom_hot_retention_applies_to_its_class_only(logs, capsys):
    failed, result = run_module(log_archive, dict(log_dir=logs['log_dir'], archive_dir=logs['archive_dir'],
                                                  hot_retention_days=dict(security=1), prune=False), capsys)
    assert not failed
    security = sorted(os.path.basename(item['src']) for item in result['archived'] if item['log_class'] == 'security')
    assert security == sorted(name_of('security', age) for age in (13, 15, 60, 100, 400))
    assert os.path.exists(os.path.join(logs['log_dir'], name_of('security', 1)))
    assert os.path.exists(os.path.join(logs['log_dir'], name_of('security', 0)))


@pytest.mark.parametrize('options, message', [
    (dict(hot_retention_days=dict(application=0)), 'at least 1'),
    (dict(cold_retention_days=dict(audit=30)), 'shorter than hot_retention_days.audit'),
    (dict(hot_retention_days=dict(debug=3)), "unknown log class 'debug'"),
    (dict(log_dir='/nonexistent/logs'), 'does not exist'),
])
def test_bad_options_are_refused_with_what_to_do(logs, capsys, options, message):
    args = dict(dict(log_dir=logs['log_dir'], archive_dir=logs['archive_dir']), **options)
    failed, result = run_module(log_archive, args, capsys)
    assert failed and message in result['msg']


@pytest.mark.parametrize('content, problem', [(b'', 'truncated'), (b'\x28\xb5\x2f\xfd\x00\x00', 'truncated'),
                                              (b'plain text', 'corrupt')])
def test_decompression_check_refuses_what_is_not_a_whole_frame(tmp_path, content, problem):
    path = str(tmp_path / 'x.log.zst')
    with open(path, 'wb') as handle:
        handle.write(content)
    with pytest.raises(_log_archive.LogArchiveError) as exc:
        _log_archive.decompressed_sha256(path)
    assert problem in str(exc.value)
