"""Signals of what became of earlier codes (completion feedback), declared as one family.

They are request-time state (`registry.state`): the decision script reads them from the feedback
store in the same Redis call as the velocity counters (`gateway.policy.statereads`), and only the
ones the loaded rule set names. Without completion feedback configured they are unknown.

    recipient.verified               the number completed a login before (180-day marker)
    recipient.unused.1h / .24h       codes sent to the number in the window and not used
    <subject>.<measure>.<window>     per destination or source, over 1h, 24h or 14d:
        sent          codes relayed
        completed     of those, used in a login
        unverified    sent - completed
        conversion    completed / sent (unknown when nothing was sent: pair it with `sent`)
        vs_baseline   conversion / the destination country's own 14-day conversion
    <destination>.verified_daily_max the largest day of verified logins in 14 days (learned limits)
    feedback.configured              completion feedback is configured on this gateway

Subjects: phone.country, phone.range4 / phone.range6 (calling code + first 4 / 6 national digits),
ip, ip.net (/24 or /64), ip.asn, ip.country (the source's country).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# subject signal prefix -> the feedback store's dimension
SUBJECTS: dict[str, str] = {
    "phone.country": "cc",
    "phone.range4": "r4",
    "phone.range6": "r6",
    "ip": "ip",
    "ip.net": "net",
    "ip.asn": "asn",
    "ip.country": "ipcc",
}
DESTINATIONS = ("phone.country", "phone.range4", "phone.range6")
MEASURES = ("sent", "completed", "unverified", "conversion", "vs_baseline")
WINDOWS = ("1h", "24h", "14d")
CONFIGURED = "feedback.configured"
VERIFIED = "recipient.verified"
DAILY_MAX = "verified_daily_max"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one outcome signal measures: of which subject, over which window."""

    name: str
    kind: Literal["bool", "int", "float"]
    subject: str = ""  # a key of SUBJECTS; "" for the recipient's own signals
    measure: str = ""  # one of MEASURES, "unused", "verified", DAILY_MAX
    window: str = ""  # one of WINDOWS ("" when it has none)
    help: str = ""


def _family() -> dict[str, Outcome]:
    out: list[Outcome] = [
        Outcome(VERIFIED, "bool", measure="verified", help="the number completed a login before"),
        Outcome(CONFIGURED, "bool", measure="configured", help="completion feedback is set up"),
    ]
    for window in ("1h", "24h"):
        out.append(
            Outcome(
                f"recipient.unused.{window}",
                "int",
                measure="unused",
                window=window,
                help=f"codes sent to the number in {window} and not used",
            )
        )
    helps = {
        "sent": "codes sent",
        "completed": "codes used in a login",
        "unverified": "codes sent and not used",
        "conversion": "share of sent codes used (0-1)",
        "vs_baseline": "conversion / the destination country's 14-day conversion",
    }
    for subject in SUBJECTS:
        for measure in MEASURES:
            for window in WINDOWS:
                out.append(
                    Outcome(
                        f"{subject}.{measure}.{window}",
                        "float" if measure in ("conversion", "vs_baseline") else "int",
                        subject,
                        measure,
                        window,
                        f"{helps[measure]}, {subject}, {window}",
                    )
                )
    for subject in DESTINATIONS:
        out.append(
            Outcome(
                f"{subject}.{DAILY_MAX}",
                "int",
                subject,
                DAILY_MAX,
                help=f"most verified logins in one day of 14, {subject}",
            )
        )
    return {o.name: o for o in out}


OUTCOMES: dict[str, Outcome] = _family()
