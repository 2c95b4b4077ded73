"""The feedback state in Redis: key layout, time buckets and dimensions (the published interface).

Every key carries the velocity hash tag `{sgv}`, so the decision can read it in the same EVALSHA
as its velocity counters (one round trip). `<h(x)>` is the keyed BLAKE2b digest the velocity
counters use (`CounterKeys`, secret `rules.counter_hash_key` or the one shared in Redis): phone
numbers and IPs never appear in key names or values.

    {sgv}:fb:v:<h(e164)>             STRING  unix seconds of the recipient's last completed login.
                                             Expires `verified_ttl_days` (180) after that login
                                             ("completed a login before").
    {sgv}:fb:o:<h(e164)>             ZSET    the recipient's open codes (sent, not yet used),
                                             score = send time in ms, member
                                             "<ms>|<id>|<dims>"; the newest `max_open_codes`
                                             kept; key expires `open_code_ttl_s` after the last
                                             send. ZCOUNT key (now_ms - window_ms) +inf = codes
                                             sent to the recipient in the window and not used
                                             (windows up to `open_code_ttl_s`, 1 day).
    {sgv}:fb:<res>:<dim>:<h(value)>  HASH    counters of one dimension value at one resolution,
                                             field "<metric><bucket>", bucket = floor(t / step).
    {sgv}:fb:l:<log_id>              STRING  an Auth0 log_id already applied (redelivery).

Resolutions (`RESOLUTIONS`): `m5` 5-minute buckets (13 kept: the 1 h window), `h` hourly (25 kept:
24 h), `d` daily (15 kept: 14 days). Windows (`WINDOWS`) sum the buckets from the one holding
`now - window + step` to the current one, so a window's edge moves in steps of its resolution.

Dimensions (`DIMENSIONS`), from the send: `cc` destination country (ISO code), `r4` / `r6` calling
code + first 4 / 6 national digits (`998:9012`), `ip` source IP, `net` its /24 or /64, `asn`,
`ipcc` IP country. A completion without an open code knows only the destination (`cc r4 r6`).

Metrics (`METRICS`): `s` codes sent (relayed by a provider), `c` completions of those codes (counted
on the dimensions of the send, in the bucket of the completion's own date), `x` completions that
matched no open code (backfill; codes sent before the gateway saw them), `f` failed code entries.
Conversion over a window is c / s, resting on s sends; unverified sends are s - c; verified volume
(a budget's baseline) is c + x. The destination's own 14-day baseline is the `cc` conversion over
`14d`.

Reading in Lua: `SUM_LUA` defines `fb_sum(key, metric, first_bucket, last_bucket)`; the decision
script can include it and call it with the bucket range of `bucket_range(window, now)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.phone import phone_facts
from gateway.velocity import KEY_PREFIX, CounterKeys

PREFIX = KEY_PREFIX + "fb:"  # "{sgv}:fb:"

# resolution -> (step in seconds, buckets kept)
RESOLUTIONS: dict[str, tuple[int, int]] = {"m5": (300, 13), "h": (3600, 25), "d": (86_400, 15)}
# window name -> (resolution, buckets summed)
WINDOWS: dict[str, tuple[str, int]] = {"1h": ("m5", 12), "24h": ("h", 24), "14d": ("d", 14)}
DIMENSIONS = ("cc", "r4", "r6", "ip", "net", "asn", "ipcc")
DESTINATION = ("cc", "r4", "r6")
METRICS = ("s", "c", "x", "f")

SUM_LUA = """
local function fb_sum(key, metric, first, last)
  local names = {}
  for b = first, last do names[#names + 1] = metric .. b end
  local total = 0
  for _, v in ipairs(redis.call('HMGET', key, unpack(names))) do
    if v then total = total + tonumber(v) end
  end
  return total
end
"""


def bucket_range(window: str, now: float) -> tuple[str, int, int]:
    """(resolution, first bucket, last bucket) a window sums at `now`."""
    res, count = WINDOWS[window]
    step = RESOLUTIONS[res][0]
    last = int(now // step)
    return res, last - count + 1, last


def destination_dims(e164: str) -> dict[str, str]:
    """The dimensions known from the number alone: country and national ranges."""
    facts = phone_facts(e164)
    dims: dict[str, str] = {}
    if facts.country:
        dims["cc"] = facts.country
    if facts.calling_code:
        national = facts.e164.lstrip("+")[len(str(facts.calling_code)) :]
        if len(national) >= 4:
            dims["r4"] = f"{facts.calling_code}:{national[:4]}"
        if len(national) >= 6:
            dims["r6"] = f"{facts.calling_code}:{national[:6]}"
    return dims


@dataclass(frozen=True, slots=True)
class SendDims:
    """What the store remembers of one sent code (values; hashed before they reach Redis)."""

    e164: str
    cc: str | None = None
    ip: str | None = None
    net: str | None = None
    asn: int | None = None
    ipcc: str | None = None

    def values(self) -> dict[str, str]:
        dims = destination_dims(self.e164)
        if self.cc:
            dims["cc"] = self.cc
        for name, value in (("ip", self.ip), ("net", self.net), ("asn", self.asn)):
            if value is not None and value != "":
                dims[name] = str(value)
        if self.ipcc:
            dims["ipcc"] = self.ipcc
        return dims


class FeedbackKeys:
    """Key names of the layout above, hashed with the velocity counters' secret."""

    def __init__(self, counter_keys: CounterKeys) -> None:
        self.counter_keys = counter_keys

    @property
    def ready(self) -> bool:
        """False until the shared secret is known (names would not match other instances')."""
        return self.counter_keys.ready

    def digest(self, value: str) -> str:
        return self.counter_keys.key("fb", [value]).rsplit(":", 1)[1]

    def verified(self, e164: str) -> str:
        return f"{PREFIX}v:{self.digest(e164)}"

    def open_codes(self, e164: str) -> str:
        return f"{PREFIX}o:{self.digest(e164)}"

    def counter(self, res: str, dim: str, value: str) -> str:
        return counter_key(res, dim, self.digest(value))

    def dims_arg(self, dims: dict[str, str]) -> str:
        """`dim=digest,...`: how the write script receives dimensions (it builds the keys)."""
        return ",".join(f"{d}={self.digest(v)}" for d, v in dims.items() if d in DIMENSIONS)


def counter_key(res: str, dim: str, digest: str) -> str:
    return f"{PREFIX}{res}:{dim}:{digest}"


def dedupe_key(log_id: str) -> str:
    return f"{PREFIX}l:{log_id}"
