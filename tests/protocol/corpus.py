"""Access to the shared Traccar corpus (../shared/protocol/frames-dev.jsonl).

The corpus stays outside the repository. Where it is absent (a fresh clone elsewhere) the
corpus tests are collected as one skipped test each, with the reason; the other test modules
carry frames of their own.
"""

from __future__ import annotations

from collections.abc import Callable
import json
from pathlib import Path
from typing import Any

import pytest

CORPUS_PATH = Path(__file__).resolve().parents[2].parent / "shared/protocol/frames-dev.jsonl"
MISSING_REASON = "corpus ../shared/protocol/frames-dev.jsonl not found"

type Record = dict[str, Any]


def load() -> list[Record]:
    """Every record of the corpus, or an empty list when the file is absent."""
    if not CORPUS_PATH.is_file():
        return []
    with CORPUS_PATH.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


RECORDS = load()


def params(predicate: Callable[[Record], bool]) -> list[Any]:
    """``pytest.param`` per matching record (id = the record's id), or one skipped param."""
    if not RECORDS:
        return [pytest.param(None, id="corpus-missing", marks=pytest.mark.skip(MISSING_REASON))]
    return [pytest.param(record, id=record["id"]) for record in RECORDS if predicate(record)]


def require(record: Record | None) -> Record:
    """The record of a parametrized test (skips when the corpus is absent)."""
    if record is None:  # pragma: no cover - the param is marked skip
        pytest.skip(MISSING_REASON)
    return record
