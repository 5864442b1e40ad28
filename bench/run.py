"""Runs every benchmark under bench/ (each compares our way with the baseline in the same run)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import (  # noqa: E402
    ai_accuracy, backup, cache_warm, fleet_morning, log_archive, log_review, morning_checks, offsite_encryption, parity,
    performance_report, retrain, vacuum)

BENCHMARKS = {"morning": morning_checks.main, "fleet": fleet_morning.main, "backup": backup.main,
              "vacuum": vacuum.main, "parity": parity.main,
              "offsite": offsite_encryption.main, "retrain": retrain.main, "ai_accuracy": ai_accuracy.main,
              "cache_warm": cache_warm.main, "log_review": log_review.main, "log_archive": log_archive.main,
              "performance": performance_report.main}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(BENCHMARKS):
        BENCHMARKS[name]()
