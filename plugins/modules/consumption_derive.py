#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: consumption_derive
short_description: Derive daily consumption from the service's counts and invoices
version_added: 0.2.0
description:
  - The guide's daily "Consumption Data Derivation" (C(POST /api/ai/consumption/derive) at 1 AM), run on the
    host that holds the service's SQLite database, with the same code the service runs.
  - Consumption between two counts of an item is the earlier count, plus the quantity invoices received after it
    up to and including the later count's day, minus the later count, spread evenly over the days between them.
    A negative result is a recount or a stock adjustment; it is stored as zero and listed in RV(adjustments).
  - Rows go to the C(consumption_history) table (created when the database predates it) with source C(derived).
    Rows imported from a file (source C(import), C(inventory-service import-consumption)) are never overwritten.
  - Idempotent; deriving the same range twice changes nothing and reports C(changed=false). C(changed) is true
    when rows were inserted or updated, or when the tables had to be created.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.service_paths
attributes:
  check_mode:
    support: full
    details: Computes the rows from a read-only connection and reports what a run would insert and update.
  diff_mode:
    support: none
options:
  start_date:
    description: First day derived (C(YYYY-MM-DD)). Default yesterday, as in the guide.
    type: str
  end_date:
    description: Last day derived (C(YYYY-MM-DD)). Default today.
    type: str
seealso:
  - module: inventory_enterprise.ops.consumption_anomalies
'''

EXAMPLES = r'''
- name: Derive yesterday's consumption (daily, 1 AM)
  inventory_enterprise.ops.consumption_derive:
    service_home: /opt/inventory-enterprise

- name: Rebuild a quarter after corrected counts
  inventory_enterprise.ops.consumption_derive:
    service_home: /opt/inventory-enterprise
    start_date: "2026-07-01"
    end_date: "2026-09-30"
'''

RETURN = r'''
inserted:
  description: Item-days written for the first time (in check mode, that would be written).
  returned: always
  type: int
  sample: 290
updated:
  description: Item-days whose derived quantity changed (a corrected count or invoice).
  returned: always
  type: int
  sample: 0
unchanged:
  description: Item-days already stored with the same quantity.
  returned: always
  type: int
  sample: 290
kept_import:
  description: Item-days left alone because their row was imported from a file.
  returned: always
  type: int
  sample: 0
items:
  description: Item codes with inserted or updated rows.
  returned: always
  type: list
  elements: str
  sample: ["DEMO-0001", "DEMO-0002"]
adjustments:
  description: Intervals between two counts whose consumption came out negative (recorded as zero).
  returned: always
  type: list
  elements: dict
  contains:
    item_code:
      description: The item.
      type: str
    from:
      description: Day of the earlier count.
      type: str
    to:
      description: Day of the later count.
      type: str
    quantity:
      description: The negative consumption the counts and invoices gave.
      type: float
range:
  description: The days derived.
  returned: always
  type: dict
  contains:
    start_date:
      description: First day.
      type: str
    end_date:
      description: Last day.
      type: str
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

EMPTY = dict(inserted=0, updated=0, unchanged=0, kept_import=0, items=[], adjustments=[])


def main():
    module = AnsibleModule(argument_spec=_consumption_module.argument_spec(
        start_date=dict(type='str'), end_date=dict(type='str')), supports_check_mode=True)
    today = datetime.date.today()
    start = module.params['start_date'] or (today - datetime.timedelta(days=1)).isoformat()
    end = module.params['end_date'] or today.isoformat()
    requested = dict(start_date=start, end_date=end)
    path = _consumption_module.database_path(module, range=requested, database=None, **EMPTY)
    try:
        conn = _consumption_module.connect(path, read_only=module.check_mode)
        try:
            had_schema = _consumption.has_schema(conn)
            result = _consumption.derive(conn, start, end, write=not module.check_mode)
        finally:
            conn.close()
    except _consumption.ConsumptionError as exc:
        module.fail_json(msg='%s. Nothing was changed.' % exc, changed=False, range=requested, database=path,
                         **EMPTY)
    except sqlite3.Error as exc:
        # derive writes in one transaction: a failure leaves the table as it was.
        module.fail_json(msg='deriving consumption for %s..%s in %s failed: %s. Nothing was changed; check that the '
                         'file is the service\'s database and is not locked by a long transaction, then run again.'
                         % (start, end, path, exc), changed=False, range=requested, database=path, **EMPTY)
    # Creating the tables in a database that predates them is a change too.
    module.exit_json(changed=bool(result['inserted'] or result['updated'] or not had_schema), database=path,
                     **result)


if __name__ == '__main__':
    main()
