# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The shape issue 11 asks of the collection's code: module files under 450 lines, no function over 60 lines
anywhere in plugins/, one home per helper (no module reaching into another's private names), and a health check
that does not load the archive code."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import os
import re
import subprocess
import sys

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _backup_records

PLUGINS = os.path.dirname(os.path.dirname(os.path.abspath(_backup_records.__file__)))
MODULE_UTILS = os.path.join(PLUGINS, 'module_utils')
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60


def python_files(sub=''):
    for directory, _dirs, names in os.walk(os.path.join(PLUGINS, sub)):
        for name in sorted(names):
            if name.endswith('.py') and name != '__init__.py':
                yield os.path.relpath(os.path.join(directory, name), PLUGINS)


@pytest.mark.parametrize('relpath', sorted(python_files('modules')))
def test_module_files_stay_small(relpath):
    with open(os.path.join(PLUGINS, relpath)) as handle:
        lines = len(handle.read().splitlines())
    assert lines <= MAX_MODULE_LINES, '%s has %d lines' % (relpath, lines)


@pytest.mark.parametrize('relpath', sorted(python_files()))
def test_no_function_over_60_lines(relpath):
    with open(os.path.join(PLUGINS, relpath)) as handle:
        tree = ast.parse(handle.read())
    long_ones = ['%s (%d lines)' % (node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long_ones == []


def test_no_module_reaches_into_a_module_utils_private_name():
    own = set(name[:-3] for name in os.listdir(MODULE_UTILS) if name.endswith('.py'))
    found = []
    for relpath in python_files():
        with open(os.path.join(PLUGINS, relpath)) as handle:
            for number, line in enumerate(handle, 1):
                for module, name in re.findall(r'\b(_\w+)\.(_[A-Za-z]\w*)', line):
                    if module in own and not name.startswith('__'):
                        found.append('%s:%d %s.%s' % (relpath, number, module, name))
    assert found == []


def test_health_check_does_not_load_the_archive_code():
    # A fresh interpreter: what importing health_check pulls in, and nothing a test imported before.
    code = ('import sys\n'
            'from ansible_collections.inventory_enterprise.ops.plugins.modules import health_check\n'
            'print(" ".join(sorted(sys.modules)))\n')
    loaded = subprocess.run([sys.executable, '-c', code], check=True, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))).stdout.split()
    assert 'ansible_collections.inventory_enterprise.ops.plugins.module_utils._backup_records' in loaded
    heavy = [name for name in loaded if name.split('.')[-1] in ('_archive', '_restore', 'tarfile', 'zstandard', 'sqlite3')]
    assert heavy == []


def _module_fragments(path):
    """The doc fragments a module's DOCUMENTATION extends."""
    import yaml  # pylint: disable=import-outside-toplevel
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', '') == 'DOCUMENTATION' for t in node.targets):
            return yaml.safe_load(ast.literal_eval(node.value)).get('extends_documentation_fragment') or []
    return []


def test_action_groups_hold_every_module_of_their_fragment():
    """module_defaults for group/inventory_enterprise.ops.api (or .postgresql) reach every module with those options."""
    import yaml  # pylint: disable=import-outside-toplevel
    with open(os.path.join(os.path.dirname(PLUGINS), 'meta', 'runtime.yml')) as handle:
        groups = yaml.safe_load(handle)['action_groups']
    modules = os.path.join(PLUGINS, 'modules')
    for group, fragment in (('api', 'inventory_enterprise.ops.api'), ('postgresql', 'inventory_enterprise.ops.postgres')):
        users = sorted(name[:-3] for name in os.listdir(modules)
                       if name.endswith('.py') and fragment in _module_fragments(os.path.join(modules, name)))
        assert sorted(groups[group]) == users, group
