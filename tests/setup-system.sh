#!/usr/bin/env bash
# Installs and starts what the test suite needs from the system, on a fresh Debian/Ubuntu machine or on
# one that already has it (then it only checks). Run as root. Idempotent.
#   - redis-server (tests start private instances of it), PostgreSQL (started if not running),
#   - git, rsync, sqlite3, Node.js/npm, systemd-analyze, procps, shellcheck.
# PostgreSQL gets a password-authenticated test role, so tests work whatever pg_hba's local rules are.
set -euo pipefail

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v git >/dev/null || need+=(git)
command -v rsync >/dev/null || need+=(rsync)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v ps >/dev/null || need+=(procps)
# ansible-test sanity runs shellcheck on the project's shell scripts when it is installed.
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v pg_ctlcluster >/dev/null || need+=(postgresql postgresql-contrib)
# Tests that read metrics through Prometheus start private instances of Debian's binary.
command -v prometheus >/dev/null || need+=(prometheus)

if ((${#need[@]})); then
  echo "setup-system: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "setup-system: starting PostgreSQL"
  for conf in /etc/postgresql/*/main; do
    version=$(basename "$(dirname "$conf")")
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432
fi

su postgres -c "psql -v ON_ERROR_STOP=1 -q -d postgres" <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ie_test') THEN
    CREATE ROLE ie_test LOGIN CREATEDB PASSWORD 'ie_test';
  END IF;
  -- A second user the tests switch to (SET ROLE): the service writing as another user than the ops one.
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ie_test_writer') THEN
    CREATE ROLE ie_test_writer NOLOGIN;
  END IF;
END
$$;
GRANT ie_test_writer TO ie_test;
SQL
echo "setup-system: ready (redis-server $(redis-server --version | awk '{print $3}'), $(psql --version))"
