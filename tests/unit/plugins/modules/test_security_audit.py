# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""security_audit on a real service home of chosen modes and secrets, fixture /proc/net tables and /etc files:
each finding is raised where it should be and not where it should not, and no secret is ever printed."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import socket
import sqlite3
import tempfile

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _encryption, _security_audit, _tcp_listeners
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._review_result import SEVERITIES
from ansible_collections.inventory_enterprise.ops.plugins.modules import security_audit
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.return_docs import documented_paths, seen_paths
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

STRONG_JWT = 'Zk3v-9QwLp2x-Rt7yUb4-Nm8cVe6-Hs1dJf'
STRONG_PASSWORD = 'Wq4!zR8t-Lm2pXv'
ARCHIVE = 'inventory_backup_2026-12-01T02-00-00.tar.zst'
OLDER = 'inventory_backup_2026-11-30T02-00-00.tar.zst'
OTHER_UID = 54321
TCP_HEADER = ('  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n')
TCP6_HEADER = ('  sl  local_address                         remote_address                        st tx_queue rx_queue '
               'tr tm->when retrnsmt   uid  timeout inode\n')


def tcp_line(address, port, state='0A', uid=1000, inode=1):
    return ('   0: %s:%04X 00000000:0000 %s 00000000:00000000 00:00000000 00000000 %5d        0 %d 1 '
            '0000000000000000 100 0 0 10 0\n' % (address, port, state, uid, inode))


def tcp6_line(address, port, state='0A', uid=1000, inode=1):
    return ('   0: %s:%04X 00000000000000000000000000000000:0000 %s 00000000:00000000 00:00000000 00000000 %5d '
            '       0 %d 1 0000000000000000 100 0 0 10 0\n' % (address, port, state, uid, inode))


LOOPBACK4 = '0100007F'
ANY4 = '00000000'
LAN4 = '0A01A8C0'  # 192.168.1.10
LOOPBACK6 = '00000000000000000000000001000000'
ANY6 = '00000000000000000000000000000000'
MAPPED_LOOPBACK6 = '0000000000000000FFFF00000100007F'


@pytest.fixture
def home():
    """A service home other users can reach (under /tmp, 0755), so "every user" problems are exposed there (pytest's
    own tmp_path sits under a 0700 directory); data/ and logs/ are open too, backups/ is closed as the role makes it."""
    root = tempfile.mkdtemp(prefix='security-audit-', dir='/tmp')
    os.chmod(root, 0o755)
    path = os.path.join(root, 'home')
    for sub, mode in (('', 0o755), ('data', 0o755), ('logs', 0o755), ('backups', 0o750),
                      ('backups/.verified', 0o700)):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
        os.chmod(os.path.join(path, sub), mode)
    write_env(path, JWT_SECRET=STRONG_JWT, ADMIN_PASSWORD=STRONG_PASSWORD)
    db = os.path.join(path, 'data', 'enterprise_inventory.db')
    conn = sqlite3.connect(db)
    conn.execute('PRAGMA journal_mode=WAL')
    conn.execute('CREATE TABLE items (id INTEGER PRIMARY KEY)')
    conn.commit()
    conn.close()
    for name in (db, db + '-wal', db + '-shm'):  # the side files as a running service keeps them
        write_file(name, b'', 0o640) if name != db else os.chmod(name, 0o640)
    for name in (ARCHIVE, OLDER):
        write_file(os.path.join(path, 'backups', name), b'archive', 0o600)
        write_file(os.path.join(path, 'backups', '.verified', name + '.json'), b'{"ok": true}', 0o644)
    for name in ('application-2026-12-01.log', 'security-2026-12-01.log', 'audit-2026-12-01.log'):
        write_file(os.path.join(path, 'logs', name), b'2026-12-01T00:00:00.000Z INFO x\n', 0o640)
    yield path
    shutil.rmtree(root)


@pytest.fixture
def proc(tmp_path):
    """A /proc with the service on 8083 (loopback) and sshd on 22 (all addresses), as a quiet host has."""
    root = tmp_path / 'proc'
    write_proc(root, tcp=[tcp_line(LOOPBACK4, 8083, inode=11), tcp_line(ANY4, 22, uid=0, inode=12)],
               tcp6=[tcp6_line(ANY6, 22, uid=0, inode=13)])
    return str(root)


