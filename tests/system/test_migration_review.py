"""migration_review on the deployed reference service: concurrent writes through the API while a second writer
holds SQLite's write lock (real lock waits, and one write that gives up: a real busy error), then the module through
a playbook. Its counts are checked against the test's own reading: a grep of the log files, the transaction log's
line count."""
import glob
import math
import os
import re
import sqlite3
import threading
import time

import requests

import pytest

from tests.support.deployment import ADMIN_PASSWORD


@pytest.fixture(scope="module")
def deployment(review_deployment):
    """The reviews' shared deployment (tests/system/conftest.py): a deployment per review would cost 40 s each."""
    return review_deployment


ITEMS = ["MIG-%d" % n for n in range(1, 4)]


def _hold_write_lock(db, seconds, ready=None):
    """A second writer (a maintenance job, a CLI tool) holding the write lock for `seconds`."""
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        if ready is not None:
            ready.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _post_count(dep, headers, n):
    body = {"count_date": "2026-03-%02d" % (1 + n % 28), "location": "mig-%d" % n,
            "items": [{"item_code": code, "quantity": n + 0.5} for code in ITEMS]}
    return requests.post(dep.url + "/api/inventory/counts", json=body, headers=headers, timeout=30).status_code


def _post_while_held(dep, db, headers, n, seconds):
    ready = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(db, seconds, ready))
    holder.start()
    ready.wait(10)
    try:
        return _post_count(dep, headers, n)
    finally:
        holder.join()


def _make_contention(dep, db):
    conn = sqlite3.connect(db, timeout=30)
    with conn:
        conn.executemany("INSERT OR IGNORE INTO item_master (item_code, name) VALUES (?, ?)",
                         [(code, "migration test item") for code in ITEMS])
    conn.close()
    token = requests.post(dep.url + "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD},
                          timeout=10).json()["token"]
    headers = {"Authorization": "Bearer " + token}
    assert _post_while_held(dep, db, headers, 0, 0.4) == 201  # waits 0.4 s: one lock wait for sure
    # Four clients writing while another writer takes the lock for 150 ms every 250 ms.
    stop = threading.Event()

    def second_writer():
        while not stop.is_set():
            _hold_write_lock(db, 0.15)
            time.sleep(0.1)

    writer = threading.Thread(target=second_writer)
    writer.start()
    statuses = []

    def client(first):
        statuses.extend(_post_count(dep, headers, n) for n in range(first, first + 10))

    clients = [threading.Thread(target=client, args=(1 + 10 * k,)) for k in range(4)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    stop.set()
    writer.join()
    assert statuses == [201] * 40
    # Held past the service's 5 s busy timeout: the write gives up with "database is locked".
    assert _post_while_held(dep, db, headers, 99, 5.6) == 500


def _independent_counts(dep):
    waits, errors = [], 0
    for path in glob.glob(os.path.join(dep.home, "logs", "application-*.log")):
        with open(path) as handle:
            text = handle.read()
        waits += [int(ms) for ms in re.findall(r"^\S+Z WARNING sqlite busy wait_ms=(\d+) op=\S+$", text, re.M)]
        errors += len(re.findall(r"^\S+Z ERROR sqlite database is locked wait_ms=\d+ op=\S+$", text, re.M))
    with open(os.path.join(dep.home, "data", "transaction_log.jsonl"), "rb") as handle:
        writes = handle.read().count(b"\n")
    return waits, errors, writes


def test_review_counts_agree_with_the_logs_and_the_transaction_log(deployment):
    dep = deployment
    _make_contention(dep, os.path.join(dep.home, "data", "enterprise_inventory.db"))
    waits, errors, writes = _independent_counts(dep)
    assert waits and errors == 1 and writes == 41, (waits, errors, writes)

    run = dep.play("tests/system/playbooks/migration_review.yml", extra_vars={"service_home": dep.home})
    assert run.rc == 0, run.failed_tasks()
    result = run.task_results("Review")[dep.host]
    assert result["changed"] is False
    figures = result["figures"]
    assert figures["busy_errors_total"] == errors and figures["lock_waits_total"] == len(waits)
    assert figures["lock_wait_p95_ms"] == sorted(waits)[int(math.ceil(0.95 * len(waits))) - 1]
    assert figures["lock_wait_max_ms"] == max(waits) and min(waits) >= 50
    assert figures["writes_total"] == writes and figures["peak_writes_per_minute"] >= 1
    assert sum(y for _x, y in result["series"]["busy_errors_per_day"]["points"]) == errors
    assert sum(y for _x, y in result["series"]["lock_waits_per_day"]["points"]) == len(waits)
    assert sum(y for _x, y in result["series"]["writes_per_day"]["points"]) == writes
    assert figures["database_bytes"] == sum(os.path.getsize(os.path.join(dep.home, "data", name))
                                            for name in ("enterprise_inventory.db", "enterprise_inventory.db-wal")
                                            if os.path.exists(os.path.join(dep.home, "data", name)))
    assert result["recommendation"]["decision"] == "migrate"
    ids = [f["id"] for f in result["findings"]]
    assert ids[0] == "busy_errors_over_limit" and "postgres_mirror_not_configured" in ids
