# Two commands: `make run` brings the product up, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-stamp
# The OpenID provider the single sign-on tests sign in with (tests/oidc/provider.mjs), from the npm registry.
OIDC_PROVIDER := tests/oidc/node_modules/.package-lock.json

.PHONY: run test bench faults clean

$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(INSTALLED)

$(OIDC_PROVIDER): tests/oidc/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error; \
	else echo "npm is not installed: the single sign-on tests will skip (CI fails them)"; fi

run: $(INSTALLED)
	DEBUG=$${DEBUG:-1} exec $(BIN)/python -m governance.infra.runner

test: $(INSTALLED) $(OIDC_PROVIDER)
	$(BIN)/ruff check governance tests
	$(BIN)/ruff format --check governance tests
	$(BIN)/lint-imports
	SECRET_KEY=$${SECRET_KEY:-test-only-secret-key-for-the-suite-never-a-deployment-key} SIMULATOR_ENABLED=1 \
	GOVERNANCE_DATA_DIR=$${GOVERNANCE_DATA_DIR:-$(CURDIR)/var/test} $(BIN)/pytest $(PYTEST_ARGS)

# wrk, the bench's load generator, from Debian's packages where it is missing and this user may install it
# (elsewhere bench/submit.py says how to install it).
bench: $(INSTALLED)
	@command -v wrk >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 || \
		{ echo "installing wrk (apt-get)"; export DEBIAN_FRONTEND=noninteractive; \
		  apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; } || true; }
	$(BIN)/python bench/submit.py

faults: $(INSTALLED)
	$(BIN)/python bench/faults.py $(FAULTS_ARGS)

clean:
	rm -rf $(VENV) var
