"""SQLite schema and connections, and the PostgreSQL health probe."""
import contextlib
import sqlite3
import time
import urllib.parse
from pathlib import Path

from . import consumption

BUSY_TIMEOUT_MS = 5000
# A write that waited this long for another connection's write lock is logged (see transaction()): SQLite's busy
# handler has retried about seven times by then, well past any wait that needs no attention.
BUSY_LOG_MS = 50
POSTGRES_CONNECT_TIMEOUT = 3

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS item_master (
        id INTEGER PRIMARY KEY,
        item_code TEXT UNIQUE NOT NULL,
        name TEXT,
        category TEXT,
        unit TEXT,
        par_level REAL,
        created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))""",
    "CREATE INDEX IF NOT EXISTS idx_item_master_code ON item_master(item_code)",
    """CREATE TABLE IF NOT EXISTS inventory_counts (
        id INTEGER PRIMARY KEY,
        count_date TEXT NOT NULL,
        location TEXT,
        status TEXT,
        created_by TEXT,
        created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))""",
    "CREATE INDEX IF NOT EXISTS idx_inventory_counts_date ON inventory_counts(count_date)",
    """CREATE TABLE IF NOT EXISTS inventory_count_items (
        id INTEGER PRIMARY KEY,
        count_id INTEGER NOT NULL REFERENCES inventory_counts(id) ON DELETE CASCADE,
        item_code TEXT NOT NULL,
        quantity REAL)""",
    # Latest-count lookups go by item, then by count; without it /api/inventory/list scans every line.
    "CREATE INDEX IF NOT EXISTS idx_inventory_count_items_item ON inventory_count_items(item_code, count_id)",
    "CREATE INDEX IF NOT EXISTS idx_inventory_count_items_count ON inventory_count_items(count_id)",
    """CREATE TABLE IF NOT EXISTS processed_invoices (
        id INTEGER PRIMARY KEY,
        invoice_number TEXT NOT NULL,
        vendor TEXT,
        invoice_date TEXT,
        item_code TEXT,
        quantity REAL,
        amount REAL,
        processed_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        UNIQUE(invoice_number, item_code))""",
    "CREATE INDEX IF NOT EXISTS idx_processed_invoices_item_date ON processed_invoices(item_code, invoice_date)",
    """CREATE TABLE IF NOT EXISTS ai_forecasts (
        id INTEGER PRIMARY KEY,
        entity_id TEXT,
        forecast_date TEXT,
        predicted REAL,
        lower_bound REAL,
        upper_bound REAL,
        model_id INTEGER,
        created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))""",
    "CREATE INDEX IF NOT EXISTS idx_ai_forecasts_entity ON ai_forecasts(entity_id)",
    """CREATE TABLE IF NOT EXISTS ai_models (
        id INTEGER PRIMARY KEY,
        entity_id TEXT,
        model_type TEXT,
        status TEXT,
        accuracy_metrics TEXT,
        trained_at TEXT)""",
    # consumption_history and ai_anomalies: one definition, shared with the collection's modules.
] + list(consumption.SCHEMA)


class Connection(sqlite3.Connection):
    """A connection that knows the operation it writes for and the logger its lock waits go to (transaction())."""

    operation = None
    busy_log = None


def connect(path, operation=None, busy_log=None) -> sqlite3.Connection:
    """A connection for one request or one thread; sqlite3 objects must not cross threads."""
    # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE) so a write takes the lock up front.
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, factory=Connection)
    conn.operation, conn.busy_log = operation, busy_log
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=%d" % BUSY_TIMEOUT_MS)
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextlib.contextmanager
def connection(path, operation=None, busy_log=None):
    conn = connect(path, operation, busy_log)
    try:
        yield conn
    finally:
        conn.close()


def _report_lock_wait(conn, started, exc=None):
    """The wait for the write lock, on the connection's busy_log: a WARNING line when it took BUSY_LOG_MS or more,
    an ERROR line when SQLite gave up (busy_timeout passed): `sqlite busy wait_ms=<n> op=<operation>`,
    `sqlite database is locked wait_ms=<n> op=<operation>` (docs/logs.md)."""
    log = getattr(conn, "busy_log", None)
    if log is None:
        return
    waited = round((time.monotonic() - started) * 1000)
    operation = getattr(conn, "operation", None) or "-"
    if exc is not None:
        if "locked" in str(exc) or "busy" in str(exc):
            log.error("sqlite database is locked wait_ms=%d op=%s", waited, operation)
    elif waited >= BUSY_LOG_MS:
        log.warning("sqlite busy wait_ms=%d op=%s", waited, operation)


@contextlib.contextmanager
def transaction(conn):
    started = time.monotonic()
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        _report_lock_wait(conn, started, exc)
        raise
    _report_lock_wait(conn, started)
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def init_db(path):
    """Create the database file and schema; safe to run on every start."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with connection(path) as conn:
        # WAL is a property of the file, so setting it once here covers every later connection.
        conn.execute("PRAGMA journal_mode=WAL")
        with transaction(conn):
            for statement in SCHEMA:
                conn.execute(statement)


def sqlite_ok(path) -> bool:
    """Read-only probe: a missing file stays missing, a corrupt one reports as down."""
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(str(path)), uri=True, timeout=1)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            conn.execute("SELECT 1 FROM item_master LIMIT 1").fetchall()
        finally:
            conn.close()
        return True
    except sqlite3.Error:
        return False


def postgres_ok(dsn) -> bool:
    import psycopg2  # pylint: disable=import-outside-toplevel

    try:
        conn = psycopg2.connect(dsn, connect_timeout=POSTGRES_CONNECT_TIMEOUT)
    except psycopg2.Error:
        return False
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        return True
    except psycopg2.Error:
        return False
    finally:
        conn.close()
