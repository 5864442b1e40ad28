# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""SQLite helpers shared by backup, restore, maintenance and parity: online snapshot, integrity check, row
counts, the names of a database's side files.

The snapshot uses SQLite's online backup API (sqlite3.Connection.backup) in one step: in WAL mode
(the service's journal mode) the copy reads one consistent snapshot while the service keeps
committing; in rollback-journal mode it holds a shared lock for the duration of the copy, which
writers wait for (their busy timeout). Never a plain file copy, which can tear a live database.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sqlite3

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _files
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._sql import quote_identifier

SIDECARS = ('-wal', '-shm', '-journal')


class SqliteError(Exception):
    """A database could not be read, copied or checked; the message says which file and why."""

    def __init__(self, message, disk_full=False):
        super(SqliteError, self).__init__(message)
        self.disk_full = disk_full


def snapshot(source, dest, busy_timeout=30.0, fsync=False):
    """Consistent copy of the live database `source` into the new file `dest` (fsynced only when asked: the
    backup streams it into an archive that is fsynced itself, so forcing the scratch copy to disk is wasted I/O).

    Returns dict(page_size, page_count, bytes). Raises SqliteError.
    """
    if not os.path.isfile(source):
        raise SqliteError('database %s does not exist: check database_path (or DATABASE_PATH in .env)' % source)
    if os.path.exists(dest):
        raise SqliteError('snapshot target %s already exists' % dest)
    src = dst = None
    try:
        # Not mode=ro: a read-only connection cannot create the -shm a WAL reader needs if it is missing.
        src = sqlite3.connect(source, timeout=busy_timeout, isolation_level=None)
        src.execute('PRAGMA busy_timeout=%d' % int(busy_timeout * 1000))
        dst = sqlite3.connect(dest, isolation_level=None)
        # The target is a scratch file: no journal, no per-page syncs.
        dst.execute('PRAGMA journal_mode=OFF')
        dst.execute('PRAGMA synchronous=OFF')
        # pages=-1: one step, so the copy is one read transaction (one snapshot) and never restarts
        # because the service wrote in between, however busy it is.
        src.backup(dst, pages=-1)
        page_size = dst.execute('PRAGMA page_size').fetchone()[0]
        page_count = dst.execute('PRAGMA page_count').fetchone()[0]
    except sqlite3.Error as exc:
        full = getattr(exc, 'sqlite_errorcode', None) == 13 or 'full' in str(exc)
        raise SqliteError('online backup of %s into %s failed: %s' % (source, dest, exc), disk_full=full)
    finally:
        for conn in (dst, src):
            if conn is not None:
                conn.close()
    if fsync:
        _files.fsync_path(dest)
    return dict(page_size=page_size, page_count=page_count, bytes=os.path.getsize(dest))


# Checks of a large file are dominated by page reads: a big page cache and memory-mapped I/O make
# integrity_check of a 1 GiB database about a third faster. The cache is only allocated as it fills.
CHECK_PRAGMAS = ('PRAGMA cache_size=-262144', 'PRAGMA mmap_size=4294967296')


def _tune(conn):
    for pragma in CHECK_PRAGMAS:
        conn.execute(pragma)
    return conn


def _open_ro(path):
    if not os.path.isfile(path):
        raise SqliteError('database %s does not exist' % path)
    try:
        # immutable=1: a scratch or restored copy is not shared; no -wal/-shm files get created next to it.
        return _tune(sqlite3.connect('file:%s?mode=ro&immutable=1' % _uri_path(path), uri=True))
    except sqlite3.Error as exc:
        raise SqliteError('cannot open database %s: %s' % (path, exc))


def _uri_path(path):
    from urllib.parse import quote
    return quote(os.path.abspath(path))


def check_messages(conn, quick=False, max_errors=None):
    """PRAGMA integrity_check (or quick_check, at most `max_errors` messages) on an open connection: its
    messages, ['ok'] for a sound database. Raises sqlite3.DatabaseError when the check cannot run."""
    pragma = 'quick_check' if quick else 'integrity_check'
    if max_errors is not None:
        pragma += '(%d)' % int(max_errors)
    return [row[0] for row in conn.execute('PRAGMA %s' % pragma)]


def user_tables(conn):
    return [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]


def count_rows(conn, tables=None):
    """{table: row count} of every user table, or of `tables` (None for a name the database does not have)."""
    if tables is None:
        tables = present = user_tables(conn)
    else:
        present = set(row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"))
    return dict((name, conn.execute('SELECT count(*) FROM %s' % quote_identifier(name)).fetchone()[0]
                 if name in present else None) for name in tables)


def _open(path, immutable):
    return _open_ro(path) if immutable else _tune(sqlite3.connect(path, isolation_level=None))


def integrity_check(path, immutable=True, quick=False):
    """check_messages of the database file `path` (['ok'] for a sound database, the reason when it cannot be
    checked)."""
    try:
        conn = _open(path, immutable)
        try:
            return check_messages(conn, quick=quick)
        finally:
            conn.close()
    except (sqlite3.DatabaseError, SqliteError) as exc:
        # "file is not a database", "database disk image is malformed"...
        return ['cannot check %s: %s' % (path, exc)]


def row_counts(path, immutable=True):
    """count_rows of every user table of the database file `path`."""
    try:
        conn = _open(path, immutable)
        try:
            return count_rows(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise SqliteError('cannot count rows in %s: %s' % (path, exc))


def database_stats(path, busy_timeout=5.0):
    """Size and row counts of a live database: dict(page_size, page_count, freelist_count, bytes, tables).

    Read-only (mode=ro, never immutable: the service's last commits may still be in the WAL) and in one read
    transaction, so the size and every count describe the same moment while the service keeps writing.
    Raises SqliteError."""
    if not os.path.isfile(path):
        raise SqliteError('database %s does not exist: check database_path (or DATABASE_PATH in .env)' % path)
    try:
        conn = sqlite3.connect('file:%s?mode=ro' % _uri_path(path), uri=True, timeout=busy_timeout,
                               isolation_level=None)
        try:
            conn.execute('BEGIN')
            stats = dict((name, conn.execute('PRAGMA %s' % name).fetchone()[0])
                         for name in ('page_size', 'page_count', 'freelist_count'))
            stats['tables'] = count_rows(conn)
            conn.execute('COMMIT')
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise SqliteError('cannot read the statistics of %s: %s' % (path, exc))
    stats['bytes'] = stats['page_size'] * stats['page_count']
    return stats


def sidecar_paths(path):
    return [path + suffix for suffix in SIDECARS]


# The tables and indexes every Inventory Enterprise database has (the service creates them on first start:
# reference/inventory_service/db.py SCHEMA). A database without them is not this service's database, however
# consistent the archive around it is. {index: table it must be on}.
SERVICE_TABLES = ('item_master', 'inventory_counts', 'inventory_count_items', 'processed_invoices',
                  'ai_forecasts', 'ai_models')
SERVICE_INDEXES = {
    'idx_item_master_code': 'item_master',
    'idx_inventory_counts_date': 'inventory_counts',
    'idx_inventory_count_items_item': 'inventory_count_items',
    'idx_inventory_count_items_count': 'inventory_count_items',
    'idx_processed_invoices_item_date': 'processed_invoices',
    'idx_ai_forecasts_entity': 'ai_forecasts',
}


def missing_schema(path):
    """Names of the service's tables and indexes that `path` lacks ([] for a service database)."""
    try:
        conn = _open_ro(path)
        try:
            found = dict(((row[0], row[1]), row[2]) for row in conn.execute(
                "SELECT type, name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise SqliteError('cannot read the schema of %s: %s' % (path, exc))
    missing = ['table %s' % name for name in SERVICE_TABLES if ('table', name) not in found]
    missing.extend('index %s on %s' % (name, table) for name, table in sorted(SERVICE_INDEXES.items())
                   if found.get(('index', name)) != table)
    return missing
