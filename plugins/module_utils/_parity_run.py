# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""One run of dual_write_parity: resolve the tables, set up change tracking, compare both databases in one
snapshot per side, sync, then store the checkpoint. The comparison itself is _parity's, the triggers and
bookkeeping tables _parity_tracking's; this is the order they run in and the result they add up to."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import sqlite3
import time

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _parity
from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _parity_tracking
from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _sqlite_maint
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import ApiClient, ApiError
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres import (
    HAS_PSYCOPG2,
    PostgresConnection,
    PostgresError,
    fail_if_missing_psycopg2,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._prometheus import (
    Metrics,
    MetricsParseError,
    fail_if_missing_prometheus_client,
)

if HAS_PSYCOPG2:
    import psycopg2
    DRIVER_ERRORS = (psycopg2.Error,)
else:  # fail_if_missing_psycopg2 stops the run first
    DRIVER_ERRORS = ()

DUAL_WRITE_COUNTER = 'db_dual_write_errors_total'
# Reading a marked row costs about as much as summarising 5 rows (bench/parity.py, docs/benchmarks.md).
FULL_CHECK_FRACTION = 0.2
FULL_CHECK_MIN_KEYS = 1000


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


def remaining_differences(reports, check_mode):
    remaining = 0
    for report in reports:
        if report['error']:
            continue
        left = report['missing']['count'] + report['changed']['count'] + report['extra']['count']
        if not check_mode:  # check mode wrote nothing: every difference found remains
            left -= report['synced']['upserted'] + report['synced']['deleted']
        remaining += left
    return remaining


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


class ParityRunFailed(Exception):
    """The run cannot go on; the message says what failed, where and what to do."""


class ParityRun(object):
    """One parity run. `executed` lists every write as it is committed, so a failure result says what this run
    already changed."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.started = time.monotonic()
        self.sqlite_snapshot = self.sqlite_write_conn = self.pg = None
        self.counter = None
        self.reports = []
        self.pairs = []  # (index in reports, ours, theirs) of the tables that resolved
        self.diffs = {}  # index in reports -> TableDiff
        self.errors = False
        self.executed = []
        self.step = 'starting'
        self.tracking = dict(state=self.params['change_tracking'], actions=[], method='full', reason=None)
        self.tracking_present = self.tracking['state'] == 'present'
        self.may_write = module.check_mode is False
        self.busy_ms = int(self.params['busy_timeout'] * 1000)
        self.sqlite_tracker = self.postgres_tracker = None
        self.fingerprint = None
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

    def check_options(self):
        params = self.params
        for name in ('chunk_size', 'max_ids', 'batch_size'):
            if params[name] < 1:
                self.fail_json('%s must be at least 1, got %s' % (name, params[name]))
        if params['busy_timeout'] <= 0 or params['busy_retries'] < 0:
            self.fail_json('busy_timeout must be greater than 0 and busy_retries at least 0, got %s and %s'
                           % (params['busy_timeout'], params['busy_retries']))
        if params['delete_extra'] and not params['sync']:
            self.fail_json('delete_extra needs sync=true')
        if params['full_check'] and params['change_tracking'] != 'present':
            self.fail_json('full_check needs change_tracking=present (without tracking every run is full)')
        # A run fails like a module, with its result keys.
        fail_if_missing_psycopg2(self, reason='to compare with PostgreSQL')
        if params['check_metrics']:
            fail_if_missing_prometheus_client(self, reason='to read %s (or set check_metrics=false)'
                                              % DUAL_WRITE_COUNTER)

    def read_counter(self):
        client = ApiClient.from_module(self.module)
        try:
            metrics = Metrics.parse(client.get('/metrics').text)
        except (ApiError, MetricsParseError) as exc:
            raise ParityRunFailed('reading %s from %s failed: %s' % (DUAL_WRITE_COUNTER, client.url('/metrics'),
                                                                     to_native(exc)))
        self.counter = metrics.value(DUAL_WRITE_COUNTER)

    def open(self):
        path = self.params['sqlite_path']
        self.step = 'opening'
        self.sqlite_snapshot = _sqlite_maint.connect(path, self.busy_ms, readonly=True)
        if self.params['change_tracking'] != 'ignore' and self.may_write:
            self.sqlite_write_conn = _sqlite_maint.connect(path, self.busy_ms)
        writer = None
        if self.sqlite_write_conn:
            writer = sqlite_writer(self.sqlite_write_conn, path, self.params['busy_retries'], self.busy_ms)
        self.sqlite_tracker = _parity_tracking.SqliteTracker(self.sqlite_snapshot, writer)
        self.pg = PostgresConnection(self.params)
        self.pg.open()
        self.postgres_tracker = _parity_tracking.PostgresTracker(self.pg, self.params['schema'])
        self.pg.execute('SET extra_float_digits = 3')  # floats read back exactly for the row comparison
        if self.pg.server_version >= 110000:
            self.pg.execute('SET jit = off')  # compiling the checksum expressions costs more than it saves

    def close(self):
        if self.pg is not None:
            self.pg.close()
        for conn in (self.sqlite_snapshot, self.sqlite_write_conn):
            if conn is not None:
                conn.close()

    def resolve(self):
        self.step = 'listing the tables'
        names = self.params['tables'] or _parity.sqlite_tables(self.sqlite_snapshot)
        for name in names:
            self.step = 'reading the columns of %s' % name
            try:
                spec = _parity.TableSpec.from_sqlite(self.sqlite_snapshot, name)
                theirs = _parity.PostgresSide(self.pg, spec, self.params['schema'])
                ours = _parity.SqliteSide(self.sqlite_snapshot, spec, theirs.kinds)
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
            plans = [self.sqlite_tracker.removal(), self.postgres_tracker.removal()]
        else:
            specs = [ours.spec for _i, ours, _t in self.pairs]
            plans = [self.sqlite_tracker.plan(specs), self.postgres_tracker.plan(specs)]
        for _statements, actions in plans:
            self.tracking['actions'] += actions
        if self.may_write:
            self.step = 'changing the change tracking'
            self.postgres_tracker.run('changing change tracking', plans[1][0])
            self.executed += plans[1][1]
            self.sqlite_tracker.run('changing change tracking', plans[0][0])
            self.executed += plans[0][1]
        self.pg.conn.commit()
        if state == 'absent':
            return False
        self.fingerprint = _parity_tracking.fingerprint([(ours.spec, theirs.types) for _i, ours, theirs in self.pairs])
        self.tracking['reason'] = self.full_check_reason()
        return self.tracking['reason'] is None

    def full_check_reason(self):
        """Why this run cannot compare only the marked keys, or None when it can."""
        if self.errors:
            return 'a table could not be compared'
        if self.tracking['actions']:
            return ('change tracking would be installed by this run (check mode)'
                    if self.module.check_mode else 'change tracking was installed this run')
        if self.params['full_check']:
            return 'full_check=true'
        self.step = 'reading the parity checkpoints'
        mine, theirs = self.sqlite_tracker.state(), self.postgres_tracker.state()
        self.pg.conn.commit()
        if mine is None or theirs is None:
            return 'no checkpoint in %s (first run, or a TRUNCATE in PostgreSQL)' % (
                'both databases' if mine is None and theirs is None else 'SQLite' if mine is None else 'PostgreSQL')
        if mine[0] != theirs[0]:
            return 'the two databases hold different checkpoints (one was restored?)'
        if mine[1] != self.fingerprint:
            return 'the compared tables or their columns changed'
        return None

    def compare_marked(self, ours, theirs):
        """TableDiff of the keys marked on either side, or None when the whole table must be compared."""
        name = ours.spec.name
        keys = set(self.marks[name][0]) | set(self.marks[name][1])
        if len(keys) > FULL_CHECK_MIN_KEYS and len(keys) > FULL_CHECK_FRACTION * ours.count():
            self.tracking['reason'] = ('%d keys of %s were written since the last run, over a fifth of its '
                                       'rows: a full check is cheaper' % (len(keys), name))
            return None
        diff = _parity.compare_keys(ours, theirs, keys)
        if diff is None:
            self.tracking['reason'] = 'row counts of %s differ by more than its marked rows explain' % name
        return diff

    def compare(self, incremental):
        read_marks = self.tracking_present and (incremental or self.may_write)
        for index, ours, theirs in self.pairs:
            name = ours.spec.name
            self.step = 'comparing table %s' % name
            if read_marks:
                self.marks[name] = (self.sqlite_tracker.marks(name), self.postgres_tracker.marks(name))
            diff = self.compare_marked(ours, theirs) if incremental else None
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

    def store_checkpoint(self):
        """New checkpoint in both databases first (a backup taken before it no longer matches), then unmark
        the keys found equal; keys found different stay (or become) marked."""
        if not (self.tracking_present and self.may_write) or self.errors:
            return
        self.step = 'storing the parity checkpoint'
        token = _parity_tracking.new_token()
        self.postgres_tracker.set_state(token, self.fingerprint)
        self.sqlite_tracker.set_state(token, self.fingerprint)
        for index, ours, _theirs in self.pairs:
            name, diff = ours.spec.name, self.diffs[index]
            self.step = 'clearing the change marks of %s' % name
            different = set(diff.missing) | set(diff.extra) | set(diff.changed)
            mine, theirs = self.marks.get(name, ({}, {}))
            self.sqlite_tracker.clear(name, dict(i for i in mine.items() if i[0] not in different))
            self.postgres_tracker.clear(name, dict(i for i in theirs.items() if i[0] not in different))
            unmarked = different - set(mine) - set(theirs)
            if unmarked:
                self.postgres_tracker.mark(name, unmarked)

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
        self.sqlite_snapshot.execute('BEGIN')
        self.compare(incremental)
        self.pg.conn.commit()
        # A rollback-journal database would keep writers out while this read lasts.
        self.sqlite_snapshot.execute('COMMIT')
        self.pg.conn.set_session(isolation_level='READ COMMITTED', readonly=False)
        synced_rows = self.sync() if self.params['sync'] else 0
        self.store_checkpoint()
        return synced_rows

    def execute_or_fail(self):
        """execute(), turning every expected error into a failure result that names the step."""
        try:
            return self.execute()
        except (ParityRunFailed, PostgresError, _sqlite_maint.SqliteMaintError) as exc:
            self.fail_json(to_native(exc))
        except (sqlite3.Error, OSError) as exc:
            self.fail_json(_sqlite_maint.error_message(self.step, self.params['sqlite_path'], exc))
        except DRIVER_ERRORS as exc:
            self.fail_json(to_native(self.pg.error(self.step, exc)))
        finally:
            self.close()

    def run(self):
        """The whole run: exits the module with the result, or fails it with the same keys."""
        self.check_options()
        synced_rows = self.execute_or_fail()
        check_mode = self.module.check_mode
        reports = self.reports
        errors = [r['name'] for r in reports if r['error']]
        result = self.result()
        result.update(changed=synced_rows > 0 or bool(self.tracking['actions']),
                      in_sync=all(r['in_sync'] for r in reports),
                      remaining_differences=remaining_differences(reports, check_mode),
                      would_repair=synced_rows if check_mode else 0,
                      summary=summarize(reports, synced_rows, check_mode))
        if self.params['fail_on_difference'] and (result['remaining_differences'] or errors):
            self.module.fail_json(msg='SQLite and PostgreSQL differ: %s; run with sync=true to copy SQLite to '
                                      'PostgreSQL (and delete_extra=true for rows only PostgreSQL has)'
                                      % result['summary'], **result)
        self.module.exit_json(**result)
