# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""SQLite maintenance of a live database: checks, VACUUM, ANALYZE, REINDEX, WAL, statistics, lock holders.

Every write is one SQLite statement, which SQLite makes atomic: when another connection holds the lock
longer than the busy timeout, the statement fails with SQLITE_BUSY and leaves the database as it was.
`with_busy_retry` retries such a statement a few times, then raises SqliteBusyError with a clear message.
Read-only work (checks, statistics, predictions for check mode) opens the file read-only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sqlite3
import time
from urllib.parse import quote

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._process import holders_of
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._sqlite import SIDECARS, count_rows, sidecar_paths

GUIDE_INDEXES = ['idx_item_master_code', 'idx_inventory_counts_date', 'idx_ai_forecasts_entity']
GUIDE_COUNT_TABLES = ['inventory_count_items', 'processed_invoices', 'ai_forecasts']


class SqliteMaintError(Exception):
    """The database could not be opened or a statement failed; the message says where and why."""


class SqliteBusyError(SqliteMaintError):
    """Another connection held the database lock for longer than the busy timeout (and the retries)."""


def connect(path, busy_timeout_ms=30000, readonly=False):
    if not os.path.isfile(path):
        raise SqliteMaintError('SQLite database %s does not exist; check the path (the service creates it '
                               'under <service home>/data on first start)' % path)
    mode = 'ro' if readonly else 'rw'
    try:
        conn = sqlite3.connect('file:%s?mode=%s' % (quote(os.path.abspath(path)), mode), uri=True,
                               timeout=busy_timeout_ms / 1000.0, isolation_level=None, check_same_thread=False)
        conn.execute('PRAGMA busy_timeout = %d' % int(busy_timeout_ms))
        conn.execute('SELECT count(*) FROM sqlite_master').fetchone()
    except sqlite3.DatabaseError as exc:
        if is_busy(exc):
            raise SqliteBusyError(busy_message('opening', path, busy_timeout_ms, 1, exc))
        raise SqliteMaintError(error_message('opening the SQLite database', path, exc))
    return conn


def is_busy(exc):
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ('locked' in text or 'busy' in text)


def busy_message(action, path, busy_timeout_ms, attempts, exc):
    return ('%s of %s failed: the database stayed locked by another connection (busy timeout %g s, %d attempt(s)): '
            '%s; nothing was changed by this statement. Retry in a quieter window, raise busy_timeout, or find the '
            'lock holders (runbook playbooks/runbooks/database_locked.yml)'
            % (action, path, busy_timeout_ms / 1000.0, attempts, exc))


# What to do about an error, by SQLite's primary result code (sqlite3.Error.sqlite_errorcode & 0xff).
CORRUPT_HINT = ('the file is damaged: confirm with sqlite_info gather=[integrity_check], then restore the last good '
                'backup (guide: Restore from Backup)')
ACCESS_HINT = ('this user cannot write the file or its directory (SQLite creates -journal, -wal and -shm files next '
               'to it): check owner and mode of both, an immutable attribute (lsattr) or a read-only mount, and run '
               'as the service user (become)')
HINTS = {
    3: ACCESS_HINT,  # SQLITE_PERM
    8: ACCESS_HINT,  # SQLITE_READONLY
    10: 'the disk returned an I/O error: check the kernel log (dmesg) and the filesystem, then run integrity_check',
    11: CORRUPT_HINT,  # SQLITE_CORRUPT
    13: 'the filesystem is full: free space on it and run again',  # SQLITE_FULL
    14: ACCESS_HINT,  # SQLITE_CANTOPEN
    23: ACCESS_HINT,  # SQLITE_AUTH
    26: 'the file is not a SQLite database (or is encrypted or damaged): check the path, and restore the last '
        'good backup if it is the service\'s database',  # SQLITE_NOTADB
}


def error_message(action, path, exc):
    """'<action> of <path> failed: <error> (<SQLITE_CODE>); <what to do>' for any sqlite3.Error or OSError."""
    if isinstance(exc, OSError):
        hint = ACCESS_HINT if isinstance(exc, PermissionError) else \
            'check that the file system holding it is mounted, readable and not full'
        return '%s of %s failed: %s; %s' % (action, path, exc, hint)
    code = getattr(exc, 'sqlite_errorcode', None)
    name = getattr(exc, 'sqlite_errorname', None)
    text = str(exc)
    hint = HINTS.get(code & 0xff) if code is not None else None
    if hint is None:
        lowered = text.lower()
        if 'malformed' in lowered or 'not a database' in lowered:
            hint = CORRUPT_HINT
        elif 'readonly' in lowered or 'unable to open' in lowered:
            hint = ACCESS_HINT
        else:
            hint = 'check the database with sqlite_info gather=[integrity_check] and the SQLite error above'
    return '%s of %s failed: %s%s; %s' % (action, path, text, ' (%s)' % name if name else '', hint)


