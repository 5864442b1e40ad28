#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: cache_warm
short_description: Warm the read cache of an Inventory Enterprise service
version_added: 0.2.0
description:
  - The guide's "Midday Cache Warming" in one call - requests the guide's endpoints (O(endpoints)) and
    O(extra_endpoints), concurrently, at most O(concurrency) at a time, and reports per endpoint the status, the
    latency of the first request (before) and of a second one (after), and whether the cache was cold.
  - Each endpoint is requested twice. The service's C(X-Cache) answer header (V(HIT) or V(MISS)) says whether
    the first request found its entry; the entry was filled when the first answer was a V(MISS) and the second
    a V(HIT). An endpoint the service does not cache (no C(X-Cache)) is warmed but reports RV(endpoints[].cold)
    as V(null).
  - C(GET /api/cache/stats) is read before and after; its key count and hit/miss counters are reported and,
    for a service that sends no C(X-Cache), decide C(changed) (more keys after than before).
  - V(changed) only when entries that were missing were filled.
  - A failing endpoint is reported by name with the error and does not stop the others; the module then fails
    after all endpoints ran, unless O(report_only).
  - In check mode no entry is filled - each endpoint is asked with the C(only-if-cached) directive of C(Cache-Control) (RFC 9111),
    which the reference service answers from its cache or with C(504) without computing or storing anything;
    C(changed) predicts whether a real run would fill entries.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.api
attributes:
  check_mode:
    support: full
    details: Needs a service that honours C(Cache-Control only-if-cached) (the reference service does).
  diff_mode:
    support: none
options:
  endpoints:
    description:
      - Paths to warm, the guide's list by default. Each is a path on O(api_url) starting with C(/).
    type: list
    elements: str
    default: [/api/inventory/list, /api/dashboard/stats, /api/ai/models/list]
  extra_endpoints:
    description: More paths to warm after O(endpoints), for example C(/api/inventory/items?limit=100).
    type: list
    elements: str
    default: []
  concurrency:
    description: Most requests in flight at once.
    type: int
    default: 8
  report_only:
    description: When V(true), a failing endpoint is reported in RV(failed_endpoints) without failing the task.
    type: bool
    default: false
  host_label:
    description: Name of the host in RV(summary) and messages; defaults to the host name.
    type: str
notes:
  - Endpoints that need a token get O(api_token) in an C(Authorization) header, sent to every endpoint.
'''

EXAMPLES = r'''
- name: Warm the guide's endpoints and the top items
  inventory_enterprise.ops.cache_warm:
    api_url: http://127.0.0.1:8083
    extra_endpoints:
      - /api/inventory/items?limit=100
  register: warmed

- name: Show what was cold
  ansible.builtin.debug:
    msg: "{{ warmed.summary }}"
'''

RETURN = r'''
endpoints:
  description: One entry per endpoint, in the order requested.
  returned: always
  type: list
  elements: dict
  contains:
    endpoint:
      description: The path requested.
      type: str
      returned: always
    status:
      description: HTTP status of the last answer; null when nothing answered.
      type: int
      returned: always
    latency_before_ms:
      description: Milliseconds of the first request (the check-mode probe in check mode).
      type: float
      returned: always
    latency_after_ms:
      description: Milliseconds of the second request; null in check mode or after a failure.
      type: float
      returned: always
    cache_before:
      description: X-Cache of the first answer (HIT or MISS); null when the service sent none.
      type: str
      returned: always
    cache_after:
      description: X-Cache of the second answer; null in check mode.
      type: str
      returned: always
    cold:
      description: Whether the entry was missing; null when the service does not say (an uncached endpoint).
      type: bool
      returned: always
    filled:
      description: Whether this run filled the missing entry (MISS then HIT).
      type: bool
      returned: always
    ok:
      description: Whether the endpoint answered 2xx (or 504 to a check-mode probe of a missing entry).
      type: bool
      returned: always
    error:
      description: What failed, where and what to do; null when ok.
      type: str
      returned: always
  sample:
    - {endpoint: /api/inventory/list, status: 200, latency_before_ms: 18.4, latency_after_ms: 1.9,
       cache_before: MISS, cache_after: HIT, cold: true, filled: true, ok: true, error: null}
