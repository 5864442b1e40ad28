"""Morning checks of one host: health_check (playbooks/daily.yml) against the same checks written with
built-in modules (bench/playbooks/morning_builtin.yml), in the same run, against one deployed service."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import ROOT, compare  # noqa: E402
from tests.support import playbook as pb  # noqa: E402
from tests.support.servers import RedisServer, free_port  # noqa: E402


def main(repeats=7):
    workdir = os.path.join(ROOT, "build", "bench", "morning")
    os.makedirs(workdir, exist_ok=True)
    redis = RedisServer().start()
    home = os.path.join(workdir, "home")
    variables = {
        "service_runtime": "python", "service_home": home, "service_port": free_port(),
        "service_manage_user": False, "service_user": "root", "service_group": "root",
        "service_process_manager": "pidfile", "service_python_wheel_dir": pb.WHEEL_DIR,
        "service_jwt_secret": "bench-jwt-secret-0123456789abcdef", "service_admin_password": "bench-admin-password",
        "service_redis_url": redis.url,
    }
    inventory = pb.write_inventory(os.path.join(workdir, "hosts.yml"),
                                   {"app_servers": {"app1": pb.local_host(**variables)}, "standby": {}})
    deployed = pb.run_playbook("playbooks/site.yml", inventory)
    if deployed.rc != 0:
        raise SystemExit("deploy failed:\n%r" % deployed)
    # Both variants check the age of the newest backup: give them one.
    backup = os.path.join(home, "backups", "inventory_backup_%s.tar.zst" % time.strftime("%Y-%m-%dT%H-%M-%S"))
    open(backup, "wb").close()
    playbook = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")
    env = pb.ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    try:
        return compare(
            "morning checks, one host",
            {"health_check (daily.yml)": [playbook, "-i", inventory, "playbooks/daily.yml", "--tags", "daily_operations_morning"],
             "built-in modules": [playbook, "-i", inventory, "bench/playbooks/morning_builtin.yml"]},
            repeats=repeats, baseline="built-in modules", env=env,
            notes="local connection, wall time of the whole ansible-playbook run")
    finally:
        pb.run_playbook("playbooks/service_control.yml", inventory, extra_vars={"service_state": "stopped"})
        redis.close()


if __name__ == "__main__":
    main()
