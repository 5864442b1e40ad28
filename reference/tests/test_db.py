import contextlib
import logging
import re
import sqlite3
import threading

import pytest

from inventory_service import db


def test_schema_tables_and_indexes(tmp_path):
    path = tmp_path / "inv.db"
    db.init_db(path)
    db.init_db(path)  # idempotent
    conn = sqlite3.connect(path)
    objects = {(kind, name) for kind, name in conn.execute("SELECT type, name FROM sqlite_master")}
    for table in ("item_master", "inventory_counts", "inventory_count_items", "processed_invoices",
                  "ai_forecasts", "ai_models"):
        assert ("table", table) in objects
    for index in ("idx_item_master_code", "idx_inventory_counts_date", "idx_ai_forecasts_entity"):
        assert ("index", index) in objects
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    columns = {row[1] for row in conn.execute("PRAGMA table_info(processed_invoices)")}
    assert {"invoice_number", "vendor", "invoice_date", "item_code", "quantity", "amount", "processed_at"} <= columns
    conn.execute("INSERT INTO processed_invoices (invoice_number, item_code) VALUES ('A', 'X')")
    try:
        conn.execute("INSERT INTO processed_invoices (invoice_number, item_code) VALUES ('A', 'X')")
        raise AssertionError("UNIQUE(invoice_number, item_code) missing")
    except sqlite3.IntegrityError:
        pass


def test_connection_pragmas(tmp_path):
    path = tmp_path / "inv.db"
    db.init_db(path)
    with db.connection(path) as conn:
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_sqlite_probe(tmp_path):
    path = tmp_path / "inv.db"
    assert not db.sqlite_ok(path)
    assert not path.exists()  # the probe never creates the file
    db.init_db(path)
    assert db.sqlite_ok(path)
    path.write_bytes(b"this is not a database" * 100)
    assert not db.sqlite_ok(path)


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append((record.levelname, record.getMessage()))


def _busy_logger():
    handler = _Lines()
    logger = logging.Logger("test-busy", logging.INFO)
    logger.addHandler(handler)
    return logger, handler.lines


@contextlib.contextmanager
def _write_lock_held(path, seconds):
    """Another connection holds the write lock for `seconds` (from a thread), as a second writer would."""
    holder = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(seconds, lambda: holder.execute("COMMIT"))
    timer.start()
    try:
        yield
    finally:
        timer.join()
        holder.close()


def test_a_write_that_waited_for_the_lock_is_logged_with_its_wait(tmp_path):
    path = tmp_path / "inv.db"
    db.init_db(path)
    logger, lines = _busy_logger()
    with db.connection(path, "inventory_count.create", logger) as conn:
        with db.transaction(conn):  # no other writer: nothing to report
            conn.execute("INSERT INTO item_master (item_code) VALUES ('A')")
        assert lines == []
        with _write_lock_held(path, 0.3):
            with db.transaction(conn):
                conn.execute("INSERT INTO item_master (item_code) VALUES ('B')")
    assert len(lines) == 1 and lines[0][0] == "WARNING", lines
    match = re.match(r"^sqlite busy wait_ms=(\d+) op=inventory_count\.create$", lines[0][1])
    assert match and 200 <= int(match.group(1)) < 5000, lines


def test_a_write_that_gave_up_on_the_lock_is_logged_as_an_error(tmp_path):
    path = tmp_path / "inv.db"
    db.init_db(path)
    logger, lines = _busy_logger()
    with db.connection(path, "invoice.create", logger) as conn:
        conn.execute("PRAGMA busy_timeout=100")  # the service's 5 s, shortened for the test
        with _write_lock_held(path, 0.5):
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                with db.transaction(conn):
                    conn.execute("INSERT INTO item_master (item_code) VALUES ('C')")
    assert len(lines) == 1 and lines[0][0] == "ERROR", lines
    match = re.match(r"^sqlite database is locked wait_ms=(\d+) op=invoice\.create$", lines[0][1])
    assert match and 80 <= int(match.group(1)) < 500, lines
    with db.connection(path) as conn:  # without a busy_log nothing is reported, as before
        with db.transaction(conn):
            conn.execute("INSERT INTO item_master (item_code) VALUES ('D')")
