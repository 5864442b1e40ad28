# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Holds a real module result against the module's RETURN block, key by key."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import yaml

# Ansible's common return values, documented once for every module.
COMMON = {'changed', 'failed', 'msg', 'invocation', 'diff', 'exception', 'warnings', 'deprecations'}


def undocumented(module, result):
    """Paths of the keys in `result` that the module's RETURN does not document (dicts and lists of dicts with
    `contains` are followed; a dict documented without `contains` is free-form)."""
    doc = yaml.safe_load(module.RETURN)
    found = []

    def walk(value, spec, path):
        if isinstance(value, list):
            for item in value:
                walk(item, spec, path + '[]')
            return
        if not isinstance(value, dict) or not spec:
            return
        for key, item in value.items():
            if key not in spec:
                found.append(path + key)
            else:
                walk(item, spec[key].get('contains'), path + key + '.')

    walk(dict((k, v) for k, v in result.items() if k not in COMMON), doc, '')
    return found
