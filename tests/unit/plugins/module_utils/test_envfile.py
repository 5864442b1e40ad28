# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The collection's one .env reader against real files: every accepted form, every malformed form (an error
naming file and line, never the value), files that cannot be read, and the role's own template."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import pathlib
import pwd
import shutil
import tempfile

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _envfile

SECRET = 'hunter2-Secret-9f8e7d'
COLLECTION = os.path.abspath(_envfile.__file__).rsplit(os.sep + 'plugins' + os.sep, 1)[0]


def write(tmp_path, data, name='.env'):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode('utf-8'))
    return str(path)


ACCEPTED = [
    # (line(s), expected values)
    ('KEY=value', {'KEY': 'value'}),
    ('KEY=', {'KEY': ''}),
    ('KEY = value ', {'KEY': 'value'}),
    ('  KEY=value', {'KEY': 'value'}),
    ('_K1=a=b=c', {'_K1': 'a=b=c'}),
    ('export KEY=value', {'KEY': 'value'}),
    ('export   KEY=value', {'KEY': 'value'}),
    ("KEY='single quoted # not a comment'", {'KEY': 'single quoted # not a comment'}),
    ('KEY="double quoted"', {'KEY': 'double quoted'}),
    ('KEY="it\'s"', {'KEY': "it's"}),
    ("KEY='say \"hi\"'", {'KEY': 'say "hi"'}),
    ("KEY=' padded '", {'KEY': ' padded '}),
    ("KEY=''", {'KEY': ''}),
    ('KEY=value # trailing comment', {'KEY': 'value'}),
    ('KEY=600  # 10 min', {'KEY': '600'}),
    ('KEY=a#b', {'KEY': 'a#b'}),
    ('KEY=abc"', {'KEY': 'abc"'}),
    ('KEY=redis://:p%40ss@10.0.0.5:6379/0', {'KEY': 'redis://:p%40ss@10.0.0.5:6379/0'}),
    ('# a comment\n\n   \n  # indented comment\nKEY=1', {'KEY': '1'}),
    ('KEY=1\nKEY=2', {'KEY': '2'}),
    ('A=1\r\nB=2\r\n', {'A': '1', 'B': '2'}),
    ('KEY=caf\u00e9 \u2713', {'KEY': 'caf\u00e9 \u2713'}),
    ('', {}),
]


@pytest.mark.parametrize('text, expected', ACCEPTED, ids=[repr(case[0]) for case in ACCEPTED])
def test_accepted_forms(tmp_path, text, expected):
    assert _envfile.read_env_file(write(tmp_path, text)) == expected


MALFORMED = [
    # (content, line number of the error, words of the message)
    ('GOOD=1\n%s\n' % SECRET, 2, 'expected KEY=VALUE'),
    ('GOOD=1\n\n# c\n=%s\n' % SECRET, 4, 'expected KEY=VALUE'),
    ('1KEY=%s\n' % SECRET, 1, 'expected KEY=VALUE'),
    ('MY-KEY=%s\n' % SECRET, 1, 'expected KEY=VALUE'),
    ('MY KEY=%s\n' % SECRET, 1, 'expected KEY=VALUE'),
    ('%s KEY=1\n' % SECRET, 1, 'expected KEY=VALUE'),
    ('export\n', 1, 'expected KEY=VALUE'),
    ('\ufeffKEY=%s\n' % SECRET, 1, 'expected KEY=VALUE'),
    ('A=1\nJWT_SECRET="%s\n' % SECRET, 2, 'JWT_SECRET opens a quote'),
    ("JWT_SECRET='%s\" \n" % SECRET, 1, 'JWT_SECRET opens a quote'),
    ('JWT_SECRET="%s" # the secret\n' % SECRET, 1, 'JWT_SECRET opens a quote'),
    ('JWT_SECRET="\n', 1, 'JWT_SECRET opens a quote'),
    ('A=1\nJWT_SECRET=#%s\n' % SECRET, 2, 'JWT_SECRET starts with #'),
    ('REDIS_URL= # disabled %s\n' % SECRET, 1, 'REDIS_URL starts with #'),
    ('JWT_SECRET=%s\0x\n' % SECRET, 1, 'NUL byte'),
    (b'A=1\nJWT_SECRET=' + SECRET.encode() + b'\xff\xfe\n', 2, 'not valid UTF-8'),
]


@pytest.mark.parametrize('content, line, words', MALFORMED, ids=[repr(case[0]) for case in MALFORMED])
def test_malformed_line_names_file_and_line_never_the_value(tmp_path, content, line, words):
    path = write(tmp_path, content)
    with pytest.raises(_envfile.EnvFileError) as exc:
        _envfile.read_env_file(path)
    message = str(exc.value)
    assert message.startswith('%s:%d: ' % (path, line)), message
    assert words in message
    assert SECRET not in message and 'hunter2' not in message


def test_missing_file(tmp_path):
    path = str(tmp_path / 'absent.env')
    with pytest.raises(_envfile.EnvFileError, match='absent.env does not exist'):
        _envfile.read_env_file(path)
    # Only the caller decides that a missing file is fine, and only for a file that does not exist.
    assert _envfile.read_env_file(path, missing_ok=True) is None


