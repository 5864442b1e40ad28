# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The backup archive format of Inventory Enterprise: layout, manifest, member validation, atomic writes.

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

import datetime
import errno
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

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _sqlite

ZSTD_IMP_ERR = None
try:
    import zstandard
    HAS_ZSTD = True
except ImportError:
    ZSTD_IMP_ERR = traceback.format_exc()
    HAS_ZSTD = False

FORMAT = 'inventory-enterprise-backup'
FORMAT_VERSION = 1
PREFIX = 'inventory_backup_'
TS_FORMAT = '%Y-%m-%dT%H-%M-%S'
TOP_RE = re.compile(r'^inventory_backup_(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2})$')
NAME_RE = re.compile(r'^(inventory_backup_\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2})\.tar\.(zst|gz)$')
PARTIAL_RE = re.compile(r'^\.inventory_backup_.*\.(partial|work|verify)-(\d+)$')
EXTENSIONS = {'zstd': 'zst', 'gzip': 'gz'}
# Off-site copies encrypted with age (module_utils/_encryption.py): <archive name>.age.
ENCRYPTED_SUFFIX = '.age'
ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'
GZIP_MAGIC = b'\x1f\x8b'

DATABASE = 'database.db'
TXLOG = 'transaction_log.jsonl'
MANIFEST = 'manifest.json'
ENV = '.env'
TREES = ('config', 'models')
MAX_MANIFEST = 4 * 1024 * 1024
CHUNK = 1024 * 1024
MARKER_DIR = '.verified'


class BackupError(Exception):
    """What failed, where, and what to do."""


class ArchiveRejected(BackupError):
    """The archive is unsafe or damaged; nothing live was touched."""


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso(dt):
    return dt.strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_name(filename):
    """(top, timestamp, compression) of a finished archive name, or None."""
    match = NAME_RE.match(filename)
    if not match:
        return None
    top = match.group(1)
    stamp = datetime.datetime.strptime(top[len(PREFIX):], TS_FORMAT).replace(tzinfo=datetime.timezone.utc)
    return top, stamp, 'zstd' if match.group(2) == 'zst' else 'gzip'


def archive_name(stamp, compression):
    return '%s%s.tar.%s' % (PREFIX, stamp.strftime(TS_FORMAT), EXTENSIONS[compression])


