# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""sqlite_maintenance against real SQLite files: live, under a concurrent writer, locked, corrupt, unwritable."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sqlite3
import threading
import time

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.maintenance_dbs import (
    end_holder,
    journal_mode,
    make_db,
    rows_of,
    sha,
    start_holder,
)
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.return_docs import problems_of
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.sqlite_faults import corrupt, unwritable
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

from ansible_collections.inventory_enterprise.ops.plugins.modules import sqlite_maintenance

WRITES = ["holders", "integrity_check", "quick_check", "wal", "vacuum", "reindex", "analyze", "optimize"]


def run(args, capsys, check_mode=False, diff=False):
    return run_module(sqlite_maintenance, args, capsys, check_mode=check_mode, diff=diff)


def test_vacuum_reclaims_space_keeps_every_row_and_is_idempotent(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite")
    before_rows = rows_of(path)
    size_before = os.path.getsize(path)

    failed, result = run(dict(path=path, operations=["vacuum"]), capsys)
    assert not failed, result
    vacuum = result["report"]["vacuum"]
    assert result["changed"] is True and vacuum["ran"] is True
    assert vacuum["free_ratio_before"] > 0.1
    assert vacuum["bytes_reclaimed"] > 0 and vacuum["checkpointed"] is True
    assert os.path.getsize(path) == vacuum["bytes_after"] == size_before - vacuum["bytes_reclaimed"]
    assert rows_of(path) == before_rows
    assert result["executed_queries"] == ["VACUUM"]

    failed, again = run(dict(path=path, operations=["vacuum"]), capsys)
    assert not failed and again["changed"] is False and again["executed_queries"] == []
    assert "not needed" in again["report"]["vacuum"]["message"]


def test_check_mode_predicts_the_statements_and_never_writes(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False)
    digest, mtime = sha(path), os.stat(path).st_mtime_ns
    failed, result = run(dict(path=path, operations=["wal", "vacuum", "reindex", "analyze"]), capsys,
                         check_mode=True, diff=True)
    assert not failed, result
    assert set(result["changed_operations"]) == {"wal", "vacuum", "reindex", "analyze"}
    assert result["report"]["vacuum"]["bytes_reclaimed"] > 0
    assert result["diff"] == {"before": "journal_mode: delete\n", "after": "journal_mode: wal\n"}
    rebuilt = result["report"]["reindex"]["rebuilt"]
    assert result["executed_queries"] == (["PRAGMA journal_mode=WAL", "VACUUM"] +
                                          ['REINDEX "%s"' % name for name in rebuilt] + ["ANALYZE"])
    assert sha(path) == digest and os.stat(path).st_mtime_ns == mtime
    assert not os.path.exists(path + "-wal")

    # The real run executes them; VACUUM rebuilds every index, so the REINDEX that followed it is no longer needed.
    failed, real = run(dict(path=path, operations=["wal", "vacuum", "reindex", "analyze"]), capsys)
    assert not failed and real["executed_queries"] == ["PRAGMA journal_mode=WAL", "VACUUM", "ANALYZE"]


def test_below_threshold_nothing_happens_unless_forced(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", delete_fraction=0)
    failed, result = run(dict(path=path, operations=["vacuum"]), capsys)
    assert not failed and result["changed"] is False
    failed, forced = run(dict(path=path, operations=["vacuum"], vacuum_force=True), capsys)
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
        failed, result = run(dict(path=path, operations=["quick_check", "vacuum", "reindex", "analyze"]), capsys)
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
        failed, result = run(dict(path=path, operations=["vacuum"], busy_timeout=0.2, busy_retries=1), capsys)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert failed and result["executed_queries"] == [] and result["changed"] is False
    assert "locked" in result["msg"] and path in result["msg"] and "nothing was changed" in result["msg"]
    assert "database_locked.yml" in result["msg"]
    # The database is whole and still has its free pages to reclaim.
    failed, again = run(dict(path=path, operations=["integrity_check", "vacuum"]), capsys)
    assert not failed and again["report"]["vacuum"]["ran"] is True


def test_wal_switch_reports_diff_and_is_idempotent(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False)
    failed, result = run(dict(path=path, operations=["wal"]), capsys, diff=True)
    assert not failed and result["changed"] is True
    assert result["report"]["wal"]["before"] == "delete" and result["report"]["wal"]["after"] == "wal"
    assert result["diff"]["after"] == "journal_mode: wal\n"
    assert result["executed_queries"] == ["PRAGMA journal_mode=WAL"]
    failed, again = run(dict(path=path, operations=["wal"]), capsys)
    assert not failed and again["changed"] is False and again["executed_queries"] == []


def test_reindex_only_fragmented_indexes_then_nothing(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite")
    failed, result = run(dict(path=path, operations=["reindex"]), capsys)
    assert not failed, result
    reindex = result["report"]["reindex"]
    assert "idx_item_master_code" in reindex["rebuilt"]
    assert reindex["fragmentation"]["idx_item_master_code"] > 0.25
    assert 'REINDEX "idx_item_master_code"' in result["executed_queries"]
    failed, again = run(dict(path=path, operations=["reindex"]), capsys)
    assert not failed and again["changed"] is False, again
    failed, unknown = run(dict(path=path, operations=["reindex"], indexes=["idx_nope"]), capsys)
    assert failed and "idx_nope" in unknown["msg"] and "idx_item_master_code" in unknown["msg"]


def test_analyze_and_optimize_change_only_when_statistics_change(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite")
    failed, predicted = run(dict(path=path, operations=["analyze"]), capsys, check_mode=True)
    assert not failed and predicted["changed"] is True and predicted["executed_queries"] == ["ANALYZE"]
    failed, result = run(dict(path=path, operations=["analyze"]), capsys)
    assert not failed and result["changed"] is True
    failed, again = run(dict(path=path, operations=["analyze", "optimize"]), capsys)
    assert not failed and again["changed"] is False, again
    # Both ran (and say so) even though the statistics stayed as they were.
    assert again["executed_queries"] == ["ANALYZE", "PRAGMA optimize"]
    failed, predicted = run(dict(path=path, operations=["analyze"]), capsys, check_mode=True)
    assert predicted["changed"] is False and predicted["executed_queries"] == []


def test_corrupt_database_fails_the_integrity_check_before_any_write(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False, delete_fraction=0)
    with open(path, "r+b") as handle:
        handle.seek(4096 * 2 + 100)
        handle.write(os.urandom(12000))
    digest = sha(path)
    failed, result = run(dict(path=path, operations=["integrity_check", "vacuum"], vacuum_force=True), capsys)
    assert failed and result["failed_operation"] == "integrity_check" and result["executed_queries"] == []
    assert "integrity_check of %s found" % path in result["msg"] and "backup" in result["msg"]
    assert sha(path) == digest


def test_missing_file_and_bad_options(tmp_path, capsys):
    failed, result = run(dict(path=str(tmp_path / "nope.db"), operations=["vacuum"]), capsys)
    assert failed and "does not exist" in result["msg"] and result["failed_operation"] is None
    assert not os.path.exists(str(tmp_path / "nope.db"))
    assert problems_of(sqlite_maintenance, result) == []
    failed, result = run(dict(path=str(tmp_path / "nope.db"), busy_timeout=0), capsys)
    assert failed and result["msg"] == "busy_timeout must be greater than 0, got 0.0"


def test_holders_are_stopped_only_when_asked(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", items=10)
    proc = start_holder(path, "holder-marker")
    try:
        failed, result = run(dict(path=path, operations=["holders"]), capsys)
        assert not failed and result["changed"] is False and proc.poll() is None
        assert [h["pid"] for h in result["report"]["holders"]["processes"]] == [proc.pid]

        failed, predicted = run(dict(path=path, operations=["holders"], stop_holders=True), capsys, check_mode=True)
        assert predicted["changed"] is True and proc.poll() is None
        assert predicted["report"]["holders"]["stopped"] == [{"pid": proc.pid, "outcome": "would stop"}]

        failed, stopped = run(dict(path=path, operations=["holders"], stop_holders=True, stop_timeout=5), capsys)
        assert not failed and stopped["changed"] is True and stopped["executed_queries"] == []
        assert stopped["report"]["holders"]["stopped"] == [{"pid": proc.pid, "outcome": "terminated"}]
        assert proc.wait(timeout=5) is not None
    finally:
        end_holder(proc)


# --- partial failures and ordinary errors: a failure result says what was done and what to do ----------------------

def test_corrupt_file_after_a_wal_switch_fails_cleanly_and_reports_the_switch(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False, delete_fraction=0)
    corrupt(path)
    failed, result = run(dict(path=path, operations=["wal", "reindex"], reindex_force=True), capsys)
    assert failed and result["changed"] is True and result["changed_operations"] == ["wal"]
    assert result["executed_queries"] == ["PRAGMA journal_mode=WAL"]
    assert journal_mode(path) == "wal"  # the switch really happened before the reindex failed
    assert result["report"]["wal"] == dict(changed=True, before="delete", after="wal",
                                           message="journal mode delete -> WAL")
    assert result["failed_operation"] == "reindex" and result["report"]["reindex"]["failed"] is True
    msg = result["msg"]
    assert path in msg and "malformed" in msg and "Restore from Backup" in msg
    assert "already changed the database: wal: journal mode delete -> WAL" in msg


def test_stopped_holders_are_reported_when_a_locked_rollback_journal_stops_the_vacuum(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False)
    proc = start_holder(path)
    # A writer of this process (not a holder the module stops) keeps the write lock of the rollback journal.
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO inventory_counts (count_date, location) VALUES ('2026-01-01', 'locker')")
        failed, result = run(dict(path=path, operations=["holders", "vacuum"], stop_holders=True, stop_timeout=5,
                                  busy_timeout=0.2, busy_retries=0), capsys)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        end_holder(proc)
    assert failed and result["changed"] is True and result["changed_operations"] == ["holders"]
    assert result["report"]["holders"]["stopped"] == [{"pid": proc.pid, "outcome": "terminated"}]
    assert result["failed_operation"] == "vacuum"
    assert result["report"]["vacuum"]["failed"] is True and result["report"]["vacuum"]["changed"] is False
    msg = result["msg"]
    assert "VACUUM of %s failed" % path in msg and "locked" in msg and "database_locked.yml" in msg
    assert "already changed the database: holders: 1 process(es)" in msg


def test_unwritable_database_fails_saying_what_to_check(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False)
    digest = sha(path)
    with unwritable(path):
        failed, result = run(dict(path=path, operations=["vacuum"]), capsys)
    assert failed and result["changed"] is False and result["failed_operation"] == "vacuum"
    msg = result["msg"]
    assert "VACUUM of %s failed" % path in msg and "readonly" in msg
    assert "owner and mode" in msg and "lsattr" in msg and "become" in msg
    assert sha(path) == digest


def test_every_returned_key_is_documented(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False)
    for check_mode in (True, False):
        failed, result = run(dict(path=path, operations=WRITES), capsys, check_mode=check_mode, diff=True)
        assert not failed and set(result["report"]) == set(WRITES)
        assert problems_of(sqlite_maintenance, result) == []
