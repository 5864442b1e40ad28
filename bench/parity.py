"""Dual-write parity of a 1,000,000-row table with 100 rows changed in PostgreSQL, in the same run, on the same data:
- dual_write_parity's full check (chunked range summaries, module_utils/_parity.py);
- dual_write_parity with change_tracking=present: the whole module run, comparing the rows written since the last
  run (the 100 changed rows were written with the triggers in place);
- the baseline: a full row-by-row comparison (both tables streamed in key order and compared in Python).
Then what tracking costs the service's writes: single-row write transactions with and without the triggers.

    .venv/bin/python bench/parity.py            # generate data once into build/bench/, then compare
"""
import contextlib
import io
import json
import os
import random
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import ROOT, compare  # noqa: E402

ROWS = 1000000
CHANGED = 100
WORKDIR = os.path.join(ROOT, "build", "bench", "parity")
SQLITE = os.path.join(WORKDIR, "parity.db")
PG_DB = "ie_bench_parity"
TRACKED_SQLITE = os.path.join(WORKDIR, "parity_tracked.db")
TRACKED_PG_DB = "ie_bench_parity_tracked"
WRITES = 3000
COLUMNS = "id, invoice_number, vendor, invoice_date, item_code, quantity, amount, processed_at"


def pg_dsn(dbname=PG_DB):
    from tests.support.servers import postgres_admin_dsn  # pylint: disable=import-outside-toplevel
    return postgres_admin_dsn().replace("dbname=postgres", "dbname=%s" % dbname)


