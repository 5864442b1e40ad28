# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_model_registry against real SQLite and real files, including a process killed in the middle of a promotion."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sqlite3
import subprocess
import sys

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _consumption, _forecast, _model_registry
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.ai_dbs import make_db, rows

KILLER = r'''
import os, signal, sqlite3, sys
from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _consumption, _forecast, _model_registry
db, models = sys.argv[1], sys.argv[2]
conn = sqlite3.connect(db, isolation_level=None)
start, end = _model_registry.window(conn, 365)
history = _consumption.history(conn, 'FAST-1', start, end)
result = _forecast.train_item(history, end_day=end, model_type='arima')
_model_registry.record(conn, models, 'FAST-1', result,
                       before_commit=lambda model_id: os.kill(os.getpid(), signal.SIGKILL))
'''


def promote(conn, models, item, model_type='arima'):
    start, end = _model_registry.window(conn, 365)
    history = _consumption.history(conn, item, start, end)
    active = _model_registry.challenger_input(_model_registry.active_models(conn, models, {item}).get(item))
    result = _forecast.train_item(history, end_day=end, model_type=model_type, active=active)
    return result, _model_registry.record(conn, models, item, result)


def test_a_promotion_writes_file_row_and_forecasts_together(tmp_path):
    db = make_db(tmp_path / 'db.sqlite')
    models = str(tmp_path / 'models')
    conn = sqlite3.connect(db, isolation_level=None)
    result, model_id = promote(conn, models, 'FAST-1')
    assert result['outcome'] == 'promoted'
    with open(os.path.join(models, 'FAST-1', '%d.json' % model_id)) as handle:
        document = json.load(handle)
    assert document['format'] == 'inventory-enterprise-model' and document['id'] == model_id
    assert rows(db, "SELECT status FROM ai_models WHERE id = ?", (model_id,)) == [('active',)]
    forecasts = rows(db, 'SELECT forecast_date, model_id FROM ai_forecasts WHERE entity_id = ?', ('FAST-1',))
    assert len(forecasts) == 30 and forecasts[0] == ('2026-01-01', model_id)
    metrics = json.loads(rows(db, 'SELECT accuracy_metrics FROM ai_models WHERE id = ?', (model_id,))[0][0])
    assert set(metrics) == {'mape', 'wape', 'mase', 'bias', 'holdout_days', 'observations', 'naive',
                            'nonzero_days', 'outcome', 'reason'}
    assert metrics['outcome'] == 'promoted' and metrics['holdout_days'] == 28


def test_a_process_killed_before_the_commit_leaves_no_row_without_its_file(tmp_path):
    db = make_db(tmp_path / 'db.sqlite')
    models = str(tmp_path / 'models')
    conn = sqlite3.connect(db, isolation_level=None)
    _result, first = promote(conn, models, 'FAST-1')
    conn.close()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, '-c', KILLER, db, models], env=env, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == -9, proc.stderr
    # The killed promotion's row never became visible; the previous active model and its forecasts are intact.
    assert rows(db, "SELECT id FROM ai_models WHERE status = 'active'") == [(first,)]
    assert rows(db, 'SELECT DISTINCT model_id FROM ai_forecasts') == [(first,)]
    for (model_id, entity) in rows(db, 'SELECT id, entity_id FROM ai_models'):
        assert os.path.exists(_model_registry.model_path(models, entity, model_id))
    leftovers = sorted(os.listdir(os.path.join(models, 'FAST-1')))
    assert leftovers == ['%d.json' % first, '%d.json' % (first + 1)]  # the orphan: renamed, never committed
    conn = sqlite3.connect(db, isolation_level=None)
    removed = _model_registry.clean(conn, models)
    assert [os.path.basename(path) for path in removed] == ['%d.json' % (first + 1)]
    assert os.listdir(os.path.join(models, 'FAST-1')) == ['%d.json' % first]
    _result, second = promote(conn, models, 'FAST-2')  # the next run works normally
    assert rows(db, "SELECT count(*) FROM ai_models WHERE status = 'active'") == [(2,)]


def test_a_failure_is_recorded_failed_and_never_active(tmp_path):
    db = make_db(tmp_path / 'db.sqlite')
    conn = sqlite3.connect(db, isolation_level=None)
    model_id = _model_registry.record(conn, str(tmp_path / 'models'), 'FAST-1',
                                      dict(outcome='failed', model_type='prophet', reason='timeout'))
    assert rows(db, 'SELECT status, model_type FROM ai_models WHERE id = ?', (model_id,)) == [('failed', 'prophet')]
    metrics = json.loads(rows(db, 'SELECT accuracy_metrics FROM ai_models')[0][0])
    assert metrics['outcome'] == 'failed' and metrics['reason'] == 'timeout' and metrics['mape'] is None
    assert not os.path.exists(str(tmp_path / 'models' / 'FAST-1'))


def test_cleaning_waits_for_a_promotion_in_flight_instead_of_deleting_its_file(tmp_path):
    import threading
    db = make_db(tmp_path / 'db.sqlite')
    models = str(tmp_path / 'models')
    os.makedirs(models)
    writer = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    start, end = _model_registry.window(writer, 365)
    result = _forecast.train_item(_consumption.history(writer, 'ZERO-1', start, end), end_day=end)
    in_flight, proceed, ids = threading.Event(), threading.Event(), []

    def hold(model_id):
        ids.append(model_id)
        in_flight.set()
        proceed.wait(30)
    promotion = threading.Thread(target=_model_registry.record, args=(writer, models, 'ZERO-1', result),
                                 kwargs=dict(before_commit=hold))
    promotion.start()
    assert in_flight.wait(30)
    cleaner = threading.Thread(target=_model_registry.clean, args=(sqlite3.connect(
        db, isolation_level=None, timeout=30, check_same_thread=False), models))
    cleaner.start()
    cleaner.join(1.0)  # bounded: the cleaner must still be waiting for the write lock
    assert cleaner.is_alive()
    proceed.set()
    promotion.join(30)
    cleaner.join(30)
    assert os.path.exists(_model_registry.model_path(models, 'ZERO-1', ids[0]))
