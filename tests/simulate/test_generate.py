"""The traffic generator: reproducible, labelled, and shaped like the users and attacks it names."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from gateway.simulate import population as pop
from gateway.simulate.generate import (
    BOMBING,
    CGNAT,
    IN_COUNTRY_PROXY,
    IP_SPRAY,
    LEGIT,
    LOW_AND_SLOW,
    MISTYPED,
    PREFIX_BURST,
    PREMIUM,
    RANGE_FLOOD,
    RETURNING,
    RISKY_SERVED,
    SCENARIOS,
    TRAVELLER,
    VPN,
    VPN_DRIP,
    ScenarioConfig,
    SimRequest,
    generate,
)
from tests.simulate.conftest import tiny

# One plan of real users big enough to see every kind (generated once: phonenumbers is slow).
USERS = generate(ScenarioConfig(scenario=LEGIT, seed=4, legit_per_hour=300, warmup_s=0))


def attack(scenario: str, **options: float) -> list[SimRequest]:
    planned = generate(tiny(scenario, legit_per_hour=0, **options))
    return [r for r in planned if r.label == "attack"]


def own_requests(planned: list[SimRequest]) -> list[SimRequest]:
    return [r for r in planned if r.label == "legit" and not r.wrong_number]


def test_same_seed_same_traffic() -> None:
    """Two plans with one seed are exactly the same requests."""
    assert generate(tiny(BOMBING, seed=7)) == generate(tiny(BOMBING, seed=7))


def test_other_seed_other_traffic() -> None:
    """Another seed plans other recipients."""
    first = {r.recipient for r in generate(tiny(BOMBING, seed=7))}
    assert first != {r.recipient for r in generate(tiny(BOMBING, seed=8))}


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != LEGIT])
def test_every_attack_scenario_plans_labelled_attack(scenario: str) -> None:
    """Each named attack plans attack-labelled requests in its window, after the warm-up."""
    config = tiny(scenario)
    planned = generate(config)
    attacks = [r for r in planned if r.label == "attack"]
    assert attacks
    assert {r.scenario for r in attacks} == {scenario}
    assert all(config.warmup_s <= r.at <= config.duration_s for r in attacks)
    assert {r.scenario for r in planned if r.label == "legit"} == {LEGIT}


def test_real_users_numbers_are_valid_mobiles_of_the_mix() -> None:
    """Every real user's own number is a valid mobile of one of the app's countries."""
    for r in own_requests(USERS):
        parsed = phonenumbers.parse(r.recipient, None)
        assert phonenumbers.region_code_for_number(parsed) in pop.LEGIT_COUNTRIES, r.recipient
        assert phonenumbers.number_type(parsed) in pop.MOBILE_TYPES, r.recipient


def test_about_thirty_countries_weighted() -> None:
    """Real users come from about 30 countries, the US the largest."""
    users = {r.actor: r.country for r in own_requests(USERS)}
    counts = Counter(users.values())
    assert len(counts) >= 25
    assert counts.most_common(1)[0][0] == "US"


def test_every_kind_of_user_appears() -> None:
    """Residents, travellers, CGNAT, VPN, mistyped, returning and risky-served users all appear."""
    kinds = {k for r in USERS for k in r.kinds}
    assert {TRAVELLER, CGNAT, VPN, MISTYPED, RETURNING, RISKY_SERVED} <= kinds


def test_travellers_are_abroad() -> None:
    """A traveller's IP country differs from the country of their number."""
    travellers = [r for r in own_requests(USERS) if TRAVELLER in r.kinds]
    assert travellers
    assert all(r.ip_country != r.country for r in travellers)


def test_cgnat_users_share_addresses() -> None:
    """CGNAT users of a country share a few addresses: several users behind one IP."""
    users_per_ip: dict[str, set[str]] = {}
    for r in own_requests(USERS):
        if CGNAT in r.kinds:
            users_per_ip.setdefault(r.ip, set()).add(r.actor)
    assert max(len(users) for users in users_per_ip.values()) >= 5


def test_vpn_users_come_from_vpn_exits() -> None:
    """A VPN user's address is in a commercial VPN provider's hosting blocks."""
    blocks = {b for network in pop.VPN_EXITS for b in network.blocks}
    vpn = [r for r in own_requests(USERS) if VPN in r.kinds]
    assert vpn
    assert all(".".join(r.ip.split(".")[:2]) in blocks for r in vpn)


def test_mistyped_number_then_the_right_one() -> None:
    """A mistyping user first asks for another number, nobody uses that code, then their own."""
    by_actor: dict[str, list[SimRequest]] = {}
    for r in USERS:
        if MISTYPED in r.kinds:
            by_actor.setdefault(r.actor, []).append(r)
    assert by_actor
    for requests in by_actor.values():
        first, then = requests[0], requests[1]
        assert first.wrong_number
        assert not first.uses_code
        assert not then.wrong_number
        assert then.recipient != first.recipient


def test_returning_users_come_back_later() -> None:
    """A returning user asks again for the same number at least 20 minutes later."""
    times: dict[str, list[float]] = {}
    for r in own_requests(USERS):
        if RETURNING in r.kinds and not r.retry:
            times.setdefault(r.actor, []).append(r.at)
    assert any(len(t) > 1 for t in times.values())
    for t in times.values():
        assert all(b - a >= 1200 for a, b in pairwise(t))


def test_real_users_use_most_codes_soon_after() -> None:
    """70-90% of real users' codes are planned to be used, 10-120 s after the SMS."""
    final = [r for r in own_requests(USERS) if r.resends]
    used = [r for r in final if r.uses_code]
    assert 0.65 <= len(used) / len(final) <= 0.92
    assert all(10 <= r.use_after <= 120 for r in used)


