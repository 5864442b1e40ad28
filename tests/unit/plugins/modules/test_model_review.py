# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""model_review against a real SQLite registry: verdicts (MAPE, MASE for intermittent items), the monthly export
and its trend, the node_exporter textfile read back with prometheus_client's parser; it never writes the database."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import calendar
import json
import os
import sqlite3
import time

from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.model_registry_dbs import (
    make_registry,
    metrics,
    rows,
    tree,
)
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

from ansible_collections.inventory_enterprise.ops.plugins.modules import model_review

MODELS = [
    dict(entity="GOOD", metrics=metrics(10.0, mase=0.5)),
    dict(entity="MEH", metrics=metrics(17.0, mase=0.7)),
    dict(entity="BAD", metrics=metrics(25.0, mase=0.9)),
    dict(entity="BAD", status="inactive", days_ago=10, metrics=metrics(40.0, mase=1.5)),
    # 8 days with demand out of the 28 of the holdout: MAPE over those days says little, MASE decides.
    dict(entity="SPARSE-OK", metrics=metrics(80.0, mase=0.8, nonzero_days=8)),
    dict(entity="SPARSE-BAD", model_type="seasonal_naive", metrics=metrics(5.0, mase=1.3, nonzero_days=8)),
    dict(entity="ZERO", model_type="seasonal_naive", metrics=metrics(None, mase=None, nonzero_days=0, outcome="kept")),
    dict(entity="NEW", metrics=None),
]


def run(args, capsys, check_mode=False):
    return run_module(model_review, args, capsys, check_mode=check_mode)


def args_of(paths, **extra):
    return dict(dict(database_path=paths["database_path"], models_dir=paths["models_dir"],
                     service_home=paths["service_home"]), **extra)


def by_item(result):
    return dict((m["item_code"], m) for m in result["models"])


def test_verdicts_follow_the_guide_and_judge_intermittent_items_by_mase(tmp_path, capsys):
    paths = make_registry(tmp_path, MODELS)
    failed, result = run(args_of(paths), capsys)
    assert not failed and result["changed"] is False
    models = by_item(result)
    assert sorted(models) == ["BAD", "GOOD", "MEH", "NEW", "SPARSE-BAD", "SPARSE-OK", "ZERO"]
    assert dict((item, m["verdict"]) for item, m in models.items()) == {
        "GOOD": "ok", "MEH": "above_target", "BAD": "flagged", "SPARSE-OK": "ok", "SPARSE-BAD": "flagged",
        "ZERO": "unscored", "NEW": "unscored"}
    assert models["BAD"]["mape"] == 25.0 and models["BAD"]["id"] == 3 and "above 20%" in models["BAD"]["reason"]
    assert models["SPARSE-OK"]["intermittent"] is True and models["GOOD"]["intermittent"] is False
    assert "MASE 1.30" in models["SPARSE-BAD"]["reason"] and models["NEW"]["intermittent"] is None
    assert result["flagged"] == ["BAD", "SPARSE-BAD"]
    assert result["summary"] == dict(models=7, ok=2, above_target=1, flagged=2, unscored=2, intermittent=3,
                                     median_mape=17.0, median_wape=17.0)
    assert result["export"] is None and result["trend"] is None and result["metrics_file"] is None


def test_thresholds_are_options(tmp_path, capsys):
    paths = make_registry(tmp_path, MODELS)
    failed, result = run(args_of(paths, target_mape=5, flag_mape=12, mase_flag=1.4, intermittent_adi=10), capsys)
    assert not failed
    verdicts = dict((m["item_code"], m["verdict"]) for m in result["models"])
    # With an ADI cut-off of 10 no item is intermittent: SPARSE-OK's 80% MAPE now flags it.
    assert verdicts["GOOD"] == "above_target" and verdicts["MEH"] == "flagged" and verdicts["SPARSE-OK"] == "flagged"
    assert verdicts["SPARSE-BAD"] == "above_target"


