# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Process helpers for Linux (/proc): pidfiles, liveness, identity, open files, start and stop.

A pid is only trusted when /proc/<pid>/cmdline still matches the command that was started,
so a pidfile left behind by a crash or a reboot never makes an unrelated process look like ours.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os
import signal
import subprocess
import tempfile
import time

PROC = "/proc"


class ProcessError(Exception):
    """A process operation failed; the message says what and where."""


# ---------------------------------------------------------------------------------------------
# Pidfiles
# ---------------------------------------------------------------------------------------------

def read_pidfile(path):
    """Return (pid, recorded_argv) from `path`.

    Line 1 is the pid (what other tools expect), optional line 2 the JSON argv recorded at start.
    pid is None when the file is missing, empty or garbage; recorded_argv None when absent.
    """
    try:
        with open(path, "r") as handle:
            lines = handle.read().splitlines()
    except IOError as exc:
        if exc.errno == errno.ENOENT:
            return None, None
        raise
    first = lines[0].strip() if lines else ""
    if not first.isdigit() or int(first) <= 0:
        return None, None
    recorded = None
    if len(lines) > 1 and lines[1].strip():
        try:
            recorded = json.loads(lines[1])
        except ValueError:
            recorded = None
        if not isinstance(recorded, list):
            recorded = None
    return int(first), recorded


