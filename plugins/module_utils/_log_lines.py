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
# Pieces of a file are read (or decompressed) CHUNK bytes at a time; compressed input is fed RAW_CHUNK at a time.
CHUNK = 4 * 1024 * 1024
RAW_CHUNK = 256 * 1024
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


def _truncated(path, compression):
    return IOError('%s is truncated: its %s stream ends inside a frame' % (path, compression))


def _corrupt(path, compression, exc):
    return IOError('%s is corrupt: %s decompression failed: %s' % (path, compression, exc))


def _gzip_pieces(raw, path):
    """Decompressed output of a gzip file (concatenated members too), pieces of at most CHUNK bytes."""
    decoder = zlib.decompressobj(wbits=31)
    while True:
        data = raw.read(RAW_CHUNK)
        if not data:
            break
        while True:
            try:
                out = decoder.decompress(data, CHUNK)
            except zlib.error as exc:
                raise _corrupt(path, 'gzip', exc)
            if out:
                yield out
            if decoder.eof:
                data = decoder.unused_data
                if not data:
                    break
                decoder = zlib.decompressobj(wbits=31)
                continue
            data = decoder.unconsumed_tail
            # a full piece may leave output pending inside zlib with no input left: ask again
            if not data and len(out) < CHUNK:
                break
    if not decoder.eof:
        raise _truncated(path, 'gzip')


def _zstd_pieces(raw, path):
    """Decompressed output of a zstd file (concatenated frames too). zstandard's decompressobj has no output
    limit, so the input is fed in steps that shrink when a step gives more than CHUNK bytes (a zstd block of
    128 KiB can be a few bytes): each piece stays within a few CHUNKs."""
    decoder = zstandard.ZstdDecompressor().decompressobj()
    step = RAW_CHUNK
    while True:
        data = raw.read(step)
        if not data:
            break
        while data:
            if decoder.eof:
                decoder = zstandard.ZstdDecompressor().decompressobj()
            try:
                out = decoder.decompress(data)
            except zstandard.ZstdError as exc:
                raise _corrupt(path, 'zstd', exc)
            if out:
                yield out
            if len(out) > CHUNK:
                step = max(512, step // 2)
            elif len(out) < CHUNK // 4 and step < RAW_CHUNK:
                step *= 2
            data = decoder.unused_data if decoder.eof else b''
    if not decoder.eof:
        raise _truncated(path, 'zstd')


def iter_pieces(path, compression=None):
    """The file's text, decompressed on the fly (gzip, zstd or None for plain), in pieces of about CHUNK bytes
    cut anywhere. A gzip or zstd file that ends inside a frame raises IOError (a truncated archive must be
    reported, not read as a shorter log), as does one that does not decompress."""
    if compression == 'zstd' and not HAS_ZSTD:
        raise IOError('reading %s needs the Python library zstandard on the host (requirements/managed.txt)' % path)
    with open(path, 'rb', buffering=0) as raw:
        if compression == 'gzip':
            yield from _gzip_pieces(raw, path)
        elif compression == 'zstd':
            yield from _zstd_pieces(raw, path)
        else:
            while True:
                piece = raw.read(CHUNK)
                if not piece:
                    break
                yield piece


def iter_regions(pieces):
    """(data, start, end) for each run of whole lines of a stream of pieces: data[start:end] ends with a
    newline but perhaps at the end of the file. Pieces are not copied: a line cut by a piece's edge comes as a
    region of its own (its two halves joined).

    A run of MAX_LINE bytes without a newline across pieces is cut there and counted as a line of its own, so a
    binary or corrupt file cannot make the reader hold it whole.
    """
    carry = b''
    for data in pieces:
        first = data.find(b'\n') + 1
        if first == 0:
            carry += data
            while len(carry) >= MAX_LINE:
                yield carry, 0, MAX_LINE
                carry = carry[MAX_LINE:]
            continue
        start = 0
        if carry:
            line = carry + data[:first]
            yield line, 0, len(line)
            start = first
        end = data.rfind(b'\n') + 1
        if end > start:
            yield data, start, end
        carry = data[end:]
        while len(carry) >= MAX_LINE:
            yield carry, 0, MAX_LINE
            carry = carry[MAX_LINE:]
    if carry:
        yield carry, 0, len(carry)


def iter_lines(path, compression=None):
    """Every line of a log file as bytes (with its newline, but perhaps the last), streamed. A line ends at a
    newline only: a carriage return inside a line is part of it."""
    for data, start, end in iter_regions(iter_pieces(path, compression)):
        at = start
        while at < end:
            stop = data.find(b'\n', at, end) + 1 or end
            yield data[at:stop]
            at = stop
