#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: security_audit
short_description: Audit an app server of the service - file modes, secrets, ports, backup encryption, admin accounts
version_added: 1.7.0
description:
  - The operations guide's monthly "Security audit (15th of month)", run on an app server. Returns the common
    result of the review modules (RV(review) V(security)) - findings with a severity, the figures behind them,
    chart series, and what could not be read.
  - V(file_modes) - modes and owners of the service's C(.env), of the SQLite database and its C(-wal), C(-shm)
    and C(-journal) files, of the backups directory, its archives and its C(.verified) records, and of the logs
    directory and its C(*.log) files (C(security-*.log) and C(audit-*.log) must not be readable by every user).
    Files must belong to the service user (O(service_user)) or root. A problem of "every user" in a file that
    other users cannot reach (a directory above it lacks the C(o+x) bit) is reported with severity V(low), as it is
    latent, not exposed.
  - V(secrets) - C(JWT_SECRET) and C(ADMIN_PASSWORD) from C(.env), against a list of well-known default values
    and the lengths O(min_jwt_secret_length) and O(min_admin_password_length). A finding gives a length or says
    "default", never a value or any part of one.
  - V(ports) - LISTEN sockets from C(/proc/net/tcp) and C(/proc/net/tcp6) against O(expected_ports); run as root,
    the owning process of an unexpected one is named. Also reports the service's own port held by a root process.
  - V(backup_encryption) - counts the local archives, plaintext and age-encrypted (C(.age)); with O(offsite_dir),
    checks that the off-site copies there (and in its subdirectories, one per app host) are age files.
  - V(admin_accounts) - the service's accounts with admin rights (the reference service has one, C(ADMIN_USERNAME),
    enabled while C(ADMIN_PASSWORD) is set) against O(max_admin_accounts); on the host, accounts other than root
    with UID 0 and members of the groups O(admin_groups), from C(/etc/passwd) and C(/etc/group).
  - A source that cannot be read (a missing service home or directory, an unreadable C(.env)) is listed in
    RV(unavailable) and its checks are left out; the rest of the review still runs.
  - Read-only; never changes anything, and returns the same in check mode.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.service_paths
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  env_file:
    description:
      - The service's C(.env) file. Default C(<service_home>/.env).
      - Read as the service reads it. When it is missing or cannot be read, its secrets are not judged, the paths
        and the port are the options' or the service's defaults, and RV(unavailable) says why.
    type: path
  backup_dir:
    description: The service's backups directory. Default C(BACKUP_DIR) of C(.env), else C(backups).
    type: path
    version_added: 1.7.0
  log_dir:
    description: The service's logs directory. Default C(LOG_DIR) of C(.env), else C(logs).
    type: path
    version_added: 1.7.0
  service_user:
    description:
      - The user the service runs as (a name or a UID), who must own its files (root may too).
      - Default the owner of O(service_home).
    type: str
    version_added: 1.7.0
  checks:
    description: The areas to audit.
    type: list
    elements: str
    choices: [file_modes, secrets, ports, backup_encryption, admin_accounts]
    default: [file_modes, secrets, ports, backup_encryption, admin_accounts]
    version_added: 1.7.0
  min_jwt_secret_length:
    description:
      - Fewest characters of C(JWT_SECRET). RFC 7518 asks at least 32 bytes of key for HS256, and the reference
        service warns under 32 (C(auth.RECOMMENDED_SECRET_LENGTH)); it refuses to start under 16.
    type: int
    default: 32
    version_added: 1.7.0
  min_admin_password_length:
    description: Fewest characters of C(ADMIN_PASSWORD) (the service role requires 12).
    type: int
    default: 12
    version_added: 1.7.0
  expected_ports:
    description:
      - TCP ports that may listen. Default the service's C(PORT) from C(.env) (else 8083) and 22 (SSH).
      - Given, it replaces the default, so include the service's port.
    type: list
    elements: int
    version_added: 1.7.0
  backup_encryption_required:
    description:
      - Whether a plaintext copy in O(offsite_dir) is a V(high) finding; false makes it V(info) (the backup role's
        C(backup_offsite_encrypt=false), an explicit choice).
    type: bool
    default: true
    version_added: 1.7.0
  local_backup_encryption_required:
    description:
      - Whether plaintext archives in the local backups directory are a V(high) finding.
      - The backup module writes them plaintext, by design (restore reads them, and the host already holds the
        live C(.env) and database); the backup role encrypts the copies that leave the host. So by default they
        are only counted, and their modes checked under V(file_modes).
    type: bool
    default: false
    version_added: 1.7.0
  offsite_dir:
    description:
      - Directory of off-site copies to check, on the host the module runs on (the backup server's
        C(backup_offsite_dir), or one app host's directory under it). Not checked when unset.
    type: path
    version_added: 1.7.0
  max_admin_accounts:
    description: Most accounts with admin rights in the service.
    type: int
    default: 1
    version_added: 1.7.0
  admin_groups:
    description: Groups whose members have admin rights on the host.
    type: list
    elements: str
    default: [sudo, wheel, root, admin]
    version_added: 1.7.0
notes:
  - Secrets set in the service's process environment rather than in C(.env) are not seen.
  - Run it as root (become), so every file, C(.env) and the owner of every socket can be read.
  - See C(docs/reviews.md) in the collection for each finding, its threshold and why.
'''

EXAMPLES = r'''
- name: Audit the app server
  inventory_enterprise.ops.security_audit:
    service_home: /opt/inventory-enterprise
  become: true
  register: security

- name: Show what is critical or high
  ansible.builtin.debug:
    msg: "{{ security.findings | selectattr('severity', 'in', ['critical', 'high']) | map(attribute='summary') }}"

- name: Check the off-site copies on the backup server (no service home there; reported in unavailable)
  inventory_enterprise.ops.security_audit:
    checks: [backup_encryption]
    service_home: /opt/inventory-enterprise
    offsite_dir: /srv/inventory-backups
  become: true
  delegate_to: backup1
'''

RETURN = r'''
review:
  description: The review's name.
  returned: always
  type: str
  sample: security
generated_at:
  description: When the review ran, ISO-8601 UTC.
  returned: always
  type: str
  sample: "2026-12-15T06:00:00Z"
findings:
  description: What the audit found, most severe first (then by id and subject).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description:
        - Stable code of the finding (see C(docs/reviews.md)).
        - File modes, C(<kind>_<problem>), kind one of V(env_file), V(database), V(backup_dir), V(backup_archive),
          V(backup_marker), V(log_dir), V(log_file), V(security_log); problem one of V(world_readable),
          V(world_writable), V(group_readable), V(group_writable), V(owner).
        - Secrets, V(jwt_secret_missing), V(jwt_secret_default), V(jwt_secret_short), V(admin_password_empty),
          V(admin_password_default), V(admin_password_short).
        - Ports, V(port_unexpected_public), V(port_unexpected_loopback), V(service_runs_as_root).
        - Backups, V(local_backup_unencrypted), V(offsite_backup_unencrypted), V(offsite_backup_not_age).
        - Accounts, V(service_admin_accounts_excess), V(os_uid0_account), V(os_admin_group_member).
      type: str
      sample: env_file_world_readable
    severity:
      description: V(critical), V(high), V(medium), V(low) or V(info).
      type: str
      sample: critical
    summary:
      description: One line a person reads; never a secret.
      type: str
      sample: "the .env file /opt/inventory-enterprise/.env (mode 0644) is readable by every user"
    subject:
      description: What it is about (a path, C(tcp/<port>), C(user <name>)).
      type: str
      sample: /opt/inventory-enterprise/.env
    value:
      description:
        - The measured figure - the number of files for a file finding, the length of a short secret, the port,
          the number of archives or accounts; null where there is none (a default secret).
      type: raw
      sample: 1
    threshold:
      description: The limit it was judged against (a length, a count), null where the finding is the fact itself.
      type: raw
figures:
  description: The scalar figures behind the findings.
  returned: always
  type: dict
  contains:
    checks:
      description: The areas audited, comma-separated.
      returned: always
      type: str
      sample: file_modes,secrets,ports,backup_encryption,admin_accounts
    findings_total:
      description: Number of findings.
      returned: always
      type: int
    findings_critical:
      description: Number of V(critical) findings.
      returned: always
      type: int
    findings_high:
      description: Number of V(high) findings.
      returned: always
      type: int
    findings_medium:
      description: Number of V(medium) findings.
      returned: always
      type: int
    findings_low:
      description: Number of V(low) findings.
      returned: always
      type: int
    findings_info:
      description: Number of V(info) findings.
      returned: always
      type: int
    service_home:
      description: The service home audited.
      returned: always
      type: str
    service_user:
      description: The expected owner of the service's files, empty when unknown.
      returned: always
      type: str
      sample: inventory
    files_checked:
      description: Number of files and directories whose mode and owner were checked.
      returned: when V(file_modes) ran on an existing service home
      type: int
    secrets_checked:
      description: The secrets judged.
      returned: when V(secrets) ran on a readable C(.env)
      type: str
      sample: JWT_SECRET,ADMIN_PASSWORD
    expected_ports:
      description: The expected ports, comma-separated.
      returned: when V(ports) ran and C(/proc/net/tcp) could be read
      type: str
      sample: "22,8083"
    listening_ports:
      description: Every port with a LISTEN socket, comma-separated.
      returned: when V(ports) ran and C(/proc/net/tcp) could be read
      type: str
      sample: "22,6379,8083"
    unexpected_public_ports:
      description: Unexpected ports listening on an address other than loopback.
      returned: when V(ports) ran and C(/proc/net/tcp) could be read
      type: int
    unexpected_loopback_ports:
      description: Unexpected ports listening on loopback only.
      returned: when V(ports) ran and C(/proc/net/tcp) could be read
      type: int
    local_backups:
      description: Archives in the local backups directory.
      returned: when V(backup_encryption) ran and the backups directory exists
      type: int
    local_backups_encrypted:
      description: Of those, age-encrypted (C(.age)).
      returned: when V(backup_encryption) ran and the backups directory exists
      type: int
    offsite_backups:
      description: Archives in O(offsite_dir) and its subdirectories (0 without O(offsite_dir)).
      returned: when V(backup_encryption) ran and O(offsite_dir) could be listed
      type: int
    offsite_backups_encrypted:
      description: Of those, real age files.
      returned: when V(backup_encryption) ran and O(offsite_dir) could be listed
      type: int
    service_admin_accounts:
      description: Usernames of the service's accounts with admin rights, comma-separated.
      returned: when V(admin_accounts) ran on a readable C(.env)
      type: str
      sample: admin
    service_admin_account_count:
      description: Their number.
      returned: when V(admin_accounts) ran on a readable C(.env)
      type: int
    os_admin_accounts:
      description: Members of O(admin_groups) other than root, as C(group:user), comma-separated.
      returned: when V(admin_accounts) ran and C(/etc/passwd) and C(/etc/group) could be read
      type: str
      sample: sudo:alice,wheel:bob
    os_admin_account_count:
      description: Number of distinct users in RV(figures.os_admin_accounts).
      returned: when V(admin_accounts) ran and C(/etc/passwd) and C(/etc/group) could be read
      type: int
    os_uid0_accounts:
      description: Accounts other than root with UID 0, comma-separated.
      returned: when V(admin_accounts) ran and C(/etc/passwd) and C(/etc/group) could be read
      type: str
series:
  description: Chart data for the operations report.
  returned: always
  type: dict
  contains:
    findings_by_severity:
      description: Number of findings per severity, every severity present (C(kind=category), C(unit=count)).
      returned: always
      type: dict
      sample: {"kind": "category", "unit": "count", "title": "Security findings by severity",
               "points": [["critical", 0], ["high", 1], ["medium", 0], ["low", 2], ["info", 3]]}
    findings_by_area:
      description: Number of findings per area audited (C(kind=category), C(unit=count)).
      returned: always
      type: dict
      sample: {"kind": "category", "unit": "count", "title": "Security findings by area checked",
               "points": [["file_modes", 2], ["secrets", 0], ["ports", 3], ["backup_encryption", 0],
                          ["admin_accounts", 1]]}
unavailable:
  description: What the audit could not include, and why; never silently left out.
  returned: always
  type: list
  elements: dict
  contains:
    source:
      description: What could not be read (V(service_home), V(env_file), V(database), V(backup_dir), V(log_dir),
        V(offsite_dir), V(os_accounts), a C(/proc/net) table, or a file kind).
      type: str
      sample: env_file
    reason:
      description: Why, and what to do.
      type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _security_audit, _service_layout


def argument_spec():
    spec = _service_layout.service_paths_argument_spec()
    spec.update(
        backup_dir=dict(type='path'),
        log_dir=dict(type='path'),
        service_user=dict(type='str'),
        checks=dict(type='list', elements='str', choices=list(_security_audit.CHECKS),
                    default=list(_security_audit.CHECKS)),
        min_jwt_secret_length=dict(type='int', default=32, no_log=False),
        min_admin_password_length=dict(type='int', default=12, no_log=False),
        expected_ports=dict(type='list', elements='int'),
        backup_encryption_required=dict(type='bool', default=True),
        local_backup_encryption_required=dict(type='bool', default=False),
        offsite_dir=dict(type='path'),
        max_admin_accounts=dict(type='int', default=1),
        admin_groups=dict(type='list', elements='str', default=['sudo', 'wheel', 'root', 'admin']),
    )
    return spec


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


def run_module(module):
    try:
        result = _security_audit.run_audit(module.params)
    except _security_audit.AuditError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
