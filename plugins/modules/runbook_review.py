#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: runbook_review
short_description: The quarterly runbook review - runbook runs, failed steps and fired alerts per runbook
version_added: 1.7.0
description:
  - The guide's quarterly "Update runbooks based on incidents", from the runs the
    P(inventory_enterprise.ops.runbook_journal#callback) callback recorded in O(journal_dir) and, with
    O(prometheus_url), the alerts Prometheus fired, in the period (the last O(period_days) days, or since O(since)).
  - Per runbook - its runs, failed and unfinished runs, median and longest duration, last run, the steps (tasks)
    that failed and how often, and the alerts whose runbook annotation names it with how often they fired.
  - An alert's firing episodes are counted from C(ALERTS{alertstate="firing"}) with one range query (each point
    says whether the alert fired in the two steps before it, C(max_over_time)); firings less than about three
    steps apart count as one episode. The step is the period divided by 10,000, at least 60 seconds (13 minutes
    over 92 days). Its runbook is the file name of the O(runbook_annotation) annotation of its rule (C(GET
    /api/v1/rules)).
  - "Findings: V(runbook_never_exercised) (low), a runbook of O(runbooks_dir) without a run in the period;
    V(runbook_failed_runs), runs that failed or did not finish (high when the last run did, medium otherwise);
    V(alert_fired_without_runbook_run) (medium), an alert that fired while its runbook never ran in the period;
    V(alert_without_runbook) (low), an alerting rule without the annotation, or an alert that fired without a
    loaded rule; V(alert_runbook_missing) (low), an annotation naming a runbook that O(runbooks_dir) does not hold."
  - A source that cannot be read (the journal, O(runbooks_dir), Prometheus) is listed in RV(unavailable) and only
    the findings it decides are left out; the module fails only when neither the journal nor Prometheus can be
    read.
  - Runs on the control node, where the journal is (C(delegate_to) C(localhost)). Read-only.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
attributes:
  check_mode:
    support: full
    details: Reads only, in check mode as in a normal run.
  diff_mode:
    support: none
