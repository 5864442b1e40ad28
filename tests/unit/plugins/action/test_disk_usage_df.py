# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""disk_usage's `df -P -k` parsing, table by table: real outputs of GNU coreutils and busybox, wrapped device
names, names with spaces, errors and garbage; and one real run of the action's own shell command here."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.action.disk_usage import MARK, df_command, parse_df

GNU_HEADER = 'Filesystem     1024-blocks     Used Available Capacity Mounted on'
BUSYBOX_HEADER = 'Filesystem           1024-blocks    Used Available Capacity Mounted on'
KIB = 1024


def answer(*blocks):
    """Output of df_command(): a marker line before each path's df answer (stdout and stderr merged)."""
    lines = []
    for index, block in enumerate(blocks):
        if block is None:
            continue
        lines.append('%s %d' % (MARK, index))
        lines.extend(block)
    return '\n'.join(lines) + '\n'


# (id, df answer for one path, parsed: (used, available, size) in bytes, or the error text)
ONE_PATH = [
    ('GNU coreutils 9.1, Debian 12',
     [GNU_HEADER, '/dev/vda         264212084 30851460  75539452      29% /'],
     (30851460 * KIB, 75539452 * KIB, 264212084 * KIB)),
    ('GNU coreutils, tmpfs',
     [GNU_HEADER, 'tmpfs             24683584     1072  24682512       1% /dev/shm'],
     (1072 * KIB, 24682512 * KIB, 24683584 * KIB)),
    ('busybox 1.36, Alpine',
     [BUSYBOX_HEADER, 'overlay               61255492  40567304  17546864  70% /'],
     (40567304 * KIB, 17546864 * KIB, 61255492 * KIB)),
    ('busybox, LVM device',
     [BUSYBOX_HEADER, '/dev/mapper/vg0-lv_data 103081248  98765432   4315816  96% /srv/data'],
     (98765432 * KIB, 4315816 * KIB, 103081248 * KIB)),
    ('long device name wrapped onto two lines',
     [BUSYBOX_HEADER, '/dev/mapper/inventory--enterprise--vg-inventory--data--lv',
      '                      51475068  12345678  36491128  26% /var/lib/inventory-enterprise'],
     (12345678 * KIB, 36491128 * KIB, 51475068 * KIB)),
    ('mount point with spaces',
     [GNU_HEADER, '/dev/sdb1           976284  488142    488142      50% /mnt/backup disk 2'],
     (488142 * KIB, 488142 * KIB, 976284 * KIB)),
    ('device name with spaces (CIFS share)',
     [GNU_HEADER, '//nas/ops share    2097152  1048576   1048576      50% /mnt/ops'],
     (1048576 * KIB, 1048576 * KIB, 2097152 * KIB)),
    ('full filesystem',
     [GNU_HEADER, '/dev/sdc1            10240    10240         0     100% /var/log'],
     (10240 * KIB, 0, 10240 * KIB)),
    ('capacity as -% (some BSD df)',
     [GNU_HEADER, 'devfs                    1        1         0      -% /dev'],
     (KIB, 0, KIB)),
    ('missing path (GNU)', ['df: /srv/nowhere: No such file or directory'],
     'df: /srv/nowhere: No such file or directory'),
    ('missing path (busybox)', ["df: /srv/nowhere: can't find mount point"],
     "df: /srv/nowhere: can't find mount point"),
    ('permission denied', [GNU_HEADER, 'df: /root/x: Permission denied'], 'df: /root/x: Permission denied'),
    ('no df on the host', ['sh: 1: df: not found'], 'sh: 1: df: not found'),
    ('header only', [GNU_HEADER], ''),
    ('garbage', ['Segmentation fault (core dumped)', '\x1b[31m42 13 7\x1b[0m'],
     'Segmentation fault (core dumped) \x1b[31m42 13 7\x1b[0m'),
    ('numbers that are not a df row', [GNU_HEADER, '/dev/vda 264212084 30851460 75539452 29 /'],
     '/dev/vda 264212084 30851460 75539452 29 /'),
    ('mount point that is not absolute', [GNU_HEADER, '/dev/vda 100 50 50 50% mnt'], '/dev/vda 100 50 50 50% mnt'),
]