def test_reads_only(tmp_path, capsys):
    paths = make_registry(tmp_path, MODELS, wal=False)
    before_rows, before_files = rows(paths["database_path"]), tree(os.path.dirname(paths["database_path"]))
    for check_mode in (True, False):
        failed, result = run(args_of(paths), capsys, check_mode=check_mode)
        assert not failed and result["changed"] is False
    assert rows(paths["database_path"]) == before_rows
    assert tree(os.path.dirname(paths["database_path"])) == before_files


def test_monthly_export_is_the_models_list_written_once(tmp_path, capsys):
    paths = make_registry(tmp_path, MODELS)
    export_dir = tmp_path / "reports"
    export_dir.mkdir()
    target = export_dir / "models-2026-12.json"
    failed, result = run(args_of(paths, export_dir=str(export_dir), export_month="2026-12"), capsys, check_mode=True)
    assert not failed and result["changed"] is True and result["export"]["changed"] is True
    assert list(export_dir.iterdir()) == []

    failed, result = run(args_of(paths, export_dir=str(export_dir), export_month="2026-12"), capsys)
    assert not failed and result["changed"] is True
    assert result["export"] == dict(path=str(target), changed=True, models=8)
    document = json.loads(target.read_text())
    assert [m["entity_id"] for m in document["models"]] == [
        "BAD", "BAD", "GOOD", "MEH", "NEW", "SPARSE-BAD", "SPARSE-OK", "ZERO"]
    bad = document["models"][0]
    assert bad == dict(id=3, entity_id="BAD", model_type="prophet", status="active", trained_at=rows(
        paths["database_path"])[2][5], accuracy_metrics=metrics(25.0, mase=0.9))
    assert document["models"][4]["accuracy_metrics"] is None and document["total"] == 8
    assert [p.name for p in export_dir.iterdir()] == ["models-2026-12.json"]

    mtime = os.stat(str(target)).st_mtime_ns
    failed, result = run(args_of(paths, export_dir=str(export_dir), export_month="2026-12"), capsys)
    assert not failed and result["changed"] is False and result["export"]["changed"] is False
    assert os.stat(str(target)).st_mtime_ns == mtime

    conn = sqlite3.connect(paths["database_path"])
    conn.execute("UPDATE ai_models SET accuracy_metrics = ? WHERE id = 3", (json.dumps(metrics(12.0, mase=0.4)),))
    conn.commit()
    conn.close()
    failed, result = run(args_of(paths, export_dir=str(export_dir), export_month="2026-12"), capsys)
    assert not failed and result["changed"] is True
    assert json.loads(target.read_text())["models"][0]["accuracy_metrics"]["mape"] == 12.0


def test_trend_compares_with_the_previous_months_export(tmp_path, capsys):
    paths = make_registry(tmp_path, MODELS)
    export_dir = tmp_path / "reports"
    export_dir.mkdir()
    failed, result = run(args_of(paths, export_dir=str(export_dir), export_month="2026-01"), capsys)
    assert not failed and result["trend"] is None
    conn = sqlite3.connect(paths["database_path"])
    conn.execute("UPDATE ai_models SET accuracy_metrics = ? WHERE id = 3", (json.dumps(metrics(12.0, mase=0.4)),))
    conn.execute("UPDATE ai_models SET accuracy_metrics = ? WHERE id = 1", (json.dumps(metrics(14.0, mase=0.6)),))
    conn.commit()
    conn.close()
    # January's previous month is December of the year before: no export there.
    failed, result = run(args_of(paths, export_dir=str(export_dir), export_month="2026-02"), capsys)
    assert not failed
    assert result["trend"] == dict(previous_export=str(export_dir / "models-2026-01.json"), compared=5,
                                   improved=["BAD"], worsened=["GOOD"], median_mape=14.0, previous_median_mape=17.0)
    assert by_item(result)["BAD"]["previous_mape"] == 25.0 and by_item(result)["NEW"]["previous_mape"] is None


