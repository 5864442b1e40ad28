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

import sqlite3
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _parity
from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _parity_tracking
from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _sqlite_maint
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import (
    ApiClient,
    ApiError,
    api_argument_spec,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres import (
    PostgresConnection,
    PostgresError,
    fail_if_missing_psycopg2,
    postgres_argument_spec,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._prometheus import (
    Metrics,
    MetricsParseError,
    fail_if_missing_prometheus_client,
)

try:
    from psycopg2 import Error as Psycopg2Error
except ImportError:  # fail_if_missing_psycopg2 stops the module first
    Psycopg2Error = PostgresError

DUAL_WRITE_COUNTER = 'db_dual_write_errors_total'
# Reading a marked row costs about as much as summarising 5 rows (bench/parity.py, docs/benchmarks.md).
FULL_CHECK_FRACTION = 0.2
FULL_CHECK_MIN_KEYS = 1000


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


def bounded(ids, limit):
    return dict(count=len(ids), ids=ids[:limit])


def table_report(name, diff=None, error=None, limit=100):
    diff = diff or _parity.TableDiff(name)
    return dict(name=name, sqlite_rows=diff.sqlite_rows, postgres_rows=diff.postgres_rows, chunks=diff.chunks,
                method=diff.method, keys_checked=diff.keys_checked,
                chunks_differing=diff.chunks_differing, missing=bounded(diff.missing, limit),
                extra=bounded(diff.extra, limit), changed=bounded(diff.changed, limit),
                in_sync=error is None and diff.in_sync, synced=dict(upserted=0, deleted=0),
                skipped=bounded([], limit), error=error)


def summarize(reports, synced_rows, check_mode):
    differing = [r for r in reports if not r['in_sync']]
    parts = []
    for r in differing:
        if r['error']:
            parts.append('%s: %s' % (r['name'], r['error']))
            continue
        kinds = ['%d %s' % (r[k]['count'], k) for k in ('missing', 'extra', 'changed') if r[k]['count']]
        parts.append('%s %s' % (r['name'], ' '.join(kinds)))
    line = '%d tables, %d differ' % (len(reports), len(differing))
    if parts:
        line += ': ' + '; '.join(parts)
    if synced_rows:
        line += '; %s %d rows' % ('would sync' if check_mode else 'synced', synced_rows)
    skipped = sum(r['skipped']['count'] for r in reports)
    if skipped:
        line += '; %d rows left for the next run (SQLite changed them during this one)' % skipped
    return line


def sqlite_writer(conn, path, retries=2, busy_timeout_ms=30000):
    """write(action, statements): one IMMEDIATE transaction, retried while the service holds the lock."""
    def write(action, statements):
        def attempt():
            conn.execute('BEGIN IMMEDIATE')
            try:
                for statement in statements:
                    if isinstance(statement, tuple):
                        sql, args = statement
                        (conn.executemany if isinstance(args, list) else conn.execute)(sql, args)
                    else:
                        conn.execute(statement)
                conn.execute('COMMIT')
            except Exception:
                conn.execute('ROLLBACK')
                raise
        _sqlite_maint.with_busy_retry(action, path, attempt, retries=retries, busy_timeout_ms=busy_timeout_ms)
    return write


class RunFailed(Exception):
    """The run cannot go on; the message says what failed, where and what to do."""


class Run(object):
    """One parity run: resolve tables, set up tracking, compare in one snapshot per side, sync, bookkeeping.

    `executed` lists every write as it is committed, so a failure result says what this run already changed."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.started = time.monotonic()
        self.lite = self.rw = self.pg = None
        self.counter = None
        self.reports = []
        self.pairs = []  # (index in reports, ours, theirs) of the tables that resolved
        self.diffs = {}  # index in reports -> TableDiff
        self.errors = False
        self.executed = []
        self.step = 'starting'
        self.tracking = dict(state=self.params['change_tracking'], actions=[], method='full', reason=None)
        self.track = self.tracking['state'] == 'present'
        self.write = module.check_mode is False
        self.busy_ms = int(self.params['busy_timeout'] * 1000)
        self.lite_tracker = self.pg_tracker = None
        self.marks = {}  # table -> (sqlite marks, postgres marks) read in the snapshot

    def result(self):
        """The keys every result has, a failure's included: what was found so far and what was written."""
        return dict(changed=bool(self.executed), executed=self.executed, tables=[r for r in self.reports if r],
                    tracking=self.tracking, dual_write_errors=self.counter,
                    elapsed_seconds=round(time.monotonic() - self.started, 3))

    def fail_json(self, msg, **extra):
        """module.fail_json with every result key, what this run already wrote first among them."""
        if self.executed:
            msg += '. This run had already written: %s' % '; '.join(self.executed)
        result = self.result()
        result.update(extra)
        self.module.fail_json(msg=msg, **result)

    def read_counter(self):
        client = ApiClient.from_module(self.module)
        try:
            metrics = Metrics.parse(client.get('/metrics').text)
        except (ApiError, MetricsParseError) as exc:
            raise RunFailed('reading %s from %s failed: %s' % (DUAL_WRITE_COUNTER, client.url('/metrics'),
                                                               to_native(exc)))
        self.counter = metrics.value(DUAL_WRITE_COUNTER)

    def open(self):
        path = self.params['sqlite_path']
        self.step = 'opening'
        self.lite = _sqlite_maint.connect(path, self.busy_ms, readonly=True)
        if self.params['change_tracking'] != 'ignore' and self.write:
            self.rw = _sqlite_maint.connect(path, self.busy_ms)
        writer = sqlite_writer(self.rw, path, self.params['busy_retries'], self.busy_ms) if self.rw else None
        self.lite_tracker = _parity_tracking.SqliteTracker(self.lite, writer)
        self.pg = PostgresConnection(self.params)
        self.pg.open()
        self.pg_tracker = _parity_tracking.PostgresTracker(self.pg, self.params['schema'])
        self.pg.execute('SET extra_float_digits = 3')  # floats read back exactly for the row comparison
        if self.pg.server_version >= 110000:
            self.pg.execute('SET jit = off')  # compiling the checksum expressions costs more than it saves

    def close(self):
        if self.pg is not None:
            self.pg.close()
        for conn in (self.lite, self.rw):
            if conn is not None:
                conn.close()

    def resolve(self):
        self.step = 'listing the tables'
        names = self.params['tables'] or _parity.sqlite_tables(self.lite)
        for name in names:
            self.step = 'reading the columns of %s' % name
            try:
                spec = _parity.TableSpec.from_sqlite(self.lite, name)
                theirs = _parity.PostgresSide(self.pg, spec, self.params['schema'])
                ours = _parity.SqliteSide(self.lite, spec, theirs.kinds)
            except _parity.ParityError as exc:
                self.reports.append(table_report(name, error=to_native(exc)))
                self.errors = True
                continue
            self.reports.append(None)  # filled in by compare()
            self.pairs.append((len(self.reports) - 1, ours, theirs))

    def set_up_tracking(self):
        """Install or remove tracking; True when the checkpoint allows an incremental comparison."""
        state = self.tracking['state']
        if state == 'ignore':
            return False
        self.step = 'reading the change tracking'
        if state == 'absent':
            plans = [self.lite_tracker.removal(), self.pg_tracker.removal()]
        else:
            specs = [ours.spec for _i, ours, _t in self.pairs]
            plans = [self.lite_tracker.plan(specs), self.pg_tracker.plan(specs)]
        for _statements, actions in plans:
            self.tracking['actions'] += actions
        if self.write:
            self.step = 'changing the change tracking'
            self.pg_tracker.run('changing change tracking', plans[1][0])
            self.executed += plans[1][1]
            self.lite_tracker.run('changing change tracking', plans[0][0])
            self.executed += plans[0][1]
        self.pg.conn.commit()
        if state == 'absent':
            return False
        self.fingerprint = _parity_tracking.fingerprint([(ours.spec, theirs.types) for _i, ours, theirs in self.pairs])
        if self.errors:
            self.tracking['reason'] = 'a table could not be compared'
        elif self.tracking['actions']:
            self.tracking['reason'] = ('change tracking would be installed by this run (check mode)'
                                       if self.module.check_mode else 'change tracking was installed this run')
        elif self.params['full_check']:
            self.tracking['reason'] = 'full_check=true'
        else:
            self.step = 'reading the parity checkpoints'
            mine, theirs = self.lite_tracker.state(), self.pg_tracker.state()
            self.pg.conn.commit()
            if mine is None or theirs is None:
                self.tracking['reason'] = 'no checkpoint in %s (first run, or a TRUNCATE in PostgreSQL)' % (
                    'both databases' if mine is None and theirs is None else 'SQLite' if mine is None else 'PostgreSQL')
            elif mine[0] != theirs[0]:
                self.tracking['reason'] = 'the two databases hold different checkpoints (one was restored?)'
            elif mine[1] != self.fingerprint:
                self.tracking['reason'] = 'the compared tables or their columns changed'
        return self.tracking['reason'] is None

    def compare(self, incremental):
        read_marks = self.track and (incremental or self.write)
        for index, ours, theirs in self.pairs:
            name = ours.spec.name
            self.step = 'comparing table %s' % name
            diff = None
            if read_marks:
                self.marks[name] = (self.lite_tracker.marks(name), self.pg_tracker.marks(name))
            if incremental:
                keys = set(self.marks[name][0]) | set(self.marks[name][1])
                if len(keys) > FULL_CHECK_MIN_KEYS and len(keys) > FULL_CHECK_FRACTION * ours.count():
                    self.tracking['reason'] = ('%d keys of %s were written since the last run, over a fifth of its '
                                               'rows: a full check is cheaper' % (len(keys), name))
                else:
                    diff = _parity.compare_keys(ours, theirs, keys)
                    if diff is None:
                        self.tracking['reason'] = ('row counts of %s differ by more than its marked rows explain'
                                                   % name)
            if diff is None:
                diff = _parity.compare_table(ours, theirs, chunk_size=self.params['chunk_size'])
            self.reports[index] = table_report(name, diff, limit=self.params['max_ids'])
            self.diffs[index] = diff
        methods = set(diff.method for diff in self.diffs.values())
        self.tracking['method'] = 'incremental' if methods == set(['incremental']) else 'full'

    def sync(self):
        """Rows synced (predicted in check mode)."""
        synced_rows = 0
        for index, ours, theirs in self.pairs:
            diff = self.diffs[index]
            if diff.in_sync:
                continue
            name = ours.spec.name
            self.step = 'syncing table %s' % name
            if self.module.check_mode:
                upserted = len(diff.missing) + len(diff.changed)
                deleted = len(diff.extra) if self.params['delete_extra'] else 0
            else:
                upserted, deleted, skipped = _parity.sync_table(ours, theirs, diff, self.params['delete_extra'],
                                                                self.params['batch_size'])
                self.reports[index]['skipped'] = bounded(skipped, self.params['max_ids'])
                if upserted or deleted:
                    self.executed.append('%s: %d row(s) upserted and %d deleted in PostgreSQL'
                                         % (name, upserted, deleted))
            self.reports[index]['synced'] = dict(upserted=upserted, deleted=deleted)
            synced_rows += upserted + deleted
        return synced_rows

    def keep_books(self):
        """New checkpoint in both databases first (a backup taken before it no longer matches), then unmark
        the keys found equal; keys found different stay (or become) marked."""
        if not (self.track and self.write) or self.errors:
            return
        self.step = 'storing the parity checkpoint'
        token = _parity_tracking.new_token()
        self.pg_tracker.set_state(token, self.fingerprint)
        self.lite_tracker.set_state(token, self.fingerprint)
        for index, ours, _theirs in self.pairs:
            name, diff = ours.spec.name, self.diffs[index]
            self.step = 'clearing the change marks of %s' % name
            different = set(diff.missing) | set(diff.extra) | set(diff.changed)
            mine, theirs = self.marks.get(name, ({}, {}))
            self.lite_tracker.clear(name, dict(i for i in mine.items() if i[0] not in different))
            self.pg_tracker.clear(name, dict(i for i in theirs.items() if i[0] not in different))
            unmarked = different - set(mine) - set(theirs)
            if unmarked:
                self.pg_tracker.mark(name, unmarked)

    def execute(self):
        """Everything after the option checks. Returns the rows synced (predicted in check mode)."""
        if self.params['check_metrics']:
            self.read_counter()
        self.open()
        self.resolve()
        incremental = self.set_up_tracking()
        self.pg.conn.commit()
        # One read transaction per side: every table is compared against the same snapshots.
        self.pg.conn.set_session(isolation_level='REPEATABLE READ', readonly=True)
        self.lite.execute('BEGIN')
        self.compare(incremental)
        self.pg.conn.commit()
        self.lite.execute('COMMIT')  # a rollback-journal database would keep writers out while this read lasts
        self.pg.conn.set_session(isolation_level='READ COMMITTED', readonly=False)
        synced_rows = self.sync() if self.params['sync'] else 0
        self.keep_books()
        return synced_rows


def check_options(run):
    params = run.params
    for name in ('chunk_size', 'max_ids', 'batch_size'):
        if params[name] < 1:
            run.fail_json('%s must be at least 1, got %s' % (name, params[name]))
    if params['busy_timeout'] <= 0 or params['busy_retries'] < 0:
        run.fail_json('busy_timeout must be greater than 0 and busy_retries at least 0, got %s and %s'
                 % (params['busy_timeout'], params['busy_retries']))
    if params['delete_extra'] and not params['sync']:
        run.fail_json('delete_extra needs sync=true')
    if params['full_check'] and params['change_tracking'] != 'present':
        run.fail_json('full_check needs change_tracking=present (without tracking every run is full)')


def run_module(module):
    params = module.params
    run = Run(module)
    check_options(run)
    # A Run fails like a module, with its result keys.
    fail_if_missing_psycopg2(run, reason='to compare with PostgreSQL')
    if params['check_metrics']:
        fail_if_missing_prometheus_client(run, reason='to read %s (or set check_metrics=false)' % DUAL_WRITE_COUNTER)
    try:
        synced_rows = run.execute()
    except (RunFailed, PostgresError, _sqlite_maint.SqliteMaintError) as exc:
        run.fail_json(to_native(exc))
    except (sqlite3.Error, OSError) as exc:
        run.fail_json(_sqlite_maint.error_message(run.step, params['sqlite_path'], exc))
    except Psycopg2Error as exc:
        run.fail_json(to_native(run.pg.error(run.step, exc)))
    finally:
        run.close()

    reports = run.reports
    remaining = 0
    for report in reports:
        if report['error']:
            continue
        left = report['missing']['count'] + report['changed']['count'] + report['extra']['count']
        if not module.check_mode:  # check mode wrote nothing: every difference found remains
            left -= report['synced']['upserted'] + report['synced']['deleted']
        remaining += left
    errors = [r['name'] for r in reports if r['error']]
    result = run.result()
    result.update(changed=synced_rows > 0 or bool(run.tracking['actions']), in_sync=all(r['in_sync'] for r in reports),
                  remaining_differences=remaining, would_repair=synced_rows if module.check_mode else 0,
                  summary=summarize(reports, synced_rows, module.check_mode))
    if params['fail_on_difference'] and (remaining or errors):
        module.fail_json(msg='SQLite and PostgreSQL differ: %s; run with sync=true to copy SQLite to PostgreSQL '
                             '(and delete_extra=true for rows only PostgreSQL has)' % result['summary'], **result)
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
