# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import excerpt
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._printable import printable, printable_data


@pytest.mark.parametrize('text, expected', [
    (u'\x1b[2J\x1b]0;title\x07', u'\\x1b[2J\\x1b]0;title\\x07'),
    (u'ok\rFAILED\n\tnext', u'ok\\rFAILED\\n\\tnext'),
    (u'\x00\x7f\x9b31m', u'\\x00\\x7f\\x9b31m'),
    (u'abc\u202edcba\u2066x\u2069\u2028', u'abc\\u202edcba\\u2066x\\u2069\\u2028'),
    (u'caf\u00e9 \u2713 \U0001F600 C:\\data', u'caf\u00e9 \u2713 \U0001F600 C:\\data'),
    (u'', u''),
])
def test_printable_escapes_controls_and_keeps_the_rest(text, expected):
    assert printable(text) == expected


def test_printable_data_walks_keys_values_and_lists():
    data = {u'cache\x1b[K': [u'a\x07', 1, None, {u'k': u'\r'}], u'n': 2.5, u'b': True}
    assert printable_data(data) == {u'cache\\x1b[K': [u'a\\x07', 1, None, {u'k': u'\\r'}], u'n': 2.5, u'b': True}
    assert printable(None) is None and printable_data(7) == 7


def test_excerpt_of_a_body_is_printable():
    assert excerpt(u'Internal\x1b[31m Error\x07\r\n' + u'x' * 300, limit=22) == u'Internal\\x1b[31m Error\\x07 x...'
