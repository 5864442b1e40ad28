# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters for the operations report (roles/reviews): review_chart draws one series of a review result as an
inline SVG, review_status gives the worst severity of a result.

The charts are drawn by matplotlib's SVG backend with text as paths, so the page needs no font and no script;
a fixed hash salt and no date in the metadata make the same series give the same bytes, so a report rewritten
with the same results is unchanged. matplotlib is imported only when a chart is drawn: the rest of the
collection never needs it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import html
import io
import json
import math
import re
from xml.etree import ElementTree
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

SEVERITIES = ('critical', 'high', 'medium', 'low', 'info')
# review_status's answers, worst first.
STATUSES = ('failed',) + SEVERITIES + ('ok', 'missing')
UNITS = ('bytes', 'seconds', 'ms', 'percent', 'count', 'days')
SEVERITY_COLOURS = {'critical': '#b3261e', 'high': '#e8590c', 'medium': '#f0a202', 'low': '#1c7ed6', 'info': '#868e96'}
PALETTE = ('#3b5bdb', '#e8590c', '#2b8a3e', '#ae3ec9', '#1098ad', '#c2255c')
TARGET_COLOUR = '#c92a2a'
INK = '#343a40'
GRID = '#dee2e6'
SVG_NS = 'http://www.w3.org/2000/svg'
XLINK_NS = 'http://www.w3.org/1999/xlink'
HREF = '{%s}href' % XLINK_NS
# Above this many points a line is drawn without a marker per point.
MAX_MARKERS = 200
MAX_LABEL = 38
SHORT_UNITS = {'seconds': 's', 'minutes': 'min', 'hours': 'h'}
RC = {
    'svg.fonttype': 'path',
    'svg.hashsalt': 'inventory_enterprise.ops.review_chart',
    'svg.image_inline': True,
    # Bundled with matplotlib: the same glyphs on every control node, whatever fonts it has.
    'font.family': 'DejaVu Sans',
    'font.size': 9,
    'axes.edgecolor': GRID,
    'axes.labelcolor': INK,
    'xtick.color': INK,
    'ytick.color': INK,
    'axes.spines.top': False,
    'axes.spines.right': False,
}

ElementTree.register_namespace('', SVG_NS)
ElementTree.register_namespace('xlink', XLINK_NS)


def _matplotlib():
    try:
        from matplotlib import rc_context
        from matplotlib import dates
        from matplotlib import ticker
        from matplotlib.backends.backend_svg import FigureCanvasSVG
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise AnsibleFilterError(
            'inventory_enterprise.ops.review_chart needs the Python library matplotlib on the control node (%s): '
            'install it into the Python that runs ansible-playbook, for example with '
            '"pip install -r requirements/control.txt" from the collection\'s checkout.' % exc)
    return rc_context, dates, ticker, FigureCanvasSVG, Figure


# ---- input ------------------------------------------------------------------------------------------------------

