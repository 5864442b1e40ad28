# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one quoting helper (_sql) against real SQLite and PostgreSQL, and _sqlite's integrity-check and
row-count family that backup, restore, sqlite_maintenance, sqlite_info and parity share."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import sqlite3

import psycopg2
import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _sqlite
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._sql import quote_identifier, quote_literal
from ansible_collections.inventory_enterprise.ops.tests.support.servers import postgres_admin_dsn

# A name and a value that break naive quoting: both quote characters, a space, a semicolon, non-ASCII.
AWKWARD_NAME = 'we"ird \'ta;ble\u00e9'
AWKWARD_TEXT = 'it\'s "quoted"; DROP TABLE x; --'


@pytest.mark.parametrize('name, expected', [
    ('plain', '"plain"'),
    ('a"b', '"a""b"'),
    ('""', '""""""'),
    ("it's", '"it\'s"'),
])
def test_quote_identifier_doubles_double_quotes(name, expected):
    assert quote_identifier(name) == expected


@pytest.mark.parametrize('text, expected', [
    ('plain', "'plain'"),
    ("it's", "'it''s'"),
    ('say "hi"', "'say \"hi\"'"),
])
def test_quote_literal_doubles_single_quotes(text, expected):
    assert quote_literal(text) == expected


def test_one_quoting_rule_serves_sqlite():
    conn = sqlite3.connect(':memory:')
    conn.execute('CREATE TABLE %s (%s TEXT)' % (quote_identifier(AWKWARD_NAME), quote_identifier(AWKWARD_NAME)))
    conn.execute('INSERT INTO %s VALUES (%s)' % (quote_identifier(AWKWARD_NAME), quote_literal(AWKWARD_TEXT)))
    assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == [(AWKWARD_NAME,)]
    assert conn.execute('SELECT %s FROM %s' % ((quote_identifier(AWKWARD_NAME),) * 2)).fetchall() == [(AWKWARD_TEXT,)]


def test_one_quoting_rule_serves_postgresql():
    conn = psycopg2.connect(postgres_admin_dsn())
    try:
        with conn.cursor() as cur:
            cur.execute('CREATE TEMP TABLE %s (%s text)' % (quote_identifier(AWKWARD_NAME), quote_identifier(AWKWARD_NAME)))
            # Without parameters psycopg2 sends the text as it is, so the literal is PostgreSQL's to parse.
            cur.execute('INSERT INTO %s VALUES (%s)' % (quote_identifier(AWKWARD_NAME), quote_literal(AWKWARD_TEXT)))
            cur.execute("SELECT relname FROM pg_class WHERE relname = %s", (AWKWARD_NAME,))
            assert cur.fetchall() == [(AWKWARD_NAME,)]
            cur.execute('SELECT %s FROM %s' % ((quote_identifier(AWKWARD_NAME),) * 2))
            assert cur.fetchall() == [(AWKWARD_TEXT,)]
    finally:
        conn.rollback()
        conn.close()


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / 'family.db')
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)')
    conn.execute('CREATE TABLE %s (id INTEGER PRIMARY KEY)' % quote_identifier(AWKWARD_NAME))
    conn.execute('CREATE VIEW item_names AS SELECT name FROM items')
    conn.executemany('INSERT INTO items (name) VALUES (?)', [('a',), ('b',), ('c',)])
    conn.execute('ANALYZE')  # creates sqlite_stat1, which is not a user table
    yield path, conn
    conn.close()


def test_count_rows_of_every_user_table(db):
    path, conn = db
    assert _sqlite.count_rows(conn) == {'items': 3, AWKWARD_NAME: 0}
    assert _sqlite.row_counts(path) == {'items': 3, AWKWARD_NAME: 0}


def test_count_rows_of_named_tables_says_none_for_a_missing_one(db):
    _path, conn = db
    assert _sqlite.count_rows(conn, ['items', 'item_names', 'no_such_table']) == {
        'items': 3, 'item_names': 3, 'no_such_table': None}


def test_check_messages_of_a_sound_and_a_damaged_database(db, tmp_path):
    path, conn = db
    assert _sqlite.check_messages(conn) == ['ok']
    assert _sqlite.check_messages(conn, quick=True, max_errors=1) == ['ok']
    assert _sqlite.integrity_check(path) == ['ok']
    damaged = tmp_path / 'damaged.db'
    damaged.write_bytes(b'SQLite format 3\x00' + b'\xff' * 4096)
    assert _sqlite.integrity_check(str(damaged))[0].startswith('cannot check %s: ' % damaged)
