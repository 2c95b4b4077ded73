"""Labelled traffic on a simulated clock: a global app's real users plus one named attack.

`generate(ScenarioConfig)` plans one scenario: `warmup_s` of real users alone (the history the
gateway learns a baseline from), then the attack's own window with the real users still there.
Times are seconds of *simulated* time after the start; the runner drives the gateway's injected
clock, so an attack that lasts hours plays in seconds. The same config gives the same requests.

Each request carries its ground truth: the label, the kind of user (resident, traveller, CGNAT,
VPN, mistyped, returning, risky-served, retrying), and what happens to its code if it arrives
(used or not, how many seconds later, after a wrong entry or not). Whether it arrives is the
gateway's decision, known only at run time; so are the resends of a user who got no SMS.

Attack shapes, from public incident reports and the threat model (README, Simulation):
prefix bursts, low-and-slow, a VPN drip (healthchecks.io), a range flood from ~20,000 IPs (Luma),
an IP spray of 1-2 requests per address (a Hong Kong app), residential proxies inside the
destination country, SMS bombing and premium-rate numbers.
"""

from __future__ import annotations

import random
from collections.abc import Callable
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
VPN_DRIP = "vpn-drip"
RANGE_FLOOD = "range-flood"
IP_SPRAY = "ip-spray"
IN_COUNTRY_PROXY = "in-country-proxy"
BOMBING = "bombing"
PREMIUM = "premium-rate"

# Kinds of real user (a user has one of the first five, and any of the tags after them).
RESIDENT, TRAVELLER, CGNAT, VPN, MISTYPED = "resident", "traveller", "cgnat", "vpn", "mistyped"
RETURNING, RISKY_SERVED, RETRYING = "returning", "risky-served", "retrying"
USER_KINDS: tuple[str, ...] = (
    RESIDENT, TRAVELLER, CGNAT, VPN, MISTYPED, RETURNING, RISKY_SERVED, RETRYING,
)  # fmt: skip

MAX_REQUESTS = 60_000
MOBILE = PhoneNumberType.MOBILE


@dataclass(frozen=True)
class SimRequest:
    """One planned POST /sms, with its ground truth and what the person behind it will do."""

    index: int
    at: float  # planned send time, simulated seconds after the start
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
    kinds: tuple[str, ...] = ()  # real users only: see USER_KINDS
    wrong_number: bool = False  # a mistyped number: refusing it costs the user nothing
    uses_code: bool = False  # the code is entered if the SMS arrives (attackers: colluding)
    use_after: float = 60.0  # seconds between the SMS and the login
    wrong_code_first: bool = False  # a mistyped code is entered first (a failed login)
    resends: int = 0  # real users: how many more times they ask when no SMS comes
    resend_after: float = 40.0  # ... and after how many seconds

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
    """One scenario to plan; `attack_scale` multiplies the attack's size."""

    scenario: str = LEGIT
    seed: int = 1
    legit_per_hour: float = 600.0  # real logins started per hour (first logins, not resends)
    warmup_s: float = 7200.0  # real users only, before the attack starts
    attack_scale: float = 1.0
    colluding_rate: float = 0.0  # share of attack codes "used" by colluding numbers
    # Behaviour of real users.
    code_use: tuple[float, float] = (0.70, 0.90)  # each user's chance of using a code, drawn
    use_delay_s: tuple[float, float] = (10.0, 120.0)
    impatient_rate: float = 0.08  # ask again before the first SMS had time to arrive
    traveller_rate: float = 0.06
    cgnat_rate: float = 0.20
    vpn_rate: float = 0.05
    mistyped_rate: float = 0.03
    returning_rate: float = 0.25
    wrong_code_rate: float = 0.05
    # Where the real users are: (country, weight) pairs; default pop.LEGIT_COUNTRIES.
    legit_countries: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        for country, weight in self.legit_countries:
            if weight <= 0 or phonenumbers.example_number_for_type(country, MOBILE) is None:
                raise ValueError(
                    f"{country}:{weight}: not a country with mobile numbers, weight > 0"
                )
        if self.legit_per_hour < 0 or self.attack_scale < 0 or self.warmup_s < 0:
            raise ValueError("legit per hour, attack scale and warm-up must be >= 0")
        if not 0 <= self.colluding_rate <= 1:
            raise ValueError("the colluding rate is a share: 0 to 1")
        if self.scenario not in SCENARIOS:
            known = ", ".join(SCENARIOS)
            raise ValueError(f"unknown scenario {self.scenario!r} (known: {known})")

    @property
    def window_s(self) -> float:
        """The attack's window (the whole scenario after the warm-up)."""
        return SCENARIOS[self.scenario].window_s

    @property
    def duration_s(self) -> float:
        return self.warmup_s + self.window_s


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

    def attack(self, **fields: Any) -> None:
        """An attack request: its code is 'used' only by a colluding number."""
        cfg, rng = self.config, self.rng
        self.add(
            label="attack",
            scenario=cfg.scenario,
            uses_code=rng.random() < cfg.colluding_rate,
            use_after=round(rng.uniform(*cfg.use_delay_s), 3),
            **fields,
        )

    def scaled(self, size: int) -> int:
        return max(1, round(size * self.config.attack_scale)) if self.config.attack_scale else 0

    def start(self) -> float:
        """Simulated second at which the attack window opens."""
        return self.config.warmup_s


