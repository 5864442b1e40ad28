"""The documentation promises only what the tree holds: links resolve inside the repository, the paths and
collection names it mentions exist, and every role has a README naming its entry points, tags and variables."""
import glob
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(ROOT, "roles", "*", "meta")))
DOCS = sorted(["README.md", "tests/README.md"]
              + [os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md"))]
              + ["roles/%s/README.md" % role for role in ROLES])
# Top-level directories of the checkout: a backticked path starting with one of them must exist.
CHECKED_DIRS = ("bench/", "changelogs/", "docs/", "extensions/", "playbooks/", "plugins/", "reference/",
                "requirements/", "roles/", "tests/", ".ci/")
# Named in the docs precisely because they do not exist (tests/README.md says where those tests live), or
# generated: `tests/lab/lab.py up` writes the lab's hosts.yml (git-ignored).
ABSENT_ON_PURPOSE = {"tests/integration/targets/", "tests/lab/inventory/hosts.yml"}
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\n]+)`")
FQCN = re.compile(r"inventory_enterprise\.ops\.([a-z_][a-z0-9_.]*[a-z0-9_])")


class AnsibleYamlLoader(yaml.SafeLoader):
    """Reads role files the way Ansible does for our purpose: !unsafe and !vault values are plain."""


AnsibleYamlLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
AnsibleYamlLoader.add_constructor("!vault", lambda loader, node: loader.construct_scalar(node))


def read(relpath):
    with open(os.path.join(ROOT, relpath), encoding="utf-8") as handle:
        return handle.read()


def load(relpath):
    path = os.path.join(ROOT, relpath)
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=AnsibleYamlLoader) or {}


def split_fences(text):
    """(prose, [(language, block text)]): the text outside fenced blocks, and each fenced block."""
    outside, blocks, current = [], [], None
    for line in text.split("\n"):
        if line.startswith("```"):
            if current is None:
                current = (line[3:].strip(), [])
            else:
                blocks.append((current[0], "\n".join(current[1])))
                current = None
        elif current is None:
            outside.append(line)
        else:
            current[1].append(line)
    return "\n".join(outside), blocks


def prose(text):
    return split_fences(text)[0]


def mentioned_paths(text):
    """Repository paths in backticks in the prose, and every path-like word of shell and plain blocks."""
    text_outside, blocks = split_fences(text)
    words = [code.split()[0] for code in CODE.findall(text_outside) if code.split()]
    for language, block in blocks:
        if language in ("", "sh", "bash", "console"):
            words += re.findall(r"(?<![\w./-])[\w./-]+", block)
    return [word for word in words if word.startswith(CHECKED_DIRS) and not re.search(r"[<>*{}$]", word)
            and word not in ABSENT_ON_PURPOSE]


def collection_names():
    names = {os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, "plugins", "*", "*.py"))}
    # A filter file holds several filters, each documented in a YAML file of its own name.
    names |= {os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, "plugins", "filter", "*.yml"))}
    names |= set(ROLES)
    names |= {os.path.splitext(os.path.relpath(p, os.path.join(ROOT, "playbooks")))[0].replace(os.sep, ".")
              for p in glob.glob(os.path.join(ROOT, "playbooks", "**", "*.yml"), recursive=True)}
    runtime = load("meta/runtime.yml")
    names |= set(runtime.get("action_groups", {}))
    names |= {"group/" + name for name in runtime.get("action_groups", {})}
    for routes in runtime.get("plugin_routing", {}).values():
        names |= set(routes)
    return names


def inventory_groups():
    """Host groups the roles and playbooks use (`backup_servers` is a group, not a variable)."""
    found = set()
    for path in glob.glob(os.path.join(ROOT, "roles", "**", "*.yml"), recursive=True) + glob.glob(
            os.path.join(ROOT, "playbooks", "**", "*.yml"), recursive=True):
        found |= set(re.findall(r"groups\[['\"](\w+)['\"]\]", read(path)))
    return found


