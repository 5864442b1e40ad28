#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: dual_write_parity
short_description: Compare the SQLite database with its PostgreSQL dual-write mirror, and repair the mirror
version_added: 0.1.0
description:
  - The "Dual-Write Monitoring" procedures of the Inventory Enterprise operations guide
    (C(npm run verify:data-parity), C(npm run sync:sqlite-to-postgres) and the C(db_dual_write_errors_total)
    check) in one module.
  - Compares each table of the SQLite database (the source of truth) with the same table in PostgreSQL. Both
    sides cut the table into primary-key ranges of O(chunk_size) keys and summarise each range in SQL (row
    and value counts, exact integer sums of the numbers, MD5 of the text in key order); only ranges that
    differ are split further, down to ranges of 10 keys whose rows are compared value by value.
    Whole tables are never pulled into memory.
  - Reports, per table, the row counts and the rows C(missing) in PostgreSQL, C(extra) in PostgreSQL and
    C(changed) (same key, different values), with their total and the first O(max_ids) keys.
  - With O(sync=true), copies missing and changed rows from SQLite to PostgreSQL with
    C(INSERT ... ON CONFLICT DO UPDATE), in one transaction per table, so a second run finds nothing to do.
    Rows only PostgreSQL has are deleted only with O(delete_extra=true).
  - With O(check_metrics=true), also reads C(db_dual_write_errors_total) from the service's C(/metrics).
  - The SQLite side is read in one read transaction (one consistent snapshot, while the service keeps
    writing); PostgreSQL in one C(REPEATABLE READ) transaction. Rows the service commits during the comparison
    can show up as differences; run it again, or in a quiet window, to confirm.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.postgres
  - inventory_enterprise.ops.api
attributes:
  check_mode:
    support: full
    details: In check mode O(sync) only predicts C(changed) from the differences found; nothing is written.
  diff_mode:
    support: none
options:
  sqlite_path:
    description: The service's SQLite database, usually C(<service home>/data/enterprise_inventory.db).
    type: path
    required: true
  tables:
    description:
      - Tables to compare, in this order (parents before children when PostgreSQL has foreign keys).
      - Every table of the SQLite database when empty. Each needs a single INTEGER PRIMARY KEY.
    type: list
    elements: str
    default: []
  schema:
    description: PostgreSQL schema holding the mirror tables.
    type: str
    default: public
  chunk_size:
    description: Keys per first-level checksum range. Ranges that differ are split 100 times smaller.
    type: int
    default: 1000
  max_ids:
    description: How many keys of each kind (missing, extra, changed) are listed per table; totals are exact.
    type: int
    default: 100
  sync:
    description: Copy missing and changed rows from SQLite to PostgreSQL.
    type: bool
    default: false
  delete_extra:
    description: With O(sync), also delete the rows only PostgreSQL has.
    type: bool
    default: false
  batch_size:
    description: Rows per C(INSERT) statement when syncing.
    type: int
    default: 1000
  check_metrics:
    description: Read C(db_dual_write_errors_total) from C(/metrics) at O(api_url).
    type: bool
    default: false
  fail_on_difference:
    description: Fail when differences remain (after syncing, when O(sync=true)).
    type: bool
    default: false
requirements:
  - psycopg2 on the managed host.
  - prometheus-client on the managed host, only with O(check_metrics=true).
notes:
  - REAL (double precision) values are checksummed with 15 significant digits, as SQLite itself renders them;
    rows are then compared with their exact values, so a rendering difference is never reported as a change.
