#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: migration_review
short_description: The quarterly PostgreSQL migration evaluation, measured - stay on SQLite, prepare, or migrate
version_added: 1.7.0
description:
  - The guide's quarterly "PostgreSQL migration evaluation", whose trigger is "high concurrency", measured on an app
    server over the last O(lookback_days) days, with a recommendation and the figures behind it.
  - SQLite lock waits and busy errors from the service's application logs (hot files and, with O(archive_dir),
    archives), counted per day - the lines C(WARNING sqlite busy wait_ms=<n> op=<operation>) (a write waited for
    another connection's write lock, logged from 50 ms) and C(ERROR sqlite database is locked wait_ms=<n> ...)
    (it gave up after the service's busy timeout); the line format is in docs/logs.md.
  - The write rate from the transaction log (one line per committed write) - writes per day and the busiest minute.
  - The database size now (file + WAL) and, from the header of the database in each backup archive of the window,
    its size over time and growth per day.
  - With a PostgreSQL mirror (O(dsn) or the service's C(POSTGRES_DSN)) - whether it answers, its version, the
    service's tables there and their row counts against SQLite's, dual-write failures (logged, and
    C(db_dual_write_errors_total) from C(/metrics)), and the last dual-write parity checkpoint.
  - Decision - V(migrate) when busy errors per day, the p95 lock wait or the peak writes per minute exceed their
    limit; V(prepare_migration) when any of them exceeds half its limit or the database exceeds
    O(max_database_size_gib); otherwise V(stay_on_sqlite). Each tripped limit is also a finding.
  - A source that cannot be read is listed in RV(unavailable) and decides nothing; the module fails only when
    nothing at all could be read. Read-only, the same in check mode.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.service_paths
  - inventory_enterprise.ops.api
  - inventory_enterprise.ops.postgres
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  lookback_days:
    description: Days the review looks back over (a quarter by default).
    type: int
    default: 92
  log_dir:
    description: Directory of the daily log files. Default C(LOG_DIR) of the service's C(.env), else C(logs).
    type: path
  archive_dir:
    description: Root of the log archive (C(<archive_dir>/logs/YYYY-MM/)), read as well as O(log_dir).
    type: path
  backup_dir:
    description: Directory of the backup archives. Default C(BACKUP_DIR) of the service's C(.env), else C(backups).
    type: path
  max_busy_errors_per_day:
    description:
      - Limit of busy errors (writes that failed with "database is locked") per day, averaged over the days with
        logs. Above it - V(migrate); above half of it - V(prepare_migration).
      - Each is a write a user lost; one a day on average means the lock is contended every day.
    type: float
    default: 1
  max_lock_wait_p95_ms:
    description:
      - Limit of the p95 of the logged waits for the write lock, in ms. Above it - V(migrate); above half - prepare.
      - The default is a fifth of the service's 5 s busy timeout; past it, writes queue long enough for users to notice.
    type: float
    default: 1000
  max_peak_writes_per_minute:
    description:
      - Limit of the writes in the busiest minute. Above it - V(migrate); above half - prepare.
      - SQLite takes one writer at a time and the service syncs two files per write; 20 writes a second is what
        a single writer on a slow disk sustains with room to spare (the SQLite FAQ's "a few dozen transactions a
        second" on a rotating disk).
    type: float
    default: 1200
  max_database_size_gib:
    description: Database size (file + WAL) in GiB above which the review says V(prepare_migration).
    type: float
    default: 10
  schema:
    description: Schema of the mirror tables in PostgreSQL.
    type: str
    default: public
  check_metrics:
    description: With a mirror, read C(db_dual_write_errors_total) from the service's C(/metrics) (O(api_url)).
    type: bool
    default: true
  busy_timeout:
    description: Seconds to wait for a lock when reading the SQLite database (row counts, parity checkpoint).
    type: float
    default: 10
requirements:
  - zstandard on the managed host, to read C(.zst) archives (logs and backups).
  - psycopg2 on the managed host, only with a PostgreSQL mirror.
  - prometheus-client on the managed host, only with a mirror and O(check_metrics).
notes:
  - The lock-wait lines are those the reference service writes (reference/inventory_service/db.py); a service that
    does not write them shows no waits and no busy errors, which is not the same as none.
  - docs/reviews.md of the collection explains each finding and its threshold.
'''

EXAMPLES = r'''
- name: Quarterly PostgreSQL migration evaluation
  inventory_enterprise.ops.migration_review:
    service_home: /opt/inventory-enterprise
    archive_dir: /mnt/archive/app1
  register: migration

- name: Show the recommendation
  ansible.builtin.debug:
    msg: "{{ migration.recommendation.decision }}: {{ migration.recommendation.reasons | join('; ') }}"
'''

RETURN = r'''
review:
  description: Always V(migration).
  returned: always
  type: str
  sample: migration
generated_at:
  description: When the review was made, ISO-8601 UTC; also the end of the window.
  returned: always
  type: str
  sample: "2026-12-01T06:00:00Z"
recommendation:
  description: The decision and the figures behind it.
  returned: always
  type: dict
  contains:
    decision:
      description: V(stay_on_sqlite), V(prepare_migration) or V(migrate).
      type: str
      sample: prepare_migration
    reasons:
      description: What decided first, then what was within its limit, then what could not be measured, with figures.
      type: list
      elements: str
      sample: ["p95 wait for the SQLite write lock (ms) 640 over half the limit 1000",
               "busy errors (\"database is locked\") per day 0.00 within half the limit 1"]
findings:
  description:
    - Most severe first. V(busy_errors_over_limit), V(lock_wait_p95_over_limit), V(write_rate_over_limit) (high) and
      the V(*_near_limit) ones (medium), V(database_size_over_limit) (medium), V(postgres_mirror_unreachable)
      (high), V(postgres_mirror_tables_missing), V(postgres_mirror_rows_differ), V(dual_write_errors) (medium),
      V(postgres_mirror_not_configured) (info).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Stable code of the finding.
      type: str
    severity:
      description: V(critical), V(high), V(medium), V(low) or V(info).
      type: str
    summary:
      description: One line for a person; never a secret.
      type: str
    subject:
      description: What it is about (a figure, a table, the mirror as user@host:port/db).
      type: str
    value:
      description: The measured figure, or null.
      type: raw
    threshold:
      description: The limit it was judged against, or null.
      type: raw
figures:
  description: The figures behind the decision; a figure that could not be measured is left out.
  returned: always
  type: dict
  contains:
    lookback_days: {description: Days looked back over., type: int}
    window_start: {description: Start of the window (ISO-8601 UTC)., type: str}
    window_end: {description: End of the window (ISO-8601 UTC)., type: str}
    log_days: {description: Days of the window with an application log file., type: int}
    busy_errors_total: {description: Busy errors logged in the window., type: int}
    busy_errors_per_day: {description: Busy errors per day with logs., type: float}
    busy_errors_peak_day: {description: Busy errors of the worst day., type: int}
    lock_waits_total: {description: Lock waits of 50 ms or more logged in the window., type: int}
    lock_waits_per_day: {description: Lock waits per day with logs., type: float}
    lock_wait_p95_ms:
      description: Nearest-rank p95 of the logged waits in ms (0 when logs exist but no wait reached 50 ms).
      type: int
    lock_wait_max_ms: {description: Longest logged wait in ms., type: int}
    dual_write_failures_logged: {description: Dual-write failures logged in the window., type: int}
    writes_total: {description: Writes in the transaction log in the window., type: int}
    writes_per_day: {description: Writes per day the transaction log covers., type: float}
    writes_peak_day: {description: Writes of the busiest day., type: int}
    peak_writes_per_minute: {description: Writes of the busiest minute., type: int}
    peak_minute: {description: The busiest minute (ISO-8601 UTC)., type: str}
    transaction_log_days: {description: Days of the window the transaction log covers., type: int}
    database_bytes: {description: Database file plus WAL in bytes., type: int}
    database_file_bytes: {description: Database file in bytes., type: int}
    database_wal_bytes: {description: WAL file in bytes., type: int}
    database_growth_bytes_per_day:
      description: Growth in bytes per day, fitted over the backups of the window and the size now.
      type: float
    dual_write_enabled: {description: C(DUAL_WRITE_ENABLED) of the service's C(.env) (V(true) or V(false))., type: str}
    postgres_mirror: {description: "V(not_configured), V(reachable) or V(unreachable).", type: str}
    postgres_server_version: {description: The mirror's PostgreSQL version., type: str}
    mirror_tables: {description: SQLite tables present in the mirror., type: int}
    mirror_tables_missing: {description: SQLite tables missing from the mirror., type: int}
    mirror_row_difference: {description: Sum over the tables of the row count differences., type: int}
    dual_write_errors_total: {description: "C(db_dual_write_errors_total) from C(/metrics), since the service started.", type: float}
    parity_last_checked_at: {description: Time of dual_write_parity's last checkpoint., type: str}
    parity_marked_keys: {description: Keys changed or found different since that checkpoint., type: int}
series:
  description: Chart data; a series without data is left out (and its source is in RV(unavailable)).
  returned: always
  type: dict
  contains:
    busy_errors_per_day:
      description: Busy errors per UTC day (kind V(time), unit V(count)), for the days with logs.
      type: dict
    lock_waits_per_day:
      description: Lock waits per UTC day (kind V(time), unit V(count)).
      type: dict
    dual_write_failures_per_day:
      description: Dual-write failures per UTC day (kind V(time), unit V(count)).
      type: dict
    writes_per_day:
      description: Writes per UTC day from the transaction log (kind V(time), unit V(count)).
      type: dict
    db_size_bytes:
      description: Database size at each backup of the window, then now (kind V(time), unit V(bytes)).
      type: dict
unavailable:
  description: What the review could not include, and why; never silently zero.
  returned: always
  type: list
  elements: dict
  contains:
    source:
      description: V(logs), V(transaction_log), V(database), V(backups), V(postgres), V(metrics) or V(parity_history).
      type: str
    reason:
      description: Why, and what to do.
      type: str
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import (
    _envfile,
    _log_lines,
    _migration_review,
    _migration_sources,
    _postgres_mirror,
    _service_layout,
    _sqlite_maint,
    _transaction_log,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import ApiClient, ApiError, api_argument_spec
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres import HAS_PSYCOPG2, postgres_argument_spec
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._prometheus import Metrics, MetricsParseError

DUAL_WRITE_COUNTER = 'db_dual_write_errors_total'


def argument_spec():
    spec = dict(
        lookback_days=dict(type='int', default=92),
        log_dir=dict(type='path'),
        archive_dir=dict(type='path'),
        backup_dir=dict(type='path'),
        max_busy_errors_per_day=dict(type='float', default=1.0),
        max_lock_wait_p95_ms=dict(type='float', default=1000.0),
        max_peak_writes_per_minute=dict(type='float', default=1200.0),
        max_database_size_gib=dict(type='float', default=10.0),
        schema=dict(type='str', default='public'),
        check_metrics=dict(type='bool', default=True),
        busy_timeout=dict(type='float', default=10.0),
    )
    spec.update(_service_layout.service_paths_argument_spec())
    spec.update(api_argument_spec())
    spec.update(postgres_argument_spec())
    return spec


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


def validate(module):
    params = module.params
    if params['lookback_days'] < 1:
        module.fail_json(msg='lookback_days must be at least 1, got %d' % params['lookback_days'])
    for name in _migration_review.LIMIT_OPTIONS + ('busy_timeout',):
        if params[name] <= 0:
            module.fail_json(msg='%s must be greater than 0, got %s' % (name, params[name]))


def read_logs(review, params, paths):
    log_dir = os.path.abspath(params['log_dir'] or paths['log_dir'])
    if not os.path.isdir(log_dir) and not params['archive_dir']:
        review.missing('logs', 'the log directory %s does not exist: check log_dir, or LOG_DIR in the service\'s '
                       '.env' % log_dir)
        return
    lock_log = _migration_sources.read_lock_log(log_dir, params['archive_dir'], review.since, review.until)
    review.add_lock_log(lock_log, _migration_sources.percentile, params['archive_dir'])


def read_transaction_log(review, paths):
    try:
        rates = _transaction_log.write_rates(paths['transaction_log_path'], _log_lines.stamp_of(review.since),
                                             _log_lines.stamp_of(review.until))
    except _transaction_log.TransactionLogError as exc:
        review.missing('transaction_log', str(exc))
        return
    review.add_write_rates(rates)


def read_database(review, paths):
    try:
        main, wal = _migration_sources.database_size(paths['database_path'])
    except OSError as exc:
        review.missing('database', 'cannot read the size of %s: %s; check database_path (or DATABASE_PATH in .env)'
                       % (paths['database_path'], exc.strerror or exc))
        return
    history, unreadable = _migration_sources.backup_size_history(paths['backup_dir'], review.since)
    for entry in unreadable:
        review.missing('backups', 'archive %s: its database size cannot be read' % entry)
    if not history:
        review.missing('backups', 'no backup archive of the window in %s: the database size over time and its growth '
                       'are not known' % paths['backup_dir'])
    growth = _migration_sources.growth_per_day(history + [(review.until, main)]) if history else None
    review.add_database_size(main, wal, history, growth)


def mirror_params(params, env):
    """The postgres options with the service's POSTGRES_DSN when no dsn is given; None when no mirror is named."""
    pg_params = dict((key, params[key]) for key in postgres_argument_spec())
    pg_params['dsn'] = params['dsn'] or env.get('POSTGRES_DSN') or None
    if not (pg_params['dsn'] or pg_params['login_host'] or pg_params['login_unix_socket']):
        return None
    return pg_params


def read_counter(module):
    client = ApiClient.from_module(module)
    return Metrics.parse(client.get('/metrics').text).value(DUAL_WRITE_COUNTER)


def read_mirror(module, review, paths, pg_params, env):
    enabled = env.get('DUAL_WRITE_ENABLED', '').strip().lower() in ('1', 'true', 'yes', 'on')  # the service's reading
    review.figures['dual_write_enabled'] = 'true' if enabled else 'false'
    conn = checkpoint = None
    try:
        conn = _sqlite_maint.connect(paths['database_path'], int(module.params['busy_timeout'] * 1000), readonly=True)
        checkpoint = _postgres_mirror.parity_checkpoint(conn)
    except Exception as exc:  # pylint: disable=broad-except  # SqliteMaintError, sqlite3.Error: reported, not fatal
        review.missing('database', 'cannot read %s for the mirror comparison: %s' % (paths['database_path'], exc))
    try:
        if HAS_PSYCOPG2:
            review.add_mirror(_postgres_mirror.read_mirror(pg_params, conn, module.params['schema']), checkpoint)
        else:
            review.missing('postgres', 'the Python library psycopg2 is not installed on this host '
                           '(requirements/managed.txt): the mirror is not checked')
    finally:
        if conn is not None:
            conn.close()
    counter = None
    if module.params['check_metrics']:
        try:
            counter = read_counter(module)
        except (ApiError, MetricsParseError) as exc:
            review.missing('metrics', 'reading %s failed: %s' % (DUAL_WRITE_COUNTER, exc))
    review.add_dual_write_errors(counter)


def run_module(module):
    validate(module)
    params = module.params
    try:
        paths = _service_layout.service_paths_from_params(params, backup_dir=params['backup_dir'])
        env = _envfile.read_env_file(paths['env_file'], missing_ok=True) or {}
    except _envfile.EnvFileError as exc:
        module.fail_json(msg=str(exc))
    review = _migration_review.MigrationReview(params['lookback_days'])
    read_logs(review, params, paths)
    read_transaction_log(review, paths)
    read_database(review, paths)
    pg_params = mirror_params(params, env)
    if pg_params is None:
        review.add_no_mirror()
    else:
        read_mirror(module, review, paths, pg_params, env)
    limits = dict((name, params[name]) for name in _migration_review.LIMIT_OPTIONS)
    result = review.result(limits)
    if not review.read:
        module.fail_json(msg='migration_review could read none of its sources (logs, transaction log, database): %s'
                         % '; '.join(entry['reason'] for entry in result['unavailable']), **result)
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
