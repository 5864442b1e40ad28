# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The backup archive format of Inventory Enterprise: layout, manifest, member validation, atomic writes.

Where the service keeps its files is _service_layout; which archives exist and which are verified is
_backup_records; file-system helpers are _files.

An archive is ``inventory_backup_<YYYY-MM-DDTHH-MM-SS>.tar.zst`` (or ``.tar.gz``), the time in UTC, whose
single top folder of the same name holds::

    database.db              consistent snapshot of the SQLite database (online backup API)
    transaction_log.jsonl    the transaction log up to its last complete line
    .env                     the service configuration file
    config/...               CONFIG_DIR
    models/...               MODELS_DIR (AI models)
    manifest.json            last member: size and SHA-256 of every other member, row counts per table,
                             transaction-log offset, line count and last seq, service version, time

Reading never uses TarFile.extract*: every member is validated here (regular files and directories only,
relative names inside the expected layout, no duplicates) and written with O_EXCL|O_NOFOLLOW into a fresh
scratch directory, so the result does not depend on the tarfile fixes of the host's Python.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import contextlib
import datetime
import errno
import fcntl
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import socket
import tarfile
import time
import traceback
import zlib

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _backup_records, _files, _service_layout, _sqlite
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._process import is_alive

ZSTD_IMP_ERR = None
try:
    import zstandard
    HAS_ZSTD = True
except ImportError:
    ZSTD_IMP_ERR = traceback.format_exc()
    HAS_ZSTD = False

FORMAT = 'inventory-enterprise-backup'
FORMAT_VERSION = 1
TOP_RE = re.compile(r'^inventory_backup_(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2})$')
PARTIAL_RE = re.compile(r'^\.inventory_backup_.*\.(partial|work|verify)-(\d+)$')
RESTORE_WORK_RE = re.compile(r'^\.restore-work-(\d+)$')
ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'
GZIP_MAGIC = b'\x1f\x8b'

DATABASE = 'database.db'
TXLOG = 'transaction_log.jsonl'
MANIFEST = 'manifest.json'
ENV = '.env'
TREES = ('config', 'models')
MAX_MANIFEST = 4 * 1024 * 1024
LOCK_FILE = '.inventory_backup.lock'
# Free space that must remain after extracting into a scratch directory: SQLite and the checks need some.
SPACE_MARGIN = 64 * 1024
# Compressed bytes fed to the decoder at a time. zstd turns 4 bytes into up to 128 KiB (an RLE block), so a
# small input slice bounds what one call can produce (256 bytes: 8 MiB): a bomb never lands in memory at
# once, and the small outputs reuse memory, so 1.5 GiB of zeros decompress in about 0.4 s (2 KiB: 1.9 s).
INPUT_SLICE = 256


class ArchiveRejected(_backup_records.BackupError):
    """The archive is unsafe or damaged; nothing live was touched."""


def stale_leftovers(directory, pattern=PARTIAL_RE):
    """Temporary files and directories of backup/verify runs (or, with RESTORE_WORK_RE, restore scratch
    directories) whose process is gone (killed mid-run)."""
    found = []
    try:
        names = os.listdir(directory)
    except OSError:
        return found
    for name in sorted(names):
        match = pattern.match(name)
        if match and not is_alive(int(match.groups()[-1])):
            found.append(os.path.join(directory, name))
    return found


# ---------------------------------------------------------------------------------------------------------
# Streams

class HashingReader(object):
    """Reads at most `limit` bytes of `fileobj`, hashing them and counting newlines."""

    def __init__(self, fileobj, limit=None, count_lines=False):
        self.fileobj = fileobj
        self.remaining = limit
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.lines = 0
        self.count_lines = count_lines

    def read(self, size=-1):
        if self.remaining is not None:
            size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self.fileobj.read(size)
        self.sha256.update(data)
        self.size += len(data)
        if self.count_lines:
            self.lines += data.count(b'\n')
        if self.remaining is not None:
            self.remaining -= len(data)
        return data


