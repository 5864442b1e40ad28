# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Real faults of a SQLite file for the unit tests: damaged pages, and a file its user cannot write."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import os
import random
import subprocess


def corrupt(path, offset=4096 * 2 + 100, size=12000):
    """Overwrite pages past the schema page with garbage, the way a torn write or a bad disk does."""
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(random.Random(3).randbytes(size))


@contextlib.contextmanager
def unwritable(path):
    """A permission problem that holds for root too: root ignores file modes, not the immutable attribute."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", path], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", path], check=True)
    else:
        mode = os.stat(path).st_mode
        os.chmod(path, 0o444)
        try:
            yield
        finally:
            os.chmod(path, mode)