@pytest.fixture
def etc(tmp_path):
    root = tmp_path / 'etc'
    write_etc(root)
    return str(root)


@pytest.fixture
def roots(monkeypatch, proc, etc):
    """The module's runs read the fixture /proc and /etc."""
    monkeypatch.setattr(_security_audit, 'PROC_ROOT', proc)
    monkeypatch.setattr(_security_audit, 'ETC_ROOT', etc)
    return proc, etc


def write_file(path, data, mode):
    with open(path, 'wb') as handle:
        handle.write(data)
    os.chmod(path, mode)


def write_env(home, mode=0o600, **values):
    text = ''.join('%s="%s"\n' % item for item in sorted(dict(dict(PORT='8083'), **values).items()))
    write_file(os.path.join(home, '.env'), text.encode(), mode)


def write_proc(root, tcp=(), tcp6=()):
    os.makedirs(os.path.join(str(root), 'net'), exist_ok=True)
    with open(os.path.join(str(root), 'net', 'tcp'), 'w') as handle:
        handle.write(TCP_HEADER + ''.join(tcp))
    with open(os.path.join(str(root), 'net', 'tcp6'), 'w') as handle:
        handle.write(TCP6_HEADER + ''.join(tcp6))


STOCK_GROUPS = ['root:x:0:', 'sudo:x:27:', 'wheel:x:10:', 'inventory:x:998:']


def write_etc(root, passwd='', groups=()):
    """/etc/passwd and /etc/group of a plain host; `groups` replace the stock lines of the same name."""
    os.makedirs(str(root), exist_ok=True)
    with open(os.path.join(str(root), 'passwd'), 'w') as handle:
        handle.write('root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n'
                     'inventory:x:998:998:Inventory Enterprise service:/opt/inventory-enterprise:/usr/sbin/nologin\n'
                     + passwd)
    names = set(line.split(':', 1)[0] for line in groups)
    stock = [line for line in STOCK_GROUPS if line.split(':', 1)[0] not in names]
    with open(os.path.join(str(root), 'group'), 'w') as handle:
        handle.write(''.join(line + '\n' for line in stock + list(groups)))


def params(home, **overrides):
    values = dict(service_home=home, env_file=None, database_path=None, transaction_log_path=None, config_dir=None,
                  models_dir=None, backup_dir=None, log_dir=None, service_user=None,
                  checks=list(_security_audit.CHECKS), min_jwt_secret_length=32, min_admin_password_length=12,
                  expected_ports=None, backup_encryption_required=True, local_backup_encryption_required=False,
                  offsite_dir=None, max_admin_accounts=1, admin_groups=['sudo', 'wheel', 'root', 'admin'])
    values.update(overrides)
    return values


def audit(home, proc, etc, **overrides):
    return _security_audit.run_audit(params(home, **overrides), proc_root=proc, etc_root=etc)


def ids(result):
    return [f['id'] for f in result['findings']]


def finding(result, finding_id):
    found = [f for f in result['findings'] if f['id'] == finding_id]
    assert len(found) == 1, (finding_id, result['findings'])
    return found[0]


def test_a_well_kept_home_has_no_finding(home, proc, etc):
    result = audit(home, proc, etc)
    assert result['findings'] == [] and result['unavailable'] == []
    assert result['review'] == 'security' and result['changed'] is False
    figures = result['figures']
    assert figures['findings_total'] == 0 and figures['service_user'] == 'root'
    # .env, the database and its -wal and -shm, backups dir, 2 archives, .verified and 2 records, logs dir, 3 logs
    assert figures['files_checked'] == 14
    assert (figures['expected_ports'], figures['listening_ports']) == ('22,8083', '22,8083')
    assert (figures['service_admin_accounts'], figures['service_admin_account_count']) == ('admin', 1)
    assert (figures['local_backups'], figures['local_backups_encrypted']) == (2, 0)
    assert result['series']['findings_by_severity']['points'] == [[s, 0] for s in SEVERITIES]


# --- file modes and owners: (what to change, finding id, its severity); None = must raise nothing -------------------

