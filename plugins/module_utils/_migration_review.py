# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The quarterly PostgreSQL migration evaluation (module migration_review): the figures behind the guide's "consider
migrating to PostgreSQL for high concurrency", the decision rule, and the review result (docs/reviews).

Decision rule (thresholds are module options, docs/reviews.md says why each default):
- migrate when busy errors per day, the p95 lock wait or the peak writes per minute exceed their limit;
- prepare the migration when any of them exceeds half its limit, or the database (file + WAL) exceeds its size limit;
- otherwise stay on SQLite.
A figure that could not be measured decides nothing; the recommendation says so.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _review_result

SEVERITIES = _review_result.SEVERITIES
STAY, PREPARE, MIGRATE = 'stay_on_sqlite', 'prepare_migration', 'migrate'
DECISIONS = (STAY, PREPARE, MIGRATE)
GIB = 1024 ** 3

# (figure, option holding its limit, finding id stem, what it is, value format, unit, context: (format, figures))
RULES = (
    ('busy_errors_per_day', 'max_busy_errors_per_day', 'busy_errors', 'busy errors ("database is locked") per day',
     '%.2f', '', ('%d errors over %d days with logs', ('busy_errors_total', 'log_days'))),
    ('lock_wait_p95_ms', 'max_lock_wait_p95_ms', 'lock_wait_p95', 'p95 wait for the SQLite write lock', '%d', ' ms',
     ('of %d logged waits', ('lock_waits_total',))),
    ('peak_writes_per_minute', 'max_peak_writes_per_minute', 'write_rate', 'peak writes per minute', '%d', '',
     ('in the minute of %s', ('peak_minute',))),
)
LIMIT_OPTIONS = tuple(rule[1] for rule in RULES) + ('max_database_size_gib',)


def finding(id, severity, summary, subject, value=None, threshold=None):  # pylint: disable=redefined-builtin
    return dict(id=id, severity=severity, summary=summary, subject=subject, value=value, threshold=threshold)


def sort_findings(findings):
    return _review_result.ordered(findings)


def iso(moment):
    """ISO-8601 UTC with a Z, to the second."""
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def day_x(day):
    """The x of a per-day point: the UTC midnight of 'YYYY-MM-DD'."""
    return '%sT00:00:00Z' % day


def size_text(value):
    for unit, size in (('GiB', GIB), ('MiB', 1024 ** 2), ('KiB', 1024)):
        if value >= size:
            return '%.1f %s' % (value / float(size), unit)
    return '%d bytes' % value


def _number(fmt, value):
    return fmt % value if isinstance(value, (int, float)) else str(value)


def _context(figures, context):
    text, names = context
    values = tuple(figures.get(name) for name in names)
    return ' (%s)' % (text % values) if None not in values else ''


def _rule_outcome(rule, value, limit, figures):
    """(level 0-2, finding or None, reason) of one rate rule."""
    figure, _option, stem, label, fmt, unit, context = rule
    shown = '%s %s%s%s' % (label, _number(fmt, value), unit, _context(figures, context))
    limit_shown = '%g%s' % (limit, unit)
    if value > limit:
        return 2, finding(stem + '_over_limit', 'high', '%s over the limit %s: SQLite with one writer is past what it '
                          'handles comfortably; migrate to PostgreSQL' % (shown, limit_shown), figure, value, limit), \
            '%s over the limit %s' % (shown, limit_shown)
    if value > limit / 2.0:
        return 1, finding(stem + '_near_limit', 'medium', '%s over half the limit %s: prepare the migration to '
                          'PostgreSQL' % (shown, limit_shown), figure, value, limit / 2.0), \
            '%s over half the limit %s' % (shown, limit_shown)
    return 0, None, '%s within half the limit %s' % (shown, limit_shown)


def decide(figures, limits):
    """dict(decision, reasons, findings) from the figures (a missing or None figure decides nothing) and the limits
    (the LIMIT_OPTIONS)."""
    level, findings, tripped, calm, unmeasured = 0, [], [], [], []
    for rule in RULES:
        value = figures.get(rule[0])
        if value is None:
            unmeasured.append('%s not measured' % rule[3])
            continue
        rule_level, rule_finding, reason = _rule_outcome(rule, value, limits[rule[1]], figures)
        level = max(level, rule_level)
        (tripped if rule_finding else calm).append(reason)
        if rule_finding:
            findings.append(rule_finding)
    size, size_limit = figures.get('database_bytes'), limits['max_database_size_gib'] * GIB
    if size is None:
        unmeasured.append('database size not measured')
    elif size > size_limit:
        level = max(level, 1)
        reason = 'database %s (file + WAL) over the size limit %s' % (size_text(size), size_text(size_limit))
        tripped.append(reason)
        findings.append(finding('database_size_over_limit', 'medium', reason + ': prepare the migration to '
                                'PostgreSQL', 'database_bytes', size, size_limit))
    else:
        calm.append('database %s within the size limit %s' % (size_text(size), size_text(size_limit)))
    # What decided first, then what was within limits, then what could not be judged.
    return dict(decision=DECISIONS[level], reasons=tripped + calm + unmeasured, findings=findings)


