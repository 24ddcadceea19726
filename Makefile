# The README's two set-up commands: `make dist` (build and run the distribution for this
# machine) and `make test` (everything needed, then the whole test suite).
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test lint dist build-deps test-frozen bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

lint: venv
	$(VENV)/bin/ruff check .

test: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

# Compilers, patchelf, zstd, python3-venv (apt-get when root) and the freezers' venv
# .venv-build/; first, so that `make venv` also works on a fresh machine.
build-deps:
	$(PYTHON) packaging/build_deps.py

dist: build-deps venv
	$(VPY) packaging/build.py --smoke

# The whole suite against the packaged file (tests/conftest.py codex_cmd() runs it).
test-frozen: dist
	CODEX_TEST_BINARY="$(CURDIR)/dist/codex-$$($(VPY) -c 'from codex.platform_info import target_triple; print(target_triple())')" $(VENV)/bin/pytest

bench: venv
	$(VPY) bench/startup.py

clean:
	rm -rf $(VENV) .venv-build build dist *.egg-info
