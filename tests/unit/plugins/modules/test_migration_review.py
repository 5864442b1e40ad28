# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""migration_review: the decision rule (table-driven), lock waits and busy errors counted from log files in the
service's format (plain, gzip, zstd, corrupt), write rates from the transaction log, database size from real backup
archives, and the PostgreSQL mirror against the real local server."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import gzip
import json
import math
import os
import sqlite3

import psycopg2
import pytest
import zstandard

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import (
    _archive,
    _log_lines,
    _migration_review,
    _migration_sources,
    _service_layout,
    _transaction_log,
)
from ansible_collections.inventory_enterprise.ops.plugins.modules import migration_review
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.maintenance_dbs import make_db, pg_exec
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module
from ansible_collections.inventory_enterprise.ops.tests.unit.servers import closed_port, metrics_text, route

GIB = 1024 ** 3
LIMITS = dict(max_busy_errors_per_day=1.0, max_lock_wait_p95_ms=1000.0, max_peak_writes_per_minute=1200.0,
              max_database_size_gib=10.0)
CALM = dict(busy_errors_per_day=0.0, lock_wait_p95_ms=120, peak_writes_per_minute=40, database_bytes=GIB)


# --- the decision rule ------------------------------------------------------------------------------------------

@pytest.mark.parametrize('changes, decision, finding_ids', [
    ({}, 'stay_on_sqlite', []),
    # busy errors: over the limit migrates, exactly the limit or half of it does not
    (dict(busy_errors_per_day=1.5), 'migrate', ['busy_errors_over_limit']),
    (dict(busy_errors_per_day=1.0), 'prepare_migration', ['busy_errors_near_limit']),
    (dict(busy_errors_per_day=0.5), 'stay_on_sqlite', []),
    # p95 lock wait
    (dict(lock_wait_p95_ms=1200), 'migrate', ['lock_wait_p95_over_limit']),
    (dict(lock_wait_p95_ms=501), 'prepare_migration', ['lock_wait_p95_near_limit']),
    (dict(lock_wait_p95_ms=500), 'stay_on_sqlite', []),
    # peak write rate
    (dict(peak_writes_per_minute=1201), 'migrate', ['write_rate_over_limit']),
    (dict(peak_writes_per_minute=700), 'prepare_migration', ['write_rate_near_limit']),
    (dict(peak_writes_per_minute=600), 'stay_on_sqlite', []),
    # size prepares, never migrates
    (dict(database_bytes=11 * GIB), 'prepare_migration', ['database_size_over_limit']),
    (dict(database_bytes=10 * GIB), 'stay_on_sqlite', []),
    # the worst rule decides; every tripped one is a finding
    (dict(busy_errors_per_day=3, peak_writes_per_minute=700, database_bytes=12 * GIB), 'migrate',
     ['busy_errors_over_limit', 'database_size_over_limit', 'write_rate_near_limit']),
    # a figure not measured decides nothing
    (dict(busy_errors_per_day=None, lock_wait_p95_ms=None, peak_writes_per_minute=None, database_bytes=None),
     'stay_on_sqlite', []),
])
def test_decision_rule(changes, decision, finding_ids):
    figures = dict(CALM, **changes)
    outcome = _migration_review.decide(figures, LIMITS)
    assert outcome['decision'] == decision
    assert sorted(f['id'] for f in outcome['findings']) == finding_ids
    for found in outcome['findings']:
        rate_over = found['id'].endswith('_over_limit') and found['id'] != 'database_size_over_limit'
        assert found['severity'] == ('high' if rate_over else 'medium')
        assert found['value'] == figures[found['subject']]
    # the reasons carry the figures, tripped ones first
    if finding_ids:
        assert 'limit' in outcome['reasons'][0]
    if changes.get('busy_errors_per_day') == 1.5:
        assert outcome['reasons'][0].startswith('busy errors ("database is locked") per day 1.50 over the limit 1')
    if changes.get('database_bytes') is None and 'database_bytes' in changes:
        assert outcome['reasons'][-1] == 'database size not measured'


