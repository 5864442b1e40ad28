# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Review and search of the service's logs (module log_search): a time window, a query, bounded results.

Files are streamed in regions of whole lines (_log_lines.iter_regions). The result is the one reading every line
with _log_lines.parse_line would give (Search(per_line=True) does exactly that, and the unit tests hold the two
equal); the fast path gets there with few byte operations in C per region:

- one regex finds every line that is NOT ``<date>T<HH:MM:SS.mmm>Z INFO `` with the region's own date(s), in the
  hours of its first and last lines, at a valid time, and tells the level of those in that form: INFO lines are
  counted by difference, never looked at; WARNING and DEBUG lines are counted; ERROR and CRITICAL lines are checked
  against the window (and matched for `errors`); every other line (another format, malformed) is parsed in Python,
  so unparseable lines are counted exactly;
- the lines are counted with a search for a newline and the date (bytes.count of a longer needle skips; of one
  byte it reads every byte), plus those the regex found without it;
- for the other queries, the lines in which a byte pattern occurs (a literal, `backup.*failed` in the lowercased
  text, for `slow` a duration with enough digits) are parsed and checked against the window one by one.

The window: a region whose first and last lines fall inside it counts its INFO, WARNING and DEBUG lines as inside;
one wholly before or after it, as outside; one across an edge is cut in pieces and the pieces at the edge are read
line by line. Lines are taken to be in time order within a file, as the service appends them (only those three
levels rely on it).

Files are read in parallel processes, one file each, when the host has more than one core, and their bounded
summaries merged in file order into the same result as one process reading them all.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import concurrent.futures
import datetime
import multiprocessing
import os
import re
import sys

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _log_lines
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._printable import printable

QUERIES = ('errors', 'auth', 'user', 'slow', 'backup_failed', 'all')
# The files each query reads unless told otherwise: those the guide greps.
DEFAULT_CLASSES = dict(errors=['application'], auth=['security'], user=['audit', 'application', 'security'],
                       slow=['application'], backup_failed=['application'], all=['application', 'security', 'audit'])
WINDOWS = ('today', 'last_hour', 'since', 'all')
SAMPLE_CHARS = 500
# A region with no line in the service's own form near its start or end, or across the window's edge, is re-examined
# in pieces of this size before any goes line by line.
PIECE = 16 * 1024
# Distinct messages kept with counts; beyond this, matches of new messages are only counted (other_messages).
MAX_DISTINCT = 5000
NORMALISE = [(re.compile(r'\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b'), '<ip>'),
             (re.compile(r'\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b'), '<id>'),
             (re.compile(r'\b(?=[0-9a-f]*\d)[0-9a-f]{12,}\b'), '<id>'),
             (re.compile(r'\d+(?:\.\d+)?'), '<n>')]

# A line in the service's own form: a UTC time with milliseconds that parse_line accepts (the date is checked
# apart), one space, a level, one space. parse_line gives such a line exactly this time, level and the rest.
_TIME = br'T(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)\.\d\d\dZ'
STRICT_RE = re.compile(br'(\d{4}-\d\d-\d\d' + _TIME + br') (INFO|ERROR|WARNING|CRITICAL|DEBUG) ')
LEVEL_NAMES = dict((level.encode('ascii'), level) for level in _log_lines.LEVELS)
MATCHED_LEVELS = ('ERROR', 'CRITICAL')
# Message grouping: normalise() replaces every ASCII digit, and gives the same result when each is read as 0, so
# messages that differ only in their digits share one cache entry.
ZEROS = bytes.maketrans(b'123456789', b'000000000')
CACHED_MESSAGE_BYTES = 256
CACHE_SIZE = 4096
# Parallel reading: files worth reading in a process of their own, and the memory all processes together keep under.
PARALLEL_MIN_BYTES = 32 * 1024 * 1024
MEMORY_BUDGET = 192 * 1024 * 1024
# What a worker process adds to the resident memory it shares with its parent: a piece being read, its decompressed
# output, the lines parsed, the bounded summary.
WORKER_EXTRA = 3 * _log_lines.CHUNK + 8 * 1024 * 1024


class SearchError(Exception):
    pass


def normalise(message):
    """The message with addresses, ids and numbers replaced, so `GET /x/12 200 duration=3ms` and
    `GET /x/98 200 duration=41ms` count as one message."""
    for pattern, replacement in NORMALISE:
        message = pattern.sub(replacement, message)
    return message


_GROUPS = {}


