# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""consumption_derive and consumption_anomalies against real SQLite databases built here."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import os
import sqlite3

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _consumption
from ansible_collections.inventory_enterprise.ops.plugins.modules import consumption_anomalies, consumption_derive

TODAY = datetime.date.today()
# The service's tables the derivation reads, as an older database without consumption_history has them.
SERVICE_TABLES = """
CREATE TABLE item_master (id INTEGER PRIMARY KEY, item_code TEXT UNIQUE NOT NULL, name TEXT);
CREATE TABLE inventory_counts (id INTEGER PRIMARY KEY, count_date TEXT NOT NULL, location TEXT, status TEXT,
                               created_by TEXT);
CREATE TABLE inventory_count_items (id INTEGER PRIMARY KEY, count_id INTEGER NOT NULL, item_code TEXT NOT NULL,
                                    quantity REAL);
CREATE TABLE processed_invoices (id INTEGER PRIMARY KEY, invoice_number TEXT NOT NULL, vendor TEXT,
                                 invoice_date TEXT, item_code TEXT, quantity REAL, amount REAL);
"""


def ago(days):
    return (TODAY - datetime.timedelta(days=days)).isoformat()


def make_db(tmp_path, counts=(), invoices=()):
    path = str(tmp_path / "enterprise_inventory.db")
    conn = sqlite3.connect(path)
    conn.executescript(SERVICE_TABLES)
    for count_day, lines in counts:
        count_id = conn.execute("INSERT INTO inventory_counts (count_date) VALUES (?)", (count_day,)).lastrowid
        conn.executemany("INSERT INTO inventory_count_items (count_id, item_code, quantity) VALUES (?, ?, ?)",
                         [(count_id, item, qty) for item, qty in lines.items()])
    conn.executemany("INSERT INTO processed_invoices (invoice_number, invoice_date, item_code, quantity) "
                     "VALUES (?, ?, ?, ?)", invoices)
    conn.commit()
    conn.close()
    return path


