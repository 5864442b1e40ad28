# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The service's daily log files (<LOG_DIR>/<channel>-<local date>.log): today's error lines, counted and grouped.

Lines are parsed by _log_lines (the one parser of the service's log format) and errors grouped by
_log_search's normalised message (numbers, addresses and ids masked), so `timeout after 1203 ms` and `timeout
after 998 ms` count as one kind of error, as in the log_search module.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import io
import os

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._log_lines import parse_line
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._log_search import normalise
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._printable import printable

ERROR_LEVELS = ('ERROR', 'CRITICAL')
# Long messages (tracebacks joined with ' | ') are cut for the report; the count covers them all the same.
MESSAGE_LIMIT = 300


def daily_log_path(log_dir, channel, date=None):
    """<log_dir>/<channel>-<YYYY-MM-DD>.log for `date`, by default today in the host's local time (the service
    switches files on the local date)."""
    return os.path.join(log_dir, '%s-%s.log' % (channel, (date or datetime.date.today()).isoformat()))


def summarize_errors(path, top=5):
    """{log_file, exists, lines, count, top: [{message, kind, count, first_seen, last_seen}]} of the ERROR and
    CRITICAL lines of `path`, most frequent kind first; raises IOError/OSError when the file cannot be read."""
    summary = dict(log_file=path, exists=os.path.exists(path), lines=0, count=0, top=[])
    if not summary['exists']:
        return summary
    kinds = {}
    with io.open(path, 'r', encoding='utf-8', errors='replace') as handle:
        for line in handle:
            summary['lines'] += 1
            record = parse_line(line.rstrip('\n'))
            if record is None or record.level not in ERROR_LEVELS:
                continue
            summary['count'] += 1
            kind = kinds.setdefault(normalise(record.message), dict(count=0, first_seen=record.stamp))
            kind.update(count=kind['count'] + 1, last_seen=record.stamp, message=record.message)
    ranked = sorted(kinds.items(), key=lambda item: (-item[1]['count'], item[1]['first_seen']))
    summary['top'] = [dict(kind=printable(name[:MESSAGE_LIMIT]), message=printable(entry['message'][:MESSAGE_LIMIT]),
                           count=entry['count'], first_seen=entry['first_seen'], last_seen=entry['last_seen'])
                      for name, entry in ranked[:top]]
    return summary
