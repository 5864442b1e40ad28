# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A small real HTTP service caching its reads in a real Redis the way the reference service does (prefix
ie:cache:, X-Cache, only-if-cached, /api/cache/stats), for the cache modules' unit tests (no controller code)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = 'ie:cache:'
CACHED = {'/api/inventory/list': 'inventory:list', '/api/dashboard/stats': 'dashboard:stats',
          '/api/inventory/items?limit=100': 'inventory:items:100'}
TOKEN = 'unit-test-token'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def _send(self, status, body, x_cache=None):
        data = json.dumps(body).encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        if x_cache and self.server.x_cache:
            self.send_header('X-Cache', x_cache)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        server = self.server
        with server.lock:
            server.paths.append(self.path)
        if self.path == '/api/cache/stats':
            return self._send(200, server.stats())
        if self.path == '/api/secure/report':
            if self.headers.get('Authorization') != 'Bearer ' + TOKEN:
                return self._send(401, {'detail': 'missing or invalid bearer token'})
            return self._cached('secure:report')
        if self.path == '/api/ai/models/list':
            return self._send(200, {'models': [], 'total': 0})
        if self.path in CACHED:
            return self._cached(CACHED[self.path])
        return self._send(404 if self.path != '/api/broken' else 500, {'detail': 'no'})

    def _cached(self, key):
        server = self.server
        key = PREFIX + key
        value = server.redis.get(key)
        if value is not None:
            server.count(True)
            return self._send(200, json.loads(value), 'HIT')
        if 'only-if-cached' in self.headers.get('Cache-Control', '') and server.x_cache:
            return self._send(504, {'detail': 'not cached'}, 'MISS')
        server.count(False)
        body = {'key': key}
        server.redis.set(key, json.dumps(body), ex=300)
        return self._send(200, body, 'MISS')


class CacheService(object):
    """Serves on a free loopback port until stop(); `x_cache=False` behaves like a service without X-Cache."""

    def __init__(self, redis_url, x_cache=True):
        import redis
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.lock = threading.Lock()
        self.httpd.paths = []
        self.httpd.x_cache = x_cache
        self.httpd.redis = redis.Redis.from_url(redis_url)
        self.httpd.hits = self.httpd.misses = 0
        self.httpd.count = self._count
        self.httpd.stats = self._stats
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs=dict(poll_interval=0.05))
        self.thread.daemon = True

    def _count(self, hit):
        with self.httpd.lock:
            if hit:
                self.httpd.hits += 1
            else:
                self.httpd.misses += 1

    def _stats(self):
        keys = sum(1 for dummy in self.httpd.redis.scan_iter(match=PREFIX + '*'))
        hits, misses = self.httpd.hits, self.httpd.misses
        total = hits + misses
        return {'backend': 'redis', 'hits': hits, 'misses': misses, 'keys': keys, 'memory_bytes': keys * 64,
                'hit_rate': round(100.0 * hits / total, 2) if total else 0.0, 'key_prefix': PREFIX,
                'ttl_seconds': {'inventory': 300, 'forecasts': 86400}}

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.httpd.server_address[1]

    @property
    def paths(self):
        return list(self.httpd.paths)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.httpd.redis.close()
