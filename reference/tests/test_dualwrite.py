"""Dual-write against a real scratch PostgreSQL database: mirrored rows keep SQLite's ids and values, and a
PostgreSQL outage is counted in db_dual_write_errors_total without failing the request."""
import datetime
import re
import time

import psycopg2
import pytest
import requests

from refhelpers import PASSWORD, add_items, make_settings
from inventory_service import db, dualwrite
from tests.support.servers import scratch_postgres_database

COUNT = {"count_date": "2026-11-20", "location": "main",
         "items": [{"item_code": "A-1", "quantity": 5}, {"item_code": "B-2", "quantity": 0.1}]}


def invoice(number):
    return {"invoice_number": number, "vendor": "Acme", "invoice_date": datetime.date.today().isoformat(),
            "lines": [{"item_code": "A-1", "quantity": 3, "amount": 19.99},
                      {"item_code": "C-3", "quantity": 1.5, "amount": 0.30000000000000004}]}


def headers(server):
    token = requests.post(server.url + "/api/auth/login",
                          json={"username": "admin", "password": PASSWORD}).json()["token"]
    return {"Authorization": "Bearer " + token}


def errors_total(server):
    text = requests.get(server.url + "/metrics").text
    return float(re.search(r"^db_dual_write_errors_total (\S+)$", text, re.M).group(1))


def rows(dsn, sql):
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


@pytest.fixture
def pg():
    with scratch_postgres_database() as dsn:
        yield dsn


@pytest.fixture
def dual(serve, tmp_path, pg):
    settings = make_settings(tmp_path / "home", POSTGRES_DSN='"%s"' % pg, DUAL_WRITE_ENABLED="true")
    add_items(settings, "A-1", "B-2", "C-3")
    return serve(settings), settings


def test_writes_are_mirrored_with_the_same_ids_and_values(dual, pg):
    server, settings = dual
    auth = headers(server)
    count_id = requests.post(server.url + "/api/inventory/counts", json=COUNT, headers=auth).json()["count_id"]
    assert requests.post(server.url + "/api/invoices", json=invoice("INV-1"), headers=auth).status_code == 201
    with db.connection(settings.database_path) as conn:
        lite_lines = [tuple(r) for r in conn.execute("SELECT * FROM inventory_count_items ORDER BY id")]
        lite_invoice = [tuple(r) for r in conn.execute("SELECT * FROM processed_invoices ORDER BY id")]
        lite_count = [tuple(r) for r in conn.execute("SELECT * FROM inventory_counts")]
    assert rows(pg, "SELECT * FROM inventory_counts") == lite_count
    assert lite_count[0][0] == count_id
    assert rows(pg, "SELECT * FROM inventory_count_items ORDER BY id") == lite_lines
    # Floats survive exactly (0.30000000000000004 is not rounded to 0.3).
    assert rows(pg, "SELECT * FROM processed_invoices ORDER BY id") == lite_invoice
    assert errors_total(server) == 0


def test_postgres_outage_is_counted_and_never_fails_the_request(dual, pg, monkeypatch):
    monkeypatch.setattr(dualwrite, "RECONNECT_BACKOFF", 0.2)
    server, settings = dual
    auth = headers(server)
    assert requests.post(server.url + "/api/inventory/counts", json=COUNT, headers=auth).status_code == 201
    dbname = re.search(r"dbname=(\S+)", pg).group(1)
    admin = psycopg2.connect(pg.replace("dbname=" + dbname, "dbname=postgres"))
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute('ALTER DATABASE "%s" ALLOW_CONNECTIONS false' % dbname)
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (dbname,))
        started = time.monotonic()
        for _ in range(3):
            response = requests.post(server.url + "/api/inventory/counts", json=COUNT, headers=auth)
            assert response.status_code == 201
        assert time.monotonic() - started < 10
        assert errors_total(server) == 3
        log = (settings.log_dir / ("application-%s.log" % datetime.date.today().isoformat()))
        text = log.read_text() if log.exists() else "".join(p.read_text() for p in settings.log_dir.glob("*.log"))
        assert "dual-write failed operation=inventory_count.create" in text
    finally:
        with admin.cursor() as cur:
            cur.execute('ALTER DATABASE "%s" ALLOW_CONNECTIONS true' % dbname)
        admin.close()
    time.sleep(0.3)
    assert requests.post(server.url + "/api/inventory/counts", json=COUNT, headers=auth).status_code == 201
    assert errors_total(server) == 3
    # SQLite has all 5 counts; PostgreSQL the first and the last (the sync repairs the rest).
    with db.connection(settings.database_path) as conn:
        assert conn.execute("SELECT count(*) FROM inventory_counts").fetchone()[0] == 5
    assert [r[0] for r in rows(pg, "SELECT id FROM inventory_counts ORDER BY id")] == [1, 5]


def test_disabled_dual_write_never_touches_postgres(serve, tmp_path, pg):
    settings = make_settings(tmp_path / "home", POSTGRES_DSN='"%s"' % pg, DUAL_WRITE_ENABLED="false")
    add_items(settings, "A-1", "B-2")
    server = serve(settings)
    assert requests.post(server.url + "/api/inventory/counts", json=COUNT, headers=headers(server)).status_code == 201
    assert rows(pg, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def test_derived_consumption_and_anomalies_are_mirrored(dual, pg):
    server, settings = dual
    auth = headers(server)
    today = datetime.date.today()
    for offset, quantity in ((1, 10), (0, 4)):
        body = {"count_date": (today - datetime.timedelta(days=offset)).isoformat(),
                "items": [{"item_code": "A-1", "quantity": quantity}]}
        assert requests.post(server.url + "/api/inventory/counts", json=body, headers=auth).status_code == 201
    derived = requests.post(server.url + "/api/ai/consumption/derive", headers=auth, json={
        "start_date": (today - datetime.timedelta(days=1)).isoformat(), "end_date": today.isoformat()})
    assert derived.status_code == 200 and derived.json()["inserted"] == 1
    with db.connection(settings.database_path) as conn:
        mine = [tuple(row) for row in conn.execute("SELECT id, item_code, day, quantity, source FROM consumption_history")]
    assert mine == [(1, "A-1", today.isoformat(), 6.0, "derived")]
    assert rows(pg, "SELECT id, item_code, day, quantity, source FROM consumption_history") == mine
    assert requests.post(server.url + "/api/ai/consumption/detect-anomalies", headers=auth).status_code == 200
    assert errors_total(server) == 0
