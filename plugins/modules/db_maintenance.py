#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: db_maintenance
short_description: Maintain the Inventory Enterprise SQLite database or its PostgreSQL database
version_added: 0.1.0
description:
  - Runs the "Database Maintenance" procedures of the Inventory Enterprise operations guide on a live database,
    and the diagnosis of its "Database Lock (SQLite)" troubleshooting entry.
  - "With O(engine=sqlite) (the file in O(path)): V(integrity_check) / V(quick_check); V(vacuum), only when the
    free pages exceed O(vacuum_min_free_percent) (or O(vacuum_force)), reporting the bytes reclaimed;
    V(analyze) or V(optimize) (C(PRAGMA optimize)); V(reindex) of O(indexes) whose pages are more than
    O(reindex_min_unused_percent) unused (or O(reindex_force)); V(wal), switching the journal mode to WAL;
    V(stats): file sizes, page counts, the largest tables and indexes from C(dbstat) and row counts of
    O(count_tables); V(holders): the processes that have the database file open (the guide's C(fuser)),
    stopped only when O(stop_holders=true)."
  - "With O(engine=postgresql): V(activity), a C(pg_stat_activity) summary (connections by state, longest
    running query, sessions idle in transaction); V(vacuum), C(VACUUM (ANALYZE)) of the tables that have dead
    tuples or changes since their last analyze (or all with O(vacuum_force)); V(analyze); V(reindex),
    C(REINDEX TABLE CONCURRENTLY) where the server supports it (PostgreSQL 12 and later), after dropping the
    invalid C(_ccnew)/C(_ccold) indexes a failed concurrent reindex leaves behind; V(stats), table and index
    sizes; V(bloat), a per-table bloat estimate (the ioguix estimation query, as used by check_pgactivity)
    with warning and critical thresholds."
  - Tasks run in a fixed safe order whatever the order of O(tasks) (checks first, writes after, statistics
    last). A failed integrity check stops the run before anything is written.
  - The service keeps serving traffic meanwhile. Each SQLite write is a single atomic statement; when another
    connection holds the lock for longer than O(busy_timeout), the statement is retried O(busy_retries) times
    and then the module fails saying so; that statement changed nothing.
  - A failure never hides earlier work. The failure result reports the tasks that ran before it (with
    C(changed=true) when one of them changed the database) and what the failing task had done, and its message
    says what failed, where and what to do.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.postgres
attributes:
  check_mode:
    support: full
    details: Predictions are read-only. V(analyze) and V(optimize) on SQLite are predicted from the row counts
      recorded in C(sqlite_stat1).
  diff_mode:
    support: partial
    details: Shows the SQLite journal mode before and after V(wal).
