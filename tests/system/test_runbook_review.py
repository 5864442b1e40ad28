"""The runbook review end to end, without a deployment: the "Backup Failed" runbook of playbooks/runbooks/
launched through ansible-runner as AWX launches its job template, on a host whose service home is gone (it
escalates), recorded by the runbook_journal callback that ansible.cfg enables beside AWX's own; a real Prometheus
with the collection's alert rules and a node_exporter serving a failed backup's textfile, so BackupFailed really
fires; then the quarterly playbook's runbook review (playbooks/quarterly.yml, tag reviews_runbooks) over both, and
its report."""
import json
import os

import pytest

from tests.support import playbook as pb
from tests.support import runner
from tests.support.prometheus import PrometheusServer, TextfileExporter

ALERT_RULES = os.path.join(pb.ROOT, "roles", "monitoring", "files", "alerts.yml")
RUNBOOKS = sorted(os.path.splitext(name)[0] for name in os.listdir(os.path.join(pb.ROOT, "playbooks", "runbooks"))
                  if name.endswith(".yml"))


@pytest.fixture(scope="module")
def quarter(tmp_path_factory):
    """Prometheus evaluating the rules every second while the runbook runs; ready once BackupFailed fires."""
    tmp = tmp_path_factory.mktemp("runbook-review")
    textfiles, journal = tmp / "textfile", tmp / "journal"
    textfiles.mkdir()
    # What the backup's textfile holds after a failed run (the BackupFailed rule's input).
    (textfiles / "inventory_backup.prom").write_text(
        '# TYPE inventory_backup_last_outcome gauge\ninventory_backup_last_outcome{deployment="app1"} 0\n')
    exporter = TextfileExporter(str(textfiles)).start()
    prometheus = PrometheusServer([exporter.target], job="node", rule_files=[ALERT_RULES], evaluation_interval="1s")
    try:
        prometheus.start()
        inventory = pb.write_inventory(str(tmp / "hosts.yml"), {"app_servers": {"app1": pb.local_host()}})
        # Launched as AWX launches its job template: ansible-runner's own stdout callback, ours from ansible.cfg.
        runbook = runner.run_template("Runbook: Backup Failed", inventory, tmp / "job", limit="app1", extra_vars={
            "runbook_service_home": str(tmp / "missing-home"), "runbook_backup_dir": str(tmp / "backups")},
            env={"INVENTORY_ENTERPRISE_RUNBOOK_JOURNAL": str(journal)})
        prometheus.wait_for(lambda: prometheus.query('ALERTS{alertname="BackupFailed",alertstate="firing"}'),
                            60, "BackupFailed firing")
        # The journal reaches the review as AWX passes it: the role's default reads the same environment variable.
        review = pb.run_playbook("playbooks/quarterly.yml", inventory, tags="reviews_runbooks", extra_vars={
            "reviews_runbooks_prometheus_url": prometheus.url, "reviews_report_dir": str(tmp / "reports")},
            env={"INVENTORY_ENTERPRISE_RUNBOOK_JOURNAL": str(journal)})
        yield dict(runbook=runbook, review=review, journal=journal, reports=tmp / "reports")
    finally:
        prometheus.close()
        exporter.close()


def test_the_journal_records_the_runbook_run_and_its_failed_steps(quarter):
    assert quarter["runbook"].status == "failed" and quarter["runbook"].failed_hosts() == ["app1"]
    (name,) = os.listdir(str(quarter["journal"]))
    record = json.loads((quarter["journal"] / name).read_text())
    assert (record["runbook"], record["status"], record["plays"]) == (
        "backup_failed", "failed", [{"name": "Runbook: Backup Failed", "hosts": ["app_servers"]}])
    assert record["hosts"]["app1"]["failed"] == 1 and record["hosts"]["app1"]["rescued"] == 2
    assert [task["task"] for task in record["failed_tasks"]] == [
        "3. Manual backup", "3. Manual backup, second attempt", "Escalate when the manual backup still fails"]
    assert "does not exist" in record["failed_tasks"][0]["message"]
    assert "failed twice" in record["failed_tasks"][2]["message"]
    assert record["duration_seconds"] > 0 and record["check_mode"] is False


def test_the_review_counts_the_run_and_maps_the_fired_alert_to_its_runbook(quarter):
    review = quarter["review"]
    assert review.rc == 0, review.failed_tasks()
    result = review.task_results("Review the runbook runs and the alerts of the period")["localhost"]
    assert result["changed"] is False and result["review"] == "runbooks" and result["unavailable"] == []
    rows = dict((row["runbook"], row) for row in result["runbooks"])
    assert sorted(rows) == RUNBOOKS
    backup = rows["backup_failed"]
    assert (backup["runs"], backup["failed_runs"], backup["last_status"]) == (1, 1, "failed")
    assert backup["failed_steps"][0]["task"] == "3. Manual backup" and backup["failed_steps"][0]["hosts"] == ["app1"]
    alerts = dict((alert["alertname"], alert) for alert in result["alerts"])
    assert alerts["BackupFailed"]["episodes"] == 1 and alerts["BackupFailed"]["runbook"] == "backup_failed"
    assert "BackupFailed" in backup["alerts"] and backup["alert_episodes"] == 1
    assert result["series"]["alerts_fired"]["points"] == [["BackupFailed", 1]]

    findings = dict(((item["id"], item["subject"]), item) for item in result["findings"])
    failed = findings[("runbook_failed_runs", "backup_failed")]
    assert failed["severity"] == "high" and 'at "Escalate when the manual backup still fails" on app1' in failed["summary"]
    assert ("alert_fired_without_runbook_run", "BackupFailed") not in findings
    assert sorted(subject for code, subject in findings if code == "runbook_never_exercised") == [
        name for name in RUNBOOKS if name != "backup_failed"]
    assert result["findings"][0]["severity"] == "high"


def test_the_report_shows_the_runbook_review(quarter):
    (page,) = [path for path in quarter["reports"].iterdir() if path.name.startswith("quarterly-runbooks-")]
    text = page.read_text()
    for name in ("runs_per_runbook", "duration_per_runbook", "alerts_fired"):
        assert 'data-series="%s"' % name in text
    assert "Escalate when the manual backup still fails" in text and "BackupFailed" in text
