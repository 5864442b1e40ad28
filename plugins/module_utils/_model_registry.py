# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The model registry: ai_models rows, ai_forecasts rows and the model files under MODELS_DIR, changed together.

Standard library only, so that the reference service can use this file through a symlink as well
(reference/inventory_service/model_registry.py).

Order of a promotion: BEGIN IMMEDIATE, insert the row (its id names the file), write the file under a temporary
name and fsync it, rename it to <id>.json and fsync the directory, replace the item's forecasts, COMMIT. The row
only becomes visible with the commit, when its file already exists, so no reader ever sees an active row without
its file. A crash before the commit rolls the rows back and leaves at most a temporary file or a file whose id has
no row; clean() removes both at the start of the next run.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import re

FILE_RE = re.compile(r'^(\d+)\.json$')
TEMP_SUFFIX = '.tmp'


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def model_path(models_dir, entity_id, model_id):
    return os.path.join(models_dir, entity_id, '%d.json' % model_id)


def _entity_dir(models_dir, entity_id):
    # entity ids come from the database; one that could climb out of MODELS_DIR is refused, not written.
    if not entity_id or entity_id in ('.', '..') or '/' in entity_id or '\0' in entity_id:
        raise ValueError('item code %r cannot name a model directory' % (entity_id,))
    return os.path.join(models_dir, entity_id)


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clean(conn, models_dir):
    """Remove what an interrupted promotion left: temporary files and model files whose id has no row.
    Returns the paths removed.

    Runs under the database's write lock: a promotion holds it from its row to its commit, so a file without a
    committed row seen here belongs to no promotion in flight (another process's), only to one that died.
    """
    removed = []
    if not os.path.isdir(models_dir):
        return removed
    conn.execute('BEGIN IMMEDIATE')
    try:
        known = set(row[0] for row in conn.execute('SELECT id FROM ai_models'))
        for entity in sorted(os.listdir(models_dir)):
            folder = os.path.join(models_dir, entity)
            if not os.path.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                match = FILE_RE.match(name)
                if name.endswith(TEMP_SUFFIX) or (match and int(match.group(1)) not in known):
                    os.unlink(os.path.join(folder, name))
                    removed.append(os.path.join(folder, name))
    finally:
        conn.execute('COMMIT')
    return removed


def active_models(conn, models_dir, items=None):
    """{entity_id: {id, model_type, trained_at, metrics, document}} of the active models (document None when
    its file cannot be read: such a model is replaced by the next retrain)."""
    found = {}
    for model_id, entity, kind, metrics, trained_at in conn.execute(
            "SELECT id, entity_id, model_type, accuracy_metrics, trained_at FROM ai_models WHERE status = 'active'"):
        if items is not None and entity not in items:
            continue
        try:
            metrics = json.loads(metrics) if metrics else {}
        except ValueError:
            metrics = {}
        document = None
        try:
            with open(model_path(models_dir, entity, model_id)) as handle:
                document = json.load(handle)
        except (OSError, ValueError):
            pass
        found[entity] = dict(id=model_id, model_type=kind, trained_at=trained_at, metrics=metrics,
                             document=document)
    return found


def history_end(conn):
    """Last day of the consumption history ('YYYY-MM-DD'), or None when it is empty or missing."""
    try:
        row = conn.execute('SELECT max(day) FROM consumption_history').fetchone()
    except Exception:  # sqlite3.OperationalError without importing sqlite3 types here: no table yet
        return None
    return row[0] if row else None


def _write_file(models_dir, entity_id, model_id, document):
    folder = _entity_dir(models_dir, entity_id)
    if not os.path.isdir(folder):
        os.makedirs(folder)
    final = model_path(models_dir, entity_id, model_id)
    temp = final + TEMP_SUFFIX
    with open(temp, 'w') as handle:
        handle.write(json.dumps(document, sort_keys=True, allow_nan=False))
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(temp, final)
    _fsync_dir(folder)
    return final


def accuracy_metrics(result):
    """The contract's accuracy_metrics of a result (a losing challenger's outcome is 'rejected')."""
    accuracy = dict(result.get('metrics') or {})
    for key in ('mape', 'wape', 'mase', 'bias', 'holdout_days', 'observations', 'naive', 'nonzero_days'):
        accuracy.setdefault(key, None)
    accuracy['outcome'] = {'kept': 'rejected'}.get(result['outcome'], result['outcome'])
    accuracy['reason'] = result.get('reason')
    return accuracy


def record(conn, models_dir, entity_id, result, trained_at=None, before_commit=None):
    """Record one item's training result; returns the new ai_models id.

    result: _forecast.train_item's dict (outcome promoted, kept or failed), or a failure
    {'outcome': 'failed', 'model_type', 'reason'}. promoted: the previous active row becomes inactive, the new
    row is active with its file and forecasts. kept: the challenger is recorded inactive with outcome
    'rejected'. failed: a 'failed' row, never active. before_commit (tests) runs just before COMMIT.
    """
    trained_at = trained_at or utc_now()
    outcome = result['outcome']
    accuracy = accuracy_metrics(result)
    status = {'promoted': 'active', 'kept': 'inactive'}.get(outcome, 'failed')
    written = None
    conn.execute('BEGIN IMMEDIATE')
    try:
        if status == 'active':
            conn.execute("UPDATE ai_models SET status = 'inactive' WHERE entity_id = ? AND status = 'active'",
                         (entity_id,))
        cursor = conn.execute(
            'INSERT INTO ai_models (entity_id, model_type, status, accuracy_metrics, trained_at) VALUES (?, ?, ?, ?, ?)',
            (entity_id, result['model_type'], status, json.dumps(accuracy, sort_keys=True, allow_nan=False),
             trained_at))
        model_id = cursor.lastrowid
        if status == 'active':
            document = dict(result['document'], id=model_id, entity_id=entity_id, trained_at=trained_at)
            written = _write_file(models_dir, entity_id, model_id, document)
            conn.execute('DELETE FROM ai_forecasts WHERE entity_id = ?', (entity_id,))
            conn.executemany(
                'INSERT INTO ai_forecasts (entity_id, forecast_date, predicted, lower_bound, upper_bound, model_id, '
                'created_at) VALUES (?, ?, ?, NULL, NULL, ?, ?)',
                [(entity_id, day, value, model_id, trained_at) for day, value in result['forecast']])
        if before_commit:
            before_commit(model_id)
        conn.execute('COMMIT')
    except BaseException:
        conn.execute('ROLLBACK')
        if written:
            os.unlink(written)
        raise
    return model_id


def window(conn, training_days):
    """(start_day, end_day) of the training window: the last training_days days of the consumption history."""
    end = history_end(conn)
    if end is None:
        return None, None
    start = datetime.date.fromisoformat(end) - datetime.timedelta(days=training_days - 1)
    return start.isoformat(), end


def challenger_input(active):
    """The active model as _forecast.train_item takes it (its document plus its stored metrics), or None."""
    if not active or not active.get('document'):
        return None
    return dict(active['document'], metrics=active['metrics'])


def entry(item_code, result, model_id, seconds):
    """One item of model_retrain's results (and of the train endpoint's answer)."""
    return dict(item_code=item_code, outcome=result['outcome'], model_type=result.get('model_type'),
                model_id=model_id, metrics=accuracy_metrics(result), previous_metrics=result.get('previous_metrics'),
                reason=result.get('reason'), seconds=round(seconds, 3))
