# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""model_archive against a real SQLite registry and real model files: old models are archived and their files
moved, the active model of an item never is, check mode writes nothing, a second run changes nothing, and a run
killed between the file move and the database update is completed by the next one."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import sqlite3

from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.model_registry_dbs import (
    make_registry,
    metrics,
    rows,
    statuses,
    tree,
)
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module

from ansible_collections.inventory_enterprise.ops.plugins.modules import model_archive

MODELS = [
    # id 1: the active model of OLD-ACTIVE, 200 days old: never archived.
    dict(entity="OLD-ACTIVE", status="active", days_ago=200, metrics=metrics(10.0)),
    # id 2, 3: A's replaced model (120 days) goes; its active one (5 days) stays.
    dict(entity="A", status="inactive", days_ago=120, metrics=metrics(30.0)),
    dict(entity="A", status="active", days_ago=5, metrics=metrics(12.0)),
    # id 4: a recent losing challenger stays.
    dict(entity="A", status="inactive", days_ago=30, metrics=metrics(35.0, outcome="rejected")),
    # id 5: an old failed training without a file goes.
    dict(entity="B", status="failed", days_ago=95, metrics=None, file=False),
    dict(entity="B", status="active", days_ago=95, model_type="arima", metrics=metrics(18.0)),
]


def run(args, capsys, check_mode=False, diff=False):
    return run_module(model_archive, args, capsys, check_mode=check_mode, diff=diff)


def args_of(paths, **extra):
    return dict(dict(database_path=paths["database_path"], models_dir=paths["models_dir"],
                     service_home=paths["service_home"]), **extra)


def archive_of(paths):
    return os.path.join(os.path.dirname(paths["models_dir"]), "archive")


def test_archives_old_models_and_moves_their_files_never_the_active_one(tmp_path, capsys):
    paths = make_registry(tmp_path, MODELS)
    models_dir, archive_dir = paths["models_dir"], archive_of(paths)
    a_file = open(os.path.join(models_dir, "A", "2.json")).read()
    failed, result = run(args_of(paths), capsys)
    assert not failed and result["changed"] is True
    assert [(a["id"], a["item_code"], a["status"]) for a in result["archived"]] == [(2, "A", "inactive"), (5, "B", "failed")]
    assert result["archived"][0]["file"] == os.path.join(archive_dir, "A", "2.json") and result["archived"][1]["file"] is None
    assert result["files_moved"] == [dict(id=2, item_code="A", src=os.path.join(models_dir, "A", "2.json"),
                                          dest=os.path.join(archive_dir, "A", "2.json"))]
    assert [(k["id"], k["item_code"]) for k in result["kept_active"]] == [(1, "OLD-ACTIVE"), (6, "B")]
    assert result["archive_dir"] == archive_dir
    assert statuses(paths["database_path"]) == {1: "active", 2: "archived", 3: "active", 4: "inactive", 5: "archived",
                                                6: "active"}
    assert sorted(tree(models_dir)) == ["A/3.json", "A/4.json", "B/6.json", "OLD-ACTIVE/1.json"]
    assert sorted(tree(archive_dir)) == ["A/2.json"]
    assert open(os.path.join(archive_dir, "A", "2.json")).read() == a_file

    before = (rows(paths["database_path"]), tree(models_dir), tree(archive_dir))
    failed, result = run(args_of(paths), capsys)
    assert not failed and result["changed"] is False and result["archived"] == [] and result["files_moved"] == []
    assert (rows(paths["database_path"]), tree(models_dir), tree(archive_dir)) == before


def test_check_mode_lists_what_would_move_and_writes_nothing(tmp_path, capsys):
    paths = make_registry(tmp_path, MODELS, wal=False)
    before = (rows(paths["database_path"]), tree(str(tmp_path)))
    failed, result = run(args_of(paths), capsys, check_mode=True, diff=True)
    assert not failed and result["changed"] is True
    assert [a["id"] for a in result["archived"]] == [2, 5]
    assert [m["id"] for m in result["files_moved"]] == [2]
    assert (rows(paths["database_path"]), tree(str(tmp_path))) == before
    assert not os.path.exists(archive_of(paths))
    assert "2 A inactive" in result["diff"]["before"] and "2 A archived" in result["diff"]["after"]
    assert os.path.join(archive_of(paths), "A", "2.json") in result["diff"]["after"]


def test_the_cutoff_and_archive_dir_are_options(tmp_path, capsys):
    paths = make_registry(tmp_path, MODELS)
    elsewhere = str(tmp_path / "cold")
    failed, result = run(args_of(paths, older_than_days=20, archive_dir=elsewhere), capsys, diff=True)
    assert not failed and [a["id"] for a in result["archived"]] == [2, 4, 5]
    assert sorted(tree(elsewhere)) == ["A/2.json", "A/4.json"]
    # older_than_days 0 still keeps every active model.
    failed, result = run(args_of(paths, older_than_days=0, archive_dir=elsewhere), capsys)
    assert not failed and result["changed"] is False
    assert sorted(k["id"] for k in result["kept_active"]) == [1, 3, 6]
    assert statuses(paths["database_path"])[3] == "active"


