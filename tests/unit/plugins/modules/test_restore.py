# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""restore module against real SQLite files and real (and deliberately broken or malicious) archives:
nothing live changes before the archive is fully verified; a failure puts the safety copy back byte for byte.

Run: cd /work/main && PYTHONPATH=build/collections .venv/bin/python -m pytest tests/unit/plugins/modules/test_restore.py -q
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import io
import json
import os
import sqlite3
import tarfile
import time

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records, _service_layout, _sqlite
from ansible_collections.inventory_enterprise.ops.plugins.modules import restore
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.unprivileged import run_obeying_file_modes
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_backup_support import (
    add_service_schema, db_path, evil_member, live_hashes, make_home, read_members, run, sha256, txlog_path, write_rows, write_tar_gz)


@pytest.fixture
def home(tmp_path):
    home = make_home(tmp_path)
    add_service_schema(db_path(home))
    return home


def take_backup(home, compression='zstd', **kwargs):
    paths = _service_layout.service_paths(home)
    return _archive.create_backup(paths, paths['backup_dir'], compression=compression, **kwargs)


def item_ids(home):
    conn = sqlite3.connect('file:%s?mode=ro&immutable=1' % db_path(home), uri=True)
    try:
        return set(row[0] for row in conn.execute('SELECT id FROM items'))
    finally:
        conn.close()


def dirty_live_db(home):
    """More writes after the backup, leaving a -wal and -shm next to the database (a connection stays open)."""
    write_rows(db_path(home), txlog_path(home), 5, start=21)
    conn = sqlite3.connect(db_path(home), isolation_level=None)
    conn.execute('PRAGMA wal_autocheckpoint=0')
    conn.execute("INSERT INTO items (id, code, qty) VALUES (999, 'ITEM-WAL', 1)")
    return conn


def test_restore_newest_replaces_files_and_keeps_a_safety_copy(home, capsys):
    created = take_backup(home)
    conn = dirty_live_db(home)
    try:
        assert os.path.exists(db_path(home) + '-wal')
        before = live_hashes(home)
        failed, result = run(restore, dict(service_home=home), capsys)
    finally:
        conn.close()
    assert not failed, result
    assert result['changed'] is True and result['archive'] == created['path']
    assert result['integrity_check'] == 'ok'
    assert item_ids(home) == set(range(1, 21))
    assert sha256(txlog_path(home)) == [m['sha256'] for m in created['manifest']['members']
                                        if m['path'] == 'transaction_log.jsonl'][0]
    # The stale -wal/-shm are gone from the live directory and sit in the safety copy.
    safety = result['safety_copy']
    saved = sorted(os.listdir(safety))
    assert any(n.endswith('enterprise_inventory.db-wal') for n in saved)
    assert any(n.endswith('enterprise_inventory.db-shm') for n in saved)
    record = json.load(open(os.path.join(safety, 'safety.json')))
    for entry in record['entries']:
        if entry['saved']:
            rel = os.path.relpath(entry['live'], home)
            assert sha256(os.path.join(safety, entry['saved'])) == before[rel]
    # Configuration is not restored by default.
    assert live_hashes(home)['.env'] == before['.env']

    # Same archive again: the live files already match, nothing changes.
    failed, again = run(restore, dict(service_home=home, src=created['path']), capsys)
    assert not failed and again['changed'] is False


def test_check_mode_changes_nothing(home, capsys):
    take_backup(home)
    write_rows(db_path(home), txlog_path(home), 3, start=21)
    before = live_hashes(home)
    failed, result = run(restore, dict(service_home=home), capsys, check_mode=True)
    assert not failed, result
    assert result['changed'] is True
    assert live_hashes(home) == before
    assert not os.path.exists(os.path.join(home, 'data', '.restore-safety'))


def _craft(home, tmp_path, mutate):
    """A gzip archive built from a real one's members, changed by mutate(top, members) -> members."""
    created = take_backup(home, compression='gzip')
    members = read_members(created['path'])
    top = created['name'][:-len('.tar.gz')]
    os.unlink(created['path'])
    path = str(tmp_path / created['name'])
    write_tar_gz(path, mutate(top, members))
    return path


