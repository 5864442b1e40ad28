"""The multi-host test lab: real, separate hosts on this one machine (see docs/lab.md).

    lab.py up [--app-servers N]   (re)start the lab and write tests/lab/inventory/hosts.yml
    lab.py down [--purge]         stop everything `up` started; --purge also deletes the hosts' disks
    lab.py status                 each host, its address, up/down and its services
    lab.py ssh HOST               print the ssh command that logs into HOST

Each host is a real sshd on its own loopback address (port 22), started with `unshare --mount --uts`
with its own hostname and its own private /opt, /etc, /srv, /tmp, /run, /var/backups,
/var/log/inventory-enterprise, /var/lib/prometheus and /var/log/prometheus. db1 also runs PostgreSQL and Redis, mon1 Prometheus, inside their
namespaces. Everything lives in build/lab/ of the checkout; only loopback addresses are used.

Process model: `up` forks a small reaper (a child subreaper, build/lab/reaper.pid) that starts every
daemon of the lab and reaps them when they exit, then leaves by itself once `down` has stopped them
all. Every mount of a host carries the mount source `ielab.<lab id>.<host>`, so `down` finds every
process still inside any host of this lab (even of a crashed run or an older topology) from
/proc/*/mountinfo alone, and nothing is ever mounted in the machine's own mount namespace.
Needs root, util-linux, openssh-server, redis-server, PostgreSQL and prometheus: tests/lab/setup.sh (which also
installs node_exporter and Alertmanager for the monitoring role's scenario).
"""
import argparse
import ctypes
import datetime
import glob
import hashlib
import ipaddress
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STATE = os.path.join(ROOT, "build", "lab")
HOSTS_DIR = os.path.join(STATE, "hosts")
KEY = os.path.join(STATE, "id_ed25519")
KNOWN_HOSTS = os.path.join(STATE, "known_hosts")
AUTHORIZED_KEYS = os.path.join(STATE, "authorized_keys")
STATE_FILE = os.path.join(STATE, "state.json")
REAPER_PIDFILE = os.path.join(STATE, "reaper.pid")
TOPOLOGY_FILE = os.path.join(HERE, "topology.yml")
INVENTORY_DIR = os.path.join(ROOT, "tests", "lab", "inventory")
INVENTORY = os.path.join(INVENTORY_DIR, "hosts.yml")
GROUP_VARS = os.path.join(INVENTORY_DIR, "group_vars", "all.yml")
LAB_ID = hashlib.sha1(os.path.realpath(STATE).encode()).hexdigest()[:10]
MARK_PREFIX = "ielab.%s." % LAB_ID

# Bind-mounted from build/lab/hosts/<name>/root/<dir>: the host starts with them empty.
# /var/lib/prometheus and /var/log/prometheus: each host's node_exporter textfiles, Prometheus and Alertmanager
# storage and daemon logs (role monitoring, Debian's paths) are its own.
BIND_DIRS = ["/srv", "/tmp", "/var/backups", "/var/log/inventory-enterprise", "/var/lib/prometheus",
             "/var/log/prometheus"]
