# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""backup on directories it may not write: a clear fail_json (what, where, what to do) with an honest
`changed`, never a traceback. The module runs in its own process on real directories of mode 0555; when the
suite runs as root, that process drops the capabilities that let root ignore file modes.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records, _service_layout
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_backup_support import make_home
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.unprivileged import run_obeying_file_modes


@pytest.fixture
def base(tmp_path):
    yield str(tmp_path)
    for root, dirs, dummy in os.walk(str(tmp_path)):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)


def read_only(path):
    os.chmod(path, 0o555)


def run_as_user(base, args):
    return run_obeying_file_modes('backup', base, args)


def test_backup_into_a_read_only_directory(base):
    home = make_home(base)
    dest = os.path.join(base, 'readonly')
    os.mkdir(dest)
    read_only(dest)
    result = run_as_user(base, dict(service_home=home, dest=dest, compression='gzip'))
    assert result['failed'] and result['changed'] is False
    assert dest in result['msg'] and 'Permission denied' in result['msg']
    assert 'become' in result['msg'] and 'cannot write' in result['msg']
    assert os.listdir(dest) == []


def test_verified_record_that_cannot_be_written_after_a_new_backup(base):
    home = make_home(base)
    dest = os.path.join(home, 'backups')
    os.mkdir(os.path.join(dest, _backup_records.MARKER_DIR))
    read_only(os.path.join(dest, _backup_records.MARKER_DIR))
    result = run_as_user(base, dict(service_home=home, compression='gzip'))
    assert result['failed']
    # The archive was written: that is a change, and the report says which one and that it verified.
    assert result['changed'] is True and os.path.isfile(result['backup']['path'])
    assert result['verification']['ok'] is True
    assert 'verified, but its record' in result['msg'] and _backup_records.MARKER_DIR in result['msg']
    assert 'become' in result['msg']


def test_verify_in_a_read_only_directory_with_a_writable_scratch(base):
    home = make_home(base)
    paths = _service_layout.service_paths(home)
    created = _archive.create_backup(paths, paths['backup_dir'], compression='gzip')
    scratch = os.path.join(base, 'scratch')
    os.mkdir(scratch)
    read_only(paths['backup_dir'])
    result = run_as_user(base, dict(service_home=home, state='verified', path=created['path'], scratch_dir=scratch))
    assert result['failed'] and result['changed'] is False
    assert result['verification']['archive_sha256'] == created['archive_sha256']
    assert 'verified, but its record' in result['msg'] and 'cannot be written' in result['msg']


def test_verify_without_scratch_space_does_not_call_the_archive_bad(base):
    home = make_home(base)
    paths = _service_layout.service_paths(home)
    created = _archive.create_backup(paths, paths['backup_dir'], compression='gzip')
    read_only(paths['backup_dir'])
    result = run_as_user(base, dict(service_home=home, state='verified', path=created['path']))
    assert result['failed'] and result['changed'] is False
    assert 'could not verify' in result['msg'] and 'not judged' in result['msg'] and 'scratch_dir' in result['msg']
    assert 'failed verification' not in result['msg']


def test_retention_in_a_read_only_directory(base):
    home = make_home(base)
    paths = _service_layout.service_paths(home)
    old = _archive.create_backup(paths, paths['backup_dir'], compression='gzip',
                                 now=_backup_records.utc_now() - datetime.timedelta(days=40))
    new = _archive.create_backup(paths, paths['backup_dir'], compression='gzip')
    scratch = os.path.join(base, 'scratch')
    os.mkdir(scratch)
    read_only(paths['backup_dir'])
    result = run_as_user(base, dict(service_home=home, state='pruned', retention_days=30, scratch_dir=scratch))
    assert result['failed'] and result['changed'] is False and result['pruned'] == []
    assert 'cannot remove %s' % old['path'] in result['msg'] and 'become' in result['msg']
    assert os.path.isfile(old['path']) and os.path.isfile(new['path'])


def test_lock_file_this_user_may_only_read(base):
    """The lock file was made by another user (a run as root one night, as the service's user the next)."""
    home = make_home(base)
    lock = os.path.join(home, 'backups', _archive.LOCK_FILE)
    with open(lock, 'w'):
        pass
    os.chmod(lock, 0o444)
    result = run_as_user(base, dict(service_home=home, compression='gzip'))
    assert not result.get('failed'), result
    assert result['verification']['ok'] is True and os.path.isfile(result['backup']['path'])
