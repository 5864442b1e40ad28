# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Data parity between the service's SQLite database and its PostgreSQL mirror (dual-write).

How a table is compared without pulling it into memory:

1. Both sides cut the table into buckets of primary-key values ([b*size, (b+1)*size)) and compute, in SQL,
   the row count and an MD5 of the bucket's rows rendered as canonical text, ordered by key. PostgreSQL does
   it in one GROUP BY query (md5(string_agg(...))); SQLite renders the same text with group_concat per
   bucket and Python hashes it. The two sides run concurrently (PostgreSQL in a thread).
2. Only buckets whose count or digest differ are split into buckets `fanout` times smaller, and so on.
3. Buckets of at most `leaf_size` keys are compared row by row with the real values (so a formatting
   difference can never be reported as a changed row): missing (in SQLite only), extra (in PostgreSQL only)
   and changed rows.

Canonical text of a value, identical on both sides: NULL is chr(30); REAL/double precision is rendered with
15 significant digits (`%.15g`, C DBL_DIG, PostgreSQL with extra_float_digits=0); integers and text as
themselves; BLOB/bytea as lowercase hex. Columns are joined with chr(31), rows with a newline.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import threading

try:
    from psycopg2.extras import execute_values
except ImportError:  # guarded by _postgres.HAS_PSYCOPG2 in the module
    execute_values = None

NULL_MARK = '\x1e'
COL_SEP = '\x1f'
DEFAULT_CHUNK_SIZE = 10000
DEFAULT_FANOUT = 100
DEFAULT_LEAF_SIZE = 100


class ParityError(Exception):
    """A table cannot be compared (no integer primary key, missing in PostgreSQL...)."""


def qi(name):
    return '"%s"' % name.replace('"', '""')


class TableSpec(object):
    """A SQLite table: its integer primary key and its columns (pk first)."""

    def __init__(self, name, pk, columns):
        self.name = name
        self.pk = pk
        self.columns = columns  # the primary key first

    @classmethod
    def from_sqlite(cls, conn, name):
        info = conn.execute('PRAGMA table_info(%s)' % qi(name)).fetchall()
        if not info:
            raise ParityError('table %s does not exist in the SQLite database' % name)
        pks = [row for row in info if row[5]]
        if len(pks) != 1 or 'INT' not in (pks[0][2] or '').upper():
            raise ParityError('table %s has no single INTEGER PRIMARY KEY, which parity needs to cut it into '
                              'key ranges; leave it out of tables' % name)
        pk = pks[0][1]
        columns = [pk] + [row[1] for row in info if row[1] != pk]
        return cls(name, pk, columns)


def sqlite_tables(conn):
    """User tables of the SQLite database, in creation order."""
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                        "ORDER BY rowid").fetchall()
    return [row[0] for row in rows]


def _sqlite_canon(spec):
    parts = []
    for col in spec.columns:
        c = qi(col)
        parts.append("CASE typeof(%s) WHEN 'null' THEN char(30) WHEN 'real' THEN printf('%%.15g', %s) "
                     "WHEN 'blob' THEN lower(hex(%s)) ELSE CAST(%s AS TEXT) END" % (c, c, c, c))
    return " || char(31) || ".join(parts)


def _pg_canon(spec, types):
    parts = []
    for col in spec.columns:
        c = qi(col)
        kind = types[col]
        if kind in ('double precision', 'real', 'numeric'):
            expr = '%s::float8::text' % c
        elif kind == 'bytea':
            expr = "encode(%s, 'hex')" % c
        elif kind == 'boolean':
            expr = '%s::int::text' % c
        else:
            expr = '%s::text' % c
        parts.append('coalesce(%s, chr(30))' % expr)
    return ' || chr(31) || '.join(parts)


def _digest(text):
    return hashlib.md5((text or '').encode('utf-8', 'surrogateescape')).hexdigest()


