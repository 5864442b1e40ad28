# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Data parity between the service's SQLite database and its PostgreSQL mirror (dual-write).

How a table is compared without pulling it into memory:

1. Both sides cut the table into buckets of primary-key values ([b*size, (b+1)*size)) and summarise each
   bucket with aggregates both engines compute natively and exactly alike (no per-row work in Python):
   - every column: count of non-NULL values;
   - integer columns (and the integer and 2^-52 fraction parts of REAL columns): sum(v / P) and a
     position-weighted sum(((v % P) * w) % P), w = key % 65521 + 1, P = 4294967291; integer arithmetic only,
     so float rendering and summation order never matter, and the weight catches values moved between rows;
   - text (and BLOB, as hex) columns: MD5 of the bucket's values joined in key order (group_concat in SQLite,
     hashed in Python; md5(string_agg) in PostgreSQL) plus a position-weighted sum of their lengths, which
     tells a NULL from an empty string and where it sits.
   PostgreSQL does a bucket level in one GROUP BY query; SQLite reads each bucket with one range query on its
   rowid B-tree (faster there than GROUP BY, which sorts). The two sides run concurrently.
2. Only buckets whose summaries differ are split into buckets `fanout` times smaller, and so on.
3. Buckets of at most `leaf_size` keys are compared row by row with the real values, so a summary collision
   between two equal rows cannot be reported as a difference: missing (in SQLite only), extra (in
   PostgreSQL only) and changed rows.

A summary can only be fooled by a change that leaves every aggregate of its bucket equal; REAL values are
summarised to 2^-52 absolute resolution below 9.2e18 in magnitude (the row comparison is exact).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import threading

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._sql import quote_identifier
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._sqlite import count_rows

try:
    from psycopg2.extras import execute_values
except ImportError:  # guarded by _postgres.HAS_PSYCOPG2 in the module
    execute_values = None

DEFAULT_CHUNK_SIZE = 1000
DEFAULT_FANOUT = 100
DEFAULT_LEAF_SIZE = 10
PRIME = 4294967291
WEIGHT_MOD = 65521
FRACTION_SCALE = '4503599627370496.0'  # 2^52: the fraction bits of a double below 2^53, as an integer
INT64_SAFE = '9.2e18'

INT_TYPES = ('smallint', 'integer', 'bigint')
REAL_TYPES = ('double precision', 'real', 'numeric')


class ParityError(Exception):
    """A table cannot be compared (no integer primary key, missing in PostgreSQL...)."""


class TableSpec(object):
    """A SQLite table: its integer primary key and its columns (pk first)."""

    def __init__(self, name, pk, columns):
        self.name = name
        self.pk = pk
        self.columns = columns  # the primary key first

    @classmethod
    def from_sqlite(cls, conn, name):
        info = conn.execute('PRAGMA table_info(%s)' % quote_identifier(name)).fetchall()
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
    """User tables of the SQLite database, in creation order (not change tracking's own, _ie_parity_*)."""
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                        "AND substr(name, 1, 10) <> '_ie_parity' ORDER BY rowid").fetchall()
    return [row[0] for row in rows]


def column_kind(pg_type):
    if pg_type == 'boolean':
        return 'bool'
    if pg_type in INT_TYPES:
        return 'int'
    if pg_type in REAL_TYPES:
        return 'real'
    if pg_type == 'bytea':
        return 'blob'
    return 'text'


def _to_int(expr, engine):
    return 'CAST(%s AS INTEGER)' % expr if engine == 'sqlite' else 'trunc(%s)::bigint' % expr