def message_key(raw):
    """normalise() of the first SAMPLE_CHARS characters of a message given as UTF-8 bytes, remembered for short
    messages by their digits-as-zero form."""
    if len(raw) > CACHED_MESSAGE_BYTES:
        return normalise(raw.decode('utf-8', 'replace')[:SAMPLE_CHARS])
    zeroed = raw.translate(ZEROS)
    key = _GROUPS.get(zeroed)
    if key is None:
        if len(_GROUPS) >= CACHE_SIZE:
            _GROUPS.clear()
        key = _GROUPS[zeroed] = normalise(zeroed.decode('utf-8', 'replace')[:SAMPLE_CHARS])
    return key


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


def _at_least(number):
    """A regex for the strings of as many digits as `number` (an int >= 1) whose value is at least it."""
    text = '%d' % number
    alternatives = [text]
    for at, digit in enumerate(text):
        if digit != '9':
            alternatives.append(text[:at] + '[%d-9]' % (int(digit) + 1) + '[0-9]' * (len(text) - at - 1))
    return '(?:%s)' % '|'.join(alternatives)


def _duration_pattern(threshold_ms):
    """Bytes a line must hold for its first duration (DURATION_RE's form) to be at least threshold_ms: in ms, a
    whole part of more digits than the threshold's, or as many and not less; in s, any; with digits other than
    ASCII (Python reads them), any. Python checks each line found."""
    if 1 <= threshold_ms < 1e300:
        whole = int(threshold_ms)
        millis = '(?:[0-9]{%d,}|%s)(?![0-9])' % (len('%d' % whole) + 1, _at_least(whole))
    else:  # below 1 ms (or not a number): every duration
        millis = '[0-9]'
    return re.compile(br'duration[=:] ?(?:' + millis.encode('ascii') + br'|[0-9.]*[^\x00-\x7f]|[0-9]+(?:\.[0-9]+)? ?s)')


class Query(object):
    """What a query looks for: `literal` or `pattern` finds candidate lines in a region (for `errors`, the levels
    do; for `all`, every line is one), `wants(record)` decides on a parsed line."""

    def __init__(self, name, user=None, threshold_ms=500.0):
        self.name, self.user, self.threshold_ms = name, user, threshold_ms
        if name == 'user' and not user:
            raise SearchError('query=user needs the option user (the user_id the lines name)')
        # literal: bytes found with bytes.find; pattern: a bytes regex, searched in the lowercased text when lowered.
        self.literal, self.pattern, self.lowered = None, None, False
        if name == 'auth':
            self.literal = b'auth'
        elif name == 'user':
            self.literal = user.encode('utf-8')
        elif name == 'slow':
            self.pattern = _duration_pattern(threshold_ms)
        elif name == 'backup_failed':
            # (?i) would make the regex engine try every position; lowercase ASCII text lets it skip to "backup"
            self.pattern, self.lowered = re.compile(br'backup.*failed'), True

    def params(self):
        return dict(name=self.name, user=self.user, threshold_ms=self.threshold_ms)

    def wants(self, record):
        if self.name == 'errors':
            return record.level in MATCHED_LEVELS
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

    def candidates(self, data, start, end):
        """(start, end) of each line of data[start:end] in which the query's bytes occur, in order."""
        if self.literal is not None:
            find = data.find
            at = find(self.literal, start, end)
            while at >= 0:
                line, stop = _line_around(data, start, end, at)
                yield line, stop
                at = find(self.literal, stop, end)
        else:
            offset = 0
            if self.lowered:  # bytes.lower() changes ASCII letters only: lines stay where they were
                data, offset, start, end = data[start:end].lower(), start, 0, end - start
            search = self.pattern.search
            match = search(data, start, end)
            while match is not None:
                line, stop = _line_around(data, start, end, match.start())
                yield line + offset, stop + offset
                match = search(data, stop, end)


def _line_around(data, start, end, at):
    line = data.rfind(b'\n', start, at) + 1 or start
    stop = data.find(b'\n', at, end) + 1 or end
    return line, stop


_UNUSUAL = {}


def _hours(first, last):
    """The hours of a region's INFO lines as a regex: its first and last stamps' hours when they share their date
    and tens digit (cheaper for the regex engine than any valid hour), else any valid hour."""
    if first[:10] == last[:10] and first[11:12] == last[11:12] and first[12:13] <= last[12:13]:
        return first[11:12] + b'[' + first[12:13] + b'-' + last[12:13] + b']'
    return br'(?:[01]\d|2[0-3])'


