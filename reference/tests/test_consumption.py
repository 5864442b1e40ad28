"""consumption.py (the collection's _consumption.py) against real SQLite databases built here."""
import datetime
import sqlite3

import pytest

from inventory_service import consumption, db


def day(offset, start=datetime.date(2026, 1, 1)):
    return (start + datetime.timedelta(days=offset)).isoformat()


def database(tmp_path, counts=(), invoices=()):
    """counts: (day, {item: quantity}); invoices: (number, day, item, quantity)."""
    path = tmp_path / "inv.db"
    db.init_db(path)
    conn = db.connect(path)
    with db.transaction(conn):
        for count_day, lines in counts:
            count_id = conn.execute("INSERT INTO inventory_counts (count_date, status) VALUES (?, 'completed')",
                                    (count_day,)).lastrowid
            conn.executemany("INSERT INTO inventory_count_items (count_id, item_code, quantity) VALUES (?, ?, ?)",
                             [(count_id, item, qty) for item, qty in lines.items()])
        conn.executemany("INSERT INTO processed_invoices (invoice_number, invoice_date, item_code, quantity) "
                         "VALUES (?, ?, ?, ?)", invoices)
    return conn


def stored(conn, item=None):
    sql = "SELECT item_code, day, quantity, source FROM consumption_history"
    rows = conn.execute(sql + (" WHERE item_code = ?" if item else "") + " ORDER BY 1, 2",
                        (item,) if item else ()).fetchall()
    return [tuple(row) for row in rows]


def test_derive_spreads_intervals_counts_invoices_and_is_idempotent(tmp_path):
    conn = database(tmp_path, counts=[
        (day(0), {"A": 10, "B": 5}), (day(1), {"A": 7}), (day(4), {"A": 4, "B": 1}), (day(5), {"B": 9})],
        invoices=[("I1", day(3), "A", 3), ("I2", day(0), "A", 100), ("I3", day(5), "B", 2)])
    result = consumption.derive(conn, day(0), day(5))
    assert (result["inserted"], result["updated"], result["unchanged"]) == (9, 0, 0)
    assert result["items"] == ["A", "B"] and result["range"] == {"start_date": day(0), "end_date": day(5)}
    # A: 10 -> 7 in one day; 7 + 3 received on day 3 - 4 over days 2..4; the invoice of day 0 is before the interval.
    assert stored(conn, "A") == [("A", day(1), 3.0, "derived")] + [("A", day(n), 2.0, "derived") for n in (2, 3, 4)]
    # B: 5 -> 1 over days 1..4; then 1 + 2 received -> 9 is a recount: 0, reported.
    assert stored(conn, "B") == [("B", day(n), 1.0, "derived") for n in (1, 2, 3, 4)] + [("B", day(5), 0.0, "derived")]
    assert result["adjustments"] == [{"item_code": "B", "from": day(4), "to": day(5), "quantity": -6.0}]
    again = consumption.derive(conn, day(0), day(5))
    assert (again["inserted"], again["updated"], again["unchanged"], again["items"]) == (0, 0, 9, [])


def test_derive_updates_after_a_correction_and_never_overwrites_imports(tmp_path):
    conn = database(tmp_path, counts=[(day(0), {"A": 10}), (day(1), {"A": 6}), (day(2), {"A": 5})])
    consumption.derive(conn, day(0), day(2))
    consumption.import_rows(conn, [("A", day(2), 42.0)])
    conn.execute("UPDATE inventory_count_items SET quantity = 8 WHERE quantity = 6")
    result = consumption.derive(conn, day(0), day(2))
    assert (result["inserted"], result["updated"], result["unchanged"], result["kept_import"]) == (0, 1, 0, 1)
    assert stored(conn) == [("A", day(1), 2.0, "derived"), ("A", day(2), 42.0, "import")]


def test_derive_uses_the_last_count_before_the_range_and_writes_nothing_without_write(tmp_path):
    conn = database(tmp_path, counts=[(day(0), {"A": 20}), (day(10), {"A": 10})])
    preview = consumption.derive(conn, day(9), day(10), write=False)
    assert preview["inserted"] == 2 and stored(conn) == []
    consumption.derive(conn, day(9), day(10))
    assert stored(conn) == [("A", day(9), 1.0, "derived"), ("A", day(10), 1.0, "derived")]
    with pytest.raises(consumption.ConsumptionError, match="after end_date"):
        consumption.derive(conn, day(3), day(2))


