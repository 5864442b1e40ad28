# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""runbook_review over journal files written as the runbook_journal callback writes them (one case table, each
finding with a case that should and one that should not raise it), and against a real Prometheus with the
collection's alert rules loaded and months of ALERTS history backfilled with promtool."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import time

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._runbook_review import (
    episodes_of,
    parse_time,
    utc_iso,
)
from ansible_collections.inventory_enterprise.ops.plugins.modules import runbook_review
from ansible_collections.inventory_enterprise.ops.tests.support.prometheus import PrometheusServer, backfill
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
ALERT_RULES = os.path.join(ROOT, 'roles', 'monitoring', 'files', 'alerts.yml')
DAY = 86400.0
NOW = time.time()


def run_record(runbook, days_ago, status='successful', duration=60.0, failed=(), check_mode=False):
    """A journal record as the callback writes it; failed: [(task, host, ignored)]."""
    started = NOW - days_ago * DAY
    finished = status != 'running'
    return dict(format=1, runbook=runbook, playbook='/srv/ops/playbooks/runbooks/%s.yml' % runbook,
                plays=[dict(name='Runbook: %s' % runbook, hosts=['app_servers'])], user='ops', controller='ctl',
                limit='app1', check_mode=check_mode, started=utc_iso(started),
                finished=utc_iso(started + duration) if finished else None,
                duration_seconds=duration if finished else None, status=status,
                hosts={'app1': dict(ok=5, changed=1, failed=1 if status == 'failed' else 0, unreachable=0, skipped=0,
                                    rescued=0, ignored=0)} if finished else {},
                failed_tasks=[dict(task=task, host=host, play='Runbook: %s' % runbook, message='%s broke' % task,
                                   unreachable=False, ignored=ignored) for task, host, ignored in failed])


def write_journal(directory, records):
    os.makedirs(directory, exist_ok=True)
    for number, record in enumerate(records):
        stamp = record['started'].replace('-', '').replace(':', '')
        path = os.path.join(directory, '%s-%s-%d.json' % (stamp, record['runbook'], number))
        with open(path, 'w') as handle:
            json.dump(record, handle)
    return directory


def write_runbooks(directory, names):
    os.makedirs(os.path.join(directory, 'templates'), exist_ok=True)
    for name in names:
        with open(os.path.join(directory, name + '.yml'), 'w') as handle:
            handle.write('- name: "Runbook: %s"\n  hosts: all\n  tasks: []\n' % name)
    return directory


def review(tmp_path, capsys, records, runbooks=('system_down', 'backup_failed'), **args):
    args = dict(dict(journal_dir=write_journal(str(tmp_path / 'journal'), records),
                     runbooks_dir=write_runbooks(str(tmp_path / 'runbooks'), runbooks)), **args)
    failed, result = run_module(runbook_review, args, capsys)
    assert not failed, result
    assert result['changed'] is False and result['review'] == 'runbooks'
    return result


def findings(result):
    return set((item['id'], item['severity'], item['subject']) for item in result['findings'])


def subjects(result, code):
    return set(item['subject'] for item in result['findings'] if item['id'] == code)


# Each finding from the journal: a case that should raise it (raised) and one that should not (not_raised).
CASES = [
    dict(id='never_exercised_in_the_period',
         records=[run_record('system_down', 10), run_record('backup_failed', 120)],
         raised=[('runbook_never_exercised', 'low', 'backup_failed')],
         not_raised=[('runbook_never_exercised', 'system_down')]),
    dict(id='never_run_at_all_and_a_rehearsal_counts',
         records=[run_record('backup_failed', 3, check_mode=True)],
         raised=[('runbook_never_exercised', 'low', 'system_down')],
         not_raised=[('runbook_never_exercised', 'backup_failed')]),
    dict(id='last_run_failed_is_high',
         records=[run_record('system_down', 20), run_record('system_down', 2, 'failed', failed=[
             ('Escalate when still down', 'app1', False)]), run_record('backup_failed', 4)],
         raised=[('runbook_failed_runs', 'high', 'system_down')],
         not_raised=[('runbook_failed_runs', 'backup_failed')]),
    dict(id='failed_then_succeeded_is_medium',
         records=[run_record('system_down', 30, 'failed', failed=[('3. Manual backup', 'app1', False)]),
                  run_record('system_down', 3)],
         raised=[('runbook_failed_runs', 'medium', 'system_down')],
         not_raised=[('runbook_failed_runs', 'backup_failed')]),
    dict(id='a_run_that_never_finished_is_high',
         records=[run_record('backup_failed', 1, 'running')],
         raised=[('runbook_failed_runs', 'high', 'backup_failed')],
         not_raised=[('runbook_never_exercised', 'backup_failed')]),
    dict(id='a_failure_before_the_period_and_an_ignored_one_are_not_findings',
         records=[run_record('system_down', 100, 'failed', failed=[('x', 'app1', False)]),
                  run_record('system_down', 10, failed=[('probe', 'app1', True)]), run_record('backup_failed', 1)],
         raised=[],
         not_raised=[('runbook_failed_runs', 'system_down'), ('runbook_never_exercised', 'system_down')]),
]


