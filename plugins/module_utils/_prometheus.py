# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Reading the service's Prometheus /metrics text with prometheus_client's own parser."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import traceback

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.text.converters import to_native

# Imported on first use, like redis-py in _redis: hosts that only check their disks never parse /metrics.
_LIB = {}


def metrics_parser():
    """prometheus_client's text_string_to_metric_families, or None when the library is not installed."""
    if 'parse' not in _LIB:
        try:
            from prometheus_client.parser import text_string_to_metric_families  # pylint: disable=import-outside-toplevel
            _LIB.update(parse=text_string_to_metric_families, error=None)
        except ImportError:
            _LIB.update(parse=None, error=traceback.format_exc())
    return _LIB['parse']


def has_prometheus_client():
    return metrics_parser() is not None


HEALTH_GAUGE = 'system_health_status'
RSS_METRIC = 'process_resident_memory_bytes'


class MetricsParseError(Exception):
    """The /metrics body is not valid Prometheus text exposition format."""


def fail_if_missing_prometheus_client(module, reason=None):
    """fail_json with the usual install hint when prometheus_client is not importable on the managed host."""
    if not has_prometheus_client():
        module.fail_json(msg=missing_required_lib('prometheus-client', reason=reason), exception=_LIB['error'])


class Metrics(object):
    """Parsed exposition text; samples are indexed by sample name (so histogram _bucket/_sum work too)."""

    def __init__(self, families):
        self.families = families
        self._samples = {}
        for family in families:
            for sample in family.samples:
                self._samples.setdefault(sample.name, []).append(sample)

    @classmethod
    def parse(cls, text):
        parse = metrics_parser()
        if parse is None:
            raise MetricsParseError(missing_required_lib('prometheus-client'))
        try:
            # The parser is a generator: errors only show up while iterating.
            families = list(parse(text or ''))
        except Exception as exc:  # pylint: disable=broad-except
            raise MetricsParseError('not Prometheus text format: %s' % to_native(exc))
        return cls(families)

    def names(self):
        return sorted(self._samples)

    def samples(self, name, **labels):
        """Samples called `name` whose labels include every given label."""
        return [s for s in self._samples.get(name, [])
                if all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name, default=None, **labels):
        """Value of the first matching sample, or default."""
        found = self.samples(name, **labels)
        return found[0].value if found else default

    def by_label(self, name, label):
        """{label value: sample value} for every sample of `name` carrying `label`."""
        return dict((s.labels[label], s.value) for s in self.samples(name) if label in s.labels)

    def health_status(self):
        """{component: value} of the system_health_status gauges (1 healthy, 0 down)."""
        return self.by_label(HEALTH_GAUGE, 'component')

    def resident_memory_bytes(self):
        return self.value(RSS_METRIC)
