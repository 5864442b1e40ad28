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
from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records, _service_layout, _sqlite  # noqa: E402

from tests.support.deployment import ADMIN_PASSWORD, JWT_SECRET  # noqa: E402  pylint: disable=wrong-import-position


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
    left = [n for n in os.listdir(backups) if _backup_records.NAME_RE.match(n)]
    assert len(left) == 1


def test_dr_restore_rolls_back_a_service_that_does_not_come_back(dep, tmp_path):
    """An archive whose .env points the service at another port: the restored service never answers on
    its port, so the playbook puts the safety copy back; the database is byte-identical to before."""
    env_path = os.path.join(dep.home, ".env")
    original_env = open(env_path).read()
    wrong = original_env.replace("PORT=%d" % dep.port, "PORT=%d" % free_port()).replace(
        'PORT="%d"' % dep.port, 'PORT="%d"' % free_port())
    assert wrong != original_env
    paths = _service_layout.service_paths(dep.home)
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


def readable(path):
    """The bytes of `path`, decompressed when it is a zstd or gzip stream: what anyone holding the file can read."""
    with open(path, "rb") as handle:
        raw = handle.read()
    if raw.startswith(_archive.ZSTD_MAGIC):
        import zstandard
        return raw + zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    if raw.startswith(_archive.GZIP_MAGIC):
        import gzip
        return raw + gzip.decompress(raw)
    return raw


def files_under(*roots):
    return [os.path.join(d, n) for root in roots for d, _dirs, names in os.walk(root) for n in names]


