"""The operations report as a person sees it: the reviews role writes it from saved review results of a small
fleet (one host unreachable), and Debian's Chromium opens it headless: no console error, no request leaving the
file, every chart drawn with its data points, the status table and the "Not included" section complete.
Also the role's promises: check mode writes nothing, a second run the same day changes nothing."""
import json
import re

import pytest

from tests.support import playbook as pb
from tests.support import review_results
from tests.support.report_page import browse
from tests.support.servers import free_port

PLAYBOOK = "tests/system/playbooks/operations_report.yml"
LINKED = {"title": "Security audit", "href": "security-audit-2026-12-01.html"}
EARLIER = "security-audit-2026-11-15.html"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    base = tmp_path_factory.mktemp("operations_report")
    results = base / "results"
    results.mkdir()
    fleet = review_results.fleet()
    for host, reviews in fleet.items():
        (results / ("%s.json" % host)).write_text(json.dumps(reviews))
    hosts = {host: pb.local_host() for host in fleet}
    # Nothing listens there: the host is unreachable at once.
    hosts["down1"] = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": free_port()}
    inventory = pb.write_inventory(str(base / "hosts.yml"), {"reviewed": hosts})
    report_dir = base / "reports"
    extra = {"results_dir": str(results), "reviews_report_dir": str(report_dir), "reviews_report_name": "monthly",
             "reviews_report_period": "November 2026", "reviews_report_links": [LINKED]}
    runs = {"check": pb.run_playbook(PLAYBOOK, inventory, extra_vars=extra, check=True, diff=True)}
    runs["check_left"] = sorted(p.name for p in report_dir.iterdir()) if report_dir.exists() else []
    report_dir.mkdir()
    (report_dir / EARLIER).write_text("<!DOCTYPE html><title>An earlier report</title>")
    runs["first"] = pb.run_playbook(PLAYBOOK, inventory, extra_vars=extra)
    runs["second"] = pb.run_playbook(PLAYBOOK, inventory, extra_vars=extra)
    written = sorted(report_dir.glob("monthly-*.html"))
    assert len(written) == 1, runs["first"]
    page = browse(written[0], base / "operations-report.png", _details)
    return dict(runs, fleet=fleet, dir=report_dir, path=written[0], page=page)


def _details(page, seen):
    seen["findings"] = page.inner_text("#host-app1-security table.findings")
    seen["injected"] = page.locator("redis").count()
    seen["related"] = page.eval_on_selector_all("#related a", "links => links.map(a => a.getAttribute('href'))")


def expected_points(series):
    """(points drawn, points with an area): a bar of zero has none, a marker always has one."""
    points = series["points"] + [point for group in series.get("groups", {}).values() for point in group]
    return len(points), sum(1 for _x, y in points if series["kind"] == "time" or y)


def test_check_mode_writes_nothing(report):
    assert report["check"].failures("app1") == 0, report["check"].failed_tasks()
    assert report["check_left"] == []
    assert report["check"].changed("app1") > 0


def test_the_report_is_written_once_and_a_second_run_changes_nothing(report):
    for name in ("first", "second"):
        run = report[name]
        assert run.stats["down1"]["unreachable"] == 1
        assert sum(run.failures(host) for host in report["fleet"]) == 0, run.failed_tasks()
    assert report["first"].changed() > 0
    assert report["second"].changed() == 0, report["second"].changed_tasks()
    assert re.fullmatch(r"monthly-\d{4}-\d{2}-\d{2}\.html", report["path"].name)
    index = (report["dir"] / "index.html").read_text()
    listed = re.findall(r'<td class="date">[^<]*</td><td><a href="([^"]+)"', index)
    assert listed == [report["path"].name, EARLIER]


def test_the_page_loads_nothing_and_logs_no_error(report):
    page = report["page"]
    assert page["errors"] == []
    assert page["requests"] == [report["path"].as_uri()]
    assert "<script" not in report["path"].read_text()


def test_every_chart_is_drawn_with_its_data_points(report):
    charts = report["page"]["charts"]
    expected = {("host-%s-%s" % (host, review), name): expected_points(series)
                for host, reviews in report["fleet"].items() for review, result in reviews.items()
                for name, series in result.get("series", {}).items()}
    assert {(c["article"], c["series"]) for c in charts} == set(expected)
    drawn = [c for c in charts if c["svg"]]
    assert len(drawn) == sum(1 for points, _visible in expected.values() if points) > 20
    for chart in drawn:
        points, visible = expected[(chart["article"], chart["series"])]
        assert chart["width"] > 200 and chart["height"] > 80, chart
        assert chart["declared"] == chart["drawn"] == points and chart["visible"] == visible > 0, chart
    empty = [c for c in charts if not c["svg"]]
    assert empty and all(c["empty"] and c["article"] == "host-db1-performance" for c in empty)


def test_the_status_table_has_a_row_per_host(report):
    rows = dict(report["page"]["status_rows"])
    assert sorted(rows) == ["app1", "app2", "db1", "down1"]
    assert "CRITICAL" in rows["app1"] and "1 critical" in rows["app1"]
    assert "unreachable or failed" in rows["down1"] and "NO RESULT" in rows["down1"]
    assert "unreachable" not in rows["app1"]
    assert "FAILED" in rows["app2"] and "review failed" in rows["app2"]


def test_not_included_lists_every_unavailable_source(report):
    text = report["page"]["not_included"]
    for host, reviews in report["fleet"].items():
        for result in reviews.values():
            for entry in result.get("unavailable", []):
                assert entry["source"] in text and entry["reason"] in text
    assert report["fleet"]["app2"]["runbooks"]["msg"] in text
    assert "down1" in text


def test_text_from_the_results_is_shown_as_text(report):
    assert "port 6379 <redis> listens on 0.0.0.0 & is not expected" in report["page"]["findings"]
    assert report["page"]["injected"] == 0


def test_related_reports_are_linked(report):
    assert report["page"]["related"] == [LINKED["href"]]
    assert report["page"]["screenshot"].stat().st_size > 50000