def fsync_dir(path):
    _sqlite.fsync_path(path, directory=True)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def remove_path(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        try:
            os.unlink(path)
        except OSError:
            pass


def stale_leftovers(directory):
    """Temporary files and directories of backup/verify runs whose process is gone (killed mid-run)."""
    found = []
    try:
        names = os.listdir(directory)
    except OSError:
        return found
    for name in sorted(names):
        match = PARTIAL_RE.match(name)
        if match and not pid_alive(int(match.group(2))):
            found.append(os.path.join(directory, name))
    return found


def no_space_hint(exc, where):
    if getattr(exc, 'errno', None) in (errno.ENOSPC, errno.EDQUOT):
        return ('no space left on the filesystem of %s: free space there, prune old backups (retention_days), '
                'or write the backup to a larger filesystem (dest)' % where)
    return None


# ---------------------------------------------------------------------------------------------------------
# Service layout

ENV_KEYS = dict(database_path=('DATABASE_PATH', 'data/enterprise_inventory.db'),
                transaction_log_path=('TRANSACTION_LOG_PATH', 'data/transaction_log.jsonl'),
                backup_dir=('BACKUP_DIR', 'backups'),
                config_dir=('CONFIG_DIR', 'config'),
                models_dir=('MODELS_DIR', 'ai/models'),
                log_dir=('LOG_DIR', 'logs'))


def read_env_file(path):
    """KEY=VALUE pairs of a .env file (comments, `export`, quotes); {} when it does not exist."""
    values = {}
    try:
        with open(path, encoding='utf-8') as handle:
            for raw in handle:
                line = raw.strip()
                if not line or line.startswith('#'):
                    continue
                if line.startswith('export '):
                    line = line[7:].lstrip()
                key, sep, value = line.partition('=')
                if not sep:
                    continue
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
                    value = value[1:-1]
                elif ' #' in value:
                    value = value.split(' #', 1)[0].rstrip()
                values[key.strip()] = value
    except (IOError, OSError):
        pass
    return values


def service_paths_argument_spec():
    """Options locating the service's files, shared by the backup and restore modules (see service_paths)."""
    return dict(
        service_home=dict(type='path', default='/opt/inventory-enterprise'),
        env_file=dict(type='path'),
        database_path=dict(type='path'),
        transaction_log_path=dict(type='path'),
        config_dir=dict(type='path'),
        models_dir=dict(type='path'),
    )


def service_paths(service_home, env_file=None, **explicit):
    """Absolute paths of the service's files: explicit options win over .env keys, which win over defaults."""
    home = os.path.abspath(service_home)
    env_file = env_file or os.path.join(home, '.env')
    env = read_env_file(env_file)
    paths = dict(service_home=home, env_file=env_file)
    for option, (key, default) in ENV_KEYS.items():
        value = explicit.get(option) or env.get(key) or default
        paths[option] = os.path.normpath(os.path.join(home, value))
    return paths


def service_version(service_home):
    """Version of the deployed service: package.json (Node.js) or the reference wheel's dist-info."""
    try:
        with open(os.path.join(service_home, 'package.json')) as handle:
            return str(json.load(handle).get('version') or 'unknown')
    except (IOError, OSError, ValueError):
        pass
    venv_lib = os.path.join(service_home, 'venv', 'lib')
    try:
        for pyver in os.listdir(venv_lib):
            site = os.path.join(venv_lib, pyver, 'site-packages')
            for name in os.listdir(site):
                match = re.match(r'^inventory_enterprise_reference-([^-]+)\.dist-info$', name)
                if match:
                    return match.group(1)
    except OSError:
        pass
    return 'unknown'


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


class HashingWriter(object):
    def __init__(self, fileobj):
        self.fileobj = fileobj
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.sha256.update(data)
        self.size += len(data)
        return self.fileobj.write(data)

    def flush(self):
        self.fileobj.flush()

    def tell(self):
        return self.size


class DecompressingReader(object):
    """Decompresses a zstd or gzip file incrementally and fails on truncation or corrupt frames.

    Unlike the stream readers of gzip/zstandard it raises when the input ends inside a frame, so a
    truncated archive can never pass for a complete one.
    """

    def __init__(self, raw, compression):
        self.raw = raw
        self.compression = compression
        self.buffer = b''
        self.finished = False
        self.frames = 0
        self.decoder = self._new_decoder()
        self.pending = b''

    def _new_decoder(self):
        if self.compression == 'zstd':
            return zstandard.ZstdDecompressor().decompressobj()
        return zlib.decompressobj(wbits=31)

    def _decoder_eof(self):
        return bool(getattr(self.decoder, 'eof', False))

    def _fill(self):
        chunk = self.pending or self.raw.read(CHUNK)
        self.pending = b''
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
            self.pending = getattr(self.decoder, 'unused_data', b'') or b''
        self.buffer += out

    def read(self, size=-1):
        if size is None or size < 0:
            while not self.finished:
                self._fill()
            data, self.buffer = self.buffer, b''
            return data
        while len(self.buffer) < size and not self.finished:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


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
                step = min(CHUNK, position)
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


def _tree_files(root):
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
            raise BackupError('compression=zstd needs the Python library zstandard on the managed host: install it '
                              '(pip install zstandard) or use compression=gzip')
        params = zstandard.ZstdCompressor(level=level or 3, threads=threads, write_checksum=True)
        return params.stream_writer(fileobj, closefd=False)
    return gzip.GzipFile(fileobj=fileobj, mode='wb', compresslevel=level or 6, mtime=0)


def create_backup(paths, dest, compression='zstd', level=None, threads=-1, database_only=False,
                  version='unknown', created_by='ansible', work_parent=None, now=None):
    """Write one archive atomically into `dest`; returns the result dict. Raises BackupError.

    Order matters for consistency with a live service that commits to the database, then appends to the
    transaction log: the log's last complete line is fixed first, then the database snapshot is taken, so
    every logged transaction is in the snapshot.
    """
    stamp = now or utc_now()
    name = archive_name(stamp, compression)
    final = os.path.join(dest, name)
    while os.path.lexists(final):
        # Two runs in the same second: take the next second rather than overwrite or rename the format.
        stamp = stamp + datetime.timedelta(seconds=1)
        name = archive_name(stamp, compression)
        final = os.path.join(dest, name)
    top = name.split('.tar.')[0]
    pid = os.getpid()
    partial = os.path.join(dest, '.%s.partial-%d' % (name, pid))
    work = os.path.join(work_parent or dest, '.%s.work-%d' % (top, pid))
    started = time.time()
    members, skipped = [], []
    try:
        os.mkdir(work, 0o700)
        txlog_offset = txlog_lines = 0
        last_seq = None
        txlog_path = paths['transaction_log_path']
        if not database_only:
            txlog_offset = _last_complete_line(txlog_path)
            last_seq = _last_seq(txlog_path, txlog_offset)
        snap_path = os.path.join(work, DATABASE)
        snap = _sqlite.snapshot(paths['database_path'], snap_path)
        tables = _sqlite.row_counts(snap_path)

        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'wb') as raw:
            hashed = HashingWriter(raw)
            compressor = _open_compressor(hashed, compression, level, threads)
            tar = tarfile.open(fileobj=compressor, mode='w|', bufsize=CHUNK, format=tarfile.PAX_FORMAT)
            tar.copybufsize = CHUNK

            def add_file(rel, fileobj, size, mtime, count_lines=False):
                reader = HashingReader(fileobj, limit=size, count_lines=count_lines)
                tar.addfile(_info('%s/%s' % (top, rel), size, mtime), reader)
                members.append(dict(path=rel, size=reader.size, sha256=reader.sha256.hexdigest()))
                return reader

            tar.addfile(_info(top, 0, stamp.timestamp(), directory=True))
            with open(snap_path, 'rb') as handle:
                add_file(DATABASE, handle, snap['bytes'], stamp.timestamp())
            if not database_only:
                if os.path.exists(txlog_path):
                    with open(txlog_path, 'rb') as handle:
                        reader = add_file(TXLOG, handle, txlog_offset, stamp.timestamp(), count_lines=True)
                        txlog_lines = reader.lines
                else:
                    add_file(TXLOG, io.BytesIO(b''), 0, stamp.timestamp())
                if os.path.isfile(paths['env_file']):
                    with open(paths['env_file'], 'rb') as handle:
                        data = handle.read()
                    add_file(ENV, io.BytesIO(data), len(data), os.path.getmtime(paths['env_file']))
                for tree, root in (('config', paths['config_dir']), ('models', paths['models_dir'])):
                    tar.addfile(_info('%s/%s' % (top, tree), 0, stamp.timestamp(), directory=True))
                    files, links = _tree_files(root)
                    skipped.extend(links)
                    for rel, full in files:
                        with open(full, 'rb') as handle:
                            data = handle.read()
                        add_file('%s/%s' % (tree, rel), io.BytesIO(data), len(data), os.path.getmtime(full))
            manifest = dict(
                format=FORMAT, format_version=FORMAT_VERSION, name=top, created_at=iso(stamp),
                created_by=created_by, host=socket.gethostname(), service_version=version,
                compression=compression, database_only=bool(database_only),
                database=dict(path=DATABASE, source=paths['database_path'], page_size=snap['page_size'],
                              page_count=snap['page_count'], tables=tables),
                transaction_log=None if database_only else dict(
                    path=TXLOG, source=txlog_path, offset=txlog_offset, lines=txlog_lines, last_seq=last_seq),
                members=members)
            data = json.dumps(manifest, indent=2, sort_keys=True).encode('utf-8')
            tar.addfile(_info('%s/%s' % (top, MANIFEST), len(data), stamp.timestamp()), io.BytesIO(data))
            tar.close()
            compressor.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(partial, 0o600)
        os.rename(partial, final)
        fsync_dir(dest)
    except (OSError, IOError) as exc:
        hint = no_space_hint(exc, dest if not os.path.exists(work) else os.path.dirname(work))
        raise BackupError('backup into %s failed: %s%s' % (dest, exc, '; ' + hint if hint else ''))
    except _sqlite.SqliteError as exc:
        hint = no_space_hint(OSError(errno.ENOSPC, 'full'), os.path.dirname(work)) if exc.disk_full else None
        raise BackupError('%s%s' % (exc, '; ' + hint if hint else ''))
    finally:
        remove_path(partial)
        remove_path(work)
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
        shutil.copyfileobj(fileobj, out, CHUNK)
        out.flush()
        if durable:
            os.fsync(out.fileno())
    return target


