# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_forecast with real Prophet and statsforecast fits on small synthetic series (well under a second each)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import math

import numpy
import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _forecast

BASE = datetime.date(2024, 1, 1)


def rows_of(values):
    return [((BASE + datetime.timedelta(days=i)).isoformat(), float(v)) for i, v in enumerate(values)]


def weekly_series(days=400, seed=1, yearly=0.0):
    rng = numpy.random.default_rng(seed)
    t = numpy.arange(days)
    return 20 + 6 * numpy.sin(2 * numpy.pi * t / 7) + yearly * numpy.sin(2 * numpy.pi * t / 365.25) + rng.normal(0, 1, days)


@pytest.mark.parametrize('actual, predicted, expected', [
    # MAPE over the non-zero actuals only; WAPE sum|e|/sum|a|; bias sum(f-a)/sum(a); all percent.
    ([10, 20, 0, 10], [12, 18, 2, 10], dict(mape=(20 + 10 + 0) / 3.0, wape=6 / 40.0 * 100, bias=2 / 40.0 * 100)),
    ([0, 0, 0], [1, 0, 0], dict(mape=None, wape=None, bias=None)),
    ([5, 5], [5, 5], dict(mape=0.0, wape=0.0, bias=0.0)),
    ([4, 4], [2, 2], dict(mape=50.0, wape=50.0, bias=-50.0)),
])
def test_metrics_follow_the_contract(actual, predicted, expected):
    train = [1, 2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6, 7, 8]  # season-7 naive in-sample MAE = 1
    got = _forecast.metrics(actual, predicted, train)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value) if value is not None else got[key] is None, key
    assert got['mase'] == pytest.approx(numpy.mean(numpy.abs(numpy.subtract(predicted, actual))) / 1.0)
    assert got['nonzero_days'] == sum(1 for a in actual if a)


def test_mase_is_null_when_the_naive_scale_is_zero():
    assert _forecast.metrics([1, 2], [1, 1], [3] * 20)['mase'] is None


def test_prophet_wins_a_clean_weekly_pattern_and_round_trips_through_json():
    result = _forecast.train_item(rows_of(weekly_series()))
    assert result['outcome'] == 'promoted' and result['model_type'] == 'prophet'
    assert result['metrics']['wape'] < result['metrics']['naive']['wape']
    document = json.loads(_forecast.dumps(result['document']))
    again = _forecast.forecast_document(document, 30)
    assert numpy.allclose(again, [value for _day, value in result['forecast']])
    assert result['forecast'][0][0] == (BASE + datetime.timedelta(days=400)).isoformat()


def test_arima_round_trips_as_plain_numbers():
    result = _forecast.train_item(rows_of(weekly_series() + numpy.arange(400) * 0.02), model_type='arima')
    assert result['model_type'] == 'arima'
    text = _forecast.dumps(result['document'])
    assert '"prophet": null' in text
    document = json.loads(text)
    assert numpy.allclose(_forecast.forecast_document(document, 30), [value for _day, value in result['forecast']])


def test_a_prophet_failure_falls_back_to_arima(monkeypatch):
    # Stan failing inside Prophet, the way cmdstanpy reports it.
    def broken(*_args, **_kwargs):
        raise RuntimeError('Error during optimization! Command ... failed')
    monkeypatch.setattr(_forecast, 'prophet_fit', broken)
    result = _forecast.train_item(rows_of(weekly_series() + numpy.arange(400) * 0.02))
    assert result['attempts']['prophet'].startswith('RuntimeError')
    assert 'arima' in result['attempts'] and result['attempts']['arima'] is None
    assert result['model_type'] == 'arima' and result['outcome'] == 'promoted'


def test_non_finite_prophet_values_count_as_a_failure(monkeypatch):
    monkeypatch.setattr(_forecast, 'prophet_predict', lambda model, dates: numpy.full(len(dates), numpy.nan))
    result = _forecast.train_item(rows_of(weekly_series()))
    assert 'non-finite' in result['attempts']['prophet'] and result['model_type'] in ('arima', 'seasonal_naive')
    assert 'arima' in result['attempts']