@pytest.mark.parametrize('case', CASES, ids=[case['id'] for case in CASES])
def test_findings_from_the_journal(tmp_path, capsys, case):
    result = review(tmp_path, capsys, case['records'])
    found = findings(result)
    for expected in case['raised']:
        assert expected in found, (expected, result['findings'])
    for code, subject in case['not_raised']:
        assert subject not in subjects(result, code), (code, subject, result['findings'])
    severities = [item['severity'] for item in result['findings']]
    assert severities == sorted(severities, key=['critical', 'high', 'medium', 'low', 'info'].index)


def test_figures_per_runbook_and_the_runs_of_the_period(tmp_path, capsys):
    records = [run_record('system_down', 50, duration=30.0),
               run_record('system_down', 40, 'failed', duration=90.0, failed=[
                   ('2. Start the service', 'app1', False), ('2. Start the service', 'app2', False),
                   ('Escalate when still down', 'app1', False), ('1. Probe', 'app1', True)]),
               run_record('system_down', 20, 'failed', duration=120.0, failed=[('2. Start the service', 'app1', False)]),
               run_record('system_down', 5, duration=45.0),
               run_record('system_down', 1, 'running'),
               run_record('backup_failed', 200)]
    result = review(tmp_path, capsys, records)
    rows = dict((row['runbook'], row) for row in result['runbooks'])
    down = rows['system_down']
    assert (down['runs'], down['failed_runs'], down['unfinished_runs']) == (5, 2, 1)
    # The median and maximum of the four finished runs; the unfinished one has no duration.
    assert (down['median_duration_seconds'], down['max_duration_seconds']) == (67.5, 120.0)
    assert down['last_status'] == 'unfinished' and down['last_run'] == records[4]['started']
    assert down['failed_steps'] == [
        dict(task='2. Start the service', failures=3, runs=2, hosts=['app1', 'app2'],
             last_message='2. Start the service broke'),
        dict(task='Escalate when still down', failures=1, runs=1, hosts=['app1'],
             last_message='Escalate when still down broke')]
    backup = rows['backup_failed']
    assert backup['runs'] == 0 and backup['last_run'] is None and backup['last_run_ever'] == records[5]['started']
    never = [item for item in result['findings'] if item['id'] == 'runbook_never_exercised'][0]
    assert (never['value'], never['threshold']) == (200, 92)
    assert [run['started'] for run in result['runs']] == [records[i]['started'] for i in (4, 3, 2, 1, 0)]
    assert result['runs'][3]['failed_tasks'][-1] == dict(task='Escalate when still down', host='app1',
                                                         message='Escalate when still down broke')
    figures = dict(result['figures'])
    assert figures.pop('until') == result['generated_at']
    assert abs(parse_time(figures.pop('since')) - (NOW - 92 * DAY)) < 600
    assert figures == dict(period_days=92, runbooks=2, runbooks_exercised=1, runs=5, failed_runs=2, unfinished_runs=1)
    assert result['series']['runs_per_runbook']['points'] == [['backup_failed', 0], ['system_down', 5]]
    assert result['series']['duration_per_runbook'] == dict(kind='category', unit='seconds', points=[
        ['system_down', 67.5]], title='Median duration of a runbook run')
    assert result['series']['alerts_fired']['points'] == []
    assert [entry['source'] for entry in result['unavailable']] == ['prometheus']


def test_since_sets_the_period_and_check_mode_reads_the_same(tmp_path, capsys):
    records = [run_record('system_down', 40, 'failed', failed=[('x', 'app1', False)]), run_record('backup_failed', 5)]
    since = utc_iso(NOW - 30 * DAY)[:10]
    result = review(tmp_path, capsys, records, since=since)
    assert result['figures']['since'] == since + 'T00:00:00Z' and 29 < result['figures']['period_days'] < 31
    assert subjects(result, 'runbook_never_exercised') == {'system_down'}
    assert subjects(result, 'runbook_failed_runs') == set()
    failed, checked = run_module(runbook_review, dict(journal_dir=str(tmp_path / 'journal'), since=since,
                                                      runbooks_dir=str(tmp_path / 'runbooks')), capsys, check_mode=True)
    assert not failed and checked['findings'] == result['findings'] and checked['changed'] is False