def test_limits_are_options():
    figures = dict(CALM, lock_wait_p95_ms=300)
    assert _migration_review.decide(figures, LIMITS)['decision'] == 'stay_on_sqlite'
    assert _migration_review.decide(figures, dict(LIMITS, max_lock_wait_p95_ms=250))['decision'] == 'migrate'


def test_reasons_name_the_counts_behind_each_figure():
    figures = dict(CALM, busy_errors_per_day=1.5, busy_errors_total=3, log_days=2, lock_waits_total=40,
                   peak_minute='2026-11-02T10:15:00Z')
    reasons = _migration_review.decide(figures, LIMITS)['reasons']
    assert reasons == [
        'busy errors ("database is locked") per day 1.50 (3 errors over 2 days with logs) over the limit 1',
        'p95 wait for the SQLite write lock 120 ms (of 40 logged waits) within half the limit 1000 ms',
        'peak writes per minute 40 (in the minute of 2026-11-02T10:15:00Z) within half the limit 1200',
        'database 1.0 GiB within the size limit 10.0 GiB']


def test_percentile_is_nearest_rank():
    counts = {10: 18, 900: 1, 2000: 1}  # 20 values: the 19th is the p95
    assert _migration_sources.percentile(counts, 0.95) == 900
    assert _migration_sources.percentile({5: 1}, 0.95) == 5
    assert _migration_sources.percentile({}, 0.95) is None


# --- the service's layout ---------------------------------------------------------------------------------------

NOW = datetime.datetime.now(datetime.timezone.utc)


def ago(days, hours=1):
    return NOW - datetime.timedelta(days=days, hours=hours)


def service(tmp_path, env=''):
    home = tmp_path / 'home'
    for sub in ('data', 'logs', 'backups'):
        (home / sub).mkdir(parents=True)
    (home / '.env').write_text('PORT=8083\n' + env)
    make_db(home / 'data' / 'enterprise_inventory.db', items=200, delete_fraction=0)
    return home


def line(moment, level, message):
    return '%s %s %s\n' % (_log_lines.stamp_of(moment), level, message)


def write_log(directory, moment, lines, compression=None):
    """application-<local date>.log of `moment`, as the service names it; gzip or zstd compressed when asked."""
    name = 'application-%s.log' % moment.astimezone().date().isoformat()
    data = ''.join(lines).encode('utf-8')
    if compression == 'gzip':
        name, data = name + '.gz', gzip.compress(data)
    elif compression == 'zstd':
        name, data = name + '.zst', zstandard.ZstdCompressor().compress(data)
    os.makedirs(str(directory), exist_ok=True)
    path = os.path.join(str(directory), name)
    with open(path, 'wb') as handle:
        handle.write(data)
    return path


def busy_lines(moment, waits=(), errors=0, dual_write=0):
    lines = [line(moment, 'INFO', 'GET /api/inventory/list 200 duration=%dms' % n) for n in range(20)]
    lines += [line(moment, 'WARNING', 'sqlite busy wait_ms=%d op=inventory_count.create' % ms) for ms in waits]
    lines += [line(moment, 'ERROR', 'sqlite database is locked wait_ms=5003 op=invoice.create')] * errors
    lines += [line(moment, 'ERROR', 'dual-write failed operation=invoice.create tables=processed_invoices: '
                                    'OperationalError: connection refused')] * dual_write
    return lines