options:
  journal_dir:
    description: The journal directory of the P(inventory_enterprise.ops.runbook_journal#callback) callback (its C(dir)).
    type: path
    default: ~/.local/state/inventory-enterprise/runbook-journal
  runbooks_dir:
    description:
      - Directory of the runbook playbooks (C(playbooks/runbooks) of the collection). Every C(*.yml) in it is a
        runbook, so those never run are found.
      - Unset, only the runbooks that ran or that an alert names are listed (and reported in RV(unavailable)).
    type: path
  period_days:
    description: Length of the period, in days back from now (the guide's quarter).
    type: int
    default: 92
  since:
    description: Start of the period instead, an ISO 8601 date or date and time (UTC unless it has an offset).
    type: str
  prometheus_url:
    description: Base URL of the Prometheus server whose alerts are counted. Unset, alerts are left out.
    type: str
  prometheus_timeout:
    description: Seconds to wait for each answer of Prometheus.
    type: float
    default: 10
  prometheus_token:
    description: Bearer token, when a proxy in front of Prometheus requires one.
    type: str
  validate_certs:
    description: Verify the TLS certificate of O(prometheus_url).
    type: bool
    default: true
  runbook_annotation:
    description: The annotation of an alerting rule that names its runbook playbook.
    type: str
    default: runbook
notes:
  - See C(docs/reviews.md) in the collection for each finding and its threshold, and how to enable the journal.
'''

EXAMPLES = r'''
- name: Review the quarter's runbook runs and alerts
  inventory_enterprise.ops.runbook_review:
    runbooks_dir: "{{ playbook_dir }}/runbooks"
    prometheus_url: http://monitor1:9090
  delegate_to: localhost
  run_once: true
  register: runbook_review

- name: Runbooks that failed since the start of the year, from an AWX journal volume
  inventory_enterprise.ops.runbook_review:
    journal_dir: /var/lib/awx/runbook-journal
    runbooks_dir: "{{ playbook_dir }}/runbooks"
    since: "2026-01-01"
  delegate_to: localhost
  run_once: true
'''

RETURN = r'''
review:
  description: The kind of review, always V(runbooks).
  returned: always
  type: str
  sample: runbooks
generated_at:
  description: When the review was made, ISO 8601 UTC.
  returned: always
  type: str
  sample: "2026-12-08T09:00:00Z"
findings:
  description: What needs attention, most severe first.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: >-
        V(runbook_never_exercised), V(runbook_failed_runs), V(alert_fired_without_runbook_run),
        V(alert_without_runbook) or V(alert_runbook_missing).
      type: str
      sample: runbook_failed_runs
    severity:
      description: V(high), V(medium) or V(low).
      type: str
      sample: high
    summary:
      description: One line that says what was found and what to do.
      type: str
      sample: >-
        backup_failed: 1 of 3 run(s) in the period failed or did not finish; the last one (2026-11-02T03:10:00Z)
        failed at "Escalate when the manual backup still fails" on app1
    subject:
      description: The runbook (runbook findings) or the alert name (alert findings).
      type: str
      sample: backup_failed
    value:
      description: >-
        Days since the last run ever (null when never) for V(runbook_never_exercised); runs that failed or did not
        finish for V(runbook_failed_runs); firing episodes for the alert findings (null when unknown); the
        annotation for V(alert_runbook_missing).
      type: raw
      sample: 1
    threshold:
      description: The period in days for V(runbook_never_exercised); 0 for V(runbook_failed_runs) and
        V(alert_fired_without_runbook_run); null otherwise.
      type: raw
      sample: 0
figures:
  description: The figures behind the findings. Those of a source that could not be read are left out.
  returned: always
  type: dict
  contains:
    period_days:
      description: Length of the period in days.
      type: float
      sample: 92
    since:
      description: Start of the period, ISO 8601 UTC.
      type: str
    until:
      description: End of the period (now), ISO 8601 UTC.
      type: str
    runbooks:
      description: Runbooks listed in RV(runbooks).
      type: int
    runbooks_exercised:
      description: Runbooks with at least one run in the period (when the journal was read).
      type: int
    runs:
      description: Runbook runs in the period.
      type: int
    failed_runs:
      description: Runs in the period that failed.
      type: int
    unfinished_runs:
      description: Runs in the period that never recorded an end (killed, or still running).
      type: int
    alert_rules:
      description: Alerting rules loaded in Prometheus.
      type: int
    alert_rules_without_runbook:
      description: Alerting rules without the runbook annotation.
      type: int
    alerts_fired:
      description: Distinct alerts that fired in the period.
      type: int
    alert_episodes:
      description: Firing episodes of all alerts in the period.
      type: int
series:
  description: >-
    Chart data for the operations report, each a dict of C(kind), C(unit), C(title) and C(points) (C([label,
    number]) pairs).
  returned: always
  type: dict
  contains:
    runs_per_runbook:
      description: Runs in the period per runbook, by name (V(category), V(count); no points without the journal).
      type: dict
      sample: {"kind": "category", "unit": "count", "title": "Runbook runs in the period",
               "points": [["backup_failed", 2], ["system_down", 0]]}
    duration_per_runbook:
      description: Median duration of a finished run per runbook (V(category), V(seconds)); runbooks without one
        are left out.
      type: dict
    alerts_fired:
      description: Firing episodes per alert in the period, most first (V(category), V(count)); alerts that did
        not fire are left out.
      type: dict
unavailable:
  description: What the review could not include, and why.
  returned: always
  type: list
  elements: dict
  contains:
    source:
      description: V(journal), V(runbooks_dir) or V(prometheus).
      type: str
      sample: prometheus
    reason:
      description: What failed, where, and what to do.
      type: str
runbooks:
  description: One row per runbook (of O(runbooks_dir), run in the period, or named by an alert), by name.
  returned: always
  type: list
  elements: dict
  contains:
    runbook:
      description: The runbook's name (its playbook's file name without extension).
      type: str
      sample: system_down
    runs:
      description: Its runs in the period; null when the journal could not be read (so are the other run figures).
      type: int
    failed_runs:
      description: Runs that failed.
      type: int
    unfinished_runs:
      description: Runs that never recorded an end.
      type: int
    check_mode_runs:
      description: Runs in check mode (rehearsals), counted in RV(runbooks[].runs) too.
      type: int
    median_duration_seconds:
      description: Median duration of its finished runs in the period.
      type: float
    max_duration_seconds:
      description: Longest of them.
      type: float
    last_run:
      description: Start of its last run in the period, ISO 8601 UTC.
      type: str
    last_status:
      description: V(successful), V(failed) or V(unfinished), of that run.
      type: str
    last_failed_step:
      description: The last failed task (C(task), C(host)) of that run, null when none failed.
      type: dict
    last_run_ever:
      description: Start of its last run in the whole journal, also before the period.
      type: str
    failed_steps:
      description: The tasks that failed in the period (those with C(ignore_errors) left out), most often first.
      type: list
      elements: dict
      contains:
        task:
          description: The task's name.
          type: str
        failures:
          description: How many times it failed (per host).
          type: int
        runs:
          description: In how many runs.
          type: int
        hosts:
          description: On which hosts.
          type: list
          elements: str
        last_message:
          description: The short message of its last failure (hidden for a C(no_log) task).
          type: str
    alerts:
      description: The alerts whose runbook annotation names this runbook.
      type: list
      elements: str
    alert_episodes:
      description: How often they fired in the period.
      type: int
runs:
  description: The runs of the period, newest first.
  returned: always
  type: list
  elements: dict
  contains:
    runbook:
      description: The runbook.
      type: str
    file:
      description: Its journal file, in O(journal_dir).
      type: str
    started:
      description: Start, ISO 8601 UTC.
      type: str
    finished:
      description: End, null when it did not finish.
      type: str
    duration_seconds:
      description: Duration, null when it did not finish.
      type: float
    status:
      description: V(successful), V(failed) or V(unfinished).
      type: str
    check_mode:
      description: Whether it ran in check mode.
      type: bool
    limit:
      description: Its C(--limit), null when none.
      type: str
    user:
      description: Who ran it (the control node's user).
      type: str
    hosts:
      description: The hosts it ran on.
      type: list
      elements: str
    failed_tasks:
      description: Its failed or unreachable tasks (C(task), C(host), C(message)), C(ignore_errors) ones left out.
      type: list
      elements: dict
alerts:
  description: Every alerting rule loaded, and every alert that fired in the period, by name.
  returned: always
  type: list
  elements: dict
  contains:
    alertname:
      description: The alert.
      type: str
      sample: ServiceDown
    annotation:
      description: Its runbook annotation, null when it has none.
      type: str
      sample: playbooks/runbooks/system_down.yml
    runbook:
      description: The runbook the annotation names, null when none.
      type: str
      sample: system_down
    rule_loaded:
      description: Whether Prometheus has a rule for it now.
      type: bool
    episodes:
      description: Its firing episodes in the period, null when they could not be counted.
      type: int
    first_fired:
      description: When its first episode in the period was first seen, ISO 8601 UTC.
      type: str
    last_fired:
      description: When its last episode was last seen.
      type: str
msg:
  description: Why the review could not be made.
  returned: failure
  type: str
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._prometheus_api import client_from_params
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._runbook_review import (
    Period,
    SourceUnavailable,
    build_review,
    parse_time,
)


def argument_spec():
    # The Prometheus options are named as the prometheus doc fragment's, but prometheus_url has no default (unset,
    # the alerts are left out) and job, instances and selector have no meaning for ALERTS.
    return dict(
        journal_dir=dict(type='path', default='~/.local/state/inventory-enterprise/runbook-journal'),
        runbooks_dir=dict(type='path'),
        period_days=dict(type='int', default=92),
        since=dict(type='str'),
        prometheus_url=dict(type='str'),
        prometheus_timeout=dict(type='float', default=10.0),
        prometheus_token=dict(type='str', no_log=True),
        validate_certs=dict(type='bool', default=True),
        runbook_annotation=dict(type='str', default='runbook'),
    )


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


def period_of(module, now):
    params = module.params
    if params['since'] is not None:
        since = parse_time(params['since'])
        if since is None or since >= now:
            module.fail_json(msg='since must be an ISO 8601 date or date and time in the past, such as 2026-01-01 or '
                                 '2026-01-01T00:00:00Z; got %r' % params['since'])
        return Period(since, now)
    if params['period_days'] < 1:
        module.fail_json(msg='period_days must be at least 1, got %d' % params['period_days'])
    return Period(now - params['period_days'] * 86400, now)


def run_module(module):
    params = module.params
    if params['prometheus_timeout'] <= 0:
        module.fail_json(msg='prometheus_timeout must be greater than 0, got %s' % params['prometheus_timeout'])
    now = time.time()
    period = period_of(module, now)
    client = client_from_params(params) if params['prometheus_url'] else None
    try:
        review = build_review(params, period, client, now=now)
    except SourceUnavailable as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **review)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
