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

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._printable import printable

SEVERITIES = ('critical', 'high', 'medium', 'low', 'info')


class ReviewResult(object):
    """Findings, figures, chart series and unavailable sources of one review, and the common result built from
    them. Text from the host (a path, a log message, a server's answer) is made printable on the way in."""

    def __init__(self, name, generated_at=None):
        """`generated_at`: an aware datetime the result carries (default: when result() is called)."""
        self.name = name
        self.generated_at = generated_at
        self.findings, self.figures, self.series, self.unavailable = [], {}, {}, []

    def finding(self, ident, severity, summary, subject, value=None, threshold=None):
        if severity not in SEVERITIES:
            raise ValueError('severity %r of %s is not one of %s' % (severity, ident, ', '.join(SEVERITIES)))
        self.findings.append(dict(id=ident, severity=severity, summary=printable(summary), subject=printable(subject),
                                  value=value, threshold=threshold))

    def add_series(self, name, kind, unit, title, points, target=None, groups=None):
        entry = dict(kind=kind, unit=unit, title=title, points=points)
        if target is not None:
            entry['target'] = target
        if groups is not None:
            entry['groups'] = groups
        self.series[name] = entry

    def missing(self, source, reason):
        self.unavailable.append(dict(source=source, reason=printable(reason)))

    def ordered_findings(self):
        return ordered(self.findings)

    def result(self, generated_at=None):
        moment = generated_at or self.generated_at or datetime.datetime.now(datetime.timezone.utc)
        return dict(changed=False, review=self.name, generated_at=iso(moment), findings=self.ordered_findings(),
                    figures=self.figures, series=self.series, unavailable=self.unavailable)


class Review(ReviewResult):
    """A review made of named checks (the security audit): each finding belongs to one, and the result counts the
    findings by severity and by check."""

    def __init__(self, name, checks):
        """`name` is the review, `checks` its areas, in the order the report shows them."""
        ReviewResult.__init__(self, name)
        self.title = name.capitalize()
        self.checks = list(checks)
        self.areas = []

    def add(self, area, finding_id, severity, summary, subject, value=None, threshold=None):
        self.finding(finding_id, severity, summary, subject, value, threshold)
        self.areas.append(area)

    def result(self, generated_at=None):
        result = ReviewResult.result(self, generated_at)
        counts = dict((severity, sum(1 for f in self.findings if f['severity'] == severity)) for severity in SEVERITIES)
        result['figures'] = dict(self.figures, checks=','.join(self.checks), findings_total=len(self.findings))
        result['figures'].update(('findings_%s' % severity, count) for severity, count in counts.items())
        by_area = [[area, sum(1 for a in self.areas if a == area)] for area in self.checks]
        result['series'] = dict(
            self.series,
            findings_by_severity=dict(kind='category', unit='count', title='%s findings by severity' % self.title,
                                      points=[[severity, counts[severity]] for severity in SEVERITIES]),
            findings_by_area=dict(kind='category', unit='count', title='%s findings by area checked' % self.title,
                                  points=by_area))
        return result


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def ordered(findings):
    """Most severe first, then by id and subject (tcp/22 before tcp/8083)."""
    return sorted(findings, key=lambda f: (SEVERITIES.index(f['severity']), f['id'], natural(str(f['subject']))))


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
    return iso(datetime.datetime.now(datetime.timezone.utc))
