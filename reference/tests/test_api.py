"""The HTTP API against a real uvicorn server, SQLite file and in-process cache."""
import datetime
import json
import re
import sqlite3
import threading
import time

import jwt
import pytest
import requests

from refhelpers import PASSWORD, SECRET, add_items, make_settings, wait_for_log
from inventory_service import db

COUNT = {"count_date": "2026-11-20", "location": "main",
         "items": [{"item_code": "A-1", "quantity": 5}, {"item_code": "B-2", "quantity": 2.5}]}


def invoice(number, *lines):
    return {"invoice_number": number, "vendor": "Acme", "invoice_date": datetime.date.today().isoformat(),
            "lines": [{"item_code": code, "quantity": qty, "amount": amount} for code, qty, amount in lines]}


@pytest.fixture
def settings(tmp_path):
    settings = make_settings(tmp_path / "home")
    add_items(settings, "A-1", "B-2", "C-3")
    return settings


@pytest.fixture
def server(serve, settings):
    return serve(settings)


def login(server, password=PASSWORD):
    return requests.post(server.url + "/api/auth/login", json={"username": "admin", "password": password})


def auth_headers(server):
    return {"Authorization": "Bearer " + login(server).json()["token"]}


def txlog_lines(settings):
    path = settings.transaction_log_path
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_health_ok_memory_backend(server):
    response = requests.get(server.url + "/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "connected" and body["cache"] == "connected"
    assert body["version"] == "2.1.0" and body["cache_backend"] == "memory"
    assert "postgres" not in body and "failed" not in body


def test_health_degraded_when_sqlite_unreadable(server, settings):
    settings.database_path.write_bytes(b"garbage" * 1000)
    response = requests.get(server.url + "/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded" and body["database"] == "disconnected" and body["failed"] == ["database"]
    assert 'system_health_status{component="database"} 0.0' in requests.get(server.url + "/metrics").text


def test_login_and_tokens(server):
    response = login(server)
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == 3600
    claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == "admin" and claims["exp"] > time.time()

    assert login(server, "wrong").status_code == 401
    assert requests.post(server.url + "/api/auth/login", json={"username": "root", "password": PASSWORD}).status_code == 401
    assert requests.post(server.url + "/api/auth/login", json={"username": "admin"}).status_code == 422

    url = server.url + "/api/inventory/counts"
    expired = jwt.encode({"sub": "admin", "exp": int(time.time()) - 10}, SECRET, algorithm="HS256")
    forged = jwt.encode({"sub": "admin", "exp": int(time.time()) + 100}, "another-secret-0123456789-abcdefghij", algorithm="HS256")
    for headers in ({}, {"Authorization": "Bearer " + expired}, {"Authorization": "Bearer " + forged},
                    {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic YWRtaW46eA=="}):
        response = requests.post(url, json=COUNT, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
    assert requests.post(url, json=COUNT, headers={"Authorization": "Bearer " + body["token"]}).status_code == 201


def test_login_needs_configured_password(serve, tmp_path):
    server = serve(make_settings(tmp_path / "nopw", ADMIN_PASSWORD=""))
    response = requests.post(server.url + "/api/auth/login", json={"username": "admin", "password": ""})
    assert response.status_code == 401


def test_writes_land_in_sqlite_and_transaction_log(server, settings):
    headers = auth_headers(server)
    response = requests.post(server.url + "/api/inventory/counts", json=COUNT, headers=headers)
    assert response.status_code == 201
    count_id = response.json()["count_id"]
    response = requests.post(server.url + "/api/invoices", json=invoice("INV-1", ("A-1", 4, 10.0), ("C-3", 1, 2.5)),
                             headers=headers)
    assert response.status_code == 201 and response.json()["lines"] == 2

    with db.connection(settings.database_path) as conn:
        count = conn.execute("SELECT count_date, location, created_by FROM inventory_counts WHERE id = ?",
                             (count_id,)).fetchone()
        assert tuple(count) == ("2026-11-20", "main", "admin")
        lines = conn.execute("SELECT item_code, quantity FROM inventory_count_items WHERE count_id = ? "
                             "ORDER BY item_code", (count_id,)).fetchall()
        assert [tuple(line) for line in lines] == [("A-1", 5.0), ("B-2", 2.5)]
        assert conn.execute("SELECT count(*) FROM processed_invoices WHERE invoice_number='INV-1'").fetchone()[0] == 2

    log = txlog_lines(settings)
    assert [line["seq"] for line in log] == [1, 2]
    assert [line["op"] for line in log] == ["inventory_count.create", "invoice.create"]
    assert log[0]["user"] == "admin" and log[0]["data"]["count_id"] == count_id
    assert log[1]["data"]["invoice_number"] == "INV-1" and len(log[1]["data"]["lines"]) == 2
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", log[0]["ts"])


def test_rejected_writes_leave_no_trace(server, settings):
    headers = auth_headers(server)
    url = server.url + "/api/invoices"
    assert requests.post(url, json=invoice("INV-9", ("A-1", 1, 1)), headers=headers).status_code == 201
    duplicate = requests.post(url, json=invoice("INV-9", ("B-2", 1, 1), ("A-1", 1, 1)), headers=headers)
    assert duplicate.status_code == 409
    unknown = requests.post(url, json=invoice("INV-10", ("A-1", 1, 1), ("ZZZ", 1, 1)), headers=headers)
    assert unknown.status_code == 422 and "ZZZ" in unknown.json()["detail"]
    bad_count = dict(COUNT, count_date="28/11/2026")
    assert requests.post(server.url + "/api/inventory/counts", json=bad_count, headers=headers).status_code == 422
    negative = dict(COUNT, items=[{"item_code": "A-1", "quantity": -1}])
    assert requests.post(server.url + "/api/inventory/counts", json=negative, headers=headers).status_code == 422
    empty = dict(COUNT, items=[])
    assert requests.post(server.url + "/api/inventory/counts", json=empty, headers=headers).status_code == 422
    with db.connection(settings.database_path) as conn:
        # The duplicate invoice's new B-2 line was rolled back with the rest of it.
        assert conn.execute("SELECT count(*) FROM processed_invoices").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM inventory_counts").fetchone()[0] == 0
    assert [line["seq"] for line in txlog_lines(settings)] == [1]


def test_seq_continues_across_restart(serve, settings):
    first = serve(settings)
    headers = auth_headers(first)
    for _ in range(2):
        assert requests.post(first.url + "/api/inventory/counts", json=COUNT, headers=headers).status_code == 201
    first.stop()
    second = serve(settings)
    headers = auth_headers(second)
    assert requests.post(second.url + "/api/inventory/counts", json=COUNT, headers=headers).json()["seq"] == 3
    assert [line["seq"] for line in txlog_lines(settings)] == [1, 2, 3]


def test_concurrent_writes_keep_one_line_each(server, settings):
    from concurrent.futures import ThreadPoolExecutor

    headers = auth_headers(server)

    def post(number):
        if number % 2:
            return requests.post(server.url + "/api/inventory/counts", json=COUNT, headers=headers).status_code
        return requests.post(server.url + "/api/invoices", json=invoice("C-%d" % number, ("A-1", 1, 1)),
                             headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(post, range(40))) == {201}
    assert [line["seq"] for line in txlog_lines(settings)] == list(range(1, 41))


def test_read_endpoints(server):
    headers = auth_headers(server)
    requests.post(server.url + "/api/inventory/counts", json=COUNT, headers=headers)
    later = dict(COUNT, count_date="2026-11-21", items=[{"item_code": "A-1", "quantity": 7}])
    requests.post(server.url + "/api/inventory/counts", json=later, headers=headers)
    requests.post(server.url + "/api/invoices", json=invoice("I-1", ("B-2", 30, 60.0), ("A-1", 10, 50.0)),
                  headers=headers)
    old = dict(invoice("I-0", ("C-3", 500, 5.0)), invoice_date="2020-01-01")
    requests.post(server.url + "/api/invoices", json=old, headers=headers)

    listing = requests.get(server.url + "/api/inventory/list").json()
    assert listing["total"] == 3
    by_code = {item["item_code"]: item for item in listing["items"]}
    assert by_code["A-1"]["quantity"] == 7 and by_code["A-1"]["last_count_date"] == "2026-11-21"
    assert by_code["B-2"]["quantity"] == 2.5 and by_code["C-3"]["quantity"] is None
    assert set(by_code["A-1"]) >= {"item_code", "name", "category", "unit", "par_level", "quantity",
                                   "last_count_date"}

    items = requests.get(server.url + "/api/inventory/items").json()["items"]
    assert [(item["item_code"], item["volume"]) for item in items] == [("B-2", 30), ("A-1", 10), ("C-3", 0)]
    assert len(requests.get(server.url + "/api/inventory/items?limit=1").json()["items"]) == 1
    assert requests.get(server.url + "/api/inventory/items?limit=1001").status_code == 422
    assert requests.get(server.url + "/api/inventory/items?limit=0").status_code == 422

    stats = requests.get(server.url + "/api/dashboard/stats").json()
    assert stats["total_items"] == 3 and stats["total_counts"] == 2 and stats["total_invoices"] == 2
    assert stats["last_count_date"] == "2026-11-21"
    # 7 on hand at 5.0 a unit; B-2: 2.5 at 2.0 a unit; C-3 never counted.
    assert stats["inventory_value"] == pytest.approx(7 * 5.0 + 2.5 * 2.0)


def test_cache_hits_misses_and_invalidation(server):
    url = server.url
    assert requests.get(url + "/api/cache/stats").json() == {
        "backend": "memory", "hits": 0, "misses": 0, "hit_rate": 0.0, "keys": 0, "memory_bytes": 0,
        "key_prefix": "ie:cache:", "ttl_seconds": {"inventory": 300, "forecasts": 86400}}
    first = requests.get(url + "/api/inventory/list").json()
    assert requests.get(url + "/api/inventory/list").json() == first
    requests.get(url + "/api/dashboard/stats")
    stats = requests.get(url + "/api/cache/stats").json()
    assert (stats["hits"], stats["misses"], stats["keys"]) == (1, 2, 2)
    assert stats["hit_rate"] == 33.33 and stats["memory_bytes"] > 0

    headers = auth_headers(server)
    requests.post(url + "/api/inventory/counts", json=COUNT, headers=headers)
    assert requests.get(url + "/api/cache/stats").json()["keys"] == 0
    fresh = requests.get(url + "/api/inventory/list").json()
    assert {item["item_code"]: item["quantity"] for item in fresh["items"]}["A-1"] == 5
    stats = requests.get(url + "/api/cache/stats").json()
    assert (stats["hits"], stats["misses"]) == (1, 3) and stats["hit_rate"] == 25.0

    metrics = requests.get(url + "/metrics").text
    assert 'cache_hits_total{cache="inventory"} 1.0' in metrics
    assert 'cache_misses_total{cache="inventory"} 2.0' in metrics
    assert 'cache_misses_total{cache="dashboard"} 1.0' in metrics


def test_metrics_exposes_every_family(server):
    requests.get(server.url + "/api/inventory/list")
    requests.get(server.url + "/api/inventory/items?limit=5")
    response = requests.get(server.url + "/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    for needle in ('system_health_status{component="database"} 1.0',
                   'system_health_status{component="cache"} 1.0',
                   'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/inventory/items",'
                   'status_code="200"}',
                   'db_query_duration_seconds_count{operation="inventory_list"} 1.0',
                   "db_dual_write_errors_total 0.0", 'cache_misses_total{cache="inventory"} 2.0',
                   "process_resident_memory_bytes", 'app_info{version="2.1.0"} 1.0'):
        assert needle in text, needle
    assert "limit=5" not in text  # route templates, not raw URLs


def test_log_files_and_formats(server, settings):
    requests.get(server.url + "/api/inventory/list")
    login(server, "wrong")
    headers = auth_headers(server)
    requests.post(server.url + "/api/inventory/counts", json=COUNT, headers={"Authorization": "Bearer nope"})
    count_id = requests.post(server.url + "/api/inventory/counts", json=COUNT, headers=headers).json()["count_id"]
    today = datetime.date.today().isoformat()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"

    # an authenticated request names its user; a rejected token names none
    application = wait_for_log(settings.log_dir / ("application-%s.log" % today),
                               r"^%s INFO POST /api/inventory/counts 201 duration=\d+ms user_id: admin$" % stamp)
    assert re.search(r"^%s INFO GET /api/inventory/list 200 duration=\d+ms$" % stamp, application, re.M)
    assert re.search(r"^%s INFO POST /api/inventory/counts 401 duration=\d+ms$" % stamp, application, re.M)
    security = (settings.log_dir / ("security-%s.log" % today)).read_text()
    assert re.search(r"^%s INFO auth login success username=admin ip=127\.0\.0\.1$" % stamp, security, re.M)
    assert re.search(r"^%s WARNING auth login failed username=admin ip=127\.0\.0\.1$" % stamp, security, re.M)
    assert re.search(r"WARNING auth token rejected reason=\w+ ip=127\.0\.0\.1 path=/api/inventory/counts", security)
    assert PASSWORD not in security and "wrong" not in security
    assert all("auth" in line for line in security.splitlines())
    audit = (settings.log_dir / ("audit-%s.log" % today)).read_text()
    assert re.search(r"^%s INFO user_id: admin action=inventory_count.create count_id=%d " % (stamp, count_id),
                     audit, re.M)


def test_server_errors_are_logged_as_error(server, settings):
    @server.app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    response = requests.get(server.url + "/boom")
    assert response.status_code == 500 and response.json() == {"detail": "internal server error"}
    application = (settings.log_dir / ("application-%s.log" % datetime.date.today().isoformat())).read_text()
    errors = [line for line in application.splitlines() if " ERROR " in line]
    assert any("unhandled exception GET /boom: RuntimeError: kaboom" in line for line in errors)
    assert any(re.search(r"ERROR GET /boom 500 duration=\d+ms$", line) for line in errors)


def test_a_write_held_up_by_another_writer_logs_its_wait(server, settings):
    headers = auth_headers(server)
    holder = sqlite3.connect(str(settings.database_path), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # a second process writing, say a maintenance job
    release = threading.Timer(0.4, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        response = requests.post(server.url + "/api/inventory/counts", json=COUNT, headers=headers)
    finally:
        release.join()
        holder.close()
    assert response.status_code == 201, response.text
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    application = wait_for_log(settings.log_dir / ("application-%s.log" % datetime.date.today().isoformat()),
                               r"^%s WARNING sqlite busy wait_ms=\d+ op=inventory_count\.create$" % stamp)
    waited = int(re.search(r"sqlite busy wait_ms=(\d+)", application).group(1))
    assert 200 <= waited < db.BUSY_TIMEOUT_MS
    assert " ERROR " not in application
