"""Morning checks across 1, 5, 10 and 20 app servers of the lab (real SSH hosts), with Ansible's stock
settings against tuned ones (forks, pipelining, long-lived SSH multiplexing), and tuned with the network checks
run from the control node (daily_operations_check_from=controller; the disks then go through the disk_usage
action, no module run on the hosts), and a play of one ansible.builtin.ping per host for reference, in the
same run.

Target: 20 hosts in no more than 4x the wall time of one host."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import RESULTS, ROOT, time_command  # noqa: E402
from tests.support import playbook as pb  # noqa: E402

LAB = os.path.join(ROOT, "tests", "lab", "lab.py")
INVENTORY = os.path.join(ROOT, "tests", "lab", "inventory", "hosts.yml")
SIZES = (1, 5, 10, 20)
CHECKS = ["health", "metrics", "redis", "disk", "memory"]
STOCK = {"ANSIBLE_FORKS": "5", "ANSIBLE_PIPELINING": "0",  # Ansible's own defaults
         "ANSIBLE_SSH_ARGS": "-C -o ControlMaster=auto -o ControlPersist=60s"}
TUNED = {"ANSIBLE_FORKS": "25", "ANSIBLE_PIPELINING": "1",
         "ANSIBLE_SSH_ARGS": "-C -o ControlMaster=auto -o ControlPersist=30m"}
# label: (environment, where the network checks run; None: bench/playbooks/ping.yml for reference)
SETTINGS = {
    "stock": (STOCK, "host"),
    "tuned": (TUNED, "host"),
    "controller": (TUNED, "controller"),
    "ping": (TUNED, None),
}


def main(repeats=3):
    subprocess.run([sys.executable, LAB, "up", "--app-servers", str(max(SIZES))], cwd=ROOT, check=True)
    try:
        deploy = pb.run_playbook("playbooks/site.yml", INVENTORY, extra_vars={"site_batch_size": "100%"},
                                 timeout=3600)
        if deploy.rc != 0:
            raise SystemExit("fleet deploy failed:\n%r" % deploy)
        playbook = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")
        report = {"benchmark": "fleet morning checks", "repeats": repeats, "results": {}}
        for label, (settings, check_from) in SETTINGS.items():
            env = pb.ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", **settings)
            if check_from is None:
                args = ["bench/playbooks/ping.yml"]
            else:
                args = ["playbooks/daily.yml", "--tags", "daily_operations_morning", "-e", json.dumps(
                    {"daily_operations_morning_checks": CHECKS, "daily_operations_check_from": check_from})]
            for size in SIZES:
                cmd = [playbook, "-i", INVENTORY] + args + ["--limit", "app_servers[0:%d]" % (size - 1)]
                time_command(cmd, env=env)  # warm-up: SSH masters, caches
                runs = sorted(time_command(cmd, env=env) for _ in range(repeats))
                report["results"]["%s/%d" % (label, size)] = {"min": runs[0], "median": runs[len(runs) // 2],
                                                              "runs": runs}
                print("  %-6s %2d hosts: median %6.2fs" % (label, size, runs[len(runs) // 2]), flush=True)
        for label in SETTINGS:
            one = report["results"]["%s/1" % label]["median"]
            twenty = report["results"]["%s/%d" % (label, max(SIZES))]["median"]
            report["%s_ratio_20_to_1" % label] = twenty / one
            print("  %s: 20 hosts take %.2fx the time of 1 host" % (label, twenty / one), flush=True)
        os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
        with open(RESULTS, "a") as handle:
            handle.write(json.dumps(report) + "\n")
        return report
    finally:
        subprocess.run([sys.executable, LAB, "down"], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
