# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The one reader of the service's ``.env`` file for the whole collection.

Every line the service itself reads (reference/inventory_service/config.py) gives the same value here:
blank lines, ``#`` comments, ``KEY=VALUE``, an optional ``export``, one pair of matching single or double
quotes around the value, and an unquoted value's trailing `` # comment``. No escapes, no expansion, the
last occurrence of a key wins.

Stricter than the service where it would read something the operator did not mean, and a bad file is an
error, never an empty result: a key that is not a variable name, a value that opens a quote and does not
close it at the end of the line (a multi-line value, or a comment after a quoted value: the service would
keep the quotes), an unquoted value starting with ``#`` (a comment the service would take as the value), a
NUL byte, text that is not UTF-8, a file that is not a regular file or cannot be read. Errors name the
file and the line, and the key when there is one; never a value, which may be a secret.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import io
import os
import re
import stat

KEY_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
QUOTES = '"\''
# A .env is a few hundred bytes; anything this large is the wrong file (a database named by mistake).
MAX_SIZE = 1024 * 1024


class EnvFileError(Exception):
    """The file cannot be used: what, where (file and line), what to do. `errno` is set for I/O errors."""

    def __init__(self, message, error_number=None):
        super(EnvFileError, self).__init__(message)
        self.errno = error_number


def _read_bytes(path):
    # O_NONBLOCK: a FIFO named .env must be refused, not wait for a writer for ever.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise EnvFileError('%s does not exist' % path, exc.errno)
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise EnvFileError('%s cannot be read: permission denied (run as a user that may read it, e.g. '
                               'with become, or fix its owner and mode)' % path, exc.errno)
        raise EnvFileError('%s cannot be read: %s' % (path, exc.strerror), exc.errno)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise EnvFileError('%s is a directory, not a .env file: name the service\'s configuration file'
                               % path, errno.EISDIR)
        if not stat.S_ISREG(info.st_mode):
            raise EnvFileError('%s is not a regular file (a FIFO, socket or device): name the service\'s '
                               'configuration file' % path, errno.EINVAL)
        if info.st_size > MAX_SIZE:
            raise EnvFileError('%s is %d bytes, more than a .env file holds (at most %d): name the service\'s '
                               'configuration file' % (path, info.st_size, MAX_SIZE), errno.EFBIG)
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        return b''.join(chunks)
    except OSError as exc:
        raise EnvFileError('%s cannot be read: %s' % (path, exc.strerror), exc.errno)
    finally:
        os.close(fd)


def parse_env_text(data, path):
    """{KEY: value} of the bytes of a .env file; `path` only names the file in errors."""
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise EnvFileError('%s:%d: not valid UTF-8: save the file as UTF-8'
                           % (path, data[:exc.start].count(b'\n') + 1))
    values = {}
    # Universal newlines, as the service's own open() reads the file.
    for number, raw in enumerate(io.StringIO(text, newline=None), 1):
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        if line.startswith('export '):
            line = line[len('export '):].lstrip()
        key, sep, value = line.partition('=')
        key = key.strip()
        if not sep or not KEY_RE.match(key):
            # The key is not shown: a line without a valid key may be a stray secret.
            raise EnvFileError('%s:%d: expected KEY=VALUE with KEY a variable name (letters, digits, _); fix or '
                               'remove the line' % (path, number))
        where = '%s:%d: the value of %s' % (path, number, key)
        if '\0' in value:
            raise EnvFileError('%s holds a NUL byte; remove it' % where)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in QUOTES:
            value = value[1:-1]
        elif value and value[0] in QUOTES:
            raise EnvFileError('%s opens a quote that does not close at the end of the line (a value on several '
                               'lines, or a comment after a quoted value, is not supported); close the quote at '
                               'the end of the line' % where)
        elif value.startswith('#'):
            raise EnvFileError('%s starts with # (a comment?), which would be read as the value; quote the '
                               'value, or leave nothing after =' % where)
        elif ' #' in value:
            value = value.split(' #', 1)[0].rstrip()
        values[key] = value
    return values


def read_env_file(path, missing_ok=False):
    """{KEY: value} of the .env file at `path`; raises EnvFileError when it cannot be read or a line is bad.

    With missing_ok a file that does not exist gives None (a missing file is then the caller's decision); any
    other problem, permission denied included, is still an error.
    """
    try:
        data = _read_bytes(path)
    except EnvFileError as exc:
        if missing_ok and exc.errno == errno.ENOENT:
            return None
        raise
    return parse_env_text(data, path)
