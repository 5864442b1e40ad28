"""Runs every test stage of the collection and closes with one `suite: N passed, N failed, N skipped` line.

Stages with JUnit output (ansible-test units, pytest) count their test cases; the others (ansible-lint,
ansible-test sanity) count as one test each. Every stage runs even when an earlier one failed, so one
run shows everything that is broken; the exit status is non-zero when anything failed.

A skipped test counts as a failure unless EXPECTED_SKIPS names it: in `make test` a skip almost always means
that something the suite should have provided (a PostgreSQL or Redis server, a tool, root) is missing, and a
suite that passes by skipping has not tested anything.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
RESULTS = os.path.join(ROOT, "build", "results")
SANITY_ROOT = os.path.join(ROOT, "build", "sanity", "ansible_collections", "inventory_enterprise", "ops")
# What ships in the collection, plus its tests: the tree ansible-test checks.
SANITY_EXCLUDES = [".git", ".venv", "build", "reference", "bench", ".ci", "demo", "tests/output",
                   ".pytest_cache", "__pycache__", ".ansible"]
PYTHON_VERSION = "%d.%d" % sys.version_info[:2]

# The skips `make test` expects, by (stage, test id) with the reason; a test id is "classname::name" as the
# stage's JUnit report names it (printed for every unexpected skip). Keep it empty: prefer making the suite
# provide what the test needs. Any skip not listed here fails the suite.
EXPECTED_SKIPS = {
}


class Counts:
    """One stage's test cases: how many passed and failed, and each skip as (test id, reason)."""

    def __init__(self, passed=0, failed=0, skipped=None):
        self.passed = passed
        self.failed = failed
        self.skipped = list(skipped or [])

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped
        return self


def case_id(case):
    classname, name = case.get("classname") or "", case.get("name") or ""
    return "%s::%s" % (classname, name) if classname else name


def junit_counts(path):
    """Counts of a JUnit XML report (pytest's or ansible-test's), or None when the stage wrote none."""
    if not os.path.exists(path):
        return None
    counts = Counts()
    for case in ET.parse(path).getroot().iter("testcase"):
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            counts.failed += 1
        elif skipped is not None:
            reason = skipped.get("message") or skipped.text or ""
            counts.skipped.append((case_id(case), " ".join(reason.split())))
        else:
            counts.passed += 1
    return counts


def judge_skips(stage, skipped, expected=None):
    """Splits a stage's skips into (expected, unexpected) by EXPECTED_SKIPS (or `expected`)."""
    expected = EXPECTED_SKIPS if expected is None else expected
    allowed = [(test, reason) for test, reason in skipped if (stage, test) in expected]
    return allowed, [(test, reason) for test, reason in skipped if (stage, test) not in expected]


def run(cmd, cwd=ROOT, env=None):
    print("\n==> %s" % " ".join(cmd), flush=True)
    started = time.monotonic()
    code = subprocess.call(cmd, cwd=cwd, env=env)
    print("<== exit %d after %.0fs" % (code, time.monotonic() - started), flush=True)
    return code


def stage_lint():
    return run([os.path.join(BIN, "ansible-lint"), "--profile", "production"]), None


def sync_sanity_tree():
    os.makedirs(SANITY_ROOT, exist_ok=True)
    cmd = ["rsync", "-a", "--delete"] + ["--exclude=%s" % item for item in SANITY_EXCLUDES]
    subprocess.check_call(cmd + [ROOT + "/", SANITY_ROOT + "/"])
    # ansible-test lists files with git when a repository holds the tree; the checkout's own ignores build/,
    # so the copy gets a repository of its own (its files are found as untracked, none ignored).
    if not os.path.isdir(os.path.join(SANITY_ROOT, ".git")):
        subprocess.check_call(["git", "init", "-q", SANITY_ROOT])


def seed_pip_bootstrap():
    """ansible-test downloads get-pip.py from a host this network cannot reach; give it ours."""
    cache = os.path.expanduser("~/.ansible/test/cache")
    os.makedirs(cache, exist_ok=True)
    for name in ("get_pip_24_2.py",):
        shutil.copy(os.path.join(ROOT, ".ci", "get_pip_bootstrap.py"), os.path.join(cache, name))


def stage_sanity():
    sync_sanity_tree()
    seed_pip_bootstrap()
    return run([os.path.join(BIN, "ansible-test"), "sanity", "--venv", "--requirements",
                "--python", PYTHON_VERSION, "--color", "no"], cwd=SANITY_ROOT), None


