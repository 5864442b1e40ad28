# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""backup module against real SQLite files and real archives: layout, manifest, atomicity, concurrent
writers, verification of damaged archives, retention, check mode, SIGKILL mid-run and a full disk.

Run: cd /work/main && PYTHONPATH=build/collections .venv/bin/python -m pytest tests/unit/plugins/modules/test_backup.py -q
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import tarfile
import threading
import time

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records, _service_layout, _sqlite
from ansible_collections.inventory_enterprise.ops.plugins.modules import backup
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_backup_support import (
    db_path, make_home, read_members, run, sha256, txlog_path, write_rows)

UTC = datetime.timezone.utc
# The directory holding ansible_collections/, wherever the collection was imported from.
COLLECTIONS = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(_archive.__file__).rsplit(os.sep + 'plugins' + os.sep, 1)[0])))


@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path)


def backups_in(home):
    return sorted(n for n in os.listdir(os.path.join(home, 'backups')) if _backup_records.NAME_RE.match(n))


def make_old(home, days_ago, now=None):
    """A real, verifiable archive whose name says it was taken `days_ago` days ago."""
    now = now or _backup_records.utc_now()
    paths = _service_layout.service_paths(home)
    return _archive.create_backup(paths, paths['backup_dir'], now=now - datetime.timedelta(days=days_ago))


def flip_byte(path, offset_fraction=0.5):
    with open(path, 'r+b') as handle:
        size = os.path.getsize(path)
        handle.seek(int(size * offset_fraction))
        byte = handle.read(1)
        handle.seek(int(size * offset_fraction))
        handle.write(bytes([byte[0] ^ 0x01]))


def test_create_layout_manifest_and_mode(home, capsys):
    failed, result = run(backup, dict(service_home=home, service_version='2.1.0'), capsys)
    assert not failed, result
    assert result['changed'] is True
    archive = result['backup']['path']
    name = os.path.basename(archive)
    assert _backup_records.NAME_RE.match(name) and name.endswith('.tar.zst')
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    top = name[:-len('.tar.zst')]
    members = dict((info.name, (info, data)) for info, data in read_members(archive))
    assert set(members) == {top, top + '/database.db', top + '/transaction_log.jsonl', top + '/.env',
                            top + '/config', top + '/config/app.json', top + '/models',
                            top + '/models/prophet_ITEM-1.pkl', top + '/manifest.json'}
    manifest = json.loads(members[top + '/manifest.json'][1])
    assert manifest['name'] == top and manifest['service_version'] == '2.1.0'
    assert manifest['database']['tables'] == {'items': 20, 'lines': 20}
    assert manifest['transaction_log']['lines'] == 20 and manifest['transaction_log']['last_seq'] == 20
    assert manifest['transaction_log']['offset'] == os.path.getsize(txlog_path(home))
    import hashlib
    for entry in manifest['members']:
        data = members[top + '/' + entry['path']][1]
        assert len(data) == entry['size'] and hashlib.sha256(data).hexdigest() == entry['sha256']
    # The archive's own checksum, for off-site copies.
    assert result['backup']['archive_sha256'] == sha256(archive)
    assert result['verification']['integrity_check'] == 'ok'
    assert result['verification']['tables'] == {'items': 20, 'lines': 20}
    assert _backup_records.read_marker(archive)
    # The guide's end-of-day check: cat logs/backup-$(date +%Y-%m-%d).log
    with open(result['log_file']) as handle:
        line = handle.read()
    assert 'backup completed name=%s' % name in line
    # Only the archive looks like a backup; nothing temporary is left (the lock file is empty and permanent).
    assert sorted(n for n in os.listdir(os.path.join(home, 'backups')) if not n.startswith('.verified')) == [
        _archive.LOCK_FILE, name]


def test_gzip_archive_works_with_the_guides_manual_steps(home, capsys, tmp_path):
    failed, result = run(backup, dict(service_home=home, compression='gzip'), capsys)
    assert not failed, result
    archive = result['backup']['path']
    assert archive.endswith('.tar.gz')
    out = tmp_path / 'manual'
    out.mkdir()
    subprocess.check_call(['tar', '-xzf', archive], cwd=str(out))
    top = os.path.basename(archive)[:-len('.tar.gz')]
    restored = out / top / 'database.db'
    assert _sqlite.integrity_check(str(restored)) == ['ok']
    assert (out / top / 'transaction_log.jsonl').read_bytes() == open(txlog_path(home), 'rb').read()


def test_transaction_log_cut_at_last_complete_line(home, capsys):
    with open(txlog_path(home), 'ab') as handle:
        handle.write(b'{"seq": 21, "ts": "2025-01-07T02:00:00.000Z", "op": "item.cre')  # torn, no newline
    failed, result = run(backup, dict(service_home=home), capsys)
    assert not failed, result
    tlog = result['backup']['manifest']['transaction_log']
    assert tlog['lines'] == 20 and tlog['last_seq'] == 20
    assert tlog['offset'] == os.path.getsize(txlog_path(home)) - len(b'{"seq": 21, "ts": "2025-01-07T02:00:00.000Z", "op": "item.cre')


