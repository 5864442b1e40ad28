"""Launch a job template of playbooks/vars/schedule.yml through ansible-runner, the way AWX launches it.

AWX runs a job with ansible-runner: the project checked out as the runner's project_dir, the template's playbook
relative to it, its extra vars, tags and limit; the outcome is the runner's status and its job events. This does
the same from the schedule data (no AWX needed), and reads back what the events say.
"""
import os

import ansible_runner
import yaml

from tests.support import playbook as pb

SCHEDULE = os.path.join(pb.ROOT, "playbooks", "vars", "schedule.yml")
HOST_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable")


def template(name):
    with open(SCHEDULE) as handle:
        jobs = yaml.safe_load(handle)["schedule_jobs"]
    found = [job for job in jobs if job["name"] == name]
    if not found:
        raise KeyError("no job template %r in %s" % (name, SCHEDULE))
    return found[0]


def runner_env(**extra):
    """The suite's Ansible settings, less the stdout callback: ansible-runner installs its own (awx_display); and
    the test's runbook journal, as AWX's Extra Environment Variables would set it."""
    env = {key: value for key, value in pb.ansible_env(**extra).items()
           if key.startswith("ANSIBLE_") and key != "ANSIBLE_STDOUT_CALLBACK"
           or key == "INVENTORY_ENTERPRISE_RUNBOOK_JOURNAL"}
    env["PATH"] = pb.BIN + os.pathsep + os.environ.get("PATH", "")
    return env


class RunnerResult:
    def __init__(self, run):
        self.status = run.status
        self.rc = run.rc
        self.events = list(run.events)
        self.stdout = run.stdout.read()
        self.stats = {}
        for category, hosts in (run.stats or {}).items():
            for host, count in hosts.items():
                self.stats.setdefault(host, {})[category] = count

    def task_names(self):
        return [event["event_data"]["task"] for event in self.events if event["event"] == "playbook_on_task_start"]

    def task_results(self, task_name):
        """Per-host results of every task whose name is task_name (role tasks without their role prefix)."""
        return {event["event_data"]["host"]: event["event_data"]["res"] for event in self.events
                if event["event"] in HOST_EVENTS and "res" in event["event_data"]
                and event["event_data"].get("task", "").split(" : ")[-1] == task_name}

    def failed_tasks(self):
        """(host, task) of every failed task: ansible-runner says so by the event, not in the result."""
        return [(event["event_data"]["host"], event["event_data"]["task"].split(" : ")[-1]) for event in self.events
                if event["event"] == "runner_on_failed" and not event["event_data"].get("ignore_errors")]

    def failed_hosts(self):
        return sorted(host for host, counts in self.stats.items() if counts.get("failures") or counts.get("dark"))

    def __repr__(self):
        return "RunnerResult(status=%s, rc=%s, stats=%s)\nSTDOUT:\n%s" % (self.status, self.rc, self.stats, self.stdout[-12000:])


def run_template(name, inventory, private_data_dir, extra_vars=None, limit=None, timeout=900, env=None):
    """Launch job template `name` on `inventory`. extra_vars: what the launch adds (survey answers, the site's
    settings), over the template's own; limit: only for templates that prompt for one (ask_limit)."""
    job = template(name)
    if not job["available"]:
        raise AssertionError("job template %r is not available: %s" % (name, job.get("reason")))
    if limit and not job.get("ask_limit"):
        raise AssertionError("job template %r does not prompt for a limit" % name)
    os.makedirs(str(private_data_dir), exist_ok=True)
    extravars = dict(job["extra_vars"])
    extravars.update(extra_vars or {})
    run = ansible_runner.run(
        private_data_dir=str(private_data_dir),
        project_dir=pb.ROOT,
        playbook=job["playbook"],
        inventory=str(inventory),
        extravars=extravars,
        limit=limit or job.get("limit") or None,
        tags=",".join(job["tags"]) or None,
        envvars=runner_env(**(env or {})),
        quiet=True,
        timeout=timeout,
    )
    return RunnerResult(run)