class DecompressingReader(object):
    """Decompresses a zstd or gzip file incrementally and fails on truncation or corrupt frames.

    Unlike the stream readers of gzip/zstandard it raises when the input ends inside a frame, so a
    truncated archive can never pass for a complete one.
    """

    def __init__(self, raw, compression):
        self.raw = raw
        self.compression = compression
        # Decompressed output not read yet, and how far the first part is read: every read copies only what it
        # returns, so a huge output (a bomb's zeros) costs no more than its size.
        self.parts = collections.deque()
        self.offset = 0
        self.available = 0
        self.position = 0  # decompressed bytes read or skipped so far
        self.finished = False
        self.frames = 0
        self.decoder = self._new_decoder()
        self.pending = b''
        self.pending_at = 0  # fed to the decoder up to here: slicing only INPUT_SLICE bytes at a time

    def _new_decoder(self):
        if self.compression == 'zstd':
            return zstandard.ZstdDecompressor().decompressobj()
        return zlib.decompressobj(wbits=31)

    def _decoder_eof(self):
        return bool(getattr(self.decoder, 'eof', False))

    def _fill(self):
        if self.pending_at >= len(self.pending):
            self.pending, self.pending_at = self.raw.read(_files.CHUNK), 0
        chunk = self.pending[self.pending_at:self.pending_at + INPUT_SLICE]
        self.pending_at += len(chunk)
        if not chunk:
            if not self._decoder_eof():
                raise ArchiveRejected('the archive is truncated: its %s stream ends in the middle of a frame'
                                      % self.compression)
            self.finished = True
            return
        if self._decoder_eof():
            # Concatenated frames: start a new decoder on what follows.
            self.decoder = self._new_decoder()
        try:
            out = self.decoder.decompress(chunk)
        except (zlib.error, EOFError) as exc:
            raise ArchiveRejected('the archive is corrupt: %s decompression failed: %s' % (self.compression, exc))
        except Exception as exc:  # zstandard.ZstdError
            raise ArchiveRejected('the archive is corrupt: %s decompression failed: %s' % (self.compression, exc))
        if self._decoder_eof():
            self.frames += 1
            self.pending = (getattr(self.decoder, 'unused_data', b'') or b'') + self.pending[self.pending_at:]
            self.pending_at = 0
        if out:
            self.parts.append(out)
            self.available += len(out)

    def read(self, size=-1):
        if size is None or size < 0:
            while not self.finished:
                self._fill()
            size = self.available
        while self.available < size and not self.finished:
            self._fill()
        taken, need = [], min(size, self.available)
        self.available -= need
        self.position += need
        while need:
            part = self.parts[0]
            if len(part) - self.offset <= need:
                piece = part[self.offset:] if self.offset else part
                self.parts.popleft()
                self.offset = 0
            else:
                piece = part[self.offset:self.offset + need]
                self.offset += need
            taken.append(piece)
            need -= len(piece)
        return b''.join(taken)

    def tell(self):
        return self.position

    def seek(self, position, whence=0):
        """Forward only: skips decompressed data without copying it (the header pre-pass skips every member's
        data this way, so a bomb's GiB of zeros cost only their decompression)."""
        if whence != 0 or position < self.position:
            raise ArchiveRejected('the archive needs a backward seek at %d: not a stream-ordered tar' % position)
        need = position - self.position
        while need:
            if not self.available:
                if self.finished:
                    break
                self._fill()
                continue
            rest = len(self.parts[0]) - self.offset
            if rest <= need:
                self.parts.popleft()
                self.offset = 0
                step = rest
            else:
                self.offset += need
                step = need
            self.available -= step
            self.position += step
            need -= step
        return self.position


def detect_compression(path):
    with open(path, 'rb') as handle:
        head = handle.read(4)
    if head.startswith(ZSTD_MAGIC):
        return 'zstd'
    if head.startswith(GZIP_MAGIC):
        return 'gzip'
    raise ArchiveRejected('%s is neither zstd nor gzip (starts with %r): not a backup archive' % (path, head))


# ---------------------------------------------------------------------------------------------------------
# Writing

def _last_complete_line(path):
    """Byte offset just after the last newline of the transaction log (0 when empty or missing)."""
    try:
        with open(path, 'rb') as handle:
            handle.seek(0, os.SEEK_END)
            position = handle.tell()
            while position > 0:
                step = min(_files.CHUNK, position)
                handle.seek(position - step)
                chunk = handle.read(step)
                index = chunk.rfind(b'\n')
                if index >= 0:
                    return position - step + index + 1
                position -= step
    except (IOError, OSError):
        return 0
    return 0


