#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: cache_clear
short_description: Delete only the Inventory Enterprise service's own keys from its Redis cache
version_added: 0.2.0
description:
  - The "Clear" of the guide's "Cache Misses" resolution, without its C(redis-cli FLUSHDB) - deletes the keys
    under the service's prefix O(key_prefix), found with C(SCAN) (never C(KEYS)), in batches of C(DEL).
  - Never C(FLUSHDB) or C(FLUSHALL) - a Redis shared with another tenant or application keeps every key outside
    the prefix; RV(other_keys_before) and RV(other_keys_after) show it.
  - V(changed) when keys under the prefix existed. In check mode they are counted, not deleted.
  - The service itself (not this module) refills the entries on its next reads; run
    M(inventory_enterprise.ops.cache_warm) next, as the runbook C(playbooks/runbooks/cache_misses.yml) does.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.redis
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The number of the service's keys before and after.
options:
  redis_url:
    description:
      - URL of the Redis cache used by the service (C(REDIS_URL) of its C(.env)). Required here.
    required: true
  key_prefix:
    description:
      - The service's key prefix. Only keys starting with it are deleted; glob characters in it are matched
        literally. Must not be empty (that would be every key of the database).
    type: str
    default: "ie:cache:"
'''

EXAMPLES = r'''
- name: Clear the service's cache entries, and nothing else of a shared Redis
  inventory_enterprise.ops.cache_clear:
    redis_url: "{{ service_redis_url }}"
  register: cleared
'''

RETURN = r'''
deleted:
  description: Keys deleted (would be deleted, in check mode).
  returned: always
  type: int
  sample: 42
keys_before:
  description: Keys under O(key_prefix) before.
  returned: always
  type: int
keys_after:
  description: Keys under O(key_prefix) after (the same as RV(keys_before) in check mode).
  returned: always
  type: int
other_keys_before:
  description: Keys of the database outside O(key_prefix) before (C(DBSIZE) minus the service's).
  returned: always
  type: int
other_keys_after:
  description: Keys of the database outside O(key_prefix) after; nothing of theirs is deleted.
  returned: always
  type: int
redis:
  description: The Redis cleared, password masked.
  returned: always
  type: str
  sample: "redis://:****@cache.example.com:6379/0"
diff:
  description: The number of the service's keys before and after, in diff mode.
  returned: when diff mode is on
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._cache import (
    DEFAULT_KEY_PREFIX,
    delete_keys,
    own_keys,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._redis import (
    RedisProbe,
    RedisProbeError,
    fail_if_missing_redis,
    mask_only_redis_passwords,
    redis_argument_spec,
)


def argument_spec():
    spec = redis_argument_spec()
    spec['redis_url'].update(required=True)
    spec.update(key_prefix=dict(type='str', default=DEFAULT_KEY_PREFIX, no_log=False))
    return spec


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


def clear(module, probe):
    """The counts before and after, deleting unless in check mode."""
    prefix = module.params['key_prefix']
    client = probe.client
    try:
        keys = own_keys(client, prefix)
        other_before = int(client.dbsize()) - len(keys)
        deleted = len(keys) if module.check_mode else delete_keys(client, keys)
        after = len(keys) if module.check_mode else len(own_keys(client, prefix))
        # Keys of others that expired or were written meanwhile make this differ; none is ever deleted here.
        other_after = other_before if module.check_mode else int(client.dbsize()) - after
    except Exception as exc:  # pylint: disable=broad-except
        raise probe._error('SCAN/DEL of %s*' % prefix, exc)  # pylint: disable=protected-access
    return dict(deleted=deleted, keys_before=len(keys), keys_after=after,
                other_keys_before=other_before, other_keys_after=other_after)


def run_module(module):
    params = module.params
    mask_only_redis_passwords(module, [params['redis_url']])
    if not params['key_prefix']:
        module.fail_json(msg='key_prefix must not be empty: that would delete every key of the Redis database, '
                             'which other tenants may share; give the service\'s prefix (default ie:cache:)')
    if params['redis_timeout'] <= 0:
        module.fail_json(msg='redis_timeout must be greater than 0, got %s' % params['redis_timeout'])
    fail_if_missing_redis(module, reason='to clear the service\'s cache keys')
    probe = RedisProbe(params['redis_url'], params['redis_timeout'])
    try:
        counts = clear(module, probe)
    except RedisProbeError as exc:
        module.fail_json(msg=str(exc), redis=probe.where)
    finally:
        probe.close()
    result = dict(changed=counts['keys_before'] > 0, redis=probe.where, **counts)
    if module._diff:
        result['diff'] = dict(before=dict(keys=counts['keys_before']),
                              after=dict(keys=counts['keys_before'] - counts['deleted']))
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
