"""Review of the errors in 2 GiB of the service's application logs, plain and compressed: log_search (query=errors,
window=all, run as a module process with its argument file) against `grep -c ERROR` on the plain files, `zgrep -c`
on the .gz archives and `zstdgrep -c` on the .zst ones, in the same run, on the same files. Also the peak memory
of each: the largest process's (max RSS from getrusage of the children) and all its processes' together (their
resident memory summed, sampled every 20 ms; log_search reads files in several processes).

    .venv/bin/python bench/log_review.py        # generates ~2 GiB in a temp dir, compares, deletes the data

The data: 14 days of application-YYYY-MM-DD.log (about 1% ERROR, 4% WARNING, a few traceback lines that do not
parse): 7 days plain in logs/, 4 archived as .zst and 3 as .gz under archive/logs/YYYY-MM/, the archival's layout.
"""
import datetime
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import ROOT, compare  # noqa: E402

MODULE = os.path.join(ROOT, "plugins", "modules", "log_search.py")
TARGET_BYTES = int(os.environ.get("BENCH_LOG_BYTES", 2 << 30))
DAYS = 14
PLAIN_DAYS, ZSTD_DAYS = 7, 4  # the rest gzip
FIRST_DAY = datetime.date(2026, 11, 1)
ROUTES = ["/api/inventory/list", "/api/inventory/items?limit=50", "/api/dashboard/stats", "/api/cache/stats",
          "/api/invoices", "/api/inventory/counts", "/api/ai/models/list", "/health", "/metrics"]
ERRORS = ["GET %s 500 duration=%dms", "unhandled exception GET %s: OperationalError: database is locked",
          "backup failed user_id: admin error: [Errno 28] No space left on device",
          "dual-write to PostgreSQL failed table=processed_invoices seq=%d: connection refused"]


def _message(rng, level):
    route = rng.choice(ROUTES)
    if level == "ERROR":
        template = rng.choice(ERRORS)
        return template % ((route, rng.randint(1, 3000)) if template.count("%") == 2 else
                           (route,) if "%s" in template else (rng.randint(1, 10 ** 6),) if "%d" in template else ())
    if level == "WARNING":
        return "cache unavailable, serving from database: Error 111 connecting to 127.0.0.1:6379. Connection refused."
    return "GET %s 200 duration=%dms user_id: u%d" % (route, rng.randint(1, 900), rng.randint(1, 500))


def day_text(day, size):
    """One day of lines, in time order, about `size` bytes: one hour generated, the other 23 its copies with
    their hour (the generation would otherwise take minutes)."""
    rng = random.Random(day.toordinal())
    lines, total, second = [], 0, 0.0
    step = 3600.0 / (size / 24.0 / 87.0)
    while total < size / 24.0 and second < 3599.999:
        level = "ERROR" if rng.random() < 0.01 else "WARNING" if rng.random() < 0.04 else "INFO"
        moment = datetime.datetime.combine(day, datetime.time()) + datetime.timedelta(seconds=second)
        line = "%s.%03dZ %s %s\n" % (moment.strftime("%Y-%m-%dT%H:%M:%S"), moment.microsecond // 1000, level,
                                     _message(rng, level))
        if rng.random() < 0.0001:
            line += 'Traceback (most recent call last):\n  File "app.py", line 1, in <module>\n'
        lines.append(line)
        total += len(line)
        second += step
    hour = "".join(lines).encode()
    prefix = ("%sT00:" % day.isoformat()).encode()
    return b"".join(hour.replace(prefix, ("%sT%02d:" % (day.isoformat(), h)).encode()) for h in range(24))


