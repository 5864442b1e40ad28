"""Write-load generator against a live server: it must stop on either bound by itself."""
import json

import pytest
import requests

from refhelpers import PASSWORD, make_settings
from inventory_service import demo, load


@pytest.fixture
def server(serve, tmp_path):
    settings = make_settings(tmp_path)
    demo.generate(settings.database_path, items=20, days=10)
    return serve(settings)


def test_bounded_by_requests(server):
    result = load.run(server.url, "admin", PASSWORD, requests=25, seconds=60, concurrency=4)
    assert result["sent"] == 25 and result["ok"] == 25 and result["failed"] == 0
    assert result["elapsed"] < 30 and result["rps"] > 0
    log = server.settings.transaction_log_path.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in log] == list(range(1, 26))
    ops = {json.loads(line)["op"] for line in log}
    assert ops == {"inventory_count.create", "invoice.create"}


def test_bounded_by_seconds(server):
    result = load.run(server.url, "admin", PASSWORD, requests=1_000_000, seconds=1.0, concurrency=3)
    assert 0 < result["sent"] < 1_000_000
    assert result["elapsed"] < 5
    assert result["ok"] + result["failed"] == result["sent"] and result["failed"] == 0


def test_bad_credentials_and_no_items(server, serve, tmp_path):
    with pytest.raises(load.LoadError, match="login failed"):
        load.run(server.url, "admin", "nope", requests=1, seconds=5)
    empty = serve(make_settings(tmp_path / "empty"))
    with pytest.raises(load.LoadError, match="no items"):
        load.run(empty.url, "admin", PASSWORD, requests=1, seconds=5)
    assert requests.get(empty.url + "/health").status_code == 200
