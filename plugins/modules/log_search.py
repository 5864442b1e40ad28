#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: log_search
short_description: Review and search the service's logs, hot and archived, with bounded output
version_added: 0.1.0
description:
  - The searches of the guide's "Log Management" section (today's and the last hour's errors, security C(auth)
    events, one user's activity, slow requests, failed backups) over the service's daily log files
    (C(<class>-YYYY-MM-DD.log) in C(LOG_DIR)) and, with O(archive_dir), their compressed archives
    (C(<archive_dir>/logs/YYYY-MM/<class>-YYYY-MM-DD.log.zst) or C(.gz)), alike.
  - Counts the lines of the window by level, counts the matches by message (numbers, addresses and ids replaced,
    so similar messages group) and returns the top messages with their first and last occurrence, and the first
    and last matches. The output has the same bounded size however large the logs; files are streamed, so
    memory stays flat.
  - Files are read in parallel processes, one per core and file, as many as fit in about 192 MiB of memory
    together (each starts as a copy of the module's process); a host with one core reads them in one process.
  - A line that does not parse is counted in RV(unparseable), never fatal; a file that cannot be read (a
    corrupt archive) is listed in RV(unreadable_files) and the search goes on.
  - The slow-request search compares each line's parsed duration with O(threshold_ms); the guide's
    C(grep "duration.*[5-9][0-9][0-9]ms") misses every request of a second or more.
  - It only reads, so it never reports a change, and runs the same in check mode.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  query:
    description:
      - V(errors) - lines of level C(ERROR) or C(CRITICAL) (the guide's C(grep ERROR)).
      - V(auth) - lines naming C(auth) (logins that succeeded or failed, rejected tokens).
      - "V(user) - lines naming the user O(user) (C(user_id: <user>), C(user=<user>) or C(username=<user>))."
      - V(slow) - lines carrying a duration (C(duration=950ms), C(duration=1.5s)) of at least O(threshold_ms).
      - V(backup_failed) - lines matching C(backup.*failed), case-insensitive (the guide's grep).
      - V(all) - every line of the window (counts by level and message; parses each line, so slower).
    type: str
    choices: [errors, auth, user, slow, backup_failed, all]
    default: errors
  window:
    description:
      - V(today) - from the host's local midnight until now (or O(end)).
      - V(last_hour) - the hour before now (or before O(end)).
      - V(since) - from O(since) until now (or O(end)).
      - V(all) - every line of every file found.
    type: str
    choices: [today, last_hour, since, all]
    default: today
  since:
    description:
      - Start of the window for O(window=since), ISO-8601 (C(2026-11-28), C(2026-11-28T13:00:00Z),
        C(2026-11-28T14:00:00+01:00)); without a zone, the host's local time.
    type: str
  end:
    description:
      - End of the window (included), ISO-8601 like O(since). Default now.
      - Not named C(until), which ansible-lint takes for the task keyword.
    type: str
  user:
    description:
      - "The user whose lines O(query=user) finds, as the lines name it (C(user_id: admin) is V(admin))."
    type: str
  threshold_ms:
    description: Shortest duration, in milliseconds, that O(query=slow) reports.
    type: float
    default: 500
  classes:
    description:
      - Log classes (file name prefixes) to read. Default by query, the files the guide greps - C(application)
        for V(errors), V(slow) and V(backup_failed), C(security) for V(auth), C(audit), C(application) and
        C(security) for V(user), those three for V(all).
    type: list
    elements: str
    choices: [application, security, audit, backup]
  service_home:
    description: Home directory of the service; O(log_dir) defaults to its C(.env) key C(LOG_DIR), else C(logs).
    type: path
    default: /opt/inventory-enterprise
  env_file:
    description: The service's C(.env) file. Default C(<service_home>/.env); not read when O(log_dir) is set.
    type: path
  log_dir:
    description: The directory of the daily log files. Default from the service's C(.env) (C(LOG_DIR)).
    type: path
  archive_dir:
    description:
      - Root of the log archive; its C(logs/YYYY-MM/) directories are searched too (the layout the archival
        writes). A day both in O(log_dir) and in the archive is read once, from O(log_dir).
    type: path
  top:
    description: How many messages RV(messages) lists, most frequent first.
    type: int
    default: 10
  samples:
    description: How many matching lines RV(first) and RV(last) (and RV(slowest)) hold.
    type: int
    default: 5
notes:
  - Times are compared in UTC; lines carry UTC times, files are named for the service's local date.
  - Lines are taken to be in time order within a file, as the service appends them. The C(INFO), C(WARNING) and
    C(DEBUG) lines of a block whose first and last lines fall inside the window are counted by level without
    reading their times; every line the query looks for, every other level and every line not in the service's own
    form is parsed and checked against the window one by one.
  - docs/logs.md of the collection describes the line format.
seealso:
  - name: Log line format and searches
    description: docs/logs.md of the collection.
    link: https://github.com/inventory-enterprise/ops/blob/main/docs/logs.md
'''

EXAMPLES = r'''
- name: Today's errors (the end-of-day review)
  inventory_enterprise.ops.log_search:
    service_home: /opt/inventory-enterprise
  register: errors

- name: Requests of 500 ms or more in the last hour, from the hot files and the archive
  inventory_enterprise.ops.log_search:
    query: slow
    window: last_hour
    threshold_ms: 500
    archive_dir: /mnt/archive

- name: Everything user 123 did since November 1st
  inventory_enterprise.ops.log_search:
    query: user
    user: "123"
    window: since
    since: "2026-11-01"
    archive_dir: /mnt/archive

- name: Failed logins and rejected tokens today
  inventory_enterprise.ops.log_search:
    query: auth
    log_dir: /opt/inventory-enterprise/logs
  register: auth

- name: Failed backups this month, hot and archived
  inventory_enterprise.ops.log_search:
    query: backup_failed
    window: since
    since: "{{ now(utc=true).strftime('%Y-%m-01') }}"
    archive_dir: /mnt/archive
  register: backup_search

- name: Fail when a backup failed
  ansible.builtin.assert:
    that: backup_search.matched == 0
    fail_msg: "{{ backup_search.summary }}"
'''

RETURN = r'''
summary:
  description: One line saying what was searched and found.
  returned: always
  type: str
  sample: "errors today: 3 matches in 1200 lines (2 files), top: ERROR GET /api/inventory/list <n> duration=<n>ms (2)"
query:
  description: The query run.
  returned: always
  type: str
  sample: errors
window:
  description: The window searched, as UTC stamps; C(since) is null for O(window=all).
  returned: always
  type: dict
  sample: {since: "2026-11-28T00:00:00.000Z", until: "2026-11-28T18:00:00.000Z"}
log_dir:
  description: The directory of the daily log files searched.
  returned: always
  type: str
  sample: /opt/inventory-enterprise/logs
archive_dir:
  description: The archive root searched, or null.
  returned: always
  type: str
  sample: /mnt/archive
files:
  description: The files read, oldest first, with their line, match and unparseable counts (and C(error) when
    one could not be read to its end).
  returned: always
  type: list
  elements: dict
  sample: [{path: /opt/inventory-enterprise/logs/application-2026-11-28.log, log_class: application,
            date: "2026-11-28", compression: none, archived: false, lines: 1200, matched: 3, unparseable: 0}]
unreadable_files:
  description: Files that could not be read to their end (corrupt or truncated archives).
  returned: always
  type: list
  elements: str
  sample: []
lines_scanned:
  description: Lines read, inside the window or not.
  returned: always
  type: int
  sample: 1200
lines_in_window:
  description: Lines that parsed and fall inside the window.
  returned: always
  type: int
  sample: 1100
unparseable:
  description:
    - Lines read that do not parse (no time with a zone and known level at their start), inside the window or
      not. A line ends at a newline; a run of 1 MiB or more without one may be cut and counted as several lines.
  returned: always
  type: int
  sample: 0
levels:
  description: Lines inside the window by level.
  returned: always
  type: dict
  sample: {CRITICAL: 0, ERROR: 3, WARNING: 10, INFO: 1087, DEBUG: 0}
matched:
  description: Lines the query found inside the window.
  returned: always
  type: int
  sample: 3
messages:
  description: The O(top) most frequent matching messages (normalised - numbers C(<n>), addresses C(<ip>),
    ids C(<id>)), with their count and their first and last occurrence.
  returned: always
  type: list
  elements: dict
  sample: [{level: ERROR, message: "GET /api/inventory/list <n> duration=<n>ms", count: 2,
            first: {time: "2026-11-28T09:00:00.120Z", level: ERROR, message: "GET /api/inventory/list 500 duration=3ms",
                    file: /opt/inventory-enterprise/logs/application-2026-11-28.log},
            last: {time: "2026-11-28T17:00:00.120Z", level: ERROR, message: "GET /api/inventory/list 500 duration=9ms",
                   file: /opt/inventory-enterprise/logs/application-2026-11-28.log}}]
distinct_messages:
  description: How many distinct normalised messages matched (up to 5000 are told apart).
  returned: always
  type: int
  sample: 2
other_messages:
  description: Matches of messages beyond the first 5000 distinct ones, counted but not grouped.
  returned: always
  type: int
  sample: 0
first:
  description: The first O(samples) matches (time, level, message, file).
  returned: always
  type: list
  elements: dict
  sample: [{time: "2026-11-28T09:00:00.120Z", level: ERROR, message: "GET /api/inventory/list 500 duration=3ms",
            file: /opt/inventory-enterprise/logs/application-2026-11-28.log}]
last:
  description: The last O(samples) matches, oldest first.
  returned: always
  type: list
  elements: dict
  sample: []
slowest:
  description: For O(query=slow), the O(samples) slowest matches, slowest first, each with its C(duration_ms).
  returned: when query is slow
  type: list
  elements: dict
  sample: [{time: "2026-11-28T09:00:00.120Z", level: INFO, message: "GET /api/dashboard/stats 200 duration=1250ms",
            file: /opt/inventory-enterprise/logs/application-2026-11-28.log, duration_ms: 1250.0}]
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _envfile, _log_lines, _log_search
from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _service_layout


def argument_spec():
    return dict(
        query=dict(type='str', choices=list(_log_search.QUERIES), default='errors'),
        window=dict(type='str', choices=list(_log_search.WINDOWS), default='today'),
        since=dict(type='str'),
        end=dict(type='str'),
        user=dict(type='str'),
        threshold_ms=dict(type='float', default=500),
        classes=dict(type='list', elements='str', choices=list(_log_lines.CLASSES)),
        service_home=dict(type='path', default='/opt/inventory-enterprise'),
        env_file=dict(type='path'),
        log_dir=dict(type='path'),
        archive_dir=dict(type='path'),
        top=dict(type='int', default=10),
        samples=dict(type='int', default=5),
    )


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                         required_if=[('query', 'user', ['user']), ('window', 'since', ['since'])])


def log_dir_of(params):
    if params['log_dir']:
        return os.path.abspath(params['log_dir'])
    # database_path is named only so that a missing <home>/.env is no error: a search needs LOG_DIR alone, and
    # without a .env the service writes to <home>/logs, the default.
    paths = _service_layout.service_paths(params['service_home'], env_file=params['env_file'],
                                          database_path=os.path.join(params['service_home'], 'unused'))
    return paths['log_dir']


def summary_line(params, result):
    window = params['window'] if params['window'] != 'since' else 'since %s' % params['since']
    what = params['query'] if params['query'] != 'user' else 'user %s' % params['user']
    text = '%s %s: %d matches in %d lines (%d files)' % (
        what, window, result['matched'], result['lines_in_window'], len(result['files']))
    if result['messages']:
        top = result['messages'][0]
        text += ', top: %s %s (%d)' % (top['level'], top['message'][:120], top['count'])
    if result['unparseable']:
        text += ', %d unparseable lines' % result['unparseable']
    if result['unreadable_files']:
        text += ', %d unreadable files' % len(result['unreadable_files'])
    return text


def run_module(module):
    params = module.params
    base = dict(changed=False, query=params['query'], log_dir=None, archive_dir=params['archive_dir'])
    if params['top'] < 1 or params['samples'] < 0:
        module.fail_json(msg='top must be at least 1 and samples at least 0 (got top=%d, samples=%d)'
                         % (params['top'], params['samples']), **base)
    try:
        base['log_dir'] = log_dir_of(params)
        since, until = _log_search.window_bounds(params['window'], params['since'], params['end'])
        query = _log_search.Query(params['query'], params['user'], params['threshold_ms'])
    except (_envfile.EnvFileError, _log_search.SearchError) as exc:
        module.fail_json(msg=str(exc), **base)
    if not os.path.isdir(base['log_dir']) and not params['archive_dir']:
        module.fail_json(msg='the log directory %s does not exist: check log_dir, or LOG_DIR in the service\'s .env '
                         'under service_home' % base['log_dir'], **base)
    classes = params['classes'] or _log_search.DEFAULT_CLASSES[params['query']]
    search = _log_search.Search(query, since, until, top=params['top'], samples=params['samples'])
    files = _log_lines.iter_log_files(base['log_dir'], classes, since, until, params['archive_dir'])
    _log_search.scan_files(search, files)
    result = dict(base, **search.result())
    result['window'] = dict(since=_log_lines.stamp_of(since) if since else None, until=_log_lines.stamp_of(until))
    result['summary'] = summary_line(params, result)
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
