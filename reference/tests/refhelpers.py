"""Helpers shared by the reference service tests (imported by conftest.py and the test modules)."""
import sys
import threading
import time
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[1]
REPO = REFERENCE.parent
for entry in (str(REPO), str(REFERENCE)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import uvicorn  # noqa: E402

import tests.support.servers as servers  # noqa: E402
from inventory_service import db  # noqa: E402
from inventory_service.app import create_app  # noqa: E402
from inventory_service.config import load_settings  # noqa: E402

SECRET = "test-secret-0123456789-abcdefghij"
PASSWORD = "s3cret-pass"


def write_env(home, **values):
    base = {"JWT_SECRET": SECRET, "ADMIN_PASSWORD": PASSWORD}
    base.update(values)
    home.mkdir(parents=True, exist_ok=True)
    path = home / ".env"
    path.write_text("".join("%s=%s\n" % item for item in base.items()))
    return path


def make_settings(home, **values):
    return load_settings(write_env(home, **values), environ={})


def add_items(settings, *codes):
    db.init_db(settings.database_path)
    with db.connection(settings.database_path) as conn:
        conn.executemany("INSERT INTO item_master (item_code, name, category, unit, par_level) VALUES (?,?,?,?,?)",
                         [(code, "Item " + code, "test", "ea", 10) for code in codes])


class LiveServer:
    """The app served by a real uvicorn on a free port, in a thread of the test process."""

    def __init__(self, settings):
        self.settings = settings
        self.app = create_app(settings)
        self.port = servers.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def service(self):
        return self.app.state.service

    def start(self):
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=15)


def wait_for_log(path, pattern, timeout=10.0):
    """The text of a log file once `pattern` (a regex, multiline) is in it: a request's line is written after its
    response is sent, so a test reading the file right after the response must wait for it."""
    import re
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if re.search(pattern, text, re.M):
            return text
        time.sleep(0.02)
    raise AssertionError("%s has no line matching %r after %ss:\n%s" % (path, pattern, timeout, text[-2000:]))