def test_risky_served_users_are_in_high_risk_countries() -> None:
    """Risky-served users are the real users of the high-risk countries the app serves."""
    risky = {r.country for r in own_requests(USERS) if RISKY_SERVED in r.kinds}
    assert risky
    assert risky <= pop.RISKY_SERVED


def test_attackers_complete_nothing_unless_colluding() -> None:
    """Attack codes are never used by default; with a colluding rate, about that share is."""
    assert not any(r.uses_code for r in attack(VPN_DRIP, attack_scale=0.2))
    colluding = attack(VPN_DRIP, attack_scale=0.2, colluding_rate=0.5)
    assert 0.35 <= sum(r.uses_code for r in colluding) / len(colluding) <= 0.65


def test_vpn_drip_eleven_a_minute_new_numbers_vpn_exits() -> None:
    """The drip sends ~11 a minute to one country, a new number each time, from VPN exits."""
    config = tiny(VPN_DRIP, legit_per_hour=0, attack_scale=1)
    drip = [r for r in generate(config) if r.label == "attack"]
    assert len(drip) / (config.window_s / 60) == pytest.approx(11, rel=0.05)
    assert len({r.country for r in drip}) == 1
    assert len({r.recipient for r in drip}) >= 0.99 * len(drip)
    blocks = {b for network in pop.VPN_EXITS for b in network.blocks}
    assert all(".".join(r.ip.split(".")[:2]) in blocks for r in drip)


def test_range_flood_one_uzbek_range_from_many_ips() -> None:
    """The flood targets one 4-digit range of Uzbek numbers, from about as many IPs as codes."""
    flood = attack(RANGE_FLOOD, attack_scale=0.02)
    assert {r.country for r in flood} == {"UZ"}
    assert len({r.recipient[:8] for r in flood}) == 1  # +998 and 4 national digits
    assert len({r.ip for r in flood}) >= 0.85 * len(flood)


def test_ip_spray_one_or_two_per_ip_at_140_a_minute() -> None:
    """The spray sends ~140 a minute, no address more than twice."""
    config = tiny(IP_SPRAY, legit_per_hour=0, attack_scale=1)
    spray = [r for r in generate(config) if r.label == "attack"]
    assert len(spray) / (config.window_s / 60) == pytest.approx(140, rel=0.02)
    assert max(Counter(r.ip for r in spray).values()) <= 2


def test_in_country_proxies_are_inside_the_destination() -> None:
    """Residential proxies inside the destination: IP country is the number's country."""
    proxied = attack(IN_COUNTRY_PROXY, attack_scale=0.2)
    assert all(r.ip_country == r.country for r in proxied)


def test_low_and_slow_new_ip_each_time_some_inside() -> None:
    """Low-and-slow uses a new residential IP per request, some inside the target country."""
    slow = attack(LOW_AND_SLOW, attack_scale=1)
    assert len({r.ip for r in slow}) == len(slow)
    assert any(r.ip_country == r.country for r in slow)
    assert len({r.country for r in slow}) == 10


def test_prefix_burst_is_consecutive_in_one_prefix() -> None:
    """A prefix burst targets ascending numbers sharing all but their last 3 digits."""
    burst = [r.recipient for r in attack(PREFIX_BURST, attack_scale=0.1) if r.actor == "burst-0"]
    assert len(burst) >= 20
    assert len({n[:-3] for n in burst}) <= 2
    assert burst == sorted(burst)


def test_bombing_targets_one_number_from_many_ips() -> None:
    """SMS bombing sends to one victim from a different address each time."""
    bombs = attack(BOMBING, attack_scale=0.2)
    assert len({r.recipient for r in bombs}) == 1
    assert len({r.ip for r in bombs}) == len(bombs)


def test_premium_scenario_uses_premium_and_shared_cost() -> None:
    """The premium scenario's numbers are PREMIUM_RATE or SHARED_COST, and both kinds appear."""
    kinds = {
        phonenumbers.number_type(phonenumbers.parse(r.recipient, None))
        for r in attack(PREMIUM, attack_scale=0.5)
    }
    assert kinds == {PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST}


def test_action_payload_carries_geoip() -> None:
    """The Action payload shape carries the IP country in req.geoip; the legacy one does not."""
    r = USERS[0]
    assert r.payload("action")["req"]["geoip"] == {"countryCode": r.ip_country}
    legacy = r.payload("legacy")
    assert "geoip" not in legacy["req"]
    assert legacy["req"]["user-agent"] == r.user_agent


def test_too_much_traffic_refused() -> None:
    """A plan beyond the request cap is refused rather than played."""
    with pytest.raises(ValueError, match="stops at"):
        generate(ScenarioConfig(scenario=RANGE_FLOOD, attack_scale=3))


def test_legit_country_mix_can_be_given() -> None:
    """With a country mix given, every real user's own number is of those countries."""
    config = ScenarioConfig(
        seed=2, legit_per_hour=20, warmup_s=0, legit_countries=(("GB", 3), ("FR", 1))
    )
    assert {r.country for r in own_requests(generate(config))} == {"GB", "FR"}


def test_unknown_country_or_scenario_refused() -> None:
    """A country without mobile numbers, or an unknown scenario, is refused before generating."""
    with pytest.raises(ValueError, match="XX:1"):
        ScenarioConfig(legit_countries=(("XX", 1),))
    with pytest.raises(ValueError, match="unknown scenario"):
        ScenarioConfig(scenario="nope")
