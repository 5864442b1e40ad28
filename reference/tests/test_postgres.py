"""PostgreSQL health reporting against a real server and an unreachable one."""
import requests

from refhelpers import make_settings
from tests.support.servers import scratch_postgres_database


def test_postgres_connected(serve, tmp_path):
    with scratch_postgres_database() as dsn:
        server = serve(make_settings(tmp_path, POSTGRES_DSN='"%s"' % dsn))
        response = requests.get(server.url + "/health")
        assert response.status_code == 200
        assert response.json()["postgres"] == "connected" and response.json()["status"] == "ok"
        assert 'system_health_status{component="postgres"} 1.0' in requests.get(server.url + "/metrics").text


def test_postgres_unreachable(serve, tmp_path):
    server = serve(make_settings(tmp_path, POSTGRES_DSN='"host=127.0.0.1 port=1 user=postgres dbname=postgres"'))
    response = requests.get(server.url + "/health")
    assert response.status_code == 503
    body = response.json()
    assert body["postgres"] == "disconnected" and body["failed"] == ["postgres"] and body["status"] == "degraded"
    assert 'system_health_status{component="postgres"} 0.0' in requests.get(server.url + "/metrics").text
