"""Read-through cache for the read endpoints: Redis when configured, else an in-process TTL dict.

The cache is an optimisation only: any Redis failure degrades to a miss served from the database.
Every key starts with PREFIX: a Redis shared with other tenants is only ever scanned, measured and cleared
under it (SCAN, never KEYS or FLUSHDB).
"""
import contextlib
import json
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

PREFIX = "ie:cache:"
SOCKET_TIMEOUT = 1.0


class CacheUnavailable(Exception):
    pass


@contextlib.contextmanager
def _unavailable():
    try:
        yield
    except redis.RedisError as exc:
        raise CacheUnavailable(str(exc) or exc.__class__.__name__) from exc


class MemoryBackend:
    name = "memory"

    def __init__(self):
        self._data = {}
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires <= time.monotonic():
                del self._data[key]
                return None
            return value

    def set(self, key, value, ttl):
        with self._lock:
            self._data[key] = (time.monotonic() + ttl, value)

    def invalidate(self):
        with self._lock:
            for key in [k for k in self._data if k.startswith(PREFIX)]:
                del self._data[key]

    def ping(self):
        return True

    def usage(self):
        now = time.monotonic()
        with self._lock:
            live = {k: v for k, (expires, v) in self._data.items() if expires > now}
        # An estimate: the serialised size of what would go over the wire to Redis.
        return len(live), sum(len(k) + len(v) for k, v in live.items())

    def close(self):
        pass


class RedisBackend:
    name = "redis"

    def __init__(self, url):
        # No retries and a short timeout: a dead Redis must cost one fast failure, not a backoff loop.
        self._client = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), 0), health_check_interval=0)

    def get(self, key):
        with _unavailable():
            value = self._client.get(key)
        return None if value is None else value.decode("utf-8")

    def set(self, key, value, ttl):
        with _unavailable():
            self._client.set(key, value, ex=ttl)

    def invalidate(self):
        with _unavailable():
            keys = list(self._client.scan_iter(match=PREFIX + "*", count=500))
            if keys:
                self._client.delete(*keys)

    def ping(self):
        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False

    def usage(self):
        """Key count and MEMORY USAGE summed over this service's keys only, not the whole Redis's used_memory."""
        keys = memory = 0
        with _unavailable():
            batch = []
            for key in self._client.scan_iter(match=PREFIX + "*", count=500):
                batch.append(key)
                if len(batch) == 500:
                    memory += self._memory(batch)
                    keys += len(batch)
                    batch = []
            memory += self._memory(batch)
            keys += len(batch)
        return keys, memory

    def _memory(self, keys):
        if not keys:
            return 0
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.memory_usage(key, samples=0)
        # A key that expired between SCAN and MEMORY USAGE answers None: it no longer takes memory.
        return sum(int(size or 0) for size in pipe.execute())

    def close(self):
        self._client.close()


def cache_name(key):
    """The metrics label of a key: its first segment (inventory, dashboard), a bounded set."""
    return key.split(":", 1)[0]


class ResponseCache:
    """Counts hits and misses itself so /api/cache/stats reports this process, not the whole Redis."""

    def __init__(self, backend, ttl, metrics=None, on_error=None, ttls=None):
        self.backend = backend
        self.ttl = ttl
        # The configured TTL of each cache family, reported by stats() (what the guide tunes in .env).
        self.ttls = dict(ttls or {"inventory": ttl})
        self.metrics = metrics
        self.on_error = on_error or (lambda exc: None)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        # Set when a write could not invalidate: Redis may come back still holding entries older than it.
        self._stale = False

    def _count(self, name, hit):
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1
        if self.metrics is not None:
            (self.metrics.cache_hits if hit else self.metrics.cache_misses).labels(cache=name).inc()

    def _lookup(self, key):
        """The cached text, or None on a miss or when the cache is unavailable (then also reported)."""
        try:
            if self._stale:
                self.backend.invalidate()
                self._stale = False
            return self.backend.get(PREFIX + key)
        except CacheUnavailable as exc:
            self.on_error(exc)
            return None

    def get_or_compute(self, key, compute, ttl=None):
        """(value, hit): the cached value, or compute() stored for `ttl` seconds (default: the inventory TTL)."""
        cached = self._lookup(key)
        if cached is not None:
            self._count(cache_name(key), True)
            return json.loads(cached), True
        self._count(cache_name(key), False)
        value = compute()
        try:
            self.backend.set(PREFIX + key, json.dumps(value, separators=(",", ":")), ttl or self.ttl)
        except CacheUnavailable as exc:
            self.on_error(exc)
        return value, False

    def peek(self, key):
        """The cached value or None, computing and storing nothing (Cache-Control: only-if-cached)."""
        cached = self._lookup(key)
        if cached is None:
            return None
        self._count(cache_name(key), True)
        return json.loads(cached)

    def invalidate(self):
        try:
            self.backend.invalidate()
        except CacheUnavailable as exc:
            self._stale = True
            self.on_error(exc)

    def stats(self):
        with self._lock:
            hits, misses = self.hits, self.misses
        total = hits + misses
        try:
            keys, memory = self.backend.usage()
        except CacheUnavailable as exc:
            self.on_error(exc)
            keys, memory = None, None
        return {
            "backend": self.backend.name,
            "hits": hits,
            "misses": misses,
            "hit_rate": round(100.0 * hits / total, 2) if total else 0.0,
            "keys": keys,
            "memory_bytes": memory,
            "key_prefix": PREFIX,
            "ttl_seconds": dict(self.ttls),
        }


def make_backend(redis_url):
    return RedisBackend(redis_url) if redis_url else MemoryBackend()