@dataclass(frozen=True)
class Scenario:
    window_s: float  # simulated seconds of the attack (real users go on throughout)
    requests: int  # attack requests at scale 1, about
    summary: str
    make: Callable[[_Builder], None] | None


def generate(config: ScenarioConfig) -> list[SimRequest]:
    """Every planned request of the scenario (real users and its attack), ordered by time."""
    expected = config.legit_per_hour * config.duration_s / 3600 * 1.3
    expected += SCENARIOS[config.scenario].requests * config.attack_scale
    if expected > MAX_REQUESTS:
        raise ValueError(
            f"about {expected:.0f} requests planned; the simulator stops at {MAX_REQUESTS} "
            "(lower --legit-per-hour or --attack-scale)"
        )
    b = _Builder(config, random.Random(f"{config.seed}:{LEGIT}"))
    _legit_users(b)
    make = SCENARIOS[config.scenario].make
    if make is not None and config.attack_scale:
        # Its own generator: the real users are the same whichever attack they meet.
        b.rng = random.Random(f"{config.seed}:{config.scenario}")
        make(b)
    b.planned.sort(key=lambda f: (f["at"], f["label"], f["recipient"]))
    return [SimRequest(index=i, **f) for i, f in enumerate(b.planned)]


# --- real users --------------------------------------------------------------------------------


def _legit_users(b: _Builder) -> None:
    cfg, rng = b.config, b.rng
    mix = dict(cfg.legit_countries) if cfg.legit_countries else pop.LEGIT_COUNTRIES
    users = round(cfg.legit_per_hour * cfg.duration_s / 3600)
    countries = [pop.weighted(rng, mix) for _ in range(users)]
    # Carrier-grade NAT: a mobile carrier puts many subscribers behind each public address, so a
    # busy app sees dozens of its users from one IP in a few hours.
    cgnat_users = {c: countries.count(c) * cfg.cgnat_rate for c in set(countries)}
    cgnat_ips = {
        c: [pop.residential_ip(rng, c) for _ in range(max(1, round(n / 30)))]
        for c, n in sorted(cgnat_users.items())
    }
    for user, country in enumerate(countries):
        _one_user(b, f"user-{user}", country, mix, cgnat_ips[country])


