# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""review_chart draws with the real matplotlib: the SVG it returns is parsed and its points, target line, ids and
references checked; review_status and the value formatting from tables."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import sys
from xml.etree import ElementTree

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.inventory_enterprise.ops.plugins.filter import review_charts
from ansible_collections.inventory_enterprise.ops.plugins.filter.review_charts import format_value, review_chart, review_status

SVG = '{http://www.w3.org/2000/svg}'
HREF = '{http://www.w3.org/1999/xlink}href'
GIB = 1024 ** 3


def time_series(count=5, **extra):
    series = {'kind': 'time', 'unit': 'bytes', 'title': 'Backup size',
              'points': [['2026-11-%02dT02:00:00Z' % (day + 1), (1.5 + 0.1 * day) * GIB] for day in range(count)]}
    series.update(extra)
    return series


def category_series(**extra):
    series = {'kind': 'category', 'unit': 'ms', 'title': 'p95 per route',
              'points': [['GET /api/inventory/items', 84], ['POST /api/orders', 142], ['GET /health', 3]]}
    series.update(extra)
    return series


def parse(svg):
    return ElementTree.fromstring(svg)


def points(root):
    return [element for element in root.iter() if element.get('class') == 'data-point']


def test_a_time_series_has_one_marker_per_point_each_with_its_value():
    root = parse(review_chart(time_series(), 'app1-capacity-backup_size_bytes'))
    assert root.tag == SVG + 'svg'
    drawn = points(root)
    assert len(drawn) == 5 == int(root.get('data-points'))
    assert all(element.tag == SVG + 'use' for element in drawn)
    assert [element.find(SVG + 'title').text for element in drawn][:2] == [
        '2026-11-01 02:00 UTC: 1.5 GiB', '2026-11-02 02:00 UTC: 1.6 GiB']


def test_the_title_comes_first_for_screen_readers():
    root = parse(review_chart(time_series(), 'x'))
    assert root[0].tag == SVG + 'title' and root[0].text == 'Backup size'
    assert root.get('role') == 'img' and root.get('aria-labelledby') == root[0].get('id')


def test_a_category_series_has_one_bar_per_point():
    root = parse(review_chart(category_series(), 'routes'))
    drawn = points(root)
    assert len(drawn) == 3 == int(root.get('data-points'))
    assert all(element.tag == SVG + 'path' for element in drawn)
    assert drawn[1].find(SVG + 'title').text == 'POST /api/orders: 142 ms'


@pytest.mark.parametrize('series', [time_series(target=1.8 * GIB), category_series(target=100)])
def test_a_target_draws_a_target_line(series):
    root = parse(review_chart(series, 'chart'))
    targets = [element for element in root.iter(SVG + 'g') if element.get('id') == 'chart-chart-target']
    assert len(targets) == 1 and targets[0].find(SVG + 'path') is not None


@pytest.mark.parametrize('series', [time_series(), category_series()])
def test_no_target_no_target_line(series):
    assert 'target' not in review_chart(series, 'chart')


def test_groups_draw_one_line_each():
    months = ['2026-%02d-01' % month for month in range(6, 12)]
    series = {'kind': 'time', 'unit': 'percent', 'title': 'Model MAPE', 'points': [], 'target': 15,
              'groups': {'median': [[m, 10.0] for m in months], 'p90': [[m, 21.0] for m in months]}}
    root = parse(review_chart(series, 'mape'))
    lines = [element for element in root.iter(SVG + 'g') if re.match(r'chart-mape-points-\d$', element.get('id', ''))]
    assert len(lines) == 2 and len(points(root)) == 12
    assert points(root)[6].find(SVG + 'title').text == 'p90, 2026-06-01: 21 %'


def test_severity_categories_take_the_severity_colours():
    series = {'kind': 'category', 'unit': 'count', 'title': 'Findings', 'points': [['critical', 1], ['low', 2]]}
    styles = [element.get('style') for element in points(parse(review_chart(series, 'sev')))]
    assert '#b3261e' in styles[0] and '#1c7ed6' in styles[1]


def test_nothing_points_outside_the_svg_and_every_reference_resolves():
    svg = review_chart(time_series(target=GIB), 'app1-backup')
    root = parse(svg)
    ids = set(element.get('id') for element in root.iter() if element.get('id'))
    references = [element.get(HREF) for element in root.iter() if element.get(HREF) is not None]
    references += ['#' + ref for value in (v for element in root.iter() for v in element.attrib.values())
                   for ref in re.findall(r'url\(#([^)]+)\)', value)]
    assert references and all(ref.startswith('#') and ref[1:] in ids for ref in references)
    assert not re.search(r'url\((?!#)', svg)
    assert all(element.get('href') is None for element in root.iter())
    forbidden = (SVG + 'image', SVG + 'script', SVG + 'foreignObject', SVG + 'metadata')
    assert not [element.tag for element in root.iter() if element.tag in forbidden]
    assert all(identifier.startswith('chart-app1-backup') for identifier in ids)
    assert not svg.startswith('<?xml') and '<!DOCTYPE' not in svg


