"""The node runtime of the service role: the real app's path (git checkout, npm ci, node server.js),
exercised with the tiny fixture app in tests/fixtures/node_app."""
import os
import shutil
import subprocess

import pytest

from tests.support import playbook as pb
from tests.support.deployment import Deployment

FIXTURE = os.path.join(pb.ROOT, "tests", "fixtures", "node_app")


def git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"] + list(args),
                   cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def node_repo(tmp_path_factory):
    repo = str(tmp_path_factory.mktemp("node-repo") / "app")
    shutil.copytree(FIXTURE, repo)
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "fixture", cwd=repo)
    return repo


@pytest.fixture(scope="module")
def node_deployment(tmp_path_factory, node_repo):
    dep = Deployment(tmp_path_factory.mktemp("node"), service_runtime="node",
                     service_node_git_repo="file://" + node_repo, service_node_git_version="main")
    first = dep.play("playbooks/site.yml")
    assert first.rc == 0, first
    dep.first_run = first
    yield dep
    dep.play("playbooks/service_control.yml", extra_vars={"service_state": "stopped"})


def test_node_app_deployed_from_git_answers_health(node_deployment):
    assert node_deployment.first_run.changed() > 0
    assert node_deployment.health().json()["status"] == "ok"
    assert os.path.exists(os.path.join(node_deployment.home, "app", "server.js"))


def test_node_redeploy_and_check_mode_change_nothing(node_deployment):
    again = node_deployment.play("playbooks/site.yml")
    assert again.rc == 0, again
    assert again.changed() == 0, again.changed_tasks()
    check = node_deployment.play("playbooks/site.yml", check=True)
    assert check.rc == 0, check
    assert check.changed() == 0, check.changed_tasks()


def test_new_commit_is_deployed_and_restarts_the_app(node_deployment, node_repo):
    pidfile = os.path.join(node_deployment.home, "run", "inventory-enterprise.pid")
    pid_before = open(pidfile).read().split()[0]
    with open(os.path.join(node_repo, "VERSION"), "w") as handle:
        handle.write("2\n")
    git("add", ".", cwd=node_repo)
    git("commit", "-q", "-m", "release 2", cwd=node_repo)
    run = node_deployment.play("playbooks/site.yml")
    assert run.rc == 0, run
    assert run.changed() > 0
    assert os.path.exists(os.path.join(node_deployment.home, "app", "VERSION"))
    assert open(pidfile).read().split()[0] != pid_before
    assert node_deployment.health().status_code == 200


def test_scratch_instance_runs_the_node_app_with_its_own_home_and_port(node_deployment, tmp_path):
    """The DR drill's scratch instance (tasks_from: scratch) starts the node runtime as the service starts, on
    its own port and .env, and leaves the deployed service alone."""
    from tests.support.servers import free_port
    scratch, port = str(tmp_path / "scratch"), free_port()
    playbook = tmp_path / "scratch.yml"
    playbook.write_text(
        "- name: Scratch instance\n  hosts: app_servers\n  gather_facts: false\n  tasks:\n"
        "    - name: Scratch {{ state }}\n      ansible.builtin.include_role:\n"
        "        name: inventory_enterprise.ops.service\n        tasks_from: scratch\n"
        "      vars:\n        service_scratch_state: \"{{ state }}\"\n")
    variables = {"service_scratch_home": scratch, "service_scratch_port": port}
    started = node_deployment.play(str(playbook), extra_vars=dict(variables, state="started"))
    try:
        assert started.rc == 0, started.failed_tasks()
        import requests
        assert requests.get("http://127.0.0.1:%d/health" % port, timeout=5).json()["status"] == "ok"
        with open(os.path.join(scratch, ".env")) as handle:
            env = dict(line.strip().split("=", 1) for line in handle if "=" in line and not line.startswith("#"))
        assert env["PORT"] == str(port) and env["DATABASE_PATH"].startswith(scratch + "/")
        assert env["REDIS_URL"] in ("", "''") and env["DUAL_WRITE_ENABLED"] == "false"
        log = open(os.path.join(scratch, "logs", "scratch.out")).read()
        assert "listening on http://127.0.0.1:%d" % port in log, log
    finally:
        stopped = node_deployment.play(str(playbook), extra_vars=dict(variables, state="stopped"))
    assert stopped.rc == 0, stopped.failed_tasks()
    assert node_deployment.health().status_code == 200
