"""A realistic past for a deployed service: months of nightly backups and daily log files, back-dated.

    from tests.support.history import seed_backup_history
    seeded = seed_backup_history("/opt/inventory-enterprise", months=4)

Every archive is a real one, written by the collection's own code (_archive.create_backup) from a copy of the live
database, so restore, verification and the reviews read it like any other: its name, its manifest's created_at, its
file time, its verification record (backups/.verified/) and its line in backups' backup-<date>.log all carry the
past date. The history ends at the live database: the copy loses rows as the dates go back (the newest rows of each
table first, by rowid, then VACUUM so the file shrinks too), from all of them yesterday to `start_fraction` of them
at the oldest date, and the transaction log likewise. A database with little data makes a flat history: load
some first (`inventory-service seed --env-file <home>/.env`).

Daily log files (application-, security-, audit-YYYY-MM-DD.log, in the service's line format) are written for every
past day of the period that has none, growing from about half the volume at the start to the full volume at the end,
with fewer lines at weekends. Files that exist are never touched, today's included.

latency_history() writes a quarter of the service's latency histogram as OpenMetrics text for
prometheus.backfill (promtool), so a Prometheus started on it has the p95 trend the reviews read.

Nothing live changes but the backups and logs directories (and, when the database has none yet, the
.deployment-id a backup run writes next to it). Needs zstandard, like the backup module.
"""
import datetime
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile

from .prometheus import HTTP_BUCKETS

try:
    from ansible_collections.inventory_enterprise.ops.plugins.module_utils import (
        _archive, _backup_records, _service_layout, _sqlite)
except ImportError:  # the system tests import tests.support from the checkout, without build/collections
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                    "build", "collections"))
    from ansible_collections.inventory_enterprise.ops.plugins.module_utils import (  # noqa: E402
        _archive, _backup_records, _service_layout, _sqlite)

DAYS_PER_MONTH = 30.44
BACKUP_HOUR = 2  # the guide's nightly backup, 2 AM
CREATED_BY = "tests/support/history.py seed_backup_history"
# Lines per day at the end of the period for each log class; the start has half as many.
LOG_LINES = dict(application=400, security=60, audit=40)
ROUTES = ("/api/inventory/list", "/api/dashboard/stats", "/api/ai/models/list", "/api/inventory/count",
          "/api/items/search", "/health")
USERS = ("admin", "counter1", "counter2", "manager")


def _stamps(now, months, every_days):
    """Backup times from the oldest to yesterday's, at 02:00:00 UTC every `every_days` days."""
    last = datetime.datetime.combine(now.date(), datetime.time(BACKUP_HOUR), datetime.timezone.utc)
    if last >= now:
        last -= datetime.timedelta(days=1)
    count = max(1, int(months * DAYS_PER_MONTH / every_days))
    return [last - datetime.timedelta(days=every_days * index) for index in reversed(range(count))]


def _keep_fraction(db_path, fraction):
    """Delete the newest rows of every table but `fraction` of its rowid range, then VACUUM."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        for table in _sqlite.user_tables(conn):
            quoted = '"%s"' % table.replace('"', '""')
            try:
                highest = conn.execute("SELECT max(rowid) FROM %s" % quoted).fetchone()[0]
            except sqlite3.OperationalError:  # a WITHOUT ROWID table: kept whole
                continue
            if highest:
                conn.execute("DELETE FROM %s WHERE rowid > ?" % quoted, (int(highest * fraction),))
        conn.execute("VACUUM")
    finally:
        conn.close()


def _truncate_lines(path, lines, count):
    with open(path, "wb") as handle:
        handle.writelines(lines[:count])


def _backup_log(log_dir, stamp, created, report, duration):
    """The line the backup module appends to backup-<date>.log after a run, at the run's past time."""
    done = stamp + datetime.timedelta(seconds=duration)
    manifest = created["manifest"]
    line = ("%s.000Z INFO backup completed name=%s size=%d sha256=%s tables=%d log_lines=%s verified=%s pruned=0 "
            "duration=%ss\n" % (done.strftime("%Y-%m-%dT%H:%M:%S"), created["name"], created["size"],
                                created["archive_sha256"], len(manifest["database"]["tables"]),
                                (manifest.get("transaction_log") or {}).get("lines", 0),
                                "true" if report else "false", duration))
    # Named after the host's local date, as _backup_records.log_line names it.
    path = os.path.join(log_dir, "backup-%s.log" % datetime.date.fromtimestamp(done.timestamp()).isoformat())
    with open(path, "a") as handle:
        handle.write(line)
    return path