def _number(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(to_text(value))
        except (TypeError, ValueError):
            raise AnsibleFilterError('review_chart: %s: y must be a number, got %r' % (where, value))
    if not math.isfinite(value):
        raise AnsibleFilterError('review_chart: %s: y must be a finite number, got %r' % (where, value))
    return float(value)


def _moment(value, where):
    text = to_text(value).strip()
    try:
        moment = datetime.datetime.fromisoformat(text[:-1] + '+00:00' if text.endswith('Z') else text)
    except ValueError:
        raise AnsibleFilterError('review_chart: %s: x must be an ISO-8601 date or time, got %r' % (where, value))
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def _points(raw, kind, where):
    if raw is None:
        return []
    if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Sequence):
        raise AnsibleFilterError('review_chart: %s must be a list of [x, y] pairs' % where)
    points = []
    for index, pair in enumerate(raw):
        spot = '%s[%d]' % (where, index)
        if isinstance(pair, (str, bytes, Mapping)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise AnsibleFilterError('review_chart: %s must be an [x, y] pair, got %r' % (spot, pair))
        if pair[1] is None:
            continue  # a gap (nothing measured), not a zero
        x = _moment(pair[0], spot) if kind == 'time' else to_text(pair[0])
        points.append((x, _number(pair[1], spot)))
    return points


def _series(series, name):
    """The series checked and normalised: kind, unit, title, lines [(label, points)], target."""
    if not isinstance(series, Mapping):
        raise AnsibleFilterError('review_chart: %s: a series must be a dict with kind, unit, title and points, got %s'
                                 % (name or 'series', type(series).__name__))
    kind = series.get('kind', 'time')
    if kind not in ('time', 'category'):
        raise AnsibleFilterError('review_chart: %s: kind must be time or category, got %r' % (name or 'series', kind))
    title = to_text(series.get('title') or name or 'chart')
    lines = []
    points = _points(series.get('points'), kind, '%s.points' % (name or 'series'))
    groups = series.get('groups') or {}
    if not isinstance(groups, Mapping):
        raise AnsibleFilterError('review_chart: %s.groups must be a dict of label: points' % (name or 'series'))
    if points:
        lines.append((to_text(series.get('label') or ('all' if groups else title)), points))
    for label in groups:
        group = _points(groups[label], kind, '%s.groups.%s' % (name or 'series', label))
        if group:
            lines.append((to_text(label), group))
    target = series.get('target')
    target = None if target is None else _number(target, '%s.target' % (name or 'series'))
    return {'kind': kind, 'unit': to_text(series.get('unit') or ''), 'title': title, 'lines': lines,
            'target': target}


# ---- units --------------------------------------------------------------------------------------------------------

def _scale(unit, values):
    """(divisor, axis label) that keeps the axis figures short: bytes in KiB..TiB, long durations in min or h."""
    top = max([abs(v) for v in values] or [0])
    if unit == 'bytes':
        divisor, label = 1.0, 'bytes'
        for step, name in ((1024.0, 'KiB'), (1024.0 ** 2, 'MiB'), (1024.0 ** 3, 'GiB'), (1024.0 ** 4, 'TiB')):
            if top >= step:
                divisor, label = step, name
        return divisor, label
    if unit == 'seconds':
        if top >= 2 * 3600:
            return 3600.0, 'hours'
        if top >= 120:
            return 60.0, 'minutes'
        return 1.0, 'seconds'
    return 1.0, {'percent': '%', 'ms': 'ms', 'days': 'days', 'count': ''}.get(unit, unit)


def format_value(value, unit):
    """A figure as a person reads it: 1.2 GiB, 340 ms, 85.5 %, 12 days."""
    divisor, label = _scale(unit, [value])
    label = SHORT_UNITS.get(label, label)
    scaled = value / divisor
    if abs(scaled) >= 100:
        text = '{:,.0f}'.format(scaled)
    elif float(scaled).is_integer():
        text = '%d' % scaled
    else:
        text = '%.3g' % scaled
    return ('%s %s' % (text, label)).strip()


def _moment_label(moment):
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return moment.strftime('%Y-%m-%d')
    return moment.strftime('%Y-%m-%d %H:%M UTC')


def _short(label):
    return label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1] + '\u2026'


# ---- drawing ------------------------------------------------------------------------------------------------------

def _tooltip(line_label, x, value, data):
    where = _moment_label(x) if data['kind'] == 'time' else x
    prefix = '%s, ' % line_label if len(data['lines']) > 1 else ''
    return '%s%s: %s' % (prefix, where, format_value(value, data['unit']))


def _legend(data, label):
    # One line needs no legend entry: the caption names it; only the target line then has one.
    return label if len(data['lines']) > 1 else '_nolegend_'


def _draw_time(ax, data, divisor, dates):
    tooltips = []
    for index, (label, points) in enumerate(data['lines']):
        markers = len(points) <= MAX_MARKERS
        ax.plot([x for x, _y in points], [y / divisor for _x, y in points], color=PALETTE[index % len(PALETTE)],
                linewidth=1.8, marker='o' if markers else None, markersize=3.5, label=_legend(data, label),
                gid='points-%d' % index)
        tooltips.append([_tooltip(label, x, y, data) for x, y in points] if markers else [])
    locator = dates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
    ax.grid(axis='y', color=GRID, linewidth=0.8)
    if data['target'] is not None:
        ax.axhline(data['target'] / divisor, color=TARGET_COLOUR, linestyle='--', linewidth=1.2, gid='target',
                   label='target %s' % format_value(data['target'], data['unit']))
    return tooltips


