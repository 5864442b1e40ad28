# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The morning health checks of the operations guide, as plain functions returning check results.

A check result is a dict {name, verdict, value, threshold, message} with verdict ok, failed or skipped.
Nothing here calls AnsibleModule, so every check is unit-testable on its own; the health_check module
only builds a HealthCheckRunner and reports what it returns.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fnmatch
import os
import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _backup_records
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import (
    ApiError,
    ApiResponse,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._printable import printable, printable_data
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._prometheus import (
    HEALTH_GAUGE,
    RSS_METRIC,
    Metrics,
    MetricsParseError,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._redis import RedisProbe, RedisProbeError

OK = 'ok'
FAILED = 'failed'
SKIPPED = 'skipped'

CHECK_NAMES = ('health', 'metrics', 'redis', 'disk', 'backup', 'memory')

HEALTH_PATH = '/health'
METRICS_PATH = '/metrics'

# /health keys that describe the service rather than a dependency.
HEALTH_INFO_KEYS = frozenset(('status', 'version', 'cache_backend', 'failed', 'timestamp', 'uptime',
                              'environment', 'message', 'detail'))
# Dependencies the guide expects in every /health answer.
HEALTH_REQUIRED_COMPONENTS = ('database', 'cache')
CONNECTION_STATES = frozenset(('connected', 'disconnected'))

MIB = 1024.0 * 1024.0
GIB = MIB * 1024.0


class CheckCrash(Exception):
    """An unexpected exception inside a check, turned into a failed result by HealthCheckRunner."""


def check_result(name, verdict, value=None, threshold=None, message='', reading=None):
    # Every result passes here: what a server sent (/health JSON, error bodies, Redis errors) and the names of
    # files reach the operator's terminal only as visible escapes. `reading` is the figure behind the verdict,
    # against its limit where there is one, short enough for the fleet summary (how close a host is to failing).
    return dict(name=printable(name), verdict=verdict, value=printable_data(value), threshold=threshold,
                message=printable(message), reading=printable(reading) if reading else None)


def _num(value, digits=2):
    """Round and drop a useless .0 in messages."""
    return ('%.*f' % (digits, value)).rstrip('0').rstrip('.')


# ---------------------------------------------------------------------------------------------- health

def health_components(payload):
    """{component: state} of every dependency reported by /health."""
    components = {}
    for key, value in payload.items():
        if key in HEALTH_INFO_KEYS or not isinstance(value, str):
            continue
        if value in CONNECTION_STATES or key in HEALTH_REQUIRED_COMPONENTS or key == 'postgres':
            components[key] = value
    return components


def evaluate_health(outcome, url):
    """Verdict on what GET /health gave: an ApiResponse, or an ApiError (which may carry a JSON 503)."""
    response = outcome if isinstance(outcome, ApiResponse) else getattr(outcome, 'response', None)
    if isinstance(outcome, Exception) and (response is None or not response.is_json):
        return check_result('health', FAILED, message=to_native(outcome))

    payload = response.json
    if not isinstance(payload, dict):
        return check_result('health', FAILED, value=payload,
                            message='unexpected answer from %s (HTTP %s): expected a JSON object, got %s; '
                                    'is api_url pointing at the Inventory Enterprise service?'
                                    % (url, response.status, type(payload).__name__))

    problems = []
    status = payload.get('status')
    if status != 'ok':
        problems.append('status %r' % (status,))
    components = health_components(payload)
    for name in HEALTH_REQUIRED_COMPONENTS:
        if name not in components:
            problems.append('%s not reported' % name)
    down = [name for name, state in sorted(components.items()) if state != 'connected']
    problems.extend('%s %s' % (name, components[name]) for name in down)
    for name in payload.get('failed') or []:
        if name not in components:
            problems.append('%s failed' % name)

    if problems or response.status >= 400:
        message = 'HTTP %s from %s: %s' % (response.status, url, ', '.join(problems) or 'error status')
        if down:
            message += '; check %s on the service host' % ', '.join(down)
        return check_result('health', FAILED, value=payload, message=message, reading=_latency(response))

    details = []
    if payload.get('version'):
        details.append('version %s' % payload['version'])
    if payload.get('cache_backend'):
        details.append('cache backend %s' % payload['cache_backend'])
    message = 'status ok; %s connected' % ', '.join(sorted(components))
    if details:
        message += ' (%s)' % ', '.join(details)
    return check_result('health', OK, value=payload, message=message, reading=_latency(response))


def _latency(response):
    return '%d ms' % round(response.elapsed * 1000) if response.elapsed is not None else None


# --------------------------------------------------------------------------------------------- metrics

def evaluate_metrics(outcome, url):
    """Verdict on the system_health_status gauges of a parsed /metrics (or the error fetching it)."""
    if isinstance(outcome, Exception):
        return check_result('metrics', FAILED, threshold=1, message=_metrics_error(outcome, url))
    gauges = outcome.health_status()
    if not gauges:
        return check_result('metrics', FAILED, value={}, threshold=1,
                            message='no %s gauge in %s: the service exports no health metrics; '
                                    'is api_url pointing at the Inventory Enterprise service?' % (HEALTH_GAUGE, url))
    down = sorted(name for name, value in gauges.items() if value != 1)
    reading = '%d of %d gauges at 1' % (len(gauges) - len(down), len(gauges))
    if down:
        return check_result('metrics', FAILED, value=gauges, threshold=1, reading=reading,
                            message='%s is not 1 for %s in %s; check those components on the service host'
                                    % (HEALTH_GAUGE, ', '.join(
                                        '%s (%s)' % (name, _num(gauges[name])) for name in down), url))
    return check_result('metrics', OK, value=gauges, threshold=1, reading=reading,
                        message='%s is 1 for %s' % (HEALTH_GAUGE, ', '.join(sorted(gauges))))


def _metrics_error(exc, url):
    if isinstance(exc, MetricsParseError):
        return 'cannot parse %s: %s; is api_url pointing at the Inventory Enterprise service?' % (url, exc)
    return to_native(exc)


# ---------------------------------------------------------------------------------------------- memory

def evaluate_memory_from_metrics(outcome, url, max_mb):
    """RSS from process_resident_memory_bytes in /metrics against max_mb."""
    if isinstance(outcome, Exception):
        return check_result('memory', FAILED, threshold=max_mb,
                            message='cannot read %s: %s' % (RSS_METRIC, _metrics_error(outcome, url)))
    rss = outcome.resident_memory_bytes()
    if rss is None:
        return check_result('memory', FAILED, threshold=max_mb,
                            message='%s not found in %s: the service exports no process metrics; '
                                    'set pid_file to read the memory from /proc instead' % (RSS_METRIC, url))
    return _memory_verdict(rss / MIB, max_mb, '%s in %s' % (RSS_METRIC, url))


def read_pid_rss_mb(pid_file, proc_root='/proc'):
    """(pid, resident MiB) of the process whose pid is in pid_file; raises ValueError with a clear message."""
    try:
        with open(pid_file) as handle:
            content = handle.read().strip()
    except (IOError, OSError) as exc:
        raise ValueError('cannot read pid_file %s: %s; is the service running?' % (pid_file, exc.strerror or exc))
    try:
        pid = int(content.split()[0])
    except (ValueError, IndexError):
        raise ValueError('pid_file %s does not contain a process id (found %r)' % (pid_file, content[:40]))
    status_path = os.path.join(proc_root, str(pid), 'status')
    try:
        with open(status_path) as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError):
        raise ValueError('process %s from pid_file %s is not running (no %s); restart the service or fix pid_file'
                         % (pid, pid_file, status_path))
    for line in lines:
        if line.startswith('VmRSS:'):
            fields = line.split()
            return pid, int(fields[1]) / 1024.0  # /proc reports kB
    raise ValueError('no VmRSS in %s: process %s is a zombie or a kernel thread' % (status_path, pid))


def check_memory_pid(pid_file, max_mb, proc_root='/proc'):
    try:
        pid, rss_mb = read_pid_rss_mb(pid_file, proc_root)
    except ValueError as exc:
        return check_result('memory', FAILED, threshold=max_mb, message=to_native(exc))
    return _memory_verdict(rss_mb, max_mb, 'VmRSS of pid %s' % pid)


def _memory_verdict(rss_mb, max_mb, source):
    rss_mb = round(rss_mb, 1)
    reading = '%d MB of %s MB' % (round(rss_mb), _num(max_mb))
    if rss_mb > max_mb:
        return check_result('memory', FAILED, value=rss_mb, threshold=max_mb, reading=reading,
                            message='resident memory %s MB exceeds %s MB (%s); see "High Memory Usage" in the '
                                    'operations guide' % (_num(rss_mb, 1), _num(max_mb), source))
    return check_result('memory', OK, value=rss_mb, threshold=max_mb, reading=reading,
                        message='resident memory %s MB <= %s MB (%s)' % (_num(rss_mb, 1), _num(max_mb), source))


# ----------------------------------------------------------------------------------------------- redis

def check_redis(url, timeout, min_hit_rate=0.0):
    """PING plus keyspace hit rate; fails below min_hit_rate (0 means report only)."""
    probe = RedisProbe(url, timeout)
    try:
        probe.ping()
        keyspace = probe.keyspace()
    except RedisProbeError as exc:
        return check_result('redis', FAILED, threshold=min_hit_rate, message=to_native(exc))
    finally:
        probe.close()
    rate = keyspace['hit_rate']
    value = dict(ping=True, hit_rate=rate, keyspace_hits=keyspace['hits'], keyspace_misses=keyspace['misses'])
    if rate is None:
        return check_result('redis', OK, value=value, threshold=min_hit_rate, reading='PONG, no lookups yet',
                            message='PONG from %s; no keyspace lookups yet, hit rate unknown' % probe.where)
    described = 'keyspace hit rate %s%% (%d hits, %d misses)' % (_num(rate), keyspace['hits'], keyspace['misses'])
    reading = 'hit rate %s%%%s' % (_num(rate, 1), ' of %s%%' % _num(min_hit_rate) if min_hit_rate else '')
    if min_hit_rate and rate < min_hit_rate:
        return check_result('redis', FAILED, value=value, threshold=min_hit_rate, reading=reading,
                            message='PONG from %s but %s is below %s%%; warm the cache or check the TTLs'
                                    % (probe.where, described, _num(min_hit_rate)))
    return check_result('redis', OK, value=value, threshold=min_hit_rate, reading=reading,
                        message='PONG from %s; %s' % (probe.where, described))


# ------------------------------------------------------------------------------------------------ disk

def normalize_disk_paths(items, default_max):
    """[(path, max_used_percent)] from a list of strings and/or {path, max_used_percent} dicts."""
    result = []
    for item in items or []:
        if isinstance(item, dict):
            unknown = set(item) - set(('path', 'max_used_percent'))
            if unknown or not item.get('path'):
                raise ValueError('each disk_paths entry must be a path or a dict with path and optional '
                                 'max_used_percent; got %r' % (item,))
            limit = item.get('max_used_percent')
            limit = default_max if limit is None else limit
        elif isinstance(item, str) and item:
            path, limit = item, default_max
            item = dict(path=item)
        else:
            raise ValueError('each disk_paths entry must be a path or a dict with path and optional '
                             'max_used_percent; got %r' % (item,))
        try:
            limit = float(limit)
        except (TypeError, ValueError):
            raise ValueError('max_used_percent of disk_paths entry %s must be a number, got %r'
                             % (item['path'], limit))
        if not 0 <= limit <= 100:
            raise ValueError('max_used_percent of disk_paths entry %s must be between 0 and 100, got %s'
                             % (item['path'], _num(limit)))
        result.append((to_native(item['path']), limit))
    return result


def used_percent(stat):
    """Used space as df shows it: used / (used + available to unprivileged users)."""
    return percent_used((stat.f_blocks - stat.f_bfree) * stat.f_frsize, stat.f_bavail * stat.f_frsize)


def percent_used(used, available):
    if used + available == 0:
        return 0.0
    return 100.0 * used / (used + available)


def check_disk(path, max_used_percent):
    try:
        stat = os.statvfs(path)
    except FileNotFoundError:
        return disk_missing(path, max_used_percent)
    except OSError as exc:
        return check_result('disk:%s' % path, FAILED, threshold=max_used_percent,
                            message='cannot stat filesystem of %s: %s' % (path, exc.strerror or exc))
    return disk_verdict(path, max_used_percent, used=(stat.f_blocks - stat.f_bfree) * stat.f_frsize,
                        available=stat.f_bavail * stat.f_frsize, size=stat.f_blocks * stat.f_frsize)


def disk_missing(path, max_used_percent):
    return check_result('disk:%s' % path, FAILED, threshold=max_used_percent,
                        message='%s does not exist: mount or create it, or fix disk_paths' % path)


def disk_verdict(path, max_used_percent, used, available, size):
    """The disk check of path from its filesystem's used, available (to unprivileged users) and total bytes,
    whether they come from statvfs (health_check) or from df -P (the disk_usage action)."""
    name = 'disk:%s' % path
    pct = round(percent_used(used, available), 1)
    described = '%s is %s%% used (%s GiB free of %s GiB)' % (path, _num(pct, 1), _num(available / GIB, 1),
                                                             _num(size / GIB, 1))
    reading = '%s%% used of %s%%' % (_num(pct, 1), _num(max_used_percent))
    if pct > max_used_percent:
        return check_result(name, FAILED, value=pct, threshold=max_used_percent, reading=reading,
                            message='%s, above %s%%; free space (old logs, backups beyond retention)'
                                    % (described, _num(max_used_percent)))
    return check_result(name, OK, value=pct, threshold=max_used_percent, message=described, reading=reading)


# ---------------------------------------------------------------------------------------------- backup

NOT_VERIFIED = 'not verified'
FAILED_VERIFICATION = 'failed verification'


def _age_hours(backup, now):
    return round((now - backup['timestamp'].timestamp()) / 3600.0, 2)


def _unverified_value(backup, now):
    """What health_check reports of an archive newer than the newest verified one."""
    record = _backup_records.read_verification(backup['path'])
    failed = record is not None and record.get('ok', True) is not True
    return dict(path=backup['path'], name=backup['name'], created_at=_backup_records.iso(backup['timestamp']),
                age_hours=_age_hours(backup, now), status=FAILED_VERIFICATION if failed else NOT_VERIFIED,
                reason=str(record.get('reason')) if failed else None)


def _describe_unverified(unverified, newer=False):
    what = '%s archive %s' % ('newer' if newer else 'newest', unverified['path'])
    if unverified['status'] == FAILED_VERIFICATION:
        return '%s failed verification (%s)' % (what, unverified['reason'])
    return '%s is not verified (run backup state=verified path=%s)' % (what, unverified['path'])


def check_backup(backup_dir, pattern, max_age_hours, now=None):
    """The newest backup that passed verification, as the backup module recorded it (backups/.verified/),
    against max_age_hours; newer archives that are not verified are reported beside it and never count."""
    now = time.time() if now is None else now
    if not os.path.isdir(backup_dir):
        return check_result('backup', FAILED, threshold=max_age_hours,
                            message='backup directory %s does not exist: check backup_dir (BACKUP_LOCAL_PATH) '
                                    'and that backups have ever run' % backup_dir)
    try:
        os.listdir(backup_dir)
    except OSError as exc:
        return check_result('backup', FAILED, threshold=max_age_hours,
                            message='cannot list %s: %s' % (backup_dir, exc.strerror or exc))
    backups = [b for b in _backup_records.list_backups(backup_dir) if fnmatch.fnmatch(b['name'], pattern)]
    if not backups:
        return check_result('backup', FAILED, threshold=max_age_hours,
                            message='no backup archive matching %s in %s (inventory_backup_<UTC time>.tar.zst|gz): '
                                    'the daily backup has not run; run one now (backup module, or npm run backup '
                                    'then backup state=verified) and check the backup log' % (pattern, backup_dir))
    anchor, rejected = _backup_records.find_anchor(backups, _backup_records.verification_reason)
    unverified = _unverified_value(backups[0], now) if rejected else None
    value = dict(path=None, name=None, created_at=None, age_hours=None, size=None, verified_at=None,
                 newest_unverified=unverified)
    if anchor is None:
        return check_result('backup', FAILED, value=value, threshold=max_age_hours,
                            message='no verified backup in %s: %s; take a new backup now (backup, verify=true)%s'
                                    % (backup_dir, _describe_unverified(unverified),
                                       ' and investigate that archive'
                                       if unverified['status'] == FAILED_VERIFICATION else ''))
    age = _age_hours(anchor, now)
    value.update(path=anchor['path'], name=anchor['name'], created_at=_backup_records.iso(anchor['timestamp']),
                 age_hours=age, size=anchor['size'],
                 verified_at=(_backup_records.read_marker(anchor['path']) or {}).get('verified_at'))
    described = 'newest verified backup %s is %s h old' % (anchor['path'], _num(age, 1))
    reading = '%s h old of %s h' % (_num(age, 1), _num(max_age_hours))
    if age > max_age_hours:
        message = ('%s, older than %s h: the daily 2 AM backup did not run or did not verify; check the backup '
                   'log and run one now' % (described, _num(max_age_hours)))
        if unverified:
            message += '; %s' % _describe_unverified(unverified, newer=True)
        return check_result('backup', FAILED, value=value, threshold=max_age_hours, message=message,
                            reading=reading)
    if unverified and unverified['status'] == FAILED_VERIFICATION:
        # Last night's archive is broken: the operator must hear of it although an older one is recent enough.
        return check_result('backup', FAILED, value=value, threshold=max_age_hours, reading=reading,
                            message='%s and does not count: it is kept for investigation; %s. Investigate it and '
                                    'take a new backup' % (_describe_unverified(unverified), described))
    if unverified:
        # Still being verified by the run that wrote it, or written without verification: reported, not failed.
        return check_result('backup', OK, value=value, threshold=max_age_hours, reading=reading,
                            message='%s; %s' % (described, _describe_unverified(unverified, newer=True)))
    return check_result('backup', OK, value=value, threshold=max_age_hours, message=described, reading=reading)


# ---------------------------------------------------------------------------------------------- runner

class HealthCheckRunner(object):
    """Runs the selected checks: network ones (/health, /metrics, Redis) concurrently, local ones meanwhile.

    /health and /metrics are each fetched once; /metrics serves both the metrics and the memory check.
    """

    def __init__(self, client, checks=CHECK_NAMES, redis_url=None, redis_timeout=2.0, redis_min_hit_rate=0.0,
                 disk_paths=None, backup_dir=None, backup_pattern='inventory_backup_*', backup_max_age_hours=26.0,
                 memory_max_mb=2048.0, pid_file=None, proc_root='/proc'):
        self.client = client
        self.checks = [name for name in CHECK_NAMES if name in (checks or CHECK_NAMES)]
        self.redis_url = redis_url
        self.redis_timeout = redis_timeout
        self.redis_min_hit_rate = redis_min_hit_rate
        self.disk_paths = disk_paths or []
        self.backup_dir = backup_dir
        self.backup_pattern = backup_pattern
        self.backup_max_age_hours = backup_max_age_hours
        self.memory_max_mb = memory_max_mb
        self.pid_file = pid_file
        self.proc_root = proc_root

    # What each selected check needs; the module uses these to ask only for libraries in use.
    @property
    def needs_metrics(self):
        return 'metrics' in self.checks or ('memory' in self.checks and not self.pid_file)

    @property
    def needs_redis(self):
        return 'redis' in self.checks and bool(self.redis_url)

    def _fetch_health(self):
        try:
            return self.client.get(HEALTH_PATH, expect_json=True)
        except ApiError as exc:
            return exc

    def _fetch_metrics(self):
        try:
            return Metrics.parse(self.client.get(METRICS_PATH).text)
        except (ApiError, MetricsParseError) as exc:
            return exc

    @staticmethod
    def _guard(name, func, *args, **kwargs):
        """Run a job; an unexpected exception becomes a failed result instead of a traceback."""
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # pylint: disable=broad-except
            return CheckCrash('%s check crashed: %s: %s' % (name, type(exc).__name__, to_native(exc)))

    def run(self):
        jobs = {}
        if 'health' in self.checks:
            jobs['health'] = (self._fetch_health,)
        if self.needs_metrics:
            jobs['metrics'] = (self._fetch_metrics,)
        if self.needs_redis:
            jobs['redis'] = (check_redis, self.redis_url, self.redis_timeout, self.redis_min_hit_rate)

        outcomes = {}
        executor = ThreadPoolExecutor(max_workers=max(1, len(jobs)))
        try:
            futures = dict((key, executor.submit(self._guard, key, *job)) for key, job in jobs.items())
            local = self._local_checks()  # disk and backup run while the network jobs wait
            for key, future in futures.items():
                outcomes[key] = future.result()
        finally:
            executor.shutdown(wait=True)

        results = []
        for name in self.checks:
            if name == 'health':
                results.append(self._crashed(name, outcomes['health']) or
                               evaluate_health(outcomes['health'], self.client.url(HEALTH_PATH)))
            elif name == 'metrics':
                results.append(self._crashed(name, outcomes['metrics']) or
                               evaluate_metrics(outcomes['metrics'], self.client.url(METRICS_PATH)))
            elif name == 'redis':
                if not self.redis_url:
                    results.append(check_result('redis', SKIPPED, message='skipped: no redis_url given'))
                else:
                    results.append(self._crashed(name, outcomes['redis']) or outcomes['redis'])
            elif name in ('disk', 'backup'):
                results.extend(local[name])
            elif name == 'memory':
                if self.pid_file:
                    results.append(self._guard_result(name, check_memory_pid, self.pid_file, self.memory_max_mb,
                                                      self.proc_root))
                else:
                    results.append(self._crashed(name, outcomes['metrics']) or
                                   evaluate_memory_from_metrics(outcomes['metrics'], self.client.url(METRICS_PATH),
                                                                self.memory_max_mb))
        return results

    def _local_checks(self):
        local = {}
        if 'disk' in self.checks:
            if not self.disk_paths:
                local['disk'] = [check_result('disk', SKIPPED, message='skipped: no disk_paths given')]
            else:
                local['disk'] = [self._guard_result('disk:%s' % path, check_disk, path, limit)
                                 for path, limit in self.disk_paths]
        if 'backup' in self.checks:
            if not self.backup_dir:
                local['backup'] = [check_result('backup', SKIPPED, message='skipped: no backup_dir given')]
            else:
                local['backup'] = [self._guard_result('backup', check_backup, self.backup_dir, self.backup_pattern,
                                                      self.backup_max_age_hours)]
        return local

    def _guard_result(self, name, func, *args):
        outcome = self._guard(name, func, *args)
        return self._crashed(name, outcome) or outcome

    @staticmethod
    def _crashed(name, outcome):
        if isinstance(outcome, CheckCrash):
            return check_result(name, FAILED, message=to_native(outcome))
        return None


# --------------------------------------------------------------------------------------------- reports

def failed_names(results):
    return [r['name'] for r in results if r['verdict'] == FAILED]


def summarize(results, host):
    """One readable line: 'web01: 4 ok, 1 failed (disk:/data), 1 skipped (redis)'."""
    parts = []
    for verdict in (OK, FAILED, SKIPPED):
        names = [r['name'] for r in results if r['verdict'] == verdict]
        if verdict == OK:
            parts.append('%d ok' % len(names))
        elif names:
            parts.append('%d %s (%s)' % (len(names), verdict, ', '.join(names)))
    return '%s: %s' % (host, ', '.join(parts))


def failure_message(results, host):
    """'health_check failed on <host>: <name> (<message>); <name> (<message>)'."""
    return 'health_check failed on %s: %s' % (
        host, '; '.join('%s (%s)' % (r['name'], r['message']) for r in results if r['verdict'] == FAILED))