DB = 'data/enterprise_inventory.db'
MODE_CASES = [
    ('.env', 0o644, 'env_file_world_readable', 'critical'),
    ('.env', 0o602, 'env_file_world_writable', 'critical'),
    ('.env', 0o640, 'env_file_group_readable', 'high'),
    ('.env', 0o620, 'env_file_group_writable', 'high'),
    ('.env', 0o400, None, None),
    ('.env', 0o700, None, None),
    (DB, 0o644, 'database_world_readable', 'high'),
    (DB, 0o642, 'database_world_writable', 'critical'),
    (DB, 0o660, 'database_group_writable', 'high'),
    (DB, 0o640, None, None),
    (DB + '-wal', 0o644, 'database_world_readable', 'high'),
    ('backups', 0o755, 'backup_dir_world_readable', 'medium'),
    ('backups', 0o751, 'backup_dir_world_readable', 'medium'),
    ('backups', 0o752, 'backup_dir_world_writable', 'high'),
    ('backups', 0o770, 'backup_dir_group_writable', 'medium'),
    ('backups', 0o750, None, None),
    # behind the closed backups/ (0750), what every user could do is latent
    ('backups/' + ARCHIVE, 0o644, 'backup_archive_world_readable', 'low'),
    ('backups/' + ARCHIVE, 0o640, 'backup_archive_group_readable', 'high'),
    ('backups/' + ARCHIVE, 0o620, 'backup_archive_group_writable', 'medium'),
    ('backups/' + ARCHIVE, 0o400, None, None),
    ('backups/.verified/' + ARCHIVE + '.json', 0o646, 'backup_marker_world_writable', 'low'),
    ('backups/.verified/' + ARCHIVE + '.json', 0o664, 'backup_marker_group_writable', 'low'),
    ('backups/.verified/' + ARCHIVE + '.json', 0o644, None, None),
    ('logs', 0o777, 'log_dir_world_writable', 'high'),
    ('logs', 0o775, 'log_dir_group_writable', 'low'),
    ('logs', 0o750, None, None),
    ('logs/application-2026-12-01.log', 0o646, 'log_file_world_writable', 'medium'),
    ('logs/application-2026-12-01.log', 0o644, None, None),
    ('logs/security-2026-12-01.log', 0o644, 'security_log_world_readable', 'medium'),
    ('logs/audit-2026-12-01.log', 0o644, 'security_log_world_readable', 'medium'),
    ('logs/security-2026-12-01.log', 0o660, None, None),
]


@pytest.mark.parametrize('relpath, mode, finding_id, severity', MODE_CASES)
def test_file_modes(home, proc, etc, relpath, mode, finding_id, severity):
    os.chmod(os.path.join(home, relpath), mode)
    result = audit(home, proc, etc, checks=['file_modes'])
    if finding_id is None:
        assert result['findings'] == []
        return
    assert ids(result) == [finding_id]
    found = finding(result, finding_id)
    assert (found['severity'], found['value'], found['subject']) == (severity, 1, os.path.join(home, relpath))
    assert '%04o' % mode in found['summary']


def test_a_world_problem_behind_a_closed_directory_is_low(home, proc, etc):
    os.chmod(os.path.join(home, '.env'), 0o644)
    assert finding(audit(home, proc, etc, checks=['file_modes']), 'env_file_world_readable')['severity'] == 'critical'
    os.chmod(home, 0o750)
    found = finding(audit(home, proc, etc, checks=['file_modes']), 'env_file_world_readable')
    assert found['severity'] == 'low'
    assert found['summary'].endswith('for now %s (mode 0750) keeps other users out' % home)


def test_an_archive_in_an_open_backups_directory_is_exposed(home, proc, etc):
    os.chmod(os.path.join(home, 'backups'), 0o755)
    os.chmod(os.path.join(home, 'backups', ARCHIVE), 0o644)
    result = audit(home, proc, etc, checks=['file_modes'])
    assert [(f['id'], f['severity']) for f in result['findings']] == [
        ('backup_archive_world_readable', 'critical'), ('backup_dir_world_readable', 'medium')]
    assert 'keeps other users out' not in result['findings'][0]['summary']


def test_many_files_make_one_finding(home, proc, etc):
    for day in range(1, 6):
        write_file(os.path.join(home, 'logs', 'security-2026-11-%02d.log' % day), b'x\n', 0o644)
    found = finding(audit(home, proc, etc, checks=['file_modes']), 'security_log_world_readable')
    assert (found['value'], found['subject']) == (5, os.path.join(home, 'logs'))
    assert found['summary'].startswith('5 security or audit logs in %s are readable by every user: '
                                       'security-2026-11-01.log (mode 0644)' % os.path.join(home, 'logs'))
    assert found['summary'].endswith(', ...')


