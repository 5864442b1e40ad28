# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The database side shared by consumption_derive and consumption_anomalies: find the service's database, open
it (read-only for a run that must not write), and fail with a message saying what and where."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sqlite3

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _envfile, _service_layout

BUSY_TIMEOUT = 30.0


def argument_spec(**extra):
    spec = _service_layout.service_paths_argument_spec()
    spec.update(extra)
    return spec


def database_path(module, **fail_keys):
    try:
        paths = _service_layout.service_paths_from_params(module.params)
    except _envfile.EnvFileError as exc:
        module.fail_json(msg="cannot read the service's configuration: %s. Nothing was changed." % exc,
                         changed=False, **fail_keys)
    path = paths['database_path']
    if not os.path.isfile(path):
        module.fail_json(msg='the database %s does not exist: check database_path or the service\'s DATABASE_PATH, '
                         'and run this on the host that holds the database. Nothing was changed.' % path,
                         changed=False, **fail_keys)
    return path


def connect(path, read_only):
    """A connection that waits for the service's writers; read_only opens it so that it cannot write."""
    if read_only:
        from urllib.parse import quote
        conn = sqlite3.connect('file:%s?mode=ro' % quote(os.path.abspath(path)), uri=True, timeout=BUSY_TIMEOUT)
    else:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT)
    conn.execute('PRAGMA busy_timeout=%d' % int(BUSY_TIMEOUT * 1000))
    return conn
