#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: model_retrain
short_description: Retrain the demand forecasting models, scored on a holdout, champion/challenger
version_added: 0.2.0
description:
  - The guide's weekly retrain (C(POST /api/ai/forecast/train) for the top 50 items, one after another with
    C(sleep 5)) done on the host that holds the database, with Prophet and pandas, in parallel worker processes
    with a per-item time limit.
  - Every item is scored on a holdout (its last O(holdout_days)) against the seasonal-naive forecast (season 7
    days). Seasonal naive is always a candidate; when Prophet fails, times out, returns non-finite values or scores
    a MAPE above 20%, ARIMA (statsforecast's AutoARIMA) is tried as well, and the candidate with the lowest holdout
    error wins. The winner is refit on all the data and replaces the item's active model only if it scores no
    worse than the active model on the same holdout.
  - The model file (Prophet's JSON serialisation or plain ARIMA parameters, never pickle), its C(ai_models) row
    and the item's C(ai_forecasts) rows change together in one transaction, or not at all. A losing challenger
    is recorded with status C(inactive) and outcome C(rejected), a failure with status C(failed).
  - An all-zero or near-empty history gets the seasonal-naive model with a reason, never NaN.
  - An item whose training fails or takes longer than O(item_timeout) is recorded as failed; the other items
    still train, and the task then fails naming the failed items.
  - O(method=api) posts one training request per item to the service instead (for deployments whose service
    trains itself), O(workers) at a time, and returns the same results. The items are still chosen from the
    database, so the module runs on the host that holds it either way.
  - In check mode nothing is trained or written; the module reports the items it would retrain.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.api
  - inventory_enterprise.ops.service_paths
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
requirements:
  - numpy, pandas, prophet and statsforecast on the managed host (O(method=local) only).
options:
  items:
    description:
      - Item codes to retrain. When set, O(top) and O(flagged_mape) are ignored.
    type: list
    elements: str
  top:
    description:
      - Without O(items) or O(flagged_mape), the top this many items by consumption volume over the training window.
    type: int
    default: 50
  flagged_mape:
    description:
      - Retrain only the items whose active model's MAPE (percent) is above this (the review's flag).
      - Ignored when O(items) is set.
    type: float
  training_days:
    description:
      - History window, the guide's C(options.trainingDays), ending at the last day of the consumption history.
    type: int
    choices: [365, 730]
    default: 365
  forecast_periods:
    description:
      - Days forecast after the last history day (the guide's C(options.forecastPeriods)).
    type: int
    default: 30
  holdout_days:
    description:
      - The last this many days score the candidates; the winner is then refit on everything.
    type: int
    default: 28
  aggregation:
    description:
      - V(weekly) sums 7-day buckets before fitting (for slow movers); forecasts and holdout are then in weeks.
    type: str
    choices: [daily, weekly]
    default: daily
  holidays:
    description:
      - Country code (as the C(holidays) library, which Prophet uses, names it, for example V(US) or V(DE)) whose
        public holidays Prophet models as events, each with the day before it. A closed day and the rush before it
        are what weekly and yearly seasons cannot predict; without them a holdout holding Thanksgiving scores a
        MAPE several times its WAPE.
      - Empty for none. Daily aggregation only. Seasonal naive and ARIMA ignore it.
    type: str
    default: US
  model_type:
    description:
      - V(auto) tries Prophet, then ARIMA when Prophet falls short; V(prophet) or V(arima) fit only that model
        (seasonal naive is always a candidate).
    type: str
    choices: [auto, prophet, arima]
    default: auto
  workers:
    description:
      - Items trained at the same time (processes for V(local), concurrent requests for V(api)). Default the
        number of CPUs.
    type: int
  item_timeout:
    description:
      - Seconds one item may train (O(method=local)). A worker past it is killed; the item then gets one more
        period with ARIMA and seasonal naive only (a stuck Prophet fit), and if that also runs out it is recorded
        failed with reason C(timeout).
    type: float
    default: 60
  method:
    description:
      - V(local) trains on this host from the service's database; V(api) calls C(POST /api/ai/forecast/train).
    type: str
    choices: [local, api]
    default: local
notes:
  - MAPE is computed over the holdout days with a non-zero actual only; see docs/ai-models.md for the metrics.
'''

EXAMPLES = r'''
- name: Weekly retrain of the top 50 items (Sunday 3 AM)
  inventory_enterprise.ops.model_retrain:
    service_home: /opt/inventory-enterprise
    training_days: 730

- name: Retrain the models the review flagged, ARIMA only
  inventory_enterprise.ops.model_retrain:
    flagged_mape: 20
    model_type: arima
'''

RETURN = r'''
items:
  description: The items selected for retraining (in check mode, the ones that would be retrained).
  returned: always
  type: list
  elements: str
  sample: [ITEM-00001, ITEM-00002]
results:
  description: One entry per item trained (empty in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    item_code:
      description: The item.
      type: str
    outcome:
      description: V(promoted) (the new model is active), V(kept) (the active model scored better on the same
        holdout) or V(failed).
      type: str
    model_type:
      description: The winning candidate (V(prophet), V(arima) or V(seasonal_naive)); for a failure the model tried.
      type: str
    model_id:
      description: The C(ai_models) id recorded for this training (the new active model when promoted).
      type: int
    metrics:
      description: The recorded accuracy_metrics (mape, wape, mase, bias, holdout_days, observations, naive,
        nonzero_days, outcome, reason); values are null where undefined (no non-zero actuals).
      type: dict
    previous_metrics:
      description: The active model's stored metrics before this run, with C(holdout) its metrics on this run's
        holdout; null when the item had no active model.
      type: dict
    reason:
      description: Why naive was chosen, the challenger kept out, or the training failed; null otherwise.
      type: str
    seconds:
      description: Training time of the item.
      type: float
promoted:
  description: Items whose new model became active.
  returned: always
  type: int
kept:
  description: Items whose active model stayed.
  returned: always
  type: int
failures:
  description:
    - Items whose training failed (recorded with status failed). When above 0 the task fails, with a message
      naming the items and every other key returned. Named so because C(failed) is Ansible's own result key.
  returned: always
  type: int
duration:
  description: Wall time of the run in seconds.
  returned: always
  type: float
'''

import sqlite3
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import (
    _envfile, _forecast, _model_registry, _retrain, _service_layout)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import ApiClient, api_argument_spec


def argument_spec():
    spec = api_argument_spec()
    spec.update(_service_layout.service_paths_argument_spec())
    spec.update(
        items=dict(type='list', elements='str'),
        top=dict(type='int', default=50),
        flagged_mape=dict(type='float'),
        training_days=dict(type='int', choices=[365, 730], default=365),
        forecast_periods=dict(type='int', default=30),
        holdout_days=dict(type='int', default=28),
        aggregation=dict(type='str', choices=['daily', 'weekly'], default='daily'),
        holidays=dict(type='str', default='US'),
        model_type=dict(type='str', choices=['auto', 'prophet', 'arima'], default='auto'),
        workers=dict(type='int'),
        item_timeout=dict(type='float', default=60),
        method=dict(type='str', choices=['local', 'api'], default='local'),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    started = time.monotonic()
    result = dict(changed=False, items=[], results=[], promoted=0, kept=0, failures=0, duration=0.0)
    if params['method'] == 'local':
        for library, error in _forecast.missing_libraries():
            module.fail_json(msg=missing_required_lib(library) + ' (model_retrain trains on the host with method=local;'
                             ' the ai_models role installs the libraries into its virtualenv, or use method=api)',
                             exception=error, **result)
        if params['holidays'] and not _forecast.holidays_supported(params['holidays']):
            module.fail_json(msg='holidays=%s is not a country the holidays library knows; use its code (for example '
                             'US, GB, DE) or an empty string for none' % params['holidays'], **result)
    try:
        paths = _service_layout.service_paths_from_params(params)
    except _envfile.EnvFileError as exc:
        module.fail_json(msg=str(exc), **result)
    try:
        conn = sqlite3.connect('file:%s?mode=rw' % paths['database_path'], uri=True, isolation_level=None,
                               timeout=30)
        conn.execute('PRAGMA busy_timeout=30000')
        start, end = _model_registry.window(conn, params['training_days'])
        result['items'] = _retrain.select_items(conn, paths['models_dir'], params, start, end)
    except sqlite3.Error as exc:
        module.fail_json(msg='cannot read the consumption history and models in %s: %s; check database_path and '
                         'that the database holds the service\'s tables' % (paths['database_path'], exc), **result)
    if module.check_mode or not result['items']:
        result['changed'] = bool(result['items'])
        result['duration'] = round(time.monotonic() - started, 3)
        module.exit_json(**result)
    try:
        if params['method'] == 'api':
            result['results'] = _retrain.run_api(ApiClient.from_module(module), result['items'], params)
        else:
            result['results'] = _retrain.run_local(conn, paths['models_dir'], result['items'], params, start, end)
    except (sqlite3.Error, OSError, ValueError) as exc:
        # Items recorded before the error stay: that is a change.
        failure = dict(result)
        failure['changed'] = True
        module.fail_json(msg='retraining failed while recording models in %s and %s: %s; the items recorded so far '
                         'stay (each with its file and forecasts), rerun to finish' % (
                             paths['database_path'], paths['models_dir'], exc), **failure)
    result.update(_retrain.summary(result['results']))
    # Every trained item writes a registry row (active, rejected or failed), so a run that trained is a change.
    result['changed'] = bool(result['results'])
    result['duration'] = round(time.monotonic() - started, 3)
    if result['failures']:
        # Say which items and why, with everything recorded.
        failed_items = ['%s (%s)' % (entry['item_code'], entry['reason']) for entry in result['results']
                        if entry['outcome'] == 'failed']
        module.fail_json(msg='%d of %d items failed to train: %s; the other items were recorded, the failures are '
                         'recorded with status failed; raise item_timeout or rerun with items set to these' % (
                             len(failed_items), len(result['results']), ', '.join(failed_items)), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
