# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""dual_write_parity results that never lie, between a real SQLite file and a real scratch PostgreSQL database:
check mode never claims a repair, a sync never deletes rows SQLite committed during the run, a failure after a
write says what was written, and damaged, locked or unwritable SQLite files end in a clear message.

Run: cd /work/main && PYTHONPATH=build/collections .venv/bin/python -m pytest \
    tests/unit/plugins/modules/test_dual_write_parity_honest.py -q
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import sqlite3
import threading

import pytest

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.return_docs import problems_of
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.sqlite_faults import corrupt, unwritable
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_dual_write_parity import (
    lite_rows, pg_do, pg_rows, run)

from ansible_collections.inventory_enterprise.ops.plugins.modules import dual_write_parity
from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _parity

psycopg2 = pytest.importorskip("psycopg2")
from psycopg2.extras import execute_values  # noqa: E402  pylint: disable=wrong-import-position

ROWS = 3000


@pytest.fixture
def dbs(tmp_path):
    """SQLite in the rollback journal (journal_mode=DELETE), where a writer locks readers' writes out, and its
    identical PostgreSQL mirror."""
    from ansible_collections.inventory_enterprise.ops.tests.support.servers import scratch_postgres_database
    path = str(tmp_path / "db.sqlite")
    lite = sqlite3.connect(path, isolation_level=None)
    lite.execute("CREATE TABLE item_master (id INTEGER PRIMARY KEY, item_code TEXT, name TEXT)")
    lite.execute("CREATE TABLE processed_invoices (id INTEGER PRIMARY KEY, vendor TEXT, amount REAL)")
    items = [(n, "I-%d" % n, "Item %d" % n) for n in range(1, 41)]
    invoices = [(n, "Vendor %d" % (n % 13), n * 0.25) for n in range(1, ROWS + 1)]
    lite.execute("BEGIN")
    lite.executemany("INSERT INTO item_master VALUES (?,?,?)", items)
    lite.executemany("INSERT INTO processed_invoices VALUES (?,?,?)", invoices)
    lite.execute("COMMIT")
    lite.close()
    with scratch_postgres_database("ie_test_honest") as dsn:
        pg = psycopg2.connect(dsn)
        with pg, pg.cursor() as cur:
            cur.execute("CREATE TABLE item_master (id bigint PRIMARY KEY, item_code text, name text)")
            cur.execute("CREATE TABLE processed_invoices (id bigint PRIMARY KEY, vendor text, amount double precision)")
            execute_values(cur, "INSERT INTO item_master VALUES %s", items)
            execute_values(cur, "INSERT INTO processed_invoices VALUES %s", invoices)
        yield path, dsn, pg
        pg.close()


def pg_triggers(pg):
    with pg, pg.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE '_ie_parity%'")
        return cur.fetchone()[0]


def by_name(result):
    return dict((t["name"], t) for t in result["tables"])


def test_check_mode_never_claims_a_repair(dbs, capsys):
    path, dsn, pg = dbs
    pg_do(pg, "DELETE FROM processed_invoices WHERE id IN (4, 5)", "UPDATE item_master SET name = 'x' WHERE id = 9")
    args = dict(sqlite_path=path, dsn=dsn, sync=True, fail_on_difference=True)
    failed, predicted = run(args, capsys, check_mode=True)
    assert failed and "SQLite and PostgreSQL differ" in predicted["msg"]
    assert predicted["remaining_differences"] == 3 and predicted["would_repair"] == 3
    assert predicted["executed"] == [] and predicted["changed"] is True
    assert problems_of(dual_write_parity, predicted) == []
    assert len(pg_rows(pg, "processed_invoices")) == ROWS - 2  # nothing was written

    failed, synced = run(args, capsys)
    assert not failed and synced["remaining_differences"] == 0 and synced["would_repair"] == 0
    assert synced["executed"] == ["item_master: 1 row(s) upserted and 0 deleted in PostgreSQL",
                                  "processed_invoices: 2 row(s) upserted and 0 deleted in PostgreSQL"]


