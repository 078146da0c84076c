# baremetal.lb — the two commands a newcomer needs are `make demo` and `make test`.
# Everything else here is a step those two call; each step installs what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      ?= .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
# The collection must sit at ansible_collections/baremetal/lb for Ansible, ansible-test and
# Python imports of its module_utils; a symlink to this checkout gives that without copying.
COLL_ROOT := .build/collections
COLL_LINK := $(COLL_ROOT)/ansible_collections/baremetal/lb
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(COLL_ROOT)
# Let Python cache bytecode (__pycache__, ignored by git, the tarball and the image) even where the
# environment turns it off: make test starts hundreds of Python processes on the same sources.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help
help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.PHONY: deps
deps:  ## install Debian packages the lab needs (root; skipped when all are present)
	@bash lab/install-packages.sh

# uv reads its own settings (UV_DEFAULT_INDEX, UV_SYSTEM_CERTS, ...), not pip's: an index given to
# pip in PIP_INDEX_URL is passed on; one set only in pip.conf is not (set UV_DEFAULT_INDEX).
# The venv is made from Debian's python3 (what the daemon images and host mode run), not the first
# python3 on PATH: Debian builds it with PGO and LTO, and an Ansible run of ping, k8s_info and
# lb_info tasks took 0.74x the time it took on a Python built without them (pyenv's default).
BASE_PYTHON ?= /usr/bin/python3
$(STAMP): requirements/installer.txt requirements/modules.txt requirements/daemons.txt requirements/dev.txt
	$(BASE_PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/installer.txt
	$(VENV)/bin/uv pip install --quiet --python $(PY) $${PIP_INDEX_URL:+--index-url "$$PIP_INDEX_URL"} -r requirements/dev.txt
	touch $@

$(COLL_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../../.. $@

.PHONY: venv
venv: $(STAMP) $(COLL_LINK)  ## create the Python environment (.venv) and the collection link
	@echo "$(CURDIR)/$(COLL_ROOT)" > $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/baremetal_lb_collection.pth

NODES ?= 3
LAB   := $(PY) -m lab

.PHONY: build
build: deps venv  ## build (or find cached) the lab's Kubernetes, etcd and kwok binaries
	$(LAB) build

.PHONY: images
images: deps venv  ## build (or find cached) the lab's images: base, pause, daemons, echo-hname/-ip, kube-proxy, AWX EE
	$(LAB) images

.PHONY: lab-up
lab-up: deps venv  ## start the local lab (idempotent); writes .lab/kubeconfig and .lab/lab.json
	$(LAB) up --nodes $(NODES)

.PHONY: lab-down
lab-down:  ## remove the local lab: namespaces, processes, addresses, .lab/
	@if [ -x $(PY) ]; then $(LAB) down; else echo "no .venv, so no lab was started from here"; fi

.PHONY: lab-status
lab-status: venv  ## show the lab's hosts, addresses, routers and daemons
	$(LAB) status

.PHONY: demo
demo: lab-up  ## start the lab, run playbooks/site.yml against it, then the walk-through (curl, scale, NodePort, failover)
	$(VENV)/bin/ansible-playbook -i inventories/lab playbooks/site.yml
	@$(LAB) status
	@$(LAB) walkthrough
	@echo "==> to use the lab's kubectl (and crictl) in your shell: source $(CURDIR)/.lab/env"

.PHONY: lint
lint: venv  ## ruff, ruff format, mypy, changelog fragments
	$(VENV)/bin/antsibull-changelog lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy lab plugins/module_utils daemons $(wildcard bench/*.py bench/*/*.py)

.PHONY: collection
collection: venv  ## build the collection tarball into .build/ and check what it contains
	rm -f .build/baremetal-lb-*.tar.gz
	$(VENV)/bin/ansible-galaxy collection build --force --output-path .build/ .
	$(PY) -m tests.check_collection_tarball .build/baremetal-lb-*.tar.gz

.PHONY: unit
unit: venv  ## pure-logic tests only (no root needed)
	$(VENV)/bin/pytest tests/unit

.PHONY: ansible-lint
ansible-lint: venv  ## ansible-lint, production profile: roles, playbooks, molecule, integration targets, EE
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" VIRTUAL_ENV="$(CURDIR)/$(VENV)" $(VENV)/bin/ansible-lint

.PHONY: sanity
sanity: venv  ## ansible-test sanity on a copy of what the built collection holds; its ignore files must stay empty
	@command -v shellcheck >/dev/null || { echo "shellcheck is missing (ansible-test would skip its test): apt-get install shellcheck" >&2; exit 1; }
	@if grep -sq . tests/sanity/ignore-*.txt; then echo "tests/sanity/ignore-*.txt must stay empty: fix the finding instead" >&2; exit 1; fi
	$(PY) tests/run_ansible_test.py sanity --python 3.11

.PHONY: molecule
molecule: deps venv build  ## molecule test (its own lab, site.yml, idempotence, verify), then that lab checked from outside
	$(VENV)/bin/pytest tests/lab/test_kubernetes_mode.py

.PHONY: test
.PHONY: units
units: venv  ## ansible-test units (module_utils unit tests in ansible-test's own venv)
	$(PY) tests/run_ansible_test.py units --python 3.11 --venv

# The static checks share nothing (ansible-test works on copies), so they run side by side, each
# target's output kept together; the collection is built after them, then pytest runs everything else.
test: deps venv build images  ## the full suite: lint, unit, real-namespace and lab tests
	$(MAKE) --no-print-directory -j4 --output-sync=target lint ansible-lint sanity units
	$(MAKE) --no-print-directory collection
	$(VENV)/bin/pytest

.PHONY: clean
clean: lab-down  ## remove the venv and build output (the binary cache in ~/.cache stays)
	rm -rf $(VENV) .build tests/output .pytest_cache .mypy_cache .ruff_cache
