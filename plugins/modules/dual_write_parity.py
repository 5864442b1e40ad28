#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: dual_write_parity
short_description: Compare the SQLite database with its PostgreSQL dual-write mirror, and repair the mirror
version_added: 0.1.0
description:
  - The "Dual-Write Monitoring" procedures of the Inventory Enterprise operations guide
    (C(npm run verify:data-parity), C(npm run sync:sqlite-to-postgres) and the C(db_dual_write_errors_total)
    check) in one module.
  - Compares each table of the SQLite database (the source of truth) with the same table in PostgreSQL. Both
    sides cut the table into primary-key ranges of O(chunk_size) keys and summarise each range in SQL (row
    and value counts, exact integer sums of the numbers, MD5 of the text in key order); only ranges that
    differ are split further, down to ranges of 10 keys whose rows are compared value by value.
    Whole tables are never pulled into memory.
  - Reports, per table, the row counts and the rows C(missing) in PostgreSQL, C(extra) in PostgreSQL and
    C(changed) (same key, different values), with their total and the first O(max_ids) keys.
  - With O(sync=true), copies missing and changed rows from SQLite to PostgreSQL with
    C(INSERT ... ON CONFLICT DO UPDATE), in one transaction per table, so a second run finds nothing to do.
    Rows only PostgreSQL has are deleted only with O(delete_extra=true).
  - The sync reads SQLite again inside that transaction, right before writing, because the service kept
    writing since the comparison. It upserts rows as SQLite holds them then; it leaves alone (reports as
    C(skipped), for the next run) a missing or changed row SQLite no longer has, and a row only PostgreSQL had
    that SQLite has committed meanwhile, which it never deletes.
  - A failure never hides earlier writes. The failure result lists in RV(executed) what the run had already
    written (change tracking installed in one database, tables synced) with C(changed=true), and its message
    says what failed, where and what to do.
  - With O(check_metrics=true), also reads C(db_dual_write_errors_total) from the service's C(/metrics).
  - With O(change_tracking=present), triggers in both databases record the key of every row written, and
    later runs compare only the rows written since the previous run (plus both row counts), instead of every
    row. The first run after installing, and any run after a restore, TRUNCATE, schema change or disabled
    trigger, compares whole tables. See O(change_tracking).
  - The SQLite side is read in one read transaction (one consistent snapshot, while the service keeps
    writing); PostgreSQL in one C(REPEATABLE READ) transaction. Rows the service commits during the comparison
    can show up as differences; run it again, or in a quiet window, to confirm.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.postgres
  - inventory_enterprise.ops.api
attributes:
  check_mode:
    support: full
    details: In check mode O(sync) only predicts C(changed) and RV(would_repair) from the differences found;
      nothing is written, and RV(remaining_differences) counts every difference found.
  diff_mode:
    support: none
