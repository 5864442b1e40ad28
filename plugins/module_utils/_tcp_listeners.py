# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Listening TCP sockets read from procfs (/proc/net/tcp and tcp6); _process.socket_holders names their processes.

No psutil on the managed hosts: the kernel's own tables are enough. Every function takes the proc root so the
tests can point it at fixture text. The tables show the network namespace of the reading process, which on an
app server is the host's.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import binascii
import ipaddress
import os
import socket
import struct

LISTEN = '0A'
TABLES = (('tcp', socket.AF_INET), ('tcp6', socket.AF_INET6))


class ListenerError(Exception):
    """A table that cannot be read or parsed: which, and why."""


def _address(hex_address, family):
    """The kernel prints each 32-bit word of the address in host byte order (little-endian here)."""
    raw = binascii.unhexlify(hex_address)
    words = struct.unpack('<%dI' % (len(raw) // 4), raw)
    return socket.inet_ntop(family, struct.pack('>%dI' % len(words), *words))


def parse_table(text, family, source='/proc/net/tcp'):
    """LISTEN sockets of one table: dicts address, port, uid, inode. A line that does not parse raises
    ListenerError naming the table and the line number."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] == 'sl':
            continue
        try:
            local, state, uid, inode = fields[1], fields[3], int(fields[7]), int(fields[9])
            if state.upper() != LISTEN:
                continue
            hex_address, hex_port = local.split(':')
            found.append(dict(address=_address(hex_address, family), port=int(hex_port, 16), uid=uid,
                              inode=inode))
        except (IndexError, ValueError, TypeError, struct.error, binascii.Error) as exc:
            raise ListenerError('%s line %d does not parse as a socket entry (%s)' % (source, number, exc))
    return found


def read_listeners(proc_root='/proc'):
    """(listeners, problems): LISTEN sockets of both tables, and dict(source, reason) for each table that could
    not be read. A host without IPv6 has no tcp6 table, which is not a problem."""
    listeners, problems = [], []
    for name, family in TABLES:
        path = os.path.join(proc_root, 'net', name)
        try:
            with open(path) as handle:
                text = handle.read()
        except (IOError, OSError) as exc:
            if name == 'tcp6' and not os.path.exists(path):
                continue
            problems.append(dict(source=path, reason='cannot read it: %s' % (exc.strerror or exc)))
            continue
        try:
            listeners.extend(parse_table(text, family, path))
        except ListenerError as exc:
            problems.append(dict(source=path, reason=str(exc)))
    return listeners, problems


def is_loopback(address):
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, 'ipv4_mapped', None)
    return (mapped or ip).is_loopback