def test_an_encrypted_archive_readable_by_all_is_only_low(home, proc, etc):
    write_file(os.path.join(home, 'backups', ARCHIVE + '.age'), _encryption.MAGIC + b'x', 0o644)
    result = audit(home, proc, etc, checks=['file_modes'])
    assert [(f['id'], f['severity']) for f in result['findings']] == [('backup_archive_world_readable', 'low')]


OWNER_CASES = [
    # (file, its owner, service_user option, finding id or None)
    ('.env', OTHER_UID, None, 'env_file_owner'),
    ('.env', OTHER_UID, str(OTHER_UID), None),
    ('.env', 0, str(OTHER_UID), None),  # root may own anything
    (DB, OTHER_UID, None, 'database_owner'),
    ('backups', OTHER_UID, None, 'backup_dir_owner'),
    ('backups/' + ARCHIVE, OTHER_UID, None, 'backup_archive_owner'),
    ('backups/' + ARCHIVE, OTHER_UID, 'daemon', 'backup_archive_owner'),
    ('backups/.verified/' + ARCHIVE + '.json', OTHER_UID, None, 'backup_marker_owner'),
    ('logs/security-2026-12-01.log', OTHER_UID, None, None),  # logs: modes only
]


@pytest.mark.parametrize('relpath, uid, service_user, finding_id', OWNER_CASES)
def test_owners(home, proc, etc, relpath, uid, service_user, finding_id):
    os.chown(os.path.join(home, relpath), uid, -1)
    result = audit(home, proc, etc, checks=['file_modes'], service_user=service_user)
    assert ids(result) == ([finding_id] if finding_id else [])
    if finding_id:
        assert ', owner %d)' % OTHER_UID in result['findings'][0]['summary']


def test_the_service_user_defaults_to_the_owner_of_the_home(home, proc, etc):
    os.chown(home, OTHER_UID, -1)
    result = audit(home, proc, etc, checks=['file_modes'])
    assert result['figures']['service_user'] == str(OTHER_UID) and result['findings'] == []
    os.chown(os.path.join(home, '.env'), 1, -1)  # daemon
    found = finding(audit(home, proc, etc, checks=['file_modes']), 'env_file_owner')
    assert 'owned by another user than the service user %d or root' % OTHER_UID in found['summary']
    assert found['severity'] == 'high'


def test_an_unknown_service_user_fails_with_what_to_do(home, proc, etc):
    with pytest.raises(_security_audit.AuditError, match="service_user 'nobody-here' is not a user on this host"):
        audit(home, proc, etc, service_user='nobody-here')


# --- secrets -----------------------------------------------------------------------------------------------------

SECRET_CASES = [
    # (.env values, finding id or None, severity, value, threshold)
    (dict(JWT_SECRET=''), 'jwt_secret_missing', 'high', None, None),
    (dict(JWT_SECRET='your-256-bit-secret'), 'jwt_secret_default', 'critical', None, None),
    (dict(JWT_SECRET='ChangeMe'), 'jwt_secret_default', 'critical', None, None),
    (dict(JWT_SECRET='k' * 31), 'jwt_secret_short', 'medium', 31, 32),
    (dict(JWT_SECRET='k' * 32), None, None, None, None),
    (dict(ADMIN_PASSWORD=''), 'admin_password_empty', 'medium', None, None),
    (dict(ADMIN_PASSWORD='admin123'), 'admin_password_default', 'critical', None, None),
    (dict(ADMIN_PASSWORD='Inventory'), 'admin_password_default', 'critical', None, None),
    (dict(ADMIN_USERNAME='opsadmin', ADMIN_PASSWORD='OpsAdmin'), 'admin_password_default', 'critical', None, None),
    (dict(ADMIN_PASSWORD='x7#Kp2mQ9z'), 'admin_password_short', 'high', 10, 12),
    (dict(ADMIN_PASSWORD='x7#Kp2mQ9zLw'), None, None, None, None),
]


