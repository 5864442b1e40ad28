# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""postgresql_maintenance against a real scratch PostgreSQL database (a missing server fails, never skips)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import time

import pytest

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.maintenance_dbs import (
    pg_exec,
)
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.return_docs import problems_of
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

from ansible_collections.inventory_enterprise.ops.plugins.modules import postgresql_info, postgresql_maintenance


def run(args, capsys, check_mode=False):
    return run_module(postgresql_maintenance, args, capsys, check_mode=check_mode)


def test_vacuum_says_what_it_executes_then_nothing_to_do(pg_dsn, capsys):
    pg_exec(pg_dsn, "CREATE TABLE items (id bigint PRIMARY KEY, code text)",
            "INSERT INTO items SELECT g, 'code-' || g FROM generate_series(1, 5000) g",
            "CREATE TABLE quiet (id bigint PRIMARY KEY)",
            "VACUUM ANALYZE quiet",
            "DELETE FROM items WHERE id % 2 = 0")
    time.sleep(1.2)  # table statistics reach the shared stats within a second
    failed, predicted = run(dict(dsn=pg_dsn, operations=["vacuum"]), capsys, check_mode=True)
    assert not failed and predicted["report"]["vacuum"]["tables"] == ["items"]
    assert predicted["executed_queries"] == ['VACUUM (ANALYZE) "public"."items"']
    failed, result = run(dict(dsn=pg_dsn, operations=["vacuum"]), capsys)
    assert not failed, result
    assert result["report"]["vacuum"]["tables"] == ["items"] and result["changed"] is True
    assert result["executed_queries"] == ['VACUUM (ANALYZE) "public"."items"']
    failed, info = run_module(postgresql_info, dict(dsn=pg_dsn, gather=["stats"]), capsys)
    assert info["report"]["stats"]["tables"][0]["name"] == "items"
    assert info["report"]["stats"]["tables"][0]["dead_rows"] == 0
    time.sleep(1.2)
    failed, again = run(dict(dsn=pg_dsn, operations=["vacuum"]), capsys)
    assert not failed and again["changed"] is False and again["executed_queries"] == [], again


def test_reindex_drops_invalid_leftovers(pg_dsn, capsys):
    import psycopg2
    pg_exec(pg_dsn, "CREATE TABLE items (id bigint PRIMARY KEY, code text)",
            "INSERT INTO items VALUES (1, 'a'), (2, 'a')")
    with pytest.raises(psycopg2.Error):
        # What a failed REINDEX CONCURRENTLY leaves: an invalid index named *_ccnew.
        pg_exec(pg_dsn, "CREATE UNIQUE INDEX CONCURRENTLY items_code_idx_ccnew ON items (code)")
    expected = ['DROP INDEX CONCURRENTLY "public"."items_code_idx_ccnew"', 'REINDEX TABLE CONCURRENTLY "public"."items"']
    failed, predicted = run(dict(dsn=pg_dsn, operations=["reindex"]), capsys, check_mode=True)
    assert not failed and predicted["executed_queries"] == expected
    failed, result = run(dict(dsn=pg_dsn, operations=["reindex"]), capsys)
    assert not failed, result
    reindex = result["report"]["reindex"]
    assert reindex["dropped_invalid"] == ["items_code_idx_ccnew"] and reindex["concurrently"] is True
    assert result["executed_queries"] == expected
    failed, stats = run_module(postgresql_info, dict(dsn=pg_dsn, gather=["stats"]), capsys)
    assert [i["name"] for i in stats["report"]["stats"]["indexes"]] == ["items_pkey"]


def test_errors_never_show_the_password(capsys):
    from ansible_collections.inventory_enterprise.ops.tests.support.servers import postgres_admin_dsn
    # A database that does not exist fails even where pg_hba trusts loopback connections.
    dsn = postgres_admin_dsn().replace("password=ie_test", "password=Wr0ngSecretPw").replace(
        "dbname=postgres", "dbname=ie_test_no_such_db")
    failed, result = run(dict(dsn=dsn, operations=["vacuum"]), capsys)
    assert failed and result["failed_operation"] is None and result["executed_queries"] == []
    assert "Wr0ngSecretPw" not in json.dumps(result)
    assert "ie_test@127.0.0.1:5432/ie_test_no_such_db" in result["msg"] and "connect" in result["msg"]
    assert problems_of(postgresql_maintenance, result) == []


def test_vacuum_failing_on_a_later_table_reports_the_tables_done(pg_dsn, capsys):
    import psycopg2
    pg_exec(pg_dsn, "CREATE TABLE a_first (id bigint PRIMARY KEY)", "CREATE TABLE b_locked (id bigint PRIMARY KEY)")
    locker = psycopg2.connect(pg_dsn)
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE b_locked IN ACCESS EXCLUSIVE MODE")
        failed, result = run(dict(dsn=pg_dsn + " options='-c lock_timeout=300'", operations=["vacuum", "reindex"],
                                  vacuum_force=True), capsys)
    finally:
        locker.close()
    assert failed and result["changed"] is True and result["changed_operations"] == ["vacuum"]
    assert result["failed_operation"] == "vacuum" and "reindex" not in result["report"]
    assert result["executed_queries"] == ['VACUUM (ANALYZE) "public"."a_first"']
    vacuum = result["report"]["vacuum"]
    assert vacuum["tables"] == ["a_first"] and vacuum["failed"] is True and vacuum["changed"] is True
    assert problems_of(postgresql_maintenance, result) == []
    assert "VACUUM (ANALYZE) of b_locked" in result["msg"] and "lock timeout" in result["msg"]
    assert "vacuum: ran VACUUM (ANALYZE) on a_first before it failed" in result["msg"]


def test_every_returned_key_is_documented(pg_dsn, capsys):
    pg_exec(pg_dsn, "CREATE TABLE items (id bigint PRIMARY KEY)", "INSERT INTO items SELECT generate_series(1, 10)")
    for check_mode in (True, False):
        failed, result = run(dict(dsn=pg_dsn, vacuum_force=True, operations=["vacuum", "analyze", "reindex"]),
                             capsys, check_mode=check_mode)
        assert not failed and len(result["report"]) == 3 and problems_of(postgresql_maintenance, result) == []
        assert result["changed_operations"] == ["vacuum", "analyze", "reindex"]
