# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # Options for talking to the Inventory Enterprise HTTP API (see module_utils/_api.py).
    DOCUMENTATION = r'''
options:
  api_url:
    description:
      - Base URL of the Inventory Enterprise service, without a trailing path.
      - Endpoints such as C(/health) and C(/metrics) are appended to it.
      - The URL is requested from the managed host, so C(localhost) means the managed host itself.
    type: str
    default: http://localhost:8083
  api_timeout:
    description:
      - Seconds to wait for the service to connect and answer, per request.
      - A request that takes longer is reported as a timeout.
    type: float
    default: 10
  validate_certs:
    description:
      - Whether to validate the TLS certificate when O(api_url) uses C(https).
      - Only set to V(false) on trusted networks with self-signed certificates.
    type: bool
    default: true
  api_token:
    description:
      - Bearer token sent in the C(Authorization) header, for endpoints that need a JWT.
      - Never logged.
    type: str
'''