def with_busy_retry(action, path, fn, retries=2, delay=1.0, busy_timeout_ms=30000):
    """Run fn(); on SQLITE_BUSY retry `retries` times, then raise SqliteBusyError. Other errors raise
    SqliteMaintError. SQLite statements are atomic, so a failed attempt changed nothing."""
    attempt = 0
    while True:
        try:
            return fn()
        except sqlite3.Error as exc:
            if is_busy(exc) and attempt < retries:
                attempt += 1
                time.sleep(delay * attempt)
                continue
            if is_busy(exc):
                raise SqliteBusyError(busy_message(action, path, busy_timeout_ms, attempt + 1, exc))
            raise SqliteMaintError(error_message(action, path, exc))


def file_sizes(path):
    sizes = {'db': os.path.getsize(path)}
    for suffix in SIDECARS:
        try:
            sizes[suffix.lstrip('-')] = os.path.getsize(path + suffix)
        except OSError:
            pass
    return sizes


def page_stats(conn):
    page_size = conn.execute('PRAGMA page_size').fetchone()[0]
    page_count = conn.execute('PRAGMA page_count').fetchone()[0]
    freelist = conn.execute('PRAGMA freelist_count').fetchone()[0]
    ratio = float(freelist) / page_count if page_count else 0.0
    return dict(page_size=page_size, page_count=page_count, freelist_count=freelist,
                free_bytes=freelist * page_size, free_ratio=round(ratio, 4))


def journal_mode(conn):
    return conn.execute('PRAGMA journal_mode').fetchone()[0].lower()


def has_dbstat(conn):
    try:
        conn.execute('SELECT 1 FROM dbstat LIMIT 1').fetchall()
        return True
    except sqlite3.Error:
        return False


def index_names(conn):
    return [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")]


def index_fragmentation(conn, names):
    """{index: unused fraction of its pages} from dbstat (None without dbstat)."""
    if not has_dbstat(conn):
        return dict((name, None) for name in names)
    result = {}
    for name in names:
        row = conn.execute('SELECT sum(pgsize), sum(unused), count(*) FROM dbstat WHERE name = ?',
                           (name,)).fetchone()
        size, unused, pages = row
        # A rebuilt index still leaves its last page part empty: unused space under one page's worth is as
        # compact as it gets, not fragmentation (else a small index is rebuilt on every run).
        waste = max(0.0, float(unused or 0) - float(size) / pages) if size and pages else 0.0
        result[name] = round(waste / size, 4) if size and pages > 1 else 0.0
    return result


def stat1(conn):
    try:
        return sorted(tuple(row) for row in conn.execute('SELECT tbl, idx, stat FROM sqlite_stat1'))
    except sqlite3.Error:
        return None


def analyze_needed(conn):
    """Read-only prediction of whether ANALYZE would change sqlite_stat1: stats missing, or a table's
    row count differs from the one recorded."""
    stats = stat1(conn)
    if stats is None:
        return True
    recorded = {}
    for tbl, _idx, stat in stats:
        recorded.setdefault(tbl, int((stat or '0').split()[0]))
    for name, count in count_rows(conn).items():
        if count and recorded.get(name) != count:
            return True
    return False


def checkpoint(conn, retries=5, delay=0.2):
    """PRAGMA wal_checkpoint(TRUNCATE) until it completes (readers may hold it back); True when done."""
    for attempt in range(retries + 1):
        busy, _log, _done = conn.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchone()
        if not busy:
            return True
        time.sleep(delay * (attempt + 1))
    return False


def table_sizes(conn, top=10):
    """[{name, bytes, pages}] of the largest tables and indexes from dbstat, or None without dbstat."""
    if not has_dbstat(conn):
        return None
    rows = conn.execute('SELECT name, sum(pgsize) AS size, count(*) AS pages FROM dbstat GROUP BY name '
                        'ORDER BY size DESC, name LIMIT ?', (int(top),)).fetchall()
    return [dict(name=r[0], bytes=r[1], pages=r[2]) for r in rows]


# --- processes holding the database file (the guide's `fuser` / `lsof`) --------------------------------------

def find_holders(path):
    """Processes with the database or its -wal/-shm/-journal open (_process.holders_of)."""
    return holders_of([path] + sidecar_paths(path))
