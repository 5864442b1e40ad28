# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""app_process against real processes: start, stop, restart, status, stale pidfiles, pid reuse,
crash on start, check mode, env_file/environment and running as another user.

Run: cd /work/main && PYTHONPATH=build/collections .venv/bin/python -m pytest tests/unit/plugins/modules/test_app_process.py -q
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _process
from ansible_collections.inventory_enterprise.ops.plugins.modules import app_process

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="app_process reads /proc")

SLEEPER = "import time; time.sleep(60)"


def sleeper(marker="sleeper"):
    # The marker makes each test's command line unique, so no test can mistake another's process.
    return [sys.executable, "-c", SLEEPER, marker]


def run(args, capsys, check_mode=False):
    """Run the module's main() with `args`; return (failed, result dict)."""
    return run_module(app_process, args, capsys, check_mode=check_mode)


def alive(pid):
    return _process.is_alive(pid)


@pytest.fixture
def workdir(tmp_path):
    started = []
    yield tmp_path, started
    # Kill anything a test left behind (its pidfile or a helper it registered).
    for pidfile in tmp_path.glob("*.pid"):
        pid, _argv = _process.read_pidfile(str(pidfile))
        if pid and alive(pid):
            started.append(pid)
    for pid in started:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    # Everything the module started in this process is our child: reap it, leave no zombies.
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break


def base_args(tmp_path, marker, **extra):
    args = dict(
        name=marker,
        command=sleeper(marker),
        pidfile=str(tmp_path / ("%s.pid" % marker)),
        log_file=str(tmp_path / ("%s.log" % marker)),
        startup_wait=0.5,
        stop_timeout=5,
    )
    args.update(extra)
    return args


def test_start_is_idempotent_and_stop_kills(workdir, capsys):
    tmp_path, dummy = workdir
    args = base_args(tmp_path, "lifecycle")

    failed, result = run(args, capsys)
    assert not failed, result
    assert result["changed"] is True
    assert result["running"] is True and result["state"] == "started"
    pid = result["pid"]
    assert alive(pid)
    assert _process.read_pidfile(args["pidfile"])[0] == pid
    assert result["rss_bytes"] > 0
    assert result["uptime_seconds"] >= 0
    # Detached: its own session, stdin from /dev/null.
    assert os.getsid(pid) == pid
    assert os.readlink("/proc/%d/fd/0" % pid) == "/dev/null"

    failed, again = run(args, capsys)
    assert not failed
    assert again["changed"] is False
    assert again["pid"] == pid

    failed, status = run(dict(args, state="status"), capsys)
    assert not failed
    assert status["changed"] is False and status["running"] is True and status["pid"] == pid

    failed, stopped = run(dict(args, state="stopped"), capsys)
    assert not failed
    assert stopped["changed"] is True
    assert stopped["stop_signal"] == "SIGTERM"
    assert stopped["running"] is False and stopped["pid"] is None
    assert not alive(pid)
    assert not os.path.exists(args["pidfile"])

    failed, stopped_again = run(dict(args, state="stopped"), capsys)
    assert not failed
    assert stopped_again["changed"] is False


def test_restart_replaces_the_process(workdir, capsys):
    tmp_path, dummy = workdir
    args = base_args(tmp_path, "restart")
    dummy, first = run(args, capsys)
    failed, second = run(dict(args, state="restarted"), capsys)
    assert not failed
    assert second["changed"] is True
    assert second["pid"] != first["pid"]
    assert not alive(first["pid"])
    assert alive(second["pid"])


def test_restart_when_stopped_starts(workdir, capsys):
    tmp_path, dummy = workdir
    args = base_args(tmp_path, "restart-cold", state="restarted")
    failed, result = run(args, capsys)
    assert not failed and result["changed"] is True and alive(result["pid"])


def test_sigkill_after_stop_timeout(workdir, capsys):
    tmp_path, dummy = workdir
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    args = base_args(tmp_path, "stubborn", command=[sys.executable, "-c", stubborn, "stubborn"], stop_timeout=1)
    dummy, started = run(args, capsys)
    failed, stopped = run(dict(args, state="stopped"), capsys)
    assert not failed
    assert stopped["stop_signal"] == "SIGKILL"
    assert not alive(started["pid"])


