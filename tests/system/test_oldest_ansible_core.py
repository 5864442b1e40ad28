"""The oldest ansible-core meta/runtime.yml accepts, proven: requirements/ansible-core-oldest.txt installed from PyPI
into a virtualenv of its own (build/ansible-core-oldest, kept for the next run), the other libraries (pytest, the
managed requirements, the AI libraries) read from the project's virtualenv behind it through a .pth file. Under it
run the first tests of the unit test file of every module, and the schedule_cron role's playbook."""
import ast
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig

import pytest
import yaml

from tests.support import playbook as pb

ROOT = pb.ROOT
VENV = os.path.join(ROOT, "build", "ansible-core-oldest")
PYTHON = os.path.join(VENV, "bin", "python")
PIN = os.path.join(ROOT, "requirements", "ansible-core-oldest.txt")
COLLECTION = os.path.join(ROOT, "build", "collections", "ansible_collections", "inventory_enterprise", "ops")
# One unit test file per module (the module it imports), the first tests of each.
UNIT_FILES = [
    "tests/unit/plugins/modules/test_app_process.py",
    "tests/unit/plugins/modules/test_backup_return.py",
    "tests/unit/plugins/modules/test_backup_encryption.py",
    "tests/unit/plugins/modules/test_consumption_modules.py",
    "tests/unit/plugins/modules/test_db_maintenance.py",
    "tests/unit/plugins/modules/test_dual_write_parity.py",
    "tests/unit/plugins/modules/test_health_check.py",
    "tests/unit/plugins/modules/test_model_archive.py",
    "tests/unit/plugins/modules/test_model_retrain.py",
    "tests/unit/plugins/modules/test_model_review.py",
    "tests/unit/plugins/modules/test_postgresql_maintenance.py",
    "tests/unit/plugins/modules/test_restore.py",
    "tests/unit/plugins/modules/test_sqlite_info.py",
    "tests/unit/plugins/modules/test_sqlite_maintenance.py",
    "tests/unit/plugins/action/test_disk_usage_df.py",
    "tests/unit/plugins/modules/test_cache_modules.py",
    "tests/unit/plugins/modules/test_end_of_day_check.py",
    "tests/unit/plugins/modules/test_log_archive.py",
    "tests/unit/plugins/modules/test_log_search.py",
    "tests/unit/plugins/modules/test_performance_report.py",
    "tests/unit/plugins/modules/test_procedure_metrics.py",
    "tests/unit/plugins/modules/test_redis_memory.py",
    "tests/unit/plugins/modules/test_security_audit.py",
    "tests/unit/plugins/modules/test_capacity_review.py",
    "tests/unit/plugins/modules/test_migration_review.py",
    "tests/unit/plugins/modules/test_performance_review.py",
    "tests/unit/plugins/modules/test_runbook_review.py",
    # The callback ansible.cfg enables, in real ansible-playbook runs of the oldest ansible-core.
    "tests/unit/plugins/callback/test_runbook_journal.py",
]
TESTS_PER_FILE = 2


def pinned_version():
    with open(PIN) as handle:
        return re.search(r"^ansible-core==(\S+)$", handle.read(), re.M).group(1)


def installed_version():
    if not os.path.exists(PYTHON):
        return None
    proc = subprocess.run([PYTHON, "-c", "import ansible.release; print(ansible.release.__version__)"],
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


@pytest.fixture(scope="module")
def oldest():
    version = pinned_version()
    if installed_version() != version:
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        proc = subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", PIN],
                              capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
    purelib = subprocess.run([PYTHON, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # Appended to sys.path after the virtualenv's own site-packages: its ansible-core wins.
    with open(os.path.join(purelib, "zz_project_venv.pth"), "w") as handle:
        handle.write(sysconfig.get_paths()["purelib"] + "\n")
    assert installed_version() == version
    return version


def first_tests(path, count):
    with open(os.path.join(ROOT, path)) as handle:
        tree = ast.parse(handle.read())
    names = [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]
    return ["%s::%s" % (path, name) for name in names[:count]]


def test_the_subset_covers_every_module():
    imported = set()
    for path in UNIT_FILES:
        with open(os.path.join(ROOT, path)) as handle:
            # `plugins.modules import a, b`, or `plugins.action.<name> import ...` (a module run by its action plugin).
            for match in re.finditer(r"^from ansible_collections\.inventory_enterprise\.ops\.plugins\."
                                     r"(?:modules|action\.(\w+)) import ([\w, ]+)$", handle.read(), re.M):
                imported |= {match.group(1)} if match.group(1) else {n.strip() for n in match.group(2).split(",")}
    modules = {os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py"))}
    assert modules - imported == set()


def test_module_unit_tests_pass_under_the_oldest_ansible_core(oldest):
    selected = [test for path in UNIT_FILES for test in first_tests(path, TESTS_PER_FILE)]
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "build", "collections"))
    proc = subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *selected], cwd=COLLECTION, env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    # Parametrized tests count once per parameter set: at least one pass per selected test, nothing else.
    summary = proc.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"=* ?(\d+) passed in .*", summary) and int(summary.split(" passed")[0].split()[-1]) >= len(
        selected), summary


def test_the_schedule_cron_role_runs_under_the_oldest_ansible_core(oldest, tmp_path):
    core = subprocess.run([os.path.join(VENV, "bin", "ansible-playbook"), "--version"], capture_output=True, text=True,
                          check=False).stdout
    assert "ansible-playbook [core %s]" % oldest in core, core
    schedule = {"schedule_jobs": [{"name": "Morning health checks", "playbook": "playbooks/daily.yml",
                                   "tags": ["daily_operations_morning"], "extra_vars": {},
                                   "schedule": {"minute": 0, "hour": 9}, "available": True}]}
    (tmp_path / "schedule.yml").write_text(yaml.safe_dump(schedule))
    host = pb.local_host(ansible_python_interpreter=PYTHON)
    inventory = pb.write_inventory(str(tmp_path / "inventory.yml"), {"control": {"localhost": host}})
    extra = {"entry_point": "main", "schedule_cron_schedule_file": str(tmp_path / "schedule.yml"),
             "schedule_cron_inventory": inventory, "schedule_cron_file": str(tmp_path / "schedule.cron"),
             "schedule_cron_user": pb.ansible_env().get("USER") or "root",
             "schedule_cron_wrapper": str(tmp_path / "bin" / "inventory-schedule-job"),
             "schedule_cron_manage_daemon": False}
    argv = [os.path.join(VENV, "bin", "ansible-playbook"), "-i", inventory,
            os.path.join(ROOT, "tests", "system", "playbooks", "schedule_cron.yml"), "-e", json.dumps(extra)]
    env = pb.ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    runs = [subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
            for _attempt in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert re.search(r"localhost\s*: ok=\d+\s+changed=[1-9]", runs[0].stdout), runs[0].stdout[-2000:]
    assert re.search(r"localhost\s*: ok=\d+\s+changed=0 ", runs[1].stdout), runs[1].stdout[-2000:]
    assert "#Ansible: inventory-schedule morning-health-checks" in (tmp_path / "schedule.cron").read_text()