def _last_seq(path, offset):
    if offset <= 0:
        return 0
    with open(path, 'rb') as handle:
        start = max(0, offset - 65536)
        handle.seek(start)
        lines = handle.read(offset - start).split(b'\n')
    for line in reversed(lines):
        try:
            return int(json.loads(line)['seq'])
        except (ValueError, KeyError, TypeError):
            continue
    return None


def _info(name, size, mtime, directory=False):
    info = tarfile.TarInfo(name)
    info.size = 0 if directory else size
    info.mtime = int(mtime)
    info.mode = 0o700 if directory else 0o600
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.uid = info.gid = 0
    info.uname = info.gname = ''
    return info


def _open_compressor(fileobj, compression, level, threads):
    if compression == 'zstd':
        if not HAS_ZSTD:
            raise _backup_records.BackupError('compression=zstd needs the Python library zstandard on the managed host: install it '
                                              '(pip install zstandard) or use compression=gzip')
        params = zstandard.ZstdCompressor(level=level or 3, threads=threads, write_checksum=True)
        return params.stream_writer(fileobj, closefd=False)
    return gzip.GzipFile(fileobj=fileobj, mode='wb', compresslevel=level or 6, mtime=0)


@contextlib.contextmanager
def dest_lock(dest):
    """Exclusive lock on the backup directory, held only while a run claims or publishes an archive name."""
    path = os.path.join(dest, LOCK_FILE)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno != errno.EACCES or not os.path.exists(path):
            raise
        # Made by another user (root one night, the service's user the next): flock needs no write access.
        fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            # A filesystem without locks: the O_EXCL partial and the no-replace link still never lose an archive.
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.EBADF):
                raise
        yield
    finally:
        os.close(fd)


def _name_taken(dest, stamp):
    """True when an archive of this second exists in `dest` (any compression: both would extract to the same
    top folder) or a live run is writing one."""
    top = _backup_records.PREFIX + stamp.strftime(_backup_records.TS_FORMAT)
    for ext in _backup_records.EXTENSIONS.values():
        if os.path.lexists(os.path.join(dest, '%s.tar.%s' % (top, ext))):
            return True
    for entry in os.listdir(dest):
        match = PARTIAL_RE.match(entry)
        if match and match.group(1) == 'partial' and entry.startswith('.%s.tar.' % top) and is_alive(int(match.group(2))):
            return True
    return False


def free_stamp(dest, stamp):
    """`stamp`, or the first second after it whose archive name no archive and no live run holds in `dest`."""
    while _name_taken(dest, stamp):
        stamp = stamp + datetime.timedelta(seconds=1)
    return stamp


def claim_name(dest, stamp, compression):
    """Claim the archive name of `stamp` in `dest`, or of the next second no archive and no live run holds.

    Under the directory lock the run's partial file is created (O_EXCL), which claims the name for as long as
    the run lives: two runs started in the same second get two names. Returns (stamp, name, partial, file).
    """
    with dest_lock(dest):
        stamp = free_stamp(dest, stamp)
        name = _backup_records.archive_name(stamp, compression)
        partial = os.path.join(dest, '.%s.partial-%d' % (name, os.getpid()))
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return stamp, name, partial, os.fdopen(fd, 'wb')


def publish(partial, final):
    """Give the finished partial file its final name, never replacing an existing archive.

    A hard link fails when the name exists, whoever made it (a writer that does not take the directory lock,
    such as the service's own POST /api/backup/create); where hard links are not supported the lock makes the
    check-then-rename safe among this collection's runs.
    """
    dest = os.path.dirname(final)
    with dest_lock(dest):
        try:
            os.link(partial, final)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                raise _backup_records.BackupError('%s appeared while this run was writing it (another backup, not made by this '
                                                  'module, took the same name); this run\'s archive was discarded and the existing '
                                                  'one left untouched: run the backup again' % final)
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK, errno.EXDEV):
                raise
            if os.path.lexists(final):
                raise _backup_records.BackupError('%s already exists; this run\'s archive was discarded and the existing one left '
                                                  'untouched: run the backup again' % final)
            os.rename(partial, final)
        else:
            os.unlink(partial)
    _files.fsync_dir(dest)