def write_logs(home, archive):
    """Logs of four days (one archived, one outside the window) and a corrupt one; returns what should count."""
    logs = home / 'logs'
    decoys = [line(ago(1), 'INFO', 'GET /api/items?q=sqlite+busy 404 duration=3ms'),
              line(ago(1), 'INFO', 'GET / sqlite busy wait_ms=99 op=x 404 duration=1ms'),  # not a lock wait: a path
              line(ago(1), 'INFO', 'sqlite busy wait_ms=70 op=x'),  # wrong level
              line(ago(1), 'WARNING', 'cache unavailable, serving from database: sqlite busy wait_ms=7 op=x'),
              'Traceback (most recent call last): sqlite database is locked\n']
    write_log(logs, ago(1), busy_lines(ago(1), waits=(120, 80, 300), errors=1, dual_write=2) + decoys)
    write_log(logs, ago(3), busy_lines(ago(3), waits=(60, 2000), errors=2), compression='gzip')
    write_log(os.path.join(str(archive), 'logs', ago(40).astimezone().strftime('%Y-%m')), ago(40),
              busy_lines(ago(40), waits=(500,), errors=1), compression='zstd')
    write_log(logs, ago(100), busy_lines(ago(100), waits=(9000,), errors=5))  # before the window
    corrupt = os.path.join(str(logs), 'application-%s.log.gz' % ago(10).astimezone().date().isoformat())
    with open(corrupt, 'wb') as handle:
        handle.write(gzip.compress(''.join(busy_lines(ago(10), errors=7)).encode())[:60])
    return dict(hot=dict(waits=[120, 80, 300, 60, 2000], errors=3, days=2, dual_write=2),
                all=dict(waits=[120, 80, 300, 60, 2000, 500], errors=4, days=3, dual_write=2), corrupt=corrupt)


def nearest_rank(values, q=0.95):
    return sorted(values)[int(math.ceil(q * len(values))) - 1]


def run(args, capsys, check_mode=False, keep_raw=False):
    args = dict(dict(check_metrics=False), **args)
    return run_module(migration_review, args, capsys, check_mode=check_mode, keep_raw=keep_raw)


# --- log counting -----------------------------------------------------------------------------------------------

def test_lock_waits_and_busy_errors_are_counted_from_plain_gzip_and_archived_logs(tmp_path, capsys):
    home = service(tmp_path)
    archive = tmp_path / 'archive'
    expected = write_logs(home, archive)
    for archive_dir, want in ((None, expected['hot']), (str(archive), expected['all'])):
        failed, result = run(dict(service_home=str(home), archive_dir=archive_dir), capsys)
        assert not failed, result
        figures = result['figures']
        assert figures['log_days'] == want['days']
        assert figures['busy_errors_total'] == want['errors']
        assert figures['busy_errors_per_day'] == round(want['errors'] / float(want['days']), 3)
        assert figures['lock_waits_total'] == len(want['waits'])
        assert figures['lock_wait_p95_ms'] == nearest_rank(want['waits'])
        assert figures['lock_wait_max_ms'] == max(want['waits'])
        assert figures['dual_write_failures_logged'] == want['dual_write']
        errors = result['series']['busy_errors_per_day']
        assert errors['kind'] == 'time' and errors['unit'] == 'count'
        assert sum(y for _x, y in errors['points']) == want['errors']
        assert [x for x, _y in errors['points']] == sorted(x for x, _y in errors['points'])
        assert (ago(3).strftime('%Y-%m-%dT00:00:00Z'), 2) in [tuple(p) for p in errors['points']]
        waits = result['series']['lock_waits_per_day']
        assert sum(y for _x, y in waits['points']) == len(want['waits'])
        logs = [entry['reason'] for entry in result['unavailable'] if entry['source'] == 'logs']
        assert any(expected['corrupt'] in reason for reason in logs), logs
        assert any(reason.startswith('application logs cover %d of the 92 days' % want['days']) for reason in logs)
    # 4 errors over 3 days of logs is over 1 a day
    assert result['recommendation']['decision'] == 'migrate'
    assert 'busy_errors_over_limit' in [f['id'] for f in result['findings']]