def stage_units():
    sync_sanity_tree()
    seed_pip_bootstrap()
    junit_dir = os.path.join(SANITY_ROOT, "tests", "output", "junit")
    shutil.rmtree(junit_dir, ignore_errors=True)
    code = run([os.path.join(BIN, "ansible-test"), "units", "--venv", "--requirements",
                "--python", PYTHON_VERSION, "--color", "no"], cwd=SANITY_ROOT)
    reports = [junit_counts(os.path.join(junit_dir, name)) for name in sorted(os.listdir(junit_dir))] \
        if os.path.isdir(junit_dir) else []
    reports = [c for c in reports if c]
    if not reports:
        return code, None
    total = Counts()
    for counts in reports:
        total.add(counts)
    return code, total


def stage_pytest(name, paths):
    junit = os.path.join(RESULTS, "%s.xml" % name)
    if os.path.exists(junit):
        os.remove(junit)
    code = run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfEs", "--junitxml", junit] + paths)
    if code == 5:  # pytest: no tests collected, which must never pass silently
        return 1, Counts(failed=1)
    return code, junit_counts(junit)


def stage_changelog():
    return run([os.path.join(BIN, "antsibull-changelog"), "lint"]), None


def lab_down():
    run([sys.executable, os.path.join(ROOT, "tests", "lab", "lab.py"), "down"])


