# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The one forecasting implementation: series preparation, seasonal naive, Prophet, ARIMA (statsforecast),
holdout metrics and the champion/challenger rule.

Self-contained (standard library and the forecasting libraries only): the reference service uses this very
file through the symlink reference/inventory_service/forecast.py.

Models are plain JSON documents (see model_document), never pickle: a restored backup's model must not be able to
run code when it is loaded.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import importlib.util
import json
import logging
import math
import traceback
import warnings

# Prophet logs one INFO line per fit through cmdstanpy and warns about plotly at import: at 100 fits a run that
# would bury the module's output, so both are quieted before the import.
for _name in ('cmdstanpy', 'prophet', 'prophet.plot'):
    logging.getLogger(_name).setLevel(logging.CRITICAL)
logging.getLogger('cmdstanpy').disabled = True


def _quiet():
    # prophet sets its own logger's level when imported: quiet it again afterwards.
    for name in ('cmdstanpy', 'prophet', 'prophet.plot', 'prophet.forecaster', 'prophet.models'):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    logging.getLogger('cmdstanpy').disabled = True


NUMPY_IMP_ERR = PANDAS_IMP_ERR = PROPHET_IMP_ERR = STATSFORECAST_IMP_ERR = None
try:
    import numpy
    HAS_NUMPY = True
except ImportError:
    NUMPY_IMP_ERR = traceback.format_exc()
    HAS_NUMPY = False
try:
    import pandas
    HAS_PANDAS = True
except ImportError:
    PANDAS_IMP_ERR = traceback.format_exc()
    HAS_PANDAS = False
try:
    from prophet import Prophet
    from prophet.make_holidays import make_holidays_df
    from prophet.serialize import model_from_json, model_to_json
    HAS_PROPHET = True
except ImportError:
    PROPHET_IMP_ERR = traceback.format_exc()
    HAS_PROPHET = False
# statsforecast is imported when an ARIMA is first fitted, not here: it pulls in statsmodels (over a second of
# start-up) and most runs never need the fallback. Its presence is still checked up front.
HAS_STATSFORECAST = importlib.util.find_spec('statsforecast') is not None
if not HAS_STATSFORECAST:
    STATSFORECAST_IMP_ERR = 'ModuleNotFoundError: No module named statsforecast'
_quiet()


def _fast_stan_json():
    """cmdstanpy writes each fit's data and inits with stanio's write_stan_json, which (without ujson) encodes
    with json's pure-Python iterencode: about a third of a 730-day Prophet fit here. stanio's own dump_stan_json
    produces the same text with the C encoder, so the writer cmdstanpy calls is pointed at it."""
    try:
        import stanio  # pylint: disable=import-outside-toplevel
        from cmdstanpy.utils import filesystem  # pylint: disable=import-outside-toplevel
    except ImportError:
        return

    def write_stan_json(path, data):
        with open(path, 'w') as handle:
            handle.write(stanio.dump_stan_json(data))
    if hasattr(filesystem, 'write_stan_json') and hasattr(stanio, 'dump_stan_json'):
        filesystem.write_stan_json = write_stan_json


if HAS_PROPHET:
    _fast_stan_json()

FORMAT = 'inventory-enterprise-model'
VERSION = 1
SEASON = 7
WEEKLY_SEASON = 52
# Prophet's MAPE above this (percent) makes ARIMA a candidate too (the guide's flag threshold).
PROPHET_MAPE_LIMIT = 20.0
# Fewer non-zero observations than this in the training part: nothing to fit, the naive model says why.
MIN_NONZERO = 14
# Yearly seasonality from this many days of history on: two years minus a holdout, so the holdout fit and the
# final fit of a 730-day window have the same shape (and the previous model's parameters can warm-start it).
YEARLY_DAYS = 700