def read_archive(path, scratch=None, extract=None, durable=True):
    """Stream through the archive once: validate every member, hash it, check it against the manifest.

    `extract`: None extracts nothing; a set of relative paths or prefixes ('database.db', 'config/'...) or
    True for everything; extracted files go into `scratch` (an empty directory the caller owns).
    Returns dict(top, manifest, members, extracted, archive_sha256, compression). Raises ArchiveRejected.
    """
    parsed = parse_name(os.path.basename(path))
    state = dict(top=None, expected_top=parsed[0] if parsed else None, seen=set())
    members, extracted, dirs = {}, {}, set()
    manifest = None
    if not os.path.isfile(path) or os.path.islink(path):
        raise ArchiveRejected('%s is not a regular file' % path)
    compression = detect_compression(path)
    if compression == 'zstd' and not HAS_ZSTD:
        raise BackupError('%s is zstd-compressed: install the Python library zstandard on this host' % path)
    with open(path, 'rb') as raw:
        hashed = HashingReader(raw)
        stream = DecompressingReader(hashed, compression)
        try:
            tar = tarfile.open(fileobj=stream, mode='r|', bufsize=CHUNK)
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
                reader = HashingReader(source, count_lines=relpath == TXLOG)
                wanted = extract is True or (extract and any(
                    relpath == item or (item.endswith('/') and relpath.startswith(item)) for item in extract))
                if wanted:
                    extracted[relpath] = _safe_write(scratch, relpath, reader, info.size, durable)
                else:
                    while reader.read(CHUNK):
                        pass
                if reader.size != info.size:
                    raise ArchiveRejected('member %r is truncated (%d of %d bytes)'
                                          % (info.name, reader.size, info.size))
                members[relpath] = dict(size=reader.size, sha256=reader.sha256.hexdigest(), lines=reader.lines)
            tar.close()
            stream.read()  # the rest of the compressed stream: raises if it is truncated or corrupt
        except tarfile.TarError as exc:
            raise ArchiveRejected('the archive is damaged: tar: %s' % exc)
        except (EOFError, zlib.error) as exc:
            raise ArchiveRejected('the archive is damaged: %s' % exc)
        except (OSError, IOError) as exc:
            hint = no_space_hint(exc, scratch or path)
            raise BackupError('reading %s failed: %s%s' % (path, exc, '; ' + hint if hint else ''))
    if state['top'] is None:
        raise ArchiveRejected('the archive is empty')
    check_manifest(manifest, state['top'], members)
    return dict(top=state['top'], manifest=manifest, members=members, extracted=extracted, dirs=dirs,
                archive_sha256=hashed.sha256.hexdigest(), compression=compression)


