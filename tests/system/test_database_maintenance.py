"""playbooks/weekly.yml, monthly.yml and runbooks/database_locked.yml for real, against the deployed reference
service with dual-write to a scratch PostgreSQL database, under write load.

Run: cd /work/main && make wheel && .venv/bin/python -m pytest tests/system/test_database_*.py -q
"""
import contextlib
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time

import psycopg2
import pytest
import requests

from tests.support import playbook as pb
from tests.support.deployment import ADMIN_PASSWORD, Deployment
from tests.support.servers import scratch_postgres_database


@pytest.fixture(scope="module")
def pg_dsn():
    with scratch_postgres_database("ie_test_sysdb") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def dual(tmp_path_factory, pg_dsn):
    """The service deployed with dual-write to the scratch database, seeded (seed rows skip the mirror)."""
    tmp = tmp_path_factory.mktemp("dbmaint")
    dep = Deployment(tmp, service_postgres_dsn=pg_dsn, service_dual_write_enabled=True)
    # The database host of the inventory is this machine too: the PostgreSQL plays connect with the DSN.
    dep.inventory = pb.write_inventory(
        os.path.join(str(tmp), "hosts.yml"),
        {"app_servers": {dep.host: pb.local_host(**dep.vars)}, "standby": {},
         "db_servers": {"db1": pb.local_host(database_postgres_dsn=pg_dsn)}})
    result = dep.play("playbooks/site.yml")
    assert result.rc == 0, result
    seed = subprocess.run([os.path.join(dep.home, "venv", "bin", "inventory-service"), "seed", "--items", "100",
                           "--days", "60", "--env-file", os.path.join(dep.home, ".env")],
                          capture_output=True, text=True, check=False)
    assert seed.returncode == 0, seed.stderr
    dep.db = os.path.join(dep.home, "data", "enterprise_inventory.db")
    dep.pg = pg_dsn
    token = requests.post(dep.url + "/api/auth/login",
                          json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=10).json()["token"]
    dep.auth = {"Authorization": "Bearer " + token}
    yield dep
    dep.play("playbooks/service_control.yml", extra_vars={"service_state": "stopped"})


def post_count(dep, n):
    body = {"count_date": "2026-02-%02d" % (1 + n % 28), "location": "load-%d" % n,
            "items": [{"item_code": "DEMO-0001", "quantity": n + 0.1}, {"item_code": "DEMO-0002", "quantity": 2}]}
    response = requests.post(dep.url + "/api/inventory/counts", json=body, headers=dep.auth, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()["count_id"]


def lite(dep, sql, args=()):
    conn = sqlite3.connect(dep.db, timeout=30, isolation_level=None)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def pg(dep, sql, args=None):
    conn = psycopg2.connect(dep.pg)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def wait_for_pg_statistics(dep, tables, timeout=30):
    """Wait until PostgreSQL's statistics count every row of `tables` (insert-only here). PostgreSQL 15 flushes
    a backend's table statistics up to 10 s after its last transaction once it is idle, and the service keeps
    its dual-write connection open: until then the maintenance module rightly sees unanalysed changes."""
    deadline = time.time() + timeout
    while True:
        lagging = []
        for table in tables:
            counted = pg(dep, "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = %s", (table,))[0][0]
            rows = pg(dep, "SELECT count(*) FROM %s" % table)[0][0]
            if counted < rows:
                lagging.append("%s: %d of %d rows counted" % (table, counted, rows))
        if not lagging:
            return
        assert time.time() < deadline, "PostgreSQL statistics still lag after %ds: %s" % (timeout, lagging)
        time.sleep(0.5)


def errors_total(dep):
    text = requests.get(dep.url + "/metrics", timeout=10).text
    return float(re.search(r"^db_dual_write_errors_total (\S+)$", text, re.M).group(1))


@contextlib.contextmanager
def postgres_outage(dep):
    """The mirror database refuses connections, and the service's open one is cut, while the block runs."""
    dbname = re.search(r"dbname=(\S+)", dep.pg).group(1)
    admin = psycopg2.connect(dep.pg.replace("dbname=" + dbname, "dbname=postgres"))
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute('ALTER DATABASE "%s" ALLOW_CONNECTIONS false' % dbname)
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                        "AND application_name = 'inventory-service'", (dbname,))
        yield
    finally:
        with admin.cursor() as cur:
            cur.execute('ALTER DATABASE "%s" ALLOW_CONNECTIONS true' % dbname)
        admin.close()


