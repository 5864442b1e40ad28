"""A throw-away PostgreSQL (initdb + pg_ctl from the machine's PostgreSQL) that logs every statement with its
duration (log_min_duration_statement=0) through its logging collector into a directory the test reads."""
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile

from .servers import free_port


def pg_bin(name):
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/%s" % name))
    if not found:
        raise RuntimeError("%s not found under /usr/lib/postgresql: tests/setup-system.sh installs PostgreSQL" % name)
    return found[-1]


def _as_owner(cmd):
    # initdb and postgres refuse to run as root: the cluster belongs to the postgres system user then.
    return ["runuser", "-u", "postgres", "--"] + cmd if os.geteuid() == 0 else cmd


@contextlib.contextmanager
def logging_postgres(keep_log):
    """Yield run: run(args) runs a client (psql, pgbench) against the instance as its superuser. When the block
    ends the server stops (flushing its log) and the log is copied to keep_log."""
    workdir = tempfile.mkdtemp(prefix="ie-pglog-")
    data, logs, port = os.path.join(workdir, "data"), os.path.join(workdir, "log"), free_port()
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    subprocess.run(_as_owner([pg_bin("initdb"), "--no-sync", "--auth=trust", "-U", "postgres", "-D", data]),
                   check=True, capture_output=True)
    options = ("-c listen_addresses='' -c unix_socket_directories=%s -p %d -c fsync=off -c logging_collector=on "
               "-c log_directory=%s -c log_filename=postgresql.log -c log_min_duration_statement=0"
               % (workdir, port, logs))
    subprocess.run(_as_owner([pg_bin("pg_ctl"), "-D", data, "-o", options, "-w", "-l",
                              os.path.join(workdir, "startup.log"), "start"]), check=True, capture_output=True)

    def run(cmd, stdin=None):
        return subprocess.run([pg_bin(cmd[0])] + list(cmd[1:]) + ["-h", workdir, "-p", str(port), "-U", "postgres"],
                              input=stdin, text=True, check=True, capture_output=True)
    try:
        yield run
    finally:
        subprocess.run(_as_owner([pg_bin("pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]), check=False,
                       capture_output=True)
        if os.path.exists(os.path.join(logs, "postgresql.log")):
            shutil.copyfile(os.path.join(logs, "postgresql.log"), keep_log)
        shutil.rmtree(workdir, ignore_errors=True)
