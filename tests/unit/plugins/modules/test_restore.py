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

import json
import os
import sqlite3
import tarfile

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _sqlite
from ansible_collections.inventory_enterprise.ops.plugins.modules import restore
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_backup_support import (
    db_path, evil_member, live_hashes, make_home, read_members, run, sha256, txlog_path, write_rows, write_tar_gz)


def add_service_schema(db):
    """The service's tables and indexes (names from _sqlite, columns minimal), as every real service database
    has them; the test homes' own items/lines tables carry the data."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        for table in _sqlite.SERVICE_TABLES:
            conn.execute('CREATE TABLE IF NOT EXISTS %s (id INTEGER PRIMARY KEY, k TEXT)' % table)
        for index, table in _sqlite.SERVICE_INDEXES.items():
            conn.execute('CREATE INDEX IF NOT EXISTS %s ON %s(k)' % (index, table))
    finally:
        conn.close()


@pytest.fixture
def home(tmp_path):
    home = make_home(tmp_path)
    add_service_schema(db_path(home))
    return home


def take_backup(home, compression='zstd', **kwargs):
    paths = _archive.service_paths(home)
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
    now = _archive.utc_now()
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