def _categories(data):
    seen = []
    for _label, points in data['lines']:
        seen += [x for x, _y in points if x not in seen]
    return seen


def _bar_colours(data, index, categories):
    if len(data['lines']) == 1 and all(label in SEVERITY_COLOURS for label in categories):
        return [SEVERITY_COLOURS[label] for label in categories]
    return PALETTE[index % len(PALETTE)]


def _draw_category(ax, data, divisor):
    categories = _categories(data)
    height = 0.8 / len(data['lines'])
    tooltips = []
    for index, (label, points) in enumerate(data['lines']):
        offset = (index - (len(data['lines']) - 1) / 2.0) * height
        bars = ax.barh([categories.index(x) + offset for x, _y in points], [y / divisor for _x, y in points],
                       height=height * 0.9, label=_legend(data, label),
                       color=_bar_colours(data, index, [x for x, _y in points]))
        for number, patch in enumerate(bars.patches):
            patch.set_gid('bar-%d-%d' % (index, number))
        tooltips.append([_tooltip(label, x, y, data) for x, y in points])
        if len(categories) * len(data['lines']) <= 24:
            ax.bar_label(bars, labels=[format_value(y, data['unit']) for _x, y in points], padding=3, fontsize=7.5,
                         color=INK)
    ax.set_yticks(range(len(categories)), [_short(label) for label in categories])
    ax.invert_yaxis()
    ax.margins(x=0.12)
    ax.grid(axis='x', color=GRID, linewidth=0.8)
    ax.tick_params(axis='y', length=0)
    if data['target'] is not None:
        ax.axvline(data['target'] / divisor, color=TARGET_COLOUR, linestyle='--', linewidth=1.2, gid='target',
                   label='target %s' % format_value(data['target'], data['unit']))
    return tooltips


def _render(data):
    """(SVG text, tooltips per line) of the series drawn by matplotlib."""
    rc_context, dates, ticker, FigureCanvasSVG, Figure = _matplotlib()
    values = [y for _label, points in data['lines'] for _x, y in points]
    if data['target'] is not None:
        values.append(data['target'])
    divisor, axis_label = _scale(data['unit'], values)
    with rc_context(RC):
        if data['kind'] == 'time':
            figure = Figure(figsize=(6.4, 3.0), layout='constrained')
        else:
            rows = len(_categories(data)) * max(1.0, 0.6 * len(data['lines']))
            figure = Figure(figsize=(6.4, max(1.8, 0.7 + 0.3 * rows)), layout='constrained')
        axes = figure.add_subplot()
        axes.set_axisbelow(True)
        if data['kind'] == 'time':
            tooltips = _draw_time(axes, data, divisor, dates)
            value_axis = axes.yaxis
        else:
            tooltips = _draw_category(axes, data, divisor)
            value_axis = axes.xaxis
        value_axis.set_label_text(axis_label)
        if data['unit'] == 'count':
            value_axis.set_major_locator(ticker.MaxNLocator(integer=True))
        if max([abs(v) for v in values]) / divisor >= 10000:
            value_axis.set_major_formatter(ticker.StrMethodFormatter('{x:,.0f}'))
        if len(data['lines']) > 1 or data['target'] is not None:
            # Above the plot, right-aligned: never over a bar or a point.
            axes.legend(frameon=False, fontsize=7.5, loc='lower right', bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2,
                        ncols=len(data['lines']) + (data['target'] is not None))
        buffer = io.StringIO()
        FigureCanvasSVG(figure).print_svg(buffer, metadata={'Date': None})
    return buffer.getvalue(), tooltips


# ---- SVG for inlining -----------------------------------------------------------------------------------------------

