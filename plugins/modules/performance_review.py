#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: performance_review
short_description: The monthly performance review - p95 per route, cache hit rate, errors, backups, model accuracy, DR drills
version_added: 1.7.0
description:
  - The operations guide's "Performance review (1st of month)" of one window (by default the whole previous
    calendar month, UTC), as findings with a severity, the figures behind them and chart series for the
    operations report.
  - V(prometheus) - from Prometheus's HTTP API, each evaluated at the window's end over the whole window - the p95
    latency of all routes and of each route (the quantile of the window's bucket increases summed by C(le) and
    route, see the notes), the cache hit rate and the share of 5xx answers, and the same per day. Judged against
    O(api_p95_max_ms) and O(min_cache_hit_rate) (the guide's 100 ms and 85%).
  - V(logs) - the C(ERROR) and C(CRITICAL) lines of the application logs (C(LOG_DIR), and O(log_archive_dir) for
    archived ones) per day, the most frequent errors, and their total against the window of the same length
    before it.
  - V(backups) - every backup of the window with its duration and size, from the backup logs' C(backup completed
    name=... size=... duration=...s) lines; archives in the backup directory without a log line add their size.
  - V(models) - the MAPE of the active forecasting models (table C(ai_models) of the service's database), its
    distribution and worst items, those above O(flag_mape), and the median and p90 MAPE at the end of each of the
    last O(accuracy_months) months (rebuilt from the registry's promoted rows, else read from the monthly export
    C(models-YYYY-MM.json) in O(model_export_dir)). Items with intermittent demand are left out (judged by MASE
    in M(inventory_enterprise.ops.model_review)).
  - V(dr_drills) - the DR drill records in O(dr_drill_dir) (one JSON file per drill, see RV(series.dr_rto_seconds)
    and C(docs/reviews.md) for the format) - RTO and RPO against their targets, and whether a drill ran in the
    window.
  - A source that cannot be read (Prometheus down, a query without data, no log directory, no model registry) is
    listed in RV(unavailable) with the reason, never counted as zero; the module fails only when no source could
    be read at all.
  - Reads only; never changes anything. Runs on an app server; O(sources=[prometheus]) runs it on the control node.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.prometheus
  - inventory_enterprise.ops.service_paths
attributes:
  check_mode:
    support: full
    details: Reads only, in check mode as in a normal run.
  diff_mode:
    support: none
options:
  sources:
    description: The sources to review; leave out those not on the host the module runs on.
    type: list
    elements: str
    choices: [prometheus, logs, backups, models, dr_drills]
    default: [prometheus, logs, backups, models, dr_drills]
  period:
    description:
      - V(previous_month) - the whole previous calendar month (UTC); the guide reviews on the 1st.
      - V(month) - the calendar month O(month), once it has ended.
      - V(month_to_date) - this calendar month until now; the daily Prometheus series stop at the last whole day.
      - V(last_days) - the O(days) whole days (UTC) before today.
      - RV(window) states the exact window.
    type: str
    choices: [previous_month, month, month_to_date, last_days]
    default: previous_month
  month:
    description: The month to review with O(period=month), C(YYYY-MM).
    type: str
  days:
    description: Days to review with O(period=last_days).
    type: int
    default: 30
  api_p95_max_ms:
    description: Target p95 latency in milliseconds, of all routes and of each route (the guide's 100).
    type: float
    default: 100
  min_cache_hit_rate:
    description: Lowest acceptable cache hit rate over the window, in percent (the guide's 85).
    type: float
    default: 85
  max_error_rate:
    description: Highest acceptable share of 5xx answers, in percent; the guide sets none, so by default it is reported only.
    type: float
  metric_names:
    description: Names of the metrics, when an exporter names them otherwise.
    type: dict
    default: {}
    suboptions:
      http_duration:
        description: Histogram of the API latency in seconds, labelled by route and status.
        type: str
        default: http_request_duration_seconds
      cache_hits:
        description: Counter of cache hits.
        type: str
        default: cache_hits_total
      cache_misses:
        description: Counter of cache misses.
        type: str
        default: cache_misses_total
  label_names:
    description: Names of the labels the queries use.
    type: dict
    default: {}
    suboptions:
      route:
        description: Label holding the route template.
        type: str
        default: route
      status:
        description: Label holding the HTTP status code.
        type: str
        default: status_code
  log_dir:
    description: The service's log directory. Default C(LOG_DIR) of the service's C(.env), else C(logs).
    type: path
  log_archive_dir:
    description: Where M(inventory_enterprise.ops.log_archive) keeps archived logs (C(<dir>/logs/YYYY-MM/)); read too.
    type: path
  backup_dir:
    description: Directory of the backup archives. Default C(BACKUP_DIR) of the service's C(.env), else C(backups).
    type: path
  top_errors:
    description: How many kinds of error RV(series.top_errors) lists.
    type: int
    default: 10
  error_growth_percent:
    description:
      - V(errors_rising) is raised when the window has more than this percentage more error lines than the window
        of the same length before it (and at least O(min_error_increase) more).
    type: float
    default: 50
  min_error_increase:
    description: Fewest additional error lines for V(errors_rising), so that 2 errors after 1 is no finding.
    type: int
    default: 10
  backup_duration_growth_percent:
    description:
      - V(backup_duration_rising) is raised when the median duration of the last third of the window's backups
        exceeds the median of the first third by more than this percentage (at least 6 backups with a duration).
    type: float
    default: 50
  flag_mape:
    description: MAPE (percent) above which an active model counts in V(model_mape_over_threshold) (the guide's 20).
    type: float
    default: 20
  intermittent_adi:
    description:
      - Average demand interval above which an item's demand is intermittent and its MAPE left out (as in
        M(inventory_enterprise.ops.model_review)).
    type: float
    default: 1.32
  accuracy_months:
    description: Months of RV(series.model_mape_trend), the window's last month included.
    type: int
    default: 6
  worst_items:
    description: How many items RV(series.model_worst_items) lists.
    type: int
    default: 10
  model_export_dir:
    description:
      - Directory of the monthly C(models-YYYY-MM.json) exports, read for months the registry says nothing of.
      - Default C(<service_home>/reports/ai-models), where the ai_models role writes them.
    type: path
  dr_drill_dir:
    description: Directory of the DR drill records. Default C(<service_home>/dr-drills).
    type: path
  dr_rto_target_seconds:
    description: RTO target of a drill record that names none (the guide's 1 hour).
    type: float
    default: 3600
  dr_rpo_target_seconds:
    description: RPO target of a drill record that names none (the guide's 24 hours).
    type: float
    default: 86400
  dr_history_months:
    description: Months of drills shown in RV(series.dr_rto_seconds) and RV(series.dr_rpo_seconds).
    type: int
    default: 12
notes:
  - "The p95 per route is histogram_quantile(0.95, sum by (le, route) (increase(http_request_duration_seconds_bucket[<window>])))
    evaluated at the window's end: buckets summed before the quantile, so one figure per route across instances,
    methods and statuses."
  - Latency quantiles are interpolated inside the histogram's buckets, as Prometheus does; a figure is as exact as
    the bucket bounds around it.
  - Counter increases over the window are as exact as the scrapes at its edges; Prometheus extrapolates to the
    window's bounds.
seealso:
  - module: inventory_enterprise.ops.performance_report
  - module: inventory_enterprise.ops.model_review
  - name: docs/reviews.md
    description: Every finding, its threshold and why.
    link: https://github.com/inventory-enterprise/ops/blob/main/docs/reviews.md
'''

EXAMPLES = r'''
- name: Review last month on the app server, Prometheus included
  inventory_enterprise.ops.performance_review:
    service_home: /opt/inventory-enterprise
    prometheus_url: http://monitor1:9090
    job: inventory_enterprise
  register: performance

- name: Only the Prometheus part, from the control node
  inventory_enterprise.ops.performance_review:
    sources: [prometheus]
    prometheus_url: http://monitor1:9090
  delegate_to: localhost
  run_once: true

- name: The last two weeks of logs, backups and models, archived logs included
  inventory_enterprise.ops.performance_review: {period: last_days, days: 14, log_archive_dir: /mnt/archive, sources: [logs, backups, models]}
'''

RETURN = r'''
review:
  description: The review's name, V(performance).
  returned: always
  type: str
  sample: performance
generated_at:
  description: When the review ran (UTC, ISO-8601).
  returned: always
  type: str
  sample: "2026-12-01T06:00:12Z"
window:
  description: The window reviewed.
  returned: always
  type: dict
  contains:
    start: {description: 'Its start, included (UTC).', type: str, sample: '2026-11-01T00:00:00Z'}
    end: {description: 'Its end, excluded (UTC); the Prometheus figures are evaluated at this time.', type: str, sample: '2026-12-01T00:00:00Z'}
    period: {description: O(period)., type: str, sample: previous_month}
    days: {description: The days it touches (a partial day counts)., type: int, sample: 30}
findings:
  description:
    - What the review found, most severe first. C(id) is one of V(p95_over_target) (high),
      V(route_p95_over_target) (medium, one per route), V(cache_hit_rate_below_target) (medium),
      V(http_5xx_rate_over_target) (medium, with O(max_error_rate)), V(errors_rising) (medium),
      V(backup_duration_rising) (medium), V(model_mape_over_threshold) (medium), V(dr_drill_failed),
      V(dr_rto_missed), V(dr_rpo_missed) (high, one per drill) and V(dr_drill_missing) (medium).
  returned: always
  type: list
  elements: dict
  contains:
    id: {description: Stable code of the finding., type: str, sample: route_p95_over_target}
    severity: {description: 'V(critical), V(high), V(medium), V(low) or V(info).', type: str, sample: medium}
    summary:
      description: One line a person reads.
      type: str
      sample: "route /api/inventory/list: p95 142.5 ms over the window (120311 requests), above the target of 100 ms"
    subject: {description: 'What it is about (a route, C(cache), C(backups), C(model registry), a drill).', type: str, sample: /api/inventory/list}
    value: {description: 'The measured figure (ms, percent, a count or seconds, as the summary says).', type: raw, sample: 142.5}
    threshold: {description: The limit it was judged against., type: raw, sample: 100}
figures:
  description: The scalar figures behind the findings; null where the source had no figure.
  returned: always
  type: dict
  contains:
    window_start: {description: RV(window.start)., type: str}
    window_end: {description: RV(window.end)., type: str}
    p95_ms: {description: 'p95 latency of all routes over the window, in ms.', returned: with the prometheus source, type: float}
    requests: {description: Requests answered in the window., returned: with the prometheus source, type: int}
    routes: {description: Routes with traffic in the window., returned: when Prometheus has per-route data, type: int}
    routes_over_target: {description: Routes whose p95 is above O(api_p95_max_ms)., returned: when Prometheus has per-route data, type: int}
    p95_days_over_target: {description: Days whose p95 is above O(api_p95_max_ms)., returned: when Prometheus has daily data, type: int}
    cache_hit_rate: {description: 'Cache hit rate over the window, in percent.', returned: with the prometheus source, type: float}
    http_5xx_rate: {description: 'Share of 5xx answers over the window, in percent.', returned: with the prometheus source, type: float}
    errors: {description: C(ERROR) and C(CRITICAL) lines of the application logs in the window., returned: when logs were read, type: int}
    errors_previous_period:
      description: The same in the window of the same length before; null without logs of that time.
      returned: when logs were read
      type: int
    log_days: {description: Days of the window with an application log., returned: when logs were read, type: int}
    backups: {description: Backups completed in the window., returned: when backups were found, type: int}
    backups_failed: {description: C(backup failed) error lines in the backup logs of the window., returned: when backups were found, type: int}
    backup_duration_median_seconds: {description: Median backup duration., returned: when backups were found, type: float}
    backup_duration_max_seconds: {description: Longest backup., returned: when backups were found, type: float}
    backup_duration_growth_percent:
      description: Median duration of the last third of the backups against the first third; null with fewer than 6.
      returned: when backups were found
      type: float
    backup_size_latest_bytes: {description: Size of the window's last backup., returned: when backups were found, type: int}
    models_active: {description: Active models in the registry., returned: when the registry was read, type: int}
    models_intermittent:
      description: Active models of items with intermittent demand, left out of the MAPE figures.
      returned: when the registry was read
      type: int
    models_scored: {description: Active models with a MAPE that count., returned: when models have a MAPE, type: int}
    models_over_threshold: {description: 'Of those, models above O(flag_mape).', returned: when models have a MAPE, type: int}
    model_median_mape: {description: 'Their median MAPE, percent.', returned: when models have a MAPE, type: float}
    model_p90_mape: {description: 'Their 90th percentile MAPE (nearest rank), percent.', returned: when models have a MAPE, type: float}
    dr_drills: {description: DR drills finished in the window., returned: when the drill records were read, type: int}
    dr_drills_failed: {description: 'Of those, drills that failed.', returned: when the drill records were read, type: int}
    dr_last_drill:
      description: When the last drill before the window's end finished; null when none is recorded.
      returned: when the drill records were read
      type: str
    dr_rto_worst_seconds: {description: Longest RTO of the window's drills., returned: when the drill records were read, type: float}
    dr_rpo_worst_seconds: {description: Largest RPO of the window's drills., returned: when the drill records were read, type: float}
series:
  description:
    - Chart data for the operations report. Every entry has C(kind) (V(time) or V(category)), C(unit), C(title),
      C(points) (C([x, y]); for V(time) x is an ISO-8601 UTC time, for V(category) a label), optionally
      C(target) (a horizontal line) and C(groups) (label to points, several lines).
    - An entry is there when its source had data.
  returned: always
  type: dict
  contains:
    p95_by_route: {description: 'Category, ms - p95 latency of each route over the window, slowest first; C(target) O(api_p95_max_ms).', type: dict}
    p95_daily: {description: 'Time, ms - p95 latency of all routes per day (x the day''s start); C(target) O(api_p95_max_ms).', type: dict}
    cache_hit_rate_daily: {description: 'Time, percent - cache hit rate per day; C(target) O(min_cache_hit_rate).', type: dict}
    http_5xx_rate_daily: {description: 'Time, percent - share of 5xx answers per day; C(target) O(max_error_rate) when set.', type: dict}
    errors_per_day: {description: 'Time, count - error lines per day with an application log.', type: dict}
    top_errors: {description: 'Category, count - the most frequent errors (level and message, numbers and ids masked).', type: dict}
    backup_duration_seconds: {description: 'Time, seconds - duration of each backup of the window.', type: dict}
    backup_size_bytes: {description: 'Time, bytes - archive size of each backup of the window.', type: dict}
    model_mape_trend:
      description:
        - Time, percent - median MAPE of the active models at the end of each month (x the month's last second);
          C(groups) V(median) and V(p90); C(target) O(flag_mape).
      type: dict
    model_mape_distribution: {description: 'Category, count - active models per MAPE bucket (V(0-10%) ... V(50%+)).', type: dict}
    model_worst_items: {description: 'Category, percent - the O(worst_items) items with the highest MAPE; C(target) O(flag_mape).', type: dict}
    dr_rto_seconds:
      description:
        - Time, seconds - RTO of each drill of the last O(dr_history_months) months; C(target) the newest drill's.
        - "A drill record is C(<dr_drill_dir>/dr-drill-<YYYY-MM-DDTHH-MM-SSZ>.json): C({finished_at, outcome
          (passed|failed), rto_seconds, rpo_seconds, rto_target_seconds, rpo_target_seconds, standby})."
      type: dict
    dr_rpo_seconds: {description: 'Time, seconds - RPO (age of the restored backup) of each drill; C(target) the newest drill''s.', type: dict}
  sample: {"p95_by_route": {"kind": "category", "unit": "ms", "title": "p95 latency per route", "target": 100,
                            "points": [["/api/inventory/list", 142.5], ["/health", 4.8]]}}
unavailable:
  description: What the review could not include, and why.
  returned: always
  type: list
  elements: dict
  contains:
    source: {description: 'V(prometheus), V(logs), V(backups), V(models) or V(dr_drills).', type: str, sample: prometheus}
    reason:
      description: Why, with the check it concerns.
      type: str
      sample: "route_p95: http://monitor1:9090: connection refused; check that Prometheus runs there (prometheus_url)"
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import (
    _dr_drills, _envfile, _model_accuracy, _performance_logs, _performance_review, _prometheus_api, _service_layout)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._performance_review import (
    LABEL_NAMES, METRIC_NAMES, PERIODS, SOURCES)

LOCAL_SOURCES = ('logs', 'backups', 'models', 'dr_drills')


def argument_spec():
    spec = _prometheus_api.prometheus_argument_spec()
    spec.update(_service_layout.service_paths_argument_spec())
    spec.update(
        sources=dict(type='list', elements='str', choices=list(SOURCES), default=list(SOURCES)),
        period=dict(type='str', choices=list(PERIODS), default='previous_month'),
        month=dict(type='str'),
        days=dict(type='int', default=30),
        api_p95_max_ms=dict(type='float', default=100.0),
        min_cache_hit_rate=dict(type='float', default=85.0),
        max_error_rate=dict(type='float'),
        metric_names=dict(type='dict', default={}, apply_defaults=True, options=dict(
            (key, dict(type='str', default=value)) for key, value in METRIC_NAMES.items())),
        label_names=dict(type='dict', default={}, apply_defaults=True, options=dict(
            (key, dict(type='str', default=value)) for key, value in LABEL_NAMES.items())),
        log_dir=dict(type='path'),
        log_archive_dir=dict(type='path'),
        backup_dir=dict(type='path'),
        top_errors=dict(type='int', default=10),
        error_growth_percent=dict(type='float', default=50.0),
        min_error_increase=dict(type='int', default=10),
        backup_duration_growth_percent=dict(type='float', default=50.0),
        flag_mape=dict(type='float', default=20.0),
        intermittent_adi=dict(type='float', default=1.32),
        accuracy_months=dict(type='int', default=6),
        worst_items=dict(type='int', default=10),
        model_export_dir=dict(type='path'),
        dr_drill_dir=dict(type='path'),
        dr_rto_target_seconds=dict(type='float', default=3600.0),
        dr_rpo_target_seconds=dict(type='float', default=86400.0),
        dr_history_months=dict(type='int', default=12),
    )
    return spec


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                         required_if=[('period', 'month', ['month'])])


def run_module(module):
    params = module.params
    error = _performance_review.invalid_params(params)
    if error:
        module.fail_json(msg=error)
    try:
        win = _performance_review.window(params['period'], params['month'], params['days'])
    except _performance_review.WindowError as exc:
        module.fail_json(msg=str(exc))
    review = _performance_review.Review('performance')
    review.figures.update(window_start=_performance_review.iso(win['start']),
                          window_end=_performance_review.iso(win['end']))
    sources = params['sources']
    if 'prometheus' in sources:
        _performance_review.PrometheusPart(_prometheus_api.client_from_params(params), params, win).run(review)
    local = [source for source in LOCAL_SOURCES if source in sources]
    paths = None
    if local:
        try:
            paths = _performance_review.local_paths(params)
        except _envfile.EnvFileError as exc:
            for source in local:
                review.missing(source, "cannot read the service's configuration: %s" % exc)
    if paths:
        if 'logs' in sources:
            _performance_logs.errors(review, win, paths['log_dir'], params['log_archive_dir'], params)
        if 'backups' in sources:
            _performance_logs.backups(review, win, paths['log_dir'], params['log_archive_dir'], paths['backup_dir'],
                                      params)
        if 'models' in sources:
            _model_accuracy.accuracy(review, win, paths['database_path'], paths['model_export_dir'], params)
        if 'dr_drills' in sources:
            _dr_drills.review_drills(review, win, paths['dr_drill_dir'], params)
    result = review.result()
    result['window'] = dict(start=review.figures['window_start'], end=review.figures['window_end'],
                            period=win['period'], days=win['days'])
    if not review.read:
        module.fail_json(msg='performance review of %s..%s: none of the sources (%s) could be read: %s' % (
            result['window']['start'], result['window']['end'], ', '.join(sources),
            '; '.join('%s: %s' % (entry['source'], entry['reason']) for entry in review.unavailable)), **result)
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
