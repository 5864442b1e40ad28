# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A service database with a model registry (ai_models rows and model files) built the way issue 12's contract
describes it, with plain SQL: the tests of model_review and model_archive do not depend on the retrain code."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import json
import os
import sqlite3

SCHEMA = [
    "CREATE TABLE ai_models (id INTEGER PRIMARY KEY, entity_id TEXT, model_type TEXT, status TEXT, "
    "accuracy_metrics TEXT, trained_at TEXT)",
    "CREATE TABLE ai_forecasts (id INTEGER PRIMARY KEY, entity_id TEXT, forecast_date TEXT, predicted REAL, "
    "lower_bound REAL, upper_bound REAL, model_id INTEGER, created_at TEXT)",
]


def metrics(mape, wape=None, mase=None, bias=0.0, observations=730, nonzero_days=27, outcome="promoted"):
    """accuracy_metrics as model_retrain records them: nonzero_days counts the days of the 28-day holdout with demand."""
    return dict(mape=mape, wape=wape if wape is not None else mape, mase=mase, bias=bias, holdout_days=28,
                observations=observations, nonzero_days=nonzero_days, outcome=outcome, reason=None,
                naive=dict(mape=30.0, wape=30.0, mase=1.0))


def trained_at(days_ago):
    when = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None).replace(microsecond=0) - datetime.timedelta(days=days_ago)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_registry(home, models, wal=True):
    """Service paths below `home` with one ai_models row per entry of `models`: dicts with entity, model_type,
    status, days_ago (or trained_at), metrics (dict or None) and file (write the model file, default true)."""
    home = str(home)
    database_path = os.path.join(home, "data", "enterprise_inventory.db")
    models_dir = os.path.join(home, "ai", "models")
    os.makedirs(os.path.dirname(database_path))
    os.makedirs(models_dir)
    conn = sqlite3.connect(database_path, isolation_level=None)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    for statement in SCHEMA:
        conn.execute(statement)
    for model in models:
        when = model.get("trained_at") or trained_at(model.get("days_ago", 1))
        cursor = conn.execute("INSERT INTO ai_models (entity_id, model_type, status, accuracy_metrics, trained_at) "
                              "VALUES (?, ?, ?, ?, ?)",
                              (model["entity"], model.get("model_type", "prophet"), model.get("status", "active"),
                               json.dumps(model["metrics"]) if model.get("metrics") is not None else None, when))
        if model.get("file", True):
            write_model_file(models_dir, cursor.lastrowid, model["entity"], model.get("model_type", "prophet"), when)
    conn.close()
    return dict(database_path=database_path, models_dir=models_dir, service_home=home)


def write_model_file(base_dir, model_id, entity, model_type, when):
    directory = os.path.join(base_dir, entity)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    document = {"format": "inventory-enterprise-model", "version": 1, "id": model_id, "entity_id": entity,
                "model_type": model_type, "trained_at": when, "prophet": None, "arima": None,
                "naive": {"season": 7, "last_values": [1.0] * 7}}
    path = os.path.join(directory, "%d.json" % model_id)
    with open(path, "w") as handle:
        json.dump(document, handle)
    return path


def rows(database_path):
    conn = sqlite3.connect(database_path)
    try:
        return conn.execute("SELECT id, entity_id, model_type, status, accuracy_metrics, trained_at FROM ai_models "
                            "ORDER BY id").fetchall()
    finally:
        conn.close()


def statuses(database_path):
    return dict((row[0], row[3]) for row in rows(database_path))


def tree(path):
    """{relative path: sha256} of every file below path."""
    found = {}
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            with open(full, "rb") as handle:
                found[os.path.relpath(full, path)] = hashlib.sha256(handle.read()).hexdigest()
    return found
