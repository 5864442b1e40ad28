"""`make collection` in a checkout where `make demo` and `make test` have run ships the collection and nothing else.

The build runs in a temporary copy of the checkout's tracked files, to which the test adds what the demo and the
suite leave behind (the demo's .env, secrets, database, backups and virtualenv; the test tools' nested copy of the
checkout under .ansible/; build/ outputs; caches), so the real checkout is never touched.
"""
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# What a collection consists of; everything tracked under these ships, nothing else does.
COLLECTION_FILES = {"README.md", "LICENSE", "COPYING"}
COLLECTION_DIRS = ("meta/", "plugins/", "roles/", "playbooks/", "docs/", "changelogs/", "tests/sanity/")
GENERATED_BY_BUILD = {"MANIFEST.json", "FILES.json"}
MAX_BYTES = 2 * 1024 * 1024


def tracked_files():
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    return [name for name in out.decode().split("\0") if name and os.path.lexists(os.path.join(ROOT, name))]


def write(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(content, bytes) else "w") as handle:
        handle.write(content)


def lab_secrets():
    with open(os.path.join(ROOT, "tests", "lab", "inventory", "group_vars", "all.yml")) as handle:
        lab_vars = yaml.safe_load(handle)
    found = [value for key, value in lab_vars.items()
             if isinstance(value, str) and ("password" in key or "secret" in key) and "{{" not in value]
    assert found, "tests/lab/inventory/group_vars/all.yml no longer holds lab secrets: update this test"
    return found


def leave_demo_behind(checkout, secret):
    """What `make demo` leaves in demo/: secrets, the service's .env, database, backups and virtualenv."""
    demo = os.path.join(checkout, "demo")
    home = os.path.join(demo, "inventory-enterprise")
    write(os.path.join(demo, "secrets", "admin_password"), secret["admin"])
    write(os.path.join(demo, "secrets", "jwt_secret"), secret["jwt"])
    write(os.path.join(home, ".env"), "JWT_SECRET=%s\nADMIN_PASSWORD=%s\nDATABASE_PATH=%s/data/inventory.db\n"
          % (secret["jwt"], secret["admin"], home))
    os.makedirs(os.path.join(home, "data"))
    with sqlite3.connect(os.path.join(home, "data", "inventory.db")) as db:
        db.execute("CREATE TABLE users (name TEXT, password TEXT)")
        db.execute("INSERT INTO users VALUES ('admin', ?)", (secret["admin"],))
    db.close()
    write(os.path.join(home, "backups", "inventory-20250101-020000.tar.zst"),
          b"\x28\xb5\x2f\xfd" + ("JWT_SECRET=%s\n" % secret["jwt"]).encode() * 100)
    write(os.path.join(home, "backups", "inventory-20250101-020000.tar.gz.sha256"), "0" * 64 + "\n")
    venv = os.path.join(home, "venv")
    write(os.path.join(venv, "pyvenv.cfg"), "home = %s\n" % os.path.dirname(sys.executable))
    site = os.path.join(venv, "lib", "python3.11", "site-packages")
    write(os.path.join(site, "inventory_service", "__init__.py"), "")
    # A compiled extension as big as pydantic-core's: a virtualenv in the tarball shows in its size.
    write(os.path.join(site, "pydantic_core", "_pydantic_core.cpython-311-x86_64-linux-gnu.so"), os.urandom(3 << 20))
    os.makedirs(os.path.join(venv, "bin"))
    os.symlink(sys.executable, os.path.join(venv, "bin", "python"))


