# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The file-system helpers shared by backup, restore and the off-site encryption, against real files: hashing,
tree listing and digests, moves within and across filesystems (/dev/shm is a tmpfs), ownership and the hints
an operator gets for a full or read-only filesystem."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import hashlib
import io
import os
import shutil
import stat
import tempfile

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _files


@pytest.fixture
def other_fs():
    """A directory on another filesystem than pytest's tmp_path (so rename() fails with EXDEV)."""
    path = tempfile.mkdtemp(dir='/dev/shm')
    yield path
    shutil.rmtree(path, ignore_errors=True)


def make_tree(root):
    (root / 'sub').mkdir(parents=True)
    (root / 'a.txt').write_bytes(b'alpha\n')
    (root / 'sub' / 'b.bin').write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    os.symlink('a.txt', str(root / 'link.txt'))
    os.symlink('sub', str(root / 'linkdir'))
    return root


def test_sha256_file_matches_hashlib_over_several_chunks(tmp_path):
    data = os.urandom(2 * _files.CHUNK + 11)
    path = tmp_path / 'f'
    path.write_bytes(data)
    assert _files.sha256_file(str(path)) == hashlib.sha256(data).hexdigest()


def test_tree_files_lists_regular_files_and_skips_links(tmp_path):
    root = make_tree(tmp_path / 'tree')
    files, skipped = _files.tree_files(str(root))
    assert [rel for rel, _full in files] == ['a.txt', 'sub/b.bin']
    assert sorted(os.path.basename(p) for p in skipped) == ['link.txt', 'linkdir']
    assert _files.tree_files(str(tmp_path / 'missing')) == ([], [])


def test_tree_digest_names_every_file_with_its_hash(tmp_path):
    root = make_tree(tmp_path / 'tree')
    digest = _files.tree_digest(str(root))
    assert digest == {'a.txt': hashlib.sha256(b'alpha\n').hexdigest(),
                      'sub/b.bin': hashlib.sha256((root / 'sub' / 'b.bin').read_bytes()).hexdigest()}
    assert _files.tree_digest(str(tmp_path / 'missing')) == {}


@pytest.mark.parametrize('kind', ['file', 'directory'])
@pytest.mark.parametrize('where', ['same filesystem', 'other filesystem'])
def test_move_keeps_content_and_leaves_no_source(tmp_path, other_fs, kind, where):
    src = tmp_path / 'src'
    if kind == 'file':
        src.write_bytes(b'payload')
        before = {'': hashlib.sha256(b'payload').hexdigest()}
    else:
        make_tree(src)
        before = _files.tree_digest(str(src))
    dst = os.path.join(str(tmp_path) if where == 'same filesystem' else other_fs, 'dst')
    _files.move(str(src), dst)
    assert not os.path.lexists(str(src))
    after = {'': _files.sha256_file(dst)} if kind == 'file' else _files.tree_digest(dst)
    assert after == before
    if kind == 'directory':
        assert os.path.islink(os.path.join(dst, 'link.txt'))  # links are kept as links, not followed
    assert [n for n in os.listdir(os.path.dirname(dst)) if '.tmp-' in n] == []


def test_ownership_of_an_existing_file_is_its_own(tmp_path):
    live = tmp_path / 'db'
    live.write_bytes(b'x')
    os.chmod(str(live), 0o640)
    st = os.lstat(str(live))
    assert _files.ownership_of(str(live)) == (st.st_uid, st.st_gid, 0o640)


def test_ownership_of_a_missing_path_is_the_nearest_existing_parent(tmp_path):
    st = os.stat(str(tmp_path))
    assert _files.ownership_of(str(tmp_path / 'not' / 'yet' / 'there')) == (st.st_uid, st.st_gid, None)


def test_adopt_ownership_sets_the_mode_of_a_file(tmp_path):
    path = tmp_path / 'restored'
    path.write_bytes(b'x')
    os.chmod(str(path), 0o600)
    _files.adopt_ownership(str(path), (os.getuid(), os.getgid(), 0o644))
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644


def test_remove_path_removes_files_trees_and_dangling_links(tmp_path):
    make_tree(tmp_path / 'tree')
    os.symlink(str(tmp_path / 'nowhere'), str(tmp_path / 'dangling'))
    for name in ('tree', 'dangling', 'missing'):
        _files.remove_path(str(tmp_path / name))
    assert os.listdir(str(tmp_path)) == []


def test_hashing_writer_hashes_with_and_without_a_target():
    target = io.BytesIO()
    with_target, to_nowhere = _files.HashingWriter(target), _files.HashingWriter()
    for writer in (with_target, to_nowhere):
        assert writer.write(b'abc') == 3
        writer.write(b'def')
        writer.flush()
        assert writer.tell() == writer.size == 6
        assert writer.sha256.hexdigest() == hashlib.sha256(b'abcdef').hexdigest()
    assert target.getvalue() == b'abcdef'


@pytest.mark.parametrize('code, hinted', [
    (errno.ENOSPC, ('no space', None)),
    (errno.EDQUOT, ('no space', None)),
    (errno.EACCES, (None, 'cannot write')),
    (errno.EROFS, (None, 'cannot write')),
    (errno.ENOENT, (None, None)),
])
def test_hints_name_the_place_and_what_to_do(code, hinted):
    exc = OSError(code, os.strerror(code))
    for hint, expected in zip((_files.no_space_hint(exc, '/srv/b'), _files.permission_hint(exc, '/srv/b')), hinted):
        if expected is None:
            assert hint is None
        else:
            assert expected in hint and '/srv/b' in hint


def test_write_atomic_replaces_whole_and_leaves_nothing_behind(tmp_path):
    path = tmp_path / 'record.json'
    path.write_bytes(b'old')
    _files.write_atomic(str(path), b'new contents', mode=0o640)
    assert path.read_bytes() == b'new contents' and stat.S_IMODE(os.stat(str(path)).st_mode) == 0o640
    # A write that fails half-way (not bytes) keeps the old file and removes its temporary one.
    with pytest.raises(TypeError):
        _files.write_atomic(str(path), u'not bytes')
    assert path.read_bytes() == b'new contents' and sorted(os.listdir(str(tmp_path))) == ['record.json']
