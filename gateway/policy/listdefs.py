"""The `lists:` section of a rule file: named lists, inline or read from files next to the rules."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from gateway.errors import ConfigError
from gateway.lists import KINDS, load_list, load_list_file_isolated
from gateway.policy.conditions import DefinedList, ParseContext
from gateway.policy.ruleset import NAME


class Digest(Protocol):
    """The rule set's version hash: every file read is fed to it."""

    def update(self, data: bytes, /) -> None: ...


def load_list_definitions(file: Path, raw: object, ctx: ParseContext, digest: Digest) -> None:
    """Load the named lists of one file into `ctx.lists`; every problem into `ctx.problems`."""
    if raw is None:
        return
    if not isinstance(raw, dict):
        ctx.error(("lists",), "`lists` maps a list name to {kind: ..., items: [...] | file: ...}")
        return
    for name, spec in raw.items():
        ctx.broken_lists.add(str(name))  # until it loads, references to it are not reported
        path: tuple[str | int, ...] = ("lists", name)
        if not NAME.match(str(name)):
            ctx.error(path, f"list name {name!r}: lowercase letters, digits, '-', '_', '.'")
            continue
        if name in ctx.lists:
            ctx.error(
                path, f"duplicate list {name!r} (first defined at {ctx.lists[name].location})"
            )
            continue
        if not isinstance(spec, dict):
            ctx.error(path, "a list is {kind: ..., items: [...]} or {kind: ..., file: PATH}")
            continue
        bad = [k for k in spec if k not in ("kind", "items", "file", "description")]
        for k in bad:
            ctx.error((*path, k), f"unknown key {k!r} (allowed: kind, items, file, description)")
        kind = spec.get("kind")
        if kind not in KINDS:
            ctx.error(
                (*path, "kind") if "kind" in spec else path,
                f"list kind is one of {', '.join(KINDS)}, not {kind!r}",
            )
            continue
        if ("items" in spec) == ("file" in spec):
            ctx.error(path, "a list has either `items:` or `file:`")
            continue
        try:
            if "items" in spec:
                raw_items = spec["items"]
                if not isinstance(raw_items, list):
                    ctx.error((*path, "items"), "`items` is a list")
                    continue
                items = [
                    (str(v), ctx.locator.at((*path, "items", i))) for i, v in enumerate(raw_items)
                ]
                matcher = load_list(kind, items, str(name))
            else:
                name_of_file = spec["file"]
                if not isinstance(name_of_file, str) or not name_of_file or "\0" in name_of_file:
                    ctx.error((*path, "file"), "`file` is a path relative to the rule file")
                    continue
                list_path = (file.parent / name_of_file).resolve()
                try:
                    raw_bytes = list_path.read_bytes()
                except OSError as exc:
                    ctx.error(
                        (*path, "file"), f"cannot read list file {spec['file']}: {exc.strerror}"
                    )
                    continue
                digest.update(str(spec["file"]).encode() + b"\0" + raw_bytes + b"\0")
                del raw_bytes
                # Streams the file (a million-line list keeps no per-line objects), in a child
                # process when it is big, so the serving event loop is not starved of the GIL.
                matcher = load_list_file_isolated(kind, list_path, str(name))
        except ConfigError as exc:
            ctx.problems.extend(exc.problems)
            continue
        ctx.lists[name] = DefinedList(name, kind, matcher, len(matcher), ctx.locator.at(path))
