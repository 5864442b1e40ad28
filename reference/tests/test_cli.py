"""The `inventory-service` command in subprocesses, as the Ansible role and the demo run it."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import requests

from refhelpers import PASSWORD, REFERENCE, write_env
from tests.support.servers import free_port, wait_for_port


def cli(*args, cwd, timeout=60):
    env = dict(os.environ, PYTHONPATH=str(REFERENCE))
    env.pop("JWT_SECRET", None)
    return subprocess.run([sys.executable, "-m", "inventory_service", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_init_db_and_seed(tmp_path):
    write_env(tmp_path)
    result = cli("init-db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "enterprise_inventory.db").is_file()
    for name in ("logs", "backups", "config", "ai/models"):
        assert (tmp_path / name).is_dir()
    result = cli("seed", "--env-file", str(tmp_path / ".env"), "--items", "12", "--days", "30", cwd="/")
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    assert counts["item_master"] == 12 and counts["inventory_count_items"] == 360
    assert json.loads(cli("seed", cwd=tmp_path).stdout)["skipped"] is True
    assert json.loads(cli("seed", "--reset", "--items", "3", "--days", "2", cwd=tmp_path).stdout)["item_master"] == 3
    assert cli("seed", "--reset", "--items", "2", "--days", "3", "--end-date", "2025-12-11", cwd=tmp_path).returncode == 0
    conn = sqlite3.connect(str(tmp_path / "data" / "enterprise_inventory.db"))
    first, last = conn.execute("SELECT MIN(day), MAX(day) FROM consumption_history").fetchone()
    assert last == "2025-12-11" and first >= "2025-12-09", (first, last)


def test_configuration_error_is_clear(tmp_path):
    (tmp_path / ".env").write_text("JWT_SECRET=tooshort\n")
    result = cli("serve", cwd=tmp_path)
    assert result.returncode == 2
    assert "configuration error: JWT_SECRET must be at least 16 characters" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_load_and_sigterm(tmp_path):
    port = free_port()
    write_env(tmp_path, PORT=str(port))
    assert cli("seed", "--items", "10", "--days", "5", cwd=tmp_path).returncode == 0
    env = dict(os.environ, PYTHONPATH=str(REFERENCE))
    proc = subprocess.Popen([sys.executable, "-m", "inventory_service", "serve"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port("127.0.0.1", port)
        url = "http://127.0.0.1:%d" % port
        assert requests.get(url + "/health").json()["status"] == "ok"
        result = cli("load", "--url", url, "--username", "admin", "--password", PASSWORD,
                     "--requests", "10", "--seconds", "20", "--concurrency", "2", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["ok"] == 10
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0 and time.monotonic() - start < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "service stopped" in output and "Traceback" not in output
    assert "GET /health 200 duration=" in output  # request lines reach the console too
    assert len((tmp_path / "data" / "transaction_log.jsonl").read_text().splitlines()) == 10


def test_import_consumption_validates_with_line_numbers_then_loads(tmp_path):
    write_env(tmp_path)
    assert cli("seed", "--items", "2", "--days", "3", cwd=tmp_path).returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("item_code,date,quantity\nDEMO-0001,2026-01-01,3\nDEMO-0001,2026-13-01,2\n"
                   "DEMO-0002,2026-01-01,-1\nDEMO-0001,2026-01-01,4\n,2026-01-02,1\n")
    result = cli("import-consumption", str(bad), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for expected in ("line 3: date '2026-13-01' is not YYYY-MM-DD", "line 4: quantity '-1' must be",
                     "line 5: DEMO-0001 2026-01-01 already given on line 2", "line 6: empty item_code",
                     "nothing imported"):
        assert expected in result.stderr
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("item_code,date,quantity\nDEMO-0001,2026-01-01,3\nNEW-1,2026-01-01,2\n")
    result = cli("import-consumption", str(unknown), cwd=tmp_path)
    assert result.returncode == 1 and "line 3: unknown item_code NEW-1" in result.stderr
    header = tmp_path / "header.csv"
    header.write_text("item,day,qty\nDEMO-0001,2026-01-01,3\n")
    assert "line 1: header must be item_code,date,quantity" in cli("import-consumption", str(header),
                                                                   cwd=tmp_path).stderr
    database = tmp_path / "data" / "enterprise_inventory.db"
    assert sqlite3.connect(str(database)).execute(
        "SELECT count(*) FROM consumption_history WHERE source = 'import'").fetchone()[0] == 0
    result = cli("import-consumption", "--create-items", str(unknown), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"imported": 2, "items": 2, "created_items": 1, "first_date": "2026-01-01",
                                         "last_date": "2026-01-01", "file": str(unknown)}
    rows = sqlite3.connect(str(database)).execute(
        "SELECT item_code, day, quantity, source FROM consumption_history WHERE source = 'import' ORDER BY 1")
    assert rows.fetchall() == [("DEMO-0001", "2026-01-01", 3.0, "import"), ("NEW-1", "2026-01-01", 2.0, "import")]
