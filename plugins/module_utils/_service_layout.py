# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Where the deployed service keeps its files: the paths its ``.env`` names (parsed by _envfile, the one strict
.env parser), the module options that override them, the service's version, and the deployment id kept next
to the database."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os
import re
import uuid

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _backup_records, _envfile, _files

ENV_FILE = '.env'
# Kept next to the database: names the deployment whose data it is (see ensure_deployment_id).
DEPLOYMENT_ID = '.deployment-id'
DEPLOYMENT_ID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')
ENV_KEYS = dict(database_path=('DATABASE_PATH', 'data/enterprise_inventory.db'),
                transaction_log_path=('TRANSACTION_LOG_PATH', 'data/transaction_log.jsonl'),
                backup_dir=('BACKUP_DIR', 'backups'),
                config_dir=('CONFIG_DIR', 'config'),
                models_dir=('MODELS_DIR', 'ai/models'),
                log_dir=('LOG_DIR', 'logs'))


def service_paths_argument_spec():
    """Options locating the service's files, shared by the backup and restore modules (see service_paths)."""
    return dict(
        service_home=dict(type='path', default='/opt/inventory-enterprise'),
        env_file=dict(type='path'),
        database_path=dict(type='path'),
        transaction_log_path=dict(type='path'),
        config_dir=dict(type='path'),
        models_dir=dict(type='path'),
    )


def service_paths(service_home, env_file=None, read_env=True, **explicit):
    """Absolute paths of the service's files: explicit options win over .env keys, which win over defaults.

    A named env_file is always read and must exist. <service_home>/.env is read unless read_env is false
    (the caller takes nothing from it). Any .env that cannot be read or has a bad line raises EnvFileError,
    and so does a missing <service_home>/.env unless database_path is given: a deployed service always has
    one (the service role writes it, its systemd unit requires it), so without it the caller would act on
    the default paths, which need not hold the database the service uses.
    """
    home = os.path.abspath(service_home)
    if env_file:
        env = _envfile.read_env_file(env_file)
    else:
        env_file = os.path.join(home, ENV_FILE)
        env = _envfile.read_env_file(env_file, missing_ok=True) if read_env else {}
        if env is None and not explicit.get('database_path'):
            if not os.path.isdir(home):
                raise _envfile.EnvFileError(
                    'the service home %s does not exist, so no .env says where the database is: check service_home, '
                    'or name env_file or database_path' % home, errno.ENOENT)
            raise _envfile.EnvFileError(
                '%s does not exist, so the database and the other paths would be the defaults, which need not '
                'be the ones the service uses: put the service\'s .env back (the service role writes it), name '
                'it with env_file, or name the paths (database_path, transaction_log_path and the backup '
                'directory)' % env_file, errno.ENOENT)
        env = env or {}
    paths = dict(service_home=home, env_file=env_file)
    for option, (key, default) in ENV_KEYS.items():
        value = explicit.get(option) or env.get(key) or default
        paths[option] = os.path.normpath(os.path.join(home, value))
    return paths


def service_paths_from_params(params, backup_dir=None, read_env=True):
    """service_paths() for a module whose options include service_paths_argument_spec()."""
    return service_paths(params['service_home'], env_file=params['env_file'], read_env=read_env,
                         database_path=params['database_path'],
                         transaction_log_path=params['transaction_log_path'],
                         config_dir=params['config_dir'], models_dir=params['models_dir'], backup_dir=backup_dir)


def service_version(service_home):
    """Version of the deployed service: package.json (Node.js) or the reference wheel's dist-info."""
    try:
        with open(os.path.join(service_home, 'package.json')) as handle:
            return str(json.load(handle).get('version') or 'unknown')
    except (IOError, OSError, ValueError):
        pass
    venv_lib = os.path.join(service_home, 'venv', 'lib')
    try:
        for pyver in os.listdir(venv_lib):
            site = os.path.join(venv_lib, pyver, 'site-packages')
            for name in os.listdir(site):
                match = re.match(r'^inventory_enterprise_reference-([^-]+)\.dist-info$', name)
                if match:
                    return match.group(1)
    except OSError:
        pass
    return 'unknown'


def deployment_id_path(database_path):
    return os.path.join(os.path.dirname(database_path), DEPLOYMENT_ID)


def read_deployment_id(database_path):
    """The deployment id kept next to the database; None when there is none yet. Raises BackupError."""
    path = deployment_id_path(database_path)
    try:
        with open(path) as handle:
            value = handle.read(200).strip()
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise _backup_records.BackupError('cannot read the deployment id %s: %s; make it readable (run as root or as the '
                                          'service user)' % (path, exc))
    if not DEPLOYMENT_ID_RE.match(value):
        raise _backup_records.BackupError('%s does not hold a deployment id (a UUID4 written by the backup module): %r; put the '
                                          'right one back, or remove the file so the next backup writes a new one' % (path, value[:60]))
    return value


def ensure_deployment_id(database_path):
    """(id, created): the deployment id next to the database, written (UUID4) when there is none.

    The id names the deployment whose data the directory holds; every archive records it, and restore
    refuses by default an archive of another deployment. Written atomically: a temporary file hard-linked
    to its final name, which fails when a concurrent run got there first (its id is kept)."""
    existing = read_deployment_id(database_path)
    if existing:
        return existing, False
    path = deployment_id_path(database_path)
    tmp = '%s.tmp-%d' % (path, os.getpid())
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, 'O_NOFOLLOW', 0), 0o644)
        with os.fdopen(fd, 'w') as handle:
            handle.write(str(uuid.uuid4()) + '\n')
            handle.flush()
            os.fsync(handle.fileno())
        if os.geteuid() == 0:
            # Same owner as the data directory, like the rest of the service's data.
            st = os.stat(os.path.dirname(path))
            os.chown(tmp, st.st_uid, st.st_gid)
        try:
            os.link(tmp, path)
            created = True
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
            created = False
        _files.fsync_dir(os.path.dirname(path))
    finally:
        _files.remove_path(tmp)
    return read_deployment_id(database_path), created
