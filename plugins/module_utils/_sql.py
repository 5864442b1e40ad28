# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Quoting of names and literals into SQL text, for SQLite and PostgreSQL alike.

Both engines follow the SQL standard here (an identifier in double quotes, a literal in single quotes, the
quote doubled inside), so one rule serves both. The text form matters: parity compares the trigger
definitions it writes with what sqlite_master and pg_get_triggerdef return, which a composed
psycopg2.sql object could not be compared with before it is rendered on a connection.
Values always go through the driver's parameters; a literal is quoted only where SQL takes no parameter
(trigger bodies, DDL).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def quote_identifier(name):
    """`name` as a quoted SQL identifier: table, column, index, trigger or schema."""
    return '"%s"' % name.replace('"', '""')


def quote_literal(text):
    """`text` as a quoted SQL string literal, for statements that take no parameters."""
    return "'%s'" % text.replace("'", "''")
