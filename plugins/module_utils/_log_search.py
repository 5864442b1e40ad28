# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Review and search of the service's logs (module log_search): a time window, a query, bounded results.

Files are streamed in blocks of whole lines (_log_lines.iter_chunks). A block whose first and last lines both
fall inside the window, and whose lines each carry one ``<time>Z <LEVEL> `` prefix, is counted by level with
bytes.count (C speed) and only the lines the query's pattern finds in it are parsed; any other block (window
edge, lines in another format, malformed lines) is parsed line by line. Lines are taken to be in time order
within a file, as the service appends them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import datetime
import re

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _log_lines
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._printable import printable

QUERIES = ('errors', 'auth', 'user', 'slow', 'backup_failed', 'all')
# The files each query reads unless told otherwise: those the guide greps.
DEFAULT_CLASSES = dict(errors=['application'], auth=['security'], user=['audit', 'application', 'security'],
                       slow=['application'], backup_failed=['application'], all=['application', 'security', 'audit'])
WINDOWS = ('today', 'last_hour', 'since', 'all')
TOKENS = dict((level, ('Z %s ' % level).encode('ascii')) for level in _log_lines.LEVELS)
OTHER_LEVELS_RE = re.compile(br'Z (ERROR|WARNING|CRITICAL|DEBUG) ')
ODD_LINE_RE = re.compile(br'\n(?=[^0-9])')
DIGITS = b'0123456789'
LEVEL_NAMES = dict((level.encode('ascii'), level) for level in _log_lines.LEVELS)
SAMPLE_CHARS = 500
# A block that is not all in the service's format is re-examined in pieces of this size before any goes line by line.
PIECE = 16 * 1024
# Distinct messages kept with counts; beyond this, matches of new messages are only counted (other_messages).
MAX_DISTINCT = 5000
NORMALISE = [(re.compile(r'\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b'), '<ip>'),
             (re.compile(r'\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b'), '<id>'),
             (re.compile(r'\b(?=[0-9a-f]*\d)[0-9a-f]{12,}\b'), '<id>'),
             (re.compile(r'\d+(?:\.\d+)?'), '<n>')]


class SearchError(Exception):
    pass


def normalise(message):
    """The message with addresses, ids and numbers replaced, so `GET /x/12 200 duration=3ms` and
    `GET /x/98 200 duration=41ms` count as one message."""
    for pattern, replacement in NORMALISE:
        message = pattern.sub(replacement, message)
    return message


def _parse_moment(text, option):
    """An ISO-8601 date or time (a zone, or else the host's local time) as an aware datetime."""
    value = text.strip()
    if value.endswith(('Z', 'z')):
        value = value[:-1] + '+00:00'
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise SearchError('%s=%r is not an ISO-8601 date or time (e.g. 2026-11-28, 2026-11-28T13:00:00Z or '
                          '2026-11-28T14:00:00+01:00)' % (option, text))
    return moment if moment.tzinfo else moment.astimezone()


