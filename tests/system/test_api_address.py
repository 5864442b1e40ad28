"""The service's API address is worked out in one place (roles/service/templates/api_url.j2), and every role and
playbook that talks to the API reaches a wildcard bind on the loopback address of its family."""
import glob
import json
import os
import re

import yaml

from tests.support import playbook as pb

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE = "roles/service/templates/api_url.j2"
# (variable, file that defines it, directory its relative paths start from: role_path or playbook_dir)
USERS = [
    ("backup_api_url", "roles/backup/defaults/main.yml", "roles/backup"),
    ("daily_operations_api_url", "roles/daily_operations/defaults/main.yml", "roles/daily_operations"),
    ("database_api_url", "roles/database/defaults/main.yml", "roles/database"),
    ("runbook_api_url", "playbooks/runbooks/system_down.yml", "playbooks/runbooks"),
]
CASES = [
    ({"service_bind_address": "0.0.0.0", "service_port": 8085}, "http://127.0.0.1:8085"),
    ({"service_bind_address": "::", "service_port": 8085}, "http://[::1]:8085"),
    ({"service_bind_address": "", "service_port": 8085}, "http://127.0.0.1:8085"),
    ({"service_bind_address": "10.1.2.3", "service_port": 9000}, "http://10.1.2.3:9000"),
    ({"service_bind_address": "fd00::5"}, "http://[fd00::5]:8083"),
    ({}, "http://127.0.0.1:8083"),
]


def expression(name, path):
    with open(os.path.join(ROOT, path)) as handle:
        data = yaml.safe_load(handle)
    if isinstance(data, list):
        data = data[0]["vars"]
    return data[name]


def test_every_api_address_comes_from_the_one_template():
    for name, path, _expression in USERS:
        assert "/service/templates/api_url.j2" in expression(name, path), "%s in %s" % (name, path)
    for path in glob.glob(os.path.join(ROOT, "roles", "**", "*.yml"), recursive=True) + glob.glob(
            os.path.join(ROOT, "playbooks", "**", "*.yml"), recursive=True):
        with open(path) as handle:
            assert not re.search(r"http://\{\{ *service_bind_address", handle.read()), path


def test_wildcard_binds_map_to_a_reachable_address(tmp_path):
    """Each user's real expression, rendered by Ansible with the bind addresses an inventory may hold."""
    tasks = []
    for index, (hostvars, _expected) in enumerate(CASES):
        for name, path, base in USERS:
            # role_path and playbook_dir as Ansible sets them when the role or runbook runs.
            text = expression(name, path).replace("playbook_dir", "_test_base").replace("role_path", "_test_base")
            tasks.append({"name": "case %d %s" % (index, name),
                          "ansible.builtin.debug": {"msg": "{{ _test_url }}"},
                          "vars": dict(hostvars, _test_base=os.path.join(ROOT, base), _test_url=text)})
    playbook = tmp_path / "render.yml"
    playbook.write_text(json.dumps([{"name": "Render", "hosts": "localhost", "gather_facts": False,
                                     "tasks": tasks}]))
    inventory = pb.write_inventory(str(tmp_path / "hosts.yml"), {"app_servers": {"localhost": pb.local_host()}})
    run = pb.run_playbook(str(playbook), inventory)
    assert run.rc == 0, run
    for index, (hostvars, expected) in enumerate(CASES):
        for name, _path, _expression in USERS:
            got = run.task_results("case %d %s" % (index, name))["localhost"]["msg"]
            assert got == expected, "%s with %s: %s" % (name, hostvars, got)