options:
  sqlite_path:
    description: The service's SQLite database, usually C(<service home>/data/enterprise_inventory.db).
    type: path
    required: true
  tables:
    description:
      - Tables to compare, in this order (parents before children when PostgreSQL has foreign keys).
      - Every table of the SQLite database when empty. Each needs a single INTEGER PRIMARY KEY.
    type: list
    elements: str
    default: []
  schema:
    description: PostgreSQL schema holding the mirror tables.
    type: str
    default: public
  chunk_size:
    description: Keys per first-level checksum range. Ranges that differ are split 100 times smaller.
    type: int
    default: 1000
  max_ids:
    description: How many keys of each kind (missing, extra, changed) are listed per table; totals are exact.
    type: int
    default: 100
  sync:
    description: Copy missing and changed rows from SQLite to PostgreSQL.
    type: bool
    default: false
  delete_extra:
    description: With O(sync), also delete the rows only PostgreSQL has.
    type: bool
    default: false
  batch_size:
    description: Rows per C(INSERT) statement when syncing.
    type: int
    default: 1000
  check_metrics:
    description: Read C(db_dual_write_errors_total) from C(/metrics) at O(api_url).
    type: bool
    default: false
  fail_on_difference:
    description: Fail when differences remain (after syncing, when O(sync=true)).
    type: bool
    default: false
  change_tracking:
    description:
      - V(ignore) compares whole tables and leaves any change tracking as it is.
      - V(present) installs, when missing, change tracking on the compared tables (one table C(_ie_parity_changes)
        and C(_ie_parity_state) and three triggers per table in SQLite; the same tables, two functions and two
        triggers per table in the PostgreSQL O(schema)); it removes tracking from tables no longer compared.
        Each written row then costs one more upsert in each database. A run compares the rows whose keys were
        marked since the previous run, and both row counts; keys found equal are unmarked, keys found
        different stay marked. Whole tables are compared when the two databases do not hold the same checkpoint
        (first run, restore of either database from a backup, TRUNCATE in PostgreSQL, column changes), when
        the row counts differ by more than the marked rows explain, and with O(full_check=true). A table of
        which more than a fifth of the rows (and over 1000) were written since the previous run is compared
        whole too, which is then cheaper.
      - V(absent) removes change tracking from both databases, then compares whole tables.
      - Writes made with triggers switched off (C(session_replication_role = replica),
        C(ALTER TABLE ... DISABLE TRIGGER)) are not tracked; schedule a O(full_check=true) run after such work.
    type: str
    choices: [ignore, present, absent]
    default: ignore
  full_check:
    description:
      - With O(change_tracking=present), compare whole tables this run even when the checkpoint allows an
        incremental run (a weekly full check beside daily incremental ones, say).
    type: bool
    default: false
  busy_timeout:
    description: Seconds a SQLite statement waits for a lock held by another connection (the service) before it
      fails.
    type: float
    default: 30
  busy_retries:
    description: How many times a SQLite write (change tracking, its bookkeeping) that timed out on a lock is
      retried before the module fails.
    type: int
    default: 2
requirements:
  - psycopg2 on the managed host.
  - prometheus-client on the managed host, only with O(check_metrics=true).
notes:
  - REAL (double precision) values are summarised exactly to 2^-52, then rows that differ are compared with
    their exact values, so a rendering difference is never reported as a change.
  - Storing the checkpoint and unmarking the keys found equal, with O(change_tracking=present), is bookkeeping
    and not reported as a change; installing or removing tracking is. Check mode writes neither.
