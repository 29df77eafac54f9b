"""Every string of the translation files renders in Home Assistant's frontend, which reads
them as ICU MessageFormat: ``<...>`` is a tag, ``{...}`` a placeholder, and an apostrophe
before a brace quotes it. A string breaking these rules shows "Translation error" instead
of its text (the frontend's full check needs its parser; this one catches what breaks it)."""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import re
from typing import Any

TRANSLATIONS = Path(__file__).parents[2] / "custom_components" / "sinotrack" / "translations"
PLACEHOLDER = re.compile(r"\{[a-z_][a-z0-9_]*\}")


def strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, text) of every string in a translation file."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, f"{path}.{key}" if path else key)


def problems(text: str) -> list[str]:
    """What the frontend's ICU MessageFormat parser would refuse or render differently."""
    found = []
    rest = PLACEHOLDER.sub("", text)
    if "<" in rest or ">" in rest:
        found.append("'<' or '>' (read as a tag)")
    if "{" in rest or "}" in rest:
        found.append("a brace that is not a {placeholder}")
    if re.search(r"'[{}<>#|']", text) or re.search(r"[{}]'", text):
        found.append("an apostrophe next to a special character (read as quoting)")
    return found


def test_every_string_renders_in_the_frontend() -> None:
    """No tag, no stray brace, no quoting apostrophe, in any string of any language."""
    files = sorted(TRANSLATIONS.glob("*.json"))
    assert files
    found = {
        f"{path.name}:{where}": issues
        for path in files
        for where, text in strings(json.loads(path.read_text(encoding="utf-8")))
        if (issues := problems(text))
    }
    assert found == {}


def test_the_check_catches_what_broke_the_ui() -> None:
    """The two strings that showed "Translation error" in the frontend are caught."""
    assert problems("`8040000 <your public IP address> {port}`")
    assert problems("the text between *HQ,<ID>, and #")
    assert problems("it's '{not}' a placeholder")
    assert not problems("Tracker {tracker_id} on port {port}: the tracker's ID")
