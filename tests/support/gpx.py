"""GPX documents checked against the official GPX 1.1 schema (Topografix's ``gpx.xsd``).

``make setup`` (``scripts/provision``) takes the schema from Debian's ``pytrainer`` package and
``scripts/envrun`` names it in ``SINOTRACK_GPX_XSD``. Without it the check fails, it does not
skip: a GPX test that skipped would pass without having looked at the document.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Final

import pytest
import xmlschema

__all__ = ["GPX_XSD_VARIABLE", "assert_valid_gpx", "gpx_schema", "gpx_xsd_path"]

GPX_XSD_VARIABLE: Final = "SINOTRACK_GPX_XSD"
"""The environment variable holding the schema's path (set by ``scripts/envrun``)."""
GPX_1_1: Final = "http://www.topografix.com/GPX/1/1"
"""The namespace the GPX 1.1 schema defines."""


def gpx_xsd_path() -> Path:
    """The GPX 1.1 schema's path; the test fails, saying how to get it, if it is not there."""
    value = os.environ.get(GPX_XSD_VARIABLE, "")
    if not value:
        pytest.fail(
            f"{GPX_XSD_VARIABLE} is not set, so the GPX 1.1 schema cannot be found: run the tests "
            "with scripts/envrun (after `make setup`, which fetches the schema)",
            pytrace=False,
        )
    path = Path(value)
    if not path.is_file():
        pytest.fail(
            f"the GPX 1.1 schema is missing ({GPX_XSD_VARIABLE}={value}): run `make setup` "
            "(scripts/provision), which takes it from Debian's pytrainer package",
            pytrace=False,
        )
    return path


@functools.cache
def _load(path: Path) -> xmlschema.XMLSchema:
    """The schema at ``path``, built once per run."""
    schema = xmlschema.XMLSchema(path)
    assert schema.target_namespace == GPX_1_1, f"{path} is not the GPX 1.1 schema"
    return schema


def gpx_schema() -> xmlschema.XMLSchema:
    """The GPX 1.1 schema (see ``gpx_xsd_path`` for where it comes from)."""
    return _load(gpx_xsd_path())


def assert_valid_gpx(document: str) -> None:
    """Fail unless ``document`` is valid against the GPX 1.1 schema, listing every error."""
    errors = [
        f"{error.path}: {error.reason}" for error in gpx_schema().iter_errors(document.encode())
    ]
    assert not errors, "not a valid GPX 1.1 document:\n" + "\n".join(errors)
