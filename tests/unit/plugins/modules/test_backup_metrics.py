# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""backup's metrics_textfile_dir against real archives: what a success, a failure and check mode write."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.modules import backup
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.module_utils.test_textfile_metrics import parse, plain
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.test_backup_support import db_path, make_home, run


@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path)


@pytest.fixture
def textfile_dir(tmp_path):
    path = tmp_path / 'textfile'
    path.mkdir()
    return str(path)


def test_success_then_failure_keeps_the_last_success(home, textfile_dir, capsys):
    failed, result = run(backup, dict(service_home=home, metrics_textfile_dir=textfile_dir), capsys)
    assert not failed, result
    path = os.path.join(textfile_dir, 'inventory_backup.prom')
    assert result['metrics_textfile'] == path
    first = plain(parse(path)[0])
    assert first['inventory_backup_last_outcome'] == 1
    assert first['inventory_backup_size_bytes'] == os.path.getsize(result['backup']['path'])
    assert first['inventory_backup_last_success_timestamp_seconds'] == first['inventory_backup_last_run_timestamp_seconds']
    assert first['inventory_backup_duration_seconds'] > 0

    os.remove(db_path(home))
    failed, result = run(backup, dict(service_home=home, metrics_textfile_dir=textfile_dir), capsys)
    assert failed and 'does not exist' in result['msg']
    second = plain(parse(path)[0])
    assert second['inventory_backup_last_outcome'] == 0
    assert second['inventory_backup_last_success_timestamp_seconds'] == first['inventory_backup_last_success_timestamp_seconds']
    assert second['inventory_backup_last_run_timestamp_seconds'] >= first['inventory_backup_last_run_timestamp_seconds']
    assert second['inventory_backup_size_bytes'] == first['inventory_backup_size_bytes']


def test_a_skipped_backup_reports_the_age_of_the_recent_one(home, textfile_dir, capsys):
    run(backup, dict(service_home=home), capsys)
    failed, result = run(backup, dict(service_home=home, max_age_hours=24, metrics_textfile_dir=textfile_dir), capsys)
    assert not failed and result['changed'] is False
    samples = plain(parse(result['metrics_textfile'])[0])
    assert samples['inventory_backup_last_outcome'] == 1
    assert (samples['inventory_backup_last_run_timestamp_seconds'] - samples['inventory_backup_last_success_timestamp_seconds']
            == pytest.approx(result['backup']['age_seconds'], abs=1))


def test_check_mode_writes_no_metrics(home, textfile_dir, capsys):
    failed, result = run(backup, dict(service_home=home, metrics_textfile_dir=textfile_dir), capsys, check_mode=True)
    assert not failed
    assert result['metrics_textfile'] == os.path.join(textfile_dir, 'inventory_backup.prom')
    assert os.listdir(textfile_dir) == []


def test_a_missing_textfile_directory_warns_and_the_backup_succeeds(home, tmp_path, capsys):
    missing = str(tmp_path / 'no-node-exporter')
    failed, result = run(backup, dict(service_home=home, metrics_textfile_dir=missing), capsys)
    assert not failed and result['changed'] is True
    assert 'metrics_textfile' not in result
    warnings = json.dumps(result['warnings'])
    assert missing in warnings and 'does not exist' in warnings
    assert not os.path.exists(missing)


def test_without_the_option_nothing_is_written(home, textfile_dir, capsys):
    failed, result = run(backup, dict(service_home=home), capsys)
    assert not failed and 'metrics_textfile' not in result
    assert os.listdir(textfile_dir) == []
