# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The backup module's step for method=api: the service writes the archive (POST /api/backup/create); this host
validates the answer, verifies the archive and applies retention where it can see it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import (
    ApiClient, ApiError, ApiJSONError, ApiTimeoutError)
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._backup_run import (
    cannot_verify, retain, write_marker)

CREATE_URL = '/api/backup/create'
SHA256_RE = re.compile(r'^[0-9a-f]{64}$')


def api_archive(answer):
    """The archive the service says it wrote (`path` and, when given, `name`, `size`, `archive_sha256`,
    `manifest`, as POST /api/backup/create answers), or the reason the answer is not one."""
    if not isinstance(answer, dict):
        return None, 'the answer is %s, not a JSON object' % type(answer).__name__
    path = answer.get('path')
    if not isinstance(path, str) or not path:
        return None, 'the answer has no archive path ("path" is %r)' % (path,)
    name = os.path.basename(path)
    if not os.path.isabs(path):
        return None, '"path" %r is not an absolute path' % path
    if not _backup_records.parse_name(name):
        return None, '"path" %s is not a backup archive (inventory_backup_<time>.tar.zst|gz)' % path
    if answer.get('name', name) != name:
        return None, '"name" %r does not match "path" %s' % (answer.get('name'), path)
    size, sha, manifest = answer.get('size'), answer.get('archive_sha256'), answer.get('manifest')
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        return None, '"size" %r is not a byte count' % (size,)
    if sha is not None and not (isinstance(sha, str) and SHA256_RE.match(sha)):
        return None, '"archive_sha256" %r is not a SHA-256' % (sha,)
    if manifest is not None and not isinstance(manifest, dict):
        return None, '"manifest" is %s, not an object' % type(manifest).__name__
    archive = dict(path=path, name=name)
    archive.update((key, value) for key, value in (('size', size), ('archive_sha256', sha), ('manifest', manifest))
                   if value is not None)
    return archive, None


def create_through_api(module, result, dest):
    """method=api: the service writes the archive; this host verifies it and applies retention where it can."""
    params = module.params
    result['changed'] = True
    if module.check_mode:
        result['msg'] = 'would ask %s to create a backup' % params['api_url']
        module.exit_json(**result)
    archive = ask_service(module, result)
    path = archive['path']
    result['backup'] = archive
    skipped = {}
    visible = os.path.isfile(path)
    if params['verify'] and visible:
        verify_service_archive(module, result, archive)
    elif params['verify']:
        skipped['verification'] = ('%s is not visible on this host (the service runs on another host or in a '
                                   'container): verify it where it is, with state=verified and path' % path)
    if params['retention_days'] is not None:
        skip = retain_service_archive(module, result, dest, path, visible)
        if skip:
            skipped['retention'] = skip
    for reason in skipped.values():
        module.warn(reason)
    if skipped:
        result['skipped_steps'] = skipped
    result['msg'] = 'the service wrote %s%s%s' % (
        path, ', verified' if 'verification' in result else (', not verified' if params['verify'] else ''),
        '; skipped: %s' % ', '.join(sorted(skipped)) if skipped else '')
    module.exit_json(**result)


def ask_service(module, result):
    """POST /api/backup/create; the archive the answer names, validated."""
    params = module.params
    client = ApiClient.from_module(module)
    try:
        answer = client.post(CREATE_URL, data=dict(database_only=params['database_only'],
                                                   compression=params['compression']), expect_json=True).json
    except ApiJSONError as exc:
        module.fail_json(msg='backup through the API: %s; the service may have written an archive: check its '
                             'BACKUP_DIR and its logs' % exc, **result)
    except ApiTimeoutError as exc:
        module.fail_json(msg='backup through the API: %s; the service may still be writing an archive: check its '
                             'BACKUP_DIR before running again' % exc, **result)
    except ApiError as exc:
        # Refused, failed or unreachable: the service did not write a backup.
        result['changed'] = False
        module.fail_json(msg='backup through the API failed: %s' % exc, **result)
    archive, problem = api_archive(answer)
    if problem:
        module.fail_json(msg='backup through the API: %s answered success, but %s; the service may have written '
                             'an archive: check its BACKUP_DIR and logs, and that api_url is the Inventory '
                             'Enterprise service' % (client.url(CREATE_URL), problem), **result)
    return archive


def verify_service_archive(module, result, archive):
    path = archive['path']
    try:
        report = _archive.verify_archive(path, module.params['scratch_dir'] or os.path.dirname(path))
    except _backup_records.BackupError as exc:
        if not cannot_verify(exc, path):
            _backup_records.write_failure_marker(path, exc)
        module.fail_json(msg=cannot_verify(exc, path) or 'the service wrote %s but it does not verify: %s; it is '
                         'not counted as a good backup: investigate it' % (path, exc), **result)
    if archive.get('archive_sha256', report['archive_sha256']) != report['archive_sha256']:
        module.fail_json(msg='the service reported SHA-256 %s for %s but the file has %s: it is not the archive '
                             'the service wrote (replaced, or another file of that name); investigate it'
                         % (archive['archive_sha256'], path, report['archive_sha256']), **result)
    result['verification'] = report
    write_marker(module, path, report, result)


def retain_service_archive(module, result, dest, path, visible):
    """Apply retention_days next to the service's archive; the reason when it cannot be done here, else None."""
    if not visible:
        return ("the service's backup directory is not visible on this host: apply retention_days where it is, "
                'with state=pruned')
    if os.path.realpath(os.path.dirname(path)) != os.path.realpath(dest):
        # Never prune a directory only the service's answer named.
        return ('the service wrote into %s, not into dest %s: retention_days was not applied; set dest (or '
                'BACKUP_DIR) to the service\'s backup directory' % (os.path.dirname(path), dest))
    retain(module, result, os.path.dirname(path))
    return None