def _capture(paths, work, database_only):
    """The transaction log's last complete line, then the database snapshot: in this order (see create_backup)."""
    txlog_path = paths['transaction_log_path']
    txlog_offset, last_seq = 0, None
    if not database_only:
        txlog_offset = _last_complete_line(txlog_path)
        last_seq = _last_seq(txlog_path, txlog_offset)
    snap_path = os.path.join(work, DATABASE)
    snap = _sqlite.snapshot(paths['database_path'], snap_path)
    tables = _sqlite.row_counts(snap_path)
    deployment_id = _service_layout.ensure_deployment_id(paths['database_path'])[0]
    return dict(txlog_path=txlog_path, txlog_offset=txlog_offset, last_seq=last_seq, snap_path=snap_path, snap=snap,
                tables=tables, deployment_id=deployment_id)


def _add_members(tar, top, stamp, paths, captured, database_only, skipped):
    """Write every member but the manifest below `top`; returns (members for the manifest, log lines)."""
    members = []
    txlog_lines = 0

    def add_file(rel, fileobj, size, mtime, count_lines=False):
        reader = HashingReader(fileobj, limit=size, count_lines=count_lines)
        tar.addfile(_info('%s/%s' % (top, rel), size, mtime), reader)
        members.append(dict(path=rel, size=reader.size, sha256=reader.sha256.hexdigest()))
        return reader

    tar.addfile(_info(top, 0, stamp.timestamp(), directory=True))
    with open(captured['snap_path'], 'rb') as handle:
        add_file(DATABASE, handle, captured['snap']['bytes'], stamp.timestamp())
    if database_only:
        return members, txlog_lines
    txlog_path = captured['txlog_path']
    if os.path.exists(txlog_path):
        with open(txlog_path, 'rb') as handle:
            reader = add_file(TXLOG, handle, captured['txlog_offset'], stamp.timestamp(), count_lines=True)
            txlog_lines = reader.lines
    else:
        add_file(TXLOG, io.BytesIO(b''), 0, stamp.timestamp())
    if os.path.isfile(paths['env_file']):
        with open(paths['env_file'], 'rb') as handle:
            data = handle.read()
        add_file(ENV, io.BytesIO(data), len(data), os.path.getmtime(paths['env_file']))
    for tree, root in (('config', paths['config_dir']), ('models', paths['models_dir'])):
        tar.addfile(_info('%s/%s' % (top, tree), 0, stamp.timestamp(), directory=True))
        files, links = _files.tree_files(root)
        skipped.extend(links)
        for rel, full in files:
            with open(full, 'rb') as handle:
                data = handle.read()
            add_file('%s/%s' % (tree, rel), io.BytesIO(data), len(data), os.path.getmtime(full))
    return members, txlog_lines


def _manifest(top, stamp, paths, captured, members, txlog_lines, options):
    """The manifest (last member); `options` holds compression, database_only, version and created_by."""
    database_only = bool(options['database_only'])
    return dict(
        format=FORMAT, format_version=FORMAT_VERSION, name=top, created_at=_backup_records.iso(stamp),
        created_by=options['created_by'], host=socket.gethostname(), service_version=options['version'],
        compression=options['compression'], database_only=database_only, deployment_id=captured['deployment_id'],
        database=dict(path=DATABASE, source=paths['database_path'], page_size=captured['snap']['page_size'],
                      page_count=captured['snap']['page_count'], tables=captured['tables']),
        transaction_log=None if database_only else dict(
            path=TXLOG, source=captured['txlog_path'], offset=captured['txlog_offset'], lines=txlog_lines,
            last_seq=captured['last_seq']),
        members=members)


