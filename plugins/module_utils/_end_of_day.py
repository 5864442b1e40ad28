# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The guide's end-of-day checks (6 PM), each a check result like the morning's (module_utils/_checks.py):
today's application errors, the cache hit rate against 85%, the nightly backup, today's anomalies."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _app_log, _checks
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import ApiError

CHECKS = ('errors', 'cache', 'backup', 'anomalies')
BACKUP_PATTERN = 'inventory_backup_*'


def check_errors(log_dir, top, max_errors=None):
    path = _app_log.daily_log_path(log_dir, 'application')
    try:
        summary = _app_log.summarize_errors(path, top=top)
    except (IOError, OSError) as exc:
        return _checks.check_result('errors', _checks.FAILED, message='cannot read %s: %s; check LOG_DIR and that '
                                    'this user may read it' % (path, to_native(exc)))
    if not summary['exists']:
        return _checks.check_result('errors', _checks.SKIPPED, value=summary,
                                    message='no application log for today at %s: check LOG_DIR and that the service '
                                            'ran today' % path)
    reading = '%d error(s) in %d line(s)' % (summary['count'], summary['lines'])
    described = '%s of %s%s' % (reading, path, ''.join(
        '; %dx %s' % (kind['count'], kind['message']) for kind in summary['top'][:3]))
    if max_errors is not None and summary['count'] > max_errors:
        return _checks.check_result('errors', _checks.FAILED, value=summary, threshold=max_errors, reading=reading,
                                    message='%s, above %d: read the top errors, then the whole log' % (described,
                                                                                                       max_errors))
    return _checks.check_result('errors', _checks.OK, value=summary, threshold=max_errors, reading=reading,
                                message=described)


def check_cache(client, min_hit_rate):
    url = client.url('/api/cache/stats')
    try:
        stats = client.get_json('/api/cache/stats')
    except ApiError as exc:
        return _checks.check_result('cache', _checks.FAILED, threshold=min_hit_rate, message=to_native(exc))
    rate = stats.get('hit_rate') if isinstance(stats, dict) else None
    if not isinstance(rate, (int, float)) or isinstance(rate, bool):
        return _checks.check_result('cache', _checks.FAILED, value=stats, threshold=min_hit_rate,
                                    message='%s has no numeric hit_rate: is this the Inventory Enterprise service?'
                                            % url)
    lookups = (stats.get('hits') or 0) + (stats.get('misses') or 0)
    if not lookups:
        return _checks.check_result('cache', _checks.OK, value=stats, threshold=min_hit_rate,
                                    reading='no lookups yet', message='no cache lookups since the service started')
    reading = 'hit rate %s%% of %s%%' % (rate, min_hit_rate)
    if rate < min_hit_rate:
        return _checks.check_result('cache', _checks.FAILED, value=stats, threshold=min_hit_rate, reading=reading,
                                    message='cache hit rate %s%% (%d lookups) below %s%%: run '
                                            'playbooks/runbooks/cache_misses.yml (diagnose, warm, raise TTLs)'
                                            % (rate, lookups, min_hit_rate))
    return _checks.check_result('cache', _checks.OK, value=stats, threshold=min_hit_rate, reading=reading,
                                message='cache hit rate %s%% over %d lookups' % (rate, lookups))


def check_backup(backup_dir, log_dir, max_age_hours):
    """The morning's backup check (newest verified archive), with today's backup log errors added to it."""
    result = _checks.check_backup(backup_dir, BACKUP_PATTERN, max_age_hours)
    try:
        log = _app_log.summarize_errors(_app_log.daily_log_path(log_dir, 'backup'), top=1)
    except (IOError, OSError):
        return result
    if log['count']:
        result['message'] += '; the backup log %s has %d error line(s) today, last: %s' % (
            log['log_file'], log['count'], log['top'][0]['message'])
    return result


def check_anomalies(client, top, max_anomalies=None):
    try:
        answer = client.get_json('/api/ai/anomaly/list?days=1')
    except ApiError as exc:
        return _checks.check_result('anomalies', _checks.FAILED, threshold=max_anomalies, message=to_native(exc))
    found = answer.get('anomalies') if isinstance(answer, dict) else None
    if not isinstance(found, list):
        return _checks.check_result('anomalies', _checks.FAILED, threshold=max_anomalies,
                                    message='%s has no anomalies list' % client.url('/api/ai/anomaly/list'))
    value = dict(total=len(found), anomalies=found[:top])
    reading = '%d anomal%s' % (len(found), 'y' if len(found) == 1 else 'ies')
    message = '%s since yesterday%s' % (reading, ''.join('; %s' % _describe(item) for item in found[:3]))
    if max_anomalies is not None and len(found) > max_anomalies:
        return _checks.check_result('anomalies', _checks.FAILED, value=value, threshold=max_anomalies,
                                    reading=reading, message='%s, above %d: review them (consumption_anomalies '
                                                             'state=list)' % (message, max_anomalies))
    return _checks.check_result('anomalies', _checks.OK, value=value, threshold=max_anomalies, reading=reading,
                                message=message)


def _describe(anomaly):
    if not isinstance(anomaly, dict):
        return to_native(anomaly)
    return ' '.join('%s=%s' % (key, anomaly[key]) for key in ('item_code', 'day', 'quantity', 'expected', 'score')
                    if key in anomaly) or to_native(anomaly)
