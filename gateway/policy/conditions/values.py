"""Values written in a condition (`equals:`, `in:`), validated by the kind of the signal they are
compared with: the one place that knows what a country, an ASN, a number type ... looks like."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence

from gateway.errors import ConfigError, InputError
from gateway.lists import ValueList, load_list
from gateway.policy.conditions.base import Operand

Member = Callable[[object], bool]

PHONE_TYPES = frozenset(
    {
        "FIXED_LINE",
        "MOBILE",
        "FIXED_LINE_OR_MOBILE",
        "TOLL_FREE",
        "PREMIUM_RATE",
        "SHARED_COST",
        "VOIP",
        "PERSONAL_NUMBER",
        "PAGER",
        "UAN",
        "VOICEMAIL",
        "UNKNOWN",
    }
)

_E164 = re.compile(r"\+[1-9]\d{5,14}")


class _Bad(InputError):
    """One written value does not fit the signal's kind (the message says why)."""


def _bool(name: str, v: object) -> object:
    if not isinstance(v, bool):
        raise _Bad(f"{name} is true or false, not {v!r}")
    return v


def _int(name: str, v: object) -> object:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Bad(f"{name} is an integer, not {v!r}")
    return v


def _float(name: str, v: object) -> object:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _Bad(f"{name} is a number, not {v!r}")
    return float(v)


def _phone_type(name: str, v: object) -> object:
    text = str(v).upper()
    if text not in PHONE_TYPES:
        raise _Bad(f"unknown number type {v!r} (one of {', '.join(sorted(PHONE_TYPES))})")
    return text


def _ip(name: str, v: object) -> object:
    try:
        return str(ipaddress.ip_address(str(v)))
    except ValueError:
        raise _Bad(f"{v!r} is not an IP address") from None


def _phone(name: str, v: object) -> object:
    text = str(v)
    if name == "phone.e164" and not _E164.fullmatch(text):
        raise _Bad(f"{v!r} is not an E.164 number (+ and 6 to 15 digits)")
    return text.lstrip("+") if name == "phone.prefix" else text


def _str(name: str, v: object) -> object:
    if isinstance(v, (dict, list)):
        raise _Bad(f"{name} values are strings, not {type(v).__name__}")
    return str(v)


# Signal kind -> how one written value is checked and canonicalised. Countries and ASNs are
# checked by the list loader (the same rules as a named list of that kind).
_CHECKS: dict[str, Callable[[str, object], object]] = {
    "bool": _bool,
    "int": _int,
    "float": _float,
    "phone_type": _phone_type,
    "ip": _ip,
    "phone": _phone,
    "str": _str,
}


def member_test(operand: Operand, raw: Sequence[object]) -> Member | None:
    """Validate written values for the operand's signal kind; return a membership test, or None
    with every bad value reported at its position."""
    spec, ctx = operand.spec, operand.ctx
    if spec.kind in ("country", "asn"):
        items = [(str(v), operand.at(i)) for i, v in enumerate(raw)]
        try:
            listed = load_list(spec.kind, items, f"{spec.name} values")
        except ConfigError as exc:
            ctx.problems.extend(exc.problems)
            return None
        assert isinstance(listed, ValueList)
        return listed.contains
    check = _CHECKS[spec.kind]
    accepted: set[object] = set()
    ok = True
    for i, v in enumerate(raw):
        try:
            accepted.add(check(spec.name, v))
        except _Bad as exc:
            operand.error(str(exc), at=(i,))
            ok = False
    return frozenset(accepted).__contains__ if ok else None
