"""Demo data: items, a daily count per item and invoices, written straight to SQLite, then the consumption they
imply derived into consumption_history (the same derivation the service and the collection run).

About two years of daily history: weekly and yearly seasonality, a trend per item, holidays (closed days and the
rush before them), an intermittent tail (items used on few days, in lumps) and a few items introduced recently,
with too little history for a yearly model.
"""
import datetime
import math
import random

from . import consumption, db

ITEM_PREFIX = "DEMO-"
INVOICE_PREFIX = "DEMO-INV-"
DEMO_USER = "demo"

CATEGORIES = [
    # category, unit, vendor, typical daily use, yearly amplitude
    ("produce", "kg", "Fresh Farms", 12.0, 0.25),
    ("dairy", "l", "Valley Dairy", 8.0, 0.1),
    ("meat", "kg", "Prime Meats", 6.0, 0.2),
    ("dry goods", "case", "Pantry Supply", 3.0, 0.05),
    ("beverages", "case", "Northern Beverages", 5.0, 0.35),
    ("paper", "pack", "Clean & Co", 2.0, 0.05),
]
# Monday..Sunday deliveries: they peak before the weekend, almost nothing arrives on Sunday.
WEEKDAY_FACTOR = (1.25, 0.9, 1.0, 1.15, 1.45, 0.75, 0.3)
# Monday..Sunday use: the busiest days are Friday and Saturday.
USAGE_FACTOR = (0.85, 0.9, 0.95, 1.0, 1.25, 1.4, 0.65)
NOISE = 0.12
# Shares of the catalogue: the last tenth is the intermittent tail; every 50th item (from the 7th) is recent.
INTERMITTENT_SHARE = 0.1
RECENT_EVERY, RECENT_FIRST, RECENT_DAYS = 50, 7, (30, 75)


def _holiday_factor(day):
    """Closed on New Year's Day, 4 July, Thanksgiving and Christmas; a rush on the day before each."""
    def closed(d):
        thanksgiving = d.month == 11 and d.weekday() == 3 and 22 <= d.day <= 28
        return (d.month, d.day) in ((1, 1), (7, 4), (12, 25)) or thanksgiving
    if closed(day):
        return 0.1
    if closed(day + datetime.timedelta(days=1)):
        return 1.6
    return 1.0


def _demo_rows(conn):
    return conn.execute("SELECT count(*) FROM item_master WHERE item_code LIKE ?",
                        (ITEM_PREFIX + "%",)).fetchone()[0]


def _delete_demo(conn):
    conn.execute("DELETE FROM processed_invoices WHERE invoice_number LIKE ?", (INVOICE_PREFIX + "%",))
    conn.execute("DELETE FROM inventory_count_items WHERE count_id IN "
                 "(SELECT id FROM inventory_counts WHERE created_by = ?)", (DEMO_USER,))
    conn.execute("DELETE FROM inventory_counts WHERE created_by = ?", (DEMO_USER,))
    conn.execute("DELETE FROM item_master WHERE item_code LIKE ?", (ITEM_PREFIX + "%",))
    conn.execute("DELETE FROM consumption_history WHERE item_code LIKE ?", (ITEM_PREFIX + "%",))
    conn.execute("DELETE FROM ai_anomalies WHERE item_code LIKE ?", (ITEM_PREFIX + "%",))


def _catalogue(rng, items, days):
    catalogue = []
    for number in range(1, items + 1):
        category, unit, vendor, usage, amplitude = CATEGORIES[(number - 1) % len(CATEGORIES)]
        intermittent = number > items * (1 - INTERMITTENT_SHARE)
        recent = number % RECENT_EVERY == RECENT_FIRST
        catalogue.append(dict(
            code="%s%04d" % (ITEM_PREFIX, number), category=category, unit=unit, vendor=vendor,
            daily=usage * rng.uniform(0.3, 2.0), price=round(rng.uniform(1.5, 40.0), 2),
            amplitude=amplitude * rng.uniform(0.6, 1.4), phase=rng.uniform(0, 2 * math.pi),
            trend=rng.uniform(-0.15, 0.3),  # change of the level per year
            # Intermittent: used on about one day in five, in lumps four times the usual day.
            probability=rng.uniform(0.1, 0.3) if intermittent else 1.0,
            first_offset=days - rng.randint(*RECENT_DAYS) if recent else 0))
    for item in catalogue:
        item["first_offset"] = max(0, item["first_offset"])
    return catalogue