def check_manifest(manifest, top, members):
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
        listed[entry.get('path')] = entry
    if DATABASE not in listed:
        raise ArchiveRejected('the manifest lists no database.db')
    missing = sorted(set(listed) - set(members))
    if missing:
        raise ArchiveRejected('members listed in the manifest are missing from the archive: %s' % ', '.join(missing))
    extra = sorted(set(members) - set(listed))
    if extra:
        raise ArchiveRejected('members not listed in the manifest: %s' % ', '.join(extra))
    for relpath, entry in sorted(listed.items()):
        found = members[relpath]
        if found['size'] != entry.get('size'):
            raise ArchiveRejected('%s is %d bytes, the manifest says %s' % (relpath, found['size'], entry.get('size')))
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
        raise BackupError('cannot create the scratch directory %s: %s' % (scratch, exc))
    try:
        # Scratch files are deleted right after the checks: no fsync.
        result = read_archive(path, scratch, extract={DATABASE, TXLOG}, durable=False)
        db = check_database(result['extracted'][DATABASE], result['manifest'])
    finally:
        remove_path(scratch)
    manifest = result['manifest']
    txlog = manifest.get('transaction_log') or {}
    return dict(path=path, name=os.path.basename(path), ok=True, archive_sha256=result['archive_sha256'],
                compression=result['compression'], created_at=manifest.get('created_at'),
                service_version=manifest.get('service_version'), members=len(result['members']),
                integrity_check=db['integrity_check'], tables=db['tables'],
                transaction_log_lines=txlog.get('lines'), transaction_log_offset=txlog.get('offset'),
                last_seq=txlog.get('last_seq'), duration=round(time.time() - started, 3))