def drill_metrics(dep):
    """The drill's textfile on the standby, read with prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families
    with open(os.path.join(dep.textfile_dir, "inventory_restore_drill.prom")) as handle:
        return {s.name: s.value for family in text_string_to_metric_families(handle.read()) for s in family.samples}


def test_offsite_copy_and_dr_drill(dep, tmp_path):
    """The off-site copy is encrypted on the app host: the JWT secret of its .env cannot be read from any file
    on the backup server or in the controller's staging; the drill and the failover decrypt it on the standby;
    a wrong key and a tampered copy are refused with a clear message, the key never printed."""
    from pyrage import x25519
    key = str(x25519.Identity.generate())
    offsite = str(tmp_path / "offsite" / "app1")
    staging = str(tmp_path / "staging")
    app_vars = dict(dep.vars, backup_offsite_dir=offsite, backup_offsite_encryption_identity=key)
    inventory = pb.write_inventory(str(tmp_path / "multi.yml"), {
        "app_servers": {"app1": pb.local_host(**app_vars)},
        # The standby's own service is not touched by the drill: it only needs the service software.
        "standby": {"standby1": pb.local_host(**dict(dep.vars, service_home=dep.home))},
        "backup_servers": {"backup1": pb.local_host()},
    })
    playbook = role_playbook(tmp_path, backup_offsite_enabled=True, backup_prune=False,
                             backup_offsite_staging_dir=staging)
    run = pb.run_playbook(playbook, inventory)
    assert run.rc == 0, run.failed_tasks()
    created = list(run.task_results("Write a backup archive").values())[0]["backup"]
    assert sorted(os.listdir(offsite)) == [".verified", created["name"] + ".age", created["name"] + ".age.sha256"]
    copy = os.path.join(offsite, created["name"] + ".age")
    import hashlib
    digest = hashlib.sha256(open(copy, "rb").read()).hexdigest()
    assert open(copy + ".sha256").read() == "%s  %s\n" % (digest, os.path.basename(copy))
    secret = JWT_SECRET.encode()
    assert secret in readable(created["path"])  # the archive itself gives the secret away
    for path in files_under(offsite, staging):
        assert secret not in readable(path), path
    assert not [n for n in os.listdir(os.path.dirname(created["path"])) if n.endswith(".age")]
    assert key not in run.stdout

    # Nothing new to send: the copy stays as it is; check mode predicts the same.
    offsite_only = role_playbook(tmp_path, backup_create=False, backup_offsite_enabled=True, backup_prune=False,
                                 backup_offsite_staging_dir=staging)
    for check in (True, False):
        again = pb.run_playbook(offsite_only, inventory, check=check)
        assert again.rc == 0, again.failed_tasks()
        assert again.changed() == 0, again.changed_tasks()
    assert hashlib.sha256(open(copy, "rb").read()).hexdigest() == digest

    def drill(**extra):
        return pb.run_playbook("playbooks/dr_drill.yml", inventory, extra_vars=dict({
            "dr_drill_home": str(tmp_path / "drill"), "dr_drill_port": free_port(),
            "dr_staging_dir": str(tmp_path / "dstage")}, **extra))

    result = drill()
    assert result.rc == 0, result.failed_tasks()
    report = list(result.task_results("Report the drill").values())[0]["msg"]
    assert any(line.startswith("RTO ") and line.endswith("met") for line in report), report
    assert any(line.startswith("RPO ") and line.endswith("met") for line in report), report
    assert not os.path.exists(str(tmp_path / "drill"))
    assert key not in result.stdout
    assert dep.health().status_code == 200
    passed = drill_metrics(dep)
    assert passed["inventory_restore_drill_last_outcome"] == 1
    assert passed["inventory_restore_drill_duration_seconds"] > 0

    failover = pb.run_playbook("playbooks/dr_failover.yml", inventory,
                               extra_vars={"dr_staging_dir": str(tmp_path / "fstage")})
    assert failover.rc == 0, failover.failed_tasks()
    assert key not in failover.stdout
    assert dep.health().status_code == 200
    standby_backups = os.path.join(dep.home, "backups")
    assert created["name"] in os.listdir(standby_backups)
    assert not [n for n in os.listdir(standby_backups) if n.endswith(".age")]

    other = str(x25519.Identity.generate())
    wrong = drill(dr_offsite_identity=other)
    assert wrong.rc != 0
    assert "no identity matches" in wrong.stdout, wrong
    assert other not in wrong.stdout and key not in wrong.stdout
    # A failed drill is recorded as failed, and keeps the time of the last drill that passed.
    failed = drill_metrics(dep)
    assert failed["inventory_restore_drill_last_outcome"] == 0
    assert (failed["inventory_restore_drill_last_success_timestamp_seconds"]
            == passed["inventory_restore_drill_last_success_timestamp_seconds"])
    assert (failed["inventory_restore_drill_last_run_timestamp_seconds"]
            > passed["inventory_restore_drill_last_run_timestamp_seconds"])

    with open(copy, "r+b") as handle:
        handle.seek(os.path.getsize(copy) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 1]))
    tampered = drill()
    assert tampered.rc != 0
    assert "failed authentication" in tampered.stdout, tampered
    assert key not in tampered.stdout
    assert not os.path.exists(str(tmp_path / "drill"))

    # The damaged copy no longer matches its record: check mode predicts sending it again and writes nothing;
    # the next run replaces it.
    before = sorted(os.listdir(offsite))
    predicted = pb.run_playbook(offsite_only, inventory, check=True)
    assert predicted.rc == 0, predicted.failed_tasks()
    assert predicted.changed() >= 1
    assert sorted(os.listdir(offsite)) == before
    assert hashlib.sha256(open(copy, "rb").read()).hexdigest() != digest
    resent = pb.run_playbook(offsite_only, inventory)
    assert resent.rc == 0, resent.failed_tasks()
    assert resent.changed() >= 1
    assert open(copy + ".sha256").read().split()[0] == hashlib.sha256(open(copy, "rb").read()).hexdigest()
    assert sorted(os.listdir(offsite)) == before


def test_the_schema_restore_requires_is_the_reference_services(tmp_path):
    """Every table and index _sqlite requires is one the service creates (db.py SCHEMA); the service may create
    more (consumption_history, ai_anomalies), which restore must not require: older backups lack them."""
    import importlib
    import importlib.util
    # This checkout's package under a name of its own: the venv's inventory_service may be another checkout's.
    package_dir = os.path.join(pb.ROOT, "reference", "inventory_service")
    spec = importlib.util.spec_from_file_location("_schema_test_service", os.path.join(package_dir, "__init__.py"),
                                                  submodule_search_locations=[package_dir])
    package = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = package
    spec.loader.exec_module(package)
    service_db = importlib.import_module(spec.name + ".db")
    path = str(tmp_path / "fresh.db")
    service_db.init_db(path)
    assert _sqlite.missing_schema(path) == []
    conn = sqlite3.connect(path)
    tables = set(row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"))
    indexes = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"))
    conn.close()
    assert set(_sqlite.SERVICE_TABLES) <= tables
    assert all(indexes.get(name) == table for name, table in _sqlite.SERVICE_INDEXES.items())
    # A database from before the consumption tables is still the service's.
    assert {"consumption_history", "ai_anomalies"} <= tables - set(_sqlite.SERVICE_TABLES)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE consumption_history")
    conn.execute("DROP TABLE ai_anomalies")
    conn.close()
    assert _sqlite.missing_schema(path) == []
    conn = sqlite3.connect(path)
    conn.execute("DROP INDEX idx_item_master_code")
    conn.close()
    assert _sqlite.missing_schema(path) == ["index idx_item_master_code on item_master"]
