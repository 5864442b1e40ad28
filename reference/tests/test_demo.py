import datetime
import statistics
import time

import pytest

from inventory_service import consumption, db, demo


def test_default_size_is_fast_and_counts_match(tmp_path):
    path = tmp_path / "demo.db"
    start = time.monotonic()
    counts = demo.generate(path, end_date=datetime.date(2026, 11, 28))
    assert time.monotonic() - start < 30
    assert counts["item_master"] == 300 and counts["inventory_counts"] == 730
    assert counts["start_date"] == "2024-11-29" and counts["end_date"] == "2026-11-28"
    with db.connection(path) as conn:
        for table in ("item_master", "inventory_counts", "inventory_count_items", "processed_invoices",
                      "consumption_history"):
            assert conn.execute("SELECT count(*) FROM %s" % table).fetchone()[0] == counts[table], table
        categories = conn.execute("SELECT count(DISTINCT category) FROM item_master").fetchone()[0]
        assert categories >= 4
        assert conn.execute("SELECT count(DISTINCT count_date) FROM inventory_counts").fetchone()[0] == 730
        # Every counted day after an item's first count has its consumption, derived from the counts.
        firsts = conn.execute("SELECT count(DISTINCT ici.item_code) FROM inventory_count_items ici").fetchone()[0]
        assert counts["consumption_history"] == counts["inventory_count_items"] - firsts
        assert conn.execute("SELECT count(*) FROM consumption_history WHERE source != 'derived'").fetchone()[0] == 0
        # Derived again, nothing changes: the demo's counts and invoices give back exactly its history.
        again = consumption.derive(conn, counts["start_date"], counts["end_date"], write=False)
        assert (again["inserted"], again["updated"], again["adjustments"]) == (0, 0, [])


def test_history_has_the_patterns_forecasting_needs(tmp_path):
    path = tmp_path / "demo.db"
    counts = demo.generate(path, items=40, days=730, seed=3, end_date=datetime.date(2026, 11, 28))
    with db.connection(path) as conn:
        def series(code):
            return [q for _d, q in consumption.history(conn, code, counts["start_date"], counts["end_date"])]

        quality = {code: consumption.data_quality(conn, code)
                   for (code,) in conn.execute("SELECT item_code FROM item_master ORDER BY item_code")}
        # Weekly: Saturdays busier than Sundays for the regular items, on total.
        by_weekday = {}
        for day, total in conn.execute("SELECT day, SUM(quantity) FROM consumption_history "
                                       "WHERE item_code <= 'DEMO-0036' GROUP BY day"):
            by_weekday.setdefault(datetime.date.fromisoformat(day).weekday(), []).append(total)
        means = {weekday: statistics.mean(values) for weekday, values in by_weekday.items()}
        assert means[5] > 1.6 * means[6]
        # Closed on Christmas: far below the days around it.
        christmas = conn.execute("SELECT SUM(quantity) FROM consumption_history WHERE day = '2025-12-25'").fetchone()[0]
        around = conn.execute("SELECT SUM(quantity) / 2 FROM consumption_history WHERE day IN "
                              "('2025-12-18', '2026-01-01')").fetchone()[0]
        assert christmas < 0.3 * around
        # Yearly: the beverages item (DEMO-0005) differs between its best and worst quarter.
        beverages = series("DEMO-0005")
        quarters = [statistics.mean(beverages[n:n + 91]) for n in range(0, 365, 91)]
        assert max(quarters) > 1.2 * min(quarters)
    # The intermittent tail (the last tenth): mostly zero days; the regular items: none.
    assert all(quality["DEMO-%04d" % n]["zero_share"] > 0.5 for n in range(37, 41))
    assert all(quality["DEMO-%04d" % n]["zero_share"] < 0.05 for n in range(1, 36) if n != 7)
    # A recent item: too little history.
    assert quality["DEMO-0007"]["span_days"] < 90
    assert any("too little history" in issue for issue in quality["DEMO-0007"]["issues"])


def test_weekly_seasonality(tmp_path):
    path = tmp_path / "demo.db"
    demo.generate(path, items=30, days=140, seed=7, end_date=datetime.date(2026, 11, 28))
    with db.connection(path) as conn:
        rows = conn.execute("SELECT invoice_date, SUM(quantity) FROM processed_invoices GROUP BY invoice_date")
        by_weekday = {}
        for day, total in rows:
            by_weekday.setdefault(datetime.date.fromisoformat(day).weekday(), []).append(total)
    means = {weekday: statistics.mean(values) for weekday, values in by_weekday.items()}
    assert len(means) == 7
    assert means[4] > 1.5 * means[1] and means[6] < 0.5 * means[2]  # Friday peak, quiet Sunday
    # The weekday effect dominates the noise: Fridays beat every Tuesday.
    assert min(by_weekday[4]) > max(by_weekday[1])


def test_idempotent_and_reset(tmp_path):
    path = tmp_path / "demo.db"
    first = demo.generate(path, items=10, days=20)
    assert demo.generate(path, items=10, days=20) == {"skipped": True, "existing_demo_items": 10}
    with db.connection(path) as conn:
        conn.execute("INSERT INTO item_master (item_code, name) VALUES ('REAL-1', 'kept')")
    again = demo.generate(path, items=5, days=10, reset=True)
    assert again["item_master"] == 5 and first["item_master"] == 10
    with db.connection(path) as conn:
        assert conn.execute("SELECT count(*) FROM item_master").fetchone()[0] == 6
        assert conn.execute("SELECT count(*) FROM inventory_counts").fetchone()[0] == 10
        assert conn.execute("SELECT count(DISTINCT item_code) FROM consumption_history").fetchone()[0] == 5


def test_rejects_nonsense(tmp_path):
    with pytest.raises(ValueError):
        demo.generate(tmp_path / "x.db", items=0)
