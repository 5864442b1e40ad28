# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A service database with the issue-12 contract's tables and synthetic consumption history, for the AI tests."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import sqlite3

import numpy

# The contract's tables, as the reference service's db.py creates them (plain SQL, no reference import).
SCHEMA = [
    'CREATE TABLE IF NOT EXISTS ai_forecasts (id INTEGER PRIMARY KEY, entity_id TEXT, forecast_date TEXT, '
    "predicted REAL, lower_bound REAL, upper_bound REAL, model_id INTEGER, created_at TEXT DEFAULT (strftime("
    "'%Y-%m-%dT%H:%M:%fZ', 'now')))",
    'CREATE TABLE IF NOT EXISTS ai_models (id INTEGER PRIMARY KEY, entity_id TEXT, model_type TEXT, status TEXT, '
    'accuracy_metrics TEXT, trained_at TEXT)',
    'CREATE TABLE IF NOT EXISTS consumption_history (item_code TEXT NOT NULL, day TEXT NOT NULL, '
    'quantity REAL NOT NULL, source TEXT NOT NULL, PRIMARY KEY (item_code, day))',
]
LAST_DAY = datetime.date(2025, 12, 31)


def series(kind, days, seed):
    rng = numpy.random.default_rng(seed)
    t = numpy.arange(days)
    if kind == 'zero':
        return numpy.zeros(days)
    if kind == 'intermittent':
        return numpy.where(rng.random(days) < 0.8, 0, rng.poisson(4, days)).astype(float)
    return numpy.clip(30 + 8 * numpy.sin(2 * numpy.pi * t / 7) + 0.01 * t + rng.normal(0, 1.5, days), 0, None)


def make_db(path, items=None, days=400):
    """items: {item_code: kind}; history ends on LAST_DAY. Returns the path."""
    items = items if items is not None else {'FAST-1': 'fast', 'FAST-2': 'fast', 'SLOW-1': 'intermittent',
                                             'ZERO-1': 'zero'}
    conn = sqlite3.connect(str(path))
    for statement in SCHEMA:
        conn.execute(statement)
    for seed, (item, kind) in enumerate(sorted(items.items())):
        values = series(kind, days, seed)
        conn.executemany('INSERT INTO consumption_history VALUES (?, ?, ?, ?)', [
            (item, (LAST_DAY - datetime.timedelta(days=days - 1 - i)).isoformat(), float(v), 'import')
            for i, v in enumerate(values)])
    conn.commit()
    conn.close()
    return str(path)


def rows(path, sql, args=()):
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()
