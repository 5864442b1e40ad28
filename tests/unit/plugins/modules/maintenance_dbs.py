# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The service's SQLite database and a scratch PostgreSQL database for the tests of sqlite_maintenance,
sqlite_info, postgresql_maintenance, postgresql_info and the deprecated db_maintenance."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os
import random
import sqlite3
import subprocess
import sys


SCHEMA = [
    "CREATE TABLE item_master (id INTEGER PRIMARY KEY, item_code TEXT UNIQUE NOT NULL, name TEXT, category TEXT, "
    "unit TEXT, par_level REAL)",
    "CREATE INDEX idx_item_master_code ON item_master(item_code)",
    "CREATE TABLE inventory_counts (id INTEGER PRIMARY KEY, count_date TEXT NOT NULL, location TEXT)",
    "CREATE INDEX idx_inventory_counts_date ON inventory_counts(count_date)",
    "CREATE TABLE inventory_count_items (id INTEGER PRIMARY KEY, count_id INTEGER, item_code TEXT, quantity REAL)",
    "CREATE TABLE processed_invoices (id INTEGER PRIMARY KEY, invoice_number TEXT, item_code TEXT, amount REAL)",
    "CREATE TABLE ai_forecasts (id INTEGER PRIMARY KEY, entity_id TEXT, predicted REAL)",
    "CREATE INDEX idx_ai_forecasts_entity ON ai_forecasts(entity_id)",
]


def make_db(path, items=3000, wal=True, delete_fraction=0.5, seed=7):
    """The service's layout with `items` rows, random-order keys, then a share of rows deleted."""
    rnd = random.Random(seed)
    conn = sqlite3.connect(str(path), isolation_level=None)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN")
    for statement in SCHEMA:
        conn.execute(statement)
    codes = ["I-%06d" % n for n in range(items)]
    rnd.shuffle(codes)
    conn.executemany("INSERT INTO item_master (item_code, name, category, unit, par_level) VALUES (?,?,?,?,?)",
                     [(code, "Item %s %s" % (code, "x" * 60), "cat", "ea", 1.5) for code in codes])
    conn.executemany("INSERT INTO ai_forecasts (entity_id, predicted) VALUES (?, ?)",
                     [("E-%d" % rnd.randrange(500), rnd.random() * 100) for dummy in range(items)])
    conn.executemany("INSERT INTO inventory_counts (count_date, location) VALUES (?, ?)",
                     [("2025-01-%02d" % (1 + n % 28), "main") for n in range(50)])
    conn.execute("COMMIT")
    if delete_fraction:
        # A contiguous range frees whole table pages; its random-order keys leave the index half empty.
        conn.execute("DELETE FROM item_master WHERE id <= ?", (int(items * delete_fraction),))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return str(path)


def rows_of(path, table="item_master"):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT * FROM %s ORDER BY id" % table).fetchall()
    finally:
        conn.close()


def sha(path):
    digest = hashlib.sha256()
    for suffix in ("", "-wal"):
        if os.path.exists(path + suffix):
            with open(path + suffix, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()


def journal_mode(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()


HOLDER_CODE = ("import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); c.execute('select 1 from item_master'); "
               "print('ready', flush=True); time.sleep(60)")


def start_holder(path, *marker):
    """A process that has the database open, once it says so."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER_CODE, path] + list(marker), stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def end_holder(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    proc.stdout.close()


def pg_exec(dsn, *statements):
    import psycopg2
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()
