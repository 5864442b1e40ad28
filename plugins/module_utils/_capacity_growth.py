# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Growth per day and disk runway: least squares over dated points, with the standard library only (no numpy on
managed hosts). Every function answers None, never a division by zero, when the points cannot say."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import statistics

SECONDS_PER_DAY = 86400.0
NOT_GROWING = 'not growing'
GROWTH_UNKNOWN = 'growth unknown'


def day_number(moment):
    """Days since the epoch (a float) of an aware datetime, or of a date (its midnight UTC)."""
    if not isinstance(moment, datetime.datetime):
        moment = datetime.datetime(moment.year, moment.month, moment.day, tzinfo=datetime.timezone.utc)
    return moment.timestamp() / SECONDS_PER_DAY


def fit(points):
    """(slope per day, value fitted at the last point's time) of the least-squares line through [(moment, value)];
    (None, None) with fewer than two distinct moments."""
    xs = [day_number(moment) for moment, dummy in points]
    if len(set(xs)) < 2:
        return None, None
    line = statistics.linear_regression(xs, [float(value) for dummy, value in points])
    return line.slope, line.intercept + line.slope * max(xs)


def slope_per_day(points):
    return fit(points)[0]


def cumulative(points):
    """[(moment, running total)] of [(moment, amount)] in time order: what a directory that keeps every file holds."""
    total, running = 0, []
    for moment, amount in sorted(points, key=lambda point: point[0]):
        total += amount
        running.append((moment, total))
    return running


def backups_growth(archives, now, retention_days, since):
    """(bytes per day, model) of a backup directory from all its archives [(created, size)].

    When no archive is older than the retention (plus a day of slack for the time of the nightly run), the
    retention is applied: the directory keeps about as many archives as it has now, and grows as they grow
    (model 'retention': their count times the slope of their size). Otherwise it keeps every archive and grows by
    each new one (model 'accumulating': the slope of the running total of the archives created since `since`)."""
    if not archives:
        return None, 'no archives'
    oldest = min(created for created, dummy in archives)
    if retention_days and (now - oldest).total_seconds() <= (retention_days + 1) * SECONDS_PER_DAY:
        slope = slope_per_day(archives)
        return (None if slope is None else slope * len(archives)), 'retention'
    return slope_per_day(cumulative([archive for archive in archives if archive[0] >= since])), 'accumulating'


def runway(free_bytes, growth_per_day):
    """(days, verdict): days until `free_bytes` are used at `growth_per_day` bytes a day, with the verdict
    'runs out'; None with NOT_GROWING when the growth is zero or negative, with GROWTH_UNKNOWN when it is None."""
    if growth_per_day is None:
        return None, GROWTH_UNKNOWN
    if growth_per_day <= 0:
        return None, NOT_GROWING
    return max(free_bytes, 0) / float(growth_per_day), 'runs out'


# Past a century a date says nothing more (and far enough out, none exists).
FAR_DAYS = 36525


def runs_out_on(today, days):
    """The ISO date `days` after `today`, the day the space is used up; 'after <date>' a century or more away."""
    if days >= FAR_DAYS:
        return 'after %s' % (today + datetime.timedelta(days=FAR_DAYS)).isoformat()
    return (today + datetime.timedelta(days=int(days))).isoformat()
