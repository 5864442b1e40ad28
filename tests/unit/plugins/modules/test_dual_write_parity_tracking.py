# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""dual_write_parity with change_tracking=present, between a real SQLite file and a real scratch PostgreSQL
database: incremental runs compare only the rows written since the last run and still find every difference;
whatever triggers cannot see (restore, TRUNCATE, disabled triggers, schema change, rows gone without a trigger)
turns the run into a full one.

Run: cd /work/main && PYTHONPATH=build/collections .venv/bin/python -m pytest \
    tests/unit/plugins/modules/test_dual_write_parity_tracking.py -q
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import sqlite3

import psycopg2
import pytest
from psycopg2.extras import execute_values

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

from ansible_collections.inventory_enterprise.ops.plugins.modules import dual_write_parity
from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _parity_run, _parity_tracking

ROWS = 3000


@pytest.fixture
def dbs(tmp_path):
    from ansible_collections.inventory_enterprise.ops.tests.support.servers import scratch_postgres_database
    path = str(tmp_path / "db.sqlite")
    lite = sqlite3.connect(path, isolation_level=None)
    lite.execute("PRAGMA journal_mode=WAL")
    lite.execute("CREATE TABLE processed_invoices (id INTEGER PRIMARY KEY, vendor TEXT, amount REAL)")
    lite.execute("CREATE TABLE item_master (id INTEGER PRIMARY KEY, item_code TEXT UNIQUE, name TEXT)")
    invoices = [(n, "Vendor %d" % (n % 13), n * 1.25) for n in range(1, ROWS + 1)]
    items = [(n, "I-%d" % n, "Item %d" % n) for n in range(1, 41)]
    lite.execute("BEGIN")
    lite.executemany("INSERT INTO processed_invoices VALUES (?,?,?)", invoices)
    lite.executemany("INSERT INTO item_master VALUES (?,?,?)", items)
    lite.execute("COMMIT")
    with scratch_postgres_database("ie_test_tracking") as dsn:
        pg = psycopg2.connect(dsn)
        with pg, pg.cursor() as cur:
            cur.execute("CREATE TABLE processed_invoices (id bigint PRIMARY KEY, vendor text, amount double precision)")
            cur.execute("CREATE TABLE item_master (id bigint PRIMARY KEY, item_code text, name text)")
            execute_values(cur, "INSERT INTO processed_invoices VALUES %s", invoices)
            execute_values(cur, "INSERT INTO item_master VALUES %s", items)
        yield path, dsn, pg, lite
        pg.close()
    lite.close()


def run(dbs, capsys, check_mode=False, **extra):
    path, dsn = dbs[0], dbs[1]
    args = dict(sqlite_path=path, dsn=dsn, change_tracking="present", chunk_size=500)
    args.update(extra)
    failed, result = run_module(dual_write_parity, args, capsys, check_mode=check_mode)
    assert not failed, result
    return result


def pg_do(pg, *statements):
    with pg, pg.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def pg_marks(pg):
    with pg, pg.cursor() as cur:
        cur.execute("SELECT table_name, row_key FROM _ie_parity_changes ORDER BY 1, 2")
        return cur.fetchall()


def table(result, name="processed_invoices"):
    return dict((t["name"], t) for t in result["tables"])[name]


def found(result, name="processed_invoices"):
    t = table(result, name)
    return dict((k, t[k]["ids"]) for k in ("missing", "extra", "changed") if t[k]["count"])


def baseline(dbs, capsys):
    first = run(dbs, capsys)
    assert first["changed"] is True and first["tracking"]["method"] == "full"
    assert "installed" in first["tracking"]["reason"]
    second = run(dbs, capsys)
    assert second["changed"] is False and second["tracking"] == dict(state="present", actions=[],
                                                                     method="incremental", reason=None)
    return second


def test_check_mode_predicts_the_install_and_writes_nothing(dbs, capsys):
    path, _dsn, pg, _lite = dbs
    predicted = run(dbs, capsys, check_mode=True)
    assert predicted["changed"] is True and predicted["tracking"]["method"] == "full"
    assert "would be installed" in predicted["tracking"]["reason"]
    # SQLite: the two tables, 3 triggers per table; PostgreSQL: the two tables, 2 triggers per table, the functions.
    assert len(predicted["tracking"]["actions"]) == 1 + 6 + 1 + 4 + 1
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name LIKE '%parity%'").fetchall() == []
    conn.close()
    with pg, pg.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE '_ie_parity%'")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT to_regclass('_ie_parity_changes')")
        assert cur.fetchone() == (None,)
    installed = run(dbs, capsys)
    assert installed["changed"] is True and installed["tracking"]["actions"] == predicted["tracking"]["actions"]


