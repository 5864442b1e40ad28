"""execution-environment.yml: `ansible-builder create` writes the build context offline (no container engine), and
the context holds what the EE must: the base image, the ansible-core range meta/runtime.yml declares, the pinned
Python requirements, bindep.txt, and this checkout's collection as built by ansible-galaxy."""
import hashlib
import json
import os
import subprocess
import tarfile

import pytest
import yaml

from tests.support import playbook as pb

ROOT = pb.ROOT


def load(relpath):
    with open(os.path.join(ROOT, relpath)) as handle:
        return yaml.safe_load(handle)


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def run(*argv):
    proc = subprocess.run(argv, cwd=ROOT, env=pb.ansible_env(), capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    ee = load("execution-environment.yml")
    tarball = ee["additional_build_files"][0]["src"]
    run(os.path.join(pb.BIN, "ansible-galaxy"), "collection", "build", "--force", "--output-path",
        os.path.dirname(os.path.join(ROOT, tarball)))
    path = tmp_path_factory.mktemp("ee") / "context"
    run(os.path.join(pb.BIN, "ansible-builder"), "create", "--file", "execution-environment.yml", "--context",
        str(path), "--output-filename", "Containerfile")
    return ee, os.path.join(ROOT, tarball), path


def test_the_containerfile_installs_the_supported_ansible_core_range(context):
    ee, _tarball, path = context
    containerfile = (path / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="%s"' % ee["images"]["base_image"]["name"] in containerfile
    core = ee["dependencies"]["ansible_core"]["package_pip"]
    assert core == "ansible-core" + load("meta/runtime.yml")["requires_ansible"]
    assert "ARG ANSIBLE_INSTALL_REFS=\"%s %s\"" % (core, ee["dependencies"]["ansible_runner"]["package_pip"]) \
        in containerfile
    assert "ansible-galaxy collection install" in containerfile and "introspect.py introspect" in containerfile


def _pins(name, skip=()):
    with open(os.path.join(ROOT, "requirements", name)) as handle:
        return [line.strip() for line in handle
                if line.strip() and not line.startswith("#") and not line.startswith(tuple(skip))]


def test_the_python_requirements_are_the_managed_and_control_pins(context):
    """The EE runs the modules (managed.txt) and ansible-playbook with the collection's filters (control.txt, but
    ansible-core, which the EE pins as the supported range)."""
    _ee, _tarball, path = context
    copied = [line for line in (path / "_build" / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert copied == _pins("managed.txt") + _pins("control.txt", skip=("ansible-core",))
    assert "matplotlib" in " ".join(copied)
    assert all("==" in line for line in copied), "every requirement pinned"


def test_bindep_is_copied_and_names_the_tools(context):
    _ee, _tarball, path = context
    copied = (path / "_build" / "bindep.txt").read_text()
    with open(os.path.join(ROOT, "bindep.txt")) as handle:
        assert copied == handle.read()
    packages = {line.split()[0] for line in copied.splitlines() if line.strip() and not line.startswith("#")}
    assert {"sqlite3", "sqlite", "zstd", "postgresql-client", "postgresql", "openssh-client"} <= packages


def test_the_context_holds_this_checkouts_collection(context):
    ee, tarball, path = context
    version = load("galaxy.yml")["version"]
    assert os.path.basename(tarball) == "inventory_enterprise-ops-%s.tar.gz" % version, "follow galaxy.yml's version"
    copied = path / "_build" / "collections" / os.path.basename(tarball)
    assert sha256(copied) == sha256(tarball)
    requirements = yaml.safe_load((path / "_build" / "requirements.yml").read_text())
    assert requirements["collections"] == [{"name": "/build/collections/" + os.path.basename(tarball), "type": "file"}]
    assert requirements == ee["dependencies"]["galaxy"]
    with tarfile.open(copied) as archive:
        names = archive.getnames()
        manifest = json.load(archive.extractfile("MANIFEST.json"))
    assert manifest["collection_info"]["version"] == version
    assert "roles/schedule_cron/templates/inventory-schedule-job.sh.j2" in names
    assert "meta/runtime.yml" in names
