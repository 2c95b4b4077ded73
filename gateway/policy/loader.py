"""Loading a rule set: every `*.yaml` file directly under the rules folder, in file-name order.

A file holds `lists:` (named lists, inline or from files next to the rules), `rules:` (ordered)
and at most one file in the set holds `default:`. Loading is strict and collects every problem
before it raises one ConfigError: unknown keys, duplicate ids, bad CIDRs, unknown countries or
lists, invalid regexes ... each as `file:line:col: message`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from gateway.errors import ConfigError, Location, Problem
from gateway.policy.autoblockspec import AutoBlock, parse_auto_blocks
from gateway.policy.budget import parse_budget
from gateway.policy.conditions import DefinedList, ParseContext, YamlPath, parse_condition
from gateway.policy.listdefs import load_list_definitions
from gateway.policy.ruleset import (
    ACTIONS,
    NAME,
    ActionName,
    DefaultAction,
    KeyPart,
    Rule,
    RuleSet,
    Velocity,
)
from gateway.policy.staged import READ_SIGNALS, STATE_OPERATORS, leaves
from gateway.policy.statereads import StatePlan
from gateway.policy.velocityspec import format_duration, parse_duration, parse_velocity
from gateway.signals.outcomes import VERIFIED
from gateway.velocity import Window
from gateway.yamlsrc import Locator, load_yaml

# Names other modules import from here.
__all__ = [
    "ACTIONS",
    "ActionName",
    "DefaultAction",
    "KeyPart",
    "Rule",
    "RuleSet",
    "Velocity",
    "format_duration",
    "load_rules",
    "parse_duration",
    "rule_files",
]

RULE_KEYS = (
    "id",
    "description",
    "conditions",
    "velocity",
    "budget",
    "action",
    "status",
    "mode",
    "tags",
)
FILE_KEYS = ("lists", "rules", "default", "auto_blocks")


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
    parsed: list[tuple[Path, object, Locator]] = []
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
    contexts: list[tuple[Path, object, ParseContext]] = []
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
        load_list_definitions(file, data.get("lists"), ctx, digest)

    rules: list[Rule] = []
    auto_blocks: list[AutoBlock] = []
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
            if "auto_blocks" in data:
                auto_blocks += parse_auto_blocks(data["auto_blocks"], ctx)
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
    rules, plan = _plan_state(rules)
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
        state=plan,
        auto_blocks=tuple(auto_blocks),
    )


def _plan_state(rules: list[Rule]) -> tuple[list[Rule], StatePlan | None]:
    """The reads the rules need in their decision script; learned limits point at their value."""
    learned = [x for r in rules if r.velocity for x in r.velocity.learned if x is not None]
    names = [name for r in rules for name in r.reads]
    # a budget exempting verified recipients reads the feedback marker in the script too
    names += [VERIFIED for r in rules if r.budget is not None and r.budget.exempt_verified]
    plan = StatePlan.build(names, learned)
    if plan is None:
        return rules, None
    out: list[Rule] = []
    for rule in rules:
        vel = rule.velocity
        if vel is not None and any(vel.learned):
            windows = tuple(
                Window(w.seconds, w.limit, plan.learned[x]) if x is not None else w
                for w, x in zip(vel.windows, vel.learned, strict=True)
            )
            rule = dataclasses.replace(rule, velocity=dataclasses.replace(vel, windows=windows))
        out.append(rule)
    return out, plan


def _parse_rule(raw: object, ctx: ParseContext, path: YamlPath) -> Rule | None:
    if not isinstance(raw, dict):
        ctx.error(path, "a rule is a mapping with id, description, conditions/velocity, action")
        return None
    before = len(ctx.problems)
    for key in raw:
        if key not in RULE_KEYS:
            ctx.error((*path, key), f"unknown key {key!r} (allowed: {', '.join(RULE_KEYS)})")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not NAME.match(rule_id):
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
        for leaf in leaves(condition) if condition is not None else ():
            if leaf.signal in READ_SIGNALS and leaf.key not in STATE_OPERATORS:
                ctx.error(
                    (*path, "conditions"),
                    f"{leaf.signal} is read during the decision: test it with "
                    f"{', '.join(sorted(STATE_OPERATORS))}, not {leaf.key}",
                )
    velocity = (
        parse_velocity(raw["velocity"], ctx, (*path, "velocity")) if "velocity" in raw else None
    )
    budget = parse_budget(raw["budget"], ctx, (*path, "budget")) if "budget" in raw else None
    if "conditions" not in raw and "velocity" not in raw and "budget" not in raw:
        ctx.error(path, "a rule needs `conditions`, `velocity`, `budget`, or conditions with one")
    if "velocity" in raw and "budget" in raw:
        ctx.error((*path, "budget"), "a rule has `velocity` or `budget`, not both")
    if "budget" in raw and action == "allow":
        ctx.error(
            (*path, "action"),
            "a budget rule acts when its budget is reached: its action is block, drop or tag",
        )
    if "velocity" in raw and action == "allow":
        # A velocity rule acts when its counter is OVER the limit: "allow" would send exactly
        # the traffic that is over it. Limits refuse (block, drop), or tag for review.
        ctx.error(
            (*path, "action"),
            "a velocity rule acts when over its limit: its action is block, drop or tag, not allow",
        )
    status = 200
    if action == "block":
        status = 429 if velocity or "budget" in raw else 403
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
        budget=budget,
    )


def _parse_default(raw: object, ctx: ParseContext) -> DefaultAction | None:
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
