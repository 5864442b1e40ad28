# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._prometheus import (
    has_prometheus_client,
    Metrics,
    MetricsParseError,
)
from ansible_collections.inventory_enterprise.ops.tests.unit.servers import RSS_BYTES, metrics_text


def test_library_is_available_in_the_test_venv():
    assert has_prometheus_client()


def test_health_gauges_and_rss():
    metrics = Metrics.parse(metrics_text(cache=0, postgres=1))
    assert metrics.health_status() == {'database': 1.0, 'cache': 0.0, 'postgres': 1.0}
    assert metrics.resident_memory_bytes() == RSS_BYTES


def test_histogram_samples_are_indexed_by_sample_name():
    metrics = Metrics.parse(metrics_text())
    assert metrics.value('http_request_duration_seconds_count', path='/health') == 4.0
    assert metrics.value('http_request_duration_seconds_bucket', le='0.1') == 3.0
    assert 'http_request_duration_seconds_sum' in metrics.names()


def test_missing_metrics():
    metrics = Metrics.parse('# TYPE up gauge\nup 1\n')
    assert metrics.health_status() == {}
    assert metrics.resident_memory_bytes() is None
    assert metrics.value('nope', default=-1) == -1


def test_empty_text_is_valid_and_empty():
    assert Metrics.parse('').names() == []


@pytest.mark.parametrize('text', [
    'system_health_status{component="database" 1\n',
    '<html><body>Not the metrics</body></html>\n',
])
def test_garbage_raises_parse_error(text):
    with pytest.raises(MetricsParseError) as err:
        Metrics.parse(text)
    assert 'not Prometheus text format' in str(err.value)
