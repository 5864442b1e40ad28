# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Change tracking for incremental dual-write parity.

Why: a full parity check reads every row of both databases, and that reading is its cost (about 2.4 s per
million rows on two cores). With tracking, triggers in both databases record the primary key of every row
inserted, updated or deleted in _ie_parity_changes (one more row write per written row, with a generation
counter), and a check reads only the rows of the keys recorded since the last check.

The invariant that makes this sound: every key whose row differs between the databases is marked on at least
one side. A check clears a mark only for a key it found equal, and only if the mark's generation is still the
one it read in its snapshot (a write after the snapshot bumps the generation, so its mark stays). Keys found
different stay marked until a later check finds them equal.

What triggers cannot see, and how a check notices it and compares the whole table instead:
- a database restored from a backup: each check first stores a new random token in both databases; a restored
  side carries an older token;
- tracking (re)installed, or a column added or retyped: the token is dropped, the schema fingerprint differs;
- TRUNCATE in PostgreSQL (no row triggers fire): a statement trigger drops PostgreSQL's token;
- rows SQLite deletes for INSERT OR REPLACE on another UNIQUE column (delete triggers fire only with
  recursive_triggers): every check compares the row counts, and a difference the marked keys do not explain
  makes that table's check full.
Writes made with triggers switched off (session_replication_role = replica, ALTER TABLE DISABLE TRIGGER) are
not seen; a disabled trigger is found and reinstalled, with a full check.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import uuid

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._sql import quote_identifier, quote_literal

PREFIX = '_ie_parity'
CHANGES = '_ie_parity_changes'
STATE = '_ie_parity_state'
PG_TRIGGER = '_ie_parity_track'
PG_TRUNCATE_TRIGGER = '_ie_parity_truncate'
PG_MARK = '_ie_parity_mark'
PG_FORGET = '_ie_parity_forget'
PG_BATCH = 10000
# The triggers run as the service's database user, which may not be the one installing them: the functions
# write the bookkeeping tables with their owner's rights, with a search_path nobody else can plant objects in.
DEFINER = 'SECURITY DEFINER SET search_path = pg_catalog, pg_temp'


def new_token():
    return uuid.uuid4().hex


def fingerprint(pairs):
    """Hash of the compared tables and their columns and PostgreSQL types: a schema change means a full check."""
    parts = []
    for spec, pg_types in pairs:
        parts.append('%s(%s)' % (spec.name, ','.join('%s %s' % (c, pg_types[c]) for c in spec.columns)))
    return hashlib.sha256('|'.join(parts).encode('utf-8')).hexdigest()