def test_incremental_runs_read_only_written_rows_and_find_every_difference(dbs, capsys):
    path, _dsn, pg, lite = dbs
    second = baseline(dbs, capsys)
    assert table(second)["keys_checked"] == 0 and table(second)["sqlite_rows"] == ROWS and second["in_sync"]
    # The bookkeeping tables are not compared as service tables.
    assert sorted(t["name"] for t in second["tables"]) == ["item_master", "processed_invoices"]

    pg_do(pg, "UPDATE processed_invoices SET amount = amount + 0.5 WHERE id IN (10, 2000)",
          "DELETE FROM processed_invoices WHERE id = 77",
          "INSERT INTO processed_invoices VALUES (9000, 'x', 1)")
    lite.execute("UPDATE processed_invoices SET vendor = 'changed in SQLite only' WHERE id = 1500")
    lite.execute("INSERT INTO processed_invoices VALUES (3001, 'new', 3)")  # and mirrored: equal
    pg_do(pg, "INSERT INTO processed_invoices VALUES (3001, 'new', 3)")

    checked = run(dbs, capsys, check_mode=True, sync=True)
    result = run(dbs, capsys)
    for r in (checked, result):
        assert r["tracking"]["method"] == "incremental"
        assert found(r) == dict(missing=[77], extra=[9000], changed=[10, 1500, 2000])
        assert table(r)["keys_checked"] == 6 and table(r, "item_master")["keys_checked"] == 0
    assert checked["changed"] is True and table(checked)["synced"]["upserted"] == 4
    # Equal keys were unmarked, different ones stay marked until a run finds them equal.
    marks = set(pg_marks(pg)) | set(("processed_invoices", k) for (k,) in lite.execute(
        "SELECT row_key FROM _ie_parity_changes"))
    assert marks == set(("processed_invoices", k) for k in (10, 77, 1500, 2000, 9000))

    synced = run(dbs, capsys, sync=True, delete_extra=True)
    assert synced["changed"] is True and synced["remaining_differences"] == 0
    after = run(dbs, capsys)
    assert after["changed"] is False and after["in_sync"] and after["tracking"]["method"] == "incremental"
    assert table(after)["keys_checked"] == 5
    assert run(dbs, capsys)["tables"][0]["keys_checked"] == 0
    assert pg_marks(pg) == [] and lite.execute("SELECT count(*) FROM _ie_parity_changes").fetchone()[0] == 0


def test_a_full_run_marks_what_it_finds_so_incremental_runs_keep_reporting_it(dbs, capsys):
    _path, _dsn, pg, _lite = dbs
    pg_do(pg, "UPDATE item_master SET name = 'drift before tracking' WHERE id = 3")
    first = run(dbs, capsys)
    assert first["tracking"]["method"] == "full" and found(first, "item_master") == dict(changed=[3])
    again = run(dbs, capsys)
    assert again["tracking"]["method"] == "incremental" and found(again, "item_master") == dict(changed=[3])


def test_restore_truncate_and_schema_change_make_the_run_full(dbs, capsys):
    path, _dsn, pg, lite = dbs
    baseline(dbs, capsys)
    backup = sqlite3.connect(path + ".bak")
    lite.backup(backup)  # a backup holding the current checkpoint
    run(dbs, capsys)  # the next run stores a new checkpoint in both databases
    backup.backup(lite)  # restored
    backup.close()
    result = run(dbs, capsys)
    assert result["tracking"]["method"] == "full" and "different checkpoints" in result["tracking"]["reason"]
    assert run(dbs, capsys)["tracking"]["method"] == "incremental"

    pg_do(pg, "TRUNCATE item_master")
    result = run(dbs, capsys)
    assert result["tracking"]["method"] == "full" and "no checkpoint in PostgreSQL" in result["tracking"]["reason"]
    assert table(result, "item_master")["missing"]["count"] == 40

    pg_do(pg, "ALTER TABLE processed_invoices ADD COLUMN note text")
    lite2 = sqlite3.connect(path)
    lite2.execute("ALTER TABLE processed_invoices ADD COLUMN note TEXT")
    lite2.commit()
    lite2.close()
    result = run(dbs, capsys)
    assert result["tracking"]["method"] == "full" and "columns changed" in result["tracking"]["reason"]


