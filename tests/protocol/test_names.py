"""The names module: every parameter name is a constant there, and a literal nowhere else."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import custom_components.sinotrack
from custom_components.sinotrack.protocol import message

KEYS = set(message.Message.__annotations__)


def _names(alias: object) -> set[str]:
    """The strings of a ``type X = Literal[...]`` alias, nested aliases included."""
    names: set[str] = set()
    for arg in get_args(getattr(alias, "__value__", alias)):
        if isinstance(arg, str):
            names.add(arg)
        else:
            names |= _names(arg)
    return names


def test_every_key_has_its_constant_and_every_constant_is_a_key() -> None:
    constants = {
        value
        for name, value in vars(message).items()
        if name.isupper()
        and isinstance(value, str)
        and name not in ("PROTOCOL_H02", "PROTOCOL_JT808")
    }
    assert constants == KEYS


def test_the_key_types_match_the_message() -> None:
    measures, flags = _names(message.Measure), _names(message.Flag)
    assert not measures & flags
    assert _names(message.Key) == KEYS - {message.DROPPED}
    annotations = message.Message.__annotations__
    assert {key for key in flags if annotations[key] is not bool} == set()
    assert {key for key in measures if annotations[key] is not float} == set()


def test_no_parameter_name_is_spelt_out_elsewhere() -> None:
    root = Path(custom_components.sinotrack.__file__).parent
    dotted = {key for key in KEYS if "." in key}
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "message.py" and path.parent.name == "protocol":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found.extend(
            f"{path.relative_to(root)}:{node.lineno} {node.value}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in dotted
        )
    assert found == []
