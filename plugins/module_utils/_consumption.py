# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Consumption history: derivation from counts and invoices, data quality and anomaly detection.

Self-contained (standard library only): the reference service uses this very file through a symlink
(reference/inventory_service/consumption.py), so the service and the collection's modules compute the same thing.

Consumption between two counts of an item is the earlier count plus what invoices received after it, up to and
including the later count's day, minus the later count; it is spread evenly over the days of that interval.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import statistics

SCHEMA = (
    # The id is there for dual-write and parity, which mirror and compare tables by a single integer key;
    # (item_code, day) is the key everything else uses.
    """CREATE TABLE IF NOT EXISTS consumption_history (
        id INTEGER PRIMARY KEY,
        item_code TEXT NOT NULL,
        day TEXT NOT NULL,
        quantity REAL NOT NULL,
        source TEXT NOT NULL,
        UNIQUE (item_code, day))""",
    "CREATE INDEX IF NOT EXISTS idx_consumption_history_day ON consumption_history(day)",
    """CREATE TABLE IF NOT EXISTS ai_anomalies (
        id INTEGER PRIMARY KEY,
        item_code TEXT NOT NULL,
        day TEXT NOT NULL,
        quantity REAL,
        expected REAL,
        score REAL,
        detected_at TEXT NOT NULL,
        UNIQUE(item_code, day))""",
)
SOURCES = ('derived', 'import')
# Rounded so that re-deriving the same counts compares equal to what was stored.
DECIMALS = 6
# Robust z-score above which a value is an outlier (data quality) or an anomaly (Iglewicz and Hoaglin's 3.5).
Z_LIMIT = 3.5
MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = 1.2533
# Anomaly baseline: the same weekday of the previous weeks, or the non-zero days of that window for an
# intermittent item (more than half of its baseline days are zero), where a zero day is normal.
BASELINE_WEEKS = 8
MIN_BASELINE = 4
RELATIVE_FLOOR = 0.15
# A negative interval smaller than this is rounding of the counted quantities, not an adjustment.
ROUNDING = 0.05
# History shorter than this is too little for a yearly or even a stable weekly pattern.
MIN_HISTORY_DAYS = 90


class ConsumptionError(ValueError):
    pass


def _day(value):
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise ConsumptionError('%r is not a date (YYYY-MM-DD)' % (value,))


def _iso(day):
    return day.isoformat()


def _today(today):
    return _day(today) if today is not None else datetime.date.today()


def _write(conn, statements):
    """Run (sql, rows) executemany statements atomically; inside a caller's transaction, as part of it."""
    own = not conn.in_transaction
    if own:
        conn.execute('BEGIN IMMEDIATE')
    try:
        for sql, rows in statements:
            conn.executemany(sql, rows)
    except BaseException:
        if own:
            conn.rollback()
        raise
    if own:
        conn.commit()


def ensure_schema(conn):
    """Create consumption_history and ai_anomalies when the database predates them."""
    for statement in SCHEMA:
        conn.execute(statement)


