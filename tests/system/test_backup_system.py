"""Backup, restore and DR for real: the reference service deployed by site.yml, written to by the load
generator while the backup role runs through ansible-playbook; restores checked by hashes, row counts and
integrity_check; dr_restore rolled back on a service that does not come back; the DR drill on a
standby + backup-server inventory of local hosts.

Run: cd /work/main && .venv/bin/python -m pytest tests/system/test_backup_system.py -q
"""
import json
import os
import sqlite3
import subprocess
import sys
import threading

import pytest
import requests
import yaml

from tests.support import playbook as pb
from tests.support.servers import free_port

sys.path.insert(0, os.path.join(pb.ROOT, "build", "collections"))
from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _sqlite  # noqa: E402

from tests.support.deployment import ADMIN_PASSWORD  # noqa: E402  pylint: disable=wrong-import-position


def write_playbook(tmp_path, name, plays):
    path = os.path.join(str(tmp_path), name)
    with open(path, "w") as handle:
        yaml.safe_dump(plays, handle, sort_keys=False)
    return path


def role_playbook(tmp_path, **role_vars):
    return write_playbook(tmp_path, "backup_role.yml", [{
        "name": "Backup", "hosts": "app_servers", "gather_facts": False,
        "roles": [{"role": "inventory_enterprise.ops.backup", "vars": role_vars}]}])


def seed(dep):
    subprocess.run([os.path.join(dep.home, "venv", "bin", "inventory-service"), "seed", "--env-file",
                    os.path.join(dep.home, ".env"), "--items", "40", "--days", "5"], check=True, capture_output=True)


def token(dep):
    answer = requests.post(dep.url + "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD},
                           timeout=5)
    return answer.json()["token"]


def db_file(dep):
    return os.path.join(dep.home, "data", "enterprise_inventory.db")


def live_hashes(dep):
    import hashlib
    found = {}
    for rel in ("data/enterprise_inventory.db", "data/transaction_log.jsonl", ".env",
                "data/enterprise_inventory.db-wal"):
        path = os.path.join(dep.home, rel)
        if os.path.exists(path):
            found[rel] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return found


def assert_archive_consistent(path, scratch):
    """integrity_check ok, and every transaction the archived log records is in the archived database."""
    os.makedirs(scratch)
    read = _archive.read_archive(path, scratch, extract=True)
    database = read["extracted"]["database.db"]
    assert _sqlite.integrity_check(database) == ["ok"]
    conn = sqlite3.connect(database)
    counts = set(row[0] for row in conn.execute("SELECT id FROM inventory_counts"))
    invoices = set(row[0] for row in conn.execute("SELECT DISTINCT invoice_number FROM processed_invoices"))
    conn.close()
    lines = open(read["extracted"]["transaction_log.jsonl"]).read().splitlines()
    assert len(lines) == read["manifest"]["transaction_log"]["lines"]
    for line in lines:
        entry = json.loads(line)
        if entry["op"] == "inventory_count.create":
            assert entry["data"]["count_id"] in counts, entry["seq"]
        elif entry["op"] == "invoice.create":
            assert entry["data"]["invoice_number"] in invoices, entry["seq"]
    return len(lines)


@pytest.fixture(scope="module")
def dep(deployment):
    seed(deployment)
    return deployment


def test_backups_under_write_load_restore_every_logged_transaction(dep, tmp_path):
    from inventory_service import load
    results = {}
    thread = threading.Thread(target=lambda: results.update(load.run(
        dep.url, "admin", ADMIN_PASSWORD, requests=100000, seconds=12, concurrency=3)))
    thread.start()
    try:
        playbook = role_playbook(tmp_path, backup_prune=False)
        runs = [dep.play(playbook) for dummy in range(3)]
    finally:
        thread.join()
    assert results.get("ok", 0) > 20, results
    archives = []
    for run in runs:
        assert run.rc == 0, run.failed_tasks()
        assert run.changed() >= 1  # creating a backup is a change
        created = list(run.task_results("Write a backup archive").values())[0]
        assert created["verification"]["integrity_check"] == "ok"
        archives.append(created["backup"]["path"])
    logged = [assert_archive_consistent(path, str(tmp_path / ("x%d" % i))) for i, path in enumerate(archives)]
    assert logged[-1] > 0
    assert ADMIN_PASSWORD not in "".join(r.stdout for r in runs)


def test_api_backup_passes_the_same_verification(dep, tmp_path):
    playbook = role_playbook(tmp_path, backup_method="api", backup_api_token=token(dep), backup_prune=False)
    run = dep.play(playbook)
    assert run.rc == 0, run.failed_tasks()
    created = list(run.task_results("Write a backup archive").values())[0]
    assert created["backup"]["manifest"]["created_by"] == "inventory-service api"
    assert created["verification"]["integrity_check"] == "ok"
    assert "backup_api_token" not in run.stdout or token(dep) not in run.stdout
    report = _archive.verify_archive(created["backup"]["path"], str(tmp_path))
    assert report["ok"]


def test_check_mode_and_retention_through_the_role(dep, tmp_path):
    backups = os.path.join(dep.home, "backups")
    before = sorted(os.listdir(backups))
    check = dep.play(role_playbook(tmp_path), check=True)
    assert check.rc == 0, check.failed_tasks()
    assert sorted(os.listdir(backups)) == before
    # Retention 0 keeps only the newest verified archive, however the others were made.
    run = dep.play(role_playbook(tmp_path, backup_create=False, backup_retention_days=0))
    assert run.rc == 0, run.failed_tasks()
    left = [n for n in os.listdir(backups) if _archive.NAME_RE.match(n)]
    assert len(left) == 1


