"""Tests of the lab itself (tests/lab/lab.py): real sshd hosts in their own namespaces, db1's PostgreSQL and
Redis, mon1's Prometheus, and a `down` that leaves nothing behind.

Run as root: cd <repo> && .venv/bin/python -m pytest tests/lab -q
"""
import os
import signal
import subprocess
import sys
import time
import uuid

import psycopg2
import pytest
import redis
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LAB = os.path.join(HERE, "lab.py")
sys.path.insert(0, HERE)

import lab  # noqa: E402  pylint: disable=wrong-import-position,import-error

APP_SERVERS = 2
DAEMONS = ("sshd", "postgres", "redis-server", "prometheus")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (namespaces, mounts, port 22)")


def lab_cli(*args, check=True, timeout=180):
    result = subprocess.run([sys.executable, LAB] + list(args), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=timeout, check=False)
    if check and result.returncode:
        pytest.fail("lab.py %s failed (exit %d):\n%s" % (" ".join(args), result.returncode, result.stdout))
    return result


def running(names):
    """{pid: comm} of the live (non-zombie) processes called one of names."""
    found = {}
    for name in names:
        result = subprocess.run(["pgrep", "-x", name], stdout=subprocess.PIPE, universal_newlines=True, check=False)
        for pid in map(int, result.stdout.split()):
            if lab.alive(pid):
                found[pid] = name
    return found