def test_unreadable_files_are_listed_and_the_rest_is_reviewed(tmp_path, capsys):
    journal = write_journal(str(tmp_path / 'journal'), [run_record('system_down', 2)])
    with open(os.path.join(journal, 'broken.json'), 'w') as handle:
        handle.write('{"runbook": "sys')
    with open(os.path.join(journal, 'other.json'), 'w') as handle:
        handle.write('{"hello": 1}')
    with open(os.path.join(journal, '.partial.json'), 'w') as handle:
        handle.write('{')
    result = review(tmp_path, capsys, [])
    journal_entry = [entry for entry in result['unavailable'] if entry['source'] == 'journal'][0]
    assert journal_entry['reason'].startswith('2 file(s) of %s left out: broken.json (' % journal)
    assert 'other.json (not a run record' in journal_entry['reason'] and '.partial' not in journal_entry['reason']
    assert result['figures']['runs'] == 1


def test_a_missing_journal_is_unavailable_not_zero_runs(tmp_path, capsys, prometheus):
    args = dict(journal_dir=str(tmp_path / 'nowhere'), runbooks_dir=write_runbooks(str(tmp_path / 'rb'), ['system_down']),
                prometheus_url=prometheus.url)
    failed, result = run_module(runbook_review, args, capsys)
    assert not failed, result
    assert 'callback' in [entry['reason'] for entry in result['unavailable'] if entry['source'] == 'journal'][0]
    assert [row['runs'] for row in result['runbooks'] if row['runbook'] == 'system_down'] == [None]
    assert 'runs' not in result['figures'] and result['series']['runs_per_runbook']['points'] == []
    # Nothing is judged on runs it could not see: no run findings, no "fired without a run".
    assert set(item['id'] for item in result['findings']) <= {'alert_without_runbook', 'alert_runbook_missing'}


def test_nothing_readable_fails_saying_what(tmp_path, capsys, dead_url):
    failed, result = run_module(runbook_review, dict(journal_dir=str(tmp_path / 'nowhere'), prometheus_url=dead_url),
                                capsys)
    assert failed
    assert result['msg'].startswith('runbook_review: nothing could be read: the journal %s' % (tmp_path / 'nowhere'))
    assert 'runbook_journal callback' in result['msg'] and 'prometheus_url' in result['msg']


@pytest.mark.parametrize('args, message', [
    (dict(period_days=0), 'period_days must be at least 1'),
    (dict(since='last tuesday'), 'since must be an ISO 8601 date'),
    (dict(since='2999-01-01'), 'since must be an ISO 8601 date'),
    (dict(prometheus_timeout=0), 'prometheus_timeout must be greater than 0'),
])
def test_bad_options_fail_before_reading(tmp_path, capsys, args, message):
    failed, result = run_module(runbook_review, dict(args, journal_dir=str(tmp_path)), capsys)
    assert failed and result['msg'].startswith(message), result


@pytest.mark.parametrize('instants, expected', [
    ([], []),
    ([0, 60, 120], [(0, 120)]),
    ([0, 60, 300, 360], [(0, 60), (300, 360)]),
    ([120, 0, 60], [(0, 120)]),
])
def test_episodes_are_runs_of_consecutive_points(instants, expected):
    assert episodes_of(instants, 60) == expected


# ------------------------------------------------------------------------------------------------ alerts

EXTRA_RULES = '''groups:
  - name: site-extra
    rules:
      - alert: NoRunbookHere
        expr: vector(0) > 1
        annotations:
          summary: an alert someone added without a runbook
      - alert: RenamedRunbook
        expr: vector(0) > 1
        annotations:
          runbook: playbooks/runbooks/renamed.yml
'''


def firing(alertname, start_days_ago, minutes, state='firing', every=15):
    """ALERTS samples of one episode, (labels text, epoch), every `every` seconds as a rule evaluation writes them."""
    start = NOW - start_days_ago * DAY
    labels = 'alertname="%s",alertstate="%s",host="app1"' % (alertname, state)
    return [(labels, start + offset) for offset in range(0, minutes * 60, every)]


def openmetrics(samples):
    """OpenMetrics text of ALERTS samples: each series' samples together and in time order."""
    return ''.join('ALERTS{%s} 1 %.3f\n' % sample for sample in sorted(samples)) + '# EOF\n'