options:
  engine:
    description: Which database to maintain.
    type: str
    choices: [sqlite, postgresql]
    default: sqlite
  tasks:
    description:
      - What to do. V(integrity_check), V(quick_check), V(optimize), V(wal) and V(holders) are SQLite only;
        V(activity) and V(bloat) PostgreSQL only.
    type: list
    elements: str
    choices: [integrity_check, quick_check, vacuum, analyze, optimize, reindex, wal, stats, holders, activity, bloat]
    default: [stats]
  path:
    description: The SQLite database file, usually C(<service home>/data/enterprise_inventory.db). Required for
      O(engine=sqlite).
    type: path
  busy_timeout:
    description: Seconds a SQLite statement waits for a lock held by another connection before it fails.
    type: float
    default: 30
  busy_retries:
    description: How many times a SQLite statement that timed out on a lock is retried before the module fails.
    type: int
    default: 2
  vacuum_min_free_percent:
    description: V(vacuum) on SQLite only runs when free pages make up more than this share of the file.
    type: float
    default: 10
  vacuum_force:
    description: Vacuum whatever the free pages (SQLite) or dead tuples (PostgreSQL).
    type: bool
    default: false
  indexes:
    description:
      - SQLite indexes to rebuild with V(reindex); the default is the three the guide names. An empty list
        means every index.
    type: list
    elements: str
    default: [idx_item_master_code, idx_inventory_counts_date, idx_ai_forecasts_entity]
  reindex_min_unused_percent:
    description:
      - V(reindex) on SQLite rebuilds an index only when more than this share of its pages is unused
        (measured with C(dbstat)). Without C(dbstat) every index in O(indexes) is rebuilt.
    type: float
    default: 25
  reindex_force:
    description: Rebuild the indexes whatever their fill.
    type: bool
    default: false
  count_tables:
    description: Tables whose rows V(stats) counts on SQLite (the guide's list by default).
    type: list
    elements: str
    default: [inventory_count_items, processed_invoices, ai_forecasts]
  top:
    description: How many of the largest tables and indexes V(stats) and V(bloat) report.
    type: int
    default: 10
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
  schema:
    description: PostgreSQL schema whose tables are maintained.
    type: str
    default: public
  tables:
    description: PostgreSQL tables to vacuum, analyze or reindex; all tables of O(schema) when empty.
    type: list
    elements: str
    default: []
  reindex_concurrently:
    description: On PostgreSQL 12 and later, rebuild indexes with C(REINDEX TABLE CONCURRENTLY), which does not
      block writes. Older servers use a plain C(REINDEX TABLE).
    type: bool
    default: true
  bloat_warning_percent:
    description: Estimated table bloat (share of the table) that gives a V(warning).
    type: float
    default: 20
  bloat_critical_percent:
    description: Estimated table bloat (share of the table) that gives a V(critical) status.
    type: float
    default: 50
  bloat_min_bytes:
    description: Tables with less estimated bloat than this, in bytes, are never flagged (small tables always
      look bloated).
    type: int
    default: 10485760
requirements:
  - psycopg2 on the managed host, for O(engine=postgresql).
notes:
  - On SQLite, C(VACUUM) needs free disk space about the size of the database; the module checks it first.
    In WAL mode the space is given back to the filesystem by the checkpoint that follows; when readers hold the
    checkpoint back, C(report.vacuum.checkpointed) is V(false) and the space comes back at the next one.
  - Bloat estimates come from planner statistics; run V(vacuum) or V(analyze) first for tables never analyzed.
'''

EXAMPLES = r'''
- name: Weekly SQLite optimisation (the guide's Sunday 4 AM step)
  inventory_enterprise.ops.db_maintenance:
    path: /opt/inventory-enterprise/data/enterprise_inventory.db
    tasks: [quick_check, vacuum, reindex, analyze]

- name: Monthly statistics of the SQLite database
  inventory_enterprise.ops.db_maintenance:
    path: /opt/inventory-enterprise/data/enterprise_inventory.db
    tasks: [stats]
  register: sqlite_stats

- name: Who holds the database? (Database Lock troubleshooting)
  inventory_enterprise.ops.db_maintenance:
    path: /opt/inventory-enterprise/data/enterprise_inventory.db
    tasks: [holders, wal]

- name: Weekly PostgreSQL vacuum and analyze, and the connection summary
  inventory_enterprise.ops.db_maintenance:
    engine: postgresql
    login_host: db1.example.com
    login_user: inventory
    login_password: "{{ vault_postgres_password }}"
    login_db: inventory
    tasks: [activity, vacuum]

- name: Monthly index maintenance and bloat report
  inventory_enterprise.ops.db_maintenance:
    engine: postgresql
    dsn: "{{ service_postgres_dsn }}"
    tasks: [reindex, stats, bloat]
'''

RETURN = r'''
report:
  description:
    - One entry per task run, keyed by task name, in the order they ran. In a failure result, the tasks that ran
      before the failure, and an entry for the task that failed with C(failed=true), its error as C(message) and
      what it had done so far (the keys below it had reached).
    - Tasks that exist for both engines (V(vacuum), V(analyze), V(reindex), V(stats)) return the keys of the engine
      used; each key below says which.
  returned: always
  type: dict
  sample: {"vacuum": {"changed": true, "ran": true, "free_ratio_before": 0.31, "bytes_before": 1441792,
           "bytes_after": 991232, "bytes_reclaimed": 450560, "checkpointed": true,
           "message": "vacuumed: 31.0% free pages, 450560 bytes reclaimed"}}
  contains:
    holders:
      description: SQLite V(holders), the processes that have the database file (or its -wal, -shm, -journal) open.
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
          description: Present, V(true), when the task failed.
          type: bool
          returned: when the task failed
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
      description: SQLite C(PRAGMA integrity_check).
      returned: when V(integrity_check) ran
      type: dict
      contains:
        changed:
          description: Always V(false).
          type: bool
        message:
          description: V(ok), or the problems found.
          type: str
        failed:
          description: Present, V(true), when problems were found (which stops the run) or the check failed.
          type: bool
          returned: when the task failed
        ok:
          description: Whether the database is sound.
          type: bool
        errors:
          description: The problems SQLite reported (at most 100).
          type: list
          elements: str
    quick_check:
      description: SQLite C(PRAGMA quick_check); the keys of RV(report.integrity_check).
      returned: when V(quick_check) ran
      type: dict
      contains:
        changed:
          description: Always V(false).
          type: bool
        message:
          description: V(ok), or the problems found.
          type: str
        failed:
          description: Present, V(true), when problems were found or the check failed.
          type: bool
          returned: when the task failed
        ok:
          description: Whether the database is sound.
          type: bool
        errors:
          description: The problems SQLite reported.
          type: list
          elements: str
    wal:
      description: SQLite switch to the WAL journal mode.
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
          description: Present, V(true), when the task failed.
          type: bool
          returned: when the task failed
        before:
          description: Journal mode before.
          type: str
        after:
          description: Journal mode after (V(wal)).
          type: str
    vacuum:
      description: SQLite C(VACUUM), or PostgreSQL C(VACUUM (ANALYZE)) of the tables that need it.
      returned: when V(vacuum) ran
      type: dict
      contains:
        changed:
          description: Whether anything was (would be) vacuumed.
          type: bool
        message:
          description: What was done, or why not.
          type: str
        failed:
          description: Present, V(true), when the task failed.
          type: bool
          returned: when the task failed
        ran:
          description: SQLite. Whether C(VACUUM) ran.
          type: bool
        free_ratio_before:
          description: SQLite. Share of free pages before.
          type: float
        bytes_before:
          description: SQLite. File size before.
          type: int
        bytes_after:
          description: SQLite. File size after (null in check mode).
          type: int
        bytes_reclaimed:
          description: SQLite. Bytes given back (about to be, in check mode).
          type: int
        checkpointed:
          description: SQLite. Whether the WAL checkpoint after C(VACUUM) completed (null when it did not run).
          type: bool
        tables:
          description: PostgreSQL. Tables vacuumed (to be, in check mode; so far, in a failure).
          type: list
          elements: str
    analyze:
      description: SQLite C(ANALYZE), or PostgreSQL C(ANALYZE) of the tables that changed since their last one.
      returned: when V(analyze) ran
      type: dict
      contains:
        changed:
          description: Whether the statistics changed (would change).
          type: bool
        message:
          description: What was done.
          type: str
        failed:
          description: Present, V(true), when the task failed.
          type: bool
          returned: when the task failed
        ran:
          description: SQLite. Whether C(ANALYZE) ran (V(false) in check mode).
          type: bool
        tables:
          description: PostgreSQL. Tables analyzed (to be, in check mode; so far, in a failure).
          type: list
          elements: str
    optimize:
      description: SQLite C(PRAGMA optimize).
      returned: when V(optimize) ran
      type: dict
      contains:
        changed:
          description: Whether the statistics changed (would change).
          type: bool
        message:
          description: What was done.
          type: str
        failed:
          description: Present, V(true), when the task failed.
          type: bool
          returned: when the task failed
        ran:
          description: Whether C(PRAGMA optimize) ran (V(false) in check mode).
          type: bool
    reindex:
      description: SQLite C(REINDEX) of fragmented indexes, or PostgreSQL C(REINDEX TABLE) of the tables.
      returned: when V(reindex) ran
      type: dict
      contains:
        changed:
          description: Whether an index was (would be) rebuilt or dropped.
          type: bool
        message:
          description: What was done.
          type: str
        failed:
          description: Present, V(true), when the task failed.
          type: bool
          returned: when the task failed
        fragmentation:
          description: SQLite. Index name to the unused share of its pages (null without C(dbstat)).
          type: dict
        rebuilt:
          description: SQLite. Indexes rebuilt (to be, in check mode; so far, in a failure).
          type: list
          elements: str
        tables:
          description: PostgreSQL. Tables whose indexes were rebuilt (to be, in check mode; so far, in a failure).
          type: list
          elements: str
        concurrently:
          description: PostgreSQL. Whether C(CONCURRENTLY) was used.
          type: bool
        dropped_invalid:
          description: PostgreSQL. Invalid C(_ccnew)/C(_ccold) indexes dropped (to be, in check mode).
          type: list
          elements: str
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
          description: Present, V(true), when the task failed.
          type: bool
          returned: when the task failed
        files:
          description: SQLite. Bytes of the database (C(db)) and of its C(wal), C(shm) and C(journal) files when
            they exist.
          type: dict
        pages:
          description: SQLite. C(page_size), C(page_count), C(freelist_count), C(free_bytes), C(free_ratio).
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
          description: SQLite. The journal mode.
          type: str
        row_counts:
          description: SQLite. Rows of each table of O(count_tables) (null for a table that does not exist).
          type: dict
        tables:
          description:
            - SQLite. The largest tables and indexes from C(dbstat) (C(name), C(bytes), C(pages)), null without
              C(dbstat).
            - PostgreSQL. The largest tables (C(name), C(total_bytes), C(table_bytes), C(index_bytes), C(live_rows),
              C(dead_rows)).
          type: list
          elements: dict
        database_bytes:
          description: PostgreSQL. Size of the database.
          type: int
        indexes:
          description: PostgreSQL. The largest indexes (C(name), C(table), C(bytes), C(valid)).
          type: list
          elements: dict
    activity:
      description: PostgreSQL C(pg_stat_activity) summary.
      returned: when V(activity) ran
      type: dict
      contains:
        changed:
          description: Always V(false).
          type: bool
        message:
          description: A one-line summary.
          type: str
        failed:
          description: Present, V(true), when the task failed.
          type: bool
          returned: when the task failed
        total:
          description: Client connections to this database.
          type: int
        server_total:
          description: Client connections to the whole server.
          type: int
        max_connections:
          description: The server's C(max_connections).
          type: int
        usage_percent:
          description: RV(report.activity.server_total) as a percentage of RV(report.activity.max_connections).
          type: float
        by_state:
          description: Connections to this database by state.
          type: dict
        idle_in_transaction:
          description: Sessions idle in transaction.
          type: int
        longest_query:
          description: The longest running active query (C(pid), C(user), C(application), C(state), C(seconds),
            C(query)), null when none.
          type: dict
        longest_idle_in_transaction:
          description: The session longest idle in transaction (the same keys), null when none.
          type: dict
    bloat:
      description: PostgreSQL per-table bloat estimate.
      returned: when V(bloat) ran
      type: dict
      contains:
        changed:
          description: Always V(false).
          type: bool
        message:
          description: A one-line summary.
          type: str
        failed:
          description: Present, V(true), when the task failed.
          type: bool
          returned: when the task failed
        tables:
          description: The O(top) most bloated tables (C(name), C(bytes), C(bloat_bytes), C(bloat_percent),
            C(dead_tuples), C(live_tuples), C(status) V(ok), V(warning), V(critical) or V(unknown)).
          type: list
          elements: dict
        warning:
          description: Tables over O(bloat_warning_percent).
          type: list
          elements: str
        critical:
          description: Tables over O(bloat_critical_percent).
          type: list
          elements: str
engine:
  description: The engine maintained.
  returned: always
  type: str
  sample: sqlite
target:
  description: The SQLite path, or the PostgreSQL server as user@host:port/db (never the password).
  returned: always
  type: str
  sample: /opt/inventory-enterprise/data/enterprise_inventory.db
messages:
  description: One line per task run, C(<task>) then its message, in the order they ran (in a failure result, the
    failing task's line holds its error).
  returned: always
  type: list
  elements: str
  sample: ["vacuum: not needed: 2.1% free pages, threshold 10.0%", "analyze: ANALYZE: statistics unchanged"]
changed_tasks:
  description: The tasks that changed (or, in check mode, would change) the database; in a failure result, also the
    failing task when it had changed something before it failed.
  returned: always
  type: list
  elements: str
  sample: [vacuum]
failed_task:
  description: The task that failed; null when the failure came before any task (options, connection).
  returned: on failure
  type: str
  sample: vacuum
'''

import os
import shutil
import sqlite3

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _sqlite_maint
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres import (
    HAS_PSYCOPG2,
    PostgresConnection,
    PostgresError,
    describe,
    postgres_argument_spec,
    quote_ident,
)

SQLITE_ORDER = ['holders', 'integrity_check', 'quick_check', 'wal', 'vacuum', 'reindex', 'analyze', 'optimize',
                'stats']
POSTGRES_ORDER = ['activity', 'vacuum', 'analyze', 'reindex', 'stats', 'bloat']
ALL_TASKS = sorted(set(SQLITE_ORDER) | set(POSTGRES_ORDER))


def argument_spec():
    spec = postgres_argument_spec()
    spec.update(
        engine=dict(type='str', choices=['sqlite', 'postgresql'], default='sqlite'),
        tasks=dict(type='list', elements='str', choices=ALL_TASKS, default=['stats']),
        path=dict(type='path'),
        busy_timeout=dict(type='float', default=30.0),
        busy_retries=dict(type='int', default=2),
        vacuum_min_free_percent=dict(type='float', default=10.0),
        vacuum_force=dict(type='bool', default=False),
        indexes=dict(type='list', elements='str', default=list(_sqlite_maint.GUIDE_INDEXES)),
        reindex_min_unused_percent=dict(type='float', default=25.0),
        reindex_force=dict(type='bool', default=False),
        count_tables=dict(type='list', elements='str', default=list(_sqlite_maint.GUIDE_COUNT_TABLES)),
        top=dict(type='int', default=10),
        stop_holders=dict(type='bool', default=False),
        stop_timeout=dict(type='float', default=10.0),
        schema=dict(type='str', default='public'),
        tables=dict(type='list', elements='str', default=[]),
        reindex_concurrently=dict(type='bool', default=True),
        bloat_warning_percent=dict(type='float', default=20.0),
        bloat_critical_percent=dict(type='float', default=50.0),
        bloat_min_bytes=dict(type='int', default=10 * 1024 * 1024),
    )
    return spec


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                         required_if=[('engine', 'sqlite', ('path',))])


# --- SQLite ---------------------------------------------------------------------------------------------------

class SqliteMaintenance(object):
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.path = self.p['path']
        self.check = module.check_mode
        self.busy_ms = int(self.p['busy_timeout'] * 1000)
        self.diff = None
        self.results = {}
        self.failed_task = None
        self.partial = {}  # what the running task has done so far, for a failure result
        self.progress = None
        self.conn = _sqlite_maint.connect(self.path, self.busy_ms, readonly=self.check)

    def retry(self, action, fn):
        return _sqlite_maint.with_busy_retry(action, self.path, fn, retries=self.p['busy_retries'],
                                  busy_timeout_ms=self.busy_ms)

    def task_holders(self):
        holders, unreadable = _sqlite_maint.find_holders(self.path)
        stopped = []
        self.partial.update(processes=holders, stopped=stopped, unreadable=unreadable)
        if self.p['stop_holders'] and holders:
            for holder in holders:
                outcome = 'would stop' if self.check else _sqlite_maint.stop_process(holder['pid'], self.p['stop_timeout'])
                stopped.append(dict(pid=holder['pid'], outcome=outcome))
                if not self.check:
                    self.partial['changed'] = True
                    self.progress = 'stopped pid(s) %s' % ', '.join(str(s['pid']) for s in stopped)
        msg = '%d process(es) have %s open' % (len(holders), self.path)
        if holders:
            msg += ': ' + ', '.join('%d (%s)' % (h['pid'], ' '.join(h['cmdline'])[:80]) for h in holders)
        if stopped:
            msg += '; %s %s' % ('would stop' if self.check else 'stopped', ', '.join(
                str(s['pid']) if self.check else '%d (%s)' % (s['pid'], s['outcome']) for s in stopped))
        if unreadable:
            msg += '; %d process(es) could not be inspected (run as root to see them all)' % unreadable
        return dict(changed=bool(stopped), processes=holders, stopped=stopped, unreadable=unreadable, message=msg)

    def _check(self, quick):
        name = 'quick_check' if quick else 'integrity_check'
        result = self.retry(name, lambda: _sqlite_maint.integrity_check(self.conn, quick=quick))
        result['changed'] = False
        result['message'] = 'ok' if result['ok'] else '%d problem(s): %s' % (
            len(result['errors']), '; '.join(result['errors'][:5]))
        if not result['ok']:
            self.partial = dict(result)
            raise _sqlite_maint.SqliteMaintError(
                '%s of %s found %d problem(s): %s. Nothing was written after it. Restore the database from the last '
                'good backup (guide: Restore from Backup)' % (name, self.path, len(result['errors']),
                                                             '; '.join(result['errors'][:5])))
        return result

    def task_integrity_check(self):
        return self._check(False)

    def task_quick_check(self):
        return self._check(True)

    def task_wal(self):
        before = _sqlite_maint.journal_mode(self.conn)
        if before == 'wal':
            return dict(changed=False, before=before, after=before, message='journal mode is already WAL')
        diff = dict(before='journal_mode: %s\n' % before, after='journal_mode: wal\n')
        self.partial.update(before=before)
        if self.check:
            self.diff = diff
            return dict(changed=True, before=before, after='wal', message='would switch journal mode %s -> WAL'
                        % before)
        after = self.retry('switching to WAL', lambda: self.conn.execute('PRAGMA journal_mode=WAL').fetchone()[0])
        if after.lower() != 'wal':
            raise _sqlite_maint.SqliteMaintError('could not switch %s to WAL: SQLite kept journal mode %s (another connection '
                                      'holds the database open in exclusive mode?); stop the holders and retry'
                                      % (self.path, after))
        self.diff = diff
        return dict(changed=True, before=before, after='wal', message='journal mode %s -> WAL' % before)

    def task_vacuum(self):
        pages = _sqlite_maint.page_stats(self.conn)
        ratio = pages['free_ratio']
        threshold = self.p['vacuum_min_free_percent'] / 100.0
        result = dict(free_ratio_before=ratio, bytes_before=os.path.getsize(self.path), bytes_after=None,
                      bytes_reclaimed=0, checkpointed=None, ran=False)
        if not self.p['vacuum_force'] and ratio <= threshold:
            result.update(changed=False, bytes_after=result['bytes_before'],
                          message='not needed: %.1f%% free pages, threshold %.1f%%' % (ratio * 100, threshold * 100))
            return result
        if self.check:
            result.update(changed=True, bytes_reclaimed=pages['free_bytes'],
                          message='would vacuum: %.1f%% free pages, about %d bytes to reclaim'
                          % (ratio * 100, pages['free_bytes']))
            return result
        wal = _sqlite_maint.journal_mode(self.conn) == 'wal'
        if wal:
            _sqlite_maint.checkpoint(self.conn)
        before = os.path.getsize(self.path)
        free_disk = shutil.disk_usage(os.path.dirname(os.path.abspath(self.path))).free
        needed = before - pages['free_bytes']
        if free_disk < needed:
            raise _sqlite_maint.SqliteMaintError('not enough free disk space to vacuum %s: VACUUM needs about %d bytes, %d are '
                                      'free on its filesystem; free some space first' % (self.path, needed, free_disk))
        self.retry('VACUUM', lambda: self.conn.execute('VACUUM'))
        self.partial.update(result, ran=True, changed=True)
        self.progress = 'vacuumed'
        checkpointed = _sqlite_maint.checkpoint(self.conn) if wal else True
        after = os.path.getsize(self.path)
        result.update(changed=True, ran=True, bytes_before=before, bytes_after=after,
                      bytes_reclaimed=max(before - after, 0), checkpointed=checkpointed,
                      message='vacuumed: %.1f%% free pages, %d bytes reclaimed%s' % (
                          ratio * 100, max(before - after, 0),
                          '' if checkpointed else ' (readers held the WAL checkpoint back: the file shrinks at the '
                                                  'next checkpoint)'))
        return result

    def task_reindex(self):
        names = self.p['indexes'] or _sqlite_maint.index_names(self.conn)
        known = set(_sqlite_maint.index_names(self.conn))
        unknown = [n for n in names if n not in known]
        if unknown:
            raise _sqlite_maint.SqliteMaintError('index(es) %s do not exist in %s; existing indexes: %s' % (
                ', '.join(unknown), self.path, ', '.join(sorted(known))))
        frag = _sqlite_maint.index_fragmentation(self.conn, names)
        threshold = self.p['reindex_min_unused_percent'] / 100.0
        todo = [n for n in names if self.p['reindex_force'] or frag[n] is None or frag[n] > threshold]
        if todo and not self.check:
            rebuilt = []
            self.partial.update(fragmentation=frag, rebuilt=rebuilt)
            for name in todo:
                self.retry('REINDEX %s' % name, lambda name=name: self.conn.execute('REINDEX %s' % _sqlite_maint.qi(name)))
                rebuilt.append(name)
                self.partial['changed'] = True
                self.progress = 'rebuilt %s' % ', '.join(rebuilt)
        verb = 'would rebuild' if self.check else 'rebuilt'
        msg = ('%s %s' % (verb, ', '.join(todo))) if todo else \
            'not needed: no index above %.0f%% unused pages' % (threshold * 100)
        return dict(changed=bool(todo), fragmentation=frag, rebuilt=todo, message=msg)

    def _analyze(self, statement):
        needed = self.retry('reading sqlite_stat1', lambda: _sqlite_maint.analyze_needed(self.conn))
        if self.check:
            return dict(changed=needed, ran=False, message='statistics %s' % (
                'are out of date: would run %s' % statement if needed else 'are up to date'))
        before = _sqlite_maint.stat1(self.conn)
        self.retry(statement, lambda: self.conn.execute(statement).fetchall())
        # Whether the statistics changed is only known once they are read back.
        self.partial.update(ran=True, changed=True)
        self.progress = 'ran %s' % statement
        changed = _sqlite_maint.stat1(self.conn) != before
        return dict(changed=changed, ran=True, message='%s: statistics %s' % (
            statement, 'updated' if changed else 'unchanged'))

    def task_analyze(self):
        return self._analyze('ANALYZE')

    def task_optimize(self):
        return self._analyze('PRAGMA optimize')

    def task_stats(self):
        sizes = _sqlite_maint.file_sizes(self.path)
        tables = _sqlite_maint.table_sizes(self.conn, self.p['top'])
        result = dict(changed=False, files=sizes, pages=_sqlite_maint.page_stats(self.conn), tables=tables,
                      row_counts=_sqlite_maint.row_counts(self.conn, self.p['count_tables']),
                      journal_mode=_sqlite_maint.journal_mode(self.conn))
        result['message'] = '%d bytes (+%d in WAL), %.1f%% free pages%s' % (
            sizes['db'], sizes.get('wal', 0), result['pages']['free_ratio'] * 100,
            '' if tables is not None else '; dbstat is not compiled into this SQLite: no table sizes')
        return result

    def run(self, tasks):
        try:
            for name in SQLITE_ORDER:
                if name in tasks:
                    self.failed_task, self.partial, self.progress = name, {}, None
                    try:
                        self.results[name] = getattr(self, 'task_' + name)()
                    except (sqlite3.Error, OSError) as exc:
                        raise _sqlite_maint.SqliteMaintError(_sqlite_maint.error_message('the %s task' % name, self.path, exc))
            self.failed_task = None
        finally:
            self.conn.close()
        return self.results


# --- PostgreSQL -----------------------------------------------------------------------------------------------

ACTIVITY_SQL = """
SELECT pid, usename, application_name, state, query, backend_type,
       EXTRACT(EPOCH FROM (now() - query_start))::float AS query_seconds,
       EXTRACT(EPOCH FROM (now() - state_change))::float AS state_seconds
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""

# The well-known table bloat estimation (ioguix/pgsql-bloat-estimation, used by check_pgactivity).
BLOAT_SQL = """
SELECT schemaname, tblname, bs * tblpages AS real_size,
  CASE WHEN tblpages - est_tblpages_ff > 0 THEN (tblpages - est_tblpages_ff) * bs ELSE 0 END AS bloat_size,
  CASE WHEN tblpages > 0 AND tblpages - est_tblpages_ff > 0
       THEN 100 * (tblpages - est_tblpages_ff) / tblpages::float ELSE 0 END AS bloat_pct,
  is_na
FROM (
  SELECT ceil(reltuples / ((bs - page_hdr) * fillfactor / (tpl_size * 100))) + ceil(toasttuples / 4) AS est_tblpages_ff,
         tblpages, fillfactor, bs, schemaname, tblname, is_na
  FROM (
    SELECT (4 + tpl_hdr_size + tpl_data_size + (2 * ma)
            - CASE WHEN tpl_hdr_size %% ma = 0 THEN ma ELSE tpl_hdr_size %% ma END
            - CASE WHEN ceil(tpl_data_size)::int %% ma = 0 THEN ma ELSE ceil(tpl_data_size)::int %% ma END
           ) AS tpl_size,
           (heappages + toastpages) AS tblpages, reltuples, toasttuples, bs, page_hdr, schemaname, tblname,
           fillfactor, is_na
    FROM (
      SELECT ns.nspname AS schemaname, tbl.relname AS tblname, tbl.reltuples,
             tbl.relpages AS heappages, coalesce(toast.relpages, 0) AS toastpages,
             coalesce(toast.reltuples, 0) AS toasttuples,
             coalesce(substring(array_to_string(tbl.reloptions, ' ') FROM 'fillfactor=([0-9]+)')::smallint, 100)
               AS fillfactor,
             current_setting('block_size')::numeric AS bs,
             CASE WHEN version() ~ 'mingw32' OR version() ~ '64-bit|x86_64|ppc64|ia64|amd64' THEN 8 ELSE 4 END AS ma,
             24 AS page_hdr,
             23 + CASE WHEN max(coalesce(s.null_frac, 0)) > 0 THEN (7 + count(s.attname)) / 8 ELSE 0::int END
               AS tpl_hdr_size,
             sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0)) AS tpl_data_size,
             bool_or(att.atttypid = 'pg_catalog.name'::regtype)
               OR sum(CASE WHEN att.attnum > 0 THEN 1 ELSE 0 END) <> count(s.attname) AS is_na
      FROM pg_attribute AS att
        JOIN pg_class AS tbl ON att.attrelid = tbl.oid
        JOIN pg_namespace AS ns ON ns.oid = tbl.relnamespace
        LEFT JOIN pg_stats AS s ON s.schemaname = ns.nspname AND s.tablename = tbl.relname
             AND s.inherited = false AND s.attname = att.attname
        LEFT JOIN pg_class AS toast ON tbl.reltoastrelid = toast.oid
      WHERE NOT att.attisdropped AND att.attnum > 0 AND tbl.relkind IN ('r', 'm') AND ns.nspname = %s
      GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
    ) AS s
  ) AS s2
) AS s3
"""


class PostgresMaintenance(object):
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.check = module.check_mode
        self.schema = self.p['schema']
        self.diff = None
        self.results = {}
        self.failed_task = None
        self.partial = {}
        self.progress = None
        self.pg = PostgresConnection(self.p, autocommit=True).open()

    def tables(self):
        rows = self.pg.query("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                             "WHERE n.nspname = %s AND c.relkind IN ('r', 'm') ORDER BY c.relname", (self.schema,),
                             action='listing tables')
        existing = [r['relname'] for r in rows]
        wanted = self.p['tables'] or existing
        unknown = [t for t in wanted if t not in existing]
        if unknown:
            raise PostgresError('table(s) %s do not exist in schema %s on %s; existing tables: %s' % (
                ', '.join(unknown), self.schema, self.pg.where, ', '.join(existing) or 'none'))
        return wanted

    def qualified(self, table):
        return '%s.%s' % (quote_ident(self.schema), quote_ident(table))

    def task_activity(self):
        rows = self.pg.query(ACTIVITY_SQL, action='reading pg_stat_activity')
        max_conn = int(self.pg.query('SHOW max_connections')[0]['max_connections'])
        by_state = {}
        for row in rows:
            state = row['state'] or 'unknown'
            by_state[state] = by_state.get(state, 0) + 1

        def brief(row, seconds_key):
            if row is None:
                return None
            return dict(pid=row['pid'], user=row['usename'], application=row['application_name'],
                        state=row['state'], seconds=round(row[seconds_key] or 0, 3),
                        query=' '.join((row['query'] or '').split())[:200])
        active = [r for r in rows if r['state'] == 'active' and r['query_seconds'] is not None]
        idle_tx = [r for r in rows if (r['state'] or '').startswith('idle in transaction')]
        longest = max(active, key=lambda r: r['query_seconds']) if active else None
        longest_idle = max(idle_tx, key=lambda r: r['state_seconds'] or 0) if idle_tx else None
        # Server-wide connections count against max_connections, not only this database's.
        total_server = self.pg.query('SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = '
                                     "'client backend'")[0]['n']
        return dict(changed=False, total=len(rows), server_total=total_server, max_connections=max_conn,
                    usage_percent=round(100.0 * total_server / max_conn, 1), by_state=by_state,
                    idle_in_transaction=len(idle_tx), longest_query=brief(longest, 'query_seconds'),
                    longest_idle_in_transaction=brief(longest_idle, 'state_seconds'),
                    message='%d connection(s) to this database (%s); %d of %d server-wide; %d idle in transaction'
                    % (len(rows), ', '.join('%d %s' % (v, k) for k, v in sorted(by_state.items())) or 'none',
                       total_server, max_conn, len(idle_tx)))

    def _needs(self, tables, what):
        rows = self.pg.query('SELECT relname, n_dead_tup, n_mod_since_analyze, last_analyze, last_autoanalyze '
                             'FROM pg_stat_user_tables WHERE schemaname = %s', (self.schema,))
        stats = dict((r['relname'], r) for r in rows)
        todo = []
        for table in tables:
            s = stats.get(table)
            if self.p['vacuum_force'] or s is None:
                todo.append(table)
            elif what == 'vacuum' and (s['n_dead_tup'] or 0) > 0:
                todo.append(table)
            elif (s['n_mod_since_analyze'] or 0) > 0 or (s['last_analyze'] is None and s['last_autoanalyze'] is None):
                todo.append(table)
        return todo

    def _vacuum(self, statement, what):
        tables = self.tables()
        todo = self._needs(tables, what)
        if todo and not self.check:
            done = []
            self.partial['tables'] = done
            for table in todo:
                # autocommit: VACUUM cannot run inside a transaction block.
                self.pg.execute('%s %s' % (statement, self.qualified(table)), action='%s of %s' % (statement, table))
                done.append(table)
                self.partial['changed'] = True
                self.progress = 'ran %s on %s' % (statement, ', '.join(done))
        verb = 'would run' if self.check else 'ran'
        return dict(changed=bool(todo), tables=todo,
                    message=('%s %s on %s' % (verb, statement, ', '.join(todo))) if todo else
                    'not needed: no dead tuples or changes since the last analyze')

    def task_vacuum(self):
        return self._vacuum('VACUUM (ANALYZE)', 'vacuum')

    def task_analyze(self):
        return self._vacuum('ANALYZE', 'analyze')

    def task_reindex(self):
        tables = self.tables()
        concurrently = self.p['reindex_concurrently'] and self.pg.server_version >= 120000
        invalid = self.pg.query(
            "SELECT i.relname AS index, t.relname AS table FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = i.relnamespace "
            "WHERE n.nspname = %s AND NOT x.indisvalid AND i.relname ~ '_cc(new|old)[0-9]*$'", (self.schema,),
            action='looking for invalid indexes')
        dropped = [r['index'] for r in invalid]
        if not self.check:
            done_dropped, done_tables = [], []
            self.partial.update(concurrently=concurrently, dropped_invalid=done_dropped, tables=done_tables)
            for name in dropped:
                self.pg.execute('DROP INDEX %s%s' % ('CONCURRENTLY ' if concurrently else '', self.qualified(name)),
                                action='dropping invalid index %s' % name)
                done_dropped.append(name)
                self.partial['changed'] = True
                self.progress = 'dropped the invalid index(es) %s' % ', '.join(done_dropped)
            for table in tables:
                self.pg.execute('REINDEX TABLE %s%s' % ('CONCURRENTLY ' if concurrently else '', self.qualified(table)),
                                action='REINDEX of %s' % table)
                done_tables.append(table)
                self.partial['changed'] = True
                self.progress = 'rebuilt the indexes of %s%s' % (', '.join(done_tables), (
                    ' and dropped %s' % ', '.join(done_dropped)) if done_dropped else '')
        verb = 'would rebuild' if self.check else 'rebuilt'
        msg = '%s the indexes of %d table(s)%s' % (verb, len(tables), ' concurrently' if concurrently else '')
        if dropped:
            msg += '; %s invalid leftover index(es) %s' % ('would drop' if self.check else 'dropped', ', '.join(dropped))
        return dict(changed=bool(tables or dropped), tables=tables, concurrently=concurrently,
                    dropped_invalid=dropped, message=msg)

    def task_stats(self):
        top = self.p['top']
        db_bytes = self.pg.query('SELECT pg_database_size(current_database()) AS b')[0]['b']
        tables = self.pg.query(
            "SELECT c.relname AS name, pg_total_relation_size(c.oid) AS total_bytes, "
            "pg_relation_size(c.oid) AS table_bytes, pg_indexes_size(c.oid) AS index_bytes, "
            "coalesce(s.n_live_tup, 0) AS live_rows, coalesce(s.n_dead_tup, 0) AS dead_rows "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'm') ORDER BY total_bytes DESC, name LIMIT %s",
            (self.schema, top), action='reading table sizes')
        indexes = self.pg.query(
            "SELECT i.relname AS name, t.relname AS table, pg_relation_size(i.oid) AS bytes, x.indisvalid AS valid "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = i.relnamespace WHERE n.nspname = %s "
            "ORDER BY bytes DESC, name LIMIT %s", (self.schema, top), action='reading index sizes')
        return dict(changed=False, database_bytes=db_bytes, tables=tables, indexes=indexes,
                    message='database %d bytes; largest table %s' % (
                        db_bytes, ('%s (%d bytes)' % (tables[0]['name'], tables[0]['total_bytes'])) if tables else
                        'none'))

    def task_bloat(self):
        rows = self.pg.query(BLOAT_SQL, (self.schema,), action='estimating bloat')
        dead = dict((r['relname'], r) for r in self.pg.query(
            'SELECT relname, n_dead_tup, n_live_tup FROM pg_stat_user_tables WHERE schemaname = %s', (self.schema,)))
        tables = []
        for r in rows:
            bloat_bytes = int(r['bloat_size'] or 0)
            pct = round(float(r['bloat_pct'] or 0), 1)
            status = 'ok'
            if r['is_na']:
                status = 'unknown'
            elif bloat_bytes >= self.p['bloat_min_bytes']:
                if pct >= self.p['bloat_critical_percent']:
                    status = 'critical'
                elif pct >= self.p['bloat_warning_percent']:
                    status = 'warning'
            d = dead.get(r['tblname'], {})
            tables.append(dict(name=r['tblname'], bytes=int(r['real_size'] or 0), bloat_bytes=bloat_bytes,
                               bloat_percent=pct, dead_tuples=d.get('n_dead_tup'), live_tuples=d.get('n_live_tup'),
                               status=status))
        tables.sort(key=lambda t: (-t['bloat_bytes'], t['name']))
        warning = [t['name'] for t in tables if t['status'] == 'warning']
        critical = [t['name'] for t in tables if t['status'] == 'critical']
        return dict(changed=False, tables=tables[:self.p['top']], warning=warning, critical=critical,
                    message='%d table(s): %d critical, %d warning' % (len(tables), len(critical), len(warning)))

    def run(self, tasks):
        try:
            for name in POSTGRES_ORDER:
                if name in tasks:
                    self.failed_task, self.partial, self.progress = name, {}, None
                    self.results[name] = getattr(self, 'task_' + name)()
            self.failed_task = None
        finally:
            self.pg.close()
        return self.results


def invalid(params):
    """What is wrong with the options, or None."""
    engine = params['engine']
    allowed = SQLITE_ORDER if engine == 'sqlite' else POSTGRES_ORDER
    wrong = [t for t in params['tasks'] if t not in allowed]
    if wrong:
        return 'task(s) %s are not available with engine=%s; choose from %s' % (
            ', '.join(wrong), engine, ', '.join(allowed))
    for name in ('busy_timeout', 'stop_timeout'):
        if params[name] <= 0:
            return '%s must be greater than 0, got %s' % (name, params[name])
    for name in ('vacuum_min_free_percent', 'reindex_min_unused_percent', 'bloat_warning_percent',
                 'bloat_critical_percent'):
        if not 0 <= params[name] <= 100:
            return '%s must be a percentage between 0 and 100, got %s' % (name, params[name])
    if params['busy_retries'] < 0 or params['top'] < 1:
        return 'busy_retries must be at least 0 and top at least 1'
    if engine == 'postgresql' and not HAS_PSYCOPG2:
        return missing_required_lib('psycopg2', reason='for engine=postgresql')
    return None


def outcome(module, runner, results):
    """The result keys shared by success and failure."""
    params = module.params
    changed_tasks = [name for name, result in results.items() if result.get('changed')]
    result = dict(changed=bool(changed_tasks), report=results, engine=params['engine'],
                  target=params['path'] if params['engine'] == 'sqlite' else describe(params),
                  changed_tasks=changed_tasks,
                  messages=['%s: %s' % (name, result['message']) for name, result in results.items()])
    if runner is not None and runner.diff and module._diff:
        result['diff'] = runner.diff
    return result


def fail(module, runner, exc):
    """A failure result that still reports every task run before it, and what the failing task had done: a
    later task failing never hides that earlier ones changed the database."""
    results = dict(runner.results) if runner is not None else {}
    failed_task = runner.failed_task if runner is not None else None
    done = ['%s: %s' % (name, r['message']) for name, r in results.items() if r.get('changed')]
    if failed_task:
        entry = dict(runner.partial)
        entry.update(changed=bool(entry.get('changed')), failed=True, message=to_native(exc))
        results[failed_task] = entry
        if entry['changed']:
            done.append('%s: %s before it failed' % (failed_task, runner.progress))
    result = outcome(module, runner, results)
    result['failed_task'] = failed_task
    msg = to_native(exc)
    if done:
        msg += '. This run had already changed the database: %s' % '; '.join(done)
    module.fail_json(msg=msg, **result)


def run_module(module):
    runner = None
    problem = invalid(module.params)
    if problem:
        fail(module, runner, problem)
    try:
        if module.params['engine'] == 'sqlite':
            runner = SqliteMaintenance(module)
        else:
            runner = PostgresMaintenance(module)
        runner.run(module.params['tasks'])
    except (_sqlite_maint.SqliteMaintError, PostgresError) as exc:
        fail(module, runner, exc)
    module.exit_json(**outcome(module, runner, runner.results))


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
