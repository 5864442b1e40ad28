"""The off-site step of the backup role for a ~1 GiB archive, with age encryption on the app host and without
(plaintext, the baseline), in the same run, alternately: app host -> controller -> backup server with the
SHA-256 checked after each hop, then the off-site retention; both hosts are local connections, so the time is
the role's own work (no network).

Reported: the whole step (ansible-playbook wall time, which includes the full verification of the archive
that both variants run first, and the retention, which verifies a plaintext copy completely and checks an
encrypted one by its SHA-256), and the transfer alone (the sum of the durations of the tasks between the two:
encrypt, fetch, copy, checks), which is what encryption changes. Also the peak RSS of the encryption and of the
decryption of the archive by the backup_encryption module (streamed: flat memory).

The archive's database is ~2.5 GiB of rows whose text is half random (hex), so zstd brings it to ~1 GiB, as a
real archive of incompressible-ish data would be. Generated once into build/bench/offsite/ and reused.

Run: cd /work/main && .venv/bin/python -m bench.offsite_encryption
"""
import datetime
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import RESULTS, ROOT, print_report  # noqa: E402
from tests.support import playbook as pb  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "build", "collections"))
from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records, _service_layout  # noqa: E402

WORK = os.path.join(ROOT, "build", "bench", "offsite")
HOME = os.path.join(WORK, "home")
DB = os.path.join(HOME, "data", "enterprise_inventory.db")
ARCHIVE_BYTES = int(os.environ.get("BENCH_OFFSITE_BYTES", 1024 ** 3))  # smaller for a smoke run
PY = sys.executable
# The tasks both variants run identically (full verification of the archive) or differently for reasons other
# than the transfer (retention on the backup server); the rest is the transfer.
NOT_TRANSFER = ("Describe the newest verified archive", "Apply the off-site retention")


def generate():
    """A verified archive of ~1 GiB in HOME/backups (reused when present)."""
    backups = os.path.join(HOME, "backups")
    found = _backup_records.list_backups(backups)
    if found and found[0]["size"] >= ARCHIVE_BYTES * 0.98:
        return found[0]
    shutil.rmtree(HOME, ignore_errors=True)
    for sub in ("data", "logs", "backups", "config", "ai/models"):
        os.makedirs(os.path.join(HOME, sub))
    with open(os.path.join(HOME, ".env"), "w") as handle:
        handle.write("PORT=8083\nJWT_SECRET=bench-secret-0123456789abcdef\n")
    conn = sqlite3.connect(DB, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("CREATE TABLE processed_invoices (id INTEGER PRIMARY KEY, invoice_number TEXT, vendor TEXT, "
                 "invoice_date TEXT, note TEXT)")
    batch = 0
    # zstd keeps ~0.41 of these rows: ~2.5 GiB of them give a ~1 GiB archive.
    while os.path.getsize(DB) < ARCHIVE_BYTES * 2.5:
        conn.execute(
            "WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < 100000) "
            "INSERT INTO processed_invoices (invoice_number, vendor, invoice_date, note) "
            "SELECT printf('INV-%d-%06d', ?, value), 'Vendor ' || (value % 40), date('2024-01-01', '+' || ? || ' days'), "
            "hex(randomblob(500)) FROM s", (batch, batch % 365))
        batch += 1
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(os.path.join(HOME, "data", "transaction_log.jsonl"), "w") as log:
        log.write(json.dumps({"seq": 1, "ts": "2025-01-07T02:00:00.000Z", "op": "bench", "data": {}}) + "\n")
    paths = _service_layout.service_paths(HOME)
    return _archive.create_backup(paths, backups, now=_backup_records.utc_now() - datetime.timedelta(minutes=1))


def write_inventory_and_playbook():
    offsite, staging = os.path.join(WORK, "offsite"), os.path.join(WORK, "staging")
    inventory = pb.write_inventory(os.path.join(WORK, "inventory.yml"), {
        "app_servers": {"app1": pb.local_host(backup_service_home=HOME, backup_dir=os.path.join(HOME, "backups"),
                                              backup_offsite_dir=offsite, backup_offsite_staging_dir=staging)},
        "backup_servers": {"backup1": pb.local_host()}})
    playbook = os.path.join(WORK, "offsite.yml")
    with open(playbook, "w") as handle:
        json.dump([{"name": "Off-site step", "hosts": "app_servers", "gather_facts": False, "tasks": [
            {"name": "Copy off-site", "ansible.builtin.include_role": {
                "name": "inventory_enterprise.ops.backup", "tasks_from": "offsite"},
             "vars": {"backup_create": False, "backup_offsite_enabled": True}}]}], handle)
    return inventory, playbook, offsite, staging


def run_step(inventory, playbook, extra_vars, offsite, staging):
    """One off-site step on a clean backup server: (wall seconds, transfer seconds, {task: seconds})."""
    shutil.rmtree(offsite, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [os.path.join(os.path.dirname(PY), "ansible-playbook"), "-i", inventory, playbook,
           "-e", json.dumps(extra_vars)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=pb.ansible_env(), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError("off-site step failed:\n%s\n%s" % (proc.stdout[-4000:], proc.stderr[-2000:]))
    tasks = {}
    for play in json.loads(proc.stdout)["plays"]:
        for task in play["tasks"]:
            name = task["task"]["name"].split(" : ")[-1]  # without the role's prefix
            duration = task["task"].get("duration", {})
            skipped = all(result.get("skipped") for result in task["hosts"].values())
            if not skipped and duration.get("start") and duration.get("end"):
                tasks[name] = tasks.get(name, 0.0) + (_ts(duration["end"]) - _ts(duration["start"])).total_seconds()
    transfer = sum(seconds for name, seconds in tasks.items() if name not in NOT_TRANSFER)
    return wall, transfer, tasks


def _ts(text):
    return datetime.datetime.fromisoformat(text.rstrip("Z"))


def module_rss(name, args):
    """(seconds, peak RSS MiB) of one module run in its own process."""
    args_file = os.path.join(WORK, "%s-args.json" % name)
    with open(args_file, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
            "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([PY, "-c", code, PY, "-m", "ansible_collections.inventory_enterprise.ops.plugins.modules."
                          + name, args_file], check=True, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "build", "collections"))).stdout.split()
    return float(out[0]), int(out[1]) / 1024.0


