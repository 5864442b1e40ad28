"""capacity_review through ansible-playbook on the deployed reference service, after demo data, a real nightly
backup (playbooks/nightly_backup.yml) and four months of back-dated backups and logs (tests/support/history.py);
every figure is checked against an independent measurement: os.statvfs, sqlite3, du, redis-py, the archives'
own manifests read with tarfile."""
import datetime
import io
import json
import os
import re
import sqlite3
import subprocess
import tarfile

import pytest
import redis
import zstandard

from tests.support.history import seed_backup_history


ISO = "%Y-%m-%dT%H:%M:%SZ"
ARCHIVE = re.compile(r"^inventory_backup_\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.tar\.zst$")


@pytest.fixture(scope="module")
def reviewed(deployment):
    home = deployment.home
    subprocess.run([os.path.join(home, "venv", "bin", "inventory-service"), "seed", "--env-file",
                    os.path.join(home, ".env"), "--items", "30", "--days", "120"], check=True, capture_output=True)
    # A retention longer than the seeded history: the nightly run must not prune it.
    nightly = deployment.play("playbooks/nightly_backup.yml", extra_vars={"backup_retention_days": 400})
    assert nightly.rc == 0, nightly.failed_tasks()
    seeded = seed_backup_history(home, months=4, every_days=7)
    run = deployment.play("tests/system/playbooks/capacity_review.yml")
    assert run.rc == 0, run.failed_tasks()
    return dict(home=home, seeded=seeded, result=run.task_results("Review the capacity")[deployment.host])


def manifest_of(path):
    """The manifest of an archive, read with tarfile and zstandard (not the collection's reader)."""
    with open(path, "rb") as raw:
        data = zstandard.ZstdDecompressor().stream_reader(raw).read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/manifest.json"))
        return json.loads(tar.extractfile(member).read())


def slope(points):
    xs = [datetime.datetime.strptime(x, ISO).timestamp() / 86400.0 for x, dummy in points]
    ys = [float(y) for dummy, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def test_database_figures_agree_with_sqlite_and_the_manifests(reviewed):
    result, home = reviewed["result"], reviewed["home"]
    assert result["changed"] is False and result["review"] == "capacity"
    figures, series = result["figures"], result["series"]
    backups = os.path.join(home, "backups")
    window = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=92)).strftime("%Y-%m-%dT%H-%M-%S")
    archives = sorted(name for name in os.listdir(backups) if ARCHIVE.match(name) and name[17:36] >= window)
    # Every archive in the window: the seeded ones and the nightly run's, all with verification records.
    assert len(archives) == len([a for a in reviewed["seeded"]["archives"] if a["name"] in archives]) + 1
    assert figures["manifests_read"] == figures["manifests_from_records"] == len(archives)
    expected = []
    for name in archives:
        manifest = manifest_of(os.path.join(backups, name))
        size = [m["size"] for m in manifest["members"] if m["path"] == "database.db"][0]
        expected.append([manifest["created_at"], size])
    points = series["db_size_bytes"]["points"]
    assert points[:-1] == expected
    conn = sqlite3.connect(os.path.join(home, "data", "enterprise_inventory.db"))
    try:
        size = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                             "AND name NOT LIKE 'sqlite_%'")]
        counts = dict((t, conn.execute('SELECT count(*) FROM "%s"' % t).fetchone()[0]) for t in tables)
    finally:
        conn.close()
    assert points[-1][1] == size == figures["db_size_bytes"]
    assert figures["rows_total"] == sum(counts.values()) == series["rows_total"]["points"][-1][1]
    assert sorted(series["rows_total"]["groups"]) == sorted(counts)
    assert figures["db_growth_bytes_per_day"] == pytest.approx(slope(points), abs=0.1)
    assert figures["db_growth_bytes_per_day"] > 0 and figures["rows_growth_per_day"] > 0


def test_disk_figures_agree_with_statvfs_and_du(reviewed):
    result, home = reviewed["result"], reviewed["home"]
    figures = result["figures"]
    backups = os.path.join(home, "backups")
    names = sorted(name for name in os.listdir(backups) if ARCHIVE.match(name))
    du = subprocess.run(["du", "-cb"] + [os.path.join(backups, name) for name in names], check=True,
                        capture_output=True, text=True).stdout.splitlines()[-1].split()[0]
    assert figures["backups_count"] == len(names) and figures["backups_bytes"] == int(du)
    # Four months of archives although the retention is 30 days: every new one adds its size.
    assert figures["backups_growth_model"] == "accumulating"
    logs = os.path.join(home, "logs")
    daily = [name for name in os.listdir(logs) if re.match(r"^(application|security|audit)-\d{4}-\d\d-\d\d\.log$", name)]
    assert figures["log_days"] >= 90 and len(daily) >= 3 * 90

    mounts = [key.split(":", 1)[1] for key in figures if key.startswith("free_bytes:")]
    st = os.statvfs(home)
    device = os.stat(home).st_dev
    assert len(mounts) == 1 and os.stat(mounts[0]).st_dev == device
    mount = mounts[0]
    assert figures["free_bytes:%s" % mount] == pytest.approx(st.f_bavail * st.f_frsize, abs=512 * 1024 ** 2)
    growth = figures["growth_bytes_per_day:%s" % mount]
    assert growth == pytest.approx(figures["db_growth_bytes_per_day"] + figures["transaction_log_growth_bytes_per_day"]
                                   + figures["logs_growth_bytes_per_day"] + figures["backups_growth_bytes_per_day"],
                                   abs=0.5)
    days = figures["runway_days:%s" % mount]
    assert days == pytest.approx(figures["free_bytes:%s" % mount] / growth, rel=1e-3)
    short = [f for f in result["findings"] if f["id"] == "disk_runway_short"]
    assert bool(short) == (days < 90)
    assert result["series"]["disk_runway_days"]["points"] == [[mount, days]]


def test_cache_memory_agrees_with_redis(reviewed, redis_server):
    result = reviewed["result"]
    client = redis.Redis.from_url(redis_server.url)
    used = int(client.info("memory")["used_memory"])
    client.close()
    assert result["figures"]["cache_memory_bytes"] == pytest.approx(used, rel=0.2)
    assert result["figures"]["cache_memory_limit_bytes"] == 1800000000
    assert not [f for f in result["findings"] if f["id"].startswith("cache_memory")]
    assert [item["source"] for item in result["unavailable"]] == ["prometheus"]
