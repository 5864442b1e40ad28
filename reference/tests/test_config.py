import os

import pytest

from refhelpers import SECRET, write_env
from inventory_service import __version__
from inventory_service.config import ConfigError, ensure_layout, load_settings, parse_env_file


def test_defaults_and_relative_paths(tmp_path):
    settings = load_settings(write_env(tmp_path), environ={})
    assert settings.port == 8083 and settings.host == "127.0.0.1"
    assert settings.home == tmp_path.resolve()
    assert settings.database_path == tmp_path.resolve() / "data" / "enterprise_inventory.db"
    assert settings.transaction_log_path == tmp_path.resolve() / "data" / "transaction_log.jsonl"
    assert settings.log_dir == tmp_path.resolve() / "logs"
    assert settings.models_dir == tmp_path.resolve() / "ai" / "models"
    assert settings.redis_url == "" and settings.postgres_dsn == ""
    assert (settings.redis_ttl_inventory, settings.redis_ttl_forecasts) == (300, 86400)
    assert settings.dual_write_enabled is False
    assert settings.jwt_expires_seconds == 3600 and settings.admin_username == "admin"
    assert settings.service_version == __version__ == "2.1.0"


def test_file_syntax_quotes_comments(tmp_path):
    env = tmp_path / ".env"
    env.write_text("# service settings\n\nexport PORT=9000\nJWT_SECRET='%s'\nADMIN_PASSWORD=\"a b#c\"\n"
                   "REDIS_TTL_INVENTORY=600  # 10 min\nDUAL_WRITE_ENABLED=yes\n" % SECRET)
    values = parse_env_file(env)
    assert values["JWT_SECRET"] == SECRET and values["ADMIN_PASSWORD"] == "a b#c"
    settings = load_settings(env, environ={})
    assert settings.port == 9000 and settings.redis_ttl_inventory == 600
    assert settings.dual_write_enabled is True


def test_environment_overrides_file(tmp_path):
    env = write_env(tmp_path, PORT="9000", DATABASE_PATH="db/x.db")
    settings = load_settings(env, environ={"PORT": "9100", "LOG_DIR": "/var/tmp/ie-logs", "UNRELATED": "1"})
    assert settings.port == 9100
    assert settings.database_path == tmp_path.resolve() / "db" / "x.db"
    assert str(settings.log_dir) == "/var/tmp/ie-logs"


def test_default_env_file_is_cwd(tmp_path, monkeypatch):
    write_env(tmp_path, PORT="9200")
    monkeypatch.chdir(tmp_path)
    assert load_settings(environ={}).port == 9200


@pytest.mark.parametrize("values, message", [
    ({"JWT_SECRET": ""}, "JWT_SECRET is required"),
    ({"JWT_SECRET": "short-secret"}, "at least 16"),
    ({"PORT": "eighty"}, "PORT must be an integer"),
    ({"PORT": "70000"}, "PORT must be at most"),
    ({"REDIS_TTL_INVENTORY": "0"}, "REDIS_TTL_INVENTORY must be at least 1"),
    ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must start with"),
    ({"DUAL_WRITE_ENABLED": "maybe"}, "DUAL_WRITE_ENABLED must be true or false"),
])
def test_invalid_values_are_refused(tmp_path, values, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(write_env(tmp_path, **values), environ={})


def test_missing_secret_from_environment_too(tmp_path):
    (tmp_path / ".env").write_text("PORT=8083\n")
    with pytest.raises(ConfigError, match="JWT_SECRET is required"):
        load_settings(tmp_path / ".env", environ={})
    assert load_settings(tmp_path / ".env", environ={"JWT_SECRET": SECRET}).jwt_secret == SECRET


def test_bad_line_and_missing_file(tmp_path):
    (tmp_path / ".env").write_text("JUST A LINE\n")
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_settings(tmp_path / ".env", environ={})
    with pytest.raises(ConfigError, match="env file not found"):
        load_settings(tmp_path / "nope.env", environ={})


def test_layout_created(tmp_path):
    settings = load_settings(write_env(tmp_path), environ={})
    ensure_layout(settings)
    for name in ("data", "logs", "backups", "config", "ai/models"):
        assert os.path.isdir(tmp_path / name), name
