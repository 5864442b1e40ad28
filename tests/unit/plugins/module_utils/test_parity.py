# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_parity's functions, table by table: type mapping, exact row comparison, classification, table discovery
on real SQLite, and bucket summaries that real SQLite and real PostgreSQL (127.0.0.1:5432, ie_test) must
compute alike for equal data and differently for every change within the documented resolution."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import itertools
import sqlite3

import pytest
from psycopg2.extras import execute_values

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _parity
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres import PostgresConnection
from ansible_collections.inventory_enterprise.ops.tests.support.servers import scratch_postgres_database

COLUMN_KINDS = [
    ('boolean', 'bool'),
    ('smallint', 'int'),
    ('integer', 'int'),
    ('bigint', 'int'),
    ('double precision', 'real'),
    ('real', 'real'),
    ('numeric', 'real'),
    ('bytea', 'blob'),
    ('text', 'text'),
    ('character varying', 'text'),
    ('timestamp without time zone', 'text'),
    ('jsonb', 'text'),
    ('uuid', 'text'),
]


@pytest.mark.parametrize('pg_type, kind', COLUMN_KINDS)
def test_column_kind(pg_type, kind):
    assert _parity.column_kind(pg_type) == kind


SAME = [
    ('equal tuples', (1, 'a', None), (1, 'a', None), True),
    ('int and the equal float', (1, 2), (1, 2.0), True),
    ('floats exactly', (1, 0.1 + 0.2), (1, 0.30000000000000004), True),
    ('floats one ulp apart', (1, 0.1), (1, 0.1 + 1.4e-17), False),
    ('negative zero equals zero', (1, -0.0), (1, 0.0), True),
    ('bytes and memoryview alike', (1, b'\x00\x01'), (1, memoryview(b'\x00\x01')), True),
    ('bytes differ', (1, memoryview(b'\x00')), (1, b'\x01'), False),
    ('NULL and empty string', (1, None), (1, ''), False),
    ('NULL and zero', (1, None), (1, 0), False),
    ('text differs by case', (1, 'Vendor'), (1, 'vendor'), False),
    ('bool against int, PostgreSQL boolean and SQLite 0/1', (1, True), (1, 1), True),
    ('different lengths', (1, 'a'), (1, 'a', None), False),
    ('integers differing by one', (1, 2 ** 53 - 1), (1, 2 ** 53 - 2), False),
]
# Integers past 2**53 share floats: compared exactly, a change of one is still found.
SAME_BEYOND_FLOATS = pytest.param((1, 2 ** 62 + 1), (1, 2 ** 62), False, id='integers above 2^53 differing by one')


@pytest.mark.parametrize('mine, other, same', [pytest.param(*row[1:], id=row[0]) for row in SAME] + [SAME_BEYOND_FLOATS])
def test_same(mine, other, same):
    assert _parity._same(mine, other) is same  # pylint: disable=protected-access


CLASSIFY = [
    ('in sync', {1: (1, 'a'), 2: (2, 'b')}, {1: (1, 'a'), 2: (2, 'b')}, [], [], []),
    ('missing in PostgreSQL', {1: (1, 'a'), 2: (2, 'b'), 3: (3, 'c')}, {2: (2, 'b')}, [1, 3], [], []),
    ('extra in PostgreSQL', {}, {5: (5, 'x'), 4: (4, 'y')}, [], [4, 5], []),
    ('changed', {1: (1, 'a'), 2: (2, 1.5)}, {1: (1, 'A'), 2: (2, 1.5)}, [], [], [1]),
    ('all three, keys sorted', {9: (9, 'a'), 3: (3, 'b'), 1: (1, None)}, {3: (3, 'b!'), 7: (7, 'z'), 1: (1, '')},
     [9], [7], [1, 3]),
    ('negative keys', {-2: (-2, 'a')}, {-1: (-1, 'a')}, [-2], [-1], []),
]


@pytest.mark.parametrize('mine, other, missing, extra, changed', [row[1:] for row in CLASSIFY],
                         ids=[row[0] for row in CLASSIFY])