def test_stale_pidfile_dead_pid(workdir, capsys):
    tmp_path, dummy = workdir
    args = base_args(tmp_path, "stale")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _process.write_pidfile(args["pidfile"], dead.pid)

    failed, status = run(dict(args, state="status"), capsys)
    assert not failed
    assert status["changed"] is False
    assert status["running"] is False and status["stale_pidfile"] is True
    assert "stale pidfile" in status["msg"]
    assert os.path.exists(args["pidfile"]), "status must not touch anything"

    failed, stopped = run(dict(args, state="stopped"), capsys)
    assert not failed
    assert stopped["changed"] is True, "removing a stale pidfile is a change"
    assert not os.path.exists(args["pidfile"])

    _process.write_pidfile(args["pidfile"], dead.pid)
    failed, started = run(args, capsys)
    assert not failed and started["changed"] is True and started["stale_pidfile"] is True
    assert alive(started["pid"]) and started["pid"] != dead.pid


def test_pid_reuse_guard(workdir, capsys):
    """The pidfile names a live process that runs something else (pid reused after a crash or
    reboot): it is not ours, is reported stale, and is never signalled."""
    tmp_path, started = workdir
    foreign = subprocess.Popen([sys.executable, "-c", SLEEPER, "foreign"], start_new_session=True)
    started.append(foreign.pid)
    args = base_args(tmp_path, "reuse")
    _process.write_pidfile(args["pidfile"], foreign.pid)

    failed, status = run(dict(args, state="status"), capsys)
    assert not failed
    assert status["running"] is False and status["stale_pidfile"] is True
    assert "running something else" in status["msg"]

    failed, stopped = run(dict(args, state="stopped"), capsys)
    assert not failed
    assert foreign.poll() is None, "a foreign process must never be killed"

    _process.write_pidfile(args["pidfile"], foreign.pid)
    failed, result = run(args, capsys)
    assert not failed
    assert result["changed"] is True and result["pid"] != foreign.pid
    assert foreign.poll() is None


def test_pid_reuse_guard_uses_recorded_cmdline_without_command(workdir, capsys):
    tmp_path, started = workdir
    args = base_args(tmp_path, "recorded")
    dummy, result = run(args, capsys)
    # Without `command`, stop trusts the argv recorded in the pidfile...
    failed, status = run(dict(pidfile=args["pidfile"], state="status"), capsys)
    assert not failed and status["running"] is True and status["pid"] == result["pid"]
    # ...and a foreign pid with a recorded argv that does not match is not ours.
    foreign = subprocess.Popen([sys.executable, "-c", SLEEPER, "other"], start_new_session=True)
    started.append(foreign.pid)
    _process.write_pidfile(args["pidfile"] + ".2", foreign.pid, args["command"])
    failed, status = run(dict(pidfile=args["pidfile"] + ".2", state="stopped"), capsys)
    assert not failed and status["stale_pidfile"] is True
    assert foreign.poll() is None


def test_crash_on_start_reports_log_tail(workdir, capsys):
    tmp_path, dummy = workdir
    crash = "import sys; print('boot: loading config', flush=True); print('FATAL: JWT_SECRET missing', file=sys.stderr); sys.exit(3)"
    args = base_args(tmp_path, "crash", command=[sys.executable, "-c", crash], startup_wait=2)
    failed, result = run(args, capsys)
    assert failed
    assert "exited with code 3" in result["msg"]
    assert "FATAL: JWT_SECRET missing" in result["msg"]
    assert "boot: loading config" in result["log_tail"]
    assert result["running"] is False
    assert not os.path.exists(args["pidfile"])


def test_missing_program_fails_cleanly(workdir, capsys):
    tmp_path, dummy = workdir
    args = base_args(tmp_path, "missing", command=["/nonexistent/bin/app", "serve"])
    failed, result = run(args, capsys)
    assert failed and "cannot execute /nonexistent/bin/app" in result["msg"]
    assert not os.path.exists(args["pidfile"])


