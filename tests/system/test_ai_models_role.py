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
        {"name": "Review", "ansible.builtin.include_role": {"name": "inventory_enterprise.ops.ai_models",
                                                             "tasks_from": "review"}}]}]))
    extra = dict(host["extra"], ai_models_venv=str(host["root"] / "nowhere"))
    run = pb.run_playbook(str(playbook), host["inventory"], extra_vars=extra)
    assert run.rc != 0
    message = run.task_results("Require the virtualenv of the forecasting libraries")["ai1"]["msg"]
    assert "nowhere/bin/python does not exist" in message and "tasks_from install" in message
    # In check mode the install would create it: the review is skipped, not failed.
    run = pb.run_playbook(str(playbook), host["inventory"], extra_vars=extra, check=True)
    assert run.rc == 0, run
