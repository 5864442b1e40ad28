# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The collection's shape (issue 11): one home per shared concern, names that explain themselves, small
module files and functions. Read from the source, so a copy that creeps back in fails here."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import os
import re

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
PLUGINS = os.path.join(ROOT, 'plugins')


def sources(*dirs):
    for directory in dirs:
        for base, _dirs, files in os.walk(os.path.join(ROOT, directory)):
            for name in sorted(files):
                if name.endswith('.py'):
                    yield os.path.relpath(os.path.join(base, name), ROOT)


def read(path):
    with open(os.path.join(ROOT, path)) as handle:
        return handle.read()


def definitions():
    """{function or class name: [files defining it]} over plugins/, at any depth."""
    found = {}
    for path in sources('plugins'):
        for node in ast.walk(ast.parse(read(path))):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                found.setdefault(node.name, []).append(path)
    return found


# Each shared concern and the one file that may implement it.
HOMES = {
    'quote_identifier': 'plugins/module_utils/_sql.py',
    'quote_literal': 'plugins/module_utils/_sql.py',
    'is_alive': 'plugins/module_utils/_process.py',
    'stop': 'plugins/module_utils/_process.py',
    'holders_of': 'plugins/module_utils/_process.py',
    'check_messages': 'plugins/module_utils/_sqlite.py',
    'integrity_check': 'plugins/module_utils/_sqlite.py',
    'count_rows': 'plugins/module_utils/_sqlite.py',
    'row_counts': 'plugins/module_utils/_sqlite.py',
    'sidecar_paths': 'plugins/module_utils/_sqlite.py',
}
# The copies the helpers above replaced; none may come back under its old name.
RETIRED = ['qi', 'ql', 'quote_ident', '_quote_ident', 'pid_alive', '_alive', 'stop_process', '_cmdline', '_owner',
           'Run', 'RunFailed', 'keep_books']


@pytest.mark.parametrize('name', sorted(HOMES))
def test_each_shared_helper_is_defined_once_in_its_home(name):
    assert definitions().get(name) == [HOMES[name]]


def test_the_replaced_copies_are_gone():
    found = definitions()
    assert dict((name, found[name]) for name in RETIRED if name in found) == {}


# Text that only the one home may hold: the quoting rule, signals sent to other processes, the side files.
ONLY_IN = [
    (r"""replace\(['"]"['"], ['"]""['"]\)""", 'plugins/module_utils/_sql.py'),
    (r"""os\.kill\(|os\.killpg\(|signal\.SIG(KILL|TERM)\b""", 'plugins/module_utils/_process.py'),
    (r"""\(['"]-wal['"], ['"]-shm['"]""", 'plugins/module_utils/_sqlite.py'),
    (r"""/proc/%d|/fd/""", 'plugins/module_utils/_process.py'),
]


@pytest.mark.parametrize('pattern, home', ONLY_IN)
def test_the_shared_logic_is_written_once(pattern, home):
    code_files = [path for path in sources('plugins/module_utils', 'plugins/modules')
                  if re.search(pattern, strip_docs(read(path)))]
    assert code_files == [home]


def strip_docs(text):
    """The source without its docstrings and DOCUMENTATION/EXAMPLES/RETURN blocks (prose may name a signal)."""
    tree = ast.parse(text)
    lines = text.splitlines()
    for node in ast.walk(tree):
        body = getattr(node, 'body', None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(getattr(body[0], 'value', None), ast.Constant) and isinstance(body[0].value.value, str):
            for number in range(body[0].lineno - 1, body[0].end_lineno):
                lines[number] = ''
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) in ('DOCUMENTATION', 'EXAMPLES', 'RETURN')
                                                for t in node.targets):
            for number in range(node.lineno - 1, node.end_lineno):
                lines[number] = ''
    return '\n'.join(line.split('#')[0] if line.lstrip().startswith('#') else line for line in lines)


def test_no_import_aliases_in_the_collection_code_and_its_unit_tests():
    aliased = []
    for path in list(sources('plugins')) + list(sources('tests/unit')):
        for node in ast.walk(ast.parse(read(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                aliased += ['%s: %s as %s' % (path, alias.name, alias.asname) for alias in node.names
                            if alias.asname and alias.asname != alias.name.split('.')[-1]]
    assert aliased == []


# The files issue 11's reshaping of the shared helpers and of dual_write_parity touched.
SHAPED = ['plugins/modules/dual_write_parity.py', 'plugins/modules/app_process.py'] + [
    'plugins/module_utils/%s.py' % name for name in ('_sql', '_sqlite', '_sqlite_maint', '_sqlite_operations', '_process',
                                                     '_parity', '_parity_tracking', '_parity_run', '_postgres',
                                                     '_postgres_operations', '_api')]


@pytest.mark.parametrize('path', SHAPED)
def test_no_function_over_60_lines(path):
    long_ones = ['%s (%d lines)' % (node.name, node.end_lineno - node.lineno + 1)
                 for node in ast.walk(ast.parse(read(path)))
                 if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 60]
    assert long_ones == []


def test_dual_write_parity_is_a_thin_entry_point():
    text = read('plugins/modules/dual_write_parity.py')
    assert len(text.splitlines()) < 450
    tree = ast.parse(text)
    assert [node.name for node in tree.body if isinstance(node, ast.ClassDef)] == []
    assert sorted(node.name for node in tree.body if isinstance(node, ast.FunctionDef)) == [
        'argument_spec', 'create_module', 'main']
