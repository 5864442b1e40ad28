# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # Options for connecting to PostgreSQL (see module_utils/_postgres.py); names follow community.postgresql.
    DOCUMENTATION = r'''
options:
  dsn:
    description:
      - libpq connection string, key/value (V(host=db1 port=5432 user=inventory dbname=inventory)) or URI
        (V(postgresql://inventory:secret@db1:5432/inventory)), for example the service's C(POSTGRES_DSN).
      - The O(login_host), O(login_port), O(login_user), O(login_password), O(login_db), O(ssl_mode) and
        O(ca_cert) options override what the DSN says.
      - May contain a password, so it is never logged and is redacted from messages.
    type: str
    aliases: [login_dsn]
  login_host:
    description:
      - Host running PostgreSQL. When neither it, O(login_unix_socket) nor O(dsn) name one, libpq's default
        (the local socket, or E(PGHOST)) is used.
    type: str
    aliases: [host]
  login_port:
    description: Port PostgreSQL listens on; libpq's default (5432) when not set.
    type: int
    aliases: [port]
  login_user:
    description: Role to connect as; libpq's default (the OS user, or E(PGUSER)) when not set.
    type: str
    aliases: [login]
  login_password:
    description:
      - Password of O(login_user). Never logged. libpq also reads E(PGPASSWORD) and C(~/.pgpass).
    type: str
  login_db:
    description: Database to connect to; libpq's default (named like the user) when not set.
    type: str
    aliases: [db]
  login_unix_socket:
    description: Directory of the local PostgreSQL socket, used when O(login_host) is not set.
    type: str
    aliases: [unix_socket]
  ssl_mode:
    description:
      - libpq C(sslmode). libpq's default (V(prefer)) when not set.
    type: str
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
  ca_cert:
    description:
      - CA certificate(s) to verify the server with (C(sslrootcert)), for O(ssl_mode=verify-ca) or
        O(ssl_mode=verify-full).
    type: str
    aliases: [ssl_rootcert]
  connect_timeout:
    description: Seconds to wait for the connection to PostgreSQL.
    type: int
    default: 10
requirements:
  - psycopg2 (or psycopg2-binary) on the managed host, for PostgreSQL.
notes:
  - The connection carries C(application_name=ansible-inventory_enterprise.ops), so it is easy to find in
    C(pg_stat_activity).
'''
