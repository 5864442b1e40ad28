"""The guide's cache: /api/cache/stats measured against a real Redis shared with another tenant, TTLs from .env,
X-Cache and only-if-cached probes, labelled hit/miss counters."""
import redis
import requests

from refhelpers import PASSWORD, add_items, make_settings
from inventory_service.cache import PREFIX

FOREIGN = {"other-tenant:session:1": "x" * 5000, "other-tenant:session:2": "y" * 5000}


def test_stats_measure_only_the_service_keys_of_a_shared_redis(serve, tmp_path, redis_server):
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    client.mset(FOREIGN)
    settings = make_settings(tmp_path, REDIS_URL=redis_server.url, REDIS_TTL_INVENTORY="600",
                             REDIS_TTL_FORECASTS="172800")
    add_items(settings, "A-1", "B-2")
    server = serve(settings)
    for path in ("/api/inventory/list", "/api/dashboard/stats"):
        assert requests.get(server.url + path).status_code == 200

    stats = requests.get(server.url + "/api/cache/stats").json()
    assert stats["keys"] == 2 and stats["key_prefix"] == PREFIX
    own = sum(client.memory_usage(key, samples=0) for key in client.scan_iter(match=PREFIX + "*"))
    assert stats["memory_bytes"] == own
    # The other tenant's 10 kB are not the service's: used_memory of the whole Redis would count them.
    assert stats["memory_bytes"] < 10000 < int(client.info("memory")["used_memory"])
    assert stats["ttl_seconds"] == {"inventory": 600, "forecasts": 172800}
    assert 590 < client.ttl(PREFIX + "inventory:list") <= 600

    # A write clears the service's entries and leaves the other tenant's alone.
    token = requests.post(server.url + "/api/auth/login", json={"username": "admin", "password": PASSWORD}).json()
    count = {"count_date": "2026-11-20", "items": [{"item_code": "A-1", "quantity": 5}]}
    assert requests.post(server.url + "/api/inventory/counts", json=count,
                         headers={"Authorization": "Bearer " + token["token"]}).status_code == 201
    assert sorted(key.decode() for key in client.scan_iter(match="*")) == sorted(FOREIGN)


def test_x_cache_and_only_if_cached_probe(serve, tmp_path, redis_server):
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    settings = make_settings(tmp_path, REDIS_URL=redis_server.url)
    add_items(settings, "A-1")
    server = serve(settings)
    probe = {"Cache-Control": "only-if-cached"}

    cold = requests.get(server.url + "/api/inventory/list", headers=probe)
    assert cold.status_code == 504 and cold.headers["X-Cache"] == "MISS"
    assert client.exists(PREFIX + "inventory:list") == 0
    assert requests.get(server.url + "/api/cache/stats").json()["misses"] == 0

    first = requests.get(server.url + "/api/inventory/list")
    assert first.status_code == 200 and first.headers["X-Cache"] == "MISS"
    second = requests.get(server.url + "/api/inventory/list")
    assert second.headers["X-Cache"] == "HIT" and second.json() == first.json()
    warm = requests.get(server.url + "/api/inventory/list", headers=probe)
    assert warm.status_code == 200 and warm.headers["X-Cache"] == "HIT" and warm.json() == first.json()
    stats = requests.get(server.url + "/api/cache/stats").json()
    assert (stats["hits"], stats["misses"], stats["keys"]) == (2, 1, 1)

    metrics = requests.get(server.url + "/metrics").text
    assert 'cache_hits_total{cache="inventory"} 2.0' in metrics
    assert 'cache_misses_total{cache="inventory"} 1.0' in metrics
    assert "process_resident_memory_bytes" in metrics


def test_embedded_cache_reports_ttls_and_probes(serve, tmp_path):
    settings = make_settings(tmp_path, REDIS_TTL_INVENTORY="42")
    add_items(settings, "A-1")
    server = serve(settings)
    probe = {"Cache-Control": "only-if-cached"}
    assert requests.get(server.url + "/api/dashboard/stats", headers=probe).status_code == 504
    assert requests.get(server.url + "/api/dashboard/stats").headers["X-Cache"] == "MISS"
    assert requests.get(server.url + "/api/dashboard/stats", headers=probe).status_code == 200
    stats = requests.get(server.url + "/api/cache/stats").json()
    assert stats["backend"] == "memory" and stats["keys"] == 1 and stats["memory_bytes"] > 0
    assert stats["ttl_seconds"]["inventory"] == 42
