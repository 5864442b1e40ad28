# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The steps of the restore module: choose and verify an archive, check its identity, refuse while the
database is held open, make the safety copy, swap the live files, check them, and put the safety copy back
when anything fails (or when asked: state=rolled_back)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import (
    _archive,
    _backup_records,
    _envfile,
    _files,
    _service_layout,
    _sqlite,
    _sqlite_maint,
)

COMPONENT_MEMBERS = dict(database=['database.db'], transaction_log=['transaction_log.jsonl'],
                         config=['.env', 'config/'], models=['models/'])


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
            used = _service_layout.service_paths(paths['service_home'], env_file=staged)
        except _envfile.EnvFileError as exc:
            module.fail_json(msg='refused to restore %s: the service could not use its configuration (%s). No live '
                                 'file was changed; restore without the config component, or fix the archive\'s .env'
                                 % (archive, str(exc).replace(staged, member)), changed=False, restored=[],
                             rolled_back=False)
        for option in ('database_path', 'transaction_log_path'):
            if os.path.realpath(used[option]) != os.path.realpath(paths[option]):
                key = _service_layout.ENV_KEYS[option][0]
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
            if not os.path.isdir(live) or _files.tree_digest(live) != _files.tree_digest(staged):
                return False
        elif not os.path.isfile(live) or os.path.getsize(live) != os.path.getsize(staged) \
                or _files.sha256_file(live) != _files.sha256_file(staged):
            return False
    return True