def test_database_only_and_custom_dest(home, capsys, tmp_path):
    dest = str(tmp_path / 'external-drive')
    failed, result = run(backup, dict(service_home=home, database_only=True, dest=dest), capsys)
    assert not failed, result
    assert os.path.dirname(result['backup']['path']) == dest
    names = [info.name.split('/', 1)[-1] for info, dummy in read_members(result['backup']['path']) if info.isreg()]
    assert names == ['database.db', 'manifest.json']
    assert result['backup']['manifest']['transaction_log'] is None


def test_check_mode_writes_nothing(home, capsys):
    failed, result = run(backup, dict(service_home=home, retention_days=30), capsys, check_mode=True)
    assert not failed, result
    assert result['changed'] is True
    assert _backup_records.NAME_RE.match(result['backup']['name'])
    assert os.listdir(os.path.join(home, 'backups')) == []
    assert not os.path.exists(os.path.join(home, 'logs', 'backup-%s.log' % datetime.date.today().isoformat()))


def test_missing_database_is_a_clear_error(tmp_path, capsys):
    (tmp_path / '.env').write_text('PORT=8083\n')
    failed, result = run(backup, dict(service_home=str(tmp_path)), capsys)
    assert failed
    assert 'enterprise_inventory.db does not exist' in result['msg']


def test_snapshot_while_writers_commit_holds_every_logged_transaction(home, capsys, tmp_path):
    """A writer commits then logs, as the service does, all through the backup: whatever the copied log
    records is in the copied database."""
    stop = threading.Event()

    def writer():
        seq = 21
        while not stop.is_set():
            write_rows(db_path(home), txlog_path(home), 5, start=seq)
            seq += 5

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        results = []
        for dummy in range(3):
            failed, result = run(backup, dict(service_home=home), capsys)
            assert not failed, result
            results.append(result)
    finally:
        stop.set()
        thread.join()
    for result in results:
        scratch = tmp_path / ('check-%s' % result['backup']['name'])
        scratch.mkdir()
        read = _archive.read_archive(result['backup']['path'], str(scratch), extract=True)
        restored_db = read['extracted']['database.db']
        assert _sqlite.integrity_check(restored_db) == ['ok']
        with open(read['extracted']['transaction_log.jsonl']) as handle:
            logged = [json.loads(line)['data']['id'] for line in handle]
        conn = sqlite3.connect(restored_db)
        present = set(row[0] for row in conn.execute('SELECT id FROM items'))
        conn.close()
        assert set(logged) <= present
        assert len(logged) == read['manifest']['transaction_log']['lines']


