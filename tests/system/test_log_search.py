"""log_search on the deployed reference service's real logs: a failed login, requests, a backup that succeeds and
one that fails are made over HTTP and found through ansible; playbooks/logs_search.yml gives per-host and fleet
summaries. The expected counts come from the test's own reading of the log files, not from the module."""
import datetime
import os
import re
import time

import requests

from tests.support.deployment import ADMIN_PASSWORD


def _login(dep, password):
    return requests.post(dep.url + "/api/auth/login", json={"username": "admin", "password": password}, timeout=30)


def _wait_for_line(path, pattern, timeout=60.0):
    """A request's line is written after its response is sent: poll the file for it."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        with open(path) as handle:
            text = handle.read()
        if re.search(pattern, text, re.M):
            return text
        time.sleep(0.05)
    raise AssertionError("no line matching %r in %s:\n%s" % (pattern, path, text[-3000:]))


def _make_traffic(dep):
    assert _login(dep, "not-the-password").status_code == 401
    headers = {"Authorization": "Bearer " + _login(dep, ADMIN_PASSWORD).json()["token"]}
    for limit in (1, 1000, 1000, 500):
        assert requests.get(dep.url + "/api/inventory/items?limit=%d" % limit, timeout=30).status_code == 200
    create = dep.url + "/api/backup/create"
    assert requests.post(create, headers=headers, json={"database_only": True}, timeout=300).status_code == 201
    backups = os.path.join(dep.home, "backups")
    os.rename(backups, backups + ".moved")
    try:
        with open(backups, "w") as handle:  # a file where the directory should be: the next backup fails
            handle.write("not a directory\n")
        assert requests.post(create, headers=headers, json={"database_only": True}, timeout=300).status_code == 500
    finally:
        os.unlink(backups)
        os.rename(backups + ".moved", backups)


def test_searches_find_what_the_service_logged(deployment):
    dep = deployment
    _make_traffic(dep)
    logs = os.path.join(dep.home, "logs")
    today = datetime.date.today().isoformat()
    text = _wait_for_line(os.path.join(logs, "application-%s.log" % today),
                          r" ERROR POST /api/backup/create 500 duration=\d+ms user_id: admin$")
    durations = [int(d) for d in re.findall(r"^\S+Z \w+ [A-Z]+ \S+ \d{3} duration=(\d+)ms", text, re.M)]
    threshold = sorted(durations)[-2]
    with open(os.path.join(logs, "security-%s.log" % today)) as handle:
        security = handle.read()

    run = dep.play("tests/system/playbooks/log_search.yml",
                   extra_vars={"threshold": threshold, "service_home": dep.home, "logs_query": "backup_failed"})
    assert run.rc == 0, run
    found = {r["item"]["query"]: r for r in run.task_results("Search")[dep.host]["results"]}
    assert all(r["changed"] is False and r["unparseable"] == 0 and r["log_dir"] == logs for r in found.values())

    errors = {m["message"]: m["count"] for m in found["errors"]["messages"]}
    assert errors["POST /api/backup/create <n> duration=<n>ms user_id: admin"] == 1
    assert [m for m in errors if m.startswith("backup failed user_id: admin error: ")], errors
    assert found["errors"]["matched"] == len(re.findall(r"^\S+Z ERROR ", text, re.M))

    auth = {m["message"]: m["count"] for m in found["auth"]["messages"]}
    assert auth["auth login failed username=admin ip=<ip>"] == security.count(" auth login failed username=admin ")
    assert auth["auth login success username=admin ip=<ip>"] == security.count(" auth login success username=admin ")

    assert found["user"]["matched"] >= 4  # two backup requests, the backup completed and the backup failed
    assert {f["log_class"] for f in found["user"]["files"]} >= {"application", "security"}

    slow = found["slow"]
    assert slow["matched"] == sum(1 for d in durations if d >= threshold) >= 2
    assert slow["slowest"][0]["duration_ms"] == max(durations)

    assert found["backup_failed"]["matched"] == 1
    assert found["backup_failed"]["first"][0]["level"] == "ERROR"
    checked = run.task_results("Search in check mode")[dep.host]
    assert checked["matched"] == found["errors"]["matched"] and checked["changed"] is False

    host = run.task_results("Show this host's top messages and latest matches")[dep.host]["msg"]
    assert host[0].startswith("backup_failed today: 1 matches in ")
    summary = run.task_results("Show the fleet summary")[dep.host]["msg"]
    assert summary.startswith("backup_failed (today): 1 matches on 1 of 1 hosts,"), summary
    assert "'%s': 1" % dep.host in summary
