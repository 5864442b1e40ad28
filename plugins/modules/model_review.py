#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: model_review
short_description: Review the accuracy of the active forecasting models, export them monthly and to Prometheus
version_added: 0.2.0
description:
  - The guide's morning accuracy review (MAPE target under O(target_mape), flag over O(flag_mape)) of the active
    model of every item in the service's model registry (table C(ai_models)), read from the service's database.
  - Items with intermittent demand (many days without consumption) are judged by MASE instead of MAPE, because
    MAPE is computed over the holdout's non-zero days only and says little there. Demand is intermittent when
    the average demand interval of the holdout, C(holdout_days / nonzero_days) (from the model's
    C(accuracy_metrics)), exceeds O(intermittent_adi); such a model is flagged when its MASE exceeds O(mase_flag).
  - With O(export_dir), writes the guide's monthly export C(models-YYYY-MM.json) (the C(GET /api/ai/models/list)
    document, every registry row) atomically, and compares the active models with the previous month's export
    when there is one (RV(trend)).
  - With O(metrics_file), writes a node_exporter textfile (written with prometheus_client) with the MAPE, WAPE and
    MASE of every active model and the time and outcome of every item's last retrain, for the C(HighModelMAPE) alert.
  - Reads the database only. A file is rewritten only when its content changes, so a second run reports no change.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.service_paths
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  target_mape:
    description: MAPE (percent) an active model should stay under; models between it and O(flag_mape) are reported as V(above_target).
    type: float
    default: 15
  flag_mape:
    description: MAPE (percent) above which the model is flagged for retraining (the guide's C(mape > 20)).
    type: float
    default: 20
  mase_flag:
    description: MASE above which a model of an intermittent item (or one without a MAPE) is flagged; above 1 it does worse than seasonal naive.
    type: float
    default: 1.0
  intermittent_adi:
    description:
      - Average demand interval (holdout days per holdout day with demand) above which an item's demand is
        intermittent and its model judged by MASE. The default is Syntetos and Boylan's cut-off.
    type: float
    default: 1.32
  export_dir:
    description: Directory for the monthly export C(models-YYYY-MM.json); it must exist. No export without it.
    type: path
  export_month:
    description: Month (C(YYYY-MM)) of the export and of the trend; default the current month (UTC).
    type: str
  metrics_file:
    description:
      - node_exporter textfile (C(*.prom)) to write the model metrics to; its directory must exist.
      - Metrics C(ie_model_mape), C(ie_model_wape) and C(ie_model_mase) (labels C(item_code), C(model_type)),
        C(ie_model_last_retrain_timestamp_seconds) (label C(item_code)) and C(ie_model_last_retrain_outcome)
        (labels C(item_code), C(outcome); value 1).
    type: path
requirements:
  - prometheus-client (only with O(metrics_file)).
notes:
  - A model whose metrics are null (no holdout) is V(unscored), never flagged, and has no sample in the textfile.
seealso:
  - name: docs/ai-models.md
    description: The metrics, the selection rule and the High MAPE runbook.
    link: https://github.com/inventory-enterprise/ops/blob/main/docs/ai-models.md
'''

EXAMPLES = r'''
- name: Morning accuracy review
  inventory_enterprise.ops.model_review:
    service_home: /opt/inventory-enterprise
    metrics_file: /var/lib/node_exporter/textfile/inventory_models.prom
  register: review

- name: Monthly export and trend
  inventory_enterprise.ops.model_review:
    export_dir: /opt/inventory-enterprise/reports/models
  register: monthly
'''

RETURN = r'''
models:
  description: The active model of every item, with its verdict.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: C(ai_models.id) of the model.
      type: int
    item_code:
      description: The item (C(entity_id)).
      type: str
    model_type:
      description: V(prophet), V(arima) or V(seasonal_naive).
      type: str
    trained_at:
      description: When the model was trained (UTC, C(YYYY-MM-DDTHH:MM:SSZ)).
      type: str
    mape:
      description: MAPE in percent over the non-zero days of the holdout; null when unknown.
      type: float
    wape:
      description: WAPE in percent; null when unknown.
      type: float
    mase:
      description: MASE against seasonal naive; null when unknown.
      type: float
    bias:
      description: Bias in percent; null when unknown.
      type: float
    outcome:
      description: Outcome of the retrain that produced the model (C(accuracy_metrics.outcome)); null when unknown.
      type: str
    intermittent:
      description: Whether the item's demand is intermittent (judged by MASE); null when the metrics do not say.
      type: bool
    verdict:
      description: V(ok), V(above_target), V(flagged) or V(unscored).
      type: str
    reason:
      description: Why the verdict, in words.
      type: str
    previous_mape:
      description: The item's active model MAPE in the previous month's export; null without one.
      type: float
  sample: [{"id": 7, "item_code": "ITEM-001", "model_type": "prophet", "trained_at": "2026-11-29T03:00:00Z",
            "mape": 24.1, "wape": 18.2, "mase": 0.8, "bias": -3.1, "outcome": "promoted", "intermittent": false,
            "verdict": "flagged", "reason": "MAPE 24.1% is above 20%", "previous_mape": 12.5}]
flagged:
  description: Item codes whose active model is flagged (input for the retrain module's C(items)).
  returned: always
  type: list
  elements: str
  sample: ["ITEM-001"]
summary:
  description: Counts of the review.
  returned: always
  type: dict
  contains:
    models:
      description: Active models reviewed.
      type: int
    ok:
      description: Models under the target.
      type: int
    above_target:
      description: Models between the target and the flag threshold.
      type: int
    flagged:
      description: Flagged models.
      type: int
    unscored:
      description: Models without metrics to judge.
      type: int
    intermittent:
      description: Models of intermittent items.
      type: int
    median_mape:
      description: Median MAPE of the active models that have one; null when none has.
      type: float
    median_wape:
      description: Median WAPE of the active models that have one; null when none has.
      type: float
  sample: {"models": 50, "ok": 41, "above_target": 6, "flagged": 2, "unscored": 1, "intermittent": 9,
           "median_mape": 9.8, "median_wape": 8.7}
export:
  description: The monthly export; null without O(export_dir).
  returned: always
  type: dict
  contains:
    path:
      description: The export file.
      type: str
    changed:
      description: Whether the file was (or, in check mode, would be) written.
      type: bool
    models:
      description: Registry rows in the export.
      type: int
  sample: {"path": "/srv/reports/models-2026-12.json", "changed": true, "models": 61}
trend:
  description: Comparison with the previous month's export; null without O(export_dir) or without that export.
  returned: always
  type: dict
  contains:
    previous_export:
      description: The previous month's export file.
      type: str
    compared:
      description: Items with a MAPE in both months.
      type: int
    improved:
      description: Items whose MAPE went down.
      type: list
      elements: str
    worsened:
      description: Items whose MAPE went up.
      type: list
      elements: str
    median_mape:
      description: Median MAPE of this month's active models.
      type: float
    previous_median_mape:
      description: Median MAPE of the previous month's active models.
      type: float
  sample: {"previous_export": "/srv/reports/models-2026-11.json", "compared": 48, "improved": ["ITEM-002"],
           "worsened": ["ITEM-001"], "median_mape": 9.8, "previous_median_mape": 10.4}
metrics_file:
  description: The textfile written (or that would be written); null without O(metrics_file).
  returned: always
  type: str
  sample: /var/lib/node_exporter/textfile/inventory_models.prom
'''

import datetime
import json
import os
import re
import sqlite3
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _envfile, _model_review, _service_layout

try:
    from prometheus_client import CollectorRegistry, Gauge, generate_latest, write_to_textfile
    HAS_PROMETHEUS_CLIENT = True
    PROMETHEUS_CLIENT_IMP_ERR = None
except ImportError:
    HAS_PROMETHEUS_CLIENT = False
    PROMETHEUS_CLIENT_IMP_ERR = traceback.format_exc()

MONTH_RE = re.compile(r'^\d{4}-(0[1-9]|1[0-2])$')


def argument_spec():
    spec = _service_layout.service_paths_argument_spec()
    spec.update(
        target_mape=dict(type='float', default=15),
        flag_mape=dict(type='float', default=20),
        mase_flag=dict(type='float', default=1.0),
        intermittent_adi=dict(type='float', default=1.32),
        export_dir=dict(type='path'),
        export_month=dict(type='str'),
        metrics_file=dict(type='path'),
    )
    return spec


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


def judge(row, params):
    """(verdict, reason, intermittent) of one active model."""
    metrics = row['metrics']
    mape, mase = _model_review.number(metrics.get('mape')), _model_review.number(metrics.get('mase'))
    inter = _model_review.intermittent(metrics, params['intermittent_adi'])
    if inter or mape is None:
        why = 'intermittent demand' if inter else 'no MAPE (no non-zero day in the holdout)'
        if mase is None:
            return 'unscored', '%s and no MASE' % why, inter
        if mase > params['mase_flag']:
            return 'flagged', 'MASE %.2f is above %g (%s)' % (mase, params['mase_flag'], why), inter
        return 'ok', 'MASE %.2f is at most %g (%s)' % (mase, params['mase_flag'], why), inter
    if mape > params['flag_mape']:
        return 'flagged', 'MAPE %.1f%% is above %g%%' % (mape, params['flag_mape']), inter
    if mape >= params['target_mape']:
        return 'above_target', 'MAPE %.1f%% is not under the %g%% target' % (mape, params['target_mape']), inter
    return 'ok', 'MAPE %.1f%% is under the %g%% target' % (mape, params['target_mape']), inter


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2.0


def review(rows, params, previous):
    models = []
    for row in rows:
        if row['status'] != 'active':
            continue
        metrics = row['metrics']
        verdict, reason, inter = judge(row, params)
        entry = dict(id=row['id'], item_code=row['entity_id'], model_type=row['model_type'], trained_at=row['trained_at'],
                     outcome=metrics.get('outcome'), intermittent=inter, verdict=verdict, reason=reason,
                     previous_mape=previous.get(row['entity_id']))
        entry.update((key, _model_review.number(metrics.get(key))) for key in _model_review.METRIC_KEYS)
        models.append(entry)
    summary = dict(models=len(models), intermittent=sum(1 for m in models if m['intermittent']),
                   median_mape=median(m['mape'] for m in models), median_wape=median(m['wape'] for m in models))
    for verdict in ('ok', 'above_target', 'flagged', 'unscored'):
        summary[verdict] = sum(1 for m in models if m['verdict'] == verdict)
    return models, summary


def read_previous(module, path):
    """{item: MAPE of its active model} of an earlier export; {} (with a warning) when it cannot be read."""
    try:
        with open(path) as handle:
            document = json.load(handle)
        return dict((m['entity_id'], _model_review.number((m.get('accuracy_metrics') or {}).get('mape')))
                    for m in document['models'] if m.get('status') == 'active')
    except (IOError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        module.warn('the previous export %s cannot be read (%s): no trend this month' % (path, exc))
        return {}


def trend(path, models, previous):
    both = [m for m in models if m['mape'] is not None and previous.get(m['item_code']) is not None]
    return dict(previous_export=path, compared=len(both),
                improved=[m['item_code'] for m in both if m['mape'] < previous[m['item_code']]],
                worsened=[m['item_code'] for m in both if m['mape'] > previous[m['item_code']]],
                median_mape=median(m['mape'] for m in models), previous_median_mape=median(previous.values()))


def metrics_text(rows, models):
    """Exposition text of the model metrics, and the registry that renders it."""
    registry = CollectorRegistry()
    labels = ['item_code', 'model_type']
    gauges = dict(mape=Gauge('ie_model_mape', 'MAPE (percent, non-zero days of the holdout) of the active model',
                             labels, registry=registry),
                  wape=Gauge('ie_model_wape', 'WAPE (percent) of the active model', labels, registry=registry),
                  mase=Gauge('ie_model_mase', 'MASE against seasonal naive of the active model', labels, registry=registry))
    for model in models:
        for key, gauge in gauges.items():
            if model[key] is not None:
                gauge.labels(model['item_code'], model['model_type']).set(model[key])
    retrained = Gauge('ie_model_last_retrain_timestamp_seconds', 'Time of the last retrain of the item (Unix time)',
                      ['item_code'], registry=registry)
    outcome = Gauge('ie_model_last_retrain_outcome', 'Outcome of the last retrain of the item (value 1)',
                    ['item_code', 'outcome'], registry=registry)
    latest = {}
    for row in rows:
        when = _model_review.parse_time(row['trained_at'])
        if when is not None and (row['entity_id'] not in latest or when >= latest[row['entity_id']][0]):
            latest[row['entity_id']] = (when, row)
    epoch = datetime.datetime(1970, 1, 1)
    for item, (when, row) in sorted(latest.items()):
        retrained.labels(item).set((when - epoch).total_seconds())
        result = row['metrics'].get('outcome') or ('failed' if row['status'] == 'failed' else 'unknown')
        outcome.labels(item, str(result)).set(1)
    return generate_latest(registry).decode('utf-8'), registry


def run_module(module):
    params = module.params
    result = dict(changed=False, models=[], flagged=[], summary={}, export=None, trend=None, metrics_file=None)
    if params['metrics_file'] and not HAS_PROMETHEUS_CLIENT:
        module.fail_json(msg=missing_required_lib('prometheus-client', reason='to write metrics_file'),
                         exception=PROMETHEUS_CLIENT_IMP_ERR, **result)
    month = params['export_month'] or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None).strftime('%Y-%m')
    if not MONTH_RE.match(month):
        module.fail_json(msg='export_month must be YYYY-MM, not %r' % month, **result)
    for option in ('export_dir', 'metrics_file'):
        where = params[option] if option == 'export_dir' else os.path.dirname(params[option] or '') or '.'
        if params[option] and not os.path.isdir(where):
            module.fail_json(msg='%s: the directory %s does not exist; create it first (the role does)' % (option, where),
                             **result)
    try:
        paths = _service_layout.service_paths_from_params(params)
        conn = _model_review.connect(paths['database_path'])
        try:
            rows = _model_review.load_rows(conn)
        finally:
            conn.close()
    except (_envfile.EnvFileError, _model_review.RegistryError, sqlite3.Error) as exc:
        module.fail_json(msg='cannot read the model registry: %s' % exc, **result)

    previous, previous_path = {}, None
    if params['export_dir']:
        candidate = os.path.join(params['export_dir'], 'models-%s.json' % _model_review.previous_month(month))
        if os.path.isfile(candidate):
            previous_path, previous = candidate, read_previous(module, candidate)
    models, summary = review(rows, params, previous)
    result.update(models=models, summary=summary, flagged=[m['item_code'] for m in models if m['verdict'] == 'flagged'])
    if previous_path and previous:
        result['trend'] = trend(previous_path, models, previous)

    try:
        if params['export_dir']:
            path = os.path.join(params['export_dir'], 'models-%s.json' % month)
            text = _model_review.dumps(_model_review.models_document(rows))
            changed = not same_content(path, text) if module.check_mode else _model_review.write_if_changed(path, text)
            result['export'] = dict(path=path, changed=changed, models=len(rows))
            result['changed'] |= changed
        if params['metrics_file']:
            path = result['metrics_file'] = params['metrics_file']
            text, registry = metrics_text(rows, models)
            if not same_content(path, text):
                result['changed'] = True
                if not module.check_mode:
                    write_to_textfile(path, registry)
    except (IOError, OSError) as exc:
        module.fail_json(msg='writing %s failed: %s; check that the directory is writable by this user (become) and '
                             'has free space' % (getattr(exc, 'filename', None) or 'the report', exc), **result)
    module.exit_json(**result)


def same_content(path, text):
    try:
        with open(path, 'rb') as handle:
            return handle.read() == text.encode('utf-8')
    except (IOError, OSError):
        return False


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
