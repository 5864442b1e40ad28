# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""backup_encryption against real archives and real age keys generated here: the secret of the archived
.env cannot be read from the encrypted copy, only the identity opens it, a wrong key and a tampered or
truncated copy are refused with a clear message and nothing written, check mode writes nothing, memory
stays flat.

Run: cd /work/main && PYTHONPATH=build/collections .venv/bin/python -m pytest tests/unit/plugins/modules/test_backup_encryption.py -q
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import gzip
import os
import stat
import subprocess
import sys

import pytest
import pyrage
from pyrage import x25519

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records, _service_layout
from ansible_collections.inventory_enterprise.ops.plugins.modules import backup_encryption
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_backup_support import (
    make_home, sha256)
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

SECRET = b'unit-test-secret-0123456789'  # the JWT_SECRET of make_home's .env


def readable(path):
    """The bytes of `path`, decompressed when it is a zstd or gzip stream: what anyone holding it can read."""
    with open(path, 'rb') as handle:
        raw = handle.read()
    if raw.startswith(_archive.ZSTD_MAGIC):
        import zstandard
        return raw + zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    if raw.startswith(_archive.GZIP_MAGIC):
        return raw + gzip.decompress(raw)
    return raw


@pytest.fixture
def archive(tmp_path):
    home = make_home(tmp_path)
    paths = _service_layout.service_paths(home)
    return _archive.create_backup(paths, paths['backup_dir'])['path']


@pytest.fixture
def key():
    return x25519.Identity.generate()


def run(args, capsys, check_mode=False):
    return run_module(backup_encryption, args, capsys, check_mode=check_mode, keep_raw=True)


def encrypt(archive, key, capsys, **extra):
    failed, result = run(dict(src=archive, recipients=[str(key.to_public())], **extra), capsys)
    assert not failed, result
    return result


def flip_byte(path, offset):
    with open(path, 'r+b') as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))


def test_the_encrypted_copy_hides_the_secret_and_only_the_identity_opens_it(archive, key, capsys, tmp_path):
    assert SECRET in readable(archive)  # the plaintext archive gives the secret away
    result = encrypt(archive, key, capsys)
    dest = archive + '.age'
    assert result['changed'] and result['dest'] == dest and result['src'] == archive
    assert result['recipients'] == [str(key.to_public())]
    assert result['sha256'] == sha256(dest) and result['size'] == os.path.getsize(dest)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert SECRET not in readable(dest)
    with open(dest, 'rb') as handle:
        assert handle.read(22) == b'age-encryption.org/v1\n'
    # Opened with pyrage directly, not with the module: byte-identical to the archive.
    out = str(tmp_path / 'plain')
    pyrage.decrypt_file(dest, out, [key])
    assert sha256(out) == sha256(archive)
    assert [n for n in os.listdir(os.path.dirname(dest)) if '.partial-' in n] == []


def test_decrypt_gives_back_a_verifiable_archive_and_is_idempotent(archive, key, capsys, tmp_path):
    encrypt(archive, key, capsys)
    plain = str(tmp_path / os.path.basename(archive))
    args = dict(state='decrypted', src=archive + '.age', dest=plain, identity=str(key))
    failed, result = run(args, capsys)
    assert not failed and result['changed'], result
    assert sha256(plain) == sha256(archive) == result['sha256']
    assert result['size'] == os.path.getsize(archive)
    assert _archive.verify_archive(plain, str(tmp_path))['ok']
    assert str(key) not in result['_raw']
    failed, again = run(args, capsys)
    assert not failed and not again['changed'], again
    assert again['sha256'] == result['sha256']


def test_encrypt_with_the_identity_keeps_an_up_to_date_copy(archive, key, capsys):
    first = encrypt(archive, key, capsys, identity=str(key))
    assert first['recipients'] == [str(key.to_public())]  # the identity's own public key is not added twice
    failed, second = run(dict(src=archive, identity=str(key)), capsys)
    assert not failed and not second['changed'], second
    assert second['sha256'] == first['sha256'] == sha256(archive + '.age')
    # Without the identity the copy cannot be read back, so it is encrypted again.
    third = encrypt(archive, key, capsys)
    assert third['changed'] and third['sha256'] != first['sha256']