def lock_figures(lock_log, percentile):
    """The figures of a _migration_sources.LockLog; per-day means over the days the logs cover."""
    days = len(lock_log.days)
    figures = dict(log_days=days, busy_errors_total=lock_log.total('errors'), lock_waits_total=lock_log.total('waits'),
                   dual_write_failures_logged=lock_log.total('dual_write'))
    if days:
        figures['busy_errors_per_day'] = round(figures['busy_errors_total'] / float(days), 3)
        figures['lock_waits_per_day'] = round(figures['lock_waits_total'] / float(days), 3)
        figures['busy_errors_peak_day'] = max(lock_log.per_day['errors'].values() or [0])
        if lock_log.wait_ms:
            figures['lock_wait_p95_ms'] = percentile(lock_log.wait_ms, 0.95)
            figures['lock_wait_max_ms'] = max(lock_log.wait_ms)
        else:
            figures['lock_wait_p95_ms'] = 0  # days of logs without one wait: nothing waited long enough to log
    return figures


def day_series(title, counter, days, unit='count'):
    return dict(kind='time', unit=unit, title=title, points=[[day_x(day), counter.get(day, 0)] for day in days])


def write_figures(rates, end_date):
    """Figures and the writes_per_day series of a _transaction_log.WriteRates."""
    days = rates.days(end_date)
    minute, peak = rates.peak_minute()
    figures = dict(writes_total=rates.total, transaction_log_days=len(days), peak_writes_per_minute=peak,
                   writes_per_day=round(rates.total / float(len(days)), 3),
                   writes_peak_day=max(rates.per_day.values() or [0]))
    if minute:
        figures['peak_minute'] = minute + ':00Z'
    return figures, day_series('Writes per day (transaction log)', rates.per_day, days)


def mirror_outcome(report):
    """(figures, findings, unavailable) of a _postgres_mirror.MirrorReport."""
    figures, findings, unavailable = dict(postgres_mirror=report.state), [], []
    if report.state == 'unreachable':
        findings.append(finding('postgres_mirror_unreachable', 'high', 'the PostgreSQL mirror %s cannot be reached: '
                                'every dual-write fails and a migration cannot be rehearsed; check the server and '
                                'POSTGRES_DSN' % report.where, report.where))
        unavailable.append(dict(source='postgres', reason=report.error))
        return figures, findings, unavailable
    figures['postgres_server_version'] = report.server_version
    for source, error in (('postgres', report.error), ('database', report.sqlite_error)):
        if error:
            unavailable.append(dict(source=source, reason=error))
    if not report.tables:
        return figures, findings, unavailable
    missing, differing = report.missing_tables(), report.differing_tables()
    figures.update(mirror_tables=len(report.tables) - len(missing), mirror_tables_missing=len(missing),
                   mirror_row_difference=sum(abs(diff) for diff in differing.values()))
    if missing:
        findings.append(finding('postgres_mirror_tables_missing', 'medium', '%d table(s) of SQLite missing from the '
                                'mirror %s: %s; the service creates them at start when DUAL_WRITE_ENABLED is true'
                                % (len(missing), report.where, ', '.join(missing)), ', '.join(missing), len(missing),
                                0))
    for name, diff in differing.items():
        ours, theirs = report.tables[name]
        findings.append(finding('postgres_mirror_rows_differ', 'medium', 'table %s: SQLite has %d rows, the '
                                'PostgreSQL mirror %d; run dual_write_parity (sync=true repairs the mirror)'
                                % (name, ours, theirs), name, diff, 0))
    return figures, findings, unavailable


def dual_write_finding(logged, counter):
    """The dual_write_errors finding, or None: failures logged in the window, else the counter since the start."""
    value = logged if logged else counter
    if not value:
        return None
    counter_text = 'db_dual_write_errors_total %g since the service started' % counter if counter is not None \
        else 'db_dual_write_errors_total not read'
    return finding('dual_write_errors', 'medium', '%d dual-write failure(s) logged in the window (%s): the mirror '
                   'lacks those writes until dual_write_parity runs with sync=true' % (logged or 0, counter_text),
                   'db_dual_write_errors_total', value, 0)


