# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The operations of sqlite_maintenance and sqlite_info (and the deprecated db_maintenance) on a live SQLite file:
lock holders, integrity and quick check, WAL switch, VACUUM, REINDEX, ANALYZE, PRAGMA optimize, statistics."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import sqlite3

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _process, _sqlite, _sqlite_maint
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._maintenance_run import (
    MaintenanceRun,
    run_maintenance,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._sql import quote_identifier

# Checks first, writes after, statistics last: a failed check stops the run before anything is written.
SQLITE_ORDER = ['holders', 'integrity_check', 'quick_check', 'wal', 'vacuum', 'reindex', 'analyze', 'optimize',
                'stats']
SQLITE_WRITES = ['holders', 'integrity_check', 'quick_check', 'wal', 'vacuum', 'reindex', 'analyze', 'optimize']
SQLITE_INFO = ['holders', 'integrity_check', 'quick_check', 'stats']


class SqliteMaintenance(MaintenanceRun):
    ORDER = SQLITE_ORDER
    ERRORS = (sqlite3.Error, OSError)

    def __init__(self, module, readonly=False):
        super(SqliteMaintenance, self).__init__(module)
        self.path = self.p['path']
        self.busy_ms = int(self.p['busy_timeout'] * 1000)
        self.conn = _sqlite_maint.connect(self.path, self.busy_ms, readonly=readonly or self.check)

    def wrap_error(self, name, exc):
        return _sqlite_maint.SqliteMaintError(_sqlite_maint.error_message('the %s task' % name, self.path, exc))

    def close(self):
        self.conn.close()

    def retry(self, action, fn):
        return _sqlite_maint.with_busy_retry(action, self.path, fn, retries=self.p['busy_retries'],
                                             busy_timeout_ms=self.busy_ms)

    def stop_holder(self, pid):
        """Stop one lock holder: just the pid, not its process group (it may be an operator's shell job)."""
        try:
            return _process.stop(pid, self.p['stop_timeout'], group=False, kill_wait=5)
        except _process.ProcessError as exc:
            raise _sqlite_maint.SqliteMaintError('stopping the lock holders of %s failed: %s; stop it by hand or '
                                                 'reboot the host' % (self.path, exc))

    def task_holders(self):
        holders, unreadable = _sqlite_maint.find_holders(self.path)
        stopped = []
        self.partial.update(processes=holders, stopped=stopped, unreadable=unreadable)
        if self.p.get('stop_holders') and holders:
            for holder in holders:
                outcome = 'would stop' if self.check else self.stop_holder(holder['pid'])
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

    def run_check(self, quick):
        try:
            return _sqlite.check_messages(self.conn, quick=quick, max_errors=100)
        except sqlite3.DatabaseError as exc:
            if _sqlite_maint.is_busy(exc):
                raise  # retried
            # "database disk image is malformed" before the check could even list problems.
            return [str(exc)]

    def _check(self, quick):
        name = 'quick_check' if quick else 'integrity_check'
        messages = self.retry(name, lambda: self.run_check(quick))
        result = dict(ok=messages == ['ok'], errors=[] if messages == ['ok'] else messages, changed=False)
        result['message'] = 'ok' if result['ok'] else '%d problem(s): %s' % (
            len(result['errors']), '; '.join(result['errors'][:5]))
        if not result['ok']:
            self.partial = dict(result)
            raise _sqlite_maint.SqliteMaintError(
                '%s of %s found %d problem(s): %s. Nothing was written after it. Restore the database from the last '
                'good backup (guide: Restore from Backup)'
                % (name, self.path, len(result['errors']), '; '.join(result['errors'][:5])))
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
            self.record('PRAGMA journal_mode=WAL')
            self.diff = diff
            return dict(changed=True, before=before, after='wal', message='would switch journal mode %s -> WAL'
                        % before)
        after = self.retry('switching to WAL', lambda: self.conn.execute('PRAGMA journal_mode=WAL').fetchone()[0])
        self.record('PRAGMA journal_mode=WAL')
        if after.lower() != 'wal':
            raise _sqlite_maint.SqliteMaintError(
                'could not switch %s to WAL: SQLite kept journal mode %s (another connection holds the database open '
                'in exclusive mode?); stop the holders and retry' % (self.path, after))
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
            self.record('VACUUM')
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
            raise _sqlite_maint.SqliteMaintError(
                'not enough free disk space to vacuum %s: VACUUM needs about %d bytes, %d are free on its filesystem; '
                'free some space first' % (self.path, needed, free_disk))
        self.retry('VACUUM', lambda: self.conn.execute('VACUUM'))
        self.record('VACUUM')
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
        if todo and self.check:
            for name in todo:
                self.record('REINDEX %s' % quote_identifier(name))
        elif todo:
            rebuilt = []
            self.partial.update(fragmentation=frag, rebuilt=rebuilt)
            for name in todo:
                statement = 'REINDEX %s' % quote_identifier(name)
                self.retry('REINDEX %s' % name, lambda statement=statement: self.conn.execute(statement))
                self.record(statement)
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
            if needed:
                self.record(statement)
            return dict(changed=needed, ran=False, message='statistics %s' % (
                'are out of date: would run %s' % statement if needed else 'are up to date'))
        before = _sqlite_maint.stat1(self.conn)
        self.retry(statement, lambda: self.conn.execute(statement).fetchall())
        self.record(statement)
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
                      row_counts=_sqlite.count_rows(self.conn, self.p['count_tables']),
                      journal_mode=_sqlite_maint.journal_mode(self.conn))
        result['message'] = '%d bytes (+%d in WAL), %.1f%% free pages%s' % (
            sizes['db'], sizes.get('wal', 0), result['pages']['free_ratio'] * 100,
            '' if tables is not None else '; dbstat is not compiled into this SQLite: no table sizes')
        return result


def run_sqlite_module(module, names, keys, readonly=False, extra=None, problem=None):
    """Run the SQLite operations `names` and exit with the result (or fail with it)."""
    run_maintenance(module, lambda m: SqliteMaintenance(m, readonly=readonly), names, module.params['path'], keys,
                    (_sqlite_maint.SqliteMaintError,), extra, problem)
