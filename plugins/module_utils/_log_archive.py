# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Hot and cold retention of the service's daily log files, and their monthly archive.

A log file ``<class>-YYYY-MM-DD.log`` whose date is past its class's hot retention is compressed with zstd to
``<archive>/logs/YYYY-MM/<class>-YYYY-MM-DD.log.zst`` (the month of the log's own date), in this order::

    1. compress to .<name>.log.zst.partial-<pid>, hashing the original as it is read; fsync
    2. decompress the partial file and hash it: it must give the original's SHA-256
    3. rename to <name>.log.zst
    4. ARCHIVES.sha256 (SHA-256 of each .zst) then MANIFEST.sha256 (SHA-256 of each original), each written to a
       partial name, fsynced and renamed, the directory fsynced: the manifest entry makes an archive finished
    5. remove the original; fsync the log directory
    (4 and 5 for a batch of verified archives at a time)

A run killed anywhere leaves the original, or a finished archive (and maybe the original too). The next run
removes partial files of dead runs, re-does archives that exist without a manifest entry, and for an original
whose archive is in the manifest decompresses and hashes the archive again before it removes the original.

The date is read from the file name (the service names its files after the local date it writes them on), not
from the modification time, which a copy or a restore changes. Today's file is never touched.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import concurrent.futures
import datetime
import errno
import fcntl
import hashlib
import os
import re
import traceback

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _files
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._archive import stale_leftovers

ZSTD_IMP_ERR = None
try:
    import zstandard
    HAS_ZSTD = True
except ImportError:
    ZSTD_IMP_ERR = traceback.format_exc()
    HAS_ZSTD = False

CLASSES = ('application', 'security', 'audit')
HOT_RETENTION_DAYS = dict(application=14, security=90, audit=365)
COLD_RETENTION_DAYS = dict(application=365, security=730, audit=2555)
LOG_RE = re.compile(r'^(application|security|audit)-(\d{4})-(\d{2})-(\d{2})\.log$')
ARCHIVE_RE = re.compile(r'^(application|security|audit)-(\d{4})-(\d{2})-(\d{2})\.log\.zst$')
MONTH_RE = re.compile(r'^\d{4}-\d{2}$')
PARTIAL_RE = re.compile(r'^\..+\.partial-(\d+)$')
SUMS_RE = re.compile(r'^([0-9a-f]{64})  (\S+)$')
MANIFEST = 'MANIFEST.sha256'
ARCHIVE_SUMS = 'ARCHIVES.sha256'
LOCK = '.log_archive.lock'
SUBDIR = 'logs'


class LogArchiveError(Exception):
    """Archival cannot go on; the message says what, where and what to do. Originals are kept."""


def parse_name(name, pattern=LOG_RE):
    """(class, date) of a log or archive file name; None for other names or impossible dates."""
    match = pattern.match(name)
    if not match:
        return None
    try:
        day = datetime.date(int(match.group(2)), int(match.group(3)), int(match.group(4)))
    except ValueError:
        return None
    return match.group(1), day


def month_of(day):
    return '%04d-%02d' % (day.year, day.month)


# ---------------------------------------------------------------------------------------------------------
# Checksum files (sha256sum format, so `sha256sum -c` and `zstdcat | sha256sum` check them without us)

def read_sums(path):
    """{file name: sha256} of a checksum file; {} when missing. A malformed line is an error, not a skip."""
    sums = {}
    try:
        with open(path, 'r') as handle:
            lines = handle.read().splitlines()
    except IOError as exc:
        if exc.errno == errno.ENOENT:
            return sums
        raise
    for number, line in enumerate(lines, 1):
        match = SUMS_RE.match(line)
        if not match:
            raise LogArchiveError('%s line %d is not "<sha256>  <file>": %r. Restore it from the backup server '
                                  'copy or rebuild it with sha256sum, then run again' % (path, number, line[:80]))
        sums[match.group(2)] = match.group(1)
    return sums


def write_atomic(path, text):
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, '.%s.partial-%d' % (name, os.getpid()))
    with open(tmp, 'w') as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(tmp, path)
    _files.fsync_dir(directory)


def sums_text(sums):
    return ''.join('%s  %s\n' % (sums[name], name) for name in sorted(sums))


class Month(object):
    """One month directory of the archive and its two checksum files."""

    def __init__(self, root, month):
        self.month = month
        self.path = os.path.join(root, month)
        self.manifest = read_sums(os.path.join(self.path, MANIFEST))
        self.archives = read_sums(os.path.join(self.path, ARCHIVE_SUMS))

    def save(self):
        """The archive sums first, the manifest last: an entry in the manifest marks a finished archive."""
        self.archives = dict((name, digest) for name, digest in self.archives.items()
                             if name[:-len('.zst')] in self.manifest or os.path.exists(os.path.join(self.path, name)))
        if not self.manifest and not self.archives:
            for name in (MANIFEST, ARCHIVE_SUMS):
                _files.remove_path(os.path.join(self.path, name))
            return
        write_atomic(os.path.join(self.path, ARCHIVE_SUMS), sums_text(self.archives))
        write_atomic(os.path.join(self.path, MANIFEST), sums_text(self.manifest))