def create_backup(paths, dest, compression='zstd', level=None, threads=-1, database_only=False,
                  version='unknown', created_by='ansible', work_parent=None, now=None):
    """Write one archive atomically into `dest`; returns the result dict. Raises BackupError.

    Order matters for consistency with a live service that commits to the database, then appends to the
    transaction log: the log's last complete line is fixed first, then the database snapshot is taken, so
    every logged transaction is in the snapshot.
    """
    partial = raw = work = None
    started = time.time()
    skipped = []
    options = dict(compression=compression, database_only=database_only, version=version, created_by=created_by)
    try:
        stamp, name, partial, raw = claim_name(dest, now or _backup_records.utc_now(), compression)
        final = os.path.join(dest, name)
        top = name.split('.tar.')[0]
        work = os.path.join(work_parent or dest, '.%s.work-%d' % (top, os.getpid()))
        os.mkdir(work, 0o700)
        captured = _capture(paths, work, database_only)
        with raw:
            hashed = _files.HashingWriter(raw)
            compressor = _open_compressor(hashed, compression, level, threads)
            tar = tarfile.open(fileobj=compressor, mode='w|', bufsize=_files.CHUNK, format=tarfile.PAX_FORMAT)
            tar.copybufsize = _files.CHUNK
            members, txlog_lines = _add_members(tar, top, stamp, paths, captured, database_only, skipped)
            manifest = _manifest(top, stamp, paths, captured, members, txlog_lines, options)
            data = json.dumps(manifest, indent=2, sort_keys=True).encode('utf-8')
            tar.addfile(_info('%s/%s' % (top, MANIFEST), len(data), stamp.timestamp()), io.BytesIO(data))
            tar.close()
            compressor.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(partial, 0o600)
        publish(partial, final)
    except (OSError, IOError) as exc:
        hint = (_files.no_space_hint(exc, os.path.dirname(work) if work and os.path.exists(work) else dest)
                or _files.permission_hint(exc, getattr(exc, 'filename', None) or dest))
        raise _backup_records.BackupError('backup into %s failed: %s%s' % (dest, exc, '; ' + hint if hint else ''))
    except _sqlite.SqliteError as exc:
        hint = _files.no_space_hint(OSError(errno.ENOSPC, 'full'), os.path.dirname(work)) if exc.disk_full else None
        raise _backup_records.BackupError('%s%s' % (exc, '; ' + hint if hint else ''))
    finally:
        if raw is not None:
            raw.close()
        for path in (partial, work):
            if path:
                _files.remove_path(path)
    return dict(path=final, name=name, size=os.path.getsize(final), archive_sha256=hashed.sha256.hexdigest(),
                manifest=manifest, skipped=skipped, duration=round(time.time() - started, 3))


# ---------------------------------------------------------------------------------------------------------
# Reading and verifying

def _member_path(info, state):
    """Validate one member; returns its path relative to the top folder ('' for the top folder itself)."""
    name = info.name
    what = 'member %r' % name
    if not name or '\x00' in name or '\\' in name:
        raise ArchiveRejected('%s has an invalid name' % what)
    if name.startswith('/') or re.match(r'^[A-Za-z]:', name):
        raise ArchiveRejected('%s has an absolute path' % what)
    parts = name.rstrip('/').split('/') if info.isdir() else name.split('/')
    if any(part in ('', '.', '..') for part in parts):
        raise ArchiveRejected('%s has an empty, "." or ".." path component' % what)
    if info.issym() or info.islnk():
        raise ArchiveRejected('%s is a %s link (to %r): links are not allowed in a backup'
                              % (what, 'symbolic' if info.issym() else 'hard', info.linkname))
    if info.ischr() or info.isblk() or info.isfifo():
        raise ArchiveRejected('%s is a device or FIFO: not allowed in a backup' % what)
    if not (info.isreg() or info.isdir()) or info.issparse() or info.linkname:
        raise ArchiveRejected('%s has an unexpected type %r' % (what, info.type))
    top = parts[0]
    if not TOP_RE.match(top):
        raise ArchiveRejected('%s is outside the expected top folder inventory_backup_<timestamp>/' % what)
    if state.get('top') is None:
        if state.get('expected_top') and top != state['expected_top']:
            raise ArchiveRejected('%s: top folder %s does not match the archive name %s'
                                  % (what, top, state['expected_top']))
        state['top'] = top
    elif top != state['top']:
        raise ArchiveRejected('%s is outside the top folder %s/' % (what, state['top']))
    rel = parts[1:]
    if not rel:
        if not info.isdir():
            raise ArchiveRejected('%s: the top folder must be a directory' % what)
        return ''
    if rel[0] in TREES:
        pass
    elif len(rel) == 1 and rel[0] in (DATABASE, TXLOG, MANIFEST, ENV):
        if not info.isreg():
            raise ArchiveRejected('%s must be a regular file' % what)
    else:
        raise ArchiveRejected('%s is outside the expected layout (database.db, transaction_log.jsonl, .env, '
                              'config/, models/, manifest.json)' % what)
    relpath = '/'.join(rel)
    if relpath in state['seen']:
        raise ArchiveRejected('%s appears twice in the archive' % what)
    state['seen'].add(relpath)
    return relpath


