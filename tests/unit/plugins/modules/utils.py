# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Runs a module's main() in-process the way Ansible does, for the unit tests."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19 (the suite also runs the units under the oldest one supported)
    patch_module_args = None

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.return_docs import check_result


@contextlib.contextmanager
def module_args(args):
    """The arguments AnsibleModule reads: ansible-core's own helper where it has one (2.19 and later), otherwise
    the serialized arguments older versions read from basic._ANSIBLE_ARGS."""
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
        return
    saved = basic._ANSIBLE_ARGS
    basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = saved


def run_module(module, args, capsys, check_mode=False, diff=False, keep_raw=False):
    """Run `module.main()` with `args`; return (failed, result) from the JSON it prints. With keep_raw the printed
    text is kept in result['_raw'], for tests that look for what must never be printed (secrets)."""
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    if diff:
        args = dict(args, _ansible_diff=True)
    with module_args(args):
        with pytest.raises(SystemExit) as exc:
            module.main()
    out = capsys.readouterr().out
    result = json.loads(out)
    # Every module run of the unit tests holds its result against the module's RETURN documentation.
    check_result(module, result)
    if keep_raw:
        result['_raw'] = out
    return exc.value.code != 0 or result.get('failed', False), result
