#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: sqlite_maintenance
short_description: Maintain the Inventory Enterprise SQLite database
version_added: 0.2.0
description:
  - Runs the SQLite steps of the "Database Maintenance" procedures of the Inventory Enterprise operations guide on
    a live database, and the remedies of its "Database Lock (SQLite)" troubleshooting entry.
  - "V(integrity_check) / V(quick_check), a gate before any write; V(vacuum), only when the free pages exceed
    O(vacuum_min_free_percent) (or O(vacuum_force)), reporting the bytes reclaimed; V(analyze) or V(optimize)
    (C(PRAGMA optimize)); V(reindex) of O(indexes) whose pages are more than O(reindex_min_unused_percent) unused
    (or O(reindex_force)); V(wal), switching the journal mode to WAL; V(holders), the processes that have the
    database file open (the guide's C(fuser)), stopped only when O(stop_holders=true)."
  - Operations run in a fixed safe order whatever the order of O(operations) (holders and checks first, writes
    after). A failed integrity check stops the run before anything is written.
  - The service keeps serving traffic meanwhile. Each write is a single atomic statement; when another connection
    holds the lock for longer than O(busy_timeout), the statement is retried O(busy_retries) times and then the
    module fails saying so; that statement changed nothing.
  - A failure never hides earlier work. The failure result reports the operations that ran before it (with
    C(changed=true) when one of them changed the database) and what the failing one had done, and its message
    says what failed, where and what to do.
  - Sizes, row counts and a read-only look at the lock holders are in M(inventory_enterprise.ops.sqlite_info).
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
attributes:
  check_mode:
    support: full
    details: Predictions are read-only. V(analyze) and V(optimize) are predicted from the row counts recorded in
      C(sqlite_stat1).
  diff_mode:
    support: partial
    details: Shows the journal mode before and after V(wal).
options:
  path:
    description: The SQLite database file, usually C(<service home>/data/enterprise_inventory.db).
    type: path
    required: true
  operations:
    description: What to do.
    type: list
    elements: str
    choices: [holders, integrity_check, quick_check, wal, vacuum, reindex, analyze, optimize]
    default: [quick_check, vacuum, reindex, analyze]
  busy_timeout:
    description: Seconds a statement waits for a lock held by another connection before it fails.
    type: float
    default: 30
  busy_retries:
    description: How many times a statement that timed out on a lock is retried before the module fails.
    type: int
    default: 2
  vacuum_min_free_percent:
    description: V(vacuum) only runs when free pages make up more than this share of the file.
    type: float
    default: 10
  vacuum_force:
    description: Vacuum whatever the free pages.
    type: bool
    default: false
  indexes:
    description:
      - Indexes to rebuild with V(reindex); the default is the three the guide names. An empty list means every
        index.
    type: list
    elements: str
    default: [idx_item_master_code, idx_inventory_counts_date, idx_ai_forecasts_entity]
  reindex_min_unused_percent:
    description:
      - V(reindex) rebuilds an index only when more than this share of its pages is unused (measured with
        C(dbstat)). Without C(dbstat) every index in O(indexes) is rebuilt.
    type: float
    default: 25
  reindex_force:
    description: Rebuild the indexes whatever their fill.
    type: bool
    default: false
  stop_holders:
    description:
      - With V(holders), stop every process that has the database open (SIGTERM, then SIGKILL after
        O(stop_timeout)), like the guide's C(fuser -k). Stopping the service interrupts it.
    type: bool
    default: false
  stop_timeout:
    description: Seconds between SIGTERM and SIGKILL with O(stop_holders).
    type: float
    default: 10
notes:
  - C(VACUUM) needs free disk space about the size of the database; the module checks it first. In WAL mode the
    space is given back to the filesystem by the checkpoint that follows; when readers hold the checkpoint back,
    C(report.vacuum.checkpointed) is V(false) and the space comes back at the next one.
seealso:
  - module: inventory_enterprise.ops.sqlite_info
  - module: inventory_enterprise.ops.postgresql_maintenance
'''

EXAMPLES = r'''
- name: Weekly SQLite optimisation (the guide's Sunday 4 AM step)
  inventory_enterprise.ops.sqlite_maintenance:
    path: /opt/inventory-enterprise/data/enterprise_inventory.db
    operations: [quick_check, vacuum, reindex, analyze]

- name: Stop the lock holders and switch to WAL (Database Lock troubleshooting)
  inventory_enterprise.ops.sqlite_maintenance:
    path: /opt/inventory-enterprise/data/enterprise_inventory.db
    operations: [holders, wal]
    stop_holders: true
'''

RETURN = r'''
report:
  description:
    - One entry per operation run, keyed by its name, in the order they ran. In a failure result, the operations
      that ran before the failure, and an entry for the one that failed with C(failed=true), its error as
      C(message) and what it had done so far (the keys below it had reached).
  returned: always
  type: dict
  sample: {"vacuum": {"changed": true, "ran": true, "free_ratio_before": 0.31, "bytes_before": 1441792,
           "bytes_after": 991232, "bytes_reclaimed": 450560, "checkpointed": true,
           "message": "vacuumed: 31.0% free pages, 450560 bytes reclaimed"}}
  contains:
    holders:
      description: V(holders), the processes that have the database file (or its -wal, -shm, -journal) open.
      returned: when V(holders) ran
      type: dict
      contains:
        changed:
          description: Whether a process was stopped (would be, in check mode).
          type: bool
        message:
          description: The processes found and stopped, or the error of a failure.
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
          description: With O(stop_holders), the processes stopped.
          type: list
          elements: dict
          contains:
            pid:
              description: Process id.
              type: int
            outcome:
              description: V(terminated), V(killed), V(gone) (ended by itself), or V(would stop) in check mode.
              type: str
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
    wal:
      description: Switch to the WAL journal mode.
      returned: when V(wal) ran
      type: dict
      contains:
        changed:
          description: Whether the journal mode was (would be) switched.
          type: bool
        message:
          description: What was done.
          type: str
        failed:
          description: Present, V(true), when the operation failed.
          type: bool
          returned: when the operation failed
        before:
          description: Journal mode before.
          type: str
        after:
          description: Journal mode after (V(wal)).
          type: str
    vacuum:
      description: C(VACUUM).
      returned: when V(vacuum) ran
      type: dict
      contains:
        changed:
          description: Whether the file was (would be) vacuumed.
          type: bool
        message:
          description: What was done, or why not.
          type: str
        failed:
          description: Present, V(true), when the operation failed.
          type: bool
          returned: when the operation failed
        ran:
          description: Whether C(VACUUM) ran.
          type: bool
        free_ratio_before:
          description: Share of free pages before.
          type: float
        bytes_before:
          description: File size before.
          type: int
        bytes_after:
          description: File size after (null in check mode).
          type: int
        bytes_reclaimed:
          description: Bytes given back (about to be, in check mode).
          type: int
        checkpointed:
          description: Whether the WAL checkpoint after C(VACUUM) completed (null when it did not run).
          type: bool
    reindex:
      description: C(REINDEX) of fragmented indexes.
      returned: when V(reindex) ran
      type: dict
      contains:
        changed:
          description: Whether an index was (would be) rebuilt.
          type: bool
        message:
          description: What was done.
          type: str
        failed:
          description: Present, V(true), when the operation failed.
          type: bool
          returned: when the operation failed
        fragmentation:
          description: Index name to the unused share of its pages (null without C(dbstat)).
          type: dict
        rebuilt:
          description: Indexes rebuilt (to be, in check mode; so far, in a failure).
          type: list
          elements: str
    analyze:
      description: C(ANALYZE).
      returned: when V(analyze) ran
      type: dict
      contains: &analyze
        changed:
          description: Whether the statistics changed (would change).
          type: bool
        message:
          description: What was done.
          type: str
        failed:
          description: Present, V(true), when the operation failed.
          type: bool
          returned: when the operation failed
        ran:
          description: Whether the statement ran (V(false) in check mode).
          type: bool
    optimize:
      description: C(PRAGMA optimize); the keys of RV(report.analyze).
      returned: when V(optimize) ran
      type: dict
      contains: *analyze
target:
  description: The SQLite path.
  returned: always
  type: str
  sample: /opt/inventory-enterprise/data/enterprise_inventory.db
messages:
  description: One line per operation run, its name then its message, in the order they ran (in a failure
    result, the failing operation's line holds its error).
  returned: always
  type: list
  elements: str
  sample: ["vacuum: not needed: 2.1% free pages, threshold 10.0%", "analyze: ANALYZE: statistics unchanged"]
changed_operations:
  description: The operations that changed (or, in check mode, would change) the database; in a failure result,
    also the failing one when it had changed something before it failed.
  returned: always
  type: list
  elements: str
  sample: [vacuum]
executed_queries:
  description: The write statements executed, in order (in check mode, the ones that would be; in a failure
    result, the ones executed before it). Stopping lock holders is not a statement and is not listed.
  returned: always
  type: list
  elements: str
  sample: ["VACUUM", "REINDEX \"idx_item_master_code\"", "ANALYZE"]
failed_operation:
  description: The operation that failed; null when the failure came before any (options, opening the file).
  returned: on failure
  type: str
  sample: vacuum
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _sqlite_maint
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._maintenance_run import MAINTENANCE_KEYS
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._sqlite_operations import (
    SQLITE_WRITES,
    run_sqlite_module,
)


def argument_spec():
    return dict(
        path=dict(type='path', required=True),
        operations=dict(type='list', elements='str', choices=SQLITE_WRITES,
                        default=['quick_check', 'vacuum', 'reindex', 'analyze']),
        busy_timeout=dict(type='float', default=30.0),
        busy_retries=dict(type='int', default=2),
        vacuum_min_free_percent=dict(type='float', default=10.0),
        vacuum_force=dict(type='bool', default=False),
        indexes=dict(type='list', elements='str', default=list(_sqlite_maint.GUIDE_INDEXES)),
        reindex_min_unused_percent=dict(type='float', default=25.0),
        reindex_force=dict(type='bool', default=False),
        stop_holders=dict(type='bool', default=False),
        stop_timeout=dict(type='float', default=10.0),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_sqlite_module(module, module.params['operations'], MAINTENANCE_KEYS)


if __name__ == '__main__':
    main()
