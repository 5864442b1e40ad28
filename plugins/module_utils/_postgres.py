# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Connecting to PostgreSQL with psycopg2 from the shared options (doc fragment inventory_enterprise.ops.postgres).

The options follow community.postgresql's habits (login_host, login_port, login_user, login_password,
login_db, ssl_mode, ca_cert) plus a libpq C(dsn); explicit login_* options override what the DSN says.
Every error message is scrubbed of the password and the DSN.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import traceback

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.text.converters import to_native

PSYCOPG2_IMP_ERR = None
try:
    import psycopg2
    import psycopg2.extensions
    HAS_PSYCOPG2 = True
except ImportError:
    PSYCOPG2_IMP_ERR = traceback.format_exc()
    HAS_PSYCOPG2 = False

APPLICATION_NAME = 'ansible-inventory_enterprise.ops'
DEFAULT_CONNECT_TIMEOUT = 10
SSL_MODES = ['allow', 'disable', 'prefer', 'require', 'verify-ca', 'verify-full']


def postgres_argument_spec():
    """Connection options shared by the modules that talk to PostgreSQL."""
    return dict(
        dsn=dict(type='str', no_log=True, aliases=['login_dsn']),
        login_host=dict(type='str', aliases=['host']),
        login_port=dict(type='int', aliases=['port']),
        login_user=dict(type='str', aliases=['login']),
        login_password=dict(type='str', no_log=True),
        login_db=dict(type='str', aliases=['db']),
        login_unix_socket=dict(type='str', aliases=['unix_socket']),
        ssl_mode=dict(type='str', choices=SSL_MODES),
        ca_cert=dict(type='str', aliases=['ssl_rootcert']),
        connect_timeout=dict(type='int', default=DEFAULT_CONNECT_TIMEOUT),
    )


def fail_if_missing_psycopg2(module, reason=None):
    if not HAS_PSYCOPG2:
        module.fail_json(msg=missing_required_lib('psycopg2', reason=reason), exception=PSYCOPG2_IMP_ERR)


class PostgresError(Exception):
    """A PostgreSQL operation failed; the message names the server and never holds the password."""


def _secrets(params):
    found = []
    for key in ('login_password', 'dsn'):
        if params.get(key):
            found.append(params[key])
    dsn = params.get('dsn') or ''
    # password=... in a key/value DSN and user:password@ in a URI.
    found.extend(m.group(1) for m in re.finditer(r"password\s*=\s*'?([^\s']+)", dsn))
    found.extend(m.group(1) for m in re.finditer(r'://[^:/@]*:([^@]+)@', dsn))
    return sorted(set(s for s in found if s), key=len, reverse=True)


def redact(text, params):
    text = to_native(text)
    for secret in _secrets(params):
        text = text.replace(secret, '********')
    return ' '.join(text.split())


def connect_kwargs(params):
    """Keyword arguments for psycopg2.connect(): DSN first, explicit options override it."""
    kwargs = {}
    mapping = (('login_host', 'host'), ('login_port', 'port'), ('login_user', 'user'),
               ('login_password', 'password'), ('login_db', 'dbname'), ('ssl_mode', 'sslmode'),
               ('ca_cert', 'sslrootcert'))
    for option, keyword in mapping:
        if params.get(option) not in (None, ''):
            kwargs[keyword] = params[option]
    if params.get('login_unix_socket') and not params.get('login_host'):
        kwargs['host'] = params['login_unix_socket']
    kwargs['connect_timeout'] = params.get('connect_timeout') or DEFAULT_CONNECT_TIMEOUT
    kwargs['application_name'] = APPLICATION_NAME
    return kwargs


def describe(params):
    """user@host:port/db without secrets, for messages."""
    info = {}
    if HAS_PSYCOPG2 and params.get('dsn'):
        try:
            info = psycopg2.extensions.parse_dsn(params['dsn'])
        except Exception:  # pylint: disable=broad-except
            info = {}
    kwargs = connect_kwargs(params)
    info.update(dict((k, v) for k, v in kwargs.items() if k in ('host', 'port', 'user', 'dbname')))
    return '%s@%s:%s/%s' % (info.get('user', '<default user>'), info.get('host', '<local socket>'),
                            info.get('port', 5432), info.get('dbname', '<default db>'))


class PostgresConnection(object):
    """A psycopg2 connection opened from module params; `autocommit` for VACUUM/REINDEX CONCURRENTLY."""

    def __init__(self, params, autocommit=False):
        self.params = params
        self.where = describe(params)
        self.conn = None
        self.autocommit = autocommit

    def error(self, action, exc, hint=None):
        text = redact(to_native(exc).strip(), self.params)
        if hint is None:
            hint = 'check the connection options (login_host, login_port, login_user, login_db or dsn) ' \
                   'and that the server is up' if self.conn is None else 'check the server log'
        return PostgresError('PostgreSQL %s on %s failed: %s; %s' % (action, self.where, text, hint))

    def open(self):
        if not HAS_PSYCOPG2:
            raise PostgresError(missing_required_lib('psycopg2'))
        try:
            self.conn = psycopg2.connect(self.params.get('dsn') or '', **connect_kwargs(self.params))
        except Exception as exc:  # pylint: disable=broad-except
            raise self.error('connect', exc)
        self.conn.autocommit = self.autocommit
        return self

    @property
    def server_version(self):
        return self.conn.server_version

    def cursor(self):
        return self.conn.cursor()

    def query(self, sql, args=None, action=None):
        """Rows as dicts by column name."""
        rows, names = self.query_rows(sql, args, action, names=True)
        return [dict(zip(names, row)) for row in rows]

    def query_rows(self, sql, args=None, action=None, names=False):
        """Rows as tuples (for results whose column names repeat), with the names when asked."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, args)
                if cur.description is None:
                    return ([], []) if names else []
                rows = cur.fetchall()
                return (rows, [col[0] for col in cur.description]) if names else rows
        except psycopg2.Error as exc:
            if not self.autocommit:
                self.conn.rollback()
            raise self.error(action or 'query', exc)

    def execute(self, sql, args=None, action=None):
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, args)
        except psycopg2.Error as exc:
            if not self.autocommit:
                self.conn.rollback()
            raise self.error(action or sql.split()[0], exc)

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # pylint: disable=broad-except
                pass
            self.conn = None

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
