# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Probing the service's Redis cache with redis-py: connect from a URL, PING, keyspace hit rate."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import traceback
from urllib.parse import unquote, unquote_plus, urlsplit

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.text.converters import to_native

# redis-py takes about 70 ms to import: it is imported on first use, so hosts that only check their disks
# (health_check with targets= runs the network checks elsewhere) do not pay for it.
_LIB = {}


def redis_lib():
    """The redis package, or None when it is not installed (the traceback is kept for the error)."""
    if 'redis' not in _LIB:
        try:
            import redis  # pylint: disable=import-outside-toplevel
            from redis.backoff import NoBackoff  # pylint: disable=import-outside-toplevel
            from redis.retry import Retry  # pylint: disable=import-outside-toplevel
            _LIB.update(redis=redis, retry=lambda: Retry(NoBackoff(), 0), error=None)
        except ImportError:
            _LIB.update(redis=None, retry=None, error=traceback.format_exc())
    return _LIB['redis']


DEFAULT_REDIS_TIMEOUT = 2.0


def redis_argument_spec():
    """Options shared by modules that talk to Redis (doc fragment inventory_enterprise.ops.redis).

    redis_url is no_log, so a run that fails argument validation masks all of it; a module that got past
    validation then calls mask_only_redis_passwords() so its results still say which host and port were meant.
    """
    return dict(
        redis_url=dict(type='str', no_log=True),
        redis_timeout=dict(type='float', default=DEFAULT_REDIS_TIMEOUT),
    )


def url_secrets(url):
    """The secret parts of a Redis URL: its password (quoted and unquoted) and a password= query parameter."""
    secrets = set()
    if not url:
        return secrets
    try:
        parts = urlsplit(url)
        password = parts.password
        if password is None and parts.username and '@' in parts.netloc:
            # redis://secret@host: some clients read a lone user-info as the password.
            password = parts.username
        if password:
            secrets.update((password, unquote(password)))
        for pair in parts.query.split('&'):
            key, dummy, value = pair.partition('=')
            if unquote_plus(key) == 'password':
                secrets.update((value, unquote_plus(value)))
    except ValueError:
        secrets.add(url)
    return set(secret for secret in secrets if secret)


def mask_only_redis_passwords(module, urls):
    """Narrow Ansible's masking of the no_log `urls` to their passwords.

    Ansible replaces a no_log value wherever it appears in a result: a message naming redis://127.0.0.1:6379/0
    would read "PONG from ********". Only the password is secret; it stays masked everywhere, invocation included.
    """
    for url in urls:
        if url:
            module.no_log_values.discard(url)
            module.no_log_values.update(url_secrets(url))


def fail_if_missing_redis(module, reason=None):
    """fail_json with the usual install hint when redis-py is not importable on the managed host."""
    if redis_lib() is None:
        module.fail_json(msg=missing_required_lib('redis', reason=reason), exception=_LIB['error'])


MASK = '****'


def redact_url(url):
    """The URL for messages, with host, port and database but the password masked: redis://:****@host:6379/0."""
    if not url:
        return ''
    try:
        parts = urlsplit(url)
        userinfo = ''
        if parts.password is not None:
            userinfo = '%s:%s@' % (parts.username or '', MASK)
        elif '@' in parts.netloc:
            userinfo = '%s@' % MASK
        if parts.scheme == 'unix':
            return 'unix://%s%s' % (userinfo, parts.path)
        host = parts.hostname or 'localhost'
        if ':' in host:
            host = '[%s]' % host
        port = parts.port or 6379
        return '%s://%s%s:%s%s' % (parts.scheme or 'redis', userinfo, host, port, parts.path or '')
    except ValueError:
        return '<unparsable redis_url>'


def hit_rate(hits, misses):
    """Keyspace hit rate in percent, or None when there was no lookup at all."""
    hits = int(hits or 0)
    misses = int(misses or 0)
    total = hits + misses
    if total == 0:
        return None
    return round(100.0 * hits / total, 2)


class RedisProbeError(Exception):
    """A clear, password-free message about what went wrong with Redis."""


class RedisProbe(object):
    """One short-lived connection to Redis with bounded timeouts and no retries."""

    def __init__(self, url, timeout=DEFAULT_REDIS_TIMEOUT):
        self.url = url
        self.timeout = float(timeout if timeout is not None else DEFAULT_REDIS_TIMEOUT)
        self.where = redact_url(url)
        self._client = None

    def _scrub(self, text):
        for secret in url_secrets(self.url):
            text = text.replace(secret, '********')
        return text

    def _error(self, action, exc):
        text = self._scrub(to_native(exc).strip().rstrip('.'))
        redis = redis_lib()
        if redis and isinstance(exc, redis.exceptions.AuthenticationError):
            hint = 'check the password/user in redis_url'
        elif redis and isinstance(exc, redis.exceptions.TimeoutError):
            hint = 'Redis is hung or overloaded; check it, or raise redis_timeout'
        elif redis and isinstance(exc, redis.exceptions.ConnectionError):
            hint = 'is redis-server running and listening there? check redis_url'
        else:
            hint = 'check redis_url and the Redis server'
        return RedisProbeError('Redis %s at %s failed: %s; %s' % (action, self.where, text, hint))

    @property
    def client(self):
        if self._client is None:
            redis = redis_lib()
            if redis is None:
                raise RedisProbeError(missing_required_lib('redis'))
            try:
                self._client = redis.Redis.from_url(
                    self.url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout,
                    retry=_LIB['retry'](), decode_responses=True)
            except Exception as exc:  # pylint: disable=broad-except
                # e.g. ValueError for an unknown scheme: the URL itself is wrong.
                raise RedisProbeError('invalid redis_url %s: %s; use redis://[:password@]host:port/db'
                                      % (self.where, self._scrub(to_native(exc))))
        return self._client

    def ping(self):
        try:
            return bool(self.client.ping())
        except RedisProbeError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            raise self._error('PING', exc)

    def stats(self):
        """INFO stats as a dict."""
        try:
            return self.client.info('stats')
        except RedisProbeError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            raise self._error('INFO stats', exc)

    def command(self, action, method, *args):
        """client.<method>(*args), its errors as a RedisProbeError naming `action` (e.g. 'CONFIG SET maxmemory')."""
        try:
            return getattr(self.client, method)(*args)
        except RedisProbeError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            raise self._error(action, exc)

    def keyspace(self):
        """{'hits': int, 'misses': int, 'hit_rate': percent or None} from INFO stats."""
        stats = self.stats()
        hits = int(stats.get('keyspace_hits', 0) or 0)
        misses = int(stats.get('keyspace_misses', 0) or 0)
        return dict(hits=hits, misses=misses, hit_rate=hit_rate(hits, misses))

    def close(self):
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # pylint: disable=broad-except
                pass
            self._client = None