# Copy-on-write over the machine's own (overlayfs, upper dir build/lab/hosts/<name>/root/<dir>): the host
# sees the machine's files (users, pip settings, the local package mirror in /opt) and writes privately.
# /etc/inventory-enterprise is private through the /etc overlay.
OVERLAY_DIRS = ["/etc", "/opt"]
SERVICES = ("postgresql", "redis", "prometheus")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CLEAN_ENV = {"PATH": PATH, "LANG": "C.UTF-8", "HOME": "/root"}
SSH_OPTIONS = ["-o", "UserKnownHostsFile=%s" % KNOWN_HOSTS, "-o", "StrictHostKeyChecking=yes",
               "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
PR_SET_CHILD_SUBREAPER = 36


class LabError(Exception):
    pass


def log(message):
    print("lab: %s" % message, flush=True)


# --- topology ---------------------------------------------------------------------------------

def load_topology(app_servers=None):
    """The hosts of the lab, in a stable order: [{name, address, groups, services}]."""
    with open(TOPOLOGY_FILE) as handle:
        topo = yaml.safe_load(handle)
    apps = topo["app_servers"]
    count = apps["default_count"] if app_servers is None else app_servers
    if not 1 <= count <= apps["max_count"]:
        raise LabError("--app-servers must be between 1 and %d" % apps["max_count"])
    first = ipaddress.ip_address(apps["first_address"])
    hosts = [{"name": "app%d" % (i + 1), "address": str(first + i), "groups": [apps["group"]], "services": []}
             for i in range(count)]
    for name, spec in topo["hosts"].items():
        hosts.append({"name": name, "address": spec["address"], "groups": list(spec["groups"]),
                      "services": list(spec.get("services") or [])})
    seen = {}
    for host in hosts:
        address = ipaddress.ip_address(host["address"])
        if address not in ipaddress.ip_network("127.0.0.0/8") or str(address) == "127.0.0.1":
            raise LabError("%s: %s is not a lab address (127.0.0.2-127.255.255.254)" % (host["name"], address))
        if host["address"] in seen:
            raise LabError("%s and %s share the address %s" % (seen[host["address"]], host["name"], address))
        seen[host["address"]] = host["name"]
        for service in host["services"]:
            if service not in SERVICES:
                raise LabError("%s: unknown service %s (known: %s)" % (host["name"], service, ", ".join(SERVICES)))
    return hosts, topo


def read_state():
    try:
        with open(STATE_FILE) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def lab_settings():
    with open(GROUP_VARS) as handle:
        values = yaml.safe_load(handle)
    return {key: str(values[key]) for key in ("lab_postgres_user", "lab_postgres_password", "lab_postgres_db")}


def host_dir(name, *parts):
    return os.path.join(HOSTS_DIR, name, *parts)


def pidfile(name, what):
    return host_dir(name, "run", "%s.pid" % what)


# --- processes ----------------------------------------------------------------------------------

def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def read_pid(path):
    try:
        with open(path) as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def write_pid(path, pid):
    with open(path, "w") as handle:
        handle.write("%d\n" % pid)


def lab_marks(pid):
    """The lab hosts (of this lab) whose mounts are in pid's mount namespace."""
    hosts = set()
    try:
        with open("/proc/%d/mountinfo" % pid) as handle:
            for line in handle:
                fields = line.split(" - ", 1)[1].split()
                if len(fields) > 1 and fields[1].startswith(MARK_PREFIX):
                    hosts.add(fields[1][len(MARK_PREFIX):])
    except (OSError, IndexError):
        pass
    return hosts


def lab_processes():
    """{pid: host} for every live process inside a mount namespace of this lab's hosts."""
    own = os.readlink("/proc/self/ns/mnt")
    namespaces = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                namespaces.setdefault(os.readlink("/proc/%s/ns/mnt" % entry), []).append(int(entry))
            except OSError:
                continue
    found = {}
    for namespace, pids in namespaces.items():
        if namespace == own:
            continue
        marks = set()
        for pid in pids:
            marks = lab_marks(pid)
            if marks or alive(pid):
                break
        if marks:
            host = sorted(marks)[0]
            found.update({pid: host for pid in pids if alive(pid)})
    return found


def in_lab(pid, host=None):
    marks = lab_marks(pid)
    return bool(marks) if host is None else host in marks


def wait_gone(pids, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [pid for pid in pids if alive(pid)]
        if not pids:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def run(cmd, check=True, **kwargs):
    kwargs.setdefault("env", CLEAN_ENV)
    result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, check=False, **kwargs)
    if check and result.returncode:
        raise LabError("%s failed (exit %d):\n%s" % (" ".join(cmd), result.returncode, result.stdout.strip()))
    return result


def as_user(user):
    return ["setpriv", "--reuid=%s" % user, "--regid=%s" % user, "--init-groups", "--"]


def in_host(name):
    """Command prefix that runs inside host name's namespaces (entered through its sshd)."""
    pid = read_pid(pidfile(name, "sshd"))
    if not pid or not in_lab(pid, name):
        raise LabError("%s is not running" % name)
    return ["nsenter", "--target=%d" % pid, "--mount", "--uts", "--wd=/", "--"]


def spawn(name, what, cmd, log_name=None):
    """Start a long-running daemon of host name as a child of the reaper; record its pid."""
    with open(host_dir(name, "log", "%s.log" % (log_name or what)), "ab") as out:
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   env=CLEAN_ENV, cwd="/", start_new_session=True)
    write_pid(pidfile(name, what), process.pid)
    return process


