"""Midday cache warming of 50 endpoints on one host: the cache_warm module (concurrent, one process) against the
guide's one-curl-after-another (real curl subprocesses), in the same run, each from a cold cache; then the hit
rate of a replayed request mix after warming, against the same mix from a cold cache.

The reference service is deployed by site.yml with a private Redis and demo data (300 items, SEED_DAYS days), so
a cold read is a real SQLite aggregate. The module runs as Ansible runs it on a host (its own Python process,
arguments in a file); the full `daily.yml --tags midday` run is timed too, for what Ansible's start adds.
"""
import json
import os
import random
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import redis  # noqa: E402
import requests  # noqa: E402

from bench.harness import RESULTS, ROOT, print_report  # noqa: E402
from tests.support import playbook as pb  # noqa: E402
from tests.support.servers import RedisServer, free_port  # noqa: E402

GUIDE = ["/api/inventory/list", "/api/dashboard/stats", "/api/ai/models/list"]
# 47 more: the top-items ranking at the page sizes a dashboard asks for; 50 endpoints in all.
EXTRA = ["/api/inventory/items?limit=%d" % limit for limit in range(4, 51)]
MIX_REQUESTS = 600
# 300 items x 120 days of consumption: a cold top-items read aggregates about 36,000 rows.
SEED_DAYS = 120


def deploy(workdir, redis_url):
    home = os.path.join(workdir, "home")
    variables = {
        "service_runtime": "python", "service_home": home, "service_port": free_port(),
        "service_manage_user": False, "service_user": "root", "service_group": "root",
        "service_process_manager": "pidfile", "service_python_wheel_dir": pb.WHEEL_DIR,
        "service_jwt_secret": "bench-jwt-secret-0123456789abcdef", "service_admin_password": "bench-admin-password",
        "service_redis_url": redis_url,
    }
    inventory = pb.write_inventory(os.path.join(workdir, "hosts.yml"),
                                   {"app_servers": {"app1": pb.local_host(**variables)}, "standby": {}})
    deployed = pb.run_playbook("playbooks/site.yml", inventory)
    if deployed.rc != 0:
        raise SystemExit("deploy failed:\n%r" % deployed)
    subprocess.run([os.path.join(home, "venv", "bin", "inventory-service"), "seed", "--env-file",
                    os.path.join(home, ".env"), "--days", str(SEED_DAYS)], check=True, capture_output=True)
    return inventory, "http://127.0.0.1:%d" % variables["service_port"]


def clear(cache):
    keys = list(cache.scan_iter(match="ie:cache:*"))
    if keys:
        cache.delete(*keys)


def timed(cmd, env=None):
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError("failed (rc=%s): %s\n%s\n%s" % (proc.returncode, " ".join(cmd[:4]), proc.stdout[-2000:],
                                                            proc.stderr[-2000:]))
    return elapsed, proc.stdout


def module_command(workdir, url):
    args = os.path.join(workdir, "cache_warm_args.json")
    with open(args, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": {"api_url": url, "extra_endpoints": EXTRA, "concurrency": 8,
                                                  "api_timeout": 60}}, handle)
    return [os.path.join(ROOT, ".venv", "bin", "python"), "-m",
            "ansible_collections.inventory_enterprise.ops.plugins.modules.cache_warm", args]


def curl_command(url):
    # The guide's way: one curl after another.
    return ["/bin/sh", "-c", "".join("curl -s -o /dev/null '%s%s'\n" % (url, path) for path in GUIDE + EXTRA)]


def replay_hit_rate(url, seed=7):
    """Hit rate (from /api/cache/stats deltas) of a request mix: 90% the warmed endpoints, heavier at the top
    (a dashboard's usual pages), 10% page sizes nobody warmed."""
    rng = random.Random(seed)
    warmed = GUIDE + EXTRA
    weights = [1.0 / (rank + 1) for rank in range(len(warmed))]
    before = requests.get(url + "/api/cache/stats", timeout=10).json()
    with requests.Session() as session:
        for dummy in range(MIX_REQUESTS):
            if rng.random() < 0.9:
                path = rng.choices(warmed, weights)[0]
            else:
                path = "/api/inventory/items?limit=%d" % rng.randint(51, 100)
            session.get(url + path, timeout=10).raise_for_status()
    after = requests.get(url + "/api/cache/stats", timeout=10).json()
    hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
    return round(100.0 * hits / (hits + misses), 2), hits, misses


def main(repeats=5):
    workdir = os.path.join(ROOT, "build", "bench", "cache_warm")
    os.makedirs(workdir, exist_ok=True)
    server = RedisServer().start()
    cache = redis.Redis.from_url(server.url)
    inventory, url = deploy(workdir, server.url)
    env = pb.ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    env["PYTHONPATH"] = os.path.join(ROOT, "build", "collections")
    playbook = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", inventory, "playbooks/daily.yml",
                "--tags", "daily_operations_midday", "-e", json.dumps({"daily_operations_cache_warm_extra_endpoints": EXTRA,
                                                                "daily_operations_api_timeout": 60})]
    variants = {"cache_warm module": module_command(workdir, url), "one curl after another": curl_command(url),
                "daily.yml --tags midday": playbook}
    try:
        times = dict((label, []) for label in variants)
        for round_number in range(repeats + 1):
            for label, cmd in variants.items():
                clear(cache)
                elapsed, out = timed(cmd, env=env)
                if label == "cache_warm module":
                    result = json.loads(out)
                    assert len(result["filled"]) == 47 + 2 and not result["failed_endpoints"], result
                if round_number:  # the first round warms up the OS caches and the service
                    times[label].append(elapsed)
        cold_rate = replay_hit_rate_cold(cache, url)
        clear(cache)
        timed(variants["cache_warm module"], env=env)
        warm_rate = replay_hit_rate(url)
    finally:
        pb.run_playbook("playbooks/service_control.yml", inventory, extra_vars={"service_state": "stopped"})
        server.close()
    return record(times, warm_rate, cold_rate, repeats)


def replay_hit_rate_cold(cache, url):
    clear(cache)
    return replay_hit_rate(url)


def record(times, warm_rate, cold_rate, repeats):
    summary = dict((label, {"min": min(runs), "median": statistics.median(runs), "runs": runs})
                   for label, runs in times.items())
    baseline = "one curl after another"
    report = {"benchmark": "midday cache warming, 50 endpoints, one host", "repeats": repeats, "results": summary,
              "baseline": baseline, "ours": "cache_warm module",
              "ratios": dict((label, summary[baseline]["median"] / summary[label]["median"])
                             for label in summary if label != baseline),
              "replay": {"requests": MIX_REQUESTS, "hit_rate_after_warming": warm_rate,
                         "hit_rate_from_cold": cold_rate},
              "notes": "cold cache before every run; demo data (300 items, %d days)" % SEED_DAYS,
              "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    report["ratio"] = report["ratios"]["cache_warm module"]
    print_report(report)
    print("  replayed mix of %d requests: hit rate %.2f%% (hits %d, misses %d) after warming, %.2f%% from cold"
          % (MIX_REQUESTS, warm_rate[0], warm_rate[1], warm_rate[2], cold_rate[0]))
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "a") as handle:
        handle.write(json.dumps(report) + "\n")
    return report


if __name__ == "__main__":
    main()
