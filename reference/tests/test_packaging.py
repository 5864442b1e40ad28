"""The Ansible role installs the wheel built from this directory: prove it builds and is complete."""
import subprocess
import sys
import zipfile

import inventory_service
from refhelpers import REPO


def test_wheel_builds_with_entry_point(tmp_path):
    # "./reference", not "reference": pip 26 reads a bare word as a project name on the index, even when a
    # directory of that name exists, and fetches an unrelated "reference" distribution.
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "./reference", "-w", str(tmp_path)],
                            cwd=REPO, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = list(tmp_path.glob("inventory_enterprise_reference-2.1.0-*.whl"))
    assert len(wheels) == 1
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
        modules = {name.split("/", 1)[1] for name in names if name.startswith("inventory_service/")}
        assert {"__init__.py", "app.py", "cache.py", "cli.py", "config.py", "db.py", "demo.py", "load.py",
                "logs.py", "metrics.py", "auth.py"} <= modules
        assert not any(name.startswith("tests/") for name in names)
        # Symlinks to the collection's module_utils files (one implementation of each computation): the wheel
        # must hold their content, not links.
        for module, shared in (("consumption", "_consumption"), ("forecast", "_forecast"),
                               ("model_registry", "_model_registry"), ("model_review", "_model_review")):
            content = (REPO / "plugins" / "module_utils" / (shared + ".py")).read_bytes()
            assert wheel.read("inventory_service/%s.py" % module) == content
        dist_info = next(name.split("/")[0] for name in names if name.endswith(".dist-info/METADATA"))
        entry_points = wheel.read(dist_info + "/entry_points.txt").decode()
        metadata = wheel.read(dist_info + "/METADATA").decode()
    assert "inventory-service = inventory_service.cli:main" in entry_points
    assert "Version: 2.1.0" in metadata and "Requires-Python: >=3.9" in metadata
    for dependency in ("fastapi", "uvicorn", "redis", "prometheus-client", "pyjwt", "psycopg2-binary", "requests"):
        assert "Requires-Dist: %s" % dependency in metadata.lower().replace("requires-dist", "Requires-Dist")
    assert inventory_service.__version__ == "2.1.0"