def summary_terms(spec, kinds, pk_expr, engine):
    """(SQL aggregates summarising a bucket's rows, positions of those that are text to hash)."""
    sqlite = engine == 'sqlite'

    def mod(a, b):  # mod() in PostgreSQL: a literal % would clash with psycopg2's parameter markers
        return '(%s %% %s)' % (a, b) if sqlite else 'mod(%s, %s)' % (a, b)

    weight = '(%s + 1)' % mod(pk_expr, WEIGHT_MOD)
    terms, concat = ['count(*)'], set()

    def integer_sums(value):
        terms.append('sum(%s / %d)' % (value, PRIME))
        terms.append('sum(%s)' % mod('%s * %s' % (mod(value, PRIME), weight), PRIME))

    for col in spec.columns:
        c = quote_identifier(col)
        kind = kinds[col]
        terms.append('count(%s)' % c)
        if kind in ('int', 'bool'):
            integer_sums('%s::int' % c if kind == 'bool' and not sqlite else c)
        elif kind == 'real':
            value = c if sqlite else '%s::float8' % c
            whole = _to_int(value, engine)
            fraction = _to_int('(%s - %s) * %s' % (value, whole, FRACTION_SCALE), engine)
            # Out of the int64 range SQLite's CAST saturates and PostgreSQL's raises: leave such values out.
            whole, fraction = ['CASE WHEN abs(%s) < %s THEN %s END' % (value, INT64_SAFE, e)
                               for e in (whole, fraction)]
            integer_sums(whole)
            integer_sums(fraction)
        else:
            if kind == 'blob':
                text = 'CASE WHEN %s IS NULL THEN NULL ELSE hex(%s) END' % (c, c) if sqlite else "upper(encode(%s, 'hex'))" % c
            else:
                text = c if sqlite else '%s::text' % c
            terms.append('sum(%s)' % mod('(length(%s) + 1) * %s' % (text, weight), PRIME))
            concat.add(len(terms))
            terms.append('group_concat(%s, char(31))' % text if sqlite else 'md5(string_agg(%s, chr(31)))' % text)
    return terms, concat


def _digest(text):
    if text is None:
        return None
    return hashlib.md5(text.encode('utf-8', 'surrogateescape')).hexdigest()


def _normalise(row, concat, hash_text):
    out = []
    for i, value in enumerate(row):
        if i in concat:
            out.append(_digest(value) if hash_text else value)
        elif isinstance(value, float) and not value.is_integer():
            out.append(value)  # SQLite summed a non-integer stored in an INTEGER column: never equal to PostgreSQL's
        else:
            out.append(int(value) if value is not None else None)
    return tuple(out)


