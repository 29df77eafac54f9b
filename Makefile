# Development entry points; thin wrappers over scripts/ (see scripts/lib.sh for how the
# Python 3.14 environment is built and cached under ${SINOTRACK_CACHE:-~/.cache/sinotrack-ha}).
#
#   make test        set everything up, then run the whole suite against Home Assistant
#                    2026.10 (with coverage) and 2026.5 (the oldest supported line); the
#                    end-to-end tests start a real Home Assistant 2026.11 (the current
#                    release; 2026.5 for the oldest line) and drive its frontend in headless
#                    Chromium (screenshots in test-artifacts/browser/)
#   make test-fast   the same against the main Home Assistant version only
#                    extra pytest arguments: make test PYTEST_ARGS='-k h02 -x'
#   make lint        ruff check, ruff format --check, mypy --strict
#   make format      apply ruff's fixes and formatting
#   make bench       run every benchmarks/bench_*.py
#   make fuzz        fuzz the codec for SECONDS seconds (default 600): make fuzz SECONDS=3600
#   make run         a real Home Assistant (2026.11) on http://localhost:8123 with the
#                    integration and a simulated tracker driving (login dev /
#                    dev-password-123); Ctrl-C stops it
#                    options: make run RUN_ARGS='--interval 2 --protocol jt808'
#   make screenshot  docs/device-page.png: the device page, taken with headless Chromium
#   make lock        regenerate requirements/{test,run}-*.txt from requirements/{test,run}-*.in
#                    (make lock UPGRADE=1 to move every pin to the newest allowed version)
#   make setup       only set up the environments (idempotent) and print their versions
#   make shell       a shell inside the main environment (scripts/envrun CMD runs any command)
#   make clean-cache delete the cached environments

SHELL := /bin/bash
PYTEST_ARGS ?=
SECONDS ?= 600
RUN_ARGS ?=
export PYTEST_ARGS

.PHONY: help test test-fast lint format bench fuzz run screenshot lock setup shell clean-cache

help:
	@sed -n 's/^#   //p' Makefile

test:
	bash scripts/test all

test-fast:
	bash scripts/test main

lint:
	bash scripts/lint

format:
	bash scripts/lint --fix

bench:
	bash scripts/bench

fuzz:
	bash scripts/envrun python -m tools.fuzz --seconds $(SECONDS)

run:
	bash scripts/run $(RUN_ARGS)

screenshot:
	bash scripts/screenshot

lock:
	SINOTRACK_LOCK_UPGRADE=$(if $(UPGRADE),1,0) bash scripts/lock

setup:
	bash scripts/provision

shell:
	bash scripts/envrun bash

clean-cache:
	rm -rf --one-file-system "$${SINOTRACK_CACHE:-$$HOME/.cache/sinotrack-ha}"