def test_dr_restore_rolls_back_a_service_that_does_not_come_back(dep, tmp_path):
    """An archive whose .env points the service at another port: the restored service never answers on
    its port, so the playbook puts the safety copy back; the database is byte-identical to before."""
    env_path = os.path.join(dep.home, ".env")
    original_env = open(env_path).read()
    wrong = original_env.replace("PORT=%d" % dep.port, "PORT=%d" % free_port()).replace(
        'PORT="%d"' % dep.port, 'PORT="%d"' % free_port())
    assert wrong != original_env
    paths = _archive.service_paths(dep.home)
    with open(env_path, "w") as handle:
        handle.write(wrong)
    try:
        bad = _archive.create_backup(paths, str(tmp_path))
    finally:
        with open(env_path, "w") as handle:
            handle.write(original_env)
    dep.control("stopped")
    before = live_hashes(dep)
    result = dep.play("playbooks/dr_restore.yml", extra_vars={
        "backup_restore_src": bad["path"], "backup_restore_components": ["database", "transaction_log", "config"],
        "backup_restore_start_after_rollback": False, "service_health_retries": 3, "service_health_delay": 1})
    assert result.rc != 0, result
    assert "was put back" in result.stdout, result
    assert live_hashes(dep) == before
    dep.control("started")
    assert dep.health().status_code == 200


def test_dr_restore_brings_back_the_backup(dep, tmp_path):
    run = dep.play(role_playbook(tmp_path, backup_prune=False))
    assert run.rc == 0, run.failed_tasks()
    created = list(run.task_results("Write a backup archive").values())[0]["backup"]
    tables = created["manifest"]["database"]["tables"]
    headers = {"Authorization": "Bearer " + token(dep)}
    answer = requests.post(dep.url + "/api/invoices", headers=headers, timeout=5, json={
        "invoice_number": "AFTER-BACKUP-1", "vendor": "x", "invoice_date": "2025-01-07",
        "lines": [{"item_code": requests.get(dep.url + "/api/inventory/items?limit=1", timeout=5).json()["items"][0]
                   ["item_code"], "quantity": 1, "amount": 1}]})
    assert answer.status_code == 201, answer.text
    result = dep.play("playbooks/dr_restore.yml", extra_vars={"backup_restore_src": created["path"]})
    assert result.rc == 0, result.failed_tasks()
    assert dep.health().status_code == 200
    conn = sqlite3.connect("file:%s?mode=ro" % db_file(dep), uri=True)
    assert conn.execute("SELECT count(*) FROM processed_invoices WHERE invoice_number='AFTER-BACKUP-1'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM processed_invoices").fetchone()[0] == tables["processed_invoices"]
    conn.close()


def test_offsite_copy_and_dr_drill(dep, tmp_path):
    offsite = str(tmp_path / "offsite" / "app1")
    app_vars = dict(dep.vars, backup_offsite_dir=offsite)
    inventory = pb.write_inventory(str(tmp_path / "multi.yml"), {
        "app_servers": {"app1": pb.local_host(**app_vars)},
        # The standby's own service is not touched by the drill: it only needs the service software.
        "standby": {"standby1": pb.local_host(**dict(dep.vars, service_home=dep.home))},
        "backup_servers": {"backup1": pb.local_host()},
    })
    run = pb.run_playbook(role_playbook(tmp_path, backup_offsite_enabled=True, backup_prune=False,
                                        backup_offsite_staging_dir=str(tmp_path / "staging")), inventory)
    assert run.rc == 0, run.failed_tasks()
    copies = [n for n in os.listdir(offsite) if _archive.NAME_RE.match(n)]
    assert len(copies) == 1
    created = list(run.task_results("Write a backup archive").values())[0]["backup"]
    import hashlib
    assert hashlib.sha256(open(os.path.join(offsite, copies[0]), "rb").read()).hexdigest() == created["archive_sha256"]

    drill_home = str(tmp_path / "drill")
    drill = pb.run_playbook("playbooks/dr_drill.yml", inventory, extra_vars={
        "dr_drill_home": drill_home, "dr_drill_port": free_port(), "dr_staging_dir": str(tmp_path / "dstage")})
    assert drill.rc == 0, drill.failed_tasks()
    report = list(drill.task_results("Report the drill").values())[0]["msg"]
    assert any(line.startswith("RTO ") and line.endswith("met") for line in report), report
    assert any(line.startswith("RPO ") and line.endswith("met") for line in report), report
    assert not os.path.exists(drill_home)
    assert dep.health().status_code == 200


def test_the_schema_restore_requires_is_the_reference_services(tmp_path):
    """_sqlite's list of required tables and indexes is exactly what the service creates (db.py SCHEMA)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "reference_service_db", os.path.join(pb.ROOT, "reference", "inventory_service", "db.py"))
    service_db = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(service_db)
    path = str(tmp_path / "fresh.db")
    service_db.init_db(path)
    assert _sqlite.missing_schema(path) == []
    conn = sqlite3.connect(path)
    tables = set(row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"))
    indexes = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"))
    conn.close()
    assert tables == set(_sqlite.SERVICE_TABLES)
    assert indexes == _sqlite.SERVICE_INDEXES
    conn = sqlite3.connect(path)
    conn.execute("DROP INDEX idx_item_master_code")
    conn.close()
    assert _sqlite.missing_schema(path) == ["index idx_item_master_code on item_master"]
