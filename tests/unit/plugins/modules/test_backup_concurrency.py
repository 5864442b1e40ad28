# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Two backup runs started together never share one archive: two real module processes released in the same
second while a writer commits to the database, then each archive is checked on disk.

Run: cd $WT/build/collections/ansible_collections/inventory_enterprise/ops &&
     PYTHONPATH=$WT/build/collections $WT/.venv/bin/python -m pytest -q tests/unit/plugins/modules/test_backup_concurrency.py
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records, _service_layout
from ansible_collections.inventory_enterprise.ops.plugins.modules import backup
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_backup_support import (
    db_path, make_home, run, sha256, txlog_path, write_rows)

# The directory holding ansible_collections/, wherever the collection was imported from.
COLLECTIONS = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(_archive.__file__).rsplit(os.sep + 'plugins' + os.sep, 1)[0])))

# Imports everything, says so on stderr, then runs the module when a line arrives on stdin: both runs are
# released at the same instant, not after their own (variable) start-up time.
RUNNER = '''
import sys
from ansible_collections.inventory_enterprise.ops.plugins.modules import backup
sys.stderr.write("ready\\n")
sys.stderr.flush()
sys.stdin.readline()
backup.main()
'''


def start_run(tmp_path, index, args):
    args_file = str(tmp_path / ('args-%d.json' % index))
    with open(args_file, 'w') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, handle)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (COLLECTIONS, os.environ.get('PYTHONPATH')) if p))
    proc = subprocess.Popen([sys.executable, '-c', RUNNER, args_file], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stderr.readline() == b'ready\n', proc.communicate()
    return proc


def release_in_one_second(procs):
    """Release every process early in a wall-clock second, so all of them name their archive in that second."""
    while time.time() % 1 > 0.2:
        time.sleep(0.01)
    for proc in procs:
        proc.stdin.write(b'go\n')
        proc.stdin.flush()


def add_blobs(home, count):
    conn = sqlite3.connect(db_path(home), isolation_level=None)
    conn.execute('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)')
    conn.execute('BEGIN')
    for dummy in range(count):
        conn.execute('INSERT INTO blobs (data) VALUES (randomblob(65536))')
    conn.execute('COMMIT')
    conn.close()


@pytest.mark.parametrize('compression', ['gzip', 'zstd'])
def test_two_runs_started_together_under_write_load_keep_both_archives(tmp_path, compression):
    home = make_home(tmp_path, rows=50)
    add_blobs(home, 48)  # 3 MB: each run is still writing when the other one names its archive
    dest = os.path.join(home, 'backups')
    stop = threading.Event()

    def writer():
        seq = 51
        while not stop.is_set():
            write_rows(db_path(home), txlog_path(home), 5, start=seq)
            seq += 5

    procs = [start_run(tmp_path, index, dict(service_home=home, compression=compression, threads=0))
             for index in range(2)]
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        release_in_one_second(procs)
        outputs = [proc.communicate(timeout=300) for proc in procs]
    finally:
        stop.set()
        thread.join()
    results = []
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, (out, err)
        results.append(json.loads(out))
    names = [result['backup']['name'] for result in results]
    assert names[0] != names[1]
    assert sorted(n for n in os.listdir(dest) if _backup_records.NAME_RE.match(n)) == sorted(names)
    for result in results:
        path = result['backup']['path']
        assert result['verification']['ok'] is True
        # What each run reports is the file that is on disk under its name, and it verifies on its own.
        assert sha256(path) == result['backup']['archive_sha256'] == result['verification']['archive_sha256']
        report = _archive.verify_archive(path, str(tmp_path))
        assert report['archive_sha256'] == result['backup']['archive_sha256']
        assert report['tables'] == result['backup']['manifest']['database']['tables']
    assert [n for n in os.listdir(dest) if '.partial-' in n or '.work-' in n] == []


def test_publish_never_replaces_an_archive_that_appeared_meanwhile(tmp_path):
    """A writer that takes no lock (the service's POST /api/backup/create) finished the same name first."""
    final = tmp_path / 'inventory_backup_2025-01-07T02-00-00.tar.gz'
    final.write_bytes(b'the first archive')
    partial = tmp_path / ('.inventory_backup_2025-01-07T02-00-00.tar.gz.partial-%d' % os.getpid())
    partial.write_bytes(b'the second archive')
    with pytest.raises(_backup_records.BackupError) as exc:
        _archive.publish(str(partial), str(final))
    assert 'left untouched: run the backup again' in str(exc.value)
    assert final.read_bytes() == b'the first archive'


def test_check_mode_predicts_the_name_a_run_would_claim(tmp_path, capsys):
    home = make_home(tmp_path)
    paths = _service_layout.service_paths(home)
    now = _backup_records.utc_now()
    taken = [_archive.create_backup(paths, paths['backup_dir'], compression='gzip',
                                    now=now + datetime.timedelta(seconds=offset))['name'] for offset in range(3)]
    failed, result = run(backup, dict(service_home=home, compression='gzip'), capsys, check_mode=True)
    assert not failed, result
    assert result['backup']['name'] not in taken
