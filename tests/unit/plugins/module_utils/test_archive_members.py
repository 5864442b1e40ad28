# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Member validation of the backup archive reader, table by table, on real tar streams written here.

Every hostile or malformed member is put into an otherwise valid archive whose manifest lists it, so the
only reason the archive can be refused is the member itself. Only read_archive is imported: when the archive
code is split, only the import line changes.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest
import zstandard

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._archive import (
    ArchiveRejected,
    read_archive,
)

TOP = 'inventory_backup_2025-01-02T03-04-05'
OTHER_TOP = 'inventory_backup_2024-12-31T23-59-59'
ARCHIVE = TOP + '.tar.gz'
DB = b'SQLite format 3\x00' + b'\x00' * 84


def member(name, data=b'', kind=tarfile.REGTYPE, linkname='', mode=0o600):
    """(TarInfo, data): a member as a crafted archive would carry it."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = 1735786800
    info.linkname = linkname
    info.size = len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE) else 0
    return info, data


def directory(name):
    return member(name, kind=tarfile.DIRTYPE, mode=0o700)


def manifest_for(entries, top=TOP, txlog=None):
    """The manifest the backup module writes, listing every regular file below the top folder."""
    members = []
    for info, data in entries:
        parts = info.name.rstrip('/').split('/')
        if info.isdir() or len(parts) < 2:
            continue
        members.append(dict(path='/'.join(parts[1:]), size=len(data), sha256=hashlib.sha256(data).hexdigest()))
    return dict(format='inventory-enterprise-backup', format_version=1, name=top, members=members,
                transaction_log=txlog, database=dict(path='database.db', tables={}))


def write_archive(directory_path, entries, name=ARCHIVE, manifest=None, tar_format=tarfile.PAX_FORMAT,
                  compression='gzip'):
    """A real archive file: `entries` in order, then manifest.json (the backup module's order)."""
    entries = list(entries)
    if manifest is None:
        manifest = manifest_for(entries)
    if manifest is not False:
        data = json.dumps(manifest).encode('utf-8')
        entries.append(member('%s/manifest.json' % (manifest.get('name') or TOP), data))
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode='w', format=tar_format) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.size else None)
    if compression == 'zstd':
        packed = zstandard.ZstdCompressor().compress(plain.getvalue())
    else:
        packed = gzip.compress(plain.getvalue())
    path = os.path.join(str(directory_path), name)
    with open(path, 'wb') as handle:
        handle.write(packed)
    return path


def base(*extra):
    return [directory(TOP), member(TOP + '/database.db', DB)] + list(extra)


