"""YAML loading that remembers where every value came from.

Settings and rule files both need errors of the form `file:line:col: message`. PyYAML's composed
node tree has the marks; we build plain Python data from it and keep a path -> mark index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.errors import ConfigError, Location, Problem

PathKey = tuple[str | int, ...]


@dataclass
class Locator:
    """Maps a path inside the loaded data (("providers", 0, "from")) to where it was written."""

    file: str
    marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def at(self, path: Sequence[str | int]) -> Location:
        """The location of `path`, or of its nearest written ancestor (a missing key -> its parent)."""
        key = tuple(path)
        while key:
            if key in self.marks:
                line, col = self.marks[key]
                return Location(self.file, line, col)
            key = key[:-1]
        return Location(self.file, self.marks.get((), (1, 1))[0], 1)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader; duplicate keys are detected while we walk the node tree."""


def load_yaml(text: str, file: str) -> tuple[Any, Locator]:
    """Parse YAML text; return plain data and a locator. Syntax errors and duplicate keys raise ConfigError."""
    locator = Locator(file)
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        raise ConfigError([Problem(Location(file, line, col), f"YAML syntax: {exc.problem}")]) from exc
    if node is None:
        return None, locator
    problems: list[Problem] = []
    data = _build(node, (), locator, problems)
    if problems:
        raise ConfigError(problems)
    return data, locator


def load_yaml_file(path: Path) -> tuple[Any, Locator]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(Location(str(path)), f"cannot read: {exc.strerror}")]) from exc
    return load_yaml(text, str(path))


def _build(node: yaml.Node, path: PathKey, loc: Locator, problems: list[Problem]) -> Any:
    loc.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key in out:
                problems.append(
                    Problem(
                        Location(loc.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1),
                        f"duplicate key {key!r}",
                    )
                )
                continue
            child = (*path, key)
            out[key] = _build(value_node, child, loc, problems)
            # Point a key's errors at the key itself, which is where a reader looks.
            loc.marks[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), loc, problems) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return _UniqueKeyLoader("").construct_object(node, deep=True)
    return str(node.value)
