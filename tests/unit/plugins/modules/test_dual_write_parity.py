# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""dual_write_parity between a real SQLite file and a real scratch PostgreSQL database: finds exactly the
rows removed, altered or added in PostgreSQL, syncs idempotently, never deletes unless told to.

Run: cd /work/main && PYTHONPATH=build/collections .venv/bin/python -m pytest tests/unit/plugins/modules/test_dual_write_parity.py -q
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import math
import sqlite3

import psycopg2
import pytest
from psycopg2.extras import execute_values

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

from ansible_collections.inventory_enterprise.ops.plugins.modules import dual_write_parity

ROWS = 2500
# Values chosen to trip naive text comparisons: float rendering, NULLs, quotes, unicode, newlines.
TRICKY = [0.30000000000000004, 1e20, 1.0, 2.5e-7, None, 123456.789, 0.1, -0.0]


@pytest.fixture
def dbs(tmp_path):
    from ansible_collections.inventory_enterprise.ops.tests.support.servers import scratch_postgres_database
    path = str(tmp_path / "db.sqlite")
    lite = sqlite3.connect(path, isolation_level=None)
    lite.execute("PRAGMA journal_mode=WAL")
    lite.execute("CREATE TABLE processed_invoices (id INTEGER PRIMARY KEY, invoice_number TEXT NOT NULL, "
                 "vendor TEXT, item_code TEXT, quantity REAL, amount REAL)")
    lite.execute("CREATE TABLE item_master (id INTEGER PRIMARY KEY, item_code TEXT, name TEXT, par_level REAL)")
    lite.execute("BEGIN")
    invoices = [(n, "INV-%d" % (n // 3), None if n % 7 == 0 else "Vendor \"%d\" 'é'\n" % n, "I-%d" % (n % 40),
                 TRICKY[n % len(TRICKY)], round(n * 1.1, 2)) for n in range(1, ROWS + 1)]
    # Sparse keys too: a gap of a million ids.
    invoices += [(1000000 + n, "INV-far", "v", "I-1", 1.5, 2.5) for n in range(5)]
    items = [(n, "I-%d" % n, "Item %d" % n, 10.0 / (n + 1)) for n in range(40)]
    lite.executemany("INSERT INTO processed_invoices VALUES (?,?,?,?,?,?)", invoices)
    lite.executemany("INSERT INTO item_master VALUES (?,?,?,?)", items)
    lite.execute("COMMIT")
    lite.close()
    with scratch_postgres_database("ie_test_parity") as dsn:
        pg = psycopg2.connect(dsn)
        with pg, pg.cursor() as cur:
            cur.execute("CREATE TABLE processed_invoices (id bigint PRIMARY KEY, invoice_number text, vendor text, "
                        "item_code text, quantity double precision, amount double precision)")
            cur.execute("CREATE TABLE item_master (id bigint PRIMARY KEY, item_code text, name text, "
                        "par_level double precision)")
            execute_values(cur, "INSERT INTO processed_invoices VALUES %s", invoices)
            execute_values(cur, "INSERT INTO item_master VALUES %s", items)
        yield path, dsn, pg
        pg.close()


def run(args, capsys, check_mode=False):
    return run_module(dual_write_parity, args, capsys, check_mode=check_mode)


def pg_do(pg, *statements):
    with pg, pg.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def pg_rows(pg, table):
    with pg, pg.cursor() as cur:
        cur.execute("SELECT * FROM %s ORDER BY id" % table)
        return cur.fetchall()


def lite_rows(path, table):
    conn = sqlite3.connect(path)
    try:
        return [tuple(r) for r in conn.execute("SELECT * FROM %s ORDER BY id" % table)]
    finally:
        conn.close()


def by_name(result):
    return dict((t["name"], t) for t in result["tables"])


def test_identical_databases_are_in_sync_despite_float_rendering(dbs, capsys):
    path, dsn, _pg = dbs
    failed, result = run(dict(sqlite_path=path, dsn=dsn, chunk_size=1000), capsys)
    assert not failed, result
    assert result["in_sync"] is True and result["changed"] is False
    invoices = by_name(result)["processed_invoices"]
    assert invoices["sqlite_rows"] == invoices["postgres_rows"] == ROWS + 5
    assert invoices["chunks_differing"] == 0 and invoices["chunks"] == 4


def test_finds_exactly_the_altered_rows_and_sync_repairs_them(dbs, capsys):
    path, dsn, pg = dbs
    pg_do(pg, "DELETE FROM processed_invoices WHERE id IN (5, 1777, 1000002)",
          "UPDATE processed_invoices SET amount = amount + 0.01 WHERE id = 42",
          "UPDATE processed_invoices SET vendor = NULL WHERE id = 1201",
          "UPDATE processed_invoices SET quantity = 0.3 WHERE id = 2401",  # was 0.30000000000000004
          "INSERT INTO processed_invoices VALUES (5000000, 'INV-Y', 'v', 'I-1', 1, 1)",
          "DELETE FROM item_master WHERE id = 3")
    sqlite_before = lite_rows(path, "processed_invoices")
    args = dict(sqlite_path=path, dsn=dsn, chunk_size=1000)
    failed, result = run(args, capsys)
    assert not failed, result
    invoices = by_name(result)["processed_invoices"]
    assert invoices["missing"] == {"count": 3, "ids": [5, 1777, 1000002]}
    assert invoices["changed"] == {"count": 3, "ids": [42, 1201, 2401]}
    assert invoices["extra"] == {"count": 1, "ids": [5000000]}
    assert invoices["postgres_rows"] == ROWS + 5 - 3 + 1
    assert by_name(result)["item_master"]["missing"] == {"count": 1, "ids": [3]}
    assert result["in_sync"] is False and result["changed"] is False

    failed, predicted = run(dict(args, sync=True), capsys, check_mode=True)
    assert not failed and predicted["changed"] is True
    assert by_name(predicted)["processed_invoices"]["synced"] == {"upserted": 6, "deleted": 0}
    assert len(pg_rows(pg, "processed_invoices")) == ROWS + 5 - 3 + 1  # check mode wrote nothing

    failed, synced = run(dict(args, sync=True), capsys)
    assert not failed and synced["changed"] is True
    assert by_name(synced)["processed_invoices"]["synced"] == {"upserted": 6, "deleted": 0}
    assert synced["remaining_differences"] == 1  # the extra row stays without delete_extra
    pg_now = pg_rows(pg, "processed_invoices")
    assert [r for r in pg_now if r[0] != 5000000] == sqlite_before  # exact values, floats included

    failed, again = run(dict(args, sync=True), capsys)
    assert not failed and again["changed"] is False
    assert by_name(again)["processed_invoices"]["extra"]["ids"] == [5000000]

    failed, cleaned = run(dict(args, sync=True, delete_extra=True), capsys)
    assert not failed and cleaned["changed"] is True
    assert by_name(cleaned)["processed_invoices"]["synced"] == {"upserted": 0, "deleted": 1}
    failed, final = run(args, capsys)
    assert final["in_sync"] is True and final["remaining_differences"] == 0
    assert pg_rows(pg, "processed_invoices") == sqlite_before


def test_finds_changes_that_keep_sums_or_renderings_alike(dbs, capsys):
    """Changes a weaker summary misses: one ulp past the 15th digit, values swapped between two rows of one
    range, a NULL moved to another row, an empty string for a NULL."""
    path, dsn, pg = dbs
    amount_1120 = dict((r[0], r[5]) for r in lite_rows(path, "processed_invoices"))[1120]
    with pg, pg.cursor() as cur:
        cur.execute("UPDATE processed_invoices SET amount = %s WHERE id = 1120",
                    (math.nextafter(amount_1120, math.inf),))
        cur.execute("UPDATE processed_invoices SET amount = CASE id WHEN 11 THEN 22.0 ELSE 12.1 END "
                    "WHERE id IN (11, 20)")  # 12.1 and 22.0 in SQLite
        cur.execute("UPDATE processed_invoices p SET vendor = q.vendor FROM processed_invoices q "
                    "WHERE (p.id, q.id) IN ((70, 71), (71, 70))")  # NULL and a name in SQLite
        cur.execute("UPDATE processed_invoices SET vendor = '' WHERE id = 140")  # NULL in SQLite
    failed, result = run(dict(sqlite_path=path, dsn=dsn, chunk_size=1000), capsys)
    assert not failed, result
    assert by_name(result)["processed_invoices"]["changed"] == {"count": 6, "ids": [11, 20, 70, 71, 140, 1120]}
    assert by_name(result)["item_master"]["changed"]["count"] == 0


def test_id_lists_are_bounded_but_totals_exact(dbs, capsys):
    path, dsn, pg = dbs
    pg_do(pg, "DELETE FROM processed_invoices WHERE id <= 300")
    failed, result = run(dict(sqlite_path=path, dsn=dsn, tables=["processed_invoices"], max_ids=10), capsys)
    assert not failed
    missing = by_name(result)["processed_invoices"]["missing"]
    assert missing["count"] == 300 and missing["ids"] == list(range(1, 11))


def test_missing_table_is_reported_not_crashed(dbs, capsys):
    path, dsn, pg = dbs
    pg_do(pg, "DROP TABLE item_master")
    failed, result = run(dict(sqlite_path=path, dsn=dsn, sync=True), capsys)
    assert not failed, result
    item = by_name(result)["item_master"]
    assert "does not exist in PostgreSQL" in item["error"] and item["in_sync"] is False
    assert by_name(result)["processed_invoices"]["in_sync"] is True
    failed, result = run(dict(sqlite_path=path, dsn=dsn, fail_on_difference=True), capsys)
    assert failed and "item_master" in result["msg"]


def test_fail_on_difference_and_metrics_counter(dbs, capsys, api):
    from ansible_collections.inventory_enterprise.ops.tests.unit.servers import metrics_text, route
    path, dsn, pg = dbs
    text = metrics_text() + "# HELP db_dual_write_errors Failed mirror writes\n# TYPE db_dual_write_errors counter\n" \
                            "db_dual_write_errors_total 4.0\n"
    api.use("healthy", **{"/metrics": route(200, text, "text/plain; version=0.0.4")})
    pg_do(pg, "DELETE FROM item_master WHERE id = 7")
    failed, result = run(dict(sqlite_path=path, dsn=dsn, check_metrics=True, api_url=api.url,
                              fail_on_difference=True), capsys)
    assert failed and "item_master 1 missing" in result["msg"] and "sync=true" in result["msg"]
    assert result["dual_write_errors"] == 4.0


def test_bad_connection_names_the_server_without_password(tmp_path, capsys):
    path = str(tmp_path / "db.sqlite")
    sqlite3.connect(path).execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    failed, result = run(dict(sqlite_path=path, dsn="postgresql://u:Sup3rSecret@127.0.0.1:1/db",
                              connect_timeout=2), capsys)
    assert failed and "Sup3rSecret" not in json.dumps(result) and "u@127.0.0.1:1/db" in result["msg"]
