"""The molecule verifiers check the state with tools independent of the collection (sqlite3, sha256sum, psql,
curl...), never with a module of the collection, which would grade its own work; and they change nothing."""
import glob
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VERIFIERS = sorted(glob.glob(os.path.join(ROOT, "extensions", "molecule", "*", "verify.yml")))
COLLECTION = "inventory_enterprise.ops."
RUNS_A_COMMAND = ("ansible.builtin.command", "ansible.builtin.shell", "ansible.builtin.raw")


def tasks_of(play):
    for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
        for task in play.get(section) or []:
            yield from blocks(task)


def blocks(task):
    nested = [task.get(key) or [] for key in ("block", "rescue", "always")]
    if any(nested):
        for inner in nested:
            for item in inner:
                yield from blocks(item)
    else:
        yield task


def test_every_scenario_has_a_verifier():
    scenarios = [d for d in glob.glob(os.path.join(ROOT, "extensions", "molecule", "*")) if os.path.isdir(d)]
    assert sorted(os.path.join(d, "verify.yml") for d in scenarios) == VERIFIERS


@pytest.mark.parametrize("path", VERIFIERS, ids=[os.path.basename(os.path.dirname(p)) for p in VERIFIERS])
def test_verifier_uses_no_module_of_the_collection_and_changes_nothing(path):
    with open(path) as handle:
        plays = yaml.safe_load(handle)
    for play in plays:
        for task in tasks_of(play):
            modules = [key for key in task if key.startswith(COLLECTION)]
            assert modules == [], "%s: task %r checks with %s, the code under test" % (path, task.get("name"), modules)
            if any(key in task for key in RUNS_A_COMMAND):
                assert task.get("changed_when") is False, "%s: task %r needs changed_when: false" % (
                    path, task.get("name"))


@pytest.mark.parametrize("path", VERIFIERS, ids=[os.path.basename(os.path.dirname(p)) for p in VERIFIERS])
def test_every_assertion_is_a_string(path):
    """A condition with ': ' in it unquoted is a YAML mapping, which ansible-core 2.19 refuses at run time only."""
    with open(path) as handle:
        plays = yaml.safe_load(handle)
    for play in plays:
        for task in tasks_of(play):
            that = (task.get("ansible.builtin.assert") or {}).get("that") or []
            for condition in that if isinstance(that, list) else [that]:
                assert isinstance(condition, str), "%s: task %r has a non-string condition %r" % (
                    path, task.get("name"), condition)