def _expected(item, day, offset, days):
    """Mean use of an item on a day before the weekday, holiday and noise: level, trend, yearly season."""
    years = (offset - days) / 365.25
    season = 1 + item["amplitude"] * math.sin(2 * math.pi * day.timetuple().tm_yday / 365.25 + item["phase"])
    return item["daily"] * max(0.2, 1 + item["trend"] * years) * season


def generate(db_path, items=300, days=730, seed=42, end_date=None, reset=False):
    """Fill the database with demo rows and derive their consumption; returns the row counts written.

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
            catalogue = _catalogue(rng, items, days)
            conn.executemany(
                "INSERT INTO item_master (item_code, name, category, unit, par_level) VALUES (?, ?, ?, ?, ?)",
                [(item["code"], "%s item %s" % (item["category"].title(), item["code"][len(ITEM_PREFIX):]),
                  item["category"], item["unit"], round(item["daily"] * 4, 1)) for item in catalogue])
            counts = _days(conn, rng, catalogue, start, days)
            derived = consumption.derive(conn, start, end)
    counts.update({
        "item_master": items,
        "consumption_history": derived["inserted"] + derived["updated"] + derived["unchanged"],
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
    })
    return counts


def _days(conn, rng, catalogue, start, days):
    """One count a day of every item in use, and the day's deliveries as invoices; the stock never goes below 0."""
    stock = {item["code"]: round(item["daily"] * 3, 2) for item in catalogue}
    # Deliveries a little above the mean use, so that stock outs stay rare.
    delivery_scale = 1.04 * len(WEEKDAY_FACTOR) / sum(WEEKDAY_FACTOR)
    count_lines, invoice_lines, count_ids = [], [], []
    for offset in range(days):
        day = start + datetime.timedelta(days=offset)
        iso = day.isoformat()
        count_id = conn.execute(
            "INSERT INTO inventory_counts (count_date, location, status, created_by) "
            "VALUES (?, 'main', 'completed', ?)", (iso, DEMO_USER)).lastrowid
        count_ids.append(count_id)
        holiday = _holiday_factor(day)
        for item in catalogue:
            if offset < item["first_offset"]:
                continue
            code = item["code"]
            expected = _expected(item, day, offset, days)
            if offset > item["first_offset"]:
                received = round(max(0.0, expected * delivery_scale * WEEKDAY_FACTOR[day.weekday()]
                                     * rng.gauss(1.0, NOISE)), 2)
                if item["probability"] < 1:
                    lump = rng.random() < item["probability"]
                    used = expected / item["probability"] * rng.uniform(0.5, 1.5) if lump else 0.0
                else:
                    used = max(0.0, expected * USAGE_FACTOR[day.weekday()] * holiday * rng.gauss(1.0, NOISE))
                # Counted to the hundredth, so that derivation gives back exactly the use.
                used = round(min(used, stock[code] + received), 2)
                stock[code] = round(stock[code] + received - used, 2)
                if received > 0:
                    quantity = received
                    invoice_lines.append((
                        "%s%s-%s" % (INVOICE_PREFIX, iso.replace("-", ""), item["vendor"].split()[0].upper()),
                        item["vendor"], iso, code, quantity, round(quantity * item["price"], 2)))
            count_lines.append((count_id, code, round(stock[code], 2)))
    conn.executemany(
        "INSERT INTO inventory_count_items (count_id, item_code, quantity) VALUES (?, ?, ?)", count_lines)
    conn.executemany(
        "INSERT INTO processed_invoices (invoice_number, vendor, invoice_date, item_code, quantity, amount) "
        "VALUES (?, ?, ?, ?, ?, ?)", invoice_lines)
    return {
        "inventory_counts": len(count_ids),
        "inventory_count_items": len(count_lines),
        "processed_invoices": len(invoice_lines),
    }
