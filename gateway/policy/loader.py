"""Loading a rule set: every `*.yaml` file directly under the rules folder, in file-name order.

A file holds `lists:` (named lists, inline or from files next to the rules), `rules:` (ordered)
and at most one file in the set holds `default:`. Loading is strict and collects every problem
before it raises one ConfigError: unknown keys, duplicate ids, bad CIDRs, unknown countries or
lists, invalid regexes ... each as `file:line:col: message`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gateway.errors import ConfigError, Location, Problem
from gateway.lists import load_list, load_list_file_isolated
from gateway.logs import mask_phone
from gateway.policy.conditions import Condition, DefinedList, ParseContext, parse_condition
from gateway.policy.signalnames import Getter, national_prefix_getter, prefix_getter, resolve
from gateway.signals import Signals
from gateway.velocity import Window, check_spec
from gateway.yamlsrc import load_yaml

ActionName = Literal["allow", "block", "drop", "tag"]
ACTIONS: tuple[ActionName, ...] = ("allow", "block", "drop", "tag")
LIST_KINDS = ("cidr", "prefix", "country", "asn", "string", "regex")
RULE_KEYS = ("id", "description", "conditions", "velocity", "action", "status", "mode", "tags")
FILE_KEYS = ("lists", "rules", "default")
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class KeyPart:
    """One signal in a velocity key: its name as written, and how to read it."""

    name: str
    get: Getter

    def show(self, value: object) -> str:
        text = str(value)
        if self.name in ("recipient", "phone.e164"):
            return f"{self.name} {mask_phone(text)}"
        if "prefix" in self.name and text.isdigit() and len(text) > 8:
            # phone.prefix:N / national_prefix:N beyond 8 digits is (nearly) the whole number.
            return f"{self.name} {mask_phone(text).lstrip('+')}"
        return f"{self.name} {value}"


@dataclass(frozen=True)
class Velocity:
    key: tuple[KeyPart, ...]  # empty: one global counter
    windows: tuple[Window, ...]
    count: Literal["attempts", "sent"]

    @property
    def longest(self) -> int:
        return max(w.seconds for w in self.windows)

    def values(self, s: Signals) -> list[str] | None:
        """The key's values for one request; None when a signal in it is unknown (rule skipped)."""
        out: list[str] = []
        for part in self.key:
            value = part.get(s)
            if value is None or value == "":
                return None
            out.append(str(value))
        return out

    def describe(self, values: list[str]) -> str:
        if not self.key:
            return "all traffic"
        return ", ".join(p.show(v) for p, v in zip(self.key, values, strict=True))


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    action: ActionName
    status: int
    shadow: bool
    tags: tuple[str, ...]
    condition: Condition | None
    velocity: Velocity | None
    location: Location
    # A matching rule ends the evaluation (allow/block/drop, not in shadow mode).
    final: bool = field(init=False, default=False)
    longest_window: int = field(init=False, default=0)  # seconds, for velocity rules
    counter_spec: str = field(init=False, default="")  # the velocity script's parameters

    @property
    def mode(self) -> str:
        return "shadow" if self.shadow else "enforce"

    def __post_init__(self) -> None:
        # Precomputed for the hot path.
        object.__setattr__(self, "longest_window", self.velocity.longest if self.velocity else 0)
        object.__setattr__(self, "final", self.action != "tag" and not self.shadow)
        if self.velocity is not None:
            spec = check_spec(
                self.velocity.windows, final=self.final, reserve=self.velocity.count == "sent"
            )
            object.__setattr__(self, "counter_spec", spec)