def _safe_write(scratch, relpath, fileobj, size, durable=True):
    """Write a member below scratch, creating parent directories; never follows or replaces anything."""
    parts = relpath.split('/')
    current = scratch
    for part in parts[:-1]:
        current = os.path.join(current, part)
        if not os.path.isdir(current) or os.path.islink(current):
            os.mkdir(current, 0o700)
    target = os.path.join(current, parts[-1])
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), 0o600)
    with os.fdopen(fd, 'wb') as out:
        shutil.copyfileobj(fileobj, out, _files.CHUNK)
        out.flush()
        if durable:
            os.fsync(out.fileno())
    return target


def _tar_pass(raw, compression, expected_top, on_file, mode='r|'):
    """One pass over the tar stream of `raw`: every member validated; on_file(info, relpath, source) gets the
    regular files but the manifest. Returns (top, manifest, dirs, archive sha256). mode 'r:' skips the
    members' data by seeking (the header pre-pass), 'r|' reads it."""
    state = dict(top=None, expected_top=expected_top, seen=set())
    manifest, dirs = None, set()
    hashed = HashingReader(raw)
    stream = DecompressingReader(hashed, compression)
    tar = tarfile.open(fileobj=stream, mode=mode, bufsize=_files.CHUNK)
    for info in tar:
        relpath = _member_path(info, state)
        if info.isdir():
            if relpath:
                dirs.add(relpath)
            continue
        if manifest is not None:
            raise ArchiveRejected('member %r comes after manifest.json, which must be last' % info.name)
        source = tar.extractfile(info)
        if relpath == MANIFEST:
            if info.size > MAX_MANIFEST:
                raise ArchiveRejected('manifest.json is %d bytes, larger than any real manifest' % info.size)
            try:
                manifest = json.loads(source.read().decode('utf-8'))
            except ValueError as exc:
                raise ArchiveRejected('manifest.json is not valid JSON: %s' % exc)
            continue
        on_file(info, relpath, source)
    tar.close()
    stream.read()  # the rest of the compressed stream: raises if it is truncated or corrupt
    if state['top'] is None:
        raise ArchiveRejected('the archive is empty')
    return state['top'], manifest, dirs, hashed.sha256.hexdigest()


def _wanted(relpath, extract):
    return extract is True or bool(extract and any(
        relpath == item or (item.endswith('/') and relpath.startswith(item)) for item in extract))


def check_space(directory, needed):
    """Refuse to extract `needed` bytes into `directory` unless they fit with a margin (10% + 64 KiB)."""
    try:
        st = os.statvfs(directory)
    except OSError as exc:
        raise _backup_records.BackupError('cannot read the free space of %s: %s' % (directory, exc))
    free = st.f_bavail * st.f_frsize
    wanted = needed + needed // 10 + SPACE_MARGIN
    if wanted > free:
        raise _backup_records.BackupError('extracting the archive needs %.1f MiB (with a margin) in %s, the filesystem has %.1f MiB '
                                          'free: free space there (old safety copies, old backups) and retry'
                                          % (wanted / 1048576.0, directory, free / 1048576.0))


def _readable(path):
    """(top folder its name promises or None, compression) of an archive this host can read."""
    parsed = _backup_records.parse_name(os.path.basename(path))
    if not os.path.isfile(path) or os.path.islink(path):
        raise ArchiveRejected('%s is not a regular file' % path)
    try:
        compression = detect_compression(path)
    except (OSError, IOError) as exc:
        raise _backup_records.BackupError('cannot read %s: %s' % (path, exc))
    if compression == 'zstd' and not HAS_ZSTD:
        raise _backup_records.BackupError('%s is zstd-compressed: install the Python library zstandard on this host' % path)
    return (parsed[0] if parsed else None), compression


