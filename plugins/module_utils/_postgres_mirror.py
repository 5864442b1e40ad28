# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The PostgreSQL mirror of a dual-writing service, read only: is it reachable, which server, are the service's
tables there, and how do their row counts compare with SQLite's. Plus what dual_write_parity leaves in the SQLite
database: the time of its last checkpoint and the keys still marked (_parity_tracking).

Row counts of both sides are read a moment apart while the service writes, so a few rows of difference on a busy
service are writes in flight; a difference that stays across reviews is real (dual_write_parity finds which rows).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import sqlite3

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _parity, _parity_tracking, _sqlite
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres import (
    PostgresConnection,
    PostgresError,
    describe,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._sql import quote_identifier


def parity_checkpoint(conn):
    """dict(checked_at, marked_keys) from the change tracking dual_write_parity keeps in SQLite, or None when it
    was never installed there."""
    names = set(row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)",
        (_parity_tracking.STATE, _parity_tracking.CHANGES)))
    if names != set([_parity_tracking.STATE, _parity_tracking.CHANGES]):
        return None
    row = conn.execute('SELECT checked_at FROM %s WHERE id = 1' % _parity_tracking.STATE).fetchone()
    marked = conn.execute('SELECT count(*) FROM %s' % _parity_tracking.CHANGES).fetchone()[0]
    return dict(checked_at=row[0] if row else None, marked_keys=marked)


def _postgres_counts(pg, schema, tables):
    found = set(row[0] for row in pg.query_rows(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p')", (schema,), action='listing the mirror tables'))
    counts = {}
    for name in tables:
        if name in found:
            counts[name] = pg.query_rows('SELECT count(*) FROM %s.%s' % (quote_identifier(schema), quote_identifier(name)),
                                         action='counting the rows of %s' % name)[0][0]
    return counts


class MirrorReport(object):
    """What was learnt of the mirror: `state` (reachable, unreachable), the server version, per-table row counts
    {table: (sqlite rows, postgres rows or None when the table is missing)}, and why anything is missing."""

    def __init__(self, where):
        self.where = where
        self.state = None
        self.server_version = None
        self.tables = {}
        self.error = None
        self.sqlite_error = None

    def missing_tables(self):
        return sorted(name for name, (_ours, theirs) in self.tables.items() if theirs is None)

    def differing_tables(self):
        """{table: sqlite rows - postgres rows} of the tables present on both sides whose counts differ."""
        return dict((name, ours - theirs) for name, (ours, theirs) in sorted(self.tables.items())
                    if theirs is not None and ours != theirs)


def read_mirror(pg_params, sqlite_conn, schema='public'):
    """MirrorReport of the mirror that pg_params (module params of the postgres doc fragment, with the DSN) name.

    Nothing is written: the session is read-only. `sqlite_conn` may be None (the database could not be opened):
    the server is still probed."""
    report = MirrorReport(describe(pg_params))
    pg = PostgresConnection(pg_params)
    try:
        pg.open()
    except PostgresError as exc:
        report.state, report.error = 'unreachable', str(exc)
        return report
    try:
        pg.conn.set_session(readonly=True)
        report.state = 'reachable'
        report.server_version = str(pg.query_rows('SHOW server_version', action='reading the server version')[0][0])
        if sqlite_conn is not None:
            try:
                tables = _parity.sqlite_tables(sqlite_conn)
                ours = _sqlite.count_rows(sqlite_conn, tables)
            except sqlite3.Error as exc:
                report.sqlite_error = 'counting the rows of the SQLite database failed: %s' % exc
                return report
            theirs = _postgres_counts(pg, schema, tables)
            report.tables = dict((name, (ours[name], theirs.get(name))) for name in tables)
    except PostgresError as exc:
        report.error = str(exc)
    finally:
        pg.close()
    return report