@pytest.mark.parametrize('values, finding_id, severity, value, threshold', SECRET_CASES)
def test_secrets(home, proc, etc, values, finding_id, severity, value, threshold):
    write_env(home, **dict(dict(JWT_SECRET=STRONG_JWT, ADMIN_PASSWORD=STRONG_PASSWORD), **values))
    result = audit(home, proc, etc, checks=['secrets'])
    if finding_id is None:
        assert result['findings'] == []
        return
    assert ids(result) == [finding_id]
    found = result['findings'][0]
    assert (found['severity'], found['value'], found['threshold']) == (severity, value, threshold)


def test_secret_lengths_follow_the_options(home, proc, etc):
    write_env(home, JWT_SECRET='k' * 40, ADMIN_PASSWORD='x7#Kp2mQ9zLw')
    result = audit(home, proc, etc, checks=['secrets'], min_jwt_secret_length=48, min_admin_password_length=16)
    assert [(f['id'], f['value'], f['threshold']) for f in result['findings']] == [
        ('admin_password_short', 12, 16), ('jwt_secret_short', 40, 48)]


WEAK = dict(JWT_SECRET='short-jwt-k3y-a9', ADMIN_USERNAME='opsadmin', ADMIN_PASSWORD='OpsAdmin')
SHORT = dict(JWT_SECRET='your-256-bit-secret', ADMIN_PASSWORD='Tz5#pQ8w')


@pytest.mark.parametrize('values', [WEAK, SHORT, dict(JWT_SECRET=STRONG_JWT, ADMIN_PASSWORD=STRONG_PASSWORD)])
def test_no_secret_appears_in_the_result(home, roots, capsys, values):
    write_env(home, 0o644, **values)
    failed, result = run_module(security_audit, dict(service_home=home), capsys, keep_raw=True)
    assert not failed and result['findings']
    raw = result['_raw']
    for key in ('JWT_SECRET', 'ADMIN_PASSWORD'):
        secret = values[key]
        assert secret not in raw and secret.lower() not in raw.lower() and json.dumps(secret)[1:-1] not in raw
    if values is WEAK:
        # The username is the password: it is not named either.
        assert result['figures']['service_admin_accounts'] == _security_audit.WITHHELD


def test_an_unreadable_env_is_unavailable_and_the_rest_still_runs(home, proc, etc):
    with open(os.path.join(home, '.env'), 'a') as handle:
        handle.write('JWT_SECRET="unclosed\n')
    result = audit(home, proc, etc)
    assert [u['source'] for u in result['unavailable']] == ['env_file']
    assert ':4: the value of JWT_SECRET opens a quote' in result['unavailable'][0]['reason']
    assert 'unclosed' not in json.dumps(result)
    assert 'secrets_checked' not in result['figures'] and 'service_admin_accounts' not in result['figures']
    assert result['figures']['expected_ports'] == '22,8083' and result['figures']['files_checked'] == 14


# --- listening ports ---------------------------------------------------------------------------------------------

PORT_CASES = [
    # (tcp lines, tcp6 lines, expected_ports, [(finding id, severity, port)])
    ([tcp_line(ANY4, 5432)], [], None, [('port_unexpected_public', 'medium', 5432)]),
    ([tcp_line(LAN4, 5432)], [], None, [('port_unexpected_public', 'medium', 5432)]),
    ([], [tcp6_line(ANY6, 9090)], None, [('port_unexpected_public', 'medium', 9090)]),
    ([tcp_line(LOOPBACK4, 6379)], [tcp6_line(LOOPBACK6, 6379)], None, [('port_unexpected_loopback', 'info', 6379)]),
    ([], [tcp6_line(MAPPED_LOOPBACK6, 6379)], None, [('port_unexpected_loopback', 'info', 6379)]),
    # one port on loopback and on all addresses is public
    ([tcp_line(LOOPBACK4, 6379)], [tcp6_line(ANY6, 6379)], None, [('port_unexpected_public', 'medium', 6379)]),
    ([tcp_line(ANY4, 5432)], [], [22, 8083, 5432], []),
    ([tcp_line(ANY4, 5432, state='01')], [], None, []),  # an established connection is no listener
    ([tcp_line(ANY4, 5432), tcp_line(LOOPBACK4, 25672), tcp_line(LOOPBACK4, 4369)], [], None,
     [('port_unexpected_public', 'medium', 5432), ('port_unexpected_loopback', 'info', 4369),
      ('port_unexpected_loopback', 'info', 25672)]),
]