stats_before:
  description: C(GET /api/cache/stats) before warming (backend, hits, misses, hit_rate, keys, memory_bytes, ttl_seconds); null when it could not be read.
  returned: always
  type: dict
stats_after:
  description: C(GET /api/cache/stats) after warming; null when it could not be read.
  returned: always
  type: dict
stats_error:
  description: Why the cache statistics could not be read; null when they were.
  returned: always
  type: str
filled:
  description: Endpoints whose missing entries were filled (would be, in check mode).
  returned: always
  type: list
  elements: str
failed_endpoints:
  description: Endpoints that failed, by path.
  returned: always
  type: list
  elements: str
hit_rate:
  description: Hit rate in percent from RV(stats_after) (the service's since its start); null when unknown.
  returned: always
  type: float
summary:
  description: One line for the fleet summary.
  returned: always
  type: str
  sample: "web01: 3 endpoint(s), 2 cold filled, 0 failed; cache 2 keys, hit rate 40.0%"
msg:
  description: The failing endpoints and their errors, when any failed and O(report_only) is not set.
  returned: failure
  type: str
'''

import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import ApiClient, api_argument_spec
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._cache import (
    GUIDE_ENDPOINTS,
    read_stats,
    run_endpoints,
)


def argument_spec():
    spec = api_argument_spec()
    spec.update(
        endpoints=dict(type='list', elements='str', default=list(GUIDE_ENDPOINTS)),
        extra_endpoints=dict(type='list', elements='str', default=[]),
        concurrency=dict(type='int', default=8),
        report_only=dict(type='bool', default=False),
        host_label=dict(type='str'),
    )
    return spec


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


def endpoint_list(module):
    params = module.params
    paths = []
    for path in params['endpoints'] + params['extra_endpoints']:
        if not path.startswith('/'):
            module.fail_json(msg='endpoint %r must be a path starting with /, relative to api_url' % path)
        if path not in paths:
            paths.append(path)
    if params['concurrency'] < 1:
        module.fail_json(msg='concurrency must be at least 1, got %d' % params['concurrency'])
    if params['api_timeout'] <= 0:
        module.fail_json(msg='api_timeout must be greater than 0, got %s' % params['api_timeout'])
    return paths


def decide_changed(results, before, after):
    """Filled entries by X-Cache; for a service without X-Cache, more keys after than before."""
    if any(result['cache_before'] in ('HIT', 'MISS') for result in results):
        return any(result['filled'] for result in results)
    return bool(before and after and (after.get('keys') or 0) > (before.get('keys') or 0))


def summarize(label, results, filled, failed, stats):
    line = '%s: %d endpoint(s), %d cold filled, %d failed' % (label, len(results), len(filled), len(failed))
    if stats is not None:
        line += '; cache %s keys, hit rate %s%%' % (stats.get('keys'), stats.get('hit_rate'))
    return line


def run_module(module):
    params = module.params
    paths = endpoint_list(module)
    client = ApiClient.from_module(module)
    before, error_before = read_stats(client)
    results = run_endpoints(client, paths, params['concurrency'], probe_only=module.check_mode)
    after, error_after = (before, error_before) if module.check_mode else read_stats(client)
    if module.check_mode:
        filled = [result['endpoint'] for result in results if result['cold']]
    else:
        filled = [result['endpoint'] for result in results if result['filled']]
    failed = [result['endpoint'] for result in results if not result['ok']]
    label = params['host_label'] or socket.gethostname()
    result = dict(
        changed=bool(filled) if module.check_mode else decide_changed(results, before, after),
        endpoints=results, stats_before=before, stats_after=after, stats_error=error_after or error_before,
        filled=filled, failed_endpoints=failed, hit_rate=(after or {}).get('hit_rate'),
        summary=summarize(label, results, filled, failed, after))
    if failed and not params['report_only']:
        module.fail_json(msg='cache warming on %s failed for %s' % (label, '; '.join(
            '%s (%s)' % (item['endpoint'], item['error']) for item in results if not item['ok'])), **result)
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