def write_record(safety, record):
    tmp = os.path.join(safety, 'safety.json.tmp')
    with open(tmp, 'w') as handle:
        json.dump(record, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(tmp, os.path.join(safety, 'safety.json'))
    _files.fsync_dir(safety)


def put_back(safety, record):
    """Undo a restore: every live path the restore handled gets its saved original back, and what the restore
    (or a service started afterwards, say a new -wal) put there is removed. Entries not reached yet are
    untouched."""
    for entry in reversed(record['entries']):
        live = entry['live']
        if entry.get('moved'):
            _files.remove_path(live)
            _files.move(os.path.join(safety, entry['saved']), live)
        elif entry.get('done'):
            _files.remove_path(live)
        entry['moved'] = entry['done'] = False
    for directory in set(os.path.dirname(e['live']) for e in record['entries']):
        if os.path.isdir(directory):
            _files.fsync_dir(directory)
    record['rolled_back'] = True
    record['rolled_back_at'] = _backup_records.iso(_backup_records.utc_now())
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
            _files.remove_path(full)
            removed.append(full)
    return removed


class Refused(Exception):
    """The restore stops before any live file changed; the message says why and what to do."""


def io_hint(exc, where):
    """What to do about an OSError met at `where`."""
    if getattr(exc, 'errno', None) in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ('permission denied at %s: run the restore as root (become: true) or as the owner of the '
                "service's files" % where)
    return _files.no_space_hint(exc, where)


def check_identity(manifest, target_id, allow_cross):
    """identity result of restoring an archive with `manifest` onto a target whose deployment id is
    `target_id`; raises ArchiveRejected for another deployment's archive unless allow_cross."""
    archive_id = manifest.get('deployment_id')
    if archive_id is not None and not (isinstance(archive_id, str) and _service_layout.DEPLOYMENT_ID_RE.match(archive_id)):
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
        candidates = [b['path'] for b in _backup_records.list_backups(paths['backup_dir'])]
        if not candidates:
            raise Refused('no backup archive (inventory_backup_*.tar.zst|gz) in %s: set src or backup_dir'
                          % paths['backup_dir'])
    wanted = set()
    for component in params['components']:
        wanted.update(COMPONENT_MEMBERS[component])
    for candidate in candidates:
        _files.remove_path(scratch)
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
        except (_backup_records.BackupError, _sqlite.SqliteError) as exc:
            rejected.append(dict(name=os.path.basename(candidate), reason=str(exc)))
    _files.remove_path(scratch)
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
        _files.remove_path(stale)
    try:
        return restore(module, paths, scratch, dict(leftovers_removed=leftovers))
    except Refused as exc:
        module.fail_json(msg='%s. No live file was changed' % exc.args[0], changed=False, restored=[],
                         rolled_back=False, rejected=exc.args[1] if len(exc.args) > 1 else [],
                         leftovers_removed=leftovers)
    except (OSError, IOError, _backup_records.BackupError, _sqlite.SqliteError) as exc:
        hint = io_hint(exc, getattr(exc, 'filename', None) or db_dir) if isinstance(exc, (OSError, IOError)) else None
        module.fail_json(msg='restore stopped before any live file changed: %s%s. No live file was changed'
                         % (exc, '; ' + hint if hint else ''), changed=False, restored=[], rolled_back=False,
                         leftovers_removed=leftovers)
    finally:
        _files.remove_path(scratch)


def safety_dir_of(params, paths):
    return params['safety_dir'] or os.path.join(os.path.dirname(paths['database_path']), '.restore-safety')


def identity_notes(module, archive, identity):
    """What the result's msg says about whose data the archive holds (and a warning when nobody can tell)."""
    if identity['match'] == 'no_archive_id':
        module.warn('%s carries no deployment id (made before deployment ids): restored without checking that it '
                    'is a backup of this deployment' % os.path.basename(archive))
        return ['the archive predates deployment ids: it could not be matched to this deployment']
    if identity['cross_deployment']:
        return ['cross-deployment restore of deployment %s (allow_cross_deployment)' % identity['archive']]
    return []


def report_unchanged(module, db, archive, notes, report):
    """The live files already hold the archive's content: nothing moves, the live database is still checked."""
    params = module.params
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


def make_safety_copy(safety_dir, archive, targets):
    """(safety directory, record): a fresh directory for the live files about to be replaced, and its
    safety.json listing where each belongs, written before anything moves."""
    stamp = _backup_records.utc_now().strftime(_backup_records.TS_FORMAT)
    if not os.path.isdir(safety_dir):
        os.makedirs(safety_dir, 0o700)
    safety = os.path.join(safety_dir, '%s-%d' % (stamp, os.getpid()))
    suffix = 1
    while os.path.lexists(safety):
        suffix += 1
        safety = os.path.join(safety_dir, '%s-%d.%d' % (stamp, os.getpid(), suffix))
    os.mkdir(safety, 0o700)
    record = dict(created_at=_backup_records.iso(_backup_records.utc_now()), archive=archive, rolled_back=False,
                  entries=[])
    for index, (component, live, _staged_path) in enumerate(targets):
        entry = dict(component=component, live=live, saved=None, moved=False, done=False)
        if os.path.lexists(live):
            entry['saved'] = '%02d-%s' % (index, os.path.basename(live) or component)
            if os.path.isfile(live):
                entry['size'] = os.path.getsize(live)
        record['entries'].append(entry)
    try:
        write_record(safety, record)
    except (OSError, IOError):
        _files.remove_path(safety)
        raise
    return safety, record


def replace_live(safety, record, targets, report):
    """Move each live target into the safety copy and its staged replacement into place, recording every step
    in safety.json so that put_back knows what was reached."""
    for entry, (_component, live, staged_path) in zip(record['entries'], targets):
        owner = _files.ownership_of(live)
        if entry['saved']:
            _files.move(live, os.path.join(safety, entry['saved']))
            entry['moved'] = True
            write_record(safety, record)
        if staged_path:
            parent = os.path.dirname(live)
            if not os.path.isdir(parent):
                os.makedirs(parent, 0o755)
            _files.adopt_ownership(staged_path, owner)
            _files.move(staged_path, live)
            report['restored'].append(live)
        entry['done'] = True
        write_record(safety, record)
    for directory in set(os.path.dirname(live) for _c, live, _s in targets):
        if os.path.isdir(directory):
            _files.fsync_dir(directory)


def post_check(db, wanted_check, staged_identity, manifest, report):
    """Check the restored live database where the service will open it; raises BackupError."""
    # The live file is the very inode that passed integrity_check in the scratch directory (moved, not
    # copied); post_check confirms it where the service will open it.
    # A copy across filesystems has another inode: then the full check runs again.
    st = os.stat(db)
    same = (st.st_ino, st.st_size) == staged_identity
    check = _sqlite.integrity_check(db, quick=same and wanted_check == 'quick_check')
    if check != ['ok']:
        raise _backup_records.BackupError('PRAGMA %s of the restored live database %s: %s'
                                          % (wanted_check, db, '; '.join(check[:5])))
    counts = _sqlite.row_counts(db)
    if counts != manifest['database']['tables']:
        raise _backup_records.BackupError('row counts of the restored live database differ from the manifest')
    report['integrity_check'] = 'ok'
    report['post_check'] = wanted_check if same else 'integrity_check'


def fail_put_back(module, exc, safety, record, archive, identity, report, where):
    """A step after the first live change failed: put the safety copy back and fail with what happened."""
    hint = io_hint(exc, getattr(exc, 'filename', None) or where) if isinstance(exc, (OSError, IOError)) else None
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


def swap(module, paths, archive, manifest, identity, targets, staged, report):
    """Replace the live files through a safety copy, then post-check; any failure puts the safety copy back."""
    params = module.params
    db = paths['database_path']
    staged_db = staged.get('database.db')
    staged_identity = (os.stat(staged_db).st_ino, os.stat(staged_db).st_size) if staged_db else None
    safety, record = make_safety_copy(safety_dir_of(params, paths), archive, targets)
    report['safety_copy'] = safety
    try:
        replace_live(safety, record, targets, report)
        if 'database' in params['components']:
            post_check(db, params['post_check'], staged_identity, manifest, report)
    except (OSError, IOError, _backup_records.BackupError, _sqlite.SqliteError) as exc:
        fail_put_back(module, exc, safety, record, archive, identity, report, os.path.dirname(db))
    return safety


def restore(module, paths, scratch, report):
    """The restore proper. Raises Refused, OSError, BackupError or SqliteError while nothing live changed;
    after that, fails the module itself with what was done."""
    params = module.params
    db = paths['database_path']
    report.update(holders=check_not_open(module, db), rolled_back=False, restored=[])
    target_id = _service_layout.read_deployment_id(db)
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
    notes = identity_notes(module, archive, identity)
    if live_matches(targets):
        return report_unchanged(module, db, archive, notes, report)
    report['changed'] = True
    if module.check_mode:
        report['restored'] = [live for _c, live, staged_path in targets
                              if staged_path or os.path.lexists(live)]
        report['msg'] = 'would restore %s (verified)%s' % (
            os.path.basename(archive), ''.join('; ' + note for note in notes))
        return report
    # Verification can take minutes: a service started meanwhile is refused as well.
    report['holders'] = check_not_open(module, db)
    safety = swap(module, paths, archive, manifest, identity, targets, staged, report)
    report['safety_removed'] = prune_safety(safety_dir_of(params, paths), params['safety_keep'], safety)
    report['msg'] = 'restored %s (%s); the previous files are in %s%s' % (
        os.path.basename(archive), ', '.join(params['components']), safety, ''.join('; ' + note for note in notes))
    return report


def run_rollback(module, paths):
    params = module.params
    safety = params['safety_copy']
    if not safety:
        safety_dir = safety_dir_of(params, paths)
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
