# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The quarterly runbook review: the runs the runbook_journal callback recorded and the alerts Prometheus fired in
a period, per runbook; the runbooks never exercised; findings in the common shape of the collection's reviews.

Every source that cannot be read goes into `unavailable` and leaves out only what it would have decided."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import math
import os
import re

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _review_result
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._prometheus_api import PrometheusError

REVIEW = 'runbooks'
SEVERITIES = _review_result.SEVERITIES
RUNBOOK_SUFFIXES = ('.yml', '.yaml')
SUCCESSFUL, FAILED, UNFINISHED = 'successful', 'failed', 'unfinished'
# Prometheus refuses a range query of more than 11,000 points per series.
MAX_POINTS = 10000
MIN_STEP = 60
FIRING = 'max by (alertname) (max_over_time(ALERTS{alertstate="firing"}[%ds]))'


class SourceUnavailable(Exception):
    """A source of the review that could not be read; its message says where and what to do."""


# ------------------------------------------------------------------------------------------------ time

def utc_iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_time(text):
    """Epoch seconds of an ISO 8601 date or date and time (UTC unless it says otherwise), None when it is not one."""
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip()
    if re.match(r'^\d{4}-\d{2}-\d{2}$', text):
        text += 'T00:00:00'
    try:
        when = datetime.datetime.fromisoformat(text[:-1] + '+00:00' if text.endswith('Z') else text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


# ------------------------------------------------------------------------------------------------ sources

def list_runbooks(runbooks_dir):
    """Sorted names (file stems) of the runbook playbooks directly in runbooks_dir."""
    try:
        names = os.listdir(runbooks_dir)
    except OSError as exc:
        raise SourceUnavailable('%s cannot be listed (%s): set runbooks_dir to the directory of the runbook '
                                'playbooks (playbooks/runbooks of the collection)' % (runbooks_dir, exc.strerror))
    return sorted(os.path.splitext(name)[0] for name in names
                  if name.endswith(RUNBOOK_SUFFIXES) and os.path.isfile(os.path.join(runbooks_dir, name)))


def read_journal(journal_dir):
    """(records, problems): every readable run record of the journal, each with `_file` and `_started` (epoch);
    one line per file that is not one."""
    try:
        names = sorted(name for name in os.listdir(journal_dir) if name.endswith('.json') and not name.startswith('.'))
    except OSError as exc:
        raise SourceUnavailable('the journal %s cannot be read (%s): enable the inventory_enterprise.ops.runbook_journal '
                                'callback where the runbooks run and point journal_dir at its directory'
                                % (journal_dir, exc.strerror))
    records, problems = [], []
    for name in names:
        try:
            with open(os.path.join(journal_dir, name), 'rb') as handle:
                record = json.loads(handle.read().decode('utf-8'))
        except (OSError, ValueError) as exc:
            problems.append('%s (%s)' % (name, getattr(exc, 'strerror', None) or exc))
            continue
        started = parse_time(record.get('started')) if isinstance(record, dict) else None
        if started is None or not isinstance(record.get('runbook'), str):
            problems.append('%s (not a run record: no runbook or start time)' % name)
            continue
        records.append(dict(record, _file=name, _started=started))
    return records, problems


def outcome(record):
    if record.get('status') in (SUCCESSFUL, FAILED):
        return record['status']
    # Written when the run started and never again: killed, or the controller died.
    return UNFINISHED


def runbook_of(annotation):
    """The runbook an alert's annotation names: the file stem of a path or URL (playbooks/runbooks/x.yml -> x)."""
    if not isinstance(annotation, str) or not annotation.strip():
        return None
    return os.path.splitext(os.path.basename(annotation.strip().rstrip('/')))[0] or None


def alert_rules(client, annotation_name):
    """{alertname: the text of its runbook annotation, or None}; an alert in several groups keeps any runbook."""
    rules = {}
    for rule in client.alerting_rules():
        name = rule.get('name')
        if isinstance(name, str):
            text = (rule.get('annotations') or {}).get(annotation_name)
            rules[name] = rules.get(name) or (text if isinstance(text, str) and text.strip() else None)
    return rules


def query_step(since, until):
    return max(MIN_STEP, int(math.ceil((until - since) / MAX_POINTS)))


def firing_episodes(client, since, until):
    """{alertname: [(first, last) epoch of each firing episode]} between since and until.

    Each point says whether the alert fired at all in the two steps before it (max_over_time), so an episode
    shorter than a step is still seen; firings less than about three steps apart count as one episode."""
    step = query_step(since, until)
    # The last point falls on `until` exactly: the latest firings are never between two points.
    start = until - int(math.ceil((until - since) / step)) * step
    episodes = {}
    for labels, points in client.query_range(FIRING % (2 * step), start, until, step):
        name = labels.get('alertname')
        if name:
            episodes.setdefault(name, []).extend(episodes_of([at for at, value in points if value > 0], step))
    return dict((name, sorted(found)) for name, found in episodes.items())


def episodes_of(instants, step):
    """[(first, last)] of the runs of consecutive points (at most a step and a half apart)."""
    found = []
    for at in sorted(instants):
        if found and at - found[-1][1] <= step * 1.5:
            found[-1] = (found[-1][0], at)
        else:
            found.append((at, at))
    return found


# ------------------------------------------------------------------------------------------------ runbooks

def summarize_runbook(name, records, period_records):
    """The figures of one runbook: its runs in the period (and the last ever), durations, failed steps."""
    runs = sorted(period_records, key=lambda record: record['_started'])
    durations = sorted(record['duration_seconds'] for record in runs if outcome(record) != UNFINISHED
                       and isinstance(record.get('duration_seconds'), (int, float)))
    last = runs[-1] if runs else None
    ever = max((record['_started'] for record in records), default=None)
    return dict(
        runbook=name, runs=len(runs),
        failed_runs=sum(1 for record in runs if outcome(record) == FAILED),
        unfinished_runs=sum(1 for record in runs if outcome(record) == UNFINISHED),
        check_mode_runs=sum(1 for record in runs if record.get('check_mode')),
        median_duration_seconds=median(durations), max_duration_seconds=durations[-1] if durations else None,
        last_run=utc_iso(last['_started']) if last else None, last_status=outcome(last) if last else None,
        last_run_ever=utc_iso(ever) if ever is not None else None,
        failed_steps=failed_steps(runs), alerts=[], alert_episodes=0)


def median(values):
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else round((values[middle - 1] + values[middle]) / 2.0, 3)


def failed_steps(runs):
    """The tasks that failed (ignore_errors left out), most often first: in how many runs, how often, where."""
    steps = {}
    for record in runs:
        for failure in record.get('failed_tasks') or []:
            if not isinstance(failure, dict) or failure.get('ignored'):
                continue
            task = str(failure.get('task'))
            step = steps.setdefault(task, dict(task=task, failures=0, runs=set(), hosts=set(), last_message=None))
            step['failures'] += 1
            step['runs'].add(record['_file'])
            step['hosts'].add(str(failure.get('host')))
            step['last_message'] = failure.get('message')
    return sorted((dict(step, runs=len(step['runs']), hosts=sorted(step['hosts'])) for step in steps.values()),
                  key=lambda step: (-step['failures'], step['task']))


def run_row(record):
    return dict(runbook=record['runbook'], file=record['_file'], started=utc_iso(record['_started']),
                finished=record.get('finished'), duration_seconds=record.get('duration_seconds'),
                status=outcome(record), check_mode=bool(record.get('check_mode')), limit=record.get('limit'),
                user=record.get('user'), hosts=sorted(record.get('hosts') or {}),
                failed_tasks=[dict(task=failure.get('task'), host=failure.get('host'), message=failure.get('message'))
                              for failure in record.get('failed_tasks') or []
                              if isinstance(failure, dict) and not failure.get('ignored')])


# ------------------------------------------------------------------------------------------------ the review

class Period(object):
    def __init__(self, since, until):
        self.since, self.until = since, until
        self.days = round((until - since) / 86400.0, 1)
        if self.days == int(self.days):
            self.days = int(self.days)

    def holds(self, epoch):
        return self.since <= epoch <= self.until


def unknown_runs(name):
    """A runbook's row when the journal could not be read: its figures are unknown, not zero."""
    return dict(runbook=name, runs=None, failed_runs=None, unfinished_runs=None, check_mode_runs=None,
                median_duration_seconds=None, max_duration_seconds=None, last_run=None, last_status=None,
                last_run_ever=None, failed_steps=[], alerts=[], alert_episodes=0)


def read_sources(params, client, period):
    """(catalog, records, rules, episodes, unavailable); None for each source that could not be read."""
    unavailable = []
    catalog = records = rules = episodes = None
    if params['runbooks_dir']:
        try:
            catalog = list_runbooks(params['runbooks_dir'])
        except SourceUnavailable as exc:
            unavailable.append(dict(source='runbooks_dir', reason=str(exc)))
    else:
        unavailable.append(dict(source='runbooks_dir',
                                reason='runbooks_dir is not set: only the runbooks that ran or that an alert names '
                                       'are listed'))
    try:
        records, problems = read_journal(params['journal_dir'])
        if problems:
            unavailable.append(dict(source='journal', reason='%d file(s) of %s left out: %s' % (
                len(problems), params['journal_dir'], '; '.join(problems[:10]))))
    except SourceUnavailable as exc:
        unavailable.append(dict(source='journal', reason=str(exc)))
    if client is None:
        unavailable.append(dict(source='prometheus',
                                reason='prometheus_url is not set: the alerts that fired are not counted'))
    else:
        try:
            rules = alert_rules(client, params['runbook_annotation'])
            episodes = firing_episodes(client, period.since, period.until)
        except PrometheusError as exc:
            unavailable.append(dict(source='prometheus', reason='%s: %s' % (
                'the alerts that fired' if rules is not None else 'the alerting rules', exc)))
    if records is None and rules is None and episodes is None:
        raise SourceUnavailable('runbook_review: nothing could be read: %s' % '; '.join(
            entry['reason'] for entry in unavailable if entry['source'] != 'runbooks_dir'))
    return catalog, records, rules, episodes, unavailable


def alert_rows(rules, episodes):
    rows = []
    for name in sorted(set(rules or {}) | set(episodes or {})):
        found = (episodes or {}).get(name, [])
        annotation = (rules or {}).get(name)
        rows.append(dict(alertname=name, annotation=annotation, runbook=runbook_of(annotation),
                         rule_loaded=rules is not None and name in rules,
                         episodes=len(found) if episodes is not None else None,
                         first_fired=utc_iso(found[0][0]) if found else None,
                         last_fired=utc_iso(found[-1][1]) if found else None))
    return rows


def runbook_rows(catalog, records, alerts, period):
    named = set(alert['runbook'] for alert in alerts if alert['runbook'])
    names = set(catalog if catalog is not None else named)
    names |= set(record['runbook'] for record in records or [] if period.holds(record['_started']))
    rows = {}
    for name in sorted(names):
        if records is None:
            rows[name] = unknown_runs(name)
            continue
        mine = [record for record in records if record['runbook'] == name]
        rows[name] = summarize_runbook(name, mine, [record for record in mine if period.holds(record['_started'])])
    for alert in alerts:
        if alert['runbook'] in rows:
            rows[alert['runbook']]['alerts'].append(alert['alertname'])
            rows[alert['runbook']]['alert_episodes'] += alert['episodes'] or 0
    return rows


# ------------------------------------------------------------------------------------------------ findings

def finding(code, severity, summary, subject, value=None, threshold=None):
    return dict(id=code, severity=severity, summary=summary, subject=subject, value=value, threshold=threshold)


def run_findings(rows, catalog_names, period):
    found = []
    for row in rows.values():
        if row['runbook'] in catalog_names and row['runs'] == 0:
            last = parse_time(row['last_run_ever'])
            found.append(finding(
                'runbook_never_exercised', 'low',
                '%s was not run in the last %s days (%s): rehearse it (check mode is enough) before it is needed'
                % (row['runbook'], period.days, 'last run %s' % row['last_run_ever'] if last else 'no run recorded'),
                row['runbook'], value=int((period.until - last) // 86400) if last else None, threshold=period.days))
        bad = (row['failed_runs'] or 0) + (row['unfinished_runs'] or 0)
        if not bad:
            continue
        if row['last_status'] == SUCCESSFUL:
            last_one = 'the last one (%s) succeeded' % row['last_run']
        elif row['last_status'] == UNFINISHED:
            last_one = 'the last one (%s) did not finish' % row['last_run']
        else:
            last_one = 'the last one (%s) failed%s' % (row['last_run'], _where(row))
        found.append(finding(
            'runbook_failed_runs', 'medium' if row['last_status'] == SUCCESSFUL else 'high',
            '%s: %d of %d run(s) in the period failed or did not finish; %s'
            % (row['runbook'], bad, row['runs'], last_one),
            row['runbook'], value=bad, threshold=0))
    return found


def _where(row):
    step = row.get('last_failed_step')
    return ' at "%s" on %s' % (step['task'], step['host']) if step else ''


def alert_findings(alerts, rows, catalog, journal_read):
    found = []
    for alert in alerts:
        name, runbook, fired = alert['alertname'], alert['runbook'], alert['episodes']
        if runbook is None:
            found.append(finding(
                'alert_without_runbook', 'low',
                '%s %s: give its rule a runbook annotation naming the playbook to run' % (
                    name, 'has no runbook annotation' if alert['rule_loaded']
                    else 'fired but no loaded rule names its runbook'), name, value=fired))
        elif catalog is not None and runbook not in catalog:
            found.append(finding(
                'alert_runbook_missing', 'low',
                '%s names the runbook %s, which is not in runbooks_dir: fix the annotation or add the runbook'
                % (name, alert['annotation']), name, value=alert['annotation']))
        if journal_read and runbook and fired and not (rows.get(runbook) or {}).get('runs'):
            found.append(finding(
                'alert_fired_without_runbook_run', 'medium',
                '%s fired %d time(s) in the period, and its runbook %s never ran: was the incident handled by hand?'
                % (name, fired, runbook), name, value=fired, threshold=0))
    return found


def sort_findings(found):
    return _review_result.ordered(found)


# ------------------------------------------------------------------------------------------------ series, figures

def series_of(rows, alerts, journal_read):
    return dict(
        runs_per_runbook=dict(kind='category', unit='count', title='Runbook runs in the period',
                              points=[[name, row['runs']] for name, row in sorted(rows.items())] if journal_read
                              else []),
        duration_per_runbook=dict(kind='category', unit='seconds', title='Median duration of a runbook run',
                                  points=[[name, row['median_duration_seconds']] for name, row in sorted(rows.items())
                                          if row['median_duration_seconds'] is not None]),
        alerts_fired=dict(kind='category', unit='count', title='Alert firing episodes in the period',
                          points=[[alert['alertname'], alert['episodes']] for alert in
                                  sorted(alerts, key=lambda alert: (-(alert['episodes'] or 0), alert['alertname']))
                                  if alert['episodes']]),
    )


def figures_of(rows, records, rules, episodes, period):
    figures = dict(period_days=period.days, since=utc_iso(period.since), until=utc_iso(period.until),
                   runbooks=len(rows))
    if records is not None:
        figures.update(runbooks_exercised=sum(1 for row in rows.values() if row['runs']),
                       runs=sum(row['runs'] for row in rows.values()),
                       failed_runs=sum(row['failed_runs'] for row in rows.values()),
                       unfinished_runs=sum(row['unfinished_runs'] for row in rows.values()))
    if rules is not None:
        figures.update(alert_rules=len(rules), alert_rules_without_runbook=sum(1 for text in rules.values() if not text))
    if episodes is not None:
        figures.update(alerts_fired=len(episodes), alert_episodes=sum(len(found) for found in episodes.values()))
    return figures


def build_review(params, period, client=None, now=None):
    """The review's result (without `changed`). Raises SourceUnavailable when nothing at all could be read."""
    catalog, records, rules, episodes, unavailable = read_sources(params, client, period)
    alerts = alert_rows(rules, episodes)
    rows = runbook_rows(catalog, records, alerts, period)
    for row in rows.values():
        row['last_failed_step'] = last_failed_step(records or [], row['runbook'], period)
    found = []
    if records is not None:
        named = catalog if catalog is not None else set(alert['runbook'] for alert in alerts if alert['runbook'])
        found += run_findings(rows, set(named), period)
    found += alert_findings(alerts, rows, catalog, records is not None)
    period_runs = sorted((record for record in records or [] if period.holds(record['_started'])),
                         key=lambda record: record['_started'], reverse=True)
    return dict(review=REVIEW, generated_at=utc_iso(now if now is not None else period.until),
                findings=sort_findings(found), figures=figures_of(rows, records, rules, episodes, period),
                series=series_of(rows, alerts, records is not None), unavailable=unavailable,
                runbooks=[rows[name] for name in sorted(rows)], runs=[run_row(record) for record in period_runs],
                alerts=alerts)


def last_failed_step(records, name, period):
    """{task, host} of the failure that ended the runbook's last run in the period (its last failed task)."""
    runs = sorted((record for record in records if record['runbook'] == name and period.holds(record['_started'])),
                  key=lambda record: record['_started'])
    if not runs:
        return None
    failures = [failure for failure in runs[-1].get('failed_tasks') or []
                if isinstance(failure, dict) and not failure.get('ignored')]
    return dict(task=failures[-1].get('task'), host=failures[-1].get('host')) if failures else None
