# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The guide's quarterly capacity planning review of one app server, in the reviews' common result shape.

What it reads, each source on its own (one that cannot be read goes to `unavailable`, never counted as zero):
- the database's size and rows over time from the manifest of every backup in the window: from the archive's
  verification record (backups/.verified/, which keeps the manifest's figures since 1.7.0) when it has them,
  else streamed out of the archive (decompressed and discarded, nothing extracted); an age-encrypted copy
  without such a record cannot be opened here;
- the live database's size and rows (_sqlite.database_stats), the daily log files' sizes by their date, the
  archives' sizes by their creation time, and the free space of each filesystem;
- Redis INFO memory, and the p95 latency per day from Prometheus.
The growth math is _capacity_growth.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import math
import os

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import (
    _archive, _backup_records, _log_archive, _prometheus_api, _sqlite)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._capacity_growth import (
    GROWTH_UNKNOWN, NOT_GROWING, backups_growth, cumulative, fit, runs_out_on, runway, slope_per_day)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._prometheus_report import GB
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._redis import RedisProbe, RedisProbeError
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._review_result import ReviewResult

REVIEW = 'capacity'
# The guide's cache target "Memory: <1.8GB", in GB of 10^9 bytes as performance_report's max_cache_memory_gb.
GUIDE_CACHE_MEMORY_BYTES = int(1.8 * GB)
GUIDE_P95_MS = 100.0
# Prometheus's p95 of the API per day: one rate over each day's buckets, summed by le across every series.
P95_QUANTILE, P95_WINDOW, DAY = 0.95, '1d', 86400
LATENCY_METRIC = 'http_request_duration_seconds'


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_iso(text):
    """An aware datetime of the manifests' 'YYYY-MM-DDTHH:MM:SSZ', or None."""
    try:
        return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def number(value, digits=1):
    return None if value is None else round(value, digits)


def gb(value):
    """Bytes in the guide's GB (10^9 bytes): 1.80 GB; 0.0012 GB for a small cache."""
    return '%s GB' % ('%.2f' % (value / GB) if value >= GB / 100 else '%.4f' % (value / GB))


def human(value):
    """Bytes for a person: 512 B, 3.4 KiB, 12.0 MiB, 1.8 GiB."""
    for unit, scale in (('GiB', 1024.0 ** 3), ('MiB', 1024.0 ** 2), ('KiB', 1024.0)):
        if abs(value) >= scale:
            return '%.1f %s' % (value / scale, unit)
    return '%d B' % value


# ---------------------------------------------------------------------------------------------- sources

def manifest_summary(manifest):
    """What the review takes from a backup manifest: created_at, tables, database_bytes, transaction_log_offset."""
    database = manifest.get('database') or {}
    sizes = dict((member.get('path'), member.get('size')) for member in manifest.get('members') or []
                 if isinstance(member, dict))
    return dict(created_at=manifest.get('created_at'), tables=database.get('tables') or {},
                database_bytes=sizes.get(_archive.DATABASE),
                transaction_log_offset=(manifest.get('transaction_log') or {}).get('offset'))


def backup_summary(backup):
    """(summary, how, reason): the manifest figures of one archive from its verification record ('record') or
    its manifest ('manifest'); (None, None, reason) when neither can be read."""
    record = _backup_records.read_verification(backup['path'])
    if record is not None and record.get('ok', True) is not True:
        return None, None, 'failed verification (%s): its figures are not trusted' % record.get('reason')
    if record and all(record.get(key) is not None for key in ('created_at', 'tables', 'database_bytes')):
        return dict((key, record.get(key)) for key in _backup_records.SUMMARY_KEYS), 'record', None
    if backup['encrypted']:
        return None, None, ('age-encrypted, and its verification record does not hold the manifest\'s figures: '
                            'this host has no key to open it')
    try:
        return manifest_summary(_archive.read_manifest(backup['path'])), 'manifest', None
    except _backup_records.BackupError as exc:  # ArchiveRejected included
        return None, None, 'its manifest cannot be read: %s' % exc


def backup_history(backup_dir, since, report):
    """[(created, summary)] of the archives created since `since`, oldest first, and [(created, size)] of every
    archive present (their sizes count for the directory, whatever their age)."""
    archives = _backup_records.list_backups(backup_dir, encrypted=True)
    history, counts = [], dict(record=0, manifest=0)
    for backup in sorted(archives, key=lambda item: item['timestamp']):
        if backup['timestamp'] < since:
            continue
        summary, how, reason = backup_summary(backup)
        if summary is None:
            report.missing('backup_manifest', '%s: %s' % (backup['path'], reason))
            continue
        counts[how] += 1
        history.append((parse_iso(summary.get('created_at')) or backup['timestamp'], summary))
    sizes = [(backup['timestamp'], backup['size']) for backup in archives]
    return history, sizes, counts


def daily_log_bytes(log_dir, since, today):
    """{date: {class: bytes}} of the daily log files dated from `since` (a date) to yesterday: today's file is
    still being written. Raises LogArchiveError when the directory cannot be listed."""
    days = {}
    for name, cls, day in _log_archive.scan_logs(log_dir):
        if since <= day < today:
            try:
                size = os.stat(os.path.join(log_dir, name)).st_size
            except OSError:
                continue  # archived or removed between the listing and now
            days.setdefault(day, {})[cls] = days.get(day, {}).get(cls, 0) + size
    return days


def mount_point(path, device):
    path = os.path.realpath(path)
    while path != os.path.dirname(path):
        parent = os.path.dirname(path)
        if os.stat(parent).st_dev != device:
            return path
        path = parent
    return path


def latency_points(client, selector, start, end):
    """[(moment, p95 in ms)] per day from Prometheus; days without traffic (NaN) are left out."""
    expr = _prometheus_api.quantile_query(LATENCY_METRIC, P95_QUANTILE, P95_WINDOW, selector)
    series = client.query_range(expr, start.timestamp(), end.timestamp(), DAY)
    points = []
    for dummy, values in series[:1]:
        points = [(datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc), value * 1000.0)
                  for stamp, value in values if _prometheus_api.is_number(value)]
    return expr, points