def leave_suite_behind(checkout, secret, lab_values):
    """What `make test` and the test tools leave: build/, a nested copy under .ansible/, caches, a lab inventory."""
    nested = os.path.join(checkout, ".ansible", "collections", "ansible_collections", "inventory_enterprise", "ops")
    for name in ("galaxy.yml", "README.md", "plugins/modules/backup.py"):
        write(os.path.join(nested, name), open(os.path.join(checkout, name)).read())
    shutil.copytree(os.path.join(checkout, "demo"), os.path.join(nested, "demo"), symlinks=True)
    write(os.path.join(checkout, ".ansible", "roles", "x", "tasks", "main.yml"), "---\n")
    link = os.path.join(checkout, "build", "collections", "ansible_collections", "inventory_enterprise", "ops")
    os.makedirs(os.path.dirname(link))
    os.symlink("../../../..", link)
    write(os.path.join(checkout, "build", "dist", "inventory_enterprise_reference-2.1.0-py3-none-any.whl"),
          b"PK\x03\x04" + os.urandom(4096))
    write(os.path.join(checkout, "build", "results", "system.xml"), "<testsuites/>")
    write(os.path.join(checkout, "build", "sanity", "ansible_collections", "inventory_enterprise", "ops", "demo",
                       "secrets", "jwt_secret"), secret["jwt"])
    write(os.path.join(checkout, "build", "inventory_enterprise-ops-0.1.0.tar.gz"), os.urandom(4096))
    write(os.path.join(checkout, "inventory_enterprise-ops-0.0.9.tar.gz"), os.urandom(4096))
    write(os.path.join(checkout, ".venv", "pyvenv.cfg"), "home = /usr/bin\n")
    write(os.path.join(checkout, ".venv", "lib", "python3.11", "site-packages", "yaml", "__init__.py"), "")
    write(os.path.join(checkout, ".pytest_cache", "v", "cache", "nodeids"), "[]")
    write(os.path.join(checkout, "tests", "output", "junit", "python3.11-units.xml"), "<testsuites/>")
    write(os.path.join(checkout, "reference", "build", "lib", "inventory_service", "__init__.py"), "")
    write(os.path.join(checkout, "plugins", "modules", "__pycache__", "backup.cpython-311.pyc"), os.urandom(512))
    write(os.path.join(checkout, "playbooks", "site.retry"), "localhost\n")
    # Tool caches inside the collection's own directories, with names the allow-list's patterns match.
    write(os.path.join(checkout, "roles", "service", ".ansible", "tmp", "vars.yml"), "jwt: %s\n" % secret["jwt"])
    write(os.path.join(checkout, "plugins", "modules", ".backup.py.swp.py"), "")
    write(os.path.join(checkout, "roles", "backup", "tasks", ".cache", "v1", "restore.yml"),
          "jwt: %s\n" % secret["jwt"])
    write(os.path.join(checkout, "tests", "lab", "inventory", "hosts.yml"),
          "all:\n  vars:\n    ansible_password: %s\n" % lab_values[0])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tarball `make collection` builds in a used checkout, and the secrets that checkout holds."""
    checkout = str(tmp_path_factory.mktemp("checkout") / "ops")
    tracked = tracked_files()
    for name in tracked:
        source, target = os.path.join(ROOT, name), os.path.join(checkout, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    secret = {"admin": secrets.token_hex(10), "jwt": secrets.token_hex(24)}
    lab_values = lab_secrets()
    leave_demo_behind(checkout, secret)
    leave_suite_behind(checkout, secret, lab_values)
    out = str(tmp_path_factory.mktemp("out"))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-galaxy"), "collection", "build",
                           "--force", "--output-path", out], cwd=checkout, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, "ansible-galaxy collection build failed:\n%s%s" % (proc.stdout, proc.stderr)
    # distlib reports a directive that matches nothing (a stale allow-list entry) on stderr.
    assert "[WARNING]" not in proc.stderr and "no files found" not in proc.stderr, proc.stderr
    tarballs = [name for name in os.listdir(out) if name.endswith(".tar.gz")]
    assert len(tarballs) == 1, tarballs
    return {"path": os.path.join(out, tarballs[0]), "tracked": tracked,
            "secrets": list(secret.values()) + lab_values}


def members(built):
    with tarfile.open(built["path"]) as tar:
        return [m for m in tar.getmembers() if m.isfile() or m.issym()]


def test_ships_only_the_collections_own_tracked_files(built):
    shipped = {m.name for m in members(built)} - GENERATED_BY_BUILD
    tracked = set(built["tracked"])
    not_tracked = sorted(shipped - tracked)
    assert not_tracked == [], "generated or local files in the tarball"
    outside = sorted(name for name in shipped if name not in COLLECTION_FILES and not name.startswith(COLLECTION_DIRS))
    assert outside == [], "files outside the collection's own directories"


def test_ships_every_tracked_file_of_the_collection(built):
    """The allow-list is no excuse for a tarball that lacks a module, a role file or a doc."""
    shipped = {m.name for m in members(built)}
    expected = {name for name in built["tracked"]
                if (name in COLLECTION_FILES or name.startswith(COLLECTION_DIRS))
                and not os.path.basename(name).startswith(".")}
    assert sorted(expected - shipped) == []
    assert "plugins/modules/backup.py" in shipped and "meta/runtime.yml" in shipped


def test_no_secret_database_archive_or_virtualenv(built):
    for member in members(built):
        parts = member.name.split("/")
        assert not {"demo", "secrets", ".ansible", "venv", ".venv", "site-packages", "__pycache__",
                    "inventories", "build"} & set(parts), member.name
        assert parts[-1] not in (".env", "pyvenv.cfg"), member.name
        assert not member.name.startswith("tests/lab/"), member.name  # the lab inventory and its passwords
        assert not parts[-1].endswith((".db", ".sqlite", ".sqlite3", ".db-wal", ".zst", ".tar", ".gz", ".tgz",
                                       ".zip", ".whl", ".pyc", ".retry")), member.name


def test_no_known_secret_in_any_file(built):
    with tarfile.open(built["path"]) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            content = tar.extractfile(member).read()
            for value in built["secrets"]:
                assert value.encode() not in content, "a secret of the demo or the lab is in %s" % member.name


def test_size_reflects_the_source_alone(built):
    size = os.path.getsize(built["path"])
    print("collection tarball: %d bytes, %d files" % (size, len(members(built))))
    assert size < MAX_BYTES
