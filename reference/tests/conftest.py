"""Fixtures: live uvicorn servers and private redis-servers (helpers live in refhelpers.py)."""
import pytest

from refhelpers import LiveServer, servers


@pytest.fixture
def serve():
    started = []

    def _serve(settings):
        server = LiveServer(settings).start()
        started.append(server)
        return server

    yield _serve
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def redis_server():
    server = servers.RedisServer().start()
    yield server
    server.close()


@pytest.fixture
def fresh_redis():
    """A redis-server of the test's own, for tests that stop it."""
    server = servers.RedisServer().start()
    yield server
    server.close()
