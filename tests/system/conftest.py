"""Fixtures for the system tests: a real Redis, a deployed reference service, helpers to run playbooks."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tests.support import playbook as pb  # noqa: E402  pylint: disable=wrong-import-position
from tests.support.deployment import Deployment  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
from tests.support.servers import RedisServer  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="session", autouse=True)
def _wheel_built():
    if not os.path.isdir(pb.WHEEL_DIR) or not any(name.endswith(".whl") for name in os.listdir(pb.WHEEL_DIR)):
        pytest.fail("build/dist has no reference-service wheel: run the tests through `make test`")


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer().start()
    yield server
    server.close()


def _deployed(tmp_dir, redis_url):
    """The reference service deployed by playbooks/site.yml with Redis; stopped when the generator closes."""
    dep = Deployment(tmp_dir, service_redis_url=redis_url)
    result = dep.play("playbooks/site.yml")
    assert result.rc == 0, result
    dep.first_run = result
    yield dep
    dep.play("playbooks/service_control.yml", extra_vars={"service_state": "stopped"})


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, redis_server):
    """The reference service deployed once per test module by playbooks/site.yml, with Redis."""
    yield from _deployed(tmp_path_factory.mktemp("deploy"), redis_server.url)


@pytest.fixture(scope="session")
def review_deployment(tmp_path_factory, redis_server):
    """One deployment the review modules' tests share (each review reads; what one adds, the next measures too)."""
    yield from _deployed(tmp_path_factory.mktemp("reviews"), redis_server.url)
