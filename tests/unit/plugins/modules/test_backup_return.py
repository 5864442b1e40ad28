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

import yaml

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive
from ansible_collections.inventory_enterprise.ops.plugins.modules import backup
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_backup_support import make_home, run
from ansible_collections.inventory_enterprise.ops.tests.unit.servers import route

# Ansible's own keys, documented by Ansible rather than by each module.
STANDARD = {'changed', 'failed', 'msg', 'warnings', 'deprecations', 'invocation'}
TYPES = dict(str=str, int=int, float=(int, float), bool=bool, list=list, dict=dict)


def undocumented(result, docs, where=''):
    """Paths of keys in `result` that `docs` does not describe, or with another type than documented."""
    problems = []
    for key, value in result.items():
        if not where and key in STANDARD:
            continue
        path = where + key
        doc = docs.get(key)
        if doc is None:
            problems.append('%s is not documented' % path)
            continue
        expected = TYPES[doc['type']]
        if value is not None and (not isinstance(value, expected) or (doc['type'] == 'int' and isinstance(value, bool))):
            problems.append('%s is %s, documented as %s' % (path, type(value).__name__, doc['type']))
        if 'contains' in doc and isinstance(value, dict):
            problems += undocumented(value, doc['contains'], path + '.')
        elif 'contains' in doc and isinstance(value, list):
            for item in value:
                problems += undocumented(item, doc['contains'], path + '[].')
    return problems


def seen_paths(result, docs, where=''):
    found = set()
    for key, value in result.items():
        if key in docs:
            found.add(where + key)
            nested = docs[key].get('contains')
            if nested and isinstance(value, dict):
                found |= seen_paths(value, nested, where + key + '.')
            elif nested and isinstance(value, list):
                for item in value:
                    found |= seen_paths(item, nested, where + key + '[].')
    return found


def documented_paths(docs, where=''):
    found = set()
    for key, doc in docs.items():
        suffix = '[].' if doc['type'] == 'list' else '.'
        found.add(where + key)
        if 'contains' in doc:
            found |= documented_paths(doc['contains'], where + key + suffix)
    return found


def test_return_documents_every_key_of_every_state(tmp_path, capsys, api):
    docs = yaml.safe_load(backup.RETURN)
    home = make_home(tmp_path)
    dest = _archive.service_paths(home)['backup_dir']
    _archive.create_backup(_archive.service_paths(home), dest, now=_archive.utc_now() - datetime.timedelta(days=40))
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
    case('present database only, unverified, no log',
         dict(service_home=home, database_only=True, verify=False, log=False), common | {'backup'})
    case('verified', dict(service_home=home, state='verified'), common | {'verification'})
    damaged = _archive.create_backup(_archive.service_paths(home), dest,
                                     now=_archive.utc_now() + datetime.timedelta(hours=1))['path']
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
        problems += ['%s: %s' % (label, p) for p in undocumented(result, docs)]
        if set(result) - STANDARD != expect[label]:
            problems.append('%s returns %s, expected %s' % (label, sorted(set(result) - STANDARD), sorted(expect[label])))
        seen |= seen_paths(result, docs)
    never = documented_paths(docs) - seen
    assert not problems, '\n'.join(problems)
    assert not never, 'documented but never returned: %s' % sorted(never)
