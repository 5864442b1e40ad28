# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""backup and restore read the service's .env strictly: a named env_file that is missing or unreadable, a
.env that cannot be read or has a bad line, or a lost .env, is a clear failure before anything is written,
never a silent fall back to the default paths (which may be another database than the service's)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records, _service_layout
from ansible_collections.inventory_enterprise.ops.plugins.modules import backup, restore
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_backup_support import (
    add_service_schema, db_path, live_hashes, make_home, tree_hashes, txlog_path, write_rows)
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

SECRET = 'unit-test-secret-0123456789'


@pytest.fixture
def home(tmp_path):
    home = make_home(tmp_path)
    add_service_schema(db_path(home))
    return home


def backups_in(home):
    return sorted(n for n in os.listdir(os.path.join(home, 'backups')) if _backup_records.NAME_RE.match(n))


def env_path(home):
    return os.path.join(home, '.env')


def replace_env_by_directory(path):
    os.unlink(path)
    os.mkdir(path)


def add_bad_line(home):
    """A line the old reader skipped: the secret lost its key (a paste gone wrong)."""
    with open(env_path(home), 'a') as handle:
        handle.write('# the admin password\n%s\n' % SECRET)


def take_backup(home):
    paths = _service_layout.service_paths(home)
    return _archive.create_backup(paths, paths['backup_dir'], compression='gzip')


BROKEN_CONFIGURATIONS = {
    'named env_file missing': lambda home: (dict(env_file=os.path.join(home, 'prod.env')), 'prod.env does not exist'),
    'named env_file a directory': lambda home: (os.mkdir(os.path.join(home, 'conf.d')) or
                                                dict(env_file=os.path.join(home, 'conf.d')), 'is a directory'),
    '.env a directory': lambda home: (replace_env_by_directory(env_path(home)) or {}, 'is a directory'),
    '.env with a bad line': lambda home: (add_bad_line(home) or {}, '%s:5: expected KEY=VALUE' % env_path(home)),
    '.env lost': lambda home: (os.unlink(env_path(home)) or {}, '.env does not exist'),
}


@pytest.mark.parametrize('case', sorted(BROKEN_CONFIGURATIONS))
def test_backup_refuses_a_configuration_it_cannot_read(home, capsys, case):
    args, words = BROKEN_CONFIGURATIONS[case](home)
    failed, result = run_module(backup, dict(service_home=home, compression='gzip', **args), capsys, keep_raw=True)
    assert failed, 'backup of the default paths reported success: %s' % result.get('msg')
    assert words in result['msg'] and 'configuration' in result['msg']
    assert result['changed'] is False
    assert SECRET not in result['_raw']
    assert backups_in(home) == []


@pytest.mark.parametrize('case', sorted(BROKEN_CONFIGURATIONS))
def test_restore_refuses_a_configuration_it_cannot_read(home, capsys, case):
    take_backup(home)
    write_rows(db_path(home), txlog_path(home), 3, start=21)
    args, words = BROKEN_CONFIGURATIONS[case](home)
    before = tree_hashes(os.path.join(home, 'data'))
    failed, result = run_module(restore, dict(service_home=home, **args), capsys, keep_raw=True)
    assert failed, 'restore onto the default paths reported success: %s' % result.get('msg')
    assert words in result['msg'] and 'configuration' in result['msg']
    assert result['changed'] is False and result['restored'] == []
    assert SECRET not in result['_raw']
    assert tree_hashes(os.path.join(home, 'data')) == before
    assert not os.path.exists(os.path.join(home, 'data', '.restore-safety'))


def test_a_lost_env_with_the_paths_named_explicitly_is_fine(home, capsys):
    """Without a .env the caller may still say where everything is: then nothing is guessed."""
    take_backup(home)
    os.unlink(env_path(home))
    explicit = dict(database_path=db_path(home), transaction_log_path=txlog_path(home))
    failed, result = run_module(backup, dict(service_home=home, compression='gzip', **explicit), capsys)
    assert not failed, result
    assert len(backups_in(home)) == 2
    failed, result = run_module(restore, dict(service_home=home, **explicit), capsys)
    assert not failed, result


@pytest.mark.parametrize('damage', [os.unlink, replace_env_by_directory], ids=['no .env', '.env unreadable'])
def test_verify_and_prune_of_a_named_directory_need_no_env(tmp_path, capsys, damage):
    """On the backup server there is no service home at all, or one whose .env is missing or unreadable to
    this user: dest says everything, the .env is not read."""
    home = make_home(tmp_path)
    take_backup(home)
    damage(env_path(home))
    dest = os.path.join(home, 'backups')
    failed, result = run_module(backup, dict(state='verified', service_home=home, dest=dest), capsys)
    assert not failed, result
    failed, result = run_module(backup, dict(state='pruned', service_home=str(tmp_path / 'absent'), dest=dest,
                                             retention_days=30), capsys)
    assert not failed, result


def test_rollback_of_a_named_safety_copy_does_not_depend_on_the_env(home, capsys):
    """A restore of the configuration may leave a .env behind that cannot be read: putting the safety copy
    back must still work, since the safety copy records where every file belongs."""
    take_backup(home)
    write_rows(db_path(home), txlog_path(home), 3, start=21)
    before = live_hashes(home)
    failed, result = run_module(restore, dict(service_home=home), capsys)
    assert not failed, result
    add_bad_line(home)
    failed, rolled = run_module(restore, dict(state='rolled_back', service_home=home,
                                              safety_copy=result['safety_copy']), capsys)
    assert not failed, rolled
    assert rolled['rolled_back'] is True
    after = live_hashes(home)
    del before['.env'], after['.env']
    assert after == before


def backup_with_env(home, text):
    """An archive whose .env is `text` (the archive format copies the file as it is)."""
    paths = _service_layout.service_paths(home)
    with open(env_path(home), 'w') as handle:
        handle.write(text)
    created = _archive.create_backup(paths, paths['backup_dir'], compression='gzip')
    with open(env_path(home), 'w') as handle:
        handle.write('PORT=8083\nJWT_SECRET="%s"\n' % SECRET)
    return created


RESTORED_CONFIGURATIONS = {
    'a bad line': ('PORT=8083\nJWT_SECRET="%s\n' % SECRET, '.env in inventory_backup_', ':2: the value of JWT_SECRET'),
    'another database': ('PORT=8083\nDATABASE_PATH=/srv/other/inventory.db\n', 'DATABASE_PATH',
                         '/srv/other/inventory.db'),
    'another transaction log': ('TRANSACTION_LOG_PATH=data/other.jsonl\n', 'TRANSACTION_LOG_PATH', 'other.jsonl'),
}


@pytest.mark.parametrize('case', sorted(RESTORED_CONFIGURATIONS))
@pytest.mark.parametrize('check_mode', [False, True], ids=['run', 'check'])
def test_restore_refuses_a_configuration_the_service_would_misread(home, capsys, case, check_mode):
    """Restoring config/ puts the archive's .env live: the service must be able to read it, and it must send
    the service to the database and transaction log this restore writes, not to other files."""
    text, *words = RESTORED_CONFIGURATIONS[case]
    created = backup_with_env(home, text)
    write_rows(db_path(home), txlog_path(home), 3, start=21)
    before = live_hashes(home)
    failed, result = run_module(restore, dict(service_home=home, src=created['path'],
                                              components=['database', 'transaction_log', 'config']),
                                capsys, check_mode=check_mode, keep_raw=True)
    assert failed, 'restore reported success: %s' % result.get('msg')
    assert result['changed'] is False and result['restored'] == []
    assert 'No live file was changed' in result['msg'] and all(word in result['msg'] for word in words)
    assert SECRET not in result['_raw']
    assert live_hashes(home) == before
    # The database alone is restored as before: the archive's configuration is not used.
    failed, result = run_module(restore, dict(service_home=home, src=created['path']), capsys)
    assert not failed, result


def test_a_service_home_that_does_not_exist_is_named(tmp_path, capsys):
    absent = str(tmp_path / 'absent')
    failed, result = run_module(backup, dict(service_home=absent), capsys)
    assert failed and 'the service home %s does not exist' % absent in result['msg'], result['msg']
    failed, result = run_module(restore, dict(service_home=absent), capsys)
    assert failed and 'the service home %s does not exist' % absent in result['msg'], result['msg']
