# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""redis_memory against a private redis-server; the state is read back with redis-py, not the module."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
import redis

from ansible_collections.inventory_enterprise.ops.plugins.modules import redis_memory
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module


@pytest.fixture
def server(redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.config_set('maxmemory', 0)
    client.config_set('maxmemory-policy', 'noeviction')
    client.set('ie:cache:x', 'y' * 10000)
    yield client
    client.config_set('maxmemory', 0)
    client.config_set('maxmemory-policy', 'noeviction')
    client.close()


def test_read_only_reports_used_memory(server, redis_url, capsys):
    failed, result = run_module(redis_memory, dict(redis_url=redis_url), capsys)
    assert not failed and result['changed'] is False and result['commands'] == []
    memory = result['memory']
    assert memory['used_memory'] == pytest.approx(int(server.info('memory')['used_memory']), rel=0.2)
    assert memory['maxmemory'] == 0 and memory['used_percent_of_max'] is None
    assert memory['maxmemory_policy'] == 'noeviction'


def test_cap_in_check_mode_then_for_real_then_again(server, redis_url, capsys):
    args = dict(redis_url=redis_url, maxmemory='100mb', maxmemory_policy='allkeys-lru')
    failed, result = run_module(redis_memory, args, capsys, check_mode=True, diff=True)
    assert not failed and result['changed'] is True
    assert result['commands'] == ['CONFIG SET maxmemory 104857600', 'CONFIG SET maxmemory-policy allkeys-lru']
    assert result['diff']['after'] == {'maxmemory': 104857600, 'maxmemory_policy': 'allkeys-lru'}
    assert server.config_get('maxmemory')['maxmemory'] == '0'

    failed, result = run_module(redis_memory, args, capsys, diff=True)
    assert not failed and result['changed'] is True
    assert server.config_get('maxmemory')['maxmemory'] == '104857600'
    assert server.config_get('maxmemory-policy')['maxmemory-policy'] == 'allkeys-lru'
    assert result['diff']['before'] == {'maxmemory': 0, 'maxmemory_policy': 'noeviction'}
    assert 0 < result['memory']['used_percent_of_max'] < 100

    failed, result = run_module(redis_memory, dict(args, maxmemory='104857600'), capsys)
    assert not failed and result['changed'] is False and result['commands'] == []


@pytest.mark.parametrize('size, expected', [('1gb', 1024 ** 3), ('1GB', 1024 ** 3), ('1g', 10 ** 9), ('512mb', 512 * 1024 ** 2),
                                            ('100', 100), ('0', 0), ('1.5gb', None), ('1 tb', None), ('', None)])
def test_sizes_are_read_as_redis_reads_them(size, expected):
    assert redis_memory.parse_size(size) == expected


def test_a_bad_size_and_a_dead_redis_fail_clearly(redis_url, dead_redis_url, capsys):
    failed, result = run_module(redis_memory, dict(redis_url=redis_url, maxmemory='lots'), capsys)
    assert failed and "maxmemory 'lots' is not a size" in result['msg']
    secret_url = dead_redis_url.replace('redis://', 'redis://:S3cret@')
    failed, result = run_module(redis_memory, dict(redis_url=secret_url), capsys, keep_raw=True)
    assert failed and 'INFO memory' in result['msg'] and 'S3cret' not in result['_raw']