# ---------------------------------------------------------------------------------------------------------
# Compression and verification (run in worker threads: zstandard, hashlib and file I/O release the GIL)

def decompressed_sha256(path):
    """(SHA-256 of the decompressed content, its size) of a .zst file; LogArchiveError when it is truncated or
    corrupt. The incremental decoder's eof flag tells a complete frame from a cut one."""
    digest, size = hashlib.sha256(), 0
    decoder = zstandard.ZstdDecompressor().decompressobj()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(_files.CHUNK), b''):
            if decoder.eof:
                raise LogArchiveError('%s holds data after its zstd frame: not an archive of this module' % path)
            try:
                out = decoder.decompress(chunk)
            except zstandard.ZstdError as exc:
                raise LogArchiveError('%s is corrupt: zstd decompression failed: %s' % (path, exc))
            digest.update(out)
            size += len(out)
    if not decoder.eof:
        raise LogArchiveError('%s is truncated: its zstd frame ends early' % path)
    return digest.hexdigest(), size


def compress(src, dest, level, threads):
    """Compress src into a partial file beside dest, verify it by decompressing, rename it to dest.
    Returns the archive's record; on any failure the partial file is removed and src is untouched."""
    tmp = os.path.join(os.path.dirname(dest), '.%s.partial-%d' % (os.path.basename(dest), os.getpid()))
    st = os.stat(src)
    original = hashlib.sha256()
    try:
        with open(src, 'rb') as source:
            with open(tmp, 'wb') as raw:
                sink = _files.HashingWriter(raw)
                cctx = zstandard.ZstdCompressor(level=level, threads=threads, write_content_size=True)
                with cctx.stream_writer(sink, size=st.st_size, closefd=False) as writer:
                    for chunk in iter(lambda: source.read(_files.CHUNK), b''):
                        original.update(chunk)
                        writer.write(chunk)
                raw.flush()
                os.fsync(raw.fileno())
        os.chmod(tmp, st.st_mode & 0o7777)
        os.utime(tmp, (st.st_atime, st.st_mtime))
        digest, size = decompressed_sha256(tmp)
        if digest != original.hexdigest():
            raise LogArchiveError('the archive written for %s decompresses to other content (SHA-256 %s, %d bytes; '
                                  'original %s, %d bytes): was the file written to meanwhile? It is kept; run again'
                                  % (src, digest, size, original.hexdigest(), st.st_size))
        # Durable with the directory fsync of the manifest written after it, in the same directory.
        os.rename(tmp, dest)
    except BaseException:
        _files.remove_path(tmp)
        raise
    return dict(src=src, dest=dest, size=st.st_size, compressed_size=sink.size, sha256=original.hexdigest(),
                archive_sha256=sink.sha256.hexdigest())


# ---------------------------------------------------------------------------------------------------------
# Planning (also what check mode reports)

def scan_logs(log_dir):
    """[(name, class, date)] of the log files of the three classes in log_dir, sorted."""
    try:
        names = sorted(os.listdir(log_dir))
    except OSError as exc:
        raise LogArchiveError('cannot list the log directory %s: %s. Point log_dir at the service\'s LOG_DIR'
                              % (log_dir, exc))
    found = []
    for name in names:
        parsed = parse_name(name)
        if parsed and os.path.isfile(os.path.join(log_dir, name)) and not os.path.islink(os.path.join(log_dir, name)):
            found.append((name, parsed[0], parsed[1]))
    return found


def scan_months(root):
    """{month: Month} of the month directories below root."""
    months = {}
    if os.path.isdir(root):
        for name in sorted(os.listdir(root)):
            if MONTH_RE.match(name) and os.path.isdir(os.path.join(root, name)):
                months[name] = Month(root, name)
    return months


def plan(log_dir, root, hot, cold, today, prune=True):
    """What a run does: archive (new archives), finish (archived, original still there), expire (originals past
    the cold retention), prune (archives past it), redo (archives without a manifest entry) and leftovers."""
    months = scan_months(root)
    work = dict(archive=[], finish=[], expire=[], prune=[], redo=[], leftovers=[])
    for name, cls, day in scan_logs(log_dir):
        if day >= today or day >= today - datetime.timedelta(days=hot[cls]):
            continue
        src = os.path.join(log_dir, name)
        if prune and day < today - datetime.timedelta(days=cold[cls]):
            work['expire'].append(dict(src=src, log_class=cls, date=day.isoformat()))
            continue
        month = months.get(month_of(day))
        dest = os.path.join(root, month_of(day), name + '.zst')
        item = dict(src=src, dest=dest, log_class=cls, date=day.isoformat(), month=month_of(day))
        if month is not None and name in month.manifest:
            work['finish'].append(item)
            continue
        if os.path.lexists(dest):
            work['redo'].append(dest)
        work['archive'].append(item)
    for month in months.values():
        work['leftovers'].extend(stale_leftovers(month.path, PARTIAL_RE))
        if prune:
            work['prune'].extend(expired_archives(month, cold, today))
    return months, work