def missing_libraries():
    """[(library, import traceback)] of the forecasting libraries that cannot be imported."""
    return [(name, err) for name, has, err in (
        ('numpy', HAS_NUMPY, NUMPY_IMP_ERR), ('pandas', HAS_PANDAS, PANDAS_IMP_ERR),
        ('prophet', HAS_PROPHET, PROPHET_IMP_ERR), ('statsforecast', HAS_STATSFORECAST, STATSFORECAST_IMP_ERR))
        if not has]


class Series(object):
    """A regular series: start date, step in days (1 daily, 7 weekly), float values, and the country whose
    public holidays (and the day before each) Prophet models, or None."""

    def __init__(self, start, step, values, holidays=None):
        self.start = start
        self.step = step
        self.values = numpy.asarray(values, dtype=float)
        self.holidays = holidays

    @property
    def season(self):
        if self.step == 1:
            return SEASON
        return WEEKLY_SEASON if len(self.values) >= 2 * WEEKLY_SEASON else 1

    def dates(self, first=0, count=None):
        count = len(self.values) - first if count is None else count
        return [self.start + datetime.timedelta(days=self.step * (first + i)) for i in range(count)]

    def head(self, count):
        return Series(self.start, self.step, self.values[:count], self.holidays)


def prepare(rows, aggregation='daily', end_day=None, holidays=None):
    """rows: (day 'YYYY-MM-DD', quantity) in any order, missing days meaning 0.

    Daily keeps every day from the first row to end_day (default the last row); weekly sums 7-day buckets
    counted back from the last day, so the latest week is complete and a partial oldest week is dropped.
    """
    parsed = {}
    for day, quantity in rows:
        key = datetime.date.fromisoformat(str(day)[:10])
        parsed[key] = parsed.get(key, 0.0) + float(quantity or 0.0)
    if not parsed:
        return Series(datetime.date.fromisoformat(end_day) if end_day else datetime.date.today(), 1, [])
    first = min(parsed)
    last = datetime.date.fromisoformat(end_day) if end_day else max(parsed)
    days = (last - first).days + 1
    values = numpy.zeros(max(days, 0))
    for key, quantity in parsed.items():
        if first <= key <= last:
            values[(key - first).days] = quantity
    if aggregation != 'weekly':
        return Series(first, 1, values, holidays or None)
    weeks = len(values) // 7
    values = values[len(values) - weeks * 7:].reshape(weeks, 7).sum(axis=1) if weeks else numpy.zeros(0)
    return Series(last - datetime.timedelta(days=weeks * 7 - 1), 7, values)


def _finite(value):
    return None if value is None or not math.isfinite(value) else float(value)


def metrics(actual, predicted, train, season=SEASON):
    """The contract's metrics of one holdout. MAPE (percent) only over days with a non-zero actual, so zero days
    of an intermittent item neither divide by zero nor vanish silently (their error is in WAPE and MASE)."""
    actual = numpy.asarray(actual, dtype=float)
    predicted = numpy.asarray(predicted, dtype=float)
    train = numpy.asarray(train, dtype=float)
    error = predicted - actual
    nonzero = actual != 0
    total = float(numpy.abs(actual).sum())
    mape = float(numpy.mean(numpy.abs(error[nonzero]) / numpy.abs(actual[nonzero])) * 100) if nonzero.any() else None
    wape = float(numpy.abs(error).sum() / total * 100) if total > 0 else None
    bias = float(error.sum() / float(actual.sum()) * 100) if actual.sum() != 0 else None
    scale = float(numpy.mean(numpy.abs(train[season:] - train[:-season]))) if len(train) > season else 0.0
    mase = float(numpy.mean(numpy.abs(error)) / scale) if scale > 0 and len(actual) else None
    return {'mape': _finite(mape), 'wape': _finite(wape), 'mase': _finite(mase), 'bias': _finite(bias),
            'mae': _finite(float(numpy.mean(numpy.abs(error))) if len(actual) else 0.0),
            'nonzero_days': int(nonzero.sum())}


