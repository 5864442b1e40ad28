#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: capacity_review
short_description: The quarterly capacity planning review of an Inventory Enterprise app server
version_added: 1.7.0
description:
  - The guide's quarterly "Capacity planning review", run on an app server, in numbers. Read-only.
  - Database size and rows over the last O(lookback_days) days, from the manifest of every backup archive in
    the window and the live database's statistics. The figures of a manifest are taken from the archive's
    verification record (C(<backup dir>/.verified/)) when it holds them, else the manifest is streamed out of the
    archive (decompressed and discarded, nothing extracted). An age-encrypted copy (C(.age)) without them cannot
    be opened here and is listed in RV(unavailable).
  - Growth in bytes per day, fitted by least squares over the dated points, of the data directory (the database
    and the transaction log, from the manifests and the live files), of the logs directory (the daily files
    C(application-), C(security-) and C(audit-YYYY-MM-DD.log) by their date, as the directory keeps them) and of
    the backups directory (the archives by their creation time, see O(backup_retention_days)).
  - Disk runway per filesystem - its free space (available to unprivileged users) divided by the growth per
    day of the directories it holds. A filesystem that does not grow has no runway (null) and a C(runway:) figure
    saying so. A runway under O(runway_threshold_days) is the finding C(disk_runway_short), with the date the
    space runs out.
  - The cache's memory (Redis C(INFO memory), C(used_memory)) against the guide's 1.8 GB
    (O(cache_memory_limit_bytes)), and the p95 API latency per day from Prometheus (O(prometheus_url)) with its
    trend against the guide's 100 ms target.
  - A source that cannot be read (no backups, the log directory missing, Redis or Prometheus down) is listed in
    RV(unavailable) and the rest of the review goes on; the module fails only when nothing at all could be read.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.service_paths
  - inventory_enterprise.ops.redis
attributes:
  check_mode:
    support: full
    details: Reads only, in check mode as in a normal run.
  diff_mode:
    support: none
options:
  backup_dir:
    description: Directory of the backup archives. Default C(BACKUP_DIR) of the service's C(.env), else C(backups).
    type: path
  log_dir:
    description: Directory of the daily log files. Default C(LOG_DIR) of the service's C(.env), else C(logs).
    type: path
  lookback_days:
    description: Days of history the review reads (a quarter and a day by default).
    type: int
    default: 92
  runway_threshold_days:
    description: A filesystem whose runway is shorter than this many days is a C(high) finding.
    type: float
    default: 90
  runway_critical_days:
    description: A runway shorter than this many days is C(critical).
    type: float
    default: 30
  backup_retention_days:
    description:
      - Days of archives the backups directory keeps (the backup role's C(backup_retention_days)); V(0) when it
        keeps them all.
      - When no archive is older than this, the directory is taken to keep as many archives as now, growing as
        they grow; otherwise it grows by every new archive.
    type: int
    default: 30
  redis_url:
    description:
      - URL of the service's Redis, for example V(redis://127.0.0.1:6379/0). Default C(REDIS_URL) of the
        service's C(.env); when both are empty the cache is listed in RV(unavailable).
      - May contain a password. The password is masked everywhere (C(redis://:****@cache:6379/0) in messages).
    type: str
  cache_memory_limit_bytes:
    description: The cache's memory limit in bytes, the guide's C(Memory <1.8GB) (GB of 10^9 bytes, as in
      M(inventory_enterprise.ops.performance_report)).
    type: int
    default: 1800000000
  cache_memory_warn_percent:
    description: Cache memory above this share of O(cache_memory_limit_bytes) is a C(medium) finding.
    type: float
    default: 80
  prometheus_url:
    description: Base URL of the Prometheus server that scrapes the service. Unset, the latency trend is listed in
      RV(unavailable).
    type: str
  prometheus_selector:
    description: Label matchers for the latency query, as written inside the braces, for example
      C(job="inventory_enterprise",instance="app1:8083") for this host only.
    type: str
  prometheus_timeout:
    description: Seconds to wait for the answer of Prometheus.
    type: float
    default: 10
  prometheus_token:
    description: Bearer token, when a proxy in front of Prometheus requires one.
    type: str
  validate_certs:
    description: Verify the TLS certificate of O(prometheus_url).
    type: bool
    default: true
  p95_target_ms:
    description: The p95 latency target in milliseconds (the guide's 100).
    type: float
    default: 100
requirements:
  - zstandard (Python library) on the managed host to read the manifests of zstd archives without a verification
    record.
notes:
  - The p95 per day is C(histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1d])))),
    asked once as a range query over the window with a step of a day.
  - See C(docs/reviews.md) for each finding, its threshold and why.