def _one_user(
    b: _Builder, actor: str, country: str, mix: dict[str, int], cgnat_ips: list[str]
) -> None:
    cfg, rng = b.config, b.rng
    draw = rng.random()
    kind = RESIDENT
    ip_country = country
    for name, rate in (
        (TRAVELLER, cfg.traveller_rate),
        (CGNAT, cfg.cgnat_rate),
        (VPN, cfg.vpn_rate),
        (MISTYPED, cfg.mistyped_rate),
    ):
        if draw < rate:
            kind = name
            break
        draw -= rate
    if kind == TRAVELLER:
        ip_country = rng.choice([c for c in (*mix, "US", "GB") if c != country])
    vpn_net = pop.hosting_nets(rng, pop.VPN_EXITS, 1)[0] if kind == VPN else None
    if vpn_net is not None:
        ip_country = vpn_net[1].country
    tags = [kind]
    if country in pop.RISKY_SERVED:
        tags.append(RISKY_SERVED)
    logins = 1 + (rng.random() < cfg.returning_rate) * rng.choice((1, 1, 2))
    if logins > 1:
        tags.append(RETURNING)
    impatient = rng.random() < cfg.impatient_rate
    if impatient:
        tags.append(RETRYING)
    kinds = tuple(tags)
    number = pop.random_mobile(rng, country)
    agent = pop.browser_agent(rng)
    language = pop.accept_language(country)
    code_use = rng.uniform(*cfg.code_use)

    def address() -> str:
        if kind == CGNAT:
            return rng.choice(cgnat_ips)
        if vpn_net is not None:
            return pop.ip_in_net(rng, vpn_net[0])
        return pop.residential_ip(rng, ip_country)

    # The first login anywhere in the run; a returning user comes back 20 min to 3 h later.
    at = rng.uniform(0, cfg.duration_s)
    for login in range(logins):
        if login:
            at += rng.uniform(1200, 10800)
            if at >= cfg.duration_s:
                break
        common: dict[str, Any] = {
            "label": "legit", "scenario": LEGIT, "actor": actor, "ip": address(),
            "ip_country": ip_country, "user_agent": agent, "language": language, "kinds": kinds,
        }  # fmt: skip
        if kind == MISTYPED and login == 0:
            # A wrong number first (invalid, or someone else's): nobody uses that code; the user
            # notices and types it again.
            b.add(at=round(at, 3), recipient=pop.mistype(rng, number), wrong_number=True, **common)
            at += rng.uniform(20, 60)
        uses = rng.random() < code_use
        if impatient and login == 0:
            # "The code did not come": asks again before the first SMS arrived; only the latest
            # code works (Auth0), so the first is never used.
            b.add(at=round(at, 3), recipient=number, **common)
            at += rng.uniform(15, 55)
        b.add(
            at=round(at, 3),
            recipient=number,
            uses_code=uses,
            use_after=round(rng.uniform(*cfg.use_delay_s), 3),
            wrong_code_first=uses and rng.random() < cfg.wrong_code_rate,
            resends=2,
            resend_after=round(rng.uniform(20, 60), 3),
            retry=impatient and login == 0,
            **common,
        )


# --- attacks -----------------------------------------------------------------------------------