def digest(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def rows(path, sql):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def derive(capsys, check_mode=False, **args):
    return run_module(consumption_derive, dict(args), capsys, check_mode=check_mode)


def anomalies(capsys, check_mode=False, **args):
    return run_module(consumption_anomalies, dict(args), capsys, check_mode=check_mode)


def test_derive_defaults_to_yesterday_and_today_check_mode_then_idempotent(tmp_path, capsys):
    path = make_db(tmp_path, counts=[(ago(5), {"A": 30, "B": 4}), (ago(1), {"A": 20, "B": 8}), (ago(0), {"A": 12})],
                   invoices=[("I1", ago(2), "A", 2.0), ("I2", ago(0), "A", 1.0)])
    before = digest(path)
    failed, result = derive(capsys, check_mode=True, database_path=path)
    assert not failed and result["changed"] is True
    assert (result["inserted"], result["updated"], result["unchanged"]) == (3, 0, 0)
    # Check mode wrote nothing: not even the table.
    assert digest(path) == before and not os.path.exists(path + "-wal")
    failed, result = derive(capsys, database_path=path)
    assert not failed and result["changed"] is True and result["range"] == {"start_date": ago(1), "end_date": ago(0)}
    assert (result["inserted"], result["updated"], result["unchanged"], result["kept_import"]) == (3, 0, 0, 0)
    assert result["items"] == ["A", "B"] and result["database"] == path
    # A over days 4..1: 30 + 2 - 20 = 12 / 4 = 3 a day, then 20 + 1 - 12 = 9; B 4 -> 8 with nothing received.
    assert rows(path, "SELECT item_code, day, quantity, source FROM consumption_history ORDER BY 1, 2") == [
        ("A", ago(1), 3.0, "derived"), ("A", ago(0), 9.0, "derived"), ("B", ago(1), 0.0, "derived")]
    assert result["adjustments"] == [{"item_code": "B", "from": ago(5), "to": ago(1), "quantity": -4.0}]
    failed, again = derive(capsys, database_path=path)
    assert not failed and again["changed"] is False
    assert (again["inserted"], again["updated"], again["unchanged"], again["items"]) == (0, 0, 3, [])
    failed, check = derive(capsys, check_mode=True, database_path=path)
    assert check["changed"] is False


def test_derive_updates_a_corrected_count_and_keeps_imported_rows(tmp_path, capsys):
    path = make_db(tmp_path, counts=[(ago(3), {"A": 10}), (ago(2), {"A": 6}), (ago(1), {"A": 5})])
    derive(capsys, database_path=path, start_date=ago(3), end_date=ago(0))
    conn = sqlite3.connect(path)
    _consumption.import_rows(conn, [("A", ago(1), 42.0)])
    conn.execute("UPDATE inventory_count_items SET quantity = 8 WHERE quantity = 6")
    conn.commit()
    conn.close()
    failed, result = derive(capsys, database_path=path, start_date=ago(3), end_date=ago(0))
    assert not failed and result["changed"] is True
    assert (result["inserted"], result["updated"], result["unchanged"], result["kept_import"]) == (0, 1, 0, 1)
    assert rows(path, "SELECT day, quantity, source FROM consumption_history ORDER BY day") == [
        (ago(2), 2.0, "derived"), (ago(1), 42.0, "import")]


def test_derive_failures_say_what_and_change_nothing(tmp_path, capsys):
    path = make_db(tmp_path)
    failed, result = derive(capsys, database_path=path, start_date=ago(0), end_date=ago(3))
    assert failed and result["changed"] is False and "is after end_date" in result["msg"]
    failed, result = derive(capsys, database_path=path, start_date="yesterday")
    assert failed and "'yesterday' is not a date (YYYY-MM-DD)" in result["msg"]
    failed, result = derive(capsys, database_path=str(tmp_path / "missing.db"))
    assert failed and "does not exist" in result["msg"] and result["database"] is None
    not_a_db = tmp_path / "other.db"
    not_a_db.write_bytes(b"not a database" * 100)
    failed, result = derive(capsys, database_path=str(not_a_db))
    assert failed and result["changed"] is False and "deriving consumption for" in result["msg"]
    assert "Traceback" not in result["msg"]
    failed, result = derive(capsys, service_home=str(tmp_path / "nowhere"))
    assert failed and "cannot read the service's configuration" in result["msg"]


def weekly_history(path, spike_day=None):
    weekly = (10, 11, 12, 13, 20, 25, 6)
    data = [("A", ago(n), float(weekly[(TODAY - datetime.timedelta(days=n)).weekday()])) for n in range(90)]
    if spike_day is not None:
        data = [(item, day, 90.0 if day == ago(spike_day) else q) for item, day, q in data]
    conn = sqlite3.connect(path)
    _consumption.import_rows(conn, data)
    conn.close()
    return weekly


def test_anomalies_detected_once_listed_and_check_mode_writes_nothing(tmp_path, capsys):
    path = make_db(tmp_path)
    weekly = weekly_history(path, spike_day=1)
    failed, listed = anomalies(capsys, database_path=path)
    assert not failed and listed["changed"] is False and listed["anomalies"] == [] and "new" not in listed
    before = digest(path)
    failed, check = anomalies(capsys, check_mode=True, database_path=path, state="detected")
    assert not failed and check["changed"] is True and check["new"] == 1 and digest(path) == before
    assert rows(path, "SELECT count(*) FROM ai_anomalies") == [(0,)]
    failed, result = anomalies(capsys, database_path=path, state="detected")
    assert not failed and result["changed"] is True and result["new"] == 1 and result["since"] == ago(27)
    spike = result["anomalies"][0]
    assert (spike["item_code"], spike["day"], spike["quantity"]) == ("A", ago(1), 90.0)
    assert spike["expected"] == weekly[(TODAY - datetime.timedelta(days=1)).weekday()] and spike["score"] > 3.5
    failed, again = anomalies(capsys, database_path=path, state="detected")
    assert not failed and again["changed"] is False and again["new"] == 0 and len(again["anomalies"]) == 1
    failed, listed = anomalies(capsys, database_path=path)
    assert listed["since"] == ago(1) and listed["anomalies"] == [spike]
    failed, listed = anomalies(capsys, database_path=path, days=7)
    assert listed["anomalies"] == [spike] and listed["since"] == ago(7)


def test_anomalies_on_an_older_database_and_bad_days(tmp_path, capsys):
    path = make_db(tmp_path)
    before = digest(path)
    failed, listed = anomalies(capsys, database_path=path)
    assert not failed and listed["anomalies"] == [] and digest(path) == before
    failed, check = anomalies(capsys, check_mode=True, database_path=path, state="detected")
    assert not failed and check["changed"] is False and digest(path) == before
    failed, result = anomalies(capsys, database_path=path, state="detected")
    assert not failed and result["changed"] is True and result["new"] == 0
    assert rows(path, "SELECT name FROM sqlite_master WHERE name = 'ai_anomalies'") == [("ai_anomalies",)]
    failed, result = anomalies(capsys, database_path=path, days=0)
    assert failed and "days must be at least 1" in result["msg"]
