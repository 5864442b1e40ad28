# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Write rates from the service's transaction log (``data/transaction_log.jsonl``).

One JSON line per committed write, ``{"seq":N,"ts":"YYYY-MM-DDTHH:MM:SS.mmmZ","op":...,"user":...,"data":{...}}``,
appended under a lock in commit order (reference/inventory_service/txlog.py), so the times ascend. The log is
never rotated, so a window is found by bisecting byte offsets rather than by reading from the start, and only
each line's ``"ts"`` is read (a regex: json.loads of every line would cost most of the time). Only complete lines
count: a last line without its newline is a write being appended, or torn by a crash.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import datetime
import re

TS_RE = re.compile(br'"ts"\s*:\s*"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z)"')
# Below this many bytes the bisection stops and the rest is read line by line.
BISECT_STOP = 64 * 1024


class TransactionLogError(Exception):
    """The log cannot be read; the message names the file and what to do."""


def line_time(line):
    """The ``ts`` of one line (bytes) as its string, or None when it has none."""
    match = TS_RE.search(line)
    return match.group(1).decode('ascii') if match else None


def _next_time(handle, limit):
    """The time of the first line with one that starts before `limit`, from the handle's position."""
    while handle.tell() < limit:
        line = handle.readline()
        if not line:
            return None
        stamp = line_time(line)
        if stamp is not None:
            return stamp
    return None


def window_start(handle, size, since):
    """A byte offset at or before the start of the first line timed `since` or later.

    Invariant: every line starting before the returned offset's line is timed before `since`; lo only moves to a
    point after which a line timed before `since` was seen."""
    lo, hi = 0, size
    while hi - lo > BISECT_STOP:
        mid = (lo + hi) // 2
        handle.seek(mid)
        handle.readline()  # the rest of the line `mid` falls in
        stamp = _next_time(handle, hi)
        if stamp is not None and stamp < since:
            lo = mid
        else:
            hi = mid
    return lo


class WriteRates(object):
    """Writes counted per UTC day and per minute over [since, until] (stamps as 'YYYY-MM-DDTHH:MM:SS.mmmZ')."""

    def __init__(self, since, until):
        self.since, self.until = since, until
        self.per_day = collections.Counter()
        self.per_minute = collections.Counter()
        self.total = 0
        self.untimed = 0
        self.first_in_log = None  # the time of the log's first line: where its history begins

    def add(self, stamp):
        if self.since <= stamp <= self.until:
            self.total += 1
            self.per_day[stamp[:10]] += 1
            self.per_minute[stamp[:16]] += 1

    def peak_minute(self):
        """(minute 'YYYY-MM-DDTHH:MM', writes in it) of the busiest minute, (None, 0) without writes; the earliest
        of equal minutes."""
        if not self.per_minute:
            return None, 0
        minute = min(self.per_minute, key=lambda key: (-self.per_minute[key], key))
        return minute, self.per_minute[minute]

    def days(self, end_date):
        """Every UTC date ('YYYY-MM-DD') the log covers in the window, up to `end_date`: from the later of the
        window's start and the log's first line."""
        start = max(self.since, self.first_in_log or self.until)[:10]
        first = datetime.datetime.strptime(start, '%Y-%m-%d').date()
        last = datetime.datetime.strptime(end_date, '%Y-%m-%d').date()
        return [(first + datetime.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _first_time(handle):
    handle.seek(0)
    for dummy in range(100):  # a few lines without a time at the top (hand edits) are skipped
        line = handle.readline()
        if not line:
            return None
        stamp = line_time(line)
        if stamp is not None:
            return stamp
    return None


def write_rates(path, since, until):
    """WriteRates of the log at `path` over [since, until]. Raises TransactionLogError (missing, unreadable)."""
    rates = WriteRates(since, until)
    try:
        with open(path, 'rb') as handle:
            handle.seek(0, 2)
            size = handle.tell()
            rates.first_in_log = _first_time(handle)
            start = window_start(handle, size, since)
            handle.seek(start)
            if start:
                handle.readline()
            for line in handle:
                if not line.endswith(b'\n'):
                    break
                stamp = line_time(line)
                if stamp is None:
                    rates.untimed += 1
                elif stamp > until:
                    break
                else:
                    rates.add(stamp)
    except (IOError, OSError) as exc:
        raise TransactionLogError('cannot read the transaction log %s: %s; check transaction_log_path (or '
                                  'TRANSACTION_LOG_PATH in .env) and that this user may read it'
                                  % (path, getattr(exc, 'strerror', None) or exc))
    return rates