def test_no_logs_decide_nothing_and_say_so(tmp_path, capsys):
    home = service(tmp_path)
    (home / 'logs').rmdir()
    failed, result = run(dict(service_home=str(home)), capsys)
    assert not failed, result
    assert 'busy_errors_per_day' not in result['figures'] and 'lock_wait_p95_ms' not in result['figures']
    assert any(entry['source'] == 'logs' and 'does not exist' in entry['reason'] for entry in result['unavailable'])
    assert 'busy errors ("database is locked") per day not measured' in result['recommendation']['reasons']
    assert 'busy_errors_per_day' not in result['series']


# --- the transaction log ----------------------------------------------------------------------------------------

def txlog_line(seq, moment):
    stamp = moment if isinstance(moment, str) else _log_lines.stamp_of(moment)
    return json.dumps({"seq": seq, "ts": stamp, "op": "invoice.create", "user": "admin", "data": {"lines": 1}},
                      separators=(',', ':')) + '\n'


def test_write_rates_per_day_and_peak_minute(tmp_path):
    stamps = (['2026-03-01T23:59:59.000Z'] +  # before the window
              ['2026-03-02T10:15:%02d.000Z' % s for s in range(0, 56, 8)] +  # 7 in one minute: the peak
              ['2026-03-02T10:16:%02d.000Z' % s for s in range(0, 50, 10)] +  # 5
              ['2026-03-03T08:00:00.000Z', '2026-03-04T23:59:59.999Z'] +
              ['2026-03-05T00:00:00.000Z'])  # after the window
    path = tmp_path / 'transaction_log.jsonl'
    with open(str(path), 'w') as handle:
        for seq, stamp in enumerate(stamps, 1):
            handle.write(txlog_line(seq, stamp))
            if seq == 3:
                handle.write('not json at all\n')
    with open(str(path), 'a') as handle:
        handle.write(txlog_line(99, '2026-03-04T12:00:00.000Z')[:40])  # torn: being appended
    rates = _transaction_log.write_rates(str(path), '2026-03-02T00:00:00.000Z', '2026-03-04T23:59:59.999Z')
    assert rates.total == 14 and rates.untimed == 1
    assert dict(rates.per_day) == {'2026-03-02': 12, '2026-03-03': 1, '2026-03-04': 1}
    assert rates.peak_minute() == ('2026-03-02T10:15', 7)
    assert rates.days('2026-03-04') == ['2026-03-02', '2026-03-03', '2026-03-04']
    figures, series = _migration_review.write_figures(rates, '2026-03-04')
    assert figures == dict(writes_total=14, transaction_log_days=3, peak_writes_per_minute=7, writes_per_day=4.667,
                           writes_peak_day=12, peak_minute='2026-03-02T10:15:00Z')
    assert series['points'] == [['2026-03-02T00:00:00Z', 12], ['2026-03-03T00:00:00Z', 1], ['2026-03-04T00:00:00Z', 1]]


def test_a_large_log_is_bisected_to_the_window_and_counts_like_a_full_read(tmp_path):
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    moments = [start + datetime.timedelta(seconds=7 * n) for n in range(40000)]  # 3.2 days, 4 MB
    path = str(tmp_path / 'transaction_log.jsonl')
    with open(path, 'w') as handle:
        handle.writelines(txlog_line(n, moment) for n, moment in enumerate(moments, 1))
    since, until = '2026-01-02T12:00:00.000Z', '2026-01-03T06:30:00.000Z'
    stamps = [_log_lines.stamp_of(moment) for moment in moments]
    wanted = [stamp for stamp in stamps if since <= stamp <= until]
    first_wanted = sum(len(txlog_line(n, m)) for n, m in enumerate(moments[:stamps.index(wanted[0])], 1))
    with open(path, 'rb') as handle:
        offset = _transaction_log.window_start(handle, os.path.getsize(path), since)
    assert 0 < offset <= first_wanted and first_wanted - offset <= _transaction_log.BISECT_STOP + 200
    rates = _transaction_log.write_rates(path, since, until)
    assert rates.total == len(wanted)
    assert rates.per_day['2026-01-02'] == len([s for s in wanted if s.startswith('2026-01-02')])
    assert rates.peak_minute()[1] == 9  # one write every 7 s: 8 or 9 a minute
    assert rates.days('2026-01-03') == ['2026-01-02', '2026-01-03']


