"""Backup and restore of a ~1 GiB database: the backup module against `sqlite3 .backup` + `tar -czf`, and the
restore module (full verification, safety copy, integrity check) against the guide's manual steps.

The modules run as `python -m ansible_collections.inventory_enterprise.ops.plugins.modules.<name> args.json`:
the module's own main(), the code Ansible runs, without the AnsiballZ transfer (which adds the same constant
to any module). The database is generated once into build/bench/backup/ and reused.

Run: cd /work/main && .venv/bin/python -m bench.backup
"""
import json
import os
import shutil
import sqlite3
import sys
import time

from bench.harness import ROOT, compare

WORK = os.path.join(ROOT, "build", "bench", "backup")
HOME = os.path.join(WORK, "home")
DB = os.path.join(HOME, "data", "enterprise_inventory.db")
TXLOG = os.path.join(HOME, "data", "transaction_log.jsonl")
TARGET_BYTES = 1024 ** 3
PY = sys.executable
ENV = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "build", "collections"))


def generate():
    """~1 GiB in the service's schema: count lines and invoice lines as the service writes them."""
    if os.path.exists(DB) and os.path.getsize(DB) >= TARGET_BYTES * 0.95:
        return
    shutil.rmtree(HOME, ignore_errors=True)
    for sub in ("data", "logs", "backups", "config", "ai/models"):
        os.makedirs(os.path.join(HOME, sub))
    with open(os.path.join(HOME, ".env"), "w") as handle:
        handle.write("PORT=8083\nJWT_SECRET=bench-secret-0123456789abcdef\n")
    from inventory_service import db  # the reference service's schema
    db.init_db(DB)
    conn = sqlite3.connect(DB, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("INSERT INTO item_master (item_code, name, category, unit, par_level) "
                 "SELECT printf('ITEM-%05d', value), printf('Item number %d, standard pack', value), "
                 "'cat-' || (value % 17), 'ea', value % 100 FROM generate_series(1, 5000)"
                 if _has_series(conn) else
                 "WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < 5000) "
                 "INSERT INTO item_master (item_code, name, category, unit, par_level) "
                 "SELECT printf('ITEM-%05d', value), printf('Item number %d, standard pack', value), "
                 "'cat-' || (value % 17), 'ea', value % 100 FROM s")
    batch = 0
    with open(TXLOG, "w") as log:
        while os.path.getsize(DB) < TARGET_BYTES:
            conn.execute("BEGIN")
            conn.execute("INSERT INTO inventory_counts (count_date, location, status, created_by) "
                         "VALUES (date('2024-01-01', '+%d days'), 'main', 'closed', 'admin')" % batch)
            count_id = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            conn.execute(
                "WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < 200000) "
                "INSERT INTO inventory_count_items (count_id, item_code, quantity) "
                "SELECT ?, printf('ITEM-%05d', abs(random()) % 5000), round(abs(random()) % 100000 / 100.0, 2) "
                "FROM s", (count_id,))
            conn.execute(
                "WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < 50000) "
                "INSERT INTO processed_invoices (invoice_number, vendor, invoice_date, item_code, quantity, amount) "
                "SELECT printf('INV-%d-%06d', ?, value), 'Vendor ' || (value % 40), "
                "date('2024-01-01', '+' || ? || ' days'), "
                "printf('ITEM-%05d', value % 5000), round(abs(random()) % 2000 / 100.0, 2), "
                "round(abs(random()) % 50000 / 100.0, 2) FROM s", (batch, batch))
            conn.execute("COMMIT")
            for n in range(2000):
                log.write(json.dumps({"seq": batch * 2000 + n + 1, "ts": "2025-01-07T02:00:00.000Z",
                                      "op": "inventory_count.create", "user": "admin",
                                      "data": {"count_id": count_id, "items": [{"item_code": "ITEM-%05d" % n,
                                                                                "quantity": n / 3.0}]}}) + "\n")
            batch += 1
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _has_series(conn):
    try:
        conn.execute("SELECT value FROM generate_series(1, 1)").fetchall()
        return True
    except sqlite3.Error:
        return False


def module_cmd(name, args, reset):
    args_file = os.path.join(WORK, "%s-args.json" % name)
    with open(args_file, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    return ["sh", "-c", "%s && %s -m ansible_collections.inventory_enterprise.ops.plugins.modules.%s %s >%s/%s.out"
            % (reset, PY, name, args_file, WORK, name)]


def main():
    started = time.time()
    generate()
    print("database %.2f GiB, transaction log %.1f MiB (generated/reused in %.0f s)" % (
        os.path.getsize(DB) / 1024.0 ** 3, os.path.getsize(TXLOG) / 1024.0 ** 2, time.time() - started))
    ours_dir, base_dir = os.path.join(WORK, "out_ours"), os.path.join(WORK, "out_baseline")
    ours = module_cmd("backup", {"service_home": HOME, "dest": ours_dir, "verify": False, "log": False},
                      "rm -rf %s" % ours_dir)
    baseline = ["sh", "-c", "rm -rf {o} && mkdir -p {o} && sqlite3 {db} '.backup {o}/database.db' && "
                "cp {log} {o}/transaction_log.jsonl && tar -czf {o}/backup.tar.gz -C {o} database.db "
                "transaction_log.jsonl && rm {o}/database.db {o}/transaction_log.jsonl".format(
                    o=base_dir, db=DB, log=TXLOG)]
    backup = compare("backup of a 1 GiB database + transaction log",
                     {"backup module (zstd)": ours, "sqlite3 .backup + tar -czf": baseline},
                     repeats=3, warmup=0, baseline="sqlite3 .backup + tar -czf", env=ENV)
    ours_archive = [os.path.join(ours_dir, n) for n in os.listdir(ours_dir) if n.startswith("inventory_backup_")][0]
    sizes = {"ours": os.path.getsize(ours_archive),
             "baseline": os.path.getsize(os.path.join(base_dir, "backup.tar.gz"))}
    print("  archive sizes: backup module %.1f MiB, tar -czf %.1f MiB" % (
        sizes["ours"] / 1024.0 ** 2, sizes["baseline"] / 1024.0 ** 2))

    target = os.path.join(WORK, "restore_home")
    reset = "rm -rf {t} && mkdir -p {t}/data && cp {env} {t}/.env".format(t=target, env=os.path.join(HOME, ".env"))
    restore = module_cmd("restore", {"service_home": target, "src": ours_archive}, reset)
    manual = os.path.join(WORK, "manual")
    guide = ["sh", "-c", "rm -rf {m} && mkdir -p {m}/data && cd {m} && tar -xzf {a} && cp database.db "
             "data/enterprise_inventory.db && cp transaction_log.jsonl data/ && "
             "test \"$(sqlite3 data/enterprise_inventory.db 'PRAGMA integrity_check;')\" = ok".format(
                 m=manual, a=os.path.join(base_dir, "backup.tar.gz"))]
    restored = compare("restore of the same backup with integrity check",
                       {"restore module": restore, "guide: tar -xzf + cp + integrity_check": guide},
                       repeats=2, warmup=0, baseline="guide: tar -xzf + cp + integrity_check", env=ENV,
                       notes="restore module: full verification (SHA-256 of every member, scratch restore, "
                             "integrity_check, row counts), safety copy, integrity_check of the live file")
    summary = {"backup": backup, "restore": restored, "sizes": sizes,
               "database_bytes": os.path.getsize(DB), "txlog_bytes": os.path.getsize(TXLOG)}
    with open(os.path.join(WORK, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=2, default=str)
    shutil.rmtree(manual, ignore_errors=True)
    return summary


if __name__ == "__main__":
    main()