def _back_date_record(archive, stamp, duration):
    """The verification record as the nightly run wrote it, a moment after the archive."""
    path = _backup_records.marker_path(archive)
    with open(path) as handle:
        record = json.load(handle)
    record["verified_at"] = _backup_records.iso(stamp + datetime.timedelta(seconds=duration))
    with open(path, "w") as handle:
        json.dump(record, handle)


def _write_backups(paths, stamps, start_fraction, verify, compression, work):
    """The archives, newest first (the copy only ever loses rows); returns [(stamp, created)] oldest first."""
    dest = paths["backup_dir"]
    os.makedirs(dest, exist_ok=True)
    os.makedirs(paths["log_dir"], exist_ok=True)
    history = dict(paths, database_path=os.path.join(work, "enterprise_inventory.db"),
                   transaction_log_path=os.path.join(work, "transaction_log.jsonl"))
    _sqlite.snapshot(paths["database_path"], history["database_path"])
    shutil.copyfile(_service_layout.deployment_id_path(paths["database_path"]),
                    _service_layout.deployment_id_path(history["database_path"]))
    lines = []
    if os.path.isfile(paths["transaction_log_path"]):
        with open(paths["transaction_log_path"], "rb") as handle:
            lines = [line for line in handle if line.endswith(b"\n")]
    version = _service_layout.service_version(paths["service_home"])
    made, count = [], len(stamps)
    for index, stamp in enumerate(reversed(stamps)):
        # Yesterday's backup holds (nearly) all of today's rows, the oldest start_fraction of them.
        fraction = 1.0 - (1.0 - start_fraction) * index / max(count - 1, 1)
        _keep_fraction(history["database_path"], fraction)
        _truncate_lines(history["transaction_log_path"], lines, int(len(lines) * fraction))
        created = _archive.create_backup(history, dest, compression=compression, version=version,
                                         created_by=CREATED_BY, now=stamp)
        duration = round(1.5 + 4.0 * fraction, 1)
        moment = (stamp + datetime.timedelta(seconds=duration)).timestamp()
        os.utime(created["path"], (moment, moment))
        report = None
        if verify:
            report = _archive.verify_archive(created["path"], work)
            _backup_records.write_marker(created["path"], report)
            _back_date_record(created["path"], stamp, duration + 2)
        created["log_file"] = _backup_log(paths["log_dir"], stamp, created, report, duration)
        made.append((stamp, created))
    return list(reversed(made))


def _log_line(rng, moment, cls):
    stamp = "%s.%03dZ" % (moment.strftime("%Y-%m-%dT%H:%M:%S"), rng.randrange(1000))
    if cls == "application":
        status = rng.choice((200,) * 40 + (201, 304, 404, 500))
        level = "ERROR" if status == 500 else "INFO"
        duration = int(rng.lognormvariate(3.0, 0.6))
        return "%s %s GET %s %d duration=%dms\n" % (stamp, level, rng.choice(ROUTES), status, duration)
    if cls == "security":
        if rng.random() < 0.05:
            return "%s WARN login failed username=%s ip=10.0.0.%d\n" % (stamp, rng.choice(USERS), rng.randrange(2, 250))
        return "%s INFO login ok user=%s ip=10.0.0.%d\n" % (stamp, rng.choice(USERS), rng.randrange(2, 250))
    action = rng.choice(("item.update", "count.create", "item.create"))
    return "%s INFO %s user=%s item=ITEM-%05d\n" % (stamp, action, rng.choice(USERS), rng.randrange(1, 5000))


