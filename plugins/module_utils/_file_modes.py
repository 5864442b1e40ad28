# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Modes and owners of the service's files, for the security audit: its .env, the database, the backups and the
logs. Problems are collected over every file and reported once per kind of file and problem, so a hundred
world-readable log files make one finding, not a hundred."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import pwd
import stat

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _backup_records, _sqlite
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._review_result import downgraded, plural


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


# Per kind of file: the problems looked for and their severity. A world_* problem of a file that other users
# cannot reach (a directory above it lacks o+x) drops to low: it is latent, not exposed.
FILE_RULES = dict(
    env_file=dict(world_readable='critical', world_writable='critical', group_readable='high',
                  group_writable='high', owner='high'),
    database=dict(world_writable='critical', world_readable='high', group_writable='high', owner='medium'),
    backup_dir=dict(world_writable='high', world_readable='medium', group_writable='medium', owner='medium'),
    backup_archive=dict(world_readable='critical', world_writable='high', group_readable='high',
                        group_writable='medium', owner='medium'),
    backup_marker=dict(world_writable='medium', group_writable='low', owner='low'),
    log_dir=dict(world_writable='high', group_writable='low'),
    log_file=dict(world_writable='medium'),
    security_log=dict(world_readable='medium'),
)
LABELS = dict(env_file='.env file', database='database file', backup_dir='backups directory',
              backup_archive='backup archive', backup_marker='backup verification record', log_dir='logs directory',
              log_file='log file', security_log='security or audit log')
PROBLEMS = dict(world_readable='readable by every user', world_writable='writable by every user',
                group_readable='readable by its group', group_writable='writable by its group')
# An encrypted archive's content is protected by its key: who can read it matters little.
ENCRYPTED_READABLE = 'low'


def mode_problems(st):
    """Problems of a file's mode; for a directory "readable" means listable or enterable (r or x)."""
    mode = stat.S_IMODE(st.st_mode)
    directory = stat.S_ISDIR(st.st_mode)
    read_other = stat.S_IROTH | (stat.S_IXOTH if directory else 0)
    read_group = stat.S_IRGRP | (stat.S_IXGRP if directory else 0)
    found = []
    # What every user may do, its group may too: the group problem is only reported on its own.
    if mode & read_other:
        found.append('world_readable')
    elif mode & read_group:
        found.append('group_readable')
    if mode & stat.S_IWOTH:
        found.append('world_writable')
    elif mode & stat.S_IWGRP:
        found.append('group_writable')
    return found


def closed_ancestor(path):
    """(directory, mode) of the nearest directory above `path` that other users cannot enter, or None."""
    parent = os.path.dirname(os.path.abspath(path))
    while True:
        try:
            mode = stat.S_IMODE(os.stat(parent).st_mode)
        except OSError:
            return None
        if not mode & stat.S_IXOTH:
            return parent, mode
        if parent == os.path.dirname(parent):
            return None
        parent = os.path.dirname(parent)


class FileModes(object):
    """Collects (kind, problem) -> files over every file checked, then reports one finding per kind and problem."""

    def __init__(self, review, owner_uid, owner_name):
        self.review = review
        self.owner_uid = owner_uid
        self.owner_name = owner_name
        self.problems = {}
        self.checked = set()

    def check(self, kind, path, encrypted=False):
        try:
            st = os.stat(path)
        except OSError as exc:
            self.review.missing(kind, 'cannot stat %s: %s' % (path, exc.strerror or exc))
            return
        self.checked.add(path)
        rules = FILE_RULES[kind]
        for problem in mode_problems(st):
            if problem in rules:
                severity = rules[problem]
                if encrypted and problem.endswith('_readable'):
                    severity = downgraded(severity, ENCRYPTED_READABLE)
                self._note(kind, problem, severity, path, st)
        if 'owner' in rules and self.owner_uid is not None and st.st_uid not in (self.owner_uid, 0):
            self._note(kind, 'owner', rules['owner'], path, st)

    def _note(self, kind, problem, severity, path, st):
        closed = closed_ancestor(path) if problem.startswith('world_') else None
        if closed:
            severity = downgraded(severity)
        key = (kind, problem, severity, closed)
        self.problems.setdefault(key, []).append((path, st))

    def report(self):
        for (kind, problem, severity, closed), files in sorted(self.problems.items(), key=lambda item: item[0][:3]):
            files.sort()
            if problem == 'owner':
                what = 'owned by another user than %s' % (
                    'root' if self.owner_name == 'root' else 'the service user %s or root' % self.owner_name)
            else:
                what = PROBLEMS[problem]
            described = ['%s (mode %04o%s)' % (path if len(files) == 1 else os.path.basename(path),
                                               stat.S_IMODE(st.st_mode),
                                               ', owner %s' % user_name(st.st_uid) if problem == 'owner' else '')
                         for path, st in files[:3]]
            if len(files) == 1:
                summary = 'the %s %s is %s' % (LABELS[kind], described[0], what)
                subject = files[0][0]
            else:
                summary = '%s in %s are %s: %s%s' % (plural(len(files), LABELS[kind]), os.path.dirname(files[0][0]),
                                                     what, ', '.join(described), ', ...' if len(files) > 3 else '')
                subject = os.path.dirname(files[0][0])
            if closed:
                summary += '; for now %s (mode %04o) keeps other users out' % closed
            self.review.add('file_modes', '%s_%s' % (kind, problem), severity, summary, subject, value=len(files))
        self.review.figures['files_checked'] = len(self.checked)


def check_file_modes(review, paths, owner_uid, owner_name):
    modes = FileModes(review, owner_uid, owner_name)
    if os.path.exists(paths['env_file']):
        modes.check('env_file', paths['env_file'])
    database = paths['database_path']
    if os.path.exists(database):
        for path in [database] + _sqlite.sidecar_paths(database):
            if os.path.exists(path):
                modes.check('database', path)
    else:
        review.missing('database', '%s does not exist: its mode was not checked (database_path or DATABASE_PATH)'
                       % database)
    _check_backups(review, modes, paths['backup_dir'])
    _check_logs(review, modes, paths['log_dir'])
    modes.report()


def _listdir(review, source, directory):
    try:
        return sorted(os.listdir(directory))
    except OSError as exc:
        review.missing(source, 'cannot list %s: %s' % (directory, exc.strerror or exc))
        return None


def _check_backups(review, modes, backup_dir):
    if not os.path.isdir(backup_dir):
        return  # in unavailable already (security_audit.run_audit)
    modes.check('backup_dir', backup_dir)
    for backup in _backup_records.list_backups(backup_dir, encrypted=True):
        modes.check('backup_archive', backup['path'], encrypted=backup['encrypted'])
    markers = os.path.join(backup_dir, _backup_records.MARKER_DIR)
    if os.path.isdir(markers):
        modes.check('backup_marker', markers)
        for name in _listdir(review, 'backup_marker', markers) or []:
            if name.endswith('.json') and os.path.isfile(os.path.join(markers, name)):
                modes.check('backup_marker', os.path.join(markers, name))


def _check_logs(review, modes, log_dir):
    if not os.path.isdir(log_dir):
        review.missing('log_dir', '%s does not exist: the logs were not checked (log_dir or LOG_DIR)' % log_dir)
        return
    modes.check('log_dir', log_dir)
    for name in _listdir(review, 'log_dir', log_dir) or []:
        path = os.path.join(log_dir, name)
        if not name.endswith('.log') or os.path.islink(path) or not os.path.isfile(path):
            continue
        modes.check('log_file', path)
        if name.startswith(('security-', 'audit-')):
            modes.check('security_log', path)
