# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._redis import (
    RedisProbe,
    RedisProbeError,
    hit_rate,
    redact_url,
    redis_argument_spec,
    url_secrets,
)


def test_argument_spec():
    spec = redis_argument_spec()
    assert spec['redis_url'] == dict(type='str', no_log=True)
    assert spec['redis_timeout'] == dict(type='float', default=2.0)


@pytest.mark.parametrize('hits, misses, expected', [
    (0, 0, None), (3, 1, 75.0), (0, 5, 0.0), (2, 1, 66.67), ('10', '0', 100.0),
])
def test_hit_rate(hits, misses, expected):
    assert hit_rate(hits, misses) == expected


@pytest.mark.parametrize('url, expected', [
    ('redis://:hunter2@cache.example.com:6380/1', 'redis://:****@cache.example.com:6380/1'),
    ('rediss://user:pw@10.0.0.5/0', 'rediss://user:****@10.0.0.5:6379/0'),
    ('redis://hunter2@10.0.0.5:6379/0', 'redis://****@10.0.0.5:6379/0'),
    ('redis://10.0.0.5:6379/0?password=hunter2', 'redis://10.0.0.5:6379/0'),
    ('redis://[::1]:6380/2', 'redis://[::1]:6380/2'),
    ('redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'),
    ('unix:///run/redis.sock?db=0', 'unix:///run/redis.sock'),
    ('unix://:hunter2@/run/redis.sock?db=0', 'unix://:****@/run/redis.sock'),
])
def test_redact_url_masks_only_the_password(url, expected):
    assert redact_url(url) == expected


@pytest.mark.parametrize('url, expected', [
    ('redis://127.0.0.1:6379/0', set()),
    ('redis://:hunter%402@cache:6380/1', {'hunter%402', 'hunter@2'}),
    ('redis://user:pw@cache/0', {'pw'}),
    ('redis://lonely@cache/0', {'lonely'}),
    ('redis://cache/0?db=1&password=s3%20cr+t', {'s3 cr t', 's3%20cr+t'}),
    ('', set()),
])
def test_url_secrets(url, expected):
    assert url_secrets(url) == expected


def test_ping_and_hit_rate_on_real_redis(redis_url):
    import redis
    client = redis.Redis.from_url(redis_url)
    client.set('inventory:item:1', 'x')
    for dummy in range(3):
        client.get('inventory:item:1')
    client.get('inventory:item:missing')
    client.close()

    probe = RedisProbe(redis_url, timeout=2)
    try:
        assert probe.ping() is True
        assert probe.keyspace() == dict(hits=3, misses=1, hit_rate=75.0)
    finally:
        probe.close()


def test_no_traffic_gives_unknown_hit_rate(redis_url):
    probe = RedisProbe(redis_url)
    assert probe.keyspace()['hit_rate'] is None
    probe.close()


def test_down_redis_is_a_clear_error_without_password(dead_redis_url):
    url = dead_redis_url.replace('redis://', 'redis://:hunter2@')
    start = time.monotonic()
    with pytest.raises(RedisProbeError) as err:
        RedisProbe(url, timeout=1).ping()
    assert time.monotonic() - start < 1.5
    msg = str(err.value)
    assert 'hunter2' not in msg
    assert msg.startswith('Redis PING at %s failed' % url.replace('hunter2', '****'))
    assert 'is redis-server running' in msg


def test_invalid_url():
    with pytest.raises(RedisProbeError) as err:
        RedisProbe('http://:Pw0rd9@127.0.0.1:6379/0').ping()
    assert 'invalid redis_url http://:****@127.0.0.1:6379/0' in str(err.value)
    assert 'Pw0rd9' not in str(err.value)


def test_wrong_password_is_reported(redis_url):
    with pytest.raises(RedisProbeError) as err:
        RedisProbe(redis_url.replace('redis://', 'redis://nosuchuser:wrongpass@'), timeout=1).ping()
    msg = str(err.value)
    assert 'wrongpass' not in msg
    assert 'Redis PING at' in msg
    assert 'check the password/user in redis_url' in msg