def expired_archives(month, cold, today):
    found = []
    names = set(name + '.zst' for name in month.manifest)
    names.update(name for name in os.listdir(month.path) if ARCHIVE_RE.match(name))
    for name in sorted(names):
        parsed = parse_name(name, ARCHIVE_RE)
        if parsed and parsed[1] < today - datetime.timedelta(days=cold[parsed[0]]):
            found.append(dict(path=os.path.join(month.path, name), log_class=parsed[0], date=parsed[1].isoformat(),
                              month=month.month))
    return found


# ---------------------------------------------------------------------------------------------------------
# Doing it

def lock(root):
    """An exclusive lock on the archive for this process (released by the kernel when it dies, even killed)."""
    handle = open(os.path.join(root, LOCK), 'a')
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except IOError:
        handle.close()
        raise LogArchiveError('another log archival holds %s: wait for it to finish' % os.path.join(root, LOCK))
    return handle


def remove_original(src):
    os.unlink(src)
    _files.fsync_dir(os.path.dirname(src))


def finish(item, month):
    """An archive in the manifest whose original is still there (a run killed between steps 4 and 5, or an
    original put back): decompress and hash it again, and only when it matches remove the original."""
    expected = month.manifest[os.path.basename(item['src'])]
    original = _files.sha256_file(item['src'])
    if not os.path.exists(item['dest']):
        raise LogArchiveError('%s is listed in %s but missing; the original %s is kept. Restore the archive from '
                              'the backup server, or remove its line from the manifest, and run again'
                              % (item['dest'], os.path.join(month.path, MANIFEST), item['src']))
    try:
        digest, size = decompressed_sha256(item['dest'])
    except LogArchiveError as exc:
        raise LogArchiveError('%s. The original %s is kept; move the archive aside (or restore it from the backup '
                              'server) and run again' % (exc, item['src']))
    if digest != expected or original != expected:
        raise LogArchiveError('%s does not match: manifest %s, archive content %s, original %s. The original %s is '
                              'kept; move the archive aside (or restore it from the backup server) and run again'
                              % (item['dest'], expected, digest, original, item['src']))
    remove_original(item['src'])
    return dict(item, size=size, compressed_size=os.path.getsize(item['dest']), sha256=digest, resumed=True)


def record(results, months, root):
    """Steps 4 and 5 for verified archives: manifest entries of each month (one write per month), then removal
    of the originals (one fsync of each log directory): a batch costs a few fsyncs, not several per file."""
    for result in results:
        name = os.path.basename(result['src'])
        month = months.setdefault(result['month'], Month(root, result['month']))
        month.archives[name + '.zst'] = result.pop('archive_sha256')
        month.manifest[name] = result['sha256']
        result['resumed'] = False
    for month_name in sorted(set(result['month'] for result in results)):
        months[month_name].save()
    for result in results:
        os.unlink(result['src'])
    for directory in sorted(set(os.path.dirname(result['src']) for result in results)):
        _files.fsync_dir(directory)
    return results


def archive_all(items, months, root, level, workers, batch=16):
    """Compress in parallel; record verified archives in batches as they complete, in the main thread.
    Returns (records of the archived files, the first failure or None): what was done is reported either way."""
    done, pending, failure = [], [], None
    # Fewer files than workers (a month of one class): zstd's own threads use the idle cores.
    threads = 0 if len(items) >= workers else -1
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {}
        for item in items:
            directory = os.path.dirname(item['dest'])
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o755)
                _files.fsync_dir(os.path.dirname(directory))
            _files.remove_path(item['dest'])  # an archive without manifest entry: unfinished, done again
            futures[pool.submit(compress, item['src'], item['dest'], level, threads)] = item
        remaining = len(futures)
        for future in concurrent.futures.as_completed(futures):
            remaining -= 1
            try:
                pending.append(dict(futures[future], **future.result()))
                if len(pending) >= batch or not remaining:
                    ready, pending = pending, []
                    done.extend(record(ready, months, root))
            except (LogArchiveError, OSError) as exc:
                failure = failure or exc
        if pending:
            ready, pending = pending, []
            try:
                done.extend(record(ready, months, root))
            except (LogArchiveError, OSError) as exc:
                failure = failure or exc
    return done, failure


def prune_archives(items, months):
    """Manifest entries go first, then the files: an archive never stays listed once it is gone."""
    for month_name in sorted(set(item['month'] for item in items)):
        month = months[month_name]
        for item in items:
            if item['month'] == month_name:
                name = os.path.basename(item['path'])
                month.manifest.pop(name[:-len('.zst')], None)
                month.archives.pop(name, None)
        month.save()
        for item in items:
            if item['month'] == month_name:
                _files.remove_path(item['path'])
        if not os.listdir(month.path):
            os.rmdir(month.path)
            del months[month_name]
