# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Compares a real module result with the module's RETURN documentation, key by key.

Every unit test that runs a module goes through utils.run_module, which calls check_result: so RETURN and what
the modules really return cannot drift apart again. Rules:
- every key of the result (but Ansible's own: changed, failed, msg, ...) is documented, and so is every key of a
  documented dict or list of dicts that has `contains`;
- its value has the documented type (null is accepted: the docs say when a value may be missing);
- a successful result has every key documented `returned: always`.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import yaml

# Keys Ansible itself documents for every module.
COMMON_KEYS = frozenset(['changed', 'failed', 'msg', 'invocation', 'diff', 'warnings', 'deprecations', 'skipped',
                         'exception', 'rc', '_raw'])
# What AnsibleModule.exit_json adds by itself to a result that has a `path` or `dest` (add_path_info).
PATH_INFO_KEYS = frozenset(['uid', 'gid', 'owner', 'group', 'mode', 'state', 'size', 'secontext', 'xattr'])

TYPES = dict(str=(str,), path=(str,), int=(int,), float=(int, float), bool=(bool,), list=(list, tuple),
             dict=(dict,), complex=(dict, list), raw=(object,))


def _type_ok(expected, value):
    if value is None or expected not in TYPES:
        return True
    if expected in ('int', 'float') and isinstance(value, bool):
        return False
    return isinstance(value, TYPES[expected])


def _compare(spec, result, where, problems, check_always):
    ignored = COMMON_KEYS
    if where == '' and ('path' in result or 'dest' in result):
        ignored = COMMON_KEYS | (PATH_INFO_KEYS - set(spec))
    for key, value in sorted(result.items()):
        name = where + key
        if where == '' and key in ignored:
            continue
        doc = spec.get(key)
        if doc is None:
            problems.append('%s is returned but not documented in RETURN' % name)
            continue
        if not _type_ok(doc.get('type', 'raw'), value):
            problems.append('%s is documented as %s but is %s (%r)'
                            % (name, doc.get('type'), type(value).__name__, value))
            continue
        contains = doc.get('contains')
        if not contains:
            continue
        if isinstance(value, dict):
            _compare(contains, value, name + '.', problems, check_always)
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    _compare(contains, item, '%s[%d].' % (name, index), problems, check_always)
    if check_always:
        for key, doc in sorted(spec.items()):
            if str(doc.get('returned', '')).strip() == 'always' and key not in result:
                problems.append('%s is documented "returned: always" but is missing' % (where + key))


def problems_of(module, result):
    """The differences between `result` and the RETURN block of `module` (an imported module file)."""
    spec = _spec(module)
    problems = []
    _compare(spec, result, '', problems, check_always=not result.get('failed'))
    return problems


def check_result(module, result):
    problems = problems_of(module, result)
    assert not problems, 'RETURN of %s does not match its result:\n  %s\nresult: %r' % (
        module.__name__.rsplit('.', 1)[-1], '\n  '.join(problems), result)


def _spec(module):
    return yaml.safe_load(module.RETURN) or {}


def seen_paths(module, result, _spec_=None, where=''):
    """The documented keys of RETURN that `result` holds, as paths ('backup.manifest.name', 'rejected[].reason')."""
    spec = _spec(module) if _spec_ is None else _spec_
    found = set()
    for key, value in result.items():
        if key not in spec:
            continue
        found.add(where + key)
        nested = spec[key].get('contains')
        if nested and isinstance(value, dict):
            found |= seen_paths(module, value, nested, where + key + '.')
        elif nested and isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, dict):
                    found |= seen_paths(module, item, nested, where + key + '[].')
    return found


def documented_paths(module, _spec_=None, where=''):
    """Every key RETURN documents, as paths like seen_paths(): what a module's tests must see returned once."""
    spec = _spec(module) if _spec_ is None else _spec_
    found = set()
    for key, doc in spec.items():
        found.add(where + key)
        if doc.get('contains'):
            suffix = '[].' if doc.get('type') == 'list' else '.'
            found |= documented_paths(module, doc['contains'], where + key + suffix)
    return found
