# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one liveness check, process stop and lock-holder search (_process) against real processes; app_process,
sqlite_maintenance and the backup store's leftover detection all use them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _process

pytestmark = pytest.mark.skipif(not sys.platform.startswith('linux'), reason='reads /proc')

# Ready once it has printed its line: a SIGTERM before the handler is set would end it.
IGNORES_TERM = ('import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); '
                'print("ready", flush=True); time.sleep(60)')
SLEEPS = 'import sys, time; print("ready", flush=True); time.sleep(60)'
# A group leader with a child of its own, like the service started by app_process with its workers.
FORKS = ('import subprocess, sys, time; child = subprocess.Popen([sys.executable, "-c", "import time; '
         'time.sleep(60)"]); print(child.pid, flush=True); time.sleep(60)')


@pytest.fixture
def spawn():
    started = []

    def start(code, *args, **kwargs):
        proc = subprocess.Popen([sys.executable, '-c', code] + list(args), stdout=subprocess.PIPE, **kwargs)
        started.append(proc)
        proc.line = proc.stdout.readline().decode().strip()
        return proc
    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


def test_is_alive_tells_a_running_process_from_a_zombie_and_a_reaped_one(spawn):
    proc = spawn(SLEEPS)
    assert _process.is_alive(proc.pid)
    proc.kill()
    deadline = time.monotonic() + 10
    while _process._stat_fields(proc.pid)[0] != 'Z' and time.monotonic() < deadline:  # pylint: disable=protected-access
        time.sleep(0.01)
    assert not _process.is_alive(proc.pid)  # a zombie holds nothing and serves nothing
    proc.wait()
    assert not _process.is_alive(proc.pid)


def test_stop_reports_terminated_killed_and_gone(spawn):
    polite = spawn(SLEEPS)
    assert _process.stop(polite.pid, 5, group=False) == 'terminated'
    stubborn = spawn(IGNORES_TERM)
    assert _process.stop(stubborn.pid, 0.3, group=False) == 'killed'
    # stop() reaped its exit status (a child of this process): the pid is free now.
    assert not _process.is_alive(stubborn.pid)
    assert _process.stop(stubborn.pid, 5, group=False) == 'gone'


def term_pending(pid):
    """Is a SIGTERM pending for `pid` (sent, not yet acted on)? From the SigPnd and ShdPnd masks of its status."""
    with open('/proc/%d/status' % pid) as handle:
        masks = [int(line.split()[1], 16) for line in handle if line.startswith(('SigPnd:', 'ShdPnd:'))]
    return any(mask & (1 << (signal.SIGTERM - 1)) for mask in masks)


def test_stop_takes_the_process_group_when_asked(spawn):
    leader = spawn(FORKS, start_new_session=True)
    child = int(leader.line)
    try:
        assert _process.stop(leader.pid, 5, group=True) == 'terminated'
        deadline = time.monotonic() + 5  # the child got its SIGTERM with the leader's: it is on its way out
        while _process.is_alive(child) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not _process.is_alive(child)
    finally:
        if _process.is_alive(child):
            os.kill(child, signal.SIGKILL)


def test_stop_of_just_the_pid_leaves_its_group_alone(spawn):
    leader = spawn(FORKS, start_new_session=True)
    child = int(leader.line)
    try:
        assert _process.stop(leader.pid, 5, group=False) == 'terminated'
        # kill() returns once the signal is pending: a child that got one would show it, or be gone.
        assert _process.is_alive(child) and not term_pending(child)
    finally:
        os.kill(child, signal.SIGKILL)


def test_holders_of_finds_the_process_with_a_file_open(spawn, tmp_path):
    held = tmp_path / 'held.db'
    held.write_bytes(b'')
    holder = spawn('import sys, time; f = open(sys.argv[1], "rb"); print("ready", flush=True); time.sleep(60)',
                   str(held), 'holder-marker')
    holders, _unreadable = _process.holders_of([str(held), str(tmp_path / 'absent-wal')])
    assert [h['pid'] for h in holders] == [holder.pid]
    assert holders[0]['files'] == [os.path.realpath(str(held))]
    assert holders[0]['cmdline'][-1] == 'holder-marker'
    assert holders[0]['user'] is not None