'''

EXAMPLES = r'''
- name: Verify data parity (the guide's npm run verify:data-parity) and read the dual-write error counter
  inventory_enterprise.ops.dual_write_parity:
    sqlite_path: /opt/inventory-enterprise/data/enterprise_inventory.db
    dsn: "{{ service_postgres_dsn }}"
    check_metrics: true
  register: parity

- name: Sync missing and changed records to PostgreSQL (npm run sync:sqlite-to-postgres)
  inventory_enterprise.ops.dual_write_parity:
    sqlite_path: /opt/inventory-enterprise/data/enterprise_inventory.db
    login_host: db1.example.com
    login_user: inventory
    login_password: "{{ vault_postgres_password }}"
    login_db: inventory
    tables: [item_master, inventory_counts, inventory_count_items, processed_invoices]
    sync: true
    fail_on_difference: true

- name: Daily parity that reads only the rows written since yesterday's run
  inventory_enterprise.ops.dual_write_parity:
    sqlite_path: /opt/inventory-enterprise/data/enterprise_inventory.db
    dsn: "{{ service_postgres_dsn }}"
    change_tracking: present
    full_check: "{{ ansible_date_time.weekday == 'Sunday' }}"
'''

RETURN = r'''
tables:
  description: One entry per table compared (in a failure result, the tables compared before the failure).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Table name.
      type: str
    sqlite_rows:
      description: Rows in SQLite.
      type: int
    postgres_rows:
      description: Rows in PostgreSQL before any sync.
      type: int
    chunks:
      description: First-level key ranges compared.
      type: int
    chunks_differing:
      description: First-level key ranges whose checksums differed.
      type: int
    missing:
      description: Rows in SQLite but not in PostgreSQL.
      type: dict
      sample: {"count": 2, "ids": [17, 18]}
      contains:
        count:
          description: How many (exact).
          type: int
        ids:
          description: The first O(max_ids) keys.
          type: list
          elements: int
    extra:
      description: Rows in PostgreSQL but not in SQLite.
      type: dict
      contains:
        count:
          description: How many (exact).
          type: int
        ids:
          description: The first O(max_ids) keys.
          type: list
          elements: int
    changed:
      description: Rows in both with different values.
      type: dict
      contains:
        count:
          description: How many (exact).
          type: int
        ids:
          description: The first O(max_ids) keys.
          type: list
          elements: int
    in_sync:
      description: Whether the table matched (before any sync).
      type: bool
    method:
      description: V(full) (every row, through range summaries) or V(incremental) (only the marked keys).
      type: str
    keys_checked:
      description: Keys compared row by row in an incremental run (0 in a full one).
      type: int
    synced:
      description: Rows written to PostgreSQL by the sync (predicted in check mode, see RV(would_repair)).
      type: dict
      sample: {"upserted": 3, "deleted": 0}
      contains:
        upserted:
          description: Rows inserted or updated.
          type: int
        deleted:
          description: Rows deleted (only with O(delete_extra)).
          type: int
    skipped:
      description: Differing rows the sync left alone because SQLite changed them during the run (gone from
        SQLite, or committed to it meanwhile); the next run compares them again. Empty in check mode.
      type: dict
      contains:
        count:
          description: How many (exact).
          type: int
        ids:
          description: The first O(max_ids) keys.
          type: list
          elements: int
    error:
      description: Why the table could not be compared (then the other counts are 0); null otherwise.
      type: str
executed:
  description: What this run wrote, in order, each write as it was committed (change tracking installed or removed
    in each database, rows synced per table). Empty in check mode. In a failure result, what was written before
    the failure. Storing the checkpoint and clearing change marks is bookkeeping and not listed.
  returned: always
  type: list
  elements: str
  sample: ["processed_invoices: 3 row(s) upserted and 0 deleted in PostgreSQL"]
in_sync:
  description: Whether every table matched and none had an error, before any sync.
  returned: success, and the failure of O(fail_on_difference)
  type: bool
remaining_differences:
  description: Rows still different after this run (what a sync did not repair, for example extra rows without
    O(delete_extra), or rows skipped because SQLite changed them during the run). In check mode every difference
    found, since nothing was written.
  returned: success, and the failure of O(fail_on_difference)
  type: int
would_repair:
  description: In check mode with O(sync=true), the rows a sync would upsert or delete; 0 otherwise.
  returned: success, and the failure of O(fail_on_difference)
  type: int
tracking:
  description: What change tracking did.
  returned: always
  type: dict
  contains:
    state:
      description: O(change_tracking) as asked.
      type: str
    actions:
      description: Triggers, functions and tables to create or drop (created or dropped unless in check mode or a
        failure stopped the run first, see RV(executed)).
      type: list
      elements: str
    method:
      description: V(incremental) when the tables were compared from the marked keys, V(full) otherwise.
      type: str
    reason:
      description: Why whole tables were compared with O(change_tracking=present); null otherwise.
      type: str
  sample: {"state": "present", "actions": [], "method": "incremental", "reason": null}
dual_write_errors:
  description: Value of C(db_dual_write_errors_total), null when not read or not exposed.
  returned: always
  type: float
elapsed_seconds:
  description: How long the run took.
  returned: always
  type: float
  sample: 1.234
summary:
  description: One readable line.
  returned: success, and the failure of O(fail_on_difference)
  type: str
  sample: "5 tables, 2 differ: processed_invoices 1 missing 1 changed; item_master 2 extra; synced 2 rows"
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _parity
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import api_argument_spec
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._parity_run import ParityRun
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres import postgres_argument_spec


def argument_spec():
    spec = postgres_argument_spec()
    spec.update(api_argument_spec())
    spec.update(
        sqlite_path=dict(type='path', required=True),
        tables=dict(type='list', elements='str', default=[]),
        schema=dict(type='str', default='public'),
        chunk_size=dict(type='int', default=_parity.DEFAULT_CHUNK_SIZE),
        max_ids=dict(type='int', default=100),
        sync=dict(type='bool', default=False),
        delete_extra=dict(type='bool', default=False),
        batch_size=dict(type='int', default=1000),
        check_metrics=dict(type='bool', default=False),
        fail_on_difference=dict(type='bool', default=False),
        change_tracking=dict(type='str', default='ignore', choices=['ignore', 'present', 'absent']),
        full_check=dict(type='bool', default=False),
        busy_timeout=dict(type='float', default=30.0),
        busy_retries=dict(type='int', default=2),
    )
    return spec


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


def main():
    ParityRun(create_module()).run()


if __name__ == '__main__':
    main()
