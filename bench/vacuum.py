"""VACUUM of a 1 GiB SQLite database (WAL mode, like the service's) with 30% free pages: sqlite_maintenance
(operations=[vacuum], run as a module process with its argument file) against the `sqlite3` command-line tool doing
`VACUUM;`, in the same run. Every run starts from a fresh copy of the same fragmented file; a third variant
times the copy alone, so the setup cost both variants carry is visible.

    .venv/bin/python bench/vacuum.py            # generate data once into build/bench/vacuum/, then compare
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import ROOT, compare  # noqa: E402

WORKDIR = os.path.join(ROOT, "build", "bench", "vacuum")
TEMPLATE = os.path.join(WORKDIR, "template.db")
WORK = os.path.join(WORKDIR, "work.db")
ARGS = os.path.join(WORKDIR, "args.json")
MODULE = os.path.join(ROOT, "plugins", "modules", "sqlite_maintenance.py")
TARGET_BYTES = 1 << 30
ROW_BYTES = 1000


def generate():
    """1 GiB file whose pages are 30% free: 1 GiB of rows, then 30% of them deleted in contiguous blocks."""
    if os.path.exists(TEMPLATE):
        return
    os.makedirs(WORKDIR, exist_ok=True)
    started = time.monotonic()
    tmp = TEMPLATE + ".tmp"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(tmp + suffix):
            os.unlink(tmp + suffix)
    rows = int(TARGET_BYTES / (ROW_BYTES + 60))
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE processed_invoices (id INTEGER PRIMARY KEY, invoice_number TEXT, payload BLOB)")
    conn.execute("CREATE INDEX idx_invoice_number ON processed_invoices(invoice_number)")
    conn.execute("BEGIN")
    conn.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
                 "INSERT INTO processed_invoices SELECT x, 'INV-' || x, randomblob(?) FROM c", (rows, ROW_BYTES - 60))
    conn.execute("COMMIT")
    # Blocks of 1000 consecutive rows: whole pages become free, as when old invoices are archived.
    conn.execute("DELETE FROM processed_invoices WHERE (id / 1000) % 10 < 3")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_count = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    conn.close()
    os.rename(tmp, TEMPLATE)
    print("generated %s: %d bytes, %.1f%% free pages, in %.0fs" % (
        TEMPLATE, os.path.getsize(TEMPLATE), 100.0 * free / page_count, time.monotonic() - started))


def fresh_copy():
    for suffix in ("-wal", "-shm"):
        if os.path.exists(WORK + suffix):
            os.unlink(WORK + suffix)
    shutil.copyfile(TEMPLATE, WORK)


def run(variant):
    fresh_copy()
    if variant == "copy":
        return
    if variant == "ours":
        with open(ARGS, "w") as handle:
            json.dump({"ANSIBLE_MODULE_ARGS": {"path": WORK, "operations": ["vacuum"]}}, handle)
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "build", "collections"))
        proc = subprocess.run([sys.executable, MODULE, ARGS], env=env, capture_output=True, text=True, check=False)
        result = json.loads(proc.stdout)
        assert result["report"]["vacuum"]["bytes_reclaimed"] > 0, result
    else:
        subprocess.run(["sqlite3", WORK, "VACUUM;"], check=True)
    assert os.path.getsize(WORK) < os.path.getsize(TEMPLATE) * 0.8


def main(repeats=3):
    generate()
    python = sys.executable
    me = os.path.abspath(__file__)
    try:
        return compare(
            "VACUUM of a 1 GiB SQLite database with 30% free pages",
            {"sqlite_maintenance vacuum": [python, me, "run", "ours"],
             "sqlite3 CLI VACUUM": [python, me, "run", "cli"],
             "fresh copy only (setup in both)": [python, me, "run", "copy"]},
            repeats=repeats, baseline="sqlite3 CLI VACUUM",
            notes="WAL mode; each run copies the 1 GiB template first (timed as its own variant)")
    finally:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(WORK + suffix):
                os.unlink(WORK + suffix)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        run(sys.argv[2])
    else:
        main()
