# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The log part of the performance review: error lines per day and the top errors of the window against the
window before it (_log_search does the reading), and every backup of the window with its duration and size from
the backup log's ``backup completed name=... size=... duration=...s`` lines (written by the backup module and
by the service's own /api/backup/create), the archives in the backup directory filling in the sizes of backups
made without a log line."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import datetime
import os
import re

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _backup_records, _log_lines, _log_search
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._performance_review import (
    DAY, days_of, describe, iso, median, rounded)

COMPLETED_RE = re.compile(r'\bbackup completed name=(?P<name>\S+) size=(?P<size>\d+)\b'
                          r'(?:.*?\bduration=(?P<duration>\d+(?:\.\d+)?)s\b)?')
FAILED_RE = re.compile(r'(?i)\bbackup failed\b')
# Durations compared for the trend: the first and the last third of the window's backups, at least this many each.
TREND_MIN_EACH = 2
MILLISECOND = datetime.timedelta(milliseconds=1)


class ErrorsByDay(_log_search.Search):
    """The errors query of log_search over the window before the review's and the review's own, in one pass
    over the files: lines before `current` are only counted (the previous window's total), lines of the window
    are counted per UTC day and ranked by message as log_search ranks them."""

    def __init__(self, since, current, until, top):
        _log_search.Search.__init__(self, _log_search.Query('errors'), since, until, top=top, samples=0)
        self.current = _log_lines.stamp_of(current)
        self.previous = 0
        self.per_day = collections.Counter()

    def _match(self, stamp, level, raw, path, message=None):
        if stamp < self.current:
            self.previous += 1
            return
        self.per_day[stamp[:10]] += 1
        _log_search.Search._match(self, stamp, level, raw, path, message)


def errors(review, win, log_dir, archive_dir, params):
    """Errors per day, the top errors and the comparison with the window before; unavailable without logs."""
    if not os.path.isdir(log_dir) and not (archive_dir and os.path.isdir(archive_dir)):
        review.missing('logs', 'the log directory %s does not exist: check log_dir (or LOG_DIR in the service\'s '
                               '.env), and log_archive_dir for archived logs' % log_dir)
        return
    previous_start = win['start'] - (win['end'] - win['start'])
    search = ErrorsByDay(previous_start, win['start'], win['end'] - MILLISECOND, params['top_errors'])
    files = _log_lines.iter_log_files(log_dir, ['application'], previous_start, win['end'] - MILLISECOND,
                                      archive_dir)
    dated = set()
    for logfile in files:
        search.scan(logfile)
        if 'error' not in search.files[-1]:
            dated.add(logfile.date)
    for entry in search.files:
        if 'error' in entry:
            review.missing('logs', 'cannot read %s: %s' % (entry['path'], entry['error']))
    days = [day for day in days_of(win) if day.date() in dated]
    if not days:
        review.missing('logs', 'no readable application log dated %s..%s in %s%s' % (
            win['start'].date(), (win['end'] - DAY).date(), log_dir,
            ' or %s' % archive_dir if archive_dir else ''))
        return
    review.read.add('logs')
    result = search.result()
    total = sum(search.per_day.values())
    had_previous = any(previous_start.date() <= day < win['start'].date() for day in dated)
    previous = search.previous if had_previous else None
    review.figures.update(errors=total, errors_previous_period=previous, log_days=len(days))
    review.add_series('errors_per_day', 'time', 'count', 'Error lines per day (ERROR and CRITICAL)',
                      [[iso(day), search.per_day.get(day.strftime('%Y-%m-%d'), 0)] for day in days])
    review.add_series('top_errors', 'category', 'count', 'Most frequent errors (numbers and ids masked)',
                      [['%s %s' % (m['level'], m['message']), m['count']] for m in result['messages']])
    if previous is None:
        return
    limit = previous * (1 + params['error_growth_percent'] / 100.0)
    if total > limit and total - previous >= params['min_error_increase']:
        review.finding('errors_rising', 'medium', '%d error lines in the window against %d in the %d days before it '
                       '(more than %s%% more): read the top errors' % (
                           total, previous, win['days'], describe(params['error_growth_percent'])),
                       'application log', total, rounded(limit))