class SqliteSide(object):
    def __init__(self, conn, spec, kinds):
        self.conn = conn
        self.spec = spec
        pk = quote_identifier(spec.pk)
        table = quote_identifier(spec.name)
        terms, self._concat = summary_terms(spec, kinds, pk, 'sqlite')
        self._bucket_sql = 'SELECT %s FROM %s WHERE %s >= ? AND %s < ?' % (', '.join(terms), table, pk, pk)
        self._next_sql = 'SELECT min(%s) FROM %s WHERE %s >= ? AND %s < ?' % (pk, table, pk, pk)
        self._rows_sql = 'SELECT %s FROM %s WHERE %s >= ? AND %s < ? ORDER BY %s' % (
            ', '.join(quote_identifier(c) for c in spec.columns), table, pk, pk, pk)
        self._by_ids_sql = 'SELECT %s FROM %s WHERE %s IN (%%s) ORDER BY %s' % (
            ', '.join(quote_identifier(c) for c in spec.columns), table, pk, pk)
        self._keys_sql = 'SELECT %s FROM %s WHERE %s IN (%%s)' % (pk, table, pk)

    def buckets(self, lo, hi, size):
        """{bucket: summary} of the keys in [lo, hi), buckets of `size` keys; empty buckets are skipped."""
        result = {}
        lo_bound = lo if lo is not None else -(1 << 63)
        hi_bound = hi if hi is not None else (1 << 63) - 1
        nxt = self.conn.execute(self._next_sql, (lo_bound, hi_bound)).fetchone()[0]
        while nxt is not None:
            bucket = nxt // size
            start = max(bucket * size, lo_bound)
            end = min((bucket + 1) * size, hi_bound)
            row = self.conn.execute(self._bucket_sql, (start, end)).fetchone()
            if end >= hi_bound:
                nxt = None
            elif row[0]:
                nxt = end  # dense keys: the next bucket is usually not empty, so read it without a search
            else:
                nxt = self.conn.execute(self._next_sql, (end, hi_bound)).fetchone()[0]
            if row[0]:
                result[bucket] = _normalise(row, self._concat, True)
        return result

    def rows(self, lo, hi):
        return dict((row[0], tuple(row)) for row in self.conn.execute(self._rows_sql, (lo, hi)))

    def rows_by_ids(self, ids, batch=500):
        ids = sorted(ids)
        for start in range(0, len(ids), batch):
            part = ids[start:start + batch]
            sql = self._by_ids_sql % ', '.join('?' * len(part))
            for row in self.conn.execute(sql, part):
                yield tuple(row)

    def existing(self, ids, batch=500):
        """The keys among `ids` that the table holds now."""
        ids = sorted(ids)
        for start in range(0, len(ids), batch):
            part = ids[start:start + batch]
            sql = self._keys_sql % ', '.join('?' * len(part))
            for (key,) in self.conn.execute(sql, part):
                yield key

    def count(self):
        return count_rows(self.conn, [self.spec.name])[self.spec.name]


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
        self.kinds = dict((c, column_kind(self.types[c])) for c in spec.columns)
        self.table = '%s.%s' % (quote_identifier(schema), quote_identifier(spec.name))
        self.pk = quote_identifier(spec.pk)
        self.column_list = ', '.join(quote_identifier(c) for c in spec.columns)
        terms, self._concat = summary_terms(spec, self.kinds, self.pk, 'postgres')
        self._terms = ', '.join(terms)

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
        # Rows reach string_agg in key order from the sorted subquery; were the planner ever to reorder them,
        # the digests would differ and the bucket would be compared row by row: slower, never wrong.
        sql = ('SELECT _parity_bucket, %s FROM (SELECT %s AS _parity_bucket, * FROM %s%s ORDER BY %s) s '
               'GROUP BY _parity_bucket'
               % (self._terms, bucket, self.table, (' WHERE ' + ' AND '.join(where)) if where else '', pk))
        rows = self.pg.query_rows(sql, args or None, action='checksumming %s' % self.table)
        return dict((row[0], _normalise(row[1:], self._concat, False)) for row in rows)

    def rows(self, lo, hi):
        rows = self.pg.query('SELECT %s FROM %s WHERE %s >= %%s AND %s < %%s' % (
            self.column_list, self.table, self.pk, self.pk), (lo, hi), action='reading %s' % self.table)
        return dict((row[self.spec.pk], tuple(row[c] for c in self.spec.columns)) for row in rows)

    def rows_by_ids(self, ids, batch=10000):
        ids = sorted(ids)
        for start in range(0, len(ids), batch):
            for row in self.pg.query_rows('SELECT %s FROM %s WHERE %s = ANY(%%s)' % (self.column_list, self.table, self.pk),
                                          (ids[start:start + batch],), action='reading %s' % self.table):
                yield tuple(row)

    def count(self):
        return self.pg.query_rows('SELECT count(*) FROM %s' % self.table, action='counting %s' % self.table)[0][0]


