"""Registers the shared fixtures of ``tests/support`` for every suite."""

pytest_plugins = ["tests.support.plugin"]