seealso:
  - module: inventory_enterprise.ops.backup
  - module: inventory_enterprise.ops.performance_report
'''

EXAMPLES = r'''
- name: Quarterly capacity review of this app server
  inventory_enterprise.ops.capacity_review:
    service_home: /opt/inventory-enterprise
    prometheus_url: http://monitor1:9090
    prometheus_selector: job="inventory_enterprise",instance="{{ inventory_hostname }}:8083"
  register: capacity

- name: Show the findings
  ansible.builtin.debug:
    msg: "{{ capacity.findings | map(attribute='summary') | list }}"

- name: Warn earlier - half a year of runway, a critical finding under two months
  inventory_enterprise.ops.capacity_review:
    service_home: /opt/inventory-enterprise
    runway_threshold_days: 180
    runway_critical_days: 60
'''

RETURN = r'''
review:
  description: The name of the review.
  returned: always
  type: str
  sample: capacity
generated_at:
  description: When the review ran (UTC, ISO 8601).
  returned: always
  type: str
  sample: "2027-01-15T09:00:00Z"
findings:
  description:
    - What needs a decision, most severe first. C(disk_runway_short) (V(high), V(critical) under
      O(runway_critical_days)) per filesystem, C(cache_memory_over_limit) (V(high)), C(cache_memory_near_limit)
      (V(medium)), C(p95_latency_rising) (a rising trend - V(medium) when the last day's p95 is above
      O(p95_target_ms), V(low) when the trend line reaches it within O(lookback_days)).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Stable code of the finding.
      type: str
      sample: disk_runway_short
    severity:
      description: V(critical), V(high), V(medium), V(low) or V(info).
      type: str
    summary:
      description: One line for a person; for C(disk_runway_short) it names the date the space runs out.
      type: str
      sample: "/srv runs out of space in 41 days, on 2027-02-25: 12.0 GiB free, growing 300.0 MiB a day (data, backups)"
    subject:
      description: What it is about - the filesystem's mount point, the Redis address, V(api).
      type: str
    value:
      description: The measured figure (runway days, cache bytes, the last day's p95 in ms).
      type: raw
    threshold:
      description: The limit it was judged against.
      type: raw
figures:
  description:
    - The scalar figures behind the findings. Growth figures are null when fewer than two points give them.
    - C(lookback_days), C(window_start); C(manifests_read) (archives in the window whose figures were read),
      C(manifests_from_records) and C(manifests_streamed) (how).
    - C(db_size_bytes) (page size times page count), C(db_free_pages), C(rows_total), C(transaction_log_bytes) of
      the live files; C(db_growth_bytes_per_day), C(rows_growth_per_day), C(transaction_log_growth_bytes_per_day).
    - C(log_days), C(log_bytes) (daily files in the window), C(logs_growth_bytes_per_day).
    - C(backups_count), C(backups_bytes) (every archive present), C(backups_growth_bytes_per_day),
      C(backups_growth_model) (V(retention), V(accumulating) or V(no archives)).
    - Per filesystem, keyed by its mount point - C(free_bytes:<mount>), C(directories:<mount>) (data, logs,
      backups), C(growth_bytes_per_day:<mount>), C(runway_days:<mount>) (null when it does not grow or its growth
      is unknown) and C(runway:<mount>) (V(runs out on <date>), V(not growing ...) or V(growth unknown ...)).
    - C(cache_memory_bytes), C(cache_memory_peak_bytes), C(cache_memory_limit_bytes), C(cache_memory_percent),
      C(cache_maxmemory_bytes) (Redis's own C(maxmemory), 0 for none).
    - C(p95_latency_ms) (the last day), C(p95_latency_days), C(p95_latency_trend_ms_per_day),
      C(p95_latency_fitted_ms) (the trend line at the last day).
  returned: always
  type: dict
  sample: {"db_size_bytes": 52428800, "db_growth_bytes_per_day": 183500.5, "runway_days:/": 412.3,
           "runway:/": "runs out on 2028-03-01", "backups_growth_model": "retention"}
series:
  description: Chart data; every entry has C(kind) (V(time) or V(category)), C(unit), C(title) and C(points)
    (C([x, y]) pairs, x an ISO 8601 UTC time or a label), some a C(target) line or C(groups) (one line per label).
  returned: always
  type: dict
  contains:
    db_size_bytes:
      description: Database size per backup in the window, then the live database (time, bytes).
      type: dict
      returned: always
    rows_total:
      description: Rows per backup and live (time, count); C(groups) has one line per table.
      type: dict
      returned: always
    backup_size_bytes:
      description: Size of each archive created in the window (time, bytes).
      type: dict
      returned: when the backups directory exists
    log_bytes_per_day:
      description: Bytes of daily log files per date (time, bytes); C(groups) per class.
      type: dict
      returned: when the logs directory can be read
    disk_runway_days:
      description: Runway per filesystem that grows (category, days); C(target) is O(runway_threshold_days).
      type: dict
      returned: always
    cache_memory_bytes:
      description: Redis C(used_memory) and C(used_memory_peak) (category, bytes); C(target) is the limit.
      type: dict
      returned: when Redis answered
    p95_latency_ms:
      description: p95 API latency per day (time, ms); C(target) is O(p95_target_ms).
      type: dict
      returned: when Prometheus has the latency histogram
unavailable:
  description: What the review could not include, and why; never counted as zero.
  returned: always
  type: list
  elements: dict
  contains:
    source:
      description: V(backup_manifest) (one per archive), V(database), V(logs), V(backups), V(filesystem), V(redis)
        or V(prometheus).
      type: str
    reason:
      description: What failed, where, and what to do; never a password.
      type: str
msg:
  description: Why the review failed (nothing at all could be read, or an option is out of range).
  returned: failure
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _envfile, _prometheus_api, _service_layout
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._capacity import (
    GUIDE_CACHE_MEMORY_BYTES, GUIDE_P95_MS, CapacityReview)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._redis import (
    mask_only_redis_passwords, redis_argument_spec)


def argument_spec():
    spec = _service_layout.service_paths_argument_spec()
    spec.update(redis_argument_spec())
    spec.update(
        backup_dir=dict(type='path'),
        log_dir=dict(type='path'),
        lookback_days=dict(type='int', default=92),
        runway_threshold_days=dict(type='float', default=90.0),
        runway_critical_days=dict(type='float', default=30.0),
        backup_retention_days=dict(type='int', default=30),
        cache_memory_limit_bytes=dict(type='int', default=GUIDE_CACHE_MEMORY_BYTES),
        cache_memory_warn_percent=dict(type='float', default=80.0),
        prometheus_url=dict(type='str'),
        prometheus_selector=dict(type='str'),
        prometheus_timeout=dict(type='float', default=10.0),
        prometheus_token=dict(type='str', no_log=True),
        validate_certs=dict(type='bool', default=True),
        p95_target_ms=dict(type='float', default=GUIDE_P95_MS),
    )
    return spec


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


def validate(module):
    params = module.params
    for name in ('lookback_days', 'cache_memory_limit_bytes', 'prometheus_timeout', 'p95_target_ms'):
        if params[name] <= 0:
            module.fail_json(msg='%s must be greater than 0, got %s' % (name, params[name]))
    for name in ('runway_threshold_days', 'runway_critical_days', 'backup_retention_days', 'cache_memory_warn_percent'):
        if params[name] < 0:
            module.fail_json(msg='%s must be 0 or more, got %s' % (name, params[name]))
    if params['runway_critical_days'] > params['runway_threshold_days']:
        module.fail_json(msg='runway_critical_days (%s) must not exceed runway_threshold_days (%s)'
                         % (params['runway_critical_days'], params['runway_threshold_days']))


def locate(module):
    """The service's paths and its REDIS_URL (when redis_url is not given)."""
    params = module.params
    try:
        paths = _service_layout.service_paths(
            params['service_home'], env_file=params['env_file'],
            **dict((k, params[k]) for k in ('database_path', 'transaction_log_path', 'config_dir', 'models_dir')))
        env = _envfile.read_env_file(paths['env_file'], missing_ok=True) or {}
    except _envfile.EnvFileError as exc:
        module.fail_json(msg="cannot read the service's configuration: %s; nothing was reviewed" % exc)
    paths['backup_dir'] = params['backup_dir'] or paths['backup_dir']
    paths['log_dir'] = params['log_dir'] or paths['log_dir']
    return paths, params['redis_url'] or env.get('REDIS_URL') or None


def run_module(module, now=None, statvfs=None):
    validate(module)
    params = module.params
    paths, redis_url = locate(module)
    # The .env's REDIS_URL is no module option: its password is masked here like redis_url's.
    mask_only_redis_passwords(module, [redis_url])
    prometheus = None
    if params['prometheus_url']:
        prometheus = _prometheus_api.PrometheusClient(params['prometheus_url'], timeout=params['prometheus_timeout'],
                                                      validate_certs=params['validate_certs'],
                                                      token=params['prometheus_token'])
    review = CapacityReview(params, paths, now=now, **(dict(statvfs=statvfs) if statvfs else {}))
    result = review.run(redis_url=redis_url, prometheus=prometheus)
    if not review.read:
        module.fail_json(msg='capacity review of %s: nothing could be read: %s' % (paths['service_home'], '; '.join(
            '%s: %s' % (item['source'], item['reason']) for item in result['unavailable'])), **result)
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