def test_read_only_calls_create_nothing_on_an_older_database(tmp_path):
    conn = sqlite3.connect(str(tmp_path / "old.db"))
    conn.executescript("CREATE TABLE inventory_counts (id INTEGER PRIMARY KEY, count_date TEXT);"
                       "CREATE TABLE inventory_count_items (id INTEGER PRIMARY KEY, count_id INT, item_code TEXT, "
                       "quantity REAL);"
                       "CREATE TABLE processed_invoices (invoice_date TEXT, item_code TEXT, quantity REAL);")
    assert consumption.derive(conn, day(0), day(1), write=False)["inserted"] == 0
    assert consumption.list_anomalies(conn, 7) == []
    assert consumption.detect_anomalies(conn, day(0), write=False) == ([], 0)
    assert not consumption.has_schema(conn)
    consumption.ensure_schema(conn)
    assert consumption.has_schema(conn)


def test_history_fills_gaps_and_top_items_ranks_by_volume(tmp_path):
    conn = database(tmp_path)
    consumption.import_rows(conn, [("A", day(0), 1.5), ("A", day(3), 2.0), ("B", day(1), 9.0), ("C", day(1), 0.0)])
    assert consumption.history(conn, "A", day(0), day(4)) == [
        (day(0), 1.5), (day(1), 0.0), (day(2), 0.0), (day(3), 2.0), (day(4), 0.0)]
    assert consumption.top_items(conn, 5, today=day(5)) == ["B", "A"]
    assert consumption.top_items(conn, 1, today=day(5)) == ["B"]
    assert consumption.top_items(conn, 5, days=3, today=day(5)) == ["A"]


def test_data_quality_reports_gaps_zero_runs_outliers_and_short_history(tmp_path):
    conn = database(tmp_path)
    # Days 20-24 missing, day 25 a spike, days 40-49 zero.
    quantity = {n: 200.0 if n == 25 else 0.0 if 40 <= n < 50 else 10.0 + n % 3 for n in range(60)}
    consumption.import_rows(conn, [("A", day(n), q) for n, q in quantity.items() if not 20 <= n < 25])
    report = consumption.data_quality(conn, "A")
    assert report["first_day"] == day(0) and report["last_day"] == day(59) and report["span_days"] == 60
    assert report["days_covered"] == 55 and report["gap_days"] == 5
    assert report["gaps"] == [{"start": day(20), "end": day(24), "days": 5}]
    assert report["longest_zero_run"] == 10 and report["outliers"] == [{"day": day(25), "quantity": 200.0}]
    assert report["zero_share"] == pytest.approx(15 / 60, abs=1e-4)
    assert any("too little history" in issue for issue in report["issues"])
    assert consumption.data_quality(conn, "NONE")["issues"] == ["no consumption history"]


def test_anomalies_against_the_weekday_baseline_idempotent(tmp_path):
    conn = database(tmp_path)
    weekly = (10, 11, 12, 13, 20, 25, 6)
    rows = [("A", day(n), float(weekly[n % 7])) for n in range(84)]
    rows[80] = ("A", day(80), 60.0)  # a spike
    rows[81] = ("A", day(81), 0.0)   # and a closed day
    # Intermittent: zero most days, lumps of about 8; a zero day or an ordinary lump is no anomaly, 80 is.
    rows += [("I", day(n), 8.0 + n % 3 if n % 5 == 0 else 0.0) for n in range(84)]
    rows[84 + 75] = ("I", day(75), 80.0)
    consumption.import_rows(conn, rows)
    found, new = consumption.detect_anomalies(conn, day(70), today=day(83))
    assert [(a["item_code"], a["day"]) for a in found] == [("A", day(80)), ("A", day(81)), ("I", day(75))]
    assert found[0]["expected"] == weekly[80 % 7] and found[0]["score"] > 3.5 and found[1]["score"] < -3.5
    assert new == 3
    assert consumption.detect_anomalies(conn, day(70), today=day(83))[1] == 0
    assert conn.execute("SELECT count(*) FROM ai_anomalies").fetchone()[0] == 3
    listed = consumption.list_anomalies(conn, 3, today=day(83))
    assert [(a["item_code"], a["day"]) for a in listed] == [("A", day(81)), ("A", day(80))]
    assert set(listed[0]) == {"item_code", "day", "quantity", "expected", "score"}
