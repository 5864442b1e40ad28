# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""disk_usage: the morning disk check through one `df -P -k` over the connection, parsed on the control node.

No module is sent and no Python starts on the host: for a fleet that is half the per-host cost of a module run
(see docs/benchmarks.md), and hosts without Python can be checked too. Verdicts and messages are the ones
health_check gives (module_utils/_checks.py).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import shlex

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._checks import (
    check_result,
    disk_missing,
    disk_verdict,
    failed_names,
    failure_message,
    normalize_disk_paths,
    summarize,
    FAILED,
    SKIPPED,
)

MARK = '@@inventory_enterprise.disk_usage'
# POSIX df -P: Filesystem, 1024-blocks, Used, Available, Capacity, Mounted on (names may hold spaces).
DF_LINE = re.compile(r'^(?P<fs>.*?)\s+(?P<size>\d+)\s+(?P<used>\d+)\s+(?P<avail>\d+)\s+(?P<cap>\d+%|-%?)\s+(?P<mount>/.*)$')


def df_command(paths):
    """One shell command: a marker line, then df's answer (or its error), for each path in turn."""
    parts = ['echo %s %d; LC_ALL=C df -P -k -- %s 2>&1' % (MARK, i, shlex.quote(path)) for i, path in enumerate(paths)]
    return '; '.join(parts)


def parse_df(output, paths):
    """{index: (used, available, size) in bytes, or the error text} for each path of df_command()."""
    answers, current = {}, None
    for line in output.splitlines():
        if line.startswith(MARK + ' '):
            current = int(line.split()[1])
            answers[current] = []
        elif current is not None and line.strip():
            answers[current].append(line)
    parsed = {}
    for index in range(len(paths)):
        lines = answers.get(index)
        if lines is None:
            continue
        match = next((m for m in (DF_LINE.match(line) for line in lines) if m), None)
        if match:
            parsed[index] = tuple(int(match.group(key)) * 1024 for key in ('used', 'avail', 'size'))
        else:
            parsed[index] = ' '.join(line for line in lines if not line.startswith('Filesystem')).strip()
    return parsed


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = True
    _supports_check_mode = True  # df only reads

    ARGUMENT_SPEC = dict(
        disk_paths=dict(type='list', elements='raw', required=True),
        disk_max_used_percent=dict(type='float', default=85.0),
        host_label=dict(type='str'),
        report_only=dict(type='bool', default=False),
    )

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        host = args['host_label'] or (task_vars or {}).get('inventory_hostname') or 'host'
        try:
            paths = normalize_disk_paths(args['disk_paths'], args['disk_max_used_percent'])
        except ValueError as exc:
            return dict(result, failed=True, msg=str(exc))
        if not 0 <= args['disk_max_used_percent'] <= 100:
            return dict(result, failed=True, msg='disk_max_used_percent must be a percentage between 0 and 100, '
                                                 'got %s' % args['disk_max_used_percent'])

        checks = []
        if paths:
            answer = self._low_level_execute_command(df_command([path for path, _limit in paths]))
            output = to_text(answer.get('stdout', ''), errors='surrogate_or_replace')
            parsed = parse_df(output, paths)
            if not parsed:
                return dict(result, failed=True, msg='df gave no answer on %s (rc %s): %s; is df (POSIX) on the '
                                                     'host\'s PATH?' % (host, answer.get('rc'),
                                                                        (to_text(answer.get('stderr', '')) or output).strip()))
            for index, (path, limit) in enumerate(paths):
                found = parsed.get(index)
                if isinstance(found, tuple):
                    checks.append(disk_verdict(path, limit, used=found[0], available=found[1], size=found[2]))
                elif found and 'No such file' in found:
                    checks.append(disk_missing(path, limit))
                else:
                    checks.append(check_result('disk:%s' % path, FAILED, threshold=limit,
                                               message='df on %s failed: %s' % (path, found or 'no answer')))
        else:
            checks.append(check_result('disk', SKIPPED, message='skipped: no disk_paths given'))
        failed = failed_names(checks)
        result.update(changed=False, checks=checks, failed_checks=failed, ok=not failed,
                      summary=summarize(checks, host), host=host)
        if failed and not args['report_only']:
            result.update(failed=True, msg=failure_message(checks, host).replace('health_check', 'disk_usage', 1))
        return result