@pytest.fixture(scope='module')
def prometheus(tmp_path_factory):
    rules = tmp_path_factory.mktemp('rules') / 'extra.yml'
    rules.write_text(EXTRA_RULES)
    server = PrometheusServer([], retention='3650d', rule_files=[ALERT_RULES, str(rules)])
    history = (firing('ServiceDown', 40, 20) + firing('ServiceDown', 10, 20)
               # Flapping: twice five minutes apart is one episode.
               + firing('HighMemory', 5, 10) + firing('HighMemory', 5 - 15 / 1440.0, 10)
               + firing('NoRunbookHere', 7, 5) + firing('GoneAlert', 3, 5) + firing('RenamedRunbook', 2, 5)
               + firing('CacheMisses', 200, 30) + firing('LowCacheHitRate', 1, 30, state='pending'))
    backfill(server.data_dir, openmetrics(history))
    server.start()
    yield server
    server.close()


def test_alerts_counted_mapped_and_judged(tmp_path, capsys, prometheus):
    records = [run_record('high_memory', 5), run_record('backup_failed', 30)]
    args = dict(journal_dir=write_journal(str(tmp_path / 'journal'), records), prometheus_url=prometheus.url,
                runbooks_dir=os.path.join(ROOT, 'playbooks', 'runbooks'))
    failed, result = run_module(runbook_review, args, capsys)
    assert not failed, result
    alerts = dict((alert['alertname'], alert) for alert in result['alerts'])
    assert alerts['ServiceDown']['episodes'] == 2 and alerts['ServiceDown']['runbook'] == 'system_down'
    assert alerts['ServiceDown']['annotation'] == 'playbooks/runbooks/system_down.yml'
    assert alerts['HighMemory']['episodes'] == 1
    assert alerts['CacheMisses']['episodes'] == 0 and alerts['LowCacheHitRate']['episodes'] == 0
    assert alerts['GoneAlert']['rule_loaded'] is False and alerts['GoneAlert']['runbook'] is None
    assert alerts['NoRunbookHere']['rule_loaded'] is True and alerts['NoRunbookHere']['episodes'] == 1
    # Seen at the first point after the episode began, a step (795 s over 92 days) later at most.
    assert 0 < parse_time(alerts['ServiceDown']['first_fired']) - (NOW - 40 * DAY) <= 795
    assert 0 <= parse_time(alerts['ServiceDown']['last_fired']) - (NOW - 10 * DAY + 20 * 60) <= 3 * 795

    # Should and should not: fired without a run (ServiceDown) / fired and its runbook ran (HighMemory).
    assert subjects(result, 'alert_fired_without_runbook_run') == {'ServiceDown', 'RenamedRunbook'}
    fired = [item for item in result['findings'] if item['id'] == 'alert_fired_without_runbook_run'
             and item['subject'] == 'ServiceDown'][0]
    assert fired['severity'] == 'medium' and fired['value'] == 2
    # No annotation (a loaded rule, and an alert whose rule is gone) / every collection rule has one.
    assert subjects(result, 'alert_without_runbook') == {'NoRunbookHere', 'GoneAlert'}
    # An annotation naming a runbook runbooks_dir lacks / the collection's, which it holds.
    assert subjects(result, 'alert_runbook_missing') == {'RenamedRunbook'}

    rows = dict((row['runbook'], row) for row in result['runbooks'])
    assert rows['system_down']['alerts'] == ['ServiceDown'] and rows['system_down']['alert_episodes'] == 2
    assert sorted(rows['backup_failed']['alerts']) == ['BackupFailed', 'BackupTooOld', 'DiskSpaceLow']
    assert result['series']['alerts_fired']['points'] == [
        ['ServiceDown', 2], ['GoneAlert', 1], ['HighMemory', 1], ['NoRunbookHere', 1], ['RenamedRunbook', 1]]
    assert result['figures']['alert_rules'] == 11 and result['figures']['alert_rules_without_runbook'] == 1
    assert result['figures']['alerts_fired'] == 5 and result['figures']['alert_episodes'] == 6
    assert [entry['source'] for entry in result['unavailable']] == []


def test_prometheus_down_leaves_the_alerts_out_and_says_why(tmp_path, capsys, dead_url):
    result = review(tmp_path, capsys, [run_record('system_down', 3)], prometheus_url=dead_url)
    assert [entry['source'] for entry in result['unavailable']] == ['prometheus']
    assert result['unavailable'][0]['reason'].startswith('the alerting rules: cannot connect to %s' % dead_url)
    assert result['alerts'] == [] and 'alerts_fired' not in result['figures']
    assert subjects(result, 'runbook_never_exercised') == {'backup_failed'}