def main(repeats=3):
    from pyrage import x25519
    started = time.time()
    os.makedirs(WORK, exist_ok=True)
    archive = generate()
    print("archive %.2f GiB (database %.2f GiB; generated/reused in %.0f s)" % (
        archive["size"] / 1024.0 ** 3, os.path.getsize(DB) / 1024.0 ** 3, time.time() - started))
    key = x25519.Identity.generate()
    inventory, playbook, offsite, staging = write_inventory_and_playbook()
    variants = {"off-site step, age-encrypted": {"backup_offsite_encryption_identity": str(key)},
                "off-site step, plaintext": {"backup_offsite_encrypt": False}}
    walls = {label: [] for label in variants}
    transfers = {label: [] for label in variants}
    per_task = {label: {} for label in variants}
    for _ in range(repeats):
        for label, extra in variants.items():
            wall, transfer, tasks = run_step(inventory, playbook, extra, offsite, staging)
            walls[label].append(wall)
            transfers[label].append(transfer)
            for name, seconds in tasks.items():
                per_task[label].setdefault(name, []).append(seconds)
    tasks_median = {label: {name: round(statistics.median(runs), 2) for name, runs in found.items()}
                    for label, found in per_task.items()}
    for label, found in tasks_median.items():
        print("\n%s, median seconds per task:" % label)
        for name, seconds in sorted(found.items(), key=lambda item: -item[1]):
            print("  %6.2f  %s" % (seconds, name))
    reports = []
    for name, times in (("off-site step of a 1 GiB archive (whole role step)", walls),
                        ("off-site step of a 1 GiB archive (transfer tasks only)", transfers)):
        summary = {label: {"min": min(runs), "median": statistics.median(runs), "runs": runs}
                   for label, runs in times.items()}
        ours, base = "off-site step, age-encrypted", "off-site step, plaintext"
        report = {"benchmark": name, "repeats": repeats, "results": summary, "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
                  "ours": ours, "baseline": base, "ratio": summary[base]["median"] / summary[ours]["median"],
                  "ratios": {ours: summary[base]["median"] / summary[ours]["median"]},
                  "encryption_adds_percent": round(100.0 * (summary[ours]["median"] / summary[base]["median"] - 1), 1),
                  "archive_bytes": archive["size"]}
        print_report(report)
        print("  encryption adds %+.1f%% (target: under 25%%)" % report["encryption_adds_percent"])
        reports.append(report)

    plain_copy = os.path.join(WORK, "decrypted.tar.zst")
    enc_s, enc_rss = module_rss("backup_encryption", {"src": archive["path"], "dest": archive["path"] + ".age",
                                                      "recipients": [str(key.to_public())]})
    dec_s, dec_rss = module_rss("backup_encryption", {"state": "decrypted", "src": archive["path"] + ".age",
                                                      "dest": plain_copy, "identity": str(key)})
    os.unlink(archive["path"] + ".age")
    os.unlink(plain_copy)
    memory = {"benchmark": "backup_encryption module on the 1 GiB archive", "encrypt_seconds": round(enc_s, 2),
              "encrypt_peak_rss_mib": round(enc_rss, 1), "decrypt_seconds": round(dec_s, 2),
              "decrypt_peak_rss_mib": round(dec_rss, 1), "archive_bytes": archive["size"],
              "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    print("\nbackup_encryption module on the archive: encrypt %.1f s, peak RSS %.0f MiB; decrypt %.1f s, peak RSS "
          "%.0f MiB" % (enc_s, enc_rss, dec_s, dec_rss))
    with open(RESULTS, "a") as handle:
        for report in reports + [memory]:
            handle.write(json.dumps(report) + "\n")
    with open(os.path.join(WORK, "summary.json"), "w") as handle:
        json.dump({"steps": reports, "module": memory, "tasks": tasks_median}, handle, indent=2)
    return reports, memory


if __name__ == "__main__":
    main()
