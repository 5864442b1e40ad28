#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: end_of_day_check
short_description: The end-of-day checks of an Inventory Enterprise host
version_added: 0.2.0
description:
  - The guide's "End-of-Day Tasks" (6 PM) for one host, each a check with a verdict like the morning checks of
    M(inventory_enterprise.ops.health_check).
  - V(errors) counts today's C(ERROR) and C(CRITICAL) lines of C(<LOG_DIR>/application-<YYYY-MM-DD>.log) (the
    host's local date, as the service names its files) and lists the most frequent kinds of error, their
    numbers masked so one error with different figures counts as one kind. No log for today is V(skipped).
  - V(cache) reads C(GET /api/cache/stats) and compares its C(hit_rate) with O(min_cache_hit_rate) (the guide's
    target, over 85%). The service counts hits and misses since it started, so after a restart today the rate is
    today's; no lookup yet is V(ok).
  - V(backup) is the morning's backup check (the newest verified archive, no older than
    O(backup_max_age_hours)), with the error lines of today's C(backup-<YYYY-MM-DD>.log) added to its message.
  - V(anomalies) lists C(GET /api/ai/anomaly/list?days=1), today's consumption anomalies.
  - Reads only; never a change.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.api
  - inventory_enterprise.ops.service_paths
attributes:
  check_mode:
    support: full
    details: Reads only, in check mode as in a normal run.
  diff_mode:
    support: none
options:
  checks:
    description: The checks to run.
    type: list
    elements: str
    choices: [errors, cache, backup, anomalies]
    default: [errors, cache, backup, anomalies]
  top_errors:
    description: How many kinds of error (and anomalies) to list, most frequent first.
    type: int
    default: 5
  max_errors:
    description: Fail V(errors) when today's log has more error lines than this. Unset only reports them.
    type: int
  min_cache_hit_rate:
    description: Lowest acceptable cache hit rate, in percent.
    type: float
    default: 85
  backup_dir:
    description: Directory of the backup archives. Default C(BACKUP_DIR) of the service's C(.env), else C(backups).
    type: path
  backup_max_age_hours:
    description: Oldest acceptable newest verified backup, in hours (the 2 AM backup, seen at 6 PM, plus slack).
    type: float
    default: 24
  max_anomalies:
    description: Fail V(anomalies) when there are more than this many today. Unset only reports them.
    type: int
  host_label:
    description: Name of the host in RV(summary) and in failure messages.
    type: str
  report_only:
    description: When V(true), never fails; failed checks are reported and RV(ok) is V(false).
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: End-of-day checks of this host
  inventory_enterprise.ops.end_of_day_check:
    service_home: /opt/inventory-enterprise
    api_url: http://127.0.0.1:8083
    max_errors: 50
  register: eod
'''

RETURN = r'''
checks:
  description:
    - One entry per check, as in M(inventory_enterprise.ops.health_check) (C(name), C(verdict) V(ok), V(failed)
      or V(skipped), C(value), C(threshold), C(message), C(reading)).
    - The C(value) of V(errors) is C(log_file), C(exists), C(lines), C(count) and C(top) (C(kind), C(message),
      C(count), C(first_seen), C(last_seen)); of V(cache) the body of C(/api/cache/stats); of V(anomalies)
      C(total) and the first O(top_errors) C(anomalies); of V(backup) the newest verified archive.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "cache", "verdict": "ok", "value": {"hit_rate": 91.2, "hits": 912, "misses": 88}, "threshold": 85.0,
            "message": "cache hit rate 91.2% over 1000 lookups", "reading": "hit rate 91.2% of 85.0%"}]
failed_checks:
  description: Names of the failed checks.
  returned: always
  type: list
  elements: str
  sample: ["cache"]
ok:
  description: Whether no check failed.
  returned: always
  type: bool
summary:
  description: One readable line with the counts of ok, failed and skipped checks.
  returned: always
  type: str
  sample: "app1: 3 ok, 1 failed (cache)"
host:
  description: The host label used in the summary and in failure messages.
  returned: always
  type: str
'''

import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _checks, _end_of_day, _envfile, _service_layout
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import ApiClient, api_argument_spec


def create_module():
    spec = api_argument_spec()
    spec.update(_service_layout.service_paths_argument_spec())
    spec.update(
        checks=dict(type='list', elements='str', choices=list(_end_of_day.CHECKS), default=list(_end_of_day.CHECKS)),
        top_errors=dict(type='int', default=5),
        max_errors=dict(type='int'),
        min_cache_hit_rate=dict(type='float', default=85.0),
        backup_dir=dict(type='path'),
        backup_max_age_hours=dict(type='float', default=24.0),
        max_anomalies=dict(type='int'),
        host_label=dict(type='str'),
        report_only=dict(type='bool', default=False),
    )
    return AnsibleModule(argument_spec=spec, supports_check_mode=True)


def run_checks(module, paths):
    params = module.params
    client = ApiClient.from_module(module)
    backup_dir = params['backup_dir'] or paths['backup_dir']
    runs = dict(
        errors=lambda: _end_of_day.check_errors(paths['log_dir'], params['top_errors'], params['max_errors']),
        cache=lambda: _end_of_day.check_cache(client, params['min_cache_hit_rate']),
        backup=lambda: _end_of_day.check_backup(backup_dir, paths['log_dir'], params['backup_max_age_hours']),
        anomalies=lambda: _end_of_day.check_anomalies(client, params['top_errors'], params['max_anomalies']),
    )
    return [runs[name]() for name in _end_of_day.CHECKS if name in params['checks']]


def run_module(module):
    params = module.params
    host = params['host_label'] or socket.gethostname()
    if params['top_errors'] < 0:
        module.fail_json(msg='top_errors must be 0 or more, got %d' % params['top_errors'])
    try:
        paths = _service_layout.service_paths(
            params['service_home'], env_file=params['env_file'],
            **dict((k, params[k]) for k in ('database_path', 'transaction_log_path', 'config_dir', 'models_dir')))
    except _envfile.EnvFileError as exc:
        module.fail_json(msg="cannot read the service's configuration: %s" % exc)
    checks = run_checks(module, paths)
    failed = _checks.failed_names(checks)
    result = dict(changed=False, checks=checks, failed_checks=failed, ok=not failed, host=host,
                  summary=_checks.summarize(checks, host))
    if failed and not params['report_only']:
        module.fail_json(msg='end-of-day checks failed on %s: %s' % (host, '; '.join(
            '%s (%s)' % (c['name'], c['message']) for c in checks if c['verdict'] == _checks.FAILED)), **result)
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
