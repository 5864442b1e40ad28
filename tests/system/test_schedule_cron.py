"""The schedule_cron role applied to this machine with a scratch cron file (an absolute cron_file: the machine's
crontabs and its cron daemon are never touched), and its wrapper run for real with tiny commands: the lock, the
dated logs and their rotation, the Prometheus textfile metrics (read with prometheus_client's parser) and the
last/first-weekday guards. An entry's command line is run as cron runs it, with a real ansible-playbook."""
import getpass
import os
import shlex
import signal
import subprocess
import time

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support import playbook as pb

SCHEDULE = {"schedule_jobs": [
    {"name": "Ping the control node", "guide": "test", "playbook": "ping.yml", "tags": ["pinged"],
     "extra_vars": {"ping_word": "hello"},
     "schedule": {"minute": 0, "hour": 9, "day": "*", "month": "*", "weekday": "*"}, "available": True},
    {"name": "Monthly DR test", "guide": "test", "playbook": "playbooks/dr_drill.yml", "tags": [], "limit": "standby",
     "extra_vars": {"note": "100% drill"},
     "schedule": {"minute": 0, "hour": 5, "day": "*", "month": "*", "weekday": 0, "rule": "last_sunday"},
     "available": True},
    {"name": "Quarterly review", "guide": "test", "playbook": "playbooks/quarterly.yml", "tags": [],
     "schedule": {"minute": 0, "hour": 11, "day": "*", "month": "1,4,7,10", "weekday": 1, "rule": "first_monday"},
     "available": False, "reason": "not landed"},
    {"name": "Runbook: on demand", "guide": "test", "playbook": "playbooks/runbooks/system_down.yml",
     "schedule": None, "available": True},
]}

PING = [{"name": "A playbook a cron entry runs", "hosts": "localhost", "connection": "local", "gather_facts": False,
         "tasks": [{"name": "Say the word", "ansible.builtin.debug": {"msg": "{{ ping_word }}"},
                    "tags": ["pinged"]}]}]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    root = tmp_path_factory.mktemp("schedule_cron")
    project = root / "project"
    project.mkdir()
    (project / "ping.yml").write_text(yaml.safe_dump(PING))
    (project / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"localhost": pb.local_host()}}}))
    (root / "schedule.yml").write_text(yaml.safe_dump(SCHEDULE))
    inventory = pb.write_inventory(str(root / "inventory.yml"), {"control": {"localhost": pb.local_host()}})
    role_vars = {
        "entry_point": "main",
        "schedule_cron_schedule_file": str(root / "schedule.yml"),
        "schedule_cron_inventory": str(project / "hosts.yml"),
        "schedule_cron_ansible_playbook": os.path.join(pb.BIN, "ansible-playbook"),
        "schedule_cron_playbook_dir": str(project),
        "schedule_cron_file": str(root / "cron.d" / "inventory-enterprise-schedule"),
        "schedule_cron_user": getpass.getuser(),
        "schedule_cron_wrapper": str(root / "bin" / "inventory-schedule-job"),
        "schedule_cron_lock_dir": str(root / "lock"),
        "schedule_cron_log_dir": str(root / "log"),
        "schedule_cron_log_keep": 3,
        "schedule_cron_textfile_dir": str(root / "textfile"),
        "schedule_cron_manage_daemon": False,
    }
    (root / "cron.d").mkdir()
    return root, inventory, role_vars


def apply(scratch, check=False, **overrides):
    _root, inventory, role_vars = scratch
    result = pb.run_playbook("tests/system/playbooks/schedule_cron.yml", inventory,
                             extra_vars=dict(role_vars, **overrides), check=check)
    assert result.rc == 0, result.failed_tasks()
    return result


def cron_entries(path):
    """{job name: (the five time fields, user, command)} of the role's entries, read from the file as text."""
    entries, name = {}, None
    for line in open(path).read().splitlines():
        if line.startswith("#Ansible: inventory-schedule "):
            name = line.split(" ", 2)[2]
        elif name:
            fields = line.split(None, 6)
            entries[name] = (fields[:5], fields[5], fields[6])
            name = None
    return entries


def test_check_mode_predicts_and_writes_nothing(scratch):
    root, _inventory, role_vars = scratch
    result = apply(scratch, check=True)
    assert result.changed() > 0
    assert not os.path.exists(role_vars["schedule_cron_file"])
    assert not os.path.exists(role_vars["schedule_cron_wrapper"])
    assert not os.path.exists(root / "bin")


