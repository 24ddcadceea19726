# The README's two set-up commands: `make dist` (build and run the distribution for this
# machine, or for TARGET) and `make test` (everything needed, then the whole test suite).
# Each is complete on its own on a fresh Debian/Ubuntu machine with Python >= 3.11 and make.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Empty: this machine's target. aarch64-unknown-linux-musl on x86_64 builds under qemu-user.
TARGET ?=

.PHONY: venv test test-deps test-arm64 lint dist build-deps test-frozen bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

lint: venv
	$(VENV)/bin/ruff check .

# System tools the tests call (shellcheck, ruby, node, ...): apt-get when root, else a
# message naming the packages.
test-deps:
	$(PYTHON) -m ci.test_deps

test: test-deps venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

# Compilers, patchelf, zstd, python3-venv (apt-get when root; for another Linux CPU also
# qemu-user-static and mmdebstrap) and the freezers' venv .venv-build/.
build-deps:
	$(PYTHON) -m distbuild.build_deps $(if $(TARGET),--target $(TARGET))

dist: build-deps venv
	$(VPY) -m distbuild.build --smoke $(if $(TARGET),--target $(TARGET))

# Linux arm64 by hand: build under qemu-user if dist/ lacks a current one, then the tests
# marked arm64 (smoke run, npm with npm_config_arch=arm64, install.sh for aarch64).
test-arm64: test-deps venv
	$(PYTHON) -m distbuild.build_deps --target aarch64-unknown-linux-musl
	CODEX_TEST_ARM64=1 $(VENV)/bin/pytest -m arm64

# The whole suite against the packaged file (tests/conftest.py codex_cmd() runs it).
test-frozen: dist
	CODEX_TEST_BINARY="$(CURDIR)/dist/codex-$$($(VPY) -c 'from codex.platform_info import target_triple; print(target_triple())')" $(VENV)/bin/pytest

bench: venv
	$(VPY) bench/startup.py

clean:
	rm -rf $(VENV) .venv-build build dist *.egg-info
