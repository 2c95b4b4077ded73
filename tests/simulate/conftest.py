"""A simulation harness on the suite's redis-server, small rule sets, and tiny plans."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.simulate.generate import ScenarioConfig
from gateway.simulate.harness import Harness

RULES = """\
rules:
  - id: block-revenue-share
    description: premium-rate or shared-cost number
    conditions: {signal: phone.type, in: [PREMIUM_RATE, SHARED_COST]}
    action: block
  - id: block-invalid
    description: not a valid number
    conditions: {signal: phone.valid, equals: false}
    action: block
  - id: drop-repeat
    description: one code per number per hour, the rest dropped
    velocity:
      key: recipient
      limits: [{max: 1, per: 1h}]
    action: drop
default: allow
"""

MakeHarness = Callable[..., Harness]


def tiny(
    scenario: str,
    seed: int = 1,
    *,
    legit_per_hour: float = 12.0,
    warmup_s: float = 600.0,
    attack_scale: float = 0.05,
    colluding_rate: float = 0.0,
) -> ScenarioConfig:
    """A plan small enough for a unit test: a few real users, the attack at a twentieth."""
    return ScenarioConfig(
        scenario=scenario,
        seed=seed,
        legit_per_hour=legit_per_hour,
        warmup_s=warmup_s,
        attack_scale=attack_scale,
        colluding_rate=colluding_rate,
    )


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "rules.yaml").write_text(RULES)
    return folder


@pytest.fixture
def harness(redis_url: str, rules_dir: Path) -> Iterator[Harness]:
    """The simulator's harness on the suite's Redis, with the small rule set above."""
    with Harness(rules=rules_dir, redis_url=redis_url) as h:
        yield h
