# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""What the migration review measures on the app server: SQLite lock waits and busy errors and dual-write failures
in the service's application logs, the database's size now, and its size at each backup.

The log lines (docs/logs.md) are ``<time>Z WARNING sqlite busy wait_ms=<n> op=<operation>`` (a write waited for
another connection's write lock), ``<time>Z ERROR sqlite database is locked wait_ms=<n> op=<operation>`` (it gave
up after busy_timeout) and ``<time>Z ERROR dual-write failed operation=...`` (the PostgreSQL mirror missed a
write). Files are found and read by _log_lines (hot files, .gz and .zst archives); blocks without the phrases
are skipped with one bytes.find each, so a quarter of logs costs little more than reading it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import math
import os
import re
import tarfile

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records, _log_lines
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._printable import printable

# (bytes found in a line, message prefix, level, kind)
PHRASES = ((b' sqlite busy wait_ms=', 'sqlite busy wait_ms=', 'WARNING', 'waits'),
           (b' sqlite database is locked', 'sqlite database is locked', 'ERROR', 'errors'),
           (b' dual-write failed ', 'dual-write failed ', 'ERROR', 'dual_write'))
WAIT_RE = re.compile(r'\bwait_ms=(\d+)')


def percentile(counts, q):
    """Nearest-rank percentile of the values counted in `counts` ({value: times}); None without values."""
    total = sum(counts.values())
    if not total:
        return None
    rank = max(1, int(math.ceil(q * total)))
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    return None  # not reached: seen ends at total >= rank


class LockLog(object):
    """Lock waits, busy errors and dual-write failures per UTC day over [since, until] (datetimes), fed file by
    file (_log_lines.LogFile). `days` holds the dates of the application log files in the window: the days the
    logs can speak for, zeros included."""

    def __init__(self, since, until):
        self.since, self.until = _log_lines.stamp_of(since), _log_lines.stamp_of(until)
        self.first_day, self.last_day = since.date(), until.date()
        self.per_day = dict((kind, collections.Counter()) for _b, _p, _l, kind in PHRASES)
        self.wait_ms = collections.Counter()
        self.days = set()
        self.files = 0
        self.unreadable = []

    def scan(self, logfile):
        """Count one file; a file that cannot be read whole counts for nothing (no day, no lines) and is listed."""
        self.files += 1
        # Counted apart and kept only when the whole file was read: bounded (days x kinds, distinct waits).
        found = dict((kind, collections.Counter()) for _b, _p, _l, kind in PHRASES)
        found['wait_ms'] = collections.Counter()
        try:
            for data, start, end in _log_lines.iter_regions(_log_lines.iter_pieces(logfile.path, logfile.compression)):
                self._chunk(data[start:end], found)
        except Exception as exc:  # pylint: disable=broad-except  # corrupt archives raise library-specific errors
            self.unreadable.append(printable('%s: %s: %s' % (logfile.path, exc.__class__.__name__, exc)))
            return
        if self.first_day <= logfile.date <= self.last_day:
            self.days.add(logfile.date.isoformat())
        for kind, counter in self.per_day.items():
            counter.update(found[kind])
        self.wait_ms.update(found['wait_ms'])

    def _chunk(self, chunk, found):
        for phrase, prefix, level, kind in PHRASES:
            at = chunk.find(phrase)
            while at >= 0:
                start = chunk.rfind(b'\n', 0, at) + 1
                end = chunk.find(b'\n', at)
                end = len(chunk) if end < 0 else end
                self._line(chunk[start:end], prefix, level, kind, found)
                at = chunk.find(phrase, end)

    def _line(self, line, prefix, level, kind, found):
        record = _log_lines.parse_line(line)
        # The phrase must open the message: a request path or a user name containing it is not a lock wait.
        if record is None or record.level != level or not record.message.startswith(prefix):
            return
        if not self.since <= record.stamp <= self.until:
            return
        found[kind][record.stamp[:10]] += 1
        if kind == 'waits':
            match = WAIT_RE.search(record.message)
            if match:
                found['wait_ms'][int(match.group(1))] += 1

    def total(self, kind):
        return sum(self.per_day[kind].values())

    def all_days(self):
        """The file dates and every date a line was counted on (lines carry UTC times, files the local date)."""
        found = set(self.days)
        for counter in self.per_day.values():
            found.update(counter)
        return sorted(found)


def read_lock_log(log_dir, archive_dir, since, until):
    """LockLog of the application logs of log_dir (and the archive) over [since, until]."""
    lock_log = LockLog(since, until)
    for logfile in _log_lines.iter_log_files(log_dir, ['application'], since, until, archive_dir):
        lock_log.scan(logfile)
    return lock_log


def database_size(path):
    """(main file bytes, WAL bytes) of the live database; raises OSError when the file cannot be read."""
    main = os.path.getsize(path)
    try:
        wal = os.path.getsize(path + '-wal')
    except OSError:
        wal = 0
    return main, wal


def archive_database_bytes(path, compression):
    """Size of the database in a backup archive: the size in the header of its database.db member, the first file
    of the archive, so only the archive's first kilobytes are decompressed. None when the archive has none."""
    if compression == 'zstd' and not _archive.HAS_ZSTD:
        raise IOError('reading it needs the Python library zstandard on the host (requirements/managed.txt)')
    with open(path, 'rb') as raw:
        reader = _archive.DecompressingReader(raw, compression)
        tar = tarfile.open(fileobj=reader, mode='r|')
        try:
            for number, info in enumerate(tar):
                if info.isfile() and info.name.split('/', 1)[-1] == _archive.DATABASE:
                    return info.size
                if number >= 2:
                    return None
        finally:
            tar.close()
    return None


def backup_size_history(backup_dir, since):
    """([(time, database bytes)] oldest first, [unreadable archive: reason]) of the archives made since `since`
    (an aware datetime) in backup_dir."""
    points, unreadable = [], []
    for backup in reversed(_backup_records.list_backups(backup_dir)):
        if backup['timestamp'] < since:
            continue
        try:
            size = archive_database_bytes(backup['path'], backup['compression'])
        except (_backup_records.BackupError, tarfile.TarError, IOError, OSError, EOFError) as exc:
            unreadable.append('%s: %s' % (backup['name'], printable(str(exc))))
            continue
        if size is not None:
            points.append((backup['timestamp'], size))
    return points, unreadable


def growth_per_day(points):
    """Least-squares slope of [(aware datetime, bytes)] in bytes per day; None under two points or one instant.
    A fitted slope rather than last minus first: a VACUUM between two backups moves one end, not the trend."""
    if len(points) < 2:
        return None
    origin = points[0][0]
    xs = [(moment - origin).total_seconds() / 86400.0 for moment, _size in points]
    ys = [float(size) for _moment, size in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread
