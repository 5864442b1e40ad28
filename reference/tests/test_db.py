import sqlite3

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