def parity(dep, **extra):
    extra_vars = {"database_parity_enabled": True}
    extra_vars.update(extra)
    run = dep.play("playbooks/weekly.yml", tags="database_parity", extra_vars=extra_vars)
    assert run.rc == 0, run
    result = run.task_results("Compare SQLite with its PostgreSQL mirror")[dep.host]
    return run, result, dict((t["name"], t) for t in result["tables"])


def test_weekly_vacuums_under_write_load_keeps_every_row_then_changes_nothing(dual):
    # Free pages to reclaim: a contiguous range of count lines goes away (as an archival job would).
    lite(dual, "DELETE FROM inventory_count_items WHERE count_id <= 40")
    lite(dual, "DELETE FROM consumption_history WHERE day < (SELECT date(min(day), '+40 days') FROM consumption_history)")
    lite(dual, "PRAGMA wal_checkpoint(TRUNCATE)")
    # Dead tuples in the mirror, counted before the run, so its VACUUM has work whatever autovacuum did.
    for n in range(3):
        post_count(dual, 1000 + n)
    wait_for_pg_statistics(dual, ["inventory_counts"])
    pg(dual, "UPDATE inventory_counts SET location = location")
    before = lite(dual, "SELECT id, count_id, item_code, quantity FROM inventory_count_items ORDER BY id")
    stop, written = threading.Event(), []

    def load():
        n = 0
        while not stop.is_set():
            n += 1
            written.append(post_count(dual, n))
            time.sleep(0.02)

    writer = threading.Thread(target=load)
    writer.start()
    try:
        run = dual.play("playbooks/weekly.yml", extra_vars={"database_parity_enabled": False})
    finally:
        stop.set()
        writer.join()
    assert run.rc == 0, run
    sqlite_result = run.task_results("Optimise the SQLite database")[dual.host]
    vacuum = sqlite_result["report"]["vacuum"]
    assert vacuum["ran"] is True and vacuum["bytes_reclaimed"] > 0, sqlite_result["messages"]
    assert sqlite_result["report"]["quick_check"]["ok"] is True
    # sqlite_maintenance and postgresql_maintenance say which statements they executed.
    assert sqlite_result["executed_queries"][0] == "VACUUM" and sqlite_result["executed_queries"][-1] == "ANALYZE"
    pg_result = run.task_results("Maintain the PostgreSQL database")["db1"]
    assert pg_result["report"]["vacuum"]["changed"] is True
    assert pg_result["executed_queries"] and all(q.startswith("VACUUM (ANALYZE) ") for q in pg_result["executed_queries"])
    assert run.task_results("Read the PostgreSQL connection summary")["db1"]["report"]["activity"]["max_connections"] > 0
    assert len(written) >= 3
    # Every row from before is still there, and every write the service acknowledged meanwhile.
    after = lite(dual, "SELECT id, count_id, item_code, quantity FROM inventory_count_items ORDER BY id")
    assert set(before) <= set(after)
    counts = {row[0] for row in lite(dual, "SELECT id FROM inventory_counts")}
    assert set(written) <= counts
    assert len(after) == len(before) + 2 * len(written)
    assert lite(dual, "PRAGMA integrity_check") == [("ok",)]

    wait_for_pg_statistics(dual, ["inventory_counts", "inventory_count_items"])
    # Writes that landed after the first run's ANALYZE make its statistics stale: at most that is redone.
    settle = dual.play("playbooks/weekly.yml", extra_vars={"database_parity_enabled": False})
    assert settle.rc == 0, settle
    assert settle.task_results("Optimise the SQLite database")[dual.host]["changed_operations"] in ([], ["analyze"])
    again = dual.play("playbooks/weekly.yml", extra_vars={"database_parity_enabled": False})
    assert again.rc == 0, again
    assert again.changed() == 0, [again.task_results("Optimise the SQLite database")[dual.host]["messages"],
                                  again.task_results("Maintain the PostgreSQL database")["db1"]["messages"]]