@dataclass(frozen=True)
class DefaultAction:
    action: Literal["allow", "block", "drop"] = "allow"
    status: int = 200
    location: Location | None = None


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    default: DefaultAction
    lists: dict[str, DefinedList]
    files: tuple[str, ...]
    version: str  # hash of every file read (rules and lists)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def rule_files(path: Path) -> list[Path]:
    """The rule files of a set: `path` itself when it is a file, else its *.yaml / *.yml by name."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_rules(path: Path) -> RuleSet:
    """Read and validate a rule set; ConfigError holds every problem. Blocking: use a thread."""
    problems: list[Problem] = []
    if not path.exists():
        raise ConfigError([Problem(Location(str(path)), "rules path does not exist")])
    files = rule_files(path)
    if not files:
        raise ConfigError([Problem(Location(str(path)), "no rule files (*.yaml) found")])
    digest = hashlib.sha256()
    parsed: list[tuple[Path, Any, Any]] = []
    for file in files:
        try:
            raw = file.read_bytes()
        except OSError as exc:
            problems.append(Problem(Location(str(file)), f"cannot read: {exc.strerror}"))
            continue
        digest.update(file.name.encode() + b"\0" + raw + b"\0")
        try:
            # keep_going: a duplicate key is reported with everything else wrong in the file.
            data, locator = load_yaml(raw.decode("utf-8"), str(file), keep_going=True)
        except UnicodeDecodeError:
            problems.append(Problem(Location(str(file)), "not UTF-8 text"))
            continue
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(locator.problems)
        parsed.append((file, data, locator))

    lists: dict[str, DefinedList] = {}
    broken: set[str] = set()
    contexts: list[tuple[Path, Any, ParseContext]] = []
    # Lists first, from every file, so a rule may use a list defined in another file.
    for file, data, locator in parsed:
        ctx = ParseContext(locator, lists, broken_lists=broken)
        contexts.append((file, data, ctx))
        if data is None:
            continue
        if not isinstance(data, dict):
            ctx.error(
                (), "a rule file is a mapping with `rules:` (and optional `lists:`, `default:`)"
            )
            continue
        for key in data:
            if key not in FILE_KEYS:
                ctx.error((key,), f"unknown key {key!r} (allowed: {', '.join(FILE_KEYS)})")
        _load_lists(file, data.get("lists"), ctx, digest)

    rules: list[Rule] = []
    seen: dict[str, Location] = {}
    default: DefaultAction | None = None
    for _file, data, ctx in contexts:
        if isinstance(data, dict):
            raw_rules = data.get("rules", [])
            if not isinstance(raw_rules, list):
                ctx.error(("rules",), "`rules` is a list of rules")
                raw_rules = []
            for i, raw_rule in enumerate(raw_rules):
                raw_id = raw_rule.get("id") if isinstance(raw_rule, dict) else None
                duplicate = isinstance(raw_id, str) and raw_id in seen
                if duplicate:  # reported even when the rule has other errors
                    ctx.error(
                        ("rules", i, "id"),
                        f"duplicate rule id {raw_id!r} (first defined at {seen[str(raw_id)]})",
                    )
                elif isinstance(raw_id, str):
                    seen[raw_id] = ctx.locator.at(("rules", i))
                rule = _parse_rule(raw_rule, ctx, ("rules", i))
                if rule is not None and not duplicate:
                    rules.append(rule)
            if "default" in data:
                parsed_default = _parse_default(data["default"], ctx)
                if default is not None and default.location is not None:
                    ctx.error(
                        ("default",),
                        f"a second `default` (first at {default.location}); "
                        "the rule set has one default action",
                    )
                elif parsed_default is not None:
                    default = parsed_default
        problems.extend(ctx.problems)
    if problems:
        # In reading order: by file, then line and column (stable for problems without a line).
        problems.sort(key=lambda p: (p.location.file, p.location.line, p.location.col))
        raise ConfigError(problems)
    return RuleSet(
        rules=tuple(rules),
        default=default or DefaultAction(),
        lists=lists,
        files=tuple(str(f) for f in files),
        version=digest.hexdigest()[:12],
    )


def _load_lists(file: Path, raw: Any, ctx: ParseContext, digest: Any) -> None:
    if raw is None:
        return
    if not isinstance(raw, dict):
        ctx.error(("lists",), "`lists` maps a list name to {kind: ..., items: [...] | file: ...}")
        return
    for name, spec in raw.items():
        ctx.broken_lists.add(str(name))  # until it loads, references to it are not reported
        path: tuple[str | int, ...] = ("lists", name)
        if not _ID.match(str(name)):
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
        if kind not in LIST_KINDS:
            ctx.error(
                (*path, "kind") if "kind" in spec else path,
                f"list kind is one of {', '.join(LIST_KINDS)}, not {kind!r}",
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


def parse_duration(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    m = _DURATION.match(str(value).strip())
    if not m or int(m.group(1)) == 0:
        return None
    return int(m.group(1)) * _UNITS[m.group(2)]


def format_duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _parse_rule(raw: Any, ctx: ParseContext, path: tuple[str | int, ...]) -> Rule | None:
    if not isinstance(raw, dict):
        ctx.error(path, "a rule is a mapping with id, description, conditions/velocity, action")
        return None
    before = len(ctx.problems)
    for key in raw:
        if key not in RULE_KEYS:
            ctx.error((*path, key), f"unknown key {key!r} (allowed: {', '.join(RULE_KEYS)})")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not _ID.match(rule_id):
        ctx.error(
            (*path, "id") if "id" in raw else path,
            "a rule needs an `id`: lowercase letters, digits, '-', '_', '.'",
        )
    description = raw.get("description", "")
    if not isinstance(description, str) or not description.strip():
        ctx.error(
            (*path, "description") if "description" in raw else path,
            "a rule needs a `description` (the reason people read)",
        )
    action = raw.get("action")
    if action not in ACTIONS:
        ctx.error(
            (*path, "action") if "action" in raw else path,
            f"`action` is one of {', '.join(ACTIONS)}, not {action!r}",
        )
    condition = None
    if "conditions" in raw:
        condition = parse_condition(raw["conditions"], ctx, (*path, "conditions"))
    velocity = (
        _parse_velocity(raw["velocity"], ctx, (*path, "velocity")) if "velocity" in raw else None
    )
    if "conditions" not in raw and "velocity" not in raw:
        ctx.error(path, "a rule needs `conditions`, `velocity`, or both")
    if "velocity" in raw and action == "allow":
        # A velocity rule acts when its counter is OVER the limit: "allow" would send exactly
        # the traffic that is over it. Limits refuse (block, drop), or tag for review.
        ctx.error(
            (*path, "action"),
            "a velocity rule acts when over its limit: its action is block, drop or tag, not allow",
        )
    status = 200
    if action == "block":
        status = 429 if velocity else 403
    if "status" in raw:
        s = raw["status"]
        if action != "block":
            ctx.error((*path, "status"), "`status` applies only to action: block")
        elif isinstance(s, bool) or not isinstance(s, int) or not 400 <= s <= 599:
            ctx.error((*path, "status"), f"status is an HTTP error code 400-599, not {s!r}")
        else:
            status = s
    mode = raw.get("mode", "enforce")
    if mode not in ("enforce", "shadow"):
        ctx.error((*path, "mode"), f"`mode` is enforce or shadow, not {mode!r}")
    tags_raw = raw.get("tags")
    tags: tuple[str, ...] = ()
    if tags_raw is not None:
        if not isinstance(tags_raw, list) or not all(isinstance(t, str) for t in tags_raw):
            ctx.error((*path, "tags"), "`tags` is a list of strings")
        else:
            tags = tuple(tags_raw)
    if len(ctx.problems) > before:
        return None
    assert isinstance(rule_id, str)
    if action == "tag" and not tags:
        tags = (rule_id,)
    return Rule(
        id=rule_id,  # the checks above guarantee `action` is one of ACTIONS
        description=str(description).strip(),
        action=action,  # type: ignore[arg-type]
        status=status,
        shadow=mode == "shadow",
        tags=tags,
        condition=condition,
        velocity=velocity,
        location=ctx.locator.at(path),
    )


def _parse_velocity(raw: Any, ctx: ParseContext, path: tuple[str | int, ...]) -> Velocity | None:
    if not isinstance(raw, dict):
        ctx.error(path, "`velocity` is {key: [...], limits: [{max: N, per: 10m}], count: attempts}")
        return None
    before = len(ctx.problems)
    for key in raw:
        if key not in ("key", "limits", "count"):
            ctx.error((*path, key), f"unknown key {key!r} (allowed: key, limits, count)")
    key_raw = raw.get("key")
    if isinstance(key_raw, str):
        key_raw = [key_raw]
    parts: list[KeyPart] = []
    if not isinstance(key_raw, list) or not key_raw:
        ctx.error(
            (*path, "key") if "key" in raw else path,
            "`key` names the signals counted together: recipient, ip, ip.net, ip.net48, asn, "
            "country, phone.prefix:N, phone.national_prefix:N, global ...",
        )
    else:
        for i, name in enumerate(key_raw):
            part = _key_part(str(name), ctx, (*path, "key", i), len(key_raw))
            if part is not None and part.name != "global":
                parts.append(part)
    count = raw.get("count", "attempts")
    if count not in ("attempts", "sent"):
        ctx.error((*path, "count"), f"`count` is attempts or sent, not {count!r}")
    windows: list[Window] = []
    limits = raw.get("limits")
    if not isinstance(limits, list) or not limits:
        ctx.error(
            (*path, "limits") if "limits" in raw else path,
            "`limits` is a list of {max: N, per: DURATION}",
        )
    else:
        for i, limit in enumerate(limits):
            lpath = (*path, "limits", i)
            if not isinstance(limit, dict):
                ctx.error(lpath, "a limit is {max: N, per: DURATION}")
                continue
            for k in limit:
                if k not in ("max", "per"):
                    ctx.error((*lpath, k), f"unknown key {k!r} (allowed: max, per)")
            mx = limit.get("max")
            if isinstance(mx, bool) or not isinstance(mx, int) or mx < 1:
                ctx.error(
                    (*lpath, "max") if "max" in limit else lpath,
                    f"`max` is a positive integer, not {mx!r}",
                )
                continue
            seconds = parse_duration(limit.get("per"))
            if seconds is None or seconds > 31 * 86400:
                ctx.error(
                    (*lpath, "per") if "per" in limit else lpath,
                    f"`per` is a duration like 30s, 10m, 24h, 7d (at most 31d), "
                    f"not {limit.get('per')!r}",
                )
                continue
            windows.append(Window(seconds, mx))
    if len(ctx.problems) > before:
        return None
    return Velocity(tuple(parts), tuple(windows), count)


def _key_part(name: str, ctx: ParseContext, path: tuple[str | int, ...], n: int) -> KeyPart | None:
    if name == "global":
        if n != 1:
            ctx.error(path, "`global` is one counter for all traffic; it cannot be combined")
            return None
        return KeyPart("global", lambda s: "")
    if name.startswith("phone.national_prefix:"):
        digits = name.split(":", 1)[1]
        if not digits.isdigit() or not 1 <= int(digits) <= 14:
            ctx.error(
                path,
                f"{name!r}: the national prefix length is 1 to 14 digits, "
                "e.g. phone.national_prefix:6",
            )
            return None
        return KeyPart(f"national prefix {digits} digits", national_prefix_getter(int(digits)))
    if name.startswith("phone.prefix:") or name.startswith("prefix:"):
        digits = name.split(":", 1)[1]
        if not digits.isdigit() or not 1 <= int(digits) <= 15:
            ctx.error(path, f"{name!r}: the prefix length is 1 to 15 digits, e.g. phone.prefix:6")
            return None
        return KeyPart(f"prefix {digits} digits", prefix_getter(int(digits)))
    spec = resolve(name)
    if spec is None or spec.name == "phone.prefix":
        ctx.error(
            path,
            f"unknown velocity key {name!r} (recipient, ip, ip.net, ip.net48, asn, country, "
            "phone.prefix:N, phone.national_prefix:N, global, or any signal name)",
        )
        return None
    return KeyPart(name, spec.get)


def _parse_default(raw: Any, ctx: ParseContext) -> DefaultAction | None:
    path: tuple[str | int, ...] = ("default",)
    if isinstance(raw, str):
        raw = {"action": raw}
    if not isinstance(raw, dict):
        ctx.error(path, "`default` is allow, block, drop or {action: block, status: 403}")
        return None
    for k in raw:
        if k not in ("action", "status"):
            ctx.error((*path, k), f"unknown key {k!r} (allowed: action, status)")
    action = raw.get("action")
    if action not in ("allow", "block", "drop"):
        ctx.error(path, f"the default action is allow, block or drop, not {action!r}")
        return None
    status = 403 if action == "block" else 200
    if "status" in raw:
        s = raw["status"]
        if (
            action != "block"
            or isinstance(s, bool)
            or not isinstance(s, int)
            or not 400 <= s <= 599
        ):
            ctx.error((*path, "status"), "`status` (400-599) applies only to a block default")
            return None
        status = s
    return DefaultAction(action, status, ctx.locator.at(path))