# ---------------------------------------------------------------------------------------------------------
# Listing, verified markers, retention

def list_backups(directory, encrypted=False):
    """Finished archives in `directory`, newest first by the time in their name.

    With `encrypted`, age-encrypted copies (``<archive name>.age``, found off-site) are listed too, marked
    ``encrypted``; they can only be checked against their SHA-256, never opened, where no key is.
    """
    found = []
    try:
        names = os.listdir(directory)
    except OSError:
        return found
    for name in names:
        plain = name[:-len(ENCRYPTED_SUFFIX)] if encrypted and name.endswith(ENCRYPTED_SUFFIX) else name
        parsed = parse_name(plain)
        full = os.path.join(directory, name)
        if parsed and os.path.isfile(full) and not os.path.islink(full):
            found.append(dict(name=name, path=full, top=parsed[0], timestamp=parsed[1], compression=parsed[2],
                              size=os.path.getsize(full), encrypted=plain != name))
    found.sort(key=lambda b: (b['timestamp'], b['name']), reverse=True)
    return found


def marker_path(archive):
    return os.path.join(os.path.dirname(archive), MARKER_DIR, os.path.basename(archive) + '.json')


def read_marker(archive):
    """The verification record of `archive` if it still describes the same file (size and mtime)."""
    try:
        with open(marker_path(archive)) as handle:
            marker = json.load(handle)
        st = os.stat(archive)
        if marker.get('size') == st.st_size and marker.get('mtime_ns') == st.st_mtime_ns:
            return marker
    except (IOError, OSError, ValueError):
        pass
    return None


def write_marker(archive, report):
    directory = os.path.dirname(marker_path(archive))
    if not os.path.isdir(directory):
        os.mkdir(directory, 0o700)
    st = os.stat(archive)
    marker = dict(name=os.path.basename(archive), size=st.st_size, mtime_ns=st.st_mtime_ns,
                  archive_sha256=report.get('archive_sha256'), verified_at=iso(utc_now()),
                  integrity_check=report.get('integrity_check'))
    tmp = marker_path(archive) + '.tmp-%d' % os.getpid()
    with open(tmp, 'w') as handle:
        json.dump(marker, handle)
    os.rename(tmp, marker_path(archive))
    return marker


def plan_retention(backups, retention_days, is_verified):
    """(anchor, to_remove, rejected): the newest backup that verifies anchors the window; it is never removed.

    `is_verified(backup)` returns None when good, else the reason. Without any good backup nothing is removed.
    """
    rejected = []
    anchor = None
    for backup in backups:
        reason = is_verified(backup)
        if reason is None:
            anchor = backup
            break
        rejected.append(dict(name=backup['name'], reason=reason))
    if anchor is None:
        return None, [], rejected
    cutoff = anchor['timestamp'] - datetime.timedelta(days=retention_days)
    remove = [b for b in backups if b['timestamp'] < cutoff and b['path'] != anchor['path']]
    return anchor, remove, rejected


def log_line(log_dir, level, message):
    """Append one line to <log_dir>/backup-<local date>.log, in the service's log format (the guide's
    `cat logs/backup-$(date +%Y-%m-%d).log`). Never fails the caller."""
    now = datetime.datetime.now(datetime.timezone.utc)
    path = os.path.join(log_dir, 'backup-%s.log' % datetime.date.today().isoformat())
    try:
        if not os.path.isdir(log_dir):
            os.makedirs(log_dir, 0o755)
        with open(path, 'a') as handle:
            handle.write('%s.%03dZ %s %s\n' % (now.strftime('%Y-%m-%dT%H:%M:%S'), now.microsecond // 1000, level,
                                               ' '.join(message.split())))
    except (IOError, OSError):
        return None
    return path
