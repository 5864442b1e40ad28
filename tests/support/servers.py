"""Real servers for tests: a private redis-server per test session and scratch PostgreSQL databases.

Tests never share the machine's Redis on 6379: each gets its own instance on a free loopback
port, so a test can stop it to prove how the code behaves when Redis is down.
"""
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid


def free_port(host="127.0.0.1"):
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for_port(host, port, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            with socket.create_connection((host, port), timeout=0.5):
                return True
        time.sleep(0.05)
    raise TimeoutError("nothing listening on %s:%s after %ss" % (host, port, timeout))


def _die_with_parent():
    """In the child before exec: SIGTERM when the test process dies. ansible-test runs unit tests in forked
    processes that end with os._exit, so fixture teardown never runs there; without this every such process
    would leave its redis-server behind."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG, Linux only
    except (AttributeError, OSError):
        pass


class RedisServer:
    """A throw-away redis-server bound to 127.0.0.1 on a free port, persisting nothing."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.proc = None
        self.workdir = tempfile.mkdtemp(prefix="ie-redis-")

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def start(self):
        binary = shutil.which("redis-server")
        if not binary:
            raise RuntimeError("redis-server is not installed: run `make deps` (tests/setup-system.sh)")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.workdir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        wait_for_port("127.0.0.1", self.port)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def postgres_admin_dsn():
    """DSN of the PostgreSQL server the tests use (tests/setup-system.sh makes sure it runs)."""
    return os.environ.get("IE_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=ie_test password=ie_test dbname=postgres")


@contextlib.contextmanager
def scratch_postgres_database(prefix="ie_test"):
    """Create a uniquely named database, yield its DSN, drop it afterwards."""
    import psycopg2  # pylint: disable=import-outside-toplevel

    name = "%s_%s" % (prefix, uuid.uuid4().hex[:10])
    admin = psycopg2.connect(postgres_admin_dsn())
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute('CREATE DATABASE "%s"' % name)
        base = postgres_admin_dsn().replace("dbname=postgres", "")
        yield "%s dbname=%s" % (base.strip(), name)
    finally:
        with admin.cursor() as cur:
            cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        admin.close()
