import datetime
import statistics
import time

import pytest

from inventory_service import db, demo


def test_default_size_is_fast_and_counts_match(tmp_path):
    path = tmp_path / "demo.db"
    start = time.monotonic()
    counts = demo.generate(path, end_date=datetime.date(2026, 11, 28))
    assert time.monotonic() - start < 20
    assert counts["item_master"] == 300 and counts["inventory_counts"] == 420
    assert counts["inventory_count_items"] == 300 * 420
    assert counts["start_date"] == "2025-10-05" and counts["end_date"] == "2026-11-28"
    with db.connection(path) as conn:
        for table in ("item_master", "inventory_counts", "inventory_count_items", "processed_invoices"):
            assert conn.execute("SELECT count(*) FROM %s" % table).fetchone()[0] == counts[table], table
        categories = conn.execute("SELECT count(DISTINCT category) FROM item_master").fetchone()[0]
        assert categories >= 4
        assert conn.execute("SELECT count(DISTINCT count_date) FROM inventory_counts").fetchone()[0] == 420


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


def test_rejects_nonsense(tmp_path):
    with pytest.raises(ValueError):
        demo.generate(tmp_path / "x.db", items=0)