def test_a_missing_transaction_log_is_unavailable_not_zero(tmp_path, capsys):
    home = service(tmp_path)
    failed, result = run(dict(service_home=str(home)), capsys)
    assert not failed, result
    assert 'writes_total' not in result['figures'] and 'writes_per_day' not in result['series']
    assert [e['reason'] for e in result['unavailable'] if e['source'] == 'transaction_log'][0].startswith(
        'cannot read the transaction log %s' % (home / 'data' / 'transaction_log.jsonl'))
    assert 'peak writes per minute not measured' in result['recommendation']['reasons']


def test_the_module_reads_the_service_transaction_log(tmp_path, capsys):
    home = service(tmp_path)
    moments = [ago(100)] + [ago(2, hours=3)] * 30 + [ago(1)] * 4 + [ago(0, hours=0.5)]
    with open(str(home / 'data' / 'transaction_log.jsonl'), 'w') as handle:
        handle.writelines(txlog_line(n, moment) for n, moment in enumerate(moments, 1))
    failed, result = run(dict(service_home=str(home), max_peak_writes_per_minute=25), capsys)
    assert not failed, result
    figures = result['figures']
    assert figures['writes_total'] == 35 and figures['peak_writes_per_minute'] == 30
    assert figures['transaction_log_days'] == 93  # the log is older than the window: all 92 days and today
    assert result['recommendation']['decision'] == 'migrate'
    assert [f['id'] for f in result['findings'] if f['severity'] == 'high'] == ['write_rate_over_limit']
    points = dict(result['series']['writes_per_day']['points'])
    assert points[ago(2, hours=3).strftime('%Y-%m-%dT00:00:00Z')] == 30 and sum(points.values()) == 35


# --- database size ----------------------------------------------------------------------------------------------

def test_database_size_now_and_at_each_backup(tmp_path, capsys):
    home = service(tmp_path)
    paths = _service_layout.service_paths(str(home))
    backups = str(home / 'backups')
    made = []
    for age, rows in ((100, 0), (20, 0), (5, 3000)):
        if rows:
            conn = sqlite3.connect(paths['database_path'])
            conn.executemany('INSERT INTO item_master (item_code, name) VALUES (?, ?)',
                             [('N-%d' % n, 'x' * 200) for n in range(rows)])
            conn.commit()
            conn.close()
        stamp = ago(age).replace(microsecond=0)
        made.append((stamp, _archive.create_backup(paths, backups, now=stamp)['manifest']['members'][0]['size']))
    main = os.path.getsize(paths['database_path'])
    wal = os.path.getsize(paths['database_path'] + '-wal') if os.path.exists(paths['database_path'] + '-wal') else 0
    failed, result = run(dict(service_home=str(home)), capsys)
    assert not failed, result
    figures = result['figures']
    assert figures['database_bytes'] == main + wal and figures['database_file_bytes'] == main
    series = result['series']['db_size_bytes']
    assert series['unit'] == 'bytes' and series['kind'] == 'time'
    expected = [[_migration_review.iso(stamp), size] for stamp, size in made[1:]]  # the 100-day one is outside
    assert series['points'][:2] == expected and series['points'][2][1] == main
    assert made[2][1] > made[1][1] and figures['database_growth_bytes_per_day'] > 0
    assert not [entry for entry in result['unavailable'] if entry['source'] == 'backups']


