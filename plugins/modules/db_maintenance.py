#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: db_maintenance
short_description: Maintain the Inventory Enterprise SQLite or PostgreSQL database (deprecated)
version_added: 0.1.0
deprecated:
  removed_in: 1.0.0
  why: One module served two engines that share no options, and both maintenance and reports.
  alternative: >-
    Use M(inventory_enterprise.ops.sqlite_maintenance) and M(inventory_enterprise.ops.sqlite_info) for SQLite,
    M(inventory_enterprise.ops.postgresql_maintenance) and M(inventory_enterprise.ops.postgresql_info) for
    PostgreSQL.
description:
  - Kept for one release so that existing playbooks keep working. It runs the operations of the four modules that
    replace it, with the same options and results as before; their documentation describes each task.
  - "O(engine=sqlite): V(holders), V(integrity_check), V(quick_check), V(wal), V(vacuum), V(reindex),
    V(analyze), V(optimize) (M(inventory_enterprise.ops.sqlite_maintenance)) and V(stats)
    (M(inventory_enterprise.ops.sqlite_info))."
  - "O(engine=postgresql): V(vacuum), V(analyze), V(reindex) (M(inventory_enterprise.ops.postgresql_maintenance))
    and V(activity), V(stats), V(bloat) (M(inventory_enterprise.ops.postgresql_info))."
  - Tasks run in a fixed safe order whatever the order of O(tasks) (checks first, writes after, statistics last).
    A failure result reports the tasks that ran before it, with C(changed=true) when one of them changed the
    database.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.postgres
attributes:
  check_mode:
    support: full
    details: Predictions are read-only.
  diff_mode:
    support: partial
    details: Shows the SQLite journal mode before and after V(wal).
