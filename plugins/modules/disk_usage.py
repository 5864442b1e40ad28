#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The work is done by the action plugin of the same name (plugins/action/disk_usage.py); this file documents it.

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: disk_usage
short_description: Check the disks of a host with df, without Python on the host
version_added: 0.1.0
description:
  - The V(disk) check of M(inventory_enterprise.ops.health_check) (the guide's C(df -h) step of the morning
    checks) through one POSIX C(df -P -k) command over the connection, parsed on the control node.
  - No module is sent and no Python starts on the host, so it costs about half of a module run per host, and
    hosts without Python can be checked. Verdicts, thresholds and messages are those of
    M(inventory_enterprise.ops.health_check).
  - A path that does not exist is a failed check naming it; a host without C(df) fails with a message saying so.
  - It only reads, so it never reports a change, and runs the same in check mode.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  disk_paths:
    description:
      - Paths whose filesystem usage is checked, each a path or a dictionary with the keys C(path) and
        C(max_used_percent), as in M(inventory_enterprise.ops.health_check).
    type: list
    elements: raw
    required: true
  disk_max_used_percent:
    description: Highest acceptable used space, in percent, for entries that do not set their own.
    type: float
    default: 85
  host_label:
    description: Name of the host in RV(summary) and in failure messages; defaults to C(inventory_hostname).
    type: str
  report_only:
    description: When V(true), never fails; failed checks are reported and RV(ok) is V(false).
    type: bool
    default: false
requirements:
  - A POSIX C(df) on the host's C(PATH).
notes:
  - Used percent is computed like C(df) does, from the space available to unprivileged users, from the
    1024-byte blocks C(df -P -k) prints.
'''

EXAMPLES = r'''
- name: Check the service's disks on every app server, without a module run
  inventory_enterprise.ops.disk_usage:
    disk_paths:
      - /opt/inventory-enterprise/data
      - path: /opt/inventory-enterprise/logs
        max_used_percent: 90
    disk_max_used_percent: 85
  register: disks

- name: Show the one-line summary
  ansible.builtin.debug:
    msg: "{{ disks.summary }}"
'''

RETURN = r'''
checks:
  description: One entry per path, named C(disk:<path>), as in M(inventory_enterprise.ops.health_check).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "disk:/data", "verdict": "ok", "value": 41.3, "threshold": 85.0,
            "message": "/data is 41.3% used (58.2 GiB free of 99.1 GiB)", "reading": "41.3% used of 85%"}]
failed_checks:
  description: Names of the failed checks.
  returned: always
  type: list
  elements: str
  sample: ["disk:/data"]
ok:
  description: Whether no check failed.
  returned: always
  type: bool
  sample: true
summary:
  description: One readable line with the counts of ok and failed checks.
  returned: always
  type: str
  sample: "web01: 2 ok, 1 failed (disk:/data)"
host:
  description: The host label used in the summary and in failure messages.
  returned: always
  type: str
  sample: web01
'''
