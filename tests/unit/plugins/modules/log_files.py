# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Daily log files shaped like the reference service's, and the check that every line of them still exists:
in its original file or in a finished archive (listed in its month's manifest) that decompresses to it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import os

import zstandard

MESSAGES = [
    'INFO GET /api/inventory/list 200 duration=%dms user_id: %d',
    'WARN POST /api/inventory/adjust 409 duration=%dms user_id: %d stock conflict',
    'ERROR GET /api/forecast/item 500 duration=%dms user_id: %d model not loaded',
    'INFO auth login succeeded duration=%dms user_id: %d',
]


def write_day(log_dir, cls, day, lines):
    path = os.path.join(log_dir, '%s-%s.log' % (cls, day.isoformat()))
    with open(path, 'w') as handle:
        for number in range(lines):
            handle.write('%sT%02d:%02d:%02d.%03dZ %s\n' % (day.isoformat(), number % 24, number % 60, number % 59,
                                                           number % 1000, MESSAGES[number % 4] % (number * 7 % 1500, number % 97)))
    return path


def make_logs(log_dir, days_ago, classes=('application', 'security', 'audit'), lines=200):
    """{path: content} of one file per class and age (days before today)."""
    if not os.path.isdir(log_dir):
        os.makedirs(log_dir)
    today = datetime.date.today()
    made = {}
    for cls in classes:
        for age in days_ago:
            path = write_day(log_dir, cls, today - datetime.timedelta(days=age), lines)
            with open(path, 'rb') as handle:
                made[path] = handle.read()
    return made


def archive_path(archive_dir, original):
    name = os.path.basename(original)
    return os.path.join(archive_dir, 'logs', name.split('-', 1)[1][:7], name + '.zst')


def manifest(month_dir):
    found = {}
    path = os.path.join(month_dir, 'MANIFEST.sha256')
    if os.path.exists(path):
        with open(path) as handle:
            for line in handle:
                digest, name = line.split()
                found[name] = digest
    return found


def decompress(path):
    with open(path, 'rb') as handle:
        return zstandard.ZstdDecompressor().decompressobj().decompress(handle.read())


def where_is(archive_dir, original, content):
    """'original', 'archive' (finished and verified) or None. A manifest entry whose archive does not give the
    original content back is an assertion error: a half archive that looks finished."""
    digest = hashlib.sha256(content).hexdigest()
    archive = archive_path(archive_dir, original)
    listed = manifest(os.path.dirname(archive)).get(os.path.basename(original))
    if listed is not None:
        assert listed == digest, 'manifest of %s lists another SHA-256' % original
        assert os.path.exists(archive), '%s is listed in the manifest but missing' % archive
        assert hashlib.sha256(decompress(archive)).hexdigest() == digest, '%s does not decompress to the original' % archive
    if os.path.exists(original):
        with open(original, 'rb') as handle:
            assert handle.read() == content, '%s was changed' % original
        return 'original'
    return 'archive' if listed is not None else None