class SqliteTracker(object):
    """Triggers and bookkeeping tables in the SQLite database. Reads use the snapshot connection; writes
    go through `write(action, statements)` (None in check mode), one transaction that retries a busy database."""

    def __init__(self, snapshot, write):
        self.snapshot = snapshot
        self.write = write

    @staticmethod
    def triggers(spec):
        """{trigger name: CREATE TRIGGER statement} for one table, exactly as sqlite_master stores it."""
        table, pk = quote_identifier(spec.name), quote_identifier(spec.pk)

        # Two plain statements rather than an UPSERT: the triggers run inside the service's own connections,
        # whose SQLite library may be older than the one on this host.
        def mark(ref, where=''):
            cond = ' AND %s' % where if where else ''
            return ('INSERT OR IGNORE INTO %s (table_name, row_key, gen) SELECT %s, %s.%s, 0 WHERE 1%s; '
                    'UPDATE %s SET gen = gen + 1 WHERE table_name = %s AND row_key = %s.%s%s;'
                    % (CHANGES, quote_literal(spec.name), ref, pk, cond, CHANGES, quote_literal(spec.name), ref, pk, cond))

        name = PREFIX + '_' + spec.name
        return {
            name + '_ins': 'CREATE TRIGGER %s AFTER INSERT ON %s BEGIN %s END' % (quote_identifier(name + '_ins'), table, mark('NEW')),
            name + '_upd': 'CREATE TRIGGER %s AFTER UPDATE ON %s BEGIN %s %s END' % (
                quote_identifier(name + '_upd'), table, mark('NEW'), mark('OLD', 'OLD.%s IS NOT NEW.%s' % (pk, pk))),
            name + '_del': 'CREATE TRIGGER %s AFTER DELETE ON %s BEGIN %s END' % (quote_identifier(name + '_del'), table, mark('OLD')),
        }

    def installed(self):
        rows = self.snapshot.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND substr(name, 1, ?) = ?",
                                     (len(PREFIX), PREFIX)).fetchall()
        return dict(rows)

    def has_tables(self):
        names = set(row[0] for row in self.snapshot.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)", (CHANGES, STATE)))
        return names == set([CHANGES, STATE])

    def plan(self, specs):
        """(statements to run, what they do) to track exactly `specs`; nothing when all is in place."""
        wanted = {}
        for spec in specs:
            wanted.update(self.triggers(spec))
        have = self.installed()
        drops = sorted(name for name in have if wanted.get(name) != have[name])
        creates = sorted(name for name in wanted if have.get(name) != wanted[name])
        statements, actions = [], []
        if not self.has_tables():
            statements += ['CREATE TABLE IF NOT EXISTS %s (table_name TEXT NOT NULL, row_key INTEGER NOT NULL, '
                           'gen INTEGER NOT NULL, PRIMARY KEY (table_name, row_key)) WITHOUT ROWID' % CHANGES,
                           'CREATE TABLE IF NOT EXISTS %s (id INTEGER PRIMARY KEY CHECK (id = 1), token TEXT NOT NULL, '
                           'fingerprint TEXT NOT NULL, checked_at TEXT NOT NULL)' % STATE]
            actions.append('sqlite: created %s and %s' % (CHANGES, STATE))
        statements += ['DROP TRIGGER %s' % quote_identifier(name) for name in drops]
        statements += [wanted[name] for name in creates]
        actions += ['sqlite: created trigger %s' % name for name in creates]
        actions += ['sqlite: dropped trigger %s' % name for name in drops if name not in wanted]
        if statements:
            statements.append('DELETE FROM %s' % STATE)  # writes before the triggers were not tracked
        return statements, actions

    def removal(self):
        names = sorted(self.installed())
        statements = ['DROP TRIGGER %s' % quote_identifier(name) for name in names]
        actions = ['sqlite: dropped trigger %s' % name for name in names]
        for table in (CHANGES, STATE):
            if self.snapshot.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone():
                statements.append('DROP TABLE %s' % table)
                actions.append('sqlite: dropped %s' % table)
        return statements, actions

    def run(self, action, statements):
        if statements:
            self.write(action, statements)

    def state(self):
        if not self.has_tables():
            return None
        row = self.snapshot.execute('SELECT token, fingerprint FROM %s WHERE id = 1' % STATE).fetchone()
        return tuple(row) if row else None

    def marks(self, name):
        return dict(self.snapshot.execute('SELECT row_key, gen FROM %s WHERE table_name = ?' % CHANGES, (name,)))

    def set_state(self, token, fp):
        self.write('storing the parity checkpoint', [(
            "INSERT OR REPLACE INTO %s (id, token, fingerprint, checked_at) VALUES (1, ?, ?, "
            "strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', 'now'))" % STATE, (token, fp))])

    def clear(self, name, marks):
        if marks:
            self.write('clearing the change marks of %s' % name, [(
                'DELETE FROM %s WHERE table_name = ? AND row_key = ? AND gen = ?' % CHANGES,
                [(name, key, gen) for key, gen in sorted(marks.items())])])


