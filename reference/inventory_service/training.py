"""POST /api/ai/forecast/train: the guide's training call, on the collection's one forecasting implementation.

forecast.py and model_registry.py are symlinks to the collection's plugins/module_utils/_forecast.py and
_model_registry.py, so a model trained here and one trained by model_retrain (method=local) are the same
computation and the same records.
"""
import threading
import time
from typing import Optional

from fastapi import Depends, HTTPException
from pydantic import BaseModel, Field

from . import consumption, db, forecast, model_registry

_ITEM_LOCKS = {}
_ITEM_LOCKS_GUARD = threading.Lock()


class TrainOptions(BaseModel):
    trainingDays: int = Field(365)
    forecastPeriods: int = Field(30, ge=1, le=366)
    holdoutDays: int = Field(28, ge=1, le=365)
    aggregation: str = Field("daily", pattern="^(daily|weekly)$")
    # Country whose public holidays Prophet models (model_retrain's `holidays`); empty: none.
    holidays: str = Field("US", max_length=8)


class TrainRequest(BaseModel):
    item_code: str = Field(..., min_length=1, max_length=128)
    model_type: str = Field("auto", pattern="^(auto|prophet|arima)$")
    options: Optional[TrainOptions] = None


def _item_lock(item_code):
    # Two requests for one item would both promote: one at a time per item, items in parallel.
    with _ITEM_LOCKS_GUARD:
        return _ITEM_LOCKS.setdefault(item_code, threading.Lock())


def train(settings, item_code, model_type="auto", options=None):
    """Train one item from the service's database; returns the entry model_retrain reports for it."""
    options = options or TrainOptions()
    started = time.monotonic()
    with _item_lock(item_code), db.connection(settings.database_path) as conn:
        model_registry.clean(conn, str(settings.models_dir))
        start, end = model_registry.window(conn, options.trainingDays)
        if start is None:
            raise LookupError("no consumption history in the database: derive or import it first")
        history = consumption.history(conn, item_code, start, end)
        active = model_registry.active_models(conn, str(settings.models_dir), {item_code}).get(item_code)
        try:
            result = forecast.train_item(history, end_day=end, aggregation=options.aggregation,
                                         holdout_days=options.holdoutDays, forecast_periods=options.forecastPeriods,
                                         model_type=model_type, active=model_registry.challenger_input(active),
                                         holidays=options.holidays or None)
        except Exception as exc:  # recorded as the module records a failed item
            result = dict(outcome="failed", model_type="prophet" if model_type == "auto" else model_type,
                          reason="%s: %s" % (type(exc).__name__, exc), metrics=None, previous_metrics=None)
        model_id = model_registry.record(conn, str(settings.models_dir), item_code, result)
    return model_registry.entry(item_code, result, model_id, time.monotonic() - started)


def register(app, service, current_user):
    """Add POST /api/ai/forecast/train (JWT required) to the app."""

    @app.post("/api/ai/forecast/train")
    def train_endpoint(body: TrainRequest, user: str = Depends(current_user)):
        missing = [name for name, _error in forecast.missing_libraries()]
        if missing:
            raise HTTPException(503, "training needs %s installed in the service's environment "
                                     "(pip install -r requirements/ai.txt)" % ", ".join(missing))
        options = body.options or TrainOptions()
        if options.trainingDays not in (365, 730):
            raise HTTPException(422, "options.trainingDays must be 365 or 730")
        if options.holidays and not forecast.holidays_supported(options.holidays):
            raise HTTPException(422, "options.holidays must be a country code the holidays library knows, or empty")
        try:
            entry = train(service.settings, body.item_code, body.model_type, options)
        except LookupError as exc:
            raise HTTPException(409, str(exc)) from None
        service.logs.application.info("model trained item=%s outcome=%s model_type=%s user=%s",
                                      body.item_code, entry["outcome"], entry["model_type"], user)
        return entry
