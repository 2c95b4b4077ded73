"""The `auto_blocks:` section of a rule file: when a destination whose codes stopped being used is
blocked automatically for a while (the watcher in `gateway.adaptive` applies them).

    auto_blocks:
      - id: auto-block-range
        description: a wide range whose codes stopped being used
        subject: phone.range4       # phone.range4 | phone.range6 | phone.country
        window: 1h                  # 1h | 24h
        min_sent: 20                # at least this many codes in the window ...
        max_conversion: 0.05        # ... and fewer than this share of them used
        below_baseline: 0.2         # optional: and under this fraction of the country's 14-day rate
        block_for: 2h               # the override's expiry
        mode: shadow                # shadow: record "would have auto-blocked" only
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import Location
from gateway.policy.conditions import ParseContext, YamlPath
from gateway.policy.ruleset import NAME
from gateway.policy.velocityspec import parse_duration

SUBJECTS = {"phone.range4": "r4", "phone.range6": "r6", "phone.country": "cc"}
WINDOWS = ("1h", "24h")
KEYS = (
    "id",
    "description",
    "subject",
    "window",
    "min_sent",
    "max_conversion",
    "below_baseline",
    "block_for",
    "mode",
)


@dataclass(frozen=True)
class AutoBlock:
    id: str
    description: str
    subject: str  # a key of SUBJECTS
    window: str
    min_sent: int
    max_conversion: float
    below_baseline: float | None
    block_for_s: int
    shadow: bool
    location: Location

    @property
    def dimension(self) -> str:
        return SUBJECTS[self.subject]


def parse_auto_blocks(raw: object, ctx: ParseContext) -> list[AutoBlock]:
    path: YamlPath = ("auto_blocks",)
    if not isinstance(raw, list):
        ctx.error(path, "`auto_blocks` is a list of {id, description, subject, ...}")
        return []
    out: list[AutoBlock] = []
    for i, item in enumerate(raw):
        parsed = _parse_one(item, ctx, (*path, i))
        if parsed is not None:
            out.append(parsed)
    return out


def _parse_one(raw: object, ctx: ParseContext, path: YamlPath) -> AutoBlock | None:
    if not isinstance(raw, dict):
        ctx.error(path, "an auto block is a mapping (id, description, subject, window, ...)")
        return None
    before = len(ctx.problems)
    for key in raw:
        if key not in KEYS:
            ctx.error((*path, key), f"unknown key {key!r} (allowed: {', '.join(KEYS)})")
    block_id, description = raw.get("id"), raw.get("description")
    if not isinstance(block_id, str) or not NAME.match(block_id):
        ctx.error((*path, "id"), "an `id`: lowercase letters, digits, '-', '_', '.'")
    if not isinstance(description, str) or not description.strip():
        ctx.error((*path, "description"), "a `description` (the reason people read)")
    subject = raw.get("subject")
    if subject not in SUBJECTS:
        ctx.error((*path, "subject"), f"`subject` is one of {', '.join(SUBJECTS)}")
    window = raw.get("window", "1h")
    if window not in WINDOWS:
        ctx.error((*path, "window"), f"`window` is one of {', '.join(WINDOWS)}")
    min_sent = raw.get("min_sent")
    if isinstance(min_sent, bool) or not isinstance(min_sent, int) or min_sent < 1:
        ctx.error((*path, "min_sent"), "`min_sent` is a positive integer")
    share = {k: raw.get(k) for k in ("max_conversion", "below_baseline")}
    for key, value in share.items():
        if value is None and key == "below_baseline":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            ctx.error((*path, key), f"`{key}` is a share between 0 and 1, not {value!r}")
    block_for = parse_duration(raw.get("block_for"))
    if block_for is None or block_for > 7 * 86_400:
        ctx.error((*path, "block_for"), "`block_for` is a duration up to 7d (30m, 2h)")
    mode = raw.get("mode", "enforce")
    if mode not in ("enforce", "shadow"):
        ctx.error((*path, "mode"), "`mode` is enforce or shadow")
    if len(ctx.problems) > before:
        return None
    assert isinstance(block_id, str)
    assert isinstance(min_sent, int)
    assert block_for is not None
    below = share["below_baseline"]
    return AutoBlock(
        id=block_id,
        description=str(description).strip(),
        subject=str(subject),
        window=str(window),
        min_sent=min_sent,
        max_conversion=float(share["max_conversion"] or 0),
        below_baseline=float(below) if isinstance(below, (int, float)) else None,
        block_for_s=block_for,
        shadow=mode == "shadow",
        location=ctx.locator.at(path),
    )
