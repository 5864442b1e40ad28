"""A reference service deployed on localhost by playbooks/site.yml, and the inventory that describes it."""
import os

import requests

from tests.support import playbook as pb
from tests.support.servers import free_port

ADMIN_PASSWORD = "system-test-admin-pw"
JWT_SECRET = "system-test-jwt-secret-0123456789"


def service_vars(home, port, **overrides):
    variables = {
        "service_runtime": "python",
        "service_home": str(home),
        "service_port": port,
        "service_manage_user": False,
        "service_user": "root",
        "service_group": "root",
        "service_process_manager": "pidfile",
        "service_python_wheel_dir": pb.WHEEL_DIR,
        "service_jwt_secret": JWT_SECRET,
        "service_admin_username": "admin",
        "service_admin_password": ADMIN_PASSWORD,
    }
    variables.update(overrides)
    return variables


class Deployment:
    """One deployed service on localhost, with the inventory that describes it."""

    def __init__(self, tmp_dir, host="app1", **overrides):
        self.home = os.path.join(str(tmp_dir), "home")
        self.port = free_port()
        self.host = host
        # The procedure metrics go to the test's own textfile directory, never the machine's node_exporter one.
        self.textfile_dir = os.path.join(str(tmp_dir), "textfile")
        os.makedirs(self.textfile_dir, exist_ok=True)
        overrides = dict(dict(backup_metrics_textfile_dir=self.textfile_dir,
                              daily_operations_metrics_textfile_dir=self.textfile_dir), **overrides)
        self.vars = service_vars(self.home, self.port, **overrides)
        self.inventory = pb.write_inventory(
            os.path.join(str(tmp_dir), "hosts.yml"),
            {"app_servers": {host: pb.local_host(**self.vars)}, "standby": {}})

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def play(self, playbook, **kwargs):
        return pb.run_playbook(playbook, self.inventory, **kwargs)

    def control(self, state):
        result = self.play("playbooks/service_control.yml", extra_vars={"service_state": state})
        assert result.rc == 0, result
        return result

    def health(self):
        return requests.get(self.url + "/health", timeout=5)
