"""Redis-backed cache against a private redis-server, including Redis going away."""
import time

import redis
import requests

from refhelpers import PASSWORD, add_items, make_settings
from inventory_service.cache import PREFIX

COUNT = {"count_date": "2026-11-20", "items": [{"item_code": "A-1", "quantity": 5}]}


def test_redis_cache_hits_keys_ttl_and_invalidation(serve, tmp_path, redis_server):
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    settings = make_settings(tmp_path, REDIS_URL=redis_server.url, REDIS_TTL_INVENTORY="120")
    add_items(settings, "A-1", "B-2")
    server = serve(settings)
    health = requests.get(server.url + "/health").json()
    assert health["cache_backend"] == "redis" and health["cache"] == "connected"

    for path in ("/api/inventory/list", "/api/inventory/list", "/api/inventory/items?limit=10",
                 "/api/dashboard/stats", "/api/dashboard/stats"):
        assert requests.get(server.url + path).status_code == 200
    keys = sorted(key.decode() for key in client.keys("*"))
    assert keys == [PREFIX + "dashboard:stats", PREFIX + "inventory:items:10", PREFIX + "inventory:list"]
    assert 0 < client.ttl(PREFIX + "inventory:list") <= 120

    stats = requests.get(server.url + "/api/cache/stats").json()
    assert stats["backend"] == "redis" and (stats["hits"], stats["misses"]) == (2, 3)
    assert stats["hit_rate"] == 40.0 and stats["keys"] == 3 and stats["memory_bytes"] > 0

    token = requests.post(server.url + "/api/auth/login", json={"username": "admin", "password": PASSWORD}).json()
    headers = {"Authorization": "Bearer " + token["token"]}
    assert requests.post(server.url + "/api/inventory/counts", json=COUNT, headers=headers).status_code == 201
    assert client.keys(PREFIX + "*") == []
    listing = requests.get(server.url + "/api/inventory/list").json()
    assert {item["item_code"]: item["quantity"] for item in listing["items"]}["A-1"] == 5


def test_redis_down_degrades_but_serves(serve, tmp_path, fresh_redis):
    settings = make_settings(tmp_path, REDIS_URL=fresh_redis.url)
    add_items(settings, "A-1")
    server = serve(settings)
    assert requests.get(server.url + "/api/inventory/list").status_code == 200
    fresh_redis.stop()

    start = time.monotonic()
    response = requests.get(server.url + "/health")
    assert time.monotonic() - start < 3
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded" and body["cache"] == "disconnected" and body["failed"] == ["cache"]
    assert body["database"] == "connected"

    for path in ("/api/inventory/list", "/api/inventory/items", "/api/dashboard/stats"):
        assert requests.get(server.url + path).status_code == 200, path
    stats = requests.get(server.url + "/api/cache/stats")
    assert stats.status_code == 200 and stats.json()["misses"] == 4 and stats.json()["keys"] is None

    token = requests.post(server.url + "/api/auth/login", json={"username": "admin", "password": PASSWORD}).json()
    response = requests.post(server.url + "/api/inventory/counts", json=COUNT,
                             headers={"Authorization": "Bearer " + token["token"]})
    assert response.status_code == 201
    assert 'system_health_status{component="cache"} 0.0' in requests.get(server.url + "/metrics").text


def test_write_during_outage_never_leaves_stale_entries(serve, tmp_path, fresh_redis):
    """Redis unreachable (paused, data kept) while a write happens: once it answers again, the cached
    listing from before the write must not be served."""
    settings = make_settings(tmp_path, REDIS_URL=fresh_redis.url)
    add_items(settings, "A-1")
    server = serve(settings)
    token = requests.post(server.url + "/api/auth/login", json={"username": "admin", "password": PASSWORD}).json()
    assert requests.get(server.url + "/api/inventory/list").json()["items"][0]["quantity"] is None

    client = redis.Redis.from_url(fresh_redis.url)
    client.execute_command("CLIENT", "PAUSE", "1500", "ALL")
    response = requests.post(server.url + "/api/inventory/counts", json=COUNT,
                             headers={"Authorization": "Bearer " + token["token"]})
    assert response.status_code == 201
    time.sleep(1.6)
    assert client.keys(PREFIX + "*") == [PREFIX.encode() + b"inventory:list"]  # still there after the outage
    assert requests.get(server.url + "/api/inventory/list").json()["items"][0]["quantity"] == 5
