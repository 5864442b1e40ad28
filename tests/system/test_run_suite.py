"""tests/run_suite.py counts skips from JUnit reports and fails the suite on any skip it did not expect."""
import os
import re
import textwrap

import pytest

from tests import run_suite

# How CI reads the closing line: 'N passed, N failed', optionally ', N skipped', one word and a colon before.
CLOSING_LINE = re.compile(r"^(\w+: )?\d+ passed, \d+ failed(, \d+ skipped)?$")

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="6">
  <testcase classname="tests.unit.plugins.modules.test_db_maintenance" name="test_vacuum" time="0.1"/>
  <testcase classname="tests.unit.plugins.modules.test_db_maintenance" name="test_pg_activity" time="0.0">
    <skipped type="pytest.skip" message="PostgreSQL is not reachable: connection refused">skip text</skipped>
  </testcase>
  <testcase classname="tests.unit.plugins.modules.test_backup" name="test_full_disk[tmpfs]" time="0.2">
    <failure message="assert 1 == 2">trace</failure>
  </testcase>
  <testcase classname="tests.unit.plugins.modules.test_backup" name="test_broken_fixture" time="0.0">
    <error message="fixture failed">trace</error>
  </testcase>
  <testcase classname="" name="tests.unit.plugins.modules.test_dual_write_parity" time="0.0">
    <skipped>could not import
        'psycopg2'</skipped>
  </testcase>
  <testcase classname="tests.unit.plugins.modules.test_backup" name="test_ok" time="0.1"/>
</testsuite></testsuites>
"""


def write_junit(tmp_path, text=JUNIT):
    path = tmp_path / "units.xml"
    path.write_text(text)
    return str(path)


def test_junit_counts_passes_failures_and_each_skip_by_test_id(tmp_path):
    counts = run_suite.junit_counts(write_junit(tmp_path))
    assert (counts.passed, counts.failed) == (2, 2)
    assert counts.skipped == [
        ("tests.unit.plugins.modules.test_db_maintenance::test_pg_activity",
         "PostgreSQL is not reachable: connection refused"),
        ("tests.unit.plugins.modules.test_dual_write_parity", "could not import 'psycopg2'"),
    ]


def test_a_stage_without_a_report_has_no_counts(tmp_path):
    assert run_suite.junit_counts(str(tmp_path / "missing.xml")) is None


def test_an_unexpected_skip_fails_the_stage_and_counts_as_failed(tmp_path):
    counts = run_suite.junit_counts(write_junit(tmp_path))
    ok, passed, failed, allowed, unexpected = run_suite.judge_stage("units", 1, counts, expected={})
    assert not ok and (passed, failed, allowed) == (2, 4, [])
    assert [test for test, _reason in unexpected] == [
        "tests.unit.plugins.modules.test_db_maintenance::test_pg_activity",
        "tests.unit.plugins.modules.test_dual_write_parity"]


def test_an_expected_skip_is_reported_as_skipped_and_passes(tmp_path):
    passing = JUNIT.replace('<failure message="assert 1 == 2">trace</failure>', '')
    passing = passing.replace('<error message="fixture failed">trace</error>', '')
    counts = run_suite.junit_counts(write_junit(tmp_path, passing))
    expected = {("units", "tests.unit.plugins.modules.test_db_maintenance::test_pg_activity"): "reason",
                ("units", "tests.unit.plugins.modules.test_dual_write_parity"): "reason"}
    ok, passed, failed, allowed, unexpected = run_suite.judge_stage("units", 0, counts, expected=expected)
    assert ok and (passed, failed, len(allowed), unexpected) == (4, 0, 2, [])
    # An allow-list entry is per stage: the same test id skipped in another stage is not expected there.
    assert not run_suite.judge_stage("system", 0, counts, expected=expected)[0]


def test_a_runner_failure_outside_any_test_case_counts_one_failure():
    assert run_suite.judge_stage("lint", 2, None)[:3] == (False, 0, 1)
    assert run_suite.judge_stage("units", 3, run_suite.Counts(5, 0))[:3] == (False, 5, 1)
    assert run_suite.judge_stage("lint", 0, None)[:3] == (True, 1, 0)


def test_expected_skips_name_a_stage_and_a_reason():
    for (stage, test), reason in run_suite.EXPECTED_SKIPS.items():
        assert stage in run_suite.STAGES and test, (stage, test)
        assert reason and reason.strip(), "expected skip %s of stage %s has no reason" % (test, stage)


def test_closing_line_keeps_the_shape_ci_reads():
    assert CLOSING_LINE.match(run_suite.closing_line(12, 1, 3))
    assert run_suite.closing_line(12, 1, 3) == "suite: 12 passed, 1 failed, 3 skipped"


@pytest.fixture
def suite_on(tmp_path, monkeypatch):
    """run_suite.main on one pytest stage over a small test file, results kept in tmp_path."""
    tests = tmp_path / "test_sample.py"
    tests.write_text(textwrap.dedent("""
        import pytest

        def test_passes():
            pass

        def test_needs_a_server():
            pytest.skip("no server answers on 127.0.0.1:5432")
    """))
    monkeypatch.setattr(run_suite, "RESULTS", str(tmp_path / "results"))
    # rootdir pinned: test ids must not depend on configuration files found above the temporary directory.
    monkeypatch.setattr(run_suite, "STAGES", {"sample": lambda: run_suite.stage_pytest(
        "sample", ["--rootdir", str(tmp_path), str(tests)])})
    return tmp_path


def test_suite_fails_on_an_unexpected_skip_and_names_it(suite_on, capsys):
    assert run_suite.main(["sample"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "suite: 1 passed, 1 failed, 0 skipped"
    assert any(re.match(r"^<== stage sample FAILED: 1 passed, 1 failed, 0 skipped in \d+s$", line) for line in out)
    assert any("test_sample::test_needs_a_server" in line and "no server answers" in line for line in out)


def test_suite_passes_with_an_expected_skip_and_counts_it(suite_on, capsys, monkeypatch):
    monkeypatch.setattr(run_suite, "EXPECTED_SKIPS", {("sample", "test_sample::test_needs_a_server"): "reason"})
    assert run_suite.main(["sample"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "suite: 1 passed, 0 failed, 1 skipped"
    table = out[out.index("Stages:") + 1:]
    assert table[0].split() == ["stage", "result", "passed", "failed", "skipped", "time"]
    assert table[1].split()[:5] == ["sample", "ok", "1", "0", "1"] and table[1].endswith("s")
    assert table[2].split()[:4] == ["total", "1", "0", "1"]


def test_the_tooling_and_ai_stages_name_system_test_files_that_exist():
    """The system stage leaves these files to the tooling and ai stages: a renamed one would run in neither."""
    for path in run_suite.TOOLING_TESTS + run_suite.AI_TESTS:
        assert path.startswith("tests/system/test_") and os.path.isfile(os.path.join(run_suite.ROOT, path)), path
    for stage in ("tooling", "ai"):
        assert stage in run_suite.LAB_LANE and list(run_suite.STAGES).index(stage) > list(run_suite.STAGES).index("system")
