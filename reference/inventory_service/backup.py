"""POST /api/backup/create: the service backs itself up, in the archive format of the Ansible `backup` module.

inventory_backup_<YYYY-MM-DDTHH-MM-SS>.tar.zst|gz (UTC) in BACKUP_DIR, one top folder of the same name with
database.db, transaction_log.jsonl, .env, config/, models/ and manifest.json last (format_version 1). The
collection's `restore` module validates and restores these archives; this file is deliberately small and
shares no code with the collection (the service must not import it). Being in-process, it takes the
transaction-log lock while it opens the database snapshot and fixes the log's end, so the archived database
and log describe exactly the same transactions.
"""
import datetime
import errno
import gzip
import hashlib
import io
import json
import logging
import os
import socket
import sqlite3
import tarfile
import threading
import time

from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel

from .logs import DailyFileHandler

try:
    import zstandard
except ImportError:  # not a dependency of the reference wheel: gzip then
    zstandard = None

CHUNK = 1024 * 1024
_RUNNING = threading.Lock()


class BackupRequest(BaseModel):
    database_only: bool = False
    compression: str = "zstd"


class _Hashing:
    def __init__(self, fileobj, limit):
        self.fileobj, self.remaining = fileobj, limit
        self.sha256, self.size, self.lines = hashlib.sha256(), 0, 0

    def read(self, size=-1):
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self.fileobj.read(size)
        self.remaining -= len(data)
        self.size += len(data)
        self.lines += data.count(b"\n")
        self.sha256.update(data)
        return data


def _info(name, size, mtime, directory=False):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.size, info.mtime, info.mode = 0 if directory else size, int(mtime), 0o700 if directory else 0o600
    return info


def _files(root):
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if os.path.isfile(full) and not os.path.islink(full):
                found.append((os.path.relpath(full, root).replace(os.sep, "/"), full))
    return found