# --- the three model kinds: fit(series) -> state, predict(state, series_or_none, periods) -> values ---------

def naive_state(series):
    season = series.season
    last = series.values[-season:] if len(series.values) else numpy.zeros(1)
    return {'season': season, 'last_values': [float(v) for v in last]}


def naive_predict(state, periods):
    last = numpy.asarray(state['last_values'], dtype=float)
    if not len(last):
        return numpy.zeros(periods)
    return numpy.resize(last, periods) if len(last) >= periods else numpy.tile(last, periods // len(last) + 1)[:periods]


def _prophet_frame(series):
    return pandas.DataFrame({'ds': pandas.to_datetime(series.dates()), 'y': series.values})


def _prophet_of(document):
    """The document's Prophet model, parsed once (a 730-day model is ~150 kB of JSON)."""
    if '_parsed' not in document:
        document['_parsed'] = model_from_json(document['prophet'])
    return document['_parsed']


def warm_start(previous):
    """Prophet's documented warm start ("Updating fitted models"): a fitted model's parameters as Stan's init."""
    init = {name: float(previous.params[name][0][0]) for name in ('k', 'm', 'sigma_obs')}
    init.update({name: previous.params[name][0] for name in ('delta', 'beta')})
    return init


def holidays_supported(country):
    """Whether Prophet can model the public holidays of this country code."""
    # holidays is Prophet's own dependency, imported only when a country is checked.
    import holidays  # pylint: disable=import-outside-toplevel
    return country in holidays.list_supported_countries()


def _holidays_frame(series):
    """The series' country holidays over its years and the next (the forecast's), each with the day before:
    a closed day and the rush before it are what a weekly and yearly season cannot predict (the MAPE of a
    holdout with Thanksgiving in it is several times its WAPE without them)."""
    if not series.holidays or series.step != 1:
        return None
    last = series.start + datetime.timedelta(days=max(len(series.values) - 1, 0))
    frame = make_holidays_df(year_list=list(range(series.start.year, last.year + 2)), country=series.holidays)
    frame['lower_window'] = -1
    frame['upper_window'] = 0
    return frame


def _prophet(series, intervals):
    # uncertainty_samples=0 skips the 1000 simulated paths Prophet draws for intervals at predict time, most of
    # a predict's cost; intervals are only computed when asked for.
    return Prophet(uncertainty_samples=1000 if intervals else 0, holidays=_holidays_frame(series),
                   weekly_seasonality=series.step == 1,
                   yearly_seasonality=len(series.values) * series.step >= YEARLY_DAYS,
                   daily_seasonality=False)


def prophet_fit(series, init=None, intervals=False):
    _quiet()  # a host application (the reference service) may have configured logging since the import
    model = _prophet(series, intervals)
    frame = _prophet_frame(series)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            model.fit(frame, init=init) if init else model.fit(frame)
        except (ValueError, RuntimeError, KeyError):
            if not init:
                raise
            # A previous model with another shape (other seasonalities or holidays) cannot seed this one: fit cold.
            model = _prophet(series, intervals)
            model.fit(frame)
    return model


def prophet_predict(model, dates):
    frame = model.predict(pandas.DataFrame({'ds': pandas.to_datetime(dates)}))
    return frame['yhat'].to_numpy(dtype=float)


def preload_arima():
    """Import statsforecast now: a process about to fork workers imports it once for all of them."""
    import statsforecast.arima  # noqa: F401 pylint: disable=import-outside-toplevel,unused-import
    import statsforecast.models  # noqa: F401 pylint: disable=import-outside-toplevel,unused-import


def arima_fit(series, orders=None):
    """AutoARIMA with a small search (it is the fallback, and a full search costs seconds per item); with
    orders (a stored model's) a plain ARIMA refit, which is deterministic."""
    from statsforecast.models import ARIMA, AutoARIMA  # pylint: disable=import-outside-toplevel
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        season = series.season if series.season > 1 and len(series.values) > 2 * series.season else 1
        if orders:
            p, q, sp, sq, season, d, sd = orders
            model = ARIMA(order=(p, d, q), seasonal_order=(sp, sd, sq), season_length=season)
        else:
            model = AutoARIMA(season_length=season, approximation=True, max_p=2, max_q=2, max_P=1, max_Q=1)
        model.fit(series.values)
    return model.model_


def arima_state(fitted):
    """Plain numbers enough to forecast again WITHOUT the data or a refit: the orders, coefficients and the
    Kalman state-space at the end of the history, which is all statsforecast's forecast_arima reads."""
    space = {}
    for key, value in fitted['model'].items():
        space[key] = numpy.asarray(value, dtype=float).tolist() if not isinstance(value, (int, float)) else value
    history = numpy.asarray(fitted['x'], dtype=float)
    constant = float(history[0]) if len(history) and numpy.all(history == history[0]) else None
    # forecast_arima reads the history only for its length (drift) and to spot a constant series. The
    # coefficients are read by position, so they are kept as an ordered list of [name, value] pairs.
    return {'arma': [int(v) for v in fitted['arma']], 'coef': [[k, float(v)] for k, v in fitted['coef'].items()],
            'sigma2': float(fitted['sigma2']), 'model': space, 'nobs': int(len(history)), 'constant': constant}


def arima_predict(state, periods):
    from statsforecast.arima import forecast_arima  # pylint: disable=import-outside-toplevel
    space = {key: (numpy.asarray(value, dtype=float) if isinstance(value, list) else value)
             for key, value in state['model'].items()}
    fitted = {'arma': tuple(state['arma']), 'coef': dict((name, value) for name, value in state['coef']), 'sigma2': state['sigma2'],
              'model': space, 'lambda': None, 'xreg': None, 'residuals': None,
              'x': (numpy.full(state['nobs'], state['constant']) if state['constant'] is not None
                    else numpy.arange(state['nobs'], dtype=float))}
    return numpy.asarray(forecast_arima(fitted, h=periods)['mean'], dtype=float)


# --- candidates on the holdout ------------------------------------------------------------------------------

def _clean(values):
    """Consumption is never negative: forecasts are clipped at 0 (helps intermittent items most)."""
    values = numpy.asarray(values, dtype=float)
    if not numpy.all(numpy.isfinite(values)):
        raise ValueError('the model returned non-finite values')
    return numpy.clip(values, 0.0, None)


def score_candidate(kind, train, test_len, orders=None, init=None, fitted=None):
    """Fit `kind` on train and forecast test_len steps; returns forecast values. fitted (a dict) receives the
    fitted Prophet model, whose parameters warm-start the final fit."""
    if kind == 'seasonal_naive':
        return _clean(naive_predict(naive_state(train), test_len))
    if kind == 'prophet':
        model = prophet_fit(train, init=init)
        if fitted is not None:
            fitted['prophet'] = model
        return _clean(prophet_predict(model, Series(train.start, train.step, numpy.zeros(len(train.values) + test_len))
                                      .dates(len(train.values))))
    if kind == 'arima':
        return _clean(arima_predict(arima_state(arima_fit(train, orders=orders)), test_len))
    raise ValueError('unknown model type %s' % kind)


def score_active(document, train, test_len, candidates):
    """The active model's holdout metrics on the same holdout, out of sample.

    A Prophet model whose history ends before the holdout predicts it from its stored parameters. One that saw
    (part of) the holdout would score in-sample and always look better, so its specification is refit on the
    training part instead: that is the Prophet candidate's own computation (same configuration, warm-started
    from the same parameters), whose metrics are reused. ARIMA is refit on the training part with its stored
    orders (deterministic); seasonal naive is the naive candidate. Returns metrics (with 'mae').
    """
    kind = document['model_type']
    holdout_dates = Series(train.start, train.step, numpy.zeros(len(train.values) + test_len)).dates(len(train.values))
    if kind == 'prophet':
        model = _prophet_of(document)
        if holdout_dates and model.history['ds'].max().date() < holdout_dates[0]:
            return ('predicted', _clean(prophet_predict(model, holdout_dates)))
        if 'prophet' in candidates:
            return ('candidate', candidates['prophet'])
        return ('refit', score_candidate('prophet', train, test_len, init=warm_start(model)))
    if kind == 'arima':
        return ('refit', score_candidate('arima', train, test_len, orders=document['arima']['arma']))
    return ('candidate', candidates['seasonal_naive'])


def _evaluate_candidates(series, train, test, model_type, active, fitted):
    """{kind: holdout metrics} of the candidates that ran, {kind: failure or None}, and why naive was forced."""
    candidates, attempts, reason = {}, {}, None

    def evaluate(kind, **kwargs):
        try:
            predicted = score_candidate(kind, train, len(test), **kwargs)
            candidates[kind] = metrics(test, predicted, train.values, series.season)
            attempts[kind] = None
        except Exception as exc:  # a failing library must not take the item down: ARIMA or naive follow
            attempts[kind] = '%s: %s' % (type(exc).__name__, exc)

    evaluate('seasonal_naive')
    values = series.values
    if len(values) < len(test) + 2 * min(series.season, SEASON) or numpy.count_nonzero(train.values) < MIN_NONZERO:
        reason = ('all-zero history' if not numpy.any(values) else 'too little history (%d observations, %d non-zero)'
                  % (len(values), int(numpy.count_nonzero(values))))
        return candidates, attempts, reason
    if model_type in ('auto', 'prophet'):
        init = None
        if active and active.get('model_type') == 'prophet' and active.get('prophet'):
            try:
                init = warm_start(_prophet_of(active))
            except Exception:  # an unreadable previous model only costs the warm start
                init = None
        evaluate('prophet', init=init, fitted=fitted)
    prophet_mape = candidates.get('prophet', {}).get('mape')
    if model_type == 'arima' or (model_type == 'auto' and (
            'prophet' not in candidates or prophet_mape is None or prophet_mape > PROPHET_MAPE_LIMIT)):
        evaluate('arima')
    return candidates, attempts, reason


def _against_active(active, train, test, series, candidates, chosen_mae):
    """(previous_metrics, reason to keep the active model or None, reason it was not scored or None)."""
    previous_metrics = dict(active.get('metrics') or {})
    try:
        how, scored = score_active(active, train, len(test), candidates)
    except Exception as exc:  # an active model that cannot score is replaced
        previous_metrics['holdout'] = None
        return previous_metrics, None, 'the active model could not be scored: %s' % exc
    active_metrics = scored if how == 'candidate' else metrics(test, scored, train.values, series.season)
    previous_metrics['holdout'] = {key: active_metrics[key] for key in ('mape', 'wape', 'mase', 'bias')}
    if active_metrics['mae'] < chosen_mae:
        return previous_metrics, ('the active %s model scores better on the same holdout (MAE %.4g < %.4g)'
                                  % (active['model_type'], active_metrics['mae'], chosen_mae)), None
    return previous_metrics, None, None


def train_item(rows, end_day=None, aggregation='daily', holdout_days=28, forecast_periods=30,
               model_type='auto', active=None, intervals=False, holidays=None):
    """Train one item: score candidates on the holdout, pick the best, refit the winner on all the data.

    active: the item's active model document plus its stored 'metrics' (or None). Returns a dict: outcome
    ('promoted' or 'kept'), model_type, metrics (the contract's accuracy_metrics without outcome and reason),
    previous_metrics, reason, document (the new model document without id/trained_at, None unless promoted),
    forecast ([(date, value)], None unless promoted) and attempts ({kind: failure or None}).
    """
    series = prepare(rows, aggregation, end_day, holidays)
    values = series.values
    holdout = max(1, int(math.ceil(holdout_days / float(series.step))))
    periods = max(1, int(math.ceil(forecast_periods / float(series.step))))
    cut = max(len(values) - holdout, 0)
    train, test = series.head(cut), values[cut:]
    fitted = {}
    candidates, attempts, reason = _evaluate_candidates(series, train, test, model_type, active, fitted)
    # Lowest mean absolute error on the holdout: on one holdout it orders candidates as WAPE and MASE do, and
    # it exists when every actual is zero. Ties go to seasonal naive, the simpler model.
    best = min(candidates, key=lambda kind: (candidates[kind]['mae'], kind != 'seasonal_naive'))
    if best == 'seasonal_naive' and reason is None:
        failed = ['%s (%s)' % (kind, why) for kind, why in attempts.items() if why]
        reason = 'no model beat seasonal naive on the holdout' + ('; failed: %s' % ', '.join(failed) if failed else '')
    chosen = dict(candidates[best])
    chosen_mae = chosen.pop('mae')
    naive = candidates['seasonal_naive']
    new_metrics = dict(chosen, holdout_days=int(len(test) * series.step), observations=int(len(values)),
                       naive={key: naive[key] for key in ('mape', 'wape', 'mase')})
    previous_metrics, keep_reason = None, None
    if active:
        previous_metrics, keep_reason, unscored = _against_active(active, train, test, series, candidates, chosen_mae)
        reason = reason or unscored
    result = dict(outcome='kept' if keep_reason else 'promoted', model_type=best, metrics=new_metrics,
                  previous_metrics=previous_metrics, reason=keep_reason or reason, attempts=attempts,
                  document=None, forecast=None)
    if not keep_reason:
        result['document'], predicted = final_fit(best, series, periods, intervals, fitted.get('prophet'))
        dates = Series(series.start, series.step, numpy.zeros(len(values) + periods)).dates(len(values))
        result['forecast'] = [(day.isoformat(), float(value)) for day, value in zip(dates, predicted)]
    return result


def final_fit(kind, series, periods, intervals=False, holdout_model=None):
    """The stored model: the winner refit on all the data (the holdout was only for scoring), a Prophet one
    warm-started from the holdout fit's parameters (same shape, four weeks less data: it converges in fewer
    iterations)."""
    document = {'format': FORMAT, 'version': VERSION, 'model_type': kind, 'prophet': None, 'arima': None,
                'naive': naive_state(series), 'step_days': series.step}
    if kind == 'prophet':
        model = prophet_fit(series, intervals=intervals,
                            init=warm_start(holdout_model) if holdout_model is not None else None)
        document['prophet'] = model_to_json(model)
        predicted = _clean(prophet_predict(model, Series(series.start, series.step, numpy.zeros(
            len(series.values) + periods)).dates(len(series.values))))
    elif kind == 'arima':
        document['arima'] = arima_state(arima_fit(series))
        predicted = _clean(arima_predict(document['arima'], periods))
    else:
        predicted = _clean(naive_predict(document['naive'], periods))
    return document, predicted


def forecast_document(document, periods, start=None):
    """Forecast `periods` steps from a stored model document (as loaded from its JSON file)."""
    kind = document['model_type']
    if kind == 'prophet':
        model = _prophet_of(document)
        last = model.history['ds'].max().date()
        step = int(document.get('step_days') or 1)
        dates = [last + datetime.timedelta(days=step * (i + 1)) for i in range(periods)]
        return _clean(prophet_predict(model, dates))
    if kind == 'arima':
        return _clean(arima_predict(document['arima'], periods))
    return _clean(naive_predict(document['naive'], periods))


def dumps(document):
    """The model file's text (keys starting with '_' are in-memory caches, not part of the format)."""
    return json.dumps(dict((key, value) for key, value in document.items() if not key.startswith('_')),
                      sort_keys=True, allow_nan=False)
