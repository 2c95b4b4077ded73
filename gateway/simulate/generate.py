"""Labelled traffic: legitimate users and four attack shapes on one compressed timeline.

`generate(ScenarioConfig)` returns the requests sorted by their planned send time (`at`, seconds
after the start). The same config and seed give the same requests, byte for byte.

The timeline is compressed: `span_s` of real time (4 minutes by default) stands for a busy hour.
Velocity rules count in the gateway's real clock, so the shapes are scaled rather than slowed down:
each legitimate user logs in 1 to 3 times (a login per user is what an hour of a real app looks
like), retries come within a minute as they do in life, and an attack burst sends its hundreds of
messages within the span. The README (Simulation) lists what this cannot show.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

import phonenumbers
from phonenumbers import PhoneNumberType

from gateway.simulate import population as pop

Label = Literal["legit", "attack"]
Shape = Literal["action", "legacy"]

LEGIT = "legit"
PREFIX_BURST = "prefix-burst"
LOW_AND_SLOW = "low-and-slow"
BOMBING = "bombing"
PREMIUM = "premium-rate"
SCENARIOS: tuple[str, ...] = (LEGIT, PREFIX_BURST, LOW_AND_SLOW, BOMBING, PREMIUM)

MAX_REQUESTS = 20_000
MOBILE = PhoneNumberType.MOBILE


@dataclass(frozen=True)
class SimRequest:
    """One planned POST /sms, with its ground truth."""

    index: int
    at: float  # planned send time, seconds after the start
    label: Label
    scenario: str
    actor: str  # the user or campaign behind it ("user-17", "burst-1", ...)
    recipient: str  # E.164
    country: str | None  # region of the recipient
    number_type: str  # phonenumbers type name, as generated
    ip: str
    ip_country: str | None
    user_agent: str | None
    language: str | None
    code: str
    retry: bool = False

    @property
    def body(self) -> str:
        return f"Your verification code is: {self.code}"

    def payload(self, shape: Shape) -> dict[str, Any]:
        """The JSON Auth0 would post for this login, in the legacy or the Action shape."""
        if shape == "legacy":
            req: dict[str, Any] = {"ip": self.ip}
            if self.user_agent is not None:
                req["user-agent"] = self.user_agent
            if self.language is not None:
                req["x-request-language"] = self.language
            return {"recipient": self.recipient, "body": self.body, "sender": "", "req": req}
        req = {"ip": self.ip, "method": "POST"}
        if self.user_agent is not None:
            req["user_agent"] = self.user_agent
        if self.language is not None:
            req["language"] = self.language
        if self.ip_country is not None:
            req["geoip"] = {"countryCode": self.ip_country}
        return {
            "recipient": self.recipient,
            "body": self.body,
            "sender": "",
            "req": req,
            "message_type": "otp_verify",
            "delivery_method": "text",
            "client_id": "smsguard-simulate",
        }


@dataclass(frozen=True)
class ScenarioConfig:
    """What to generate; `attack_scale` multiplies every attack scenario's size."""

    seed: int = 1
    legit: int = 300
    attack_scale: float = 1.0
    span_s: float = 240.0
    # Sizes at scale 1.
    bursts: int = 2
    burst_size: int = 200
    slow_prefixes: int = 40
    bomb_requests: int = 40
    premium: int = 30
    # Behaviour of real users.
    retry_rate: float = 0.12
    traveller_rate: float = 0.06
    carrier_nat_rate: float = 0.25
    scenarios: tuple[str, ...] = SCENARIOS
    # Where the legitimate users are: (country, weight) pairs; default pop.LEGIT_COUNTRIES.
    legit_countries: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        for country, weight in self.legit_countries:
            if weight <= 0 or phonenumbers.example_number_for_type(country, MOBILE) is None:
                raise ValueError(
                    f"{country}:{weight}: not a country with mobile numbers, weight > 0"
                )
        if self.legit < 0 or self.attack_scale < 0 or self.span_s <= 0:
            raise ValueError("legit and attack scale must be >= 0, span > 0")
        unknown = set(self.scenarios) - set(SCENARIOS)
        if unknown:
            raise ValueError(f"unknown scenario(s): {', '.join(sorted(unknown))}")