def test_database_over_the_size_limit_prepares(tmp_path, capsys):
    home = service(tmp_path)
    size = os.path.getsize(str(home / 'data' / 'enterprise_inventory.db'))
    for limit, decision in ((size / 2.0 / GIB, 'prepare_migration'), (size * 2.0 / GIB, 'stay_on_sqlite')):
        failed, result = run(dict(service_home=str(home), max_database_size_gib=limit), capsys)
        assert not failed and result['recommendation']['decision'] == decision, result
        assert ('database_size_over_limit' in [f['id'] for f in result['findings']]) == (decision != 'stay_on_sqlite')
    assert any(e['source'] == 'backups' and e['reason'].startswith('no backup archive of the window')
               for e in result['unavailable'])
    assert 'db_size_bytes' not in result['series']


# --- the PostgreSQL mirror --------------------------------------------------------------------------------------

def mirror(pg_dsn, home, short=5):
    """The mirror of the service's tables as dual-write creates them, one table left out, item_master `short` rows
    short."""
    conn = sqlite3.connect(str(home / 'data' / 'enterprise_inventory.db'))
    rows = conn.execute('SELECT id, item_code FROM item_master ORDER BY id').fetchall()
    conn.close()
    pg_exec(pg_dsn, 'CREATE TABLE item_master (id bigint PRIMARY KEY, item_code text)',
            'CREATE TABLE inventory_counts (id bigint PRIMARY KEY, count_date text, location text)',
            'CREATE TABLE inventory_count_items (id bigint PRIMARY KEY, count_id bigint, item_code text, quantity '
            'double precision)',
            'CREATE TABLE processed_invoices (id bigint PRIMARY KEY, invoice_number text)',
            'INSERT INTO inventory_counts SELECT g, \'2025-01-01\', \'main\' FROM generate_series(1, 50) g',
            'INSERT INTO item_master VALUES %s' % ', '.join("(%d, '%s')" % row for row in rows[short:]))