def window_bounds(window, since=None, until=None, now=None):
    """(since, until) aware datetimes of a window; since is None for `all`. `today` starts at the host's
    local midnight, as the service's file of the day does."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    end = _parse_moment(until, 'end') if until else now
    if window == 'today':
        local = now.astimezone()
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elif window == 'last_hour':
        start = end - datetime.timedelta(hours=1)
    elif window == 'since':
        if not since:
            raise SearchError('window=since needs the option since (an ISO-8601 date or time)')
        start = _parse_moment(since, 'since')
    else:
        start = None
    if start is not None and start > end:
        raise SearchError('the window starts (%s) after it ends (%s): check since and end' % (start, end))
    return start, end


class Query(object):
    """What a query looks for: `pattern` finds candidate lines in a block (None: every line), `wants(record)`
    decides on a parsed line."""

    def __init__(self, name, user=None, threshold_ms=500.0):
        self.name, self.user, self.threshold_ms = name, user, threshold_ms
        if name == 'user' and not user:
            raise SearchError('query=user needs the option user (the user_id the lines name)')
        # literals: byte strings found with bytes.find (fastest); pattern: a regex; neither: every line.
        self.literals, self.pattern = None, None
        if name == 'errors':
            self.literals = (TOKENS['ERROR'], TOKENS['CRITICAL'])
        elif name == 'auth':
            self.literals = (b'auth',)
        elif name == 'user':
            self.literals = (user.encode('utf-8'),)
        elif name == 'slow':
            self.literals = (b'duration',)
        elif name == 'backup_failed':
            self.pattern = re.compile(br'(?i)backup.*failed')

    def wants(self, record):
        if self.name == 'errors':
            return record.level in ('ERROR', 'CRITICAL')
        if self.name == 'auth':
            return 'auth' in record.message
        if self.name == 'user':
            return self.user in _log_lines.users(record.message)
        if self.name == 'slow':
            duration = _log_lines.duration_ms(record.message)
            return duration is not None and duration >= self.threshold_ms
        if self.name == 'backup_failed':
            return re.search(r'(?i)backup.*failed', record.message) is not None
        return True


def _line_starts(chunk, query):
    """Offsets of the lines of a block in which the query's literals or pattern occur, in order."""
    starts = set()
    if query.literals:
        for literal in query.literals:
            at = chunk.find(literal)
            while at >= 0:
                start = chunk.rfind(b'\n', 0, at) + 1
                starts.add(start)
                end = chunk.find(b'\n', at)
                at = chunk.find(literal, end) if end >= 0 else -1
    else:
        for match in query.pattern.finditer(chunk):
            starts.add(chunk.rfind(b'\n', 0, match.start()) + 1)
    return sorted(starts)


def _line_count(chunk):
    return chunk.count(b'\n') + (0 if chunk.endswith(b'\n') else 1)


def _pieces(chunk, size):
    """The block cut into pieces of whole lines of about `size` bytes."""
    start = 0
    while start < len(chunk):
        end = chunk.find(b'\n', start + size) + 1 or len(chunk)
        yield chunk[start:end]
        start = end


def _line_at(chunk, start):
    end = chunk.find(b'\n', start)
    return chunk[start:] if end < 0 else chunk[start:end + 1]


