# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""sqlite_info against real SQLite files: it reads, and never changes the file or stops a process."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.maintenance_dbs import (
    end_holder,
    make_db,
    sha,
    start_holder,
)
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.return_docs import problems_of
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.sqlite_faults import corrupt
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

from ansible_collections.inventory_enterprise.ops.plugins.modules import sqlite_info

EVERYTHING = ["holders", "integrity_check", "quick_check", "stats"]


def run(args, capsys, check_mode=False):
    return run_module(sqlite_info, args, capsys, check_mode=check_mode)


def test_stats_report_sizes_tables_and_guide_row_counts(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", items=1000)
    failed, result = run(dict(path=path, gather=["stats"], top=3), capsys)
    assert not failed and result["changed"] is False
    stats = result["report"]["stats"]
    assert stats["files"]["db"] == os.path.getsize(path)
    assert len(stats["tables"]) == 3 and stats["tables"][0]["bytes"] >= stats["tables"][1]["bytes"]
    assert stats["row_counts"] == {"inventory_count_items": 0, "processed_invoices": 0, "ai_forecasts": 1000}
    assert stats["journal_mode"] == "wal"
    assert "executed_queries" not in result and "changed_operations" not in result


def test_reads_only_in_check_mode_and_in_a_real_run(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False)
    digest, mtime = sha(path), os.stat(path).st_mtime_ns
    for check_mode in (True, False):
        failed, result = run(dict(path=path, gather=EVERYTHING), capsys, check_mode=check_mode)
        assert not failed and result["changed"] is False and set(result["report"]) == set(EVERYTHING)
        assert problems_of(sqlite_info, result) == []
    assert sha(path) == digest and os.stat(path).st_mtime_ns == mtime
    assert not os.path.exists(path + "-wal") and not os.path.exists(path + "-journal")


def test_holders_are_listed_never_stopped(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", items=10)
    proc = start_holder(path, "holder-marker")
    try:
        failed, result = run(dict(path=path, gather=["holders"]), capsys)
        assert not failed and result["changed"] is False
        holders = result["report"]["holders"]["processes"]
        assert [h["pid"] for h in holders] == [proc.pid]
        assert "holder-marker" in holders[0]["cmdline"] and os.path.realpath(path) in holders[0]["files"]
        assert result["report"]["holders"]["stopped"] == [] and proc.poll() is None
    finally:
        end_holder(proc)


def test_corrupt_database_fails_its_integrity_check(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False, delete_fraction=0)
    corrupt(path)
    failed, result = run(dict(path=path, gather=["integrity_check", "stats"]), capsys)
    assert failed and result["changed"] is False and result["failed_operation"] == "integrity_check"
    assert result["report"]["integrity_check"]["ok"] is False and "stats" not in result["report"]
    assert "integrity_check of %s found" % path in result["msg"] and "Restore from Backup" in result["msg"]


def test_missing_file(tmp_path, capsys):
    failed, result = run(dict(path=str(tmp_path / "nope.db")), capsys)
    assert failed and "does not exist" in result["msg"] and result["failed_operation"] is None
    assert not os.path.exists(str(tmp_path / "nope.db"))
    assert problems_of(sqlite_info, result) == []
