# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The result every review module returns (capacity, migration, runbooks, security, performance): findings with
a severity, most severe first, scalar figures, chart series and the sources that could not be read. The
operations report renders it, so its shape is kept here, once."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import re

SEVERITIES = ('critical', 'high', 'medium', 'low', 'info')


class Review(object):
    """Findings, figures and unavailable sources of one review, and the common result shape built from them."""

    def __init__(self, name, checks):
        """`name` is the review (security, capacity...), `checks` its areas, in the order the report shows them."""
        self.name = name
        self.title = name.capitalize()
        self.checks = list(checks)
        self.findings = []
        self.areas = []
        self.figures = {}
        self.unavailable = []

    def add(self, area, finding_id, severity, summary, subject, value=None, threshold=None):
        self.findings.append(dict(id=finding_id, severity=severity, summary=summary, subject=subject, value=value,
                                  threshold=threshold))
        self.areas.append(area)

    def missing(self, source, reason):
        self.unavailable.append(dict(source=source, reason=reason))

    def result(self):
        rank = dict((name, index) for index, name in enumerate(SEVERITIES))
        ordered = sorted(self.findings, key=lambda f: (rank[f['severity']], f['id'], natural(f['subject'])))
        counts = dict((severity, sum(1 for f in self.findings if f['severity'] == severity)) for severity in SEVERITIES)
        figures = dict(self.figures, checks=','.join(self.checks), findings_total=len(self.findings))
        figures.update(('findings_%s' % severity, count) for severity, count in counts.items())
        by_area = [[area, sum(1 for a in self.areas if a == area)] for area in self.checks]
        series = dict(
            findings_by_severity=dict(kind='category', unit='count', title='%s findings by severity' % self.title,
                                      points=[[severity, counts[severity]] for severity in SEVERITIES]),
            findings_by_area=dict(kind='category', unit='count', title='%s findings by area checked' % self.title,
                                  points=by_area))
        return dict(changed=False, review=self.name, generated_at=utc_now_iso(),
                    findings=ordered, figures=figures, series=series, unavailable=list(self.unavailable))


def natural(text):
    """Sort key that puts tcp/8083 before tcp/25672."""
    return [(0, int(part), '') if part.isdigit() else (1, 0, part) for part in re.split(r'(\d+)', text)]


def downgraded(severity, to='low'):
    """The lesser of two severities."""
    return max(severity, to, key=SEVERITIES.index)


def plural(count, word, words=None):
    return '%d %s' % (count, word if count == 1 else words or word + 's')


def count_is(count, word, words=None):
    return '%s %s' % (plural(count, word, words), 'is' if count == 1 else 'are')


def utc_now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
