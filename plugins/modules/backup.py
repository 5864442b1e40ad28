#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: backup
short_description: Create, verify and prune backups of an Inventory Enterprise host
version_added: 0.1.0
description:
  - Implements the "Backup & Recovery" section of the Inventory Enterprise operations guide.
  - O(state=present) writes one archive C(inventory_backup_<YYYY-MM-DDTHH-MM-SS>.tar.zst) (or C(.tar.gz)),
    the time in UTC, whose top folder of the same name holds C(database.db), C(transaction_log.jsonl),
    C(.env), C(config/), C(models/) and C(manifest.json), so the guide's manual restore steps work on it.
  - The database is copied with SQLite's online backup API while the service keeps writing (never a plain
    file copy); the transaction log is copied up to its last complete line, and its end is fixed B(before) the
    database snapshot, so every transaction the copied log records is in the copied database.
  - The manifest holds the size and SHA-256 of every member, the row count of every table, the
    transaction-log offset, line count and last C(seq), the service version and the time.
  - The archive is written under a hidden temporary name, fsynced, renamed and its directory fsynced, with
    mode C(0600); an interrupted run leaves no file that looks like a finished backup, and the next run
    removes what a killed run left behind.
  - Two runs never share an archive. A run claims its name when it starts, by creating its hidden partial file
    under a lock on C(<dest>/.inventory_backup.lock); a run that finds the name of its second taken (a
    finished archive, or the partial file of a live run) takes the next free second. The finished file gets
    its name through a hard link, which never replaces a file; if a writer that does not take the lock (the
    service's own API backup) finished the same name meanwhile, the run fails and leaves that archive alone.
  - With O(verify=true) the new archive is verified at once (see O(state=verified)) and recorded as
    verified in C(<dest>/.verified/).
  - O(state=verified) checks an archive completely. It compares checksums with the manifest, restores the database
    and transaction log into a scratch directory, runs C(PRAGMA integrity_check) and compares row counts and the
    transaction-log line count with the manifest.
  - O(retention_days) removes archives older than that many days B(counted back from the newest verified
    backup), never that backup itself, so the last good backup survives however old it is. Without any
    verifiable backup nothing is removed.
  - O(method=api) asks the service to write the backup (C(POST /api/backup/create) with O(api_token)),
    as the guide's C(curl) example does.
  - The service's answer must name an archive (C(path); C(name), C(size), C(archive_sha256) and C(manifest) are
    checked when given), else the task fails. The archive is verified when this host sees it, and
    O(retention_days) is applied when it lies in O(dest); a step that cannot be done is returned in
    RV(skipped_steps) and as a warning.
  - Creating a backup is always a change; O(state=verified) never is; pruning is a change when it removes
    something.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.api
attributes:
  check_mode:
    support: full
    details:
      - Check mode writes no backup and removes nothing; it returns the archive name it would write and the
        archives retention would remove. Verification in check mode extracts into a scratch directory that it
        removes again.
  diff_mode:
    support: none
