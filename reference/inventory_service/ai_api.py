"""The guide's AI API, consumption and registry side: derivation, data quality, anomalies, the model list.

The computations live in consumption.py (the collection's module_utils/_consumption.py, shared through a
symlink); this file only maps them to the guide's paths and payloads. Training (POST /api/ai/forecast/train) is
registered elsewhere, by the forecasting code.
"""
import datetime
import sqlite3
from typing import Optional

from fastapi import Depends, HTTPException, Query
from pydantic import BaseModel, Field

from . import consumption, db, model_review

MAX_DERIVE_DAYS = 3660
DETECT_DAYS = 28


class DeriveRequest(BaseModel):
    start_date: datetime.date
    end_date: datetime.date


class DetectRequest(BaseModel):
    days: int = Field(DETECT_DAYS, ge=1, le=366)


def list_models(conn):
    # The same document the collection's model_review exports (models-YYYY-MM.json): one implementation.
    return model_review.models_document(model_review.load_rows(conn))


def register(app, service, current_user):
    """Add the consumption, anomaly and model-list routes; POSTs need a JWT like the other writes."""
    settings = service.settings

    def run(operation, work, mirror=None):
        """work(conn) on a connection of its own; with dual-write on, the rows mirror(result) selects are then
        mirrored to PostgreSQL like any other write's (a failure there is counted, never raised)."""
        try:
            with db.connection(settings.database_path) as conn, service.metrics.db_timer(operation):
                result = work(conn)
                if service.dual_writer is not None and mirror is not None:
                    service.dual_writer.mirror(conn, operation, mirror(result))
                return result
        except consumption.ConsumptionError as exc:
            raise HTTPException(422, str(exc)) from None
        except sqlite3.OperationalError as exc:
            service.logs.application.error("%s failed: %s", operation, exc)
            raise HTTPException(503, "database unavailable: %s" % exc) from None

    @app.post("/api/ai/consumption/derive")
    def derive(body: DeriveRequest, user: str = Depends(current_user)):
        if body.end_date < body.start_date:
            raise HTTPException(422, "end_date is before start_date")
        if (body.end_date - body.start_date).days >= MAX_DERIVE_DAYS:
            raise HTTPException(422, "at most %d days per request" % MAX_DERIVE_DAYS)
        result = run("consumption_derive", lambda conn: consumption.derive(conn, body.start_date, body.end_date),
                     mirror=lambda _result: [("consumption_history", "day >= ? AND day <= ?",
                                               (body.start_date.isoformat(), body.end_date.isoformat()))])
        # The item ranking reads consumption history.
        service.cache.invalidate()
        service.logs.audit.info("user_id: %s action=consumption.derive start=%s end=%s inserted=%d updated=%d "
                                "adjustments=%d", user, body.start_date, body.end_date, result["inserted"],
                                result["updated"], len(result["adjustments"]))
        return result

    @app.get("/api/ai/consumption/derive")
    def data_quality(item_code: str = Query(..., min_length=1, max_length=64)):
        def read(conn):
            report = consumption.data_quality(conn, item_code)
            known = conn.execute("SELECT 1 FROM item_master WHERE item_code = ?", (item_code,)).fetchone()
            return report, known
        report, known = run("consumption_quality", read)
        if not known and not report["days_covered"]:
            raise HTTPException(404, "unknown item_code: %s" % item_code)
        return report

    @app.post("/api/ai/consumption/detect-anomalies")
    def detect(body: Optional[DetectRequest] = None, user: str = Depends(current_user)):
        days = (body or DetectRequest()).days
        today = datetime.date.today()
        since = today - datetime.timedelta(days=days - 1)
        found, new = run("consumption_anomalies", lambda conn: consumption.detect_anomalies(conn, since, today=today),
                         mirror=lambda _result: [("ai_anomalies", "day >= ?", (since.isoformat(),))])
        service.logs.audit.info("user_id: %s action=consumption.detect_anomalies since=%s found=%d new=%d",
                                user, since, len(found), new)
        return {"anomalies": found, "new": new, "since": since.isoformat()}

    @app.get("/api/ai/anomaly/list")
    def anomalies(days: int = Query(1, ge=1, le=3660)):
        found = run("anomaly_list", lambda conn: consumption.list_anomalies(conn, days))
        return {"anomalies": found, "days": days, "total": len(found)}

    @app.get("/api/ai/models/list")
    def models():
        return run("models_list", list_models)
