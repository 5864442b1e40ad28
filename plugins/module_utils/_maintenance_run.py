# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The run of a database maintenance or info module: named operations in a fixed safe order, and results that
never hide work done before a failure.

The SQLite and PostgreSQL runners (_sqlite_operations.py, _postgres_operations.py) subclass MaintenanceRun;
the modules turn a run into a result with `outcome` or `fail`. Write statements are recorded, as
community.postgresql's `executed_queries` does: executed, or in check mode the ones that would be.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.common.text.converters import to_native

# Result key names of the maintenance modules; the info modules report no changes and execute no writes.
MAINTENANCE_KEYS = dict(changed='changed_operations', failed='failed_operation', executed='executed_queries')
INFO_KEYS = dict(changed=None, failed='failed_operation', executed=None)


class MaintenanceRun(object):
    """Runs the operations of ORDER that were asked for; `partial` and `progress` hold what the running operation
    has done so far, for a failure result."""
    ORDER = ()
    ERRORS = ()  # exceptions of the engine's driver, turned into a message by wrap_error()

    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.check = module.check_mode
        self.diff = None
        self.results = {}
        self.failed_task = None
        self.partial = {}
        self.progress = None
        self.executed = []

    def record(self, statement):
        """A write statement executed (or, in check mode, that would be)."""
        self.executed.append(statement)

    def wrap_error(self, name, exc):
        return exc

    def close(self):
        pass

    def run(self, names):
        try:
            for name in self.ORDER:
                if name in names:
                    self.failed_task, self.partial, self.progress = name, {}, None
                    try:
                        self.results[name] = getattr(self, 'task_' + name)()
                    except self.ERRORS as exc:
                        raise self.wrap_error(name, exc)
            self.failed_task = None
        finally:
            self.close()
        return self.results


def outcome(module, runner, results, target, keys):
    """The result keys shared by success and failure."""
    changed = [name for name, result in results.items() if result.get('changed')]
    result = dict(changed=bool(changed), report=results, target=target,
                  messages=['%s: %s' % (name, r['message']) for name, r in results.items()])
    if keys['changed']:
        result[keys['changed']] = changed
    if keys['executed']:
        result[keys['executed']] = list(runner.executed) if runner is not None else []
    if runner is not None and runner.diff and module._diff:
        result['diff'] = runner.diff
    return result


def fail(module, runner, exc, target, keys, extra=None):
    """A failure result that still reports every operation run before it, and what the failing one had done: a
    later operation failing never hides that earlier ones changed the database."""
    results = dict(runner.results) if runner is not None else {}
    failed_task = runner.failed_task if runner is not None else None
    done = ['%s: %s' % (name, r['message']) for name, r in results.items() if r.get('changed')]
    if failed_task:
        entry = dict(runner.partial)
        entry.update(changed=bool(entry.get('changed')), failed=True, message=to_native(exc))
        results[failed_task] = entry
        if entry['changed']:
            done.append('%s: %s before it failed' % (failed_task, runner.progress))
    result = outcome(module, runner, results, target, keys)
    result.update(extra or {})
    result[keys['failed']] = failed_task
    msg = to_native(exc)
    if done:
        msg += '. This run had already changed the database: %s' % '; '.join(done)
    module.fail_json(msg=msg, **result)


def invalid_options(params):
    """What is wrong with the options a module has (of the ones below), or None."""
    for name in ('busy_timeout', 'stop_timeout'):
        if name in params and params[name] <= 0:
            return '%s must be greater than 0, got %s' % (name, params[name])
    for name in ('vacuum_min_free_percent', 'reindex_min_unused_percent', 'bloat_warning_percent',
                 'bloat_critical_percent'):
        if name in params and not 0 <= params[name] <= 100:
            return '%s must be a percentage between 0 and 100, got %s' % (name, params[name])
    if params.get('busy_retries', 0) < 0 or params.get('top', 1) < 1:
        return 'busy_retries must be at least 0 and top at least 1'
    return None


def run_maintenance(module, make_runner, names, target, keys, errors, extra=None, problem=None):
    """Run `names` with the runner `make_runner(module)` builds and exit with the result (or fail with it)."""
    runner = None
    problem = problem or invalid_options(module.params)
    if problem:
        fail(module, runner, problem, target, keys, extra)
    try:
        runner = make_runner(module)
        runner.run(names)
    except errors as exc:
        fail(module, runner, exc, target, keys, extra)
    result = outcome(module, runner, runner.results, target, keys)
    result.update(extra or {})
    module.exit_json(**result)