@dataclass
class _Builder:
    config: ScenarioConfig
    rng: random.Random
    planned: list[dict[str, Any]] = field(default_factory=list)

    def add(self, **fields: Any) -> None:
        fields.setdefault("retry", False)
        fields.setdefault("code", f"{self.rng.randrange(1_000_000):06d}")
        fields.setdefault("country", pop.region_of(fields["recipient"]))
        fields.setdefault("number_type", pop.number_type_name(fields["recipient"]))
        self.planned.append(fields)

    def scaled(self, size: int) -> int:
        return max(1, round(size * self.config.attack_scale)) if self.config.attack_scale else 0


def generate(config: ScenarioConfig) -> list[SimRequest]:
    """Every planned request of the scenario, ordered by planned time."""
    rng = random.Random(config.seed)
    b = _Builder(config, rng)
    expected = config.legit * 1.5 + sum(
        b.scaled(n) * k
        for n, k in (
            (config.bursts, min(2000, b.scaled(config.burst_size))),
            (config.slow_prefixes, 3),
            (config.bomb_requests, 1),
            (config.premium, 1),
        )
    )
    if expected > MAX_REQUESTS:
        raise ValueError(
            f"about {expected:.0f} requests planned; the simulator stops at {MAX_REQUESTS} "
            "(lower --legit or --attack-scale)"
        )
    # Each scenario has its own generator: changing one leaves the others as they were.
    makers = {
        LEGIT: _legit_users,
        PREFIX_BURST: _prefix_bursts,
        LOW_AND_SLOW: _low_and_slow,
        BOMBING: _bombing,
        PREMIUM: _premium,
    }
    for name in SCENARIOS:
        b.rng = random.Random(f"{config.seed}:{name}")
        if name in config.scenarios:
            makers[name](b)
    if len(b.planned) > MAX_REQUESTS:
        raise ValueError(
            f"{len(b.planned)} requests planned; the simulator stops at {MAX_REQUESTS} "
            "(lower --legit or --attack-scale)"
        )
    b.planned.sort(key=lambda f: (f["at"], f["scenario"], f["recipient"]))
    return [SimRequest(index=i, **f) for i, f in enumerate(b.planned)]


def _legit_users(b: _Builder) -> None:
    cfg, rng = b.config, b.rng
    mix = dict(cfg.legit_countries) if cfg.legit_countries else pop.LEGIT_COUNTRIES
    countries = [pop.weighted(rng, mix) for _ in range(cfg.legit)]
    per_country = {c: countries.count(c) for c in set(countries)}
    # Mobile-data users share carrier NAT addresses: about 5 of this run's users per /24.
    nat = {
        c: pop.carrier_nat_nets(rng, c, max(1, round(n * cfg.carrier_nat_rate / 5)))
        for c, n in sorted(per_country.items())
    }
    for user, country in enumerate(countries):
        number = pop.random_mobile(rng, country)
        ip_country = country
        if rng.random() < cfg.traveller_rate:
            ip_country = pop.weighted(rng, mix)
        on_mobile_data = rng.random() < cfg.carrier_nat_rate and ip_country == country
        agent = pop.browser_agent(rng)
        language = pop.accept_language(country)
        # A person logs in again minutes later, not seconds: gaps of 65-100 s keep a user's
        # logins in separate minutes, the tightest per-recipient window real users meet.
        logins = rng.choices((1, 2, 3), weights=(70, 23, 7))[0]
        gaps = [rng.uniform(65, 100) for _ in range(logins - 1)]
        first = rng.uniform(0, max(0.0, cfg.span_s - sum(gaps)))
        times = [first + sum(gaps[:i]) for i in range(logins)]
        for at in times:
            ip = (
                pop.ip_in_net(rng, rng.choice(nat[country]))
                if on_mobile_data
                else pop.residential_ip(rng, ip_country)
            )
            common: dict[str, Any] = {
                "label": "legit", "scenario": LEGIT, "actor": f"user-{user}",
                "recipient": number, "ip": ip, "ip_country": ip_country, "user_agent": agent,
                "language": language,
            }  # fmt: skip
            b.add(at=round(at, 3), **common)
            if rng.random() < cfg.retry_rate:  # "the code did not come": again within a minute
                b.add(at=round(at + rng.uniform(15, 55), 3), retry=True, **common)