# (id, entries, archive name, fragment of the refusal)
REFUSED = [
    ('absolute path', base(member('/etc/cron.d/evil', b'x')), ARCHIVE, 'has an absolute path'),
    ('absolute path under the top name', base(member('/' + TOP + '/.env', b'x')), ARCHIVE, 'has an absolute path'),
    ('windows drive path', base(member('C:/Windows/evil', b'x')), ARCHIVE, 'has an absolute path'),
    ('backslash in the name', base(member(TOP + '\\..\\evil', b'x')), ARCHIVE, 'has an invalid name'),
    ('empty name', base(member('', b'x')), ARCHIVE, 'has an invalid name'),
    ('dot-dot escaping the top folder', base(member(TOP + '/../evil', b'x')), ARCHIVE, '".." path component'),
    ('dot-dot inside a tree', base(member(TOP + '/config/../../evil', b'x')), ARCHIVE, '".." path component'),
    ('dot component', base(member(TOP + '/./database.db', b'x')), ARCHIVE, '".." path component'),
    ('empty component', base(member(TOP + '//config/a.yml', b'x')), ARCHIVE, '".." path component'),
    ('symbolic link', base(member(TOP + '/config/app.yml', kind=tarfile.SYMTYPE, linkname='/etc/shadow')),
     ARCHIVE, 'is a symbolic link'),
    ('symbolic link as a file of the layout', [directory(TOP), member(TOP + '/database.db', kind=tarfile.SYMTYPE,
                                                                      linkname='/tmp/db')], ARCHIVE,
     'is a symbolic link'),
    ('hard link', base(member(TOP + '/models/m.bin', kind=tarfile.LNKTYPE, linkname=TOP + '/database.db')),
     ARCHIVE, 'is a hard link'),
    ('character device', base(member(TOP + '/config/null', kind=tarfile.CHRTYPE)), ARCHIVE, 'is a device or FIFO'),
    ('block device', base(member(TOP + '/config/sda', kind=tarfile.BLKTYPE)), ARCHIVE, 'is a device or FIFO'),
    ('FIFO', base(member(TOP + '/config/pipe', kind=tarfile.FIFOTYPE)), ARCHIVE, 'is a device or FIFO'),
    ('sparse file', [directory(TOP), member(TOP + '/database.db', kind=tarfile.GNUTYPE_SPARSE)], ARCHIVE,
     'has an unexpected type'),
    ('unknown member type', base(member(TOP + '/config/x', kind=b'Z')), ARCHIVE, 'has an unexpected type'),
    ('regular file carrying a link name', base(member(TOP + '/config/a.yml', b'x', linkname='/etc/passwd')),
     ARCHIVE, 'has an unexpected type'),
    ('outside any top folder', base(member('evil.sh', b'x')), ARCHIVE, 'outside the expected top folder'),
    ('top folder of another name', [directory('backup'), member('backup/database.db', DB)], ARCHIVE,
     'outside the expected top folder'),
    ('second top folder', base(member(OTHER_TOP + '/database.db', DB)), ARCHIVE, 'is outside the top folder'),
    ('top folder other than the archive name', [directory(OTHER_TOP), member(OTHER_TOP + '/database.db', DB)],
     ARCHIVE, 'does not match the archive name'),
    ('top folder is a file', [member(TOP, b'x')], ARCHIVE, 'the top folder must be a directory'),
    ('duplicate member', base(member(TOP + '/database.db', DB)), ARCHIVE, 'appears twice'),
    ('duplicate file in a tree', base(member(TOP + '/config/a.yml', b'1'), member(TOP + '/config/a.yml', b'2')),
     ARCHIVE, 'appears twice'),
    ('unexpected file at the top', base(member(TOP + '/passwd', b'x')), ARCHIVE, 'outside the expected layout'),
    ('unexpected directory at the top', base(directory(TOP + '/etc')), ARCHIVE, 'outside the expected layout'),
    ('layout file nested too deep', base(member(TOP + '/data/database.db', DB)), ARCHIVE,
     'outside the expected layout'),
    ('layout file that is a directory', [directory(TOP), directory(TOP + '/database.db')], ARCHIVE,
     'must be a regular file'),
    ('member after the manifest', 'after-manifest', ARCHIVE, 'comes after manifest.json'),
]


@pytest.mark.parametrize('entries, name, refusal', [row[1:] for row in REFUSED], ids=[row[0] for row in REFUSED])
def test_hostile_or_malformed_member_is_refused(tmp_path, entries, name, refusal):
    scratch = tmp_path / 'scratch'
    scratch.mkdir()
    if entries == 'after-manifest':
        entries = base()
        manifest = manifest_for(entries)
        entries.append(member(TOP + '/manifest.json', json.dumps(manifest).encode('utf-8')))
        entries.append(member(TOP + '/.env', b'A=1\n'))
        path = write_archive(tmp_path, entries, name, manifest=False)
    else:
        path = write_archive(tmp_path, entries, name)
    with pytest.raises(ArchiveRejected) as caught:
        read_archive(path, str(scratch), extract=True, durable=False)
    assert refusal in str(caught.value)
    # Refused before a single byte was written.
    assert os.listdir(str(scratch)) == []


