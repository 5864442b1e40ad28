# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The operations of postgresql_maintenance and postgresql_info (and the deprecated db_maintenance): activity,
VACUUM (ANALYZE), ANALYZE, REINDEX TABLE (CONCURRENTLY), sizes and the bloat estimate."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._maintenance_run import (
    MaintenanceRun,
    run_maintenance,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres import (
    HAS_PSYCOPG2,
    PostgresConnection,
    PostgresError,
    describe,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._sql import quote_identifier

POSTGRES_ORDER = ['activity', 'vacuum', 'analyze', 'reindex', 'stats', 'bloat']
POSTGRES_WRITES = ['vacuum', 'analyze', 'reindex']
POSTGRES_INFO = ['activity', 'stats', 'bloat']

ACTIVITY_SQL = """
SELECT pid, usename, application_name, state, query, backend_type,
       EXTRACT(EPOCH FROM (now() - query_start))::float AS query_seconds,
       EXTRACT(EPOCH FROM (now() - state_change))::float AS state_seconds
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""

# The well-known table bloat estimation (ioguix/pgsql-bloat-estimation, used by check_pgactivity).
BLOAT_SQL = """
SELECT schemaname, tblname, bs * tblpages AS real_size,
  CASE WHEN tblpages - est_tblpages_ff > 0 THEN (tblpages - est_tblpages_ff) * bs ELSE 0 END AS bloat_size,
  CASE WHEN tblpages > 0 AND tblpages - est_tblpages_ff > 0
       THEN 100 * (tblpages - est_tblpages_ff) / tblpages::float ELSE 0 END AS bloat_pct,
  is_na
FROM (
  SELECT ceil(reltuples / ((bs - page_hdr) * fillfactor / (tpl_size * 100))) + ceil(toasttuples / 4) AS est_tblpages_ff,
         tblpages, fillfactor, bs, schemaname, tblname, is_na
  FROM (
    SELECT (4 + tpl_hdr_size + tpl_data_size + (2 * ma)
            - CASE WHEN tpl_hdr_size %% ma = 0 THEN ma ELSE tpl_hdr_size %% ma END
            - CASE WHEN ceil(tpl_data_size)::int %% ma = 0 THEN ma ELSE ceil(tpl_data_size)::int %% ma END
           ) AS tpl_size,
           (heappages + toastpages) AS tblpages, reltuples, toasttuples, bs, page_hdr, schemaname, tblname,
           fillfactor, is_na
    FROM (
      SELECT ns.nspname AS schemaname, tbl.relname AS tblname, tbl.reltuples,
             tbl.relpages AS heappages, coalesce(toast.relpages, 0) AS toastpages,
             coalesce(toast.reltuples, 0) AS toasttuples,
             coalesce(substring(array_to_string(tbl.reloptions, ' ') FROM 'fillfactor=([0-9]+)')::smallint, 100)
               AS fillfactor,
             current_setting('block_size')::numeric AS bs,
             CASE WHEN version() ~ 'mingw32' OR version() ~ '64-bit|x86_64|ppc64|ia64|amd64' THEN 8 ELSE 4 END AS ma,
             24 AS page_hdr,
             23 + CASE WHEN max(coalesce(s.null_frac, 0)) > 0 THEN (7 + count(s.attname)) / 8 ELSE 0::int END
               AS tpl_hdr_size,
             sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0)) AS tpl_data_size,
             bool_or(att.atttypid = 'pg_catalog.name'::regtype)
               OR sum(CASE WHEN att.attnum > 0 THEN 1 ELSE 0 END) <> count(s.attname) AS is_na
      FROM pg_attribute AS att
        JOIN pg_class AS tbl ON att.attrelid = tbl.oid
        JOIN pg_namespace AS ns ON ns.oid = tbl.relnamespace
        LEFT JOIN pg_stats AS s ON s.schemaname = ns.nspname AND s.tablename = tbl.relname
             AND s.inherited = false AND s.attname = att.attname
        LEFT JOIN pg_class AS toast ON tbl.reltoastrelid = toast.oid
      WHERE NOT att.attisdropped AND att.attnum > 0 AND tbl.relkind IN ('r', 'm') AND ns.nspname = %s
      GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
    ) AS s
  ) AS s2
) AS s3
"""


class PostgresMaintenance(MaintenanceRun):
    ORDER = POSTGRES_ORDER

    def __init__(self, module):
        super(PostgresMaintenance, self).__init__(module)
        self.schema = self.p['schema']
        self.pg = PostgresConnection(self.p, autocommit=True).open()

    def close(self):
        self.pg.close()

    def tables(self):
        rows = self.pg.query("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                             "WHERE n.nspname = %s AND c.relkind IN ('r', 'm') ORDER BY c.relname", (self.schema,),
                             action='listing tables')
        existing = [r['relname'] for r in rows]
        wanted = self.p['tables'] or existing
        unknown = [t for t in wanted if t not in existing]
        if unknown:
            raise PostgresError('table(s) %s do not exist in schema %s on %s; existing tables: %s' % (
                ', '.join(unknown), self.schema, self.pg.where, ', '.join(existing) or 'none'))
        return wanted

    def qualified(self, table):
        return '%s.%s' % (quote_identifier(self.schema), quote_identifier(table))

    def task_activity(self):
        rows = self.pg.query(ACTIVITY_SQL, action='reading pg_stat_activity')
        max_conn = int(self.pg.query('SHOW max_connections')[0]['max_connections'])
        by_state = {}
        for row in rows:
            state = row['state'] or 'unknown'
            by_state[state] = by_state.get(state, 0) + 1

        def brief(row, seconds_key):
            if row is None:
                return None
            return dict(pid=row['pid'], user=row['usename'], application=row['application_name'],
                        state=row['state'], seconds=round(row[seconds_key] or 0, 3),
                        query=' '.join((row['query'] or '').split())[:200])
        active = [r for r in rows if r['state'] == 'active' and r['query_seconds'] is not None]
        idle_tx = [r for r in rows if (r['state'] or '').startswith('idle in transaction')]
        longest = max(active, key=lambda r: r['query_seconds']) if active else None
        longest_idle = max(idle_tx, key=lambda r: r['state_seconds'] or 0) if idle_tx else None
        # Server-wide connections count against max_connections, not only this database's.
        total_server = self.pg.query('SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = '
                                     "'client backend'")[0]['n']
        return dict(changed=False, total=len(rows), server_total=total_server, max_connections=max_conn,
                    usage_percent=round(100.0 * total_server / max_conn, 1), by_state=by_state,
                    idle_in_transaction=len(idle_tx), longest_query=brief(longest, 'query_seconds'),
                    longest_idle_in_transaction=brief(longest_idle, 'state_seconds'),
                    message='%d connection(s) to this database (%s); %d of %d server-wide; %d idle in transaction'
                    % (len(rows), ', '.join('%d %s' % (v, k) for k, v in sorted(by_state.items())) or 'none',
                       total_server, max_conn, len(idle_tx)))

    def _needs(self, tables, what):
        rows = self.pg.query('SELECT relname, n_dead_tup, n_mod_since_analyze, last_analyze, last_autoanalyze '
                             'FROM pg_stat_user_tables WHERE schemaname = %s', (self.schema,))
        stats = dict((r['relname'], r) for r in rows)
        todo = []
        for table in tables:
            s = stats.get(table)
            if self.p.get('vacuum_force') or s is None:
                todo.append(table)
            elif what == 'vacuum' and (s['n_dead_tup'] or 0) > 0:
                todo.append(table)
            elif (s['n_mod_since_analyze'] or 0) > 0 or (s['last_analyze'] is None and s['last_autoanalyze'] is None):
                todo.append(table)
        return todo

    def execute_step(self, statement, action, done, item):
        """Run one write and note it where a later failure reports it: executed_queries, `done`, changed."""
        self.pg.execute(statement, action=action)
        self.record(statement)
        done.append(item)
        self.partial['changed'] = True

    def _vacuum(self, statement, what):
        tables = self.tables()
        todo = self._needs(tables, what)
        if self.check:
            for table in todo:
                self.record('%s %s' % (statement, self.qualified(table)))
        elif todo:
            done = []
            self.partial['tables'] = done
            for table in todo:
                # autocommit: VACUUM cannot run inside a transaction block.
                self.execute_step('%s %s' % (statement, self.qualified(table)), '%s of %s' % (statement, table),
                                  done, table)
                self.progress = 'ran %s on %s' % (statement, ', '.join(done))
        verb = 'would run' if self.check else 'ran'
        return dict(changed=bool(todo), tables=todo,
                    message=('%s %s on %s' % (verb, statement, ', '.join(todo))) if todo else
                    'not needed: no dead tuples or changes since the last analyze')

    def task_vacuum(self):
        return self._vacuum('VACUUM (ANALYZE)', 'vacuum')

    def task_analyze(self):
        return self._vacuum('ANALYZE', 'analyze')

    def task_reindex(self):
        tables = self.tables()
        concurrently = self.p['reindex_concurrently'] and self.pg.server_version >= 120000
        invalid = self.pg.query(
            "SELECT i.relname AS index, t.relname AS table FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = i.relnamespace "
            "WHERE n.nspname = %s AND NOT x.indisvalid AND i.relname ~ '_cc(new|old)[0-9]*$'", (self.schema,),
            action='looking for invalid indexes')
        dropped = [r['index'] for r in invalid]
        how = 'CONCURRENTLY ' if concurrently else ''
        if self.check:
            for statement in ['DROP INDEX %s%s' % (how, self.qualified(name)) for name in dropped] + \
                    ['REINDEX TABLE %s%s' % (how, self.qualified(table)) for table in tables]:
                self.record(statement)
        else:
            done_dropped, done_tables = [], []
            self.partial.update(concurrently=concurrently, dropped_invalid=done_dropped, tables=done_tables)
            for name in dropped:
                self.execute_step('DROP INDEX %s%s' % (how, self.qualified(name)), 'dropping invalid index %s' % name,
                                  done_dropped, name)
                self.progress = 'dropped the invalid index(es) %s' % ', '.join(done_dropped)
            for table in tables:
                self.execute_step('REINDEX TABLE %s%s' % (how, self.qualified(table)), 'REINDEX of %s' % table,
                                  done_tables, table)
                self.progress = 'rebuilt the indexes of %s%s' % (', '.join(done_tables), (
                    ' and dropped %s' % ', '.join(done_dropped)) if done_dropped else '')
        verb = 'would rebuild' if self.check else 'rebuilt'
        msg = '%s the indexes of %d table(s)%s' % (verb, len(tables), ' concurrently' if concurrently else '')
        if dropped:
            msg += '; %s invalid leftover index(es) %s' % ('would drop' if self.check else 'dropped', ', '.join(dropped))
        return dict(changed=bool(tables or dropped), tables=tables, concurrently=concurrently,
                    dropped_invalid=dropped, message=msg)

    def task_stats(self):
        top = self.p['top']
        db_bytes = self.pg.query('SELECT pg_database_size(current_database()) AS b')[0]['b']
        tables = self.pg.query(
            "SELECT c.relname AS name, pg_total_relation_size(c.oid) AS total_bytes, "
            "pg_relation_size(c.oid) AS table_bytes, pg_indexes_size(c.oid) AS index_bytes, "
            "coalesce(s.n_live_tup, 0) AS live_rows, coalesce(s.n_dead_tup, 0) AS dead_rows "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'm') ORDER BY total_bytes DESC, name LIMIT %s",
            (self.schema, top), action='reading table sizes')
        indexes = self.pg.query(
            "SELECT i.relname AS name, t.relname AS table, pg_relation_size(i.oid) AS bytes, x.indisvalid AS valid "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = i.relnamespace WHERE n.nspname = %s "
            "ORDER BY bytes DESC, name LIMIT %s", (self.schema, top), action='reading index sizes')
        return dict(changed=False, database_bytes=db_bytes, tables=tables, indexes=indexes,
                    message='database %d bytes; largest table %s' % (
                        db_bytes, ('%s (%d bytes)' % (tables[0]['name'], tables[0]['total_bytes'])) if tables else
                        'none'))

    def task_bloat(self):
        rows = self.pg.query(BLOAT_SQL, (self.schema,), action='estimating bloat')
        dead = dict((r['relname'], r) for r in self.pg.query(
            'SELECT relname, n_dead_tup, n_live_tup FROM pg_stat_user_tables WHERE schemaname = %s', (self.schema,)))
        tables = []
        for r in rows:
            bloat_bytes = int(r['bloat_size'] or 0)
            pct = round(float(r['bloat_pct'] or 0), 1)
            status = 'ok'
            if r['is_na']:
                status = 'unknown'
            elif bloat_bytes >= self.p['bloat_min_bytes']:
                if pct >= self.p['bloat_critical_percent']:
                    status = 'critical'
                elif pct >= self.p['bloat_warning_percent']:
                    status = 'warning'
            d = dead.get(r['tblname'], {})
            tables.append(dict(name=r['tblname'], bytes=int(r['real_size'] or 0), bloat_bytes=bloat_bytes,
                               bloat_percent=pct, dead_tuples=d.get('n_dead_tup'), live_tuples=d.get('n_live_tup'),
                               status=status))
        tables.sort(key=lambda t: (-t['bloat_bytes'], t['name']))
        warning = [t['name'] for t in tables if t['status'] == 'warning']
        critical = [t['name'] for t in tables if t['status'] == 'critical']
        return dict(changed=False, tables=tables[:self.p['top']], warning=warning, critical=critical,
                    message='%d table(s): %d critical, %d warning' % (len(tables), len(critical), len(warning)))


def run_postgres_module(module, names, keys, extra=None, problem=None, reason=None):
    """Run the PostgreSQL operations `names` and exit with the result (or fail with it)."""
    if not problem and not HAS_PSYCOPG2:
        problem = missing_required_lib('psycopg2', reason=reason)
    run_maintenance(module, PostgresMaintenance, names, describe(module.params), keys, (PostgresError,), extra,
                    problem)