def _prefix_bursts(b: _Builder) -> None:
    cfg, rng = b.config, b.rng
    for burst in range(b.scaled(cfg.bursts) if cfg.attack_scale else 0):
        country = rng.choice(pop.PUMPING_COUNTRIES)
        numbers = pop.consecutive_mobiles(rng, country, min(2000, b.scaled(cfg.burst_size)))
        providers = rng.sample(pop.HOSTING, 2)
        nets = pop.hosting_nets(rng, providers, max(4, len(numbers) // 8))
        agents = rng.sample(pop.SCRIPTED_AGENTS, 2)
        start = rng.uniform(0.1, 0.5) * cfg.span_s
        length = rng.uniform(0.3, 0.5) * cfg.span_s
        for i, number in enumerate(numbers):
            net, provider = nets[i % len(nets)]
            b.add(
                at=round(start + length * i / max(1, len(numbers)), 3),
                label="attack", scenario=PREFIX_BURST, actor=f"burst-{burst}", recipient=number,
                ip=pop.ip_in_net(rng, net), ip_country=provider.country,
                user_agent=rng.choice(agents), language=None,
            )  # fmt: skip


def _low_and_slow(b: _Builder) -> None:
    cfg, rng = b.config, b.rng
    countries = rng.sample(pop.PUMPING_COUNTRIES, 7) + rng.sample(pop.EXPENSIVE_COUNTRIES, 3)
    proxy_countries = sorted(pop.RESIDENTIAL_OCTETS)
    for prefix in range(b.scaled(cfg.slow_prefixes) if cfg.attack_scale else 0):
        country = countries[prefix % len(countries)]
        for number in pop.numbers_in_prefix(rng, country, rng.randint(2, 4)):
            ip_country = rng.choice(proxy_countries)  # a residential proxy exit, anywhere
            b.add(
                at=round(rng.uniform(0, cfg.span_s), 3),
                label="attack", scenario=LOW_AND_SLOW, actor=f"slow-{prefix}", recipient=number,
                ip=pop.residential_ip(rng, ip_country), ip_country=ip_country,
                user_agent=pop.browser_agent(rng),
                language=pop.accept_language(rng.choice(list(pop.LANGUAGES))),
            )  # fmt: skip


def _bombing(b: _Builder) -> None:
    cfg, rng = b.config, b.rng
    if not cfg.attack_scale:
        return
    victim = pop.random_mobile(rng, rng.choice(("GB", "US", "DE", "FR")))
    count = b.scaled(cfg.bomb_requests)
    start = rng.uniform(0.1, 0.4) * cfg.span_s
    length = rng.uniform(0.3, 0.5) * cfg.span_s
    nets = pop.hosting_nets(rng, pop.HOSTING, max(1, count // 2))
    for i in range(count):
        if i % 2:
            ip_country = rng.choice(sorted(pop.RESIDENTIAL_OCTETS))
            ip = pop.residential_ip(rng, ip_country)
        else:
            net, provider = nets[(i // 2) % len(nets)]
            ip, ip_country = pop.ip_in_net(rng, net), provider.country
        b.add(
            at=round(start + length * i / count, 3),
            label="attack", scenario=BOMBING, actor="bomb-0", recipient=victim, ip=ip,
            ip_country=ip_country, user_agent=rng.choice((*pop.SCRIPTED_AGENTS, "")) or None,
            language=None,
        )  # fmt: skip


def _premium(b: _Builder) -> None:
    cfg, rng = b.config, b.rng
    nets = pop.hosting_nets(rng, pop.HOSTING, 8)
    for i in range(b.scaled(cfg.premium) if cfg.attack_scale else 0):
        if i % 2:
            kind, region = PhoneNumberType.SHARED_COST, rng.choice(pop.SHARED_COST_REGIONS)
        else:
            kind, region = PhoneNumberType.PREMIUM_RATE, rng.choice(pop.PREMIUM_REGIONS)
        net, provider = rng.choice(nets)
        b.add(
            at=round(rng.uniform(0, cfg.span_s), 3),
            label="attack", scenario=PREMIUM, actor=f"premium-{i % 3}",
            recipient=pop.random_of_type(rng, region, kind, keep=3),
            ip=pop.ip_in_net(rng, net), ip_country=provider.country,
            user_agent=rng.choice(pop.SCRIPTED_AGENTS), language=None,
        )  # fmt: skip
