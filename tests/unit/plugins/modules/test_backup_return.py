# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""backup's RETURN against real results of every state: each key returned is documented (with `contains:`
for dicts, recursively, and the documented type), each documented key is returned by some state, and each
state returns exactly its keys."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records, _service_layout
from ansible_collections.inventory_enterprise.ops.plugins.modules import backup
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.return_docs import (
    documented_paths, problems_of, seen_paths)
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_backup_support import make_home, run
from ansible_collections.inventory_enterprise.ops.tests.unit.servers import route

# Ansible's own keys, documented by Ansible rather than by each module.
STANDARD = {'changed', 'failed', 'msg', 'warnings', 'deprecations', 'invocation'}


def test_return_documents_every_key_of_every_state(tmp_path, capsys, api):
    home = make_home(tmp_path)
    dest = _service_layout.service_paths(home)['backup_dir']
    _archive.create_backup(_service_layout.service_paths(home), dest, now=_backup_records.utc_now() - datetime.timedelta(days=40))
    results = {}
    expect = {}

    def case(label, args, keys, check_mode=False, should_fail=False):
        failed, result = run(backup, args, capsys, check_mode=check_mode)
        assert failed is should_fail, result
        results[label] = result
        expect[label] = set(keys)
        return result

    common = {'backup_dir', 'pruned', 'leftovers_removed'}
    retention = {'kept_anchor', 'rejected'}
    case('present check', dict(service_home=home, retention_days=30), common | {'backup'} | retention, check_mode=True)
    created = case('present', dict(service_home=home, retention_days=30),
                   common | {'backup', 'verification', 'log_file'} | retention)
    case('present recent', dict(service_home=home, max_age_hours=1), common | {'backup'})
    case('present recent with metrics', dict(service_home=home, max_age_hours=1, metrics_textfile_dir=str(tmp_path)),
         common | {'backup', 'metrics_textfile'})
    case('present database only, unverified, no log',
         dict(service_home=home, database_only=True, verify=False, log=False), common | {'backup'})
    case('verified', dict(service_home=home, state='verified'), common | {'verification'})
    damaged = _archive.create_backup(_service_layout.service_paths(home), dest,
                                     now=_backup_records.utc_now() + datetime.timedelta(hours=1))['path']
    with open(damaged, 'r+b') as handle:
        handle.seek(os.path.getsize(damaged) // 2)
        handle.write(b'\x00' * 64)
    case('pruned', dict(service_home=home, state='pruned', retention_days=30), common | retention)
    case('verified failure', dict(service_home=home, state='verified', path=str(tmp_path / 'none.tar.gz')),
         common | {'archive'}, should_fail=True)
    answer = dict((k, created['backup'][k]) for k in ('path', 'name', 'size', 'archive_sha256', 'manifest'))
    api.use(None, **{'/api/backup/create': route(201, answer)})
    api_args = dict(method='api', api_url=api.url, api_token='t', service_home=home, retention_days=30)
    case('api local', api_args, {'pruned', 'leftovers_removed', 'backup', 'verification'} | retention)
    api.use(None, **{'/api/backup/create': route(201, dict(answer, path='/elsewhere/' + answer['name']))})
    case('api remote', api_args, {'pruned', 'leftovers_removed', 'backup', 'skipped_steps'})

    problems = []
    seen = set()
    for label, result in results.items():
        problems += ['%s: %s' % (label, p) for p in problems_of(backup, result)]
        if set(result) - STANDARD != expect[label]:
            problems.append('%s returns %s, expected %s' % (label, sorted(set(result) - STANDARD), sorted(expect[label])))
        seen |= seen_paths(backup, result)
    never = documented_paths(backup) - seen
    assert not problems, '\n'.join(problems)
    assert not never, 'documented but never returned: %s' % sorted(never)
