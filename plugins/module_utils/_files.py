# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""File-system helpers of the backup, restore and encryption code: durable directories, removal, moves across
filesystems, hashing, ownership, and what to tell an operator about a full or read-only filesystem."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import hashlib
import os
import shutil
import stat
import tempfile

# Bytes read or written at a time.
CHUNK = 1024 * 1024


class HashingWriter(object):
    """A writer that hashes and counts what passes through it, to `fileobj` or to nowhere."""

    def __init__(self, fileobj=None):
        self.fileobj = fileobj
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data):
        if self.fileobj is not None:
            self.fileobj.write(data)
        self.sha256.update(data)
        self.size += len(data)
        return len(data)

    def flush(self):
        if self.fileobj is not None:
            self.fileobj.flush()

    def tell(self):
        return self.size


def fsync_path(path, directory=False):
    flags = os.O_RDONLY
    if directory:
        flags |= getattr(os, 'O_DIRECTORY', 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path):
    fsync_path(path, directory=True)


def write_atomic(path, data, mode=0o640):
    """Write bytes `data` to `path` so that a reader sees the old file or the whole new one, never part of it,
    even after a crash: a hidden temporary file beside it, fsynced, renamed over it, the directory fsynced."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.partial', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        remove_path(tmp)
        raise
    fsync_dir(directory)


def remove_path(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        try:
            os.unlink(path)
        except OSError:
            pass


def no_space_hint(exc, where):
    if getattr(exc, 'errno', None) in (errno.ENOSPC, errno.EDQUOT):
        return ('no space left on the filesystem of %s: free space there, prune old backups (retention_days), '
                'or write the backup to a larger filesystem (dest)' % where)
    return None


def permission_hint(exc, where):
    if getattr(exc, 'errno', None) in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ('this user cannot write to %s: run the task as the service\'s user or root (become), fix the '
                'permissions, or choose a writable directory' % where)
    return None


def tree_files(root):
    """(relative path, absolute path) of the regular files below root, sorted; links and specials skipped."""
    found, skipped = [], []
    if not os.path.isdir(root):
        return found, skipped
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if os.path.islink(full) or not os.path.isfile(full):
                skipped.append(full)
                continue
            found.append((os.path.relpath(full, root).replace(os.sep, '/'), full))
        for name in list(dirnames):
            if os.path.islink(os.path.join(dirpath, name)):
                skipped.append(os.path.join(dirpath, name))
                dirnames.remove(name)
    return found, skipped


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def tree_digest(path):
    """{relative path: sha256} of the regular files below path ({} when missing)."""
    files, _links = tree_files(path)
    return dict((rel, sha256_file(full)) for rel, full in files)


def move(src, dst):
    """rename(), or copy then remove across filesystems; dst must not exist."""
    try:
        os.rename(src, dst)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    tmp = dst + '.tmp-%d' % os.getpid()
    if os.path.isdir(src):
        shutil.copytree(src, tmp, symlinks=True)
    else:
        shutil.copy2(src, tmp)
        with open(tmp, 'rb') as handle:
            os.fsync(handle.fileno())
    os.rename(tmp, dst)
    remove_path(src)


def ownership_of(live):
    """(uid, gid, mode or None) the restored copy of `live` must have: those of the file it replaces, else the
    owner of the directory it goes into. The module usually runs as root while the service runs as its own
    user, which must still be able to open (and write beside) what was restored."""
    if os.path.lexists(live):
        st = os.lstat(live)
        return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None
    parent = os.path.dirname(live)
    while parent and not os.path.isdir(parent):
        parent = os.path.dirname(parent)
    st = os.stat(parent or '/')
    return st.st_uid, st.st_gid, None


def adopt_ownership(path, owner):
    uid, gid, mode = owner
    if os.geteuid() == 0:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                for name in dirs + files:
                    os.lchown(os.path.join(root, name), uid, gid)
        os.lchown(path, uid, gid)
    if mode is not None and os.path.isfile(path):
        os.chmod(path, mode)