def _mark_points(root, tooltips):
    """Give every data point (a line's marker, a bar) class data-point and a <title> a person sees on hover."""
    count = 0
    for group in root.iter('{%s}g' % SVG_NS):
        found = re.match(r'(points|bar)-(\d+)(?:-(\d+))?$', group.get('id', ''))
        if not found:
            continue
        line = tooltips[int(found.group(2))]
        if found.group(1) == 'points':
            shapes = group.findall('.//{%s}use' % SVG_NS)
            labels = line if len(line) == len(shapes) else [None] * len(shapes)
        else:
            shapes = group.findall('{%s}path' % SVG_NS)[:1]
            labels = [line[int(found.group(3))]]
        for shape, label in zip(shapes, labels):
            shape.set('class', 'data-point')
            if label is not None:
                ElementTree.SubElement(shape, '{%s}title' % SVG_NS).text = label
            count += 1
    return count


def _prefix_ids(root, prefix):
    """Element ids unique on the page: several charts are inlined in one document."""
    def local(match):
        return 'url(#%s-%s)' % (prefix, match.group(1))

    for element in root.iter():
        if element.get('id'):
            element.set('id', '%s-%s' % (prefix, element.get('id')))
        if element.get(HREF, '').startswith('#'):
            element.set(HREF, '#%s-%s' % (prefix, element.get(HREF)[1:]))
        for name, value in list(element.attrib.items()):
            if 'url(' in value:
                element.set(name, re.sub(r'url\(#([^)]+)\)', local, value))
        if element.tag == '{%s}style' % SVG_NS and element.text:
            # matplotlib's stylesheet selects `*`: inline, that would style the whole page.
            element.text = '#%s %s' % (prefix, element.text.strip())


def _inline(svg, prefix, title, tooltips):
    root = ElementTree.fromstring(svg[svg.index('<svg'):])
    for metadata in root.findall('{%s}metadata' % SVG_NS):
        root.remove(metadata)
    points = _mark_points(root, tooltips)
    _prefix_ids(root, prefix)
    for size in ('width', 'height'):
        root.attrib.pop(size, None)  # the viewBox scales it to the page's grid cell
    root.set('id', prefix)
    root.set('class', 'review-chart')
    root.set('role', 'img')
    root.set('aria-labelledby', '%s-title' % prefix)
    root.set('data-points', str(points))
    heading = ElementTree.Element('{%s}title' % SVG_NS, {'id': '%s-title' % prefix})
    heading.text = title
    root.insert(0, heading)
    return ElementTree.tostring(root, encoding='unicode')


def _chart_id(name, series):
    if name:
        return 'chart-' + re.sub(r'[^A-Za-z0-9_-]+', '-', to_text(name)).strip('-')
    digest = hashlib.sha256(json.dumps(series, sort_keys=True, default=to_text).encode('utf-8')).hexdigest()
    return 'chart-' + digest[:12]


# ---- filters ------------------------------------------------------------------------------------------------------

def review_chart(series, name=''):
    """One series of a review result (kind, unit, title, points, optional target and groups) as inline <svg>."""
    data = _series(series, name)
    prefix = _chart_id(name, series)
    if not data['lines']:
        return '<p class="review-chart-empty" id="%s" role="note">No data for %s in this period.</p>' % (
            prefix, html.escape(data['title']))
    svg, tooltips = _render(data)
    return _inline(svg, prefix, data['title'], tooltips)


def review_status(result):
    """Worst state of a review result (or of a list of findings): failed, a severity, ok, or missing."""
    if result is None or (isinstance(result, Mapping) and not result):
        return 'missing'
    if isinstance(result, Mapping):
        if result.get('failed'):
            return 'failed'
        findings = result.get('findings') or []
    elif isinstance(result, Sequence) and not isinstance(result, (str, bytes)):
        findings = result
    else:
        raise AnsibleFilterError('review_status: expected a review result or a list of findings, got %s'
                                 % type(result).__name__)
    worst = len(STATUSES) - 2  # ok
    for finding in findings:
        finding = finding if isinstance(finding, Mapping) else {'id': finding}
        severity = finding.get('severity')
        if severity not in SEVERITIES:
            raise AnsibleFilterError('review_status: finding %s has severity %r, not one of %s'
                                     % (to_text(finding.get('id')), severity, ', '.join(SEVERITIES)))
        worst = min(worst, STATUSES.index(severity))
    return STATUSES[worst]


class FilterModule(object):
    """Charts and status for the operations report."""

    def filters(self):
        return {
            'review_chart': review_chart,
            'review_status': review_status,
        }
