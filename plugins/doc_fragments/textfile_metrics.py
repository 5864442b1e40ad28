# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # The procedure metrics of a run as a node_exporter textfile (see module_utils/_textfile_metrics.py).
    DOCUMENTATION = r'''
options:
  metrics_textfile_dir:
    description:
      - Directory of node_exporter's textfile collector (Debian's C(prometheus-node-exporter) reads
        C(/var/lib/prometheus/node-exporter)). The run writes its metrics there as one C(<procedure>.prom)
        file, atomically (a temporary file in the same directory, then a rename), with C(prometheus_client).
      - A failed run keeps the last success timestamp of the file it replaces.
      - Writing the metrics never fails the procedure; an error (missing directory, no permission) is a
        warning. Check mode writes nothing. The file is bookkeeping and never reported as a change.
      - Unset or empty writes no metrics. See C(docs/procedure-metrics.md) for the metrics.
    type: path
    version_added: 0.2.0
requirements:
  - prometheus-client (the Python library) on the managed host, only when O(metrics_textfile_dir) is set.
'''