def test_converge_installs_available_scheduled_entries_then_changes_nothing(scratch):
    _root, _inventory, role_vars = scratch
    assert apply(scratch).changed() > 0
    entries = cron_entries(role_vars["schedule_cron_file"])
    assert sorted(entries) == ["monthly-dr-test", "ping-the-control-node"]
    assert entries["ping-the-control-node"][0] == ["0", "9", "*", "*", "*"]
    assert entries["monthly-dr-test"][0] == ["0", "5", "*", "*", "0"]
    dr_argv = shlex.split(entries["monthly-dr-test"][2])
    assert dr_argv[:5] == [role_vars["schedule_cron_wrapper"], "--job", "monthly-dr-test", "--only-if", "last-sunday"]
    assert "inventory_enterprise.ops.dr_drill" not in dr_argv, "a playbook dir is set: paths stay paths"
    # cron would turn a bare % into a newline.
    assert '"100\\% drill"' in entries["monthly-dr-test"][2]
    assert 'PATH="/usr/local/bin:/usr/bin:/bin"' in open(role_vars["schedule_cron_file"]).read()
    assert apply(scratch).changed() == 0


def run_as_cron(command):
    """The command as cron runs it: /bin/sh -c, \\% made %, a minimal environment with the file's PATH."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "SHELL": "/bin/sh",
           "LANG": "C.UTF-8"}
    env.update(pb.ansible_env(ANSIBLE_STDOUT_CALLBACK="default"))
    return subprocess.run(["/bin/sh", "-c", command.replace("\\%", "%")], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def metrics(path):
    return {sample.name: sample for family in text_string_to_metric_families(open(path).read())
            for sample in family.samples}


def test_an_entry_runs_for_real_with_its_lock_log_and_metrics(scratch):
    root, _inventory, role_vars = scratch
    before = time.time()
    proc = run_as_cron(cron_entries(role_vars["schedule_cron_file"])["ping-the-control-node"][2])
    assert proc.returncode == 0, proc.stderr
    logs = sorted((root / "log" / "ping-the-control-node").iterdir())
    assert len(logs) == 1
    log = logs[0].read_text()
    assert "hello" in log and "ok=1" in log and "exit status 0" in log
    found = metrics(root / "textfile" / "inventory_schedule_ping-the-control-node.prom")
    assert found["inventory_schedule_job_last_outcome"].value == 1
    assert found["inventory_schedule_job_last_outcome"].labels == {"job": "ping-the-control-node"}
    assert found["inventory_schedule_job_last_success_timestamp_seconds"].value >= int(before)
    assert found["inventory_schedule_job_duration_seconds"].value > 0
    lock = root / "lock" / "ping-the-control-node.lock"
    assert lock.exists()
    free = subprocess.run(["flock", "--nonblock", str(lock), "true"], check=False)
    assert free.returncode == 0, "the lock is released when the run ends"


def test_an_entry_that_left_the_selection_is_removed(scratch):
    _root, _inventory, role_vars = scratch
    assert apply(scratch, schedule_cron_only=["Ping the control node"]).changed() > 0
    assert sorted(cron_entries(role_vars["schedule_cron_file"])) == ["ping-the-control-node"]


def test_absent_removes_every_entry_and_the_wrapper(scratch):
    _root, _inventory, role_vars = scratch
    assert apply(scratch, check=True, schedule_cron_state="absent").changed() > 0
    assert os.path.exists(role_vars["schedule_cron_file"])
    assert apply(scratch, schedule_cron_state="absent").changed() > 0
    assert not os.path.exists(role_vars["schedule_cron_file"])
    assert not os.path.exists(role_vars["schedule_cron_wrapper"])
    assert apply(scratch, schedule_cron_state="absent").changed() == 0


# --- The wrapper alone (tasks_from: wrapper), with tiny commands ----------------------------------------------

@pytest.fixture(scope="module")
def wrapper(tmp_path_factory):
    root = tmp_path_factory.mktemp("schedule_wrapper")
    inventory = pb.write_inventory(str(root / "inventory.yml"), {"control": {"localhost": pb.local_host()}})
    path = str(root / "bin" / "inventory-schedule-job")
    result = pb.run_playbook("tests/system/playbooks/schedule_cron.yml", inventory, extra_vars={
        "entry_point": "wrapper", "schedule_cron_wrapper": path, "schedule_cron_lock_dir": str(root / "lock"),
        "schedule_cron_log_dir": str(root / "log"), "schedule_cron_textfile_dir": str(root / "textfile"),
        "schedule_cron_log_keep": 3})
    assert result.rc == 0, result.failed_tasks()
    assert subprocess.run(["shellcheck", "--shell=sh", path], check=False).returncode == 0
    return root, path


def job(wrapper_fixture, name, *command, options=()):
    _root, path = wrapper_fixture
    return subprocess.run([path, "--job", name, *options, "--", *command], capture_output=True, text=True,
                          timeout=60, check=False)


def start_job(wrapper_fixture, name, *command, **popen):
    _root, path = wrapper_fixture
    return subprocess.Popen([path, "--job", name, "--", *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


def wait_for(path, proc):
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)


def test_a_second_run_of_a_running_job_does_nothing_and_says_so(wrapper, tmp_path):
    started, release, second = tmp_path / "started", tmp_path / "release", tmp_path / "second"
    first = start_job(wrapper, "locked", "sh", "-c", 'touch "$1"; while [ ! -e "$2" ]; do sleep 0.02; done', "sh",
                      str(started), str(release))
    wait_for(started, first)
    refused = job(wrapper, "locked", "touch", str(second))
    release.touch()
    assert first.wait(timeout=60) == 0
    assert refused.returncode == 75
    assert "job locked is already running" in refused.stderr and "pid %d" % first.pid in refused.stderr
    assert not second.exists()


def test_the_lock_of_a_killed_run_is_taken_over(wrapper, tmp_path):
    root, _path = wrapper
    started = tmp_path / "started"
    dead = start_job(wrapper, "killed", "sh", "-c", 'touch "$1"; exec sleep 300', "sh", str(started),
                     start_new_session=True)
    wait_for(started, dead)
    os.killpg(dead.pid, signal.SIGKILL)
    dead.wait(timeout=60)
    assert (root / "lock" / "killed.lock").exists()
    assert (root / "lock" / "killed.lock.pid").read_text().strip() == str(dead.pid), "left behind by the dead run"
    again = job(wrapper, "killed", "true")
    assert again.returncode == 0, again.stderr
    found = metrics(root / "textfile" / "inventory_schedule_killed.prom")
    assert found["inventory_schedule_job_last_outcome"].value == 1


def test_only_the_newest_logs_are_kept(wrapper):
    root, _path = wrapper
    for number in range(5):
        assert job(wrapper, "rotated", "echo", "run %d" % number).returncode == 0
    logs = sorted((root / "log" / "rotated").iterdir())
    assert [log.read_text().splitlines()[2] for log in logs] == ["run 2", "run 3", "run 4"]


def test_a_failed_run_is_measured_and_keeps_the_last_success(wrapper):
    root, _path = wrapper
    assert job(wrapper, "flaky", "true").returncode == 0
    prom = root / "textfile" / "inventory_schedule_flaky.prom"
    success = metrics(prom)["inventory_schedule_job_last_success_timestamp_seconds"].value
    failed = job(wrapper, "flaky", "sh", "-c", "echo broken >&2; exit 3")
    assert failed.returncode == 3
    found = metrics(prom)
    assert found["inventory_schedule_job_last_outcome"].value == 0
    assert found["inventory_schedule_job_last_exit_status"].value == 3
    assert found["inventory_schedule_job_last_success_timestamp_seconds"].value == success
    assert found["inventory_schedule_job_last_run_timestamp_seconds"].value >= success
    assert sorted(os.listdir(root / "textfile")) == ["inventory_schedule_flaky.prom"] + sorted(
        name for name in os.listdir(root / "textfile") if name != "inventory_schedule_flaky.prom"
        and not name.startswith(".")), "no temporary file left"
    assert "broken" in sorted((root / "log" / "flaky").iterdir())[-1].read_text()


@pytest.mark.parametrize("rule, day, runs", [
    ("last-sunday", "2026-12-27", True), ("last-sunday", "2026-12-20", False), ("last-sunday", "2026-11-29", True),
    ("last-sunday", "2026-12-26", False), ("first-monday", "2027-01-04", True), ("first-monday", "2027-01-11", False),
    ("first-monday", "2026-12-07", True), ("first-monday", "2026-12-01", False),
])
def test_the_guard_lets_only_the_right_day_through(wrapper, tmp_path, rule, day, runs):
    marker = tmp_path / "ran"
    result = job(wrapper, "guarded", "touch", str(marker), options=("--only-if", rule, "--date", day))
    assert result.returncode == 0, result.stderr
    assert marker.exists() == runs


def test_an_unknown_rule_is_refused(wrapper, tmp_path):
    result = job(wrapper, "guarded", "true", options=("--only-if", "second-tuesday"))
    assert result.returncode == 64
    assert "unknown --only-if rule 'second-tuesday'" in result.stderr