def test_an_age_keygen_key_file_works_as_it_is(archive, key, capsys, tmp_path):
    keyfile = '# created: 2025-01-07T02:00:00Z\n# public key: %s\n%s\n' % (key.to_public(), key)
    failed, result = run(dict(src=archive, identity=keyfile), capsys)
    assert not failed and result['recipients'] == [str(key.to_public())], result
    failed, result = run(dict(state='decrypted', src=archive + '.age', dest=str(tmp_path / 'x'), identity=keyfile),
                         capsys)
    assert not failed and result['sha256'] == sha256(archive), result


def test_check_mode_writes_nothing(archive, key, capsys, tmp_path):
    failed, result = run(dict(src=archive, recipients=[str(key.to_public())]), capsys, check_mode=True)
    assert not failed and result['changed'] and 'sha256' not in result, result
    assert not os.path.exists(archive + '.age')
    encrypt(archive, key, capsys)
    plain = str(tmp_path / 'plain.tar.zst')
    failed, result = run(dict(state='decrypted', src=archive + '.age', dest=plain, identity=str(key)), capsys,
                         check_mode=True)
    assert not failed and result['changed'] and result['sha256'] == sha256(archive), result
    assert os.listdir(str(tmp_path)) == ['home']


def test_a_wrong_key_is_a_clear_error_and_writes_nothing(archive, key, capsys, tmp_path):
    encrypt(archive, key, capsys)
    other = x25519.Identity.generate()
    plain = str(tmp_path / 'plain.tar.zst')
    for check_mode in (True, False):
        failed, result = run(dict(state='decrypted', src=archive + '.age', dest=plain, identity=str(other)), capsys,
                             check_mode=check_mode)
        assert failed and not result['changed'], result
        assert result['msg'].startswith('no identity matches %s.age' % archive), result['msg']
        assert 'Traceback' not in result['_raw'] and str(other) not in result['_raw']
        assert os.listdir(str(tmp_path)) == ['home']