NOT_CONFIGURED = finding(
    'postgres_mirror_not_configured', 'info', 'no PostgreSQL mirror configured: POSTGRES_DSN is not set in the '
    'service\'s .env (nor dsn or login_host given), so a migration would start without a mirror kept by dual-write; '
    'set service_postgres_dsn and service_dual_write_enabled to build one', 'POSTGRES_DSN')
PARITY_HISTORY = dict(source='parity_history', reason='the collection keeps no history of parity runs: '
                      'dual_write_parity keeps only its last checkpoint (parity_last_checked_at), so mismatches over '
                      'time (parity_mismatches) cannot be charted')


class MigrationReview(object):
    """The review being put together: each source adds figures, series, findings or an unavailable entry."""

    def __init__(self, lookback_days, now=None):
        self.until = now or datetime.datetime.now(datetime.timezone.utc)
        self.since = self.until - datetime.timedelta(days=lookback_days)
        self.figures = dict(lookback_days=lookback_days, window_start=iso(self.since), window_end=iso(self.until))
        self.series, self.findings, self.unavailable = {}, [], []
        self.read = set()  # the sources that gave something

    def missing(self, source, reason):
        self.unavailable.append(dict(source=source, reason=reason))

    def add_lock_log(self, lock_log, percentile, archive_dir):
        self.figures.update(lock_figures(lock_log, percentile))
        for entry in lock_log.unreadable:
            self.missing('logs', entry)
        if not lock_log.days:
            self.missing('logs', 'no application log file in the window: busy errors and lock waits are not measured'
                         '%s' % ('' if archive_dir else '; set archive_dir if older logs are archived'))
            return
        self.read.add('logs')
        days = lock_log.all_days()
        self.series['busy_errors_per_day'] = day_series('SQLite busy errors per day', lock_log.per_day['errors'], days)
        self.series['lock_waits_per_day'] = day_series('SQLite lock waits per day', lock_log.per_day['waits'], days)
        self.series['dual_write_failures_per_day'] = day_series('Dual-write failures per day',
                                                                lock_log.per_day['dual_write'], days)
        lookback = self.figures['lookback_days']
        if len(lock_log.days) < lookback:
            self.missing('logs', 'application logs cover %d of the %d days (from %s): the other days\' busy errors '
                         'and lock waits are not counted%s' % (len(lock_log.days), lookback, min(lock_log.days),
                                                               '' if archive_dir else '; set archive_dir to read '
                                                               'archived logs'))

    def add_write_rates(self, rates):
        figures, series = write_figures(rates, self.until.strftime('%Y-%m-%d'))
        self.figures.update(figures)
        self.series['writes_per_day'] = series
        self.read.add('transaction_log')

    def add_database_size(self, main, wal, history, growth):
        """The live size (main file, WAL) and [(time, bytes)] at each backup in the window, oldest first."""
        self.figures.update(database_bytes=main + wal, database_file_bytes=main, database_wal_bytes=wal)
        self.read.add('database')
        if growth is not None:
            self.figures['database_growth_bytes_per_day'] = round(growth, 1)
        if history:
            points = [[iso(moment), size] for moment, size in history] + [[iso(self.until), main]]
            self.series['db_size_bytes'] = dict(kind='time', unit='bytes', title='Database size (backups, then now)',
                                                points=points)

    def add_mirror(self, report, checkpoint):
        figures, findings, unavailable = mirror_outcome(report)
        self.figures.update(figures)
        self.findings.extend(findings)
        self.unavailable.extend(unavailable)
        if checkpoint:
            self.figures['parity_marked_keys'] = checkpoint['marked_keys']
            if checkpoint['checked_at']:
                self.figures['parity_last_checked_at'] = checkpoint['checked_at']
        self.unavailable.append(dict(PARITY_HISTORY))

    def add_no_mirror(self):
        self.figures['postgres_mirror'] = 'not_configured'
        self.findings.append(dict(NOT_CONFIGURED))

    def add_dual_write_errors(self, counter):
        if counter is not None:
            self.figures['dual_write_errors_total'] = counter
        found = dual_write_finding(self.figures.get('dual_write_failures_logged'), counter)
        if found:
            self.findings.append(found)

    def result(self, limits):
        decision = decide(self.figures, limits)
        return dict(changed=False, review='migration', generated_at=iso(self.until),
                    findings=sort_findings(self.findings + decision['findings']), figures=self.figures,
                    series=self.series, unavailable=self.unavailable,
                    recommendation=dict(decision=decision['decision'], reasons=decision['reasons']))
