#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: postgresql_maintenance
short_description: Maintain the Inventory Enterprise PostgreSQL database
version_added: 0.2.0
description:
  - Runs the PostgreSQL steps of the "Database Maintenance" procedures of the Inventory Enterprise operations
    guide on a live database.
  - "V(vacuum), C(VACUUM (ANALYZE)) of the tables that have dead tuples or changes since their last analyze (or
    all with O(vacuum_force)); V(analyze); V(reindex), C(REINDEX TABLE CONCURRENTLY) where the server supports it
    (PostgreSQL 12 and later), after dropping the invalid C(_ccnew)/C(_ccold) indexes a failed concurrent reindex
    leaves behind."
  - Operations run in the order V(vacuum), V(analyze), V(reindex) whatever the order of O(operations).
  - A failure never hides earlier work. The failure result reports the operations that ran before it (with
    C(changed=true) when one of them changed the database) and what the failing one had done, and its message
    says what failed, where and what to do.
  - The connection summary, sizes and the bloat estimate are in M(inventory_enterprise.ops.postgresql_info).
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.postgres
attributes:
  check_mode:
    support: full
    details: Predictions read the statistics views only.
  diff_mode:
    support: none
options:
  operations:
    description: What to do.
    type: list
    elements: str
    choices: [vacuum, analyze, reindex]
    default: [vacuum]
  schema:
    description: Schema whose tables are maintained.
    type: str
    default: public
  tables:
    description: Tables to vacuum, analyze or reindex; all tables of O(schema) when empty.
    type: list
    elements: str
    default: []
  vacuum_force:
    description: Vacuum or analyze every table whatever its dead tuples and changes.
    type: bool
    default: false
  reindex_concurrently:
    description: On PostgreSQL 12 and later, rebuild indexes with C(REINDEX TABLE CONCURRENTLY), which does not
      block writes. Older servers use a plain C(REINDEX TABLE).
    type: bool
    default: true
requirements:
  - psycopg2 on the managed host.
seealso:
  - module: inventory_enterprise.ops.postgresql_info
  - module: inventory_enterprise.ops.sqlite_maintenance
'''

EXAMPLES = r'''
- name: Weekly PostgreSQL vacuum and analyze (the guide's VACUUM ANALYZE)
  inventory_enterprise.ops.postgresql_maintenance:
    login_host: db1.example.com
    login_user: inventory
    login_password: "{{ vault_postgres_password }}"
    login_db: inventory
    operations: [vacuum]

- name: Monthly index rebuild
  inventory_enterprise.ops.postgresql_maintenance:
    dsn: "{{ service_postgres_dsn }}"
    operations: [reindex]
'''

RETURN = r'''
report:
  description:
    - One entry per operation run, keyed by its name, in the order they ran. In a failure result, the operations
      that ran before the failure, and an entry for the one that failed with C(failed=true), its error as
      C(message) and what it had done so far (the keys below it had reached).
  returned: always
  type: dict
  sample: {"vacuum": {"changed": true, "tables": ["items"], "message": "ran VACUUM (ANALYZE) on items"}}
  contains:
    vacuum:
      description: C(VACUUM (ANALYZE)) of the tables that need it.
      returned: when V(vacuum) ran
      type: dict
      contains: &vacuum
        changed:
          description: Whether a table was (would be) vacuumed.
          type: bool
        message:
          description: What was done, or why not.
          type: str
        failed:
          description: Present, V(true), when the operation failed.
          type: bool
          returned: when the operation failed
        tables:
          description: Tables done (to be, in check mode; so far, in a failure).
          type: list
          elements: str
    analyze:
      description: C(ANALYZE) of the tables that changed since their last one; the keys of RV(report.vacuum).
      returned: when V(analyze) ran
      type: dict
      contains: *vacuum
    reindex:
      description: C(REINDEX TABLE) of the tables.
      returned: when V(reindex) ran
      type: dict
      contains:
        changed:
          description: Whether an index was (would be) rebuilt or dropped.
          type: bool
        message:
          description: What was done.
          type: str
        failed:
          description: Present, V(true), when the operation failed.
          type: bool
          returned: when the operation failed
        tables:
          description: Tables whose indexes were rebuilt (to be, in check mode; so far, in a failure).
          type: list
          elements: str
        concurrently:
          description: Whether C(CONCURRENTLY) was used.
          type: bool
        dropped_invalid:
          description: Invalid C(_ccnew)/C(_ccold) indexes dropped (to be, in check mode).
          type: list
          elements: str
target:
  description: The PostgreSQL server as user@host:port/db (never the password).
  returned: always
  type: str
  sample: inventory@db1.example.com:5432/inventory
messages:
  description: One line per operation run, its name then its message, in the order they ran (in a failure
    result, the failing operation's line holds its error).
  returned: always
  type: list
  elements: str
  sample: ["vacuum: ran VACUUM (ANALYZE) on items"]
changed_operations:
  description: The operations that changed (or, in check mode, would change) the database; in a failure result,
    also the failing one when it had changed something before it failed.
  returned: always
  type: list
  elements: str
  sample: [vacuum]
executed_queries:
  description: The statements executed, in order (in check mode, the ones that would be; in a failure result, the
    ones executed before it).
  returned: always
  type: list
  elements: str
  sample: ['VACUUM (ANALYZE) "public"."items"', 'REINDEX TABLE CONCURRENTLY "public"."items"']
failed_operation:
  description: The operation that failed; null when the failure came before any (options, connection).
  returned: on failure
  type: str
  sample: vacuum
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._maintenance_run import MAINTENANCE_KEYS
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres import postgres_argument_spec
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres_operations import (
    POSTGRES_WRITES,
    run_postgres_module,
)


def argument_spec():
    spec = postgres_argument_spec()
    spec.update(
        operations=dict(type='list', elements='str', choices=POSTGRES_WRITES, default=['vacuum']),
        schema=dict(type='str', default='public'),
        tables=dict(type='list', elements='str', default=[]),
        vacuum_force=dict(type='bool', default=False),
        reindex_concurrently=dict(type='bool', default=True),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_postgres_module(module, module.params['operations'], MAINTENANCE_KEYS)


if __name__ == '__main__':
    main()