@pytest.mark.parametrize('where, message', [
    ('payload', 'failed authentication'),
    ('last byte', 'failed authentication'),
    ('header MAC', 'altered age header'),
    ('truncated', 'failed authentication'),
])
def test_a_tampered_copy_is_refused_and_nothing_is_written(archive, key, capsys, tmp_path, where, message):
    encrypt(archive, key, capsys)
    copy = archive + '.age'
    size = os.path.getsize(copy)
    if where == 'payload':
        flip_byte(copy, size // 2)
    elif where == 'last byte':
        flip_byte(copy, size - 1)
    elif where == 'header MAC':
        with open(copy, 'rb') as handle:
            mac_line = handle.read(400).index(b'\n--- ') + 6
        flip_byte(copy, mac_line)
    else:
        with open(copy, 'r+b') as handle:
            handle.truncate(size - 100)
    plain = str(tmp_path / 'plain.tar.zst')
    failed, result = run(dict(state='decrypted', src=copy, dest=plain, identity=str(key)), capsys)
    assert failed and not result['changed'], result
    assert message in result['msg'] and copy in result['msg'], result['msg']
    assert 'Traceback' not in result['_raw']
    assert os.listdir(str(tmp_path)) == ['home']  # no plaintext, not even a partial file


def test_not_an_age_file_and_bad_keys_are_clear_errors(archive, key, capsys, tmp_path):
    failed, result = run(dict(state='decrypted', src=archive, dest=str(tmp_path / 'x'), identity=str(key)), capsys)
    assert failed and 'is not an age-encrypted file' in result['msg'], result
    bad = 'AGE-SECRET-KEY-1NOTAKEYQQQQQQQQQQQQQQQQQQQQ'
    failed, result = run(dict(src=archive, identity=bad), capsys)
    assert failed and 'line 1 of the identity is not an age X25519 secret key' in result['msg'], result
    assert bad not in result['_raw']
    failed, result = run(dict(src=archive, recipients=['age1nope']), capsys)
    assert failed and 'is not an age X25519 public key' in result['msg'], result
    failed, result = run(dict(src=archive), capsys)
    assert failed and 'needs recipients' in result['msg'], result
    failed, result = run(dict(src=archive, dest=str(tmp_path / 'missing' / 'x.age'), identity=str(key)), capsys)
    assert failed and 'does not exist: create it first' in result['msg'], result
    failed, result = run(dict(state='decrypted', src=archive, identity=str(key)), capsys)
    assert failed and 'dest is required' in result['msg'], result
    assert not os.path.exists(archive + '.age')


def test_partial_files_of_killed_runs_are_removed(archive, key, capsys):
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    partial = os.path.join(os.path.dirname(archive), '.%s.age.partial-%d' % (os.path.basename(archive), dead.pid))
    with open(partial, 'wb') as handle:
        handle.write(b'half a copy')
    result = encrypt(archive, key, capsys)
    assert result['partials_removed'] == [partial] and not os.path.exists(partial)


def test_memory_stays_flat_for_a_large_file(key, tmp_path):
    big = str(tmp_path / 'big')
    with open(big, 'wb') as handle:
        for dummy in range(192):
            handle.write(os.urandom(1024 * 1024))
    code = ('import resource, sys; from pyrage import x25519; '
            'from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _encryption as e; '
            'before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; '
            'i = x25519.Identity.from_str(sys.argv[2]); '
            'e.encrypt_file(sys.argv[1], sys.argv[1] + ".age", [i.to_public()]); '
            'e.decrypt_file(sys.argv[1] + ".age", sys.argv[1] + ".out", [i]); '
            'print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)')
    grown = subprocess.run([sys.executable, '-c', code, big, str(key)], check=True, capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert int(grown.stdout) < 32, 'peak RSS grew by %s MiB for a 192 MiB file' % grown.stdout
    assert sha256(big) == sha256(big + '.out')


def encrypted_copy(directory, home, days_ago, key, checksum=True):
    """An off-site copy as the role leaves it: <archive>.age and its sha256sum file, no plaintext."""
    paths = _service_layout.service_paths(home)
    created = _archive.create_backup(paths, str(directory), now=_backup_records.utc_now() - datetime.timedelta(days=days_ago))
    copy = created['path'] + '.age'
    pyrage.encrypt_file(created['path'], copy, [key.to_public()])
    os.unlink(created['path'])
    if checksum:
        with open(copy + '.sha256', 'w') as handle:
            handle.write('%s  %s\n' % (sha256(copy), os.path.basename(copy)))
    return copy


def test_offsite_retention_counts_encrypted_copies(tmp_path, key, capsys):
    from ansible_collections.inventory_enterprise.ops.plugins.modules import backup
    home = make_home(tmp_path)
    offsite = tmp_path / 'offsite'
    offsite.mkdir()
    damaged = encrypted_copy(offsite, home, 1, key)
    anchor = encrypted_copy(offsite, home, 2, key)
    kept = encrypted_copy(offsite, home, 60, key)
    old = encrypted_copy(offsite, home, 100, key)
    unconfirmed = encrypted_copy(offsite, home, 120, key, checksum=False)
    flip_byte(damaged, os.path.getsize(damaged) // 2)
    # Local listings (restore, health_check, verify) never see encrypted copies.
    assert _backup_records.list_backups(str(offsite)) == []
    args = dict(state='pruned', dest=str(offsite), retention_days=90)
    failed, result = run_module(backup, args, capsys, check_mode=True)
    assert not failed and result['changed'], result
    assert os.path.exists(old) and not os.path.isdir(str(offsite / '.verified'))
    failed, result = run_module(backup, args, capsys)
    assert not failed, result
    assert result['kept_anchor'] == os.path.basename(anchor)
    assert sorted(result['pruned']) == sorted([os.path.basename(old), os.path.basename(unconfirmed)])
    assert [r['name'] for r in result['rejected']] == [os.path.basename(damaged)]
    assert 'differs from the recorded' in result['rejected'][0]['reason']
    left = sorted(n for n in os.listdir(str(offsite)) if not n.startswith('.'))
    assert left == sorted(os.path.basename(p) + s for p in (damaged, anchor, kept) for s in ('', '.sha256'))
