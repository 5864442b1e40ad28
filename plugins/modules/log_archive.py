#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: log_archive
short_description: Archive the service's daily log files past their hot retention, verified, never losing a line
version_added: 0.3.0
description:
  - The guide's monthly log archival with the retention of its "Log Rotation" section per log class. The guide's
    script archives logs "older than 90 days" while application logs are kept only 14 days, so as written it would
    archive nothing but security and audit logs. Here every class has its own hot retention
    (O(hot_retention_days)); a file C(<class>-YYYY-MM-DD.log) of O(log_dir) older than that is archived.
  - A file is compressed with zstd to C(<archive_dir>/logs/YYYY-MM/<class>-YYYY-MM-DD.log.zst) (the month of
    the log's date), decompressed and hashed, and only when that gives the original's SHA-256 is the original removed.
    C(MANIFEST.sha256) in the month directory lists the SHA-256 of each original, C(ARCHIVES.sha256) that of each
    C(.zst) file (both in C(sha256sum) format).
  - Partial files are written under hidden names, fsynced and renamed; the manifest entry is written last. A run
    killed at any point (even with SIGKILL) leaves the original or a finished, verified archive; the next run removes
    the partial files of dead runs and completes the work.
  - The date comes from the file name, not the modification time. Today's file, still being written, is never
    touched (the hot retention is at least one day).
  - Archives older than the cold retention of their class (O(cold_retention_days)) are removed; so are log files
    that are already past it without ever having been archived (O(prune=false) keeps both).
  - Files are compressed in parallel, one per core (O(workers)).
  - A second run changes nothing. Check mode lists what would be archived and pruned, and writes nothing.
requirements:
  - zstandard (Python, on the managed host)
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The log files that leave the log directory and the archives that appear or are pruned.
options:
  log_dir:
    description: The service's log directory (C(LOG_DIR), the guide's C(logs/)).
    type: path
    required: true
  archive_dir:
    description:
      - The archive root (the guide's C(/mnt/archive)); archives go to its C(logs/YYYY-MM/) directories.
      - It may be a mounted cold storage; it is created when missing.
    type: path
    required: true
  hot_retention_days:
    description:
      - Days a log file stays in O(log_dir), per class (C(application), C(security), C(audit)); classes not given
        keep their default. At least 1.
      - Defaults are the guide's "Log Rotation" figures, C(application=14), C(security=90), C(audit=365).
    type: dict
  cold_retention_days:
    description:
      - Days an archive is kept, counted from the log's date, per class; classes not given keep their default.
        Not less than the hot retention.
      - Defaults C(application=365), C(security=730), C(audit=2555) (seven years).
    type: dict
  prune:
    description: Remove archives (and never-archived log files) older than the cold retention.
    type: bool
    default: true
  compression_level:
    description: zstd compression level.
    type: int
    default: 6
  workers:
    description: Files compressed at the same time; C(0) is one per core of the host.
    type: int
    default: 0
'''

EXAMPLES = r'''
- name: Archive logs to the cold storage mount
  inventory_enterprise.ops.log_archive:
    log_dir: /opt/inventory-enterprise/logs
    archive_dir: /mnt/archive
  register: archived

- name: What would move, writing nothing
  inventory_enterprise.ops.log_archive:
    log_dir: /opt/inventory-enterprise/logs
    archive_dir: /mnt/archive
    hot_retention_days:
      application: 30
  check_mode: true
  diff: true
'''

RETURN = r'''
archived:
  description: Log files archived by this run (or that would be, in check mode), each removed after verification.
  returned: always
  type: list
  elements: dict
  contains:
    src:
      description: The log file.
      type: str
    dest:
      description: Its archive.
      type: str
    log_class:
      description: C(application), C(security) or C(audit).
      type: str
    date:
      description: The log's date (from its name).
      type: str
    month:
      description: The archive month directory (C(YYYY-MM)).
      type: str
    size:
      description: Bytes of the original (null in check mode).
      type: int
    compressed_size:
      description: Bytes of the archive (null in check mode).
      type: int
    sha256:
      description: SHA-256 of the original, as the manifest records it (null in check mode).
      type: str
    resumed:
      description: True when the archive was made by an interrupted run; this run verified it and removed the original.
      type: bool
  sample: [{"src": "/opt/inventory-enterprise/logs/application-2026-10-01.log", "log_class": "application",
            "dest": "/mnt/archive/logs/2026-10/application-2026-10-01.log.zst", "date": "2026-10-01",
            "month": "2026-10", "size": 1048576, "compressed_size": 61234, "sha256": "9f86d0...", "resumed": false}]
verified:
  description: Archives decompressed and hashed by this run, matching their original.
  returned: always
  type: list
  elements: str
  sample: [/mnt/archive/logs/2026-10/application-2026-10-01.log.zst]
pruned:
  description: Archives, and log files never archived, removed as older than their cold retention.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file removed.
      type: str
    log_class:
      description: Its class.
      type: str
    date:
      description: Its log date.
      type: str
    kind:
      description: C(archive) or C(log) (a log file past its cold retention, never archived).
      type: str
  sample: [{"path": "/mnt/archive/logs/2025-09/application-2025-09-30.log.zst", "log_class": "application",
            "date": "2025-09-30", "kind": "archive"}]
leftovers_removed:
  description: Partial files of interrupted runs removed, and unfinished archives (no manifest entry) made again.
  returned: always
  type: list
  elements: str
  sample: [/mnt/archive/logs/2026-10/.application-2026-10-01.log.zst.partial-4242]
bytes_before:
  description: Bytes of the log files archived by this run.
  returned: always
  type: int
  sample: 1048576
bytes_after:
  description: Bytes of their archives.
  returned: always
  type: int
  sample: 61234
months:
  description: The archive's month directories after the run, with the SHA-256 of each archive in them (what a copy
    to the backup server is checked against).
  returned: always
  type: list
  elements: dict
  contains:
    month:
      description: C(YYYY-MM).
      type: str
    path:
      description: The directory.
      type: str
    archives:
      description: "{archive file name: SHA-256}, as in its C(ARCHIVES.sha256)."
      type: dict
  sample: [{"month": "2026-10", "path": "/mnt/archive/logs/2026-10", "archives": {"application-2026-10-01.log.zst": "5e88..."}}]
