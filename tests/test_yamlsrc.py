"""YAML sources (settings and rules): every failure is a located ConfigError, hostile input too."""

from __future__ import annotations

import pytest

from gateway.errors import ConfigError
from gateway.yamlsrc import load_yaml


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_yaml(text, "f.yaml")
    return [str(p) for p in err.value.problems]


def test_locations_of_values() -> None:
    """The locator points at a key, and a missing key at its nearest written parent."""
    _, loc = load_yaml("a:\n  b: 1\n  c: [1, 2]\n", "f.yaml")
    assert str(loc.at(("a", "c", 1))) == "f.yaml:3:10"
    assert str(loc.at(("a", "b"))) == "f.yaml:2:3"
    assert str(loc.at(("a", "zz"))) == "f.yaml:1:1"


def test_syntax_error_located() -> None:
    """A syntax error names line and column."""
    assert problems("a: [1, 2\nb: 3\n")[0].startswith("f.yaml:2:")


def test_control_character_located() -> None:
    """A character YAML forbids (a stray BEL pasted into a description) is located, not a crash."""
    assert problems("rules:\n  - id: x\n    description: 'bell\x07'\n") == [
        "f.yaml:3:23: character U+0007 is not allowed in YAML"
    ]


def test_duplicate_key() -> None:
    """A key written twice is reported at its second occurrence."""
    assert problems("a: 1\nb: 2\na: 3\n") == ["f.yaml:3:1: duplicate key 'a'"]


@pytest.mark.parametrize(
    "text",
    [
        "a: &a [1, 2]\nb: *a\n",
        "a: &a [*a]\n",
        "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n",
    ],
)
def test_aliases_refused(text: str) -> None:
    """Anchors and aliases are refused: no self-reference, no exponential expansion."""
    found = problems(text)
    assert 1 <= len(found) <= 3  # once per aliased node, however often it is referenced
    assert all("anchors and aliases" in p for p in found)


def test_deep_nesting_refused() -> None:
    """Nesting deeper than any real file is an error, never a RecursionError."""
    assert "too deep" in problems("x: " + "[" * 3000 + "]" * 3000 + "\n")[0]
    block = "".join("  " * i + "a:\n" for i in range(100)) + "  " * 100 + "b: 1\n"
    assert "nested deeper than 64 levels" in problems(block)[0]


def test_keep_going_returns_data_with_problems() -> None:
    """With keep_going, a duplicate key is reported on the locator and the rest still loads, so a
    rule file's other mistakes can be reported in the same run."""
    data, loc = load_yaml("a: 1\nb: 2\na: 3\nc: 4\n", "f.yaml", keep_going=True)
    assert data == {"a": 1, "b": 2, "c": 4}
    assert [str(p) for p in loc.problems] == ["f.yaml:3:1: duplicate key 'a'"]