@pytest.mark.parametrize('tcp, tcp6, expected, found', PORT_CASES)
def test_ports(home, proc, etc, tcp, tcp6, expected, found):
    write_proc(proc, tcp=[tcp_line(LOOPBACK4, 8083, inode=11), tcp_line(ANY4, 22, uid=0, inode=12)] + tcp, tcp6=tcp6)
    result = audit(home, proc, etc, checks=['ports'], expected_ports=expected)
    assert [(f['id'], f['severity'], f['value']) for f in result['findings']] == found
    assert result['figures']['unexpected_public_ports'] == sum(1 for f in found if f[0] == 'port_unexpected_public')


def test_the_expected_port_is_the_service_port_of_the_env(home, proc, etc):
    write_env(home, PORT='9443', JWT_SECRET=STRONG_JWT, ADMIN_PASSWORD=STRONG_PASSWORD)
    write_proc(proc, tcp=[tcp_line(LOOPBACK4, 8083), tcp_line(ANY4, 9443)])
    result = audit(home, proc, etc, checks=['ports'])
    assert result['figures']['expected_ports'] == '22,9443'
    assert [(f['id'], f['value']) for f in result['findings']] == [('port_unexpected_loopback', 8083)]


def test_the_process_holding_a_port_is_named(home, proc, etc):
    write_proc(proc, tcp=[tcp_line(LOOPBACK4, 8083, inode=11), tcp_line(ANY4, 5432, uid=0, inode=4242)])
    os.makedirs(os.path.join(proc, '321', 'fd'))
    os.symlink('socket:[4242]', os.path.join(proc, '321', 'fd', '7'))
    os.symlink('/dev/null', os.path.join(proc, '321', 'fd', '0'))
    with open(os.path.join(proc, '321', 'comm'), 'w') as handle:
        handle.write('postgres\n')
    found = finding(audit(home, proc, etc, checks=['ports']), 'port_unexpected_public')
    assert found['summary'] == ('TCP port 5432 listens on 0.0.0.0 (postgres, pid 321) but is not expected: close it, '
                                'or add it to expected_ports')


@pytest.mark.parametrize('uid, raised', [(0, True), (998, False)])
def test_a_service_listening_as_root(home, proc, etc, uid, raised):
    write_proc(proc, tcp=[tcp_line(LOOPBACK4, 8083, uid=uid), tcp_line(ANY4, 22, uid=0)])
    result = audit(home, proc, etc, checks=['ports'])
    assert ids(result) == (['service_runs_as_root'] if raised else [])


def test_parse_table_reads_addresses_and_refuses_a_bad_line():
    text = TCP6_HEADER + tcp6_line(LOOPBACK6, 8083, uid=7, inode=99) + tcp6_line(MAPPED_LOOPBACK6, 80)
    assert _tcp_listeners.parse_table(text, socket.AF_INET6) == [
        dict(address='::1', port=8083, uid=7, inode=99), dict(address='::ffff:127.0.0.1', port=80, uid=1000, inode=1)]
    assert _tcp_listeners.parse_table(tcp_line(LAN4, 443), socket.AF_INET)[0]['address'] == '192.168.1.10'
    with pytest.raises(_tcp_listeners.ListenerError, match='/proc/net/tcp line 2 does not parse'):
        _tcp_listeners.parse_table(TCP_HEADER + '   0: zz:1F90 00000000:0000 0A x\n', socket.AF_INET)


def test_an_unreadable_table_is_unavailable(home, proc, etc):
    os.remove(os.path.join(proc, 'net', 'tcp'))
    os.remove(os.path.join(proc, 'net', 'tcp6'))  # a host without IPv6: not a problem by itself
    result = audit(home, proc, etc, checks=['ports'])
    assert [u['source'] for u in result['unavailable']] == [os.path.join(proc, 'net', 'tcp')]
    assert 'expected_ports' not in result['figures']


# --- backup encryption -------------------------------------------------------------------------------------------

def offsite(tmp_path, copies):
    root = tmp_path / 'offsite'
    (root / 'app1').mkdir(parents=True)
    for name, data in copies:
        write_file(str(root / 'app1' / name), data, 0o600)
    return str(root)


