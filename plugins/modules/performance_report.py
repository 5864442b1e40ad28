#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: performance_report
short_description: Report API, database and cache performance of the service from Prometheus
version_added: 0.1.0
description:
  - The "Performance Monitoring" section of the operations guide, read from a Prometheus server's HTTP API
    (C(/api/v1/query)) - p95 API latency overall and per route, the slowest routes, p95 database latency, the share
    of 5xx answers, the cache hit rate, cache keys and memory, and the service's resident memory, each against
    its target.
  - Quantiles are computed over buckets summed by C(le) first, C(histogram_quantile(0.95, sum by (le)
    (rate(http_request_duration_seconds_bucket[5m])))), and C(sum by (le, route)) per route. The guide's queries
    leave the C(sum by (le)) out and so return one quantile per series (per route, method, status and instance),
    not one for the service; C(topk) over those ranks series, not routes.
  - One report covers a fleet. The queries are scoped by O(job), O(instances) and O(selector), and every per-instance
    row comes from the same query grouped C(by (instance)), so 20 hosts cost the same handful of queries as one.
  - A Prometheus that is down, a refused query, or a query without data gives that check the verdict V(error) or
    V(no_data) with the query and the reason, never a zero. The module fails only for the verdicts in O(fail_on).
  - Where PostgreSQL is enabled, summarises its slow-query log (the C(duration:) lines that
    C(log_min_duration_statement) writes) from O(postgres_log_path) on the host the module runs on.
  - Read-only; never changes anything.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.prometheus
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  by_instance:
    description: Also report every check except V(route_latency) per instance, in RV(instances).
    type: bool
    default: true
  window:
    description: Range of the rates, a Prometheus duration.
    type: str
    default: 5m
  quantile:
    description: The quantile of the latency checks.
    type: float
    default: 0.95
  checks:
    description: The checks to run, reported in this order.
    type: list
    elements: str
    choices: [targets_up, api_latency, route_latency, db_latency, error_rate, cache_hit_rate, cache_keys,
              cache_memory, process_memory]
    default: [targets_up, api_latency, route_latency, db_latency, error_rate, cache_hit_rate, cache_keys,
              cache_memory, process_memory]
  api_p95_max_ms:
    description: Target of V(api_latency) and of every route in V(route_latency), in milliseconds (the guide's 100).
    type: float
    default: 100
  db_p95_max_ms:
    description: Target of V(db_latency) in milliseconds; the guide sets none, so by default it is reported only.
    type: float
  max_error_rate:
    description: Highest acceptable share of 5xx answers, in percent; by default reported only.
    type: float
  min_cache_hit_rate:
    description: Lowest acceptable cache hit rate, in percent (the guide's 85).
    type: float
    default: 85
  max_cache_keys:
    description: Most cache keys (the guide's 100,000).
    type: float
    default: 100000
  max_cache_memory_gb:
    description: Most cache memory in GB (10^9 bytes; the guide's 1.8).
    type: float
    default: 1.8
  max_process_memory_gb:
    description: Most resident memory of one service process, in GB (the HighMemory alert's 2).
    type: float
    default: 2
  slowest_count:
    description: How many routes RV(slowest_routes) lists.
    type: int
    default: 10
  metric_names:
    description: Names of the metrics, when an exporter names them otherwise.
    type: dict
    default: {}
    suboptions:
      http_duration:
        description: Histogram of the API latency in seconds.
        type: str
        default: http_request_duration_seconds
      db_duration:
        description: Histogram of the database query latency in seconds.
        type: str
        default: db_query_duration_seconds
      cache_hits:
        description: Counter of cache hits.
        type: str
        default: cache_hits_total
      cache_misses:
        description: Counter of cache misses.
        type: str
        default: cache_misses_total
      cache_keys:
        description: Gauge of the number of cache keys.
        type: str
        default: cache_keys
      cache_memory:
        description: Gauge of the cache's memory in bytes.
        type: str
        default: cache_memory_bytes
      process_memory:
        description: Gauge of the service's resident memory in bytes.
        type: str
        default: process_resident_memory_bytes
  label_names:
    description: Names of the labels the queries group by.
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
      instance:
        description: Label naming the scrape target.
        type: str
        default: instance
  postgres_log_path:
    description:
      - PostgreSQL log file whose C(duration:) lines are summarised in RV(postgres_slow_queries); read on the host the
        module runs on. PostgreSQL writes them for statements slower than C(log_min_duration_statement).
    type: path
  postgres_top_statements:
    description: How many statements RV(postgres_slow_queries.top_statements) lists.
    type: int
    default: 10
  fail_on:
    description: Verdicts that make the module fail; by default it only reports.
    type: list
    elements: str
    choices: [failed, error, no_data]
    default: []
notes:
  - Routes without traffic in O(window) are left out of RV(routes) (their quantile is undefined).
  - O(instances) also names the rows of RV(instances); an instance without series gets V(no_data) rows.
  - See C(docs/performance.md) in the collection for the queries and how to read the report.
'''

EXAMPLES = r'''
- name: Report the performance of every app server from the monitoring host's Prometheus
  inventory_enterprise.ops.performance_report:
    prometheus_url: http://monitor1:9090
    job: inventory_enterprise
  delegate_to: localhost
  run_once: true
  register: performance

- name: Show the ten slowest routes
  ansible.builtin.debug:
    msg: "{{ performance.slowest_routes }}"

- name: Fail when a target is missed or Prometheus cannot answer, with the slow-query log of PostgreSQL
  inventory_enterprise.ops.performance_report:
    prometheus_url: http://monitor1:9090
    instances: ["app1:8083", "app2:8083"]
    db_p95_max_ms: 50
    postgres_log_path: /var/log/postgresql/postgresql-15-main.log
    fail_on: [failed, error]
'''

RETURN = r'''
ok:
  description: Whether every check (and the slow-query summary, when asked) has the verdict V(ok).
  returned: always
  type: bool
summary:
  description: One line with the counts of checks per verdict, naming those not ok.
  returned: always
  type: str
  sample: "all instances: 7 ok, 1 failed (api_latency), 1 no_data (cache_keys)"
failed_checks:
  description: Names of the checks of RV(checks) whose verdict is not V(ok).
  returned: always
  type: list
  elements: str
checks:
  description: One result per check across everything in scope, in the order of O(checks).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the check.
      type: str
      sample: api_latency
    verdict:
      description: V(ok), V(failed) (target missed), V(error) (Prometheus down or the query refused) or V(no_data).
      type: str
      sample: ok
    value:
      description:
        - The figure in RV(checks[].unit), null unless the verdict is V(ok) or V(failed).
        - For V(targets_up) the number of targets up; for V(route_latency) a dict route to p95 in ms.
      type: raw
      sample: 42.5
    threshold:
      description: The target the value was compared with, null when none is set.
      type: raw
      sample: 100
    unit:
      description: Unit of the value and threshold (ms, percent, keys, GB, targets).
      type: str
      sample: ms
    query:
      description: The PromQL asked.
      type: str
      sample: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))
    message:
      description: What was found against the target, or why there is no figure, and what to do.
      type: str
routes:
  description: Every route with traffic in the window, slowest first.
  returned: always
  type: list
  elements: dict
  contains:
    route:
      description: The route template.
      type: str
      sample: /api/inventory/list
    p95_ms:
      description: The route's latency quantile in milliseconds across every instance in scope.
      type: float
      sample: 87.5
slowest_routes:
  description: The first O(slowest_count) entries of RV(routes).
  returned: always
  type: list
  elements: dict
instances:
  description: One row per instance (empty when O(by_instance) is false).
  returned: always
  type: list
  elements: dict
  contains:
    instance:
      description: The instance label.
      type: str
      sample: app1:8083
    ok:
      description: Whether every check of the instance is V(ok).
      type: bool
    failed_checks:
      description: Names of its checks not V(ok).
      type: list
      elements: str
    summary:
      description: One line with its counts per verdict.
      type: str
    checks:
      description: Results of the same shape as RV(checks), grouped by instance.
      type: list
      elements: dict
postgres_slow_queries:
  description: Summary of O(postgres_log_path), null when it is not set.
  returned: always
  type: dict
  contains:
    path:
      description: The log file read.
      type: str
    verdict:
      description: V(ok), V(no_data) (no C(duration:) line) or V(error) (the file cannot be read).
      type: str
    message:
      description: What was found or what failed.
      type: str
    count:
      description: Number of statements logged with their duration.
      type: int
    total_ms:
      description: Their total duration in milliseconds.
      type: float
    max_ms:
      description: The longest duration in milliseconds, null without statements.
      type: float
    max_statement:
      description: The statement that took it.
      type: str
    top_statements:
      description: Statements by total time, literals shown as C(?), at most O(postgres_top_statements).
      type: list
      elements: dict
      sample: [{"statement": "SELECT * FROM items WHERE id = ?", "calls": 12, "total_ms": 840.2, "mean_ms": 70.017,
                "max_ms": 120.5}]
msg:
  description: With O(fail_on), which checks had one of those verdicts.
  returned: failure
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _prometheus_api
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres_slowlog import slow_query_report
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._prometheus_report import (
    CHECK_NAMES,
    LABEL_NAMES,
    METRIC_NAMES,
    OK,
    ReportSpec,
    build_report,
    summarize,
)


def argument_spec():
    spec = _prometheus_api.prometheus_argument_spec()
    spec.update(
        by_instance=dict(type='bool', default=True),
        window=dict(type='str', default='5m'),
        quantile=dict(type='float', default=0.95),
        checks=dict(type='list', elements='str', choices=list(CHECK_NAMES), default=list(CHECK_NAMES)),
        api_p95_max_ms=dict(type='float', default=100.0),
        db_p95_max_ms=dict(type='float'),
        max_error_rate=dict(type='float'),
        min_cache_hit_rate=dict(type='float', default=85.0),
        max_cache_keys=dict(type='float', default=100000.0, no_log=False),
        max_cache_memory_gb=dict(type='float', default=1.8),
        max_process_memory_gb=dict(type='float', default=2.0),
        slowest_count=dict(type='int', default=10),
        metric_names=dict(type='dict', default={}, apply_defaults=True, options=dict(
            # no_log=False: cache_keys names a metric, not a key that opens anything.
            (key, dict(type='str', default=value, no_log=False)) for key, value in METRIC_NAMES.items())),
        label_names=dict(type='dict', default={}, apply_defaults=True, options=dict(
            (key, dict(type='str', default=value)) for key, value in LABEL_NAMES.items())),
        postgres_log_path=dict(type='path'),
        postgres_top_statements=dict(type='int', default=10),
        fail_on=dict(type='list', elements='str', choices=['failed', 'error', 'no_data'], default=[]),
    )
    return spec


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


def validate(module):
    """What argument_spec cannot say; everything the queries are built from is checked before one is asked."""
    params = module.params
    if not 0 < params['quantile'] < 1:
        module.fail_json(msg='quantile must be between 0 and 1 (exclusive), got %s' % params['quantile'])
    if not _prometheus_api.DURATION.match(params['window']):
        module.fail_json(msg='window must be a Prometheus duration such as 5m or 30s, got %r' % params['window'])
    if params['prometheus_timeout'] <= 0:
        module.fail_json(msg='prometheus_timeout must be greater than 0, got %s' % params['prometheus_timeout'])
    for name in ('slowest_count', 'postgres_top_statements'):
        if params[name] < 1:
            module.fail_json(msg='%s must be at least 1, got %s' % (name, params[name]))
    for option in ('label_names', 'metric_names'):
        bad = sorted('%s=%r' % item for item in params[option].items() if not _prometheus_api.LABEL_NAME.match(item[1]))
        if bad:
            module.fail_json(msg='%s must be Prometheus names ([a-zA-Z_][a-zA-Z0-9_]*): %s' % (option, ', '.join(bad)))


def run_module(module):
    validate(module)
    params = module.params
    client = _prometheus_api.client_from_params(params)
    report = build_report(client, ReportSpec(params), params['checks'], params['by_instance'], params['slowest_count'])
    postgres = slow_query_report(params['postgres_log_path'], params['postgres_top_statements'])
    failed_checks = [check['name'] for check in report['checks'] if check['verdict'] != OK]
    verdicts = [check['verdict'] for check in report['checks']] + ([postgres['verdict']] if postgres else [])
    result = dict(report, changed=False, failed_checks=failed_checks, postgres_slow_queries=postgres,
                  ok=all(verdict == OK for verdict in verdicts), summary=summarize(report['checks'], 'all instances'))
    failing = [check for check in report['checks'] if check['verdict'] in params['fail_on']]
    if postgres and postgres['verdict'] in params['fail_on']:
        failing.append(dict(name='postgres_slow_queries', verdict=postgres['verdict'], message=postgres['message']))
    if failing:
        module.fail_json(msg='performance_report: %s' % '; '.join(
            '%s %s (%s)' % (check['name'], check['verdict'], check['message']) for check in failing), **result)
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