def generate(workdir):
    """DAYS files: one day generated, the others copies with their date, compressed as the archive keeps them."""
    started = time.monotonic()
    template = day_text(FIRST_DAY, TARGET_BYTES // DAYS)
    jobs = []
    for index in range(DAYS):
        day = FIRST_DAY + datetime.timedelta(days=index)
        data = template.replace(FIRST_DAY.isoformat().encode(), day.isoformat().encode())
        name = "application-%s.log" % day.isoformat()
        if index >= DAYS - PLAIN_DAYS:
            path = os.path.join(workdir, "logs", name)
        else:
            path = os.path.join(workdir, "archive", "logs", day.strftime("%Y-%m"), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        if index < DAYS - PLAIN_DAYS:
            command = ["zstd", "-q", "--rm", "-3", path] if index < ZSTD_DAYS else ["gzip", "-6", path]
            jobs.append(subprocess.Popen(command))
            if len(jobs) >= 2:
                assert jobs.pop(0).wait() == 0
    for job in jobs:
        assert job.wait() == 0
    plain = sum(len(template) for _ in range(DAYS))
    print("generated %d days, %.2f GiB of lines (%d plain days), in %.0fs" % (
        DAYS, plain / 2.0 ** 30, PLAIN_DAYS, time.monotonic() - started))
    return template.count(b" ERROR ") * DAYS


def _files(workdir, suffix):
    found = []
    for top, _dirs, names in os.walk(workdir):
        found.extend(os.path.join(top, name) for name in names if name.endswith(suffix))
    return sorted(found)


def _tree_rss_kib(pid):
    """Resident memory of a process and all its descendants, summed (pages shared after a fork counted in each)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open("/proc/%d/status" % current) as handle:
                total += next((int(line.split()[1]) for line in handle if line.startswith("VmRSS:")), 0)
            with open("/proc/%d/task/%d/children" % (current, current)) as handle:
                pending.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError):
            continue
    return total


def _run_sampled(cmd, **kwargs):
    """subprocess.run, with the peak of the summed resident memory of the command's process tree, sampled every
    20 ms (the largest single process comes from getrusage)."""
    peak = [0]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    done = threading.Event()

    def sample():
        while not done.wait(0.02):
            peak[0] = max(peak[0], _tree_rss_kib(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError("%s failed (rc=%d): %s" % (cmd, proc.returncode, stderr[-2000:]))
    return stdout, peak[0]


def run(variant, workdir):
    if variant == "ours":
        args = os.path.join(workdir, "args.json")
        with open(args, "w") as handle:
            json.dump({"ANSIBLE_MODULE_ARGS": {"query": "errors", "window": "all", "log_dir": workdir + "/logs",
                                               "archive_dir": workdir + "/archive"}}, handle)
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "build", "collections"))
        stdout, total = _run_sampled([sys.executable, MODULE, args], env=env)
        found = json.loads(stdout)["matched"]
    else:
        script = ("grep -c ERROR %s; zgrep -c ERROR %s; zstdgrep -c ERROR %s" % tuple(
            " ".join(_files(workdir, suffix)) for suffix in (".log", ".log.gz", ".log.zst")))
        stdout, total = _run_sampled(["sh", "-c", script])
        found = sum(int(line.rsplit(":", 1)[-1]) for line in stdout.split())
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(os.path.join(workdir, "%s.json" % variant), "w") as handle:
        json.dump({"found": found, "max_rss_kib": peak, "tree_rss_kib": total}, handle)


def main(repeats=int(os.environ.get("BENCH_REPEATS", 3))):
    workdir = tempfile.mkdtemp(prefix="log_review.", dir=os.environ.get("BENCH_TMPDIR"))
    python, me = sys.executable, os.path.abspath(__file__)
    try:
        errors = generate(workdir)
        report = compare(
            "Review of the errors in 2 GiB of application logs (7 days plain, 4 .zst, 3 .gz)",
            {"log_search query=errors": [python, me, "run", "ours", workdir],
             "grep -c / zgrep -c / zstdgrep -c": [python, me, "run", "grep", workdir]},
            repeats=repeats, warmup=1, baseline="grep -c / zgrep -c / zstdgrep -c",
            notes="module process with its argument file; grep in one sh -c; files in the page cache")
        for variant in ("ours", "grep"):
            with open(os.path.join(workdir, "%s.json" % variant)) as handle:
                seen = json.load(handle)
            print("  %-5s found %d ERROR lines (generated %d), peak RSS %.1f MiB (largest process), %.1f MiB (all its "
                  "processes together, sampled)" % (variant, seen["found"], errors, seen["max_rss_kib"] / 1024.0,
                                                    seen["tree_rss_kib"] / 1024.0))
        return report
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3])
    else:
        main()
