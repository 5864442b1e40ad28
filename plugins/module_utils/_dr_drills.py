# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The records of the DR drills (playbooks/dr_drill.yml) and their review: RTO and RPO against the targets.

One drill, one file ``<dr_drill_dir>/dr-drill-<YYYY-MM-DDTHH-MM-SSZ>.json`` (its finish time, UTC), a JSON object:

    {"finished_at": "2026-11-29T03:12:40Z",    # UTC, when the drill ended (required)
     "outcome": "passed",                      # passed | failed (the restore or a check failed) (required)
     "rto_seconds": 812.4,                     # start of the drill to the restored service answering; null if failed
     "rpo_seconds": 94320,                     # age of the restored backup when the drill ended; null if unknown
     "rto_target_seconds": 3600,               # the targets the drill was held to (the guide's 1 h and 24 h)
     "rpo_target_seconds": 86400,
     "standby": "standby1",                    # where it ran
     "primary": "app1",                        # optional: whose backup it restored
     "backup": "inventory_backup_2026-11-28T02-00-00.tar.zst"}   # optional: the archive restored

Extra keys are allowed and ignored; a record without a target is held to the review's dr_rto_target_seconds and
dr_rpo_target_seconds."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import re

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._performance_review import (
    add_months, describe, iso, month_start)

NAME_RE = re.compile(r'^dr-drill-.*\.json$')
TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'
OUTCOMES = ('passed', 'failed')


def record_name(finished_at):
    """The file name of a drill record finished at `finished_at` (an aware datetime)."""
    return 'dr-drill-%s.json' % finished_at.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H-%M-%SZ')


def _seconds(record, key):
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError('%s must be a number of seconds, got %r' % (key, value))
    return float(value)


def parse(document, defaults):
    """The record as the review uses it, or ValueError saying what is wrong with it."""
    if not isinstance(document, dict):
        raise ValueError('not a JSON object')
    try:
        finished = datetime.datetime.strptime(str(document.get('finished_at')), TIME_FORMAT)
    except ValueError:
        raise ValueError('finished_at must be a UTC time YYYY-MM-DDTHH:MM:SSZ, got %r' % (document.get('finished_at'),))
    outcome = document.get('outcome')
    if outcome not in OUTCOMES:
        raise ValueError('outcome must be one of %s, got %r' % (', '.join(OUTCOMES), outcome))
    record = dict(finished_at=finished.replace(tzinfo=datetime.timezone.utc), outcome=outcome,
                  standby=str(document.get('standby') or '?'))
    for key in ('rto_seconds', 'rpo_seconds', 'rto_target_seconds', 'rpo_target_seconds'):
        record[key] = _seconds(document, key)
    for key in ('rto_target_seconds', 'rpo_target_seconds'):
        if record[key] is None:
            record[key] = float(defaults[key])
    return record


def read_records(directory, defaults):
    """([records] oldest first, [(path, problem)]) of the drill records in `directory`."""
    records, problems = [], []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if not NAME_RE.match(name) or not os.path.isfile(path):
            continue
        try:
            with open(path) as handle:
                records.append(parse(json.load(handle), defaults))
        except (IOError, OSError, ValueError) as exc:
            problems.append((path, str(exc)))
    records.sort(key=lambda record: record['finished_at'])
    return records, problems


def review_drills(review, win, directory, params):
    if not os.path.isdir(directory):
        review.missing('dr_drills', 'no DR drill records: %s does not exist (playbooks/dr_drill.yml writes one record '
                                    'per drill there); check dr_drill_dir' % directory)
        return
    defaults = dict(rto_target_seconds=params['dr_rto_target_seconds'],
                    rpo_target_seconds=params['dr_rpo_target_seconds'])
    try:
        records, problems = read_records(directory, defaults)
    except OSError as exc:
        review.missing('dr_drills', 'cannot list %s: %s' % (directory, exc))
        return
    for path, problem in problems:
        review.missing('dr_drills', '%s is not a drill record: %s' % (path, problem))
    review.read.add('dr_drills')
    since = add_months(month_start(win['end'].year, win['end'].month), -params['dr_history_months'])
    shown = [r for r in records if since <= r['finished_at'] < win['end']]
    inside = [r for r in records if win['start'] <= r['finished_at'] < win['end']]
    for key, title in (('rto', 'DR drill RTO (restore to service answering)'),
                       ('rpo', 'DR drill RPO (age of the restored backup)')):
        points = [[iso(r['finished_at']), r['%s_seconds' % key]] for r in shown if r['%s_seconds' % key] is not None]
        target = shown[-1]['%s_target_seconds' % key] if shown else defaults['%s_target_seconds' % key]
        review.add_series('dr_%s_seconds' % key, 'time', 'seconds', title, points, target=target)
    before = [r for r in records if r['finished_at'] < win['end']]
    review.figures.update(
        dr_drills=len(inside), dr_drills_failed=sum(1 for r in inside if r['outcome'] != 'passed'),
        dr_last_drill=iso(before[-1]['finished_at']) if before else None,
        dr_rto_worst_seconds=_worst(inside, 'rto_seconds'), dr_rpo_worst_seconds=_worst(inside, 'rpo_seconds'))
    if not inside:
        review.finding('dr_drill_missing', 'medium', 'no DR drill finished in %s..%s (the guide tests recovery '
                       'monthly, the last Sunday); last drill: %s. Run playbooks/dr_drill.yml' % (
                           iso(win['start']), iso(win['end']),
                           iso(before[-1]['finished_at']) if before else 'none recorded'),
                       'DR drills', 0, 1)
    for record in inside:
        judge(review, record)


def _worst(records, key):
    values = [r[key] for r in records if r[key] is not None]
    return max(values) if values else None


def judge(review, record):
    subject = 'drill %s on %s' % (iso(record['finished_at']), record['standby'])
    if record['outcome'] != 'passed':
        review.finding('dr_drill_failed', 'high', 'the DR drill %s failed: the standby could not be restored and '
                       'verified; read the drill\'s play output and fix it before it is needed' % subject,
                       subject, record['outcome'], 'passed')
    for key, what in (('rto', 'recovery took'), ('rpo', 'the restored backup was')):
        value, target = record['%s_seconds' % key], record['%s_target_seconds' % key]
        if value is not None and value > target:
            review.finding('dr_%s_missed' % key, 'high', '%s: %s %s s, over the %s target of %s s' % (
                subject, what, describe(value), key.upper(), describe(target)), subject, value, target)
