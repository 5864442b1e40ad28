# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The deprecated db_maintenance: its old options and result keys still work, through the operations of
sqlite_maintenance, sqlite_info, postgresql_maintenance and postgresql_info (tested there in full)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import yaml

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.maintenance_dbs import (
    journal_mode,
    make_db,
    pg_exec,
    sha,
)
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.return_docs import problems_of
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.sqlite_faults import corrupt
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

from ansible_collections.inventory_enterprise.ops.plugins.modules import db_maintenance

SQLITE_TASKS = ["holders", "integrity_check", "quick_check", "wal", "vacuum", "reindex", "analyze", "optimize", "stats"]


def run(args, capsys, check_mode=False, diff=False):
    return run_module(db_maintenance, args, capsys, check_mode=check_mode, diff=diff)


def test_the_old_name_is_deprecated_for_one_release():
    root = os.path.dirname(os.path.abspath(db_maintenance.__file__))
    with open(os.path.join(root, "..", "..", "meta", "runtime.yml")) as handle:
        runtime = yaml.safe_load(handle)
    deprecation = runtime["plugin_routing"]["modules"]["db_maintenance"]["deprecation"]
    assert deprecation["removal_version"] == "1.0.0" and "sqlite_maintenance" in deprecation["warning_text"]
    assert yaml.safe_load(db_maintenance.DOCUMENTATION)["deprecated"]["removed_in"] == "1.0.0"


def test_sqlite_tasks_keep_their_old_result_keys(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False)
    digest = sha(path)
    failed, predicted = run(dict(path=path, tasks=SQLITE_TASKS), capsys, check_mode=True, diff=True)
    assert not failed and set(predicted["report"]) == set(SQLITE_TASKS) and sha(path) == digest
    assert predicted["engine"] == "sqlite" and predicted["target"] == path
    assert set(predicted["changed_tasks"]) == {"wal", "vacuum", "reindex", "analyze", "optimize"}
    assert predicted["diff"] == {"before": "journal_mode: delete\n", "after": "journal_mode: wal\n"}
    failed, result = run(dict(path=path, tasks=SQLITE_TASKS), capsys)
    assert not failed and result["report"]["vacuum"]["ran"] is True and journal_mode(path) == "wal"
    assert result["executed_queries"][:2] == ["PRAGMA journal_mode=WAL", "VACUUM"]
    assert result["messages"][0].startswith("holders: 0 process(es)")


def test_missing_file_and_wrong_engine_tasks(tmp_path, capsys):
    failed, result = run(dict(path=str(tmp_path / "nope.db"), tasks=["stats"]), capsys)
    assert failed and "does not exist" in result["msg"] and result["failed_task"] is None
    assert not os.path.exists(str(tmp_path / "nope.db")) and problems_of(db_maintenance, result) == []
    failed, result = run(dict(path=str(tmp_path / "nope.db"), tasks=["bloat"]), capsys)
    assert failed and "not available with engine=sqlite" in result["msg"]
    failed, result = run(dict(engine="postgresql", dsn="host=127.0.0.1 port=1", tasks=["wal"]), capsys)
    assert failed and "not available with engine=postgresql" in result["msg"] and result["engine"] == "postgresql"


def test_corrupt_file_after_a_wal_switch_fails_cleanly_and_reports_the_switch(tmp_path, capsys):
    path = make_db(tmp_path / "db.sqlite", wal=False, delete_fraction=0)
    corrupt(path)
    failed, result = run(dict(path=path, tasks=["wal", "stats"], count_tables=["item_master"]), capsys)
    assert failed and result["changed"] is True and result["changed_tasks"] == ["wal"]
    assert journal_mode(path) == "wal"  # the switch really happened before stats failed
    assert result["report"]["wal"] == dict(changed=True, before="delete", after="wal",
                                           message="journal mode delete -> WAL")
    assert result["failed_task"] == "stats" and result["report"]["stats"]["failed"] is True
    assert result["report"]["stats"]["changed"] is False
    msg = result["msg"]
    assert "the stats task of %s failed" % path in msg and "malformed" in msg
    assert "integrity_check" in msg and "Restore from Backup" in msg
    assert "already changed the database: wal: journal mode delete -> WAL" in msg


def test_postgresql_tasks_keep_their_old_result_keys(pg_dsn, capsys):
    pg_exec(pg_dsn, "CREATE TABLE items (id bigint PRIMARY KEY)", "INSERT INTO items SELECT generate_series(1, 10)")
    failed, result = run(dict(engine="postgresql", dsn=pg_dsn, vacuum_force=True,
                              tasks=["activity", "vacuum", "analyze", "reindex", "stats", "bloat"]), capsys)
    assert not failed and list(result["report"]) == ["activity", "vacuum", "analyze", "reindex", "stats", "bloat"]
    assert result["engine"] == "postgresql" and result["changed_tasks"] == ["vacuum", "analyze", "reindex"]
    assert result["executed_queries"][0] == 'VACUUM (ANALYZE) "public"."items"'
    assert "ie_test" in result["target"] and "password" not in result["target"]
