"""What an override is: its target (an IP, a CIDR, a number prefix or a country), validated and
canonicalised, with the guard rails against a target broad enough to block a continent."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

from gateway.countries import is_country
from gateway.errors import SmsGuardError
from gateway.logs import mask_phone
from gateway.models import Action, Decision

# Guard rails: targets this broad need an explicit confirmation (a typo can block a continent).
WIDEST_V4 = 8  # no CIDR broader than /8 (IPv4) ...
WIDEST_V6 = 32  # ... or /32 (IPv6)
WIDEST_ALLOW_V4 = 16  # no allow broader than /16 (IPv4) ...
WIDEST_ALLOW_V6 = 48  # ... or /48 (IPv6)
SHORTEST_ALLOW_PREFIX = 3  # no allow of a number prefix shorter than 3 digits
# A prefix longer than this many digits is (nearly) a whole number: shown masked, matched in full.
PREFIX_SHOWN_MAX = 8
# Every audit entry has these fields (None where they do not apply), so pages can rely on them.
AUDIT_FIELDS = ("id", "kind", "value", "action", "target", "expires_at")

Kind = Literal["ip", "cidr", "prefix", "country"]
OverrideAction = Literal["block", "allow"]
KINDS: tuple[Kind, ...] = ("ip", "cidr", "prefix", "country")
ACTIONS: tuple[OverrideAction, ...] = ("block", "allow")


class OverrideError(SmsGuardError):
    """An override cannot be created as asked (bad value, unknown kind ...)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True, slots=True)
class Override:
    """One manual decision for every request matching `kind`/`value`."""

    id: str
    kind: Kind
    value: str
    action: OverrideAction
    reason: str
    author: str
    created_at: float
    expires_at: float | None = None

    def active(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at

    @property
    def shown(self) -> str:
        """The value as pages, the API, the audit log and log lines show it."""
        return show_value(self.kind, self.value)

    def public(self) -> dict[str, object]:
        """The override for the API: the value masked when it is (nearly) a whole number."""
        return {**asdict(self), "value": self.shown}

    def decision(self) -> Decision:
        """What the request this override matches is answered."""
        # The override's id, not its value: a prefix override can be a whole phone number, and
        # the rule id goes to logs, metrics labels and the answer to Auth0.
        rule = f"override:{self.id}"
        if self.action == "allow":
            return Decision.allow(f"allowed by override: {self.reason}", rule_id=rule)
        return Decision(
            Action.BLOCK, rule_id=rule, reason=f"blocked by override: {self.reason}", status=403
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @staticmethod
    def from_json(raw: bytes | str) -> Override:
        # Any: the fields of an Override as to_json wrote them, checked by the constructor.
        data: dict[str, Any] = json.loads(raw)
        return Override(**data)


def normalise(kind: str, value: str) -> tuple[Kind, str]:
    """Validate and canonicalise an override target; raise OverrideError with the reason."""
    value = value.strip()
    if kind == "ip":
        try:
            return "ip", str(ipaddress.ip_address(value))
        except ValueError:
            raise OverrideError("value", f"{value!r} is not an IP address") from None
    if kind == "cidr":
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise OverrideError("value", f"{value!r} is not a CIDR (203.0.113.0/24)") from None
        if net.num_addresses == 1:
            return "ip", str(net.network_address)
        return "cidr", str(net)
    if kind == "prefix":
        digits = value.replace(" ", "").replace("-", "").lstrip("+")
        if not digits.isdigit() or not 1 <= len(digits) <= 12:
            raise OverrideError(
                "value", f"{value!r} is not a number prefix (1-12 digits, e.g. 4477009)"
            )
        return "prefix", digits
    if kind == "country":
        code = value.upper()
        if not is_country(code):
            raise OverrideError("value", f"{value!r} is not an ISO country code (GB, US ...)")
        return "country", code
    raise OverrideError("kind", f"{kind!r} is not one of {', '.join(KINDS)}")


def show_value(kind: str, value: str) -> str:
    """A prefix longer than PREFIX_SHOWN_MAX digits is a phone number: masked; others as is."""
    if kind == "prefix" and value.isdigit() and len(value) > PREFIX_SHOWN_MAX:
        return mask_phone("+" + value)
    return value


def check_breadth(kind: str, value: str, action: str) -> str | None:
    """Why an override of this (normalised) target is too broad to set without confirming."""
    if kind == "cidr":
        net = ipaddress.ip_network(value)
        widest = WIDEST_V4 if net.version == 4 else WIDEST_V6
        if net.prefixlen < widest:
            return f"{value} is broader than /{widest}"
        widest_allow = WIDEST_ALLOW_V4 if net.version == 4 else WIDEST_ALLOW_V6
        if action == "allow" and net.prefixlen < widest_allow:
            return f"allowing {value} is broader than /{widest_allow}"
    if kind == "prefix" and action == "allow" and len(value) < SHORTEST_ALLOW_PREFIX:
        return f"allowing prefix {value} covers too many numbers (< {SHORTEST_ALLOW_PREFIX} digits)"
    return None