def parent(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def lab_daemons(hosts):
    """Live sshd/postgres/redis-server/prometheus processes that belong to the lab, found by what pgrep sees
    of them (their command lines name the lab's state dir, db1's data dir or the lab's addresses), whatever
    namespace they are in. Other tests on the machine may start their own Redis or PostgreSQL meanwhile."""
    patterns = [lab.STATE, "-D /srv/postgresql/", "postgres: .*/srv/postgresql"]
    patterns += ["%s:%d" % (host["address"], port) for host in hosts.values() for port in (6379, 9090)]
    found = {}
    for pattern in patterns:
        result = subprocess.run(["pgrep", "-f", "--", pattern], stdout=subprocess.PIPE, universal_newlines=True,
                                check=False)
        found.update({pid: pattern for pid in map(int, result.stdout.split()) if lab.alive(pid) and comm(pid) in DAEMONS})
    return found


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as handle:
            return handle.read().strip()
    except OSError:
        return None


def mounts_mentioning(*needles):
    """(pid, line) of every mount, in any process's namespace, whose line contains one of needles."""
    hits = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/mounts" % entry) as handle:
                hits += [(int(entry), line.strip()) for line in handle if any(n in line for n in needles)]
        except OSError:
            continue
    return hits


def ssh(host, command, check=True):
    result = subprocess.run(lab.ssh_command(host) + [command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=60, check=False)
    if check and result.returncode:
        pytest.fail("ssh %s %r failed (exit %d): %s" % (host, command, result.returncode, result.stderr))
    return result


def ansible_ping():
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible"), "all", "-i", lab.INVENTORY,
                           "-m", "ansible.builtin.ping"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def lab_hosts():
    subprocess.run(["bash", os.path.join(HERE, "setup.sh")], check=True, stdout=subprocess.DEVNULL)
    lab_cli("down")  # a lab left running (by hand or a crashed run) is not part of the machine's baseline
    before = running(DAEMONS)
    try:
        lab_cli("up", "--app-servers", str(APP_SERVERS))
        hosts = {host["name"]: host for host in lab.read_state()["hosts"]}
        yield {"hosts": hosts, "daemons_before": before}
    finally:
        lab_cli("down", check=False)


def test_inventory_describes_every_host(lab_hosts):
    import yaml  # pylint: disable=import-outside-toplevel
    with open(lab.INVENTORY) as handle:
        inventory = yaml.safe_load(handle)
    groups = inventory["all"]["children"]
    assert sorted(groups) == ["app_servers", "backup_servers", "db_servers", "monitoring", "standby"]
    assert sorted(groups["app_servers"]["hosts"]) == ["app%d" % (i + 1) for i in range(APP_SERVERS)]
    for group in groups.values():
        for name, variables in group["hosts"].items():
            assert variables["ansible_host"] == lab_hosts["hosts"][name]["address"]
            assert variables["ansible_user"] == "root"
            assert variables["ansible_ssh_private_key_file"] == lab.KEY
            assert lab.KNOWN_HOSTS in variables["ansible_ssh_common_args"]
            assert variables["ansible_python_interpreter"] == os.path.join(ROOT, ".venv", "bin", "python") \
                or not os.path.exists(os.path.join(ROOT, ".venv"))


def test_ansible_ping_reaches_every_host_over_ssh(lab_hosts):
    result = ansible_ping()
    assert result.returncode == 0, result.stdout
    for name in lab_hosts["hosts"]:
        assert "%s | SUCCESS" % name in result.stdout, result.stdout


def test_ssh_checks_the_host_keys_the_lab_wrote(lab_hosts, tmp_path):
    wrong = tmp_path / "known_hosts"
    with open(lab.KNOWN_HOSTS) as handle:
        lines = handle.read().splitlines()
    # app1's name and address, with app2's key.
    wrong.write_text("%s %s\n" % (lines[0].split()[0], " ".join(lines[1].split()[1:])))
    cmd = [part.replace(lab.KNOWN_HOSTS, str(wrong)) for part in lab.ssh_command("app1")] + ["true"]
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            timeout=60, check=False)
    assert result.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in result.stderr


def test_every_host_has_its_own_hostname(lab_hosts):
    names = {name: ssh(name, "hostname").stdout.strip() for name in lab_hosts["hosts"]}
    assert names == {name: name for name in lab_hosts["hosts"]}
    assert len(set(names.values())) == len(names)


def test_hosts_answer_on_their_own_address(lab_hosts):
    for name, host in lab_hosts["hosts"].items():
        assert ssh(name, "echo $SSH_CONNECTION").stdout.split()[2] == host["address"]


def test_opt_is_private_to_each_host(lab_hosts):
    marker = "/opt/lab-test-%s" % uuid.uuid4().hex
    ssh("app1", "echo written-on-app1 > %s" % marker)
    try:
        assert ssh("app1", "cat %s" % marker).stdout.strip() == "written-on-app1"
        assert ssh("app2", "test -e %s" % marker, check=False).returncode == 1
        assert not os.path.exists(marker)
        # It landed in app1's disk under the lab state dir.
        assert os.path.exists(os.path.join(lab.host_dir("app1", "root"), marker.lstrip("/")))
    finally:
        ssh("app1", "rm -f %s" % marker, check=False)


@pytest.mark.parametrize("directory", ["/srv", "/var/backups", "/var/log/inventory-enterprise",
                                       "/etc/inventory-enterprise", "/tmp"])
def test_service_directories_are_private(lab_hosts, directory):
    marker = "%s/lab-test-%s" % (directory, uuid.uuid4().hex)
    ssh("app2", "touch %s" % marker)
    try:
        assert ssh("app1", "test -e %s" % marker, check=False).returncode == 1
        assert not os.path.exists(marker)
    finally:
        ssh("app2", "rm -f %s" % marker, check=False)


def test_db1_runs_postgresql_and_redis_on_its_address(lab_hosts):
    address = lab_hosts["hosts"]["db1"]["address"]
    settings = lab.lab_settings()
    dsn = "postgresql://%s:%s@%s:5432/%s" % (settings["lab_postgres_user"], settings["lab_postgres_password"],
                                             address, settings["lab_postgres_db"])
    with psycopg2.connect(dsn, connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute("SELECT inet_server_addr()::text, current_user")
        server_address, user = cur.fetchone()
    conn.close()
    assert server_address.split("/")[0] == address
    assert user == settings["lab_postgres_user"]
    # The cluster's files are in db1's private /srv (owned by postgres), not on the machine's /srv.
    data_directory = ssh("db1", "ls -d /srv/postgresql/*/main").stdout.strip()
    assert ssh("db1", "stat -c %%U %s/PG_VERSION" % data_directory).stdout.strip() == "postgres"
    assert not os.path.exists(data_directory)
    assert ssh("app1", "test -e %s" % data_directory, check=False).returncode == 1
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(dsn.replace(settings["lab_postgres_password"], "wrong-password"), connect_timeout=5)
    client = redis.Redis(host=address, port=6379, socket_timeout=5)
    assert client.ping() is True
    client.close()


def test_mon1_runs_prometheus_scraping_app_servers_and_standby(lab_hosts):
    address = lab_hosts["hosts"]["mon1"]["address"]
    assert requests.get("http://%s:9090/-/ready" % address, timeout=5).status_code == 200
    targets = requests.get("http://%s:9090/api/v1/targets" % address, timeout=5).json()["data"]["activeTargets"]
    scraped = {target["labels"]["host"]: target["scrapeUrl"] for target in targets}
    expected = [name for name, host in lab_hosts["hosts"].items()
                if {"app_servers", "standby"} & set(host["groups"])]
    assert sorted(scraped) == sorted(expected)
    for name in expected:
        assert scraped[name] == "http://%s:8083/metrics" % lab_hosts["hosts"][name]["address"]


def test_status_lists_every_host_and_service(lab_hosts):
    result = lab_cli("status")
    for name, host in lab_hosts["hosts"].items():
        line = next(line for line in result.stdout.splitlines() if line.startswith(name + " "))
        assert host["address"] in line and " up " in line, line
    assert "postgresql %s:5432 up" % lab_hosts["hosts"]["db1"]["address"] in result.stdout
    assert "prometheus %s:9090 up" % lab_hosts["hosts"]["mon1"]["address"] in result.stdout


def test_up_recovers_after_a_host_sshd_is_killed(lab_hosts):
    pid = lab.read_pid(lab.pidfile("app1", "sshd"))
    os.kill(pid, signal.SIGKILL)
    assert lab.wait_gone([pid], 10) == []
    assert lab_cli("status", check=False).returncode == 1
    lab_cli("up", "--app-servers", str(APP_SERVERS))
    assert not lab.alive(pid)
    result = ansible_ping()
    assert result.returncode == 0, result.stdout
    assert lab_cli("status").returncode == 0


def test_down_leaves_nothing_running_or_mounted_and_is_idempotent(lab_hosts):
    lab_pids = set(lab.lab_processes())
    daemons = lab_daemons(lab_hosts["hosts"])
    assert lab_pids and daemons, "the lab should be running before down"
    assert set(daemons) <= lab_pids | {lab.read_pid(lab.REAPER_PIDFILE)}
    lab_cli("down")
    assert lab.lab_processes() == {}
    assert not any(lab.alive(pid) for pid in lab_pids | set(daemons))
    assert lab_daemons(lab_hosts["hosts"]) == {}
    left = {pid: name for pid, name in running(DAEMONS).items()
            if pid not in lab_hosts["daemons_before"] and lab.in_lab(pid)}
    assert left == {}, "processes started by the lab are still running: %s" % left
    # The machine's own PostgreSQL and Redis (their main processes) were left alone.
    assert all(lab.alive(pid) for pid in lab_hosts["daemons_before"] if parent(pid) == 1)
    assert mounts_mentioning(lab.MARK_PREFIX, lab.HOSTS_DIR) == []
    assert not [path for path in os.listdir(os.path.join(lab.STATE, "hosts"))
                if os.listdir(lab.host_dir(path, "run"))]
    started = time.monotonic()
    again = lab_cli("down")
    assert "stopped 0 processes" in again.stdout
    assert time.monotonic() - started < 10
    assert lab_cli("status", check=False).returncode == 1