AGE = _encryption.MAGIC + b'-> X25519 ...'
BACKUP_CASES = [
    # (off-site copies, required, [(finding id, severity, value)], (copies, encrypted))
    ([(ARCHIVE + '.age', AGE), (OLDER + '.age', AGE)], True, [], (2, 2)),
    ([(ARCHIVE + '.age', AGE), (OLDER, b'plain')], True, [('offsite_backup_unencrypted', 'high', 1)], (2, 1)),
    ([(ARCHIVE, b'plain')], False, [('offsite_backup_unencrypted', 'info', 1)], (1, 0)),
    ([(ARCHIVE + '.age', b'plain')], True, [('offsite_backup_not_age', 'high', 1)], (1, 0)),
]


@pytest.mark.parametrize('copies, required, found, counts', BACKUP_CASES)
def test_offsite_encryption(home, proc, etc, tmp_path, copies, required, found, counts):
    directory = offsite(tmp_path, copies)
    result = audit(home, proc, etc, checks=['backup_encryption'], offsite_dir=directory,
                   backup_encryption_required=required)
    assert [(f['id'], f['severity'], f['value']) for f in result['findings']] == found
    assert (result['figures']['offsite_backups'], result['figures']['offsite_backups_encrypted']) == counts
    assert result['unavailable'] == []


def test_an_offsite_dir_without_archives_or_missing_is_unavailable(home, proc, etc, tmp_path):
    result = audit(home, proc, etc, checks=['backup_encryption'], offsite_dir=offsite(tmp_path, []))
    assert [u['source'] for u in result['unavailable']] == ['offsite_dir'] and result['findings'] == []
    result = audit(home, proc, etc, checks=['backup_encryption'], offsite_dir=str(tmp_path / 'nowhere'))
    assert 'cannot list %s' % (tmp_path / 'nowhere') in result['unavailable'][0]['reason']


@pytest.mark.parametrize('required, found', [(False, []), (True, [('local_backup_unencrypted', 'high', 2)])])
def test_local_archives_are_plaintext_by_design_unless_required(home, proc, etc, required, found):
    result = audit(home, proc, etc, checks=['backup_encryption'], local_backup_encryption_required=required)
    assert [(f['id'], f['severity'], f['value']) for f in result['findings']] == found
    assert (result['figures']['local_backups'], result['figures']['local_backups_encrypted']) == (2, 0)


# --- accounts ----------------------------------------------------------------------------------------------------

ACCOUNT_CASES = [
    # (passwd lines, group lines, [(finding id, severity, subject)]); the service user is daemon
    ('toor:x:0:0::/root:/bin/sh\n', [],
     [('os_uid0_account', 'high', 'user toor'), ('os_admin_group_member', 'info', 'user toor')]),
    ('alice:x:1000:1000::/home/alice:/bin/bash\n', ['sudo:x:27:alice'], [('os_admin_group_member', 'info', 'user alice')]),
    ('bob:x:1001:10::/home/bob:/bin/bash\n', [], [('os_admin_group_member', 'info', 'user bob')]),  # primary: wheel
    ('', ['sudo:x:27:daemon'], [('os_admin_group_member', 'high', 'user daemon')]),
    ('', ['sudo:x:27:root', 'root:x:0:root'], []),
    ('alice:x:1000:1000::/home/alice:/bin/bash\n', ['docker:x:999:alice', 'wheel:x:10:'], []),
]


@pytest.mark.parametrize('passwd, groups, found', ACCOUNT_CASES)
def test_os_accounts(home, proc, tmp_path, passwd, groups, found):
    etc = tmp_path / 'etc-case'
    write_etc(etc, passwd, groups)
    result = audit(home, proc, str(etc), checks=['admin_accounts'], service_user='daemon')
    assert [(f['id'], f['severity'], f['subject']) for f in result['findings']] == found
    assert result['figures']['os_admin_account_count'] == sum(1 for f in found if f[0] == 'os_admin_group_member')


def test_unreadable_account_tables_are_unavailable(home, proc, tmp_path):
    result = audit(home, proc, str(tmp_path / 'no-etc'), checks=['admin_accounts'])
    assert [u['source'] for u in result['unavailable']] == ['os_accounts']
    assert 'no-etc/passwd' in result['unavailable'][0]['reason'] and 'os_uid0_accounts' not in result['figures']