def _write_logs(log_dir, first, today, seed):
    """Daily files for every day from `first` to yesterday that has none; returns their paths."""
    rng = random.Random(seed)
    written, span = [], max((today - first).days, 1)
    day = first
    while day < today:
        growth = 0.5 + 0.5 * (day - first).days / span
        weekend = 0.6 if day.weekday() >= 5 else 1.0
        for cls, full in sorted(LOG_LINES.items()):
            path = os.path.join(log_dir, "%s-%s.log" % (cls, day.isoformat()))
            if os.path.exists(path):
                continue
            midnight = datetime.datetime.combine(day, datetime.time(0), datetime.timezone.utc)
            count = max(1, int(full * growth * weekend * rng.uniform(0.9, 1.1)))
            moments = sorted(midnight + datetime.timedelta(seconds=rng.randrange(86400)) for dummy in range(count))
            with open(path, "w") as handle:
                handle.writelines(_log_line(rng, moment, cls) for moment in moments)
            # As the service writes them (umask 0027).
            os.chmod(path, 0o640)
            written.append(path)
        day += datetime.timedelta(days=1)
    return written


def latency_history(series, days=92, now=None, per_sample=100, every_hours=6, bounds=HTTP_BUCKETS):
    """OpenMetrics text (for prometheus.backfill) of the service's http_request_duration_seconds histogram over
    the past `days` days: `series` maps label matchers as written inside braces (``job="app1"``) to (first ms,
    last ms), the latency of every request, moving linearly from the first day to the last. Every `every_hours`
    hours each series counts `per_sample` more requests, so the daily rate is steady and only the latency moves."""
    now = now or _backup_records.utc_now()
    end = int(now.timestamp())
    start = end - days * 86400
    lines = ["# HELP http_request_duration_seconds HTTP request duration",
             "# TYPE http_request_duration_seconds histogram"]
    for labels, (first_ms, last_ms) in sorted(series.items()):
        counts, total, moment = [0] * (len(bounds) + 1), 0.0, start
        while moment <= end:
            seconds = (first_ms + (last_ms - first_ms) * (moment - start) / float(end - start)) / 1000.0
            for index in range(len(counts)):
                if index == len(bounds) or seconds <= bounds[index]:
                    counts[index] += per_sample
            total += seconds * per_sample
            les = ["%g" % bound for bound in bounds] + ["+Inf"]
            lines.extend('http_request_duration_seconds_bucket{%s,le="%s"} %d %d' % (labels, le, count, moment)
                         for le, count in zip(les, counts))
            lines.append("http_request_duration_seconds_count{%s} %d %d" % (labels, counts[-1], moment))
            lines.append("http_request_duration_seconds_sum{%s} %f %d" % (labels, total, moment))
            moment += every_hours * 3600
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def seed_backup_history(service_home, months=4, every_days=1, now=None, start_fraction=0.5, logs=True,
                        verify=True, compression="zstd", seed=16):
    """Back-dated backups (and daily log files) of the service in `service_home` over the past `months` months.

    One archive every `every_days` days at 02:00 UTC up to yesterday's, from `start_fraction` of today's rows at the
    oldest to all of them; `verify` verifies each and writes its record, as the nightly run does (False leaves
    them unverified, for readers that must open the archives themselves). `now` (an aware datetime, default the
    current time) fixes where the history ends. With `logs`, daily log files for the same period.

    Returns dict(archives=[dict(path, name, size, created_at, manifest, archive_sha256, log_file)] oldest first,
    log_files=[paths written]). Raises whatever the backup code raises (BackupError).
    """
    if not 0 < start_fraction <= 1:
        raise ValueError("start_fraction must be in (0, 1], got %r" % start_fraction)
    now = now or _backup_records.utc_now()
    paths = _service_layout.service_paths(service_home)
    _service_layout.ensure_deployment_id(paths["database_path"])
    stamps = _stamps(now, months, every_days)
    work = tempfile.mkdtemp(prefix=".history-", dir=paths["service_home"])
    try:
        made = _write_backups(paths, stamps, start_fraction, verify, compression, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log_files = []
    if logs:
        today = datetime.datetime.fromtimestamp(now.timestamp()).date()
        log_files = _write_logs(paths["log_dir"], stamps[0].date(), today, seed)
    archives = [dict(path=created["path"], name=created["name"], size=created["size"],
                     created_at=created["manifest"]["created_at"], manifest=created["manifest"],
                     archive_sha256=created["archive_sha256"], log_file=created["log_file"])
                for dummy, created in made]
    return dict(archives=archives, log_files=log_files)