def test_verify_accepts_good_and_rejects_bit_flip_and_truncation(home, capsys):
    failed, result = run(backup, dict(service_home=home, verify=False), capsys)
    assert not failed
    archive = result['backup']['path']
    failed, verified = run(backup, dict(service_home=home, state='verified'), capsys)
    assert not failed, verified
    assert verified['changed'] is False and verified['verification']['integrity_check'] == 'ok'

    flipped = archive.replace('.tar.zst', '.tar.zst.flip')
    with open(archive, 'rb') as src, open(flipped, 'wb') as dst:
        dst.write(src.read())
    flip_byte(flipped)
    failed, bad = run(backup, dict(service_home=home, state='verified', path=flipped), capsys)
    assert failed and 'failed verification' in bad['msg']

    data = open(archive, 'rb').read()
    for cut in (len(data) - 3, len(data) // 2, 100):
        truncated = archive + '.cut%d' % cut
        with open(truncated, 'wb') as handle:
            handle.write(data[:cut])
        failed, bad = run(backup, dict(service_home=home, state='verified', path=truncated), capsys)
        assert failed, cut
        assert 'truncated' in bad['msg'] or 'damaged' in bad['msg'] or 'corrupt' in bad['msg'], bad['msg']


def test_verify_rejects_a_member_that_does_not_match_the_manifest(home, tmp_path):
    paths = _service_layout.service_paths(home)
    created = _archive.create_backup(paths, paths['backup_dir'], compression='gzip')
    members = read_members(created['path'])
    from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_backup_support import write_tar_gz
    tampered = []
    for info, data in members:
        if info.name.endswith('/config/app.json'):
            data = b'{"feature": false}\n'
            info.size = len(data)
        tampered.append((info, data))
    path = write_tar_gz(str(tmp_path / created['name']), tampered)
    with pytest.raises(_archive.ArchiveRejected, match='config/app.json'):
        _archive.verify_archive(path, str(tmp_path))


def test_retention_counts_back_from_newest_verified_and_keeps_it(home, capsys):
    now = _backup_records.utc_now()
    for days in (100, 75, 45, 40):
        make_old(home, days, now)
    # Every backup is older than 30 days: the newest good one (40 days) anchors the window.
    failed, check = run(backup, dict(service_home=home, state='pruned', retention_days=30), capsys, check_mode=True)
    assert not failed, check
    assert len(check['pruned']) == 2 and check['changed'] is True
    assert len(backups_in(home)) == 4  # check mode removed nothing
    failed, result = run(backup, dict(service_home=home, state='pruned', retention_days=30), capsys)
    assert not failed, result
    assert result['pruned'] == check['pruned']
    left = backups_in(home)
    assert len(left) == 2 and result['kept_anchor'] == left[-1]
    # Idempotent.
    failed, again = run(backup, dict(service_home=home, state='pruned', retention_days=30), capsys)
    assert not failed and again['changed'] is False and again['pruned'] == []
    # Even retention 0 keeps the last good backup.
    failed, zero = run(backup, dict(service_home=home, state='pruned', retention_days=0), capsys)
    assert not failed
    assert backups_in(home) == [left[-1]]


def test_retention_skips_a_corrupt_newest_backup(home, capsys):
    now = _backup_records.utc_now()
    good = make_old(home, 50, now)
    make_old(home, 90, now)
    bad = make_old(home, 1, now)
    flip_byte(bad['path'])
    failed, result = run(backup, dict(service_home=home, state='pruned', retention_days=30), capsys)
    assert not failed, result
    assert result['kept_anchor'] == good['name']
    assert [r['name'] for r in result['rejected']] == [bad['name']]
    # The corrupt one is newer than the anchor: kept for investigation; the 90-day one is 40 days older.
    assert sorted(backups_in(home)) == sorted([good['name'], bad['name']])


def test_retention_removes_nothing_without_a_good_backup(home, capsys):
    for days in (60, 90):
        flip_byte(make_old(home, days)['path'])
    failed, result = run(backup, dict(service_home=home, state='pruned', retention_days=30), capsys)
    assert not failed
    assert result['pruned'] == [] and result['kept_anchor'] is None
    assert len(backups_in(home)) == 2
    assert 'removed nothing' in json.dumps(result.get('warnings', []))


def test_create_with_retention(home, capsys):
    make_old(home, 45)
    failed, result = run(backup, dict(service_home=home, retention_days=30), capsys)
    assert not failed, result
    assert result['kept_anchor'] == result['backup']['name']
    assert len(result['pruned']) == 1
    assert backups_in(home) == [result['backup']['name']]


def _module_cmd(args_file):
    # Keep the caller's PYTHONPATH: under ansible-test it is where ansible itself comes from.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (COLLECTIONS, os.environ.get('PYTHONPATH')) if p))
    return [sys.executable, '-m', 'ansible_collections.inventory_enterprise.ops.plugins.modules.backup',
            args_file], env


def test_sigkill_mid_run_leaves_no_finished_archive_and_next_run_succeeds(tmp_path, capsys):
    home = make_home(tmp_path, rows=10)
    # A few MB of incompressible rows make the run long enough to be caught in the middle.
    conn = sqlite3.connect(db_path(home), isolation_level=None)
    conn.execute('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)')
    conn.execute('BEGIN')
    for dummy in range(600):
        conn.execute('INSERT INTO blobs (data) VALUES (randomblob(65536))')
    conn.execute('COMMIT')
    conn.close()
    args_file = str(tmp_path / 'args.json')
    with open(args_file, 'w') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': {'service_home': home, 'threads': 0, 'compression': 'gzip',
                                           'compression_level': 9}}, handle)
    cmd, env = _module_cmd(args_file)
    backups_dir = os.path.join(home, 'backups')
    killed_with = None
    for _attempt in range(5):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline and proc.poll() is None:
            partial = [n for n in os.listdir(backups_dir) if '.partial-' in n]
            if partial and os.path.getsize(os.path.join(backups_dir, partial[0])) > 0:
                killed_with = partial
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        output = proc.communicate()[0]
        if killed_with:
            break
        if proc.returncode != 0:
            pytest.fail('the backup module process failed on its own: %s' % output.decode(errors='replace')[-2000:])
        for name in backups_in(home):
            os.unlink(os.path.join(backups_dir, name))
    assert killed_with, 'the run finished before it could be killed'
    assert backups_in(home) == []
    assert any(n.startswith('.') and '.partial-' in n for n in os.listdir(backups_dir))
    failed, result = run(backup, dict(service_home=home, compression='gzip'), capsys)
    assert not failed, result
    assert result['leftovers_removed'] and all('.partial-' in p or '.work-' in p for p in result['leftovers_removed'])
    assert backups_in(home) == [result['backup']['name']]
    assert [n for n in os.listdir(backups_dir) if '.partial-' in n or '.work-' in n] == []


