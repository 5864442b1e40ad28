"""security_audit on the deployed reference service, through a playbook: the files the service role deployed, a
real backup, the service's real listening socket; then the .env opened to every user, which must be found."""
import os
import stat

import pytest

from tests.support.deployment import ADMIN_PASSWORD, JWT_SECRET


@pytest.fixture(scope="module")
def deployment(review_deployment):
    """The reviews' shared deployment (tests/system/conftest.py): a deployment per review would cost 40 s each."""
    return review_deployment


PLAYBOOK = "tests/system/playbooks/security_audit.yml"
SECRET_FINDINGS = {"jwt_secret_missing", "jwt_secret_default", "jwt_secret_short", "admin_password_empty",
                   "admin_password_default", "admin_password_short"}


def _audit(dep, **extra_vars):
    run = dep.play(PLAYBOOK, extra_vars=extra_vars or None)
    assert run.rc == 0, run.failed_tasks()
    assert ADMIN_PASSWORD not in run.stdout and JWT_SECRET not in run.stdout
    return run.task_results("Audit the app server")[dep.host]


def _others_shut_out(path):
    """Whether a directory above `path` lacks o+x, read here without the module."""
    parent = os.path.dirname(path)
    while parent != os.path.dirname(parent):
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return True
        parent = os.path.dirname(parent)
    return False


def test_the_deployment_as_deployed_then_with_a_readable_env(deployment):
    result = _audit(deployment, make_backup=True)
    assert (result["review"], result["changed"], result["unavailable"]) == ("security", False, [])
    figures, port = result["figures"], str(deployment.port)
    assert port in figures["listening_ports"].split(",") and figures["expected_ports"] == "22," + port
    # The shared deployment also holds the capacity review's seeded history: count the archives independently.
    archives = [name for name in os.listdir(os.path.join(deployment.home, "backups"))
                if name.startswith("inventory_backup_") and name.endswith((".tar.zst", ".tar.gz"))]
    assert len(archives) >= 1
    assert (figures["local_backups"], figures["service_admin_accounts"], figures["service_user"]) == (
        len(archives), "admin", "root")
    by_id = dict((f["id"], f) for f in result["findings"])
    # The service's port is expected; the only finding about it is that the tests run the service as root.
    assert [f["id"] for f in result["findings"] if f["subject"] == "tcp/" + port] == ["service_runs_as_root"]
    assert not SECRET_FINDINGS & set(by_id)
    # What the role writes (.env 0600, data/, logs/, backups/ 0750), the database and logs the service creates
    # (the pidfile manager starts it with umask 0027, as the systemd unit does) and the backup module's archive
    # (0600) and records all pass.
    file_findings = [f for f in result["findings"] if f["subject"].startswith(deployment.home)]
    assert file_findings == []

    env_file = os.path.join(deployment.home, ".env")
    mode = stat.S_IMODE(os.stat(env_file).st_mode)
    assert mode == 0o600
    os.chmod(env_file, 0o644)
    try:
        result = _audit(deployment)
    finally:
        os.chmod(env_file, mode)
    found = [f for f in result["findings"] if f["id"] == "env_file_world_readable"]
    assert len(found) == 1 and found[0]["subject"] == env_file and "(mode 0644)" in found[0]["summary"]
    assert found[0]["severity"] == ("low" if _others_shut_out(env_file) else "critical")
