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


class ReferenceService(object):
    """The reference service of THIS checkout (reference/ next to the collection), in a subprocess on a free port."""

    def __init__(self, home):
        import socket
        self.home = str(home)
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            self.port = probe.getsockname()[1]
        self.url = 'http://127.0.0.1:%d' % self.port
        self.process = None

    def __enter__(self):
        import os
        import subprocess
        import sys
        import time
        import urllib.request
        here = os.path.dirname(os.path.abspath(__file__))
        reference = os.path.normpath(os.path.join(here, '..', '..', '..', '..', 'reference'))
        with open(os.path.join(self.home, '.env'), 'w') as handle:
            handle.write('PORT=%d\nJWT_SECRET=unit-test-secret-0123456789abcdef\nADMIN_PASSWORD=unit-test-pw\n'
                         % self.port)
        env = dict(os.environ, PYTHONPATH=reference)
        self.log = open(os.path.join(self.home, 'service.out'), 'w')
        self.process = subprocess.Popen([sys.executable, '-m', 'inventory_service', 'serve'], cwd=self.home,
                                        env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url + '/health', timeout=1).read()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError('the reference service did not start, see %s/service.out' % self.home)
                time.sleep(0.05)  # polling the port until it answers, not a fixed wait
        return self

    def token(self):
        import json
        import urllib.request
        request = urllib.request.Request(self.url + '/api/auth/login', method='POST',
                                         data=json.dumps({'username': 'admin', 'password': 'unit-test-pw'}).encode(),
                                         headers={'Content-Type': 'application/json'})
        return json.load(urllib.request.urlopen(request, timeout=10))['token']

    def __exit__(self, *_exc):
        self.process.terminate()
        self.process.wait(30)
        self.log.close()
