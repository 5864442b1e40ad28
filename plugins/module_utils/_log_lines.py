# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The service's log files and lines: names, where they are (hot directory and archive), how to read them
(plain, gzip, zstd, streamed) and how one line parses. docs/logs.md describes the format.

A line is ``<UTC ISO-8601 time> <LEVEL> <message>``, e.g.
``2026-11-28T13:00:00.123Z INFO GET /api/inventory/list 200 duration=12ms user_id: admin``.
A file is ``<class>-<YYYY-MM-DD>.log`` (the service's local date) in the log directory, or
``<archive>/logs/<YYYY-MM>/<class>-<YYYY-MM-DD>.log.zst`` (or ``.gz``) once archived.

The search itself (windows, queries, counting) is _log_search; this file knows nothing of queries.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import datetime
import os
import re
import traceback
import zlib

ZSTD_IMP_ERR = None
try:
    import zstandard
    HAS_ZSTD = True
except ImportError:
    ZSTD_IMP_ERR = traceback.format_exc()
    HAS_ZSTD = False

CLASSES = ('application', 'security', 'audit', 'backup')
LEVELS = ('CRITICAL', 'ERROR', 'WARNING', 'INFO', 'DEBUG')
# winston's and syslog's spellings of the same levels.
LEVEL_ALIASES = {'WARN': 'WARNING', 'FATAL': 'CRITICAL', 'CRIT': 'CRITICAL', 'ERR': 'ERROR', 'VERBOSE': 'DEBUG',
                 'TRACE': 'DEBUG', 'NOTICE': 'INFO', 'HTTP': 'INFO', 'SILLY': 'DEBUG'}
COMPRESSIONS = {'': None, '.gz': 'gzip', '.zst': 'zstd'}
ARCHIVE_SUBDIR = 'logs'
CHUNK = 4 * 1024 * 1024
# A "line" without a newline for this long is cut here and counted as one unparseable line, so a binary or
# corrupt file cannot make the reader hold it whole.
MAX_LINE = 1024 * 1024

FILE_NAME_RE = re.compile(r'^(?P<cls>[a-z][a-z0-9_]*)-(?P<date>\d{4}-\d\d-\d\d)\.log(?P<ext>\.gz|\.zst)?$')
MONTH_DIR_RE = re.compile(r'^\d{4}-\d\d$')
LINE_RE = re.compile(
    br'^(?P<date>\d{4}-\d\d-\d\d)[T ](?P<time>\d\d:\d\d:\d\d)(?P<frac>\.\d{1,9})?(?P<zone>Z|[+-]\d\d:?\d\d)'
    br' +\[?(?P<level>[A-Za-z]+)\]?:? (?P<message>.*?)\r?\n?$', re.S)
DURATION_RE = re.compile(r'\bduration[=:] ?(?P<value>\d+(?:\.\d+)?) ?(?P<unit>ms|s)\b')
USER_RE = re.compile(r'\b(?:user_id: ?|user=|username=)(?P<user>[^\s,;]+)')

LogRecord = collections.namedtuple('LogRecord', 'stamp level message')
LogFile = collections.namedtuple('LogFile', 'path cls date compression archived')


def _text(value):
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return value


def _utc_stamp(date, clock, frac, zone):
    """'YYYY-MM-DDTHH:MM:SS.fffZ' in UTC: the one form windows compare as strings."""
    millis = (frac[1:] + '000')[:3] if frac else '000'
    if zone == 'Z':
        return '%sT%s.%sZ' % (date, clock, millis)
    sign = 1 if zone[0] == '+' else -1
    digits = zone[1:].replace(':', '')
    if int(digits[:2]) > 23 or int(digits[2:]) > 59:
        raise ValueError('offset %s out of range' % zone)
    offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    local = datetime.datetime.strptime('%sT%s' % (date, clock), '%Y-%m-%dT%H:%M:%S')
    utc = local - sign * offset
    return '%s.%sZ' % (utc.strftime('%Y-%m-%dT%H:%M:%S'), millis)


def parse_line(line):
    """A LogRecord(stamp, level, message) for one line (str or bytes), or None when it does not parse.

    stamp is UTC as 'YYYY-MM-DDTHH:MM:SS.fffZ' (compare stamps as strings), level one of LEVELS (aliases
    such as WARN or lowercase winston levels mapped), message the rest of the line without its newline.
    A line parses when it starts with a full ISO-8601 time with a zone (Z or an offset) and a known level.
    """
    if isinstance(line, str):
        line = line.encode('utf-8', 'surrogateescape')
    match = LINE_RE.match(line)
    if match is None:
        return None
    level = match.group('level').decode('ascii').upper()
    level = LEVEL_ALIASES.get(level, level)
    if level not in LEVELS:
        return None
    parts = [_text(match.group(name)) for name in ('date', 'time', 'frac', 'zone')]
    try:
        stamp = _utc_stamp(*parts)
    except ValueError:  # 2026-13-45 and the like
        return None
    if parts[3] == 'Z' and not _valid_date(parts[0], parts[1]):
        return None
    return LogRecord(stamp, level, _text(match.group('message')))


_DATES = {}


def _valid_date(date, clock):
    """Whether 'YYYY-MM-DD' and 'HH:MM:SS' name a real moment; dates are remembered (strptime is slow and a
    file holds one or two dates)."""
    known = _DATES.get(date)
    if known is None:
        try:
            datetime.datetime.strptime(date, '%Y-%m-%d')
            known = True
        except ValueError:
            known = False
        if len(_DATES) < 10000:
            _DATES[date] = known
    return known and clock[:2] < '24' and clock[3:5] < '60' and clock[6:8] < '61'


def stamp_of(moment):
    """The stamp form of an aware or naive-UTC datetime."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return '%s.%03dZ' % (moment.strftime('%Y-%m-%dT%H:%M:%S'), moment.microsecond // 1000)


def record_time(record):
    """The record's time as an aware UTC datetime."""
    moment = datetime.datetime.strptime(record.stamp, '%Y-%m-%dT%H:%M:%S.%fZ')
    return moment.replace(tzinfo=datetime.timezone.utc)


def duration_ms(message):
    """The request duration a message carries (``duration=12ms``, ``duration=1.5s``) in ms, or None."""
    match = DURATION_RE.search(message)
    if match is None:
        return None
    value = float(match.group('value'))
    return value * 1000.0 if match.group('unit') == 's' else value


def users(message):
    """The user names a message names (``user_id: X``, ``user=X``, ``username=X``), in order."""
    return [match.group('user') for match in USER_RE.finditer(message)]


def parse_log_name(name):
    """(class, date, compression) of a log file's base name, or None when it is not one."""
    match = FILE_NAME_RE.match(name)
    if match is None:
        return None
    try:
        date = datetime.datetime.strptime(match.group('date'), '%Y-%m-%d').date()
    except ValueError:
        return None
    return match.group('cls'), date, COMPRESSIONS[match.group('ext') or '']


def archive_path(archive_dir, name, compression='zstd'):
    """Where an archived copy of the log file `name` (``application-2026-10-01.log``) lives."""
    parsed = parse_log_name(name)
    if parsed is None or parsed[2] is not None:
        raise ValueError('%s is not a plain log file name (<class>-YYYY-MM-DD.log)' % name)
    suffix = '.zst' if compression == 'zstd' else '.gz'
    return os.path.join(archive_dir, ARCHIVE_SUBDIR, parsed[1].strftime('%Y-%m'), name + suffix)


def _date_of(value):
    if value is None or isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    return value.date()


def _listing(directory):
    try:
        return sorted(os.listdir(directory))
    except OSError:
        return []


def _candidates(directory, archived, first, last, classes):
    for name in _listing(directory):
        parsed = parse_log_name(name)
        if parsed is None or (classes and parsed[0] not in classes):
            continue
        if (first and parsed[1] < first) or (last and parsed[1] > last):
            continue
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            yield LogFile(path, parsed[0], parsed[1], parsed[2], archived)


def iter_log_files(log_dir, classes=None, since=None, until=None, archive_dir=None):
    """The log files of `classes` (all when None) dated since..until (dates or datetimes, inclusive), oldest
    first: the hot files of log_dir and, with archive_dir, the archived ones under <archive_dir>/logs/YYYY-MM/.

    A file is named for the service's local date while its lines carry UTC times, so a datetime bound
    widens by a day on each side; the caller filters lines by time. A day present both hot and archived
    (an archival run between copy and removal) is read once, from the hot file.
    """
    first, last = _date_of(since), _date_of(until)
    if isinstance(since, datetime.datetime):
        first = first - datetime.timedelta(days=1)
    if isinstance(until, datetime.datetime):
        last = last + datetime.timedelta(days=1)
    files = {}
    if archive_dir:
        root = os.path.join(archive_dir, ARCHIVE_SUBDIR)
        for month in _listing(root):
            if not MONTH_DIR_RE.match(month):
                continue
            if (first and month < first.strftime('%Y-%m')) or (last and month > last.strftime('%Y-%m')):
                continue
            for entry in _candidates(os.path.join(root, month), True, first, last, classes):
                files.setdefault((entry.date, entry.cls), entry)
    for entry in _candidates(log_dir, False, first, last, classes):
        current = files.get((entry.date, entry.cls))
        if current is None or current.archived or entry.compression is None:
            files[(entry.date, entry.cls)] = entry
    return [files[key] for key in sorted(files)]


class Decompressed(object):
    """A gzip or zstd file decompressed block by block, frame after frame (concatenated members too).

    Unlike gzip.open and zstandard's stream reader it raises IOError when the input ends inside a frame: a
    truncated archive must be reported, not read as a shorter log. Input is fed RAW_CHUNK bytes at a time, so
    one read holds at most that much input's worth of output.
    """

    RAW_CHUNK = 256 * 1024

    def __init__(self, path, compression):
        self.path, self.compression = path, compression
        self.raw = open(path, 'rb')
        self.decoder = self._new_decoder()
        self.done = False

    def _new_decoder(self):
        if self.compression == 'zstd':
            return zstandard.ZstdDecompressor().decompressobj()
        return zlib.decompressobj(wbits=31)

    def _feed(self, data):
        out = []
        while data:
            if self.decoder.eof:
                self.decoder = self._new_decoder()
            try:
                out.append(self.decoder.decompress(data))
            except Exception as exc:  # zlib.error, zstandard.ZstdError
                raise IOError('%s is corrupt: %s decompression failed: %s' % (self.path, self.compression, exc))
            data = self.decoder.unused_data if self.decoder.eof else b''
        return out

    def read(self, size=-1):
        parts, length = [], 0
        while (size < 0 or length < size) and not self.done:
            data = self.raw.read(self.RAW_CHUNK)
            if not data:
                if not self.decoder.eof:
                    raise IOError('%s is truncated: its %s stream ends inside a frame' % (self.path, self.compression))
                self.done = True
                break
            for piece in self._feed(data):
                parts.append(piece)
                length += len(piece)
        return b''.join(parts)

    def close(self):
        self.raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def open_log(path, compression=None):
    """A binary stream of the file's text, decompressed on the fly (gzip, zstd or None for plain)."""
    if compression == 'zstd' and not HAS_ZSTD:
        raise IOError('reading %s needs the Python library zstandard on the host (requirements/managed.txt)' % path)
    if compression in ('gzip', 'zstd'):
        return Decompressed(path, compression)
    return open(path, 'rb')


def iter_chunks(stream, size=None):
    """Blocks of whole lines (each ending in a newline but perhaps the last one of the file), about `size`
    (default CHUNK) bytes each.

    A run of MAX_LINE bytes without a newline is cut there, so memory stays bounded on any input.
    """
    size = size or CHUNK
    carry = b''
    while True:
        data = stream.read(size)
        if not data:
            break
        if carry:
            data = carry + data
        end = data.rfind(b'\n') + 1
        if end == 0 and len(data) < MAX_LINE:
            carry = data
            continue
        if end == 0:
            end = len(data)
        carry = data[end:]
        yield data[:end]
    if carry:
        yield carry


def iter_lines(path, compression=None):
    """Every line of a log file as bytes, streamed."""
    with open_log(path, compression) as stream:
        for chunk in iter_chunks(stream):
            yield from chunk.splitlines(True)
