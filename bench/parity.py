"""Dual-write parity of a 1,000,000-row table with 100 rows changed in PostgreSQL: dual_write_parity's chunked
checksums (module_utils/_parity.py) against a full row-by-row comparison (both tables streamed in key order and
compared in Python), in the same run, on the same data.

    .venv/bin/python bench/parity.py            # generate data once into build/bench/, then compare
"""
import io
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


def main(repeats=5):
    sys.path.insert(0, ROOT)
    generate()
    python = sys.executable
    me = os.path.abspath(__file__)
    return compare(
        "dual-write parity, 1M rows, 100 changed",
        {"dual_write_parity (chunked checksums)": [python, me, "run", "ours"],
         "full row-by-row comparison": [python, me, "run", "full"]},
        repeats=repeats, baseline="full row-by-row comparison",
        notes="SQLite file and PostgreSQL 15 on 127.0.0.1, 2 shared cores; wall time including interpreter start")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        sys.path.insert(0, ROOT)
        {"ours": run_ours, "full": run_full}[sys.argv[2]]()
    else:
        main()
