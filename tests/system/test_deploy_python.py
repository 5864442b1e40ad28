"""playbooks/site.yml deploys the reference service for real; re-runs and check mode change nothing."""
import os
import stat

import requests

from tests.support import playbook as pb


def test_first_deploy_changes_and_service_answers(deployment):
    assert deployment.first_run.changed() > 0
    answer = deployment.health()
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    assert answer.json()["cache_backend"] == "redis"


def test_layout_and_env_file(deployment):
    for sub in ("data", "logs", "backups", "config", "ai/models", "venv"):
        assert os.path.isdir(os.path.join(deployment.home, sub)), sub
    env_path = os.path.join(deployment.home, ".env")
    assert stat.S_IMODE(os.stat(env_path).st_mode) == 0o600
    with open(env_path) as handle:
        env = dict(line.strip().split("=", 1) for line in handle if "=" in line and not line.startswith("#"))
    assert env["PORT"].strip('"') == str(deployment.port)
    assert env["JWT_SECRET"].strip('"') == deployment.vars["service_jwt_secret"]
    assert os.path.exists(os.path.join(deployment.home, "data", "enterprise_inventory.db"))


def test_secrets_never_printed(deployment):
    run = deployment.first_run
    for secret in (deployment.vars["service_jwt_secret"], deployment.vars["service_admin_password"]):
        assert secret not in run.stdout
        assert secret not in run.stderr


def test_second_run_is_idempotent(deployment):
    again = deployment.play("playbooks/site.yml")
    assert again.rc == 0, again
    assert again.changed() == 0, again.changed_tasks()


def test_check_mode_on_deployed_host_changes_nothing(deployment):
    pid_before = open(os.path.join(deployment.home, "run", "inventory-enterprise.pid")).read()
    check = deployment.play("playbooks/site.yml", check=True, diff=True)
    assert check.rc == 0, check
    assert check.changed() == 0, check.changed_tasks()
    assert deployment.vars["service_jwt_secret"] not in check.stdout
    assert open(os.path.join(deployment.home, "run", "inventory-enterprise.pid")).read() == pid_before


def test_config_change_restarts_service(deployment):
    pidfile = os.path.join(deployment.home, "run", "inventory-enterprise.pid")
    pid_before = open(pidfile).read().strip()
    changed = deployment.play("playbooks/site.yml", extra_vars={"service_redis_ttl_inventory": 600})
    assert changed.rc == 0, changed
    assert changed.changed() > 0
    assert open(pidfile).read().strip() != pid_before
    assert deployment.health().status_code == 200
    restored = deployment.play("playbooks/site.yml")
    assert restored.rc == 0, restored


def test_control_stop_start_and_status(deployment):
    deployment.control("stopped")
    try:
        requests.get(deployment.url + "/health", timeout=2)
        raise AssertionError("service still answers after service_state=stopped")
    except requests.ConnectionError:
        pass
    again = deployment.play("playbooks/service_control.yml", extra_vars={"service_state": "stopped"})
    assert again.changed() == 0
    deployment.control("started")
    assert deployment.health().status_code == 200


def test_systemd_unit_renders_and_systemd_analyze_accepts_it(tmp_path):
    inventory = pb.write_inventory(str(tmp_path / "hosts.yml"), {"local": {"localhost": pb.local_host()}})
    run = pb.run_playbook("tests/system/playbooks/verify_unit.yml", inventory)
    assert run.rc == 0, run
    assert run.failures() == 0


def fixture_free_inventory(tmp_path, **overrides):
    """An inventory with no test fixture in it: the service settings of tests/support minus `overrides` set to None."""
    from tests.support.deployment import service_vars
    variables = service_vars(tmp_path / "home", 18099)
    for name, value in overrides.items():
        if value is None:
            variables.pop(name)
        else:
            variables[name] = value
    return pb.write_inventory(str(tmp_path / "hosts.yml"), {"app_servers": {"app1": pb.local_host(**variables)}})


def test_the_runtime_is_required_not_defaulted_to_the_reference_service(tmp_path):
    run = pb.run_playbook("playbooks/site.yml", fixture_free_inventory(tmp_path, service_runtime=None))
    assert run.rc != 0
    assert "service_runtime" in run.stdout
    assert not (tmp_path / "home").exists()


def test_python_needs_the_wheel_directory_set_not_a_checkout_path(tmp_path):
    run = pb.run_playbook("playbooks/site.yml", fixture_free_inventory(tmp_path, service_python_wheel_dir=None))
    assert run.rc != 0
    assert "service_python_wheel_dir () must be a directory" in run.stdout
    assert not (tmp_path / "home").exists()
