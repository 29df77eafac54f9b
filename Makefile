# Development entry points; thin wrappers over scripts/ (see scripts/lib.sh for how the
# Python 3.14 environment is built and cached under ${SINOTRACK_CACHE:-~/.cache/sinotrack-ha}).
#
#   make test        set everything up, then run the whole suite against Home Assistant
#                    2026.10 (with coverage) and 2026.5 (the oldest supported line)
#   make test-fast   the same against the main Home Assistant version only
#                    extra pytest arguments: make test PYTEST_ARGS='-k h02 -x'
#   make lint        ruff check, ruff format --check, mypy --strict
#   make format      apply ruff's fixes and formatting
#   make bench       run every benchmarks/bench_*.py
#   make lock        regenerate requirements/test-*.txt from requirements/test-*.in
#                    (make lock UPGRADE=1 to move every pin to the newest allowed version)
#   make setup       only set up the environments (idempotent) and print their versions
#   make shell       a shell inside the main environment (scripts/envrun CMD runs any command)
#   make clean-cache delete the cached environments

SHELL := /bin/bash
PYTEST_ARGS ?=
export PYTEST_ARGS

.PHONY: help test test-fast lint format bench lock setup shell clean-cache

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

lock:
	SINOTRACK_LOCK_UPGRADE=$(if $(UPGRADE),1,0) bash scripts/lock

setup:
	bash scripts/provision

shell:
	bash scripts/envrun bash

clean-cache:
	rm -rf --one-file-system "$${SINOTRACK_CACHE:-$$HOME/.cache/sinotrack-ha}"