def test_classify(mine, other, missing, extra, changed):
    diff = _parity.TableDiff('t')
    _parity._classify(diff, mine, other)  # pylint: disable=protected-access
    assert (diff.missing, diff.extra, diff.changed) == (missing, extra, changed)
    assert diff.in_sync is not (missing or extra or changed)


# (id, CREATE TABLE, table name, (pk, columns) or the ParityError fragment)
SPECS = [
    ('integer primary key', 'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, qty REAL)', 't',
     ('id', ['id', 'name', 'qty'])),
    ('primary key not first', 'CREATE TABLE t (name TEXT, qty REAL, id INTEGER PRIMARY KEY)', 't',
     ('id', ['id', 'name', 'qty'])),
    ('table-level primary key, lower case int', 'CREATE TABLE t (a text, k int, PRIMARY KEY (k))', 't',
     ('k', ['k', 'a'])),
    ('bigint primary key', 'CREATE TABLE t (k BIGINT PRIMARY KEY, v BLOB)', 't', ('k', ['k', 'v'])),
    ('quoted names', 'CREATE TABLE "we""ird" ("my id" INTEGER PRIMARY KEY, "a""b" TEXT)', 'we"ird',
     ('my id', ['my id', 'a"b'])),
    ('text primary key', 'CREATE TABLE t (code TEXT PRIMARY KEY, v TEXT)', 't', 'no single INTEGER PRIMARY KEY'),
    ('composite primary key', 'CREATE TABLE t (a INTEGER, b INTEGER, PRIMARY KEY (a, b))', 't',
     'no single INTEGER PRIMARY KEY'),
    ('no primary key', 'CREATE TABLE t (a INTEGER, b TEXT)', 't', 'no single INTEGER PRIMARY KEY'),
    ('untyped primary key', 'CREATE TABLE t (a PRIMARY KEY, b TEXT)', 't', 'no single INTEGER PRIMARY KEY'),
    ('missing table', 'CREATE TABLE t (id INTEGER PRIMARY KEY)', 'other', 'does not exist in the SQLite database'),
]


@pytest.mark.parametrize('ddl, name, expected', [row[1:] for row in SPECS], ids=[row[0] for row in SPECS])
def test_table_spec_from_sqlite(tmp_path, ddl, name, expected):
    conn = sqlite3.connect(str(tmp_path / 'spec.db'))
    try:
        conn.execute(ddl)
        if isinstance(expected, tuple):
            spec = _parity.TableSpec.from_sqlite(conn, name)
            assert (spec.name, spec.pk, spec.columns) == (name,) + expected
        else:
            with pytest.raises(_parity.ParityError, match=expected):
                _parity.TableSpec.from_sqlite(conn, name)
    finally:
        conn.close()


SQLITE_TABLES = [
    ('creation order, not names', ['CREATE TABLE zeta (id INTEGER PRIMARY KEY)', 'CREATE TABLE alpha (id INTEGER PRIMARY KEY)'],
     ['zeta', 'alpha']),
    ('sqlite_sequence left out', ['CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT)'], ['a']),
    ('change tracking tables left out', ['CREATE TABLE _ie_parity_changes (k INTEGER)', 'CREATE TABLE _ie_parityx (k INTEGER)',
                                         'CREATE TABLE b (id INTEGER PRIMARY KEY)'], ['b']),
    ('similar names kept', ['CREATE TABLE ie_parity (id INTEGER PRIMARY KEY)', 'CREATE TABLE _ie_parit (id INTEGER PRIMARY KEY)'],
     ['ie_parity', '_ie_parit']),
    ('views and indexes left out', ['CREATE TABLE c (id INTEGER PRIMARY KEY, v TEXT)', 'CREATE INDEX c_v ON c (v)',
                                    'CREATE VIEW cv AS SELECT * FROM c'], ['c']),
    ('empty database', [], []),
]


