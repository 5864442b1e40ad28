# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The runbook_journal callback in real ansible-playbook runs on localhost: what one run of a runbook records (a
step rescued, a no_log step whose secret must never reach the journal, a step failing on purpose), which plays are
runbooks, and that a journal it cannot write never fails the run."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import json
import os
import re
import stat
import subprocess
import sys

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.callback import runbook_journal

# The directory holding ansible_collections/, wherever the collection is (checkout link or ansible-test's copy).
COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(runbook_journal.__file__), *(['..'] * 5)))
SECRET = 'never-in-the-journal-7f3a9c'

DRILL = '''
- name: "Runbook: Drill"
  hosts: all
  gather_facts: false
  tasks:
    - name: 1. Look around
      ansible.builtin.debug:
        msg: all quiet
    - name: 2. Use the secret
      block:
        - name: 2. Log in with the secret
          ansible.builtin.fail:
            msg: "login refused for {{ drill_secret }}"
          no_log: true
      rescue:
        - name: 2. Carry on without it
          ansible.builtin.debug:
            msg: carrying on
    - name: 3. Probe that may fail
      ansible.builtin.command: /bin/false
      changed_when: false
      ignore_errors: true
    - name: 4. Fail on purpose
      ansible.builtin.command: sh -c 'echo "disk on fire" >&2; exit 3'
      changed_when: false
'''

MIXED = '''
- name: Prepare
  hosts: all
  gather_facts: false
  tasks:
    - name: Not a runbook step
      ansible.builtin.fail:
        msg: outside any runbook
      ignore_errors: true
- name: "Runbook: Ad hoc"
  hosts: all
  gather_facts: false
  tasks:
    - name: The only step
      ansible.builtin.debug:
        msg: done
'''


def playbook_run(tmp_path, relpath, text, args=(), config=None, journal=None):
    """Run `text` as tmp_path/relpath with ansible-playbook; (process, journal records)."""
    path = tmp_path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    (tmp_path / 'hosts').write_text('app1 ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)
    cfg = tmp_path / 'ansible.cfg'
    cfg.write_text('[defaults]\ncallbacks_enabled = inventory_enterprise.ops.runbook_journal\n'
                   'collections_path = %s\n%s' % (COLLECTIONS, config or ''))
    env = dict(os.environ, ANSIBLE_CONFIG=str(cfg), ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_REMOTE_TEMP=str(tmp_path / 'tmp'), ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    env.pop('INVENTORY_ENTERPRISE_RUNBOOK_JOURNAL', None)
    if journal:
        env['INVENTORY_ENTERPRISE_RUNBOOK_JOURNAL'] = str(journal)
    proc = subprocess.run([sys.executable, '-m', 'ansible.cli.playbook', '-i', str(tmp_path / 'hosts'), str(path)]
                          + list(args), cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    return proc


def records_in(directory):
    found = []
    for name in sorted(glob.glob(os.path.join(str(directory), '*.json'))):
        with open(name) as handle:
            found.append((os.path.basename(name), handle.read()))
    return found


def test_a_runbook_run_is_recorded_with_its_failed_steps_and_never_a_no_log_result(tmp_path):
    journal = tmp_path / 'state' / 'journal'
    proc = playbook_run(tmp_path, 'ops/runbooks/drill.yml', DRILL, ['--limit', 'app1', '-e', 'drill_secret=' + SECRET],
                        config='[callback_runbook_journal]\ndir = %s\n' % journal)
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    files = records_in(journal)
    assert len(files) == 1, files
    name, text = files[0]
    assert SECRET not in text
    record = json.loads(text)
    assert re.fullmatch(r'\d{8}T\d{6}Z-drill-\d+\.json', name) and name[:8] == record['started'][:10].replace('-', '')
    assert (record['runbook'], record['status'], record['check_mode'], record['limit']) == ('drill', 'failed', False, 'app1')
    assert record['playbook'] == str(tmp_path / 'ops' / 'runbooks' / 'drill.yml')
    assert record['plays'] == [dict(name='Runbook: Drill', hosts=['all'])]
    assert record['hosts'] == dict(app1=dict(ok=3, changed=0, failed=1, unreachable=0, skipped=0, rescued=1, ignored=1))
    assert [(task['task'], task['host'], task['message'], task['ignored']) for task in record['failed_tasks']] == [
        ('2. Log in with the secret', 'app1', 'output hidden by no_log', False),
        ('3. Probe that may fail', 'app1', 'non-zero return code (rc=1)', True),
        ('4. Fail on purpose', 'app1', 'non-zero return code (rc=3): disk on fire', False)]
    assert 0 < record['duration_seconds'] < 120 and record['started'] <= record['finished']
    assert stat.S_IMODE(os.stat(os.path.join(str(journal), name)).st_mode) == 0o640
    assert [entry for entry in os.listdir(str(journal)) if entry.startswith('.')] == []


@pytest.mark.parametrize('path, expected', [
    ('/srv/ops/playbooks/runbooks/system_down.yml', True),
    ('/srv/ops/runbooks/x.yml', True),
    ('/srv/runbooks/playbooks/daily.yml', False),
    ('/srv/ops/runbooks/sub/x.yml', False),
    ('/srv/runbooks-old/x.yml', False),
])
def test_a_playbook_is_a_runbook_by_its_directory(path, expected):
    assert runbook_journal.is_runbook_path(path) is expected


def test_only_runbook_plays_are_recorded_and_check_mode_is_said(tmp_path):
    journal = tmp_path / 'journal'
    proc = playbook_run(tmp_path, 'site/adhoc.yml', MIXED, ['--check'], journal=journal)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ((dummy, text),) = records_in(journal)
    record = json.loads(text)
    assert record['runbook'] == 'adhoc' and record['plays'] == [dict(name='Runbook: Ad hoc', hosts=['all'])]
    assert record['status'] == 'successful' and record['check_mode'] is True and record['limit'] is None
    assert record['failed_tasks'] == []

    # Three playbooks on one command line: none from the first, one record for each of the other two.
    (tmp_path / 'runbooks').mkdir()
    (tmp_path / 'runbooks' / 'second.yml').write_text(MIXED)
    proc = playbook_run(tmp_path, 'site/plain.yml', MIXED.split('- name: "Runbook', maxsplit=1)[0],
                        [str(tmp_path / 'runbooks' / 'second.yml'), str(tmp_path / 'site' / 'adhoc.yml')],
                        journal=journal)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    names = [name for name, dummy in records_in(journal)]
    suffixed = [name for name in names if name.endswith('-1.json')]
    assert len(names) == 3 and len(suffixed) == 1 and '-adhoc-' in suffixed[0], names
    second = [json.loads(text) for name, text in records_in(journal) if '-second-' in name][0]
    assert [play['name'] for play in second['plays']] == ['Prepare', 'Runbook: Ad hoc']
    assert second['status'] == 'successful' and second['finished'] is not None


def test_a_journal_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path):
    blocker = tmp_path / 'a-file'
    blocker.write_text('not a directory')
    proc = playbook_run(tmp_path, 'runbooks/quiet.yml', MIXED, journal=blocker / 'journal')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # Whitespace aside: ansible-core wraps warnings, older versions even inside a path.
    warning = 'runbook_journal: the run is not recorded in the journal %s' % (blocker / 'journal')
    assert ''.join(warning.split()) in ''.join((proc.stdout + proc.stderr).split())
    assert 'PLAY RECAP' in proc.stdout