def _unusual_lines(dates, hours):
    """The regex finding the start of every line (but the first) that is not an INFO line in the service's own form
    dated one of `dates` (valid dates), in `hours`, at a second from 0 to 59: the lines a region's fast path looks
    at. Whatever it finds is read on its own, so it may find more than it must, never less. When such a line is in
    the service's own form, it tells its level (lastindex 2: WARNING, 3: DEBUG, 4: ERROR or CRITICAL; the stamp in
    group 1)."""
    found = _UNUSUAL.get((dates, hours))
    if found is None:
        if len(_UNUSUAL) > 256:
            _UNUSUAL.clear()
        date = br'(?:' + b'|'.join(re.escape(date) for date in dates) + br')'
        found = _UNUSUAL[(dates, hours)] = re.compile(
            br'\n(?!' + date + br'T' + hours + br':[0-5]\d:[0-5]\d\.\d\d\dZ INFO )'
            br'(?:(' + date + _TIME + br') (?:(WARNING)|(DEBUG)|(ERROR|CRITICAL)) )?')
    return found


_DATES = {}


def _valid_date(date):
    known = _DATES.get(date)
    if known is None:
        known = _log_lines.parse_line(date + b'T00:00:00.000Z INFO ') is not None
        if len(_DATES) < 10000:
            _DATES[date] = known
    return known


def _strict(data, at, end):
    """(stamp bytes, level) of the line at `at` when it is in the service's own form with a valid date, else None;
    and where its message starts."""
    match = STRICT_RE.match(data, at, end)
    if match is None or not _valid_date(match.group(1)[:10]):
        return None, None, 0
    return match.group(1), LEVEL_NAMES[match.group(2)], match.end()


def _without_newline(data, at, stop):
    return data[at:stop - 1] if stop > at and data[stop - 1] == 10 else data[at:stop]


def _message(data, at, stop):
    """A line's message bytes without its newline and one carriage return before it, as parse_line strips them."""
    if stop > at and data[stop - 1] == 10:
        stop -= 1
    if stop > at and data[stop - 1] == 13:
        stop -= 1
    return data[at:stop]


def _sample(sample):
    stamp, level, message, path = sample
    if len(message) > SAMPLE_CHARS:
        message = message[:SAMPLE_CHARS] + '...'
    return dict(time=stamp, level=level, message=printable(message), file=path)


