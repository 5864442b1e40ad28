# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""postgresql_info against a real scratch PostgreSQL database: activity, sizes, bloat, and nothing changed."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.maintenance_dbs import (
    pg_exec,
)
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.return_docs import problems_of
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

from ansible_collections.inventory_enterprise.ops.plugins.modules import postgresql_info


def run(args, capsys, check_mode=False):
    return run_module(postgresql_info, args, capsys, check_mode=check_mode)


def dead_tuples(dsn):
    import psycopg2
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT n_dead_tup, last_vacuum, last_autovacuum FROM pg_stat_user_tables "
                        "WHERE relname = 'items'")
            return cur.fetchone()
    finally:
        conn.close()


def test_activity_shows_idle_in_transaction(pg_dsn, capsys):
    import psycopg2
    idle = psycopg2.connect(pg_dsn, application_name="idle-tx-test")
    try:
        with idle.cursor() as cur:
            cur.execute("SELECT 1")
        time.sleep(0.3)
        failed, result = run(dict(dsn=pg_dsn), capsys)
    finally:
        idle.close()
    assert not failed, result
    activity = result["report"]["activity"]
    assert activity["idle_in_transaction"] == 1 and activity["by_state"]["idle in transaction"] == 1
    assert activity["longest_idle_in_transaction"]["application"] == "idle-tx-test"
    assert activity["longest_idle_in_transaction"]["seconds"] >= 0.2
    assert activity["max_connections"] > 0


def test_stats_and_bloat_read_only_in_check_mode_and_a_real_run(pg_dsn, capsys):
    pg_exec(pg_dsn, "CREATE TABLE items (id bigint PRIMARY KEY, code text)",
            "INSERT INTO items SELECT g, 'code-' || g FROM generate_series(1, 5000) g",
            "DELETE FROM items WHERE id % 2 = 0",
            "ANALYZE items")
    time.sleep(1.2)  # table statistics reach the shared stats within a second
    before = dead_tuples(pg_dsn)
    for check_mode in (True, False):
        failed, result = run(dict(dsn=pg_dsn, gather=["activity", "stats", "bloat"]), capsys, check_mode=check_mode)
        assert not failed and result["changed"] is False and problems_of(postgresql_info, result) == []
        assert "executed_queries" not in result
        stats = result["report"]["stats"]
        assert stats["tables"][0]["name"] == "items" and stats["tables"][0]["dead_rows"] == 2500
        bloat = {t["name"]: t for t in result["report"]["bloat"]["tables"]}
        assert bloat["items"]["status"] == "ok"  # below bloat_min_bytes
        assert bloat["items"]["bloat_percent"] > 20  # half the rows were deleted
    assert dead_tuples(pg_dsn) == before  # nothing vacuumed
    failed, flagged = run(dict(dsn=pg_dsn, gather=["bloat"], bloat_min_bytes=0, bloat_warning_percent=1), capsys)
    assert not failed and "items" in flagged["report"]["bloat"]["warning"] + flagged["report"]["bloat"]["critical"]


def test_bad_options_and_unreachable_server(capsys):
    failed, result = run(dict(dsn="host=127.0.0.1 port=1 user=x", top=0), capsys)
    assert failed and result["msg"] == "busy_retries must be at least 0 and top at least 1"
    failed, result = run(dict(login_host="127.0.0.1", login_port=1, login_user="x", login_password="An0therSecret",
                              gather=["stats"], connect_timeout=2), capsys)
    assert failed and "An0therSecret" not in str(result) and "x@127.0.0.1:1" in result["msg"]
    assert result["failed_operation"] is None and problems_of(postgresql_info, result) == []
