"""The High MAPE runbook over SSH on a lab app server: models trained without a holiday calendar on a history
whose holdout holds Thanksgiving are flagged (MAPE over 20%), and the runbook brings them back under it.

Everything runs on the host: the ai_models role installs the forecasting libraries into its virtualenv there,
the weekly playbook trains, the runbook retrains. The state is read back with sqlite3 on the host."""
import json
import os
import subprocess
import sys

import pytest

from tests.fleet.conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
import lab as lab_module  # noqa: E402  pylint: disable=wrong-import-position,import-error

HOME = "/opt/inventory-enterprise"
ITEMS = 4
# The history ends two weeks after Thanksgiving 2025 (27 November), so the 28-day holdout holds it whatever
# the date the suite runs on.
END = "2025-12-11"


def ssh(host, command):
    proc = subprocess.run(lab_module.ssh_command(host) + [command], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, "%s: %s\n%s%s" % (host, command, proc.stdout, proc.stderr)
    return proc.stdout


def active_models(host):
    query = ("SELECT json_object('item', entity_id, 'id', id, 'mape', json_extract(accuracy_metrics, '$.mape')) "
             "FROM ai_models WHERE status = 'active' ORDER BY entity_id")
    out = ssh(host, "sqlite3 %s/data/enterprise_inventory.db \"%s\"" % (HOME, query))
    return {row["item"]: row for row in map(json.loads, out.split())}


@pytest.fixture(scope="module")
def flagged_host(deployed_fleet):
    """app2 with two years of demo history and its top items trained the way that gets them flagged."""
    fleet = deployed_fleet
    host = fleet.app_servers[-1]
    database = "%s/data/enterprise_inventory.db" % HOME
    # The molecule scenarios that follow on the same lab expect app2's database as the deployment left it.
    ssh(host, "sqlite3 %s \".backup /tmp/before-high-mape.db\"" % database)
    ssh(host, "runuser -u inventory -- %s/venv/bin/inventory-service seed --env-file %s/.env --items 12 --days 730 "
              "--end-date %s --reset" % (HOME, HOME, END))
    run = fleet.play("playbooks/weekly.yml", tags="ai_models_install,ai_models_retrain", limit=host, extra_vars=dict(
        ai_models_retrain_top=ITEMS, ai_models_retrain_training_days=730, ai_models_retrain_model_type="prophet",
        ai_models_retrain_holidays=""))
    assert run.rc == 0, run
    yield fleet, host
    stop = fleet.play("playbooks/service_control.yml", extra_vars={"service_state": "stopped"}, limit=host)
    assert stop.rc == 0, stop
    ssh(host, "chown --reference={db} /tmp/before-high-mape.db && chmod --reference={db} /tmp/before-high-mape.db && "
              "mv /tmp/before-high-mape.db {db} && rm -f {db}-wal {db}-shm".format(db=database))
    start = fleet.play("playbooks/service_control.yml", extra_vars={"service_state": "started"}, limit=host)
    assert start.rc == 0, start


def test_high_mape_runbook_retrains_the_flagged_models_and_reports_before_and_after(flagged_host, tmp_path):
    fleet, host = flagged_host
    before = active_models(host)
    flagged = sorted(item for item, row in before.items() if row["mape"] is not None and row["mape"] > 20)
    assert len(flagged) >= 2, "too few models over 20%% for the runbook to prove anything: %s" % before

    run = fleet.play("playbooks/runbooks/high_mape.yml", limit=host, extra_vars=dict(runbook_report_dir=str(tmp_path)))
    assert run.rc == 0, run

    after = active_models(host)
    for item in flagged:
        assert after[item]["id"] != before[item]["id"], "%s was not retrained: %s" % (item, after[item])
        assert after[item]["mape"] < 20, "%s is still over 20%% after the runbook: %s" % (item, after[item])
    reports = os.listdir(str(tmp_path))
    assert len(reports) == 1 and reports[0].startswith("high-mape-"), reports
    with open(os.path.join(str(tmp_path), reports[0])) as handle:
        report = handle.read()
    for item in flagged:
        line = next((text for text in report.splitlines() if text.startswith("| %s |" % item)), None)
        assert line and "MAPE %.1f" % before[item]["mape"] in line and "MAPE %.1f" % after[item]["mape"] in line, (
            item, report)