def test_parity_finds_exactly_the_rows_altered_in_postgres_and_sync_repairs_them(dual):
    # Seeded rows never went through the API: the first sync copies them.
    _run, _result, tables = parity(dual, database_parity_sync=True)
    assert tables["item_master"]["missing"]["count"] == 100
    _run, result, tables = parity(dual)
    assert result["in_sync"] is True, result["summary"]

    line_ids = [r[0] for r in lite(dual, "SELECT id FROM inventory_count_items ORDER BY id DESC LIMIT 2")]
    invoice_id = lite(dual, "SELECT min(id) FROM processed_invoices")[0][0]
    pg(dual, "DELETE FROM inventory_count_items WHERE id = ANY(%s)", (line_ids,))
    pg(dual, "UPDATE processed_invoices SET amount = amount * 2 WHERE id = %s", (invoice_id,))
    pg(dual, "INSERT INTO item_master (id, item_code, name) VALUES (900001, 'GHOST', 'only in PostgreSQL')")

    run, result, tables = parity(dual)
    assert run.changed() == 0
    assert tables["inventory_count_items"]["missing"] == {"count": 2, "ids": sorted(line_ids)}
    assert tables["processed_invoices"]["changed"] == {"count": 1, "ids": [invoice_id]}
    assert tables["item_master"]["extra"] == {"count": 1, "ids": [900001]}
    different = [name for name, table in tables.items() if not table["in_sync"]]
    assert sorted(different) == ["inventory_count_items", "item_master", "processed_invoices"]

    run, result, tables = parity(dual, database_parity_sync=True)
    assert run.changed() == 1 and result["remaining_differences"] == 1  # the extra row is kept
    run, result, tables = parity(dual, database_parity_sync=True)
    assert run.changed() == 0
    assert pg(dual, "SELECT amount FROM processed_invoices WHERE id = %s", (invoice_id,)) == \
        [tuple(lite(dual, "SELECT amount FROM processed_invoices WHERE id = ?", (invoice_id,))[0])]
    run, result, tables = parity(dual, database_parity_sync=True, database_parity_delete_extra=True)
    assert run.changed() == 1 and result["remaining_differences"] == 0
    assert pg(dual, "SELECT count(*) FROM item_master WHERE id = 900001") == [(0,)]


def test_postgres_outage_during_dual_write_is_counted_and_repaired_by_sync(dual):
    parity(dual, database_parity_sync=True, database_parity_delete_extra=True)
    errors_before = errors_total(dual)
    with postgres_outage(dual):
        lost = [post_count(dual, 1000 + n) for n in range(3)]
    assert errors_total(dual) == errors_before + 3

    _run, result, tables = parity(dual)
    assert result["dual_write_errors"] == errors_before + 3
    assert tables["inventory_counts"]["missing"] == {"count": 3, "ids": sorted(lost)}
    assert tables["inventory_count_items"]["missing"]["count"] == 6
    run, result, tables = parity(dual, database_parity_sync=True)
    assert run.changed() == 1
    _run, result, _tables = parity(dual)
    assert result["in_sync"] is True
    assert sorted(r[0] for r in pg(dual, "SELECT id FROM inventory_counts WHERE id = ANY(%s)", (lost,))) == sorted(lost)


