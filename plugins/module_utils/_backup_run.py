# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The steps of the backup module, one per state (present, verified, pruned); method=api is in _backup_api.

Each step ends the module run (exit_json or fail_json). Verification records and the removal of a dead run's
leftovers are bookkeeping: they never change the service's data, so they never make a run `changed` on their own.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records, _encryption, _envfile, _files, _service_layout


def check_ranges(module):
    """Range checks argument_spec cannot express."""
    for name in ('max_age_hours', 'retention_days'):
        if module.params[name] is not None and module.params[name] < 0:
            module.fail_json(msg='%s must be 0 or more, got %d' % (name, module.params[name]))


def locate(module, result):
    """The service's paths; the .env is read only when a step needs it."""
    params = module.params
    # Verifying or pruning a named directory takes nothing from the .env: on a backup server there is none,
    # or one this user may not read.
    read_env = params['state'] == 'present' or not (params['dest'] or (params['state'] == 'verified'
                                                                       and params['path']))
    if params['method'] == 'api' and params['state'] == 'present' and not params['env_file']:
        # The service writes the archive; the .env only tells whether this host sees it (to verify it here), and a
        # control node that calls the API has no service home at all.
        read_env = os.path.isdir(params['service_home'])
    try:
        return _service_layout.service_paths_from_params(params, backup_dir=params['dest'], read_env=read_env)
    except _envfile.EnvFileError as exc:
        module.fail_json(msg="cannot read the service's configuration: %s. Nothing was backed up or changed."
                         % exc, **result)


# Helpers shared by the steps

def is_verified_factory(module, scratch, reports):
    """Verified backups: a marker that still matches the file, else a full verification now."""
    def is_verified(backup):
        if _backup_records.read_marker(backup['path']):
            return None
        if backup.get('encrypted'):
            # An age copy off-site, where no key is: good when it still has the SHA-256 its transfer recorded.
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
    verified = is_verified_factory(module, scratch, {})

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


def retain(module, result, dest, encrypted=False):
    """Apply retention_days to `dest` into `result`, warning when nothing verifies."""
    params = module.params
    retention, warnings = apply_retention(module, dest, params['retention_days'], params['scratch_dir'],
                                          result=result, encrypted=encrypted)
    result.update(retention)
    for warning in warnings:
        module.warn(warning)


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


# state=verified

def newest_archive(module, result, dest):
    readable_dir(module, dest, result)
    found = _backup_records.list_backups(dest)
    if not found:
        module.fail_json(msg='no backup archive (inventory_backup_*.tar.zst|gz) in %s: create one first '
                             '(state=present) or set path' % dest, **result)
    return found[0]['path']


def verify_one(module, result, dest):
    """state=verified: verify `path` (or the newest archive in `dest`) completely and record the verdict."""
    scratch = module.params['scratch_dir']
    target = module.params['path'] or newest_archive(module, result, dest)
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


# state=pruned

def prune(module, result, dest):
    """state=pruned: apply retention_days to `dest`; only removed archives make it a change."""
    if not os.path.isdir(dest):
        module.fail_json(msg='backup directory %s does not exist' % dest, **result)
    readable_dir(module, dest, result)
    result['leftovers_removed'] = leftovers(module, dest, module.params['scratch_dir'])
    # Off-site, the copies may be encrypted (<archive>.age): they count too, checked by their SHA-256.
    retain(module, result, dest, encrypted=True)
    result['changed'] = bool(result['pruned'])
    result['msg'] = '%s %d archive(s) older than %d days before %s' % (
        'would remove' if module.check_mode else 'removed', len(result['pruned']), module.params['retention_days'],
        result['kept_anchor'])
    module.exit_json(**result)


# state=present, method=local

def create(module, result, paths):
    """state=present: write a new archive (unless a recent verified one will do), verify it, apply retention."""
    params = module.params
    dest = paths['backup_dir']
    if params['compression'] == 'zstd' and not _archive.HAS_ZSTD:
        module.fail_json(msg=missing_required_lib('zstandard', reason='for compression=zstd (or use compression=gzip)'),
                         exception=_archive.ZSTD_IMP_ERR)
    if not os.path.isfile(paths['database_path']):
        module.fail_json(msg='database %s does not exist: check service_home/database_path (or DATABASE_PATH '
                             'in %s)' % (paths['database_path'], paths['env_file']), **result)
    skip_when_recent(module, result, dest)
    result['changed'] = True
    if module.check_mode:
        predict(module, result, dest)
    created = write_archive(module, result, paths)
    if params['verify']:
        verify_new(module, result, paths, created)
    if params['retention_days'] is not None:
        retain(module, result, dest)
    if params['log']:
        log_success(module, result, paths, created)
    result['msg'] = 'wrote %s (%d bytes)%s' % (created['path'], created['size'],
                                               ', verified' if params['verify'] else '')
    module.exit_json(**result)


