# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The backup store: archive names, which backups exist and which are verified, retention, the backup log.

A finished archive is ``inventory_backup_<YYYY-MM-DDTHH-MM-SS>.tar.zst|gz``, the time in UTC. Its verification
record is ``<dir>/.verified/<archive name>.json``: ``ok`` true after a full verification passed (module
``backup``, state=verified or verify=true), false with the ``reason`` after one failed. A record only counts
while the archive keeps the size and mtime it had when verified.

Only the standard library's light modules here: health_check reads this on every host without the archive
code (_archive, the tar and zstd format). Leftovers of killed runs are found by _archive.stale_leftovers,
which needs its pid check.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import re

PREFIX = 'inventory_backup_'
TS_FORMAT = '%Y-%m-%dT%H-%M-%S'
NAME_RE = re.compile(r'^(inventory_backup_\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2})\.tar\.(zst|gz)$')
MARKER_DIR = '.verified'
EXTENSIONS = {'zstd': 'zst', 'gzip': 'gz'}
# Off-site copies encrypted with age (module_utils/_encryption.py): <archive name>.age.
ENCRYPTED_SUFFIX = '.age'


class BackupError(Exception):
    """What failed, where, and what to do."""


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso(dt):
    return dt.strftime('%Y-%m-%dT%H:%M:%SZ')


def archive_name(stamp, compression):
    return '%s%s.tar.%s' % (PREFIX, stamp.strftime(TS_FORMAT), EXTENSIONS[compression])


def parse_name(filename):
    """(top, timestamp, compression) of a finished archive name, or None."""
    match = NAME_RE.match(filename)
    if not match:
        return None
    top = match.group(1)
    stamp = datetime.datetime.strptime(top[len(PREFIX):], TS_FORMAT).replace(tzinfo=datetime.timezone.utc)
    return top, stamp, 'zstd' if match.group(2) == 'zst' else 'gzip'


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


def read_verification(archive):
    """The verification record of `archive`, passed or failed, if it still describes the same file (size and
    mtime); None when there is none: never verified, or changed since."""
    try:
        with open(marker_path(archive)) as handle:
            marker = json.load(handle)
        st = os.stat(archive)
        if isinstance(marker, dict) and marker.get('size') == st.st_size and marker.get('mtime_ns') == st.st_mtime_ns:
            return marker
    except (IOError, OSError, ValueError):
        pass
    return None


def read_marker(archive):
    """The record of a passed verification of `archive` if it still describes the same file, else None."""
    marker = read_verification(archive)
    # Records written before failures were recorded have no "ok": they were all passes.
    if marker is not None and marker.get('ok', True) is True:
        return marker
    return None


def _write_record(archive, record):
    directory = os.path.dirname(marker_path(archive))
    if not os.path.isdir(directory):
        os.mkdir(directory, 0o700)
    st = os.stat(archive)
    marker = dict(name=os.path.basename(archive), size=st.st_size, mtime_ns=st.st_mtime_ns, **record)
    tmp = marker_path(archive) + '.tmp-%d' % os.getpid()
    with open(tmp, 'w') as handle:
        json.dump(marker, handle)
    os.rename(tmp, marker_path(archive))
    return marker


# What a verification learnt from the manifest, kept in its record so the capacity review charts the database's
# size and rows over time without decompressing every archive again (module_utils/_capacity.py).
SUMMARY_KEYS = ('created_at', 'tables', 'database_bytes', 'transaction_log_offset')


def write_marker(archive, report):
    record = dict(ok=True, archive_sha256=report.get('archive_sha256'), verified_at=iso(utc_now()),
                  integrity_check=report.get('integrity_check'))
    record.update((key, report[key]) for key in SUMMARY_KEYS if report.get(key) is not None)
    return _write_record(archive, record)


def write_failure_marker(archive, reason):
    """Record that `archive` failed verification, so nothing counts it as a backup (health_check says why).
    Best effort: the caller is already reporting the failure, which matters more than the record."""
    try:
        return _write_record(archive, dict(ok=False, failed_at=iso(utc_now()), reason=str(reason)[:500]))
    except (IOError, OSError):
        return None


def verification_reason(backup):
    """None when a record says `backup` passed verification, else why it does not count as verified."""
    marker = read_verification(backup['path'])
    if marker is None:
        return 'not verified'
    if marker.get('ok', True) is not True:
        return 'failed verification: %s' % marker.get('reason')
    return None


def find_anchor(backups, is_verified):
    """(anchor, rejected): the newest of `backups` (newest first) that `is_verified` accepts, and the newer
    ones it rejected, each dict(name, reason). `is_verified(backup)` returns None when good, else the reason."""
    rejected = []
    for backup in backups:
        reason = is_verified(backup)
        if reason is None:
            return backup, rejected
        rejected.append(dict(name=backup['name'], reason=reason))
    return None, rejected


def plan_retention(backups, retention_days, is_verified):
    """(anchor, to_remove, rejected): the newest backup that verifies anchors the window; it is never removed.

    `is_verified(backup)` returns None when good, else the reason. Without any good backup nothing is removed.
    """
    anchor, rejected = find_anchor(backups, is_verified)
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