@pytest.mark.skipif(os.geteuid() != 0, reason='mounting a tmpfs needs root')
def test_full_disk_is_a_clear_error_and_keeps_previous_backups(tmp_path, capsys):
    home = make_home(tmp_path, rows=5)
    dest = str(tmp_path / 'small')
    os.mkdir(dest)
    if subprocess.call(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dest]) != 0:
        pytest.skip('cannot mount a tmpfs here')
    try:
        failed, first = run(backup, dict(service_home=home, dest=dest), capsys)
        assert not failed, first
        before = dict((n, sha256(os.path.join(dest, n))) for n in os.listdir(dest) if _backup_records.NAME_RE.match(n))
        conn = sqlite3.connect(db_path(home), isolation_level=None)
        conn.execute('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)')
        conn.execute('INSERT INTO blobs (data) SELECT randomblob(65536) FROM (SELECT 1 UNION ALL SELECT 2) a, '
                     '(SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4) b, '
                     '(SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4) c')
        conn.close()
        time.sleep(1.05)
        failed, result = run(backup, dict(service_home=home, dest=dest), capsys)
        assert failed
        assert 'no space left' in result['msg'] and dest in result['msg']
        assert 'Previous backups' in result['msg']
        after = dict((n, sha256(os.path.join(dest, n))) for n in os.listdir(dest) if _backup_records.NAME_RE.match(n))
        assert after == before
        assert [n for n in os.listdir(dest) if '.partial-' in n or '.work-' in n] == []
        with open(os.path.join(home, 'logs', 'backup-%s.log' % datetime.date.today().isoformat())) as handle:
            assert 'ERROR backup failed' in handle.read()
    finally:
        subprocess.call(['umount', dest])


def test_two_runs_in_one_second_get_distinct_names(home):
    paths = _service_layout.service_paths(home)
    now = _backup_records.utc_now()
    first = _archive.create_backup(paths, paths['backup_dir'], now=now)
    second = _archive.create_backup(paths, paths['backup_dir'], now=now)
    assert first['name'] != second['name']
    assert len(backups_in(home)) == 2


def test_verify_state_requires_an_archive(tmp_path, capsys):
    home = make_home(tmp_path)
    failed, result = run(backup, dict(service_home=home, state='verified'), capsys)
    assert failed and 'no backup archive' in result['msg']


def test_tarfile_member_types_written_are_plain(home):
    paths = _service_layout.service_paths(home)
    created = _archive.create_backup(paths, paths['backup_dir'])
    for info, _data in read_members(created['path']):
        assert info.type in (tarfile.REGTYPE, tarfile.DIRTYPE)
        assert info.uid == 0 and info.mode in (0o600, 0o700)


def test_max_age_hours_reuses_a_recent_verified_backup_and_nothing_else(home, capsys):
    old = make_old(home, 2)  # verifiable but never verified here, and two days old
    failed, first = run(backup, dict(service_home=home, max_age_hours=12), capsys)
    assert not failed and first['changed'] is True
    assert first['backup']['path'] != old['path']

    failed, again = run(backup, dict(service_home=home, max_age_hours=12), capsys)
    assert not failed, again
    assert again['changed'] is False
    assert again['backup']['path'] == first['backup']['path']
    assert again['backup']['archive_sha256'] == first['backup']['archive_sha256']
    assert len(backups_in(home)) == 2

    # A recent archive that changed since its verification no longer counts: a new backup is written.
    flip_byte(first['backup']['path'])
    failed, third = run(backup, dict(service_home=home, max_age_hours=12), capsys)
    assert not failed and third['changed'] is True
    assert len(backups_in(home)) == 3

    failed, always = run(backup, dict(service_home=home), capsys)
    assert not failed and always['changed'] is True


def test_removing_leftovers_and_recording_verification_is_bookkeeping_not_a_change(home, capsys):
    """What a killed run left and the .verified/ records are bookkeeping (docs/backup-and-recovery.md): a prune that
    removes no archive and a verification report no change, though each removed a dead run's leftover."""
    failed, result = run(backup, dict(service_home=home, compression='gzip', retention_days=30), capsys)
    assert not failed, result
    dest = os.path.join(home, 'backups')
    dead = subprocess.Popen([sys.executable, '-c', ''])
    dead.wait()
    for state in ('pruned', 'verified'):
        leftover = os.path.join(dest, '.inventory_backup_killed.partial-%d' % dead.pid)
        with open(leftover, 'w') as handle:
            handle.write('half an archive')
        failed, result = run(backup, dict(state=state, dest=dest, retention_days=30), capsys)
        assert not failed, result
        assert result['leftovers_removed'] == [leftover] and not os.path.exists(leftover)
        assert result['changed'] is False, state
