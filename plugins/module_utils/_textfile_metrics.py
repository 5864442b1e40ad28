# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Metrics of the procedures themselves (backup, restore drill, morning checks) as node_exporter textfiles.

Each procedure has one file, <dir>/<prefix>.prom, written with prometheus_client's write_to_textfile: the text
goes to <file>.<pid>.<thread> in the same directory, then rename(2) puts it in place, so node_exporter (which
reads only *.prom) never sees half a file. A failed run keeps the last success timestamp of the file it
replaces, so an alert on the age of the last success keeps counting from the last good run.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import time

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._prometheus import Metrics, MetricsParseError

PREFIXES = {
    'backup': 'inventory_backup',
    'restore_drill': 'inventory_restore_drill',
    'morning_check': 'inventory_morning_check',
}

# The samples a failed run carries over from the file it replaces: they describe the last good run.
KEPT_ON_FAILURE = ('last_success_timestamp_seconds', 'size_bytes')

HELP = {
    'last_success_timestamp_seconds': 'Unix time of the end of the last successful run.',
    'last_run_timestamp_seconds': 'Unix time of the end of the last run, successful or not.',
    'last_outcome': 'Outcome of the last run: 1 success, 0 failure.',
    'duration_seconds': 'Duration of the last run in seconds.',
    'size_bytes': 'Size of the archive of the last successful backup in bytes.',
    'status': 'Verdict of each check of the last run: 1 ok, 0 failed (skipped checks have no sample).',
}


def textfile_metrics_argument_spec():
    return dict(metrics_textfile_dir=dict(type='path'))


def textfile_path(directory, procedure):
    return os.path.join(directory, PREFIXES[procedure] + '.prom')


def previous_samples(path, procedure):
    """{suffix: value} of the samples KEPT_ON_FAILURE in the file at `path`; {} when it is missing or unreadable."""
    try:
        with open(path, 'r') as handle:
            metrics = Metrics.parse(handle.read())
    except (IOError, OSError, MetricsParseError):
        return {}
    kept = {}
    for suffix in KEPT_ON_FAILURE:
        value = metrics.value('%s_%s' % (PREFIXES[procedure], suffix))
        if value is not None:
            kept[suffix] = value
    return kept


def procedure_samples(procedure, success, finished, duration, previous, success_time=None, size_bytes=None):
    """{suffix: value} of the run; a failed run keeps the previous samples of the last success."""
    samples = dict(last_run_timestamp_seconds=finished, last_outcome=1 if success else 0)
    if duration is not None:
        samples['duration_seconds'] = max(0.0, duration)
    if success:
        samples['last_success_timestamp_seconds'] = finished if success_time is None else success_time
        if size_bytes is not None:
            samples['size_bytes'] = size_bytes
        elif 'size_bytes' in previous and procedure == 'backup':
            samples['size_bytes'] = previous['size_bytes']
    else:
        samples.update(previous)
    return samples


def registry_for(procedure, samples, checks=None):
    # Imported here: hosts that never write metrics do not need prometheus_client.
    from prometheus_client import CollectorRegistry, Gauge  # pylint: disable=import-outside-toplevel
    registry = CollectorRegistry()
    prefix = PREFIXES[procedure]
    for suffix in sorted(samples):
        Gauge('%s_%s' % (prefix, suffix), HELP[suffix], registry=registry).set(samples[suffix])
    if checks:
        gauge = Gauge('%s_status' % prefix, HELP['status'], ['check'], registry=registry)
        for name in sorted(checks):
            gauge.labels(check=name).set(1 if checks[name] else 0)
    return registry


def write(directory, procedure, success, finished=None, duration=None, success_time=None, size_bytes=None,
          checks=None):
    """Write the textfile of `procedure` atomically; return (path, {sample name: value}). Raises on any error."""
    from prometheus_client import write_to_textfile  # pylint: disable=import-outside-toplevel
    if not os.path.isdir(directory):
        raise IOError('the directory does not exist')
    path = textfile_path(directory, procedure)
    finished = time.time() if finished is None else finished
    samples = procedure_samples(procedure, success, finished, duration, previous_samples(path, procedure),
                                success_time=success_time, size_bytes=size_bytes)
    write_to_textfile(path, registry_for(procedure, samples, checks))
    written = dict(('%s_%s' % (PREFIXES[procedure], k), v) for k, v in samples.items())
    for name in sorted(checks or {}):
        written['%s_status{check="%s"}' % (PREFIXES[procedure], name)] = 1 if checks[name] else 0
    return path, written


def record(module, procedure, success, **kwargs):
    """write() for a module run: never fails the procedure (a warning instead), writes nothing in check mode.

    Returns the path written (or that would be written), or None when O(metrics_textfile_dir) is not set or the
    write failed."""
    directory = module.params.get('metrics_textfile_dir')
    if not directory:
        return None
    if module.check_mode:
        return textfile_path(directory, procedure)
    try:
        return write(directory, procedure, success, **kwargs)[0]
    except ImportError:
        module.warn('%s metrics not written: the Python library prometheus-client is not installed on this host '
                    '(requirements/managed.txt)' % procedure)
    except Exception as exc:  # pylint: disable=broad-except
        # Any error here (a full disk, a read-only directory, a bad value) is the metrics' problem, not the
        # procedure's: the backup or check has already done its work.
        module.warn('%s metrics not written to %s: %s; check that the directory exists (node_exporter textfile '
                    'collector, deployed by the monitoring role) and is writable, or unset metrics_textfile_dir'
                    % (procedure, directory, to_native(exc)))
    return None


def backup_facts(success, result, finished):
    """The archive behind a backup's success: its size, and its age when a recent one made a new one unnecessary."""
    backup = result.get('backup') or {}
    if not success:
        return {}
    return dict(size_bytes=backup.get('size'), success_time=finished - backup.get('age_seconds', 0))


def record_on_exit(module, procedure, facts):
    """Make the module's exit_json/fail_json write the metrics of the run first; `facts(success, result)` gives
    the extra write() arguments (success_time, size_bytes) from the result the module exits with."""
    started = time.time()
    originals = dict(exit_json=module.exit_json, fail_json=module.fail_json)

    def finish(name, success):
        def done(**result):
            # One record per run, even when a warning path calls back into exit or fail.
            module.exit_json, module.fail_json = originals['exit_json'], originals['fail_json']
            finished = time.time()
            path = record(module, procedure, success, finished=finished, duration=finished - started,
                          **facts(success, result, finished))
            if path:
                result['metrics_textfile'] = path
            originals[name](**result)
        return done

    module.exit_json = finish('exit_json', True)
    module.fail_json = finish('fail_json', False)
