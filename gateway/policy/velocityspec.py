"""The `velocity:` block of a rule: what is counted together (the key) and the limits per window."""

from __future__ import annotations

import re

from gateway.policy.conditions import ParseContext, YamlPath
from gateway.policy.ruleset import KeyPart, Velocity
from gateway.policy.signalnames import national_prefix_getter, prefix_getter, resolve
from gateway.policy.statereads import Learned
from gateway.velocity import Window

_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> int | None:
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


def parse_velocity(raw: object, ctx: ParseContext, path: YamlPath) -> Velocity | None:
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
    learned: list[Learned | None] = []
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
                if k not in ("max", "per", "learned"):
                    ctx.error((*lpath, k), f"unknown key {k!r} (allowed: max, per, learned)")
            found = None
            if "learned" in limit:
                found = _learned(limit, key_raw, ctx, lpath)
                if found is None:
                    continue
            mx = found.floor if found is not None else limit.get("max")
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
            learned.append(found)
    if len(ctx.problems) > before:
        return None
    return Velocity(tuple(parts), tuple(windows), count, tuple(learned))


# The velocity key a learned limit may count, and the verified history it is sized from.
LEARNED_BASES = {
    "phone.country": "phone.country.verified_daily_max",
    "country": "phone.country.verified_daily_max",
    "phone.national_prefix:4": "phone.range4.verified_daily_max",
    "phone.national_prefix:6": "phone.range6.verified_daily_max",
}


def _learned(
    limit: dict[object, object], key_raw: object, ctx: ParseContext, path: YamlPath
) -> Learned | None:
    """`learned: {factor: F, floor: N}`: N + F x the busiest day of verified logins in 14."""
    raw = limit["learned"]
    base = (
        LEARNED_BASES.get(key_raw[0]) if isinstance(key_raw, list) and len(key_raw) == 1 else None
    )
    if base is None:
        ctx.error(
            (*path, "learned"),
            "a learned limit counts one destination: key phone.country, "
            "phone.national_prefix:4 or phone.national_prefix:6",
        )
        return None
    if "max" in limit:
        ctx.error((*path, "max"), "a learned limit has `floor` inside `learned`, not `max`")
        return None
    if not isinstance(raw, dict) or set(raw) - {"factor", "floor"}:
        ctx.error((*path, "learned"), "`learned` is {factor: F, floor: N}")
        return None
    factor, floor = raw.get("factor"), raw.get("floor")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0:
        ctx.error((*path, "learned"), f"`factor` is a positive number, not {factor!r}")
        return None
    if isinstance(floor, bool) or not isinstance(floor, int) or floor < 1:
        ctx.error((*path, "learned"), f"`floor` is a positive integer, not {floor!r}")
        return None
    return Learned(float(factor), floor, base)


def _key_part(name: str, ctx: ParseContext, path: YamlPath, n: int) -> KeyPart | None:
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
