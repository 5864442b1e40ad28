#!/usr/bin/env bash
# Installs and starts what the test suite needs from the system, on a fresh Debian/Ubuntu machine or on
# one that already has it (then it only checks). Run as root. Idempotent.
#   - redis-server (tests start private instances of it), PostgreSQL (started if not running),
#   - git, rsync, sqlite3, Node.js/npm, systemd-analyze, procps, shellcheck,
#   - Debian's chromium: the operations report is opened in it headless (playwright drives it; it downloads none),
#   - Debian's prometheus (promtool), prometheus-node-exporter and prometheus-alertmanager (amtool): the tests
#     start private instances on free ports; the packaged daemons are never left running.
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
[ -x /usr/bin/chromium ] || need+=(chromium)
# Chromium only depends on fontconfig: without a font the page's text would be boxes in the screenshot (the charts
# draw their text as paths and need none).
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v pg_ctlcluster >/dev/null || need+=(postgresql postgresql-contrib)
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-node-exporter >/dev/null || need+=(prometheus-node-exporter)
command -v amtool >/dev/null && command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
monitoring=(prometheus prometheus-node-exporter prometheus-alertmanager)

if ((${#need[@]})); then
  echo "setup-system: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep package scripts from starting the daemons (exit 101 = "not allowed"), unless a policy exists.
  added_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  trap '[ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The monitoring daemons must not listen on 0.0.0.0 (the lab and the tests bind their ports on loopback
# addresses): with systemd, disable and stop the packaged units; without, stop what an init script started, found
# by Debian's pidfiles only.
if [ -d /run/systemd/system ]; then
  for unit in "${monitoring[@]}"; do
    if systemctl is-enabled --quiet "$unit" 2>/dev/null || systemctl is-active --quiet "$unit" 2>/dev/null; then
      echo "setup-system: disabling the packaged $unit"
      systemctl disable --now --quiet "$unit"
    fi
  done
fi
for unit in "${monitoring[@]}"; do
  pidfile=/run/prometheus/$unit.pid
  if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "setup-system: stopping the packaged $unit"
    kill "$(cat "$pidfile")" || true
  fi
done

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
echo "setup-system: ready (redis-server $(redis-server --version | awk '{print $3}'), $(psql --version)," \
  "promtool $(promtool --version 2>&1 | awk 'NR==1{print $3}'), amtool $(amtool --version 2>&1 | awk 'NR==1{print $3}'))"
