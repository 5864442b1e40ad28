#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: postgresql_info
short_description: Read the state of the Inventory Enterprise PostgreSQL database
version_added: 0.2.0
description:
  - The read-only side of the guide's PostgreSQL "Database Maintenance" procedures.
  - "V(activity), a C(pg_stat_activity) summary (connections by state, longest running query, sessions idle in
    transaction); V(stats), table and index sizes; V(bloat), a per-table bloat estimate (the ioguix estimation
    query, as used by check_pgactivity) with warning and critical thresholds."
  - Never changes anything; M(inventory_enterprise.ops.postgresql_maintenance) vacuums and rebuilds indexes.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.postgres
attributes:
  check_mode:
    support: full
    details: Reads only, in check mode as in a normal run.
  diff_mode:
    support: none
options:
  gather:
    description: What to read.
    type: list
    elements: str
    choices: [activity, stats, bloat]
    default: [activity]
  schema:
    description: Schema whose tables are reported.
    type: str
    default: public
  top:
    description: How many of the largest tables and indexes V(stats) and V(bloat) report.
    type: int
    default: 10
  bloat_warning_percent:
    description: Estimated table bloat (share of the table) that gives a V(warning).
    type: float
    default: 20
  bloat_critical_percent:
    description: Estimated table bloat (share of the table) that gives a V(critical) status.
    type: float
    default: 50
  bloat_min_bytes:
    description: Tables with less estimated bloat than this, in bytes, are never flagged (small tables always
      look bloated).
    type: int
    default: 10485760
requirements:
  - psycopg2 on the managed host.
notes:
  - Bloat estimates come from planner statistics; run M(inventory_enterprise.ops.postgresql_maintenance)
    V(analyze) first for tables never analyzed.
seealso:
  - module: inventory_enterprise.ops.postgresql_maintenance
  - module: inventory_enterprise.ops.sqlite_info
'''

EXAMPLES = r'''
- name: Daily connection summary (the guide's pg_stat_activity)
  inventory_enterprise.ops.postgresql_info:
    dsn: "{{ service_postgres_dsn }}"
    gather: [activity]

- name: Monthly sizes and bloat report
  inventory_enterprise.ops.postgresql_info:
    dsn: "{{ service_postgres_dsn }}"
    gather: [stats, bloat]
  register: pg_stats
'''

RETURN = r'''
report:
  description:
    - One entry per item of O(gather) read, keyed by its name. In a failure result, the items read before the
      failure, and an entry for the one that failed with C(failed=true) and its error as C(message).
  returned: always
  type: dict
  sample: {"bloat": {"changed": false, "tables": [], "warning": [], "critical": [],
           "message": "0 table(s): 0 critical, 0 warning"}}
  contains:
    activity:
      description: C(pg_stat_activity) summary.
      returned: when V(activity) ran
      type: dict
      contains:
        changed:
          description: Always V(false).
          type: bool
        message:
          description: A one-line summary.
          type: str
        failed:
          description: Present, V(true), when reading failed.
          type: bool
          returned: when the operation failed
        total:
          description: Client connections to this database.
          type: int
        server_total:
          description: Client connections to the whole server.
          type: int
        max_connections:
          description: The server's C(max_connections).
          type: int
        usage_percent:
          description: RV(report.activity.server_total) as a percentage of RV(report.activity.max_connections).
          type: float
        by_state:
          description: Connections to this database by state.
          type: dict
        idle_in_transaction:
          description: Sessions idle in transaction.
          type: int
        longest_query:
          description: The longest running active query (C(pid), C(user), C(application), C(state), C(seconds),
            C(query)), null when none.
          type: dict
        longest_idle_in_transaction:
          description: The session longest idle in transaction (the same keys), null when none.
          type: dict
    stats:
      description: Sizes.
      returned: when V(stats) ran
      type: dict
      contains:
        changed:
          description: Always V(false).
          type: bool
        message:
          description: A one-line summary.
          type: str
        failed:
          description: Present, V(true), when reading failed.
          type: bool
          returned: when the operation failed
        database_bytes:
          description: Size of the database.
          type: int
        tables:
          description: The largest tables (C(name), C(total_bytes), C(table_bytes), C(index_bytes), C(live_rows),
            C(dead_rows)).
          type: list
          elements: dict
        indexes:
          description: The largest indexes (C(name), C(table), C(bytes), C(valid)).
          type: list
          elements: dict
    bloat:
      description: Per-table bloat estimate.
      returned: when V(bloat) ran
      type: dict
      contains:
        changed:
          description: Always V(false).
          type: bool
        message:
          description: A one-line summary.
          type: str
        failed:
          description: Present, V(true), when reading failed.
          type: bool
          returned: when the operation failed
        tables:
          description: The O(top) most bloated tables (C(name), C(bytes), C(bloat_bytes), C(bloat_percent),
            C(dead_tuples), C(live_tuples), C(status) V(ok), V(warning), V(critical) or V(unknown)).
          type: list
          elements: dict
        warning:
          description: Tables over O(bloat_warning_percent).
          type: list
          elements: str
        critical:
          description: Tables over O(bloat_critical_percent).
          type: list
          elements: str
target:
  description: The PostgreSQL server as user@host:port/db (never the password).
  returned: always
  type: str
  sample: inventory@db1.example.com:5432/inventory
messages:
  description: One line per item read, its name then its message (in a failure result, the failing item's line
    holds its error).
  returned: always
  type: list
  elements: str
  sample: ["activity: 3 connection(s) to this database (3 idle); 5 of 100 server-wide; 0 idle in transaction"]
failed_operation:
  description: The item of O(gather) that failed; null when the failure came before any (options, connection).
  returned: on failure
  type: str
  sample: bloat
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._maintenance_run import INFO_KEYS
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres import postgres_argument_spec
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres_operations import (
    POSTGRES_INFO,
    run_postgres_module,
)


def argument_spec():
    spec = postgres_argument_spec()
    spec.update(
        gather=dict(type='list', elements='str', choices=POSTGRES_INFO, default=['activity']),
        schema=dict(type='str', default='public'),
        top=dict(type='int', default=10),
        bloat_warning_percent=dict(type='float', default=20.0),
        bloat_critical_percent=dict(type='float', default=50.0),
        bloat_min_bytes=dict(type='int', default=10 * 1024 * 1024),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_postgres_module(module, module.params['gather'], INFO_KEYS)


if __name__ == '__main__':
    main()