@pytest.mark.parametrize('missing_ok', [False, True])
def test_directory_in_place_of_the_file(tmp_path, missing_ok):
    os.mkdir(str(tmp_path / '.env'))
    with pytest.raises(_envfile.EnvFileError, match='is a directory'):
        _envfile.read_env_file(str(tmp_path / '.env'), missing_ok=missing_ok)


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = str(tmp_path / '.env')
    os.mkfifo(fifo)
    with pytest.raises(_envfile.EnvFileError, match='not a regular file'):
        _envfile.read_env_file(fifo, missing_ok=True)


def test_file_too_large_to_be_a_env_file(tmp_path):
    path = write(tmp_path, b'A=1\n' + b'#' * _envfile.MAX_SIZE + b'\n')
    with pytest.raises(_envfile.EnvFileError, match='more than a .env file holds'):
        _envfile.read_env_file(path)


def test_symlink_loop_is_an_error_not_a_missing_file(tmp_path):
    os.symlink('.env', str(tmp_path / '.env'))
    with pytest.raises(_envfile.EnvFileError, match='cannot be read'):
        _envfile.read_env_file(str(tmp_path / '.env'), missing_ok=True)


def read_as_nobody(path, missing_ok):
    """read_env_file in a forked child that dropped root (as root nothing is unreadable); its outcome as text."""
    nobody = pwd.getpwnam('nobody')
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(reader)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            try:
                outcome = 'VALUES %r' % (_envfile.read_env_file(path, missing_ok=missing_ok),)
            except _envfile.EnvFileError as exc:
                outcome = 'ERROR %s' % exc
            os.write(writer, outcome.encode('utf-8'))
            status = 0
        finally:
            # The child never returns into pytest.
            os._exit(status)
    os.close(writer)
    with os.fdopen(reader, 'rb') as handle:
        outcome = handle.read().decode('utf-8')
    assert os.waitpid(pid, 0)[1] == 0
    return outcome


@pytest.fixture
def open_dir():
    """A directory that nobody may enter (pytest's tmp_path sits below a 0700 directory)."""
    path = tempfile.mkdtemp(prefix='envfile-test-', dir='/tmp')
    os.chmod(path, 0o755)
    yield pathlib.Path(path)
    shutil.rmtree(path)


@pytest.mark.parametrize('missing_ok', [False, True])
def test_permission_denied_is_always_an_error(open_dir, missing_ok):
    tmp_path = open_dir
    path = write(tmp_path, 'JWT_SECRET=%s\n' % SECRET)
    os.chmod(path, 0o644)
    assert read_as_nobody(path, missing_ok) == "VALUES {'JWT_SECRET': '%s'}" % SECRET
    os.chmod(path, 0o600)
    outcome = read_as_nobody(path, missing_ok)
    assert outcome.startswith('ERROR %s cannot be read: permission denied' % path), outcome
    assert SECRET not in outcome
    # A service home that may not be entered hides whether the file exists: still an error, not "no .env".
    os.chmod(str(tmp_path), 0o700)
    outcome = read_as_nobody(str(tmp_path / 'other.env'), missing_ok)
    assert outcome.startswith('ERROR %s cannot be read: permission denied' % (tmp_path / 'other.env')), outcome


def test_everything_the_service_role_writes_reads_back(tmp_path, monkeypatch):
    """The role's template, rendered by Ansible with every kind of value it accepts, gives back the values."""
    # Importing the controller's templating marks the whole process as the controller, after which a module's
    # warn() goes to the controller's display instead of its result: undone when this test ends, so the
    # module runs of later tests still return their warnings.
    from ansible.module_utils import _internal
    monkeypatch.setattr(_internal, 'is_controller', _internal.is_controller)
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    values = {
        'PORT': '8083', 'EMPTY': '', 'DUAL_WRITE_ENABLED': True, 'DSN': 'postgresql://u:p@db:5432/inv?sslmode=require',
        'SPACES': ' padded value ', 'HASH': 'abc #def', 'LEADING_HASH': '#secret', 'DOUBLE': 'say "hi"',
        'SINGLE': "it's", 'BACKSLASH': 'a\\b', 'DOLLAR': '$HOME and ${X}', 'UNICODE': 'caf\u00e9', 'EQUALS': 'a=b',
        'QUOTE_ONLY': '"', 'APOSTROPHE_ONLY': "'", 'TRAILING_QUOTE': "x'",
    }
    with open(os.path.join(COLLECTION, 'roles', 'service', 'templates', 'env.j2')) as handle:
        template = handle.read()
    templar = Templar(loader=DataLoader(), variables=dict(
        _service_env=values, service_name='inventory-enterprise', service_runtime='python',
        ansible_managed='Ansible managed: do not edit'))
    path = write(tmp_path, templar.template(trust_as_template(template)))
    expected = dict((key, str(value).lower() if isinstance(value, bool) else value) for key, value in values.items())
    assert _envfile.read_env_file(path) == expected