def test_a_worse_challenger_is_not_promoted():
    values = weekly_series(days=730, seed=3, yearly=25.0)
    series = _forecast.prepare(rows_of(values))
    model = _forecast.prophet_fit(series.head(702))  # last week's model: its history ends before the holdout
    active = dict(model_type='prophet', prophet=_forecast.model_to_json(model), arima=None,
                  naive=_forecast.naive_state(series.head(702)), metrics={'mape': 4.0})
    result = _forecast.train_item(rows_of(values), model_type='arima', active=active)
    assert result['outcome'] == 'kept' and result['document'] is None and result['forecast'] is None
    assert 'active prophet model scores better' in result['reason']
    assert result['previous_metrics']['holdout']['wape'] < result['metrics']['wape']


def test_the_active_model_never_scores_worse_than_seasonal_naive():
    rng = numpy.random.default_rng(7)
    noise = rng.poisson(3, 400).astype(float)  # no pattern Prophet can use
    result = _forecast.train_item(rows_of(noise))
    naive = result['metrics']['naive']
    assert result['metrics']['wape'] <= naive['wape'] + 1e-9


@pytest.mark.parametrize('values, reason', [
    ([0.0] * 200, 'all-zero history'),
    ([0.0] * 195 + [3.0, 0, 0, 1.0, 0], 'too little history'),
    ([5.0] * 10, 'too little history'),
    ([], 'all-zero history'),
])
def test_all_zero_or_near_empty_history_gets_naive_and_no_nan(values, reason):
    result = _forecast.train_item(rows_of(values), end_day='2024-08-01')
    assert result['model_type'] == 'seasonal_naive' and result['outcome'] == 'promoted'
    assert result['reason'].startswith(reason)
    text = _forecast.dumps(result['document'])  # allow_nan=False: a NaN anywhere raises
    json.dumps(result['metrics'], allow_nan=False)
    assert all(math.isfinite(value) for _day, value in result['forecast'])
    assert json.loads(text)['naive']['season'] == 7


def test_weekly_aggregation_sums_complete_weeks_back_from_the_last_day():
    series = _forecast.prepare(rows_of([1.0] * 17), aggregation='weekly')
    assert list(series.values) == [7.0, 7.0] and series.step == 7
    assert series.start == BASE + datetime.timedelta(days=3)


def closed_day_series(end=datetime.date(2025, 12, 10), days=710, seed=3):
    """Weekly pattern; a tenth of the use on New Year's Day, 4 July, Thanksgiving and Christmas, a rush the day
    before each (as the demo seeds them). Ends two weeks after Thanksgiving, so the holdout holds it."""
    start = end - datetime.timedelta(days=days - 1)
    values = weekly_series(days, seed)
    for i in range(days):
        day = start + datetime.timedelta(days=i)
        for closed in (day, day + datetime.timedelta(days=1)):
            if (closed.month, closed.day) in ((1, 1), (7, 4), (12, 25)) or (
                    closed.month == 11 and closed.weekday() == 3 and 22 <= closed.day <= 28):
                values[i] *= 0.1 if closed == day else 1.6
                break
    return [((start + datetime.timedelta(days=i)).isoformat(), float(v)) for i, v in enumerate(values)]


def test_modelled_holidays_keep_a_closed_day_in_the_holdout_from_inflating_mape():
    rows = closed_day_series()
    without = _forecast.train_item(rows, model_type='prophet')
    with_us = _forecast.train_item(rows, model_type='prophet', holidays='US')
    assert with_us['model_type'] == 'prophet', with_us['reason']
    # Thanksgiving alone adds ~30 points of MAPE to a 28-day holdout when it is forecast as a normal Thursday.
    assert without['metrics']['mape'] > 20 and with_us['metrics']['mape'] < without['metrics']['mape'] / 2, (
        without['metrics'], with_us['metrics'])
    document = json.loads(_forecast.dumps(with_us['document']))
    assert numpy.allclose(_forecast.forecast_document(document, 30), [value for _day, value in with_us['forecast']])
    # The next closed day, in the forecast, is its lowest.
    christmas = [value for day, value in with_us['forecast'] if day.endswith('-12-25')]
    assert christmas and christmas[0] == min(value for _day, value in with_us['forecast'])


def test_holiday_countries_are_the_holidays_librarys():
    assert _forecast.holidays_supported('US') and _forecast.holidays_supported('DE')
    assert not _forecast.holidays_supported('XX') and not _forecast.holidays_supported('us')
