# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""cache_warm and cache_clear against a real HTTP service (tests/unit/cache_service.py) caching in a real private
redis-server, shared with another tenant's keys."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.modules import cache_clear, cache_warm
from ansible_collections.inventory_enterprise.ops.tests.unit.cache_service import PREFIX, TOKEN, CacheService
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

GUIDE = ['/api/inventory/list', '/api/dashboard/stats', '/api/ai/models/list']
TENANT = {'billing:session:1': 'a', 'billing:session:2': 'b', 'ie:cache-other:x': 'c', 'ie:cachex': 'd'}


@pytest.fixture
def redis_client(redis_url):
    import redis
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.mset(TENANT)
    yield client
    client.close()


@pytest.fixture
def service(redis_url, redis_client):
    server = CacheService(redis_url).start()
    yield server
    server.stop()


def own(client):
    return sorted(client.scan_iter(match=PREFIX + '*'))


def by_path(result):
    return dict((item['endpoint'], item) for item in result['endpoints'])


def test_cold_cache_is_filled_then_a_second_run_changes_nothing(service, redis_client, capsys):
    args = dict(api_url=service.url, extra_endpoints=['/api/inventory/items?limit=100'], host_label='web01')
    failed, result = run_module(cache_warm, args, capsys)
    assert not failed and result['changed']
    assert result['filled'] == ['/api/inventory/list', '/api/dashboard/stats', '/api/inventory/items?limit=100']
    listing = by_path(result)['/api/inventory/list']
    assert (listing['cache_before'], listing['cache_after'], listing['cold'], listing['status']) == ('MISS', 'HIT', True, 200)
    assert listing['latency_before_ms'] > 0 and listing['latency_after_ms'] > 0
    models = by_path(result)['/api/ai/models/list']
    assert models['cold'] is None and not models['filled'] and models['ok']
    assert (result['stats_before']['keys'], result['stats_after']['keys']) == (0, 3)
    assert len(own(redis_client)) == 3
    assert result['summary'].startswith('web01: 4 endpoint(s), 3 cold filled, 0 failed')

    failed, again = run_module(cache_warm, args, capsys)
    assert not failed and not again['changed'] and again['filled'] == []
    assert all(item['cold'] in (False, None) for item in again['endpoints'])


def test_check_mode_predicts_and_fills_nothing(service, redis_client, capsys):
    failed, result = run_module(cache_warm, dict(api_url=service.url), capsys, check_mode=True)
    assert not failed and result['changed']
    assert result['filled'] == ['/api/inventory/list', '/api/dashboard/stats']
    assert own(redis_client) == [] and result['stats_after']['misses'] == 0
    assert all(item['latency_after_ms'] is None for item in result['endpoints'])

    run_module(cache_warm, dict(api_url=service.url), capsys)
    failed, result = run_module(cache_warm, dict(api_url=service.url), capsys, check_mode=True)
    assert not failed and not result['changed'] and result['filled'] == []


def test_a_failing_endpoint_is_named_and_the_others_are_warmed(service, redis_client, capsys):
    args = dict(api_url=service.url, extra_endpoints=['/api/broken', '/api/secure/report'], concurrency=2)
    failed, result = run_module(cache_warm, args, capsys)
    assert failed and result['changed']
    assert result['failed_endpoints'] == ['/api/broken', '/api/secure/report']
    assert '/api/broken (HTTP 500' in result['msg'] and '/api/secure/report (HTTP 401' in result['msg']
    assert 'check api_token' in result['msg']
    assert len(own(redis_client)) == 2

    args.update(api_token=TOKEN, report_only=True)
    failed, result = run_module(cache_warm, args, capsys)
    assert not failed and result['failed_endpoints'] == ['/api/broken']
    assert result['filled'] == ['/api/secure/report']


def test_service_down_fails_every_endpoint_by_name(dead_url, capsys):
    failed, result = run_module(cache_warm, dict(api_url=dead_url, api_timeout=2), capsys)
    assert failed and not result['changed'] and result['failed_endpoints'] == GUIDE
    assert result['stats_before'] is None and 'cannot connect' in result['stats_error']


def test_without_x_cache_changed_comes_from_the_key_count(redis_url, redis_client, capsys):
    server = CacheService(redis_url, x_cache=False).start()
    try:
        failed, result = run_module(cache_warm, dict(api_url=server.url), capsys)
        assert not failed and result['changed'] and result['filled'] == []
        assert all(item['cold'] is None for item in result['endpoints'])
        failed, again = run_module(cache_warm, dict(api_url=server.url), capsys)
        assert not failed and not again['changed']
    finally:
        server.stop()


@pytest.mark.parametrize('args, message', [
    (dict(endpoints=['api/inventory/list']), 'must be a path starting with /'),
    (dict(concurrency=0), 'concurrency must be at least 1'),
])
def test_invalid_arguments(service, capsys, args, message):
    failed, result = run_module(cache_warm, dict(args, api_url=service.url), capsys)
    assert failed and message in result['msg']


def test_clear_deletes_only_the_service_keys(service, redis_client, redis_url, capsys):
    run_module(cache_warm, dict(api_url=service.url), capsys)
    redis_client.set(PREFIX + 'glob[*]?', 'e')

    failed, result = run_module(cache_clear, dict(redis_url=redis_url), capsys, check_mode=True, diff=True)
    assert not failed and result['changed'] and result['deleted'] == 3
    assert len(own(redis_client)) == 3 and result['diff'] == dict(before=dict(keys=3), after=dict(keys=0))

    failed, result = run_module(cache_clear, dict(redis_url=redis_url), capsys)
    assert not failed and result['changed']
    assert (result['deleted'], result['keys_before'], result['keys_after']) == (3, 3, 0)
    assert result['other_keys_before'] == result['other_keys_after'] == len(TENANT)
    assert own(redis_client) == []
    assert dict((key, redis_client.get(key)) for key in TENANT) == TENANT

    failed, result = run_module(cache_clear, dict(redis_url=redis_url), capsys)
    assert not failed and not result['changed'] and result['deleted'] == 0


def test_clear_refuses_an_empty_prefix_and_names_a_down_redis(redis_client, redis_url, dead_redis_url, capsys):
    failed, result = run_module(cache_clear, dict(redis_url=redis_url, key_prefix=''), capsys)
    assert failed and 'must not be empty' in result['msg']
    assert dict((key, redis_client.get(key)) for key in TENANT) == TENANT
    failed, result = run_module(cache_clear, dict(redis_url=dead_redis_url.replace('//', '//:pw@'), redis_timeout=1),
                                capsys, keep_raw=True)
    assert failed and 'redis://:****@127.0.0.1' in result['msg'] and 'redis-server running' in result['msg']
    assert ':pw@' not in result['_raw']


def test_prefix_glob_characters_match_literally(redis_client, redis_url, capsys):
    redis_client.mset({'t[1]:a': '1', 't1:b': '2', 'tx:c': '3'})
    failed, result = run_module(cache_clear, dict(redis_url=redis_url, key_prefix='t[1]:'), capsys)
    assert not failed and result['deleted'] == 1
    assert redis_client.exists('t1:b', 'tx:c') == 2
