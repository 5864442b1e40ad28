#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: restore
short_description: Restore an Inventory Enterprise host from a backup, or put its safety copy back
version_added: 0.1.0
description:
  - Implements "Restore from Backup" of the Inventory Enterprise operations guide so that a restore can never
    destroy good data.
  - Restores O(src), or the newest archive in O(backup_dir) that passes verification (broken newer ones are
    reported in RV(rejected) and skipped).
  - B(Before any byte is written) a first pass reads the archive's tar headers and its manifest only; every
    member's declared size must be the manifest's, what will be extracted must fit in the free space of the
    database's filesystem (with 10% + 64 KiB to spare), and the manifest's C(deployment_id) must be the
    target's (see O(allow_cross_deployment)). So a decompression bomb (a small archive declaring GiB of
    zeros) is refused in about the time it takes to decompress it, with nothing written.
  - B(Before any live file changes) the archive is verified completely. Every member is validated by this
    module, without relying on the tarfile extraction filters of the host's Python (absent on many
    hosts). Only regular files and directories, relative names without C(..), inside the expected layout,
    no duplicates. Members are written with C(O_EXCL|O_NOFOLLOW) into a fresh scratch directory, checked
    against the manifest's sizes and SHA-256, and the database passes C(PRAGMA integrity_check) and the
    manifest's row counts, the transaction log its offset and line count. The database must have the
    service's tables and indexes (a perfectly consistent archive of another database is refused).
  - The restore is refused while any process has the live database or its C(-wal)/C(-shm)/C(-journal) open
    (checked before the verification and again just before the swap), unless O(allow_open_database=true).
  - Scratch directories (C(.restore-work-<pid>)) left by a killed restore, whose process is gone, are removed.
  - Then the current files of the restored O(components) (the database with its C(-wal) and C(-shm), the
    transaction log, and optionally C(.env), C(config/) and the models) are moved into a safety copy under
    O(safety_dir), which also removes stale C(-wal)/C(-shm) files; the restored files are moved in and the live
    database passes C(PRAGMA integrity_check) and the row counts again. If anything fails, the safety copy is
    put back, byte for byte.
  - O(state=rolled_back) puts a safety copy back later, for a playbook whose service did not come back healthy
    after the restore.
  - The service must be stopped while its files are replaced; M(inventory_enterprise.ops.restore) does not
    stop it (the C(dr_restore) playbook does).
  - When the live files already equal the archive, nothing is changed; the live database still gets the
    O(post_check) and the result says so. Removing what killed runs left (RV(leftovers_removed)) is bookkeeping
    that never changes the service's data, so it is never reported as a change (as in the backup module).
  - B(Deployment identity.) The backup module keeps a deployment id (a UUID4) in C(.deployment-id) next to the
    database, written when the first backup runs, and records it in every manifest as C(deployment_id). The
    restore compares it with the target's. An archive of another deployment, or an archive with an id
    restored onto a target that has none (any backup of this target would have written it), is refused
    unless O(allow_cross_deployment=true). An archive made before deployment ids carries none; it is restored
    with a warning and RV(identity.match=no_archive_id). A restore never writes or changes the target's id.
notes:
  - With O(state=rolled_back) and O(safety_copy) (or O(safety_dir)) the C(.env) is not read, so a C(.env) that a
    restore left unreadable never blocks putting the safety copy back.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.service_paths
attributes:
  check_mode:
    support: full
    details:
      - Check mode verifies the archive in a scratch directory that it removes again, and reports whether the
        live files would change.
  diff_mode:
    support: none
options:
  state:
    description:
      - V(restored) restores an archive.
      - V(rolled_back) puts the safety copy O(safety_copy) (default the newest under O(safety_dir)) back.
    type: str
    choices: [restored, rolled_back]
    default: restored
  src:
    description: Archive to restore. Default the newest archive in O(backup_dir) that verifies.
    type: path
  backup_dir:
    description: Directory searched for archives when O(src) is not set. Default C(BACKUP_DIR) of C(.env), else C(backups).
    type: path
  components:
    description:
      - What to restore. V(config) restores C(.env) and C(config/), which usually differ between hosts (port,
        secrets), so it is off by default.
      - With V(config), an archive whose C(.env) the service could not read, or whose C(DATABASE_PATH) or
        C(TRANSACTION_LOG_PATH) differ from where this restore writes the database and the log, is refused
        before any live file changes.
      - A database-only archive restores the database only.
    type: list
    elements: str
    choices: [database, transaction_log, config, models]
    default: [database, transaction_log]
  safety_dir:
    description:
      - Where the safety copies go, one directory per restore. Default C(.restore-safety) next to the database,
        on the same filesystem, so moving the live files there is instant and exact.
    type: path
  safety_copy:
    description: Safety copy to put back with O(state=rolled_back). Default the newest under O(safety_dir).
    type: path
  safety_keep:
    description: Safety copies to keep after a successful restore; older ones are removed.
    type: int
    default: 3
  post_check:
    description:
      - Check of the live database after the swap. The database always passes a full C(PRAGMA integrity_check)
        in the scratch directory before any live file changes, and is then moved (same inode, checked) to its
        live path; V(quick_check) confirms it there in seconds, V(integrity_check) repeats the full check
        (about 20 s more per GiB).
    type: str
    choices: [quick_check, integrity_check]
    default: quick_check
  allow_cross_deployment:
    description:
      - Restore an archive taken from another deployment (its C(deployment_id) differs from the target's, or
        the target has none), for example onto a DR standby or a rebuilt host. RV(identity) says it was used.
    type: bool
    default: false
  allow_open_database:
    description:
      - Restore although processes have the live database open (they are listed in RV(holders)); their
        writes are lost and they keep the replaced file open. Stop the service instead whenever possible.
    type: bool
    default: false