def backup_runs(log_dir, archive_dir, win):
    """([{time, name, size, duration}] completed backups, failed count) of the backup logs of the window."""
    runs, failed = [], 0
    since, until = _log_lines.stamp_of(win['start']), _log_lines.stamp_of(win['end'] - MILLISECOND)
    for logfile in _log_lines.iter_log_files(log_dir, ['backup'], win['start'], win['end'] - MILLISECOND,
                                             archive_dir):
        for line in _log_lines.iter_lines(logfile.path, logfile.compression):
            record = _log_lines.parse_line(line)
            if record is None or not since <= record.stamp <= until:
                continue
            match = COMPLETED_RE.search(record.message)
            if match:
                duration = match.group('duration')
                runs.append(dict(time=record.stamp[:19] + 'Z', name=match.group('name'), size=int(match.group('size')),
                                 duration=float(duration) if duration is not None else None))
            elif record.level in ('ERROR', 'CRITICAL') and FAILED_RE.search(record.message):
                failed += 1
    return runs, failed


def archived_backups(backup_dir, win, known):
    """Archives of the window in the backup directory that no log line describes (a backup made with log=false,
    or whose log is gone): their size and the time in their name."""
    found = []
    for backup in _backup_records.list_backups(backup_dir):
        if win['start'] <= backup['timestamp'] < win['end'] and backup['name'] not in known:
            found.append(dict(time=iso(backup['timestamp']), name=backup['name'], size=backup['size'], duration=None))
    return found


def backups(review, win, log_dir, archive_dir, backup_dir, params):
    unreadable = []
    try:
        runs, failed = backup_runs(log_dir, archive_dir, win)
    except (IOError, OSError) as exc:
        runs, failed = [], 0
        unreadable.append('the backup logs in %s cannot be read: %s' % (log_dir, exc))
    runs += archived_backups(backup_dir, win, set(run['name'] for run in runs))
    runs.sort(key=lambda run: run['time'])
    for reason in unreadable:
        review.missing('backups', reason)
    if not runs:
        review.missing('backups', 'no completed backup in %s..%s: no "backup completed" line in the backup logs of '
                                  '%s and no archive in %s' % (iso(win['start']), iso(win['end']), log_dir, backup_dir))
        return
    review.read.add('backups')
    durations = [run for run in runs if run['duration'] is not None]
    review.figures.update(backups=len(runs), backups_failed=failed,
                          backup_duration_median_seconds=rounded(median([r['duration'] for r in durations]), 3),
                          backup_duration_max_seconds=max([r['duration'] for r in durations]) if durations else None,
                          backup_size_latest_bytes=runs[-1]['size'])
    review.add_series('backup_duration_seconds', 'time', 'seconds', 'Backup duration',
                      [[run['time'], run['duration']] for run in durations])
    review.add_series('backup_size_bytes', 'time', 'bytes', 'Backup archive size',
                      [[run['time'], run['size']] for run in runs])
    trend(review, durations, params['backup_duration_growth_percent'])


def trend(review, durations, growth_percent):
    """The median duration of the last third of the window's backups against the first third's."""
    third = len(durations) // 3
    if third < TREND_MIN_EACH:
        review.figures['backup_duration_growth_percent'] = None
        return
    first = median([run['duration'] for run in durations[:third]])
    last = median([run['duration'] for run in durations[-third:]])
    growth = rounded((last - first) / first * 100.0, 1) if first > 0 else None
    review.figures['backup_duration_growth_percent'] = growth
    if growth is not None and growth > growth_percent:
        review.finding('backup_duration_rising', 'medium', 'backups took %s s (median of the last %d) against %s s '
                       '(median of the first %d) of the window, %s%% longer: the database or the archive is '
                       'outgrowing the backup window; check the disk and the size trend' % (
                           describe(last), third, describe(first), third, describe(growth)),
                       'backups', growth, growth_percent)
