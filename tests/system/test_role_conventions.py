"""Every role's public variables: prefixed with the role name, in defaults/main.yml and
meta/argument_specs.yml one-for-one (the prometheus.prometheus lint_arguments_spec habit)."""
import glob
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(ROOT, "roles", "*", "meta")))


class AnsibleYamlLoader(yaml.SafeLoader):
    """Reads role files the way Ansible does for our purpose: !unsafe and !vault values are plain."""


AnsibleYamlLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
AnsibleYamlLoader.add_constructor("!vault", lambda loader, node: loader.construct_scalar(node))


def load(role, *parts):
    path = os.path.join(ROOT, "roles", role, *parts)
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return yaml.load(handle, Loader=AnsibleYamlLoader) or {}


@pytest.mark.parametrize("role", ROLES)
def test_defaults_and_argument_specs_agree(role):
    defaults = set(load(role, "defaults", "main.yml"))
    specs = load(role, "meta", "argument_specs.yml")["argument_specs"]
    documented = set()
    for entry in specs.values():
        documented |= set(entry.get("options", {}))
    assert defaults - documented == set(), "in defaults/main.yml but not in meta/argument_specs.yml"
    without_default = {name for entry in specs.values() for name, spec in entry.get("options", {}).items()
                       if name not in defaults and not spec.get("required")}
    assert without_default == set(), "in argument_specs (not required) but without a default"


@pytest.mark.parametrize("role", ROLES)
def test_public_variables_are_prefixed(role):
    for name in load(role, "defaults", "main.yml"):
        assert name.startswith(role + "_"), name


@pytest.mark.parametrize("role", ROLES)
def test_handlers_are_capitalised(role):
    for handler in load(role, "handlers", "main.yml") or []:
        assert handler["name"][0].isupper(), handler["name"]


# Old tag names kept working for one release next to the `<role>_<phase>` one.
TAG_ALIASES = {"daily_operations": {"morning", "midday", "end_of_day"}}
PLAYBOOKS = sorted(os.path.relpath(p, ROOT)
                   for p in glob.glob(os.path.join(ROOT, "playbooks", "**", "*.yml"), recursive=True))


def load_path(relpath):
    with open(os.path.join(ROOT, relpath)) as handle:
        return yaml.load(handle, Loader=AnsibleYamlLoader)


def role_entries(node):
    """(task, role, tasks_from) of every include_role/import_role anywhere in a playbook or task file."""
    if isinstance(node, list):
        for item in node:
            yield from role_entries(item)
    elif isinstance(node, dict):
        for key in ("ansible.builtin.include_role", "ansible.builtin.import_role", "include_role", "import_role"):
            if isinstance(node.get(key), dict):
                yield node, node[key]["name"].split(".")[-1], node[key].get("tasks_from", "main")
        for value in node.values():
            yield from role_entries(value)


@pytest.mark.parametrize("role", ROLES)
def test_entry_points_are_task_files(role):
    for entry_point in load(role, "meta", "argument_specs.yml")["argument_specs"]:
        assert os.path.exists(os.path.join(ROOT, "roles", role, "tasks", entry_point + ".yml")), entry_point


@pytest.mark.parametrize("path", PLAYBOOKS + sorted(os.path.relpath(p, ROOT) for p in glob.glob(
    os.path.join(ROOT, "roles", "*", "tasks", "*.yml"))))
def test_roles_are_entered_through_described_entry_points(path):
    for task, role, tasks_from in role_entries(load_path(path)):
        assert tasks_from in load(role, "meta", "argument_specs.yml")["argument_specs"], \
            "%s enters %s at %s, which has no argument_specs entry" % (path, role, tasks_from)
        for tag in set(task.get("tags", [])) - {"always", "never"}:
            assert tag.startswith(role + "_"), "%s tags its use of %s with %s" % (path, role, tag)


@pytest.mark.parametrize("path", PLAYBOOKS)
def test_playbooks_pick_an_entry_point_not_a_dispatch_variable(path):
    with open(os.path.join(ROOT, path)) as handle:
        assert "database_procedure" not in handle.read(), "use tasks_from: <procedure> of the database role"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("task_file", ["main.yml", "ENTRY_POINTS"])
def test_tags_follow_role_and_phase(role, task_file):
    files = [task_file] if task_file == "main.yml" else sorted(
        name + ".yml" for name in load(role, "meta", "argument_specs.yml")["argument_specs"] if name != "main")
    for task in [task for name in files for task in load(role, "tasks", name) or []]:
        tags = set(task.get("tags", [])) - {"always", "never"}
        if not tags:
            continue
        assert any(tag.startswith(role + "_") for tag in tags), "%s: %s" % (task["name"], sorted(tags))
        assert all(tag.startswith(role + "_") or tag in TAG_ALIASES.get(role, ()) for tag in tags), task["name"]


def test_ai_models_installs_the_pins_the_collection_is_tested_with():
    """The role keeps its own list (requirements/ does not ship in the tarball): it must not drift from the pins."""
    def pins(path):
        with open(os.path.join(ROOT, path)) as handle:
            return set(line.split("#")[0].strip() for line in handle if line.split("#")[0].strip()
                       and not line.startswith("-r"))
    with open(os.path.join(ROOT, "roles", "ai_models", "defaults", "main.yml")) as handle:
        role = set(yaml.safe_load(handle)["ai_models_packages"])
    managed = set(pin for pin in pins("requirements/managed.txt") if pin.startswith("prometheus-client=="))
    assert role == pins("requirements/ai.txt") | managed