'''

EXAMPLES = r'''
- name: Verify data parity (the guide's npm run verify:data-parity) and read the dual-write error counter
  inventory_enterprise.ops.dual_write_parity:
    sqlite_path: /opt/inventory-enterprise/data/enterprise_inventory.db
    dsn: "{{ service_postgres_dsn }}"
    check_metrics: true
  register: parity

- name: Sync missing and changed records to PostgreSQL (npm run sync:sqlite-to-postgres)
  inventory_enterprise.ops.dual_write_parity:
    sqlite_path: /opt/inventory-enterprise/data/enterprise_inventory.db
    login_host: db1.example.com
    login_user: inventory
    login_password: "{{ vault_postgres_password }}"
    login_db: inventory
    tables: [item_master, inventory_counts, inventory_count_items, processed_invoices]
    sync: true
    fail_on_difference: true
'''

RETURN = r'''
tables:
  description: One entry per table compared.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Table name.
      type: str
    sqlite_rows:
      description: Rows in SQLite.
      type: int
    postgres_rows:
      description: Rows in PostgreSQL before any sync.
      type: int
    chunks:
      description: First-level key ranges compared.
      type: int
    chunks_differing:
      description: First-level key ranges whose checksums differed.
      type: int
    missing:
      description: Rows in SQLite but not in PostgreSQL, C(count) and the first O(max_ids) C(ids).
      type: dict
      sample: {"count": 2, "ids": [17, 18]}
    extra:
      description: Rows in PostgreSQL but not in SQLite, C(count) and C(ids).
      type: dict
    changed:
      description: Rows in both with different values, C(count) and C(ids).
      type: dict
    in_sync:
      description: Whether the table matched (before any sync).
      type: bool
    synced:
      description: Rows C(upserted) and C(deleted) in PostgreSQL (predicted in check mode).
      type: dict
      sample: {"upserted": 3, "deleted": 0}
    error:
      description: Why the table could not be compared (then the other counts are 0); null otherwise.
      type: str
in_sync:
  description: Whether every table matched and none had an error, before any sync.
  returned: always
  type: bool
remaining_differences:
  description: Rows still different after this run (what a sync did not repair, for example extra rows without
    O(delete_extra)).
  returned: always
  type: int
dual_write_errors:
  description: Value of C(db_dual_write_errors_total), null when not read or not exposed.
  returned: always
  type: float
summary:
  description: One readable line.
  returned: always
  type: str
  sample: "5 tables, 2 differ: processed_invoices 1 missing 1 changed; item_master 2 extra; synced 2 rows"
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _parity
from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _sqlite_maint as sq
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import (
    ApiClient,
    ApiError,
    api_argument_spec,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres import (
    PostgresConnection,
    PostgresError,
    fail_if_missing_psycopg2,
    postgres_argument_spec,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._prometheus import (
    Metrics,
    MetricsParseError,
    fail_if_missing_prometheus_client,
)

DUAL_WRITE_COUNTER = 'db_dual_write_errors_total'


def argument_spec():
    spec = postgres_argument_spec()
    spec.update(api_argument_spec())
    spec.update(
        sqlite_path=dict(type='path', required=True),
        tables=dict(type='list', elements='str', default=[]),
        schema=dict(type='str', default='public'),
        chunk_size=dict(type='int', default=_parity.DEFAULT_CHUNK_SIZE),
        max_ids=dict(type='int', default=100),
        sync=dict(type='bool', default=False),
        delete_extra=dict(type='bool', default=False),
        batch_size=dict(type='int', default=1000),
        check_metrics=dict(type='bool', default=False),
        fail_on_difference=dict(type='bool', default=False),
    )
    return spec


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


def read_counter(module):
    client = ApiClient.from_module(module)
    try:
        metrics = Metrics.parse(client.get('/metrics').text)
    except (ApiError, MetricsParseError) as exc:
        module.fail_json(msg='reading %s from %s failed: %s' % (DUAL_WRITE_COUNTER, client.url('/metrics'),
                                                                to_native(exc)))
    return metrics.value(DUAL_WRITE_COUNTER)


def bounded(ids, limit):
    return dict(count=len(ids), ids=ids[:limit])


def table_report(name, diff=None, error=None, limit=100):
    diff = diff or _parity.TableDiff(name)
    return dict(name=name, sqlite_rows=diff.sqlite_rows, postgres_rows=diff.postgres_rows, chunks=diff.chunks,
                chunks_differing=diff.chunks_differing, missing=bounded(diff.missing, limit),
                extra=bounded(diff.extra, limit), changed=bounded(diff.changed, limit),
                in_sync=error is None and diff.in_sync, synced=dict(upserted=0, deleted=0), error=error)


def summarize(reports, synced_rows, check_mode):
    differing = [r for r in reports if not r['in_sync']]
    parts = []
    for r in differing:
        if r['error']:
            parts.append('%s: %s' % (r['name'], r['error']))
            continue
        kinds = ['%d %s' % (r[k]['count'], k) for k in ('missing', 'extra', 'changed') if r[k]['count']]
        parts.append('%s %s' % (r['name'], ' '.join(kinds)))
    line = '%d tables, %d differ' % (len(reports), len(differing))
    if parts:
        line += ': ' + '; '.join(parts)
    if synced_rows:
        line += '; %s %d rows' % ('would sync' if check_mode else 'synced', synced_rows)
    return line


def run_module(module):
    params = module.params
    for name in ('chunk_size', 'max_ids', 'batch_size'):
        if params[name] < 1:
            module.fail_json(msg='%s must be at least 1, got %s' % (name, params[name]))
    if params['delete_extra'] and not params['sync']:
        module.fail_json(msg='delete_extra needs sync=true')
    fail_if_missing_psycopg2(module, reason='to compare with PostgreSQL')
    if params['check_metrics']:
        fail_if_missing_prometheus_client(module, reason='to read %s (or set check_metrics=false)'
                                          % DUAL_WRITE_COUNTER)
    started = time.monotonic()
    counter = read_counter(module) if params['check_metrics'] else None

    try:
        lite = sq.connect(params['sqlite_path'], readonly=True)
    except sq.SqliteMaintError as exc:
        module.fail_json(msg=to_native(exc))
    pg = PostgresConnection(params)
    try:
        pg.open()
        pg.conn.set_session(isolation_level='REPEATABLE READ', readonly=True)
        pg.execute('SET extra_float_digits = 3')  # floats read back exactly for the row comparison
        if pg.server_version >= 110000:
            pg.execute('SET jit = off')  # compiling the checksum expressions costs more than it saves
        # One read transaction: every table is compared against the same SQLite snapshot.
        lite.execute('BEGIN')
        tables = params['tables'] or _parity.sqlite_tables(lite)
        reports, pending = [], []
        for name in tables:
            try:
                spec = _parity.TableSpec.from_sqlite(lite, name)
                theirs = _parity.PostgresSide(pg, spec, params['schema'])
                ours = _parity.SqliteSide(lite, spec, theirs.kinds)
                diff = _parity.compare_table(ours, theirs, chunk_size=params['chunk_size'])
            except _parity.ParityError as exc:
                reports.append(table_report(name, error=to_native(exc)))
                continue
            reports.append(table_report(name, diff, limit=params['max_ids']))
            if not diff.in_sync:
                pending.append((reports[-1], ours, theirs, diff))
        pg.conn.commit()

        synced_rows = 0
        if params['sync']:
            pg.conn.set_session(isolation_level='READ COMMITTED', readonly=False)
            for report, ours, theirs, diff in pending:
                if module.check_mode:
                    upserted = len(diff.missing) + len(diff.changed)
                    deleted = len(diff.extra) if params['delete_extra'] else 0
                else:
                    upserted, deleted = _parity.sync_table(ours, theirs, diff, params['delete_extra'],
                                                           params['batch_size'])
                report['synced'] = dict(upserted=upserted, deleted=deleted)
                synced_rows += upserted + deleted
    except PostgresError as exc:
        module.fail_json(msg=to_native(exc))
    finally:
        pg.close()
        lite.close()

    remaining = 0
    for report in reports:
        if report['error']:
            continue
        left = report['missing']['count'] + report['changed']['count'] + report['extra']['count']
        left -= report['synced']['upserted'] + report['synced']['deleted']
        remaining += left
    errors = [r['name'] for r in reports if r['error']]
    result = dict(changed=synced_rows > 0, tables=reports, in_sync=all(r['in_sync'] for r in reports),
                  remaining_differences=remaining, dual_write_errors=counter,
                  summary=summarize(reports, synced_rows, module.check_mode),
                  elapsed_seconds=round(time.monotonic() - started, 3))
    if params['fail_on_difference'] and (remaining or errors):
        module.fail_json(msg='SQLite and PostgreSQL differ: %s; run with sync=true to copy SQLite to PostgreSQL '
                             '(and delete_extra=true for rows only PostgreSQL has)' % result['summary'], **result)
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
