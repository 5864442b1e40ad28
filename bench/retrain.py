"""Weekly retrain of the top 50 items, 730 days of history each, holdout scoring and champion/challenger included:
the model_retrain module (worker processes on the host's cores, Prophet warm-started from the active models)
against the guide's way (one POST /api/ai/forecast/train per item through the reference service's API, one after
another, the guide's `sleep 5` removed), in the same run and from the same starting state.

Both start from a copy of one snapshot: 200 items of consumption history (fast movers with weekly and yearly
seasonality and trend, intermittent items with many zero days, a few items with too little history) and an
active model per top item (last week's retrain, history one week shorter). The reference service runs
throughout (the guide's service is already up); its start is not timed.

Run: cd /work/main && .venv/bin/python -m bench.retrain
"""
import datetime
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import ROOT, compare  # noqa: E402

WORK = os.path.join(ROOT, "build", "bench", "retrain")
SNAPSHOT = os.path.join(WORK, "snapshot")
OURS, GUIDE = os.path.join(WORK, "ours"), os.path.join(WORK, "guide")
DB_REL = os.path.join("data", "enterprise_inventory.db")
PY = sys.executable
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "build", "collections"),
                                                   os.path.join(ROOT, "reference")]))
LAST_DAY = datetime.date(2025, 12, 31)
DAYS, ITEMS, TOP, PORT = 730 + 7, 200, 50, 18093
def item_class(number):
    return "intermittent" if number % 4 == 3 else ("short" if number % 25 == 24 else "fast")


def history(number):
    import numpy as np
    rng = np.random.default_rng(number)
    t = np.arange(DAYS)
    level = 400.0 / (1 + number) + 5
    kind = item_class(number)
    if kind == "intermittent":
        return np.where(rng.random(DAYS) < 0.75, 0, rng.poisson(level * 3 + 1, DAYS)).astype(float)
    values = level * (1 + 0.3 * np.sin(2 * np.pi * t / 7) + 0.2 * np.sin(2 * np.pi * t / 365.25) + t / 3000.0)
    values = np.clip(values + rng.normal(0, 0.08 * level, DAYS), 0, None)
    if kind == "short":
        values[:DAYS - 60] = 0
    return values


