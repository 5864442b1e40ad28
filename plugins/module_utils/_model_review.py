# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Reading the model registry (ai_models) for the review and archive modules: the rows with their accuracy
metrics, the guide's /api/ai/models/list document, the intermittent-demand rule, and where a model's file lives.

Standard library only, so the reference service can serve the very same models list document."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import math
import os
import sqlite3
from urllib.parse import quote

TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'
# Syntetos-Boylan: demand is intermittent when the average interval between non-zero days exceeds 1.32 days
# (under about 76% of the days with demand); MAPE, computed over the holdout's non-zero days only, then rests on
# a few days and says little.
INTERMITTENT_ADI = 1.32
METRIC_KEYS = ('mape', 'wape', 'mase', 'bias')


class RegistryError(Exception):
    """The database or the registry cannot be read (or written) as the contract describes."""


def connect(path, readonly=True, busy_timeout=30.0):
    """A connection to the service's database; read-only (mode=ro, the live WAL is still seen) unless asked."""
    if not os.path.isfile(path):
        raise RegistryError('database %s does not exist: check database_path (or the service\'s .env DATABASE_PATH)' % path)
    uri = 'file:%s?mode=%s' % (quote(os.path.abspath(path)), 'ro' if readonly else 'rw')
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None)
        conn.execute('SELECT 1 FROM ai_models LIMIT 1').fetchall()
    except sqlite3.Error as exc:
        raise RegistryError('cannot read the model registry (table ai_models) of %s: %s; is this the service\'s '
                            'database, and readable by this user?' % (path, exc))
    return conn


def parse_time(text):
    """datetime (UTC, naive) of a trained_at value, or None when it is not YYYY-MM-DDTHH:MM:SSZ."""
    try:
        return datetime.datetime.strptime(text or '', TIME_FORMAT)
    except ValueError:
        return None


def _metrics(text):
    """The parsed accuracy_metrics, or None when it is missing or not a JSON object (as the service lists it)."""
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def load_rows(conn):
    """Every registry row in the service's list order (item, newest first): `accuracy_metrics` as the service
    lists it (None when unreadable), `metrics` the same as a dict ({} then) for the computations."""
    rows = conn.execute('SELECT id, entity_id, model_type, status, accuracy_metrics, trained_at FROM ai_models '
                        'ORDER BY entity_id, trained_at DESC, id DESC').fetchall()
    found = []
    for row in rows:
        parsed = _metrics(row[4])
        found.append(dict(id=row[0], entity_id=row[1], model_type=row[2], status=row[3], accuracy_metrics=parsed,
                          metrics=parsed or {}, trained_at=row[5]))
    return found


def models_document(rows):
    """The guide's `GET /api/ai/models/list` body, as the reference service answers it: {"models": [...], "total"}."""
    models = [dict(id=row['id'], entity_id=row['entity_id'], model_type=row['model_type'], status=row['status'],
                   trained_at=row['trained_at'], accuracy_metrics=row['accuracy_metrics']) for row in rows]
    return dict(models=models, total=len(models))


def dumps(document):
    """Stable text of a JSON document: the same registry always gives the same bytes."""
    return json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + '\n'


def number(value):
    """A finite float, or None (null, missing, NaN and text all read as no value)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def intermittent(metrics, adi=INTERMITTENT_ADI):
    """Whether the item's demand is intermittent where its MAPE was measured: the holdout's days per day with
    demand (holdout_days / nonzero_days, the days MAPE is computed over) above `adi`; a holdout without demand
    is intermittent. None when the metrics do not say."""
    days, nonzero = number(metrics.get('holdout_days')), number(metrics.get('nonzero_days'))
    if not days:
        return None
    if not nonzero:
        return True
    return days / nonzero > adi


def safe_entity(entity_id):
    """Whether an entity id can name a directory below the models directory (no traversal, no separator)."""
    return bool(entity_id) and entity_id not in ('.', '..') and '/' not in entity_id and '\\' not in entity_id \
        and '\0' not in entity_id


def model_file(base_dir, entity_id, model_id):
    """<base_dir>/<entity_id>/<id>.json: a model's file in the models directory or the archive directory."""
    return os.path.join(base_dir, entity_id, '%d.json' % model_id)


def default_archive_dir(models_dir):
    return os.path.normpath(os.path.join(models_dir, '..', 'archive'))


def previous_month(month):
    year, mon = (int(part) for part in month.split('-'))
    return '%04d-%02d' % ((year, mon - 1) if mon > 1 else (year - 1, 12))


def write_if_changed(path, text, mode=0o644):
    """Write `text` to `path` atomically (partial file, fsync, rename, directory fsync) unless it already holds
    exactly that text. Returns whether the file changed."""
    data = text.encode('utf-8')
    try:
        with open(path, 'rb') as handle:
            if handle.read() == data:
                return False
    except (IOError, OSError):
        pass
    directory = os.path.dirname(path) or '.'
    tmp = os.path.join(directory, '.%s.partial-%d' % (os.path.basename(path), os.getpid()))
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, 'O_NOFOLLOW', 0), mode)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return True