def test_writes_no_trigger_saw_are_found_by_the_row_counts_and_disabled_triggers_reinstalled(dbs, capsys):
    _path, _dsn, pg, lite = dbs
    baseline(dbs, capsys)
    # INSERT OR REPLACE on a UNIQUE column deletes row 5 in SQLite without firing its delete trigger.
    lite.execute("INSERT OR REPLACE INTO item_master VALUES (41, 'I-5', 'replacement')")
    pg_do(pg, "INSERT INTO item_master VALUES (41, 'I-5', 'replacement')")
    result = run(dbs, capsys)
    assert "row counts of item_master" in result["tracking"]["reason"]
    assert table(result, "item_master")["method"] == "full" and table(result)["method"] == "incremental"
    assert found(result, "item_master") == dict(extra=[5])

    pg_do(pg, "ALTER TABLE processed_invoices DISABLE TRIGGER _ie_parity_track",
          "UPDATE processed_invoices SET amount = -1 WHERE id = 12")
    result = run(dbs, capsys)
    assert result["changed"] is True
    assert result["tracking"]["actions"] == ["postgres: created trigger _ie_parity_track on processed_invoices"]
    assert result["tracking"]["method"] == "full" and found(result) == dict(changed=[12])
    assert run(dbs, capsys)["changed"] is False


def test_a_run_after_writes_to_most_of_a_table_compares_it_whole(dbs, capsys):
    _path, _dsn, pg, _lite = dbs
    baseline(dbs, capsys)
    pg_do(pg, "UPDATE processed_invoices SET amount = amount WHERE id <= 1100",
          "UPDATE processed_invoices SET vendor = 'x' WHERE id = 2999")
    result = run(dbs, capsys)
    assert "1101 keys of processed_invoices" in result["tracking"]["reason"]
    assert table(result)["method"] == "full" and table(result, "item_master")["method"] == "incremental"
    assert found(result) == dict(changed=[2999])
    again = run(dbs, capsys)  # the full run unmarked the equal rows
    assert again["tracking"]["method"] == "incremental" and table(again)["keys_checked"] == 1


def test_the_service_writing_as_another_database_user_is_tracked(dbs, capsys):
    _path, _dsn, pg, lite = dbs
    baseline(dbs, capsys)
    # The writer may write the service's tables, not the tracking tables: the trigger functions write those.
    pg_do(pg, "GRANT INSERT, UPDATE, DELETE, SELECT ON processed_invoices TO ie_test_writer")
    pg_do(pg, "SET ROLE ie_test_writer", "UPDATE processed_invoices SET amount = 0 WHERE id = 8",
          "DELETE FROM processed_invoices WHERE id = 9", "RESET ROLE")
    lite.execute("UPDATE processed_invoices SET amount = 0 WHERE id = 8")
    result = run(dbs, capsys)
    assert result["tracking"]["method"] == "incremental" and found(result) == dict(missing=[9])
    assert table(result)["keys_checked"] == 2


def test_clearing_keeps_a_mark_written_after_the_snapshot(tmp_path):
    path = str(tmp_path / "db.sqlite")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    from ansible_collections.inventory_enterprise.ops.plugins.module_utils._parity import TableSpec
    spec = TableSpec.from_sqlite(conn, "t")
    tracker = _parity_tracking.SqliteTracker(conn, _parity_run.sqlite_writer(conn, path))
    statements, actions = tracker.plan([spec])
    tracker.run("install", statements)
    assert len(actions) == 4 and tracker.plan([spec]) == ([], [])
    conn.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    seen = tracker.marks("t")
    assert seen == {1: 1, 2: 1}
    conn.execute("UPDATE t SET v = 'c' WHERE id = 2")  # after the snapshot: generation 2
    tracker.clear("t", seen)
    assert tracker.marks("t") == {2: 2}
    conn.execute("UPDATE t SET id = 7 WHERE id = 2")  # a key change marks both keys
    conn.execute("DELETE FROM t WHERE id = 1")
    assert tracker.marks("t") == {1: 1, 2: 3, 7: 1}


def test_absent_removes_tracking_from_both_databases(dbs, capsys):
    path, _dsn, pg, _lite = dbs
    baseline(dbs, capsys)
    predicted = run(dbs, capsys, check_mode=True, change_tracking="absent")
    assert predicted["changed"] is True and pg_marks(pg) == []
    removed = run(dbs, capsys, change_tracking="absent")
    assert removed["changed"] is True and removed["tracking"]["actions"] == predicted["tracking"]["actions"]
    assert removed["in_sync"] and removed["tracking"]["method"] == "full"
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name LIKE '%parity%'").fetchall() == []
    conn.close()
    with pg, pg.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE '_ie_parity%'")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT to_regclass('_ie_parity_changes'), to_regprocedure('_ie_parity_mark()')")
        assert cur.fetchone() == (None, None)
    assert run(dbs, capsys, change_tracking="absent")["changed"] is False


def test_full_check_needs_tracking(dbs, capsys):
    failed, result = run_module(dual_write_parity, dict(sqlite_path=dbs[0], dsn=dbs[1], full_check=True), capsys)
    assert failed and "full_check needs change_tracking=present" in result["msg"]