def test_check_mode_predicts_without_acting(workdir, capsys):
    tmp_path, dummy = workdir
    args = base_args(tmp_path, "check")

    failed, predicted = run(args, capsys, check_mode=True)
    assert not failed
    assert predicted["changed"] is True and predicted["running"] is True and predicted["pid"] is None
    assert not os.path.exists(args["pidfile"])

    dummy, started = run(args, capsys)
    pid = started["pid"]
    failed, noop = run(args, capsys, check_mode=True)
    assert not failed and noop["changed"] is False and noop["pid"] == pid

    for state in ("stopped", "restarted"):
        failed, predicted = run(dict(args, state=state), capsys, check_mode=True)
        assert not failed and predicted["changed"] is True
        assert alive(pid), "check mode must not signal"
        assert _process.read_pidfile(args["pidfile"])[0] == pid


def test_env_file_and_environment(workdir, capsys):
    tmp_path, dummy = workdir
    env_file = tmp_path / "app.env"
    env_file.write_text("# comment\n\nPORT=8083\nexport JWT_SECRET='s3cr3t-value-#1 x'\nEMPTY=\nOVERRIDE=file\n")
    code = ("import os, time; print('|'.join(os.environ.get(k, '-') for k in "
            "('PORT', 'JWT_SECRET', 'EMPTY', 'OVERRIDE', 'EXTRA', 'HOME')), flush=True); time.sleep(60)")
    args = base_args(tmp_path, "env", command=[sys.executable, "-c", code, "env"], env_file=str(env_file),
                     environment={"OVERRIDE": "task", "EXTRA": "x"}, chdir=str(tmp_path), startup_wait=1)
    failed, result = run(args, capsys)
    assert not failed, result
    line = (tmp_path / "env.log").read_text().strip().splitlines()[-1]
    assert line == "8083|s3cr3t-value-#1 x||task|x|%s" % pwd.getpwuid(os.getuid()).pw_dir
    assert os.readlink("/proc/%d/cwd" % result["pid"]) == str(tmp_path)
    # The environment option is no_log: its values never appear in the result.
    assert "task" not in json.dumps({k: v for k, v in result.items() if k != "invocation"})
    assert "task" not in json.dumps(result.get("invocation", {}))


@pytest.mark.parametrize("umask, expected", [(None, 0o640), ("0022", 0o644), ("0077", 0o600)])
def test_files_the_process_creates_follow_the_umask(workdir, capsys, umask, expected):
    """By default as private as under the systemd unit (UMask=0027): a database or log it creates is not
    world-readable."""
    tmp_path, dummy = workdir
    created = tmp_path / ("created-%s" % umask)
    code = "import time; open(%r, 'w').close(); time.sleep(60)" % str(created)
    extra = {} if umask is None else {"umask": umask}
    args = base_args(tmp_path, "umask%s" % umask, command=[sys.executable, "-c", code, "umask"], startup_wait=1, **extra)
    failed, result = run(args, capsys)
    assert not failed, result
    assert created.stat().st_mode & 0o777 == expected


def test_bad_umask_fails_before_starting(workdir, capsys):
    tmp_path, dummy = workdir
    failed, result = run(base_args(tmp_path, "badmask", command=sleeper("badmask"), umask="0999"), capsys)
    assert failed and "umask '0999' is not an octal mode" in result["msg"], result
    assert "pid" not in result or not result.get("pid")


def test_log_is_appended(workdir, capsys):
    tmp_path, dummy = workdir
    log = tmp_path / "append.log"
    log.write_text("previous line\n")
    code = "import time; print('new line', flush=True); time.sleep(60)"
    args = base_args(tmp_path, "append", command=[sys.executable, "-c", code, "append"], log_file=str(log), startup_wait=1)
    failed, dummy = run(args, capsys)
    assert not failed
    assert log.read_text().splitlines() == ["previous line", "new line"]


