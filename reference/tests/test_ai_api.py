"""The guide's AI API (consumption, anomalies, model list) against a real uvicorn server and SQLite file."""
import datetime
import json

import pytest
import requests

from refhelpers import add_items, make_settings
from inventory_service import consumption, db

from test_api import auth_headers

TODAY = datetime.date.today()


def ago(days):
    return (TODAY - datetime.timedelta(days=days)).isoformat()


@pytest.fixture
def settings(tmp_path):
    settings = make_settings(tmp_path / "home")
    add_items(settings, "A-1", "B-2", "C-3")
    return settings


@pytest.fixture
def server(serve, settings):
    return serve(settings)


def test_derive_then_quality_and_ranking(server, settings):
    headers = auth_headers(server)
    # Before any history, the ranking is by received quantity (B-2 received most).
    for number, (code, quantity) in enumerate((("A-1", 5), ("B-2", 50))):
        assert requests.post(server.url + "/api/invoices", headers=headers, json={
            "invoice_number": "INV-%d" % number, "vendor": "Acme", "invoice_date": ago(1),
            "lines": [{"item_code": code, "quantity": quantity, "amount": 1}]}).status_code == 201
    ranked = requests.get(server.url + "/api/inventory/items?limit=2").json()
    assert ranked["basis"] == "invoices" and [item["item_code"] for item in ranked["items"]] == ["B-2", "A-1"]
    for count_day, lines in ((ago(2), {"A-1": 40, "B-2": 60}), (ago(1), {"A-1": 5, "B-2": 100}),
                             (ago(0), {"A-1": 1, "B-2": 99})):
        assert requests.post(server.url + "/api/inventory/counts", headers=headers, json={
            "count_date": count_day, "items": [{"item_code": c, "quantity": q} for c, q in lines.items()]}
        ).status_code == 201
    body = {"start_date": ago(1), "end_date": ago(0)}
    assert requests.post(server.url + "/api/ai/consumption/derive", json=body).status_code == 401
    first = requests.post(server.url + "/api/ai/consumption/derive", json=body, headers=headers)
    assert first.status_code == 200, first.text
    result = first.json()
    assert (result["inserted"], result["updated"], result["unchanged"]) == (4, 0, 0)
    assert result["range"] == body and result["items"] == ["A-1", "B-2"]
    again = requests.post(server.url + "/api/ai/consumption/derive", json=body, headers=headers).json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 4)
    # The ranking now follows consumption: A-1 40 + 5 received - 5, then 4; B-2 60 + 50 - 100, then 1.
    ranked = requests.get(server.url + "/api/inventory/items?limit=5").json()
    assert ranked["basis"] == "consumption"
    assert [(item["item_code"], item["volume"]) for item in ranked["items"]] == [
        ("A-1", 44.0), ("B-2", 11.0), ("C-3", 0)]
    quality = requests.get(server.url + "/api/ai/consumption/derive", params={"item_code": "A-1"}).json()
    assert quality["item_code"] == "A-1" and quality["days_covered"] == 2 and quality["gaps"] == []
    assert any("too little history" in issue for issue in quality["issues"])
    assert requests.get(server.url + "/api/ai/consumption/derive", params={"item_code": "NOPE"}).status_code == 404
    bad = requests.post(server.url + "/api/ai/consumption/derive", headers=headers,
                        json={"start_date": ago(0), "end_date": ago(3)})
    assert bad.status_code == 422 and "before" in bad.json()["detail"]


def test_detect_and_list_anomalies(server, settings):
    weekly = (10, 11, 12, 13, 20, 25, 6)
    rows = [("A-1", ago(n), float(weekly[n % 7])) for n in range(1, 90)]
    rows.append(("A-1", ago(0), 90.0))
    with db.connection(settings.database_path) as conn:
        consumption.import_rows(conn, rows)
    assert requests.post(server.url + "/api/ai/consumption/detect-anomalies").status_code == 401
    headers = auth_headers(server)
    detected = requests.post(server.url + "/api/ai/consumption/detect-anomalies", headers=headers)
    assert detected.status_code == 200, detected.text
    body = detected.json()
    assert body["new"] == 1 and body["since"] == ago(27)
    assert [(a["item_code"], a["day"], a["quantity"]) for a in body["anomalies"]] == [("A-1", ago(0), 90.0)]
    assert requests.post(server.url + "/api/ai/consumption/detect-anomalies", headers=headers).json()["new"] == 0
    listed = requests.get(server.url + "/api/ai/anomaly/list?days=1").json()
    assert listed["total"] == 1 and listed["anomalies"][0]["expected"] == weekly[0]
    assert requests.get(server.url + "/api/ai/anomaly/list?days=0").status_code == 422


def test_models_list_parses_metrics(server, settings):
    assert requests.get(server.url + "/api/ai/models/list").json() == {"models": [], "total": 0}
    metrics = {"mape": 12.5, "wape": 10.0, "mase": 0.8, "bias": -1.0, "outcome": "promoted"}
    with db.connection(settings.database_path) as conn:
        conn.executemany("INSERT INTO ai_models (entity_id, model_type, status, accuracy_metrics, trained_at) "
                         "VALUES (?, ?, ?, ?, ?)",
                         [("A-1", "prophet", "active", json.dumps(metrics), "2026-11-29T03:00:00Z"),
                          ("A-1", "arima", "inactive", "not json", "2026-11-22T03:00:00Z")])
    models = requests.get(server.url + "/api/ai/models/list").json()["models"]
    assert [(m["entity_id"], m["model_type"], m["status"], m["trained_at"]) for m in models] == [
        ("A-1", "prophet", "active", "2026-11-29T03:00:00Z"), ("A-1", "arima", "inactive", "2026-11-22T03:00:00Z")]
    assert models[0]["accuracy_metrics"] == metrics and models[1]["accuracy_metrics"] is None
    # The guide's morning check: jq '.models[] | select(.accuracy_metrics.mape > 20)'.
    assert [m for m in models if (m["accuracy_metrics"] or {}).get("mape", 0) > 20] == []