options:
  engine:
    description: Which database to maintain.
    type: str
    choices: [sqlite, postgresql]
    default: sqlite
  tasks:
    description:
      - What to do. V(integrity_check), V(quick_check), V(optimize), V(wal) and V(holders) are SQLite only;
        V(activity) and V(bloat) PostgreSQL only.
    type: list
    elements: str
    choices: [integrity_check, quick_check, vacuum, analyze, optimize, reindex, wal, stats, holders, activity, bloat]
    default: [stats]
  path:
    description: The SQLite database file, usually C(<service home>/data/enterprise_inventory.db). Required for
      O(engine=sqlite).
    type: path
  busy_timeout:
    description: Seconds a SQLite statement waits for a lock held by another connection before it fails.
    type: float
    default: 30
  busy_retries:
    description: How many times a SQLite statement that timed out on a lock is retried before the module fails.
    type: int
    default: 2
  vacuum_min_free_percent:
    description: V(vacuum) on SQLite only runs when free pages make up more than this share of the file.
    type: float
    default: 10
  vacuum_force:
    description: Vacuum whatever the free pages (SQLite) or dead tuples (PostgreSQL).
    type: bool
    default: false
  indexes:
    description:
      - SQLite indexes to rebuild with V(reindex); the default is the three the guide names. An empty list
        means every index.
    type: list
    elements: str
    default: [idx_item_master_code, idx_inventory_counts_date, idx_ai_forecasts_entity]
  reindex_min_unused_percent:
    description:
      - V(reindex) on SQLite rebuilds an index only when more than this share of its pages is unused
        (measured with C(dbstat)). Without C(dbstat) every index in O(indexes) is rebuilt.
    type: float
    default: 25
  reindex_force:
    description: Rebuild the indexes whatever their fill.
    type: bool
    default: false
  count_tables:
    description: Tables whose rows V(stats) counts on SQLite (the guide's list by default).
    type: list
    elements: str
    default: [inventory_count_items, processed_invoices, ai_forecasts]
  top:
    description: How many of the largest tables and indexes V(stats) and V(bloat) report.
    type: int
    default: 10
  stop_holders:
    description:
      - With V(holders), stop every process that has the database open (SIGTERM, then SIGKILL after
        O(stop_timeout)), like the guide's C(fuser -k). Stopping the service interrupts it.
    type: bool
    default: false
  stop_timeout:
    description: Seconds between SIGTERM and SIGKILL with O(stop_holders).
    type: float
    default: 10
  schema:
    description: PostgreSQL schema whose tables are maintained.
    type: str
    default: public
  tables:
    description: PostgreSQL tables to vacuum, analyze or reindex; all tables of O(schema) when empty.
    type: list
    elements: str
    default: []
  reindex_concurrently:
    description: On PostgreSQL 12 and later, rebuild indexes with C(REINDEX TABLE CONCURRENTLY), which does not
      block writes. Older servers use a plain C(REINDEX TABLE).
    type: bool
    default: true
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
  - psycopg2 on the managed host, for O(engine=postgresql).
'''

EXAMPLES = r'''
- name: Weekly SQLite optimisation (now inventory_enterprise.ops.sqlite_maintenance)
  inventory_enterprise.ops.db_maintenance:
    path: /opt/inventory-enterprise/data/enterprise_inventory.db
    tasks: [quick_check, vacuum, reindex, analyze]
'''

RETURN = r'''
report:
  description:
    - One entry per task run, keyed by task name, in the order they ran; in a failure result also the task that
      failed, with C(failed=true) and its error as C(message).
    - Each entry holds the keys the replacing module returns for it, in RV(report).
  returned: always
  type: dict
  sample: {"vacuum": {"changed": false, "ran": false, "message": "not needed: 2.1% free pages, threshold 10.0%"}}
  contains:
    holders:
      description: SQLite lock holders, as RV(inventory_enterprise.ops.sqlite_maintenance#module:report.holders).
      returned: when V(holders) ran
      type: dict
    integrity_check:
      description: As RV(inventory_enterprise.ops.sqlite_maintenance#module:report.integrity_check).
      returned: when V(integrity_check) ran
      type: dict
    quick_check:
      description: As RV(inventory_enterprise.ops.sqlite_maintenance#module:report.quick_check).
      returned: when V(quick_check) ran
      type: dict
    wal:
      description: As RV(inventory_enterprise.ops.sqlite_maintenance#module:report.wal).
      returned: when V(wal) ran
      type: dict
    vacuum:
      description: As RV(inventory_enterprise.ops.sqlite_maintenance#module:report.vacuum) or
        RV(inventory_enterprise.ops.postgresql_maintenance#module:report.vacuum).
      returned: when V(vacuum) ran
      type: dict
    analyze:
      description: As RV(inventory_enterprise.ops.sqlite_maintenance#module:report.analyze) or
        RV(inventory_enterprise.ops.postgresql_maintenance#module:report.analyze).
      returned: when V(analyze) ran
      type: dict
    optimize:
      description: As RV(inventory_enterprise.ops.sqlite_maintenance#module:report.optimize).
      returned: when V(optimize) ran
      type: dict
    reindex:
      description: As RV(inventory_enterprise.ops.sqlite_maintenance#module:report.reindex) or
        RV(inventory_enterprise.ops.postgresql_maintenance#module:report.reindex).
      returned: when V(reindex) ran
      type: dict
    stats:
      description: As RV(inventory_enterprise.ops.sqlite_info#module:report.stats) or
        RV(inventory_enterprise.ops.postgresql_info#module:report.stats).
      returned: when V(stats) ran
      type: dict
    activity:
      description: As RV(inventory_enterprise.ops.postgresql_info#module:report.activity).
      returned: when V(activity) ran
      type: dict
    bloat:
      description: As RV(inventory_enterprise.ops.postgresql_info#module:report.bloat).
      returned: when V(bloat) ran
      type: dict
engine:
  description: The engine maintained.
  returned: always
  type: str
  sample: sqlite
target:
  description: The SQLite path, or the PostgreSQL server as user@host:port/db (never the password).
  returned: always
  type: str
  sample: /opt/inventory-enterprise/data/enterprise_inventory.db
messages:
  description: One line per task run, C(<task>) then its message, in the order they ran (in a failure result, the
    failing task's line holds its error).
  returned: always
  type: list
  elements: str
  sample: ["vacuum: not needed: 2.1% free pages, threshold 10.0%", "analyze: ANALYZE: statistics unchanged"]
changed_tasks:
  description: The tasks that changed (or, in check mode, would change) the database; in a failure result, also the
    failing task when it had changed something before it failed.
  returned: always
  type: list
  elements: str
  sample: [vacuum]
executed_queries:
  description: The write statements executed, in order (in check mode, the ones that would be).
  returned: always
  type: list
  elements: str
  sample: ["VACUUM"]
failed_task:
  description: The task that failed; null when the failure came before any task (options, connection).
  returned: on failure
  type: str
  sample: vacuum
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _sqlite_maint
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres import postgres_argument_spec
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres_operations import (
    POSTGRES_ORDER,
    run_postgres_module,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._sqlite_operations import (
    SQLITE_ORDER,
    run_sqlite_module,
)

LEGACY_KEYS = dict(changed='changed_tasks', failed='failed_task', executed='executed_queries')
ALL_TASKS = sorted(set(SQLITE_ORDER) | set(POSTGRES_ORDER))


def argument_spec():
    spec = postgres_argument_spec()
    spec.update(
        engine=dict(type='str', choices=['sqlite', 'postgresql'], default='sqlite'),
        tasks=dict(type='list', elements='str', choices=ALL_TASKS, default=['stats']),
        path=dict(type='path'),
        busy_timeout=dict(type='float', default=30.0),
        busy_retries=dict(type='int', default=2),
        vacuum_min_free_percent=dict(type='float', default=10.0),
        vacuum_force=dict(type='bool', default=False),
        indexes=dict(type='list', elements='str', default=list(_sqlite_maint.GUIDE_INDEXES)),
        reindex_min_unused_percent=dict(type='float', default=25.0),
        reindex_force=dict(type='bool', default=False),
        count_tables=dict(type='list', elements='str', default=list(_sqlite_maint.GUIDE_COUNT_TABLES)),
        top=dict(type='int', default=10),
        stop_holders=dict(type='bool', default=False),
        stop_timeout=dict(type='float', default=10.0),
        schema=dict(type='str', default='public'),
        tables=dict(type='list', elements='str', default=[]),
        reindex_concurrently=dict(type='bool', default=True),
        bloat_warning_percent=dict(type='float', default=20.0),
        bloat_critical_percent=dict(type='float', default=50.0),
        bloat_min_bytes=dict(type='int', default=10 * 1024 * 1024),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_if=[('engine', 'sqlite', ('path',))])
    engine, tasks = module.params['engine'], module.params['tasks']
    allowed = SQLITE_ORDER if engine == 'sqlite' else POSTGRES_ORDER
    wrong = [t for t in tasks if t not in allowed]
    problem = None
    if wrong:
        problem = 'task(s) %s are not available with engine=%s; choose from %s' % (
            ', '.join(wrong), engine, ', '.join(allowed))
    if engine == 'sqlite':
        run_sqlite_module(module, tasks, LEGACY_KEYS, extra=dict(engine=engine), problem=problem)
    else:
        run_postgres_module(module, tasks, LEGACY_KEYS, extra=dict(engine=engine), problem=problem,
                            reason='for engine=postgresql')


if __name__ == '__main__':
    main()