@pytest.mark.skipif(os.geteuid() != 0, reason="switching user needs root")
def test_runs_as_user(workdir, capsys):
    tmp_path, dummy = workdir
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no nobody user")
    python = shutil.which("python3", path="/usr/bin:/bin")
    if not python:
        pytest.skip("no system python3 that nobody can run")
    os.chmod(str(tmp_path), 0o755)
    args = base_args(tmp_path, "user", command=[python, "-c", SLEEPER, "user"], user="nobody")
    failed, result = run(args, capsys)
    assert not failed, result
    with open("/proc/%d/status" % result["pid"]) as handle:
        uids = [line.split()[1:] for line in handle if line.startswith("Uid:")][0]
    assert set(uids) == {str(nobody.pw_uid)}
    assert os.stat(args["log_file"]).st_uid == nobody.pw_uid
    failed, stopped = run(dict(args, state="stopped"), capsys)
    assert not failed and stopped["changed"] is True


def test_shebang_script_is_recognised(workdir, capsys):
    """A console script runs as `python /path/script args`: still ours, idempotent."""
    tmp_path, dummy = workdir
    script = tmp_path / "svc"
    script.write_text("#!%s\nimport sys, time\ntime.sleep(60)\n" % sys.executable)
    script.chmod(0o755)
    args = base_args(tmp_path, "shebang", command=[str(script), "serve"])
    failed, result = run(args, capsys)
    assert not failed
    assert result["cmdline"][-2:] == [str(script), "serve"]
    failed, again = run(args, capsys)
    assert not failed and again["changed"] is False and again["pid"] == result["pid"]


def test_cmdline_matches():
    assert _process.cmdline_matches(["node", "server.js"], ["node", "server.js"])
    assert _process.cmdline_matches(["/opt/v/bin/python", "/opt/v/bin/inventory-service", "serve"],
                                    ["/opt/v/bin/inventory-service", "serve"])
    assert not _process.cmdline_matches(["node", "other.js"], ["node", "server.js"])
    assert not _process.cmdline_matches(["bash"], ["node", "server.js"])
    assert not _process.cmdline_matches([], ["node"])


def test_env_file_is_read_as_the_service_reads_it(workdir, capsys):
    """An unquoted value's trailing comment is not part of the value, for the service and for its process."""
    tmp_path, dummy = workdir
    env_file = tmp_path / "app.env"
    env_file.write_text("PORT=8083  # the API port\nNAME='a #b'\n")
    code = "import os, time; print(os.environ['PORT'] + '|' + os.environ['NAME'], flush=True); time.sleep(60)"
    args = base_args(tmp_path, "envcomment", command=[sys.executable, "-c", code, "envcomment"],
                     env_file=str(env_file), startup_wait=1)
    failed, result = run(args, capsys)
    assert not failed, result
    assert (tmp_path / "envcomment.log").read_text().strip().splitlines()[-1] == "8083|a #b"


BAD_ENV_FILES = {
    "missing": (lambda path: None, "does not exist"),
    "directory": (os.mkdir, "is a directory"),
    "bad line": (lambda path: open(path, "w").write("GOOD=1\nthis line holds hunter2\n"), ":2: expected KEY=VALUE"),
}


@pytest.mark.parametrize("case", sorted(BAD_ENV_FILES))
def test_bad_env_file_fails_before_starting(workdir, capsys, case):
    tmp_path, dummy = workdir
    make, words = BAD_ENV_FILES[case]
    env_file = str(tmp_path / "bad.env")
    make(env_file)
    args = base_args(tmp_path, "badenv", env_file=env_file)
    failed, result = run_module(app_process, args, capsys, keep_raw=True)
    assert failed and result["msg"].startswith("cannot use env_file: %s" % env_file), result["msg"]
    assert words in result["msg"] and "hunter2" not in result["_raw"]
    assert not os.path.exists(args["pidfile"])


def test_start_requires_command(tmp_path, capsys):
    failed, result = run(dict(pidfile=str(tmp_path / "x.pid")), capsys)
    assert failed and "command" in result["msg"]


def test_stop_timeout_wait_is_bounded(workdir, capsys):
    tmp_path, dummy = workdir
    args = base_args(tmp_path, "quick")
    run(args, capsys)
    begin = time.time()
    failed, dummy = run(dict(args, state="stopped"), capsys)
    assert not failed and time.time() - begin < 5
