# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # Options for talking to the Redis cache of the service (see module_utils/_redis.py).
    DOCUMENTATION = r'''
options:
  redis_url:
    description:
      - URL of the Redis cache used by the service, for example V(redis://127.0.0.1:6379/0),
        V(rediss://:password@cache.example.com:6380/0) or V(unix:///run/redis/redis.sock?db=0).
      - May contain a password. The password is masked everywhere (C(redis://:****@cache:6379/0) in messages);
        host, port and database stay visible, so a message says which Redis it is about.
      - When not set, Redis checks are skipped.
    type: str
  redis_timeout:
    description:
      - Seconds to wait for Redis to connect and to answer each command.
    type: float
    default: 2
requirements:
  - redis (the redis-py Python library) on the managed host, only when O(redis_url) is set.
'''
