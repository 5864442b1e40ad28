"""Monthly archival of 2 GiB of realistic daily log files: log_archive (run as a module process with its argument
file: zstd, in parallel across the cores, each archive decompressed and hashed before its original goes) against
the guide's `find logs/ -name "*.log" -mtime +90 -exec gzip {} \\;` plus `mv logs/*.log.gz /mnt/archive/...`,
in the same run, interleaved. Every run starts from a fresh copy of the same files (the copy is not timed).
After each run, both outputs are checked here: every archive decompresses to its original's SHA-256. Reported:
the ratio of median wall times (target at least 1.8x) and the archive bytes of each (target: zstd no larger).

    .venv/bin/python bench/log_archive.py       # LOG_BENCH_REPEATS=2, LOG_BENCH_BYTES=2 GiB; files in a temp dir
"""
import datetime
import gzip
import hashlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import zstandard

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import RESULTS, ROOT, print_report  # noqa: E402

MODULE = "ansible_collections.inventory_enterprise.ops.plugins.modules.log_archive"
TOTAL = int(os.environ.get("LOG_BENCH_BYTES", str(2 << 30)))
REPEATS = int(os.environ.get("LOG_BENCH_REPEATS", "2"))
# Share of the bytes per class, and the ages (days) the files have: every one is past its class's hot retention
# and the guide's 90 days, inside its cold retention, so both ways archive the same files.
CLASSES = {"application": (0.7, range(100, 340, 2)), "security": (0.15, range(100, 700, 10)),
           "audit": (0.15, range(370, 2500, 36))}
PATHS = ["/api/inventory/list", "/api/inventory/item/%s", "/api/inventory/adjust", "/api/dashboard/stats",
         "/api/ai/models/list", "/api/ai/forecast/%s", "/api/orders/%d", "/api/backup/create", "/health", "/metrics"]


def body_pool(rng, size=60000):
    """Distinct line bodies (level, request, status, duration, user) in the service's format."""
    pool = []
    for _ in range(size):
        path = rng.choice(PATHS)
        if "%s" in path:
            path = path % ("ITEM-%05d" % rng.randrange(20000))
        elif "%d" in path:
            path = path % rng.randrange(10 ** 6)
        level = rng.choices(["INFO", "WARN", "ERROR", "DEBUG"], [80, 10, 3, 7])[0]
        status = 200 if level in ("INFO", "DEBUG") else rng.choice([400, 404, 409, 500, 503])
        duration = int(rng.lognormvariate(3.5, 1.2))
        line = "%s %s %s %d duration=%dms user_id: %d" % (level, rng.choice(["GET", "POST", "PUT"]), path, status,
                                                         duration, rng.randrange(5000))
        if level == "ERROR":
            line += " error=%s" % rng.choice(["SQLITE_BUSY: database is locked", "model not loaded",
                                               "ECONNREFUSED 127.0.0.1:6379", "backup failed: disk full"])
        pool.append(line)
    return pool


