# Entry points: `make demo` (deploy the reference service here, back it up, run the morning checks) and
# `make test` (everything CI runs). Other targets are the pieces of those two.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LINK := build/collections/ansible_collections/inventory_enterprise/ops
WHEEL := build/dist/inventory_enterprise_reference-2.1.0-py3-none-any.whl
DEMO_INVENTORY := inventories/demo/hosts.yml
DEMO_HOME := demo/inventory-enterprise

.PHONY: venv system link wheel demo demo-stop test lint sanity units system-tests bench changelog collection clean

$(BIN)/.installed: requirements/control.txt requirements/managed.txt requirements/dev.txt reference/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements/dev.txt -e ./reference
	touch $@

venv: $(BIN)/.installed

system:
	bash tests/setup-system.sh

# Ansible finds the collection in build/collections (see ansible.cfg) through this link to the checkout.
link:
	@mkdir -p $(dir $(LINK))
	@ln -sfn ../../../.. $(LINK)

$(WHEEL): venv reference/pyproject.toml $(shell find reference/inventory_service -name '*.py' 2>/dev/null)
	$(BIN)/pip wheel -q --no-deps ./reference -w build/dist
	touch $@

wheel: $(WHEEL)

demo: venv link wheel
	$(BIN)/ansible-playbook -i $(DEMO_INVENTORY) playbooks/site.yml
	$(DEMO_HOME)/venv/bin/inventory-service seed --env-file $(DEMO_HOME)/.env
	$(BIN)/ansible-playbook -i $(DEMO_INVENTORY) playbooks/nightly_backup.yml
	$(BIN)/ansible-playbook -i $(DEMO_INVENTORY) playbooks/daily.yml --tags daily_operations_morning
	@echo
	@echo "Inventory Enterprise (reference service) is running at http://127.0.0.1:8083 (home: $(DEMO_HOME))."
	@echo "Admin password: $(DEMO_HOME)/../secrets/admin_password.  Stop it with: make demo-stop"

demo-stop: venv link
	$(BIN)/ansible-playbook -i $(DEMO_INVENTORY) playbooks/service_control.yml -e service_state=stopped

test: system venv link wheel
	$(BIN)/python tests/run_suite.py

lint sanity units: system venv link wheel
	$(BIN)/python tests/run_suite.py $@

system-tests: system venv link wheel
	$(BIN)/python tests/run_suite.py system tooling ai

bench: system venv link wheel
	$(BIN)/python bench/run.py

changelog: venv
	$(BIN)/antsibull-changelog lint

collection: venv
	$(BIN)/ansible-galaxy collection build --force --output-path build/

clean:
	rm -rf build .pytest_cache