def generate():
    """The snapshot: history up to LAST_DAY and the active models of a retrain one week earlier."""
    if os.path.exists(os.path.join(SNAPSHOT, "ready")):
        return
    shutil.rmtree(SNAPSHOT, ignore_errors=True)
    for sub in ("data", "logs", "backups", "config", "ai/models"):
        os.makedirs(os.path.join(SNAPSHOT, sub))
    with open(os.path.join(SNAPSHOT, ".env"), "w") as handle:
        handle.write("PORT=%d\nJWT_SECRET=bench-secret-0123456789abcdef\nADMIN_PASSWORD=bench-pw\n" % PORT)
    sys.path.insert(0, os.path.join(ROOT, "reference"))
    from inventory_service import db  # the reference service's schema (this checkout's)
    db.init_db(os.path.join(SNAPSHOT, DB_REL))
    conn = sqlite3.connect(os.path.join(SNAPSHOT, DB_REL))
    for number in range(ITEMS):
        conn.executemany("INSERT INTO consumption_history (item_code, day, quantity, source) VALUES (?, ?, ?, 'import')", [
            ("ITEM-%05d" % number, (LAST_DAY - datetime.timedelta(days=DAYS - 1 - i)).isoformat(), float(v))
            for i, v in enumerate(history(number))])
    conn.commit()
    # Last week's retrain: the same items trained on the history minus its last 7 days.
    conn.execute("CREATE TABLE held AS SELECT * FROM consumption_history WHERE day > ?",
                 ((LAST_DAY - datetime.timedelta(days=7)).isoformat(),))
    conn.execute("DELETE FROM consumption_history WHERE day > ?", ((LAST_DAY - datetime.timedelta(days=7)).isoformat(),))
    conn.commit()
    conn.close()
    subprocess.run(module_cmd(SNAPSHOT, "prime"), env=ENV, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    conn = sqlite3.connect(os.path.join(SNAPSHOT, DB_REL))
    conn.execute("INSERT INTO consumption_history SELECT * FROM held")
    conn.execute("DROP TABLE held")
    conn.commit()
    conn.close()
    open(os.path.join(SNAPSHOT, "ready"), "w").close()


def module_cmd(home, name, method="local"):
    args = {"service_home": home, "training_days": 730, "top": TOP, "method": method, "item_timeout": 60}
    args_file = os.path.join(WORK, "%s-args.json" % name)
    with open(args_file, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    return [PY, "-m", "ansible_collections.inventory_enterprise.ops.plugins.modules.model_retrain", args_file]


def reset(target):
    return "rm -rf {t}/ai/models && cp -a {s}/ai/models {t}/ai/models && cp {s}/{db} {t}/{db}".format(
        t=target, s=SNAPSHOT, db=DB_REL)


def guide_loop():
    """The guide's loop: the top items, then one train request per item, sequentially (sleep 5 removed)."""
    token = json.load(urllib.request.urlopen(urllib.request.Request(
        "http://127.0.0.1:%d/api/auth/login" % PORT, method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"username": "admin", "password": "bench-pw"}).encode())))["token"]
    conn = sqlite3.connect(os.path.join(GUIDE, DB_REL))
    # The guide reads the list from GET /api/inventory/items?limit=50 (items by consumption volume); the
    # same ordering straight from the table here.
    start = (LAST_DAY - datetime.timedelta(days=729)).isoformat()
    items = [row[0] for row in conn.execute(
        "SELECT item_code FROM consumption_history WHERE day >= ? GROUP BY item_code "
        "ORDER BY sum(quantity) DESC, item_code LIMIT ?", (start, TOP))]
    conn.close()
    outcomes = {}
    for item in items:
        # model_type auto: the same candidates as model_retrain's default (the guide names prophet).
        body = {"item_code": item, "model_type": "auto", "options": {"trainingDays": 730, "forecastPeriods": 30}}
        request = urllib.request.Request("http://127.0.0.1:%d/api/ai/forecast/train" % PORT, method="POST",
                                         data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
        answer = json.load(urllib.request.urlopen(request, timeout=120))
        outcomes[answer["outcome"]] = outcomes.get(answer["outcome"], 0) + 1
    print(json.dumps(outcomes))


def start_service():
    for target in (OURS, GUIDE):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(SNAPSHOT, target)
    log = open(os.path.join(WORK, "service.out"), "w")
    proc = subprocess.Popen([PY, "-m", "inventory_service", "serve"], cwd=GUIDE, env=ENV, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/health" % PORT, timeout=1).read()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("reference service did not start, see %s/service.out" % WORK)
            time.sleep(0.05)  # polling until the port answers


def peak_rss(cmd):
    """Peak of the summed RSS of the process tree (forked workers' shared pages counted in each: an upper
    bound), sampled every 20 ms."""
    proc = subprocess.Popen(cmd, env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL)
    peak = [0]

    def tree_rss():
        total, pids = 0, [proc.pid]
        while pids:
            pid = pids.pop()
            try:
                with open("/proc/%d/status" % pid) as handle:
                    total += next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:")) * 1024
                with open("/proc/%d/task/%d/children" % (pid, pid)) as handle:
                    pids.extend(int(child) for child in handle.read().split())
            except (OSError, StopIteration, ValueError):
                pass
        return total

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss())
            time.sleep(0.02)
    sampler = threading.Thread(target=sample)
    sampler.start()
    proc.wait()
    sampler.join()
    return peak[0]


def accuracy():
    """Median WAPE of the active models against seasonal naive's on the same holdouts, per item class."""
    conn = sqlite3.connect(os.path.join(OURS, DB_REL))
    classes = {}
    for entity, text in conn.execute("SELECT entity_id, accuracy_metrics FROM ai_models WHERE status = 'active'"):
        metrics = json.loads(text)
        if metrics["wape"] is None or metrics["naive"]["wape"] is None:
            continue
        kind = item_class(int(entity.split("-")[1]))
        classes.setdefault(kind, []).append((metrics["wape"], metrics["naive"]["wape"]))
        classes.setdefault("all", []).append((metrics["wape"], metrics["naive"]["wape"]))
    conn.close()
    report = {}
    for kind, pairs in sorted(classes.items()):
        model, naive = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
        report[kind] = {"items": len(pairs), "median_wape": round(model, 2), "median_naive_wape": round(naive, 2),
                        "lower_by_percent": round((1 - model / naive) * 100, 1),
                        "worse_than_naive": sum(1 for m, n in pairs if m > n + 1e-9)}
    return report


def main(repeats=3):
    os.makedirs(WORK, exist_ok=True)
    generate()
    service = start_service()
    try:
        me = os.path.abspath(__file__)
        ours = ["sh", "-c", "%s && %s" % (reset(OURS), " ".join(module_cmd(OURS, "ours")))]
        guide = ["sh", "-c", "%s && %s %s guide" % (reset(GUIDE), PY, me)]
        result = compare("weekly retrain, top %d items x 730 days, holdout + champion/challenger" % TOP,
                         {"model_retrain (2 workers)": ours, "guide: 1 train request per item": guide},
                         repeats=repeats, warmup=0, baseline="guide: 1 train request per item", env=ENV,
                         notes="2 shared cores; module wall time includes interpreter and library import; "
                               "the guide's loop runs against the already running reference service")
        subprocess.run(["sh", "-c", reset(OURS)], check=True)
        result["peak_rss_bytes"] = peak_rss(module_cmd(OURS, "ours"))
        result["accuracy"] = accuracy()
    finally:
        service.terminate()
        service.wait(30)
    print("  peak RSS of model_retrain's process tree: %.0f MiB" % (result["peak_rss_bytes"] / 1024.0 ** 2))
    print("  accuracy (active models vs seasonal naive on the same holdout): %s" % json.dumps(result["accuracy"]))
    with open(os.path.join(WORK, "summary.json"), "w") as handle:
        json.dump(result, handle, indent=2, default=str)
    return result


if __name__ == "__main__":
    if sys.argv[1:] == ["guide"]:
        guide_loop()
    else:
        main()
