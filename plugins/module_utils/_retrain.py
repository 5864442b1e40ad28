# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""model_retrain's work: choose the items, train them in worker processes with a per-item time limit, and
record each result in the registry from the parent (one writer, one transaction per item)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import multiprocessing
import multiprocessing.connection
import os
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _consumption, _forecast, _model_registry, _process

TRAIN_PATH = '/api/ai/forecast/train'
ENTRY_KEYS = ('item_code', 'outcome', 'model_type', 'model_id', 'metrics', 'previous_metrics', 'reason', 'seconds')


def _api_excerpt(answer):
    text = json.dumps(answer, sort_keys=True, default=str)
    return text if len(text) <= 200 else text[:200] + '...'


def select_items(conn, models_dir, params, start, end):
    """The items to retrain: the explicit list, the flagged active models, or the top N by volume."""
    if params['items']:
        return list(dict.fromkeys(params['items']))
    if params['flagged_mape'] is not None:
        flagged = []
        for item, model in sorted(_model_registry.active_models(conn, models_dir).items()):
            mape = model['metrics'].get('mape')
            if mape is not None and mape > params['flagged_mape']:
                flagged.append(item)
        return flagged
    if start is None:
        return []
    return _consumption.top_items(conn, params['top'], today=end)


def _options(params):
    return dict(aggregation=params['aggregation'], holdout_days=params['holdout_days'],
                forecast_periods=params['forecast_periods'], model_type=params['model_type'],
                holidays=params['holidays'] or None)


def _serve(channel, options):
    """Worker loop: train the items the parent sends until it sends None."""
    # Its own process group, so that killing an overdue worker also kills the Stan process it is waiting for.
    os.setpgrp()
    while True:
        task = channel.recv()
        if task is None:
            return
        item, rows, end, active = task[:4]
        override = task[4] if len(task) > 4 else None
        started = time.monotonic()
        try:
            result = _forecast.train_item(rows, end_day=end, active=active,
                                          **dict(options, model_type=override or options['model_type']))
            if override:
                result['reason'] = '; '.join(part for part in ('prophet timed out, ARIMA tried', result['reason'])
                                             if part)
        except Exception as exc:  # one item's crash is that item's failure, never the run's
            result = failure(options['model_type'], '%s: %s' % (type(exc).__name__, exc))
        channel.send((item, result, time.monotonic() - started))


def failure(model_type, reason):
    return dict(outcome='failed', model_type='prophet' if model_type == 'auto' else model_type, reason=reason,
                metrics=None, previous_metrics=None)


class Pool(object):
    """Worker processes (forked, so the forecasting libraries are imported once) with a per-item deadline: a
    worker past it is killed and replaced, and its item reported as failed with reason 'timeout'."""

    def __init__(self, size, options):
        self.size = max(1, size)
        self.options = options
        self.context = multiprocessing.get_context('fork')
        self.workers = []

    def _spawn(self):
        parent, child = self.context.Pipe()
        process = self.context.Process(target=_serve, args=(child, self.options), daemon=True)
        process.start()
        child.close()
        return {'process': process, 'channel': parent, 'task': None, 'deadline': None}

    def run(self, tasks, timeout, on_result):
        """tasks: [(item, rows, end, active)]; on_result(item, result, seconds) in the parent as each ends."""
        pending = list(reversed(tasks))
        self.workers = [self._spawn() for _index in range(min(self.size, len(tasks)))]
        try:
            while pending or any(w['task'] for w in self.workers):
                for worker in self.workers:
                    self._dispatch(worker, pending, timeout)
                busy = [w for w in self.workers if w['task']]
                wait = max(0.0, min(w['deadline'] for w in busy) - time.monotonic())
                ready = multiprocessing.connection.wait([w['channel'] for w in busy], timeout=wait)
                for index, worker in enumerate(self.workers):
                    if worker['task']:
                        self.workers[index] = self._collect(worker, worker['channel'] in ready, pending, timeout,
                                                            on_result)
        finally:
            self.close()

    def _dispatch(self, worker, pending, timeout):
        if worker['task'] is None and pending:
            worker['task'] = pending.pop()
            worker['started'] = time.monotonic()
            worker['deadline'] = worker['started'] + timeout
            worker['channel'].send(worker['task'])

    def _collect(self, worker, ready, pending, timeout, on_result):
        """A finished, dead or overdue worker's item; the worker (or its replacement) gets its next item before
        the parent records this one, so recording (fsync) overlaps training."""
        item, started = worker['task'][0], worker['started']
        if ready:
            try:
                _item, result, seconds = worker['channel'].recv()
            except (EOFError, OSError):
                result, seconds = failure(self.options['model_type'], 'the worker process died'), \
                    time.monotonic() - started
                worker = self._replace(worker)
            worker['task'] = None
        elif time.monotonic() >= worker['deadline']:
            task = worker['task']
            worker = self._replace(worker)
            if self.options['model_type'] == 'auto' and len(task) == 4:
                # Prophet stuck: the item gets one more deadline with ARIMA (and seasonal naive) only.
                pending.append(task + ('arima',))
                self._dispatch(worker, pending, timeout)
                return worker
            result, seconds = failure(self.options['model_type'], 'timeout'), time.monotonic() - started
        else:
            return worker
        self._dispatch(worker, pending, timeout)
        on_result(item, result, seconds)
        return worker

    def _replace(self, worker):
        _process.kill_group(worker['process'].pid)
        worker['process'].join()
        worker['channel'].close()
        return self._spawn()

    def close(self):
        for worker in self.workers:
            try:
                worker['channel'].send(None)
            except (OSError, ValueError):
                pass
        for worker in self.workers:
            worker['process'].join(5)
            if worker['process'].is_alive():
                _process.kill_group(worker['process'].pid)
                worker['process'].join()
        self.workers = []