@pytest.mark.parametrize('ddl, names', [row[1:] for row in SQLITE_TABLES], ids=[row[0] for row in SQLITE_TABLES])
def test_sqlite_tables(tmp_path, ddl, names):
    conn = sqlite3.connect(str(tmp_path / 'tables.db'))
    try:
        for statement in ddl:
            conn.execute(statement)
        assert _parity.sqlite_tables(conn) == names
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------------------
# Summaries and comparisons on real SQLite and real PostgreSQL

@pytest.fixture(scope='module')
def pg():
    with scratch_postgres_database('ie_test_parity_unit') as dsn:
        conn = PostgresConnection(dict(dsn=dsn)).open()
        yield conn
        conn.close()


NAMES = itertools.count()


@pytest.fixture
def pair(tmp_path, pg):
    """make(sqlite type, PostgreSQL type, {key: value}) -> (SqliteSide, PostgresSide) over equal real tables;
    pg_do(sql, args) changes the PostgreSQL side."""
    lite = sqlite3.connect(str(tmp_path / 'parity.db'), isolation_level=None)
    schema = 'parity_%d' % next(NAMES)
    pg.execute('CREATE SCHEMA %s' % schema)
    pg.conn.commit()

    def make(sqlite_type, pg_type, rows):
        lite.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v %s)' % sqlite_type)
        with lite:  # one transaction, not one per row
            lite.execute('BEGIN')
            lite.executemany('INSERT INTO t VALUES (?, ?)', sorted(rows.items()))
        pg.execute('CREATE TABLE %s.t (id bigint PRIMARY KEY, v %s)' % (schema, pg_type))
        with pg.conn.cursor() as cur:
            execute_values(cur, 'INSERT INTO %s.t VALUES %%s' % schema, sorted(rows.items()))
        pg.conn.commit()
        spec = _parity.TableSpec.from_sqlite(lite, 't')
        theirs = _parity.PostgresSide(pg, spec, schema)
        return _parity.SqliteSide(lite, spec, theirs.kinds), theirs

    def pg_do(sql, args=None):
        pg.execute(sql.replace('TABLE', '%s.t' % schema), args)
        pg.conn.commit()

    yield make, pg_do
    lite.close()
    pg.execute('DROP SCHEMA %s CASCADE' % schema)
    pg.conn.commit()


def keyed(values, start=1):
    return dict((start + i, value) for i, value in enumerate(values))