def test_change_tracking_under_service_writes_finds_an_outage_by_the_written_rows_only(dual):
    tracked = {"database_parity_change_tracking": "present"}
    run, result, tables = parity(dual, database_parity_sync=True, database_parity_delete_extra=True, **tracked)
    assert run.changed() == 1 and result["tracking"]["method"] == "full" and result["tracking"]["actions"]
    # The service restarts with the tracking tables in its SQLite file: its mirror schema leaves them out.
    restarted = dual.play("playbooks/service_control.yml", extra_vars={"service_state": "restarted"})
    assert restarted.rc == 0, restarted
    written = [post_count(dual, 2000 + n) for n in range(4)]
    run, result, tables = parity(dual, **tracked)
    assert run.changed() == 0 and result["in_sync"] is True, result["summary"]
    assert result["tracking"]["method"] == "incremental"
    assert tables["inventory_counts"]["keys_checked"] == 4 and tables["inventory_count_items"]["keys_checked"] == 8
    assert tables["item_master"]["keys_checked"] == 0
    assert tables["inventory_counts"]["sqlite_rows"] == lite(dual, "SELECT count(*) FROM inventory_counts")[0][0]
    assert pg(dual, "SELECT count(*) FROM inventory_counts WHERE id = ANY(%s)", (written,)) == [(4,)]

    with postgres_outage(dual):
        lost = [post_count(dual, 3000 + n) for n in range(2)]
    # The mirror waits 5 s after a failed connect, so a write right after the outage may be lost too.
    lost.append(post_count(dual, 3100))
    mirrored = [r[0] for r in pg(dual, "SELECT id FROM inventory_counts WHERE id = ANY(%s)", (lost,))]
    missing = sorted(set(lost) - set(mirrored))
    assert missing[:2] == lost[:2]
    run, result, tables = parity(dual, **tracked)
    assert result["tracking"]["method"] == "incremental"
    assert tables["inventory_counts"]["missing"] == {"count": len(missing), "ids": missing}
    assert tables["inventory_counts"]["keys_checked"] == 3
    assert tables["inventory_count_items"]["missing"]["count"] == 2 * len(missing)
    run, result, tables = parity(dual, database_parity_sync=True, **tracked)
    assert run.changed() == 1 and result["remaining_differences"] == 0
    run, result, tables = parity(dual, **tracked)
    assert result["in_sync"] is True and tables["inventory_counts"]["keys_checked"] == len(missing)  # once more
    run, result, tables = parity(dual, database_parity_full_check=True, **tracked)
    assert result["in_sync"] is True and result["tracking"]["reason"] == "full_check=true"

    run, result, _tables = parity(dual, database_parity_change_tracking="absent")
    assert run.changed() == 1
    assert lite(dual, "SELECT name FROM sqlite_master WHERE name LIKE '_ie_parity%'") == []
    assert pg(dual, "SELECT tgname FROM pg_trigger WHERE tgname LIKE '_ie_parity%'") == []


def test_monthly_reports_sizes_row_counts_and_bloat(dual):
    # The database plays only: the performance review has no last month to read on a service deployed today.
    run = dual.play("playbooks/monthly.yml", tags="database_monthly")
    assert run.rc == 0, run
    stats = run.task_results("Collect the SQLite statistics")[dual.host]["report"]["stats"]
    for table, count in stats["row_counts"].items():
        assert count == lite(dual, "SELECT count(*) FROM %s" % table)[0][0]
    assert stats["tables"] and stats["files"]["db"] == os.path.getsize(dual.db)
    pg_result = run.task_results("Collect the PostgreSQL statistics")["db1"]["report"]
    assert {t["name"] for t in pg_result["stats"]["tables"]} >= {"inventory_count_items", "processed_invoices"}
    assert {t["name"] for t in pg_result["bloat"]["tables"]} >= {"item_master"}
    reindex = run.task_results("Rebuild the PostgreSQL indexes")["db1"]
    assert reindex["report"]["reindex"]["tables"] and len(reindex["executed_queries"]) >= len(reindex["report"]["reindex"]["tables"])
    lines = next(iter(run.task_results("Report the database statistics").values()))["msg"]
    assert any("rows inventory_count_items" in line for line in lines)


def test_database_locked_runbook_reports_holders_enables_wal_and_stops_only_when_asked(dual, tmp_path):
    path = str(tmp_path / "locked.db")
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    code = ("import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); c.execute('select * from t'); "
            "print('ready', flush=True); time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", code, path, "locked-runbook"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        run = dual.play("playbooks/runbooks/database_locked.yml", extra_vars={"database_sqlite_path": path})
        assert run.rc == 0, run
        found = run.task_results("Find the processes holding the database")[dual.host]["report"]["holders"]
        assert [p["pid"] for p in found["processes"]] == [holder.pid]
        assert run.task_results("Switch the database to WAL mode")[dual.host]["report"]["wal"]["before"] == "delete"
        assert holder.poll() is None  # never stopped without database_locked_stop_holders

        run = dual.play("playbooks/runbooks/database_locked.yml",
                        extra_vars={"database_sqlite_path": path, "database_locked_stop_holders": True})
        assert run.rc == 0, run
        stopped = run.task_results("Stop the processes holding the database")[dual.host]["report"]["holders"]
        assert stopped["stopped"] == [{"pid": holder.pid, "outcome": "terminated"}]
        assert holder.wait(timeout=10) is not None
        assert run.task_results("Find the processes holding the database")[dual.host]["changed"] is False
        assert run.task_results("Switch the database to WAL mode")[dual.host]["changed"] is False
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        holder.stdout.close()
    # The service's own database was not touched, and the service still answers.
    assert requests.get(dual.url + "/health", timeout=10).status_code == 200
