#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: consumption_anomalies
short_description: Detect or list consumption anomalies of the Inventory Enterprise service
version_added: 0.2.0
description:
  - The guide's weekly C(POST /api/ai/consumption/detect-anomalies) (O(state=detected)) and
    C(GET /api/ai/anomaly/list) (O(state=listed)), run on the host that holds the service's SQLite database with
    the same code the service runs.
  - "Each day is compared with the same weekday of the 8 weeks before it: a robust z-score (distance from their
    median in units of their median absolute deviation, at least 15% of the median) above 3.5 either way is an
    anomaly. For an intermittent item (more than half of those days zero) a zero day is normal and a non-zero day
    is compared with the non-zero days of the 8 weeks."
  - Detected anomalies are recorded in the C(ai_anomalies) table (created when the database predates it), once
    per item and day; a second run over the same days records nothing and reports C(changed=false).
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.service_paths
attributes:
  check_mode:
    support: full
    details: Scans from a read-only connection and reports in RV(new) what a run would record.
  diff_mode:
    support: none
options:
  state:
    description:
      - V(listed) returns the anomalies recorded for the last O(days) days (days on or after today minus O(days));
        it never writes.
      - V(detected) scans the last O(days) days, today included, and records the anomalies not recorded yet.
    type: str
    choices: [detected, listed]
    default: listed
  days:
    description: Days looked at. Default V(1) for O(state=listed), V(28) for O(state=detected).
    type: int
seealso:
  - module: inventory_enterprise.ops.consumption_derive
'''

EXAMPLES = r'''
- name: Weekly anomaly detection
  inventory_enterprise.ops.consumption_anomalies:
    service_home: /opt/inventory-enterprise
    state: detected

- name: Anomalies of the last day (morning check)
  inventory_enterprise.ops.consumption_anomalies:
    service_home: /opt/inventory-enterprise
  register: anomalies
'''

RETURN = r'''
anomalies:
  description:
    - O(state=listed), the recorded anomalies, newest day first.
    - O(state=detected), every anomaly found in the days scanned, recorded before or by this run.
  returned: always
  type: list
  elements: dict
  contains:
    item_code:
      description: The item.
      type: str
    day:
      description: The day (C(YYYY-MM-DD)).
      type: str
    quantity:
      description: The day's consumption.
      type: float
    expected:
      description: The baseline's median.
      type: float
    score:
      description: The robust z-score; positive for more consumption than expected.
      type: float
new:
  description: Anomalies recorded by this run (in check mode, that a run would record).
  returned: when O(state=detected)
  type: int
  sample: 3
since:
  description: First day looked at.
  returned: always
  type: str
  sample: "2026-11-02"
database:
  description: The database file used.
  returned: always
  type: str
  sample: /opt/inventory-enterprise/data/enterprise_inventory.db
'''

import datetime
import sqlite3

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _consumption, _consumption_module

DEFAULT_DAYS = dict(listed=1, detected=28)


def main():
    module = AnsibleModule(argument_spec=_consumption_module.argument_spec(
        state=dict(type='str', choices=['detected', 'listed'], default='listed'),
        days=dict(type='int')), supports_check_mode=True)
    state = module.params['state']
    days = module.params['days'] or DEFAULT_DAYS[state]
    detect = state == 'detected'
    empty = dict(anomalies=[], new=0) if detect else dict(anomalies=[])
    if module.params['days'] is not None and module.params['days'] < 1:
        module.fail_json(msg='days must be at least 1, got %d' % module.params['days'], changed=False, since=None,
                         database=None, **empty)
    today = datetime.date.today()
    since = today - datetime.timedelta(days=days - 1 if detect else days)
    path = _consumption_module.database_path(module, since=since.isoformat(), database=None, **empty)
    write = detect and not module.check_mode
    try:
        conn = _consumption_module.connect(path, read_only=not write)
        try:
            if detect:
                had_schema = _consumption.has_schema(conn)
                found, new = _consumption.detect_anomalies(conn, since, today=today, write=write)
                # Creating the table in a database that predates it is a change too.
                result = dict(anomalies=found, new=new, changed=new > 0 or (write and not had_schema))
            else:
                result = dict(anomalies=_consumption.list_anomalies(conn, days, today=today), changed=False)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        # Anomalies are recorded in one transaction: a failure records none.
        module.fail_json(msg='%s anomalies in %s failed: %s. Nothing was changed; check that the file is the '
                         'service\'s database and is not locked by a long transaction, then run again.'
                         % ('detecting' if detect else 'listing', path, exc), changed=False,
                         since=since.isoformat(), database=path, **empty)
    module.exit_json(since=since.isoformat(), database=path, **result)


if __name__ == '__main__':
    main()
