"""The condition registry is complete: every type parses from YAML and is in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.policy.conditions import OPERATORS, Leaf
from gateway.policy.loader import load_rules
from tests.policy.helpers import write_rules

README = Path(__file__).resolve().parents[2] / "README.md"


def _reference_rows() -> list[tuple[list[str], str, str]]:
    """The README's condition table: (operators, applies to, example) per row."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Conditions", 1)[1].split("\n### ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        operators = re.findall(r"`([a-z]+)`", cells[0])
        example = re.match(r"`(\{[^`]*\})`", cells[2])
        assert example, f"README row for {operators} has no example leaf"
        rows.append((operators, cells[1], example.group(1)))
    return rows


def _parsed(tmp_path: Path, leaf: str) -> Leaf:
    write_rules(
        tmp_path,
        {
            "10-a.yaml": f"""
lists:
  office-networks: {{kind: cidr, items: [10.0.0.0/8]}}
rules:
  - id: r
    description: d
    conditions: {leaf}
    action: block
"""
        },
    )
    condition = load_rules(tmp_path).rules[0].condition
    assert isinstance(condition, Leaf)
    return condition


@pytest.mark.parametrize("key", sorted(OPERATORS))
def test_every_registered_type_parses_from_its_example(tmp_path: Path, key: str) -> None:
    """Each registered condition type's example leaf loads as an instance of that type."""
    cls = OPERATORS[key]
    assert type(_parsed(tmp_path, cls.example)) is cls


def test_every_registered_type_is_documented() -> None:
    """Every registered operator has a row in the README's condition reference, as declared."""
    documented = {
        op: (applies, example) for ops, applies, example in _reference_rows() for op in ops
    }
    for key, cls in OPERATORS.items():
        assert key in documented, f"`{key}` is missing from the README's Conditions table"
        assert documented[key][0] == cls.applies_to, key


def test_every_documented_type_is_registered(tmp_path: Path) -> None:
    """Every operator in the README's table is registered, and the row's example parses to it."""
    for operators, _applies, example in _reference_rows():
        for op in operators:
            assert op in OPERATORS, f"README documents `{op}`, which is not registered"
        assert _parsed(tmp_path, example).key == operators[0]