TRICKY_REALS = [0.1, 0.30000000000000004, 1.0, -0.0, 2.5e-7, None, 123456.789, -98765.4321, 9.0e18, 1e20]
TRICKY_TEXT = ['', None, 'a', 'quote \' and "double"', 'caf\u00e9\nline', '\x1f', 'x' * 5000, '0', 'NULL']
# (id, SQLite type, PostgreSQL type, values by key, UPDATE of the PostgreSQL side that a summary must catch)
SUMMARIES = [
    ('integers', 'INTEGER', 'bigint', keyed([0, 1, -1, 2 ** 62, -(2 ** 63), 4294967291, 4294967290, None]),
     'UPDATE TABLE SET v = v + 1 WHERE id = 2'),
    ('integer moved by the prime', 'INTEGER', 'bigint', keyed([10, 20, 30]),
     'UPDATE TABLE SET v = v + 4294967291 WHERE id = 1'),
    ('integers swapped between rows', 'INTEGER', 'integer', keyed([7, 9, 11]),
     'UPDATE TABLE SET v = CASE id WHEN 1 THEN 9 WHEN 2 THEN 7 ELSE v END'),
    ('integer set to NULL', 'INTEGER', 'smallint', keyed([1, 2, 3]), 'UPDATE TABLE SET v = NULL WHERE id = 3'),
    ('reals', 'REAL', 'double precision', keyed(TRICKY_REALS), 'UPDATE TABLE SET v = v + 1e-15 WHERE id = 1'),
    ('real fraction below one unit', 'REAL', 'double precision', keyed([1.25, 2.5]),
     'UPDATE TABLE SET v = 1.2500000001 WHERE id = 1'),
    ('real whole part', 'REAL', 'double precision', keyed([-3.5, 4.75]), 'UPDATE TABLE SET v = -4.5 WHERE id = 1'),
    ('reals swapped between rows', 'REAL', 'double precision', keyed([0.5, 0.25]),
     'UPDATE TABLE SET v = CASE id WHEN 1 THEN 0.25 ELSE 0.5 END'),
    ('numeric', 'REAL', 'numeric', keyed([1.5, 2.25, None]), 'UPDATE TABLE SET v = 2.5 WHERE id = 2'),
    ('text', 'TEXT', 'text', keyed(TRICKY_TEXT), "UPDATE TABLE SET v = 'b' WHERE id = 3"),
    ('empty string becomes NULL', 'TEXT', 'text', keyed(['', 'x']), 'UPDATE TABLE SET v = NULL WHERE id = 1'),
    ('NULL and empty string swapped', 'TEXT', 'text', keyed(['', None]),
     "UPDATE TABLE SET v = CASE id WHEN 1 THEN NULL ELSE '' END"),
    ('texts swapped between rows', 'TEXT', 'text', keyed(['ab', 'cd']),
     "UPDATE TABLE SET v = CASE id WHEN 1 THEN 'cd' ELSE 'ab' END"),
    ('separator moved between values', 'TEXT', 'text', keyed(['a\x1fb', 'c']),
     "UPDATE TABLE SET v = CASE id WHEN 1 THEN 'a' ELSE 'b' || chr(31) || 'c' END"),
    ('unicode text', 'TEXT', 'character varying', keyed(['\u00e9', '\u65e5\u672c']),
     "UPDATE TABLE SET v = 'e' WHERE id = 1"),
    ('blobs', 'BLOB', 'bytea', keyed([b'', b'\x00\x01\xff', b'abc']),
     "UPDATE TABLE SET v = '\\x000102'::bytea WHERE id = 2"),
    ('blob emptied', 'BLOB', 'bytea', keyed([b'\x00', b'abc']), "UPDATE TABLE SET v = ''::bytea WHERE id = 1"),
    ('booleans', 'BOOLEAN', 'boolean', keyed([True, False, None]), 'UPDATE TABLE SET v = NOT v WHERE id = 1'),
    ('negative and sparse keys', 'TEXT', 'text', {-5000: 'n', -1: 'm', 0: 'z', 999: 'a', 10 ** 12: 'far'},
     "UPDATE TABLE SET v = 'N' WHERE id = -5000"),
    ('row deleted', 'INTEGER', 'bigint', keyed([1, 2, 3]), 'DELETE FROM TABLE WHERE id = 2'),
    ('row added', 'INTEGER', 'bigint', keyed([1, 2, 3]), 'INSERT INTO TABLE VALUES (4, NULL)'),
]


# SQLite's hex(NULL) is '' where PostgreSQL's encode(NULL) is NULL: a NULL BLOB must summarise alike in both.
SUMMARY_NULL_BLOB = pytest.param(
    'BLOB', 'bytea', keyed([b'a', None]), 'UPDATE TABLE SET v = NULL WHERE id = 1', id='NULL blob')


@pytest.mark.parametrize('size', [1, 7, 1000])
@pytest.mark.parametrize('sqlite_type, pg_type, rows, change',
                         [pytest.param(*row[1:], id=row[0]) for row in SUMMARIES] + [SUMMARY_NULL_BLOB])