class Search(object):
    """Counts and bounded samples of one query over a window, fed file by file (scan) or from the summaries of
    other processes (merge). per_line=True reads every line with parse_line: the reference the fast path equals."""

    def __init__(self, query, since=None, until=None, top=10, samples=5, per_line=False):
        self.query = query
        self.since = _log_lines.stamp_of(since) if since else ''
        self.until = _log_lines.stamp_of(until) if until else '9999'
        self.since_bytes, self.until_bytes = self.since.encode('ascii'), self.until.encode('ascii')
        self.top, self.samples, self.per_line = top, samples, per_line
        self.levels = dict((level, 0) for level in _log_lines.LEVELS)
        self.totals = dict(lines=0, in_window=0, unparseable=0, matched=0, other_messages=0)
        self.messages = {}  # (level, normalised message) -> [count, first sample, last sample], first seen first
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
            pieces = _log_lines.iter_pieces(logfile.path, logfile.compression)
            for data, start, end in _log_lines.iter_regions(pieces):
                self.totals['lines'] += self._region(data, start, end, logfile.path, split=True)
        except Exception as exc:  # pylint: disable=broad-except  # corrupt archives raise library-specific errors
            entry['error'] = printable('%s: %s' % (exc.__class__.__name__, exc))
        for key in ('lines', 'matched', 'unparseable'):
            entry[key] = self.totals[key] - before[key]
        self.files.append(entry)
        return entry

    def _region(self, data, start, end, path, split):
        """Count, and match in, the lines of data[start:end]; returns how many there are."""
        if self.per_line or self.query.name == 'all':
            return self._lines(data, start, end, path)
        first, last = self._edge(data, start, end, True), self._edge(data, start, end, False)
        if first is not None and last is not None:
            inside = first >= self.since_bytes and last <= self.until_bytes
            if inside or last < self.since_bytes or first > self.until_bytes:
                return self._fast(data, start, end, path, inside, tuple(sorted({first[:10], last[:10]})),
                                  _hours(first, last))
        if split and end - start > PIECE:
            at, lines = start, 0
            while at < end:
                stop = data.find(b'\n', min(at + PIECE, end - 1), end) + 1 or end
                lines += self._region(data, at, stop, path, split=False)
                at = stop
            return lines
        return self._lines(data, start, end, path)

    @staticmethod
    def _edge(data, start, end, forward, tries=8):
        """The stamp of the first (last) line of the region in the service's own form, among its first (last)
        few lines; None when there is none."""
        at = start if forward else (data.rfind(b'\n', start, end - 1) + 1 or start)
        for dummy in range(tries):
            stamp = _strict(data, at, end)[0]
            if stamp is not None:
                return stamp
            if forward:
                at = data.find(b'\n', at, end) + 1
                if at <= 0 or at >= end:
                    return None
            else:
                if at <= start:
                    return None
                at = data.rfind(b'\n', start, at - 1) + 1 or start
        return None

    def _fast(self, data, start, end, path, inside, dates, hours):
        """Count a region whose INFO, WARNING and DEBUG lines are all inside (or all outside) the window; parse
        the rest (and match the errors) line by line.

        The lines are counted without a pass over every newline (bytes.count of one byte reads byte by byte): the
        lines after the first that start with `<date>T` are counted with a search that skips (a longer needle), the
        INFO lines among them are those the regex does not find, and the others are those it finds."""
        found, dated, warnings, debugs = 0, 0, 0, 0
        matching = self.query.name == 'errors'
        since, until = self.since_bytes, self.until_bytes
        starts = tuple(date + b'T' for date in dates)
        self._unusual(data, start, end, path)
        for match in _unusual_lines(dates, hours).finditer(data, start, end):
            kind = match.lastindex
            if kind is None:  # not in the service's own form with one of the dates: parsed
                at = match.end()
                if at < end:  # else the region's last newline
                    found += 1
                    dated += data.startswith(starts, at)
                    self._unusual(data, at, end, path)
                continue
            found += 1
            dated += 1
            if kind == 2:
                warnings += 1
            elif kind == 3:
                debugs += 1
            else:
                stamp = match.group(1)
                if since <= stamp <= until:
                    level = LEVEL_NAMES[match.group(4)]
                    self.levels[level] += 1
                    self.totals['in_window'] += 1
                    if matching:
                        at = match.end()
                        self._match(stamp.decode('ascii'), level,
                                    _message(data, at, data.find(b'\n', at, end) + 1 or end), path)
        info = sum(data.count(b'\n' + start_of_line, start, end) for start_of_line in starts) - dated
        if inside:
            self.levels['INFO'] += info
            self.levels['WARNING'] += warnings
            self.levels['DEBUG'] += debugs
            self.totals['in_window'] += info + warnings + debugs
            if not matching:
                self._candidates(data, start, end, path)
        return 1 + found + info

    def _unusual(self, data, at, end, path):
        """One line the fast path does not count by difference: parsed, counted, and matched for `errors`."""
        stop = data.find(b'\n', at, end) + 1 or end
        stamp, level, message_at = _strict(data, at, end)
        if stamp is None:
            self._line(_without_newline(data, at, stop), path, match=self.query.name == 'errors')
        elif self.since_bytes <= stamp <= self.until_bytes:
            self.levels[level] += 1
            self.totals['in_window'] += 1
            if level in MATCHED_LEVELS and self.query.name == 'errors':
                self._match(stamp.decode('ascii'), level, _message(data, message_at, stop), path)

    def _candidates(self, data, start, end, path):
        """Parse the lines the query's bytes occur in, and match those inside the window that it wants."""
        for at, stop in self.query.candidates(data, start, end):
            stamp, level, message_at = _strict(data, at, end)
            if stamp is not None:
                if not self.since_bytes <= stamp <= self.until_bytes:
                    continue
                raw = _message(data, message_at, stop)
                record = _log_lines.LogRecord(stamp.decode('ascii'), level, raw.decode('utf-8', 'replace'))
            else:
                record = _log_lines.parse_line(_without_newline(data, at, stop))
                if record is None or not self.since <= record.stamp <= self.until:
                    continue
            if self.query.wants(record):
                self._match_record(record, path)

    def _lines(self, data, start, end, path):
        """Every line parsed: the straightforward way, for regions the fast path cannot take and per_line."""
        lines = data[start:end].split(b'\n')
        if data[end - 1] == 10:
            lines.pop()
        for line in lines:
            self._line(line, path, match=True)
        return len(lines)

    def _line(self, line, path, match):
        record = _log_lines.parse_line(line)
        if record is None:
            self.totals['unparseable'] += 1
        elif self.since <= record.stamp <= self.until:
            self.levels[record.level] += 1
            self.totals['in_window'] += 1
            if match and self.query.wants(record):
                self._match_record(record, path)

    def _match_record(self, record, path):
        raw = record.message.encode('utf-8')
        self._match(record.stamp, record.level, raw, path, record.message)

    def _match(self, stamp, level, raw, path, message=None):
        """Count and sample one match; raw is its message as bytes (message, when given, the same decoded)."""
        if message is None:
            message = raw.decode('utf-8', 'replace')
        self.totals['matched'] += 1
        sample = (stamp, level, message[:SAMPLE_CHARS + 1], path)
        key = (level, message_key(raw))
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
            duration = _log_lines.duration_ms(message)
            if len(self.slowest) < self.samples or self.slowest and duration > self.slowest[-1][0]:
                self.slowest.append((duration, sample))
                self.slowest.sort(key=lambda pair: -pair[0])
                del self.slowest[self.samples:]

    def summary(self):
        """What merge() needs of this search: bounded (MAX_DISTINCT messages, `samples` samples), picklable."""
        return dict(levels=self.levels, totals=self.totals, messages=self.messages, first=self.first,
                    last=list(self.last), slowest=self.slowest, files=self.files)

    def merge(self, other):
        """Add the summary of a search of later files, as if this search had read them itself. False (nothing
        merged) when that cannot be told from the summary: the other search had more distinct messages than it
        could keep and this one already keeps some (the caller then reads the file itself)."""
        if other['totals']['other_messages'] and self.messages:
            return False
        for level, count in other['levels'].items():
            self.levels[level] += count
        for name, count in other['totals'].items():
            self.totals[name] += count
        for key, (count, first, last) in other['messages'].items():
            entry = self.messages.get(key)
            if entry is not None:
                entry[0] += count
                entry[2] = last
            elif len(self.messages) < MAX_DISTINCT:
                self.messages[key] = [count, first, last]
            else:
                self.totals['other_messages'] += count
        self.first.extend(other['first'][:self.samples - len(self.first)])
        self.last.extend(other['last'])
        # stable: among equal durations the earlier match stays first, as one search keeps them
        self.slowest = sorted(self.slowest + other['slowest'], key=lambda pair: -pair[0])[:self.samples]
        self.files.extend(other['files'])
        return True

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

    def settings(self):
        return dict(query=self.query.params(), since=self.since, until=self.until, top=self.top,
                    samples=self.samples, per_line=self.per_line)


