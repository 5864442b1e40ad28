# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # Options of the modules that read a Prometheus server's HTTP API (module_utils/_prometheus_api.py
    # prometheus_argument_spec).
    DOCUMENTATION = r'''
options:
  prometheus_url:
    description: Base URL of the Prometheus server.
    type: str
    default: http://localhost:9090
  prometheus_timeout:
    description: Seconds to wait for each query's answer.
    type: float
    default: 10
  prometheus_token:
    description: Bearer token, when a proxy in front of Prometheus requires one. Never logged.
    type: str
  validate_certs:
    description: Verify the TLS certificate of O(prometheus_url).
    type: bool
    default: true
  job:
    description: Only series of this scrape job (C(job="...")).
    type: str
  instances:
    description:
      - Only these values of the instance label (C(host:port) as Prometheus scrapes them).
    type: list
    elements: str
  selector:
    description: More label matchers for every query, as written inside the braces, for example C(env="prod").
    type: str
'''
