"""The traffic generator: reproducible, labelled, and with the number types each scenario needs."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from gateway.simulate.generate import (
    BOMBING,
    LEGIT,
    PREFIX_BURST,
    PREMIUM,
    SCENARIOS,
    ScenarioConfig,
    generate,
)
from gateway.simulate.population import BROWSER_AGENTS, LEGIT_COUNTRIES

SMALL = ScenarioConfig(seed=7, legit=60, attack_scale=0.2)


def test_same_seed_same_traffic() -> None:
    """Two runs with one seed plan exactly the same requests."""
    assert generate(SMALL) == generate(ScenarioConfig(seed=7, legit=60, attack_scale=0.2))


def test_other_seed_other_traffic() -> None:
    """Another seed plans other recipients."""
    first = {r.recipient for r in generate(SMALL)}
    other = {r.recipient for r in generate(ScenarioConfig(seed=8, legit=60, attack_scale=0.2))}
    assert first != other


def test_every_scenario_labelled() -> None:
    """Legitimate traffic is labelled legit, every attack scenario attack, and all five appear."""
    planned = generate(SMALL)
    assert {r.scenario for r in planned} == set(SCENARIOS)
    for r in planned:
        assert r.label == ("legit" if r.scenario == LEGIT else "attack"), r


def test_legit_numbers_are_valid_mobiles() -> None:
    """Every legitimate recipient is a valid mobile of one of the app's countries."""
    for r in generate(SMALL):
        if r.scenario == LEGIT:
            parsed = phonenumbers.parse(r.recipient, None)
            assert phonenumbers.region_code_for_number(parsed) in LEGIT_COUNTRIES, r.recipient
            assert phonenumbers.is_valid_number(parsed), r.recipient
            assert phonenumbers.number_type(parsed) in (
                PhoneNumberType.MOBILE,
                PhoneNumberType.FIXED_LINE_OR_MOBILE,
            ), r.recipient


def test_legit_users_look_like_people() -> None:
    """Legitimate requests carry a real browser agent, a language and the OTP template body."""
    browsers = {ua for ua, _ in BROWSER_AGENTS}
    legit = [r for r in generate(SMALL) if r.scenario == LEGIT]
    assert len({r.country for r in legit}) >= 5
    for r in legit:
        assert r.user_agent in browsers
        assert r.language
        assert r.body.startswith("Your verification code is: ")
        assert len(r.code) == 6


def test_premium_scenario_uses_premium_and_shared_cost() -> None:
    """The premium scenario's numbers are PREMIUM_RATE or SHARED_COST, and both kinds appear."""
    kinds = set()
    for r in generate(SMALL):
        if r.scenario == PREMIUM:
            kind = phonenumbers.number_type(phonenumbers.parse(r.recipient, None))
            assert kind in (PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST)
            kinds.add(kind)
    assert len(kinds) == 2


def test_prefix_burst_is_consecutive_in_one_prefix() -> None:
    """A prefix burst targets ascending numbers sharing all but their last 3 digits."""
    burst = [r.recipient for r in generate(SMALL) if r.scenario == PREFIX_BURST]
    assert len(burst) >= 20
    assert len({n[:-3] for n in burst}) <= 2
    assert burst == sorted(burst)


def test_bombing_targets_one_number_from_many_ips() -> None:
    """SMS bombing sends to one victim from a different address each time."""
    bombs = [r for r in generate(SMALL) if r.scenario == BOMBING]
    assert len({r.recipient for r in bombs}) == 1
    assert len({r.ip for r in bombs}) == len(bombs)


def test_action_payload_carries_geoip() -> None:
    """The Action payload shape carries the IP country in req.geoip; the legacy one does not."""
    r = generate(SMALL)[0]
    assert r.payload("action")["req"]["geoip"] == {"countryCode": r.ip_country}
    legacy = r.payload("legacy")
    assert "geoip" not in legacy["req"]
    assert legacy["req"]["user-agent"] == r.user_agent


def test_too_much_traffic_refused() -> None:
    """A plan beyond the request cap is refused rather than sent."""
    with pytest.raises(ValueError, match="stops at"):
        generate(ScenarioConfig(legit=0, attack_scale=60))


def test_legit_country_mix_can_be_given() -> None:
    """With a country mix given, every legitimate user has a mobile number of those countries."""
    config = ScenarioConfig(
        seed=2, legit=20, attack_scale=0, legit_countries=(("GB", 3), ("FR", 1))
    )
    countries = {r.country for r in generate(config)}
    assert countries == {"GB", "FR"}


def test_unknown_country_in_mix_refused() -> None:
    """A country phonenumbers has no mobile numbers for is refused before generating."""
    with pytest.raises(ValueError, match="XX:1"):
        ScenarioConfig(legit_countries=(("XX", 1),))
