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
    # With load_yaml(keep_going=True): problems in otherwise usable data (a duplicate key keeps
    # its first value), for the caller to report together with its own findings.
    problems: list[Problem] = field(default_factory=list)

    def at(self, path: Sequence[str | int]) -> Location:
        """Where `path` was written, or its nearest written ancestor (a missing key: its parent)."""
        key = tuple(path)
        while key:
            if key in self.marks:
                line, col = self.marks[key]
                return Location(self.file, line, col)
            key = key[:-1]
        return Location(self.file, self.marks.get((), (1, 1))[0], 1)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader; duplicate keys are detected while we walk the node tree."""


def load_yaml(text: str, file: str, *, keep_going: bool = False) -> tuple[object, Locator]:
    """Parse YAML text; return plain data and a locator.

    Every failure is a ConfigError with a location: syntax errors, characters YAML forbids,
    duplicate keys, anchors/aliases (refused: settings and rules never need them, and they allow
    "billion laughs" expansion and self-reference) and nesting deeper than MAX_DEPTH.
    """
    locator = Locator(file)
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        raise ConfigError(
            [Problem(Location(file, line, col), f"YAML syntax: {exc.problem}")]
        ) from exc
    except yaml.reader.ReaderError as exc:
        line, col = _offset_to_line_col(text, exc.position)
        raise ConfigError(
            [
                Problem(
                    Location(file, line, col),
                    f"character U+{_codepoint(exc.character):04X} is not allowed in YAML",
                )
            ]
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(Location(file), f"YAML: {exc}")]) from exc
    except RecursionError:
        raise ConfigError([Problem(Location(file), "YAML nesting is too deep")]) from None
    if node is None:
        return None, locator
    problems: list[Problem] = []
    data = _build(node, (), locator, problems, set())
    problems = list(dict.fromkeys(problems))  # an alias used many times: once
    if problems and not keep_going:
        raise ConfigError(problems)
    locator.problems = problems
    return data, locator


# Far deeper than any settings or rule file; keeps hostile input from exhausting the stack.
MAX_DEPTH = 64


def _codepoint(character: int | str) -> int:
    return character if isinstance(character, int) else ord(character)


def _offset_to_line_col(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def load_yaml_file(path: Path) -> tuple[object, Locator]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(Location(str(path)), f"cannot read: {exc.strerror}")]) from exc
    return load_yaml(text, str(path))


def _build(
    node: yaml.Node, path: PathKey, loc: Locator, problems: list[Problem], seen: set[int]
) -> object:
    where = Location(loc.file, node.start_mark.line + 1, node.start_mark.column + 1)
    if id(node) in seen:
        # The composer hands out the anchored node again for every alias of it.
        problems.append(Problem(where, "YAML anchors and aliases (&, *) are not supported here"))
        return None
    if len(path) > MAX_DEPTH:
        problems.append(Problem(where, f"nested deeper than {MAX_DEPTH} levels"))
        return None
    if isinstance(node, yaml.CollectionNode):
        seen.add(id(node))
    loc.marks[path] = (where.line, where.col)
    if isinstance(node, yaml.MappingNode):
        out: dict[object, object] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key in out:
                problems.append(
                    Problem(
                        Location(
                            loc.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1
                        ),
                        f"duplicate key {key!r}",
                    )
                )
                continue
            child = (*path, key)
            out[key] = _build(value_node, child, loc, problems, seen)
            # Point a key's errors at the key itself, which is where a reader looks.
            loc.marks[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), loc, problems, seen) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    # Any: whatever PyYAML constructs for a scalar (str, int, float, bool, None, date, bytes);
    # as a mapping key it also stands in the Locator's paths, which expect str | int.
    if isinstance(node, yaml.ScalarNode):
        return _UniqueKeyLoader("").construct_object(node, deep=True)
    return str(node.value)