@pytest.mark.parametrize('block, parsed', [row[1:] for row in ONE_PATH], ids=[row[0] for row in ONE_PATH])
def test_one_path(block, parsed):
    assert parse_df(answer(block), ['/p']) == {0: parsed}


def test_gnu_capacity_dash_of_a_zero_block_filesystem():
    # df -P -k /proc on this machine (GNU coreutils 9.1): a filesystem with no blocks has "-", without "%".
    assert parse_df(answer([GNU_HEADER, 'proc                     0     0         0        - /proc']),
                    ['/proc']) == {0: (0, 0, 0)}


# (id, output, number of paths asked, parsed)
SEVERAL_PATHS = [
    ('answers stay with their path',
     answer([GNU_HEADER, '/dev/vda 300 100 200 34% /'], ['df: /x: No such file or directory'],
            [GNU_HEADER, 'tmpfs 40 10 30 25% /run']),
     3, {0: (100 * KIB, 200 * KIB, 300 * KIB), 1: 'df: /x: No such file or directory', 2: (10 * KIB, 30 * KIB, 40 * KIB)}),
    ('no marker for a path: no answer for it', answer([GNU_HEADER, '/dev/vda 300 100 200 34% /'], None), 2,
     {0: (100 * KIB, 200 * KIB, 300 * KIB)}),
    ('nothing at all', '', 2, {}),
    ('output without any marker', GNU_HEADER + '\n/dev/vda 300 100 200 34% /\n', 1, {}),
    ('marker of a path not asked is ignored', answer([GNU_HEADER, '/dev/vda 300 100 200 34% /'],
                                                     [GNU_HEADER, 'tmpfs 40 10 30 25% /run']),
     1, {0: (100 * KIB, 200 * KIB, 300 * KIB)}),
    ('blank lines and CRLF line ends', '%s 0\r\n\r\n%s\r\n/dev/vda 300 100 200 34%% /\r\n\r\n' % (MARK, GNU_HEADER), 1,
     {0: (100 * KIB, 200 * KIB, 300 * KIB)}),
    ('first matching row wins', answer([GNU_HEADER, '/dev/vda 300 100 200 34% /', 'tmpfs 40 10 30 25% /run']), 1,
     {0: (100 * KIB, 200 * KIB, 300 * KIB)}),
]


@pytest.mark.parametrize('output, count, parsed', [row[1:] for row in SEVERAL_PATHS],
                         ids=[row[0] for row in SEVERAL_PATHS])
def test_several_paths(output, count, parsed):
    assert parse_df(output, ['/p%d' % i for i in range(count)]) == parsed


def test_real_df_of_this_machine(tmp_path):
    """The action's own command through /bin/sh here: a directory with spaces and quotes, a missing path, /."""
    odd = tmp_path / "backup dir with 'quotes' and spaces"
    odd.mkdir()
    paths = [str(odd), str(tmp_path / 'missing'), '/']
    output = subprocess.run(['/bin/sh', '-c', df_command(paths)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            check=False, universal_newlines=True).stdout
    parsed = parse_df(output, paths)
    assert sorted(parsed) == [0, 1, 2]
    assert 'No such file or directory' in parsed[1] and str(tmp_path / 'missing') in parsed[1]
    for index in (0, 2):
        st = os.statvfs(paths[index])
        used, available, size = parsed[index]
        # df -k rounds up to whole KiB; used and available move with the machine's other writers.
        assert size == -(-st.f_blocks * st.f_frsize // KIB) * KIB
        assert 0 <= used <= size and 0 <= available <= size and used % KIB == available % KIB == 0