class Search(object):
    """Counts and bounded samples of one query over a window, fed file by file."""

    def __init__(self, query, since=None, until=None, top=10, samples=5):
        self.query = query
        self.since = _log_lines.stamp_of(since) if since else ''
        self.until = _log_lines.stamp_of(until) if until else '9999'
        self.top, self.samples = top, samples
        self.levels = dict((level, 0) for level in _log_lines.LEVELS)
        self.totals = dict(lines=0, in_window=0, unparseable=0, matched=0, other_messages=0)
        self.messages = {}
        self.first, self.last = [], collections.deque(maxlen=samples)
        self.slowest = []  # (duration, sample), at most `samples`, slowest first
        self.files = []

    def scan(self, logfile):
        """Read one file (a _log_lines.LogFile); a file that cannot be read is reported, never fatal."""
        entry = dict(path=logfile.path, log_class=logfile.cls, date=logfile.date.isoformat(),
                     compression=logfile.compression or 'none', archived=logfile.archived, lines=0, matched=0,
                     unparseable=0)
        before = dict(self.totals)
        try:
            with _log_lines.open_log(logfile.path, logfile.compression) as stream:
                for chunk in _log_lines.iter_chunks(stream):
                    self._chunk(chunk, logfile.path)
        except Exception as exc:  # pylint: disable=broad-except  # corrupt archives raise library-specific errors
            entry['error'] = printable('%s: %s' % (exc.__class__.__name__, exc))
        for key, name in (('lines', 'lines'), ('matched', 'matched'), ('unparseable', 'unparseable')):
            entry[key] = self.totals[name] - before[name]
        self.files.append(entry)
        return entry

    def _chunk(self, chunk, path):
        count = _line_count(chunk)
        self.totals['lines'] += count
        self._block(chunk, count, path, split=True)

    def _block(self, chunk, count, path, split):
        first = _log_lines.parse_line(_line_at(chunk, 0))
        last = _log_lines.parse_line(_line_at(chunk, chunk.rfind(b'\n', 0, len(chunk) - 1) + 1))
        if first is not None and last is not None:
            if last.stamp < self.since or first.stamp > self.until:
                return  # entirely outside the window: nothing to count or match
            if first.stamp >= self.since and last.stamp <= self.until and self.query.name != 'all':
                if self._fast(chunk, count, path):
                    return
                if split:
                    # A few odd lines (a traceback) should not send 4 MiB line by line: only their pieces go.
                    for piece in _pieces(chunk, PIECE):
                        self._block(piece, _line_count(piece), path, split=False)
                    return
        self._slow(chunk, path)

    def _fast(self, chunk, count, path):
        """Count a block wholly inside the window by level tokens; False (nothing counted) when its lines are
        not all in the service's own format. Three passes over the bytes: newlines (by the caller), INFO (most
        lines) and one regex for the other levels, which also gives the error lines' places."""
        levels = dict.fromkeys(_log_lines.LEVELS, 0)
        levels['INFO'] = chunk.count(TOKENS['INFO'])
        errors = []
        for match in OTHER_LEVELS_RE.finditer(chunk):
            level = LEVEL_NAMES[match.group(1)]
            levels[level] += 1
            if level in ('ERROR', 'CRITICAL'):
                errors.append(chunk.rfind(b'\n', 0, match.start()) + 1)
        odd = []
        if sum(levels.values()) != count:
            # Lines that do not start with a digit (a traceback, a blank line) have no prefix: take them apart.
            odd = [match.start() + 1 for match in ODD_LINE_RE.finditer(chunk)]
            if chunk[:1] not in DIGITS:
                odd.insert(0, 0)
            if sum(levels.values()) + len(odd) != count:
                return False
        found = []
        for start in errors if self.query.name == 'errors' else _line_starts(chunk, self.query):
            record = _log_lines.parse_line(_line_at(chunk, start))
            if record is None:
                return False
            if self.query.wants(record):
                found.append(record)
        for level, number in levels.items():
            self.levels[level] += number
        self.totals['in_window'] += count - len(odd)
        for record in found:
            self._match(record, path)
        if odd:
            self._slow(b''.join(_line_at(chunk, start) for start in odd), path)
        return True

    def _slow(self, chunk, path):
        for line in chunk.splitlines():
            record = _log_lines.parse_line(line)
            if record is None:
                self.totals['unparseable'] += 1
            elif self.since <= record.stamp <= self.until:
                self.levels[record.level] += 1
                self.totals['in_window'] += 1
                if self.query.wants(record):
                    self._match(record, path)

    def _match(self, record, path):
        self.totals['matched'] += 1
        sample = (record, path)
        key = (record.level, normalise(record.message[:SAMPLE_CHARS]))
        entry = self.messages.get(key)
        if entry is None:
            if len(self.messages) >= MAX_DISTINCT:
                self.totals['other_messages'] += 1
            else:
                self.messages[key] = [1, sample, sample]
        else:
            entry[0] += 1
            entry[2] = sample
        if len(self.first) < self.samples:
            self.first.append(sample)
        self.last.append(sample)
        if self.query.name == 'slow':
            self._slowest(record, sample)

    def _slowest(self, record, sample):
        duration = _log_lines.duration_ms(record.message)
        if len(self.slowest) < self.samples or duration > self.slowest[-1][0]:
            self.slowest.append((duration, sample))
            self.slowest.sort(key=lambda pair: -pair[0])
            del self.slowest[self.samples:]

    def result(self):
        ranked = sorted(self.messages.items(), key=lambda item: (-item[1][0], item[0]))[:self.top]
        messages = [dict(level=key[0], message=printable(key[1]), count=entry[0], first=_sample(entry[1]),
                         last=_sample(entry[2])) for key, entry in ranked]
        out = dict(lines_scanned=self.totals['lines'], lines_in_window=self.totals['in_window'],
                   unparseable=self.totals['unparseable'], matched=self.totals['matched'],
                   levels=dict(self.levels), messages=messages, distinct_messages=len(self.messages),
                   other_messages=self.totals['other_messages'], first=[_sample(s) for s in self.first],
                   last=[_sample(s) for s in self.last], files=self.files,
                   unreadable_files=[entry['path'] for entry in self.files if 'error' in entry])
        if self.query.name == 'slow':
            out['slowest'] = [dict(_sample(sample), duration_ms=duration) for duration, sample in self.slowest]
        return out


def _sample(sample):
    record, path = sample
    message = record.message
    if len(message) > SAMPLE_CHARS:
        message = message[:SAMPLE_CHARS] + '...'
    return dict(time=record.stamp, level=record.level, message=printable(message), file=path)