def read_archive(path, scratch=None, extract=None, durable=True, before_extract=None):
    """Validate every member, hash it, check it against the manifest; extract what is asked.

    Two passes over one open file. The first reads the tar headers and the manifest only (member data is
    decompressed and discarded, never written): every member's declared size must be the manifest's, and
    what will be extracted must fit in the free space of `scratch`, before a single byte is written. So a
    decompression bomb (a tiny archive declaring GiB of zeros) is refused in the time it takes to decompress
    it, with nothing written. `before_extract(manifest)` may refuse the archive at that point too (restore's
    identity check). The second pass extracts and hashes.

    `extract`: None extracts nothing; a set of relative paths or prefixes ('database.db', 'config/'...) or
    True for everything; extracted files go into `scratch` (an empty directory the caller owns).
    Returns dict(top, manifest, members, extracted, archive_sha256, compression). Raises ArchiveRejected,
    or BackupError when the archive cannot be read or does not fit.
    """
    expected_top, compression = _readable(path)
    members, extracted, declared = {}, {}, {}

    def declare(info, relpath, source):
        declared[relpath] = info.size

    def extract_member(info, relpath, source):
        if info.size != declared.get(relpath):
            raise ArchiveRejected('member %r changed while the archive was read (%d bytes, %s before)'
                                  % (info.name, info.size, declared.get(relpath)))
        reader = HashingReader(source, count_lines=relpath == TXLOG)
        if _wanted(relpath, extract):
            extracted[relpath] = _safe_write(scratch, relpath, reader, info.size, durable)
        else:
            while reader.read(_files.CHUNK):
                pass
        if reader.size != info.size:
            raise ArchiveRejected('member %r is truncated (%d of %d bytes)' % (info.name, reader.size, info.size))
        members[relpath] = dict(size=reader.size, sha256=reader.sha256.hexdigest(), lines=reader.lines)

    try:
        with open(path, 'rb') as raw:
            top, manifest, dirs, _sha = _tar_pass(raw, compression, expected_top, declare, mode='r:')
            check_listing(manifest, top, declared)
            if before_extract:
                before_extract(manifest)
            if extract and scratch:
                check_space(scratch, sum(size for relpath, size in declared.items() if _wanted(relpath, extract)))
            raw.seek(0)
            top, again, dirs, archive_sha256 = _tar_pass(raw, compression, expected_top, extract_member)
    except tarfile.TarError as exc:
        raise ArchiveRejected('the archive is damaged: tar: %s' % exc)
    except (EOFError, zlib.error) as exc:
        raise ArchiveRejected('the archive is damaged: %s' % exc)
    except (OSError, IOError) as exc:
        hint = _files.no_space_hint(exc, scratch or path)
        raise _backup_records.BackupError('reading %s failed: %s%s' % (path, exc, '; ' + hint if hint else ''))
    if again != manifest:
        raise ArchiveRejected('manifest.json changed while the archive was read')
    check_manifest(manifest, top, members)
    return dict(top=top, manifest=manifest, members=members, extracted=extracted, dirs=dirs,
                archive_sha256=archive_sha256, compression=compression)


def read_manifest(path):
    """The manifest of an archive, read in one streaming pass: every member is validated and its data
    decompressed and discarded, never written, so a large database costs its decompression only. The listing
    is checked (members and sizes), not the checksums: that is verify_archive's work. Raises ArchiveRejected,
    or BackupError when the archive cannot be read."""
    expected_top, compression = _readable(path)
    declared = {}

    def declare(info, relpath, source):
        declared[relpath] = info.size

    try:
        with open(path, 'rb') as raw:
            top, manifest, dirs, _sha = _tar_pass(raw, compression, expected_top, declare, mode='r:')
    except tarfile.TarError as exc:
        raise ArchiveRejected('the archive is damaged: tar: %s' % exc)
    except (EOFError, zlib.error) as exc:
        raise ArchiveRejected('the archive is damaged: %s' % exc)
    except (OSError, IOError) as exc:
        raise _backup_records.BackupError('reading %s failed: %s' % (path, exc))
    check_listing(manifest, top, declared)
    return manifest