def skip_when_recent(module, result, dest):
    """max_age_hours: a verified archive younger than that is the backup of this run."""
    hours = module.params['max_age_hours']
    recent = recent_verified(dest, hours) if hours > 0 else None
    if recent:
        result.update(backup=recent, msg='%s is verified and %.1f hours old (max_age_hours=%d): no new backup'
                      % (recent['name'], recent['age_seconds'] / 3600.0, hours))
        module.exit_json(**result)


def predict(module, result, dest):
    """Check mode: the name this run would write and what retention would remove with it."""
    params = module.params
    stamp = _backup_records.utc_now()
    if os.path.isdir(dest):
        stamp = _archive.free_stamp(dest, stamp)
    name = _backup_records.archive_name(stamp, params['compression'])
    result['backup'] = dict(path=os.path.join(dest, name), name=name)
    result['leftovers_removed'] = leftovers(module, dest, params['scratch_dir'])
    if params['retention_days'] is not None and os.path.isdir(dest):
        virtual = dict(name=name, path=os.path.join(dest, name), timestamp=stamp)
        retention, warnings = apply_retention(module, dest, params['retention_days'], params['scratch_dir'], virtual)
        result.update(retention)
    result['msg'] = 'would write %s' % result['backup']['path']
    module.exit_json(**result)


def write_archive(module, result, paths):
    params = module.params
    dest = paths['backup_dir']
    made_dest = not os.path.isdir(dest)
    if made_dest:
        try:
            os.makedirs(dest, 0o700)
        except OSError as exc:
            result['changed'] = False
            module.fail_json(msg='cannot create the backup directory %s: %s; %s' % (
                dest, exc, _files.permission_hint(exc, os.path.dirname(dest)) or 'check dest'), **result)
    result['leftovers_removed'] = leftovers(module, dest, params['scratch_dir'])
    try:
        created = _archive.create_backup(
            paths, dest, compression=params['compression'], level=params['compression_level'],
            threads=params['threads'], database_only=params['database_only'],
            version=params['service_version'] or _service_layout.service_version(paths['service_home']),
            created_by='ansible inventory_enterprise.ops.backup', work_parent=params['scratch_dir'])
    except _backup_records.BackupError as exc:
        if params['log']:
            _backup_records.log_line(paths['log_dir'], 'ERROR', 'backup failed: %s' % exc)
        # Removed leftovers are bookkeeping; a backup directory created for this run is a change.
        result['changed'] = made_dest
        module.fail_json(msg='backup of %s failed: %s. Previous backups in %s are untouched and no partial archive '
                             'was left' % (paths['service_home'], exc, dest), **result)
    result['backup'] = created
    return created


def verify_new(module, result, paths, created):
    params = module.params
    try:
        report = _archive.verify_archive(created['path'], params['scratch_dir'] or paths['backup_dir'])
    except _backup_records.BackupError as exc:
        if not cannot_verify(exc, created['path']):
            _backup_records.write_failure_marker(created['path'], exc)
        if params['log']:
            _backup_records.log_line(paths['log_dir'], 'ERROR', 'backup failed verification %s: %s' % (created['name'], exc))
        module.fail_json(msg=cannot_verify(exc, created['path']) or (
            'the new backup %s does not verify: %s; it is kept for investigation and is not counted as a good '
            'backup' % (created['path'], exc)), **result)
    write_marker(module, created['path'], report, result)
    result['verification'] = report


def log_success(module, result, paths, created):
    manifest = created['manifest']
    result['log_file'] = _backup_records.log_line(
        paths['log_dir'], 'INFO',
        'backup completed name=%s size=%d sha256=%s tables=%d log_lines=%s verified=%s pruned=%d duration=%ss'
        % (created['name'], created['size'], created['archive_sha256'], len(manifest['database']['tables']),
           (manifest.get('transaction_log') or {}).get('lines', 0), str(module.params['verify']).lower(),
           len(result['pruned']), created['duration']))
