# The README's commands. Every target works on a fresh Debian machine as root.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# make testbed CLUSTER=3: also the multi-node swarm (scripts/cluster.sh); make test brings up 3 nodes by default

.PHONY: venv testbed test unit demo images docs docs-check lint bench clean

$(BIN)/tagship: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

venv: $(BIN)/tagship

testbed: venv            ## dockerd, registries, swarm, skopeo, base images (idempotent)
	bash scripts/testbed.sh up $(if $(strip $(CLUSTER)),--cluster $(strip $(CLUSTER)))

unit: venv               ## the pure tests only (no engine)
	$(BIN)/pytest -q tests/unit $(PYTEST_ARGS)

test: CLUSTER ?= 3
test: testbed            ## everything: unit, integration (real engine, registry, swarm, local OSS), e2e
	$(BIN)/pytest -q $(PYTEST_ARGS)

demo: testbed            ## the main job: tag -> version-bump -> oss-push -> registry-push -> cs-deploy
	bash scripts/demo.sh

images: testbed          ## plugin images tagship/<plugin> on the local base
	bash scripts/images.sh

docs: venv
	$(BIN)/tagship docs --out docs/plugins

docs-check: venv
	$(BIN)/tagship docs --out docs/plugins --check

bench: CLUSTER ?= 3      # bench_cluster.py needs the 3-node cluster
bench: testbed           ## every benchmark in bench/ (several minutes; figures go in the README)
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	bash scripts/testbed.sh down || true
	rm -rf $(VENV) .testbed wheelhouse
