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
  - Creating a backup is always a change; pruning is a change when it removes an archive. Verification records
    (C(<dest>/.verified/)) and removing what killed runs left (RV(leftovers_removed)) are bookkeeping that never
    changes the service's data, so they are never reported as a change; O(state=verified) never is one.
  - With O(metrics_textfile_dir), O(state=present) writes C(inventory_backup.prom) there (C(inventory_backup_*)
    metrics, for the BackupFailed and BackupTooOld alerts) whether the backup succeeded or failed.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.api
  - inventory_enterprise.ops.service_paths
  - inventory_enterprise.ops.textfile_metrics
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
  - The C(.env) (O(env_file)) is backed up as configuration. O(state=verified) and O(state=pruned) with O(dest)
    (and O(path)) do not read it.
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
    name: {description: File name of the archive., type: str, returned: always, sample: inventory_backup_2025-01-07T02-00-00.tar.zst}
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
    duration: {description: Seconds spent writing the archive., type: float, returned: when an archive was written with O(method=local)}
verification:
  description:
    - Result of the full verification (O(state=verified), or O(state=present) with O(verify=true)).
    - Also in a failure result when the archive verified but its record in C(<dest>/.verified/) could not be written.
  returned: when an archive was verified
  type: dict
  contains:
    path: {description: Absolute path of the verified archive., type: str}
    name: {description: File name of the verified archive (the off-site copy keeps it)., type: str}
    ok: {description: Always true when returned without failure., type: bool}
    archive_sha256: {description: SHA-256 of the archive file as read during the verification., type: str}
    compression: {description: 'V(zstd) or V(gzip), from the file''s magic bytes.', type: str}
    created_at: {description: 'Time of the backup from the manifest (UTC, ISO 8601).', type: str}
    service_version: {description: Service version from the manifest., type: str}
    members: {description: Number of files in the archive besides the manifest., type: int}
    integrity_check: {description: Result of C(PRAGMA integrity_check) on the restored copy., type: str, sample: ok}
    tables: {description: 'Row count per table of the restored copy, equal to the manifest; the keys are table names.', type: dict}
    database_bytes: {description: 'Size of C(database.db) in the archive, in bytes.', type: int, version_added: 1.7.0}
    transaction_log_lines: {description: Lines of the transaction log in the archive; null for a O(database_only) archive., type: int}
    transaction_log_offset: {description: Bytes of the transaction log in the archive; null for a O(database_only) archive., type: int}
    last_seq: {description: C(seq) of the last transaction-log line in the archive; null when there is none., type: int}
    duration: {description: Seconds the verification took., type: float}
skipped_steps:
  description:
    - With O(method=api), the steps that were asked for but not done, each with the reason (also as warnings).
    - C(verification) when the archive the service wrote is not visible on this host; C(retention) when it is
      not visible here or not in O(dest).
  returned: when O(method=api) skipped a step
  type: dict
  contains:
    verification: {description: Why the archive was not verified., type: str, returned: when skipped}
    retention: {description: Why O(retention_days) was not applied., type: str, returned: when skipped}
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
    name: {description: File name of the archive., type: str}
    reason: {description: Why it does not verify., type: str}
leftovers_removed:
  description: Temporary files of killed runs that were removed (in check mode, that would be removed); bookkeeping, never a change.
  returned: always
  type: list
  elements: str
log_file:
  description: The backup log file a line was appended to.
  returned: when O(log=true), an archive was written with O(method=local) and not in check mode
  type: str
metrics_textfile:
  description: The C(inventory_backup.prom) written (in check mode, that would be written).
  returned: when O(metrics_textfile_dir) is set with O(state=present), unless writing it failed (then a warning)
  type: str
archive:
  description: The archive that could not be verified.
  returned: when O(state=verified) fails on an archive
  type: str
'''


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _backup_api, _backup_run, _service_layout, _textfile_metrics
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import api_argument_spec


def argument_spec():
    spec = api_argument_spec()
    spec.update(_service_layout.service_paths_argument_spec())
    spec.update(_textfile_metrics.textfile_metrics_argument_spec())
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


def run_module(module):
    """One step per state; each ends the run with the result."""
    params = module.params
    result = dict(changed=False, pruned=[], leftovers_removed=[])
    if params['state'] == 'present':
        _textfile_metrics.record_on_exit(module, 'backup', _textfile_metrics.backup_facts)
    _backup_run.check_ranges(module)
    paths = _backup_run.locate(module, result)
    if params['state'] == 'present' and params['method'] == 'api':
        _backup_api.create_through_api(module, result, paths['backup_dir'])
    result['backup_dir'] = paths['backup_dir']
    if params['state'] == 'verified':
        _backup_run.verify_one(module, result, paths['backup_dir'])
    elif params['state'] == 'pruned':
        _backup_run.prune(module, result, paths['backup_dir'])
    else:
        _backup_run.create(module, result, paths)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