def rows(seed=1):
    rnd = random.Random(seed)
    vendors = ["Sysco Foods", "US Foods", "Gordon 'GFS'", None, "Ça Va Produce"]
    for n in range(1, ROWS + 1):
        quantity = round(rnd.uniform(0, 500), rnd.choice([0, 1, 2, 3]))
        yield (n, "INV-%07d" % (n // 12), vendors[n % 5], "2025-%02d-%02d" % (1 + n % 12, 1 + n % 28),
               "ITM%05d" % (n % 5000), quantity, round(quantity * rnd.uniform(0.5, 40), 2),
               "2025-06-01T10:%02d:%02d.000Z" % (n // 60 % 60, n % 60))


def generate():
    """SQLite and PostgreSQL with the same 1M rows, then 100 rows altered in PostgreSQL (only once)."""
    import psycopg2  # pylint: disable=import-outside-toplevel
    os.makedirs(WORKDIR, exist_ok=True)
    admin = psycopg2.connect(pg_dsn("postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DB,))
        exists = cur.fetchone() is not None
    if exists and os.path.exists(SQLITE):
        admin.close()
        return
    started = time.monotonic()
    with admin.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS "%s"' % PG_DB)
        cur.execute('CREATE DATABASE "%s"' % PG_DB)
    admin.close()
    if os.path.exists(SQLITE):
        os.unlink(SQLITE)
    lite = sqlite3.connect(SQLITE, isolation_level=None)
    lite.execute("PRAGMA journal_mode=WAL")
    lite.execute("CREATE TABLE processed_invoices (id INTEGER PRIMARY KEY, invoice_number TEXT NOT NULL, vendor TEXT, "
                 "invoice_date TEXT, item_code TEXT, quantity REAL, amount REAL, processed_at TEXT)")
    lite.execute("BEGIN")
    lite.executemany("INSERT INTO processed_invoices VALUES (?,?,?,?,?,?,?,?)", rows())
    lite.execute("COMMIT")
    lite.close()
    pg = psycopg2.connect(pg_dsn())
    with pg, pg.cursor() as cur:
        cur.execute("CREATE TABLE processed_invoices (id bigint PRIMARY KEY, invoice_number text NOT NULL, vendor text, "
                    "invoice_date text, item_code text, quantity double precision, amount double precision, "
                    "processed_at text)")
        buf = io.StringIO()
        for row in rows():
            buf.write("\t".join("\\N" if v is None else repr(v) if isinstance(v, float) else str(v) for v in row))
            buf.write("\n")
        buf.seek(0)
        cur.copy_expert("COPY processed_invoices (%s) FROM STDIN" % COLUMNS, buf)
        rnd = random.Random(2)
        changed = sorted(rnd.sample(range(1, ROWS + 1), CHANGED))
        cur.execute("UPDATE processed_invoices SET amount = amount + 1 WHERE id = ANY(%s)", (changed,))
        cur.execute("ANALYZE processed_invoices")
    pg.close()
    print("generated 1M rows in SQLite and PostgreSQL in %.0fs" % (time.monotonic() - started))


def run_ours():
    sys.path.insert(0, os.path.join(ROOT, "build", "collections"))
    from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _parity  # noqa: E501 pylint: disable=import-outside-toplevel
    from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres import PostgresConnection  # noqa: E501 pylint: disable=import-outside-toplevel
    lite = sqlite3.connect("file:%s?mode=ro" % SQLITE, uri=True, check_same_thread=False)
    pg = PostgresConnection({"dsn": pg_dsn()}).open()
    pg.conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    pg.execute("SET extra_float_digits = 3")
    pg.execute("SET jit = off")
    lite.execute("BEGIN")
    spec = _parity.TableSpec.from_sqlite(lite, "processed_invoices")
    theirs = _parity.PostgresSide(pg, spec)
    diff = _parity.compare_table(_parity.SqliteSide(lite, spec, theirs.kinds), theirs)
    assert len(diff.changed) == CHANGED and not diff.missing and not diff.extra, (diff.changed[:5], diff.missing[:5])
    assert diff.sqlite_rows == ROWS
    print("changed=%d chunks=%d differing=%d" % (len(diff.changed), diff.chunks, diff.chunks_differing))


def run_parity_module(args):
    """One real run of the dual_write_parity module (argument file, as Ansible runs it); its result."""
    sys.path.insert(0, os.path.join(ROOT, "build", "collections"))
    from ansible_collections.inventory_enterprise.ops.plugins.modules import dual_write_parity  # noqa: E501 pylint: disable=import-outside-toplevel
    argfile = os.path.join(WORKDIR, "args-%d.json" % os.getpid())
    with open(argfile, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    out = io.StringIO()
    sys.argv = ["dual_write_parity", argfile]
    try:
        with contextlib.redirect_stdout(out):
            dual_write_parity.main()
    except SystemExit:
        pass
    finally:
        os.unlink(argfile)
    return json.loads(out.getvalue())


def tracked_args(**extra):
    args = {"sqlite_path": TRACKED_SQLITE, "dsn": pg_dsn(TRACKED_PG_DB), "change_tracking": "present",
            "tables": ["processed_invoices"]}
    args.update(extra)
    return args


def prepare_tracked():
    """A copy of both databases with tracking installed and in sync, then the same 100 rows changed in
    PostgreSQL with the triggers in place (as a dual-write failure or a stray write would)."""
    import psycopg2  # pylint: disable=import-outside-toplevel
    admin = psycopg2.connect(pg_dsn("postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS "%s"' % TRACKED_PG_DB)
        cur.execute('CREATE DATABASE "%s" TEMPLATE "%s"' % (TRACKED_PG_DB, PG_DB))
    admin.close()
    src, dst = sqlite3.connect(SQLITE), sqlite3.connect(TRACKED_SQLITE)
    src.backup(dst)
    src.close()
    dst.close()
    synced = run_parity_module(tracked_args(sync=True))
    assert synced["tables"][0]["synced"]["upserted"] == CHANGED, synced
    assert run_parity_module(tracked_args())["in_sync"]
    pg = psycopg2.connect(pg_dsn(TRACKED_PG_DB))
    with pg, pg.cursor() as cur:
        changed = sorted(random.Random(2).sample(range(1, ROWS + 1), CHANGED))
        cur.execute("UPDATE processed_invoices SET amount = amount + 1 WHERE id = ANY(%s)", (changed,))
    pg.close()


def run_incremental():
    result = run_parity_module(tracked_args())
    table = result["tables"][0]
    assert result["tracking"]["method"] == "incremental", result["tracking"]
    assert table["changed"]["count"] == CHANGED and table["keys_checked"] == CHANGED, table
    assert table["sqlite_rows"] == ROWS
    print("changed=%d keys_checked=%d" % (table["changed"]["count"], table["keys_checked"]))


def run_full():
    """The straightforward comparison: every row of both tables, streamed in key order, compared in Python."""
    import psycopg2  # pylint: disable=import-outside-toplevel
    lite = sqlite3.connect("file:%s?mode=ro" % SQLITE, uri=True)
    pg = psycopg2.connect(pg_dsn())
    cur = pg.cursor(name="full_scan")
    cur.itersize = 20000
    cur.execute("SELECT %s FROM processed_invoices ORDER BY id" % COLUMNS)
    mine = lite.execute("SELECT %s FROM processed_invoices ORDER BY id" % COLUMNS)
    changed, missing, extra = [], [], []
    a, b = next(mine, None), next(cur, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            missing.append(a[0])
            a = next(mine, None)
        elif a is None or b[0] < a[0]:
            extra.append(b[0])
            b = next(cur, None)
        else:
            if tuple(a) != tuple(b):
                changed.append(a[0])
            a, b = next(mine, None), next(cur, None)
    assert len(changed) == CHANGED and not missing and not extra
    print("changed=%d" % len(changed))


def _write_tables(tracked):
    """A fresh SQLite file and PostgreSQL table shaped like processed_invoices, with or without tracking."""
    sys.path.insert(0, os.path.join(ROOT, "build", "collections"))
    import psycopg2  # pylint: disable=import-outside-toplevel
    from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _parity, _parity_tracking  # noqa: E501 pylint: disable=import-outside-toplevel
    from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres import PostgresConnection  # noqa: E501 pylint: disable=import-outside-toplevel
    from ansible_collections.inventory_enterprise.ops.plugins.module_utils._parity_run import sqlite_writer  # noqa: E501 pylint: disable=import-outside-toplevel
    path = os.path.join(WORKDIR, "writes-%s.db" % ("tracked" if tracked else "plain"))
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    lite = sqlite3.connect(path, isolation_level=None)
    lite.execute("PRAGMA journal_mode=WAL")
    lite.execute("PRAGMA synchronous=NORMAL")
    schema = "writes_%s" % ("tracked" if tracked else "plain")
    pg = PostgresConnection({"dsn": pg_dsn()}).open()
    pg.execute('DROP SCHEMA IF EXISTS "%s" CASCADE' % schema)
    pg.execute('CREATE SCHEMA "%s"' % schema)
    lite.execute("CREATE TABLE processed_invoices (id INTEGER PRIMARY KEY, invoice_number TEXT, amount REAL)")
    pg.execute('CREATE TABLE "%s".processed_invoices (id bigint PRIMARY KEY, invoice_number text, '
               'amount double precision)' % schema)
    pg.conn.commit()
    if tracked:
        spec = _parity.TableSpec.from_sqlite(lite, "processed_invoices")
        lite_tracker = _parity_tracking.SqliteTracker(lite, sqlite_writer(lite, path))
        lite_tracker.run("install", lite_tracker.plan([spec])[0])
        pg_tracker = _parity_tracking.PostgresTracker(pg, schema)
        pg_tracker.run("install", pg_tracker.plan([spec])[0])
    return lite, pg.conn, schema


def run_writes(tracked):
    """WRITES inserts then WRITES updates, each its own transaction, in SQLite and in PostgreSQL."""
    lite, pg, schema = _write_tables(tracked)
    cur = pg.cursor()
    for n in range(1, WRITES + 1):
        lite.execute("INSERT INTO processed_invoices VALUES (?, ?, ?)", (n, "INV-%d" % n, n * 1.5))
        cur.execute('INSERT INTO "%s".processed_invoices VALUES (%%s, %%s, %%s)' % schema, (n, "INV-%d" % n, n * 1.5))
        pg.commit()
    for n in range(1, WRITES + 1):
        lite.execute("UPDATE processed_invoices SET amount = amount + 1 WHERE id = ?", (n,))
        cur.execute('UPDATE "%s".processed_invoices SET amount = amount + 1 WHERE id = %%s' % schema, (n,))
        pg.commit()
    marks = lite.execute("SELECT count(*) FROM sqlite_master WHERE name = '_ie_parity_changes'").fetchone()[0]
    assert marks == (1 if tracked else 0)
    lite.close()
    pg.close()


def main(repeats=5):
    sys.path.insert(0, ROOT)
    generate()
    prepare_tracked()
    python = sys.executable
    me = os.path.abspath(__file__)
    notes = "SQLite file and PostgreSQL 15 on 127.0.0.1, 2 shared cores; wall time including interpreter start"
    checks = compare(
        "dual-write parity, 1M rows, 100 changed",
        {"dual_write_parity (chunked checksums)": [python, me, "run", "ours"],
         "dual_write_parity, change tracking": [python, me, "run", "incremental"],
         "full row-by-row comparison": [python, me, "run", "full"]},
        repeats=repeats, baseline="full row-by-row comparison", notes=notes)
    writes = compare(
        "what tracking costs writes: %d single-row inserts and %d updates, each committed, in SQLite and "
        "PostgreSQL" % (WRITES, WRITES),
        {"writes with tracking triggers": [python, me, "run", "writes-tracked"],
         "writes without": [python, me, "run", "writes-plain"]},
        repeats=repeats, baseline="writes without", notes=notes)
    return checks, writes


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        sys.path.insert(0, ROOT)
        {"ours": run_ours, "full": run_full, "incremental": run_incremental,
         "writes-tracked": lambda: run_writes(True), "writes-plain": lambda: run_writes(False)}[sys.argv[2]]()
    else:
        main()
