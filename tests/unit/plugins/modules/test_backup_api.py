# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""backup method=api against a real HTTP server (tests/unit/servers.py) answering POST /api/backup/create
with what the service answers, and with garbage: the answer is validated and the result says what was skipped.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records, _service_layout
from ansible_collections.inventory_enterprise.ops.plugins.modules import backup
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_backup_support import make_home, run
from ansible_collections.inventory_enterprise.ops.tests.unit.servers import route

CREATE = '/api/backup/create'
REMOTE = '/srv/not-on-this-host/backups/inventory_backup_2025-01-07T02-00-00.tar.zst'


def answer_of(created):
    """What the service answers (reference/inventory_service/backup.py): name, path, size, sha256, manifest."""
    return dict((key, created[key]) for key in ('name', 'path', 'size', 'archive_sha256', 'manifest'))


def api_args(api, **extra):
    return dict(dict(method='api', api_url=api.url, api_token='unit-test-token', api_timeout=5), **extra)


@pytest.mark.parametrize('status,body,content_type,expected', [
    (201, {}, 'application/json', 'no archive path'),
    (201, [], 'application/json', 'not a JSON object'),
    (200, 'null', 'application/json', 'not a JSON object'),
    (201, {'path': 42, 'name': 'x'}, 'application/json', 'no archive path'),
    (201, {'path': '/etc/passwd', 'name': 'passwd'}, 'application/json', 'not a backup archive'),
    (201, {'path': 'inventory_backup_2025-01-07T02-00-00.tar.zst'}, 'application/json', 'not an absolute path'),
    (201, {'path': REMOTE, 'name': 'inventory_backup_2025-01-08T02-00-00.tar.zst'}, 'application/json',
     'does not match'),
    (201, {'path': REMOTE, 'size': 'big'}, 'application/json', '"size"'),
    (201, {'path': REMOTE, 'archive_sha256': 'abc'}, 'application/json', '"archive_sha256"'),
    (201, {'path': REMOTE, 'manifest': 'yes'}, 'application/json', '"manifest"'),
    (201, 'backup started', 'text/plain', 'malformed JSON'),
])
def test_garbage_answers_are_clear_failures(api, capsys, status, body, content_type, expected):
    api.use(None, **{CREATE: route(status, body, content_type)})
    failed, result = run(backup, api_args(api), capsys)
    assert failed, result
    assert expected in result['msg'] and CREATE in result['msg']
    # The service accepted the request: it may have written something, so the run does not claim otherwise.
    assert result['changed'] is True
    assert 'backup' not in result and 'verification' not in result


@pytest.mark.parametrize('status', [500, 503, 401])
def test_error_status_fails_without_claiming_a_change(api, capsys, status):
    api.use(None, **{CREATE: route(status, {'detail': 'backup failed: disk I/O error'})})
    failed, result = run(backup, api_args(api), capsys)
    assert failed
    assert 'HTTP %d' % status in result['msg'] and 'disk I/O error' in result['msg']
    assert result['changed'] is False


def test_archive_not_visible_here_says_verification_and_retention_were_skipped(api, capsys):
    answer = dict(path=REMOTE, name='inventory_backup_2025-01-07T02-00-00.tar.zst', size=1234,
                  archive_sha256='0' * 64, manifest=dict(format=_archive.FORMAT))
    api.use(None, **{CREATE: route(201, answer)})
    failed, result = run(backup, api_args(api, retention_days=30), capsys)
    assert not failed, result
    assert result['changed'] is True
    assert result['backup'] == answer
    assert 'verification' not in result
    assert set(result['skipped_steps']) == {'verification', 'retention'}
    assert 'not visible on this host' in result['skipped_steps']['verification']
    assert 'not verified' in result['msg'] and 'retention' in result['msg']
    assert 'not visible on this host' in json.dumps(result['warnings'])


def test_local_archive_is_verified_and_retention_applied(api, capsys, tmp_path):
    home = make_home(tmp_path)
    paths = _service_layout.service_paths(home)
    old = _archive.create_backup(paths, paths['backup_dir'], compression='gzip',
                                 now=_backup_records.utc_now() - datetime.timedelta(days=40))
    created = _archive.create_backup(paths, paths['backup_dir'], compression='gzip')
    api.use(None, **{CREATE: route(201, answer_of(created))})
    failed, result = run(backup, api_args(api, retention_days=30, service_home=home), capsys)
    assert not failed, result
    assert result['verification']['ok'] is True
    assert result['verification']['archive_sha256'] == created['archive_sha256']
    assert result['pruned'] == [old['name']] and result['kept_anchor'] == created['name']
    assert 'skipped_steps' not in result
    assert _backup_records.read_marker(created['path'])
    assert [b['name'] for b in _backup_records.list_backups(paths['backup_dir'])] == [created['name']]


def test_local_archive_other_than_announced_is_refused(api, capsys, tmp_path):
    home = make_home(tmp_path)
    paths = _service_layout.service_paths(home)
    created = _archive.create_backup(paths, paths['backup_dir'], compression='gzip')
    answer = dict(answer_of(created), archive_sha256='f' * 64)
    api.use(None, **{CREATE: route(201, answer)})
    failed, result = run(backup, api_args(api), capsys)
    assert failed
    assert 'SHA-256' in result['msg'] and created['path'] in result['msg']
    assert result['changed'] is True


def test_retention_only_in_dest_never_where_the_answer_points(api, capsys, tmp_path):
    home = make_home(tmp_path)
    paths = _service_layout.service_paths(home)
    old = _archive.create_backup(paths, paths['backup_dir'], compression='gzip',
                                 now=_backup_records.utc_now() - datetime.timedelta(days=40))
    created = _archive.create_backup(paths, paths['backup_dir'], compression='gzip')
    api.use(None, **{CREATE: route(201, answer_of(created))})
    other = str(tmp_path / 'elsewhere')
    failed, result = run(backup, api_args(api, retention_days=30, service_home=home, dest=other), capsys)
    assert not failed, result
    assert result['verification']['ok'] is True
    assert result['pruned'] == [] and 'not into dest %s' % other in result['skipped_steps']['retention']
    assert len(_backup_records.list_backups(paths['backup_dir'])) == 2 and old['name']
