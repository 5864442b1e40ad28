# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""model_retrain against a real SQLite database with consumption history, real Prophet/ARIMA fits."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _forecast
from ansible_collections.inventory_enterprise.ops.plugins.modules import model_retrain
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.ai_dbs import make_db, rows
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module


def run(tmp_path, capsys, check_mode=False, **args):
    # No holiday calendar: its regressors double each Prophet fit, and test_forecast tests them.
    args = dict(dict(service_home=str(tmp_path), database_path=str(tmp_path / 'db.sqlite'),
                     models_dir=str(tmp_path / 'models'), workers=2, holidays=''), **args)
    return run_module(model_retrain, args, capsys, check_mode=check_mode)


def sha(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_retrain_trains_the_top_items_and_records_them(tmp_path, capsys):
    db = make_db(tmp_path / 'db.sqlite')
    failed, result = run(tmp_path, capsys)
    assert not failed and result['changed'] is True, result
    # The top items by volume (_consumption.top_items): an item that consumed nothing has no volume to rank.
    assert result['items'] == ['FAST-1', 'FAST-2', 'SLOW-1']
    assert (result['promoted'], result['kept'], result['failures']) == (3, 0, 0)
    by_item = {entry['item_code']: entry for entry in result['results']}
    assert by_item['FAST-1']['model_type'] in ('prophet', 'arima')
    for entry in result['results']:
        stored = rows(db, 'SELECT status, accuracy_metrics FROM ai_models WHERE id = ?', (entry['model_id'],))
        assert stored[0][0] == 'active' and json.loads(stored[0][1]) == entry['metrics']
        assert os.path.exists(tmp_path / 'models' / entry['item_code'] / ('%d.json' % entry['model_id']))
        assert entry['metrics']['wape'] is None or entry['metrics']['wape'] <= entry['metrics']['naive']['wape']
    assert rows(db, 'SELECT count(*) FROM ai_forecasts') == [(90,)]

    # The weekly retrain: every item keeps exactly one active model, old ones become inactive or stay active; an
    # all-zero item named explicitly gets the naive model and says why.
    failed, again = run(tmp_path, capsys, items=['FAST-1', 'ZERO-1'])
    assert not failed and again['changed'] is True and again['promoted'] + again['kept'] == 2
    by_item = {entry['item_code']: entry for entry in again['results']}
    assert by_item['ZERO-1']['model_type'] == 'seasonal_naive' and by_item['ZERO-1']['reason'] == 'all-zero history'
    assert by_item['FAST-1']['previous_metrics'] is not None and 'holdout' in by_item['FAST-1']['previous_metrics']
    assert rows(db, "SELECT entity_id, count(*) FROM ai_models WHERE status = 'active' GROUP BY entity_id") == [
        ('FAST-1', 1), ('FAST-2', 1), ('SLOW-1', 1), ('ZERO-1', 1)]


def test_check_mode_trains_and_writes_nothing(tmp_path, capsys):
    db = make_db(tmp_path / 'db.sqlite')
    before = sha(db)
    failed, result = run(tmp_path, capsys, check_mode=True, top=2)
    assert not failed and result['changed'] is True and result['items'] == ['FAST-1', 'FAST-2']
    assert result['results'] == [] and result['promoted'] == 0
    assert sha(db) == before and not os.path.exists(tmp_path / 'models')


def test_a_stuck_item_is_killed_and_recorded_failed_with_reason_timeout(tmp_path, capsys):
    db = make_db(tmp_path / 'db.sqlite', items={'FAST-1': 'fast'})
    failed, result = run(tmp_path, capsys, item_timeout=0.05)
    assert failed and result['failures'] == 1 and result['changed'] is True, result
    assert result['msg'].startswith('1 of 1 items failed to train: FAST-1 (timeout)')
    assert result['results'][0]['outcome'] == 'failed' and result['results'][0]['reason'] == 'timeout'
    assert rows(db, 'SELECT status FROM ai_models') == [('failed',)]
    assert rows(db, 'SELECT count(*) FROM ai_forecasts') == [(0,)]


def test_flagged_mape_retrains_only_the_flagged_models(tmp_path, capsys):
    db = make_db(tmp_path / 'db.sqlite')
    run(tmp_path, capsys, items=['FAST-1', 'SLOW-1'])
    mapes = dict(rows(db, "SELECT entity_id, json_extract(accuracy_metrics, '$.mape') FROM ai_models"))
    failed, result = run(tmp_path, capsys, check_mode=True, flagged_mape=20.0)
    assert not failed and result['items'] == sorted(item for item, mape in mapes.items() if mape and mape > 20)
    assert 'FAST-1' not in result['items']


def test_a_host_without_prophet_gets_an_error_naming_it(tmp_path, capsys, monkeypatch):
    make_db(tmp_path / 'db.sqlite')
    monkeypatch.setattr(_forecast, 'HAS_PROPHET', False)
    monkeypatch.setattr(_forecast, 'PROPHET_IMP_ERR', 'ModuleNotFoundError: No module named prophet')
    failed, result = run(tmp_path, capsys)
    assert failed and 'prophet' in result['msg'] and 'ai_models role' in result['msg']
    assert result['changed'] is False and rows(tmp_path / 'db.sqlite', 'SELECT count(*) FROM ai_models') == [(0,)]


def test_a_stuck_prophet_fit_is_killed_and_arima_tried(tmp_path, capsys, monkeypatch):
    db = make_db(tmp_path / 'db.sqlite', items={'FAST-1': 'fast'})

    def stuck(*_args, **_kwargs):  # a Stan process that never returns; the workers fork with it
        import time
        time.sleep(600)
    monkeypatch.setattr(_forecast, 'prophet_fit', stuck)
    # ARIMA gets a deadline of its own in a fresh worker (imports included): 6 s was too short on a loaded machine.
    failed, result = run(tmp_path, capsys, item_timeout=12)
    assert not failed and result['promoted'] == 1, result
    entry = result['results'][0]
    assert entry['model_type'] in ('arima', 'seasonal_naive') and entry['reason'].startswith('prophet timed out')
    assert rows(db, "SELECT model_type, status FROM ai_models") == [(entry['model_type'], 'active')]


def test_killing_a_stuck_item_also_kills_the_fit_process_it_waits_for(tmp_path, capsys, monkeypatch):
    make_db(tmp_path / 'db.sqlite', items={'FAST-1': 'fast'})
    pid_file = tmp_path / 'fit.pid'

    def stuck(*_args, **_kwargs):  # like cmdstanpy: a child process the worker waits for
        import subprocess
        child = subprocess.Popen(['sleep', '600'])
        pid_file.write_text(str(child.pid))
        child.wait()
    monkeypatch.setattr(_forecast, 'prophet_fit', stuck)
    failed, result = run(tmp_path, capsys, item_timeout=1, model_type='prophet')
    assert failed and result['results'][0]['reason'] == 'timeout'
    pid = int(pid_file.read_text())
    with open('/proc/%d/stat' % pid) if os.path.exists('/proc/%d' % pid) else open(os.devnull) as handle:
        state = handle.read().split(') ')[-1][:1]
    assert state in ('', 'Z'), 'the fit process %d still runs' % pid


def test_method_api_reports_an_unusable_answer_as_that_items_failure(tmp_path, capsys):
    import http.server
    import threading

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # pylint: disable=invalid-name
            self.rfile.read(int(self.headers['Content-Length']))
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        make_db(tmp_path / 'db.sqlite', items={'FAST-1': 'fast'})
        failed, result = run(tmp_path, capsys, method='api', api_url='http://127.0.0.1:%d' % server.server_port)
    finally:
        server.shutdown()
    assert failed and result['failures'] == 1
    assert result['results'][0]['reason'].startswith('unexpected answer from /api/ai/forecast/train for FAST-1')
