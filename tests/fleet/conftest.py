"""The fleet tests run the playbooks across the lab's real SSH hosts (tests/lab/lab.py)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tests.support import playbook as pb  # noqa: E402  pylint: disable=wrong-import-position

LAB = os.path.join(ROOT, "tests", "lab", "lab.py")
INVENTORY = os.path.join(ROOT, "tests", "lab", "inventory", "hosts.yml")


def lab(*args):
    proc = subprocess.run([sys.executable, LAB] + list(args), cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode:
        pytest.fail("lab.py %s failed:\n%s%s" % (" ".join(args), proc.stdout, proc.stderr))
    return proc.stdout


class Fleet:
    inventory = INVENTORY

    def __init__(self):
        import yaml  # pylint: disable=import-outside-toplevel
        with open(INVENTORY) as handle:
            data = yaml.safe_load(handle)
        self.hosts = {}
        for group in data["all"]["children"].values():
            for name, hostvars in (group.get("hosts") or {}).items():
                self.hosts[name] = hostvars["ansible_host"]
        self.app_servers = sorted(data["all"]["children"]["app_servers"]["hosts"])

    def url(self, host):
        return "http://%s:8083" % self.hosts[host]

    def play(self, playbook, **kwargs):
        return pb.run_playbook(playbook, self.inventory, **kwargs)


@pytest.fixture(scope="session")
def fleet():
    if os.geteuid() != 0:
        pytest.fail("the lab needs root (namespaces, mounts, port 22)")
    lab("up", "--app-servers", "2")
    try:
        yield Fleet()
    finally:
        lab("down")


@pytest.fixture(scope="session")
def deployed_fleet(fleet):
    run = fleet.play("playbooks/site.yml")
    assert run.rc == 0, run
    fleet.first_deploy = run
    return fleet
