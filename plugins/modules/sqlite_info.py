#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: sqlite_info
short_description: Read the state of the Inventory Enterprise SQLite database
version_added: 0.2.0
description:
  - The read-only side of the guide's "Database Maintenance" and "Database Lock (SQLite)" entries, on a live
    database opened read-only.
  - "V(stats): file sizes, page counts, the journal mode, the largest tables and indexes from C(dbstat) and row
    counts of O(count_tables); V(integrity_check) / V(quick_check); V(holders): the processes that have the
    database file open (the guide's C(fuser))."
  - Never changes anything; M(inventory_enterprise.ops.sqlite_maintenance) vacuums, rebuilds, switches to WAL and
    stops lock holders.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
attributes:
  check_mode:
    support: full
    details: Reads only, in check mode as in a normal run.
  diff_mode:
    support: none
options:
  path:
    description: The SQLite database file, usually C(<service home>/data/enterprise_inventory.db).
    type: path
    required: true
  gather:
    description: What to read.
    type: list
    elements: str
    choices: [holders, integrity_check, quick_check, stats]
    default: [stats]
  busy_timeout:
    description: Seconds a read waits for a lock held by another connection before it fails.
    type: float
    default: 30
  busy_retries:
    description: How many times a read that timed out on a lock is retried before the module fails.
    type: int
    default: 2
  count_tables:
    description: Tables whose rows V(stats) counts (the guide's list by default).
    type: list
    elements: str
    default: [inventory_count_items, processed_invoices, ai_forecasts]
  top:
    description: How many of the largest tables and indexes V(stats) reports.
    type: int
    default: 10
seealso:
  - module: inventory_enterprise.ops.sqlite_maintenance
  - module: inventory_enterprise.ops.postgresql_info
'''

EXAMPLES = r'''
- name: Monthly statistics of the SQLite database
  inventory_enterprise.ops.sqlite_info:
    path: /opt/inventory-enterprise/data/enterprise_inventory.db
    gather: [integrity_check, stats]
  register: sqlite_stats

- name: Who holds the database? (Database Lock troubleshooting)
  inventory_enterprise.ops.sqlite_info:
    path: /opt/inventory-enterprise/data/enterprise_inventory.db
    gather: [holders]
'''

RETURN = r'''
report:
  description:
    - One entry per item of O(gather) read, keyed by its name. In a failure result, the items read before the
      failure, and an entry for the one that failed with C(failed=true) and its error as C(message).
  returned: always
  type: dict
  sample: {"stats": {"changed": false, "journal_mode": "wal", "message": "1441792 bytes (+0 in WAL), 31.0% free pages"}}
  contains:
    holders:
      description: V(holders), the processes that have the database file (or its -wal, -shm, -journal) open.
      returned: when V(holders) ran
      type: dict
      contains:
        changed:
          description: Always V(false), sqlite_info never stops a process.
          type: bool
        message:
          description: The processes found, or the error of a failure.
          type: str
        failed:
          description: Present, V(true), when the operation failed.
          type: bool
          returned: when the operation failed
        processes:
          description: The processes holding the database.
          type: list
          elements: dict
          contains:
            pid:
              description: Process id.
              type: int
            user:
              description: The process owner, null when unknown.
              type: str
            cmdline:
              description: Program and arguments.
              type: list
              elements: str
            files:
              description: Database files the process has open.
              type: list
              elements: str
        stopped:
          description: Always empty; M(inventory_enterprise.ops.sqlite_maintenance) stops holders.
          type: list
          elements: dict
        unreadable:
          description: Processes that could not be inspected (not running as root).
          type: int
    integrity_check:
      description: C(PRAGMA integrity_check).
      returned: when V(integrity_check) ran
      type: dict
      contains: &check
        changed:
          description: Always V(false).
          type: bool
        message:
          description: V(ok), or the problems found.
          type: str
        failed:
          description: Present, V(true), when problems were found (which stops the run) or the check failed.
          type: bool
          returned: when the operation failed
        ok:
          description: Whether the database is sound.
          type: bool
        errors:
          description: The problems SQLite reported (at most 100).
          type: list
          elements: str
    quick_check:
      description: C(PRAGMA quick_check); the keys of RV(report.integrity_check).
      returned: when V(quick_check) ran
      type: dict
      contains: *check
    stats:
      description: Sizes and counts.
      returned: when V(stats) ran
      type: dict
      contains:
        changed:
          description: Always V(false).
          type: bool
        message:
          description: A one-line summary.
          type: str
        failed:
          description: Present, V(true), when reading failed.
          type: bool
          returned: when the operation failed
        files:
          description: Bytes of the database (C(db)) and of its C(wal), C(shm) and C(journal) files when they exist.
          type: dict
        pages:
          description: C(page_size), C(page_count), C(freelist_count), C(free_bytes), C(free_ratio).
          type: dict
          contains:
            page_size:
              description: Bytes per page.
              type: int
            page_count:
              description: Pages in the file.
              type: int
            freelist_count:
              description: Free pages.
              type: int
            free_bytes:
              description: Bytes of the free pages.
              type: int
            free_ratio:
              description: Share of free pages.
              type: float
        journal_mode:
          description: The journal mode.
          type: str
        row_counts:
          description: Rows of each table of O(count_tables) (null for a table that does not exist).
          type: dict
        tables:
          description: The largest tables and indexes from C(dbstat) (C(name), C(bytes), C(pages)), null without
            C(dbstat).
          type: list
          elements: dict
target:
  description: The SQLite path.
  returned: always
  type: str
  sample: /opt/inventory-enterprise/data/enterprise_inventory.db
messages:
  description: One line per item read, its name then its message (in a failure result, the failing item's line
    holds its error).
  returned: always
  type: list
  elements: str
  sample: ["stats: 1441792 bytes (+0 in WAL), 31.0% free pages"]
failed_operation:
  description: The item of O(gather) that failed; null when the failure came before any (options, opening the file).
  returned: on failure
  type: str
  sample: stats
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _sqlite_maint
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._maintenance_run import INFO_KEYS
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._sqlite_operations import (
    SQLITE_INFO,
    run_sqlite_module,
)


def argument_spec():
    return dict(
        path=dict(type='path', required=True),
        gather=dict(type='list', elements='str', choices=SQLITE_INFO, default=['stats']),
        busy_timeout=dict(type='float', default=30.0),
        busy_retries=dict(type='int', default=2),
        count_tables=dict(type='list', elements='str', default=list(_sqlite_maint.GUIDE_COUNT_TABLES)),
        top=dict(type='int', default=10),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_sqlite_module(module, module.params['gather'], INFO_KEYS, readonly=True)


if __name__ == '__main__':
    main()
