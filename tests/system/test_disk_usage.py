"""The disk_usage action (df over the connection, no module run) gives health_check's disk verdicts."""
from tests.support import playbook as pb


def test_df_and_statvfs_agree_and_failures_are_named(deployment, tmp_path):
    data = str(tmp_path)
    paths = [data, {"path": data, "max_used_percent": 0.01}, str(tmp_path / "missing dir"), "/"]
    run = pb.run_playbook("tests/system/playbooks/disk_usage.yml", deployment.inventory,
                          extra_vars={"paths": paths}, check=False)
    by_df = run.task_results("Check the disks with df")[deployment.host]
    by_module = run.task_results("Check the disks with the module")[deployment.host]["hosts"][0]
    assert [c["verdict"] for c in by_df["checks"]] == ["ok", "failed", "failed", "ok"]
    assert [(c["name"], c["verdict"], c["threshold"]) for c in by_df["checks"]] == \
        [(c["name"], c["verdict"], c["threshold"]) for c in by_module["checks"]]
    for df_check, module_check in zip(by_df["checks"], by_module["checks"]):
        if df_check["value"] is not None:  # df rounds to 1 KiB blocks: the percent may differ in the last digit
            assert abs(df_check["value"] - module_check["value"]) <= 0.2, (df_check, module_check)
    assert by_df["checks"][2]["message"] == by_module["checks"][2]["message"]
    assert "missing dir does not exist" in by_df["checks"][2]["message"]
    assert by_df["failed_checks"] == by_module["failed_checks"] and by_df["changed"] is False
    strict = run.task_results("Check the disks with df, failing on a failed check")[deployment.host]
    assert strict["failed"] is True
    assert strict["msg"].startswith("disk_usage failed on %s: disk:%s (" % (deployment.host, data))
    assert run.rc != 0
