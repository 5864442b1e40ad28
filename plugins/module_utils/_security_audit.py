# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The monthly security audit of an app server (module security_audit): file modes and owners, secrets'
strength, listening ports, backup encryption, accounts with admin rights.

Read-only. Each check adds findings to a _review_result.Review, which builds the common result shape of the
review modules; the file modes are _file_modes'.
Secrets are judged here and never leave: a finding about one says "default value" or gives its length, nothing
else, and no message built here contains a value read from .env.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import pwd

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import (
    _backup_records,
    _encryption,
    _envfile,
    _process,
    _service_layout,
    _tcp_listeners,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._file_modes import check_file_modes
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._review_result import Review, count_is, plural

# Where the OS's own tables are (run_audit's proc_root and etc_root point elsewhere in the tests).
PROC_ROOT = '/proc'
ETC_ROOT = '/etc'

CHECKS = ('file_modes', 'secrets', 'ports', 'backup_encryption', 'admin_accounts')
SSH_PORT = 22
# The reference service's defaults (reference/inventory_service/config.py DEFAULTS).
SERVICE_DEFAULT_PORT = 8083
SERVICE_DEFAULT_ADMIN = 'admin'
# Shown instead of a username that is also its account's password.
WITHHELD = '(withheld: same as its password)'

# Values published in guides, templates and tutorials, compared case-insensitively. A secret equal to one of them
# is as good as public.
WELL_KNOWN_PASSWORDS = frozenset([
    '', 'admin', 'admin1', 'admin123', 'admin1234', 'administrator', 'password', 'password1', 'password123',
    'passw0rd', 'p@ssw0rd', 'changeme', 'change-me', 'change_me', 'changeit', 'inventory', 'inventory123',
    'inventory-enterprise', 'enterprise', 'secret', 'letmein', 'welcome', 'default', 'root', 'toor', 'test',
    'guest', 'qwerty', '123456', '12345678', '123456789', '1234567890'])
WELL_KNOWN_JWT_SECRETS = WELL_KNOWN_PASSWORDS | frozenset([
    'your-256-bit-secret', 'your-secret-key', 'your_secret_key', 'yoursecretkey', 'your-jwt-secret',
    'your_jwt_secret', 'jwt_secret', 'jwt-secret', 'jwtsecret', 'supersecret', 'super-secret', 'mysecret',
    'my-secret', 'secretkey', 'secret-key', 'secret_key', 'changethis', 'change-this-secret',
    'change-me-in-production', 'changeme-in-production'])


class AuditError(Exception):
    """An option that cannot be used: what, and what to do."""


# --- the service's layout and settings ---------------------------------------------------------------------------

def locate(review, params):
    """(paths, env) of the service: paths by _service_layout, env the parsed .env or None when it cannot be read
    (then in unavailable, and the paths are the options' or the service's defaults)."""
    home = os.path.abspath(params['service_home'])
    if not os.path.isdir(home):
        review.missing('service_home', '%s does not exist or is not a directory: nothing of the service could be '
                                       'audited here; set service_home to its home' % home)
        return None, None
    env_path = params['env_file'] or os.path.join(home, _service_layout.ENV_FILE)
    try:
        env = _envfile.read_env_file(env_path)
    except _envfile.EnvFileError as exc:
        review.missing('env_file', '%s; its secrets were not judged, and the paths and the port are the '
                                   'options\' or the service\'s defaults' % exc)
        env = None
    paths = _service_layout.service_paths(
        home, read_env=env is not None, env_file=params['env_file'] if env is not None else None,
        database_path=params['database_path'], transaction_log_path=params['transaction_log_path'],
        config_dir=params['config_dir'], models_dir=params['models_dir'], backup_dir=params['backup_dir'],
        log_dir=params['log_dir'])
    paths['env_file'] = env_path
    return paths, env


def resolve_service_user(name, home):
    """(uid, name) of the expected owner of the service's files: the option (a name or a uid), else the owner of
    the service home; (None, None) when neither is known."""
    if name:
        if name.isdigit():
            uid = int(name)
        else:
            try:
                uid = pwd.getpwnam(name).pw_uid
            except KeyError:
                raise AuditError('service_user %r is not a user on this host: name the user the service runs as '
                                 '(service_user of the service role)' % name)
    elif home and os.path.isdir(home):
        uid = os.stat(home).st_uid
    else:
        return None, None
    try:
        return uid, pwd.getpwuid(uid).pw_name
    except KeyError:
        return uid, str(uid)


# --- secrets -------------------------------------------------------------------------------------------------------

def check_secrets(review, env, env_path, min_jwt, min_password):
    """JWT_SECRET and ADMIN_PASSWORD judged by length and against well-known values; only lengths are reported."""
    secret = env.get('JWT_SECRET', '')
    subject = '%s: JWT_SECRET' % env_path
    if not secret:
        review.add('secrets', 'jwt_secret_missing', 'high', 'JWT_SECRET is not set in .env: the service refuses to '
                   'start without one, unless the process environment sets it', subject)
    elif secret.strip().lower() in WELL_KNOWN_JWT_SECRETS:
        review.add('secrets', 'jwt_secret_default', 'critical', 'JWT_SECRET is a well-known default value: anyone can '
                   'sign tokens the service accepts; set a random one of at least %d characters' % min_jwt, subject)
    elif len(secret) < min_jwt:
        review.add('secrets', 'jwt_secret_short', 'medium', 'JWT_SECRET has %d characters, fewer than %d (RFC 7518 '
                   'asks HS256 keys of at least 32 bytes)' % (len(secret), min_jwt), subject, value=len(secret),
                   threshold=min_jwt)

    password = env.get('ADMIN_PASSWORD', '')
    username = env.get('ADMIN_USERNAME') or SERVICE_DEFAULT_ADMIN
    subject = '%s: ADMIN_PASSWORD' % env_path
    if not password:
        review.add('secrets', 'admin_password_empty', 'medium', 'ADMIN_PASSWORD is empty: the reference service then '
                   'refuses every login, but a service that accepted it would be open; set one of at least %d '
                   'characters' % min_password, subject)
    elif password.strip().lower() in WELL_KNOWN_PASSWORDS or password.strip().lower() == username.lower():
        # The account is not named: when the password is the username, naming one names the other.
        review.add('secrets', 'admin_password_default', 'critical', 'default password in use for the service\'s admin '
                   'account; set a random one of at least %d characters' % min_password, subject)
    elif len(password) < min_password:
        review.add('secrets', 'admin_password_short', 'high', 'ADMIN_PASSWORD has %d characters, fewer than %d'
                   % (len(password), min_password), subject, value=len(password), threshold=min_password)
    review.figures['secrets_checked'] = 'JWT_SECRET,ADMIN_PASSWORD'


# --- listening ports -----------------------------------------------------------------------------------------------

def service_port(env):
    try:
        return int((env or {}).get('PORT') or SERVICE_DEFAULT_PORT)
    except ValueError:
        return None


def _holders(sockets, owners):
    """' (name, pid N)' of the processes holding `sockets`, '' when none could be seen."""
    found = sorted(set('%s, pid %d' % (owners[sock['inode']][1] or '?', owners[sock['inode']][0])
                       for sock in sockets if sock['inode'] in owners))
    return ' (%s)' % '; '.join(found) if found else ''


def check_ports(review, expected, port, proc_root):
    """Unexpected LISTEN sockets: medium on an address other hosts can reach, info on loopback only; and the
    service's own port held by root."""
    listeners, problems = _tcp_listeners.read_listeners(proc_root)
    for problem in problems:
        review.missing(problem['source'], problem['reason'])
    if problems and not listeners:
        return
    by_port = {}
    for listener in listeners:
        by_port.setdefault(listener['port'], []).append(listener)
    unexpected = dict((number, found) for number, found in by_port.items() if number not in expected)
    owners = _process.socket_holders([sock['inode'] for found in unexpected.values() for sock in found]
                                     + [sock['inode'] for sock in by_port.get(port, [])], proc_root)
    counts = dict(public=0, loopback=0)
    for number, found in sorted(unexpected.items()):
        addresses = sorted(set(sock['address'] for sock in found))
        public = [address for address in addresses if not _tcp_listeners.is_loopback(address)]
        if public:
            counts['public'] += 1
            summary = 'TCP port %d listens on %s%s but is not expected: close it, or add it to expected_ports' % (
                number, ', '.join(public), _holders(found, owners))
            review.add('ports', 'port_unexpected_public', 'medium', summary, 'tcp/%d' % number, value=number)
        else:
            counts['loopback'] += 1
            review.add('ports', 'port_unexpected_loopback', 'info', 'TCP port %d listens on loopback only (%s)%s; '
                       'other hosts cannot reach it' % (number, ', '.join(addresses), _holders(found, owners)),
                       'tcp/%d' % number, value=number)
    as_root = [sock for sock in by_port.get(port, []) if sock['uid'] == 0]
    if as_root:
        review.add('ports', 'service_runs_as_root', 'medium', 'the service\'s port %d is held by a root process%s: '
                   'a flaw in the service would give away the host; run it as its own user (service_user)'
                   % (port, _holders(as_root, owners)), 'tcp/%d' % port, value=port)
    review.figures.update(expected_ports=','.join(str(number) for number in sorted(expected)),
                          listening_ports=','.join(str(number) for number in sorted(by_port)),
                          unexpected_public_ports=counts['public'], unexpected_loopback_ports=counts['loopback'])


# --- backup encryption ---------------------------------------------------------------------------------------------

def _offsite_dirs(offsite_dir):
    """The off-site directory, and its subdirectories (the backup role keeps one per app host)."""
    found = [offsite_dir]
    for name in sorted(os.listdir(offsite_dir)):
        full = os.path.join(offsite_dir, name)
        if os.path.isdir(full) and not os.path.islink(full) and not name.startswith('.'):
            found.append(full)
    return found


def check_backup_encryption(review, backup_dir, offsite_dir, required, local_required):
    local = None
    if backup_dir and os.path.isdir(backup_dir):
        local = _backup_records.list_backups(backup_dir, encrypted=True)
    plain = [b for b in local or [] if not b['encrypted']]
    if local is not None:
        review.figures.update(local_backups=len(local), local_backups_encrypted=len(local) - len(plain))
    if local_required and plain:
        review.add('backup_encryption', 'local_backup_unencrypted', 'high', '%s in %s not age-encrypted, the newest '
                   '%s' % (count_is(len(plain), 'archive'), backup_dir, plain[0]['name']), backup_dir,
                   value=len(plain), threshold=0)
    if not offsite_dir:
        review.figures.update(offsite_backups=0, offsite_backups_encrypted=0)
        return
    try:
        directories = _offsite_dirs(offsite_dir)
    except OSError as exc:
        review.missing('offsite_dir', 'cannot list %s: %s' % (offsite_dir, exc.strerror or exc))
        return
    copies = [b for d in directories for b in _backup_records.list_backups(d, encrypted=True)]
    copies.sort(key=lambda b: (b['timestamp'], b['name']), reverse=True)
    plain = [b for b in copies if not b['encrypted']]
    fake = []
    for backup in copies:
        if backup['encrypted']:
            try:
                if not _encryption.is_age_file(backup['path']):
                    fake.append(backup)
            except (IOError, OSError) as exc:
                review.missing('offsite_dir', 'cannot read %s: %s' % (backup['path'], exc.strerror or exc))
    review.figures.update(offsite_backups=len(copies), offsite_backups_encrypted=len(copies) - len(plain) - len(fake))
    if plain:
        review.add('backup_encryption', 'offsite_backup_unencrypted', 'high' if required else 'info',
                   '%d of %d off-site copies in %s are plaintext (they hold .env and the database), the newest %s%s'
                   % (len(plain), len(copies), offsite_dir, os.path.relpath(plain[0]['path'], offsite_dir),
                      '' if required else '; allowed, backup_encryption_required is false'),
                   offsite_dir, value=len(plain), threshold=0)
    if fake:
        review.add('backup_encryption', 'offsite_backup_not_age', 'high', '%s named .age without the age header, so '
                   'not encrypted or damaged: %s' % (count_is(len(fake), 'off-site copy', 'off-site copies'),
                                                     ', '.join(os.path.relpath(b['path'], offsite_dir)
                                                               for b in fake[:3])),
                   offsite_dir, value=len(fake), threshold=0)
    if not copies:
        review.missing('offsite_dir', '%s holds no backup archive (inventory_backup_*.tar.zst[.age]), nor do its '
                                      'subdirectories' % offsite_dir)


# --- accounts with admin rights ------------------------------------------------------------------------------------

def read_table(path):
    """Lines of a colon-separated table (/etc/passwd, /etc/group) split into fields; comments skipped."""
    with open(path) as handle:
        return [line.rstrip('\n').split(':') for line in handle if line.strip() and not line.startswith('#')]


def service_admin_accounts(env):
    """The accounts with admin rights the service knows: the reference service has exactly one, ADMIN_USERNAME,
    and only while ADMIN_PASSWORD is set (auth.check_credentials refuses every login without it)."""
    if env is None or not env.get('ADMIN_PASSWORD'):
        return []
    username = env.get('ADMIN_USERNAME') or SERVICE_DEFAULT_ADMIN
    if username.strip().lower() == env['ADMIN_PASSWORD'].strip().lower():
        # Naming it would print the password.
        return [WITHHELD]
    return [username]


def check_accounts(review, env, max_admin, admin_groups, service_user, etc_root):
    if env is not None:
        accounts = service_admin_accounts(env)
        review.figures.update(service_admin_accounts=','.join(accounts), service_admin_account_count=len(accounts))
        if len(accounts) > max_admin:
            review.add('admin_accounts', 'service_admin_accounts_excess', 'medium', 'the service has %s with admin '
                       'rights (%s), more than %d' % (plural(len(accounts), 'account'), ', '.join(accounts), max_admin),
                       'service accounts', value=len(accounts), threshold=max_admin)
    try:
        passwd = read_table(os.path.join(etc_root, 'passwd'))
        groups = read_table(os.path.join(etc_root, 'group'))
    except (IOError, OSError) as exc:
        review.missing('os_accounts', 'cannot read %s: %s' % (getattr(exc, 'filename', etc_root), exc.strerror or exc))
        return
    uid0 = sorted(row[0] for row in passwd if len(row) > 3 and row[2] == '0' and row[0] != 'root')
    for name in uid0:
        review.add('admin_accounts', 'os_uid0_account', 'high', 'account %s has UID 0: it is root under another name'
                   % name, 'user %s' % name, value=0)
    members = []
    for row in groups:
        if len(row) < 4 or row[0] not in admin_groups:
            continue
        names = set(n for n in row[3].split(',') if n)
        names |= set(p[0] for p in passwd if len(p) > 3 and p[3] == row[2])
        names.discard('root')
        members.extend((row[0], name) for name in sorted(names))
    for group, name in members:
        if name == service_user:
            review.add('admin_accounts', 'os_admin_group_member', 'high', 'the service user %s is in the admin group '
                       '%s: a flaw in the service would give away the host' % (name, group), 'user %s' % name)
        else:
            review.add('admin_accounts', 'os_admin_group_member', 'info', 'user %s has admin rights through the group '
                       '%s' % (name, group), 'user %s' % name)
    review.figures.update(os_admin_accounts=','.join('%s:%s' % pair for pair in members),
                          os_admin_account_count=len(set(name for _group, name in members)),
                          os_uid0_accounts=','.join(uid0))


# --- the review ----------------------------------------------------------------------------------------------------

def run_audit(params, proc_root=None, etc_root=None):
    """The whole review as the common result shape; raises AuditError for options that cannot be used."""
    review = Review('security', [c for c in CHECKS if c in params['checks']])
    for name in ('min_jwt_secret_length', 'min_admin_password_length', 'max_admin_accounts'):
        if params[name] < 0:
            raise AuditError('%s must be 0 or more, got %d' % (name, params[name]))
    bad_ports = [p for p in params['expected_ports'] or [] if not 0 < p < 65536]
    if bad_ports:
        raise AuditError('expected_ports must be TCP ports (1-65535), got %s' % bad_ports)
    paths, env = locate(review, params)
    home = paths['service_home'] if paths else None
    owner_uid, owner_name = resolve_service_user(params['service_user'], home)
    review.figures.update(service_home=os.path.abspath(params['service_home']), service_user=owner_name or '')
    uses_backups = set(review.checks) & set(['file_modes', 'backup_encryption'])
    if paths and uses_backups and not os.path.isdir(paths['backup_dir']):
        review.missing('backup_dir', '%s does not exist: the backups were not checked (backup_dir or BACKUP_DIR)'
                       % paths['backup_dir'])
    if 'file_modes' in review.checks and paths:
        check_file_modes(review, paths, owner_uid, owner_name)
    if 'secrets' in review.checks and env is not None:
        check_secrets(review, env, paths['env_file'], params['min_jwt_secret_length'],
                      params['min_admin_password_length'])
    if 'ports' in review.checks:
        port = service_port(env)
        expected = set(params['expected_ports']) if params['expected_ports'] is not None else \
            set(p for p in (port, SSH_PORT) if p)
        check_ports(review, expected, port, proc_root or PROC_ROOT)
    if 'backup_encryption' in review.checks:
        check_backup_encryption(review, paths['backup_dir'] if paths else None, params['offsite_dir'],
                                params['backup_encryption_required'], params['local_backup_encryption_required'])
    if 'admin_accounts' in review.checks:
        check_accounts(review, env, params['max_admin_accounts'], params['admin_groups'], owner_name,
                       etc_root or ETC_ROOT)
    return review.result()