def test_mirror_reachable_row_counts_compared(tmp_path, capsys, pg_dsn, api):
    home = service(tmp_path, env='POSTGRES_DSN=%s\nDUAL_WRITE_ENABLED=true\n' % pg_dsn)
    mirror(pg_dsn, home)
    api.use('healthy', **{'/metrics': route(200, metrics_text() + '# TYPE db_dual_write_errors counter\n'
                                            'db_dual_write_errors_total 3.0\n', 'text/plain; version=0.0.4')})
    failed, result = run(dict(service_home=str(home), api_url=api.url, check_metrics=True), capsys, keep_raw=True)
    assert not failed, result
    figures = result['figures']
    assert figures['postgres_mirror'] == 'reachable' and figures['dual_write_enabled'] == 'true'
    conn = psycopg2.connect(pg_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute('SHOW server_version')
            assert figures['postgres_server_version'] == cur.fetchone()[0]
    finally:
        conn.close()
    assert figures['mirror_tables'] == 4 and figures['mirror_tables_missing'] == 1  # ai_forecasts
    assert figures['mirror_row_difference'] == 5 and figures['dual_write_errors_total'] == 3.0
    by_id = dict((f['id'], f) for f in result['findings'])
    assert by_id['postgres_mirror_tables_missing']['subject'] == 'ai_forecasts'
    differ = by_id['postgres_mirror_rows_differ']
    assert differ['subject'] == 'item_master' and differ['value'] == 5 and differ['severity'] == 'medium'
    assert by_id['dual_write_errors']['value'] == 3.0
    assert 'postgres_mirror_not_configured' not in by_id
    assert [e['source'] for e in result['unavailable']].count('parity_history') == 1
    assert pg_dsn not in result['_raw'] and 'password=' not in result['_raw']


def test_mirror_in_step_raises_no_mirror_finding(tmp_path, capsys, pg_dsn):
    home = service(tmp_path)
    conn = sqlite3.connect(str(home / 'data' / 'enterprise_inventory.db'))
    conn.execute('DROP TABLE ai_forecasts')
    conn.execute('DELETE FROM item_master WHERE id > 5')
    conn.commit()
    conn.close()
    mirror(pg_dsn, home, short=0)
    failed, result = run(dict(service_home=str(home), dsn=pg_dsn), capsys)  # the option, without a .env DSN
    assert not failed, result
    assert result['figures']['mirror_tables_missing'] == 0 and result['figures']['mirror_row_difference'] == 0
    assert [f['id'] for f in result['findings'] if f['id'].startswith(('postgres_', 'dual_write'))] == []


def test_unreachable_mirror_is_a_finding_never_a_failure_and_keeps_the_password(tmp_path, capsys):
    dsn = 'host=127.0.0.1 port=%d user=inventory password=s3cret-pw-77 dbname=inventory' % closed_port()
    home = service(tmp_path, env="POSTGRES_DSN='%s'\n" % dsn)
    failed, result = run(dict(service_home=str(home), connect_timeout=2), capsys, keep_raw=True)
    assert not failed, result
    assert result['figures']['postgres_mirror'] == 'unreachable'
    found = [f for f in result['findings'] if f['id'] == 'postgres_mirror_unreachable']
    assert found and found[0]['severity'] == 'high' and found[0]['subject'].startswith('inventory@127.0.0.1:')
    assert [e for e in result['unavailable'] if e['source'] == 'postgres']
    assert 's3cret-pw-77' not in result['_raw']


def test_no_mirror_configured_is_an_info_finding(tmp_path, capsys):
    home = service(tmp_path)
    failed, result = run(dict(service_home=str(home)), capsys)
    assert not failed, result
    assert result['figures']['postgres_mirror'] == 'not_configured'
    found = [f for f in result['findings'] if f['id'] == 'postgres_mirror_not_configured']
    assert found and found[0]['severity'] == 'info'
    assert found[0]['summary'].startswith('no PostgreSQL mirror configured')
    assert 'parity_history' not in [e['source'] for e in result['unavailable']]


# --- the module as a whole --------------------------------------------------------------------------------------

def test_result_shape_check_mode_and_order(tmp_path, capsys):
    home = service(tmp_path)
    write_logs(home, tmp_path / 'archive')
    results = [run(dict(service_home=str(home)), capsys, check_mode=check)[1] for check in (True, False)]
    for result in results:
        assert result['changed'] is False and result['review'] == 'migration'
        assert set(result) >= set(['generated_at', 'findings', 'figures', 'series', 'unavailable', 'recommendation'])
        ranks = [_migration_review.SEVERITIES.index(f['severity']) for f in result['findings']]
        assert ranks == sorted(ranks)
        for series in result['series'].values():
            assert series['points'] and all(isinstance(y, (int, float)) for _x, y in series['points'])
    for key in ('findings', 'figures', 'series', 'recommendation'):
        left, right = results[0][key], results[1][key]
        if key == 'figures':
            left, right = [dict((k, v) for k, v in f.items() if k not in ('window_start', 'window_end'))
                           for f in (left, right)]
        assert left == right, key


def test_nothing_readable_fails_with_every_reason(tmp_path, capsys):
    home = tmp_path / 'empty'
    home.mkdir()
    failed, result = run(dict(service_home=str(home), database_path=str(home / 'none.db')), capsys)
    assert failed
    assert result['msg'].startswith('migration_review could read none of its sources')
    assert 'log directory' in result['msg'] and 'transaction log' in result['msg'] and 'none.db' in result['msg']


@pytest.mark.parametrize('args, message', [
    (dict(lookback_days=0), 'lookback_days must be at least 1, got 0'),
    (dict(max_lock_wait_p95_ms=0), 'max_lock_wait_p95_ms must be greater than 0, got 0.0'),
])
def test_bad_options_fail_before_reading(tmp_path, capsys, args, message):
    failed, result = run(dict(args, service_home=str(tmp_path)), capsys)
    assert failed and result['msg'] == message
