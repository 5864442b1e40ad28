# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""log_archive killed with SIGKILL at many points of a run: every line of every log still exists, in its
original file or in a finished archive (in its month's manifest) that decompresses to the original bytes; a
run afterwards completes the work and cleans up, and the one after changes nothing.

The kill points are found by polling the archive (after the first partial file, after N archives, after a
manifest) and by random small delays, never by a fixed sleep."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import random
import signal
import subprocess
import sys
import time

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.log_files import make_logs, where_is

MODULE = 'ansible_collections.inventory_enterprise.ops.plugins.modules.log_archive'
# Polling interval while waiting for the state a kill point needs.
POLL = 0.0005


def archive_files(archive_dir):
    found = []
    for base, _dirs, files in os.walk(os.path.join(archive_dir, 'logs')):
        found.extend(os.path.join(base, name) for name in files)
    return found


def start(args_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
    return subprocess.Popen([sys.executable, '-m', MODULE, args_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)


def wait_for(proc, condition):
    """Poll until condition() holds or the run ends."""
    while proc.poll() is None and not condition():
        time.sleep(POLL)


def kill_points(archive_dir, rng):
    """(description, condition) of each kill point."""
    def count(predicate):
        return sum(1 for path in archive_files(archive_dir) if predicate(os.path.basename(path)))

    def after_delay(delay):
        deadline = time.monotonic() + delay
        return lambda: time.monotonic() >= deadline
    return [
        ('first partial file', lambda: count(lambda name: '.partial-' in name) >= 1),
        ('first finished archive', lambda: count(lambda name: name.endswith('.zst')) >= 1),
        ('first manifest', lambda: count(lambda name: name == 'MANIFEST.sha256') >= 1),
        ('5 archives', lambda: count(lambda name: name.endswith('.zst')) >= 5),
        ('random delay', after_delay(rng.uniform(0.3, 0.9))),
        ('12 archives', lambda: count(lambda name: name.endswith('.zst')) >= 12),
        ('random delay', after_delay(rng.uniform(0.3, 1.2))),
    ]


def assert_nothing_lost(made, archive_dir):
    places = dict((path, where_is(archive_dir, path, content)) for path, content in made.items())
    lost = sorted(path for path, place in places.items() if place is None)
    assert not lost, 'lines lost: %s' % lost
    return places


def test_sigkill_at_any_point_loses_no_line_and_the_next_run_completes(tmp_path):
    log_dir, archive_dir = str(tmp_path / 'logs'), str(tmp_path / 'archive')
    # 30 files of about 0.9 MB, all past a one-day hot retention, across two months.
    made = make_logs(log_dir, range(2, 12), lines=10000)
    args_path = str(tmp_path / 'args.json')
    with open(args_path, 'w') as handle:
        json.dump(dict(ANSIBLE_MODULE_ARGS=dict(
            log_dir=log_dir, archive_dir=archive_dir, workers=2, compression_level=6,
            hot_retention_days=dict(application=1, security=1, audit=1))), handle)
    rng = random.Random(int(os.environ.get('LOG_ARCHIVE_KILL_SEED', '14')))
    killed = []
    for point, condition in kill_points(archive_dir, rng):
        proc = start(args_path)
        wait_for(proc, condition)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed.append(point)
        proc.communicate()
        places = assert_nothing_lost(made, archive_dir)
        if all(place == 'archive' for place in places.values()):
            break
    print('killed at: %s' % killed)
    assert killed, 'no run was killed: the runs ended before any kill point'
    proc = start(args_path)
    out, err = proc.communicate()
    result = json.loads(out)
    assert proc.returncode == 0 and not result.get('failed'), (result.get('msg'), err)
    places = assert_nothing_lost(made, archive_dir)
    assert set(places.values()) == set(['archive'])
    assert not [path for path in archive_files(archive_dir) if '.partial-' in path]
    proc = start(args_path)
    out, err = proc.communicate()
    assert json.loads(out)['changed'] is False
