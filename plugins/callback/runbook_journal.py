# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: runbook_journal
type: notification
short_description: Record every runbook run in a journal, one JSON file per run
version_added: 1.7.0
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
description:
  - Records each run of a runbook, so the quarterly runbook review (M(inventory_enterprise.ops.runbook_review)) can
    say which runbooks ran, how long they took, which steps failed, and which were never exercised.
  - A play is a runbook when its playbook lies directly in a directory named C(runbooks) (every play of it), or
    when the play's name starts with C(Runbook:). Other plays are not recorded; a playbook without a runbook play writes
    nothing.
  - One JSON file per playbook run in O(dir), named C(<UTC start>-<runbook>-<pid>.json). The runbook is the
    playbook's file name without its extension. The file is written when the first runbook play starts (status
    V(running)) and again when the playbook ends, each time atomically (a temporary file, fsynced, renamed), so a
    run that is killed stays in the journal as V(running).
  - "It holds: the runbook, the playbook path, the plays (name and host pattern), the user and the control node,
    C(--limit), check mode, start and end (UTC, ISO 8601), the duration in seconds, the counts per host (ok, changed,
    failed, unreachable, skipped, rescued, ignored) as Ansible's recap has them, every failed or unreachable task
    (task, host, a short message) and the final status: V(successful), or V(failed) when a host failed or was
    unreachable."
  - The result of a task with C(no_log) is never recorded, only that it failed. Extra vars are never recorded.
  - Writing the journal never breaks a run. A directory that cannot be created or written is a warning.
requirements:
  - enable in configuration, for example C(callbacks_enabled = inventory_enterprise.ops.runbook_journal) in the
    C([defaults]) section of C(ansible.cfg), or C(ANSIBLE_CALLBACKS_ENABLED)
options:
  dir:
    description:
      - Directory of the journal, created when missing (mode 0750; files 0640).
      - It must persist across runs. In AWX, a directory every job mounts (see C(docs/awx.md) in the collection).
    type: path
    default: ~/.local/state/inventory-enterprise/runbook-journal
    ini:
      - section: callback_runbook_journal
        key: dir
    env:
      - name: INVENTORY_ENTERPRISE_RUNBOOK_JOURNAL
notes:
  - The counts per host and the status come from Ansible's recap, of the whole command. In a playbook that mixes
    runbook plays with other plays (recorded by the C(Runbook:) prefix), they include the other plays; with several
    playbooks on one command line, each gets its own record, with the counts and status of them all.
  - A failure rescued by a C(rescue) section is still recorded as a failed task, the run's status follows the recap.
