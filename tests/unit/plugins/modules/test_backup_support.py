# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Helpers for the backup and restore unit tests: a small service home with a real SQLite database in WAL
mode, a transaction log, configuration and models; running a module's main(); crafting archives."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import io
import json
import os
import sqlite3
import tarfile

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _sqlite
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module


def write_rows(db_path, txlog_path, count, start=1):
    """Commit `count` rows, logging each after its commit, as the service does."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        with open(txlog_path, 'ab') as log:
            for seq in range(start, start + count):
                conn.execute('BEGIN IMMEDIATE')
                conn.execute('INSERT INTO items (id, code, qty) VALUES (?, ?, ?)', (seq, 'ITEM-%05d' % seq, seq * 1.5))
                conn.execute('INSERT INTO lines (item_id, note) VALUES (?, ?)', (seq, 'note %d' % seq))
                conn.execute('COMMIT')
                log.write(json.dumps({'seq': seq, 'ts': '2025-01-07T02:00:00.000Z', 'op': 'item.create',
                                      'user': 'admin', 'data': {'id': seq}}).encode() + b'\n')
                log.flush()
    finally:
        conn.close()


def make_home(root, rows=20):
    home = os.path.join(str(root), 'home')
    for sub in ('data', 'logs', 'backups', 'config', 'ai/models'):
        os.makedirs(os.path.join(home, sub))
    with open(os.path.join(home, '.env'), 'w') as handle:
        handle.write('PORT=8083\nJWT_SECRET="unit-test-secret-0123456789"\nBACKUP_DIR=backups\n')
    with open(os.path.join(home, 'config', 'app.json'), 'w') as handle:
        handle.write('{"feature": true}\n')
    with open(os.path.join(home, 'ai', 'models', 'prophet_ITEM-1.pkl'), 'wb') as handle:
        handle.write(os.urandom(2048))
    db = os.path.join(home, 'data', 'enterprise_inventory.db')
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute('PRAGMA journal_mode=WAL')
    conn.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, code TEXT UNIQUE NOT NULL, qty REAL)')
    conn.execute('CREATE TABLE lines (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL, note TEXT)')
    conn.execute('CREATE INDEX idx_lines_item ON lines(item_id)')
    conn.close()
    write_rows(db, os.path.join(home, 'data', 'transaction_log.jsonl'), rows)
    return home


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


def db_path(home):
    return os.path.join(home, 'data', 'enterprise_inventory.db')


def txlog_path(home):
    return os.path.join(home, 'data', 'transaction_log.jsonl')


def sha256(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def tree_hashes(root):
    """{relative path: sha256} of every file below root (the live files of a home)."""
    found = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                found[os.path.relpath(full, root)] = 'link:' + os.readlink(full)
            else:
                found[os.path.relpath(full, root)] = sha256(full)
    return found


def live_hashes(home):
    """Hashes of everything a restore may touch (not backups/ or logs/)."""
    result = {}
    for sub in ('data', 'config', 'ai'):
        for rel, digest in tree_hashes(os.path.join(home, sub)).items():
            if rel.startswith('.restore-safety'):
                continue
            result[os.path.join(sub, rel)] = digest
    result['.env'] = sha256(os.path.join(home, '.env'))
    return result


def run(module, args, capsys, check_mode=False):
    """Run a module's main() in-process; returns (failed, result)."""
    return run_module(module, args, capsys, check_mode=check_mode)


def read_members(archive):
    """[(TarInfo, bytes)] of a gzip or zstd archive, read with tarfile (test side only)."""
    with open(archive, 'rb') as handle:
        raw = handle.read()
    if raw.startswith(b'\x28\xb5\x2f\xfd'):
        import zstandard
        raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    else:
        import gzip
        raw = gzip.decompress(raw)
    found = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode='r:') as tar:
        for info in tar:
            data = tar.extractfile(info).read() if info.isreg() else None
            found.append((info, data))
    return found


def write_tar_gz(path, members):
    """members: [(TarInfo, bytes or None)] written as a gzip tar, in that order."""
    with tarfile.open(path, 'w:gz', format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def evil_member(name, kind='file', data=b'evil\n', linkname=''):
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    if kind == 'file':
        info.size = len(data)
        return info, data
    if kind == 'symlink':
        info.type, info.linkname = tarfile.SYMTYPE, linkname or '/etc/passwd'
    elif kind == 'hardlink':
        info.type, info.linkname = tarfile.LNKTYPE, linkname or '/etc/passwd'
    elif kind == 'chardev':
        info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    elif kind == 'blockdev':
        info.type, info.devmajor, info.devminor = tarfile.BLKTYPE, 8, 0
    elif kind == 'fifo':
        info.type = tarfile.FIFOTYPE
    elif kind == 'dir':
        info.type = tarfile.DIRTYPE
    return info, None


def make_archive(home, hours_ago, verified=True):
    """A real archive of `home` whose name says it was taken `hours_ago` hours ago; with `verified`, verified
    and recorded in backups/.verified/ as the backup module does (state=verified, or verify=true)."""
    import datetime
    from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records, _service_layout
    paths = _service_layout.service_paths(home)
    stamp = _backup_records.utc_now() - datetime.timedelta(hours=hours_ago)
    created = _archive.create_backup(paths, paths['backup_dir'], now=stamp)
    if verified:
        _backup_records.write_marker(created['path'], _archive.verify_archive(created['path'], paths['backup_dir']))
    return created['path']
