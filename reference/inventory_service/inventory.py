"""Inventory reads and writes against SQLite; the HTTP layer adds caching, auth and logging."""
import datetime
import sqlite3

from .db import transaction

_LATEST_COUNTS = """
    latest AS (
        SELECT item_code, quantity, count_date FROM (
            SELECT ici.item_code, ici.quantity, ic.count_date,
                   ROW_NUMBER() OVER (PARTITION BY ici.item_code
                                      ORDER BY ic.count_date DESC, ic.id DESC) AS rn
            FROM inventory_count_items ici JOIN inventory_counts ic ON ic.id = ici.count_id)
        WHERE rn = 1)"""


class UnknownItems(ValueError):
    def __init__(self, codes):
        super().__init__("unknown item_code: %s" % ", ".join(sorted(codes)))
        self.codes = sorted(codes)


class DuplicateInvoice(ValueError):
    pass


def list_inventory(conn):
    rows = conn.execute(
        "WITH" + _LATEST_COUNTS + """
        SELECT im.item_code, im.name, im.category, im.unit, im.par_level,
               l.quantity, l.count_date AS last_count_date
        FROM item_master im LEFT JOIN latest l ON l.item_code = im.item_code
        ORDER BY im.item_code""").fetchall()
    items = [dict(row) for row in rows]
    return {"items": items, "total": len(items)}


def top_items(conn, limit, today=None):
    """Items by volume over the last 365 days: consumed quantity once there is consumption history (what the
    guide's retrain script means by volume), received quantity before that."""
    today = today or datetime.date.today()
    since = (today - datetime.timedelta(days=365)).isoformat()
    if conn.execute("SELECT 1 FROM consumption_history LIMIT 1").fetchone():
        basis, volume = "consumption", (
            "SELECT item_code, SUM(quantity) AS volume FROM consumption_history WHERE day > ? GROUP BY item_code")
    else:
        basis, volume = "invoices", (
            "SELECT item_code, SUM(quantity) AS volume FROM processed_invoices WHERE invoice_date > ? "
            "GROUP BY item_code")
    rows = conn.execute(
        """SELECT im.item_code, im.name, COALESCE(v.volume, 0) AS volume
           FROM item_master im LEFT JOIN (%s) v ON v.item_code = im.item_code
           ORDER BY volume DESC, im.item_code
           LIMIT ?""" % volume, (since, limit)).fetchall()
    return {"items": [dict(row) for row in rows], "basis": basis}


def dashboard_stats(conn):
    totals = conn.execute(
        """SELECT (SELECT count(*) FROM item_master) AS total_items,
                  (SELECT count(*) FROM inventory_counts) AS total_counts,
                  (SELECT count(DISTINCT invoice_number) FROM processed_invoices) AS total_invoices,
                  (SELECT count(*) FROM processed_invoices) AS total_invoice_lines,
                  (SELECT max(count_date) FROM inventory_counts) AS last_count_date,
                  (SELECT COALESCE(SUM(amount), 0) FROM processed_invoices) AS total_invoice_amount
        """).fetchone()
    # Value on hand: latest counted quantity priced at the item's average invoiced unit cost.
    value = conn.execute(
        "WITH" + _LATEST_COUNTS + """,
        unit_cost AS (
            SELECT item_code, SUM(amount) / SUM(quantity) AS cost
            FROM processed_invoices WHERE quantity > 0 GROUP BY item_code)
        SELECT COALESCE(SUM(l.quantity * c.cost), 0)
        FROM latest l JOIN unit_cost c ON c.item_code = l.item_code""").fetchone()[0]
    stats = dict(totals)
    stats["inventory_value"] = round(value, 2)
    stats["total_invoice_amount"] = round(stats["total_invoice_amount"], 2)
    return stats


def _check_items(conn, codes):
    codes = set(codes)
    known = set()
    for code in codes:
        if conn.execute("SELECT 1 FROM item_master WHERE item_code = ?", (code,)).fetchone():
            known.add(code)
    if codes - known:
        raise UnknownItems(codes - known)


def create_count(conn, count_date, location, items, user):
    """Insert one count and its lines in a single transaction; returns the count id."""
    with transaction(conn):
        _check_items(conn, [line["item_code"] for line in items])
        count_id = conn.execute(
            "INSERT INTO inventory_counts (count_date, location, status, created_by) VALUES (?, ?, ?, ?)",
            (count_date, location, "completed", user)).lastrowid
        conn.executemany(
            "INSERT INTO inventory_count_items (count_id, item_code, quantity) VALUES (?, ?, ?)",
            [(count_id, line["item_code"], line["quantity"]) for line in items])
    return count_id


def create_invoice(conn, invoice_number, vendor, invoice_date, lines):
    """Insert every line of one invoice in a single transaction; a line seen before rejects the whole invoice."""
    with transaction(conn):
        _check_items(conn, [line["item_code"] for line in lines])
        try:
            conn.executemany(
                """INSERT INTO processed_invoices (invoice_number, vendor, invoice_date, item_code, quantity, amount)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                [(invoice_number, vendor, invoice_date, line["item_code"], line["quantity"], line["amount"])
                 for line in lines])
        except sqlite3.IntegrityError as exc:
            raise DuplicateInvoice("invoice %s already has a line for one of these items" % invoice_number) from exc
    return len(lines)
