"""Benchmark harness: run each variant of a benchmark several times, interleaved, and report min/median.

Variants run alternately (ours, baseline, ours, ...) so drift on the machine hits both alike; the
ratio compares medians. Results are printed and appended as JSON lines to build/bench/results.jsonl.
"""
import json
import os
import statistics
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "build", "bench", "results.jsonl")


def time_command(cmd, env=None, cwd=ROOT, expect_rc=0):
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if expect_rc is not None and proc.returncode != expect_rc:
        raise RuntimeError("benchmark command failed (rc=%s): %s\n%s\n%s" % (
            proc.returncode, " ".join(cmd), proc.stdout[-3000:], proc.stderr[-3000:]))
    return elapsed


def compare(name, variants, repeats=5, warmup=1, baseline=None, env=None, notes=""):
    """variants: {label: command list}. Returns {label: {min, median, runs}} and the ratio to baseline."""
    times = {label: [] for label in variants}
    for _ in range(warmup):
        for cmd in variants.values():
            time_command(cmd, env=env)
    for _ in range(repeats):
        for label, cmd in variants.items():
            times[label].append(time_command(cmd, env=env))
    summary = {label: {"min": min(runs), "median": statistics.median(runs), "runs": runs}
               for label, runs in times.items()}
    report = {"benchmark": name, "repeats": repeats, "results": summary, "notes": notes,
              "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if baseline:
        others = [label for label in variants if label != baseline]
        report["ratio"] = summary[baseline]["median"] / summary[others[0]]["median"]
        report["ours"], report["baseline"] = others[0], baseline
        report["ratios"] = {label: summary[baseline]["median"] / summary[label]["median"] for label in others}
    print_report(report)
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "a") as handle:
        handle.write(json.dumps(report) + "\n")
    return report


def print_report(report):
    print("\n%s (%d runs each)" % (report["benchmark"], report["repeats"]))
    for label, result in report["results"].items():
        print("  %-28s min %7.3fs  median %7.3fs" % (label, result["min"], result["median"]))
    for label, ratio in report.get("ratios", {}).items():
        print("  %s is %.2fx faster than %s (median wall time)" % (label, ratio, report["baseline"]))