def test_rows_committed_to_sqlite_during_the_sync_are_never_deleted(dbs, capsys, monkeypatch):
    """The service commits rows to SQLite after the comparison's snapshot and before the sync deletes what only
    PostgreSQL had (its mirror writes had landed first): the sync must see them and keep them."""
    path, dsn, pg = dbs
    extra = [(n, "mirror first", n * 0.25) for n in range(ROWS + 1, ROWS + 61)]
    with pg, pg.cursor() as cur:
        execute_values(cur, "INSERT INTO processed_invoices VALUES %s", extra)
        cur.execute("DELETE FROM processed_invoices WHERE id IN (7, 8)")
        cur.execute("UPDATE processed_invoices SET amount = -1 WHERE id = 5")
    snapshot_taken, committed = threading.Event(), threading.Event()
    failures = []

    def service():
        """A real second writer: commits the first 30 extra rows to SQLite, changes row 5, deletes row 7."""
        try:
            snapshot_taken.wait(30)
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO processed_invoices VALUES (?,?,?)", extra[:30])
            conn.execute("UPDATE processed_invoices SET amount = 99.5 WHERE id = 5")
            conn.execute("DELETE FROM processed_invoices WHERE id = 7")
            conn.execute("COMMIT")
            conn.close()
        except Exception as exc:  # pylint: disable=broad-except
            failures.append(exc)
        finally:
            committed.set()

    real_sync = _parity.sync_table

    def sync_after_the_service_wrote(*args, **kwargs):
        snapshot_taken.set()
        assert committed.wait(30)
        return real_sync(*args, **kwargs)

    monkeypatch.setattr(_parity, "sync_table", sync_after_the_service_wrote)
    writer = threading.Thread(target=service)
    writer.start()
    try:
        failed, result = run(dict(sqlite_path=path, dsn=dsn, tables=["processed_invoices"], sync=True,
                                  delete_extra=True), capsys)
    finally:
        snapshot_taken.set()
        writer.join()
    assert not failures and not failed, result
    assert problems_of(dual_write_parity, result) == []
    table = by_name(result)["processed_invoices"]
    assert table["extra"]["count"] == 60 and table["missing"]["ids"] == [7, 8] and table["changed"]["ids"] == [5]
    assert table["synced"] == {"upserted": 2, "deleted": 30}  # rows 5 (as SQLite has it now) and 8
    assert table["skipped"] == {"count": 31, "ids": [7] + [n for n, _v, _a in extra[:30]]}
    assert result["remaining_differences"] == 31
    # Row by row, both databases hold the same data.
    assert pg_rows(pg, "processed_invoices") == lite_rows(path, "processed_invoices")
    failed, again = run(dict(sqlite_path=path, dsn=dsn), capsys)
    assert not failed and again["in_sync"] is True


def test_a_failing_sync_reports_the_tables_it_already_synced(dbs, capsys):
    path, dsn, pg = dbs
    pg_do(pg, "DELETE FROM item_master WHERE id = 3",
          "ALTER TABLE processed_invoices ADD CONSTRAINT amount_below_1000 CHECK (amount < 1000) NOT VALID")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE processed_invoices SET amount = 5000 WHERE id = 10")
    conn.commit()
    conn.close()
    failed, result = run(dict(sqlite_path=path, dsn=dsn, tables=["item_master", "processed_invoices"], sync=True),
                         capsys)
    assert failed and result["changed"] is True and problems_of(dual_write_parity, result) == []
    assert result["executed"] == ["item_master: 1 row(s) upserted and 0 deleted in PostgreSQL"]
    assert by_name(result)["item_master"]["synced"] == {"upserted": 1, "deleted": 0}
    assert by_name(result)["processed_invoices"]["changed"]["ids"] == [10]
    msg = result["msg"]
    assert "syncing" in msg and "processed_invoices" in msg and "amount_below_1000" in msg and "rolled back" in msg
    assert "already written: item_master: 1 row(s) upserted" in msg
    assert pg_rows(pg, "item_master") == lite_rows(path, "item_master")  # the first table really was synced


def test_locked_rollback_journal_after_postgres_tracking_was_installed(dbs, capsys):
    path, dsn, pg = dbs
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO item_master VALUES (41, 'I-41', 'written while the check runs')")
    try:
        failed, result = run(dict(sqlite_path=path, dsn=dsn, change_tracking="present", busy_timeout=0.2,
                                  busy_retries=0), capsys)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert failed and result["changed"] is True
    assert result["executed"] and all(a.startswith("postgres: ") for a in result["executed"])
    assert pg_triggers(pg) == 4  # what executed says: PostgreSQL's tracking is in place
    msg = result["msg"]
    assert "changing change tracking of %s failed" % path in msg and "locked" in msg
    assert "database_locked.yml" in msg and "already written: postgres: created" in msg


def test_unwritable_sqlite_file_fails_saying_what_to_check(dbs, capsys):
    path, dsn, pg = dbs
    with unwritable(path):
        failed, result = run(dict(sqlite_path=path, dsn=dsn, change_tracking="present"), capsys)
    assert failed and result["changed"] is True and pg_triggers(pg) == 4
    msg = result["msg"]
    assert "changing change tracking of %s failed" % path in msg and "readonly" in msg
    assert "owner and mode" in msg and "lsattr" in msg and "already written: postgres: created" in msg


def test_corrupt_sqlite_file_fails_naming_the_table_and_what_to_do(dbs, capsys):
    path, dsn, _pg = dbs
    corrupt(path)
    failed, result = run(dict(sqlite_path=path, dsn=dsn, sync=True), capsys)
    assert failed and result["changed"] is False and result["executed"] == []
    msg = result["msg"]
    assert "comparing table" in msg and path in msg and "malformed" in msg
    assert "integrity_check" in msg and "Restore from Backup" in msg
