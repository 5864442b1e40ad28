#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: redis_memory
short_description: Read the memory of the service's Redis, and cap it with maxmemory when asked
version_added: 0.2.0
description:
  - The Redis side of the guide's "High Memory Usage" runbook. Reads C(INFO memory) (C(used_memory),
    C(used_memory_peak)) and C(CONFIG GET maxmemory) and C(maxmemory-policy).
  - With O(maxmemory), sets it with C(CONFIG SET maxmemory) (the guide's C(redis-cli CONFIG SET maxmemory 1GB)),
    and O(maxmemory_policy) likewise, only when they differ from the running values. As with the guide's command,
    the change lasts until Redis restarts; put it in C(redis.conf) to keep it.
  - C(maxmemory) applies to the whole Redis, other tenants' keys included, so it is only changed when asked.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.redis
attributes:
  check_mode:
    support: full
    details: Check mode reads, and predicts the change without making it.
  diff_mode:
    support: full
    details: C(maxmemory) and C(maxmemory_policy) before and after.
options:
  redis_url:
    description:
      - URL of the service's Redis, for example V(redis://127.0.0.1:6379/0) or V(rediss://:password@cache:6380/0).
      - The password is masked everywhere; host, port and database stay visible in messages.
    type: str
    required: true
  maxmemory:
    description:
      - Memory limit to set, in bytes or with a Redis unit (V(1gb), V(512mb), V(1GB); C(k), C(m), C(g) are powers of
        1000, C(kb), C(mb), C(gb) of 1024, as in C(redis.conf)). V(0) removes the limit. Unset changes nothing.
    type: str
  maxmemory_policy:
    description: Eviction policy to set with O(maxmemory). Unset changes nothing.
    type: str
    choices: [noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random,
              volatile-ttl]
'''

EXAMPLES = r'''
- name: Cap the cache at 1 GB, evicting the least recently used keys
  inventory_enterprise.ops.redis_memory:
    redis_url: redis://127.0.0.1:6379/0
    maxmemory: 1gb
    maxmemory_policy: allkeys-lru
'''

RETURN = r'''
memory:
  description: The memory of Redis after the run (in check mode, as it is).
  returned: always
  type: dict
  contains:
    used_memory:
      description: Bytes allocated by Redis (C(INFO memory)).
      type: int
      sample: 1048576
    used_memory_human:
      description: The same, as Redis writes it.
      type: str
      sample: 1.00M
    used_memory_peak:
      description: Highest C(used_memory) since Redis started.
      type: int
    maxmemory:
      description: The limit in bytes; V(0) for none.
      type: int
    maxmemory_policy:
      description: The eviction policy.
      type: str
    used_percent_of_max:
      description: C(used_memory) in percent of C(maxmemory); null without a limit.
      type: float
commands:
  description: The C(CONFIG SET) commands run (in check mode, that would be run).
  returned: always
  type: list
  elements: str
  sample: ["CONFIG SET maxmemory 1073741824"]
'''

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _redis

UNITS = {'': 1, 'b': 1, 'k': 1000, 'kb': 1024, 'm': 1000 ** 2, 'mb': 1024 ** 2, 'g': 1000 ** 3, 'gb': 1024 ** 3}
SIZE_RE = re.compile(r'^\s*(\d+)\s*([a-z]*)\s*$')


def parse_size(text):
    """Bytes of a redis.conf size ('1gb', '512mb', '100'); None when it is not one."""
    match = SIZE_RE.match(str(text).lower())
    if not match or match.group(2) not in UNITS:
        return None
    return int(match.group(1)) * UNITS[match.group(2)]


def read(probe):
    info = probe.command('INFO memory', 'info', 'memory')
    config = probe.command('CONFIG GET maxmemory', 'config_get', 'maxmemory*')
    used, limit = int(info.get('used_memory', 0)), int(config.get('maxmemory', 0))
    return dict(used_memory=used, used_memory_human=str(info.get('used_memory_human', '')),
                used_memory_peak=int(info.get('used_memory_peak', 0)), maxmemory=limit,
                maxmemory_policy=str(config.get('maxmemory-policy', '')),
                used_percent_of_max=round(100.0 * used / limit, 1) if limit else None)


def create_module():
    spec = _redis.redis_argument_spec()
    spec['redis_url'].update(required=True)
    spec.update(maxmemory=dict(type='str'), maxmemory_policy=dict(type='str', choices=[
        'noeviction', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu',
        'volatile-random', 'volatile-ttl']))
    return AnsibleModule(argument_spec=spec, supports_check_mode=True)


def run_module(module):
    params = module.params
    _redis.mask_only_redis_passwords(module, [params['redis_url']])
    _redis.fail_if_missing_redis(module)
    wanted = {}
    if params['maxmemory'] is not None:
        wanted['maxmemory'] = parse_size(params['maxmemory'])
        if wanted['maxmemory'] is None:
            module.fail_json(msg='maxmemory %r is not a size: give bytes or a Redis unit (1gb, 512mb)'
                                 % params['maxmemory'])
    if params['maxmemory_policy']:
        wanted['maxmemory_policy'] = params['maxmemory_policy']
    probe = _redis.RedisProbe(params['redis_url'], params['redis_timeout'])
    try:
        before = read(probe)
        commands = ['CONFIG SET %s %s' % (key.replace('_', '-'), value) for key, value in sorted(wanted.items())
                    if before[key] != value]
        if commands and not module.check_mode:
            for key, value in sorted(wanted.items()):
                if before[key] != value:
                    probe.command('CONFIG SET %s' % key.replace('_', '-'), 'config_set', key.replace('_', '-'), value)
        after = before if module.check_mode else read(probe)
    except _redis.RedisProbeError as exc:
        module.fail_json(msg=str(exc))
    finally:
        probe.close()
    result = dict(changed=bool(commands), memory=after, commands=commands)
    if module._diff:
        predicted = dict(before, **wanted)
        keys = ('maxmemory', 'maxmemory_policy')
        result['diff'] = dict(before=dict((k, before[k]) for k in keys),
                              after=dict((k, (predicted if module.check_mode else after)[k]) for k in keys))
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
