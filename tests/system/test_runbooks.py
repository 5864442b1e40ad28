"""The guide's "System Down", "Backup Failed" and "Cache Misses" runbooks against a deployed reference service: each brings the
host back (service answering, verified backup written) or fails saying what to do next."""
import json
import os
import re
import stat

import redis
import requests

from tests.support import playbook as pb


def report(run, host):
    return run.task_results("Report what the runbook did")[host]["msg"]


def last_journal_record():
    """The newest run the runbook_journal callback (enabled in ansible.cfg) recorded."""
    directory = pb.runbook_journal_dir()
    newest = max((os.path.join(directory, name) for name in os.listdir(directory)), key=os.path.getmtime)
    with open(newest) as handle:
        return json.load(handle)


def test_system_down_restarts_a_stopped_service(deployment):
    deployment.control("stopped")
    run = deployment.play("playbooks/runbooks/system_down.yml")
    assert run.rc == 0, run
    assert deployment.health().status_code == 200
    lines = report(run, deployment.host)
    assert "health before 200" not in lines[0] and "after step 4 200" in lines[0], lines
    assert lines[1] == "no restore needed"


def test_system_down_on_a_healthy_host_changes_nothing(deployment):
    run = deployment.play("playbooks/runbooks/system_down.yml")
    assert run.rc == 0, run
    assert run.changed() == 0
    assert report(run, deployment.host)[1] == "no restore needed"
    record = last_journal_record()
    assert (record["runbook"], record["status"], record["failed_tasks"]) == ("system_down", "successful", [])
    assert record["hosts"][deployment.host]["changed"] == 0 and record["hosts"][deployment.host]["failed"] == 0


def test_system_down_escalates_when_the_service_cannot_start(deployment):
    """A service that dies at start (unreadable .env) is not restored without permission: the play fails naming
    the next step."""
    env_file = os.path.join(deployment.home, ".env")
    mode = stat.S_IMODE(os.stat(env_file).st_mode)
    with open(env_file) as handle:
        saved = handle.read()
    deployment.control("stopped")
    try:
        with open(env_file, "w") as handle:
            handle.write(saved.replace("PORT=", "PORT=not-a-port\n#PORT="))
        run = deployment.play("playbooks/runbooks/system_down.yml")
    finally:
        with open(env_file, "w") as handle:
            handle.write(saved)
        os.chmod(env_file, mode)
        deployment.control("started")
    assert run.rc != 0
    escalation = run.task_results("Escalate when still down")[deployment.host]
    assert escalation["failed"] and "dr_restore.yml" in escalation["msg"], escalation
    assert deployment.health().status_code == 200
    record = last_journal_record()
    assert (record["runbook"], record["status"]) == ("system_down", "failed")
    assert record["failed_tasks"][-1]["task"] == "Escalate when still down"
    assert "dr_restore.yml" in record["failed_tasks"][-1]["message"]


def test_backup_failed_writes_and_verifies_a_backup(deployment):
    run = deployment.play("playbooks/runbooks/backup_failed.yml")
    assert run.rc == 0, run
    backup = run.task_results("3. Manual backup")[deployment.host]["backup"]
    assert os.path.isfile(backup["path"])
    verified = run.task_results("5. Verify the backup")[deployment.host]
    assert verified["verification"]["integrity_check"] == "ok"
    assert verified["verification"]["archive_sha256"] == backup["archive_sha256"]
    lines = report(run, deployment.host)
    assert lines[1] == "pruned: []"
    assert os.path.basename(backup["path"]) in lines[3]


def test_backup_failed_escalates_when_the_database_is_gone(deployment, tmp_path):
    """No database to back up: both attempts fail with the module's message and no archive appears."""
    elsewhere = str(tmp_path / "backups")
    run = pb.run_playbook("playbooks/runbooks/backup_failed.yml", deployment.inventory,
                          extra_vars={"runbook_service_home": str(tmp_path / "missing-home"),
                                      "runbook_backup_dir": elsewhere})
    assert run.rc != 0
    second = run.task_results("3. Manual backup, second attempt")[deployment.host]
    assert second["failed"] and "does not exist" in second["msg"], second
    escalation = run.task_results("Escalate when the manual backup still fails")[deployment.host]
    assert "failed twice" in escalation["msg"] and "DevOps lead" in escalation["msg"], escalation
    assert not os.path.exists(elsewhere) or not [n for n in os.listdir(elsewhere) if n.startswith("inventory_")]


def service_pid(deployment):
    with open(os.path.join(deployment.home, "run", "inventory-enterprise.pid")) as handle:
        return int(handle.readline())