def test_the_stylesheet_only_styles_its_own_chart():
    root = parse(review_chart(time_series(), 'one'))
    assert [style.text for style in root.iter(SVG + 'style')] == ['#chart-one *{stroke-linejoin: round; stroke-linecap: butt}']


def test_the_same_series_gives_the_same_bytes():
    assert review_chart(time_series(target=GIB), 'a') == review_chart(time_series(target=GIB), 'a')
    assert review_chart(category_series(), '') == review_chart(category_series(), '')
    assert review_chart(category_series(), '') != review_chart(category_series(target=1), '')


@pytest.mark.parametrize('series', [
    time_series(count=0),
    {'kind': 'time', 'unit': 'percent', 'title': 'Model MAPE', 'points': [], 'groups': {'median': [], 'p90': []}},
    {'kind': 'category', 'unit': 'count', 'title': 'Runs', 'points': [['a', None]]},
])
def test_no_points_give_a_note_not_an_empty_chart(series):
    note = review_chart(series, 'empty')
    assert '<svg' not in note and note.startswith('<p class="review-chart-empty"')
    assert 'No data for %s' % series['title'] in note


def test_a_missing_value_is_a_gap_not_a_zero():
    series = time_series()
    series['points'][2][1] = None
    assert len(points(parse(review_chart(series, 'gap')))) == 4


def test_times_are_shown_in_utc():
    series = {'kind': 'time', 'unit': 'ms', 'title': 'p95', 'points': [['2026-11-01T01:30:00+01:00', 80]]}
    assert points(parse(review_chart(series, 'tz')))[0].find(SVG + 'title').text == '2026-11-01 00:30 UTC: 80 ms'


def test_the_title_is_escaped_in_the_note():
    assert '&lt;b&gt;' in review_chart({'kind': 'time', 'title': '<b>', 'points': []})


@pytest.mark.parametrize('series, message', [
    ([1, 2], 'a series must be a dict'),
    ({'kind': 'pie', 'points': []}, 'kind must be time or category'),
    ({'kind': 'time', 'points': [['yesterday', 1]]}, "x must be an ISO-8601 date or time, got 'yesterday'"),
    ({'kind': 'time', 'points': [['2026-11-01', 'many']]}, "y must be a number, got 'many'"),
    ({'kind': 'time', 'points': [['2026-11-01', float('nan')]]}, 'y must be a finite number'),
    ({'kind': 'time', 'points': '2026-11-01'}, 'must be a list of [x, y] pairs'),
    ({'kind': 'category', 'points': [['a', 1, 2]]}, 's.points[0] must be an [x, y] pair'),
])
def test_bad_series_are_named_in_the_error(series, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        review_chart(series, 's')


def test_without_matplotlib_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, 'matplotlib', None)
    with pytest.raises(AnsibleFilterError, match='needs the Python library matplotlib on the control node'):
        review_charts.review_chart(time_series(), 'x')


@pytest.mark.parametrize('value, unit, text', [
    (512, 'bytes', '512 bytes'),
    (1536, 'bytes', '1.5 KiB'),
    (3 * GIB, 'bytes', '3 GiB'),
    (1.8e9, 'bytes', '1.68 GiB'),
    (42, 'seconds', '42 s'),
    (184, 'seconds', '3.07 min'),
    (7200, 'seconds', '2 h'),
    (85.5, 'percent', '85.5 %'),
    (12, 'days', '12 days'),
    (45000, 'count', '45,000'),
    (140, 'ms', '140 ms'),
])
def test_values_read_as_a_person_says_them(value, unit, text):
    assert format_value(value, unit) == text


@pytest.mark.parametrize('result, status', [
    (None, 'missing'),
    ({}, 'missing'),
    ({'failed': True, 'msg': 'boom'}, 'failed'),
    ({'findings': []}, 'ok'),
    ({'findings': [{'id': 'a', 'severity': 'info'}]}, 'info'),
    ({'findings': [{'id': 'a', 'severity': 'low'}, {'id': 'b', 'severity': 'critical'}]}, 'critical'),
    ([{'id': 'a', 'severity': 'medium'}, {'id': 'b', 'severity': 'high'}], 'high'),
])
def test_status_is_the_worst_severity(result, status):
    assert review_status(result) == status


def test_an_unknown_severity_is_an_error():
    with pytest.raises(AnsibleFilterError, match="finding disk_runway_short has severity 'severe'"):
        review_status({'findings': [{'id': 'disk_runway_short', 'severity': 'severe'}]})


def test_the_filters_are_registered():
    assert sorted(review_charts.FilterModule().filters()) == ['review_chart', 'review_status']
