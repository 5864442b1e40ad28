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
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
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
  service_home:
    description: Home directory of the service; the other paths default to its C(.env) keys or the service defaults.
    type: path
    default: /opt/inventory-enterprise
  env_file:
    description:
      - The service's C(.env) file. Default C(<service_home>/.env).
      - Read as the service reads it; a file that cannot be read or has a bad line (reported by file and line,
        never by value) fails the task before anything is changed, and so does a named O(env_file) that does
        not exist, or a missing C(<service_home>/.env) unless O(database_path) is set.
      - With O(state=rolled_back) and O(safety_copy) (or O(safety_dir)) it is not read.
    type: path
  database_path:
    description: The live SQLite database. Default C(DATABASE_PATH), else C(data/enterprise_inventory.db).
    type: path
  transaction_log_path:
    description: The live transaction log. Default C(TRANSACTION_LOG_PATH), else C(data/transaction_log.jsonl).
    type: path
  config_dir:
    description: Configuration directory, restored from C(config/) with the V(config) component.
    type: path
  models_dir:
    description: Models directory, restored from C(models/) with the V(models) component.
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

import errno
import hashlib
import json
import os
import shutil
import stat
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _envfile, _sqlite, _sqlite_maint

COMPONENT_MEMBERS = dict(database=['database.db'], transaction_log=['transaction_log.jsonl'],
                         config=['.env', 'config/'], models=['models/'])


