#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: health_check
short_description: Run the morning health checks of an Inventory Enterprise host
version_added: 0.1.0
description:
  - Runs the "Morning Health Checks" of the Inventory Enterprise operations guide on one host in one call.
  - C(health) reads C(GET /health) and needs C(status=ok) with every reported dependency C(connected).
    A C(503) answer is read too, so the failed dependencies are named.
  - C(metrics) reads C(GET /metrics) and needs every C(system_health_status) gauge to be C(1), and at least one of them.
  - C(redis) sends C(PING) to O(redis_url) and computes the keyspace hit rate from C(INFO stats).
  - C(disk) compares the used space of each of O(disk_paths) with its threshold, as C(df) computes it.
  - C(backup) finds the newest B(verified) backup archive in O(backup_dir) and compares its age (from the UTC time
    in its name) with O(backup_max_age_hours). Verified means what it means to the M(inventory_enterprise.ops.backup)
    module, a record in C(<backup_dir>/.verified/) that the archive, unchanged since, passed the full verification
    (O(inventory_enterprise.ops.backup#module:state=verified), or O(inventory_enterprise.ops.backup#module:verify=true)
    right after creation, as the C(backup) role and C(nightly_backup.yml) do).
  - An archive newer than the newest verified one never counts as a backup. It is reported in the message and in
    C(value.newest_unverified). One that failed verification (kept for investigation) fails the check; one that
    is only not verified yet (being verified, or written without verification) is reported without failing it.
    An empty or damaged file named like an archive is such an archive.
  - C(memory) compares the resident memory of the service with O(memory_max_mb), read from
    C(process_resident_memory_bytes) in C(/metrics) or from C(/proc) when O(pid_file) is set.
  - C(/health), C(/metrics) and Redis are queried concurrently, once each. A down service, an HTTP error, a timeout,
    a malformed answer or a down Redis each fail their check saying what failed, where and what to do.
  - Text that a server sent (the C(/health) JSON, error bodies, Redis errors) is reported with its control
    characters written as visible escapes (C(\x1b), C(\r)), so it cannot act on the operator's terminal.
  - The password of a Redis URL is masked everywhere; messages still name its host, port and database
    (C(redis://:****@cache:6379/0)).
  - With O(targets), the network checks (V(health), V(metrics), V(redis), V(memory)) of many hosts run from one
    module process, typically on the control node, all hosts concurrently. RV(hosts) has one report per host.
    One process for the fleet instead of one per host is what lets the morning checks of 20 servers cost little
    more than those of one. V(disk) and V(backup) read the host's own files and stay with a run on each host.
  - The module only reads, so it never reports a change.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.api
  - inventory_enterprise.ops.redis
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  checks:
    description:
      - Checks to run. Results always come in the order V(health), V(metrics), V(redis), V(disk), V(backup), V(memory).
      - V(redis) is reported as skipped when O(redis_url) is not set, V(disk) when O(disk_paths) is empty and
        V(backup) when O(backup_dir) is not set.
    type: list
    elements: str
    choices: [health, metrics, redis, disk, backup, memory]
    default: [health, metrics, redis, disk, backup, memory]
  disk_paths:
    description:
      - Paths whose filesystem usage is checked, for example the data, logs and backups directories.
      - Each entry is either a path, checked against O(disk_max_used_percent), or a dictionary with the keys
        C(path) and C(max_used_percent).
      - A path that does not exist is a failed check naming it.
    type: list
    elements: raw
    default: []
  disk_max_used_percent:
    description:
      - Highest acceptable used space, in percent, for entries of O(disk_paths) that do not set their own.
    type: float
    default: 85
  backup_dir:
    description:
      - Directory holding the backups, usually C(<service home>/backups).
      - When not set, the V(backup) check is skipped.
    type: path
  backup_pattern:
    description:
      - Shell pattern that further restricts which archives of O(backup_dir) count, for example
        V(inventory_backup_*.tar.zst).
      - Only finished archives named C(inventory_backup_<YYYY-MM-DDTHH-MM-SS>.tar.zst) or C(.tar.gz) are ever
        considered, newest first by the UTC time in their name.
    type: str
    default: inventory_backup_*
  backup_max_age_hours:
    description:
      - Highest acceptable age of the newest backup, in hours.
      - Backups run daily at 2 AM, so the default allows one day plus some slack.
    type: float
    default: 26
  memory_max_mb:
    description:
      - Highest acceptable resident memory of the service process, in MB (MiB).
      - The default matches the "application using >2GB RAM" symptom of the operations guide.
    type: float
    default: 2048
  pid_file:
    description:
      - File holding the process id of the service. When set, resident memory is read from
        C(/proc/<pid>/status) (C(VmRSS)) on the managed host.
      - When not set, resident memory is read from C(process_resident_memory_bytes) in C(/metrics).
    type: path
  redis_min_hit_rate:
    description:
      - Lowest acceptable keyspace hit rate of Redis, in percent. The guide targets more than 85.
      - V(0) only reports the hit rate. No lookup at all (hit rate unknown) never fails.
    type: float
    default: 0
  report_only:
    description:
      - When V(true), the module never fails. It reports every check, failed ones included, and sets RV(ok)
        accordingly.
    type: bool
    default: false
  host_label:
    description:
      - Name of the host in RV(hosts) and in failure messages.
      - Defaults to the hostname of the managed host; roles pass C(inventory_hostname).
    type: str
  targets:
    description:
      - Hosts whose network checks run from here, concurrently, instead of the one host given by O(api_url),
        O(redis_url) and O(host_label) (which are then ignored).
      - O(checks) may then only hold V(health), V(metrics), V(redis) and V(memory) (read from C(/metrics)).
      - The other options (timeouts, thresholds, O(api_token), O(validate_certs)) apply to every target.
    type: list
    elements: dict
    suboptions:
      host_label:
        description: Name of the host in RV(hosts) and in messages; labels must be unique.
        type: str
        required: true
      api_url:
        description: Base URL of that host's service, as reachable from where the module runs.
        type: str
        required: true
      redis_url:
        description: Redis of that host's service; without it the V(redis) check is skipped for the host.
        type: str
requirements:
  - prometheus-client (Python library) on the managed host, for the V(metrics) check and for the V(memory) check
    without O(pid_file).
notes:
  - Disk usage is computed like C(df) does, from the space available to unprivileged users.
'''

EXAMPLES = r'''
- name: Run the morning health checks of the service on this host
  inventory_enterprise.ops.health_check:
    api_url: http://localhost:8083
    redis_url: "{{ ie_redis_url }}"
    backup_dir: /opt/inventory-enterprise/backups
    disk_paths:
      - /data
      - path: /logs
        max_used_percent: 90
      - /backups
    host_label: "{{ inventory_hostname }}"

- name: Report only, with stricter thresholds, reading memory from /proc
  inventory_enterprise.ops.health_check:
    checks: [health, metrics, redis, memory]
    redis_url: redis://127.0.0.1:6379/0
    redis_min_hit_rate: 85
    pid_file: /run/inventory-enterprise.pid
    memory_max_mb: 1843
    report_only: true
  register: morning

- name: Check the API and Redis of every app server at once, from the control node
  inventory_enterprise.ops.health_check:
    checks: [health, metrics, redis, memory]
    targets: "{{ groups['app_servers'] | map('extract', hostvars) | map(attribute='ie_check_target') | list }}"
    report_only: true
  delegate_to: localhost
  run_once: true
  register: fleet

- name: Show the one-line summary of the host
  ansible.builtin.debug:
    msg: "{{ morning.hosts[0].summary }}"

- name: List what failed
  ansible.builtin.debug:
    msg: "{{ morning.hosts[0].checks | selectattr('verdict', 'equalto', 'failed') | map(attribute='message') | list }}"
  when: not morning.ok
'''

RETURN = r'''
hosts:
  description:
    - One report per host, in the order of O(targets), else of the one host checked; the same keys either way.
  returned: always
  type: list
  elements: dict
  sample: [{"host": "web01", "ok": true, "summary": "web01: 4 ok", "checks": [], "failed_checks": []}]
  contains:
    host:
      description: The host label (O(host_label), or the hostname of the managed host; with O(targets) the target's).
      type: str
      sample: web01
    ok:
      description: Whether no check of this host failed.
      type: bool
    summary:
      description: One readable line with the host's counts of ok, failed and skipped checks.
      type: str
      sample: "web01: 4 ok, 1 failed (disk:/data), 1 skipped (redis)"
    failed_checks:
      description: Names of the host's failed checks.
      type: list
      elements: str
      sample: ["redis", "disk:/data"]
    checks:
      description:
        - One entry per check run, in the order health, metrics, redis, disk, backup, memory.
        - The V(disk) check gives one entry per path, named C(disk:<path>).
      type: list
      elements: dict
      contains:
        name:
          description: Name of the check, C(disk:<path>) for disk checks.
          type: str
          sample: health
        verdict:
          description: V(ok), V(failed) or V(skipped) (not configured).
          type: str
          sample: ok
        value:
          description:
            - What was measured. V(health) the /health JSON; V(metrics) a dict component to gauge value;
              V(redis) a dict with C(ping), C(hit_rate) (percent, null without traffic), C(keyspace_hits)
              and C(keyspace_misses); V(disk) the used percent; V(memory) the resident memory in MB.
            - V(backup) a dict describing the newest verified archive, with C(path), C(name), C(created_at) (UTC, from
              the name), C(age_hours), C(size) (bytes) and C(verified_at) (UTC, from its record), all null when no
              archive is verified; and C(newest_unverified), null when the newest archive is verified, else a dict
              with C(path), C(name), C(created_at), C(age_hours), C(status) (V(not verified) or
              V(failed verification)) and C(reason) (why it failed verification, else null).
            - Strings a server sent (keys included) have their control characters written as visible escapes.
            - V(null) when nothing could be measured.
          type: raw
          sample: {"status": "ok", "database": "connected", "cache": "connected", "version": "2.1.0"}
        threshold:
          description:
            - The limit the value was compared with (1 for metrics gauges, min hit rate, max used percent,
              max age in hours, max MB), null for V(health) and skipped checks.
          type: raw
          sample: 85.0
        message:
          description: What was found, or what failed, where, and what to do.
          type: str
          sample: "status ok; cache, database connected (version 2.1.0, cache backend redis)"
        reading:
          description: The figure behind the verdict against its limit (latency, MB, percent used, backup age), or V(null).
          type: str
          sample: "42.1% used of 85%"
failed_hosts:
  description: The labels of the hosts with a failed check, sorted.
  returned: always
  type: list
  elements: str
  sample: ["app3"]
ok:
  description: Whether no check failed on any host.
  returned: always
  type: bool
summary:
  description: One readable line with the counts of hosts that passed and failed, naming the failed ones.
  returned: always
  type: str
  sample: "3 host(s): 2 ok, 1 failed (app3)"
msg:
  description: When a check failed and O(report_only) is not set, what failed on which host, check by check.
  returned: failure
  type: str
  sample: "health_check failed on web01: backup (no verified backup in /opt/inventory-enterprise/backups: ...)"
'''

import socket
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import ApiClient, api_argument_spec
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._checks import (
    CHECK_NAMES,
    HealthCheckRunner,
    failed_names,
    failure_message,
    normalize_disk_paths,
    summarize,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._prometheus import (
    fail_if_missing_prometheus_client,
)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._redis import (
    fail_if_missing_redis,
    mask_only_redis_passwords,
    redis_argument_spec,
)


NETWORK_CHECKS = ('health', 'metrics', 'redis', 'memory')
# Each target runs up to three requests at once (health, metrics, Redis).
MAX_CONCURRENT_TARGETS = 16


def argument_spec():
    spec = api_argument_spec()
    spec.update(redis_argument_spec())
    spec.update(
        checks=dict(type='list', elements='str', choices=list(CHECK_NAMES), default=list(CHECK_NAMES)),
        disk_paths=dict(type='list', elements='raw', default=[]),
        disk_max_used_percent=dict(type='float', default=85.0),
        backup_dir=dict(type='path'),
        backup_pattern=dict(type='str', default='inventory_backup_*'),
        backup_max_age_hours=dict(type='float', default=26.0),
        memory_max_mb=dict(type='float', default=2048.0),
        pid_file=dict(type='path'),
        redis_min_hit_rate=dict(type='float', default=0.0),
        report_only=dict(type='bool', default=False),
        host_label=dict(type='str'),
        targets=dict(type='list', elements='dict', options=dict(
            host_label=dict(type='str', required=True),
            api_url=dict(type='str', required=True),
            redis_url=dict(type='str', no_log=True),
        )),
    )
    return spec


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


def validate(module):
    """Range checks argument_spec cannot express; returns the normalised disk paths."""
    params = module.params
    for name in ('api_timeout', 'redis_timeout', 'backup_max_age_hours', 'memory_max_mb'):
        if params[name] is not None and params[name] <= 0:
            module.fail_json(msg='%s must be greater than 0, got %s' % (name, params[name]))
    for name in ('redis_min_hit_rate', 'disk_max_used_percent'):
        if not 0 <= params[name] <= 100:
            module.fail_json(msg='%s must be a percentage between 0 and 100, got %s' % (name, params[name]))
    try:
        return normalize_disk_paths(params['disk_paths'], params['disk_max_used_percent'])
    except ValueError as exc:
        module.fail_json(msg=str(exc))


def make_runner(params, client, redis_url, disk_paths):
    return HealthCheckRunner(
        client=client,
        checks=params['checks'],
        redis_url=redis_url,
        redis_timeout=params['redis_timeout'],
        redis_min_hit_rate=params['redis_min_hit_rate'],
        disk_paths=disk_paths,
        backup_dir=params['backup_dir'],
        backup_pattern=params['backup_pattern'],
        backup_max_age_hours=params['backup_max_age_hours'],
        memory_max_mb=params['memory_max_mb'],
        pid_file=params['pid_file'],
    )


def require_libraries(module, runner):
    """Third-party libraries are only required by the checks that use them."""
    if runner.needs_metrics:
        fail_if_missing_prometheus_client(
            module, reason='to parse /metrics for the metrics and memory checks (or set pid_file and leave '
                           'metrics out of checks)')
    if runner.needs_redis:
        fail_if_missing_redis(module, reason='for the redis check (or leave redis_url unset)')


def fleet(module):
    """The targets' labels and connections, after refusing what cannot run from here."""
    params = module.params
    local = [name for name in params['checks'] if name not in NETWORK_CHECKS]
    if local or (params['pid_file'] and 'memory' in params['checks']):
        module.fail_json(msg='checks %s read the files of the host they run on, so they cannot run with targets; '
                             'leave them out of checks here and run them on each host (the daily_operations role '
                             'does both)' % ', '.join(local or ['memory with pid_file']))
    labels = [target['host_label'] for target in params['targets']]
    duplicates = sorted(set(label for label in labels if labels.count(label) > 1))
    if duplicates:
        module.fail_json(msg='targets repeat the host_label(s) %s; give every target its own' % ', '.join(duplicates))
    return [(target['host_label'], target['redis_url'],
             ApiClient(base_url=target['api_url'], timeout=params['api_timeout'],
                       validate_certs=params['validate_certs'], token=params['api_token']))
            for target in params['targets']]


def check_hosts(module, hosts, disk_paths):
    """Every host's checks, all hosts concurrently, in this one process; one list of results per host."""
    params = module.params
    if hosts:
        any_redis = next((redis_url for _label, redis_url, _client in hosts if redis_url), None)
        require_libraries(module, make_runner(params, None, any_redis, disk_paths))
    runners = [make_runner(params, client, redis_url, disk_paths) for _label, redis_url, client in hosts]
    if len(runners) < 2:
        return [runner.run() for runner in runners]
    with ThreadPoolExecutor(max_workers=min(len(runners), MAX_CONCURRENT_TARGETS)) as executor:
        return list(executor.map(lambda runner: runner.run(), runners))


def report(module, labels, all_results):
    """The same result whether one host or many were checked; fails unless report_only when a check failed."""
    hosts = []
    for label, results in zip(labels, all_results):
        failed = failed_names(results)
        hosts.append(dict(host=label, checks=results, failed_checks=failed, ok=not failed,
                          summary=summarize(results, label)))
    failed_hosts = sorted(host['host'] for host in hosts if not host['ok'])
    summary = '%d host(s): %d ok, %d failed%s' % (len(hosts), len(hosts) - len(failed_hosts), len(failed_hosts),
                                                  ' (%s)' % ', '.join(failed_hosts) if failed_hosts else '')
    result = dict(changed=False, hosts=hosts, failed_hosts=failed_hosts, ok=not failed_hosts, summary=summary)
    if failed_hosts and not module.params['report_only']:
        failed = sorted((host for host in hosts if not host['ok']), key=lambda host: host['host'])
        module.fail_json(msg='; '.join(failure_message(host['checks'], host['host']) for host in failed), **result)
    module.exit_json(**result)


def run_module(module):
    """Run the checks of this host, or the network checks of every target, and report them in one shape."""
    params = module.params
    mask_only_redis_passwords(module, [params['redis_url']] + [t['redis_url'] for t in params['targets'] or []])
    disk_paths = validate(module)
    if params['targets'] is None:
        hosts = [(params['host_label'] or socket.gethostname(), params['redis_url'], ApiClient.from_module(module))]
    else:
        hosts = fleet(module)
    report(module, [label for label, _redis_url, _client in hosts], check_hosts(module, hosts, disk_paths))


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
