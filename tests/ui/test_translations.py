"""Every translation string renders in Home Assistant's frontend.

The frontend formats each string with formatjs (ICU MessageFormat): ``<word>`` is a tag, an
unclosed tag or a tag with spaces is an error, and the user sees "Translation error:
INVALID_TAG" instead of the text. Each string of every ``translations/*.json`` is parsed here
with the same parser, ``@formatjs/icu-messageformat-parser`` pinned in
``tools/icu/package-lock.json``, run by node. ``make test`` (``scripts/test``) installs node
and the npm packages; without them these tests fail, they do not skip.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
import json
import os
from pathlib import Path
import shutil
import subprocess
from typing import Any, Final

import pytest

REPO: Final = Path(__file__).resolve().parents[2]
TRANSLATIONS: Final = REPO / "custom_components" / "sinotrack" / "translations"
CHECKER: Final = REPO / "tools" / "icu" / "check.mjs"


def strings(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, string) for every string of a translation file."""
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, str):
            yield path, value
        elif isinstance(value, Mapping):
            yield from strings(value, f"{path}.")
        else:
            pytest.fail(f"{path}: a translation is a string or an object, not {value!r}")


def parse_errors(messages: Mapping[str, str]) -> dict[str, str]:
    """Parse each message as the frontend does; key -> parser error, for those it refuses."""
    node = shutil.which("node")
    modules = os.environ.get("SINOTRACK_NODE_MODULES", "")
    if node is None or not (Path(modules) / "@formatjs" / "icu-messageformat-parser").is_dir():
        pytest.fail(
            "node and the npm packages of tools/icu are not installed (node: "
            f"{node}, SINOTRACK_NODE_MODULES={modules!r}): run `scripts/provision`; "
            "`make test` does it"
        )
    result = subprocess.run(  # noqa: S603 - our own script, no shell
        [node, str(CHECKER), modules],
        input=json.dumps(messages),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, f"{CHECKER.name} failed:\n{result.stderr}"
    errors: dict[str, str] = json.loads(result.stdout)
    return errors


def test_the_parser_refuses_what_the_frontend_cannot_render() -> None:
    """The check is live: it refuses the strings that showed "Translation error" on screen."""
    errors = parse_errors(
        {
            "tag": "Forward the port on your router to <your public IP address>.",
            "unclosed": "Payload sent as *HQ,<ID>,<payload>#",
            "brace": "Listening on {port",
            "fine": "Listening on port {port}; quoted '<'ID'>' is text.",
        }
    )
    assert errors.keys() == {"tag", "unclosed", "brace"}
    assert errors["tag"].startswith("INVALID_TAG")
    assert errors["unclosed"].startswith(("UNCLOSED_TAG", "INVALID_TAG"))


def translation_files() -> list[Path]:
    """Every translation file of the integration (en.json at least)."""
    files = sorted(TRANSLATIONS.glob("*.json"))
    assert TRANSLATIONS / "en.json" in files
    return files


@pytest.mark.parametrize("path", translation_files(), ids=lambda path: path.name)
def test_every_translation_string_renders(path: Path) -> None:
    messages = dict(strings(json.loads(path.read_text(encoding="utf-8"))))
    assert messages, f"{path.name} has no strings"
    errors = parse_errors(messages)
    assert not errors, f"{path.name}: the frontend shows 'Translation error' for:\n" + "\n".join(
        f"  {key}: {error}\n    {messages[key]!r}" for key, error in errors.items()
    )