def write_pidfile(path, pid, argv=None, mode=0o644):
    """Write `pid` (and the argv it runs) to `path` atomically: temp file in the same directory,
    fsync, rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write("%d\n" % pid)
            if argv:
                handle.write(json.dumps(list(argv)) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_pidfile(path):
    try:
        os.unlink(path)
        return True
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return False
        raise


# ---------------------------------------------------------------------------------------------
# /proc inspection
# ---------------------------------------------------------------------------------------------

def _read_proc(pid, name, mode="r"):
    """Contents of /proc/<pid>/<name>, None when the process is gone (or hidden from this user)."""
    try:
        with open(os.path.join(PROC, str(pid), name), mode) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def read_cmdline(pid, errors="surrogateescape"):
    """argv of `pid` as a list, [] for a zombie or kernel thread, None when the pid is gone. errors='replace'
    for argv that goes into a module result (which must be valid UTF-8)."""
    raw = _read_proc(pid, "cmdline", "rb")
    if raw is None:
        return None
    if not raw:
        return []
    return [part.decode("utf-8", errors) for part in raw.rstrip(b"\0").split(b"\0")]


def _stat_fields(pid):
    """Fields of /proc/<pid>/stat after the `(comm)` field (index 0 is the state), or None."""
    data = _read_proc(pid, "stat")
    if data is None:
        return None
    return data[data.rfind(")") + 2:].split()


def is_alive(pid):
    """True when `pid` exists and is not a zombie (zombies cannot serve anything, nor hold a file)."""
    fields = _stat_fields(pid)
    if fields is None:
        if os.path.isdir(PROC):
            return False
        # Without /proc (a container that does not mount it), signal 0 still tells; EPERM means it exists.
        try:
            os.kill(pid, 0)
        except OSError as exc:
            return exc.errno == errno.EPERM
        return True
    return fields[0] not in ("Z", "X", "x")


def cmdline_matches(cmdline, command):
    """Does a process argv match the command we started?

    Exact match for binaries. A script with a shebang runs as `interpreter [arg] /path/script args...`,
    so the tail of argv must equal command[1:] and the element before it must name the same
    program (same basename) as command[0].
    """
    if not cmdline or not command:
        return False
    if list(cmdline) == list(command):
        return True
    args = list(command[1:])
    if len(cmdline) < len(args) + 1:
        return False
    if args and list(cmdline[-len(args):]) != args:
        return False
    program = cmdline[-(len(args) + 1)]
    return os.path.basename(program) == os.path.basename(command[0])


def process_info(pid):
    """rss_bytes and uptime_seconds of `pid` (None when unavailable)."""
    info = {"rss_bytes": None, "uptime_seconds": None}
    fields = _stat_fields(pid)
    if fields is None:
        return info
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        ticks = os.sysconf("SC_CLK_TCK")
        # After the comm field: state is index 0, so field N of proc(5) is index N - 3.
        start_ticks = int(fields[22 - 3])
        rss_pages = int(fields[24 - 3])
        with open(os.path.join(PROC, "uptime"), "r") as handle:
            system_uptime = float(handle.read().split()[0])
        info["rss_bytes"] = rss_pages * page
        info["uptime_seconds"] = max(0, int(system_uptime - start_ticks / float(ticks)))
    except (ValueError, IndexError, IOError, OSError):
        pass
    return info


def inspect(pidfile, command):
    """Look at the pidfile and /proc. Returns a dict:

    pid (int or None), running (bool), stale (pidfile names a dead or foreign process), cmdline,
    recorded_pid. The live argv must match `command` or the argv recorded in the pidfile at start;
    only a legacy pidfile (pid only) with no command given trusts the pid alone.
    """
    pid, recorded = read_pidfile(pidfile)
    result = {"pid": None, "running": False, "stale": False, "cmdline": None, "recorded_pid": pid}
    if pid is None:
        result["stale"] = os.path.exists(pidfile)
        return result
    alive = is_alive(pid)
    cmdline = read_cmdline(pid) if alive else None
    expected = [candidate for candidate in (command, recorded) if candidate]
    ours = bool(cmdline) and (not expected or any(cmdline_matches(cmdline, c) for c in expected))
    if alive and ours:
        result.update(pid=pid, running=True, cmdline=cmdline)
    else:
        result.update(stale=True, cmdline=cmdline)
    return result


def process_user(pid):
    """Name of the user `pid` runs as, None when unknown."""
    try:
        import pwd  # pylint: disable=import-outside-toplevel
        return pwd.getpwuid(os.stat(os.path.join(PROC, str(pid))).st_uid).pw_name
    except (OSError, KeyError, ImportError):
        return None


def _open_files(pid, targets, proc=None):
    """The paths among `targets` that `pid` has open; None when its descriptors cannot be read."""
    fd_dir = os.path.join(proc or PROC, str(pid), "fd")
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return None
    files = set()
    for fd in fds:
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target in targets:
            files.add(target)
    return files


def holders_of(paths):
    """Processes (other than this one) that have any of the existing `paths` open, read-only from
    /proc/*/fd: the guide's `fuser`. Returns ([{pid, user, cmdline, files}], how many processes could not be
    inspected)."""
    targets = set(os.path.realpath(path) for path in paths if os.path.exists(path))
    holders, unreadable = [], 0
    me = os.getpid()
    for entry in os.listdir(PROC):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        files = _open_files(pid, targets)
        if files is None:
            unreadable += 1
        elif files:
            holders.append(dict(pid=pid, user=process_user(pid), cmdline=read_cmdline(pid, errors="replace") or [],
                                files=sorted(files)))
    return sorted(holders, key=lambda h: h["pid"]), unreadable


def socket_holders(inodes, proc=None):
    """{inode: (pid, command name or None)} of the processes holding the sockets `inodes` (the inode column of
    /proc/net/tcp). Root sees every process; another user only its own, the others are left out."""
    proc = proc or PROC
    targets = dict(("socket:[%d]" % inode, inode) for inode in inodes)
    found = {}
    try:
        entries = [entry for entry in os.listdir(proc) if entry.isdigit()] if targets else []
    except OSError:
        return found
    for entry in entries:
        for target in _open_files(entry, set(targets), proc) or ():
            if targets[target] not in found:
                try:
                    with open(os.path.join(proc, entry, "comm")) as handle:
                        name = handle.read(64).strip() or None
                except (IOError, OSError):
                    name = None
                found[targets[target]] = (int(entry), name)
        if len(found) == len(targets):
            break
    return found


# ---------------------------------------------------------------------------------------------
# Start / stop
# ---------------------------------------------------------------------------------------------

def tail(path, lines=20, max_bytes=16384):
    """Last `lines` lines of a text file ('' when unreadable)."""
    if not path:
        return ""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except (IOError, OSError):
        return ""
    text = data.decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


def _reap(pid):
    """Collect the exit status when `pid` is our own child (it is when the same Python process
    started it), so it does not linger as a zombie; a no-op for any other process."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except OSError:
        pass


def spawn(command, cwd, env, log, preexec_fn=None, umask=-1):
    """Start `command` detached: new session, stdin from /dev/null, stdout and stderr to the
    binary file object `log`, every other descriptor closed, with `umask` (-1: inherited). Returns the Popen object."""
    try:
        with open(os.devnull, "rb") as devnull:
            return subprocess.Popen(
                command, cwd=cwd, env=env, stdin=devnull, stdout=log, stderr=subprocess.STDOUT,
                close_fds=True, start_new_session=True, preexec_fn=preexec_fn, umask=umask)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ProcessError(str(exc))


def _wait_gone(pid, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        _reap(pid)
        if not is_alive(pid):
            return True
        time.sleep(0.1)
    return not is_alive(pid)


def _signal(pid, sig, group):
    """Signal the process group when `group` and `pid` leads one (the start path creates a new session), so
    workers forked by the service go too; otherwise just the pid. False when the process is already gone."""
    try:
        if group and os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except OSError as exc:
        if exc.errno != errno.ESRCH:
            raise
        return False
    return True


def kill_group(pid):
    """SIGKILL the process group `pid` leads (or just `pid`), without waiting or reaping: for a child the
    caller reaps itself (a multiprocessing worker). False when it is already gone."""
    return _signal(pid, signal.SIGKILL, True)


def stop(pid, timeout, group=True, kill_wait=10):
    """SIGTERM, wait up to `timeout` seconds, then SIGKILL and wait up to `kill_wait` seconds.

    Returns 'gone' (it had ended before the SIGTERM), 'terminated' (SIGTERM ended it) or 'killed'.
    Raises ProcessError when it survives SIGKILL (a process stuck in the kernel, in state D)."""
    if not _signal(pid, signal.SIGTERM, group):
        return "gone"
    if _wait_gone(pid, timeout):
        return "terminated"
    _signal(pid, signal.SIGKILL, group)
    if not _wait_gone(pid, kill_wait):
        raise ProcessError("process %d survived SIGKILL for %g seconds (stuck in the kernel? see its state in "
                           "/proc/%d/stat)" % (pid, kill_wait, pid))
    return "killed"
