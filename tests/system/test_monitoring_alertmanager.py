"""Alert delivery along the guide's escalation path: the monitoring role deploys a real Alertmanager (Debian's,
pidfile-managed, on a free port) with its templated configuration; firing alerts posted to its API reach a local
webhook receiver as the operations team first, then on-call, then the DevOps lead, with the runbook playbook in
every notification; an alert resolved before its escalation time never reaches the later levels."""
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from tests.support import playbook as pb
from tests.support.servers import free_port

ROOT = pb.ROOT
RULES = os.path.join(ROOT, "roles", "monitoring", "files", "alerts.yml")
LEVELS = ("operations", "oncall", "devops-lead")


class Receiver:
    """A webhook receiver: every notification, with the path it came to and when."""

    def __init__(self):
        self.notifications = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802  (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.notifications.append((self.path.strip("/"), time.monotonic(), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self, level):
        """(time, status, alert) of every alert notified to level."""
        with self.lock:
            return [(at, alert["status"], alert) for path, at, body in self.notifications if path == level
                    for alert in body["alerts"]]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def poll(what, probe, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s" % what)


def runbook(alertname):
    with open(RULES) as handle:
        rules = [rule for group in yaml.safe_load(handle)["groups"] for rule in group["rules"]]
    return next(rule["annotations"]["runbook"] for rule in rules if rule["alert"] == alertname)


@pytest.fixture(scope="module")
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory, receiver):
    base = tmp_path_factory.mktemp("alertmanager")
    port = free_port()
    hook = "http://127.0.0.1:%d/" % receiver.port
    extra = {
        "monitoring_process_manager": "pidfile",
        "monitoring_user": "root",
        "monitoring_group": "root",
        "monitoring_config_dir": str(base / "etc"),
        "monitoring_run_dir": str(base / "run"),
        "monitoring_log_dir": str(base / "log"),
        "monitoring_alertmanager_storage_dir": str(base / "data"),
        "monitoring_alertmanager_bind_address": "127.0.0.1",
        "monitoring_alertmanager_port": port,
        "monitoring_startup_wait": 0.5,
        "monitoring_alertmanager_group_wait": "1s",
        "monitoring_alertmanager_group_interval": "1s",
        # Short escalation times, long enough for the test to resolve an alert before the second level.
        "monitoring_alertmanager_escalation": [
            {"name": "operations", "after": "0s", "webhook_url": hook + "operations"},
            {"name": "oncall", "after": "6s", "webhook_url": hook + "oncall"},
            {"name": "devops-lead", "after": "9s", "webhook_url": hook + "devops-lead"},
        ],
    }
    inventory = pb.write_inventory(str(base / "inventory.yml"), {"monitoring": {"mon1": pb.local_host()}})
    first = pb.run_playbook("tests/system/playbooks/monitoring_alertmanager.yml", inventory, extra_vars=extra)
    pidfile = base / "run" / "prometheus-alertmanager.pid"
    try:
        assert first.rc == 0, first.failed_tasks()
        url = "http://127.0.0.1:%d" % port
        poll("Alertmanager ready", lambda: _get(url + "/-/ready") == 200)
        yield {"url": url, "config": str(base / "etc" / "alertmanager.yml")}
    finally:
        _stop(pidfile)


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return None


def _stop(pidfile):
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    poll("Alertmanager %d to stop" % pid, lambda: not alive(pid), timeout=30)


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def post_alerts(url, alerts):
    request = urllib.request.Request(url + "/api/v2/alerts", data=json.dumps(alerts).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def alert(name, host, starts, ends=None):
    """An alert as Prometheus sends it. Alertmanager counts a route's group_wait (the escalation time) from
    startsAt: an alert older than that is notified at once."""
    body = {"labels": {"alertname": name, "host": host, "instance": host + ":8083", "severity": "critical"},
            "annotations": {"summary": "%s on %s" % (name, host), "runbook": runbook(name)},
            "startsAt": starts.isoformat()}
    if ends is not None:
        body["endsAt"] = ends.isoformat()
    return body


def test_every_alert_escalates_along_the_guide_path(alertmanager):
    result = subprocess.run(["amtool", "config", "routes", "test", "--config.file", alertmanager["config"],
                             "alertname=ServiceDown", "host=app1"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [",".join(LEVELS)]


def test_alerts_reach_operations_then_oncall_then_the_lead_unless_resolved(alertmanager, receiver):
    url = alertmanager["url"]
    # ServiceDown keeps firing; BackupFailed is resolved once operations has it, before the on-call level's time.
    started = datetime.now(timezone.utc)
    post_alerts(url, [alert("ServiceDown", "app2", started), alert("BackupFailed", "app1", started)])
    operations = poll("operations to get both alerts", lambda: len({
        a["labels"]["alertname"] for _at, status, a in receiver.alerts("operations") if status == "firing"}) == 2
        and receiver.alerts("operations"))
    post_alerts(url, [alert("BackupFailed", "app1", started, ends=datetime.now(timezone.utc))])
    # Kept posting while it fires, as Prometheus re-sends firing alerts.
    lead = poll("the DevOps lead to get ServiceDown", lambda: post_alerts(url, [alert("ServiceDown", "app2", started)])
                or receiver.alerts("devops-lead"))
    oncall = receiver.alerts("oncall")

    for level in LEVELS:
        for _at, _status, notified in receiver.alerts(level):
            assert notified["annotations"]["runbook"] == runbook(notified["labels"]["alertname"]), level
    assert {a["labels"]["alertname"] for _at, _status, a in oncall} == {"ServiceDown"}
    assert {a["labels"]["alertname"] for _at, _status, a in lead} == {"ServiceDown"}
    assert {status for _at, status, _a in oncall + lead} == {"firing"}
    first = {level: min(at for at, _status, a in receiver.alerts(level) if a["labels"]["alertname"] == "ServiceDown")
             for level in LEVELS}
    assert first["operations"] < first["oncall"] < first["devops-lead"]
    assert operations
    payload = next(body for path, _at, body in receiver.notifications if path == "operations")
    assert payload["receiver"] == "operations"
    assert payload["version"] == "4"
    assert payload["alerts"][0]["annotations"]["runbook"].startswith("playbooks/runbooks/")