def stage_molecule():
    """Every molecule scenario on the lab; the lab comes down afterwards whatever happened."""
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_NOCOLOR="1", NO_COLOR="1")
    log_path = os.path.join(RESULTS, "molecule.log")
    print("\n==> molecule test --all (log: %s)" % log_path, flush=True)
    started = time.monotonic()
    try:
        with open(log_path, "w") as log:
            # State an interrupted run left behind ("created: true" with the lab down) would make create skip:
            # destroy first (it takes the lab down and records that).
            subprocess.call([os.path.join(BIN, "molecule"), "destroy", "--all", "--no-report"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
            log.flush()
            proc = subprocess.Popen([os.path.join(BIN, "molecule"), "test", "--all"], cwd=ROOT, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for line in proc.stdout:
                log.write(line)
                sys.stdout.write(line)
            code = proc.wait()
    finally:
        lab_down()
    print("<== exit %d after %.0fs" % (code, time.monotonic() - started), flush=True)
    return code, molecule_counts(log_path)


def molecule_counts(log_path):
    """Scenarios in molecule's SCENARIO RECAP (the default one, which only runs the lab, excluded)."""
    verdicts = {}
    with open(log_path) as log:
        for line in log:
            match = re.match(r"^\s*(\w+)\s*: actions=\d+ .*failed=(\d+)", re.sub(r"\x1b\[[0-9;]*m", "", line))
            if match and match.group(1) != "default":
                verdicts[match.group(1)] = verdicts.get(match.group(1), True) and match.group(2) == "0"
    if not verdicts:
        return None
    passed = sum(1 for ok in verdicts.values() if ok)
    return Counts(passed, len(verdicts) - passed)


# System tests that run in the lab's line of stages (below), which is shorter than this one: how the collection is
# packaged, scheduled and run (AWX templates, cron, the execution environment, the oldest ansible-core, the tarball,
# this runner), and the AI models' tests (forecasting libraries in a virtualenv, CPU-bound training).
TOOLING_TESTS = (
    "tests/system/test_awx_schedule.py",
    "tests/system/test_collection_tarball.py",
    "tests/system/test_execution_environment.py",
    "tests/system/test_oldest_ansible_core.py",
    "tests/system/test_run_suite.py",
    "tests/system/test_schedule_cron.py",
)
AI_TESTS = (
    "tests/system/test_ai_cycle.py",
    "tests/system/test_ai_models_role.py",
    "tests/system/test_model_retrain_api.py",
)

STAGES = {
    "lint": stage_lint,
    "changelog": stage_changelog,
    "sanity": stage_sanity,
    "units": stage_units,
    "reference": lambda: stage_pytest("reference", ["reference/tests"]),
    "system": lambda: stage_pytest("system", ["tests/system"] + ["--ignore=%s" % p for p in TOOLING_TESTS + AI_TESTS]),
    "tooling": lambda: stage_pytest("tooling", list(TOOLING_TESTS)),
    "ai": lambda: stage_pytest("ai", list(AI_TESTS)),
    "lab": lambda: stage_pytest("lab", ["tests/lab", "tests/fleet"]),
    "molecule": stage_molecule,
}


# The stages on the lab, with the tooling and AI tests before them, run beside the others, in a second process: the
# lab's hosts listen on their own loopback addresses (127.0.0.2 and up) and keep their files under build/lab, the
# other stages use free ports of 127.0.0.1
# and their own directories, so they share nothing but the 2 cores, and each has long waits (SSH round trips,
# services starting) that the other fills. SUITE_SERIAL=1 runs every stage one after another.
LAB_LANE = ("tooling", "ai", "lab", "molecule")


def start_lab_lane(names):
    """The lab's stages in a child run_suite.py, its output in build/results/lab-lane.log."""
    log_path, result_path = os.path.join(RESULTS, "lab-lane.log"), os.path.join(RESULTS, "lab-lane.json")
    if os.path.exists(result_path):
        os.remove(result_path)
    log = open(log_path, "w")
    print("\n==> stages %s beside the others (log: %s)" % (", ".join(names), log_path), flush=True)
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--lane-result", result_path] + list(names),
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    return proc, log, log_path, result_path


def finish_lab_lane(lane, names):
    """Wait for the lab's stages, print their output, and return their stage results."""
    proc, log, log_path, result_path = lane
    code = proc.wait()
    log.close()
    print("\n==> output of the stages %s (%s)" % (", ".join(names), log_path), flush=True)
    with open(log_path) as handle:
        sys.stdout.write(handle.read())
    if not os.path.exists(result_path):
        return [dict(name=name, ok=False, passed=0, failed=1, skipped=0, seconds=0.0, unexpected=[])
                for name in names] if code else []
    with open(result_path) as handle:
        return json.load(handle)


def run_stage(name):
    started = time.monotonic()
    code, counts = STAGES[name]()
    seconds = time.monotonic() - started
    ok, stage_passed, stage_failed, allowed, unexpected = judge_stage(name, code, counts)
    print("<== stage %s" % stage_line(name, ok, stage_passed, stage_failed, len(allowed), seconds), flush=True)
    for test, reason in unexpected:
        print("    unexpected skip: %s (%s)" % (test, reason), flush=True)
    return dict(name=name, ok=ok, passed=stage_passed, failed=stage_failed, skipped=len(allowed), seconds=seconds,
                unexpected=[list(item) for item in unexpected])


def judge_stage(name, code, counts, expected=None):
    """The stage's verdict: (ok, passed, failed, expected skips, unexpected skips).

    An unexpected skip counts as a failed test; a stage that failed outside any test case (collection error,
    crash) or reports nothing at all counts one failure.
    """
    if counts is None:
        counts = Counts(1, 0) if code == 0 else Counts(0, 1)
    allowed, unexpected = judge_skips(name, counts.skipped, expected)
    failed = counts.failed + len(unexpected)
    if code != 0 and failed == 0:
        failed = 1
    return code == 0 and not unexpected, counts.passed, failed, allowed, unexpected


def stage_line(name, ok, passed, failed, skipped, seconds):
    return "%s %s: %d passed, %d failed, %d skipped in %.0fs" % (
        name, "ok" if ok else "FAILED", passed, failed, skipped, seconds)


def table_row(name, result, passed, failed, skipped, seconds):
    return "  %-10s %-6s %7s %7s %8s %8s" % (name, result, passed, failed, skipped, seconds)


def closing_line(passed, failed, skipped):
    return "suite: %d passed, %d failed, %d skipped" % (passed, failed, skipped)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stages", nargs="*", metavar="STAGE", help="any of: %s (default: all)" % ", ".join(STAGES))
    parser.add_argument("--lane-result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = [name for name in args.stages if name not in STAGES]
    if unknown:
        parser.error("unknown stage(s): %s" % ", ".join(unknown))
    os.makedirs(RESULTS, exist_ok=True)
    suite_started = time.monotonic()
    names = args.stages or list(STAGES)
    beside = [name for name in names if name in LAB_LANE]
    if args.lane_result or os.environ.get("SUITE_SERIAL") == "1" or len(beside) == len(names):
        beside = []
    lane = start_lab_lane(beside) if beside else None
    results = [run_stage(name) for name in names if name not in beside]
    if lane:
        results += finish_lab_lane(lane, beside)
    if args.lane_result:
        with open(args.lane_result, "w") as handle:
            json.dump(results, handle)
    passed = sum(result["passed"] for result in results)
    failed = sum(result["failed"] for result in results)
    skipped = sum(result["skipped"] for result in results)
    print("\nStages:")
    print(table_row("stage", "result", "passed", "failed", "skipped", "time"))
    for result in results:
        print(table_row(result["name"], "ok" if result["ok"] else "FAILED", result["passed"], result["failed"],
                        result["skipped"], "%.0fs" % result["seconds"]))
    print(table_row("total", "", passed, failed, skipped, "%.0fs" % (time.monotonic() - suite_started)))
    unexpected_skips = [(result["name"], test, reason) for result in results for test, reason in result["unexpected"]]
    if unexpected_skips:
        print("\nSkipped, and not in EXPECTED_SKIPS of tests/run_suite.py (each counted as failed):")
        for name, test, reason in unexpected_skips:
            print("  %-10s %s: %s" % (name, test, reason))
    print(closing_line(passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
