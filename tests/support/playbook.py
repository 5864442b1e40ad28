"""Run the collection's playbooks for real from tests, and read back what Ansible reported.

Uses the JSON stdout callback so a test can assert per-host `changed`/`failures`/`unreachable`
counts (idempotence, check mode) instead of grepping human output.
"""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
WHEEL_DIR = os.path.join(ROOT, "build", "dist")


_JOURNAL = []


def runbook_journal_dir():
    """Where the runbook_journal callback (enabled in ansible.cfg) records the runbooks the tests run: a directory
    of this test process, removed at its end, never the journal of the user running the tests."""
    if not _JOURNAL:
        _JOURNAL.append(tempfile.mkdtemp(prefix="ie-runbook-journal-"))
        atexit.register(shutil.rmtree, _JOURNAL[0], True)
    return _JOURNAL[0]


def ansible_env(**extra):
    env = dict(os.environ)
    env.update(
        INVENTORY_ENTERPRISE_RUNBOOK_JOURNAL=runbook_journal_dir(),
        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "build", "collections"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCAL_TEMP=os.environ.get("TMPDIR", "/tmp"),
    )
    env.update(extra)
    return env


class PlaybookResult:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        start = proc.stdout.find("{")
        try:
            self.data = json.loads(proc.stdout[start:]) if start >= 0 else {}
        except ValueError:
            self.data = {}
        self.stats = self.data.get("stats", {})

    def changed(self, host=None):
        hosts = [host] if host else list(self.stats)
        return sum(self.stats[h]["changed"] for h in hosts)

    def failures(self, host=None):
        hosts = [host] if host else list(self.stats)
        return sum(self.stats[h]["failures"] + self.stats[h]["unreachable"] for h in hosts)

    def task_results(self, task_name):
        """Per-host results of every task whose name is task_name."""
        found = {}
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                # Role tasks are named "<role> : <task name>".
                if task["task"]["name"].split(" : ")[-1] == task_name:
                    found.update(task["hosts"])
        return found

    def failed_tasks(self):
        """One line per failed or unreachable host of each task (its message), for assertion output; the end of
        stderr when no task failed (a syntax error, a missing file)."""
        found = []
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                for host, result in task["hosts"].items():
                    if result.get("failed") or result.get("unreachable"):
                        found.append("%s: %s: %s" % (host, task["task"]["name"], result.get("msg")))
        return "\n".join(found) or self.stderr[-3000:]

    def changed_tasks(self):
        names = []
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                if any(r.get("changed") for r in task["hosts"].values()):
                    names.append(task["task"]["name"])
        return names

    def __repr__(self):
        return "PlaybookResult(rc=%s, stats=%s)\nSTDERR:\n%s\nSTDOUT:\n%s" % (
            self.rc, self.stats, self.stderr[-3000:], self.stdout[-12000:])


def write_inventory(path, groups, group_vars=None):
    """groups: {group: {host: hostvars}}; group_vars apply to all hosts."""
    inventory = {"all": {"vars": group_vars or {}, "children": {
        group: {"hosts": hosts} for group, hosts in groups.items()}}}
    with open(path, "w") as handle:
        yaml.safe_dump(inventory, handle, default_flow_style=False)
    return path


def local_host(**hostvars):
    hostvars.setdefault("ansible_connection", "local")
    hostvars.setdefault("ansible_python_interpreter", sys.executable)
    return hostvars


def run_playbook(playbook, inventory, extra_vars=None, check=False, tags=None, diff=False, limit=None, timeout=900,
                 env=None):
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", inventory]
    if not os.path.isabs(playbook):
        playbook = os.path.join(ROOT, playbook)
    cmd.append(playbook)
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if tags:
        cmd += ["--tags", tags]
    if limit:
        cmd += ["--limit", limit]
    proc = subprocess.run(cmd, cwd=ROOT, env=ansible_env(**(env or {})), capture_output=True, text=True, timeout=timeout, check=False)
    return PlaybookResult(proc)