def _same(a, b):
    """Real values compared: floats exactly, everything else by equality (memoryview/bytes alike)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, memoryview):
            x = x.tobytes()
        if isinstance(y, memoryview):
            y = y.tobytes()
        if isinstance(x, int) and isinstance(y, int):
            # Exactly: past 2**53 two integers can share one float.
            if x != y:
                return False
        elif isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
            if float(x) != float(y):
                return False
        elif x != y:
            return False
    return True


class TableDiff(object):
    def __init__(self, name):
        self.name = name
        self.method = 'full'
        self.keys_checked = 0
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
        _classify(diff, sqlite_side.rows(lo, hi), pg_side.rows(lo, hi))

    descend(None, None, chunk_size, True)
    return diff


def _classify(diff, mine, other):
    for key in sorted(set(mine) | set(other)):
        if key not in other:
            diff.missing.append(key)
        elif key not in mine:
            diff.extra.append(key)
        elif not _same(mine[key], other[key]):
            diff.changed.append(key)


def compare_keys(sqlite_side, pg_side, keys):
    """Compare only the rows of `keys` (the keys change tracking marked), plus both row counts.

    Returns None when the counts differ by more than the marked keys explain: an unmarked row is missing on
    one side, so the caller compares the whole table."""
    diff = TableDiff(sqlite_side.spec.name)
    diff.method = 'incremental'
    diff.keys_checked = len(keys)

    def read(side):
        return side.count(), dict((row[0], row) for row in side.rows_by_ids(keys))

    (diff.sqlite_rows, mine), (diff.postgres_rows, other) = _parallel(lambda: read(sqlite_side),
                                                                      lambda: read(pg_side))
    diff.queries = 1
    if diff.sqlite_rows - len(mine) != diff.postgres_rows - len(other):
        return None
    _classify(diff, mine, other)
    return diff


def sync_table(sqlite_side, pg_side, diff, delete_extra=False, batch_size=1000):
    """Upsert missing and changed rows from SQLite into PostgreSQL (and delete extra rows when asked), in one
    transaction. Returns (upserted, deleted, skipped keys).

    The differences come from a snapshot taken earlier, while the service kept writing. So SQLite is read again
    inside the transaction, right before each write: rows are upserted as SQLite has them now, a missing or
    changed row SQLite no longer has is left alone, and a row only PostgreSQL had is deleted only when SQLite
    still lacks it once that PostgreSQL row is locked (the service may have committed it to SQLite meanwhile;
    its own mirror write then waits for this transaction). Skipped keys stay differences for the next run."""
    ids = sorted(set(diff.missing) | set(diff.changed))
    columns = sqlite_side.spec.columns
    updates = ', '.join('%s = EXCLUDED.%s' % (quote_identifier(c), quote_identifier(c)) for c in columns[1:]) or \
        '%s = EXCLUDED.%s' % (quote_identifier(columns[0]), quote_identifier(columns[0]))
    sql = 'INSERT INTO %s (%s) VALUES %%s ON CONFLICT (%s) DO UPDATE SET %s' % (
        pg_side.table, pg_side.column_list, pg_side.pk, updates)
    conn = pg_side.pg.conn
    upserted = deleted = 0
    written = set()
    skipped = []
    try:
        with conn.cursor() as cur:
            batch = []
            for row in sqlite_side.rows_by_ids(ids):
                batch.append(row)
                if len(batch) >= batch_size:
                    execute_values(cur, sql, batch, page_size=batch_size)
                    upserted += len(batch)
                    written.update(r[0] for r in batch)
                    batch = []
            if batch:
                execute_values(cur, sql, batch, page_size=batch_size)
                upserted += len(batch)
                written.update(r[0] for r in batch)
            skipped = [key for key in ids if key not in written]
            if delete_extra and diff.extra:
                extra = sorted(diff.extra)
                cur.execute('SELECT %s FROM %s WHERE %s = ANY(%%s) ORDER BY %s FOR UPDATE' % (
                    pg_side.pk, pg_side.table, pg_side.pk, pg_side.pk), (extra,))
                now_in_sqlite = set(sqlite_side.existing(extra))
                gone = [key for key in extra if key not in now_in_sqlite]
                skipped = sorted(skipped + [key for key in extra if key in now_in_sqlite])
                if gone:
                    cur.execute('DELETE FROM %s WHERE %s = ANY(%%s)' % (pg_side.table, pg_side.pk), (gone,))
                    deleted = cur.rowcount
        conn.commit()
    except Exception as exc:  # pylint: disable=broad-except
        conn.rollback()
        raise pg_side.pg.error('syncing %s' % pg_side.table, exc, hint='nothing was written to this table '
                               '(the transaction was rolled back); fix the cause and run again')
    return upserted, deleted, skipped
