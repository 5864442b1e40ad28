"""Backup and disaster recovery across the lab's real SSH hosts: app1's backup goes to backup1 (its own
private /srv) encrypted with age, the monthly drill decrypts and restores it into a scratch instance on
standby1, and the failover brings standby1's own service up on app1's data."""
import json
import os
import subprocess
import sys

import requests
import yaml

from tests.fleet.conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
import lab as lab_module  # noqa: E402  pylint: disable=wrong-import-position,import-error

HOME = "/opt/inventory-enterprise"


def ssh(host, command):
    proc = subprocess.run(lab_module.ssh_command(host) + [command], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, "%s: %s\n%s%s" % (host, command, proc.stdout, proc.stderr)
    return proc.stdout


def inventory_of(fleet, host):
    return requests.get(fleet.url(host) + "/api/inventory/list", timeout=10).json()


def test_backup_goes_offsite_the_drill_meets_rto_rpo_and_failover_serves_the_primary_data(deployed_fleet, tmp_path):
    fleet = deployed_fleet
    app1 = fleet.app_servers[0]
    ssh(app1, "runuser -u inventory -- %s/venv/bin/inventory-service seed --env-file %s/.env --items 30 --days 3"
        % (HOME, HOME))
    primary = inventory_of(fleet, app1)
    assert primary, "seeding app1 gave an empty inventory: the test would prove nothing"

    playbook = str(tmp_path / "backup_offsite.yml")
    with open(playbook, "w") as handle:
        yaml.safe_dump([{"name": "Back up app1 off-site", "hosts": app1, "gather_facts": False,
                         "roles": [{"role": "inventory_enterprise.ops.backup",
                                    "vars": {"backup_offsite_enabled": True, "backup_prune": False,
                                             "backup_offsite_staging_dir": str(tmp_path / "staging")}}]}],
                       handle)
    from pyrage import x25519
    # The age key from the vault in production; extra vars reach the backup role and the DR playbooks alike.
    keys = {"backup_offsite_encryption_identity": str(x25519.Identity.generate())}
    run = fleet.play(playbook, extra_vars=keys)
    assert run.rc == 0, run.failed_tasks()
    created = run.task_results("Write a backup archive")[app1]["backup"]
    copy = "/srv/inventory-backups/%s/%s.age" % (app1, created["name"])
    assert ssh("backup1", "sha256sum %s" % copy).split()[0] == ssh("backup1", "cat %s.sha256" % copy).split()[0]
    assert ssh("backup1", "head -c 22 %s" % copy) == "age-encryption.org/v1\n"
    assert not os.path.exists(copy), "the off-site copy leaked out of backup1's private /srv"

    drill = fleet.play("playbooks/dr_drill.yml", extra_vars=keys)
    assert drill.rc == 0, drill.failed_tasks()
    report = drill.task_results("Report the drill")["standby1"]["msg"]
    assert any(line.startswith("RTO ") and line.endswith("met") for line in report), report
    assert any(line.startswith("RPO ") and line.endswith("met") for line in report), report
    assert ssh("standby1", "test -e /tmp/inventory-dr-drill-instance && echo left || echo gone").strip() == "gone"
    # The drill's record on the primary, which the monthly performance review charts.
    record = json.loads(ssh(app1, "cat $(ls -t %s/dr-drills/dr-drill-*.json | head -n 1)" % HOME))
    assert record["outcome"] == "passed" and record["standby"] == "standby1" and record["primary"] == app1, record
    assert 0 < record["rto_seconds"] <= record["rto_target_seconds"] and record["backup"] == created["name"], record

    failover = fleet.play("playbooks/dr_failover.yml", extra_vars=keys)
    assert failover.rc == 0, failover.failed_tasks()
    assert requests.get(fleet.url("standby1") + "/health", timeout=10).json()["status"] == "ok"
    assert inventory_of(fleet, "standby1") == primary
