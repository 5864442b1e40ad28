"""The `inventory-service` command in subprocesses, as the Ansible role and the demo run it."""
import json
import os
import signal
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
