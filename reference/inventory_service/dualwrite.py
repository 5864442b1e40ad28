"""Dual-write: every committed SQLite write is mirrored to PostgreSQL (DUAL_WRITE_ENABLED + POSTGRES_DSN).

SQLite stays the source of truth. After the SQLite transaction commits, the rows it wrote are read back and
upserted into PostgreSQL with the ids SQLite assigned. A PostgreSQL failure never fails the request: it is
counted in db_dual_write_errors_total, logged as an ERROR line, and repaired later by a parity sync
(inventory_enterprise.ops.dual_write_parity with sync=true). While PostgreSQL is down, reconnects are
attempted at most every RECONNECT_BACKOFF seconds, so an outage costs each write at most a failed counter
increment, never a connect timeout.
"""
import sqlite3
import threading
import time

CONNECT_TIMEOUT = 2
STATEMENT_TIMEOUT_MS = 5000
RECONNECT_BACKOFF = 5.0

_PG_TYPES = {"INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION", "TEXT": "TEXT", "BLOB": "BYTEA"}


def _qi(name):
    return '"%s"' % name.replace('"', '""')


def postgres_schema(sqlite_path):
    """CREATE TABLE IF NOT EXISTS statements mirroring the SQLite tables: same names, columns and ids,
    primary keys only (SQLite enforces the other constraints before anything reaches the mirror)."""
    statements = []
    conn = sqlite3.connect(str(sqlite_path))
    try:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid")
            if not name.startswith("_ie_parity")]  # the ops collection's change tracking, not service data
        for table in tables:
            columns = []
            for _cid, name, decl, _notnull, _default, pk in conn.execute("PRAGMA table_info(%s)" % _qi(table)):
                kind = _PG_TYPES.get((decl or "TEXT").upper().split("(")[0], "TEXT")
                columns.append("%s %s%s" % (_qi(name), kind, " PRIMARY KEY" if pk else ""))
            statements.append("CREATE TABLE IF NOT EXISTS %s (%s)" % (_qi(table), ", ".join(columns)))
    finally:
        conn.close()
    return statements


class DualWriter:
    """Mirrors rows to PostgreSQL; thread-safe (one connection behind a lock)."""

    def __init__(self, dsn, sqlite_path, metrics, log, clock=time.monotonic):
        self.dsn = dsn
        self.sqlite_path = sqlite_path
        self.metrics = metrics
        self.log = log
        self.clock = clock
        self._lock = threading.Lock()
        self._conn = None
        self._schema_ready = False
        self._retry_at = 0.0

    def _connection(self):
        import psycopg2  # pylint: disable=import-outside-toplevel

        if self._conn is not None and not self._conn.closed:
            return self._conn
        now = self.clock()
        if now < self._retry_at:
            raise ConnectionError("PostgreSQL unreachable, next reconnect attempt in %.1fs" % (self._retry_at - now))
        try:
            conn = psycopg2.connect(self.dsn, connect_timeout=CONNECT_TIMEOUT, application_name="inventory-service",
                                    options="-c statement_timeout=%d" % STATEMENT_TIMEOUT_MS)
        except psycopg2.Error:
            self._retry_at = now + RECONNECT_BACKOFF
            raise
        if not self._schema_ready:
            with conn, conn.cursor() as cur:
                for statement in postgres_schema(self.sqlite_path):
                    cur.execute(statement)
            self._schema_ready = True
        self._conn = conn
        return conn

    def ensure_schema(self):
        """Create the mirror schema now (at start); failures are only logged, writes retry later."""
        with self._lock:
            try:
                self._connection()
                return True
            except Exception as exc:  # pylint: disable=broad-except
                self.log.error("dual-write PostgreSQL unavailable at start: %s: %s",
                               exc.__class__.__name__, _oneline(exc))
                return False

    def mirror(self, conn, operation, selections):
        """selections: [(table, where, params)] read from SQLite `conn` and upserted into PostgreSQL.
        Returns True when mirrored, False when the error was counted."""
        from psycopg2.extras import execute_values  # pylint: disable=import-outside-toplevel

        batches = []
        for table, where, params in selections:
            cursor = conn.execute("SELECT * FROM %s WHERE %s" % (_qi(table), where), params)
            columns = [col[0] for col in cursor.description]
            rows = [tuple(row) for row in cursor.fetchall()]
            if rows:
                batches.append((table, columns, rows))
        with self._lock:
            try:
                pg = self._connection()
                with pg, pg.cursor() as cur:
                    for table, columns, rows in batches:
                        updates = ", ".join("%s = EXCLUDED.%s" % (_qi(c), _qi(c)) for c in columns[1:])
                        execute_values(cur, "INSERT INTO %s (%s) VALUES %%s ON CONFLICT (%s) DO UPDATE SET %s" % (
                            _qi(table), ", ".join(_qi(c) for c in columns), _qi(columns[0]), updates), rows)
                return True
            except Exception as exc:  # pylint: disable=broad-except
                self.metrics.dual_write_errors.inc()
                self.log.error("dual-write failed operation=%s tables=%s: %s: %s", operation,
                               ",".join(b[0] for b in batches), exc.__class__.__name__, _oneline(exc))
                self._drop()
                return False

    def _drop(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # pylint: disable=broad-except
                pass
            self._conn = None

    def close(self):
        with self._lock:
            self._drop()


def _oneline(exc):
    return " ".join(str(exc).split())[:300]