def argument_spec():
    spec = _archive.service_paths_argument_spec()
    spec.update(
        state=dict(type='str', choices=['restored', 'rolled_back'], default='restored'),
        src=dict(type='path'),
        backup_dir=dict(type='path'),
        components=dict(type='list', elements='str', choices=list(COMPONENT_MEMBERS),
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


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(_archive.CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def tree_digest(path):
    """{relative path: sha256} of the regular files below path ({} when missing)."""
    files, _links = _archive._tree_files(path)  # pylint: disable=protected-access
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
    _archive.remove_path(src)


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


def targets_for(paths, components, manifest_members, extracted):
    """[(component, live path, staged path or None)]: what replaces what. Only what the archive holds is
    replaced; a None staged path (stale database sidecars) is moved away and not replaced."""
    targets = []
    db = paths['database_path']
    if 'database' in components:
        targets.append(('database', db, extracted.get('database.db')))
        for sidecar in _sqlite.sidecar_paths(db):
            targets.append(('database', sidecar, None))  # stale -wal/-shm/-journal: moved away, not replaced
    if 'transaction_log' in components and 'transaction_log.jsonl' in manifest_members:
        targets.append(('transaction_log', paths['transaction_log_path'], extracted.get('transaction_log.jsonl')))
    if 'config' in components and extracted.get('.env'):
        targets.append(('config', paths['env_file'], extracted.get('.env')))
    if 'config' in components and extracted.get('config'):
        targets.append(('config', paths['config_dir'], extracted.get('config')))
    if 'models' in components and extracted.get('models'):
        targets.append(('models', paths['models_dir'], extracted.get('models')))
    return targets


def check_restored_env(module, paths, targets, archive):
    """Refuse, before any live change, an archive's .env that the service could not read, or that would send it
    to another database or transaction log than the ones this restore writes."""
    for component, live, staged in targets:
        if component != 'config' or live != paths['env_file'] or not staged:
            continue
        member = '.env in %s' % os.path.basename(archive)
        try:
            # What the service will use: the restored .env alone, without this task's explicit options.
            used = _archive.service_paths(paths['service_home'], env_file=staged)
        except _envfile.EnvFileError as exc:
            module.fail_json(msg='refused to restore %s: the service could not use its configuration (%s). No live '
                                 'file was changed; restore without the config component, or fix the archive\'s .env'
                                 % (archive, str(exc).replace(staged, member)), changed=False, restored=[],
                             rolled_back=False)
        for option in ('database_path', 'transaction_log_path'):
            if os.path.realpath(used[option]) != os.path.realpath(paths[option]):
                key = _archive.ENV_KEYS[option][0]
                module.fail_json(msg='refused to restore %s: the %s sets %s to %s, but this restore writes %s, so the '
                                     'service would not run on the restored files. No live file was changed; restore '
                                     'without the config component, or set %s to %s'
                                     % (archive, member, key, used[option], paths[option], option, used[option]),
                                 changed=False, restored=[], rolled_back=False)


def live_matches(targets):
    """True when every live target already holds the staged content (and no stale sidecar exists)."""
    for _component, live, staged in targets:
        if staged is None:
            # A -shm, or an empty -wal, is harmless; a -wal or journal with content would be replayed.
            if os.path.lexists(live) and not live.endswith('-shm') and os.path.getsize(live) > 0:
                return False
            continue
        if os.path.isdir(staged):
            if not os.path.isdir(live) or tree_digest(live) != tree_digest(staged):
                return False
        elif not os.path.isfile(live) or os.path.getsize(live) != os.path.getsize(staged) \
                or sha256_file(live) != sha256_file(staged):
            return False
    return True


def write_record(safety, record):
    tmp = os.path.join(safety, 'safety.json.tmp')
    with open(tmp, 'w') as handle:
        json.dump(record, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(tmp, os.path.join(safety, 'safety.json'))
    _archive.fsync_dir(safety)


def put_back(safety, record):
    """Undo a restore: every live path the restore handled gets its saved original back, and what the restore
    (or a service started afterwards, say a new -wal) put there is removed. Entries not reached yet are
    untouched."""
    for entry in reversed(record['entries']):
        live = entry['live']
        if entry.get('moved'):
            _archive.remove_path(live)
            move(os.path.join(safety, entry['saved']), live)
        elif entry.get('done'):
            _archive.remove_path(live)
        entry['moved'] = entry['done'] = False
    for directory in set(os.path.dirname(e['live']) for e in record['entries']):
        if os.path.isdir(directory):
            _archive.fsync_dir(directory)
    record['rolled_back'] = True
    record['rolled_back_at'] = _archive.iso(_archive.utc_now())
    write_record(safety, record)


def prune_safety(safety_dir, keep, current):
    try:
        names = sorted(n for n in os.listdir(safety_dir) if os.path.isdir(os.path.join(safety_dir, n)))
    except OSError:
        return []
    removed = []
    for name in names[:max(0, len(names) - keep)]:
        full = os.path.join(safety_dir, name)
        if full != current:
            _archive.remove_path(full)
            removed.append(full)
    return removed


class Refused(Exception):
    """The restore stops before any live file changed; the message says why and what to do."""


def io_hint(exc, where):
    """What to do about an OSError met at `where`."""
    if getattr(exc, 'errno', None) in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ('permission denied at %s: run the restore as root (become: true) or as the owner of the '
                "service's files" % where)
    return _archive.no_space_hint(exc, where)


def check_identity(manifest, target_id, allow_cross):
    """identity result of restoring an archive with `manifest` onto a target whose deployment id is
    `target_id`; raises ArchiveRejected for another deployment's archive unless allow_cross."""
    archive_id = manifest.get('deployment_id')
    if archive_id is not None and not (isinstance(archive_id, str) and _archive.DEPLOYMENT_ID_RE.match(archive_id)):
        raise _archive.ArchiveRejected('the manifest\'s deployment_id %r is not a deployment id' % (archive_id,))
    if archive_id is None:
        match = 'no_archive_id'
    elif target_id is None:
        match = 'no_target_id'
    else:
        match = 'same' if archive_id == target_id else 'different'
    cross = match in ('different', 'no_target_id')
    if cross and not allow_cross:
        if match == 'different':
            why = 'this target is deployment %s' % target_id
        else:
            why = ('this target has no deployment id (it was never backed up by this collection, or its data '
                   'directory was rebuilt), so it is not that deployment')
        raise _archive.ArchiveRejected(
            'the archive was taken from deployment %s and %s: a backup of another deployment is not a backup of '
            'this one. To restore that deployment\'s data here on purpose (a DR standby, a rebuilt host), set '
            'allow_cross_deployment=true (role variable backup_restore_allow_cross_deployment)' % (archive_id, why))
    return dict(archive=archive_id, target=target_id, match=match, cross_deployment=cross)


def check_not_open(module, db):
    """Refuse while another process has the live database (or its -wal/-shm/-journal) open; returns the
    holders when allow_open_database lets the restore go on."""
    holders, _unreadable = _sqlite_maint.find_holders(db)
    if holders and module.check_mode and not module.params['allow_open_database']:
        # A check-mode run of a playbook that stops the service first does not stop it.
        module.warn('%d process(es) have %s open: a real run refuses unless they are stopped first (or '
                    'allow_open_database=true)' % (len(holders), db))
    elif holders and not module.params['allow_open_database']:
        raise Refused('%d process(es) have the live database %s open: %s. Replacing its files under a running '
                      'service loses its writes or corrupts the result: stop the service first (playbooks/'
                      'dr_restore.yml does), or set allow_open_database=true to accept it'
                      % (len(holders), db, ', '.join('pid %d (%s)' % (h['pid'], ' '.join(h['cmdline'])[:80])
                                                     for h in holders)))
    return holders


def choose_and_verify(module, paths, scratch, target_id):
    """Verify src, or the newest archive that verifies; returns (archive, read result, db check, rejected,
    identity)."""
    params = module.params
    rejected = []
    if params['src']:
        candidates = [params['src']]
    else:
        candidates = [b['path'] for b in _archive.list_backups(paths['backup_dir'])]
        if not candidates:
            raise Refused('no backup archive (inventory_backup_*.tar.zst|gz) in %s: set src or backup_dir'
                          % paths['backup_dir'])
    wanted = set()
    for component in params['components']:
        wanted.update(COMPONENT_MEMBERS[component])
    for candidate in candidates:
        _archive.remove_path(scratch)
        os.mkdir(scratch, 0o700)
        identity = {}

        def before_extract(manifest):
            identity.update(check_identity(manifest, target_id, params['allow_cross_deployment']))

        try:
            result = _archive.read_archive(candidate, scratch, extract=wanted | {'database.db'},
                                           before_extract=before_extract)
            database = result['extracted']['database.db']
            db_check = _archive.check_database(database, result['manifest'])
            missing = _sqlite.missing_schema(database)
            if missing:
                raise _archive.ArchiveRejected('its database is not an Inventory Enterprise database: it lacks %s'
                                               % ', '.join(missing))
            return candidate, result, db_check, rejected, identity
        except (_archive.BackupError, _sqlite.SqliteError) as exc:
            rejected.append(dict(name=os.path.basename(candidate), reason=str(exc)))
    _archive.remove_path(scratch)
    if params['src']:
        raise Refused('refused to restore %s: %s' % (params['src'], rejected[0]['reason']), rejected)
    raise Refused('no archive in %s passes verification: %s'
                  % (paths['backup_dir'], '; '.join('%s: %s' % (r['name'], r['reason']) for r in rejected)), rejected)


def staged_paths(scratch, result):
    """Map archive members to what replaces each live target (whole directories for config/ and models/)."""
    staged = dict(result['extracted'])
    for tree in _archive.TREES:
        directory = os.path.join(scratch, tree)
        if tree in result['dirs'] or any(key.startswith(tree + '/') for key in result['extracted']):
            if not os.path.isdir(directory):
                os.mkdir(directory, 0o700)
            staged[tree] = directory
    return staged


def run_restore(module, paths):
    db_dir = os.path.dirname(paths['database_path'])
    if not os.path.isdir(db_dir):
        module.fail_json(msg='the database directory %s does not exist: deploy the service first' % db_dir,
                         restored=[], rolled_back=False)
    scratch = os.path.join(db_dir, '.restore-work-%d' % os.getpid())
    # Scratch directories of killed restores (their pid is gone) and leftovers of killed backups.
    leftovers = _archive.stale_leftovers(db_dir) + _archive.stale_leftovers(db_dir, _archive.RESTORE_WORK_RE)
    for stale in leftovers:
        _archive.remove_path(stale)
    try:
        return restore(module, paths, scratch, dict(leftovers_removed=leftovers))
    except Refused as exc:
        module.fail_json(msg='%s. No live file was changed' % exc.args[0], changed=False, restored=[],
                         rolled_back=False, rejected=exc.args[1] if len(exc.args) > 1 else [],
                         leftovers_removed=leftovers)
    except (OSError, IOError, _archive.BackupError, _sqlite.SqliteError) as exc:
        hint = io_hint(exc, getattr(exc, 'filename', None) or db_dir) if isinstance(exc, (OSError, IOError)) else None
        module.fail_json(msg='restore stopped before any live file changed: %s%s. No live file was changed'
                         % (exc, '; ' + hint if hint else ''), changed=False, restored=[], rolled_back=False,
                         leftovers_removed=leftovers)
    finally:
        _archive.remove_path(scratch)


def restore(module, paths, scratch, report):
    """The restore proper. Raises Refused, OSError, BackupError or SqliteError while nothing live changed;
    after that, fails the module itself with what was done."""
    params = module.params
    db = paths['database_path']
    db_dir = os.path.dirname(db)
    safety_dir = params['safety_dir'] or os.path.join(db_dir, '.restore-safety')
    report.update(holders=check_not_open(module, db), rolled_back=False, restored=[])
    target_id = _archive.read_deployment_id(db)
    archive, result, db_check, rejected, identity = choose_and_verify(module, paths, scratch, target_id)
    manifest = result['manifest']
    staged = staged_paths(scratch, result)
    targets = targets_for(paths, params['components'],
                          set(e['path'] for e in manifest['members']) | set(staged), staged)
    check_restored_env(module, paths, targets, archive)
    report.update(archive=archive, rejected=rejected, identity=identity,
                  verification=dict(db_check, manifest_created_at=manifest.get('created_at'),
                                    transaction_log=manifest.get('transaction_log'),
                                    service_version=manifest.get('service_version'),
                                    archive_sha256=result['archive_sha256']))
    notes = []
    if identity['match'] == 'no_archive_id':
        notes.append('the archive predates deployment ids: it could not be matched to this deployment')
        module.warn('%s carries no deployment id (made before deployment ids): restored without checking that it '
                    'is a backup of this deployment' % os.path.basename(archive))
    elif identity['cross_deployment']:
        notes.append('cross-deployment restore of deployment %s (allow_cross_deployment)' % identity['archive'])
    if live_matches(targets):
        report.update(changed=False, msg='the live files already equal %s: nothing to restore'
                      % os.path.basename(archive))
        if 'database' in params['components']:
            # The scratch copy passed integrity_check and equals the live file byte for byte; the live file
            # itself is checked too, and the result says which check ran.
            check = _sqlite.integrity_check(db, quick=params['post_check'] == 'quick_check')
            report.update(integrity_check='; '.join(check[:5]), post_check=params['post_check'])
            if check != ['ok']:
                raise Refused('the live database %s equals %s but PRAGMA %s fails there: %s; restore another '
                              'archive or check the disk' % (db, os.path.basename(archive), params['post_check'],
                                                             '; '.join(check[:5])))
            report['msg'] += '; PRAGMA %s of the live database: ok' % params['post_check']
        report['msg'] += ''.join('; ' + note for note in notes)
        return report
    report['changed'] = True
    if module.check_mode:
        report['restored'] = [live for _c, live, staged_path in targets
                              if staged_path or os.path.lexists(live)]
        report['msg'] = 'would restore %s (verified)%s' % (
            os.path.basename(archive), ''.join('; ' + note for note in notes))
        return report
    # Verification can take minutes: a service started meanwhile is refused as well.
    report['holders'] = check_not_open(module, db)

    staged_db = staged.get('database.db')
    staged_identity = (os.stat(staged_db).st_ino, os.stat(staged_db).st_size) if staged_db else None
    stamp = _archive.utc_now().strftime(_archive.TS_FORMAT)
    if not os.path.isdir(safety_dir):
        os.makedirs(safety_dir, 0o700)
    safety = os.path.join(safety_dir, '%s-%d' % (stamp, os.getpid()))
    suffix = 1
    while os.path.lexists(safety):
        suffix += 1
        safety = os.path.join(safety_dir, '%s-%d.%d' % (stamp, os.getpid(), suffix))
    os.mkdir(safety, 0o700)
    record = dict(created_at=_archive.iso(_archive.utc_now()), archive=archive, rolled_back=False, entries=[])
    for index, (component, live, staged_path) in enumerate(targets):
        entry = dict(component=component, live=live, saved=None, moved=False, done=False)
        if os.path.lexists(live):
            entry['saved'] = '%02d-%s' % (index, os.path.basename(live) or component)
            if os.path.isfile(live):
                entry['size'] = os.path.getsize(live)
        record['entries'].append(entry)
    try:
        write_record(safety, record)
    except (OSError, IOError):
        _archive.remove_path(safety)
        raise
    report['safety_copy'] = safety
    try:
        for entry, (_component, live, staged_path) in zip(record['entries'], targets):
            owner = ownership_of(live)
            if entry['saved']:
                move(live, os.path.join(safety, entry['saved']))
                entry['moved'] = True
                write_record(safety, record)
            if staged_path:
                parent = os.path.dirname(live)
                if not os.path.isdir(parent):
                    os.makedirs(parent, 0o755)
                adopt_ownership(staged_path, owner)
                move(staged_path, live)
                report['restored'].append(live)
            entry['done'] = True
            write_record(safety, record)
        for directory in set(os.path.dirname(live) for _c, live, _s in targets):
            if os.path.isdir(directory):
                _archive.fsync_dir(directory)
        if 'database' in params['components']:
            # The live file is the very inode that passed integrity_check in the scratch directory (moved, not
            # copied); post_check confirms it where the service will open it.
            # A copy across filesystems has another inode: then the full check runs again.
            st = os.stat(db)
            same = (st.st_ino, st.st_size) == staged_identity
            check = _sqlite.integrity_check(db, quick=same and params['post_check'] == 'quick_check')
            if check != ['ok']:
                raise _archive.BackupError('PRAGMA %s of the restored live database %s: %s'
                                           % (params['post_check'], db, '; '.join(check[:5])))
            counts = _sqlite.row_counts(db)
            if counts != manifest['database']['tables']:
                raise _archive.BackupError('row counts of the restored live database differ from the manifest')
            report['integrity_check'] = 'ok'
            report['post_check'] = params['post_check'] if same else 'integrity_check'
    except (OSError, IOError, _archive.BackupError, _sqlite.SqliteError) as exc:
        hint = io_hint(exc, getattr(exc, 'filename', None) or db_dir) if isinstance(exc, (OSError, IOError)) else None
        try:
            put_back(safety, record)
        except (OSError, IOError) as back_exc:
            module.fail_json(msg='restore of %s failed (%s%s) AND putting the safety copy back failed (%s): '
                                 'the files from before the restore are in %s (safety.json lists where each '
                                 'belongs); put them back by hand' % (archive, exc, '; ' + hint if hint else '',
                                                                      back_exc, safety),
                             changed=True, safety_copy=safety, restored=report['restored'], rolled_back=False,
                             archive=archive, identity=identity)
        # changed: live files were moved and moved back; the safety copy (with its record) stays.
        module.fail_json(msg='restore of %s failed: %s%s. The safety copy was put back: the live files are '
                             'as before' % (archive, exc, '; ' + hint if hint else ''),
                         changed=True, safety_copy=safety, restored=[], rolled_back=True, archive=archive,
                         identity=identity)
    report['safety_removed'] = prune_safety(safety_dir, params['safety_keep'], safety)
    report['msg'] = 'restored %s (%s); the previous files are in %s%s' % (
        os.path.basename(archive), ', '.join(params['components']), safety, ''.join('; ' + note for note in notes))
    return report


def run_rollback(module, paths):
    params = module.params
    safety = params['safety_copy']
    if not safety:
        safety_dir = params['safety_dir'] or os.path.join(os.path.dirname(paths['database_path']), '.restore-safety')
        try:
            names = sorted(n for n in os.listdir(safety_dir) if os.path.isfile(os.path.join(safety_dir, n,
                                                                                            'safety.json')))
        except OSError:
            names = []
        if not names:
            module.fail_json(msg='no safety copy in %s to put back' % safety_dir, rolled_back=False, restored=[])
        safety = os.path.join(safety_dir, names[-1])
    try:
        with open(os.path.join(safety, 'safety.json')) as handle:
            record = json.load(handle)
    except (IOError, OSError, ValueError) as exc:
        module.fail_json(msg='cannot read the safety copy %s: %s' % (safety, exc), rolled_back=False, restored=[])
    if record.get('rolled_back'):
        return dict(changed=False, safety_copy=safety, rolled_back=False, restored=[],
                    msg='the safety copy %s was already put back' % safety)
    lives = [e['live'] for e in record['entries']]
    if module.check_mode:
        return dict(changed=True, safety_copy=safety, rolled_back=False, restored=lives,
                    msg='would put the safety copy %s back' % safety)
    try:
        put_back(safety, record)
    except (OSError, IOError) as exc:
        module.fail_json(msg='putting the safety copy %s back failed: %s; safety.json lists where each file '
                             'belongs' % (safety, exc), safety_copy=safety, rolled_back=False, restored=[])
    return dict(changed=True, safety_copy=safety, rolled_back=True, restored=lives,
                msg='put the safety copy %s back (from before the restore of %s)' % (safety, record.get('archive')))


def run_module(module):
    params = module.params
    if params['state'] == 'rolled_back' and params['safety_copy']:
        # The safety copy records where each file belongs: a .env the restore left unreadable must not block it.
        paths = None
    else:
        try:
            paths = _archive.service_paths_from_params(
                params, backup_dir=params['backup_dir'],
                read_env=not (params['state'] == 'rolled_back' and params['safety_dir']))
        except _envfile.EnvFileError as exc:
            module.fail_json(msg="cannot read the service's configuration: %s. Nothing was restored or changed."
                             % exc, changed=False, restored=[], rolled_back=False)
    started = time.time()
    if params['state'] == 'rolled_back':
        result = run_rollback(module, paths)
    else:
        result = run_restore(module, paths)
    result['duration'] = round(time.time() - started, 3)
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