def _mostly_zero(rows):
    # An intermittent history (over a third of its days without consumption) nearly always gets Prophet a MAPE
    # above 20%, so ARIMA: the parent then imports statsforecast once before forking rather than each worker.
    zero = sum(1 for _day, quantity in rows if not quantity)
    return bool(rows) and zero * 3 > len(rows)


def run_local(conn, models_dir, items, params, start, end):
    """Train items on this host; returns the results list (in the order the items were given)."""
    _model_registry.clean(conn, models_dir)
    history = dict((item, _consumption.history(conn, item, start, end)) for item in items)
    actives = _model_registry.active_models(conn, models_dir, set(items))
    tasks = [(item, history[item], end, _model_registry.challenger_input(actives.get(item))) for item in items]
    results = {}

    def record(item, result, seconds):
        model_id = _model_registry.record(conn, models_dir, item, result)
        results[item] = _model_registry.entry(item, result, model_id, seconds)

    if params['model_type'] == 'arima' or (params['model_type'] == 'auto' and any(
            _mostly_zero(rows) for rows in history.values())):
        _forecast.preload_arima()
    workers = params['workers'] or os.cpu_count() or 1
    Pool(workers, _options(params)).run(tasks, params['item_timeout'], record)
    return [results[item] for item in items]


def run_api(client, items, params):
    """POST /api/ai/forecast/train per item, `workers` requests at a time (the service answers one entry per
    item, the same as run_local's)."""
    options = {'trainingDays': params['training_days'], 'forecastPeriods': params['forecast_periods'],
               'holdoutDays': params['holdout_days'], 'aggregation': params['aggregation'],
               'holidays': params['holidays'] or ''}

    def train(item):
        started = time.monotonic()
        body = {'item_code': item, 'model_type': params['model_type'], 'options': options}
        try:
            answer = client.post(TRAIN_PATH, data=body, expect_json=True).json
        except Exception as exc:  # ApiError: said per item, the others still train
            answer = None
            reason = str(exc)
        else:
            reason = 'unexpected answer from %s for %s: %s' % (TRAIN_PATH, item, _api_excerpt(answer))
        if isinstance(answer, dict) and answer.get('item_code') == item and answer.get('outcome') in (
                'promoted', 'kept', 'failed') and set(answer) == set(ENTRY_KEYS):
            return answer
        return _model_registry.entry(item, failure(params['model_type'], reason), None, time.monotonic() - started)

    with ThreadPoolExecutor(max_workers=max(1, params['workers'] or os.cpu_count() or 1)) as pool:
        return list(pool.map(train, items))


# Result keys per outcome: `failed` is Ansible's own result key, so failed trainings are counted as `failures`.
SUMMARY_KEYS = {'promoted': 'promoted', 'kept': 'kept', 'failed': 'failures'}


def summary(results):
    counts = dict.fromkeys(SUMMARY_KEYS.values(), 0)
    for result in results:
        counts[SUMMARY_KEYS[result['outcome']]] += 1
    return counts


def dumps(value):
    return json.dumps(value, sort_keys=True)
