# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The procedure textfiles, read back with prometheus_client's own parser (not the collection's reader)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import threading

from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _textfile_metrics


def parse(path):
    """{(sample name, frozenset(labels)): value} and {family name: type} of a textfile."""
    with open(path) as handle:
        families = list(text_string_to_metric_families(handle.read()))
    samples = dict(((s.name, frozenset(s.labels.items())), s.value) for f in families for s in f.samples)
    return samples, dict((f.name, f.type) for f in families)


def plain(samples):
    return dict((name, value) for (name, labels), value in samples.items() if not labels)


def test_success_writes_every_gauge(tmp_path):
    path, written = _textfile_metrics.write(str(tmp_path), 'backup', True, finished=1000.0, duration=12.5,
                                            size_bytes=4096)
    assert path == str(tmp_path / 'inventory_backup.prom')
    samples, types = parse(path)
    assert plain(samples) == {
        'inventory_backup_last_success_timestamp_seconds': 1000.0,
        'inventory_backup_last_run_timestamp_seconds': 1000.0,
        'inventory_backup_last_outcome': 1.0,
        'inventory_backup_duration_seconds': 12.5,
        'inventory_backup_size_bytes': 4096.0,
    }
    assert set(types.values()) == {'gauge'}
    assert written == plain(samples)


def test_a_failure_keeps_the_last_success_and_its_size(tmp_path):
    _textfile_metrics.write(str(tmp_path), 'backup', True, finished=1000.0, duration=3, size_bytes=4096)
    path = _textfile_metrics.write(str(tmp_path), 'backup', False, finished=2000.0, duration=1)[0]
    assert plain(parse(path)[0]) == {
        'inventory_backup_last_success_timestamp_seconds': 1000.0,
        'inventory_backup_last_run_timestamp_seconds': 2000.0,
        'inventory_backup_last_outcome': 0.0,
        'inventory_backup_duration_seconds': 1.0,
        'inventory_backup_size_bytes': 4096.0,
    }
    # A second failure still keeps it; the next success moves it.
    _textfile_metrics.write(str(tmp_path), 'backup', False, finished=3000.0, duration=1)
    assert plain(parse(path)[0])['inventory_backup_last_success_timestamp_seconds'] == 1000.0
    _textfile_metrics.write(str(tmp_path), 'backup', True, finished=4000.0, duration=1)
    samples = plain(parse(path)[0])
    assert samples['inventory_backup_last_success_timestamp_seconds'] == 4000.0
    assert samples['inventory_backup_size_bytes'] == 4096.0


def test_a_first_failure_has_no_success_timestamp(tmp_path):
    """Never a made-up success time: an absent sample is what an alert on absence sees."""
    path = _textfile_metrics.write(str(tmp_path), 'restore_drill', False, finished=50.0, duration=2)[0]
    assert plain(parse(path)[0]) == {
        'inventory_restore_drill_last_run_timestamp_seconds': 50.0,
        'inventory_restore_drill_last_outcome': 0.0,
        'inventory_restore_drill_duration_seconds': 2.0,
    }


def test_an_unparsable_previous_file_is_replaced(tmp_path):
    (tmp_path / 'inventory_backup.prom').write_text('not { prometheus\n')
    path = _textfile_metrics.write(str(tmp_path), 'backup', False, finished=50.0)[0]
    assert 'inventory_backup_last_success_timestamp_seconds' not in plain(parse(path)[0])


def test_morning_checks_have_a_status_per_check(tmp_path):
    path = _textfile_metrics.write(str(tmp_path), 'morning_check', False, finished=10.0, duration=0.5,
                                   checks={'health': True, 'backup': False})[0]
    samples, types = parse(path)
    assert samples[('inventory_morning_check_status', frozenset({('check', 'health')}))] == 1.0
    assert samples[('inventory_morning_check_status', frozenset({('check', 'backup')}))] == 0.0
    assert plain(samples)['inventory_morning_check_last_outcome'] == 0.0
    assert types['inventory_morning_check_status'] == 'gauge'


def test_a_missing_directory_raises_and_creates_nothing(tmp_path):
    missing = tmp_path / 'nope'
    try:
        _textfile_metrics.write(str(missing), 'backup', True)
    except IOError as exc:
        assert 'does not exist' in str(exc)
    else:
        raise AssertionError('no error for a missing directory')
    assert not missing.exists()


def test_readers_never_see_a_partial_file(tmp_path):
    """node_exporter reads *.prom at any moment: every read while runs replace the file parses complete."""
    path = str(tmp_path / 'inventory_backup.prom')
    _textfile_metrics.write(str(tmp_path), 'backup', True, finished=1.0, duration=1, size_bytes=1)
    stop = threading.Event()
    bad = []

    def writer():
        for run in range(300):
            _textfile_metrics.write(str(tmp_path), 'backup', run % 3 != 0, finished=float(run), duration=run,
                                    size_bytes=run)
        stop.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    while not stop.is_set():
        samples = plain(parse(path)[0])
        reads += 1
        if len(samples) != 5:
            bad.append(samples)
    thread.join()
    assert reads > 0 and bad == []
    # The temporary files are gone, and they never had the .prom suffix node_exporter reads.
    assert os.listdir(str(tmp_path)) == ['inventory_backup.prom']