class SqliteSide(object):
    def __init__(self, conn, spec):
        self.conn = conn
        self.spec = spec
        canon = _sqlite_canon(spec)
        pk = qi(spec.pk)
        table = qi(spec.name)
        self._bucket_sql = ('SELECT count(*), group_concat(r, char(10)) FROM (SELECT %s AS r FROM %s '
                            'WHERE %s >= ? AND %s < ? ORDER BY %s)' % (canon, table, pk, pk, pk))
        self._next_sql = 'SELECT min(%s) FROM %s WHERE %s >= ? AND %s < ?' % (pk, table, pk, pk)
        self._rows_sql = 'SELECT %s FROM %s WHERE %s >= ? AND %s < ? ORDER BY %s' % (
            ', '.join(qi(c) for c in spec.columns), table, pk, pk, pk)
        self._by_ids_sql = 'SELECT %s FROM %s WHERE %s IN (%%s) ORDER BY %s' % (
            ', '.join(qi(c) for c in spec.columns), table, pk, pk)

    def buckets(self, lo, hi, size):
        """{bucket: (count, md5)} of the keys in [lo, hi), buckets of `size` keys."""
        result = {}
        lo_bound = lo if lo is not None else -(1 << 63)
        hi_bound = hi if hi is not None else (1 << 63) - 1
        nxt = self.conn.execute(self._next_sql, (lo_bound, hi_bound)).fetchone()[0]
        while nxt is not None:
            bucket = nxt // size
            start = max(bucket * size, lo_bound)
            end = min((bucket + 1) * size, hi_bound)
            count, text = self.conn.execute(self._bucket_sql, (start, end)).fetchone()
            result[bucket] = (count, _digest(text))
            if end >= hi_bound:
                break
            nxt = self.conn.execute(self._next_sql, (end, hi_bound)).fetchone()[0]
        return result

    def rows(self, lo, hi):
        return dict((row[0], tuple(row)) for row in self.conn.execute(self._rows_sql, (lo, hi)))

    def rows_by_ids(self, ids, batch=500):
        ids = list(ids)
        for start in range(0, len(ids), batch):
            part = ids[start:start + batch]
            sql = self._by_ids_sql % ', '.join('?' * len(part))
            for row in self.conn.execute(sql, part):
                yield tuple(row)


class PostgresSide(object):
    def __init__(self, pg, spec, schema='public'):
        self.pg = pg
        self.spec = spec
        self.schema = schema
        rows = pg.query('SELECT column_name, data_type FROM information_schema.columns '
                        'WHERE table_schema = %s AND table_name = %s', (schema, spec.name),
                        action='reading the columns of %s.%s' % (schema, spec.name))
        if not rows:
            raise ParityError('table %s.%s does not exist in PostgreSQL; create it (the service creates its '
                              'mirror schema on start when DUAL_WRITE_ENABLED is true)' % (schema, spec.name))
        self.types = dict((row['column_name'], row['data_type']) for row in rows)
        missing = [c for c in spec.columns if c not in self.types]
        if missing:
            raise ParityError('table %s.%s in PostgreSQL lacks the column(s) %s that SQLite has'
                              % (schema, spec.name, ', '.join(missing)))
        self.table = '%s.%s' % (qi(schema), qi(spec.name))
        self.canon = _pg_canon(spec, self.types)
        self.pk = qi(spec.pk)
        self.column_list = ', '.join(qi(c) for c in spec.columns)

    def buckets(self, lo, hi, size):
        pk = self.pk
        # floor division that matches Python's // for negative keys too.
        bucket = '((%s - mod(mod(%s, %d) + %d, %d)) / %d)' % (pk, pk, size, size, size, size)
        where, args = [], []
        if lo is not None:
            where.append('%s >= %%s' % pk)
            args.append(lo)
        if hi is not None:
            where.append('%s < %%s' % pk)
            args.append(hi)
        sql = ("SELECT b, count(*) AS n, md5(string_agg(r, E'\\n' ORDER BY k)) AS d FROM "
               "(SELECT %s AS b, %s AS k, %s AS r FROM %s%s) s GROUP BY b"
               % (bucket, pk, self.canon, self.table, (' WHERE ' + ' AND '.join(where)) if where else ''))
        rows = self.pg.query(sql, args or None, action='checksumming %s' % self.table)
        return dict((row['b'], (row['n'], row['d'])) for row in rows)

    def rows(self, lo, hi):
        # Exact values: floats rendered with all their digits for this read, 15 digits again for checksums.
        self.pg.execute('SET extra_float_digits = 3')
        rows = self.pg.query('SELECT %s FROM %s WHERE %s >= %%s AND %s < %%s' % (
            self.column_list, self.table, self.pk, self.pk), (lo, hi), action='reading %s' % self.table)
        self.pg.execute('SET extra_float_digits = 0')
        return dict((row[self.spec.pk], tuple(row[c] for c in self.spec.columns)) for row in rows)


