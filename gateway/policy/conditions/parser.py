"""Reading a condition tree from YAML: combinators, then one leaf per mapping, looked up in the
registry by its operator. Parsing never stops at the first problem: every one is added to the
context with its file:line:col."""

from __future__ import annotations

from collections.abc import Callable

from gateway.policy.conditions.base import Condition, Leaf, Operand, ParseContext, YamlPath
from gateway.policy.conditions.combinators import All, Any_, Not
from gateway.policy.conditions.registry import COMBINATORS, OPERATORS
from gateway.policy.signalnames import SIGNALS, prefix_getter


def parse_condition(node: object, ctx: ParseContext, path: YamlPath) -> Condition | None:
    """Parse a condition tree (a list means `all`); None, with problems added, when invalid."""
    if isinstance(node, list):
        if not node:
            ctx.error(path, "an empty list of conditions (it would match every request)")
            return None
        return _parse_children(node, ctx, path, All)
    if not isinstance(node, dict) or not node:
        ctx.error(path, "a condition is a mapping: {signal: ..., <operator>: ...} or all/any/not")
        return None
    combinator = [k for k in node if k in COMBINATORS]
    if combinator:
        if len(node) != 1:
            others = ", ".join(str(k) for k in node if k != combinator[0])
            ctx.error(path, f"`{combinator[0]}` stands alone in its mapping; also found: {others}")
            return None
        key = combinator[0]
        child = node[key]
        if key == "not":
            inner = parse_condition(child, ctx, (*path, key))
            return Not(inner) if inner else None
        if not isinstance(child, list) or not child:
            ctx.error((*path, key), f"`{key}` takes a non-empty list of conditions")
            return None
        return _parse_children(child, ctx, (*path, key), All if key == "all" else Any_)
    return _parse_leaf(node, ctx, path)


def _parse_children(
    items: list[object],
    ctx: ParseContext,
    path: YamlPath,
    make: Callable[[list[Condition]], Condition],
) -> Condition | None:
    children = [parse_condition(item, ctx, (*path, i)) for i, item in enumerate(items)]
    if any(c is None for c in children):
        return None
    return make([c for c in children if c is not None])


def _parse_leaf(node: dict[object, object], ctx: ParseContext, path: YamlPath) -> Leaf | None:
    ok = True
    for key in node:
        if key not in OPERATORS and key not in ("signal", "digits"):
            ctx.error(
                (*path, str(key)),
                f"unknown key {key!r} in a condition (operators: "
                f"{', '.join(OPERATORS)}; combinators: all, any, not)",
            )
            ok = False
    signal = node.get("signal")
    if signal is None:
        ctx.error(path, "a condition needs `signal:`")
        return None
    spec = SIGNALS.get(str(signal))
    if spec is None:
        ctx.error((*path, "signal"), f"unknown signal {signal!r} (known: {', '.join(SIGNALS)})")
        return None
    get = spec.get
    shown_signal = spec.name
    digits = node.get("digits")
    if spec.name == "phone.prefix":
        if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 15:
            ctx.error(
                (*path, "digits") if "digits" in node else path,
                "phone.prefix needs `digits:` between 1 and 15",
            )
            ok = False
        else:
            get = prefix_getter(digits)
            shown_signal = f"phone.prefix[{digits}]"
    elif "digits" in node:
        ctx.error((*path, "digits"), "`digits` applies only to signal phone.prefix")
        ok = False
    ops = [str(k) for k in node if k in OPERATORS]
    if not ops and not ok:
        return None  # an unknown key was reported: most likely the misspelt operator
    if len(ops) != 1:
        ctx.error(
            path, f"a condition has exactly one operator ({', '.join(OPERATORS)}); found {len(ops)}"
        )
        return None
    key = ops[0]
    op = OPERATORS[key]
    if op.kinds is not None and spec.kind not in op.kinds:
        ctx.error((*path, key), f"`{key}` does not apply to {spec.name} (a {spec.kind} signal)")
        return None
    if spec.name == "phone.prefix" and ok and key in ("equals", "in") and isinstance(digits, int):
        ok = _prefix_lengths(node[key], digits, ctx, (*path, key))
    leaf = op.parse(Operand(spec, node[key], ctx, (*path, key), get, shown_signal))
    return leaf if ok else None


def _prefix_lengths(raw: object, digits: int, ctx: ParseContext, path: YamlPath) -> bool:
    """phone.prefix with `digits: N` is N digits long: other lengths could never match."""
    values = raw if isinstance(raw, list) else [raw]
    ok = True
    for i, v in enumerate(values):
        text = str(v).lstrip("+")
        if text.isdigit() and len(text) != digits:
            where = (*path, i) if isinstance(raw, list) else path
            ctx.error(
                where,
                f"{v!r} has {len(text)} digits but phone.prefix has `digits: {digits}`: "
                "it could never match (use `prefix:` on phone.e164 for shorter prefixes)",
            )
            ok = False
    return ok
