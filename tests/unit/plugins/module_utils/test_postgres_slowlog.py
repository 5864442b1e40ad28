# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The slow-query summary over a log a real PostgreSQL wrote (log_min_duration_statement=0, logging collector),
simple and extended protocol (pgbench -M extended), multi-line statements included."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._postgres_slowlog import (
    normalize, read_entries, summarize_file)
from ansible_collections.inventory_enterprise.ops.plugins.modules import performance_report
from ansible_collections.inventory_enterprise.ops.tests.support.postgres_log import logging_postgres
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module
from ansible_collections.inventory_enterprise.ops.tests.unit.servers import closed_port

SETUP = """CREATE TABLE items (id int PRIMARY KEY, code text);
INSERT INTO items SELECT g, 'c' || g FROM generate_series(1, 2000) g;
SELECT * FROM items WHERE id = 7;
SELECT * FROM items WHERE id = 8;
SELECT code FROM items WHERE code = 'c12';
SELECT pg_sleep(0.25);
SELECT count(*)
FROM items
WHERE code LIKE 'c1%';
"""
EXTENDED = "SELECT * FROM items WHERE id = 42;\n"


@pytest.fixture(scope='module')
def pg_log(tmp_path_factory):
    """A copy of the log PostgreSQL wrote, read after the server stopped (nothing is added while we read)."""
    copy = str(tmp_path_factory.mktemp('pglog') / 'postgresql.log')
    script = str(tmp_path_factory.mktemp('pgbench') / 'select.sql')
    with open(script, 'w') as handle:
        handle.write(EXTENDED)
    os.chmod(os.path.dirname(script), 0o755)
    os.chmod(script, 0o644)
    with logging_postgres(copy) as run:
        run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres'], stdin=SETUP)
        run(['pgbench', '-n', '-M', 'extended', '-t', '5', '-f', script, 'postgres'])
    return copy


def test_the_real_log_has_what_the_summary_reads(pg_log):
    with open(pg_log) as handle:
        text = handle.read()
    # What PostgreSQL really writes, so the parser is held to it: both protocols, continuation lines.
    assert 'duration: ' in text and '  statement: SELECT pg_sleep(0.25)' in text
    assert '  parse <unnamed>: SELECT * FROM items WHERE id = 42' in text
    assert '  execute <unnamed>: SELECT * FROM items WHERE id = 42' in text
    assert '\n\tFROM items\n' in text


def test_summary_counts_ranks_and_finds_the_longest(pg_log):
    summary = summarize_file(pg_log, top=3)
    with open(pg_log) as handle:
        entries = read_entries(handle)
    assert summary['count'] == len(entries)
    statements = [statement for dummy, statement in entries]
    # execute lines count once each; parse and bind phases are left out.
    assert statements.count('SELECT * FROM items WHERE id = 42;') == 5
    assert "SELECT count(*) FROM items WHERE code LIKE 'c1%';" in statements
    assert summary['max_statement'] == 'SELECT pg_sleep(0.25);' and 250 <= summary['max_ms'] < 2000
    top = summary['top_statements']
    assert len(top) == 3 and top[0]['statement'] == 'SELECT pg_sleep(?);' and top[0]['calls'] == 1
    assert [group['total_ms'] for group in top] == sorted((group['total_ms'] for group in top), reverse=True)
    everything = summarize_file(pg_log, top=100)['top_statements']
    by_statement = dict((group['statement'], group) for group in everything)
    # id = 7, 8 and the pgbench 42s fold together, literals as ?.
    assert by_statement['SELECT * FROM items WHERE id = ?;']['calls'] == 7
    assert summary['total_ms'] == pytest.approx(sum(duration for duration, dummy in entries), abs=0.01)


def test_normalize_folds_literals_not_names():
    assert normalize("SELECT  a1 FROM t2\n WHERE x = 'it''s' AND y = -3.5") == 'SELECT a1 FROM t2 WHERE x = ? AND y = ?'
    assert normalize('SELECT $1') == 'SELECT $1'


def test_module_reports_the_log_with_prometheus_down(pg_log, tmp_path, capsys):
    dead = 'http://127.0.0.1:%d' % closed_port()
    args = dict(prometheus_url=dead, checks=['db_latency'], by_instance=False, postgres_log_path=pg_log)
    failed, result = run_module(performance_report, args, capsys)
    slow = result['postgres_slow_queries']
    assert not failed and slow['verdict'] == 'ok' and slow['max_statement'] == 'SELECT pg_sleep(0.25);'
    assert result['checks'][0]['verdict'] == 'error' and result['ok'] is False
    empty = tmp_path / 'empty.log'
    empty.write_text('2026-12-01 10:00:00.000 UTC [1] LOG:  database system is ready to accept connections\n')
    # As the role runs it on the database host: no Prometheus check at all, only the log.
    failed, result = run_module(performance_report, dict(args, checks=[], postgres_log_path=str(empty),
                                                         fail_on=['no_data']), capsys)
    assert failed and result['postgres_slow_queries']['verdict'] == 'no_data' and result['checks'] == []
    assert 'log_min_duration_statement' in result['msg']
    failed, result = run_module(performance_report, dict(args, postgres_log_path=str(tmp_path / 'nope.log')), capsys)
    assert not failed and result['postgres_slow_queries']['verdict'] == 'error'
    assert 'cannot read the PostgreSQL log' in result['postgres_slow_queries']['message']