def vm_rss_mb(pid):
    with open("/proc/%d/status" % pid) as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:")) / 1024.0


def test_high_memory_restarts_over_the_limit_caps_redis_and_escalates(deployment):
    """Over a 1 MB limit the service is restarted (health-gated by the service role), the private Redis is capped
    as asked, and the new process still being over the limit escalates; under the limit nothing changes."""
    import redis  # pylint: disable=import-outside-toplevel
    from tests.support.servers import RedisServer  # pylint: disable=import-outside-toplevel
    private = RedisServer().start()
    try:
        before = service_pid(deployment)
        rss_before = vm_rss_mb(before)
        run = deployment.play("playbooks/runbooks/high_memory.yml", extra_vars={
            "runbook_memory_max_mb": 1, "runbook_redis_url": private.url, "runbook_redis_maxmemory": "64mb"})
        assert run.rc != 0
        escalation = run.task_results("Escalate when memory stays over the limit after the restart")[deployment.host]
        assert escalation["failed"] and "page the on-call engineer" in escalation["msg"], escalation
        after = service_pid(deployment)
        assert after != before and deployment.health().status_code == 200
        lines = report(run, deployment.host)
        reported = float(re.search(r"service RSS ([\d.]+) MB \(limit 1 MB\) OVER", lines[0]).group(1))
        assert abs(reported - rss_before) < max(5.0, rss_before * 0.2), (reported, rss_before)
        assert "set: CONFIG SET maxmemory 67108864" in lines[2], lines
        assert lines[3].startswith("restarted; RSS after "), lines
        client = redis.Redis.from_url(private.url)
        assert client.config_get("maxmemory")["maxmemory"] == str(64 * 1024 * 1024)
        client.close()

        calm = deployment.play("playbooks/runbooks/high_memory.yml", extra_vars={"runbook_redis_url": private.url})
        assert calm.rc == 0, calm
        assert calm.changed() == 0 and service_pid(deployment) == after
        lines = report(calm, deployment.host)
        assert "OVER" not in lines[0] and lines[3] == "no restart needed", lines
        assert "maxmemory 67108864 bytes" in lines[2] and "set:" not in lines[2], lines
    finally:
        private.close()


def env_value(home, key):
    with open(os.path.join(home, ".env")) as handle:
        return next((line.split("=", 1)[1].strip() for line in handle if line.startswith(key + "=")), None)


def test_cache_misses_raises_ttls_clears_only_the_service_keys_and_warms(deployment):
    """A Redis shared with another tenant: the runbook clears the service's keys only (never FLUSHDB)."""
    cache = redis.Redis.from_url(deployment.vars["service_redis_url"], decode_responses=True)
    tenant = {"billing:session:1": "kept", "billing:session:2": "kept too"}
    cache.mset(tenant)
    for limit in range(1, 11):  # ten entries of their own, each requested once: ten misses
        assert requests.get(deployment.url + "/api/inventory/items?limit=%d" % limit, timeout=5).status_code == 200
    before = requests.get(deployment.url + "/api/cache/stats", timeout=5).json()
    assert before["hit_rate"] < 85 and before["ttl_seconds"]["inventory"] == 300

    run = deployment.play("playbooks/runbooks/cache_misses.yml", extra_vars={"runbook_raise_ttls": True})
    assert run.rc == 0, run
    assert env_value(deployment.home, "REDIS_TTL_INVENTORY") == "600"
    assert env_value(deployment.home, "REDIS_TTL_FORECASTS") == "172800"
    assert deployment.health().status_code == 200
    assert requests.get(deployment.url + "/api/cache/stats", timeout=5).json()["ttl_seconds"] == {
        "inventory": 600, "forecasts": 172800}
    # The ten item entries are gone, the guide's two are warm again (with the new TTL), the tenant kept its keys.
    assert sorted(cache.scan_iter(match="ie:cache:*")) == ["ie:cache:dashboard:stats", "ie:cache:inventory:list"]
    assert 590 < cache.ttl("ie:cache:inventory:list") <= 600
    assert dict((key, cache.get(key)) for key in tenant) == tenant
    lines = report(run, deployment.host)
    assert lines[0].startswith("app1: hit rate before %s%%, after " % before["hit_rate"]), lines
    assert lines[1].startswith("TTLs raised: before"), lines
    assert re.match(r"cleared (1[0-9]) key\(s\) under ie:cache:, ([2-9]|[1-9][0-9]+) other key\(s\) kept$", lines[2]), lines