'''

import datetime
import getpass
import json
import os
import socket
import time

from ansible import context
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.callback import CallbackBase

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._files import write_atomic

RUNBOOK_DIR_NAME = 'runbooks'
RUNBOOK_PLAY_PREFIX = 'Runbook:'
FORMAT = 1
MESSAGE_LIMIT = 300
HIDDEN = 'output hidden by no_log'


def utc_iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def is_runbook_path(playbook_path):
    # The playbook's own directory only: a checkout that happens to live under some runbooks/ is not one.
    return os.path.basename(os.path.dirname(os.path.abspath(playbook_path))) == RUNBOOK_DIR_NAME


def _no_log(task, result):
    if result.get('censored') or result.get('_ansible_no_log'):
        return True
    value = task.no_log
    if value is None or isinstance(value, bool):
        return bool(value)
    try:
        return boolean(value, strict=True)
    except TypeError:
        # Not templated here (a Jinja2 expression): it may be on, so nothing of the result is kept.
        return True


def short_message(task, result):
    """One line of what went wrong, bounded; nothing at all of the result of a no_log task."""
    if _no_log(task, result) or any(isinstance(item, dict) and (item.get('censored') or item.get('_ansible_no_log'))
                                    for item in result.get('results') or []):
        return HIDDEN
    message = result.get('msg')
    failed_items = [item for item in result.get('results') or [] if isinstance(item, dict) and item.get('failed')]
    if failed_items and failed_items[0].get('msg'):
        # A loop's own msg only says that some item failed; the first item's says what.
        message = '%s (first: %s)' % (message or 'an item failed', failed_items[0]['msg'])
    stderr = [line for line in to_text(result.get('stderr') or '').splitlines() if line.strip()]
    if result.get('rc'):
        # A command's msg is only "non-zero return code": its status and last line of stderr say why.
        message = '%s (rc=%s)%s' % (message or 'failed', result['rc'], ': ' + stderr[-1] if stderr else '')
    message = message or 'failed'
    text = ' '.join(to_text(message).split())
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + '...'


def _parts(result):
    """(task, host name, result dict) of a callback's task result on every supported ansible-core."""
    task = getattr(result, 'task', None) or result._task  # the public names came with ansible-core 2.19
    host = getattr(result, 'host', None) or result._host
    data = getattr(result, 'result', None)
    if not isinstance(data, dict):
        data = result._result
    return task, host.get_name(), data


class JournalRun(object):
    """The record of one playbook's runbook plays, and where it is written."""

    def __init__(self, path, record, started_monotonic):
        self.path, self.record, self.started_monotonic = path, record, started_monotonic
        self.play_ids = set()

    def end(self, when):
        if self.record['finished'] is None:
            self.record.update(finished=utc_iso(when),
                               duration_seconds=round(time.monotonic() - self.started_monotonic, 3))

    def write(self):
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o750)
        data = json.dumps(self.record, indent=2, sort_keys=True, ensure_ascii=False) + '\n'
        write_atomic(self.path, data.encode('utf-8'), mode=0o640)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'inventory_enterprise.ops.runbook_journal'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._playbook_path = None
        self._whole_playbook = False
        self._recording = False
        self._started = None
        self._started_monotonic = None
        self._run = None
        # Runs of the earlier playbooks of the same command line; the recap comes once, after the last.
        self._ended = []
        self._warned = False

    # ----------------------------------------------------------------- events

    def v2_playbook_on_start(self, playbook):
        self._guard(self._playbook_start, playbook)

    def v2_playbook_on_play_start(self, play):
        self._guard(self._play_start, play)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if self._recording:
            self._guard(self._task_failed, result, ignore_errors=ignore_errors)

    def v2_runner_on_unreachable(self, result):
        if self._recording:
            self._guard(self._task_failed, result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        if self._run is not None or self._ended:
            self._guard(self._finish, stats)

    # ----------------------------------------------------------------- work

    def _guard(self, work, *args, **kwargs):
        # The journal is a record of the run, never a reason for it to fail.
        try:
            work(*args, **kwargs)
        except Exception as exc:  # pylint: disable=broad-except
            self._recording = False
            if not self._warned:
                self._warned = True
                self._display.warning('runbook_journal: the run is not recorded in the journal %s: %s: %s'
                                      % (self._journal_dir(), type(exc).__name__, to_text(exc)))

    def _journal_dir(self):
        try:
            return os.path.expanduser(self.get_option('dir'))
        except Exception:  # pylint: disable=broad-except
            return '(unknown: the dir option could not be read)'

    def _playbook_start(self, playbook):
        if self._run is not None:
            self._run.end(time.time())
            self._ended.append(self._run)
            self._run = None
        self._recording = False
        self._started = time.time()
        self._started_monotonic = time.monotonic()
        self._playbook_path = os.path.abspath(to_text(playbook._file_name))
        self._whole_playbook = is_runbook_path(self._playbook_path)

    def _play_start(self, play):
        name = to_text(play.get_name()).strip()
        self._recording = self._whole_playbook or name.startswith(RUNBOOK_PLAY_PREFIX)
        if not self._recording:
            return
        if self._run is None:
            self._run = self._new_run()
        play_id = getattr(play, '_uuid', None) or name
        if play_id in self._run.play_ids:
            return  # serial: the same play starts again for each batch of hosts
        self._run.play_ids.add(play_id)
        hosts = play.hosts if isinstance(play.hosts, list) else [play.hosts]
        self._run.record['plays'].append(dict(name=name, hosts=[to_text(pattern) for pattern in hosts]))
        if play.check_mode is True:
            self._run.record['check_mode'] = True
        self._run.write()

    def _new_run(self):
        started = self._started or time.time()
        runbook = os.path.splitext(os.path.basename(self._playbook_path or 'unknown'))[0]
        # The pid keeps apart runs started in the same second; the count, the playbooks of one command line.
        path = os.path.join(self._journal_dir(), '%s-%s-%d%s.json' % (
            datetime.datetime.fromtimestamp(started, datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ'), runbook,
            os.getpid(), '-%d' % len(self._ended) if self._ended else ''))
        subset = context.CLIARGS.get('subset')
        record = dict(format=FORMAT, runbook=runbook, playbook=self._playbook_path, plays=[], user=_user(),
                      controller=socket.gethostname(), limit=to_text(subset) if subset else None,
                      check_mode=bool(context.CLIARGS.get('check')), started=utc_iso(started), finished=None,
                      duration_seconds=None, status='running', hosts={}, failed_tasks=[])
        return JournalRun(path, record, self._started_monotonic or time.monotonic())

    def _task_failed(self, result, ignore_errors=False, unreachable=False):
        task, host, data = _parts(result)
        self._run.record['failed_tasks'].append(dict(
            task=to_text(task.get_name()).strip(), host=to_text(host), play=self._run.record['plays'][-1]['name'],
            message=short_message(task, data), unreachable=unreachable, ignored=bool(ignore_errors)))

    def _finish(self, stats):
        hosts = {}
        for host in sorted(stats.processed):
            summary = stats.summarize(host)
            hosts[to_text(host)] = dict(ok=summary['ok'], changed=summary['changed'], failed=summary['failures'],
                                        unreachable=summary['unreachable'], skipped=summary['skipped'],
                                        rescued=summary['rescued'], ignored=summary['ignored'])
        failed = any(counts['failed'] or counts['unreachable'] for counts in hosts.values())
        now = time.time()
        for run in self._ended + ([self._run] if self._run is not None else []):
            run.end(now)
            run.record.update(hosts=hosts, status='failed' if failed else 'successful')
            run.write()


def _user():
    try:
        return getpass.getuser()
    except Exception:  # pylint: disable=broad-except
        return None
