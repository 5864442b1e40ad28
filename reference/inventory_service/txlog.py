"""Append-only transaction log (data/transaction_log.jsonl): one JSON line per committed write."""
import datetime
import fcntl
import json
import os
import threading

_LOCKS = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(path):
    # One lock per file for the whole process, so two app instances on one file still never interleave.
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(os.path.realpath(path), threading.RLock())


def last_seq(path) -> int:
    """Seq of the last complete line, read from the file's tail so it stays cheap on a large log."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            end = handle.tell()
            chunk, position = b"", end
            while position > 0:
                step = min(4096, position)
                position -= step
                handle.seek(position)
                chunk = handle.read(step) + chunk
                lines = [line for line in chunk.split(b"\n") if line.strip()]
                if len(lines) >= 2 or (lines and position == 0):
                    for line in reversed(lines):
                        try:
                            return int(json.loads(line)["seq"])
                        except (ValueError, KeyError, TypeError):
                            continue
                    if position == 0:
                        return 0
    except FileNotFoundError:
        return 0
    return 0


def utc_now():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000)


class TransactionLog:
    def __init__(self, path):
        self.path = str(path)
        self.lock = _lock_for(self.path)

    def append(self, op, user, data):
        """Write one line with the next seq; fsync'd before returning. Call it holding `self.lock`
        around the database commit too, so seq order is commit order."""
        with self.lock, open(self.path, "a+b") as handle:
            # flock guards against a second process (say a CLI tool) appending at the same time.
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                seq = last_seq(self.path) + 1
                handle.seek(0, os.SEEK_END)
                if handle.tell() > 0:
                    handle.seek(handle.tell() - 1)
                    if handle.read(1) != b"\n":
                        # A torn last line (crash mid-write) must not swallow this record.
                        handle.write(b"\n")
                line = json.dumps({"seq": seq, "ts": utc_now(), "op": op, "user": user, "data": data},
                                  separators=(",", ":"), sort_keys=False)
                handle.write(line.encode("utf-8") + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return seq
