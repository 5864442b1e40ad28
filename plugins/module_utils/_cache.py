# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The service's read cache seen from outside: /api/cache/stats, warming requests, and its own Redis keys.

Warming reads X-Cache (HIT or MISS) from the service's cached reads, and probes with
`Cache-Control: only-if-cached` (RFC 9111: answer from the cache or 504, never compute and store), which is
how check mode looks without filling anything. Clearing deletes only the keys under the service's prefix, found
with SCAN: a Redis shared with another tenant keeps that tenant's keys (never FLUSHDB or FLUSHALL).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import ApiError

# The guide's "Midday Cache Warming" list.
GUIDE_ENDPOINTS = ['/api/inventory/list', '/api/dashboard/stats', '/api/ai/models/list']
STATS_PATH = '/api/cache/stats'
# The reference service's key prefix (reference/inventory_service/cache.py PREFIX).
DEFAULT_KEY_PREFIX = 'ie:cache:'
SCAN_COUNT = 500
PROBE_HEADERS = {'Cache-Control': 'only-if-cached'}


def read_stats(client):
    """(stats dict, None) from GET /api/cache/stats, or (None, message) when it cannot be read."""
    try:
        body = client.get_json(STATS_PATH)
    except ApiError as exc:
        return None, str(exc)
    if not isinstance(body, dict):
        return None, 'GET %s answered %s, not a JSON object' % (client.url(STATS_PATH), type(body).__name__)
    keep = ('backend', 'hits', 'misses', 'hit_rate', 'keys', 'memory_bytes', 'ttl_seconds')
    return dict((name, body.get(name)) for name in keep), None


def _x_cache(response):
    for name, value in (response.headers or {}).items():
        if name.lower() == 'x-cache':
            return str(value).strip().upper() or None
    return None


def _ms(seconds):
    return None if seconds is None else round(seconds * 1000.0, 2)


def _timed_get(client, path, headers=None):
    """(response or None, error or None, latency seconds)."""
    started = time.monotonic()
    try:
        response = client.get(path, headers=headers)
        return response, None, response.elapsed
    except ApiError as exc:
        elapsed = exc.response.elapsed if exc.response is not None else time.monotonic() - started
        return exc.response, exc, elapsed


def probe_endpoint(client, path):
    """Check mode: is the endpoint's entry cached? Asked with only-if-cached, so a missing one is not filled."""
    response, error, elapsed = _timed_get(client, path, PROBE_HEADERS)
    status = response.status if response is not None else None
    result = dict(endpoint=path, status=status, latency_before_ms=_ms(elapsed), latency_after_ms=None,
                  cache_before=_x_cache(response) if response is not None else None, cache_after=None,
                  cold=None, filled=False, ok=True, error=None)
    if status == 504 and result['cache_before'] == 'MISS':
        result.update(cold=True, error=None)
    elif error is not None:
        result.update(ok=False, error=str(error))
    elif result['cache_before'] == 'HIT':
        result['cold'] = False
    return result


def warm_endpoint(client, path):
    """Request the endpoint twice: the first fills a missing entry, the second shows whether it now hits."""
    response, error, elapsed = _timed_get(client, path)
    result = dict(endpoint=path, status=response.status if response is not None else None,
                  latency_before_ms=_ms(elapsed), latency_after_ms=None,
                  cache_before=_x_cache(response) if response is not None else None, cache_after=None,
                  cold=None, filled=False, ok=error is None, error=str(error) if error is not None else None)
    if error is not None:
        return result
    response, error, elapsed = _timed_get(client, path)
    result.update(latency_after_ms=_ms(elapsed), cache_after=_x_cache(response) if response is not None else None)
    if error is not None:
        result.update(ok=False, error=str(error), status=response.status if response is not None else None)
        return result
    if result['cache_before'] in ('HIT', 'MISS'):
        result['cold'] = result['cache_before'] == 'MISS'
        # Filled only when the entry that was missing is now served from the cache (a down Redis misses twice).
        result['filled'] = result['cold'] and result['cache_after'] == 'HIT'
    return result


def run_endpoints(client, paths, concurrency, probe_only=False):
    """Every endpoint at once (at most `concurrency` in flight), results in the order given."""
    work = probe_endpoint if probe_only else warm_endpoint
    if len(paths) < 2 or concurrency < 2:
        return [work(client, path) for path in paths]
    with ThreadPoolExecutor(max_workers=min(len(paths), concurrency)) as executor:
        return list(executor.map(lambda path: work(client, path), paths))


def scan_pattern(prefix):
    """A SCAN MATCH pattern for keys starting with `prefix`, its glob characters escaped."""
    escaped = ''.join('\\' + char if char in '*?[]\\' else char for char in prefix)
    return escaped + '*'


def own_keys(client, prefix):
    """The keys under `prefix`, found with SCAN (never KEYS: it blocks a large Redis)."""
    return list(client.scan_iter(match=scan_pattern(prefix), count=SCAN_COUNT))


def delete_keys(client, keys, batch=SCAN_COUNT):
    """DEL in batches; returns how many existed and were deleted."""
    deleted = 0
    for start in range(0, len(keys), batch):
        deleted += int(client.delete(*keys[start:start + batch]) or 0)
    return deleted