EVIL = {
    'traversal': lambda top, m: m[:2] + [evil_member('%s/../../evil.txt' % top)] + m[2:],
    'dotdot_top': lambda top, m: [evil_member('../evil.txt')] + m,
    'absolute': lambda top, m: m[:2] + [evil_member('/tmp/evil-absolute.txt')] + m[2:],
    'symlink': lambda top, m: m[:2] + [evil_member('%s/config/passwd' % top, 'symlink')] + m[2:],
    'symlink_db': lambda top, m: [x for x in m if not x[0].name.endswith('/database.db')][:1]
    + [evil_member('%s/database.db' % top, 'symlink', linkname='/etc/passwd')] + m[1:],
    'hardlink': lambda top, m: m[:2] + [evil_member('%s/models/h' % top, 'hardlink')] + m[2:],
    'chardev': lambda top, m: m[:2] + [evil_member('%s/config/null' % top, 'chardev')] + m[2:],
    'blockdev': lambda top, m: m[:2] + [evil_member('%s/models/sda' % top, 'blockdev')] + m[2:],
    'fifo': lambda top, m: m[:2] + [evil_member('%s/config/fifo' % top, 'fifo')] + m[2:],
    'outside_layout': lambda top, m: m[:2] + [evil_member('%s/bin/evil.sh' % top)] + m[2:],
    'other_top': lambda top, m: m[:2] + [evil_member('inventory_backup_2020-01-01T00-00-00/database.db')] + m[2:],
    'duplicate_db': lambda top, m: m + [x for x in m if x[0].name.endswith('/database.db')],
    'no_manifest': lambda top, m: [x for x in m if not x[0].name.endswith('manifest.json')],
    'extra_member': lambda top, m: m[:-1] + [evil_member('%s/config/extra.json' % top)] + m[-1:],
}


@pytest.mark.parametrize('kind', sorted(EVIL))
def test_malicious_or_inconsistent_archives_are_refused_before_any_live_change(home, tmp_path, capsys, kind):
    path = _craft(home, tmp_path, EVIL[kind])
    write_rows(db_path(home), txlog_path(home), 2, start=21)
    before = live_hashes(home)
    failed, result = run(restore, dict(service_home=home, src=path,
                                       components=['database', 'transaction_log', 'config', 'models']), capsys)
    assert failed, result
    assert 'refused to restore' in result['msg'] and 'No live file was changed' in result['msg']
    assert live_hashes(home) == before
    assert result['rolled_back'] is False
    assert not os.path.exists(os.path.join(home, 'data', '.restore-safety'))
    for leftover in ('evil.txt', 'evil-absolute.txt'):
        assert not os.path.exists(os.path.join(str(tmp_path), leftover))
        assert not os.path.exists(os.path.join(home, leftover))
        assert not os.path.exists(os.path.join(os.path.dirname(home), leftover))
    assert not os.path.exists('/tmp/evil-absolute.txt')
    assert [n for n in os.listdir(os.path.join(home, 'data')) if n.startswith('.restore-work')] == []