options:
  state:
    description:
      - V(present) creates a new backup (then verifies it and applies O(retention_days) when set).
      - V(verified) verifies O(path), or the newest archive in O(dest).
      - V(pruned) only applies O(retention_days) to O(dest).
    type: str
    choices: [present, verified, pruned]
    default: present
  service_home:
    description:
      - Home directory of the service; the other paths default to its C(.env) keys (C(DATABASE_PATH),
        C(TRANSACTION_LOG_PATH), C(BACKUP_DIR), C(CONFIG_DIR), C(MODELS_DIR), C(LOG_DIR)) or the service's
        defaults, relative to it.
    type: path
    default: /opt/inventory-enterprise
  env_file:
    description:
      - The service's C(.env) file, read for paths and backed up as configuration. Default C(<service_home>/.env).
      - Read as the service reads it; a file that cannot be read or has a bad line (reported by file and line,
        never by value) fails the task before anything is written, and so does a named O(env_file) that does
        not exist.
      - A missing C(<service_home>/.env) fails O(state=present) unless O(database_path) is set, since the
        default paths need not hold the service's database. O(state=verified) and O(state=pruned) with O(dest)
        (and O(path)) do not read it.
    type: path
  database_path:
    description: The SQLite database. Default C(DATABASE_PATH), else C(data/enterprise_inventory.db).
    type: path
  transaction_log_path:
    description: The transaction log. Default C(TRANSACTION_LOG_PATH), else C(data/transaction_log.jsonl).
    type: path
  config_dir:
    description: Configuration directory backed up as C(config/). Default C(CONFIG_DIR), else C(config).
    type: path
  models_dir:
    description: AI models directory backed up as C(models/). Default C(MODELS_DIR), else C(ai/models).
    type: path
  dest:
    description:
      - Directory of the archives (the guide's C(BACKUP_LOCAL_PATH)). Default C(BACKUP_DIR), else C(backups).
      - Created with mode C(0700) when missing.
    type: path
    aliases: [backup_dir]
  path:
    description: Archive to check with O(state=verified). Default the newest archive in O(dest).
    type: path
  database_only:
    description: Back up the database only (the guide's C(--db-only)), without log, configuration and models.
    type: bool
    default: false
  compression:
    description: V(zstd) (multi-threaded, needs the Python library C(zstandard)) or V(gzip).
    type: str
    choices: [zstd, gzip]
    default: zstd
  compression_level:
    description: Compression level; default 3 for zstd and 6 for gzip (as C(tar -czf)).
    type: int
  threads:
    description: zstd worker threads; V(-1) uses every CPU, V(0) compresses in the calling thread.
    type: int
    default: -1
  verify:
    description: Verify the new archive completely after writing it (O(state=present)).
    type: bool
    default: true
  max_age_hours:
    description:
      - With O(state=present) and O(method=local), write a new archive only when the newest verified archive in O(dest) is at
        least this many hours old; a younger one is returned in RV(backup) with C(changed=false). A scheduled
        job that AWX retries, or a second run the same day, then makes no second backup.
      - V(0) always writes a new archive, as the guide's C(npm run backup) does.
    type: int
    default: 0
  retention_days:
    description:
      - Remove archives older than this many days before the newest verified backup.
      - Unset keeps everything. The guide keeps 30 days locally and 90 days off-site.
      - With O(state=pruned), age-encrypted off-site copies C(<archive>.age) count too. Where no key is, such a
        copy is good when its SHA-256 equals the one recorded next to it in C(<archive>.age.sha256) when its
        transfer was checked; that file goes with the copy.
      - Required with O(state=pruned).
    type: int
  scratch_dir:
    description:
      - Directory for the database snapshot and verification scratch files. Default O(dest), so a large
        database never fills C(/tmp).
    type: path
  method:
    description:
      - V(local) writes the backup in this module. V(api) asks the service with C(POST /api/backup/create),
        authenticated with O(api_token); the service writes the same format into its C(BACKUP_DIR).
    type: str
    choices: [local, api]
    default: local
  service_version:
    description: Version recorded in the manifest. Default read from the deployment (C(package.json) or the wheel).
    type: str
  log:
    description: Append a line per run to C(<LOG_DIR>/backup-<date>.log), as the guide's end-of-day check reads.
    type: bool
    default: true
requirements:
  - zstandard (Python library) on the managed host for O(compression=zstd) and for reading zstd archives.
notes:
  - The snapshot is one read transaction of the SQLite online backup API. In WAL mode (the service's mode)
    writers are never blocked; with a rollback journal they wait for the copy.
  - Archive ages come from the time in their names (UTC), so copies keep their age wherever they are.
seealso:
  - module: inventory_enterprise.ops.restore
'''

EXAMPLES = r'''
- name: Back up now, verify, keep 30 days (the guide's daily backup)
  inventory_enterprise.ops.backup:
    service_home: /opt/inventory-enterprise
    retention_days: 30
  register: backup

- name: Database only, to an external drive, gzip
  inventory_enterprise.ops.backup:
    service_home: /opt/inventory-enterprise
    database_only: true
    dest: /mnt/external-drive
    compression: gzip

- name: Ask the service to back itself up (POST /api/backup/create)
  inventory_enterprise.ops.backup:
    method: api
    api_url: http://localhost:8083
    api_token: "{{ ie_jwt }}"

- name: Verify the newest backup
  inventory_enterprise.ops.backup:
    state: verified
    dest: /opt/inventory-enterprise/backups

- name: List what a 90-day retention would remove
  inventory_enterprise.ops.backup:
    state: pruned
    dest: /srv/backups/app1
    retention_days: 90
  check_mode: true
'''

RETURN = r'''
backup_dir:
  description: The backup directory the module worked on (O(dest), else C(BACKUP_DIR), else C(backups)).
  returned: unless O(method=api) with O(state=present)
  type: str
  sample: /opt/inventory-enterprise/backups
backup:
  description:
    - The archive written (O(state=present)); in check mode the name it would have.
    - With O(max_age_hours), the recent verified archive that made a new one unnecessary (then with RV(backup.age_seconds)).
    - With O(method=api), what the service answered, validated.
    - Also in a failure result when the archive was written but a later step failed.
  returned: when state is present
  type: dict
  contains:
    path:
      description: Absolute path of the archive.
      type: str
      returned: always
      sample: /opt/inventory-enterprise/backups/inventory_backup_2025-01-07T02-00-00.tar.zst
    name:
      description: File name of the archive.
      type: str
      returned: always
      sample: inventory_backup_2025-01-07T02-00-00.tar.zst
    size:
      description: Size in bytes.
      type: int
      returned: unless in check mode (with O(method=api), when the service returned it)
      sample: 1048576
    archive_sha256:
      description: SHA-256 of the archive file, for copies (C(sha256sum) format).
      type: str
      returned: unless in check mode (with O(method=api), when the service returned it)
    manifest:
      description: The manifest stored in the archive (C(manifest.json)).
      type: dict
      returned: when an archive was written (with O(method=api), when the service returned it)
      contains:
        format:
          description: Always C(inventory-enterprise-backup).
          type: str
        format_version:
          description: Version of the archive format.
          type: int
          sample: 1
        name:
          description: The archive's top folder, its name without the extension.
          type: str
        created_at:
          description: Time of the backup (UTC, ISO 8601), the time in the name.
          type: str
          sample: '2025-01-07T02:00:00Z'
        created_by:
          description: What wrote the archive (this module, or C(inventory-service api)).
          type: str
        host:
          description: Host name of the machine that wrote the archive.
          type: str
        service_version:
          description: Version of the service recorded at backup time.
          type: str
        deployment_id:
          description:
            - Identity of the deployment whose data this is (C(.deployment-id) next to the database); restore
              refuses an archive of another deployment unless told otherwise.
          type: str
        compression:
          description: V(zstd) or V(gzip).
          type: str
        database_only:
          description: Whether only the database was backed up.
          type: bool
        database:
          description: The database member, C(path), C(source), C(page_size), C(page_count) and C(tables) (row count per table).
          type: dict
        transaction_log:
          description: The transaction-log member, C(path), C(source), C(offset), C(lines) and C(last_seq); null with O(database_only).
          type: dict
        members:
          description: Every member but the manifest, with C(path), C(size) and C(sha256).
          type: list
          elements: dict
    skipped:
      description: Symbolic links and special files below C(config/) and C(models/) that were not backed up.
      type: list
      elements: str
      returned: when an archive was written with O(method=local)
    age_seconds:
      description: Age of the recent archive returned instead of writing one (O(max_age_hours)).
      type: int
      returned: when O(max_age_hours) found a recent verified archive
    duration:
      description: Seconds spent writing the archive.
      type: float
      returned: when an archive was written with O(method=local)
verification:
  description:
    - Result of the full verification (O(state=verified), or O(state=present) with O(verify=true)).
    - Also in a failure result when the archive verified but its record in C(<dest>/.verified/) could not be written.
  returned: when an archive was verified
  type: dict
  contains:
    path:
      description: Absolute path of the verified archive.
      type: str
    name:
      description: File name of the verified archive (the off-site copy keeps it).
      type: str
    ok:
      description: Always true when returned without failure.
      type: bool
    archive_sha256:
      description: SHA-256 of the archive file as read during the verification.
      type: str
    compression:
      description: V(zstd) or V(gzip), from the file's magic bytes.
      type: str
    created_at:
      description: Time of the backup from the manifest (UTC, ISO 8601).
      type: str
    service_version:
      description: Service version from the manifest.
      type: str
    members:
      description: Number of files in the archive besides the manifest.
      type: int
    integrity_check:
      description: Result of C(PRAGMA integrity_check) on the restored copy.
      type: str
      sample: ok
    tables:
      description: Row count per table of the restored copy, equal to the manifest; the keys are table names.
      type: dict
    transaction_log_lines:
      description: Lines of the transaction log in the archive; null for a O(database_only) archive.
      type: int
    transaction_log_offset:
      description: Bytes of the transaction log in the archive; null for a O(database_only) archive.
      type: int
    last_seq:
      description: C(seq) of the last transaction-log line in the archive; null when there is none.
      type: int
    duration:
      description: Seconds the verification took.
      type: float
skipped_steps:
  description:
    - With O(method=api), the steps that were asked for but not done, each with the reason (also as warnings).
    - C(verification) when the archive the service wrote is not visible on this host; C(retention) when it is
      not visible here or not in O(dest).
  returned: when O(method=api) skipped a step
  type: dict
  contains:
    verification:
      description: Why the archive was not verified.
      type: str
      returned: when skipped
    retention:
      description: Why O(retention_days) was not applied.
      type: str
      returned: when skipped
pruned:
  description: Names of the archives removed by retention (in check mode, that would be removed).
  returned: always
  type: list
  elements: str
kept_anchor:
  description: The newest verified archive that retention counted back from, and never removes; null when none verifies.
  returned: when retention_days is set and applied
  type: str
rejected:
  description: Archives newer than the anchor that failed verification, with the reason (never removed).
  returned: when retention_days is set and applied
  type: list
  elements: dict
  contains:
    name:
      description: File name of the archive.
      type: str
    reason:
      description: Why it does not verify.
      type: str
leftovers_removed:
  description: Temporary files of killed runs that were removed (in check mode, that would be removed).
  returned: always
  type: list
  elements: str
log_file:
  description: The backup log file a line was appended to.
  returned: when O(log=true), an archive was written with O(method=local) and not in check mode
  type: str
archive:
  description: The archive that could not be verified.
  returned: when O(state=verified) fails on an archive
  type: str
'''

import os
import re

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records, _encryption, _envfile, _files, _service_layout
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import (
    ApiClient, ApiError, ApiJSONError, ApiTimeoutError, api_argument_spec)

CREATE_URL = '/api/backup/create'


def argument_spec():
    spec = api_argument_spec()
    spec.update(_service_layout.service_paths_argument_spec())
    spec.update(
        state=dict(type='str', choices=['present', 'verified', 'pruned'], default='present'),
        dest=dict(type='path', aliases=['backup_dir']),
        path=dict(type='path'),
        database_only=dict(type='bool', default=False),
        compression=dict(type='str', choices=['zstd', 'gzip'], default='zstd'),
        compression_level=dict(type='int'),
        threads=dict(type='int', default=-1),
        verify=dict(type='bool', default=True),
        max_age_hours=dict(type='int', default=0),
        retention_days=dict(type='int'),
        scratch_dir=dict(type='path'),
        method=dict(type='str', choices=['local', 'api'], default='local'),
        service_version=dict(type='str'),
        log=dict(type='bool', default=True),
    )
    return spec


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                         required_if=[('state', 'pruned', ['retention_days'])])


def is_verified_factory(module, scratch, reports):
    """Verified backups: a marker that still matches the file, else a full verification now."""
    def is_verified(backup):
        if _backup_records.read_marker(backup['path']):
            return None
        if backup.get('encrypted'):
            sha256, reason = _encryption.check_copy(backup['path'])
            if sha256 and not module.check_mode:
                _backup_records.write_marker(backup['path'], dict(archive_sha256=sha256))
            return reason
        try:
            report = _archive.verify_archive(backup['path'], scratch or os.path.dirname(backup['path']))
        except _backup_records.BackupError as exc:
            if not module.check_mode:
                _backup_records.write_failure_marker(backup['path'], exc)
            return str(exc)
        reports[backup['name']] = report
        if not module.check_mode:
            try:
                _backup_records.write_marker(backup['path'], report)
            except OSError:
                pass  # the record only spares a later run this verification; removal errors are reported below
        return None
    return is_verified


def write_marker(module, path, report, result):
    """Record a verification; retention, max_age_hours and the morning check trust only recorded ones."""
    try:
        _backup_records.write_marker(path, report)
    except OSError as exc:
        result['verification'] = report
        module.fail_json(msg='%s verified, but its record %s cannot be written: %s; %s, else retention and the '
                             'morning check will not count it as verified'
                         % (path, _backup_records.marker_path(path), exc,
                            _files.permission_hint(exc, os.path.dirname(_backup_records.marker_path(path)))
                            or 'free space there'), **result)


def cannot_verify(exc, path):
    """Message of a verification that could not run (scratch space, permissions), or None for a bad archive."""
    if isinstance(exc, _archive.ArchiveRejected):
        return None
    return ('could not verify %s: %s; the archive itself was not judged: set scratch_dir to a writable directory '
            'with enough space, or run as a user that can write there' % (path, exc))


def apply_retention(module, dest, days, scratch, extra_newest=None, result=None, encrypted=False):
    backups = _backup_records.list_backups(dest, encrypted=encrypted)
    if extra_newest:
        backups.insert(0, extra_newest)
    reports = {}
    verified = is_verified_factory(module, scratch, reports)

    def check(backup):
        if backup is extra_newest:
            return None
        return verified(backup)

    anchor, remove, rejected = _backup_records.plan_retention(backups, days, check)
    removed = []
    for backup in remove:
        if not module.check_mode:
            try:
                os.unlink(backup['path'])
                _files.remove_path(_backup_records.marker_path(backup['path']))
                _files.remove_path(_encryption.checksum_path(backup['path']))
            except OSError as exc:
                done = dict(result or {})
                done.update(pruned=removed, changed=bool(removed or done.get('changed')))
                module.fail_json(msg='retention: cannot remove %s: %s; %s. Removed before this: %s'
                                 % (backup['path'], exc, _files.permission_hint(exc, dest)
                                    or 'check permissions on %s' % dest, ', '.join(removed) or 'nothing'), **done)
        removed.append(backup['name'])
    warnings = []
    if anchor is None and backups:
        warnings.append('retention removed nothing: no archive in %s passes verification (%s)'
                        % (dest, '; '.join('%s: %s' % (r['name'], r['reason']) for r in rejected[:3])))
    return dict(pruned=removed, kept_anchor=anchor['name'] if anchor else None, rejected=rejected), warnings


def recent_verified(dest, hours):
    """The newest archive in `dest` younger than `hours` whose verification marker still matches it."""
    now = _backup_records.utc_now()
    for backup in _backup_records.list_backups(dest):
        age = (now - backup['timestamp']).total_seconds()
        if age >= hours * 3600:
            return None
        marker = _backup_records.read_marker(backup['path'])
        if marker:
            return dict(path=backup['path'], name=backup['name'], size=backup['size'],
                        archive_sha256=marker.get('archive_sha256'), age_seconds=int(age))
    return None


def leftovers(module, *directories):
    found = []
    for directory in directories:
        if directory and os.path.isdir(directory):
            for path in _archive.stale_leftovers(directory):
                if path not in found:
                    found.append(path)
    if not module.check_mode:
        for path in found:
            _files.remove_path(path)
        # Report only what is really gone (a leftover of another user may not be removable).
        found = [path for path in found if not os.path.lexists(path)]
    return found


def readable_dir(module, directory, result):
    """Fail clearly when the backup directory cannot be listed: an unreadable one would look empty."""
    try:
        os.listdir(directory)
    except OSError as exc:
        module.fail_json(msg='cannot read the backup directory %s: %s; check dest and that this user may read it '
                             '(become)' % (directory, exc), **result)


SHA256_RE = re.compile(r'^[0-9a-f]{64}$')


def api_archive(answer):
    """The archive the service says it wrote (`path` and, when given, `name`, `size`, `archive_sha256`,
    `manifest`, as POST /api/backup/create answers), or the reason the answer is not one."""
    if not isinstance(answer, dict):
        return None, 'the answer is %s, not a JSON object' % type(answer).__name__
    path = answer.get('path')
    if not isinstance(path, str) or not path:
        return None, 'the answer has no archive path ("path" is %r)' % (path,)
    name = os.path.basename(path)
    if not os.path.isabs(path):
        return None, '"path" %r is not an absolute path' % path
    if not _backup_records.parse_name(name):
        return None, '"path" %s is not a backup archive (inventory_backup_<time>.tar.zst|gz)' % path
    if answer.get('name', name) != name:
        return None, '"name" %r does not match "path" %s' % (answer.get('name'), path)
    size, sha, manifest = answer.get('size'), answer.get('archive_sha256'), answer.get('manifest')
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        return None, '"size" %r is not a byte count' % (size,)
    if sha is not None and not (isinstance(sha, str) and SHA256_RE.match(sha)):
        return None, '"archive_sha256" %r is not a SHA-256' % (sha,)
    if manifest is not None and not isinstance(manifest, dict):
        return None, '"manifest" is %s, not an object' % type(manifest).__name__
    archive = dict(path=path, name=name)
    archive.update((key, value) for key, value in (('size', size), ('archive_sha256', sha), ('manifest', manifest))
                   if value is not None)
    return archive, None


def run_api(module, result, dest):
    params = module.params
    result['changed'] = True
    if module.check_mode:
        result['msg'] = 'would ask %s to create a backup' % params['api_url']
        module.exit_json(**result)
    client = ApiClient.from_module(module)
    try:
        answer = client.post(CREATE_URL, data=dict(database_only=params['database_only'],
                                                   compression=params['compression']), expect_json=True).json
    except ApiJSONError as exc:
        module.fail_json(msg='backup through the API: %s; the service may have written an archive: check its '
                             'BACKUP_DIR and its logs' % exc, **result)
    except ApiTimeoutError as exc:
        module.fail_json(msg='backup through the API: %s; the service may still be writing an archive: check its '
                             'BACKUP_DIR before running again' % exc, **result)
    except ApiError as exc:
        # Refused, failed or unreachable: the service did not write a backup.
        result['changed'] = False
        module.fail_json(msg='backup through the API failed: %s' % exc, **result)
    archive, problem = api_archive(answer)
    if problem:
        module.fail_json(msg='backup through the API: %s answered success, but %s; the service may have written '
                             'an archive: check its BACKUP_DIR and logs, and that api_url is the Inventory '
                             'Enterprise service' % (client.url(CREATE_URL), problem), **result)
    path = archive['path']
    result['backup'] = archive
    skipped = {}
    visible = os.path.isfile(path)
    if params['verify'] and visible:
        try:
            report = _archive.verify_archive(path, params['scratch_dir'] or os.path.dirname(path))
        except _backup_records.BackupError as exc:
            if not cannot_verify(exc, path):
                _backup_records.write_failure_marker(path, exc)
            module.fail_json(msg=cannot_verify(exc, path) or 'the service wrote %s but it does not verify: %s; it is '
                             'not counted as a good backup: investigate it' % (path, exc), **result)
        if archive.get('archive_sha256', report['archive_sha256']) != report['archive_sha256']:
            module.fail_json(msg='the service reported SHA-256 %s for %s but the file has %s: it is not the archive '
                                 'the service wrote (replaced, or another file of that name); investigate it'
                             % (archive['archive_sha256'], path, report['archive_sha256']), **result)
        result['verification'] = report
        write_marker(module, path, report, result)
    elif params['verify']:
        skipped['verification'] = ('%s is not visible on this host (the service runs on another host or in a '
                                   'container): verify it where it is, with state=verified and path' % path)
    if params['retention_days'] is not None:
        if visible and os.path.realpath(os.path.dirname(path)) != os.path.realpath(dest):
            # Never prune a directory only the service's answer named.
            skipped['retention'] = ('the service wrote into %s, not into dest %s: retention_days was not applied; '
                                    'set dest (or BACKUP_DIR) to the service\'s backup directory'
                                    % (os.path.dirname(path), dest))
        elif visible:
            retention, warnings = apply_retention(module, os.path.dirname(path), params['retention_days'],
                                                  params['scratch_dir'], result=result)
            result.update(retention)
            for warning in warnings:
                module.warn(warning)
        else:
            skipped['retention'] = ("the service's backup directory is not visible on this host: apply "
                                    'retention_days where it is, with state=pruned')
    for reason in skipped.values():
        module.warn(reason)
    if skipped:
        result['skipped_steps'] = skipped
    result['msg'] = 'the service wrote %s%s%s' % (
        path, ', verified' if 'verification' in result else (', not verified' if params['verify'] else ''),
        '; skipped: %s' % ', '.join(sorted(skipped)) if skipped else '')
    module.exit_json(**result)


def run_module(module):
    params = module.params
    result = dict(changed=False, pruned=[], leftovers_removed=[])
    if params['max_age_hours'] < 0:
        module.fail_json(msg='max_age_hours must be 0 or more, got %d' % params['max_age_hours'])
    if params['retention_days'] is not None and params['retention_days'] < 0:
        module.fail_json(msg='retention_days must be 0 or more, got %d' % params['retention_days'])
    # Verifying or pruning a named directory takes nothing from the .env: on a backup server there is none,
    # or one this user may not read.
    read_env = params['state'] == 'present' or not (params['dest'] or (params['state'] == 'verified'
                                                                       and params['path']))
    if params['method'] == 'api' and params['state'] == 'present' and not params['env_file']:
        # The service writes the archive; the .env only tells whether this host sees it (to verify it here), and a
        # control node that calls the API has no service home at all.
        read_env = os.path.isdir(params['service_home'])
    try:
        paths = _service_layout.service_paths_from_params(params, backup_dir=params['dest'], read_env=read_env)
    except _envfile.EnvFileError as exc:
        module.fail_json(msg="cannot read the service's configuration: %s. Nothing was backed up or changed."
                         % exc, **result)
    dest = paths['backup_dir']
    if params['method'] == 'api' and params['state'] == 'present':
        run_api(module, result, dest)

    scratch = params['scratch_dir']
    result['backup_dir'] = dest

    if params['compression'] == 'zstd' and params['state'] == 'present' and not _archive.HAS_ZSTD:
        module.fail_json(msg=missing_required_lib('zstandard', reason='for compression=zstd (or use compression=gzip)'),
                         exception=_archive.ZSTD_IMP_ERR)

    if params['state'] == 'verified':
        target = params['path']
        if not target:
            readable_dir(module, dest, result)
            found = _backup_records.list_backups(dest)
            if not found:
                module.fail_json(msg='no backup archive (inventory_backup_*.tar.zst|gz) in %s: create one first '
                                     '(state=present) or set path' % dest, **result)
            target = found[0]['path']
        result['leftovers_removed'] = leftovers(module, scratch or os.path.dirname(target))
        try:
            report = _archive.verify_archive(target, scratch or os.path.dirname(target))
        except _backup_records.BackupError as exc:
            if cannot_verify(exc, target):
                module.fail_json(msg=cannot_verify(exc, target), archive=target, **result)
            if not module.check_mode:
                _backup_records.write_failure_marker(target, exc)
            module.fail_json(msg='backup %s failed verification: %s; nothing was changed. Use an older archive '
                                 '(restore picks the newest that verifies) and investigate this one'
                             % (target, exc), archive=target, **result)
        if not module.check_mode:
            write_marker(module, target, report, result)
        result.update(verification=report, msg='%s verified: checksums, integrity_check ok, row counts and '
                                               'log lines match the manifest' % os.path.basename(target))
        module.exit_json(**result)

    if params['state'] == 'pruned':
        if not os.path.isdir(dest):
            module.fail_json(msg='backup directory %s does not exist' % dest, **result)
        readable_dir(module, dest, result)
        result['leftovers_removed'] = leftovers(module, dest, scratch)
        result['changed'] = bool(result['leftovers_removed'])
        # Off-site, the copies may be encrypted (<archive>.age): they count too, checked by their SHA-256.
        retention, warnings = apply_retention(module, dest, params['retention_days'], scratch, result=result,
                                              encrypted=True)
        result.update(retention)
        result['changed'] = bool(result['pruned'] or result['leftovers_removed'])
        for warning in warnings:
            module.warn(warning)
        result['msg'] = '%s %d archive(s) older than %d days before %s' % (
            'would remove' if module.check_mode else 'removed', len(result['pruned']), params['retention_days'],
            result['kept_anchor'])
        module.exit_json(**result)

    # state=present
    version = params['service_version'] or _service_layout.service_version(paths['service_home'])
    if not os.path.isfile(paths['database_path']):
        module.fail_json(msg='database %s does not exist: check service_home/database_path (or DATABASE_PATH '
                             'in %s)' % (paths['database_path'], paths['env_file']), **result)
    if params['max_age_hours'] > 0:
        recent = recent_verified(dest, params['max_age_hours'])
        if recent:
            result.update(backup=recent, msg='%s is verified and %.1f hours old (max_age_hours=%d): no new backup'
                          % (recent['name'], recent['age_seconds'] / 3600.0, params['max_age_hours']))
            module.exit_json(**result)
    result['changed'] = True
    if module.check_mode:
        stamp = _backup_records.utc_now()
        if os.path.isdir(dest):
            stamp = _archive.free_stamp(dest, stamp)
        name = _backup_records.archive_name(stamp, params['compression'])
        result['backup'] = dict(path=os.path.join(dest, name), name=name)
        result['leftovers_removed'] = leftovers(module, dest, scratch)
        if params['retention_days'] is not None and os.path.isdir(dest):
            virtual = dict(name=name, path=os.path.join(dest, name), timestamp=stamp)
            retention, warnings = apply_retention(module, dest, params['retention_days'], scratch, virtual)
            result.update(retention)
        result['msg'] = 'would write %s' % result['backup']['path']
        module.exit_json(**result)

    if not os.path.isdir(dest):
        try:
            os.makedirs(dest, 0o700)
        except OSError as exc:
            result['changed'] = False
            module.fail_json(msg='cannot create the backup directory %s: %s; %s' % (
                dest, exc, _files.permission_hint(exc, os.path.dirname(dest)) or 'check dest'), **result)
    result['leftovers_removed'] = leftovers(module, dest, scratch)
    try:
        created = _archive.create_backup(
            paths, dest, compression=params['compression'], level=params['compression_level'],
            threads=params['threads'], database_only=params['database_only'], version=version,
            created_by='ansible inventory_enterprise.ops.backup', work_parent=scratch)
    except _backup_records.BackupError as exc:
        msg = 'backup of %s failed: %s. Previous backups in %s are untouched and no partial archive was left' % (
            paths['service_home'], exc, dest)
        if params['log']:
            _backup_records.log_line(paths['log_dir'], 'ERROR', 'backup failed: %s' % exc)
        result['changed'] = bool(result['leftovers_removed'])
        module.fail_json(msg=msg, **result)
    result['backup'] = created
    if params['verify']:
        try:
            report = _archive.verify_archive(created['path'], scratch or dest)
        except _backup_records.BackupError as exc:
            if not cannot_verify(exc, created['path']):
                _backup_records.write_failure_marker(created['path'], exc)
            if params['log']:
                _backup_records.log_line(paths['log_dir'], 'ERROR', 'backup failed verification %s: %s'
                                  % (created['name'], exc))
            module.fail_json(msg=cannot_verify(exc, created['path']) or (
                'the new backup %s does not verify: %s; it is kept for investigation and is not counted as a good '
                'backup' % (created['path'], exc)), **result)
        write_marker(module, created['path'], report, result)
        result['verification'] = report
    if params['retention_days'] is not None:
        retention, warnings = apply_retention(module, dest, params['retention_days'], scratch, result=result)
        result.update(retention)
        for warning in warnings:
            module.warn(warning)
    if params['log']:
        manifest = created['manifest']
        result['log_file'] = _backup_records.log_line(
            paths['log_dir'], 'INFO',
            'backup completed name=%s size=%d sha256=%s tables=%d log_lines=%s verified=%s pruned=%d duration=%ss'
            % (created['name'], created['size'], created['archive_sha256'], len(manifest['database']['tables']),
               (manifest.get('transaction_log') or {}).get('lines', 0), str(params['verify']).lower(),
               len(result['pruned']), created['duration']))
    result['msg'] = 'wrote %s (%d bytes)%s' % (created['path'], created['size'],
                                               ', verified' if params['verify'] else '')
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