def _from_settings(settings):
    search = Search(Query(**settings['query']), top=settings['top'], samples=settings['samples'],
                    per_line=settings['per_line'])
    search.since, search.until = settings['since'], settings['until']
    search.since_bytes, search.until_bytes = search.since.encode('ascii'), search.until.encode('ascii')
    return search


def _scan_in_worker(job):
    settings, logfile = job
    search = _from_settings(settings)
    search.scan(logfile)
    return search.summary()


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _resident_bytes():
    try:
        with open('/proc/self/statm') as handle:
            return int(handle.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError, IndexError):
        return 64 * 1024 * 1024


def _text_bytes(logfile):
    """About how many bytes of text a file holds (archives: several times their size)."""
    try:
        size = os.path.getsize(logfile.path)
    except OSError:
        return 0
    return size if logfile.compression is None else size * 8


def workers_for(files):
    """How many processes read `files`: one per core, one per file, no more than fit in MEMORY_BUDGET (a worker
    starts as a copy of this process), and 1 (this process alone) for little to read."""
    if len(files) < 2 or sum(_text_bytes(logfile) for logfile in files) < PARALLEL_MIN_BYTES:
        return 1
    own = _resident_bytes()
    fit = (MEMORY_BUDGET - own) // (own + WORKER_EXTRA)
    return max(1, min(_cores(), len(files), fit))


def _pool(workers):
    """A pool of `workers` forked processes (the module's code is already loaded in them), or None where there
    can be none (no /dev/shm for its semaphores)."""
    for stream in (sys.stdout, sys.stderr):  # a forked worker flushes what it inherited when it ends
        stream.flush()
    try:
        return concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context('fork'))
    except (OSError, ValueError, ImportError, NotImplementedError):
        return None


def scan_files(search, files, workers=None):
    """search.scan() every file in order, in `workers` processes (default workers_for(files)) when more than one,
    each returning the bounded summary of its file, merged in order. Should a worker die (killed for memory), the
    files not merged yet are read by this process."""
    workers = workers_for(files) if workers is None else min(workers, len(files))
    pool = _pool(workers) if workers > 1 else None
    merged = 0
    if pool is not None:
        with pool:
            settings = search.settings()
            try:
                for logfile, summary in zip(files, pool.map(_scan_in_worker, [(settings, f) for f in files])):
                    if not search.merge(summary):
                        search.scan(logfile)
                    merged += 1
            except concurrent.futures.BrokenExecutor:
                pass
    for logfile in files[merged:]:
        search.scan(logfile)