def has_schema(conn):
    """Whether both tables exist (a read-only run must not create them)."""
    names = set(row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('consumption_history', 'ai_anomalies')"))
    return len(names) == 2


def _counts(conn, start, end):
    """{item: [(day, quantity)]} for every count in [start, end] plus each item's last count before start.

    Several counts of one item on one day: the latest one (highest id) stands for the day.
    """
    counts = {}
    previous = conn.execute(
        """SELECT item_code, count_date, quantity FROM (
               SELECT ici.item_code, ic.count_date, ici.quantity,
                      ROW_NUMBER() OVER (PARTITION BY ici.item_code ORDER BY ic.count_date DESC, ic.id DESC,
                                         ici.id DESC) AS rn
               FROM inventory_count_items ici JOIN inventory_counts ic ON ic.id = ici.count_id
               WHERE ic.count_date < ? AND ici.quantity IS NOT NULL)
           WHERE rn = 1""", (_iso(start),))
    for item, day, quantity in previous:
        counts[item] = {day[:10]: quantity}
    rows = conn.execute(
        """SELECT ici.item_code, substr(ic.count_date, 1, 10), ici.quantity
           FROM inventory_count_items ici JOIN inventory_counts ic ON ic.id = ici.count_id
           WHERE ic.count_date >= ? AND substr(ic.count_date, 1, 10) <= ? AND ici.quantity IS NOT NULL
           ORDER BY ic.id, ici.id""", (_iso(start), _iso(end)))
    for item, day, quantity in rows:
        counts.setdefault(item, {})[day] = quantity
    return dict((item, sorted(days.items())) for item, days in counts.items())


def _received(conn, since, end):
    received = {}
    rows = conn.execute(
        """SELECT item_code, substr(invoice_date, 1, 10), SUM(quantity) FROM processed_invoices
           WHERE invoice_date > ? AND substr(invoice_date, 1, 10) <= ? AND quantity IS NOT NULL
           GROUP BY item_code, substr(invoice_date, 1, 10)""", (since, _iso(end)))
    for item, day, quantity in rows:
        received[(item, day)] = quantity
    return received


def compute(conn, start_day, end_day):
    """The consumption the counts and invoices give for [start_day, end_day], without writing.

    Returns (rows {(item, day): quantity}, adjustments [{item_code, from, to, quantity}]): an interval whose
    consumption comes out negative (a recount or a stock adjustment) is recorded as zero and listed.
    Days before an item's first count or after its last count in the range get no row: nothing is known of them.
    """
    start, end = _day(start_day), _day(end_day)
    if start > end:
        raise ConsumptionError('start_date %s is after end_date %s' % (start, end))
    counts = _counts(conn, start, end)
    earliest = min([days[0][0] for days in counts.values() if days] or [_iso(start)])
    received = _received(conn, earliest, end)
    rows, adjustments = {}, []
    for item, days in counts.items():
        for (previous_day, previous_qty), (current_day, current_qty) in zip(days, days[1:]):
            first, last = _day(previous_day), _day(current_day)
            span = (last - first).days
            total = previous_qty - current_qty
            for offset in range(1, span + 1):
                total += received.get((item, _iso(first + datetime.timedelta(days=offset))), 0.0)
            if total < -ROUNDING:
                adjustments.append(dict(item_code=item, quantity=round(total, DECIMALS),
                                        **{'from': previous_day, 'to': current_day}))
            total = max(total, 0.0)
            share = round(total / span, DECIMALS)
            for offset in range(1, span + 1):
                day = first + datetime.timedelta(days=offset)
                if start <= day <= end:
                    rows[(item, _iso(day))] = share
    return rows, adjustments


def derive(conn, start_day, end_day, write=True):
    """Derive and store consumption for [start_day, end_day]; rows imported from a file are never overwritten.

    Idempotent: a second run over the same counts and invoices finds every row unchanged. With write=False
    nothing is written and the counts say what a run would do. Returns a dict with inserted, updated, unchanged,
    kept_import (rows left alone because they were imported), items (codes whose rows were inserted or updated),
    adjustments and range.
    """
    rows, adjustments = compute(conn, start_day, end_day)
    start, end = _day(start_day), _day(end_day)
    if write:
        ensure_schema(conn)
    stored = {}
    if has_schema(conn):
        for item, day, quantity, source in conn.execute(
                'SELECT item_code, day, quantity, source FROM consumption_history WHERE day >= ? AND day <= ?',
                (_iso(start), _iso(end))):
            stored[(item, day)] = (quantity, source)
    inserts, updates, unchanged, kept = [], [], 0, 0
    for key, quantity in sorted(rows.items()):
        old = stored.get(key)
        if old is None:
            inserts.append((key[0], key[1], quantity))
        elif old[1] == 'import':
            kept += 1
        elif abs(old[0] - quantity) > 10 ** -DECIMALS / 2:
            updates.append((quantity, key[0], key[1]))
        else:
            unchanged += 1
    if write and (inserts or updates):
        _write(conn, [("INSERT INTO consumption_history (item_code, day, quantity, source) "
                       "VALUES (?, ?, ?, 'derived')", inserts),
                      ("UPDATE consumption_history SET quantity = ? WHERE item_code = ? AND day = ? "
                       "AND source = 'derived'", updates)])
    items = sorted(set(row[0] for row in inserts) | set(row[1] for row in updates))
    return dict(inserted=len(inserts), updated=len(updates), unchanged=unchanged, kept_import=kept, items=items,
                adjustments=adjustments, range=dict(start_date=_iso(start), end_date=_iso(end)))


def import_rows(conn, rows):
    """Store (item_code, day, quantity) rows with source 'import', replacing what was there; one transaction."""
    ensure_schema(conn)
    _write(conn, [("INSERT INTO consumption_history (item_code, day, quantity, source) VALUES (?, ?, ?, 'import') "
                   "ON CONFLICT (item_code, day) DO UPDATE SET quantity = excluded.quantity, source = 'import'",
                   [(item, _iso(_day(day)), float(quantity)) for item, day, quantity in rows])])
    return len(rows)


def history(conn, item_code, start_day, end_day):
    """[(day, quantity)] for every day of [start_day, end_day], 0.0 where no row exists."""
    start, end = _day(start_day), _day(end_day)
    known = dict(conn.execute(
        'SELECT day, quantity FROM consumption_history WHERE item_code = ? AND day >= ? AND day <= ?',
        (item_code, _iso(start), _iso(end))).fetchall())
    days = (end - start).days + 1
    return [(_iso(start + datetime.timedelta(days=n)), float(known.get(_iso(start + datetime.timedelta(days=n)), 0.0)))
            for n in range(max(days, 0))]


def top_items(conn, limit, days=365, today=None):
    """Item codes with the most consumption over the last `days` days up to today, largest first."""
    since = _iso(_today(today) - datetime.timedelta(days=days))
    rows = conn.execute(
        """SELECT item_code FROM consumption_history WHERE day > ? GROUP BY item_code
           HAVING SUM(quantity) > 0 ORDER BY SUM(quantity) DESC, item_code LIMIT ?""", (since, int(limit)))
    return [row[0] for row in rows]


def volumes(conn, limit, days=365, today=None):
    """[(item_code, volume)] of top_items, for callers that show the volume."""
    since = _iso(_today(today) - datetime.timedelta(days=days))
    rows = conn.execute(
        """SELECT item_code, SUM(quantity) FROM consumption_history WHERE day > ? GROUP BY item_code
           HAVING SUM(quantity) > 0 ORDER BY SUM(quantity) DESC, item_code LIMIT ?""", (since, int(limit)))
    return [(row[0], row[1]) for row in rows]


def _scale(values, centre):
    """A robust standard deviation: MAD, else the mean absolute deviation when most values are equal."""
    mad = statistics.median([abs(v - centre) for v in values])
    if mad > 0:
        return MAD_TO_SIGMA * mad
    return MEAN_AD_TO_SIGMA * sum(abs(v - centre) for v in values) / len(values)


def _outliers(values):
    """Indexes of values whose robust z-score (median/MAD) exceeds Z_LIMIT; zero days are never outliers."""
    nonzero = [v for v in values if v > 0]
    if len(nonzero) < MIN_BASELINE:
        return []
    centre = statistics.median(nonzero)
    scale = _scale(nonzero, centre)
    if scale <= 0:
        return []
    return [n for n, v in enumerate(values) if v > 0 and abs(v - centre) / scale > Z_LIMIT]


def data_quality(conn, item_code, start_day=None, end_day=None):
    """What the High MAPE runbook checks of one item's history (between its first and last row by default).

    days_covered counts days with a row, gaps are the ranges of days without one, longest_zero_run counts
    consecutive days of zero (or missing) consumption, outliers are the non-zero days whose robust z-score
    against the item's non-zero days (median and MAD) exceeds 3.5, zero_share is the share of zero days.
    """
    bounds = conn.execute('SELECT min(day), max(day), count(*) FROM consumption_history WHERE item_code = ?',
                          (item_code,)).fetchone()
    if not bounds[2]:
        return dict(item_code=item_code, first_day=None, last_day=None, span_days=0, days_covered=0,
                    gaps=[], gap_days=0, longest_zero_run=0, zero_share=None, outliers=[], total=0.0, mean=None,
                    issues=['no consumption history'])
    start = _day(start_day or bounds[0])
    end = _day(end_day or bounds[1])
    present = set(row[0] for row in conn.execute(
        'SELECT day FROM consumption_history WHERE item_code = ? AND day >= ? AND day <= ?',
        (item_code, _iso(start), _iso(end))))
    series = history(conn, item_code, start, end)
    gaps, gap_start, run, longest = [], None, 0, 0

    def gap(first, last):
        return dict(start=first, end=last, days=(_day(last) - _day(first)).days + 1)

    for n, (day, quantity) in enumerate(series):
        if day not in present and gap_start is None:
            gap_start = day
        if day in present and gap_start is not None:
            gaps.append(gap(gap_start, series[n - 1][0]))
            gap_start = None
        run = run + 1 if quantity == 0 else 0
        longest = max(longest, run)
    if gap_start is not None:
        gaps.append(gap(gap_start, series[-1][0]))
    values = [q for _d, q in series]
    zero_share = round(sum(1 for v in values if v == 0) / len(values), 4) if values else None
    outliers = [dict(day=series[n][0], quantity=values[n]) for n in _outliers(values)]
    issues = []
    if len(series) < MIN_HISTORY_DAYS:
        issues.append('too little history: %d days (fewer than %d)' % (len(series), MIN_HISTORY_DAYS))
    gap_days = sum(gap['days'] for gap in gaps)
    if gap_days:
        issues.append('%d days without a row in %d gaps' % (gap_days, len(gaps)))
    if zero_share is not None and zero_share > 0.5:
        issues.append('intermittent: %.0f%% of the days are zero (MAPE means little, read MASE)' % (zero_share * 100))
    if longest >= 14:
        issues.append('a run of %d days without consumption' % longest)
    if outliers:
        issues.append('%d outlier days' % len(outliers))
    return dict(item_code=item_code, first_day=series[0][0] if series else None,
                last_day=series[-1][0] if series else None, span_days=len(series), days_covered=len(present),
                gaps=gaps, gap_days=gap_days, longest_zero_run=longest, zero_share=zero_share, outliers=outliers,
                total=round(sum(values), DECIMALS), mean=round(sum(values) / len(values), DECIMALS) if values else None,
                issues=issues)


def _baseline(series, n):
    """(expected, scale) for series[n] from the same weekday of the previous weeks, or None without enough."""
    same_weekday = [series[n - 7 * k] for k in range(1, BASELINE_WEEKS + 1) if n - 7 * k >= 0]
    if len(same_weekday) < MIN_BASELINE:
        return None
    if sum(1 for v in same_weekday if v == 0) * 2 > len(same_weekday):
        window = [v for v in series[max(0, n - 7 * BASELINE_WEEKS):n] if v > 0]
        if len(window) < MIN_BASELINE or series[n] == 0:
            return None
        centre = statistics.median(window)
    else:
        window = same_weekday
        centre = statistics.median(window)
    scale = _scale(window, centre)
    # A floor: a few baseline days understate the spread, and day-to-day use varies by some 15% anyway.
    return centre, max(scale, RELATIVE_FLOOR * abs(centre), 1e-9)


def scan_anomalies(conn, since_day, today=None):
    """[{item_code, day, quantity, expected, score}] for the days from since_day to today, without writing."""
    since, end = _day(since_day), _today(today)
    first = since - datetime.timedelta(days=7 * BASELINE_WEEKS)
    items = [row[0] for row in conn.execute(
        'SELECT DISTINCT item_code FROM consumption_history WHERE day >= ? AND day <= ? ORDER BY item_code',
        (_iso(since), _iso(end)))]
    found = []
    for item in items:
        series = history(conn, item, first, end)
        values = [q for _d, q in series]
        for n in range(7 * BASELINE_WEEKS, len(series)):
            baseline = _baseline(values, n)
            if baseline is None:
                continue
            expected, scale = baseline
            score = (values[n] - expected) / scale
            if abs(score) > Z_LIMIT:
                found.append(dict(item_code=item, day=series[n][0], quantity=values[n],
                                  expected=round(expected, DECIMALS), score=round(score, 3)))
    return found


def detect_anomalies(conn, since_day, today=None, write=True):
    """Scan and record anomalies; an (item, day) already recorded is left as it is. Returns (anomalies, new)."""
    if write:
        ensure_schema(conn)
    if not has_schema(conn):
        return [], 0
    found = scan_anomalies(conn, since_day, today)
    recorded = set(tuple(row) for row in conn.execute('SELECT item_code, day FROM ai_anomalies WHERE day >= ?',
                                                      (_iso(_day(since_day)),)))
    fresh = [a for a in found if (a['item_code'], a['day']) not in recorded]
    if write and fresh:
        now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
        _write(conn, [('INSERT OR IGNORE INTO ai_anomalies (item_code, day, quantity, expected, score, detected_at) '
                       'VALUES (?, ?, ?, ?, ?, ?)',
                       [(a['item_code'], a['day'], a['quantity'], a['expected'], a['score'], now) for a in fresh])])
    return found, len(fresh)


def list_anomalies(conn, days, today=None):
    """Recorded anomalies of the last `days` days (day >= today - days), newest first."""
    if not has_schema(conn):
        return []
    since = _iso(_today(today) - datetime.timedelta(days=days))
    rows = conn.execute(
        'SELECT item_code, day, quantity, expected, score FROM ai_anomalies WHERE day >= ? '
        'ORDER BY day DESC, abs(score) DESC, item_code', (since,))
    return [dict(item_code=r[0], day=r[1], quantity=r[2], expected=r[3], score=r[4]) for r in rows]
