# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The size rules of issue 11 for the modules reshaped there: no module file over 450 lines, no function over 60."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import os

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _backup_api, _backup_run
from ansible_collections.inventory_enterprise.ops.plugins.modules import backup, health_check

MAX_FILE_LINES = 450
MAX_FUNCTION_LINES = 60


def long_functions(path):
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    return ['%s (%d lines)' % (node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


@pytest.mark.parametrize('module', [backup, health_check, _backup_run, _backup_api], ids=lambda m: m.__name__.rsplit('.', 1)[-1])
def test_file_and_functions_stay_small(module):
    path = os.path.splitext(module.__file__)[0] + '.py'
    with open(path) as handle:
        lines = len(handle.readlines())
    assert lines <= MAX_FILE_LINES, '%s has %d lines' % (path, lines)
    assert long_functions(path) == []
