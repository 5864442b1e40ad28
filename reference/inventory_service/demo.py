"""Demo data: items, a daily count per item and invoices with a weekly rhythm, written straight to SQLite.

Enough history (400+ days) for the forecasting work that comes later to find the weekly seasonality.
"""
import datetime
import random

from . import db

ITEM_PREFIX = "DEMO-"
INVOICE_PREFIX = "DEMO-INV-"
DEMO_USER = "demo"

CATEGORIES = [
    # category, unit, vendor, typical daily use
    ("produce", "kg", "Fresh Farms", 12.0),
    ("dairy", "l", "Valley Dairy", 8.0),
    ("meat", "kg", "Prime Meats", 6.0),
    ("dry goods", "case", "Pantry Supply", 3.0),
    ("beverages", "case", "Northern Beverages", 5.0),
    ("paper", "pack", "Clean & Co", 2.0),
]
# Monday..Sunday: deliveries peak before the weekend, almost nothing arrives on Sunday.
WEEKDAY_FACTOR = (1.25, 0.9, 1.0, 1.15, 1.45, 0.75, 0.3)
NOISE = 0.15


def _demo_rows(conn):
    return conn.execute("SELECT count(*) FROM item_master WHERE item_code LIKE ?",
                        (ITEM_PREFIX + "%",)).fetchone()[0]


def _delete_demo(conn):
    conn.execute("DELETE FROM processed_invoices WHERE invoice_number LIKE ?", (INVOICE_PREFIX + "%",))
    conn.execute("DELETE FROM inventory_count_items WHERE count_id IN "
                 "(SELECT id FROM inventory_counts WHERE created_by = ?)", (DEMO_USER,))
    conn.execute("DELETE FROM inventory_counts WHERE created_by = ?", (DEMO_USER,))
    conn.execute("DELETE FROM item_master WHERE item_code LIKE ?", (ITEM_PREFIX + "%",))


def generate(db_path, items=300, days=420, seed=42, end_date=None, reset=False):
    """Fill the database with demo rows; returns the row counts written.

    Runs once: with demo items already present it returns {"skipped": True, ...} unless reset=True,
    which replaces the earlier demo rows (and only those).
    """
    if items < 1 or days < 1:
        raise ValueError("items and days must be positive")
    rng = random.Random(seed)
    end = end_date or datetime.date.today()
    start = end - datetime.timedelta(days=days - 1)
    db.init_db(db_path)
    with db.connection(db_path) as conn:
        existing = _demo_rows(conn)
        if existing and not reset:
            return {"skipped": True, "existing_demo_items": existing}
        with db.transaction(conn):
            _delete_demo(conn)
            catalogue = []
            for number in range(1, items + 1):
                category, unit, vendor, usage = CATEGORIES[(number - 1) % len(CATEGORIES)]
                daily = usage * rng.uniform(0.3, 2.0)
                price = round(rng.uniform(1.5, 40.0), 2)
                code = "%s%04d" % (ITEM_PREFIX, number)
                catalogue.append((code, category, unit, vendor, daily, price))
            conn.executemany(
                "INSERT INTO item_master (item_code, name, category, unit, par_level) VALUES (?, ?, ?, ?, ?)",
                [(code, "%s item %s" % (category.title(), code[len(ITEM_PREFIX):]), category, unit,
                  round(daily * 4, 1)) for code, category, unit, _v, daily, _p in catalogue])

            stock = {code: daily * 3 for code, _c, _u, _v, daily, _p in catalogue}
            count_lines, invoice_lines = [], []
            count_ids = []
            for offset in range(days):
                day = start + datetime.timedelta(days=offset)
                factor = WEEKDAY_FACTOR[day.weekday()]
                iso = day.isoformat()
                count_id = conn.execute(
                    "INSERT INTO inventory_counts (count_date, location, status, created_by) "
                    "VALUES (?, 'main', 'completed', ?)", (iso, DEMO_USER)).lastrowid
                count_ids.append(count_id)
                for code, _category, _unit, vendor, daily, price in catalogue:
                    received = max(0.0, daily * factor * rng.gauss(1.0, NOISE))
                    used = max(0.0, daily * rng.gauss(1.0, NOISE))
                    stock[code] = max(0.0, stock[code] + received - used)
                    count_lines.append((count_id, code, round(stock[code], 2)))
                    if received > 0:
                        quantity = round(received, 2)
                        invoice_lines.append((
                            "%s%s-%s" % (INVOICE_PREFIX, iso.replace("-", ""), vendor.split()[0].upper()),
                            vendor, iso, code, quantity, round(quantity * price, 2)))
            conn.executemany(
                "INSERT INTO inventory_count_items (count_id, item_code, quantity) VALUES (?, ?, ?)", count_lines)
            conn.executemany(
                "INSERT INTO processed_invoices (invoice_number, vendor, invoice_date, item_code, quantity, amount) "
                "VALUES (?, ?, ?, ?, ?, ?)", invoice_lines)
    return {
        "item_master": items,
        "inventory_counts": len(count_ids),
        "inventory_count_items": len(count_lines),
        "processed_invoices": len(invoice_lines),
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
    }
