"""The ai_models role through playbooks/monthly.yml on this host: install builds the virtualenv and the review and
archive entry points run their modules with its Python; check mode creates and writes nothing; a second run
changes nothing. The registry is a real SQLite database with model files, built as issue 12's contract says."""
import json
import os
import sys

import pytest

from tests.support import playbook as pb
from tests.unit.plugins.modules.model_registry_dbs import make_registry, metrics, statuses, tree

MODELS = [
    dict(entity="A", status="inactive", days_ago=120, metrics=metrics(30.0)),
    dict(entity="A", status="active", days_ago=200, metrics=metrics(25.0)),
    dict(entity="B", status="active", days_ago=3, metrics=metrics(8.0)),
]
TAGS = "ai_models_review,ai_models_archive"


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    root = tmp_path_factory.mktemp("ai")
    home = root / "home"
    paths = make_registry(home, MODELS)
    (home / ".env").write_text("DATABASE_PATH=data/enterprise_inventory.db\nMODELS_DIR=ai/models\n")
    inventory = pb.write_inventory(str(root / "hosts.yml"), {"app_servers": {"ai1": pb.local_host()}})
    extra = dict(ai_models_service_home=str(home), ai_models_venv=str(root / "venv"), ai_models_python=sys.executable,
                 # The review and archive modules need prometheus-client only; the forecasting pins are the retrain's.
                 ai_models_packages=["prometheus-client==0.26.0"])
    return dict(paths, root=root, inventory=inventory, extra=extra)


def test_check_mode_creates_nothing(host):
    before = (statuses(host["database_path"]), tree(str(host["root"] / "home")))
    run = pb.run_playbook("playbooks/monthly.yml", host["inventory"], extra_vars=host["extra"], tags=TAGS, check=True)
    assert run.rc == 0, run
    assert run.task_results("Install the forecasting libraries into their virtualenv")["ai1"]["changed"] is True
    assert not os.path.exists(str(host["root"] / "venv"))
    assert (statuses(host["database_path"]), tree(str(host["root"] / "home"))) == before


def test_monthly_exports_reviews_and_archives_then_changes_nothing(host):
    run = pb.run_playbook("playbooks/monthly.yml", host["inventory"], extra_vars=host["extra"], tags=TAGS)
    assert run.rc == 0, run
    assert os.path.exists(str(host["root"] / "venv" / "bin" / "python"))
    review = run.task_results("Review the accuracy of the active models")["ai1"]
    assert review["flagged"] == ["A"] and review["export"]["changed"] is True
    export = json.loads(open(review["export"]["path"]).read())
    assert os.path.dirname(review["export"]["path"]) == str(host["root"] / "home" / "reports" / "ai-models")
    assert [m["id"] for m in export["models"]] == [1, 2, 3]
    archive = run.task_results("Archive old models")["ai1"]
    assert [a["id"] for a in archive["archived"]] == [1] and [k["id"] for k in archive["kept_active"]] == [2]
    assert statuses(host["database_path"]) == {1: "archived", 2: "active", 3: "active"}
    assert sorted(tree(str(host["root"] / "home" / "ai" / "archive"))) == ["A/1.json"]

    again = pb.run_playbook("playbooks/monthly.yml", host["inventory"], extra_vars=host["extra"], tags=TAGS)
    assert again.rc == 0, again
    # The export changes with the archival (row 1 is archived now): the third run is the one with nothing to do.
    third = pb.run_playbook("playbooks/monthly.yml", host["inventory"], extra_vars=host["extra"], tags=TAGS)
    assert third.rc == 0 and third.changed() == 0, third.changed_tasks()


def test_schedules_read_the_ai_phases_only_when_asked(host):
    # daily.yml's AI play names modules of the whole issue; untagged and other-tagged runs never load them.
    run = pb.run_playbook("playbooks/daily.yml", host["inventory"], extra_vars=host["extra"], tags="ai_models_install")
    assert run.rc == 0, run
    assert run.changed() == 0
    assert run.task_results("Install the forecasting libraries into their virtualenv")["ai1"]["changed"] is False


def test_a_missing_virtualenv_is_named(host, tmp_path):
    playbook = tmp_path / "review.yml"
    playbook.write_text(json.dumps([{"name": "Review", "hosts": "app_servers", "gather_facts": False, "tasks": [
        {"name": "Review",
         "ansible.builtin.include_role": {"name": "inventory_enterprise.ops.ai_models", "tasks_from": "review"}}]}]))
    extra = dict(host["extra"], ai_models_venv=str(host["root"] / "nowhere"))
    run = pb.run_playbook(str(playbook), host["inventory"], extra_vars=extra)
    assert run.rc != 0
    message = run.task_results("Require the virtualenv of the forecasting libraries")["ai1"]["msg"]
    assert "nowhere/bin/python does not exist" in message and "tasks_from install" in message
    # In check mode the install would create it: the review is skipped, not failed.
    run = pb.run_playbook(str(playbook), host["inventory"], extra_vars=extra, check=True)
    assert run.rc == 0, run


def test_high_mape_report_has_before_and_after_per_item(host, tmp_path):
    """The runbook's report template, fed with real model_review results before and after a change of the registry
    and retrain results shaped as the contract's model_retrain returns them."""
    report = tmp_path / "incidents" / "high-mape-test.md"
    review = {"inventory_enterprise.ops.model_review": {"service_home": str(host["root"] / "home")}}
    retrain = [{"item_code": "A", "outcome": "promoted", "model_type": "prophet", "model_id": 9, "metrics": {},
                "previous_metrics": {}, "reason": "WAPE 9.0% beats 25.0%", "seconds": 0.4}]
    playbook = tmp_path / "report.yml"
    playbook.write_text(json.dumps([{"name": "Report", "hosts": "app_servers", "gather_facts": False, "vars": {
        "runbook_mape_threshold": 20, "__runbook_report": str(report)}, "tasks": [
        dict(review, name="Before", register="__runbook_before"),
        {"name": "Affected", "ansible.builtin.set_fact": {"__runbook_affected": "{{ __runbook_before.flagged }}",
                                                          "__runbook_retrain": {"results": retrain}}},
        {"name": "Better model", "ansible.builtin.command": "sqlite3 %s \"UPDATE ai_models SET accuracy_metrics = "
         "json_set(accuracy_metrics, '$.mape', 9.0) WHERE id = 2\"" % host["database_path"], "changed_when": True},
        dict(review, name="After", register="__runbook_after"),
        {"name": "Directory", "ansible.builtin.file": {"path": str(report.parent), "state": "directory", "mode": "0750"},
         "delegate_to": "localhost", "run_once": True},
        {"name": "Write", "ansible.builtin.template": {"src": pb.ROOT + "/playbooks/runbooks/templates/high_mape_report.md.j2",
                                                       "dest": str(report), "mode": "0640"},
         "delegate_to": "localhost", "run_once": True}]}]))
    run = pb.run_playbook(str(playbook), host["inventory"], extra_vars={"ansible_python_interpreter": sys.executable})
    assert run.rc == 0, run
    text = report.read_text()
    assert text.startswith("# Incident: High MAPE (high-mape-test)")
    row = [line for line in text.splitlines() if line.startswith("| A |")]
    assert len(row) == 1, text
    assert "| prophet MAPE 25.0 WAPE 25.0 MASE - BIAS 0.0 (flagged) | prophet MAPE 9.0 WAPE 25.0 MASE - BIAS 0.0 (ok) |" in row[0]
    assert "promoted: WAPE 9.0% beats 25.0%" in row[0] and "not needed" in row[0] and "API did not answer" in row[0]
