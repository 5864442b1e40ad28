#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: procedure_metrics
short_description: Write the outcome of a procedure run by a playbook as node_exporter textfile metrics
version_added: 0.2.0
description:
  - Writes the metrics of a procedure that a playbook runs as a whole, the monthly restore drill
    (V(restore_drill), C(inventory_restore_drill_*)) and the morning checks (V(morning_check),
    C(inventory_morning_check_*)), into O(metrics_textfile_dir) on the host, for node_exporter's textfile
    collector. The backup writes its own (M(inventory_enterprise.ops.backup) O(metrics_textfile_dir)).
  - Last run and last success timestamps, outcome, duration, and per check (O(checks)) a status gauge; a
    failed run keeps the last success timestamp of the file it replaces. C(docs/procedure-metrics.md) lists them.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.textfile_metrics
attributes:
  check_mode:
    support: full
    details: Check mode writes nothing and returns the path it would write.
  diff_mode:
    support: none
options:
  procedure:
    description: The procedure whose run is recorded.
    type: str
    choices: [restore_drill, morning_check]
    required: true
  success:
    description: Whether the run succeeded.
    type: bool
    required: true
  started:
    description: Unix time the run started; the duration is counted from it to now. Unset writes no duration.
    type: float
  checks:
    description:
      - Verdict of each check of the run, V(true) or V(ok) for passed, V(false) or V(failed) for failed (the
        verdicts M(inventory_enterprise.ops.health_check) reports), written as C(<prefix>_status{check="<name>"}).
        Leave out the checks that were skipped.
    type: dict
    default: {}
'''

EXAMPLES = r'''
- name: Record the morning checks of this host
  inventory_enterprise.ops.procedure_metrics:
    procedure: morning_check
    success: "{{ failed_checks | length == 0 }}"
    started: "{{ started_at }}"
    checks: {health: ok, backup: failed}
    metrics_textfile_dir: /var/lib/prometheus/node-exporter
'''

RETURN = r'''
metrics_textfile:
  description: The textfile written (in check mode, that would be written); null when nothing was (see the warnings).
  returned: always
  type: str
  sample: /var/lib/prometheus/node-exporter/inventory_morning_check.prom
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _textfile_metrics


VERDICTS = dict(ok=True, failed=False)


def create_module():
    spec = _textfile_metrics.textfile_metrics_argument_spec()
    spec.update(
        procedure=dict(type='str', choices=['restore_drill', 'morning_check'], required=True),
        success=dict(type='bool', required=True),
        started=dict(type='float'),
        checks=dict(type='dict', default={}),
    )
    return AnsibleModule(argument_spec=spec, supports_check_mode=True)


def run_module(module):
    params = module.params
    finished = time.time()
    duration = None if params['started'] is None else finished - params['started']
    try:
        checks = dict((str(name), VERDICTS[value] if value in VERDICTS else boolean(value))
                      for name, value in params['checks'].items())
    except TypeError as exc:
        module.fail_json(msg='checks must map each check name to true/ok or false/failed: %s' % exc)
    path = _textfile_metrics.record(module, params['procedure'], params['success'], finished=finished,
                                    duration=duration, checks=checks)
    # The file is bookkeeping about the run, never a change to what the procedure manages.
    module.exit_json(changed=False, metrics_textfile=path)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
