# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures: the scripted HTTP service, closed ports, and a private redis-server (tests/support/servers.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import shutil

import pytest

from ansible_collections.inventory_enterprise.ops.tests.unit.servers import ApiServer, closed_port


@pytest.fixture(scope='session')
def _api_server():
    server = ApiServer().start()
    yield server
    server.stop()


@pytest.fixture
def api(_api_server):
    """The scripted service, reset to the healthy scenario."""
    return _api_server.use('healthy')


@pytest.fixture
def dead_url():
    return 'http://127.0.0.1:%d' % closed_port()


@pytest.fixture(scope='session')
def redis_server():
    """A private redis-server on a free port (never the machine's 6379)."""
    if not shutil.which('redis-server'):
        pytest.fail('redis-server is not installed: tests/setup-system.sh installs it')
    from ansible_collections.inventory_enterprise.ops.tests.support.servers import RedisServer
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server):
    """URL of the private Redis, with its statistics reset."""
    import redis
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    client.config_resetstat()
    client.close()
    return redis_server.url


@pytest.fixture
def dead_redis_url():
    return 'redis://127.0.0.1:%d/0' % closed_port()


@pytest.fixture
def pg_dsn():
    """A scratch database; a missing server fails the test (a skip would let the suite pass untested)."""
    import psycopg2
    from ansible_collections.inventory_enterprise.ops.tests.support.servers import scratch_postgres_database
    try:
        with scratch_postgres_database("ie_test_maint") as dsn:
            yield dsn
    except psycopg2.OperationalError as exc:
        pytest.fail("PostgreSQL is not reachable (%s): tests/setup-system.sh starts it, "
                    "IE_TEST_PG_DSN names another server" % str(exc).strip())