@pytest.mark.parametrize("doc", DOCS)
def test_relative_links_resolve_inside_the_repository(doc):
    assert os.path.exists(os.path.join(ROOT, doc)), "%s is missing" % doc
    base = os.path.dirname(os.path.join(ROOT, doc))
    for target in LINK.findall(read(doc)):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = os.path.normpath(os.path.join(base, target.split("#")[0]))
        assert os.path.commonpath([path, ROOT]) == ROOT, "%s links outside the repository: %s" % (doc, target)
        assert os.path.exists(path), "%s links to a missing file: %s" % (doc, target)


@pytest.mark.parametrize("doc", DOCS)
def test_mentioned_paths_exist(doc):
    assert os.path.exists(os.path.join(ROOT, doc)), "%s is missing" % doc
    for path in mentioned_paths(read(doc)):
        assert os.path.exists(os.path.join(ROOT, path.rstrip(",.:;"))), "%s mentions a missing path: %s" % (doc, path)


@pytest.mark.parametrize("doc", DOCS)
def test_mentioned_collection_content_exists(doc):
    assert os.path.exists(os.path.join(ROOT, doc)), "%s is missing" % doc
    known = collection_names()
    for name in FQCN.findall(read(doc)):
        if name.startswith("<"):
            continue
        assert name in known, "%s names inventory_enterprise.ops.%s, which the collection does not have" % (doc, name)


@pytest.mark.parametrize("role", ROLES)
def test_role_readme_names_entry_points_tags_and_variables(role):
    readme_path = "roles/%s/README.md" % role
    assert os.path.exists(os.path.join(ROOT, readme_path)), "%s is missing" % readme_path
    readme = read(readme_path)
    assert readme.startswith("# inventory_enterprise.ops.%s\n" % role)
    for entry_point in load("roles/%s/meta/argument_specs.yml" % role)["argument_specs"]:
        assert "`%s`" % entry_point in readme, "entry point %s not in %s" % (entry_point, readme_path)
    tags = set()
    # Every task file: a role entered only through tasks_from (ai_models) has no main.yml.
    for path in sorted(glob.glob(os.path.join(ROOT, "roles", role, "tasks", "*.yml"))):
        for task in load(os.path.relpath(path, ROOT)) or []:
            tags |= set(task.get("tags", [])) - {"always", "never"}
    for tag in sorted(tags):
        assert "`%s`" % tag in readme, "tag %s not in %s" % (tag, readme_path)
    specs = load("roles/%s/meta/argument_specs.yml" % role)["argument_specs"]
    variables = set(load("roles/%s/defaults/main.yml" % role))
    variables |= {name for entry in specs.values() for name, spec in entry.get("options", {}).items() if spec.get("required")}
    for name in re.findall(r"`(%s_[a-z0-9_]+)" % role, readme):
        assert name in variables or name in tags or name in inventory_groups(), "%s names %s, which is not a variable of the role" % (
            readme_path, name)
    assert "inventory_enterprise.ops.%s" % role in prose(readme) or re.search(
        r"name: inventory_enterprise\.ops\.%s\b" % role, readme), "no example play with the FQCN in %s" % readme_path
    assert re.search(r"^```yaml\n", readme, re.M), "no example play in %s" % readme_path


@pytest.mark.parametrize("text", ["galaxy.yml", "README.md"])
def test_schedules_promised_have_a_playbook(text):
    described = (load("galaxy.yml")["description"] if text == "galaxy.yml" else read(text).split("\n## ")[0]).lower()
    for schedule in ("daily", "weekly", "monthly", "quarterly", "yearly"):
        if schedule in described:
            assert os.path.exists(os.path.join(ROOT, "playbooks", schedule + ".yml")), \
                "%s promises %s procedures, but there is no playbooks/%s.yml" % (text, schedule, schedule)