def tail(path, lines=15):
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return ""


def wait_for(what, probe, timeout, process=None, log_path=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.1)
    raise LabError("%s did not come up%s\n%s" % (
        what, "" if process is None or process.poll() is None else " (exit %s)" % process.poll(),
        tail(log_path) if log_path else ""))


# --- probes ---------------------------------------------------------------------------------------

def tcp_banner(address, port, timeout=1.0):
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            return sock.recv(64)
    except OSError:
        return b""


def ssh_ready(address):
    return tcp_banner(address, 22).startswith(b"SSH-2.0-")


def redis_ready(address):
    try:
        with socket.create_connection((address, 6379), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def postgres_ready(address):
    try:
        with socket.create_connection((address, 5432), timeout=1.0):
            return True
    except OSError:
        return False


def prometheus_ready(address):
    try:
        with urllib.request.urlopen("http://%s:9090/-/ready" % address, timeout=1.0) as response:
            return response.status == 200
    except OSError:
        return False


PROBES = {"postgresql": postgres_ready, "redis": redis_ready, "prometheus": prometheus_ready}
PORTS = {"postgresql": 5432, "redis": 6379, "prometheus": 9090}


# --- down -----------------------------------------------------------------------------------------

def postgres_bin(tool):
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/%s" % tool),
                   key=lambda path: int(path.split("/")[4]) if path.split("/")[4].isdigit() else 0)
    if not found:
        raise LabError("PostgreSQL is not installed: run tests/lab/setup.sh")
    return found[-1]


def stop_postgres(data_dir):
    """pg_ctl stop for a data dir whose postmaster runs in a lab host; drop a stale postmaster.pid."""
    pid = read_pid(os.path.join(data_dir, "postmaster.pid"))
    if pid is None:
        return
    if alive(pid) and in_lab(pid):
        run(as_user("postgres") + [postgres_bin("pg_ctl"), "-D", data_dir, "stop", "-m", "fast", "-w", "-t", "30"],
            check=False)
    if not (alive(pid) and in_lab(pid)):
        try:
            os.unlink(os.path.join(data_dir, "postmaster.pid"))
        except FileNotFoundError:
            pass


def down(quiet=False):
    """Stop everything the lab started, whatever state it is in. Returns the number of processes stopped."""
    started = time.monotonic()
    before = lab_processes()
    # Graceful stops first, by the pidfiles of every host ever started in this state dir.
    for data_dir in glob.glob(os.path.join(HOSTS_DIR, "*", "root", "srv", "postgresql", "*", "main")):
        stop_postgres(data_dir)
    terms = []
    for path in glob.glob(os.path.join(HOSTS_DIR, "*", "run", "*.pid")):
        name = path.split(os.sep)[-3]
        pid = read_pid(path)
        if pid and alive(pid) and in_lab(pid, name):
            terms.append(pid)
    signal_all(terms, signal.SIGTERM)
    wait_gone(terms, 10)
    # Then whatever is still inside a host (ssh sessions, leftovers of a crashed run, older topologies).
    left = list(lab_processes())
    if left:
        signal_all(left, signal.SIGTERM)
        left = wait_gone(left, 5)
    for _attempt in range(3):
        left = list(lab_processes())
        if not left:
            break
        signal_all(left, signal.SIGKILL)
        wait_gone(left, 5)
    left = lab_processes()
    if left:
        raise LabError("could not stop lab processes: %s" % sorted(left))
    for path in glob.glob(os.path.join(HOSTS_DIR, "*", "run", "*.pid")):
        os.unlink(path)
    # The reaper leaves by itself once its children are gone; make sure it does.
    reaper = read_pid(REAPER_PIDFILE)
    if reaper and reaper != os.getpid() and alive(reaper) and is_reaper(reaper):
        if wait_gone([reaper], 3):
            os.kill(reaper, signal.SIGTERM)
            wait_gone([reaper], 3)
    if os.path.exists(REAPER_PIDFILE) and reaper != os.getpid():
        os.unlink(REAPER_PIDFILE)
    state = read_state()
    if state is not None:
        state["running"] = False
        write_json(STATE_FILE, state)
    if not quiet:
        log("down: stopped %d processes in %.1fs" % (len(before), time.monotonic() - started))
    return len(before)


