#!/usr/bin/env bash
# Installs what the lab (tests/lab/lab.py) needs from the system, on a fresh Debian/Ubuntu machine or on
# one that already has it (then it only checks). Run as root. Idempotent: installs only what is missing.
#   - openssh-server (each lab host is an sshd) and openssh-client (ssh, ssh-keygen),
#   - prometheus (mon1 runs it), redis-server and PostgreSQL (db1 runs its own instances),
#   - prometheus-node-exporter and prometheus-alertmanager (the monitoring role's scenario deploys them),
#   - util-linux (unshare, nsenter, setpriv, mount), procps (pgrep) and python3-venv (the service's venv),
#   - cron (crontab, which the backup role's schedule needs; entries go to each host's private /etc/cron.d).
#   - sqlite3, zstd, curl, psql (postgresql-client) and redis-cli (redis-tools): the molecule verifiers check
#     with these independent tools, never with the modules under test.
# Daemons are never started by the install: the lab starts its own, on loopback addresses only, and a
# packaged sshd or Prometheus listening on 0.0.0.0 would take the ports the lab hosts need.
set -euo pipefail

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v prometheus >/dev/null || need+=(prometheus)
command -v prometheus-node-exporter >/dev/null || need+=(prometheus-node-exporter)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v redis-server >/dev/null || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v unshare >/dev/null && command -v nsenter >/dev/null || need+=(util-linux)
command -v pgrep >/dev/null || need+=(procps)
command -v crontab >/dev/null || need+=(cron)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v zstd >/dev/null || need+=(zstd)
command -v curl >/dev/null || need+=(curl)
command -v psql >/dev/null || need+=(postgresql-client)
command -v redis-cli >/dev/null || need+=(redis-tools)
# The service's virtualenv on the lab hosts is made with the system Python (group_vars/all.yml).
/usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)

if ((${#need[@]})); then
  echo "lab setup: installing ${need[*]}"
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

# Packages that started their daemon anyway (a machine without policy-rc.d and with an init system):
# stop them so the lab can bind ports 22, 9090, 9093 and 9100 on its own addresses. Only the packaged instances,
# identified by their pidfiles, are stopped.
for pidfile in /run/sshd.pid /run/prometheus/prometheus.pid /run/prometheus/prometheus-node-exporter.pid \
  /run/prometheus/prometheus-alertmanager.pid; do
  if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "lab setup: stopping the packaged daemon of $pidfile"
    kill "$(cat "$pidfile")" || true
  fi
done
mkdir -p /run/sshd
echo "lab setup: ready ($(/usr/sbin/sshd -V 2>&1 | head -1), prometheus $(prometheus --version 2>&1 | awk 'NR==1{print $3}'))"