@pytest.mark.parametrize('damage', ['truncated', 'bitflip', 'garbage'])
def test_damaged_archives_are_refused(home, tmp_path, capsys, damage):
    created = take_backup(home)
    data = bytearray(open(created['path'], 'rb').read())
    if damage == 'truncated':
        data = data[:len(data) * 2 // 3]
    elif damage == 'bitflip':
        data[len(data) // 2] ^= 0x10
    else:
        data = bytearray(b'not an archive at all' * 10)
    with open(created['path'], 'wb') as handle:
        handle.write(bytes(data))
    write_rows(db_path(home), txlog_path(home), 2, start=21)
    before = live_hashes(home)
    failed, result = run(restore, dict(service_home=home, src=created['path']), capsys)
    assert failed
    assert live_hashes(home) == before
    assert 'No live file was changed' in result['msg']


def test_corrupt_database_inside_a_consistent_archive_is_refused(home, tmp_path, capsys):
    """Checksums match the manifest, but the database itself is damaged: integrity_check stops it."""
    def corrupt(top, members):
        out = []
        import hashlib
        for info, data in members:
            if info.name.endswith('/database.db'):
                data = bytearray(data)
                page_size = 4096
                for i in range(page_size * 1 + 100, page_size * 2):  # wreck the second page
                    data[i] = 0xFF
                data = bytes(data)
                digest = hashlib.sha256(data).hexdigest()
            out.append((info, data))
        fixed = []
        for info, data in out:
            if info.name.endswith('/manifest.json'):
                manifest = json.loads(data)
                for entry in manifest['members']:
                    if entry['path'] == 'database.db':
                        entry['sha256'] = digest
                data = json.dumps(manifest).encode()
                info.size = len(data)
            fixed.append((info, data))
        return fixed
    path = _craft(home, tmp_path, corrupt)
    before = live_hashes(home)
    failed, result = run(restore, dict(service_home=home, src=path), capsys)
    assert failed
    assert 'integrity_check' in result['msg'] or 'row counts' in result['msg'] or 'database' in result['msg']
    assert live_hashes(home) == before


def test_newest_broken_archive_is_skipped_for_an_older_good_one(home, capsys):
    now = _backup_records.utc_now()
    import datetime
    good = take_backup(home, now=now - datetime.timedelta(days=1))
    write_rows(db_path(home), txlog_path(home), 4, start=21)
    bad = take_backup(home, now=now)
    with open(bad['path'], 'r+b') as handle:
        handle.truncate(bad['size'] // 2)
    failed, result = run(restore, dict(service_home=home), capsys)
    assert not failed, result
    assert result['archive'] == good['path']
    assert [r['name'] for r in result['rejected']] == [bad['name']]
    assert item_ids(home) == set(range(1, 21))


def test_failure_after_the_swap_puts_the_safety_copy_back_byte_for_byte(home, capsys, monkeypatch):
    take_backup(home)
    conn = dirty_live_db(home)
    conn.close()
    before = live_hashes(home)
    calls = []
    real = _sqlite.integrity_check

    def failing_on_live(path, immutable=True, quick=False):
        calls.append(path)
        if path == db_path(home):
            return ['*** in database main *** Page 2: simulated failure']
        return real(path, immutable, quick)

    monkeypatch.setattr(_sqlite, 'integrity_check', failing_on_live)
    failed, result = run(restore, dict(service_home=home), capsys)
    assert failed
    assert result['rolled_back'] is True and 'safety copy was put back' in result['msg']
    assert db_path(home) in calls
    assert live_hashes(home) == before


def test_rolled_back_state_undoes_a_completed_restore(home, capsys):
    take_backup(home)
    conn = dirty_live_db(home)
    conn.close()
    before = live_hashes(home)
    failed, result = run(restore, dict(service_home=home), capsys)
    assert not failed, result
    assert live_hashes(home) != before
    # The service started on the restored database and left a fresh -wal behind.
    with open(db_path(home) + '-wal', 'wb') as handle:
        handle.write(b'new wal of the restored database')
    failed, check = run(restore, dict(service_home=home, state='rolled_back'), capsys, check_mode=True)
    assert not failed and check['changed'] is True
    failed, back = run(restore, dict(service_home=home, state='rolled_back',
                                     safety_copy=result['safety_copy']), capsys)
    assert not failed, back
    assert back['rolled_back'] is True
    assert live_hashes(home) == before
    failed, again = run(restore, dict(service_home=home, state='rolled_back',
                                      safety_copy=result['safety_copy']), capsys)
    assert not failed and again['changed'] is False


def test_config_and_models_components(home, capsys):
    take_backup(home)
    with open(os.path.join(home, 'config', 'app.json'), 'w') as handle:
        handle.write('{"feature": false}\n')
    os.unlink(os.path.join(home, 'ai', 'models', 'prophet_ITEM-1.pkl'))
    failed, result = run(restore, dict(service_home=home, components=['database', 'config', 'models']), capsys)
    assert not failed, result
    assert open(os.path.join(home, 'config', 'app.json')).read() == '{"feature": true}\n'
    assert os.path.exists(os.path.join(home, 'ai', 'models', 'prophet_ITEM-1.pkl'))


def test_database_only_archive_leaves_the_log_alone(home, capsys):
    take_backup(home, database_only=True)
    write_rows(db_path(home), txlog_path(home), 2, start=21)
    log_before = sha256(txlog_path(home))
    failed, result = run(restore, dict(service_home=home), capsys)
    assert not failed, result
    assert sha256(txlog_path(home)) == log_before
    assert item_ids(home) == set(range(1, 21))


def test_no_archive_is_a_clear_error(home, capsys):
    failed, result = run(restore, dict(service_home=home), capsys)
    assert failed and 'no backup archive' in result['msg']


def test_member_validation_without_tarfile_filters():
    """_member_path on its own: the checks do not depend on tarfile's extraction filters."""
    state = dict(top=None, expected_top=None, seen=set())
    good = tarfile.TarInfo('inventory_backup_2025-01-07T02-00-00/database.db')
    assert _archive._member_path(good, state) == 'database.db'  # pylint: disable=protected-access
    for name in ('inventory_backup_2025-01-07T02-00-00/./x', 'inventory_backup_2025-01-07T02-00-00//database.db',
                 'inventory_backup_2025-01-07T02-00-00/config/..', 'C:/evil', 'inventory_backup_2025-01-07T02-00-00\\..\\x'):
        with pytest.raises(_archive.ArchiveRejected):
            _archive._member_path(tarfile.TarInfo(name), dict(state, seen=set()))  # pylint: disable=protected-access


@pytest.mark.skipif(os.geteuid() != 0, reason='changing file owners needs root')
def test_restored_files_keep_the_owner_and_mode_of_the_files_they_replace(home, capsys):
    """The module runs as root, the service as its own user: what is restored must stay the service's."""
    take_backup(home)
    service_uid, service_gid = 4321, 4322
    live = [db_path(home), txlog_path(home), os.path.join(home, 'config')]
    for path in live + [os.path.join(home, 'config', 'app.json'), os.path.dirname(db_path(home))]:
        os.chown(path, service_uid, service_gid)
    os.chmod(db_path(home), 0o640)
    write_rows(db_path(home), txlog_path(home), 3, start=21)
    failed, result = run(restore, dict(service_home=home, components=['database', 'transaction_log', 'config']),
                         capsys)
    assert not failed, result
    for path in live + [os.path.join(home, 'config', 'app.json')]:
        st = os.stat(path)
        assert (st.st_uid, st.st_gid) == (service_uid, service_gid), path
    assert os.stat(db_path(home)).st_mode & 0o777 == 0o640
    assert item_ids(home) == set(range(1, 21))


# --- identity, schema, bombs, live service, leftovers, errors (issue 10) ---------------------------------------

def other_home(tmp_path, name='other'):
    """A second deployment of the same service (its own data, its own deployment id)."""
    root = tmp_path / name
    root.mkdir()
    home = make_home(root)
    add_service_schema(db_path(home))
    return home


def test_archive_of_a_foreign_database_is_refused_although_its_manifest_is_consistent(home, tmp_path, capsys):
    """The collection's own writer, run on a database that is not the service's: every SHA-256, size and row
    count matches, yet it is not a backup of this service."""
    os.makedirs(str(tmp_path / 'foreign_root'))
    foreign = make_home(tmp_path / 'foreign_root')  # items and lines only: not the service's schema
    created = _archive.create_backup(_service_layout.service_paths(foreign), str(tmp_path), compression='gzip')
    assert _archive.verify_archive(created['path'], str(tmp_path))['ok']  # self-consistent
    take_backup(home)  # this deployment's id exists, and matches nothing foreign
    before = live_hashes(home)
    failed, result = run(restore, dict(service_home=home, src=created['path'], allow_cross_deployment=True), capsys)
    assert failed, result
    assert 'not an Inventory Enterprise database' in result['msg'] and 'table item_master' in result['msg']
    assert 'No live file was changed' in result['msg'] and result['changed'] is False
    assert live_hashes(home) == before


def test_archive_of_another_deployment_is_refused_unless_allowed(home, tmp_path, capsys):
    take_backup(home)
    mine = _service_layout.read_deployment_id(db_path(home))
    other = other_home(tmp_path)
    theirs = take_backup(other)
    assert _service_layout.read_deployment_id(db_path(other)) != mine
    write_rows(db_path(home), txlog_path(home), 2, start=21)
    before = live_hashes(home)
    failed, result = run(restore, dict(service_home=home, src=theirs['path']), capsys)
    assert failed, result
    assert 'another deployment' in result['msg'] and 'allow_cross_deployment' in result['msg']
    assert live_hashes(home) == before
    assert [n for n in os.listdir(os.path.join(home, 'data')) if n.startswith('.restore-')] == []

    failed, result = run(restore, dict(service_home=home, src=theirs['path'], allow_cross_deployment=True), capsys)
    assert not failed, result
    assert result['identity'] == dict(archive=theirs['manifest']['deployment_id'], target=mine, match='different',
                                      cross_deployment=True)
    assert 'cross-deployment' in result['msg']
    # The target keeps its own identity: a restore never rewrites it.
    assert _service_layout.read_deployment_id(db_path(home)) == mine


def test_same_deployment_and_targets_or_archives_without_an_id(home, tmp_path, capsys):
    created = take_backup(home)
    mine = _service_layout.read_deployment_id(db_path(home))
    assert created['manifest']['deployment_id'] == mine
    write_rows(db_path(home), txlog_path(home), 2, start=21)
    failed, result = run(restore, dict(service_home=home, src=created['path']), capsys)
    assert not failed, result
    assert result['identity'] == dict(archive=mine, target=mine, match='same', cross_deployment=False)

    # A target without an id was never backed up: an archive with an id cannot be its own.
    fresh = other_home(tmp_path, 'fresh')
    failed, result = run(restore, dict(service_home=fresh, src=created['path']), capsys)
    assert failed and 'has no deployment id' in result['msg'], result
    failed, result = run(restore, dict(service_home=fresh, src=created['path'], allow_cross_deployment=True), capsys)
    assert not failed and result['identity']['match'] == 'no_target_id' and result['identity']['cross_deployment']
    assert _service_layout.read_deployment_id(db_path(fresh)) is None

    # An archive made before deployment ids still restores, and the result says it was not matched.
    def legacy(top, members):
        out = []
        for info, data in members:
            if info.name.endswith('/manifest.json'):
                manifest = json.loads(data)
                del manifest['deployment_id']
                data = json.dumps(manifest).encode()
                info.size = len(data)
            out.append((info, data))
        return out
    path = _craft(home, tmp_path, legacy)
    failed, result = run(restore, dict(service_home=home, src=path), capsys)
    assert not failed, result
    assert result['identity'] == dict(archive=None, target=mine, match='no_archive_id', cross_deployment=False)
    assert 'predates deployment ids' in result['msg']


def test_deployment_id_is_written_once_atomically(home):
    assert _service_layout.read_deployment_id(db_path(home)) is None
    first, created = _service_layout.ensure_deployment_id(db_path(home))
    assert created and _service_layout.DEPLOYMENT_ID_RE.match(first)
    assert _service_layout.ensure_deployment_id(db_path(home)) == (first, False)
    assert [n for n in os.listdir(os.path.join(home, 'data')) if '.tmp-' in n] == []
    with open(_service_layout.deployment_id_path(db_path(home)), 'w') as handle:
        handle.write('not an id\n')
    with pytest.raises(_backup_records.BackupError, match='does not hold a deployment id'):
        _service_layout.read_deployment_id(db_path(home))


class ZeroReader(object):
    def __init__(self, size):
        self.left = size

    def read(self, size=-1):
        size = self.left if size is None or size < 0 else min(size, self.left)
        self.left -= size
        return bytes(size)


BOMB_SIZE = 1536 * 1024 * 1024


def write_bomb(home, tmp_path):
    """A real archive of `home` whose database.db member declares 1.5 GiB of zeros, the manifest left as it
    was (zstd: about 56 KB)."""
    import zstandard
    created = take_backup(home)
    members = read_members(created['path'])
    path = str(tmp_path / created['name'])
    os.unlink(created['path'])
    with open(path, 'wb') as raw:
        with zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False) as compressor:
            with tarfile.open(fileobj=compressor, mode='w|', format=tarfile.PAX_FORMAT) as tar:
                for info, data in members:
                    if info.name.endswith('/database.db'):
                        info.size = BOMB_SIZE
                        tar.addfile(info, ZeroReader(BOMB_SIZE))
                    else:
                        tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def test_decompression_bomb_is_refused_before_anything_is_written(home, tmp_path, capsys, monkeypatch):
    path = write_bomb(home, tmp_path)
    assert os.path.getsize(path) < 100 * 1024
    written = []
    real_write = _archive._safe_write  # pylint: disable=protected-access

    def recording_write(scratch, relpath, fileobj, size, durable=True):
        written.append((relpath, size))
        return real_write(scratch, relpath, fileobj, size, durable)

    monkeypatch.setattr(_archive, '_safe_write', recording_write)
    before = live_hashes(home)
    started = time.monotonic()
    failed, result = run(restore, dict(service_home=home, src=path), capsys)
    elapsed = time.monotonic() - started
    assert failed, result
    assert 'database.db is %d bytes in the archive, the manifest says' % BOMB_SIZE in result['msg'], result['msg']
    assert written == []
    assert live_hashes(home) == before
    assert [n for n in os.listdir(os.path.join(home, 'data')) if n.startswith('.restore-')] == []
    # The backup side's verification refuses it the same way.
    started_verify = time.monotonic()
    with pytest.raises(_archive.ArchiveRejected, match='the manifest says'):
        _archive.verify_archive(path, str(tmp_path))
    print('bomb of %d bytes refused by restore in %.2f s, by verify_archive in %.2f s'
          % (os.path.getsize(path), elapsed, time.monotonic() - started_verify))
    assert written == []


def test_members_that_do_not_fit_are_refused_before_extraction(home, tmp_path):
    created = take_backup(home)
    scratch = str(tmp_path / 'scratch')
    os.mkdir(scratch)
    free = os.statvfs(scratch).f_bavail * os.statvfs(scratch).f_frsize
    with pytest.raises(_backup_records.BackupError, match='MiB free'):
        _archive.check_space(scratch, free)
    _archive.read_archive(created['path'], scratch, extract={'database.db'})  # fits


HOLDER = '''
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1])
conn.execute('SELECT count(*) FROM items').fetchone()
print('ready', flush=True)
sys.stdin.read()
'''


def test_a_process_holding_the_database_open_is_refused_unless_allowed(home, capsys):
    import subprocess
    import sys
    take_backup(home)
    write_rows(db_path(home), txlog_path(home), 2, start=21)
    holder = subprocess.Popen([sys.executable, '-c', HOLDER, db_path(home)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b'ready'
        before = live_hashes(home)
        failed, result = run(restore, dict(service_home=home), capsys)
        assert failed, result
        assert 'pid %d' % holder.pid in result['msg'] and 'stop the service first' in result['msg']
        assert result['changed'] is False and live_hashes(home) == before
        # Check mode (a playbook's "stop the service" stopped nothing) predicts, listing the holders.
        failed, result = run(restore, dict(service_home=home), capsys, check_mode=True)
        assert not failed and result['changed'] is True, result
        assert [h['pid'] for h in result['holders']] == [holder.pid] and live_hashes(home) == before
        failed, result = run(restore, dict(service_home=home, allow_open_database=True), capsys)
        assert not failed, result
        assert [h['pid'] for h in result['holders']] == [holder.pid]
        assert item_ids(home) == set(range(1, 21))
    finally:
        holder.stdin.close()
        holder.wait()


def test_scratch_of_a_killed_restore_is_removed_by_the_next_run(home, capsys):
    import subprocess
    import sys
    take_backup(home)
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    stale = os.path.join(home, 'data', '.restore-work-%d' % dead.pid)
    os.mkdir(stale)
    with open(os.path.join(stale, 'database.db'), 'wb') as handle:
        handle.write(bytes(1024 * 1024))
    mine = os.path.join(home, 'data', '.restore-work-%d' % os.getppid())  # a live process: kept
    os.mkdir(mine)
    failed, result = run(restore, dict(service_home=home), capsys)
    assert not failed, result
    assert not os.path.exists(stale) and result['leftovers_removed'] == [stale]
    assert os.path.isdir(mine)
    os.rmdir(mine)
    # Again, onto live files that now equal the archive: removing a leftover is bookkeeping, not a change.
    os.mkdir(stale)
    failed, result = run(restore, dict(service_home=home), capsys)
    assert not failed and result['leftovers_removed'] == [stale] and result['changed'] is False, result


def test_nothing_to_change_reports_the_check_it_ran(home, capsys, monkeypatch):
    created = take_backup(home)
    failed, result = run(restore, dict(service_home=home, src=created['path']), capsys)
    assert not failed and result['changed'] is True  # the snapshot's header differs from the live file's
    checked = []
    real = _sqlite.integrity_check

    def recording(path, immutable=True, quick=False):
        checked.append((path, quick))
        return real(path, immutable, quick)

    monkeypatch.setattr(_sqlite, 'integrity_check', recording)
    for post_check in ('quick_check', 'integrity_check'):
        failed, result = run(restore, dict(service_home=home, src=created['path'], post_check=post_check), capsys)
        assert not failed and result['changed'] is False, result
        assert result['integrity_check'] == 'ok' and result['post_check'] == post_check
        assert 'PRAGMA %s of the live database: ok' % post_check in result['msg']
        assert (db_path(home), post_check == 'quick_check') in checked


def test_permission_denied_is_a_clear_failure(home, tmp_path):
    """Run in a process that obeys file modes, against a database directory it may read but not write."""
    take_backup(home)
    write_rows(db_path(home), txlog_path(home), 2, start=21)
    before = live_hashes(home)
    data = os.path.dirname(db_path(home))
    os.chmod(data, 0o555)
    try:
        result = run_obeying_file_modes('restore', str(tmp_path), dict(service_home=home))
    finally:
        os.chmod(data, 0o755)
    assert result['failed'], result
    assert 'Permission denied' in result['msg'] and 'run the restore as root' in result['msg'], result['msg']
    assert result['changed'] is False and result['rolled_back'] is False
    assert live_hashes(home) == before


def test_restore_over_a_corrupt_live_database(home, capsys):
    """The guide's "Database corruption -> Restore": garbage where the database was, and a garbage -wal."""
    take_backup(home)
    with open(db_path(home), 'r+b') as handle:
        handle.write(b'\xff' * 8192)
    with open(db_path(home) + '-wal', 'wb') as handle:
        handle.write(b'garbage wal' * 100)
    assert _sqlite.integrity_check(db_path(home))[0].startswith('cannot check')
    failed, result = run(restore, dict(service_home=home), capsys)
    assert not failed, result
    assert result['integrity_check'] == 'ok' and item_ids(home) == set(range(1, 21))
    assert any(n.endswith('enterprise_inventory.db-wal') for n in os.listdir(result['safety_copy']))