def is_reaper(pid):
    try:
        with open("/proc/%d/comm" % pid) as handle:
            return handle.read().strip() == "ielab-reaper"
    except OSError:
        return False


# --- up -------------------------------------------------------------------------------------------

def check_prerequisites(hosts):
    needed = {"/usr/sbin/sshd": "openssh-server", "ssh-keygen": "openssh-client", "unshare": "util-linux",
              "nsenter": "util-linux", "setpriv": "util-linux"}
    services = {service for host in hosts for service in host["services"]}
    if "redis" in services:
        needed["redis-server"] = "redis-server"
    if "prometheus" in services:
        needed["prometheus"] = "prometheus"
    missing = sorted({package for tool, package in needed.items() if not shutil.which(tool, path=PATH)})
    if "postgresql" in services and not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        missing.append("postgresql")
    if missing:
        raise LabError("missing %s: run `bash tests/lab/setup.sh` (as root)" % ", ".join(missing))
    if os.geteuid() != 0:
        raise LabError("the lab needs root (namespaces, mounts, port 22)")


def write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, path)


def ensure_key(path, comment):
    if not (os.path.exists(path) and os.path.exists(path + ".pub")):
        for stale in (path, path + ".pub"):
            if os.path.exists(stale):
                os.unlink(stale)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])
    os.chmod(path, 0o600)
    with open(path + ".pub") as handle:
        return handle.read().strip()


SSHD_CONFIG = """\
# Generated by tests/lab/lab.py for lab host {name}: key-based root login only, loopback only.
ListenAddress {address}:22
HostKey {host_key}
PidFile {pidfile}
AuthorizedKeysFile {authorized_keys}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The checkout's directories are not ours to chmod: do not insist on their modes.
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTunnel no
MaxStartups 50:30:200
MaxSessions 50
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel INFO
"""

# Runs as `sh -c NAMESPACE_SCRIPT lab-host NAME MARK HOST_DIR CHECKOUT` inside the new mount and UTS namespaces.
# CHECKOUT is this checkout's path when it lies under a directory the host gets privately (a clone in /tmp, say):
# the host must still see it where it is (its sshd config, the .venv interpreter Ansible uses), so it is held
# on /run before the private mounts and bound back to its own path after them.
NAMESPACE_SCRIPT = r"""
set -eu
name=$1 mark=$2 hd=$3 checkout=$4
hostname "$name"
mount -t tmpfs -o mode=0755,size=64m "$mark" /run
mkdir -p /run/sshd /run/lock
if [ -n "$checkout" ]; then
  mkdir -p /run/ielab-checkout
  mount --bind "$checkout" /run/ielab-checkout
fi
for dir in {overlay_dirs}; do
  mkdir -p "$hd/root$dir" "$hd/.overlay-work$dir"
  mount -t overlay "$mark" -o "lowerdir=$dir,upperdir=$hd/root$dir,workdir=$hd/.overlay-work$dir" "$dir"
done
for dir in {bind_dirs}; do
  mkdir -p "$hd/root$dir"
  mount --bind "$hd/root$dir" "$dir"
done
chmod 1777 /tmp
if [ -n "$checkout" ]; then
  mkdir -p "$checkout"
  mount --bind /run/ielab-checkout "$checkout"
  umount /run/ielab-checkout
fi
mkdir -p /etc/inventory-enterprise
echo "$name" >/etc/hostname
cat "$hd/etc-hosts" >/etc/hosts
exec /usr/sbin/sshd -D -e -f "$hd/sshd_config"
""".format(overlay_dirs=" ".join(OVERLAY_DIRS), bind_dirs=" ".join(BIND_DIRS))