def check_listing(manifest, top, sizes):
    """The manifest is this format's, names `top`, and lists exactly the members found, with their sizes
    ({relative path: size}, from the tar headers or from reading the members)."""
    if manifest is None:
        raise ArchiveRejected('the archive has no manifest.json (truncated, or not made by the backup module)')
    if not isinstance(manifest, dict) or manifest.get('format') != FORMAT:
        raise ArchiveRejected('manifest.json is not an %s manifest' % FORMAT)
    if manifest.get('format_version') != FORMAT_VERSION:
        raise ArchiveRejected('manifest format_version %r is not supported (expected %d)'
                              % (manifest.get('format_version'), FORMAT_VERSION))
    if manifest.get('name') != top:
        raise ArchiveRejected('manifest name %r does not match the top folder %s' % (manifest.get('name'), top))
    listed = {}
    for entry in manifest.get('members') or []:
        if not isinstance(entry, dict):
            raise ArchiveRejected('manifest.json has a member entry that is not an object: %r' % (entry,))
        listed[entry.get('path')] = entry
    if DATABASE not in listed:
        raise ArchiveRejected('the manifest lists no database.db')
    missing = sorted(set(listed) - set(sizes))
    if missing:
        raise ArchiveRejected('members listed in the manifest are missing from the archive: %s' % ', '.join(missing))
    extra = sorted(set(sizes) - set(listed))
    if extra:
        raise ArchiveRejected('members not listed in the manifest: %s' % ', '.join(extra))
    for relpath, entry in sorted(listed.items()):
        if sizes[relpath] != entry.get('size'):
            raise ArchiveRejected('%s is %d bytes in the archive, the manifest says %s: refused before anything was '
                                  'extracted (a damaged or crafted archive)' % (relpath, sizes[relpath], entry.get('size')))
    return listed


def check_manifest(manifest, top, members):
    listed = check_listing(manifest, top, dict((relpath, found['size']) for relpath, found in members.items()))
    for relpath, entry in sorted(listed.items()):
        found = members[relpath]
        if found['sha256'] != entry.get('sha256'):
            raise ArchiveRejected('%s has SHA-256 %s, the manifest says %s: the archive is corrupt'
                                  % (relpath, found['sha256'], entry.get('sha256')))
    txlog = manifest.get('transaction_log')
    if txlog:
        if TXLOG not in members:
            raise ArchiveRejected('the manifest describes a transaction log but the archive has none')
        if members[TXLOG]['size'] != txlog.get('offset'):
            raise ArchiveRejected('transaction_log.jsonl is %d bytes, the manifest offset is %s'
                                  % (members[TXLOG]['size'], txlog.get('offset')))
        if members[TXLOG]['lines'] != txlog.get('lines'):
            raise ArchiveRejected('transaction_log.jsonl has %d lines, the manifest says %s'
                                  % (members[TXLOG]['lines'], txlog.get('lines')))


def check_database(db_path, manifest):
    """integrity_check and row counts of an extracted database against the manifest; returns the details."""
    integrity = _sqlite.integrity_check(db_path)
    if integrity != ['ok']:
        raise ArchiveRejected('PRAGMA integrity_check of the restored database failed: %s' % '; '.join(integrity[:5]))
    counts = _sqlite.row_counts(db_path)
    expected = (manifest.get('database') or {}).get('tables') or {}
    if counts != expected:
        diff = ['%s: %s in the database, %s in the manifest' % (t, counts.get(t), expected.get(t))
                for t in sorted(set(counts) | set(expected)) if counts.get(t) != expected.get(t)]
        raise ArchiveRejected('row counts of the restored database differ from the manifest: %s' % '; '.join(diff))
    return dict(integrity_check='ok', tables=counts)


def verify_archive(path, scratch_parent):
    """Full verification: checksums against the manifest, restore of the database and log into a scratch
    directory, PRAGMA integrity_check, row counts and log line count. Returns a report dict."""
    started = time.time()
    scratch = os.path.join(scratch_parent, '.%s.verify-%d' % (os.path.basename(path), os.getpid()))
    try:
        os.mkdir(scratch, 0o700)
    except OSError as exc:
        raise _backup_records.BackupError('cannot create the scratch directory %s: %s' % (scratch, exc))
    try:
        # Scratch files are deleted right after the checks: no fsync.
        result = read_archive(path, scratch, extract={DATABASE, TXLOG}, durable=False)
        db = check_database(result['extracted'][DATABASE], result['manifest'])
    finally:
        _files.remove_path(scratch)
    manifest = result['manifest']
    txlog = manifest.get('transaction_log') or {}
    return dict(path=path, name=os.path.basename(path), ok=True, archive_sha256=result['archive_sha256'],
                compression=result['compression'], created_at=manifest.get('created_at'),
                service_version=manifest.get('service_version'), members=len(result['members']),
                integrity_check=db['integrity_check'], tables=db['tables'],
                database_bytes=result['members'][DATABASE]['size'],
                transaction_log_lines=txlog.get('lines'), transaction_log_offset=txlog.get('offset'),
                last_seq=txlog.get('last_seq'), duration=round(time.time() - started, 3))
