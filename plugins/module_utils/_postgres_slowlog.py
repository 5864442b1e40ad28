# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Summary of PostgreSQL's slow-query log: the `duration:` lines log_min_duration_statement writes.

The guide greps them by eye (tail -f postgresql-15-main.log | grep duration); this counts them, finds the longest
and ranks statements by total time, with literals folded so `WHERE id = 7` and `WHERE id = 8` add up together.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._printable import printable

# `LOG:  duration: 12.345 ms  statement: SELECT ...`, or with the extended protocol `execute <name>: SELECT ...`.
# Parse and bind phases have their own lines; they are left out so a statement counts once.
DURATION_LINE = re.compile(r'\bLOG:\s+duration: ([0-9]+(?:\.[0-9]+)?) ms(?:\s+(statement|execute [^:]*|parse [^:]*'
                           r'|bind [^:]*|plan):\s?(.*))?$')
STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
NUMBER_LITERAL = re.compile(r'(?<![\w$])-?[0-9]+(?:\.[0-9]+)?\b')
STATEMENT_SHOWN = 300


def normalize(statement):
    """One line, literals as ?, so the same statement with other values is grouped."""
    text = STRING_LITERAL.sub('?', statement)
    text = NUMBER_LITERAL.sub('?', text)
    return ' '.join(text.split())[:STATEMENT_SHOWN]


def read_entries(lines):
    """[(duration ms, statement)] from log lines; tab-indented continuation lines belong to the statement above."""
    entries, current = [], None
    for line in lines:
        line = line.rstrip('\n')
        if line.startswith('\t') and current is not None:
            current[1].append(line.strip())
            continue
        current = None
        match = DURATION_LINE.search(line)
        if not match or (match.group(2) or '').startswith(('parse', 'bind', 'plan')):
            continue
        current = (float(match.group(1)), [match.group(3) or ''])
        entries.append(current)
    return [(duration, ' '.join(part for part in parts if part)) for duration, parts in entries]


def summarize(entries, top=10):
    """Count, total, longest statement and the statements taking the most time in total."""
    groups = {}
    for duration, statement in entries:
        key = normalize(statement) if statement else '(no statement logged)'
        group = groups.setdefault(key, dict(statement=printable(key), calls=0, total_ms=0.0, max_ms=0.0))
        group['calls'] += 1
        group['total_ms'] += duration
        group['max_ms'] = max(group['max_ms'], duration)
    ranked = sorted(groups.values(), key=lambda group: (-group['total_ms'], group['statement']))
    for group in ranked:
        group['mean_ms'] = round(group['total_ms'] / group['calls'], 3)
        group['total_ms'] = round(group['total_ms'], 3)
    longest = max(entries, key=lambda entry: entry[0]) if entries else None
    return dict(count=len(entries), total_ms=round(sum(entry[0] for entry in entries), 3),
                max_ms=longest[0] if longest else None,
                max_statement=printable(' '.join(longest[1].split())[:STATEMENT_SHOWN]) if longest else None,
                top_statements=ranked[:top])


def summarize_file(path, top=10):
    """summarize() of a log file; raises OSError with the file's name when it cannot be read."""
    with open(path, errors='replace') as handle:
        return summarize(read_entries(handle), top)


def slow_query_report(path, top):
    """The module's postgres_slow_queries: the summary with a verdict (ok, no_data, error) and a message; None
    without a path."""
    if not path:
        return None
    try:
        summary = summarize_file(path, top)
    except (IOError, OSError) as exc:
        return dict(path=path, verdict='error', count=0, total_ms=0.0, max_ms=None, max_statement=None,
                    top_statements=[], message='cannot read the PostgreSQL log %s: %s; check postgres_log_path and '
                                               'that the module may read it' % (path, exc.strerror or exc))
    if not summary['count']:
        message = ('no duration: lines in %s: is log_min_duration_statement set (not -1) and is this the file '
                   'PostgreSQL logs to?' % path)
        return dict(summary, path=path, verdict='no_data', message=message)
    return dict(summary, path=path, verdict='ok',
                message='%d statements logged with their duration in %s, %s ms in total, longest %s ms'
                        % (summary['count'], path, summary['total_ms'], summary['max_ms']))