def test_a_run_killed_after_the_move_is_completed_by_the_next(tmp_path, capsys):
    paths = make_registry(tmp_path, MODELS)
    models_dir, archive_dir = paths["models_dir"], archive_of(paths)
    # The state a crash between the file move and the database update leaves: file archived, row still inactive.
    os.makedirs(os.path.join(archive_dir, "A"))
    os.rename(os.path.join(models_dir, "A", "2.json"), os.path.join(archive_dir, "A", "2.json"))
    failed, result = run(args_of(paths), capsys)
    assert not failed and result["changed"] is True and result["files_moved"] == []
    assert result["archived"][0]["id"] == 2 and result["archived"][0]["file"] == os.path.join(archive_dir, "A", "2.json")
    assert statuses(paths["database_path"])[2] == "archived"


def test_a_copy_left_in_both_places_is_completed_a_different_one_is_refused(tmp_path, capsys):
    paths = make_registry(tmp_path, MODELS)
    models_dir, archive_dir = paths["models_dir"], archive_of(paths)
    os.makedirs(os.path.join(archive_dir, "A"))
    shutil.copy(os.path.join(models_dir, "A", "2.json"), os.path.join(archive_dir, "A", "2.json"))
    with open(os.path.join(archive_dir, "A", "2.json"), "a") as handle:
        handle.write(" ")
    failed, result = run(args_of(paths), capsys)
    assert failed and "other content" in result["msg"] and "next run" in result["msg"]
    assert result["changed"] is False and statuses(paths["database_path"])[2] == "inactive"
    assert os.path.exists(os.path.join(models_dir, "A", "2.json"))

    shutil.copy(os.path.join(models_dir, "A", "2.json"), os.path.join(archive_dir, "A", "2.json"))
    failed, result = run(args_of(paths), capsys)
    assert not failed and result["changed"] is True and [m["id"] for m in result["files_moved"]] == [2]
    assert not os.path.exists(os.path.join(models_dir, "A", "2.json"))
    assert statuses(paths["database_path"])[2] == "archived"


def test_files_of_rows_archived_by_the_guides_sql_are_moved(tmp_path, capsys):
    paths = make_registry(tmp_path, MODELS)
    conn = sqlite3.connect(paths["database_path"])
    conn.execute("UPDATE ai_models SET status = 'archived' WHERE id = 4")
    conn.commit()
    conn.close()
    failed, result = run(args_of(paths), capsys)
    assert not failed and [m["id"] for m in result["files_moved"]] == [2, 4]
    assert [a["id"] for a in result["archived"]] == [2, 5]
    assert sorted(tree(archive_of(paths))) == ["A/2.json", "A/4.json"]


def test_an_entity_that_cannot_name_a_directory_is_left_alone(tmp_path, capsys):
    paths = make_registry(tmp_path, [dict(entity="OK", status="active", days_ago=1, metrics=metrics(5.0))])
    conn = sqlite3.connect(paths["database_path"])
    conn.execute("INSERT INTO ai_models (entity_id, model_type, status, accuracy_metrics, trained_at) VALUES "
                 "('../../data', 'prophet', 'inactive', ?, '2020-01-01T00:00:00Z')", (json.dumps(metrics(5.0)),))
    conn.commit()
    conn.close()
    failed, result = run(args_of(paths), capsys)
    assert not failed and result["changed"] is False and "cannot name a directory" in json.dumps(result["warnings"])
    assert statuses(paths["database_path"])[2] == "inactive"


def test_a_missing_database_fails_clearly(tmp_path, capsys):
    failed, result = run(dict(database_path=str(tmp_path / "nope.db"), service_home=str(tmp_path)), capsys)
    assert failed and result["changed"] is False and "nope.db does not exist" in result["msg"]


def test_a_database_failure_after_the_moves_is_honest_and_the_next_run_completes(tmp_path, capsys):
    paths = make_registry(tmp_path, MODELS)
    conn = sqlite3.connect(paths["database_path"])
    # A real SQLite error at the update, after the files moved: what a run killed between the two steps leaves.
    conn.execute("CREATE TRIGGER no_archive BEFORE UPDATE ON ai_models BEGIN SELECT RAISE(ABORT, 'registry locked by "
                 "a test'); END")
    conn.commit()
    failed, result = run(args_of(paths), capsys)
    assert failed and result["changed"] is True and "registry locked by a test" in result["msg"]
    assert [m["id"] for m in result["files_moved"]] == [2] and result["archived"] == []
    assert statuses(paths["database_path"])[2] == "inactive"
    assert sorted(tree(archive_of(paths))) == ["A/2.json"]
    conn.execute("DROP TRIGGER no_archive")
    conn.commit()
    conn.close()
    failed, result = run(args_of(paths), capsys)
    assert not failed and result["changed"] is True and result["files_moved"] == []
    assert [a["id"] for a in result["archived"]] == [2, 5]
    assert statuses(paths["database_path"]) == {1: "active", 2: "archived", 3: "active", 4: "inactive", 5: "archived",
                                                6: "active"}