def _fsync(path, directory=False):
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_backup(settings, txlog_lock, database_only=False, compression="zstd", dest=None):
    """Write one archive atomically; returns {name, path, size, archive_sha256, manifest}."""
    if compression == "zstd" and zstandard is None:
        compression = "gzip"
    dest = str(dest or settings.backup_dir)
    os.makedirs(dest, mode=0o700, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    while True:
        top = "inventory_backup_" + stamp.strftime("%Y-%m-%dT%H-%M-%S")
        name = top + (".tar.zst" if compression == "zstd" else ".tar.gz")
        final = os.path.join(dest, name)
        if not os.path.lexists(final):
            break
        stamp += datetime.timedelta(seconds=1)
    partial = os.path.join(dest, ".%s.partial-%d" % (name, os.getpid()))
    work = os.path.join(dest, ".%s.work-%d" % (top, os.getpid()))
    os.mkdir(work, 0o700)
    members = []
    try:
        snap_path = os.path.join(work, "database.db")
        src = sqlite3.connect(str(settings.database_path), timeout=30, isolation_level=None)
        dst = sqlite3.connect(snap_path, isolation_level=None)
        try:
            with txlog_lock:
                # The read transaction pins the WAL snapshot; the log's end is read under the same lock that
                # orders commit-then-log, so both describe the same set of transactions.
                src.execute("BEGIN")
                src.execute("SELECT count(*) FROM sqlite_master").fetchone()
                offset = 0
                if not database_only and os.path.exists(settings.transaction_log_path):
                    with open(settings.transaction_log_path, "rb") as handle:
                        data = handle.read()
                    offset = data.rfind(b"\n") + 1
            dst.execute("PRAGMA journal_mode=OFF")
            src.backup(dst, pages=-1)
            src.execute("COMMIT")
            tables = {}
            for (table,) in dst.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE "
                                        "'sqlite_%' ORDER BY name").fetchall():
                tables[table] = dst.execute('SELECT count(*) FROM "%s"' % table.replace('"', '""')).fetchone()[0]
            page_size = dst.execute("PRAGMA page_size").fetchone()[0]
            page_count = dst.execute("PRAGMA page_count").fetchone()[0]
        finally:
            dst.close()
            src.close()
        _fsync(snap_path)
        last_seq = None
        if offset:
            for line in reversed(data[:offset].split(b"\n")):
                if line.strip():
                    last_seq = json.loads(line)["seq"]
                    break

        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw:
            archive_hash = hashlib.sha256()

            class _Out:
                def write(self, chunk):
                    archive_hash.update(chunk)
                    return raw.write(chunk)

                def flush(self):
                    raw.flush()

            if compression == "zstd":
                compressor = zstandard.ZstdCompressor(level=3, threads=-1, write_checksum=True).stream_writer(
                    _Out(), closefd=False)
            else:
                compressor = gzip.GzipFile(fileobj=_Out(), mode="wb", compresslevel=6, mtime=0)
            tar = tarfile.open(fileobj=compressor, mode="w|", bufsize=CHUNK, format=tarfile.PAX_FORMAT)
            now = stamp.timestamp()

            def add(rel, fileobj, size, mtime=now):
                reader = _Hashing(fileobj, size)
                tar.addfile(_info("%s/%s" % (top, rel), size, mtime), reader)
                members.append({"path": rel, "size": reader.size, "sha256": reader.sha256.hexdigest()})
                return reader

            tar.addfile(_info(top, 0, now, directory=True))
            with open(snap_path, "rb") as handle:
                add("database.db", handle, os.path.getsize(snap_path))
            lines = 0
            if not database_only:
                lines = add("transaction_log.jsonl", io.BytesIO(data[:offset] if offset else b""), offset).lines
                env_file = settings.home / ".env"
                if env_file.is_file():
                    content = env_file.read_bytes()
                    add(".env", io.BytesIO(content), len(content), env_file.stat().st_mtime)
                for tree, root in (("config", settings.config_dir), ("models", settings.models_dir)):
                    tar.addfile(_info("%s/%s" % (top, tree), 0, now, directory=True))
                    for rel, full in _files(str(root)):
                        with open(full, "rb") as handle:
                            content = handle.read()
                        add("%s/%s" % (tree, rel), io.BytesIO(content), len(content), os.path.getmtime(full))
            manifest = {
                "format": "inventory-enterprise-backup", "format_version": 1, "name": top,
                "created_at": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), "created_by": "inventory-service api",
                "host": socket.gethostname(), "service_version": settings.service_version,
                "compression": compression, "database_only": database_only,
                "database": {"path": "database.db", "source": str(settings.database_path), "page_size": page_size,
                             "page_count": page_count, "tables": tables},
                "transaction_log": None if database_only else {
                    "path": "transaction_log.jsonl", "source": str(settings.transaction_log_path),
                    "offset": offset, "lines": lines, "last_seq": last_seq},
                "members": members,
            }
            content = json.dumps(manifest, indent=2, sort_keys=True).encode()
            tar.addfile(_info("%s/manifest.json" % top, len(content), now), io.BytesIO(content))
            tar.close()
            compressor.close()
            raw.flush()
            os.fsync(raw.fileno())
        # A hard link never replaces a file: a backup the collection's module finished under the same name
        # meanwhile stays, and this one fails (HTTP 500) instead of silently taking its place.
        try:
            os.link(partial, final)
        except FileExistsError:
            raise FileExistsError(errno.EEXIST, "another backup wrote the same archive name meanwhile; it was left "
                                  "untouched and this one discarded: run the backup again", final) from None
        os.unlink(partial)
        _fsync(dest, directory=True)
    finally:
        for path in (partial, os.path.join(work, "database.db")):
            if os.path.exists(path):
                os.unlink(path)
        if os.path.isdir(work):
            os.rmdir(work)
    return {"name": name, "path": final, "size": os.path.getsize(final), "archive_sha256": archive_hash.hexdigest(),
            "manifest": manifest}


def backup_logger(log_dir):
    """logs/backup-YYYY-MM-DD.log, as the guide's end-of-day check reads it."""
    logger = logging.Logger("inventory_service.backup", logging.INFO)
    logger.addHandler(DailyFileHandler(log_dir, "backup"))
    return logger


def register(app, service, current_user):
    """Add POST /api/backup/create (JWT required) to the app."""
    log = backup_logger(service.settings.log_dir)

    @app.post("/api/backup/create", status_code=201)
    def create(request: Request, body: BackupRequest = None, user: str = Depends(current_user)):
        body = body or BackupRequest()
        if body.compression not in ("zstd", "gzip"):
            raise HTTPException(422, "compression must be zstd or gzip")
        if not _RUNNING.acquire(blocking=False):
            raise HTTPException(409, "a backup is already running")
        started = time.monotonic()
        try:
            result = create_backup(service.settings, service.txlog.lock, database_only=body.database_only,
                                   compression=body.compression)
        except (OSError, sqlite3.Error) as exc:
            log.error("backup failed: %s", exc)
            service.logs.application.error("backup failed user_id: %s error: %s", user, exc)
            raise HTTPException(500, "backup failed: %s" % exc) from None
        finally:
            _RUNNING.release()
        elapsed = time.monotonic() - started
        log.info("backup completed name=%s size=%d sha256=%s user=%s duration=%.3fs", result["name"],
                 result["size"], result["archive_sha256"], user, elapsed)
        service.logs.application.info("backup completed name=%s size=%d user_id: %s", result["name"], result["size"],
                                      user)
        return result

    return create