class PostgresTracker(object):
    """Triggers, functions and bookkeeping tables in the PostgreSQL schema, through a PostgresConnection."""

    def __init__(self, pg, schema):
        self.pg = pg
        self.schema = schema
        self.s = quote_identifier(schema)

    def _functions(self):
        s = self.s
        mark = ('INSERT INTO %s.%s AS c (table_name, row_key, gen) VALUES (TG_TABLE_NAME, %%s, 1) '
                'ON CONFLICT (table_name, row_key) DO UPDATE SET gen = c.gen + 1;' % (s, CHANGES))
        return [
            'CREATE OR REPLACE FUNCTION %s.%s() RETURNS trigger LANGUAGE plpgsql %s AS $ie$\n'
            'DECLARE old_key bigint; new_key bigint;\n'
            'BEGIN\n'
            "  IF TG_OP <> 'INSERT' THEN\n"
            '    old_key := (to_jsonb(OLD) ->> TG_ARGV[0])::bigint;\n'
            '    %s\n'
            '  END IF;\n'
            "  IF TG_OP <> 'DELETE' THEN\n"
            '    new_key := (to_jsonb(NEW) ->> TG_ARGV[0])::bigint;\n'
            '    IF new_key IS DISTINCT FROM old_key THEN\n'
            '      %s\n'
            '    END IF;\n'
            '  END IF;\n'
            '  RETURN NULL;\n'
            'END $ie$' % (s, PG_MARK, DEFINER, mark.replace('%s', 'old_key'), mark.replace('%s', 'new_key')),
            'CREATE OR REPLACE FUNCTION %s.%s() RETURNS trigger LANGUAGE plpgsql %s AS $ie$\n'
            'BEGIN DELETE FROM %s.%s; RETURN NULL; END $ie$' % (s, PG_FORGET, DEFINER, s, STATE),
        ]

    def _tables(self):
        return ['CREATE TABLE IF NOT EXISTS %s.%s (table_name text NOT NULL, row_key bigint NOT NULL, '
                'gen bigint NOT NULL, PRIMARY KEY (table_name, row_key))' % (self.s, CHANGES),
                'CREATE TABLE IF NOT EXISTS %s.%s (id int PRIMARY KEY CHECK (id = 1), token text NOT NULL, '
                'fingerprint text NOT NULL, checked_at timestamptz NOT NULL DEFAULT now())' % (self.s, STATE)]

    def installed(self):
        """{(table, trigger): (enabled, definition)} of our triggers in the schema."""
        rows = self.pg.query_rows(
            'SELECT c.relname, t.tgname, t.tgenabled, pg_get_triggerdef(t.oid) FROM pg_trigger t '
            'JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace '
            'WHERE n.nspname = %s AND t.tgname IN (%s, %s)', (self.schema, PG_TRIGGER, PG_TRUNCATE_TRIGGER),
            action='reading the parity triggers')
        return dict(((r[0], r[1]), (r[2], r[3])) for r in rows)

    def _existing(self):
        tables = self.pg.query_rows(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r' AND c.relname IN (%s, %s)", (self.schema, CHANGES, STATE),
            action='reading the parity tables')
        functions = self.pg.query_rows(
            'SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace '
            'WHERE n.nspname = %s AND p.proname IN (%s, %s)', (self.schema, PG_MARK, PG_FORGET),
            action='reading the parity functions')
        return set(r[0] for r in tables), set(r[0] for r in functions)

    def plan(self, specs):
        have = self.installed()
        tables, functions = self._existing()
        statements, actions = [], []
        if tables != set([CHANGES, STATE]):
            statements += self._tables()
            actions.append('postgres: created %s.%s and %s.%s' % (self.schema, CHANGES, self.schema, STATE))
        wanted = set()
        trigger_sql = []
        for spec in specs:
            table = '%s.%s' % (self.s, quote_identifier(spec.name))
            row, trunc = have.get((spec.name, PG_TRIGGER)), have.get((spec.name, PG_TRUNCATE_TRIGGER))
            wanted.update([(spec.name, PG_TRIGGER), (spec.name, PG_TRUNCATE_TRIGGER)])
            # The trigger must be enabled ('O') and pass this key column; anything else is recreated.
            if row is None or row[0] != 'O' or '%s(%s)' % (PG_MARK, quote_literal(spec.pk)) not in row[1]:
                if row is not None:
                    trigger_sql.append('DROP TRIGGER %s ON %s' % (PG_TRIGGER, table))
                trigger_sql.append('CREATE TRIGGER %s AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW '
                                   'EXECUTE PROCEDURE %s.%s(%s)' % (PG_TRIGGER, table, self.s, PG_MARK, quote_literal(spec.pk)))
                actions.append('postgres: created trigger %s on %s' % (PG_TRIGGER, spec.name))
            if trunc is None or trunc[0] != 'O':
                if trunc is not None:
                    trigger_sql.append('DROP TRIGGER %s ON %s' % (PG_TRUNCATE_TRIGGER, table))
                trigger_sql.append('CREATE TRIGGER %s AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE PROCEDURE '
                                   '%s.%s()' % (PG_TRUNCATE_TRIGGER, table, self.s, PG_FORGET))
                actions.append('postgres: created trigger %s on %s' % (PG_TRUNCATE_TRIGGER, spec.name))
        for (name, trigger) in sorted(set(have) - wanted):
            trigger_sql.append('DROP TRIGGER %s ON %s.%s' % (trigger, self.s, quote_identifier(name)))
            actions.append('postgres: dropped trigger %s on %s' % (trigger, name))
        if functions != set([PG_MARK, PG_FORGET]) or trigger_sql:
            if functions != set([PG_MARK, PG_FORGET]):
                actions.append('postgres: created functions %s and %s' % (PG_MARK, PG_FORGET))
            statements += self._functions()
        statements += trigger_sql
        if statements:
            statements.append('DELETE FROM %s.%s' % (self.s, STATE))
        return statements, actions

    def removal(self):
        have = self.installed()
        tables, functions = self._existing()
        statements, actions = [], []
        for (name, trigger) in sorted(have):
            statements.append('DROP TRIGGER %s ON %s.%s' % (trigger, self.s, quote_identifier(name)))
            actions.append('postgres: dropped trigger %s on %s' % (trigger, name))
        for fn in sorted(functions):
            statements.append('DROP FUNCTION %s.%s()' % (self.s, fn))
            actions.append('postgres: dropped function %s' % fn)
        for table in sorted(tables):
            statements.append('DROP TABLE %s.%s' % (self.s, table))
            actions.append('postgres: dropped %s.%s' % (self.schema, table))
        return statements, actions

    def run(self, action, statements):
        """DDL in one transaction, waiting at most 10 s for a table lock so the service's writes never queue
        behind it for long."""
        if not statements:
            return
        self.pg.execute("SET LOCAL lock_timeout = '10s'", action=action)
        for statement in statements:
            self.pg.execute(statement, action=action)
        self.pg.conn.commit()

    def state(self):
        tables, _functions = self._existing()
        if STATE not in tables:
            return None
        rows = self.pg.query_rows('SELECT token, fingerprint FROM %s.%s WHERE id = 1' % (self.s, STATE),
                                  action='reading the parity checkpoint')
        return tuple(rows[0]) if rows else None

    def marks(self, name):
        return dict(self.pg.query_rows('SELECT row_key, gen FROM %s.%s WHERE table_name = %%s' % (self.s, CHANGES),
                                       (name,), action='reading the change marks of %s' % name))

    def set_state(self, token, fp):
        self.pg.execute('INSERT INTO %s.%s (id, token, fingerprint) VALUES (1, %%s, %%s) ON CONFLICT (id) '
                        'DO UPDATE SET token = EXCLUDED.token, fingerprint = EXCLUDED.fingerprint, checked_at = now()'
                        % (self.s, STATE), (token, fp), action='storing the parity checkpoint')
        self.pg.conn.commit()

    def clear(self, name, marks):
        items = sorted(marks.items())
        for start in range(0, len(items), PG_BATCH):
            part = items[start:start + PG_BATCH]
            self.pg.execute('DELETE FROM %s.%s c USING unnest(%%s::bigint[], %%s::bigint[]) AS v(k, g) '
                            'WHERE c.table_name = %%s AND c.row_key = v.k AND c.gen = v.g' % (self.s, CHANGES),
                            ([k for k, _g in part], [g for _k, g in part], name),
                            action='clearing the change marks of %s' % name)
        self.pg.conn.commit()

    def mark(self, name, keys):
        """Mark keys found different that neither side marked (a full check's finds), so later checks look again."""
        keys = sorted(keys)
        for start in range(0, len(keys), PG_BATCH):
            self.pg.execute('INSERT INTO %s.%s AS c (table_name, row_key, gen) SELECT %%s, k, 1 FROM unnest(%%s::bigint[]) k '
                            'ON CONFLICT (table_name, row_key) DO UPDATE SET gen = c.gen + 1' % (self.s, CHANGES),
                            (name, keys[start:start + PG_BATCH]), action='marking the differing rows of %s' % name)
        self.pg.conn.commit()
