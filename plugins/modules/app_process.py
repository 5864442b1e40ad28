#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: app_process
short_description: Start, stop, restart and report a long-running process tracked by a pidfile
version_added: 0.1.0
description:
  - Process manager for hosts without systemd (containers, minimal VMs). It runs a long-lived
    command detached in its own session, records its pid in a pidfile and reports on it.
  - A process counts as running only when the pid in the pidfile exists, is not a zombie, and its
    C(/proc/<pid>/cmdline) matches O(command) (or the command line recorded in the pidfile when
    it was started). This guards against pid reuse after a crash or a reboot.
  - A pidfile that names a dead or foreign process is stale. O(state=status) reports it;
    O(state=started), O(state=stopped) and O(state=restarted) remove it.
  - Linux only (reads C(/proc)).
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
attributes:
  check_mode:
    support: full
    details: Predicts whether a start, stop or restart would happen without acting.
  diff_mode:
    support: none
    details: Nothing to compare; RV(pid) and RV(state) tell what changed.
  platform:
    support: full
    platforms: posix
    description: Needs C(/proc) (Linux).
options:
  name:
    description:
      - Human readable name of the process, used in messages.
      - Defaults to the pidfile name without its extension.
    type: str
  command:
    description:
      - Program and arguments, executed directly (no shell).
      - The program is looked up in the C(PATH) of the environment given to the process.
      - Required for O(state=started) and O(state=restarted). Recommended for the other states,
        so the pid-reuse guard compares the live process with it.
    type: list
    elements: str
  chdir:
    description: Working directory of the process.
    type: path
  pidfile:
    description:
      - File holding the pid (first line) and the command line recorded at start (second line, JSON).
      - Written atomically (temporary file and rename). Its directory is created when missing.
    type: path
    required: true
  env_file:
    description:
      - File of C(KEY=VALUE) lines loaded into the environment of the process, read as the service reads
        its C(.env) (the collection has one reader for it).
      - Blank lines and C(#) comments are ignored, an C(export) prefix and one level of matching
        quotes are removed, and so is a trailing comment (a space, then C(#)) after an unquoted value.
      - A file that does not exist or cannot be read, or a bad line (reported by file and line number), fails
        the task before anything is started. Values are never echoed in messages.
    type: path
  environment:
    description:
      - Extra environment variables; they win over O(env_file).
      - The process otherwise gets a minimal environment (C(PATH), locale and C(TZ) from the module's
        environment, C(HOME), C(USER) and C(LOGNAME) of O(user)).
    type: dict
    default: {}
  user:
    description:
      - Run the process as this user (needs root unless it is the current user).
      - The primary group of the user and its supplementary groups are used unless O(group) is set.
    type: str
  group:
    description: Run the process with this primary group (needs root).
    type: str
  log_file:
    description:
      - File that receives stdout and stderr of the process (appended). Created with mode 0640 and
        owned by O(user) when missing.
      - Its last lines are included in the failure message when the process dies during O(startup_wait).
      - Without it the output is discarded.
    type: path
  state:
    description:
      - V(started) starts the process unless it is running.
      - V(stopped) sends SIGTERM to the process group, waits O(stop_timeout) seconds, then SIGKILL.
      - V(restarted) stops it when running, then starts it. Always reports a change.
      - V(status) only reports; it never changes anything.
    type: str
    choices: [started, stopped, restarted, status]
    default: started
  umask:
    description:
      - File mode creation mask of the process, as an octal string, so the files it creates (database, logs) are
        as private as under the service's systemd unit (C(UMask=0027)) rather than world-readable under the
        default C(0022).
    type: str
    default: "0027"
    version_added: 1.7.0
  stop_timeout:
    description: Seconds to wait after SIGTERM before sending SIGKILL.
    type: int
    default: 30
  startup_wait:
    description:
      - Seconds the new process must stay alive before the start counts as successful.
      - When it exits earlier the module fails with the exit code and the tail of O(log_file).
    type: float
    default: 2
notes:
  - Processes started this way do not survive a reboot; re-run the play (or use systemd where available).
  - The process is started with C(start_new_session), stdin from C(/dev/null) and all other file descriptors closed.
seealso:
  - module: ansible.builtin.systemd_service
"""

EXAMPLES = r"""
- name: Start the service from its home directory
  inventory_enterprise.ops.app_process:
    name: inventory-enterprise
    command: [node, server.js]
    chdir: /opt/inventory-enterprise/app
    env_file: /opt/inventory-enterprise/.env
    user: inventory
    pidfile: /opt/inventory-enterprise/run/inventory-enterprise.pid
    log_file: /opt/inventory-enterprise/logs/inventory-enterprise.out
    startup_wait: 3

- name: Report whether it runs
  inventory_enterprise.ops.app_process:
    pidfile: /opt/inventory-enterprise/run/inventory-enterprise.pid
    command: [node, server.js]
    state: status
  register: app

- name: Stop it (SIGTERM, SIGKILL after 20 seconds)
  inventory_enterprise.ops.app_process:
    pidfile: /opt/inventory-enterprise/run/inventory-enterprise.pid
    command: [node, server.js]
    state: stopped
    stop_timeout: 20
"""

RETURN = r"""
pid: {description: 'Pid of the running process, null when it is not running.', returned: always, type: int, sample: 4242}
running: {description: Whether the process runs after the module (predicted in check mode)., returned: always, type: bool, sample: true}
state:
  description: Observed state after the module, V(started) or V(stopped) (predicted in check mode).
  returned: always
  type: str
  sample: started
rss_bytes: {description: 'Resident memory of the process, null when it is not running.', returned: always, type: int, sample: 52428800}
uptime_seconds: {description: 'Seconds since the process started, null when it is not running.', returned: always, type: int, sample: 3600}
stale_pidfile: {description: The pidfile named a dead process or a process running something else., returned: always, type: bool, sample: false}
stop_signal:
  description: Signal that ended the process when the module stopped it.
  returned: when the module stopped a process
  type: str
  sample: SIGTERM
cmdline: {description: Command line of the running process., returned: always, type: list, elements: str, sample: [node, server.js]}
log_tail: {description: Last lines of O(log_file) when the process died during O(startup_wait)., returned: on start failure, type: str}
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _envfile, _process

try:
    import grp
    import pwd
except ImportError:  # pragma: no cover - not Linux
    grp = pwd = None

_INHERITED = ("PATH", "LANG", "LANGUAGE", "TZ")


class _Identity(object):
    """Who the process runs as, and how to become them in the child."""

    def __init__(self, module, user, group):
        self.uid = os.getuid()
        self.gid = os.getgid()
        self.name = None
        self.home = None
        self.switch = False
        self.groups = None
        if user:
            try:
                entry = pwd.getpwnam(user)
            except KeyError:
                module.fail_json(msg="user %s does not exist" % user)
            self.uid, self.gid, self.name, self.home = entry.pw_uid, entry.pw_gid, entry.pw_name, entry.pw_dir
        else:
            try:
                entry = pwd.getpwuid(self.uid)
                self.name, self.home = entry.pw_name, entry.pw_dir
            except KeyError:
                pass
        if group:
            try:
                self.gid = grp.getgrnam(group).gr_gid
            except KeyError:
                module.fail_json(msg="group %s does not exist" % group)
        self.switch = self.uid != os.getuid() or self.gid != os.getgid()
        if self.switch and os.geteuid() != 0:
            module.fail_json(msg="running as user %s / group %s needs root" % (user or self.uid, group or self.gid))

    def demote(self):
        """preexec_fn: drop to the target identity in the child, before exec."""
        if not self.switch:
            return
        if self.name:
            os.initgroups(self.name, self.gid)
        else:
            os.setgroups([self.gid])
        os.setgid(self.gid)
        os.setuid(self.uid)


def parse_umask(module):
    value = module.params["umask"]
    try:
        mask = int(value, 8)
    except ValueError:
        mask = -1
    if not 0 <= mask <= 0o777:
        module.fail_json(msg="umask %r is not an octal mode between 0000 and 0777 (for example \"0027\")" % value)
    return mask


def _environment(module, identity):
    env = {}
    for key, value in os.environ.items():
        if key in _INHERITED or key.startswith("LC_"):
            env[key] = value
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    if identity.name:
        env["USER"] = env["LOGNAME"] = identity.name
    if identity.home:
        env["HOME"] = identity.home
    env_file = module.params["env_file"]
    if env_file:
        try:
            env.update(_envfile.read_env_file(env_file))
        except _envfile.EnvFileError as exc:
            module.fail_json(msg="cannot use env_file: %s. The process was not started." % to_native(exc))
    for key, value in (module.params["environment"] or {}).items():
        env[str(key)] = "" if value is None else str(value)
    return env


def _open_log(module, path, identity):
    if not path:
        return open(os.devnull, "wb")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        module.fail_json(msg="directory of log_file %s does not exist" % path)
    existed = os.path.exists(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        if not existed and identity.switch:
            os.fchown(fd, identity.uid, identity.gid)
    except OSError as exc:
        module.fail_json(msg="cannot open log_file %s: %s" % (path, to_native(exc)))
    return os.fdopen(fd, "ab")


def _start(module, name, command, identity):
    params = module.params
    pidfile = params["pidfile"]
    chdir = params["chdir"]
    if chdir and not os.path.isdir(chdir):
        module.fail_json(msg="chdir %s does not exist" % chdir)
    env = _environment(module, identity)
    pid_dir = os.path.dirname(os.path.abspath(pidfile))
    if not os.path.isdir(pid_dir):
        os.makedirs(pid_dir, 0o755)
    log = _open_log(module, params["log_file"], identity)
    try:
        proc = _process.spawn(command, chdir, env, log, identity.demote, umask=parse_umask(module))
    except _process.ProcessError as exc:
        module.fail_json(msg="%s: cannot execute %s: %s" % (name, command[0], to_native(exc)))
    finally:
        log.close()
    _process.write_pidfile(pidfile, proc.pid, command)

    deadline = time.time() + max(0.0, params["startup_wait"])
    while True:
        code = proc.poll()
        if code is not None:
            _process.remove_pidfile(pidfile)
            log_tail = _process.tail(params["log_file"])
            where = ("last lines of %s:\n%s" % (params["log_file"], log_tail)) if params["log_file"] else "no log_file set"
            module.fail_json(msg="%s exited with code %s within %ss of starting; %s" % (name, code, params["startup_wait"], where),
                             pid=None, running=False, state="stopped", rss_bytes=None, uptime_seconds=None,
                             stale_pidfile=False, cmdline=None, log_tail=log_tail, rc=code)
        if time.time() >= deadline:
            break
        time.sleep(0.1)

    # Record what really runs (a shebang script shows as `interpreter script ...`): the pid-reuse
    # guard matches against this as well as against `command`.
    cmdline = _process.read_cmdline(proc.pid) or list(command)
    _process.write_pidfile(pidfile, proc.pid, cmdline)
    # The child now belongs to init once this module exits; forget it without a ResourceWarning.
    proc.returncode = 0
    return proc.pid, cmdline


def _result(pid, cmdline, stale, **extra):
    running = pid is not None
    result = dict(pid=pid, running=running, state="started" if running else "stopped",
                  stale_pidfile=stale, cmdline=cmdline if running else None, rss_bytes=None, uptime_seconds=None)
    if running:
        result.update(_process.process_info(pid))
    result.update(extra)
    return result


# What app_process reports as stop_signal for each outcome of _process.stop (a process that ended by itself
# between the check and the stop counts as stopped by the SIGTERM, as before).
STOP_SIGNALS = {"gone": "SIGTERM", "terminated": "SIGTERM", "killed": "SIGKILL"}


def _stop(module, name, pid, timeout):
    """Stop the running process; returns the signal that ended it, fails the module when it cannot."""
    try:
        return STOP_SIGNALS[_process.stop(pid, timeout)]
    except (_process.ProcessError, OSError) as exc:
        module.fail_json(msg="%s: cannot stop pid %s: %s" % (name, pid, to_native(exc)))


def create_module():
    return AnsibleModule(
        argument_spec=dict(
            name=dict(type="str"),
            command=dict(type="list", elements="str"),
            chdir=dict(type="path"),
            pidfile=dict(type="path", required=True),
            env_file=dict(type="path"),
            environment=dict(type="dict", default={}, no_log=True),
            user=dict(type="str"),
            group=dict(type="str"),
            log_file=dict(type="path"),
            state=dict(type="str", default="started", choices=["started", "stopped", "restarted", "status"]),
            umask=dict(type="str", default="0027"),
            stop_timeout=dict(type="int", default=30),
            startup_wait=dict(type="float", default=2),
        ),
        required_if=[("state", "started", ["command"]), ("state", "restarted", ["command"])],
        supports_check_mode=True,
    )


def main():
    module = create_module()
    if pwd is None or not os.path.isdir(_process.PROC):
        module.fail_json(msg="app_process needs Linux with /proc")

    params = module.params
    pidfile = params["pidfile"]
    state = params["state"]
    command = params["command"] or None
    name = params["name"] or os.path.splitext(os.path.basename(pidfile))[0]
    if command is not None and not command[0]:
        module.fail_json(msg="command must not start with an empty program name")

    current = _process.inspect(pidfile, command)
    stale = current["stale"]
    running = current["running"]
    msgs = []
    if stale:
        msgs.append("stale pidfile %s (pid %s is %s)" % (
            pidfile, current["recorded_pid"], "running something else" if current["cmdline"] else "gone"))

    if state == "status":
        msgs.append("%s is %s" % (name, "running" if running else "not running"))
        module.exit_json(changed=False, msg="; ".join(msgs), **_result(current["pid"], current["cmdline"], stale))

    if state == "started" and running:
        module.exit_json(changed=False, msg="%s is running" % name, **_result(current["pid"], current["cmdline"], stale))

    if state == "stopped" and not running:
        if stale and not module.check_mode:
            _process.remove_pidfile(pidfile)
        msgs.append("%s is not running" % name)
        module.exit_json(changed=stale, msg="; ".join(msgs), **_result(None, None, stale))

    # From here on something changes: a stop, a start, or both.
    if module.check_mode:
        will_run = state != "stopped"
        msgs.append("would %s %s" % ({"started": "start", "stopped": "stop", "restarted": "restart"}[state], name))
        result = _result(current["pid"] if running else None, current["cmdline"], stale)
        result.update(running=will_run, state="started" if will_run else "stopped")
        if not will_run or state == "restarted":
            result.update(pid=None, rss_bytes=None, uptime_seconds=None, cmdline=None)
        module.exit_json(changed=True, msg="; ".join(msgs), **result)

    # Resolved only now: in check mode the user may not exist yet (created by the same play).
    identity = _Identity(module, params["user"], params["group"]) if state != "stopped" else None
    extra = {}
    if running:
        extra["stop_signal"] = _stop(module, name, current["pid"], params["stop_timeout"])
        msgs.append("stopped %s (pid %s, %s)" % (name, current["pid"], extra["stop_signal"]))
    _process.remove_pidfile(pidfile)

    if state == "stopped":
        module.exit_json(changed=True, msg="; ".join(msgs), **_result(None, None, stale, **extra))

    pid, cmdline = _start(module, name, command, identity)
    msgs.append("started %s (pid %s)" % (name, pid))
    module.exit_json(changed=True, msg="; ".join(msgs), **_result(pid, cmdline, stale, **extra))


if __name__ == "__main__":
    main()
