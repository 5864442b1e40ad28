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