def _same(a, b):
    """Real values compared: floats exactly, everything else by equality (memoryview/bytes alike)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, memoryview):
            x = x.tobytes()
        if isinstance(y, memoryview):
            y = y.tobytes()
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
            if float(x) != float(y):
                return False
        elif x != y:
            return False
    return True


class TableDiff(object):
    def __init__(self, name):
        self.name = name
        self.sqlite_rows = 0
        self.postgres_rows = 0
        self.chunks = 0
        self.chunks_differing = 0
        self.missing = []
        self.extra = []
        self.changed = []
        self.queries = 0

    @property
    def in_sync(self):
        return not (self.missing or self.extra or self.changed)


def _parallel(fn_a, fn_b):
    """Run fn_b in a thread while fn_a runs here; return both results, re-raising either's error."""
    box = {}

    def target():
        try:
            box['b'] = fn_b()
        except BaseException as exc:  # pylint: disable=broad-except
            box['err'] = exc

    thread = threading.Thread(target=target)
    thread.start()
    try:
        a = fn_a()
    finally:
        thread.join()
    if 'err' in box:
        raise box['err']
    return a, box['b']


def compare_table(sqlite_side, pg_side, chunk_size=DEFAULT_CHUNK_SIZE, fanout=DEFAULT_FANOUT,
                  leaf_size=DEFAULT_LEAF_SIZE):
    diff = TableDiff(sqlite_side.spec.name)
    chunk_size = max(int(chunk_size), 1)

    def descend(lo, hi, size, top):
        ours, theirs = _parallel(lambda: sqlite_side.buckets(lo, hi, size), lambda: pg_side.buckets(lo, hi, size))
        diff.queries += 1
        if top:
            diff.chunks = len(set(ours) | set(theirs))
            diff.sqlite_rows = sum(v[0] for v in ours.values())
            diff.postgres_rows = sum(v[0] for v in theirs.values())
        for bucket in sorted(set(ours) | set(theirs)):
            if ours.get(bucket) == theirs.get(bucket):
                continue
            if top:
                diff.chunks_differing += 1
            b_lo = max(bucket * size, lo) if lo is not None else bucket * size
            b_hi = min((bucket + 1) * size, hi) if hi is not None else (bucket + 1) * size
            if size <= leaf_size or b_hi - b_lo <= leaf_size:
                compare_rows(b_lo, b_hi)
            else:
                descend(b_lo, b_hi, max(size // fanout, 1), False)

    def compare_rows(lo, hi):
        mine = sqlite_side.rows(lo, hi)
        other = pg_side.rows(lo, hi)
        for key in sorted(set(mine) | set(other)):
            if key not in other:
                diff.missing.append(key)
            elif key not in mine:
                diff.extra.append(key)
            elif not _same(mine[key], other[key]):
                diff.changed.append(key)

    descend(None, None, chunk_size, True)
    return diff


def sync_table(sqlite_side, pg_side, diff, delete_extra=False, batch_size=1000):
    """Upsert missing and changed rows from SQLite into PostgreSQL (and delete extra rows when asked),
    in one transaction. Returns (upserted, deleted)."""
    ids = sorted(set(diff.missing) | set(diff.changed))
    columns = sqlite_side.spec.columns
    updates = ', '.join('%s = EXCLUDED.%s' % (qi(c), qi(c)) for c in columns[1:]) or \
        '%s = EXCLUDED.%s' % (qi(columns[0]), qi(columns[0]))
    sql = 'INSERT INTO %s (%s) VALUES %%s ON CONFLICT (%s) DO UPDATE SET %s' % (
        pg_side.table, pg_side.column_list, pg_side.pk, updates)
    conn = pg_side.pg.conn
    upserted = deleted = 0
    try:
        with conn.cursor() as cur:
            batch = []
            for row in sqlite_side.rows_by_ids(ids):
                batch.append(row)
                if len(batch) >= batch_size:
                    execute_values(cur, sql, batch, page_size=batch_size)
                    upserted += len(batch)
                    batch = []
            if batch:
                execute_values(cur, sql, batch, page_size=batch_size)
                upserted += len(batch)
            if delete_extra and diff.extra:
                cur.execute('DELETE FROM %s WHERE %s = ANY(%%s)' % (pg_side.table, pg_side.pk), (list(diff.extra),))
                deleted = cur.rowcount
        conn.commit()
    except Exception as exc:  # pylint: disable=broad-except
        conn.rollback()
        raise pg_side.pg.error('syncing %s' % pg_side.table, exc, hint='nothing was written to this table '
                               '(the transaction was rolled back); fix the cause and run again')
    return upserted, deleted
