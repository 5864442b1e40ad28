# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Runs a module in its own process that obeys file modes, for the tests of permission errors.

The suite runs as root, which ignores file modes; the child drops the capabilities that let it (it stays root,
so the files it may not write are those of mode 0555/0444). A child process also keeps Ansible's lazy imports
working, which a seteuid() in the test process would break (ansible-test's temporary tree is root's alone).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ctypes
import json
import os
import subprocess
import sys

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive

COLLECTIONS = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(_archive.__file__).rsplit(os.sep + 'plugins' + os.sep, 1)[0])))
PR_CAPBSET_DROP = 24
# CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER: without them root obeys file modes like any user.
MODE_BYPASSING_CAPS = (1, 2, 3)


def obey_file_modes():
    """In the child before exec: a root process loses the capabilities that bypass file modes."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in MODE_BYPASSING_CAPS:
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), 'prctl(PR_CAPBSET_DROP, %d) failed' % cap)


def run_obeying_file_modes(module_name, base, args):
    """Run plugins/modules/<module_name> with `args` in a child that obeys file modes; its JSON result."""
    args_file = os.path.join(base, 'args.json')
    with open(args_file, 'w') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, handle)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (COLLECTIONS, os.environ.get('PYTHONPATH')) if p))
    proc = subprocess.run([sys.executable, '-m', 'ansible_collections.inventory_enterprise.ops.plugins.modules.'
                           + module_name, args_file], env=env, cwd=base, preexec_fn=obey_file_modes,
                          capture_output=True, timeout=120, check=False)
    out, err = proc.stdout.decode(errors='replace'), proc.stderr.decode(errors='replace')
    assert 'Traceback' not in out + err, out + err
    return json.loads(out)