def test_admin_accounts_of_the_service(home, proc, etc):
    result = audit(home, proc, etc, checks=['admin_accounts'], max_admin_accounts=0)
    found = finding(result, 'service_admin_accounts_excess')
    assert (found['value'], found['threshold'], found['severity']) == (1, 0, 'medium')
    assert audit(home, proc, etc, checks=['admin_accounts'])['findings'] == []
    # Without a password the reference service refuses every login: no account has admin rights.
    write_env(home, JWT_SECRET=STRONG_JWT, ADMIN_PASSWORD='')
    result = audit(home, proc, etc, checks=['admin_accounts'], max_admin_accounts=0)
    assert result['findings'] == [] and result['figures']['service_admin_account_count'] == 0


# --- the review as a whole ---------------------------------------------------------------------------------------

def test_findings_are_sorted_most_severe_first_and_counted(home, proc, etc):
    os.chmod(os.path.join(home, '.env'), 0o644)
    os.chmod(os.path.join(home, 'logs'), 0o775)
    write_proc(proc, tcp=[tcp_line(LOOPBACK4, 8083), tcp_line(LOOPBACK4, 6379), tcp_line(ANY4, 5432)])
    result = audit(home, proc, etc)
    ranks = [SEVERITIES.index(f['severity']) for f in result['findings']]
    assert ranks == sorted(ranks) and len(set(ranks)) == 4
    series = result['series']
    assert series['findings_by_severity']['points'] == [['critical', 1], ['high', 0], ['medium', 1], ['low', 1],
                                                        ['info', 1]]
    assert series['findings_by_area'] == dict(kind='category', unit='count', title='Security findings by area checked',
                                              points=[['file_modes', 2], ['secrets', 0], ['ports', 2],
                                                      ['backup_encryption', 0], ['admin_accounts', 0]])
    assert result['figures']['findings_critical'] == 1 and result['figures']['findings_total'] == 4


def test_a_missing_home_is_unavailable_and_the_host_is_still_audited(tmp_path, proc, etc):
    result = audit(str(tmp_path / 'nowhere'), proc, etc)
    assert [u['source'] for u in result['unavailable']] == ['service_home']
    assert result['figures']['expected_ports'] == '22,8083' and 'os_uid0_accounts' in result['figures']
    assert 'files_checked' not in result['figures']


def test_missing_directories_are_unavailable(home, proc, etc):
    shutil.rmtree(os.path.join(home, 'backups'))
    shutil.rmtree(os.path.join(home, 'logs'))
    os.remove(os.path.join(home, DB))
    result = audit(home, proc, etc)
    assert sorted(u['source'] for u in result['unavailable']) == ['backup_dir', 'database', 'log_dir']
    assert 'local_backups' not in result['figures']


def test_the_module_is_read_only_and_the_same_in_check_mode(home, roots, capsys):
    os.chmod(os.path.join(home, '.env'), 0o640)
    before = sorted((p, os.stat(os.path.join(d, p)).st_mtime_ns) for d, _s, files in os.walk(home) for p in files)
    failed, result = run_module(security_audit, dict(service_home=home), capsys)
    failed_check, checked = run_module(security_audit, dict(service_home=home), capsys, check_mode=True)
    assert not failed and not failed_check and result['changed'] is False and checked['changed'] is False
    for key in ('findings', 'figures', 'series', 'unavailable', 'review'):
        assert result[key] == checked[key]
    assert ids(result) == ['env_file_group_readable']
    assert sorted((p, os.stat(os.path.join(d, p)).st_mtime_ns) for d, _s, files in os.walk(home) for p in files) == before


@pytest.mark.parametrize('args, message', [
    (dict(min_jwt_secret_length=-1), 'min_jwt_secret_length must be 0 or more, got -1'),
    (dict(expected_ports=[22, 70000]), 'expected_ports must be TCP ports (1-65535), got [70000]'),
])
def test_bad_options_fail_with_what_to_do(home, roots, capsys, args, message):
    failed, result = run_module(security_audit, dict(args, service_home=home), capsys)
    assert failed and result['msg'] == message


def test_every_documented_key_is_returned(home, roots, capsys, tmp_path):
    os.chmod(os.path.join(home, '.env'), 0o640)
    seen = set()
    for args in (dict(service_home=home, offsite_dir=offsite(tmp_path, [(ARCHIVE + '.age', AGE)])),
                 dict(service_home=str(tmp_path / 'nowhere'))):
        failed, result = run_module(security_audit, args, capsys)
        assert not failed
        seen |= seen_paths(security_audit, result)
    assert documented_paths(security_audit) - seen == set()