def generate(log_dir, rng, variants=6):
    """Daily files of the three classes, TOTAL bytes in all; modification times set to the log's date (the
    guide's -mtime works on them). Each class has a few distinct days of lines that its files take in turn with
    their own date (each file is compressed alone, so the repetition across files helps neither way).
    Returns {name: sha256}."""
    os.makedirs(log_dir)
    pool, today, digests = body_pool(rng), datetime.date.today(), {}
    for cls, (share, ages) in CLASSES.items():
        lines = int(TOTAL * share / len(ages)) // 87
        days = []
        for _ in range(variants):
            stamps = ("DATE-PLACET%02d:%02d:%02d.%03dZ " % (s // 3600, s // 60 % 60, s % 60, rng.randrange(1000))
                      for s in (i * 86400 // lines for i in range(lines)))
            days.append(("\n".join(stamp + body for stamp, body in zip(stamps, rng.choices(pool, k=lines))) + "\n").encode())
        for number, age in enumerate(ages):
            day = today - datetime.timedelta(days=age)
            data = days[number % variants].replace(b"DATE-PLACE", day.isoformat().encode())
            name = "%s-%s.log" % (cls, day.isoformat())
            with open(os.path.join(log_dir, name), "wb") as handle:
                handle.write(data)
            stamp = time.mktime(day.timetuple()) + 43200
            os.utime(os.path.join(log_dir, name), (stamp, stamp))
            digests[name] = hashlib.sha256(data).hexdigest()
    return digests


def run_ours(work):
    args = os.path.join(work, "args.json")
    with open(args, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": {"log_dir": os.path.join(work, "logs"), "archive_dir": os.path.join(work, "archive")}}, handle)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "build", "collections"))
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", MODULE, args], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    result = json.loads(proc.stdout)
    if proc.returncode or result.get("failed"):
        raise RuntimeError("log_archive failed: %s" % result.get("msg"))
    return elapsed, len(result["verified"])


def run_guide(work):
    script = ('cd %s && find logs/ -name "*.log" -mtime +90 -exec gzip {} \\; && mkdir -p archive/logs/$(date +%%Y-%%m) '
              '&& mv logs/*.log.gz archive/logs/$(date +%%Y-%%m)/' % work)
    started = time.perf_counter()
    subprocess.run(["bash", "-c", script], check=True)
    return time.perf_counter() - started, None


def check_archives(work, digests, suffix):
    """Every original decompressed from its archive, SHA-256 compared; the archives' total bytes."""
    found, size = {}, 0
    for base, _dirs, files in os.walk(os.path.join(work, "archive")):
        for name in files:
            if not name.endswith(suffix):
                continue
            path = os.path.join(base, name)
            size += os.path.getsize(path)
            digest = hashlib.sha256()
            opener = gzip.open(path, "rb") if suffix == ".gz" else zstandard.ZstdDecompressor().stream_reader(open(path, "rb"))
            with opener as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            found[name[:-len(suffix)]] = digest.hexdigest()
    if found != digests:
        raise RuntimeError("%s archives do not hold the originals: %d of %d match" % (
            suffix, sum(1 for name, value in digests.items() if found.get(name) == value), len(digests)))
    if os.listdir(os.path.join(work, "logs")):
        raise RuntimeError("files left in the log directory: %s" % os.listdir(os.path.join(work, "logs"))[:5])
    return size


def main():
    base = tempfile.mkdtemp(prefix="log-archive-bench-")
    try:
        started = time.monotonic()
        digests = generate(os.path.join(base, "template"), random.Random(14))
        total = sum(os.path.getsize(os.path.join(base, "template", name)) for name in digests)
        print("generated %d files, %.2f GiB, in %.0fs" % (len(digests), total / 2.0 ** 30, time.monotonic() - started))
        variants = {"log_archive (zstd, verified)": (run_ours, ".zst"), "guide find|gzip + mv": (run_guide, ".gz")}
        times, sizes = dict((label, []) for label in variants), {}
        cpu = dict((label, []) for label in variants)
        for _ in range(REPEATS):
            for label, (run, suffix) in variants.items():
                work = os.path.join(base, "work")
                shutil.copytree(os.path.join(base, "template"), os.path.join(work, "logs"))
                subprocess.run(["sync"], check=True)
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                elapsed, _verified = run(work)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                times[label].append(elapsed)
                cpu[label].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
                sizes[label] = check_archives(work, digests, suffix)
                shutil.rmtree(work)
        report_results(times, sizes, total, cpu)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def report_results(times, sizes, total, cpu):
    ours, guide = list(times)
    summary = dict((label, {"min": min(runs), "median": statistics.median(runs), "runs": runs}) for label, runs in times.items())
    report = {"benchmark": "log archival of %.1f GiB of daily logs" % (total / 2.0 ** 30), "repeats": REPEATS,
              "results": summary, "ours": ours, "baseline": guide,
              "ratio": summary[guide]["median"] / summary[ours]["median"],
              "ratios": {ours: summary[guide]["median"] / summary[ours]["median"]},
              "archive_bytes": sizes, "cpu_seconds": cpu, "load_average": os.getloadavg()[0], "original_bytes": total,
              "cores": os.cpu_count(),
              "notes": "every archive of both checked: decompressed, SHA-256 equal to the original",
              "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    print_report(report)
    print("  archive bytes: %s %d (%.1f%%), %s %d (%.1f%%); zstd/gzip %.3f" % (
        ours, sizes[ours], 100.0 * sizes[ours] / total, guide, sizes[guide], 100.0 * sizes[guide] / total,
        float(sizes[ours]) / sizes[guide]))
    print("  CPU seconds (user+sys, median): %s %.1f, %s %.1f; load average %.1f" % (
        ours, statistics.median(cpu[ours]), guide, statistics.median(cpu[guide]), os.getloadavg()[0]))
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "a") as handle:
        handle.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
