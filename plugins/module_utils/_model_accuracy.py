# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Model accuracy for the performance review: the MAPE of the active models now (distribution, worst items,
those over the guide's 20%), and month by month, from the model registry (table ai_models) and the monthly
exports models-YYYY-MM.json that model_review writes.

A month's models are those active at its end: for each item the newest row trained before then that was
promoted (accuracy_metrics.outcome "promoted", or status still active); rows keep their outcome when a later
model replaces them or model_archive archives them, so the registry alone tells every month. A month the
registry says nothing of (rows removed) is read from its export, when there is one.

Items with intermittent demand are left out of every MAPE figure: their MAPE rests on a few non-zero days and
model_review judges them by MASE instead (_model_review.intermittent)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sqlite3

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _model_review
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._performance_review import (
    add_months, describe, iso, last_day_of_month, median, month_start, nearest_rank, rounded)

# Upper bounds (percent) of the distribution's buckets; the last one is open.
BUCKETS = (10, 20, 30, 40, 50)


def bucket_label(mape):
    lower = 0
    for upper in BUCKETS:
        if mape < upper:
            return '%d-%d%%' % (lower, upper)
        lower = upper
    return '%d%%+' % BUCKETS[-1]


def bucket_labels():
    labels, lower = [], 0
    for upper in BUCKETS:
        labels.append('%d-%d%%' % (lower, upper))
        lower = upper
    return labels + ['%d%%+' % BUCKETS[-1]]


def scored(models, adi):
    """{item: MAPE} of the models with a MAPE whose demand is not intermittent, and how many were intermittent."""
    found, intermittent = {}, 0
    for item, metrics in models.items():
        if _model_review.intermittent(metrics, adi):
            intermittent += 1
            continue
        mape = _model_review.number(metrics.get('mape'))
        if mape is not None:
            found[item] = mape
    return found, intermittent


def active_now(rows):
    return dict((row['entity_id'], row['metrics']) for row in rows if row['status'] == 'active')


def active_at(rows, end):
    """{item: metrics} of the models active at `end` (exclusive), rebuilt from the promoted rows."""
    stamp = iso(end)
    best = {}
    for row in rows:
        promoted = row['status'] == 'active' or row['metrics'].get('outcome') == 'promoted'
        trained = row['trained_at'] or ''
        if not promoted or _model_review.parse_time(trained) is None or trained >= stamp:
            continue
        current = best.get(row['entity_id'])
        if current is None or (trained, row['id']) > (current['trained_at'], current['id']):
            best[row['entity_id']] = row
    return dict((item, row['metrics']) for item, row in best.items())


def from_export(path):
    """{item: metrics} of the active models of an export, or None when it cannot be read."""
    try:
        with open(path) as handle:
            document = json.load(handle)
        return dict((m['entity_id'], m.get('accuracy_metrics') or {}) for m in document['models']
                    if m.get('status') == 'active')
    except (IOError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def accuracy(review, win, database_path, export_dir, params):
    try:
        conn = _model_review.connect(database_path)
        try:
            rows = _model_review.load_rows(conn)
        finally:
            conn.close()
    except (_model_review.RegistryError, sqlite3.Error) as exc:
        review.missing('models', 'no model registry to read: %s' % exc)
        return
    adi, flag = params['intermittent_adi'], params['flag_mape']
    now, intermittent = scored(active_now(rows), adi)
    review.figures.update(models_active=sum(1 for row in rows if row['status'] == 'active'),
                          models_intermittent=intermittent)
    months = history(review, rows, win, export_dir, params)
    if not now and not months:
        review.missing('models', 'no active model with a MAPE in the registry of %s (no AI data yet: the weekly '
                                 'retrain creates the models)' % database_path)
        return
    review.read.add('models')
    values = list(now.values())
    over = sorted(((item, mape) for item, mape in now.items() if mape > flag), key=lambda pair: (-pair[1], pair[0]))
    review.figures.update(models_scored=len(values), models_over_threshold=len(over),
                          model_median_mape=rounded(median(values)), model_p90_mape=rounded(nearest_rank(values, 0.9)))
    counts = dict((label, 0) for label in bucket_labels())
    for mape in values:
        counts[bucket_label(mape)] += 1
    review.add_series('model_mape_distribution', 'category', 'count', 'Active models by MAPE',
                      [[label, counts[label]] for label in bucket_labels()])
    worst = sorted(now.items(), key=lambda pair: (-pair[1], pair[0]))[:params['worst_items']]
    review.add_series('model_worst_items', 'category', 'percent', 'Items with the highest MAPE',
                      [[item, rounded(mape)] for item, mape in worst], target=flag)
    if over:
        review.finding('model_mape_over_threshold', 'medium', '%d of %d active models have a MAPE above %s%%: %s; '
                       'retrain them (playbooks/runbooks/high_mape.yml)' % (
                           len(over), len(values), describe(flag),
                           ', '.join('%s %s%%' % (item, describe(rounded(mape, 1))) for item, mape in over[:5])
                           + (', ...' if len(over) > 5 else '')),
                       'model registry', len(over), flag)


def history(review, rows, win, export_dir, params):
    """The model_mape_trend series: median and p90 MAPE of the models active at the end of each of the last
    accuracy_months months up to the window's last; returns how many months had models."""
    last = month_start(win['end'].year, win['end'].month)
    if last == win['end']:
        last = add_months(last, -1)
    medians, p90s = [], []
    for back in range(params['accuracy_months'] - 1, -1, -1):
        start = add_months(last, -back)
        models = active_at(rows, add_months(start, 1))
        if not models and export_dir:
            models = from_export(os.path.join(export_dir, 'models-%s.json' % start.strftime('%Y-%m'))) or {}
        values = list(scored(models, params['intermittent_adi'])[0].values())
        if values:
            moment = iso(last_day_of_month(start))
            medians.append([moment, rounded(median(values))])
            p90s.append([moment, rounded(nearest_rank(values, 0.9))])
    if medians:
        review.add_series('model_mape_trend', 'time', 'percent', 'MAPE of the active models at each month\'s end',
                          medians, target=params['flag_mape'], groups={'median': medians, 'p90': p90s})
    return len(medians)