TXLOG = b'{"seq": 1}\n{"seq": 2}\n'
# (id, entries, archive name, tar format, compression, transaction_log of the manifest, relative paths read)
ACCEPTED = [
    ('database only', base(), ARCHIVE, tarfile.PAX_FORMAT, 'gzip', None, ['database.db']),
    ('full layout', base(member(TOP + '/transaction_log.jsonl', TXLOG), member(TOP + '/.env', b'DATABASE_PATH=x\n'),
                         directory(TOP + '/config'), member(TOP + '/config/app.yml', b'a: 1\n'),
                         directory(TOP + '/config/sub'), member(TOP + '/config/sub/b.json', b'{}'),
                         directory(TOP + '/models'), member(TOP + '/models/model.bin', b'\x00\x01'),
                         member(TOP + '/models/.hidden', b'h')),
     ARCHIVE, tarfile.PAX_FORMAT, 'gzip', dict(offset=len(TXLOG), lines=2),
     ['.env', 'config/app.yml', 'config/sub/b.json', 'database.db', 'models/.hidden', 'models/model.bin',
      'transaction_log.jsonl']),
    ('directory names with a trailing slash', [directory(TOP + '/'), member(TOP + '/database.db', DB),
                                               directory(TOP + '/config/'), member(TOP + '/config/a.yml', b'1')],
     ARCHIVE, tarfile.PAX_FORMAT, 'gzip', None, ['config/a.yml', 'database.db']),
    ('no directory members at all', [member(TOP + '/database.db', DB), member(TOP + '/models/m', b'm')],
     ARCHIVE, tarfile.PAX_FORMAT, 'gzip', None, ['database.db', 'models/m']),
    ('empty trees', base(directory(TOP + '/config'), directory(TOP + '/models')), ARCHIVE, tarfile.PAX_FORMAT,
     'gzip', None, ['database.db']),
    ('empty transaction log', base(member(TOP + '/transaction_log.jsonl', b'')), ARCHIVE, tarfile.PAX_FORMAT,
     'gzip', dict(offset=0, lines=0), ['database.db', 'transaction_log.jsonl']),
    ('ustar format', base(member(TOP + '/.env', b'K=v\n')), ARCHIVE, tarfile.USTAR_FORMAT, 'gzip', None,
     ['.env', 'database.db']),
    ('gnu format with a long name', base(member(TOP + '/config/' + 'x' * 150 + '.yml', b'long')), ARCHIVE,
     tarfile.GNU_FORMAT, 'gzip', None, ['config/' + 'x' * 150 + '.yml', 'database.db']),
    ('old-style regular file type', [directory(TOP), member(TOP + '/database.db', DB, kind=tarfile.AREGTYPE)],
     ARCHIVE, tarfile.USTAR_FORMAT, 'gzip', None, ['database.db']),
    ('unicode file name', base(member(TOP + '/config/\u00e9t\u00e9.yml', b'e')), ARCHIVE, tarfile.PAX_FORMAT,
     'gzip', None, ['config/\u00e9t\u00e9.yml', 'database.db']),
    ('zstd compression', base(), TOP + '.tar.zst', tarfile.PAX_FORMAT, 'zstd', None, ['database.db']),
    ('archive renamed: any one valid top folder', base(), 'copy-of-backup.tar.gz', tarfile.PAX_FORMAT, 'gzip',
     None, ['database.db']),
]


@pytest.mark.parametrize('entries, name, tar_format, compression, txlog, expected',
                         [row[1:] for row in ACCEPTED], ids=[row[0] for row in ACCEPTED])
def test_accepted_member_forms_are_read_and_extracted(tmp_path, entries, name, tar_format, compression, txlog,
                                                      expected):
    scratch = tmp_path / 'scratch'
    scratch.mkdir()
    path = write_archive(tmp_path, entries, name, manifest=manifest_for(entries, txlog=txlog),
                         tar_format=tar_format, compression=compression)
    result = read_archive(path, str(scratch), extract=True, durable=False)
    assert result['top'] == TOP
    assert result['compression'] == compression
    assert sorted(result['members']) == expected
    files = dict((info.name.split('/', 1)[1], data) for info, data in entries if info.isfile())
    for relpath in expected:
        with open(result['extracted'][relpath], 'rb') as handle:
            assert handle.read() == files[relpath]
        assert result['extracted'][relpath] == os.path.join(str(scratch), *relpath.split('/'))
        assert result['members'][relpath]['sha256'] == hashlib.sha256(files[relpath]).hexdigest()


def test_headers_are_checked_without_extracting(tmp_path):
    """extract=None reads and checks every member but writes nothing (the verify path)."""
    entries = base(member(TOP + '/config/a.yml', b'1'))
    path = write_archive(tmp_path, entries)
    result = read_archive(path)
    assert sorted(result['members']) == ['config/a.yml', 'database.db'] and result['extracted'] == {}
    with pytest.raises(ArchiveRejected, match='symbolic link'):
        read_archive(write_archive(tmp_path, base(member(TOP + '/config/l', kind=tarfile.SYMTYPE, linkname='/')),
                                   name=TOP + '.tar.gz'))
