"""The collection's .env reader and the reference service's own reader agree: every line the collection
accepts gives the value the service reads, so backup and restore act on the paths the service uses.
No deployment: both readers run on the same real files."""
import os
import random
import sys

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from tests.support import playbook as pb

sys.path.insert(0, os.path.join(pb.ROOT, "build", "collections"))
from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _envfile  # noqa: E402
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.module_utils.test_envfile import (  # noqa: E402
    ACCEPTED, MALFORMED)
from inventory_service import config  # noqa: E402  pylint: disable=wrong-import-position


def both(tmp_path, data):
    path = tmp_path / ".env"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    try:
        ours = _envfile.read_env_file(str(path))
    except _envfile.EnvFileError:
        ours = None
    try:
        theirs = config.parse_env_file(path)
    except (config.ConfigError, UnicodeDecodeError):
        theirs = None
    return ours, theirs


@pytest.mark.parametrize("text", [case[0] for case in ACCEPTED], ids=[repr(case[0]) for case in ACCEPTED])
def test_accepted_lines_read_as_the_service_reads_them(tmp_path, text):
    ours, theirs = both(tmp_path, text)
    assert ours is not None and ours == theirs


@pytest.mark.parametrize("content", [case[0] for case in MALFORMED], ids=[repr(case[0]) for case in MALFORMED])
def test_refused_lines_are_refused_or_misread_by_the_service(tmp_path, content):
    """Where the collection is stricter, the service would have read a name no program uses as a variable,
    or quotes, a comment or a NUL byte as part of the value."""
    ours, theirs = both(tmp_path, content)
    assert ours is None
    if theirs is not None:
        assert any(not _envfile.KEY_RE.match(key) or value[:1] in "\"'#" or "\0" in value
                   for key, value in theirs.items()), theirs


def test_random_lines_never_read_differently(tmp_path):
    """Lines made of the characters that matter (quotes, #, =, blanks, export) in 5,000 random files:
    whatever the collection accepts, the service reads identically."""
    rng = random.Random(10)
    pieces = ["A", "KEY", "_x1", "=", " ", "  ", "\t", "#", " #", "'", '"', "export ", "v", "p@ss", "1", "é"]

    def text(count):
        return "".join(rng.choice(pieces) for _i in range(rng.randint(0, count)))

    accepted = 0
    for _round in range(5000):
        lines = [rng.choice(["", "export ", " "]) + rng.choice(["A", "KEY", "_x1", text(3)]) + rng.choice(["=", " = ", text(2)])
                 + text(8) for _j in range(rng.randint(1, 2))]
        ours, theirs = both(tmp_path, "\n".join(lines) + "\n")
        if ours is not None:
            accepted += 1
            assert ours == theirs, lines
    assert accepted > 1000, accepted


def test_everything_the_service_role_writes_reads_back(tmp_path):
    """The role's template, rendered by Ansible with every kind of value it accepts, gives back the values."""
    values = {
        'PORT': '8083', 'EMPTY': '', 'DUAL_WRITE_ENABLED': True, 'DSN': 'postgresql://u:p@db:5432/inv?sslmode=require',
        'SPACES': ' padded value ', 'HASH': 'abc #def', 'LEADING_HASH': '#secret', 'DOUBLE': 'say "hi"',
        'SINGLE': "it's", 'BACKSLASH': 'a\\b', 'DOLLAR': '$HOME and ${X}', 'UNICODE': 'caf\u00e9', 'EQUALS': 'a=b',
        'QUOTE_ONLY': '"', 'APOSTROPHE_ONLY': "'", 'TRAILING_QUOTE': "x'",
    }
    with open(os.path.join(pb.ROOT, 'roles', 'service', 'templates', 'env.j2')) as handle:
        template = handle.read()
    templar = Templar(loader=DataLoader(), variables=dict(
        _service_env=values, service_name='inventory-enterprise', service_runtime='python',
        ansible_managed='Ansible managed: do not edit'))
    path = tmp_path / '.env'
    path.write_text(templar.template(trust_as_template(template)), encoding='utf-8')
    expected = dict((key, str(value).lower() if isinstance(value, bool) else value) for key, value in values.items())
    assert _envfile.read_env_file(str(path)) == expected
