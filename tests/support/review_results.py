"""Review results in the common shape of the review modules (COMMON result shape: review, generated_at, findings,
figures, series, unavailable), with the figures a real quarter would give: what the operations report is tested on.

Deterministic: fixed dates and values, so the report rendered from them is the same on every run.
"""
import datetime

GENERATED_AT = "2026-12-01T06:00:00Z"
GIB = 1024 ** 3


def _days(count, end="2026-11-30", step=1):
    last = datetime.date.fromisoformat(end)
    return ["%sT00:00:00Z" % (last - datetime.timedelta(days=step * n)).isoformat() for n in range(count - 1, -1, -1)]


def _months(count, end=(2026, 11)):
    year, month = end
    found = []
    for _month in range(count):
        found.append("%04d-%02d-01T00:00:00Z" % (year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return found[::-1]


def _time(unit, title, xs, ys, **extra):
    return dict(kind="time", unit=unit, title=title, points=[[x, y] for x, y in zip(xs, ys)], **extra)


def _category(unit, title, pairs, **extra):
    return dict(kind="category", unit=unit, title=title, points=[[label, value] for label, value in pairs], **extra)


def _result(review, findings=(), figures=None, series=None, unavailable=()):
    return {"changed": False, "review": review, "generated_at": GENERATED_AT, "findings": list(findings),
            "figures": figures or {}, "series": series or {}, "unavailable": list(unavailable)}


def finding(ident, severity, summary, subject, value=None, threshold=None):
    return {"id": ident, "severity": severity, "summary": summary, "subject": subject, "value": value,
            "threshold": threshold}


def capacity():
    weeks = _days(13, step=7)
    db_size = [int(1.10 * GIB + n * 0.035 * GIB) for n in range(13)]
    findings = [
        finding("disk_runway_short", "high", "backups filesystem fills in 41 days (2027-01-11) at 0.9 GiB a day",
                "/opt/inventory-enterprise/backups", 41, 90),
        finding("cache_memory_near_limit", "medium", "Redis uses 1.62 GB of the guide's 1.8 GB", "redis", 1.62, 1.8),
    ]
    figures = {"db_size_bytes": db_size[-1], "db_growth_bytes_per_day": 5368709, "runway_backups_days": 41,
               "runway_data_days": 380, "runway_logs_days": 512}
    series = {
        "db_size_bytes": _time("bytes", "Database size", weeks, db_size),
        "rows_total": _time("count", "Rows in all tables", weeks, [812000 + 9100 * n for n in range(13)]),
        "backup_size_bytes": _time("bytes", "Backup archive size", weeks, [int(s * 0.42) for s in db_size]),
        "disk_runway_days": _category("days", "Disk runway at the measured growth",
                                      [("data", 380), ("logs", 512), ("backups", 41)], target=90),
        "cache_memory_bytes": _time("bytes", "Cache memory", weeks, [int((1.2 + 0.035 * n) * 1e9) for n in range(13)],
                                    target=1.8e9),
        "p95_latency_ms": _time("ms", "p95 latency", weeks, [62, 64, 61, 70, 68, 73, 71, 77, 75, 80, 79, 84, 86],
                                target=100),
    }
    return _result("capacity", findings, figures, series)


def migration():
    days = _days(30)
    findings = [
        finding("busy_errors_rising", "medium", "SQLite busy errors doubled over the quarter (3.1 a day)",
                "data/enterprise_inventory.db", 3.1, 2),
        finding("migration_recommendation", "info",
                "stay on SQLite this quarter; re-evaluate when busy errors pass 5 a day", "postgresql migration", "stay"),
    ]
    figures = {"recommendation": "stay", "writes_per_second_peak": 14.2, "parity_mismatches_90d": 0}
    series = {
        "busy_errors_per_day": _time("count", "SQLite busy errors per day", days, [(n * 7) % 6 for n in range(30)]),
        "lock_waits_per_day": _time("count", "Lock waits per day", days, [10 + (n * 5) % 9 for n in range(30)]),
        "writes_per_day": _time("count", "Writes per day", days, [41000 + (n * 977) % 6000 for n in range(30)]),
    }
    unavailable = [{"source": "postgresql", "reason": "127.0.0.1:5432: connection refused (mirror health not measured)"}]
    return _result("migration", findings, figures, series, unavailable)


def runbooks():
    findings = [
        finding("runbook_step_failed", "medium", "step 3 (restart the service) failed in 1 of 4 runs", "high_memory", 1, 0),
        finding("runbook_never_exercised", "low", "no run this quarter", "dr_failover"),
    ]
    series = {
        "runs_per_runbook": _category("count", "Runs per runbook",
                                      [("high_memory", 4), ("slow_api", 3), ("cache_down", 2), ("dr_failover", 0)]),
        "duration_per_runbook": _category("seconds", "Median duration per runbook",
                                          [("high_memory", 184), ("slow_api", 420), ("cache_down", 95)]),
        "alerts_fired": _category("count", "Alerts fired",
                                  [("HighMemory", 5), ("SlowAPI", 3), ("CacheDown", 2), ("HighModelMAPE", 1)]),
    }
    return _result("runbooks", findings, {"runs_total": 9, "runbooks_never_exercised": 1}, series)


def security():
    found = [
        finding("env_file_mode", "critical", ".env is readable by every user (mode 0644)",
                "/opt/inventory-enterprise/.env", "0644", "0600"),
        finding("jwt_secret_short", "high", "JWT secret is 16 characters long; at least 32 are needed",
                "JWT_SECRET", 16, 32),
        finding("unexpected_port", "medium", "port 6379 <redis> listens on 0.0.0.0 & is not expected",
                "0.0.0.0:6379", 6379, None),
        finding("backup_encryption_on", "info", "off-site copies are encrypted with age", "backups"),
    ]
    counts = [(severity, sum(1 for f in found if f["severity"] == severity))
              for severity in ("critical", "high", "medium", "low", "info")]
    return _result("security", found, {"admin_accounts": 2, "listening_ports": 3},
                   {"findings_by_severity": _category("count", "Findings by severity", counts)},
                   [{"source": "accounts", "reason": "http://127.0.0.1:8083/api/users: 401 Unauthorized"}])


def performance():
    days = _days(30)
    months = _months(6)
    findings = [
        finding("route_p95_slow", "high", "POST /api/orders p95 is 142 ms", "POST /api/orders", 142, 100),
        finding("cache_hit_rate_low", "medium", "cache hit rate 82.4 % this month", "cache", 82.4, 85),
        finding("model_mape_high", "low", "3 models above 20 % MAPE", "ai models", 3, 0),
    ]
    routes = [("GET /api/inventory/items", 84), ("POST /api/orders", 142), ("GET /api/inventory/items/{id}", 41),
              ("GET /health", 3), ("POST /api/ai/forecast", 97)]
    mape = {"median": [[m, v] for m, v in zip(months, [11.2, 10.8, 11.9, 10.1, 9.8, 9.5])],
            "p90": [[m, v] for m, v in zip(months, [22.4, 21.0, 23.5, 19.8, 18.7, 18.1])]}
    buckets = [("0-5 %", 41), ("5-10 %", 77), ("10-15 %", 35), ("15-20 %", 12), ("20 % +", 3)]
    worst = [("SKU-10442", 31.5), ("SKU-20017", 26.2), ("SKU-00931", 21.9)]
    series = {
        "p95_by_route_ms": _category("ms", "p95 per route", routes, target=100),
        "p95_daily_ms": _time("ms", "p95 latency per day", days, [70 + (n * 13) % 30 for n in range(30)], target=100),
        "cache_hit_rate_daily": _time("percent", "Cache hit rate per day", days, [79.5 + (n * 7) % 9 for n in range(30)],
                                      target=85),
        "errors_per_day": _time("count", "Errors per day", days, [(n * 5) % 4 for n in range(30)]),
        "backup_duration_seconds": _time("seconds", "Backup duration", days, [48 + (n * 3) % 11 for n in range(30)]),
        "backup_size_bytes": _time("bytes", "Backup size", days, [int((0.61 + 0.002 * n) * GIB) for n in range(30)]),
        "model_mape_monthly": _time("percent", "Model MAPE per month", months, [], target=15, groups=mape),
        "model_mape_distribution": _category("count", "Models by MAPE", buckets),
        "model_worst_items": _category("percent", "Worst items (MAPE)", worst, target=20),
        "dr_rto_seconds": _time("seconds", "DR drill RTO", _months(3), [1500, 1380, 1260], target=3600),
        "dr_rpo_seconds": _time("seconds", "DR drill RPO", _months(3), [30600, 28800, 27000], target=86400),
    }
    figures = {"p95_ms": 88, "cache_hit_rate": 82.4, "errors_total": 57, "dr_rto_seconds": 1260}
    return _result("performance", findings, figures, series)


def empty_performance():
    """A review that ran while Prometheus was down: charts without points, and the reason."""
    result = performance()
    result["findings"] = []
    for series in result["series"].values():
        series["points"] = []
        series.pop("groups", None)
    result["unavailable"] = [{"source": "prometheus", "reason": "http://127.0.0.1:9090: connection refused"}]
    return result


def failed(review, msg):
    """A review module that failed (nothing at all could be read), as a play that went on records it."""
    return {"changed": False, "failed": True, "review": review, "msg": msg}


def fleet():
    """{host: {review: result}}: a host with every review, one with some and a failed one, one whose source was
    down."""
    return {
        "app1": {"capacity": capacity(), "migration": migration(), "runbooks": runbooks(), "security": security(),
                 "performance": performance()},
        "app2": {"capacity": capacity(), "security": security(),
                 "runbooks": failed("runbooks", "runbooks: no runbook report under /var/log/inventory-runbooks and "
                                    "Alertmanager at http://127.0.0.1:9093 refused the connection: nothing to review")},
        "db1": {"performance": empty_performance()},
    }