archive_root:
  description: The directory holding the month directories (C(<archive_dir>/logs)).
  returned: always
  type: str
  sample: /mnt/archive/logs
today:
  description: The host's local date; files of this day and later are never touched.
  returned: always
  type: str
  sample: "2026-12-05"
'''

import datetime
import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _files, _log_archive


def argument_spec():
    return dict(
        log_dir=dict(type='path', required=True),
        archive_dir=dict(type='path', required=True),
        hot_retention_days=dict(type='dict'),
        cold_retention_days=dict(type='dict'),
        prune=dict(type='bool', default=True),
        compression_level=dict(type='int', default=6),
        workers=dict(type='int', default=0),
    )


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


def retention(module, option, defaults):
    days = dict(defaults)
    for cls, value in (module.params[option] or {}).items():
        if cls not in _log_archive.CLASSES:
            module.fail_json(msg='%s: unknown log class %r; the classes are %s' % (option, cls, ', '.join(_log_archive.CLASSES)))
        try:
            days[cls] = int(value)
        except (TypeError, ValueError):
            module.fail_json(msg='%s.%s must be a number of days, got %r' % (option, cls, value))
    return days


def retentions(module):
    hot = retention(module, 'hot_retention_days', _log_archive.HOT_RETENTION_DAYS)
    cold = retention(module, 'cold_retention_days', _log_archive.COLD_RETENTION_DAYS)
    for cls in _log_archive.CLASSES:
        if hot[cls] < 1:
            module.fail_json(msg='hot_retention_days.%s is %d: it must be at least 1, today\'s file is still being '
                                 'written' % (cls, hot[cls]))
        if cold[cls] < hot[cls]:
            module.fail_json(msg='cold_retention_days.%s (%d) is shorter than hot_retention_days.%s (%d): an archive '
                                 'would be pruned as soon as it is made' % (cls, cold[cls], cls, hot[cls]))
    return hot, cold


def predicted(work):
    """The result check mode reports (and the starting point of a real run)."""
    archived = [dict(item, size=None, compressed_size=None, sha256=None, resumed=item in work['finish'])
                for item in work['finish'] + work['archive']]
    pruned = ([dict(path=item['path'], log_class=item['log_class'], date=item['date'], kind='archive') for item in work['prune']]
              + [dict(path=item['src'], log_class=item['log_class'], date=item['date'], kind='log') for item in work['expire']])
    return dict(archived=archived, pruned=pruned, verified=[], leftovers_removed=work['leftovers'] + work['redo'],
                bytes_before=0, bytes_after=0)


def diff_of(result, archive_root):
    leaving = sorted(item['src'] for item in result['archived']) + sorted(
        item['path'] for item in result['pruned'] if item['kind'] == 'log')
    pruned = sorted(item['path'] for item in result['pruned'] if item['kind'] == 'archive')
    arriving = sorted(item['dest'] for item in result['archived'])
    return dict(before_header='log files and archives before', after_header='after (in %s)' % archive_root,
                before=''.join('%s\n' % path for path in leaving + pruned),
                after=''.join('%s\n' % path for path in arriving))


def months_of(months):
    return [dict(month=name, path=month.path, archives=dict(month.archives)) for name, month in sorted(months.items())]


def execute(module, months, work, root):
    """The run itself, under the archive's lock; returns the result fields (and fails with what was done so far)."""
    result = predicted(work)
    archived, pruned = [], []
    for path in work['leftovers']:
        _files.remove_path(path)
    try:
        for item in work['finish']:
            archived.append(_log_archive.finish(item, months[item['month']]))
        done, failure = _log_archive.archive_all(work['archive'], months, root, module.params['compression_level'],
                                                 module.params['workers'] or os.cpu_count() or 1)
        archived.extend(done)
        if failure is not None:
            raise _log_archive.LogArchiveError(str(failure))
        for item in work['expire']:
            os.unlink(item['src'])
        _log_archive.prune_archives(work['prune'], months)
        pruned = result['pruned']
    except (_log_archive.LogArchiveError, OSError) as exc:
        hint = _files.no_space_hint(exc, root) or _files.permission_hint(exc, root) or ''
        module.fail_json(msg='log archival stopped: %s%s. Originals not yet archived are kept.' % (exc, '; ' + hint if hint else ''),
                         **dict(result, archived=archived, pruned=[], changed=bool(archived or work['leftovers']),
                                verified=[item['dest'] for item in archived], months=months_of(months)))
    return dict(result, archived=archived, pruned=pruned, verified=[item['dest'] for item in archived],
                bytes_before=sum(item['size'] for item in archived),
                bytes_after=sum(item['compressed_size'] for item in archived))


def run_module(module):
    if not _log_archive.HAS_ZSTD:
        module.fail_json(msg=missing_required_lib('zstandard'), exception=_log_archive.ZSTD_IMP_ERR)
    hot, cold = retentions(module)
    log_dir, root = module.params['log_dir'], os.path.join(module.params['archive_dir'], _log_archive.SUBDIR)
    today = datetime.date.today()
    if not os.path.isdir(log_dir):
        module.fail_json(msg='the log directory %s does not exist: point log_dir at the service\'s LOG_DIR' % log_dir)
    common = dict(archive_root=root, today=today.isoformat())
    try:
        months, work = _log_archive.plan(log_dir, root, hot, cold, today, module.params['prune'])
        changed = any(work[key] for key in ('archive', 'finish', 'expire', 'prune', 'leftovers'))
        if module.check_mode or not changed:
            result = predicted(work)
            module.exit_json(changed=changed, diff=diff_of(result, root), months=months_of(months), **dict(result, **common))
        if not os.path.isdir(root):
            os.makedirs(root, 0o755)
        handle = _log_archive.lock(root)
        try:
            # Planned again under the lock: another run may have finished meanwhile.
            months, work = _log_archive.plan(log_dir, root, hot, cold, today, module.params['prune'])
            result = execute(module, months, work, root)
        finally:
            handle.close()
    except (_log_archive.LogArchiveError, OSError) as exc:
        hint = _files.no_space_hint(exc, root) or _files.permission_hint(exc, root) or ''
        module.fail_json(msg='log archival of %s into %s failed: %s%s' % (log_dir, root, exc, '; ' + hint if hint else ''))
    changed = bool(result['archived'] or result['pruned'] or result['leftovers_removed'])
    module.exit_json(changed=changed, diff=diff_of(result, root), months=months_of(months), **dict(result, **common))


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