def _prefix_bursts(b: _Builder) -> None:
    """2 bursts of 200 consecutive numbers in one prefix, 1-2 minutes each, from hosting /24s."""
    rng = b.rng
    for burst in range(b.scaled(2)):
        country = rng.choice(pop.PUMPING_COUNTRIES)
        numbers = pop.consecutive_mobiles(rng, country, min(2000, b.scaled(200)))
        providers = rng.sample(pop.HOSTING, 2)
        nets = pop.hosting_nets(rng, providers, max(4, len(numbers) // 8))
        agents = rng.sample(pop.SCRIPTED_AGENTS, 2)
        start = b.start() + rng.uniform(0, b.config.window_s - 150)
        length = rng.uniform(60, 120)
        for i, number in enumerate(numbers):
            net, provider = nets[i % len(nets)]
            b.attack(
                at=round(start + length * i / max(1, len(numbers)), 3), actor=f"burst-{burst}",
                recipient=number, ip=pop.ip_in_net(rng, net), ip_country=provider.country,
                user_agent=rng.choice(agents), language=None,
            )  # fmt: skip


def _low_and_slow(b: _Builder) -> None:
    """60 ranges x 2-4 numbers in 10 rarely served countries over 6 h, a new residential IP
    each time, a third of them inside the target country."""
    cfg, rng = b.config, b.rng
    countries = rng.sample(pop.PUMPING_COUNTRIES, 7) + rng.sample(pop.EXPENSIVE_COUNTRIES, 3)
    proxy_countries = sorted(pop.RESIDENTIAL_OCTETS)
    for prefix in range(b.scaled(60)):
        country = countries[prefix % len(countries)]
        for number in pop.numbers_in_prefix(rng, country, rng.randint(2, 4)):
            inside = rng.random() < 1 / 3 and country in pop.RESIDENTIAL_OCTETS
            ip_country = country if inside else rng.choice(proxy_countries)
            b.attack(
                at=round(b.start() + rng.uniform(0, cfg.window_s), 3), actor=f"slow-{prefix}",
                recipient=number, ip=pop.residential_ip(rng, ip_country), ip_country=ip_country,
                user_agent=pop.browser_agent(rng),
                language=pop.accept_language(rng.choice(list(pop.LANGUAGES))),
            )  # fmt: skip


def _vpn_drip(b: _Builder) -> None:
    """~11 codes a minute for 6 h to one country's numbers, a new number each time, from rotating
    commercial VPN exits (healthchecks.io, 2026)."""
    cfg, rng = b.config, b.rng
    country = rng.choice(pop.PUMPING_COUNTRIES)
    count = b.scaled(round(11 * cfg.window_s / 60))
    nets = pop.hosting_nets(rng, pop.VPN_EXITS, 60)
    for i in range(count):
        net, provider = rng.choice(nets)
        b.attack(
            at=round(b.start() + cfg.window_s * (i + rng.random()) / count, 3), actor="drip",
            recipient=pop.random_mobile(rng, country), ip=pop.ip_in_net(rng, net),
            ip_country=provider.country, user_agent=pop.browser_agent(rng),
            language=pop.accept_language("US"),
        )  # fmt: skip


def _range_flood(b: _Builder) -> None:
    """Tens of thousands of codes over 3 h to one range of Uzbek numbers from ~20,000 IPs (Luma):
    numbers drawn from one 4-digit national prefix, residential proxies and hosting worldwide."""
    cfg, rng = b.config, b.rng
    count = b.scaled(22_000)
    ips = max(1, round(count * 10 / 11))
    proxy_countries = sorted(pop.RESIDENTIAL_OCTETS)
    pool = [pop.residential_ip(rng, rng.choice(proxy_countries)) for _ in range(ips)]
    prefix = pop.national_prefix(rng, "UZ", 4)
    for i in range(count):
        ip = pool[i] if i < ips else rng.choice(pool)
        b.attack(
            at=round(b.start() + cfg.window_s * (i + rng.random()) / count, 3), actor="flood",
            recipient=pop.mobile_in_prefix(rng, prefix), ip=ip, ip_country=None,
            user_agent=pop.browser_agent(rng), language=None,
        )  # fmt: skip


def _ip_spray(b: _Builder) -> None:
    """~140 codes a minute for 30 min to ranges of three pumping destinations, from hundreds of
    addresses at a time, each sending 1-2 requests (a Hong Kong app's incident)."""
    cfg, rng = b.config, b.rng
    count = b.scaled(round(140 * cfg.window_s / 60))
    prefixes = [pop.national_prefix(rng, c, 5) for c in rng.sample(pop.PUMPING_COUNTRIES, 3)]
    proxy_countries = sorted(pop.RESIDENTIAL_OCTETS)
    i = 0
    while i < count:
        ip_country = rng.choice(proxy_countries)
        ip = pop.residential_ip(rng, ip_country)
        agent = pop.browser_agent(rng)
        for _ in range(min(rng.choice((1, 1, 2)), count - i)):
            b.attack(
                at=round(b.start() + cfg.window_s * (i + rng.random()) / count, 3), actor="spray",
                recipient=pop.mobile_in_prefix(rng, rng.choice(prefixes)), ip=ip,
                ip_country=ip_country, user_agent=agent, language=pop.accept_language("HK"),
            )  # fmt: skip
            i += 1


def _in_country_proxy(b: _Builder) -> None:
    """3 codes a minute for 4 h to numbers of one expensive destination, through residential
    proxies inside that country, with its language and real browser agents."""
    cfg, rng = b.config, b.rng
    country = rng.choice([c for c in pop.EXPENSIVE_COUNTRIES if c in pop.RESIDENTIAL_OCTETS])
    count = b.scaled(round(3 * cfg.window_s / 60))
    for i in range(count):
        b.attack(
            at=round(b.start() + cfg.window_s * (i + rng.random()) / count, 3), actor="proxy",
            recipient=pop.random_mobile(rng, country), ip=pop.residential_ip(rng, country),
            ip_country=country, user_agent=pop.browser_agent(rng),
            language=pop.accept_language(country),
        )  # fmt: skip


def _bombing(b: _Builder) -> None:
    """150 codes in an hour to one victim (GB/US/DE/FR mobile), a different address each time."""
    cfg, rng = b.config, b.rng
    victim = pop.random_mobile(rng, rng.choice(("GB", "US", "DE", "FR")))
    count = b.scaled(150)
    nets = pop.hosting_nets(rng, pop.HOSTING, max(1, count // 2))
    for i in range(count):
        if i % 2:
            ip_country = rng.choice(sorted(pop.RESIDENTIAL_OCTETS))
            ip = pop.residential_ip(rng, ip_country)
        else:
            net, provider = nets[(i // 2) % len(nets)]
            ip, ip_country = pop.ip_in_net(rng, net), provider.country
        b.attack(
            at=round(b.start() + cfg.window_s * (i + rng.random()) / count, 3), actor="bomb",
            recipient=victim, ip=ip, ip_country=ip_country,
            user_agent=rng.choice((*pop.SCRIPTED_AGENTS, "")) or None, language=None,
        )  # fmt: skip


def _premium(b: _Builder) -> None:
    """30 premium-rate and shared-cost numbers over an hour, from hosting addresses."""
    cfg, rng = b.config, b.rng
    nets = pop.hosting_nets(rng, pop.HOSTING, 8)
    for i in range(b.scaled(30)):
        if i % 2:
            kind, region = PhoneNumberType.SHARED_COST, rng.choice(pop.SHARED_COST_REGIONS)
        else:
            kind, region = PhoneNumberType.PREMIUM_RATE, rng.choice(pop.PREMIUM_REGIONS)
        net, provider = rng.choice(nets)
        b.attack(
            at=round(b.start() + rng.uniform(0, cfg.window_s), 3), actor=f"premium-{i % 3}",
            recipient=pop.random_of_type(rng, region, kind, keep=3),
            ip=pop.ip_in_net(rng, net), ip_country=provider.country,
            user_agent=rng.choice(pop.SCRIPTED_AGENTS), language=None,
        )  # fmt: skip


HOUR = 3600.0
SCENARIOS: dict[str, Scenario] = {
    LEGIT: Scenario(4 * HOUR, 0, "real users only, no attack", None),
    PREFIX_BURST: Scenario(
        2 * HOUR, 400, "2 bursts of 200 consecutive numbers, 1-2 min each, hosting IPs",
        _prefix_bursts,
    ),
    LOW_AND_SLOW: Scenario(
        6 * HOUR, 180, "60 ranges x 2-4 numbers, 10 rarely served countries, a new residential "
        "IP each time (a third in the target country)", _low_and_slow,
    ),
    VPN_DRIP: Scenario(
        6 * HOUR, 3960, "11 a minute to one country, a new number each time, VPN exits "
        "(healthchecks.io)", _vpn_drip,
    ),
    RANGE_FLOOD: Scenario(
        3 * HOUR, 22_000, "22,000 codes to one Uzbek range from 20,000 IPs (Luma)", _range_flood,
    ),
    IP_SPRAY: Scenario(
        0.5 * HOUR, 4200, "140 a minute to 3 pumping ranges, 1-2 requests per IP (Hong Kong app)",
        _ip_spray,
    ),
    IN_COUNTRY_PROXY: Scenario(
        4 * HOUR, 720, "3 a minute to one expensive country via residential proxies inside it",
        _in_country_proxy,
    ),
    BOMBING: Scenario(1 * HOUR, 150, "150 codes to one victim, a new IP each time", _bombing),
    PREMIUM: Scenario(1 * HOUR, 30, "30 premium-rate / shared-cost numbers", _premium),
}  # fmt: skip
SCENARIO_NAMES: tuple[str, ...] = tuple(SCENARIOS)