def test_a_broken_previous_export_gives_no_trend_and_a_warning(tmp_path, capsys):
    paths = make_registry(tmp_path, MODELS)
    (tmp_path / "models-2026-11.json").write_text("{not json")
    failed, result = run(args_of(paths, export_dir=str(tmp_path), export_month="2026-12"), capsys)
    assert not failed and result["trend"] is None
    assert "models-2026-11.json cannot be read" in json.dumps(result["warnings"])


def samples(text):
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def test_textfile_parses_and_carries_the_metrics(tmp_path, capsys):
    paths = make_registry(tmp_path, MODELS)
    prom = tmp_path / "textfile" / "inventory_models.prom"
    prom.parent.mkdir()
    failed, result = run(args_of(paths, metrics_file=str(prom)), capsys, check_mode=True)
    assert not failed and result["changed"] is True and not prom.exists()

    failed, result = run(args_of(paths, metrics_file=str(prom)), capsys)
    assert not failed and result["changed"] is True and result["metrics_file"] == str(prom)
    found = samples(prom.read_text())
    assert sorted((labels["item_code"], labels["model_type"], value) for labels, value in found["ie_model_mape"]) == [
        ("BAD", "prophet", 25.0), ("GOOD", "prophet", 10.0), ("MEH", "prophet", 17.0),
        ("SPARSE-BAD", "seasonal_naive", 5.0), ("SPARSE-OK", "prophet", 80.0)]
    assert dict((labels["item_code"], value) for labels, value in found["ie_model_mase"])["SPARSE-BAD"] == 1.3
    assert len(found["ie_model_wape"]) == 5
    stamps = dict((labels["item_code"], value) for labels, value in found["ie_model_last_retrain_timestamp_seconds"])
    assert sorted(stamps) == ["BAD", "GOOD", "MEH", "NEW", "SPARSE-BAD", "SPARSE-OK", "ZERO"]
    newest_bad = rows(paths["database_path"])[2][5]
    assert stamps["BAD"] == calendar.timegm(time.strptime(newest_bad, "%Y-%m-%dT%H:%M:%SZ"))
    outcomes = dict((labels["item_code"], labels["outcome"]) for labels, value in found["ie_model_last_retrain_outcome"]
                    if value == 1)
    assert outcomes["ZERO"] == "kept" and outcomes["BAD"] == "promoted" and outcomes["NEW"] == "unknown"

    mtime = os.stat(str(prom)).st_mtime_ns
    failed, result = run(args_of(paths, metrics_file=str(prom)), capsys)
    assert not failed and result["changed"] is False and os.stat(str(prom)).st_mtime_ns == mtime
    assert sorted(os.listdir(str(prom.parent))) == ["inventory_models.prom"]


def test_failures_say_what_and_where(tmp_path, capsys):
    failed, result = run(dict(database_path=str(tmp_path / "nope.db"), service_home=str(tmp_path)), capsys)
    assert failed and "nope.db does not exist" in result["msg"] and "database_path" in result["msg"]
    plain = tmp_path / "plain.db"
    sqlite3.connect(str(plain)).close()
    failed, result = run(dict(database_path=str(plain), service_home=str(tmp_path)), capsys)
    assert failed and "ai_models" in result["msg"] and str(plain) in result["msg"]
    paths = make_registry(tmp_path / "home", MODELS)
    failed, result = run(args_of(paths, export_dir=str(tmp_path / "missing")), capsys)
    assert failed and "export_dir" in result["msg"] and "does not exist" in result["msg"]
    failed, result = run(args_of(paths, export_dir=str(tmp_path), export_month="2026-13"), capsys)
    assert failed and "YYYY-MM" in result["msg"]


def test_a_failure_after_the_export_reports_the_change(tmp_path, capsys):
    paths = make_registry(tmp_path, MODELS)
    reports = tmp_path / "reports"
    (reports / "metrics.prom").mkdir(parents=True)
    failed, result = run(args_of(paths, export_dir=str(reports), export_month="2026-12",
                                 metrics_file=str(reports / "metrics.prom")), capsys)
    assert failed and result["changed"] is True and result["export"]["changed"] is True
    assert "metrics.prom" in result["msg"] and "writable" in result["msg"]
    assert (reports / "models-2026-12.json").exists()
