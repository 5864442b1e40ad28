#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: model_archive
short_description: Archive forecasting models trained long ago, never the active model of an item
version_added: 0.2.0
description:
  - The guide's monthly C(UPDATE ai_models SET status = 'archived' WHERE trained_at < date('now', '-90 days')),
    made safe. Models (of every type) of the service's registry trained more than O(older_than_days) ago with
    status C(inactive) or C(failed) get the status C(archived), and their files move from
    C(<models_dir>/<item>/<id>.json) to C(<archive_dir>/<item>/<id>.json).
  - The active model of an item is never archived, however old; it is listed in RV(kept_active).
  - Files of rows archived earlier (by hand with the guide's SQL, which left the files in place) are moved too.
  - Each file moves first (a rename, or across filesystems a copy, fsync and removal), then all rows change in
    one transaction. A run killed in between leaves an inactive row whose file is already in the archive; the next
    run finds that row again, sees the file there and only updates the row. The other order would leave rows
    claiming C(archived) with the file still in the models directory. The service loads only active models, so
    an inactive model's file missing meanwhile does no harm.
  - A second run changes nothing. Check mode lists what would be archived and moved, and writes nothing.
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
  - inventory_enterprise.ops.service_paths
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The registry rows and file locations before and after.
options:
  older_than_days:
    description: Archive models trained more than this many days ago.
    type: int
    default: 90
  archive_dir:
    description: Where archived model files go, one directory per item. Default C(archive) next to the models directory.
    type: path
'''

EXAMPLES = r'''
- name: Archive models older than 90 days
  inventory_enterprise.ops.model_archive:
    service_home: /opt/inventory-enterprise
  register: archive

- name: What would be archived, changing nothing
  inventory_enterprise.ops.model_archive:
    older_than_days: 180
  check_mode: true
'''

RETURN = r'''
archived:
  description: Models archived by this run (or that would be, in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: C(ai_models.id).
      type: int
    item_code:
      description: The item (C(entity_id)).
      type: str
    model_type:
      description: The model's type.
      type: str
    status:
      description: Its status before (V(inactive) or V(failed)).
      type: str
    trained_at:
      description: When it was trained.
      type: str
    file:
      description: Its file in the archive directory; null when the model has no file.
      type: str
  sample: [{"id": 3, "item_code": "ITEM-001", "model_type": "prophet", "status": "inactive",
            "trained_at": "2026-05-01T03:00:00Z", "file": "/opt/inventory-enterprise/ai/archive/ITEM-001/3.json"}]
files_moved:
  description: Model files moved to the archive directory (also those of rows archived before).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: C(ai_models.id).
      type: int
    item_code:
      description: The item.
      type: str
    src:
      description: Where the file was.
      type: str
    dest:
      description: Where it is now.
      type: str
  sample: [{"id": 3, "item_code": "ITEM-001", "src": "/opt/inventory-enterprise/ai/models/ITEM-001/3.json",
            "dest": "/opt/inventory-enterprise/ai/archive/ITEM-001/3.json"}]
kept_active:
  description: Active models older than the cut-off, kept because they are their item's active model.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: C(ai_models.id).
      type: int
    item_code:
      description: The item.
      type: str
    model_type:
      description: The model's type.
      type: str
    trained_at:
      description: When it was trained.
      type: str
  sample: [{"id": 1, "item_code": "ITEM-009", "model_type": "seasonal_naive", "trained_at": "2026-01-04T03:00:00Z"}]
cutoff:
  description: Models trained before this time (UTC) are archived.
  returned: always
  type: str
  sample: "2026-09-02T20:00:00Z"
archive_dir:
  description: The archive directory.
  returned: always
  type: str
  sample: /opt/inventory-enterprise/ai/archive
'''

import datetime
import os
import sqlite3

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _envfile, _files, _model_review, _service_layout

ARCHIVABLE = ('inactive', 'failed')


def argument_spec():
    spec = _service_layout.service_paths_argument_spec()
    spec.update(older_than_days=dict(type='int', default=90), archive_dir=dict(type='path'))
    return spec


def create_module():
    return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


def plan(module, rows, models_dir, archive_dir, cutoff):
    """(rows to archive, files to move as (row, src, dest), active rows older than the cut-off)."""
    to_archive, moves, kept = [], [], []
    for row in rows:
        when = _model_review.parse_time(row['trained_at'])
        old = when is not None and when < cutoff
        if row['status'] == 'active':
            if old:
                kept.append(dict(id=row['id'], item_code=row['entity_id'], model_type=row['model_type'], trained_at=row['trained_at']))
            continue
        if row['status'] in ARCHIVABLE and when is None:
            module.warn('model %s of %s has no readable trained_at (%r): left as it is' % (row['id'], row['entity_id'],
                                                                                           row['trained_at']))
            continue
        if not (row['status'] == 'archived' or (row['status'] in ARCHIVABLE and old)):
            continue
        if not _model_review.safe_entity(row['entity_id']):
            module.warn('model %s: entity_id %r cannot name a directory: left as it is' % (row['id'], row['entity_id']))
            continue
        src = _model_review.model_file(models_dir, row['entity_id'], row['id'])
        dest = _model_review.model_file(archive_dir, row['entity_id'], row['id'])
        if row['status'] != 'archived':
            to_archive.append((row, dest))
        if os.path.lexists(src):
            moves.append((row, src, dest))
    return to_archive, moves, kept


def move_file(src, dest, owner_of):
    """Move one model file into the archive; a copy left by a run killed mid-move is completed, never doubled."""
    directory = os.path.dirname(dest)
    if not os.path.isdir(directory):
        os.makedirs(directory)
        if os.geteuid() == 0:
            st = os.stat(owner_of)
            os.chown(directory, st.st_uid, st.st_gid)
            os.chown(os.path.dirname(directory), st.st_uid, st.st_gid)
    if os.path.lexists(dest):
        if _files.sha256_file(dest) != _files.sha256_file(src):
            raise OSError('%s is already in the archive with other content than %s: compare them and remove the '
                          'wrong one' % (dest, src))
        os.unlink(src)
    else:
        owner = os.stat(src)
        _files.move(src, dest)
        if os.geteuid() == 0:
            os.chown(dest, owner.st_uid, owner.st_gid)
    _files.fsync_dir(directory)
    _files.fsync_dir(os.path.dirname(src))


def update_rows(conn, to_archive):
    """Set status archived on the planned rows in one transaction; ids whose status changed meanwhile are returned."""
    skipped = []
    conn.execute('BEGIN IMMEDIATE')
    try:
        for row in (entry[0] for entry in to_archive):
            cursor = conn.execute("UPDATE ai_models SET status = 'archived' WHERE id = ? AND status IN (?, ?)",
                                  (row['id'],) + ARCHIVABLE)
            if cursor.rowcount != 1:
                skipped.append(row['id'])
        conn.execute('COMMIT')
    except BaseException:
        conn.execute('ROLLBACK')
        raise
    return skipped


def describe(rows, models_dir, archive_dir, moved=False):
    """One line per row: id, item, status, trained_at and where its file is (or will be, with moved)."""
    lines = []
    for row in rows:
        where = [base for base in (models_dir, archive_dir) if _model_review.safe_entity(row['entity_id'])
                 and os.path.lexists(_model_review.model_file(base, row['entity_id'], row['id']))]
        if where and moved:
            where = [archive_dir]
        path = _model_review.model_file(where[0], row['entity_id'], row['id']) if where else '-'
        lines.append('%s %s %s %s %s\n' % (row['id'], row['entity_id'], row['status'], row['trained_at'], path))
    return ''.join(lines)


def run_module(module):
    params = module.params
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None).replace(microsecond=0)
    cutoff = now - datetime.timedelta(days=params['older_than_days'])
    result = dict(changed=False, archived=[], files_moved=[], kept_active=[],
                  cutoff=cutoff.strftime(_model_review.TIME_FORMAT), archive_dir=params['archive_dir'] or '')
    if params['older_than_days'] < 0:
        module.fail_json(msg='older_than_days must be 0 or more, not %d' % params['older_than_days'], **result)
    try:
        paths = _service_layout.service_paths_from_params(params)
        conn = _model_review.connect(paths['database_path'], readonly=module.check_mode)
    except (_envfile.EnvFileError, _model_review.RegistryError) as exc:
        module.fail_json(msg='cannot open the model registry: %s' % exc, **result)
    models_dir = paths['models_dir']
    archive_dir = result['archive_dir'] = params['archive_dir'] or _model_review.default_archive_dir(models_dir)
    try:
        rows = sorted(_model_review.load_rows(conn), key=lambda row: row['id'])
        to_archive, moves, kept = plan(module, rows, models_dir, archive_dir, cutoff)
        result['kept_active'] = kept
        touched = set(entry[0]['id'] for entry in to_archive + moves)
        before = describe([row for row in rows if row['id'] in touched], models_dir, archive_dir)
        # In check mode the prediction; otherwise set as the work is done, so a failure midway stays honest.
        result['changed'] = module.check_mode and bool(to_archive or moves)
        moving = set(entry[0]['id'] for entry in moves)
        planned = [dict(id=row['id'], item_code=row['entity_id'], model_type=row['model_type'], status=row['status'],
                        trained_at=row['trained_at'], file=dest if row['id'] in moving or os.path.lexists(dest) else None)
                   for row, dest in to_archive]
        planned_moves = [dict(id=row['id'], item_code=row['entity_id'], src=src, dest=dest) for row, src, dest in moves]
        if module.check_mode:
            result.update(archived=planned, files_moved=planned_moves)
        else:
            for entry in planned_moves:
                move_file(entry['src'], entry['dest'], models_dir if os.path.isdir(models_dir) else os.path.dirname(entry['src']))
                result['files_moved'].append(entry)
                result['changed'] = True
            skipped = update_rows(conn, to_archive)
            result['changed'] |= len(skipped) < len(to_archive)
            result['archived'] = [entry for entry in planned if entry['id'] not in skipped]
            if skipped:
                module.warn('models %s changed status during the run and were not archived; their files are in %s: '
                            'move them back if they are in use' % (skipped, archive_dir))
        if module._diff and result['changed']:
            after_rows = [dict(row, status='archived') if row['id'] in touched and row['status'] in ARCHIVABLE else row
                          for row in rows if row['id'] in touched]
            after = describe(after_rows, models_dir, archive_dir, moved=module.check_mode)
            result['diff'] = dict(before=before, after=after)
    except (IOError, OSError, sqlite3.Error) as exc:
        module.fail_json(msg='archiving models failed: %s; the files already moved are listed in files_moved, and the '
                             'next run completes the work (it finds the rows and files where this run left them)' % exc,
                         **result)
    finally:
        conn.close()
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