# ---------------------------------------------------------------------------------------------- the review

class CapacityReview(object):
    """One run of the review. `options`: the module's parameters; `paths`: _service_layout.service_paths with
    backup_dir and log_dir; `statvfs` is injectable so a test can give a filesystem little free space."""

    def __init__(self, options, paths, now=None, statvfs=os.statvfs):
        self.options, self.paths, self.statvfs = options, paths, statvfs
        self.now = now or datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        # The service names its log files after the host's local date.
        self.today = datetime.datetime.fromtimestamp(self.now.timestamp()).date()
        self.since = self.now - datetime.timedelta(days=options['lookback_days'])
        self.report = ReviewResult(REVIEW, self.now)
        self.figures = self.report.figures
        self.read = set()  # the sources that gave figures
        self._sizes = []  # [(created, size)] of every archive present

    def run(self, redis_url=None, prometheus=None):
        self.figures.update(lookback_days=self.options['lookback_days'], window_start=iso(self.since))
        growth = dict(data=self.database(), logs=self.logs(), backups=self.backups())
        self.runway(growth)
        self.cache(redis_url)
        self.latency(prometheus)
        return self.report.result()

    # database ---------------------------------------------------------------------------------------------

    def database(self):
        """Series and growth of the database (and of the transaction log): bytes per day of the data directory."""
        history, sizes, counts = [], [], dict(record=0, manifest=0)
        if os.path.isdir(self.paths['backup_dir']):
            history, sizes, counts = backup_history(self.paths['backup_dir'], self.since, self.report)
        self._sizes = sizes
        self.figures.update(manifests_read=len(history), manifests_from_records=counts['record'],
                            manifests_streamed=counts['manifest'])
        db_points = [(moment, s['database_bytes']) for moment, s in history if s.get('database_bytes') is not None]
        rows = [(moment, s['tables']) for moment, s in history if isinstance(s.get('tables'), dict)]
        txlog = [(moment, s['transaction_log_offset']) for moment, s in history
                 if s.get('transaction_log_offset') is not None]
        try:
            live = _sqlite.database_stats(self.paths['database_path'])
        except _sqlite.SqliteError as exc:
            self.report.missing('database', '%s; the figures come from the backup manifests only' % exc)
        else:
            db_points.append((self.now, live['bytes']))
            rows.append((self.now, live['tables']))
            self.figures.update(db_size_bytes=live['bytes'], db_free_pages=live['freelist_count'],
                                rows_total=sum(count or 0 for count in live['tables'].values()))
            if os.path.isfile(self.paths['transaction_log_path']):
                txlog.append((self.now, os.path.getsize(self.paths['transaction_log_path'])))
                self.figures['transaction_log_bytes'] = txlog[-1][1]
        if history or db_points:
            self.read.add('database')
        totals = [(moment, sum(count or 0 for count in tables.values())) for moment, tables in rows]
        db_growth, tx_growth = slope_per_day(db_points), slope_per_day(txlog)
        self.figures.update(db_growth_bytes_per_day=number(db_growth), rows_growth_per_day=number(slope_per_day(totals)),
                            transaction_log_growth_bytes_per_day=number(tx_growth))
        self.report.add_series('db_size_bytes', 'time', 'bytes', 'Database size', self._points(db_points))
        groups = {}
        for moment, tables in rows:
            for table, count in sorted(tables.items()):
                groups.setdefault(table, []).append([iso(moment), count or 0])
        self.report.add_series('rows_total', 'time', 'count', 'Rows in the database', self._points(totals),
                               groups=groups)
        return db_growth, tx_growth

    def _points(self, points):
        return [[iso(moment), value] for moment, value in sorted(points, key=lambda point: point[0])]

    # logs and backups ------------------------------------------------------------------------------------

    def logs(self):
        log_dir = self.paths['log_dir']
        try:
            days = daily_log_bytes(log_dir, self.since.date(), self.today)
        except _log_archive.LogArchiveError as exc:
            self.report.missing('logs', str(exc))
            return None
        self.read.add('logs')
        daily = [(day, sum(classes.values())) for day, classes in sorted(days.items())]
        growth = slope_per_day(cumulative(daily))
        self.figures.update(log_days=len(daily), log_bytes=sum(size for dummy, size in daily),
                            logs_growth_bytes_per_day=number(growth))
        groups = {}
        for day, classes in sorted(days.items()):
            for cls, size in sorted(classes.items()):
                groups.setdefault(cls, []).append(['%sT00:00:00Z' % day.isoformat(), size])
        self.report.add_series('log_bytes_per_day', 'time', 'bytes', 'Log files written per day',
                               [['%sT00:00:00Z' % day.isoformat(), size] for day, size in daily], groups=groups)
        if not daily:
            self.report.missing('logs', 'no daily log file (application-, security-, audit-YYYY-MM-DD.log) in %s '
                                        'dated in the window: the logs directory\'s growth is unknown' % log_dir)
        return growth

    def backups(self):
        backup_dir = self.paths['backup_dir']
        if not os.path.isdir(backup_dir):
            self.report.missing('backups', '%s does not exist: no archive, the backups directory\'s growth is '
                                           'unknown' % backup_dir)
            return None
        self.read.add('backups')
        sizes = self._sizes
        in_window = [(moment, size) for moment, size in sizes if moment >= self.since]
        growth, model = backups_growth(sizes, self.now, self.options['backup_retention_days'], self.since)
        self.figures.update(backups_count=len(sizes), backups_bytes=sum(size for dummy, size in sizes),
                            backups_growth_bytes_per_day=number(growth), backups_growth_model=model)
        self.report.add_series('backup_size_bytes', 'time', 'bytes', 'Backup archive size', self._points(in_window))
        if not sizes:
            self.report.missing('backups', 'no backup archive in %s: the backups directory\'s growth is unknown'
                                % backup_dir)
        return growth

    # disks ------------------------------------------------------------------------------------------------

    def directories(self, growth):
        """[(label, path, bytes per day or None)] of the directories whose growth uses their filesystem."""
        db_growth, tx_growth = growth['data']
        data_dir = os.path.dirname(self.paths['database_path'])
        entries = []
        if os.path.dirname(self.paths['transaction_log_path']) == data_dir:
            total = None if db_growth is None and tx_growth is None else (db_growth or 0) + (tx_growth or 0)
            entries.append(('data', data_dir, total))
        else:
            entries.append(('data', data_dir, db_growth))
            entries.append(('transaction_log', os.path.dirname(self.paths['transaction_log_path']), tx_growth))
        entries.append(('logs', self.paths['log_dir'], growth['logs']))
        entries.append(('backups', self.paths['backup_dir'], growth['backups']))
        return entries

    def filesystems(self, growth):
        """{device: dict(mount, free_bytes, directories, growth, unknown)} of the directories' filesystems."""
        found = {}
        for label, path, rate in self.directories(growth):
            try:
                device = os.stat(path).st_dev
                if device not in found:
                    st = self.statvfs(path)
                    found[device] = dict(mount=mount_point(path, device), free_bytes=st.f_bavail * st.f_frsize,
                                         directories=[], growth=0.0, unknown=[])
            except OSError as exc:
                self.report.missing('filesystem', 'cannot read the filesystem of the %s directory %s: %s'
                                    % (label, path, exc.strerror or exc))
                continue
            entry = found[device]
            entry['directories'].append(label)
            if rate is None:
                entry['unknown'].append(label)
            else:
                entry['growth'] += rate
        return found

    def runway(self, growth):
        threshold, critical = self.options['runway_threshold_days'], self.options['runway_critical_days']
        points = []
        for entry in sorted(self.filesystems(growth).values(), key=lambda item: item['mount']):
            mount, known = entry['mount'], [d for d in entry['directories'] if d not in entry['unknown']]
            rate = entry['growth'] if known else None
            days, verdict = runway(entry['free_bytes'], rate)
            self.read.add('filesystem')
            self.figures.update({'free_bytes:%s' % mount: entry['free_bytes'],
                                 'directories:%s' % mount: ', '.join(entry['directories']),
                                 'growth_bytes_per_day:%s' % mount: number(rate),
                                 'runway_days:%s' % mount: number(days)})
            if days is None:
                text = verdict
                if verdict == NOT_GROWING:
                    text = 'not growing (%s bytes/day): no runway to run out' % number(rate)
                elif entry['unknown']:
                    text = '%s: %s' % (GROWTH_UNKNOWN, ', '.join(entry['unknown']))
                self.figures['runway:%s' % mount] = text
                continue
            date = runs_out_on(self.today, days)
            unknown = (' (growth of %s unknown)' % ', '.join(entry['unknown'])) if entry['unknown'] else ''
            self.figures['runway:%s' % mount] = 'runs out on %s%s' % (date, unknown)
            points.append([mount, number(days)])
            if days < threshold:
                severity, limit = ('critical', critical) if days < critical else ('high', threshold)
                self.report.finding(
                    'disk_runway_short', severity,
                    '%s runs out of space in %.0f days, on %s: %s free, growing %s a day (%s)%s'
                    % (mount, days, date, human(entry['free_bytes']), human(rate), ', '.join(known), unknown),
                    mount, number(days), limit)
        self.report.add_series('disk_runway_days', 'category', 'days', 'Disk runway per filesystem', points,
                               target=threshold)

    # cache and latency ------------------------------------------------------------------------------------

    def cache(self, redis_url):
        if not redis_url:
            self.report.missing('redis', 'no redis_url, and REDIS_URL in the service\'s .env is empty: the service '
                                         'uses no Redis, or set redis_url')
            return
        probe = RedisProbe(redis_url, self.options['redis_timeout'])
        try:
            info = probe.command('INFO memory', 'info', 'memory')
        except RedisProbeError as exc:
            self.report.missing('redis', str(exc))
            return
        finally:
            probe.close()
        self.read.add('redis')
        used, peak = int(info.get('used_memory', 0)), int(info.get('used_memory_peak', 0))
        limit, warn = self.options['cache_memory_limit_bytes'], self.options['cache_memory_warn_percent']
        percent = 100.0 * used / limit
        self.figures.update(cache_memory_bytes=used, cache_memory_peak_bytes=peak, cache_memory_limit_bytes=limit,
                            cache_memory_percent=number(percent), cache_maxmemory_bytes=int(info.get('maxmemory', 0)))
        self.report.add_series('cache_memory_bytes', 'category', 'bytes', 'Cache memory (Redis)',
                               [['used', used], ['peak', peak]], target=limit)
        where, described = probe.where, '%s of the %s limit' % (gb(used), gb(limit))
        if used > limit:
            self.report.finding('cache_memory_over_limit', 'high', 'Redis at %s uses %s (%.0f%%): cap it '
                                '(redis_memory maxmemory) or shorten the cache TTLs' % (where, described, percent),
                                where, used, limit)
        elif percent > warn:
            self.report.finding('cache_memory_near_limit', 'medium', 'Redis at %s uses %s (%.0f%%, above %s%%): '
                                'plan for more memory or shorter TTLs' % (where, described, percent, number(warn)),
                                where, used, int(limit * warn / 100.0))

    def latency(self, prometheus):
        if prometheus is None:
            self.report.missing('prometheus', 'prometheus_url is not set: no p95 latency trend')
            return
        target = self.options['p95_target_ms']
        try:
            expr, points = latency_points(prometheus, self.options['prometheus_selector'], self.since, self.now)
        except _prometheus_api.PrometheusError as exc:
            self.report.missing('prometheus', str(exc))
            return
        if not points:
            self.report.missing('prometheus', '%s has no data in the window (%s): no p95 latency trend'
                                % (prometheus.url, expr))
            return
        self.read.add('prometheus')
        slope, fitted = fit(points)
        self.figures.update(p95_latency_ms=number(points[-1][1], 2), p95_latency_days=len(points),
                            p95_latency_trend_ms_per_day=number(slope, 3), p95_latency_fitted_ms=number(fitted, 2))
        self.report.add_series('p95_latency_ms', 'time', 'ms', 'p95 API latency per day', self._points(points),
                               target=target)
        if slope is None or slope <= 0 or math.isnan(slope):
            return
        last = points[-1][1]
        if last > target:
            summary = ('p95 latency rises %.2f ms a day over %d days and is %.0f ms on the last day, above the %s ms '
                       'target' % (slope, len(points), last, number(target)))
            self.report.finding('p95_latency_rising', 'medium', summary, 'api', number(last, 2), target)
            return
        # The trend line, not the last day alone, says when the target is reached.
        days = max(0.0, (target - fitted) / slope)
        if days <= self.options['lookback_days']:
            self.report.finding('p95_latency_rising', 'low', 'p95 latency rises %.2f ms a day, %.0f ms on the last '
                                'day: at this rate it passes the %s ms target on %s' % (
                                    slope, last, number(target), runs_out_on(self.today, days)),
                                'api', number(last, 2), target)
