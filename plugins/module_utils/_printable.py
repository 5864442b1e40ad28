# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Text from a server (HTTP bodies, /health JSON, Redis errors) made safe for the operator's terminal.

A string that a server chose can hold ESC sequences (clear the screen, rewrite a line, set the window title),
CR to overwrite what was printed, BEL, or bidirectional overrides that show text in another order than it is.
printable() writes each of them as a visible escape (\\x1b, \\r, \\u202e) and leaves everything else as it was,
so a message stays readable and still shows what the server sent.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

# C0 controls, DEL, C1 controls, the line/paragraph separators and the bidirectional formatting characters.
_UNSAFE = re.compile(u'[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]')
_NAMED = {u'\n': u'\\n', u'\r': u'\\r', u'\t': u'\\t'}


def _escape(match):
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return u'\\x%02x' % code if code < 0x100 else u'\\u%04x' % code


def printable(text):
    """`text` with every control and bidirectional formatting character written as a visible escape."""
    if not isinstance(text, str):
        return text
    return _UNSAFE.sub(_escape, text)


def printable_data(value):
    """printable() applied to every string (dictionary keys included) of a JSON-like value."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return dict((printable_data(key), printable_data(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [printable_data(item) for item in value]
    return value
