"""Runs every test stage of the collection and closes with one `suite: N passed, N failed` line.

Stages with JUnit output (ansible-test units, pytest) count their test cases; the others (ansible-lint,
ansible-test sanity) count as one test each. Every stage runs even when an earlier one failed, so one
run shows everything that is broken; the exit status is non-zero when anything failed.
"""
import argparse
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


def junit_counts(path):
    if not os.path.exists(path):
        return None
    passed = failed = 0
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is None:
            passed += 1
    return passed, failed


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
    counts = [junit_counts(os.path.join(junit_dir, name)) for name in sorted(os.listdir(junit_dir))] \
        if os.path.isdir(junit_dir) else []
    counts = [c for c in counts if c]
    if not counts:
        return code, None
    return code, (sum(c[0] for c in counts), sum(c[1] for c in counts))


def stage_pytest(name, paths):
    junit = os.path.join(RESULTS, "%s.xml" % name)
    if os.path.exists(junit):
        os.remove(junit)
    code = run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfE", "--junitxml", junit] + paths)
    if code == 5:  # pytest: no tests collected, which must never pass silently
        return 1, (0, 1)
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
    return passed, len(verdicts) - passed


STAGES = {
    "lint": stage_lint,
    "changelog": stage_changelog,
    "sanity": stage_sanity,
    "units": stage_units,
    "reference": lambda: stage_pytest("reference", ["reference/tests"]),
    "system": lambda: stage_pytest("system", ["tests/system"]),
    "lab": lambda: stage_pytest("lab", ["tests/lab", "tests/fleet"]),
    "molecule": stage_molecule,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stages", nargs="*", metavar="STAGE", help="any of: %s (default: all)" % ", ".join(STAGES))
    args = parser.parse_args()
    unknown = [name for name in args.stages if name not in STAGES]
    if unknown:
        parser.error("unknown stage(s): %s" % ", ".join(unknown))
    os.makedirs(RESULTS, exist_ok=True)
    passed = failed = 0
    report = []
    for name in args.stages or list(STAGES):
        code, counts = STAGES[name]()
        if counts is None:
            counts = (1, 0) if code == 0 else (0, 1)
        elif code != 0 and counts[1] == 0:
            counts = (counts[0], 1)  # the runner failed outside any test case (collection error, crash)
        passed += counts[0]
        failed += counts[1]
        report.append("  %-10s %s  (%d passed, %d failed)" % (name, "ok" if code == 0 else "FAILED", *counts))
    print("\nStages:\n" + "\n".join(report))
    print("suite: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
