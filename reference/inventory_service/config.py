"""Settings from a `.env` file in the service home, overridden by the process environment."""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional

from . import __version__

DEFAULTS = {
    "PORT": "8083",
    "HOST": "127.0.0.1",
    "DATABASE_PATH": "data/enterprise_inventory.db",
    "TRANSACTION_LOG_PATH": "data/transaction_log.jsonl",
    "LOG_DIR": "logs",
    "BACKUP_DIR": "backups",
    "CONFIG_DIR": "config",
    "MODELS_DIR": "ai/models",
    "REDIS_URL": "",
    "REDIS_TTL_INVENTORY": "300",
    "REDIS_TTL_FORECASTS": "86400",
    "POSTGRES_DSN": "",
    "DUAL_WRITE_ENABLED": "false",
    "JWT_SECRET": "",
    "JWT_EXPIRES_SECONDS": "3600",
    "ADMIN_USERNAME": "admin",
    "ADMIN_PASSWORD": "",
}

MIN_SECRET_LENGTH = 16
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """The configuration cannot run the service; the message says which key and why."""


@dataclass(frozen=True)
class Settings:
    home: Path
    host: str
    port: int
    database_path: Path
    transaction_log_path: Path
    log_dir: Path
    backup_dir: Path
    config_dir: Path
    models_dir: Path
    redis_url: str
    redis_ttl_inventory: int
    redis_ttl_forecasts: int
    postgres_dsn: str
    dual_write_enabled: bool
    jwt_secret: str
    jwt_expires_seconds: int
    admin_username: str
    admin_password: str
    service_version: str = __version__

    def layout(self):
        """Directories the service owns under its home."""
        return [self.database_path.parent, self.transaction_log_path.parent, self.log_dir,
                self.backup_dir, self.config_dir, self.models_dir]


def parse_env_file(path) -> Dict[str, str]:
    values = {}
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("export "):
                line = line[len("export "):].lstrip()
            key, sep, value = line.partition("=")
            key = key.strip()
            if not sep or not key.replace("_", "").isalnum():
                raise ConfigError("%s:%d: expected KEY=VALUE, got %r" % (path, number, raw.rstrip("\n")))
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            elif " #" in value:
                # An unquoted value may carry a trailing comment, as in the operations guide's examples.
                value = value.split(" #", 1)[0].rstrip()
            values[key] = value
    return values


def _int(values, key, minimum=None):
    try:
        number = int(values[key])
    except ValueError:
        raise ConfigError("%s must be an integer, got %r" % (key, values[key])) from None
    if minimum is not None and number < minimum:
        raise ConfigError("%s must be at least %d, got %d" % (key, minimum, number))
    return number


def _bool(values, key):
    text = values[key].strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError("%s must be true or false, got %r" % (key, values[key]))


def load_settings(env_file=None, environ: Optional[Mapping[str, str]] = None) -> Settings:
    """Build settings from `env_file` (default: ./.env when present) and `environ` (default: os.environ)."""
    environ = os.environ if environ is None else environ
    if env_file is not None:
        env_path = Path(env_file)
        if not env_path.is_file():
            raise ConfigError("env file not found: %s" % env_path)
    else:
        env_path = Path.cwd() / ".env"
    home = env_path.resolve().parent
    values = dict(DEFAULTS)
    if env_path.is_file():
        values.update(parse_env_file(env_path))
    values.update({key: environ[key] for key in DEFAULTS if key in environ})

    secret = values["JWT_SECRET"]
    if not secret:
        raise ConfigError("JWT_SECRET is required (set it in .env or the environment)")
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError("JWT_SECRET must be at least %d characters long" % MIN_SECRET_LENGTH)
    port = _int(values, "PORT", 1)
    if port > 65535:
        raise ConfigError("PORT must be at most 65535, got %d" % port)

    if values["REDIS_URL"] and not values["REDIS_URL"].startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://, got %r" % values["REDIS_URL"])

    def path(key):
        return (home / values[key]).resolve()

    return Settings(
        home=home,
        host=values["HOST"],
        port=port,
        database_path=path("DATABASE_PATH"),
        transaction_log_path=path("TRANSACTION_LOG_PATH"),
        log_dir=path("LOG_DIR"),
        backup_dir=path("BACKUP_DIR"),
        config_dir=path("CONFIG_DIR"),
        models_dir=path("MODELS_DIR"),
        redis_url=values["REDIS_URL"],
        redis_ttl_inventory=_int(values, "REDIS_TTL_INVENTORY", 1),
        redis_ttl_forecasts=_int(values, "REDIS_TTL_FORECASTS", 1),
        postgres_dsn=values["POSTGRES_DSN"],
        dual_write_enabled=_bool(values, "DUAL_WRITE_ENABLED"),
        jwt_secret=secret,
        jwt_expires_seconds=_int(values, "JWT_EXPIRES_SECONDS", 1),
        admin_username=values["ADMIN_USERNAME"],
        admin_password=values["ADMIN_PASSWORD"],
    )


def ensure_layout(settings: Settings):
    for directory in settings.layout():
        directory.mkdir(parents=True, exist_ok=True)
