"""POST /api/backup/create: JWT required, the archive layout and manifest the collection's restore expects,
atomic (no partial files), a line in logs/backup-<date>.log, and a consistent cut under concurrent writes."""
import datetime
import gzip
import hashlib
import io
import json
import os
import sqlite3
import tarfile
import threading

import requests

from refhelpers import PASSWORD, add_items, make_settings, wait_for_log


def _members(path):
    raw = open(path, "rb").read()
    if raw.startswith(b"\x28\xb5\x2f\xfd"):
        import zstandard
        raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    else:
        raw = gzip.decompress(raw)
    out = {}
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        for info in tar:
            out[info.name] = (info, tar.extractfile(info).read() if info.isreg() else None)
    return out


def _token(url):
    return requests.post(url + "/api/auth/login", json={"username": "admin", "password": PASSWORD},
                         timeout=5).json()["token"]


def test_backup_endpoint(tmp_path, serve):
    settings = make_settings(tmp_path / "home")
    add_items(settings, "A1", "B2", "C3")
    (settings.config_dir).mkdir(parents=True, exist_ok=True)
    (settings.config_dir / "app.json").write_text("{}\n")
    server = serve(settings)
    assert requests.post(server.url + "/api/backup/create", timeout=5).status_code == 401
    headers = {"Authorization": "Bearer " + _token(server.url)}

    stop = threading.Event()

    def writer():
        n = 0
        while not stop.is_set():
            n += 1
            requests.post(server.url + "/api/inventory/counts", headers=headers, timeout=5,
                          json={"count_date": "2025-01-07", "items": [{"item_code": "A1", "quantity": n}]})

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        answer = requests.post(server.url + "/api/backup/create", headers=headers, timeout=30)
    finally:
        stop.set()
        thread.join()
    assert answer.status_code == 201, answer.text
    result = answer.json()
    path = result["path"]
    assert os.path.dirname(path) == str(settings.backup_dir)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert hashlib.sha256(open(path, "rb").read()).hexdigest() == result["archive_sha256"]
    assert [n for n in os.listdir(settings.backup_dir) if n.startswith(".")] == []
    top = result["name"].split(".tar.")[0]
    members = _members(path)
    names = list(members)
    assert names[-1] == top + "/manifest.json"
    manifest = json.loads(members[top + "/manifest.json"][1])
    for entry in manifest["members"]:
        data = members[top + "/" + entry["path"]][1]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert top + "/config/app.json" in members and top + "/.env" in members
    # In-process the cut is exact: every count in the database is in the archived log and vice versa.
    db_file = tmp_path / "restored.db"
    db_file.write_bytes(members[top + "/database.db"][1])
    conn = sqlite3.connect(str(db_file))
    counts = {row[0] for row in conn.execute("SELECT id FROM inventory_counts")}
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    logged = [json.loads(line) for line in members[top + "/transaction_log.jsonl"][1].splitlines()]
    assert {entry["data"]["count_id"] for entry in logged} == counts
    assert manifest["transaction_log"]["lines"] == len(logged)
    log_file = settings.log_dir / ("backup-%s.log" % datetime.date.today().isoformat())
    assert "backup completed name=%s" % result["name"] in log_file.read_text()
    application = wait_for_log(settings.log_dir / ("application-%s.log" % datetime.date.today().isoformat()),
                               r"INFO POST /api/backup/create 201 duration=\d+ms user_id: admin$")
    assert "INFO backup completed name=%s size=%d user_id: admin\n" % (result["name"], result["size"]) in application


def test_backup_never_replaces_an_archive_that_appeared_meanwhile(tmp_path):
    """Another writer (the collection's backup module) finished the same name while this backup ran."""
    from inventory_service.backup import create_backup
    settings = make_settings(tmp_path / "home")
    add_items(settings, "A1")
    dest = str(settings.backup_dir)

    class FinishesFirst:
        """The transaction-log lock, taken once the name is chosen: another archive of that name appears."""
        def __enter__(self):
            work = [n for n in os.listdir(dest) if ".work-" in n][0]
            self.final = os.path.join(dest, work[1:].split(".work-")[0] + ".tar.gz")
            with open(self.final, "wb") as handle:
                handle.write(b"the other archive")

        def __exit__(self, *exc):
            return False

    lock = FinishesFirst()
    try:
        create_backup(settings, lock, compression="gzip")
    except FileExistsError:
        pass
    else:
        raise AssertionError("the backup replaced an archive it did not write")
    with open(lock.final, "rb") as handle:
        assert handle.read() == b"the other archive"
    assert [n for n in os.listdir(dest) if n.startswith(".")] == []


def test_failed_backup_is_logged_for_the_guides_grep(tmp_path, serve):
    """`grep "backup.*failed" logs/application-*.log` finds it, with the user who asked."""
    settings = make_settings(tmp_path / "home")
    add_items(settings, "A1")
    server = serve(settings)
    # the service made its backup directory at start; a file in its place makes the next backup fail
    os.rmdir(settings.backup_dir)
    settings.backup_dir.write_text("a file where the backup directory should be\n")
    answer = requests.post(server.url + "/api/backup/create", headers={"Authorization": "Bearer " + _token(server.url)},
                           timeout=30)
    assert answer.status_code == 500, answer.text
    application = wait_for_log(settings.log_dir / ("application-%s.log" % datetime.date.today().isoformat()),
                               r"ERROR POST /api/backup/create 500 duration=\d+ms user_id: admin$")
    failed = [line for line in application.splitlines() if " ERROR backup failed " in line]
    assert len(failed) == 1 and " user_id: admin error: " in failed[0], application