def prepare_host(host, hosts, authorized):
    name = host["name"]
    for sub in ("ssh", "run", "log", "root"):
        os.makedirs(host_dir(name, sub), exist_ok=True)
    for stale in glob.glob(host_dir(name, "run", "*.pid")):
        os.unlink(stale)
    for path in BIND_DIRS:
        os.makedirs(host_dir(name, "root", path.lstrip("/")), exist_ok=True)
        # The mount point itself must exist on the machine (an empty directory).
        os.makedirs(path, exist_ok=True)
    os.chmod(host_dir(name, "root", "tmp"), 0o1777)
    host_key = host_dir(name, "ssh", "ssh_host_ed25519_key")
    public = ensure_key(host_key, "root@%s" % name)
    with open(host_dir(name, "sshd_config"), "w") as handle:
        handle.write(SSHD_CONFIG.format(name=name, address=host["address"], host_key=host_key,
                                        pidfile=host_dir(name, "run", "sshd-daemon.pid"),
                                        authorized_keys=authorized))
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", "# lab hosts (tests/lab/lab.py)"]
    lines += ["%s\t%s" % (other["address"], other["name"]) for other in hosts]
    with open(host_dir(name, "etc-hosts"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return "%s,%s %s" % (name, host["address"], " ".join(public.split()[:2]))


def shadowed_checkout():
    """ROOT when a host's private directories would hide it, else an empty string."""
    for directory in OVERLAY_DIRS + BIND_DIRS:
        if ROOT == directory or ROOT.startswith(directory.rstrip("/") + "/"):
            return ROOT
    return ""


def start_host(host):
    name = host["name"]
    cmd = ["unshare", "--mount", "--uts", "--propagation", "private", "--",
           "/bin/sh", "-c", NAMESPACE_SCRIPT, "lab-host", name, MARK_PREFIX + name, host_dir(name),
           shadowed_checkout()]
    return spawn(name, "sshd", cmd)


def start_postgres(host, settings):
    name, address = host["name"], host["address"]
    initdb = postgres_bin("initdb")
    version = initdb.split("/")[4]
    data = "/srv/postgresql/%s/main" % version
    enter = in_host(name)
    postgres = pwd.getpwnam("postgres")
    base = host_dir(name, "root", "srv", "postgresql")
    os.makedirs(base, exist_ok=True)
    os.chown(base, postgres.pw_uid, postgres.pw_gid)
    logfile = host_dir(name, "log", "postgresql.log")
    open(logfile, "a").close()
    os.chown(logfile, postgres.pw_uid, postgres.pw_gid)
    run(enter + ["install", "-d", "-o", "postgres", "-g", "postgres", "-m", "2775", "/run/postgresql"])
    host_data = host_dir(name, "root", data.lstrip("/"))
    if not os.path.exists(os.path.join(host_data, "PG_VERSION")):
        run(enter + as_user("postgres") + [initdb, "-D", data, "--auth-local=peer", "--auth-host=scram-sha-256",
                                           "--username=postgres", "--encoding=UTF8", "--locale=C.UTF-8"])
        with open(os.path.join(host_data, "postgresql.conf"), "a") as handle:
            handle.write("\n# The lab's settings (tests/lab/lab.py rewrites lab.conf on every up).\n"
                         "include_if_exists = 'lab.conf'\n")
    with open(os.path.join(host_data, "lab.conf"), "w") as handle:
        handle.write("listen_addresses = '%s'\nport = 5432\nunix_socket_directories = '/run/postgresql'\n"
                     "max_connections = 100\nshared_buffers = 32MB\npassword_encryption = scram-sha-256\n" % address)
    with open(os.path.join(host_data, "pg_hba.conf"), "w") as handle:
        handle.write("# Generated by tests/lab/lab.py.\nlocal all all peer\n"
                     "host all all 127.0.0.0/8 scram-sha-256\n")
    for path in ("lab.conf", "pg_hba.conf"):
        os.chown(os.path.join(host_data, path), postgres.pw_uid, postgres.pw_gid)
    run(enter + as_user("postgres") + [postgres_bin("pg_ctl"), "-D", data, "-l", logfile, "-w", "-t", "60", "start"])
    write_pid(pidfile(name, "postgresql"), read_pid(os.path.join(host_data, "postmaster.pid")))
    psql = enter + as_user("postgres") + [postgres_bin("psql"), "-h", "/run/postgresql", "-p", "5432",
                                          "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qtA"]
    user, password, database = settings["lab_postgres_user"], settings["lab_postgres_password"], settings["lab_postgres_db"]
    literal = "'%s'" % password.replace("'", "''")
    run(psql + ["-c", "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN "
                      "CREATE ROLE \"%s\" LOGIN; END IF; END $$;" % (user, user),
                "-c", "ALTER ROLE \"%s\" LOGIN PASSWORD %s;" % (user, literal)])
    if run(psql + ["-c", "SELECT 1 FROM pg_database WHERE datname = '%s'" % database]).stdout.strip() != "1":
        run(psql + ["-c", "CREATE DATABASE \"%s\" OWNER \"%s\";" % (database, user)])


def start_redis(host):
    name, address = host["name"], host["address"]
    redis = pwd.getpwnam("redis")
    data = host_dir(name, "root", "srv", "redis")
    os.makedirs(data, exist_ok=True)
    os.chown(data, redis.pw_uid, redis.pw_gid)
    process = spawn(name, "redis", in_host(name) + as_user("redis") + [
        shutil.which("redis-server", path=PATH), "--bind", address, "--port", "6379", "--protected-mode", "no",
        "--daemonize", "no", "--dir", "/srv/redis", "--logfile", "", "--save", "3600 1"])
    return process, lambda: redis_ready(address)


def prometheus_config(hosts, topo):
    settings = topo["prometheus"]
    targets = [{"targets": ["%s:%d" % (host["address"], settings["scrape_port"])],
                "labels": {"host": host["name"], "group": group}}
               for group in settings["scrape_groups"] for host in hosts if group in host["groups"]]
    return {
        "global": {"scrape_interval": settings["scrape_interval"], "evaluation_interval": settings["scrape_interval"]},
        "scrape_configs": [
            {"job_name": "inventory-enterprise", "metrics_path": "/metrics", "static_configs": targets},
        ],
    }


def start_prometheus(host, hosts, topo):
    name, address = host["name"], host["address"]
    config = host_dir(name, "prometheus.yml")
    with open(config, "w") as handle:
        handle.write("# Generated by tests/lab/lab.py: the inventory-enterprise service of every app server "
                     "and standby.\n")
        yaml.safe_dump(prometheus_config(hosts, topo), handle, default_flow_style=False, sort_keys=False)
    user = pwd.getpwnam("prometheus")
    data = host_dir(name, "root", "srv", "prometheus")
    os.makedirs(data, exist_ok=True)
    os.chown(data, user.pw_uid, user.pw_gid)
    process = spawn(name, "prometheus", in_host(name) + as_user("prometheus") + [
        shutil.which("prometheus", path=PATH), "--config.file=%s" % config, "--storage.tsdb.path=/srv/prometheus",
        "--storage.tsdb.retention.time=2d", "--web.listen-address=%s:9090" % address])
    return process, lambda: prometheus_ready(address)


def interpreter():
    venv = os.path.join(ROOT, ".venv", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable


def write_inventory(hosts, app_servers):
    ssh_args = " ".join(SSH_OPTIONS[:6])
    groups = []
    for host in hosts:
        for group in host["groups"]:
            if group not in groups:
                groups.append(group)
    out = [
        "# The lab inventory: GENERATED by `tests/lab/lab.py up --app-servers %d` on %s; do not edit." % (
            app_servers, datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
        "# Re-run `lab.py up` to regenerate it (it holds this clone's absolute paths, so it is git-ignored).",
        "# Every host is a real sshd on its own loopback address, in its own mount and UTS namespaces; its",
        "# variables (lab-only secrets, db1's PostgreSQL and Redis) are in group_vars/all.yml. See docs/lab.md.",
        "---",
        "all:",
        "  children:",
    ]
    for group in groups:
        out += ["    %s:" % group, "      hosts:"]
        for host in hosts:
            if group in host["groups"]:
                out += [
                    "        %s:" % host["name"],
                    "          ansible_host: %s" % host["address"],
                    "          ansible_user: root",
                    "          ansible_ssh_private_key_file: %s" % json.dumps(KEY),
                    "          ansible_ssh_common_args: %s" % json.dumps(ssh_args),
                    "          ansible_ssh_host_key_checking: true",
                    "          ansible_python_interpreter: %s" % json.dumps(interpreter()),
                ]
    text = "\n".join(out) + "\n"
    parsed = yaml.safe_load(text)
    assert sorted(parsed["all"]["children"]) == sorted(groups)
    os.makedirs(INVENTORY_DIR, exist_ok=True)
    with open(INVENTORY + ".tmp", "w") as handle:
        handle.write(text)
    os.replace(INVENTORY + ".tmp", INVENTORY)


def start_lab(hosts, topo, app_servers):
    """Runs in the reaper: start every host and its servers, write known_hosts, the inventory and the state."""
    started = time.monotonic()
    settings = lab_settings()
    authorized = ensure_key(KEY, "ielab@%s" % socket.gethostname())
    with open(AUTHORIZED_KEYS, "w") as handle:
        handle.write(authorized + "\n")
    os.chmod(AUTHORIZED_KEYS, 0o600)
    known = [prepare_host(host, hosts, AUTHORIZED_KEYS) for host in hosts]
    with open(KNOWN_HOSTS, "w") as handle:
        handle.write("\n".join(known) + "\n")
    write_json(STATE_FILE, {"app_servers": app_servers, "hosts": hosts, "running": True, "lab_id": LAB_ID,
                            "started_at": time.time()})
    processes = [(host, start_host(host)) for host in hosts]
    for host, process in processes:
        name = host["name"]
        wait_for("sshd of %s (%s:22)" % (name, host["address"]),
                 lambda h=host: ssh_ready(h["address"]), 20, process, host_dir(name, "log", "sshd.log"))
    log("%d hosts answer ssh after %.1fs" % (len(hosts), time.monotonic() - started))
    waits = []
    for host in hosts:
        if "postgresql" in host["services"]:
            start_postgres(host, settings)
        if "redis" in host["services"]:
            waits.append((host, "redis") + start_redis(host))
        if "prometheus" in host["services"]:
            waits.append((host, "prometheus") + start_prometheus(host, hosts, topo))
    for host, what, process, probe in waits:
        wait_for("%s on %s" % (what, host["name"]), probe, 60, process, host_dir(host["name"], "log", "%s.log" % what))
    write_inventory(hosts, app_servers)
    log("up: %d hosts (%d app servers) in %.1fs; inventory: %s" % (
        len(hosts), app_servers, time.monotonic() - started, os.path.relpath(INVENTORY, os.getcwd())))


def become_reaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    with open("/proc/self/comm", "w") as handle:
        handle.write("ielab-reaper")


def reap_forever():
    """Reap the lab's daemons (and orphans of theirs) until none is left, then exit."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            os._exit(0)  # pylint: disable=protected-access
        except InterruptedError:
            continue


def up(app_servers):
    started = time.monotonic()
    hosts, topo = load_topology(app_servers)
    check_prerequisites(hosts)
    os.makedirs(HOSTS_DIR, exist_ok=True)
    stopped = down(quiet=True)
    if stopped:
        log("cleaned up %d processes of an earlier run" % stopped)
    app_count = sum(1 for host in hosts if host["name"].startswith("app") and "app_servers" in host["groups"])
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the reaper
        os.close(read_end)
        status = {"ok": True}
        try:
            os.setsid()
            become_reaper()
            write_pid(REAPER_PIDFILE, os.getpid())
            start_lab(hosts, topo, app_count)
        except Exception as exc:  # pylint: disable=broad-except
            status = {"ok": False, "error": str(exc)}
            try:
                down(quiet=True)
            except Exception as cleanup_error:  # pylint: disable=broad-except
                status["error"] += "\ncleanup failed too: %s" % cleanup_error
        sys.stdout.flush()
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.write(write_end, json.dumps(status).encode())
        os.close(write_end)
        if not status["ok"]:
            os._exit(1)  # pylint: disable=protected-access
        reap_forever()
    os.close(write_end)
    chunks = []
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    try:
        status = json.loads(b"".join(chunks).decode() or "{}")
    except ValueError:
        status = {}
    if not status.get("ok"):
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        raise LabError(status.get("error") or "the lab's reaper died while starting the lab")
    log("up took %.1fs in total" % (time.monotonic() - started))


# --- status and ssh -------------------------------------------------------------------------------

def status():
    state = read_state()
    inside = lab_processes()
    if state is None:
        print("no lab in %s (start one with: lab.py up)" % STATE)
        return 0 if not inside else 1
    print("lab %s: %d hosts, %d app servers, state dir %s" % (
        LAB_ID, len(state["hosts"]), state["app_servers"], STATE))
    print("%-10s %-12s %-5s %-9s %s" % ("HOST", "ADDRESS", "SSH", "PROCESSES", "SERVICES"))
    known = set()
    all_up = True
    for host in state["hosts"]:
        name = host["name"]
        known.add(name)
        pid = read_pid(pidfile(name, "sshd"))
        ssh_up = bool(pid and alive(pid) and in_lab(pid, name) and ssh_ready(host["address"]))
        services = []
        for service in host["services"]:
            ok = PROBES[service](host["address"])
            all_up = all_up and ok
            services.append("%s %s:%d %s" % (service, host["address"], PORTS[service], "up" if ok else "down"))
        all_up = all_up and ssh_up
        count = sum(1 for owner in inside.values() if owner == name)
        print("%-10s %-12s %-5s %-9d %s" % (name, host["address"], "up" if ssh_up else "down", count,
                                            ", ".join(services) or "-"))
    strays = sorted({owner for owner in inside.values() if owner not in known})
    if strays:
        print("processes of hosts not in this topology are still running: %s (run: lab.py down)" % ", ".join(strays))
    if not state.get("running"):
        print("the lab is down")
        return 1
    return 0 if all_up else 1


def ssh_command(name):
    state = read_state()
    hosts = state["hosts"] if state else load_topology()[0]
    for host in hosts:
        if host["name"] == name or host["address"] == name:
            return ["ssh", "-i", KEY] + SSH_OPTIONS[:6] + ["root@%s" % host["address"]]
    raise LabError("no lab host %s (hosts: %s)" % (name, ", ".join(host["name"] for host in hosts)))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lab.py", description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command")
    sub.required = True
    up_parser = sub.add_parser("up", help="(re)start the lab and write tests/lab/inventory/hosts.yml")
    up_parser.add_argument("--app-servers", type=int, default=None, metavar="N",
                           help="number of app servers, app1..appN on 127.0.0.10.. (default: 2)")
    down_parser = sub.add_parser("down", help="stop everything the lab started")
    down_parser.add_argument("--purge", action="store_true",
                             help="also delete build/lab (the hosts' disks, keys) and the inventory")
    sub.add_parser("status", help="each host, its address, up/down and its services")
    ssh_parser = sub.add_parser("ssh", help="print the ssh command that logs into HOST")
    ssh_parser.add_argument("host")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            up(args.app_servers)
        elif args.command == "down":
            if os.geteuid() != 0:
                raise LabError("the lab needs root")
            if os.path.isdir(STATE):
                down()
            else:
                log("down: no lab in %s" % STATE)
            if args.purge:
                shutil.rmtree(STATE, ignore_errors=True)
                if os.path.exists(INVENTORY):
                    os.unlink(INVENTORY)
                log("purged %s and %s" % (STATE, INVENTORY))
        elif args.command == "status":
            return status()
        elif args.command == "ssh":
            print(" ".join(shlex.quote(part) for part in ssh_command(args.host)))
    except LabError as exc:
        print("lab: error: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