def test_bucket_summaries_agree_then_catch_the_change(pair, sqlite_type, pg_type, rows, change, size):
    make, pg_do = pair
    ours, theirs = make(sqlite_type, pg_type, rows)
    before = theirs.buckets(None, None, size)
    assert ours.buckets(None, None, size) == before
    assert sorted(before) == sorted(set(key // size for key in rows))
    pg_do(change)
    assert ours.buckets(None, None, size) != theirs.buckets(None, None, size)


# (id, values by key, lo, hi, size)
RANGES = [
    ('inner range', keyed(range(100)), 10, 50, 7),
    ('range edges off bucket edges', keyed(range(100)), 13, 58, 10),
    ('negative keys', dict((k, k) for k in range(-30, 30)), -25, 5, 4),
    ('lower bound only', keyed(range(40)), 20, None, 6),
    ('upper bound only', keyed(range(40)), None, 9, 6),
    ('empty range', keyed(range(10)), 500, 600, 10),
]


@pytest.mark.parametrize('rows, lo, hi, size', [row[1:] for row in RANGES], ids=[row[0] for row in RANGES])
def test_bucket_ranges_agree(pair, rows, lo, hi, size):
    make, _pg_do = pair
    ours, theirs = make('INTEGER', 'bigint', rows)
    expected = set(key // size for key in rows if (lo is None or key >= lo) and (hi is None or key < hi))
    mine = ours.buckets(lo, hi, size)
    assert mine == theirs.buckets(lo, hi, size)
    assert set(mine) == expected
    assert sum(summary[0] for summary in mine.values()) == sum(
        1 for key in rows if (lo is None or key >= lo) and (hi is None or key < hi))


BASE = keyed(['row %d' % n for n in range(1, 301)])
# (id, statements on PostgreSQL, missing, extra, changed)
COMPARISONS = [
    ('in sync', [], [], [], []),
    ('one row changed deep in a bucket', ["UPDATE TABLE SET v = 'x' WHERE id = 157"], [], [], [157]),
    ('rows missing', ['DELETE FROM TABLE WHERE id IN (1, 150, 300)'], [1, 150, 300], [], []),
    ('rows extra, one far away', ["INSERT INTO TABLE VALUES (301, 'new'), (-7, 'neg'), (1000000, 'far')"],
     [], [-7, 301, 1000000], []),
    ('a whole bucket gone', ['DELETE FROM TABLE WHERE id >= 100 AND id < 200'], list(range(100, 200)), [], []),
    ('all three at once', ["UPDATE TABLE SET v = NULL WHERE id = 2", 'DELETE FROM TABLE WHERE id = 3',
                           "INSERT INTO TABLE VALUES (400, 'x')"], [3], [400], [2]),
]


@pytest.mark.parametrize('chunk_size, fanout, leaf_size', [(1000, 100, 10), (64, 4, 2), (1, 2, 1)])
@pytest.mark.parametrize('statements, missing, extra, changed', [row[1:] for row in COMPARISONS],
                         ids=[row[0] for row in COMPARISONS])
def test_compare_table(pair, statements, missing, extra, changed, chunk_size, fanout, leaf_size):
    make, pg_do = pair
    ours, theirs = make('TEXT', 'text', BASE)
    for statement in statements:
        pg_do(statement)
    diff = _parity.compare_table(ours, theirs, chunk_size=chunk_size, fanout=fanout, leaf_size=leaf_size)
    assert (diff.missing, diff.extra, diff.changed) == (missing, extra, changed)
    assert diff.sqlite_rows == len(BASE) and diff.postgres_rows == len(BASE) - len(missing) + len(extra)
    assert diff.in_sync is not (missing or extra or changed)
    assert (diff.chunks_differing == 0) is diff.in_sync


# (id, statements on PostgreSQL, keys marked, (missing, extra, changed) or None: fall back to a full compare)
KEYED = [
    ('marked change found', ["UPDATE TABLE SET v = 'x' WHERE id = 5"], [5, 6], ([], [], [5])),
    ('marked delete found', ['DELETE FROM TABLE WHERE id = 9'], [9], ([9], [], [])),
    ('marked insert found', ["INSERT INTO TABLE VALUES (500, 'x')"], [500], ([], [500], [])),
    ('unmarked delete: counts disagree', ['DELETE FROM TABLE WHERE id = 9'], [5], None),
    ('unmarked insert: counts disagree', ["INSERT INTO TABLE VALUES (500, 'x')"], [], None),
    ('unmarked change is not seen (what the marks are for)', ["UPDATE TABLE SET v = 'x' WHERE id = 5"], [6],
     ([], [], [])),
]


@pytest.mark.parametrize('statements, keys, expected', [row[1:] for row in KEYED], ids=[row[0] for row in KEYED])
def test_compare_keys(pair, statements, keys, expected):
    make, pg_do = pair
    ours, theirs = make('TEXT', 'text', keyed(['row %d' % n for n in range(1, 21)]))
    for statement in statements:
        pg_do(statement)
    diff = _parity.compare_keys(ours, theirs, keys)
    if expected is None:
        assert diff is None
    else:
        assert (diff.missing, diff.extra, diff.changed) == expected
        assert diff.method == 'incremental' and diff.keys_checked == len(keys)


# (id, keys asked, batch size); the table holds keys 1..20
BY_IDS = [
    ('none', [], 2),
    ('one', [7], 500),
    ('unsorted, across batch edges', [20, 1, 5, 3, 2], 2),
    ('absent keys left out', [0, 4, 21, -1, 10 ** 12], 2),
    ('exactly one batch', [1, 2, 3], 3),
]


@pytest.mark.parametrize('keys, batch', [row[1:] for row in BY_IDS], ids=[row[0] for row in BY_IDS])
def test_rows_by_ids_and_existing(pair, keys, batch):
    make, _pg_do = pair
    rows = keyed(['row %d' % n for n in range(1, 21)])
    ours, theirs = make('TEXT', 'text', rows)
    expected = [(key, rows[key]) for key in sorted(keys) if key in rows]
    assert list(ours.rows_by_ids(keys, batch=batch)) == expected
    assert sorted(theirs.rows_by_ids(keys, batch=batch)) == expected
    assert sorted(ours.existing(keys, batch=batch)) == [key for key, _value in expected]


# (id, PostgreSQL statements before the comparison, SQLite statements after it, delete_extra, batch size,
#  (upserted, deleted, skipped), in sync afterwards)
SYNCS = [
    ('changed and missing rows upserted', ["UPDATE TABLE SET v = 'x' WHERE id = 2", 'DELETE FROM TABLE WHERE id = 3'],
     [], False, 1000, (2, 0, []), True),
    ('in batches smaller than the work', ['UPDATE TABLE SET v = NULL WHERE id <= 5'], [], False, 2, (5, 0, []), True),
    ('extra row kept unless asked', ["INSERT INTO TABLE VALUES (99, 'x')"], [], False, 1000, (0, 0, []), False),
    ('extra row deleted when asked', ["INSERT INTO TABLE VALUES (99, 'x')"], [], True, 1000, (0, 1, []), True),
    ('row SQLite lost since the comparison is skipped', ['DELETE FROM TABLE WHERE id = 3'],
     ['DELETE FROM t WHERE id = 3'], False, 1000, (0, 0, [3]), True),
    ('row SQLite changed since is written as SQLite has it now', ["UPDATE TABLE SET v = 'x' WHERE id = 4"],
     ["UPDATE t SET v = 'newer' WHERE id = 4"], False, 1000, (1, 0, []), True),
    ('extra row SQLite gained since is kept', ["INSERT INTO TABLE VALUES (99, 'x')"],
     ["INSERT INTO t VALUES (99, 'x')"], True, 1000, (0, 0, [99]), True),
]


@pytest.mark.parametrize('pg_statements, sqlite_statements, delete_extra, batch, outcome, in_sync',
                         [row[1:] for row in SYNCS], ids=[row[0] for row in SYNCS])
def test_sync_table(pair, pg_statements, sqlite_statements, delete_extra, batch, outcome, in_sync):
    make, pg_do = pair
    ours, theirs = make('TEXT', 'text', keyed(['row %d' % n for n in range(1, 11)]))
    for statement in pg_statements:
        pg_do(statement)
    diff = _parity.compare_table(ours, theirs)
    for statement in sqlite_statements:
        ours.conn.execute(statement)
    assert _parity.sync_table(ours, theirs, diff, delete_extra=delete_extra, batch_size=batch) == outcome
    assert _parity.compare_table(ours, theirs).in_sync is in_sync
