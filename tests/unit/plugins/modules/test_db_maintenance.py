# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""db_maintenance against real SQLite files (live, under a concurrent writer, locked, corrupt) and a real
scratch PostgreSQL database.

Run: cd /work/main && PYTHONPATH=build/collections .venv/bin/python -m pytest tests/unit/plugins/modules/test_db_maintenance.py -q
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.return_docs import problems_of
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.sqlite_faults import corrupt, unwritable
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

from ansible_collections.inventory_enterprise.ops.plugins.modules import db_maintenance

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


def run(args, capsys, check_mode=False, diff=False):
    return run_module(db_maintenance, args, capsys, check_mode=check_mode, diff=diff)


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


def test_vacuum_reclaims_space_keeps_every_row_and_is_idempotent(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite")
    before_rows = rows_of(path)
    size_before = os.path.getsize(path)

    failed, result = run(dict(path=path, tasks=["vacuum"]), capsys)
    assert not failed, result
    vacuum = result["report"]["vacuum"]
    assert result["changed"] is True and vacuum["ran"] is True
    assert vacuum["free_ratio_before"] > 0.1
    assert vacuum["bytes_reclaimed"] > 0 and vacuum["checkpointed"] is True
    assert os.path.getsize(path) == vacuum["bytes_after"] == size_before - vacuum["bytes_reclaimed"]
    assert rows_of(path) == before_rows

    failed, again = run(dict(path=path, tasks=["vacuum"]), capsys)
    assert not failed and again["changed"] is False
    assert "not needed" in again["report"]["vacuum"]["message"]


def test_check_mode_predicts_and_never_writes(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False)
    digest, mtime = sha(path), os.stat(path).st_mtime_ns
    failed, result = run(dict(path=path, tasks=["wal", "vacuum", "reindex", "analyze", "stats"]), capsys,
                         check_mode=True, diff=True)
    assert not failed, result
    assert set(result["changed_tasks"]) == {"wal", "vacuum", "reindex", "analyze"}
    assert result["report"]["vacuum"]["bytes_reclaimed"] > 0
    assert result["diff"] == {"before": "journal_mode: delete\n", "after": "journal_mode: wal\n"}
    assert sha(path) == digest and os.stat(path).st_mtime_ns == mtime
    assert not os.path.exists(path + "-wal")


def test_below_threshold_nothing_happens_unless_forced(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", delete_fraction=0)
    failed, result = run(dict(path=path, tasks=["vacuum"]), capsys)
    assert not failed and result["changed"] is False
    failed, forced = run(dict(path=path, tasks=["vacuum"], vacuum_force=True), capsys)
    assert not failed and forced["changed"] is True and forced["report"]["vacuum"]["ran"] is True


def test_vacuum_under_concurrent_writes_loses_nothing(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", items=6000)
    stop = threading.Event()
    committed = []

    def writer():
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        n = 0
        while not stop.is_set():
            n += 1
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO inventory_counts (count_date, location) VALUES (?, ?)", ("2026-01-01", "w%d" % n))
            conn.execute("COMMIT")
            committed.append("w%d" % n)
            time.sleep(0.002)
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.1)
        failed, result = run(dict(path=path, tasks=["quick_check", "vacuum", "reindex", "analyze"]), capsys)
    finally:
        stop.set()
        thread.join()
    assert not failed, result
    assert result["report"]["vacuum"]["ran"] is True
    assert len(committed) > 5
    locations = {row[2] for row in rows_of(path, "inventory_counts")}
    assert set(committed) <= locations
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_locked_database_fails_clearly_and_changes_nothing(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        failed, result = run(dict(path=path, tasks=["vacuum"], busy_timeout=0.2, busy_retries=1), capsys)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert failed
    assert "locked" in result["msg"] and path in result["msg"] and "nothing was changed" in result["msg"]
    assert "database_locked.yml" in result["msg"]
    # The database is whole and still has its free pages to reclaim.
    failed, again = run(dict(path=path, tasks=["integrity_check", "vacuum"]), capsys)
    assert not failed and again["report"]["vacuum"]["ran"] is True


def test_wal_switch_reports_diff_and_is_idempotent(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False)
    failed, result = run(dict(path=path, tasks=["wal"]), capsys, diff=True)
    assert not failed and result["changed"] is True
    assert result["report"]["wal"]["before"] == "delete" and result["report"]["wal"]["after"] == "wal"
    assert result["diff"]["after"] == "journal_mode: wal\n"
    failed, again = run(dict(path=path, tasks=["wal"]), capsys)
    assert not failed and again["changed"] is False


def test_reindex_only_fragmented_indexes_then_nothing(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite")
    failed, result = run(dict(path=path, tasks=["reindex"]), capsys)
    assert not failed, result
    reindex = result["report"]["reindex"]
    assert "idx_item_master_code" in reindex["rebuilt"]
    assert reindex["fragmentation"]["idx_item_master_code"] > 0.25
    failed, again = run(dict(path=path, tasks=["reindex"]), capsys)
    assert not failed and again["changed"] is False, again
    failed, unknown = run(dict(path=path, tasks=["reindex"], indexes=["idx_nope"]), capsys)
    assert failed and "idx_nope" in unknown["msg"] and "idx_item_master_code" in unknown["msg"]


def test_analyze_and_optimize_change_only_when_statistics_change(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite")
    failed, predicted = run(dict(path=path, tasks=["analyze"]), capsys, check_mode=True)
    assert not failed and predicted["changed"] is True
    failed, result = run(dict(path=path, tasks=["analyze"]), capsys)
    assert not failed and result["changed"] is True
    failed, again = run(dict(path=path, tasks=["analyze", "optimize"]), capsys)
    assert not failed and again["changed"] is False, again
    failed, predicted = run(dict(path=path, tasks=["analyze"]), capsys, check_mode=True)
    assert predicted["changed"] is False


def test_stats_report_sizes_tables_and_guide_row_counts(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", items=1000)
    failed, result = run(dict(path=path, tasks=["stats"], top=3), capsys)
    assert not failed and result["changed"] is False
    stats = result["report"]["stats"]
    assert stats["files"]["db"] == os.path.getsize(path)
    assert len(stats["tables"]) == 3 and stats["tables"][0]["bytes"] >= stats["tables"][1]["bytes"]
    assert stats["row_counts"] == {"inventory_count_items": 0, "processed_invoices": 0, "ai_forecasts": 1000}
    assert stats["journal_mode"] == "wal"


def test_corrupt_database_fails_the_integrity_check_before_any_write(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False, delete_fraction=0)
    with open(path, "r+b") as handle:
        handle.seek(4096 * 2 + 100)
        handle.write(os.urandom(12000))
    digest = sha(path)
    failed, result = run(dict(path=path, tasks=["integrity_check", "vacuum"], vacuum_force=True), capsys)
    assert failed
    assert "integrity_check of %s found" % path in result["msg"] and "backup" in result["msg"]
    assert sha(path) == digest


def test_missing_file_and_wrong_engine_tasks(tmp_path, capsys):
    failed, result = run(dict(path=str(tmp_path / "nope.db"), tasks=["stats"]), capsys)
    assert failed and "does not exist" in result["msg"]
    assert not os.path.exists(str(tmp_path / "nope.db"))
    failed, result = run(dict(path=str(tmp_path / "nope.db"), tasks=["bloat"]), capsys)
    assert failed and "not available with engine=sqlite" in result["msg"]


def test_holders_are_found_and_stopped_only_when_asked(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", items=10)
    code = "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); c.execute('select 1 from item_master'); " \
           "print('ready', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code, path, "holder-marker"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        failed, result = run(dict(path=path, tasks=["holders"]), capsys)
        assert not failed and result["changed"] is False
        holders = result["report"]["holders"]["processes"]
        assert [h["pid"] for h in holders] == [proc.pid]
        assert "holder-marker" in holders[0]["cmdline"] and os.path.realpath(path) in holders[0]["files"]
        assert proc.poll() is None

        failed, predicted = run(dict(path=path, tasks=["holders"], stop_holders=True), capsys, check_mode=True)
        assert predicted["changed"] is True and proc.poll() is None

        failed, stopped = run(dict(path=path, tasks=["holders"], stop_holders=True, stop_timeout=5), capsys)
        assert not failed and stopped["changed"] is True
        assert stopped["report"]["holders"]["stopped"] == [{"pid": proc.pid, "outcome": "terminated"}]
        assert proc.wait(timeout=5) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


# --- partial failures and ordinary errors: a failure result says what was done and what to do ----------------------

def journal_mode(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()


def test_corrupt_file_after_a_wal_switch_fails_cleanly_and_reports_the_switch(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False, delete_fraction=0)
    corrupt(path)
    failed, result = run(dict(path=path, tasks=["wal", "stats"], count_tables=["item_master"]), capsys)
    assert failed and result["changed"] is True and result["changed_tasks"] == ["wal"]
    assert problems_of(db_maintenance, result) == []
    assert journal_mode(path) == "wal"  # the switch really happened before stats failed
    assert result["report"]["wal"] == dict(changed=True, before="delete", after="wal",
                                           message="journal mode delete -> WAL")
    assert result["failed_task"] == "stats" and result["report"]["stats"]["failed"] is True
    assert result["report"]["stats"]["changed"] is False
    msg = result["msg"]
    assert "the stats task of %s failed" % path in msg and "malformed" in msg
    assert "integrity_check" in msg and "Restore from Backup" in msg
    assert "already changed the database: wal: journal mode delete -> WAL" in msg


def test_stopped_holders_are_reported_when_a_locked_rollback_journal_stops_the_vacuum(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False)
    code = "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); c.execute('select 1 from item_master'); " \
           "print('ready', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code, path], stdout=subprocess.PIPE, text=True)
    # A writer of this process (not a holder the module stops) keeps the write lock of the rollback journal.
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        assert proc.stdout.readline().strip() == "ready"
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO inventory_counts (count_date, location) VALUES ('2026-01-01', 'locker')")
        failed, result = run(dict(path=path, tasks=["holders", "vacuum"], stop_holders=True, stop_timeout=5,
                                  busy_timeout=0.2, busy_retries=0), capsys)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
    assert failed and result["changed"] is True and result["changed_tasks"] == ["holders"]
    assert problems_of(db_maintenance, result) == []
    assert result["report"]["holders"]["stopped"] == [{"pid": proc.pid, "outcome": "terminated"}]
    assert result["failed_task"] == "vacuum"
    assert result["report"]["vacuum"]["failed"] is True and result["report"]["vacuum"]["changed"] is False
    msg = result["msg"]
    assert "VACUUM of %s failed" % path in msg and "locked" in msg and "database_locked.yml" in msg
    assert "already changed the database: holders: 1 process(es)" in msg


def test_unwritable_database_fails_saying_what_to_check(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False)
    digest = sha(path)
    with unwritable(path):
        failed, result = run(dict(path=path, tasks=["vacuum"]), capsys)
    assert failed and result["changed"] is False and result["failed_task"] == "vacuum"
    msg = result["msg"]
    assert "VACUUM of %s failed" % path in msg and "readonly" in msg
    assert "owner and mode" in msg and "lsattr" in msg and "become" in msg
    assert sha(path) == digest


# --- PostgreSQL ---------------------------------------------------------------------------------------------------

@pytest.fixture
def pg_dsn():
    """A scratch database; a missing server fails the test (a skip would let the suite pass untested)."""
    import psycopg2
    from ansible_collections.inventory_enterprise.ops.tests.support.servers import scratch_postgres_database
    try:
        with scratch_postgres_database("ie_test_maint") as dsn:
            yield dsn
    except psycopg2.OperationalError as exc:
        pytest.fail("PostgreSQL is not reachable (%s): tests/setup-system.sh starts it, "
                    "IE_TEST_PG_DSN names another server" % str(exc).strip())


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


def test_postgres_vacuum_then_nothing_to_do(pg_dsn, capsys):
    pg_exec(pg_dsn, "CREATE TABLE items (id bigint PRIMARY KEY, code text)",
            "INSERT INTO items SELECT g, 'code-' || g FROM generate_series(1, 5000) g",
            "CREATE TABLE quiet (id bigint PRIMARY KEY)",
            "VACUUM ANALYZE quiet",
            "DELETE FROM items WHERE id % 2 = 0")
    time.sleep(1.2)  # table statistics reach the shared stats within a second
    failed, predicted = run(dict(engine="postgresql", dsn=pg_dsn, tasks=["vacuum"]), capsys, check_mode=True)
    assert not failed and predicted["report"]["vacuum"]["tables"] == ["items"]
    failed, result = run(dict(engine="postgresql", dsn=pg_dsn, tasks=["vacuum", "stats", "bloat"]), capsys)
    assert not failed, result
    assert result["report"]["vacuum"]["tables"] == ["items"] and result["changed"] is True
    stats = result["report"]["stats"]
    assert stats["tables"][0]["name"] == "items" and stats["tables"][0]["dead_rows"] == 0
    assert stats["tables"][0]["live_rows"] == 2500
    bloat = {t["name"]: t for t in result["report"]["bloat"]["tables"]}
    assert bloat["items"]["status"] == "ok"  # below bloat_min_bytes
    assert bloat["items"]["bloat_percent"] > 20  # half the rows were deleted
    time.sleep(1.2)
    failed, again = run(dict(engine="postgresql", dsn=pg_dsn, tasks=["vacuum"]), capsys)
    assert not failed and again["changed"] is False, again


def test_postgres_reindex_drops_invalid_leftovers(pg_dsn, capsys):
    import psycopg2
    pg_exec(pg_dsn, "CREATE TABLE items (id bigint PRIMARY KEY, code text)",
            "INSERT INTO items VALUES (1, 'a'), (2, 'a')")
    with pytest.raises(psycopg2.Error):
        # What a failed REINDEX CONCURRENTLY leaves: an invalid index named *_ccnew.
        pg_exec(pg_dsn, "CREATE UNIQUE INDEX CONCURRENTLY items_code_idx_ccnew ON items (code)")
    failed, result = run(dict(engine="postgresql", dsn=pg_dsn, tasks=["reindex"]), capsys)
    assert not failed, result
    reindex = result["report"]["reindex"]
    assert reindex["dropped_invalid"] == ["items_code_idx_ccnew"] and reindex["concurrently"] is True
    failed, stats = run(dict(engine="postgresql", dsn=pg_dsn, tasks=["stats"]), capsys)
    assert [i["name"] for i in stats["report"]["stats"]["indexes"]] == ["items_pkey"]


def test_postgres_activity_shows_idle_in_transaction(pg_dsn, capsys):
    import psycopg2
    idle = psycopg2.connect(pg_dsn, application_name="idle-tx-test")
    try:
        with idle.cursor() as cur:
            cur.execute("SELECT 1")
        time.sleep(0.3)
        failed, result = run(dict(engine="postgresql", dsn=pg_dsn, tasks=["activity"]), capsys)
    finally:
        idle.close()
    assert not failed, result
    activity = result["report"]["activity"]
    assert activity["idle_in_transaction"] == 1 and activity["by_state"]["idle in transaction"] == 1
    assert activity["longest_idle_in_transaction"]["application"] == "idle-tx-test"
    assert activity["longest_idle_in_transaction"]["seconds"] >= 0.2
    assert activity["max_connections"] > 0


def test_postgres_errors_never_show_the_password(capsys):
    from ansible_collections.inventory_enterprise.ops.tests.support.servers import postgres_admin_dsn
    # A database that does not exist fails even where pg_hba trusts loopback connections.
    dsn = postgres_admin_dsn().replace("password=ie_test", "password=Wr0ngSecretPw").replace(
        "dbname=postgres", "dbname=ie_test_no_such_db")
    failed, result = run(dict(engine="postgresql", dsn=dsn, tasks=["activity"]), capsys)
    assert failed
    assert "Wr0ngSecretPw" not in json.dumps(result)
    assert "ie_test@127.0.0.1:5432/ie_test_no_such_db" in result["msg"] and "connect" in result["msg"]
    failed, result = run(dict(engine="postgresql", login_host="127.0.0.1", login_port=1, login_user="x",
                              login_password="An0therSecret", tasks=["stats"], connect_timeout=2), capsys)
    assert failed and "An0therSecret" not in json.dumps(result) and "x@127.0.0.1:1" in result["msg"]


def test_postgres_vacuum_failing_on_a_later_table_reports_the_tables_done(pg_dsn, capsys):
    import psycopg2
    pg_exec(pg_dsn, "CREATE TABLE a_first (id bigint PRIMARY KEY)", "CREATE TABLE b_locked (id bigint PRIMARY KEY)")
    locker = psycopg2.connect(pg_dsn)
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE b_locked IN ACCESS EXCLUSIVE MODE")
        failed, result = run(dict(engine="postgresql", dsn=pg_dsn + " options='-c lock_timeout=300'",
                                  tasks=["vacuum", "stats"], vacuum_force=True), capsys)
    finally:
        locker.close()
    assert failed and result["changed"] is True and result["changed_tasks"] == ["vacuum"]
    assert result["failed_task"] == "vacuum" and "stats" not in result["report"]
    vacuum = result["report"]["vacuum"]
    assert vacuum["tables"] == ["a_first"] and vacuum["failed"] is True and vacuum["changed"] is True
    assert problems_of(db_maintenance, result) == []
    assert "VACUUM (ANALYZE) of b_locked" in result["msg"] and "lock timeout" in result["msg"]
    assert "vacuum: ran VACUUM (ANALYZE) on a_first before it failed" in result["msg"]


def test_every_returned_key_is_documented(tmp_path, capsys, pg_dsn):
    path = make_db(tmp_path / "db.sqlite", wal=False)
    sqlite_tasks = ["holders", "integrity_check", "quick_check", "wal", "vacuum", "reindex", "analyze", "optimize",
                    "stats"]
    for check_mode in (True, False):
        failed, result = run(dict(path=path, tasks=sqlite_tasks), capsys, check_mode=check_mode, diff=True)
        assert not failed and set(result["report"]) == set(sqlite_tasks)
        assert problems_of(db_maintenance, result) == []
    pg_exec(pg_dsn, "CREATE TABLE items (id bigint PRIMARY KEY)", "INSERT INTO items SELECT generate_series(1, 10)")
    failed, result = run(dict(engine="postgresql", dsn=pg_dsn, vacuum_force=True,
                              tasks=["activity", "vacuum", "analyze", "reindex", "stats", "bloat"]), capsys)
    assert not failed and len(result["report"]) == 6 and problems_of(db_maintenance, result) == []
    failed, result = run(dict(path=str(tmp_path / "nope.db")), capsys)
    assert failed and result["failed_task"] is None and problems_of(db_maintenance, result) == []