requirements:
  - zstandard (Python library) on the managed host to read zstd archives.
seealso:
  - module: inventory_enterprise.ops.backup
'''

EXAMPLES = r'''
- name: Restore the newest verified backup (service stopped)
  inventory_enterprise.ops.restore:
    service_home: /opt/inventory-enterprise
  register: restored

- name: Restore a named archive, configuration included
  inventory_enterprise.ops.restore:
    service_home: /opt/inventory-enterprise
    src: /opt/inventory-enterprise/backups/inventory_backup_2025-01-07T02-00-00.tar.zst
    components: [database, transaction_log, config, models]

- name: Put the files from before the restore back
  inventory_enterprise.ops.restore:
    state: rolled_back
    service_home: /opt/inventory-enterprise
    safety_copy: "{{ restored.safety_copy }}"
'''

RETURN = r'''
archive:
  description: Path of the archive restored (or that would be, or that was compared with the live files).
  returned: when state is restored and an archive passed verification
  type: str
verification:
  description: The verification of the archive in the scratch directory.
  returned: when state is restored and an archive passed verification
  type: dict
  contains:
    integrity_check:
      description: Result of C(PRAGMA integrity_check) of the extracted database.
      type: str
      sample: ok
    tables:
      description: Row count per table of the extracted database (equal to the manifest's).
      type: dict
    manifest_created_at:
      description: When the backup was taken (UTC, ISO 8601).
      type: str
    transaction_log:
      description: The manifest's transaction log record (C(path), C(source), C(offset), C(lines), C(last_seq)), null for a database-only archive.
      type: dict
    service_version:
      description: Version of the service the backup was taken from.
      type: str
    archive_sha256:
      description: SHA-256 of the archive file.
      type: str
identity:
  description: Deployment identity of the archive and of the target.
  returned: when state is restored and an archive passed verification
  type: dict
  contains:
    archive:
      description: The archive's C(deployment_id), null for an archive made before deployment ids.
      type: str
    target:
      description: The target's deployment id (C(.deployment-id) next to the database), null when it has none.
      type: str
    match:
      description: V(same), V(different), V(no_target_id) (the archive has an id, the target none) or V(no_archive_id).
      type: str
    cross_deployment:
      description: True when the restore went ahead with O(allow_cross_deployment) (V(different) or V(no_target_id)).
      type: bool
holders:
  description:
    - Processes (pid, user, cmdline, files) that had the live database open; non-empty only with
      O(allow_open_database=true), or in check mode (where a real run would refuse).
  returned: when state is restored and no earlier check failed
  type: list
  elements: dict
rejected:
  description: Archives skipped because they failed verification (damaged, foreign schema, another deployment...), with the reason.
  returned: when state is restored
  type: list
  elements: dict
leftovers_removed:
  description: Scratch directories of killed restores and temporary files of killed backups that were removed (bookkeeping, never a change).
  returned: when state is restored
  type: list
  elements: str
restored:
  description: Live paths replaced (or that would be, in check mode).
  returned: always
  type: list
  elements: str
safety_copy:
  description: Directory holding the files from before the restore (and C(safety.json) listing them).
  returned: when files were replaced (also after a failure), or with state rolled_back
  type: str
safety_removed:
  description: Older safety copies removed after a successful restore (O(safety_keep)).
  returned: when files were replaced
  type: list
  elements: str
rolled_back:
  description: Whether the safety copy was put back (after a failure, or with O(state=rolled_back)).
  returned: always
  type: bool
integrity_check:
  description: Result of the O(post_check) pragma on the live database, after the swap or on the unchanged live database.
  returned: when the database component was restored or found equal to the archive (not in check mode)
  type: str
  sample: ok
post_check:
  description:
    - The pragma RV(integrity_check) reports, run on the live database (V(quick_check) or V(integrity_check)).
    - V(integrity_check) also when O(post_check=quick_check) but the database was copied across filesystems
      (another inode than the one checked in the scratch directory).
  returned: with RV(integrity_check)
  type: str
  sample: quick_check
duration:
  description: Seconds the module ran.
  returned: on success
  type: float
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _envfile, _restore, _service_layout


def argument_spec():
    spec = _service_layout.service_paths_argument_spec()
    spec.update(
        state=dict(type='str', choices=['restored', 'rolled_back'], default='restored'),
        src=dict(type='path'),
        backup_dir=dict(type='path'),
        components=dict(type='list', elements='str', choices=list(_restore.COMPONENT_MEMBERS),
                        default=['database', 'transaction_log']),
        safety_dir=dict(type='path'),
        safety_copy=dict(type='path'),
        safety_keep=dict(type='int', default=3),
        post_check=dict(type='str', choices=['quick_check', 'integrity_check'], default='quick_check'),
        allow_cross_deployment=dict(type='bool', default=False),
        allow_open_database=dict(type='bool', default=False),
    )
    return spec


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


def run_module(module):
    params = module.params
    if params['state'] == 'rolled_back' and params['safety_copy']:
        # The safety copy records where each file belongs: a .env the restore left unreadable must not block it.
        paths = None
    else:
        try:
            paths = _service_layout.service_paths_from_params(
                params, backup_dir=params['backup_dir'],
                read_env=not (params['state'] == 'rolled_back' and params['safety_dir']))
        except _envfile.EnvFileError as exc:
            module.fail_json(msg="cannot read the service's configuration: %s. Nothing was restored or changed."
                             % exc, changed=False, restored=[], rolled_back=False)
    started = time.time()
    if params['state'] == 'rolled_back':
        result = _restore.run_rollback(module, paths)
    else:
        result = _restore.run_restore(module, paths)
    result['duration'] = round(time.time() - started, 3)
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
