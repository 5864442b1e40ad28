# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""procedure_metrics: the textfile of a drill or the morning checks, read back with prometheus_client's parser."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import time

from ansible_collections.inventory_enterprise.ops.plugins.modules import procedure_metrics
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.module_utils.test_textfile_metrics import parse, plain
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module


def test_morning_checks_with_a_status_per_check(tmp_path, capsys):
    started = time.time() - 5
    failed, result = run_module(procedure_metrics, dict(
        procedure='morning_check', success=False, started=started, checks={'health': True, 'backup': 'false', 'disk:/opt': 'ok', 'redis': 'failed'},
        metrics_textfile_dir=str(tmp_path)), capsys)
    assert not failed and result['changed'] is False
    samples = parse(result['metrics_textfile'])[0]
    assert samples[('inventory_morning_check_status', frozenset({('check', 'health')}))] == 1
    assert samples[('inventory_morning_check_status', frozenset({('check', 'backup')}))] == 0
    assert samples[('inventory_morning_check_status', frozenset({('check', 'disk:/opt')}))] == 1
    assert samples[('inventory_morning_check_status', frozenset({('check', 'redis')}))] == 0
    values = plain(samples)
    assert values['inventory_morning_check_last_outcome'] == 0
    assert 'inventory_morning_check_last_success_timestamp_seconds' not in values
    assert 5 <= values['inventory_morning_check_duration_seconds'] < 60


def test_a_drill_success_after_a_failure(tmp_path, capsys):
    args = dict(procedure='restore_drill', metrics_textfile_dir=str(tmp_path))
    run_module(procedure_metrics, dict(args, success=False), capsys)
    failed, result = run_module(procedure_metrics, dict(args, success=True), capsys)
    assert not failed
    values = plain(parse(result['metrics_textfile'])[0])
    assert values['inventory_restore_drill_last_outcome'] == 1
    assert values['inventory_restore_drill_last_success_timestamp_seconds'] == values[
        'inventory_restore_drill_last_run_timestamp_seconds']
    assert 'inventory_restore_drill_duration_seconds' not in values


def test_check_mode_and_no_directory_write_nothing(tmp_path, capsys):
    args = dict(procedure='restore_drill', success=True)
    failed, result = run_module(procedure_metrics, dict(args, metrics_textfile_dir=str(tmp_path)), capsys, check_mode=True)
    assert not failed and result['metrics_textfile'] == str(tmp_path / 'inventory_restore_drill.prom')
    failed, result = run_module(procedure_metrics, dict(args, metrics_textfile_dir=''), capsys)
    assert not failed and result['metrics_textfile'] is None
    assert os.listdir(str(tmp_path)) == []


def test_an_unwritable_place_is_a_warning(tmp_path, capsys):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    failed, result = run_module(procedure_metrics, dict(procedure='morning_check', success=True,
                                                        metrics_textfile_dir=str(blocker)), capsys)
    assert not failed and result['metrics_textfile'] is None
    assert 'morning_check metrics not written' in json.dumps(result['warnings'])


def test_a_check_verdict_that_is_no_boolean_fails_clearly(tmp_path, capsys):
    failed, result = run_module(procedure_metrics, dict(procedure='morning_check', success=True, checks={'x': 'maybe'},
                                                        metrics_textfile_dir=str(tmp_path)), capsys)
    assert failed and 'checks must map each check name to true/ok or false/failed' in result['msg']
